// SPDX-License-Identifier: GPL-2.0
/*
 * kholmesctl against a module that misbehaves (issue 13): the real module,
 * with what passes between it and kholmesctl tampered with on the way.
 * kholmesctl runs under a seccomp filter that hands each of its netlink
 * sendmsg() calls to this test (SECCOMP_RET_USER_NOTIF), which reads the
 * request out of its memory and then lets it go, changes it, or swallows
 * it (sendmsg() succeeds, nothing reaches the kernel, no answer comes).
 *
 *  - a poisoned capture: every request for one capture's records is made
 *    one the module refuses, as a capture that cannot be read; the daemon
 *    tries it 3 times, then writes it as far as it goes (from the queue's
 *    summary, saying why) and acknowledges it, and the good captures
 *    queued after it are written meanwhile. `kholmesctl status --dir`
 *    and the Prometheus file count it;
 *  - a module that does not answer: every request to the kholmes family
 *    is swallowed. `kholmesctl status` fails within its netlink timeout
 *    (KHOLMESCTL_NL_TIMEOUT, 2 s here) instead of waiting for ever, and
 *    the daemon still stops on SIGTERM.
 *
 * Files go to FLT_ROOT/<test>/, kholmesctl's output beside it
 * (FLT_ROOT/<test>.log). Automatic captures are off and the module
 * watches nothing, so that only the tests' own captures are queued.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "kholmes.h"
#include "kt.h"
#include "ctld.h"

#define FLT_ROOT	"/tmp/khm-faults"
#define FLT_WAIT_MS	15000	/* a capture taken and queued, under TCG on a busy host */
#define FLT_DRAIN_MS	30000	/* good captures written */
/* 3 tries 5 s apart (the daemon's resync), then the partial capture */
#define FLT_PARTIAL_MS	45000
#define FLT_TIMEOUT_S	"2"	/* KHOLMESCTL_NL_TIMEOUT */
#define FLT_TRIES	3	/* the daemon's KH_PULL_TRIES */

/* ------------------------------------------------------------------ */
/* the tampering: a seccomp listener over kholmesctl's netlink requests */

enum flt_mode {
	FLT_POISON,	/* GET_CAPTURE of poison_id: made invalid */
	FLT_SILENT,	/* every request to the kholmes family: swallowed */
};

struct flt {
	enum flt_mode mode;
	uint64_t poison_id;
	pid_t pid;		/* kholmesctl */
	int listener;
	pthread_t thread;
	bool running;
	atomic_bool stop;
	atomic_int seen;	/* kholmes requests */
	atomic_int poisoned;	/* GET_CAPTUREs of poison_id made invalid */
	atomic_int swallowed;
	atomic_int errors;	/* notifications that could not be read */
};

static int seccomp(unsigned int op, unsigned int flags, void *args)
{
	return syscall(__NR_seccomp, op, flags, args);
}

/*
 * In the child, before exec: every sendmsg() with flags 0 (how libnl
 * sends) goes to the listener, which is passed to the parent over @sock
 * by a sendmsg() with other flags. 0 or -1.
 */
static int flt_install(int sock)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendmsg, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, args[2])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = ARRAY_SIZE(f), .filter = f };
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = "L", .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	int fd;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	fd = seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
		     &prog);
	if (fd < 0)
		return -1;
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) != 1)
		return -1;
	close(fd);
	return 0;
}

static int flt_recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))], b;
	struct iovec iov = { .iov_base = &b, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

static int peek(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr,
				.iov_len = len };

	return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ?
	       0 : -1;
}

static int poke(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec local = { .iov_base = (void *)buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr,
				.iov_len = len };

	return process_vm_writev(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ?
	       0 : -1;
}

/*
 * One sendmsg() of kholmesctl: the request is read from its memory and
 * let go (a request to the controller family: resolving "kholmes"),
 * swallowed, or its capture id attribute given a type the module does
 * not know, which it refuses (-EINVAL) as a capture it cannot send.
 */
static void flt_one(struct flt *t, const struct seccomp_notif *req,
		    struct seccomp_notif_resp *resp)
{
	unsigned char buf[256];
	struct msghdr mh;
	struct iovec iov[8];
	struct nlmsghdr nlh;
	struct genlmsghdr *g;
	struct nlattr *a;
	size_t total = 0, len, off, i;
	uint16_t bogus = KHOLMES_A_MAX + 1;
	uint64_t id;

	resp->id = req->id;
	resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	resp->error = 0;
	resp->val = 0;
	if (peek(req->pid, req->data.args[1], &mh, sizeof(mh)) ||
	    mh.msg_iovlen < 1 || mh.msg_iovlen > ARRAY_SIZE(iov) ||
	    peek(req->pid, (uintptr_t)mh.msg_iov, iov,
		 mh.msg_iovlen * sizeof(iov[0]))) {
		atomic_fetch_add(&t->errors, 1);
		return;
	}
	for (i = 0; i < mh.msg_iovlen; i++)
		total += iov[i].iov_len;
	len = iov[0].iov_len < sizeof(buf) ? iov[0].iov_len : sizeof(buf);
	if (len < NLMSG_HDRLEN + GENL_HDRLEN ||
	    peek(req->pid, (uintptr_t)iov[0].iov_base, buf, len)) {
		atomic_fetch_add(&t->errors, 1);
		return;
	}
	memcpy(&nlh, buf, sizeof(nlh));
	if (nlh.nlmsg_type == GENL_ID_CTRL)
		return;
	atomic_fetch_add(&t->seen, 1);
	if (t->mode == FLT_SILENT) {
		/* sent, as far as kholmesctl can tell; the kernel never sees it */
		resp->flags = 0;
		resp->val = total;
		atomic_fetch_add(&t->swallowed, 1);
		return;
	}
	g = (struct genlmsghdr *)(buf + NLMSG_HDRLEN);
	if (g->cmd != KHOLMES_CMD_GET_CAPTURE)
		return;
	if (nlh.nlmsg_len < len)
		len = nlh.nlmsg_len;
	for (off = NLMSG_HDRLEN + GENL_HDRLEN; off + NLA_HDRLEN <= len;
	     off += NLA_ALIGN(a->nla_len)) {
		a = (struct nlattr *)(buf + off);
		if (a->nla_len < NLA_HDRLEN)
			break;
		if (a->nla_type != KHOLMES_A_CAPTURE_ID ||
		    a->nla_len != NLA_HDRLEN + sizeof(id) ||
		    off + a->nla_len > len)
			continue;
		memcpy(&id, buf + off + NLA_HDRLEN, sizeof(id));
		if (id != t->poison_id)
			return;
		if (poke(req->pid, (uintptr_t)iov[0].iov_base + off +
			 offsetof(struct nlattr, nla_type), &bogus,
			 sizeof(bogus))) {
			atomic_fetch_add(&t->errors, 1);
			return;
		}
		atomic_fetch_add(&t->poisoned, 1);
		return;
	}
}

static void *flt_thread(void *arg)
{
	struct seccomp_notif_sizes sz;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	struct flt *t = arg;
	struct pollfd p;

	if (seccomp(SECCOMP_GET_NOTIF_SIZES, 0, &sz))
		return NULL;
	req = calloc(1, sz.seccomp_notif > sizeof(*req) ?
		     sz.seccomp_notif : sizeof(*req));
	resp = calloc(1, sz.seccomp_notif_resp > sizeof(*resp) ?
		      sz.seccomp_notif_resp : sizeof(*resp));
	while (req && resp && !atomic_load(&t->stop)) {
		p = (struct pollfd){ .fd = t->listener, .events = POLLIN };
		if (poll(&p, 1, 100) <= 0)
			continue;
		if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
			break;	/* kholmesctl is gone */
		memset(req, 0, sz.seccomp_notif);
		if (ioctl(t->listener, SECCOMP_IOCTL_NOTIF_RECV, req))
			continue;
		flt_one(t, req, resp);
		/* it may have died meanwhile: nothing to answer then */
		ioctl(t->listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
	}
	free(req);
	free(resp);
	return NULL;
}

/*
 * `kholmesctl ARGS...` (NULL-terminated) under the listener, its stdout
 * and stderr appended to @log, KHOLMESCTL_NL_TIMEOUT set to @timeout (if
 * given). 0, or -1 when it could not be started.
 */
static __attribute__((sentinel)) int flt_start(struct flt *t, const char *log,
					       const char *timeout, ...)
{
	char *argv[16];
	int argc = 0, sv[2], fd, st;
	va_list ap;

	argv[argc++] = (char *)khm_ctl_path();
	va_start(ap, timeout);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;

	t->pid = -1;
	t->listener = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	fflush(stdout);
	fflush(stderr);
	t->pid = fork();
	if (t->pid < 0)
		goto fail;
	if (!t->pid) {
		int null = open("/dev/null", O_RDONLY);

		if (null >= 0)
			dup2(null, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		unsetenv("NOTIFY_SOCKET");
		if (timeout)
			setenv("KHOLMESCTL_NL_TIMEOUT", timeout, 1);
		if (flt_install(sv[1])) {
			dprintf(fd, "# installing the seccomp listener: %m\n");
			_exit(126);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd);
	fd = -1;
	close(sv[1]);
	sv[1] = -1;
	t->listener = flt_recv_fd(sv[0]);
	close(sv[0]);
	if (t->listener < 0) {
		waitpid(t->pid, &st, 0);
		t->pid = -1;
		return -1;
	}
	atomic_store(&t->stop, false);
	if (pthread_create(&t->thread, NULL, flt_thread, t))
		return -1;
	t->running = true;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	return -1;
}

/* Its wait status within @timeout_ms, or -1 (it is then killed). */
static int flt_wait(struct flt *t, int timeout_ms)
{
	long long end = kt_now_ms() + timeout_ms;
	int status = -1;

	do {
		if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
			t->pid = -1;
			return status;
		}
		kt_sleep_ms(20);
	} while (kt_now_ms() < end);
	kill(t->pid, SIGKILL);
	waitpid(t->pid, NULL, 0);
	t->pid = -1;
	return -1;
}

static void flt_stop(struct flt *t)
{
	if (t->pid > 0) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, NULL, 0);
		t->pid = -1;
	}
	if (t->running) {
		atomic_store(&t->stop, true);
		pthread_join(t->thread, NULL);
		t->running = false;
	}
	if (t->listener >= 0)
		close(t->listener);
	t->listener = -1;
}

/* ------------------------------------------------------------------ */

FIXTURE(flt) {
	struct kt_state state;
	struct json_object *config;
	struct kt_wl wl;
	struct flt t;
	char dir[PATH_MAX];
	char log[PATH_MAX];
	long long quiet;	/* since when automatic captures are off */
};

FIXTURE_SETUP(flt)
{
	char drain[PATH_MAX + 16];

	self->wl = (struct kt_wl)KT_WL_INIT;
	self->t = (struct flt){ .pid = -1, .listener = -1 };
	ASSERT_EQ(0, kt_state_save(&self->state));
	json_object_put(self->state.config);
	self->state.config = NULL;
	self->config = khm_config_save();
	ASSERT_NE(NULL, self->config);
	ASSERT_EQ(0, kt_ctl("config set capture-rate 0 max-threads 64 max-captures 64 max-queue-kb 16384"));
	ASSERT_EQ(0, kt_watch_none());
	self->quiet = kt_now_ms();
	snprintf(self->dir, sizeof(self->dir), FLT_ROOT "/%s", _metadata->name);
	snprintf(self->log, sizeof(self->log), FLT_ROOT "/%s.log",
		 _metadata->name);
	ASSERT_EQ(0, khm_mkdir_p(self->dir));
	snprintf(drain, sizeof(drain), FLT_ROOT "/%s.drain", _metadata->name);
	ASSERT_EQ(0, khm_mkdir_p(drain));
	ASSERT_EQ(0, khm_pull(drain));
}

FIXTURE_TEARDOWN(flt)
{
	char drain[PATH_MAX + 16];

	flt_stop(&self->t);
	kt_wl_stop(&self->wl);
	snprintf(drain, sizeof(drain), FLT_ROOT "/%s.drain", _metadata->name);
	EXPECT_EQ(0, khm_pull(drain));
	EXPECT_EQ(0, kt_state_restore(&self->state));
	EXPECT_EQ(0, khm_config_restore(self->config));
	json_object_put(self->config);
}

/*
 * Issue 13: "a capture that cannot be decoded or unwound after N tries is
 * written as far as it goes and acknowledged, counted in status and the
 * Prometheus file", and "a poisoned capture followed by good ones".
 */
TEST_F_TIMEOUT(flt, poisoned_capture_then_good_ones, 120)
{
	char settle_dir[PATH_MAX + 16], prom[PATH_MAX + 8], path[PATH_MAX];
	struct json_object *st;
	long long ids[3];
	char *text, *out = NULL;
	int status, i, ret;
	long long c0;

	snprintf(settle_dir, sizeof(settle_dir), FLT_ROOT "/%s.settle",
		 _metadata->name);
	ASSERT_EQ(0, khm_captures_settle(self->quiet, settle_dir));
	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 10000, "sleeper", NULL));
	c0 = kt_status("captures");
	for (i = 0; i < 3; i++) {
		ids[i] = khm_capture(self->wl.pid, NULL);
		ASSERT_LT(0, ids[i]);
		ASSERT_EQ(c0 + i + 1, ctld_wait_status("captures", c0 + i + 1,
						  FLT_WAIT_MS));
	}

	/* the oldest is poisoned: the two after it must not wait on it */
	self->t.mode = FLT_POISON;
	self->t.poison_id = ids[0];
	snprintf(prom, sizeof(prom), FLT_ROOT "/%s.prom", _metadata->name);
	ASSERT_EQ(0, flt_start(&self->t, self->log, NULL, "daemon", "--dir",
			       self->dir, "--prom-file", prom, NULL))
		ctld_log_tail(self->log);
	EXPECT_TRUE(ctld_wait_delivered(self->dir, ids + 1, 2, FLT_DRAIN_MS))
		ctld_log_tail(self->log);
	EXPECT_TRUE(ctld_wait_delivered(self->dir, ids, 1, FLT_PARTIAL_MS))
		ctld_log_tail(self->log);
	EXPECT_EQ(FLT_TRIES, atomic_load(&self->t.poisoned));
	EXPECT_EQ(0, atomic_load(&self->t.errors));

	/* the partial capture says why, and what it is from the queue's summary */
	ASSERT_EQ(1, khm_capture_path(self->dir, ids[0], ".txt", path,
				      sizeof(path)));
	text = khm_slurp(path, NULL);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "not read whole after 3 tries"))
		TH_LOG("%s", khm_oneline(text));
	EXPECT_NE(NULL, strstr(text, "sleeper")) TH_LOG("%s", khm_oneline(text));
	free(text);
	/* the good ones are whole */
	for (i = 1; i < 3; i++) {
		ASSERT_EQ(1, khm_capture_path(self->dir, ids[i], ".txt", path,
					      sizeof(path)));
		text = khm_slurp(path, NULL);
		ASSERT_NE(NULL, text);
		EXPECT_EQ(NULL, strstr(text, "not read whole"))
			TH_LOG("capture %lld: %s", ids[i], khm_oneline(text));
		free(text);
	}
	text = khm_slurp(self->log, NULL);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "written as far as it goes, then acknowledged"))
		TH_LOG("%s", khm_oneline(text));
	free(text);

	/* counted: status (text and JSON), the Prometheus file */
	ret = khm_run(&out, NULL, "status --dir %s", self->dir);
	EXPECT_EQ(0, ret);
	EXPECT_TRUE(out && strstr(out, "captures-partial 1\n"))
		TH_LOG("%s", out ? khm_oneline(out) : "(none)");
	free(out);
	st = khm_json("status --dir %s", self->dir);
	ASSERT_NE(NULL, st);
	EXPECT_EQ(1, khm_json_int(st, "captures-partial"));
	EXPECT_STREQ(self->dir, khm_json_str(st, "capture-dir"));
	json_object_put(st);
	text = khm_slurp(prom, NULL);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "\nkholmes_captures_partial_total 1\n"))
		TH_LOG("%s", khm_oneline(text));
	free(text);

	kill(self->t.pid, SIGTERM);
	status = flt_wait(&self->t, 10000);
	EXPECT_TRUE(status != -1 && WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("daemon after SIGTERM: status 0x%x", status);
	flt_stop(&self->t);

	/* the count outlives the daemon */
	st = khm_json("status --dir %s", self->dir);
	ASSERT_NE(NULL, st);
	EXPECT_EQ(1, khm_json_int(st, "captures-partial"));
	json_object_put(st);
}

/*
 * Issue 13: "every netlink wait has a timeout". The module never sees a
 * request: status gives up after KHOLMESCTL_NL_TIMEOUT with exit 1 and
 * says why; without SO_RCVTIMEO it would wait for ever.
 */
TEST_F_TIMEOUT(flt, silent_module_times_out, 60)
{
	long long t0, took;
	char *text;
	int status;

	self->t.mode = FLT_SILENT;
	t0 = kt_now_ms();
	ASSERT_EQ(0, flt_start(&self->t, self->log, FLT_TIMEOUT_S, "status",
			       NULL))
		ctld_log_tail(self->log);
	status = flt_wait(&self->t, 15000);
	took = kt_now_ms() - t0;
	EXPECT_NE(-1, status) TH_LOG("status still waiting after 15 s");
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == KHM_EXIT_FAIL)
		TH_LOG("status: wait status 0x%x", status);
	EXPECT_LE(2000, took);
	EXPECT_EQ(1, atomic_load(&self->t.swallowed));
	flt_stop(&self->t);
	text = khm_slurp(self->log, NULL);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, "no answer from the module within 2 s"))
		TH_LOG("%s", khm_oneline(text));
	free(text);
	TH_LOG("status gave up after %lld ms", took);
}

/*
 * The daemon on a silent module: each wait ends, it reconnects and tries
 * again, and SIGTERM still stops it with 0.
 */
TEST_F_TIMEOUT(flt, silent_module_daemon_stops, 60)
{
	long long end;
	char *text = NULL;
	int status;

	self->t.mode = FLT_SILENT;
	ASSERT_EQ(0, flt_start(&self->t, self->log, FLT_TIMEOUT_S, "daemon",
			       "--dir", self->dir, NULL))
		ctld_log_tail(self->log);
	/* two requests given up: the hello at start, then the list */
	end = kt_now_ms() + 20000;
	while (kt_now_ms() < end && atomic_load(&self->t.swallowed) < 2)
		kt_sleep_ms(50);
	EXPECT_LE(2, atomic_load(&self->t.swallowed));
	end = kt_now_ms() + 10000;
	do {
		free(text);
		text = khm_slurp(self->log, NULL);
		if (text && strstr(text, "no answer from the module"))
			break;
		kt_sleep_ms(100);
	} while (kt_now_ms() < end);
	EXPECT_TRUE(text && strstr(text, "no answer from the module within 2 s"))
		TH_LOG("%s", text ? khm_oneline(text) : "(no log)");
	free(text);
	kill(self->t.pid, SIGTERM);
	/* within one netlink timeout and a little */
	status = flt_wait(&self->t, 10000);
	EXPECT_TRUE(status != -1 && WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("daemon after SIGTERM: status 0x%x", status);
}

TEST_HARNESS_MAIN
