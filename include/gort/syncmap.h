/*
 * gort/syncmap.h — Go's sync.Map: a concurrent map whose loads, and
 * stores to keys already present, take no lock; and the hashing helpers
 * its key types use.
 *
 * As in Go, it suits two cases better than a map behind a Mutex or
 * RWMutex: keys written once and read many times (caches that only grow),
 * and goroutines that read and overwrite disjoint sets of keys. For other
 * uses a map with a lock is simpler and as fast.
 *
 * Keys and values are pointer-sized words, each either a pointer (the map
 * keeps what it points to alive, if that is a gort heap object) or a scalar
 * (an integer the collector ignores), as the map's gort_maptype says; keys
 * are hashed and compared by the type's functions. The map lives on the gort
 * heap: keep it reachable (from a goroutine's stack, a heap object, a root
 * region or a handle, gort/gc.h) while it is used.
 *
 * Every operation may be called from many goroutines and threads at once.
 * Range sees each key at most once and no value that was never stored, but
 * is no consistent snapshot: a key stored or deleted during it may or may
 * not be seen, as in Go. Misuse that Go reports as a panic returns a
 * distinct code (gort/error.h): a write to the NULL map returns
 * GORT_ENILMAP, while reads and deletes treat NULL as an empty map (as Go
 * treats a nil map).
 */
#ifndef GORT_SYNCMAP_H
#define GORT_SYNCMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * How a map hashes and compares its keys and values, and which of them are
 * pointers. A gort_maptype must outlive every map made with it (static
 * storage is the rule). The functions must not park, allocate from the gort
 * heap or use the map; they may be called from any thread, many at once.
 */
typedef struct gort_maptype {
    /* The hash of a key; keys equal by key_equal must hash alike. `seed`
     * differs from map to map: mix it in. NULL: gort_hash_word (keys are
     * compared as words). */
    uintptr_t (*hash)(uintptr_t key, uintptr_t seed);
    /* Key equality. NULL: the words are equal. */
    bool (*key_equal)(uintptr_t a, uintptr_t b);
    /* Value equality, for CompareAndSwap and CompareAndDelete. NULL: the
     * words are equal. */
    bool (*value_equal)(uintptr_t a, uintptr_t b);
    /* Keys (values) are pointers: the map keeps the objects they point to
     * alive. False: scalars, ignored by the collector. */
    bool key_pointers;
    bool value_pointers;
} gort_maptype;

/* A well-mixed hash of a word under a seed (the default key hash). */
uintptr_t gort_hash_word(uintptr_t word, uintptr_t seed);

/* A hash of n bytes under a seed, for keys that are strings or other byte
 * sequences (a hash function of a gort_maptype calls it on what its key
 * points to). */
uintptr_t gort_hash_bytes(const void *data, size_t n, uintptr_t seed);

/* A sync.Map. Opaque; NULL is a nil map (see above). */
typedef struct gort_syncmap gort_syncmap;

/* A new, empty map of the given type (NULL: scalar keys and values compared
 * as words); NULL when the heap cannot grow. */
gort_syncmap *gort_syncmap_make(const gort_maptype *type);

/* Load: true and the value stored for key in *value (value may be NULL);
 * false and 0 when key is absent. Takes no lock when key has been in the map
 * since its last promotion (see syncmap.c), and never allocates. */
bool gort_syncmap_load(gort_syncmap *m, uintptr_t key, uintptr_t *value);

/* Store: sets the value for key. GORT_OK, GORT_ENOMEM (nothing changed) or
 * GORT_ENILMAP. */
int gort_syncmap_store(gort_syncmap *m, uintptr_t key, uintptr_t value);

/* LoadOrStore: if key is present, *actual gets its value and *loaded true;
 * otherwise value is stored, *actual gets it and *loaded false (actual and
 * loaded may be NULL). GORT_OK, GORT_ENOMEM (nothing stored) or
 * GORT_ENILMAP. */
int gort_syncmap_load_or_store(gort_syncmap *m, uintptr_t key, uintptr_t value, uintptr_t *actual,
                               bool *loaded);

/* LoadAndDelete: deletes key; true and its value in *value (value may be
 * NULL) when it was present, false and 0 otherwise. */
bool gort_syncmap_load_and_delete(gort_syncmap *m, uintptr_t key, uintptr_t *value);

/* Delete: deletes key (nothing happens when it is absent). */
void gort_syncmap_delete(gort_syncmap *m, uintptr_t key);

/* Swap: stores value for key; *previous gets the value it replaces and
 * *loaded whether there was one (0 and false otherwise; either pointer may
 * be NULL). GORT_OK, GORT_ENOMEM (nothing changed) or GORT_ENILMAP. */
int gort_syncmap_swap(gort_syncmap *m, uintptr_t key, uintptr_t value, uintptr_t *previous,
                      bool *loaded);

/* CompareAndSwap: stores new_ for key if key is present with a value equal
 * (value_equal) to old; *swapped (may be NULL) says whether it did. Never
 * adds a key. GORT_OK, GORT_ENOMEM (nothing changed) or GORT_ENILMAP. */
int gort_syncmap_compare_and_swap(gort_syncmap *m, uintptr_t key, uintptr_t old, uintptr_t new_,
                                  bool *swapped);

/* CompareAndDelete: deletes key if it is present with a value equal to old;
 * true when it did. */
bool gort_syncmap_compare_and_delete(gort_syncmap *m, uintptr_t key, uintptr_t old);

/*
 * Range: calls f(key, value, arg) for each key present, sequentially, until
 * f returns false. f may call any function on m (Range holds no lock while
 * f runs). Its cost is linear in the number of keys even if f stops early.
 */
void gort_syncmap_range(gort_syncmap *m, bool (*f)(uintptr_t key, uintptr_t value, void *arg),
                        void *arg);

#ifdef __cplusplus
}
#endif

#endif
