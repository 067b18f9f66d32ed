/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KHOLMESCTL_OUT_H
#define KHOLMESCTL_OUT_H

#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include <json-c/json.h>

#include "args.h"

#define PROG_NAME	"kholmesctl"

enum kh_exit {
	KH_EXIT_OK,
	KH_EXIT_FAIL,		/* the operation failed */
	KH_EXIT_USAGE,		/* the command line was wrong */
	KH_EXIT_NOMOD,		/* the module is not loaded */
};

/* -j or --json, before the subcommand or among its words */
extern bool kh_json;

typedef void (*kh_usage_fn)(FILE *f);

/*
 * A line on stderr, "kholmesctl: ...", with its syslog priority (LOG_ERR,
 * LOG_WARNING, LOG_NOTICE, LOG_INFO) as an sd-daemon "<N>" prefix when
 * stderr is the journal. kh_err() is kh_log(LOG_ERR, ...).
 */
void kh_vlog(int prio, const char *fmt, va_list ap);
void kh_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kh_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kh_synopsis(FILE *out, kh_usage_fn usage);
int kh_usage_fail(kh_usage_fn usage, const struct kh_parse_err *pe);
int kh_json_put(json_object *o);

#endif
