// SPDX-License-Identifier: GPL-2.0
/*
 * prof_spin [-d MS] [-g] [-n THREADS]: after an optional idle phase, spin
 * on the CPU in user space in prof_spin_here() with THREADS threads (the
 * main thread and THREADS - 1 more; default 1) until killed. The profile
 * tests look for prof_spin_here in the stacks of its CPU profile.
 *
 * prof_spin_here() spins itself and, after each chunk of work, calls
 * prof_spin_yield(): not a leaf, it sets up a frame, so a frame-pointer
 * walk from a sample in it finds it and its callers. (gcc 12 leaves a leaf
 * function that needs no stack frameless despite
 * -mno-omit-leaf-frame-pointer, and such a leaf hides its caller from the
 * walk; __builtin_frame_address(0) gives prof_spin_yield a frame too.)
 */
#include <pthread.h>

#include "wl.h"

static volatile unsigned long spins;

static wl_noinline void prof_spin_yield(void)
{
	__asm__ __volatile__("" :: "r"(__builtin_frame_address(0)) : "memory");
}

static wl_noinline void prof_spin_here(void)
{
	unsigned long i;

	for (;;) {
		for (i = 0; i < 100000; i++) {
			spins++;
			__asm__ __volatile__("" ::: "memory");
		}
		prof_spin_yield();
	}
}

static void *prof_spin_thread(void *arg)
{
	(void)arg;
	prof_spin_here();
	return NULL;
}

int main(int argc, char *argv[])
{
	struct wl_opts o;
	pthread_t t;
	long i;

	wl_parse(argc, argv, "n", "[-n THREADS]", &o);
	if (!o.n)
		o.n = 1;
	wl_idle_phase(&o);
	for (i = 1; i < o.n; i++)
		if (pthread_create(&t, NULL, prof_spin_thread, NULL))
			wl_die("pthread_create");
	wl_say("ready");
	prof_spin_here();
	return 0;
}
