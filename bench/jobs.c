// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmark's jobs and meters, one static binary for the VM:
 *
 *   jobs cpu N          a fixed CPU-bound job: prints its wall time in ns
 *   jobs fork N         fork and reap N children: wall ns
 *   jobs ctxsw N        N pipe round trips between two processes: wall ns
 *   jobs threads N      N idle threads, then pause ("ready")
 *   jobs procs N        N idle child processes, then pause ("ready")
 *   jobs spin MS [US]   idle MS ms and US us, print the wall-clock ns it
 *                       starts spinning at, then spin in spin_here()
 *   jobs cpustop N      stop itself (SIGSTOP); once continued, the cpu
 *                       job; print its own CPU ns
 *   jobs gaps S         spin S seconds; print the longest time between two
 *                       loop iterations (how long the thread was held up)
 *   jobs cputime CMD..  run CMD, its output discarded; print the CPU ns
 *                       (user + system, its waited-for children's too)
 *   jobs passcpu N CMD..  run CMD (pidstat -u ... INTERVAL COUNT), reading
 *                       its output; print the CPU ns (its sum_exec_runtime,
 *                       /proc/PID/schedstat) between each two reports, N
 *                       of them: one read and one report each
 *   jobs kwcpu N MS     print N deltas, MS apart, of the CPU ns of every
 *                       unbound kernel worker (kworker/u*) together
 *   jobs kwsum          print that sum once
 *   jobs order SEED R WORD..  print the words in an order drawn from SEED
 *                       and R (a round's order)
 *   jobs rand SEED I MAX  print the I-th number drawn from SEED in [0, MAX)
 *   jobs waitfile DIR T0 MS   wait until DIR holds a .txt; print its wall
 *                       ns minus T0, or -1 after MS
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
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

/* splitmix64: a stateless draw keyed on a seed and an index */
static unsigned long long draw(unsigned long long seed, unsigned long long i)
{
	unsigned long long z = seed + (i + 1) * 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* the first number of /proc/PID/schedstat: ns on a CPU; -1 if gone */
static long long schedstat(const char *pid)
{
	char path[64];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/schedstat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static long long kworker_ns(void)
{
	DIR *dp = opendir("/proc");
	struct dirent *d;
	long long sum = 0, v;

	if (!dp)
		return 0;
	while ((d = readdir(dp))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		if (strncmp(comm, "kworker/u", 9))
			continue;
		v = schedstat(d->d_name);
		if (v > 0)
			sum += v;
	}
	closedir(dp);
	return sum;
}

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
	if (!strcmp(argv[1], "cpustop")) {
		raise(SIGSTOP);
		cpu_job(n);
		printf("%lld\n", now_ns(CLOCK_PROCESS_CPUTIME_ID));
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
		usleep(n * 1000 + (argc > 3 ? atol(argv[3]) : 0));
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
		/* in ns as an integer: no shell or awk rounds it to 32 bits */
		printf("%lld\n",
		       (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
		       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL);
		return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : 1;
	}
	if (!strcmp(argv[1], "passcpu") && argc > 3) {
		long long last = -1, v;
		char line[4096], pidstr[16];
		int fd[2], printed = 0;
		pid_t pid;
		FILE *in;

		if (pipe(fd))
			return 1;
		pid = fork();
		if (pid == 0) {
			dup2(fd[1], 1);
			close(fd[0]);
			close(fd[1]);
			execvp(argv[3], argv + 3);
			_exit(127);
		}
		close(fd[1]);
		snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
		in = fdopen(fd[0], "r");
		/*
		 * Each of pidstat's reports starts with its -u table's header
		 * (the averages' at the end with "Average:"), and is flushed
		 * whole: between two such headers it has made one read of
		 * every task and printed one report.
		 */
		while (in && fgets(line, sizeof(line), in)) {
			if (!strstr(line, "%usr") ||
			    !strncmp(line, "Average", 7) || printed >= n)
				continue;
			v = schedstat(pidstr);
			if (last >= 0 && v >= 0) {
				printf("%lld\n", v - last);
				/* enough: the rest is not measured */
				if (++printed == n)
					kill(pid, SIGKILL);
			}
			last = v;
		}
		waitpid(pid, NULL, 0);
		return printed == n ? 0 : 1;
	}
	if (!strcmp(argv[1], "kwcpu") && argc > 3) {
		long long ms = atoll(argv[3]), last = kworker_ns(), v;
		struct timespec next;

		clock_gettime(CLOCK_MONOTONIC, &next);
		for (i = 0; i < n; i++) {
			next.tv_nsec += (ms % 1000) * 1000000L;
			next.tv_sec += ms / 1000 + next.tv_nsec / 1000000000L;
			next.tv_nsec %= 1000000000L;
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
					       &next, NULL) == EINTR)
				;
			v = kworker_ns();
			printf("%lld\n", v - last);
			last = v;
		}
		return 0;
	}
	if (!strcmp(argv[1], "kwsum")) {
		printf("%lld\n", kworker_ns());
		return 0;
	}
	if (!strcmp(argv[1], "order") && argc > 3) {
		unsigned long long seed = strtoull(argv[2], NULL, 0);
		char **w = argv + 4;
		int k = argc - 4, j;

		/* Fisher-Yates */
		for (i = k - 1; i > 0; i--) {
			char *tmp;

			j = draw(seed, atoll(argv[3]) * 64 + i) % (i + 1);
			tmp = w[i];
			w[i] = w[j];
			w[j] = tmp;
		}
		for (i = 0; i < k; i++)
			printf("%s%s", w[i], i + 1 < k ? " " : "\n");
		return 0;
	}
	if (!strcmp(argv[1], "rand") && argc > 4) {
		unsigned long long max = strtoull(argv[4], NULL, 0);

		printf("%llu\n", max ? draw(strtoull(argv[2], NULL, 0) ^
					     0x5bd1e995ULL,
					     strtoull(argv[3], NULL, 0)) % max : 0);
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
