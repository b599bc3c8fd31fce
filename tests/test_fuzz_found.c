/*
 * test_fuzz_found.c — regression tests for what the fuzz targets of fuzz/
 * found: each test replays the failure in a form that fails without its fix
 * (the inputs themselves stay in the targets' corpora, fuzz/corpus/).
 */
#include <gort/gort.h>

#include "sema.h"
#include "testing.h"
#include "testing_rt.h"

/* fuzz_chan_select: a run that deadlocked left its goroutines queued on the
 * semaphore of a static WaitGroup; the next gort_main's Done on the same
 * WaitGroup woke a goroutine of the stopped runtime ("fatal error:
 * casgstatus: bad incoming goroutine status"). */
static gort_waitgroup reused_wg;

static void wait_forever(void *arg)
{
    (void)arg;
    gort_waitgroup_add(&reused_wg, 1);
    gort_waitgroup_wait(&reused_wg); /* nobody calls Done: a deadlock */
}

static void done_helper(void *arg)
{
    (void)arg;
    gort_waitgroup_done(&reused_wg);
}

static void wait_once(void *arg)
{
    (void)arg;
    gort_waitgroup_add(&reused_wg, 1);
    CHECK_EQ(gort_go(done_helper, NULL), GORT_OK);
    gort_waitgroup_wait(&reused_wg);
}

TEST(fuzz_found_waitgroup_outlives_a_deadlocked_runtime)
{
    gort_config cfg = {.procs = 2};
    CHECK_EQ(gort_main(&cfg, wait_forever, NULL), GORT_EDEADLOCK);
    CHECK_EQ(sema_waiters(&reused_wg.sema), 0);
    /* Its counter is the program's (Go would have ended the process): the
     * program starts it afresh. */
    reused_wg = (gort_waitgroup)GORT_WAITGROUP_INIT;
    for (int i = 0; i < 3; i++)
        CHECK_EQ(gort_main(&cfg, wait_once, NULL), GORT_OK);
}
