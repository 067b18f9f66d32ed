// SPDX-License-Identifier: GPL-2.0
/*
 * manythreads -n N: a process of N threads in all (the main thread and
 * N - 1 others), every one asleep, on small stacks so that thousands fit.
 */
#include <pthread.h>

#include "wl.h"

static wl_noinline void *idle_thread(void *arg)
{
	(void)arg;
	wl_hold_forever();
	return NULL;
}

int main(int argc, char *argv[])
{
	pthread_attr_t attr;
	struct wl_opts o;
	pthread_t t;
	long i;

	wl_parse(argc, argv, "n", "-n THREADS", &o);
	if (!o.n)
		o.n = 1;
	wl_idle_phase(&o);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (i = 1; i < o.n; i++) {
		errno = pthread_create(&t, &attr, idle_thread, NULL);
		if (errno)
			wl_die("pthread_create");
	}
	wl_say("ready");
	wl_hold_forever();
	return 0;
}
