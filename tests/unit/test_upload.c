/* test_upload.c -- what put and verify decide without a transfer
 * (worker/upload.c): a file's MD5 read from its descriptor, curl's reader
 * of it (only the bytes it had when opened; a file that shrinks is an
 * error), the checksum and metadata headers of a PUT for S3 and Swift, and
 * whether an object is the file (--skip-existing) or the manifest's entry
 * (verify). */
#include "test.h"
#include "../../worker/upload.h"
#include "store.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[128];

/* Write dir/name; the read root dir, opened (the caller closes it), or NULL. */
static wfiles *root_with(const char *name, const char *content)
{
    char path[300], err[HAUL_ERR_LEN];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(content, f);
    fclose(f);
    return rfiles_open(dir, err);
}

static void add_file(const char *name, const char *content)
{
    wfiles_close(root_with(name, content));
}

TEST(md5_of_a_file)
{
    char hex[33], err[HAUL_ERR_LEN];
    rfile f;
    wfiles *fs = root_with("abc", "abc");
    ASSERT(fs);
    ASSERT_EQ(rfile_open(fs, NULL, "abc", &f, err), 0);
    ASSERT_EQ(upload_md5(&f, hex, err), 0);
    ASSERT_STREQ(hex, "900150983cd24fb0d6963f7d28e17f72");
    rfile_close(&f);
    add_file("empty", "");
    ASSERT_EQ(rfile_open(fs, NULL, "empty", &f, err), 0);
    ASSERT_EQ(upload_md5(&f, hex, err), 0);
    ASSERT_STREQ(hex, "d41d8cd98f00b204e9800998ecf8427e");
    rfile_close(&f);
    /* Shorter than when opened: an error, not the MD5 of fewer bytes. */
    add_file("shrinks", "0123456789");
    ASSERT_EQ(rfile_open(fs, NULL, "shrinks", &f, err), 0);
    ASSERT_EQ(truncate(f.path, 4), 0);
    ASSERT_EQ(upload_md5(&f, hex, err), -1);
    ASSERT(strstr(err, "shorter than when it was opened"));
    rfile_close(&f);
    wfiles_close(fs);
}

TEST(reader_sends_what_was_there)
{
    char err[HAUL_ERR_LEN], b[64];
    rfile f;
    wfiles *fs = root_with("r", "hello world");
    ASSERT(fs);
    ASSERT_EQ(rfile_open(fs, NULL, "r", &f, err), 0);
    upload_src s = {&f, 0, ""};
    /* Appended after opening: not sent (the checksum covers 11 bytes). */
    FILE *a = fopen(f.path, "a");
    fputs(" and more", a);
    fclose(a);
    ASSERT_EQ(upload_read(b, 1, 5, &s), 5);
    ASSERT(!memcmp(b, "hello", 5));
    ASSERT_EQ(upload_read(b, 1, sizeof b, &s), 6);
    ASSERT(!memcmp(b, " world", 6));
    ASSERT_EQ(upload_read(b, 1, sizeof b, &s), 0);
    ASSERT_EQ(upload_seek(&s, 6, SEEK_SET), CURL_SEEKFUNC_OK);
    ASSERT_EQ(upload_read(b, 1, sizeof b, &s), 5);
    ASSERT_EQ(upload_seek(&s, 12, SEEK_SET), CURL_SEEKFUNC_CANTSEEK);
    /* Shrunk while sent: the transfer is aborted, with a sentence. */
    ASSERT_EQ(upload_seek(&s, 0, SEEK_SET), CURL_SEEKFUNC_OK);
    ASSERT_EQ(truncate(f.path, 3), 0);
    ASSERT_EQ(upload_read(b, 1, sizeof b, &s), 3);
    ASSERT_EQ(upload_read(b, 1, sizeof b, &s), CURL_READFUNC_ABORT);
    ASSERT(strstr(s.err, "the file shrank while it was sent"));
    rfile_close(&f);
    wfiles_close(fs);
}

TEST(put_headers)
{
    haul_kv h[HAUL_REQ_EXTRA_MAX];
    upload_hdrs st;
    char *meta[] = {"run", "42", "Observer", "Vera C. Rubin"};
    size_t n = upload_headers(HAUL_STORE_S3, "900150983cd24fb0d6963f7d28e17f72", meta, 4, h, &st);
    ASSERT_EQ(n, 3);
    ASSERT_STREQ(h[0].k, "Content-MD5");
    ASSERT_STREQ(h[0].v, "kAFQmDzST7DWlj99KOF/cg=="); /* base64 of the digest, as RFC 1864 says */
    ASSERT_STREQ(h[1].k, "x-amz-meta-run");
    ASSERT_STREQ(h[1].v, "42");
    ASSERT_STREQ(h[2].k, "x-amz-meta-Observer");
    ASSERT_STREQ(h[2].v, "Vera C. Rubin");
    upload_headers_free(&st);
    n = upload_headers(HAUL_STORE_SWIFT, "900150983cd24fb0d6963f7d28e17f72", meta, 2, h, &st);
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(h[0].k, "ETag");
    ASSERT_STREQ(h[0].v, "900150983cd24fb0d6963f7d28e17f72");
    ASSERT_STREQ(h[1].k, "X-Object-Meta-run");
    upload_headers_free(&st);
}

TEST(same_and_compare)
{
    const char *m = "900150983cd24fb0d6963f7d28e17f72";
    char why[256];
    int checked;
    ASSERT(upload_same(3, m, 3, m, 32));
    ASSERT(upload_same(3, m, 3, "900150983CD24FB0D6963F7D28E17F72", 32));
    ASSERT(!upload_same(3, m, 4, m, 32));                       /* another size */
    ASSERT(!upload_same(3, m, 3, "900150983cd24fb0d6963f7d28e17f73", 32));
    ASSERT(!upload_same(3, m, 3, "900150983cd24fb0d6963f7d28e17f72-2", 34)); /* multipart */
    ASSERT(!upload_same(3, m, -1, m, 32));
    ASSERT_EQ(upload_compare(3, m, 3, m, 32, &checked, why, sizeof why), 0);
    ASSERT_EQ(checked, 1);
    ASSERT_EQ(upload_compare(4, m, 3, m, 32, &checked, why, sizeof why), -1);
    ASSERT_STREQ(why, "size 3 != manifest 4");
    ASSERT_EQ(upload_compare(3, m, 3, "00000000000000000000000000000000", 32, &checked, why, sizeof why), -1);
    ASSERT_STREQ(why, "md5 00000000000000000000000000000000 != manifest 900150983cd24fb0d6963f7d28e17f72");
    /* Nothing to compare the MD5 with (segmented), or nothing given. */
    ASSERT_EQ(upload_compare(3, m, 3, "d41d8cd98f00b204e9800998ecf8427e-5", 34, &checked, why, sizeof why), 0);
    ASSERT_EQ(checked, 0);
    ASSERT_EQ(upload_compare(-1, "", 7, m, 32, &checked, why, sizeof why), 0);
    ASSERT_EQ(checked, 0);
}

TEST(hash_in_pieces)
{
    char hex[33];
    upload_hash *h = upload_hash_new();
    ASSERT(h);
    upload_hash_update(h, "a", 1);
    upload_hash_update(h, "bc", 2);
    ASSERT_EQ(upload_hash_final(h, hex), 0);
    ASSERT_STREQ(hex, "900150983cd24fb0d6963f7d28e17f72");
    upload_hash_free(h);
    upload_hash_free(NULL);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/haul-test-upload.%d", (int)getpid());
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", dir, dir);
    if (system(cmd) != 0) return 1;
    RUN(md5_of_a_file);
    RUN(reader_sends_what_was_there);
    RUN(put_headers);
    RUN(same_and_compare);
    RUN(hash_in_pieces);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    TEST_DONE();
}
