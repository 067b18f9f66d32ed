// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile netlink input (issue 6, item 1). Raw NETLINK_GENERIC sockets, no
 * libnl: the "kholmes" family id is resolved by hand, then a seeded,
 * reproducible stream of malformed and random messages goes to it:
 *
 *  - random commands (0..KHOLMES_CMD_MAX + 3), versions, reserved bytes
 *    and flags (NLM_F_DUMP on commands that have no dump, NLM_F_ACK, ...);
 *  - attributes of the wrong type and length, lying lengths (nla_len past
 *    the message, or shorter than its own header), nested garbage inside
 *    KHOLMES_A_CONFIG / _RULE / _WATCH, oversized and unterminated
 *    strings, empty attributes, u64s that are not 8-byte aligned;
 *  - nlmsg_len shorter than a header, than the genl header or than the
 *    attributes it holds, or longer than what was sent;
 *  - several messages per sendmsg(), over three sockets (extended ack,
 *    capped ack, neither);
 *  - dumps of GET_PROCS / LIST_CAPTURES / GET_CAPTURE with random
 *    attributes, some abandoned half-read by closing their socket.
 *
 * Every reply is read (non-blocking, with a time limit; ENOBUFS counted)
 * and must be an NLMSG_ERROR with an errno, a dump's NLMSG_DONE, or a
 * well-formed kholmes reply to the command that was sent: known
 * attributes of the right size, nests that parse, extack offsets inside
 * the request.
 *
 * `privileged`: as root (CAP_NET_ADMIN), so that valid-looking changes do
 * take effect, APPLY among them. Every state change it sends asks for an
 * acknowledgement, and each one acknowledged is applied to a model of the
 * configuration, rules and watch scope (struct model); every 2,000
 * messages and at the end the module must hold what the model says.
 * `privileged_parallel` (two streams, whose interleaving no model knows)
 * snapshots the state, puts it back with kholmesctl after the storm, and
 * it must read back exactly. Captures the storms queued are acknowledged.
 *
 * `unprivileged`: part of the storm as uid 65534 without capabilities.
 * Every change and every stack command is refused (EPERM, or EOPNOTSUPP
 * when the dump flag does not match the command) and config, rules and
 * watch are byte for byte as before; no queued capture disappears and no
 * manual one appears.
 *
 * The seed is KHM_FUZZ_SEED (default FUZZ_SEED); KHM_FUZZ_COUNT and
 * KHM_FUZZ_UNPRIV_COUNT change the message counts and KHM_FUZZ_TRACE=1
 * prints every batch before it is sent. Given the seed, the bytes sent
 * depend only on the first capture id of the run (the "id base", printed),
 * which GET_CAPTURE and ACK_CAPTURE aim near. The rig checks the kernel
 * log for splats after the run.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kholmes.h"
#include "khm.h"

#define FUZZ_SEED		20250601ULL
#define FUZZ_COUNT		100000UL
#define FUZZ_UNPRIV_COUNT	20000UL
#define FUZZ_BATCH_MAX		12
#define FUZZ_MSG_MAX		12288	/* one message, at most */
#define FUZZ_BATCH_BYTES	(FUZZ_BATCH_MAX * FUZZ_MSG_MAX)
#define FUZZ_RBUF		(256 * 1024)
#define FUZZ_RING		4096	/* requests remembered by seq */
#define FUZZ_DRAIN_MS		10000	/* one batch's replies, at most */
#define FUZZ_CAPTURE_GAP	500	/* messages between captures of a live pid */
#define FUZZ_ABANDON_EVERY	400	/* about: one abandoned dump per */
#define FUZZ_NO_PID		4194304	/* in range, never a pid (pid_max is below) */
#define FUZZ_SETTLE_MS		30000	/* the capture worker catches up */
#define FUZZ_SOCKS		3
#define FUZZ_DUMP_LOGS		8	/* problems shown with their bytes */

/* ------------------------------------------------------------------ */
/* a reproducible random stream (splitmix64) */

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t below(struct rng *r, uint32_t n)
{
	return n ? rnd(r) % n : 0;
}

/* true @pct percent of the time */
static bool pct(struct rng *r, unsigned int pct)
{
	return below(r, 100) < pct;
}

/* ------------------------------------------------------------------ */
/* the shape of kholmes replies, to judge them */

enum kind { K_NONE, K_PAD, K_U8, K_U32, K_U64, K_STR, K_FLAG, K_BIN, K_NEST };

struct aset;

struct afield {
	unsigned char kind;
	const struct aset *nest;
};

struct aset {
	const char *name;
	int max;
	const struct afield *f;
};

#define U8	{ K_U8 }
#define U32	{ K_U32 }
#define U64	{ K_U64 }
#define STR	{ K_STR }
#define BIN	{ K_BIN }
#define PAD	{ K_PAD }
#define NEST(s)	{ K_NEST, &(s) }

static const struct afield metric_f[KHOLMES_METRIC_ATTR_MAX + 1] = {
	[KHOLMES_METRIC_ATTR(0) ... KHOLMES_METRIC_ATTR(KHOLMES_NR_METRICS - 1)] = U64,
	[KHOLMES_METRIC_ATTR_PAD] = PAD,
};
static const struct aset metric_set = { "metric", KHOLMES_METRIC_ATTR_MAX, metric_f };

static const struct afield cfg_f[KHOLMES_CFG_MAX + 1] = {
	[KHOLMES_CFG_ENABLED] = U8,
	[KHOLMES_CFG_INTERVAL_MS ... KHOLMES_CFG_CPU_MAX] = U32,
	[KHOLMES_CFG_PROFILES] = U8,
	[KHOLMES_CFG_KTHREADS] = U8,
	[KHOLMES_CFG_FLIGHT_HZ ... KHOLMES_CFG_FLIGHT_S] = U32,
};
static const struct aset cfg_set = { "config", KHOLMES_CFG_MAX, cfg_f };

static const struct afield stat_f[KHOLMES_STAT_MAX + 1] = {
	[KHOLMES_STAT_PAD] = PAD,
	[KHOLMES_STAT_PASSES ... KHOLMES_STAT_MAX] = U64,
};
static const struct aset stat_set = { "stats", KHOLMES_STAT_MAX, stat_f };

static const struct afield rule_f[KHOLMES_RULE_MAX + 1] = {
	[KHOLMES_RULE_METRIC] = U32,
	[KHOLMES_RULE_ENABLED] = U8,
	[KHOLMES_RULE_MIN ... KHOLMES_RULE_COOLDOWN] = U32,
};
static const struct aset rule_set = { "rule", KHOLMES_RULE_MAX, rule_f };

static const struct afield watch_f[KHOLMES_WATCH_MAX_ATTR + 1] = {
	[KHOLMES_WATCH_PID] = U32,
	[KHOLMES_WATCH_COMM] = STR,
	[KHOLMES_WATCH_CGROUP] = STR,
};
static const struct aset watch_set = { "watch", KHOLMES_WATCH_MAX_ATTR, watch_f };

static const struct afield proc_f[KHOLMES_PROC_MAX + 1] = {
	[KHOLMES_PROC_PAD] = PAD,
	[KHOLMES_PROC_PID] = U32,
	[KHOLMES_PROC_COMM] = STR,
	[KHOLMES_PROC_START_NS] = U64,
	[KHOLMES_PROC_KTHREAD] = { K_FLAG },
	[KHOLMES_PROC_SAMPLES] = U32,
	[KHOLMES_PROC_VALUES] = NEST(metric_set),
	[KHOLMES_PROC_AVGS] = NEST(metric_set),
};
static const struct aset proc_set = { "proc", KHOLMES_PROC_MAX, proc_f };

static const struct afield event_f[KHOLMES_EVENT_MAX + 1] = {
	[KHOLMES_EVENT_PAD] = PAD,
	[KHOLMES_EVENT_PID] = U32,
	[KHOLMES_EVENT_COMM] = STR,
	[KHOLMES_EVENT_START_NS] = U64,
	[KHOLMES_EVENT_TIME_NS] = U64,
	[KHOLMES_EVENT_METRIC] = U32,
	[KHOLMES_EVENT_VALUE] = U64,
	[KHOLMES_EVENT_AVG] = U64,
	[KHOLMES_EVENT_RULE] = NEST(rule_set),
};
static const struct aset event_set = { "event", KHOLMES_EVENT_MAX, event_f };

static const struct afield capture_f[KHOLMES_CAPTURE_MAX + 1] = {
	[KHOLMES_CAPTURE_PAD] = PAD,
	[KHOLMES_CAPTURE_ID] = U64,
	[KHOLMES_CAPTURE_TIME_NS] = U64,
	[KHOLMES_CAPTURE_BOOT_NS] = U64,
	[KHOLMES_CAPTURE_FLAGS] = U32,
	[KHOLMES_CAPTURE_METRIC] = U32,
	[KHOLMES_CAPTURE_VALUE] = U64,
	[KHOLMES_CAPTURE_AVG] = U64,
	[KHOLMES_CAPTURE_RULE] = NEST(rule_set),
	[KHOLMES_CAPTURE_PID] = U32,
	[KHOLMES_CAPTURE_COMM] = STR,
	[KHOLMES_CAPTURE_EXE] = STR,
	[KHOLMES_CAPTURE_CGROUP] = STR,
	[KHOLMES_CAPTURE_UID] = U32,
	[KHOLMES_CAPTURE_START_NS] = U64,
	[KHOLMES_CAPTURE_VALUES] = NEST(metric_set),
	[KHOLMES_CAPTURE_AVGS] = NEST(metric_set),
	[KHOLMES_CAPTURE_NR_THREADS] = U32,
	[KHOLMES_CAPTURE_THREADS] = U32,
	[KHOLMES_CAPTURE_BYTES] = U64,
	[KHOLMES_CAPTURE_MAPPINGS] = U32,
	[KHOLMES_CAPTURE_DURATION_NS] = U64,
	[KHOLMES_CAPTURE_PROFILE_OF] = U64,
	[KHOLMES_CAPTURE_PROFILE_KIND] = U32,
	[KHOLMES_CAPTURE_RSS_FILE] = U64,
	[KHOLMES_CAPTURE_RSS_ANON] = U64,
	[KHOLMES_CAPTURE_RSS_SHMEM] = U64,
};
static const struct aset capture_set = { "capture", KHOLMES_CAPTURE_MAX, capture_f };

static const struct afield map_f[KHOLMES_MAP_MAX + 1] = {
	[KHOLMES_MAP_PAD] = PAD,
	[KHOLMES_MAP_START] = U64,
	[KHOLMES_MAP_END] = U64,
	[KHOLMES_MAP_PGOFF] = U64,
	[KHOLMES_MAP_PROT] = U32,
	[KHOLMES_MAP_INODE] = U64,
	[KHOLMES_MAP_DEV] = U32,
	[KHOLMES_MAP_PATH] = STR,
	[KHOLMES_MAP_BUILD_ID] = BIN,
};
static const struct aset map_set = { "mapping", KHOLMES_MAP_MAX, map_f };

static const struct afield thread_f[KHOLMES_THREAD_MAX + 1] = {
	[KHOLMES_THREAD_PAD] = PAD,
	[KHOLMES_THREAD_TID] = U32,
	[KHOLMES_THREAD_COMM] = STR,
	[KHOLMES_THREAD_STATE] = U8,
	[KHOLMES_THREAD_FLAGS] = U32,
	[KHOLMES_THREAD_UFRAMES] = BIN,
	[KHOLMES_THREAD_UREGS] = BIN,
	[KHOLMES_THREAD_USTACK_SP] = U64,
	[KHOLMES_THREAD_USTACK_LEN] = U32,
	[KHOLMES_THREAD_CPU] = U32,
};
static const struct aset thread_set = { "thread", KHOLMES_THREAD_MAX, thread_f };

static const struct afield kstack_f[KHOLMES_KSTACK_MAX + 1] = {
	[KHOLMES_KSTACK_TID] = U32,
	[KHOLMES_KSTACK_FIRST] = U32,
	[KHOLMES_KSTACK_FRAME] = STR,
};
static const struct aset kstack_set = { "kstack", KHOLMES_KSTACK_MAX, kstack_f };

static const struct afield ustack_f[KHOLMES_USTACK_MAX + 1] = {
	[KHOLMES_USTACK_TID] = U32,
	[KHOLMES_USTACK_OFFSET] = U32,
	[KHOLMES_USTACK_DATA] = BIN,
};
static const struct aset ustack_set = { "ustack", KHOLMES_USTACK_MAX, ustack_f };

static const struct afield profile_f[KHOLMES_PROFILE_MAX + 1] = {
	[KHOLMES_PROFILE_PAD] = PAD,
	[KHOLMES_PROFILE_KIND] = U32,
	[KHOLMES_PROFILE_FLAGS] = U32,
	[KHOLMES_PROFILE_HZ] = U32,
	[KHOLMES_PROFILE_PERIOD] = U64,
	[KHOLMES_PROFILE_SECONDS] = U32,
	[KHOLMES_PROFILE_DURATION_NS] = U64,
	[KHOLMES_PROFILE_SAMPLES] = U64,
	[KHOLMES_PROFILE_LOST] = U64,
	[KHOLMES_PROFILE_STACKS] = U32,
	[KHOLMES_PROFILE_START_RSS_ANON] = U64,
	[KHOLMES_PROFILE_START_RSS_FILE] = U64,
	[KHOLMES_PROFILE_START_VM] = U64,
	[KHOLMES_PROFILE_COPY_BYTES] = U32,
	[KHOLMES_PROFILE_COPIES] = U64,
	[KHOLMES_PROFILE_COPIES_LOST] = U64,
	[KHOLMES_PROFILE_END_RSS_ANON] = U64,
	[KHOLMES_PROFILE_END_RSS_FILE] = U64,
};
static const struct aset profile_set = { "profile", KHOLMES_PROFILE_MAX, profile_f };

static const struct afield pstack_f[KHOLMES_PSTACK_MAX + 1] = {
	[KHOLMES_PSTACK_COUNT] = U32,
	[KHOLMES_PSTACK_UFRAMES] = BIN,
	[KHOLMES_PSTACK_KFRAME] = STR,
	[KHOLMES_PSTACK_ID] = U32,
	[KHOLMES_PSTACK_PAD] = PAD,
	[KHOLMES_PSTACK_AGO_NS] = U64,
	[KHOLMES_PSTACK_TID] = U32,
	[KHOLMES_PSTACK_PID] = U32,
	[KHOLMES_PSTACK_COMM] = STR,
};
static const struct aset pstack_set = { "pstack", KHOLMES_PSTACK_MAX, pstack_f };

static const struct afield psample_f[KHOLMES_PSAMPLE_MAX + 1] = {
	[KHOLMES_PSAMPLE_PAD] = PAD,
	[KHOLMES_PSAMPLE_STACK] = U32,
	[KHOLMES_PSAMPLE_UREGS] = BIN,
	[KHOLMES_PSAMPLE_SP] = U64,
	[KHOLMES_PSAMPLE_LEN] = U32,
};
static const struct aset psample_set = { "psample", KHOLMES_PSAMPLE_MAX, psample_f };

static const struct afield consumer_f[KHOLMES_CONSUMER_MAX + 1] = {
	[KHOLMES_CONSUMER_PAD] = PAD,
	[KHOLMES_CONSUMER_PID] = U32,
	[KHOLMES_CONSUMER_COMM] = STR,
	[KHOLMES_CONSUMER_CPU] = U64,
	[KHOLMES_CONSUMER_CGROUP] = STR,
};
static const struct aset consumer_set = { "consumer", KHOLMES_CONSUMER_MAX, consumer_f };

static const struct afield top_f[KHOLMES_A_MAX + 1] = {
	[KHOLMES_A_PAD] = PAD,
	[KHOLMES_A_VERSION] = STR,
	[KHOLMES_A_KRELEASE] = STR,
	[KHOLMES_A_CONFIG] = NEST(cfg_set),
	[KHOLMES_A_STATS] = NEST(stat_set),
	[KHOLMES_A_RULE] = NEST(rule_set),
	[KHOLMES_A_WATCH] = NEST(watch_set),
	[KHOLMES_A_PROC] = NEST(proc_set),
	[KHOLMES_A_EVENT] = NEST(event_set),
	[KHOLMES_A_PID] = U32,
	[KHOLMES_A_CAPTURE_ID] = U64,
	[KHOLMES_A_CAPTURE] = NEST(capture_set),
	[KHOLMES_A_MAPPING] = NEST(map_set),
	[KHOLMES_A_THREAD] = NEST(thread_set),
	[KHOLMES_A_KSTACK] = NEST(kstack_set),
	[KHOLMES_A_USTACK] = NEST(ustack_set),
	[KHOLMES_A_PROFILE_KIND] = U32,
	[KHOLMES_A_PROFILE_S] = U32,
	[KHOLMES_A_PROFILE_HZ] = U32,
	[KHOLMES_A_PROFILE] = NEST(profile_set),
	[KHOLMES_A_PSTACK] = NEST(pstack_set),
	[KHOLMES_A_PSAMPLE] = NEST(psample_set),
	[KHOLMES_A_PSAMPLE_STACK] = NEST(ustack_set),
	[KHOLMES_A_CONSUMER] = NEST(consumer_set),
};
static const struct aset top_set = { "kholmes", KHOLMES_A_MAX, top_f };

/*
 * Check @len bytes of attributes against @set; on the first fault, say
 * what it is in @why and return false.
 */
static bool attrs_ok(const uint8_t *p, size_t len, const struct aset *set,
		     int depth, char *why, size_t wlen)
{
	size_t off = 0;

	while (off < len) {
		const struct nlattr *nla = (const void *)(p + off);
		int type;
		size_t plen;
		const struct afield *fl;

		if (len - off < NLA_HDRLEN || nla->nla_len < NLA_HDRLEN ||
		    nla->nla_len > len - off) {
			snprintf(why, wlen, "%s: attribute at %zu overruns (len %u of %zu)",
				 set->name, off,
				 len - off >= NLA_HDRLEN ? nla->nla_len : 0,
				 len - off);
			return false;
		}
		type = nla->nla_type & NLA_TYPE_MASK;
		plen = nla->nla_len - NLA_HDRLEN;
		fl = type <= set->max ? &set->f[type] : NULL;
		if (!fl || fl->kind == K_NONE) {
			snprintf(why, wlen, "%s: unknown attribute type %d", set->name, type);
			return false;
		}
		switch (fl->kind) {
		case K_PAD:
		case K_BIN:
			break;
		case K_FLAG:
			if (plen)
				goto bad_len;
			break;
		case K_U8:
			if (plen != 1)
				goto bad_len;
			break;
		case K_U32:
			if (plen != 4)
				goto bad_len;
			break;
		case K_U64:
			if (plen != 8)
				goto bad_len;
			break;
		case K_STR:
			if (!plen || p[off + nla->nla_len - 1] != '\0' ||
			    strlen((const char *)p + off + NLA_HDRLEN) != plen - 1) {
				snprintf(why, wlen, "%s: string %d is not one NUL-terminated string",
					 set->name, type);
				return false;
			}
			break;
		case K_NEST:
			if (depth > 4 || !attrs_ok(p + off + NLA_HDRLEN, plen,
						   fl->nest, depth + 1, why, wlen))
				return false;
			break;
		}
		off += NLA_ALIGN(nla->nla_len);
		continue;
bad_len:
		snprintf(why, wlen, "%s: attribute %d has %zu bytes", set->name, type, plen);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* the fuzzer */

struct model;
static const char * const cfg_keys[KHOLMES_CFG_MAX + 1];
static bool state_cmd(uint8_t cmd);

struct fsock {
	int fd;
	unsigned int portid;
};

/* A request of the current batch, or remembered by its seq. */
struct freq {
	uint32_t seq;
	uint32_t len;		/* nlmsg_len as sent */
	uint32_t off;		/* in the batch */
	uint32_t real;		/* bytes of it in the batch */
	uint16_t flags;
	uint8_t cmd;
	uint16_t reserved;	/* of the genl header */
	bool used;
};

struct fuzz_stats {
	unsigned long sent;		/* messages */
	unsigned long batches;
	unsigned long replies;		/* kholmes messages */
	unsigned long errors;		/* NLMSG_ERROR with an errno */
	unsigned long acks;		/* NLMSG_ERROR 0 */
	unsigned long dones;
	unsigned long enobufs;
	unsigned long abandoned;
	unsigned long captures;		/* CAPTURE, PROFILE answered with an id */
	unsigned long events;		/* multicast: detections, captures ready */
	unsigned long eperm;
	unsigned long refused;		/* unprivileged: admin requests refused as they must be */
	unsigned long bytes_in;
	unsigned long problems;
	unsigned long errno_hist[134];
	unsigned long applied[KHOLMES_CMD_MAX + 1];	/* acknowledged requests */
	long long ms;
};

struct fuzz {
	struct rng r;
	uint64_t seed;
	unsigned long target;
	bool privileged;
	bool trace;
	uint16_t family;
	int mcgrp;			/* "events", joined by one socket */
	uint64_t id_base;
	struct fsock s[FUZZ_SOCKS];
	uint8_t *batch;
	size_t blen;
	struct freq m[FUZZ_BATCH_MAX];
	int nm;
	struct freq ring[FUZZ_RING];
	uint32_t seq;
	unsigned long last_capture;
	unsigned int burst;		/* valid ADD_WATCHes still to send */
	unsigned int bursts;
	uint8_t *rbuf;
	unsigned int dumped;
	struct fuzz_stats st;
	struct model *model;		/* NULL: not modelled */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void hexdump(const char *what, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t i, max = len < 512 ? len : 512;

	fprintf(stderr, "# fuzz:   %s (%zu bytes%s):", what, len,
		max < len ? ", first 512" : "");
	for (i = 0; i < max; i++)
		fprintf(stderr, "%s%02x", i % 32 ? "" : "\n# fuzz:     ", p[i]);
	fprintf(stderr, "\n");
}

static struct freq *ring_find(struct fuzz *f, uint32_t seq)
{
	struct freq *q = &f->ring[seq % FUZZ_RING];

	return q->used && q->seq == seq ? q : NULL;
}

static const struct freq *batch_find(struct fuzz *f, uint32_t seq)
{
	for (int i = 0; i < f->nm; i++)
		if (f->m[i].seq == seq)
			return &f->m[i];
	return NULL;
}

static __attribute__((format(printf, 4, 5)))
void problem(struct fuzz *f, uint32_t seq, const struct nlmsghdr *reply,
	     const char *fmt, ...)
{
	const struct freq *q = batch_find(f, seq);
	va_list ap;

	f->st.problems++;
	fprintf(stderr, "# fuzz: PROBLEM (seed %llu, %s, after %lu messages, seq %u): ",
		(unsigned long long)f->seed,
		f->privileged ? "privileged" : "unprivileged", f->st.sent, seq);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (f->dumped >= FUZZ_DUMP_LOGS)
		return;
	f->dumped++;
	if (q)
		hexdump("request", f->batch + q->off, q->real);
	if (reply)
		hexdump("reply", reply, reply->nlmsg_len);
}

/* ---- writing messages ---- */

static uint8_t *put(struct fuzz *f, size_t n)
{
	uint8_t *p = f->batch + f->blen;

	memset(p, 0, n);
	f->blen += n;
	return p;
}

static size_t room(struct fuzz *f, size_t msg_start)
{
	return FUZZ_MSG_MAX - (f->blen - msg_start);
}

/* An attribute header claiming @nla_len; the caller writes the payload. */
static void put_hdr(struct fuzz *f, uint16_t type, uint16_t nla_len)
{
	struct nlattr *nla = (void *)put(f, NLA_HDRLEN);

	nla->nla_type = type;
	nla->nla_len = nla_len;
}

static void put_attr(struct fuzz *f, uint16_t type, const void *data, size_t n)
{
	put_hdr(f, type, NLA_HDRLEN + n);
	if (n)
		memcpy(put(f, NLA_ALIGN(n)), data, n);
}

static void put_u8(struct fuzz *f, uint16_t type, uint8_t v)
{
	put_attr(f, type, &v, 1);
}

static void put_u32(struct fuzz *f, uint16_t type, uint32_t v)
{
	put_attr(f, type, &v, 4);
}

static void put_u64(struct fuzz *f, uint16_t type, uint64_t v)
{
	put_attr(f, type, &v, 8);
}

static size_t nest_begin(struct fuzz *f, uint16_t type)
{
	size_t off = f->blen;

	put_hdr(f, type, NLA_HDRLEN);
	return off;
}

static void nest_end(struct fuzz *f, size_t off)
{
	((struct nlattr *)(f->batch + off))->nla_len = f->blen - off;
}

static void put_random_bytes(struct fuzz *f, size_t n)
{
	uint8_t *p = put(f, NLA_ALIGN(n));

	for (size_t i = 0; i < n; i++)
		p[i] = rnd(&f->r);
}

/* ---- values worth trying ---- */

static const uint32_t interesting32[] = {
	0, 1, 2, 3, 7, 8, 9, 10, 11, 15, 16, 17, 63, 64, 65, 127, 128, 255,
	256, 1000, 4095, 4096, 4097, 60000, 60001, 65535, 65536, 100000,
	100001, 604800, 604801, 1048576, 1048577, 1000000000, 1000000001,
	4194304, 4194305, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
};

static uint32_t pick32(struct fuzz *f, uint32_t lo, uint32_t hi)
{
	switch (below(&f->r, 8)) {
	case 0:
		return lo;
	case 1:
		return hi;
	case 2:
		return lo - 1;
	case 3:
		return hi + 1;
	case 4:
	case 5:
		return lo + (uint32_t)(rnd(&f->r) % ((uint64_t)hi - lo + 1));
	case 6:
		return interesting32[below(&f->r, sizeof(interesting32) / 4)];
	default:
		return rnd(&f->r);
	}
}

static uint8_t pick8(struct fuzz *f)
{
	static const uint8_t v[] = { 0, 1, 1, 0, 2, 127, 128, 255 };

	return v[below(&f->r, sizeof(v))];
}

/*
 * A pid for a capture: 1 (init) or 2 (kthreadd) at most once every
 * FUZZ_CAPTURE_GAP messages, so that captures stay bounded; otherwise one
 * that does not exist, or is out of range.
 */
static uint32_t pick_pid(struct fuzz *f, bool capture)
{
	uint32_t pid;

	switch (below(&f->r, 6)) {
	case 0:
	case 1:
		pid = 1 + below(&f->r, 2);
		break;
	case 2:
		pid = FUZZ_NO_PID - below(&f->r, 1000);
		break;
	case 3:
		pid = capture ? 100000 + below(&f->r, 1000) : below(&f->r, 400);
		break;
	default:
		pid = pick32(f, 1, KHOLMES_PID_MAX);
		break;
	}
	if (capture && pid >= 1 && pid < 100000) {
		if (f->st.sent - f->last_capture < FUZZ_CAPTURE_GAP)
			pid = FUZZ_NO_PID;
		else
			f->last_capture = f->st.sent;
	}
	return pid;
}

/*
 * Seconds of a profile: 0..3 or out of range, never longer, so that no
 * profile the storm starts outlives it by much.
 */
static uint32_t pick_secs(struct fuzz *f)
{
	static const uint32_t v[] = { 0, 1, 1, 2, 3, KHOLMES_PROFILE_S_MAX + 1,
				      0xffffffff, 0x80000000 };

	return v[below(&f->r, sizeof(v) / sizeof(v[0]))];
}

static uint64_t pick_id(struct fuzz *f)
{
	switch (below(&f->r, 10)) {
	case 0:
		return 0;
	case 1:
		return UINT64_MAX - below(&f->r, 2);
	case 2:
		return 1ULL << 63;
	case 3:
		return rnd(&f->r);
	case 4:
		return 1 + below(&f->r, 4);
	default:
		return f->id_base + below(&f->r, 200);
	}
}

/* A string: empty, short, at the limit, over it, huge; NUL or not. */
static void put_string(struct fuzz *f, uint16_t type, size_t msg_start)
{
	static const char * const fixed[] = {
		"", "/", "//", "/..", "/../..", "/./", "/init.scope",
		"/nonexistent", "relative", "sh", "init", "kthreadd", "swapper/0",
		"fz00", "fz01", "fz02", "khm-fuzz",
	};
	size_t max = room(f, msg_start) - 64, n;
	bool nul = !pct(&f->r, 25);
	char *s;

	switch (below(&f->r, 8)) {
	case 0:
	case 1:
	case 2: {
		const char *c = fixed[below(&f->r, sizeof(fixed) / sizeof(fixed[0]))];

		n = strlen(c);
		put_hdr(f, type, NLA_HDRLEN + n + nul);
		s = (char *)put(f, NLA_ALIGN(n + nul));
		memcpy(s, c, n);
		return;
	}
	case 3:
		n = KHOLMES_COMM_LEN - 2 + below(&f->r, 4);	/* 14..17 */
		break;
	case 4:
		n = KHOLMES_CGROUP_PATH_MAX - 2 + below(&f->r, 4);
		break;
	case 5:
		n = below(&f->r, max);
		break;
	default:
		n = below(&f->r, 64);
		break;
	}
	if (n > max)
		n = max;
	put_hdr(f, type, NLA_HDRLEN + n + nul);
	s = (char *)put(f, NLA_ALIGN(n + nul));
	for (size_t i = 0; i < n; i++)
		s[i] = pct(&f->r, 90) ? (char)('a' + below(&f->r, 26)) :
		       i == 0 ? '/' : (char)rnd(&f->r);
	if (n && pct(&f->r, 60))
		s[0] = '/';
}

/* ---- attributes ---- */

static void gen_garbage(struct fuzz *f, size_t msg_start, int depth);

/* A member of nest @set: right, wrong in type, size or value. */
static void gen_member(struct fuzz *f, const struct aset *set, uint8_t cmd,
		       size_t msg_start, int depth)
{
	int type = below(&f->r, set->max + 3);
	unsigned int how = below(&f->r, 100);

	if (room(f, msg_start) < 256)
		return;
	if (how < 12) {
		gen_garbage(f, msg_start, depth + 1);
		return;
	}
	if (how < 25) {		/* a known type, a wrong size */
		static const uint8_t sizes[] = { 0, 1, 2, 3, 5, 6, 7, 8, 9, 12, 16 };

		put_hdr(f, type, NLA_HDRLEN + sizes[below(&f->r, sizeof(sizes))]);
		put_random_bytes(f, ((struct nlattr *)(f->batch + f->blen - NLA_HDRLEN))->nla_len -
				 NLA_HDRLEN);
		return;
	}
	if (set == &cfg_set) {
		/*
		 * The ranges; profile-s only up to 2 (3 as "max + 1"), so
		 * that no profile the storm starts outlives it by much, and
		 * flight-s likewise, so that each flight recorder the storm
		 * sets up (rings on every CPU, perf events, an RCU grace
		 * period to retire the last) stays small and quick.
		 */
		static const uint32_t lo[KHOLMES_CFG_MAX + 3] = {
			[KHOLMES_CFG_INTERVAL_MS] = KHOLMES_INTERVAL_MS_MIN,
			[KHOLMES_CFG_WINDOW] = KHOLMES_WINDOW_MIN,
			[KHOLMES_CFG_MAX_TRACKED] = KHOLMES_MAX_TRACKED_MIN,
			[KHOLMES_CFG_MAX_THREADS] = KHOLMES_MAX_THREADS_MIN,
			[KHOLMES_CFG_MAX_CAPTURES] = KHOLMES_MAX_CAPTURES_MIN,
			[KHOLMES_CFG_MAX_QUEUE_KB] = KHOLMES_MAX_QUEUE_KB_MIN,
			[KHOLMES_CFG_PROFILE_S] = KHOLMES_PROFILE_S_MIN,
			[KHOLMES_CFG_PROFILE_HZ] = KHOLMES_PROFILE_HZ_MIN,
			[KHOLMES_CFG_FAULT_PERIOD] = 1,
			[KHOLMES_CFG_FLIGHT_S] = KHOLMES_FLIGHT_S_MIN,
		};
		static const uint32_t hi[KHOLMES_CFG_MAX + 3] = {
			[KHOLMES_CFG_ENABLED] = 1,
			[KHOLMES_CFG_INTERVAL_MS] = KHOLMES_INTERVAL_MS_MAX,
			[KHOLMES_CFG_WINDOW] = KHOLMES_WINDOW_MAX,
			[KHOLMES_CFG_MAX_TRACKED] = KHOLMES_MAX_TRACKED_MAX,
			[KHOLMES_CFG_MAX_THREADS] = KHOLMES_MAX_THREADS_MAX,
			[KHOLMES_CFG_MAX_CAPTURES] = KHOLMES_MAX_CAPTURES_MAX,
			[KHOLMES_CFG_MAX_QUEUE_KB] = KHOLMES_MAX_QUEUE_KB_MAX,
			[KHOLMES_CFG_USER_STACK_KB] = KHOLMES_USER_STACK_KB_MAX,
			[KHOLMES_CFG_CAPTURE_RATE] = KHOLMES_CAPTURE_RATE_MAX,
			[KHOLMES_CFG_PROFILE_S] = 2,
			[KHOLMES_CFG_PROFILE_HZ] = KHOLMES_PROFILE_HZ_MAX,
			[KHOLMES_CFG_FAULT_PERIOD] = KHOLMES_FAULT_PERIOD_MAX,
			[KHOLMES_CFG_CPU_MAX] = 100,
			[KHOLMES_CFG_PROFILES] = 1,
			[KHOLMES_CFG_KTHREADS] = 1,
			[KHOLMES_CFG_FLIGHT_HZ] = KHOLMES_FLIGHT_HZ_MAX,
			[KHOLMES_CFG_FLIGHT_S] = 2,
		};

		if (type == KHOLMES_CFG_ENABLED || type == KHOLMES_CFG_PROFILES ||
		    type == KHOLMES_CFG_KTHREADS)
			put_u8(f, type, pick8(f));
		else if (type == KHOLMES_CFG_PROFILE_S)
			put_u32(f, type, pick_secs(f));
		else
			put_u32(f, type, pick32(f, lo[type], hi[type]));
	} else if (set == &rule_set) {
		if (type == KHOLMES_RULE_ENABLED)
			put_u8(f, type, pick8(f));
		else if (type == KHOLMES_RULE_METRIC)
			put_u32(f, type, pick32(f, 0, KHOLMES_NR_METRICS - 1));
		else if (type == KHOLMES_RULE_DIFF)
			put_u32(f, type, pick32(f, 0, KHOLMES_RULE_DIFF_MAX));
		else if (type == KHOLMES_RULE_COOLDOWN)
			put_u32(f, type, pick32(f, 0, KHOLMES_RULE_COOLDOWN_MAX));
		else
			put_u32(f, type, pick32(f, 0, KHOLMES_RULE_VALUE_MAX));
	} else if (set == &watch_set) {
		if (type == KHOLMES_WATCH_PID)
			put_u32(f, type, pick_pid(f, false));
		else
			put_string(f, type, msg_start);
	} else {
		put_u32(f, type, rnd(&f->r));
	}
	(void)cmd;
}

/* Attributes that lie, nests of nonsense, flags on types. */
static void gen_garbage(struct fuzz *f, size_t msg_start, int depth)
{
	uint16_t type = below(&f->r, KHOLMES_A_MAX + 4);
	size_t start;

	if (room(f, msg_start) < 256)
		return;
	if (pct(&f->r, 15))
		type |= pct(&f->r, 50) ? NLA_F_NESTED : NLA_F_NET_BYTEORDER;
	switch (below(&f->r, 8)) {
	case 0:		/* longer than what follows */
		put_hdr(f, type, NLA_HDRLEN + 8 + below(&f->r, 2000));
		put_random_bytes(f, below(&f->r, 8));
		break;
	case 1:		/* shorter than its own header */
		put_hdr(f, type, below(&f->r, NLA_HDRLEN));
		put_random_bytes(f, below(&f->r, 12));
		break;
	case 2:		/* 0xffff */
		put_hdr(f, type, 0xffff - below(&f->r, 4));
		put_random_bytes(f, below(&f->r, 16));
		break;
	case 3:		/* random bytes of random length */
		put_hdr(f, type, NLA_HDRLEN + below(&f->r, 40));
		put_random_bytes(f, ((struct nlattr *)(f->batch + f->blen - NLA_HDRLEN))->nla_len -
				 NLA_HDRLEN);
		break;
	case 4:		/* empty */
		put_hdr(f, type, NLA_HDRLEN);
		break;
	case 5:		/* a nest of nests */
		start = nest_begin(f, type | NLA_F_NESTED);
		if (depth < 4)
			for (int i = below(&f->r, 4); i > 0; i--)
				gen_garbage(f, msg_start, depth + 1);
		nest_end(f, start);
		break;
	case 6:		/* a nest whose length lies about its members */
		start = nest_begin(f, type);
		if (depth < 4)
			gen_garbage(f, msg_start, depth + 1);
		((struct nlattr *)(f->batch + start))->nla_len =
			f->blen - start - below(&f->r, 8) + below(&f->r, 8);
		break;
	default:	/* a u64 4 bytes off 8-byte alignment */
		put_u32(f, KHOLMES_A_PAD, 0);
		put_u64(f, pct(&f->r, 50) ? KHOLMES_A_CAPTURE_ID : type,
			pick_id(f));
		break;
	}
}

static const struct aset *nest_of(int type)
{
	switch (type) {
	case KHOLMES_A_CONFIG:
		return &cfg_set;
	case KHOLMES_A_RULE:
		return &rule_set;
	case KHOLMES_A_WATCH:
		return &watch_set;
	default:
		return NULL;
	}
}

/* One top-level attribute, of any kind. */
static void gen_attr(struct fuzz *f, uint8_t cmd, size_t msg_start)
{
	unsigned int how = below(&f->r, 100);
	int type = below(&f->r, KHOLMES_A_MAX + 4);
	const struct aset *set;
	size_t start;

	if (room(f, msg_start) < 512)
		return;
	if (how < 25) {		/* nested members, good and bad */
		static const int nests[] = { KHOLMES_A_CONFIG, KHOLMES_A_RULE,
					     KHOLMES_A_WATCH };

		type = nests[below(&f->r, 3)];
		set = nest_of(type);
		start = nest_begin(f, type | (pct(&f->r, 50) ? NLA_F_NESTED : 0));
		for (int i = below(&f->r, 5); i > 0; i--)
			gen_member(f, set, cmd, msg_start, 0);
		nest_end(f, start);
	} else if (how < 45) {
		gen_garbage(f, msg_start, 0);
	} else if (how < 60) {	/* a typed attribute, right or wrong */
		switch (type) {
		case KHOLMES_A_PID:
			if (pct(&f->r, 80))
				put_u32(f, type, pick_pid(f, cmd == KHOLMES_CMD_CAPTURE));
			else
				put_u64(f, type, rnd(&f->r));
			break;
		case KHOLMES_A_CAPTURE_ID:
			if (pct(&f->r, 80))
				put_u64(f, type, pick_id(f));
			else
				put_u32(f, type, pick_id(f));
			break;
		case KHOLMES_A_PROFILE_KIND:
			put_u32(f, type, pick32(f, KHOLMES_PROFILE_CPU, KHOLMES_PROFILE_FAULTS));
			break;
		case KHOLMES_A_PROFILE_S:
			put_u32(f, type, pick_secs(f));
			break;
		case KHOLMES_A_PROFILE_HZ:
			put_u32(f, type, pick32(f, KHOLMES_PROFILE_HZ_MIN, KHOLMES_PROFILE_HZ_MAX));
			break;
		case KHOLMES_A_VERSION:
		case KHOLMES_A_KRELEASE:
			put_string(f, type, msg_start);
			break;
		default:
			if (nest_of(type)) {
				start = nest_begin(f, type);
				put_random_bytes(f, below(&f->r, 24));
				nest_end(f, start);
			} else {
				put_u32(f, type, rnd(&f->r));
			}
			break;
		}
	} else if (how < 75) {	/* strings where strings go, and elsewhere */
		start = nest_begin(f, KHOLMES_A_WATCH);
		put_string(f, pct(&f->r, 80) ? KHOLMES_WATCH_COMM + below(&f->r, 2) :
			   below(&f->r, KHOLMES_WATCH_MAX_ATTR + 3), msg_start);
		nest_end(f, start);
	} else if (how < 85) {	/* output-only attributes, as input */
		static const int out[] = { KHOLMES_A_STATS, KHOLMES_A_PROC,
			KHOLMES_A_EVENT, KHOLMES_A_CAPTURE, KHOLMES_A_MAPPING,
			KHOLMES_A_THREAD, KHOLMES_A_KSTACK, KHOLMES_A_USTACK };

		start = nest_begin(f, out[below(&f->r, sizeof(out) / sizeof(out[0]))]);
		for (int i = below(&f->r, 3); i > 0; i--)
			put_u64(f, below(&f->r, 24), rnd(&f->r));
		nest_end(f, start);
	} else {
		put_hdr(f, type, NLA_HDRLEN + below(&f->r, 16));
		put_random_bytes(f, ((struct nlattr *)(f->batch + f->blen - NLA_HDRLEN))->nla_len -
				 NLA_HDRLEN);
	}
}

/* One configuration member, in range. */
static void gen_cfg_member(struct fuzz *f)
{
	switch (below(&f->r, 14)) {
	case 0:
		put_u8(f, KHOLMES_CFG_ENABLED, below(&f->r, 2));
		break;
	case 9:
		put_u32(f, KHOLMES_CFG_PROFILE_S, 1 + below(&f->r, 2));
		break;
	case 10:
		put_u32(f, KHOLMES_CFG_PROFILE_HZ, 1 + below(&f->r, 200));
		break;
	case 11:
		put_u32(f, KHOLMES_CFG_FAULT_PERIOD, 1 + below(&f->r, 1000));
		break;
	case 12:
		put_u32(f, KHOLMES_CFG_CPU_MAX, below(&f->r, 101));
		break;
	case 13:
		put_u8(f, KHOLMES_CFG_PROFILES, below(&f->r, 2));
		break;
	case 1:
		put_u32(f, KHOLMES_CFG_INTERVAL_MS, 50 + below(&f->r, 2000));
		break;
	case 2:
		put_u32(f, KHOLMES_CFG_WINDOW, KHOLMES_WINDOW_MIN +
			below(&f->r, KHOLMES_WINDOW_MAX - KHOLMES_WINDOW_MIN + 1));
		break;
	case 3:
		put_u32(f, KHOLMES_CFG_MAX_TRACKED, 1 + below(&f->r, 100000));
		break;
	case 4:
		put_u32(f, KHOLMES_CFG_MAX_THREADS, 1 + below(&f->r, 300));
		break;
	case 5:
		put_u32(f, KHOLMES_CFG_MAX_CAPTURES, 1 + below(&f->r, 100));
		break;
	case 6:
		put_u32(f, KHOLMES_CFG_MAX_QUEUE_KB, 64 + below(&f->r, 8192));
		break;
	case 7:
		put_u32(f, KHOLMES_CFG_USER_STACK_KB,
			below(&f->r, KHOLMES_USER_STACK_KB_MAX + 1));
		break;
	default:
		put_u32(f, KHOLMES_CFG_CAPTURE_RATE,
			below(&f->r, KHOLMES_CAPTURE_RATE_MAX + 1));
		break;
	}
}

/* A rule nest: a metric (mostly), in-range fields (some). */
static void gen_rule(struct fuzz *f)
{
	size_t start = nest_begin(f, KHOLMES_A_RULE | NLA_F_NESTED);

	if (pct(&f->r, 90))		/* a rule needs its metric */
		put_u32(f, KHOLMES_RULE_METRIC, below(&f->r, KHOLMES_NR_METRICS));
	if (pct(&f->r, 50))
		put_u8(f, KHOLMES_RULE_ENABLED, below(&f->r, 2));
	if (pct(&f->r, 50))
		put_u32(f, KHOLMES_RULE_MIN, below(&f->r, 5000));
	if (pct(&f->r, 50))
		put_u32(f, KHOLMES_RULE_DIFF, below(&f->r, 500));
	if (pct(&f->r, 50))
		put_u32(f, KHOLMES_RULE_ABS, below(&f->r, 5000));
	if (pct(&f->r, 50))
		put_u32(f, KHOLMES_RULE_COOLDOWN, below(&f->r, 7200));
	nest_end(f, start);
}

/*
 * APPLY: a configuration nest (or two: the last counts), rules, and now
 * and then the whole watch scope; sometimes one member out of range or a
 * watch entry given twice, which must leave everything as it was.
 */
static void gen_apply(struct fuzz *f)
{
	static const char * const cgroups[] = { "/", "/init.scope", "/nonexistent" };
	size_t start;
	char comm[KHOLMES_COMM_LEN];
	int n;

	for (n = pct(&f->r, 70) + pct(&f->r, 10); n > 0; n--) {
		start = nest_begin(f, KHOLMES_A_CONFIG | NLA_F_NESTED);
		for (int m = 1 + below(&f->r, 3); m > 0; m--)
			gen_cfg_member(f);
		if (pct(&f->r, 8))
			put_u32(f, KHOLMES_CFG_WINDOW, KHOLMES_WINDOW_MAX + 1);
		nest_end(f, start);
	}
	for (n = below(&f->r, 4); n > 0; n--)
		gen_rule(f);
	if (pct(&f->r, 40)) {
		put_hdr(f, KHOLMES_A_REPLACE_WATCH, NLA_HDRLEN);
		for (n = below(&f->r, 5); n > 0; n--) {
			start = nest_begin(f, KHOLMES_A_WATCH | NLA_F_NESTED);
			switch (below(&f->r, 4)) {
			case 0:
				put_u32(f, KHOLMES_WATCH_PID, 1 + below(&f->r, 40));
				break;
			case 1: {
				const char *c = cgroups[below(&f->r, 3)];

				put_attr(f, KHOLMES_WATCH_CGROUP, c, strlen(c) + 1);
				break;
			}
			default:
				snprintf(comm, sizeof(comm), "fza%02x", below(&f->r, 8));
				put_attr(f, KHOLMES_WATCH_COMM, comm, strlen(comm) + 1);
				break;
			}
			nest_end(f, start);
		}
	}
}

/* What a well-formed request for @cmd carries, with values in range. */
static void gen_valid(struct fuzz *f, uint8_t cmd, size_t msg_start)
{
	size_t start;

	switch (cmd) {
	case KHOLMES_CMD_SET_CONFIG:
		if (pct(&f->r, 5))
			break;			/* no nest at all */
		start = nest_begin(f, KHOLMES_A_CONFIG | NLA_F_NESTED);
		if (pct(&f->r, 5)) {		/* an empty one */
			nest_end(f, start);
			break;
		}
		if (pct(&f->r, 10))		/* one good member, one out of range */
			put_u32(f, KHOLMES_CFG_WINDOW, KHOLMES_WINDOW_MAX + 1);
		gen_cfg_member(f);
		nest_end(f, start);
		break;
	case KHOLMES_CMD_SET_RULE:
		gen_rule(f);
		break;
	case KHOLMES_CMD_APPLY:
		gen_apply(f);
		break;
	case KHOLMES_CMD_ADD_WATCH:
	case KHOLMES_CMD_DEL_WATCH: {
		/* strings the policy lets through, for the module to judge */
		static const char * const cgroups[] = { "/", "/", "//", "/.",
			"/..", "/../..", "/init.scope", "/nonexistent", "/a/b/c",
			"relative", "", "/\x01", "/sys/fs/cgroup" };
		static const char * const comms[] = { "", "sh", "init",
			"kthreadd", "swapper/0", "0123456789abcde", "fz\n" };
		char str[KHOLMES_COMM_LEN + 1];
		int members = pct(&f->r, 90) ? 1 : below(&f->r, 4);

		start = nest_begin(f, KHOLMES_A_WATCH | NLA_F_NESTED);
		while (members--) {
			switch (below(&f->r, 6)) {
			case 0:
			case 1:
				put_u32(f, KHOLMES_WATCH_PID, 1 + below(&f->r, 40));
				break;
			case 2:
				snprintf(str, sizeof(str), "fz%02x", below(&f->r, 16));
				put_attr(f, KHOLMES_WATCH_COMM, str, strlen(str) + 1);
				break;
			case 3: {
				const char *c = comms[below(&f->r, sizeof(comms) / sizeof(comms[0]))];

				put_attr(f, KHOLMES_WATCH_COMM, c, strlen(c) + 1);
				break;
			}
			case 4: {
				const char *c = cgroups[below(&f->r, sizeof(cgroups) / sizeof(cgroups[0]))];

				put_attr(f, KHOLMES_WATCH_CGROUP, c, strlen(c) + 1);
				break;
			}
			default: {	/* up to the longest path, NUL inside */
				size_t n = below(&f->r, KHOLMES_CGROUP_PATH_MAX) + 1;
				uint8_t *p;

				if (room(f, msg_start) < n + 64)
					break;
				put_hdr(f, KHOLMES_WATCH_CGROUP, NLA_HDRLEN + n);
				p = put(f, NLA_ALIGN(n));
				for (size_t i = 0; i + 1 < n; i++)
					p[i] = i % 9 ? 'a' + i % 26 : '/';
				if (n > 2 && pct(&f->r, 30))
					p[below(&f->r, n - 1)] = 0;
				break;
			}
			}
		}
		nest_end(f, start);
		break;
	}
	case KHOLMES_CMD_CAPTURE:
		put_u32(f, KHOLMES_A_PID, pick_pid(f, true));
		break;
	case KHOLMES_CMD_PROFILE:
		if (pct(&f->r, 95))
			put_u32(f, KHOLMES_A_PID, pick_pid(f, true));
		if (pct(&f->r, 95))
			put_u32(f, KHOLMES_A_PROFILE_KIND, pct(&f->r, 90) ?
				KHOLMES_PROFILE_CPU + below(&f->r, 2) : below(&f->r, 4));
		if (pct(&f->r, 60))
			put_u32(f, KHOLMES_A_PROFILE_S, 1 + below(&f->r, 2));
		if (pct(&f->r, 50))
			put_u32(f, KHOLMES_A_PROFILE_HZ, 1 + below(&f->r, 200));
		break;
	case KHOLMES_CMD_GET_CAPTURE:
	case KHOLMES_CMD_ACK_CAPTURE:
		if (pct(&f->r, 30))
			put_u32(f, KHOLMES_A_PAD, 0);	/* 8-byte aligned u64 */
		put_u64(f, KHOLMES_A_CAPTURE_ID, pick_id(f));
		break;
	default:
		break;
	}
}

static bool admin_cmd(uint8_t cmd)
{
	switch (cmd) {
	case KHOLMES_CMD_SET_CONFIG:
	case KHOLMES_CMD_SET_RULE:
	case KHOLMES_CMD_ADD_WATCH:
	case KHOLMES_CMD_DEL_WATCH:
	case KHOLMES_CMD_CLEAR_WATCH:
	case KHOLMES_CMD_CAPTURE:
	case KHOLMES_CMD_LIST_CAPTURES:
	case KHOLMES_CMD_GET_CAPTURE:
	case KHOLMES_CMD_ACK_CAPTURE:
	case KHOLMES_CMD_PROFILE:
	case KHOLMES_CMD_APPLY:
		return true;
	default:
		return false;
	}
}

static bool dump_cmd(uint8_t cmd)
{
	return cmd == KHOLMES_CMD_GET_PROCS || cmd == KHOLMES_CMD_LIST_CAPTURES ||
	       cmd == KHOLMES_CMD_GET_CAPTURE;
}

/*
 * What the generic netlink core checks before the command and its
 * permission: a zero reserved byte, and no nlmsg_flags besides REQUEST,
 * ACK, ECHO and the two bits of DUMP together (genl_header_check()).
 */
static bool genl_header_ok(const struct freq *q)
{
	uint16_t flags = q->flags;

	if ((flags & NLM_F_DUMP) == NLM_F_DUMP)
		flags &= ~NLM_F_DUMP;
	return !q->reserved && !(flags & ~(NLM_F_REQUEST | NLM_F_ACK | NLM_F_ECHO));
}

/* The commands a request may carry (the others are multicast only). */
static bool known_cmd(uint8_t cmd)
{
	return (cmd >= KHOLMES_CMD_GET_STATUS && cmd <= KHOLMES_CMD_ACK_CAPTURE &&
		cmd != KHOLMES_CMD_DETECTION) || cmd == KHOLMES_CMD_PROFILE ||
	       cmd == KHOLMES_CMD_APPLY;
}

/*
 * One message at the end of the batch. Returns false when its header
 * lies about its length, which makes it the batch's last: the kernel would
 * otherwise read the bytes after the lie as further messages, of any
 * family.
 */
static bool gen_msg(struct fuzz *f)
{
	/* the generic netlink core refuses these on a request */
	static const uint16_t reserved[] = { NLM_F_ROOT, NLM_F_MATCH,
		NLM_F_ATOMIC, NLM_F_EXCL, NLM_F_CREATE, NLM_F_APPEND,
		NLM_F_MULTI, NLM_F_DUMP_INTR, NLM_F_DUMP_FILTERED, 0x8000 };
	size_t start = f->blen, real;
	struct freq *q = &f->m[f->nm];
	struct genlmsghdr *genl;
	struct nlmsghdr *nlh;
	bool honest = true, valid = false;
	unsigned int how;
	uint16_t flags;
	uint8_t cmd;

	nlh = (void *)put(f, NLMSG_HDRLEN);
	genl = (void *)put(f, GENL_HDRLEN);

	/* now and then, more valid ADD_WATCHes than the list holds */
	if (!f->burst && !below(&f->r, 5000)) {
		f->burst = KHOLMES_WATCH_MAX + 8;
		f->bursts++;
	}
	if (f->burst) {
		char comm[KHOLMES_COMM_LEN];
		size_t nest;

		f->burst--;
		valid = true;
		cmd = KHOLMES_CMD_ADD_WATCH;
		flags = NLM_F_REQUEST | NLM_F_ACK;
		genl->cmd = cmd;
		genl->version = KHOLMES_GENL_VERSION;
		snprintf(comm, sizeof(comm), "fzb%u-%u", f->bursts, f->burst);
		nest = nest_begin(f, KHOLMES_A_WATCH | NLA_F_NESTED);
		put_attr(f, KHOLMES_WATCH_COMM, comm, strlen(comm) + 1);
		nest_end(f, nest);
		real = f->blen - start;
		goto header;
	}

	how = below(&f->r, 100);
	if (how < 12) {		/* a dump, with what a dump may carry or not */
		static const uint8_t dumps[] = { KHOLMES_CMD_GET_PROCS,
			KHOLMES_CMD_LIST_CAPTURES, KHOLMES_CMD_GET_CAPTURE };

		cmd = dumps[below(&f->r, 3)];
		flags = NLM_F_REQUEST | NLM_F_DUMP | (pct(&f->r, 30) ? NLM_F_ACK : 0);
	} else {
		/* mostly commands that exist, so that the module's own code runs */
		do
			cmd = below(&f->r, KHOLMES_CMD_MAX + 4);
		while (!known_cmd(cmd) && pct(&f->r, 70));
		flags = NLM_F_REQUEST;
		if (pct(&f->r, 50))
			flags |= NLM_F_ACK;
		if (pct(&f->r, 15))
			flags |= NLM_F_DUMP;
		if (pct(&f->r, 4))
			flags |= NLM_F_ECHO;
		switch (below(&f->r, 50)) {
		case 0 ... 3:
			flags |= reserved[below(&f->r, sizeof(reserved) / sizeof(reserved[0]))];
			break;
		case 4:
			flags = rnd(&f->r);
			break;
		case 5:
			flags &= ~NLM_F_REQUEST;
			break;
		}
	}
	genl->cmd = cmd;
	genl->version = pct(&f->r, 85) ? KHOLMES_GENL_VERSION : rnd(&f->r);
	genl->reserved = pct(&f->r, 97) ? 0 : rnd(&f->r);

	if (how < 12 || pct(&f->r, 25)) {
		gen_valid(f, cmd, start);
		if (pct(&f->r, 20))
			gen_attr(f, cmd, start);
	} else {
		for (int i = below(&f->r, 5); i > 0; i--)
			gen_attr(f, cmd, start);
	}

	real = f->blen - start;
header:
	/* a modelled state change always says whether it was taken */
	if (f->model && state_cmd(cmd))
		flags |= NLM_F_ACK;
	nlh = (void *)(f->batch + start);
	nlh->nlmsg_len = real;
	nlh->nlmsg_type = valid || pct(&f->r, 98) ? f->family : below(&f->r, NLMSG_MIN_TYPE);
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = ++f->seq;
	nlh->nlmsg_pid = valid || pct(&f->r, 97) ? 0 : rnd(&f->r);

	how = valid ? 100 : below(&f->r, 100);
	if (how < 3) {		/* shorter than a netlink header */
		nlh->nlmsg_len = below(&f->r, NLMSG_HDRLEN);
		honest = false;
	} else if (how < 6) {	/* no room for the genl header */
		nlh->nlmsg_len = NLMSG_HDRLEN + below(&f->r, GENL_HDRLEN);
		honest = false;
	} else if (how < 10 && real > NLMSG_HDRLEN + GENL_HDRLEN) {
		/* cut inside the attributes */
		nlh->nlmsg_len = NLMSG_HDRLEN + GENL_HDRLEN +
			below(&f->r, real - NLMSG_HDRLEN - GENL_HDRLEN);
		honest = false;
	} else if (how < 12) {	/* longer than what was sent */
		nlh->nlmsg_len = real + 1 + below(&f->r, 64);
		honest = false;
	}
	if (!honest && nlh->nlmsg_len < real && nlh->nlmsg_len >= NLMSG_HDRLEN) {
		/*
		 * Send only what the header claims, so that nothing follows
		 * (shorter than a header, the kernel stops reading there).
		 */
		f->blen = start + nlh->nlmsg_len;
		real = nlh->nlmsg_len;
	}
	genl = (void *)(f->batch + start + NLMSG_HDRLEN);
	q->seq = nlh->nlmsg_seq;
	q->len = nlh->nlmsg_len;
	q->off = start;
	q->real = real;
	q->flags = flags;
	q->cmd = nlh->nlmsg_type == f->family ? cmd : 0xff;
	q->reserved = genl->reserved;
	q->used = true;
	f->ring[q->seq % FUZZ_RING] = *q;
	f->nm++;
	/* the next message starts aligned */
	f->blen = start + NLMSG_ALIGN(real);
	return honest;
}

/* ---- a model of what the valid requests set ---- */

/*
 * The configuration, rules and watch scope as the acknowledged requests
 * of one fuzzer (and nothing else) make them: every SET_CONFIG,
 * SET_RULE, ADD_WATCH, DEL_WATCH, CLEAR_WATCH and APPLY the module
 * acknowledged is applied here, parsed from the bytes sent as the module
 * parses them (the last of repeated attributes wins, values are read from
 * the start of their payload). Every state-changing request of a
 * modelled fuzzer asks for an acknowledgement, so its outcome is known;
 * one whose reply could be lost (ENOBUFS) makes the model read the
 * module again, counted as a resync. The module must read back as the
 * model says, at checkpoints during the storm and after it.
 */
struct mwatch {
	uint8_t type;			/* KHOLMES_WATCH_* */
	uint32_t pid;
	char s[KHOLMES_CGROUP_PATH_MAX];
};

struct model {
	uint32_t cfg[KHOLMES_CFG_MAX + 1];
	uint32_t rule[KHOLMES_NR_METRICS][KHOLMES_RULE_MAX + 1];
	struct mwatch w[KHOLMES_WATCH_MAX];
	unsigned int nw;
	bool stale;			/* a reply may have been lost */
	unsigned long applied;		/* requests applied to the model */
	unsigned long resyncs;
	unsigned long checks;		/* compared with the module */
	unsigned long diverged;
};

/* Each attribute of @p[0..len) in order; false from @fn stops. */
#define for_each_nla(a, p, len, off)					\
	for ((off) = 0;							\
	     (off) + NLA_HDRLEN <= (len) &&				\
	     ((a) = (const struct nlattr *)((p) + (off)))->nla_len >= NLA_HDRLEN && \
	     (a)->nla_len <= (len) - (off);				\
	     (off) += NLA_ALIGN((a)->nla_len))

static const uint8_t *nla_data_of(const struct nlattr *a)
{
	return (const uint8_t *)a + NLA_HDRLEN;
}

static size_t nla_plen(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

static uint32_t nla_val(const struct nlattr *a, bool u8)
{
	uint32_t v = 0;

	if (u8)
		return nla_plen(a) ? *nla_data_of(a) : 0;
	memcpy(&v, nla_data_of(a), nla_plen(a) < 4 ? nla_plen(a) : 4);
	return v;
}

/* The last attribute of @type in @p[0..len), as nla_parse() keeps it. */
static const struct nlattr *nla_last(const uint8_t *p, size_t len, int type)
{
	const struct nlattr *a, *found = NULL;
	size_t off;

	for_each_nla(a, p, len, off)
		if ((a->nla_type & NLA_TYPE_MASK) == type)
			found = a;
	return found;
}

static bool cfg_u8(int t)
{
	return t == KHOLMES_CFG_ENABLED || t == KHOLMES_CFG_PROFILES;
}

static void model_config(struct model *m, const struct nlattr *nest)
{
	const uint8_t *p = nla_data_of(nest);
	const struct nlattr *a;
	size_t off;

	for_each_nla(a, p, nla_plen(nest), off) {
		int t = a->nla_type & NLA_TYPE_MASK;

		if (t >= 1 && t <= KHOLMES_CFG_MAX)
			m->cfg[t] = nla_val(a, cfg_u8(t));
	}
}

/* A rule nest the module took: its metric's fields that it holds. */
static int model_rule(struct model *m, const struct nlattr *nest)
{
	uint32_t v[KHOLMES_RULE_MAX + 1];
	bool has[KHOLMES_RULE_MAX + 1] = { false };
	const uint8_t *p = nla_data_of(nest);
	const struct nlattr *a;
	size_t off;

	for_each_nla(a, p, nla_plen(nest), off) {
		int t = a->nla_type & NLA_TYPE_MASK;

		if (t >= 1 && t <= KHOLMES_RULE_MAX) {
			v[t] = nla_val(a, t == KHOLMES_RULE_ENABLED);
			has[t] = true;
		}
	}
	if (!has[KHOLMES_RULE_METRIC] || v[KHOLMES_RULE_METRIC] >= KHOLMES_NR_METRICS)
		return -1;
	for (int t = 1; t <= KHOLMES_RULE_MAX; t++)
		if (has[t] && t != KHOLMES_RULE_METRIC)
			m->rule[v[KHOLMES_RULE_METRIC]][t] = v[t];
	return 0;
}

/* The tgid of @pid, as the module stores a watched pid; @pid if gone. */
static uint32_t tgid_of(uint32_t pid)
{
	char path[64], buf[1024], *t;

	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	if (khm_read_file(path, buf, sizeof(buf)) <= 0)
		return pid;
	t = strstr(buf, "\nTgid:");
	return t ? (uint32_t)strtoul(t + 6, NULL, 10) : pid;
}

/*
 * A watch nest as the module turns it into an entry: exactly one member;
 * a pid as its tgid, a comm cut to 15 bytes, a path up to its first NUL.
 * @trim: the bytes of a cgroup string without its trailing NULs, which
 * is what a deletion compares (nla_strcmp()).
 */
static int model_entry(const struct nlattr *nest, struct mwatch *e,
		       const uint8_t **raw, size_t *rawlen)
{
	const uint8_t *p = nla_data_of(nest);
	const struct nlattr *a, *one = NULL;
	int n = 0;
	size_t off, len;

	for_each_nla(a, p, nla_plen(nest), off) {
		int t = a->nla_type & NLA_TYPE_MASK;

		if (t >= 1 && t <= KHOLMES_WATCH_MAX_ATTR && nla_last(p, nla_plen(nest), t) == a) {
			one = a;
			n++;
		}
	}
	if (n != 1)
		return -1;
	memset(e, 0, sizeof(*e));
	e->type = one->nla_type & NLA_TYPE_MASK;
	len = nla_plen(one);
	while (len && !nla_data_of(one)[len - 1])
		len--;
	if (raw) {
		*raw = nla_data_of(one);
		*rawlen = len;
	}
	switch (e->type) {
	case KHOLMES_WATCH_PID:
		e->pid = tgid_of(nla_val(one, false));
		break;
	case KHOLMES_WATCH_COMM:
		memcpy(e->s, nla_data_of(one), len < KHOLMES_COMM_LEN - 1 ? len :
		       KHOLMES_COMM_LEN - 1);
		break;
	default:
		memcpy(e->s, nla_data_of(one), len < sizeof(e->s) - 1 ? len :
		       sizeof(e->s) - 1);
		break;
	}
	return 0;
}

static bool entry_same(const struct mwatch *a, const struct mwatch *b)
{
	return a->type == b->type &&
	       (a->type == KHOLMES_WATCH_PID ? a->pid == b->pid : !strcmp(a->s, b->s));
}

static int model_watch_add(struct model *m, const struct nlattr *nest)
{
	struct mwatch e;

	if (model_entry(nest, &e, NULL, NULL) || m->nw == KHOLMES_WATCH_MAX)
		return -1;
	for (unsigned int i = 0; i < m->nw; i++)
		if (entry_same(&m->w[i], &e))
			return -1;
	m->w[m->nw++] = e;
	return 0;
}

static int model_watch_del(struct model *m, const struct nlattr *nest)
{
	const uint8_t *raw;
	size_t rawlen;
	struct mwatch e;

	if (model_entry(nest, &e, &raw, &rawlen))
		return -1;
	for (unsigned int i = 0; i < m->nw; i++) {
		struct mwatch *w = &m->w[i];
		bool same = e.type == KHOLMES_WATCH_CGROUP ?
			    w->type == e.type && strlen(w->s) == rawlen &&
			    !memcmp(w->s, raw, rawlen) :
			    entry_same(w, &e);

		if (same) {
			m->w[i] = m->w[--m->nw];
			return 0;
		}
	}
	return -1;
}

/*
 * Request @cmd, its attributes @p[0..len), acknowledged by the module:
 * into the model. -1 when the model cannot explain the acknowledgement.
 */
static int model_apply(struct model *m, uint8_t cmd, const uint8_t *p, size_t len)
{
	const struct nlattr *a, *cfg = NULL;
	size_t off;
	int ret = 0;

	switch (cmd) {
	case KHOLMES_CMD_SET_CONFIG:
		a = nla_last(p, len, KHOLMES_A_CONFIG);
		if (!a)
			return -1;
		model_config(m, a);
		break;
	case KHOLMES_CMD_SET_RULE:
		a = nla_last(p, len, KHOLMES_A_RULE);
		if (!a)
			return -1;
		ret = model_rule(m, a);
		break;
	case KHOLMES_CMD_ADD_WATCH:
	case KHOLMES_CMD_DEL_WATCH:
		a = nla_last(p, len, KHOLMES_A_WATCH);
		if (!a)
			return -1;
		ret = cmd == KHOLMES_CMD_ADD_WATCH ? model_watch_add(m, a) :
						    model_watch_del(m, a);
		break;
	case KHOLMES_CMD_CLEAR_WATCH:
		m->nw = 0;
		break;
	case KHOLMES_CMD_APPLY: {
		struct model *next = malloc(sizeof(*next));
		bool replace = nla_last(p, len, KHOLMES_A_REPLACE_WATCH);

		if (!next)
			return -1;
		*next = *m;
		for_each_nla(a, p, len, off)
			if ((a->nla_type & NLA_TYPE_MASK) == KHOLMES_A_CONFIG)
				cfg = a;	/* each nest parsed over the last */
		if (cfg)
			model_config(next, cfg);
		if (replace)
			next->nw = 0;
		for_each_nla(a, p, len, off) {
			int t = a->nla_type & NLA_TYPE_MASK;

			if (t == KHOLMES_A_RULE)
				ret |= model_rule(next, a);
			else if (t == KHOLMES_A_WATCH && replace)
				ret |= model_watch_add(next, a);
		}
		if (!ret)
			*m = *next;
		free(next);
		break;
	}
	default:
		return 0;
	}
	if (!ret)
		m->applied++;
	return ret;
}

static bool state_cmd(uint8_t cmd)
{
	return cmd == KHOLMES_CMD_SET_CONFIG || cmd == KHOLMES_CMD_SET_RULE ||
	       cmd == KHOLMES_CMD_ADD_WATCH || cmd == KHOLMES_CMD_DEL_WATCH ||
	       cmd == KHOLMES_CMD_CLEAR_WATCH || cmd == KHOLMES_CMD_APPLY;
}

/* The first reply message's attributes, after the genl header. */
static const uint8_t *reply_attrs(const void *raw, size_t len, size_t *alen)
{
	const struct nlmsghdr *nlh = raw;

	if (!raw || len < NLMSG_HDRLEN || nlh->nlmsg_len > len ||
	    nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		return NULL;
	*alen = nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	return (const uint8_t *)NLMSG_DATA(nlh) + GENL_HDRLEN;
}

/* What the module holds, read into a model. 0, or -1. */
static int model_read(struct model *m)
{
	static const uint8_t cmds[3] = { KHOLMES_CMD_GET_CONFIG,
		KHOLMES_CMD_GET_RULES, KHOLMES_CMD_GET_WATCH };
	struct khm_genl g;
	int ret = khm_genl_open(&g);

	memset(m->cfg, 0, sizeof(m->cfg));
	memset(m->rule, 0, sizeof(m->rule));
	m->nw = 0;
	for (int i = 0; i < 3 && !ret; i++) {
		const struct nlattr *a;
		const uint8_t *p;
		void *raw = NULL;
		size_t len = 0, alen = 0, off;

		ret = khm_genl_request(&g, cmds[i], 0, NULL, 0, &raw, &len);
		p = ret ? NULL : reply_attrs(raw, len, &alen);
		if (!p)
			ret = -EIO;
		for_each_nla(a, p, p ? alen : 0, off) {
			int t = a->nla_type & NLA_TYPE_MASK;

			if (i == 0 && t == KHOLMES_A_CONFIG)
				model_config(m, a);
			else if (i == 1 && t == KHOLMES_A_RULE && model_rule(m, a))
				ret = -EIO;
			else if (i == 2 && t == KHOLMES_A_WATCH &&
				 (m->nw == KHOLMES_WATCH_MAX ||
				  model_entry(a, &m->w[m->nw++], NULL, NULL)))
				ret = -EIO;
		}
		free(raw);
	}
	khm_genl_close(&g);
	return ret ? -1 : 0;
}

/* Where the module differs from the model, as TAP comments. */
static bool model_same(const struct model *want, const struct model *got)
{
	bool same = true;

	for (int t = 1; t <= KHOLMES_CFG_MAX; t++)
		if (want->cfg[t] != got->cfg[t]) {
			fprintf(stderr, "# fuzz: model: config %s is %u, the model says %u\n",
				cfg_keys[t], got->cfg[t], want->cfg[t]);
			same = false;
		}
	for (int r = 0; r < KHOLMES_NR_METRICS; r++)
		for (int t = 1; t <= KHOLMES_RULE_MAX; t++)
			if (t != KHOLMES_RULE_METRIC && want->rule[r][t] != got->rule[r][t]) {
				fprintf(stderr, "# fuzz: model: rule %d member %d is %u, the model says %u\n",
					r, t, got->rule[r][t], want->rule[r][t]);
				same = false;
			}
	if (want->nw != got->nw) {
		fprintf(stderr, "# fuzz: model: %u watch entries, the model says %u\n",
			got->nw, want->nw);
		same = false;
	}
	for (unsigned int i = 0; i < want->nw && i < got->nw; i++)
		if (!entry_same(&want->w[i], &got->w[i])) {
			fprintf(stderr, "# fuzz: model: watch entry %u is %u/%u/%.60s, the model says %u/%u/%.60s\n",
				i, got->w[i].type, got->w[i].pid, got->w[i].s,
				want->w[i].type, want->w[i].pid, want->w[i].s);
			same = false;
		}
	return same;
}

#define MODEL_CHECK_EVERY	2000	/* messages between comparisons */

/*
 * The module acknowledged @q, a state change: into the model, from the
 * bytes of the current batch. An acknowledgement of an older batch's
 * request (its bytes are gone) makes the model stale.
 */
static void model_ack(struct fuzz *f, const struct nlmsghdr *ack,
		      const struct freq *q)
{
	const struct freq *b = batch_find(f, q->seq);
	size_t len;

	if (!b) {
		f->model->stale = true;
		return;
	}
	len = b->len < b->real ? b->len : b->real;
	if (len < NLMSG_HDRLEN + GENL_HDRLEN)
		return;
	if (model_apply(f->model, b->cmd,
			f->batch + b->off + NLMSG_HDRLEN + GENL_HDRLEN,
			len - NLMSG_HDRLEN - GENL_HDRLEN)) {
		f->model->diverged++;
		f->model->stale = true;
		problem(f, q->seq, ack, "the module took command %u, which the model cannot apply",
			b->cmd);
	}
}

/*
 * After a batch: a stale model reads the module again; every
 * MODEL_CHECK_EVERY messages (and at the end, @last) the module must
 * read back as the model says.
 */
static void model_checkpoint(struct fuzz *f, bool last)
{
	static unsigned long next;
	struct model *now;

	if (f->model->stale) {
		if (model_read(f->model))
			problem(f, 0, NULL, "model: the module's state could not be read");
		f->model->stale = false;
		f->model->resyncs++;
		return;
	}
	if (!last && f->st.sent < next)
		return;
	next = f->st.sent + MODEL_CHECK_EVERY;
	now = calloc(1, sizeof(*now));
	if (!now || model_read(now)) {
		problem(f, 0, NULL, "model: the module's state could not be read");
	} else {
		f->model->checks++;
		if (!model_same(f->model, now)) {
			f->model->diverged++;
			problem(f, 0, NULL, "model: the module's state is not what its acknowledged requests set");
			f->model->stale = true;
		}
	}
	free(now);
}

/* ---- reading and judging replies ---- */

static void count_errno(struct fuzz *f, int err)
{
	int e = -err;

	if (e >= 0 && e < (int)(sizeof(f->st.errno_hist) / sizeof(f->st.errno_hist[0])))
		f->st.errno_hist[e]++;
}

static void check_error(struct fuzz *f, const struct nlmsghdr *nlh,
			const struct freq *q)
{
	const struct nlmsgerr *e = NLMSG_DATA(nlh);
	size_t off, len = nlh->nlmsg_len;

	if (len < NLMSG_LENGTH(sizeof(*e))) {
		problem(f, nlh->nlmsg_seq, nlh, "NLMSG_ERROR of %zu bytes", len);
		return;
	}
	if (e->error > 0 || e->error < -4095) {
		problem(f, nlh->nlmsg_seq, nlh, "NLMSG_ERROR with error %d", e->error);
		return;
	}
	count_errno(f, e->error);
	if (e->error)
		f->st.errors++;
	else
		f->st.acks++;
	if (!e->error && q && q->cmd <= KHOLMES_CMD_MAX && (q->flags & NLM_F_REQUEST) &&
	    q->len >= NLMSG_HDRLEN + GENL_HDRLEN) {
		f->st.applied[q->cmd]++;
		if (f->model && state_cmd(q->cmd))
			model_ack(f, nlh, q);
	}
	if (e->error == -EPERM)
		f->st.eperm++;
	if (q && q->cmd != 0xff && q->len >= NLMSG_HDRLEN + GENL_HDRLEN &&
	    (q->flags & NLM_F_REQUEST) && known_cmd(q->cmd)) {
		bool want_dump = (q->flags & NLM_F_DUMP) == NLM_F_DUMP;
		bool admin = admin_cmd(q->cmd);

		if (f->privileged && e->error == -EPERM)
			problem(f, nlh->nlmsg_seq, nlh, "root refused with EPERM (cmd %u)", q->cmd);
		if (!f->privileged && admin) {
			/*
			 * The core's order: header, command, permission. A
			 * dump flag that does not fit the command is
			 * EOPNOTSUPP before the permission on 6.12, after it
			 * on 6.1.
			 */
			bool mismatch = want_dump != dump_cmd(q->cmd);
			int want = !genl_header_ok(q) ? -EINVAL :
				   mismatch ? -EOPNOTSUPP : -EPERM;

			if (!e->error)
				problem(f, nlh->nlmsg_seq, nlh,
					"unprivileged command %u acknowledged", q->cmd);
			else if (e->error != want &&
				 !(want == -EOPNOTSUPP && e->error == -EPERM))
				problem(f, nlh->nlmsg_seq, nlh,
					"unprivileged command %u refused with %d, not %d",
					q->cmd, e->error, want);
			else
				f->st.refused++;
		}
		if (!f->privileged && !admin && e->error == -EPERM)
			problem(f, nlh->nlmsg_seq, nlh,
				"read command %u refused with EPERM", q->cmd);
	}

	/* the echoed request, whole or capped, then extack TLVs */
	off = NLMSG_LENGTH(sizeof(*e));
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && e->msg.nlmsg_len > NLMSG_HDRLEN)
		off += NLMSG_ALIGN(e->msg.nlmsg_len) - NLMSG_HDRLEN;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (off > len) {
		problem(f, nlh->nlmsg_seq, nlh, "extack TLVs start past the message");
		return;
	}
	while (len - off >= NLA_HDRLEN) {
		const struct nlattr *a = (const void *)((const uint8_t *)nlh + off);
		size_t plen;

		if (a->nla_len < NLA_HDRLEN || a->nla_len > len - off) {
			problem(f, nlh->nlmsg_seq, nlh, "malformed extack TLV at %zu", off);
			return;
		}
		plen = a->nla_len - NLA_HDRLEN;
		if (a->nla_type == NLMSGERR_ATTR_MSG &&
		    (!plen || ((const char *)a)[a->nla_len - 1] != '\0'))
			problem(f, nlh->nlmsg_seq, nlh, "extack message not a string");
		if (a->nla_type == NLMSGERR_ATTR_OFFS) {
			uint32_t o = UINT32_MAX;

			if (plen == 4)
				memcpy(&o, (const uint8_t *)a + NLA_HDRLEN, 4);

			if (o >= e->msg.nlmsg_len)
				problem(f, nlh->nlmsg_seq, nlh,
					"extack offset %u outside the request (%u bytes)",
					o, e->msg.nlmsg_len);
		}
		off += NLA_ALIGN(a->nla_len);
	}
}

/* A multicast event: a detection or a capture ready. */
static void check_event(struct fuzz *f, const struct nlmsghdr *nlh)
{
	const struct genlmsghdr *genl = NLMSG_DATA(nlh);
	char why[160];

	f->st.events++;
	if (nlh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN) ||
	    (genl->cmd != KHOLMES_CMD_DETECTION && genl->cmd != KHOLMES_CMD_CAPTURE_READY &&
	     genl->cmd != KHOLMES_CMD_PROFILE_STARTED)) {
		problem(f, 0, nlh, "multicast message that is no event");
		return;
	}
	if (!attrs_ok((const uint8_t *)genl + GENL_HDRLEN,
		      nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN), &top_set, 0,
		      why, sizeof(why)))
		problem(f, 0, nlh, "malformed event: %s", why);
}

static void check_msg(struct fuzz *f, struct fsock *s, const struct nlmsghdr *nlh)
{
	const struct freq *q = ring_find(f, nlh->nlmsg_seq);
	const struct genlmsghdr *genl;
	char why[160];
	bool dump;

	if (!nlh->nlmsg_seq && !nlh->nlmsg_pid && nlh->nlmsg_type == f->family) {
		check_event(f, nlh);
		return;
	}

	if (nlh->nlmsg_pid != s->portid)
		problem(f, nlh->nlmsg_seq, nlh, "reply to port %u, ours is %u",
			nlh->nlmsg_pid, s->portid);
	if (!q) {
		problem(f, nlh->nlmsg_seq, nlh, "reply (type %u) to a seq never sent",
			nlh->nlmsg_type);
		return;
	}
	dump = (q->flags & NLM_F_DUMP) == NLM_F_DUMP;
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		check_error(f, nlh, q);
		return;
	}
	if (nlh->nlmsg_type == NLMSG_DONE) {
		f->st.dones++;
		if (!dump)
			problem(f, nlh->nlmsg_seq, nlh, "NLMSG_DONE for a request that is not a dump");
		if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(int)))
			problem(f, nlh->nlmsg_seq, nlh, "NLMSG_DONE of %u bytes", nlh->nlmsg_len);
		else if (*(const int *)NLMSG_DATA(nlh) > 0 ||
			 *(const int *)NLMSG_DATA(nlh) < -4095)
			problem(f, nlh->nlmsg_seq, nlh, "NLMSG_DONE with %d",
				*(const int *)NLMSG_DATA(nlh));
		else
			count_errno(f, *(const int *)NLMSG_DATA(nlh));
		return;
	}
	if (nlh->nlmsg_type != f->family) {
		problem(f, nlh->nlmsg_seq, nlh, "reply of type %u", nlh->nlmsg_type);
		return;
	}
	f->st.replies++;
	if (nlh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN)) {
		problem(f, nlh->nlmsg_seq, nlh, "reply of %u bytes", nlh->nlmsg_len);
		return;
	}
	genl = NLMSG_DATA(nlh);
	if (genl->cmd != q->cmd || !known_cmd(genl->cmd))
		problem(f, nlh->nlmsg_seq, nlh, "reply command %u to request command %u",
			genl->cmd, q->cmd);
	if (genl->version != KHOLMES_GENL_VERSION)
		problem(f, nlh->nlmsg_seq, nlh, "reply version %u", genl->version);
	if (dump != !!(nlh->nlmsg_flags & NLM_F_MULTI))
		problem(f, nlh->nlmsg_seq, nlh, "reply flags %#x to %s", nlh->nlmsg_flags,
			dump ? "a dump" : "a request");
	if (!f->privileged && admin_cmd(genl->cmd))
		problem(f, nlh->nlmsg_seq, nlh, "unprivileged command %u answered",
			genl->cmd);
	if (genl->cmd == KHOLMES_CMD_CAPTURE || genl->cmd == KHOLMES_CMD_PROFILE)
		f->st.captures++;
	if (!attrs_ok((const uint8_t *)genl + GENL_HDRLEN,
		      nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN), &top_set, 0,
		      why, sizeof(why)))
		problem(f, nlh->nlmsg_seq, nlh, "malformed reply: %s", why);
}

/* Read until nothing is left; false when that takes too long. */
static bool drain(struct fuzz *f, struct fsock *s)
{
	long long end = now_ms() + FUZZ_DRAIN_MS;

	for (;;) {
		const struct nlmsghdr *nlh;
		ssize_t n;
		size_t left;

		n = recv(s->fd, f->rbuf, FUZZ_RBUF, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return true;
			if (errno == ENOBUFS) {
				f->st.enobufs++;
				if (f->model)
					f->model->stale = true;
				continue;
			}
			problem(f, 0, NULL, "recv: %s", strerror(errno));
			return false;
		}
		if (n > FUZZ_RBUF) {
			problem(f, 0, NULL, "a datagram of %zd bytes", n);
			continue;
		}
		f->st.bytes_in += n;
		left = n;
		for (nlh = (const void *)f->rbuf; left; ) {
			if (left < NLMSG_HDRLEN || nlh->nlmsg_len < NLMSG_HDRLEN ||
			    nlh->nlmsg_len > left) {
				problem(f, 0, NULL, "datagram with %zu bytes that are no message", left);
				hexdump("datagram tail", nlh, left);
				break;
			}
			check_msg(f, s, nlh);
			if (NLMSG_ALIGN(nlh->nlmsg_len) >= left)
				break;
			left -= NLMSG_ALIGN(nlh->nlmsg_len);
			nlh = (const void *)((const uint8_t *)nlh + NLMSG_ALIGN(nlh->nlmsg_len));
		}
		if (now_ms() > end) {
			problem(f, 0, NULL, "replies still coming after %d ms", FUZZ_DRAIN_MS);
			return false;
		}
	}
}

static int sock_open(struct fsock *s, int ext_ack, int cap_ack)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t salen = sizeof(sa);
	int sz = 4 << 20, one = 1;

	s->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (s->fd < 0)
		return -errno;
	if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(s->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (ext_ack)
		setsockopt(s->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (cap_ack)
		setsockopt(s->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(s->fd, (struct sockaddr *)&sa, &salen)) {
		close(s->fd);
		s->fd = -1;
		return -errno;
	}
	s->portid = sa.nl_pid;
	return 0;
}

/* Send the batch in one sendmsg(), cut into up to three iovecs. */
static bool send_batch(struct fuzz *f, struct fsock *s)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct iovec iov[3];
	struct msghdr mh = { .msg_name = &sa, .msg_namelen = sizeof(sa),
			     .msg_iov = iov };
	size_t a = below(&f->r, f->blen + 1), b = below(&f->r, f->blen + 1), t;
	ssize_t n;

	if (a > b) {
		t = a;
		a = b;
		b = t;
	}
	iov[0] = (struct iovec){ f->batch, a };
	iov[1] = (struct iovec){ f->batch + a, b - a };
	iov[2] = (struct iovec){ f->batch + b, f->blen - b };
	mh.msg_iovlen = 3;
	if (f->trace) {
		for (int i = 0; i < f->nm; i++) {
			char what[64];

			snprintf(what, sizeof(what), "seq %u", f->m[i].seq);
			hexdump(what, f->batch + f->m[i].off, f->m[i].real);
		}
	}
	n = sendmsg(s->fd, &mh, 0);
	if (n < 0 && (errno == ENOBUFS || errno == ENOMEM)) {
		f->st.enobufs++;
		if (f->model)
			f->model->stale = true;
		return true;
	}
	if (n != (ssize_t)f->blen) {
		problem(f, f->m[0].seq, NULL, "sendmsg of %zu bytes: %zd (%s)", f->blen, n,
			n < 0 ? strerror(errno) : "short");
		return false;
	}
	return true;
}

/*
 * A dump on a socket of its own, closed after reading at most one
 * datagram: the module's dump state must go away with it.
 */
static void abandon_dump(struct fuzz *f)
{
	static const uint8_t dumps[] = { KHOLMES_CMD_GET_PROCS,
		KHOLMES_CMD_LIST_CAPTURES, KHOLMES_CMD_GET_CAPTURE };
	struct {
		struct nlmsghdr nlh;
		struct genlmsghdr genl;
		uint8_t attrs[16];
	} req;
	struct fsock s;
	size_t len = sizeof(req.nlh) + sizeof(req.genl);
	int reads = below(&f->r, 2);

	memset(&req, 0, sizeof(req));
	req.genl.cmd = dumps[below(&f->r, 3)];
	req.genl.version = KHOLMES_GENL_VERSION;
	if (req.genl.cmd == KHOLMES_CMD_GET_CAPTURE)
		len = NLMSG_HDRLEN + GENL_HDRLEN +
		      khm_nla_put(req.attrs, 0, KHOLMES_A_CAPTURE_ID,
				  &f->id_base, 8);
	req.nlh.nlmsg_len = len;
	req.nlh.nlmsg_type = f->family;
	req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nlh.nlmsg_seq = 1;
	if (sock_open(&s, 0, 0))
		return;
	if (send(s.fd, &req, len, 0) == (ssize_t)len) {
		f->st.sent++;
		f->st.abandoned++;
		while (reads-- > 0)
			recv(s.fd, f->rbuf, FUZZ_RBUF, MSG_DONTWAIT);
	}
	close(s.fd);
}

static void fuzz_init(struct fuzz *f, uint64_t seed, unsigned long count,
		      bool privileged, uint16_t family, int mcgrp, uint64_t id_base)
{
	const char *t = getenv("KHM_FUZZ_TRACE");

	memset(f, 0, sizeof(*f));
	f->seed = seed;
	f->r.s = seed;
	f->target = count;
	f->privileged = privileged;
	f->family = family;
	f->mcgrp = mcgrp;
	f->id_base = id_base;
	f->trace = t && *t && strcmp(t, "0");
	f->batch = malloc(FUZZ_BATCH_BYTES + FUZZ_MSG_MAX);
	f->rbuf = malloc(FUZZ_RBUF);
	for (int i = 0; i < FUZZ_SOCKS; i++)
		f->s[i].fd = -1;
}

static void fuzz_fini(struct fuzz *f)
{
	for (int i = 0; i < FUZZ_SOCKS; i++)
		if (f->s[i].fd >= 0)
			close(f->s[i].fd);
	free(f->batch);
	free(f->rbuf);
}

/*
 * Send f->target messages. Returns 0 when it got to the end; the problems
 * it met are in f->st.problems, each reported on stderr.
 */
static int fuzz_run(struct fuzz *f)
{
	long long start = now_ms(), next_log = 10000;
	int ret;

	if (!f->batch || !f->rbuf)
		return -ENOMEM;
	for (int i = 0; i < FUZZ_SOCKS; i++) {
		ret = sock_open(&f->s[i], i != 2, i == 1);
		if (ret)
			return ret;
	}
	/*
	 * Events arrive among the replies of one socket. The group needs
	 * CAP_NET_ADMIN (limits_test): uid 65534 is refused, and listens to
	 * nothing.
	 */
	if (f->mcgrp > 0 && setsockopt(f->s[2].fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
				       &f->mcgrp, sizeof(f->mcgrp)) &&
	    (f->privileged || errno != EPERM))
		problem(f, 0, NULL, "joining group %d: %s", f->mcgrp, strerror(errno));
	while (f->st.sent < f->target) {
		struct fsock *s = &f->s[below(&f->r, FUZZ_SOCKS)];
		int n = 1 + below(&f->r, FUZZ_BATCH_MAX);

		if (!below(&f->r, FUZZ_ABANDON_EVERY / 4)) {
			abandon_dump(f);
			continue;
		}
		f->blen = 0;
		f->nm = 0;
		while (f->nm < n && f->st.sent + f->nm < f->target) {
			if (!gen_msg(f))
				break;
		}
		f->st.batches++;
		if (!send_batch(f, s))
			break;
		f->st.sent += f->nm;
		if (!drain(f, s))
			break;
		if (f->model)
			model_checkpoint(f, false);
		if (f->st.sent >= (unsigned long)next_log) {
			fprintf(stderr, "# fuzz: %lu messages, %lld ms\n", f->st.sent,
				now_ms() - start);
			next_log += 10000;
		}
	}
	f->st.ms = now_ms() - start;
	return 0;
}

static void fuzz_summary(struct fuzz *f, char *buf, size_t len)
{
	static const struct {
		int e;
		const char *name;
	} names[] = {
		{ 0, "ack" }, { EINVAL, "EINVAL" }, { EOPNOTSUPP, "EOPNOTSUPP" },
		{ EPERM, "EPERM" }, { ERANGE, "ERANGE" }, { ESRCH, "ESRCH" },
		{ ENOENT, "ENOENT" }, { EEXIST, "EEXIST" }, { ENOSPC, "ENOSPC" },
		{ EBUSY, "EBUSY" }, { EMSGSIZE, "EMSGSIZE" }, { E2BIG, "E2BIG" },
		{ ENOMEM, "ENOMEM" }, { ENOTDIR, "ENOTDIR" },
	};
	size_t o;
	unsigned long other = 0;

	o = snprintf(buf, len, "errnos:");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && o < len; i++)
		if (f->st.errno_hist[names[i].e])
			o += snprintf(buf + o, len - o, " %s %lu", names[i].name,
				      f->st.errno_hist[names[i].e]);
	for (size_t e = 1; e < sizeof(f->st.errno_hist) / sizeof(f->st.errno_hist[0]); e++) {
		bool named = false;

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			named |= names[i].e == (int)e;
		if (!named)
			other += f->st.errno_hist[e];
	}
	if (o < len)
		snprintf(buf + o, len - o, " other %lu", other);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	char *end;
	unsigned long long x;

	if (!v || !*v)
		return def;
	x = strtoull(v, &end, 0);
	return *end ? def : x;
}

/* The id of the family's multicast group "events", asked of nlctrl; or -errno. */
static int mcast_group(const struct khm_genl *g)
{
	struct khm_genl ctrl = *g;
	const struct nlmsghdr *nlh;
	const struct nlattr *grps, *grp;
	uint8_t attrs[32];
	void *raw = NULL;
	size_t len = 0, n, off;
	int ret;

	ctrl.family = GENL_ID_CTRL;
	n = khm_nla_put(attrs, 0, CTRL_ATTR_FAMILY_NAME, KHOLMES_GENL_NAME,
			sizeof(KHOLMES_GENL_NAME));
	ret = khm_genl_request(&ctrl, CTRL_CMD_GETFAMILY, 0, attrs, n, &raw, &len);
	if (ret)
		goto out;
	ret = -ENOENT;
	nlh = raw;
	if (len < NLMSG_LENGTH(GENL_HDRLEN) || nlh->nlmsg_type != GENL_ID_CTRL)
		goto out;
	grps = khm_nla_find((const uint8_t *)NLMSG_DATA(nlh) + GENL_HDRLEN,
			    nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN),
			    CTRL_ATTR_MCAST_GROUPS);
	for (off = NLA_HDRLEN; grps && grps->nla_len - off >= NLA_HDRLEN;
	     off += NLA_ALIGN(grp->nla_len)) {
		const struct nlattr *name, *id;

		grp = (const void *)((const uint8_t *)grps + off);
		if (grp->nla_len < NLA_HDRLEN || grp->nla_len > grps->nla_len - off)
			break;
		name = khm_nla_find((const uint8_t *)grp + NLA_HDRLEN, grp->nla_len - NLA_HDRLEN,
				    CTRL_ATTR_MCAST_GRP_NAME);
		id = khm_nla_find((const uint8_t *)grp + NLA_HDRLEN, grp->nla_len - NLA_HDRLEN,
				  CTRL_ATTR_MCAST_GRP_ID);
		if (name && id && !strcmp((const char *)name + NLA_HDRLEN, KHOLMES_MCGRP_EVENTS)) {
			memcpy(&ret, (const uint8_t *)id + NLA_HDRLEN, 4);
			break;
		}
	}
out:
	free(raw);
	return ret;
}

/* ------------------------------------------------------------------ */
/* the module's state, raw and as kholmesctl shows it */

struct state {
	void *raw[3];			/* GET_CONFIG, GET_RULES, GET_WATCH */
	size_t raw_len[3];
	struct json_object *json[3];	/* config show, rule show, watch show */
};

static const uint8_t state_cmds[3] = {
	KHOLMES_CMD_GET_CONFIG, KHOLMES_CMD_GET_RULES, KHOLMES_CMD_GET_WATCH,
};
static const char * const state_ctl[3] = { "config show", "rule show", "watch show" };

static void state_free(struct state *st)
{
	for (int i = 0; i < 3; i++) {
		free(st->raw[i]);
		json_object_put(st->json[i]);
		st->raw[i] = NULL;
		st->json[i] = NULL;
	}
}

/*
 * The first reply message of @raw without its netlink header (seq and
 * port differ between requests): the genl header and attributes.
 */
static const uint8_t *reply_body(const void *raw, size_t len, size_t *blen)
{
	const struct nlmsghdr *nlh = raw;

	if (!raw || len < NLMSG_HDRLEN || nlh->nlmsg_len > len ||
	    nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		return NULL;
	*blen = nlh->nlmsg_len - NLMSG_HDRLEN;
	return NLMSG_DATA(nlh);
}

static int state_read(struct state *st)
{
	struct khm_genl g;
	int ret;

	memset(st, 0, sizeof(*st));
	ret = khm_genl_open(&g);
	if (ret)
		return ret;
	for (int i = 0; i < 3 && !ret; i++) {
		ret = khm_genl_request(&g, state_cmds[i], 0, NULL, 0, &st->raw[i],
				       &st->raw_len[i]);
		if (!ret && !st->raw_len[i])
			ret = -EIO;
		if (!ret) {
			st->json[i] = khm_json("%s", state_ctl[i]);
			if (!st->json[i])
				ret = -EIO;
		}
	}
	khm_genl_close(&g);
	if (ret)
		state_free(st);
	return ret;
}

/* Where @a and @b differ, as TAP comments; true when they are the same. */
static bool state_same(const struct state *a, const struct state *b)
{
	bool same = true;

	for (int i = 0; i < 3; i++) {
		size_t la = 0, lb = 0;
		const uint8_t *pa = reply_body(a->raw[i], a->raw_len[i], &la);
		const uint8_t *pb = reply_body(b->raw[i], b->raw_len[i], &lb);

		if (!pa || !pb || la != lb || memcmp(pa, pb, la)) {
			fprintf(stderr, "# fuzz: %s: the raw replies differ\n", state_ctl[i]);
			hexdump("before", pa, pa ? la : 0);
			hexdump("after", pb, pb ? lb : 0);
			same = false;
		}
		if (!json_object_equal(a->json[i], b->json[i])) {
			fprintf(stderr, "# fuzz: kholmesctl %s: %s, then %s\n", state_ctl[i],
				json_object_to_json_string(a->json[i]),
				json_object_to_json_string(b->json[i]));
			same = false;
		}
	}
	return same;
}

/* The config member @type of a raw GET_CONFIG reply, or -1; its size in *@size. */
static long long raw_cfg(const struct state *st, int type, size_t *size)
{
	size_t blen;
	const uint8_t *b = reply_body(st->raw[0], st->raw_len[0], &blen);
	const struct nlattr *cfg, *a;

	if (!b)
		return -1;
	cfg = khm_nla_find(b + GENL_HDRLEN, blen - GENL_HDRLEN, KHOLMES_A_CONFIG);
	if (!cfg)
		return -1;
	a = khm_nla_find((const uint8_t *)cfg + NLA_HDRLEN, cfg->nla_len - NLA_HDRLEN, type);
	if (!a)
		return -1;
	*size = a->nla_len - NLA_HDRLEN;
	if (a->nla_len == NLA_HDRLEN + 1)
		return *((const uint8_t *)a + NLA_HDRLEN);
	return *(const uint32_t *)((const uint8_t *)a + NLA_HDRLEN);
}

static int ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* kholmesctl, as root; a failure is a TAP comment. */
static int ctl(const char *fmt, ...)
{
	char *line, *err = NULL;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (ret < 0)
		return -1;
	ret = khm_run(NULL, &err, "%s", line);
	if (ret)
		fprintf(stderr, "# fuzz: kholmesctl %s: exit %d: %s\n", line, ret,
			khm_oneline(err));
	free(line);
	free(err);
	return ret;
}

static const char * const cfg_keys[KHOLMES_CFG_MAX + 1] = {
	[KHOLMES_CFG_ENABLED] = "enabled",
	[KHOLMES_CFG_INTERVAL_MS] = "interval-ms",
	[KHOLMES_CFG_WINDOW] = "window",
	[KHOLMES_CFG_MAX_TRACKED] = "max-tracked",
	[KHOLMES_CFG_MAX_THREADS] = "max-threads",
	[KHOLMES_CFG_MAX_CAPTURES] = "max-captures",
	[KHOLMES_CFG_MAX_QUEUE_KB] = "max-queue-kb",
	[KHOLMES_CFG_USER_STACK_KB] = "user-stack-kb",
	[KHOLMES_CFG_CAPTURE_RATE] = "capture-rate",
	[KHOLMES_CFG_PROFILE_S] = "profile-s",
	[KHOLMES_CFG_PROFILE_HZ] = "profile-hz",
	[KHOLMES_CFG_FAULT_PERIOD] = "profile-fault-period",
	[KHOLMES_CFG_CPU_MAX] = "cpu-max",
	[KHOLMES_CFG_PROFILES] = "profiles",
	[KHOLMES_CFG_KTHREADS] = "kthreads",
	[KHOLMES_CFG_FLIGHT_HZ] = "flight-hz",
	[KHOLMES_CFG_FLIGHT_S] = "flight-s",
};

/*
 * Put @st back with kholmesctl, as an operator would: every config member,
 * every rule, the watch list in its order. A config key this kholmesctl
 * does not know yet (usage error) is set by a raw SET_CONFIG instead, and
 * said so. 0, or the number of commands that failed.
 */
static int state_restore(const struct state *st)
{
	struct json_object *rules = st->json[1];
	const struct nlattr *a;
	const uint8_t *b;
	size_t blen, off;
	int fails = 0;

	for (int t = 1; t <= KHOLMES_CFG_MAX; t++) {
		size_t size = 0;
		long long v = raw_cfg(st, t, &size);
		char *err = NULL;
		int ret;

		if (v < 0) {
			fprintf(stderr, "# fuzz: no config member %d in the snapshot\n", t);
			fails++;
			continue;
		}
		if (size == 1)
			ret = khm_run(NULL, &err, "config set %s %s", cfg_keys[t], v ? "on" : "off");
		else
			ret = khm_run(NULL, &err, "config set %s %lld", cfg_keys[t], v);
		if (ret == KHM_EXIT_USAGE) {
			struct khm_genl g;
			uint8_t attrs[32];
			uint32_t v32 = v;
			uint8_t v8 = v;
			size_t n, nest;

			fprintf(stderr, "# fuzz: kholmesctl cannot set %s yet (%s); a raw SET_CONFIG puts it back\n",
				cfg_keys[t], khm_oneline(err));
			nest = khm_nla_nest_start(attrs, 0, KHOLMES_A_CONFIG);
			n = size == 1 ? khm_nla_put(attrs, nest + NLA_HDRLEN, t, &v8, 1) :
					khm_nla_put(attrs, nest + NLA_HDRLEN, t, &v32, 4);
			khm_nla_nest_end(attrs, nest, n);
			ret = khm_genl_open(&g);
			if (!ret)
				ret = khm_genl_request(&g, KHOLMES_CMD_SET_CONFIG, 0, attrs, n,
						       NULL, NULL);
			khm_genl_close(&g);
			if (ret)
				fprintf(stderr, "# fuzz: raw SET_CONFIG %s: %s\n", cfg_keys[t],
					strerror(-ret));
		} else if (ret) {
			fprintf(stderr, "# fuzz: kholmesctl config set %s: exit %d: %s\n",
				cfg_keys[t], ret, khm_oneline(err));
		}
		free(err);
		fails += !!ret;
	}

	for (size_t i = 0; i < json_object_array_length(rules); i++) {
		struct json_object *r = json_object_array_get_idx(rules, i);

		fails += !!ctl("rule set %s min %lld diff %lld abs %lld cooldown %lld %s",
			       khm_json_str(r, "metric"), khm_json_int(r, "min"),
			       khm_json_int(r, "diff"), khm_json_int(r, "abs"),
			       khm_json_int(r, "cooldown"),
			       khm_json_int(r, "enabled") == 1 ? "on" : "off");
	}

	fails += !!ctl("watch clear");
	b = reply_body(st->raw[2], st->raw_len[2], &blen);
	for (off = GENL_HDRLEN; b && blen - off >= NLA_HDRLEN; off += NLA_ALIGN(a->nla_len)) {
		const struct nlattr *e;
		const char *data;

		a = (const void *)(b + off);
		if (a->nla_len < NLA_HDRLEN || a->nla_len > blen - off)
			break;
		e = (const void *)((const uint8_t *)a + NLA_HDRLEN);
		data = (const char *)e + NLA_HDRLEN;
		if (a->nla_len < 2 * NLA_HDRLEN)
			continue;
		switch (e->nla_type & NLA_TYPE_MASK) {
		case KHOLMES_WATCH_PID:
			fails += !!ctl("watch add pid %u", *(const uint32_t *)data);
			break;
		case KHOLMES_WATCH_COMM:
			fails += !!ctl("watch add comm %s", data);
			break;
		case KHOLMES_WATCH_CGROUP:
			fails += !!ctl("watch add cgroup %s", data);
			break;
		}
	}
	return fails;
}

/* ---- the capture queue ---- */

#define MAX_IDS	4096

struct queue {
	uint64_t id[MAX_IDS];
	uint32_t flags[MAX_IDS];
	int n;
};

static int queue_read(struct khm_genl *g, struct queue *qu)
{
	void *raw = NULL;
	size_t len = 0, left;
	const struct nlmsghdr *nlh;
	int ret;

	qu->n = 0;
	ret = khm_genl_request(g, KHOLMES_CMD_LIST_CAPTURES, NLM_F_DUMP, NULL, 0, &raw, &len);
	left = len;
	for (nlh = raw; !ret && left >= NLMSG_HDRLEN && nlh->nlmsg_len <= left;
	     left -= NLMSG_ALIGN(nlh->nlmsg_len),
	     nlh = (const void *)((const uint8_t *)nlh + NLMSG_ALIGN(nlh->nlmsg_len))) {
		const struct nlattr *c, *id, *fl;
		const uint8_t *body = (const uint8_t *)NLMSG_DATA(nlh) + GENL_HDRLEN;

		if (nlh->nlmsg_type != g->family || nlh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
			goto next;
		c = khm_nla_find(body, nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN),
				 KHOLMES_A_CAPTURE);
		if (!c)
			goto next;
		id = khm_nla_find((const uint8_t *)c + NLA_HDRLEN, c->nla_len - NLA_HDRLEN,
				  KHOLMES_CAPTURE_ID);
		fl = khm_nla_find((const uint8_t *)c + NLA_HDRLEN, c->nla_len - NLA_HDRLEN,
				  KHOLMES_CAPTURE_FLAGS);
		if (id && qu->n < MAX_IDS) {
			memcpy(&qu->id[qu->n], (const uint8_t *)id + NLA_HDRLEN, 8);
			qu->flags[qu->n] = fl ? *(const uint32_t *)((const uint8_t *)fl + NLA_HDRLEN) : 0;
			qu->n++;
		}
next:
		if (NLMSG_ALIGN(nlh->nlmsg_len) >= left)
			break;
	}
	free(raw);
	return ret;
}

static bool queue_has(const struct queue *qu, uint64_t id)
{
	for (int i = 0; i < qu->n; i++)
		if (qu->id[i] == id)
			return true;
	return false;
}

/* A manual capture of pid 1: its id, or 0. */
static uint64_t capture_init(struct khm_genl *g)
{
	uint8_t attrs[16];
	uint32_t pid = 1;
	uint64_t id = 0;
	void *raw = NULL;
	size_t len = 0, n;
	const struct nlattr *a;
	int ret;

	n = khm_nla_put(attrs, 0, KHOLMES_A_PID, &pid, 4);
	ret = khm_genl_request(g, KHOLMES_CMD_CAPTURE, 0, attrs, n, &raw, &len);
	if (!ret && len > NLMSG_LENGTH(GENL_HDRLEN)) {
		const struct nlmsghdr *nlh = raw;

		a = khm_nla_find((const uint8_t *)NLMSG_DATA(nlh) + GENL_HDRLEN,
				 nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN),
				 KHOLMES_A_CAPTURE_ID);
		if (a)
			memcpy(&id, (const uint8_t *)a + NLA_HDRLEN, 8);
	}
	if (ret)
		fprintf(stderr, "# fuzz: CAPTURE pid 1: %s\n", strerror(-ret));
	free(raw);
	return id;
}

/* Wait until the queue stops changing for a second (the worker caught up). */
static void queue_settle(struct khm_genl *g, struct queue *qu)
{
	long long end = now_ms() + FUZZ_SETTLE_MS, stable = now_ms();
	struct queue *prev = calloc(1, sizeof(*prev));

	queue_read(g, qu);
	while (prev && now_ms() < end) {
		*prev = *qu;
		usleep(200000);
		queue_read(g, qu);
		if (qu->n != prev->n || memcmp(qu->id, prev->id, qu->n * sizeof(qu->id[0])))
			stable = now_ms();
		else if (now_ms() - stable >= 1000)
			break;
	}
	free(prev);
}

static int ack(struct khm_genl *g, uint64_t id)
{
	uint8_t attrs[16];
	size_t n = khm_nla_put(attrs, 0, KHOLMES_A_CAPTURE_ID, &id, 8);

	return khm_genl_request(g, KHOLMES_CMD_ACK_CAPTURE, 0, attrs, n, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* the tests */

FIXTURE(fuzz) {
	struct khm_genl g;
	struct state orig;	/* as found; put back at the end */
	struct queue before;	/* captures queued before the test */
	uint64_t seed;
	uint64_t sentinel;	/* a capture of pid 1 of our own */
	int mcgrp;
};

/*
 * Watched pids whose process is gone (left by a test killed before its
 * teardown): no one can put them back after the storm, so they go now.
 */
static void watch_drop_dead_pids(void)
{
	struct json_object *w = khm_json("watch show");
	struct json_object *pids = w ? khm_json_get(w, "pids") : NULL;
	size_t n = pids ? json_object_array_length(pids) : 0;

	for (size_t i = 0; i < n; i++) {
		int pid = json_object_get_int(json_object_array_get_idx(pids, i));

		if (pid > 0 && kill(pid, 0) && errno == ESRCH) {
			fprintf(stderr, "# fuzz: watched pid %d has exited: deleted\n", pid);
			ctl("watch del pid %d", pid);
		}
	}
	json_object_put(w);
}

FIXTURE_SETUP(fuzz)
{
	ASSERT_EQ(0, khm_genl_open(&self->g)) TH_LOG("no kholmes family");
	TH_LOG("family \"%s\" is id %u", KHOLMES_GENL_NAME, self->g.family);
	watch_drop_dead_pids();
	ASSERT_EQ(0, state_read(&self->orig));
	ASSERT_EQ(0, queue_read(&self->g, &self->before));
	self->mcgrp = mcast_group(&self->g);
	ASSERT_LT(0, self->mcgrp) TH_LOG("no multicast group \"%s\"", KHOLMES_MCGRP_EVENTS);
	self->seed = env_u64("KHM_FUZZ_SEED", FUZZ_SEED);
}

FIXTURE_TEARDOWN(fuzz)
{
	struct queue now;
	struct state back;

	/* our captures go; those that were queued before stay */
	if (self->g.fd >= 0 && !queue_read(&self->g, &now))
		for (int i = 0; i < now.n; i++)
			if (!queue_has(&self->before, now.id[i]))
				ack(&self->g, now.id[i]);
	if (self->orig.raw[0]) {
		EXPECT_EQ(0, state_restore(&self->orig));
		if (!state_read(&back)) {
			EXPECT_TRUE(state_same(&self->orig, &back))
				TH_LOG("the state found could not be put back");
			state_free(&back);
		}
		state_free(&self->orig);
	}
	khm_genl_close(&self->g);
}

/*
 * A fuzzer in a child process, as root or as KHM_NOBODY without
 * capabilities; its counts come back through a pipe. Returns its pid, the
 * pipe's read end in *@rfd.
 */
static pid_t fuzz_child(FIXTURE_DATA(fuzz) *self, uint64_t seed,
			unsigned long count, bool privileged, int *rfd)
{
	int pipefd[2];
	pid_t pid;

	if (pipe(pipefd))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid) {
		close(pipefd[1]);
		*rfd = pipefd[0];
		return pid;
	}
	{
		struct fuzz *f = malloc(sizeof(*f));
		int ret;

		close(pipefd[0]);
		if (!f || (!privileged &&
			   (setgroups(0, NULL) ||
			    setresgid(KHM_NOBODY, KHM_NOBODY, KHM_NOBODY) ||
			    setresuid(KHM_NOBODY, KHM_NOBODY, KHM_NOBODY)))) {
			perror("# fuzz: dropping privileges");
			_exit(2);
		}
		fuzz_init(f, seed, count, privileged, self->g.family, self->mcgrp,
			  self->sentinel);
		ret = fuzz_run(f);
		if (write(pipefd[1], &f->st, sizeof(f->st)) != sizeof(f->st))
			_exit(3);
		_exit(ret ? 4 : 0);
	}
}

/* Its counts, once it ended well; -1 otherwise, said as a TAP comment. */
static int fuzz_wait(pid_t pid, int rfd, struct fuzz_stats *st)
{
	ssize_t n = read(rfd, st, sizeof(*st));
	int status;

	close(rfd);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) || n != sizeof(*st)) {
		fprintf(stderr, "# fuzz: fuzzer %d ended with status %#x\n", pid, status);
		return -1;
	}
	return 0;
}

/* A state worth restoring: a watch list in an order, changed rules. */
static int state_set_distinct(void)
{
	return ctl("watch clear") || ctl("watch add cgroup /") ||
	       ctl("watch add pid 1") || ctl("watch add comm khm-fuzz") ||
	       ctl("rule set threads cooldown 3599") ||
	       ctl("rule set dstate min 2001 off");
}

/* After a storm: the captures it queued, acknowledged once the worker caught up. */
static void storm_ack(struct __test_metadata *_metadata, FIXTURE_DATA(fuzz) *self)
{
	struct queue qu;
	int acked = 0;

	/* a profile the storm started (3 s at most) ends and is queued */
	usleep(3500 * 1000);
	queue_settle(&self->g, &qu);
	for (int i = 0; i < qu.n; i++)
		if (!queue_has(&self->before, qu.id[i]) && !ack(&self->g, qu.id[i]))
			acked++;
	TH_LOG("fuzz: %d captures acknowledged after the storm", acked);
}

/*
 * After a storm as root: its captures acknowledged, kholmesctl puts @snap
 * back, and it must read back exactly.
 */
static void storm_after(struct __test_metadata *_metadata,
			FIXTURE_DATA(fuzz) *self, const struct state *snap)
{
	struct state after;

	storm_ack(_metadata, self);
	EXPECT_EQ(0, state_restore(snap));
	ASSERT_EQ(0, state_read(&after)) TH_LOG("the module does not answer after the storm");
	EXPECT_TRUE(state_same(snap, &after));
	state_free(&after);
}

static void log_stats(struct __test_metadata *_metadata, const char *who,
		      uint64_t seed, const struct fuzz_stats *st)
{
	struct fuzz f = { .st = *st };
	char hist[512];

	fuzz_summary(&f, hist, sizeof(hist));
	printf("# fuzz: seed %llu, %lu messages, %lu errors, %lu replies (%s, %lld ms)\n",
	       (unsigned long long)seed, st->sent, st->errors, st->replies, who, st->ms);
	TH_LOG("fuzz: %s: seed %llu, %lu messages, %lu errors, %lu replies, %lu acks, %lu dumps done, %lu abandoned, %lu captures, %lu events, %lu admin refused, %lu ENOBUFS, %lu batches, %lu KiB in, %lld ms",
	       who, (unsigned long long)seed, st->sent, st->errors, st->replies,
	       st->acks, st->dones, st->abandoned, st->captures, st->events,
	       st->refused, st->enobufs, st->batches, st->bytes_in >> 10, st->ms);
	TH_LOG("fuzz: %s: %s", who, hist);
	TH_LOG("fuzz: %s: acknowledged: APPLY %lu, SET_CONFIG %lu, SET_RULE %lu, ADD_WATCH %lu, DEL_WATCH %lu, CLEAR_WATCH %lu, CAPTURE %lu, PROFILE %lu, ACK_CAPTURE %lu",
	       who, st->applied[KHOLMES_CMD_APPLY],
	       st->applied[KHOLMES_CMD_SET_CONFIG], st->applied[KHOLMES_CMD_SET_RULE],
	       st->applied[KHOLMES_CMD_ADD_WATCH], st->applied[KHOLMES_CMD_DEL_WATCH],
	       st->applied[KHOLMES_CMD_CLEAR_WATCH], st->applied[KHOLMES_CMD_CAPTURE],
	       st->applied[KHOLMES_CMD_PROFILE], st->applied[KHOLMES_CMD_ACK_CAPTURE]);
}

/*
 * Root: 100,000 messages that may change anything. The configuration,
 * rules and watch scope are checked against a model of what the requests
 * the module acknowledged set (struct model), every MODEL_CHECK_EVERY
 * messages and at the end; APPLY among them.
 */
TEST_F_TIMEOUT(fuzz, privileged, 280)
{
	unsigned long count = env_u64("KHM_FUZZ_COUNT", FUZZ_COUNT);
	struct model *m, *now;
	struct fuzz *f;

	ASSERT_EQ(0, state_set_distinct());
	self->sentinel = capture_init(&self->g);
	ASSERT_NE(0, self->sentinel) TH_LOG("a capture of pid 1 as root failed");

	f = malloc(sizeof(*f));
	m = calloc(1, sizeof(*m));
	now = calloc(1, sizeof(*now));
	ASSERT_TRUE(f && m && now);
	/* where the model starts: what the module holds now */
	ASSERT_EQ(0, model_read(m));
	fuzz_init(f, self->seed, count, true, self->g.family, self->mcgrp, self->sentinel);
	f->model = m;
	TH_LOG("fuzz: seed %llu, id base %llu, %lu messages as root",
	       (unsigned long long)f->seed, (unsigned long long)f->id_base, count);
	ASSERT_EQ(0, fuzz_run(f));
	log_stats(_metadata, "privileged", f->seed, &f->st);
	EXPECT_EQ(0, f->st.problems);
	EXPECT_LE(count, f->st.sent);
	EXPECT_LT(0, f->st.replies);
	EXPECT_LT(0, f->st.errors);
	EXPECT_LT(0, f->st.acks);

	/* the end: the module holds what the model says */
	if (!m->stale) {
		ASSERT_EQ(0, model_read(now));
		m->checks++;
		EXPECT_TRUE(model_same(m, now))
			TH_LOG("after the storm, the module's state is not the model's");
	}
	TH_LOG("fuzz: model: %lu acknowledged changes applied (APPLY %lu, SET_CONFIG %lu, SET_RULE %lu, watch %lu), %lu comparisons with the module, %lu resyncs after a lost reply, %lu divergences",
	       m->applied, f->st.applied[KHOLMES_CMD_APPLY],
	       f->st.applied[KHOLMES_CMD_SET_CONFIG], f->st.applied[KHOLMES_CMD_SET_RULE],
	       f->st.applied[KHOLMES_CMD_ADD_WATCH] + f->st.applied[KHOLMES_CMD_DEL_WATCH] +
	       f->st.applied[KHOLMES_CMD_CLEAR_WATCH], m->checks, m->resyncs, m->diverged);
	EXPECT_EQ(0, m->diverged);
	EXPECT_LT(10, m->checks);
	EXPECT_LT(0, f->st.applied[KHOLMES_CMD_APPLY]);
	EXPECT_LT(0, f->st.applied[KHOLMES_CMD_SET_CONFIG]);
	EXPECT_LT(0, f->st.applied[KHOLMES_CMD_SET_RULE]);
	EXPECT_LT(0, f->st.applied[KHOLMES_CMD_ADD_WATCH]);
	fuzz_fini(f);
	free(f);
	free(m);
	free(now);
	storm_ack(_metadata, self);
}

/*
 * Root, two fuzzers at once on the two CPUs while the sampler runs every
 * 10 ms: the module's locking (parallel_ops: no genl_mutex) under
 * concurrent dumps, changes and sampling passes. Each stream is
 * reproducible; their interleaving is not. 50,000 messages took over
 * 200 s on the debug kernel under KASAN on a loaded host.
 */
TEST_F_TIMEOUT(fuzz, privileged_parallel, 400)
{
	unsigned long count = env_u64("KHM_FUZZ_PARALLEL_COUNT", FUZZ_COUNT / 4);
	struct fuzz_stats st[2];
	struct state snap;
	pid_t pid[2];
	int rfd[2];

	ASSERT_EQ(0, state_set_distinct());
	ASSERT_EQ(0, ctl("config set interval-ms %d", KHOLMES_INTERVAL_MS_MIN));
	ASSERT_EQ(0, state_read(&snap));
	self->sentinel = capture_init(&self->g);
	ASSERT_NE(0, self->sentinel);
	TH_LOG("fuzz: seeds %llu and %llu, id base %llu, %lu messages each, at once",
	       (unsigned long long)self->seed + 1, (unsigned long long)self->seed + 2,
	       (unsigned long long)self->sentinel, count);
	for (int i = 0; i < 2; i++) {
		pid[i] = fuzz_child(self, self->seed + 1 + i, count, true, &rfd[i]);
		ASSERT_LT(0, pid[i]);
	}
	for (int i = 0; i < 2; i++) {
		char who[32];

		snprintf(who, sizeof(who), "parallel %d", i + 1);
		ASSERT_EQ(0, fuzz_wait(pid[i], rfd[i], &st[i]));
		log_stats(_metadata, who, self->seed + 1 + i, &st[i]);
		EXPECT_EQ(0, st[i].problems);
		EXPECT_LE(count, st[i].sent);
	}
	storm_after(_metadata, self, &snap);
	state_free(&snap);
}

/*
 * uid 65534 without capabilities: nothing it sends changes anything.
 */
TEST_F_TIMEOUT(fuzz, unprivileged, 200)
{
	unsigned long count = env_u64("KHM_FUZZ_UNPRIV_COUNT", FUZZ_UNPRIV_COUNT);
	uint64_t seed = self->seed ^ 0x756e70726976ULL;	/* "unpriv" */
	struct queue q0, q1;
	struct state s0, s1;
	struct fuzz_stats st;
	pid_t pid;
	int rfd;

	self->sentinel = capture_init(&self->g);
	ASSERT_NE(0, self->sentinel);
	queue_settle(&self->g, &q0);
	ASSERT_TRUE(queue_has(&q0, self->sentinel)) TH_LOG("capture %llu not queued",
		(unsigned long long)self->sentinel);
	ASSERT_EQ(0, state_read(&s0));

	TH_LOG("fuzz: seed %llu, id base %llu, %lu messages as uid %d",
	       (unsigned long long)seed, (unsigned long long)self->sentinel, count,
	       KHM_NOBODY);
	pid = fuzz_child(self, seed, count, false, &rfd);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, fuzz_wait(pid, rfd, &st));
	log_stats(_metadata, "unprivileged", seed, &st);
	EXPECT_EQ(0, st.problems);
	EXPECT_LE(count, st.sent);
	EXPECT_LT(0, st.refused);
	EXPECT_EQ(0, st.captures);

	/* nothing changed */
	ASSERT_EQ(0, state_read(&s1));
	EXPECT_TRUE(state_same(&s0, &s1));
	ASSERT_EQ(0, queue_read(&self->g, &q1));
	for (int i = 0; i < q0.n; i++) {
		EXPECT_TRUE(queue_has(&q1, q0.id[i]))
			TH_LOG("capture %llu disappeared", (unsigned long long)q0.id[i]);
	}
	for (int i = 0; i < q1.n; i++) {
		if (queue_has(&q0, q1.id[i]))
			continue;
		EXPECT_FALSE(q1.flags[i] & KHOLMES_CAPTURE_F_MANUAL)
			TH_LOG("a manual capture %llu appeared", (unsigned long long)q1.id[i]);
	}
	state_free(&s0);
	state_free(&s1);
}

TEST_HARNESS_MAIN
