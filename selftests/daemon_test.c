// SPDX-License-Identifier: GPL-2.0
/*
 * `kholmesctl daemon` (issue 4): it writes every queued capture to its
 * directory, on start and on each capture event, and only then
 * acknowledges it, so that:
 *
 *  - killed with SIGKILL at random moments, ten times, while captures keep
 *    coming, then run once more to the end: every capture id the kernel
 *    gave is on disk exactly once (.txt, .json, .folded), no temporary file
 *    is left, nothing was dropped and the queue is empty;
 *  - captures queued while it was down, some of them dropped by a full
 *    queue, are delivered when it starts: the newest max-captures;
 *  - a directory it cannot write keeps the capture queued (nothing
 *    acknowledged) and is retried until it can;
 *  - --exec runs with the path of each report;
 *  - --max-files keeps the newest captures' files;
 *  - SIGTERM stops it with exit status 0;
 *  - last, every file this binary's tests wrote parses (.json) and holds
 *    no raw kernel address.
 *
 * Files go to DMN_ROOT/<test>/, the daemon's log beside it
 * (DMN_ROOT/<test>.log). Automatic captures are off and the module
 * watches nothing, so that only the tests' own captures are queued.
 */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "kholmes.h"
#include "kt.h"
#include "ctld.h"

#define DMN_ROOT	"/tmp/khm-daemon"
#define DMN_WAIT_MS	15000	/* a capture taken and queued, under TCG on a busy host */
#define DMN_DRAIN_MS	30000	/* the daemon writes out a queue */
#define DMN_KILLS	10
#define DMN_MAX_IDS	256

static size_t array_len(struct json_object *arr)
{
	return arr && json_object_is_type(arr, json_type_array) ?
	       json_object_array_length(arr) : 0;
}

static const char *json_str(struct json_object *obj)
{
	return obj ? json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN) :
		     "(none)";
}

/* ------------------------------------------------------------------ */
/* the daemon */

/*
 * Start `kholmesctl daemon --dir DIR` with the extra arguments (NULL
 * terminated), its stdout and stderr appended to @log. Its pid, once it
 * listens for capture events (or after 5 s: a group it joined past the
 * first 32 does not show in /proc/net/netlink), or -1 if it died.
 */
static __attribute__((sentinel)) pid_t daemon_start(const char *dir,
						    const char *log, ...)
{
	char *argv[16];
	int argc = 0, fd;
	long long end;
	va_list ap;
	pid_t pid;

	argv[argc++] = (char *)khm_ctl_path();
	argv[argc++] = "daemon";
	argv[argc++] = "--dir";
	argv[argc++] = (char *)dir;
	va_start(ap, log);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;

	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(fd);
		return -1;
	}
	if (!pid) {
		int null = open("/dev/null", O_RDONLY);

		if (null >= 0)
			dup2(null, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd);
	end = kt_now_ms() + 5000;
	while (!kt_nl_subscribed(pid) && kt_now_ms() < end) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			fprintf(stderr, "# daemon --dir %s exited at once (see %s)\n",
				dir, log);
			return -1;
		}
		kt_sleep_ms(10);
	}
	return pid;
}

/*
 * SIGTERM it and wait up to 10 s: its wait status, or -1 if it did not
 * stop (it is then killed).
 */
static int daemon_term(pid_t pid)
{
	long long end = kt_now_ms() + 10000;
	int status;

	kill(pid, SIGTERM);
	do {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		kt_sleep_ms(20);
	} while (kt_now_ms() < end);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static void daemon_kill(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = -1;
}

/* ------------------------------------------------------------------ */

FIXTURE(dmn) {
	struct kt_state state;
	struct json_object *config;
	struct kt_wl wl;
	pid_t daemon;
	pid_t producer;
	char dir[PATH_MAX];
	char log[PATH_MAX];
	bool mounted;
	long long quiet;	/* since when automatic captures are off */
};

FIXTURE_SETUP(dmn)
{
	char drain[PATH_MAX + 16];

	self->wl = (struct kt_wl)KT_WL_INIT;
	self->daemon = self->producer = -1;
	ASSERT_EQ(0, kt_state_save(&self->state));
	json_object_put(self->state.config);
	self->state.config = NULL;
	self->config = khm_config_save();
	ASSERT_NE(NULL, self->config);
	ASSERT_EQ(0, kt_ctl("config set capture-rate 0 max-threads 64 max-captures 64 max-queue-kb 16384"));
	/*
	 * Capture-rate 0 stops automatic captures, not the profiles that
	 * detections start: the module watches nothing, so that no
	 * detection elsewhere (a kernel thread's cpu spike) queues one.
	 */
	ASSERT_EQ(0, kt_watch_none());
	self->quiet = kt_now_ms();
	snprintf(self->dir, sizeof(self->dir), DMN_ROOT "/%s", _metadata->name);
	snprintf(self->log, sizeof(self->log), DMN_ROOT "/%s.log",
		 _metadata->name);
	ASSERT_EQ(0, khm_mkdir_p(self->dir));
	/*
	 * What earlier tests and test binaries left queued. More may come:
	 * the tests that need the queue to themselves settle first.
	 */
	snprintf(drain, sizeof(drain), DMN_ROOT "/%s.drain", _metadata->name);
	ASSERT_EQ(0, khm_mkdir_p(drain));
	ASSERT_EQ(0, khm_pull(drain));
}

/* The queue to ourselves: no profile of an earlier detection comes in. */
static int settle(FIXTURE_DATA(dmn) *self, const char *name)
{
	char dir[PATH_MAX + 16];

	snprintf(dir, sizeof(dir), DMN_ROOT "/%s.settle", name);
	return khm_captures_settle(self->quiet, dir);
}

FIXTURE_TEARDOWN(dmn)
{
	char drain[PATH_MAX + 16];

	daemon_kill(&self->daemon);
	if (self->producer > 0) {
		kill(self->producer, SIGKILL);
		waitpid(self->producer, NULL, 0);
	}
	kt_wl_stop(&self->wl);
	if (self->mounted)
		umount2(self->dir, MNT_DETACH);
	snprintf(drain, sizeof(drain), DMN_ROOT "/%s.drain", _metadata->name);
	EXPECT_EQ(0, khm_pull(drain));
	EXPECT_EQ(0, kt_state_restore(&self->state));
	EXPECT_EQ(0, khm_config_restore(self->config));
	json_object_put(self->config);
}

/* The producer: a capture of @pid every 150-250 ms until SIGTERM. */
static volatile sig_atomic_t producer_stop;

static void producer_on_term(int sig)
{
	(void)sig;
	producer_stop = 1;
}

static pid_t producer_start(pid_t target, const char *ids_path)
{
	pid_t pid;
	int fd;

	fd = open(ids_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
		  0644);
	if (fd < 0)
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid) {
		close(fd);
		return pid;
	}
	signal(SIGTERM, producer_on_term);
	srand(getpid());
	while (!producer_stop) {
		long long id = khm_capture(target, NULL);
		char line[32];
		int n;

		/* one write per id: the file never holds half a line */
		if (id > 0) {
			n = snprintf(line, sizeof(line), "%lld\n", id);
			if (write(fd, line, n) != n)
				_exit(1);
		}
		kt_sleep_ms(150 + rand() % 100);
	}
	_exit(0);
}

static int count_str(const char *text, const char *what)
{
	int n = 0;

	while ((text = strstr(text, what))) {
		n++;
		text += strlen(what);
	}
	return n;
}

static int read_ids(const char *path, long long *ids, int max)
{
	FILE *f = fopen(path, "re");
	long long id;
	int n = 0;

	if (!f)
		return -1;
	while (n < max && fscanf(f, "%lld", &id) == 1)
		ids[n++] = id;
	fclose(f);
	return n;
}

/*
 * Issue 4: "the daemon killed with SIGKILL in a loop while captures are
 * produced: every capture id the kernel announced is on disk exactly once
 * at the end, no temp files remain".
 */
TEST_F_TIMEOUT(dmn, sigkill_loop_loses_nothing, 180)
{
	static long long ids[DMN_MAX_IDS], disk[DMN_MAX_IDS + 16];
	static const char * const exts[] = { ".txt", ".json", ".folded" };
	long long d0, f0, t0;
	char ids_path[PATH_MAX + 8];
	struct khm_tree_stats st;
	struct json_object *list;
	int i, n, nd, status, lived = 0;
	char *log;
	size_t e;

	ASSERT_EQ(0, settle(self, _metadata->name));
	ASSERT_EQ(0, kt_ctl("config set max-captures %d", DMN_MAX_IDS));
	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 10000, "sleeper", NULL));
	d0 = kt_status("captures-dropped");
	f0 = kt_status("captures-failed");
	ASSERT_LE(0, d0);
	ASSERT_LE(0, f0);
	snprintf(ids_path, sizeof(ids_path), "%s.ids", self->dir);
	self->producer = producer_start(self->wl.pid, ids_path);
	ASSERT_LT(0, self->producer);
	srand(getpid());

	for (i = 0; i < DMN_KILLS; i++) {
		int ms = 50 + rand() % 800;

		t0 = kt_now_ms();
		self->daemon = daemon_start(self->dir, self->log, NULL);
		ASSERT_LT(0, self->daemon) ctld_log_tail(self->log);
		kt_sleep_ms(ms);
		lived += kt_now_ms() - t0;
		daemon_kill(&self->daemon);
		/* and sometimes down for a while, captures piling up */
		if (i % 3 == 1)
			kt_sleep_ms(300);
	}
	kill(self->producer, SIGTERM);
	ASSERT_EQ(self->producer, waitpid(self->producer, &status, 0));
	self->producer = -1;
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));

	n = read_ids(ids_path, ids, DMN_MAX_IDS);
	ASSERT_LT(0, n);
	TH_LOG("%d captures while the daemon was killed %d times (alive %d ms in all)",
	       n, DMN_KILLS, lived);

	self->daemon = daemon_start(self->dir, self->log, NULL);
	ASSERT_LT(0, self->daemon);
	EXPECT_TRUE(ctld_wait_delivered(self->dir, ids, n, DMN_DRAIN_MS))
		ctld_log_tail(self->log);
	status = daemon_term(self->daemon);
	self->daemon = -1;
	EXPECT_TRUE(status != -1 && WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("daemon after SIGTERM: status 0x%x", status);

	for (e = 0; e < sizeof(exts) / sizeof(exts[0]); e++) {
		int j = 0, k;

		nd = khm_capture_ids(self->dir, exts[e], disk, DMN_MAX_IDS + 16);
		EXPECT_EQ(n, nd) TH_LOG("%d ids announced, %d %s files", n, nd,
					exts[e]);
		/* both sorted: each announced id once, nothing else */
		for (k = 0; k < n && j < nd; k++) {
			EXPECT_EQ(ids[k], disk[j]) {
				TH_LOG("%s: announced id %lld, on disk %lld",
				       exts[e], ids[k], disk[j]);
				break;
			}
			j++;
		}
	}
	/* how hard the kills hit: files written twice, temporaries cleaned */
	log = khm_slurp(self->log, NULL);
	ASSERT_NE(NULL, log);
	TH_LOG("the daemons logged %d writes of the %d captures and %d clean-ups of temporary files",
	       count_str(log, ": wrote "), n, count_str(log, "removed "));
	free(log);
	n = khm_check_tree(self->dir, &st);
	EXPECT_EQ(0, n);
	EXPECT_EQ(0, st.tmp);
	list = khm_json("captures");
	EXPECT_EQ(0, array_len(list)) TH_LOG("queue: %s", json_str(list));
	json_object_put(list);
	EXPECT_EQ(d0, kt_status("captures-dropped"));
	EXPECT_EQ(f0, kt_status("captures-failed"));
}

/*
 * Issue 4: "the queue overflows with no daemon running: the oldest are
 * dropped, the count says how many, the rest are delivered when the
 * daemon starts".
 */
TEST_F_TIMEOUT(dmn, queued_while_down_delivered_on_start, 60)
{
	long long ids[5], disk[8], c0, d0;
	int status, n, i;

	ASSERT_EQ(0, settle(self, _metadata->name));
	ASSERT_EQ(0, kt_ctl("config set max-captures 3"));
	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 10000, "sleeper", NULL));
	c0 = kt_status("captures");
	d0 = kt_status("captures-dropped");
	for (i = 0; i < 5; i++) {
		ids[i] = khm_capture(self->wl.pid, NULL);
		ASSERT_LT(0, ids[i]);
		ASSERT_EQ(c0 + i + 1, ctld_wait_status("captures", c0 + i + 1,
						  DMN_WAIT_MS));
	}
	EXPECT_EQ(d0 + 2, kt_status("captures-dropped"));
	EXPECT_EQ(3, kt_status("queue-len"));

	self->daemon = daemon_start(self->dir, self->log, NULL);
	ASSERT_LT(0, self->daemon);
	EXPECT_TRUE(ctld_wait_delivered(self->dir, ids + 2, 3, DMN_DRAIN_MS))
		ctld_log_tail(self->log);
	status = daemon_term(self->daemon);
	self->daemon = -1;
	EXPECT_TRUE(status != -1 && WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("daemon after SIGTERM: status 0x%x", status);

	n = khm_capture_ids(self->dir, ".json", disk, 8);
	ASSERT_EQ(3, n);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(ids[i + 2], disk[i]);
	EXPECT_EQ(3, khm_capture_ids(self->dir, ".txt", NULL, 0));
	EXPECT_EQ(3, khm_capture_ids(self->dir, ".folded", NULL, 0));
	EXPECT_EQ(0, kt_status("queue-len"));
	EXPECT_EQ(d0 + 2, kt_status("captures-dropped"));
}

/*
 * Issue 4: "a full or read-only directory: the daemon logs the error,
 * acknowledges nothing it did not write, and retries". The directory is
 * a tmpfs mounted read-only (root writes through permission bits), made
 * writable once the daemon has failed on it.
 */
TEST_F_TIMEOUT(dmn, readonly_dir_retried, 90)
{
	struct json_object *e;
	long long id;
	char *log;
	int status;

	if (mount("khm-ro", self->dir, "tmpfs", MS_RDONLY, "size=16m"))
		SKIP(return, "cannot mount a tmpfs: %s", strerror(errno));
	self->mounted = true;
	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 10000, "sleeper", NULL));

	self->daemon = daemon_start(self->dir, self->log, NULL);
	ASSERT_LT(0, self->daemon);
	id = khm_capture(self->wl.pid, NULL);
	ASSERT_LT(0, id);
	e = khm_capture_wait(id, DMN_WAIT_MS);
	ASSERT_NE(NULL, e);
	json_object_put(e);
	/* long enough for the daemon to have tried and failed */
	kt_sleep_ms(1500);
	e = khm_capture_find(id);
	EXPECT_NE(NULL, e) TH_LOG("capture %lld acknowledged though not written", id);
	json_object_put(e);
	EXPECT_EQ(0, waitpid(self->daemon, &status, WNOHANG))
		TH_LOG("the daemon died on a read-only directory");
	log = khm_slurp(self->log, NULL);
	ASSERT_NE(NULL, log);
	EXPECT_TRUE(strcasestr(log, "read-only") != NULL)
		TH_LOG("daemon log says nothing of the read-only directory: %s",
		       khm_oneline(log));
	free(log);

	ASSERT_EQ(0, mount(NULL, self->dir, NULL, MS_REMOUNT, "size=16m"));
	EXPECT_TRUE(ctld_wait_delivered(self->dir, &id, 1, DMN_DRAIN_MS))
		ctld_log_tail(self->log);
	EXPECT_EQ(1, khm_capture_path(self->dir, id, ".txt", NULL, 0));
	EXPECT_EQ(1, khm_capture_path(self->dir, id, ".json", NULL, 0));
	EXPECT_EQ(1, khm_capture_path(self->dir, id, ".folded", NULL, 0));
	status = daemon_term(self->daemon);
	self->daemon = -1;
	EXPECT_TRUE(status != -1 && WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("daemon after SIGTERM: status 0x%x", status);

	/* the files outlive the mount: copy them where the last test looks */
	EXPECT_EQ(0, khm_exec(NULL, NULL, "/bin/cp -a %s %s.copy", self->dir,
			      self->dir));
	ASSERT_EQ(0, umount2(self->dir, MNT_DETACH));
	self->mounted = false;
}

/* --exec runs after each capture with the path of its report (.txt). */
TEST_F_TIMEOUT(dmn, exec_gets_report_path, 60)
{
	char hook[PATH_MAX + 8], hook_log[PATH_MAX + 8], path[PATH_MAX];
	char script[3 * PATH_MAX], *got = NULL;
	long long ids[2], end;
	int status, i, fd;

	snprintf(hook, sizeof(hook), "%s.hook", self->dir);
	snprintf(hook_log, sizeof(hook_log), "%s.hooklog", self->dir);
	snprintf(script, sizeof(script),
		 "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done >>%s\n",
		 hook_log);
	fd = open(hook, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)strlen(script), write(fd, script, strlen(script)));
	close(fd);
	unlink(hook_log);

	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 10000, "sleeper", NULL));
	self->daemon = daemon_start(self->dir, self->log, "--exec", hook, NULL);
	ASSERT_LT(0, self->daemon);
	for (i = 0; i < 2; i++) {
		ids[i] = khm_capture(self->wl.pid, NULL);
		ASSERT_LT(0, ids[i]);
	}
	ASSERT_TRUE(ctld_wait_delivered(self->dir, ids, 2, DMN_DRAIN_MS))
		ctld_log_tail(self->log);
	/* the hook runs after the files are there: give it a moment */
	end = kt_now_ms() + 5000;
	do {
		free(got);
		got = khm_slurp(hook_log, NULL);
		if (got && strchr(got, '\n') && strchr(strchr(got, '\n') + 1, '\n'))
			break;
		kt_sleep_ms(50);
	} while (kt_now_ms() < end);
	ASSERT_NE(NULL, got) ctld_log_tail(self->log);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(1, khm_capture_path(self->dir, ids[i], ".txt", path,
					      sizeof(path)));
		EXPECT_NE(NULL, strstr(got, path))
			TH_LOG("hook saw \"%s\", not %s", khm_oneline(got), path);
	}
	free(got);
	status = daemon_term(self->daemon);
	self->daemon = -1;
	EXPECT_TRUE(status != -1 && WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("daemon after SIGTERM: status 0x%x", status);
}

/*
 * --max-files N keeps the newest N captures: with N = 2 and four
 * captures delivered one after the other, the files of the two newest are
 * left, whole, and no other capture's.
 */
TEST_F_TIMEOUT(dmn, rotation_keeps_newest, 90)
{
	static const char * const exts[] = { ".txt", ".json", ".folded" };
	long long ids[4], disk[8];
	int status, i, n;
	size_t x;

	ASSERT_EQ(0, settle(self, _metadata->name));
	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 10000, "sleeper", NULL));
	self->daemon = daemon_start(self->dir, self->log, "--max-files", "2",
				    NULL);
	ASSERT_LT(0, self->daemon);
	for (i = 0; i < 4; i++) {
		ids[i] = khm_capture(self->wl.pid, NULL);
		ASSERT_LT(0, ids[i]);
		ASSERT_TRUE(ctld_wait_delivered(self->dir, &ids[i], 1, DMN_DRAIN_MS))
			ctld_log_tail(self->log);
	}
	status = daemon_term(self->daemon);
	self->daemon = -1;
	EXPECT_TRUE(status != -1 && WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("daemon after SIGTERM: status 0x%x", status);
	for (x = 0; x < sizeof(exts) / sizeof(exts[0]); x++) {
		n = khm_capture_ids(self->dir, exts[x], disk, 8);
		EXPECT_EQ(2, n) TH_LOG("%d %s files left", n, exts[x]);
		if (n == 2) {
			EXPECT_EQ(ids[2], disk[0]);
			EXPECT_EQ(ids[3], disk[1]);
		}
	}
}

/* Last: every file this binary's tests wrote. */
KT_FILES_TEST(DMN_ROOT)

TEST_HARNESS_MAIN
