/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every workload of the kholmes selftests shares. A workload is a
 * small static program that puts one kind of load on the machine and then
 * holds it until it is killed. Its life has up to two phases:
 *
 *	[waiting]  idle: -d MS sleeps that long, -g waits for SIGUSR1 ("go");
 *	           it prints "waiting" first, so a test knows it is idle
 *	ready      the load is in place (threads spinning, memory touched, ...)
 *
 * Each line goes to stdout, unbuffered, so that a test reading the other
 * end of a pipe can follow. The functions that do the work are noinline
 * and named after what they do, so that stack tests can find them.
 */
#ifndef _KHM_WL_H
#define _KHM_WL_H

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define wl_noinline	__attribute__((noinline, unused))

struct wl_opts {
	long delay_ms;		/* -d: idle this long first */
	bool go;		/* -g: idle until SIGUSR1 */
	long n;			/* -n: the workload's count (threads, MiB, ...) */
	long ramp_ms;		/* -r: spread the load over this long */
};

static inline void wl_say(const char *line)
{
	char buf[64];
	size_t len = strlen(line);
	ssize_t n;

	if (len > sizeof(buf) - 1)
		len = sizeof(buf) - 1;
	memcpy(buf, line, len);
	buf[len++] = '\n';
	do {
		n = write(STDOUT_FILENO, buf, len);
	} while (n < 0 && errno == EINTR);
}

static inline void wl_die(const char *what)
{
	fprintf(stderr, "workload: %s: %s\n", what, strerror(errno));
	exit(1);
}

static inline long wl_number(const char *prog, const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0) {
		fprintf(stderr, "%s: bad number \"%s\"\n", prog, s);
		exit(2);
	}
	return v;
}

/*
 * Parse the common options: -d MS, -g, and -n N / -r MS where the
 * workload takes them (@with lists which, e.g. "nr").
 */
static inline void wl_parse(int argc, char *argv[], const char *with,
			    const char *usage, struct wl_opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt(argc, argv, "d:gn:r:h")) != -1) {
		if ((c == 'n' || c == 'r') && !strchr(with, c))
			c = '?';
		switch (c) {
		case 'd':
			o->delay_ms = wl_number(argv[0], optarg);
			break;
		case 'g':
			o->go = true;
			break;
		case 'n':
			o->n = wl_number(argv[0], optarg);
			break;
		case 'r':
			o->ramp_ms = wl_number(argv[0], optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-d MS] [-g] %s\n", argv[0],
				usage);
			exit(c == 'h' ? 0 : 2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: %s [-d MS] [-g] %s\n", argv[0], usage);
		exit(2);
	}
}

static inline void wl_sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static inline long long wl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The idle phase: asleep in the kernel, no CPU, no switches, no faults. */
static wl_noinline void wl_idle_phase(const struct wl_opts *o)
{
	sigset_t set;
	int sig;

	if (!o->go && !o->delay_ms)
		return;
	/* blocked before "waiting" is said, so an early SIGUSR1 is kept */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (o->go && sigprocmask(SIG_BLOCK, &set, NULL))
		wl_die("sigprocmask");
	wl_say("waiting");
	if (o->delay_ms)
		wl_sleep_ms(o->delay_ms);
	if (o->go) {
		while (sigwait(&set, &sig))
			;
	}
}

/* Hold whatever was set up until killed. */
static wl_noinline void wl_hold_forever(void)
{
	for (;;)
		pause();
}

#endif /* _KHM_WL_H */
