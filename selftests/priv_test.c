// SPDX-License-Identifier: GPL-2.0
/*
 * Privilege (issue 6, item 2). The decision, as the module implements it:
 * every command that changes state or returns stacks (SET_CONFIG,
 * SET_RULE, ADD_WATCH, DEL_WATCH, CLEAR_WATCH, CAPTURE, PROFILE,
 * LIST_CAPTURES, GET_CAPTURE, ACK_CAPTURE) carries GENL_ADMIN_PERM: CAP_NET_ADMIN in the
 * initial user namespace, held both by the process that opened the socket
 * and by the one that sends; CAPTURE, PROFILE and GET_CAPTURE need
 * CAP_SYS_ADMIN (or CAP_PERFMON and CAP_SYS_PTRACE) too (issue 12,
 * limits_test). The status, configuration, rules and watch list
 * (GET_STATUS, GET_CONFIG, GET_RULES, GET_WATCH) are readable by anyone,
 * in full; stacks are not. The process list (GET_PROCS) is what a /proc
 * mounted hidepid=invisible would show (issue 12): within the reader's pid
 * namespace (limits_test), and to a caller that may not read stacks only
 * the processes it could ptrace-read: the same fs uid and gid as all of
 * the process's, or CAP_SYS_PTRACE over it, and a dumpable process, for
 * both the socket's opener and the sender (the hide fixture: a process of
 * uid 65534, one of uid 1000, a non-dumpable one of uid 65534, one of root
 * and pid 1, listed to each of the six callers below, and to kholmesctl
 * ps as uid 65534).
 *
 * For each privileged command, a request that would change something (or
 * read a stack) is refused with EPERM, and changes nothing, when it comes
 * from:
 *   - uid 65534 without capabilities;
 *   - "root" of a user namespace that uid 65534 created (uid 0 there, all
 *     capabilities there);
 *   - root that entered a new user namespace (uid 0 mapped to 0);
 *   - uid 65534 sending on a socket root opened;
 *   - root writing (send(), no address) on a socket uid 65534 opened, as
 *     a privileged program does with a socket it is handed as stdout;
 * and root's request is carried out. The other read commands answer uid
 * 65534 and a user namespace's root exactly as they answer root.
 *
 * Through kholmesctl: an unprivileged `ps` lists its own process with its
 * values, and no other; unprivileged `captures` and `capture pid 1` exit 1
 * with "Operation not permitted".
 *
 * No reply holds a raw kernel address: every read reply, the capture list
 * and whole captures (pid 1, kthreadd, a sleeping and a spinning child,
 * a cpu profile of the spinner) are scanned (below), and each kernel frame
 * is a symbol ("func+0x1/0x2", "func+0x1/0x2 [mod]" or "?"), never
 * "0xffff...". Multicast events, which anyone may listen to, carry
 * summaries only: no thread, stack or mapping record.
 *
 * Kernel addresses: every u64 of every attribute of those replies (at
 * 8-byte steps from the start of each payload) is checked against
 * [0xffff800000000000, 2^64), or [0xff00000000000000, 2^64) when the kernel
 * runs with 5-level paging (la57, which qemu -cpu max has). Two things are no kernel address and are
 * counted and printed each time, never silently: -4095..-1 in the saved
 * user registers (THREAD.UREGS), which is the -ENOSYS a thread blocked in a
 * syscall has in its ax (the kernel never maps that page); and a word of a
 * user stack copy (USTACK.DATA, arbitrary user data: a pair of ints 0, -1
 * reads 0xffffffff00000000) that is exactly what /proc/PID/mem holds at
 * that address. A word of the copy in the kernel half that the process's
 * memory does not hold is a leak.
 *
 * A user namespace the kernel does not let uid 65534 create is a SKIP that
 * says why.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kholmes.h"
#include "kt.h"

#define PRIV_COMM	"khm-priv"
#define PRIV_WAIT_MS	15000	/* a capture queued, under TCG */
#define PRIV_MAX_REPLY	(4 << 20)

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* replies */

/* Each message of a reply buffer, checked to fit. */
#define for_each_msg(nlh, buf, len, left)					\
	for (left = (len), nlh = (const struct nlmsghdr *)(buf);		\
	     left >= NLMSG_HDRLEN && nlh->nlmsg_len >= NLMSG_HDRLEN &&		\
	     nlh->nlmsg_len <= left;						\
	     left -= NLMSG_ALIGN(nlh->nlmsg_len) < left ?			\
		     NLMSG_ALIGN(nlh->nlmsg_len) : left,			\
	     nlh = (const struct nlmsghdr *)((const uint8_t *)nlh +		\
					     NLMSG_ALIGN(nlh->nlmsg_len)))

static const uint8_t *msg_attrs(const struct nlmsghdr *nlh, size_t *len)
{
	if (nlh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		return NULL;
	*len = nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	return (const uint8_t *)NLMSG_DATA(nlh) + GENL_HDRLEN;
}

static const void *nla_payload(const struct nlattr *a)
{
	return (const uint8_t *)a + NLA_HDRLEN;
}

static const struct nlattr *nest_find(const struct nlattr *nest, int type)
{
	return khm_nla_find(nla_payload(nest), nest->nla_len - NLA_HDRLEN, type);
}

/* The first kholmes message of a reply: its genl header and attributes. */
static const uint8_t *first_body(const void *raw, size_t len, uint16_t family,
				 size_t *blen)
{
	const struct nlmsghdr *nlh;
	size_t left;

	for_each_msg(nlh, raw, len, left) {
		if (nlh->nlmsg_type == family &&
		    nlh->nlmsg_len >= NLMSG_LENGTH(GENL_HDRLEN)) {
			*blen = nlh->nlmsg_len - NLMSG_HDRLEN;
			return NLMSG_DATA(nlh);
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* requests as someone else */

enum who {
	WHO_ROOT,
	WHO_NOBODY,		/* uid 65534, no capabilities */
	WHO_USERNS_NOBODY,	/* root of a user namespace uid 65534 made */
	WHO_USERNS_ROOT,	/* root, in a new user namespace, 0 -> 0 */
	WHO_NOBODY_SENDS,	/* uid 65534 on a socket root opened */
	WHO_ROOT_SENDS,		/* root writing on a socket uid 65534 opened */
};

static const char * const who_name[] = {
	[WHO_ROOT] = "root",
	[WHO_NOBODY] = "uid 65534",
	[WHO_USERNS_NOBODY] = "root of uid 65534's user namespace",
	[WHO_USERNS_ROOT] = "root in a new user namespace",
	[WHO_NOBODY_SENDS] = "uid 65534 on root's socket",
	[WHO_ROOT_SENDS] = "root writing on uid 65534's socket",
};

struct request {
	uint8_t cmd;
	uint16_t flags;
	uint8_t attrs[64];
	size_t len;
};

struct outcome {
	int ret;		/* the request's: 0 or -errno */
	int skip;		/* the identity could not be taken on */
	int setup;		/* it could not be taken on: a failure */
	char why[256];
	size_t len;		/* reply bytes that follow on the pipe */
};

static bool has_cap(int cap)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { 0 };

	if (syscall(SYS_capget, &hdr, data))
		return false;
	return data[cap / 32].effective & (1U << (cap % 32));
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		ret = -errno;
	close(fd);
	return ret;
}

static int drop_to_nobody(void)
{
	if (setgroups(0, NULL) || setresgid(KHM_NOBODY, KHM_NOBODY, KHM_NOBODY) ||
	    setresuid(KHM_NOBODY, KHM_NOBODY, KHM_NOBODY))
		return -errno;
	/* changing uid made /proc/self root's: the id maps need it ours */
	if (prctl(PR_SET_DUMPABLE, 1))
		return -errno;
	return 0;
}

/* Enter a new user namespace and be its uid 0, as @outer in the one above. */
static int enter_userns(uid_t outer, struct outcome *o)
{
	char map[64];
	int ret;

	if (unshare(CLONE_NEWUSER)) {
		o->skip = errno;
		snprintf(o->why, sizeof(o->why), "unshare(CLONE_NEWUSER) as uid %u: %s",
			 outer, strerror(errno));
		return -1;
	}
	snprintf(map, sizeof(map), "0 %u 1", outer);
	ret = write_file("/proc/self/setgroups", "deny");
	if (!ret)
		ret = write_file("/proc/self/uid_map", map);
	if (!ret)
		ret = write_file("/proc/self/gid_map", map);
	if (ret) {
		o->setup = 1;
		snprintf(o->why, sizeof(o->why), "mapping uid %u to 0: %s", outer,
			 strerror(-ret));
		return -1;
	}
	if (getuid() != 0 || !has_cap(CAP_NET_ADMIN)) {
		o->setup = 1;
		snprintf(o->why, sizeof(o->why),
			 "in the user namespace: uid %u, CAP_NET_ADMIN %d", getuid(),
			 has_cap(CAP_NET_ADMIN));
		return -1;
	}
	return 0;
}

/* In the child: take on @who, with @g opened as @who requires. */
static int become(enum who who, struct khm_genl *g, struct outcome *o)
{
	int ret = 0;

	switch (who) {
	case WHO_ROOT:
		break;
	case WHO_NOBODY:
		ret = drop_to_nobody();
		break;
	case WHO_USERNS_NOBODY:
		ret = drop_to_nobody();
		if (!ret && enter_userns(KHM_NOBODY, o))
			return -1;
		break;
	case WHO_USERNS_ROOT:
		if (enter_userns(0, o))
			return -1;
		break;
	case WHO_NOBODY_SENDS:
		ret = khm_genl_open(g);
		if (ret) {
			o->setup = 1;
			snprintf(o->why, sizeof(o->why), "socket as root: %s", strerror(-ret));
			return -1;
		}
		ret = drop_to_nobody();
		break;
	case WHO_ROOT_SENDS:
		/* keep uid 0 saved: the effective capabilities come back with it */
		if (setresuid(KHM_NOBODY, KHM_NOBODY, 0))
			ret = -errno;
		else if (has_cap(CAP_NET_ADMIN))
			ret = -EPERM;
		if (!ret) {
			ret = khm_genl_open(g);
			if (ret) {
				o->setup = 1;
				snprintf(o->why, sizeof(o->why), "socket as uid 65534: %s",
					 strerror(-ret));
				return -1;
			}
		}
		/*
		 * send(), no address: what a privileged program does with a
		 * socket it was handed as stdout. With an address the kernel
		 * checks only the sender.
		 */
		g->plain = 1;
		if (!ret && setresuid(0, 0, 0))
			ret = -errno;
		if (!ret && !has_cap(CAP_NET_ADMIN))
			ret = -EPERM;
		break;
	}
	if (ret) {
		o->setup = 1;
		snprintf(o->why, sizeof(o->why), "becoming %s: %s", who_name[who],
			 strerror(-ret));
		return -1;
	}
	if (who != WHO_ROOT && who != WHO_ROOT_SENDS && who != WHO_USERNS_NOBODY &&
	    who != WHO_USERNS_ROOT && has_cap(CAP_NET_ADMIN)) {
		o->setup = 1;
		snprintf(o->why, sizeof(o->why), "%s still has CAP_NET_ADMIN", who_name[who]);
		return -1;
	}
	if (who != WHO_NOBODY_SENDS && who != WHO_ROOT_SENDS) {
		ret = khm_genl_open(g);
		if (ret) {
			o->setup = 1;
			snprintf(o->why, sizeof(o->why), "socket as %s: %s", who_name[who],
				 strerror(-ret));
			return -1;
		}
	}
	return 0;
}

/*
 * Send @req as @who, from a child process. The outcome in *@o, the reply
 * bytes (if @raw) in *@raw, to be freed. Returns 0 when the request was
 * sent at all.
 */
static int request_as(enum who who, const struct request *req, struct outcome *o,
		      void **raw, size_t *raw_len)
{
	int pipefd[2], status;
	pid_t pid;
	ssize_t n;

	memset(o, 0, sizeof(*o));
	if (raw)
		*raw = NULL;
	if (raw_len)
		*raw_len = 0;
	if (pipe(pipefd))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct khm_genl g = { .fd = -1 };
		struct outcome out = { 0 };
		void *buf = NULL;
		size_t len = 0;

		close(pipefd[0]);
		if (!become(who, &g, &out)) {
			out.ret = khm_genl_request(&g, req->cmd, req->flags, req->attrs,
						   req->len, &buf, &len);
			out.len = len > PRIV_MAX_REPLY ? 0 : len;
		}
		if (write(pipefd[1], &out, sizeof(out)) != sizeof(out) ||
		    (out.len && write(pipefd[1], buf, out.len) != (ssize_t)out.len))
			_exit(1);
		_exit(0);
	}
	close(pipefd[1]);
	n = read(pipefd[0], o, sizeof(*o));
	if (n != sizeof(*o)) {
		o->setup = 1;
		snprintf(o->why, sizeof(o->why), "no outcome from the child");
	} else if (o->len) {
		uint8_t *buf = malloc(o->len);
		size_t got = 0;

		while (buf && got < o->len) {
			n = read(pipefd[0], buf + got, o->len - got);
			if (n <= 0)
				break;
			got += n;
		}
		if (raw && got == o->len) {
			*raw = buf;
			*raw_len = got;
		} else {
			free(buf);
		}
	}
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	return 0;
}

/* ------------------------------------------------------------------ */
/* the module's state, raw */

struct state {
	void *raw[3];		/* GET_CONFIG, GET_RULES, GET_WATCH */
	size_t len[3];
	uint64_t ids[256];	/* queued captures */
	uint32_t flags[256];
	int nids;
};

static const uint8_t state_cmds[3] = {
	KHOLMES_CMD_GET_CONFIG, KHOLMES_CMD_GET_RULES, KHOLMES_CMD_GET_WATCH,
};
static const char * const state_names[3] = { "config", "rules", "watch list" };

static void state_free(struct state *st)
{
	for (int i = 0; i < 3; i++) {
		free(st->raw[i]);
		st->raw[i] = NULL;
	}
}

static int queue_ids(struct khm_genl *g, struct state *st)
{
	const struct nlmsghdr *nlh;
	void *raw = NULL;
	size_t len = 0, left;
	int ret;

	st->nids = 0;
	ret = khm_genl_request(g, KHOLMES_CMD_LIST_CAPTURES, NLM_F_DUMP, NULL, 0, &raw, &len);
	for_each_msg(nlh, raw, ret ? 0 : len, left) {
		const struct nlattr *c, *id, *fl;
		const uint8_t *a;
		size_t alen;

		if (nlh->nlmsg_type != g->family || !(a = msg_attrs(nlh, &alen)))
			continue;
		c = khm_nla_find(a, alen, KHOLMES_A_CAPTURE);
		id = c ? nest_find(c, KHOLMES_CAPTURE_ID) : NULL;
		fl = c ? nest_find(c, KHOLMES_CAPTURE_FLAGS) : NULL;
		if (id && st->nids < 256) {
			memcpy(&st->ids[st->nids], nla_payload(id), 8);
			st->flags[st->nids] = fl ? *(const uint32_t *)nla_payload(fl) : 0;
			st->nids++;
		}
	}
	free(raw);
	return ret;
}

static bool state_has_id(const struct state *st, uint64_t id)
{
	for (int i = 0; i < st->nids; i++)
		if (st->ids[i] == id)
			return true;
	return false;
}

static int state_read(struct khm_genl *g, struct state *st)
{
	int ret = 0;

	memset(st, 0, sizeof(*st));
	for (int i = 0; i < 3 && !ret; i++)
		ret = khm_genl_request(g, state_cmds[i], 0, NULL, 0, &st->raw[i], &st->len[i]);
	if (!ret)
		ret = queue_ids(g, st);
	if (ret)
		state_free(st);
	return ret;
}

/*
 * @b is @a: config, rules and watch list byte for byte; every capture of
 * @a still queued, and no manual capture that @a did not have. Differences
 * are TAP comments.
 */
static bool state_unchanged(const struct state *a, const struct state *b, uint16_t family)
{
	bool same = true;

	for (int i = 0; i < 3; i++) {
		size_t la = 0, lb = 0;
		const uint8_t *pa = first_body(a->raw[i], a->len[i], family, &la);
		const uint8_t *pb = first_body(b->raw[i], b->len[i], family, &lb);

		if (!pa || !pb || la != lb || memcmp(pa, pb, la)) {
			fprintf(stderr, "# priv: the %s changed\n", state_names[i]);
			same = false;
		}
	}
	for (int i = 0; i < a->nids; i++) {
		if (!state_has_id(b, a->ids[i])) {
			fprintf(stderr, "# priv: capture %llu is gone\n",
				(unsigned long long)a->ids[i]);
			same = false;
		}
	}
	for (int i = 0; i < b->nids; i++) {
		if (!state_has_id(a, b->ids[i]) && (b->flags[i] & KHOLMES_CAPTURE_F_MANUAL)) {
			fprintf(stderr, "# priv: a manual capture %llu appeared\n",
				(unsigned long long)b->ids[i]);
			same = false;
		}
	}
	return same;
}

/* Member @type of the raw config, or -1. */
static long long cfg_member(const struct state *st, uint16_t family, int type)
{
	size_t blen;
	const uint8_t *b = first_body(st->raw[0], st->len[0], family, &blen);
	const struct nlattr *cfg, *a;

	cfg = b ? khm_nla_find(b + GENL_HDRLEN, blen - GENL_HDRLEN, KHOLMES_A_CONFIG) : NULL;
	a = cfg ? nest_find(cfg, type) : NULL;
	if (!a)
		return -1;
	return a->nla_len == NLA_HDRLEN + 1 ? *(const uint8_t *)nla_payload(a) :
					      *(const uint32_t *)nla_payload(a);
}

/* Member @type of the rule of @metric in the raw rules, or -1. */
static long long rule_member(const struct state *st, uint16_t family, uint32_t metric,
			     int type)
{
	size_t blen, off;
	const uint8_t *b = first_body(st->raw[1], st->len[1], family, &blen);

	for (off = GENL_HDRLEN; b && blen - off >= NLA_HDRLEN;) {
		const struct nlattr *r = (const void *)(b + off), *m, *a;

		if (r->nla_len < NLA_HDRLEN || r->nla_len > blen - off)
			break;
		m = nest_find(r, KHOLMES_RULE_METRIC);
		if (m && *(const uint32_t *)nla_payload(m) == metric) {
			a = nest_find(r, type);
			return a ? (long long)*(const uint32_t *)nla_payload(a) : -1;
		}
		off += NLA_ALIGN(r->nla_len);
	}
	return -1;
}

/* Whether the raw watch list has comm @comm. */
static bool watch_has_comm(const struct state *st, uint16_t family, const char *comm)
{
	size_t blen, off;
	const uint8_t *b = first_body(st->raw[2], st->len[2], family, &blen);

	for (off = GENL_HDRLEN; b && blen - off >= NLA_HDRLEN;) {
		const struct nlattr *w = (const void *)(b + off), *c;

		if (w->nla_len < NLA_HDRLEN || w->nla_len > blen - off)
			break;
		c = nest_find(w, KHOLMES_WATCH_COMM);
		if (c && !strcmp(nla_payload(c), comm))
			return true;
		off += NLA_ALIGN(w->nla_len);
	}
	return false;
}

/* Put the raw watch list of @st back, in its order. */
static int watch_restore(struct khm_genl *g, const struct state *st)
{
	size_t blen, off;
	const uint8_t *b = first_body(st->raw[2], st->len[2], g->family, &blen);
	int ret = khm_genl_request(g, KHOLMES_CMD_CLEAR_WATCH, 0, NULL, 0, NULL, NULL);

	for (off = GENL_HDRLEN; !ret && b && blen - off >= NLA_HDRLEN;) {
		const struct nlattr *w = (const void *)(b + off);

		if (w->nla_len < NLA_HDRLEN || w->nla_len > blen - off)
			break;
		ret = khm_genl_request(g, KHOLMES_CMD_ADD_WATCH, 0, w, w->nla_len, NULL, NULL);
		off += NLA_ALIGN(w->nla_len);
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* requests */

static void req_init(struct request *r, uint8_t cmd, uint16_t flags)
{
	memset(r, 0, sizeof(*r));
	r->cmd = cmd;
	r->flags = flags;
}

static void req_u32(struct request *r, int type, uint32_t v)
{
	r->len = khm_nla_put(r->attrs, r->len, type, &v, 4);
}

static void req_u64(struct request *r, int type, uint64_t v)
{
	r->len = khm_nla_put(r->attrs, r->len, type, &v, 8);
}

static void req_nest_u32(struct request *r, int nest, int type, uint32_t v,
			 int type2, uint32_t v2)
{
	size_t start = khm_nla_nest_start(r->attrs, r->len, nest);

	r->len = khm_nla_put(r->attrs, start + NLA_HDRLEN, type, &v, 4);
	if (type2)
		r->len = khm_nla_put(r->attrs, r->len, type2, &v2, 4);
	khm_nla_nest_end(r->attrs, start, r->len);
}

static void req_watch_comm(struct request *r, const char *comm)
{
	size_t start = khm_nla_nest_start(r->attrs, r->len, KHOLMES_A_WATCH);

	r->len = khm_nla_put(r->attrs, start + NLA_HDRLEN, KHOLMES_WATCH_COMM, comm,
			     strlen(comm) + 1);
	khm_nla_nest_end(r->attrs, start, r->len);
}

/* A manual capture of @pid as root; its id, or 0 with the reason logged. */
static uint64_t capture(struct khm_genl *g, pid_t pid)
{
	struct request r;
	const struct nlattr *id;
	const uint8_t *b;
	void *raw = NULL;
	size_t len = 0, blen;
	uint64_t v = 0;
	int ret;

	req_init(&r, KHOLMES_CMD_CAPTURE, 0);
	req_u32(&r, KHOLMES_A_PID, pid);
	ret = khm_genl_request(g, r.cmd, 0, r.attrs, r.len, &raw, &len);
	b = ret ? NULL : first_body(raw, len, g->family, &blen);
	id = b ? khm_nla_find(b + GENL_HDRLEN, blen - GENL_HDRLEN, KHOLMES_A_CAPTURE_ID) : NULL;
	if (id)
		memcpy(&v, nla_payload(id), 8);
	else
		fprintf(stderr, "# priv: CAPTURE pid %d: %s\n", pid,
			ret ? strerror(-ret) : "no id in the reply");
	free(raw);
	return v;
}

/* A 1 s cpu profile of @pid at 99 Hz as root; its capture's id, or 0. */
static uint64_t profile(struct khm_genl *g, pid_t pid)
{
	struct request r;
	const struct nlattr *id;
	const uint8_t *b;
	void *raw = NULL;
	size_t len = 0, blen;
	uint64_t v = 0;
	int ret;

	req_init(&r, KHOLMES_CMD_PROFILE, 0);
	req_u32(&r, KHOLMES_A_PID, pid);
	req_u32(&r, KHOLMES_A_PROFILE_KIND, KHOLMES_PROFILE_CPU);
	req_u32(&r, KHOLMES_A_PROFILE_S, 1);
	req_u32(&r, KHOLMES_A_PROFILE_HZ, 99);
	ret = khm_genl_request(g, r.cmd, 0, r.attrs, r.len, &raw, &len);
	b = ret ? NULL : first_body(raw, len, g->family, &blen);
	id = b ? khm_nla_find(b + GENL_HDRLEN, blen - GENL_HDRLEN, KHOLMES_A_CAPTURE_ID) : NULL;
	if (id)
		memcpy(&v, nla_payload(id), 8);
	else
		fprintf(stderr, "# priv: PROFILE pid %d: %s\n", pid,
			ret ? strerror(-ret) : "no id in the reply");
	free(raw);
	return v;
}

/*
 * A cpu profile of @pid (profile()), retried while another profile runs:
 * one started before the setup scoped the module ends within profile-s.
 */
static uint64_t profile_when_free(struct khm_genl *g, pid_t pid)
{
	long long end = now_ms() + PRIV_WAIT_MS;
	uint64_t id;

	while (!(id = profile(g, pid)) && now_ms() < end)
		usleep(200000);
	return id;
}

/* Wait until capture @id is queued. */
static bool capture_wait(struct khm_genl *g, uint64_t id)
{
	long long end = now_ms() + PRIV_WAIT_MS;
	struct state st;

	do {
		if (!queue_ids(g, &st) && state_has_id(&st, id))
			return true;
		usleep(50000);
	} while (now_ms() < end);
	fprintf(stderr, "# priv: capture %llu not queued after %d ms\n",
		(unsigned long long)id, PRIV_WAIT_MS);
	return false;
}

/*
 * Wait until root's process list has a process with values (the sampler
 * needs two passes after the module was loaded): how many it lists.
 */
static int procs_ready(struct khm_genl *g)
{
	long long end = now_ms() + PRIV_WAIT_MS;
	int n;

	do {
		const struct nlmsghdr *nlh;
		void *raw = NULL;
		size_t len = 0, left;
		int values = 0;

		n = 0;
		if (khm_genl_request(g, KHOLMES_CMD_GET_PROCS, NLM_F_DUMP, NULL, 0, &raw, &len))
			len = 0;
		for_each_msg(nlh, raw, len, left) {
			const struct nlattr *p, *v;
			const uint8_t *a;
			size_t alen;

			if (nlh->nlmsg_type != g->family || !(a = msg_attrs(nlh, &alen)) ||
			    !(p = khm_nla_find(a, alen, KHOLMES_A_PROC)))
				continue;
			n++;
			v = nest_find(p, KHOLMES_PROC_VALUES);
			values += v && v->nla_len > NLA_HDRLEN;
		}
		free(raw);
		if (values)
			return n;
		usleep(200000);
	} while (now_ms() < end);
	fprintf(stderr, "# priv: root's process list has no values after %d ms\n", PRIV_WAIT_MS);
	return 0;
}

static int ack(struct khm_genl *g, uint64_t id)
{
	struct request r;

	req_init(&r, KHOLMES_CMD_ACK_CAPTURE, 0);
	req_u64(&r, KHOLMES_A_CAPTURE_ID, id);
	return khm_genl_request(g, r.cmd, 0, r.attrs, r.len, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* privileged commands: refused to all but root */

FIXTURE(priv) {
	struct khm_genl g;
	struct kt_saved saved;	/* the scope found, put back after */
	struct state before;
	uint64_t cap_id;	/* a capture of ours, when the command needs one */
	bool watched;		/* PRIV_COMM added by the setup */
};

FIXTURE_VARIANT(priv) {
	uint8_t cmd;
	bool dump;
	bool needs_capture;
	bool needs_watch;
};

FIXTURE_VARIANT_ADD(priv, set_config) { .cmd = KHOLMES_CMD_SET_CONFIG };
FIXTURE_VARIANT_ADD(priv, set_rule) { .cmd = KHOLMES_CMD_SET_RULE };
FIXTURE_VARIANT_ADD(priv, apply) { .cmd = KHOLMES_CMD_APPLY };
FIXTURE_VARIANT_ADD(priv, add_watch) { .cmd = KHOLMES_CMD_ADD_WATCH };
FIXTURE_VARIANT_ADD(priv, del_watch) {
	.cmd = KHOLMES_CMD_DEL_WATCH, .needs_watch = true,
};
FIXTURE_VARIANT_ADD(priv, clear_watch) {
	.cmd = KHOLMES_CMD_CLEAR_WATCH, .needs_watch = true,
};
FIXTURE_VARIANT_ADD(priv, capture) { .cmd = KHOLMES_CMD_CAPTURE };
FIXTURE_VARIANT_ADD(priv, profile) { .cmd = KHOLMES_CMD_PROFILE };
FIXTURE_VARIANT_ADD(priv, list_captures) {
	.cmd = KHOLMES_CMD_LIST_CAPTURES, .dump = true, .needs_capture = true,
};
FIXTURE_VARIANT_ADD(priv, get_capture) {
	.cmd = KHOLMES_CMD_GET_CAPTURE, .dump = true, .needs_capture = true,
};
FIXTURE_VARIANT_ADD(priv, ack_capture) {
	.cmd = KHOLMES_CMD_ACK_CAPTURE, .needs_capture = true,
};

FIXTURE_SETUP(priv)
{
	struct request r;

	ASSERT_EQ(0, khm_genl_open(&self->g)) TH_LOG("no kholmes family");
	/*
	 * The module watches nothing else: no detection starts a profile
	 * that would take root's profile slot or queue a capture.
	 */
	ASSERT_EQ(0, kt_saved_take(&self->saved));
	ASSERT_EQ(0, kt_watch_none());
	if (variant->cmd == KHOLMES_CMD_PROFILE) {
		/* one started before the scope has ended when ours is queued */
		uint64_t id = profile_when_free(&self->g, 1);

		ASSERT_NE(0, id) TH_LOG("another profile ran for %d ms", PRIV_WAIT_MS);
		ASSERT_TRUE(capture_wait(&self->g, id));
		ack(&self->g, id);
	}
	/* not left behind by an earlier test */
	req_init(&r, KHOLMES_CMD_DEL_WATCH, 0);
	req_watch_comm(&r, PRIV_COMM);
	khm_genl_request(&self->g, r.cmd, 0, r.attrs, r.len, NULL, NULL);
	if (variant->needs_watch) {
		req_init(&r, KHOLMES_CMD_ADD_WATCH, 0);
		req_watch_comm(&r, PRIV_COMM);
		ASSERT_EQ(0, khm_genl_request(&self->g, r.cmd, 0, r.attrs, r.len, NULL, NULL));
		self->watched = true;
	}
	if (variant->needs_capture) {
		self->cap_id = capture(&self->g, 1);
		ASSERT_NE(0, self->cap_id);
		ASSERT_TRUE(capture_wait(&self->g, self->cap_id));
	}
	ASSERT_EQ(0, state_read(&self->g, &self->before));
}

FIXTURE_TEARDOWN(priv)
{
	struct request r;

	if (self->cap_id)
		ack(&self->g, self->cap_id);
	if (self->watched) {
		req_init(&r, KHOLMES_CMD_DEL_WATCH, 0);
		req_watch_comm(&r, PRIV_COMM);
		khm_genl_request(&self->g, r.cmd, 0, r.attrs, r.len, NULL, NULL);
	}
	state_free(&self->before);
	khm_genl_close(&self->g);
	EXPECT_EQ(0, kt_saved_put(&self->saved));
}

/* What the command asks, with a value that would change something. */
static void priv_request(FIXTURE_DATA(priv) *self, const FIXTURE_VARIANT(priv) *variant,
			 struct request *r)
{
	long long rate = cfg_member(&self->before, self->g.family, KHOLMES_CFG_CAPTURE_RATE);
	long long cool = rule_member(&self->before, self->g.family, KHOLMES_METRIC_THREADS,
				     KHOLMES_RULE_COOLDOWN);

	req_init(r, variant->cmd, variant->dump ? NLM_F_DUMP : 0);
	switch (variant->cmd) {
	case KHOLMES_CMD_SET_CONFIG:
		req_nest_u32(r, KHOLMES_A_CONFIG, KHOLMES_CFG_CAPTURE_RATE,
			     rate == 7 ? 8 : 7, 0, 0);
		break;
	case KHOLMES_CMD_SET_RULE:
		req_nest_u32(r, KHOLMES_A_RULE, KHOLMES_RULE_METRIC, KHOLMES_METRIC_THREADS,
			     KHOLMES_RULE_COOLDOWN, cool == 4242 ? 4243 : 4242);
		break;
	case KHOLMES_CMD_APPLY:
		/* a config member, a rule and the whole scope at once */
		req_nest_u32(r, KHOLMES_A_CONFIG, KHOLMES_CFG_CAPTURE_RATE,
			     rate == 7 ? 8 : 7, 0, 0);
		req_nest_u32(r, KHOLMES_A_RULE, KHOLMES_RULE_METRIC, KHOLMES_METRIC_THREADS,
			     KHOLMES_RULE_COOLDOWN, cool == 4242 ? 4243 : 4242);
		r->len = khm_nla_put(r->attrs, r->len, KHOLMES_A_REPLACE_WATCH, NULL, 0);
		req_watch_comm(r, PRIV_COMM);
		break;
	case KHOLMES_CMD_ADD_WATCH:
	case KHOLMES_CMD_DEL_WATCH:
		req_watch_comm(r, PRIV_COMM);
		break;
	case KHOLMES_CMD_CAPTURE:
		req_u32(r, KHOLMES_A_PID, 1);
		break;
	case KHOLMES_CMD_PROFILE:
		req_u32(r, KHOLMES_A_PID, 1);
		req_u32(r, KHOLMES_A_PROFILE_KIND, KHOLMES_PROFILE_CPU);
		req_u32(r, KHOLMES_A_PROFILE_S, 1);
		req_u32(r, KHOLMES_A_PROFILE_HZ, 10);
		break;
	case KHOLMES_CMD_GET_CAPTURE:
	case KHOLMES_CMD_ACK_CAPTURE:
		req_u64(r, KHOLMES_A_CAPTURE_ID, self->cap_id);
		break;
	default:
		break;
	}
}

static void refused_as(struct __test_metadata *_metadata, FIXTURE_DATA(priv) *self,
		       const FIXTURE_VARIANT(priv) *variant, enum who who)
{
	struct outcome o;
	struct request r;
	struct state after;
	void *raw = NULL;
	size_t len = 0;

	priv_request(self, variant, &r);
	ASSERT_EQ(0, request_as(who, &r, &o, &raw, &len));
	if (o.skip)
		SKIP(return, "%s", o.why);
	ASSERT_FALSE(o.setup) TH_LOG("%s", o.why);
	EXPECT_EQ(-EPERM, o.ret) {
		TH_LOG("command %u as %s: %d (%s), %zu reply bytes", r.cmd, who_name[who],
		       o.ret, strerror(-o.ret), len);
	}
	/* nothing but the error came back */
	EXPECT_EQ(NULL, raw ? first_body(raw, len, self->g.family, &len) : NULL) {
		TH_LOG("command %u as %s got a reply", r.cmd, who_name[who]);
	}
	free(raw);

	/* a capture or a 1 s profile, were it queued, would show by now */
	if (variant->cmd == KHOLMES_CMD_CAPTURE)
		usleep(500000);
	if (variant->cmd == KHOLMES_CMD_PROFILE)
		usleep(2000000);
	ASSERT_EQ(0, state_read(&self->g, &after));
	EXPECT_TRUE(state_unchanged(&self->before, &after, self->g.family))
		TH_LOG("command %u as %s changed something", r.cmd, who_name[who]);
	state_free(&after);
}

TEST_F(priv, nobody_refused)
{
	refused_as(_metadata, self, variant, WHO_NOBODY);
}

TEST_F(priv, userns_nobody_refused)
{
	refused_as(_metadata, self, variant, WHO_USERNS_NOBODY);
}

TEST_F(priv, userns_root_refused)
{
	refused_as(_metadata, self, variant, WHO_USERNS_ROOT);
}

TEST_F(priv, nobody_on_root_socket_refused)
{
	refused_as(_metadata, self, variant, WHO_NOBODY_SENDS);
}

TEST_F(priv, root_writing_on_nobody_socket_refused)
{
	refused_as(_metadata, self, variant, WHO_ROOT_SENDS);
}

/* Root's request is carried out, and each is undone. */
TEST_F_TIMEOUT(priv, root_allowed, 60)
{
	struct outcome o;
	struct request r;
	struct state after;
	const uint8_t *b;
	void *raw = NULL;
	size_t len = 0, blen = 0;
	uint16_t fam = self->g.family;

	priv_request(self, variant, &r);
	ASSERT_EQ(0, request_as(WHO_ROOT, &r, &o, &raw, &len));
	ASSERT_FALSE(o.setup) TH_LOG("%s", o.why);
	EXPECT_EQ(0, o.ret) TH_LOG("command %u as root: %s", r.cmd, strerror(-o.ret));
	b = first_body(raw, len, fam, &blen);
	ASSERT_EQ(0, state_read(&self->g, &after));

	switch (variant->cmd) {
	case KHOLMES_CMD_SET_CONFIG: {
		long long was = cfg_member(&self->before, fam, KHOLMES_CFG_CAPTURE_RATE);

		EXPECT_EQ(was == 7 ? 8 : 7, cfg_member(&after, fam, KHOLMES_CFG_CAPTURE_RATE));
		r.len = 0;
		req_nest_u32(&r, KHOLMES_A_CONFIG, KHOLMES_CFG_CAPTURE_RATE, was, 0, 0);
		EXPECT_EQ(0, khm_genl_request(&self->g, r.cmd, 0, r.attrs, r.len, NULL, NULL));
		break;
	}
	case KHOLMES_CMD_SET_RULE: {
		long long was = rule_member(&self->before, fam, KHOLMES_METRIC_THREADS,
					    KHOLMES_RULE_COOLDOWN);

		EXPECT_EQ(was == 4242 ? 4243 : 4242,
			  rule_member(&after, fam, KHOLMES_METRIC_THREADS, KHOLMES_RULE_COOLDOWN));
		r.len = 0;
		req_nest_u32(&r, KHOLMES_A_RULE, KHOLMES_RULE_METRIC, KHOLMES_METRIC_THREADS,
			     KHOLMES_RULE_COOLDOWN, was);
		EXPECT_EQ(0, khm_genl_request(&self->g, r.cmd, 0, r.attrs, r.len, NULL, NULL));
		break;
	}
	case KHOLMES_CMD_APPLY: {
		long long rate = cfg_member(&self->before, fam, KHOLMES_CFG_CAPTURE_RATE);
		long long cool = rule_member(&self->before, fam, KHOLMES_METRIC_THREADS,
					     KHOLMES_RULE_COOLDOWN);
		size_t wlen = 0;
		const uint8_t *w = first_body(after.raw[2], after.len[2], fam, &wlen);

		EXPECT_EQ(rate == 7 ? 8 : 7, cfg_member(&after, fam, KHOLMES_CFG_CAPTURE_RATE));
		EXPECT_EQ(cool == 4242 ? 4243 : 4242,
			  rule_member(&after, fam, KHOLMES_METRIC_THREADS, KHOLMES_RULE_COOLDOWN));
		/* the scope replaced: PRIV_COMM alone */
		EXPECT_TRUE(watch_has_comm(&after, fam, PRIV_COMM));
		EXPECT_FALSE(watch_has_comm(&after, fam, KT_WATCH_NONE));
		EXPECT_NE(NULL, w);
		/* undone: the rate and cooldown back; the teardown puts the scope */
		r.len = 0;
		req_nest_u32(&r, KHOLMES_A_CONFIG, KHOLMES_CFG_CAPTURE_RATE, rate, 0, 0);
		req_nest_u32(&r, KHOLMES_A_RULE, KHOLMES_RULE_METRIC, KHOLMES_METRIC_THREADS,
			     KHOLMES_RULE_COOLDOWN, cool);
		EXPECT_EQ(0, khm_genl_request(&self->g, r.cmd, 0, r.attrs, r.len, NULL, NULL));
		self->watched = true;	/* the teardown deletes it */
		break;
	}
	case KHOLMES_CMD_ADD_WATCH:
		EXPECT_TRUE(watch_has_comm(&after, fam, PRIV_COMM));
		self->watched = true;	/* the teardown deletes it */
		break;
	case KHOLMES_CMD_DEL_WATCH:
		EXPECT_FALSE(watch_has_comm(&after, fam, PRIV_COMM));
		self->watched = false;
		break;
	case KHOLMES_CMD_CLEAR_WATCH: {
		size_t wlen = 0;

		EXPECT_NE(NULL, first_body(after.raw[2], after.len[2], fam, &wlen));
		EXPECT_EQ(GENL_HDRLEN, wlen) TH_LOG("the watch list is not empty");
		self->watched = false;
		EXPECT_EQ(0, watch_restore(&self->g, &self->before));
		break;
	}
	case KHOLMES_CMD_CAPTURE:
	case KHOLMES_CMD_PROFILE: {
		const struct nlattr *id = b ? khm_nla_find(b + GENL_HDRLEN, blen - GENL_HDRLEN,
							   KHOLMES_A_CAPTURE_ID) : NULL;

		ASSERT_NE(NULL, id) TH_LOG("no capture id in root's reply");
		memcpy(&self->cap_id, nla_payload(id), 8);
		EXPECT_TRUE(capture_wait(&self->g, self->cap_id));
		break;
	}
	case KHOLMES_CMD_LIST_CAPTURES:
		EXPECT_TRUE(state_has_id(&after, self->cap_id));
		EXPECT_NE(NULL, b) TH_LOG("root's capture list is empty");
		break;
	case KHOLMES_CMD_GET_CAPTURE: {
		const struct nlattr *c = b ? khm_nla_find(b + GENL_HDRLEN, blen - GENL_HDRLEN,
							  KHOLMES_A_CAPTURE) : NULL;
		const struct nlattr *id = c ? nest_find(c, KHOLMES_CAPTURE_ID) : NULL;

		ASSERT_NE(NULL, id) TH_LOG("root's GET_CAPTURE has no capture record");
		EXPECT_EQ(0, memcmp(nla_payload(id), &self->cap_id, 8));
		break;
	}
	case KHOLMES_CMD_ACK_CAPTURE:
		EXPECT_FALSE(state_has_id(&after, self->cap_id));
		self->cap_id = 0;
		break;
	}
	state_free(&after);
	free(raw);
}

/* ------------------------------------------------------------------ */
/* read commands: anyone */

FIXTURE(read) {
	struct khm_genl g;
};

FIXTURE_VARIANT(read) {
	uint8_t cmd;
	bool dump;
	int must_have;		/* a top-level attribute the reply must hold */
	bool same_as_root;	/* byte for byte what root reads */
};

FIXTURE_VARIANT_ADD(read, get_status) {
	.cmd = KHOLMES_CMD_GET_STATUS, .must_have = KHOLMES_A_STATS,
};
FIXTURE_VARIANT_ADD(read, get_config) {
	.cmd = KHOLMES_CMD_GET_CONFIG, .must_have = KHOLMES_A_CONFIG, .same_as_root = true,
};
FIXTURE_VARIANT_ADD(read, get_rules) {
	.cmd = KHOLMES_CMD_GET_RULES, .must_have = KHOLMES_A_RULE, .same_as_root = true,
};
FIXTURE_VARIANT_ADD(read, get_watch) {
	.cmd = KHOLMES_CMD_GET_WATCH, .must_have = KHOLMES_A_WATCH, .same_as_root = true,
};

FIXTURE_SETUP(read)
{
	struct request r;

	ASSERT_EQ(0, khm_genl_open(&self->g));
	if (variant->cmd == KHOLMES_CMD_GET_PROCS)
		ASSERT_LT(0, procs_ready(&self->g));
	/* something in the watch list that covers every process */
	if (variant->cmd == KHOLMES_CMD_GET_WATCH) {
		size_t start;

		req_init(&r, KHOLMES_CMD_ADD_WATCH, 0);
		start = khm_nla_nest_start(r.attrs, 0, KHOLMES_A_WATCH);
		r.len = khm_nla_put(r.attrs, start + NLA_HDRLEN, KHOLMES_WATCH_CGROUP, "/", 2);
		khm_nla_nest_end(r.attrs, start, r.len);
		ASSERT_EQ(0, khm_genl_request(&self->g, r.cmd, 0, r.attrs, r.len, NULL, NULL));
	}
}

FIXTURE_TEARDOWN(read)
{
	struct request r;

	if (variant->cmd == KHOLMES_CMD_GET_WATCH) {
		size_t start;

		req_init(&r, KHOLMES_CMD_DEL_WATCH, 0);
		start = khm_nla_nest_start(r.attrs, 0, KHOLMES_A_WATCH);
		r.len = khm_nla_put(r.attrs, start + NLA_HDRLEN, KHOLMES_WATCH_CGROUP, "/", 2);
		khm_nla_nest_end(r.attrs, start, r.len);
		khm_genl_request(&self->g, r.cmd, 0, r.attrs, r.len, NULL, NULL);
	}
	khm_genl_close(&self->g);
}

static void read_as(struct __test_metadata *_metadata, FIXTURE_DATA(read) *self,
		    const FIXTURE_VARIANT(read) *variant, enum who who)
{
	const struct nlmsghdr *nlh;
	struct request r;
	struct outcome o;
	void *raw = NULL, *mine = NULL;
	size_t len = 0, mlen = 0, left, blen = 0, mblen = 0;
	const uint8_t *b, *mb;
	int found = 0, with_values = 0;

	req_init(&r, variant->cmd, variant->dump ? NLM_F_DUMP : 0);
	ASSERT_EQ(0, request_as(who, &r, &o, &raw, &len));
	if (o.skip)
		SKIP(return, "%s", o.why);
	ASSERT_FALSE(o.setup) TH_LOG("%s", o.why);
	ASSERT_EQ(0, o.ret) TH_LOG("command %u as %s: %s", r.cmd, who_name[who],
				   strerror(-o.ret));
	for_each_msg(nlh, raw, len, left) {
		const struct nlattr *a;
		const uint8_t *attrs;
		size_t alen;

		if (nlh->nlmsg_type != self->g.family || !(attrs = msg_attrs(nlh, &alen)))
			continue;
		a = khm_nla_find(attrs, alen, variant->must_have);
		if (!a)
			continue;
		found++;
		if (variant->cmd == KHOLMES_CMD_GET_PROCS && nest_find(a, KHOLMES_PROC_VALUES) &&
		    nest_find(a, KHOLMES_PROC_VALUES)->nla_len > NLA_HDRLEN)
			with_values++;
	}
	EXPECT_LT(0, found) TH_LOG("command %u as %s: no attribute %d in the reply",
				   r.cmd, who_name[who], variant->must_have);
	if (variant->cmd == KHOLMES_CMD_GET_PROCS) {
		EXPECT_LT(0, with_values) TH_LOG("no process with values for %s", who_name[who]);
	}

	if (variant->same_as_root) {
		ASSERT_EQ(0, khm_genl_request(&self->g, r.cmd, r.flags, NULL, 0, &mine, &mlen));
		b = first_body(raw, len, self->g.family, &blen);
		mb = first_body(mine, mlen, self->g.family, &mblen);
		EXPECT_TRUE(b && mb && blen == mblen && !memcmp(b, mb, blen))
			TH_LOG("%s reads something else than root", who_name[who]);
	}
	TH_LOG("command %u as %s: %d messages with attribute %d", r.cmd, who_name[who],
	       found, variant->must_have);
	free(mine);
	free(raw);
}

TEST_F(read, nobody_allowed)
{
	read_as(_metadata, self, variant, WHO_NOBODY);
}

TEST_F(read, userns_nobody_allowed)
{
	read_as(_metadata, self, variant, WHO_USERNS_NOBODY);
}

/* ------------------------------------------------------------------ */
/* the process list, as /proc mounted hidepid=invisible shows it */

enum {
	HIDE_OWN,		/* uid 65534, dumpable */
	HIDE_OTHER,		/* uid 1000, dumpable */
	HIDE_NODUMP,		/* uid 65534, not dumpable */
	HIDE_ROOT,		/* uid 0, dumpable */
	HIDE_INIT,		/* pid 1, root's: in the scope, never spawned */
	HIDE_N,
};

#define HIDE_OTHER_UID	1000

static const char * const hide_name[HIDE_N] = {
	[HIDE_OWN] = "uid 65534's", [HIDE_OTHER] = "uid 1000's",
	[HIDE_NODUMP] = "uid 65534's non-dumpable", [HIDE_ROOT] = "root's",
	[HIDE_INIT] = "pid 1",
};

/*
 * A sleeping child named @comm, as @uid (all of its uids and gids, no
 * supplementary group), dumpable or not; its pid once it is all that, or
 * -1.
 */
static pid_t spawn_as(uid_t uid, const char *comm, int dumpable)
{
	int sync[2];
	pid_t pid;
	char c;

	if (pipe(sync))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		close(sync[0]);
		if ((uid && (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
			     setresuid(uid, uid, uid))) ||
		    prctl(PR_SET_DUMPABLE, dumpable) || prctl(PR_SET_NAME, comm) ||
		    prctl(PR_SET_PDEATHSIG, SIGKILL) || write(sync[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(sync[1]);
	if (pid > 0 && read(sync[0], &c, 1) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(sync[0]);
	return pid;
}

/* Which of @pids a GET_PROCS reply lists, as a bit each; -1 if malformed. */
static int procs_listed(const void *raw, size_t len, uint16_t family,
			const pid_t *pids, int n, int *others)
{
	const struct nlmsghdr *nlh;
	size_t left;
	int seen = 0;

	*others = 0;
	for_each_msg(nlh, raw, len, left) {
		const struct nlattr *p, *pid;
		const uint8_t *a;
		size_t alen;
		int i;

		if (nlh->nlmsg_type != family || !(a = msg_attrs(nlh, &alen)) ||
		    !(p = khm_nla_find(a, alen, KHOLMES_A_PROC)))
			continue;
		pid = nest_find(p, KHOLMES_PROC_PID);
		if (!pid || pid->nla_len != NLA_HDRLEN + 4)
			return -1;
		for (i = 0; i < n; i++)
			if (pids[i] == *(const pid_t *)nla_payload(pid))
				break;
		if (i < n)
			seen |= 1 << i;
		else
			++*others;
	}
	return seen;
}

/* A process of each kind, the module scoped to them (and to pid 1). */
FIXTURE(hide) {
	struct kt_saved state;
	uint16_t family;
	pid_t pids[HIDE_N];
};

FIXTURE_SETUP(hide)
{
	long long end = now_ms() + PRIV_WAIT_MS;
	int seen = 0, others = -1;
	struct khm_genl g;

	for (int i = 0; i < HIDE_N; i++)
		self->pids[i] = -1;
	ASSERT_EQ(0, khm_genl_open(&g)) TH_LOG("no kholmes family");
	self->family = g.family;
	ASSERT_EQ(0, kt_saved_take(&self->state));
	self->pids[HIDE_OWN] = spawn_as(KHM_NOBODY, "khm-hide-own", 1);
	self->pids[HIDE_OTHER] = spawn_as(HIDE_OTHER_UID, "khm-hide-other", 1);
	self->pids[HIDE_NODUMP] = spawn_as(KHM_NOBODY, "khm-hide-nodump", 0);
	self->pids[HIDE_ROOT] = spawn_as(0, "khm-hide-root", 1);
	self->pids[HIDE_INIT] = 1;
	for (int i = 0; i < HIDE_N; i++) {
		ASSERT_LT(0, self->pids[i]) TH_LOG("spawning %s process", hide_name[i]);
	}
	ASSERT_EQ(0, kt_watch_only(self->pids[0], self->pids[1], self->pids[2],
				   self->pids[3], self->pids[4], 0));
	/* root lists them, and them only, once the sampler has seen them */
	do {
		void *raw = NULL;
		size_t len = 0;

		if (!khm_genl_request(&g, KHOLMES_CMD_GET_PROCS, NLM_F_DUMP, NULL, 0,
				      &raw, &len))
			seen = procs_listed(raw, len, g.family, self->pids, HIDE_N, &others);
		free(raw);
		if (seen == (1 << HIDE_N) - 1 && !others)
			break;
		usleep(100000);
	} while (now_ms() < end);
	khm_genl_close(&g);
	ASSERT_EQ((1 << HIDE_N) - 1, seen) TH_LOG("root lists 0x%x of 0x%x after %d ms",
						  seen, (1 << HIDE_N) - 1, PRIV_WAIT_MS);
	ASSERT_EQ(0, others) TH_LOG("root lists %d processes out of the scope", others);
}

/* In the harness's parent (see kt_saved): the children are not its own. */
FIXTURE_TEARDOWN_PARENT(hide)
{
	for (int i = 0; i < HIDE_N; i++)
		if (i != HIDE_INIT && self->pids[i] > 0)
			kill(self->pids[i], SIGKILL);
	EXPECT_EQ(0, kt_saved_put(&self->state));
}

/*
 * What each caller sees: what its /proc mounted hidepid=invisible would
 * show it, the same fs uid and gid as the process's or CAP_SYS_PTRACE
 * over it, and a dumpable process, for both the socket's opener and the
 * sender. Root in a new user namespace has its uid 0 but no capability
 * over the initial namespace: root's dumpable processes only (pid 1 may
 * not be dumpable, not checked). Root writing on uid 65534's socket sees
 * what both see: uid 65534's socket was opened with gid 0, so nothing.
 * One setup for all six callers: spawning and scoping is the slow part.
 */
static const struct {
	enum who who;
	int sees;		/* bits of HIDE_* */
	bool init_unknown;	/* whether pid 1 is seen is not checked */
} hide_callers[] = {
	{ WHO_ROOT, (1 << HIDE_N) - 1, false },
	{ WHO_NOBODY, 1 << HIDE_OWN, false },
	{ WHO_USERNS_NOBODY, 1 << HIDE_OWN, false },
	{ WHO_USERNS_ROOT, 1 << HIDE_ROOT, true },
	{ WHO_NOBODY_SENDS, 1 << HIDE_OWN, false },
	{ WHO_ROOT_SENDS, 0, false },
};

TEST_F(hide, procs_as_proc_shows_them)
{
	for (size_t c = 0; c < sizeof(hide_callers) / sizeof(hide_callers[0]); c++) {
		enum who who = hide_callers[c].who;
		int want = hide_callers[c].sees, seen, others;
		struct request r;
		struct outcome o;
		void *raw = NULL;
		size_t len = 0;

		req_init(&r, KHOLMES_CMD_GET_PROCS, NLM_F_DUMP);
		ASSERT_EQ(0, request_as(who, &r, &o, &raw, &len));
		/* the read fixture skips where user namespaces cannot be made */
		ASSERT_FALSE(o.skip || o.setup) TH_LOG("%s", o.why);
		ASSERT_EQ(0, o.ret) TH_LOG("GET_PROCS as %s: %s", who_name[who],
					   strerror(-o.ret));
		seen = procs_listed(raw, len, self->family, self->pids, HIDE_N, &others);
		free(raw);
		ASSERT_LE(0, seen) TH_LOG("a process without a pid in the reply");
		if (hide_callers[c].init_unknown)
			seen = (seen & ~(1 << HIDE_INIT)) | (want & (1 << HIDE_INIT));
		for (int i = 0; i < HIDE_N; i++) {
			EXPECT_EQ(!!(want & (1 << i)), !!(seen & (1 << i)))
				TH_LOG("%s %s %s process (pid %d)", who_name[who],
				       seen & (1 << i) ? "sees" : "does not see", hide_name[i],
				       self->pids[i]);
		}
		/* the scope holds these processes only */
		EXPECT_EQ(0, others) TH_LOG("%d processes outside the scope listed", others);
		TH_LOG("%s sees 0x%x (own, 1000's, non-dumpable, root's, pid 1)",
		       who_name[who], seen);
	}
}

/* ------------------------------------------------------------------ */
/* through kholmesctl */

/*
 * An unprivileged `ps` lists its own process with its values, and neither
 * uid 1000's nor root's nor pid 1.
 */
TEST_F(hide, unprivileged_ps_lists_own_values)
{
	long long end = now_ms() + PRIV_WAIT_MS;
	struct json_object *list = NULL;
	char *out = NULL, *err = NULL;
	int ret, seen = 0;
	size_t n = 0;
	bool values = false;

	do {
		json_object_put(list);
		list = NULL;
		free(out);
		free(err);
		out = err = NULL;
		ret = khm_run_as(KHM_NOBODY, &out, &err, "-j ps");
		ASSERT_EQ(0, ret) TH_LOG("kholmesctl -j ps as uid 65534: exit %d: %s", ret,
					 khm_oneline(err));
		list = json_tokener_parse(out);
		ASSERT_NE(NULL, list) TH_LOG("not JSON: %s", khm_oneline(out));
		ASSERT_TRUE(json_object_is_type(list, json_type_array));
		n = json_object_array_length(list);
		seen = 0;
		values = false;
		for (size_t i = 0; i < n; i++) {
			struct json_object *p = json_object_array_get_idx(list, i);
			struct json_object *v = khm_json_get(p, "values");
			int pid = khm_json_int(p, "pid");

			for (int k = 0; k < HIDE_N; k++)
				if (pid == self->pids[k])
					seen |= 1 << k;
			if (pid == self->pids[HIDE_OWN] && v &&
			    json_object_is_type(v, json_type_object) &&
			    json_object_object_length(v) > 0)
				values = true;
		}
		if (values)
			break;
		usleep(200000);
	} while (now_ms() < end);
	TH_LOG("uid 65534's ps: %zu processes, 0x%x of ours, own with values: %d", n, seen,
	       values);
	EXPECT_TRUE(values) TH_LOG("uid 65534's own process has no values");
	EXPECT_EQ(1 << HIDE_OWN, seen);
	EXPECT_EQ(1, n);
	json_object_put(list);
	free(out);
	free(err);
}

FIXTURE(ctl_refused) {
	int unused;
};

FIXTURE_VARIANT(ctl_refused) {
	const char *cmd;
};

FIXTURE_VARIANT_ADD(ctl_refused, captures) { .cmd = "captures" };
FIXTURE_VARIANT_ADD(ctl_refused, capture_pid_1) { .cmd = "capture pid 1" };

FIXTURE_SETUP(ctl_refused)
{
}

FIXTURE_TEARDOWN(ctl_refused)
{
}

TEST_F(ctl_refused, exit_1_not_permitted)
{
	char *out = NULL, *err = NULL;
	int ret;

	/* a controller without the command says so as root too */
	ret = khm_run(&out, &err, "-j captures");
	if (ret == KHM_EXIT_USAGE)
		SKIP(return, "this kholmesctl has no captures command yet: %s",
		     khm_oneline(err));
	free(out);
	free(err);

	ret = khm_run_as(KHM_NOBODY, &out, &err, "%s", variant->cmd);
	EXPECT_EQ(KHM_EXIT_FAIL, ret);
	EXPECT_NE(NULL, strstr(err, "Operation not permitted")) {
		TH_LOG("kholmesctl %s as uid 65534: exit %d, \"%s\"", variant->cmd, ret,
		       khm_oneline(err));
	}
	free(out);
	free(err);
}

/* ------------------------------------------------------------------ */
/* no kernel addresses */

struct nset {
	const char *name;
	int max;
	const char * const *names;
	const struct nset * const *nests;	/* by type: the set of a nest */
};

static const char * const metric_names[KHOLMES_METRIC_ATTR_MAX + 1] = {
	"?", "cpu", "rss", "rss-pct", "threads", "ctxsw", "rundelay", "majflt",
	"dstate", "pad",
};
static const struct nset metric_nset = { "metric", KHOLMES_METRIC_ATTR_MAX, metric_names, NULL };

static const char * const rule_names[KHOLMES_RULE_MAX + 1] = {
	"?", "METRIC", "ENABLED", "MIN", "DIFF", "ABS", "COOLDOWN",
};
static const struct nset rule_nset = { "RULE", KHOLMES_RULE_MAX, rule_names, NULL };

static const char * const cfg_names[KHOLMES_CFG_MAX + 1] = {
	"?", "ENABLED", "INTERVAL_MS", "WINDOW", "MAX_TRACKED", "MAX_THREADS",
	"MAX_CAPTURES", "MAX_QUEUE_KB", "USER_STACK_KB", "CAPTURE_RATE",
};
static const struct nset cfg_nset = { "CONFIG", KHOLMES_CFG_MAX, cfg_names, NULL };

static const char * const stat_names[KHOLMES_STAT_MAX + 1] = {
	"?", "PAD", "PASSES", "TRACKED", "UNTRACKED", "DETECTIONS", "SUPPRESSED",
	"PASS_LAST_NS", "PASS_MEAN_NS", "PASS_MAX_NS", "TASKS_VISITED",
	"PROCS_VISITED", "MEM_BYTES", "ALLOC_FAILS", "EVENTS_LOST", "CAPTURES",
	"CAPTURES_DROPPED", "CAPTURES_LIMITED", "CAPTURES_FAILED", "QUEUE_LEN",
	"QUEUE_BYTES", "CAPTURE_LAST_NS", "CAPTURE_MAX_NS",
};
static const struct nset stat_nset = { "STATS", KHOLMES_STAT_MAX, stat_names, NULL };

static const char * const proc_names[KHOLMES_PROC_MAX + 1] = {
	"?", "PAD", "PID", "COMM", "START_NS", "KTHREAD", "SAMPLES", "VALUES", "AVGS",
};
static const struct nset * const proc_nests[KHOLMES_PROC_MAX + 1] = {
	[KHOLMES_PROC_VALUES] = &metric_nset, [KHOLMES_PROC_AVGS] = &metric_nset,
};
static const struct nset proc_nset = { "PROC", KHOLMES_PROC_MAX, proc_names, proc_nests };

static const char * const capture_names[KHOLMES_CAPTURE_MAX + 1] = {
	"?", "PAD", "ID", "TIME_NS", "BOOT_NS", "FLAGS", "METRIC", "VALUE", "AVG",
	"RULE", "PID", "COMM", "EXE", "CGROUP", "UID", "START_NS", "VALUES",
	"AVGS", "NR_THREADS", "THREADS", "BYTES", "MAPPINGS", "DURATION_NS",
	"PROFILE_OF", "PROFILE_KIND", "RSS_FILE", "RSS_ANON", "RSS_SHMEM",
};
static const struct nset * const capture_nests[KHOLMES_CAPTURE_MAX + 1] = {
	[KHOLMES_CAPTURE_RULE] = &rule_nset, [KHOLMES_CAPTURE_VALUES] = &metric_nset,
	[KHOLMES_CAPTURE_AVGS] = &metric_nset,
};
static const struct nset capture_nset = { "CAPTURE", KHOLMES_CAPTURE_MAX, capture_names,
					  capture_nests };

static const char * const map_names[KHOLMES_MAP_MAX + 1] = {
	"?", "PAD", "START", "END", "PGOFF", "PROT", "INODE", "DEV", "PATH", "BUILD_ID",
};
static const struct nset map_nset = { "MAPPING", KHOLMES_MAP_MAX, map_names, NULL };

static const char * const thread_names[KHOLMES_THREAD_MAX + 1] = {
	"?", "PAD", "TID", "COMM", "STATE", "FLAGS", "UFRAMES", "UREGS",
	"USTACK_SP", "USTACK_LEN", "CPU",
};
static const struct nset thread_nset = { "THREAD", KHOLMES_THREAD_MAX, thread_names, NULL };

static const char * const kstack_names[KHOLMES_KSTACK_MAX + 1] = {
	"?", "TID", "FIRST", "FRAME",
};
static const struct nset kstack_nset = { "KSTACK", KHOLMES_KSTACK_MAX, kstack_names, NULL };

static const char * const ustack_names[KHOLMES_USTACK_MAX + 1] = {
	"?", "TID", "OFFSET", "DATA",
};
static const struct nset ustack_nset = { "USTACK", KHOLMES_USTACK_MAX, ustack_names, NULL };

static const char * const profile_names[KHOLMES_PROFILE_MAX + 1] = {
	"?", "PAD", "KIND", "FLAGS", "HZ", "PERIOD", "SECONDS", "DURATION_NS",
	"SAMPLES", "LOST", "STACKS", "START_RSS_ANON", "START_RSS_FILE", "START_VM",
	"COPY_BYTES", "COPIES", "COPIES_LOST", "END_RSS_ANON", "END_RSS_FILE",
};
static const struct nset profile_nset = { "PROFILE", KHOLMES_PROFILE_MAX, profile_names, NULL };

static const char * const pstack_names[KHOLMES_PSTACK_MAX + 1] = {
	"?", "COUNT", "UFRAMES", "KFRAME", "ID",
};
static const struct nset pstack_nset = { "PSTACK", KHOLMES_PSTACK_MAX, pstack_names, NULL };

static const char * const psample_names[KHOLMES_PSAMPLE_MAX + 1] = {
	"?", "PAD", "STACK", "UREGS", "SP", "LEN",
};
static const struct nset psample_nset = { "PSAMPLE", KHOLMES_PSAMPLE_MAX, psample_names, NULL };

static const char * const consumer_names[KHOLMES_CONSUMER_MAX + 1] = {
	"?", "PAD", "PID", "COMM", "CPU", "CGROUP",
};
static const struct nset consumer_nset = { "CONSUMER", KHOLMES_CONSUMER_MAX, consumer_names,
					   NULL };

static const char * const top_names[KHOLMES_A_MAX + 1] = {
	"?", "PAD", "VERSION", "KRELEASE", "CONFIG", "STATS", "RULE", "WATCH",
	"PROC", "EVENT", "PID", "CAPTURE_ID", "CAPTURE", "MAPPING", "THREAD",
	"KSTACK", "USTACK", "PROFILE_KIND", "PROFILE_S", "PROFILE_HZ", "PROFILE",
	"PSTACK", "CONSUMER", "REPLACE_WATCH", "PSAMPLE", "PSAMPLE_STACK",
};
static const struct nset * const top_nests[KHOLMES_A_MAX + 1] = {
	[KHOLMES_A_CONFIG] = &cfg_nset, [KHOLMES_A_STATS] = &stat_nset,
	[KHOLMES_A_RULE] = &rule_nset, [KHOLMES_A_PROC] = &proc_nset,
	[KHOLMES_A_CAPTURE] = &capture_nset, [KHOLMES_A_MAPPING] = &map_nset,
	[KHOLMES_A_THREAD] = &thread_nset, [KHOLMES_A_KSTACK] = &kstack_nset,
	[KHOLMES_A_USTACK] = &ustack_nset, [KHOLMES_A_PROFILE] = &profile_nset,
	[KHOLMES_A_PSTACK] = &pstack_nset, [KHOLMES_A_CONSUMER] = &consumer_nset,
	[KHOLMES_A_PSAMPLE] = &psample_nset, [KHOLMES_A_PSAMPLE_STACK] = &ustack_nset,
};
static const struct nset top_nset = { "", KHOLMES_A_MAX, top_names, top_nests };

struct scan {
	const char *what;
	int hits;	/* values in the kernel half */
	int errnos;	/* -4095..-1 in saved user registers */
	int own;	/* stack words in the kernel half, the process's own */
	int words;	/* stack words compared with the process's memory */
	int ids;	/* build-id words in the kernel half, the file's own */
};

/*
 * Whether @id (@len bytes of a MAPPING.BUILD_ID) is the GNU build-id of
 * the file its mapping names (the PATH among the mapping's @attrs), as
 * the test reads it from that file: a hash of the file, which may look
 * like anything (priv_test's own, built under /work/run33, begins
 * 12 aa 70 77 5f 93 2c ff: 0xff2c935f7770aa12 as a u64, in the kernel
 * half with 5-level paging).
 */
static bool map_file_build_id(const uint8_t *attrs, size_t alen, const uint8_t *id,
			      size_t len, char *file, size_t flen)
{
	char hex[2 * KHOLMES_BUILD_ID_MAX + 1], want[2 * KHOLMES_BUILD_ID_MAX + 1];
	size_t off = 0, i;

	file[0] = '\0';
	while (alen - off >= NLA_HDRLEN) {
		const struct nlattr *a = (const void *)(attrs + off);

		if (a->nla_len < NLA_HDRLEN || a->nla_len > alen - off)
			break;
		if ((a->nla_type & NLA_TYPE_MASK) == KHOLMES_MAP_PATH)
			snprintf(file, flen, "%.*s", (int)(a->nla_len - NLA_HDRLEN),
				 (const char *)nla_payload(a));
		off += NLA_ALIGN(a->nla_len);
	}
	if (!file[0] || !len || len > KHOLMES_BUILD_ID_MAX ||
	    khm_elf_build_id(file, want, sizeof(want)))
		return false;
	for (i = 0; i < len; i++)
		sprintf(hex + 2 * i, "%02x", id[i]);
	return !strcmp(hex, want);
}

/*
 * Every u64 of every leaf attribute (at 8-byte steps from the start of its
 * payload, where u64 values and arrays of them sit) that lies in
 * [khm_kaddr_min(), 2^64): 0xffff800000000000 with 4-level paging,
 * 0xff00000000000000 with 5-level paging (la57). The one exception, counted and said, never silent: a
 * value in -4095..-1 (IS_ERR_VALUE(), a page the kernel never maps) among
 * the saved user registers: the -ENOSYS that a thread blocked in a
 * syscall has in its ax. The copy of the user stack is arbitrary user
 * data; check_ustack() compares it with the process's memory instead. A
 * mapping's build-id is a hash of its file: a word of it in the kernel
 * half is allowed, counted and said, only where it is the build-id the
 * test reads from that file itself (map_file_build_id()).
 */
static void scan_attrs(struct scan *sc, const uint8_t *p, size_t len,
		       const struct nset *set, char *path, size_t plen)
{
	size_t off = 0, used = strlen(path);
	char file[PATH_MAX];

	while (len - off >= NLA_HDRLEN) {
		const struct nlattr *a = (const void *)(p + off);
		int type = a->nla_type & NLA_TYPE_MASK;
		const uint8_t *data = p + off + NLA_HDRLEN;
		size_t dlen;

		if (a->nla_len < NLA_HDRLEN || a->nla_len > len - off)
			break;
		dlen = a->nla_len - NLA_HDRLEN;
		snprintf(path + used, plen - used, "%s%s", used ? "." : "",
			 type <= set->max && set->names[type] ? set->names[type] : "?");
		if (set->nests && type <= set->max && set->nests[type]) {
			scan_attrs(sc, data, dlen, set->nests[type], path, plen);
		} else {
			if (set == &ustack_nset && type == KHOLMES_USTACK_DATA)
				dlen = 0;
			for (size_t i = 0; i + 8 <= dlen; i += 8) {
				uint64_t v;

				memcpy(&v, data + i, 8);
				if (v < khm_kaddr_min())
					continue;
				if (v >= -4095ULL &&
				    ((set == &thread_nset && type == KHOLMES_THREAD_UREGS) ||
				     (set == &psample_nset && type == KHOLMES_PSAMPLE_UREGS))) {
					sc->errnos++;
					fprintf(stderr, "# priv: %s: %s+%zu is %lld: a saved user register, not an address (-4095..-1)\n",
						sc->what, path, i, (long long)v);
					continue;
				}
				if (set == &map_nset && type == KHOLMES_MAP_BUILD_ID &&
				    map_file_build_id(p, len, data, dlen, file, sizeof(file))) {
					sc->ids++;
					fprintf(stderr, "# priv: %s: 0x%016llx in %s+%zu is a word of the build-id of %s, as the test reads it there: a hash, not an address\n",
						sc->what, (unsigned long long)v, path, i, file);
					continue;
				}
				sc->hits++;
				fprintf(stderr, "# priv: %s: 0x%016llx in %s+%zu\n", sc->what,
					(unsigned long long)v, path, i);
			}
		}
		path[used] = '\0';
		off += NLA_ALIGN(a->nla_len);
	}
}

static uint32_t nla_u32_or(const struct nlattr *nest, int type, uint32_t def)
{
	const struct nlattr *a = nest_find(nest, type);

	return a && a->nla_len >= NLA_HDRLEN + 4 ? *(const uint32_t *)nla_payload(a) : def;
}

/*
 * The user stack copies of a capture of process @pid are @pid's memory:
 * every word of them in the kernel half must be what /proc/@pid/mem holds
 * at that address (the process is blocked, its stack does not move), or
 * it came from somewhere else: the kernel. Words outside the kernel half
 * are not compared (a running process's stack does move).
 */
static void check_ustack(struct scan *sc, const char *what, const void *raw, size_t len,
			 uint16_t family, pid_t pid)
{
	struct { uint32_t tid; uint64_t sp; } th[256];
	const struct nlmsghdr *nlh;
	size_t left;
	int nth = 0, fd;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	for_each_msg(nlh, raw, len, left) {
		const uint8_t *a;
		size_t alen, off;

		if (nlh->nlmsg_type != family || !(a = msg_attrs(nlh, &alen)))
			continue;
		for (off = 0; alen - off >= NLA_HDRLEN;) {
			const struct nlattr *r = (const void *)(a + off), *d, *sp;
			int type = r->nla_type & NLA_TYPE_MASK;
			uint32_t tid, at;
			uint64_t base = 0;

			if (r->nla_len < NLA_HDRLEN || r->nla_len > alen - off)
				break;
			off += NLA_ALIGN(r->nla_len);
			if (type == KHOLMES_A_THREAD && nth < 256) {
				sp = nest_find(r, KHOLMES_THREAD_USTACK_SP);
				th[nth].tid = nla_u32_or(r, KHOLMES_THREAD_TID, 0);
				th[nth].sp = 0;
				if (sp)
					memcpy(&th[nth].sp, nla_payload(sp), 8);
				nth++;
			}
			if (type != KHOLMES_A_USTACK || !(d = nest_find(r, KHOLMES_USTACK_DATA)))
				continue;
			tid = nla_u32_or(r, KHOLMES_USTACK_TID, 0);
			at = nla_u32_or(r, KHOLMES_USTACK_OFFSET, 0);
			for (int t = 0; t < nth; t++)
				if (th[t].tid == tid)
					base = th[t].sp;
			for (size_t i = 0; i + 8 <= (size_t)d->nla_len - NLA_HDRLEN; i += 8) {
				uint64_t v, mem = 0;
				uint64_t addr = base + at + i;

				memcpy(&v, (const uint8_t *)nla_payload(d) + i, 8);
				if (v < khm_kaddr_min())
					continue;
				sc->words++;
				if (base && fd >= 0 && pread(fd, &mem, 8, addr) == 8 && mem == v) {
					sc->own++;
					fprintf(stderr, "# priv: %s: stack word 0x%016llx at 0x%llx (thread %u) is the process's own\n",
						what, (unsigned long long)v, (unsigned long long)addr, tid);
					continue;
				}
				sc->hits++;
				fprintf(stderr, "# priv: %s: stack word 0x%016llx at 0x%llx (thread %u) is not the process's memory (0x%016llx there)\n",
					what, (unsigned long long)v, (unsigned long long)addr, tid,
					(unsigned long long)mem);
			}
		}
	}
	if (fd >= 0)
		close(fd);
}

/* The kholmes messages of @raw, scanned; the counts add up in @sc. */
static void scan_kaddr(struct scan *sc, const char *what, const void *raw, size_t len,
		       uint16_t family)
{
	const struct nlmsghdr *nlh;
	size_t left;

	sc->what = what;
	for_each_msg(nlh, raw, len, left) {
		const uint8_t *a;
		size_t alen;
		char path[160] = "";

		if (nlh->nlmsg_type == family && (a = msg_attrs(nlh, &alen)))
			scan_attrs(sc, a, alen, &top_nset, path, sizeof(path));
	}
}

/* "func+0x1a/0x40", "func+0x1a/0x40 [mod]" or "?" */
static bool frame_ok(const char *s)
{
	const char *plus = strrchr(s, '+');
	unsigned long a, b;
	char mod[64];
	int n = 0;

	if (!strcmp(s, "?"))
		return true;
	if (khm_find_kaddr(s) || !plus || plus == s)
		return false;
	if (sscanf(plus, "+0x%lx/0x%lx%n", &a, &b, &n) != 2)
		return false;
	if (!plus[n])
		return true;
	return sscanf(plus + n, " [%63[^]]]", mod) == 1 && plus[n + strlen(mod) + 3] == '\0';
}

/*
 * Kernel frames of a GET_CAPTURE stream (KSTACK.FRAME, PSTACK.KFRAME):
 * how many, and how many bad.
 */
static int check_frames(const void *raw, size_t len, uint16_t family, int *bad)
{
	const struct nlmsghdr *nlh;
	size_t left;
	int frames = 0;

	for_each_msg(nlh, raw, len, left) {
		const uint8_t *a;
		size_t alen, off;

		if (nlh->nlmsg_type != family || !(a = msg_attrs(nlh, &alen)))
			continue;
		for (off = 0; alen - off >= NLA_HDRLEN;) {
			const struct nlattr *r = (const void *)(a + off);
			size_t roff;

			if (r->nla_len < NLA_HDRLEN || r->nla_len > alen - off)
				break;
			int rtype = r->nla_type & NLA_TYPE_MASK;
			int ftype = rtype == KHOLMES_A_KSTACK ? KHOLMES_KSTACK_FRAME :
				    rtype == KHOLMES_A_PSTACK ? KHOLMES_PSTACK_KFRAME : -1;

			for (roff = NLA_HDRLEN; ftype > 0 && r->nla_len - roff >= NLA_HDRLEN;) {
				const struct nlattr *f = (const void *)((const uint8_t *)r + roff);

				if (f->nla_len < NLA_HDRLEN || f->nla_len > r->nla_len - roff)
					break;
				if ((f->nla_type & NLA_TYPE_MASK) == ftype) {
					frames++;
					if (!frame_ok(nla_payload(f))) {
						fprintf(stderr, "# priv: kernel frame \"%s\"\n",
							(const char *)nla_payload(f));
						(*bad)++;
					}
				}
				roff += NLA_ALIGN(f->nla_len);
			}
			off += NLA_ALIGN(r->nla_len);
		}
	}
	return frames;
}

static pid_t spawn_sleeper(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

static pid_t spawn_spinner(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		volatile unsigned long x = 0;

		for (;;)
			x++;
	}
	return pid;
}

FIXTURE(root) {
	struct khm_genl g;
	struct kt_saved state;
};

FIXTURE_SETUP(root)
{
	ASSERT_EQ(0, khm_genl_open(&self->g)) TH_LOG("no kholmes family");
	/*
	 * The module watches nothing: a detection elsewhere (a kernel
	 * thread's cpu spike) would start a profile of its own and take
	 * the one profile slot the scan needs.
	 */
	ASSERT_EQ(0, kt_saved_take(&self->state));
	ASSERT_EQ(0, kt_watch_none());
}

FIXTURE_TEARDOWN(root)
{
	khm_genl_close(&self->g);
	EXPECT_EQ(0, kt_saved_put(&self->state));
}


/*
 * The scan knows both paging modes: with 5-level paging (la57) the
 * kernel half starts at 0xff00000000000000 and the direct map sits at
 * 0xff11000000000000, below the 4-level bound; a scan that knew only
 * 0xffff800000000000 would let such an address through.
 */
TEST_F(root, kaddr_scan_knows_la57)
{
	static const char direct57[] = "at 0xff11000003a45000 in a file";
	static const char vmalloc57[] = "ffa0000000c01234";
	static const char direct4[] = "0xffff888003a45000";
	static const char user[] = "0x00007ffd12345678 0xfeffffffffffffff";
	bool la57 = khm_paging_la57();
	char flags[8192] = "";
	FILE *f;

	f = fopen("/proc/cpuinfo", "re");
	if (f) {
		while (fgets(flags, sizeof(flags), f))
			if (!strncmp(flags, "flags", 5))
				break;
		fclose(f);
	}
	TH_LOG("this kernel: %s paging (cpu flag la57: %s), kernel half from 0x%llx",
	       la57 ? "5-level" : "4-level",
	       strstr(flags, " la57") ? "yes" : "no", khm_kaddr_min());
	EXPECT_EQ(la57 ? KHM_KADDR_MIN_LA57 : KHM_KADDR_MIN_4L, khm_kaddr_min());

	khm_paging_set_la57(1);
	EXPECT_NE(NULL, khm_find_kaddr(direct57));
	EXPECT_NE(NULL, khm_find_kaddr(vmalloc57));
	EXPECT_NE(NULL, khm_find_kaddr(direct4));
	EXPECT_EQ(NULL, khm_find_kaddr(user));
	EXPECT_FALSE(frame_ok("0xff11000003a45000"));
	khm_paging_set_la57(0);
	EXPECT_EQ(NULL, khm_find_kaddr(direct57));
	EXPECT_NE(NULL, khm_find_kaddr(direct4));
	EXPECT_EQ(NULL, khm_find_kaddr(user));
	khm_paging_set_la57(-1);
	/* what this kernel's own pointers look like, through the probe */
	EXPECT_EQ(la57, khm_find_kaddr(direct57) != NULL);
}

TEST_F_TIMEOUT(root, no_kernel_addresses, 120)
{
	static const struct {
		uint8_t cmd;
		bool dump;
		const char *name;
	} reads[] = {
		{ KHOLMES_CMD_GET_STATUS, false, "GET_STATUS" },
		{ KHOLMES_CMD_GET_CONFIG, false, "GET_CONFIG" },
		{ KHOLMES_CMD_GET_RULES, false, "GET_RULES" },
		{ KHOLMES_CMD_GET_WATCH, false, "GET_WATCH" },
		{ KHOLMES_CMD_GET_PROCS, true, "GET_PROCS" },
		{ KHOLMES_CMD_LIST_CAPTURES, true, "LIST_CAPTURES" },
	};
	pid_t kids[2] = { spawn_sleeper(), spawn_spinner() };
	pid_t targets[5] = { 1, 2, kids[0], kids[1], kids[1] };
	const char *tnames[5] = { "pid 1", "kthreadd", "a sleeper", "a spinner",
				  "a cpu profile of the spinner" };
	uint64_t ids[5] = { 0 };
	struct scan sc = { 0 };
	int frames = 0, bad = 0;
	size_t total = 0;

	ASSERT_LT(0, kids[0]);
	ASSERT_LT(0, kids[1]);
	usleep(200000);
	for (int i = 0; i < 5; i++) {
		ids[i] = i < 4 ? capture(&self->g, targets[i]) :
			 profile_when_free(&self->g, targets[i]);
		EXPECT_NE(0, ids[i]) TH_LOG("no capture of %s", tnames[i]);
	}
	for (int i = 0; i < 5; i++) {
		if (ids[i])
			EXPECT_TRUE(capture_wait(&self->g, ids[i]));
	}

	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		void *raw = NULL;
		size_t len = 0;

		EXPECT_EQ(0, khm_genl_request(&self->g, reads[i].cmd,
					      reads[i].dump ? NLM_F_DUMP : 0, NULL, 0, &raw, &len));
		scan_kaddr(&sc, reads[i].name, raw, len, self->g.family);
		total += len;
		free(raw);
	}
	for (int i = 0; i < 5; i++) {
		struct request r;
		void *raw = NULL;
		size_t len = 0;
		char what[64];
		int n;

		if (!ids[i])
			continue;
		req_init(&r, KHOLMES_CMD_GET_CAPTURE, NLM_F_DUMP);
		req_u64(&r, KHOLMES_A_CAPTURE_ID, ids[i]);
		EXPECT_EQ(0, khm_genl_request(&self->g, r.cmd, r.flags, r.attrs, r.len, &raw, &len));
		snprintf(what, sizeof(what), "GET_CAPTURE of %s", tnames[i]);
		scan_kaddr(&sc, what, raw, len, self->g.family);
		check_ustack(&sc, what, raw, len, self->g.family, targets[i]);
		n = check_frames(raw, len, self->g.family, &bad);
		TH_LOG("%s: %zu bytes, %d kernel frames", what, len, n);
		/* a spinner caught in user mode has none */
		if (targets[i] != kids[1]) {
			EXPECT_LT(0, n) TH_LOG("%s has no kernel frame", what);
		}
		frames += n;
		total += len;
		free(raw);
		ack(&self->g, ids[i]);
	}
	for (int i = 0; i < 2; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	TH_LOG("%zu reply bytes scanned, %d kernel frames, %d values in the kernel half; allowed: %d errno-sized saved user registers, %d of %d stack words in the kernel half that are the process's own memory, %d build-id words that are the mapped file's own",
	       total, frames, sc.hits, sc.errnos, sc.own, sc.words, sc.ids);
	EXPECT_EQ(0, sc.hits);
	EXPECT_EQ(0, bad);
}

/*
 * The events group needs CAP_NET_ADMIN (limits_test checks that uid
 * 65534 cannot join), which is less than stacks need: what reaches a
 * listener that has CAP_NET_ADMIN only is a capture's summary, never its
 * threads, stacks or mappings.
 */
static int only_net_admin(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { 0 };

	data[0].effective = data[0].permitted = 1U << CAP_NET_ADMIN;
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

TEST_F_TIMEOUT(root, unprivileged_events_have_no_stacks, 60)
{
	int pipefd[2], status, grp = -1;
	const struct nlmsghdr *nlh;
	struct khm_genl ctrl = self->g;
	uint8_t attrs[32], *buf;
	void *raw = NULL;
	size_t n, len = 0, left;
	uint64_t id;
	pid_t pid;
	ssize_t got;

	/* the group's id, from nlctrl */
	ctrl.family = GENL_ID_CTRL;
	n = khm_nla_put(attrs, 0, CTRL_ATTR_FAMILY_NAME, KHOLMES_GENL_NAME,
			sizeof(KHOLMES_GENL_NAME));
	ASSERT_EQ(0, khm_genl_request(&ctrl, CTRL_CMD_GETFAMILY, 0, attrs, n, &raw, &len));
	for_each_msg(nlh, raw, len, left) {
		const uint8_t *a;
		size_t alen, off;
		const struct nlattr *grps;

		if (nlh->nlmsg_type != GENL_ID_CTRL || !(a = msg_attrs(nlh, &alen)))
			continue;
		grps = khm_nla_find(a, alen, CTRL_ATTR_MCAST_GROUPS);
		for (off = NLA_HDRLEN; grps && grps->nla_len - off >= NLA_HDRLEN;) {
			const struct nlattr *g = (const void *)((const uint8_t *)grps + off);
			const struct nlattr *name = nest_find(g, CTRL_ATTR_MCAST_GRP_NAME);
			const struct nlattr *gid = nest_find(g, CTRL_ATTR_MCAST_GRP_ID);

			if (name && gid && !strcmp(nla_payload(name), KHOLMES_MCGRP_EVENTS))
				grp = *(const uint32_t *)nla_payload(gid);
			off += NLA_ALIGN(g->nla_len);
		}
	}
	free(raw);
	ASSERT_LT(0, grp);

	ASSERT_EQ(0, pipe(pipefd));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct khm_genl g;
		long long end;

		close(pipefd[0]);
		buf = malloc(1 << 16);
		if (!buf || only_net_admin() || khm_genl_open(&g) ||
		    setsockopt(g.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)))
			_exit(2);
		if (write(pipefd[1], "r", 1) != 1)	/* listening */
			_exit(3);
		end = now_ms() + PRIV_WAIT_MS;
		while (now_ms() < end) {
			struct pollfd pfd = { .fd = g.fd, .events = POLLIN };
			const struct genlmsghdr *genl;

			if (poll(&pfd, 1, 500) <= 0)
				continue;
			got = recv(g.fd, buf, 1 << 16, 0);
			if (got < (ssize_t)NLMSG_LENGTH(GENL_HDRLEN))
				continue;
			genl = NLMSG_DATA((struct nlmsghdr *)buf);
			if (genl->cmd != KHOLMES_CMD_CAPTURE_READY)
				continue;
			if (write(pipefd[1], buf, got) != got)
				_exit(4);
			_exit(0);
		}
		_exit(5);
	}
	close(pipefd[1]);
	buf = malloc(1 << 16);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(1, read(pipefd[0], buf, 1)) TH_LOG("the listener did not start");
	id = capture(&self->g, 1);
	ASSERT_NE(0, id);
	got = read(pipefd[0], buf, 1 << 16);
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	ack(&self->g, id);
	ASSERT_LT(0, got) TH_LOG("a CAP_NET_ADMIN listener heard no capture ready (status %#x)",
				 status);

	for_each_msg(nlh, buf, (size_t)got, left) {
		const uint8_t *a;
		size_t alen, off;

		if (!(a = msg_attrs(nlh, &alen)))
			continue;
		for (off = 0; alen - off >= NLA_HDRLEN;) {
			const struct nlattr *r = (const void *)(a + off);
			int type = r->nla_type & NLA_TYPE_MASK;

			if (r->nla_len < NLA_HDRLEN || r->nla_len > alen - off)
				break;
			EXPECT_EQ(KHOLMES_A_CAPTURE, type)
				TH_LOG("a %s record reached a CAP_NET_ADMIN listener",
				       type <= KHOLMES_A_MAX ? top_names[type] : "?");
			off += NLA_ALIGN(r->nla_len);
		}
	}
	{
		struct scan sc = { 0 };

		scan_kaddr(&sc, "CAPTURE_READY", buf, got, self->g.family);
		EXPECT_EQ(0, sc.hits);
	}
	free(buf);
}

TEST_HARNESS_MAIN
