// SPDX-License-Identifier: GPL-2.0
/*
 * A pretend cache that idles, then leaks: cache_insert() allocates and
 * touches 8 MiB every 100 ms and never frees it: the memory spike.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static __attribute__((noinline)) void *cache_insert(size_t size)
{
	void *p = malloc(size);

	if (p)
		memset(p, 0x5a, size);
	return p;
}

int main(int argc, char *argv[])
{
	int i;

	sleep(argc > 1 ? atoi(argv[1]) : 4);
	for (i = 0; i < 48; i++) {
		if (!cache_insert(8 << 20))
			break;
		usleep(100000);
	}
	pause();
	return 0;
}
