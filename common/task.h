/* task.h -- the task: what the scheduler puts in a Redis list, msgpack-encoded.
 *
 * A task is one batch of keys, one operation, and the full connection state to
 * perform it. The wire format is documented byte by byte in docs/protocol.md;
 * this codec is its only implementation. A task read from Redis is untrusted
 * input: haul_task_decode() checks every type and every length against the
 * limits below before it allocates anything, and answers a sentence saying
 * what is wrong instead of crashing.
 *
 * With a key shared by the scheduler and the workers (seal.h), the connection
 * state travels sealed: encrypted, and bound to the fields that say what to
 * do with it, so Redis holds no secret and a task altered in Redis is refused. */
#ifndef HAUL_TASK_H
#define HAUL_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conn.h"

#define HAUL_TASK_VERSION   1
#define HAUL_TASK_MAX_BYTES (16u << 20) /* an encoded task, whole */
#define HAUL_TASK_MAX_KEYS  100000      /* keys in one task */
#define HAUL_KEY_MAX        1024        /* bytes in one key (S3 and Swift limit) */
#define HAUL_STR_MAX        4096        /* bytes in any other string field */
#define HAUL_SUFFIX_MAX     16          /* sidecar suffixes in one task */
#define HAUL_TASK_MAX_DEPTH 8           /* nested maps/arrays, the task's own map included */
#define HAUL_SEALED_MAX     (64u << 10) /* bytes in the "sealed" field */
#define HAUL_TASK_DEFAULT_ATTEMPTS 4    /* args.max_attempts when absent */
#define HAUL_TASK_MAX_ATTEMPTS     1000 /* args.max_attempts, at most */
#define HAUL_META_MAX       64          /* put: user metadata pairs in one task */
#define HAUL_ZIP_MAX_MEMBERS 10000      /* put --collate: files in one zip */
#define HAUL_BULK_DELETE_MAX 1000       /* delete over S3: keys in one DeleteObjects (S3's limit) */
#define HAUL_META_NAME_MAX  128         /* put: bytes in a metadata name (Swift's limit) */
#define HAUL_META_VALUE_MAX 1024        /* put: bytes in a metadata value */
#define HAUL_MAX_INLINE     (64u << 20) /* args.max_inline, at most: a result value
                                           is one Redis bulk string and one row */

/* Where an encoded task's delivery count lives. The encoder always writes
 * "v" first, as a positive fixint, and "attempt" second, as a uint32, so every
 * task it makes starts with these 17 bytes:
 *   [0] fixmap header 0x8N   [1..2] a1 'v'   [3] 01 (the version)
 *   [4..11] a7 "attempt"     [12] ce         [13..16] the count, big-endian
 * A Lua script in Redis (the reaper) can then bump the count in place without
 * decoding msgpack; haul_task_bump_attempt() is the same rule in C. */
#define HAUL_TASK_ATTEMPT_OFFSET 13

typedef enum haul_op {
    HAUL_OP_NONE = 0,
    HAUL_OP_LIST_BUCKETS = 1, /* S3 ListBuckets / Swift account listing; no keys */
    HAUL_OP_LIST = 2,         /* every key of the bucket under each prefix in keys[] */
    HAUL_OP_HEAD = 3,         /* size, etag, last-modified, content-type, metadata */
    HAUL_OP_GET = 4,          /* the body, inline or to a file under out_dir */
    HAUL_OP_SIDECAR = 5,      /* for key ending in a suffix: text of key + sidecar_ext */
    HAUL_OP_PUT = 6,          /* upload the file srcs[i] (worker's host) as keys[i] */
    HAUL_OP_DELETE = 7,       /* delete the key (a missing key is a row, not a failure) */
    HAUL_OP_VERIFY = 8        /* HEAD the key and compare with sizes[i], md5s[i] */
} haul_op;

/* Whether an op changes the store (put, delete): such a task's write
 * arguments are bound to its sealed connection state, and a worker started
 * with --read-only refuses it. */
int haul_op_writes(haul_op op);

const char *haul_op_str(haul_op op);        /* "list-buckets", ..., "none" */
int haul_op_parse(const char *s, haul_op *op); /* 0, or -1 when unknown */

typedef struct haul_task {
    uint32_t version;      /* HAUL_TASK_VERSION when encoded by this haul */
    char *id;              /* "<job>:<n>", unique within Redis */
    char *job;             /* job id */
    haul_op op;
    haul_conn conn;
    char *bucket;          /* bucket / container; NULL for list-buckets */
    /* Operation arguments (each op reads those it needs). */
    uint64_t max_inline;   /* get: bodies up to this many bytes go in the result */
    char *out_dir;         /* get: larger bodies are written under this directory (worker's host) */
    char **suffixes;       /* sidecar: keys ending in one of these get their sidecar fetched */
    size_t nsuffixes;
    char *sidecar_ext;     /* sidecar: appended to the key, default ".metadata" */
    /* put */
    char *src_dir;         /* srcs[] relative to this directory (worker's host); NULL: as given */
    char **srcs;           /* the file each key is read from: nkeys entries, or none */
    size_t nsrcs;
    char **meta;           /* user metadata: name, value, name, value, ... */
    size_t nmeta;          /* entries: twice the pairs, at most 2 * HAUL_META_MAX */
    uint64_t segment_size; /* files above are uploaded in segments / parts; 0: the worker's default */
    /* put --collate: key i is a zip of member_counts[i] files (0: key i is
     * the file srcs[i]), the next ones of members[] in order, each relative
     * to src_dir; its sidecar (key + ".metadata") lists them */
    uint32_t *member_counts; /* nkeys entries, or none */
    size_t ncounts;
    char **members;
    size_t nmembers;
    /* verify: what each key should be, from the manifest (nkeys entries, or none) */
    long long *sizes;      /* -1: not given */
    char **md5s;           /* 32 hex digits, or "" when not given */
    size_t nexpect;        /* entries of sizes[] and md5s[] */
    uint32_t flags;        /* HAUL_TASK_* below */
    uint32_t max_attempts; /* tries per key of a transient failure, the first included:
                              1..HAUL_TASK_MAX_ATTEMPTS, HAUL_TASK_DEFAULT_ATTEMPTS by default */
    /* The batch. */
    uint64_t first;        /* index within the job of keys[0]; keys are consecutive */
    char **keys;           /* for list: the prefixes ("" = whole bucket) */
    size_t nkeys;
    uint32_t attempt;      /* deliveries so far; 0 when first queued */
    uint64_t created_ms;   /* unix time in ms when the scheduler made it */
    /* Where and until when the task may run. Both are bound to a sealed
     * task's connection state, so a sealed task cannot be moved to another
     * queue or replayed after it expired; a sealed task must have both. */
    char *queue;           /* the queue it was put on; NULL: not said (clear tasks only) */
    uint64_t expires_ms;   /* unix time in ms after which no worker runs it; 0: never */
} haul_task;

/* args.flags */
#define HAUL_TASK_SKIP_EXISTING 1u /* put: HEAD first; same size and MD5: row "skipped" */
#define HAUL_TASK_DRY_RUN       2u /* put, delete: say what would be done, change nothing */
#define HAUL_TASK_DEEP          4u /* verify: GET and hash the body, not only HEAD */
#define HAUL_TASK_BULK          8u /* delete over Swift: the store offers bulk delete (its /info) */
#define HAUL_TASK_NO_CHECKSUM  16u /* get, sidecar: check the body's length, not its hash
                                      (--ignore-checksum; verified "none") */
#define HAUL_TASK_FLAGS        31u /* every flag this version knows */

/* The encoder's rule for args.meta (n entries: name, value, ...), for a
 * scheduler to apply to its options before it makes a job: names of 1 to
 * HAUL_META_NAME_MAX letters, digits, '-' or '_'; values of at most
 * HAUL_META_VALUE_MAX bytes, no control byte, no space at either end; at most
 * HAUL_META_MAX pairs. 0, or -1 with the sentence the encoder would give. */
int haul_task_check_meta(const char *const *meta, size_t n, char *err);

/* Zero *t (conn and max_attempts initialised to their defaults). */
void haul_task_init(haul_task *t);
/* Free everything *t owns and re-initialise it. */
void haul_task_clear(haul_task *t);

/* Append the msgpack encoding of *t to out. key NULL: the connection goes in
 * the clear as "conn"; else it is sealed with key (HAUL_SEAL_KEY_LEN bytes,
 * not kept) into "sealed". -1 with err, and out as it was, when a field is over
 * its limit (the scheduler checks before it queues anything). */
int haul_task_encode_key(const haul_task *t, const unsigned char *key, haul_buf *out,
                         char *err);
/* haul_task_encode_key(t, NULL, out, err). */
int haul_task_encode(const haul_task *t, haul_buf *out, char *err);

/* Decode n bytes at p into *t (which is initialised here; the caller clears it
 * afterwards in every case). 0 on success; -1 with a sentence in err naming the
 * field and what is wrong with it ("task field 'keys': 3000000 entries, limit
 * 100000"). Unknown map keys are skipped, so newer schedulers can add fields;
 * a different major version is refused.
 * key: this worker's key (HAUL_SEAL_KEY_LEN bytes, not kept), or NULL when it
 * has none. A worker with a key accepts sealed tasks only, and only those that
 * authenticate; a worker without one accepts tasks in the clear only. */
int haul_task_decode_key(const char *p, size_t n, const unsigned char *key, haul_task *t,
                         char *err);
/* haul_task_decode_key(p, n, NULL, t, err). */
int haul_task_decode(const char *p, size_t n, haul_task *t, char *err);

/* Add one to the delivery count of the encoded task at p (n bytes), in place,
 * as the reaper does in Redis: the task must start with the layout described
 * at HAUL_TASK_ATTEMPT_OFFSET. 0, with the new count in *now (NULL ok); -1,
 * with p untouched, when it does not (a task from another encoder, or
 * garbage) or the count is already UINT32_MAX. Does no decoding and no I/O;
 * a sealed task still authenticates afterwards, as "attempt" is not bound. */
int haul_task_bump_attempt(char *p, size_t n, uint32_t *now);

/* Whether a decoded task may run here and now: taken from `queue`, at unix
 * time now_ms. A task that names another queue was moved there by someone who
 * can write to Redis; one past its expiry is a replay or was forgotten. 0, or
 * -1 with the sentence a dead letter carries. */
int haul_task_check_delivery(const haul_task *t, const char *queue, long long now_ms,
                             char *err);

/* What can be read of a task that may not decode: its id and job, copied
 * (truncated) into the fixed buffers. A dead letter is attributed to its job
 * with this, so the job's collector can write an error row for each of its
 * keys. Nothing here is authenticated: a caller may use it to attribute, never
 * to act on the store. Returns 0 when both were found as strings without NUL
 * bytes, else -1 (and whatever was found). No allocation. */
typedef struct haul_task_ref {
    char id[256];
    char job[128];
} haul_task_ref;
int haul_task_peek(const char *p, size_t n, haul_task_ref *ref);
/* The keys a task that may not decode says it holds, for the error rows of
 * a dead letter: `first` into *first (0 when absent) and each string of
 * `keys` handed to cb (index, bytes, length; not NUL-terminated, not
 * copied), as far as the bytes go. Unauthenticated, like haul_task_peek:
 * a task altered in Redis may name other keys than it was given. Returns how
 * many keys cb was given, or -1 when the bytes hold no readable `keys` array
 * (cb may have been called for some before the damage). No allocation. */
typedef void (*haul_task_key_cb)(void *ud, size_t idx, const char *key, size_t len);
long long haul_task_peek_keys(const char *p, size_t n, uint64_t *first,
                              haul_task_key_cb cb, void *ud);
/* The task's number within its job: id "<job>:<n>" -> n. -1 when the id is
 * not of that form for that job. */
long long haul_task_index(const char *id, const char *job);

#endif
