// SPDX-License-Identifier: GPL-2.0
/*
 * cap_sleep [-n THREADS]: THREADS threads (default 1) besides the main one,
 * each named "cap_sleeper" and asleep in nanosleep() called from
 * cap_sleep_here(); the main thread waits in pause(). Says "ready TID ..."
 * with the sleepers' thread ids once every one has been created.
 *
 * The binary is static, so the nanosleep() of Debian's libc, built without
 * frame pointers, is linked in: a frame-pointer walk from the thread's
 * saved user registers cannot see cap_sleep_here(), a CFI unwinder can.
 */
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "wl.h"

#define CAP_SLEEP_MAX	64

static pid_t tids[CAP_SLEEP_MAX];
static int started;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

static wl_noinline void cap_sleep_here(void)
{
	struct timespec ts = { .tv_sec = 3600 };

	for (;;)
		nanosleep(&ts, NULL);
}

static wl_noinline void *sleeper_thread(void *arg)
{
	long i = (long)arg;

	prctl(PR_SET_NAME, "cap_sleeper", 0, 0, 0);
	pthread_mutex_lock(&lock);
	tids[i] = syscall(SYS_gettid);
	started++;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	cap_sleep_here();
	return NULL;
}

int main(int argc, char *argv[])
{
	char line[64 + 12 * CAP_SLEEP_MAX];
	struct wl_opts o;
	size_t len;
	pthread_t t;
	long i;

	wl_parse(argc, argv, "n", "[-n THREADS]", &o);
	if (!o.n)
		o.n = 1;
	if (o.n > CAP_SLEEP_MAX) {
		fprintf(stderr, "%s: at most %d threads\n", argv[0],
			CAP_SLEEP_MAX);
		return 2;
	}
	wl_idle_phase(&o);
	for (i = 0; i < o.n; i++) {
		errno = pthread_create(&t, NULL, sleeper_thread, (void *)i);
		if (errno)
			wl_die("pthread_create");
	}
	pthread_mutex_lock(&lock);
	while (started < o.n)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);

	len = snprintf(line, sizeof(line), "ready");
	for (i = 0; i < o.n; i++)
		len += snprintf(line + len, sizeof(line) - len, " %d",
				(int)tids[i]);
	line[len++] = '\n';
	/* wl_say() keeps 63 bytes; this line can be longer */
	if (write(STDOUT_FILENO, line, len) != (ssize_t)len)
		wl_die("write");
	wl_hold_forever();
	return 0;
}
