// SPDX-License-Identifier: GPL-2.0
/*
 * threadburst -n N [-d MS] [-g]: after an optional idle phase, create N
 * threads that sleep, then hold them (N + 1 threads in all).
 */
#include <pthread.h>

#include "wl.h"

static wl_noinline void *burst_thread(void *arg)
{
	(void)arg;
	wl_hold_forever();
	return NULL;
}

static wl_noinline void burst(long n)
{
	pthread_attr_t attr;
	pthread_t t;
	long i;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (i = 0; i < n; i++) {
		errno = pthread_create(&t, &attr, burst_thread, NULL);
		if (errno)
			wl_die("pthread_create");
	}
	pthread_attr_destroy(&attr);
}

int main(int argc, char *argv[])
{
	struct wl_opts o;

	wl_parse(argc, argv, "n", "-n THREADS", &o);
	if (!o.n) {
		fprintf(stderr, "threadburst: -n THREADS is needed\n");
		return 2;
	}
	wl_idle_phase(&o);
	burst(o.n);
	wl_say("ready");
	wl_hold_forever();
	return 0;
}
