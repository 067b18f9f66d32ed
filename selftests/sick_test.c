// SPDX-License-Identifier: GPL-2.0
/*
 * A sick host (issue 12): the module never blocks on, or races with, the
 * process it inspects. Each hostile target below is captured by hand:
 *
 *  - a process whose mmap lock is held for writing for 60 s (by the
 *    test-only helper module khm_sick.ko, selftests/kmod_helper/);
 *  - a process that maps an AF_PACKET receive ring (a socket mapped at
 *    file offset 0: reading it would be a blocking recvmsg);
 *  - a process with a thread blocked on a FUSE file whose server stopped
 *    answering READ (sick_fuse; on 6.1, whose FUSE is a module, the
 *    helper directory carries fuse.ko);
 *  - a process stuck in D state (dstate: a vfork parent).
 *
 * In each: the capture is on disk (kholmesctl pull) within 2 s with what
 * could be read, and says what it skipped; a capture of a healthy
 * process right after is not delayed; and rmmod, with a capture of the
 * sick process in flight, completes within 5 s.
 *
 * A profile of a process spinning in the helper module, 40 calls deep in
 * a function with a 200-character name, streams no record larger than
 * KHOLMES_RECORD_MAX: 32 such kernel frames would make 7 KiB.
 *
 * Last, a race: a daemon pulls and acknowledges as fast as it can while
 * captures and profiles are requested for a minute; every request ends
 * queued or counted, the daemon empties the queue, the module unloads.
 * It runs alone with -t race_pull_ack, as the debug kernel's lane runs it:
 * KASAN, lockdep and kmemleak are the judges there.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "kholmes.h"
#include "kt.h"

#define SICK_ROOT	"/tmp/khm-sick"
#define SICK_HELPER	"/lib/kholmes/helper"
#define SICK_PROC	"/proc/khm_sick"
#define SICK_FUSE_DIR	"/tmp/khm-sick-fuse"
#define SICK_DISK_MS	2000	/* request to file on disk */
/* what waits this long is blocked, not slow: the wait then ends */
#define SICK_BLOCKED_MS	20000
#define SICK_RMMOD_MS	5000
/*
 * The race: a minute on the debug kernel, where KASAN and lockdep judge
 * it; 20 s elsewhere (thousands of pulls and acknowledgements already).
 */
#define SICK_RACE_S	(kt_debug_kernel() ? 60 : 20)
#define SICK_DRAIN_MS	60000	/* its last requests done, the queue empty */

/* insmod a helper module from SICK_HELPER unless @probe exists already. */
static int helper_insmod(const char *name, const char *probe)
{
	char *err = NULL;
	int ret;

	if (!access(probe, F_OK))
		return 0;
	ret = khm_exec(NULL, &err, "/bin/insmod %s/%s.ko", SICK_HELPER, name);
	if (ret)
		fprintf(stderr, "# insmod %s: %s\n", name, khm_oneline(err));
	free(err);
	return ret || access(probe, F_OK) ? -1 : 0;
}

static int sick_write(const char *cmd)
{
	int fd = open(SICK_PROC, O_WRONLY), ret;

	if (fd < 0)
		return -1;
	ret = write(fd, cmd, strlen(cmd)) == (ssize_t)strlen(cmd) ? 0 : -1;
	close(fd);
	return ret;
}

/*
 * Request a capture of @pid and pull until its .txt is in @dir. The
 * milliseconds that took, or -1 when it was not there after @timeout_ms
 * (with *id the capture's id, if any).
 */
static long long capture_to_disk(const char *dir, pid_t pid, long long *id,
				 int timeout_ms)
{
	long long t0 = kt_now_ms(), ms;

	*id = khm_capture(pid, NULL);
	if (*id < 0)
		return -1;
	do {
		if (khm_pull(dir))
			return -1;
		ms = kt_now_ms() - t0;
		if (khm_capture_path(dir, *id, ".txt", NULL, 0) > 0)
			return ms <= timeout_ms ? ms : -1;
		kt_sleep_ms(20);
	} while (ms < timeout_ms);
	return -1;
}

static char *capture_txt(const char *dir, long long id)
{
	char path[PATH_MAX];

	if (khm_capture_path(dir, id, ".txt", path, sizeof(path)) <= 0)
		return NULL;
	return khm_slurp(path, NULL);
}

/* The JSON of capture @id (to be put), or NULL. */
static struct json_object *capture_json(const char *dir, long long id)
{
	char path[PATH_MAX];

	if (khm_capture_path(dir, id, ".json", path, sizeof(path)) <= 0)
		return NULL;
	return json_object_from_file(path);
}

/* Whether a mapping of capture @cap has a path containing @s. */
static bool mapping_has(struct json_object *cap, const char *s)
{
	struct json_object *maps = khm_json_get(cap, "mappings");
	const char *p;
	int i;

	for (i = 0; i < kt_json_len(cap, "mappings"); i++) {
		p = khm_json_str(json_object_array_get_idx(maps, i), "path");
		if (p && strstr(p, s))
			return true;
	}
	fprintf(stderr, "# no mapping \"%s\" in %s\n", s,
		maps ? json_object_to_json_string(maps) : "(none)");
	return false;
}

static bool blocked(char state)
{
	return state == 'S' || state == 'D';
}

/* The state letter the capture gives thread @tid, or 0. */
static char thread_state(struct json_object *cap, pid_t tid)
{
	struct json_object *ts = khm_json_get(cap, "threads"), *t;
	const char *s;
	int i;

	for (i = 0; i < kt_json_len(cap, "threads"); i++) {
		t = json_object_array_get_idx(ts, i);
		if (khm_json_int(t, "tid") != tid)
			continue;
		s = khm_json_str(t, "state");
		return s ? s[0] : 0;
	}
	return 0;
}

/*
 * rmmod with a capture of @pid just requested, in a child: the
 * milliseconds until it returned, or -1 when it had not after
 * SICK_RMMOD_MS (the child is left behind: nothing can end it).
 */
static long long rmmod_timed(pid_t pid, int *status)
{
	long long t0;
	pid_t child;
	int st;

	khm_capture(pid, NULL);
	t0 = kt_now_ms();
	fflush(stdout);
	fflush(stderr);
	child = fork();
	if (!child) {
		execl(KHM_RMMOD, "rmmod", KHM_MODULE_NAME, (char *)NULL);
		_exit(127);
	}
	if (child < 0)
		return -1;
	do {
		if (waitpid(child, &st, WNOHANG) == child) {
			*status = st;
			return kt_now_ms() - t0;
		}
		kt_sleep_ms(20);
	} while (kt_now_ms() - t0 < SICK_RMMOD_MS);
	return -1;
}

FIXTURE(sick) {
	struct kt_state state;
	struct json_object *config;
	struct kt_wl wl;	/* the sick process */
	struct kt_wl healthy;	/* the next capture's */
	pid_t server;		/* sick_fuse's server */
	bool locked;
	char dir[PATH_MAX];
};

FIXTURE_SETUP(sick)
{
	self->wl = (struct kt_wl)KT_WL_INIT;
	self->healthy = (struct kt_wl)KT_WL_INIT;
	if (!khm_module_loaded())
		ASSERT_EQ(0, khm_insmod(NULL));
	ASSERT_EQ(0, kt_state_save(&self->state));
	json_object_put(self->state.config);
	self->state.config = NULL;
	self->config = khm_config_save();
	ASSERT_NE(NULL, self->config);
	ASSERT_EQ(0, kt_ctl("config set capture-rate 0 max-threads 64 max-queue-kb 16384 user-stack-kb 8"));
	snprintf(self->dir, sizeof(self->dir), SICK_ROOT "/%s", _metadata->name);
	ASSERT_EQ(0, khm_mkdir_p(self->dir));
	ASSERT_EQ(0, khm_pull(self->dir));
	ASSERT_EQ(0, kt_wl_start(&self->healthy, "ready", 10000, "sleeper",
				 NULL));
}

FIXTURE_TEARDOWN(sick)
{
	if (self->locked)
		sick_write("unlock");
	if (self->server > 0)
		kill(self->server, SIGKILL);
	kt_wl_stop(&self->wl);
	kt_wl_stop(&self->healthy);
	umount2(SICK_FUSE_DIR, MNT_DETACH);
	if (!khm_module_loaded() && khm_insmod(NULL))
		TH_LOG("could not load the module back");
	EXPECT_EQ(0, khm_pull(self->dir));
	EXPECT_EQ(0, kt_state_restore(&self->state));
	EXPECT_EQ(0, khm_config_restore(self->config));
	json_object_put(self->config);
}

/*
 * The three promises, for the sick process self->wl: its capture on disk
 * in 2 s (its .txt in *txt, its JSON in *json), the next one too, rmmod in
 * 5 s with a capture of it in flight. Under emulation kholmesctl alone
 * (a capture request, pulls) takes seconds, and varies twofold, so "on
 * disk" is allowed 2 s beyond twice what the same took for a healthy
 * process, and the module's own time for the capture (duration-ns) is
 * held to 2 s. The healthy process is captured before and after, and
 * the slower of the two counts: beside other VMs on the host the same
 * request took 528 ms, then over 3 s (sick.fuse_server_stopped failed so
 * in one run of three), which is the host's load, not a block. A block
 * is what no load explains: nothing on disk in SICK_BLOCKED_MS.
 * Returns the sick capture's id.
 */
static long long sick_check(struct __test_metadata *_metadata,
			    FIXTURE_DATA(sick) *self, char **txt,
			    struct json_object **json)
{
	long long id, id0, id2, id3, base, after, ms, next, took;
	int status = -1;

	base = capture_to_disk(self->dir, self->healthy.pid, &id0, 30000);
	TH_LOG("healthy capture %lld on disk after %lld ms", id0, base);
	ASSERT_LE(0, base);
	ms = capture_to_disk(self->dir, self->wl.pid, &id, SICK_BLOCKED_MS);
	TH_LOG("sick capture %lld on disk after %lld ms", id, ms);
	next = capture_to_disk(self->dir, self->healthy.pid, &id2,
			       SICK_BLOCKED_MS);
	TH_LOG("next capture %lld on disk after %lld ms", id2, next);
	after = capture_to_disk(self->dir, self->healthy.pid, &id3, 30000);
	TH_LOG("healthy capture %lld on disk after %lld ms", id3, after);
	if (after > base)
		base = after;
	EXPECT_LE(0, ms);
	EXPECT_GE(2 * base + SICK_DISK_MS, ms);
	EXPECT_LE(0, next);
	EXPECT_GE(2 * base + SICK_DISK_MS, next);
	*txt = capture_txt(self->dir, id);
	*json = capture_json(self->dir, id);
	EXPECT_NE(NULL, *txt);
	EXPECT_NE(NULL, *json);
	took = khm_json_int(*json, "duration-ns");
	TH_LOG("the module took %lld ms for the sick capture", took / 1000000);
	EXPECT_GE(SICK_DISK_MS * 1000000LL, took);

	ms = rmmod_timed(self->wl.pid, &status);
	TH_LOG("rmmod with a capture in flight: %lld ms, status %d", ms,
	       status);
	EXPECT_LE(0, ms);
	EXPECT_EQ(0, status);
	return id;
}

TEST_F_TIMEOUT(sick, mmap_lock_held_for_write, 120)
{
	struct json_object *json = NULL;
	char cmd[64], *txt = NULL;

	if (helper_insmod("khm_sick", SICK_PROC))
		SKIP(return, "no helper module khm_sick.ko in " SICK_HELPER);
	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 10000, "sleeper", NULL));
	snprintf(cmd, sizeof(cmd), "lock %d 60", (int)self->wl.pid);
	ASSERT_EQ(0, sick_write(cmd));
	self->locked = true;

	sick_check(_metadata, self, &txt, &json);
	if (txt) {
		EXPECT_NE(NULL, strstr(txt, "skipped: the mappings"))
			TH_LOG("%s", txt);
	}
	/* the threads need no mmap lock */
	EXPECT_EQ(0, kt_json_len(json, "mappings"));
	EXPECT_EQ(1, kt_json_len(json, "threads"));
	json_object_put(json);
	free(txt);
}

TEST_F_TIMEOUT(sick, af_packet_ring, 120)
{
	struct json_object *json = NULL;
	char *txt = NULL;

	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 10000, "sick_pktring",
				 NULL));
	sick_check(_metadata, self, &txt, &json);
	EXPECT_TRUE(mapping_has(json, "socket:"));
	if (txt)
		EXPECT_EQ(NULL, strstr(txt, "skipped:")) TH_LOG("%s", txt);
	json_object_put(json);
	free(txt);
}

TEST_F_TIMEOUT(sick, fuse_server_stopped, 120)
{
	struct json_object *json = NULL;
	char line[128], *txt = NULL;
	int server = 0, tid = 0;
	long long end;

	if (access("/dev/fuse", F_OK))
		helper_insmod("fuse", "/dev/fuse");
	if (access("/dev/fuse", F_OK))
		SKIP(return, "no FUSE in this kernel");
	ASSERT_EQ(0, kt_wl_start(&self->wl, NULL, 0, "sick_fuse",
				 SICK_FUSE_DIR, NULL));
	ASSERT_EQ(0, kt_wl_wait(&self->wl, "ready", 10000, line, sizeof(line)));
	ASSERT_EQ(2, sscanf(line, "ready %d %d", &server, &tid));
	self->server = server;
	/* in the fault, waiting on FUSE: S (the request) or D (the page) */
	end = kt_now_ms() + 10000;
	while (!blocked(kt_proc_state(tid)) && kt_now_ms() < end)
		kt_sleep_ms(20);
	ASSERT_TRUE(blocked(kt_proc_state(tid))) TH_LOG("toucher %d", tid);
	kt_sleep_ms(500);
	ASSERT_TRUE(blocked(kt_proc_state(tid))) TH_LOG("toucher %d", tid);

	sick_check(_metadata, self, &txt, &json);
	EXPECT_TRUE(blocked(thread_state(json, tid)));
	if (txt) {
		EXPECT_NE(NULL, strstr(txt, "fuse")) TH_LOG("%s", txt);
	}
	EXPECT_TRUE(mapping_has(json, SICK_FUSE_DIR "/f"));
	json_object_put(json);
	free(txt);
}

TEST_F_TIMEOUT(sick, dstate, 120)
{
	struct json_object *json = NULL;
	char *txt = NULL;
	long long end;

	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 10000, "dstate", NULL));
	end = kt_now_ms() + 10000;
	while (kt_proc_state(self->wl.pid) != 'D' && kt_now_ms() < end)
		kt_sleep_ms(20);
	ASSERT_EQ('D', kt_proc_state(self->wl.pid));

	sick_check(_metadata, self, &txt, &json);
	EXPECT_EQ('D', thread_state(json, self->wl.pid));
	json_object_put(json);
	free(txt);
}

struct rec_sizes {
	size_t max;		/* the largest top-level record */
	int pstacks;		/* profile stack records */
	int cut;		/* of which cut short by the module */
	int long_frames;	/* the most frames of the long function in one */
};

/* The records of one GET_CAPTURE dump reply, as received. */
static void rec_sizes(const void *buf, size_t len, struct rec_sizes *rs)
{
	const struct nlmsghdr *nlh = buf;
	const struct nlattr *a, *f;
	size_t left, fl;
	int n;

	for (; NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len)) {
		if (nlh->nlmsg_type < NLMSG_MIN_TYPE)
			continue;
		a = (const void *)((const char *)NLMSG_DATA(nlh) + GENL_HDRLEN);
		left = nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
		while (left >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN &&
		       a->nla_len <= left) {
			if (a->nla_len > rs->max)
				rs->max = a->nla_len;
			if ((a->nla_type & NLA_TYPE_MASK) == KHOLMES_A_PSTACK) {
				rs->pstacks++;
				n = 0;
				f = (const void *)((const char *)a + NLA_HDRLEN);
				fl = a->nla_len - NLA_HDRLEN;
				while (fl >= NLA_HDRLEN && f->nla_len >= NLA_HDRLEN &&
				       f->nla_len <= fl) {
					const char *str = (const char *)f + NLA_HDRLEN;

					if (f->nla_type == KHOLMES_PSTACK_KFRAME) {
						n += !!strstr(str, "_khm_sick_a_kernel_function");
						rs->cut += !!strstr(str, "frames cut");
					}
					fl -= (size_t)NLA_ALIGN(f->nla_len) < fl ?
				      (size_t)NLA_ALIGN(f->nla_len) : fl;
					f = (const void *)((const char *)f + NLA_ALIGN(f->nla_len));
				}
				if (n > rs->long_frames)
					rs->long_frames = n;
			}
			left -= (size_t)NLA_ALIGN(a->nla_len) < left ?
				(size_t)NLA_ALIGN(a->nla_len) : left;
			a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len));
		}
	}
}

TEST_F_TIMEOUT(sick, profile_record_max, 120)
{
	struct rec_sizes rs = { 0 };
	struct json_object *o, *e;
	struct khm_genl g;
	char buf[64], *out = NULL;
	void *reply = NULL;
	size_t reply_len = 0, len;
	pid_t spinner, me = getpid();
	long long id;
	uint64_t id64;
	int fd, ret;

	if (helper_insmod("khm_sick", SICK_PROC))
		SKIP(return, "no helper module khm_sick.ko in " SICK_HELPER);
	fflush(stdout);
	fflush(stderr);
	spinner = fork();
	ASSERT_LE(0, spinner);
	if (!spinner) {
		kt_die_with(me);
		for (;;) {
			fd = open(SICK_PROC, O_WRONLY);
			if (fd < 0 || write(fd, "spin 500", 8) != 8)
				_exit(1);
			close(fd);
		}
	}
	kt_wl_adopt(&self->wl, spinner);
	ret = khm_run(&out, NULL, "-j profile pid %d seconds 2 hz 200",
		      (int)spinner);
	ASSERT_EQ(0, ret);
	o = json_tokener_parse(out ?: "");
	free(out);
	id = khm_json_int(o, "id");
	json_object_put(o);
	ASSERT_LT(0, id);
	e = khm_capture_wait(id, 30000);
	ASSERT_NE(NULL, e);
	json_object_put(e);

	ASSERT_EQ(0, khm_genl_open(&g));
	id64 = id;
	len = khm_nla_put(buf, 0, KHOLMES_A_CAPTURE_ID, &id64, sizeof(id64));
	ret = khm_genl_request(&g, KHOLMES_CMD_GET_CAPTURE, NLM_F_DUMP, buf,
			       len, &reply, &reply_len);
	khm_genl_close(&g);
	ASSERT_EQ(0, ret);
	rec_sizes(reply, reply_len, &rs);
	free(reply);
	TH_LOG("profile %lld: %d stack records, %d cut, up to %d long frames in one, largest record %zu bytes (max %d)",
	       id, rs.pstacks, rs.cut, rs.long_frames, rs.max,
	       KHOLMES_RECORD_MAX);
	EXPECT_LT(0, rs.pstacks);
	/* the boundary was reached: a stack was cut to fit */
	EXPECT_LT(0, rs.cut);
	EXPECT_LT(5, rs.long_frames);
	EXPECT_GE((size_t)KHOLMES_RECORD_MAX, rs.max);
}

static volatile sig_atomic_t race_stop;

static void race_on_term(int sig)
{
	(void)sig;
	race_stop = 1;
}

/* A child that runs `kholmesctl <cmd>` back to back, counting successes. */
static pid_t race_loop(long *ok, const char *cmd)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid)
		return pid;
	signal(SIGTERM, race_on_term);
	while (!race_stop)
		if (!khm_run(NULL, NULL, "%s", cmd))
			__atomic_add_fetch(ok, 1, __ATOMIC_RELAXED);
	_exit(0);
}

/* The status counters the race accounts with. */
struct race_counts {
	long long captures, failed, dropped, len;
};

static int race_counts(struct race_counts *c)
{
	struct json_object *st = khm_json("status");

	if (!st)
		return -1;
	c->captures = khm_json_int(st, "captures");
	c->failed = khm_json_int(st, "captures-failed");
	c->dropped = khm_json_int(st, "captures-dropped");
	c->len = khm_json_int(st, "queue-len");
	json_object_put(st);
	return 0;
}

/*
 * The daemon pulls and acknowledges as fast as it can while captures and
 * profiles are pushed for SICK_RACE_S (a minute on the debug kernel): every capture requested
 * ends queued or counted as failed, the daemon empties the queue (waited
 * for, SICK_DRAIN_MS at most), and the module unloads after. Run alone
 * with -t race_pull_ack (the debug kernel's lane does: KASAN, lockdep and
 * kmemleak judge there, the VM runner failing on any splat).
 */
TEST_F_TIMEOUT(sick, race_pull_ack, 240)
{
	char cap[64], prof[64], ddir[PATH_MAX + 8];
	pid_t daemon, loops[3], me = getpid();
	struct race_counts c0, c1;
	long long t0, race_ms, drain_ms;
	long *ok;
	int i, files;

	ok = mmap(NULL, 3 * sizeof(long), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ok);
	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 10000, "manythreads",
				 "-n", "20", NULL));
	ASSERT_EQ(0, kt_ctl("config set max-captures 8 max-queue-kb 1024"));
	snprintf(ddir, sizeof(ddir), "%s/daemon", self->dir);
	ASSERT_EQ(0, khm_mkdir_p(ddir));
	ASSERT_EQ(0, race_counts(&c0));
	fflush(stdout);
	fflush(stderr);
	daemon = fork();
	ASSERT_LE(0, daemon);
	if (!daemon) {
		kt_die_with(me);
		execl(khm_ctl_path(), "kholmesctl", "daemon", "--dir", ddir,
		      (char *)NULL);
		_exit(127);
	}
	snprintf(cap, sizeof(cap), "capture pid %d", (int)self->wl.pid);
	snprintf(prof, sizeof(prof), "profile pid %d seconds 1",
		 (int)self->wl.pid);
	t0 = kt_now_ms();
	loops[0] = race_loop(&ok[0], cap);
	loops[1] = race_loop(&ok[1], cap);
	loops[2] = race_loop(&ok[2], prof);
	kt_sleep_ms(SICK_RACE_S * 1000);
	for (i = 0; i < 3; i++) {
		kill(loops[i], SIGTERM);
		waitpid(loops[i], NULL, 0);
	}
	race_ms = kt_now_ms() - t0;
	/*
	 * Every request ended (queued or failed: the last profile ends
	 * within its second) and the daemon emptied the queue.
	 */
	t0 = kt_now_ms();
	do {
		ASSERT_EQ(0, race_counts(&c1));
		if (c1.captures - c0.captures + c1.failed - c0.failed >=
		    ok[0] + ok[1] + ok[2] && !c1.len)
			break;
		kt_sleep_ms(200);
	} while (kt_now_ms() - t0 < SICK_DRAIN_MS);
	drain_ms = kt_now_ms() - t0;
	kill(daemon, SIGTERM);
	waitpid(daemon, NULL, 0);
	files = khm_capture_ids(ddir, ".json", NULL, 0);
	TH_LOG("%lld ms of racing: %ld + %ld captures and %ld profiles requested",
	       race_ms, ok[0], ok[1], ok[2]);
	TH_LOG("queued %lld, failed %lld, dropped %lld, left %lld after %lld ms; %d captures on disk",
	       c1.captures - c0.captures, c1.failed - c0.failed,
	       c1.dropped - c0.dropped, c1.len, drain_ms, files);
	EXPECT_LT(0, ok[0]);
	EXPECT_LT(0, ok[1]);
	EXPECT_LT(0, ok[2]);
	EXPECT_LE(ok[0] + ok[1] + ok[2],
		  c1.captures - c0.captures + c1.failed - c0.failed)
		TH_LOG("a request neither queued nor counted as failed");
	EXPECT_EQ(0, c1.len) TH_LOG("the daemon left the queue non-empty");
	EXPECT_LT(0, files);
	EXPECT_EQ(0, khm_exec(NULL, NULL, "%s %s", KHM_RMMOD,
			      KHM_MODULE_NAME));
	munmap(ok, 3 * sizeof(long));
}

TEST_HARNESS_MAIN
