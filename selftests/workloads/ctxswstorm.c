// SPDX-License-Identifier: GPL-2.0
/*
 * ctxswstorm [-d MS] [-g]: after an optional idle phase, two threads pass
 * a byte back and forth through a pair of pipes as fast as they can, each
 * blocking in read() in turn: two voluntary context switches per round.
 */
#include <pthread.h>

#include "wl.h"

static int ping_pipe[2], pong_pipe[2];

static wl_noinline void bounce(int in, int out, bool serve)
{
	char c = 0;

	for (;;) {
		if (serve && write(out, &c, 1) != 1)
			wl_die("write");
		if (read(in, &c, 1) != 1)
			wl_die("read");
		if (!serve && write(out, &c, 1) != 1)
			wl_die("write");
	}
}

static wl_noinline void *pong_thread(void *arg)
{
	(void)arg;
	bounce(ping_pipe[0], pong_pipe[1], false);
	return NULL;
}

static wl_noinline void ping(void)
{
	bounce(pong_pipe[0], ping_pipe[1], true);
}

int main(int argc, char *argv[])
{
	struct wl_opts o;
	pthread_t t;

	wl_parse(argc, argv, "", "", &o);
	if (pipe(ping_pipe) || pipe(pong_pipe))
		wl_die("pipe");
	wl_idle_phase(&o);
	errno = pthread_create(&t, NULL, pong_thread, NULL);
	if (errno)
		wl_die("pthread_create");
	wl_say("ready");
	ping();
	return 0;
}
