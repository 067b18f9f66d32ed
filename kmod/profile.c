// SPDX-License-Identifier: GPL-2.0
/*
 * Profiles: for `profile-s` seconds after a detection (or on request), the
 * stacks of the offending process at every on-CPU sample (cpu) or every
 * Nth page fault (faults), counted per distinct stack in the kernel, then
 * queued as a capture.
 *
 * One software perf event per online CPU, filtered on the target's tgid
 * in the handler, rather than one per thread: it follows threads created
 * during the profile with no race at start, and the number of events is
 * bounded by the CPUs, not by the target. The cost outside the target is
 * one early return per event, at profile-hz per CPU. CPUs that come online
 * during a profile are not sampled.
 *
 * The handler runs in hard interrupt context (cpu-clock) or at a page
 * fault: it walks kernel frames with stack_trace_save() and user frames by
 * frame pointers with copy_from_user_nofault(), and counts the stack in a
 * fixed table under a raw spinlock. Code built without frame pointers
 * (most of a distribution) shows only its leaf that way, so the handler
 * also keeps, as perf record --call-graph dwarf does, the sample's user
 * registers and a copy of the top of its user stack (user-stack-kb, at
 * most KHOLMES_PROFILE_COPY_KB_MAX) in a pool allocated at the start and
 * bounded by a quarter of max-queue-kb; the controller unwinds each copy
 * with the binaries' CFI. A sample past the pool keeps its frame-pointer
 * walk only, and is counted in KHOLMES_PROFILE_COPIES_LOST.
 */
#include <linux/cpumask.h>
#include <linux/hash.h>
#include <linux/jhash.h>
#include <linux/kallsyms.h>
#include <linux/math64.h>
#include <linux/perf_event.h>
#include <linux/pid.h>
#include <linux/ptrace.h>
#include <linux/sched/clock.h>
#include <linux/sched/task_stack.h>
#include <linux/spinlock.h>
#include <linux/stacktrace.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <net/netlink.h>

#include <kholmes_elf.h>

#include "khm.h"

#define KHM_PSTACKS		1024	/* distinct stacks a profile keeps */
#define KHM_PROFILE_POLL_MS	200	/* how soon an exit ends a profile */
#define KHM_KFRAMES_CUT		"[kernel frames cut: record full]"
#define KHM_PCOPIES_MAX		(64UL << 20)	/* bytes of stack copies at most */

struct khm_pstack {
	u32 hash;
	u32 count;
	u8 nk;
	u8 nu;
	unsigned long k[KHOLMES_PROFILE_FRAMES];
	u64 u[KHOLMES_PROFILE_FRAMES];
};

/* A sample's user registers and stack copy, in the profile's pool. */
struct khm_psample {
	u32 stack;		/* its slot in the table */
	u32 len;		/* bytes of data copied */
	atomic_t busy;		/* a handler is writing it */
	u32 pad;
	u64 sp;
	u64 regs[KHOLMES_NR_UREGS];
	u8 data[];
};

struct khm_profile {
	pid_t tgid;
	struct pid *pid;
	enum kholmes_profile_kind kind;
	u32 hz;
	u32 seconds;
	u64 period;
	u64 id;
	u64 profile_of;
	struct khm_trigger trig;
	u64 start_ns;
	u64 start_rss_anon;
	u64 start_rss_file;
	u64 start_vm;
	u64 end_rss_anon;
	u64 end_rss_file;
	bool end_rss;		/* the end's are known: it still had an mm */
	u32 flags;
	struct perf_event **events;
	raw_spinlock_t lock;
	u64 samples;
	u64 lost;
	u64 handler_ns;
	u32 nstacks;
	struct khm_pstack *table;
	/* the stack copies: copies_max slots of stride bytes */
	u8 *copies;
	size_t stride;
	u32 copy_bytes;
	u32 copies_max;
	atomic_t ncopies;	/* samples offered a copy, may pass copies_max */
	bool finishing;		/* under khm_lock: its work is ending it */
	/* the target's mappings and comm from the first poll, for its end */
	bool snapped;
	int nmaps;
	struct khm_rec maps;
	char comm[TASK_COMM_LEN];
};

/*
 * The running profile, if any; changed under khm_lock. Its timer is a
 * static work item, not one inside the profile: the work frees the
 * profile, so a work item inside it could be queued again by unload while
 * it runs and then run on freed memory.
 */
static struct khm_profile *khm_prof;
static struct workqueue_struct *khm_pwq;
static struct delayed_work khm_pwork;
static bool khm_pstopping;

static bool khm_prof_read(void *ctx, __u64 addr, __u64 out[2])
{
	return !copy_from_user_nofault(out, (const void __user *)addr, 16);
}

/* Count the stack; returns its slot in the table, -1 if it was lost. */
static int khm_prof_count(struct khm_profile *p, struct khm_pstack *s)
{
	struct khm_pstack *e;
	unsigned long flags;
	u32 i, slot;
	int ret = -1;

	s->hash = jhash(s->k, s->nk * sizeof(s->k[0]),
			jhash(s->u, s->nu * sizeof(s->u[0]), s->nk ^ s->nu));
	raw_spin_lock_irqsave(&p->lock, flags);
	p->samples++;
	for (i = 0; i < KHM_PSTACKS; i++) {
		slot = (s->hash + i) % KHM_PSTACKS;
		e = &p->table[slot];
		if (!e->count) {
			if (p->nstacks >= KHM_PSTACKS * 3 / 4)
				break;
			*e = *s;
			e->count = 1;
			p->nstacks++;
			ret = slot;
			goto out;
		}
		if (e->hash == s->hash && e->nk == s->nk && e->nu == s->nu &&
		    !memcmp(e->k, s->k, s->nk * sizeof(s->k[0])) &&
		    !memcmp(e->u, s->u, s->nu * sizeof(s->u[0]))) {
			e->count++;
			ret = slot;
			goto out;
		}
	}
	p->lost++;
out:
	raw_spin_unlock_irqrestore(&p->lock, flags);
	return ret;
}

/*
 * Keep the sample's user registers and the top of its user stack in a
 * slot of the pool: the next free one, and once the pool is full, as
 * reservoir sampling does (Vitter's algorithm R), the n-th sample
 * replaces a random slot with probability copies_max / n, so that the
 * copies stay a uniform sample of the whole profile, not its first
 * copies_max samples (a page-fault profile takes every fault: thousands
 * a second). The random index is a hash of n and the profile's start:
 * no state, no lock. Of two handlers that drew the same slot, the second
 * leaves it: a sample without a copy, counted as such in the record.
 * copy_from_user_nofault() takes no fault and no lock, so all this is
 * safe in hard interrupt context; a page not present ends the copy there.
 */
static void khm_prof_copy(struct khm_profile *p, const struct pt_regs *uregs,
			  int stack)
{
	struct khm_psample *c;
	u64 i;
	int n;

	n = atomic_inc_return(&p->ncopies) - 1;
	if (n < 0)
		return;
	i = n;
	if (i >= p->copies_max) {
		i = mul_u64_u64_shr(hash_64(i ^ p->start_ns, 64), i + 1, 64);
		if (i >= p->copies_max)
			return;
	}
	c = (struct khm_psample *)(p->copies + i * p->stride);
	if (atomic_cmpxchg(&c->busy, 0, 1))
		return;
	c->stack = stack;
	khm_regs_to_user(uregs, c->regs);
	c->sp = uregs->sp;
	c->len = khm_copy_ustack_nofault(c->data, p->copy_bytes, uregs->sp);
	atomic_set_release(&c->busy, 0);
}

/* Slots filled: every handler has returned when this is read. */
static u32 khm_prof_ncopies(struct khm_profile *p)
{
	int n = atomic_read(&p->ncopies);

	return n < 0 ? p->copies_max : min_t(u32, n, p->copies_max);
}

/*
 * The interrupted context's stacks: kernel frames (this handler's own
 * dropped, up to the interrupted one) and the user frames a frame-pointer
 * walk finds. Returns the user registers the stack copy starts from, NULL
 * for a kernel thread. Safe in hard interrupt and NMI context; the
 * profiles and the flight recorder both sample through it.
 */
struct pt_regs *khm_sample_stacks(struct pt_regs *regs, unsigned long *k,
				  u8 *nk, u64 *u, u8 *nu)
{
	struct pt_regs *uregs = NULL;
	bool fault, trunc;
	u32 i, n = 0;

	*nk = 0;
	*nu = 0;
	if (!user_mode(regs)) {
		n = stack_trace_save(k, KHOLMES_PROFILE_FRAMES, 0);
		/* drop this handler's own frames, up to the interrupted one */
		for (i = 0; i < n && k[i] != instruction_pointer(regs); i++)
			;
		if (i < n) {
			n -= i;
			memmove(k, k + i, n * sizeof(k[0]));
		}
		*nk = n;
		if (!(current->flags & PF_KTHREAD))
			uregs = task_pt_regs(current);
	} else {
		uregs = regs;
	}
	if (uregs)
		*nu = khe_fp_walk(uregs->ip, uregs->bp, TASK_SIZE_MAX,
				  khm_prof_read, NULL, u, KHOLMES_PROFILE_FRAMES,
				  &fault, &trunc);
	return uregs;
}

static void khm_prof_handler(struct perf_event *event,
			     struct perf_sample_data *data,
			     struct pt_regs *regs)
{
	struct khm_profile *p = event->overflow_handler_context;
	struct pt_regs *uregs;
	struct khm_pstack s;
	int slot;
	u64 t0;

	if (current->tgid != p->tgid || (current->flags & PF_EXITING))
		return;
	t0 = local_clock();
	uregs = khm_sample_stacks(regs, s.k, &s.nk, s.u, &s.nu);
	slot = khm_prof_count(p, &s);
	if (uregs && p->copies && slot >= 0)
		khm_prof_copy(p, uregs, slot);
	/* racy but only read at the end, after the events are gone */
	p->handler_ns += local_clock() - t0;
}

/*
 * Release the per-CPU events of @events (nr_cpu_ids slots, NULL where
 * none), then wait for every handler still running on them. A software
 * event is found under rcu_read_lock() by do_perf_sw_event(), which then
 * calls the handler even if the removal IPI has unhooked the event
 * meanwhile (and on a preemptible RCU that reader can be preempted
 * there). After the grace period no handler runs on what the events
 * point to, nor in this module's text: only then may that be read for a
 * result or freed. Profiles and the flight recorder both end this way.
 */
void khm_perf_release_all(struct perf_event **events)
{
	bool any = false;
	int cpu;

	if (!events)
		return;
	for_each_possible_cpu(cpu) {
		if (events[cpu]) {
			perf_event_release_kernel(events[cpu]);
			events[cpu] = NULL;
			any = true;
		}
	}
	if (any)
		synchronize_rcu();
}

static void khm_prof_release(struct khm_profile *p)
{
	khm_perf_release_all(p->events);
}

static void khm_prof_free(struct khm_profile *p)
{
	khm_rec_release(&p->maps);
	khm_free(p->events, array_size(nr_cpu_ids, sizeof(*p->events)));
	khm_free(p->table, array_size(KHM_PSTACKS, sizeof(*p->table)));
	khm_free(p->copies, array_size(p->copies_max, p->stride));
	put_pid(p->pid);
	khm_free(p, sizeof(*p));
}

/*
 * A stack's kernel frames as KHOLMES_PSTACK_KFRAME strings in the record
 * begun at nest. 32 long symbols (a module's run to hundreds of bytes)
 * overflow a record: the outermost frames give way to a marker that keeps
 * the record whole.
 */
void khm_put_kframes(struct khm_rec *r, size_t nest, const unsigned long *k,
		     u32 nk, char *sym)
{
	const char *f;
	u32 j;

	for (j = 0; j < nk; j++) {
		f = khm_ksym(sym, k[j]);
		if (r->len - nest + nla_total_size(strlen(f) + 1) +
		    nla_total_size(sizeof(KHM_KFRAMES_CUT)) >
		    KHOLMES_RECORD_MAX) {
			khm_rec_str(r, KHOLMES_PSTACK_KFRAME, KHM_KFRAMES_CUT);
			break;
		}
		khm_rec_str(r, KHOLMES_PSTACK_KFRAME, f);
	}
}

static void khm_prof_write(struct khm_rec *r, struct khm_profile *p,
			   u64 duration, char *sym)
{
	u32 i, j, kept, ncopies = khm_prof_ncopies(p);
	const struct khm_pstack *e;
	const struct khm_psample *c;
	size_t nest;
	u64 nlost;

	nest = khm_rec_nest_start(r, KHOLMES_A_PROFILE);
	khm_rec_u32(r, KHOLMES_PROFILE_KIND, p->kind);
	khm_rec_u32(r, KHOLMES_PROFILE_FLAGS,
		    p->flags | (p->copies ? KHOLMES_PROFILE_F_COPIES_UNIFORM : 0));
	khm_rec_u32(r, KHOLMES_PROFILE_HZ, p->hz);
	khm_rec_u64(r, KHOLMES_PROFILE_PERIOD, p->period);
	khm_rec_u32(r, KHOLMES_PROFILE_SECONDS, p->seconds);
	khm_rec_u64(r, KHOLMES_PROFILE_DURATION_NS, duration);
	khm_rec_u64(r, KHOLMES_PROFILE_SAMPLES, p->samples);
	khm_rec_u64(r, KHOLMES_PROFILE_LOST, p->lost);
	khm_rec_u32(r, KHOLMES_PROFILE_STACKS, p->nstacks);
	khm_rec_u64(r, KHOLMES_PROFILE_START_RSS_ANON, p->start_rss_anon);
	khm_rec_u64(r, KHOLMES_PROFILE_START_RSS_FILE, p->start_rss_file);
	khm_rec_u64(r, KHOLMES_PROFILE_START_VM, p->start_vm);
	/*
	 * Samples with no copy: not drawn into the pool, nothing readable
	 * at sp, or a slot another handler held.
	 */
	for (i = 0, kept = 0; i < ncopies; i++) {
		c = (const struct khm_psample *)(p->copies + (size_t)i * p->stride);
		kept += c->len ? 1 : 0;
	}
	nlost = p->samples - p->lost > kept ? p->samples - p->lost - kept : 0;
	khm_rec_u32(r, KHOLMES_PROFILE_COPY_BYTES, p->copies ? p->copy_bytes : 0);
	khm_rec_u64(r, KHOLMES_PROFILE_COPIES, kept);
	khm_rec_u64(r, KHOLMES_PROFILE_COPIES_LOST, p->copies ? nlost : 0);
	if (p->end_rss) {
		khm_rec_u64(r, KHOLMES_PROFILE_END_RSS_ANON, p->end_rss_anon);
		khm_rec_u64(r, KHOLMES_PROFILE_END_RSS_FILE, p->end_rss_file);
	}
	khm_rec_nest_end(r, nest);

	for (i = 0; i < KHM_PSTACKS; i++) {
		e = &p->table[i];
		if (!e->count)
			continue;
		nest = khm_rec_nest_start(r, KHOLMES_A_PSTACK);
		khm_rec_u32(r, KHOLMES_PSTACK_COUNT, e->count);
		khm_rec_u32(r, KHOLMES_PSTACK_ID, i);
		khm_rec_put(r, KHOLMES_PSTACK_UFRAMES, e->u,
			    e->nu * sizeof(e->u[0]));
		khm_put_kframes(r, nest, e->k, e->nk, sym);
		khm_rec_nest_end(r, nest);
	}

	for (i = 0; i < ncopies; i++) {
		c = (const struct khm_psample *)(p->copies + (size_t)i * p->stride);
		if (!c->len)
			continue;
		nest = khm_rec_nest_start(r, KHOLMES_A_PSAMPLE);
		khm_rec_u32(r, KHOLMES_PSAMPLE_STACK, c->stack);
		khm_rec_put(r, KHOLMES_PSAMPLE_UREGS, c->regs, sizeof(c->regs));
		khm_rec_u64(r, KHOLMES_PSAMPLE_SP, c->sp);
		khm_rec_u32(r, KHOLMES_PSAMPLE_LEN, c->len);
		khm_rec_nest_end(r, nest);
		for (j = 0; j < c->len; j += KHOLMES_USTACK_CHUNK) {
			nest = khm_rec_nest_start(r, KHOLMES_A_PSAMPLE_STACK);
			khm_rec_u32(r, KHOLMES_USTACK_OFFSET, j);
			khm_rec_put(r, KHOLMES_USTACK_DATA, c->data + j,
				    min_t(u32, KHOLMES_USTACK_CHUNK,
					  c->len - j));
			khm_rec_nest_end(r, nest);
		}
	}
}

/* Stop sampling, turn the table into a capture and queue it. */
static void khm_prof_finish(struct khm_profile *p)
{
	u64 duration = ktime_get_ns() - p->start_ns, vm;
	struct task_struct *task;
	struct khm_rec body;
	char *sym;

	khm_prof_release(p);
	/*
	 * The resident size when sampling stopped, not when the capture is
	 * taken: a process that goes on faulting would show growth no
	 * sample saw (run 36, 6.1: 34 MiB grown, 23 of them sampled).
	 */
	task = get_pid_task(p->pid, PIDTYPE_TGID);
	if (task) {
		p->end_rss = khm_task_rss(task, &p->end_rss_anon,
					  &p->end_rss_file, &vm);
		put_task_struct(task);
	}
	/*
	 * Sampling is over: the next profile may start while this one is
	 * written out, and none is running once its capture is queued.
	 */
	mutex_lock(&khm_lock);
	khm_stats.profiles++;
	khm_stats.profile_samples += p->samples;
	khm_stats.profile_ns += p->handler_ns;
	khm_prof = NULL;
	mutex_unlock(&khm_lock);

	sym = khm_alloc(KSYM_SYMBOL_LEN);
	khm_rec_init(&body, (u64)KHOLMES_MAX_QUEUE_KB_MAX * 1024);
	if (sym)
		khm_prof_write(&body, p, duration, sym);
	else
		body.err = -ENOMEM;
	khm_capture_profile(p->id, p->pid, &p->trig, p->profile_of, p->kind,
			    &body, p->nmaps > 0 ? &p->maps : NULL,
			    max(p->nmaps, 0), p->comm);
	khm_rec_release(&body);
	khm_free(sym, KSYM_SYMBOL_LEN);
}

static void khm_prof_work(struct work_struct *work)
{
	u64 now = ktime_get_ns(), end;
	struct khm_profile *p;

	/*
	 * Only this work frees the profile, so it may read it unlocked: at
	 * the first poll it keeps the target's mappings (file I/O for their
	 * build-ids, not under khm_lock), so that a target gone by the end
	 * can still be symbolised.
	 */
	p = READ_ONCE(khm_prof);
	if (p && !p->snapped) {
		p->snapped = true;
		p->nmaps = khm_capture_maps(p->pid, &p->maps, p->comm);
	}

	/* the decision to end is taken under the lock that unload takes */
	mutex_lock(&khm_lock);
	p = khm_prof;
	if (!p || p->finishing) {
		mutex_unlock(&khm_lock);
		return;
	}
	end = p->start_ns + (u64)p->seconds * NSEC_PER_SEC;
	if (!pid_has_task(p->pid, PIDTYPE_TGID)) {
		p->flags |= KHOLMES_PROFILE_F_EXITED;
	} else if (khm_pstopping) {
		p->flags |= KHOLMES_PROFILE_F_UNLOADED;
	} else if (now < end) {
		queue_delayed_work(khm_pwq, &khm_pwork,
				   min_t(u64, msecs_to_jiffies(KHM_PROFILE_POLL_MS),
					 nsecs_to_jiffies(end - now) + 1));
		mutex_unlock(&khm_lock);
		return;
	}
	p->finishing = true;
	mutex_unlock(&khm_lock);

	khm_prof_finish(p);
	khm_prof_free(p);
}

/*
 * The pool of stack copies: one slot per sample expected (hz x seconds on
 * every online CPU, for a cpu profile), within a quarter of max-queue-kb,
 * where the capture will be queued, and KHM_PCOPIES_MAX. Without it
 * (user-stack-kb 0, no memory) the profile has frame-pointer walks only.
 */
static void khm_prof_pool(struct khm_profile *p, enum kholmes_profile_kind kind,
			  u32 seconds, u32 hz)
{
	u64 bytes = min_t(u64, (u64)khm_cfg.max_queue_kb * 1024 / 4,
			  KHM_PCOPIES_MAX), want;

	p->copy_bytes = min_t(u32, khm_cfg.user_stack_kb,
			      KHOLMES_PROFILE_COPY_KB_MAX) * 1024;
	if (!p->copy_bytes)
		return;
	p->stride = ALIGN(sizeof(struct khm_psample) + p->copy_bytes, 8);
	want = bytes / p->stride;
	if (kind == KHOLMES_PROFILE_CPU)
		want = min_t(u64, want,
			     (u64)seconds * hz * num_online_cpus());
	p->copies_max = min_t(u64, want, INT_MAX / 2);
	if (!p->copies_max)
		return;
	p->copies = khm_alloc(array_size(p->copies_max, p->stride));
	if (!p->copies)
		p->copies_max = 0;
}

/*
 * Start a profile of the process behind pid. Called with khm_lock held
 * (config and the one running profile). Returns the capture id it will
 * have in *id, -EBUSY while another profile runs.
 */
int khm_profile_start(struct pid *pid, enum kholmes_profile_kind kind,
		      u32 seconds, u32 hz, const struct khm_trigger *trig,
		      u64 profile_of, u64 *id, struct netlink_ext_ack *extack)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
	};
	struct task_struct *task;
	struct perf_event *ev;
	struct khm_profile *p;
	int cpu, ret, n = 0;

	lockdep_assert_held(&khm_lock);
	if (khm_prof || khm_pstopping) {
		NL_SET_ERR_MSG(extack, "a profile is already running");
		return -EBUSY;
	}
	task = get_pid_task(pid, PIDTYPE_TGID);
	if (!task) {
		NL_SET_ERR_MSG(extack, "no process with that pid");
		return -ESRCH;
	}
	if (kind == KHOLMES_PROFILE_FAULTS && (task->flags & PF_KTHREAD)) {
		put_task_struct(task);
		NL_SET_ERR_MSG(extack,
			       "a kernel thread has no page faults to profile");
		return -EINVAL;
	}

	ret = -ENOMEM;
	p = khm_alloc(sizeof(*p));
	if (!p)
		goto err_task;
	p->events = khm_alloc(array_size(nr_cpu_ids, sizeof(*p->events)));
	p->table = khm_alloc(array_size(KHM_PSTACKS, sizeof(*p->table)));
	p->pid = get_pid(pid);
	if (!p->events || !p->table)
		goto err_free;
	raw_spin_lock_init(&p->lock);
	khm_rec_init(&p->maps, (size_t)KHOLMES_RECORD_MAX * 1024);
	p->tgid = task->tgid;
	p->kind = kind;
	p->seconds = seconds;
	p->hz = kind == KHOLMES_PROFILE_CPU ? hz : 0;
	p->period = kind == KHOLMES_PROFILE_CPU ? div_u64(NSEC_PER_SEC, hz) :
		    khm_cfg.fault_period;
	p->trig = *trig;
	p->profile_of = profile_of;
	khm_task_rss(task, &p->start_rss_anon, &p->start_rss_file,
		     &p->start_vm);
	khm_prof_pool(p, kind, seconds, hz);
	put_task_struct(task);
	task = NULL;

	attr.config = kind == KHOLMES_PROFILE_CPU ? PERF_COUNT_SW_CPU_CLOCK :
						    PERF_COUNT_SW_PAGE_FAULTS;
	attr.sample_period = p->period;
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		ev = perf_event_create_kernel_counter(&attr, cpu, NULL,
						      khm_prof_handler, p);
		if (IS_ERR(ev)) {
			ret = PTR_ERR(ev);
			break;
		}
		p->events[cpu] = ev;
		n++;
	}
	cpus_read_unlock();
	if (!n) {
		NL_SET_ERR_MSG(extack, "the perf software event is unavailable");
		goto err_free;
	}

	p->id = khm_capture_next_id();
	p->start_ns = ktime_get_ns();
	khm_prof = p;
	*id = p->id;
	queue_delayed_work(khm_pwq, &khm_pwork,
			   msecs_to_jiffies(KHM_PROFILE_POLL_MS));
	khm_notify_profile(p->id, p->tgid, profile_of, kind);
	return 0;

err_free:
	khm_prof_release(p);
	khm_prof_free(p);
err_task:
	if (task)
		put_task_struct(task);
	return ret;
}

bool khm_profile_running(void)
{
	lockdep_assert_held(&khm_lock);
	return khm_prof;
}

int khm_profile_init(void)
{
	khm_pwq = alloc_workqueue("kholmes_profile", WQ_UNBOUND, 1);
	if (!khm_pwq)
		return -ENOMEM;
	INIT_DELAYED_WORK(&khm_pwork, khm_prof_work);
	return 0;
}

/*
 * After netlink and the sampler are gone, so nothing starts a profile: a
 * running one is ended early, its events released (after which no
 * handler runs), and what it has is queued, for the capture side's uninit
 * to free with the rest of the queue.
 */
void khm_profile_uninit(void)
{
	mutex_lock(&khm_lock);
	khm_pstopping = true;
	mutex_unlock(&khm_lock);
	/*
	 * Run the timer now: it sees khm_pstopping and ends the profile, or
	 * finds none. Requeued while it runs, it finds none the second time.
	 */
	mod_delayed_work(khm_pwq, &khm_pwork, 0);
	flush_workqueue(khm_pwq);
	cancel_delayed_work_sync(&khm_pwork);
	destroy_workqueue(khm_pwq);
}
