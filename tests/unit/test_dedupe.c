/* test_dedupe.c -- the scheduler's memory of keys already seen in a job:
 * the fingerprint against MurmurHash3's published values, and the table
 * against a plain list of what was added. */
#include "test.h"
#include "../../scheduler/dedupe.h"

#include <stdlib.h>

/* Values from the reference implementation (SMHasher's MurmurHash3_x64_128),
 * h1 and h2 as the two 64-bit halves. */
TEST(murmur3_reference_values)
{
    uint64_t h[2];
    haul_murmur3_128("", 0, 0, h);
    ASSERT_EQ(h[0], 0);
    ASSERT_EQ(h[1], 0);
    const char *fox = "The quick brown fox jumps over the lazy dog";
    haul_murmur3_128(fox, strlen(fox), 0, h);
    ASSERT(h[0] == 0xe34bbc7bbc071b6cULL);
    ASSERT(h[1] == 0x7a433ca9c49a9347ULL);
}

TEST(murmur3_every_tail_length_differs)
{
    /* Lengths 0..40 cover every tail case (len % 16) and several blocks; a
     * byte changed anywhere changes the hash. */
    char s[41];
    for (int i = 0; i < 40; i++) s[i] = (char)('a' + i % 26);
    for (size_t n = 1; n <= 40; n++) {
        uint64_t a[2], b[2];
        haul_murmur3_128(s, n, 7, a);
        for (size_t j = 0; j < n; j++) {
            s[j] ^= 1;
            haul_murmur3_128(s, n, 7, b);
            s[j] ^= 1;
            if (a[0] == b[0] && a[1] == b[1]) FAIL_("length %zu: flipping byte %zu left the hash", n, j);
        }
        haul_murmur3_128(s, n - 1, 7, b);
        ASSERT(a[0] != b[0] || a[1] != b[1]);
    }
}

TEST(dedupe_first_slot_wins)
{
    haul_dedupe d;
    uint32_t e = 99;
    haul_dedupe_init(&d, 1);
    ASSERT_EQ(haul_dedupe_add(&d, "a.zip", 5, 0, &e), 0);
    ASSERT_EQ(haul_dedupe_add(&d, "b.zip", 5, 1, &e), 0);
    ASSERT_EQ(haul_dedupe_add(&d, "a.zip", 5, 2, &e), 1);
    ASSERT_EQ(e, 0);
    ASSERT_EQ(haul_dedupe_add(&d, "b.zip", 5, 3, &e), 1);
    ASSERT_EQ(e, 1);
    ASSERT_EQ(haul_dedupe_add(&d, "a.zi", 4, 4, &e), 0);   /* a prefix is another key */
    ASSERT_EQ(haul_dedupe_add(&d, "", 0, 5, &e), 0);
    ASSERT_EQ(haul_dedupe_add(&d, "", 0, 6, &e), 1);
    ASSERT_EQ(e, 5);
    ASSERT_EQ(d.n, 4);
    haul_dedupe_free(&d);
}

TEST(dedupe_many_keys_through_growth)
{
    /* 100,000 distinct keys, each added twice, interleaved: the second
     * occurrence always finds the first one's slot, across every resize. */
    haul_dedupe d;
    char k[32];
    uint32_t e;
    haul_dedupe_init(&d, 12345);
    for (uint32_t i = 0; i < 100000; i++) {
        int n = snprintf(k, sizeof k, "dummy/collated_%u.zip", i);
        if (haul_dedupe_add(&d, k, (size_t)n, i, &e) != 0) FAIL_("key %u taken as seen", i);
        if (i >= 3) {
            n = snprintf(k, sizeof k, "dummy/collated_%u.zip", i - 3);
            if (haul_dedupe_add(&d, k, (size_t)n, 1000000 + i, &e) != 1 || e != i - 3)
                FAIL_("key %u: not found again", i - 3);
        }
    }
    ASSERT_EQ(d.n, 100000);
    ASSERT(d.cap * 3 >= d.n * 4);  /* load at most 3/4 */
    haul_dedupe_free(&d);
}

int main(void)
{
    RUN(murmur3_reference_values);
    RUN(murmur3_every_tail_length_differs);
    RUN(dedupe_first_slot_wins);
    RUN(dedupe_many_keys_through_growth);
    TEST_DONE();
}
