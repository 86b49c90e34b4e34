/* test_segput.c -- what a put in parts computes and parses without a
 * transfer (worker/segput.c): the parts' MD5s and the ETag the finished
 * object must have (S3: the MD5 of the parts' binary MD5s, "-N"; Swift:
 * of their hex forms), the segment names, the bodies that end an upload
 * (CompleteMultipartUpload XML, the SLO manifest JSON), the upload id, the
 * key's unfinished uploads in a listing (exactly that key, entities undone
 * once), and an error inside a 200 answer. */
#include "test.h"
#include "../../worker/segput.h"
#include "../../worker/upload.h"

#include <stdlib.h>
#include <unistd.h>

static char dir[128];

/* A unit for key `key` of a put task over `kind`, its file of n bytes
 * (byte i is i % 251) open. */
static void setup(unit *u, wtask *wt, worker *w, haul_store_kind kind, const char *key,
                  long long n, unsigned long long seg)
{
    char path[256], err[HAUL_ERR_LEN];
    memset(u, 0, sizeof *u);
    memset(wt, 0, sizeof *wt);
    memset(w, 0, sizeof *w);
    haul_task_init(&wt->t);
    wt->t.conn.kind = kind;
    wt->t.bucket = haul_strdup("photos");
    wt->t.keys = haul_calloc(1, sizeof *wt->t.keys);
    wt->t.keys[0] = haul_strdup(key);
    wt->t.nkeys = 1;
    wt->t.segment_size = seg;
    wt->res = haul_calloc(1, sizeof *wt->res);
    u->wt = wt;
    u->w = w;
    snprintf(path, sizeof path, "%s/f", dir);
    FILE *f = fopen(path, "w");
    for (long long i = 0; i < n; i++) fputc((int)(i % 251), f);
    fclose(f);
    wfiles *fs = rfiles_open(dir, err);
    u->src = (rfile)RFILE_INIT;
    rfile_open(fs, NULL, "f", &u->src, err);
    u->src.mtime_ns = 1700000000123456789LL;
    wfiles_close(fs);
}

static void teardown(unit *u, wtask *wt, worker *w)
{
    segput_free(w, u);
    rfile_close(&u->src);
    free(wt->res);
    haul_task_clear(&wt->t);
}

/* The MD5 of bytes [off, off+len) of the pattern, hex. */
static void pattern_md5(long long off, long long len, char hex[33])
{
    upload_hash *h = upload_hash_new();
    for (long long i = off; i < off + len; i++) {
        unsigned char c = (unsigned char)(i % 251);
        upload_hash_update(h, &c, 1);
    }
    upload_hash_final(h, hex);
    upload_hash_free(h);
}

TEST(s3_parts_and_etag)
{
    unit u; wtask wt; worker w;
    char err[HAUL_ERR_LEN], p1[33], p2[33], p3[33], all[33], want[48];
    setup(&u, &wt, &w, HAUL_STORE_S3, "a&b<c>.bin", 2500, 1000);
    ASSERT(segput_wanted(&u));
    ASSERT_EQ(segput_prepare(&w, &u, err), 0);
    pattern_md5(0, 1000, p1);
    pattern_md5(1000, 1000, p2);
    pattern_md5(2000, 500, p3);
    pattern_md5(0, 2500, all);
    ASSERT_STREQ(wt.res[0].md5, all);
    /* the MD5 of the three binary digests, "-3" */
    upload_hash *h = upload_hash_new();
    const char *ps[3] = {p1, p2, p3};
    for (int i = 0; i < 3; i++) {
        unsigned char raw[16];
        for (int j = 0; j < 16; j++) { unsigned v; sscanf(ps[i] + 2 * j, "%2x", &v); raw[j] = (unsigned char)v; }
        upload_hash_update(h, raw, 16);
    }
    upload_hash_final(h, want);
    upload_hash_free(h);
    strcat(want, "-3");
    ASSERT_STREQ(segput_etag(&u), want);
    /* The end body lists every part with the ETag the store gave. */
    haul_buf b = HAUL_BUF_INIT;
    ASSERT_EQ(segput_set_upload_id(&u, "<InitiateMultipartUploadResult><Bucket>photos</Bucket>"
              "<Key>a&amp;b</Key><UploadId>VXBs&amp;b2Fk</UploadId></InitiateMultipartUploadResult>",
              130, err), 0);
    ASSERT_STREQ(segput_upload_id(&u), "VXBs&b2Fk");
    segput_end_body(&u, &b);
    ASSERT(strstr(b.p, "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"\"</ETag></Part>"));
    ASSERT(strstr(b.p, "<PartNumber>3</PartNumber>"));
    haul_buf_free(&b);
    teardown(&u, &wt, &w);
}

TEST(swift_segments_and_manifest)
{
    unit u; wtask wt; worker w;
    char err[HAUL_ERR_LEN], p1[33], p2[33], want[33];
    setup(&u, &wt, &w, HAUL_STORE_SWIFT, "run42/big \"one\".bin", 1500, 1000);
    ASSERT_EQ(segput_prepare(&w, &u, err), 0);
    pattern_md5(0, 1000, p1);
    pattern_md5(1000, 500, p2);
    upload_hash *h = upload_hash_new();
    upload_hash_update(h, p1, 32);
    upload_hash_update(h, p2, 32);
    upload_hash_final(h, want);
    upload_hash_free(h);
    ASSERT_STREQ(segput_etag(&u), want);             /* the SLO's ETag: MD5 of the hex MD5s */
    ASSERT_STREQ(segput_seg_container(&u), "photos_segments");
    haul_buf b = HAUL_BUF_INIT, exp = HAUL_BUF_INIT;
    segput_end_body(&u, &b);
    haul_buf_printf(&exp, "[{\"path\":\"/photos_segments/run42/big \\\"one\\\".bin/slo/1700000000.123456/1500/1000/00000000\","
                    "\"etag\":\"%s\",\"size_bytes\":1000},{\"path\":\"/photos_segments/run42/big \\\"one\\\".bin/slo/"
                    "1700000000.123456/1500/1000/00000001\",\"etag\":\"%s\",\"size_bytes\":500}]", p1, p2);
    ASSERT_STREQ(b.p, exp.p);
    /* Nothing was uploaded: nothing to delete. */
    ASSERT(segput_next_uploaded(&u) == NULL);
    haul_buf_free(&b);
    haul_buf_free(&exp);
    teardown(&u, &wt, &w);
}

TEST(stale_uploads_of_exactly_this_key)
{
    unit u; wtask wt; worker w;
    char err[HAUL_ERR_LEN];
    setup(&u, &wt, &w, HAUL_STORE_S3, "k&<1>", 20, 10);
    ASSERT_EQ(segput_prepare(&w, &u, err), 0);
    const char *xml =
        "<ListMultipartUploadsResult><Bucket>photos</Bucket>"
        "<Upload><Key>k&amp;&lt;1&gt;</Key><UploadId>one</UploadId></Upload>"
        "<Upload><Key>k&amp;&lt;1&gt;2</Key><UploadId>other-key</UploadId></Upload>"
        "<Upload><Key>k&amp;amp;&lt;1&gt;</Key><UploadId>decoded-twice</UploadId></Upload>"
        "<Upload><Key>k&amp;&lt;1&gt;</Key><UploadId>two</UploadId></Upload>"
        "</ListMultipartUploadsResult>";
    ASSERT_EQ(segput_find_stale(&u, xml, strlen(xml)), 2);
    ASSERT_STREQ(segput_next_stale(&u), "one");
    ASSERT_STREQ(segput_next_stale(&u), "two");
    ASSERT(segput_next_stale(&u) == NULL);
    teardown(&u, &wt, &w);
}

TEST(answers)
{
    char etag[80], err[HAUL_ERR_LEN];
    const char *ok = "<CompleteMultipartUploadResult><Location>x</Location><Bucket>b</Bucket>"
                     "<Key>k</Key><ETag>&quot;0123456789abcdef0123456789abcdef-3&quot;</ETag>"
                     "</CompleteMultipartUploadResult>";
    ASSERT_EQ(segput_end_answer(ok, strlen(ok), etag, err), 0);
    ASSERT_STREQ(etag, "0123456789abcdef0123456789abcdef-3");
    const char *bad = "<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>m</Message></Error>";
    ASSERT_EQ(segput_end_answer(bad, strlen(bad), etag, err), -1);
    ASSERT_STREQ(err, "completing the multipart upload failed: InternalError");
    unit u; wtask wt; worker w;
    setup(&u, &wt, &w, HAUL_STORE_S3, "k", 20, 10);
    ASSERT_EQ(segput_prepare(&w, &u, err), 0);
    ASSERT_EQ(segput_set_upload_id(&u, "<Result></Result>", 17, err), -1);
    ASSERT_STREQ(err, "the answer to starting a multipart upload holds no upload id");
    teardown(&u, &wt, &w);
}

TEST(too_many_parts)
{
    unit u; wtask wt; worker w;
    char err[HAUL_ERR_LEN];
    setup(&u, &wt, &w, HAUL_STORE_S3, "k", 10001, 1);
    ASSERT_EQ(segput_prepare(&w, &u, err), -1);
    ASSERT(strstr(err, "more than 10000 parts of --segment-size 1"));
    teardown(&u, &wt, &w);
}

int main(void)
{
    char cmd[200];
    snprintf(dir, sizeof dir, "/tmp/haul-test-segput.%d", (int)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", dir, dir);
    if (system(cmd) != 0) return 1;
    RUN(s3_parts_and_etag);
    RUN(swift_segments_and_manifest);
    RUN(stale_uploads_of_exactly_this_key);
    RUN(answers);
    RUN(too_many_parts);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    TEST_DONE();
}
