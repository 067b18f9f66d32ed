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
	uint32_t max_threads;
	uint32_t max_captures;
	uint32_t max_queue_kb;
	uint32_t user_stack_kb;
	uint32_t capture_rate;
	uint32_t profile_s;
	uint32_t profile_hz;
	uint32_t fault_period;
	uint32_t cpu_max;			/* percent of all CPUs, 0 off */
	bool profiles;				/* profile after detections */
	bool kthreads;				/* kernel threads captured */
	uint32_t flight_hz;			/* flight recorder, 0 off */
	uint32_t flight_s;
	uint32_t has;				/* 1 << KHOLMES_CFG_* present */
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

/* LIST_CAPTURES and CAPTURE_READY: what a queue entry says of itself. */
struct kh_capture_sum {
	uint64_t id;
	uint64_t time_ns;			/* wall clock */
	uint64_t boot_ns;
	uint32_t flags;				/* KHOLMES_CAPTURE_F_* */
	bool has_metric;			/* false: manual */
	uint32_t metric;
	uint64_t value;				/* fixed point */
	uint64_t avg;
	uint32_t pid;
	char comm[KHOLMES_COMM_LEN];
	uint32_t nr_threads;			/* the process had */
	uint32_t threads;			/* captured */
	uint64_t bytes;
	bool has_profile_of;			/* a profile's capture */
	uint64_t profile_of;			/* the capture it follows, 0: none */
	uint32_t profile_kind;			/* enum kholmes_profile_kind */
};

/* What the controller learnt of a mapped file while unwinding. */
enum kh_file_state {
	KH_FILE_UNKNOWN,			/* no frame needed it */
	KH_FILE_OK,				/* opened, build-id agrees or absent */
	KH_FILE_MISSING,			/* not found or not ELF */
	KH_FILE_MISMATCH,			/* on disk, but another build */
};

struct kh_mapping {
	uint64_t start;
	uint64_t end;
	uint64_t pgoff;
	uint64_t inode;
	uint32_t prot;				/* KHOLMES_MAP_* */
	uint32_t dev;
	char *path;				/* never NULL */
	uint8_t build_id[KHOLMES_BUILD_ID_MAX];
	uint8_t build_id_len;
	enum kh_file_state state;
	uint8_t disk_build_id[KHOLMES_BUILD_ID_MAX];
	uint8_t disk_build_id_len;
};

/* One user frame, symbolized or at least placed in its mapping. */
struct kh_uframe {
	uint64_t pc;
	bool activation;			/* exact pc, not a return address */
	int map;				/* index in maps, -1: in none */
	uint64_t file_off;			/* pc as an offset in map's file */
	char *func;				/* NULL: not symbolized; demangled */
	char *sys_name;				/* as in the binary, if mangled */
	uint64_t func_off;
};

enum kh_unwinder {
	KH_UNW_NONE,
	KH_UNW_DWARF,				/* libdw CFI over the stack copy */
	KH_UNW_FP,				/* the kernel's frame-pointer walk */
};

struct kh_ustack {
	struct kh_uframe *f;
	size_t n;
	char stop[128];				/* why the walk ended, "" if clean */
};

struct kh_thread {
	uint32_t tid;
	char comm[KHOLMES_COMM_LEN];
	char state;				/* '?' when not sent */
	uint32_t flags;				/* KHOLMES_THREAD_F_* */
	bool has_cpu;
	uint32_t cpu;
	uint64_t *uframes;			/* frame-pointer walk, leaf first */
	size_t nr_uframes;
	bool has_uregs;
	uint64_t uregs[KHOLMES_NR_UREGS];	/* enum kholmes_ureg */
	uint64_t ustack_sp;
	uint32_t ustack_len;			/* announced */
	uint32_t ustack_valid;			/* bytes from sp actually received */
	uint8_t *ustack;
	char **kframes;				/* innermost first */
	size_t nr_kframes;
	bool kframes_gap;			/* a record missing in the middle */
	/* filled by kh_unwind() */
	struct kh_ustack dwarf;
	struct kh_ustack fp;
	enum kh_unwinder shown;
};

/* One distinct stack of a profile and how many samples had it. */
struct kh_pstack {
	uint32_t count;
	bool has_id;
	uint32_t id;				/* KHOLMES_PSTACK_ID */
	bool dwarf;				/* upcs: CFI over stack copies */
	uint64_t *upcs;				/* frame-pointer walk, leaf first */
	size_t nr_upcs;
	char **kframes;				/* innermost first */
	size_t nr_kframes;
	struct kh_ustack user;			/* upcs symbolized, by kh_unwind() */
	/* a flight recorder sample (KHOLMES_PROFILE_BEFORE) */
	bool has_ago;
	uint64_t ago_ns;			/* before the detection */
	uint32_t tid;
	/* a host stack (KHOLMES_PROFILE_HOST) */
	uint32_t pid;
	char comm[KHOLMES_COMM_LEN];
};

/* A sample with its user registers and stack copy (KHOLMES_A_PSAMPLE). */
struct kh_psample {
	uint32_t stack;				/* KHOLMES_PSTACK_ID */
	bool has_uregs;
	uint64_t uregs[KHOLMES_NR_UREGS];
	uint64_t sp;
	uint32_t len;				/* announced */
	uint32_t valid;				/* bytes from sp received */
	uint8_t *data;
};

/* KHOLMES_A_PROFILE and its KHOLMES_A_PSTACK records. */
struct kh_profile {
	bool present;
	uint32_t kind;				/* enum kholmes_profile_kind */
	uint32_t flags;				/* KHOLMES_PROFILE_F_* */
	uint32_t hz;
	uint64_t period;			/* ns (cpu) or faults (faults) */
	uint32_t seconds;			/* asked for */
	uint64_t duration_ns;			/* ran for */
	uint64_t samples;
	uint64_t lost;
	uint32_t stacks;			/* announced */
	uint64_t start_rss_anon;
	uint64_t start_rss_file;
	uint64_t start_vm;
	uint32_t copy_bytes;			/* stack copied per sample */
	uint64_t copies;			/* samples sent with a copy */
	uint64_t copies_lost;			/* samples with none */
	uint64_t end_rss_anon;			/* when sampling stopped */
	uint64_t end_rss_file;
	bool has_end_rss;			/* else the capture's, or none */
	struct kh_pstack *pstacks;
	size_t nr_pstacks;
	size_t received;			/* KHOLMES_A_PSTACK records decoded */
	struct kh_psample *psamples;
	size_t nr_psamples;
	/* filled by kh_unwind() */
	uint64_t unwound;			/* samples whose CFI walk is shown */
	uint64_t attributed;			/* samples given their stack's walks */
};

/* A top consumer of CPU, in a rundelay capture. */
struct kh_consumer {
	uint32_t pid;
	char comm[KHOLMES_COMM_LEN];
	uint64_t cpu;				/* fixed point percent of one CPU */
	char *cgroup;				/* never NULL */
};

/* GET_CAPTURE: everything, as the stream decoder put it together. */
struct kh_capture {
	struct kh_capture_sum sum;
	bool has_rule;
	struct kholmes_rule_cfg rule;
	char *exe;				/* NULL: not sent */
	char *cgroup;
	bool has_uid;
	uint32_t uid;
	uint64_t start_ns;			/* boot-based */
	uint32_t has_value;			/* 1 << metric present */
	uint32_t has_avg;
	uint64_t value[KHOLMES_NR_METRICS];
	uint64_t avg[KHOLMES_NR_METRICS];
	uint32_t nr_mappings;			/* announced */
	uint64_t duration_ns;
	struct kh_mapping *maps;		/* by address */
	size_t nr_maps;
	struct kh_thread *threads;
	size_t nr_threads;
	bool has_rss;
	uint64_t rss_anon;			/* bytes, at the capture */
	uint64_t rss_file;
	struct kh_profile prof;			/* KHOLMES_CAPTURE_F_PROFILE */
	struct kh_profile before;		/* flight recorder: the target */
	struct kh_profile host;			/* flight recorder: the host */
	struct kh_consumer *consumers;		/* rundelay: who took the CPU */
	size_t nr_consumers;
	unsigned int bad_records;		/* refused and skipped */
	char bad_why[128];			/* the first refusal */
	char unwind_err[128];			/* why libdw could not help */
};

#endif
