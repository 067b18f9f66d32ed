// SPDX-License-Identifier: GPL-2.0
/*
 * Detection on the shipped rules, driven by programs no one here wrote:
 * Debian's perl and stress-ng, copied into the VM with their libraries
 * (KHM_EXTRA_BINS, see the Makefile's vm target). Each test lowers the
 * interval to RT_MS and the window to RT_WINDOW, as a new user trying it
 * would, leaves every rule as shipped, and scopes the watch to a cgroup of
 * its own so that nothing else can fire.
 *
 *  - a perl spinning from its first instruction is captured within
 *    window x interval + 2 intervals (the cpu rule's abs, held for a
 *    window), once, and its capture names Perl_runops_standard;
 *  - a perl that sleeps, then spins, is captured for the jump, once;
 *  - a process that talked to the module with CAP_NET_ADMIN (what
 *    kholmesctl does) is not captured by itself, unless a watch entry
 *    names it;
 *  - one CPU hog and a late spinner sharing CPU 0 make one rundelay
 *    capture, whose top consumers name the hog, and no thread reads over
 *    1000 ms/s of run delay;
 *  - stress-ng --cpu 1 --vm 1 --switch 1, placed as the scheduler keeps
 *    it, makes no detection after its first window;
 *  - a perl stopped and continued, back at the CPU it held, makes none;
 *  - the other metrics, each fired once by a stress-ng stressor or perl:
 *    a burst of pthreads (threads), pipe ping-pong (ctxsw), a vfork
 *    parent blocked in the kernel (dstate), and the same RSS measured
 *    against a memory.max set under it (rss-pct), and a file on the
 *    VM's ext4 disk faulted in through a mapping after dropping caches
 *    (majflt).
 *
 * A process that is busy from its start has no quiet history for a jump
 * to stand out from: the stressors wait out stress-ng's --backoff behind
 * a first stressor that idles (--cpu-load 0: the first instance does not
 * back off).
 *
 * Programs missing from the VM make their test skip, saying which.
 */
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kholmes.h>

#include "kselftest_harness.h"
#include "kt.h"

#define RT_MS		200
#define RT_WINDOW	5
/* what the issue promises: window x interval + 2 intervals */
#define RT_DEADLINE_MS	((RT_WINDOW + 2) * RT_MS)
/*
 * Passes run late on a loaded TCG host (8.2 intervals seen where 7 are
 * promised): two more intervals.
 */
#define RT_SLACK_MS	(2 * RT_MS)
/*
 * Polls run kholmesctl, tens of ms of CPU each under emulation: polling
 * fast makes the workload wait for a CPU, which the rundelay rule sees.
 */
#define RT_POLL_MS	500
#define RT_CG		KT_CGROUP_ROOT "/khm_real"
/* where a workload starts unwatched, to be moved into RT_CG later */
#define RT_STAGE	KT_CGROUP_ROOT "/khm_unwatched"
#define RT_DIR		"/tmp/khm_real"
/* the VM's disk (selftests/vm/run-vm.sh), mounted by the majflt case */
#define RT_DISK_DEV	"/dev/vda"
#define RT_DISK		"/mnt/khm-disk"
#define RT_HELPER	"/lib/kholmes/helper"

FIXTURE(real) {
	struct kt_saved state;
	struct kt_mon mon;
	pid_t pids[8];
	int npids;
	bool mounted;
};

static bool rt_have(const char *prog)
{
	char path[64];

	snprintf(path, sizeof(path), "/bin/%s", prog);
	return !access(path, X_OK) || !access(prog, X_OK);
}

/*
 * Start argv[0] from $PATH in cgroup @cg, on CPU @cpu if not -1, killed
 * with the test however it ends. Its pid, or -1.
 */
static pid_t rt_spawn_in(const char *cg, int cpu, char *const argv[])
{
	char procs[128];
	pid_t parent = getpid(), pid;
	cpu_set_t set;
	int fd;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid)
		return pid;
	kt_die_with(parent);
	fd = open(procs, O_WRONLY);
	if (fd < 0 || write(fd, "0", 1) != 1)
		_exit(126);
	close(fd);
	if (cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			_exit(126);
	}
	execvp(argv[0], argv);
	_exit(127);
}

static pid_t rt_spawn(int cpu, char *const argv[])
{
	return rt_spawn_in(RT_CG, cpu, argv);
}

/* Write @val to @path; 0 or -1. */
static int rt_write(const char *path, const char *val)
{
	int fd, ret;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ret = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -1;
	close(fd);
	return ret;
}

/* Write @val to cgroup @cg's file @file; 0 or -1. */
static int rt_cg_write(const char *cg, const char *file, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	return rt_write(path, val);
}

/* The pids in cgroup @cg, at most @max of them in @pids; how many. */
static int rt_cg_pids(const char *cg, pid_t *pids, int max)
{
	char path[128], line[32];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f))
		pids[n++] = atoi(line);
	fclose(f);
	return n;
}

/* The detections in monitor @mon's output so far, without stopping it. */
static int rt_mon_count(struct kt_mon *mon, const char *metric)
{
	char line[4096];
	int n = 0;
	FILE *f;

	f = fopen(mon->path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		struct json_object *ev = json_tokener_parse(line);

		if (ev && !strcmp(khm_json_str(ev, "event") ?: "", "detection") &&
		    !strcmp(khm_json_str(ev, "metric") ?: "", metric))
			n++;
		json_object_put(ev);
	}
	fclose(f);
	return n;
}

/* Wait up to @timeout_ms for a detection of @metric on monitor @mon. */
static bool rt_wait_metric(struct kt_mon *mon, const char *metric,
			   int timeout_ms)
{
	long long end = kt_now_ms() + timeout_ms;

	do {
		if (rt_mon_count(mon, metric))
			return true;
		kt_sleep_ms(RT_POLL_MS);
	} while (kt_now_ms() < end);
	return false;
}

static void rt_kill(pid_t pid)
{
	if (pid <= 0)
		return;
	/* stress-ng's workers follow their parent's SIGTERM */
	kill(pid, SIGTERM);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

FIXTURE_SETUP(real)
{
	self->mon = (struct kt_mon)KT_MON_INIT;
	self->npids = 0;
	self->mounted = false;
	ASSERT_EQ(0, kt_saved_take(&self->state));
	if (mkdir(RT_CG, 0755) && errno != EEXIST)
		ASSERT_EQ(0, errno);
	/*
	 * Scope first: between the two, every process would be judged on
	 * the short window, the test's own among them, and a rundelay
	 * capture of one of them would hold the host's rundelay cooldown.
	 * The config change then restarts every history.
	 */
	ASSERT_EQ(0, kt_ctl("watch clear"));
	ASSERT_EQ(0, kt_ctl("watch add cgroup /khm_real"));
	ASSERT_EQ(0, kt_ctl("config set enabled on interval-ms %d window %d",
			    RT_MS, RT_WINDOW));
	ASSERT_EQ(0, khm_mkdir_p(RT_DIR));
	if (mkdir(RT_STAGE, 0755) && errno != EEXIST)
		ASSERT_EQ(0, errno);
	ASSERT_EQ(0, kt_wait_passes(1, 10 * RT_MS));
	ASSERT_EQ(0, kt_mon_start(&self->mon));
}

FIXTURE_TEARDOWN_PARENT(real)
{
	int i;

	for (i = 0; i < self->npids; i++)
		rt_kill(self->pids[i]);
	kt_mon_kill(&self->mon);
	/*
	 * Not the parent of the workloads here: one killed may still be
	 * letting go of its files.
	 */
	for (i = 0; self->mounted && i < 50 && umount(RT_DISK); i++)
		kt_sleep_ms(100);
	if (self->mounted && i == 50)
		TH_LOG("umount %s: %s", RT_DISK, strerror(errno));
	EXPECT_GT(50, i);
	EXPECT_EQ(0, kt_saved_put(&self->state));
	rt_cg_write(RT_CG, "memory.max", "max");
	/* empty once its processes are reaped */
	for (i = 0; i < 50 && rmdir(RT_CG) && errno == EBUSY; i++)
		kt_sleep_ms(100);
	for (i = 0; i < 50 && rmdir(RT_STAGE) && errno == EBUSY; i++)
		kt_sleep_ms(100);
}

/* Wait for status "detections" to exceed @than; its last value. */
static long long rt_wait_detection(long long than, int timeout_ms)
{
	long long end = kt_now_ms() + timeout_ms, d;

	do {
		d = kt_status("detections");
		if (d > than)
			return d;
		kt_sleep_ms(RT_POLL_MS);
	} while (kt_now_ms() < end);
	return d;
}

/*
 * The detections the monitor saw, as "metric:pid" words in @buf, and how
 * many of them were for @metric and @pid (-1: any pid); *late counts those
 * that came more than @after_ms after the start of their process.
 */
static int rt_events(struct json_object *events, const char *metric, pid_t pid,
		     long long after_ms, int *late, char *buf, size_t len)
{
	int i, n = 0;
	size_t off = 0;

	buf[0] = '\0';
	*late = 0;
	for (i = 0; i < (int)json_object_array_length(events); i++) {
		struct json_object *ev = json_object_array_get_idx(events, i);
		long long age = (khm_json_int(ev, "time-ns") -
				 khm_json_int(ev, "start-ns")) / 1000000;
		const char *m = khm_json_str(ev, "metric") ?: "?";
		pid_t p = khm_json_int(ev, "pid");

		if (off < len)
			off += snprintf(buf + off, len - off,
					"%s%s:%s:%d@%lldms=%.1f/%.1f",
					i ? " " : "", m,
					khm_json_str(ev, "comm") ?: "?", p, age,
					khm_json_num(ev, "value"),
					khm_json_num(ev, "avg"));
		if (strcmp(m, metric) && strcmp(metric, "*"))
			continue;
		if (age > after_ms)
			(*late)++;
		if (pid < 0 || p == pid)
			n++;
	}
	return n;
}

/*
 * Pull the queue into RT_DIR until a file of @pid's (-1: anyone's)
 * captures for @metric (DIR/<time>-<comm>-<pid>-<metric>-<id><ext>) ending
 * in @ext holds @func, for up to @timeout_ms; its name in @found.
 */
static bool rt_files_hold(pid_t pid, const char *metric, const char *ext,
			  const char *func, int timeout_ms, char *found,
			  size_t len)
{
	size_t elen = strlen(ext);

	long long end = kt_now_ms() + timeout_ms;
	char tag[64], path[512];
	struct dirent *de;
	bool hit = false;
	DIR *d;

	if (pid < 0)
		snprintf(tag, sizeof(tag), "-%s-", metric);
	else
		snprintf(tag, sizeof(tag), "-%d-%s-", pid, metric);
	do {
		if (khm_pull(RT_DIR))
			return false;
		d = opendir(RT_DIR);
		if (!d)
			return false;
		while (!hit && (de = readdir(d))) {
			char *text;
			size_t n = strlen(de->d_name);

			if (!strstr(de->d_name, tag) || n < elen ||
			    strcmp(de->d_name + n - elen, ext))
				continue;
			snprintf(path, sizeof(path), RT_DIR "/%s", de->d_name);
			text = khm_slurp(path, NULL);
			hit = text && strstr(text, func);
			if (hit)
				snprintf(found, len, "%s", de->d_name);
			free(text);
		}
		closedir(d);
		if (!hit)
			kt_sleep_ms(1000);
	} while (!hit && kt_now_ms() < end);
	return hit;
}

/* The first detection of @metric among @events, or NULL. */
static struct json_object *rt_event(struct json_object *events,
				    const char *metric)
{
	int i;

	for (i = 0; i < (int)json_object_array_length(events); i++) {
		struct json_object *ev = json_object_array_get_idx(events, i);

		if (!strcmp(khm_json_str(ev, "metric") ?: "", metric))
			return ev;
	}
	return NULL;
}

static void rt_expect_cpu_capture(struct __test_metadata *_metadata,
				  pid_t pid, const char *func)
{
	char name[256] = "";
	bool hit;

	hit = rt_files_hold(pid, "cpu", ".folded", func, 30000, name,
			    sizeof(name));
	TH_LOG("capture files of pid %d for cpu: %s names %s", pid,
	       hit ? name : "none", func);
	EXPECT_TRUE(hit);
}

/*
 * A process's CPU time as the scheduler counts it (the first field of
 * /proc/PID/schedstat: ns on a CPU, of the thread group leader), or -1.
 */
static long long rt_cpu_ns(pid_t pid)
{
	char path[64], buf[128];

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	if (khm_read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	return atoll(buf);
}

/* a single-threaded process's CPU time, sampled while the test waits */
#define RT_TRACE_MAX	2048
#define RT_TRACE_MS	50

struct rt_trace {
	long long ms[RT_TRACE_MAX];	/* since the test's t0 */
	long long ns[RT_TRACE_MAX];	/* CPU time then */
	int n;
};

static void rt_trace_add(struct rt_trace *tr, pid_t pid, long long t0)
{
	long long ns = rt_cpu_ns(pid);

	if (ns >= 0 && tr->n < RT_TRACE_MAX) {
		tr->ms[tr->n] = kt_now_ms() - t0;
		tr->ns[tr->n] = ns;
		tr->n++;
	}
}

/*
 * The first time (ms since t0) at which the trace's last @window_ms held
 * at least @pct % of one CPU, or -1: when a rule on a window's average
 * can first see the process that hot. @share: the most any window had.
 */
static long long rt_trace_hot(const struct rt_trace *tr, long long window_ms,
			      int pct, double *share)
{
	int i, j = 0;

	*share = 0;
	for (i = 1; i < tr->n; i++) {
		double sh;

		while (j + 1 < i && tr->ms[i] - tr->ms[j + 1] >= window_ms)
			j++;
		if (tr->ms[i] - tr->ms[j] < window_ms)
			continue;
		sh = (tr->ns[i] - tr->ns[j]) / 1e4 / (tr->ms[i] - tr->ms[j]);
		if (sh > *share)
			*share = sh;
		if (sh >= pct)
			return tr->ms[i];
	}
	return -1;
}

/*
 * perl hot from its first instruction: no quiet history, so only the
 * ceiling can catch it, once its window is full.
 *
 * The promise (window x interval + two intervals) is for a process that
 * has a CPU. With other VMs beside this one on the host, the guest's
 * vCPUs are descheduled for whole intervals, perl has 60 to 80 % of a
 * CPU as the guest's clock counts it, and its window reaches the ceiling
 * later (caught 2.4 and 4.0 s in, beside three VMs). So the deadline is
 * taken from what perl had: the first moment its last window held 80 %
 * of a CPU (from /proc/PID/schedstat every 50 ms), plus two intervals as
 * the sampler achieved them, never earlier than the promise.
 */
TEST_F_TIMEOUT(real, perl_hot_from_start, 120)
{
	char *argv[] = { "perl", "-e", "1 while 1", NULL };
	struct json_object *events, *ev;
	long long d0, age, p0, t0, ival, hot, promised, next_poll, end;
	struct rt_trace *tr;
	char seen[512];
	double share;
	int late;
	pid_t pid;

	if (!rt_have("perl"))
		SKIP(return, "no perl in the VM (KHM_EXTRA_BINS)");
	tr = calloc(1, sizeof(*tr));
	ASSERT_NE(NULL, tr);
	d0 = kt_status("detections");
	p0 = kt_status("passes");
	t0 = kt_now_ms();
	pid = rt_spawn(-1, argv);
	ASSERT_LT(0, pid);
	self->pids[self->npids++] = pid;
	end = t0 + 30 * RT_DEADLINE_MS;
	next_poll = t0 + RT_POLL_MS;
	while (kt_now_ms() < end) {
		rt_trace_add(tr, pid, t0);
		if (kt_now_ms() >= next_poll) {
			if (kt_status("detections") > d0)
				break;
			next_poll = kt_now_ms() + RT_POLL_MS;
		}
		kt_sleep_ms(RT_TRACE_MS);
	}
	EXPECT_LT(d0, kt_status("detections"));
	/* and stays quiet: three more windows, well inside the cooldown */
	ASSERT_EQ(0, kt_wait_passes(3 * RT_WINDOW, 30 * RT_DEADLINE_MS));
	/* the interval the sampler achieved (300 ms where 200 are asked, seen) */
	ival = (kt_now_ms() - t0) / (kt_status("passes") - p0);
	if (ival < RT_MS)
		ival = RT_MS;
	hot = rt_trace_hot(tr, RT_WINDOW * ival, 80, &share);
	TH_LOG("perl had 80 %% of a CPU over a window (%lld ms) %lld ms after its start (-1: never, most %.1f %%); interval achieved %lld ms",
	       RT_WINDOW * ival, hot, share, ival);
	/* the trace ends at the detection: an early one needs no "hot" */
	promised = hot > 0 ? hot + 2 * ival : 0;
	if (promised < RT_DEADLINE_MS)
		promised = RT_DEADLINE_MS;

	events = kt_mon_events(&self->mon, "detection");
	ASSERT_NE(NULL, events);
	EXPECT_EQ(1, rt_events(events, "cpu", pid, promised + RT_SLACK_MS,
			       &late, seen, sizeof(seen)));
	TH_LOG("detections: %s", seen);
	EXPECT_EQ(0, late);
	ev = rt_event(events, "cpu");
	ASSERT_NE(NULL, ev);
	age = (khm_json_int(ev, "time-ns") - khm_json_int(ev, "start-ns")) /
	      1000000;
	TH_LOG("perl hot from start: cpu %.1f avg %.1f, caught %lld ms after its start (promised %d, %lld from the CPU it had)",
	       khm_json_num(ev, "value"), khm_json_num(ev, "avg"), age,
	       RT_DEADLINE_MS, promised);
	EXPECT_EQ(80, khm_json_int(ev, "rule.abs"));
	EXPECT_LE(80.0, khm_json_num(ev, "avg"));
	json_object_put(events);
	free(tr);
	rt_expect_cpu_capture(_metadata, pid, "Perl_runops_standard");
}

/*
 * Whether @pid, after its exec of perl, waits in syscall @nr or @nr2
 * (/proc/PID/syscall, x86-64 numbers).
 */
static bool rt_perl_in(pid_t pid, int nr, int nr2)
{
	char path[64], buf[256], comm[32];
	int now;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (khm_read_file(path, comm, sizeof(comm)) < 0 || strcmp(comm, "perl"))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	if (khm_read_file(path, buf, sizeof(buf)) < 0 ||
	    sscanf(buf, "%d ", &now) != 1)
		return false;
	return now == nr || now == nr2;
}

/* in clock_nanosleep or nanosleep */
static bool rt_perl_sleeps(pid_t pid)
{
	return rt_perl_in(pid, 230, 35);
}

/*
 * perl quiet for a few windows, then spinning: the relative rule, once.
 * perl starts unwatched and is moved into the watched cgroup once it
 * sleeps: its start (exec, loading libperl, seconds of CPU on a loaded
 * emulated host, and charged in lumps, see KHR_CPU_HOLD) is no part of
 * what the rule judges, which once fired on it during the sleep.
 */
#define RT_PERL_QUIET_MS	6000

TEST_F_TIMEOUT(real, perl_jump_after_quiet, 120)
{
	char *argv[] = { "perl", "-e", "sleep 6; 1 while 1", NULL };
	struct json_object *events, *ev;
	char seen[512], pidstr[16];
	long long d0, age, end;
	int late;
	pid_t pid;

	if (!rt_have("perl"))
		SKIP(return, "no perl in the VM (KHM_EXTRA_BINS)");
	d0 = kt_status("detections");
	pid = rt_spawn_in(RT_STAGE, -1, argv);
	ASSERT_LT(0, pid);
	self->pids[self->npids++] = pid;
	end = kt_now_ms() + RT_PERL_QUIET_MS;
	while (!rt_perl_sleeps(pid) && kt_now_ms() < end)
		kt_sleep_ms(20);
	ASSERT_TRUE(rt_perl_sleeps(pid));
	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	ASSERT_EQ(0, rt_cg_write(RT_CG, "cgroup.procs", pidstr));
	TH_LOG("perl sleeps %lld ms after its start: moved into the watch",
	       kt_now_ms() - (end - RT_PERL_QUIET_MS));
	EXPECT_LT(d0, rt_wait_detection(d0, RT_PERL_QUIET_MS +
					30 * RT_DEADLINE_MS));
	ASSERT_EQ(0, kt_wait_passes(3 * RT_WINDOW, 30 * RT_DEADLINE_MS));
	events = kt_mon_events(&self->mon, "detection");
	ASSERT_NE(NULL, events);
	EXPECT_EQ(1, rt_events(events, "cpu", pid, 1000000, &late, seen,
			       sizeof(seen)));
	TH_LOG("detections: %s", seen);
	ev = rt_event(events, "cpu");
	ASSERT_NE(NULL, ev);
	age = (khm_json_int(ev, "time-ns") - khm_json_int(ev, "start-ns")) /
	      1000000;
	/* the jump, not the ceiling: the window was quiet */
	TH_LOG("perl after a quiet start: cpu %.1f avg %.1f, %lld ms after its start",
	       khm_json_num(ev, "value"), khm_json_num(ev, "avg"), age);
	EXPECT_GT(20.0, khm_json_num(ev, "avg"));
	EXPECT_LE(50.0, khm_json_num(ev, "value"));
	/* and once it spins, not during the sleep */
	EXPECT_LE(RT_PERL_QUIET_MS, age);
	json_object_put(events);
	rt_expect_cpu_capture(_metadata, pid, "Perl_runops_standard");
}

/*
 * A process that sent the module a privileged request (kholmesctl's
 * daemon does at once) spins: it is tracked, its rule would fire, nothing
 * is captured. A watch entry naming its pid then has it captured.
 */
TEST_F_TIMEOUT(real, kholmesctl_not_captured, 120)
{
	struct json_object *p, *events;
	char seen[512];
	long long d0;
	int ready[2], late;
	pid_t pid;
	char c;

	d0 = kt_status("detections");
	ASSERT_EQ(0, pipe(ready));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct khm_genl g;
		int fd;

		kt_die_with(getppid());
		fd = open(RT_CG "/cgroup.procs", O_WRONLY);
		if (fd < 0 || write(fd, "0", 1) != 1)
			_exit(1);
		if (khm_genl_open(&g) ||
		    khm_genl_request(&g, KHOLMES_CMD_GET_CONFIG, 0, NULL, 0,
				     NULL, NULL))
			_exit(1);
		khm_genl_close(&g);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			;
	}
	self->pids[self->npids++] = pid;
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	close(ready[0]);
	p = kt_wait_proc(pid, RT_WINDOW, 30 * RT_DEADLINE_MS);
	ASSERT_NE(NULL, p);
	TH_LOG("marked spinner: cpu %.1f avg %.1f", khm_json_num(p, "values.cpu"),
	       khm_json_num(p, "avg.cpu"));
	EXPECT_LE(80.0, khm_json_num(p, "avg.cpu"));
	json_object_put(p);
	ASSERT_EQ(0, kt_wait_passes(2 * RT_WINDOW, 30 * RT_DEADLINE_MS));
	p = kt_ps_find(pid);
	ASSERT_NE(NULL, p);
	TH_LOG("marked spinner, later: cpu %.1f avg %.1f",
	       khm_json_num(p, "values.cpu"), khm_json_num(p, "avg.cpu"));
	json_object_put(p);
	EXPECT_EQ(d0, kt_status("detections"));

	events = kt_mon_events(&self->mon, "detection");
	ASSERT_NE(NULL, events);
	EXPECT_EQ(0, json_object_array_length(events));
	json_object_put(events);

	ASSERT_EQ(0, kt_mon_start(&self->mon));
	ASSERT_EQ(0, kt_ctl("watch add pid %d", pid));
	EXPECT_LT(d0, rt_wait_detection(d0, 30 * RT_DEADLINE_MS));
	events = kt_mon_events(&self->mon, "detection");
	ASSERT_NE(NULL, events);
	EXPECT_EQ(1, rt_events(events, "cpu", pid, 1000000, &late, seen,
			       sizeof(seen)));
	TH_LOG("named by a watch entry: %s", seen);
	json_object_put(events);
}

/*
 * Contention back at a level the host held is a return, whoever waits
 * now: no rundelay capture. A shell loop spins alone on CPU 0 and waits
 * for nothing; then two start together on CPU 1, each waits half the
 * time from its first instruction while its rules warm up, and the host
 * waits as it had not; then one of the two stops, and the host waits
 * for nothing; then it goes on, on CPU 0: the host waits as it did, and
 * the loop on CPU 0 waits half the time, a level it never held (its own
 * level memory cannot tell), over a window of nothing, and the host's
 * waiting grew by all of it. Without the host's level memory that was a
 * rundelay capture of it, though nothing happened that had not happened
 * seconds before, when no rule could fire. Busybox's sh, which starts
 * in a moment: stress-ng's workers on one CPU did not start together
 * (one waited for nothing for its first window, then half the time: a
 * rundelay capture, rightly). The cpu rule is off: the loop alone on
 * CPU 0 reaches its ceiling, and its capture and profile would make it
 * wait.
 */
TEST_F_TIMEOUT(real, rundelay_host_level_return, 120)
{
	char *spin[] = { "sh", "-c", "while :; do :; done", NULL };
	long long returns = kt_debugfs("rundelay_host_returns");
	struct json_object *events;
	pid_t alone, stays, moved;
	char seen[1024];
	cpu_set_t cpu0;
	int late, n;

	ASSERT_EQ(0, kt_ctl("rule set cpu off"));
	/*
	 * From here on the test only sleeps: a kholmesctl run is tens of
	 * ms of CPU under emulation, and a loop that waits 60 ms of an
	 * interval for it reads 300 ms/s, a rundelay jump of its own.
	 */
	ASSERT_LT(0, alone = rt_spawn(0, spin));
	self->pids[self->npids++] = alone;
	/* its window full of waiting for nothing */
	kt_sleep_ms(2 * RT_WINDOW * RT_MS);
	ASSERT_LT(0, stays = rt_spawn(1, spin));
	self->pids[self->npids++] = stays;
	ASSERT_LT(0, moved = rt_spawn(1, spin));
	self->pids[self->npids++] = moved;
	/* two on CPU 1: the host waits; their windows fill */
	kt_sleep_ms(3 * RT_WINDOW * RT_MS);
	ASSERT_EQ(0, kill(moved, SIGSTOP));
	/* the host waits for nothing, for a window and more */
	kt_sleep_ms(3 * RT_WINDOW * RT_MS);
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	ASSERT_EQ(0, sched_setaffinity(moved, sizeof(cpu0), &cpu0));
	ASSERT_EQ(0, kill(moved, SIGCONT));
	kt_sleep_ms(3 * RT_WINDOW * RT_MS);

	events = kt_mon_events(&self->mon, "detection");
	ASSERT_NE(NULL, events);
	n = rt_events(events, "rundelay", -1, 1000000, &late, seen,
		      sizeof(seen));
	TH_LOG("alone %d, stays %d, moved %d; detections: %s; rundelay shifted %lld, host returns %lld",
	       alone, stays, moved, seen, kt_debugfs("rundelay_shifted"),
	       kt_debugfs("rundelay_host_returns") - returns);
	EXPECT_EQ(0, n);
	/* and it was the host's return that kept it: the jump was there */
	EXPECT_LT(returns, kt_debugfs("rundelay_host_returns"));
	json_object_put(events);
}

/* profiles done, skipped or refused: grows once a profile's outcome is known */
static long long rt_profiles_over(void)
{
	return kt_status("profiles-done") + kt_status("profiles-skipped") +
	       kt_status("saturated");
}

/*
 * One hog on CPU 0 first, then a perl that sleeps and then spins on CPU 0
 * too: both now wait about half the time. One rundelay capture, of the
 * one that waited most, and the hog among its top consumers. What comes
 * before is made quiet first, by conditions rather than by time (under
 * TCG both vary by seconds): the hog's own cpu detection and its profile
 * are over (the wait the module's work causes the hog is not a rundelay),
 * and perl starts unwatched and on CPU 1, and is moved into the watch
 * and onto CPU 0 once it sleeps: its start (exec, libperl, seconds of
 * CPU here) beside the hog would have both wait half the time for
 * seconds, a level the spin would only return to (KHOLMES_V_LEVEL), and
 * the hog's wait alone is a rundelay detection before the spin (6.12-rt,
 * run 25: perl left to any CPU started beside the hog, which read 232
 * ms/s over 19 and was caught before perl slept; caught by the detection
 * count below). Then a window of the hog alone, and SIGUSR1 ends perl's
 * sleep.
 */
TEST_F_TIMEOUT(real, rundelay_one_capture, 180)
{
	char *hog[] = { "stress-ng", "--cpu", "1", "--taskset", "0", "-t",
			"120s", NULL };
	char *perl[] = { "perl", "-e", "$SIG{USR1} = sub {}; sleep 600; 1 while 1",
			 NULL };
	struct json_object *events, *ps, *e, *cap;
	char seen[1024], name[256], path[512], pidstr[16];
	long long d0, p0, end;
	cpu_set_t cpu0, cpu1;
	bool has_hog;
	int i, n, late, over = 0;
	pid_t pid;

	if (!rt_have("perl") || !rt_have("stress-ng"))
		SKIP(return, "no perl or stress-ng in the VM (KHM_EXTRA_BINS)");
	/*
	 * The test's own polls, a kholmesctl run each (tens of ms of CPU
	 * under emulation, three every RT_POLL_MS while the hog's profile
	 * ends), off the hog's CPU: the hog waited for them (6.12-rt, run
	 * 36: 213 ms/s over a window of 61, 8 s in, perl still asleep).
	 */
	CPU_ZERO(&cpu1);
	CPU_SET(1, &cpu1);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu1), &cpu1));
	p0 = rt_profiles_over();
	ASSERT_LT(0, self->pids[self->npids++] = rt_spawn(0, hog));
	pid = rt_spawn_in(RT_STAGE, 1, perl);
	ASSERT_LT(0, pid);
	self->pids[self->npids++] = pid;
	end = kt_now_ms() + 60 * RT_DEADLINE_MS;
	while (!rt_perl_sleeps(pid) && kt_now_ms() < end)
		kt_sleep_ms(20);
	ASSERT_TRUE(rt_perl_sleeps(pid));
	/* the hog's own cpu detection, and its profile over */
	ASSERT_TRUE(rt_wait_metric(&self->mon, "cpu", 30 * RT_DEADLINE_MS));
	end = kt_now_ms() + 60 * RT_DEADLINE_MS;
	while (rt_profiles_over() == p0 && kt_now_ms() < end)
		kt_sleep_ms(RT_POLL_MS);
	ASSERT_LT(p0, rt_profiles_over()) TH_LOG("the hog's profile never ended");
	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	ASSERT_EQ(0, rt_cg_write(RT_CG, "cgroup.procs", pidstr));
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	ASSERT_EQ(0, sched_setaffinity(pid, sizeof(cpu0), &cpu0));
	/* perl's window full of its sleep, the host's of the hog alone */
	ASSERT_EQ(0, kt_wait_passes(RT_WINDOW + 2, 30 * RT_DEADLINE_MS));
	d0 = kt_status("detections");
	TH_LOG("perl sleeps in the watch: rundelay shifted %lld, level returns %lld",
	       kt_debugfs("rundelay_shifted"),
	       kt_debugfs("level_returns"));
	ASSERT_EQ(0, kill(pid, SIGUSR1));
	ASSERT_EQ(0, kt_wait_passes(4 * RT_WINDOW, 60 * RT_DEADLINE_MS));

	/* no thread waits more than all the time */
	ps = khm_json("ps");
	ASSERT_NE(NULL, ps);
	n = json_object_array_length(ps);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(ps, i);
		TH_LOG("%s %lld: cpu %.1f rundelay %.1f avg %.1f ms/s",
		       khm_json_str(e, "comm") ?: "?", khm_json_int(e, "pid"),
		       khm_json_num(e, "values.cpu"),
		       khm_json_num(e, "values.rundelay"),
		       khm_json_num(e, "avg.rundelay"));
		if (khm_json_num(e, "values.rundelay") >
		    1000.0 * (khm_json_int(e, "values.threads") ?: 1) + 1) {
			TH_LOG("pid %lld reads %.1f ms/s of run delay",
			       khm_json_int(e, "pid"),
			       khm_json_num(e, "values.rundelay"));
			over++;
		}
	}
	json_object_put(ps);
	EXPECT_EQ(0, over);

	events = kt_mon_events(&self->mon, "detection");
	ASSERT_NE(NULL, events);
	n = rt_events(events, "rundelay", -1, 1000000, &late, seen,
		      sizeof(seen));
	TH_LOG("detections: %s; rundelay shifted %lld, level returns %lld",
	       seen, kt_debugfs("rundelay_shifted"),
	       kt_debugfs("level_returns"));
	EXPECT_EQ(1, n);
	json_object_put(events);
	/* and no second one since: the monitor saw them all */
	EXPECT_LE(d0 + n, kt_status("detections"));
	/* the capture lists the host's top consumers: the hog among them */
	EXPECT_TRUE(rt_files_hold(-1, "rundelay", ".json", "\"consumers\"",
				  20000, name, sizeof(name)));
	snprintf(path, sizeof(path), RT_DIR "/%s", name);
	cap = json_object_from_file(path);
	ASSERT_NE(NULL, cap);
	TH_LOG("%s: pid %lld, consumers %s", name, khm_json_int(cap, "pid"),
	       json_object_to_json_string(khm_json_get(cap, "consumers")));
	/* one of the two that waited: the hog's worker or perl */
	EXPECT_TRUE(khm_json_int(cap, "pid") == pid ||
		    !strcmp(khm_json_str(cap, "comm") ?: "", "stress-ng-cpu"));
	n = kt_json_len(cap, "consumers");
	for (i = 0, has_hog = false; i < n; i++) {
		e = json_object_array_get_idx(khm_json_get(cap, "consumers"), i);
		has_hog |= !strcmp(khm_json_str(e, "comm") ?: "", "stress-ng-cpu");
	}
	EXPECT_TRUE(has_hog);
	json_object_put(cap);
}

/*
 * stress-ng --cpu 1 --vm 1 --switch 1 on the two CPUs of the VM is a
 * steady load only once the scheduler has placed it, and it does not
 * always place it for good. Its switch stressor is a ping-pong pair of
 * processes over a pipe: on 6.12, with its two ends on one CPU it
 * switches 4 to 40 times as often as with an end beside each of the
 * other two stressors (read from /proc, pinned by taskset: 12,000 to
 * 15,000 switches a second and 47 % of a CPU each, against 2,000 to 3,400
 * and 28 %; with a second VM on the host, 5,000 to 8,000 against 120 to
 * 1,300). Left to itself the scheduler moved the pair between the two
 * for the first 2 to 55 s of a run, as the emulated host's load let it,
 * and back and forth after; once it had the pair on one CPU it kept it
 * there (20 s free, not moved). So the load is placed, with
 * sched_setaffinity(), the way the scheduler keeps it (rt_mix_place()):
 * what is left is the load, not the scheduler's choices. A return to a
 * level a process held is judged in real.spinner_back_at_a_held_level;
 * the pair's first move to a placement it never had is in the README's
 * limits: a switch rate four times any the process held is a change of
 * the process, if not of its code, and a rule catches it once (seen:
 * ctxsw of both ends, or cpu of one).
 */

/* The workers of stress-ng --cpu 1 --vm 1 --switch 1 in RT_CG. */
struct rt_mix {
	pid_t cpu, vm, sw[2];
};

static int rt_pid_cmp(const void *a, const void *b)
{
	return *(const pid_t *)a - *(const pid_t *)b;
}

/* The processes of RT_CG called @comm, at most @max, in order; how many. */
static int rt_comm_pids(const char *comm, pid_t *out, int max)
{
	char path[64], name[32];
	pid_t pids[32];
	int i, n, k = 0;

	n = rt_cg_pids(RT_CG, pids, 32);
	for (i = 0; i < n && k < max; i++) {
		snprintf(path, sizeof(path), "/proc/%d/comm", pids[i]);
		if (khm_read_file(path, name, sizeof(name)) < 0)
			continue;
		name[strcspn(name, "\n")] = '\0';
		if (!strcmp(name, comm))
			out[k++] = pids[i];
	}
	qsort(out, k, sizeof(*out), rt_pid_cmp);
	return k;
}

/*
 * Find @m's workers, the busy one of each stressor: --vm's is the child
 * of a process that waits for it (stress-ng's OOM guard), so the later of
 * the two, once there are two. True once all four run, within @ms.
 */
static bool rt_mix_find(struct rt_mix *m, int ms)
{
	long long end = kt_now_ms() + ms;
	pid_t cpu[4], vm[4];
	int ncpu, nvm;

	do {
		ncpu = rt_comm_pids("stress-ng-cpu", cpu, 4);
		nvm = rt_comm_pids("stress-ng-vm", vm, 4);
		if (ncpu && nvm >= 2 &&
		    rt_comm_pids("stress-ng-switc", m->sw, 2) == 2) {
			m->cpu = cpu[ncpu - 1];
			m->vm = vm[nvm - 1];
			return true;
		}
		kt_sleep_ms(50);
	} while (kt_now_ms() < end);
	return false;
}

/* Every thread of @pid onto CPU @cpu; 0 or -1. */
static int rt_pin(pid_t pid, int cpu)
{
	char path[64];
	struct dirent *de;
	cpu_set_t set;
	int ret = 0, n = 0;
	DIR *dir;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((de = readdir(dir)))
		if (atoi(de->d_name) > 0) {
			ret |= sched_setaffinity(atoi(de->d_name), sizeof(set),
						 &set);
			n++;
		}
	closedir(dir);
	return n ? ret : -1;
}

/*
 * Place @m as the scheduler keeps it once it has it so: the switch
 * pair's two ends on CPU 1, the cpu and vm stressors on CPU 0.
 */
static int rt_mix_place(const struct rt_mix *m)
{
	return rt_pin(m->cpu, 0) | rt_pin(m->vm, 0) | rt_pin(m->sw[0], 1) |
	       rt_pin(m->sw[1], 1);
}

/*
 * The test's own reading of the processes of RT_CG, from /proc and apart
 * from kholmes, each interval: what it says about a detection it did not
 * expect, and how it checks that a load did what it meant. The switches
 * of every thread of a process so far (the ctxsw metric's counters) and
 * their time on a CPU, with the CLOCK_BOOTTIME of the reading, the clock
 * of an event's time-ns.
 */
#define RT_LOG_PROCS		8
#define RT_LOG_READS		2000

struct rt_reading {
	long long ns;
	unsigned long long switches;
	unsigned long long cpu_ns;	/* schedstat's time on a CPU */
};

struct rt_log {
	pid_t pid;
	char comm[16];
	int n;
	struct rt_reading r[RT_LOG_READS];
};

static long long rt_boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Read @pid's switches and CPU time into @r; false when it is gone. */
static bool rt_read_proc(pid_t pid, struct rt_reading *r)
{
	char path[64], line[128];
	unsigned long long sw, ns;
	struct dirent *de;
	bool any = false;
	DIR *dir;
	FILE *f;
	int tid;

	r->ns = rt_boot_ns();
	r->switches = 0;
	r->cpu_ns = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return false;
	while ((de = readdir(dir))) {
		tid = atoi(de->d_name);
		if (tid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid,
			 tid);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "voluntary_ctxt_switches: %llu", &sw) == 1 ||
			    sscanf(line, "nonvoluntary_ctxt_switches: %llu", &sw) == 1)
				r->switches += sw;
		fclose(f);
		snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", pid,
			 tid);
		if (khm_read_file(path, line, sizeof(line)) > 0 &&
		    sscanf(line, "%llu", &ns) == 1)
			r->cpu_ns += ns;
		any = true;
	}
	closedir(dir);
	return any;
}

/*
 * Read every process of RT_CG each interval for @ms into @t, which holds
 * @nt processes already (a reading goes on where the last one stopped);
 * how many it holds now.
 */
static int rt_log_cg(struct rt_log *t, int nt, long ms)
{
	long long end = kt_now_ms() + ms;
	struct rt_reading r;
	pid_t pids[RT_LOG_PROCS];
	int i, j, n;
	char path[64];

	while (kt_now_ms() < end) {
		n = rt_cg_pids(RT_CG, pids, RT_LOG_PROCS);
		for (i = 0; i < n; i++) {
			for (j = 0; j < nt && t[j].pid != pids[i]; j++)
				;
			if (j == nt && nt == RT_LOG_PROCS)
				continue;
			if (!rt_read_proc(pids[i], &r))
				continue;
			if (j == nt) {
				t[nt].pid = pids[i];
				snprintf(path, sizeof(path), "/proc/%d/comm",
					 pids[i]);
				if (khm_read_file(path, t[nt].comm,
						  sizeof(t[nt].comm)) < 0)
					strcpy(t[nt].comm, "?");
				t[nt].comm[strcspn(t[nt].comm, "\n")] = '\0';
				nt++;
			}
			if (t[j].n < RT_LOG_READS)
				t[j].r[t[j].n++] = r;
		}
		kt_sleep_ms(RT_MS);
	}
	return nt;
}

/*
 * Over reading @i of @t (from the one before): switches a second, or
 * with @cpu the percent of a CPU its threads ran.
 */
static double rt_log_rate(const struct rt_log *t, int i, bool cpu)
{
	long long dt = t->r[i].ns - t->r[i - 1].ns;

	/* a thread gone between two readings takes its counts with it */
	if (dt <= 0 || t->r[i].cpu_ns < t->r[i - 1].cpu_ns ||
	    t->r[i].switches < t->r[i - 1].switches)
		return 0;
	if (cpu)
		return (t->r[i].cpu_ns - t->r[i - 1].cpu_ns) * 100.0 / dt;
	return (t->r[i].switches - t->r[i - 1].switches) * 1e9 / dt;
}

/*
 * @pid's switches a second (or with @cpu, its percent of a CPU) over the
 * test's readings from @from_ns to @to_ns; -1 if it has no two there.
 */
static double rt_log_mean(const struct rt_log *t, int nt, pid_t pid,
			  long long from_ns, long long to_ns, bool cpu)
{
	const struct rt_reading *a = NULL, *b = NULL;
	int k, i;

	for (k = 0; k < nt && t[k].pid != pid; k++)
		;
	for (i = 0; k < nt && i < t[k].n; i++) {
		if (t[k].r[i].ns < from_ns || t[k].r[i].ns > to_ns)
			continue;
		if (!a)
			a = &t[k].r[i];
		b = &t[k].r[i];
	}
	if (!a || a == b || b->switches < a->switches || b->cpu_ns < a->cpu_ns)
		return -1;
	if (cpu)
		return (b->cpu_ns - a->cpu_ns) * 100.0 / (b->ns - a->ns);
	return (b->switches - a->switches) * 1e9 / (b->ns - a->ns);
}

/*
 * What the test read of each process of the load from 4 s before @ns to
 * 1 s after it: switches a second / % of a CPU per reading, and the
 * most each held for two readings before that.
 */
static void rt_log_say(struct __test_metadata *_metadata,
		       const struct rt_log *t, int nt, long long ns)
{
	double held[2];
	char line[1024];
	size_t off;
	int i, k, c;

	for (k = 0; k < nt; k++, t++) {
		off = 0;
		held[0] = held[1] = 0;
		line[0] = '\0';
		for (i = 2; i < t->n && t->r[i].ns <= ns + 1000000000LL; i++) {
			if (t->r[i].ns >= ns - 4000000000LL &&
			    off < sizeof(line))
				off += snprintf(line + off, sizeof(line) - off,
						" %.1f:%.0f/%.0f",
						(t->r[i].ns - ns) / 1e9,
						rt_log_rate(t, i, false),
						rt_log_rate(t, i, true));
			else if (t->r[i].ns < ns - 4000000000LL)
				for (c = 0; c < 2; c++)
					held[c] = fmax(held[c],
						       fmin(rt_log_rate(t, i - 1, c),
							    rt_log_rate(t, i, c)));
		}
		TH_LOG("read: %s %d (held before: %.0f switches/s, %.0f %%):%s",
		       t->comm, t->pid, held[0], held[1], line);
	}
}

/* Each process's switches a second and % of a CPU over the readings. */
static void rt_log_sum(struct __test_metadata *_metadata,
		       const struct rt_log *t, int nt, long long from_ns,
		       long long to_ns)
{
	char line[512];
	size_t off = 0;
	int k;

	line[0] = '\0';
	for (k = 0; k < nt && off < sizeof(line); k++)
		off += snprintf(line + off, sizeof(line) - off,
				" %s %d %.0f/s %.0f %%;", t[k].comm, t[k].pid,
				rt_log_mean(t, nt, t[k].pid, from_ns, to_ns,
					    false),
				rt_log_mean(t, nt, t[k].pid, from_ns, to_ns,
					    true));
	TH_LOG("read over %.1f s:%s", (to_ns - from_ns) / 1e9, line);
}

/*
 * The detections of @events at or after @from_ns, each said with what the
 * test read around it; how many. And a process caught twice for a
 * metric, counted too.
 */
static int rt_late(struct __test_metadata *_metadata,
		   struct json_object *events, long long from_ns,
		   const struct rt_log *logs, int nt)
{
	struct json_object *ev, *other;
	int i, j, n, bad = 0;
	long long t;

	n = json_object_array_length(events);
	for (i = 0; i < n; i++) {
		ev = json_object_array_get_idx(events, i);
		t = khm_json_int(ev, "time-ns");
		if (t >= from_ns) {
			TH_LOG("too late: %s of %s %lld, %.1f over %.1f",
			       khm_json_str(ev, "metric") ?: "?",
			       khm_json_str(ev, "comm") ?: "?",
			       khm_json_int(ev, "pid"), khm_json_num(ev, "value"),
			       khm_json_num(ev, "avg"));
			rt_log_say(_metadata, logs, nt, t);
			bad++;
		}
		for (j = 0; j < i; j++) {
			other = json_object_array_get_idx(events, j);
			if (khm_json_int(ev, "pid") != khm_json_int(other, "pid") ||
			    strcmp(khm_json_str(ev, "metric") ?: "",
				   khm_json_str(other, "metric") ?: ""))
				continue;
			TH_LOG("caught twice: %s of %lld",
			       khm_json_str(ev, "metric") ?: "?",
			       khm_json_int(ev, "pid"));
			bad++;
		}
	}
	return bad;
}

/*
 * The steady mix: its processes may be caught in their first window
 * after the placement (0.2 to 0.5 s after their start: until then the
 * scheduler placed them, and a window that holds samples from before
 * may read a move), and one interval more for the cpu rule's second
 * sample; nothing after it (RT_FIRST_MS), for as long as the load runs:
 * 40 s, 200 samples and 40 windows, any rule that flaps on a steady
 * load flaps in it; a longer run adds re-fires after the cooldown,
 * which kholmes_rule.h's unit tests time (no re-fire of a pegged process
 * for 10 minutes). KHM_REAL_STEADY_S sets how long (the five
 * minutes: 300). Once placed, the cpu and vm stressors run half the time
 * each and wait the other half, the pair switches over 5,000 times a
 * second (over 10,000, the ctxsw rule's min, on a quiet host): hot
 * against the rules' mins, still against their windows. One cause of
 * flaps stays: on a loaded host an interval can be charged a lump of
 * runtime (a vCPU the host descheduled charges the gap to the thread
 * that was current on it; debugfs cpu_clamped counts the readings cut to
 * 100 % a thread): KHR_CPU_HOLD keeps them from firing.
 */
static long rt_steady_ms(void)
{
	const char *s = getenv("KHM_REAL_STEADY_S");
	long v = s ? strtol(s, NULL, 10) : 0;

	return v > 0 && v <= 3600 ? v * 1000 : 40000;
}

#define RT_FIRST_MS	((RT_WINDOW + 2) * RT_MS)

TEST_F_TIMEOUT(real, steady_stress_ng, 3700)
{
	char secs[16];
	char *argv[] = { "stress-ng", "--cpu", "1", "--vm", "1", "--vm-bytes",
			 "32M", "--switch", "1", "-t", secs, NULL };
	long long clamped = kt_debugfs("cpu_clamped");
	long long returns = kt_debugfs("level_returns");
	long ms = rt_steady_ms();
	struct json_object *events;
	long long t0, placed;
	struct rt_log *logs;
	struct rt_mix mix;
	int late, nt, status;
	char seen[2048];
	pid_t pid;

	if (!rt_have("stress-ng"))
		SKIP(return, "no stress-ng in the VM (KHM_EXTRA_BINS)");
	ASSERT_LE(2, sysconf(_SC_NPROCESSORS_ONLN));
	logs = calloc(RT_LOG_PROCS, sizeof(*logs));
	ASSERT_NE(NULL, logs);
	/* the steady part, then the workers stop one by one: no steady load */
	snprintf(secs, sizeof(secs), "%lds", ms / 1000 + 2);
	t0 = rt_boot_ns();
	pid = rt_spawn(-1, argv);
	ASSERT_LT(0, pid);
	self->pids[self->npids++] = pid;
	ASSERT_TRUE(rt_mix_find(&mix, 5000));
	ASSERT_EQ(0, rt_mix_place(&mix));
	placed = rt_boot_ns();
	TH_LOG("placed %.1f s after the start: cpu %d, vm %d on CPU 0; switch %d, %d on CPU 1",
	       (placed - t0) / 1e9, mix.cpu, mix.vm, mix.sw[0], mix.sw[1]);
	nt = rt_log_cg(logs, 0, ms);
	events = kt_mon_events(&self->mon, "detection");
	ASSERT_NE(NULL, events);
	TH_LOG("cpu readings over 100 %% a thread, cut: %lld (most %lld %%, x1000); returns to a level held: %lld",
	       kt_debugfs("cpu_clamped") - clamped,
	       kt_debugfs("cpu_excess_max"),
	       kt_debugfs("level_returns") - returns);
	rt_log_sum(_metadata, logs, nt, placed + RT_FIRST_MS * 1000000LL,
		   rt_boot_ns());
	/* stress-ng ends by itself */
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	self->npids--;
	EXPECT_TRUE(WIFEXITED(status));
	rt_events(events, "*", -1, 0, &late, seen, sizeof(seen));
	TH_LOG("detections (metric:comm:pid@age=value/avg): %s", seen);
	EXPECT_EQ(0, rt_late(_metadata, events,
			     placed + RT_FIRST_MS * 1000000LL, logs, nt));
	json_object_put(events);
	free(logs);
}

/*
 * A process that comes back to a level it held is no spike: Debian's
 * perl spinning alone on CPU 1 holds a whole CPU for RT_HELD_MS, well
 * past its first window; then it is stopped (SIGSTOP, as a debugger or
 * job control stops a process) for three windows, which fill with
 * nothing; then continued, at the whole CPU it held. Against its window
 * that is a jump of 100 points: without the level memory
 * (khr_level_known()) a cpu detection, once the jump has held its second
 * sample. The cpu rule's ceiling is off here, so that it is the relative
 * rule that judges (the ceiling would catch the spinner in its first
 * window, and its cooldown would hold the rest). The spinner's CPU is
 * the one reading that cannot overshoot the level it held (a thread is
 * counted at most a whole CPU), where a switch rate under emulation can:
 * the switch pair of stress-ng alone on a CPU, stopped and continued the
 * same way, switched up to a quarter faster than it had held for two
 * readings, on a host that had just grown quieter, and was rightly
 * caught. The case reads the spinner's CPU itself, and fails if the load
 * did not do what it is meant to: 80 % of a CPU and more before and
 * after the stop, none during it.
 *
 * The level memory is for the switch stressor's pair in
 * real.steady_stress_ng's mix, left to the scheduler: back at a
 * placement it had, it is back at the rates it held there.
 */
#define RT_HELD_MS	4000
#define RT_STOPPED_MS	(3 * RT_WINDOW * RT_MS)
#define RT_BACK_MS	3000

TEST_F_TIMEOUT(real, spinner_back_at_a_held_level, 60)
{
	char *argv[] = { "perl", "-e", "1 while 1", NULL };
	long long returns, stopped, back, end;
	double held, during, again;
	struct json_object *events;
	struct rt_log *logs;
	int late, nt;
	char seen[2048];
	pid_t pid;

	if (!rt_have("perl"))
		SKIP(return, "no perl in the VM (KHM_EXTRA_BINS)");
	ASSERT_EQ(0, kt_ctl("rule set cpu abs 0"));
	logs = calloc(RT_LOG_PROCS, sizeof(*logs));
	ASSERT_NE(NULL, logs);
	pid = rt_spawn(1, argv);
	ASSERT_LT(0, pid);
	self->pids[self->npids++] = pid;
	nt = rt_log_cg(logs, 0, RT_HELD_MS);
	ASSERT_EQ(0, kill(pid, SIGSTOP));
	stopped = rt_boot_ns();
	nt = rt_log_cg(logs, nt, RT_STOPPED_MS);
	returns = kt_debugfs("level_returns");
	ASSERT_EQ(0, kill(pid, SIGCONT));
	back = rt_boot_ns();
	nt = rt_log_cg(logs, nt, RT_BACK_MS);
	end = rt_boot_ns();
	events = kt_mon_events(&self->mon, "detection");
	ASSERT_NE(NULL, events);
	rt_events(events, "*", -1, 0, &late, seen, sizeof(seen));
	/* a second for its start, and for each change */
	held = rt_log_mean(logs, nt, pid, stopped - (RT_HELD_MS - 1000) * 1000000LL,
			   stopped, true);
	during = rt_log_mean(logs, nt, pid, stopped + 1000000000LL, back, true);
	again = rt_log_mean(logs, nt, pid, back + 1000000000LL, end, true);
	TH_LOG("perl %d: %.0f %% of a CPU, stopped %.0f %%, continued %.0f %%; detections (metric:comm:pid@age=value/avg): %s; returns to a level held since continued: %lld",
	       pid, held, during, again, seen,
	       kt_debugfs("level_returns") - returns);
	EXPECT_LE(80, held);
	EXPECT_GE(5, during);
	EXPECT_LE(80, again);
	/* continued: nothing */
	EXPECT_EQ(0, rt_late(_metadata, events, back, logs, nt));
	/* and it was the level memory that kept it: the jump was there */
	EXPECT_LT(returns, kt_debugfs("level_returns"));
	json_object_put(events);
	free(logs);
}

/*
 * The one detection of @metric the monitor saw since it started (stopped
 * now), checked: of a process whose comm starts with @comm, at or above
 * @min; NULL (and a failure) if there was not exactly one. The caller
 * puts *events.
 */
static struct json_object *rt_one(struct __test_metadata *_metadata,
				  struct kt_mon *mon, const char *metric,
				  const char *comm, double min,
				  struct json_object **events)
{
	struct json_object *ev;
	char seen[2048];
	int late, n;

	*events = kt_mon_events(mon, "detection");
	if (!*events) {
		EXPECT_NE(NULL, *events);
		return NULL;
	}
	n = rt_events(*events, metric, -1, 1000000, &late, seen, sizeof(seen));
	TH_LOG("detections: %s", seen);
	EXPECT_EQ(1, n);
	ev = rt_event(*events, metric);
	if (n != 1 || !ev)
		return NULL;
	TH_LOG("%s of %s %lld: %.1f, window avg %.1f, rule min %lld diff %lld abs %lld",
	       metric, khm_json_str(ev, "comm") ?: "?", khm_json_int(ev, "pid"),
	       khm_json_num(ev, "value"), khm_json_num(ev, "avg"),
	       khm_json_int(ev, "rule.min"), khm_json_int(ev, "rule.diff"),
	       khm_json_int(ev, "rule.abs"));
	EXPECT_EQ(0, strncmp(khm_json_str(ev, "comm") ?: "", comm,
			     strlen(comm)));
	EXPECT_LE(min, khm_json_num(ev, "value"));
	return ev;
}

/* A capture file of @pid for @metric ending in @ext that holds @what. */
static void rt_expect_capture(struct __test_metadata *_metadata, pid_t pid,
			      const char *metric, const char *ext,
			      const char *what)
{
	char name[256] = "";
	bool hit;

	hit = rt_files_hold(pid, metric, ext, what, 30000, name,
			    sizeof(name));
	TH_LOG("capture files of pid %d for %s: %s names %s", pid, metric,
	       hit ? name : "none", what);
	EXPECT_TRUE(hit);
}

/* stress-ng is stripped: its own frames show as offsets in its file */
#define RT_SNG_FRAME	"stress-ng+0x"

/*
 * stress-ng's pthread stressor, after 2 s of --backoff: from one thread
 * to bursts of up to 500 created and joined, the shipped threads rule
 * (min 64, twice the window) fires once.
 */
TEST_F_TIMEOUT(real, threads_burst, 90)
{
	char *argv[] = { "stress-ng", "--cpu", "1", "--cpu-load", "0",
			 "--pthread", "1", "--pthread-max", "500",
			 "--backoff", "2000000", "-t", "60s", NULL };
	struct json_object *events, *ev;
	pid_t pid;

	if (!rt_have("stress-ng"))
		SKIP(return, "no stress-ng in the VM (KHM_EXTRA_BINS)");
	ASSERT_LT(0, pid = rt_spawn(-1, argv));
	self->pids[self->npids++] = pid;
	EXPECT_TRUE(rt_wait_metric(&self->mon, "threads", 30000));
	/* and no second: a few windows of bursts more */
	ASSERT_EQ(0, kt_wait_passes(3 * RT_WINDOW, 30 * RT_DEADLINE_MS));
	ev = rt_one(_metadata, &self->mon, "threads", "stress-ng", 64,
		    &events);
	if (ev) {
		EXPECT_GE(khm_json_num(ev, "value") / 2, khm_json_num(ev, "avg"));
		EXPECT_EQ(64, khm_json_int(ev, "rule.min"));
		pid = khm_json_int(ev, "pid");
	}
	json_object_put(events);
	if (ev)
		rt_expect_capture(_metadata, pid, "threads", ".folded",
				  RT_SNG_FRAME);
}

/*
 * stress-ng's switch stressor, both ends pinned to one CPU, after 2 s of
 * --backoff: its pipe ping-pong takes the worker from no switches to
 * thousands a second. Emulated, that is about 4,000/s (12,000 when the
 * host is idle), under the shipped min of 10,000/s (a rate that costs
 * real CPU on hardware): the test lowers min to 1,000/s and keeps the
 * shipped 3x. One detection of the worker, for the jump. Its child,
 * forked after the backoff, has no quiet history: when the host's load
 * changes, its rate can triple as well, later; it is logged, not judged.
 */
TEST_F_TIMEOUT(real, ctxsw_ping_pong, 90)
{
	char *argv[] = { "stress-ng", "--cpu", "1", "--cpu-load", "0",
			 "--switch", "1", "--taskset", "1",
			 "--backoff", "2000000", "-t", "60s", NULL };
	struct json_object *events, *ev;
	char seen[2048];
	int late;
	pid_t pid;

	if (!rt_have("stress-ng"))
		SKIP(return, "no stress-ng in the VM (KHM_EXTRA_BINS)");
	ASSERT_EQ(0, kt_ctl("rule set ctxsw min 1000"));
	ASSERT_LT(0, pid = rt_spawn(-1, argv));
	self->pids[self->npids++] = pid;
	EXPECT_TRUE(rt_wait_metric(&self->mon, "ctxsw", 30000));
	ASSERT_EQ(0, kt_wait_passes(3 * RT_WINDOW, 30 * RT_DEADLINE_MS));
	events = kt_mon_events(&self->mon, "detection");
	ASSERT_NE(NULL, events);
	ev = rt_event(events, "ctxsw");
	ASSERT_NE(NULL, ev);
	pid = khm_json_int(ev, "pid");
	EXPECT_EQ(1, rt_events(events, "ctxsw", pid, 1000000, &late, seen,
			       sizeof(seen)));
	TH_LOG("detections: %s", seen);
	TH_LOG("ctxsw of %s %d: %.1f/s, window avg %.1f/s",
	       khm_json_str(ev, "comm") ?: "?", pid, khm_json_num(ev, "value"),
	       khm_json_num(ev, "avg"));
	EXPECT_EQ(0, strncmp(khm_json_str(ev, "comm") ?: "", "stress-ng", 9));
	EXPECT_LE(1000.0, khm_json_num(ev, "value"));
	EXPECT_GE(khm_json_num(ev, "value") / 3, khm_json_num(ev, "avg"));
	/* the worker, which slept through the backoff */
	EXPECT_LE(2000, (khm_json_int(ev, "time-ns") -
			 khm_json_int(ev, "start-ns")) / 1000000);
	json_object_put(events);
	rt_expect_capture(_metadata, pid, "ctxsw", ".folded", RT_SNG_FRAME);
}

/*
 * The VM's disk at RT_DISK: its drivers first where they are modules
 * (RT_HELPER/disk-NN-<name>.ko, in modprobe's order; an insmod that fails,
 * say crc32c-intel on a CPU without SSE 4.2, is logged: the mount says
 * whether what was needed is there).
 */
static int rt_disk_mount(struct __test_metadata *_metadata)
{
	long long end;
	char *err;
	size_t i;
	glob_t g;

	if (access("/sys/block/vda", F_OK) &&
	    !glob(RT_HELPER "/disk-*.ko", 0, NULL, &g)) {
		for (i = 0; i < g.gl_pathc; i++) {
			err = NULL;
			if (khm_exec(NULL, &err, "/bin/insmod %s", g.gl_pathv[i]))
				TH_LOG("insmod %s: %s", g.gl_pathv[i],
				       khm_oneline(err));
			free(err);
		}
		globfree(&g);
	}
	for (end = kt_now_ms() + 10000;
	     access(RT_DISK_DEV, F_OK) && kt_now_ms() < end;)
		kt_sleep_ms(50);
	if (access(RT_DISK_DEV, F_OK)) {
		TH_LOG("no %s: does the VM have its disk (run-vm.sh)?",
		       RT_DISK_DEV);
		return -1;
	}
	if (khm_mkdir_p(RT_DISK) ||
	    mount(RT_DISK_DEV, RT_DISK, "ext4", 0, NULL)) {
		TH_LOG("mount %s on %s: %s", RT_DISK_DEV, RT_DISK,
		       strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * @path: @pages pages, none of them zeros (ext4 would read a zero block
 * no more than a hole), written through, then out of the page cache: how
 * many of its pages are still resident after dropping caches, or -1.
 */
static int rt_disk_file(const char *path, int pages)
{
	long psz = sysconf(_SC_PAGESIZE);
	unsigned char *buf, *map, vec[4096];
	int fd, i, resident = 0;

	if (pages > (int)sizeof(vec))
		return -1;
	buf = malloc(psz);
	fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
	if (!buf || fd < 0)
		goto fail;
	for (i = 0; i < pages; i++) {
		memset(buf, 1 + i % 255, psz);
		if (write(fd, buf, psz) != psz)
			goto fail;
	}
	if (fsync(fd))
		goto fail;
	sync();
	if (rt_write("/proc/sys/vm/drop_caches", "1"))
		goto fail;
	map = mmap(NULL, pages * psz, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		goto fail;
	if (!mincore(map, pages * psz, vec))
		for (i = 0; i < pages; i++)
			resident += vec[i] & 1;
	else
		resident = -1;
	munmap(map, pages * psz);
	close(fd);
	free(buf);
	return resident;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return -1;
}

/* Field 12 of /proc/PID/stat, majflt; -1 if gone. */
static long long rt_majflt(pid_t pid)
{
	char path[64], buf[1024], *p;
	long long v;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (khm_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %lld",
			 &v) != 1)
		return -1;
	return v;
}

/* Reads completed on the VM's disk (/sys/block/vda/stat), -1 if none. */
static long long rt_disk_reads(void)
{
	char buf[256];
	long long v;

	if (khm_read_file("/sys/block/vda/stat", buf, sizeof(buf)) < 0 ||
	    sscanf(buf, "%lld", &v) != 1)
		return -1;
	return v;
}

/*
 * majflt, from the disk: a file on the VM's ext4 disk, read through a
 * mapping after its pages were dropped from the page cache, so that every
 * touch is a read from the virtio disk. perl maps it by syscall(9)
 * (MADV_RANDOM: no read-around, one major fault a page) and touches it a
 * page at a time by unpack("P"), 8 pages between 10 ms naps (800/s at
 * most), then drops its pages (MADV_DONTNEED, POSIX_FADV_DONTNEED), rests
 * 2 s and does it again. It starts unwatched, blocked opening a FIFO,
 * is moved into the watch, and let go once a window of its quiet samples
 * is in. The shipped rule (min 100/s, 3x) fires once, on the first pass;
 * the second pass jumps from a quiet window again and is suppressed: the
 * cooldown.
 */
#define RT_DISK_FILE	RT_DISK "/khm-majflt.dat"
#define RT_DISK_PAGES	1024
#define RT_GO		"/tmp/khm_majflt_go"

TEST_F_TIMEOUT(real, majflt_file_after_drop_caches, 120)
{
	char *argv[] = { "perl", "-e",
			 "open(G, '<', '" RT_GO "') or die; close G;"
			 "open(F, '<', '" RT_DISK_FILE "') or die;"
			 "$l = -s F; $n = $l >> 12;"
			 "$m = syscall(9, 0, $l, 1, 1, fileno(F), 0);"
			 "die \"mmap: $!\" if $m == -1;"
			 "syscall(28, $m, $l, 1) == 0 or die \"madvise: $!\";"
			 "for (;;) {"
			 " for ($p = 0; $p < $n; $p++) {"
			 "  $s += ord unpack('P1', pack('J', $m + ($p << 12)));"
			 "  select(undef, undef, undef, 0.01) if $p % 8 == 7;"
			 " }"
			 " syscall(28, $m, $l, 4);"
			 " syscall(221, fileno(F), 0, 0, 4);"
			 " sleep 2;"
			 "}",
			 NULL };
	long long end, maj0, maj1, rd0, rd1, s0, s1;
	struct json_object *events, *ev;
	char pidstr[16];
	int fd, resident;
	pid_t pid;

	if (!rt_have("perl"))
		SKIP(return, "no perl in the VM (KHM_EXTRA_BINS)");
	ASSERT_EQ(0, rt_disk_mount(_metadata));
	self->mounted = true;
	resident = rt_disk_file(RT_DISK_FILE, RT_DISK_PAGES);
	TH_LOG("%s: %d of %d pages in the page cache after drop_caches",
	       RT_DISK_FILE, resident, RT_DISK_PAGES);
	ASSERT_EQ(0, resident);
	unlink(RT_GO);
	ASSERT_EQ(0, mkfifo(RT_GO, 0600));
	pid = rt_spawn_in(RT_STAGE, -1, argv);
	ASSERT_LT(0, pid);
	self->pids[self->npids++] = pid;
	/* blocked in openat() of the FIFO */
	for (end = kt_now_ms() + 20000;
	     !rt_perl_in(pid, 257, 2) && kt_now_ms() < end;)
		kt_sleep_ms(20);
	ASSERT_TRUE(rt_perl_in(pid, 257, 2));
	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	ASSERT_EQ(0, rt_cg_write(RT_CG, "cgroup.procs", pidstr));
	/* a window of quiet samples, and the first that primes */
	ASSERT_EQ(0, kt_wait_passes(RT_WINDOW + 2, 30 * RT_DEADLINE_MS));
	EXPECT_EQ(0, rt_mon_count(&self->mon, "majflt"));
	maj0 = rt_majflt(pid);
	rd0 = rt_disk_reads();
	s0 = kt_status("suppressed");
	fd = open(RT_GO, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_TRUE(rt_wait_metric(&self->mon, "majflt", 30000));
	/* both passes done, and sampled */
	for (end = kt_now_ms() + 60000;
	     rt_majflt(pid) < maj0 + 2 * RT_DISK_PAGES && kt_now_ms() < end;)
		kt_sleep_ms(RT_POLL_MS);
	maj1 = rt_majflt(pid);
	ASSERT_LE(maj0 + 2 * RT_DISK_PAGES, maj1);
	ASSERT_EQ(0, kt_wait_passes(2, 30 * RT_DEADLINE_MS));
	rd1 = rt_disk_reads();
	s1 = kt_status("suppressed");
	TH_LOG("perl %d: majflt %lld -> %lld (/proc/PID/stat), reads of %s +%lld, suppressed +%lld",
	       pid, maj0, maj1, RT_DISK_DEV, rd1 - rd0, s1 - s0);
	/* each of them a read of the disk */
	EXPECT_LE(2 * RT_DISK_PAGES, rd1 - rd0);
	/* the fire's next samples, and the second pass, fell in the cooldown */
	EXPECT_LT(s0, s1);
	ev = rt_one(_metadata, &self->mon, "majflt", "perl", 100, &events);
	if (ev) {
		EXPECT_EQ(pid, khm_json_int(ev, "pid"));
		EXPECT_EQ(100, khm_json_int(ev, "rule.min"));
		EXPECT_EQ(200, khm_json_int(ev, "rule.diff"));
		EXPECT_GE(khm_json_num(ev, "value") / 3, khm_json_num(ev, "avg"));
		/* no more than perl's pace */
		EXPECT_GE(800.0 * 1.5, khm_json_num(ev, "value"));
	}
	json_object_put(events);
	unlink(RT_GO);
	if (!ev)
		return;
	/* where perl was when the rule fired */
	rt_expect_capture(_metadata, pid, "majflt", ".txt",
			  "Perl_runops_standard");
	/* and the profile of its page faults: unpack's reads */
	rt_expect_capture(_metadata, pid, "majflt", ".faults.folded",
			  "Perl_pp_unpack");
}

/*
 * A process blocked in the kernel: perl vforks by syscall(58), and while
 * the child sleeps 6 s the parent waits in the kernel for it to exit
 * (wait_for_vfork_done(): TASK_KILLABLE, "D" in ps) and resumes after.
 * The shipped dstate rule waits for 30 s in D (its ceiling); to stay
 * short the test lowers min to 1 s and the ceiling to 2 s, the same
 * comparisons: one detection, of the parent, with what it reads, and a
 * capture whose kernel stack is the vfork.
 */
TEST_F_TIMEOUT(real, dstate_vfork_parent, 90)
{
	char *argv[] = { "perl", "-e",
			 "if (syscall(58) == 0) { select(undef, undef, undef, 6); syscall(60, 0) } sleep 30",
			 NULL };
	struct json_object *events, *ev;
	char path[64], state[256];
	pid_t pid;

	if (!rt_have("perl"))
		SKIP(return, "no perl in the VM (KHM_EXTRA_BINS)");
	ASSERT_EQ(0, kt_ctl("rule set dstate min 1000 abs 2000"));
	ASSERT_LT(0, pid = rt_spawn(-1, argv));
	self->pids[self->npids++] = pid;
	EXPECT_TRUE(rt_wait_metric(&self->mon, "dstate", 20000));
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	khm_read_file(path, state, sizeof(state));
	TH_LOG("perl %d: %s", pid, state);
	ASSERT_EQ(0, kt_wait_passes(2 * RT_WINDOW, 30 * RT_DEADLINE_MS));
	ev = rt_one(_metadata, &self->mon, "dstate", "perl", 1000, &events);
	if (ev) {
		EXPECT_EQ(pid, khm_json_int(ev, "pid"));
		/* no more than it has been alive */
		EXPECT_GE((khm_json_int(ev, "time-ns") -
			   khm_json_int(ev, "start-ns")) / 1000000.0,
			  khm_json_num(ev, "value"));
	}
	json_object_put(events);
	/*
	 * Its kernel stack is where it waits; its user stack shows no
	 * further than libc's syscall(): the child ran on the same stack
	 * meanwhile and overwrote the frames above it.
	 */
	if (ev)
		rt_expect_capture(_metadata, pid, "dstate", ".txt",
				  "__do_sys_vfork");
}

/*
 * rss-pct is RSS against the tightest memory.max above the process, or
 * RAM. stress-ng's vm stressor keeps 48 MiB mapped and touched (its
 * oomable child does): under 3 % of the VM's RAM, quiet. memory.max set
 * to 80 MiB on its cgroup then makes the same RSS read over 60 %: the
 * shipped rss-pct rule (min 50, 1.25x) fires once, for that child.
 */
TEST_F_TIMEOUT(real, rss_pct_memory_max, 90)
{
	char *argv[] = { "stress-ng", "--vm", "1", "--vm-bytes", "48M",
			 "--vm-keep", "-t", "60s", NULL };
	struct json_object *events, *ev;
	pid_t pid, pids[16], big = 0;
	long long end;
	int i, n, kb = 0;

	if (!rt_have("stress-ng"))
		SKIP(return, "no stress-ng in the VM (KHM_EXTRA_BINS)");
	ASSERT_EQ(0, rt_cg_write(RT_CG, "memory.max", "max"));
	ASSERT_LT(0, pid = rt_spawn(-1, argv));
	self->pids[self->npids++] = pid;
	for (end = kt_now_ms() + 20000; !big && kt_now_ms() < end;) {
		n = rt_cg_pids(RT_CG, pids, 16);
		for (i = 0; i < n && !big; i++) {
			kb = khm_proc_status_kb(pids[i], "VmRSS");
			if (kb > 44 * 1024)
				big = pids[i];
		}
		if (!big)
			kt_sleep_ms(100);
	}
	ASSERT_NE(0, big);
	/* a window of its steady RSS against RAM */
	ASSERT_EQ(0, kt_wait_passes(RT_WINDOW + 2, 30 * RT_DEADLINE_MS));
	EXPECT_EQ(0, rt_mon_count(&self->mon, "rss-pct"));
	TH_LOG("pid %d: VmRSS %d kB; memory.max 80M", big, kb);
	ASSERT_EQ(0, rt_cg_write(RT_CG, "memory.max", "80M"));
	EXPECT_TRUE(rt_wait_metric(&self->mon, "rss-pct", 20000));
	ASSERT_EQ(0, kt_wait_passes(2 * RT_WINDOW, 30 * RT_DEADLINE_MS));
	ev = rt_one(_metadata, &self->mon, "rss-pct", "stress-ng", 50, &events);
	if (ev) {
		EXPECT_EQ(big, khm_json_int(ev, "pid"));
		/* its RSS over 80 MiB, as /proc says it */
		EXPECT_GT(10.0, fabs(100.0 * kb / (80 * 1024) -
				     khm_json_num(ev, "value")));
		EXPECT_GT(10.0, khm_json_num(ev, "avg"));
	}
	json_object_put(events);
	if (ev)
		rt_expect_capture(_metadata, big, "rss-pct", ".folded",
				  RT_SNG_FRAME);
	ASSERT_EQ(0, rt_cg_write(RT_CG, "memory.max", "max"));
}

/* kthreads: a config key like the others, on|off only */
TEST_F_TIMEOUT(real, kthreads_config, 90)
{
	struct json_object *c;

	ASSERT_EQ(0, kt_ctl("config set kthreads on"));
	c = khm_json("config show");
	ASSERT_NE(NULL, c);
	EXPECT_EQ(1, khm_json_int(c, "kthreads"));
	json_object_put(c);
	ASSERT_EQ(0, kt_ctl("config set kthreads off"));
	c = khm_json("config show");
	ASSERT_NE(NULL, c);
	EXPECT_EQ(0, khm_json_int(c, "kthreads"));
	json_object_put(c);
}

TEST_HARNESS_MAIN
