// SPDX-License-Identifier: GPL-2.0
/*
 * The rig's own tests (issue 2): the module that /init loaded answers a
 * status request over netlink with the version sysfs shows and the running
 * kernel, its module parameters are its configuration, it refuses changes
 * from an unprivileged user, survives being loaded and unloaded ten times in
 * a row, and kholmesctl's exit codes follow the contract (2 usage, 3 not
 * loaded).
 *
 * Tests that unload the module use the `module` fixture, whose teardown
 * loads it again whatever happened, so that the tests after them (and the
 * runner's final rmmod) find it loaded.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include "kselftest_harness.h"
#include "kholmes.h"
#include "kt.h"

#define SYS_MODULE	"/sys/module/" KHM_MODULE_NAME

/* Module parameter and the config key kholmesctl shows it as. */
static const struct {
	const char *param;
	const char *key;
} params[] = {
	{ "enabled", "enabled" },
	{ "interval_ms", "interval-ms" },
	{ "window", "window" },
	{ "max_tracked", "max-tracked" },
};

/* A module parameter's value: bools read "Y"/"N" in sysfs. */
static long long read_param(const char *name)
{
	char path[128], buf[64], *end;
	long long v;

	snprintf(path, sizeof(path), SYS_MODULE "/parameters/%s", name);
	if (khm_read_file(path, buf, sizeof(buf)) <= 0)
		return LLONG_MIN;
	if (!strcmp(buf, "Y"))
		return 1;
	if (!strcmp(buf, "N"))
		return 0;
	v = strtoll(buf, &end, 0);
	return *end ? LLONG_MIN : v;
}

TEST(status_matches_module)
{
	struct json_object *st, *enabled;
	char version[64];
	struct utsname u;

	ASSERT_LT(0, khm_read_file(SYS_MODULE "/version", version,
				   sizeof(version)));
	EXPECT_STREQ(KHOLMES_VERSION, version);
	ASSERT_EQ(0, uname(&u));

	st = khm_json("status");
	ASSERT_NE(NULL, st);
	ASSERT_NE(NULL, khm_json_str(st, "version"));
	EXPECT_STREQ(version, khm_json_str(st, "version"));
	ASSERT_NE(NULL, khm_json_str(st, "kernel"));
	EXPECT_STREQ(u.release, khm_json_str(st, "kernel"));
	enabled = khm_json_get(st, "enabled");
	ASSERT_NE(NULL, enabled);
	EXPECT_TRUE(json_object_is_type(enabled, json_type_boolean));
	EXPECT_TRUE(json_object_get_boolean(enabled));
	json_object_put(st);
}

/* Every counter of the status contract is there, as a non-negative integer. */
TEST(status_json_complete)
{
	static const char * const keys[] = {
		"interval-ms", "window", "max-tracked", "tracked", "untracked",
		"passes", "detections", "suppressed", "pass-ns.last",
		"pass-ns.mean", "pass-ns.max", "tasks-visited", "procs-visited",
		"mem-bytes", "alloc-fails", "events-lost",
	};
	struct json_object *st;

	st = khm_json("status");
	ASSERT_NE(NULL, st);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		long long v = khm_json_int(st, keys[i]);

		EXPECT_LE(0, v) {
			TH_LOG("status: \"%s\" missing or not a count (%s)",
			       keys[i], json_object_to_json_string(st));
		}
	}
	json_object_put(st);
}

TEST(unprivileged_change_refused)
{
	struct json_object *before, *after;
	char *out = NULL, *err = NULL;
	int ret;

	before = khm_json("config show");
	ASSERT_NE(NULL, before);
	ASSERT_EQ(1, khm_json_int(before, "enabled"));

	ret = khm_run_as(KHM_NOBODY, &out, &err, "config set enabled off");
	EXPECT_EQ(KHM_EXIT_FAIL, ret);
	EXPECT_NE(NULL, strstr(err, "Operation not permitted")) {
		TH_LOG("stderr of unprivileged config set: \"%s\"",
		       khm_oneline(err));
	}

	after = khm_json("config show");
	ASSERT_NE(NULL, after);
	EXPECT_TRUE(json_object_equal(before, after)) {
		TH_LOG("config changed: %s -> %s",
		       json_object_to_json_string(before),
		       json_object_to_json_string(after));
	}
	json_object_put(before);
	json_object_put(after);
	free(out);
	free(err);
}

/* Reading is not a privilege: only changes (and stacks) are. */
TEST(unprivileged_status_allowed)
{
	char *out = NULL, *err = NULL;

	EXPECT_EQ(0, khm_run_as(KHM_NOBODY, &out, &err, "status")) {
		TH_LOG("stderr: \"%s\"", khm_oneline(err));
	}
	EXPECT_NE(NULL, strstr(out, KHOLMES_VERSION));
	free(out);
	free(err);
}

FIXTURE(module) {
	int unused;
};

FIXTURE_SETUP(module)
{
	if (!khm_module_loaded())
		ASSERT_EQ(0, khm_insmod(NULL));
}

FIXTURE_TEARDOWN(module)
{
	if (!khm_module_loaded() && khm_insmod(NULL))
		TH_LOG("could not load the module back");
}

TEST_F_TIMEOUT(module, load_unload_ten_times, 180)
{
	for (int i = 0; i < 10; i++) {
		struct json_object *st;

		ASSERT_EQ(0, khm_rmmod()) TH_LOG("rmmod, round %d", i);
		ASSERT_FALSE(khm_module_loaded());
		ASSERT_EQ(0, khm_insmod(NULL)) TH_LOG("insmod, round %d", i);
		st = khm_json("status");
		ASSERT_NE(NULL, st) TH_LOG("status, round %d", i);
		EXPECT_STREQ(KHOLMES_VERSION, khm_json_str(st, "version") ?: "");
		json_object_put(st);
	}
	ASSERT_TRUE(khm_module_loaded());
}

static void expect_params_match_config(struct __test_metadata *_metadata)
{
	struct json_object *cfg = khm_json("config show");

	ASSERT_NE(NULL, cfg);
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		long long p = read_param(params[i].param);

		EXPECT_NE(LLONG_MIN, p) {
			TH_LOG("no parameter %s", params[i].param);
		}
		EXPECT_EQ(p, khm_json_int(cfg, params[i].key)) {
			TH_LOG("parameter %s = %lld, config %s: %s",
			       params[i].param, p, params[i].key,
			       json_object_to_json_string(cfg));
		}
	}
	json_object_put(cfg);
}

/* The parameters are the defaults the configuration starts from. */
TEST_F_TIMEOUT(module, params_match_config, 60)
{
	/* A fresh load: an earlier test binary may have changed the config. */
	ASSERT_EQ(0, khm_rmmod());
	ASSERT_EQ(0, khm_insmod(NULL));
	expect_params_match_config(_metadata);
}

TEST_F_TIMEOUT(module, params_set_at_load, 60)
{
	struct json_object *st;

	ASSERT_EQ(0, khm_rmmod());
	ASSERT_EQ(0, khm_insmod("interval_ms=250 window=7 max_tracked=100 enabled=0"));
	EXPECT_EQ(250, read_param("interval_ms"));
	EXPECT_EQ(7, read_param("window"));
	EXPECT_EQ(100, read_param("max_tracked"));
	EXPECT_EQ(0, read_param("enabled"));
	expect_params_match_config(_metadata);

	st = khm_json("status");
	ASSERT_NE(NULL, st);
	EXPECT_EQ(0, khm_json_int(st, "enabled"));
	EXPECT_EQ(250, khm_json_int(st, "interval-ms"));
	json_object_put(st);

	/* Back to what /init loaded, for the tests that follow. */
	ASSERT_EQ(0, khm_rmmod());
	ASSERT_EQ(0, khm_insmod(NULL));
}

TEST_F_TIMEOUT(module, status_when_unloaded, 60)
{
	char *out = NULL, *err = NULL;
	int ret;

	ASSERT_EQ(0, khm_rmmod());
	ASSERT_FALSE(khm_module_loaded());

	ret = khm_run(&out, &err, "status");
	EXPECT_EQ(KHM_EXIT_NOT_LOADED, ret);
	EXPECT_TRUE(strstr(err, "modprobe") || strstr(err, "insmod")) {
		TH_LOG("stderr does not say how to load the module: \"%s\"",
		       khm_oneline(err));
	}
	free(out);
	free(err);

	ret = khm_run(&out, &err, "-j status");
	EXPECT_EQ(KHM_EXIT_NOT_LOADED, ret);
	free(out);
	free(err);

	/* Resolving the family must not have loaded it behind our back. */
	EXPECT_FALSE(khm_module_loaded());
	ASSERT_EQ(0, khm_insmod(NULL));
	EXPECT_EQ(0, khm_run(NULL, NULL, "status"));
}

/* A wrong word anywhere on the command line is a usage error naming it. */
FIXTURE(usage) {
	int unused;
};

FIXTURE_VARIANT(usage) {
	const char *cmd;
	bool usage_text;
};

FIXTURE_VARIANT_ADD(usage, command) {
	.cmd = "bogus",
	.usage_text = true,
};

FIXTURE_VARIANT_ADD(usage, status_keyword) {
	.cmd = "status bogus",
};

FIXTURE_VARIANT_ADD(usage, config_keyword) {
	.cmd = "config bogus",
};

FIXTURE_VARIANT_ADD(usage, config_key) {
	.cmd = "config set bogus 1",
};

FIXTURE_SETUP(usage)
{
}

FIXTURE_TEARDOWN(usage)
{
}

TEST_F(usage, exit_2_names_word)
{
	char *out = NULL, *err = NULL;
	int ret;

	ret = khm_run(&out, &err, "%s", variant->cmd);
	EXPECT_EQ(KHM_EXIT_USAGE, ret);
	EXPECT_NE(NULL, strstr(err, "bogus")) {
		TH_LOG("kholmesctl %s: stderr \"%s\"", variant->cmd,
		       khm_oneline(err));
	}
	if (variant->usage_text) {
		EXPECT_NE(NULL, strcasestr(err, "usage")) {
			TH_LOG("kholmesctl %s: no usage text: \"%s\"",
			       variant->cmd, err);
		}
	}
	free(out);
	free(err);
}

/*
 * kt_wl_stop() where a FIXTURE_TEARDOWN_PARENT calls it: the harness
 * shares the fixture, so the teardown's process sees a workload that the
 * test's process started in the test body. That process has exited and
 * the workload died with it (kt_die_with()); its pid is free for another
 * process (hard_churn wraps pid_max in seconds) and its pipe's fd number
 * may be another file of the teardown's process. Here the workload's pid
 * is given to a live process and its fd number to an open file, as they
 * can be: kt_wl_stop() must leave both alone. The process that started a
 * workload, and that process's child (a test body stopping what its
 * fixture's setup started), still stop it.
 */
TEST(wl_stop_only_by_its_owner)
{
	struct kt_wl *w, mine = KT_WL_INIT;
	pid_t body, victim, pid;
	int status, sentinel, out;

	w = mmap(NULL, sizeof(*w), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, w);
	*w = (struct kt_wl)KT_WL_INIT;
	fflush(stdout);
	fflush(stderr);
	body = fork();
	ASSERT_LE(0, body);
	if (!body)
		_exit(kt_wl_start(w, "ready", 20000, "sleeper", NULL) ? 1 : 0);
	ASSERT_EQ(body, waitpid(body, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	ASSERT_LT(0, w->pid);
	ASSERT_LE(0, w->out);
	out = w->out;

	/* the workload's pid is now this process's, its fd number a file */
	victim = fork();
	ASSERT_LE(0, victim);
	if (!victim) {
		kt_die_with(getppid());
		pause();
		_exit(0);
	}
	sentinel = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, sentinel);
	if (sentinel != out)
		ASSERT_EQ(out, dup2(sentinel, out));
	w->pid = victim;
	kt_wl_stop(w);
	EXPECT_EQ(-1, w->pid);
	EXPECT_EQ(-1, w->out);
	EXPECT_LE(0, fcntl(out, F_GETFD))
		TH_LOG("fd %d, another file of this process's, was closed", out);
	EXPECT_EQ(0, waitpid(victim, &status, WNOHANG))
		TH_LOG("pid %d, another process, was killed", (int)victim);
	kill(victim, SIGKILL);
	waitpid(victim, NULL, 0);
	close(out);
	if (sentinel != out)
		close(sentinel);
	munmap(w, sizeof(*w));

	/* stopped by the child of the process that started it */
	ASSERT_EQ(0, kt_wl_start(&mine, "ready", 20000, "sleeper", NULL));
	pid = mine.pid;
	body = fork();
	ASSERT_LE(0, body);
	if (!body) {
		kt_wl_stop(&mine);
		_exit(0);
	}
	ASSERT_EQ(body, waitpid(body, NULL, 0));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(mine.out);

	/* and by the process that started it */
	ASSERT_EQ(0, kt_wl_start(&mine, "ready", 20000, "sleeper", NULL));
	pid = mine.pid;
	kt_wl_stop(&mine);
	EXPECT_EQ(-1, mine.pid);
	EXPECT_EQ(-1, waitpid(pid, NULL, WNOHANG));
	EXPECT_EQ(ECHILD, errno);
}

TEST_HARNESS_MAIN
