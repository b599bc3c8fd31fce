/*
 * syncmap.h — what syncmap.c shows of a sync.Map's inner state, for tests
 * and benchmarks: where a key is (read-only map, dirty map), what its entry
 * holds (a value, nil, expunged), and the read-only map itself.
 */
#ifndef GORT_SYNCMAP_INTERNAL_H
#define GORT_SYNCMAP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gort/syncmap.h"
#include "map.h"

typedef struct syncmap_state {
    size_t read_len;   /* keys in the read-only map */
    bool amended;      /* the dirty map holds keys the read-only map lacks */
    bool has_dirty;    /* a dirty map exists (exactly when amended) */
    size_t dirty_len;  /* keys in it */
    size_t misses;     /* loads that went to the dirty map since it was made */
    uint64_t promotions; /* dirty maps promoted to read-only so far */
} syncmap_state;

void syncmap_read_state(gort_syncmap *m, syncmap_state *st);

/* The read-only map in use now (key -> entry), NULL when there is none. */
hmap *syncmap_read_map(gort_syncmap *m);

/* The state of a key's entry. */
enum syncmap_entry_state {
    ENTRY_ABSENT = 0, /* no entry for the key where it was looked up */
    ENTRY_VALUE,      /* holds a value */
    ENTRY_DELETED,    /* nil: deleted, and in the dirty map if there is one */
    ENTRY_EXPUNGED,   /* deleted, and absent from the dirty map */
};

/* The state of key's entry in the read-only map (in_dirty false) or in the
 * dirty map (in_dirty true). */
enum syncmap_entry_state syncmap_entry_state(gort_syncmap *m, uintptr_t key, bool in_dirty);

#endif
