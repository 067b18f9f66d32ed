// SPDX-License-Identifier: GPL-2.0
/*
 * cap_churn [-n THREADS]: keep about THREADS threads (default 32) alive
 * while each lives only a few milliseconds: every worker sleeps 0-16 ms
 * and exits, and the main thread, every 5 ms, starts a new one for each
 * that ended (not faster: under TCG a tighter churn starves the test). A
 * capture of this process always meets threads that exit while their
 * stacks are being taken. Says "ready" once the first THREADS run: they
 * start their few milliseconds together, after the last of them is
 * created, since on a slow host (the debug kernel beside another VM)
 * creating a thread can take longer than a worker lives, and waiting for
 * THREADS alive at once then never ended.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "wl.h"

static atomic_long alive;
static pthread_barrier_t first_batch;

#define CHURN_FIRST	0x10000L	/* in the worker's argument */

static wl_noinline void *churn_worker(void *arg)
{
	long ms = (long)arg & (CHURN_FIRST - 1);

	if ((long)arg & CHURN_FIRST)
		pthread_barrier_wait(&first_batch);
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
				       (void *)(seq++ % 5 * 4 |
						(first ? CHURN_FIRST : 0)));
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
	errno = pthread_barrier_init(&first_batch, NULL, o.n + 1);
	if (errno)
		wl_die("pthread_barrier_init");
	churn_keep(o.n, true);
	pthread_barrier_wait(&first_batch);
	wl_say("ready");
	for (;;) {
		wl_sleep_ms(5);
		churn_keep(o.n, false);
	}
	return 0;
}
