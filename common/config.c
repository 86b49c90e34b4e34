/* config.c -- option table parsing (see config.h). */
#include "config.h"
#include "buf.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void haul_opt_env_name(const char *name, char *out, size_t outlen)
{
    size_t j = 0;
    const char *pre = "HAUL_";
    while (*pre && j + 1 < outlen) out[j++] = *pre++;
    for (; *name && j + 1 < outlen; name++)
        out[j++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
    out[j] = '\0';
}

static int parse_bool(const char *v, int *out)
{
    if (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
        *out = 1;
    else if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off"))
        *out = 0;
    else
        return -1;
    return 0;
}

/* Set one option from text; src says where the text came from, for errors. */
static int set_value(haul_opt *o, const char *v, const char *src, char *err)
{
    switch (o->type) {
    case HAUL_OPT_STR:
    case HAUL_OPT_LIST:
    case HAUL_OPT_LINES:
    case HAUL_OPT_SECRET: {
        char **p = o->ptr;
        if ((o->type == HAUL_OPT_LIST || o->type == HAUL_OPT_LINES) && o->seen == 1 && *p) {
            haul_buf b = HAUL_BUF_INIT; /* a flag again: add to it */
            haul_buf_printf(&b, "%s%c%s", *p, o->type == HAUL_OPT_LINES ? '\n' : ',', v);
            free(*p);
            *p = haul_buf_detach(&b);
            return 0;
        }
        if (o->type == HAUL_OPT_SECRET) haul_free_secret(*p);
        else free(*p);
        *p = haul_strdup(v);
        if (o->type == HAUL_OPT_SECRET) haul_log_secret(v);
        return 0;
    }
    case HAUL_OPT_INT: {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        /* Accept a k/M/G suffix for sizes: 64k, 1M. */
        if (end != v && !errno) {
            long long mult = *end == 'k' || *end == 'K' ? 1024 : *end == 'M' ? 1024 * 1024 :
                             *end == 'G' ? 1024LL * 1024 * 1024 : 1;
            if (mult > 1) {
                end++;
                if (n > LLONG_MAX / mult || n < LLONG_MIN / mult) errno = ERANGE;
                else n *= mult;
            }
        }
        if (end == v || *end || errno) {
            snprintf(err, HAUL_ERR_LEN, "%s: '%s' is not a whole number", src, v);
            return -1;
        }
        if (n < o->min || n > o->max) {
            /* A size limit also in the units people think in: "64 MiB". */
            char unit[48] = "";
            if (o->metavar && !strcmp(o->metavar, "BYTES") && o->max >= 1024 && o->max % 1024 == 0)
                snprintf(unit, sizeof unit, " bytes, %lld %s", o->max % (1LL << 20) ? o->max >> 10 : o->max >> 20,
                         o->max % (1LL << 20) ? "KiB" : "MiB");
            snprintf(err, HAUL_ERR_LEN, "%s: %lld is out of range (%lld..%lld%s)", src, n, o->min, o->max, unit);
            return -1;
        }
        *(long long *)o->ptr = n;
        return 0;
    }
    case HAUL_OPT_BOOL:
        if (parse_bool(v, o->ptr) < 0) {
            snprintf(err, HAUL_ERR_LEN, "%s: '%s' is not a boolean (use 1/0, true/false, yes/no)", src, v);
            return -1;
        }
        return 0;
    case HAUL_OPT_SET:
        *(int *)o->ptr = (int)o->max;
        return 0;
    }
    return 0;
}

static haul_opt *find(haul_opt *opts, const char *name, size_t n)
{
    for (haul_opt *o = opts; o->name; o++)
        if (strlen(o->name) == n && strncmp(o->name, name, n) == 0) return o;
    return NULL;
}

static int too_many(const char *arg, char *err)
{
    snprintf(err, HAUL_ERR_LEN, "too many arguments (unexpected '%s')", arg);
    return -1;
}

int haul_opts_parse(haul_opt *opts, int argc, char **argv, int start,
                    char **pos, int maxpos, char *err)
{
    char src[128], env[96];
    int npos = 0;

    for (haul_opt *o = opts; o->name; o++) {
        o->seen = 0;
        if (o->def && o->type != HAUL_OPT_SET) {
            snprintf(src, sizeof src, "default of --%s", o->name);
            if (set_value(o, o->def, src, err) < 0) return -1;
        }
    }
    for (haul_opt *o = opts; o->name; o++) {
        if (o->type == HAUL_OPT_SET) continue;
        haul_opt_env_name(o->name, env, sizeof env);
        const char *name = env, *v = getenv(env);
        if ((!v || !*v) && o->alt_env) { name = o->alt_env; v = getenv(o->alt_env); }
        if (!v || !*v) continue;
        snprintf(src, sizeof src, "environment variable %s", name);
        if (set_value(o, v, src, err) < 0) return -1;
        o->seen = 2;
    }
    for (int i = start; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++) {
                if (npos >= maxpos) return too_many(argv[i], err);
                pos[npos++] = argv[i];
            }
            break;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (npos >= maxpos) return too_many(argv[i], err);
            pos[npos++] = argv[i];
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        haul_opt *o = find(opts, name, nlen);
        int negated = 0;
        if (!o && nlen > 3 && strncmp(name, "no-", 3) == 0) {
            o = find(opts, name + 3, nlen - 3);
            if (o && o->type != HAUL_OPT_BOOL) o = NULL;
            negated = 1;
        }
        if (!o) {
            snprintf(err, HAUL_ERR_LEN, "unknown option --%.*s (see --help)", (int)nlen, name);
            return -1;
        }
        snprintf(src, sizeof src, "--%s", o->name);
        if (o->type == HAUL_OPT_BOOL || o->type == HAUL_OPT_SET) {
            if (eq) {
                if (o->type == HAUL_OPT_SET || negated) {
                    snprintf(err, HAUL_ERR_LEN, "--%.*s takes no value", (int)nlen, name);
                    return -1;
                }
                if (set_value(o, eq + 1, src, err) < 0) return -1;
            } else if (o->type == HAUL_OPT_BOOL) {
                *(int *)o->ptr = !negated;
            } else {
                set_value(o, "", src, err);
            }
        } else {
            const char *v = eq ? eq + 1 : NULL;
            if (!v) {
                if (i + 1 >= argc) {
                    snprintf(err, HAUL_ERR_LEN, "--%s needs a value (%s)", o->name,
                             o->metavar ? o->metavar : "VALUE");
                    return -1;
                }
                v = argv[++i];
            }
            if (set_value(o, v, src, err) < 0) return -1;
        }
        o->seen = 1;
    }
    return npos;
}

void haul_opts_usage(FILE *f, const haul_opt *opts)
{
    char env[96], left[64];
    for (const haul_opt *o = opts; o->name; o++) {
        if (o->type == HAUL_OPT_STR || o->type == HAUL_OPT_SECRET || o->type == HAUL_OPT_INT ||
            o->type == HAUL_OPT_LIST || o->type == HAUL_OPT_LINES)
            snprintf(left, sizeof left, "--%s %s", o->name, o->metavar ? o->metavar : "VALUE");
        else if (o->type == HAUL_OPT_BOOL)
            snprintf(left, sizeof left, "--[no-]%s", o->name);
        else
            snprintf(left, sizeof left, "--%s", o->name);
        fprintf(f, "  %-26s %s", left, o->help);
        int paren = 0;
        if (o->def && o->type != HAUL_OPT_SET && o->type != HAUL_OPT_SECRET) {
            fprintf(f, " (default: %s", *o->def ? o->def : "\"\"");
            paren = 1;
        }
        if (o->type != HAUL_OPT_SET) {
            haul_opt_env_name(o->name, env, sizeof env);
            fprintf(f, "%s%s%s%s", paren ? "; " : " (", env, o->alt_env ? ", " : "",
                    o->alt_env ? o->alt_env : "");
            paren = 1;
        }
        fprintf(f, "%s\n", paren ? ")" : "");
    }
}

void haul_opts_free(haul_opt *opts)
{
    for (haul_opt *o = opts; o->name; o++) {
        if (o->type == HAUL_OPT_STR || o->type == HAUL_OPT_SECRET || o->type == HAUL_OPT_LIST ||
            o->type == HAUL_OPT_LINES) {
            char **p = o->ptr;
            if (o->type == HAUL_OPT_SECRET) haul_free_secret(*p);
            else free(*p);
            *p = NULL;
        }
    }
}
