// SPDX-License-Identifier: GPL-2.0
/*
 * The sampler's values against the truth: a workload whose load is known
 * (a spinner, an idle sleeper, 200 MiB touched, 7 threads, a thread stuck
 * in D state, a kernel thread) must read as that in `kholmesctl -j ps`,
 * and, where /proc says the same thing, as /proc says it.
 *
 * Every test samples at SAMPLING_MS with a window of SAMPLING_WINDOW, and
 * puts back the configuration it found. A value is read only once the
 * process has at least two samples taken after its load was in place, so
 * that no sample spans the start-up.
 */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "kt.h"

#define SAMPLING_MS	200
#define SAMPLING_WINDOW	5
/* generous: under TCG a pass can be late by much more than an interval */
#define SAMPLED_WITHIN	(20 * SAMPLING_MS)
/* for CPU shares: see spinner_four_threads */
#define CPU_SAMPLING_MS	500

FIXTURE(sampling) {
	struct kt_saved state;
	struct kt_wl wl;
};

FIXTURE_SETUP(sampling)
{
	self->wl = (struct kt_wl)KT_WL_INIT;
	ASSERT_EQ(0, kt_saved_take(&self->state));
	ASSERT_EQ(0, kt_ctl("config set enabled on interval-ms %d window %d",
			    SAMPLING_MS, SAMPLING_WINDOW));
}

FIXTURE_TEARDOWN_PARENT(sampling)
{
	kt_wl_stop(&self->wl);
	EXPECT_EQ(0, kt_saved_put(&self->state));
}

/* The thread group's runtime as the scheduler counts it, in ns, or -1. */
static long long sched_runtime_ns(pid_t pid)
{
	char path[320], buf[128];
	long long sum = 0;
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat",
			 (int)pid, d->d_name);
		if (khm_read_file(path, buf, sizeof(buf)) > 0)
			sum += strtoll(buf, NULL, 10);
	}
	closedir(dir);
	return sum;
}

static long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * The scheduler's own account of a process, polled by a thread every
 * SCHED_POLL_MS while the test waits for a sample and reads it. The
 * sample the test gets covers one interval between two passes somewhere
 * in that stretch, and the CPU the spinners get varies within it (one
 * kholmesctl run among four spinners took 1.9 s of their CPUs beside
 * another VM): what kholmes read is compared with the scheduler's share
 * over every stretch of one interval the poll saw, not with an average
 * over seconds, which hides the worst interval.
 */
#define SCHED_POLL_MS	50
#define SCHED_POLLS	1024

struct sched_poll {
	pid_t pid;
	pthread_t thread;
	bool running;
	bool stop;
	int n;
	long long t[SCHED_POLLS];	/* CLOCK_MONOTONIC, ns */
	long long r[SCHED_POLLS];	/* the thread group's runtime, ns */
};

static void *sched_poll_fn(void *arg)
{
	struct sched_poll *sp = arg;

	while (!__atomic_load_n(&sp->stop, __ATOMIC_ACQUIRE) &&
	       sp->n < SCHED_POLLS) {
		long long r = sched_runtime_ns(sp->pid);

		if (r >= 0) {
			sp->r[sp->n] = r;
			sp->t[sp->n] = mono_ns();
			sp->n++;
		}
		kt_sleep_ms(SCHED_POLL_MS);
	}
	return NULL;
}

static void sched_poll_start(struct sched_poll *sp, pid_t pid)
{
	sp->pid = pid;
	sp->n = 0;
	sp->stop = false;
	sp->running = !pthread_create(&sp->thread, NULL, sched_poll_fn, sp);
}

/*
 * Stop polling; in @share the lowest and the highest CPU share, in
 * percent of one CPU, over the stretches of at least @interval_ms
 * between two polls (each from a poll to the first one at least an
 * interval later), or NAN when the poll saw none.
 */
static void sched_poll_stop(struct sched_poll *sp, int interval_ms,
			    double share[2])
{
	long long len = interval_ms * 1000000LL;
	int i, j = 0;

	share[0] = share[1] = NAN;
	if (!sp->running)
		return;
	__atomic_store_n(&sp->stop, true, __ATOMIC_RELEASE);
	pthread_join(sp->thread, NULL);
	sp->running = false;
	for (i = 0; i < sp->n; i++) {
		double s;

		if (j <= i)
			j = i + 1;
		while (j < sp->n && sp->t[j] - sp->t[i] < len)
			j++;
		if (j >= sp->n)
			break;
		s = (sp->r[j] - sp->r[i]) * 100.0 / (sp->t[j] - sp->t[i]);
		if (isnan(share[0]) || s < share[0])
			share[0] = s;
		if (isnan(share[1]) || s > share[1])
			share[1] = s;
	}
	fprintf(stderr, "# the scheduler's own account of pid %d, %d polls over %.2f s: %.1f to %.1f %% over stretches of %d ms\n",
		(int)sp->pid, sp->n,
		sp->n ? (sp->t[sp->n - 1] - sp->t[0]) / 1e9 : 0.0,
		share[0], share[1], interval_ms);
}

/*
 * The entry of @pid once three more passes, @interval_ms apart, have
 * sampled it after now (its load is in place): a reference, or NULL.
 *
 * The test sleeps through them, then runs one kholmesctl to read the list
 * and only afterwards checks that the passes did happen: each kholmesctl
 * costs tens of ms of CPU under emulation, and a sample that overlaps the
 * test's own polling reads a spinner low. In @sched (if given), the
 * lowest and the highest CPU share the scheduler itself accounted to
 * @pid over one interval in that whole stretch (struct sched_poll): the
 * sample returned covers one interval in it.
 */
static struct json_object *sampled_now(pid_t pid, int interval_ms,
				       double *sched)
{
	long long p0 = kt_status("passes");
	struct sched_poll *sp = NULL;
	struct json_object *p;

	if (sched) {
		sp = calloc(1, sizeof(*sp));
		if (sp)
			sched_poll_start(sp, pid);
	}
	kt_sleep_ms(3 * interval_ms + interval_ms / 2);
	p = kt_ps_find(pid);
	if (!p || p0 == LLONG_MIN || khm_json_int(p, "samples") < 2 ||
	    kt_status("passes") < p0 + 3) {
		/* late passes: wait for them, whatever the test costs meanwhile */
		json_object_put(p);
		p = NULL;
		if (!kt_wait_passes(1, 20 * interval_ms))
			p = kt_wait_proc(pid, 2, 20 * interval_ms);
	}
	if (sched) {
		sched[0] = sched[1] = NAN;
		if (sp)
			sched_poll_stop(sp, interval_ms, sched);
		free(sp);
	}
	return p;
}

/*
 * A spinner's CPU share as kholmes read it, against [@lo, @hi]. Under
 * emulation on a loaded host, time during which the host does not run a
 * vCPU can be lost to the guest's own accounting (the 6.1 guest marks its
 * TSC unstable, and sched_clock then advances at most a tick past the last
 * tick on that CPU), and the test's own kholmesctl takes the spinners'
 * CPU, so the range is asserted only when the scheduler itself
 * (/proc/PID/task/TID/schedstat) says the spinner had the CPU over every
 * interval the sample can come from (sampled_now()); when it says
 * otherwise, kholmes must agree with the scheduler instead, as it reads
 * the same counters.
 */
static void expect_cpu(struct __test_metadata *_metadata, double cpu,
		       const double sched[2], double lo, double hi)
{
	EXPECT_LE(cpu, hi);
	if (isnan(sched[0]) || isnan(sched[1]) || sched[0] >= lo) {
		EXPECT_GE(cpu, lo);
		return;
	}
	TH_LOG("the spinner did not have the CPU all along: kholmes is checked against the scheduler");
	EXPECT_GE(cpu, sched[0] - 25.0);
	EXPECT_LE(cpu, sched[1] + 25.0);
}

static double value(struct json_object *proc, const char *metric)
{
	char key[64];

	snprintf(key, sizeof(key), "values.%s", metric);
	return khm_json_num(proc, key);
}

TEST_F_TIMEOUT(sampling, spinner_one_cpu, 60)
{
	struct json_object *p;
	double cpu, sched[2];

	ASSERT_EQ(0, kt_ctl("config set interval-ms %d", CPU_SAMPLING_MS));
	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 10000, "spinner", NULL));
	p = sampled_now(self->wl.pid, CPU_SAMPLING_MS, sched);
	ASSERT_NE(NULL, p);
	cpu = value(p, "cpu");
	TH_LOG("1-thread spinner: cpu %.1f %% (avg %.1f, %lld samples)", cpu,
	       khm_json_num(p, "avg.cpu"), khm_json_int(p, "samples"));
	expect_cpu(_metadata, cpu, sched, 90.0, 110.0);
	EXPECT_EQ(1, khm_json_int(p, "values.threads"));
	EXPECT_STREQ("spinner", khm_json_str(p, "comm") ?: "");
	EXPECT_EQ(0, khm_json_int(p, "kthread"));
	json_object_put(p);
}

/*
 * Four spinning threads would read ~400 on four CPUs; the VM has two, so
 * they can take at most 200 between them, and less when the test, the
 * controller and the sampler's own worker get their share. 150 leaves
 * them half a CPU; 210 allows for tick-granular runtime accounting
 * against the pass's clock under emulation. Sampled every
 * CPU_SAMPLING_MS: the kholmesctl that reads the list costs tens of ms of
 * CPU under emulation, and a short sample that overlaps it reads low.
 */
TEST_F_TIMEOUT(sampling, spinner_four_threads, 60)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct json_object *p;
	double cpu, max, sched[2];
	long long t0;

	ASSERT_EQ(0, kt_ctl("config set interval-ms %d", CPU_SAMPLING_MS));
	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 10000, "spinner", "-n",
				 "4", NULL));
	p = sampled_now(self->wl.pid, CPU_SAMPLING_MS, sched);
	ASSERT_NE(NULL, p);
	cpu = value(p, "cpu");
	max = 100.0 * (ncpu < 4 ? ncpu : 4);
	t0 = kt_now_ms();
	kt_status("passes");
	TH_LOG("4-thread spinner on %ld CPUs: cpu %.1f %% (avg %.1f)", ncpu,
	       cpu, khm_json_num(p, "avg.cpu"));
	TH_LOG("one kholmesctl run among the spinners: %lld ms",
	       kt_now_ms() - t0);
	EXPECT_EQ(4, khm_json_int(p, "values.threads"));
	expect_cpu(_metadata, cpu, sched, max - 50.0, max + 10.0);
	json_object_put(p);
}

TEST_F_TIMEOUT(sampling, idle_sleeper, 60)
{
	struct json_object *p;
	double cpu;

	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 10000, "sleeper", NULL));
	p = sampled_now(self->wl.pid, SAMPLING_MS, NULL);
	ASSERT_NE(NULL, p);
	cpu = value(p, "cpu");
	TH_LOG("idle sleeper: cpu %.2f %%, ctxsw %.1f/s, rundelay %.2f ms/s",
	       cpu, value(p, "ctxsw"), value(p, "rundelay"));
	EXPECT_GE(cpu, 0.0);
	EXPECT_LT(cpu, 5.0);
	EXPECT_LT(value(p, "ctxsw"), 5.0);
	EXPECT_EQ(0.0, value(p, "dstate"));
	json_object_put(p);
}

/*
 * Sleeping threads wait for no CPU. On 6.12 a thread asleep can keep a
 * last_queued (EEVDF's delayed dequeue; see khm_thread_delay()), and a
 * module that counted every thread's wait in progress read an idle
 * process of 20 threads at 1,000 ms/s of run delay, in every pass. It
 * happens when the load balancer moves threads that have just gone to
 * sleep, about one process in two: four processes of 64 idle threads,
 * read for 8 passes; the highest sample of each stays under 50 ms/s.
 */
#define IDLE_PROCS	4

TEST_F_TIMEOUT(sampling, idle_threads_wait_for_nothing, 60)
{
	struct kt_wl wl[IDLE_PROCS];
	double worst[IDLE_PROCS] = { 0 };
	struct json_object *p;
	int i, k, started = 0;

	for (k = 0; k < IDLE_PROCS; k++)
		wl[k] = (struct kt_wl)KT_WL_INIT;
	for (k = 0; k < IDLE_PROCS; k++, started++)
		if (kt_wl_start(&wl[k], "ready", 10000, "manythreads", "-n",
				"64", NULL))
			break;
	EXPECT_EQ(IDLE_PROCS, started);
	for (k = 0; k < started; k++) {
		p = kt_wait_proc(wl[k].pid, 2, 20 * SAMPLING_MS);
		EXPECT_NE(NULL, p);
		json_object_put(p);
	}
	for (i = 0; i < 8 && started == IDLE_PROCS; i++) {
		EXPECT_EQ(0, kt_wait_passes(1, 20 * SAMPLING_MS));
		for (k = 0; k < started; k++) {
			p = kt_ps_find(wl[k].pid);
			EXPECT_NE(NULL, p);
			if (!p)
				continue;
			EXPECT_EQ(64, khm_json_int(p, "values.threads"));
			worst[k] = fmax(worst[k], value(p, "rundelay"));
			json_object_put(p);
		}
	}
	for (k = 0; k < started; k++)
		kt_wl_stop(&wl[k]);
	for (k = 0; k < IDLE_PROCS; k++) {
		TH_LOG("64 idle threads (%d): rundelay at most %.2f ms/s over 8 passes",
		       k, worst[k]);
		EXPECT_LT(worst[k], 50.0);
	}
}

TEST_F_TIMEOUT(sampling, rss_matches_vmrss, 90)
{
	double rss, vmrss, pct;
	struct json_object *p;
	int kb;

	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 60000, "memtouch", "-n",
				 "200", NULL));
	p = sampled_now(self->wl.pid, SAMPLING_MS, NULL);
	ASSERT_NE(NULL, p);
	kb = khm_proc_status_kb(self->wl.pid, "VmRSS");
	ASSERT_LT(0, kb);
	rss = value(p, "rss");
	vmrss = kb / 1024.0;
	pct = fabs(rss - vmrss) * 100.0 / vmrss;
	TH_LOG("200 MiB touched: rss %.2f MiB, VmRSS %.2f MiB (%.2f %% apart), rss-pct %.2f",
	       rss, vmrss, pct, value(p, "rss-pct"));
	EXPECT_GE(rss, 200.0);
	EXPECT_LE(pct, 2.0);
	json_object_put(p);
}

TEST_F_TIMEOUT(sampling, threads_match_proc, 60)
{
	struct json_object *p;
	int proc_threads;

	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 10000, "manythreads",
				 "-n", "7", NULL));
	p = sampled_now(self->wl.pid, SAMPLING_MS, NULL);
	ASSERT_NE(NULL, p);
	proc_threads = khm_proc_status_kb(self->wl.pid, "Threads");
	TH_LOG("threads: kholmes %.0f, /proc %d", value(p, "threads"),
	       proc_threads);
	EXPECT_EQ(7, proc_threads);
	EXPECT_EQ(7.0, value(p, "threads"));
	json_object_put(p);
}

/*
 * A vfork() parent waits for its child uninterruptibly (TASK_KILLABLE):
 * 'D' in /proc, and never scheduled until the child goes, so dstate grows
 * with the wall clock.
 */
TEST_F_TIMEOUT(sampling, dstate_of_vfork_parent, 60)
{
	struct json_object *p;
	char line[64], state;
	long long t0;
	double ds;

	ASSERT_EQ(0, kt_wl_start(&self->wl, NULL, 0, "dstate", NULL));
	ASSERT_EQ(0, kt_wl_wait(&self->wl, "ready", 10000, line, sizeof(line)));
	t0 = kt_now_ms();
	/* the child may say ready before the parent is asleep */
	do {
		state = kt_proc_state(self->wl.pid);
		if (state == 'D')
			break;
		kt_sleep_ms(10);
	} while (kt_now_ms() < t0 + 2000);
	TH_LOG("vfork parent %d is '%c'; %s", self->wl.pid, state ?: '?', line);
	ASSERT_EQ('D', state);

	kt_sleep_ms(1000);
	p = sampled_now(self->wl.pid, SAMPLING_MS, NULL);
	ASSERT_NE(NULL, p);
	ds = value(p, "dstate");
	TH_LOG("dstate %.0f ms after %lld ms in D (avg %.0f)", ds,
	       kt_now_ms() - t0, khm_json_num(p, "avg.dstate"));
	EXPECT_GT(ds, 500.0);
	/* it cannot have been in D longer than since before it said ready */
	EXPECT_LT(ds, (double)(kt_now_ms() - t0) + 2000.0);
	EXPECT_EQ('D', kt_proc_state(self->wl.pid));
	json_object_put(p);
}

/* Kernel threads have no mm: scheduler metrics only. */
TEST_F_TIMEOUT(sampling, kernel_thread, 60)
{
	struct json_object *p, *values;
	char comm[32];

	ASSERT_LT(0, khm_read_file("/proc/2/comm", comm, sizeof(comm)));
	p = kt_wait_proc(2, 1, SAMPLED_WITHIN);
	ASSERT_NE(NULL, p);
	values = khm_json_get(p, "values");
	TH_LOG("pid 2: %s", json_object_to_json_string(p));
	EXPECT_STREQ(comm, khm_json_str(p, "comm") ?: "");
	EXPECT_EQ(1, khm_json_int(p, "kthread"));
	ASSERT_NE(NULL, values);
	EXPECT_EQ(NULL, khm_json_get(values, "rss"));
	EXPECT_EQ(NULL, khm_json_get(values, "rss-pct"));
	EXPECT_NE(NULL, khm_json_get(values, "cpu"));
	EXPECT_EQ(1.0, value(p, "threads"));
	json_object_put(p);
}

/* An exited process is dropped at the next pass. */
TEST_F_TIMEOUT(sampling, exited_process_dropped, 60)
{
	struct json_object *p;
	pid_t pid;

	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 10000, "sleeper", NULL));
	pid = self->wl.pid;
	p = kt_wait_proc(pid, 1, SAMPLED_WITHIN);
	ASSERT_NE(NULL, p);
	json_object_put(p);
	kt_wl_stop(&self->wl);
	ASSERT_EQ(0, kt_wait_passes(2, SAMPLED_WITHIN));
	p = kt_ps_find(pid);
	EXPECT_EQ(NULL, p) TH_LOG("still listed: %s",
				  json_object_to_json_string(p));
	json_object_put(p);
}

/*
 * A new window restarts every history: right after the change a process
 * has no samples (it is re-primed), and its window then fills up to the
 * new size, never past it.
 */
TEST_F_TIMEOUT(sampling, window_change_restarts_history, 60)
{
	struct json_object *p;
	long long n;

	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 10000, "sleeper", NULL));
	p = kt_wait_proc(self->wl.pid, SAMPLING_WINDOW, 3 * SAMPLED_WITHIN);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(SAMPLING_WINDOW, khm_json_int(p, "samples"));
	json_object_put(p);

	ASSERT_EQ(0, kt_ctl("config set window %d", SAMPLING_WINDOW + 2));
	p = kt_ps_find(self->wl.pid);
	n = p ? khm_json_int(p, "samples") : -1;
	TH_LOG("right after the change: %lld samples (-1: not listed)", n);
	/*
	 * A pass or two (the first only primes) may have run since, not the
	 * SAMPLING_WINDOW it held before.
	 */
	EXPECT_GE(1, n);
	json_object_put(p);

	ASSERT_EQ(0, kt_wait_passes(SAMPLING_WINDOW + 5,
				    (SAMPLING_WINDOW + 5) * SAMPLED_WITHIN));
	p = kt_ps_find(self->wl.pid);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(SAMPLING_WINDOW + 2, khm_json_int(p, "samples"));
	json_object_put(p);
}

/* Past max-tracked, processes are not tracked, and counted as such. */
TEST_F_TIMEOUT(sampling, max_tracked_bounds, 60)
{
	long long tracked, untracked, visited;
	struct json_object *st;

	ASSERT_EQ(0, kt_ctl("config set max-tracked 5"));
	ASSERT_EQ(0, kt_wait_passes(2, SAMPLED_WITHIN));
	st = khm_json("status");
	ASSERT_NE(NULL, st);
	tracked = khm_json_int(st, "tracked");
	untracked = khm_json_int(st, "untracked");
	visited = khm_json_int(st, "procs-visited");
	TH_LOG("max-tracked 5: tracked %lld, untracked %lld, processes %lld",
	       tracked, untracked, visited);
	EXPECT_EQ(5, tracked);
	EXPECT_LT(0, untracked);
	EXPECT_EQ(visited, tracked + untracked);
	json_object_put(st);
}

TEST_HARNESS_MAIN
