// SPDX-License-Identifier: GPL-2.0
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fmt.h"
#include "metrics.h"

#define BIT(n)		(1U << (n))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define NSEC		((uint64_t)1000000000)

/*
 * Fixed point to decimal, rounded half up to at most `digits` fractional
 * digits, trailing zeros dropped: 99849 -> "99.8" (1 digit), 1500 -> "1.5",
 * 100000 -> "100". KHOLMES_VALUE_SCALE is a power of ten.
 */
char *kh_fixed(char *buf, size_t len, uint64_t v, unsigned int digits)
{
	uint64_t div = 1, p10 = 1, q, s;
	unsigned int sd = 0, i;
	int n;

	for (s = KHOLMES_VALUE_SCALE; s >= 10; s /= 10)
		sd++;
	if (digits > sd)
		digits = sd;
	for (i = digits; i < sd; i++)
		div *= 10;
	for (i = 0; i < digits; i++)
		p10 *= 10;
	/* v / div < U64_MAX whenever div > 1, so the carry cannot wrap */
	q = v / div + ((v % div) * 2 >= div && div > 1);
	n = snprintf(buf, len, "%" PRIu64, q / p10);
	if (n < 0 || (size_t)n >= len || !digits || !(q % p10))
		return buf;
	snprintf(buf + n, len - n, ".%0*" PRIu64, (int)digits, q % p10);
	for (n = strlen(buf); n > 0 && buf[n - 1] == '0'; n--)
		buf[n - 1] = '\0';
	return buf;
}

/* Length of the valid UTF-8 sequence at s, 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/*
 * A process names itself (prctl, exec): what reaches the terminal must not
 * be able to move the cursor or split a line, so control characters and
 * bytes that are not UTF-8 print as '?', as ps(1) does.
 */
void kh_text_clean(char *dst, size_t len, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0, n;
	uint32_t cp;

	if (!len)
		return;
	while (*s && o + 1 < len) {
		n = utf8_seq(s, &cp);
		if (!n || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			dst[o++] = '?';
			s += n ? n : 1;
			continue;
		}
		if (o + n >= len)
			break;
		memcpy(dst + o, s, n);
		o += n;
		s += n;
	}
	dst[o] = '\0';
}

/*
 * Invalid UTF-8 becomes U+FFFD: the kernel cuts comm at 15 bytes, possibly
 * inside a character, and paths are bytes. A malloc'd copy, NULL: no memory.
 */
char *kh_utf8_dup(const char *src)
{
	static const char repl[] = "\xef\xbf\xbd";
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, n;
	uint32_t cp;
	char *buf;

	buf = malloc(strlen(src) * (sizeof(repl) - 1) + 1);
	if (!buf)
		return NULL;
	while (*s) {
		n = utf8_seq(s, &cp);
		if (n) {
			memcpy(buf + i, s, n);
			i += n;
			s += n;
		} else {
			memcpy(buf + i, repl, sizeof(repl) - 1);
			i += sizeof(repl) - 1;
			s++;
		}
	}
	buf[i] = '\0';
	return buf;
}

/*
 * json-c escapes quotes, backslashes and control characters but passes
 * other bytes through: invalid UTF-8 is replaced to keep the document valid.
 */
json_object *kh_json_string(const char *src)
{
	char *buf = kh_utf8_dup(src);
	json_object *o;

	if (!buf)
		return NULL;
	o = json_object_new_string(buf);
	free(buf);
	return o;
}

/* The decimal text is kept as written so that no binary rounding shows. */
json_object *kh_json_fixed(uint64_t v)
{
	char buf[KH_FIXED_LEN];

	kh_fixed(buf, sizeof(buf), v, KH_JSON_DIGITS);
	return json_object_new_double_s(strtod(buf, NULL), buf);
}

static const struct {
	const char *key;
	int attr;
} stat_head[] = {
	{ "tracked",		KHOLMES_STAT_TRACKED },
	{ "untracked",		KHOLMES_STAT_UNTRACKED },
	{ "passes",		KHOLMES_STAT_PASSES },
	{ "detections",		KHOLMES_STAT_DETECTIONS },
	{ "suppressed",		KHOLMES_STAT_SUPPRESSED },
}, stat_pass[] = {
	{ "last",		KHOLMES_STAT_PASS_LAST_NS },
	{ "mean",		KHOLMES_STAT_PASS_MEAN_NS },
	{ "max",		KHOLMES_STAT_PASS_MAX_NS },
}, stat_tail[] = {
	{ "tasks-visited",	KHOLMES_STAT_TASKS_VISITED },
	{ "procs-visited",	KHOLMES_STAT_PROCS_VISITED },
	{ "mem-bytes",		KHOLMES_STAT_MEM_BYTES },
	{ "alloc-fails",	KHOLMES_STAT_ALLOC_FAILS },
	{ "events-lost",	KHOLMES_STAT_EVENTS_LOST },
	{ "captures",		KHOLMES_STAT_CAPTURES },
	{ "captures-dropped",	KHOLMES_STAT_CAPTURES_DROPPED },
	{ "captures-limited",	KHOLMES_STAT_CAPTURES_LIMITED },
	{ "captures-failed",	KHOLMES_STAT_CAPTURES_FAILED },
	{ "queue-len",		KHOLMES_STAT_QUEUE_LEN },
	{ "queue-bytes",	KHOLMES_STAT_QUEUE_BYTES },
}, stat_profile[] = {
	/* "profiles" is the configuration's on|off, in the same object */
	{ "profiles-done",	KHOLMES_STAT_PROFILES },
	{ "profiles-skipped",	KHOLMES_STAT_PROFILES_SKIPPED },
	{ "saturated",		KHOLMES_STAT_SATURATED },
}, stat_psample[] = {
	{ "profile-samples",	KHOLMES_STAT_PROFILE_SAMPLES },
	{ "profile-ns",		KHOLMES_STAT_PROFILE_NS },
	{ "flight-bytes",	KHOLMES_STAT_FLIGHT_BYTES },
	{ "flight-cpus",	KHOLMES_STAT_FLIGHT_CPUS },
	{ "flight-samples",	KHOLMES_STAT_FLIGHT_SAMPLES },
	{ "flight-dropped",	KHOLMES_STAT_FLIGHT_DROPPED },
	{ "flight-ns",		KHOLMES_STAT_FLIGHT_NS },
}, stat_capture[] = {
	{ "last",		KHOLMES_STAT_CAPTURE_LAST_NS },
	{ "max",		KHOLMES_STAT_CAPTURE_MAX_NS },
};

/* The capture keys, shown when the module has them. */
static const struct {
	const char *key;
	int attr;
	size_t off;
} cfg_capture[] = {
	{ "max-threads",   KHOLMES_CFG_MAX_THREADS,
	  offsetof(struct kh_config, max_threads) },
	{ "max-captures",  KHOLMES_CFG_MAX_CAPTURES,
	  offsetof(struct kh_config, max_captures) },
	{ "max-queue-kb",  KHOLMES_CFG_MAX_QUEUE_KB,
	  offsetof(struct kh_config, max_queue_kb) },
	{ "user-stack-kb", KHOLMES_CFG_USER_STACK_KB,
	  offsetof(struct kh_config, user_stack_kb) },
	{ "capture-rate",  KHOLMES_CFG_CAPTURE_RATE,
	  offsetof(struct kh_config, capture_rate) },
	{ "profile-s",     KHOLMES_CFG_PROFILE_S,
	  offsetof(struct kh_config, profile_s) },
	{ "profile-hz",    KHOLMES_CFG_PROFILE_HZ,
	  offsetof(struct kh_config, profile_hz) },
	{ "profile-fault-period", KHOLMES_CFG_FAULT_PERIOD,
	  offsetof(struct kh_config, fault_period) },
	{ "cpu-max",       KHOLMES_CFG_CPU_MAX,
	  offsetof(struct kh_config, cpu_max) },
	{ "flight-hz",     KHOLMES_CFG_FLIGHT_HZ,
	  offsetof(struct kh_config, flight_hz) },
	{ "flight-s",      KHOLMES_CFG_FLIGHT_S,
	  offsetof(struct kh_config, flight_s) },
};

static uint32_t cfg_val(const struct kh_config *cfg, size_t i)
{
	return *(const uint32_t *)((const char *)cfg + cfg_capture[i].off);
}

bool kh_config_get(const struct kh_config *cfg, int attr, uint32_t *val)
{
	size_t i;

	switch (attr) {
	case KHOLMES_CFG_ENABLED:
		*val = cfg->enabled;
		return true;
	case KHOLMES_CFG_INTERVAL_MS:
		*val = cfg->interval_ms;
		return true;
	case KHOLMES_CFG_WINDOW:
		*val = cfg->window;
		return true;
	case KHOLMES_CFG_MAX_TRACKED:
		*val = cfg->max_tracked;
		return true;
	case KHOLMES_CFG_PROFILES:
		*val = cfg->profiles;
		return cfg->has & BIT(attr);
	case KHOLMES_CFG_KTHREADS:
		*val = cfg->kthreads;
		return cfg->has & BIT(attr);
	}
	for (i = 0; i < ARRAY_SIZE(cfg_capture); i++)
		if (cfg_capture[i].attr == attr) {
			*val = cfg_val(cfg, i);
			return cfg->has & BIT(attr);
		}
	return false;
}

static void config_fill(json_object *o, const struct kh_config *cfg)
{
	size_t i;

	json_object_object_add(o, "enabled",
			       json_object_new_boolean(cfg->enabled));
	json_object_object_add(o, "interval-ms",
			       json_object_new_uint64(cfg->interval_ms));
	json_object_object_add(o, "window", json_object_new_uint64(cfg->window));
	json_object_object_add(o, "max-tracked",
			       json_object_new_uint64(cfg->max_tracked));
	for (i = 0; i < ARRAY_SIZE(cfg_capture); i++)
		if (cfg->has & BIT(cfg_capture[i].attr))
			json_object_object_add(o, cfg_capture[i].key,
				json_object_new_uint64(cfg_val(cfg, i)));
	if (cfg->has & BIT(KHOLMES_CFG_PROFILES))
		json_object_object_add(o, "profiles",
				       json_object_new_boolean(cfg->profiles));
	if (cfg->has & BIT(KHOLMES_CFG_KTHREADS))
		json_object_object_add(o, "kthreads",
				       json_object_new_boolean(cfg->kthreads));
}

json_object *kh_config_json(const struct kh_config *cfg)
{
	json_object *o = json_object_new_object();

	if (o)
		config_fill(o, cfg);
	return o;
}

json_object *kh_status_json(const struct kh_status *st)
{
	json_object *o, *pass;
	size_t i;

	o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "version", kh_json_string(st->version));
	json_object_object_add(o, "kernel", kh_json_string(st->krelease));
	config_fill(o, &st->cfg);
	for (i = 0; i < ARRAY_SIZE(stat_head); i++)
		json_object_object_add(o, stat_head[i].key,
			json_object_new_uint64(st->stat[stat_head[i].attr]));
	pass = json_object_new_object();
	for (i = 0; pass && i < ARRAY_SIZE(stat_pass); i++)
		json_object_object_add(pass, stat_pass[i].key,
			json_object_new_uint64(st->stat[stat_pass[i].attr]));
	json_object_object_add(o, "pass-ns", pass);
	for (i = 0; i < ARRAY_SIZE(stat_tail); i++)
		json_object_object_add(o, stat_tail[i].key,
			json_object_new_uint64(st->stat[stat_tail[i].attr]));
	for (i = 0; i < ARRAY_SIZE(stat_profile); i++)
		json_object_object_add(o, stat_profile[i].key,
			json_object_new_uint64(st->stat[stat_profile[i].attr]));
	json_object_object_add(o, "host-cpu",
			       kh_json_fixed(st->stat[KHOLMES_STAT_HOST_CPU]));
	for (i = 0; i < ARRAY_SIZE(stat_psample); i++)
		json_object_object_add(o, stat_psample[i].key,
			json_object_new_uint64(st->stat[stat_psample[i].attr]));
	pass = json_object_new_object();
	for (i = 0; pass && i < ARRAY_SIZE(stat_capture); i++)
		json_object_object_add(pass, stat_capture[i].key,
			json_object_new_uint64(st->stat[stat_capture[i].attr]));
	json_object_object_add(o, "capture-ns", pass);
	return o;
}

static void rule_fill(json_object *o, const struct kholmes_rule_cfg *r)
{
	json_object_object_add(o, "min", json_object_new_uint64(r->min));
	json_object_object_add(o, "diff", json_object_new_uint64(r->diff));
	json_object_object_add(o, "abs", json_object_new_uint64(r->abs));
	json_object_object_add(o, "cooldown",
			       json_object_new_uint64(r->cooldown_s));
}

json_object *kh_rule_cfg_json(const struct kholmes_rule_cfg *r)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	rule_fill(o, r);
	json_object_object_add(o, "enabled", json_object_new_boolean(r->enabled));
	return o;
}

json_object *kh_rules_json(const struct kh_rule *rules, size_t n)
{
	json_object *a, *o;
	size_t i;

	a = json_object_new_array();
	for (i = 0; a && i < n; i++) {
		o = json_object_new_object();
		if (!o)
			break;
		json_object_object_add(o, "metric",
			json_object_new_string(kh_metric_name(rules[i].metric)));
		json_object_object_add(o, "unit",
			json_object_new_string(kh_metric_unit(rules[i].metric)));
		json_object_object_add(o, "enabled",
			json_object_new_boolean(rules[i].cfg.enabled));
		rule_fill(o, &rules[i].cfg);
		json_object_array_add(a, o);
	}
	return a;
}

json_object *kh_watch_json(const struct kh_watch *w)
{
	json_object *o, *pids, *comms, *cgroups;
	size_t i;

	o = json_object_new_object();
	if (!o)
		return NULL;
	pids = json_object_new_array();
	comms = json_object_new_array();
	cgroups = json_object_new_array();
	json_object_object_add(o, "all", json_object_new_boolean(!w->n));
	json_object_object_add(o, "pids", pids);
	json_object_object_add(o, "comms", comms);
	json_object_object_add(o, "cgroups", cgroups);
	for (i = 0; i < w->n; i++) {
		const struct kh_watch_entry *e = &w->e[i];

		if (e->type == KHOLMES_WATCH_PID)
			json_object_array_add(pids, json_object_new_uint64(e->pid));
		else if (e->type == KHOLMES_WATCH_COMM)
			json_object_array_add(comms, kh_json_string(e->name));
		else if (e->type == KHOLMES_WATCH_CGROUP)
			json_object_array_add(cgroups, kh_json_string(e->name));
	}
	return o;
}

static json_object *metric_map(const uint64_t *v, uint32_t has)
{
	json_object *o = json_object_new_object();
	unsigned int m;

	for (m = 0; o && m < KHOLMES_NR_METRICS; m++)
		if (has & BIT(m))
			json_object_object_add(o, kh_metrics[m].name,
					       kh_json_fixed(v[m]));
	return o;
}

json_object *kh_proc_json(const struct kh_proc *p)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "pid", json_object_new_uint64(p->pid));
	json_object_object_add(o, "comm", kh_json_string(p->comm));
	json_object_object_add(o, "start-ns", json_object_new_uint64(p->start_ns));
	json_object_object_add(o, "kthread", json_object_new_boolean(p->kthread));
	json_object_object_add(o, "samples", json_object_new_uint64(p->samples));
	json_object_object_add(o, "values", metric_map(p->value, p->has_value));
	json_object_object_add(o, "avg", metric_map(p->avg, p->has_avg));
	return o;
}

json_object *kh_procs_json(const struct kh_proc *procs, size_t n)
{
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; a && i < n; i++)
		json_object_array_add(a, kh_proc_json(&procs[i]));
	return a;
}

json_object *kh_event_json(const struct kh_event *ev)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "event", json_object_new_string("detection"));
	json_object_object_add(o, "pid", json_object_new_uint64(ev->pid));
	json_object_object_add(o, "comm", kh_json_string(ev->comm));
	json_object_object_add(o, "start-ns", json_object_new_uint64(ev->start_ns));
	json_object_object_add(o, "time-ns", json_object_new_uint64(ev->time_ns));
	json_object_object_add(o, "metric",
			       json_object_new_string(kh_metric_name(ev->metric)));
	json_object_object_add(o, "value", kh_json_fixed(ev->value));
	json_object_object_add(o, "avg", kh_json_fixed(ev->avg));
	json_object_object_add(o, "rule", kh_rule_cfg_json(&ev->rule));
	return o;
}

char *kh_time_iso(char *buf, size_t len, uint64_t ns)
{
	time_t s = ns / NSEC;
	struct tm tm;

	if (!gmtime_r(&s, &tm))
		memset(&tm, 0, sizeof(tm));
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (unsigned int)(ns % NSEC / 1000000));
	return buf;
}

/* For file names: sortable, no colons, the capture's own clock. */
char *kh_time_compact(char *buf, size_t len, uint64_t ns)
{
	time_t s = ns / NSEC;
	struct tm tm;

	if (!gmtime_r(&s, &tm))
		memset(&tm, 0, sizeof(tm));
	snprintf(buf, len, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return buf;
}

const char *kh_trigger_name(const struct kh_capture_sum *sum)
{
	return sum->has_metric ? kh_metric_name(sum->metric) : "manual";
}

/* Also the middle of a profile's file names: <base>.cpu.pb.gz */
/* Samples of a clock (a profile's or the flight recorder's), not of faults. */
bool kh_profile_on_cpu(uint32_t kind)
{
	return kind == KHOLMES_PROFILE_CPU || kind == KHOLMES_PROFILE_BEFORE ||
	       kind == KHOLMES_PROFILE_HOST;
}

const char *kh_profile_kind_name(uint32_t kind)
{
	switch (kind) {
	case KHOLMES_PROFILE_CPU:
		return "cpu";
	case KHOLMES_PROFILE_FAULTS:
		return "faults";
	case KHOLMES_PROFILE_BEFORE:
		return "before";
	case KHOLMES_PROFILE_HOST:
		return "host";
	default:
		return "profile";
	}
}

static const char *const capture_flag_names[] = {
	"manual", "threads-truncated", "exited", "kernel-thread", "maps-truncated",
	"profile", "maps-skipped", "time-budget",
};

static const char *const thread_flag_names[] = {
	"running", "kstack-none", "kstack-truncated", "ustack-truncated",
	"ustack-fault", "no-user", "exited", "ustack-partial", "in-user",
};

/* A newer module's flags show as their value rather than vanish. */
static json_object *flags_json(uint32_t flags, const char *const *names,
			       size_t n)
{
	json_object *a = json_object_new_array();
	char buf[16];
	unsigned int i;

	for (i = 0; a && i < 32; i++) {
		if (!(flags & BIT(i)))
			continue;
		if (i < n) {
			json_object_array_add(a, json_object_new_string(names[i]));
			continue;
		}
		snprintf(buf, sizeof(buf), "0x%x", BIT(i));
		json_object_array_add(a, json_object_new_string(buf));
	}
	return a;
}

json_object *kh_capture_flags_json(uint32_t flags)
{
	return flags_json(flags, capture_flag_names,
			  ARRAY_SIZE(capture_flag_names));
}

json_object *kh_thread_flags_json(uint32_t flags)
{
	return flags_json(flags, thread_flag_names,
			  ARRAY_SIZE(thread_flag_names));
}

/* "512B", "18.2KiB", "3.4MiB": the queue's sizes at a glance */
char *kh_size(char *buf, size_t len, uint64_t bytes)
{
	if (bytes < 1024)
		snprintf(buf, len, "%" PRIu64 "B", bytes);
	else if (bytes < 1024 * 1024)
		snprintf(buf, len, "%.1fKiB", bytes / 1024.0);
	else
		snprintf(buf, len, "%.1fMiB", bytes / (1024.0 * 1024));
	return buf;
}

static void capture_sum_fill(json_object *o, const struct kh_capture_sum *s)
{
	char tm[KH_TIME_LEN];

	json_object_object_add(o, "id", json_object_new_uint64(s->id));
	json_object_object_add(o, "time", json_object_new_string(
		kh_time_iso(tm, sizeof(tm), s->time_ns)));
	json_object_object_add(o, "time-ns", json_object_new_uint64(s->time_ns));
	json_object_object_add(o, "pid", json_object_new_uint64(s->pid));
	json_object_object_add(o, "comm", kh_json_string(s->comm));
	json_object_object_add(o, "trigger",
			       json_object_new_string(kh_trigger_name(s)));
	json_object_object_add(o, "threads", json_object_new_uint64(s->threads));
	json_object_object_add(o, "nr-threads",
			       json_object_new_uint64(s->nr_threads));
	json_object_object_add(o, "bytes", json_object_new_uint64(s->bytes));
	json_object_object_add(o, "flags", kh_capture_flags_json(s->flags));
	/* a profile: its kind, and the capture it follows (null: manual) */
	json_object_object_add(o, "profile-kind", s->flags & KHOLMES_CAPTURE_F_PROFILE ?
		json_object_new_string(kh_profile_kind_name(s->profile_kind)) : NULL);
	json_object_object_add(o, "profile-of", s->profile_of ?
		json_object_new_uint64(s->profile_of) : NULL);
}

json_object *kh_capture_sum_json(const struct kh_capture_sum *s)
{
	json_object *o = json_object_new_object();

	if (o)
		capture_sum_fill(o, s);
	return o;
}

json_object *kh_captures_json(const struct kh_capture_sum *s, size_t n)
{
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; a && i < n; i++)
		json_object_array_add(a, kh_capture_sum_json(&s[i]));
	return a;
}

#define KEY_FMT	"%-16s "

void kh_config_text(FILE *f, const struct kh_config *cfg)
{
	size_t i;

	fprintf(f, KEY_FMT "%s\n", "enabled", cfg->enabled ? "on" : "off");
	fprintf(f, KEY_FMT "%" PRIu32 "\n", "interval-ms", cfg->interval_ms);
	fprintf(f, KEY_FMT "%" PRIu32 "\n", "window", cfg->window);
	fprintf(f, KEY_FMT "%" PRIu32 "\n", "max-tracked", cfg->max_tracked);
	for (i = 0; i < ARRAY_SIZE(cfg_capture); i++)
		if (cfg->has & BIT(cfg_capture[i].attr))
			fprintf(f, KEY_FMT "%" PRIu32 "\n", cfg_capture[i].key,
				cfg_val(cfg, i));
	if (cfg->has & BIT(KHOLMES_CFG_PROFILES))
		fprintf(f, KEY_FMT "%s\n", "profiles",
			cfg->profiles ? "on" : "off");
	if (cfg->has & BIT(KHOLMES_CFG_KTHREADS))
		fprintf(f, KEY_FMT "%s\n", "kthreads",
			cfg->kthreads ? "on" : "off");
}

/* Same keys as the JSON, one per line, so that awk finds them too. */
void kh_status_text(FILE *f, const struct kh_status *st)
{
	char buf[sizeof(st->version) + sizeof(st->krelease)];
	size_t i;

	kh_text_clean(buf, sizeof(buf), st->version);
	fprintf(f, KEY_FMT "%s\n", "version", buf);
	kh_text_clean(buf, sizeof(buf), st->krelease);
	fprintf(f, KEY_FMT "%s\n", "kernel", buf);
	kh_config_text(f, &st->cfg);
	for (i = 0; i < ARRAY_SIZE(stat_head); i++)
		fprintf(f, KEY_FMT "%" PRIu64 "\n", stat_head[i].key,
			st->stat[stat_head[i].attr]);
	fprintf(f, KEY_FMT, "pass-ns");
	for (i = 0; i < ARRAY_SIZE(stat_pass); i++)
		fprintf(f, "%s%s %" PRIu64, i ? " " : "", stat_pass[i].key,
			st->stat[stat_pass[i].attr]);
	fputc('\n', f);
	for (i = 0; i < ARRAY_SIZE(stat_tail); i++)
		fprintf(f, KEY_FMT "%" PRIu64 "\n", stat_tail[i].key,
			st->stat[stat_tail[i].attr]);
	for (i = 0; i < ARRAY_SIZE(stat_profile); i++)
		fprintf(f, KEY_FMT "%" PRIu64 "\n", stat_profile[i].key,
			st->stat[stat_profile[i].attr]);
	/* percent of all CPUs, a number as in the JSON */
	fprintf(f, KEY_FMT "%s\n", "host-cpu",
		kh_fixed(buf, sizeof(buf), st->stat[KHOLMES_STAT_HOST_CPU],
			 KH_TEXT_DIGITS));
	for (i = 0; i < ARRAY_SIZE(stat_psample); i++)
		fprintf(f, KEY_FMT "%" PRIu64 "\n", stat_psample[i].key,
			st->stat[stat_psample[i].attr]);
	fprintf(f, KEY_FMT, "capture-ns");
	for (i = 0; i < ARRAY_SIZE(stat_capture); i++)
		fprintf(f, "%s%s %" PRIu64, i ? " " : "", stat_capture[i].key,
			st->stat[stat_capture[i].attr]);
	fputc('\n', f);
}

void kh_dir_status_text(FILE *f, const char *dir, uint64_t partial)
{
	char buf[4096];

	kh_text_clean(buf, sizeof(buf), dir);
	fprintf(f, KEY_FMT "%s\n", "capture-dir", buf);
	fprintf(f, KEY_FMT "%" PRIu64 "\n", "captures-partial", partial);
}

void kh_dir_status_json(json_object *o, const char *dir, uint64_t partial)
{
	json_object_object_add(o, "capture-dir", kh_json_string(dir));
	json_object_object_add(o, "captures-partial",
			       json_object_new_uint64(partial));
}

/*
 * Aligned columns without holding the whole table: cell() is asked for
 * every cell twice, once to measure and once to print. Row 0 is the header.
 */
#define CELL_LEN	48
#define MAX_COLS	(3 + KHOLMES_NR_METRICS)

typedef void (*cell_fn)(const void *ctx, size_t row, size_t col, char *buf);

static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void table_print(FILE *f, size_t rows, size_t cols, const bool *right,
			cell_fn cell, const void *ctx)
{
	size_t width[MAX_COLS] = { 0 }, r, c, w;
	char buf[CELL_LEN];

	for (r = 0; r <= rows; r++)
		for (c = 0; c < cols; c++) {
			cell(ctx, r, c, buf);
			w = text_width(buf);
			if (w > width[c])
				width[c] = w;
		}
	for (r = 0; r <= rows; r++) {
		for (c = 0; c < cols; c++) {
			cell(ctx, r, c, buf);
			w = width[c] - text_width(buf);
			if (c)
				fputs("  ", f);
			if (right[c])
				fprintf(f, "%*s", (int)w, "");
			fputs(buf, f);
			if (!right[c] && c + 1 < cols)
				fprintf(f, "%*s", (int)w, "");
		}
		fputc('\n', f);
	}
}

struct rules_ctx {
	const struct kh_rule *rules;
};

static void rule_cell(const void *ctx, size_t row, size_t col, char *buf)
{
	static const char *const head[] = {
		"METRIC", "UNIT", "STATE", "MIN", "DIFF", "ABS", "COOLDOWN",
	};
	const struct kh_rule *r;

	if (!row) {
		snprintf(buf, CELL_LEN, "%s", head[col]);
		return;
	}
	r = &((const struct rules_ctx *)ctx)->rules[row - 1];
	switch (col) {
	case 0:
		snprintf(buf, CELL_LEN, "%s", kh_metric_name(r->metric));
		break;
	case 1:
		snprintf(buf, CELL_LEN, "%s", kh_metric_unit(r->metric));
		break;
	case 2:
		snprintf(buf, CELL_LEN, "%s", r->cfg.enabled ? "on" : "off");
		break;
	case 3:
		snprintf(buf, CELL_LEN, "%" PRIu32, r->cfg.min);
		break;
	case 4:
		snprintf(buf, CELL_LEN, "%" PRIu32 "%%", r->cfg.diff);
		break;
	case 5:
		snprintf(buf, CELL_LEN, "%" PRIu32, r->cfg.abs);
		break;
	default:
		snprintf(buf, CELL_LEN, "%" PRIu32 "s", r->cfg.cooldown_s);
		break;
	}
}

void kh_rules_text(FILE *f, const struct kh_rule *rules, size_t n)
{
	static const bool right[] = { false, false, false, true, true, true,
				      true };
	struct rules_ctx ctx = { rules };

	table_print(f, n, ARRAY_SIZE(right), right, rule_cell, &ctx);
}

struct captures_ctx {
	const struct kh_capture_sum *s;
};

static void capture_cell(const void *ctx, size_t row, size_t col, char *buf)
{
	static const char *const head[] = {
		"ID", "TIME", "PID", "COMM", "TRIGGER", "THREADS", "SIZE",
	};
	const struct kh_capture_sum *s;
	char tm[KH_TIME_LEN];

	if (!row) {
		snprintf(buf, CELL_LEN, "%s", head[col]);
		return;
	}
	s = &((const struct captures_ctx *)ctx)->s[row - 1];
	switch (col) {
	case 0:
		snprintf(buf, CELL_LEN, "%" PRIu64, s->id);
		break;
	case 1:
		snprintf(buf, CELL_LEN, "%s", kh_time_iso(tm, sizeof(tm), s->time_ns));
		break;
	case 2:
		snprintf(buf, CELL_LEN, "%" PRIu32, s->pid);
		break;
	case 3:
		kh_text_clean(buf, CELL_LEN < KHOLMES_COMM_LEN ? CELL_LEN :
			      KHOLMES_COMM_LEN, s->comm);
		break;
	case 4:
		if (s->flags & KHOLMES_CAPTURE_F_PROFILE)
			snprintf(buf, CELL_LEN, "%s (%s profile)",
				 kh_trigger_name(s),
				 kh_profile_kind_name(s->profile_kind));
		else
			snprintf(buf, CELL_LEN, "%s", kh_trigger_name(s));
		break;
	case 5:
		if (s->flags & KHOLMES_CAPTURE_F_PROFILE)
			snprintf(buf, CELL_LEN, "-");
		else if (s->threads < s->nr_threads)
			snprintf(buf, CELL_LEN, "%" PRIu32 "/%" PRIu32, s->threads,
				 s->nr_threads);
		else
			snprintf(buf, CELL_LEN, "%" PRIu32, s->threads);
		break;
	default:
		kh_size(buf, CELL_LEN, s->bytes);
		break;
	}
}

void kh_captures_text(FILE *f, const struct kh_capture_sum *s, size_t n)
{
	static const bool right[] = { true, false, true, false, false, true,
				      true };
	struct captures_ctx ctx = { s };

	table_print(f, n, ARRAY_SIZE(right), right, capture_cell, &ctx);
}

void kh_watch_text(FILE *f, const struct kh_watch *w)
{
	char buf[KHOLMES_CGROUP_PATH_MAX];
	size_t i;

	if (!w->n) {
		fputs("all processes\n", f);
		return;
	}
	for (i = 0; i < w->n; i++) {
		const struct kh_watch_entry *e = &w->e[i];

		if (e->type == KHOLMES_WATCH_PID) {
			fprintf(f, "pid %" PRIu32 "\n", e->pid);
			continue;
		}
		kh_text_clean(buf, sizeof(buf), e->name);
		fprintf(f, "%s %s\n",
			e->type == KHOLMES_WATCH_COMM ? "comm" : "cgroup", buf);
	}
}

/* PID, COMM, then every metric, with the window average of the sort key. */
struct procs_ctx {
	const struct kh_proc *procs;
	size_t ncols;
	struct {
		int metric;		/* -1: PID or COMM */
		bool avg;
	} col[MAX_COLS];
};

static void proc_cell(const void *arg, size_t row, size_t col, char *buf)
{
	const struct procs_ctx *ctx = arg;
	const struct kh_proc *p;
	char comm[KHOLMES_COMM_LEN];
	int m = ctx->col[col].metric;
	bool avg = ctx->col[col].avg;

	if (!row) {
		snprintf(buf, CELL_LEN, "%s", col == 0 ? "PID" : col == 1 ?
			 "COMM" : avg ? "AVG" : kh_metrics[m].head);
		return;
	}
	p = &ctx->procs[row - 1];
	if (col == 0) {
		snprintf(buf, CELL_LEN, "%" PRIu32, p->pid);
	} else if (col == 1) {
		kh_text_clean(comm, sizeof(comm), p->comm);
		snprintf(buf, CELL_LEN, p->kthread ? "[%s]" : "%s", comm);
	} else if (!((avg ? p->has_avg : p->has_value) & BIT(m))) {
		snprintf(buf, CELL_LEN, "-");
	} else {
		kh_fixed(buf, CELL_LEN, avg ? p->avg[m] : p->value[m],
			 KH_TEXT_DIGITS);
	}
}

void kh_procs_text(FILE *f, const struct kh_proc *procs, size_t n,
		   unsigned int sort)
{
	struct procs_ctx ctx = { .procs = procs };
	bool right[MAX_COLS];
	unsigned int m;
	size_t c = 0;

	ctx.col[c++].metric = -1;
	ctx.col[c++].metric = -1;
	for (m = 0; m < KHOLMES_NR_METRICS; m++) {
		ctx.col[c].metric = m;
		ctx.col[c++].avg = false;
		if (m != sort)
			continue;
		ctx.col[c].metric = m;
		ctx.col[c++].avg = true;
	}
	for (ctx.ncols = c, c = 0; c < ctx.ncols; c++)
		right[c] = c != 1;
	table_print(f, n, ctx.ncols, right, proc_cell, &ctx);
}

void kh_event_text(FILE *f, const struct kh_event *ev)
{
	char comm[KHOLMES_COMM_LEN], v[KH_FIXED_LEN], a[KH_FIXED_LEN];

	kh_text_clean(comm, sizeof(comm), ev->comm);
	fprintf(f, "detection pid %" PRIu32 " comm %s metric %s value %s avg %s (min %" PRIu32
		" diff %" PRIu32 "%% abs %" PRIu32 " cooldown %" PRIu32 "s)\n",
		ev->pid, comm, kh_metric_name(ev->metric),
		kh_fixed(v, sizeof(v), ev->value, KH_TEXT_DIGITS),
		kh_fixed(a, sizeof(a), ev->avg, KH_TEXT_DIGITS),
		ev->rule.min, ev->rule.diff, ev->rule.abs, ev->rule.cooldown_s);
}

/* Largest first; processes without the metric (kthreads' rss) last. */
static int proc_cmp(const void *a, const void *b, void *arg)
{
	const struct kh_proc *x = a, *y = b;
	unsigned int m = *(const unsigned int *)arg;
	bool hx, hy;

	if (m < KHOLMES_NR_METRICS) {
		hx = x->has_value & BIT(m);
		hy = y->has_value & BIT(m);
		if (hx != hy)
			return hx ? -1 : 1;
		if (hx && x->value[m] != y->value[m])
			return x->value[m] > y->value[m] ? -1 : 1;
	}
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

void kh_procs_sort(struct kh_proc *procs, size_t n, unsigned int metric)
{
	qsort_r(procs, n, sizeof(*procs), proc_cmp, &metric);
}
