/*
 * test_migrate.c — a stress test of goroutines that move between threads
 * while the collector scans their stacks: thousands of goroutines, each
 * holding a list of heap objects in its locals only, yield and sleep on
 * every processor's thread while collections run back to back with the
 * collector's verification on (gccheckmark). A goroutine's locals are in
 * memory only while it is switched out (on wasm in its Asyncify buffer): a
 * scan that missed them, or a resume that restored them wrongly on another
 * worker, frees or garbles a list and shows up as a broken node or as
 * checkmark's fatal error.
 */
#include <gort/gort.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "runtime2.h"
#include "testing.h"
#include "testing_rt.h"

/* ThreadSanitizer runs this some ten times slower: fewer rounds there. */
#ifdef TESTING_TSAN
#define MIGRATE_ROUNDS 8
#else
#define MIGRATE_ROUNDS 24
#endif

enum {
    MIGRATE_PROCS = 4,
    MIGRATE_GOROUTINES = 3000,
    MIGRATE_LIST = 6,        /* heap nodes each goroutine holds in its locals */
    MIGRATE_SLEEP_EVERY = 3, /* every third round sleeps instead of yielding */
    MIGRATE_SLEEP_NS = 20000,
    MAX_SEEN_MS = 64,
};

typedef struct mnode {
    struct mnode *next;
    uint64_t id;
    uint64_t check;
} mnode;

static const gort_type mnode_type = GORT_TYPE(mnode, "mnode", GORT_PTR_FIELD(mnode, next));

static uint64_t check_of(uint64_t id) { return (id * 0x9e3779b97f4a7c15ull) ^ (id >> 7); }

static struct {
    gort_waitgroup done;
    atomic_long broken;     /* nodes found garbled or lists of the wrong length */
    atomic_long moves;      /* resumptions on another thread, seen by the goroutines */
    atomic_long rounds;
    _Atomic(m *) seen[MAX_SEEN_MS];
} migrate;

/* Which thread runs the caller, read afresh after each switch. */
static __attribute__((noinline)) m *running_m(void) { return getm(); }

static void note_thread(m *mp)
{
    for (int i = 0; i < MAX_SEEN_MS; i++) {
        m *cur = atomic_load(&migrate.seen[i]);
        if (cur == mp)
            return;
        if (cur == NULL) {
            m *expected = NULL;
            if (atomic_compare_exchange_strong(&migrate.seen[i], &expected, mp) ||
                expected == mp)
                return;
        }
    }
}

static long list_errors(const mnode *head, uint64_t first)
{
    long errors = 0, n = 0;
    for (const mnode *p = head; p != NULL; p = p->next, n++)
        errors += p->id != first + (uint64_t)n || p->check != check_of(p->id);
    return errors + (n != MIGRATE_LIST);
}

static void migrant(void *arg)
{
    uint64_t first = (uint64_t)(uintptr_t)arg * MIGRATE_LIST;
    mnode *head = NULL; /* held only here */
    for (int i = MIGRATE_LIST - 1; i >= 0; i--) {
        mnode *n = gort_new(&mnode_type);
        if (n == NULL) {
            atomic_fetch_add(&migrate.broken, 1);
            break;
        }
        n->id = first + (uint64_t)i;
        n->check = check_of(n->id);
        GORT_STORE(n->next, head);
        head = n;
    }
    m *last = running_m();
    note_thread(last);
    for (int r = 0; r < MIGRATE_ROUNDS; r++) {
        gort_new(&mnode_type); /* garbage, to keep the collector busy */
        if (r % MIGRATE_SLEEP_EVERY == 0)
            gort_sleep(MIGRATE_SLEEP_NS);
        else
            gort_yield();
        m *now = running_m();
        if (now != last) {
            atomic_fetch_add(&migrate.moves, 1);
            note_thread(now);
            last = now;
        }
        long errors = list_errors(head, first);
        if (errors != 0)
            atomic_fetch_add(&migrate.broken, errors);
        atomic_fetch_add(&migrate.rounds, 1);
    }
    gort_waitgroup_done(&migrate.done);
}

static void migrate_main(void *arg)
{
    (void)arg;
    long goroutines = TESTING_SCALE(MIGRATE_GOROUTINES);
    REQUIRE(gc_loop_start());
    gort_waitgroup_add(&migrate.done, (int)goroutines);
    for (long i = 0; i < goroutines; i++)
        REQUIRE(gort_go(migrant, (void *)(uintptr_t)i) == GORT_OK);
    gort_waitgroup_wait(&migrate.done);
    gc_loop_stop();

    CHECK_EQ(atomic_load(&migrate.broken), 0);
    CHECK_EQ(atomic_load(&migrate.rounds), goroutines * MIGRATE_ROUNDS);
    /* Goroutines moved, many times each on average, and every processor's
     * thread ran some. */
    CHECK(atomic_load(&migrate.moves) >= goroutines);
    int threads = 0;
    for (int i = 0; i < MAX_SEEN_MS; i++)
        threads += atomic_load(&migrate.seen[i]) != NULL;
    CHECK(threads >= MIGRATE_PROCS);
    printf("    %ld goroutines, %ld resumptions on another thread, %d threads, %d collections\n",
           goroutines, atomic_load(&migrate.moves), threads, atomic_load(&gc_loop.cycles));
}

TEST(migrate_thousands_of_goroutines_across_every_thread_under_checkmark)
{
    run_main_checkmark(MIGRATE_PROCS, migrate_main, NULL);
}
