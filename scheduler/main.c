/* haul-scheduler -- turns a job into tasks in Redis, and collects results.
 *
 * The design is simple: the scheduler owns jobs, not work. `submit` reads the
 * keys (a bucket listing, or a file), cuts them into batches, and pushes one
 * msgpack task per batch onto the queue's Redis list, a window at a time
 * (--max-queued): it adds tasks as workers take them; each task carries the
 * full connection state, so workers need nothing else. `collect` reads the
 * job's result stream, writes rows in the input keys' order and trims what
 * it has written from Redis. `run` does both in one loop, so Redis holds a
 * window of the job, not the job. `status` shows queues, workers and jobs,
 * and never a secret; `serve` shows the same over HTTP (serve.c: a dashboard,
 * Prometheus metrics, JSON). Every key a job makes expires (job.h).
 *
 * Exit status: 0 every key ok, 1 some keys failed, 2 usage or infrastructure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>

#include "config.h"
#include "expose.h"
#include "job.h"
#include "log.h"
#include "queue.h"
#include "scheduler.h"
#include "seal.h"
#include "sysview.h"

static sched_cfg cfg;

/* One table for every subcommand; each uses the options it needs. */
static haul_opt opts[] = {
    {"redis", HAUL_OPT_STR, &cfg.redis, "redis://127.0.0.1:6379/0", 0, 0, "HAUL_REDIS_URL", "URL", "Redis: redis://[user:password@]host:port/db", 0},
    {"queue", HAUL_OPT_STR, &cfg.queue, "default", 0, 0, NULL, "NAME", "queue the tasks go to", 0},
    {"s3", HAUL_OPT_STR, &cfg.s3, NULL, 0, 0, NULL, "ENDPOINT", "use S3 at this endpoint (http://host:port)", 0},
    {"swift", HAUL_OPT_SET, &cfg.swift, NULL, 0, 1, NULL, NULL, "use Swift (auth v1.0 from --auth-url/--user/--key, or --token/--storage-url)", 0},
    {"store", HAUL_OPT_STR, &cfg.store, NULL, 0, 0, NULL, "s3|swift", "the store kind, when neither --s3 nor --swift is given", 0},
    {"endpoint", HAUL_OPT_STR, &cfg.endpoint, NULL, 0, 0, "AWS_ENDPOINT_URL", "URL", "S3 endpoint, when --s3 is not given", 0},
    {"region", HAUL_OPT_STR, &cfg.region, "us-east-1", 0, 0, "AWS_REGION", "REGION", "S3 signing region", 0},
    {"access-key", HAUL_OPT_SECRET, &cfg.access_key, NULL, 0, 0, "AWS_ACCESS_KEY_ID", "ID", "S3 access key", 0},
    {"secret-key", HAUL_OPT_SECRET, &cfg.secret_key, NULL, 0, 0, "AWS_SECRET_ACCESS_KEY", "KEY", "S3 secret key (prefer the variable: flags show in ps)", 0},
    {"session-token", HAUL_OPT_SECRET, &cfg.session_token, NULL, 0, 0, "AWS_SESSION_TOKEN", "TOKEN", "S3 session token", 0},
    {"virtual-host", HAUL_OPT_BOOL, &cfg.virtual_host, "0", 0, 0, NULL, NULL, "S3 virtual-host addressing (bucket.host) instead of path-style", 0},
    {"auth-url", HAUL_OPT_STR, &cfg.auth_url, NULL, 0, 0, "ST_AUTH", "URL", "Swift auth v1.0 URL", 0},
    {"user", HAUL_OPT_STR, &cfg.user, NULL, 0, 0, "ST_USER", "ACCOUNT:USER", "Swift user", 0},
    {"key", HAUL_OPT_SECRET, &cfg.key, NULL, 0, 0, "ST_KEY", "KEY", "Swift key (prefer the variable)", 0},
    {"token", HAUL_OPT_SECRET, &cfg.token, NULL, 0, 0, "OS_AUTH_TOKEN", "TOKEN", "pre-issued Swift token (with --storage-url)", 0},
    {"storage-url", HAUL_OPT_STR, &cfg.storage_url, NULL, 0, 0, "OS_STORAGE_URL", "URL", "Swift storage URL for --token", 0},
    {"tls-verify", HAUL_OPT_BOOL, &cfg.tls_verify, "1", 0, 0, NULL, NULL, "verify the store's TLS certificate", 0},
    {"ca-file", HAUL_OPT_STR, &cfg.ca_file, NULL, 0, 0, NULL, "FILE", "CA bundle to verify the store with (a path on the workers' hosts)", 0},
    {"bucket", HAUL_OPT_STR, &cfg.bucket, NULL, 0, 0, NULL, "NAME", "S3 bucket or Swift container", 0},
    {"container", HAUL_OPT_STR, &cfg.bucket, NULL, 0, 0, NULL, "NAME", "same as --bucket (the later flag wins; a flag beats any variable)", 0},
    {"prefix", HAUL_OPT_STR, &cfg.prefix, NULL, 0, 0, NULL, "PREFIX", "only keys under this prefix (listing, and --op list); put --from-dir: put before every key", 0},
    {"keys", HAUL_OPT_STR, &cfg.keys, NULL, 0, 0, NULL, "FILE", "keys from a file, one per line (- for stdin), instead of a listing; put: lines PATH<TAB>KEY", 0},
    {"limit", HAUL_OPT_INT, &cfg.limit, "0", 0, 1LL << 50, NULL, "N", "at most N keys from the listing (0: all)", 0},
    {"repeat", HAUL_OPT_INT, &cfg.repeat, "1", 1, 1000000, NULL, "N", "submit the keys N times over (the notebook's 10x listing)", 0},
    {"op", HAUL_OPT_STR, &cfg.op, "sidecar", 0, 0, NULL, "OP", "list-buckets, list, head, get, sidecar; put, delete, verify", 0},
    {"from-dir", HAUL_OPT_STR, &cfg.from_dir, NULL, 0, 0, NULL, "DIR", "put: every file under DIR, walked here and read by the workers at the same path; key: --prefix + the path below DIR", 0},
    {"meta", HAUL_OPT_LINES, &cfg.meta, NULL, 0, 0, NULL, "NAME=VALUE", "put: user metadata on every object (repeatable; NAME letters, digits, - and _)", 0},
    {"segment-size", HAUL_OPT_INT, &cfg.segment_size, "0", 0, 5LL << 30, NULL, "BYTES", "put: files larger than this go up in segments (Swift) or parts (S3) of this size (0: 1 GiB, the workers' default)", 0},
    {"collate", HAUL_OPT_INT, &cfg.collate, "0", 0, 4LL << 30, NULL, "SIZE", "put --from-dir: pack the small files (--collate-below) into zips of about SIZE, each uploaded with its sidecar <zip>.metadata listing its files (0: no zips)", 0},
    {"collate-below", HAUL_OPT_INT, &cfg.collate_below, "1M", 1, 1LL << 30, NULL, "SIZE", "put --collate: the files smaller than this go into zips", 0},
    {"skip-existing", HAUL_OPT_BOOL, &cfg.skip_existing, "0", 0, 0, NULL, NULL, "put: leave a key whose object has the file's size and MD5 (row: skipped)", 0},
    {"dry-run", HAUL_OPT_BOOL, &cfg.dry_run, "0", 0, 0, NULL, NULL, "put, delete: change nothing; each row says what would be done (would-upload, would-delete)", 0},
    {"yes", HAUL_OPT_SET, &cfg.yes, NULL, 0, 1, NULL, NULL, "delete: more than 1000 keys (refused without it)", 0},
    {"manifest", HAUL_OPT_STR, &cfg.manifest, NULL, 0, 0, NULL, "FILE", "verify: a CSV with a header naming key, size (or bytes), md5 -- a put's --out is one", 0},
    {"deep", HAUL_OPT_BOOL, &cfg.deep, "0", 0, 0, NULL, NULL, "verify: GET and hash every body, not only HEAD", 0},
    {"ignore-checksum", HAUL_OPT_BOOL, &cfg.ignore_checksum, "0", 0, 0, NULL, NULL, "get, sidecar: check each body's length only, not its MD5 (rows say verified none)", 0},
    {"coalesce", HAUL_OPT_BOOL, &cfg.coalesce, "1", 0, 0, NULL, NULL, "fetch a key that occurs several times in a job once, and answer every occurrence", 0},
    {"batch", HAUL_OPT_INT, &cfg.batch, "16", 1, HAUL_TASK_MAX_KEYS, NULL, "N", "keys per task", 0},
    {"max-inline", HAUL_OPT_INT, &cfg.max_inline, "1M", 0, HAUL_MAX_INLINE, NULL, "BYTES", "get: bodies up to this size go in the result (one Redis value and one row: at most 64M); larger to --out-dir", 0},
    {"out-dir", HAUL_OPT_STR, &cfg.out_dir, NULL, 0, 0, NULL, "DIR", "get: directory (on the workers' hosts) for bodies over --max-inline", 0},
    {"suffixes", HAUL_OPT_STR, &cfg.suffixes, ".zip", 0, 0, NULL, "LIST", "sidecar: comma-separated key suffixes that have a sidecar", 0},
    {"sidecar-ext", HAUL_OPT_STR, &cfg.sidecar_ext, ".metadata", 0, 0, NULL, "EXT", "sidecar: appended to the key to name its sidecar", 0},
    {"out", HAUL_OPT_STR, &cfg.out, "-", 0, 0, NULL, "FILE", "where results go (- for stdout)", 0},
    {"format", HAUL_OPT_STR, &cfg.format, "csv", 0, 0, NULL, "FMT", "csv or jsonl", 0},
    {"progress", HAUL_OPT_BOOL, &cfg.progress, NULL, 0, 0, NULL, NULL, "progress line on stderr (default: when stderr is a terminal)", 0},
    {"check", HAUL_OPT_BOOL, &cfg.check, "1", 0, 0, NULL, NULL, "check credentials and bucket before queueing", 0},
    {"max-attempts", HAUL_OPT_INT, &cfg.max_attempts, "4", 1, 1000, NULL, "N", "attempts per key for transient failures (connection, timeout, 429, 5xx)", 0},
    {"max-deliveries", HAUL_OPT_INT, &cfg.max_deliveries, "5", 1, 1000, NULL, "N", "a task whose workers died N times is dead-lettered (poison-pill cap)", 0},
    {"retention", HAUL_OPT_INT, &cfg.retention, "86400", 0, 1LL << 40, NULL, "SECONDS", "keep a collected job's results and hash this long (0: delete the results at once)", 0},
    {"max-queued", HAUL_OPT_INT, &cfg.max_queued, "1000", 0, 1LL << 30, NULL, "N", "queue at most N tasks at a time, adding more as workers take them (0: the whole job at once)", 0},
    {"job-ttl", HAUL_OPT_INT, &cfg.job_ttl, "604800", 60, 1LL << 40, NULL, "SECONDS", "a job's keys in Redis expire this long after the submitter or collector last touched them, collected or not", 0},
    {"keep-results", HAUL_OPT_BOOL, &cfg.keep_results, "0", 0, 0, NULL, NULL, "keep results in Redis after writing them, so the job can be collected again (by default they are trimmed as written)", 0},
    {"task-ttl", HAUL_OPT_INT, &cfg.task_ttl, "86400", 60, 1LL << 31, NULL, "SECONDS", "a task no worker ran within this long of being queued is refused (bound to sealed tasks: no replay later)", 0},
    {"key-file", HAUL_OPT_STR, &cfg.key_file, NULL, 0, 0, NULL, "FILE", "seal the connection state in tasks with this key (haul-scheduler keygen makes one)", 0},
    {"progress-interval", HAUL_OPT_INT, &cfg.progress_interval, "10", 0, 86400, NULL, "SECONDS", "run, collect: when stderr is not a terminal, a progress line (done/total, rate, ETA) this often (0: none)", 0},
    {"listen", HAUL_OPT_STR, &cfg.listen, "127.0.0.1:9177", 0, 0, NULL, "ADDR:PORT", "serve: where to serve the dashboard, /metrics and /api/status.json (see docs/security.md before leaving loopback)", 0},
    {"log-level", HAUL_OPT_STR, &cfg.log_level, "info", 0, 0, NULL, "LEVEL", "debug, info, warn or error", 0},
    {NULL, 0, NULL, NULL, 0, 0, NULL, NULL, NULL, 0}
};

static void usage(FILE *f)
{
    fprintf(f,
        "usage: haul-scheduler COMMAND [options]\n\n"
        "commands:\n"
        "  run        submit a job, then collect its results (the usual one)\n"
        "  submit     submit a job and print its id\n"
        "  collect JOB  write the results of a job (also one submitted earlier)\n"
        "  status     queues, workers, jobs and dead letters\n"
        "  serve      a live dashboard, Prometheus /metrics and /api/status.json (--listen)\n"
        "  cancel JOB   stop a job: workers drop its remaining tasks\n"
        "  requeue-dead move the queue's dead letters back to it (after fixing their cause)\n"
        "  keygen FILE  write a new key for --key-file / HAUL_KEY_FILE (mode 0600)\n"
        "  help       this text\n\n"
        "examples:\n"
        "  export ST_AUTH=http://store:8080/auth/v1.0 ST_USER=test:tester ST_KEY=testing\n"
        "  haul-scheduler run --swift --container LSST-IR-FUSION-testfromopenstack --op sidecar --out metadata.csv\n"
        "  export AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing\n"
        "  haul-scheduler run --s3 http://store:8080 --bucket B --keys keys.txt --op get --out-dir /data\n"
        "  haul-scheduler run --swift --container backup --op put --from-dir /data/run42 --prefix run42/ --out put-log.csv\n"
        "  haul-scheduler run --swift --container backup --op verify --manifest put-log.csv --out check.csv\n"
        "  haul-scheduler run --swift --container backup --op delete --keys old.txt --dry-run\n\n"
        "options (flags win over HAUL_... variables, which win over the conventional ones):\n");
    haul_opts_usage(f, opts);
}

/* Stop a job: workers read haul:cancelled with every heartbeat and drop its
 * tasks as they take them; its collector and its submitter stop; its keys
 * live --retention longer. */
static int cancel(haul_redis *hr, const char *job)
{
    char err[HAUL_ERR_LEN];
    haul_buf k = HAUL_BUF_INIT;
    redisReply *r = haul_redis_call(hr, err, "EVAL %s 1 %s %s",
        "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
        "redis.call('HSET', KEYS[1], 'state', ARGV[1]) return 1",
        haul_key_job(&k, job), haul_job_state_str(HAUL_JOB_CANCELLED));
    int rc_ = EXIT_USAGE;
    if (!r) goto fail;
    if (r->integer != 1) {
        fprintf(stderr, "haul-scheduler: no job '%s' in Redis (see haul-scheduler status)\n", job);
        goto out;
    }
    freeReplyObject(r);
    if (!(r = haul_redis_call(hr, err, "SADD " HAUL_KEY_CANCELLED " %s", job))) goto fail;
    freeReplyObject(r);
    r = NULL;
    if (haul_job_retire(hr, job, cfg.retention, err) < 0) goto fail;
    printf("job %s cancelled: workers drop its remaining tasks within a few seconds\n", job);
    rc_ = 0;
    goto out;
fail:
    fprintf(stderr, "haul-scheduler: %s\n", err);
out:
    if (r) freeReplyObject(r);
    haul_buf_free(&k);
    return rc_;
}

static int keygen(const char *path)
{
    char hex[2 * HAUL_SEAL_KEY_LEN + 1];
    if (haul_seal_keygen(hex) < 0) {
        fprintf(stderr, "haul-scheduler: keygen: the random number generator failed\n");
        return EXIT_USAGE;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        fprintf(stderr, "haul-scheduler: keygen: cannot create %s: %s%s\n", path, strerror(errno),
                errno == EEXIST ? " (not overwriting an existing key)" : "");
        return EXIT_USAGE;
    }
    size_t n = strlen(hex);
    hex[n++] = '\n';
    int bad = write(fd, hex, n) != (ssize_t)n;
    bad |= close(fd) != 0;
    OPENSSL_cleanse(hex, sizeof hex);
    if (bad) {
        fprintf(stderr, "haul-scheduler: keygen: writing %s failed\n", path);
        return EXIT_USAGE;
    }
    printf("wrote a new key to %s; give the same file to every worker (HAUL_KEY_FILE)\n", path);
    return 0;
}

/* Queues, workers and jobs, readable: the view `serve` shows (sysview.h),
 * printed for people; never a secret (none is stored outside the tasks, and
 * tasks are not printed). */
static int status(haul_redis *hr)
{
    char err[HAUL_ERR_LEN];
    hr->wait_ms = 5000; /* a glance: 5 s of Redis trouble, not a collector's 5 minutes */
    if (haul_jobs_prune(hr, 64, NULL, err) < 0) log_warn("pruning haul:jobs: %s", err);
    sysview v;
    sysview_read(hr, &v);
    haul_buf out = HAUL_BUF_INIT;
    expose_text(&v, 10, &out);
    fwrite(out.p, 1, out.len, stdout);
    int rc_ = v.redis_up ? 0 : EXIT_USAGE;
    if (!v.redis_up) fprintf(stderr, "haul-scheduler: %s\n", v.redis_err);
    haul_buf_free(&out);
    sysview_free(&v);
    return rc_;
}

/* `submit` alone: the job id is printed; feed the window until every task
 * is queued (the queue's length is looked at every 100 ms while it is full).
 * Results accumulate in Redis until a collector runs. */
static int submit_all(haul_submission *sub)
{
    char err[HAUL_ERR_LEN];
    long long warned = 0;
    for (;;) {
        int st = haul_submit_step(sub, -1, 0, err);
        if (st == HAUL_SUBMIT_DONE) return 0;
        if (st == HAUL_SUBMIT_FAILED) {
            fprintf(stderr, "haul-scheduler: %s\n", err);
            return EXIT_USAGE;
        }
        if (st == HAUL_SUBMIT_FULL) {
            const char *why = haul_submit_waiting(sub);
            if (why && haul_mono_ms() - warned >= 30000) {
                log_warn("job %s: %s", haul_submit_job(sub), why);
                warned = haul_mono_ms();
            }
            usleep(100 * 1000);
        }
    }
}

int main(int argc, char **argv)
{
    char err[HAUL_ERR_LEN];
    char *pos[4];
    int rc_ = EXIT_USAGE;
    haul_redis hr = {0};    /* every command's connection; it may reconnect */

    haul_log_init("haul-scheduler");
    cfg.progress = -1; /* auto: when stderr is a terminal */
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *cmd = argv[1];
    /* The scheduler holds the store's credentials and the seal key. */
    if (haul_no_core_dumps(err) < 0) log_warn("%s", err);
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
    int npos = haul_opts_parse(opts, argc, argv, 2, pos, 4, err);
    if (npos < 0) {
        fprintf(stderr, "haul-scheduler: %s\n", err);
        return EXIT_USAGE;
    }
    if (haul_log_set_level(cfg.log_level) < 0) {
        fprintf(stderr, "haul-scheduler: --log-level: '%s' is not one of debug, info, warn, error\n", cfg.log_level);
        goto out;
    }
    static const struct { const char *name; int args; const char *usage; } cmds[] = {
        {"run", 0, NULL}, {"submit", 0, NULL}, {"status", 0, NULL}, {"requeue-dead", 0, NULL}, {"serve", 0, NULL},
        {"collect", 1, "collect needs the job id: haul-scheduler collect JOB"},
        {"cancel", 1, "cancel needs the job id: haul-scheduler cancel JOB"},
        {"keygen", 1, "keygen needs a file name: haul-scheduler keygen FILE"},
    };
    int known = -1;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(cmd, cmds[i].name)) known = (int)i;
    if (known < 0) {
        fprintf(stderr, "haul-scheduler: unknown command '%s' (run, submit, collect, status, serve, cancel, "
                "requeue-dead, keygen; see --help)\n", cmd);
        goto out;
    }
    if (npos != cmds[known].args) {
        fprintf(stderr, "haul-scheduler: %s\n", cmds[known].usage ? cmds[known].usage : "unexpected argument (see --help)");
        goto out;
    }
    if (!strcmp(cmd, "keygen")) {
        rc_ = keygen(pos[0]);
        goto out;
    }
    if (!strcmp(cmd, "run") || !strcmp(cmd, "submit")) {
        /* Options that do not go together: said before Redis is asked anything. */
        haul_op op;
        char **meta = NULL;
        size_t nmeta = 0;
        int bad = haul_op_parse(cfg.op, &op) == 0 &&
                  (haul_submit_check_opts(&cfg, op, err) < 0 || haul_submit_meta(cfg.meta, &meta, &nmeta, err) < 0);
        for (size_t i = 0; i < nmeta; i++) free(meta[i]);
        free(meta);
        if (bad) {
            fprintf(stderr, "haul-scheduler: %s\n", err);
            goto out;
        }
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    hr.url = cfg.redis;
    hr.timeout_s = 5.0;
    hr.wait_ms = 300 * 1000; /* a collector rides out a Redis restart of up to 5 minutes */
    hr.c = haul_redis_connect(cfg.redis, 5.0, err);
    if (!hr.c) {
        fprintf(stderr, "haul-scheduler: %s\n", err);
        goto out;
    }
    if (!strcmp(cmd, "status")) {
        rc_ = status(&hr);
    } else if (!strcmp(cmd, "serve")) {
        rc_ = haul_serve(cfg.listen, &hr);
    } else if (!strcmp(cmd, "collect")) {
        rc_ = haul_collect(&cfg, &hr, pos[0], 0, NULL);
    } else if (!strcmp(cmd, "cancel")) {
        rc_ = cancel(&hr, pos[0]);
    } else if (!strcmp(cmd, "requeue-dead")) {
        long long n = 0;
        if (haul_requeue_dead(hr.c, cfg.queue, &n, err) < 0) {
            fprintf(stderr, "haul-scheduler: %s\n", err);
            goto out;
        }
        printf("%lld dead letter(s) moved back to queue '%s'\n", n, cfg.queue);
        rc_ = 0;
    } else {
        long long t0 = haul_now_ms();
        haul_submission *sub = haul_submit_start(&cfg, &hr, err);
        if (!sub) {
            fprintf(stderr, "haul-scheduler: %s\n", err);
            goto out;
        }
        const char *job = haul_submit_job(sub);
        if (!strcmp(cmd, "submit")) {
            printf("%s\n", job);
            fflush(stdout);
            rc_ = submit_all(sub);
        } else {
            fprintf(stderr, "haul: job %s: queueing its tasks while collecting (once every task is queued, "
                    "haul-scheduler collect %s reattaches)\n", job, job);
            rc_ = haul_collect(&cfg, &hr, job, t0, sub);
        }
        haul_submit_free(sub);
    }
out:
    if (hr.c) redisFree(hr.c);
    haul_opts_free(opts);
    curl_global_cleanup();
    return rc_;
}
