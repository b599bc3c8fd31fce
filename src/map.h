/*
 * map.h — the runtime's hash map (Go's map, internal to gort): keys and
 * elements are pointer-sized words, each either a pointer the collector
 * follows or a scalar it ignores, hashed and compared as the map's type
 * says. The map and its groups live on the gort heap, so a map nobody
 * references any more is reclaimed by the collector.
 *
 * A map is not safe for concurrent use, except that any number of readers
 * (mapaccess, maplen, iteration) may share a map that nobody modifies any
 * more, if they reached it through a release/acquire pair (sync.Map's
 * read-only maps are read that way).
 */
#ifndef GORT_MAP_H
#define GORT_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a map hashes, compares and traces its keys and elements. */
typedef struct maptype {
    /* Keys that are equal must hash alike. NULL: gort_hash_word. Must not
     * park, allocate or use the map. */
    uintptr_t (*hash)(uintptr_t key, uintptr_t seed);
    /* NULL: the words are compared. The same rules as hash. */
    bool (*equal)(uintptr_t a, uintptr_t b);
    /* Keys (elements) are pointers: the map keeps the objects they point
     * to alive, and stores them with the write barrier. */
    bool key_pointers;
    bool elem_pointers;
} maptype;

typedef struct hmap hmap;

/* A new empty map of type t, sized for `hint` entries without growing; NULL
 * when the heap cannot grow. The map copies what it needs from t. */
hmap *makemap(const maptype *t, size_t hint);

/* v, ok := m[key]: true and *elem (elem may be NULL) when key is present. */
bool mapaccess2(const hmap *h, uintptr_t key, uintptr_t *elem);

/* m[key] = elem: GORT_OK, or GORT_ENOMEM when the map had to grow and the
 * heap could not (the map is then unchanged). */
int mapassign(hmap *h, uintptr_t key, uintptr_t elem);

/* delete(m, key): true (and the element it had in *elem, elem may be NULL)
 * when key was present. */
bool mapdelete(hmap *h, uintptr_t key, uintptr_t *elem);

/* len(m). */
size_t maplen(const hmap *h);

/* Removes every entry (Go's clear(m)); keeps the map's size. */
void mapclear(hmap *h);

/*
 * Iteration in an unspecified order (Go's for k, v := range m). The
 * iterator walks the groups the map has when mapiterinit is called:
 * deleting entries meanwhile is allowed (one not reached yet is then not
 * returned), and an insert may or may not be returned; an insert that grows
 * the map moves it to new groups, and the iterator then goes on over the old
 * ones, a snapshot of the map as it was.
 */
typedef struct hiter {
    const hmap *h;
    const void *groups;
    size_t ngroups;
    size_t next;     /* the next slot to look at: group * 8 + slot */
    uintptr_t key;   /* the entry mapiternext returned */
    uintptr_t elem;
} hiter;

void mapiterinit(hiter *it, const hmap *h);
/* Moves to the next entry (it->key, it->elem); false when there is none. */
bool mapiternext(hiter *it);

/* Internal figures, for tests and benchmarks. */
typedef struct map_stats {
    size_t groups;       /* groups of 8 slots */
    size_t tombstones;   /* deleted slots that probes still walk past */
    size_t growth_left;  /* inserts into empty slots before the next rehash */
} map_stats;
void map_read_stats(const hmap *h, map_stats *stats);

#endif
