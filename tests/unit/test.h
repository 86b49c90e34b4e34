/* test.h -- the unit tests' tiny runner.
 *
 * Each tests/unit/test_*.c file is its own program: it defines test functions
 * with TEST(name), lists them in main() with RUN(name) and ends with
 * TEST_DONE(), which prints "N passed, N failed" and sets the exit status.
 * Assertions print both sides and return from the test on failure. */
#ifndef HAUL_TEST_H
#define HAUL_TEST_H

#include <stdio.h>
#include <string.h>

static int test_failed_ = 0, test_passed_ = 0, test_cur_failed_ = 0;

#define TEST(name) static void name(void)

#define RUN(name) do {                                                    \
        test_cur_failed_ = 0;                                            \
        name();                                                          \
        if (test_cur_failed_) { test_failed_++; printf("FAIL %s\n", #name); } \
        else { test_passed_++; printf("ok   %s\n", #name); }            \
    } while (0)

#define FAIL_(...) do {                                                   \
        printf("  %s:%d: ", __FILE__, __LINE__);                         \
        printf(__VA_ARGS__);                                             \
        printf("\n");                                                    \
        test_cur_failed_ = 1;                                            \
        return;                                                          \
    } while (0)

#define ASSERT(c) do { if (!(c)) FAIL_("assertion failed: %s", #c); } while (0)

#define ASSERT_EQ(a, b) do {                                              \
        long long a_ = (long long)(a), b_ = (long long)(b);              \
        if (a_ != b_) FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);   \
    } while (0)

#define ASSERT_STREQ(a, b) do {                                           \
        const char *a_ = (a), *b_ = (b);                                 \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                           \
            FAIL_("%s == %s:\n    got:  \"%s\"\n    want: \"%s\"", #a, #b, \
                  a_ ? a_ : "(null)", b_ ? b_ : "(null)");               \
    } while (0)

#define ASSERT_MEMEQ(a, b, n) do {                                        \
        if (memcmp((a), (b), (n)) != 0) FAIL_("%s == %s (%zu bytes) differ", #a, #b, (size_t)(n)); \
    } while (0)

#define TEST_DONE() do {                                                  \
        printf("%d passed, %d failed\n", test_passed_, test_failed_);    \
        return test_failed_ ? 1 : 0;                                     \
    } while (0)

#endif
