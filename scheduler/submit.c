/* submit.c -- turn a job (a listing, or a list of keys) into tasks in Redis,
 * a window at a time.
 *
 * Submission is a producer its caller drives. haul_submit_start() checks
 * everything (options, bucket name, credentials: the first page of the
 * listing, or a one-key listing) and makes the job -- its hash, its empty
 * results stream, both with their expiry -- without queueing anything. Each
 * haul_submit_step() then queues tasks while the job's queue holds fewer
 * than --max-queued of them (LLEN), reading just enough of the keys file or
 * of the bucket listing (a page at a time) to fill them, each task
 * --batch keys, up to 64 tasks per RPUSH. The step that reads the last key
 * publishes the totals and sets the state `queued`. `run` calls a step on
 * every turn of its collector's loop, so the job is queued, run and
 * collected at once; `submit` alone calls steps until every task is queued.
 * Redis holds a window of the job, not the job. Redis refusing writes for
 * lack of memory (maxmemory, noeviction) pauses the submission, it does not
 * fail it: the collector's trimming frees memory.
 *
 * Every write goes through one guard script that makes it only while the
 * job's state is still `submitting`, so a job cancelled (or expired)
 * meanwhile stops its submitter and is never brought back without expiry.
 *
 * Duplicate keys are coalesced (unless --no-coalesce): each distinct key gets
 * a "slot", numbered in order of first appearance, and only slots become
 * tasks; a later occurrence of a key becomes a row that repeats an earlier
 * slot's result, stored as runs "ROW SLOT N" (rows ROW..ROW+N-1 repeat slots
 * SLOT..SLOT+N-1) in haul:dup:<job>. The collector writes a row only once
 * the submitter has published it in the job hash (`rows`), with the runs
 * before it. A collector cannot keep every result it wrote in case a later
 * row repeats it, so the submitter promises, with each publication, to name
 * no slot below `dup_floor` in any later run: it sets dup_floor to the slots
 * it has described and forgets the keys it has seen (a key seen again after
 * that is a new slot, fetched again). So a repeat is coalesced when it falls
 * in the same publication (at least a second's reading, and the whole job
 * when it fits the window), and --repeat always is: with --repeat the floor
 * stays 0 until the end, and the collector holds the first pass, whose every
 * key will be repeated. Remembering the keys costs 16 bytes per distinct key
 * since the last publication (dedupe.h); --repeat replays the first pass's
 * row-to-slot runs, not the keys. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "dedupe.h"
#include "job.h"
#include "log.h"
#include "queue.h"
#include "scheduler.h"
#include "seal.h"
#include "sources.h"
#include "store.h"

#define GROUP_MAX 64          /* tasks per RPUSH */
#define DUP_BATCH 256         /* duplicate runs per RPUSH */
#define STEP_MS 50            /* a step's work before it gives the caller a turn */
#define PUBLISH_MS 1000       /* the job hash's progress, at least this often */
#define PUBLISH_MIN_MS 100    /* ... and, asked by a waiting collector, at most this often */
#define TTL_REFRESH_MS 30000  /* the job's keys' expiry, refreshed this often */
#define RECENT_MS 3000        /* writes kept to be written again should Redis lose
                                 them: with appendfsync everysec, a crash of its
                                 host loses up to ~2 s */

typedef struct run { long long row, slot, n; } run;

/* What was written in the last RECENT_MS before the latest write: a Redis
 * that restarts from its AOF after its host crashed may have lost the tail
 * of it, which is then written again (recover()). */
typedef struct recent_task { long long at; size_t off, len; } recent_task;
typedef struct recent_run { long long at; run r; } recent_run;

struct haul_submission {
    const sched_cfg *cfg;
    haul_redis *r;
    haul_op op;
    haul_task t;              /* the batch being filled */
    size_t cap;
    haul_buf jkey, qkey, dkey, skey;
    long long nkeys;          /* rows: one per key given */
    long long nslots;         /* distinct keys: what the tasks hold */
    long long ntasks;         /* tasks made */
    long long npushed;        /* tasks in Redis */
    long long ndups;          /* rows that repeat an earlier key */
    long long floor;          /* dup_floor last published */
    int coalesce;
    int hold_first_pass;      /* --repeat with coalescing: dup_floor stays 0 */
    uint64_t seed;
    haul_dedupe seen;
    run cur;                  /* the duplicate run being grown */
    run *pend; size_t npend, cappend; /* runs ended, not yet in Redis */
    long long nruns;          /* runs stored */
    run *seg; size_t nseg, capseg; /* the first pass's rows -> slots, for --repeat */
    char **kept; size_t nkept, capkept, kept_i; /* --repeat without coalescing */
    long long rep;            /* the pass being read: 0 the source, then repeats */
    int source_done;          /* every key of every pass has been read */
    /* the source */
    FILE *keys_f;
    char *line; size_t linecap;
    long long lineno;         /* of the keys file */
    haul_walk *walk;          /* put --from-dir */
    haul_manifest *man;       /* verify --manifest */
    haul_buf putkey;          /* put --from-dir: the key made from the path */
    /* put --collate: the small files of the zip being filled, and of the
     * zip source_next gave (its members, NUL-separated) */
    haul_buf zfill, zgive;
    size_t zfill_n, zgive_n;
    long long zfill_bytes, nzips;
    haul_buf zname;           /* the zip's name below --prefix */
    int walk_done;
    const char *src;          /* put: the file of the key source_next gave */
    long long esize;          /* verify --manifest: its expected size (-1) ... */
    const char *emd5;         /* ... and MD5 ("") */
    char **pre; size_t npre, pre_i; /* delete: the keys read ahead (to count them) */
    int single_given;         /* list, list-buckets: the one key was given */
    CURL *curl;
    haul_list_page page;      /* the listing's current page */
    size_t page_i;
    char *page_next;          /* the marker of the page after it; NULL: last */
    long long listed;
    haul_buf body;
    /* tasks encoded and not yet pushed */
    haul_buf group;
    size_t goff[GROUP_MAX + 1];
    int ngroup;
    haul_buf rbuf;            /* tasks pushed lately, their bytes ... */
    recent_task *rt; size_t nrt, capt, rt0; /* ... and where each is (from rt0) */
    recent_run *rr; size_t nrr, caprr, rr0; /* runs stored lately (from rr0) */
    long long reconnects;     /* the connection's count when last looked at */
    int finished;             /* state `queued` written */
    long long last_publish, last_ttl;
    int published;            /* since haul_submit_published() was asked */
    char waiting[HAUL_ERR_LEN]; /* why the last step could not write; "" when it could */
    unsigned char key[HAUL_SEAL_KEY_LEN];
    int have_key;
    char who[300];            /* host:pid */
    char desc[256];
};

/* ---- Redis writes, guarded by the job's state ------------------------- */

/* KEYS: the job hash, the key written. ARGV: the states the job may be in
 * ("a|b"), the command, an expiry for the key written (0: none), a field of
 * the job hash that counts the command's arguments ("" none: tasks queued,
 * runs stored -- counted in the same script, so a Redis restarted from its
 * AOF has both or neither), then the command's arguments after its key.
 * Answers "ok", or the state found instead ("" when the hash is gone). */
static const char guard_lua[] =
    "local st = redis.call('HGET', KEYS[1], 'state')\n"
    "if not st or not string.find('|' .. ARGV[1] .. '|', '|' .. st .. '|', 1, true) then\n"
    "  return st or ''\n"
    "end\n"
    "redis.call(ARGV[2], KEYS[2], unpack(ARGV, 5))\n"
    "if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end\n"
    "if ARGV[4] ~= '' then redis.call('HINCRBY', KEYS[1], ARGV[4], #ARGV - 4) end\n"
    "return 'ok'\n";

#define GUARD_ARGS 9  /* EVAL script 2 job key state cmd ttl counter */

/* Run cmd on key with n arguments, if the job is in one of `states`
 * ("submitting", or several joined by '|'). 0 done; -1 Redis refused or
 * failed (err; see haul_redis_oom); -2 the job's state changed under us (err
 * says how). */
static int guarded_in(haul_submission *s, const char *state, const char *cmd, const char *key,
                      long long ttl, const char *counter, int n, const char **argv, const size_t *argl,
                      char *err)
{
    const char *av[GUARD_ARGS + GROUP_MAX + DUP_BATCH + 40];
    size_t al[GUARD_ARGS + GROUP_MAX + DUP_BATCH + 40];
    char ttls[32];
    snprintf(ttls, sizeof ttls, "%lld", ttl);
    const char *head[GUARD_ARGS] = {"EVAL", guard_lua, "2", s->jkey.p, key, state, cmd, ttls, counter};
    for (int i = 0; i < GUARD_ARGS; i++) { av[i] = head[i]; al[i] = strlen(head[i]); }
    for (int i = 0; i < n; i++) { av[GUARD_ARGS + i] = argv[i]; al[GUARD_ARGS + i] = argl[i]; }
    redisReply *rep = haul_redis_callv(s->r, err, GUARD_ARGS + n, av, al);
    if (!rep) return -1;
    int rc = 0;
    if (rep->type != REDIS_REPLY_STRING || strcmp(rep->str, "ok") != 0) {
        const char *st = rep->type == REDIS_REPLY_STRING ? rep->str : "";
        if (!*st)
            snprintf(err, HAUL_ERR_LEN, "job %s vanished from Redis while it was being submitted "
                     "(its hash expired or was deleted)", s->t.job);
        else if (haul_job_state_parse(st) == HAUL_JOB_CANCELLED)
            snprintf(err, HAUL_ERR_LEN, "job %s was cancelled while it was being submitted", s->t.job);
        else
            snprintf(err, HAUL_ERR_LEN, "job %s is '%s' while it was being submitted (another "
                     "scheduler changed it)", s->t.job, st);
        rc = -2;
    }
    freeReplyObject(rep);
    return rc;
}

/* The same, while the job is being submitted. */
static int guarded(haul_submission *s, const char *cmd, const char *key, long long ttl,
                   const char *counter, int n, const char **argv, const size_t *argl, char *err)
{
    return guarded_in(s, haul_job_state_str(HAUL_JOB_SUBMITTING), cmd, key, ttl, counter, n, argv,
                      argl, err);
}

/* A refused write (out of memory) is a pause; anything else ends the step. */
static int refused(haul_submission *s, const char *err)
{
    if (!haul_redis_oom(err)) return 0;
    snprintf(s->waiting, sizeof s->waiting, "Redis is out of memory (maxmemory, noeviction): %s; "
             "queueing waits until results are trimmed or memory is freed", err);
    return 1;
}

/* ---- tasks and duplicate runs ------------------------------------------ */

/* Keep what was just written, and forget what was written more than
 * RECENT_MS before it. */
static void remember_tasks(haul_submission *s, const char **argv, const size_t *argl, int n)
{
    long long now = haul_mono_ms();
    while (s->rt0 < s->nrt && s->rt[s->rt0].at < now - RECENT_MS) s->rt0++;
    if (s->rt0 == s->nrt) {
        s->rt0 = s->nrt = 0;
        haul_buf_reset(&s->rbuf);
    } else if (s->rt0 > s->nrt / 2 && s->rt0 > 64) { /* compact: drop the forgotten front */
        size_t cut = s->rt[s->rt0].off;
        memmove(s->rbuf.p, s->rbuf.p + cut, s->rbuf.len - cut);
        s->rbuf.len -= cut;
        for (size_t i = s->rt0; i < s->nrt; i++) {
            s->rt[i - s->rt0] = s->rt[i];
            s->rt[i - s->rt0].off -= cut;
        }
        s->nrt -= s->rt0;
        s->rt0 = 0;
    }
    for (int i = 0; i < n; i++) {
        if (s->nrt == s->capt) {
            s->capt = s->capt ? s->capt * 2 : 256;
            s->rt = haul_realloc(s->rt, s->capt * sizeof *s->rt);
        }
        s->rt[s->nrt++] = (recent_task){now, s->rbuf.len, argl[i]};
        haul_buf_add(&s->rbuf, argv[i], argl[i]);
    }
}

static void remember_run(haul_submission *s, const run *r)
{
    long long now = haul_mono_ms();
    while (s->rr0 < s->nrr && s->rr[s->rr0].at < now - RECENT_MS) s->rr0++;
    if (s->rr0 == s->nrr) {
        s->rr0 = s->nrr = 0;
    } else if (s->rr0 > s->nrr / 2 && s->rr0 > 64) {
        memmove(s->rr, s->rr + s->rr0, (s->nrr - s->rr0) * sizeof *s->rr);
        s->nrr -= s->rr0;
        s->rr0 = 0;
    }
    if (s->nrr == s->caprr) {
        s->caprr = s->caprr ? s->caprr * 2 : 256;
        s->rr = haul_realloc(s->rr, s->caprr * sizeof *s->rr);
    }
    s->rr[s->nrr++] = (recent_run){now, *r};
}

/* Push the encoded tasks: 0 pushed (or none), 1 Redis is out of memory
 * (kept for the next step), -1/-2 as guarded(). */
static int push_group(haul_submission *s, char *err)
{
    const char *argv[GROUP_MAX];
    size_t argl[GROUP_MAX];
    if (!s->ngroup) return 0;
    for (int i = 0; i < s->ngroup; i++) {
        argv[i] = s->group.p + s->goff[i];
        argl[i] = s->goff[i + 1] - s->goff[i];
    }
    int rc = guarded(s, "RPUSH", s->qkey.p, 0, "tasks", s->ngroup, argv, argl, err);
    if (rc == -1 && refused(s, err)) return 1;
    if (rc < 0) return rc;
    remember_tasks(s, argv, argl, s->ngroup);
    s->npushed += s->ngroup;
    s->ngroup = 0;
    haul_buf_reset(&s->group);
    return 0;
}

/* Encode the batch as the next task, into the group. */
static int seal_task(haul_submission *s, char *err)
{
    haul_buf id = HAUL_BUF_INIT;
    haul_buf_printf(&id, "%s:%lld", s->t.job, s->ntasks);
    free(s->t.id);
    s->t.id = haul_buf_detach(&id);
    s->t.created_ms = (uint64_t)haul_now_ms();
    s->t.expires_ms = s->t.created_ms + (uint64_t)s->cfg->task_ttl * 1000;
    s->goff[s->ngroup] = s->group.len;
    if (haul_task_encode_key(&s->t, s->have_key ? s->key : NULL, &s->group, err) < 0) return -1;
    s->goff[++s->ngroup] = s->group.len;
    s->ntasks++;
    s->t.first += s->t.nkeys;
    for (size_t i = 0; i < s->t.nkeys; i++) free(s->t.keys[i]);
    s->t.nkeys = 0;
    for (size_t i = 0; i < s->t.nsrcs; i++) free(s->t.srcs[i]);
    s->t.nsrcs = 0;
    for (size_t i = 0; i < s->t.nmembers; i++) free(s->t.members[i]);
    s->t.nmembers = 0;
    s->t.ncounts = 0;
    for (size_t i = 0; i < s->t.nexpect; i++) free(s->t.md5s[i]);
    s->t.nexpect = 0;
    return 0;
}

/* Store the runs ended so far, DUP_BATCH per RPUSH: 0, 1 Redis is out of
 * memory (what was not stored is kept), -1/-2 as guarded(). */
static int flush_dups(haul_submission *s, char *err)
{
    char mem[DUP_BATCH][64];
    const char *argv[DUP_BATCH];
    size_t argl[DUP_BATCH], done = 0;
    while (done < s->npend) {
        int n = 0;
        for (; n < DUP_BATCH && done + (size_t)n < s->npend; n++) {
            const run *r = &s->pend[done + (size_t)n];
            snprintf(mem[n], sizeof mem[n], "%lld %lld %lld", r->row, r->slot, r->n);
            argv[n] = mem[n];
            argl[n] = strlen(mem[n]);
        }
        int rc = guarded(s, "RPUSH", s->dkey.p, s->cfg->job_ttl, "runs", n, argv, argl, err);
        if (rc == -1 && refused(s, err)) rc = 1;
        if (rc) {
            memmove(s->pend, s->pend + done, (s->npend - done) * sizeof *s->pend);
            s->npend -= done;
            return rc;
        }
        for (int i = 0; i < n; i++) remember_run(s, &s->pend[done + (size_t)i]);
        s->nruns += n;
        done += (size_t)n;
    }
    s->npend = 0;
    return 0;
}

/* End the current run: it is stored with the next publication. */
static void end_run(haul_submission *s)
{
    if (!s->cur.n) return;
    if (s->npend == s->cappend) {
        s->cappend = s->cappend ? s->cappend * 2 : 64;
        s->pend = haul_realloc(s->pend, s->cappend * sizeof *s->pend);
    }
    s->pend[s->npend++] = s->cur;
    s->cur.n = 0;
}

/* Grow R by N rows when ROW and SLOT carry on where it ends. */
static int run_extend(run *r, long long row, long long slot, long long n)
{
    if (!r->n || row != r->row + r->n || slot != r->slot + r->n) return 0;
    r->n += n;
    return 1;
}

/* Rows ROW..ROW+N-1 repeat slots SLOT..SLOT+N-1. */
static void add_dups(haul_submission *s, long long row, long long slot, long long n)
{
    s->ndups += n;
    if (run_extend(&s->cur, row, slot, n)) return;
    end_run(s);
    s->cur = (run){row, slot, n};
}

/* Remember that ROW is SLOT, when the first pass will be replayed. */
static void add_seg(haul_submission *s, long long row, long long slot)
{
    if (s->rep > 0 || !s->hold_first_pass) return;
    if (s->nseg && run_extend(&s->seg[s->nseg - 1], row, slot, 1)) return;
    if (s->nseg == s->capseg) {
        s->capseg = s->capseg ? s->capseg * 2 : 16;
        s->seg = haul_realloc(s->seg, s->capseg * sizeof *s->seg);
    }
    s->seg[s->nseg++] = (run){row, slot, 1};
}

/* One key of the job: a new slot in the batch, or a repeat. */
static int add_key(haul_submission *s, const char *key, size_t len, char *err)
{
    if (len > HAUL_KEY_MAX) {
        snprintf(err, HAUL_ERR_LEN, "key %lld is %zu bytes long; the limit is %d", s->nkeys + 1, len, HAUL_KEY_MAX);
        return -1;
    }
    if (memchr(key, '\0', len)) {
        snprintf(err, HAUL_ERR_LEN, "key %lld holds a NUL byte", s->nkeys + 1);
        return -1;
    }
    if (s->coalesce) {
        uint32_t earlier;
        if (s->nslots >= UINT32_MAX) {
            snprintf(err, HAUL_ERR_LEN, "more than %u distinct keys in one job (--no-coalesce lifts the limit)", UINT32_MAX);
            return -1;
        }
        if (haul_dedupe_add(&s->seen, key, len, (uint32_t)s->nslots, &earlier)) {
            add_seg(s, s->nkeys, earlier);
            s->nkeys++;
            add_dups(s, s->nkeys - 1, earlier, 1);
            return 0;
        }
    }
    add_seg(s, s->nkeys, s->nslots);
    s->nslots++;
    if (s->t.nkeys == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->t.keys = haul_realloc(s->t.keys, s->cap * sizeof *s->t.keys);
        if (s->op == HAUL_OP_PUT) s->t.srcs = haul_realloc(s->t.srcs, s->cap * sizeof *s->t.srcs);
        if (s->cfg->collate > 0)
            s->t.member_counts = haul_realloc(s->t.member_counts, s->cap * sizeof *s->t.member_counts);
        if (s->man) {
            s->t.sizes = haul_realloc(s->t.sizes, s->cap * sizeof *s->t.sizes);
            s->t.md5s = haul_realloc(s->t.md5s, s->cap * sizeof *s->t.md5s);
        }
    }
    /* A put's file and a verify's expectations go with the key, one per key. */
    if (s->op == HAUL_OP_PUT) {
        if (strlen(s->src) > HAUL_STR_MAX) {
            snprintf(err, HAUL_ERR_LEN, "key %lld: its file's path is %zu bytes long; the limit is %d",
                     s->nkeys + 1, strlen(s->src), HAUL_STR_MAX);
            return -1;
        }
        s->t.srcs[s->t.nsrcs++] = haul_strdup(s->src);
        if (s->cfg->collate > 0) { /* 0 files: the key is the file srcs[i] */
            s->t.member_counts[s->t.ncounts++] = (uint32_t)s->zgive_n;
            s->t.members = haul_realloc(s->t.members, (s->t.nmembers + s->zgive_n) * sizeof *s->t.members);
            for (const char *m = s->zgive.p; s->zgive_n; s->zgive_n--, m += strlen(m) + 1)
                s->t.members[s->t.nmembers++] = haul_strdup(m);
            haul_buf_reset(&s->zgive);
        }
    }
    if (s->man) {
        s->t.sizes[s->t.nexpect] = s->esize;
        s->t.md5s[s->t.nexpect++] = haul_strdup(s->emd5);
    }
    s->t.keys[s->t.nkeys++] = haul_strndup(key, len);
    s->nkeys++;
    if (s->cfg->repeat > 1 && s->rep == 0 && !s->coalesce) {
        if (s->nkept == s->capkept) {
            s->capkept = s->capkept ? s->capkept * 2 : 256;
            s->kept = haul_realloc(s->kept, s->capkept * sizeof *s->kept);
        }
        s->kept[s->nkept++] = haul_strndup(key, len);
    }
    return 0;
}

/* ---- the source: a keys file, a listing page by page, or one prefix ---- */

static int list_cb_noop(void *ud, const haul_list_entry *e)
{
    (void)ud; (void)e;
    return 0;
}

/* Fetch the next page of the bucket listing into s->page (blocking). */
static int list_page(haul_submission *s, const char *marker, char *err)
{
    const haul_conn *c = &s->t.conn;
    int reauthed = 0;
    long long psize = HAUL_LIST_PAGE;
    if (s->cfg->limit > 0 && s->cfg->limit - s->listed < psize) psize = s->cfg->limit - s->listed;
    if (!s->curl && !(s->curl = curl_easy_init())) { fprintf(stderr, "haul: out of memory\n"); abort(); }
    haul_list_page_free(&s->page);
    s->page_i = 0;
    for (;;) {
        const char *token = NULL, *surl = NULL;
        long http = 0;
        haul_req req;
        if (c->kind == HAUL_STORE_SWIFT && haul_swift_session(c, 0, &token, &surl, &http, err) < 0) return -1;
        long long sent = haul_mono_ms();
        if (haul_store_list_request(c, token, surl, s->t.bucket, s->cfg->prefix, marker, psize, &req, err) < 0)
            return -1;
        int prc = haul_store_perform(s->curl, c, &req, &s->body, &http, err);
        haul_req_free(&req);
        if (prc < 0) return -1;
        if (http == 401 && c->kind == HAUL_STORE_SWIFT && !reauthed && !c->swift.token) {
            reauthed = 1; /* the cached token expired: authenticate once more */
            if (haul_swift_session(c, sent + 1, &token, &surl, &http, err) < 0) return -1;
            continue;
        }
        if (http == 204 && c->kind == HAUL_STORE_SWIFT) { /* empty container */
            free(s->page_next);
            s->page_next = NULL;
            return 0;
        }
        if (http < 200 || http > 299) {
            char what[HAUL_STR_MAX + 16];
            snprintf(what, sizeof what, "list %s", s->t.bucket);
            haul_store_error(c, what, http, s->body.p, s->body.len, err);
            return -1;
        }
        if (haul_store_list_parse(c, s->t.bucket, haul_buf_str(&s->body), s->body.len, psize, &s->page, err) < 0)
            return -1;
        free(s->page_next);
        s->page_next = s->page.truncated && s->page.next && s->page.n ? haul_strdup(s->page.next) : NULL;
        return 0;
    }
}

/* The next key of the first pass: 1, or 0 at its end, or -1 (err). */
static int source_next(haul_submission *s, const char **k, size_t *n, char *err)
{
    if (s->op == HAUL_OP_LIST_BUCKETS || (s->op == HAUL_OP_LIST && !s->keys_f)) {
        if (s->single_given) return 0;
        s->single_given = 1;
        *k = s->op == HAUL_OP_LIST && s->cfg->prefix ? s->cfg->prefix : "";
        *n = strlen(*k);
        return 1;
    }
    if (s->pre_i < s->npre) { /* delete: the keys read ahead */
        *k = s->pre[s->pre_i++];
        *n = strlen(*k);
        return 1;
    }
    if (s->walk) { /* put --from-dir */
        const char *rel;
        long long size;
        int rc;
        for (;;) {
            rc = s->walk_done ? 0 : haul_walk_next_size(s->walk, &rel, &size, err);
            if (rc < 0) return -1;
            if (rc == 0) {
                s->walk_done = 1;
                if (!s->zfill_n) return 0;
                break;                  /* the last zip */
            }
            if (s->cfg->collate <= 0 || size < 0 || size >= s->cfg->collate_below) break;
            /* A small file: into the zip being filled, given once full. */
            haul_buf_adds(&s->zfill, rel);
            haul_buf_addc(&s->zfill, '\0');
            s->zfill_n++;
            s->zfill_bytes += size;
            if (s->zfill_bytes >= s->cfg->collate || s->zfill_n >= HAUL_ZIP_MAX_MEMBERS) break;
        }
        if (rc == 0 || (s->cfg->collate > 0 && size >= 0 && size < s->cfg->collate_below)) {
            /* Give the zip: named collated_<n>.zip below --prefix, as the
             * users' backups name theirs. */
            haul_buf t = s->zgive;
            s->zgive = s->zfill;
            s->zfill = t;
            haul_buf_reset(&s->zfill);
            s->zgive_n = s->zfill_n;
            s->zfill_n = 0;
            s->zfill_bytes = 0;
            haul_buf_reset(&s->zname);
            haul_buf_printf(&s->zname, "collated_%lld.zip", s->nzips++);
            rel = s->zname.p;
        }
        if (haul_put_key(s->cfg->prefix, rel, &s->putkey, err) < 0) {
            char e2[HAUL_ERR_LEN];
            snprintf(e2, sizeof e2, "--from-dir %s: %s", s->cfg->from_dir, err);
            snprintf(err, HAUL_ERR_LEN, "%s", e2);
            return -1;
        }
        s->src = rel;
        *k = s->putkey.p;
        *n = s->putkey.len;
        return 1;
    }
    if (s->man) { /* verify --manifest */
        const char *md5;
        int rc = haul_manifest_next(s->man, k, n, &s->esize, &md5, err);
        s->emd5 = md5;
        return rc;
    }
    if (s->keys_f) { /* keys, or for --op list the prefixes; put: PATH<TAB>KEY */
        ssize_t got;
        while ((got = getline(&s->line, &s->linecap, s->keys_f)) >= 0) {
            s->lineno++;
            while (got > 0 && (s->line[got - 1] == '\n' || s->line[got - 1] == '\r')) s->line[--got] = '\0';
            if (got == 0) continue;
            if (s->op == HAUL_OP_PUT) {
                if (haul_pair_parse(s->line, s->cfg->keys, s->lineno, &s->src, k, err) < 0) return -1;
                *n = strlen(*k);
                return 1;
            }
            *k = s->line;
            *n = (size_t)got;
            return 1;
        }
        if (ferror(s->keys_f)) {
            snprintf(err, HAUL_ERR_LEN, "--keys: reading %s failed: %s", s->cfg->keys, strerror(errno));
            return -1;
        }
        return 0;
    }
    for (;;) {
        if (s->cfg->limit > 0 && s->listed >= s->cfg->limit) return 0;
        if (s->page_i < s->page.n) {
            const haul_list_entry *e = &s->page.v[s->page_i++];
            s->listed++;
            *k = e->name;
            *n = strlen(e->name);
            return 1;
        }
        if (!s->page_next) return 0;
        char *marker = s->page_next;
        s->page_next = NULL;
        int rc = list_page(s, marker, err);
        free(marker);
        if (rc < 0) return -1;
    }
}

/* The next key of the job, across --repeat passes: 1, 0 when every pass is
 * read, -1 (err). With coalescing the repeats are replayed as runs here, at
 * the end of the first pass. */
static int next_key(haul_submission *s, const char **k, size_t *n, char *err)
{
    long long repeat = s->cfg->repeat > 0 ? s->cfg->repeat : 1;
    for (;;) {
        if (s->rep == 0) {
            int rc = source_next(s, k, n, err);
            if (rc != 0) return rc;
            if (repeat <= 1) return 0;
            s->rep = 1;
            if (s->coalesce) {
                long long rows0 = s->nkeys;
                for (long long rep = 1; rep < repeat; rep++) {
                    for (size_t i = 0; i < s->nseg; i++)
                        add_dups(s, rep * rows0 + s->seg[i].row, s->seg[i].slot, s->seg[i].n);
                    s->nkeys += rows0;
                }
                s->rep = repeat;
                return 0;
            }
            s->kept_i = 0;
            continue;
        }
        if (s->rep >= repeat) return 0;
        if (s->kept_i < s->nkept) {
            *k = s->kept[s->kept_i++];
            *n = strlen(*k);
            return 1;
        }
        s->rep++;
        s->kept_i = 0;
    }
}

/* Read keys until a task is ready (1), the job's keys are all read (0), the
 * step's time is up (2), or an error (-1). */
static int fill(haul_submission *s, long long deadline, char *err)
{
    long long reads = 0;
    /* A task holds at most HAUL_TASK_MAX_KEYS zip members in all (and so
     * stays far below its byte limit): the next zip could add a full one. */
    while ((long long)s->t.nkeys < s->cfg->batch &&
           s->t.nmembers + HAUL_ZIP_MAX_MEMBERS <= HAUL_TASK_MAX_KEYS) {
        const char *k;
        size_t n;
        if (++reads % 4096 == 0 && haul_mono_ms() > deadline) return 2;
        int rc = next_key(s, &k, &n, err);
        if (rc <= 0) return rc;
        if (add_key(s, k, n, err) < 0) return -1;
    }
    return 1;
}

/* ---- publishing progress ----------------------------------------------- */

/* Store the runs, then say in the job hash how far the job is described (and,
 * when final, that it is queued): the collector reads the hash first and the
 * runs after, so it always has the runs of the rows the hash describes.
 * 0, 1 Redis is out of memory (try again later), -1/-2 as guarded(). */
static int publish(haul_submission *s, int final, char *err)
{
    char v[8][32];
    const char *argv[16];
    size_t argl[16];
    int n = 0, rc;
    end_run(s);
    if ((rc = flush_dups(s, err)) != 0) return rc;
    long long floor = s->hold_first_pass && !final ? 0 : s->nslots;
    long long vals[5] = {s->nkeys, s->nslots, s->nkeys, floor, haul_now_ms()};
    const char *names[5] = {"keys", "distinct", "rows", "dup_floor", "submitter_seen"};
    for (int i = 0; i < 5; i++) {
        snprintf(v[i], sizeof v[i], "%lld", vals[i]);
        argv[n] = names[i]; argl[n++] = strlen(names[i]);
        argv[n] = v[i]; argl[n++] = strlen(v[i]);
    }
    if (final) {
        const char *q = haul_job_state_str(HAUL_JOB_QUEUED);
        argv[n] = "state"; argl[n++] = 5;
        argv[n] = q; argl[n++] = strlen(q);
    }
    /* The key of the hash is both guard and target. */
    rc = guarded(s, "HSET", s->jkey.p, 0, "", n, argv, argl, err);
    if (rc == -1 && refused(s, err)) return 1;
    if (rc < 0) return rc;
    if (floor > s->floor && s->coalesce) {
        /* No later run may name a slot below the floor: forget those keys. */
        haul_dedupe_free(&s->seen);
        haul_dedupe_init(&s->seen, s->seed);
    }
    s->floor = floor;
    s->last_publish = haul_mono_ms();
    s->published = 1;
    return 0;
}

/* The job will not complete: say so in its hash (only while it is still
 * being submitted), have workers drop the tasks already queued, and give its
 * keys the retention. Returns HAUL_SUBMIT_FAILED. */
static int fail_job(haul_submission *s, int rc, char *err)
{
    char e2[HAUL_ERR_LEN];
    if (rc == -2 || !s->r->c) return HAUL_SUBMIT_FAILED; /* changed by someone else, or Redis gone */
    const char *failed = haul_job_state_str(HAUL_JOB_FAILED);
    const char *argv[4] = {"state", failed, "error", err};
    size_t argl[4] = {5, strlen(failed), 5, strlen(err)};
    if (guarded(s, "HSET", s->jkey.p, 0, "", 4, argv, argl, e2) == 0) {
        redisReply *rep = haul_redis_call(s->r, e2, "SADD " HAUL_KEY_CANCELLED " %s", s->t.job);
        if (rep) freeReplyObject(rep);
        if (haul_job_retire(s->r, s->t.job, s->cfg->retention, e2) < 0)
            log_warn("job %s: setting its expiry: %s", s->t.job, e2);
    }
    return HAUL_SUBMIT_FAILED;
}

/* ---- the producer's life ----------------------------------------------- */

int haul_conn_from_cfg(const sched_cfg *c, haul_conn *conn, char *err)
{
    const char *store = c->s3 ? "s3" : c->swift ? "swift" : c->store;
    haul_conn_init(conn);
    if (!store) {
        snprintf(err, HAUL_ERR_LEN, "choose the store: --s3 ENDPOINT or --swift (or HAUL_STORE=s3|swift)");
        return -1;
    }
    conn->tls_verify = c->tls_verify;
    conn->ca_file = haul_strdup(c->ca_file);
    if (!strcmp(store, "s3")) {
        conn->kind = HAUL_STORE_S3;
        conn->s3.endpoint = haul_strdup(c->s3 ? c->s3 : c->endpoint);
        if (conn->s3.endpoint) {
            size_t n = strlen(conn->s3.endpoint);
            while (n && conn->s3.endpoint[n - 1] == '/') conn->s3.endpoint[--n] = '\0';
        }
        conn->s3.region = haul_strdup(c->region);
        conn->s3.access_key = haul_strdup(c->access_key);
        conn->s3.secret_key = haul_strdup(c->secret_key);
        conn->s3.session_token = haul_strdup(c->session_token);
        conn->s3.path_style = !c->virtual_host;
    } else if (!strcmp(store, "swift")) {
        conn->kind = HAUL_STORE_SWIFT;
        if (c->token) {
            conn->swift.token = haul_strdup(c->token);
            conn->swift.storage_url = haul_strdup(c->storage_url);
        } else {
            conn->swift.auth_url = haul_strdup(c->auth_url);
            conn->swift.user = haul_strdup(c->user);
            conn->swift.key = haul_strdup(c->key);
        }
    } else {
        snprintf(err, HAUL_ERR_LEN, "--store: '%s' is not s3 or swift", store);
        return -1;
    }
    return haul_conn_check(conn, err);
}

static char *new_job_id(void)
{
    unsigned char rnd[4] = {0};
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd >= 0) {
        if (read(fd, rnd, sizeof rnd) != (ssize_t)sizeof rnd) memset(rnd, 0, sizeof rnd);
        close(fd);
    }
    long long now = haul_now_ms();
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    char ts[32];
    gmtime_r(&secs, &tm);
    strftime(ts, sizeof ts, "%Y%m%d-%H%M%S", &tm);
    haul_buf b = HAUL_BUF_INIT;
    haul_buf_printf(&b, "%s-%02x%02x%02x%02x", ts, rnd[0], rnd[1], rnd[2], rnd[3]);
    return haul_buf_detach(&b);
}

static int split_suffixes(const char *list, haul_task *t, char *err)
{
    const char *p = list ? list : ".zip";
    while (*p) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n) {
            if (t->nsuffixes == HAUL_SUFFIX_MAX) {
                snprintf(err, HAUL_ERR_LEN, "--suffixes: more than %d suffixes", HAUL_SUFFIX_MAX);
                return -1;
            }
            t->suffixes = haul_realloc(t->suffixes, (t->nsuffixes + 1) * sizeof *t->suffixes);
            t->suffixes[t->nsuffixes++] = haul_strndup(p, n);
        }
        p += n + (c ? 1 : 0);
    }
    return 0;
}

/* KEYS: the job hash, its results stream, haul:jobs, haul:queues. ARGV: the
 * expiry, the job id, its creation time, its queue, then the hash's fields.
 * The stream is made empty (an entry added and trimmed away): workers add
 * results with NOMKSTREAM, so once it expires or is deleted nothing brings
 * it back without an expiry. */
static const char create_lua[] =
    "redis.call('HSET', KEYS[1], unpack(ARGV, 5))\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "redis.call('XADD', KEYS[2], 'MAXLEN', '0', '*', 'type', 'job')\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[1])\n"
    "redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])\n"
    "redis.call('SADD', KEYS[4], ARGV[4])\n"
    "return 0\n";

static int create_job(haul_submission *s, char *err)
{
    const sched_cfg *c = s->cfg;
    char num[8][32];
    long long now = haul_now_ms();
    const char *state = haul_job_state_str(HAUL_JOB_SUBMITTING);
    snprintf(num[0], sizeof num[0], "%lld", c->job_ttl);
    snprintf(num[1], sizeof num[1], "%lld", now);
    snprintf(num[2], sizeof num[2], "%lld", c->batch);
    snprintf(num[3], sizeof num[3], "%lld", c->max_inline);
    snprintf(num[4], sizeof num[4], "%lld", c->max_queued);
    const char *v[] = {
        "EVAL", create_lua, "4", s->jkey.p, s->skey.p, HAUL_KEY_JOBS, HAUL_KEY_QUEUES,
        num[0], s->t.job, num[1], c->queue,
        "op", c->op, "store", haul_store_kind_str(s->t.conn.kind), "endpoint", s->desc,
        "bucket", s->t.bucket ? s->t.bucket : "", "queue", c->queue, "batch", num[2],
        "max_inline", num[3], "max_queued", num[4], "coalesce", s->coalesce ? "1" : "0",
        "state", state, "created", num[1], "submitter", s->who, "submitter_seen", num[1],
        "job_ttl", num[0], "keys", "0", "distinct", "0", "tasks", "0", "runs", "0", "rows", "0",
        "dup_floor", "0",
    };
    size_t n = sizeof v / sizeof v[0], l[sizeof v / sizeof v[0]];
    for (size_t i = 0; i < n; i++) l[i] = strlen(v[i]);
    redisReply *rep = haul_redis_callv(s->r, err, (int)n, v, l);
    if (!rep) return -1;
    freeReplyObject(rep);
    return 0;
}

int haul_submit_check_opts(const sched_cfg *c, haul_op op, char *err)
{
    const char *name = haul_op_str(op);
    /* Options that belong to one op (or two). */
    static const struct { const char *opt; unsigned ops; } own[] = {
        {"--from-dir", 1u << HAUL_OP_PUT}, {"--meta", 1u << HAUL_OP_PUT},
        {"--segment-size", 1u << HAUL_OP_PUT}, {"--skip-existing", 1u << HAUL_OP_PUT},
        {"--dry-run", 1u << HAUL_OP_PUT | 1u << HAUL_OP_DELETE}, {"--yes", 1u << HAUL_OP_DELETE},
        {"--manifest", 1u << HAUL_OP_VERIFY}, {"--deep", 1u << HAUL_OP_VERIFY},
        {"--collate", 1u << HAUL_OP_PUT},
    };
    int given[] = {c->from_dir != NULL, c->meta != NULL, c->segment_size > 0, c->skip_existing,
                   c->dry_run, c->yes, c->manifest != NULL, c->deep, c->collate > 0};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        if (!given[i] || (own[i].ops & (1u << op))) continue;
        snprintf(err, HAUL_ERR_LEN, "%s is for --op %s%s, not --op %s", own[i].opt,
                 own[i].ops & (1u << HAUL_OP_PUT) ? "put" : own[i].ops & (1u << HAUL_OP_DELETE) ? "delete" : "verify",
                 own[i].ops == (1u << HAUL_OP_PUT | 1u << HAUL_OP_DELETE) ? " and --op delete" : "", name);
        return -1;
    }
    if (c->ignore_checksum && op != HAUL_OP_GET && op != HAUL_OP_SIDECAR) {
        snprintf(err, HAUL_ERR_LEN, "--ignore-checksum is for --op get and --op sidecar, not --op %s", name);
        return -1;
    }
    if (op < HAUL_OP_PUT) return 0;
    if (c->repeat > 1) {
        snprintf(err, HAUL_ERR_LEN, "--repeat is for the read ops; --op %s does each key once", name);
        return -1;
    }
    if (op == HAUL_OP_PUT) {
        if (!c->from_dir == !c->keys) {
            snprintf(err, HAUL_ERR_LEN, c->from_dir ? "--op put takes --from-dir or --keys, not both"
                     : "--op put needs --from-dir DIR (every file under it) or --keys FILE (lines PATH<TAB>KEY)");
            return -1;
        }
        if (c->keys && c->prefix) {
            snprintf(err, HAUL_ERR_LEN, "--prefix with --op put goes before the keys of --from-dir; a "
                     "--keys file names each key in full");
            return -1;
        }
        if (c->from_dir && !*c->from_dir) {
            snprintf(err, HAUL_ERR_LEN, "--from-dir: an empty path");
            return -1;
        }
        if (c->collate > 0 && !c->from_dir) {
            snprintf(err, HAUL_ERR_LEN, "--collate packs the small files of --from-dir; a --keys file "
                     "names each object");
            return -1;
        }
    } else if (op == HAUL_OP_DELETE) {
        if (!c->keys) {
            snprintf(err, HAUL_ERR_LEN, "--op delete needs --keys FILE: haul deletes the keys it is "
                     "given, never a listing");
            return -1;
        }
    } else if (!c->manifest == !c->keys) {
        snprintf(err, HAUL_ERR_LEN, c->manifest ? "--op verify takes --manifest or --keys, not both"
                 : "--op verify needs --manifest FILE (a CSV naming key, size, md5; a put's --out is "
                   "one) or --keys FILE (then it checks only that each key exists)");
        return -1;
    }
    return 0;
}

int haul_submit_meta(const char *lines, char ***meta, size_t *n, char *err)
{
    const char *p = lines;
    size_t first = *n;
    while (p && *p) {
        const char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq) {
            snprintf(err, HAUL_ERR_LEN, "--meta '%.*s': not NAME=VALUE", (int)(end - p > 200 ? 200 : end - p), p);
            return -1;
        }
        *meta = haul_realloc(*meta, (*n + 2) * sizeof **meta);
        (*meta)[(*n)++] = haul_strndup(p, (size_t)(eq - p));
        (*meta)[(*n)++] = haul_strndup(eq + 1, (size_t)(end - eq - 1));
        p = nl ? nl + 1 : end;
    }
    char e2[HAUL_ERR_LEN];
    if (haul_task_check_meta((const char *const *)*meta + first, *n - first, e2) < 0) {
        snprintf(err, HAUL_ERR_LEN, "--meta: %s", e2);
        return -1;
    }
    return 0;
}

/* delete: read up to HAUL_DELETE_UNASKED + 1 keys before anything is queued,
 * so a job of more keys than that without --yes is refused whole. */
static int read_ahead(haul_submission *s, char *err)
{
    size_t cap = 0;
    const char *k;
    size_t n;
    int rc;
    while (s->npre <= HAUL_DELETE_UNASKED && (rc = source_next(s, &k, &n, err)) != 0) {
        if (rc < 0) return -1;
        if (s->npre == cap) {
            cap = cap ? cap * 2 : 64;
            s->pre = haul_realloc(s->pre, cap * sizeof *s->pre);
        }
        s->pre[s->npre] = haul_strndup(k, n);
        s->pre_i = ++s->npre; /* source_next reads the file, not these, meanwhile */
    }
    s->pre_i = 0;
    if (s->npre > HAUL_DELETE_UNASKED && !s->cfg->yes && !s->cfg->dry_run) {
        snprintf(err, HAUL_ERR_LEN, "--op delete: more than %d keys in --keys %s; add --yes to delete "
                 "them (or --dry-run to see what would go); nothing was queued", HAUL_DELETE_UNASKED,
                 s->cfg->keys);
        return -1;
    }
    return 0;
}

haul_submission *haul_submit_start(const sched_cfg *cfg, haul_redis *r, char *err)
{
    haul_submission *s = haul_calloc(1, sizeof *s);
    const char *bucket = cfg->bucket;
    char host[256];

    s->cfg = cfg;
    s->r = r;
    s->seed = (uint64_t)haul_now_ms() ^ ((uint64_t)getpid() << 32);
    haul_dedupe_init(&s->seen, s->seed);
    haul_task_init(&s->t);
    s->page = (haul_list_page)HAUL_LIST_PAGE_INIT;
    if (gethostname(host, sizeof host) < 0) snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    snprintf(s->who, sizeof s->who, "%s:%d", host, (int)getpid());
    if (haul_op_parse(cfg->op, &s->op) < 0) {
        snprintf(err, HAUL_ERR_LEN, "--op: '%s' is not one of list-buckets, list, head, get, sidecar, put, "
                 "delete, verify", cfg->op);
        goto fail;
    }
    if (haul_submit_check_opts(cfg, s->op, err) < 0) goto fail;
    if (s->op == HAUL_OP_PUT) {
        if (haul_submit_meta(cfg->meta, &s->t.meta, &s->t.nmeta, err) < 0) goto fail;
        s->t.segment_size = (uint64_t)cfg->segment_size;
        s->t.src_dir = haul_strdup(cfg->from_dir); /* exactly as given: the workers read it */
    }
    s->t.flags = (cfg->skip_existing ? HAUL_TASK_SKIP_EXISTING : 0) | (cfg->dry_run ? HAUL_TASK_DRY_RUN : 0) |
                 (cfg->deep ? HAUL_TASK_DEEP : 0) | (cfg->ignore_checksum ? HAUL_TASK_NO_CHECKSUM : 0);
    if (haul_conn_from_cfg(cfg, &s->t.conn, err) < 0) goto fail;
    if (s->op != HAUL_OP_LIST_BUCKETS) {
        char e2[HAUL_ERR_LEN];
        if (!bucket) {
            snprintf(err, HAUL_ERR_LEN, "--bucket (or --container) is required for --op %s", cfg->op);
            goto fail;
        }
        /* A name that would change the request's path or host never reaches
         * a task (nor the store, in the check below). */
        if (haul_bucket_check(bucket, s->t.conn.kind == HAUL_STORE_S3 && cfg->virtual_host, e2) < 0) {
            snprintf(err, HAUL_ERR_LEN, "--bucket: %s", e2);
            goto fail;
        }
    }
    if (s->op == HAUL_OP_GET && cfg->out_dir && cfg->out_dir[0] != '/')
        log_warn("--out-dir %s is relative: workers resolve it against their --out-root (by default "
                 "the directory each was started in)", cfg->out_dir);
    haul_conn_describe(&s->t.conn, s->desc, sizeof s->desc);
    s->t.op = s->op;
    s->t.bucket = haul_strdup(s->op == HAUL_OP_LIST_BUCKETS ? NULL : bucket);
    if (cfg->keys) {
        s->keys_f = strcmp(cfg->keys, "-") ? fopen(cfg->keys, "r") : stdin;
        if (!s->keys_f) {
            snprintf(err, HAUL_ERR_LEN, "--keys: cannot open %s: %s", cfg->keys, strerror(errno));
            goto fail;
        }
    }
    if (cfg->manifest) {
        s->keys_f = strcmp(cfg->manifest, "-") ? fopen(cfg->manifest, "r") : stdin;
        if (!s->keys_f) {
            snprintf(err, HAUL_ERR_LEN, "--manifest: cannot open %s: %s", cfg->manifest, strerror(errno));
            goto fail;
        }
        if (!(s->man = haul_manifest_new(s->keys_f, cfg->manifest, err))) goto fail;
    }
    if (cfg->from_dir && s->op == HAUL_OP_PUT && !(s->walk = haul_walk_new(cfg->from_dir, err))) goto fail;
    if (s->op == HAUL_OP_DELETE && read_ahead(s, err) < 0) goto fail;

    /* Check the credentials and the bucket before queueing anything: a wrong
     * secret is one clear message here, not thousands of error rows. A
     * bucket listing checks them with its first page. */
    if (!cfg->keys && s->op != HAUL_OP_LIST && s->op != HAUL_OP_LIST_BUCKETS && s->op < HAUL_OP_PUT) {
        if (list_page(s, NULL, err) < 0) goto fail;
    } else if (cfg->check && haul_store_list(&s->t.conn, s->t.bucket, NULL, 1, list_cb_noop, NULL, err) < 0) {
        goto fail;
    }
    /* A Swift delete: a task's keys in one bulk request where the store's
     * /info offers it (and takes a task's keys at once); else one DELETE a
     * key. This also checks the credentials before anything is queued. */
    if (s->op == HAUL_OP_DELETE && s->t.conn.kind == HAUL_STORE_SWIFT && !cfg->dry_run) {
        long long bmax;
        char why[HAUL_ERR_LEN];
        if (haul_swift_bulk_max(&s->t.conn, &bmax, why, err) < 0) goto fail;
        if (bmax > 0 && cfg->batch <= bmax && cfg->batch <= HAUL_BULK_DELETE_MAX) {
            s->t.flags |= HAUL_TASK_BULK;
            log_info("Swift bulk delete (the store's /info offers it, up to %lld keys a request): "
                     "a task's keys in one request", bmax);
        } else if (bmax > 0) {
            log_info("Swift bulk delete not used: --batch %lld is above %lld keys a request; one "
                     "DELETE a key", cfg->batch, bmax < HAUL_BULK_DELETE_MAX ? bmax : HAUL_BULK_DELETE_MAX);
        } else {
            log_info("Swift bulk delete not offered (%s): one DELETE a key", why);
        }
    }

    /* Seal the connection state when a key is given; say once that it
     * travels in the clear otherwise. */
    if (cfg->key_file) {
        int kl = haul_seal_key_load(cfg->key_file, s->key, err);
        if (kl < 0) goto fail;
        if (kl == 1) log_warn("key file %s is readable by other users: chmod 600 it", cfg->key_file);
        s->have_key = 1;
    } else {
        log_warn("no --key-file / HAUL_KEY_FILE: the store's credentials are stored in the clear "
                 "in Redis tasks (haul-scheduler keygen FILE makes a key; give it to the workers too)");
    }
    s->t.queue = haul_strdup(cfg->queue);
    s->t.max_attempts = (uint32_t)cfg->max_attempts;
    s->t.max_inline = (uint64_t)cfg->max_inline;
    s->t.out_dir = haul_strdup(cfg->out_dir);
    s->t.sidecar_ext = haul_strdup(cfg->sidecar_ext);
    if (split_suffixes(cfg->suffixes, &s->t, err) < 0) goto fail;
    s->t.job = new_job_id();
    haul_key_job(&s->jkey, s->t.job);
    haul_key_queue(&s->qkey, cfg->queue);
    haul_key_dups(&s->dkey, s->t.job);
    haul_key_results(&s->skey, s->t.job);
    /* A listing of prefixes has nothing to coalesce; its rows come as listed. */
    /* Nor have the write ops and verify: each row of theirs is one request
     * (a put's file, a verify's own expectations), answered once. */
    s->coalesce = cfg->coalesce && s->op != HAUL_OP_LIST && s->op != HAUL_OP_LIST_BUCKETS &&
                  s->op < HAUL_OP_PUT;
    s->hold_first_pass = s->coalesce && cfg->repeat > 1;

    {   /* Jobs that have expired leave their ids behind: drop a few. */
        char e2[HAUL_ERR_LEN];
        if (haul_jobs_prune(r, 64, NULL, e2) < 0) log_warn("pruning haul:jobs: %s", e2);
    }
    if (create_job(s, err) < 0) goto fail;
    s->last_ttl = s->last_publish = haul_mono_ms();
    s->reconnects = r->reconnects;
    return s;
fail:
    haul_submit_free(s);
    return NULL;
}

const char *haul_submit_job(const haul_submission *s)
{
    return s->t.job;
}

int haul_submit_published(haul_submission *s)
{
    int p = s->published;
    s->published = 0;
    return p;
}

const char *haul_submit_waiting(const haul_submission *s)
{
    return s->waiting[0] ? s->waiting : NULL;
}

int haul_submit_done(const haul_submission *s)
{
    return s->finished;
}

/* Redis was reconnected to. A Redis restarted from its AOF after a crash of
 * its host may have lost its last second or two of writes: compare what it
 * holds (the job hash's `tasks` and `runs`, counted in the same script as
 * each write) with what was written, and write the lost tail again -- it is
 * among the last RECENT_MS of writes, which are kept for this. 0; -1/-2 as
 * guarded(); -3 more was lost than was kept (err). */
static int recover(haul_submission *s, char *err)
{
    const char *argv[GROUP_MAX];
    size_t argl[GROUP_MAX];
    char live[64], mem[GROUP_MAX][64];
    int rc;
    snprintf(live, sizeof live, "%s|%s|%s", haul_job_state_str(HAUL_JOB_SUBMITTING),
             haul_job_state_str(HAUL_JOB_QUEUED), haul_job_state_str(HAUL_JOB_RUNNING));
    redisReply *h = haul_redis_call(s->r, err, "HMGET %s tasks runs", s->jkey.p);
    if (!h) return -1;
    long long tasks = -1, runs = -1;
    if (h->type == REDIS_REPLY_ARRAY && h->elements == 2 && h->element[0]->type == REDIS_REPLY_STRING &&
        h->element[1]->type == REDIS_REPLY_STRING) {
        tasks = strtoll(h->element[0]->str, NULL, 10);
        runs = strtoll(h->element[1]->str, NULL, 10);
    }
    freeReplyObject(h);
    if (tasks < 0) {
        snprintf(err, HAUL_ERR_LEN, "job %s vanished from Redis while it was being submitted (Redis "
                 "restarted without it)", s->t.job);
        return -2;
    }
    long long lost_t = s->npushed - tasks, lost_r = s->nruns - runs;
    if (lost_t <= 0 && lost_r <= 0) return 0;
    if (lost_t > (long long)(s->nrt - s->rt0) || lost_r > (long long)(s->nrr - s->rr0)) {
        snprintf(err, HAUL_ERR_LEN, "Redis restarted without %lld of the job's tasks and %lld of its "
                 "duplicate runs, more than were written in the last %d s: the job cannot complete",
                 lost_t, lost_r, RECENT_MS / 1000);
        return -3;
    }
    int n = 0;
    for (size_t i = s->nrt - (size_t)(lost_t > 0 ? lost_t : 0); i < s->nrt; i++) {
        argv[n] = s->rbuf.p + s->rt[i].off;
        argl[n++] = s->rt[i].len;
        if (n == GROUP_MAX || i + 1 == s->nrt) {
            if ((rc = guarded_in(s, live, "RPUSH", s->qkey.p, 0, "tasks", n, argv, argl, err)) < 0) return rc;
            n = 0;
        }
    }
    for (size_t i = s->nrr - (size_t)(lost_r > 0 ? lost_r : 0); i < s->nrr; i++) {
        const run *r = &s->rr[i].r;
        snprintf(mem[n], sizeof mem[n], "%lld %lld %lld", r->row, r->slot, r->n);
        argv[n] = mem[n];
        argl[n] = strlen(mem[n]);
        if (++n == GROUP_MAX || i + 1 == s->nrr) {
            if ((rc = guarded_in(s, live, "RPUSH", s->dkey.p, s->cfg->job_ttl, "runs", n, argv, argl, err)) < 0)
                return rc;
            n = 0;
        }
    }
    log_warn("job %s: Redis restarted without the last %lld task(s) and %lld duplicate run(s) written: "
             "written again", s->t.job, lost_t > 0 ? lost_t : 0, lost_r > 0 ? lost_r : 0);
    return 0;
}

static int finish(haul_submission *s, char *err)
{
    int rc = publish(s, 1, err);
    if (rc != 0) return rc;
    s->finished = 1;
    if (s->nkeys == 0) log_warn("job %s has no keys (empty listing or keys file)", s->t.job);
    if (s->man && haul_manifest_skipped(s->man))
        log_warn("job %s: %lld rows of --manifest %s skipped: their status is not ok or skipped (a failed "
                 "or dry-run upload says nothing of the store)", s->t.job, haul_manifest_skipped(s->man),
                 s->cfg->manifest);
    if (s->ndups)
        log_info("job %s: %lld keys (%lld distinct: %lld repeats coalesced) in %lld tasks queued on '%s'",
                 s->t.job, s->nkeys, s->nslots, s->ndups, s->ntasks, s->cfg->queue);
    else
        log_info("job %s: %lld keys in %lld tasks queued on '%s'", s->t.job, s->nkeys, s->ntasks, s->cfg->queue);
    return 0;
}

int haul_submit_step(haul_submission *s, long long answered, int publish_now, char *err)
{
    const sched_cfg *c = s->cfg;
    long long t0 = haul_mono_ms(), room = -1;
    int more = 0, rc;

    s->waiting[0] = '\0';
    if (s->r->reconnects != s->reconnects) {
        /* Also after the last task was queued: `run` keeps calling. */
        s->reconnects = s->r->reconnects;
        if ((rc = recover(s, err)) < 0) {
            if (rc == -1 && refused(s, err)) s->reconnects--; /* again next time */
            else if (!s->finished) return fail_job(s, rc == -3 ? -1 : rc, err);
            else log_warn("job %s: %s", s->t.job, err);
        }
        /* The job hash's progress (and, when finished, `queued` if the
         * restart lost it: a state past that is left alone). */
        rc = publish(s, s->finished, err);
        if (rc < 0 && !s->finished) return fail_job(s, rc, err);
    }
    if (s->finished) return HAUL_SUBMIT_DONE;
    if (t0 - s->last_ttl >= TTL_REFRESH_MS) {
        if (haul_job_expire(s->r, s->t.job, c->job_ttl, err) < 0) return fail_job(s, -1, err);
        s->last_ttl = t0;
    }
    if (c->max_queued > 0) {
        redisReply *rep = haul_redis_call(s->r, err, "LLEN %s", s->qkey.p);
        if (!rep) return fail_job(s, -1, err);
        room = c->max_queued - rep->integer - s->ngroup;
        freeReplyObject(rep);
        /* With a collector in this process: no more than two windows of the
         * job's keys between queued and collected, so results waiting in
         * Redis are bounded by the window too, whatever the collector's pace. */
        if (answered >= 0) {
            long long pushed = s->npushed * c->batch < s->nslots ? s->npushed * c->batch : s->nslots;
            if (pushed - answered > 2 * c->max_queued * c->batch) room = 0;
        }
    }
    while (!s->source_done && room != 0) {
        if (s->ngroup == GROUP_MAX) {
            if ((rc = push_group(s, err)) < 0) return fail_job(s, rc, err);
            if (rc == 1) break;
        }
        long long deadline = t0 + STEP_MS;
        if (haul_mono_ms() > deadline) { more = 1; break; }
        rc = fill(s, deadline, err);
        if (rc < 0) return fail_job(s, rc, err);
        if (rc == 2) { more = 1; break; }
        if (rc == 0) s->source_done = 1;
        if (s->t.nkeys) {
            if (seal_task(s, err) < 0) return fail_job(s, -1, err);
            if (room > 0) room--;
        }
    }
    if ((rc = push_group(s, err)) < 0) return fail_job(s, rc, err);
    if (rc == 1) return HAUL_SUBMIT_FULL;
    if (s->source_done) {
        if ((rc = finish(s, err)) < 0) return fail_job(s, rc, err);
        return s->finished ? HAUL_SUBMIT_DONE : HAUL_SUBMIT_FULL;
    }
    long long since = haul_mono_ms() - s->last_publish;
    if (since >= PUBLISH_MS || (publish_now && since >= PUBLISH_MIN_MS)) {
        if ((rc = publish(s, 0, err)) < 0) return fail_job(s, rc, err);
    }
    return more ? HAUL_SUBMIT_MORE : HAUL_SUBMIT_FULL;
}

void haul_submit_free(haul_submission *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nkept; i++) free(s->kept[i]);
    free(s->kept);
    free(s->seg);
    free(s->pend);
    free(s->rt);
    free(s->rr);
    haul_buf_free(&s->rbuf);
    haul_dedupe_free(&s->seen);
    haul_manifest_free(s->man);
    haul_walk_free(s->walk);
    haul_buf_free(&s->zfill);
    haul_buf_free(&s->zgive);
    haul_buf_free(&s->zname);
    haul_buf_free(&s->putkey);
    for (size_t i = 0; i < s->npre; i++) free(s->pre[i]);
    free(s->pre);
    if (s->keys_f && s->keys_f != stdin) fclose(s->keys_f);
    free(s->line);
    if (s->curl) curl_easy_cleanup(s->curl);
    haul_list_page_free(&s->page);
    free(s->page_next);
    haul_buf_free(&s->body);
    haul_buf_free(&s->group);
    haul_buf_free(&s->jkey);
    haul_buf_free(&s->qkey);
    haul_buf_free(&s->dkey);
    haul_buf_free(&s->skey);
    haul_task_clear(&s->t);
    OPENSSL_cleanse(s->key, sizeof s->key);
    free(s);
}
