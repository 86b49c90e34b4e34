/* test_seal.c -- AES-256-GCM sealing and key files.
 *
 * Sealing is pure and tested on buffers. Key files are the module's one
 * edge that touches the file system: those tests write small files in a
 * fresh directory under $TMPDIR (or /tmp) and remove them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rowmac.h"
#include "seal.h"
#include "test.h"

#define ASSERT_HAS(s, sub) do {                                           \
        const char *s_ = (s), *sub_ = (sub);                             \
        if (!s_ || !strstr(s_, sub_))                                    \
            FAIL_("%s contains %s:\n    got:  \"%s\"\n    want: \"...%s...\"", \
                  #s, #sub, s_ ? s_ : "(null)", sub_);                   \
    } while (0)

static void fill_key(unsigned char *k, unsigned seed)
{
    for (int i = 0; i < HAUL_SEAL_KEY_LEN; i++) k[i] = (unsigned char)(seed * 31 + i * 7);
}

/* ---- sealing ------------------------------------------------------------- */

TEST(round_trip)
{
    static const size_t lens[] = {0, 1, 15, 16, 17, 255, 256, 1000, 65536};
    unsigned char key[HAUL_SEAL_KEY_LEN];
    char err[HAUL_ERR_LEN];
    unsigned char *pt = haul_malloc(65536);
    haul_buf ct = HAUL_BUF_INIT, out = HAUL_BUF_INIT;

    fill_key(key, 1);
    for (size_t i = 0; i < 65536; i++) pt[i] = (unsigned char)(i * 131 + 7);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (int with_aad = 0; with_aad < 2; with_aad++) {
            const char *aad = with_aad ? "haul-task-aad-v1\0id\0" : NULL;
            size_t aadlen = with_aad ? 20 : 0;
            haul_buf_reset(&ct);
            haul_buf_reset(&out);
            /* Appended: whatever the buffers held stays in front. */
            haul_buf_adds(&ct, "ab");
            haul_buf_adds(&out, "xyz");
            ASSERT_EQ(haul_seal(key, aad, aadlen, lens[i] ? pt : NULL, lens[i], &ct, err), 0);
            ASSERT_EQ(ct.len, 2 + lens[i] + HAUL_SEAL_OVERHEAD);
            ASSERT_MEMEQ(ct.p, "ab", 2);
            if (lens[i] >= 16)  /* the plaintext is not in the sealed bytes */
                ASSERT(memcmp(ct.p + 2 + HAUL_SEAL_NONCE_LEN, pt, 16) != 0);
            ASSERT_EQ(haul_unseal(key, aad, aadlen, ct.p + 2, ct.len - 2, &out, err), 0);
            ASSERT_EQ(out.len, 3 + lens[i]);
            ASSERT_MEMEQ(out.p, "xyz", 3);
            if (lens[i]) ASSERT_MEMEQ(out.p + 3, pt, lens[i]);
            ASSERT_EQ(out.p[out.len], '\0');
        }
    }
    ASSERT_EQ(HAUL_SEAL_OVERHEAD, 28);
    free(pt);
    haul_buf_free(&ct);
    haul_buf_free(&out);
}

TEST(fresh_nonce_each_time)
{
    unsigned char key[HAUL_SEAL_KEY_LEN];
    char err[HAUL_ERR_LEN];
    haul_buf a = HAUL_BUF_INIT, b = HAUL_BUF_INIT;

    fill_key(key, 2);
    ASSERT_EQ(haul_seal(key, "x", 1, "same", 4, &a, err), 0);
    ASSERT_EQ(haul_seal(key, "x", 1, "same", 4, &b, err), 0);
    ASSERT_EQ(a.len, b.len);
    ASSERT(memcmp(a.p, b.p, HAUL_SEAL_NONCE_LEN) != 0);
    ASSERT(memcmp(a.p + HAUL_SEAL_NONCE_LEN, b.p + HAUL_SEAL_NONCE_LEN, 4) != 0);
    haul_buf_free(&a);
    haul_buf_free(&b);
}

TEST(wrong_key_or_aad)
{
    unsigned char key[HAUL_SEAL_KEY_LEN], other[HAUL_SEAL_KEY_LEN];
    char err[HAUL_ERR_LEN];
    haul_buf ct = HAUL_BUF_INIT, out = HAUL_BUF_INIT;

    fill_key(key, 3);
    memcpy(other, key, sizeof other);
    other[HAUL_SEAL_KEY_LEN - 1] ^= 1;
    ASSERT_EQ(haul_seal(key, "aad", 3, "SuperSecret123", 14, &ct, err), 0);

    haul_buf_adds(&out, "kept");
    ASSERT_EQ(haul_unseal(other, "aad", 3, ct.p, ct.len, &out, err), -1);
    ASSERT_STREQ(err, "authentication failed");
    ASSERT_EQ(haul_unseal(key, "aae", 3, ct.p, ct.len, &out, err), -1);
    ASSERT_STREQ(err, "authentication failed");
    ASSERT_EQ(haul_unseal(key, "aa", 2, ct.p, ct.len, &out, err), -1);
    ASSERT_EQ(haul_unseal(key, NULL, 0, ct.p, ct.len, &out, err), -1);
    ASSERT_EQ(haul_unseal(key, "aad\0", 4, ct.p, ct.len, &out, err), -1);
    /* Nothing unauthenticated was appended. */
    ASSERT_EQ(out.len, 4);
    ASSERT_STREQ(out.p, "kept");
    ASSERT(!strstr(err, "Secret"));
    ASSERT_EQ(haul_unseal(key, "aad", 3, ct.p, ct.len, &out, err), 0);
    ASSERT_STREQ(out.p, "keptSuperSecret123");
    haul_buf_free(&ct);
    haul_buf_free(&out);
}

/* Any one byte changed, nonce, ciphertext or tag, and any length cut off. */
TEST(every_byte_flipped_or_cut)
{
    unsigned char key[HAUL_SEAL_KEY_LEN];
    char err[HAUL_ERR_LEN];
    haul_buf ct = HAUL_BUF_INIT, out = HAUL_BUF_INIT;

    fill_key(key, 4);
    ASSERT_EQ(haul_seal(key, "aad", 3, "0123456789abcdefXYZ", 19, &ct, err), 0);
    char *copy = haul_malloc(ct.len);
    for (size_t i = 0; i < ct.len; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            memcpy(copy, ct.p, ct.len);
            copy[i] = (char)(copy[i] ^ (1u << bit));
            if (haul_unseal(key, "aad", 3, copy, ct.len, &out, err) != -1)
                FAIL_("byte %zu bit %u flipped: opened", i, bit);
            ASSERT_STREQ(err, "authentication failed");
        }
    }
    for (size_t n = 0; n < ct.len; n++) {
        memcpy(copy, ct.p, n);
        if (haul_unseal(key, "aad", 3, copy, n, &out, err) != -1)
            FAIL_("the first %zu of %zu bytes opened", n, ct.len);
        ASSERT_HAS(err, "authentication failed");
    }
    ASSERT_EQ(out.len, 0);
    free(copy);
    haul_buf_free(&ct);
    haul_buf_free(&out);
}

TEST(short_input)
{
    unsigned char key[HAUL_SEAL_KEY_LEN];
    char err[HAUL_ERR_LEN];
    haul_buf out = HAUL_BUF_INIT;
    char zeros[HAUL_SEAL_OVERHEAD] = {0};

    fill_key(key, 5);
    ASSERT_EQ(haul_unseal(key, NULL, 0, zeros, 27, &out, err), -1);
    ASSERT_STREQ(err, "authentication failed: 27 bytes, shorter than a nonce and a tag (28)");
    ASSERT_EQ(haul_unseal(key, NULL, 0, NULL, 0, &out, err), -1);
    ASSERT_STREQ(err, "authentication failed: 0 bytes, shorter than a nonce and a tag (28)");
    /* 28 bytes: an empty message, which these zeros are not. */
    ASSERT_EQ(haul_unseal(key, NULL, 0, zeros, 28, &out, err), -1);
    ASSERT_STREQ(err, "authentication failed");
    ASSERT_EQ(out.len, 0);
    haul_buf_free(&out);
}

/* ---- key files ------------------------------------------------------------ */

static char dir_[256];

static const char *tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir_, sizeof dir_, "%s/haul-test-seal-XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(dir_);
}

/* Remove the directory and the files the test wrote in it: 0, or -1. */
static int rmtmp(void)
{
    char path[320];
    struct dirent *e;
    DIR *d = opendir(dir_);
    if (!d) return -1;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir_, e->d_name);
        unlink(path);
    }
    closedir(d);
    return rmdir(dir_);
}

/* Write n bytes to <dir>/name with the given mode; the path, or NULL. */
static const char *write_file(const char *name, const void *p, size_t n, mode_t mode)
{
    static char path[320];
    snprintf(path, sizeof path, "%s/%s", dir_, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return NULL;
    int ok = write(fd, p, n) == (ssize_t)n && fchmod(fd, mode) == 0;
    close(fd);
    return ok ? path : NULL;
}

static const char hex64[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/* Load name after writing it; the return value, with the key in *key. */
static int load(const char *name, const void *p, size_t n, mode_t mode,
                unsigned char *key, char *err)
{
    const char *path = write_file(name, p, n, mode);
    if (!path) {
        snprintf(err, HAUL_ERR_LEN, "(could not write %s: %s)", name, strerror(errno));
        return -2;
    }
    return haul_seal_key_load(path, key, err);
}

static int is_seq_key(const unsigned char *k)
{
    for (int i = 0; i < HAUL_SEAL_KEY_LEN; i++)
        if (k[i] != i) return 0;
    return 1;
}

TEST(key_file_forms)
{
    unsigned char key[HAUL_SEAL_KEY_LEN], raw[HAUL_SEAL_KEY_LEN];
    char err[HAUL_ERR_LEN], buf[200];

    ASSERT(tmpdir() != NULL);
    /* 32 raw bytes, whatever they are (newlines, NULs and spaces included). */
    for (int i = 0; i < HAUL_SEAL_KEY_LEN; i++) raw[i] = (unsigned char)i;
    raw[10] = '\n';
    raw[31] = ' ';
    memset(key, 0xee, sizeof key);
    ASSERT_EQ(load("raw", raw, sizeof raw, 0600, key, err), 0);
    ASSERT_MEMEQ(key, raw, sizeof raw);

    /* 64 hex digits: alone, with a newline, CRLF and spaces, upper case. */
    memset(key, 0, sizeof key);
    ASSERT_EQ(load("hex", hex64, 64, 0600, key, err), 0);
    ASSERT(is_seq_key(key));
    snprintf(buf, sizeof buf, "%s\n", hex64);
    memset(key, 0, sizeof key);
    ASSERT_EQ(load("hexnl", buf, strlen(buf), 0400, key, err), 0);
    ASSERT(is_seq_key(key));
    snprintf(buf, sizeof buf, "%s \t\r\n\n", hex64);
    for (char *c = buf; *c; c++) if (*c >= 'a' && *c <= 'f') *c = (char)(*c - 32);
    memset(key, 0, sizeof key);
    ASSERT_EQ(load("HEX", buf, strlen(buf), 0600, key, err), 0);
    ASSERT(is_seq_key(key));

    ASSERT_EQ(rmtmp(), 0);
}

TEST(key_file_refused)
{
    unsigned char key[HAUL_SEAL_KEY_LEN];
    char err[HAUL_ERR_LEN], buf[300], want[400];

    ASSERT(tmpdir() != NULL);
    /* Wrong lengths. */
    ASSERT_EQ(load("short", hex64, 63, 0600, key, err), -1);
    snprintf(want, sizeof want, "key file %s/short: 63 bytes; expected exactly 32 raw bytes, "
             "or 64 hex digits and an optional newline (make one with: openssl rand -hex 32 "
             "> FILE; chmod 600 FILE)", dir_);
    ASSERT_STREQ(err, want);
    snprintf(buf, sizeof buf, "%s0\n", hex64);
    ASSERT_EQ(load("long", buf, strlen(buf), 0600, key, err), -1);
    ASSERT_HAS(err, "/long: 66 bytes; expected exactly 32 raw bytes");
    ASSERT_EQ(load("raw33", hex64, 33, 0600, key, err), -1);  /* 32 raw + 1 */
    ASSERT_HAS(err, "/raw33: 33 bytes;");
    ASSERT_EQ(load("empty", "", 0, 0600, key, err), -1);
    ASSERT_HAS(err, "/empty: empty; expected exactly 32 raw bytes");
    memset(buf, '0', sizeof buf);
    ASSERT_EQ(load("huge", buf, sizeof buf, 0600, key, err), -1);
    ASSERT_HAS(err, "/huge: more than 128 bytes; expected");

    /* Not hex: where, never what (the other bytes may be a key). */
    snprintf(buf, sizeof buf, "%s\n", hex64);
    buf[10] = 'g';
    ASSERT_EQ(load("nothex", buf, strlen(buf), 0600, key, err), -1);
    ASSERT_HAS(err, "/nothex: byte 10 is not a hex digit; expected exactly 32 raw bytes");
    ASSERT(!strstr(err, "0102030405"));
    snprintf(buf, sizeof buf, " %.63s", hex64);      /* leading space: not trimmed */
    ASSERT_EQ(load("lead", buf, 64, 0600, key, err), -1);
    ASSERT_HAS(err, "/lead: byte 0 is not a hex digit");
    snprintf(buf, sizeof buf, "%.32s %.31s", hex64, hex64 + 32);
    ASSERT_EQ(load("inner", buf, 64, 0600, key, err), -1);
    ASSERT_HAS(err, "/inner: byte 32 is not a hex digit");

    /* Missing, and a directory. */
    snprintf(buf, sizeof buf, "%s/missing", dir_);
    ASSERT_EQ(haul_seal_key_load(buf, key, err), -1);
    snprintf(want, sizeof want, "key file %s: No such file or directory", buf);
    ASSERT_STREQ(err, want);
    ASSERT_EQ(haul_seal_key_load(dir_, key, err), -1);
    snprintf(want, sizeof want, "key file %s: Is a directory", dir_);
    ASSERT_STREQ(err, want);

    ASSERT_EQ(rmtmp(), 0);
}

TEST(key_file_mode_warns)
{
    unsigned char key[HAUL_SEAL_KEY_LEN];
    char err[HAUL_ERR_LEN], want[400], path[300];

    ASSERT(tmpdir() != NULL);
    snprintf(path, sizeof path, "%s/k", dir_);
    strcpy(err, "untouched");
    ASSERT_EQ(load("k", hex64, 64, 0600, key, err), 0);
    ASSERT_STREQ(err, "untouched");
    memset(key, 0, sizeof key);
    ASSERT_EQ(load("k", hex64, 64, 0640, key, err), 1);
    ASSERT(is_seq_key(key));   /* loaded all the same */
    snprintf(want, sizeof want, "key file %s can be read or changed by group or others "
             "(mode 0640): chmod 600 %s", path, path);
    ASSERT_STREQ(err, want);
    ASSERT_EQ(load("k", hex64, 64, 0604, key, err), 1);
    ASSERT_HAS(err, "(mode 0604)");
    ASSERT_EQ(load("k", hex64, 64, 0620, key, err), 1);
    ASSERT_EQ(load("k", hex64, 64, 0601, key, err), 1);
    ASSERT_EQ(load("k", hex64, 64, 0700, key, err), 0);
    ASSERT_EQ(load("k", hex64, 64, 0400, key, err), 0);
    /* A file with a bad mode and bad contents: the contents are the error. */
    ASSERT_EQ(load("k", hex64, 60, 0644, key, err), -1);
    ASSERT_HAS(err, "60 bytes");
    ASSERT_EQ(rmtmp(), 0);
}

/* ---- keygen ------------------------------------------------------------------ */

TEST(keygen)
{
    char a[2 * HAUL_SEAL_KEY_LEN + 1], b[2 * HAUL_SEAL_KEY_LEN + 1], line[80];
    unsigned char key[HAUL_SEAL_KEY_LEN], want[HAUL_SEAL_KEY_LEN];
    char err[HAUL_ERR_LEN];

    memset(a, 'x', sizeof a);
    ASSERT_EQ(haul_seal_keygen(a), 0);
    ASSERT_EQ(haul_seal_keygen(b), 0);
    ASSERT_EQ(strlen(a), 64);
    ASSERT_EQ(strlen(b), 64);
    ASSERT_EQ(strspn(a, "0123456789abcdef"), 64);
    ASSERT_EQ(strspn(b, "0123456789abcdef"), 64);
    ASSERT(strcmp(a, b) != 0);

    /* What it makes, the loader reads. */
    for (int i = 0; i < HAUL_SEAL_KEY_LEN; i++) {
        unsigned v;
        ASSERT_EQ(sscanf(a + 2 * i, "%2x", &v), 1);
        want[i] = (unsigned char)v;
    }
    ASSERT(tmpdir() != NULL);
    snprintf(line, sizeof line, "%s\n", a);
    ASSERT_EQ(load("gen", line, strlen(line), 0600, key, err), 0);
    ASSERT_MEMEQ(key, want, sizeof key);
    ASSERT_EQ(rmtmp(), 0);
}

TEST(wipe)
{
    haul_buf b = HAUL_BUF_INIT;
    haul_seal_buf_wipe(&b);
    haul_seal_buf_wipe(NULL);
    haul_buf_adds(&b, "SuperSecret123");
    haul_seal_buf_wipe(&b);
    ASSERT(b.p == NULL && b.len == 0 && b.cap == 0);
}

/* Result-row MACs: the derivation and the encoding of rowmac.h, checked
 * against an independent computation (Python's hmac/hashlib):
 *   k = HMAC-SHA256(bytes(range(32)), b"haul-result-mac-v1")
 *   HMAC-SHA256(k, b"haul-row-v1\0" + u64be(len(job)) + job + u64be(len) + item ...)[:16] */
TEST(row_mac)
{
    unsigned char seal_key[HAUL_SEAL_KEY_LEN];
    for (int i = 0; i < HAUL_SEAL_KEY_LEN; i++) seal_key[i] = (unsigned char)i;
    haul_rowmac *m = haul_rowmac_new(seal_key);
    ASSERT(m != NULL);
    static const char job[] = "20261125-120000-abcd0123";
    const char *items[] = {"key", "dummy/collated_0.zip", "i", "0", "status", "ok", "value", "a\0b"};
    size_t lens[] = {3, 20, 1, 1, 6, 2, 5, 3};
    char hex[HAUL_ROWMAC_HEX + 1];
    ASSERT_EQ(haul_rowmac_compute(m, job, sizeof job - 1, items, lens, 8, hex), 0);
    ASSERT_STREQ(hex, "a8f404f3a46d08b9dfae52d0828a0ff3");
    ASSERT_EQ(haul_rowmac_verify(m, job, sizeof job - 1, items, lens, 8, hex, 32), 1);
    ASSERT_EQ(haul_rowmac_compute(m, "j", 1, NULL, NULL, 0, hex), 0);
    ASSERT_STREQ(hex, "5fea85df00cfb6f31251e8a8c5ca3de0");
    /* Anything changed: refused. */
    ASSERT_EQ(haul_rowmac_compute(m, job, sizeof job - 1, items, lens, 8, hex), 0);
    ASSERT_EQ(haul_rowmac_verify(m, "20261125-120000-abcd0124", sizeof job - 1, items, lens, 8, hex, 32), 0);
    lens[7] = 2; /* "a\0" instead of "a\0b" */
    ASSERT_EQ(haul_rowmac_verify(m, job, sizeof job - 1, items, lens, 8, hex, 32), 0);
    lens[7] = 3;
    items[3] = "1";                            /* another slot */
    ASSERT_EQ(haul_rowmac_verify(m, job, sizeof job - 1, items, lens, 8, hex, 32), 0);
    items[3] = "0";
    /* Moving bytes between a field and its value changes the MAC. */
    const char *shifted[] = {"keyd", "ummy/collated_0.zip", "i", "0", "status", "ok", "value", "a\0b"};
    size_t slens[] = {4, 19, 1, 1, 6, 2, 5, 3};
    ASSERT_EQ(haul_rowmac_verify(m, job, sizeof job - 1, shifted, slens, 8, hex, 32), 0);
    ASSERT_EQ(haul_rowmac_verify(m, job, sizeof job - 1, items, lens, 8, hex, 31), 0);
    ASSERT_EQ(haul_rowmac_verify(m, job, sizeof job - 1, items, lens, 8, NULL, 0), 0);
    hex[0] = hex[0] == '0' ? '1' : '0';
    ASSERT_EQ(haul_rowmac_verify(m, job, sizeof job - 1, items, lens, 8, hex, 32), 0);
    haul_rowmac_free(m);
    haul_rowmac_free(NULL);
    /* Another seal key: another MAC key. */
    seal_key[0] ^= 1;
    m = haul_rowmac_new(seal_key);
    ASSERT_EQ(haul_rowmac_compute(m, "j", 1, NULL, NULL, 0, hex), 0);
    ASSERT(strcmp(hex, "5fea85df00cfb6f31251e8a8c5ca3de0") != 0);
    haul_rowmac_free(m);
}

int main(void)
{
    RUN(round_trip);
    RUN(fresh_nonce_each_time);
    RUN(wrong_key_or_aad);
    RUN(every_byte_flipped_or_cut);
    RUN(short_input);
    RUN(key_file_forms);
    RUN(key_file_refused);
    RUN(key_file_mode_warns);
    RUN(keygen);
    RUN(wipe);
    RUN(row_mac);
    TEST_DONE();
}
