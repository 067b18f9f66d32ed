/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels kholmes supports lives here, keyed
 * on LINUX_VERSION_CODE and turned into feature macros, so that the rest of
 * the module tests a feature, never a version. Force-included by Kbuild.
 */
#ifndef _KHOLMES_COMPAT_H
#define _KHOLMES_COMPAT_H

/* before any header, which would define its own */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/sched.h>
#include <linux/version.h>

#if KERNEL_VERSION(6, 1, 0) > LINUX_VERSION_CODE
#error "kholmes needs Linux 6.1 or newer"
#endif

/*
 * run_delay and last_arrival (rundelay, dstate) are kept by the scheduler
 * only with CONFIG_SCHED_INFO; without it those metrics read zero.
 */
#ifdef CONFIG_SCHED_INFO
#define COMPAT_HAVE_SCHED_INFO 1
#else
#define COMPAT_HAVE_SCHED_INFO 0
#endif

/* rss-pct needs the memory controller for memory.max. */
#ifdef CONFIG_MEMCG
#define COMPAT_HAVE_MEMCG 1
#else
#define COMPAT_HAVE_MEMCG 0
#endif

/*
 * Another task's kernel stack. stack_trace_save_tsk() is exported on 6.12
 * but not on 6.1, where the exported ORC unwinder does the same walk:
 * unwind_start() (not __unwind_start() with a NULL first frame, which
 * skips every frame) from the task's saved stack pointer. put_task_stack()
 * is not exported, so the stack cannot be pinned; a vmapped stack of an
 * exiting task is freed only after an RCU grace period, so inside the RCU
 * section the result can be stale but never a fault. The caller holds a
 * reference on the task and never passes one that is running.
 */
#if KERNEL_VERSION(6, 12, 0) <= LINUX_VERSION_CODE
#include <linux/stacktrace.h>

static inline unsigned int compat_stack_save_tsk(struct task_struct *task,
						 unsigned long *store,
						 unsigned int size)
{
	return stack_trace_save_tsk(task, store, size, 0);
}
#else
#include <linux/rcupdate.h>
#include <asm/unwind.h>

static inline unsigned int compat_stack_save_tsk(struct task_struct *task,
						 unsigned long *store,
						 unsigned int size)
{
	struct unwind_state state;
	unsigned long addr;
	unsigned int n = 0;

	rcu_read_lock();
	for (unwind_start(&state, task, NULL, NULL);
	     !unwind_done(&state) && n < size; unwind_next_frame(&state)) {
		addr = unwind_get_return_address(&state);
		if (!addr)
			break;
		store[n++] = addr;
	}
	rcu_read_unlock();
	return n;
}
#endif

/*
 * An exact RSS counter, for a capture's figures: since 6.2 the counters are
 * per-CPU and get_mm_counter() reads only the approximate total (off by
 * up to the per-CPU batches, all of a small process's RSS). The sampler's
 * walk keeps the cheap read, as /proc's VmRSS does.
 */
#if KERNEL_VERSION(6, 2, 0) <= LINUX_VERSION_CODE
#define compat_mm_counter_sum(mm, member) get_mm_counter_sum(mm, member)
#else
#define compat_mm_counter_sum(mm, member) get_mm_counter(mm, member)
#endif

/* The parsed request attributes of a dump: moved into a genl_info in 6.2. */
#if KERNEL_VERSION(6, 2, 0) <= LINUX_VERSION_CODE
#define compat_dump_attrs(cb) (genl_dumpit_info(cb)->info.attrs)
#else
#define compat_dump_attrs(cb) (genl_dumpit_info(cb)->attrs)
#endif

/*
 * A doit's pre/post hooks get the split op since 6.2. The multicast
 * groups' capability flags came to 6.7 and to 6.1.66 (and so are in every
 * 6.1 Debian ships now); a kernel without them lets anyone join.
 */
#include <net/genetlink.h>

#if KERNEL_VERSION(6, 2, 0) <= LINUX_VERSION_CODE
#define compat_genl_ops_t struct genl_split_ops
#else
#define compat_genl_ops_t struct genl_ops
#endif

#ifdef GENL_MCAST_CAP_NET_ADMIN
#define COMPAT_MCGRP_CAP_NET_ADMIN GENL_MCAST_CAP_NET_ADMIN
#else
#define COMPAT_MCGRP_CAP_NET_ADMIN 0
#endif

#endif /* _KHOLMES_COMPAT_H */
