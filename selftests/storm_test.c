// SPDX-License-Identifier: GPL-2.0
/*
 * Issue 12: group counters read consistently, and a walk that leaves its
 * RCU section as hung_task does.
 *
 * exit_storm: a process keeps STORM_SPIN threads that each spin for 1 s
 * and then exit (each starts its successor), beside STORM_IDLE sleeping
 * threads that make the walk of its thread list long, so that exits often
 * fall inside it. Sampled every 100 ms for STORM_S seconds, its cpu must
 * never read above what it can physically use: 100 % per live thread and
 * per CPU (plus STORM_TOL_PCT points for the tick by which a running
 * thread's runtime may lag). Before the fix a thread that exited between
 * the read of the signal struct's sum and the walk was counted in neither
 * pass and its whole lifetime (about 100 ms of CPU here) landed in the
 * next: +100 % in one sample. The minute of the issue is cut to STORM_S
 * seconds: at about 20 exits a second, each inside the walk with a chance
 * of a few percent under TCG, the unfixed module spikes within seconds
 * (seen: 6 samples up to 365 % in 40 s). Once fixed, debugfs's
 * group_retries counts the group reads that an exit forced to be done
 * again (each a spike before), and cpu_excess_max what the cut removed.
 *
 * rcu_sections_10k_threads: with 10,000 threads on the host (20 processes
 * of 500), every pass leaves its RCU read section many times and the
 * longest section (debugfs rcu_max_ns) stays far below the whole walk;
 * the figures are printed for the README.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "kraw.h"

/* no state: the fixture only gives each test its own time limit */
FIXTURE(storm) {
	int unused;
};

FIXTURE_SETUP(storm)
{
}

FIXTURE_TEARDOWN(storm)
{
}

#define STORM_SPIN	20
#define STORM_IDLE	2000
#define STORM_S		40
#define STORM_TOL_PCT	15
#define DBG		"/sys/kernel/debug/kholmes/"

static pthread_attr_t storm_attr;

static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void *spin_thread(void *arg)
{
	long long end = kr_now_ms() + 1000;
	volatile unsigned long x = 0;
	pthread_t t;

	(void)arg;
	while (kr_now_ms() < end)
		x++;
	while (pthread_create(&t, &storm_attr, spin_thread, NULL))
		kr_sleep_ms(1);
	return NULL;
}

/* The storm, in a child that dies with its parent. */
static void storm_child(int ready)
{
	pthread_t t;
	int i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "khm-storm");
	pthread_attr_init(&storm_attr);
	pthread_attr_setstacksize(&storm_attr, 64 * 1024);
	pthread_attr_setdetachstate(&storm_attr, PTHREAD_CREATE_DETACHED);
	for (i = 0; i < STORM_IDLE; i++)
		if (pthread_create(&t, &storm_attr, idle_thread, NULL))
			_exit(2);
	for (i = 0; i < STORM_SPIN; i++)
		if (pthread_create(&t, &storm_attr, spin_thread, NULL))
			_exit(3);
	if (write(ready, "r", 1) != 1)
		_exit(4);
	for (;;)
		pause();
}

static pid_t start_child(void (*fn)(int), struct __test_metadata *_metadata)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		fn(p[1]);
		_exit(0);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1) {
		TH_LOG("the child did not start");
		if (pid > 0)
			kill(pid, SIGKILL);
		pid = -1;
	}
	close(p[0]);
	return pid;
}

static unsigned long long stat_get2(struct khm_genl *g, int type,
				     unsigned long long *pass_ns)
{
	const struct nlmsghdr *nlh;
	const struct nlattr *st;
	size_t left, alen;
	const uint8_t *attrs;
	unsigned long long v = 0;
	void *raw = NULL;
	size_t len = 0;

	if (khm_genl_request(g, KHOLMES_CMD_GET_STATUS, 0, NULL, 0, &raw, &len))
		return 0;
	kr_for_each_msg(nlh, raw, len, left) {
		attrs = kr_msg_attrs(nlh, g->family, &alen);
		st = attrs ? khm_nla_find(attrs, alen, KHOLMES_A_STATS) : NULL;
		if (!st)
			continue;
		v = kr_u64(kr_nest_find(st, type));
		*pass_ns = kr_u64(kr_nest_find(st, KHOLMES_STAT_PASS_LAST_NS));
	}
	free(raw);
	return v;
}

static unsigned long long tasks_visited(struct khm_genl *g,
					unsigned long long *pass_ns)
{
	return stat_get2(g, KHOLMES_STAT_TASKS_VISITED, pass_ns);
}

static unsigned long long stat_passes(struct khm_genl *g,
				      unsigned long long *pass_ns)
{
	return stat_get2(g, KHOLMES_STAT_PASSES, pass_ns);
}

TEST_F_TIMEOUT(storm, exit_storm, STORM_S + 240)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned long long excess = 0;
	unsigned long long passes, last = 0, pass_ns, passes0, retries0 = 0, retries1 = 0;
	unsigned long long clamped = 0;
	uint32_t samples = 0, over = 0;
	uint64_t worst = 0, bound;
	struct kr_saved sv;
	struct khm_genl g;
	struct kr_proc pr;
	long long end;
	pid_t pid;
	int status;

	ASSERT_EQ(0, khm_genl_open(&g));
	ASSERT_EQ(0, kr_config_save(&g, &sv));
	pid = start_child(storm_child, _metadata);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, kr_watch_pids(&g, &pid, 1));
	ASSERT_EQ(0, kr_config_set(&g, KHOLMES_CFG_INTERVAL_MS, 100,
				   KHOLMES_CFG_CAPTURE_RATE, 0,
				   KHOLMES_CFG_PROFILES, 0, 0));
	kr_write_str(DBG "cpu_excess_max", "0");
	kr_write_str(DBG "cpu_clamped", "0");
	kr_read_u64(DBG "group_retries", &retries0);
	passes0 = stat_passes(&g, &pass_ns);

	end = kr_now_ms() + STORM_S * 1000;
	while (kr_now_ms() < end) {
		kr_sleep_ms(20);
		passes = stat_passes(&g, &pass_ns);
		if (passes == last || kr_find_proc(&g, pid, &pr) ||
		    !(pr.have & (1U << KHOLMES_METRIC_CPU)))
			continue;
		last = passes;
		samples++;
		bound = (pr.value[KHOLMES_METRIC_THREADS] / KHOLMES_VALUE_SCALE);
		if (bound > (uint64_t)ncpu)
			bound = ncpu;
		bound = (bound * 100 + STORM_TOL_PCT) * KHOLMES_VALUE_SCALE;
		if (pr.value[KHOLMES_METRIC_CPU] > worst)
			worst = pr.value[KHOLMES_METRIC_CPU];
		if (pr.value[KHOLMES_METRIC_CPU] > bound) {
			over++;
			TH_LOG("cpu %.1f %% with %llu threads on %ld CPUs",
			       pr.value[KHOLMES_METRIC_CPU] / 1000.0,
			       (unsigned long long)pr.value[KHOLMES_METRIC_THREADS] / 1000,
			       ncpu);
		}
	}
	passes = stat_passes(&g, &pass_ns);
	kr_read_u64(DBG "group_retries", &retries1);
	kr_read_u64(DBG "cpu_clamped", &clamped);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	ksft_print_msg("%llu passes (last %llu us), %llu group reads done again, %llu readings cut\n",
		       passes - passes0, pass_ns / 1000, retries1 - retries0, clamped);
	EXPECT_EQ(0, kr_watch_pids(&g, NULL, 0));
	EXPECT_EQ(0, kr_config_restore(&g, &sv));
	khm_genl_close(&g);

	ksft_print_msg("exit storm: %u samples, highest cpu %.1f %%, %u above the bound\n",
		       samples, worst / 1000.0, over);
	EXPECT_LT(STORM_S / 2, samples) TH_LOG("too few samples to judge");
	EXPECT_EQ(0, over);
	/*
	 * Printed, not judged: under TCG on a loaded host a pass can come
	 * a few ms after a late one, and a running thread's runtime lags by
	 * up to a (late) tick: over so short an interval that lag alone
	 * reads tens of points above the bound. group_retries counts the
	 * exits that the unfixed read turned into spikes.
	 */
	if (!kr_read_u64(DBG "cpu_excess_max", &excess))
		ksft_print_msg("cut readings exceeded the bound by %.1f %% at most\n",
			       excess / 1000.0);
}

#define TEN_PROCS	20
#define TEN_THREADS	500

static void *hold_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void many_child(int ready)
{
	pthread_attr_t attr;
	pthread_t t;
	int i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 16 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (i = 1; i < TEN_THREADS; i++)
		if (pthread_create(&t, &attr, hold_thread, NULL))
			_exit(2);
	if (write(ready, "r", 1) != 1)
		_exit(4);
	for (;;)
		pause();
}

TEST_F_TIMEOUT(storm, rcu_sections_10k_threads, 600)
{
	unsigned long long max_ns = 0, s0 = 0, s1 = 0, tasks = 0, pass_ns = 0;
	unsigned long long max_tasks = 0, p0, p1;
	pid_t pids[TEN_PROCS];
	struct kr_saved sv;
	struct khm_genl g;
	long long end;
	int i, status;

	if (access(DBG "rcu_max_ns", R_OK))
		SKIP(return, "no " DBG "rcu_max_ns (debugfs, or a module without it)");
	ASSERT_EQ(0, khm_genl_open(&g));
	ASSERT_EQ(0, kr_config_save(&g, &sv));
	for (i = 0; i < TEN_PROCS; i++) {
		pids[i] = start_child(many_child, _metadata);
		ASSERT_LT(0, pids[i]);
	}
	/* every process in scope: the walk reads every group */
	ASSERT_EQ(0, kr_watch_pids(&g, NULL, 0));
	ASSERT_EQ(0, kr_config_set(&g, KHOLMES_CFG_INTERVAL_MS, 1000,
				   KHOLMES_CFG_CAPTURE_RATE, 0,
				   KHOLMES_CFG_PROFILES, 0, 0));
	end = kr_now_ms() + 120000;
	while (kr_now_ms() < end &&
	       tasks_visited(&g, &pass_ns) < TEN_PROCS * TEN_THREADS)
		kr_sleep_ms(200);
	kr_sleep_ms(1500);
	kr_write_str(DBG "rcu_max_ns", "0");
	kr_write_str(DBG "rcu_max_tasks", "0");
	p0 = stat_passes(&g, &pass_ns);
	kr_read_u64(DBG "rcu_sections", &s0);
	kr_sleep_ms(5000);
	kr_read_u64(DBG "rcu_max_ns", &max_ns);
	kr_read_u64(DBG "rcu_max_tasks", &max_tasks);
	kr_read_u64(DBG "rcu_sections", &s1);
	p1 = stat_passes(&g, &pass_ns);
	tasks = tasks_visited(&g, &pass_ns);

	for (i = 0; i < TEN_PROCS; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], &status, 0);
	}
	EXPECT_EQ(0, kr_config_restore(&g, &sv));
	khm_genl_close(&g);

	ksft_print_msg("%llu threads read: longest RCU section %llu us and %llu tasks, last pass %llu us, %llu sections in %llu passes\n",
		       tasks, max_ns / 1000, max_tasks, pass_ns / 1000, s1 - s0, p1 - p0);
	ASSERT_LE(TEN_PROCS * TEN_THREADS, tasks);
	ASSERT_LE(1, p1 - p0);
	/* a break after each group of 500 (above the batch of 256) */
	EXPECT_LE(TEN_PROCS * (p1 - p0), s1 - s0);
	/* no section reads more than a batch and the largest group */
	EXPECT_GE(256 + TEN_THREADS, max_tasks);
}

TEST_HARNESS_MAIN
