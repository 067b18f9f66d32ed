// SPDX-License-Identifier: GPL-2.0
/*
 * memtouch -n MIB [-d MS] [-g] [-r MS]: map MIB MiB of private anonymous
 * memory and write to every page of it, all at once or, with -r, a MiB at
 * a time spread over MS milliseconds, after an optional idle phase; then
 * hold it.
 */
#include <sys/mman.h>

#include "wl.h"

#define MIB	(1UL << 20)

static wl_noinline void touch_pages(char *p, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t off;

	for (off = 0; off < len; off += page)
		p[off] = 1;
}

static wl_noinline void touch_ramp(char *p, long mib, long ramp_ms)
{
	long long start = wl_now_ms();
	long i, due;

	for (i = 0; i < mib; i++) {
		touch_pages(p + i * MIB, MIB);
		/* at MiB i, ramp_ms * (i + 1) / mib ms should have passed */
		due = start + ramp_ms * (i + 1) / mib - wl_now_ms();
		if (due > 0)
			wl_sleep_ms(due);
	}
}

int main(int argc, char *argv[])
{
	struct wl_opts o;
	char *p;

	wl_parse(argc, argv, "nr", "-n MIB [-r RAMP_MS]", &o);
	if (!o.n) {
		fprintf(stderr, "memtouch: -n MIB is needed\n");
		return 2;
	}
	p = mmap(NULL, o.n * MIB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		wl_die("mmap");
	wl_idle_phase(&o);
	if (o.ramp_ms)
		touch_ramp(p, o.n, o.ramp_ms);
	else
		touch_pages(p, o.n * MIB);
	wl_say("ready");
	wl_hold_forever();
	return 0;
}
