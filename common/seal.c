/* seal.c -- AES-256-GCM with OpenSSL's EVP interface, and key files.
 *
 * A sealed message is nonce || ciphertext || tag, the layout most GCM users
 * pick: the nonce must travel with the message, the tag is checked last.
 * EVP works on int lengths, so anything over INT_MAX is refused up front;
 * haul never seals more than 64 KiB. */
#include "seal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* ---- key files ---------------------------------------------------------- */

/* Longest file worth reading: 64 hex digits and some trailing whitespace. */
#define KEYFILE_MAX 128

/* Read at most KEYFILE_MAX bytes; *toolong when there was more. */
static int read_small(int fd, unsigned char *buf, size_t *n, int *toolong)
{
    unsigned char extra;
    *n = 0;
    *toolong = 0;
    while (*n < KEYFILE_MAX) {
        ssize_t r = read(fd, buf + *n, KEYFILE_MAX - *n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) return 0;
        *n += (size_t)r;
    }
    for (;;) {
        ssize_t r = read(fd, &extra, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        *toolong = r > 0;
        return 0;
    }
}

#define KEY_FORMS "expected exactly 32 raw bytes, or 64 hex digits and an optional " \
                  "newline (make one with: openssl rand -hex 32 > FILE; chmod 600 FILE)"

int haul_seal_key_load(const char *path, unsigned char key[HAUL_SEAL_KEY_LEN], char *err)
{
    unsigned char buf[KEYFILE_MAX];
    size_t n = 0;
    int toolong = 0, rc = -1;
    struct stat st;

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, HAUL_ERR_LEN, "key file %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || read_small(fd, buf, &n, &toolong) < 0) {
        snprintf(err, HAUL_ERR_LEN, "key file %s: %s", path, strerror(errno));
        goto out;
    }
    if (toolong) {
        snprintf(err, HAUL_ERR_LEN, "key file %s: more than %d bytes; " KEY_FORMS, path,
                 KEYFILE_MAX);
        goto out;
    }
    if (n == HAUL_SEAL_KEY_LEN) {
        memcpy(key, buf, HAUL_SEAL_KEY_LEN);
    } else {
        size_t len = n;
        while (len > 0 && isspace(buf[len - 1])) len--;
        if (len != 2 * HAUL_SEAL_KEY_LEN) {
            if (n == 0) snprintf(err, HAUL_ERR_LEN, "key file %s: empty; " KEY_FORMS, path);
            else snprintf(err, HAUL_ERR_LEN, "key file %s: %zu bytes; " KEY_FORMS, path, n);
            goto out;
        }
        for (size_t i = 0; i < len; i++) {
            if (haul_hexval(buf[i]) < 0) {
                /* Say where, never what: the byte may be part of a key. */
                snprintf(err, HAUL_ERR_LEN, "key file %s: byte %zu is not a hex digit; "
                         KEY_FORMS, path, i);
                goto out;
            }
        }
        for (size_t i = 0; i < HAUL_SEAL_KEY_LEN; i++)
            key[i] = (unsigned char)(haul_hexval(buf[2 * i]) << 4 | haul_hexval(buf[2 * i + 1]));
    }
    rc = 0;
    if (st.st_mode & 077) {
        snprintf(err, HAUL_ERR_LEN, "key file %s can be read or changed by group or others "
                 "(mode %04o): chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
        rc = 1;
    }
out:
    OPENSSL_cleanse(buf, sizeof buf);
    close(fd);
    return rc;
}

int haul_seal_keygen(char hex[2 * HAUL_SEAL_KEY_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char k[HAUL_SEAL_KEY_LEN];

    if (RAND_bytes(k, sizeof k) != 1) {
        hex[0] = '\0';
        return -1;
    }
    for (size_t i = 0; i < sizeof k; i++) {
        hex[2 * i] = digits[k[i] >> 4];
        hex[2 * i + 1] = digits[k[i] & 15];
    }
    hex[2 * HAUL_SEAL_KEY_LEN] = '\0';
    OPENSSL_cleanse(k, sizeof k);
    return 0;
}

/* ---- sealing ------------------------------------------------------------ */

/* "seal: <what> failed (<OpenSSL's reason>)". */
static void ssl_err(char *err, const char *what)
{
    char reason[256];
    unsigned long e = ERR_get_error();
    if (e) ERR_error_string_n(e, reason, sizeof reason);
    else snprintf(reason, sizeof reason, "no reason given");
    ERR_clear_error();
    snprintf(err, HAUL_ERR_LEN, "seal: %s failed (%s)", what, reason);
}

int haul_seal(const unsigned char key[HAUL_SEAL_KEY_LEN], const void *aad, size_t aadlen,
              const void *pt, size_t ptlen, haul_buf *out, char *err)
{
    EVP_CIPHER_CTX *ctx = NULL;
    int len, rc = -1;

    if (aadlen > INT_MAX || ptlen > INT_MAX - HAUL_SEAL_OVERHEAD) {
        snprintf(err, HAUL_ERR_LEN, "seal: %zu bytes of data and %zu of associated data, "
                 "limit %d each", ptlen, aadlen, INT_MAX - HAUL_SEAL_OVERHEAD);
        return -1;
    }
    haul_buf_reserve(out, ptlen + HAUL_SEAL_OVERHEAD);
    unsigned char *nonce = (unsigned char *)out->p + out->len;
    unsigned char *ct = nonce + HAUL_SEAL_NONCE_LEN;
    unsigned char *tag = ct + ptlen;

    if (RAND_bytes(nonce, HAUL_SEAL_NONCE_LEN) != 1) {
        ssl_err(err, "random nonce");
        goto out;
    }
    if (!(ctx = EVP_CIPHER_CTX_new())) {
        ssl_err(err, "cipher context");
        goto out;
    }
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, HAUL_SEAL_NONCE_LEN, NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1) {
        ssl_err(err, "AES-256-GCM setup");
        goto out;
    }
    /* With a NULL output, EVP_EncryptUpdate() takes associated data; so a
     * zero-length plaintext must not reach it with out == NULL either. */
    if (aadlen && EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aadlen) != 1) {
        ssl_err(err, "AES-256-GCM associated data");
        goto out;
    }
    if (ptlen && (EVP_EncryptUpdate(ctx, ct, &len, pt, (int)ptlen) != 1 ||
                  (size_t)len != ptlen)) {
        ssl_err(err, "AES-256-GCM encryption");
        goto out;
    }
    if (EVP_EncryptFinal_ex(ctx, tag, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, HAUL_SEAL_TAG_LEN, tag) != 1) {
        ssl_err(err, "AES-256-GCM tag");
        goto out;
    }
    out->len += ptlen + HAUL_SEAL_OVERHEAD;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    out->p[out->len] = '\0';
    return rc;
}

int haul_unseal(const unsigned char key[HAUL_SEAL_KEY_LEN], const void *aad, size_t aadlen,
                const void *ct, size_t ctlen, haul_buf *out, char *err)
{
    EVP_CIPHER_CTX *ctx = NULL;
    int len, rc = -1;

    if (ctlen < HAUL_SEAL_OVERHEAD) {
        snprintf(err, HAUL_ERR_LEN, "authentication failed: %zu bytes, shorter than a nonce "
                 "and a tag (%d)", ctlen, HAUL_SEAL_OVERHEAD);
        return -1;
    }
    if (aadlen > INT_MAX || ctlen > INT_MAX) {
        snprintf(err, HAUL_ERR_LEN, "seal: %zu bytes of data and %zu of associated data, "
                 "limit %d each", ctlen, aadlen, INT_MAX);
        return -1;
    }
    size_t ptlen = ctlen - HAUL_SEAL_OVERHEAD;
    const unsigned char *nonce = ct;
    const unsigned char *body = nonce + HAUL_SEAL_NONCE_LEN;
    unsigned char tag[HAUL_SEAL_TAG_LEN];
    memcpy(tag, body + ptlen, sizeof tag); /* EVP wants a writable pointer */

    haul_buf_reserve(out, ptlen);
    unsigned char *pt = (unsigned char *)out->p + out->len;

    if (!(ctx = EVP_CIPHER_CTX_new())) {
        ssl_err(err, "cipher context");
        goto out;
    }
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, HAUL_SEAL_NONCE_LEN, NULL) != 1 ||
        EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1) {
        ssl_err(err, "AES-256-GCM setup");
        goto out;
    }
    if (aadlen && EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aadlen) != 1) {
        ssl_err(err, "AES-256-GCM associated data");
        goto out;
    }
    if (ptlen && (EVP_DecryptUpdate(ctx, pt, &len, body, (int)ptlen) != 1 ||
                  (size_t)len != ptlen)) {
        ssl_err(err, "AES-256-GCM decryption");
        goto out;
    }
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, HAUL_SEAL_TAG_LEN, tag) != 1) {
        ssl_err(err, "AES-256-GCM tag");
        goto out;
    }
    if (EVP_DecryptFinal_ex(ctx, pt + ptlen, &len) != 1) {
        ERR_clear_error();
        snprintf(err, HAUL_ERR_LEN, "authentication failed");
        goto out;
    }
    out->len += ptlen;
    rc = 0;
out:
    /* Unauthenticated plaintext never stays behind in the buffer's slack. */
    if (rc < 0) OPENSSL_cleanse(pt, ptlen);
    EVP_CIPHER_CTX_free(ctx);
    out->p[out->len] = '\0';
    return rc;
}

void haul_seal_buf_wipe(haul_buf *b)
{
    if (!b) return;
    if (b->p) OPENSSL_cleanse(b->p, b->cap);
    haul_buf_free(b);
}

int haul_no_core_dumps(char *err)
{
    struct rlimit rl = {0, 0};
    if (setrlimit(RLIMIT_CORE, &rl) < 0) {
        snprintf(err, HAUL_ERR_LEN, "cannot turn core dumps off (setrlimit): %s", strerror(errno));
        return -1;
    }
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
        snprintf(err, HAUL_ERR_LEN, "cannot make this process undumpable (prctl): %s", strerror(errno));
        return -1;
    }
    return 0;
}
