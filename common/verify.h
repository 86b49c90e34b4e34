/* verify.h -- checking a downloaded body against what the store says it is.
 *
 * A plain object's ETag is the MD5 of its body, but a segmented object's is
 * not, and calling every Swift SLO, Swift DLO and S3 multipart object corrupt
 * is as wrong as checking nothing. This module knows the three rules:
 *
 *   plain        ETag "<md5 of the body>"
 *   Swift SLO    ETag "<md5 of the segments' hashes, concatenated>"; the
 *                manifest (GET ?multipart-manifest=get) lists each segment's
 *                size and MD5, so every segment of the body is checked
 *   Swift DLO    the same rule over the segment container's listing
 *   S3 multipart ETag "<md5 of the parts' binary MD5s, concatenated>-<N>":
 *                checked when the part size is known or can be guessed
 *
 * and a streaming verifier that checks the body while it arrives, in chunks
 * of any size, without keeping it. Everything here is pure (no I/O, no clock,
 * no global state); MD5 comes from OpenSSL's EVP interface. Where MD5 is not
 * available (an OpenSSL whose only provider is FIPS), haul_md5_available() is
 * 0 and every verifier ends HAUL_VERIFIED_NONE: nothing is called corrupt for
 * want of a hash (a body of the wrong length still is).
 *
 * The outcome is one of three: verified (and how), not verified (NONE: the
 * ETag gives nothing to check, or only part of the body could be checked), or
 * a certain mismatch, -1 with a sentence. Doubt is never reported as
 * corruption: a wrong guess of an S3 part size is NONE, not an error.
 *
 * Errors are sentences in a caller's buffer of HAUL_ERR_LEN bytes (buf.h);
 * err may be NULL. Out of memory aborts (haul_malloc). */
#ifndef HAUL_VERIFY_H
#define HAUL_VERIFY_H

#include <stddef.h>

#include "buf.h"

/* How a body was verified, for the result and the logs. */
typedef enum haul_verified {
    HAUL_VERIFIED_NONE = 0,  /* nothing, or not all of it, could be checked */
    HAUL_VERIFIED_MD5,       /* the body's MD5 is the ETag */
    HAUL_VERIFIED_SEGMENTS,  /* every Swift SLO/DLO segment's MD5 and size, and the total */
    HAUL_VERIFIED_PARTS,     /* the S3 multipart ETag, recomputed over the body's parts */
} haul_verified;

/* "none", "md5", "segments", "parts"; "?" for anything else. */
const char *haul_verified_str(haul_verified v);

/* 1 when this process can compute MD5 (OpenSSL offers it), else 0. */
int haul_md5_available(void);

/* ---- ETags --------------------------------------------------------------- */

#define HAUL_MULTIPART_MAX_PARTS 10000  /* S3's limit on parts; Ceph and MinIO keep it */

typedef enum haul_etag_kind {
    HAUL_ETAG_OTHER = 0,   /* absent, weak, or nothing haul can check */
    HAUL_ETAG_MD5,         /* 32 hex digits */
    HAUL_ETAG_MULTIPART,   /* 32 hex digits, '-', a part count */
} haul_etag_kind;

/* Classifies an ETag header value (or a listing's hash) etag[0..len).
 * Spaces and tabs around it are ignored, then one pair of double quotes is
 * removed (a lone quote on one side makes it OTHER). A weak ETag (W/"...")
 * is OTHER: it promises nothing about the bytes. 32 hex digits, either case,
 * are MD5; "<32 hex>-N" with N a decimal count from 1 to
 * HAUL_MULTIPART_MAX_PARTS, without leading zeros, is MULTIPART. Anything
 * else (NULL, empty, a SHA-256, an opaque token) is OTHER.
 * md5 (16 bytes) receives the digest for MD5 and MULTIPART; *nparts the part
 * count for MULTIPART and 0 otherwise. Either pointer may be NULL.
 * Note that a Swift SLO's or DLO's ETag is 32 hex digits too: tell those by
 * their X-Static-Large-Object / X-Object-Manifest headers before taking an
 * MD5 ETag for the body's MD5. So is the ETag AWS gives an object encrypted
 * with SSE-KMS or SSE-C (x-amz-server-side-encryption: aws:kms, or an
 * x-amz-server-side-encryption-customer-algorithm header), which is not its
 * MD5 either: the caller must not check those against the body. */
haul_etag_kind haul_etag_parse(const char *etag, size_t len, unsigned char md5[16],
                               long long *nparts);

/* Content-Range of a 206 or 416 answer, s[0..len): "bytes FIRST-LAST/TOTAL",
 * "bytes FIRST-LAST/" followed by a star (TOTAL unknown), or "bytes ", a star
 * and "/TOTAL" (a 416's "unsatisfiable", no range). The unit is
 * case-insensitive; spaces around the value are ignored. 0 with *first,
 * *last and *total set (-1 for each star), or -1 (outputs untouched) unless
 * FIRST <= LAST, LAST < TOTAL when both are known, and every number is
 * decimal digits that fit a long long. Any output pointer may be NULL. */
int haul_content_range_parse(const char *s, size_t len, long long *first, long long *last,
                             long long *total);

/* ---- Swift segments (SLO manifests, DLO listings) ------------------------- */

#define HAUL_SLO_MAX_SEGMENTS 10000             /* Swift's max_manifest_segments is 1000
                                                   by default; operators raise it */
#define HAUL_SLO_MAX_MANIFEST ((size_t)16 << 20) /* bytes of manifest JSON (Swift's own
                                                   max_manifest_size is 8 MiB of PUT body) */

/* One segment of a segmented object, in body order. */
typedef struct haul_segment {
    long long bytes;        /* bytes this segment contributes to the body: the range's
                               length when ranged, the segment's size otherwise; >= 0 */
    unsigned char md5[16];  /* the segment's hash, decoded */
    char hash[33];          /* the hash as the manifest or listing wrote it (its case
                               kept): what the object's ETag is computed over */
    char *range;            /* NULL, or the manifest's "range", "FIRST-LAST" (owned) */
    char *name;             /* the segment's name as the manifest ("/cont/obj") or the
                               listing ("obj") wrote it; NULL for inline data (owned) */
    int checkable;          /* 1 when md5 is the MD5 of exactly these bytes of the body;
                               0 for a ranged part of a segment and for a sub-SLO,
                               whose hash is its own manifest ETag */
} haul_segment;

/* Frees every range and name and the array. NULL ok. */
void haul_segments_free(haul_segment *v, size_t n);

/* Fills *s for one DLO segment from a container listing entry: its name
 * (copied; may be NULL), hash hash[0..hashlen) (32 hex digits, optionally in
 * quotes) and size bytes (>= 0). checkable = 1, range = NULL. 0, or -1 with a
 * sentence and *s zeroed. Beware: a segment that is itself an SLO is listed
 * with its manifest's MD5 (and an "slo_etag" member, which listing.h does not
 * keep); such a segment cannot be checked, so set its checkable to 0. */
int haul_segment_set(haul_segment *s, const char *name, const char *hash, size_t hashlen,
                     long long bytes, char *err);

/* Parses an SLO manifest as GET ?multipart-manifest=get returns it, a JSON
 * array of
 *   {"name": "/cont/seg", "bytes": N, "hash": "<32 hex>", "content_type": ..,
 *    "last_modified": .., ["range": "FIRST-LAST"], ["sub_slo": true]}
 * or {"data": "<base64>"} for inline data. On success *out is a new array of
 * *nout segments (free with haul_segments_free) and 0 is returned; "[]" is
 * valid (Swift stores an empty SLO: an empty body, ETag MD5("")), and gives
 * *out NULL and *nout 0. A range
 * makes the segment contribute LAST-FIRST+1 bytes and, unless it covers the
 * whole segment, uncheckable; a sub-SLO is never checkable (its bytes are
 * the sub-SLO's total, from "swift_bytes=" in its content_type when there);
 * inline data is checkable, its hash the MD5 of the decoded bytes, as Swift
 * computes it.
 * -1 with a sentence, *out NULL and *nout 0 on anything else: more than
 * HAUL_SLO_MAX_MANIFEST bytes or HAUL_SLO_MAX_SEGMENTS entries, an empty body,
 * malformed JSON or not an array, an entry that is not an object, a hash that
 * is not 32 hex digits, bytes that is not a non-negative integer, a range not
 * "FIRST-LAST" within the segment, bad base64, a total over LLONG_MAX, inline
 * data where MD5 is unavailable. */
int haul_slo_manifest_parse(const char *body, size_t n, haul_segment **out, size_t *nout,
                            char *err);

/* The body's length the segments add up to, or -1 when a size is negative or
 * the sum exceeds LLONG_MAX. */
long long haul_segments_total(const haul_segment *v, size_t n);

/* Does this segment list belong to the object whose ETag is etag[0..etaglen)
 * (quotes allowed)? Swift's rule, for SLOs and DLOs alike: the MD5 of every
 * segment's hash concatenated, a ranged segment contributing
 * "<hash>:<range>;" instead. 0 when it matches; -1 with a sentence when it
 * does not (the manifest or listing belongs to another version of the object:
 * list again), when the ETag is not 32 hex digits, or when MD5 is unavailable.
 * A DLO whose listing held 10,000 segments or more has no such ETag (Swift
 * then sends the manifest object's own). */
int haul_segments_match_etag(const haul_segment *v, size_t n, const char *etag,
                             size_t etaglen, char *err);

/* ---- The streaming verifier ----------------------------------------------- */

/* At most this many S3 part sizes are tried at once when the part size is
 * guessed: each costs one more MD5 pass over the body. */
#define HAUL_PARTS_MAX_CANDIDATES 4

typedef struct haul_verifier haul_verifier;

/* Constructors. Each returns a new verifier, never NULL; free it with
 * haul_verifier_free(). Arguments are copied. When MD5 is unavailable, or the
 * arguments give nothing to check, the verifier ends HAUL_VERIFIED_NONE. */

/* A plain object: the body's MD5 must be md5. */
haul_verifier *haul_verifier_md5(const unsigned char md5[16]);

/* A Swift SLO or DLO: the body must be the n segments end to end. Each
 * checkable segment's bytes must have its MD5 and the body must be exactly
 * haul_segments_total() bytes long; SEGMENTS when every segment was checkable
 * (and n == 0 is an empty body), NONE when some were not. Segments with a
 * negative size, or sizes over LLONG_MAX in total, make a verifier that ends
 * NONE. Checking the list against the object's ETag is the caller's part
 * (haul_segments_match_etag). */
haul_verifier *haul_verifier_segments(const haul_segment *v, size_t n);

/* An S3 multipart object: md5 and nparts from its ETag, size its length.
 * exact_part_size > 0 when the store told the part size: the Content-Length
 * of a 206 answer to HEAD ?partNumber=1 (AWS; Swift 2.30's s3api answers 405
 * and Ceph RGW 16.2 ignores the parameter and describes the whole object, so
 * take only a 206). A recomputed ETag that differs is then a mismatch: this
 * trusts that every part but the last has part 1's size, as every common
 * client makes them; a client that varied its part sizes and still landed on
 * nparts parts would be reported corrupt. Otherwise (<= 0) the
 * sizes clients use are tried: 8, 5, 16, 15, 32, 64, 100, 128, 256 and 512
 * MiB and 1 GiB, then ceil(size/nparts), that rounded up to a MiB, and
 * size/10000 + 1 (the choices of the SDKs whose default would need more than
 * 10,000 parts); only those that cut size bytes into exactly nparts parts are
 * kept, at most HAUL_PARTS_MAX_CANDIDATES, and one matching is PARTS, none
 * NONE (the client may have used another size, or parts of unequal sizes).
 * With nparts == 1 the one part is the whole body whatever the part size, so
 * a difference is a mismatch. An exact part size that does not cut size
 * bytes into nparts parts means the parts were of unequal sizes: NONE (so is
 * the whole object's length, which a store that ignored partNumber gives). A
 * body that is not size bytes long is a mismatch in every case. */
haul_verifier *haul_verifier_parts(const unsigned char md5[16], long long nparts,
                                   long long size, long long exact_part_size);

/* Feeds the next n bytes of the body (any chunking gives the same outcome).
 * One MD5 pass over them per thing hashed (the body, the current segment, or
 * each part-size candidate); no allocation per call (OpenSSL 3 allocates a
 * small context only when a segment or part begins). p may be NULL when n is
 * 0. Once a mismatch is certain, further bytes are not hashed. */
void haul_verifier_update(haul_verifier *v, const void *p, size_t n);

/* 1 once a mismatch is certain before the end (a bad segment, more bytes
 * than expected), so that the caller may stop the download; else 0. */
int haul_verifier_failed(const haul_verifier *v);

/* At the end of the body: 0 with *out set, or -1 with a sentence on a
 * certain mismatch, e.g. "segment 3 of 12 (/c/o/00000002, body bytes
 * 2097152-3145727): its bytes' MD5 is 0123.., its hash 4567.. (the download
 * is corrupt)". On 0, err holds a note for the logs: why the outcome is
 * NONE, or which part size reproduced a multipart ETag ("" otherwise).
 * Call it once, after the last haul_verifier_update(). */
int haul_verifier_final(haul_verifier *v, haul_verified *out, char *err);

void haul_verifier_free(haul_verifier *v); /* NULL ok */

#endif
