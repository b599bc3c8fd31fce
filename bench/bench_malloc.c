/*
 * bench_malloc.c — allocation throughput of gort against the system
 * allocator (glibc natively, Emscripten's dlmalloc on wasm), in the shape of
 * the Go peer program: allocate N pointer-free objects of 16, 64 or 256 bytes,
 * write the first byte, keep the last 1024 in a ring; on 1 thread and with the
 * N allocations split over 2 threads (wall-clock ns per allocation).
 *
 * gort has no collector yet, so its objects are never freed. Two figures:
 *  - 'fresh': every object comes from pages never touched before (a page
 *    fault per page natively; fresh linear memory on wasm);
 *  - 'recycled': the allocation goes in rounds of ROUND_BYTES per thread, and
 *    between rounds every span is handed back to the page heap whole, as a
 *    collector's sweep would with only the ring alive. Only the rounds are
 *    timed: this is the allocator's cost without the collector's, on a small,
 *    cache-warm heap like the one Go's collector keeps for this program.
 * The system allocator frees the object leaving the ring.
 *
 * Prints one line per figure: RESULT <name> <value> <unit>.
 */
#define _POSIX_C_SOURCE 200809L
#include <gort/gort.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcache.h"
#include "mheap.h"

#define RING 1024
#define ROUND_BYTES (1 << 20)
#define MAX_THREADS 2

enum mode { GORT_FRESH, GORT_RECYCLED, SYSTEM };

struct job {
    enum mode mode;
    size_t size;
    long n;
    int id;
    long checksum;
};

static pthread_barrier_t round_start, round_end, round_recycled;
static double recycled_ns;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Hands every span back to the page heap, as a sweep that found all objects
 * dead would. Called while no thread allocates. */
static void recycle_heap(void)
{
    size_t narenas = atomic_load(&mheap_.narenas);
    for (size_t a = 0; a < narenas; a++) {
        heap_arena *ha = mheap_.allArenas[a];
        for (size_t page = 0; page < PAGES_PER_ARENA; page++) {
            if (!((atomic_load(&ha->pageInUse[page / 8]) >> (page % 8)) & 1))
                continue;
            mspan *s = atomic_load(&ha->spans[page]);
            if (s->list != NULL) {
                mcentral *c = &mheap_.central[s->spanclass];
                lock(&c->lock);
                mspan_list_remove(s->list, s);
                unlock(&c->lock);
            }
            mheap_free_span(s);
        }
    }
}

static void gort_loop(unsigned char **ring, size_t size, long from, long to)
{
    for (long i = from; i < to; i++) {
        unsigned char *p = gort_alloc_bytes(size);
        p[0] = (unsigned char)i;
        ring[i & (RING - 1)] = p;
    }
}

static void *run_job(void *arg)
{
    struct job *j = arg;
    unsigned char *ring[RING] = {0};
    if (j->mode == GORT_FRESH) {
        gort_loop(ring, j->size, 0, j->n);
    } else if (j->mode == GORT_RECYCLED) {
        long per_round = ROUND_BYTES / (long)j->size;
        for (long done = 0; done < j->n; done += per_round) {
            long end = done + per_round < j->n ? done + per_round : j->n;
            pthread_barrier_wait(&round_start);
            double start = now_ns();
            gort_loop(ring, j->size, done, end);
            pthread_barrier_wait(&round_end);
            if (j->id == 0)
                recycled_ns += now_ns() - start;
            for (int i = 0; i < RING; i++)
                j->checksum += ring[i] ? ring[i][0] : 0;
            gort_flush_cache();
            if (pthread_barrier_wait(&round_recycled) == PTHREAD_BARRIER_SERIAL_THREAD)
                recycle_heap();
            pthread_barrier_wait(&round_recycled);
            memset(ring, 0, sizeof ring);
        }
    } else {
        for (long i = 0; i < j->n; i++) {
            unsigned char **slot = &ring[i & (RING - 1)];
            free(*slot);
            unsigned char *p = malloc(j->size);
            p[0] = (unsigned char)i;
            *slot = p;
        }
        for (int i = 0; i < RING; i++) {
            j->checksum += ring[i] ? ring[i][0] : 0;
            free(ring[i]);
        }
        return NULL;
    }
    for (int i = 0; i < RING; i++)
        j->checksum += ring[i] ? ring[i][0] : 0;
    return NULL;
}

/* 64 MB worth of 16 B objects, 128 MB of 64 B, 256 MB of 256 B: long runs,
 * and all the fresh runs together fit in wasm32. */
static long allocs_for(size_t size) { return size <= 16 ? 4000000 : size <= 64 ? 2000000 : 1000000; }

static double measure(enum mode mode, size_t size, int threads)
{
    struct job jobs[MAX_THREADS];
    pthread_t tids[MAX_THREADS];
    long per_thread = allocs_for(size) / threads;
    pthread_barrier_init(&round_start, NULL, threads);
    pthread_barrier_init(&round_end, NULL, threads);
    pthread_barrier_init(&round_recycled, NULL, threads);
    recycled_ns = 0;
    double start = now_ns();
    for (int t = 0; t < threads; t++) {
        jobs[t] = (struct job){mode, size, per_thread, t, 0};
        if (threads == 1)
            run_job(&jobs[t]);
        else
            pthread_create(&tids[t], NULL, run_job, &jobs[t]);
    }
    if (threads > 1)
        for (int t = 0; t < threads; t++)
            pthread_join(tids[t], NULL);
    double elapsed = mode == GORT_RECYCLED ? recycled_ns : now_ns() - start;
    pthread_barrier_destroy(&round_start);
    pthread_barrier_destroy(&round_end);
    pthread_barrier_destroy(&round_recycled);
    return elapsed / (double)(per_thread * threads);
}

int main(void)
{
    static const size_t sizes[] = {16, 64, 256};
    static const char *const suffixes[] = {"", "p1", "par2"};
    measure(SYSTEM, 64, 1); /* warm-up */
    /* Fresh first: once spans are recycled, pages are no longer fresh. */
    for (int s = 0; s < 3; s++)
        for (int threads = 1; threads <= MAX_THREADS; threads++)
            printf("RESULT gort_alloc_fresh_%zu_%s %.2f ns/alloc\n", sizes[s], suffixes[threads],
                   measure(GORT_FRESH, sizes[s], threads));
    gort_flush_cache();
    recycle_heap();
    for (int s = 0; s < 3; s++) {
        for (int threads = 1; threads <= MAX_THREADS; threads++) {
            printf("RESULT gort_alloc_%zu_%s %.2f ns/alloc\n", sizes[s], suffixes[threads],
                   measure(GORT_RECYCLED, sizes[s], threads));
            printf("RESULT system_malloc_%zu_%s %.2f ns/alloc\n", sizes[s], suffixes[threads],
                   measure(SYSTEM, sizes[s], threads));
            fflush(stdout);
        }
    }
    gort_memstats st;
    gort_read_memstats(&st);
    printf("INFO gort heap_sys=%lluMB mallocs=%llu\n", (unsigned long long)(st.heap_sys >> 20),
           (unsigned long long)st.mallocs);
    return 0;
}
