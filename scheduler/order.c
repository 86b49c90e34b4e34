/* order.c -- see order.h. */
#include "order.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

typedef struct prow {          /* a result held in memory, owning its bytes */
    long long slot;
    haul_row row;
    char *mem;                 /* one allocation holding every string */
} prow;

typedef struct heap { prow **v; size_t n, cap; } heap;

static void heap_push(heap *h, prow *p)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->v = haul_realloc(h->v, h->cap * sizeof *h->v);
    }
    size_t i = h->n++;
    while (i > 0 && h->v[(i - 1) / 2]->slot > p->slot) { h->v[i] = h->v[(i - 1) / 2]; i = (i - 1) / 2; }
    h->v[i] = p;
}

static prow *heap_pop(heap *h)
{
    prow *top = h->v[0], *last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->v[c + 1]->slot < h->v[c]->slot) c++;
        if (h->v[c]->slot >= last->slot) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

static void prow_free(prow *p)
{
    if (!p) return;
    free(p->mem);
    free(p);
}

/* Copy a row's strings into one allocation. */
static prow *prow_new(long long slot, const haul_row *r)
{
    const char *s[8] = {r->key, r->value, r->path, r->error, r->worker, r->task, r->md5, r->etag};
    size_t n[8] = {r->key_len, r->value_len, r->path ? strlen(r->path) : 0,
                   r->error ? strlen(r->error) : 0, r->worker ? strlen(r->worker) : 0,
                   r->task ? strlen(r->task) : 0, r->md5 ? strlen(r->md5) : 0,
                   r->etag ? strlen(r->etag) : 0};
    size_t total = 0;
    for (int k = 0; k < 8; k++) total += n[k] + 1;
    prow *p = haul_calloc(1, sizeof *p);
    p->slot = slot;
    p->row = *r;
    p->mem = haul_malloc(total);
    char *m = p->mem;
    const char **dst[8] = {&p->row.key, &p->row.value, &p->row.path, &p->row.error, &p->row.worker,
                           &p->row.task, &p->row.md5, &p->row.etag};
    for (int k = 0; k < 8; k++) {
        if (!s[k]) { *dst[k] = NULL; continue; }
        memcpy(m, s[k], n[k]);
        m[n[k]] = '\0';
        *dst[k] = m;
        m += n[k] + 1;
    }
    p->row.status = haul_status_name(r->status);
    return p;
}

typedef struct dup_run { long long row, slot, n; } dup_run;

typedef struct kept {          /* a slot whose written result may be repeated */
    long long slot;            /* -1: empty */
    long long refs;            /* described rows still to write from it */
    prow *p;                   /* its result, once written */
} kept;

typedef struct keep_map { kept *v; size_t cap, n; } keep_map;

/* The entry of SLOT, or the empty one where it would go. */
static kept *keep_probe(kept *v, size_t cap, long long slot)
{
    size_t j = (size_t)slot * 0x9E3779B97F4A7C15ULL >> 20 & (cap - 1);
    while (v[j].slot >= 0 && v[j].slot != slot) j = (j + 1) & (cap - 1);
    return &v[j];
}

static void keep_resize(keep_map *m, size_t ncap)
{
    kept *nv = haul_malloc(ncap * sizeof *nv);
    for (size_t i = 0; i < ncap; i++) nv[i].slot = -1;
    for (size_t i = 0; i < m->cap; i++)
        if (m->v[i].slot >= 0) *keep_probe(nv, ncap, m->v[i].slot) = m->v[i];
    free(m->v);
    m->v = nv;
    m->cap = ncap;
}

/* SLOT's entry; with ADD, made (refs 0) when missing, else NULL then. */
static kept *keep_find(keep_map *m, long long slot, int add)
{
    if (add && (m->n + 1) * 2 > m->cap) keep_resize(m, m->cap ? m->cap * 2 : 64);
    if (!m->cap) return NULL;
    kept *k = keep_probe(m->v, m->cap, slot);
    if (k->slot == slot) return k;
    if (!add) return NULL;
    *k = (kept){slot, 0, NULL};
    m->n++;
    return k;
}

struct haul_order {
    haul_order_emit emit;
    void *ud;
    long long rows_known, slots_known, floor;
    long long cap;             /* results may come for slots below this */
    int final;
    unsigned char *seen;       /* bitmap of slots answered */
    size_t seen_bytes;
    long long answered;
    long long next;            /* the next slot to write */
    long long next_row;        /* the next row to write */
    heap pending;              /* results waiting for their turn */
    dup_run *dups;             /* runs, by row */
    size_t ndups, capdups, di; /* di: the run at or after next_row */
    long long doff;            /* rows of run di written */
    keep_map keep;
    long long nkept;           /* entries holding a written result */
    char broken[HAUL_ERR_LEN]; /* set once a rule was violated */
};

haul_order *haul_order_new(haul_order_emit emit, void *ud)
{
    haul_order *o = haul_calloc(1, sizeof *o);
    o->emit = emit;
    o->ud = ud;
    return o;
}

void haul_order_free(haul_order *o)
{
    if (!o) return;
    while (o->pending.n) prow_free(heap_pop(&o->pending));
    free(o->pending.v);
    for (size_t i = 0; i < o->keep.cap; i++)
        if (o->keep.v[i].slot >= 0) prow_free(o->keep.v[i].p);
    free(o->keep.v);
    free(o->dups);
    free(o->seen);
    free(o);
}

static int broken(haul_order *o, char *err)
{
    snprintf(err, HAUL_ERR_LEN, "%s", o->broken);
    return -1;
}

static int fail(haul_order *o, char *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the first violated rule; every later call answers it. */
static int fail(haul_order *o, char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->broken, sizeof o->broken, fmt, ap);
    va_end(ap);
    return broken(o, err);
}

/* May the written result of slot be named by a run published later? */
static int may_repeat(const haul_order *o, long long slot)
{
    return !o->final && slot >= o->floor;
}

/* slot's first row was just written from p (NULL: written straight from the
 * caller's row; then p_row is copied when it must be held). */
static void written(haul_order *o, long long slot, prow *p, const haul_row *r)
{
    kept *k = keep_find(&o->keep, slot, 0);
    if ((k && k->refs > 0) || may_repeat(o, slot)) {
        if (!k) k = keep_find(&o->keep, slot, 1);
        k->p = p ? p : prow_new(slot, r);
        o->nkept++;
        return;
    }
    prow_free(p);
}

static int at_dup(const haul_order *o)
{
    return o->di < o->ndups && o->next_row == o->dups[o->di].row + o->doff;
}

/* Write every row that can be written now. */
static void advance(haul_order *o)
{
    while (!o->broken[0] && o->next_row < o->rows_known) {
        if (at_dup(o)) {
            long long slot = o->dups[o->di].slot + o->doff;
            kept *k = keep_find(&o->keep, slot, 0);
            if (!k || !k->p) {
                if (slot >= o->next) break; /* its first row is not written yet */
                snprintf(o->broken, sizeof o->broken, "row %lld repeats slot %lld, whose result is no "
                         "longer held (the job's duplicate runs in Redis are inconsistent)", o->next_row, slot);
                return;
            }
            o->emit(o->ud, &k->p->row);
            o->next_row++;
            if (--k->refs == 0 && !may_repeat(o, slot)) {
                prow_free(k->p);
                k->p = NULL;
                o->nkept--;
            }
            if (++o->doff == o->dups[o->di].n) { o->di++; o->doff = 0; }
            continue;
        }
        if (!o->pending.n || o->pending.v[0]->slot != o->next) break;
        prow *p = heap_pop(&o->pending);
        o->emit(o->ud, &p->row);
        o->next_row++;
        o->next++;
        written(o, p->slot, p, NULL);
    }
}

/* Release the written results nothing can repeat any more; rebuild the map
 * without their entries. */
static void sweep(haul_order *o)
{
    if (!o->keep.n) return;
    keep_map nm = {NULL, 0, 0};
    for (size_t i = 0; i < o->keep.cap; i++) {
        kept *k = &o->keep.v[i];
        if (k->slot < 0) continue;
        if (k->refs == 0 && !may_repeat(o, k->slot) && (k->p || k->slot < o->next)) {
            if (k->p) o->nkept--;
            prow_free(k->p);
            continue;
        }
        if ((nm.n + 1) * 2 > nm.cap) keep_resize(&nm, nm.cap ? nm.cap * 2 : 64);
        *keep_probe(nm.v, nm.cap, k->slot) = *k;
        nm.n++;
    }
    free(o->keep.v);
    o->keep = nm;
}

static void grow_seen(haul_order *o, long long slots)
{
    size_t need = (size_t)(slots / 8 + 1);
    if (need <= o->seen_bytes) return;
    size_t ncap = o->seen_bytes ? o->seen_bytes : 1024;
    while (ncap < need) ncap *= 2;
    o->seen = haul_realloc(o->seen, ncap);
    memset(o->seen + o->seen_bytes, 0, ncap - o->seen_bytes);
    o->seen_bytes = ncap;
}

void haul_order_expect(haul_order *o, long long cap)
{
    if (o->final || cap <= o->cap) return;
    grow_seen(o, cap);
    o->cap = cap;
}

/* The slots results may come for: those described, and while the job is
 * being submitted, those of the tasks queued. */
static long long limit(const haul_order *o)
{
    return o->final || o->cap < o->slots_known ? o->slots_known : o->cap;
}

int haul_order_describe(haul_order *o, long long rows, long long slots, long long floor,
                        int final, char *err)
{
    if (o->broken[0]) return broken(o, err);
    /* A Redis that restarted from its AOF may have lost the last update: what
     * was learnt stays learnt (the submitter writes it again). */
    if (o->final) {
        if (rows > o->rows_known || slots > o->slots_known)
            return fail(o, err, "the job's totals changed after its submission ended (rows %lld, "
                        "slots %lld, dup_floor %lld)", rows, slots, floor);
        return 0;
    }
    if (rows < o->rows_known || slots < o->slots_known || floor < o->floor) {
        if (final)
            return fail(o, err, "the job's totals (rows %lld, slots %lld, dup_floor %lld) are below what "
                        "it had described", rows, slots, floor);
        return 0;
    }
    if (slots > rows || floor > slots)
        return fail(o, err, "the job's description is impossible (rows %lld, slots %lld, dup_floor %lld)",
                    rows, slots, floor);
    grow_seen(o, slots);
    int release = floor > o->floor || (final && !o->final);
    o->rows_known = rows;
    o->slots_known = slots;
    o->floor = floor;
    o->final = final;
    if (release) sweep(o);
    advance(o);
    return o->broken[0] ? broken(o, err) : 0;
}

int haul_order_run(haul_order *o, long long row, long long slot, long long n, char *err)
{
    if (o->broken[0]) return broken(o, err);
    const dup_run *last = o->ndups ? &o->dups[o->ndups - 1] : NULL;
    /* Read again (after a reconnection), or stored twice (by a submitter
     * that wrote its last runs again after a Redis restart): known. */
    if (last && n > 0 && row + n <= last->row + last->n) return 0;
    if (n <= 0 || slot < 0 || row < 0 || row < slot + n || (last && row < last->row + last->n))
        return fail(o, err, "duplicate run \"%lld %lld %lld\" is out of order or impossible "
                    "(the job's haul:dup list in Redis was altered)", row, slot, n);
    if (row < o->next_row)
        return fail(o, err, "duplicate run \"%lld %lld %lld\" names rows already written "
                    "(the job's haul:dup list in Redis was altered)", row, slot, n);
    for (long long s = slot; s < slot + n; s++) {
        kept *k = keep_find(&o->keep, s, 1);
        if (s < o->next && !k->p)
            return fail(o, err, "duplicate run \"%lld %lld %lld\" repeats a slot whose result was "
                        "written and released (the job's haul:dup list in Redis was altered)", row, slot, n);
        k->refs++;
    }
    if (o->ndups == o->capdups) {
        o->capdups = o->capdups ? o->capdups * 2 : 16;
        o->dups = haul_realloc(o->dups, o->capdups * sizeof *o->dups);
    }
    o->dups[o->ndups++] = (dup_run){row, slot, n};
    advance(o);
    return o->broken[0] ? broken(o, err) : 0;
}

int haul_order_answered(const haul_order *o, long long slot)
{
    return slot >= 0 && slot < limit(o) && (o->seen[slot / 8] & (1u << (slot % 8)));
}

int haul_order_result(haul_order *o, long long slot, const haul_row *r, char *err)
{
    if (o->broken[0]) return broken(o, err);
    if (slot < 0 || slot >= limit(o)) {
        snprintf(err, HAUL_ERR_LEN, "result for slot %lld, but the job has %lld", slot, limit(o));
        return -1;
    }
    if (haul_order_answered(o, slot)) return 0;
    o->seen[slot / 8] |= (unsigned char)(1u << (slot % 8));
    o->answered++;
    if (slot == o->next && slot < o->slots_known && o->next_row < o->rows_known && !at_dup(o)) {
        o->emit(o->ud, r);  /* its turn: no copy unless it must be held */
        o->next_row++;
        o->next++;
        written(o, slot, NULL, r);
    } else {
        heap_push(&o->pending, prow_new(slot, r));
    }
    advance(o);
    return o->broken[0] ? broken(o, err) : 1;
}

long long haul_order_rows_written(const haul_order *o) { return o->next_row; }
long long haul_order_slots_answered(const haul_order *o) { return o->answered; }
long long haul_order_rows_known(const haul_order *o) { return o->rows_known; }
long long haul_order_held(const haul_order *o) { return (long long)o->pending.n + o->nkept; }

int haul_order_wants_rows(const haul_order *o)
{
    return !o->final && o->next_row >= o->rows_known;
}

int haul_order_complete(const haul_order *o)
{
    return o->final && !o->broken[0] && o->next_row == o->rows_known && o->answered == o->slots_known;
}
