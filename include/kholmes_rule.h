/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * holmes' rule, as pure arithmetic that the module and the host unit tests
 * compile alike: no allocation, no locking, no kernel or libc calls.
 *
 *   fire = value >= min && (value >= avg * (1 + diff / 100) || value >= abs)
 *
 * where avg is the mean of the previous `window` samples, so that a spike is
 * not diluted by itself. Values are fixed point (KHOLMES_VALUE_SCALE), rule
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

enum kholmes_verdict {
	KHOLMES_V_OFF,		/* rule switched off */
	KHOLMES_V_WARMUP,	/* window not full yet */
	KHOLMES_V_QUIET,	/* evaluated, did not fire */
	KHOLMES_V_FIRE,
	KHOLMES_V_SUPPRESSED,	/* would fire, but inside the cooldown */
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

/* The fire condition alone: value and avg fixed point, rule in units. */
static inline bool khr_over(const struct kholmes_rule_cfg *r, __u64 value,
			    __u64 avg)
{
	__u64 min = (__u64)r->min * KHOLMES_VALUE_SCALE;
	__u64 abs = (__u64)r->abs * KHOLMES_VALUE_SCALE;
	__u64 thr;

	if (value < min)
		return false;
	if (r->abs && value >= abs)
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
	__u64 cool = (__u64)r->cooldown_s * 1000000000ULL;

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

#endif /* _KHOLMES_RULE_H */
