/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kt: what the sampling, detection, watch, scale and config selftests
 * share, on top of lib/khm.h: workloads started with their stdout on a
 * pipe, the module's state saved and put back, the tracked process list
 * searched, and `kholmesctl -j monitor` run in the background.
 *
 * Workloads are the programs of selftests/workloads/, installed beside the
 * test binaries (or in $KHM_WORKLOADS). Each says "waiting" when it idles
 * before its load and "ready" once the load is in place (see
 * workloads/wl.h).
 *
 * Helpers report what went wrong as TAP comments on stderr and return an
 * error; the test decides what that means.
 */
#ifndef _KT_H
#define _KT_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "khm.h"

#define KT_FN	static __attribute__((__unused__))

#define KT_CGROUP_ROOT	"/sys/fs/cgroup"

/* The debug kernel of `make kdebug` (KASAN, lockdep, kmemleak under TCG). */
KT_FN bool kt_debug_kernel(void)
{
	struct utsname u;

	return !uname(&u) && strstr(u.release, "-kdebug");
}

/*
 * How many times as long the debug kernel may take: a start's wait
 * (kt_wl_start()) and every test's bound. Those bounds (the harness's
 * 30 s, or TEST_F_TIMEOUT's) are meant for a test that hangs, sized for
 * the stock kernels; on the debug kernel the same work takes two to
 * three times as long alone and more beside other VMs (capture_test:
 * 258 s alone, 660 s with two more debug VMs on the two CPUs, where
 * cap.status_counts_captures hit its 30 s and
 * fl.resize_under_alloc_failures its 60 s). A test that really hangs is
 * still stopped, later; and each binary's KHM_TEST_TIMEOUT (1,200 s on
 * the debug kernel) bounds the whole.
 */
#define KT_DEBUG_SLOWER	4

#ifdef KSELFTEST_PRIO_XFAIL
/*
 * After every test has registered (the harness's constructors run at
 * KSELFTEST_PRIO_TEST and KSELFTEST_PRIO_XFAIL), before main(): scale
 * the bounds on the debug kernel.
 */
static void __attribute__((constructor(KSELFTEST_PRIO_XFAIL + 1)))
kt_debug_timeouts(void)
{
	struct __fixture_metadata *f;
	struct __test_metadata *t;

	if (!kt_debug_kernel())
		return;
	ksft_print_msg("kt: the debug kernel: every test's bound x%d\n",
		       KT_DEBUG_SLOWER);
	for (f = __fixture_list; f; f = f->next)
		for (t = f->tests; t; t = t->next)
			t->timeout *= KT_DEBUG_SLOWER;
}
#endif

KT_FN long long kt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

KT_FN void kt_sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * Run `kholmesctl <fmt...>`; on a non-zero exit, say so with its stderr.
 * Returns the exit code.
 */
KT_FN __attribute__((__format__(printf, 1, 2))) int kt_ctl(const char *fmt, ...)
{
	char *line, *err = NULL;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (ret < 0)
		return -1;
	ret = khm_run(NULL, &err, "%s", line);
	if (ret)
		fprintf(stderr, "# kt: kholmesctl %s: exit %d: %s\n", line, ret,
			khm_oneline(err));
	free(line);
	free(err);
	return ret;
}

/* The length of the array at @path in @obj, or -1 when it is none. */
KT_FN int kt_json_len(struct json_object *obj, const char *path)
{
	struct json_object *a = khm_json_get(obj, path);

	if (!a || !json_object_is_type(a, json_type_array))
		return -1;
	return json_object_array_length(a);
}

/* Item @i of the array at @path in @obj as a string (borrowed), or NULL. */
KT_FN const char *kt_json_item(struct json_object *obj, const char *path,
			       int i)
{
	struct json_object *a = khm_json_get(obj, path);

	if (i < 0 || i >= kt_json_len(obj, path))
		return NULL;
	return json_object_get_string(json_object_array_get_idx(a, i));
}

/* A number from debugfs kholmes/@name ("level_returns"); -1 if none. */
KT_FN long long kt_debugfs(const char *name)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), "/sys/kernel/debug/kholmes/%s", name);
	if (khm_read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	return atoll(buf);
}

/* A counter of `kholmesctl -j status` ("detections", "pass-ns.max"). */
KT_FN long long kt_status(const char *key)
{
	struct json_object *st = khm_json("status");
	long long v;

	if (!st)
		return LLONG_MIN;
	v = khm_json_int(st, key);
	json_object_put(st);
	return v;
}

/*
 * Wait until status @key has moved to at least @want, polling every
 * @poll_ms (each poll is a kholmesctl run). Its last value.
 */
KT_FN long long kt_wait_status(const char *key, long long want,
			       int timeout_ms, int poll_ms)
{
	long long end = kt_now_ms() + timeout_ms, v;

	do {
		v = kt_status(key);
		if (v >= want)
			return v;
		kt_sleep_ms(poll_ms);
	} while (kt_now_ms() < end);
	return v;
}

/* The thread groups the host has now: what the sampler tracks by default. */
KT_FN long long kt_count_procs(void)
{
	struct dirent *de;
	long long n = 0;
	DIR *d;

	d = opendir("/proc");
	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] >= '1' && de->d_name[0] <= '9';
	closedir(d);
	return n;
}

/*
 * With every process in scope: polls, up to 5 s, until the module's tracked
 * count is within 2 of the processes the host has (2 may come or go
 * between its last pass and the count, the kholmesctl that reads the
 * status among them: it is seen +1). A test that compared against its
 * own start would fail when kernel workers or other tests' leftovers exit
 * meanwhile. 0 when they agree; *tracked and *host hold the last reading.
 */
KT_FN int kt_tracked_is_host(long long *tracked, long long *host)
{
	long long end = kt_now_ms() + 5000;

	for (;;) {
		*tracked = kt_status("tracked");
		*host = kt_count_procs();
		if (*tracked >= 0 && *host >= 0 && llabs(*tracked - *host) <= 2)
			return 0;
		if (kt_now_ms() > end)
			return -1;
		kt_sleep_ms(250);
	}
}

/*
 * How long to sleep between two polls of the module: each poll runs
 * kholmesctl, which under emulation costs tens of ms of CPU, so polling
 * fast would take a vCPU away from the workload being measured. Half the
 * sampling interval, within 50..500 ms.
 */
KT_FN long kt_poll_ms(void)
{
	long long iv = kt_status("interval-ms");

	if (iv == LLONG_MIN || iv < 100)
		return 50;
	return iv > 1000 ? 500 : iv / 2;
}

/*
 * Wait until the sampler has made @n more passes; 0, or -1 on timeout.
 * Sleeps through most of it (n intervals) before it polls.
 */
KT_FN int kt_wait_passes(long long n, int timeout_ms)
{
	long long end = kt_now_ms() + timeout_ms;
	struct json_object *st = khm_json("status");
	long long start, now, iv, v;
	long poll;

	if (!st)
		return -1;
	start = khm_json_int(st, "passes");
	iv = khm_json_int(st, "interval-ms");
	json_object_put(st);
	if (start == LLONG_MIN || iv == LLONG_MIN)
		return -1;
	now = start;
	poll = iv < 100 ? 50 : iv > 1000 ? 500 : iv / 2;
	if (n * iv < timeout_ms)
		kt_sleep_ms(n * iv);
	do {
		v = kt_status("passes");
		if (v != LLONG_MIN)
			now = v;
		if (now >= start + n)
			return 0;
		kt_sleep_ms(poll);
	} while (kt_now_ms() < end);
	fprintf(stderr, "# kt: %lld passes in %d ms, waited for %lld\n",
		now - start, timeout_ms, n);
	return -1;
}

/* ------------------------------------------------------------------ */
/* workloads */

/*
 * In a child between fork and exec: be killed when @parent, the test that
 * started it, ends, however it ends. A test that fails an ASSERT may not
 * get to its teardown (see struct kt_saved), and a workload left behind
 * would load the machine under every test that follows.
 */
KT_FN void kt_die_with(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(126);
}

struct kt_wl {
	pid_t pid;
	int out;		/* read end of its stdout */
	pid_t owner;		/* the process that started it (its parent) */
	char buf[512];
	size_t len;
	char name[32];
};

#define KT_WL_INIT	{ .pid = -1, .out = -1 }

/* Where the workloads are: $KHM_WORKLOADS, or beside this binary. */
KT_FN const char *kt_wl_dir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("KHM_WORKLOADS");
	ssize_t n;
	char *slash;

	if (env && *env)
		return env;
	if (dir[0])
		return dir;
	n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	if (n <= 0) {
		snprintf(dir, sizeof(dir), "%s", KHM_SELFTESTS_DIR);
		return dir;
	}
	dir[n] = '\0';
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	return dir;
}

/*
 * Read its stdout until a line starting with @prefix, copied into @line
 * (if given). 0, or -1 when it ended or @timeout_ms passed first.
 */
KT_FN int kt_wl_wait(struct kt_wl *w, const char *prefix, int timeout_ms,
		     char *line, size_t len)
{
	long long end = kt_now_ms() + timeout_ms;
	struct pollfd pfd = { .fd = w->out, .events = POLLIN };
	size_t plen = strlen(prefix);
	char *nl;
	ssize_t n;
	int left;

	for (;;) {
		while ((nl = memchr(w->buf, '\n', w->len))) {
			size_t l = nl - w->buf;
			bool hit = l >= plen && !memcmp(w->buf, prefix, plen);

			*nl = '\0';
			if (hit && line && len) {
				size_t c = l < len - 1 ? l : len - 1;

				memcpy(line, w->buf, c);
				line[c] = '\0';
			}
			memmove(w->buf, nl + 1, w->len - l - 1);
			w->len -= l + 1;
			if (hit)
				return 0;
		}
		left = end - kt_now_ms();
		if (left <= 0 || w->len == sizeof(w->buf))
			break;
		if (poll(&pfd, 1, left) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (!pfd.revents)
			continue;
		n = read(w->out, w->buf + w->len, sizeof(w->buf) - w->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "# kt: %s (pid %d) ended before \"%s\"\n",
				w->name, w->pid, prefix);
			return -1;
		}
		w->len += n;
	}
	fprintf(stderr, "# kt: %s (pid %d) said no \"%s\" in %d ms\n", w->name,
		w->pid, prefix, timeout_ms);
	return -1;
}

/*
 * Start workload @name with the arguments that follow (NULL-terminated),
 * then wait up to @timeout_ms for a line starting with @until. 0, or -1
 * (and nothing left running). On the debug kernel the wait is
 * KT_DEBUG_SLOWER times as long: KASAN instruments every allocation of a
 * start (a thread's stack, its task, a fork's page tables). The wait ends
 * at the line, so a quick start costs nothing.
 */
KT_FN __attribute__((sentinel)) int kt_wl_start(struct kt_wl *w,
						const char *until,
						int timeout_ms,
						const char *name, ...)
{
	char path[PATH_MAX], *argv[32];
	pid_t pid, parent = getpid();
	int p[2], argc = 0;
	va_list ap;

	memset(w, 0, sizeof(*w));
	w->pid = -1;
	w->out = -1;
	snprintf(w->name, sizeof(w->name), "%s", name);
	if (snprintf(path, sizeof(path), "%s/%s", kt_wl_dir(), name) >=
	    (int)sizeof(path))
		return -1;
	argv[argc++] = (char *)name;
	va_start(ap, name);
	while (argc < 31 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		kt_die_with(parent);
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		dup2(p[1], STDOUT_FILENO);
		execv(path, argv);
		fprintf(stderr, "# kt: exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	w->pid = pid;
	w->out = p[0];
	w->owner = parent;
	if (kt_debug_kernel())
		timeout_ms *= KT_DEBUG_SLOWER;
	if (until && kt_wl_wait(w, until, timeout_ms, NULL, 0)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(w->out);
		w->pid = -1;
		w->out = -1;
		return -1;
	}
	return 0;
}

/*
 * Make @pid, a child this process forked and started by hand, a workload
 * of @w's, which kt_wl_stop() may then kill and reap (this process owns
 * it), with no output to read.
 */
KT_FN void kt_wl_adopt(struct kt_wl *w, pid_t pid)
{
	w->pid = pid;
	w->out = -1;
	w->owner = getpid();
}

/*
 * Kill and reap it, if it runs; harmless on a stopped or unset one.
 *
 * A FIXTURE_TEARDOWN_PARENT sees the test's struct kt_wl (the harness
 * shares the fixture) after the test's process, which started the
 * workload in the test body, has exited: the workload died with it
 * (kt_die_with()) and was reaped by init, its pid free for any process
 * (hard_churn wraps a 32,768 pid_max in seconds), and w->out is a
 * number of that process's, not of this one. Only the process that
 * started it, or that process's child (a test body stopping what its
 * fixture's setup started: the workload is alive or a zombie of the
 * setup's process, its pid still taken), may kill it; any other forgets
 * it.
 */
KT_FN void kt_wl_stop(struct kt_wl *w)
{
	if (w->owner && w->owner != getpid() && w->owner != getppid()) {
		w->pid = -1;
		w->out = -1;
		return;
	}
	if (w->pid > 0) {
		kill(w->pid, SIGKILL);
		while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (w->out >= 0)
		close(w->out);
	w->pid = -1;
	w->out = -1;
}

/* The state letter of /proc/PID/stat ('R', 'S', 'D', ...), or 0. */
KT_FN char kt_proc_state(pid_t pid)
{
	char path[64], buf[512], *paren;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (khm_read_file(path, buf, sizeof(buf)) <= 0)
		return 0;
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' ? paren[2] : 0;
}

/* ------------------------------------------------------------------ */
/* the tracked process list */

/* The entry of @pid in `ps -j` (a reference, to be put), or NULL. */
KT_FN struct json_object *kt_ps_find(pid_t pid)
{
	struct json_object *ps = khm_json("ps"), *e, *found = NULL;
	size_t i, n;

	if (!ps)
		return NULL;
	n = json_object_is_type(ps, json_type_array) ?
	    json_object_array_length(ps) : 0;
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(ps, i);
		if (khm_json_int(e, "pid") == pid) {
			found = json_object_get(e);
			break;
		}
	}
	json_object_put(ps);
	return found;
}

/*
 * Wait until @pid is listed with at least @samples samples; its entry (a
 * reference) or NULL on timeout.
 */
KT_FN struct json_object *kt_wait_proc(pid_t pid, int samples, int timeout_ms)
{
	long long end = kt_now_ms() + timeout_ms;
	struct json_object *e = NULL;
	long poll = kt_poll_ms();
	long long have = -1;

	do {
		json_object_put(e);
		e = kt_ps_find(pid);
		have = e ? khm_json_int(e, "samples") : -1;
		if (have >= samples)
			return e;
		kt_sleep_ms(poll);
	} while (kt_now_ms() < end);
	fprintf(stderr, "# kt: pid %d has %lld samples after %d ms, waited for %d\n",
		(int)pid, have, timeout_ms, samples);
	json_object_put(e);
	return NULL;
}

/* The pids `ps -j` lists, sorted, in @pids (at most @max); how many, or -1. */
KT_FN int kt_ps_pids(pid_t *pids, int max)
{
	struct json_object *ps = khm_json("ps");
	int i, j, n;

	if (!ps)
		return -1;
	n = json_object_array_length(ps);
	if (n > max)
		n = max;
	for (i = 0; i < n; i++)
		pids[i] = khm_json_int(json_object_array_get_idx(ps, i), "pid");
	json_object_put(ps);
	for (i = 1; i < n; i++) {
		pid_t p = pids[i];

		for (j = i; j > 0 && pids[j - 1] > p; j--)
			pids[j] = pids[j - 1];
		pids[j] = p;
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* configuration, rules and watch scope: saved in setup, put back after */

struct kt_state {
	struct json_object *config;
	struct json_object *rules;
	struct json_object *watch;
};

/* One `kholmesctl -j save`: the three parts a reference each. */
KT_FN int kt_state_save(struct kt_state *s)
{
	struct json_object *all = khm_json("save");

	s->config = json_object_get(khm_json_get(all, "config"));
	s->rules = json_object_get(khm_json_get(all, "rules"));
	s->watch = json_object_get(khm_json_get(all, "watch"));
	json_object_put(all);
	return s->config && s->rules && s->watch ? 0 : -1;
}

/* A `rule show` entry @r as the words after `rule set`, in @buf. */
KT_FN const char *kt_rule_words(char *buf, size_t len, struct json_object *r)
{
	snprintf(buf, len, "%s min %lld diff %lld abs %lld cooldown %lld %s",
		 khm_json_str(r, "metric") ?: "?", khm_json_int(r, "min"),
		 khm_json_int(r, "diff"), khm_json_int(r, "abs"),
		 khm_json_int(r, "cooldown"),
		 khm_json_int(r, "enabled") == 1 ? "on" : "off");
	return buf;
}

KT_FN int kt_rule_put(struct json_object *r)
{
	char words[160];

	return kt_ctl("rule set %s", kt_rule_words(words, sizeof(words), r));
}

/*
 * A `config show` member as the words of `config set` (" KEY VALUE"), in
 * @buf; NULL for a value that is neither a switch nor a number.
 */
KT_FN const char *kt_config_words(char *buf, size_t len, const char *key,
				  struct json_object *val)
{
	if (json_object_is_type(val, json_type_boolean))
		snprintf(buf, len, " %s %s", key,
			 json_object_get_boolean(val) ? "on" : "off");
	else if (json_object_is_type(val, json_type_int))
		snprintf(buf, len, " %s %lld", key,
			 (long long)json_object_get_int64(val));
	else
		return NULL;
	return buf;
}

static const char * const kt_watch_kinds[][2] = {
	{ "pids", "pid" }, { "comms", "comm" }, { "cgroups", "cgroup" },
};

/* Whether the `watch show` object @w has entry @val of kind @k. */
KT_FN bool kt_watch_has(struct json_object *w, size_t k, const char *val)
{
	struct json_object *a = khm_json_get(w, kt_watch_kinds[k][0]);
	size_t i, n = a ? json_object_array_length(a) : 0;

	for (i = 0; i < n; i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(a, i)),
			    val))
			return true;
	return false;
}

/*
 * One `kholmesctl apply` of @config (a `config show` object: every member),
 * @rules (a `rule show` array) and the scope @watch (a `watch show`
 * object), each left out when NULL; the file's watch lines are the whole
 * scope whatever it holds. One run of the controller, and one request the
 * module takes whole or not at all, where putting back member by member
 * took a run for each show, each set and each watch entry (half of the
 * ~2,000 runs of a 6.12 suite part, 100 ms each under TCG). -1, changing
 * nothing, when a value cannot be a line of the file or the module
 * refuses it (a watched pid that has exited): the caller then goes member
 * by member.
 */
KT_FN int kt_apply(struct json_object *config, struct json_object *rules,
		   struct json_object *watch)
{
	char path[] = "/tmp/kt-apply.XXXXXX";
	char words[160];
	size_t k, i, n;
	char *err = NULL;
	int fd, ret = -1;
	FILE *f;

	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(path);
		return -1;
	}
	if (config) {
		fputs("config", f);
		json_object_object_foreach(config, key, val) {
			if (!kt_config_words(words, sizeof(words), key, val))
				goto out;
			fputs(words, f);
		}
		fputc('\n', f);
	}
	n = rules ? json_object_array_length(rules) : 0;
	for (i = 0; i < n; i++)
		fprintf(f, "rule %s\n", kt_rule_words(words, sizeof(words),
			json_object_array_get_idx(rules, i)));
	for (k = 0; watch && k < 3; k++) {
		struct json_object *a = khm_json_get(watch, kt_watch_kinds[k][0]);

		n = a ? json_object_array_length(a) : 0;
		for (i = 0; i < n; i++) {
			const char *v = json_object_get_string(
				json_object_array_get_idx(a, i));

			if (!*v || strpbrk(v, " \t\n#"))
				goto out;
			fprintf(f, "watch %s %s\n", kt_watch_kinds[k][1], v);
		}
	}
	if (fflush(f))
		goto out;
	ret = khm_run(NULL, &err, "apply %s", path) ? -1 : 0;
	free(err);
out:
	fclose(f);
	unlink(path);
	return ret;
}

/*
 * Delete every entry of the module's scope that @keep (a `watch show`
 * object, or NULL for none) does not have. 0, or -1.
 */
KT_FN int kt_watch_prune(struct json_object *keep)
{
	struct json_object *now = khm_json("watch show");
	int ret = now ? 0 : -1;
	size_t k, i;

	for (k = 0; now && k < 3; k++) {
		struct json_object *a = khm_json_get(now, kt_watch_kinds[k][0]);
		size_t n = a ? json_object_array_length(a) : 0;

		for (i = 0; i < n; i++) {
			const char *v = json_object_get_string(
				json_object_array_get_idx(a, i));

			if (keep && kt_watch_has(keep, k, v))
				continue;
			if (kt_ctl("watch del %s %s", kt_watch_kinds[k][1], v))
				ret = -1;
		}
	}
	json_object_put(now);
	return ret;
}

/*
 * Put back the scope @w. An empty one is `watch clear`; any other is
 * reached by adding first and deleting after, so the module never watches
 * every process in between (a kernel thread's cpu spike then, with a rule
 * on, would start a profile that lands in the next test's queue).
 */
KT_FN int kt_watch_put(struct json_object *w)
{
	bool empty = true;
	int ret = 0;
	size_t k, i;

	for (k = 0; k < 3; k++) {
		struct json_object *a = khm_json_get(w, kt_watch_kinds[k][0]);
		size_t n = a ? json_object_array_length(a) : 0;

		for (i = 0; i < n; i++) {
			const char *v = json_object_get_string(
				json_object_array_get_idx(a, i));
			char *err = NULL;

			empty = false;
			/* present already, or a watched pid that has exited */
			if (khm_run(NULL, &err, "watch add %s %s",
				    kt_watch_kinds[k][1], v) &&
			    !strstr(err ?: "", "already") && k != 0) {
				fprintf(stderr, "# kt: watch add %s %s: %s\n",
					kt_watch_kinds[k][1], v,
					khm_oneline(err));
				ret = -1;
			}
			free(err);
		}
	}
	if (empty)
		return kt_ctl("watch clear") ? -1 : 0;
	return kt_watch_prune(w) ? -1 : ret;
}

/*
 * A comm no process has: with it in the scope the module watches nothing
 * but what a test adds (`watch add pid` of its own workloads).
 */
#define KT_WATCH_NONE	"khm-nothing"

/*
 * Scope the module to nothing (KT_WATCH_NONE alone), never passing through
 * an empty scope, which means every process. Tests that arm a rule or
 * assert on the queue or on profiles call this first, then add their own
 * workloads: a kernel thread's cpu spike or another test's leftover can
 * then neither be detected nor start a profile. 0, or -1.
 */
KT_FN int kt_watch_none(void)
{
	struct json_object *only = json_tokener_parse(
		"{\"comms\":[\"" KT_WATCH_NONE "\"]}");
	char *err = NULL;
	int ret;

	/* in one step where the module takes it; else add, then prune */
	ret = kt_apply(NULL, NULL, only);
	if (ret) {
		ret = khm_run(NULL, &err, "watch add comm " KT_WATCH_NONE);
		if (ret && !strstr(err ?: "", "already")) {
			fprintf(stderr, "# kt: watch add comm %s: exit %d: %s\n",
				KT_WATCH_NONE, ret, khm_oneline(err));
			ret = -1;
		} else {
			ret = kt_watch_prune(only);
		}
		free(err);
	}
	json_object_put(only);
	return ret;
}

/* The module's scope: only the pids given (ending with 0). 0, or -1. */
KT_FN int kt_watch_only(pid_t pid, ...)
{
	va_list ap;
	int ret;

	ret = kt_watch_none();
	va_start(ap, pid);
	for (; !ret && pid > 0; pid = va_arg(ap, pid_t))
		ret = kt_ctl("watch add pid %d", (int)pid) ? -1 : 0;
	va_end(ap);
	return ret;
}

/*
 * Put back every member of a `config show` object that differs now, in one
 * `config set` (the kernel takes all or none). 0, or -1.
 */
KT_FN int kt_config_put(struct json_object *saved)
{
	struct json_object *now = khm_json("config show");
	char cmd[1024] = "config set";
	size_t len = strlen(cmd);
	int ret = 0;

	if (!now)
		return -1;
	json_object_object_foreach(saved, key, val) {
		struct json_object *cur = khm_json_get(now, key);
		char words[96];

		if (cur && json_object_equal(cur, val))
			continue;
		if (!kt_config_words(words, sizeof(words), key, val)) {
			ret = -1;
			break;
		}
		len += snprintf(cmd + len, sizeof(cmd) - len, "%s", words);
		if (len >= sizeof(cmd)) {
			ret = -1;
			break;
		}
	}
	json_object_put(now);
	if (!ret && strcmp(cmd, "config set"))
		ret = kt_ctl("%s", cmd) ? -1 : 0;
	return ret;
}

/*
 * Put back what kt_state_save() found, touching only what differs, and
 * free it. 0, or -1 when something could not be put back.
 */
KT_FN int kt_state_restore(struct kt_state *s)
{
	struct json_object *now;
	int ret = 0;
	size_t i, n;

	if (s->config && s->rules && s->watch &&
	    !kt_apply(s->config, s->rules, s->watch))
		goto out;
	if (s->config && kt_config_put(s->config))
		ret = -1;
	if (s->rules) {
		now = khm_json("rule show");
		n = json_object_array_length(s->rules);
		for (i = 0; i < n; i++) {
			struct json_object *r = json_object_array_get_idx(s->rules, i);
			struct json_object *c = now && i < json_object_array_length(now) ?
				json_object_array_get_idx(now, i) : NULL;

			if (c && json_object_equal(c, r))
				continue;
			if (kt_rule_put(r))
				ret = -1;
		}
		json_object_put(now);
	}
	if (s->watch) {
		now = khm_json("watch show");
		if (!now || !json_object_equal(now, s->watch))
			if (kt_watch_put(s->watch))
				ret = -1;
		json_object_put(now);
	}
out:
	json_object_put(s->config);
	json_object_put(s->rules);
	json_object_put(s->watch);
	memset(s, 0, sizeof(*s));
	return ret;
}

/*
 * The same state as text, for a fixture whose teardown runs in the parent
 * (FIXTURE_TEARDOWN_PARENT), where only the fixture's own (shared) memory
 * is valid, not what setup allocated.
 *
 * Why the parent: the 6.12 harness, built with -O2, skips FIXTURE_TEARDOWN
 * when an ASSERT fails in the test body. Its wrapper forks, and after the
 * failing ASSERT longjmp()s back, the local `child` it tests to know which
 * side of the fork it is on may hold its value from before the fork (1, not
 * 0): the test process then takes itself for the parent, skips the teardown
 * and abort()s. A teardown in the parent runs either way.
 */
struct kt_saved {
	char config[1024];
	char rules[4096];
	char watch[4096];
};

KT_FN int kt_saved_copy(char *dst, size_t len, struct json_object *o)
{
	const char *t = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
	size_t n = t ? strlen(t) : len;

	if (n >= len)
		return -1;
	memcpy(dst, t, n + 1);
	return 0;
}

KT_FN int kt_saved_take(struct kt_saved *sv)
{
	struct kt_state s;
	int ret;

	memset(sv, 0, sizeof(*sv));
	ret = kt_state_save(&s);
	if (!ret)
		ret = kt_saved_copy(sv->config, sizeof(sv->config), s.config) ||
		      kt_saved_copy(sv->rules, sizeof(sv->rules), s.rules) ||
		      kt_saved_copy(sv->watch, sizeof(sv->watch), s.watch) ? -1 : 0;
	json_object_put(s.config);
	json_object_put(s.rules);
	json_object_put(s.watch);
	if (ret)
		memset(sv, 0, sizeof(*sv));
	return ret;
}

/* Put back what kt_saved_take() found; nothing if it found nothing. */
KT_FN int kt_saved_put(struct kt_saved *sv)
{
	struct kt_state s = {
		.config = sv->config[0] ? json_tokener_parse(sv->config) : NULL,
		.rules = sv->rules[0] ? json_tokener_parse(sv->rules) : NULL,
		.watch = sv->watch[0] ? json_tokener_parse(sv->watch) : NULL,
	};

	return kt_state_restore(&s);
}

/* One part of it ("config", "rules", "watch") parsed (a reference). */
KT_FN struct json_object *kt_saved_get(const struct kt_saved *sv,
				       const char *part)
{
	const char *t = !strcmp(part, "config") ? sv->config :
			!strcmp(part, "rules") ? sv->rules : sv->watch;

	return t[0] ? json_tokener_parse(t) : NULL;
}

/*
 * Every rule off but @metric's, which is set to @settings ("min 50 diff
 * 100 abs 0 cooldown 60") and on: a detection test then counts only its
 * own metric.
 */
KT_FN int kt_rules_only(const char *metric, const char *settings)
{
	struct json_object *rules = khm_json("rule show");
	size_t i, n;
	int ret = 0;

	if (!rules)
		return -1;
	n = json_object_array_length(rules);
	for (i = 0; i < n; i++) {
		const char *m = khm_json_str(json_object_array_get_idx(rules, i),
					     "metric");

		if (!m)
			ret = -1;
		else if (!strcmp(m, metric))
			ret |= kt_ctl("rule set %s %s on", m, settings);
		else
			ret |= kt_ctl("rule set %s off", m);
	}
	json_object_put(rules);
	return ret ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* kholmesctl -j monitor in the background, its stdout in a file */

struct kt_mon {
	pid_t pid;
	char path[64];
};

#define KT_MON_INIT	{ .pid = -1 }

/*
 * Whether a generic netlink socket of @pid has joined a multicast group:
 * /proc/net/netlink shows each socket's port id (libnl: the pid in the
 * low 22 bits) and its first 32 groups.
 */
KT_FN bool kt_nl_subscribed(pid_t pid)
{
	unsigned long long sk;
	unsigned int eth, port, groups;
	char line[256];
	bool found = false;
	FILE *f;

	f = fopen("/proc/net/netlink", "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %u %u %x", &sk, &eth, &port, &groups) != 4)
			continue;
		if (eth == 16 && (port & 0x3fffff) == (unsigned int)pid &&
		    groups) {
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

/* 0 once it listens, -1 if it could not be started. */
KT_FN int kt_mon_start(struct kt_mon *m)
{
	static int seq;
	char *const argv[] = { (char *)khm_ctl_path(), "-j", "monitor", NULL };
	pid_t pid, parent = getpid();
	int fd, status = 0;
	long long end;

	m->pid = -1;
	snprintf(m->path, sizeof(m->path), "/tmp/kt-monitor.%d.%d",
		 (int)getpid(), seq++);
	fd = open(m->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	fflush(stdout);
	fflush(stderr);
	/* @m may be shared with other processes: the child must not write it */
	pid = fork();
	if (pid < 0) {
		close(fd);
		return -1;
	}
	if (pid == 0) {
		kt_die_with(parent);
		dup2(fd, STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	m->pid = pid;
	close(fd);
	end = kt_now_ms() + 5000;
	while (!kt_nl_subscribed(m->pid)) {
		if (waitpid(m->pid, &status, WNOHANG) == m->pid) {
			fprintf(stderr, "# kt: kholmesctl monitor ended at once, status 0x%x\n",
				status);
			m->pid = -1;
			return -1;
		}
		if (kt_now_ms() > end) {
			/* a group past the first 32 does not show: go on */
			fprintf(stderr, "# kt: monitor not seen subscribed, going on\n");
			break;
		}
		kt_sleep_ms(10);
	}
	return 0;
}

/*
 * Stop it (SIGTERM, as the contract says) and return every line it
 * printed, parsed, as a JSON array (a reference), or NULL when it did not
 * exit 0 or printed something that is not JSON.
 */
KT_FN struct json_object *kt_mon_stop(struct kt_mon *m)
{
	struct json_object *events = NULL, *ev;
	int status = 0;
	char line[4096];
	FILE *f;

	if (m->pid <= 0)
		return NULL;
	kill(m->pid, SIGTERM);
	while (waitpid(m->pid, &status, 0) < 0 && errno == EINTR)
		;
	m->pid = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "# kt: kholmesctl monitor ended with status 0x%x\n",
			status);
		goto out;
	}
	f = fopen(m->path, "re");
	if (!f)
		goto out;
	events = json_object_new_array();
	while (fgets(line, sizeof(line), f)) {
		ev = json_tokener_parse(line);
		if (!ev) {
			fprintf(stderr, "# kt: monitor printed non-JSON: %s",
				line);
			json_object_put(events);
			events = NULL;
			break;
		}
		json_object_array_add(events, ev);
	}
	fclose(f);
out:
	unlink(m->path);
	return events;
}

/*
 * kt_mon_stop(), keeping only the events whose "event" is @type (the
 * monitor also reports what later features add, such as captures).
 */
KT_FN struct json_object *kt_mon_events(struct kt_mon *m, const char *type)
{
	struct json_object *all = kt_mon_stop(m), *some, *ev;
	const char *t;
	size_t i, n;

	if (!all)
		return NULL;
	some = json_object_new_array();
	n = json_object_array_length(all);
	for (i = 0; some && i < n; i++) {
		ev = json_object_array_get_idx(all, i);
		t = khm_json_str(ev, "event");
		if (t && !strcmp(t, type))
			json_object_array_add(some, json_object_get(ev));
	}
	json_object_put(all);
	return some;
}

/* For teardown: stop it if a test left it running. */
KT_FN void kt_mon_kill(struct kt_mon *m)
{
	if (m->pid > 0) {
		kill(m->pid, SIGKILL);
		waitpid(m->pid, NULL, 0);
		unlink(m->path);
	}
	m->pid = -1;
}

/*
 * KT_FILES_TEST(root): the last fixture of a test binary (the harness runs
 * fixtures in the order they are defined, global TEST()s first), over every
 * file its tests wrote under root. Each .json parses (json-c, exactly one
 * value); no .txt, .json or .folded holds a raw kernel address; no
 * temporary file was left behind; and there was something to check.
 */
#define KT_FILES_TEST(root)						\
FIXTURE(files) {							\
	int unused;							\
};									\
FIXTURE_SETUP(files)							\
{									\
}									\
FIXTURE_TEARDOWN(files)							\
{									\
}									\
TEST_F(files, every_file_valid)						\
{									\
	struct khm_tree_stats st;					\
	int problems;							\
									\
	/* the checker itself, on what it must and must not call one */ \
	ASSERT_NE(NULL, khm_find_kaddr("do_x+0x1/0x2 0xffffffff81234567")); \
	ASSERT_NE(NULL, khm_find_kaddr("\"sp\":\"ffff888003a4b000\"")); \
	ASSERT_NE(NULL, khm_find_kaddr("[18446744071562067968]"));	\
	ASSERT_EQ(NULL, khm_find_kaddr("rax 0xffffffffffffffda"));	\
	ASSERT_EQ(NULL, khm_find_kaddr("0x00007ffd12345678 0x401234")); \
	ASSERT_EQ(NULL,							\
		  khm_find_kaddr("ffff0123456789abcdef0123456789abcdef0123")); \
									\
	problems = khm_check_tree(root, &st);				\
	TH_LOG("%d files, %d .json: %d not JSON, %d with a kernel address, %d temporary", \
	       st.files, st.json, st.bad_json, st.kaddr, st.tmp);	\
	EXPECT_EQ(0, problems);						\
	EXPECT_LT(0, st.json);						\
}

#endif /* _KT_H */
