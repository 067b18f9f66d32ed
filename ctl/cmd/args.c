// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>

#include "args.h"
#include "util.h"
#include "metrics.h"

#define BIT(n)	(1U << (n))

const struct kh_keyword kh_config_keys[] = {
	{ "enabled",	 KHOLMES_CFG_ENABLED,	  KH_KW_ONOFF, NULL },
	{ "interval-ms", KHOLMES_CFG_INTERVAL_MS, KH_KW_U32,   NULL },
	{ "window",	 KHOLMES_CFG_WINDOW,	  KH_KW_U32,   NULL },
	{ "max-tracked", KHOLMES_CFG_MAX_TRACKED, KH_KW_U32,   NULL },
	{ "max-threads", KHOLMES_CFG_MAX_THREADS, KH_KW_U32,   NULL },
	{ "max-captures", KHOLMES_CFG_MAX_CAPTURES, KH_KW_U32, NULL },
	{ "max-queue-kb", KHOLMES_CFG_MAX_QUEUE_KB, KH_KW_U32, NULL },
	{ "user-stack-kb", KHOLMES_CFG_USER_STACK_KB, KH_KW_U32, NULL },
	{ "capture-rate", KHOLMES_CFG_CAPTURE_RATE, KH_KW_U32, NULL },
	{ "profile-s",	 KHOLMES_CFG_PROFILE_S,	  KH_KW_U32,   NULL },
	{ "profile-hz",	 KHOLMES_CFG_PROFILE_HZ,  KH_KW_U32,   NULL },
	{ "profile-fault-period", KHOLMES_CFG_FAULT_PERIOD, KH_KW_U32, NULL },
	{ "cpu-max",	 KHOLMES_CFG_CPU_MAX,	  KH_KW_U32,   NULL },
	{ "profiles",	 KHOLMES_CFG_PROFILES,	  KH_KW_ONOFF, NULL },
	{ "kthreads",	 KHOLMES_CFG_KTHREADS,	  KH_KW_ONOFF, NULL },
	{ "flight-hz",	 KHOLMES_CFG_FLIGHT_HZ,	  KH_KW_U32,   NULL },
	{ "flight-s",	 KHOLMES_CFG_FLIGHT_S,	  KH_KW_U32,   NULL },
	{ NULL }
};

/* The suffixes let the text of "rule show" be typed back in as it reads. */
const struct kh_keyword kh_rule_keys[] = {
	{ "min",	KHOLMES_RULE_MIN,	KH_KW_U32, NULL },
	{ "diff",	KHOLMES_RULE_DIFF,	KH_KW_U32, "%" },
	{ "abs",	KHOLMES_RULE_ABS,	KH_KW_U32, NULL },
	{ "cooldown",	KHOLMES_RULE_COOLDOWN,	KH_KW_U32, "s" },
	{ NULL }
};

const struct kh_keyword kh_watch_keys[] = {
	{ "pid",	KHOLMES_WATCH_PID,	KH_KW_U32, NULL },
	{ "comm",	KHOLMES_WATCH_COMM,	KH_KW_STRING, NULL },
	{ "cgroup",	KHOLMES_WATCH_CGROUP,	KH_KW_STRING, NULL },
	{ NULL }
};

/*
 * Decimal digits only: no sign, no blanks, no base prefix, so that what
 * the user typed is exactly what the kernel is sent. Returns 0, -EINVAL
 * (not a number), -EDOM (negative) or -ERANGE (above max).
 */
int kh_parse_u64(const char *word, uint64_t max, uint64_t *out)
{
	if (!word)
		return -EINVAL;
	return kh_parse_dec(word, strlen(word), max, out);
}

int kh_parse_u32(const char *word, uint32_t *out)
{
	return kh_parse_u32_unit(word, NULL, out);
}

/* As kh_parse_u32, with an optional unit suffix such as "%" or "s". */
int kh_parse_u32_unit(const char *word, const char *unit, uint32_t *out)
{
	size_t len, ulen = unit ? strlen(unit) : 0;
	uint64_t v;
	int ret;

	if (!word)
		return -EINVAL;
	len = strlen(word);
	if (ulen && len > ulen && !strcmp(word + len - ulen, unit))
		len -= ulen;
	ret = kh_parse_dec(word, len, UINT32_MAX, &v);
	if (!ret)
		*out = v;
	return ret;
}

int kh_parse_onoff(const char *word, bool *out)
{
	if (!word)
		return -EINVAL;
	if (!strcmp(word, "on"))
		*out = true;
	else if (!strcmp(word, "off"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

bool kh_is_json_opt(const char *word)
{
	return !strcmp(word, "-j") || !strcmp(word, "--json");
}

bool kh_is_help(const char *word)
{
	return !strcmp(word, "help") || !strcmp(word, "-h") ||
	       !strcmp(word, "--help");
}

const struct kh_keyword *kh_keyword(const struct kh_keyword *table,
				    const char *word)
{
	for (; table->name; table++)
		if (!strcmp(table->name, word))
			return table;
	return NULL;
}

static int perr(struct kh_parse_err *pe, enum kh_perr kind, const char *word,
		const char *key, int err)
{
	pe->kind = kind;
	pe->word = word;
	pe->key = key;
	pe->err = err;
	return -1;
}

/*
 * word is option name, as "--name" (its value the next word) or as
 * "--name=VALUE"; *inl is then VALUE, else NULL.
 */
static bool opt_is(const char *word, const char *name, const char **inl)
{
	size_t len = strlen(name);

	*inl = NULL;
	if (strncmp(word, name, len))
		return false;
	if (!word[len])
		return true;
	if (word[len] != '=')
		return false;
	*inl = word + len + 1;
	return true;
}

/*
 * The value of option name at argv[*i], from "--name=VALUE" or the next
 * word (then *i moves to it), into *val; seen: given before.
 */
static int opt_take(int argc, char **argv, int *i, const char *name,
		    const char *inl, bool seen, const char **val,
		    struct kh_parse_err *pe)
{
	if (seen)
		return perr(pe, KH_PE_TWICE, argv[*i], name, 0);
	if (inl) {
		if (!*inl)
			return perr(pe, KH_PE_MISSING, name, name, 0);
		*val = inl;
		return 0;
	}
	if (*i + 1 >= argc || !argv[*i + 1][0])
		return perr(pe, KH_PE_MISSING, argv[*i], name, 0);
	*val = argv[++(*i)];
	return 0;
}

static int parse_value(const struct kh_keyword *kw, const char *word,
		       uint32_t *out, struct kh_parse_err *pe)
{
	bool on;
	int ret;

	if (kw->type == KH_KW_ONOFF) {
		if (kh_parse_onoff(word, &on))
			return perr(pe, KH_PE_ONOFF, word, kw->name, -EINVAL);
		*out = on;
		return 0;
	}
	ret = kh_parse_u32_unit(word, kw->unit, out);
	if (ret)
		return perr(pe, KH_PE_NUMBER, word, kw->name, ret);
	return 0;
}

/* KEY VALUE pairs from table into mask/val, as config set and rule set. */
static int parse_pair(const struct kh_keyword *kw, int argc, char **argv,
		      int *i, uint32_t *mask, uint32_t *val,
		      struct kh_parse_err *pe)
{
	if (*mask & BIT(kw->id))
		return perr(pe, KH_PE_TWICE, argv[*i], kw->name, 0);
	if (*i + 1 >= argc)
		return perr(pe, KH_PE_MISSING, argv[*i], kw->name, 0);
	(*i)++;
	if (parse_value(kw, argv[*i], &val[kw->id], pe))
		return -1;
	*mask |= BIT(kw->id);
	return 0;
}

int kh_parse_config_set(int argc, char **argv, struct kh_config_set *cs,
			struct kh_parse_err *pe)
{
	const struct kh_keyword *kw;
	int i;

	memset(cs, 0, sizeof(*cs));
	memset(pe, 0, sizeof(*pe));
	for (i = 0; i < argc; i++) {
		if (kh_is_json_opt(argv[i])) {
			cs->json = true;
			continue;
		}
		kw = kh_keyword(kh_config_keys, argv[i]);
		if (!kw)
			return perr(pe, KH_PE_KEYWORD, argv[i], NULL, 0);
		if (parse_pair(kw, argc, argv, &i, &cs->mask, cs->val, pe))
			return -1;
	}
	if (!cs->mask)
		return perr(pe, KH_PE_EMPTY, NULL, "KEY VALUE", 0);
	return 0;
}

int kh_parse_rule_set(int argc, char **argv, struct kh_rule_set *rs,
		      struct kh_parse_err *pe)
{
	const struct kh_keyword *kw;
	bool have_metric = false, on;
	int i, m;

	memset(rs, 0, sizeof(*rs));
	memset(pe, 0, sizeof(*pe));
	for (i = 0; i < argc; i++) {
		if (kh_is_json_opt(argv[i])) {
			rs->json = true;
			continue;
		}
		if (!have_metric) {
			m = kh_metric_by_name(argv[i]);
			if (m < 0)
				return perr(pe, KH_PE_METRIC, argv[i], NULL, 0);
			rs->metric = m;
			have_metric = true;
			continue;
		}
		if (!kh_parse_onoff(argv[i], &on)) {
			if (rs->mask & BIT(KHOLMES_RULE_ENABLED))
				return perr(pe, KH_PE_TWICE, argv[i], "on|off", 0);
			rs->mask |= BIT(KHOLMES_RULE_ENABLED);
			rs->val[KHOLMES_RULE_ENABLED] = on;
			continue;
		}
		kw = kh_keyword(kh_rule_keys, argv[i]);
		if (!kw)
			return perr(pe, KH_PE_KEYWORD, argv[i], NULL, 0);
		if (parse_pair(kw, argc, argv, &i, &rs->mask, rs->val, pe))
			return -1;
	}
	if (!have_metric)
		return perr(pe, KH_PE_EMPTY, NULL, "METRIC", 0);
	if (!rs->mask)
		return perr(pe, KH_PE_EMPTY, NULL,
			    "min, diff, abs, cooldown, on or off", 0);
	return 0;
}

int kh_parse_watch(int argc, char **argv, struct kh_watch_arg *wa,
		   struct kh_parse_err *pe)
{
	const struct kh_keyword *kw = NULL;
	int i, ret;

	memset(wa, 0, sizeof(*wa));
	memset(pe, 0, sizeof(*pe));
	for (i = 0; i < argc; i++) {
		if (kh_is_json_opt(argv[i])) {
			wa->json = true;
			continue;
		}
		if (kw)
			return perr(pe, KH_PE_KEYWORD, argv[i], NULL, 0);
		kw = kh_keyword(kh_watch_keys, argv[i]);
		if (!kw)
			return perr(pe, KH_PE_KEYWORD, argv[i], NULL, 0);
		if (i + 1 >= argc)
			return perr(pe, KH_PE_MISSING, argv[i], kw->name, 0);
		i++;
		wa->type = kw->id;
		if (kw->id == KHOLMES_WATCH_PID) {
			ret = kh_parse_u32(argv[i], &wa->pid);
			if (ret)
				return perr(pe, KH_PE_NUMBER, argv[i], kw->name,
					    ret);
			continue;
		}
		/* The kernel truncates process names: a longer one never matches. */
		if (kw->id == KHOLMES_WATCH_COMM &&
		    strlen(argv[i]) >= KHOLMES_COMM_LEN)
			return perr(pe, KH_PE_TOOLONG, argv[i], kw->name, 0);
		wa->name = argv[i];
	}
	if (!kw)
		return perr(pe, KH_PE_EMPTY, NULL,
			    "pid N, comm NAME or cgroup PATH", 0);
	return 0;
}

int kh_parse_ps(int argc, char **argv, struct kh_ps_opts *po,
		struct kh_parse_err *pe)
{
	bool have_sort = false, have_top = false;
	const char *v;
	int i, m, ret;

	memset(po, 0, sizeof(*po));
	memset(pe, 0, sizeof(*pe));
	po->sort = KHOLMES_METRIC_CPU;
	for (i = 0; i < argc; i++) {
		if (kh_is_json_opt(argv[i])) {
			po->json = true;
		} else if (opt_is(argv[i], "--sort", &v)) {
			if (opt_take(argc, argv, &i, "--sort", v, have_sort, &v,
				     pe))
				return -1;
			m = kh_metric_by_name(v);
			if (m < 0)
				return perr(pe, KH_PE_METRIC, v, "--sort", 0);
			po->sort = m;
			have_sort = true;
		} else if (opt_is(argv[i], "--top", &v)) {
			if (opt_take(argc, argv, &i, "--top", v, have_top, &v, pe))
				return -1;
			ret = kh_parse_u32(v, &po->top);
			if (ret)
				return perr(pe, KH_PE_NUMBER, v, "--top", ret);
			have_top = true;
		} else {
			return perr(pe, KH_PE_KEYWORD, argv[i], NULL, 0);
		}
	}
	return 0;
}

/* capture pid N */
int kh_parse_capture(int argc, char **argv, struct kh_capture_arg *ca,
		     struct kh_parse_err *pe)
{
	bool have_pid = false;
	int i, ret;

	memset(ca, 0, sizeof(*ca));
	memset(pe, 0, sizeof(*pe));
	for (i = 0; i < argc; i++) {
		if (kh_is_json_opt(argv[i])) {
			ca->json = true;
			continue;
		}
		if (strcmp(argv[i], "pid"))
			return perr(pe, KH_PE_KEYWORD, argv[i], NULL, 0);
		if (have_pid)
			return perr(pe, KH_PE_TWICE, argv[i], "pid", 0);
		if (i + 1 >= argc)
			return perr(pe, KH_PE_MISSING, argv[i], "pid", 0);
		ret = kh_parse_u32(argv[++i], &ca->pid);
		if (ret)
			return perr(pe, KH_PE_NUMBER, argv[i], "pid", ret);
		have_pid = true;
	}
	if (!have_pid)
		return perr(pe, KH_PE_EMPTY, NULL, "pid N", 0);
	return 0;
}

/* A u32 after keyword argv[*i], once. */
static int kw_u32(int argc, char **argv, int *i, bool *seen, uint32_t *out,
		  struct kh_parse_err *pe)
{
	const char *key = argv[*i];
	int ret;

	if (*seen)
		return perr(pe, KH_PE_TWICE, key, key, 0);
	if (*i + 1 >= argc)
		return perr(pe, KH_PE_MISSING, key, key, 0);
	ret = kh_parse_u32(argv[++*i], out);
	if (ret)
		return perr(pe, KH_PE_NUMBER, argv[*i], key, ret);
	*seen = true;
	return 0;
}

/*
 * profile pid N [seconds S] [hz F] [faults]: the kernel checks the ranges
 * (and says so in its own words); hz means nothing to a faults profile.
 */
int kh_parse_profile(int argc, char **argv, struct kh_profile_arg *pa,
		     struct kh_parse_err *pe)
{
	bool have_pid = false, faults = false;
	int i;

	memset(pa, 0, sizeof(*pa));
	memset(pe, 0, sizeof(*pe));
	for (i = 0; i < argc; i++) {
		if (kh_is_json_opt(argv[i])) {
			pa->json = true;
		} else if (!strcmp(argv[i], "pid")) {
			if (kw_u32(argc, argv, &i, &have_pid, &pa->pid, pe))
				return -1;
		} else if (!strcmp(argv[i], "seconds")) {
			if (kw_u32(argc, argv, &i, &pa->has_seconds,
				   &pa->seconds, pe))
				return -1;
		} else if (!strcmp(argv[i], "hz")) {
			if (kw_u32(argc, argv, &i, &pa->has_hz, &pa->hz, pe))
				return -1;
		} else if (!strcmp(argv[i], "faults")) {
			if (faults)
				return perr(pe, KH_PE_TWICE, argv[i], "faults", 0);
			faults = true;
		} else {
			return perr(pe, KH_PE_KEYWORD, argv[i], NULL, 0);
		}
	}
	if (!have_pid)
		return perr(pe, KH_PE_EMPTY, NULL, "pid N", 0);
	if (faults && pa->has_hz)
		return perr(pe, KH_PE_CONFLICT, "hz", "faults", 0);
	pa->kind = faults ? KHOLMES_PROFILE_FAULTS : KHOLMES_PROFILE_CPU;
	return 0;
}

static int num_opt(int argc, char **argv, int *i, const char *name,
		   const char *inl, bool *seen, uint32_t *out,
		   struct kh_parse_err *pe)
{
	const char *v;
	int ret;

	if (opt_take(argc, argv, i, name, inl, *seen, &v, pe))
		return -1;
	ret = kh_parse_u32(v, out);
	if (ret)
		return perr(pe, KH_PE_NUMBER, v, name, ret);
	*seen = true;
	return 0;
}

/* The string options of pull and daemon, as --name X or --name=X. */
struct str_opt {
	const char *name;
	bool daemon;			/* daemon only */
	size_t off;			/* in struct kh_pull_opts */
};

#define STR_OPT(n, d, f) { n, d, offsetof(struct kh_pull_opts, f) }

static const struct str_opt str_opts[] = {
	STR_OPT("--dir", false, dir),
	STR_OPT("--exec", true, exec),
	STR_OPT("--config", true, config),
	STR_OPT("--prom-file", true, prom_file),
	STR_OPT("--post", true, post),
	STR_OPT("--group", true, group),
	{ NULL, false, 0 },
};

/* pull --dir DIR; the daemon also takes its limits and hook. */
int kh_parse_pull(int argc, char **argv, bool daemon, struct kh_pull_opts *po,
		  struct kh_parse_err *pe)
{
	bool files = false, mb = false;
	const struct str_opt *so;
	const char *v, **dst;
	int i;

	memset(po, 0, sizeof(*po));
	memset(pe, 0, sizeof(*pe));
	for (i = 0; i < argc; i++) {
		if (kh_is_json_opt(argv[i])) {
			po->json = true;
			continue;
		}
		for (so = str_opts; so->name; so++)
			if ((daemon || !so->daemon) && opt_is(argv[i], so->name, &v))
				break;
		if (so->name) {
			dst = (const char **)((char *)po + so->off);
			if (opt_take(argc, argv, &i, so->name, v, *dst, dst, pe))
				return -1;
		} else if (daemon && opt_is(argv[i], "--max-files", &v)) {
			if (num_opt(argc, argv, &i, "--max-files", v, &files,
				    &po->max_files, pe))
				return -1;
		} else if (daemon && opt_is(argv[i], "--max-mb", &v)) {
			if (num_opt(argc, argv, &i, "--max-mb", v, &mb,
				    &po->max_mb, pe))
				return -1;
		} else {
			return perr(pe, KH_PE_KEYWORD, argv[i], NULL, 0);
		}
	}
	if (!po->dir)
		return perr(pe, KH_PE_EMPTY, NULL, "--dir DIR", 0);
	return 0;
}

int kh_parse_json_only(int argc, char **argv, bool *json,
		       struct kh_parse_err *pe)
{
	int i;

	memset(pe, 0, sizeof(*pe));
	for (i = 0; i < argc; i++) {
		if (!kh_is_json_opt(argv[i]))
			return perr(pe, KH_PE_KEYWORD, argv[i], NULL, 0);
		*json = true;
	}
	return 0;
}

int kh_parse_status(int argc, char **argv, struct kh_status_opts *so,
		    struct kh_parse_err *pe)
{
	const char *v;
	int i;

	memset(so, 0, sizeof(*so));
	memset(pe, 0, sizeof(*pe));
	for (i = 0; i < argc; i++) {
		if (kh_is_json_opt(argv[i])) {
			so->json = true;
		} else if (opt_is(argv[i], "--dir", &v)) {
			if (opt_take(argc, argv, &i, "--dir", v, so->dir != NULL,
				     &so->dir, pe))
				return -1;
		} else {
			return perr(pe, KH_PE_KEYWORD, argv[i], NULL, 0);
		}
	}
	return 0;
}

static void metric_list(char *buf, size_t len)
{
	size_t off = 0;
	unsigned int m;
	int n;

	buf[0] = '\0';
	for (m = 0; m < KHOLMES_NR_METRICS && off < len; m++) {
		n = snprintf(buf + off, len - off, "%s%s", m ? ", " : "",
			     kh_metrics[m].name);
		if (n < 0)
			break;
		off += n;
	}
}

void kh_parse_err_str(char *buf, size_t len, const struct kh_parse_err *pe)
{
	char metrics[128];

	switch (pe->kind) {
	case KH_PE_KEYWORD:
		snprintf(buf, len, "unknown keyword \"%s\"", pe->word);
		break;
	case KH_PE_METRIC:
		metric_list(metrics, sizeof(metrics));
		snprintf(buf, len, "unknown metric \"%s\" (metrics: %s)",
			 pe->word, metrics);
		break;
	case KH_PE_MISSING:
		snprintf(buf, len, "missing value after \"%s\"", pe->word);
		break;
	case KH_PE_NUMBER:
		if (pe->err == -ERANGE)
			snprintf(buf, len, "number \"%s\" for %s is too large",
				 pe->word, pe->key);
		else if (pe->err == -EDOM)
			snprintf(buf, len,
				 "invalid number \"%s\" for %s: it must not be negative",
				 pe->word, pe->key);
		else
			snprintf(buf, len, "invalid number \"%s\" for %s",
				 pe->word, pe->key);
		break;
	case KH_PE_ONOFF:
		snprintf(buf, len,
			 "invalid value \"%s\" for %s: expected on or off",
			 pe->word, pe->key);
		break;
	case KH_PE_TWICE:
		snprintf(buf, len, "\"%s\" given more than once", pe->word);
		break;
	case KH_PE_EMPTY:
		snprintf(buf, len, "missing %s", pe->key);
		break;
	case KH_PE_TOOLONG:
		snprintf(buf, len,
			 "%s \"%s\" is longer than %d bytes, the most the kernel keeps of a process name",
			 pe->key, pe->word, KHOLMES_COMM_LEN - 1);
		break;
	case KH_PE_CONFLICT:
		snprintf(buf, len, "\"%s\" does not go with \"%s\"",
			 pe->word, pe->key);
		break;
	default:
		snprintf(buf, len, "bad arguments");
		break;
	}
}
