/*
 * bench_malloc.c — allocation throughput of gort against the system
 * allocator (glibc natively, Emscripten's dlmalloc on wasm), in the shape of
 * the Go peer program: allocate N pointer-free objects of 16, 64 or 256 bytes,
 * write the first byte, keep the last 1024 in a ring; on 1 thread and with the
 * N allocations split over 2 threads (wall-clock ns per allocation).
 *
 * gort runs the loop in goroutines (one per P) with the collector on, the ring
 * being a heap array written through the write barrier, as Go's slice is: the
 * figure includes the collector's cost, as Go's does. The system allocator
 * frees the object leaving the ring.
 *
 * `gort_bench_malloc quick` allocates a tenth as many objects.
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

#define RING 1024
#define MAX_THREADS 2
#define QUICK_DIVISOR 10

static long scale_div = 1; /* QUICK_DIVISOR in quick mode */

struct job {
    size_t size;
    long n;
    long checksum;
    gort_waitgroup *wg;
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* A *byte value: the ring's element type. */
static const gort_type bytes_ptr_type = {"*byte", sizeof(void *), 1, 1, NULL};

static void gort_job(void *arg)
{
    struct job *j = arg;
    unsigned char **ring = gort_new_array(&bytes_ptr_type, RING);
    if (ring == NULL) {
        fprintf(stderr, "bench_malloc: out of memory\n");
        exit(1);
    }
    for (long i = 0; i < j->n; i++) {
        unsigned char *p = gort_alloc_bytes(j->size);
        p[0] = (unsigned char)i;
        GORT_STORE(ring[i & (RING - 1)], p);
    }
    for (int i = 0; i < RING; i++)
        j->checksum += ring[i] ? ring[i][0] : 0;
    gort_waitgroup_done(j->wg);
}

struct gort_run {
    struct job jobs[MAX_THREADS];
    int threads;
    double elapsed;
};

static void gort_run_main(void *arg)
{
    struct gort_run *r = arg;
    gort_waitgroup wg = {0};
    gort_waitgroup_add(&wg, r->threads);
    double start = now_ns();
    for (int t = 0; t < r->threads; t++) {
        r->jobs[t].wg = &wg;
        if (gort_go(gort_job, &r->jobs[t]) != GORT_OK)
            exit(1);
    }
    gort_waitgroup_wait(&wg);
    r->elapsed = now_ns() - start;
}

static void *system_job(void *arg)
{
    struct job *j = arg;
    unsigned char *ring[RING] = {0};
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

/* 64 MB worth of 16 B objects, 128 MB of 64 B, 256 MB of 256 B. */
static long allocs_for(size_t size)
{
    return (size <= 16 ? 4000000 : size <= 64 ? 2000000 : 1000000) / scale_div;
}

static double measure_gort(size_t size, int threads)
{
    static struct gort_run r;
    long per_thread = allocs_for(size) / threads;
    memset(&r, 0, sizeof r);
    r.threads = threads;
    for (int t = 0; t < threads; t++)
        r.jobs[t] = (struct job){size, per_thread, 0, NULL};
    gort_config cfg = {.procs = threads};
    if (gort_main(&cfg, gort_run_main, &r) != GORT_OK)
        exit(1);
    return r.elapsed / (double)(per_thread * threads);
}

static double measure_system(size_t size, int threads)
{
    struct job jobs[MAX_THREADS];
    pthread_t tids[MAX_THREADS];
    long per_thread = allocs_for(size) / threads;
    double start = now_ns();
    for (int t = 0; t < threads; t++) {
        jobs[t] = (struct job){size, per_thread, 0, NULL};
        if (threads == 1)
            system_job(&jobs[t]);
        else
            pthread_create(&tids[t], NULL, system_job, &jobs[t]);
    }
    if (threads > 1)
        for (int t = 0; t < threads; t++)
            pthread_join(tids[t], NULL);
    return (now_ns() - start) / (double)(per_thread * threads);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "quick") == 0)
        scale_div = QUICK_DIVISOR;
    static const size_t sizes[] = {16, 64, 256};
    static const char *const suffixes[] = {"", "p1", "par2"};
    measure_system(64, 1); /* warm-up */
    for (int s = 0; s < 3; s++) {
        for (int threads = 1; threads <= MAX_THREADS; threads++) {
            printf("RESULT gort_alloc_%zu_%s %.2f ns/alloc\n", sizes[s], suffixes[threads],
                   measure_gort(sizes[s], threads));
            printf("RESULT system_malloc_%zu_%s %.2f ns/alloc\n", sizes[s], suffixes[threads],
                   measure_system(sizes[s], threads));
            fflush(stdout);
        }
    }
    static gort_memstats st;
    gort_read_memstats(&st);
    printf("INFO gort heap_sys=%lluMB mallocs=%llu num_gc=%u\n",
           (unsigned long long)(st.heap_sys >> 20), (unsigned long long)st.mallocs, st.num_gc);
    return 0;
}
