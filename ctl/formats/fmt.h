/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Text and JSON renderings of decoded records. Pure: they read structs and
 * write to a FILE or build json-c objects, so the host tests cover them.
 */
#ifndef KHOLMESCTL_FMT_H
#define KHOLMESCTL_FMT_H

#include <stdio.h>

#include <json-c/json.h>

#include "record.h"

/* One JSON document per line: monitor streams them, tools read them. */
#define KH_JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Fractional digits shown of a fixed-point value. */
#define KH_TEXT_DIGITS	1
#define KH_JSON_DIGITS	3

/* Enough for U64_MAX with a decimal point and its fraction. */
#define KH_FIXED_LEN	32

/* "2026-11-26T03:16:00.123Z" and "20261126T031600Z" */
#define KH_TIME_LEN	32

char *kh_fixed(char *buf, size_t len, uint64_t v, unsigned int digits);
void kh_text_clean(char *dst, size_t len, const char *src);
char *kh_utf8_dup(const char *s);
json_object *kh_json_string(const char *s);
json_object *kh_json_fixed(uint64_t v);
char *kh_time_iso(char *buf, size_t len, uint64_t ns);
char *kh_time_compact(char *buf, size_t len, uint64_t ns);
char *kh_size(char *buf, size_t len, uint64_t bytes);
const char *kh_trigger_name(const struct kh_capture_sum *sum);
const char *kh_profile_kind_name(uint32_t kind);
bool kh_profile_on_cpu(uint32_t kind);
json_object *kh_capture_flags_json(uint32_t flags);
json_object *kh_thread_flags_json(uint32_t flags);

json_object *kh_status_json(const struct kh_status *st);
json_object *kh_config_json(const struct kh_config *cfg);
/* @attr (KHOLMES_CFG_*) of @cfg in @val; false when the module sent none. */
bool kh_config_get(const struct kh_config *cfg, int attr, uint32_t *val);
json_object *kh_rule_cfg_json(const struct kholmes_rule_cfg *r);
json_object *kh_rules_json(const struct kh_rule *rules, size_t n);
json_object *kh_watch_json(const struct kh_watch *w);
json_object *kh_proc_json(const struct kh_proc *p);
json_object *kh_procs_json(const struct kh_proc *procs, size_t n);
json_object *kh_event_json(const struct kh_event *ev);
json_object *kh_capture_sum_json(const struct kh_capture_sum *s);
json_object *kh_captures_json(const struct kh_capture_sum *s, size_t n);

void kh_status_text(FILE *f, const struct kh_status *st);
/* What status adds of a capture directory: its path, its partial captures */
void kh_dir_status_text(FILE *f, const char *dir, uint64_t partial);
void kh_dir_status_json(json_object *o, const char *dir, uint64_t partial);
void kh_config_text(FILE *f, const struct kh_config *cfg);
void kh_rules_text(FILE *f, const struct kh_rule *rules, size_t n);
void kh_watch_text(FILE *f, const struct kh_watch *w);
void kh_procs_text(FILE *f, const struct kh_proc *procs, size_t n,
		   unsigned int sort);
void kh_event_text(FILE *f, const struct kh_event *ev);
void kh_captures_text(FILE *f, const struct kh_capture_sum *s, size_t n);

void kh_procs_sort(struct kh_proc *procs, size_t n, unsigned int metric);

#endif
