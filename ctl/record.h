/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the module reports, decoded from netlink into plain structs so that
 * formatting never touches a socket and can be tested without a kernel.
 */
#ifndef KHOLMESCTL_RECORD_H
#define KHOLMESCTL_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kholmes.h"
#include "kholmes_rule.h"

/* Longer strings from a future module are cut, not refused. */
#define KH_VERSION_LEN	32
#define KH_KRELEASE_LEN	65	/* struct utsname's release */

struct kh_config {
	bool enabled;
	uint32_t interval_ms;
	uint32_t window;
	uint32_t max_tracked;
};

struct kh_status {
	char version[KH_VERSION_LEN];
	char krelease[KH_KRELEASE_LEN];
	struct kh_config cfg;
	uint64_t stat[KHOLMES_STAT_MAX + 1];	/* by enum kholmes_stat_attr */
};

struct kh_rule {
	uint32_t metric;
	struct kholmes_rule_cfg cfg;
};

struct kh_watch_entry {
	int type;				/* KHOLMES_WATCH_* */
	uint32_t pid;
	char name[KHOLMES_CGROUP_PATH_MAX];	/* comm or cgroup path */
};

struct kh_watch {
	size_t n;
	struct kh_watch_entry *e;
};

struct kh_proc {
	uint32_t pid;
	char comm[KHOLMES_COMM_LEN];
	uint64_t start_ns;
	bool kthread;
	uint32_t samples;
	uint32_t has_value;			/* 1 << metric present */
	uint32_t has_avg;
	uint64_t value[KHOLMES_NR_METRICS];	/* fixed point */
	uint64_t avg[KHOLMES_NR_METRICS];
};

struct kh_event {
	uint32_t pid;
	char comm[KHOLMES_COMM_LEN];
	uint64_t start_ns;
	uint64_t time_ns;
	uint32_t metric;
	uint64_t value;				/* fixed point */
	uint64_t avg;
	struct kholmes_rule_cfg rule;
};

#endif
