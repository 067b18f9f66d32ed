// SPDX-License-Identifier: GPL-2.0
/*
 * Watch scope: with entries, the sampler tracks exactly the processes they
 * match (by pid, by comm, by cgroup v2 and its descendants) and drops every
 * other one at its next pass; `watch clear` brings every process back.
 * `kholmesctl -j ps` must list exactly the matching processes, and
 * `watch show` the entries. Each test puts back the scope and config it
 * found, and removes the cgroups it made.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "kt.h"

#define WATCH_MS	100
#define WITHIN		(30 * WATCH_MS)
#define CG_OUTER	"/khmtest"
#define CG_INNER	"/khmtest/inner"
#define MAX_PIDS	4096

FIXTURE(watch) {
	struct kt_saved state;
	struct kt_wl wl[3];
	bool made_cgroups;
};

FIXTURE_SETUP(watch)
{
	struct json_object *w;

	for (int i = 0; i < 3; i++)
		self->wl[i] = (struct kt_wl)KT_WL_INIT;
	self->made_cgroups = false;
	ASSERT_EQ(0, kt_saved_take(&self->state));
	w = kt_saved_get(&self->state, "watch");
	ASSERT_EQ(1, khm_json_int(w, "all")) {
		TH_LOG("the watch scope is not empty at the start: %s",
		       self->state.watch);
	}
	json_object_put(w);
	ASSERT_EQ(0, kt_ctl("config set enabled on interval-ms %d", WATCH_MS));
}

static void rmdir_retry(struct __test_metadata *_metadata, const char *cg)
{
	char path[256];

	snprintf(path, sizeof(path), KT_CGROUP_ROOT "%s", cg);
	/* the cgroup empties once the killed process is fully gone */
	for (int i = 0; i < 50; i++) {
		if (!rmdir(path) || errno == ENOENT)
			return;
		kt_sleep_ms(20);
	}
	TH_LOG("rmdir %s: %s", path, strerror(errno));
}

FIXTURE_TEARDOWN_PARENT(watch)
{
	for (int i = 0; i < 3; i++)
		kt_wl_stop(&self->wl[i]);
	EXPECT_EQ(0, kt_saved_put(&self->state));
	if (self->made_cgroups) {
		rmdir_retry(_metadata, CG_INNER);
		rmdir_retry(_metadata, CG_OUTER);
	}
}

static int cmp_pid(const void *a, const void *b)
{
	return *(const pid_t *)a - *(const pid_t *)b;
}

/*
 * Let two passes apply the scope, then compare `ps` with exactly the @n
 * pids that follow. Logs both lists on a mismatch; 0 when equal.
 */
static int ps_is(struct __test_metadata *_metadata, int n, ...)
{
	static pid_t got[MAX_PIDS];
	char a[256] = "", b[256] = "";
	pid_t exp[8];
	int have, i;
	va_list ap;

	va_start(ap, n);
	for (i = 0; i < n; i++)
		exp[i] = va_arg(ap, pid_t);
	va_end(ap);
	if (kt_wait_passes(2, WITHIN))
		return -1;
	have = kt_ps_pids(got, MAX_PIDS);
	qsort(exp, n, sizeof(*exp), cmp_pid);
	if (have == n && !memcmp(got, exp, n * sizeof(*exp)))
		return 0;
	for (i = 0; i < n; i++)
		snprintf(a + strlen(a), sizeof(a) - strlen(a), " %d", exp[i]);
	for (i = 0; i < have && i < 30; i++)
		snprintf(b + strlen(b), sizeof(b) - strlen(b), " %d", got[i]);
	TH_LOG("ps lists %d processes:%s%s; expected%s", have, b,
	       have > 30 ? " ..." : "", a);
	return -1;
}

static void start_sleepers(struct __test_metadata *_metadata,
			   struct kt_wl *wl, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		ASSERT_EQ(0, kt_wl_start(&wl[i], "ready", 10000, name, NULL));
}

TEST_F(watch, by_pid)
{
	struct json_object *w;
	pid_t a, b;

	start_sleepers(_metadata, self->wl, 2, "sleeper");
	a = self->wl[0].pid;
	b = self->wl[1].pid;

	ASSERT_EQ(0, kt_ctl("watch add pid %d", a));
	EXPECT_EQ(0, ps_is(_metadata, 1, a));
	w = khm_json("watch show");
	ASSERT_NE(NULL, w);
	EXPECT_EQ(0, khm_json_int(w, "all"));
	EXPECT_EQ(1, kt_json_len(w, "pids"));
	EXPECT_EQ(a, atoi(kt_json_item(w, "pids", 0) ?: "0"));
	json_object_put(w);

	ASSERT_EQ(0, kt_ctl("watch add pid %d", b));
	EXPECT_EQ(0, ps_is(_metadata, 2, a, b));
	ASSERT_EQ(0, kt_ctl("watch del pid %d", a));
	EXPECT_EQ(0, ps_is(_metadata, 1, b));
	EXPECT_EQ(1, kt_status("tracked"));
}

TEST_F(watch, by_comm)
{
	struct json_object *w;

	start_sleepers(_metadata, self->wl, 2, "sleeper");
	/* same behaviour, another name: must stay out */
	ASSERT_EQ(0, kt_wl_start(&self->wl[2], "ready", 10000, "manythreads",
				 NULL));

	ASSERT_EQ(0, kt_ctl("watch add comm sleeper"));
	EXPECT_EQ(0, ps_is(_metadata, 2, self->wl[0].pid,
			   self->wl[1].pid));
	w = khm_json("watch show");
	ASSERT_NE(NULL, w);
	EXPECT_EQ(0, khm_json_int(w, "all"));
	EXPECT_EQ(1, kt_json_len(w, "comms"));
	EXPECT_STREQ("sleeper", kt_json_item(w, "comms", 0) ?: "");
	json_object_put(w);
}

static int cg_write_pid(const char *cg, pid_t pid)
{
	char path[256], buf[32];
	int fd, len, ret;

	snprintf(path, sizeof(path), KT_CGROUP_ROOT "%s/cgroup.procs", cg);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	len = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	ret = write(fd, buf, len) == len ? 0 : -1;
	close(fd);
	return ret;
}

/* A cgroup matches its own processes and its descendants' only. */
TEST_F(watch, by_cgroup)
{
	struct json_object *w;
	struct stat st;

	if (stat(KT_CGROUP_ROOT "/cgroup.procs", &st))
		SKIP(return, "no cgroup v2 at " KT_CGROUP_ROOT);
	ASSERT_EQ(0, mkdir(KT_CGROUP_ROOT CG_OUTER, 0755)) {
		TH_LOG("mkdir " KT_CGROUP_ROOT CG_OUTER ": %s", strerror(errno));
	}
	self->made_cgroups = true;
	ASSERT_EQ(0, mkdir(KT_CGROUP_ROOT CG_INNER, 0755));

	start_sleepers(_metadata, self->wl, 3, "sleeper");
	ASSERT_EQ(0, cg_write_pid(CG_OUTER, self->wl[0].pid));
	ASSERT_EQ(0, cg_write_pid(CG_INNER, self->wl[1].pid));
	/* wl[2] stays in the root cgroup */

	ASSERT_EQ(0, kt_ctl("watch add cgroup " CG_OUTER));
	EXPECT_EQ(0, ps_is(_metadata, 2, self->wl[0].pid,
			   self->wl[1].pid));
	w = khm_json("watch show");
	ASSERT_NE(NULL, w);
	EXPECT_EQ(1, kt_json_len(w, "cgroups"));
	EXPECT_STREQ(CG_OUTER, kt_json_item(w, "cgroups", 0) ?: "");
	json_object_put(w);

	/* the inner one alone: only its process */
	ASSERT_EQ(0, kt_ctl("watch del cgroup " CG_OUTER));
	ASSERT_EQ(0, kt_ctl("watch add cgroup " CG_INNER));
	EXPECT_EQ(0, ps_is(_metadata, 1, self->wl[1].pid));
}

/* Out of scope means untracked; back in scope means tracked again. */
TEST_F(watch, clear_restores_all)
{
	long long base, narrow, back, host;
	struct json_object *w;
	int ret;

	ASSERT_EQ(0, kt_wait_passes(2, WITHIN));
	base = kt_status("tracked");
	ASSERT_LT(10, base);

	ASSERT_EQ(0, kt_ctl("watch add pid %d", getpid()));
	EXPECT_EQ(0, ps_is(_metadata, 1, getpid()));
	narrow = kt_status("tracked");
	EXPECT_EQ(1, narrow);

	ASSERT_EQ(0, kt_ctl("watch clear"));
	ASSERT_EQ(0, kt_wait_passes(2, WITHIN));
	ret = kt_tracked_is_host(&back, &host);
	TH_LOG("tracked: %lld with every process, %lld with one pid, %lld after clear, with %lld processes on the host",
	       base, narrow, back, host);
	EXPECT_EQ(0, ret);
	w = khm_json("watch show");
	ASSERT_NE(NULL, w);
	EXPECT_EQ(1, khm_json_int(w, "all"));
	EXPECT_EQ(0, kt_json_len(w, "pids"));
	json_object_put(w);
}

TEST_HARNESS_MAIN
