// SPDX-License-Identifier: GPL-2.0
/*
 * The sampler at scale. A churn of 10,000 short-lived processes sampled
 * every 10 ms must leave nothing behind: the tracked count back at its
 * baseline, no failed allocation (and, checked by the VM runner, a clean
 * kernel log). 5,000 idle threads sampled every 100 ms: every thread
 * visited, and the bench's floor walk (debugfs floor_walk) counts them
 * all too. What such a pass costs is a figure, not a verdict: the bench
 * reports it (bench/init.sh, sections 1 and 5b).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kt.h"

#define CHURN_MS	10
#define CHURN_CHILDREN	"10000"
#define COST_MS		100
#define COST_PROCS	5
#define COST_THREADS	"1000"

FIXTURE(scale) {
	struct kt_saved state;
	struct kt_wl wl[COST_PROCS];
};

FIXTURE_SETUP(scale)
{
	for (int i = 0; i < COST_PROCS; i++)
		self->wl[i] = (struct kt_wl)KT_WL_INIT;
	ASSERT_EQ(0, kt_saved_take(&self->state));
}

FIXTURE_TEARDOWN_PARENT(scale)
{
	for (int i = 0; i < COST_PROCS; i++)
		kt_wl_stop(&self->wl[i]);
	EXPECT_EQ(0, kt_saved_put(&self->state));
}

/*
 * The churner is started idle (-g) so that it is part of the baseline as
 * it is of the final count; everything it forks is gone by then.
 */
TEST_F_TIMEOUT(scale, churn_leaves_nothing, 240)
{
	long long base, fails0, passes0, passes1, after, fails, t0, ms, host;
	char line[64];
	int ret;
	long n = 0, wl_ms = 0;

	ASSERT_EQ(0, kt_ctl("config set enabled on interval-ms %d", CHURN_MS));
	ASSERT_EQ(0, kt_wl_start(&self->wl[0], "waiting", 10000, "forkchurn",
				 "-g", "-n", CHURN_CHILDREN, NULL));
	ASSERT_EQ(0, kt_wait_passes(5, 5000));
	base = kt_status("tracked");
	fails0 = kt_status("alloc-fails");
	passes0 = kt_status("passes");
	ASSERT_LT(0, base);

	t0 = kt_now_ms();
	ASSERT_EQ(0, kill(self->wl[0].pid, SIGUSR1));
	ASSERT_EQ(0, kt_wl_wait(&self->wl[0], "ready", 200000, line,
				sizeof(line)));
	ms = kt_now_ms() - t0;
	passes1 = kt_status("passes");
	EXPECT_EQ(2, sscanf(line, "ready %ld %ld", &n, &wl_ms)) TH_LOG("%s", line);

	/* a few intervals for the exits to be noticed */
	ASSERT_EQ(0, kt_wait_passes(5, 5000));
	ret = kt_tracked_is_host(&after, &host);
	fails = kt_status("alloc-fails");
	TH_LOG("%ld processes forked and reaped in %ld ms (%lld ms seen), %lld passes",
	       n, wl_ms, ms, passes1 - passes0);
	TH_LOG("tracked %lld -> %lld with %lld processes on the host, alloc-fails %lld -> %lld, untracked %lld, pass max %lld us",
	       base, after, host, fails0, fails, kt_status("untracked"),
	       kt_status("pass-ns.max") / 1000);
	EXPECT_EQ(10000, n);
	/* what the host has, not the start: other processes came and went */
	EXPECT_EQ(0, ret);
	/* a counter since load: what matters is that the churn added none */
	EXPECT_EQ(fails0, fails);
	/* the sampler kept sampling through it */
	EXPECT_LT(passes0 + 10, passes1);
}

TEST_F_TIMEOUT(scale, visits_5000_threads, 180)
{
	long long visited, procs, floor_tasks = 0, floor_ns = 0, sum = 0;
	FILE *f;
	int i;

	ASSERT_EQ(0, kt_ctl("config set enabled on interval-ms %d", COST_MS));
	for (i = 0; i < COST_PROCS; i++)
		ASSERT_EQ(0, kt_wl_start(&self->wl[i], "ready", 120000,
					 "manythreads", "-n", COST_THREADS,
					 NULL));
	/* two whole passes after the last one started */
	ASSERT_EQ(0, kt_wait_passes(3, 30 * COST_MS));
	visited = kt_status("tasks-visited");
	procs = kt_status("procs-visited");
	EXPECT_LE(COST_PROCS * atoi(COST_THREADS), visited)
		TH_LOG("%lld threads visited in the last pass", visited);
	EXPECT_LE(COST_PROCS, procs);
	EXPECT_LT(0, kt_status("pass-ns.last"));

	/*
	 * The bench's floor (debugfs floor_walk): a bare walk of every
	 * thread on the host, so at least the pass's, and it takes time.
	 */
	if (access("/sys/kernel/debug/kholmes", F_OK))
		SKIP(return, "no debugfs");
	f = fopen("/sys/kernel/debug/kholmes/floor_walk", "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(3, fscanf(f, "%lld %lld %lld", &floor_tasks, &floor_ns,
			    &sum));
	fclose(f);
	TH_LOG("floor walk: %lld threads in %lld ns", floor_tasks, floor_ns);
	/* within what came and went meanwhile (the kholmesctl that asked) */
	EXPECT_LE(visited - 16, floor_tasks);
	EXPECT_LE(COST_PROCS * atoi(COST_THREADS), floor_tasks);
	EXPECT_LT(0, floor_ns);
	EXPECT_LT(0, sum);
}

TEST_HARNESS_MAIN
