/* dedupe.c -- see dedupe.h. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dedupe.h"

static uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static uint64_t load64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];   /* little-endian, any host */
    return v;
}

void haul_murmur3_128(const void *key, size_t len, uint64_t seed, uint64_t out[2])
{
    const unsigned char *p = key;
    const uint64_t c1 = 0x87c37b91114253d5ULL, c2 = 0x4cf5ad432745937fULL;
    uint64_t h1 = seed, h2 = seed, k1, k2;
    size_t nblocks = len / 16;

    for (size_t i = 0; i < nblocks; i++, p += 16) {
        k1 = load64(p);
        k2 = load64(p + 8);
        k1 *= c1; k1 = rotl64(k1, 31); k1 *= c2; h1 ^= k1;
        h1 = rotl64(h1, 27); h1 += h2; h1 = h1 * 5 + 0x52dce729;
        k2 *= c2; k2 = rotl64(k2, 33); k2 *= c1; h2 ^= k2;
        h2 = rotl64(h2, 31); h2 += h1; h2 = h2 * 5 + 0x38495ab5;
    }
    k1 = k2 = 0;
    switch (len & 15) {
    case 15: k2 ^= (uint64_t)p[14] << 48; /* fall through */
    case 14: k2 ^= (uint64_t)p[13] << 40; /* fall through */
    case 13: k2 ^= (uint64_t)p[12] << 32; /* fall through */
    case 12: k2 ^= (uint64_t)p[11] << 24; /* fall through */
    case 11: k2 ^= (uint64_t)p[10] << 16; /* fall through */
    case 10: k2 ^= (uint64_t)p[9] << 8;   /* fall through */
    case 9:  k2 ^= (uint64_t)p[8];
             k2 *= c2; k2 = rotl64(k2, 33); k2 *= c1; h2 ^= k2;
             /* fall through */
    case 8:  k1 ^= (uint64_t)p[7] << 56;  /* fall through */
    case 7:  k1 ^= (uint64_t)p[6] << 48;  /* fall through */
    case 6:  k1 ^= (uint64_t)p[5] << 40;  /* fall through */
    case 5:  k1 ^= (uint64_t)p[4] << 32;  /* fall through */
    case 4:  k1 ^= (uint64_t)p[3] << 24;  /* fall through */
    case 3:  k1 ^= (uint64_t)p[2] << 16;  /* fall through */
    case 2:  k1 ^= (uint64_t)p[1] << 8;   /* fall through */
    case 1:  k1 ^= (uint64_t)p[0];
             k1 *= c1; k1 = rotl64(k1, 31); k1 *= c2; h1 ^= k1;
    }
    h1 ^= (uint64_t)len; h2 ^= (uint64_t)len;
    h1 += h2; h2 += h1;
    h1 = fmix64(h1); h2 = fmix64(h2);
    h1 += h2; h2 += h1;
    out[0] = h1;
    out[1] = h2;
}

void haul_dedupe_init(haul_dedupe *d, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    d->seed = seed;
}

void haul_dedupe_free(haul_dedupe *d)
{
    free(d->v);
    memset(d, 0, sizeof *d);
}

static haul_dedupe_ent *find(haul_dedupe_ent *v, size_t cap, uint64_t h, uint32_t h2)
{
    size_t i = (size_t)(h ^ (h >> 29)) & (cap - 1);
    while (v[i].h && (v[i].h != h || v[i].h2 != h2)) i = (i + 1) & (cap - 1);
    return &v[i];
}

int haul_dedupe_add(haul_dedupe *d, const char *key, size_t len, uint32_t slot, uint32_t *earlier)
{
    uint64_t fp[2];
    haul_murmur3_128(key, len, d->seed, fp);
    uint64_t h = fp[0] ? fp[0] : 1;  /* 0 is "empty" */
    uint32_t h2 = (uint32_t)fp[1];
    if ((d->n + 1) * 4 > d->cap * 3) {
        size_t ncap = d->cap ? d->cap * 2 : 1024;
        haul_dedupe_ent *nv = haul_calloc(ncap, sizeof *nv);
        for (size_t i = 0; i < d->cap; i++)
            if (d->v[i].h) *find(nv, ncap, d->v[i].h, d->v[i].h2) = d->v[i];
        free(d->v);
        d->v = nv;
        d->cap = ncap;
    }
    haul_dedupe_ent *e = find(d->v, d->cap, h, h2);
    if (e->h) {
        *earlier = e->slot;
        return 1;
    }
    e->h = h;
    e->h2 = h2;
    e->slot = slot;
    d->n++;
    return 0;
}
