/* rowmac.c -- HMAC-SHA256 over result rows (see rowmac.h). */
#include "rowmac.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "buf.h"
#include "seal.h"

struct haul_rowmac {
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx;
    unsigned char key[32];
};

static const char derive_label[] = "haul-result-mac-v1";
static const char row_label[] = "haul-row-v1"; /* followed by its NUL on the wire */

static int mac_init(haul_rowmac *m, const unsigned char *key, size_t keylen)
{
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    return EVP_MAC_init(m->ctx, key, keylen, params) == 1 ? 0 : -1;
}

haul_rowmac *haul_rowmac_new(const unsigned char *seal_key)
{
    haul_rowmac *m = haul_calloc(1, sizeof *m);
    size_t outl = 0;
    m->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!m->mac || !(m->ctx = EVP_MAC_CTX_new(m->mac))) goto fail;
    if (mac_init(m, seal_key, HAUL_SEAL_KEY_LEN) < 0 ||
        EVP_MAC_update(m->ctx, (const unsigned char *)derive_label, sizeof derive_label - 1) != 1 ||
        EVP_MAC_final(m->ctx, m->key, &outl, sizeof m->key) != 1 || outl != sizeof m->key)
        goto fail;
    return m;
fail:
    haul_rowmac_free(m);
    return NULL;
}

void haul_rowmac_free(haul_rowmac *m)
{
    if (!m) return;
    OPENSSL_cleanse(m->key, sizeof m->key);
    EVP_MAC_CTX_free(m->ctx);
    EVP_MAC_free(m->mac);
    free(m);
}

static int update_len(EVP_MAC_CTX *ctx, uint64_t n)
{
    unsigned char b[8];
    for (int i = 7; i >= 0; i--) { b[i] = (unsigned char)n; n >>= 8; }
    return EVP_MAC_update(ctx, b, sizeof b) == 1 ? 0 : -1;
}

static int raw_mac(haul_rowmac *m, const char *job, size_t joblen, const char *const *item,
                   const size_t *len, size_t n, unsigned char out[32])
{
    size_t outl = 0;
    if (mac_init(m, m->key, sizeof m->key) < 0 ||
        EVP_MAC_update(m->ctx, (const unsigned char *)row_label, sizeof row_label) != 1 ||
        update_len(m->ctx, joblen) < 0 ||
        EVP_MAC_update(m->ctx, (const unsigned char *)job, joblen) != 1)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (update_len(m->ctx, len[i]) < 0 ||
            (len[i] && EVP_MAC_update(m->ctx, (const unsigned char *)item[i], len[i]) != 1))
            return -1;
    if (EVP_MAC_final(m->ctx, out, &outl, 32) != 1 || outl != 32) return -1;
    return 0;
}

int haul_rowmac_compute(haul_rowmac *m, const char *job, size_t joblen,
                        const char *const *item, const size_t *len, size_t n,
                        char hex[HAUL_ROWMAC_HEX + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char d[32];
    if (raw_mac(m, job, joblen, item, len, n, d) < 0) return -1;
    for (int i = 0; i < HAUL_ROWMAC_HEX / 2; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[HAUL_ROWMAC_HEX] = '\0';
    return 0;
}

int haul_rowmac_verify(haul_rowmac *m, const char *job, size_t joblen,
                       const char *const *item, const size_t *len, size_t n,
                       const char *mac, size_t maclen)
{
    char want[HAUL_ROWMAC_HEX + 1];
    if (!mac || maclen != HAUL_ROWMAC_HEX) return 0;
    if (haul_rowmac_compute(m, job, joblen, item, len, n, want) < 0) return 0;
    return CRYPTO_memcmp(want, mac, HAUL_ROWMAC_HEX) == 0;
}
