/*
 * bench_chan.c — channel and select costs, the workloads of the Go peer
 * programs bench/go/chan_pingpong, chan_spsc, chan_self, chan_contended and
 * select4, each run with 1 and with 2 Ps (or the Ps `procs=N` asks for;
 * Go's GOMAXPROCS; Go's js/wasm has 1):
 *
 *   chan_pingpong         two goroutines bounce a value over two unbuffered
 *                         channels, 1e6 round trips (ns per round trip)
 *   chan_buffered_spsc    one goroutine sends 1e7 ints into a cap-128
 *                         channel, main receives them (ns per message)
 *   chan_cap1_self        one goroutine sends then receives on a cap-1
 *                         channel, 1e7 times (ns per single channel op)
 *   chan_contended        4 producers x 4 consumers over one cap-1024
 *                         channel, 4e6 messages (ns/msg and M msgs/s)
 *   select4               main selects over 4 cap-128 channels fed by 4
 *                         producers, 4e6 selects (ns per select)
 *   select4_unbuf         the same over 4 unbuffered channels
 *
 * Each runs once at a tenth of its size first (warm-up, as the Go programs
 * do), then timed; sums are checked as in Go's. `gort_bench_chan quick`
 * divides every size by 10; a workload's short name (pingpong, spsc, self,
 * contended, select4, select4_unbuf) runs only that one. Prints
 * RESULT <name> <value> <unit>.
 */
#include "bench.h"

/* ---- chan_pingpong ---- */

static gort_chan *ping, *pong;
static gort_waitgroup echo_done;

static void echo(void *arg)
{
    (void)arg;
    int64_t v;
    bool ok;
    for (;;) {
        gort_chan_recv(ping, &v, &ok);
        if (!ok)
            break;
        v++;
        gort_chan_send(pong, &v);
    }
    gort_waitgroup_done(&echo_done);
}

static int64_t pingpong_run(long k)
{
    int64_t s = 0;
    for (int64_t i = 0; i < k; i++) {
        int64_t v;
        bool ok;
        gort_chan_send(ping, &i);
        gort_chan_recv(pong, &v, &ok);
        s += v;
    }
    return s;
}

static void pingpong_main(void *arg)
{
    long n = *(long *)arg;
    ping = gort_chan_make_bytes(sizeof(int64_t), 0);
    pong = gort_chan_make_bytes(sizeof(int64_t), 0);
    gort_waitgroup_add(&echo_done, 1);
    gort_go(echo, NULL);
    pingpong_run(n / 10);
    double t = now_ns();
    int64_t s = pingpong_run(n);
    double el = now_ns() - t;
    gort_chan_close(ping);
    gort_waitgroup_wait(&echo_done);
    if (s != (int64_t)n * (n - 1) / 2 + n)
        fail("pingpong: bad sum");
    printf("RESULT chan_pingpong%s %.1f ns/roundtrip\n", suffix, el / n);
}

/* ---- chan_buffered: spsc and self ---- */

static gort_chan *spsc_ch;
static long spsc_n;

static void spsc_sender(void *arg)
{
    (void)arg;
    for (int64_t i = 0; i < spsc_n; i++)
        gort_chan_send(spsc_ch, &i);
    gort_chan_close(spsc_ch);
}

static double spsc_run(long n, size_t cap)
{
    spsc_ch = gort_chan_make_bytes(sizeof(int64_t), cap);
    spsc_n = n;
    double t = now_ns();
    gort_go(spsc_sender, NULL);
    int64_t s = 0, v;
    bool ok;
    for (;;) {
        gort_chan_recv(spsc_ch, &v, &ok);
        if (!ok)
            break;
        s += v;
    }
    double el = now_ns() - t;
    if (s != (int64_t)n * (n - 1) / 2)
        fail("spsc: bad sum");
    return el;
}

static void spsc_main(void *arg)
{
    long n = *(long *)arg;
    spsc_run(n / 10, 128);
    double el = spsc_run(n, 128);
    printf("RESULT chan_buffered_spsc%s %.2f ns/msg\n", suffix, el / n);
}

static double self_run(long n)
{
    gort_chan *ch = gort_chan_make_bytes(sizeof(int64_t), 1);
    int64_t s = 0, v;
    bool ok;
    double t = now_ns();
    for (int64_t i = 0; i < n; i++) {
        gort_chan_send(ch, &i);
        gort_chan_recv(ch, &v, &ok);
        s += v;
    }
    double el = now_ns() - t;
    if (s != (int64_t)n * (n - 1) / 2)
        fail("self: bad sum");
    return el;
}

static void self_main(void *arg)
{
    long n = *(long *)arg;
    self_run(n / 10);
    double el = self_run(n);
    printf("RESULT chan_cap1_self%s %.2f ns/chanop\n", suffix, el / (2.0 * n));
}

/* ---- chan_contended ---- */

enum { CONT_PROD = 4, CONT_CONS = 4, CONT_CAP = 1024 };

static struct {
    gort_chan *ch;
    long per;
    int64_t sums[CONT_CONS * 8]; /* padded per-consumer slots */
    gort_waitgroup pwg, cwg;
} cont;

static void cont_producer(void *arg)
{
    (void)arg;
    for (int64_t i = 0; i < cont.per; i++)
        gort_chan_send(cont.ch, &i);
    gort_waitgroup_done(&cont.pwg);
}

static void cont_consumer(void *arg)
{
    int c = (int)(intptr_t)arg;
    int64_t s = 0, v;
    bool ok;
    for (;;) {
        gort_chan_recv(cont.ch, &v, &ok);
        if (!ok)
            break;
        s += v;
    }
    cont.sums[c * 8] = s;
    gort_waitgroup_done(&cont.cwg);
}

static double cont_run(long total)
{
    memset(cont.sums, 0, sizeof cont.sums);
    cont.ch = gort_chan_make_bytes(sizeof(int64_t), CONT_CAP);
    cont.per = total / CONT_PROD;
    double t = now_ns();
    gort_waitgroup_add(&cont.pwg, CONT_PROD);
    gort_waitgroup_add(&cont.cwg, CONT_CONS);
    for (int p = 0; p < CONT_PROD; p++)
        gort_go(cont_producer, NULL);
    for (intptr_t c = 0; c < CONT_CONS; c++)
        gort_go(cont_consumer, (void *)c);
    gort_waitgroup_wait(&cont.pwg);
    gort_chan_close(cont.ch);
    gort_waitgroup_wait(&cont.cwg);
    double el = now_ns() - t;
    int64_t s = 0;
    for (int c = 0; c < CONT_CONS; c++)
        s += cont.sums[c * 8];
    if (s != (int64_t)CONT_PROD * cont.per * (cont.per - 1) / 2)
        fail("contended: bad sum");
    return el;
}

static void cont_main(void *arg)
{
    long total = *(long *)arg;
    cont_run(total / 10);
    double el = cont_run(total);
    long n = total / CONT_PROD * CONT_PROD;
    printf("RESULT chan_contended%s %.1f ns/msg\n", suffix, el / n);
    printf("RESULT chan_contended_rate%s %.3f Mmsg/s\n", suffix, n / (el / 1e9) / 1e6);
}

/* ---- select4 ---- */

static struct {
    gort_chan *cs[4];
    long per;
} sel;

static void sel_producer(void *arg)
{
    gort_chan *c = arg;
    for (int64_t j = 0; j < sel.per; j++)
        gort_chan_send(c, &j);
}

static double sel_run(long n, size_t cap)
{
    for (int i = 0; i < 4; i++)
        sel.cs[i] = gort_chan_make_bytes(sizeof(int64_t), cap);
    sel.per = n / 4;
    double t = now_ns();
    for (int i = 0; i < 4; i++)
        gort_go(sel_producer, sel.cs[i]);
    int64_t s = 0, v;
    gort_select_case cases[4];
    for (int i = 0; i < 4; i++)
        cases[i] = GORT_RECV_CASE(sel.cs[i], &v);
    for (long k = 0; k < 4 * sel.per; k++) {
        int r = gort_select(cases, 4, false);
        if (r < 0)
            fail("select4: select failed");
        s += v;
    }
    double el = now_ns() - t;
    if (s != 4 * ((int64_t)sel.per * (sel.per - 1) / 2))
        fail("select4: bad sum");
    return el;
}

static size_t sel_cap;
static void sel_main(void *arg)
{
    long n = *(long *)arg;
    sel_run(n / 10, sel_cap);
    double el = sel_run(n, sel_cap);
    printf("RESULT %s%s %.1f ns/select\n", sel_cap == 0 ? "select4_unbuf" : "select4", suffix,
           el / (4.0 * (n / 4)));
}

int main(int argc, char **argv)
{
    bench_args("bench_chan", argc, argv);
    for (int p = 1; p <= BENCH_MAX_PROCS; p++) {
        if (!procs_wanted(p))
            continue;
        if (wanted("pingpong"))
            run(p, pingpong_main, 1000000);
        if (wanted("spsc"))
            run(p, spsc_main, 10000000);
        if (p == 1 && wanted("self"))
            run(p, self_main, 10000000);
        if (wanted("contended"))
            run(p, cont_main, 4000000);
        sel_cap = 128;
        if (wanted("select4"))
            run(p, sel_main, 4000000);
        sel_cap = 0;
        if (wanted("select4_unbuf"))
            run(p, sel_main, 4000000);
    }
    printf("INFO gort channels: _pN = N Ps (GOMAXPROCS)\n");
    return 0;
}
