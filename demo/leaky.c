// SPDX-License-Identifier: GPL-2.0
/*
 * A pretend cache that idles, then leaks: cache_insert() allocates and
 * touches 2 MiB every 50 ms and never frees it: the memory spike, slow
 * enough not to be a CPU spike as well.
 */
#include <stdlib.h>
#include <unistd.h>

static volatile unsigned long entries;

/* Fill a new entry in place: the page faults happen here, not in libc. */
static __attribute__((noinline)) void *cache_insert(size_t size)
{
	char *p = malloc(size);
	size_t i;

	for (i = 0; p && i < size; i += 64)
		p[i] = (char)i;
	entries++;
	return p;
}

int main(int argc, char *argv[])
{
	int i;

	sleep(argc > 1 ? atoi(argv[1]) : 4);
	for (i = 0; i < 160; i++) {
		if (!cache_insert(2 << 20))
			break;
		usleep(50000);
	}
	pause();
	return 0;
}
