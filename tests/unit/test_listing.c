/* test_listing.c -- the S3 and Swift listing parsers, on bodies shaped the way
 * AWS documents them, the way Swift's s3api writes them (same XML, its own
 * choices of encoding and element order) and the way Swift's JSON API returns
 * them; then every malformed shape we could think of. */
#include "test.h"
#include "listing.h"
#include "buf.h"

#include <stdlib.h>

#define ASSERT_CONTAINS(s, sub) do {                                      \
        const char *s_ = (s), *sub_ = (sub);                             \
        if (!s_ || !strstr(s_, sub_))                                    \
            FAIL_("%s contains \"%s\": got \"%s\"", #s, sub_, s_ ? s_ : "(null)"); \
    } while (0)

#define ASSERT_NULL(p) do { if ((p) != NULL) FAIL_("%s is not NULL", #p); } while (0)

#define ASSERT_EMPTY_PAGE(pg) do {                                        \
        ASSERT_NULL((pg).v); ASSERT_EQ((pg).n, 0);                       \
        ASSERT_EQ((pg).truncated, 0); ASSERT_NULL((pg).next);            \
    } while (0)

#define S3NS "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""
#define XMLDECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

static int s3_list(const char *xml, haul_list_page *pg, char *err)
{
    err[0] = '\0';
    return haul_s3_parse_list_v2(xml, strlen(xml), pg, err);
}

/* ---- S3 ListObjectsV2 ------------------------------------------------------ */

/* The example of the ListObjectsV2 API reference, pretty-printed as AWS
 * prints it, with an Owner and checksum elements the parser must skip. */
TEST(s3_list_aws_example)
{
    const char *xml = XMLDECL
        "<ListBucketResult " S3NS ">\n"
        "    <Name>bucket</Name>\n"
        "    <Prefix/>\n"
        "    <KeyCount>2</KeyCount>\n"
        "    <MaxKeys>1000</MaxKeys>\n"
        "    <IsTruncated>false</IsTruncated>\n"
        "    <Contents>\n"
        "        <Key>my-image.jpg</Key>\n"
        "        <LastModified>2009-10-12T17:50:30.000Z</LastModified>\n"
        "        <ETag>\"fba9dede5f27731c9771645a39863328\"</ETag>\n"
        "        <ChecksumAlgorithm>CRC32</ChecksumAlgorithm>\n"
        "        <Size>434234</Size>\n"
        "        <Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>"
        "<DisplayName>mtd@amazon.com</DisplayName></Owner>\n"
        "        <StorageClass>STANDARD</StorageClass>\n"
        "    </Contents>\n"
        "    <Contents>\n"
        "        <Key>photos/2006/January/sample.jpg</Key>\n"
        "        <LastModified>2011-02-26T01:56:20.000Z</LastModified>\n"
        "        <ETag>&quot;bf1d737a4d46a19f3bced6905cc8b902-2&quot;</ETag>\n"
        "        <Size>142863</Size>\n"
        "        <StorageClass>STANDARD</StorageClass>\n"
        "    </Contents>\n"
        "</ListBucketResult>\n";
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(s3_list(xml, &pg, err), 0);
    ASSERT_EQ(pg.n, 2);
    ASSERT_EQ(pg.truncated, 0);
    ASSERT_NULL(pg.next);
    ASSERT_STREQ(pg.v[0].name, "my-image.jpg");
    ASSERT_EQ(pg.v[0].size, 434234);
    ASSERT_STREQ(pg.v[0].etag, "fba9dede5f27731c9771645a39863328");
    ASSERT_STREQ(pg.v[0].last_modified, "2009-10-12T17:50:30.000Z");
    ASSERT_EQ(pg.v[0].count, -1);
    ASSERT_STREQ(pg.v[1].name, "photos/2006/January/sample.jpg");
    ASSERT_EQ(pg.v[1].size, 142863);
    ASSERT_STREQ(pg.v[1].etag, "bf1d737a4d46a19f3bced6905cc8b902-2");
    haul_list_page_free(&pg);
    ASSERT_EMPTY_PAGE(pg);
}

TEST(s3_list_truncated_with_token)
{
    const char *xml = XMLDECL
        "<ListBucketResult " S3NS "><Name>bucket</Name><Prefix></Prefix>"
        "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
        "<KeyCount>1</KeyCount><MaxKeys>1</MaxKeys><IsTruncated>true</IsTruncated>"
        "<Contents><Key>a.zip</Key><LastModified>2024-05-01T08:00:00.000Z</LastModified>"
        "<ETag>\"9b2cf535f27731c974343645a3985328\"</ETag><Size>0</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>";
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(s3_list(xml, &pg, err), 0);
    ASSERT_EQ(pg.n, 1);
    ASSERT_EQ(pg.truncated, 1);
    ASSERT_STREQ(pg.next, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    ASSERT_EQ(pg.v[0].size, 0);
    haul_list_page_free(&pg);
}

/* A token sent without IsTruncated=true is not a next page. */
TEST(s3_list_token_ignored_when_not_truncated)
{
    const char *xml = "<ListBucketResult><IsTruncated>false</IsTruncated>"
        "<NextContinuationToken>abc</NextContinuationToken>"
        "<Contents><Key>k</Key><Size>1</Size></Contents></ListBucketResult>";
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(s3_list(xml, &pg, err), 0);
    ASSERT_EQ(pg.truncated, 0);
    ASSERT_NULL(pg.next);
    haul_list_page_free(&pg);
}

/* Without encoding-type, keys arrive XML-escaped, and only XML-escaped. */
TEST(s3_list_plain_special_keys)
{
    const char *xml = XMLDECL
        "<ListBucketResult " S3NS "><Name>b</Name><IsTruncated>false</IsTruncated>"
        "<Contents><Key>my file (1).txt</Key><Size>5</Size></Contents>"
        "<Contents><Key>Tom &amp; Jerry &lt;3&gt; &apos;x&apos; &quot;y&quot;.txt</Key><Size>6</Size></Contents>"
        "<Contents><Key>caf\xC3\xA9/\xE6\x97\xA5\xE6\x9C\xAC/\xF0\x9F\x98\x80.txt</Key><Size>7</Size></Contents>"
        "<Contents><Key>ref&#xE9;&#233;</Key><Size>8</Size></Contents>"
        "<Contents><Key>  padded  </Key><Size>9</Size></Contents>"
        "<Contents><Key>a+b%20c</Key><Size>10</Size></Contents>"
        "<Contents><Key><![CDATA[cdata & <raw>]]></Key><Size>11</Size></Contents>"
        "</ListBucketResult>";
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(s3_list(xml, &pg, err), 0);
    ASSERT_EQ(pg.n, 7);
    ASSERT_STREQ(pg.v[0].name, "my file (1).txt");
    ASSERT_STREQ(pg.v[1].name, "Tom & Jerry <3> 'x' \"y\".txt");
    ASSERT_STREQ(pg.v[2].name, "caf\xC3\xA9/\xE6\x97\xA5\xE6\x9C\xAC/\xF0\x9F\x98\x80.txt");
    ASSERT_STREQ(pg.v[3].name, "ref\xC3\xA9\xC3\xA9");
    ASSERT_STREQ(pg.v[4].name, "  padded  ");
    ASSERT_STREQ(pg.v[5].name, "a+b%20c"); /* not url-encoded: taken literally */
    ASSERT_STREQ(pg.v[6].name, "cdata & <raw>");
    ASSERT_NULL(pg.v[0].etag);
    ASSERT_NULL(pg.v[0].last_modified);
    haul_list_page_free(&pg);
}

/* AWS with encoding-type=url: EncodingType comes after the Contents, a space
 * is '+', a '+' is %2B, non-ASCII and control bytes are %XX. */
TEST(s3_list_url_encoded_aws)
{
    const char *xml = XMLDECL
        "<ListBucketResult " S3NS "><Name>bucket</Name><Prefix>photos%2F</Prefix>"
        "<KeyCount>5</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>%2F</Delimiter>"
        "<IsTruncated>false</IsTruncated>"
        "<Contents><Key>photos%2Fmy+photo+%281%29.jpg</Key><Size>1</Size></Contents>"
        "<Contents><Key>photos%2Fa%2Bb.txt</Key><Size>2</Size></Contents>"
        "<Contents><Key>photos%2F%E2%82%AC%20rate%26co</Key><Size>3</Size></Contents>"
        "<Contents><Key>photos%2Fbell%07%0A.txt</Key><Size>4</Size></Contents>"
        "<CommonPrefixes><Prefix>photos%2F2024+q1%2F</Prefix></CommonPrefixes>"
        "<EncodingType>url</EncodingType></ListBucketResult>";
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(s3_list(xml, &pg, err), 0);
    ASSERT_EQ(pg.n, 5);
    ASSERT_STREQ(pg.v[0].name, "photos/my photo (1).jpg");
    ASSERT_STREQ(pg.v[1].name, "photos/a+b.txt");
    ASSERT_STREQ(pg.v[2].name, "photos/\xE2\x82\xAC rate&co");
    ASSERT_STREQ(pg.v[3].name, "photos/bell\a\n.txt");
    ASSERT_STREQ(pg.v[4].name, "photos/2024 q1/");
    ASSERT_EQ(pg.v[4].size, -1);
    haul_list_page_free(&pg);
}

/* Swift's s3api (swift/common/middleware/s3api/controllers/bucket.py):
 * EncodingType before IsTruncated, names through Python's quote() -- '/'
 * kept, space as %20 -- dates with milliseconds cut to "Z", a base64 token. */
TEST(s3_list_url_encoded_swift_s3api)
{
    const char *xml = XMLDECL
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>dummy</Name><Prefix/><NextContinuationToken>ZGlyL2MlMjBkLnppcA==</NextContinuationToken>"
        "<KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><EncodingType>url</EncodingType>"
        "<IsTruncated>true</IsTruncated>"
        "<Contents><Key>dir/a%20b.zip</Key><LastModified>2024-03-01T10:11:12.345Z</LastModified>"
        "<ETag>\"d41d8cd98f00b204e9800998ecf8427e\"</ETag><Size>0</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents>"
        "<Contents><Key>dir/%C3%BCber%2B.zip</Key><LastModified>2024-03-01T10:11:13.000Z</LastModified>"
        "<ETag>\"0c1c8d2e0f4b0e5c1d1e2f3a4b5c6d7e-3\"</ETag><Size>15728640</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents>"
        "</ListBucketResult>";
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(s3_list(xml, &pg, err), 0);
    ASSERT_EQ(pg.n, 2);
    ASSERT_STREQ(pg.v[0].name, "dir/a b.zip");
    ASSERT_STREQ(pg.v[1].name, "dir/\xC3\xBC" "ber+.zip");
    ASSERT_EQ(pg.v[1].size, 15728640);
    ASSERT_STREQ(pg.v[1].etag, "0c1c8d2e0f4b0e5c1d1e2f3a4b5c6d7e-3");
    ASSERT_EQ(pg.truncated, 1);
    ASSERT_STREQ(pg.next, "ZGlyL2MlMjBkLnppcA==");
    haul_list_page_free(&pg);
}

TEST(s3_list_common_prefixes)
{
    const char *xml = XMLDECL
        "<ListBucketResult " S3NS "><Name>example-bucket</Name><Prefix></Prefix>"
        "<KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter>"
        "<IsTruncated>false</IsTruncated>"
        "<Contents><Key>sample.jpg</Key><LastModified>2017-06-23T18:37:48.157Z</LastModified>"
        "<ETag>\"bf1d737a4d46a19f3bced6905cc8b902\"</ETag><Size>142863</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents>"
        "<CommonPrefixes><Prefix>photos/</Prefix></CommonPrefixes>"
        "<CommonPrefixes><Prefix>videos &amp; clips/</Prefix></CommonPrefixes>"
        "</ListBucketResult>";
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(s3_list(xml, &pg, err), 0);
    ASSERT_EQ(pg.n, 3);
    ASSERT_STREQ(pg.v[0].name, "sample.jpg");
    ASSERT_EQ(pg.v[0].size, 142863);
    ASSERT_STREQ(pg.v[1].name, "photos/");
    ASSERT_EQ(pg.v[1].size, -1);
    ASSERT_NULL(pg.v[1].etag);
    ASSERT_NULL(pg.v[1].last_modified);
    ASSERT_STREQ(pg.v[2].name, "videos & clips/");
    haul_list_page_free(&pg);
}

TEST(s3_list_empty_bucket)
{
    const char *xml = XMLDECL
        "<ListBucketResult " S3NS "><Name>empty</Name><Prefix></Prefix>"
        "<KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"
        "</ListBucketResult>";
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(s3_list(xml, &pg, err), 0);
    ASSERT_EMPTY_PAGE(pg);
    ASSERT_EQ(s3_list("<ListBucketResult/>", &pg, err), 0);
    ASSERT_EMPTY_PAGE(pg);
    haul_list_page_free(&pg);
}

/* Matching is on local names: a prefixed namespace, or none, parses the same;
 * an <IsTruncated> nested under another element is not the listing's. */
TEST(s3_list_namespaces_and_nesting)
{
    const char *xml =
        "<s3:ListBucketResult xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<s3:IsTruncated> true </s3:IsTruncated>"
        "<s3:NextContinuationToken>t</s3:NextContinuationToken>"
        "<s3:Contents><s3:Key>k</s3:Key><s3:Size>\n 12 \n</s3:Size>"
        "<s3:Owner><s3:Key>not-a-key</s3:Key><s3:Size>x</s3:Size></s3:Owner>"
        "</s3:Contents>"
        "<Extra><Contents><Key>hidden</Key></Contents></Extra>"
        "</s3:ListBucketResult>";
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(s3_list(xml, &pg, err), 0);
    ASSERT_EQ(pg.n, 1);
    ASSERT_STREQ(pg.v[0].name, "k");
    ASSERT_EQ(pg.v[0].size, 12);
    ASSERT_EQ(pg.truncated, 1);
    ASSERT_STREQ(pg.next, "t");
    haul_list_page_free(&pg);
}

/* A caller's page is overwritten, not appended to, and the entries of a
 * document in UTF-16 come out in UTF-8. */
TEST(s3_list_utf16_body)
{
    const char *ascii = "<?xml version=\"1.0\" encoding=\"UTF-16\"?>"
                        "<ListBucketResult><Contents><Key>\xC3\xA9</Key></Contents></ListBucketResult>";
    /* Build UTF-16LE with a BOM by hand: every char is ASCII except the é. */
    haul_buf b = HAUL_BUF_INIT;
    haul_buf_add(&b, "\xFF\xFE", 2);
    for (const char *p = ascii; *p; p++) {
        if ((unsigned char)*p == 0xC3) { haul_buf_add(&b, "\xE9\x00", 2); p++; continue; }
        haul_buf_addc(&b, *p);
        haul_buf_addc(&b, '\0');
    }
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN] = "";
    int rc = haul_s3_parse_list_v2(b.p, b.len, &pg, err);
    haul_buf_free(&b);
    if (rc != 0) FAIL_("rc %d: %s", rc, err);
    ASSERT_EQ(pg.n, 1);
    ASSERT_STREQ(pg.v[0].name, "\xC3\xA9");
    haul_list_page_free(&pg);
}

static char *key_doc(const char *key, int url)
{
    haul_buf b = HAUL_BUF_INIT;
    haul_buf_printf(&b, "<ListBucketResult><Contents><Key>%s</Key><Size>1</Size></Contents>%s"
                        "</ListBucketResult>", key, url ? "<EncodingType>url</EncodingType>" : "");
    return haul_buf_detach(&b);
}

static char *repeat(const char *unit, size_t times)
{
    haul_buf b = HAUL_BUF_INIT;
    for (size_t i = 0; i < times; i++) haul_buf_adds(&b, unit);
    return haul_buf_detach(&b);
}

TEST(s3_list_name_limits)
{
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN];
    char *k1024 = repeat("a", 1024), *k1025 = repeat("a", 1025);
    char *e1024 = repeat("%C3", 1024), *e1025 = repeat("%41", 1025);
    char *docs[5] = {key_doc(k1024, 0), key_doc(k1025, 0), key_doc(e1024, 1),
                     key_doc(k1025, 1), key_doc(e1025, 1)};
    int rc[5];
    size_t len[5];
    char errs[5][HAUL_ERR_LEN];
    for (int i = 0; i < 5; i++) {
        rc[i] = s3_list(docs[i], &pg, err);
        len[i] = rc[i] == 0 && pg.n == 1 ? strlen(pg.v[0].name) : 0;
        memcpy(errs[i], err, sizeof err);
        if (rc[i] != 0 && (pg.v || pg.n)) len[i] = (size_t)-1;
        haul_list_page_free(&pg);
        free(docs[i]);
    }
    free(k1024); free(k1025); free(e1024); free(e1025);

    ASSERT_EQ(rc[0], 0);
    ASSERT_EQ(len[0], 1024);
    ASSERT_EQ(rc[1], -1);
    ASSERT_CONTAINS(errs[1], "entry 1: a name of 1025 bytes, more than S3's limit of 1024");
    ASSERT_EQ(rc[2], 0);      /* 3072 encoded characters, 1024 decoded bytes */
    ASSERT_EQ(len[2], 1024);
    ASSERT_EQ(rc[3], -1);     /* short enough encoded, too long decoded */
    ASSERT_CONTAINS(errs[3], "a name of 1025 bytes");
    ASSERT_EQ(rc[4], -1);     /* too long to be any name, refused while reading */
    ASSERT_CONTAINS(errs[4], "<Key> is longer than 3072 bytes");
    ASSERT_EQ(len[1], 0);
    ASSERT_EQ(len[3], 0);
    ASSERT_EQ(len[4], 0);
}

/* 1,000,000 entries parse; one more is refused. Small entries keep it quick. */
TEST(s3_list_entry_limit)
{
    haul_buf b = HAUL_BUF_INIT;
    haul_buf_adds(&b, "<ListBucketResult>");
    for (int i = 0; i < HAUL_LIST_MAX_ENTRIES; i++) haul_buf_adds(&b, "<Contents><Key>k</Key></Contents>");
    size_t at = b.len;
    haul_buf_adds(&b, "</ListBucketResult>");
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN] = "";
    int r1 = haul_s3_parse_list_v2(b.p, b.len, &pg, err);
    size_t n1 = pg.n;
    haul_list_page_free(&pg);
    b.len = at;
    haul_buf_adds(&b, "<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes></ListBucketResult>");
    int r2 = haul_s3_parse_list_v2(b.p, b.len, &pg, err);
    haul_buf_free(&b);
    ASSERT_EQ(r1, 0);
    ASSERT_EQ(n1, HAUL_LIST_MAX_ENTRIES);
    ASSERT_EQ(r2, -1);
    ASSERT_CONTAINS(err, "more than 1000000 entries");
    ASSERT_EMPTY_PAGE(pg);
}

static const struct bad_case {
    const char *xml;
    const char *want;   /* a piece of the error sentence */
} s3_bad[] = {
    {"", "S3 listing: empty response body"},
    {"<ListBucketResult><Contents><Key>a</Key>", "S3 listing: malformed XML at line 1: no element found"},
    {"<ListBucketResult>\n<Contents>\n<Key>a</Size>\n</Contents></ListBucketResult>",
     "malformed XML at line 3: mismatched tag"},
    {"<ListBucketResult></ListBucketResult><ListBucketResult/>", "junk after document element"},
    {"{\"Contents\": []}", "malformed XML at line 1: not well-formed"},
    {"<ListBucketResult><Contents><Key>caf\xE9</Key></Contents></ListBucketResult>",
     "not well-formed"},
    {"<ListBucketResult><Contents><Key>&bogus;</Key></Contents></ListBucketResult>",
     "undefined entity"},
    {"<ListBucketResult><Contents><Key>a&#0;b</Key></Contents></ListBucketResult>",
     "reference to invalid character number"},
    {"<ListAllMyBucketsResult/>", "the document is <ListAllMyBucketsResult>, not <ListBucketResult>"},
    {"<Error><Code>NoSuchBucket</Code></Error>", "the server answered with an error"},
    {"<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
     "<Contents> without <Key>"},
    {"<ListBucketResult><CommonPrefixes></CommonPrefixes></ListBucketResult>",
     "<CommonPrefixes> without <Prefix>"},
    {"<ListBucketResult><Contents><Key></Key></Contents></ListBucketResult>", "empty <Key>"},
    {"<ListBucketResult><Contents><Key>a</Key><Key>b</Key></Contents></ListBucketResult>",
     "<Key> appears twice in <Contents>"},
    {"<ListBucketResult><IsTruncated>false</IsTruncated><IsTruncated>true</IsTruncated></ListBucketResult>",
     "<IsTruncated> appears twice"},
    {"<ListBucketResult><Contents><Key>a<b>x</b></Key></Contents></ListBucketResult>",
     "unexpected element <b> inside <Key>"},
    {"<ListBucketResult><Contents><Key>a</Key><Size>abc</Size></Contents></ListBucketResult>",
     "<Size>abc</Size> is not a byte count"},
    {"<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
     "<Size>-1</Size> is not a byte count"},
    {"<ListBucketResult><Contents><Key>a</Key><Size>99999999999999999999</Size></Contents></ListBucketResult>",
     "<Size>99999999999999999999</Size> is not a byte count"},
    {"<ListBucketResult><Contents><Key>a</Key><Size>1e3</Size></Contents></ListBucketResult>",
     "is not a byte count"},
    {"<ListBucketResult><Contents><Key>a</Key><Size></Size></Contents></ListBucketResult>",
     "is not a byte count"},
    {"<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
     "<IsTruncated>maybe</IsTruncated> is neither true nor false"},
    {"<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a</Key></Contents></ListBucketResult>",
     "IsTruncated is true but there is no NextContinuationToken"},
    {"<ListBucketResult><EncodingType>base64</EncodingType></ListBucketResult>",
     "unknown <EncodingType>base64</EncodingType>"},
    {"<ListBucketResult><Contents><Key>a%G1</Key></Contents><EncodingType>url</EncodingType></ListBucketResult>",
     "entry 1: \"a%G1\" is not valid URL encoding"},
    {"<ListBucketResult><Contents><Key>ok</Key></Contents><Contents><Key>a%4</Key></Contents>"
     "<EncodingType>url</EncodingType></ListBucketResult>", "entry 2: \"a%4\" is not valid URL encoding"},
    {"<ListBucketResult><Contents><Key>a%</Key></Contents><EncodingType>url</EncodingType></ListBucketResult>",
     "is not valid URL encoding"},
    {"<ListBucketResult><Contents><Key>a%00b</Key></Contents><EncodingType>url</EncodingType></ListBucketResult>",
     "a name with a NUL byte"},
    /* Billion laughs: refused at the DOCTYPE, before any entity is declared. */
    {"<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
     " <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
     " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n]>\n"
     "<ListBucketResult><Contents><Key>&lol3;</Key></Contents></ListBucketResult>",
     "S3 listing: line 2: refusing a document with a DOCTYPE"},
    {"<?xml version=\"1.0\"?><!DOCTYPE x SYSTEM \"file:///etc/passwd\">"
     "<ListBucketResult><Contents><Key>&x;</Key></Contents></ListBucketResult>", "DOCTYPE"},
    {"<!DOCTYPE ListBucketResult><ListBucketResult/>", "DOCTYPE"},
    {"<ListBucketResult><s3:Contents/></ListBucketResult>", "unbound prefix"},
};

TEST(s3_list_malformed)
{
    for (size_t i = 0; i < sizeof s3_bad / sizeof s3_bad[0]; i++) {
        haul_list_page pg = HAUL_LIST_PAGE_INIT;
        char err[HAUL_ERR_LEN] = "";
        int rc = haul_s3_parse_list_v2(s3_bad[i].xml, strlen(s3_bad[i].xml), &pg, err);
        if (rc != -1) {
            haul_list_page_free(&pg);
            FAIL_("case %zu (%.60s): rc %d, want -1", i, s3_bad[i].xml, rc);
        }
        if (pg.v || pg.n || pg.next || pg.truncated)
            FAIL_("case %zu: page not empty after an error", i);
        if (!strstr(err, s3_bad[i].want))
            FAIL_("case %zu: error \"%s\" lacks \"%s\"", i, err, s3_bad[i].want);
        if (strncmp(err, "S3 listing: ", 12) != 0)
            FAIL_("case %zu: error \"%s\" does not say what was parsed", i, err);
    }
}

/* Every prefix of a valid listing is an error, none is a crash or a leak. */
TEST(s3_list_every_truncation)
{
    const char *xml = XMLDECL
        "<ListBucketResult " S3NS "><IsTruncated>true</IsTruncated>"
        "<NextContinuationToken>tok</NextContinuationToken>"
        "<Contents><Key>a &amp; b</Key><ETag>\"x\"</ETag><Size>1</Size></Contents>"
        "<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes></ListBucketResult>";
    size_t len = strlen(xml);
    for (size_t n = 0; n < len; n++) {
        haul_list_page pg = HAUL_LIST_PAGE_INIT;
        char err[HAUL_ERR_LEN];
        char *copy = haul_strndup(xml, n); /* exactly n bytes on the heap, for valgrind */
        int rc = haul_s3_parse_list_v2(copy, n, &pg, err);
        free(copy);
        if (rc != -1) { haul_list_page_free(&pg); FAIL_("prefix of %zu bytes parsed", n); }
        if (pg.v || pg.n || pg.next) FAIL_("prefix of %zu bytes left a page", n);
    }
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(haul_s3_parse_list_v2(xml, len, &pg, err), 0);
    ASSERT_EQ(pg.n, 2);
    haul_list_page_free(&pg);
}

/* ---- S3 ListBuckets --------------------------------------------------------- */

TEST(s3_buckets_aws_example)
{
    const char *xml = XMLDECL
        "<ListAllMyBucketsResult " S3NS ">\n"
        "  <Buckets>\n"
        "    <Bucket><CreationDate>2019-12-11T23:32:47+00:00</CreationDate>"
        "<Name>DOC-EXAMPLE-BUCKET</Name><BucketRegion>us-east-1</BucketRegion></Bucket>\n"
        "    <Bucket><CreationDate>2019-11-10T23:32:13+00:00</CreationDate>"
        "<Name>DOC-EXAMPLE-BUCKET2</Name></Bucket>\n"
        "  </Buckets>\n"
        "  <Owner><DisplayName>Account+Name</DisplayName>"
        "<ID>AIDACKCEVSQ6C2EXAMPLE</ID></Owner>\n"
        "</ListAllMyBucketsResult>\n";
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN] = "";
    int rc = haul_s3_parse_buckets(xml, strlen(xml), &pg, err);
    if (rc != 0) FAIL_("rc %d: %s", rc, err);
    ASSERT_EQ(pg.n, 2);
    ASSERT_STREQ(pg.v[0].name, "DOC-EXAMPLE-BUCKET");
    ASSERT_STREQ(pg.v[0].last_modified, "2019-12-11T23:32:47+00:00");
    ASSERT_EQ(pg.v[0].size, -1);
    ASSERT_EQ(pg.v[0].count, -1);
    ASSERT_NULL(pg.v[0].etag);
    ASSERT_STREQ(pg.v[1].name, "DOC-EXAMPLE-BUCKET2");
    ASSERT_EQ(pg.truncated, 0);
    ASSERT_NULL(pg.next);
    haul_list_page_free(&pg);
}

/* Swift's s3api: no CreationDate in older releases, ".000Z" dates in newer. */
TEST(s3_buckets_swift_and_paged)
{
    const char *swift = "<?xml version='1.0' encoding='UTF-8'?>\n"
        "<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Owner><ID>test:tester</ID><DisplayName>test:tester</DisplayName></Owner>"
        "<Buckets><Bucket><Name>dummy</Name><CreationDate>2009-02-03T16:45:09.000Z</CreationDate></Bucket>"
        "<Bucket><Name>nodate</Name></Bucket></Buckets></ListAllMyBucketsResult>";
    const char *paged = "<ListAllMyBucketsResult " S3NS "><Buckets>"
        "<Bucket><Name>a</Name></Bucket></Buckets>"
        "<ContinuationToken>eyJDb250aW51YXRpb25Ub2tlbiI6ICJhIn0=</ContinuationToken>"
        "<Prefix>a</Prefix></ListAllMyBucketsResult>";
    const char *empty = "<ListAllMyBucketsResult " S3NS "><Owner><ID>x</ID></Owner>"
        "<Buckets/></ListAllMyBucketsResult>";
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(haul_s3_parse_buckets(swift, strlen(swift), &pg, err), 0);
    ASSERT_EQ(pg.n, 2);
    ASSERT_STREQ(pg.v[0].name, "dummy");
    ASSERT_STREQ(pg.v[0].last_modified, "2009-02-03T16:45:09.000Z");
    ASSERT_STREQ(pg.v[1].name, "nodate");
    ASSERT_NULL(pg.v[1].last_modified);
    haul_list_page_free(&pg);
    ASSERT_EQ(haul_s3_parse_buckets(paged, strlen(paged), &pg, err), 0);
    ASSERT_EQ(pg.n, 1);
    ASSERT_EQ(pg.truncated, 1);
    ASSERT_STREQ(pg.next, "eyJDb250aW51YXRpb25Ub2tlbiI6ICJhIn0=");
    haul_list_page_free(&pg);
    ASSERT_EQ(haul_s3_parse_buckets(empty, strlen(empty), &pg, err), 0);
    ASSERT_EMPTY_PAGE(pg);
}

TEST(s3_buckets_malformed)
{
    static const struct bad_case cases[] = {
        {"", "S3 bucket list: empty response body"},
        {"<ListAllMyBucketsResult><Buckets><Bucket>", "S3 bucket list: malformed XML at line 1"},
        {"<ListBucketResult/>", "the document is <ListBucketResult>, not <ListAllMyBucketsResult>"},
        {"<ListAllMyBucketsResult><Buckets><Bucket><CreationDate>x</CreationDate></Bucket>"
         "</Buckets></ListAllMyBucketsResult>", "<Bucket> without <Name>"},
        {"<ListAllMyBucketsResult><Buckets><Bucket><Name>a</Name><Name>b</Name></Bucket>"
         "</Buckets></ListAllMyBucketsResult>", "<Name> appears twice in <Bucket>"},
        {"<!DOCTYPE x [<!ENTITY a \"b\">]><ListAllMyBucketsResult/>", "DOCTYPE"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        haul_list_page pg = HAUL_LIST_PAGE_INIT;
        char err[HAUL_ERR_LEN] = "";
        int rc = haul_s3_parse_buckets(cases[i].xml, strlen(cases[i].xml), &pg, err);
        if (rc != -1) { haul_list_page_free(&pg); FAIL_("case %zu: rc %d", i, rc); }
        if (pg.v || pg.n || pg.next) FAIL_("case %zu: page not empty", i);
        if (!strstr(err, cases[i].want)) FAIL_("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
    }
    char *big = repeat("b", 1025);
    haul_buf b = HAUL_BUF_INIT;
    haul_buf_printf(&b, "<ListAllMyBucketsResult><Buckets><Bucket><Name>%s</Name></Bucket>"
                        "</Buckets></ListAllMyBucketsResult>", big);
    free(big);
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN] = "";
    int rc = haul_s3_parse_buckets(b.p, b.len, &pg, err);
    haul_buf_free(&b);
    ASSERT_EQ(rc, -1);
    ASSERT_CONTAINS(err, "<Name> is longer than 1024 bytes");
}

/* ---- S3 errors ---------------------------------------------------------------- */

TEST(s3_error_aws_example)
{
    const char *xml = XMLDECL
        "<Error>\n"
        "  <Code>NoSuchKey</Code>\n"
        "  <Message>The resource you requested does not exist</Message>\n"
        "  <Resource>/mybucket/myfoto.jpg</Resource>\n"
        "  <RequestId>4442587FB7D0A2F9</RequestId>\n"
        "</Error>";
    char code[64], msg[256];
    ASSERT_EQ(haul_s3_parse_error(xml, strlen(xml), code, sizeof code, msg, sizeof msg), 0);
    ASSERT_STREQ(code, "NoSuchKey");
    ASSERT_STREQ(msg, "The resource you requested does not exist");
}

TEST(s3_error_signature_with_details)
{
    /* Swift's s3api, like AWS, adds the string it signed; & and < are escaped. */
    const char *xml = "<?xml version='1.0' encoding='UTF-8'?>\n"
        "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated "
        "does not match the signature you provided. Check your key and signing method.</Message>"
        "<AWSAccessKeyId>test:tester</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n"
        "20240301T000000Z</StringToSign><CanonicalRequest>GET\n/bucket\nlist-type=2&amp;prefix=\n"
        "</CanonicalRequest><RequestId>tx1234</RequestId></Error>";
    char code[64], msg[HAUL_ERR_LEN];
    ASSERT_EQ(haul_s3_parse_error(xml, strlen(xml), code, sizeof code, msg, sizeof msg), 0);
    ASSERT_STREQ(code, "SignatureDoesNotMatch");
    ASSERT_CONTAINS(msg, "Check your key and signing method.");
}

TEST(s3_error_truncation_and_absence)
{
    const char *xml = "<Error><Code>SlowDown</Code><Message>r\xC3\xA9" "essayez</Message></Error>";
    char code[5], msg[3];
    ASSERT_EQ(haul_s3_parse_error(xml, strlen(xml), code, sizeof code, msg, sizeof msg), 0);
    ASSERT_STREQ(code, "Slow");
    ASSERT_STREQ(msg, "r");   /* "r\xC3" would split the é: cut before it */
    char msg4[4];
    ASSERT_EQ(haul_s3_parse_error(xml, strlen(xml), NULL, 0, msg4, sizeof msg4), 0);
    ASSERT_STREQ(msg4, "r\xC3\xA9");

    const char *nomsg = "<Error><Code>AccessDenied</Code></Error>";
    char c2[32], m2[32];
    ASSERT_EQ(haul_s3_parse_error(nomsg, strlen(nomsg), c2, sizeof c2, m2, sizeof m2), 0);
    ASSERT_STREQ(c2, "AccessDenied");
    ASSERT_STREQ(m2, "");

    /* A very long message is cut, not refused. */
    char *longmsg = repeat("x", 20000);
    haul_buf b = HAUL_BUF_INIT;
    haul_buf_printf(&b, "<Error><Code>C</Code><Message>%s</Message></Error>", longmsg);
    free(longmsg);
    char m3[64];
    int rc = haul_s3_parse_error(b.p, b.len, c2, sizeof c2, m3, sizeof m3);
    haul_buf_free(&b);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(strlen(m3), 63);
}

TEST(s3_error_not_an_error)
{
    static const char *const bodies[] = {
        "",
        "<ListBucketResult><Code>x</Code></ListBucketResult>",
        "<Error><Code>NoSuchKey</Code>",
        "<html><body>502 Bad Gateway</body></html>",
        "502 Bad Gateway",
        "<!DOCTYPE Error><Error><Code>x</Code></Error>",
        "<Error><Code>a</Code><Code>b</Code></Error>",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        char code[16] = "junk", msg[16] = "junk";
        int rc = haul_s3_parse_error(bodies[i], strlen(bodies[i]), code, sizeof code, msg, sizeof msg);
        if (rc != -1) FAIL_("body %zu parsed as an error document", i);
        if (code[0] || msg[0]) FAIL_("body %zu: code/msg not cleared", i);
    }
    ASSERT_EQ(haul_s3_parse_error(NULL, 0, NULL, 0, NULL, 0), -1);
}

/* ---- Swift --------------------------------------------------------------------- */

static int swift_list(const char *json, size_t limit, haul_list_page *pg, char *err)
{
    err[0] = '\0';
    return haul_swift_parse_list(json, strlen(json), limit, pg, err);
}

/* As the Object Storage API reference shows GET /v1/{account}/{container}?format=json. */
TEST(swift_list_api_example)
{
    const char *json =
        "[\n"
        "    {\n"
        "        \"hash\": \"451e372e48e0f6b1114fa0724aa79fa1\",\n"
        "        \"last_modified\": \"2014-01-15T16:41:49.390270\",\n"
        "        \"bytes\": 14,\n"
        "        \"name\": \"goodbye\",\n"
        "        \"content_type\": \"application/octet-stream\"\n"
        "    },\n"
        "    {\n"
        "        \"hash\": \"ed076287532e86365e841e92bfc50d8c\",\n"
        "        \"last_modified\": \"2014-01-15T16:37:43.427570\",\n"
        "        \"bytes\": 12,\n"
        "        \"name\": \"helloworld\",\n"
        "        \"content_type\": \"application/octet-stream\"\n"
        "    }\n"
        "]\n";
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(swift_list(json, 10000, &pg, err), 0);
    ASSERT_EQ(pg.n, 2);
    ASSERT_STREQ(pg.v[0].name, "goodbye");
    ASSERT_EQ(pg.v[0].size, 14);
    ASSERT_STREQ(pg.v[0].etag, "451e372e48e0f6b1114fa0724aa79fa1");
    ASSERT_STREQ(pg.v[0].last_modified, "2014-01-15T16:41:49.390270");
    ASSERT_EQ(pg.v[0].count, -1);
    ASSERT_STREQ(pg.v[1].name, "helloworld");
    ASSERT_EQ(pg.truncated, 0);
    ASSERT_NULL(pg.next);
    haul_list_page_free(&pg);
}

/* Swift's json.dumps writes non-ASCII as \uXXXX escapes (surrogate pairs above
 * the BMP); some proxies pass raw UTF-8. Both decode to the same bytes. */
TEST(swift_list_names_and_subdirs)
{
    const char *json =
        "[{\"subdir\": \"photos/\"},"
        " {\"hash\": \"d41d8cd98f00b204e9800998ecf8427e\", \"last_modified\": \"2024-03-01T10:11:12.345670\","
        "  \"bytes\": 0, \"name\": \"caf\\u00e9 & cr\\u00e8me \\ud83d\\ude00.txt\", \"content_type\": \"text/plain\"},"
        " {\"hash\": \"d41d8cd98f00b204e9800998ecf8427e\", \"last_modified\": \"2024-03-01T10:11:12.345670\","
        "  \"bytes\": 1, \"name\": \"caf\xC3\xA9 raw\", \"content_type\": \"text/plain\"},"
        " {\"name\": \"a \\\"quoted\\\" \\\\ name+%20\", \"bytes\": 9007199254740993, \"hash\": null,"
        "  \"content_type\": \"application/octet-stream\", \"symlink_path\": \"/v1/AUTH_test/c/o\"},"
        " {\"subdir\": \"z\\u00fcrich/\"}]";
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(swift_list(json, 5, &pg, err), 0);
    ASSERT_EQ(pg.n, 5);
    ASSERT_STREQ(pg.v[0].name, "photos/");
    ASSERT_EQ(pg.v[0].size, -1);
    ASSERT_NULL(pg.v[0].etag);
    ASSERT_NULL(pg.v[0].last_modified);
    ASSERT_STREQ(pg.v[1].name, "caf\xC3\xA9 & cr\xC3\xA8me \xF0\x9F\x98\x80.txt");
    ASSERT_EQ(pg.v[1].size, 0);
    ASSERT_STREQ(pg.v[2].name, "caf\xC3\xA9 raw");
    ASSERT_STREQ(pg.v[3].name, "a \"quoted\" \\ name+%20");
    ASSERT_EQ(pg.v[3].size, 9007199254740993LL);
    ASSERT_NULL(pg.v[3].etag);
    ASSERT_NULL(pg.v[3].last_modified);
    /* A full page ending on a subdir: the subdir is the next marker. */
    ASSERT_EQ(pg.truncated, 1);
    ASSERT_STREQ(pg.next, "z\xC3\xBCrich/");
    haul_list_page_free(&pg);
}

TEST(swift_list_paging)
{
    const char *json = "[{\"name\":\"a\",\"bytes\":1,\"hash\":\"h\"},{\"name\":\"b c\",\"bytes\":2,\"hash\":\"h\"}]";
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(swift_list(json, 2, &pg, err), 0);
    ASSERT_EQ(pg.truncated, 1);
    ASSERT_STREQ(pg.next, "b c");
    haul_list_page_free(&pg);
    ASSERT_EQ(swift_list(json, 3, &pg, err), 0);
    ASSERT_EQ(pg.truncated, 0);
    ASSERT_NULL(pg.next);
    haul_list_page_free(&pg);
    ASSERT_EQ(swift_list(json, 0, &pg, err), 0); /* no limit sent */
    ASSERT_EQ(pg.truncated, 0);
    haul_list_page_free(&pg);
    ASSERT_EQ(swift_list(json, 1, &pg, err), 0); /* server sent more: still more to come */
    ASSERT_EQ(pg.truncated, 1);
    ASSERT_STREQ(pg.next, "b c");
    haul_list_page_free(&pg);
}

TEST(swift_list_empty)
{
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(swift_list("[]", 100, &pg, err), 0);
    ASSERT_EMPTY_PAGE(pg);
    ASSERT_EQ(swift_list(" [ ]\n", 100, &pg, err), 0);
    ASSERT_EMPTY_PAGE(pg);
    ASSERT_EQ(swift_list("", 100, &pg, err), 0);    /* 204 No Content */
    ASSERT_EMPTY_PAGE(pg);
    ASSERT_EQ(haul_swift_parse_list(NULL, 0, 100, &pg, err), 0);
    ASSERT_EMPTY_PAGE(pg);
}

/* Without s3api's listing filter the container's override shows through. */
TEST(swift_list_hash_parameters)
{
    const char *json = "[{\"name\":\"mpu\",\"bytes\":10485760,"
        "\"hash\":\"6b4d1c3e2f1a0b9c8d7e6f5a4b3c2d1e; s3_etag=0a1b2c3d4e5f60718293a4b5c6d7e8f9-2\","
        "\"last_modified\":\"2024-01-01T00:00:00.000000\"},"
        "{\"name\":\"q\",\"bytes\":1,\"hash\":\"\\\"quoted\\\"\"}]";
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(swift_list(json, 100, &pg, err), 0);
    ASSERT_STREQ(pg.v[0].etag, "6b4d1c3e2f1a0b9c8d7e6f5a4b3c2d1e");
    ASSERT_STREQ(pg.v[1].etag, "quoted"); /* etags never keep their quotes */
    haul_list_page_free(&pg);
}

static const struct bad_json {
    const char *json;
    const char *want;
} swift_bad[] = {
    {"{\"name\": \"a\"}", "Swift listing: expected a JSON array of entries, got an object"},
    {"\"a\"", "Swift listing: malformed JSON at line 1"},
    {"[{\"name\": \"a\", \"bytes\": 1}", "Swift listing: malformed JSON at line 1"},
    {"[{\"name\": \"a\",\n \"bytes\": 1},\n", "malformed JSON at line 3"},
    {"[] []", "malformed JSON"},
    {"<html>503 Service Unavailable</html>", "malformed JSON"},
    {"[1]", "entry [0] is an integer, not an object"},
    {"[{\"name\":\"a\",\"bytes\":1}, null]", "entry [1] is null, not an object"},
    {"[[\"a\"]]", "entry [0] is an array, not an object"},
    {"[{\"bytes\": 1}]", "entry [0] has no \"name\""},
    {"[{\"name\": 5, \"bytes\": 1}]", "entry [0]: \"name\" is an integer, not a string"},
    {"[{\"name\": \"\", \"bytes\": 1}]", "entry [0]: \"name\" is empty"},
    {"[{\"name\": \"a\"}]", "entry [0] has no \"bytes\""},
    {"[{\"name\": \"a\", \"bytes\": \"12\"}]", "entry [0]: \"bytes\" is a string, not a non-negative integer"},
    {"[{\"name\": \"a\", \"bytes\": -3}]", "\"bytes\" is negative, not a non-negative integer"},
    {"[{\"name\": \"a\", \"bytes\": 1.5}]", "\"bytes\" is a real number"},
    {"[{\"name\": \"a\", \"bytes\": 1e30}]", "\"bytes\" is a real number"},
    {"[{\"name\": \"a\", \"bytes\": 99999999999999999999}]", "too big integer"},
    {"[{\"name\": \"a\", \"bytes\": 1, \"hash\": 7}]", "\"hash\" is an integer, not a string"},
    {"[{\"name\": \"a\", \"bytes\": 1, \"last_modified\": []}]", "\"last_modified\" is an array"},
    {"[{\"subdir\": 3}]", "\"subdir\" is an integer, not a string"},
    {"[{\"subdir\": \"\"}]", "\"subdir\" is empty"},
    {"[{\"name\": \"a\", \"name\": \"b\", \"bytes\": 1}]", "duplicate object key"},
    {"[{\"name\": \"a\\u0000b\", \"bytes\": 1}]", "\\u0000 is not allowed"},
    {"[{\"name\": \"caf\xE9\", \"bytes\": 1}]", "malformed JSON"},
    {"[{\"name\": \"\\ud800\", \"bytes\": 1}]", "malformed JSON"},
};

TEST(swift_list_malformed)
{
    for (size_t i = 0; i < sizeof swift_bad / sizeof swift_bad[0]; i++) {
        haul_list_page pg = HAUL_LIST_PAGE_INIT;
        char err[HAUL_ERR_LEN] = "";
        int rc = haul_swift_parse_list(swift_bad[i].json, strlen(swift_bad[i].json), 10, &pg, err);
        if (rc != -1) {
            haul_list_page_free(&pg);
            FAIL_("case %zu (%.60s): rc %d, want -1", i, swift_bad[i].json, rc);
        }
        if (pg.v || pg.n || pg.next || pg.truncated) FAIL_("case %zu: page not empty", i);
        if (!strstr(err, swift_bad[i].want))
            FAIL_("case %zu: error \"%s\" lacks \"%s\"", i, err, swift_bad[i].want);
        if (strncmp(err, "Swift listing: ", 15) != 0) FAIL_("case %zu: \"%s\"", i, err);
    }
}

TEST(swift_list_limits)
{
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN] = "";
    char *n1024 = repeat("n", 1024), *n1025 = repeat("n", 1025);
    haul_buf b = HAUL_BUF_INIT;
    haul_buf_printf(&b, "[{\"name\":\"%s\",\"bytes\":1},{\"name\":\"%s\",\"bytes\":1}]", n1024, n1025);
    free(n1024);
    free(n1025);
    int rc = haul_swift_parse_list(b.p, b.len, 0, &pg, err);
    ASSERT_EQ(rc, -1);
    ASSERT_CONTAINS(err, "entry [1]: \"name\" is 1025 bytes, more than the limit of 1024");
    ASSERT_EMPTY_PAGE(pg);

    haul_buf_reset(&b);
    haul_buf_addc(&b, '[');
    for (int i = 0; i <= HAUL_LIST_MAX_ENTRIES; i++) haul_buf_adds(&b, i ? ",0" : "0");
    haul_buf_addc(&b, ']');
    rc = haul_swift_parse_list(b.p, b.len, 0, &pg, err);
    haul_buf_free(&b);
    ASSERT_EQ(rc, -1);
    ASSERT_CONTAINS(err, "1000001 entries, more than the limit of 1000000 per page");
    ASSERT_EMPTY_PAGE(pg);
}

TEST(swift_list_every_truncation)
{
    const char *json = "[{\"hash\":\"h\",\"last_modified\":\"2014-01-15T16:41:49.390270\","
                       "\"bytes\":14,\"name\":\"a\\u00e9\",\"content_type\":\"x\"},{\"subdir\":\"d/\"}]";
    size_t len = strlen(json);
    for (size_t n = 1; n < len; n++) {
        haul_list_page pg = HAUL_LIST_PAGE_INIT;
        char err[HAUL_ERR_LEN];
        char *copy = haul_strndup(json, n);
        int rc = haul_swift_parse_list(copy, n, 10, &pg, err);
        free(copy);
        if (rc != -1) { haul_list_page_free(&pg); FAIL_("prefix of %zu bytes parsed", n); }
        if (pg.v || pg.n || pg.next) FAIL_("prefix of %zu bytes left a page", n);
    }
}

TEST(swift_account_api_example)
{
    const char *json =
        "[\n"
        "    {\"count\": 0, \"bytes\": 0, \"name\": \"janeausten\","
        " \"last_modified\": \"2013-11-19T20:08:13.283452\"},\n"
        "    {\"count\": 1, \"bytes\": 14, \"name\": \"marktwain\","
        " \"last_modified\": \"2016-04-29T16:23:50.460230\"},\n"
        "    {\"count\": 3, \"bytes\": 1099511627776, \"name\": \"dummy+segments \\u00e9\"}\n"
        "]";
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN] = "";
    int rc = haul_swift_parse_account(json, strlen(json), 3, &pg, err);
    if (rc != 0) FAIL_("rc %d: %s", rc, err);
    ASSERT_EQ(pg.n, 3);
    ASSERT_STREQ(pg.v[0].name, "janeausten");
    ASSERT_EQ(pg.v[0].count, 0);
    ASSERT_EQ(pg.v[0].size, 0);
    ASSERT_STREQ(pg.v[0].last_modified, "2013-11-19T20:08:13.283452");
    ASSERT_NULL(pg.v[0].etag);
    ASSERT_EQ(pg.v[1].count, 1);
    ASSERT_EQ(pg.v[1].size, 14);
    ASSERT_STREQ(pg.v[2].name, "dummy+segments \xC3\xA9");
    ASSERT_EQ(pg.v[2].size, 1099511627776LL);
    ASSERT_NULL(pg.v[2].last_modified);
    ASSERT_EQ(pg.truncated, 1);
    ASSERT_STREQ(pg.next, "dummy+segments \xC3\xA9");
    haul_list_page_free(&pg);
    ASSERT_EQ(haul_swift_parse_account("[]", 2, 3, &pg, err), 0);
    ASSERT_EMPTY_PAGE(pg);
}

TEST(swift_account_malformed)
{
    static const struct bad_json cases[] = {
        {"{}", "Swift account listing: expected a JSON array of entries, got an object"},
        {"[{\"name\": \"c\", \"bytes\": 0}]", "entry [0] has no \"count\""},
        {"[{\"name\": \"c\", \"count\": 0}]", "entry [0] has no \"bytes\""},
        {"[{\"name\": \"c\", \"count\": \"0\", \"bytes\": 0}]", "\"count\" is a string"},
        {"[{\"name\": \"c\", \"count\": true, \"bytes\": 0}]", "\"count\" is a boolean"},
        {"[{\"count\": 0, \"bytes\": 0}]", "entry [0] has no \"name\""},
        {"[{\"subdir\": \"x/\"}]", "entry [0] has no \"name\""},
        {"[{\"name\": \"c\", \"count\": 0, \"bytes\": 0}, \"d\"]", "entry [1] is a string, not an object"},
        {"[{\"name\": \"c\", \"count\": 18446744073709551616, \"bytes\": 0}]", "too big integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        haul_list_page pg = HAUL_LIST_PAGE_INIT;
        char err[HAUL_ERR_LEN] = "";
        int rc = haul_swift_parse_account(cases[i].json, strlen(cases[i].json), 10, &pg, err);
        if (rc != -1) { haul_list_page_free(&pg); FAIL_("case %zu: rc %d", i, rc); }
        if (pg.v || pg.n || pg.next) FAIL_("case %zu: page not empty", i);
        if (!strstr(err, cases[i].want)) FAIL_("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
        if (strncmp(err, "Swift account listing: ", 23) != 0) FAIL_("case %zu: \"%s\"", i, err);
    }
}

TEST(page_free_null_and_twice)
{
    haul_list_page_free(NULL);
    haul_list_page pg = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(swift_list("[{\"name\":\"a\",\"bytes\":1}]", 1, &pg, err), 0);
    haul_list_page_free(&pg);
    ASSERT_EMPTY_PAGE(pg);
    haul_list_page_free(&pg); /* zeroed, so harmless */
    ASSERT_EMPTY_PAGE(pg);
}

/* Found by fuzz_s3_list: a <Message> over the 8192-byte limit was cut in the
 * middle of a UTF-8 character. */
TEST(regress_error_message_cut_at_character)
{
    haul_buf x = HAUL_BUF_INIT;
    char code[64], msg[16384];
    haul_buf_adds(&x, "<Error><Code>X</Code><Message>");
    for (int i = 0; i < 8191; i++) haul_buf_addc(&x, 'a');
    haul_buf_adds(&x, "\xc3\xa9tail</Message></Error>");
    ASSERT_EQ(haul_s3_parse_error(x.p, x.len, code, sizeof code, msg, sizeof msg), 0);
    haul_buf_free(&x);
    ASSERT_EQ(strlen(msg), 8191);
    ASSERT(msg[8190] == 'a');
}

int main(void)
{
    RUN(s3_list_aws_example);
    RUN(s3_list_truncated_with_token);
    RUN(s3_list_token_ignored_when_not_truncated);
    RUN(s3_list_plain_special_keys);
    RUN(s3_list_url_encoded_aws);
    RUN(s3_list_url_encoded_swift_s3api);
    RUN(s3_list_common_prefixes);
    RUN(s3_list_empty_bucket);
    RUN(s3_list_namespaces_and_nesting);
    RUN(s3_list_utf16_body);
    RUN(s3_list_name_limits);
    RUN(s3_list_entry_limit);
    RUN(s3_list_malformed);
    RUN(s3_list_every_truncation);
    RUN(s3_buckets_aws_example);
    RUN(s3_buckets_swift_and_paged);
    RUN(s3_buckets_malformed);
    RUN(s3_error_aws_example);
    RUN(s3_error_signature_with_details);
    RUN(s3_error_truncation_and_absence);
    RUN(s3_error_not_an_error);
    RUN(swift_list_api_example);
    RUN(swift_list_names_and_subdirs);
    RUN(swift_list_paging);
    RUN(swift_list_empty);
    RUN(swift_list_hash_parameters);
    RUN(swift_list_malformed);
    RUN(swift_list_limits);
    RUN(swift_list_every_truncation);
    RUN(swift_account_api_example);
    RUN(swift_account_malformed);
    RUN(page_free_null_and_twice);
    RUN(regress_error_message_cut_at_character);
    TEST_DONE();
}
