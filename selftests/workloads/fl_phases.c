// SPDX-License-Identifier: GPL-2.0
/*
 * fl_phases [-d MS] [-g] [-n MS]: after an optional idle phase, spin in
 * fl_phase_one() for -n MS (say "two" when it ends), then in
 * fl_phase_two() until killed, saying "settled" after one second of it.
 * The flight recorder's test looks for both names, in that order, among
 * the samples a capture carries from before it was taken.
 */
#include "wl.h"

static volatile unsigned long spins;

/* The clock read seldom, so that nearly every sample is in the loop. */
#define FL_CHECK_EVERY	(1UL << 18)

static wl_noinline void fl_phase_one(long ms)
{
	long long end = wl_now_ms() + ms;

	for (;;) {
		spins++;
		if (!(spins % FL_CHECK_EVERY) && wl_now_ms() >= end)
			return;
		__asm__ __volatile__("" ::: "memory");
	}
}

static wl_noinline void fl_phase_two(void)
{
	long long settled = wl_now_ms() + 1000;
	bool said = false;

	for (;;) {
		spins++;
		if (!said && !(spins % FL_CHECK_EVERY) &&
		    wl_now_ms() >= settled) {
			wl_say("settled");
			said = true;
		}
		__asm__ __volatile__("" ::: "memory");
	}
}

int main(int argc, char *argv[])
{
	struct wl_opts o;

	wl_parse(argc, argv, "n", "[-n MS]", &o);
	wl_idle_phase(&o);
	wl_say("ready");
	if (o.n)
		fl_phase_one(o.n);
	wl_say("two");
	fl_phase_two();
	return 0;
}
