// SPDX-License-Identifier: GPL-2.0
/*
 * The flight recorder: an always-on software cpu-clock event per online
 * CPU at flight-hz keeps, per CPU, a ring of the last flight-s seconds of
 * samples (time, tgid, tid, comm, kernel and user stacks as the profiles
 * take them, the user registers and the top KHM_FLIGHT_COPY bytes of the
 * user stack for the controller's CFI unwinder), so that a capture can
 * show what its target did before the detection.
 *
 * Memory: flight-hz x flight-s slots of sizeof(struct khm_fslot) (about
 * 1.7 KiB) per CPU, allocated when the recorder is configured, never in
 * the handler: 19 Hz x 10 s is 190 slots, about 330 KiB per CPU. Samples
 * of the idle task are not stored, so an idle CPU's ring reaches further
 * back. CPUs that come online later are not sampled.
 *
 * The handler may run in hard interrupt or NMI context: each ring is
 * written by its own CPU only, with no lock. A slot's seq is odd while
 * it is written; a reader on another CPU copies the slot between two
 * reads of seq and drops the copy if they differ (overwritten meanwhile)
 * or are odd (torn), counting it in KHOLMES_STAT_FLIGHT_DROPPED. The
 * rings are replaced or freed only under khm_flight_lock, after their
 * events are released and an RCU grace period has passed, so no handler
 * writes them any more and no reader holds them.
 */
#include <linux/cpumask.h>
#include <linux/jhash.h>
#include <linux/log2.h>
#include <linux/kallsyms.h>
#include <linux/ktime.h>
#include <linux/mutex.h>
#include <linux/perf_event.h>
#include <linux/sched/clock.h>
#include <linux/timekeeping.h>
#include <linux/sort.h>
#include <net/netlink.h>

#include "khm.h"

#define KHM_FLIGHT_COPY		1024	/* user stack bytes per sample */
#define KHM_FLIGHT_HOST_MAX	4096	/* slots of the host stacks' table */

struct khm_fslot {
	u32 seq;		/* odd while its CPU writes it, 0 never written */
	u8 nk;
	u8 nu;
	u16 len;		/* bytes of data copied */
	pid_t tgid;
	pid_t tid;
	u64 t;			/* ktime_get_mono_fast_ns() */
	u64 sp;
	char comm[TASK_COMM_LEN];
	u64 regs[KHOLMES_NR_UREGS];
	unsigned long k[KHOLMES_PROFILE_FRAMES];
	u64 u[KHOLMES_PROFILE_FRAMES];
	u8 data[KHM_FLIGHT_COPY];
};

struct khm_fring {
	u32 next;		/* the slot written next, by its CPU only */
	u32 nslots;
	bool wrapped;		/* every slot written at least once */
	u64 samples;		/* racy counters, for status */
	u64 ns;
	struct khm_fslot slots[];
};

/* Rings and events, replaced and freed under khm_flight_lock. */
struct khm_flight {
	u32 hz;
	u32 seconds;
	u32 nslots;
	u64 since_ns;		/* sampling since, mono fast clock */
	u64 bytes;
	struct khm_fring **rings;	/* nr_cpu_ids, NULL: CPU not sampled */
	struct perf_event **events;
};

static DEFINE_MUTEX(khm_flight_lock);
static struct khm_flight *khm_fl;
static atomic64_t khm_fl_dropped;
static u64 khm_fl_old_samples;	/* of replaced rings, under the lock */
static u64 khm_fl_old_ns;

static size_t khm_fring_size(u32 nslots)
{
	return sizeof(struct khm_fring) +
	       array_size(nslots, sizeof(struct khm_fslot));
}

static void khm_flight_handler(struct perf_event *event,
			       struct perf_sample_data *data,
			       struct pt_regs *regs)
{
	struct khm_fring *r = event->overflow_handler_context;
	struct pt_regs *uregs;
	struct khm_fslot *s;
	u64 t0;
	u32 seq;

	if (is_idle_task(current) || (current->flags & PF_EXITING))
		return;
	t0 = local_clock();
	s = &r->slots[r->next];
	seq = s->seq + 1;
	WRITE_ONCE(s->seq, seq);
	smp_wmb();	/* seq odd before the slot changes */
	s->t = ktime_get_mono_fast_ns();
	s->tgid = current->tgid;
	s->tid = current->pid;
	memcpy(s->comm, current->comm, sizeof(s->comm));
	s->comm[sizeof(s->comm) - 1] = '\0';
	uregs = khm_sample_stacks(regs, s->k, &s->nk, s->u, &s->nu);
	s->len = 0;
	if (uregs) {
		khm_regs_to_user(uregs, s->regs);
		s->sp = uregs->sp;
		s->len = khm_copy_ustack_nofault(s->data, sizeof(s->data),
						 uregs->sp);
	}
	smp_wmb();	/* the slot whole before seq is even again */
	WRITE_ONCE(s->seq, seq + 1);
	if (r->next + 1 == r->nslots)
		r->wrapped = true;
	r->next = (r->next + 1) % r->nslots;
	r->samples++;
	r->ns += local_clock() - t0;
}

/* Copy slot i of r into out; false if it was never written, torn or overwritten. */
static bool khm_fslot_read(const struct khm_fring *r, u32 i,
			   struct khm_fslot *out, u32 *seqp)
{
	const struct khm_fslot *s = &r->slots[i];
	u32 seq = READ_ONCE(s->seq);

	if (!seq)
		return false;
	smp_rmb();	/* seq before the slot, as written in reverse */
	memcpy(out, s, sizeof(*out));
	smp_rmb();	/* the slot before seq again */
	if ((seq & 1) || READ_ONCE(s->seq) != seq) {
		atomic64_inc(&khm_fl_dropped);
		return false;
	}
	if (seqp)
		*seqp = seq;
	return true;
}

/* Release the events; after the grace period no handler writes a ring. */
static void khm_flight_stop(struct khm_flight *f)
{
	khm_perf_release_all(f->events);
}

static void khm_flight_free(struct khm_flight *f)
{
	int cpu;

	if (!f)
		return;
	/* khm_flight_alloc() comes here when the array itself failed */
	for_each_possible_cpu(cpu) {
		if (!f->rings)
			break;
		khm_free(f->rings[cpu], khm_fring_size(f->nslots));
	}
	khm_free(f->rings, array_size(nr_cpu_ids, sizeof(*f->rings)));
	khm_free(f->events, array_size(nr_cpu_ids, sizeof(*f->events)));
	khm_free(f, sizeof(*f));
}

/* Rings for every online CPU, no events yet; NULL without memory. */
static struct khm_flight *khm_flight_alloc(u32 hz, u32 seconds)
{
	struct khm_flight *f = khm_alloc(sizeof(*f));
	int cpu;

	if (!f)
		return NULL;
	f->hz = hz;
	f->seconds = seconds;
	f->nslots = hz * seconds;
	f->rings = khm_alloc(array_size(nr_cpu_ids, sizeof(*f->rings)));
	f->events = khm_alloc(array_size(nr_cpu_ids, sizeof(*f->events)));
	if (!f->rings || !f->events)
		goto fail;
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		f->rings[cpu] = khm_alloc(khm_fring_size(f->nslots));
		if (!f->rings[cpu]) {
			cpus_read_unlock();
			goto fail;
		}
		f->rings[cpu]->nslots = f->nslots;
		f->bytes += khm_fring_size(f->nslots);
	}
	cpus_read_unlock();
	return f;
fail:
	khm_flight_free(f);
	return NULL;
}

/* One event per CPU that has a ring; returns how many started. */
static int khm_flight_start(struct khm_flight *f)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_period = div_u64(NSEC_PER_SEC, f->hz),
	};
	struct perf_event *ev;
	int cpu, n = 0;

	f->since_ns = ktime_get_mono_fast_ns();
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		if (!f->rings[cpu])
			continue;
		ev = perf_event_create_kernel_counter(&attr, cpu, NULL,
						      khm_flight_handler,
						      f->rings[cpu]);
		if (IS_ERR(ev))
			continue;
		f->events[cpu] = ev;
		n++;
	}
	cpus_read_unlock();
	return n;
}

static void khm_flight_retire(struct khm_flight *f)
{
	int cpu;

	if (!f)
		return;
	khm_flight_stop(f);
	mutex_lock(&khm_flight_lock);
	for_each_possible_cpu(cpu) {
		if (f->rings[cpu]) {
			khm_fl_old_samples += f->rings[cpu]->samples;
			khm_fl_old_ns += f->rings[cpu]->ns;
		}
	}
	mutex_unlock(&khm_flight_lock);
	khm_flight_free(f);
}

/*
 * Called with khm_lock held. Replaces the recorder by one at hz for
 * seconds (hz 0: none). The new rings are allocated before the old ones
 * go, so a refusal changes nothing; khm_cfg follows what runs.
 */
int khm_flight_set(u32 hz, u32 seconds, struct netlink_ext_ack *extack)
{
	struct khm_flight *f = NULL, *old;

	lockdep_assert_held(&khm_lock);
	if (hz == khm_cfg.flight_hz && seconds == khm_cfg.flight_s)
		return 0;
	if (hz) {
		f = khm_flight_alloc(hz, seconds);
		if (!f) {
			NL_SET_ERR_MSG(extack,
				       "no memory for the flight recorder's rings");
			return -ENOMEM;
		}
	}
	mutex_lock(&khm_flight_lock);
	old = khm_fl;
	khm_fl = NULL;
	mutex_unlock(&khm_flight_lock);
	khm_flight_retire(old);
	khm_cfg.flight_s = seconds;
	khm_cfg.flight_hz = 0;
	if (!f)
		return 0;
	if (!khm_flight_start(f)) {
		khm_flight_free(f);
		NL_SET_ERR_MSG(extack,
			       "the perf software event is unavailable: flight recorder off");
		return -EOPNOTSUPP;
	}
	mutex_lock(&khm_flight_lock);
	khm_fl = f;
	mutex_unlock(&khm_flight_lock);
	khm_cfg.flight_hz = hz;
	return 0;
}

void khm_flight_stats(struct khm_flight_stats *s)
{
	int cpu;

	memset(s, 0, sizeof(*s));
	mutex_lock(&khm_flight_lock);
	s->samples = khm_fl_old_samples;
	s->ns = khm_fl_old_ns;
	if (khm_fl) {
		s->bytes = khm_fl->bytes;
		for_each_possible_cpu(cpu) {
			if (!khm_fl->rings[cpu])
				continue;
			s->cpus += !!khm_fl->events[cpu];
			s->samples += READ_ONCE(khm_fl->rings[cpu]->samples);
			s->ns += READ_ONCE(khm_fl->rings[cpu]->ns);
		}
	}
	mutex_unlock(&khm_flight_lock);
	s->dropped = atomic64_read(&khm_fl_dropped);
}

/* A target sample found in the rings, by time. */
struct khm_fref {
	u64 t;
	u32 cpu;
	u32 slot;
	u32 seq;
};

static int khm_fref_cmp(const void *a, const void *b)
{
	const struct khm_fref *x = a, *y = b;

	return x->t < y->t ? -1 : x->t > y->t;
}

/*
 * A host stack (process and kernel frames, by hash) and how often the
 * rings hold it, with one of its samples to take its frames from.
 */
struct khm_fhost {
	u32 hash;
	u32 count;
	pid_t tgid;
	u32 cpu;
	u32 slot;
	u32 seq;
	u8 nk;
	char comm[TASK_COMM_LEN];
};

struct khm_fhosts {
	struct khm_fhost *e;
	u32 size;		/* a power of two */
	u32 used;
	u64 samples;
	u64 lost;		/* the table was full */
};

/* Count sample s (slot @slot of @cpu's ring, read at @seq). */
static void khm_fhost_count(struct khm_fhosts *t, const struct khm_fslot *s,
			    u32 cpu, u32 slot, u32 seq)
{
	u32 hash = jhash(s->k, s->nk * sizeof(s->k[0]), s->tgid ^ s->nk);
	struct khm_fhost *e;
	u32 i;

	t->samples++;
	for (i = 0; i < t->size; i++) {
		e = &t->e[(hash + i) & (t->size - 1)];
		if (e->count && e->hash == hash && e->tgid == s->tgid &&
		    e->nk == s->nk) {
			e->count++;
			return;
		}
		if (e->count)
			continue;
		/* open addressing stays quick below three quarters full */
		if (t->used >= t->size / 4 * 3)
			break;
		*e = (struct khm_fhost){ .hash = hash, .count = 1,
			.tgid = s->tgid, .cpu = cpu, .slot = slot, .seq = seq,
			.nk = s->nk };
		memcpy(e->comm, s->comm, sizeof(e->comm));
		t->used++;
		return;
	}
	t->lost++;
}

static int khm_fhost_cmp(const void *a, const void *b)
{
	const struct khm_fhost *x = a, *y = b;

	return x->count > y->count ? -1 : x->count < y->count;
}

static void khm_fsample_put(struct khm_rec *r, const struct khm_fslot *s,
			    u32 id, u64 detect_ns, char *sym)
{
	size_t nest;
	u32 j;

	nest = khm_rec_nest_start(r, KHOLMES_A_PSTACK);
	khm_rec_u32(r, KHOLMES_PSTACK_COUNT, 1);
	khm_rec_u32(r, KHOLMES_PSTACK_ID, id);
	khm_rec_u64(r, KHOLMES_PSTACK_AGO_NS, detect_ns - s->t);
	khm_rec_u32(r, KHOLMES_PSTACK_TID, s->tid);
	khm_rec_put(r, KHOLMES_PSTACK_UFRAMES, s->u, s->nu * sizeof(s->u[0]));
	khm_put_kframes(r, nest, s->k, s->nk, sym);
	khm_rec_nest_end(r, nest);
	if (!s->len)
		return;
	nest = khm_rec_nest_start(r, KHOLMES_A_PSAMPLE);
	khm_rec_u32(r, KHOLMES_PSAMPLE_STACK, id);
	khm_rec_put(r, KHOLMES_PSAMPLE_UREGS, s->regs, sizeof(s->regs));
	khm_rec_u64(r, KHOLMES_PSAMPLE_SP, s->sp);
	khm_rec_u32(r, KHOLMES_PSAMPLE_LEN, s->len);
	khm_rec_nest_end(r, nest);
	for (j = 0; j < s->len; j += KHOLMES_USTACK_CHUNK) {
		nest = khm_rec_nest_start(r, KHOLMES_A_PSAMPLE_STACK);
		khm_rec_u32(r, KHOLMES_USTACK_OFFSET, j);
		khm_rec_put(r, KHOLMES_USTACK_DATA, s->data + j,
			    min_t(u32, KHOLMES_USTACK_CHUNK, s->len - j));
		khm_rec_nest_end(r, nest);
	}
}

static void khm_fprofile_put(struct khm_rec *r, u32 kind,
			     const struct khm_flight *f, u64 covered,
			     u64 samples, u64 lost, u32 stacks)
{
	size_t nest = khm_rec_nest_start(r, KHOLMES_A_PROFILE);

	khm_rec_u32(r, KHOLMES_PROFILE_KIND, kind);
	khm_rec_u32(r, KHOLMES_PROFILE_HZ, f->hz);
	khm_rec_u64(r, KHOLMES_PROFILE_PERIOD, div_u64(NSEC_PER_SEC, f->hz));
	khm_rec_u32(r, KHOLMES_PROFILE_SECONDS, f->seconds);
	khm_rec_u64(r, KHOLMES_PROFILE_DURATION_NS, covered);
	khm_rec_u64(r, KHOLMES_PROFILE_SAMPLES, samples);
	khm_rec_u64(r, KHOLMES_PROFILE_LOST, lost);
	khm_rec_u32(r, KHOLMES_PROFILE_STACKS, stacks);
	if (kind == KHOLMES_PROFILE_BEFORE)
		khm_rec_u32(r, KHOLMES_PROFILE_COPY_BYTES, KHM_FLIGHT_COPY);
	khm_rec_nest_end(r, nest);
}

/* Append what fits of from to r, or nothing: a capture never fails for it. */
static void khm_flight_append(struct khm_rec *r, const struct khm_rec *head,
			      const struct khm_rec *from)
{
	size_t mark = r->len;

	if (r->err || head->err || from->err)
		return;
	khm_rec_append(r, head);
	khm_rec_append(r, from);
	if (r->err == -E2BIG) {
		r->len = mark;
		r->err = 0;
	}
}

/* The most sampled host stacks, as a KHOLMES_PROFILE_HOST record. */
static void khm_fhost_put(struct khm_rec *r, struct khm_fhosts *t,
			  const struct khm_flight *f, u64 covered,
			  struct khm_fslot *s, char *sym, size_t budget)
{
	struct khm_rec head, body;
	u32 i, n = 0, seq;
	size_t nest;

	for (i = 0; i < t->size; i++)
		if (t->e[i].count)
			t->e[n++] = t->e[i];
	sort(t->e, n, sizeof(*t->e), khm_fhost_cmp, NULL);
	n = min_t(u32, n, KHOLMES_FLIGHT_HOST_TOP);
	khm_rec_init(&head, KHOLMES_RECORD_MAX);
	khm_rec_init(&body, budget);
	for (i = 0; i < n; i++) {
		const struct khm_fhost *e = &t->e[i];

		nest = khm_rec_nest_start(&body, KHOLMES_A_PSTACK);
		khm_rec_u32(&body, KHOLMES_PSTACK_COUNT, e->count);
		khm_rec_u32(&body, KHOLMES_PSTACK_PID, e->tgid);
		khm_rec_str(&body, KHOLMES_PSTACK_COMM, e->comm);
		/* its frames, unless the slot was written since */
		if (khm_fslot_read(f->rings[e->cpu], e->slot, s, &seq) &&
		    seq == e->seq)
			khm_put_kframes(&body, nest, s->k, s->nk, sym);
		khm_rec_nest_end(&body, nest);
	}
	khm_fprofile_put(&head, KHOLMES_PROFILE_HOST, f, covered, t->samples,
			 t->lost, n);
	khm_flight_append(r, &head, &body);
	khm_rec_release(&head);
	khm_rec_release(&body);
}

/*
 * After a capture's threads: the target's samples from before detect_ns
 * (mono fast clock) within flight-s, newest first within budget bytes,
 * written oldest first; with host, the host's most sampled stacks of the
 * same seconds. Runs in the capture worker; allocates, never waits on a
 * handler.
 */
void khm_flight_write(struct khm_rec *r, pid_t tgid, u64 detect_ns,
		      bool host, size_t budget)
{
	u64 from, covered_from, lost = 0, cost;
	struct khm_fhosts ht = { 0 };
	struct khm_fref *refs = NULL;
	struct khm_rec head, body;
	struct khm_fslot *s;
	struct khm_flight *f;
	u32 nrefs = 0, i, seq, first;
	size_t nmax = 0;
	char *sym;
	int cpu;

	khm_rec_init(&head, KHOLMES_RECORD_MAX);
	khm_rec_init(&body, budget);
	s = khm_alloc(sizeof(*s));
	sym = khm_alloc(KSYM_SYMBOL_LEN);
	if (!s || !sym)
		goto out;
	mutex_lock(&khm_flight_lock);
	f = khm_fl;
	if (!f)
		goto unlock;
	nmax = array_size(nr_cpu_ids, f->nslots);
	refs = khm_alloc(array_size(nmax, sizeof(*refs)));
	if (host) {
		ht.size = min_t(u32, roundup_pow_of_two(max_t(size_t, 2 * nmax,
							      16)),
				KHM_FLIGHT_HOST_MAX);
		ht.e = khm_alloc(array_size(ht.size, sizeof(*ht.e)));
	}
	if (!refs || (host && !ht.e))
		goto unlock;
	from = detect_ns - min_t(u64, detect_ns,
				 (u64)f->seconds * NSEC_PER_SEC);
	covered_from = max(from, f->since_ns);
	for_each_possible_cpu(cpu) {
		const struct khm_fring *ring = f->rings[cpu];
		u64 oldest = U64_MAX;

		if (!ring)
			continue;
		for (i = 0; i < ring->nslots; i++) {
			if (!khm_fslot_read(ring, i, s, &seq))
				continue;
			oldest = min(oldest, s->t);
			if (s->t >= detect_ns || s->t < from)
				continue;
			if (s->tgid == tgid && nrefs < nmax)
				refs[nrefs++] = (struct khm_fref){
					.t = s->t, .cpu = cpu, .slot = i,
					.seq = seq };
			if (ht.e)
				khm_fhost_count(&ht, s, cpu, i, seq);
		}
		/* a full ring reaches back only to its oldest sample */
		if (READ_ONCE(ring->wrapped) && oldest != U64_MAX)
			covered_from = max(covered_from, oldest);
		cond_resched();
	}
	sort(refs, nrefs, sizeof(*refs), khm_fref_cmp, NULL);
	/* the newest samples that fit the budget, by a generous estimate */
	for (first = nrefs, cost = 0; first > 0; first--) {
		cost += 512 + KHM_FLIGHT_COPY +
			KHOLMES_PROFILE_FRAMES * (KSYM_NAME_LEN / 4);
		if (cost > budget)
			break;
	}
	lost += first;
	for (i = first; i < nrefs; i++) {
		size_t mark = body.len;

		if (!khm_fslot_read(f->rings[refs[i].cpu], refs[i].slot, s,
				    &seq) || seq != refs[i].seq) {
			lost++;
			continue;
		}
		khm_fsample_put(&body, s, i - first, detect_ns, sym);
		if (body.err == -E2BIG) {
			body.len = mark;
			body.err = 0;
			lost += nrefs - i;
			break;
		}
	}
	khm_fprofile_put(&head, KHOLMES_PROFILE_BEFORE, f,
			 detect_ns - min(detect_ns, covered_from),
			 nrefs - lost, lost, nrefs - lost);
	khm_flight_append(r, &head, &body);
	if (ht.e)
		khm_fhost_put(r, &ht, f, detect_ns - min(detect_ns, covered_from),
			      s, sym, budget);
unlock:
	mutex_unlock(&khm_flight_lock);
out:
	khm_rec_release(&head);
	khm_rec_release(&body);
	khm_free(refs, array_size(nmax, sizeof(*refs)));
	khm_free(ht.e, array_size(ht.size, sizeof(*ht.e)));
	khm_free(sym, KSYM_SYMBOL_LEN);
	khm_free(s, sizeof(*s));
}

int khm_flight_init(void)
{
	u32 hz = khm_cfg.flight_hz;
	int ret;

	/* khm_flight_set() starts from "off" */
	khm_cfg.flight_hz = 0;
	if (!hz)
		return 0;
	mutex_lock(&khm_lock);
	ret = khm_flight_set(hz, khm_cfg.flight_s, NULL);
	mutex_unlock(&khm_lock);
	/* not worth failing the load for: status says it is off */
	if (ret)
		pr_warn("flight recorder off: %d\n", ret);
	return 0;
}

void khm_flight_uninit(void)
{
	struct khm_flight *f;

	mutex_lock(&khm_flight_lock);
	f = khm_fl;
	khm_fl = NULL;
	mutex_unlock(&khm_flight_lock);
	if (f) {
		khm_flight_stop(f);
		khm_flight_free(f);
	}
}
