// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>

#include "decode.h"
#include "kholmes.h"
#include "module.h"
#include "nl.h"
#include "out.h"
#include "util.h"

/* Room for the largest request: a watch on a cgroup path of maximal length. */
#define KH_NL_REQ_SIZE		(2 * KHOLMES_CGROUP_PATH_MAX)

/*
 * A process list that keeps changing can interrupt dump after dump; give up
 * eventually rather than spin, and say so.
 */
#define KH_DUMP_TRIES		100
/* SO_RCVTIMEO of every request socket; KHOLMESCTL_NL_TIMEOUT sets another */
#define KH_NL_TIMEOUT_S		30
#define KH_NL_TIMEOUT_MAX_S	3600

struct kh_req {
	struct kh_nl *nl;
	kh_nl_cb fn;
	void *arg;
	int err;		/* negative errno */
	bool done;
	bool intr;
};

/* The wait for the module, in seconds: the environment's, if it is one. */
static unsigned int timeout_s(void)
{
	const char *env = getenv("KHOLMESCTL_NL_TIMEOUT");
	uint64_t v;

	if (!env || kh_parse_dec(env, strlen(env), KH_NL_TIMEOUT_MAX_S, &v) ||
	    !v)
		return KH_NL_TIMEOUT_S;
	return v;
}

static void set_msg(struct kh_nl *nl, const char *msg)
{
	snprintf(nl->msg, sizeof(nl->msg), "%s", msg ? msg : "");
}

static int valid_cb(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct kh_req *rq = arg;
	int err;

	if (nlh->nlmsg_type != rq->nl->family || !rq->fn)
		return NL_SKIP;
	err = rq->fn(nlh, rq->arg);
	if (err) {
		rq->err = err;
		return NL_STOP;
	}
	return NL_OK;
}

/* NLMSG_DONE carries the dump's own error, if it failed half-way. */
static int finish_cb(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct kh_req *rq = arg;
	int err;

	rq->done = true;
	if (nlmsg_datalen(nlh) >= (int)sizeof(err)) {
		memcpy(&err, nlmsg_data(nlh), sizeof(err));
		if (err < 0 && !rq->err) {
			rq->err = err;
			set_msg(rq->nl, kh_extack_msg(nlh, sizeof(err)));
		}
	}
	return NL_STOP;
}

/* A success may still carry a warning from the kernel. */
static int ack_cb(struct nl_msg *msg, void *arg)
{
	const char *warn = kh_nlerr_extack(nlmsg_hdr(msg));
	struct kh_req *rq = arg;

	if (warn && *warn)
		kh_err("warning: %s", warn);
	rq->done = true;
	return NL_STOP;
}

/* A policy's bounds are u64, or as short as they fit (nla_put_uint()). */
static int get_uint(const struct nlattr *a, uint64_t *v)
{
	if (a && nla_len(a) == sizeof(uint64_t)) {
		*v = nla_get_u64((struct nlattr *)a);
		return 0;
	}
	if (a && nla_len(a) == sizeof(uint32_t)) {
		*v = nla_get_u32((struct nlattr *)a);
		return 0;
	}
	return -1;
}

/*
 * The offset of the attribute a refusal is about (NLMSGERR_ATTR_OFFS) and,
 * for a number out of range, the range (NLMSGERR_ATTR_POLICY), so that a
 * request built from a file can name the line that gave the attribute.
 */
static void err_where(struct kh_nl *nl, const struct nlmsghdr *nlh)
{
	static const struct nla_policy policy[NLMSGERR_ATTR_MAX + 1] = {
		[NLMSGERR_ATTR_OFFS] = { .type = NLA_U32 },
		[NLMSGERR_ATTR_POLICY] = { .type = NLA_NESTED },
	};
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1], *pol[NL_POLICY_TYPE_ATTR_MAX + 1];
	const struct nlmsgerr *e = nlmsg_data(nlh);
	size_t off = sizeof(*e);
	int len = nlmsg_datalen(nlh);

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || len < (int)off)
		return;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED) &&
	    e->msg.nlmsg_len > NLMSG_HDRLEN)
		off += NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN);
	if ((size_t)len <= off ||
	    nla_parse(tb, NLMSGERR_ATTR_MAX,
		      (struct nlattr *)((char *)nlmsg_data(nlh) + off),
		      len - off, policy))
		return;
	if (tb[NLMSGERR_ATTR_OFFS]) {
		nl->has_err_off = true;
		nl->err_off = nla_get_u32(tb[NLMSGERR_ATTR_OFFS]);
	}
	if (tb[NLMSGERR_ATTR_POLICY] &&
	    !nla_parse_nested(pol, NL_POLICY_TYPE_ATTR_MAX,
			      tb[NLMSGERR_ATTR_POLICY], NULL) &&
	    !get_uint(pol[NL_POLICY_TYPE_ATTR_MIN_VALUE_U], &nl->err_min) &&
	    !get_uint(pol[NL_POLICY_TYPE_ATTR_MAX_VALUE_U], &nl->err_max))
		nl->has_err_range = true;
}

static int err_cb(struct sockaddr_nl *sa, struct nlmsgerr *e, void *arg)
{
	/* libnl hands us the payload; the flags are in the header before it */
	const struct nlmsghdr *nlh = (void *)((char *)e - NLMSG_HDRLEN);
	struct kh_req *rq = arg;

	(void)sa;
	rq->done = true;
	rq->err = e->error ? e->error : -EIO;
	set_msg(rq->nl, kh_nlerr_extack(nlh));
	err_where(rq->nl, nlh);
	return NL_STOP;
}

static int intr_cb(struct nl_msg *msg, void *arg)
{
	struct kh_req *rq = arg;

	(void)msg;
	rq->intr = true;
	return NL_OK;
}

static int run(struct kh_nl *nl, struct kh_req *rq)
{
	struct nl_cb *cb;
	int ret;

	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, valid_cb, rq);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, finish_cb, rq);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, ack_cb, rq);
	nl_cb_set(cb, NL_CB_DUMP_INTR, NL_CB_CUSTOM, intr_cb, rq);
	nl_cb_err(cb, NL_CB_CUSTOM, err_cb, rq);
	while (!rq->done && !rq->err) {
		ret = nl_recvmsgs(nl->sk, cb);
		if (ret == -NLE_AGAIN && !rq->err) {
			/* SO_RCVTIMEO: the socket is given up, not waited on */
			snprintf(nl->msg, sizeof(nl->msg),
				 "no answer from the module within %u s",
				 timeout_s());
			rq->err = -EIO;
		} else if (ret < 0 && !rq->err) {
			set_msg(nl, nl_geterror(ret));
			rq->err = -EIO;
		}
	}
	nl_cb_put(cb);
	if (!rq->err && rq->intr)
		return -EINTR;
	return rq->err;
}

static int send_and_run(struct kh_nl *nl, struct nl_msg *msg, kh_nl_cb fn,
			void *arg)
{
	struct kh_req rq = { .nl = nl, .fn = fn, .arg = arg };
	int ret;

	nl->msg[0] = '\0';
	nl->has_err_off = false;
	nl->has_err_range = false;
	if (!msg)
		return -ENOMEM;
	ret = nl_send_auto(nl->sk, msg);
	nlmsg_free(msg);
	if (ret < 0) {
		set_msg(nl, nl_geterror(ret));
		return -EIO;
	}
	return run(nl, &rq);
}

struct nl_msg *kh_nl_msg(struct kh_nl *nl, uint8_t cmd, int flags)
{
	struct nl_msg *msg;

	msg = nlmsg_alloc_size(KH_NL_REQ_SIZE);
	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, flags,
			 cmd, KHOLMES_GENL_VERSION)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/*
 * A request whose one attribute is the nest nest_type, filled by put; NULL
 * when it does not fit or put fails. The kernel takes a nest all or nothing.
 */
struct nl_msg *kh_nl_nest_msg(struct kh_nl *nl, uint8_t cmd, int nest_type,
			      kh_nl_put put, const void *arg)
{
	struct nl_msg *msg = kh_nl_msg(nl, cmd, 0);
	struct nlattr *nest;

	if (!msg)
		return NULL;
	nest = nla_nest_start(msg, nest_type);
	if (!nest || put(msg, arg) || nla_nest_end(msg, nest)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/* Sends msg (and frees it) and waits for the reply and the ack. */
int kh_nl_call(struct kh_nl *nl, struct nl_msg *msg, kh_nl_cb cb, void *arg)
{
	return send_and_run(nl, msg, cb, arg);
}

static struct nl_msg *dump_msg(struct kh_nl *nl, uint8_t cmd, int attr,
			       uint64_t val)
{
	struct nl_msg *msg = kh_nl_msg(nl, cmd, NLM_F_DUMP);

	if (msg && attr && nla_put_u64(msg, attr, val)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/* An interrupted dump is inconsistent: start again rather than show it. */
static int dump(struct kh_nl *nl, uint8_t cmd, int attr, uint64_t val,
		kh_nl_cb cb, kh_nl_reset reset, void *arg)
{
	int ret, tries;

	for (tries = 1;; tries++) {
		ret = send_and_run(nl, dump_msg(nl, cmd, attr, val), cb, arg);
		if (ret != -EINTR)
			return ret;
		if (tries == KH_DUMP_TRIES) {
			set_msg(nl, "the list kept changing while it was read");
			return ret;
		}
		if (reset)
			reset(arg);
	}
}

int kh_nl_dump(struct kh_nl *nl, uint8_t cmd, kh_nl_cb cb, kh_nl_reset reset,
	       void *arg)
{
	return dump(nl, cmd, 0, 0, cb, reset, arg);
}

/* A dump of one object, named by a u64 attribute (a capture by its id). */
int kh_nl_dump_u64(struct kh_nl *nl, uint8_t cmd, int attr, uint64_t val,
		   kh_nl_cb cb, kh_nl_reset reset, void *arg)
{
	return dump(nl, cmd, attr, val, cb, reset, arg);
}

int kh_nl_connect(struct kh_nl *nl)
{
	struct timeval tv = { .tv_sec = timeout_s() };
	int one = 1, ret;

	memset(nl, 0, sizeof(*nl));
	nl->sk = nl_socket_alloc();
	if (!nl->sk) {
		kh_err("opening a netlink socket: %s", strerror(ENOMEM));
		return KH_EXIT_FAIL;
	}
	ret = genl_connect(nl->sk);
	if (ret) {
		kh_err("opening a generic netlink socket: %s", nl_geterror(ret));
		ret = KH_EXIT_FAIL;
		goto err;
	}
	/*
	 * Without EXT_ACK the kernel keeps its reason for a refusal to itself;
	 * CAP_ACK spares echoing our request back. Older kernels lack them,
	 * and then errors read as strerror(), which is still right.
	 */
	setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));
	setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_CAP_ACK,
		   &one, sizeof(one));
	/* No wait for the module is forever: a stuck one ends the request. */
	setsockopt(nl_socket_get_fd(nl->sk), SOL_SOCKET, SO_RCVTIMEO, &tv,
		   sizeof(tv));
	/* Size each read to the message, which a process list can make large. */
	nl_socket_enable_msg_peek(nl->sk);
	ret = genl_ctrl_resolve(nl->sk, KHOLMES_GENL_NAME);
	if (ret == -NLE_OBJ_NOTFOUND) {
		ret = kh_module_explain();
		goto err;
	}
	if (ret < 0) {
		kh_err("resolving the generic netlink family \"%s\": %s",
		       KHOLMES_GENL_NAME, nl_geterror(ret));
		ret = KH_EXIT_FAIL;
		goto err;
	}
	nl->family = ret;
	return KH_EXIT_OK;
err:
	nl_socket_free(nl->sk);
	nl->sk = NULL;
	return ret;
}

void kh_nl_close(struct kh_nl *nl)
{
	if (nl->sk)
		nl_socket_free(nl->sk);
	nl->sk = NULL;
}

/* Multicast messages carry no sequence number of ours. */
int kh_nl_subscribe(struct kh_nl *nl, const char *group)
{
	int grp, ret;

	grp = genl_ctrl_resolve_grp(nl->sk, KHOLMES_GENL_NAME, group);
	if (grp < 0) {
		set_msg(nl, nl_geterror(grp));
		return -EIO;
	}
	nl_socket_disable_seq_check(nl->sk);
	ret = nl_socket_add_membership(nl->sk, grp);
	if (ret) {
		set_msg(nl, nl_geterror(ret));
		return -EIO;
	}
	return 0;
}

/* "kholmesctl: <what>: <the kernel's words, or strerror>", exit 1 */
int kh_nl_fail(const struct kh_nl *nl, const char *what, int err)
{
	if (nl->msg[0])
		kh_err("%s: %s", what, nl->msg);
	else if (err == -EPERM)
		kh_err("%s: %s (it needs CAP_NET_ADMIN: run it as root)", what,
		       strerror(-err));
	else
		kh_err("%s: %s", what, strerror(-err));
	return KH_EXIT_FAIL;
}

/*
 * A whole request without attributes: connect, send cmd, hand each reply
 * to cb, close. Returns the exit status; a failure is reported as
 * "kholmesctl: <what>: <reason>".
 */
int kh_nl_request(uint8_t cmd, kh_nl_cb cb, void *arg, const char *what)
{
	struct kh_nl nl;
	int ret, err;

	ret = kh_nl_connect(&nl);
	if (ret)
		return ret;
	err = kh_nl_call(&nl, kh_nl_msg(&nl, cmd, 0), cb, arg);
	ret = err ? kh_nl_fail(&nl, what, err) : KH_EXIT_OK;
	kh_nl_close(&nl);
	return ret;
}
