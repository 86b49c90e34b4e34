/* dedupe.h -- which keys of a job were seen before (the scheduler's
 * coalescing of duplicate keys: fetch each once, answer every occurrence).
 *
 * A key is remembered by a 96-bit fingerprint (MurmurHash3 x64/128, seeded
 * at random per table), not by its text, so the table costs 16 bytes per
 * distinct key (at a load of at most 3/4), whatever the keys' length. Two
 * different keys are taken for the same one only when 96 bits collide: about
 * n^2 / 2^97, i.e. 1e-16 for ten million distinct keys. */
#ifndef HAUL_DEDUPE_H
#define HAUL_DEDUPE_H

#include <stddef.h>
#include <stdint.h>

typedef struct haul_dedupe_ent {
    uint64_t h;     /* fingerprint, first 64 bits; 0 marks an empty slot */
    uint32_t h2;    /* next 32 bits */
    uint32_t slot;  /* what the first occurrence was given */
} haul_dedupe_ent;

typedef struct haul_dedupe {
    haul_dedupe_ent *v;
    size_t cap, n;          /* cap a power of two */
    uint64_t seed;
} haul_dedupe;

void haul_dedupe_init(haul_dedupe *d, uint64_t seed);
void haul_dedupe_free(haul_dedupe *d);
/* The slot of an earlier occurrence of KEY (and 1), or remember KEY with
 * SLOT (and 0). */
int haul_dedupe_add(haul_dedupe *d, const char *key, size_t len, uint32_t slot, uint32_t *earlier);
/* MurmurHash3_x64_128 of KEY with SEED. */
void haul_murmur3_128(const void *key, size_t len, uint64_t seed, uint64_t out[2]);

#endif
