// SPDX-License-Identifier: GPL-2.0
/*
 * prof_grow -n MIB -r MS [-d MS] [-g]: map MIB MiB of private anonymous
 * memory (not touched: not resident), and after an optional idle phase
 * grow its resident size by writing each new page itself in
 * prof_grow_here(), a MiB at a time spread evenly over MS milliseconds;
 * then hold it. Every page fault of the growth is taken in
 * prof_grow_here() (no memset, whose frameless leaf would hide its
 * caller from a frame-pointer walk), so a faults profile finds it there.
 * Says "ready" when the growth starts and "grown" when it is done.
 *
 * The mapping is MADV_NOHUGEPAGE, so that each 4 KiB page is a fault of
 * its own (with transparent huge pages one fault fills 2 MiB), and
 * prof_grow_here() takes its frame address, which makes gcc give it a
 * frame: gcc 12 ignores -mno-omit-leaf-frame-pointer for a leaf that
 * needs no stack, and a frameless leaf hides its caller.
 */
#include <sys/mman.h>

#include "wl.h"

#define MIB	(1UL << 20)

static wl_noinline void prof_grow_here(volatile char *p, size_t len,
				       long page)
{
	size_t off;

	__asm__ __volatile__("" :: "r"(__builtin_frame_address(0)) : "memory");
	for (off = 0; off < len; off += page)
		p[off] = 1;
}

int main(int argc, char *argv[])
{
	long page = sysconf(_SC_PAGESIZE), i, due;
	long long start;
	struct wl_opts o;
	char *p;

	wl_parse(argc, argv, "nr", "-n MIB -r RAMP_MS", &o);
	if (!o.n) {
		fprintf(stderr, "prof_grow: -n MIB is needed\n");
		return 2;
	}
	p = mmap(NULL, o.n * MIB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		wl_die("mmap");
	madvise(p, o.n * MIB, MADV_NOHUGEPAGE);
	wl_idle_phase(&o);
	wl_say("ready");
	start = wl_now_ms();
	for (i = 0; i < o.n; i++) {
		prof_grow_here(p + i * MIB, MIB, page);
		due = start + o.ramp_ms * (i + 1) / o.n - wl_now_ms();
		if (due > 0)
			wl_sleep_ms(due);
	}
	wl_say("grown");
	wl_hold_forever();
	return 0;
}
