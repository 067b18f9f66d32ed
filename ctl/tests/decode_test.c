// SPDX-License-Identifier: GPL-2.0
/*
 * Netlink to records, on messages built in memory as the module would send
 * them: policies on the client side too, unknown metrics skipped, and the
 * kernel's extack message found behind an error or a done message.
 */
#include <errno.h>
#include <string.h>

#include <linux/netlink.h>
#include <netlink/genl/genl.h>

#include "decode.h"
#include "kselftest_harness.h"

#define FAMILY	0x42

FIXTURE(msg) {
	struct nl_msg *msg;
};

FIXTURE_SETUP(msg)
{
	self->msg = nlmsg_alloc();
	ASSERT_NE(NULL, self->msg);
	ASSERT_NE(NULL, genlmsg_put(self->msg, 0, 1, FAMILY, 0, 0,
				    KHOLMES_CMD_GET_STATUS,
				    KHOLMES_GENL_VERSION));
}

FIXTURE_TEARDOWN(msg)
{
	nlmsg_free(self->msg);
}

static struct nlattr *first(struct nl_msg *msg, int type)
{
	struct nlattr *a;
	int rem;

	kh_for_each_attr(a, nlmsg_hdr(msg), rem)
		if (nla_type(a) == type)
			return a;
	return NULL;
}

TEST_F(msg, status)
{
	struct kh_status st = { 0 };
	struct nlattr *n;
	int i;

	ASSERT_EQ(0, nla_put_string(self->msg, KHOLMES_A_VERSION, KHOLMES_VERSION));
	ASSERT_EQ(0, nla_put_string(self->msg, KHOLMES_A_KRELEASE,
				    "6.12.117+deb12-cloud-amd64"));
	n = nla_nest_start(self->msg, KHOLMES_A_CONFIG);
	nla_put_u8(self->msg, KHOLMES_CFG_ENABLED, 1);
	nla_put_u32(self->msg, KHOLMES_CFG_INTERVAL_MS, 1000);
	nla_put_u32(self->msg, KHOLMES_CFG_WINDOW, 10);
	nla_put_u32(self->msg, KHOLMES_CFG_MAX_TRACKED, 65536);
	nla_nest_end(self->msg, n);
	n = nla_nest_start(self->msg, KHOLMES_A_STATS);
	for (i = KHOLMES_STAT_PASSES; i <= KHOLMES_STAT_MAX; i++)
		nla_put_u64(self->msg, i, 1000 + i);
	nla_nest_end(self->msg, n);

	ASSERT_EQ(0, kh_decode_status(nlmsg_hdr(self->msg), &st));
	EXPECT_STREQ(KHOLMES_VERSION, st.version);
	EXPECT_STREQ("6.12.117+deb12-cloud-amd64", st.krelease);
	EXPECT_TRUE(st.cfg.enabled);
	EXPECT_EQ(1000U, st.cfg.interval_ms);
	EXPECT_EQ(10U, st.cfg.window);
	EXPECT_EQ(65536U, st.cfg.max_tracked);
	for (i = KHOLMES_STAT_PASSES; i <= KHOLMES_STAT_MAX; i++)
		EXPECT_EQ((uint64_t)1000 + i, st.stat[i]);
}

/* A u32 where a u64 belongs is refused, as the kernel refuses it. */
TEST_F(msg, status_bad_stat)
{
	struct kh_status st = { 0 };
	struct nlattr *n;

	n = nla_nest_start(self->msg, KHOLMES_A_STATS);
	nla_put_u32(self->msg, KHOLMES_STAT_PASSES, 1);
	nla_nest_end(self->msg, n);
	EXPECT_EQ(-EBADMSG, kh_decode_status(nlmsg_hdr(self->msg), &st));
}

TEST_F(msg, config)
{
	struct kh_config cfg = { 0 };
	struct nlattr *n;

	EXPECT_EQ(-EBADMSG, kh_decode_config_msg(nlmsg_hdr(self->msg), &cfg));
	n = nla_nest_start(self->msg, KHOLMES_A_CONFIG);
	nla_put_u32(self->msg, KHOLMES_CFG_WINDOW, 64);
	nla_nest_end(self->msg, n);
	ASSERT_EQ(0, kh_decode_config_msg(nlmsg_hdr(self->msg), &cfg));
	EXPECT_EQ(64U, cfg.window);
	EXPECT_FALSE(cfg.enabled);
	EXPECT_EQ(1U << KHOLMES_CFG_WINDOW, cfg.has);
}

TEST_F(msg, config_capture_keys)
{
	struct kh_config cfg = { 0 };
	struct nlattr *n;

	n = nla_nest_start(self->msg, KHOLMES_A_CONFIG);
	nla_put_u32(self->msg, KHOLMES_CFG_MAX_THREADS, 64);
	nla_put_u32(self->msg, KHOLMES_CFG_MAX_CAPTURES, 65);
	nla_put_u32(self->msg, KHOLMES_CFG_MAX_QUEUE_KB, 16384);
	nla_put_u32(self->msg, KHOLMES_CFG_USER_STACK_KB, 8);
	nla_put_u32(self->msg, KHOLMES_CFG_CAPTURE_RATE, 10);
	nla_nest_end(self->msg, n);
	ASSERT_EQ(0, kh_decode_config_msg(nlmsg_hdr(self->msg), &cfg));
	EXPECT_EQ(64U, cfg.max_threads);
	EXPECT_EQ(65U, cfg.max_captures);
	EXPECT_EQ(16384U, cfg.max_queue_kb);
	EXPECT_EQ(8U, cfg.user_stack_kb);
	EXPECT_EQ(10U, cfg.capture_rate);
	EXPECT_EQ(0x1fU << KHOLMES_CFG_MAX_THREADS, cfg.has);
}

/* LIST_CAPTURES and CAPTURE_READY: the summary members only. */
TEST_F(msg, capture_sum)
{
	struct kh_capture_sum sum;
	struct nlattr *n;

	n = nla_nest_start(self->msg, KHOLMES_A_CAPTURE);
	nla_put_u64(self->msg, KHOLMES_CAPTURE_ID, 7);
	nla_put_u64(self->msg, KHOLMES_CAPTURE_TIME_NS, 1795662960123000000ULL);
	nla_put_u64(self->msg, KHOLMES_CAPTURE_BOOT_NS, 5);
	nla_put_u32(self->msg, KHOLMES_CAPTURE_FLAGS, KHOLMES_CAPTURE_F_MANUAL);
	nla_put_u32(self->msg, KHOLMES_CAPTURE_PID, 99);
	nla_put_string(self->msg, KHOLMES_CAPTURE_COMM, "sleeper");
	nla_put_u32(self->msg, KHOLMES_CAPTURE_NR_THREADS, 3);
	nla_put_u32(self->msg, KHOLMES_CAPTURE_THREADS, 3);
	nla_put_u64(self->msg, KHOLMES_CAPTURE_BYTES, 12345);
	nla_nest_end(self->msg, n);
	ASSERT_EQ(0, kh_decode_capture_sum(n, &sum));
	EXPECT_EQ(7U, sum.id);
	EXPECT_EQ(1795662960123000000ULL, sum.time_ns);
	EXPECT_FALSE(sum.has_metric);
	EXPECT_EQ((uint32_t)KHOLMES_CAPTURE_F_MANUAL, sum.flags);
	EXPECT_EQ(99U, sum.pid);
	EXPECT_STREQ("sleeper", sum.comm);
	EXPECT_EQ(3U, sum.threads);
	EXPECT_EQ(12345U, sum.bytes);

	/* no id: no capture */
	n = nla_nest_start(self->msg, KHOLMES_A_CAPTURE);
	nla_put_u32(self->msg, KHOLMES_CAPTURE_PID, 99);
	nla_nest_end(self->msg, n);
	EXPECT_EQ(-EBADMSG, kh_decode_capture_sum(n, &sum));
}

TEST_F(msg, capture_id)
{
	uint64_t id = 0;

	EXPECT_EQ(-EBADMSG, kh_decode_capture_id(nlmsg_hdr(self->msg), &id));
	nla_put_u64(self->msg, KHOLMES_A_CAPTURE_ID, 1ULL << 40);
	ASSERT_EQ(0, kh_decode_capture_id(nlmsg_hdr(self->msg), &id));
	EXPECT_EQ(1ULL << 40, id);
}

/* GET_RULES: one nest per metric in one message. */
TEST_F(msg, rules)
{
	struct kh_rule r;
	struct nlattr *n, *a;
	unsigned int m, seen = 0;
	int rem;

	for (m = 0; m < KHOLMES_NR_METRICS; m++) {
		n = nla_nest_start(self->msg, KHOLMES_A_RULE);
		nla_put_u32(self->msg, KHOLMES_RULE_METRIC, m);
		nla_put_u8(self->msg, KHOLMES_RULE_ENABLED, m & 1);
		nla_put_u32(self->msg, KHOLMES_RULE_MIN, 10 * m);
		nla_put_u32(self->msg, KHOLMES_RULE_DIFF, 100);
		nla_put_u32(self->msg, KHOLMES_RULE_ABS, m);
		nla_put_u32(self->msg, KHOLMES_RULE_COOLDOWN, 60);
		nla_nest_end(self->msg, n);
	}
	kh_for_each_attr(a, nlmsg_hdr(self->msg), rem) {
		ASSERT_EQ(0, kh_decode_rule(a, &r));
		EXPECT_EQ(seen, r.metric);
		EXPECT_EQ((bool)(seen & 1), r.cfg.enabled);
		EXPECT_EQ(10 * seen, r.cfg.min);
		EXPECT_EQ(100U, r.cfg.diff);
		EXPECT_EQ(seen, r.cfg.abs);
		EXPECT_EQ(60U, r.cfg.cooldown_s);
		seen++;
	}
	EXPECT_EQ((unsigned int)KHOLMES_NR_METRICS, seen);
}

TEST_F(msg, rule_without_metric)
{
	struct kh_rule r;
	struct nlattr *n;

	n = nla_nest_start(self->msg, KHOLMES_A_RULE);
	nla_put_u32(self->msg, KHOLMES_RULE_MIN, 1);
	nla_nest_end(self->msg, n);
	EXPECT_EQ(-EBADMSG, kh_decode_rule(n, &r));
}

TEST_F(msg, watch)
{
	struct kh_watch_entry e;
	struct nlattr *n[4];

	n[0] = nla_nest_start(self->msg, KHOLMES_A_WATCH);
	nla_put_u32(self->msg, KHOLMES_WATCH_PID, 42);
	nla_nest_end(self->msg, n[0]);
	n[1] = nla_nest_start(self->msg, KHOLMES_A_WATCH);
	nla_put_string(self->msg, KHOLMES_WATCH_COMM, "nginx");
	nla_nest_end(self->msg, n[1]);
	n[2] = nla_nest_start(self->msg, KHOLMES_A_WATCH);
	nla_put_string(self->msg, KHOLMES_WATCH_CGROUP, "/system.slice");
	nla_nest_end(self->msg, n[2]);
	n[3] = nla_nest_start(self->msg, KHOLMES_A_WATCH);
	nla_nest_end(self->msg, n[3]);

	ASSERT_EQ(0, kh_decode_watch(n[0], &e));
	EXPECT_EQ(KHOLMES_WATCH_PID, e.type);
	EXPECT_EQ(42U, e.pid);
	ASSERT_EQ(0, kh_decode_watch(n[1], &e));
	EXPECT_EQ(KHOLMES_WATCH_COMM, e.type);
	EXPECT_STREQ("nginx", e.name);
	ASSERT_EQ(0, kh_decode_watch(n[2], &e));
	EXPECT_EQ(KHOLMES_WATCH_CGROUP, e.type);
	EXPECT_STREQ("/system.slice", e.name);
	EXPECT_EQ(-EBADMSG, kh_decode_watch(n[3], &e));
}

static struct nlattr *put_metrics(struct nl_msg *msg, int type, uint64_t base)
{
	struct nlattr *n = nla_nest_start(msg, type);

	nla_put_u64(msg, KHOLMES_METRIC_ATTR(KHOLMES_METRIC_CPU), base + 1);
	nla_put_u64(msg, KHOLMES_METRIC_ATTR(KHOLMES_METRIC_DSTATE), base + 2);
	/* a metric from a newer module */
	nla_put_u64(msg, KHOLMES_METRIC_ATTR(KHOLMES_NR_METRICS), base + 3);
	nla_nest_end(msg, n);
	return n;
}

TEST_F(msg, proc)
{
	struct kh_proc p;
	struct nlattr *n;

	n = nla_nest_start(self->msg, KHOLMES_A_PROC);
	nla_put_u32(self->msg, KHOLMES_PROC_PID, 4321);
	nla_put_string(self->msg, KHOLMES_PROC_COMM, "kworker/0:1");
	nla_put_u64(self->msg, KHOLMES_PROC_START_NS, 123456789);
	nla_put_flag(self->msg, KHOLMES_PROC_KTHREAD);
	nla_put_u32(self->msg, KHOLMES_PROC_SAMPLES, 7);
	put_metrics(self->msg, KHOLMES_PROC_VALUES, 1000);
	put_metrics(self->msg, KHOLMES_PROC_AVGS, 2000);
	nla_nest_end(self->msg, n);

	ASSERT_EQ(0, kh_decode_proc(first(self->msg, KHOLMES_A_PROC), &p));
	EXPECT_EQ(4321U, p.pid);
	EXPECT_STREQ("kworker/0:1", p.comm);
	EXPECT_EQ((uint64_t)123456789, p.start_ns);
	EXPECT_TRUE(p.kthread);
	EXPECT_EQ(7U, p.samples);
	EXPECT_EQ((1U << KHOLMES_METRIC_CPU) | (1U << KHOLMES_METRIC_DSTATE),
		  p.has_value);
	EXPECT_EQ(p.has_value, p.has_avg);
	EXPECT_EQ((uint64_t)1001, p.value[KHOLMES_METRIC_CPU]);
	EXPECT_EQ((uint64_t)1002, p.value[KHOLMES_METRIC_DSTATE]);
	EXPECT_EQ((uint64_t)2001, p.avg[KHOLMES_METRIC_CPU]);
	EXPECT_EQ((uint64_t)2002, p.avg[KHOLMES_METRIC_DSTATE]);
}

TEST_F(msg, proc_minimal)
{
	struct kh_proc p;
	struct nlattr *n;

	n = nla_nest_start(self->msg, KHOLMES_A_PROC);
	nla_put_u32(self->msg, KHOLMES_PROC_PID, 1);
	nla_nest_end(self->msg, n);
	ASSERT_EQ(0, kh_decode_proc(n, &p));
	EXPECT_EQ(1U, p.pid);
	EXPECT_FALSE(p.kthread);
	EXPECT_EQ(0U, p.has_value);
	EXPECT_STREQ("", p.comm);
}

TEST_F(msg, proc_refused)
{
	struct kh_proc p;
	struct nlattr *n;

	/* no pid */
	n = nla_nest_start(self->msg, KHOLMES_A_PROC);
	nla_put_string(self->msg, KHOLMES_PROC_COMM, "x");
	nla_nest_end(self->msg, n);
	EXPECT_EQ(-EBADMSG, kh_decode_proc(n, &p));

	/* a comm longer than the kernel keeps */
	n = nla_nest_start(self->msg, KHOLMES_A_PROC);
	nla_put_u32(self->msg, KHOLMES_PROC_PID, 1);
	nla_put_string(self->msg, KHOLMES_PROC_COMM, "sixteen-bytes!!!");
	nla_nest_end(self->msg, n);
	EXPECT_EQ(-EBADMSG, kh_decode_proc(n, &p));

	/* a string without its NUL */
	n = nla_nest_start(self->msg, KHOLMES_A_PROC);
	nla_put_u32(self->msg, KHOLMES_PROC_PID, 1);
	nla_put(self->msg, KHOLMES_PROC_COMM, 4, "abcd");
	nla_nest_end(self->msg, n);
	EXPECT_EQ(-EBADMSG, kh_decode_proc(n, &p));
}

TEST_F(msg, event)
{
	struct kh_event ev;
	struct nlattr *n, *r;

	n = nla_nest_start(self->msg, KHOLMES_A_EVENT);
	nla_put_u32(self->msg, KHOLMES_EVENT_PID, 123);
	nla_put_string(self->msg, KHOLMES_EVENT_COMM, "spin");
	nla_put_u64(self->msg, KHOLMES_EVENT_START_NS, 11);
	nla_put_u64(self->msg, KHOLMES_EVENT_TIME_NS, 22);
	nla_put_u32(self->msg, KHOLMES_EVENT_METRIC, KHOLMES_METRIC_CPU);
	nla_put_u64(self->msg, KHOLMES_EVENT_VALUE, 99800);
	nla_put_u64(self->msg, KHOLMES_EVENT_AVG, 200);
	r = nla_nest_start(self->msg, KHOLMES_EVENT_RULE);
	nla_put_u32(self->msg, KHOLMES_RULE_MIN, 50);
	nla_put_u32(self->msg, KHOLMES_RULE_DIFF, 100);
	nla_put_u32(self->msg, KHOLMES_RULE_ABS, 0);
	nla_put_u32(self->msg, KHOLMES_RULE_COOLDOWN, 60);
	nla_nest_end(self->msg, r);
	nla_nest_end(self->msg, n);

	ASSERT_EQ(0, kh_decode_event(n, &ev));
	EXPECT_EQ(123U, ev.pid);
	EXPECT_STREQ("spin", ev.comm);
	EXPECT_EQ((uint64_t)11, ev.start_ns);
	EXPECT_EQ((uint64_t)22, ev.time_ns);
	EXPECT_EQ((uint32_t)KHOLMES_METRIC_CPU, ev.metric);
	EXPECT_EQ((uint64_t)99800, ev.value);
	EXPECT_EQ((uint64_t)200, ev.avg);
	EXPECT_EQ(50U, ev.rule.min);
	EXPECT_EQ(100U, ev.rule.diff);
	EXPECT_EQ(0U, ev.rule.abs);
	EXPECT_EQ(60U, ev.rule.cooldown_s);
	EXPECT_TRUE(ev.rule.enabled);
}

/* An error as the kernel builds it, with NETLINK_EXT_ACK on. */
static struct nl_msg *error_msg(int err, bool capped, const char *text)
{
	struct nlmsgerr e = { .error = err };
	struct nl_msg *msg = nlmsg_alloc();
	char req[8] = "request";
	struct nlmsghdr *nlh;

	e.msg.nlmsg_len = NLMSG_HDRLEN + (capped ? 0 : sizeof(req));
	e.msg.nlmsg_type = FAMILY;
	nlh = nlmsg_put(msg, 0, 1, NLMSG_ERROR, 0, 0);
	nlmsg_append(msg, &e, sizeof(e), NLMSG_ALIGNTO);
	if (!capped)
		nlmsg_append(msg, req, sizeof(req), NLMSG_ALIGNTO);
	if (capped)
		nlh->nlmsg_flags |= NLM_F_CAPPED;
	if (text) {
		nlh->nlmsg_flags |= NLM_F_ACK_TLVS;
		nla_put_u32(msg, NLMSGERR_ATTR_OFFS, 20);
		nla_put_string(msg, NLMSGERR_ATTR_MSG, text);
	}
	return msg;
}

TEST(extack)
{
	const char *text = "interval-ms must be 10..60000";
	struct nl_msg *msg;
	const char *got;

	msg = error_msg(-EINVAL, true, text);
	got = kh_nlerr_extack(nlmsg_hdr(msg));
	ASSERT_NE(NULL, got);
	EXPECT_STREQ(text, got);
	nlmsg_free(msg);

	msg = error_msg(-EINVAL, false, text);
	got = kh_nlerr_extack(nlmsg_hdr(msg));
	ASSERT_NE(NULL, got);
	EXPECT_STREQ(text, got);
	nlmsg_free(msg);

	msg = error_msg(-EPERM, true, NULL);
	EXPECT_EQ(NULL, kh_nlerr_extack(nlmsg_hdr(msg)));
	nlmsg_free(msg);
}

/* A dump that fails half-way says why in NLMSG_DONE. */
TEST(extack_done)
{
	struct nl_msg *msg = nlmsg_alloc();
	struct nlmsghdr *nlh;
	int err = -ENOMEM;

	nlh = nlmsg_put(msg, 0, 1, NLMSG_DONE, 0, NLM_F_MULTI);
	nlmsg_append(msg, &err, sizeof(err), NLMSG_ALIGNTO);
	EXPECT_EQ(NULL, kh_extack_msg(nlh, sizeof(err)));
	nlh->nlmsg_flags |= NLM_F_ACK_TLVS;
	nla_put_string(msg, NLMSGERR_ATTR_MSG, "out of memory");
	EXPECT_STREQ("out of memory", kh_extack_msg(nlmsg_hdr(msg), sizeof(err)));
	nlmsg_free(msg);
}

TEST_HARNESS_MAIN
