// SPDX-License-Identifier: GPL-2.0
/*
 * cap_churn [-n THREADS]: keep about THREADS threads (default 32) alive
 * while each lives only a few milliseconds: every worker sleeps 0-16 ms
 * and exits, and the main thread, every 5 ms, starts a new one for each
 * that ended (not faster: under TCG a tighter churn starves the test). A
 * capture of this process always meets threads that exit while their
 * stacks are being taken. Says "ready" once the first THREADS run.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "wl.h"

static atomic_long alive;

static wl_noinline void *churn_worker(void *arg)
{
	long ms = (long)arg;

	if (ms)
		wl_sleep_ms(ms);
	atomic_fetch_sub(&alive, 1);
	return NULL;
}

static wl_noinline void churn_keep(long n, bool first)
{
	pthread_attr_t attr;
	static long seq;
	pthread_t t;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	while (atomic_load(&alive) < n) {
		atomic_fetch_add(&alive, 1);
		errno = pthread_create(&t, &attr, churn_worker,
				       (void *)(seq++ % 5 * 4));
		if (errno) {
			atomic_fetch_sub(&alive, 1);
			if (first)
				wl_die("pthread_create");
			break;	/* out of memory for a moment: next round */
		}
	}
	pthread_attr_destroy(&attr);
}

int main(int argc, char *argv[])
{
	struct wl_opts o;

	wl_parse(argc, argv, "n", "[-n THREADS]", &o);
	if (!o.n)
		o.n = 32;
	wl_idle_phase(&o);
	churn_keep(o.n, true);
	wl_say("ready");
	for (;;) {
		wl_sleep_ms(5);
		churn_keep(o.n, false);
	}
	return 0;
}
