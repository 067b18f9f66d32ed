// SPDX-License-Identifier: GPL-2.0
/*
 * spinner [-d MS] [-g] [-n THREADS]: THREADS threads (default 1, the main
 * thread being one of them) spinning on the CPU in user space, after an
 * optional idle phase.
 */
#include <pthread.h>

#include "wl.h"

static unsigned long spins;

static wl_noinline void spin_loop(void)
{
	/* the barrier keeps the loop (and its store) from being optimised out */
	for (;;) {
		spins++;
		__asm__ __volatile__("" ::: "memory");
	}
}

static wl_noinline void *spin_thread(void *arg)
{
	(void)arg;
	spin_loop();
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
	for (i = 1; i < o.n; i++) {
		errno = pthread_create(&t, NULL, spin_thread, NULL);
		if (errno)
			wl_die("pthread_create");
	}
	wl_say("ready");
	spin_loop();
	return 0;
}
