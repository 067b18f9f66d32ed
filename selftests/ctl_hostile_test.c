// SPDX-License-Identifier: GPL-2.0
/*
 * `kholmesctl daemon` against another user of the host (issue 13):
 *
 *  - a process of uid 65534 runs a binary that is then deleted and
 *    replaced by a FIFO at the same path: the daemon, which opens the
 *    mapped binaries to unwind and symbolize, must not block on it; the
 *    capture is written (its frames keep file and offset) and
 *    acknowledged, and SIGTERM still stops the daemon with 0;
 *  - what it writes: the captures 0640, DIR/.lock 0600, and a symlink
 *    planted at DIR/.lock refused before anything is written;
 *  - a directory it must create (its parent exists) is made 0750.
 *
 * Files go to HST_ROOT/<test>/, the daemon's log beside it. Automatic
 * captures are off, so that only the tests' own captures are queued.
 */
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "kholmes.h"
#include "kt.h"
#include "ctld.h"

#define HST_ROOT	"/tmp/khm-hostile"
#define HST_NOBODY	65534
#define HST_WAIT_MS	15000	/* a capture taken and queued, under TCG */
#define HST_DRAIN_MS	60000	/* the daemon writes it out, on a loaded host */

/* `kholmesctl daemon --dir DIR`, its output appended to log; its pid. */
static pid_t daemon_start(const char *dir, const char *log)
{
	char *argv[] = { (char *)khm_ctl_path(), "daemon", "--dir",
			 (char *)dir, NULL };
	long long end;
	pid_t pid;
	int fd;

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
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		kt_sleep_ms(10);
	}
	return pid;
}

/* SIGTERM, up to 10 s: its wait status, or -1 (then it is killed). */
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

static int copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	int in, out, ret = 0;
	ssize_t n;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			ret = -1;
	if (n < 0)
		ret = -1;
	close(in);
	if (close(out))
		ret = -1;
	return ret;
}

/* Runs path as uid/gid 65534 until it says "ready"; its pid, or -1. */
static pid_t spawn_nobody(const char *path, int *out)
{
	pid_t pid, parent = getpid();
	char buf[64];
	ssize_t n;
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		kt_die_with(parent);
		dup2(p[1], STDOUT_FILENO);
		if (setgroups(0, NULL) || setgid(HST_NOBODY) ||
		    setuid(HST_NOBODY))
			_exit(126);
		execl(path, "prog", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	*out = p[0];
	n = read(p[0], buf, sizeof(buf) - 1);
	if (n <= 0 || strncmp(buf, "ready", 5)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

FIXTURE(hst) {
	struct kt_state state;
	struct json_object *config;
	pid_t daemon, victim;
	int victim_out;
	char dir[PATH_MAX];
	char log[PATH_MAX];
	char bin[PATH_MAX];
};

FIXTURE_SETUP(hst)
{
	char drain[PATH_MAX + 16];

	self->daemon = self->victim = -1;
	self->victim_out = -1;
	ASSERT_EQ(0, kt_state_save(&self->state));
	json_object_put(self->state.config);
	self->state.config = NULL;
	self->config = khm_config_save();
	ASSERT_NE(NULL, self->config);
	ASSERT_EQ(0, kt_ctl("config set capture-rate 0"));
	snprintf(self->dir, sizeof(self->dir), HST_ROOT "/%s", _metadata->name);
	snprintf(self->log, sizeof(self->log), HST_ROOT "/%s.log",
		 _metadata->name);
	snprintf(self->bin, sizeof(self->bin), HST_ROOT "/%s.bin",
		 _metadata->name);
	ASSERT_EQ(0, khm_mkdir_p(HST_ROOT));
	ASSERT_EQ(0, chmod(HST_ROOT, 0755));
	/* what earlier tests left queued */
	snprintf(drain, sizeof(drain), HST_ROOT "/%s.drain", _metadata->name);
	ASSERT_EQ(0, khm_mkdir_p(drain));
	ASSERT_EQ(0, khm_pull(drain));
}

FIXTURE_TEARDOWN(hst)
{
	char drain[PATH_MAX + 16];

	if (self->daemon > 0) {
		kill(self->daemon, SIGKILL);
		waitpid(self->daemon, NULL, 0);
	}
	if (self->victim > 0) {
		kill(self->victim, SIGKILL);
		waitpid(self->victim, NULL, 0);
	}
	if (self->victim_out >= 0)
		close(self->victim_out);
	snprintf(drain, sizeof(drain), HST_ROOT "/%s.drain", _metadata->name);
	EXPECT_EQ(0, khm_pull(drain));
	EXPECT_EQ(0, kt_state_restore(&self->state));
	EXPECT_EQ(0, khm_config_restore(self->config));
	json_object_put(self->config);
}

TEST_F_TIMEOUT(hst, fifo_in_place_of_deleted_binary, 400)
{
	char src[PATH_MAX + 16], prog[PATH_MAX + 16], path[PATH_MAX + 64];
	struct json_object *e;
	struct stat sb;
	long long id;
	int status;

	/* nobody's binary, in nobody's directory */
	ASSERT_EQ(0, khm_mkdir_p(self->bin));
	ASSERT_EQ(0, chown(self->bin, HST_NOBODY, HST_NOBODY));
	snprintf(src, sizeof(src), "%s/sleeper", kt_wl_dir());
	snprintf(prog, sizeof(prog), "%s/prog", self->bin);
	ASSERT_EQ(0, copy_file(src, prog, 0755));
	self->victim = spawn_nobody(prog, &self->victim_out);
	ASSERT_LT(0, self->victim);
	/* what the user does: delete it, put a FIFO at its path */
	ASSERT_EQ(0, unlink(prog));
	ASSERT_EQ(0, mkfifo(prog, 0644));
	ASSERT_EQ(0, chown(prog, HST_NOBODY, HST_NOBODY));

	id = khm_capture(self->victim, NULL);
	ASSERT_LT(0, id);
	e = khm_capture_wait(id, HST_WAIT_MS);
	ASSERT_NE(NULL, e);
	json_object_put(e);

	/* the daemon creates its directory, 0750 (slow to start under TCG) */
	self->daemon = daemon_start(self->dir, self->log);
	ASSERT_LT(0, self->daemon);
	{
		long long end = kt_now_ms() + HST_DRAIN_MS;

		while (stat(self->dir, &sb) && kt_now_ms() < end)
			kt_sleep_ms(100);
	}
	ASSERT_EQ(0, stat(self->dir, &sb)) ctld_log_tail(self->log);
	EXPECT_EQ(0750, sb.st_mode & 07777);

	/* written (its unwinding has a budget of 30 s), and acknowledged */
	{
		long long end = kt_now_ms() + HST_DRAIN_MS;
		bool done = false;

		while (!done && kt_now_ms() < end) {
			e = khm_capture_find(id);
			done = !e && khm_capture_path(self->dir, id, ".txt",
						      path, sizeof(path)) == 1;
			json_object_put(e);
			if (!done)
				kt_sleep_ms(100);
		}
		EXPECT_TRUE(done) ctld_log_tail(self->log);
	}
	/* its files 0640, the lock 0600 */
	if (khm_capture_path(self->dir, id, ".txt", path, sizeof(path)) == 1) {
		ASSERT_EQ(0, stat(path, &sb));
		EXPECT_EQ(0640, sb.st_mode & 07777);
	}
	snprintf(path, sizeof(path), "%s/.lock", self->dir);
	ASSERT_EQ(0, lstat(path, &sb));
	EXPECT_TRUE(S_ISREG(sb.st_mode));
	EXPECT_EQ(0600, sb.st_mode & 07777);

	status = daemon_term(self->daemon);
	self->daemon = -1;
	EXPECT_TRUE(status != -1 && WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("daemon after SIGTERM: status 0x%x", status);
	unlink(prog);
}

/* A symlink at DIR/.lock: refused, its target untouched, exit 1. */
TEST_F_TIMEOUT(hst, symlink_at_lock_refused, 300)
{
	char lock[PATH_MAX + 16], target[PATH_MAX + 16], buf[16] = "";
	char *err = NULL;
	int fd, ret;

	ASSERT_EQ(0, khm_mkdir_p(self->dir));
	ASSERT_EQ(0, chmod(self->dir, 0750));
	snprintf(target, sizeof(target), "%s.target", self->dir);
	snprintf(lock, sizeof(lock), "%s/.lock", self->dir);
	fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(5, write(fd, "keep\n", 5));
	close(fd);
	unlink(lock);
	ASSERT_EQ(0, symlink(target, lock));
	ret = khm_run(NULL, &err, "daemon --dir %s", self->dir);
	EXPECT_EQ(1, ret) TH_LOG("%s", err ? err : "");
	EXPECT_NE(NULL, err && strstr(err, "refusing") ? err : NULL)
		TH_LOG("%s", err ? err : "");
	free(err);
	ASSERT_LT(0, khm_read_file(target, buf, sizeof(buf)));
	EXPECT_STREQ("keep", buf);
	unlink(lock);
	unlink(target);
}

TEST_HARNESS_MAIN
