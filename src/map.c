/*
 * map.c — the runtime's hash map (map.h): a Swiss table, as Go's maps have
 * been since Go 1.24, on the gort heap.
 *
 * Why a Swiss table rather than Go's older buckets with overflow chains:
 * the slots are grouped eight to a group, each group with one 64-bit word of
 * control bytes, and a lookup compares the 7 hash bits kept there for all
 * eight slots at once with a few integer operations (SWAR: wasm has 64-bit
 * integers but, in our builds, no SIMD). Nearly every lookup reads one
 * control word and one key; there are no overflow chains to follow, the
 * table may be 7/8 full, and the whole table is one typed array, so growing
 * it is one allocation and the old array is left to the collector. sync.Map
 * probes its read-only map without a lock on every Load: a probe that
 * usually ends in its first group is what that path wants.
 *
 * Layout: an array of 2^k groups; group = { ctrl, 8 x {key, elem} }. Control
 * byte of a slot: EMPTY (0x00: never used since the last rehash), DELETED
 * (0x01: a tombstone) or FULL (0x80 | the low 7 bits of the key's hash,
 * "H2"). Zeroed memory is therefore an empty table. The other bits of the
 * hash ("H1") choose the first group; probing visits groups at triangular
 * offsets (h1, h1+1, h1+3, h1+6, ...), which reaches every group of a
 * power-of-two table.
 *
 * Invariants:
 *  - a key is in the first group of its probe sequence that holds it, and
 *    every group before that one on the sequence has no EMPTY slot: a probe
 *    stops at the first group with an EMPTY slot;
 *  - growth_left + count + tombstones == 7 * ngroups (the load limit of
 *    7/8), so at least one slot per eight stays EMPTY and every probe ends;
 *  - a group that has an EMPTY slot has had one ever since the last rehash
 *    (EMPTY slots are made only by a rehash, or by a delete in such a
 *    group), so no probe ever went past it and a delete there may leave
 *    EMPTY instead of a tombstone;
 *  - the slots that are not FULL hold zero words: nothing stale stays
 *    visible to the collector;
 *  - a pointer word is only ever written with gort_store (the write
 *    barrier); the group array is typed by the map's kind, so the collector
 *    follows exactly the words that hold pointers.
 */
#include "map.h"

#include <stdatomic.h>
#include <string.h>

#include "gort/error.h"
#include "gort/gc.h"
#include "gort/malloc.h"
#include "gort/syncmap.h"
#include "runtime.h"

#define GROUP_SLOTS 8
#define MAX_LOAD_PER_GROUP 7 /* 7/8 of the slots */

#define CTRL_EMPTY 0x00
#define CTRL_DELETED 0x01
#define CTRL_FULL 0x80

#define LSB 0x0101010101010101ull
#define MSB 0x8080808080808080ull

typedef struct map_slot {
    uintptr_t key;
    uintptr_t elem;
} map_slot;

typedef struct map_group {
    uint64_t ctrl; /* byte i describes slots[i] */
    map_slot slots[GROUP_SLOTS];
} map_group;

enum { KIND_KEY_POINTERS = 1, KIND_ELEM_POINTERS = 2 };

struct hmap {
    map_group *groups;
    size_t count;
    size_t mask;        /* groups - 1 */
    size_t growth_left;
    size_t tombstones;
    uintptr_t seed;
    uintptr_t (*hash)(uintptr_t key, uintptr_t seed);
    bool (*equal)(uintptr_t a, uintptr_t b);
    unsigned kind;      /* KIND_* bits */
};

static const gort_type hmap_type = GORT_TYPE(hmap, "map", GORT_PTR_FIELD(hmap, groups));

/* The pointer bits of the keys (elements) of a group's eight slots. */
#define SLOT_BITS(field)                                                          \
    (GORT_PTR_FIELD(map_group, slots[0].field) | GORT_PTR_FIELD(map_group, slots[1].field) | \
     GORT_PTR_FIELD(map_group, slots[2].field) | GORT_PTR_FIELD(map_group, slots[3].field) | \
     GORT_PTR_FIELD(map_group, slots[4].field) | GORT_PTR_FIELD(map_group, slots[5].field) | \
     GORT_PTR_FIELD(map_group, slots[6].field) | GORT_PTR_FIELD(map_group, slots[7].field))

/* Group types by kind: which words of a group the collector follows. */
static const gort_type group_types[4] = {
    [0] = GORT_TYPE(map_group, "map.group", 0),
    [KIND_KEY_POINTERS] = GORT_TYPE(map_group, "map.group", SLOT_BITS(key)),
    [KIND_ELEM_POINTERS] = GORT_TYPE(map_group, "map.group", SLOT_BITS(elem)),
    [KIND_KEY_POINTERS | KIND_ELEM_POINTERS] =
        GORT_TYPE(map_group, "map.group", SLOT_BITS(key) | SLOT_BITS(elem)),
};

/* ---- hashing ---- */

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
}

static inline uintptr_t hash_word(uintptr_t key, uintptr_t seed)
{
    return (uintptr_t)mix64((uint64_t)key ^ ((uint64_t)seed * 0x9e3779b97f4a7c15ull));
}

uintptr_t gort_hash_word(uintptr_t word, uintptr_t seed) { return hash_word(word, seed); }

uintptr_t gort_hash_bytes(const void *data, size_t n, uintptr_t seed)
{
    const unsigned char *p = data;
    uint64_t h = ((uint64_t)seed * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)n * 0xbf58476d1ce4e5b9ull);
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix64(h ^ w);
    }
    uint64_t tail = 0;
    memcpy(&tail, p, n);
    return (uintptr_t)mix64(h ^ tail ^ ((uint64_t)n << 56));
}

/* A different seed for every map, so that no two maps collide alike. */
static uintptr_t new_seed(void)
{
    static _Atomic uint64_t counter;
    uint64_t n = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
    uint64_t r = (uint64_t)cheaprand() << 32 | cheaprand();
    return (uintptr_t)mix64(r ^ (n * 0xbf58476d1ce4e5b9ull));
}

static inline uintptr_t key_hash(const hmap *h, uintptr_t key)
{
    return h->hash != NULL ? h->hash(key, h->seed) : hash_word(key, h->seed);
}

static inline bool key_equal(const hmap *h, uintptr_t a, uintptr_t b)
{
    return h->equal != NULL ? h->equal(a, b) : a == b;
}

/* ---- control words ---- */

/* Bytes of ctrl equal to b: exact for the lowest one; a higher one may be a
 * false positive (a FULL slot whose H2 differs in its low bit), which the
 * key comparison rejects. */
static inline uint64_t match_byte(uint64_t ctrl, uint8_t b)
{
    uint64_t x = ctrl ^ (LSB * b);
    return (x - LSB) & ~x & MSB;
}

static inline uint64_t match_empty(uint64_t ctrl) { return ~ctrl & ~(ctrl << 7) & MSB; }
static inline uint64_t match_free(uint64_t ctrl) { return ~ctrl & MSB; } /* EMPTY or DELETED */
static inline uint64_t match_full(uint64_t ctrl) { return ctrl & MSB; }

static inline unsigned first_slot(uint64_t match) { return (unsigned)__builtin_ctzll(match) >> 3; }

static inline void ctrl_set(map_group *g, unsigned i, uint8_t b)
{
    unsigned shift = i * 8;
    g->ctrl = (g->ctrl & ~((uint64_t)0xff << shift)) | ((uint64_t)b << shift);
}

static inline uint8_t ctrl_get(const map_group *g, unsigned i) { return (uint8_t)(g->ctrl >> (i * 8)); }

static inline uint8_t h2_of(uintptr_t hash) { return (uint8_t)(CTRL_FULL | (hash & 0x7f)); }
static inline size_t h1_of(uintptr_t hash) { return (size_t)(hash >> 7); }

/* ---- slots ---- */

static inline void word_store(uintptr_t *slot, uintptr_t v, bool pointer)
{
    if (pointer)
        gort_store(slot, (const void *)v);
    else
        *slot = v;
}

static inline void slot_fill(const hmap *h, map_slot *s, uintptr_t key, uintptr_t elem)
{
    word_store(&s->key, key, (h->kind & KIND_KEY_POINTERS) != 0);
    word_store(&s->elem, elem, (h->kind & KIND_ELEM_POINTERS) != 0);
}

static inline void slot_clear(const hmap *h, map_slot *s) { slot_fill(h, s, 0, 0); }

/* ---- lookup ---- */

/* The slot that holds key, or NULL (then the probe ended at a group with
 * an EMPTY slot). With `free`, *free_group and *free gets the first EMPTY or
 * DELETED slot the probe passed: where key would be inserted. */
static map_slot *probe(const hmap *h, uintptr_t key, uintptr_t hash, map_group **group,
                       map_group **free_group, unsigned *free)
{
    uint8_t h2 = h2_of(hash);
    size_t pos = h1_of(hash) & h->mask;
    if (free_group != NULL)
        *free_group = NULL;
    for (size_t step = 1;; step++) {
        map_group *g = &h->groups[pos];
        uint64_t ctrl = g->ctrl;
        for (uint64_t m = match_byte(ctrl, h2); m != 0; m &= m - 1) {
            map_slot *s = &g->slots[first_slot(m)];
            if (key_equal(h, s->key, key)) {
                if (group != NULL)
                    *group = g;
                return s;
            }
        }
        uint64_t empty_or_deleted = match_free(ctrl);
        if (free_group != NULL && *free_group == NULL && empty_or_deleted != 0) {
            *free_group = g;
            *free = first_slot(empty_or_deleted);
        }
        if (match_empty(ctrl) != 0)
            return NULL;
        pos = (pos + step) & h->mask;
    }
}

bool mapaccess2(const hmap *h, uintptr_t key, uintptr_t *elem)
{
    map_slot *s = h->count != 0 ? probe(h, key, key_hash(h, key), NULL, NULL, NULL) : NULL;
    if (elem != NULL)
        *elem = s != NULL ? s->elem : 0;
    return s != NULL;
}

/* ---- making and growing ---- */

static size_t groups_for(size_t entries)
{
    size_t need = entries / MAX_LOAD_PER_GROUP + (entries % MAX_LOAD_PER_GROUP != 0);
    size_t n = 1;
    while (n < need) {
        if (n > SIZE_MAX / 2 / sizeof(map_group))
            return 0;
        n *= 2;
    }
    return n;
}

hmap *makemap(const maptype *t, size_t hint)
{
    size_t ngroups = groups_for(hint);
    if (ngroups == 0)
        return NULL;
    unsigned kind = (t->key_pointers ? KIND_KEY_POINTERS : 0) | (t->elem_pointers ? KIND_ELEM_POINTERS : 0);
    map_group *groups = gort_new_array(&group_types[kind], ngroups);
    if (groups == NULL)
        return NULL;
    hmap *h = gort_new(&hmap_type);
    if (h == NULL)
        return NULL;
    h->mask = ngroups - 1;
    h->growth_left = ngroups * MAX_LOAD_PER_GROUP;
    h->seed = new_seed();
    h->hash = t->hash;
    h->equal = t->equal;
    h->kind = kind;
    GORT_STORE(h->groups, groups);
    return h;
}

/* A slot for a key known to be absent, in a table with no tombstones
 * (a rehash's target): the first free slot on its probe sequence. */
static void insert_fresh(hmap *h, uintptr_t key, uintptr_t elem, uintptr_t hash)
{
    size_t pos = h1_of(hash) & h->mask;
    for (size_t step = 1;; step++) {
        map_group *g = &h->groups[pos];
        uint64_t free = match_free(g->ctrl);
        if (free != 0) {
            unsigned i = first_slot(free);
            ctrl_set(g, i, h2_of(hash));
            slot_fill(h, &g->slots[i], key, elem);
            return;
        }
        pos = (pos + step) & h->mask;
    }
}

/* Moves every entry into a new array: twice as many groups when the table
 * is at least half full of live entries, as many otherwise (which only
 * drops the tombstones). GORT_ENOMEM leaves the map as it was. */
static int rehash(hmap *h)
{
    size_t ngroups = h->mask + 1;
    if (h->count >= ngroups * MAX_LOAD_PER_GROUP / 2) {
        if (ngroups > SIZE_MAX / 2 / sizeof(map_group))
            return GORT_ENOMEM;
        ngroups *= 2;
    }
    map_group *old = h->groups;
    size_t nold = h->mask + 1;
    map_group *groups = gort_new_array(&group_types[h->kind], ngroups);
    if (groups == NULL)
        return GORT_ENOMEM;
    /* The old array stays reachable from h until the new one is complete:
     * fill the new one first, then switch. */
    hmap tmp = *h;
    tmp.groups = groups;
    tmp.mask = ngroups - 1;
    for (size_t gi = 0; gi < nold; gi++) {
        map_group *g = &old[gi];
        for (uint64_t m = match_full(g->ctrl); m != 0; m &= m - 1) {
            map_slot *s = &g->slots[first_slot(m)];
            insert_fresh(&tmp, s->key, s->elem, key_hash(h, s->key));
        }
    }
    h->mask = ngroups - 1;
    h->growth_left = ngroups * MAX_LOAD_PER_GROUP - h->count;
    h->tombstones = 0;
    GORT_STORE(h->groups, groups);
    gort_keep_alive(old);
    return GORT_OK;
}

int mapassign(hmap *h, uintptr_t key, uintptr_t elem)
{
    uintptr_t hash = key_hash(h, key);
    for (;;) {
        map_group *target;
        unsigned i;
        map_slot *s = probe(h, key, hash, NULL, &target, &i);
        if (s != NULL) {
            word_store(&s->elem, elem, (h->kind & KIND_ELEM_POINTERS) != 0);
            return GORT_OK;
        }
        /* Absent. A tombstone is reused at no cost; an EMPTY slot needs
         * room under the load limit. */
        if (ctrl_get(target, i) == CTRL_DELETED) {
            h->tombstones--;
        } else if (h->growth_left == 0) {
            int r = rehash(h);
            if (r != GORT_OK)
                return r;
            continue; /* probe the new table */
        } else {
            h->growth_left--;
        }
        ctrl_set(target, i, h2_of(hash));
        slot_fill(h, &target->slots[i], key, elem);
        h->count++;
        return GORT_OK;
    }
}

bool mapdelete(hmap *h, uintptr_t key, uintptr_t *elem)
{
    map_group *g = NULL;
    map_slot *s = h->count != 0 ? probe(h, key, key_hash(h, key), &g, NULL, NULL) : NULL;
    if (s == NULL) {
        if (elem != NULL)
            *elem = 0;
        return false;
    }
    if (elem != NULL)
        *elem = s->elem;
    unsigned i = (unsigned)(s - g->slots);
    slot_clear(h, s);
    if (match_empty(g->ctrl) != 0) {
        ctrl_set(g, i, CTRL_EMPTY);
        h->growth_left++;
    } else {
        ctrl_set(g, i, CTRL_DELETED);
        h->tombstones++;
    }
    h->count--;
    return true;
}

size_t maplen(const hmap *h) { return h->count; }

void mapclear(hmap *h)
{
    size_t ngroups = h->mask + 1;
    for (size_t gi = 0; gi < ngroups; gi++) {
        map_group *g = &h->groups[gi];
        for (uint64_t m = match_full(g->ctrl); m != 0; m &= m - 1)
            slot_clear(h, &g->slots[first_slot(m)]);
        g->ctrl = 0;
    }
    h->count = 0;
    h->tombstones = 0;
    h->growth_left = ngroups * MAX_LOAD_PER_GROUP;
}

/* ---- iteration ---- */

void mapiterinit(hiter *it, const hmap *h)
{
    it->h = h;
    it->groups = h->groups;
    it->ngroups = h->mask + 1;
    it->next = 0;
    it->key = 0;
    it->elem = 0;
}

bool mapiternext(hiter *it)
{
    const map_group *groups = it->groups;
    size_t end = it->ngroups * GROUP_SLOTS;
    while (it->next < end) {
        size_t n = it->next++;
        const map_group *g = &groups[n / GROUP_SLOTS];
        unsigned i = (unsigned)(n % GROUP_SLOTS);
        if ((ctrl_get(g, i) & CTRL_FULL) != 0) {
            it->key = g->slots[i].key;
            it->elem = g->slots[i].elem;
            return true;
        }
    }
    return false;
}

void map_read_stats(const hmap *h, map_stats *stats)
{
    stats->groups = h->mask + 1;
    stats->tombstones = h->tombstones;
    stats->growth_left = h->growth_left;
}
