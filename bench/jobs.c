// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmark's jobs and meters, one static binary for the VM:
 *
 *   jobs cpu N          a fixed CPU-bound job: prints its wall time in ns
 *   jobs fork N         fork and reap N children: wall ns
 *   jobs ctxsw N        N pipe round trips between two processes: wall ns
 *   jobs threads N      N idle threads, then pause ("ready")
 *   jobs procs N        N idle child processes, then pause ("ready")
 *   jobs spin MS        idle MS, print the wall-clock ns it starts
 *                       spinning at, then spin in spin_here()
 *   jobs gaps S         spin S seconds; print the longest time between two
 *                       loop iterations (how long the thread was held up)
 *   jobs cputime CMD..  run CMD, its output discarded; print the CPU seconds
 *                       (user + system) it used
 *   jobs waitfile DIR T0 MS   wait until DIR holds a .txt; print its wall
 *                       ns minus T0, or -1 after MS
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static volatile unsigned long sink;

static __attribute__((noinline)) void cpu_job(long n)
{
	unsigned long x = 1;
	long i;

	for (i = 0; i < n; i++)
		x = x * 6364136223846793005UL + 1442695040888963407UL;
	sink = x;
}

static __attribute__((noinline)) void spin_here(void)
{
	for (;;)
		sink++;
}

static void *idle_thread(void *arg)
{
	for (;;)
		pause();
	return arg;
}

static void fork_job(long n)
{
	long i;

	for (i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
}

static void ctxsw_job(long n)
{
	int a[2], b[2];
	char c = 0;
	pid_t pid;
	long i;

	if (pipe(a) || pipe(b))
		exit(1);
	pid = fork();
	if (pid == 0) {
		/* the parent's close of a[1] must be the last writer's */
		close(a[1]);
		close(b[0]);
		for (;;) {
			if (read(a[0], &c, 1) != 1)
				_exit(0);
			if (write(b[1], &c, 1) != 1)
				_exit(0);
		}
	}
	close(a[0]);
	close(b[1]);
	for (i = 0; i < n; i++) {
		if (write(a[1], &c, 1) != 1 || read(b[0], &c, 1) != 1)
			break;
	}
	close(a[1]);
	waitpid(pid, NULL, 0);
}

static int has_txt(const char *dir)
{
	struct dirent *d;
	DIR *dp = opendir(dir);
	int found = 0;

	if (!dp)
		return 0;
	while ((d = readdir(dp))) {
		size_t len = strlen(d->d_name);

		if (d->d_name[0] != '.' && len > 4 &&
		    !strcmp(d->d_name + len - 4, ".txt"))
			found = 1;
	}
	closedir(dp);
	return found;
}

int main(int argc, char *argv[])
{
	long n = argc > 2 ? atol(argv[2]) : 0;
	long long t0;
	long i;

	if (argc < 2)
		return 2;
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(argv[1], "cpu") || !strcmp(argv[1], "fork") ||
	    !strcmp(argv[1], "ctxsw")) {
		t0 = now_ns(CLOCK_MONOTONIC);
		if (argv[1][0] == 'c' && argv[1][1] == 'p')
			cpu_job(n);
		else if (argv[1][0] == 'f')
			fork_job(n);
		else
			ctxsw_job(n);
		printf("%lld\n", now_ns(CLOCK_MONOTONIC) - t0);
		return 0;
	}
	if (!strcmp(argv[1], "threads")) {
		pthread_attr_t attr;
		pthread_t t;

		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 65536);
		for (i = 0; i < n; i++)
			if (pthread_create(&t, &attr, idle_thread, NULL))
				return 1;
		printf("ready\n");
		idle_thread(NULL);
	}
	if (!strcmp(argv[1], "procs")) {
		for (i = 0; i < n; i++) {
			pid_t pid = fork();

			if (pid == 0)
				idle_thread(NULL);
			if (pid < 0)
				return 1;
		}
		printf("ready\n");
		idle_thread(NULL);
	}
	if (!strcmp(argv[1], "spin")) {
		usleep(n * 1000);
		printf("%lld\n", now_ns(CLOCK_REALTIME));
		spin_here();
	}
	if (!strcmp(argv[1], "gaps")) {
		long long end = now_ns(CLOCK_MONOTONIC) + n * 1000000000LL;
		long long last = now_ns(CLOCK_MONOTONIC), t, gap = 0;

		while ((t = now_ns(CLOCK_MONOTONIC)) < end) {
			if (t - last > gap)
				gap = t - last;
			last = t;
		}
		printf("%lld\n", gap);
		return 0;
	}
	if (!strcmp(argv[1], "cputime") && argc > 2) {
		struct rusage ru;
		pid_t pid = fork();
		int st;

		if (pid == 0) {
			/* what it prints is not what is measured */
			if (!freopen("/dev/null", "w", stdout))
				_exit(126);
			execvp(argv[2], argv + 2);
			_exit(127);
		}
		if (wait4(pid, &st, 0, &ru) < 0)
			return 1;
		printf("%.6f\n", ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
		return 0;
	}
	if (!strcmp(argv[1], "waitfile") && argc > 4) {
		long long deadline = now_ns(CLOCK_MONOTONIC) +
				     atoll(argv[4]) * 1000000LL;

		while (!has_txt(argv[2])) {
			if (now_ns(CLOCK_MONOTONIC) > deadline) {
				printf("-1\n");
				return 1;
			}
			usleep(5000);
		}
		printf("%lld\n", now_ns(CLOCK_REALTIME) - atoll(argv[3]));
		return 0;
	}
	return 2;
}
