// SPDX-License-Identifier: GPL-2.0
/*
 * cap_spin [-d MS] [-g]: after an optional idle phase, spin on the CPU in
 * user space in cap_spin_here() until killed. The capture tests look for
 * that name in the user stack of the capture its CPU spike triggers.
 */
#include "wl.h"

static volatile unsigned long spins;

static wl_noinline void cap_spin_here(void)
{
	for (;;) {
		spins++;
		__asm__ __volatile__("" ::: "memory");
	}
}

int main(int argc, char *argv[])
{
	struct wl_opts o;

	wl_parse(argc, argv, "", "", &o);
	wl_idle_phase(&o);
	wl_say("ready");
	cap_spin_here();
	return 0;
}
