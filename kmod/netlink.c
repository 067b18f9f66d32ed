// SPDX-License-Identifier: GPL-2.0
/*
 * The generic netlink surface of kholmes; the protocol is described in
 * include/kholmes.h. Every attribute has a policy the core enforces
 * strictly; what the policy cannot express is checked here, before
 * anything is changed, so a rejected request changes nothing.
 */

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/mm_types.h>
#include <linux/pid_namespace.h>
#include <linux/rwsem.h>
#include <linux/sched/coredump.h>
#include <linux/sched/task.h>
#include <linux/utsname.h>
#include <net/genetlink.h>
#include <net/sock.h>

#include "khm.h"

static struct netlink_range_validation khm_interval_range = {
	.min = KHOLMES_INTERVAL_MS_MIN,
	.max = KHOLMES_INTERVAL_MS_MAX,
};

static struct netlink_range_validation khm_window_range = {
	.min = KHOLMES_WINDOW_MIN,
	.max = KHOLMES_WINDOW_MAX,
};

static struct netlink_range_validation khm_tracked_range = {
	.min = KHOLMES_MAX_TRACKED_MIN,
	.max = KHOLMES_MAX_TRACKED_MAX,
};

static struct netlink_range_validation khm_value_range = {
	.max = KHOLMES_RULE_VALUE_MAX,
};

static struct netlink_range_validation khm_diff_range = {
	.max = KHOLMES_RULE_DIFF_MAX,
};

static struct netlink_range_validation khm_cooldown_range = {
	.max = KHOLMES_RULE_COOLDOWN_MAX,
};

static struct netlink_range_validation khm_pid_range = {
	.min = 1,
	.max = KHOLMES_PID_MAX,
};

static struct netlink_range_validation khm_threads_range = {
	.min = KHOLMES_MAX_THREADS_MIN,
	.max = KHOLMES_MAX_THREADS_MAX,
};

static struct netlink_range_validation khm_captures_range = {
	.min = KHOLMES_MAX_CAPTURES_MIN,
	.max = KHOLMES_MAX_CAPTURES_MAX,
};

static struct netlink_range_validation khm_queue_kb_range = {
	.min = KHOLMES_MAX_QUEUE_KB_MIN,
	.max = KHOLMES_MAX_QUEUE_KB_MAX,
};

static struct netlink_range_validation khm_ustack_range = {
	.max = KHOLMES_USER_STACK_KB_MAX,
};

static struct netlink_range_validation khm_rate_range = {
	.max = KHOLMES_CAPTURE_RATE_MAX,
};

static struct netlink_range_validation khm_profile_s_range = {
	.min = KHOLMES_PROFILE_S_MIN,
	.max = KHOLMES_PROFILE_S_MAX,
};

static struct netlink_range_validation khm_profile_hz_range = {
	.min = KHOLMES_PROFILE_HZ_MIN,
	.max = KHOLMES_PROFILE_HZ_MAX,
};

static struct netlink_range_validation khm_fault_period_range = {
	.min = 1,
	.max = KHOLMES_FAULT_PERIOD_MAX,
};

static struct netlink_range_validation khm_flight_hz_range = {
	.max = KHOLMES_FLIGHT_HZ_MAX,
};

static struct netlink_range_validation khm_flight_s_range = {
	.min = KHOLMES_FLIGHT_S_MIN,
	.max = KHOLMES_FLIGHT_S_MAX,
};

static struct netlink_range_validation khm_percent_range = {
	.max = 100,
};

static struct netlink_range_validation khm_kind_range = {
	.min = KHOLMES_PROFILE_CPU,
	.max = KHOLMES_PROFILE_FAULTS,
};

static struct netlink_range_validation khm_id_range = {
	.min = 1,
	.max = U64_MAX,
};

static const struct nla_policy khm_cfg_policy[KHOLMES_CFG_MAX + 1] = {
	[KHOLMES_CFG_ENABLED] = NLA_POLICY_MAX(NLA_U8, 1),
	[KHOLMES_CFG_INTERVAL_MS] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &khm_interval_range),
	[KHOLMES_CFG_WINDOW] = NLA_POLICY_FULL_RANGE(NLA_U32, &khm_window_range),
	[KHOLMES_CFG_MAX_TRACKED] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &khm_tracked_range),
	[KHOLMES_CFG_MAX_THREADS] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &khm_threads_range),
	[KHOLMES_CFG_MAX_CAPTURES] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &khm_captures_range),
	[KHOLMES_CFG_MAX_QUEUE_KB] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &khm_queue_kb_range),
	[KHOLMES_CFG_USER_STACK_KB] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &khm_ustack_range),
	[KHOLMES_CFG_CAPTURE_RATE] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &khm_rate_range),
	[KHOLMES_CFG_PROFILE_S] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &khm_profile_s_range),
	[KHOLMES_CFG_PROFILE_HZ] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &khm_profile_hz_range),
	[KHOLMES_CFG_FAULT_PERIOD] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &khm_fault_period_range),
	[KHOLMES_CFG_CPU_MAX] = NLA_POLICY_FULL_RANGE(NLA_U32, &khm_percent_range),
	[KHOLMES_CFG_PROFILES] = NLA_POLICY_MAX(NLA_U8, 1),
	[KHOLMES_CFG_KTHREADS] = NLA_POLICY_MAX(NLA_U8, 1),
	[KHOLMES_CFG_FLIGHT_HZ] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &khm_flight_hz_range),
	[KHOLMES_CFG_FLIGHT_S] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &khm_flight_s_range),
};

static const struct nla_policy khm_rule_policy[KHOLMES_RULE_MAX + 1] = {
	[KHOLMES_RULE_METRIC] = NLA_POLICY_MAX(NLA_U32, KHOLMES_NR_METRICS - 1),
	[KHOLMES_RULE_ENABLED] = NLA_POLICY_MAX(NLA_U8, 1),
	[KHOLMES_RULE_MIN] = NLA_POLICY_FULL_RANGE(NLA_U32, &khm_value_range),
	[KHOLMES_RULE_DIFF] = NLA_POLICY_FULL_RANGE(NLA_U32, &khm_diff_range),
	[KHOLMES_RULE_ABS] = NLA_POLICY_FULL_RANGE(NLA_U32, &khm_value_range),
	[KHOLMES_RULE_COOLDOWN] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &khm_cooldown_range),
};

static const struct nla_policy khm_watch_policy[KHOLMES_WATCH_MAX_ATTR + 1] = {
	[KHOLMES_WATCH_PID] = NLA_POLICY_FULL_RANGE(NLA_U32, &khm_pid_range),
	[KHOLMES_WATCH_COMM] = { .type = NLA_NUL_STRING,
				 .len = KHOLMES_COMM_LEN - 1 },
	[KHOLMES_WATCH_CGROUP] = { .type = NLA_NUL_STRING,
				   .len = KHOLMES_CGROUP_PATH_MAX - 1 },
};

/* Output-only attributes are absent: the strict parser rejects them. */
static const struct nla_policy khm_policy[KHOLMES_A_MAX + 1] = {
	[KHOLMES_A_CONFIG] = NLA_POLICY_NESTED(khm_cfg_policy),
	[KHOLMES_A_RULE] = NLA_POLICY_NESTED(khm_rule_policy),
	[KHOLMES_A_WATCH] = NLA_POLICY_NESTED(khm_watch_policy),
	[KHOLMES_A_PID] = NLA_POLICY_FULL_RANGE(NLA_U32, &khm_pid_range),
	[KHOLMES_A_CAPTURE_ID] = NLA_POLICY_FULL_RANGE(NLA_U64, &khm_id_range),
	[KHOLMES_A_PROFILE_KIND] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &khm_kind_range),
	[KHOLMES_A_PROFILE_S] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &khm_profile_s_range),
	[KHOLMES_A_PROFILE_HZ] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &khm_profile_hz_range),
	[KHOLMES_A_REPLACE_WATCH] = { .type = NLA_FLAG },
};

/*
 * Events name processes (pid, comm, values): only a listener with
 * CAP_NET_ADMIN may join, where the kernel checks it (see compat.h).
 */
static const struct genl_multicast_group khm_mcgrps[] = {
	{ .name = KHOLMES_MCGRP_EVENTS, .flags = COMPAT_MCGRP_CAP_NET_ADMIN },
};

static struct genl_family khm_family;

/* events that could not be multicast, from any context */
static atomic64_t khm_events_lost = ATOMIC64_INIT(0);

/*
 * Requests in flight hold khm_nl_gate for reading; khm_netlink_close()
 * takes it for writing to wait for them and closes the family to new
 * ones, so that the sampler, profiles and captures can be stopped while
 * the family stays registered for their last events.
 */
static DECLARE_RWSEM(khm_nl_gate);
static bool khm_nl_closed;

/*
 * A privileged process that talks to the module is kholmesctl (or acts for
 * it): it is never the target of an automatic capture. CAP_NET_ADMIN, as
 * every change needs, so that no unprivileged process can hide from the
 * rules this way; a privileged one could unload the module anyway.
 */
static int khm_pre_doit(const compat_genl_ops_t *ops, struct sk_buff *skb,
			struct genl_info *info)
{
	down_read(&khm_nl_gate);
	if (!khm_nl_closed) {
		if (netlink_capable(skb, CAP_NET_ADMIN))
			khm_self_mark();
		return 0;
	}
	up_read(&khm_nl_gate);
	NL_SET_ERR_MSG(info->extack, "kholmes is being unloaded");
	return -ESHUTDOWN;
}

static void khm_post_doit(const compat_genl_ops_t *ops, struct sk_buff *skb,
			  struct genl_info *info)
{
	up_read(&khm_nl_gate);
}

/*
 * Reading other processes' stacks, registers and kernel stacks, or
 * profiling them, needs what /proc/PID/stack needs (CAP_SYS_ADMIN in the
 * initial user namespace), or CAP_PERFMON with CAP_SYS_PTRACE there. As
 * GENL_ADMIN_PERM, both the socket's opener and the sender must hold it.
 */
static bool khm_may_read_stacks(const struct sk_buff *skb,
				struct netlink_ext_ack *extack)
{
	if (netlink_capable(skb, CAP_SYS_ADMIN) ||
	    (netlink_capable(skb, CAP_PERFMON) &&
	     netlink_capable(skb, CAP_SYS_PTRACE)))
		return true;
	NL_SET_ERR_MSG(extack,
		       "needs CAP_SYS_ADMIN, or CAP_PERFMON and CAP_SYS_PTRACE");
	return false;
}

static int khm_put_u64(struct sk_buff *skb, int type, u64 v, int pad)
{
	return nla_put_u64_64bit(skb, type, v, pad);
}

static int khm_put_config(struct sk_buff *skb)
{
	struct nlattr *nest = nla_nest_start(skb, KHOLMES_A_CONFIG);

	if (!nest ||
	    nla_put_u8(skb, KHOLMES_CFG_ENABLED, khm_cfg.enabled) ||
	    nla_put_u32(skb, KHOLMES_CFG_INTERVAL_MS, khm_cfg.interval_ms) ||
	    nla_put_u32(skb, KHOLMES_CFG_WINDOW, khm_cfg.window) ||
	    nla_put_u32(skb, KHOLMES_CFG_MAX_TRACKED, khm_cfg.max_tracked) ||
	    nla_put_u32(skb, KHOLMES_CFG_MAX_THREADS, khm_cfg.max_threads) ||
	    nla_put_u32(skb, KHOLMES_CFG_MAX_CAPTURES, khm_cfg.max_captures) ||
	    nla_put_u32(skb, KHOLMES_CFG_MAX_QUEUE_KB, khm_cfg.max_queue_kb) ||
	    nla_put_u32(skb, KHOLMES_CFG_USER_STACK_KB,
			khm_cfg.user_stack_kb) ||
	    nla_put_u32(skb, KHOLMES_CFG_CAPTURE_RATE, khm_cfg.capture_rate) ||
	    nla_put_u32(skb, KHOLMES_CFG_PROFILE_S, khm_cfg.profile_s) ||
	    nla_put_u32(skb, KHOLMES_CFG_PROFILE_HZ, khm_cfg.profile_hz) ||
	    nla_put_u32(skb, KHOLMES_CFG_FAULT_PERIOD, khm_cfg.fault_period) ||
	    nla_put_u32(skb, KHOLMES_CFG_CPU_MAX, khm_cfg.cpu_max) ||
	    nla_put_u8(skb, KHOLMES_CFG_PROFILES, khm_cfg.profiles) ||
	    nla_put_u8(skb, KHOLMES_CFG_KTHREADS, khm_cfg.kthreads) ||
	    nla_put_u32(skb, KHOLMES_CFG_FLIGHT_HZ, khm_cfg.flight_hz) ||
	    nla_put_u32(skb, KHOLMES_CFG_FLIGHT_S, khm_cfg.flight_s))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

static int khm_put_stats(struct sk_buff *skb)
{
	const struct khm_stats *s = &khm_stats;
	struct nlattr *nest = nla_nest_start(skb, KHOLMES_A_STATS);
	const int pad = KHOLMES_STAT_PAD;
	u64 mean = s->passes ? div64_u64(s->pass_total_ns, s->passes) : 0;
	struct khm_flight_stats fl;
	struct khm_queue_stats q;

	khm_queue_stats(&q);
	khm_flight_stats(&fl);
	if (!nest ||
	    khm_put_u64(skb, KHOLMES_STAT_PASSES, s->passes, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_TRACKED, khm_sampler_tracked(), pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_UNTRACKED, s->untracked, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_DETECTIONS, s->detections, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_SUPPRESSED, s->suppressed, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_PASS_LAST_NS, s->pass_last_ns, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_PASS_MEAN_NS, mean, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_PASS_MAX_NS, s->pass_max_ns, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_TASKS_VISITED, s->tasks_visited,
			pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_PROCS_VISITED, s->procs_visited,
			pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_MEM_BYTES, khm_mem_bytes(), pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_ALLOC_FAILS, khm_alloc_fails(), pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_EVENTS_LOST,
			atomic64_read(&khm_events_lost), pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_CAPTURES, q.captures, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_CAPTURES_DROPPED, q.dropped, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_CAPTURES_LIMITED, q.limited, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_CAPTURES_FAILED, q.failed, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_QUEUE_LEN, q.len, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_QUEUE_BYTES, q.bytes, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_CAPTURE_LAST_NS, q.last_ns, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_CAPTURE_MAX_NS, q.max_ns, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_PROFILES, s->profiles, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_PROFILES_SKIPPED, s->profiles_skipped,
			pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_SATURATED, s->saturated, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_HOST_CPU, s->host_cpu, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_PROFILE_SAMPLES, s->profile_samples,
			pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_PROFILE_NS, s->profile_ns, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_FLIGHT_BYTES, fl.bytes, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_FLIGHT_CPUS, fl.cpus, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_FLIGHT_SAMPLES, fl.samples, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_FLIGHT_DROPPED, fl.dropped, pad) ||
	    khm_put_u64(skb, KHOLMES_STAT_FLIGHT_NS, fl.ns, pad))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

static int khm_rule_fill(struct sk_buff *skb, int type, unsigned int metric,
			 const struct kholmes_rule_cfg *r)
{
	struct nlattr *nest = nla_nest_start(skb, type);

	if (!nest ||
	    nla_put_u32(skb, KHOLMES_RULE_METRIC, metric) ||
	    nla_put_u8(skb, KHOLMES_RULE_ENABLED, r->enabled) ||
	    nla_put_u32(skb, KHOLMES_RULE_MIN, r->min) ||
	    nla_put_u32(skb, KHOLMES_RULE_DIFF, r->diff) ||
	    nla_put_u32(skb, KHOLMES_RULE_ABS, r->abs) ||
	    nla_put_u32(skb, KHOLMES_RULE_COOLDOWN, r->cooldown_s))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

typedef int (*khm_fill_t)(struct sk_buff *skb, struct genl_info *info);

/* Build a reply under khm_lock with `fill` and send it. */
static int khm_reply(struct genl_info *info, u8 cmd, size_t size,
		     khm_fill_t fill)
{
	struct sk_buff *skb;
	void *hdr;
	int ret;

	skb = genlmsg_new(size, GFP_KERNEL);
	if (!skb)
		return -ENOMEM;
	hdr = genlmsg_put_reply(skb, info, &khm_family, 0, cmd);
	if (!hdr) {
		ret = -EMSGSIZE;
		goto err;
	}
	mutex_lock(&khm_lock);
	ret = fill(skb, info);
	mutex_unlock(&khm_lock);
	if (ret)
		goto err;
	genlmsg_end(skb, hdr);
	return genlmsg_reply(skb, info);
err:
	nlmsg_free(skb);
	return ret;
}

static int khm_fill_status(struct sk_buff *skb, struct genl_info *info)
{
	if (nla_put_string(skb, KHOLMES_A_VERSION, KHOLMES_VERSION) ||
	    nla_put_string(skb, KHOLMES_A_KRELEASE, init_utsname()->release))
		return -EMSGSIZE;
	return khm_put_config(skb) ?: khm_put_stats(skb);
}

static int khm_fill_config(struct sk_buff *skb, struct genl_info *info)
{
	return khm_put_config(skb);
}

static int khm_fill_rules(struct sk_buff *skb, struct genl_info *info)
{
	unsigned int m;
	int ret;

	for (m = 0; m < KHOLMES_NR_METRICS; m++) {
		ret = khm_rule_fill(skb, KHOLMES_A_RULE, m, &khm_rules[m]);
		if (ret)
			return ret;
	}
	return 0;
}

static int khm_get_status(struct sk_buff *skb, struct genl_info *info)
{
	return khm_reply(info, KHOLMES_CMD_GET_STATUS, NLMSG_DEFAULT_SIZE,
			 khm_fill_status);
}

static int khm_get_config(struct sk_buff *skb, struct genl_info *info)
{
	return khm_reply(info, KHOLMES_CMD_GET_CONFIG, NLMSG_DEFAULT_SIZE,
			 khm_fill_config);
}

static int khm_get_rules(struct sk_buff *skb, struct genl_info *info)
{
	return khm_reply(info, KHOLMES_CMD_GET_RULES, NLMSG_DEFAULT_SIZE,
			 khm_fill_rules);
}

/*
 * The scope can hold KHOLMES_WATCH_MAX paths of KHOLMES_CGROUP_PATH_MAX
 * bytes: the reply is sized for what it holds, under the lock that keeps
 * it so until it is filled.
 */
static int khm_get_watch(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;
	int ret;

	mutex_lock(&khm_lock);
	msg = genlmsg_new(khm_watch_size(), GFP_KERNEL);
	if (!msg) {
		mutex_unlock(&khm_lock);
		return -ENOMEM;
	}
	hdr = genlmsg_put_reply(msg, info, &khm_family, 0,
				KHOLMES_CMD_GET_WATCH);
	ret = hdr ? khm_watch_put(msg, info) : -EMSGSIZE;
	mutex_unlock(&khm_lock);
	if (ret) {
		nlmsg_free(msg);
		return ret;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static int khm_nested(struct genl_info *info, int type,
		      const struct nla_policy *policy, int max,
		      struct nlattr **tb)
{
	struct nlattr *nest = info->attrs[type];

	if (!nest) {
		NL_SET_ERR_MSG(info->extack, "request lacks its attribute nest");
		return -EINVAL;
	}
	return nla_parse_nested(tb, max, nest, policy, info->extack);
}

/*
 * Called with khm_lock held, before khm_config_apply(): the flight
 * recorder's rings are the one part of the configuration that can fail
 * (memory, perf), so it changes first and a refusal changes nothing else.
 */
static int khm_config_flight(struct nlattr **tb, struct netlink_ext_ack *extack)
{
	u32 hz = khm_cfg.flight_hz, s = khm_cfg.flight_s;

	if (tb[KHOLMES_CFG_FLIGHT_HZ])
		hz = nla_get_u32(tb[KHOLMES_CFG_FLIGHT_HZ]);
	if (tb[KHOLMES_CFG_FLIGHT_S])
		s = nla_get_u32(tb[KHOLMES_CFG_FLIGHT_S]);
	return khm_flight_set(hz, s, extack);
}

/* Called with khm_lock held; tb has passed khm_cfg_policy. */
static void khm_config_apply(struct nlattr **tb)
{
	struct khm_config c = khm_cfg, old = khm_cfg;

	if (tb[KHOLMES_CFG_ENABLED])
		c.enabled = nla_get_u8(tb[KHOLMES_CFG_ENABLED]);
	if (tb[KHOLMES_CFG_INTERVAL_MS])
		c.interval_ms = nla_get_u32(tb[KHOLMES_CFG_INTERVAL_MS]);
	if (tb[KHOLMES_CFG_WINDOW])
		c.window = nla_get_u32(tb[KHOLMES_CFG_WINDOW]);
	if (tb[KHOLMES_CFG_MAX_TRACKED])
		c.max_tracked = nla_get_u32(tb[KHOLMES_CFG_MAX_TRACKED]);
	if (tb[KHOLMES_CFG_MAX_THREADS])
		c.max_threads = nla_get_u32(tb[KHOLMES_CFG_MAX_THREADS]);
	if (tb[KHOLMES_CFG_MAX_CAPTURES])
		c.max_captures = nla_get_u32(tb[KHOLMES_CFG_MAX_CAPTURES]);
	if (tb[KHOLMES_CFG_MAX_QUEUE_KB])
		c.max_queue_kb = nla_get_u32(tb[KHOLMES_CFG_MAX_QUEUE_KB]);
	if (tb[KHOLMES_CFG_USER_STACK_KB])
		c.user_stack_kb = nla_get_u32(tb[KHOLMES_CFG_USER_STACK_KB]);
	if (tb[KHOLMES_CFG_CAPTURE_RATE])
		c.capture_rate = nla_get_u32(tb[KHOLMES_CFG_CAPTURE_RATE]);
	if (tb[KHOLMES_CFG_PROFILE_S])
		c.profile_s = nla_get_u32(tb[KHOLMES_CFG_PROFILE_S]);
	if (tb[KHOLMES_CFG_PROFILE_HZ])
		c.profile_hz = nla_get_u32(tb[KHOLMES_CFG_PROFILE_HZ]);
	if (tb[KHOLMES_CFG_FAULT_PERIOD])
		c.fault_period = nla_get_u32(tb[KHOLMES_CFG_FAULT_PERIOD]);
	if (tb[KHOLMES_CFG_CPU_MAX])
		c.cpu_max = nla_get_u32(tb[KHOLMES_CFG_CPU_MAX]);
	if (tb[KHOLMES_CFG_PROFILES])
		c.profiles = nla_get_u8(tb[KHOLMES_CFG_PROFILES]);
	if (tb[KHOLMES_CFG_KTHREADS])
		c.kthreads = nla_get_u8(tb[KHOLMES_CFG_KTHREADS]);

	khm_cfg = c;
	/* histories sized or bounded by the old values start over */
	if (c.window != old.window || c.max_tracked != old.max_tracked ||
	    c.enabled != old.enabled)
		khm_sampler_reset();
	if (c.enabled && (!old.enabled || c.interval_ms != old.interval_ms))
		khm_sampler_kick();
}

static int khm_set_config(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *tb[KHOLMES_CFG_MAX + 1];
	int ret;

	ret = khm_nested(info, KHOLMES_A_CONFIG, khm_cfg_policy,
			 KHOLMES_CFG_MAX, tb);
	if (ret)
		return ret;
	mutex_lock(&khm_lock);
	ret = khm_config_flight(tb, info->extack);
	if (!ret)
		khm_config_apply(tb);
	mutex_unlock(&khm_lock);
	return ret;
}

/* Parse one KHOLMES_A_RULE nest: it must name its metric. */
static int khm_rule_parse(struct nlattr *nest, struct nlattr **tb,
			  struct netlink_ext_ack *extack)
{
	int ret;

	ret = nla_parse_nested(tb, KHOLMES_RULE_MAX, nest, khm_rule_policy,
			       extack);
	if (ret)
		return ret;
	if (!tb[KHOLMES_RULE_METRIC]) {
		NL_SET_ERR_MSG_ATTR(extack, nest, "rule needs a metric");
		return -EINVAL;
	}
	return 0;
}

/* Called with khm_lock held; tb has passed khm_rule_parse(). */
static void khm_rule_apply(struct nlattr **tb)
{
	struct kholmes_rule_cfg *r;

	r = &khm_rules[nla_get_u32(tb[KHOLMES_RULE_METRIC])];
	khm_rules_gen++;
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

static int khm_set_rule(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *tb[KHOLMES_RULE_MAX + 1];
	int ret;

	if (!info->attrs[KHOLMES_A_RULE]) {
		NL_SET_ERR_MSG(info->extack, "request lacks its attribute nest");
		return -EINVAL;
	}
	ret = khm_rule_parse(info->attrs[KHOLMES_A_RULE], tb, info->extack);
	if (ret)
		return ret;
	mutex_lock(&khm_lock);
	khm_rule_apply(tb);
	mutex_unlock(&khm_lock);
	return 0;
}

/*
 * Configuration, rules and watch scope in one request, all or nothing:
 * every nest is parsed, every cgroup resolved and every pid checked
 * before anything changes; then all of it is applied under one lock.
 */
static int khm_apply(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *watch[KHOLMES_WATCH_MAX_ATTR + 1];
	struct nlattr *cfg[KHOLMES_CFG_MAX + 1] = {};
	struct nlattr *(*rules)[KHOLMES_RULE_MAX + 1] = NULL;
	bool replace = info->attrs[KHOLMES_A_REPLACE_WATCH];
	struct khm_watch_set *ws = NULL;
	unsigned int nrules = 0, i;
	struct nlattr *attr;
	int rem, ret = 0;

	rules = khm_alloc(sizeof(*rules) * KHOLMES_NR_METRICS);
	if (replace)
		ws = khm_watch_set_new();
	if (!rules || (replace && !ws)) {
		ret = -ENOMEM;
		goto out;
	}
	nlmsg_for_each_attr(attr, info->nlhdr, GENL_HDRLEN, rem) {
		switch (nla_type(attr)) {
		case KHOLMES_A_CONFIG:
			ret = nla_parse_nested(cfg, KHOLMES_CFG_MAX, attr,
					       khm_cfg_policy, info->extack);
			break;
		case KHOLMES_A_RULE:
			if (nrules == KHOLMES_NR_METRICS) {
				NL_SET_ERR_MSG_ATTR(info->extack, attr,
						    "more rules than metrics");
				ret = -E2BIG;
				break;
			}
			ret = khm_rule_parse(attr, rules[nrules++],
					     info->extack);
			break;
		case KHOLMES_A_WATCH:
			if (!replace) {
				NL_SET_ERR_MSG_ATTR(info->extack, attr,
						    "watch entries need KHOLMES_A_REPLACE_WATCH");
				ret = -EINVAL;
				break;
			}
			ret = nla_parse_nested(watch, KHOLMES_WATCH_MAX_ATTR,
					       attr, khm_watch_policy,
					       info->extack) ?:
			      khm_watch_set_add(ws, watch, info->extack);
			break;
		default:
			break;
		}
		if (ret)
			goto out;
	}

	mutex_lock(&khm_lock);
	ret = khm_config_flight(cfg, info->extack);
	if (!ret) {
		khm_config_apply(cfg);
		for (i = 0; i < nrules; i++)
			khm_rule_apply(rules[i]);
		if (replace)
			khm_watch_set_swap(ws);
	}
	mutex_unlock(&khm_lock);
out:
	khm_watch_set_free(ws);
	khm_free(rules, sizeof(*rules) * KHOLMES_NR_METRICS);
	return ret;
}

static int khm_change_watch(struct genl_info *info, bool add)
{
	struct nlattr *tb[KHOLMES_WATCH_MAX_ATTR + 1];
	int ret;

	ret = khm_nested(info, KHOLMES_A_WATCH, khm_watch_policy,
			 KHOLMES_WATCH_MAX_ATTR, tb);
	if (ret)
		return ret;
	mutex_lock(&khm_lock);
	ret = add ? khm_watch_add(tb, info->extack) :
		    khm_watch_del(tb, info->extack);
	mutex_unlock(&khm_lock);
	return ret;
}

static int khm_add_watch(struct sk_buff *skb, struct genl_info *info)
{
	return khm_change_watch(info, true);
}

static int khm_del_watch(struct sk_buff *skb, struct genl_info *info)
{
	return khm_change_watch(info, false);
}

static int khm_clear_watch(struct sk_buff *skb, struct genl_info *info)
{
	mutex_lock(&khm_lock);
	khm_watch_clear();
	mutex_unlock(&khm_lock);
	return 0;
}

static int khm_put_metrics(struct sk_buff *skb, int type,
			   const struct khm_proc *pr, bool avg)
{
	struct nlattr *nest = nla_nest_start(skb, type);
	unsigned int m;
	u64 v;

	if (!nest)
		return -EMSGSIZE;
	for (m = 0; m < KHOLMES_NR_METRICS; m++) {
		if (!(pr->have & BIT(m)))
			continue;
		v = avg ? khr_window_avg(&pr->win[m]) : pr->value[m];
		if (khm_put_u64(skb, KHOLMES_METRIC_ATTR(m), v,
				KHOLMES_METRIC_ATTR_PAD))
			return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int khm_put_proc(struct sk_buff *skb, struct netlink_callback *cb,
			const struct khm_proc *pr, pid_t nr)
{
	struct nlattr *nest;
	void *hdr;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &khm_family, NLM_F_MULTI, KHOLMES_CMD_GET_PROCS);
	if (!hdr)
		return -EMSGSIZE;
	nest = nla_nest_start(skb, KHOLMES_A_PROC);
	if (!nest ||
	    nla_put_u32(skb, KHOLMES_PROC_PID, nr) ||
	    nla_put_string(skb, KHOLMES_PROC_COMM, pr->comm) ||
	    khm_put_u64(skb, KHOLMES_PROC_START_NS, pr->start_ns,
			KHOLMES_PROC_PAD) ||
	    (pr->kthread && nla_put_flag(skb, KHOLMES_PROC_KTHREAD)) ||
	    nla_put_u32(skb, KHOLMES_PROC_SAMPLES, pr->win[0].count) ||
	    khm_put_metrics(skb, KHOLMES_PROC_VALUES, pr, false) ||
	    khm_put_metrics(skb, KHOLMES_PROC_AVGS, pr, true)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	genlmsg_end(skb, hdr);
	return 0;
}

/*
 * Who reads a process list: the socket's opener and the process that asks
 * (or reads on) it. As GENL_ADMIN_PERM, both count: a privileged program
 * that writes a request on a socket it was handed must not show its view
 * to the socket's owner, who reads the reply.
 */
struct khm_reader {
	struct pid_namespace *ns;
	const struct file *file;	/* the opener's, for its credentials */
	bool all;			/* may read stacks: sees every process */
};

/* Whether both the opener and the sender hold cap, auditing no refusal. */
static bool khm_capable_quiet(const struct file *file, int cap)
{
	return file_ns_capable(file, &init_user_ns, cap) &&
	       ns_capable_noaudit(&init_user_ns, cap);
}

/* CAP_SYS_PTRACE over ns: the opener's (file) or the sender's (NULL). */
static bool khm_ptrace_cap(const struct file *file, struct user_namespace *ns)
{
	return file ? file_ns_capable(file, ns, CAP_SYS_PTRACE) :
		      ns_capable_noaudit(ns, CAP_SYS_PTRACE);
}

/*
 * Whether the opener (file) or the sender (NULL) may see task as a /proc
 * mounted hidepid=invisible lets it: __ptrace_may_access() in
 * PTRACE_MODE_READ_FSCREDS, which modules cannot call, without the LSM
 * hook it ends with (not exported either). The same fs uid and gid as all
 * of the task's, or CAP_SYS_PTRACE over its user namespace; then a
 * dumpable mm, or CAP_SYS_PTRACE over the mm's user namespace. Called
 * under rcu_read_lock() and task_lock(task), as ptrace_may_access() is.
 */
static bool khm_cred_sees(const struct file *file, struct task_struct *task)
{
	const struct cred *cred = file ? file->f_cred : current_cred();
	const struct cred *tcred = __task_cred(task);
	struct mm_struct *mm = task->mm;

	if (!file && same_thread_group(task, current))
		return true;
	if (!(uid_eq(cred->fsuid, tcred->euid) &&
	      uid_eq(cred->fsuid, tcred->suid) &&
	      uid_eq(cred->fsuid, tcred->uid) &&
	      gid_eq(cred->fsgid, tcred->egid) &&
	      gid_eq(cred->fsgid, tcred->sgid) &&
	      gid_eq(cred->fsgid, tcred->gid)) &&
	    !khm_ptrace_cap(file, tcred->user_ns))
		return false;
	return !mm || get_dumpable(mm) == SUID_DUMP_USER ||
	       khm_ptrace_cap(file, mm->user_ns);
}

static void khm_reader_init(struct khm_reader *rd, const struct sk_buff *skb)
{
	rd->ns = task_active_pid_ns(current);
	rd->file = NETLINK_CB(skb).sk->sk_socket->file;
	rd->all = khm_capable_quiet(rd->file, CAP_SYS_ADMIN) ||
		  (khm_capable_quiet(rd->file, CAP_PERFMON) &&
		   khm_capable_quiet(rd->file, CAP_SYS_PTRACE));
}

/*
 * The pid of tracked process pr as the reader sees it, 0 when it does not
 * see it: a process outside its pid namespace, or one that its /proc
 * mounted hidepid=invisible would not show it (unless it may read stacks).
 * The same pid number now naming another process, or none, is not seen.
 */
static pid_t khm_proc_nr(const struct khm_proc *pr,
			 const struct khm_reader *rd)
{
	struct task_struct *task;
	struct pid *pid;
	pid_t nr = 0;

	if (!rd->ns)
		return 0;
	if (rd->ns == &init_pid_ns && rd->all)
		return pr->tgid;
	rcu_read_lock();
	pid = find_pid_ns(pr->tgid, &init_pid_ns);
	task = pid ? pid_task(pid, PIDTYPE_TGID) : NULL;
	if (task && task->start_boottime == pr->start_ns)
		nr = pid_nr_ns(pid, rd->ns);
	if (nr && !rd->all) {
		task_lock(task);
		if (!khm_cred_sees(NULL, task) ||
		    !khm_cred_sees(rd->file, task))
			nr = 0;
		task_unlock(task);
	}
	rcu_read_unlock();
	return nr;
}

/*
 * cb->args[0] holds the next tgid to send: a resumed dump starts after the
 * last process it sent, whatever came and went in between. A reader in a
 * pid namespace below the initial one sees the processes of its namespace
 * only, under their pids there, as its /proc does; a reader that may not
 * read stacks sees only the processes it could ptrace-read, as a /proc
 * mounted hidepid=invisible shows them. Each part of the dump asks anew,
 * as whoever reads it.
 */
static int khm_dump_procs(struct sk_buff *skb, struct netlink_callback *cb)
{
	unsigned long tgid = cb->args[0];
	struct khm_reader rd;
	struct khm_proc *pr;
	int sent = 0;
	pid_t nr;

	khm_reader_init(&rd, cb->skb);
	mutex_lock(&khm_lock);
	while ((pr = khm_proc_next(&tgid))) {
		nr = khm_proc_nr(pr, &rd);
		if (nr && khm_put_proc(skb, cb, pr, nr))
			break;
		sent += !!nr;
		tgid++;
	}
	mutex_unlock(&khm_lock);
	cb->args[0] = tgid;
	return sent ? skb->len : 0;
}

/* Multicast an event; consumes skb. */
static void khm_multicast(struct sk_buff *skb)
{
	int ret = genlmsg_multicast(&khm_family, skb, 0, 0, GFP_KERNEL);

	/* -ESRCH: the last listener left meanwhile; nothing was lost */
	if (ret && ret != -ESRCH)
		atomic64_inc(&khm_events_lost);
}

void khm_notify_detection(const char *comm, pid_t pid, u64 start_ns,
			  u64 time_ns, unsigned int metric, u64 value, u64 avg,
			  const struct kholmes_rule_cfg *rule)
{
	struct nlattr *nest;
	struct sk_buff *skb;
	void *hdr;

	if (!genl_has_listeners(&khm_family, &init_net, 0))
		return;
	skb = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!skb)
		goto lost;
	hdr = genlmsg_put(skb, 0, 0, &khm_family, 0, KHOLMES_CMD_DETECTION);
	if (!hdr)
		goto free;
	nest = nla_nest_start(skb, KHOLMES_A_EVENT);
	if (!nest ||
	    nla_put_u32(skb, KHOLMES_EVENT_PID, pid) ||
	    nla_put_string(skb, KHOLMES_EVENT_COMM, comm) ||
	    khm_put_u64(skb, KHOLMES_EVENT_START_NS, start_ns,
			KHOLMES_EVENT_PAD) ||
	    khm_put_u64(skb, KHOLMES_EVENT_TIME_NS, time_ns,
			KHOLMES_EVENT_PAD) ||
	    nla_put_u32(skb, KHOLMES_EVENT_METRIC, metric) ||
	    khm_put_u64(skb, KHOLMES_EVENT_VALUE, value, KHOLMES_EVENT_PAD) ||
	    khm_put_u64(skb, KHOLMES_EVENT_AVG, avg, KHOLMES_EVENT_PAD) ||
	    khm_rule_fill(skb, KHOLMES_EVENT_RULE, metric, rule))
		goto free;
	nla_nest_end(skb, nest);
	genlmsg_end(skb, hdr);
	khm_multicast(skb);
	return;
free:
	nlmsg_free(skb);
lost:
	atomic64_inc(&khm_events_lost);
}

static int khm_capture(struct sk_buff *skb, struct genl_info *info)
{
	struct khm_trigger trig = { .manual = true };
	struct nlattr *attr = info->attrs[KHOLMES_A_PID];
	struct task_struct *task;
	struct sk_buff *msg;
	struct pid *pid;
	void *hdr;
	u64 id;
	int ret;

	if (!khm_may_read_stacks(skb, info->extack))
		return -EPERM;
	if (!attr) {
		NL_SET_ERR_MSG(info->extack, "capture needs a pid");
		return -EINVAL;
	}
	pid = find_get_pid(nla_get_u32(attr));
	task = pid ? get_pid_task(pid, PIDTYPE_TGID) : NULL;
	if (!task) {
		put_pid(pid);
		NL_SET_ERR_MSG_ATTR(info->extack, attr, "no process with that pid");
		return -ESRCH;
	}
	put_task_struct(task);

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg) {
		put_pid(pid);
		return -ENOMEM;
	}
	ret = khm_capture_request(pid, 0, &trig, &id);
	put_pid(pid);
	if (ret) {
		nlmsg_free(msg);
		NL_SET_ERR_MSG(info->extack,
			       "too many captures pending, try again");
		return ret;
	}
	hdr = genlmsg_put_reply(msg, info, &khm_family, 0, KHOLMES_CMD_CAPTURE);
	if (!hdr || khm_put_u64(msg, KHOLMES_A_CAPTURE_ID, id, KHOLMES_A_PAD)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static int khm_profile(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *attr = info->attrs[KHOLMES_A_PID];
	struct khm_trigger trig = { .manual = true };
	struct sk_buff *msg;
	u32 kind, seconds, hz;
	struct pid *pid;
	void *hdr;
	u64 id;
	int ret;

	if (!khm_may_read_stacks(skb, info->extack))
		return -EPERM;
	if (!attr || !info->attrs[KHOLMES_A_PROFILE_KIND]) {
		NL_SET_ERR_MSG(info->extack, "profile needs a pid and a kind");
		return -EINVAL;
	}
	kind = nla_get_u32(info->attrs[KHOLMES_A_PROFILE_KIND]);
	pid = find_get_pid(nla_get_u32(attr));
	if (!pid) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr, "no process with that pid");
		return -ESRCH;
	}
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg) {
		put_pid(pid);
		return -ENOMEM;
	}
	mutex_lock(&khm_lock);
	seconds = info->attrs[KHOLMES_A_PROFILE_S] ?
		  nla_get_u32(info->attrs[KHOLMES_A_PROFILE_S]) :
		  khm_cfg.profile_s;
	hz = info->attrs[KHOLMES_A_PROFILE_HZ] ?
	     nla_get_u32(info->attrs[KHOLMES_A_PROFILE_HZ]) :
	     khm_cfg.profile_hz;
	ret = khm_profile_start(pid, kind, seconds, hz, &trig, 0, &id,
				info->extack);
	mutex_unlock(&khm_lock);
	put_pid(pid);
	if (ret) {
		nlmsg_free(msg);
		return ret;
	}
	hdr = genlmsg_put_reply(msg, info, &khm_family, 0, KHOLMES_CMD_PROFILE);
	if (!hdr || khm_put_u64(msg, KHOLMES_A_CAPTURE_ID, id, KHOLMES_A_PAD)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

void khm_notify_profile(u64 id, pid_t pid, u64 profile_of, u32 kind)
{
	struct nlattr *nest;
	struct sk_buff *skb;
	void *hdr;

	if (!genl_has_listeners(&khm_family, &init_net, 0))
		return;
	skb = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!skb)
		goto lost;
	hdr = genlmsg_put(skb, 0, 0, &khm_family, 0,
			  KHOLMES_CMD_PROFILE_STARTED);
	nest = hdr ? nla_nest_start(skb, KHOLMES_A_CAPTURE) : NULL;
	if (!nest ||
	    khm_put_u64(skb, KHOLMES_CAPTURE_ID, id, KHOLMES_CAPTURE_PAD) ||
	    nla_put_u32(skb, KHOLMES_CAPTURE_PID, pid) ||
	    khm_put_u64(skb, KHOLMES_CAPTURE_PROFILE_OF, profile_of,
			KHOLMES_CAPTURE_PAD) ||
	    nla_put_u32(skb, KHOLMES_CAPTURE_PROFILE_KIND, kind)) {
		nlmsg_free(skb);
		goto lost;
	}
	nla_nest_end(skb, nest);
	genlmsg_end(skb, hdr);
	khm_multicast(skb);
	return;
lost:
	atomic64_inc(&khm_events_lost);
}

static int khm_ack_capture(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *attr = info->attrs[KHOLMES_A_CAPTURE_ID];
	int ret;

	if (!attr) {
		NL_SET_ERR_MSG(info->extack, "ack needs a capture id");
		return -EINVAL;
	}
	ret = khm_queue_ack(nla_get_u64(attr));
	if (ret)
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "no such capture queued (acknowledged or dropped)");
	return ret;
}

/* cb->args[0]: the push sequence number of the next summary to send */
static int khm_dump_captures(struct sk_buff *skb, struct netlink_callback *cb)
{
	u64 seq = cb->args[0];
	int sent = 0, ret;
	void *hdr;

	for (;;) {
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &khm_family, NLM_F_MULTI,
				  KHOLMES_CMD_LIST_CAPTURES);
		if (!hdr)
			break;
		ret = khm_queue_summary(&seq, skb);
		if (ret <= 0) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		sent++;
	}
	cb->args[0] = seq;
	return sent ? skb->len : 0;
}

/*
 * cb->args[0]: the capture id, cb->args[1]: the offset of the next record,
 * cb->args[2]: set once the request was parsed.
 */
static int khm_dump_capture(struct sk_buff *skb, struct netlink_callback *cb)
{
	size_t off = cb->args[1];
	struct nlattr *attr;
	void *hdr;
	int ret;

	if (!cb->args[2]) {
		/* the first call runs in the requester's context */
		if (!khm_may_read_stacks(cb->skb, cb->extack))
			return -EPERM;
		attr = compat_dump_attrs(cb)[KHOLMES_A_CAPTURE_ID];
		if (!attr) {
			NL_SET_ERR_MSG(cb->extack, "which capture: give its id");
			return -EINVAL;
		}
		cb->args[0] = nla_get_u64(attr);
		cb->args[2] = 1;
	}
	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &khm_family, NLM_F_MULTI, KHOLMES_CMD_GET_CAPTURE);
	if (!hdr)
		return -EMSGSIZE;
	ret = khm_queue_read(cb->args[0], &off, skb);
	if (ret <= 0) {
		genlmsg_cancel(skb, hdr);
		if (ret == -ENOENT)
			NL_SET_ERR_MSG(cb->extack,
				       "no such capture queued (acknowledged or dropped)");
		return ret;
	}
	genlmsg_end(skb, hdr);
	cb->args[1] = off;
	return skb->len;
}

/*
 * A CAPTURE_READY event for the capture whose summary is sum, built while
 * the caller still owns it: NULL when nobody listens or it could not be
 * built (counted as lost).
 */
struct sk_buff *khm_capture_event(const struct khm_rec *sum)
{
	struct sk_buff *skb;
	void *hdr;

	if (!genl_has_listeners(&khm_family, &init_net, 0))
		return NULL;
	skb = genlmsg_new(sum->len, GFP_KERNEL);
	if (!skb)
		goto lost;
	hdr = genlmsg_put(skb, 0, 0, &khm_family, 0,
			  KHOLMES_CMD_CAPTURE_READY);
	if (!hdr) {
		nlmsg_free(skb);
		goto lost;
	}
	skb_put_data(skb, sum->buf, sum->len);
	genlmsg_end(skb, hdr);
	return skb;
lost:
	atomic64_inc(&khm_events_lost);
	return NULL;
}

/* Send an event from khm_capture_event(); consumes it. */
void khm_event_send(struct sk_buff *skb)
{
	if (skb)
		khm_multicast(skb);
}

void khm_event_drop(struct sk_buff *skb)
{
	if (skb)
		nlmsg_free(skb);
}

static const struct genl_small_ops khm_ops[] = {
	{
		.cmd = KHOLMES_CMD_GET_STATUS,
		.doit = khm_get_status,
	},
	{
		.cmd = KHOLMES_CMD_GET_CONFIG,
		.doit = khm_get_config,
	},
	{
		.cmd = KHOLMES_CMD_SET_CONFIG,
		.doit = khm_set_config,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = KHOLMES_CMD_GET_RULES,
		.doit = khm_get_rules,
	},
	{
		.cmd = KHOLMES_CMD_SET_RULE,
		.doit = khm_set_rule,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = KHOLMES_CMD_GET_WATCH,
		.doit = khm_get_watch,
	},
	{
		.cmd = KHOLMES_CMD_ADD_WATCH,
		.doit = khm_add_watch,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = KHOLMES_CMD_DEL_WATCH,
		.doit = khm_del_watch,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = KHOLMES_CMD_CLEAR_WATCH,
		.doit = khm_clear_watch,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = KHOLMES_CMD_GET_PROCS,
		.dumpit = khm_dump_procs,
	},
	{
		.cmd = KHOLMES_CMD_CAPTURE,
		.doit = khm_capture,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = KHOLMES_CMD_LIST_CAPTURES,
		.dumpit = khm_dump_captures,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = KHOLMES_CMD_GET_CAPTURE,
		.dumpit = khm_dump_capture,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = KHOLMES_CMD_PROFILE,
		.doit = khm_profile,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = KHOLMES_CMD_APPLY,
		.doit = khm_apply,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = KHOLMES_CMD_ACK_CAPTURE,
		.doit = khm_ack_capture,
		.flags = GENL_ADMIN_PERM,
	},
};

static struct genl_family khm_family __ro_after_init = {
	.name = KHOLMES_GENL_NAME,
	.version = KHOLMES_GENL_VERSION,
	.maxattr = KHOLMES_A_MAX,
	.policy = khm_policy,
	.netnsok = false,
	/* captures take time: never hold genl_mutex, which all families share */
	.parallel_ops = true,
	.pre_doit = khm_pre_doit,
	.post_doit = khm_post_doit,
	.module = THIS_MODULE,
	.small_ops = khm_ops,
	.n_small_ops = ARRAY_SIZE(khm_ops),
	.mcgrps = khm_mcgrps,
	.n_mcgrps = ARRAY_SIZE(khm_mcgrps),
};

int __init khm_netlink_init(void)
{
	return genl_register_family(&khm_family);
}

/*
 * Wait for the requests in flight and refuse new ones; the family stays
 * registered until khm_netlink_uninit(), once every sender has stopped.
 * Dumps only read the queue and the tracked processes, which outlive it.
 */
void khm_netlink_close(void)
{
	down_write(&khm_nl_gate);
	khm_nl_closed = true;
	up_write(&khm_nl_gate);
}

void khm_netlink_uninit(void)
{
	genl_unregister_family(&khm_family);
}
