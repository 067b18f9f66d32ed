// SPDX-License-Identifier: GPL-2.0
/*
 * hard_churn: short-lived processes for the hardening tests.
 *
 * hard_churn [-g] -n TOTAL -b BATCH   batches: fork BATCH children that
 *	block on a pipe (all alive at once), say "alive <n>", wait for
 *	SIGUSR1, close the pipe so that they all exit, reap them, say
 *	"reaped <n>"; again until TOTAL, then "done <total> <ms>" and hold.
 *	With -g it first says "waiting" and waits for SIGUSR1.
 *
 * hard_churn -k ALIVE -s MS            forever: keep up to ALIVE children,
 *	each sleeping MS ms and exiting; says "ready" once the first is
 *	forked. SIGTERM ends it: every child reaped, "forked <n>", exit 0.
 *
 * Every child dies with its parent (PR_SET_PDEATHSIG).
 */
#include <getopt.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "wl.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static wl_noinline void churn_child_block(int rfd)
{
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	while (read(rfd, &c, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

static wl_noinline void churn_child_sleep(long ms)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	wl_sleep_ms(ms);
	_exit(0);
}

static void wait_usr1(const sigset_t *set)
{
	int sig;

	while (sigwait(set, &sig))
		;
}

static void reap_one(void)
{
	while (wait(NULL) < 0) {
		if (errno == ECHILD)
			return;
		if (errno != EINTR)
			wl_die("wait");
	}
}

static int batches(long total, long batch, bool go)
{
	long done = 0, n, i;
	long long start;
	char line[64];
	sigset_t set;
	int p[2];
	pid_t pid;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		wl_die("sigprocmask");
	if (go) {
		wl_say("waiting");
		wait_usr1(&set);
	}
	start = wl_now_ms();
	while (done < total) {
		n = total - done < batch ? total - done : batch;
		if (pipe(p))
			wl_die("pipe");
		for (i = 0; i < n; i++) {
			pid = fork();
			if (pid == 0) {
				close(p[1]);
				churn_child_block(p[0]);
			}
			if (pid < 0)
				wl_die("fork");
		}
		close(p[0]);
		snprintf(line, sizeof(line), "alive %ld", n);
		wl_say(line);
		wait_usr1(&set);
		close(p[1]);
		for (i = 0; i < n; i++)
			reap_one();
		done += n;
		snprintf(line, sizeof(line), "reaped %ld", done);
		wl_say(line);
	}
	snprintf(line, sizeof(line), "done %ld %lld", done, wl_now_ms() - start);
	wl_say(line);
	wl_hold_forever();
	return 0;
}

static int forever(long alive, long ms)
{
	struct sigaction sa = { .sa_handler = on_term };
	long forked = 0, running = 0;
	char line[64];
	pid_t pid;

	sigaction(SIGTERM, &sa, NULL);
	while (!stop) {
		if (running >= alive) {
			if (wait(NULL) > 0)
				running--;
			continue;
		}
		pid = fork();
		if (pid == 0)
			churn_child_sleep(ms);
		if (pid < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			wl_die("fork");
		}
		running++;
		if (!forked++)
			wl_say("ready");
		/* reap whoever is done without waiting */
		while (running && waitpid(-1, NULL, WNOHANG) > 0)
			running--;
	}
	while (running && wait(NULL) > 0)
		running--;
	snprintf(line, sizeof(line), "forked %ld", forked);
	wl_say(line);
	return 0;
}

int main(int argc, char *argv[])
{
	long total = 0, batch = 0, alive = 0, ms = 10;
	bool go = false;
	int c;

	while ((c = getopt(argc, argv, "gn:b:k:s:")) != -1) {
		switch (c) {
		case 'g':
			go = true;
			break;
		case 'n':
			total = wl_number(argv[0], optarg);
			break;
		case 'b':
			batch = wl_number(argv[0], optarg);
			break;
		case 'k':
			alive = wl_number(argv[0], optarg);
			break;
		case 's':
			ms = wl_number(argv[0], optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc)
		goto usage;
	if (total && batch)
		return batches(total, batch, go);
	if (alive)
		return forever(alive, ms);
usage:
	fprintf(stderr, "usage: %s [-g] -n TOTAL -b BATCH | -k ALIVE -s MS\n",
		argv[0]);
	return 2;
}
