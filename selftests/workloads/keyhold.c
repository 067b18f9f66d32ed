// SPDX-License-Identifier: GPL-2.0
/*
 * keyhold: holds one software perf event open, on itself, for as long as
 * it lives. /init starts it before the module loads.
 *
 * Opening the first page-fault software event patches the jump label in
 * do_user_addr_fault() (perf_swevent_enabled), and the first per-task
 * event perf's context-switch hooks (perf_sched_events); closing the last
 * patches them back. A faults profile opens and closes such events, so
 * every profile patched the kernel's text twice, with int3 while the other
 * vCPU runs through it (text_poke_bp). Under TCG a stale translation then
 * kills the guest now and then with "Oops: int3" at
 * do_user_addr_fault+0xcf, outside the module: 6.12 cloud, run 12, and a
 * helper's real_test run; judge.sh reruns such a VM, which cost 8.5
 * minutes of make check. With this event open the keys stay enabled for
 * the whole run and a profile only moves their counts: the emulator's
 * bug is no longer in the way, and nothing the module does depends on
 * whether the key was already on (on a host running perf it is).
 */
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include "wl.h"

int main(void)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_PAGE_FAULTS,
		.disabled = 1,
		.exclude_kernel = 1,
		.exclude_hv = 1,
	};

	if (syscall(__NR_perf_event_open, &attr, 0, -1, -1, 0) < 0)
		wl_die("perf_event_open");
	wl_say("ready");
	wl_hold_forever();
	return 0;
}
