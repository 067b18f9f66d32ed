// SPDX-License-Identifier: GPL-2.0
/*
 * forkchurn -n N [-d MS] [-g]: fork N children, one after the other, each
 * of which exits at once, and reap each; then say "ready <N> <ms>" and
 * hold. A churn of short-lived processes for the sampler to keep up with.
 */
#include <sys/wait.h>

#include "wl.h"

static wl_noinline void churn_child(void)
{
	_exit(0);
}

static wl_noinline long churn(long n)
{
	long i, failed = 0;
	int status;
	pid_t pid;

	for (i = 0; i < n; i++) {
		pid = fork();
		if (pid == 0)
			churn_child();
		if (pid < 0)
			wl_die("fork");
		while (waitpid(pid, &status, 0) < 0) {
			if (errno != EINTR)
				wl_die("waitpid");
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	}
	return failed;
}

int main(int argc, char *argv[])
{
	long long start;
	struct wl_opts o;
	char line[64];
	long failed;

	wl_parse(argc, argv, "n", "-n CHILDREN", &o);
	wl_idle_phase(&o);
	start = wl_now_ms();
	failed = churn(o.n);
	if (failed) {
		fprintf(stderr, "forkchurn: %ld children failed\n", failed);
		return 1;
	}
	snprintf(line, sizeof(line), "ready %ld %lld", o.n,
		 wl_now_ms() - start);
	wl_say(line);
	wl_hold_forever();
	return 0;
}
