/*
 * fuzz_gc.c — libFuzzer target: the allocator and the collector.
 *
 * An input decodes into a sequence of allocations of typed objects (small,
 * medium, large, pointer-free, with pointer masks past 64 words), pointer
 * stores between them through the write barrier, drops, payload rewrites,
 * garbage and collections, run under GODEBUG gccheckmark=1 (every mark is
 * verified with the world stopped), optionally while another goroutine
 * collects in a loop so that the stores meet a concurrent mark. A model
 * keeps the object graph: which objects the roots reach and what each holds.
 *
 * After every collection the input asks for:
 *  - every object the model says is reachable is an allocated object at the
 *    same address, its id, payload and checksum intact and each pointer
 *    field pointing where the model says;
 *  - every object that was unreachable before the previous collection is
 *    gone: its slot is free, or holds another object.
 *
 * Invariants of the target itself: the roots are one heap array held by a
 * handle; the mutator and the checker run in goroutines that exit before
 * each collection, so that no stale stack word keeps a dropped object alive
 * (the model's addresses live in C memory, which the collector never scans).
 */
#include <gort/gort.h>
#include <stdatomic.h>
#include <string.h>

#include "fuzz.h"

enum {
    ROOTS = 8,
    MAX_OBJECTS = 192, /* model objects per input */
    MAX_OPS = 160,
    MAX_GARBAGE = 64,
    HEADER_WORDS = 2, /* id, checksum */
};

/* An object: [0] id, [1] checksum of id and payload, then nptr pointer
 * words, then the payload. */
typedef struct kind {
    size_t nptr, npayload;
    gort_type type;
} kind;

static uint64_t wide_mask[2] = {~(uint64_t)3, ~(uint64_t)0};

static kind kinds[] = {
    {2, 2, {"fuzz.pair", 0, 0, 0, NULL}},
    {8, 40, {"fuzz.medium", 0, 0, 0, NULL}},
    {1, 0, {"fuzz.link", 0, 0, 0, NULL}},
    {4, 4200, {"fuzz.large", 0, 0, 0, NULL}},       /* over 32 KB: its own pages */
    {0, 5000, {"fuzz.large_noscan", 0, 0, 0, NULL}}, /* pointer-free, large */
    {0, 1, {"fuzz.scalar", 0, 0, 0, NULL}},
    {126, 3, {"fuzz.wide", 0, 0, 0, wide_mask}},    /* pointer words past 64 */
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static void kinds_init(void)
{
    for (size_t k = 0; k < NKINDS; k++) {
        kind *kd = &kinds[k];
        kd->type.size = (HEADER_WORDS + kd->nptr + kd->npayload) * sizeof(uint64_t);
        kd->type.ptrwords = kd->nptr == 0 ? 0 : HEADER_WORDS + kd->nptr;
        if (kd->nptr != 0 && kd->type.ptrwords <= 64)
            kd->type.ptrbits = ((~(uint64_t)0) >> (64 - kd->nptr)) << HEADER_WORDS;
    }
}

enum op_kind { OP_ALLOC, OP_LINK, OP_LINK_CHILD, OP_DROP, OP_MUTATE, OP_GC, OP_GARBAGE, OP_ROOT_FROM_CHILD, OP_KINDS };

typedef struct op {
    uint8_t kind, a, b, f, g;
} op;

typedef struct program {
    bool concurrent_gc;
    int nops;
    op ops[MAX_OPS];
} program;

typedef struct mobj {
    uint64_t id;
    uint64_t version;
    uintptr_t addr;
    uint8_t kind;
    int16_t edge[126]; /* model index of each pointer field's target, or -1 */
    bool dead;         /* unreachable: must be gone after two collections */
    int dead_since;    /* the collection count when it was found unreachable */
} mobj;

static struct {
    program p;
    mobj objs[MAX_OBJECTS];
    int nobjs;
    int16_t root[ROOTS];
    gort_handle roots;
    int gcs;
    int next_op;
    uint64_t next_id;
    atomic_bool stop_loop;
    atomic_bool loop_done;
} fz;

static uint64_t splitmix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t payload_word(uint64_t id, uint64_t version, size_t j)
{
    return splitmix(id * 0x9e3779b97f4a7c15ull + version * 0x632be59bd9b4e019ull + j);
}

static uint64_t checksum(const uint64_t *w, const kind *kd)
{
    uint64_t s = splitmix(w[0]);
    const uint64_t *payload = w + HEADER_WORDS + kd->nptr;
    for (size_t j = 0; j < kd->npayload; j++)
        s = splitmix(s ^ payload[j]);
    return s;
}

static void fill(uint64_t *w, const mobj *o)
{
    const kind *kd = &kinds[o->kind];
    w[0] = o->id;
    uint64_t *payload = w + HEADER_WORDS + kd->nptr;
    for (size_t j = 0; j < kd->npayload; j++)
        payload[j] = payload_word(o->id, o->version, j);
    w[1] = checksum(w, kd);
}

static void decode(program *p, const uint8_t *data, size_t size)
{
    fuzz_reader r = fuzz_reader_of(data, size);
    memset(p, 0, sizeof *p);
    p->concurrent_gc = fuzz_byte(&r) & 1;
    while (fuzz_more(&r) && p->nops < MAX_OPS) {
        op *o = &p->ops[p->nops++];
        o->kind = (uint8_t)fuzz_below(&r, OP_KINDS);
        o->a = fuzz_byte(&r);
        o->b = fuzz_byte(&r);
        if (o->kind == OP_LINK || o->kind == OP_LINK_CHILD || o->kind == OP_ROOT_FROM_CHILD) {
            o->f = fuzz_byte(&r);
            o->g = fuzz_byte(&r);
        }
    }
}

static void **root_array(void) { return gort_handle_get(fz.roots); }

/* The model index in a root slot, and its object's pointer field. */
static int16_t child_of(int16_t obj, unsigned field)
{
    if (obj < 0 || kinds[fz.objs[obj].kind].nptr == 0)
        return -1;
    return fz.objs[obj].edge[field % kinds[fz.objs[obj].kind].nptr];
}

static void **field_addr(int16_t obj, unsigned field)
{
    const kind *kd = &kinds[fz.objs[obj].kind];
    return (void **)((uint64_t *)fz.objs[obj].addr + HEADER_WORDS + field % kd->nptr);
}

static void *addr_of(int16_t obj) { return obj < 0 ? NULL : (void *)fz.objs[obj].addr; }

static bool garbage(uint8_t k, uint8_t n)
{
    for (int i = 0; i < n % MAX_GARBAGE; i++) {
        uint64_t *w = gort_new(&kinds[k % NKINDS].type);
        if (w == NULL)
            return false;
        w[0] = 0; /* never a model id */
    }
    return true;
}

/* Runs ops until the next collection (or the end), then exits: its stack
 * dies with it. */
static void mutator(void *arg)
{
    gort_chan *done = arg;
    void **roots = root_array();
    for (; fz.next_op < fz.p.nops; fz.next_op++) {
        const op *o = &fz.p.ops[fz.next_op];
        unsigned a = o->a % ROOTS, b = o->b % ROOTS;
        if (o->kind == OP_GC)
            break;
        switch (o->kind) {
        case OP_ALLOC: {
            if (fz.nobjs == MAX_OBJECTS)
                break;
            mobj *m = &fz.objs[fz.nobjs];
            m->kind = (uint8_t)(o->b % NKINDS);
            m->id = ++fz.next_id;
            m->version = 0;
            uint64_t *w = gort_new(&kinds[m->kind].type);
            FUZZ_EXPECT(w != NULL, "gort_new of %s failed", kinds[m->kind].type.name);
            gort_object_info info;
            FUZZ_EXPECT(gort_find_object(w, &info) && info.base == w && info.size >= kinds[m->kind].type.size,
                        "a new object is not found where it is");
            for (size_t j = 0; j < HEADER_WORDS + kinds[m->kind].nptr + kinds[m->kind].npayload; j++)
                FUZZ_EXPECT(w[j] == 0, "a new %s is not zeroed at word %zu", kinds[m->kind].type.name, j);
            m->addr = (uintptr_t)w;
            for (size_t f = 0; f < kinds[m->kind].nptr; f++)
                m->edge[f] = -1;
            fill(w, m);
            GORT_STORE(roots[a], w);
            fz.root[a] = (int16_t)fz.nobjs++;
            break;
        }
        case OP_LINK:
        case OP_LINK_CHILD: {
            int16_t src = fz.root[a];
            if (src < 0 || kinds[fz.objs[src].kind].nptr == 0)
                break;
            int16_t target = o->kind == OP_LINK ? fz.root[b] : child_of(fz.root[b], o->g);
            GORT_STORE(*field_addr(src, o->f), addr_of(target));
            fz.objs[src].edge[o->f % kinds[fz.objs[src].kind].nptr] = target;
            break;
        }
        case OP_ROOT_FROM_CHILD: {
            int16_t target = child_of(fz.root[b], o->f);
            GORT_STORE(roots[a], addr_of(target));
            fz.root[a] = target;
            break;
        }
        case OP_DROP:
            GORT_STORE(roots[a], NULL);
            fz.root[a] = -1;
            break;
        case OP_MUTATE: {
            int16_t obj = fz.root[a];
            if (obj < 0)
                break;
            fz.objs[obj].version++;
            fill((uint64_t *)fz.objs[obj].addr, &fz.objs[obj]);
            break;
        }
        case OP_GARBAGE:
            FUZZ_EXPECT(garbage(o->a, o->b), "garbage allocation failed");
            break;
        }
    }
    int64_t v = 0;
    gort_chan_send(done, &v);
}

/* Marks what the model's roots reach; finds objects newly unreachable. */
static void model_reach(bool *reached)
{
    int16_t stack[MAX_OBJECTS];
    int n = 0;
    memset(reached, 0, MAX_OBJECTS * sizeof *reached);
    for (int r = 0; r < ROOTS; r++)
        if (fz.root[r] >= 0 && !reached[fz.root[r]])
            reached[stack[n++] = fz.root[r]] = true;
    while (n > 0) {
        const mobj *o = &fz.objs[stack[--n]];
        for (size_t f = 0; f < kinds[o->kind].nptr; f++) {
            int16_t t = o->edge[f];
            if (t >= 0 && !reached[t])
                reached[stack[n++] = t] = true;
        }
    }
}

/* Checks the heap against the model after a collection; exits after. */
static void checker(void *arg)
{
    gort_chan *done = arg;
    static bool reached[MAX_OBJECTS];
    model_reach(reached);
    for (int i = 0; i < fz.nobjs; i++) {
        mobj *o = &fz.objs[i];
        const kind *kd = &kinds[o->kind];
        if (reached[i]) {
            FUZZ_EXPECT(!o->dead, "object %llu came back", (unsigned long long)o->id);
            gort_object_info info;
            FUZZ_EXPECT(gort_find_object((void *)o->addr, &info) && info.base == (void *)o->addr,
                        "reachable %s %llu is not allocated after collection %d", kd->type.name,
                        (unsigned long long)o->id, fz.gcs);
            const uint64_t *w = (const uint64_t *)o->addr;
            FUZZ_EXPECT(w[0] == o->id && w[1] == checksum(w, kd),
                        "reachable %s %llu damaged after collection %d (id %llu)", kd->type.name,
                        (unsigned long long)o->id, fz.gcs, (unsigned long long)w[0]);
            for (size_t j = 0; j < kd->npayload; j++)
                FUZZ_EXPECT(w[HEADER_WORDS + kd->nptr + j] == payload_word(o->id, o->version, j),
                            "payload word %zu of %llu", j, (unsigned long long)o->id);
            for (size_t f = 0; f < kd->nptr; f++)
                FUZZ_EXPECT((uintptr_t)w[HEADER_WORDS + f] == (uintptr_t)addr_of(o->edge[f]),
                            "pointer field %zu of %llu", f, (unsigned long long)o->id);
        } else if (!o->dead) {
            o->dead = true;
            o->dead_since = fz.gcs;
        } else if (o->addr != 0 && fz.gcs - o->dead_since >= 2) {
            /* Gone: its slot is free, or another object's (whose id differs:
             * fresh objects are zeroed and ids are never reused). */
            gort_object_info info;
            if (gort_find_object((void *)o->addr, &info) && info.base == (void *)o->addr)
                FUZZ_EXPECT(*(const uint64_t *)o->addr != o->id,
                            "unreachable %s %llu survived collections %d to %d", kd->type.name,
                            (unsigned long long)o->id, o->dead_since, fz.gcs);
            o->addr = 0; /* checked: its address may be anybody's now */
        }
    }
    int64_t v = 0;
    gort_chan_send(done, &v);
}

static void gc_loop(void *arg)
{
    (void)arg;
    while (!atomic_load(&fz.stop_loop)) {
        FUZZ_EXPECT(gort_gc() == GORT_OK, "a background collection failed");
        gort_yield();
    }
    atomic_store(&fz.loop_done, true);
}

static void run(void *arg)
{
    (void)arg;
    gort_chan *done = gort_chan_make_bytes(sizeof(int64_t), 0);
    FUZZ_EXPECT(done != NULL, "channel");
    static const gort_type root_type = {"fuzz.roots", sizeof(void *), 1, 1, NULL};
    void **roots = gort_new_array(&root_type, ROOTS);
    FUZZ_EXPECT(roots != NULL, "roots");
    fz.roots = gort_handle_new(roots);
    roots = NULL;
    if (fz.p.concurrent_gc)
        FUZZ_EXPECT(gort_go(gc_loop, NULL) == GORT_OK, "gc loop");
    int64_t v;
    while (fz.next_op < fz.p.nops) {
        FUZZ_EXPECT(gort_go(mutator, done) == GORT_OK, "mutator");
        gort_chan_recv(done, &v, NULL);
        if (fz.next_op < fz.p.nops)
            fz.next_op++; /* the collection that ended the segment */
        FUZZ_EXPECT(gort_gc() == GORT_OK, "collection");
        fz.gcs++;
        FUZZ_EXPECT(gort_go(checker, done) == GORT_OK, "checker");
        gort_chan_recv(done, &v, NULL);
    }
    /* Two more, so that everything dropped is checked gone. */
    for (int i = 0; i < 3; i++) {
        FUZZ_EXPECT(gort_gc() == GORT_OK, "collection");
        fz.gcs++;
        FUZZ_EXPECT(gort_go(checker, done) == GORT_OK, "checker");
        gort_chan_recv(done, &v, NULL);
    }
    atomic_store(&fz.stop_loop, true);
    while (fz.p.concurrent_gc && !atomic_load(&fz.loop_done))
        gort_yield();
    gort_handle_delete(fz.roots);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        kinds_init();
        ready = true;
    }
    uint64_t next_id = fz.next_id;
    memset(&fz, 0, sizeof fz);
    fz.next_id = next_id; /* ids never repeat within the process */
    for (int r = 0; r < ROOTS; r++)
        fz.root[r] = -1;
    decode(&fz.p, data, size);
    gort_config cfg = {.procs = 2, .godebug = "gccheckmark=1"};
    int rc = gort_main(&cfg, run, NULL);
    FUZZ_EXPECT(rc == GORT_OK, "gort_main returned %d", rc);
    return 0;
}
