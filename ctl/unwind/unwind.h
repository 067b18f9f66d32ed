/* SPDX-License-Identifier: GPL-2.0 */
/*
 * User stacks of a capture, unwound and symbolized on the host with
 * elfutils' libdw, as perf record --call-graph dwarf does: the kernel sends
 * each thread's user registers and a copy of the top of its stack, and the
 * binaries' CFI (.eh_frame, .debug_frame) walks it, through code built
 * without frame pointers (all of Debian's libc). The kernel's own
 * frame-pointer walk is symbolized the same way, as fallback and
 * cross-check.
 */
#ifndef KHOLMESCTL_UNWIND_H
#define KHOLMESCTL_UNWIND_H

#include "record.h"

/* Frames kept of a DWARF walk; a loop in a corrupt stack ends here. */
#define KH_UNWIND_MAX	128

/*
 * Time for unwinding and symbolizing one capture; past it the capture is
 * written with what was resolved, and says so in its unwind error.
 */
#define KH_UNWIND_BUDGET_MS	30000
extern unsigned int kh_unwind_budget_ms;

/*
 * Shares the samples of each stack below @first (the kernel's) among the
 * stacks made from its copies' CFI walks (@origins[i]: the origin of
 * stack first + i), in proportion to their counts; counted in
 * p->attributed. For kh_unwind(), and exported for its tests.
 */
void kh_pstack_attribute(struct kh_profile *p, size_t first,
			 const size_t *origins);

int kh_unwind(struct kh_capture *cap);
int kh_map_find(const struct kh_capture *cap, uint64_t addr);
size_t kh_fp_len(const struct kh_capture *cap, const uint64_t *pcs, size_t n);

#endif
