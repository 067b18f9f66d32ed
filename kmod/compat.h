/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels kholmes supports lives here, keyed
 * on LINUX_VERSION_CODE and turned into feature macros, so that the rest of
 * the module tests a feature, never a version. Force-included by Kbuild.
 */
#ifndef _KHOLMES_COMPAT_H
#define _KHOLMES_COMPAT_H

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

#endif /* _KHOLMES_COMPAT_H */
