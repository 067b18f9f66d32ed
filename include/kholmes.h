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
 *	two parts are neither repeated nor lose their neighbours. Lists what
 *	a /proc mounted hidepid=invisible would show: the processes of the
 *	reader's pid namespace, under their pids there, and to a reader
 *	without CAP_SYS_ADMIN (or CAP_PERFMON and CAP_SYS_PTRACE) only those
 *	it could ptrace-read (see the README's Netlink section).
 *
 * KHOLMES_CMD_DETECTION: multicast on KHOLMES_MCGRP_EVENTS, never a
 *	request. One KHOLMES_A_EVENT nest per rule that fired.
 *
 * KHOLMES_CMD_CAPTURE: KHOLMES_A_PID. Queues a manual capture of that
 *	process (pid in the caller's pid namespace) and returns
 *	KHOLMES_A_CAPTURE_ID, the id the capture will have; it is taken
 *	asynchronously and announced by KHOLMES_CMD_CAPTURE_READY. Requires
 *	CAP_NET_ADMIN.
 *
 * KHOLMES_CMD_LIST_CAPTURES: dump. One message per queued capture, each
 *	with one KHOLMES_A_CAPTURE nest holding its summary (the members
 *	marked "summary" below). Requires CAP_NET_ADMIN.
 *
 * KHOLMES_CMD_GET_CAPTURE: dump, KHOLMES_A_CAPTURE_ID. The whole capture
 *	as a stream of records, each a top-level attribute, several per
 *	message, in this order: one KHOLMES_A_CAPTURE (everything about the
 *	process and the trigger), the process's file mappings
 *	(KHOLMES_A_MAPPING, by address), then per thread one KHOLMES_A_THREAD
 *	followed by its KHOLMES_A_KSTACK records (kernel frames, split into
 *	several records when long) and its KHOLMES_A_USTACK records (the copy
 *	of the top of its user stack, in chunks). No record exceeds
 *	KHOLMES_RECORD_MAX bytes. A capture acknowledged or dropped while it
 *	is being read ends the dump with -ENOENT. Requires CAP_NET_ADMIN.
 *
 * KHOLMES_CMD_ACK_CAPTURE: KHOLMES_A_CAPTURE_ID. The controller has the
 *	capture durably; the module forgets it. -ENOENT if it is not queued
 *	(acknowledged already, or dropped). Requires CAP_NET_ADMIN.
 *
 * KHOLMES_CMD_CAPTURE_READY: multicast on KHOLMES_MCGRP_EVENTS. One
 *	KHOLMES_A_CAPTURE nest with the new capture's summary.
 *
 * KHOLMES_CMD_APPLY: any of KHOLMES_A_CONFIG, KHOLMES_A_RULE (repeated,
 *	at most one per metric) and, with KHOLMES_A_REPLACE_WATCH, the whole
 *	watch scope as KHOLMES_A_WATCH entries (none: every process). All or
 *	nothing: everything is validated (ranges, cgroup paths, pids) before
 *	anything changes, then all is applied under one lock; a rejection's
 *	extack points at the offending attribute. What `kholmesctl apply`
 *	sends for a configuration file. Requires CAP_NET_ADMIN.
 *
 * KHOLMES_CMD_PROFILE: KHOLMES_A_PID, KHOLMES_A_PROFILE_KIND, and
 *	optionally KHOLMES_A_PROFILE_S and KHOLMES_A_PROFILE_HZ (defaults:
 *	the configuration's). Starts a profile of that process and returns
 *	KHOLMES_A_CAPTURE_ID, the id of the capture that will hold it when it
 *	ends. One profile runs at a time: -EBUSY while another does.
 *	Requires CAP_NET_ADMIN.
 *
 *	A profile's capture (KHOLMES_CAPTURE_F_PROFILE) streams, after its
 *	KHOLMES_A_CAPTURE record, one KHOLMES_A_PROFILE record, the
 *	process's mappings as at the end, then one KHOLMES_A_PSTACK record
 *	per distinct stack seen, with its count, then, for the samples that
 *	have one, a KHOLMES_A_PSAMPLE record and the copy of the top of the
 *	user stack in KHOLMES_A_PSAMPLE_STACK records (user-stack-kb per
 *	sample, at most KHOLMES_PROFILE_COPY_KB_MAX, within a share of
 *	max-queue-kb). After a detection of cpu
 *	(a cpu profile) or rss, rss-pct or majflt (a page-fault profile) the
 *	module starts one by itself, tied to the detection's capture by
 *	KHOLMES_CAPTURE_PROFILE_OF.
 *
 *	Flight recorder: every other capture streams, after its threads, the
 *	target's samples from the flight recorder's rings from before the
 *	detection: one KHOLMES_A_PROFILE record of kind
 *	KHOLMES_PROFILE_BEFORE (KHOLMES_PROFILE_DURATION_NS: the seconds the
 *	rings covered), then per sample one KHOLMES_A_PSTACK record (count
 *	1, KHOLMES_PSTACK_AGO_NS and KHOLMES_PSTACK_TID) and, with a stack
 *	copy, its KHOLMES_A_PSAMPLE and KHOLMES_A_PSAMPLE_STACK records. A
 *	rundelay capture then adds a KHOLMES_PROFILE_HOST record and the
 *	host's most sampled stacks of the same seconds (KHOLMES_PSTACK_PID,
 *	_COMM, kernel frames and counts).
 *
 * KHOLMES_CMD_PROFILE_STARTED: multicast on KHOLMES_MCGRP_EVENTS when a
 *	profile starts: one KHOLMES_A_CAPTURE summary nest (the id it will
 *	have, pid, comm, KHOLMES_CAPTURE_PROFILE_OF, KHOLMES_CAPTURE_PROFILE_KIND).
 *
 * Kernel addresses never leave the module: kernel frames travel as
 * symbol strings ("do_nanosleep+0x8a/0x1a0" or "func+0x1/0x2 [module]").
 * User addresses, user registers and user stack bytes are the target
 * process's own and travel raw, for the controller to unwind and
 * symbolize.
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
#define KHOLMES_MAX_THREADS_MIN		1
#define KHOLMES_MAX_THREADS_MAX		4096
#define KHOLMES_MAX_CAPTURES_MIN	1
#define KHOLMES_MAX_CAPTURES_MAX	4096
#define KHOLMES_MAX_QUEUE_KB_MIN	64
#define KHOLMES_MAX_QUEUE_KB_MAX	1048576
#define KHOLMES_USER_STACK_KB_MAX	64
#define KHOLMES_CAPTURE_RATE_MAX	600
#define KHOLMES_STACK_FRAMES		64
#define KHOLMES_RECORD_MAX		3072
#define KHOLMES_USTACK_CHUNK		2048
#define KHOLMES_BUILD_ID_MAX		20
#define KHOLMES_NR_UREGS		17
#define KHOLMES_PROFILE_S_MIN		1
#define KHOLMES_PROFILE_S_MAX		60
#define KHOLMES_PROFILE_HZ_MIN		1
#define KHOLMES_PROFILE_HZ_MAX		1000
#define KHOLMES_FAULT_PERIOD_MAX	1000000
#define KHOLMES_PROFILE_FRAMES		32
#define KHOLMES_PROFILE_COPY_KB_MAX	16
#define KHOLMES_TOP_CONSUMERS		10
#define KHOLMES_FLIGHT_HZ_MAX		100	/* 0: the flight recorder is off */
#define KHOLMES_FLIGHT_S_MIN		1
#define KHOLMES_FLIGHT_S_MAX		60
#define KHOLMES_FLIGHT_HOST_TOP		10	/* host stacks in a rundelay capture */

enum kholmes_profile_kind {
	KHOLMES_PROFILE_NONE,
	KHOLMES_PROFILE_CPU,		/* on-CPU samples, software cpu-clock */
	KHOLMES_PROFILE_FAULTS,		/* page faults, software page-faults */
	KHOLMES_PROFILE_BEFORE,		/* flight recorder: before the detection */
	KHOLMES_PROFILE_HOST,		/* flight recorder: the host, same seconds */
};

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
 * User registers in a thread record (KHOLMES_THREAD_UREGS): u64 each, in
 * the DWARF register numbering of x86-64, which is what libdw's unwinder
 * takes: rax rdx rcx rbx rsi rdi rbp rsp r8..r15, then rip as 16.
 */
enum kholmes_ureg {
	KHOLMES_UREG_AX, KHOLMES_UREG_DX, KHOLMES_UREG_CX, KHOLMES_UREG_BX,
	KHOLMES_UREG_SI, KHOLMES_UREG_DI, KHOLMES_UREG_BP, KHOLMES_UREG_SP,
	KHOLMES_UREG_R8, KHOLMES_UREG_R9, KHOLMES_UREG_R10, KHOLMES_UREG_R11,
	KHOLMES_UREG_R12, KHOLMES_UREG_R13, KHOLMES_UREG_R14, KHOLMES_UREG_R15,
	KHOLMES_UREG_IP,
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
	KHOLMES_CMD_CAPTURE,
	KHOLMES_CMD_LIST_CAPTURES,
	KHOLMES_CMD_GET_CAPTURE,
	KHOLMES_CMD_ACK_CAPTURE,
	KHOLMES_CMD_CAPTURE_READY,
	KHOLMES_CMD_PROFILE,
	KHOLMES_CMD_PROFILE_STARTED,
	KHOLMES_CMD_APPLY,
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
	KHOLMES_A_PID,			/* u32: capture request */
	KHOLMES_A_CAPTURE_ID,		/* u64 */
	KHOLMES_A_CAPTURE,		/* nest: enum kholmes_capture_attr */
	KHOLMES_A_MAPPING,		/* nest: enum kholmes_map_attr */
	KHOLMES_A_THREAD,		/* nest: enum kholmes_thread_attr */
	KHOLMES_A_KSTACK,		/* nest: enum kholmes_kstack_attr */
	KHOLMES_A_USTACK,		/* nest: enum kholmes_ustack_attr */
	KHOLMES_A_PROFILE_KIND,		/* u32: enum kholmes_profile_kind */
	KHOLMES_A_PROFILE_S,		/* u32: seconds */
	KHOLMES_A_PROFILE_HZ,		/* u32: samples a second (cpu) */
	KHOLMES_A_PROFILE,		/* nest: enum kholmes_profile_attr */
	KHOLMES_A_PSTACK,		/* nest: enum kholmes_pstack_attr */
	KHOLMES_A_CONSUMER,		/* nest: enum kholmes_consumer_attr */
	KHOLMES_A_REPLACE_WATCH,	/* flag: apply replaces the watch scope */
	KHOLMES_A_PSAMPLE,		/* nest: enum kholmes_psample_attr */
	KHOLMES_A_PSAMPLE_STACK,	/* nest: enum kholmes_ustack_attr */
	__KHOLMES_A_MAX
};

#define KHOLMES_A_MAX (__KHOLMES_A_MAX - 1)

enum kholmes_cfg_attr {
	KHOLMES_CFG_UNSPEC,
	KHOLMES_CFG_ENABLED,		/* u8: 0 or 1 */
	KHOLMES_CFG_INTERVAL_MS,	/* u32: KHOLMES_INTERVAL_MS_MIN.._MAX */
	KHOLMES_CFG_WINDOW,		/* u32: KHOLMES_WINDOW_MIN.._MAX */
	KHOLMES_CFG_MAX_TRACKED,	/* u32: KHOLMES_MAX_TRACKED_MIN.._MAX */
	KHOLMES_CFG_MAX_THREADS,	/* u32: threads per capture */
	KHOLMES_CFG_MAX_CAPTURES,	/* u32: captures queued at most */
	KHOLMES_CFG_MAX_QUEUE_KB,	/* u32: bytes queued at most, KiB */
	KHOLMES_CFG_USER_STACK_KB,	/* u32: user stack copied per thread */
	KHOLMES_CFG_CAPTURE_RATE,	/* u32: automatic captures a minute, 0 off */
	KHOLMES_CFG_PROFILE_S,		/* u32: KHOLMES_PROFILE_S_MIN.._MAX */
	KHOLMES_CFG_PROFILE_HZ,		/* u32: KHOLMES_PROFILE_HZ_MIN.._MAX */
	KHOLMES_CFG_FAULT_PERIOD,	/* u32: profile every Nth page fault */
	KHOLMES_CFG_CPU_MAX,		/* u32: percent of all CPUs, 0 off */
	KHOLMES_CFG_PROFILES,		/* u8: profile after detections */
	KHOLMES_CFG_KTHREADS,		/* u8: kernel threads may be captured */
	KHOLMES_CFG_FLIGHT_HZ,		/* u32: ..KHOLMES_FLIGHT_HZ_MAX, 0 off */
	KHOLMES_CFG_FLIGHT_S,		/* u32: KHOLMES_FLIGHT_S_MIN.._MAX */
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
	KHOLMES_STAT_CAPTURES,		/* u64: captures queued */
	KHOLMES_STAT_CAPTURES_DROPPED,	/* u64: oldest dropped, queue full */
	KHOLMES_STAT_CAPTURES_LIMITED,	/* u64: automatic ones over the rate */
	KHOLMES_STAT_CAPTURES_FAILED,	/* u64: process gone, no memory */
	KHOLMES_STAT_QUEUE_LEN,		/* u64: captures queued now */
	KHOLMES_STAT_QUEUE_BYTES,	/* u64: bytes queued now */
	KHOLMES_STAT_CAPTURE_LAST_NS,	/* u64: time the last capture took */
	KHOLMES_STAT_CAPTURE_MAX_NS,	/* u64 */
	KHOLMES_STAT_PROFILES,		/* u64: profiles completed */
	KHOLMES_STAT_PROFILES_SKIPPED,	/* u64: automatic ones, one was running */
	KHOLMES_STAT_SATURATED,		/* u64: automatic captures and profiles
					 * skipped at or above cpu-max
					 */
	KHOLMES_STAT_HOST_CPU,		/* u64: fixed point % of all CPUs, last pass */
	KHOLMES_STAT_PROFILE_SAMPLES,	/* u64: samples taken by profiles */
	KHOLMES_STAT_PROFILE_NS,	/* u64: ns spent in the sample handler */
	KHOLMES_STAT_FLIGHT_BYTES,	/* u64: flight recorder rings, all CPUs */
	KHOLMES_STAT_FLIGHT_CPUS,	/* u64: CPUs it samples */
	KHOLMES_STAT_FLIGHT_SAMPLES,	/* u64: samples it stored */
	KHOLMES_STAT_FLIGHT_DROPPED,	/* u64: samples overwritten while read */
	KHOLMES_STAT_FLIGHT_NS,		/* u64: ns spent in its handler */
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

/* KHOLMES_CAPTURE_FLAGS */
#define KHOLMES_CAPTURE_F_MANUAL	0x1 /* requested, not detected */
#define KHOLMES_CAPTURE_F_THREADS_TRUNC	0x2 /* more than max-threads */
#define KHOLMES_CAPTURE_F_EXITED	0x4 /* process exited meanwhile */
#define KHOLMES_CAPTURE_F_NO_MM		0x8 /* kernel thread: no user */
#define KHOLMES_CAPTURE_F_MAPS_TRUNC	0x10 /* too many mappings */
#define KHOLMES_CAPTURE_F_PROFILE	0x20 /* holds a profile */
#define KHOLMES_CAPTURE_F_MAPS_SKIPPED	0x40 /* mmap lock busy: no mappings */
#define KHOLMES_CAPTURE_F_BUDGET	0x80 /* time budget spent: threads left out */

/* summary: the members a list or an event carries */
enum kholmes_capture_attr {
	KHOLMES_CAPTURE_UNSPEC,
	KHOLMES_CAPTURE_PAD,
	KHOLMES_CAPTURE_ID,		/* u64, summary */
	KHOLMES_CAPTURE_TIME_NS,	/* u64: wall clock, ns since epoch, summary */
	KHOLMES_CAPTURE_BOOT_NS,	/* u64: boot-based ns, summary */
	KHOLMES_CAPTURE_FLAGS,		/* u32: KHOLMES_CAPTURE_F_*, summary */
	KHOLMES_CAPTURE_METRIC,		/* u32: trigger metric, summary (absent: manual) */
	KHOLMES_CAPTURE_VALUE,		/* u64: fixed point, summary */
	KHOLMES_CAPTURE_AVG,		/* u64: fixed point, summary */
	KHOLMES_CAPTURE_RULE,		/* nest: enum kholmes_rule_attr */
	KHOLMES_CAPTURE_PID,		/* u32, summary */
	KHOLMES_CAPTURE_COMM,		/* string, summary */
	KHOLMES_CAPTURE_EXE,		/* string: path of the executable */
	KHOLMES_CAPTURE_CGROUP,		/* string: cgroup v2 path */
	KHOLMES_CAPTURE_UID,		/* u32: real uid, initial namespace */
	KHOLMES_CAPTURE_START_NS,	/* u64: boot-based start time */
	KHOLMES_CAPTURE_VALUES,		/* nest: KHOLMES_METRIC_ATTR(m) u64 */
	KHOLMES_CAPTURE_AVGS,		/* nest: KHOLMES_METRIC_ATTR(m) u64 */
	KHOLMES_CAPTURE_NR_THREADS,	/* u32: threads the process had, summary */
	KHOLMES_CAPTURE_THREADS,	/* u32: threads captured, summary */
	KHOLMES_CAPTURE_BYTES,		/* u64: size of the record stream, summary */
	KHOLMES_CAPTURE_MAPPINGS,	/* u32: mapping records */
	KHOLMES_CAPTURE_DURATION_NS,	/* u64: time the capture took */
	KHOLMES_CAPTURE_PROFILE_OF,	/* u64: the capture this profile follows */
	KHOLMES_CAPTURE_PROFILE_KIND,	/* u32: enum kholmes_profile_kind, summary */
	KHOLMES_CAPTURE_RSS_FILE,	/* u64: bytes resident, file pages */
	KHOLMES_CAPTURE_RSS_ANON,	/* u64: bytes resident, anonymous pages */
	KHOLMES_CAPTURE_RSS_SHMEM,	/* u64: bytes resident, shared memory */
	__KHOLMES_CAPTURE_MAX
};

#define KHOLMES_CAPTURE_MAX (__KHOLMES_CAPTURE_MAX - 1)

/* KHOLMES_MAP_PROT */
#define KHOLMES_MAP_R			0x1
#define KHOLMES_MAP_W			0x2
#define KHOLMES_MAP_X			0x4
#define KHOLMES_MAP_SHARED		0x8

/* A file-backed mapping, or the [heap] / [stack] ones. */
enum kholmes_map_attr {
	KHOLMES_MAP_UNSPEC,
	KHOLMES_MAP_PAD,
	KHOLMES_MAP_START,		/* u64 */
	KHOLMES_MAP_END,		/* u64 */
	KHOLMES_MAP_PGOFF,		/* u64: file offset of START, bytes */
	KHOLMES_MAP_PROT,		/* u32: KHOLMES_MAP_* */
	KHOLMES_MAP_INODE,		/* u64 */
	KHOLMES_MAP_DEV,		/* u32: major << 20 | minor */
	KHOLMES_MAP_PATH,		/* string: path, "[heap]", "[stack]" */
	KHOLMES_MAP_BUILD_ID,		/* binary: GNU build-id, when readable */
	__KHOLMES_MAP_MAX
};

#define KHOLMES_MAP_MAX (__KHOLMES_MAP_MAX - 1)

/* KHOLMES_THREAD_FLAGS: what could not be captured, and why */
#define KHOLMES_THREAD_F_RUNNING	0x1 /* on a CPU: taken there by IPI */
#define KHOLMES_THREAD_F_KSTACK_NONE	0x2 /* kernel stack unavailable */
#define KHOLMES_THREAD_F_KSTACK_TRUNC	0x4 /* more than 64 frames */
#define KHOLMES_THREAD_F_USTACK_TRUNC	0x8 /* frame walk hit 64 frames */
#define KHOLMES_THREAD_F_USTACK_FAULT	0x10 /* frame walk hit unreadable memory */
#define KHOLMES_THREAD_F_NO_USER	0x20 /* kernel thread */
#define KHOLMES_THREAD_F_EXITED		0x40 /* exited mid-capture */
#define KHOLMES_THREAD_F_USTACK_PARTIAL	0x80 /* stack copy shorter than asked */
#define KHOLMES_THREAD_F_IN_USER	0x100 /* was running in user mode */

enum kholmes_thread_attr {
	KHOLMES_THREAD_UNSPEC,
	KHOLMES_THREAD_PAD,
	KHOLMES_THREAD_TID,		/* u32 */
	KHOLMES_THREAD_COMM,		/* string */
	KHOLMES_THREAD_STATE,		/* u8: 'R', 'S', 'D', ... as in ps */
	KHOLMES_THREAD_FLAGS,		/* u32: KHOLMES_THREAD_F_* */
	KHOLMES_THREAD_UFRAMES,		/* binary: u64 user pcs, frame-pointer walk, leaf first */
	KHOLMES_THREAD_UREGS,		/* binary: KHOLMES_NR_UREGS u64 */
	KHOLMES_THREAD_USTACK_SP,	/* u64: user address of the copy's first byte */
	KHOLMES_THREAD_USTACK_LEN,	/* u32: bytes copied, in KHOLMES_A_USTACK records */
	KHOLMES_THREAD_CPU,		/* u32: CPU it last ran on */
	__KHOLMES_THREAD_MAX
};

#define KHOLMES_THREAD_MAX (__KHOLMES_THREAD_MAX - 1)

/* Kernel frames of one thread, innermost first, continued over records. */
enum kholmes_kstack_attr {
	KHOLMES_KSTACK_UNSPEC,
	KHOLMES_KSTACK_TID,		/* u32 */
	KHOLMES_KSTACK_FIRST,		/* u32: index of the first frame here */
	KHOLMES_KSTACK_FRAME,		/* string, repeated: "func+0x8a/0x1a0" */
	__KHOLMES_KSTACK_MAX
};

#define KHOLMES_KSTACK_MAX (__KHOLMES_KSTACK_MAX - 1)

/* A chunk of a thread's user stack copy, in address order. */
enum kholmes_ustack_attr {
	KHOLMES_USTACK_UNSPEC,
	KHOLMES_USTACK_TID,		/* u32 */
	KHOLMES_USTACK_OFFSET,		/* u32: from KHOLMES_THREAD_USTACK_SP */
	KHOLMES_USTACK_DATA,		/* binary: at most KHOLMES_USTACK_CHUNK */
	__KHOLMES_USTACK_MAX
};

#define KHOLMES_USTACK_MAX (__KHOLMES_USTACK_MAX - 1)

/* KHOLMES_PROFILE_FLAGS */
#define KHOLMES_PROFILE_F_EXITED	0x1 /* target exited: ended early */
#define KHOLMES_PROFILE_F_UNLOADED	0x2 /* module unloading: ended early */
/*
 * The stack copies are a uniform random sample of the profile's samples
 * (a reservoir, when there were more samples than copies): the samples
 * without one may be given the whole stacks of their stack's copies.
 */
#define KHOLMES_PROFILE_F_COPIES_UNIFORM 0x4

enum kholmes_profile_attr {
	KHOLMES_PROFILE_UNSPEC,
	KHOLMES_PROFILE_PAD,
	KHOLMES_PROFILE_KIND,		/* u32: enum kholmes_profile_kind */
	KHOLMES_PROFILE_FLAGS,		/* u32: KHOLMES_PROFILE_F_* */
	KHOLMES_PROFILE_HZ,		/* u32: cpu profiles */
	KHOLMES_PROFILE_PERIOD,		/* u64: ns between cpu samples, or faults */
	KHOLMES_PROFILE_SECONDS,	/* u32: asked for */
	KHOLMES_PROFILE_DURATION_NS,	/* u64: ran for */
	KHOLMES_PROFILE_SAMPLES,	/* u64: samples of the target */
	KHOLMES_PROFILE_LOST,		/* u64: not stored, the table was full */
	KHOLMES_PROFILE_STACKS,		/* u32: distinct stacks */
	KHOLMES_PROFILE_START_RSS_ANON,	/* u64: bytes at the start */
	KHOLMES_PROFILE_START_RSS_FILE,	/* u64 */
	KHOLMES_PROFILE_START_VM,	/* u64: bytes mapped at the start */
	KHOLMES_PROFILE_COPY_BYTES,	/* u32: user stack copied per sample */
	KHOLMES_PROFILE_COPIES,		/* u64: KHOLMES_A_PSAMPLE records sent */
	KHOLMES_PROFILE_COPIES_LOST,	/* u64: samples whose copy was not kept */
	KHOLMES_PROFILE_END_RSS_ANON,	/* u64: bytes when sampling stopped */
	KHOLMES_PROFILE_END_RSS_FILE,	/* u64 */
	__KHOLMES_PROFILE_MAX
};

#define KHOLMES_PROFILE_MAX (__KHOLMES_PROFILE_MAX - 1)

/* One distinct stack of a profile, innermost frames first. */
enum kholmes_pstack_attr {
	KHOLMES_PSTACK_UNSPEC,
	KHOLMES_PSTACK_COUNT,		/* u32: samples with this stack */
	KHOLMES_PSTACK_UFRAMES,		/* binary: u64 user pcs, leaf first */
	KHOLMES_PSTACK_KFRAME,		/* string, repeated: kernel frames */
	KHOLMES_PSTACK_ID,		/* u32: named by KHOLMES_PSAMPLE_STACK */
	KHOLMES_PSTACK_PAD,
	KHOLMES_PSTACK_AGO_NS,		/* u64: flight sample, ns before detection */
	KHOLMES_PSTACK_TID,		/* u32: flight sample's thread */
	KHOLMES_PSTACK_PID,		/* u32: host stack's process */
	KHOLMES_PSTACK_COMM,		/* string: host stack's comm */
	__KHOLMES_PSTACK_MAX
};

#define KHOLMES_PSTACK_MAX (__KHOLMES_PSTACK_MAX - 1)

/*
 * One sample of a profile with a copy of its user stack, for the
 * controller to unwind with the binaries' CFI. It was also counted in
 * the stack KHOLMES_PSAMPLE_STACK (the KHOLMES_PSTACK_ID of a
 * KHOLMES_A_PSTACK record sent before it), whose user frames are the
 * frame-pointer walk. The bytes follow in KHOLMES_A_PSAMPLE_STACK
 * records (KHOLMES_USTACK_OFFSET and _DATA; no TID), in address order.
 */
enum kholmes_psample_attr {
	KHOLMES_PSAMPLE_UNSPEC,
	KHOLMES_PSAMPLE_PAD,
	KHOLMES_PSAMPLE_STACK,		/* u32: KHOLMES_PSTACK_ID it was counted in */
	KHOLMES_PSAMPLE_UREGS,		/* binary: KHOLMES_NR_UREGS u64 */
	KHOLMES_PSAMPLE_SP,		/* u64: user address of the copy's first byte */
	KHOLMES_PSAMPLE_LEN,		/* u32: bytes copied */
	__KHOLMES_PSAMPLE_MAX
};

#define KHOLMES_PSAMPLE_MAX (__KHOLMES_PSAMPLE_MAX - 1)

/* A top consumer of CPU in a rundelay capture: who took the CPU. */
enum kholmes_consumer_attr {
	KHOLMES_CONSUMER_UNSPEC,
	KHOLMES_CONSUMER_PAD,
	KHOLMES_CONSUMER_PID,		/* u32 */
	KHOLMES_CONSUMER_COMM,		/* string */
	KHOLMES_CONSUMER_CPU,		/* u64: fixed point percent of one CPU */
	KHOLMES_CONSUMER_CGROUP,	/* string */
	__KHOLMES_CONSUMER_MAX
};

#define KHOLMES_CONSUMER_MAX (__KHOLMES_CONSUMER_MAX - 1)

#endif /* _UAPI_KHOLMES_H */
