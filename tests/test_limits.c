/*
 * test_limits.c — gort at its limits: the heap exhausted (natively under a
 * process memory limit, on wasm at the 4 GB of wasm32), the runtime's own
 * metadata out of memory (system memory made to fail), requests too large
 * to be had, channels with huge capacities and elements at the size limit,
 * goroutines whose stacks cannot be had, deep context chains, and the
 * codes of channel creation. Each either works or fails with its code, and
 * the runtime stays usable after.
 *
 * Natively the exhaustion test runs itself again in a child process
 * (/proc/self/exe, with GORT_LIMITS_CHILD set) whose data segment limit
 * (RLIMIT_DATA, which counts the heap arenas gort commits) is a little above
 * what it uses when it starts; the sanitizers are told to let an
 * allocation fail rather than report it (allocator_may_return_null).
 */
#include <gort/gort.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mheap.h"
#include "prim/prim.h"
#include "testing.h"
#include "testing_rt.h"

#ifndef __EMSCRIPTEN__
#include <pthread.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

/* ---- the heap exhausted ---- */

#define CHUNK_BYTES ((size_t)1 << 20)
/* More chunks than any limit here allows: wasm32's 4 GB, or the child's
 * data limit natively. */
#define MAX_CHUNKS 8192
/* Natively: what the child may commit beyond what it has when it starts.
 * Arenas are 64 MB: two fit, and the third does not, leaving the C
 * allocator (and the sanitizers' own allocations) room to spare. */
#define CHILD_DATA_BUDGET ((rlim_t)160 << 20)
/* On wasm the heap must reach most of wasm32's 4 GB: all of it but the
 * runtime's metadata (a 32nd of the heap for its pointer bitmaps, and the
 * span and page maps), the program's data and stacks, and the system
 * allocator's own memory, some 230 MB in all. 3.5 GB leaves room for that
 * to grow; arenas reserved one at a time, each wasting its alignment,
 * stopped the heap near 2 GB. */
#define WASM_MIN_CHUNKS 3584

static struct {
    atomic_bool stop;
    atomic_long pings;
    atomic_int pingers_done;
} oom;

/* Two goroutines that hand a value back and forth until told to stop:
 * they must keep going while the heap is exhausted. */
static void pinger(void *arg)
{
    gort_chan **pair = arg;
    long v = 0;
    while (!atomic_load(&oom.stop)) {
        if (gort_chan_send(pair[0], &v) != GORT_OK)
            break;
        bool ok;
        gort_chan_recv(pair[1], &v, &ok);
        atomic_fetch_add(&oom.pings, 1);
    }
    atomic_fetch_add(&oom.pingers_done, 1);
}

static void ponger(void *arg)
{
    gort_chan **pair = arg;
    long v;
    bool ok = true;
    while (gort_chan_recv(pair[0], &v, &ok) == GORT_OK && ok) {
        v++;
        if (gort_chan_send(pair[1], &v) != GORT_OK)
            break;
    }
    atomic_fetch_add(&oom.pingers_done, 1);
}

static atomic_int spawned_ran;
static void count_spawned(void *arg)
{
    (void)arg;
    atomic_fetch_add(&spawned_ran, 1);
}

static void fill_chunk(unsigned char *p, size_t i)
{
    memset(p, (int)(i * 7 + 1), 64);
    memset(p + CHUNK_BYTES - 64, (int)(i * 7 + 2), 64);
}

static bool chunk_intact(const unsigned char *p, size_t i)
{
    for (int j = 0; j < 64; j++)
        if (p[j] != (unsigned char)(i * 7 + 1) || p[CHUNK_BYTES - 64 + j] != (unsigned char)(i * 7 + 2))
            return false;
    return true;
}

/* Allocates chunks into holder from slot n on until the heap says no;
 * returns how many the holder has then. */
static size_t exhaust(void **holder, size_t n)
{
    while (n < MAX_CHUNKS) {
        unsigned char *p = gort_alloc_bytes(CHUNK_BYTES);
        if (p == NULL)
            break;
        fill_chunk(p, n);
        GORT_STORE(holder[n], p);
        n++;
    }
    return n;
}

static void exhaustion_main(void *arg)
{
    (void)arg;
    /* The pair reads this array until both have ended (awaited below). */
    gort_chan *pair[2] = {gort_chan_make_bytes(sizeof(long), 0), gort_chan_make_bytes(sizeof(long), 0)};
    REQUIRE(pair[0] != NULL && pair[1] != NULL);
    REQUIRE(gort_go(pinger, pair) == GORT_OK);
    REQUIRE(gort_go(ponger, pair) == GORT_OK);

    void **holder = heap_ptr_array(MAX_CHUNKS);
    REQUIRE(holder != NULL);
    size_t first = exhaust(holder, 0);
    /* Garbage left from before (or a cycle still sweeping) may make room
     * once collected: top up after a collection, so that nothing but the
     * chunks themselves holds the heap when the failures must repeat. */
    CHECK_EQ(gort_gc(), GORT_OK);
    first = exhaust(holder, first);
    printf("    heap exhausted after %zu chunks of 1 MB\n", first);
    CHECK(first > 16);
    CHECK(first < MAX_CHUNKS);
#ifdef __EMSCRIPTEN__
    CHECK(first >= WASM_MIN_CHUNKS);
#endif

    /* The runtime works on: the pair hands values over, a collection runs,
     * the failure repeats as the same clean NULL, creation of goroutines
     * and channels either works or says GORT_ENOMEM. */
    long before = atomic_load(&oom.pings);
    CHECK(AWAIT(atomic_load(&oom.pings) > before + 100));
    CHECK(gort_alloc_bytes(CHUNK_BYTES) == NULL);
    CHECK(gort_alloc_bytes((size_t)64 << 20) == NULL);
    CHECK_EQ(gort_gc(), GORT_OK);
    gort_chan *c = NULL;
    int rc = gort_chan_new_bytes(1, (size_t)32 << 20, &c);
    CHECK(rc == GORT_ENOMEM && c == NULL);
    /* Goroutines with large stacks until one cannot be had. */
    atomic_store(&spawned_ran, 0);
    int spawned = 0;
    for (; spawned < 64; spawned++) {
        rc = gort_go_stack(count_spawned, NULL, (size_t)16 << 20);
        if (rc != GORT_OK) {
            CHECK_EQ(rc, GORT_ENOMEM);
            break;
        }
    }
    CHECK(spawned < 64);
    CHECK(AWAIT(atomic_load(&spawned_ran) == spawned));
    for (size_t i = 0; i < first; i++)
        if (!chunk_intact(holder[i], i)) {
            testing_fail(__FILE__, __LINE__, "chunk %zu damaged", i);
            break;
        }

    /* Dropped, collected: the memory is there again. */
    for (size_t i = 0; i < first; i++)
        GORT_STORE(holder[i], NULL);
    CHECK_EQ(gort_gc(), GORT_OK);
    size_t second = exhaust(holder, 0);
    printf("    after the drop and a collection: %zu chunks\n", second);
    CHECK(second + second / 8 >= first);
    for (size_t i = 0; i < second; i++)
        GORT_STORE(holder[i], NULL);
    CHECK_EQ(gort_gc(), GORT_OK);
    CHECK(gort_alloc_bytes(CHUNK_BYTES) != NULL);

    atomic_store(&oom.stop, true);
    gort_chan_close(pair[0]);
    gort_chan_close(pair[1]);
    CHECK(AWAIT(atomic_load(&oom.pingers_done) == 2));
}

static void exhaustion_run(void)
{
    memset(&oom, 0, sizeof oom);
    run_main(2, exhaustion_main, NULL);
}

#ifndef __EMSCRIPTEN__
static void *exit_at_once(void *arg)
{
    pthread_exit(arg);
}

/* glibc loads libgcc_s the first time a thread exits through pthread_exit,
 * and aborts ("libgcc_s.so.1 must be installed for pthread_exit to work")
 * when it cannot map it: under the limit, with the heap exhausted, it
 * could not. Loaded before the limit is set. */
static void load_thread_exit_support(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, exit_at_once, NULL) == 0)
        pthread_join(t, NULL);
}

static rlim_t vm_data_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    rlim_t kb = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmData: %lu kB", &kb) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kb * 1024;
}
#endif

TEST(limits_heap_exhausted_allocation_fails_cleanly_and_recovers)
{
#ifdef __EMSCRIPTEN__
    exhaustion_run(); /* the limit is wasm32's 4 GB */
#else
    if (getenv("GORT_LIMITS_CHILD") != NULL) {
        load_thread_exit_support();
        rlim_t data = vm_data_bytes();
        REQUIRE(data > 0);
        struct rlimit lim = {.rlim_cur = data + CHILD_DATA_BUDGET, .rlim_max = RLIM_INFINITY};
        REQUIRE(setrlimit(RLIMIT_DATA, &lim) == 0);
        exhaustion_run();
        return;
    }
    /* Run this test again in a child under the limit. */
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const char *asan = getenv("ASAN_OPTIONS"), *tsan = getenv("TSAN_OPTIONS");
        char asan_opts[512], tsan_opts[512];
        snprintf(asan_opts, sizeof asan_opts, "%s%sallocator_may_return_null=1", asan ? asan : "",
                 asan ? ":" : "");
        snprintf(tsan_opts, sizeof tsan_opts, "%s%sallocator_may_return_null=1", tsan ? tsan : "",
                 tsan ? " " : "");
        setenv("ASAN_OPTIONS", asan_opts, 1);
        setenv("TSAN_OPTIONS", tsan_opts, 1);
        setenv("GORT_LIMITS_CHILD", "1", 1);
        execl("/proc/self/exe", "gort_tests", "limits_heap_exhausted_allocation_fails_cleanly_and_recovers",
              (char *)NULL);
        _exit(127);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#endif
}

/* ---- the runtime's own metadata out of memory ----
 *
 * prim_sys_alloc (the memory of spans, arenas' maps and bitmaps, the
 * goroutine table) is made to fail on this thread from its n-th call on,
 * for each n until an operation no longer reaches the failure: each
 * attempt either works or fails cleanly, and leaves the heap's maps
 * consistent and the runtime able to do it once memory is back. The
 * collector is off meanwhile: its work buffers come from the same memory
 * and a cycle's need of them, on this thread, is not the test's. */

/* Enough tries for every system allocation an operation makes. */
#define SYS_FAILURE_TRIES 16

static size_t largest_free_run(void)
{
    lock(&mheap_.lock);
    size_t pages = pagealloc_largest_free_run(&mheap_.pages);
    unlock(&mheap_.lock);
    return pages;
}

static void heap_growth_oom_main(void *arg)
{
    (void)arg;
    int percent = gort_set_gc_percent(-1);
    void **keep = heap_ptr_array(SYS_FAILURE_TRIES + 1);
    REQUIRE(keep != NULL);
    int failed = 0, worked = 0;
    for (unsigned n = 1; n <= SYS_FAILURE_TRIES; n++) {
        /* Longer than any free run: only a growth of the heap can give it. */
        size_t bytes = (largest_free_run() + 1) * PAGE_SIZE;
        size_t arenas = atomic_load(&mheap_.narenas);
        prim_sys_alloc_fail_after(n);
        void *p = gort_alloc_bytes(bytes);
        prim_sys_alloc_fail_after(0);
        CHECK(mheap_verify());
        if (p == NULL) {
            failed++;
            CHECK_EQ(atomic_load(&mheap_.narenas), arenas); /* no arena without its metadata */
            continue;
        }
        worked++;
        memset(p, 0x5a, bytes);
        GORT_STORE(keep[n], p);
        break;
    }
    printf("    heap growth: %d attempts failed cleanly before one had all it needed\n", failed);
    CHECK(failed >= 1);
    CHECK_EQ(worked, 1);
    /* With memory back, growth works. */
    size_t bytes = (largest_free_run() + 1) * PAGE_SIZE;
    void *p = gort_alloc_bytes(bytes);
    CHECK(p != NULL);
    GORT_STORE(keep[0], p);
    CHECK(mheap_verify());

    /* Small objects and spans: many objects of one class with every
     * system allocation failing, until the span structures' memory runs
     * out (or the heap's growth does); then, with memory back, more. */
    prim_sys_alloc_fail_after(1);
    size_t made = 0;
    while (made < 1000000 && gort_alloc_bytes(MAX_SMALL_SIZE) != NULL)
        made++;
    prim_sys_alloc_fail_after(0);
    CHECK(made < 1000000);
    CHECK(mheap_verify());
    CHECK(gort_alloc_bytes(MAX_SMALL_SIZE) != NULL);
    CHECK(gort_alloc_bytes(MAX_SMALL_SIZE + 1) != NULL);
    CHECK_EQ(gort_set_gc_percent(percent), -1);
    CHECK_EQ(gort_gc(), GORT_OK);
    CHECK(mheap_verify());
}

TEST(limits_heap_metadata_out_of_memory_fails_cleanly)
{
    run_main(2, heap_growth_oom_main, NULL);
}

static atomic_bool spawn_release;
static atomic_int spawn_done;
/* Stays alive, without taking any memory, until released. */
static void wait_released(void *arg)
{
    (void)arg;
    while (!atomic_load(&spawn_release))
        gort_yield();
    atomic_fetch_add(&spawn_done, 1);
}

#define SPAWN_MAX 20000

static void goroutine_table_oom_main(void *arg)
{
    (void)arg;
    int percent = gort_set_gc_percent(-1);
    atomic_store(&spawn_release, false);
    atomic_store(&spawn_done, 0);
    int spawned = 0, refused = 0;
    /* Goroutines alive at once need new goroutine structures and room in
     * the goroutine table: with system memory failing from the n-th
     * allocation on, creation says GORT_ENOMEM once it needs more. */
    for (unsigned n = 1; n <= 3 && spawned < SPAWN_MAX; n++) {
        prim_sys_alloc_fail_after(n);
        int rc = GORT_OK;
        while (spawned < SPAWN_MAX && (rc = gort_go(wait_released, NULL)) == GORT_OK)
            spawned++;
        prim_sys_alloc_fail_after(0);
        if (spawned < SPAWN_MAX) {
            CHECK_EQ(rc, GORT_ENOMEM);
            refused++;
        }
    }
    printf("    %d goroutines alive, creation refused %d times\n", spawned, refused);
    CHECK_EQ(refused, 3);
    /* With memory back, creation works, and every goroutine made runs. */
    CHECK_EQ(gort_go(wait_released, NULL), GORT_OK);
    atomic_store(&spawn_release, true);
    CHECK(AWAIT(atomic_load(&spawn_done) == spawned + 1));
    CHECK_EQ(gort_set_gc_percent(percent), -1);
}

TEST(limits_goroutine_metadata_out_of_memory_fails_cleanly)
{
    run_main(2, goroutine_table_oom_main, NULL);
}

/* ---- requests too large, elements at the limit ---- */

static void big_requests_main(void *arg)
{
    (void)arg;
    static const gort_type word = {"word", sizeof(void *), 1, 1, NULL};
    /* pointers in a size not made of words */
    static const gort_type bad = {"bad", sizeof(void *) + 2, 1, 1, NULL};
    CHECK(gort_alloc_bytes(SIZE_MAX) == NULL);
    CHECK(gort_alloc_bytes(SIZE_MAX / 2) == NULL);
    CHECK(gort_alloc_bytes(SIZE_MAX - 8191) == NULL);
    CHECK(gort_new_array(&word, SIZE_MAX / 4) == NULL);
    CHECK(gort_new_array(&word, SIZE_MAX / sizeof(void *) + 1) == NULL);
    CHECK(gort_new(&bad) == NULL);
    CHECK(gort_alloc_bytes(1) != NULL); /* the heap is as it was */

    gort_chan *c = (gort_chan *)1;
    CHECK_EQ(gort_chan_new(NULL, 1, &c), GORT_EELEMTYPE);
    CHECK(c == NULL);
    CHECK_EQ(gort_chan_new(&bad, 1, &c), GORT_EELEMTYPE);
    CHECK_EQ(gort_chan_new_bytes(GORT_CHAN_MAX_ELEM + 1, 0, &c), GORT_EELEMTYPE);
    CHECK_EQ(gort_chan_new_bytes(8, SIZE_MAX, &c), GORT_ECHANSIZE);
    CHECK_EQ(gort_chan_new_bytes(8, GORT_CHAN_MAX_BUFFER / 8 + 1, &c), GORT_ECHANSIZE);
    CHECK_EQ(gort_chan_new(&word, SIZE_MAX / 2, &c), GORT_ECHANSIZE);
    CHECK_EQ(gort_chan_new_bytes(8, 1, NULL), GORT_EINVAL);
    CHECK(gort_chan_make_bytes(8, SIZE_MAX) == NULL);
    CHECK(gort_chan_make(NULL, 0) == NULL);
    /* A buffer within the limit but past what the heap has: out of
     * memory, not a crash (wasm32: 2 GB of buffer in a 4 GB memory that
     * holds the runtime too). */
    if (sizeof(void *) == 4) {
        CHECK_EQ(gort_chan_new_bytes(1, GORT_CHAN_MAX_BUFFER, &c), GORT_ENOMEM);
        CHECK(c == NULL);
    }
    CHECK(strcmp(gort_strerror(GORT_EELEMTYPE), "makechan: invalid channel element type") == 0);
    CHECK(strcmp(gort_strerror(GORT_ECHANSIZE), "makechan: size out of range") == 0);

    /* Elements at the size limit, through a buffer, a hand-off and select. */
    static unsigned char big_in[GORT_CHAN_MAX_ELEM], big_out[GORT_CHAN_MAX_ELEM];
    for (size_t i = 0; i < sizeof big_in; i++)
        big_in[i] = (unsigned char)(i * 31 + 7);
    CHECK_EQ(gort_chan_new_bytes(GORT_CHAN_MAX_ELEM, 3, &c), GORT_OK);
    REQUIRE(c != NULL);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(gort_chan_send(c, big_in), GORT_OK);
    CHECK_EQ(gort_chan_trysend(c, big_in), GORT_EWOULDBLOCK);
    for (int i = 0; i < 3; i++) {
        bool ok = false;
        memset(big_out, 0, sizeof big_out);
        gort_select_case rc = GORT_RECV_CASE(c, big_out);
        CHECK_EQ(gort_select(&rc, 1, false), 0);
        CHECK(rc.ok && memcmp(big_in, big_out, sizeof big_in) == 0);
        (void)ok;
    }
    /* A typed channel whose buffer is a large object holding pointers. */
    CHECK_EQ(gort_chan_new(&word, (size_t)1 << 16, &c), GORT_OK);
    REQUIRE(c != NULL);
    void *obj = gort_alloc_bytes(64);
    for (int i = 0; i < 1000; i++)
        CHECK_EQ(gort_chan_send(c, &obj), GORT_OK);
    CHECK_EQ(gort_gc(), GORT_OK);
    CHECK_EQ(gort_chan_len(c), 1000);
}

TEST(limits_requests_too_large_and_elements_at_the_limit)
{
    run_main(2, big_requests_main, NULL);
}

/* ---- goroutines whose stacks cannot be had ---- */

static atomic_int ran;
static void count_run(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

static void stacks_main(void *arg)
{
    (void)arg;
    atomic_store(&ran, 0);
    CHECK_EQ(gort_go_stack(count_run, NULL, SIZE_MAX), GORT_ENOMEM);
    CHECK_EQ(gort_go_stack(count_run, NULL, SIZE_MAX / 2), GORT_ENOMEM);
    CHECK_EQ(gort_go_stack(count_run, NULL, SIZE_MAX - 4095), GORT_ENOMEM);
    CHECK_EQ(gort_go_stack(count_run, NULL, (size_t)1 << (sizeof(void *) == 8 ? 46 : 31)), GORT_ENOMEM);
    CHECK_EQ(gort_go_stack(count_run, NULL, GORT_MIN_STACK_SIZE - 1), GORT_EINVAL);
    CHECK_EQ(gort_go(NULL, NULL), GORT_EINVAL);
    /* Still fine for stacks that can be had. */
    CHECK_EQ(gort_go_stack(count_run, NULL, GORT_MIN_STACK_SIZE), GORT_OK);
    CHECK_EQ(gort_go(count_run, NULL), GORT_OK);
    AWAIT(atomic_load(&ran) == 2);
}

TEST(limits_goroutine_stacks_that_cannot_be_had)
{
    run_main(2, stacks_main, NULL);
}

/* ---- deep context chains ---- */

#define CHAIN_DEPTH TESTING_SCALE(100000)

static void chain_main(void *arg)
{
    (void)arg;
    static const char key = 'k';
    gort_context *root = NULL, *ctx;
    REQUIRE(gort_context_with_cancel(gort_context_background(), &root) == GORT_OK);
    REQUIRE(gort_context_with_value(root, &key, (void *)&key, &ctx) == GORT_OK);
    /* A chain of alternating cancel and value contexts, held by its leaf. */
    gort_context *mid = NULL;
    for (int i = 0; i < CHAIN_DEPTH; i++) {
        gort_context *next;
        int rc = i % 2 ? gort_context_with_value(ctx, &ctx, NULL, &next) : gort_context_with_cancel(ctx, &next);
        REQUIRE(rc == GORT_OK);
        ctx = next;
        if (i == CHAIN_DEPTH / 2)
            mid = ctx;
    }
    CHECK(gort_context_value(ctx, &key) == &key); /* found at the top */
    gort_chan *done = gort_context_done(ctx);
    REQUIRE(done != NULL);
    CHECK_EQ(gort_context_err(ctx), GORT_OK);
    /* The middle first: the lower half goes with it, the top stays. */
    CHECK_EQ(gort_context_cancel(mid), GORT_OK);
    CHECK_EQ(gort_context_err(ctx), GORT_ECANCELED);
    CHECK_EQ(gort_context_err(root), GORT_OK);
    CHECK_EQ(gort_context_cancel(root), GORT_OK);
    bool ok = true;
    CHECK_EQ(gort_chan_tryrecv(done, NULL, &ok), GORT_OK);
    CHECK(!ok);
    CHECK_EQ(gort_gc(), GORT_OK);
}

TEST(limits_deep_context_chain)
{
    run_main(2, chain_main, NULL);
}

/* ---- the misuse matrix (README: "Misuse of the C API") ---- */

static gort_chan *kept_chan;
static gort_context *kept_ctx;
static gort_timer *kept_timer;
static gort_ticker *kept_ticker;
static gort_handle kept_handle;

static void make_objects_main(void *arg)
{
    (void)arg;
    kept_chan = gort_chan_make_bytes(sizeof(int), 2);
    REQUIRE(gort_context_with_timeout(gort_context_background(), 3600 * (int64_t)1000000000, &kept_ctx) == GORT_OK);
    kept_timer = gort_timer_make(3600 * (int64_t)1000000000);
    kept_ticker = gort_ticker_make(3600 * (int64_t)1000000000);
    REQUIRE(kept_chan != NULL && kept_timer != NULL && kept_ticker != NULL);
    /* Handles keep them across the stop (they are roots in the next run). */
    kept_handle = gort_handle_new(kept_chan);
    gort_handle_new(kept_ctx);
    gort_handle_new(kept_timer);
    gort_handle_new(kept_ticker);
}

static void nested_main(void *arg)
{
    (void)arg;
    CHECK_EQ(gort_main(NULL, nested_main, NULL), GORT_ESTATE);
}

static void misuse_on_goroutine(void *arg)
{
    (void)arg;
    int v = 1;
    bool ok;
    /* NULL and out-of-range arguments. */
    CHECK_EQ(gort_chan_close(NULL), GORT_ECLOSENIL);
    CHECK_EQ(gort_chan_trysend(NULL, &v), GORT_EWOULDBLOCK);
    CHECK_EQ(gort_chan_tryrecv(NULL, &v, &ok), GORT_EWOULDBLOCK);
    CHECK_EQ(gort_chan_len(NULL) + gort_chan_cap(NULL) + gort_chan_elemsize(NULL), 0);
    CHECK_EQ(gort_chan_send(kept_chan, NULL), GORT_EINVAL);
    CHECK_EQ(gort_chan_trysend(kept_chan, NULL), GORT_EINVAL);
    CHECK_EQ(gort_select(NULL, 1, true), -GORT_EINVAL);
    CHECK_EQ(gort_select(NULL, -1, true), -GORT_EINVAL);
    CHECK_EQ(gort_select(NULL, GORT_SELECT_MAX_CASES + 1, true), -GORT_EINVAL);
    gort_select_case bad_dir = {.chan = kept_chan, .dir = (gort_select_dir)7, .elem = &v};
    CHECK_EQ(gort_select(&bad_dir, 1, true), -GORT_EINVAL);
    CHECK_EQ(gort_select(NULL, 0, true), GORT_SELECT_DEFAULT);
    CHECK(gort_ticker_make(0) == NULL);
    CHECK_EQ(gort_ticker_reset(kept_ticker, -1), GORT_EINVAL);
    gort_context *ctx = (gort_context *)1;
    CHECK_EQ(gort_context_with_cancel(NULL, &ctx), GORT_ENILCONTEXT);
    CHECK_EQ(gort_context_with_deadline(NULL, 0, &ctx), GORT_ENILCONTEXT);
    CHECK_EQ(gort_context_with_timeout(NULL, 0, &ctx), GORT_ENILCONTEXT);
    CHECK_EQ(gort_context_with_value(NULL, &v, NULL, &ctx), GORT_ENILCONTEXT);
    CHECK_EQ(gort_context_with_value(gort_context_background(), NULL, NULL, &ctx), GORT_ENILKEY);
    CHECK_EQ(gort_context_cancel(NULL), GORT_EINVAL);
    CHECK_EQ(gort_context_cancel(gort_context_background()), GORT_EINVAL);
    CHECK(gort_context_done(gort_context_background()) == NULL);
    CHECK_EQ(gort_syncmap_store(NULL, 1, 1), GORT_ENILMAP);
    CHECK_EQ(gort_syncmap_load_or_store(NULL, 1, 1, NULL, NULL), GORT_ENILMAP);
    CHECK_EQ(gort_syncmap_swap(NULL, 1, 1, NULL, NULL), GORT_ENILMAP);
    CHECK_EQ(gort_syncmap_compare_and_swap(NULL, 1, 1, 2, NULL), GORT_ENILMAP);
    CHECK(!gort_syncmap_load(NULL, 1, NULL));
    CHECK(!gort_syncmap_load_and_delete(NULL, 1, NULL));
    CHECK(!gort_syncmap_compare_and_delete(NULL, 1, 1));
    gort_syncmap_delete(NULL, 1);
    CHECK_EQ(gort_handle_delete(0), GORT_EINVAL);
    CHECK_EQ(gort_handle_set(0, NULL), GORT_EINVAL);
    CHECK(gort_handle_get(0) == NULL);
    CHECK_EQ(gort_go(NULL, NULL), GORT_EINVAL);
    gort_mutex mu = GORT_MUTEX_INIT;
    CHECK_EQ(gort_mutex_unlock(&mu), GORT_EUNLOCK);
    gort_rwmutex rw = GORT_RWMUTEX_INIT;
    CHECK_EQ(gort_rwmutex_unlock(&rw), GORT_ERUNLOCK);
    CHECK_EQ(gort_rwmutex_runlock(&rw), GORT_ERUNLOCK);
    gort_waitgroup wg = GORT_WAITGROUP_INIT;
    CHECK_EQ(gort_waitgroup_done(&wg), GORT_ENEGATIVE);
    CHECK(strcmp(gort_strerror(12345), "unknown error") == 0);
    CHECK(gort_new(NULL) == NULL);
    CHECK(gort_new_array(NULL, 1) == NULL);
    CHECK_EQ(gort_add_roots(NULL, 8), GORT_EINVAL);
    CHECK_EQ(gort_remove_roots(&v), GORT_EINVAL);
    CHECK_EQ(gort_set_finalizer(NULL, NULL, NULL), GORT_EINVAL);
    CHECK_EQ(gort_set_finalizer(&v, NULL, NULL), GORT_EINVAL); /* not a heap object */
    /* A NULL context reads as Background does (Go would panic on a nil
     * Context's methods). */
    int64_t none;
    CHECK_EQ(gort_context_err(NULL), GORT_OK);
    CHECK(gort_context_done(NULL) == NULL);
    CHECK(gort_context_value(NULL, &v) == NULL);
    CHECK(!gort_context_deadline(NULL, &none));

    /* Objects of the runtime that stopped: channels and contexts work on;
     * the timers were stopped with it and can be armed again. */
    CHECK_EQ(gort_chan_trysend(kept_chan, &v), GORT_OK);
    CHECK_EQ(gort_chan_tryrecv(kept_chan, &v, &ok), GORT_OK);
    CHECK_EQ(gort_context_err(kept_ctx), GORT_OK);
    CHECK_EQ(gort_context_cancel(kept_ctx), GORT_OK);
    CHECK_EQ(gort_context_err(kept_ctx), GORT_ECANCELED);
    CHECK(gort_timer_reset(kept_timer, 1000) == false);
    int64_t fired;
    CHECK_EQ(gort_chan_recv(gort_timer_chan(kept_timer), &fired, &ok), GORT_OK);
    CHECK_EQ(gort_ticker_reset(kept_ticker, 1000), GORT_OK);
    CHECK_EQ(gort_chan_recv(gort_ticker_chan(kept_ticker), &fired, &ok), GORT_OK);
    gort_ticker_stop(kept_ticker);
}

TEST(limits_misuse_matrix)
{
    /* No runtime: what needs one says so. */
    CHECK_EQ(gort_go(count_run, NULL), GORT_ESTATE);
    CHECK_EQ(gort_gc(), GORT_ESTATE);
    CHECK(gort_after(1000) == NULL);
    CHECK(gort_timer_make(1000) == NULL);
    CHECK(gort_ticker_make(1000) == NULL);
    gort_context *ctx = NULL;
    CHECK_EQ(gort_context_with_timeout(gort_context_background(), 3600 * (int64_t)1000000000, &ctx),
             GORT_ESTATE);
    CHECK(ctx == NULL);
    CHECK_EQ(gort_gomaxprocs(), 0);
    CHECK_EQ(gort_goid(), 0);
    CHECK_EQ(gort_main(NULL, NULL, NULL), GORT_EINVAL);
    gort_config tiny = {.procs = 1, .stack_size = 1};
    CHECK_EQ(gort_main(&tiny, count_run, NULL), GORT_EINVAL);
    run_main(1, nested_main, NULL);

    run_main(2, make_objects_main, NULL);
    /* Between runs, on this plain thread: channels and contexts work, the
     * timers of the stopped runtime stay stopped. */
    int v = 7;
    bool ok;
    CHECK_EQ(gort_chan_trysend(kept_chan, &v), GORT_OK);
    CHECK_EQ(gort_chan_tryrecv(kept_chan, &v, &ok), GORT_OK);
    CHECK(ok && v == 7);
    CHECK_EQ(gort_context_err(kept_ctx), GORT_OK);
    int64_t d;
    CHECK(gort_context_deadline(kept_ctx, &d));
    CHECK(gort_timer_reset(kept_timer, 1000) == false);
    CHECK_EQ(gort_ticker_reset(kept_ticker, 1000), GORT_ESTATE);
    CHECK(gort_timer_stop(kept_timer) == false);
    run_main(2, misuse_on_goroutine, NULL);
}

/* ---- goroutines a runtime abandons in channel queues ---- */

static gort_handle abandoned_chan;

static void block_in_recv(void *arg)
{
    (void)arg;
    gort_chan *c = gort_handle_get(abandoned_chan);
    int v;
    bool ok;
    gort_chan_recv(c, &v, &ok); /* never sent to in this run */
}

static void block_in_select(void *arg)
{
    (void)arg;
    gort_chan *c = gort_handle_get(abandoned_chan);
    int v = 3;
    gort_select_case cases[2] = {GORT_RECV_CASE(c, &v), GORT_RECV_CASE(NULL, NULL)};
    gort_select(cases, 2, false);
}

static void abandon_waiters_main(void *arg)
{
    (void)arg;
    CHECK_EQ(gort_go(block_in_recv, NULL), GORT_OK);
    CHECK_EQ(gort_go(block_in_select, NULL), GORT_OK);
    gort_chan *c = gort_handle_get(abandoned_chan);
    AWAIT(RECVQ_LEN((hchan *)c) == 2);
    /* returns: the two goroutines are abandoned, queued on c */
}

static void send_to_abandoned_main(void *arg)
{
    (void)arg;
    gort_chan *c = gort_handle_get(abandoned_chan);
    int v = 42;
    /* Nobody of this runtime waits: the send does not complete at once. */
    CHECK_EQ(gort_chan_trysend(c, &v), GORT_EWOULDBLOCK);
    CHECK_EQ(gort_chan_close(c), GORT_OK);
}

TEST(limits_channel_waiters_of_a_stopped_runtime_are_gone)
{
    gort_chan *c = gort_chan_make_bytes(sizeof(int), 0);
    REQUIRE(c != NULL);
    abandoned_chan = gort_handle_new(c);
    run_main(2, abandon_waiters_main, NULL);
    run_main(2, send_to_abandoned_main, NULL);
    CHECK_EQ(RECVQ_LEN((hchan *)c), 0); /* dropped as they were met */
    gort_handle_delete(abandoned_chan);
}

/* ---- many goroutines parked at once ---- */

/* A million parked at once on wasm works (measured by hand: half a minute
 * and more to start them on a loaded machine; README, Out of memory): the test parks a tenth of that, and natively, under the
 * sanitizers, a fiftieth. Each has the smallest stack. */
#ifdef __EMSCRIPTEN__
#define PARKED_GOROUTINES 100000
#else
#define PARKED_GOROUTINES TESTING_SCALE(20000)
#endif

static atomic_int parked_done;

static void park_on(void *arg)
{
    bool ok;
    gort_chan_recv(arg, NULL, &ok);
    atomic_fetch_add(&parked_done, 1);
}

static void parked_main(void *arg)
{
    (void)arg;
    atomic_store(&parked_done, 0);
    gort_chan *gate = gort_chan_make_bytes(0, 0);
    REQUIRE(gate != NULL);
    int n = 0, rc = GORT_OK;
    int64_t t0 = gort_nanotime();
    for (; n < PARKED_GOROUTINES; n++) {
        rc = gort_go_stack(park_on, gate, GORT_MIN_STACK_SIZE);
        if (rc != GORT_OK)
            break;
        if (n % 1024 == 0)
            gort_yield();
    }
    printf("    %d goroutines started in %lld ms (%s)\n", n, (long long)((gort_nanotime() - t0) / 1000000),
           rc == GORT_OK ? "all" : gort_strerror(rc));
    CHECK(rc == GORT_OK || rc == GORT_ENOMEM); /* works, or says why not */
    CHECK(n > 0);
    AWAIT(gort_num_goroutine() == n + 1);
    CHECK_EQ(gort_chan_close(gate), GORT_OK);
    AWAIT(atomic_load(&parked_done) == n);
    printf("    all ended after %lld ms\n", (long long)((gort_nanotime() - t0) / 1000000));
    CHECK_EQ(gort_go(count_run, NULL), GORT_OK);
}

TEST(limits_many_goroutines_parked_at_once)
{
    run_main(2, parked_main, NULL);
}
