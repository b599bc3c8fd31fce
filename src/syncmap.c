/*
 * syncmap.c — Go's sync.Map (sync/map.go) on the runtime's hash map
 * (map.c), with the design of Go's: a read-only part reached with one
 * atomic load and no lock, and a dirty part behind a mutex.
 *
 *   read     -> readonly { m: key -> entry, amended }   (never modified once
 *                                                      published)
 *   dirty    -> key -> entry, under mu                 (NULL or a superset)
 *   entry.p  -> a box holding the value, NULL (deleted) or EXPUNGED
 *
 * A load looks in read.m; only a key missing there while `amended` says
 * the dirty map has keys read lacks sends it to the dirty map under mu, and
 * counts a miss. When the misses reach the dirty map's size, the dirty map
 * becomes the new read-only map (a new readonly, published with a release
 * store) and dirty becomes NULL; the next store of a new key copies the
 * read-only map's live entries into a fresh dirty map, expunging the
 * deleted ones (they stay in read.m only, and stay there until the next
 * promotion drops them). A read-only map is never written after it is
 * published, which is why readers may walk it without a lock; the maps
 * replaced are left to the collector, which frees them once no reader
 * holds them (Go's reason for building sync.Map on a collected heap).
 *
 * Values are boxed (a box per stored value, never modified), as Go's
 * entry points at an interface value: the entry's pointer then changes in
 * one word, and a reader that loaded the box reads a value that cannot
 * change under it.
 *
 * gort/gc.h has a barriered store but no barriered compare-and-swap, so
 * writers of an entry's pointer take the entry's own lock (a runtime mutex,
 * held for a compare and a store: entry_cas and entry_swap are the CAS and
 * the swap of Go's code). Readers never take it: they load the pointer
 * with acquire order.
 *
 * Invariants (Go's):
 *  - dirty != NULL exactly when read.amended, and then every key of
 *    read.m whose entry is not EXPUNGED is in dirty, with the same entry;
 *  - an entry is EXPUNGED only while dirty != NULL and its key is not in
 *    dirty; it becomes EXPUNGED (from NULL) and leaves that state (to NULL,
 *    put back into dirty) only under mu;
 *  - every entry in read.m with a value or NULL is, when dirty exists, also
 *    reachable through dirty, so a promotion loses nothing;
 *  - `spare` is a readonly allocated with the dirty map, so that a
 *    promotion (in Load or Range, which cannot report ENOMEM) never
 *    allocates: spare != NULL exactly when dirty != NULL.
 */
#include "syncmap.h"

#include "gort/error.h"
#include "gort/gc.h"
#include "gort/malloc.h"
#include "gort/sync.h"
#include "lock.h"
#include "map.h"
#include "runtime.h"

typedef struct readonly {
    hmap *m;      /* key -> entry; NULL for none */
    bool amended;
} readonly;

typedef struct box {
    uintptr_t value;
} box;

typedef struct entry {
    box *p;       /* acquire loads; written under lk */
    mutex lk;     /* taken by writers of p only */
} entry;

struct gort_syncmap {
    readonly *read;  /* acquire loads; written under mu, release */
    hmap *dirty;     /* under mu */
    readonly *spare; /* under mu */
    gort_mutex mu;
    size_t misses;   /* under mu */
    uint64_t promotions;
    maptype mt;      /* the maps' type: the user's keys, entries as elements */
    bool (*value_equal)(uintptr_t a, uintptr_t b);
    bool value_pointers;
};

static const gort_type syncmap_type =
    GORT_TYPE(struct gort_syncmap, "sync.Map",
              GORT_PTR_FIELD(struct gort_syncmap, read) | GORT_PTR_FIELD(struct gort_syncmap, dirty) |
                  GORT_PTR_FIELD(struct gort_syncmap, spare));
static const gort_type readonly_type =
    GORT_TYPE(readonly, "sync.readOnly", GORT_PTR_FIELD(readonly, m));
static const gort_type entry_type = GORT_TYPE(entry, "sync.entry", GORT_PTR_FIELD(entry, p));
static const gort_type box_types[2] = {
    GORT_TYPE(box, "sync.value", 0),
    GORT_TYPE(box, "sync.value", GORT_PTR_FIELD(box, value)),
};

/* Go's `expunged`: a pointer no box can have. Outside the heap, so the
 * collector ignores it. */
static box expunged_box;
#define EXPUNGED (&expunged_box)

/* ---- entries ---- */

static inline box *entry_load(entry *e) { return __atomic_load_n(&e->p, __ATOMIC_ACQUIRE); }

static inline bool has_value(const box *p) { return p != NULL && p != EXPUNGED; }

/* Compare-and-swap of e->p, with the write barrier. */
static bool entry_cas(entry *e, box *old, box *new_)
{
    lock(&e->lk);
    bool ok = e->p == old;
    if (ok)
        gort_store_release(&e->p, new_);
    unlock(&e->lk);
    return ok;
}

/* Swap of e->p, with the write barrier; returns the old pointer. */
static box *entry_swap(entry *e, box *new_)
{
    lock(&e->lk);
    box *old = e->p;
    gort_store_release(&e->p, new_);
    unlock(&e->lk);
    return old;
}

static box *new_box(const gort_syncmap *m, uintptr_t value)
{
    box *b = gort_new(&box_types[m->value_pointers]);
    if (b == NULL)
        return NULL;
    if (m->value_pointers)
        GORT_STORE(b->value, value);
    else
        b->value = value;
    return b;
}

static entry *new_entry(box *b)
{
    entry *e = gort_new(&entry_type);
    if (e != NULL)
        gort_store_release(&e->p, b);
    return e;
}

static inline bool values_equal(const gort_syncmap *m, uintptr_t a, uintptr_t b)
{
    return m->value_equal != NULL ? m->value_equal(a, b) : a == b;
}

/* Stores b unless e is expunged (Go's trySwap); *prev gets what it held. */
static bool entry_try_swap(entry *e, box *b, box **prev)
{
    lock(&e->lk);
    box *p = e->p;
    bool ok = p != EXPUNGED;
    if (ok)
        gort_store_release(&e->p, b);
    unlock(&e->lk);
    *prev = p;
    return ok;
}

/* Go's tryExpungeLocked: a deleted entry becomes EXPUNGED (mu held). True
 * when e is expunged. */
static bool entry_try_expunge(entry *e)
{
    box *p = entry_load(e);
    while (p == NULL) {
        if (entry_cas(e, NULL, EXPUNGED))
            return true;
        p = entry_load(e);
    }
    return p == EXPUNGED;
}

/* ---- the map's parts ---- */

static inline readonly *load_read(gort_syncmap *m) { return __atomic_load_n(&m->read, __ATOMIC_ACQUIRE); }

static entry *lookup(hmap *h, uintptr_t key)
{
    uintptr_t e;
    return h != NULL && mapaccess2(h, key, &e) ? (entry *)e : NULL;
}

/* The dirty map becomes the read-only map (mu held, dirty != NULL). */
static void promote(gort_syncmap *m)
{
    readonly *r = m->spare;
    GORT_STORE(r->m, m->dirty);
    r->amended = false;
    gort_store_release(&m->read, r);
    GORT_STORE(m->dirty, NULL);
    GORT_STORE(m->spare, NULL);
    m->misses = 0;
    m->promotions++;
}

/* A load went to the dirty map (mu held): Go's missLocked. */
static void miss(gort_syncmap *m)
{
    if (++m->misses >= maplen(m->dirty))
        promote(m);
}

/*
 * Makes sure a dirty map exists before a new key goes in (mu held): Go's
 * dirtyLocked plus the readonly that says amended. Everything is allocated
 * before anything changes: GORT_ENOMEM leaves the map as it was.
 */
static int ensure_dirty(gort_syncmap *m, readonly *r)
{
    if (r->amended)
        return GORT_OK;
    readonly *amended = gort_new(&readonly_type);
    readonly *spare = gort_new(&readonly_type);
    hmap *dirty = makemap(&m->mt, (r->m != NULL ? maplen(r->m) : 0) + 1);
    if (amended == NULL || spare == NULL || dirty == NULL)
        return GORT_ENOMEM;
    if (r->m != NULL) {
        hiter it;
        for (mapiterinit(&it, r->m); mapiternext(&it);) {
            /* Sized for every key: this never grows, so never fails. */
            if (!entry_try_expunge((entry *)it.elem) && mapassign(dirty, it.key, it.elem) != GORT_OK)
                gort_throw("sync.Map: dirty map could not take a key it was sized for");
        }
    }
    GORT_STORE(amended->m, r->m);
    amended->amended = true;
    GORT_STORE(m->dirty, dirty);
    GORT_STORE(m->spare, spare);
    gort_store_release(&m->read, amended);
    return GORT_OK;
}

/*
 * The entry for key, for a write that may need to add it (mu held): the
 * read-only map's (brought back into the dirty map if it was expunged) or
 * the dirty map's. NULL when key is in neither; *err is GORT_ENOMEM when
 * the dirty map could not take an expunged key back.
 */
static entry *entry_for_write(gort_syncmap *m, readonly *r, uintptr_t key, int *err)
{
    *err = GORT_OK;
    entry *e = lookup(r->m, key);
    if (e != NULL) {
        if (entry_load(e) == EXPUNGED) {
            /* Expunged: dirty exists and lacks key. Put it back first,
             * then mark it deleted rather than expunged. */
            if ((*err = mapassign(m->dirty, key, (uintptr_t)e)) != GORT_OK)
                return NULL;
            entry_cas(e, EXPUNGED, NULL);
        }
        return e;
    }
    return lookup(m->dirty, key);
}

/* Adds key -> b as a new entry (mu held, key in neither map). */
static int add_entry(gort_syncmap *m, readonly *r, uintptr_t key, box *b)
{
    int err = ensure_dirty(m, r);
    if (err != GORT_OK)
        return err;
    entry *e = new_entry(b);
    if (e == NULL)
        return GORT_ENOMEM;
    return mapassign(m->dirty, key, (uintptr_t)e);
}

/* ---- the API ---- */

gort_syncmap *gort_syncmap_make(const gort_maptype *type)
{
    static const gort_maptype words = {NULL, NULL, NULL, false, false};
    if (type == NULL)
        type = &words;
    gort_syncmap *m = gort_new(&syncmap_type);
    readonly *r = gort_new(&readonly_type);
    if (m == NULL || r == NULL)
        return NULL;
    m->mt = (maptype){type->hash, type->key_equal, type->key_pointers, true};
    m->value_equal = type->value_equal;
    m->value_pointers = type->value_pointers;
    gort_store_release(&m->read, r);
    return m;
}

bool gort_syncmap_load(gort_syncmap *m, uintptr_t key, uintptr_t *value)
{
    entry *e = NULL;
    if (m != NULL) {
        readonly *r = load_read(m);
        e = lookup(r->m, key);
        if (e == NULL && r->amended) {
            gort_mutex_lock(&m->mu);
            r = load_read(m);
            e = lookup(r->m, key);
            if (e == NULL && r->amended) {
                e = lookup(m->dirty, key);
                /* Hit or not, this key took the slow path: a miss. */
                miss(m);
            }
            gort_mutex_unlock(&m->mu);
        }
    }
    box *p = e != NULL ? entry_load(e) : NULL;
    bool ok = has_value(p);
    if (value != NULL)
        *value = ok ? p->value : 0;
    return ok;
}

/* Sets the results of a write that did not happen. */
static int no_write(int err, uintptr_t *value, bool *flag)
{
    if (value != NULL)
        *value = 0;
    if (flag != NULL)
        *flag = false;
    return err;
}

int gort_syncmap_swap(gort_syncmap *m, uintptr_t key, uintptr_t value, uintptr_t *previous,
                      bool *loaded)
{
    if (m == NULL)
        return no_write(GORT_ENILMAP, previous, loaded);
    box *b = new_box(m, value);
    if (b == NULL)
        return no_write(GORT_ENOMEM, previous, loaded);
    box *prev = NULL;
    int err = GORT_OK;
    entry *e = lookup(load_read(m)->m, key);
    if (e == NULL || !entry_try_swap(e, b, &prev)) {
        gort_mutex_lock(&m->mu);
        readonly *r = load_read(m);
        e = entry_for_write(m, r, key, &err);
        if (e != NULL)
            prev = entry_swap(e, b);
        else if (err == GORT_OK)
            err = add_entry(m, r, key, b);
        gort_mutex_unlock(&m->mu);
    }
    bool had = has_value(prev);
    if (previous != NULL)
        *previous = had ? prev->value : 0;
    if (loaded != NULL)
        *loaded = had;
    return err;
}

int gort_syncmap_store(gort_syncmap *m, uintptr_t key, uintptr_t value)
{
    return gort_syncmap_swap(m, key, value, NULL, NULL);
}

enum try_result { TRY_LOADED, TRY_STORED, TRY_EXPUNGED, TRY_NOMEM };

/* Go's tryLoadOrStore: loads e's value, or stores value if e is deleted;
 * fails on an expunged entry. The box is made only if needed, and once. */
static enum try_result entry_try_load_or_store(gort_syncmap *m, entry *e, uintptr_t value,
                                               uintptr_t *actual)
{
    box *b = NULL;
    for (;;) {
        box *p = entry_load(e);
        if (p == EXPUNGED)
            return TRY_EXPUNGED;
        if (p != NULL) {
            *actual = p->value;
            return TRY_LOADED;
        }
        if (b == NULL && (b = new_box(m, value)) == NULL)
            return TRY_NOMEM;
        if (entry_cas(e, NULL, b)) {
            *actual = value;
            return TRY_STORED;
        }
    }
}

int gort_syncmap_load_or_store(gort_syncmap *m, uintptr_t key, uintptr_t value, uintptr_t *actual,
                               bool *loaded)
{
    if (m == NULL)
        return no_write(GORT_ENILMAP, actual, loaded);
    uintptr_t got = 0;
    int err = GORT_OK;
    enum try_result res = TRY_EXPUNGED;
    entry *e = lookup(load_read(m)->m, key);
    if (e != NULL)
        res = entry_try_load_or_store(m, e, value, &got);
    if (res == TRY_EXPUNGED) {
        gort_mutex_lock(&m->mu);
        readonly *r = load_read(m);
        bool in_read = lookup(r->m, key) != NULL;
        e = entry_for_write(m, r, key, &err);
        if (e != NULL) {
            res = entry_try_load_or_store(m, e, value, &got);
            if (!in_read)
                miss(m);
        } else if (err == GORT_OK) {
            box *b = new_box(m, value);
            err = b != NULL ? add_entry(m, r, key, b) : GORT_ENOMEM;
            res = TRY_STORED;
            got = value;
        }
        gort_mutex_unlock(&m->mu);
    }
    if (res == TRY_NOMEM)
        err = GORT_ENOMEM;
    bool was_loaded = err == GORT_OK && res == TRY_LOADED;
    if (actual != NULL)
        *actual = err == GORT_OK ? got : 0;
    if (loaded != NULL)
        *loaded = was_loaded;
    return err;
}

/* The entry a delete or compare acts on: the read-only map's, or the dirty
 * map's (a miss). With remove, the key also leaves the dirty map. */
static entry *entry_for_delete(gort_syncmap *m, uintptr_t key, bool remove)
{
    readonly *r = load_read(m);
    entry *e = lookup(r->m, key);
    if (e != NULL || !r->amended)
        return e;
    gort_mutex_lock(&m->mu);
    r = load_read(m);
    e = lookup(r->m, key);
    if (e == NULL && r->amended) {
        e = lookup(m->dirty, key);
        if (remove)
            mapdelete(m->dirty, key, NULL);
        /* Whether or not it was there, this key takes the slow path until
         * the next promotion. */
        miss(m);
    }
    gort_mutex_unlock(&m->mu);
    return e;
}

bool gort_syncmap_load_and_delete(gort_syncmap *m, uintptr_t key, uintptr_t *value)
{
    entry *e = m != NULL ? entry_for_delete(m, key, true) : NULL;
    box *p = NULL;
    if (e != NULL) {
        for (p = entry_load(e); has_value(p) && !entry_cas(e, p, NULL); p = entry_load(e))
            ;
    }
    bool ok = has_value(p);
    if (value != NULL)
        *value = ok ? p->value : 0;
    return ok;
}

void gort_syncmap_delete(gort_syncmap *m, uintptr_t key) { (void)gort_syncmap_load_and_delete(m, key, NULL); }

/* Go's tryCompareAndSwap: stores new_ if e holds a value equal to old.
 * The box is made only once the comparison has succeeded. */
static int entry_try_compare_and_swap(gort_syncmap *m, entry *e, uintptr_t old, uintptr_t new_,
                                      bool *swapped)
{
    box *b = NULL;
    for (;;) {
        box *p = entry_load(e);
        if (!has_value(p) || !values_equal(m, p->value, old))
            return GORT_OK;
        if (b == NULL && (b = new_box(m, new_)) == NULL)
            return GORT_ENOMEM;
        if (entry_cas(e, p, b)) {
            *swapped = true;
            return GORT_OK;
        }
    }
}

int gort_syncmap_compare_and_swap(gort_syncmap *m, uintptr_t key, uintptr_t old, uintptr_t new_,
                                  bool *swapped)
{
    bool done = false;
    int err = GORT_OK;
    if (m == NULL) {
        err = GORT_ENILMAP;
    } else {
        readonly *r = load_read(m);
        entry *e = lookup(r->m, key);
        if (e != NULL) {
            err = entry_try_compare_and_swap(m, e, old, new_, &done);
        } else if (r->amended) {
            /* An entry found only in the dirty map is swapped under the
             * lock: once the lock is let go, a LoadAndDelete may take it
             * out of the map, and nobody else may write to it then. */
            gort_mutex_lock(&m->mu);
            r = load_read(m);
            if ((e = lookup(r->m, key)) != NULL) {
                err = entry_try_compare_and_swap(m, e, old, new_, &done);
            } else if ((e = lookup(m->dirty, key)) != NULL) {
                err = entry_try_compare_and_swap(m, e, old, new_, &done);
                /* The set of keys did not change: count a miss, so that a
                 * promotion eventually makes this key cheap. */
                miss(m);
            }
            gort_mutex_unlock(&m->mu);
        }
    }
    if (swapped != NULL)
        *swapped = done;
    return err;
}

bool gort_syncmap_compare_and_delete(gort_syncmap *m, uintptr_t key, uintptr_t old)
{
    entry *e = m != NULL ? entry_for_delete(m, key, false) : NULL;
    if (e == NULL)
        return false;
    for (;;) {
        box *p = entry_load(e);
        if (!has_value(p) || !values_equal(m, p->value, old))
            return false;
        if (entry_cas(e, p, NULL))
            return true;
    }
}

void gort_syncmap_range(gort_syncmap *m, bool (*f)(uintptr_t key, uintptr_t value, void *arg),
                        void *arg)
{
    if (m == NULL)
        return;
    readonly *r = load_read(m);
    if (r->amended) {
        /* Range is linear anyway: promote now, so that it sees every key
         * and later loads find them without the lock. */
        gort_mutex_lock(&m->mu);
        r = load_read(m);
        if (r->amended) {
            promote(m);
            r = load_read(m);
        }
        gort_mutex_unlock(&m->mu);
    }
    if (r->m == NULL)
        return;
    hiter it;
    for (mapiterinit(&it, r->m); mapiternext(&it);) {
        box *p = entry_load((entry *)it.elem);
        if (has_value(p) && !f(it.key, p->value, arg))
            break;
    }
}

/* ---- syncmap.h ---- */

void syncmap_read_state(gort_syncmap *m, syncmap_state *st)
{
    gort_mutex_lock(&m->mu);
    readonly *r = load_read(m);
    st->read_len = r->m != NULL ? maplen(r->m) : 0;
    st->amended = r->amended;
    st->has_dirty = m->dirty != NULL;
    st->dirty_len = m->dirty != NULL ? maplen(m->dirty) : 0;
    st->misses = m->misses;
    st->promotions = m->promotions;
    gort_mutex_unlock(&m->mu);
}

hmap *syncmap_read_map(gort_syncmap *m) { return load_read(m)->m; }

enum syncmap_entry_state syncmap_entry_state(gort_syncmap *m, uintptr_t key, bool in_dirty)
{
    gort_mutex_lock(&m->mu);
    entry *e = lookup(in_dirty ? m->dirty : load_read(m)->m, key);
    box *p = e != NULL ? entry_load(e) : NULL;
    gort_mutex_unlock(&m->mu);
    if (e == NULL)
        return ENTRY_ABSENT;
    return p == EXPUNGED ? ENTRY_EXPUNGED : p == NULL ? ENTRY_DELETED : ENTRY_VALUE;
}
