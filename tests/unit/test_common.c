/* test_common.c -- the small pure parts of libhaul: options, Redis URLs, log
 * redaction, store requests and error sentences, connection descriptions.
 *
 * Nothing here touches the network. Store requests are only built, never
 * sent: the tests read back the URL and headers and check them byte for byte.
 * The one value that depends on the clock, x-amz-date, is read back from the
 * built headers and the signature is recomputed from it with haul_sigv4_sign,
 * whose own correctness test_sigv4.c checks against AWS's published vectors.
 *
 * The redactor's table of secrets is process-wide and only grows, so every
 * test that registers a secret uses one no other test's expected text holds. */
#include "config.h"
#include "conn.h"
#include "log.h"
#include "queue.h"
#include "sigv4.h"
#include "store.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ASSERT_HAS(s, sub) do {                                           \
        const char *s_ = (s), *sub_ = (sub);                             \
        if (!s_ || !strstr(s_, sub_))                                    \
            FAIL_("%s contains %s:\n    got:  \"%s\"", #s, #sub, s_ ? s_ : "(null)"); \
    } while (0)
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- config ------------------------------------------------------------- */

/* One option of each type. Names start with "t-" so the variables they read
 * (HAUL_T_...) cannot be set by whoever runs the tests; the one conventional
 * variable is the real ST_AUTH, cleared before every parse. */
typedef struct cfg {
    char *name, *auth, *key, *plain;
    long long size;
    int verbose, mode;
    haul_opt opts[8];
} cfg;

static const char *const cfg_env[] = {
    "HAUL_T_NAME", "HAUL_T_AUTH_URL", "ST_AUTH", "HAUL_T_MAX_INLINE",
    "HAUL_T_VERBOSE", "HAUL_T_LIST", "HAUL_T_KEY", "HAUL_T_PLAIN",
};

static void cfg_init(cfg *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N(cfg_env); i++) unsetenv(cfg_env[i]);
    haul_opt t[] = {
        {"t-name", HAUL_OPT_STR, &c->name, "dflt", 0, 0, NULL, "NAME", "a name", 0},
        {"t-auth-url", HAUL_OPT_STR, &c->auth, NULL, 0, 0, "ST_AUTH", "URL", "auth URL", 0},
        {"t-max-inline", HAUL_OPT_INT, &c->size, "64k", 0, 1024 * 1024, NULL, "N", "a size", 0},
        {"t-verbose", HAUL_OPT_BOOL, &c->verbose, "0", 0, 0, NULL, NULL, "say more", 0},
        {"t-list", HAUL_OPT_SET, &c->mode, NULL, 0, 7, NULL, NULL, "list mode", 0},
        {"t-key", HAUL_OPT_SECRET, &c->key, NULL, 0, 0, NULL, "KEY", "a secret", 0},
        {"t-plain", HAUL_OPT_STR, &c->plain, NULL, 0, 0, NULL, NULL, "no metavar", 0},
        {0},
    };
    memcpy(c->opts, t, sizeof t);
}

static void cfg_done(cfg *c)
{
    haul_opts_free(c->opts);
    for (size_t i = 0; i < N(cfg_env); i++) unsetenv(cfg_env[i]);
}

/* Parse a NULL-terminated argument list (argv[0] is the program). */
#define PARSE(c, pos, maxpos, err, ...) \
    parse_args((c), (pos), (maxpos), (err), (char *[]){"prog", __VA_ARGS__, NULL})

static int parse_args(cfg *c, char **pos, int maxpos, char *err, char **argv)
{
    int argc = 0;
    while (argv[argc]) argc++;
    err[0] = '\0';
    return haul_opts_parse(c->opts, argc, argv, 1, pos, maxpos, err);
}

static haul_opt *opt(cfg *c, const char *name)
{
    for (haul_opt *o = c->opts; o->name; o++)
        if (strcmp(o->name, name) == 0) return o;
    return NULL;
}

TEST(test_config_env_name)
{
    char out[64];
    haul_opt_env_name("max-inline", out, sizeof out);
    ASSERT_STREQ(out, "HAUL_MAX_INLINE");
    haul_opt_env_name("redis", out, sizeof out);
    ASSERT_STREQ(out, "HAUL_REDIS");
    haul_opt_env_name("max-inline", out, 8); /* truncated, still terminated */
    ASSERT_STREQ(out, "HAUL_MA");
}

TEST(test_config_defaults)
{
    cfg c;
    char err[HAUL_ERR_LEN], *pos[4];
    cfg_init(&c);
    ASSERT_EQ(parse_args(&c, pos, 4, err, (char *[]){"prog", NULL}), 0);
    ASSERT_STREQ(c.name, "dflt");
    ASSERT(c.auth == NULL);
    ASSERT(c.key == NULL);
    ASSERT_EQ(c.size, 64 * 1024);
    ASSERT_EQ(c.verbose, 0);
    ASSERT_EQ(c.mode, 0);
    for (haul_opt *o = c.opts; o->name; o++) ASSERT_EQ(o->seen, 0);
    cfg_done(&c);
    ASSERT(c.name == NULL); /* haul_opts_free resets what it frees */
}

TEST(test_config_env_overrides_default)
{
    cfg c;
    char err[HAUL_ERR_LEN], *pos[4];
    cfg_init(&c);
    setenv("HAUL_T_NAME", "fromenv", 1);
    setenv("HAUL_T_MAX_INLINE", "2k", 1);
    setenv("HAUL_T_VERBOSE", "yes", 1);
    setenv("HAUL_T_LIST", "1", 1); /* SET options read no variable */
    ASSERT_EQ(parse_args(&c, pos, 4, err, (char *[]){"prog", NULL}), 0);
    ASSERT_STREQ(c.name, "fromenv");
    ASSERT_EQ(c.size, 2048);
    ASSERT_EQ(c.verbose, 1);
    ASSERT_EQ(c.mode, 0);
    ASSERT_EQ(opt(&c, "t-name")->seen, 2);
    ASSERT_EQ(opt(&c, "t-max-inline")->seen, 2);
    ASSERT_EQ(opt(&c, "t-list")->seen, 0);
    cfg_done(&c);
}

TEST(test_config_alt_env)
{
    cfg c;
    char err[HAUL_ERR_LEN], *pos[4];

    /* Only the conventional variable: it is used. */
    cfg_init(&c);
    setenv("ST_AUTH", "http://alt:8080/auth/v1.0", 1);
    ASSERT_EQ(parse_args(&c, pos, 4, err, (char *[]){"prog", NULL}), 0);
    ASSERT_STREQ(c.auth, "http://alt:8080/auth/v1.0");
    ASSERT_EQ(opt(&c, "t-auth-url")->seen, 2);
    cfg_done(&c);

    /* Both: HAUL_ wins. */
    cfg_init(&c);
    setenv("ST_AUTH", "http://alt:8080/auth/v1.0", 1);
    setenv("HAUL_T_AUTH_URL", "http://haul:8080/auth/v1.0", 1);
    ASSERT_EQ(parse_args(&c, pos, 4, err, (char *[]){"prog", NULL}), 0);
    ASSERT_STREQ(c.auth, "http://haul:8080/auth/v1.0");
    cfg_done(&c);

    /* An empty HAUL_ variable counts as unset. */
    cfg_init(&c);
    setenv("ST_AUTH", "http://alt:8080/auth/v1.0", 1);
    setenv("HAUL_T_AUTH_URL", "", 1);
    ASSERT_EQ(parse_args(&c, pos, 4, err, (char *[]){"prog", NULL}), 0);
    ASSERT_STREQ(c.auth, "http://alt:8080/auth/v1.0");
    cfg_done(&c);

    /* A bad value names the variable it came from. */
    cfg_init(&c);
    setenv("HAUL_T_MAX_INLINE", "lots", 1);
    ASSERT_EQ(parse_args(&c, pos, 4, err, (char *[]){"prog", NULL}), -1);
    ASSERT_STREQ(err, "environment variable HAUL_T_MAX_INLINE: 'lots' is not a whole number");
    cfg_done(&c);
}

TEST(test_config_flag_wins_over_env)
{
    cfg c;
    char err[HAUL_ERR_LEN], *pos[4];
    cfg_init(&c);
    setenv("HAUL_T_NAME", "fromenv", 1);
    setenv("ST_AUTH", "http://alt/", 1);
    setenv("HAUL_T_VERBOSE", "1", 1);
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-name=fromflag", "--t-auth-url", "http://flag/",
                    "--no-t-verbose"), 0);
    ASSERT_STREQ(c.name, "fromflag");
    ASSERT_STREQ(c.auth, "http://flag/");
    ASSERT_EQ(c.verbose, 0);
    ASSERT_EQ(opt(&c, "t-name")->seen, 1);
    ASSERT_EQ(opt(&c, "t-auth-url")->seen, 1);
    ASSERT_EQ(opt(&c, "t-verbose")->seen, 1);
    cfg_done(&c);
}

TEST(test_config_value_forms)
{
    cfg c;
    char err[HAUL_ERR_LEN], *pos[4];
    cfg_init(&c);
    /* "=" splits at the first '='; the separate form takes the next argument
     * even when it looks like an option; the last occurrence wins. */
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-name=a=b", "--t-plain", "--t-verbose"), 0);
    ASSERT_STREQ(c.name, "a=b");
    ASSERT_STREQ(c.plain, "--t-verbose");
    ASSERT_EQ(c.verbose, 0);
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-name", "one", "--t-name=two", "--t-plain="), 0);
    ASSERT_STREQ(c.name, "two");
    ASSERT_STREQ(c.plain, "");
    cfg_done(&c);
}

TEST(test_config_bool)
{
    cfg c;
    char err[HAUL_ERR_LEN], *pos[4];
    cfg_init(&c);
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-verbose"), 0);
    ASSERT_EQ(c.verbose, 1);
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-verbose", "--no-t-verbose"), 0);
    ASSERT_EQ(c.verbose, 0);
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-verbose=false"), 0);
    ASSERT_EQ(c.verbose, 0);
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-verbose=YES"), 0);
    ASSERT_EQ(c.verbose, 1);
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-verbose=off"), 0);
    ASSERT_EQ(c.verbose, 0);
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-verbose=maybe"), -1);
    ASSERT_STREQ(err, "--t-verbose: 'maybe' is not a boolean (use 1/0, true/false, yes/no)");
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--no-t-verbose=1"), -1);
    ASSERT_STREQ(err, "--no-t-verbose takes no value");
    /* A BOOL takes no separate value: the next word is a positional. */
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-verbose", "false"), 1);
    ASSERT_EQ(c.verbose, 1);
    ASSERT_STREQ(pos[0], "false");
    /* "--no-" only negates booleans. */
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--no-t-name"), -1);
    ASSERT_STREQ(err, "unknown option --no-t-name (see --help)");
    cfg_done(&c);
}

TEST(test_config_set)
{
    cfg c;
    char err[HAUL_ERR_LEN], *pos[4];
    cfg_init(&c);
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-list"), 0);
    ASSERT_EQ(c.mode, 7);
    ASSERT_EQ(opt(&c, "t-list")->seen, 1);
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-list=1"), -1);
    ASSERT_STREQ(err, "--t-list takes no value");
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--no-t-list"), -1);
    ASSERT_STREQ(err, "unknown option --no-t-list (see --help)");
    cfg_done(&c);
}

TEST(test_config_int)
{
    cfg c;
    char err[HAUL_ERR_LEN], *pos[4];
    cfg_init(&c);
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-max-inline", "1M"), 0);
    ASSERT_EQ(c.size, 1024 * 1024);
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-max-inline=3k"), 0);
    ASSERT_EQ(c.size, 3 * 1024);
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-max-inline=3K"), 0);
    ASSERT_EQ(c.size, 3 * 1024);
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-max-inline=0"), 0);
    ASSERT_EQ(c.size, 0);
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-max-inline=1048576"), 0);
    ASSERT_EQ(c.size, 1048576);

    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-max-inline=1048577"), -1);
    ASSERT_STREQ(err, "--t-max-inline: 1048577 is out of range (0..1048576)");
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-max-inline=2M"), -1);
    ASSERT_STREQ(err, "--t-max-inline: 2097152 is out of range (0..1048576)");
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-max-inline", "-1"), -1);
    ASSERT_STREQ(err, "--t-max-inline: -1 is out of range (0..1048576)");
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-max-inline=12x"), -1);
    ASSERT_STREQ(err, "--t-max-inline: '12x' is not a whole number");
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-max-inline=1kk"), -1);
    ASSERT_STREQ(err, "--t-max-inline: '1kk' is not a whole number");
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-max-inline="), -1);
    ASSERT_STREQ(err, "--t-max-inline: '' is not a whole number");
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-max-inline=99999999999999999999"), -1);
    ASSERT_STREQ(err, "--t-max-inline: '99999999999999999999' is not a whole number");
    cfg_done(&c);
}

TEST(test_config_errors)
{
    cfg c;
    char err[HAUL_ERR_LEN], *pos[4];
    cfg_init(&c);
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--bogus=1"), -1);
    ASSERT_STREQ(err, "unknown option --bogus (see --help)");
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-nam"), -1); /* no prefix matching */
    ASSERT_STREQ(err, "unknown option --t-nam (see --help)");
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-name"), -1);
    ASSERT_STREQ(err, "--t-name needs a value (NAME)");
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-plain"), -1);
    ASSERT_STREQ(err, "--t-plain needs a value (VALUE)");
    cfg_done(&c);
}

TEST(test_config_positionals)
{
    cfg c;
    char err[HAUL_ERR_LEN], *pos[8];
    cfg_init(&c);
    /* Options and positionals mix; a lone "-" and "-x" are positionals;
     * after "--" everything is. */
    ASSERT_EQ(PARSE(&c, pos, 8, err, "a", "--t-name", "x", "-", "-x", "b", "--",
                    "--t-verbose", "--"), 6);
    ASSERT_STREQ(pos[0], "a");
    ASSERT_STREQ(pos[1], "-");
    ASSERT_STREQ(pos[2], "-x");
    ASSERT_STREQ(pos[3], "b");
    ASSERT_STREQ(pos[4], "--t-verbose");
    ASSERT_STREQ(pos[5], "--");
    ASSERT_STREQ(c.name, "x");
    ASSERT_EQ(c.verbose, 0);
    /* "--" at the end: nothing follows. */
    ASSERT_EQ(PARSE(&c, pos, 8, err, "a", "--"), 1);
    ASSERT_STREQ(pos[0], "a");
    cfg_done(&c);
}

TEST(test_config_too_many_positionals)
{
    cfg c;
    char err[HAUL_ERR_LEN], *pos[2];
    cfg_init(&c);
    ASSERT_EQ(PARSE(&c, pos, 2, err, "a", "b"), 2);
    ASSERT_EQ(PARSE(&c, pos, 2, err, "a", "b", "c"), -1);
    ASSERT_STREQ(err, "too many arguments (unexpected 'c')");
    ASSERT_EQ(PARSE(&c, pos, 2, err, "a", "--", "b", "c"), -1);
    ASSERT_STREQ(err, "too many arguments (unexpected 'c')");
    ASSERT_EQ(PARSE(&c, pos, 0, err, "a"), -1);
    ASSERT_STREQ(err, "too many arguments (unexpected 'a')");
    cfg_done(&c);
}

TEST(test_config_secret_is_redacted)
{
    cfg c;
    char err[HAUL_ERR_LEN], *pos[2];
    cfg_init(&c);
    setenv("HAUL_T_KEY", "cfgEnvSecret99", 1);
    ASSERT_EQ(parse_args(&c, pos, 2, err, (char *[]){"prog", NULL}), 0);
    ASSERT_STREQ(c.key, "cfgEnvSecret99");
    ASSERT_EQ(PARSE(&c, pos, 2, err, "--t-key=cfgFlagSecret77"), 0);
    ASSERT_STREQ(c.key, "cfgFlagSecret77");
    char line[] = "key cfgFlagSecret77 env cfgEnvSecret99.";
    haul_redact(line);
    ASSERT_STREQ(line, "key *** env ***.");
    cfg_done(&c);
    ASSERT(c.key == NULL);
}

/* ---- Redis URLs --------------------------------------------------------- */

TEST(test_redis_url_full)
{
    haul_redis_url u;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(haul_redis_url_parse("redis://redis.example:6380/3", &u, err), 0);
    ASSERT_STREQ(u.host, "redis.example");
    ASSERT_EQ(u.port, 6380);
    ASSERT_EQ(u.db, 3);
    ASSERT(u.user == NULL);
    ASSERT(u.pass == NULL);
    ASSERT_STREQ(u.display, "redis://redis.example:6380/3");
    haul_redis_url_free(&u);
    ASSERT(u.host == NULL && u.display == NULL);
}

TEST(test_redis_url_defaults)
{
    haul_redis_url u;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(haul_redis_url_parse("redis://myhost", &u, err), 0);
    ASSERT_STREQ(u.host, "myhost");
    ASSERT_EQ(u.port, 6379);
    ASSERT_EQ(u.db, 0);
    ASSERT_STREQ(u.display, "redis://myhost:6379/0");
    haul_redis_url_free(&u);

    ASSERT_EQ(haul_redis_url_parse("redis://myhost/", &u, err), 0);
    ASSERT_EQ(u.port, 6379);
    ASSERT_EQ(u.db, 0);
    haul_redis_url_free(&u);

    /* Without a scheme: "host:port". */
    ASSERT_EQ(haul_redis_url_parse("10.0.0.5:7000", &u, err), 0);
    ASSERT_STREQ(u.host, "10.0.0.5");
    ASSERT_EQ(u.port, 7000);
    ASSERT_EQ(u.db, 0);
    ASSERT_STREQ(u.display, "redis://10.0.0.5:7000/0");
    haul_redis_url_free(&u);

    /* No host: the local one. */
    ASSERT_EQ(haul_redis_url_parse("redis://:6390/1", &u, err), 0);
    ASSERT_STREQ(u.host, "127.0.0.1");
    ASSERT_EQ(u.port, 6390);
    ASSERT_EQ(u.db, 1);
    haul_redis_url_free(&u);
}

TEST(test_redis_url_auth)
{
    haul_redis_url u;
    char err[HAUL_ERR_LEN];

    ASSERT_EQ(haul_redis_url_parse("redis://alice:hunter2pass@h:1/2", &u, err), 0);
    ASSERT_STREQ(u.user, "alice");
    ASSERT_STREQ(u.pass, "hunter2pass");
    ASSERT_STREQ(u.host, "h");
    ASSERT_EQ(u.port, 1);
    ASSERT_EQ(u.db, 2);
    ASSERT_STREQ(u.display, "redis://alice:***@h:1/2");
    ASSERT(strstr(u.display, "hunter2pass") == NULL);
    haul_redis_url_free(&u);

    /* Password only. */
    ASSERT_EQ(haul_redis_url_parse("redis://:onlyPassw0rd@h:1/0", &u, err), 0);
    ASSERT(u.user == NULL);
    ASSERT_STREQ(u.pass, "onlyPassw0rd");
    ASSERT_STREQ(u.display, "redis://:***@h:1/0");
    haul_redis_url_free(&u);

    /* No colon: the whole user part is the password, as redis-cli reads it. */
    ASSERT_EQ(haul_redis_url_parse("redis://loneP4ssword@h:1/0", &u, err), 0);
    ASSERT(u.user == NULL);
    ASSERT_STREQ(u.pass, "loneP4ssword");
    ASSERT_STREQ(u.display, "redis://:***@h:1/0");
    haul_redis_url_free(&u);

    /* '@' in the password: the last '@' ends it. */
    ASSERT_EQ(haul_redis_url_parse("redis://bob:p@ss@word@h:1/2", &u, err), 0);
    ASSERT_STREQ(u.user, "bob");
    ASSERT_STREQ(u.pass, "p@ss@word");
    ASSERT_STREQ(u.host, "h");
    ASSERT_STREQ(u.display, "redis://bob:***@h:1/2");
    ASSERT(strstr(u.display, "p@ss@word") == NULL);
    haul_redis_url_free(&u);

    /* ':' in the password: the first ':' ends the user. */
    ASSERT_EQ(haul_redis_url_parse("redis://bob:a:b:c:d@h:1/2", &u, err), 0);
    ASSERT_STREQ(u.user, "bob");
    ASSERT_STREQ(u.pass, "a:b:c:d");
    ASSERT_EQ(u.port, 1);
    haul_redis_url_free(&u);

    /* The parser registers the password with the redactor. */
    char line[] = "AUTH failed for hunter2pass";
    haul_redact(line);
    ASSERT_STREQ(line, "AUTH failed for ***");
}

TEST(test_redis_url_errors)
{
    haul_redis_url u;
    char err[HAUL_ERR_LEN];

    ASSERT_EQ(haul_redis_url_parse("redis://h:abc/0", &u, err), -1);
    ASSERT_STREQ(err, "Redis URL: bad port 'abc' (expected redis://host:6379/0)");
    ASSERT(u.host == NULL && u.pass == NULL && u.display == NULL);
    ASSERT_EQ(haul_redis_url_parse("redis://h:0", &u, err), -1);
    ASSERT_STREQ(err, "Redis URL: bad port '0' (expected redis://host:6379/0)");
    ASSERT_EQ(haul_redis_url_parse("redis://h:65536", &u, err), -1);
    ASSERT_STREQ(err, "Redis URL: bad port '65536' (expected redis://host:6379/0)");
    ASSERT_EQ(haul_redis_url_parse("redis://h:/0", &u, err), -1);
    ASSERT_STREQ(err, "Redis URL: bad port '' (expected redis://host:6379/0)");
    ASSERT_EQ(haul_redis_url_parse("redis://h:65535", &u, err), 0);
    ASSERT_EQ(u.port, 65535);
    haul_redis_url_free(&u);

    /* An error about the port never shows the password. */
    ASSERT_EQ(haul_redis_url_parse("redis://:topSecretPw@h:x1/0", &u, err), -1);
    ASSERT_STREQ(err, "Redis URL: bad port 'x1' (expected redis://host:6379/0)");
    ASSERT(u.pass == NULL);

    ASSERT_EQ(haul_redis_url_parse("redis://h:1/x", &u, err), -1);
    ASSERT_STREQ(err, "Redis URL: bad database number 'x' (expected redis://host:6379/0)");
    ASSERT_EQ(haul_redis_url_parse("redis://h:1/-1", &u, err), -1);
    ASSERT_STREQ(err, "Redis URL: bad database number '-1' (expected redis://host:6379/0)");
    ASSERT_EQ(haul_redis_url_parse("redis://h:1/2x", &u, err), -1);
    ASSERT_STREQ(err, "Redis URL: bad database number '2x' (expected redis://host:6379/0)");

    ASSERT_EQ(haul_redis_url_parse("rediss://h:6379/0", &u, err), -1);
    ASSERT_STREQ(err, "Redis URL must start with redis:// (rediss:// TLS is not supported by hiredis 0.14: use a TLS tunnel)");
    ASSERT(strstr(err, "TLS") != NULL);
    ASSERT_EQ(haul_redis_url_parse("http://h:6379/0", &u, err), -1);
    ASSERT(strncmp(err, "Redis URL must start with redis://", 34) == 0);

    ASSERT_EQ(haul_redis_url_parse("", &u, err), -1);
    ASSERT(strstr(err, "HAUL_REDIS_URL") != NULL);
    ASSERT_EQ(haul_redis_url_parse(NULL, &u, err), -1);
    ASSERT(strstr(err, "HAUL_REDIS_URL") != NULL);
}

/* ---- log redaction ------------------------------------------------------ */

TEST(test_log_redact)
{
    haul_log_secret("s3cr3tvalue");
    haul_log_secret("s3cr3tvalue"); /* registering twice is harmless */
    char a[] = "s3cr3tvalue at start, twice s3cr3tvalues3cr3tvalue, end s3cr3tvalue";
    haul_redact(a);
    ASSERT_STREQ(a, "*** at start, twice ******, end ***");

    char b[] = "nothing to hide: s3cr3tvalu";
    haul_redact(b);
    ASSERT_STREQ(b, "nothing to hide: s3cr3tvalu");

    char e[] = "";
    haul_redact(e);
    ASSERT_STREQ(e, "");

    /* Short strings and NULL are not registered. */
    haul_log_secret("abc");
    haul_log_secret("");
    haul_log_secret(NULL);
    char c[] = "abc a b c abcabc";
    haul_redact(c);
    ASSERT_STREQ(c, "abc a b c abcabc");

    /* Exactly 4 bytes is long enough. */
    haul_log_secret("Wxq4");
    char d[] = "[Wxq4]";
    haul_redact(d);
    ASSERT_STREQ(d, "[***]");
}

/* ---- S3 requests -------------------------------------------------------- */

static void s3_conn(haul_conn *c, const char *endpoint)
{
    haul_conn_init(c);
    c->kind = HAUL_STORE_S3;
    c->s3.endpoint = haul_strdup(endpoint);
    c->s3.region = haul_strdup("us-east-1");
    c->s3.access_key = haul_strdup("test:tester");
    c->s3.secret_key = haul_strdup("testing");
}

/* The value of header `name` ("name: value"), or NULL. Case-sensitive on
 * purpose: haul chooses the spelling and these tests pin it. */
static const char *header(const struct curl_slist *l, const char *name)
{
    size_t n = strlen(name);
    for (; l; l = l->next)
        if (strncmp(l->data, name, n) == 0 && l->data[n] == ':' && l->data[n + 1] == ' ')
            return l->data + n + 2;
    return NULL;
}

static size_t header_count(const struct curl_slist *l)
{
    size_t n = 0;
    for (; l; l = l->next) n++;
    return n;
}

/* Whether d is the amz date of a moment within a few seconds of now. */
static int date_is_now(const char *d)
{
    char want[17];
    long long now = (long long)time(NULL);
    if (!d || strlen(d) != 16) return 0;
    for (long long t = now - 5; t <= now + 1; t++) {
        haul_amz_date(t, want);
        if (strcmp(want, d) == 0) return 1;
    }
    return 0;
}

/* Sign (method, decoded path, query, host) the way an S3 request must be
 * signed, with the date r carries, and compare with r's Authorization. */
static int signed_as(const haul_req *r, const haul_conn *c, const char *method,
                     const char *path, const haul_kv *q, size_t nq, const char *host,
                     char *url_path, size_t url_path_len)
{
    const char *date = header(r->headers, "x-amz-date");
    const char *authz = header(r->headers, "Authorization");
    haul_kv h[] = {
        {"host", host},
        {"x-amz-content-sha256", EMPTY_SHA256},
        {"x-amz-date", date},
    };
    haul_sigv4_req s = {
        .method = method, .path = path, .query = q, .nquery = nq,
        .headers = h, .nheaders = N(h), .payload_hash = EMPTY_SHA256,
        .amz_date = date, .region = c->s3.region, .service = "s3",
        .access_key = c->s3.access_key, .secret_key = c->s3.secret_key,
        .flags = HAUL_SIGV4_S3,
    };
    haul_sigv4_out o;
    char err[HAUL_ERR_LEN];
    if (!date || !authz) return 0;
    if (haul_sigv4_sign(&s, &o, err) < 0) {
        printf("  haul_sigv4_sign: %s\n", err);
        return 0;
    }
    int same = strcmp(o.authorization, authz) == 0;
    if (!same) printf("  Authorization:\n    got:  %s\n    want: %s\n", authz, o.authorization);
    if (url_path) snprintf(url_path, url_path_len, "%s", o.url_path);
    haul_sigv4_out_free(&o);
    return same;
}

TEST(test_s3_request_path_style)
{
    haul_conn c;
    haul_req r;
    char err[HAUL_ERR_LEN], url_path[256];
    const char *bucket = "LSST-IR-FUSION-testfromopenstack";
    s3_conn(&c, "http://127.0.0.1:8080");

    ASSERT_EQ(haul_store_request(&c, NULL, NULL, "GET", bucket, "dir/a b+c%.zip", NULL, 0, &r, err), 0);
    ASSERT_STREQ(r.url, "http://127.0.0.1:8080/LSST-IR-FUSION-testfromopenstack/dir/a%20b%2Bc%25.zip");
    ASSERT_EQ(r.head, 0);
    ASSERT_EQ(header_count(r.headers), 4);
    ASSERT_STREQ(header(r.headers, "host"), "127.0.0.1:8080");
    ASSERT_STREQ(header(r.headers, "x-amz-content-sha256"), EMPTY_SHA256);
    const char *date = header(r.headers, "x-amz-date");
    ASSERT(date_is_now(date));

    /* "AWS4-HMAC-SHA256 Credential=test:tester/<day>/us-east-1/s3/aws4_request, ..." */
    const char *authz = header(r.headers, "Authorization");
    char want[256];
    snprintf(want, sizeof want,
             "AWS4-HMAC-SHA256 Credential=test:tester/%.8s/us-east-1/s3/aws4_request, "
             "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=", date);
    ASSERT(authz != NULL);
    ASSERT(strncmp(authz, want, strlen(want)) == 0);
    ASSERT_EQ(strlen(authz), strlen(want) + 64);
    ASSERT(signed_as(&r, &c, "GET", "/LSST-IR-FUSION-testfromopenstack/dir/a b+c%.zip",
                     NULL, 0, "127.0.0.1:8080", url_path, sizeof url_path));
    /* What is sent is what was signed. */
    ASSERT_STREQ(r.url + strlen("http://127.0.0.1:8080"), url_path);
    haul_req_free(&r);
    ASSERT(r.url == NULL && r.headers == NULL);

    ASSERT_EQ(haul_store_request(&c, NULL, NULL, "HEAD", bucket, "k", NULL, 0, &r, err), 0);
    ASSERT_EQ(r.head, 1);
    ASSERT_STREQ(r.url, "http://127.0.0.1:8080/LSST-IR-FUSION-testfromopenstack/k");
    ASSERT(signed_as(&r, &c, "HEAD", "/LSST-IR-FUSION-testfromopenstack/k", NULL, 0,
                     "127.0.0.1:8080", NULL, 0));
    haul_req_free(&r);

    haul_req_free(NULL);
    haul_conn_clear(&c);
}

TEST(test_s3_request_unicode_key)
{
    haul_conn c;
    haul_req r;
    char err[HAUL_ERR_LEN];
    s3_conn(&c, "http://127.0.0.1:8080");
    ASSERT_EQ(haul_store_request(&c, NULL, NULL, "GET", "b", "\xc3\xbc/\xe6\x97\xa5\xe6\x9c\xac.txt",
                                 NULL, 0, &r, err), 0);
    ASSERT_STREQ(r.url, "http://127.0.0.1:8080/b/%C3%BC/%E6%97%A5%E6%9C%AC.txt");
    ASSERT(signed_as(&r, &c, "GET", "/b/\xc3\xbc/\xe6\x97\xa5\xe6\x9c\xac.txt", NULL, 0,
                     "127.0.0.1:8080", NULL, 0));
    haul_req_free(&r);

    /* S3 keys are not paths: "..", "." and "//" stay as they are. */
    ASSERT_EQ(haul_store_request(&c, NULL, NULL, "GET", "b", "a/../b//./c~_-.", NULL, 0, &r, err), 0);
    ASSERT_STREQ(r.url, "http://127.0.0.1:8080/b/a/../b//./c~_-.");
    haul_req_free(&r);
    haul_conn_clear(&c);
}

TEST(test_s3_request_default_port)
{
    haul_conn c;
    haul_req r;
    char err[HAUL_ERR_LEN];
    s3_conn(&c, "http://objects.example:80");
    ASSERT_EQ(haul_store_request(&c, NULL, NULL, "GET", "b", "k", NULL, 0, &r, err), 0);
    ASSERT_STREQ(r.url, "http://objects.example/b/k");
    ASSERT_STREQ(header(r.headers, "host"), "objects.example");
    ASSERT(signed_as(&r, &c, "GET", "/b/k", NULL, 0, "objects.example", NULL, 0));
    haul_req_free(&r);
    haul_conn_clear(&c);

    s3_conn(&c, "https://objects.example:443");
    ASSERT_EQ(haul_store_request(&c, NULL, NULL, "GET", "b", "k", NULL, 0, &r, err), 0);
    ASSERT_STREQ(r.url, "https://objects.example/b/k");
    ASSERT_STREQ(header(r.headers, "host"), "objects.example");
    haul_req_free(&r);
    haul_conn_clear(&c);

    /* 443 is not the default for http, nor 80 for https. */
    s3_conn(&c, "http://objects.example:443");
    ASSERT_EQ(haul_store_request(&c, NULL, NULL, "GET", "b", "k", NULL, 0, &r, err), 0);
    ASSERT_STREQ(header(r.headers, "host"), "objects.example:443");
    haul_req_free(&r);
    haul_conn_clear(&c);
    s3_conn(&c, "https://objects.example:80");
    ASSERT_EQ(haul_store_request(&c, NULL, NULL, "GET", "b", "k", NULL, 0, &r, err), 0);
    ASSERT_STREQ(header(r.headers, "host"), "objects.example:80");
    haul_req_free(&r);
    haul_conn_clear(&c);
}

TEST(test_s3_request_virtual_host)
{
    haul_conn c;
    haul_req r;
    char err[HAUL_ERR_LEN];
    s3_conn(&c, "http://s3.example:9000");
    c.s3.path_style = 0;
    ASSERT_EQ(haul_store_request(&c, NULL, NULL, "GET", "bkt", "dir/k 1", NULL, 0, &r, err), 0);
    ASSERT_STREQ(r.url, "http://bkt.s3.example:9000/dir/k%201");
    ASSERT_STREQ(header(r.headers, "host"), "bkt.s3.example:9000");
    ASSERT(signed_as(&r, &c, "GET", "/dir/k 1", NULL, 0, "bkt.s3.example:9000", NULL, 0));
    haul_req_free(&r);

    /* Without a bucket (the account's bucket list) the host is the endpoint's. */
    ASSERT_EQ(haul_store_request(&c, NULL, NULL, "GET", NULL, NULL, NULL, 0, &r, err), 0);
    ASSERT_STREQ(r.url, "http://s3.example:9000/");
    ASSERT_STREQ(header(r.headers, "host"), "s3.example:9000");
    haul_req_free(&r);
    haul_conn_clear(&c);
}

TEST(test_s3_request_base_path_and_token)
{
    haul_conn c;
    haul_req r;
    char err[HAUL_ERR_LEN];
    s3_conn(&c, "http://gw.example:8080/s3/");
    c.s3.session_token = haul_strdup("FQoGZXIvYXdzEXAMPLEtoken");
    ASSERT_EQ(haul_store_request(&c, NULL, NULL, "GET", "b", "k", NULL, 0, &r, err), 0);
    ASSERT_STREQ(r.url, "http://gw.example:8080/s3/b/k");
    ASSERT_STREQ(header(r.headers, "x-amz-security-token"), "FQoGZXIvYXdzEXAMPLEtoken");
    ASSERT(strstr(header(r.headers, "Authorization"),
                  ", SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, ") != NULL);
    haul_req_free(&r);
    haul_conn_clear(&c);
}

TEST(test_s3_list_request)
{
    haul_conn c;
    haul_req r;
    char err[HAUL_ERR_LEN];
    s3_conn(&c, "http://127.0.0.1:8080");

    ASSERT_EQ(haul_store_list_request(&c, NULL, NULL, "b", "dummy", "abc", 1000, &r, err), 0);
    ASSERT_STREQ(r.url, "http://127.0.0.1:8080/b?continuation-token=abc&encoding-type=url"
                        "&list-type=2&max-keys=1000&prefix=dummy");
    haul_kv q[] = {
        {"list-type", "2"}, {"max-keys", "1000"}, {"encoding-type", "url"},
        {"prefix", "dummy"}, {"continuation-token", "abc"},
    };
    ASSERT(signed_as(&r, &c, "GET", "/b", q, N(q), "127.0.0.1:8080", NULL, 0));
    haul_req_free(&r);

    /* Values are encoded; '/' too, in a query. */
    ASSERT_EQ(haul_store_list_request(&c, NULL, NULL, "b", "dir/a b", "1/x+y=", 5, &r, err), 0);
    ASSERT_STREQ(r.url, "http://127.0.0.1:8080/b?continuation-token=1%2Fx%2By%3D&encoding-type=url"
                        "&list-type=2&max-keys=5&prefix=dir%2Fa%20b");
    haul_req_free(&r);

    /* First page, no prefix. */
    ASSERT_EQ(haul_store_list_request(&c, NULL, NULL, "b", "", NULL, 5, &r, err), 0);
    ASSERT_STREQ(r.url, "http://127.0.0.1:8080/b?encoding-type=url&list-type=2&max-keys=5");
    haul_req_free(&r);

    /* The account's buckets. */
    ASSERT_EQ(haul_store_list_request(&c, NULL, NULL, NULL, NULL, NULL, 5, &r, err), 0);
    ASSERT_STREQ(r.url, "http://127.0.0.1:8080/");
    haul_req_free(&r);
    haul_conn_clear(&c);
}

TEST(test_s3_request_errors)
{
    haul_conn c;
    haul_req r;
    char err[HAUL_ERR_LEN];
    s3_conn(&c, "127.0.0.1:8080");
    ASSERT_EQ(haul_store_request(&c, NULL, NULL, "GET", "b", "k", NULL, 0, &r, err), -1);
    ASSERT_STREQ(err, "endpoint '127.0.0.1:8080' has no scheme (expected http://host:port or https://host)");
    ASSERT(r.url == NULL && r.headers == NULL);
    haul_conn_clear(&c);

    s3_conn(&c, "http://");
    ASSERT_EQ(haul_store_request(&c, NULL, NULL, "GET", "b", "k", NULL, 0, &r, err), -1);
    ASSERT_STREQ(err, "endpoint 'http://' has no host");
    haul_conn_clear(&c);

    haul_conn_init(&c);
    ASSERT_EQ(haul_store_request(&c, NULL, NULL, "GET", "b", "k", NULL, 0, &r, err), -1);
    ASSERT_STREQ(err, "no store kind set (use --s3 ENDPOINT or --swift)");
}

/* ---- Swift requests ----------------------------------------------------- */

TEST(test_swift_request)
{
    haul_conn c;
    haul_req r;
    char err[HAUL_ERR_LEN];
    const char *surl = "http://h:8080/v1/AUTH_test";
    haul_conn_init(&c);
    c.kind = HAUL_STORE_SWIFT;

    ASSERT_EQ(haul_store_request(&c, "tok", surl, "GET", "CONT", "dir/a b+c.zip", NULL, 0, &r, err), 0);
    ASSERT_STREQ(r.url, "http://h:8080/v1/AUTH_test/CONT/dir/a%20b%2Bc.zip");
    ASSERT_EQ(header_count(r.headers), 1);
    ASSERT_STREQ(r.headers->data, "X-Auth-Token: tok");
    ASSERT_EQ(r.head, 0);
    haul_req_free(&r);

    /* A trailing '/' on the storage URL is not doubled; HEAD is marked. */
    ASSERT_EQ(haul_store_request(&c, "tok", "http://h:8080/v1/AUTH_test/", "HEAD", "CONT",
                                 "\xc3\xbc.txt", NULL, 0, &r, err), 0);
    ASSERT_STREQ(r.url, "http://h:8080/v1/AUTH_test/CONT/%C3%BC.txt");
    ASSERT_EQ(r.head, 1);
    haul_req_free(&r);

    /* Container level. */
    ASSERT_EQ(haul_store_request(&c, "tok", surl, "HEAD", "CONT", NULL, NULL, 0, &r, err), 0);
    ASSERT_STREQ(r.url, "http://h:8080/v1/AUTH_test/CONT");
    haul_req_free(&r);

    ASSERT_EQ(haul_store_request(&c, NULL, surl, "GET", "CONT", "k", NULL, 0, &r, err), -1);
    ASSERT_STREQ(err, "Swift request without a token (internal error)");
    ASSERT(r.url == NULL);
}

TEST(test_swift_list_request)
{
    haul_conn c;
    haul_req r;
    char err[HAUL_ERR_LEN];
    const char *surl = "http://h:8080/v1/AUTH_test";
    haul_conn_init(&c);
    c.kind = HAUL_STORE_SWIFT;

    ASSERT_EQ(haul_store_list_request(&c, "tok", surl, "CONT", "dir/x y", "dir/m+n", 100, &r, err), 0);
    ASSERT_STREQ(r.url, "http://h:8080/v1/AUTH_test/CONT?format=json&limit=100"
                        "&prefix=dir%2Fx%20y&marker=dir%2Fm%2Bn");
    ASSERT_STREQ(header(r.headers, "X-Auth-Token"), "tok");
    haul_req_free(&r);

    ASSERT_EQ(haul_store_list_request(&c, "tok", surl, "CONT", NULL, NULL, 1000, &r, err), 0);
    ASSERT_STREQ(r.url, "http://h:8080/v1/AUTH_test/CONT?format=json&limit=1000");
    haul_req_free(&r);

    /* The account's containers. */
    ASSERT_EQ(haul_store_list_request(&c, "tok", surl, NULL, NULL, "c9", 10, &r, err), 0);
    ASSERT_STREQ(r.url, "http://h:8080/v1/AUTH_test?format=json&limit=10&marker=c9");
    haul_req_free(&r);
}

/* ---- error sentences ---------------------------------------------------- */

#define S3_ERR(code, msg) \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" code "</Code>" \
    "<Message>" msg "</Message><RequestId>tx0001</RequestId></Error>"

TEST(test_store_error_s3)
{
    haul_conn c;
    char err[HAUL_ERR_LEN];
    const char *body;
    s3_conn(&c, "http://127.0.0.1:8080");

    body = S3_ERR("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.");
    haul_store_error(&c, "GET b/k", 403, body, strlen(body), err);
    ASSERT_STREQ(err, "S3 GET b/k: 403 SignatureDoesNotMatch (check the secret key and region)");

    body = S3_ERR("NoSuchKey", "The specified key does not exist.");
    haul_store_error(&c, "GET b/k", 404, body, strlen(body), err);
    ASSERT_STREQ(err, "S3 GET b/k: 404 NoSuchKey");

    body = S3_ERR("NoSuchBucket", "The specified bucket does not exist.");
    haul_store_error(&c, "GET b/k", 404, body, strlen(body), err);
    ASSERT_STREQ(err, "S3 GET b/k: 404 NoSuchBucket (check the bucket name, and that it belongs to these credentials' account)");

    body = S3_ERR("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");
    haul_store_error(&c, "GET b/k", 403, body, strlen(body), err);
    ASSERT_STREQ(err, "S3 GET b/k: 403 InvalidAccessKeyId (check the access key)");

    /* HEAD answers have no body. */
    haul_store_error(&c, "HEAD b/k", 403, NULL, 0, err);
    ASSERT_STREQ(err, "S3 HEAD b/k: 403 Forbidden (check the access key, secret key and region)");
    ASSERT(strstr(err, "check the access key, secret key and region") != NULL);
    haul_store_error(&c, "HEAD b/k", 404, NULL, 0, err);
    ASSERT_STREQ(err, "S3 HEAD b/k: 404 Not Found");

    /* A body that is not an S3 error document: the status speaks. */
    body = "<html><body>Bad Gateway</body></html>";
    haul_store_error(&c, "GET b/k", 502, body, strlen(body), err);
    ASSERT_STREQ(err, "S3 GET b/k: 502 Bad Gateway");
    haul_store_error(&c, "GET b/k", 418, NULL, 0, err);
    ASSERT_STREQ(err, "S3 GET b/k: 418 HTTP error");
    haul_conn_clear(&c);
}

TEST(test_store_error_swift)
{
    haul_conn c;
    char err[HAUL_ERR_LEN];
    haul_conn_init(&c);
    c.kind = HAUL_STORE_SWIFT;
    const char *body = "<html><h1>Unauthorized</h1><p>This server could not verify that you are authorized.</p></html>";
    haul_store_error(&c, "GET CONT/k", 401, body, strlen(body), err);
    ASSERT_STREQ(err, "Swift GET CONT/k: 401 Unauthorized (check the user and key, ST_USER and ST_KEY, or the token)");
    ASSERT(strstr(err, "ST_USER and ST_KEY") != NULL);
    haul_store_error(&c, "GET CONT/k", 403, NULL, 0, err);
    ASSERT_STREQ(err, "Swift GET CONT/k: 403 Forbidden (this account may not read it)");
    haul_store_error(&c, "GET CONT/k", 404, NULL, 0, err);
    ASSERT_STREQ(err, "Swift GET CONT/k: 404 Not Found");
    haul_store_error(&c, "GET CONT/k", 503, NULL, 0, err);
    ASSERT_STREQ(err, "Swift GET CONT/k: 503 Service Unavailable");
    /* A 4xx's own words: a quota's plain text; an HTML page's text with its
     * tags, control bytes and non-ASCII dropped, cut to 127 bytes. */
    const char *quota = "Upload exceeds quota.";
    haul_store_error(&c, "PUT CONT/k", 413, quota, strlen(quota), err);
    ASSERT_STREQ(err, "Swift PUT CONT/k: 413 Request Entity Too Large: Upload exceeds quota. (a quota of the "
                      "container or the account is full, or the object is larger than the store takes)");
    const char *page = "<html><h1>Conflict</h1>\r\n<p>There was a\x1b[31m conflict \xc3\xa9\n"
                       "when trying to complete your request.</p></html>";
    haul_store_error(&c, "PUT CONT/k", 409, page, strlen(page), err);
    ASSERT_STREQ(err, "Swift PUT CONT/k: 409 HTTP error: Conflict There was a [31m conflict when trying to "
                      "complete your request.");
    char big[600];
    memset(big, 'x', sizeof big);
    haul_store_error(&c, "PUT CONT/k", 400, big, sizeof big, err);
    ASSERT_EQ(strlen(err), strlen("Swift PUT CONT/k: 400 Bad Request: ") + 127);
}

TEST(test_store_error_redacts)
{
    haul_conn c;
    char err[HAUL_ERR_LEN];
    const char *body;
    s3_conn(&c, "http://127.0.0.1:8080");
    haul_log_secret("Zk9SecretEcho");

    /* A server that echoes the secret back in its message. */
    body = S3_ERR("AccessDenied", "Access denied for key Zk9SecretEcho");
    haul_store_error(&c, "GET b/k", 403, body, strlen(body), err);
    ASSERT_STREQ(err, "S3 GET b/k: 403 AccessDenied (these credentials may not read it)");
    ASSERT(strstr(err, "Zk9SecretEcho") == NULL);

    /* ... or in a field that does reach the sentence. */
    body = S3_ERR("Zk9SecretEcho", "odd server");
    haul_store_error(&c, "GET b/k", 400, body, strlen(body), err);
    ASSERT_STREQ(err, "S3 GET b/k: 400 ***");
    haul_store_error(&c, "GET b/Zk9SecretEcho.txt", 404, NULL, 0, err);
    ASSERT_STREQ(err, "S3 GET b/***.txt: 404 Not Found");
    haul_conn_clear(&c);

    haul_conn_init(&c);
    c.kind = HAUL_STORE_SWIFT;
    haul_store_error(&c, "GET Zk9SecretEcho/k", 401, NULL, 0, err);
    ASSERT(strncmp(err, "Swift GET ***/k: 401 Unauthorized", 33) == 0);
}

TEST(test_store_transient)
{
    static const long yes[] = {0, 408, 429, 500, 502, 503, 504};
    static const long no[] = {200, 206, 304, 400, 401, 403, 404, 416, 501};
    for (size_t i = 0; i < N(yes); i++)
        if (!haul_store_transient(yes[i])) FAIL_("haul_store_transient(%ld) should be 1", yes[i]);
    for (size_t i = 0; i < N(no); i++)
        if (haul_store_transient(no[i])) FAIL_("haul_store_transient(%ld) should be 0", no[i]);
}

/* ---- connection descriptions -------------------------------------------- */

TEST(test_conn_describe_s3)
{
    haul_conn c;
    char out[256];
    s3_conn(&c, "http://127.0.0.1:8080");
    free(c.s3.secret_key);
    c.s3.secret_key = haul_strdup("wJalrDescribeSecretKEY");
    c.s3.session_token = haul_strdup("SessionTokDescribe42");
    haul_conn_describe(&c, out, sizeof out);
    ASSERT_STREQ(out, "s3 http://127.0.0.1:8080 region us-east-1");
    ASSERT(strstr(out, "wJalrDescribeSecretKEY") == NULL);
    ASSERT(strstr(out, "SessionTokDescribe42") == NULL);
    ASSERT(strstr(out, "test:tester") == NULL);

    c.s3.path_style = 0;
    c.tls_verify = 0;
    c.ca_file = haul_strdup("/etc/haul/ca.pem");
    haul_conn_describe(&c, out, sizeof out);
    ASSERT_STREQ(out, "s3 http://127.0.0.1:8080 region us-east-1 virtual-hosted tls-verify off ca-file /etc/haul/ca.pem");
    ASSERT(strstr(out, "wJalrDescribeSecretKEY") == NULL);

    /* Truncated, still terminated. */
    haul_conn_describe(&c, out, 8);
    ASSERT_STREQ(out, "s3 http");
    haul_conn_clear(&c);

    haul_conn_init(&c);
    haul_conn_describe(&c, out, sizeof out);
    ASSERT_STREQ(out, "none");
}

TEST(test_conn_describe_swift)
{
    haul_conn c;
    char out[256];
    haul_conn_init(&c);
    c.kind = HAUL_STORE_SWIFT;
    c.swift.auth_url = haul_strdup("http://h:8080/auth/v1.0");
    c.swift.user = haul_strdup("test:tester");
    c.swift.key = haul_strdup("SwiftKeyDescribe77");
    haul_conn_describe(&c, out, sizeof out);
    ASSERT_STREQ(out, "swift http://h:8080/auth/v1.0 user test:tester");
    ASSERT(strstr(out, "SwiftKeyDescribe77") == NULL);
    haul_conn_clear(&c);

    c.kind = HAUL_STORE_SWIFT;
    c.swift.token = haul_strdup("AUTH_tkDescribe0123456789");
    c.swift.storage_url = haul_strdup("http://h:8080/v1/AUTH_test");
    haul_conn_describe(&c, out, sizeof out);
    ASSERT_STREQ(out, "swift http://h:8080/v1/AUTH_test (pre-issued token)");
    ASSERT(strstr(out, "AUTH_tkDescribe0123456789") == NULL);
    haul_conn_clear(&c);
}

/* Regressions for bugs found while writing these tests. */
TEST(test_regress_url_password_with_slash)
{
    haul_redis_url u;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(haul_redis_url_parse("redis://:ab/cdEFGH@h:1/3", &u, err), 0);
    ASSERT_STREQ(u.pass, "ab/cdEFGH");
    ASSERT_STREQ(u.host, "h");
    ASSERT_EQ(u.port, 1);
    ASSERT_EQ(u.db, 3);
    ASSERT(strstr(u.display, "ab/cd") == NULL);
    haul_redis_url_free(&u);
}

TEST(test_regress_int_suffix_overflow)
{
    cfg c;
    char err[HAUL_ERR_LEN], *pos[4];
    cfg_init(&c);
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-max-inline=18014398509481984k"), -1);
    ASSERT(strstr(err, "--t-max-inline") != NULL);
    ASSERT_EQ(PARSE(&c, pos, 4, err, "--t-max-inline=9223372036854775807k"), -1);
    cfg_done(&c);
}

TEST(test_regress_too_many_names_the_extra_argument)
{
    cfg c;
    char err[HAUL_ERR_LEN], *pos[2];
    cfg_init(&c);
    ASSERT_EQ(PARSE(&c, pos, 2, err, "a", "b", "c", "--t-name", "x"), -1);
    ASSERT_STREQ(err, "too many arguments (unexpected 'c')");
    cfg_done(&c);
}

TEST(test_regress_redact_longest_first)
{
    char s[] = "x abcdSECRETTAIL y";
    haul_log_secret("abcd");
    haul_log_secret("abcdSECRETTAIL");
    haul_redact(s);
    ASSERT_STREQ(s, "x *** y");
    haul_redact(NULL);
}

/* ---- the edges: list options, the endpoint allowlist, auth answers, log cuts ---- */

TEST(test_config_list)
{
    char *allow = NULL, err[HAUL_ERR_LEN];
    haul_opt o[] = {
        {"t-allow", HAUL_OPT_LIST, &allow, NULL, 0, 0, NULL, "HOST", "hosts", 0},
        {0},
    };
    unsetenv("HAUL_T_ALLOW");
    ASSERT_EQ(haul_opts_parse(o, 1, (char *[]){"prog", NULL}, 1, NULL, 0, err), 0);
    ASSERT(allow == NULL);
    setenv("HAUL_T_ALLOW", "env1,env2", 1);
    ASSERT_EQ(haul_opts_parse(o, 1, (char *[]){"prog", NULL}, 1, NULL, 0, err), 0);
    ASSERT_STREQ(allow, "env1,env2");
    /* Flags win over the variable, and repeated flags add up. */
    ASSERT_EQ(haul_opts_parse(o, 4, (char *[]){"prog", "--t-allow", "a:1", "--t-allow=*.b", NULL},
                              1, NULL, 0, err), 0);
    ASSERT_STREQ(allow, "a:1,*.b");
    unsetenv("HAUL_T_ALLOW");
    haul_opts_free(o);
    ASSERT(allow == NULL);
}

TEST(test_url_allowed)
{
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(haul_url_allowed("http://store:8080/v1/AUTH_x", NULL, err), 0);
    ASSERT_EQ(haul_url_allowed("http://store:8080/v1/AUTH_x", "", err), 0);
    ASSERT_EQ(haul_url_allowed("http://store:8080/v1/AUTH_x", "store:8080", err), 0);
    ASSERT_EQ(haul_url_allowed("http://store:8080/v1/AUTH_x", "store", err), 0);     /* any port */
    ASSERT_EQ(haul_url_allowed("https://s3.eu.example.org/b/k", "*.example.org:443", err), 0);
    ASSERT_EQ(haul_url_allowed("https://S3.EU.Example.ORG/b/k", "*.example.org", err), 0);
    ASSERT_EQ(haul_url_allowed("http://[::1]:8080/x", "[::1]:8080", err), 0);
    ASSERT_EQ(haul_url_allowed("http://10.0.0.5/x", "store:8080, 10.0.0.*:80", err), 0);
    ASSERT_EQ(haul_url_allowed("http://store:8081/x", "store:8080", err), -1);
    ASSERT_STREQ(err, "store:8081 is not an endpoint this worker may contact (--allow-endpoint store:8080)");
    ASSERT_EQ(haul_url_allowed("http://evil.example.org.attacker.net/x", "*.example.org", err), -1);
    ASSERT_EQ(haul_url_allowed("http://127.0.0.1:6379/", "127.0.0.1:8080,store", err), -1);
    ASSERT_EQ(haul_url_allowed("http://store:80/x", "store:8O", err), -1);       /* not a port */
    ASSERT_EQ(haul_url_allowed("not a url", "store", err), -1);
    ASSERT_HAS(err, "cannot tell the host");
}

TEST(test_swift_auth_answer_checked)
{
    haul_conn c;
    haul_conn_init(&c);
    c.kind = HAUL_STORE_SWIFT;
    c.swift.auth_url = haul_strdup("http://auth.example:8080/auth/v1.0");
    c.swift.user = haul_strdup("acct:user");
    c.swift.key = haul_strdup("kAuthAnswerKey");
    static const char *const refused[] = {
        "gopher://127.0.0.1:6379/_SET%20pwned%201", "dict://127.0.0.1:6379/SET:pwned:1",
        "file:///etc/passwd", "ftp://h/x", "http:///v1/AUTH_x", "http://", "//h/v1", "h:80/v1",
    };
    char err[HAUL_ERR_LEN];
    const char *tok, *url;
    for (size_t i = 0; i < N(refused); i++) {
        haul_swift_auth a = {HAUL_BUF_INIT, HAUL_BUF_INIT, 0};
        haul_buf_adds(&a.token, "AUTH_tkAnswer0001");
        haul_buf_adds(&a.url, refused[i]);
        if (haul_swift_auth_finish(&c, CURLE_OK, 200, &a, 0, &tok, &url, err) == 0)
            FAIL_("storage URL '%s' accepted", refused[i]);
        if (!strstr(err, "is not http:// or https:// to a host")) FAIL_("'%s': %s", refused[i], err);
        haul_swift_auth_reset(&a);
        ASSERT_EQ(haul_swift_cached(&c, 0, &tok, &url), 0);   /* nothing was cached */
    }
    haul_swift_auth a = {HAUL_BUF_INIT, HAUL_BUF_INIT, 0};
    haul_buf_adds(&a.token, "AUTH_tkAnswer0001");
    haul_buf_adds(&a.url, "HTTPS://store.example/v1/AUTH_x");
    ASSERT_EQ(haul_swift_auth_finish(&c, CURLE_OK, 200, &a, 0, &tok, &url, err), 0);
    ASSERT_STREQ(tok, "AUTH_tkAnswer0001");
    ASSERT_STREQ(url, "HTTPS://store.example/v1/AUTH_x");
    ASSERT_EQ(haul_swift_cached(&c, 0, &tok, &url), 1);
    haul_swift_auth_reset(&a);
    /* A refused key, and an answer without the headers. */
    ASSERT_EQ(haul_swift_auth_finish(&c, CURLE_OK, 401, &a, 0, &tok, &url, err), -1);
    ASSERT_STREQ(err, "Swift auth at http://auth.example:8080/auth/v1.0 as acct:user: 401 Unauthorized "
                      "(check the user and key: ST_USER/ST_KEY or --user/--key)");
    ASSERT_EQ(haul_swift_auth_finish(&c, CURLE_OK, 200, &a, 0, &tok, &url, err), -1);
    ASSERT_HAS(err, "without X-Auth-Token/X-Storage-Url");
    ASSERT(!strstr(err, "kAuthAnswerKey"));
    haul_swift_cache_clear();
    haul_conn_clear(&c);
}

/* A secret that straddles the place where a long log line is cut is
 * redacted whole: the line is redacted first, then cut. */
TEST(test_log_cut_after_redaction)
{
    char path[] = "/tmp/haul-test-log.XXXXXX", buf[8192];
    int fd = mkstemp(path), saved = dup(2);
    ASSERT(fd >= 0 && saved >= 0);
    haul_log_secret("CutSecretValue-0123456789");
    char *pad = haul_malloc(HAUL_LOG_LINE_MAX);
    /* Unredacted, the cut would fall inside the secret; redacted, the line fits. */
    memset(pad, 'a', HAUL_LOG_LINE_MAX - 17);
    pad[HAUL_LOG_LINE_MAX - 17] = '\0';
    fflush(stderr);
    dup2(fd, 2);
    log_error("%s CutSecretValue-0123456789 and more", pad);
    log_error("%s%s", pad, pad); /* over the limit: cut, and marked */
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    unlink(path);
    free(pad);
    ASSERT(n > 0);
    buf[n] = '\0';
    ASSERT(strstr(buf, "CutSec") == NULL);
    ASSERT(strstr(buf, " *** and more") != NULL);
    char *second = strchr(buf, '\n');
    ASSERT(second && strstr(second, "...\n") != NULL);
}

int main(void)
{
    RUN(test_config_env_name);
    RUN(test_config_defaults);
    RUN(test_config_env_overrides_default);
    RUN(test_config_alt_env);
    RUN(test_config_flag_wins_over_env);
    RUN(test_config_value_forms);
    RUN(test_config_bool);
    RUN(test_config_set);
    RUN(test_config_int);
    RUN(test_config_errors);
    RUN(test_config_positionals);
    RUN(test_config_too_many_positionals);
    RUN(test_config_secret_is_redacted);
    RUN(test_config_list);
    RUN(test_url_allowed);
    RUN(test_swift_auth_answer_checked);
    RUN(test_log_cut_after_redaction);

    RUN(test_redis_url_full);
    RUN(test_redis_url_defaults);
    RUN(test_redis_url_auth);
    RUN(test_redis_url_errors);

    RUN(test_log_redact);

    RUN(test_s3_request_path_style);
    RUN(test_s3_request_unicode_key);
    RUN(test_s3_request_default_port);
    RUN(test_s3_request_virtual_host);
    RUN(test_s3_request_base_path_and_token);
    RUN(test_s3_list_request);
    RUN(test_s3_request_errors);

    RUN(test_swift_request);
    RUN(test_swift_list_request);

    RUN(test_store_error_s3);
    RUN(test_store_error_swift);
    RUN(test_store_error_redacts);
    RUN(test_store_transient);

    RUN(test_conn_describe_s3);
    RUN(test_conn_describe_swift);
    RUN(test_regress_url_password_with_slash);
    RUN(test_regress_int_suffix_overflow);
    RUN(test_regress_too_many_names_the_extra_argument);
    RUN(test_regress_redact_longest_first);
    TEST_DONE();
}
