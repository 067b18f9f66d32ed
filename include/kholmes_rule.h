/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * holmes' rule, as pure arithmetic that the module and the host unit tests
 * compile alike: no allocation, no locking, no kernel or libc calls.
 *
 *   fire = value >= min &&
 *          (value >= avg * (1 + diff / 100) || (value >= abs && avg >= abs))
 *
 * where avg is the mean of the previous `window` samples, so that a spike is
 * not diluted by itself. The ceiling holds for a whole window and the
 * current sample: a process that has run hot since its first instruction
 * has no quiet history to jump from, and abs is what catches it, once its
 * window is full; a single sample over abs is the relative rule's business.
 * A cpu jump must hold for two samples (KHR_CPU_HOLD, below).
 *
 * A rule that fires again without having been quiet in between is one
 * episode that goes on (a batch job pegged for an hour): each fire of it
 * doubles the cooldown before the next, up to KHR_STREAK_MAX doublings.
 * Once the rule has been quiet, the next fire starts a new episode with the
 * configured cooldown, as holmes does. A jump back to a level the process
 * held within the cooldown is a return, not a spike (khr_level_known()).
 * Values are fixed point (KHOLMES_VALUE_SCALE), rule
 * thresholds whole units. Every sum and product saturates at U64_MAX rather
 * than wrapping, so a huge average can only make a rule harder to fire,
 * never fire it by overflow.
 */
#ifndef _KHOLMES_RULE_H
#define _KHOLMES_RULE_H

#include "kholmes.h"

#ifdef __KERNEL__
#include <linux/math64.h>
#include <linux/types.h>
#define KHR_U64_MAX	U64_MAX
#define khr_div(a, b)	div64_u64((a), (b))
#else
#include <stdbool.h>
#include <stdint.h>
#define KHR_U64_MAX	UINT64_MAX
#define khr_div(a, b)	((a) / (b))
#endif

struct kholmes_rule_cfg {
	__u32 min;		/* units */
	__u32 diff;		/* percent over the window average */
	__u32 abs;		/* units, 0 = no ceiling */
	__u32 cooldown_s;
	bool enabled;
};

/*
 * Shipped defaults, in units of each metric (README's defaults table says
 * why each). A rule must see a value at least twice its own recent average
 * (diff 100 or more) and above a floor that ignores idle noise. Ceilings:
 * cpu 80 % of one CPU held for a whole window (a process hot since its
 * first instruction), rss-pct 80 % of memory.max (holmes' memory abs),
 * dstate 30 s in D (hung_task's concern, whatever the history).
 */
#define KHR_DEFAULT_RULES {						\
	[KHOLMES_METRIC_CPU] = {					\
		.min = 50, .diff = 100, .abs = 80, .cooldown_s = 300,	\
		.enabled = true },					\
	[KHOLMES_METRIC_RSS] = {					\
		.min = 256, .diff = 50, .abs = 0, .cooldown_s = 300,	\
		.enabled = true },					\
	[KHOLMES_METRIC_RSS_PCT] = {					\
		.min = 50, .diff = 25, .abs = 80, .cooldown_s = 300,	\
		.enabled = true },					\
	[KHOLMES_METRIC_THREADS] = {					\
		.min = 64, .diff = 100, .abs = 0, .cooldown_s = 3600,	\
		.enabled = true },					\
	[KHOLMES_METRIC_CTXSW] = {					\
		.min = 10000, .diff = 200, .abs = 0, .cooldown_s = 300,	\
		.enabled = true },					\
	[KHOLMES_METRIC_RUNDELAY] = {					\
		.min = 200, .diff = 200, .abs = 0, .cooldown_s = 300,	\
		.enabled = true },					\
	[KHOLMES_METRIC_MAJFLT] = {					\
		.min = 100, .diff = 200, .abs = 0, .cooldown_s = 300,	\
		.enabled = true },					\
	[KHOLMES_METRIC_DSTATE] = {					\
		.min = 5000, .diff = 100, .abs = 30000, .cooldown_s = 600, \
		.enabled = true },					\
}

enum kholmes_verdict {
	KHOLMES_V_OFF,		/* rule switched off */
	KHOLMES_V_WARMUP,	/* window not full yet */
	KHOLMES_V_QUIET,	/* evaluated, did not fire */
	KHOLMES_V_FIRE,
	KHOLMES_V_SUPPRESSED,	/* would fire, but inside the cooldown */
	KHOLMES_V_HOLD,		/* jumped, not yet for KHR_HOLD samples */
	KHOLMES_V_LEVEL,	/* jumped back to a level held lately */
};

static inline __u64 khr_sat_add(__u64 a, __u64 b)
{
	return a > KHR_U64_MAX - b ? KHR_U64_MAX : a + b;
}

static inline __u64 khr_sat_mul(__u64 a, __u64 b)
{
	if (a && b > KHR_U64_MAX / a)
		return KHR_U64_MAX;
	return a * b;
}

/*
 * A window is a ring of `cap` values with a running sum; `count` stops at
 * `cap`. The sum saturates; once saturated it is recomputed from the ring
 * on each push so that it recovers when the huge values leave the window.
 */
struct khr_window {
	__u64 sum;
	__u32 head;
	__u32 count;
	__u32 cap;
};

static inline void khr_window_init(struct khr_window *w, __u32 cap)
{
	w->sum = 0;
	w->head = 0;
	w->count = 0;
	w->cap = cap;
}

static inline void khr_window_push(struct khr_window *w, __u64 *ring, __u64 v)
{
	__u32 i;

	if (!w->cap)
		return;
	if (w->count == w->cap) {
		if (w->sum == KHR_U64_MAX) {
			ring[w->head] = v;
			w->sum = 0;
			for (i = 0; i < w->cap; i++)
				w->sum = khr_sat_add(w->sum, ring[i]);
			w->head = (w->head + 1) % w->cap;
			return;
		}
		w->sum -= ring[w->head];
	} else {
		w->count++;
	}
	ring[w->head] = v;
	w->sum = khr_sat_add(w->sum, v);
	w->head = (w->head + 1) % w->cap;
}

static inline __u64 khr_window_avg(const struct khr_window *w)
{
	return w->count ? khr_div(w->sum, (__u64)w->count) : 0;
}

/* The value pushed last, partial window or full; the window holds one. */
static inline __u64 khr_window_last(const struct khr_window *w,
				    const __u64 *ring)
{
	return ring[(w->head + w->cap - 1) % w->cap];
}

/*
 * Whether a rule can fire at @value at all, whatever the average: the
 * module judges most samples of an idle host by this alone and leaves
 * the window's average (a division) uncomputed.
 */
static inline bool khr_may_fire(const struct kholmes_rule_cfg *r,
				__u64 value)
{
	return r->enabled && value >= (__u64)r->min * KHOLMES_VALUE_SCALE;
}

/* The rule's configured cooldown in ns (before any episode's doubling). */
static inline __u64 khr_rule_cooldown_ns(const struct kholmes_rule_cfg *r)
{
	return (__u64)r->cooldown_s * 1000000000ULL;
}

/* The fire condition alone: value and avg fixed point, rule in units. */
static inline bool khr_over(const struct kholmes_rule_cfg *r, __u64 value,
			    __u64 avg)
{
	__u64 abs = (__u64)r->abs * KHOLMES_VALUE_SCALE;
	__u64 thr;

	if (value < (__u64)r->min * KHOLMES_VALUE_SCALE)
		return false;
	if (r->abs && value >= abs && avg >= abs)
		return true;
	/* avg * (100 + diff) / 100, rounded up so equality means "reached" */
	thr = khr_sat_mul(avg, 100 + (__u64)r->diff);
	if (thr == KHR_U64_MAX)
		return false;
	thr = khr_div(khr_sat_add(thr, 99), 100);
	return value >= thr;
}

/*
 * Judge one sample. `samples` is how many earlier samples the window holds
 * and `window` how many it must hold before the rule may fire. Times are
 * ns on one monotonic clock; last_fire_ns 0 means never fired.
 */
static inline enum kholmes_verdict
khr_judge(const struct kholmes_rule_cfg *r, __u64 value, __u64 avg,
	  __u32 samples, __u32 window, __u64 now_ns, __u64 last_fire_ns)
{
	__u64 cool = khr_rule_cooldown_ns(r);

	if (!r->enabled)
		return KHOLMES_V_OFF;
	if (samples < window)
		return KHOLMES_V_WARMUP;
	if (!khr_over(r, value, avg))
		return KHOLMES_V_QUIET;
	if (last_fire_ns && now_ns >= last_fire_ns &&
	    now_ns - last_fire_ns < cool)
		return KHOLMES_V_SUPPRESSED;
	return KHOLMES_V_FIRE;
}

/*
 * Run delay is zero-sum on a busy host. While every CPU is busy, the
 * host's waiting is the runnable threads beyond the CPUs, wherever the
 * scheduler puts them: a process that waits more because a move put it
 * beside a busy neighbour is paid for by another that now waits less (a
 * steady stress-ng mix on 2 CPUs: one stressor from 39 to 407 ms/s, the
 * host's total unchanged). New contention raises the host's waiting too:
 * one CPU hog on an idle host makes every process beside it wait. So a
 * jump of a process's run delay stands only if the host's waiting (the
 * sum over the processes a pass saw) grew by at least half of it over its
 * own window average. value, avg: the process's; host, host_avg: the
 * sums; fixed point alike. Until the host's window is full (host_samples
 * < window) there is nothing to compare with, and the jump stands.
 */
static inline bool khr_wait_grew(__u64 value, __u64 avg, __u64 host,
				 __u64 host_avg, __u32 host_samples,
				 __u32 window)
{
	__u64 rise = value > avg ? value - avg : 0;

	if (host_samples < window)
		return true;
	return host > host_avg && host - host_avg >= rise / 2;
}

/* The cooldown grows to 1 << KHR_STREAK_MAX times the rule's: 16x. */
#define KHR_STREAK_MAX	4

/*
 * A cpu reading is the runtime the kernel charged a process over one
 * interval, and it charges in lumps: a running thread's runtime is brought
 * up to date at ticks and switches only, and a CPU that did not run for a
 * while (a vCPU its host descheduled; under emulation no steal time is
 * accounted) charges the whole gap to the thread that was current on it.
 * A process sharing CPUs at 30 % then reads 100 % for one interval and
 * 30 % the next, which is no runaway, and a capture taken after it would
 * show nothing. So a cpu jump must hold for KHR_CPU_HOLD samples, each
 * judged against the average from before the jump: a runaway is caught
 * one interval later, a lump not at all. The ceiling needs no hold: it
 * already holds for a whole window.
 */
#define KHR_CPU_HOLD	2

/*
 * A jump back to a level the process held lately is a return, not a
 * spike. A switch ping-pong pair on an emulated 2-CPU host runs at 600 or
 * at 12,000 switches a second, and at 15 or 55 % of a CPU, for seconds at
 * a time, as the scheduler puts its two ends on one CPU or apart: each
 * change back up trebles against a window that sat low, and holmes' rule
 * alone fires every time the cooldown allows. So a process remembers the
 * highest level it held (two samples running: a lump of one interval
 * holds nothing) and when it last held it, to within a quarter; once it
 * has left that level (a sample more than a quarter under it), a relative
 * jump back to less than a quarter over it, within the rule's cooldown of
 * holding it, is a return. Had the rule fired at that level, the cooldown
 * would hold now anyway: the level extends the cooldown to the levels a
 * process reached while its rule could not fire (its first window, a jump
 * the cpu rule's hold did not keep). A level not held for a cooldown is
 * forgotten. The ceiling is not affected: a process at or over abs for a
 * window is caught as before.
 *
 * Only a process that came down can return. One that only climbs (a
 * leak) holds a new level at every sample, each less than a quarter over
 * the last; counted as returns, its climb was never a spike however far
 * it went. Once the process has left its level, what it holds within a
 * quarter over it no longer raises it: a climb after a return is judged
 * against the level it returned to. Two samples more than a quarter over
 * the level are a new level, not yet left.
 */
/* What a rule remembers of one process between samples. */
struct khr_state {
	__u64 last_fire_ns;	/* 0: never fired */
	__u64 base;		/* the average before a jump being held */
	__u64 level;		/* the highest level held lately */
	__u64 level_ns;		/* when it was last held; 0: none */
	__u8 streak;		/* doublings earned by the episode so far */
	__u8 held;		/* samples the jump has held so far */
	bool quiet;		/* judged quiet since the last fire */
	bool left;		/* came down from level since it was set */
};

/* The cooldown that holds after st's last fire, in ns. */
static inline __u64 khr_cooldown_ns(const struct kholmes_rule_cfg *r,
				    const struct khr_state *st)
{
	__u32 shift = 0;

	if (!st->quiet)
		shift = st->streak < KHR_STREAK_MAX ? st->streak + 1U :
						       KHR_STREAK_MAX;
	return ((__u64)r->cooldown_s << shift) * 1000000000ULL;
}

/* A quarter over @level, saturated: where a new level starts. */
static inline __u64 khr_level_top(__u64 level)
{
	return khr_sat_add(level, level / 4);
}

/* Whether st holds no level, or one not held for @cool_ns. */
static inline bool khr_level_stale(const struct khr_state *st, __u64 now_ns,
				   __u64 cool_ns)
{
	return !st->level_ns || now_ns < st->level_ns ||
	       now_ns - st->level_ns >= cool_ns;
}

/*
 * Whether @value is a return: less than a quarter over a level held
 * lately, which the process has left since.
 */
static inline bool khr_level_known(const struct khr_state *st, __u64 value,
				   __u64 now_ns, __u64 cool_ns)
{
	return st->left && !khr_level_stale(st, now_ns, cool_ns) &&
	       value < khr_level_top(st->level);
}

/*
 * After a sample is judged, whatever the verdict: the level it and the
 * sample before it (@prev) held. A level held again (a quarter under it
 * is holding it: the same margin) is remembered from now, and rises with
 * what is held until the process leaves it (@value more than a quarter
 * under it); more than a quarter over it is a new level. One not held for
 * @cool_ns is forgotten for the level held now.
 */
static inline void khr_note_level(struct khr_state *st, __u64 prev,
				  __u64 value, __u64 now_ns, __u64 cool_ns)
{
	__u64 held = prev < value ? prev : value;

	if (khr_level_stale(st, now_ns, cool_ns)) {
		st->level = held;
		st->level_ns = now_ns;
		st->left = false;
	} else if (khr_level_top(held) >= st->level) {
		if (held >= khr_level_top(st->level)) {
			st->level = held;
			st->left = false;
		} else if (held > st->level && !st->left) {
			st->level = held;
		}
		st->level_ns = now_ns;
	} else if (khr_level_top(value) < st->level) {
		st->left = true;
	}
}

/*
 * khr_judge() against a rule's state, which stays as it was, for a jump
 * that must hold `hold` samples (1: fire the sample it happens). A sample
 * after the first of a jump is judged against st->base, the average from
 * before it, which the jump itself has not raised yet.
 */
static inline enum kholmes_verdict
khr_judge_held(const struct kholmes_rule_cfg *r, __u64 value, __u64 avg,
	       __u32 samples, __u32 window, __u64 now_ns,
	       const struct khr_state *st, __u32 hold)
{
	__u64 cool = khr_cooldown_ns(r, st);
	__u64 abs = (__u64)r->abs * KHOLMES_VALUE_SCALE;
	enum kholmes_verdict v;

	if (st->held)
		avg = st->base;
	v = khr_judge(r, value, avg, samples, window, now_ns, 0);
	if (v != KHOLMES_V_FIRE)
		return v;
	if (st->last_fire_ns &&
	    now_ns >= st->last_fire_ns && now_ns - st->last_fire_ns < cool)
		return KHOLMES_V_SUPPRESSED;
	/* the ceiling held for a window already */
	if (r->abs && value >= abs && avg >= abs)
		return KHOLMES_V_FIRE;
	if (khr_level_known(st, value, now_ns, khr_rule_cooldown_ns(r)))
		return KHOLMES_V_LEVEL;
	/* a jump must hold */
	if (st->held + 1U < hold)
		return KHOLMES_V_HOLD;
	return KHOLMES_V_FIRE;
}

/* khr_judge_held() for a rule that fires the sample a jump happens */
static inline enum kholmes_verdict
khr_judge_state(const struct kholmes_rule_cfg *r, __u64 value, __u64 avg,
		__u32 samples, __u32 window, __u64 now_ns,
		const struct khr_state *st)
{
	return khr_judge_held(r, value, avg, samples, window, now_ns, st, 1);
}

/*
 * Record a verdict: a jump held (against avg, the sample's average),
 * anything else ends it. A fire and a quiet sample change the episode.
 */
static inline void khr_note_held(struct khr_state *st, enum kholmes_verdict v,
				 __u64 now_ns, __u64 avg)
{
	if (v == KHOLMES_V_HOLD) {
		if (!st->held++)
			st->base = avg;
		return;
	}
	st->held = 0;
	if (v == KHOLMES_V_QUIET || v == KHOLMES_V_LEVEL) {
		st->quiet = true;
	} else if (v == KHOLMES_V_FIRE) {
		if (!st->last_fire_ns || st->quiet)
			st->streak = 0;
		else if (st->streak < KHR_STREAK_MAX)
			st->streak++;
		st->last_fire_ns = now_ns;
		st->quiet = false;
	}
}

/*
 * Whether judging @value again, the value the rule has just judged, would
 * change nothing but st->level_ns (set to the sample's time) and where the
 * window's ring starts: the rule cannot fire at @value (it is off, or
 * @value is under min: off, warm-up or quiet), the ring is full of @value
 * alone (a push only moves its head, and with every slot alike where the
 * head is makes no difference), no jump is being held, a quiet verdict
 * would change nothing (st->quiet, or the rule off) and the level is
 * @value, not left (khr_note_level() of @value after @value then only
 * refreshes level_ns, stale or not). Most processes of a host are idle,
 * their every metric steady; the module judges them by khr_steady_note()
 * until a value or a rule changes. The ring is read only when the cheap
 * tests pass: a process whose value moved is never steady.
 */
static inline bool khr_steady(const struct kholmes_rule_cfg *r,
			      const struct khr_state *st,
			      const struct khr_window *w, const __u64 *ring,
			      __u64 value)
{
	__u32 i;

	if (khr_may_fire(r, value) || st->held || st->left ||
	    st->level != value || (r->enabled && !st->quiet) ||
	    !w->cap || w->count != w->cap)
		return false;
	for (i = 0; i < w->cap; i++)
		if (ring[i] != value)
			return false;
	return true;
}

/* What judging a steady value (khr_steady()) again does to its state. */
static inline void khr_steady_note(struct khr_state *st, __u64 now_ns)
{
	st->level_ns = now_ns;
}

/* Record a verdict of a rule that does not hold jumps. */
static inline void khr_note(struct khr_state *st, enum kholmes_verdict v,
			    __u64 now_ns)
{
	khr_note_held(st, v, now_ns, 0);
}

#endif /* _KHOLMES_RULE_H */
