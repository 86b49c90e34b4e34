/* fuzz_swift_list.c -- the Swift JSON parsers (common/listing.h) against
 * arbitrary bodies: the container listing and the account listing, both on
 * every input.
 *
 * The first byte sets the limit the request was made with (its value modulo
 * 16, so that full pages, and limit 0, "none sent", are common); the rest is
 * the body. Swift's paging rule is checked too: a page is truncated exactly
 * when a limit was sent and the page holds that many entries, and then the
 * marker for the next request is the last name. */
#include "fuzz.h"

static void check_paging(const char *what, const haul_list_page *p, size_t limit)
{
    int full = limit > 0 && p->n >= limit;
    FUZZ_CHECK(p->truncated == full, "%s: %zu entries, limit %zu, truncated = %d", what,
               p->n, limit, p->truncated);
    if (full)
        FUZZ_CHECK(fuzz_streq(p->next, p->v[p->n - 1].name),
                   "%s: next is \"%s\", the last name \"%s\"", what, fuzz_str(p->next),
                   p->v[p->n - 1].name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t limit = data[0] % 16;
    const char *json = (const char *)data + 1;
    size_t len = size - 1;
    haul_list_page p = HAUL_LIST_PAGE_INIT;
    char err[HAUL_ERR_LEN] = "";
    int rc;

    rc = haul_swift_parse_list(json, len, limit, &p, err);
    fuzz_check_page("container listing", rc, &p, err);
    FUZZ_CHECK(len > 0 || (rc == 0 && p.n == 0), "an empty body is not an empty page: %s",
               err);
    if (rc == 0) {
        check_paging("container listing", &p, limit);
        for (size_t i = 0; i < p.n; i++)
            FUZZ_CHECK(p.v[i].count == -1, "container listing: entry [%zu] has a count", i);
    }
    haul_list_page_free(&p);

    err[0] = '\0';
    rc = haul_swift_parse_account(json, len, limit, &p, err);
    fuzz_check_page("account listing", rc, &p, err);
    if (rc == 0) check_paging("account listing", &p, limit);
    haul_list_page_free(&p);
    return 0;
}
