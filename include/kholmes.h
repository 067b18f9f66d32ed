/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * kholmes: spike detection and stack capture for every process of a host.
 *
 * This is the whole ABI between kholmes.ko and its controller. It is a
 * generic netlink family, KHOLMES_GENL_NAME, with one multicast group,
 * KHOLMES_MCGRP_EVENTS. Every command uses the top-level attribute set
 * enum kholmes_attr; nested sets are named after their nest.
 *
 * KHOLMES_CMD_GET_STATUS: (no attributes)
 *	Returns KHOLMES_A_VERSION, KHOLMES_A_KRELEASE, KHOLMES_A_CONFIG and
 *	KHOLMES_A_STATS (counters of the sampler and detector).
 *
 * KHOLMES_CMD_GET_CONFIG: (no attributes)
 *	Returns KHOLMES_A_CONFIG.
 *
 * KHOLMES_CMD_SET_CONFIG: KHOLMES_A_CONFIG with any subset of its members.
 *	Every member is validated before any is applied; a rejection carries
 *	an extack message and changes nothing. Requires CAP_NET_ADMIN.
 *
 * KHOLMES_CMD_GET_RULES: (no attributes)
 *	Returns one KHOLMES_A_RULE nest per metric, in metric order.
 *
 * KHOLMES_CMD_SET_RULE: KHOLMES_A_RULE with KHOLMES_RULE_METRIC and any
 *	subset of the other members; the rest keep their values. Requires
 *	CAP_NET_ADMIN.
 *
 * KHOLMES_CMD_GET_WATCH: (no attributes)
 *	Returns one KHOLMES_A_WATCH nest per scope entry; none means every
 *	process is watched.
 *
 * KHOLMES_CMD_ADD_WATCH, KHOLMES_CMD_DEL_WATCH: KHOLMES_A_WATCH holding
 *	exactly one of KHOLMES_WATCH_PID, KHOLMES_WATCH_COMM,
 *	KHOLMES_WATCH_CGROUP. A pid must exist, a cgroup path (cgroup v2,
 *	relative to its root, e.g. "/system.slice") must exist; the process
 *	or cgroup matched includes a cgroup's descendants. Requires
 *	CAP_NET_ADMIN.
 *
 * KHOLMES_CMD_CLEAR_WATCH: (no attributes) back to every process.
 *	Requires CAP_NET_ADMIN.
 *
 * KHOLMES_CMD_GET_PROCS: dump only. One message per tracked process, each
 *	with one KHOLMES_A_PROC nest, in ascending pid order; a dump resumes
 *	after the last pid it sent, so processes that come and go between
 *	two parts are neither repeated nor lose their neighbours.
 *
 * KHOLMES_CMD_DETECTION: multicast on KHOLMES_MCGRP_EVENTS, never a
 *	request. One KHOLMES_A_EVENT nest per rule that fired.
 *
 * Metric values travel as u64 fixed point: the metric's unit (see
 * enum kholmes_metric) times KHOLMES_VALUE_SCALE. Rule thresholds (min,
 * abs) travel in whole units.
 */
#ifndef _UAPI_KHOLMES_H
#define _UAPI_KHOLMES_H

#include <linux/types.h>

#define KHOLMES_GENL_NAME	"kholmes"
#define KHOLMES_GENL_VERSION	1
#define KHOLMES_MCGRP_EVENTS	"events"
#define KHOLMES_VERSION		"0.1.0"

#define KHOLMES_VALUE_SCALE	1000

/* Ranges the kernel enforces and the controller documents. */
#define KHOLMES_INTERVAL_MS_MIN		10
#define KHOLMES_INTERVAL_MS_MAX		60000
#define KHOLMES_WINDOW_MIN		2
#define KHOLMES_WINDOW_MAX		64
#define KHOLMES_MAX_TRACKED_MIN		1
#define KHOLMES_MAX_TRACKED_MAX		1048576
#define KHOLMES_RULE_VALUE_MAX		1000000000U
#define KHOLMES_RULE_DIFF_MAX		100000U
#define KHOLMES_RULE_COOLDOWN_MAX	604800U
#define KHOLMES_WATCH_MAX		64
#define KHOLMES_COMM_LEN		16
#define KHOLMES_CGROUP_PATH_MAX		4096
#define KHOLMES_PID_MAX			4194304

enum kholmes_metric {
	KHOLMES_METRIC_CPU,		/* percent of one CPU */
	KHOLMES_METRIC_RSS,		/* MiB resident */
	KHOLMES_METRIC_RSS_PCT,		/* percent of memory.max or RAM */
	KHOLMES_METRIC_THREADS,		/* count */
	KHOLMES_METRIC_CTXSW,		/* context switches per second */
	KHOLMES_METRIC_RUNDELAY,	/* ms runnable-but-waiting per second */
	KHOLMES_METRIC_MAJFLT,		/* major faults per second */
	KHOLMES_METRIC_DSTATE,		/* ms, longest uninterruptible sleep */
	KHOLMES_NR_METRICS
};

/*
 * Nests that carry one u64 per metric (KHOLMES_PROC_VALUES, _AVGS) use
 * the metric id plus one as attribute type, as type 0 is reserved, and
 * KHOLMES_METRIC_ATTR_PAD to align u64s on architectures that need it.
 */
#define KHOLMES_METRIC_ATTR(m)	((m) + 1)
#define KHOLMES_METRIC_ATTR_PAD	(KHOLMES_NR_METRICS + 1)
#define KHOLMES_METRIC_ATTR_MAX	KHOLMES_METRIC_ATTR_PAD

enum kholmes_cmd {
	KHOLMES_CMD_UNSPEC,
	KHOLMES_CMD_GET_STATUS,
	KHOLMES_CMD_GET_CONFIG,
	KHOLMES_CMD_SET_CONFIG,
	KHOLMES_CMD_GET_RULES,
	KHOLMES_CMD_SET_RULE,
	KHOLMES_CMD_GET_WATCH,
	KHOLMES_CMD_ADD_WATCH,
	KHOLMES_CMD_DEL_WATCH,
	KHOLMES_CMD_CLEAR_WATCH,
	KHOLMES_CMD_GET_PROCS,
	KHOLMES_CMD_DETECTION,
	__KHOLMES_CMD_MAX
};

#define KHOLMES_CMD_MAX (__KHOLMES_CMD_MAX - 1)

enum kholmes_attr {
	KHOLMES_A_UNSPEC,
	KHOLMES_A_PAD,
	KHOLMES_A_VERSION,		/* string */
	KHOLMES_A_KRELEASE,		/* string */
	KHOLMES_A_CONFIG,		/* nest: enum kholmes_cfg_attr */
	KHOLMES_A_STATS,		/* nest: enum kholmes_stat_attr */
	KHOLMES_A_RULE,			/* nest: enum kholmes_rule_attr */
	KHOLMES_A_WATCH,		/* nest: enum kholmes_watch_attr */
	KHOLMES_A_PROC,			/* nest: enum kholmes_proc_attr */
	KHOLMES_A_EVENT,		/* nest: enum kholmes_event_attr */
	__KHOLMES_A_MAX
};

#define KHOLMES_A_MAX (__KHOLMES_A_MAX - 1)

enum kholmes_cfg_attr {
	KHOLMES_CFG_UNSPEC,
	KHOLMES_CFG_ENABLED,		/* u8: 0 or 1 */
	KHOLMES_CFG_INTERVAL_MS,	/* u32: KHOLMES_INTERVAL_MS_MIN.._MAX */
	KHOLMES_CFG_WINDOW,		/* u32: KHOLMES_WINDOW_MIN.._MAX */
	KHOLMES_CFG_MAX_TRACKED,	/* u32: KHOLMES_MAX_TRACKED_MIN.._MAX */
	__KHOLMES_CFG_MAX
};

#define KHOLMES_CFG_MAX (__KHOLMES_CFG_MAX - 1)

enum kholmes_stat_attr {
	KHOLMES_STAT_UNSPEC,
	KHOLMES_STAT_PAD,
	KHOLMES_STAT_PASSES,		/* u64: sampling passes done */
	KHOLMES_STAT_TRACKED,		/* u64: processes tracked now */
	KHOLMES_STAT_UNTRACKED,		/* u64: new processes refused, max-tracked */
	KHOLMES_STAT_DETECTIONS,	/* u64: rules that fired */
	KHOLMES_STAT_SUPPRESSED,	/* u64: rules that would fire in cooldown */
	KHOLMES_STAT_PASS_LAST_NS,	/* u64 */
	KHOLMES_STAT_PASS_MEAN_NS,	/* u64 */
	KHOLMES_STAT_PASS_MAX_NS,	/* u64 */
	KHOLMES_STAT_TASKS_VISITED,	/* u64: threads visited by the last pass */
	KHOLMES_STAT_PROCS_VISITED,	/* u64: thread groups of the last pass */
	KHOLMES_STAT_MEM_BYTES,		/* u64: memory the module holds now */
	KHOLMES_STAT_ALLOC_FAILS,	/* u64: allocations that failed */
	KHOLMES_STAT_EVENTS_LOST,	/* u64: events not multicast */
	__KHOLMES_STAT_MAX
};

#define KHOLMES_STAT_MAX (__KHOLMES_STAT_MAX - 1)

enum kholmes_rule_attr {
	KHOLMES_RULE_UNSPEC,
	KHOLMES_RULE_METRIC,		/* u32: enum kholmes_metric */
	KHOLMES_RULE_ENABLED,		/* u8: 0 or 1 */
	KHOLMES_RULE_MIN,		/* u32: units, ..KHOLMES_RULE_VALUE_MAX */
	KHOLMES_RULE_DIFF,		/* u32: percent, ..KHOLMES_RULE_DIFF_MAX */
	KHOLMES_RULE_ABS,		/* u32: units, 0 = no ceiling */
	KHOLMES_RULE_COOLDOWN,		/* u32: seconds */
	__KHOLMES_RULE_MAX
};

#define KHOLMES_RULE_MAX (__KHOLMES_RULE_MAX - 1)

enum kholmes_watch_attr {
	KHOLMES_WATCH_UNSPEC,
	KHOLMES_WATCH_PID,		/* u32 */
	KHOLMES_WATCH_COMM,		/* string, at most 15 bytes */
	KHOLMES_WATCH_CGROUP,		/* string, cgroup v2 path */
	__KHOLMES_WATCH_MAX
};

#define KHOLMES_WATCH_MAX_ATTR (__KHOLMES_WATCH_MAX - 1)

enum kholmes_proc_attr {
	KHOLMES_PROC_UNSPEC,
	KHOLMES_PROC_PAD,
	KHOLMES_PROC_PID,		/* u32: tgid */
	KHOLMES_PROC_COMM,		/* string */
	KHOLMES_PROC_START_NS,		/* u64: start time, boot-based ns */
	KHOLMES_PROC_KTHREAD,		/* flag */
	KHOLMES_PROC_SAMPLES,		/* u32: samples in the window */
	KHOLMES_PROC_VALUES,		/* nest: KHOLMES_METRIC_ATTR(m) u64 */
	KHOLMES_PROC_AVGS,		/* nest: KHOLMES_METRIC_ATTR(m) u64 */
	__KHOLMES_PROC_MAX
};

#define KHOLMES_PROC_MAX (__KHOLMES_PROC_MAX - 1)

enum kholmes_event_attr {
	KHOLMES_EVENT_UNSPEC,
	KHOLMES_EVENT_PAD,
	KHOLMES_EVENT_PID,		/* u32 */
	KHOLMES_EVENT_COMM,		/* string */
	KHOLMES_EVENT_START_NS,		/* u64 */
	KHOLMES_EVENT_TIME_NS,		/* u64: boot-based ns of the sample */
	KHOLMES_EVENT_METRIC,		/* u32 */
	KHOLMES_EVENT_VALUE,		/* u64: fixed point */
	KHOLMES_EVENT_AVG,		/* u64: fixed point */
	KHOLMES_EVENT_RULE,		/* nest: enum kholmes_rule_attr */
	__KHOLMES_EVENT_MAX
};

#define KHOLMES_EVENT_MAX (__KHOLMES_EVENT_MAX - 1)

#endif /* _UAPI_KHOLMES_H */
