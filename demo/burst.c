// SPDX-License-Identifier: GPL-2.0
/*
 * A pretend server that idles with 4 threads, then starts a thread per
 * connection in accept_connections(): 120 threads, each asleep in
 * wait_for_client(): the thread burst.
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static __attribute__((noinline)) void wait_for_client(void)
{
	for (;;)
		pause();
}

static void *worker(void *arg)
{
	wait_for_client();
	return arg;
}

static __attribute__((noinline)) void accept_connections(int n)
{
	pthread_t t;
	int i;

	for (i = 0; i < n; i++)
		pthread_create(&t, NULL, worker, NULL);
}

int main(int argc, char *argv[])
{
	accept_connections(3);
	sleep(argc > 1 ? atoi(argv[1]) : 4);
	accept_connections(120);
	wait_for_client();
	return 0;
}
