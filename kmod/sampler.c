// SPDX-License-Identifier: GPL-2.0
/*
 * The sampler: once per interval, walk every thread group, read its
 * counters, turn them into the design's metrics, keep a window of them per
 * process and judge each against holmes' rule.
 *
 * A pass has two halves. The walk runs under rcu_read_lock() only: it reads
 * each task_struct once into a preallocated array and allocates nothing.
 * As hung_task does, it leaves its RCU section every KHM_RCU_BATCH threads
 * (after a whole group), so that no read-side section (preempt-off on a
 * non-preemptible kernel) grows with the number of tasks on the host: only
 * with the largest thread group, which is read in one piece, as
 * thread_group_cputime() reads it.
 * The update runs after it, outside RCU, under khm_lock: it looks processes
 * up, allocates new ones, updates windows, judges and notifies. Tracked
 * processes live in an xarray keyed by tgid, which both hashes and orders
 * them, so that a process list dump can resume after the last tgid sent.
 */

#include <linux/cgroup.h>
#include <linux/debugfs.h>
#include <linux/jiffies.h>
#include <linux/kernel_stat.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/pid.h>
#include <linux/rcupdate.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>
#include <linux/seqlock.h>
#include <linux/tick.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "khm.h"

/* One thread group's counters, as read by the walk. */
struct khm_raw {
	pid_t tgid;
	bool kthread;
	bool has_mm;
	char comm[TASK_COMM_LEN];
	u64 start_ns;
	u64 read_ns;
	u64 runtime;
	u64 nvcsw;
	u64 delay;
	u64 majflt;
	u64 rss_pages;
	u64 limit_pages;
	u64 dstate_ns;
	u32 threads;
};

#define KHM_RAW_MIN	256
/* threads read per RCU read-side section, at least one whole group */
#define KHM_RCU_BATCH	256

static DEFINE_XARRAY(khm_procs);
static u64 khm_tracked;
static u64 khm_gen;
static struct khm_raw *khm_raw;
static u32 khm_raw_cap;
static struct workqueue_struct *khm_wq;
static struct delayed_work khm_work;
static unsigned long khm_next_run;
static bool khm_stopping;

/*
 * Debug figures, in debugfs (kholmes/): the longest RCU read-side section
 * of a walk, in time and in tasks visited, and how many there were; how
 * many group reads were done again because a thread exited meanwhile; how
 * many cpu readings were cut to
 * what the group's threads and the CPUs can do, and the most a reading
 * exceeded it by (percent, KHOLMES_VALUE_SCALE fixed point). Writing 0
 * resets one.
 */
static u64 khm_rcu_max_ns;
static u64 khm_rcu_max_tasks;
static u64 khm_rcu_sections;
static u64 khm_group_retries;
static u64 khm_cpu_clamped;
static u64 khm_cpu_excess_max;
static struct dentry *khm_debugfs;

static size_t khm_proc_size(u32 window)
{
	/* window is at most KHOLMES_WINDOW_MAX: this cannot overflow */
	return sizeof(struct khm_proc) +
	       sizeof(u64) * KHOLMES_NR_METRICS * window;
}

static void khm_proc_free(struct khm_proc *pr)
{
	khm_free(pr, khm_proc_size(pr->window));
}

static void khm_read_mm(struct task_struct *p, struct khm_raw *r)
{
	struct task_struct *t;
	struct mm_struct *mm;

	/* a group whose leader exited still has an mm in its live threads */
	for_each_thread(p, t) {
		task_lock(t);
		mm = t->mm;
		if (mm) {
			r->rss_pages = get_mm_counter(mm, MM_FILEPAGES) +
				       get_mm_counter(mm, MM_ANONPAGES) +
				       get_mm_counter(mm, MM_SHMEMPAGES);
			r->has_mm = true;
		}
		task_unlock(t);
		if (mm)
			break;
	}
}

#if COMPAT_HAVE_MEMCG
/*
 * The limit of the memory cgroup read last in this RCU section: most
 * processes share a few cgroups, and one seen in the section is not freed
 * (nor its address reused) before the section ends. khm_walk_lock()
 * forgets it.
 */
static struct mem_cgroup *khm_limit_memcg;
static unsigned long khm_limit_pages;
#endif

/* RSS relative to the tightest memory.max above the process, or RAM. */
static void khm_read_limit(struct task_struct *p, struct khm_raw *r)
{
	unsigned long lim = totalram_pages();
#if COMPAT_HAVE_MEMCG
	struct page_counter *c;
	struct mem_cgroup *memcg;

	if (!mem_cgroup_disabled()) {
		memcg = mem_cgroup_from_task(p);
		if (memcg && memcg == khm_limit_memcg) {
			lim = khm_limit_pages;
		} else {
			for (c = memcg ? &memcg->memory : NULL; c;
			     c = c->parent)
				lim = min(lim, READ_ONCE(c->max));
			khm_limit_memcg = memcg;
			khm_limit_pages = lim;
		}
	}
#endif
	r->limit_pages = lim ?: 1;
}

/*
 * A thread's run delay so far, counting the wait it is in: the scheduler
 * adds a wait to run_delay only when the thread gets a CPU, so a thread
 * still queued at the sample would otherwise bring its whole wait into
 * one later interval (2.4 s of delay in a 1 s interval). With the wait
 * counted as it happens, no thread reads above 1000 ms/s. `now` is
 * local_clock(), the clock last_queued is taken from (rq_clock). A thread
 * that gets its CPU between the reads is counted without its last wait.
 *
 * Only a runnable thread (@state TASK_RUNNING) is waiting. On 6.12 a
 * sleeping thread can keep a last_queued: EEVDF's delayed dequeue leaves
 * a thread that blocked on its run queue, a move of it to another CPU
 * enqueues it again (setting last_queued) and the dequeue that finishes
 * it happens inside the fair class, which does not clear it. Counted, an
 * idle process of 20 threads read 1,000 ms/s of run delay in every pass.
 */
static u64 khm_thread_delay(struct task_struct *t, unsigned int state,
			    u64 now)
{
#if COMPAT_HAVE_SCHED_INFO
	u64 queued = READ_ONCE(t->sched_info.last_queued);
	u64 delay = READ_ONCE(t->sched_info.run_delay);

	if (state == TASK_RUNNING && queued && now > queued &&
	    queued == READ_ONCE(t->sched_info.last_queued))
		delay += now - queued;
	return delay;
#else
	return 0;
#endif
}

/*
 * The counters of thread group p, its live threads' and what its dead
 * ones left in the signal struct, read as one consistent sum the way
 * thread_group_cputime() does: an exiting thread moves its counters into
 * the signal struct and leaves the thread list under sig->stats_lock, so
 * a lockless pass that raced with an exit (counting it twice, or not at
 * all, and the next pass its whole lifetime: a spike) is done again, and
 * a second one under the lock. Called under rcu_read_lock().
 */
void khm_group_sums(struct task_struct *p, struct khm_group_sums *s)
{
	struct signal_struct *sig = p->signal;
	unsigned int seq, nextseq = 0;
	struct task_struct *t;
	unsigned long flags;

	do {
		seq = nextseq;
		flags = read_seqbegin_or_lock_irqsave(&sig->stats_lock, &seq);
		s->runtime = sig->sum_sched_runtime;
		s->ctxsw = sig->nvcsw + sig->nivcsw;
		s->majflt = sig->maj_flt;
		s->threads = 0;
		for_each_thread(p, t) {
			s->runtime += READ_ONCE(t->se.sum_exec_runtime);
			s->ctxsw += READ_ONCE(t->nvcsw) + READ_ONCE(t->nivcsw);
			s->majflt += READ_ONCE(t->maj_flt);
			s->threads++;
		}
		nextseq = 1;
	} while (need_seqretry(&sig->stats_lock, seq));
	done_seqretry_irqrestore(&sig->stats_lock, seq, flags);
}

static u32 khm_read_group(struct task_struct *p, struct khm_raw *r)
{
	/*
	 * Per group (a walk with RCU breaks spans more than an instant),
	 * one clock: the scheduler's, which the counters read below and
	 * last_queued are kept in.
	 */
	u64 now = local_clock();
	struct signal_struct *sig = p->signal;
	unsigned int seq, nextseq = 0;
	struct task_struct *t;
	unsigned long flags;
	u64 longest;
	u32 visited;

	memset(r, 0, sizeof(*r));
	r->tgid = p->tgid;
	r->kthread = p->flags & PF_KTHREAD;
	/*
	 * As __get_task_comm() without its strscpy_pad(): 16 bytes copied
	 * whole and cut, a rename racing with the copy reads as either name
	 * or a mix of the two, never unterminated.
	 */
	memcpy(r->comm, p->comm, sizeof(r->comm));
	r->comm[sizeof(r->comm) - 1] = '\0';
	r->start_ns = p->start_boottime;

	/* as khm_group_sums(), with the scheduler figures of each thread */
	for (;;) {
		seq = nextseq;
		flags = read_seqbegin_or_lock_irqsave(&sig->stats_lock, &seq);
		/* what the group's dead threads took with them */
		r->runtime = sig->sum_sched_runtime;
		r->nvcsw = sig->nvcsw + sig->nivcsw;
		r->majflt = sig->maj_flt;
		r->delay = 0;
		longest = 0;
		visited = 0;
		for_each_thread(p, t) {
			unsigned int state = READ_ONCE(t->__state);

			visited++;
			r->runtime += READ_ONCE(t->se.sum_exec_runtime);
			r->nvcsw += READ_ONCE(t->nvcsw) + READ_ONCE(t->nivcsw);
			r->majflt += READ_ONCE(t->maj_flt);
#if COMPAT_HAVE_SCHED_INFO
			r->delay += khm_thread_delay(t, state, now);
			/*
			 * As hung_task does, but without keeping state per
			 * thread: the time since an uninterruptible thread was
			 * last put on a CPU. Idle kernel threads (TASK_NOLOAD)
			 * do not count.
			 */
			if ((state & TASK_UNINTERRUPTIBLE) &&
			    !(state & TASK_NOLOAD)) {
				u64 since = READ_ONCE(t->sched_info.last_arrival);

				if (since && now > since && now - since > longest)
					longest = now - since;
			}
#endif
		}
		nextseq = 1;
		if (!need_seqretry(&sig->stats_lock, seq))
			break;
		khm_group_retries++;
	}
	done_seqretry_irqrestore(&sig->stats_lock, seq, flags);
	/*
	 * The rates divide by the time between two reads of this group, in
	 * the clock the counters are kept in. Where the TSC is stable it is
	 * one clock on every CPU; where not, two CPUs' can be about a tick
	 * apart: a rate read by a worker that moved errs by that much.
	 */
	r->read_ns = now;
	r->threads = visited;
	r->dstate_ns = longest;
	if (!r->kthread) {
		khm_read_mm(p, r);
		khm_read_limit(p, r);
	}
	return visited;
}

/* delta * mult / elapsed, saturating instead of trapping on overflow */
static u64 khm_rate(u64 now, u64 prev, u64 mult, u64 elapsed)
{
	u64 delta = now > prev ? now - prev : 0;

	/* most counters of most processes stand still: no division */
	if (!delta || !elapsed)
		return 0;
	if (div64_u64(delta, elapsed) >= div64_u64(U64_MAX, mult))
		return U64_MAX;
	return mul_u64_u64_div_u64(delta, mult, elapsed);
}

/*
 * ms of run delay a second; a group's threads wait at most 1000 ms/s each,
 * whatever clock skew between CPUs says.
 */
static u64 khm_rundelay_rate(const struct khm_proc *pr, const struct khm_raw *r,
			     u64 el)
{
	u64 v = khm_rate(r->delay, pr->prev_delay,
			 MSEC_PER_SEC * KHOLMES_VALUE_SCALE, el);

	return min_t(u64, v, (u64)max(r->threads, 1U) * MSEC_PER_SEC *
			     KHOLMES_VALUE_SCALE);
}

static enum kholmes_profile_kind khm_profile_kind(unsigned int m)
{
	switch (m) {
	case KHOLMES_METRIC_CPU:
		return KHOLMES_PROFILE_CPU;
	case KHOLMES_METRIC_RSS:
	case KHOLMES_METRIC_RSS_PCT:
	case KHOLMES_METRIC_MAJFLT:
		return KHOLMES_PROFILE_FAULTS;
	default:
		return KHOLMES_PROFILE_NONE;
	}
}

/*
 * A detection asks for a capture, then for a profile where one instant is
 * not enough; both are skipped and counted while the host is saturated
 * (cpu-max), as holmes' WithCPUMax does.
 */
static void khm_capture_detection(const struct khm_proc *pr, unsigned int m,
				  u64 value, u64 avg)
{
	enum kholmes_profile_kind kind = khm_profile_kind(m);
	struct khm_trigger trig = {
		.metric = m,
		.value = value,
		.avg = avg,
		.rule = khm_rules[m],
	};
	u64 id = 0, pid_id;
	struct pid *pid;

	if (khm_cfg.cpu_max &&
	    khm_stats.host_cpu >= (u64)khm_cfg.cpu_max * KHOLMES_VALUE_SCALE) {
		khm_stats.saturated++;
		return;
	}
	pid = find_get_pid(pr->tgid);
	if (!pid)
		return;
	if (khm_capture_request(pid, pr->start_ns, &trig, &id))
		id = 0;
	if (khm_cfg.profiles && kind != KHOLMES_PROFILE_NONE) {
		if (khm_profile_running())
			khm_stats.profiles_skipped++;
		else
			khm_profile_start(pid, kind, khm_cfg.profile_s,
					  khm_cfg.profile_hz, &trig, id,
					  &pid_id, NULL);
	}
	put_pid(pid);
}

/*
 * kholmesctl's processes, marked by netlink when they send a request with
 * CAP_NET_ADMIN, as (tgid, start time) so that a reused pid is not one.
 * Not comm, which any process can set to hide from the rules. The mark
 * lasts as long as the process: a daemon may be silent for hours. When
 * the table is full, a process that has exited makes room, else the one
 * marked longest ago.
 */
#define KHM_SELF_MAX	32

struct khm_self {
	pid_t tgid;
	u64 start_ns;
	unsigned long marked;
};

static struct khm_self khm_selves[KHM_SELF_MAX];
static DEFINE_SPINLOCK(khm_self_lock);

static bool khm_self_alive(const struct khm_self *s)
{
	struct task_struct *p;
	bool alive;

	rcu_read_lock();
	p = pid_task(find_pid_ns(s->tgid, &init_pid_ns), PIDTYPE_TGID);
	alive = p && p->start_boottime == s->start_ns;
	rcu_read_unlock();
	return alive;
}

void khm_self_mark(void)
{
	struct task_struct *leader = current->group_leader;
	pid_t tgid = current->tgid;
	u64 start = leader->start_boottime;
	struct khm_self *s, *slot = NULL;
	unsigned int i;

	spin_lock(&khm_self_lock);
	for (i = 0; i < KHM_SELF_MAX; i++) {
		s = &khm_selves[i];
		if (s->tgid == tgid && s->start_ns == start) {
			s->marked = jiffies;
			goto out;
		}
		if (!s->tgid || !khm_self_alive(s)) {
			slot = s;
			s->tgid = 0;
		} else if (!slot || (slot->tgid &&
				     time_before(s->marked, slot->marked))) {
			slot = s;
		}
	}
	slot->tgid = tgid;
	slot->start_ns = start;
	slot->marked = jiffies;
out:
	spin_unlock(&khm_self_lock);
}

static bool khm_self_marked(pid_t tgid, u64 start_ns)
{
	bool marked = false;
	unsigned int i;

	spin_lock(&khm_self_lock);
	for (i = 0; i < KHM_SELF_MAX && !marked; i++)
		marked = khm_selves[i].tgid == tgid &&
			 khm_selves[i].start_ns == start_ns;
	spin_unlock(&khm_self_lock);
	return marked;
}

/*
 * Whether a detection may capture this process. Kernel threads are
 * tracked and listed but captured only with `config set kthreads on`: a
 * kworker or rcu thread that waited is the host's contention, not a bug
 * of its own, and its user stack is empty. kholmesctl's own processes are
 * captured only where a watch entry names them.
 */
static bool khm_auto_target(const struct khm_proc *pr)
{
	if (pr->kthread)
		return khm_cfg.kthreads;
	return !khm_self_marked(pr->tgid, pr->start_ns) ||
	       khm_watch_names(pr->tgid, pr->comm);
}

static void khm_fire(struct khm_proc *pr, unsigned int m, u64 value, u64 avg,
		     u64 now, u64 boot)
{
	u64 work = (u64)(khm_cfg.window + 2) * khm_cfg.interval_ms *
		   NSEC_PER_MSEC;

	/*
	 * The capture, and the profile that may follow, run on the
	 * process's CPUs and make it wait: its run delay until they are
	 * done, and a window after (the end of a profile, too, waits for
	 * work on a CPU, 1.5 s of it seen under emulation), is our doing.
	 */
	if (khm_cfg.profiles && khm_profile_kind(m) != KHOLMES_PROFILE_NONE)
		work += (u64)khm_cfg.profile_s * NSEC_PER_SEC;
	pr->own_work_until_ns = now + work;
	khr_note(&pr->rule_st[m], KHOLMES_V_FIRE, now);
	khm_stats.detections++;
	khm_notify_detection(pr->comm, pr->tgid, pr->start_ns, boot, m, value,
			     avg, &khm_rules[m]);
	khm_capture_detection(pr, m, value, avg);
}

/*
 * Run delay is the host's contention seen from one process: one CPU hog
 * makes every runnable process wait. A pass captures at most the one
 * process that waited most (its capture lists the host's top consumers,
 * the hog among them), and no other for the rule's cooldown.
 */
static struct {
	struct khm_proc *pr;
	u64 value;
	u64 avg;
	u64 last_ns;
	/*
	 * The host's waiting: this pass's sum, a window of past ones (the
	 * last complete pass's sum the newest), and the level it held
	 * lately.
	 */
	u64 host;
	struct khr_window win;
	u64 ring[KHOLMES_WINDOW_MAX];
	struct khr_state host_st;
} khm_rd;

/* debugfs: jumps that another process's shorter wait paid for */
static u64 khm_rd_shifted;
/* debugfs: jumps while the host's waiting was at a level it held lately */
static u64 khm_rd_host_returns;
/* debugfs: jumps back to a level the process held lately */
static u64 khm_level_returns;

static void khm_rundelay_fire(struct khm_proc *pr, u64 value, u64 avg)
{
	if (khm_rd.pr)
		khm_stats.suppressed++;
	if (!khm_rd.pr || value > khm_rd.value) {
		khm_rd.pr = pr;
		khm_rd.value = value;
		khm_rd.avg = avg;
	}
}

/* The host's waiting starts from nothing: no window, no level. */
static void khm_rundelay_reset(void)
{
	khm_rd.host = 0;
	khr_window_init(&khm_rd.win, khm_cfg.window);
	memset(&khm_rd.host_st, 0, sizeof(khm_rd.host_st));
}

/*
 * At the end of an update, before any tracked process is dropped. A walk
 * cut short (!complete) saw part of the host: its sum joins no window and
 * no level, and is not judged a return.
 *
 * The host's waiting has a level memory of its own, as a process's
 * metrics have (khr_note_level()): contention back at a level the host
 * held within the cooldown is a return, whoever waits now. A process's
 * own level memory does not see it when the contention lands on another
 * process than last time: a switch pair on an emulated 2-CPU host that
 * moves back to a placement it held in its first seconds, while its
 * neighbours' rules were warming up, makes the cpu or vm stressor beside
 * it wait three times longer than its window, a level that stressor
 * never held, while the host waits as it did then. Had the rule fired
 * then, its cooldown would hold now.
 */
static void khm_rundelay_pass(u64 now, u64 boot, bool complete)
{
	const struct kholmes_rule_cfg *rule = &khm_rules[KHOLMES_METRIC_RUNDELAY];
	u64 cool = khr_rule_cooldown_ns(rule);
	u64 host = khm_rd.host, host_avg = khr_window_avg(&khm_rd.win);
	u32 samples = khm_rd.win.count;
	bool known = false;

	if (khm_rd.win.cap != khm_cfg.window) {
		khm_rundelay_reset();
		samples = 0;
	}
	if (complete) {
		/* judged against the levels before this pass, as a rule is */
		known = khr_level_known(&khm_rd.host_st, host, now, cool);
		if (samples)
			khr_note_level(&khm_rd.host_st,
				       khr_window_last(&khm_rd.win, khm_rd.ring),
				       host, now, cool);
		khr_window_push(&khm_rd.win, khm_rd.ring, host);
	}
	khm_rd.host = 0;
	if (!khm_rd.pr)
		return;
	if (!khr_wait_grew(khm_rd.value, khm_rd.avg, host, host_avg, samples,
			   khm_cfg.window)) {
		khm_rd_shifted++;
		khm_stats.suppressed++;
	} else if (known) {
		khm_rd_host_returns++;
		khm_stats.suppressed++;
	} else if (khm_rd.last_ns && now - khm_rd.last_ns < cool) {
		khm_stats.suppressed++;
	} else {
		khm_rd.last_ns = now;
		khm_fire(khm_rd.pr, KHOLMES_METRIC_RUNDELAY, khm_rd.value,
			 khm_rd.avg, now, boot);
	}
	khm_rd.pr = NULL;
}

static void khm_judge(struct khm_proc *pr, unsigned int m, u64 value,
		      u64 now, u64 boot)
{
	const struct kholmes_rule_cfg *rule = &khm_rules[m];
	struct khr_state *st = &pr->rule_st[m];
	struct khr_window *w = &pr->win[m];
	enum kholmes_verdict v;
	u64 avg = 0;

	/* under min the verdict is quiet whatever the average */
	if (khr_may_fire(rule, value))
		avg = khr_window_avg(w);

	v = khr_judge_held(rule, value, avg, w->count, khm_cfg.window, now, st,
			   m == KHOLMES_METRIC_CPU ? KHR_CPU_HOLD : 1);
	switch (v) {
	case KHOLMES_V_FIRE:
		if (!khm_auto_target(pr)) {
			st->held = 0;
			break;
		}
		/* a jump held: what it jumped from */
		if (st->held)
			avg = st->base;
		if (m == KHOLMES_METRIC_RUNDELAY &&
		    time_before64(now, pr->own_work_until_ns))
			khm_stats.suppressed++;
		else if (m == KHOLMES_METRIC_RUNDELAY)
			khm_rundelay_fire(pr, value, avg);
		else
			khm_fire(pr, m, value, avg, now, boot);
		break;
	case KHOLMES_V_SUPPRESSED:
		khm_stats.suppressed++;
		fallthrough;
	default:
		khm_level_returns += v == KHOLMES_V_LEVEL;
		khr_note_held(st, v, now, avg);
		break;
	}
	if (pr->have & BIT(m))
		khr_note_level(st, pr->value[m], value, now,
			       khr_rule_cooldown_ns(rule));
	khr_window_push(w, &pr->ring[m * pr->window], value);
	pr->value[m] = value;
	pr->have |= BIT(m);
}

/*
 * A group cannot run more than 100 % per thread it had, nor more than
 * every CPU. The counters are read consistently (khm_group_sums()), but a
 * running thread's sum_exec_runtime is brought up to date at ticks and
 * switches only: two reads can each be up to a tick behind, a little more
 * in one interval and less in the next. That, and threads created and
 * gone between two passes (which the bound does not see), is all that can
 * exceed it; such a reading is cut to the bound and counted (debugfs).
 */
static u64 khm_cpu_bound(u64 cpu, u32 threads, u32 prev_threads)
{
	u64 bound = (u64)min_t(u32, max(threads, prev_threads),
			       num_online_cpus()) * 100 * KHOLMES_VALUE_SCALE;

	if (cpu <= bound)
		return cpu;
	khm_cpu_clamped++;
	khm_cpu_excess_max = max(khm_cpu_excess_max, cpu - bound);
	return bound;
}

#define KHM_ALL_METRICS		(BIT(KHOLMES_NR_METRICS) - 1)
/* kernel threads have no mm: scheduler metrics only */
#define KHM_SCHED_METRICS	(KHM_ALL_METRICS & \
				 ~(BIT(KHOLMES_METRIC_RSS) | \
				   BIT(KHOLMES_METRIC_RSS_PCT)))

/* debugfs: processes judged steady, and judged in full, by passes */
static u64 khm_steady_judged;
static u64 khm_full_judged;

/*
 * Judge the metrics in @mask at values @v. Most processes of a host are
 * idle: every counter where it was, every value under its rule's min, the
 * same for a window. Judging such a value again changes nothing but when
 * its level was last held (khr_steady(), proven exact by the host unit
 * tests), so a process found steady is judged by khr_steady_note() alone
 * until a value, the metrics it has or a rule changes. That is most of
 * what a pass costs per process on an idle host, where there is nothing
 * to find.
 */
static void khm_judge_all(struct khm_proc *pr, const u64 *v, u8 mask,
			  u64 now, u64 boot)
{
	bool steady = pr->steady && pr->steady_mask == mask &&
		      pr->steady_gen == khm_rules_gen;
	unsigned int m;

	for (m = 0; steady && m < KHOLMES_NR_METRICS; m++)
		if ((mask & BIT(m)) && v[m] != pr->value[m])
			steady = false;
	if (steady) {
		pr->steady_ns = now;
		khm_steady_judged++;
		return;
	}
	/* what the steady passes noted, before the rules read it */
	if (pr->steady)
		for (m = 0; m < KHOLMES_NR_METRICS; m++)
			if (pr->steady_mask & BIT(m))
				khr_steady_note(&pr->rule_st[m], pr->steady_ns);
	steady = true;
	for (m = 0; m < KHOLMES_NR_METRICS; m++) {
		bool same;

		if (!(mask & BIT(m)))
			continue;
		same = (pr->have & BIT(m)) && pr->value[m] == v[m];
		khm_judge(pr, m, v[m], now, boot);
		steady = steady && same &&
			 khr_steady(&khm_rules[m], &pr->rule_st[m], &pr->win[m],
				    &pr->ring[m * pr->window], v[m]);
	}
	pr->steady = steady;
	pr->steady_mask = mask;
	pr->steady_gen = khm_rules_gen;
	pr->steady_ns = now;
	khm_full_judged++;
}

static void khm_update(struct khm_proc *pr, const struct khm_raw *r,
		       u64 now, u64 boot)
{
	u64 el = r->read_ns > pr->prev_ns ? r->read_ns - pr->prev_ns : 0;
	u64 v[KHOLMES_NR_METRICS];

	memcpy(pr->comm, r->comm, sizeof(pr->comm));
	if (pr->primed) {
		v[KHOLMES_METRIC_CPU] =
			khm_cpu_bound(khm_rate(r->runtime, pr->prev_runtime,
					       100 * KHOLMES_VALUE_SCALE, el),
				      r->threads, pr->prev_threads);
		v[KHOLMES_METRIC_RSS] = (r->rss_pages * KHOLMES_VALUE_SCALE) >>
					(20 - PAGE_SHIFT);
		v[KHOLMES_METRIC_RSS_PCT] = r->has_mm ?
			div64_u64(r->rss_pages * 100 * KHOLMES_VALUE_SCALE,
				  r->limit_pages) : 0;
		v[KHOLMES_METRIC_THREADS] = (u64)r->threads *
					    KHOLMES_VALUE_SCALE;
		v[KHOLMES_METRIC_CTXSW] =
			khm_rate(r->nvcsw, pr->prev_nvcsw,
				 NSEC_PER_SEC * KHOLMES_VALUE_SCALE, el);
		v[KHOLMES_METRIC_RUNDELAY] = khm_rundelay_rate(pr, r, el);
		khm_rd.host = khr_sat_add(khm_rd.host,
					  v[KHOLMES_METRIC_RUNDELAY]);
		v[KHOLMES_METRIC_MAJFLT] =
			khm_rate(r->majflt, pr->prev_majflt,
				 NSEC_PER_SEC * KHOLMES_VALUE_SCALE, el);
		v[KHOLMES_METRIC_DSTATE] = div64_u64(r->dstate_ns,
						     NSEC_PER_USEC);
		khm_judge_all(pr, v, r->has_mm ? KHM_ALL_METRICS :
						 KHM_SCHED_METRICS, now, boot);
	}
	pr->prev_ns = r->read_ns;
	pr->prev_threads = r->threads;
	pr->prev_runtime = r->runtime;
	pr->prev_nvcsw = r->nvcsw;
	pr->prev_delay = r->delay;
	pr->prev_majflt = r->majflt;
	pr->primed = true;
}

static struct khm_proc *khm_proc_new(const struct khm_raw *r)
{
	u32 window = khm_cfg.window;
	struct khm_proc *pr;
	unsigned int m;
	void *old;

	pr = khm_alloc(khm_proc_size(window));
	if (!pr)
		return NULL;
	pr->tgid = r->tgid;
	pr->kthread = r->kthread;
	pr->start_ns = r->start_ns;
	pr->window = window;
	for (m = 0; m < KHOLMES_NR_METRICS; m++)
		khr_window_init(&pr->win[m], window);
	old = xa_store(&khm_procs, r->tgid, pr, GFP_KERNEL);
	if (xa_is_err(old)) {
		khm_proc_free(pr);
		return NULL;
	}
	khm_tracked++;
	return pr;
}

static void khm_proc_drop(unsigned long tgid, struct khm_proc *pr)
{
	xa_erase(&khm_procs, tgid);
	khm_proc_free(pr);
	khm_tracked--;
}

static u32 khm_apply(u32 n, u64 now, u64 boot, bool complete)
{
	struct khm_proc *pr;
	unsigned long idx;
	u32 i, refused = 0;
	u64 seen = 0;

	khm_gen++;
	for (i = 0; i < n; i++) {
		const struct khm_raw *r = &khm_raw[i];

		pr = xa_load(&khm_procs, r->tgid);
		if (pr && pr->start_ns != r->start_ns) {
			/* a pid reused during the walk, seen twice */
			if (pr->gen == khm_gen)
				seen--;
			khm_proc_drop(r->tgid, pr);
			pr = NULL;
		}
		if (!pr) {
			if (khm_tracked >= khm_cfg.max_tracked) {
				refused++;
				continue;
			}
			pr = khm_proc_new(r);
			if (!pr)
				continue;
		}
		if (pr->gen != khm_gen)
			seen++;
		pr->gen = khm_gen;
		khm_update(pr, r, now, boot);
	}
	khm_rundelay_pass(now, boot, complete);
	/*
	 * Exited, out of scope, or not seen this pass; a walk cut short saw
	 * only part of the host, and the rest is judged by the next pass.
	 * When this pass saw every tracked process (a host whose processes
	 * all lived on), there is nothing to look for.
	 */
	if (!complete || seen == khm_tracked)
		return refused;
	xa_for_each(&khm_procs, idx, pr)
		if (pr->gen != khm_gen)
			khm_proc_drop(idx, pr);
	return refused;
}

/*
 * Size the walk's array, outside RCU, for the number of processes in scope:
 * grown at once so that the next pass sees everyone, shrunk once a burst
 * has passed (a quarter used) so that what the module holds follows the
 * host back down. Failing to resize keeps the old array.
 */
static void khm_raw_resize(u32 want)
{
	u32 cap = min_t(u64, (u64)want + want / 4 + KHM_RAW_MIN,
			(u64)khm_cfg.max_tracked + KHM_RAW_MIN);
	struct khm_raw *raw;

	if (cap <= khm_raw_cap &&
	    (khm_raw_cap <= KHM_RAW_MIN || cap > khm_raw_cap / 4))
		return;
	raw = khm_alloc(array_size(cap, sizeof(*raw)));
	if (!raw)
		return;
	khm_free(khm_raw, array_size(khm_raw_cap, sizeof(*raw)));
	khm_raw = raw;
	khm_raw_cap = cap;
}

/*
 * Busy nanoseconds of every online CPU since boot, by cpustat: what the
 * scheduler tick charged to anything but idle and iowait.
 */
static u64 khm_busy_cpustat(unsigned int *ncpu)
{
	struct kernel_cpustat kcs;
	u64 busy = 0;
	int cpu;

	*ncpu = 0;
	for_each_online_cpu(cpu) {
		kcpustat_cpu_fetch(&kcs, cpu);
		busy += kcs.cpustat[CPUTIME_USER] + kcs.cpustat[CPUTIME_NICE] +
			kcs.cpustat[CPUTIME_SYSTEM] + kcs.cpustat[CPUTIME_IRQ] +
			kcs.cpustat[CPUTIME_SOFTIRQ] +
			kcs.cpustat[CPUTIME_STEAL];
		(*ncpu)++;
	}
	return busy;
}

/*
 * Idle and iowait nanoseconds of every online CPU since boot, by NO_HZ's
 * accounting, which reads the clock at each idle entry and exit; false
 * when a CPU has none (no NO_HZ, or nohz=off).
 */
static bool khm_idle_nohz(u64 *idle, unsigned int *ncpu)
{
	u64 us, io;
	int cpu;

	*idle = 0;
	*ncpu = 0;
	for_each_online_cpu(cpu) {
		us = get_cpu_idle_time_us(cpu, NULL);
		io = get_cpu_iowait_time_us(cpu, NULL);
		if (us == (u64)-1 || io == (u64)-1)
			return false;
		*idle += (us + io) * NSEC_PER_USEC;
		(*ncpu)++;
	}
	return true;
}

/*
 * The host's CPU use since the last pass, in percent of all online CPUs
 * (fixed point): the CPUs' wall time less their idle and iowait time by
 * NO_HZ's accounting, which is exact. cpustat, the fallback without
 * NO_HZ, moves in ticks, and a tick that comes late is charged once: in
 * a guest whose host is loaded (TCG beside a kernel build), it read a
 * CPU that ran a spinner throughout as 20 to 35 % busy while the
 * spinner's own runtime said 95 to 99 %, and cpu-max judged the host idle.
 */
static void khm_host_cpu(void)
{
	static u64 last_idle, last_busy, last_ns;
	static unsigned int last_ncpu;
	static bool last_nohz;
	u64 now = ktime_get_ns(), idle = 0, busy = 0, wall, used;
	unsigned int ncpu;
	bool nohz;

	nohz = khm_idle_nohz(&idle, &ncpu);
	if (!nohz)
		busy = khm_busy_cpustat(&ncpu);
	/* a CPU came or went, or the source changed: start again */
	if (last_ns && now > last_ns && ncpu && ncpu == last_ncpu &&
	    nohz == last_nohz) {
		wall = (now - last_ns) * ncpu;
		if (nohz)
			used = wall - min(wall, idle > last_idle ?
						idle - last_idle : 0);
		else
			used = busy > last_busy ? busy - last_busy : 0;
		/* either may read a little over the wall time: 100 % */
		khm_stats.host_cpu = min_t(u64, khm_rate(used, 0,
							 100 * KHOLMES_VALUE_SCALE,
							 wall),
					   100 * KHOLMES_VALUE_SCALE);
	}
	if (nohz)
		last_idle = idle;
	else
		last_busy = busy;
	last_ns = now;
	last_ncpu = ncpu;
	last_nohz = nohz;
}

static u64 khm_rcu_start;

static void khm_walk_lock(void)
{
	rcu_read_lock();
#if COMPAT_HAVE_MEMCG
	khm_limit_memcg = NULL;
#endif
	khm_rcu_start = ktime_get_ns();
}

static void khm_walk_unlock(u32 tasks)
{
	u64 len = ktime_get_ns() - khm_rcu_start;

	rcu_read_unlock();
	khm_rcu_sections++;
	khm_rcu_max_ns = max(khm_rcu_max_ns, len);
	khm_rcu_max_tasks = max_t(u64, khm_rcu_max_tasks, tasks);
}

/*
 * Leave the walk's RCU section for a moment, as hung_task's
 * rcu_lock_break() does: p, pinned meanwhile, says whether the walk can
 * go on from it. Once it has left the task list (pid_alive() false), its
 * next pointer leads nowhere: the walk stops there.
 */
static bool khm_walk_break(struct task_struct *p, u32 tasks)
{
	bool alive;

	get_task_struct(p);
	khm_walk_unlock(tasks);
	cond_resched();
	khm_walk_lock();
	alive = pid_alive(p);
	put_task_struct(p);
	return alive;
}

static void khm_pass(void)
{
	u64 t0 = ktime_get_ns(), boot = ktime_get_boottime_ns();
	u32 n = 0, want = 0, tasks = 0, batch = 0;
	struct task_struct *p;
	bool complete = true;
	u64 cost;

	khm_walk_lock();
	for_each_process(p) {
		/* a group whose every thread has exited is gone already */
		if (atomic_read(&p->signal->live) && khm_watch_match(p)) {
			want++;
			if (n < khm_raw_cap) {
				u32 t = khm_read_group(p, &khm_raw[n++]);

				tasks += t;
				batch += t;
			}
		}
		if (++batch >= KHM_RCU_BATCH) {
			if (!khm_walk_break(p, batch)) {
				complete = false;
				batch = 0;
				break;
			}
			batch = 0;
		}
	}
	khm_walk_unlock(batch);

	khm_host_cpu();
	/* a gauge: processes in scope that the last pass could not track */
	khm_stats.untracked = khm_apply(n, t0, boot, complete) + (want - n);
	if (complete)
		khm_raw_resize(want);

	cost = ktime_get_ns() - t0;
	khm_stats.passes++;
	khm_stats.pass_last_ns = cost;
	khm_stats.pass_total_ns += cost;
	khm_stats.pass_max_ns = max(khm_stats.pass_max_ns, cost);
	khm_stats.tasks_visited = tasks;
	khm_stats.procs_visited = n;
}

/*
 * The floor a pass is measured against (make bench): a bare walk that
 * reads one counter of every thread and nothing else, with the pass's own
 * RCU breaks, timed in the reader's context. Reading debugfs
 * kholmes/floor_walk does one walk and prints "threads ns".
 */
static int khm_floor_walk_show(struct seq_file *m, void *unused)
{
	struct task_struct *p, *t;
	u32 tasks = 0, batch = 0;
	u64 t0, sum = 0;
	bool alive;

	t0 = ktime_get_ns();
	rcu_read_lock();
	for_each_process(p) {
		for_each_thread(p, t) {
			sum += READ_ONCE(t->se.sum_exec_runtime);
			tasks++;
			batch++;
		}
		if (++batch < KHM_RCU_BATCH)
			continue;
		batch = 0;
		get_task_struct(p);
		rcu_read_unlock();
		cond_resched();
		rcu_read_lock();
		alive = pid_alive(p);
		put_task_struct(p);
		if (!alive)
			break;
	}
	rcu_read_unlock();
	/* the sum is printed so that the reads cannot be left out */
	seq_printf(m, "%u %llu %llu\n", tasks, ktime_get_ns() - t0, sum);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(khm_floor_walk);

static void khm_work_fn(struct work_struct *work)
{
	unsigned long now, delay;

	mutex_lock(&khm_lock);
	if (khm_stopping || !khm_cfg.enabled) {
		mutex_unlock(&khm_lock);
		return;
	}
	khm_next_run = jiffies + msecs_to_jiffies(khm_cfg.interval_ms);
	khm_pass();
	now = jiffies;
	delay = time_after(khm_next_run, now) ? khm_next_run - now : 0;
	mutex_unlock(&khm_lock);
	queue_delayed_work(khm_wq, &khm_work, delay);
}

/* Called with khm_lock held after enabled or interval_ms changed. */
void khm_sampler_kick(void)
{
	if (khm_stopping || !khm_cfg.enabled)
		return;
	mod_delayed_work(khm_wq, &khm_work,
			 msecs_to_jiffies(khm_cfg.interval_ms));
}

/* Called with khm_lock held: every history restarts from nothing. */
void khm_sampler_reset(void)
{
	struct khm_proc *pr;
	unsigned long idx;

	xa_for_each(&khm_procs, idx, pr)
		khm_proc_drop(idx, pr);
	khm_rd.last_ns = 0;
	khm_rundelay_reset();
}

struct khm_proc *khm_proc_next(unsigned long *tgid)
{
	lockdep_assert_held(&khm_lock);
	return xa_find(&khm_procs, tgid, ULONG_MAX, XA_PRESENT);
}

/* The last values and window averages of a tracked process. */
bool khm_proc_counters(pid_t tgid, u64 start_ns, u64 *values, u64 *avgs,
		       u32 *have)
{
	struct khm_proc *pr;
	unsigned int m;

	mutex_lock(&khm_lock);
	pr = xa_load(&khm_procs, tgid);
	if (pr && pr->start_ns != start_ns)
		pr = NULL;
	*have = pr ? pr->have : 0;
	for (m = 0; pr && m < KHOLMES_NR_METRICS; m++) {
		values[m] = pr->value[m];
		avgs[m] = khr_window_avg(&pr->win[m]);
	}
	mutex_unlock(&khm_lock);
	return pr;
}

u64 khm_sampler_tracked(void)
{
	return khm_tracked;
}

int khm_sampler_init(void)
{
	khm_raw = khm_alloc(array_size(KHM_RAW_MIN, sizeof(*khm_raw)));
	if (!khm_raw)
		return -ENOMEM;
	khm_raw_cap = KHM_RAW_MIN;
	khm_wq = alloc_workqueue("kholmes", WQ_UNBOUND, 1);
	if (!khm_wq) {
		khm_free(khm_raw, array_size(khm_raw_cap, sizeof(*khm_raw)));
		return -ENOMEM;
	}
	INIT_DELAYED_WORK(&khm_work, khm_work_fn);
	/* debug figures only: no error if debugfs is absent */
	khm_debugfs = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_u64("rcu_max_ns", 0600, khm_debugfs, &khm_rcu_max_ns);
	debugfs_create_u64("rcu_max_tasks", 0600, khm_debugfs,
			   &khm_rcu_max_tasks);
	debugfs_create_u64("rcu_sections", 0400, khm_debugfs,
			   &khm_rcu_sections);
	debugfs_create_u64("group_retries", 0400, khm_debugfs,
			   &khm_group_retries);
	debugfs_create_u64("cpu_clamped", 0600, khm_debugfs, &khm_cpu_clamped);
	debugfs_create_u64("rundelay_shifted", 0600, khm_debugfs,
			   &khm_rd_shifted);
	debugfs_create_u64("level_returns", 0600, khm_debugfs,
			   &khm_level_returns);
	debugfs_create_u64("rundelay_host_returns", 0600, khm_debugfs,
			   &khm_rd_host_returns);
	debugfs_create_u64("cpu_excess_max", 0600, khm_debugfs,
			   &khm_cpu_excess_max);
	debugfs_create_u64("steady_judged", 0600, khm_debugfs,
			   &khm_steady_judged);
	debugfs_create_u64("full_judged", 0600, khm_debugfs,
			   &khm_full_judged);
	debugfs_create_file("floor_walk", 0400, khm_debugfs, NULL,
			    &khm_floor_walk_fops);
	return 0;
}

void khm_sampler_uninit(void)
{
	debugfs_remove(khm_debugfs);
	mutex_lock(&khm_lock);
	khm_stopping = true;
	mutex_unlock(&khm_lock);
	/* the work re-arms itself; cancel_delayed_work_sync() stops that too */
	cancel_delayed_work_sync(&khm_work);
	destroy_workqueue(khm_wq);

	mutex_lock(&khm_lock);
	khm_sampler_reset();
	mutex_unlock(&khm_lock);
	xa_destroy(&khm_procs);
	khm_free(khm_raw, array_size(khm_raw_cap, sizeof(*khm_raw)));
	khm_raw = NULL;
	khm_raw_cap = 0;
}
