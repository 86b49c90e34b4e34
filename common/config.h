/* config.h -- options from flags, then environment, then defaults.
 *
 * Each program describes its options in one table of haul_opt (name, type,
 * default, limits, help), in the style of Redis' static_configs[]. For an
 * option "max-inline" the flag is --max-inline and the variable is
 * HAUL_MAX_INLINE; an option may also name a conventional variable of another
 * tool (ST_AUTH, AWS_SECRET_ACCESS_KEY) that is read when HAUL_... is unset.
 * Precedence: flag, HAUL_ variable, conventional variable, default.
 * A bad value is an error sentence that names the option. */
#ifndef HAUL_CONFIG_H
#define HAUL_CONFIG_H

#include <stdio.h>

typedef enum haul_opt_type {
    HAUL_OPT_STR,     /* char **: string, copied (free with haul_opts_free) */
    HAUL_OPT_SECRET,  /* char **: like STR, registered with the log redactor */
    HAUL_OPT_INT,     /* long long *: checked against min..max */
    HAUL_OPT_BOOL,    /* int *: --name sets 1, --no-name sets 0; env 1/0/true/false/yes/no */
    HAUL_OPT_SET,     /* int *: --name sets *ptr = (int)max; takes no value, no env */
    HAUL_OPT_LIST,    /* char **: like STR, but repeated flags add to it: "a,b" (the
                         variable holds the comma-separated list) */
    HAUL_OPT_LINES    /* char **: like LIST, joined with '\n' instead, for values that
                         may hold commas (the variable holds one per line) */
} haul_opt_type;

typedef struct haul_opt {
    const char *name;      /* "max-inline" */
    haul_opt_type type;
    void *ptr;
    const char *def;       /* default as text; NULL: none (string stays NULL) */
    long long min, max;    /* INT limits; SET: the value stored */
    const char *alt_env;   /* conventional variable, or NULL */
    const char *metavar;   /* "N", "URL" ... for --help */
    const char *help;
    int seen;              /* set by the parser: 1 flag, 2 env, 0 default */
} haul_opt;

/* Apply defaults, then environment, then argv[start..argc). Arguments that
 * are not options are collected, in order, into pos (at most maxpos).
 * "--" ends the options. Returns the number of positionals, or -1 with a
 * sentence in err (HAUL_ERR_LEN bytes) naming the offending option. */
int haul_opts_parse(haul_opt *opts, int argc, char **argv, int start,
                    char **pos, int maxpos, char *err);
/* Print "  --name METAVAR  help (default: X; env HAUL_NAME, ALT)" lines. */
void haul_opts_usage(FILE *f, const haul_opt *opts);
/* Free the strings the parser copied. */
void haul_opts_free(haul_opt *opts);
/* The option's environment variable name: "HAUL_MAX_INLINE". */
void haul_opt_env_name(const char *name, char *out, size_t outlen);

#endif
