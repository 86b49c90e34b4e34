/* sources.c -- a directory walked, "path<TAB>key" lines, a manifest CSV.
 * See sources.h. */
#define _GNU_SOURCE /* O_DIRECTORY, O_NOFOLLOW, fdopendir */
#include "sources.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "task.h"

/* ---- a directory, walked ------------------------------------------------- */

typedef struct level {
    int fd;                /* the directory, open */
    size_t rel_len;        /* its path's length in w->rel ("" for the root) */
    char **names;          /* its entries, sorted */
    size_t n, i;
} level;

struct haul_walk {
    char *root;
    level *lv;
    size_t depth, cap;
    haul_buf rel;          /* the path of the entry last given, relative to root */
};

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void level_free(level *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    if (l->fd >= 0) close(l->fd);
}

/* The path a sentence names: the root, and rel under it. */
static void where(const haul_walk *w, size_t rel_len, char *out, size_t outlen)
{
    if (!rel_len) snprintf(out, outlen, "%s", w->root);
    else snprintf(out, outlen, "%s/%.*s", w->root, (int)rel_len, w->rel.p);
}

/* Read the directory open at fd (taken) into a new level. */
static int push(haul_walk *w, int fd, size_t rel_len, char *err)
{
    char path[1024];
    if (fd < 0) {
        where(w, rel_len, path, sizeof path);
        snprintf(err, HAUL_ERR_LEN, "--from-dir: cannot read directory %s: %s (the job stops here "
                 "rather than leave its files out)", path, strerror(errno));
        return -1;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        errno = e;
        return push(w, -1, rel_len, err);
    }
    level l = {.fd = dup(fd), .rel_len = rel_len};
    size_t cap = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (l.n == cap) {
            cap = cap ? cap * 2 : 64;
            l.names = haul_realloc(l.names, cap * sizeof *l.names);
        }
        l.names[l.n++] = haul_strdup(de->d_name);
        errno = 0;
    }
    int e = errno;
    closedir(d);
    if (e || l.fd < 0) {
        level_free(&l);
        errno = e ? e : EMFILE;
        return push(w, -1, rel_len, err);
    }
    if (l.n) qsort(l.names, l.n, sizeof *l.names, cmp_names); /* an empty directory has no array */
    if (w->depth == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 8;
        w->lv = haul_realloc(w->lv, w->cap * sizeof *w->lv);
    }
    w->lv[w->depth++] = l;
    return 0;
}

haul_walk *haul_walk_new(const char *root, char *err)
{
    haul_walk *w = haul_calloc(1, sizeof *w);
    w->root = haul_strdup(root);
    /* The root may be a symbolic link to a directory: it is what was asked for. */
    if (push(w, open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), 0, err) < 0) {
        haul_walk_free(w);
        return NULL;
    }
    return w;
}

int haul_walk_next(haul_walk *w, const char **rel, char *err)
{
    long long size;
    return haul_walk_next_size(w, rel, &size, err);
}

int haul_walk_next_size(haul_walk *w, const char **rel, long long *size, char *err)
{
    while (w->depth) {
        level *l = &w->lv[w->depth - 1];
        if (l->i == l->n) {
            level_free(l);
            w->depth--;
            continue;
        }
        const char *name = l->names[l->i++];
        w->rel.len = l->rel_len;
        if (l->rel_len) haul_buf_addc(&w->rel, '/');
        haul_buf_adds(&w->rel, name);
        struct stat st;
        if (fstatat(l->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT) continue; /* removed since it was listed */
            char path[1024];
            where(w, w->rel.len, path, sizeof path);
            snprintf(err, HAUL_ERR_LEN, "--from-dir: cannot look at %s: %s", path, strerror(errno));
            return -1;
        }
        if (S_ISDIR(st.st_mode)) {
            int fd = openat(l->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (push(w, fd, w->rel.len, err) < 0) return -1;
            continue;
        }
        *rel = haul_buf_str(&w->rel);
        *size = S_ISREG(st.st_mode) ? (long long)st.st_size : -1;
        return 1;
    }
    return 0;
}

void haul_walk_free(haul_walk *w)
{
    if (!w) return;
    while (w->depth) level_free(&w->lv[--w->depth]);
    free(w->lv);
    free(w->root);
    haul_buf_free(&w->rel);
    free(w);
}

/* A control byte in s, or -1. */
static long control_at(const char *s)
{
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) return (long)(p - s);
    return -1;
}

int haul_put_key(const char *prefix, const char *rel, haul_buf *key, char *err)
{
    haul_buf_reset(key);
    if (prefix) haul_buf_adds(key, prefix);
    haul_buf_adds(key, rel);
    long at = control_at(haul_buf_str(key));
    if (at >= 0) {
        snprintf(err, HAUL_ERR_LEN, "'%.300s' holds the control byte 0x%02x at byte %ld: a key must not "
                 "(rename it, or list the files to send in --keys FILE)", haul_buf_str(key),
                 (unsigned char)key->p[at], at);
        return -1;
    }
    if (strlen(rel) > HAUL_STR_MAX) {
        snprintf(err, HAUL_ERR_LEN, "'%.200s...': a path of %zu bytes, the limit is %d", rel, strlen(rel),
                 HAUL_STR_MAX);
        return -1;
    }
    if (key->len > HAUL_KEY_MAX) {
        snprintf(err, HAUL_ERR_LEN, "'%.200s...': its key would be %zu bytes, the limit is %d", rel,
                 key->len, HAUL_KEY_MAX);
        return -1;
    }
    return 0;
}

/* ---- "path<TAB>key" lines ----------------------------------------------- */

int haul_pair_parse(char *line, const char *file, long long lineno, const char **path,
                    const char **key, char *err)
{
    char *tab = strchr(line, '\t');
    if (!tab) {
        snprintf(err, HAUL_ERR_LEN, "--keys %s, line %lld: no tab; for --op put each line is "
                 "PATH<TAB>KEY", file, lineno);
        return -1;
    }
    *tab = '\0';
    if (!*line || !tab[1]) {
        snprintf(err, HAUL_ERR_LEN, "--keys %s, line %lld: an empty %s; for --op put each line is "
                 "PATH<TAB>KEY", file, lineno, *line ? "key" : "path");
        return -1;
    }
    *path = line;
    *key = tab + 1;
    return 0;
}

/* ---- a manifest ---------------------------------------------------------- */

struct haul_manifest {
    FILE *f;
    char *name;
    haul_buf *fld;            /* the record's fields */
    size_t nfld, capfld;
    long long line;           /* the physical line the reader is on (1-based) */
    long long rec_line;       /* the line the last record started on */
    int col_key, col_size, col_md5, col_status; /* -1: none */
    int need;                 /* fields a record must have: the highest column + 1 */
    long long skipped;
    char md5[33];
};

/* Read one record into m->fld. 1, 0 at the end of the file, -1 (err). */
static int read_record(haul_manifest *m, char *err)
{
    int c = getc(m->f);
    if (c == EOF) return ferror(m->f) ? (snprintf(err, HAUL_ERR_LEN, "--manifest %s: reading it "
                                                  "failed: %s", m->name, strerror(errno)), -1) : 0;
    m->rec_line = m->line;
    m->nfld = 0;
    for (;;) { /* one field per turn */
        if (m->nfld == m->capfld) {
            m->capfld = m->capfld ? m->capfld * 2 : 16;
            m->fld = haul_realloc(m->fld, m->capfld * sizeof *m->fld);
            for (size_t i = m->nfld; i < m->capfld; i++) m->fld[i] = (haul_buf)HAUL_BUF_INIT;
        }
        haul_buf *f = &m->fld[m->nfld++];
        haul_buf_reset(f);
        haul_buf_add(f, "", 0);
        if (c == '"') {
            for (;;) {
                c = getc(m->f);
                if (c == EOF) {
                    snprintf(err, HAUL_ERR_LEN, "--manifest %s, line %lld: a quoted field is not closed "
                             "before the end of the file", m->name, m->rec_line);
                    return -1;
                }
                if (c == '\n') m->line++;
                if (c == '"') {
                    c = getc(m->f);
                    if (c != '"') break;
                }
                haul_buf_addc(f, (char)c);
            }
            if (c == '\r') c = getc(m->f);
            if (c != ',' && c != '\n' && c != EOF) {
                snprintf(err, HAUL_ERR_LEN, "--manifest %s, line %lld: a quoted field is followed by "
                         "'%c', not ',' or the end of the line", m->name, m->line, c);
                return -1;
            }
        } else {
            while (c != ',' && c != '\n' && c != EOF) {
                haul_buf_addc(f, (char)c);
                c = getc(m->f);
            }
            if (c != ',' && f->len && f->p[f->len - 1] == '\r') f->p[--f->len] = '\0'; /* CRLF */
        }
        if (c == ',') { c = getc(m->f); continue; }
        if (c == '\n') m->line++;
        return 1;
    }
}

static int is_col(const haul_buf *f, const char *name)
{
    return f->len == strlen(name) && !strcasecmp(f->p, name);
}

haul_manifest *haul_manifest_new(FILE *f, const char *name, char *err)
{
    haul_manifest *m = haul_calloc(1, sizeof *m);
    m->f = f;
    m->name = haul_strdup(name);
    m->line = 1;
    m->col_key = m->col_size = m->col_md5 = m->col_status = -1;
    int rc = read_record(m, err);
    if (rc <= 0) {
        if (rc == 0) snprintf(err, HAUL_ERR_LEN, "--manifest %s: empty (a header line naming the "
                              "columns key, size, md5 comes first)", name);
        goto fail;
    }
    if (m->fld[0].len >= 3 && !memcmp(m->fld[0].p, "\xEF\xBB\xBF", 3)) { /* a BOM */
        memmove(m->fld[0].p, m->fld[0].p + 3, m->fld[0].len - 2);
        m->fld[0].len -= 3;
    }
    for (size_t i = 0; i < m->nfld; i++) {
        int *col = is_col(&m->fld[i], "key") ? &m->col_key :
                   is_col(&m->fld[i], "size") || is_col(&m->fld[i], "bytes") ? &m->col_size :
                   is_col(&m->fld[i], "md5") ? &m->col_md5 :
                   is_col(&m->fld[i], "status") ? &m->col_status : NULL;
        if (col && *col < 0) *col = (int)i;
        if (col && *col + 1 > m->need) m->need = *col + 1;
    }
    if (m->col_key < 0) {
        snprintf(err, HAUL_ERR_LEN, "--manifest %s: its header (line 1) has no 'key' column; it needs "
                 "key, and size (or bytes) and md5 to check them", name);
        goto fail;
    }
    return m;
fail:
    haul_manifest_free(m);
    return NULL;
}

int haul_manifest_next(haul_manifest *m, const char **key, size_t *klen, long long *size,
                       const char **md5, char *err)
{
    for (;;) {
        int rc = read_record(m, err);
        if (rc <= 0) return rc;
        if (m->nfld == 1 && m->fld[0].len == 0) continue; /* an empty line */
        if ((int)m->nfld < m->need) {
            snprintf(err, HAUL_ERR_LEN, "--manifest %s, line %lld: %zu fields, the header names %d",
                     m->name, m->rec_line, m->nfld, m->need);
            return -1;
        }
        if (m->col_status >= 0) {
            const haul_buf *s = &m->fld[m->col_status];
            if (!is_col(s, "ok") && !is_col(s, "skipped")) {
                m->skipped++;
                continue;
            }
        }
        const haul_buf *k = &m->fld[m->col_key];
        if (!k->len || memchr(k->p, '\0', k->len)) {
            snprintf(err, HAUL_ERR_LEN, "--manifest %s, line %lld: %s key", m->name, m->rec_line,
                     k->len ? "a NUL byte in the" : "an empty");
            return -1;
        }
        *key = k->p;
        *klen = k->len;
        *size = -1;
        if (m->col_size >= 0 && m->fld[m->col_size].len) {
            const haul_buf *s = &m->fld[m->col_size];
            char *end;
            errno = 0;
            long long v = strtoll(s->p, &end, 10);
            if (!isdigit((unsigned char)s->p[0]) || *end || errno || v < 0) {
                snprintf(err, HAUL_ERR_LEN, "--manifest %s, line %lld: size '%.40s' is not a whole "
                         "number of bytes", m->name, m->rec_line, s->p);
                return -1;
            }
            *size = v;
        }
        m->md5[0] = '\0';
        if (m->col_md5 >= 0 && m->fld[m->col_md5].len) {
            const haul_buf *s = &m->fld[m->col_md5];
            if (s->len != 32 || strspn(s->p, "0123456789abcdefABCDEF") != 32) {
                snprintf(err, HAUL_ERR_LEN, "--manifest %s, line %lld: md5 '%.40s' is not 32 hex digits",
                         m->name, m->rec_line, s->p);
                return -1;
            }
            for (int i = 0; i < 32; i++) m->md5[i] = (char)tolower((unsigned char)s->p[i]);
            m->md5[32] = '\0';
        }
        *md5 = m->md5;
        return 1;
    }
}

long long haul_manifest_skipped(const haul_manifest *m)
{
    return m->skipped;
}

void haul_manifest_free(haul_manifest *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->capfld; i++) haul_buf_free(&m->fld[i]);
    free(m->fld);
    free(m->name);
    free(m);
}
