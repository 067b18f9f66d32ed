// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

#define BIT(n)	(1U << (n))

static const struct nla_policy top_policy[KHOLMES_A_MAX + 1] = {
	[KHOLMES_A_VERSION]	= { .type = NLA_STRING },
	[KHOLMES_A_KRELEASE]	= { .type = NLA_STRING },
	[KHOLMES_A_CONFIG]	= { .type = NLA_NESTED },
	[KHOLMES_A_STATS]	= { .type = NLA_NESTED },
	[KHOLMES_A_RULE]	= { .type = NLA_NESTED },
	[KHOLMES_A_WATCH]	= { .type = NLA_NESTED },
	[KHOLMES_A_PROC]	= { .type = NLA_NESTED },
	[KHOLMES_A_EVENT]	= { .type = NLA_NESTED },
	[KHOLMES_A_CAPTURE_ID]	= { .type = NLA_U64 },
	[KHOLMES_A_CAPTURE]	= { .type = NLA_NESTED },
};

static const struct nla_policy cfg_policy[KHOLMES_CFG_MAX + 1] = {
	[KHOLMES_CFG_ENABLED]		= { .type = NLA_U8 },
	[KHOLMES_CFG_INTERVAL_MS]	= { .type = NLA_U32 },
	[KHOLMES_CFG_WINDOW]		= { .type = NLA_U32 },
	[KHOLMES_CFG_MAX_TRACKED]	= { .type = NLA_U32 },
	[KHOLMES_CFG_MAX_THREADS]	= { .type = NLA_U32 },
	[KHOLMES_CFG_MAX_CAPTURES]	= { .type = NLA_U32 },
	[KHOLMES_CFG_MAX_QUEUE_KB]	= { .type = NLA_U32 },
	[KHOLMES_CFG_USER_STACK_KB]	= { .type = NLA_U32 },
	[KHOLMES_CFG_CAPTURE_RATE]	= { .type = NLA_U32 },
	[KHOLMES_CFG_PROFILE_S]		= { .type = NLA_U32 },
	[KHOLMES_CFG_PROFILE_HZ]	= { .type = NLA_U32 },
	[KHOLMES_CFG_FAULT_PERIOD]	= { .type = NLA_U32 },
	[KHOLMES_CFG_CPU_MAX]		= { .type = NLA_U32 },
	[KHOLMES_CFG_PROFILES]		= { .type = NLA_U8 },
	[KHOLMES_CFG_KTHREADS]		= { .type = NLA_U8 },
	[KHOLMES_CFG_FLIGHT_HZ]		= { .type = NLA_U32 },
	[KHOLMES_CFG_FLIGHT_S]		= { .type = NLA_U32 },
};

static const struct nla_policy stat_policy[KHOLMES_STAT_MAX + 1] = {
	[KHOLMES_STAT_PASSES ... KHOLMES_STAT_MAX] = { .type = NLA_U64 },
};

static const struct nla_policy rule_policy[KHOLMES_RULE_MAX + 1] = {
	[KHOLMES_RULE_METRIC]	= { .type = NLA_U32 },
	[KHOLMES_RULE_ENABLED]	= { .type = NLA_U8 },
	[KHOLMES_RULE_MIN]	= { .type = NLA_U32 },
	[KHOLMES_RULE_DIFF]	= { .type = NLA_U32 },
	[KHOLMES_RULE_ABS]	= { .type = NLA_U32 },
	[KHOLMES_RULE_COOLDOWN]	= { .type = NLA_U32 },
};

static const struct nla_policy watch_policy[KHOLMES_WATCH_MAX_ATTR + 1] = {
	[KHOLMES_WATCH_PID]	= { .type = NLA_U32 },
	[KHOLMES_WATCH_COMM]	= { .type = NLA_STRING,
				    .maxlen = KHOLMES_COMM_LEN },
	[KHOLMES_WATCH_CGROUP]	= { .type = NLA_STRING,
				    .maxlen = KHOLMES_CGROUP_PATH_MAX },
};

static const struct nla_policy proc_policy[KHOLMES_PROC_MAX + 1] = {
	[KHOLMES_PROC_PID]	= { .type = NLA_U32 },
	[KHOLMES_PROC_COMM]	= { .type = NLA_STRING,
				    .maxlen = KHOLMES_COMM_LEN },
	[KHOLMES_PROC_START_NS]	= { .type = NLA_U64 },
	[KHOLMES_PROC_KTHREAD]	= { .type = NLA_FLAG },
	[KHOLMES_PROC_SAMPLES]	= { .type = NLA_U32 },
	[KHOLMES_PROC_VALUES]	= { .type = NLA_NESTED },
	[KHOLMES_PROC_AVGS]	= { .type = NLA_NESTED },
};

#define METRIC_ATTR_MAX	KHOLMES_METRIC_ATTR(KHOLMES_NR_METRICS - 1)

static const struct nla_policy metric_policy[METRIC_ATTR_MAX + 1] = {
	[KHOLMES_METRIC_ATTR(0) ... METRIC_ATTR_MAX] = { .type = NLA_U64 },
};

static const struct nla_policy event_policy[KHOLMES_EVENT_MAX + 1] = {
	[KHOLMES_EVENT_PID]	 = { .type = NLA_U32 },
	[KHOLMES_EVENT_COMM]	 = { .type = NLA_STRING,
				     .maxlen = KHOLMES_COMM_LEN },
	[KHOLMES_EVENT_START_NS] = { .type = NLA_U64 },
	[KHOLMES_EVENT_TIME_NS]	 = { .type = NLA_U64 },
	[KHOLMES_EVENT_METRIC]	 = { .type = NLA_U32 },
	[KHOLMES_EVENT_VALUE]	 = { .type = NLA_U64 },
	[KHOLMES_EVENT_AVG]	 = { .type = NLA_U64 },
	[KHOLMES_EVENT_RULE]	 = { .type = NLA_NESTED },
};

/* Strings without a bound of their own: the record size bounds them. */
static const struct nla_policy capture_policy[KHOLMES_CAPTURE_MAX + 1] = {
	[KHOLMES_CAPTURE_ID]		= { .type = NLA_U64 },
	[KHOLMES_CAPTURE_TIME_NS]	= { .type = NLA_U64 },
	[KHOLMES_CAPTURE_BOOT_NS]	= { .type = NLA_U64 },
	[KHOLMES_CAPTURE_FLAGS]		= { .type = NLA_U32 },
	[KHOLMES_CAPTURE_METRIC]	= { .type = NLA_U32 },
	[KHOLMES_CAPTURE_VALUE]		= { .type = NLA_U64 },
	[KHOLMES_CAPTURE_AVG]		= { .type = NLA_U64 },
	[KHOLMES_CAPTURE_RULE]		= { .type = NLA_NESTED },
	[KHOLMES_CAPTURE_PID]		= { .type = NLA_U32 },
	[KHOLMES_CAPTURE_COMM]		= { .type = NLA_STRING,
					    .maxlen = KHOLMES_COMM_LEN },
	[KHOLMES_CAPTURE_EXE]		= { .type = NLA_STRING },
	[KHOLMES_CAPTURE_CGROUP]	= { .type = NLA_STRING },
	[KHOLMES_CAPTURE_UID]		= { .type = NLA_U32 },
	[KHOLMES_CAPTURE_START_NS]	= { .type = NLA_U64 },
	[KHOLMES_CAPTURE_VALUES]	= { .type = NLA_NESTED },
	[KHOLMES_CAPTURE_AVGS]		= { .type = NLA_NESTED },
	[KHOLMES_CAPTURE_NR_THREADS]	= { .type = NLA_U32 },
	[KHOLMES_CAPTURE_THREADS]	= { .type = NLA_U32 },
	[KHOLMES_CAPTURE_BYTES]		= { .type = NLA_U64 },
	[KHOLMES_CAPTURE_MAPPINGS]	= { .type = NLA_U32 },
	[KHOLMES_CAPTURE_DURATION_NS]	= { .type = NLA_U64 },
	[KHOLMES_CAPTURE_PROFILE_OF]	= { .type = NLA_U64 },
	[KHOLMES_CAPTURE_PROFILE_KIND]	= { .type = NLA_U32 },
	[KHOLMES_CAPTURE_RSS_FILE]	= { .type = NLA_U64 },
	[KHOLMES_CAPTURE_RSS_ANON]	= { .type = NLA_U64 },
	[KHOLMES_CAPTURE_RSS_SHMEM]	= { .type = NLA_U64 },
};

static void copy_string(char *dst, size_t len, struct nlattr *a)
{
	if (a)
		snprintf(dst, len, "%s", nla_get_string(a));
}

static uint64_t get_u64(struct nlattr *a)
{
	return a ? nla_get_u64(a) : 0;
}

static uint32_t get_u32(struct nlattr *a)
{
	return a ? nla_get_u32(a) : 0;
}

int kh_decode_config(struct nlattr *nest, struct kh_config *cfg)
{
	struct nlattr *tb[KHOLMES_CFG_MAX + 1];
	int i;

	if (nla_parse_nested(tb, KHOLMES_CFG_MAX, nest, cfg_policy))
		return -EBADMSG;
	for (i = KHOLMES_CFG_ENABLED; i <= KHOLMES_CFG_MAX; i++)
		if (tb[i])
			cfg->has |= BIT(i);
	if (tb[KHOLMES_CFG_ENABLED])
		cfg->enabled = nla_get_u8(tb[KHOLMES_CFG_ENABLED]);
	if (tb[KHOLMES_CFG_INTERVAL_MS])
		cfg->interval_ms = nla_get_u32(tb[KHOLMES_CFG_INTERVAL_MS]);
	if (tb[KHOLMES_CFG_WINDOW])
		cfg->window = nla_get_u32(tb[KHOLMES_CFG_WINDOW]);
	if (tb[KHOLMES_CFG_MAX_TRACKED])
		cfg->max_tracked = nla_get_u32(tb[KHOLMES_CFG_MAX_TRACKED]);
	cfg->max_threads = get_u32(tb[KHOLMES_CFG_MAX_THREADS]);
	cfg->max_captures = get_u32(tb[KHOLMES_CFG_MAX_CAPTURES]);
	cfg->max_queue_kb = get_u32(tb[KHOLMES_CFG_MAX_QUEUE_KB]);
	cfg->user_stack_kb = get_u32(tb[KHOLMES_CFG_USER_STACK_KB]);
	cfg->capture_rate = get_u32(tb[KHOLMES_CFG_CAPTURE_RATE]);
	cfg->profile_s = get_u32(tb[KHOLMES_CFG_PROFILE_S]);
	cfg->profile_hz = get_u32(tb[KHOLMES_CFG_PROFILE_HZ]);
	cfg->fault_period = get_u32(tb[KHOLMES_CFG_FAULT_PERIOD]);
	cfg->cpu_max = get_u32(tb[KHOLMES_CFG_CPU_MAX]);
	cfg->flight_hz = get_u32(tb[KHOLMES_CFG_FLIGHT_HZ]);
	cfg->flight_s = get_u32(tb[KHOLMES_CFG_FLIGHT_S]);
	if (tb[KHOLMES_CFG_PROFILES])
		cfg->profiles = nla_get_u8(tb[KHOLMES_CFG_PROFILES]);
	if (tb[KHOLMES_CFG_KTHREADS])
		cfg->kthreads = nla_get_u8(tb[KHOLMES_CFG_KTHREADS]);
	return 0;
}

int kh_decode_config_msg(struct nlmsghdr *nlh, struct kh_config *cfg)
{
	struct nlattr *tb[KHOLMES_A_MAX + 1];

	if (genlmsg_parse(nlh, 0, tb, KHOLMES_A_MAX, top_policy) ||
	    !tb[KHOLMES_A_CONFIG])
		return -EBADMSG;
	return kh_decode_config(tb[KHOLMES_A_CONFIG], cfg);
}

static int decode_stats(struct nlattr *nest, uint64_t *stat)
{
	struct nlattr *tb[KHOLMES_STAT_MAX + 1];
	int i;

	if (nla_parse_nested(tb, KHOLMES_STAT_MAX, nest, stat_policy))
		return -EBADMSG;
	for (i = KHOLMES_STAT_PASSES; i <= KHOLMES_STAT_MAX; i++)
		if (tb[i])
			stat[i] = nla_get_u64(tb[i]);
	return 0;
}

int kh_decode_status(struct nlmsghdr *nlh, struct kh_status *st)
{
	struct nlattr *tb[KHOLMES_A_MAX + 1];
	struct kh_status t = *st;

	if (genlmsg_parse(nlh, 0, tb, KHOLMES_A_MAX, top_policy))
		return -EBADMSG;
	copy_string(t.version, sizeof(t.version), tb[KHOLMES_A_VERSION]);
	copy_string(t.krelease, sizeof(t.krelease), tb[KHOLMES_A_KRELEASE]);
	if (tb[KHOLMES_A_CONFIG] && kh_decode_config(tb[KHOLMES_A_CONFIG], &t.cfg))
		return -EBADMSG;
	if (tb[KHOLMES_A_STATS] && decode_stats(tb[KHOLMES_A_STATS], t.stat))
		return -EBADMSG;
	*st = t;
	return 0;
}

static void decode_rule_cfg(struct nlattr **tb, struct kholmes_rule_cfg *r)
{
	if (tb[KHOLMES_RULE_ENABLED])
		r->enabled = nla_get_u8(tb[KHOLMES_RULE_ENABLED]);
	if (tb[KHOLMES_RULE_MIN])
		r->min = nla_get_u32(tb[KHOLMES_RULE_MIN]);
	if (tb[KHOLMES_RULE_DIFF])
		r->diff = nla_get_u32(tb[KHOLMES_RULE_DIFF]);
	if (tb[KHOLMES_RULE_ABS])
		r->abs = nla_get_u32(tb[KHOLMES_RULE_ABS]);
	if (tb[KHOLMES_RULE_COOLDOWN])
		r->cooldown_s = nla_get_u32(tb[KHOLMES_RULE_COOLDOWN]);
}

int kh_decode_rule(struct nlattr *nest, struct kh_rule *rule)
{
	struct nlattr *tb[KHOLMES_RULE_MAX + 1];

	if (nla_parse_nested(tb, KHOLMES_RULE_MAX, nest, rule_policy) ||
	    !tb[KHOLMES_RULE_METRIC])
		return -EBADMSG;
	memset(rule, 0, sizeof(*rule));
	rule->metric = nla_get_u32(tb[KHOLMES_RULE_METRIC]);
	decode_rule_cfg(tb, &rule->cfg);
	return 0;
}

int kh_decode_watch(struct nlattr *nest, struct kh_watch_entry *e)
{
	struct nlattr *tb[KHOLMES_WATCH_MAX_ATTR + 1];

	if (nla_parse_nested(tb, KHOLMES_WATCH_MAX_ATTR, nest, watch_policy) ||
	    !(tb[KHOLMES_WATCH_PID] || tb[KHOLMES_WATCH_COMM] ||
	      tb[KHOLMES_WATCH_CGROUP]))
		return -EBADMSG;
	memset(e, 0, sizeof(*e));
	if (tb[KHOLMES_WATCH_PID]) {
		e->type = KHOLMES_WATCH_PID;
		e->pid = nla_get_u32(tb[KHOLMES_WATCH_PID]);
	} else if (tb[KHOLMES_WATCH_COMM]) {
		e->type = KHOLMES_WATCH_COMM;
		copy_string(e->name, sizeof(e->name), tb[KHOLMES_WATCH_COMM]);
	} else if (tb[KHOLMES_WATCH_CGROUP]) {
		e->type = KHOLMES_WATCH_CGROUP;
		copy_string(e->name, sizeof(e->name), tb[KHOLMES_WATCH_CGROUP]);
	} else {
		return -EBADMSG;
	}
	return 0;
}

/* Metrics this controller does not know are skipped, not refused. */
static int decode_metrics(struct nlattr *nest, uint64_t *v, uint32_t *has)
{
	struct nlattr *tb[METRIC_ATTR_MAX + 1];
	unsigned int m;

	if (nla_parse_nested(tb, METRIC_ATTR_MAX, nest, metric_policy))
		return -EBADMSG;
	for (m = 0; m < KHOLMES_NR_METRICS; m++) {
		if (!tb[KHOLMES_METRIC_ATTR(m)])
			continue;
		v[m] = nla_get_u64(tb[KHOLMES_METRIC_ATTR(m)]);
		*has |= BIT(m);
	}
	return 0;
}

static int decode_proc(struct nlattr *nest, struct kh_proc *p)
{
	struct nlattr *tb[KHOLMES_PROC_MAX + 1];

	if (nla_parse_nested(tb, KHOLMES_PROC_MAX, nest, proc_policy) ||
	    !tb[KHOLMES_PROC_PID])
		return -EBADMSG;
	p->pid = nla_get_u32(tb[KHOLMES_PROC_PID]);
	copy_string(p->comm, sizeof(p->comm), tb[KHOLMES_PROC_COMM]);
	if (tb[KHOLMES_PROC_START_NS])
		p->start_ns = nla_get_u64(tb[KHOLMES_PROC_START_NS]);
	p->kthread = nla_get_flag(tb[KHOLMES_PROC_KTHREAD]);
	if (tb[KHOLMES_PROC_SAMPLES])
		p->samples = nla_get_u32(tb[KHOLMES_PROC_SAMPLES]);
	if (tb[KHOLMES_PROC_VALUES] &&
	    decode_metrics(tb[KHOLMES_PROC_VALUES], p->value, &p->has_value))
		return -EBADMSG;
	if (tb[KHOLMES_PROC_AVGS] &&
	    decode_metrics(tb[KHOLMES_PROC_AVGS], p->avg, &p->has_avg))
		return -EBADMSG;
	return 0;
}

/*
 * Each kh_decode_*() of a record fills it only when the whole record
 * is good: a refused one leaves the caller's record as it was.
 */
int kh_decode_proc(struct nlattr *nest, struct kh_proc *p)
{
	struct kh_proc t = { 0 };
	int ret = decode_proc(nest, &t);

	if (!ret)
		*p = t;
	return ret;
}

static int decode_event(struct nlattr *nest, struct kh_event *ev)
{
	struct nlattr *tb[KHOLMES_EVENT_MAX + 1];
	struct nlattr *rb[KHOLMES_RULE_MAX + 1];

	if (nla_parse_nested(tb, KHOLMES_EVENT_MAX, nest, event_policy) ||
	    !tb[KHOLMES_EVENT_PID] || !tb[KHOLMES_EVENT_METRIC])
		return -EBADMSG;
	/* The rule that fired was on, whether or not the nest says so. */
	ev->rule.enabled = true;
	ev->pid = nla_get_u32(tb[KHOLMES_EVENT_PID]);
	copy_string(ev->comm, sizeof(ev->comm), tb[KHOLMES_EVENT_COMM]);
	if (tb[KHOLMES_EVENT_START_NS])
		ev->start_ns = nla_get_u64(tb[KHOLMES_EVENT_START_NS]);
	if (tb[KHOLMES_EVENT_TIME_NS])
		ev->time_ns = nla_get_u64(tb[KHOLMES_EVENT_TIME_NS]);
	ev->metric = nla_get_u32(tb[KHOLMES_EVENT_METRIC]);
	if (tb[KHOLMES_EVENT_VALUE])
		ev->value = nla_get_u64(tb[KHOLMES_EVENT_VALUE]);
	if (tb[KHOLMES_EVENT_AVG])
		ev->avg = nla_get_u64(tb[KHOLMES_EVENT_AVG]);
	if (!tb[KHOLMES_EVENT_RULE])
		return 0;
	if (nla_parse_nested(rb, KHOLMES_RULE_MAX, tb[KHOLMES_EVENT_RULE],
			     rule_policy))
		return -EBADMSG;
	decode_rule_cfg(rb, &ev->rule);
	return 0;
}

int kh_decode_event(struct nlattr *nest, struct kh_event *ev)
{
	struct kh_event t = { 0 };
	int ret = decode_event(nest, &t);

	if (!ret)
		*ev = t;
	return ret;
}

static int decode_capture_tb(struct nlattr **tb, struct kh_capture_sum *sum)
{
	if (!tb[KHOLMES_CAPTURE_ID])
		return -EBADMSG;
	sum->id = nla_get_u64(tb[KHOLMES_CAPTURE_ID]);
	sum->time_ns = get_u64(tb[KHOLMES_CAPTURE_TIME_NS]);
	sum->boot_ns = get_u64(tb[KHOLMES_CAPTURE_BOOT_NS]);
	sum->flags = get_u32(tb[KHOLMES_CAPTURE_FLAGS]);
	sum->has_metric = tb[KHOLMES_CAPTURE_METRIC];
	sum->metric = get_u32(tb[KHOLMES_CAPTURE_METRIC]);
	sum->value = get_u64(tb[KHOLMES_CAPTURE_VALUE]);
	sum->avg = get_u64(tb[KHOLMES_CAPTURE_AVG]);
	sum->pid = get_u32(tb[KHOLMES_CAPTURE_PID]);
	copy_string(sum->comm, sizeof(sum->comm), tb[KHOLMES_CAPTURE_COMM]);
	sum->nr_threads = get_u32(tb[KHOLMES_CAPTURE_NR_THREADS]);
	sum->threads = get_u32(tb[KHOLMES_CAPTURE_THREADS]);
	sum->bytes = get_u64(tb[KHOLMES_CAPTURE_BYTES]);
	sum->has_profile_of = tb[KHOLMES_CAPTURE_PROFILE_OF];
	sum->profile_of = get_u64(tb[KHOLMES_CAPTURE_PROFILE_OF]);
	sum->profile_kind = get_u32(tb[KHOLMES_CAPTURE_PROFILE_KIND]);
	return 0;
}

int kh_decode_capture_sum(struct nlattr *nest, struct kh_capture_sum *sum)
{
	struct nlattr *tb[KHOLMES_CAPTURE_MAX + 1];
	struct kh_capture_sum t = { 0 };

	if (nla_parse_nested(tb, KHOLMES_CAPTURE_MAX, nest, capture_policy) ||
	    decode_capture_tb(tb, &t))
		return -EBADMSG;
	*sum = t;
	return 0;
}

/*
 * One entry of the queue's list: 0, whole; 1, malformed but with an id
 * (sum holds only that: the capture can still be fetched and its own
 * records read); -EBADMSG, not even an id.
 */
int kh_decode_list_entry(struct nlattr *nest, struct kh_capture_sum *sum)
{
	struct nlattr *id;

	if (!kh_decode_capture_sum(nest, sum))
		return 0;
	memset(sum, 0, sizeof(*sum));
	id = nla_find(nla_data(nest), nla_len(nest), KHOLMES_CAPTURE_ID);
	if (!id || nla_len(id) != sizeof(uint64_t))
		return -EBADMSG;
	sum->id = nla_get_u64(id);
	return 1;
}

static int decode_capture(struct nlattr **tb, struct kh_capture *cap)
{
	struct nlattr *rb[KHOLMES_RULE_MAX + 1];

	if (decode_capture_tb(tb, &cap->sum))
		return -EBADMSG;
	if (tb[KHOLMES_CAPTURE_RULE]) {
		if (nla_parse_nested(rb, KHOLMES_RULE_MAX,
				     tb[KHOLMES_CAPTURE_RULE], rule_policy))
			return -EBADMSG;
		cap->has_rule = true;
		cap->rule.enabled = true;
		decode_rule_cfg(rb, &cap->rule);
	}
	cap->has_uid = tb[KHOLMES_CAPTURE_UID];
	cap->uid = get_u32(tb[KHOLMES_CAPTURE_UID]);
	cap->start_ns = get_u64(tb[KHOLMES_CAPTURE_START_NS]);
	cap->nr_mappings = get_u32(tb[KHOLMES_CAPTURE_MAPPINGS]);
	cap->duration_ns = get_u64(tb[KHOLMES_CAPTURE_DURATION_NS]);
	cap->has_rss = tb[KHOLMES_CAPTURE_RSS_ANON] || tb[KHOLMES_CAPTURE_RSS_FILE];
	cap->rss_anon = get_u64(tb[KHOLMES_CAPTURE_RSS_ANON]);
	cap->rss_file = get_u64(tb[KHOLMES_CAPTURE_RSS_FILE]);
	cap->has_value = cap->has_avg = 0;
	if (tb[KHOLMES_CAPTURE_VALUES] &&
	    decode_metrics(tb[KHOLMES_CAPTURE_VALUES], cap->value,
			   &cap->has_value))
		return -EBADMSG;
	if (tb[KHOLMES_CAPTURE_AVGS] &&
	    decode_metrics(tb[KHOLMES_CAPTURE_AVGS], cap->avg, &cap->has_avg))
		return -EBADMSG;
	return 0;
}

/*
 * Fills what the nest holds; cap's lists are left as they are, and a
 * refused nest leaves all of cap as it was.
 */
int kh_decode_capture(struct nlattr *nest, struct kh_capture *cap)
{
	struct nlattr *tb[KHOLMES_CAPTURE_MAX + 1];
	struct kh_capture t = *cap;
	int ret = -EBADMSG;

	if (nla_parse_nested(tb, KHOLMES_CAPTURE_MAX, nest, capture_policy))
		return -EBADMSG;
	t.exe = NULL;
	t.cgroup = NULL;
	if (tb[KHOLMES_CAPTURE_EXE]) {
		t.exe = strdup(nla_get_string(tb[KHOLMES_CAPTURE_EXE]));
		if (!t.exe) {
			ret = -ENOMEM;
			goto out;
		}
	}
	if (tb[KHOLMES_CAPTURE_CGROUP]) {
		t.cgroup = strdup(nla_get_string(tb[KHOLMES_CAPTURE_CGROUP]));
		if (!t.cgroup) {
			ret = -ENOMEM;
			goto out;
		}
	}
	ret = decode_capture(tb, &t);
	if (!ret) {
		free(cap->exe);
		free(cap->cgroup);
		*cap = t;
		return 0;
	}
out:
	free(t.exe);
	free(t.cgroup);
	return ret;
}

int kh_decode_capture_id(struct nlmsghdr *nlh, uint64_t *id)
{
	struct nlattr *tb[KHOLMES_A_MAX + 1];

	if (genlmsg_parse(nlh, 0, tb, KHOLMES_A_MAX, top_policy) ||
	    !tb[KHOLMES_A_CAPTURE_ID])
		return -EBADMSG;
	*id = nla_get_u64(tb[KHOLMES_A_CAPTURE_ID]);
	return 0;
}

/*
 * The kernel's reason (extack) for an error or a warning: NLMSGERR_ATTR_*
 * attributes after the first `off` bytes of the payload, present when
 * NETLINK_EXT_ACK is on and the kernel set NLM_F_ACK_TLVS. NULL if none.
 */
const char *kh_extack_msg(const struct nlmsghdr *nlh, size_t off)
{
	static const struct nla_policy policy[NLMSGERR_ATTR_MAX + 1] = {
		[NLMSGERR_ATTR_MSG] = { .type = NLA_STRING },
	};
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	int len = nlmsg_datalen(nlh);

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || len < 0 ||
	    (size_t)len <= off)
		return NULL;
	if (nla_parse(tb, NLMSGERR_ATTR_MAX,
		      (struct nlattr *)((char *)nlmsg_data(nlh) + off),
		      len - off, policy))
		return NULL;
	return tb[NLMSGERR_ATTR_MSG] ? nla_get_string(tb[NLMSGERR_ATTR_MSG]) :
				       NULL;
}

/* NLMSG_ERROR echoes the request, all of it unless NETLINK_CAP_ACK. */
const char *kh_nlerr_extack(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = nlmsg_data(nlh);
	size_t off = sizeof(*e);

	if ((size_t)nlmsg_datalen(nlh) < off)
		return NULL;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED) &&
	    e->msg.nlmsg_len > NLMSG_HDRLEN)
		off += NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN);
	return kh_extack_msg(nlh, off);
}
