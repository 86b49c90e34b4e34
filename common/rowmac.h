/* rowmac.h -- authenticating result rows with the key that seals tasks.
 *
 * With a key (HAUL_KEY_FILE), a worker adds a field "mac" to every entry it
 * writes to a job's results stream, and the collector drops (and counts) an
 * entry whose MAC does not verify: whoever can write to Redis can still delete
 * or delay results, but cannot make the collector write a row no worker
 * holding the key produced (docs/security.md).
 *
 * The MAC key is derived from the seal key, never the seal key itself:
 *   mac_key = HMAC-SHA256(seal_key, "haul-result-mac-v1")
 * and a row's MAC is the first 16 bytes, as 32 lowercase hex digits, of
 *   HMAC-SHA256(mac_key, "haul-row-v1" 00 || u64be(len(job)) || job ||
 *               for each field and each value in the entry's order:
 *               u64be(len) || bytes)
 * over every field of the entry but "mac" itself (which comes last). The job
 * id is bound so a row cannot be moved to another job; the slot ("i"), key and
 * value are fields, so none can be changed or swapped.
 *
 * No I/O. Nothing here logs or puts key bytes in a sentence. */
#ifndef HAUL_ROWMAC_H
#define HAUL_ROWMAC_H

#include <stddef.h>

#define HAUL_ROWMAC_HEX 32   /* hex digits of a row's MAC */

typedef struct haul_rowmac haul_rowmac;

/* A MAC context for seal_key (HAUL_SEAL_KEY_LEN bytes, not kept: only the
 * derived key is). NULL if OpenSSL cannot make HMAC-SHA256. Free with
 * haul_rowmac_free (NULL ok), which wipes the derived key. */
haul_rowmac *haul_rowmac_new(const unsigned char *seal_key);
void haul_rowmac_free(haul_rowmac *m);

/* The MAC of an entry: n items (field, value, field, value, ...), item i of
 * len[i] bytes (any bytes). hex gets HAUL_ROWMAC_HEX digits and a NUL.
 * 0, or -1 if OpenSSL fails. */
int haul_rowmac_compute(haul_rowmac *m, const char *job, size_t joblen,
                        const char *const *item, const size_t *len, size_t n,
                        char hex[HAUL_ROWMAC_HEX + 1]);

/* 1 when mac (maclen bytes, as read from the entry) is the MAC of the items,
 * compared in constant time; 0 otherwise (absent, wrong length, wrong). */
int haul_rowmac_verify(haul_rowmac *m, const char *job, size_t joblen,
                       const char *const *item, const size_t *len, size_t n,
                       const char *mac, size_t maclen);

#endif
