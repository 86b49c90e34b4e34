/* collate.c -- small files packed into a zip with libzip (collate.h). */
#include "collate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

/* One member, as libzip's source: opened beneath the root only while
 * libzip reads it. */
typedef struct member {
    wfiles *in;
    const char *src_dir, *name;
    rfile f;
    long long size;
    time_t mtime;
    int known;             /* size and mtime are known (STAT) */
    zip_error_t zerr;
    char *err;             /* the build's sentence buffer (the first failure only) */
} member;

static void member_fail(member *m, const char *why)
{
    if (!m->err[0]) snprintf(m->err, HAUL_ERR_LEN, "%s", why);
    zip_error_set(&m->zerr, ZIP_ER_READ, EIO);
}

static int member_open(member *m)
{
    char why[HAUL_ERR_LEN];
    if (rfile_open(m->in, m->src_dir, m->name, &m->f, why) < 0) {
        member_fail(m, why);
        return -1;
    }
    return 0;
}

static zip_int64_t member_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
    member *m = ud;
    char why[HAUL_ERR_LEN];
    switch (cmd) {
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = ZIP_SOURCE_GET_ARGS(zip_stat_t, data, len, &m->zerr);
        if (!st) return -1;
        if (!m->known) {
            if (member_open(m) < 0) return -1;
            struct stat s;
            if (fstat(m->f.fd, &s) == 0) m->mtime = s.st_mtime;
            m->size = m->f.size;
            m->known = 1;
            rfile_close(&m->f);
        }
        zip_stat_init(st);
        st->size = (zip_uint64_t)m->size;
        st->mtime = m->mtime;
        st->valid = ZIP_STAT_SIZE | ZIP_STAT_MTIME;
        return sizeof *st;
    }
    case ZIP_SOURCE_OPEN:
        if (member_open(m) < 0) return -1;
        if (m->known && m->f.size != m->size) {
            snprintf(why, sizeof why, "%s changed while the zip was made", m->f.path);
            member_fail(m, why);
            return -1;
        }
        return 0;
    case ZIP_SOURCE_READ: {
        for (;;) {
            ssize_t got = read(m->f.fd, data, len);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) {
                snprintf(why, sizeof why, "cannot read %s: %s", m->f.path, strerror(errno));
                member_fail(m, why);
                return -1;
            }
            return got;
        }
    }
    case ZIP_SOURCE_CLOSE:
        rfile_close(&m->f);
        return 0;
    case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&m->zerr, data, len);
    case ZIP_SOURCE_FREE:
        rfile_close(&m->f);
        zip_error_fini(&m->zerr);
        return 0;
    case ZIP_SOURCE_SUPPORTS:
        return ZIP_SOURCE_SUPPORTS_READABLE;
    default:
        zip_error_set(&m->zerr, ZIP_ER_OPNOTSUPP, 0);
        return -1;
    }
}

int collate_build(wfiles *in, wfiles *out, const char *src_dir, char *const *members, size_t n,
                  rfile *zip, haul_buf *sidecar, char *err)
{
    static atomic_uint seq;
    member *ms = haul_calloc(n ? n : 1, sizeof *ms);
    haul_buf path = HAUL_BUF_INIT;
    zip_t *za = NULL;
    int zerrno = 0, rc = -1;

    err[0] = '\0';
    *zip = (rfile)RFILE_INIT;
    haul_buf_reset(sidecar);
    const char *root = wfiles_root(out);
    haul_buf_printf(&path, "%s%s.haul-zip-%d-%u.zip", root, strcmp(root, "/") ? "/" : "", (int)getpid(),
                    atomic_fetch_add(&seq, 1));
    if (!(za = zip_open(path.p, ZIP_CREATE | ZIP_EXCL, &zerrno))) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerrno);
        snprintf(err, HAUL_ERR_LEN, "cannot make a zip in --out-root %s: %s", root, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        member *m = &ms[i];
        m->in = in;
        m->src_dir = src_dir;
        m->name = members[i];
        m->f = (rfile)RFILE_INIT;
        m->err = err;
        zip_error_init(&m->zerr);
        zip_source_t *src = zip_source_function(za, member_cb, m);
        if (!src) {
            snprintf(err, HAUL_ERR_LEN, "libzip: %s", zip_strerror(za));
            goto out;
        }
        zip_int64_t idx = zip_file_add(za, members[i], src, ZIP_FL_ENC_UTF_8);
        if (idx < 0) {
            zip_source_free(src);
            snprintf(err, HAUL_ERR_LEN, "cannot add %s to the zip: %s", members[i], zip_strerror(za));
            goto out;
        }
        /* Stored: the users' data compresses little, and storing is fast. */
        zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
        if (i) haul_buf_addc(sidecar, '|');
        haul_buf_adds(sidecar, members[i]);
    }
    if (zip_close(za) < 0) {
        if (!err[0]) snprintf(err, HAUL_ERR_LEN, "cannot write the zip %s: %s", path.p, zip_strerror(za));
        zip_discard(za);
        za = NULL;
        goto out;
    }
    za = NULL;
    zip->fd = open(path.p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (zip->fd < 0 || fstat(zip->fd, &st) < 0) {
        snprintf(err, HAUL_ERR_LEN, "cannot open the zip %s just made: %s", path.p, strerror(errno));
        goto out;
    }
    zip->size = (long long)st.st_size;
    zip->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    zip->path = haul_buf_detach(&path);
    unlink(zip->path); /* open: it lives until it is sent */
    rc = 0;
out:
    if (za) zip_discard(za);
    if (rc < 0) {
        if (path.p) unlink(path.p);
        rfile_close(zip);
        haul_buf_reset(sidecar);
    }
    haul_buf_free(&path);
    free(ms);
    return rc;
}
