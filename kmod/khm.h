/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KHM_H
#define _KHM_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/types.h>

#include <kholmes.h>
#include <kholmes_rule.h>

struct genl_info;
struct pt_regs;
struct netlink_ext_ack;
struct task_struct;
struct sk_buff;
struct nlattr;
struct pid;

struct khm_config {
	bool enabled;
	u32 interval_ms;
	u32 window;
	u32 max_tracked;
	u32 max_threads;
	u32 max_captures;
	u32 max_queue_kb;
	u32 user_stack_kb;
	u32 capture_rate;
	u32 profile_s;
	u32 profile_hz;
	u32 fault_period;
	u32 cpu_max;
	bool profiles;
	bool kthreads;
	u32 flight_hz;		/* 0: the flight recorder is off */
	u32 flight_s;
};

struct khm_stats {
	u64 passes;
	u64 untracked;
	u64 detections;
	u64 suppressed;
	u64 pass_last_ns;
	u64 pass_total_ns;
	u64 pass_max_ns;
	u64 tasks_visited;
	u64 procs_visited;
	u64 profiles;
	u64 profiles_skipped;
	u64 saturated;
	u64 host_cpu;
	u64 profile_samples;
	u64 profile_ns;
};

/*
 * khm_lock serialises the configuration, the rules, the watch scope, the
 * tracked processes and the statistics: the sampler holds it for a pass,
 * netlink handlers for a request. It is a mutex, never taken by any path
 * of the scheduler, and never held across an RCU read-side section's start.
 */
extern struct mutex khm_lock;
extern struct khm_config khm_cfg;
extern struct khm_stats khm_stats;
extern struct kholmes_rule_cfg khm_rules[KHOLMES_NR_METRICS];
/* bumped whenever a rule changes: what was found steady is judged anew */
extern u32 khm_rules_gen;

/* memory accounting, exposed in status */
void *khm_alloc(size_t size);
void khm_free(const void *p, size_t size);
u64 khm_mem_bytes(void);
u64 khm_alloc_fails(void);

int khm_sampler_init(void);
void khm_sampler_uninit(void);
void khm_sampler_kick(void);
void khm_sampler_reset(void);
u64 khm_sampler_tracked(void);
void khm_self_mark(void);

/*
 * One tracked thread group. Identity is (tgid, start_ns): a reused pid is a
 * new process. `ring` holds window samples per metric, metric-major.
 */
struct khm_proc {
	pid_t tgid;
	bool kthread;
	bool primed;		/* previous counters valid: rates computable */
	char comm[TASK_COMM_LEN];
	u64 start_ns;
	u64 gen;
	u64 prev_ns;		/* when the counters below were read */
	u32 prev_threads;
	u64 prev_runtime;
	u64 prev_nvcsw;
	u64 prev_delay;
	u64 prev_majflt;
	u32 have;		/* bit per metric: value[] valid */
	u32 window;
	u64 value[KHOLMES_NR_METRICS];
	struct khr_state rule_st[KHOLMES_NR_METRICS];
	u64 own_work_until_ns;	/* our capture and profile of it run till */
	/*
	 * Every metric in steady_mask was steady (khr_steady()) under the
	 * rules of khm_rules_gen steady_gen: while they stay at value[],
	 * a pass judges them by khr_steady_note() alone, at the time
	 * steady_ns of the last such pass, noted when the process leaves it.
	 */
	u64 steady_ns;
	bool steady;
	u8 steady_mask;
	u32 steady_gen;
	struct khr_window win[KHOLMES_NR_METRICS];
	u64 ring[];
};

struct khm_proc *khm_proc_next(unsigned long *tgid);

/* A thread group's counters, read as one (see khm_group_sums()). */
struct khm_group_sums {
	u64 runtime;		/* ns on a CPU */
	u64 ctxsw;		/* voluntary and involuntary switches */
	u64 majflt;
	u32 threads;		/* live threads counted */
};

void khm_group_sums(struct task_struct *p, struct khm_group_sums *s);

int khm_watch_add(struct nlattr **tb, struct netlink_ext_ack *extack);
int khm_watch_del(struct nlattr **tb, struct netlink_ext_ack *extack);
void khm_watch_clear(void);
bool khm_watch_match(struct task_struct *p);
bool khm_watch_names(pid_t tgid, const char *comm);
size_t khm_watch_size(void);
int khm_watch_put(struct sk_buff *skb, struct genl_info *info);
void khm_watch_uninit(void);
struct khm_watch_set;
struct khm_watch_set *khm_watch_set_new(void);
int khm_watch_set_add(struct khm_watch_set *ws, struct nlattr **tb,
		      struct netlink_ext_ack *extack);
void khm_watch_set_swap(struct khm_watch_set *ws);
void khm_watch_set_free(struct khm_watch_set *ws);

/* record.c: netlink attributes written outside any skb */
struct khm_rec {
	u8 *buf;
	size_t len;
	size_t cap;
	size_t limit;
	int err;
};

void khm_rec_init(struct khm_rec *r, size_t limit);
void khm_rec_release(struct khm_rec *r);
int khm_rec_put(struct khm_rec *r, int type, const void *data, size_t len);
int khm_rec_u32(struct khm_rec *r, int type, u32 v);
int khm_rec_u64(struct khm_rec *r, int type, u64 v);
int khm_rec_str(struct khm_rec *r, int type, const char *s);
size_t khm_rec_nest_start(struct khm_rec *r, int type);
void khm_rec_nest_end(struct khm_rec *r, size_t off);
int khm_rec_append(struct khm_rec *r, const struct khm_rec *from);

/* queue.c: captures waiting for the controller */
struct khm_capture {
	struct list_head node;
	u64 id;
	u64 seq;		/* push order, set by khm_queue_push() */
	struct khm_rec sum;	/* one KHOLMES_A_CAPTURE summary record */
	struct khm_rec body;	/* the whole record stream */
};

struct khm_queue_stats {
	u64 captures;
	u64 dropped;
	u64 limited;
	u64 failed;
	u64 len;
	u64 bytes;
	u64 last_ns;
	u64 max_ns;
};

enum khm_qcount {
	KHM_QCOUNT_FAILED,
	KHM_QCOUNT_LIMITED,
};

void khm_capture_free(struct khm_capture *c);
u64 khm_queue_room(u64 max_bytes);
int khm_queue_push(struct khm_capture *c, u32 max_count, u64 max_bytes,
		   u64 duration_ns);
void khm_queue_count(enum khm_qcount what);
void khm_queue_stats(struct khm_queue_stats *s);
int khm_queue_ack(u64 id);
int khm_queue_read(u64 id, size_t *off, struct sk_buff *skb);
int khm_queue_summary(u64 *seq, struct sk_buff *skb);
void khm_queue_uninit(void);

/* capture.c: taking captures, off the sampler's path */
struct khm_trigger {
	bool manual;
	unsigned int metric;
	u64 value;
	u64 avg;
	struct kholmes_rule_cfg rule;
};

u64 khm_capture_next_id(void);
bool khm_task_rss(struct task_struct *task, u64 *anon, u64 *file, u64 *vm);
const char *khm_ksym(char *buf, unsigned long addr);
void khm_capture_profile(u64 id, struct pid *pid,
			 const struct khm_trigger *trig, u64 profile_of,
			 u32 kind, const struct khm_rec *profile,
			 const struct khm_rec *maps, u32 nmaps, const char *comm);
int khm_capture_maps(struct pid *pid, struct khm_rec *r, char *comm);
void khm_regs_to_user(const struct pt_regs *regs, u64 *u);
size_t khm_copy_ustack_nofault(u8 *buf, size_t cap, unsigned long sp);
int khm_capture_init(void);
void khm_capture_uninit(void);
int khm_capture_request(struct pid *pid, u64 start_ns,
			const struct khm_trigger *trig, u64 *id);
bool khm_proc_counters(pid_t tgid, u64 start_ns, u64 *values, u64 *avgs,
		       u32 *have);

/* profile.c: timed profiles after a detection */
int khm_profile_init(void);
void khm_profile_uninit(void);
int khm_profile_start(struct pid *pid, enum kholmes_profile_kind kind,
		      u32 seconds, u32 hz, const struct khm_trigger *trig,
		      u64 profile_of, u64 *id, struct netlink_ext_ack *extack);
bool khm_profile_running(void);
void khm_perf_release_all(struct perf_event **events);
struct pt_regs *khm_sample_stacks(struct pt_regs *regs, unsigned long *k,
				  u8 *nk, u64 *u, u8 *nu);
void khm_put_kframes(struct khm_rec *r, size_t nest, const unsigned long *k,
		     u32 nk, char *sym);

/* flight.c: the always-on low-rate sampler and its per-CPU rings */
struct khm_flight_stats {
	u64 bytes;
	u64 cpus;
	u64 samples;
	u64 dropped;
	u64 ns;
};

int khm_flight_init(void);
void khm_flight_uninit(void);
int khm_flight_set(u32 hz, u32 seconds, struct netlink_ext_ack *extack);
void khm_flight_stats(struct khm_flight_stats *s);
void khm_flight_write(struct khm_rec *r, pid_t tgid, u64 detect_ns,
		      bool host, size_t budget);
void khm_notify_profile(u64 id, pid_t pid, u64 profile_of, u32 kind);

int khm_netlink_init(void);
void khm_netlink_close(void);
void khm_netlink_uninit(void);
struct sk_buff *khm_capture_event(const struct khm_rec *sum);
void khm_event_send(struct sk_buff *skb);
void khm_event_drop(struct sk_buff *skb);
void khm_notify_detection(const char *comm, pid_t pid, u64 start_ns,
			  u64 time_ns, unsigned int metric, u64 value, u64 avg,
			  const struct kholmes_rule_cfg *rule);

#endif /* _KHM_H */
