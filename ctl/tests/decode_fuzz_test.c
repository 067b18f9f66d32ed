// SPDX-License-Identifier: GPL-2.0
/*
 * The decoder fuzzed: valid messages, as the module sends them, mutated
 * (bits flipped, bytes set, attribute lengths and types rewritten,
 * attributes cut, repeated or dropped, the message truncated) and fed to
 * every decoder of decode.c and to the capture stream. Each record is
 * either decoded or rejected with -EBADMSG: nothing else is returned,
 * nothing crashes or reads out of bounds (run under ASan and UBSan), and
 * a rejected record leaves no partial state: the record handed in reads
 * back byte for byte as it was. A decoded one has its strings terminated
 * within their arrays. The fuzz is seeded (KH_FUZZ_SEED, KH_FUZZ_ROUNDS)
 * and says its seed, so a failure is repeated by running it again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netlink.h>
#include <netlink/genl/genl.h>

#include "decode.h"
#include "stream.h"
#include "kselftest_harness.h"

#define FAMILY		0x42
#define CAP_ID		42
#define ROUNDS		20000
#define PATTERN		0xa5

struct rng {
	uint64_t s;
};

static uint64_t next(struct rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return r->s;
}

static uint32_t below(struct rng *r, uint32_t n)
{
	return n ? next(r) % n : 0;
}

/* ------------------------------------------------------------ seeds */

static struct nl_msg *new_msg(uint8_t cmd)
{
	struct nl_msg *msg = nlmsg_alloc_size(65536);

	if (msg)
		genlmsg_put(msg, 0, 1, FAMILY, 0, 0, cmd, KHOLMES_GENL_VERSION);
	return msg;
}

static void put_rule(struct nl_msg *msg, int type, uint32_t metric)
{
	struct nlattr *r = nla_nest_start(msg, type);

	nla_put_u32(msg, KHOLMES_RULE_METRIC, metric);
	nla_put_u8(msg, KHOLMES_RULE_ENABLED, 1);
	nla_put_u32(msg, KHOLMES_RULE_MIN, 10);
	nla_put_u32(msg, KHOLMES_RULE_DIFF, 25);
	nla_put_u32(msg, KHOLMES_RULE_ABS, 70);
	nla_put_u32(msg, KHOLMES_RULE_COOLDOWN, 60);
	nla_nest_end(msg, r);
}

static void put_metrics(struct nl_msg *msg, int type)
{
	struct nlattr *v = nla_nest_start(msg, type);
	unsigned int m;

	for (m = 0; m < KHOLMES_NR_METRICS; m++)
		nla_put_u64(msg, KHOLMES_METRIC_ATTR(m), 1000 * (m + 1));
	nla_nest_end(msg, v);
}

/* GET_STATUS: version, release, the whole configuration and every stat. */
static struct nl_msg *seed_status(void)
{
	struct nl_msg *msg = new_msg(KHOLMES_CMD_GET_STATUS);
	struct nlattr *n;
	int i;

	nla_put_string(msg, KHOLMES_A_VERSION, KHOLMES_VERSION);
	nla_put_string(msg, KHOLMES_A_KRELEASE, "6.12.117+deb12-cloud-amd64");
	n = nla_nest_start(msg, KHOLMES_A_CONFIG);
	nla_put_u8(msg, KHOLMES_CFG_ENABLED, 1);
	for (i = KHOLMES_CFG_INTERVAL_MS; i <= KHOLMES_CFG_MAX; i++)
		if (i != KHOLMES_CFG_PROFILES)
			nla_put_u32(msg, i, 100 + i);
	nla_put_u8(msg, KHOLMES_CFG_PROFILES, 1);
	nla_nest_end(msg, n);
	n = nla_nest_start(msg, KHOLMES_A_STATS);
	for (i = KHOLMES_STAT_PASSES; i <= KHOLMES_STAT_MAX; i++)
		nla_put_u64(msg, i, 1000 + i);
	nla_nest_end(msg, n);
	nla_put_u64(msg, KHOLMES_A_CAPTURE_ID, 7);
	return msg;
}

/* Rules, watch entries, processes and an event, one message. */
static struct nl_msg *seed_lists(void)
{
	struct nl_msg *msg = new_msg(KHOLMES_CMD_GET_PROCS);
	struct nlattr *n;

	put_rule(msg, KHOLMES_A_RULE, KHOLMES_METRIC_CPU);
	put_rule(msg, KHOLMES_A_RULE, KHOLMES_METRIC_RSS);
	n = nla_nest_start(msg, KHOLMES_A_WATCH);
	nla_put_u32(msg, KHOLMES_WATCH_PID, 1234);
	nla_nest_end(msg, n);
	n = nla_nest_start(msg, KHOLMES_A_WATCH);
	nla_put_string(msg, KHOLMES_WATCH_COMM, "spin");
	nla_nest_end(msg, n);
	n = nla_nest_start(msg, KHOLMES_A_WATCH);
	nla_put_string(msg, KHOLMES_WATCH_CGROUP, "/system.slice/spin.service");
	nla_nest_end(msg, n);
	n = nla_nest_start(msg, KHOLMES_A_PROC);
	nla_put_u32(msg, KHOLMES_PROC_PID, 1234);
	nla_put_string(msg, KHOLMES_PROC_COMM, "spin");
	nla_put_u64(msg, KHOLMES_PROC_START_NS, 12000000000ULL);
	nla_put_flag(msg, KHOLMES_PROC_KTHREAD);
	nla_put_u32(msg, KHOLMES_PROC_SAMPLES, 9);
	put_metrics(msg, KHOLMES_PROC_VALUES);
	put_metrics(msg, KHOLMES_PROC_AVGS);
	nla_nest_end(msg, n);
	n = nla_nest_start(msg, KHOLMES_A_EVENT);
	nla_put_u32(msg, KHOLMES_EVENT_PID, 1234);
	nla_put_string(msg, KHOLMES_EVENT_COMM, "spin");
	nla_put_u64(msg, KHOLMES_EVENT_START_NS, 12000000000ULL);
	nla_put_u64(msg, KHOLMES_EVENT_TIME_NS, 13000000000ULL);
	nla_put_u32(msg, KHOLMES_EVENT_METRIC, KHOLMES_METRIC_CPU);
	nla_put_u64(msg, KHOLMES_EVENT_VALUE, 398200);
	nla_put_u64(msg, KHOLMES_EVENT_AVG, 1500);
	put_rule(msg, KHOLMES_EVENT_RULE, KHOLMES_METRIC_CPU);
	nla_nest_end(msg, n);
	return msg;
}

/* A capture record and what follows it in GET_CAPTURE's stream. */
static struct nl_msg *seed_capture(void)
{
	struct nl_msg *msg = new_msg(KHOLMES_CMD_GET_CAPTURE);
	uint64_t pcs[2] = { 0x401234, 0x401300 }, regs[KHOLMES_NR_UREGS] = { 0 };
	uint8_t data[256];
	struct nlattr *n;

	memset(data, 0x11, sizeof(data));
	n = nla_nest_start(msg, KHOLMES_A_CAPTURE);
	nla_put_u64(msg, KHOLMES_CAPTURE_ID, CAP_ID);
	nla_put_u64(msg, KHOLMES_CAPTURE_TIME_NS, 1795662960123000000ULL);
	nla_put_u64(msg, KHOLMES_CAPTURE_BOOT_NS, 372000000000ULL);
	nla_put_u32(msg, KHOLMES_CAPTURE_FLAGS, 0);
	nla_put_u32(msg, KHOLMES_CAPTURE_METRIC, KHOLMES_METRIC_CPU);
	nla_put_u64(msg, KHOLMES_CAPTURE_VALUE, 398200);
	nla_put_u64(msg, KHOLMES_CAPTURE_AVG, 1500);
	put_rule(msg, KHOLMES_CAPTURE_RULE, KHOLMES_METRIC_CPU);
	nla_put_u32(msg, KHOLMES_CAPTURE_PID, 1234);
	nla_put_string(msg, KHOLMES_CAPTURE_COMM, "spin");
	nla_put_string(msg, KHOLMES_CAPTURE_EXE, "/usr/bin/spin");
	nla_put_string(msg, KHOLMES_CAPTURE_CGROUP, "/system.slice/spin.service");
	nla_put_u32(msg, KHOLMES_CAPTURE_UID, 1000);
	nla_put_u64(msg, KHOLMES_CAPTURE_START_NS, 12000000000ULL);
	put_metrics(msg, KHOLMES_CAPTURE_VALUES);
	put_metrics(msg, KHOLMES_CAPTURE_AVGS);
	nla_put_u32(msg, KHOLMES_CAPTURE_NR_THREADS, 1);
	nla_put_u32(msg, KHOLMES_CAPTURE_THREADS, 1);
	nla_put_u64(msg, KHOLMES_CAPTURE_BYTES, 9000);
	nla_put_u32(msg, KHOLMES_CAPTURE_MAPPINGS, 1);
	nla_put_u64(msg, KHOLMES_CAPTURE_DURATION_NS, 1234567);
	nla_put_u64(msg, KHOLMES_CAPTURE_RSS_ANON, 4096);
	nla_put_u64(msg, KHOLMES_CAPTURE_RSS_FILE, 8192);
	nla_nest_end(msg, n);
	n = nla_nest_start(msg, KHOLMES_A_MAPPING);
	nla_put_u64(msg, KHOLMES_MAP_START, 0x400000);
	nla_put_u64(msg, KHOLMES_MAP_END, 0x402000);
	nla_put_u64(msg, KHOLMES_MAP_PGOFF, 0);
	nla_put_u32(msg, KHOLMES_MAP_PROT, KHOLMES_MAP_R | KHOLMES_MAP_X);
	nla_put_string(msg, KHOLMES_MAP_PATH, "/usr/bin/spin");
	nla_nest_end(msg, n);
	n = nla_nest_start(msg, KHOLMES_A_THREAD);
	nla_put_u32(msg, KHOLMES_THREAD_TID, 1234);
	nla_put_string(msg, KHOLMES_THREAD_COMM, "spin");
	nla_put_u8(msg, KHOLMES_THREAD_STATE, 'R');
	nla_put(msg, KHOLMES_THREAD_UFRAMES, sizeof(pcs), pcs);
	nla_put(msg, KHOLMES_THREAD_UREGS, sizeof(regs), regs);
	nla_put_u64(msg, KHOLMES_THREAD_USTACK_SP, 0x7ffc0000f000ULL);
	nla_put_u32(msg, KHOLMES_THREAD_USTACK_LEN, sizeof(data));
	nla_nest_end(msg, n);
	n = nla_nest_start(msg, KHOLMES_A_KSTACK);
	nla_put_u32(msg, KHOLMES_KSTACK_TID, 1234);
	nla_put_u32(msg, KHOLMES_KSTACK_FIRST, 0);
	nla_put_string(msg, KHOLMES_KSTACK_FRAME, "__schedule+0x2f1/0x870");
	nla_put_string(msg, KHOLMES_KSTACK_FRAME, "schedule+0x5a/0xd0");
	nla_nest_end(msg, n);
	n = nla_nest_start(msg, KHOLMES_A_USTACK);
	nla_put_u32(msg, KHOLMES_USTACK_TID, 1234);
	nla_put_u32(msg, KHOLMES_USTACK_OFFSET, 0);
	nla_put(msg, KHOLMES_USTACK_DATA, sizeof(data), data);
	nla_nest_end(msg, n);
	return msg;
}

/* ------------------------------------------------------------ mutations */

struct buf {
	uint8_t *p;
	size_t len;
};

/*
 * Up to 64 attribute headers of @p[0..len), nests walked too, as offsets:
 * where a length or a type can be rewritten.
 */
static size_t attr_offsets(const uint8_t *p, size_t base, size_t len,
			   size_t *out, size_t n, size_t max)
{
	size_t off = 0;

	while (n < max && off + NLA_HDRLEN <= len) {
		const struct nlattr *a = (const void *)(p + base + off);

		if (a->nla_len < NLA_HDRLEN || a->nla_len > len - off)
			break;
		out[n++] = base + off;
		if (a->nla_len > 2 * NLA_HDRLEN)
			n = attr_offsets(p, base + off + NLA_HDRLEN,
					 a->nla_len - NLA_HDRLEN, out, n, max);
		off += NLA_ALIGN(a->nla_len);
	}
	return n;
}

#define HDR	(NLMSG_HDRLEN + GENL_HDRLEN)

/* @seed mutated one to four times into a buffer of exactly its length. */
static void mutate(struct rng *r, const struct nlmsghdr *seed, struct buf *b)
{
	size_t len = seed->nlmsg_len, offs[64], n, k, rounds;

	b->p = malloc(len + 64);
	memcpy(b->p, seed, len);
	b->len = len;
	rounds = 1 + below(r, 4);
	for (k = 0; k < rounds; k++) {
		size_t at = b->len > HDR ? HDR + below(r, b->len - HDR) : HDR;
		struct nlattr *a;

		n = attr_offsets(b->p, HDR, b->len - HDR, offs, 0, 64);
		a = n ? (void *)(b->p + offs[below(r, n)]) : NULL;
		switch (below(r, 9)) {
		case 0:		/* a bit */
			if (at < b->len)
				b->p[at] ^= 1 << below(r, 8);
			break;
		case 1:		/* a byte */
			if (at < b->len)
				b->p[at] = next(r);
			break;
		case 2:		/* an attribute's length, near or anywhere */
			if (a)
				a->nla_len = below(r, 2) ?
					a->nla_len + (int)below(r, 17) - 8 :
					(uint16_t)next(r);
			break;
		case 3:		/* an attribute's type */
			if (a)
				a->nla_type = below(r, 4) ? below(r, 40) :
					(uint16_t)next(r);
			break;
		case 4:		/* truncated */
			b->len = HDR + below(r, b->len - HDR + 1);
			break;
		case 5:		/* an attribute cut short: its length, not the message */
			if (a && a->nla_len > NLA_HDRLEN)
				a->nla_len = NLA_HDRLEN + below(r, a->nla_len - NLA_HDRLEN);
			break;
		case 6:		/* an attribute repeated at the end */
			if (a && b->len + NLA_ALIGN(a->nla_len) <= len + 64 &&
			    (uint8_t *)a + a->nla_len <= b->p + b->len) {
				size_t l = NLA_ALIGN(a->nla_len);

				memmove(b->p + b->len, a, a->nla_len);
				memset(b->p + b->len + a->nla_len, 0,
				       l - a->nla_len);
				b->len += l;
			}
			break;
		case 7:		/* an attribute's payload zeroed */
			if (a && (uint8_t *)a + a->nla_len <= b->p + b->len)
				memset((uint8_t *)a + NLA_HDRLEN, 0,
				       a->nla_len - NLA_HDRLEN);
			break;
		default:	/* a string unterminated */
			if (a && a->nla_len > NLA_HDRLEN &&
			    (uint8_t *)a + a->nla_len <= b->p + b->len)
				((uint8_t *)a)[a->nla_len - 1] = 'x';
			break;
		}
	}
	/* exactly its length: ASan sees any read past it */
	{
		uint8_t *exact = malloc(b->len);

		memcpy(exact, b->p, b->len);
		free(b->p);
		b->p = exact;
	}
	((struct nlmsghdr *)b->p)->nlmsg_len = b->len;
}

/* ------------------------------------------------------------ checks */

struct tally {
	const char *name;
	long ok;
	long refused;
};

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

/* Terminated, or not written at all (the pattern the check put there). */
static bool terminated_or_kept(const char *s, size_t size)
{
	size_t i;

	if (terminated(s, size))
		return true;
	for (i = 0; i < size; i++)
		if ((uint8_t)s[i] != PATTERN)
			return false;
	return true;
}

/*
 * Call @decode on @rec (@size bytes) prefilled with a pattern: 0 with a
 * record whose strings are terminated, or -EBADMSG with @rec as it was.
 */
#define CHECK(_metadata, t, rec, call, strings) do {			\
	__typeof__(rec) before;						\
	int __ret;							\
									\
	memset(&(rec), PATTERN, sizeof(rec));				\
	memcpy(&before, &(rec), sizeof(rec));				\
	__ret = (call);							\
	ASSERT_TRUE(__ret == 0 || __ret == -EBADMSG)			\
		TH_LOG("%s returned %d", (t)->name, __ret);		\
	if (__ret) {							\
		(t)->refused++;						\
		ASSERT_EQ(0, memcmp(&before, &(rec), sizeof(rec)))	\
			TH_LOG("%s: refused, but the record changed",	\
			       (t)->name);				\
	} else {							\
		(t)->ok++;						\
		ASSERT_TRUE(strings)					\
			TH_LOG("%s: a string not terminated", (t)->name); \
	}								\
} while (0)

enum {
	T_STATUS, T_CONFIG_MSG, T_CAPTURE_ID, T_CONFIG, T_RULE, T_WATCH,
	T_PROC, T_EVENT, T_SUM, T_CAPTURE, T_STREAM, T_N,
};

static struct tally tallies[T_N] = {
	{ .name = "kh_decode_status" }, { .name = "kh_decode_config_msg" },
	{ .name = "kh_decode_capture_id" }, { .name = "kh_decode_config" },
	{ .name = "kh_decode_rule" }, { .name = "kh_decode_watch" },
	{ .name = "kh_decode_proc" }, { .name = "kh_decode_event" },
	{ .name = "kh_decode_capture_sum" }, { .name = "kh_decode_capture" },
	{ .name = "the capture stream" },
};

/* kh_decode_capture on a record that holds strings from before. */
static void check_capture(struct __test_metadata *_metadata,
			  struct nlattr *a)
{
	struct kh_capture cap, before;
	struct tally *t = &tallies[T_CAPTURE];
	int ret;

	memset(&cap, PATTERN, sizeof(cap));
	cap.exe = strdup("/old/exe");
	cap.cgroup = strdup("/old.slice");
	cap.maps = NULL;
	cap.threads = NULL;
	cap.consumers = NULL;
	cap.prof.pstacks = NULL;
	memcpy(&before, &cap, sizeof(cap));
	ret = kh_decode_capture(a, &cap);
	EXPECT_TRUE(ret == 0 || ret == -EBADMSG)
		TH_LOG("kh_decode_capture returned %d", ret);
	if (ret) {
		t->refused++;
		EXPECT_EQ(0, memcmp(&before, &cap, sizeof(cap)))
			TH_LOG("kh_decode_capture: refused, but the record changed");
		EXPECT_STREQ("/old/exe", cap.exe);
		EXPECT_STREQ("/old.slice", cap.cgroup);
	} else {
		t->ok++;
		EXPECT_TRUE(terminated_or_kept(cap.sum.comm, sizeof(cap.sum.comm)));
	}
	/*
	 * Either way, what it holds is its own (a decoded record's old
	 * strings are the decoder's to free): freed once, no leak.
	 */
	free(cap.exe);
	free(cap.cgroup);
}

static void check_attr(struct __test_metadata *_metadata, struct nlattr *a)
{
	struct kh_config cfg;
	struct kh_rule rule;
	struct kh_watch_entry w;
	struct kh_proc p;
	struct kh_event ev;
	struct kh_capture_sum sum;

	CHECK(_metadata, &tallies[T_CONFIG], cfg, kh_decode_config(a, &cfg),
	      true);
	CHECK(_metadata, &tallies[T_RULE], rule, kh_decode_rule(a, &rule),
	      true);
	CHECK(_metadata, &tallies[T_WATCH], w, kh_decode_watch(a, &w),
	      terminated(w.name, sizeof(w.name)));
	CHECK(_metadata, &tallies[T_PROC], p, kh_decode_proc(a, &p),
	      terminated(p.comm, sizeof(p.comm)));
	CHECK(_metadata, &tallies[T_EVENT], ev, kh_decode_event(a, &ev),
	      terminated(ev.comm, sizeof(ev.comm)));
	CHECK(_metadata, &tallies[T_SUM], sum, kh_decode_capture_sum(a, &sum),
	      terminated(sum.comm, sizeof(sum.comm)));
	check_capture(_metadata, a);
}

static void check_msg(struct __test_metadata *_metadata, struct nlmsghdr *nlh)
{
	struct kh_status st;
	struct kh_config cfg;
	struct kh_capture cap;
	struct kh_stream s;
	struct nlattr *a;
	uint64_t id;
	int rem, ret;

	CHECK(_metadata, &tallies[T_STATUS], st, kh_decode_status(nlh, &st),
	      terminated_or_kept(st.version, sizeof(st.version)) &&
	      terminated_or_kept(st.krelease, sizeof(st.krelease)));
	CHECK(_metadata, &tallies[T_CONFIG_MSG], cfg,
	      kh_decode_config_msg(nlh, &cfg), true);
	CHECK(_metadata, &tallies[T_CAPTURE_ID], id,
	      kh_decode_capture_id(nlh, &id), true);
	kh_for_each_attr(a, nlh, rem)
		check_attr(_metadata, a);

	/* the stream: decoded, or refused as a whole, and freed */
	kh_stream_init(&s, &cap, CAP_ID);
	kh_stream_msg(&s, nlh);
	ret = kh_stream_end(&s);
	EXPECT_TRUE(ret == 0 || ret == -EBADMSG)
		TH_LOG("kh_stream_end returned %d", ret);
	if (ret) {
		tallies[T_STREAM].refused++;
	} else {
		tallies[T_STREAM].ok++;
		EXPECT_EQ((uint64_t)CAP_ID, cap.sum.id);
		EXPECT_GE(1U, cap.nr_threads);
		EXPECT_GE(1U, cap.nr_maps);
	}
	kh_capture_free(&cap);
}

/* ------------------------------------------------------------ tests */

/* The seeds as they are: every decoder that applies takes them. */
TEST(seeds_decoded)
{
	struct nl_msg *m[3] = { seed_status(), seed_lists(), seed_capture() };
	struct kh_capture cap;
	struct kh_status st;
	struct kh_stream s;
	int i;

	for (i = 0; i < 3; i++)
		ASSERT_NE(NULL, m[i]);
	ASSERT_EQ(0, kh_decode_status(nlmsg_hdr(m[0]), &st));
	EXPECT_STREQ(KHOLMES_VERSION, st.version);
	EXPECT_EQ((uint64_t)1000 + KHOLMES_STAT_MAX, st.stat[KHOLMES_STAT_MAX]);
	kh_stream_init(&s, &cap, CAP_ID);
	EXPECT_EQ(0, kh_stream_msg(&s, nlmsg_hdr(m[2])));
	ASSERT_EQ(0, kh_stream_end(&s));
	EXPECT_EQ(1U, cap.nr_threads);
	EXPECT_EQ(1U, cap.nr_maps);
	EXPECT_EQ(0U, cap.bad_records);
	EXPECT_STREQ("/usr/bin/spin", cap.exe);
	kh_capture_free(&cap);
	for (i = 0; i < 3; i++)
		nlmsg_free(m[i]);
}

/*
 * Rejection leaves no trace: a record that held a value, handed a nest
 * that parses but lacks what the record needs, reads back unchanged.
 */
TEST(refused_record_unchanged)
{
	struct nl_msg *msg = new_msg(KHOLMES_CMD_GET_RULES);
	struct kh_rule rule = { .metric = 3 };
	struct kh_proc p = { .pid = 77 };
	struct kh_status st = { .version = "old" };
	struct nlattr *n, *a;
	int rem;

	ASSERT_NE(NULL, msg);
	nla_put_string(msg, KHOLMES_A_VERSION, "new");
	n = nla_nest_start(msg, KHOLMES_A_RULE);
	nla_put_u32(msg, KHOLMES_RULE_MIN, 10);	/* no metric */
	nla_nest_end(msg, n);
	n = nla_nest_start(msg, KHOLMES_A_STATS);
	nla_put_u32(msg, KHOLMES_STAT_PASSES, 1);	/* a u32, not a u64 */
	nla_nest_end(msg, n);
	kh_for_each_attr(a, nlmsg_hdr(msg), rem) {
		if (nla_type(a) == KHOLMES_A_RULE) {
			EXPECT_EQ(-EBADMSG, kh_decode_rule(a, &rule));
			EXPECT_EQ(-EBADMSG, kh_decode_proc(a, &p));
		}
	}
	EXPECT_EQ(3U, rule.metric);
	EXPECT_EQ(77U, p.pid);
	EXPECT_EQ(-EBADMSG, kh_decode_status(nlmsg_hdr(msg), &st));
	EXPECT_STREQ("old", st.version);
	nlmsg_free(msg);
}

TEST(mutated_records_decoded_or_refused)
{
	struct nl_msg *seeds[3] = { seed_status(), seed_lists(), seed_capture() };
	const char *env = getenv("KH_FUZZ_SEED");
	long rounds = ROUNDS, i;
	struct rng r;
	int t;

	r.s = env ? strtoull(env, NULL, 0) : 0x6b686f6c6d6573ULL;
	if (!r.s)
		r.s = 1;
	env = getenv("KH_FUZZ_ROUNDS");
	if (env)
		rounds = strtol(env, NULL, 0);
	TH_LOG("seed 0x%llx, %ld rounds (KH_FUZZ_SEED, KH_FUZZ_ROUNDS)",
	       (unsigned long long)r.s, rounds);
	for (t = 0; t < 3; t++)
		ASSERT_NE(NULL, seeds[t]);
	for (t = 0; t < T_N; t++)
		tallies[t].ok = tallies[t].refused = 0;

	/* the seeds unmutated, then mutated */
	for (t = 0; t < 3; t++)
		check_msg(_metadata, nlmsg_hdr(seeds[t]));
	for (i = 0; i < rounds && !_metadata->exit_code; i++) {
		struct buf b;

		mutate(&r, nlmsg_hdr(seeds[i % 3]), &b);
		check_msg(_metadata, (struct nlmsghdr *)b.p);
		if (_metadata->exit_code)
			TH_LOG("round %ld: message of %zu bytes from seed %ld",
			       i, b.len, i % 3);
		free(b.p);
	}
	for (t = 0; t < T_N; t++) {
		TH_LOG("%s: %ld decoded, %ld refused", tallies[t].name,
		       tallies[t].ok, tallies[t].refused);
		/* the fuzz reached both outcomes of every decoder */
		EXPECT_LT(0, tallies[t].ok) TH_LOG("%s", tallies[t].name);
		EXPECT_LT(0, tallies[t].refused) TH_LOG("%s", tallies[t].name);
	}
	for (t = 0; t < 3; t++)
		nlmsg_free(seeds[t]);
}

TEST_HARNESS_MAIN
