/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pure parsing of the command line: no output, no netlink. Every parser
 * returns 0, or -1 with a struct kh_parse_err saying which word was wrong
 * and why, so that the caller prints one clear message and exits 2.
 */
#ifndef KHOLMESCTL_ARGS_H
#define KHOLMESCTL_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kholmes.h"

int kh_parse_u64(const char *word, uint64_t max, uint64_t *out);
int kh_parse_u32(const char *word, uint32_t *out);
int kh_parse_u32_unit(const char *word, const char *unit, uint32_t *out);
int kh_parse_onoff(const char *word, bool *out);
bool kh_is_json_opt(const char *word);
bool kh_is_help(const char *word);

enum kh_kw_type {
	KH_KW_U32,
	KH_KW_ONOFF,
	KH_KW_STRING,
};

struct kh_keyword {
	const char *name;
	int id;			/* the netlink attribute it sets */
	enum kh_kw_type type;
	const char *unit;	/* optional suffix accepted after a number */
};

/* Tables end with a NULL name. */
extern const struct kh_keyword kh_config_keys[];
extern const struct kh_keyword kh_rule_keys[];
extern const struct kh_keyword kh_watch_keys[];

const struct kh_keyword *kh_keyword(const struct kh_keyword *table,
				    const char *word);

enum kh_perr {
	KH_PE_NONE,
	KH_PE_KEYWORD,		/* word is no keyword here */
	KH_PE_METRIC,		/* word is no metric */
	KH_PE_MISSING,		/* key needs a value after it */
	KH_PE_NUMBER,		/* word is no number for key; err says how */
	KH_PE_ONOFF,		/* word is neither on nor off */
	KH_PE_TWICE,		/* key given more than once */
	KH_PE_EMPTY,		/* nothing given; key says what is needed */
	KH_PE_TOOLONG,		/* word longer than the kernel keeps */
	KH_PE_CONFLICT,		/* word does not go with key */
};

struct kh_parse_err {
	enum kh_perr kind;
	const char *word;
	const char *key;
	int err;		/* for KH_PE_NUMBER: -EINVAL, -EDOM, -ERANGE */
};

void kh_parse_err_str(char *buf, size_t len, const struct kh_parse_err *pe);

struct kh_config_set {
	uint32_t mask;				/* 1 << KHOLMES_CFG_* given */
	uint32_t val[KHOLMES_CFG_MAX + 1];
	bool json;
};

struct kh_rule_set {
	uint32_t metric;
	uint32_t mask;				/* 1 << KHOLMES_RULE_* given */
	uint32_t val[KHOLMES_RULE_MAX + 1];
	bool json;
};

struct kh_watch_arg {
	int type;				/* KHOLMES_WATCH_* */
	uint32_t pid;
	const char *name;			/* comm or cgroup path */
	bool json;
};

struct kh_ps_opts {
	unsigned int sort;			/* enum kholmes_metric */
	uint32_t top;				/* 0: every process */
	bool json;
};

struct kh_capture_arg {
	uint32_t pid;
	bool json;
};

/* profile pid N [seconds S] [hz F] [faults]; ranges are the kernel's */
struct kh_profile_arg {
	uint32_t pid;
	uint32_t kind;				/* enum kholmes_profile_kind */
	bool has_seconds;
	uint32_t seconds;
	bool has_hz;
	uint32_t hz;
	bool json;
};

/* status [--dir DIR] */
struct kh_status_opts {
	const char *dir;			/* NULL: not given */
	bool json;
};

struct kh_pull_opts {
	const char *dir;
	uint32_t max_files;			/* captures kept, 0: no limit */
	uint32_t max_mb;			/* MiB kept, 0: no limit */
	const char *exec;			/* run with each report's path */
	const char *config;			/* apply at start and on SIGHUP */
	const char *prom_file;			/* node_exporter textfile */
	const char *post;			/* upload each capture there */
	const char *group;			/* the captures' group */
	bool json;
};

int kh_parse_config_set(int argc, char **argv, struct kh_config_set *cs,
			struct kh_parse_err *pe);
int kh_parse_rule_set(int argc, char **argv, struct kh_rule_set *rs,
		      struct kh_parse_err *pe);
int kh_parse_watch(int argc, char **argv, struct kh_watch_arg *wa,
		   struct kh_parse_err *pe);
int kh_parse_ps(int argc, char **argv, struct kh_ps_opts *po,
		struct kh_parse_err *pe);
int kh_parse_capture(int argc, char **argv, struct kh_capture_arg *ca,
		     struct kh_parse_err *pe);
int kh_parse_profile(int argc, char **argv, struct kh_profile_arg *pa,
		     struct kh_parse_err *pe);
int kh_parse_pull(int argc, char **argv, bool daemon, struct kh_pull_opts *po,
		  struct kh_parse_err *pe);
int kh_parse_json_only(int argc, char **argv, bool *json,
		       struct kh_parse_err *pe);
int kh_parse_status(int argc, char **argv, struct kh_status_opts *so,
		    struct kh_parse_err *pe);

#endif
