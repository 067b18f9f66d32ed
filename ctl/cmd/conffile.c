// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netlink/attr.h>

#include "args.h"
#include "conffile.h"
#include "fmt.h"
#include "metrics.h"
#include "util.h"

#define BIT(n)	(1U << (n))

static int fail(struct kh_conf_err *e, unsigned int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct kh_conf_err *e, unsigned int line, const char *fmt, ...)
{
	va_list ap;

	e->line = line;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Splits one line (without its '\n') into words, unquoted and
 * NUL-terminated into buf (len + 1 bytes), their starts into words (room
 * for len / 2 + 1: each word but the last takes two bytes at least).
 * Returns the number of words, or -1 with e set.
 */
static int split(const char *s, size_t len, char *buf, char **words,
		 unsigned int line, struct kh_conf_err *e)
{
	size_t i = 0, o = 0;
	bool quoted;
	int n = 0;

	for (;;) {
		while (i < len && blank(s[i]))
			i++;
		if (i == len || s[i] == '#')
			return n;
		words[n++] = buf + o;
		quoted = false;
		for (; i < len && (quoted || !blank(s[i])); i++) {
			if (s[i] == '"') {
				quoted = !quoted;
				continue;
			}
			if (quoted && s[i] == '\\' && i + 1 < len &&
			    (s[i + 1] == '"' || s[i + 1] == '\\'))
				i++;
			buf[o++] = s[i];
		}
		buf[o++] = '\0';
		if (quoted) {
			fail(e, line, "unterminated quote");
			return -1;
		}
	}
}

static int parse_err(struct kh_conf_err *e, unsigned int line,
		     const char *stmt, const struct kh_parse_err *pe)
{
	char buf[400];

	kh_parse_err_str(buf, sizeof(buf), pe);
	return fail(e, line, "%s: %s", stmt, buf);
}

static int config_line(struct kh_conf *c, int argc, char **argv,
		       unsigned int line, struct kh_conf_err *e)
{
	const struct kh_keyword *kw;
	struct kh_config_set cs;
	struct kh_parse_err pe;

	if (kh_parse_config_set(argc, argv, &cs, &pe))
		return parse_err(e, line, "config", &pe);
	for (kw = kh_config_keys; kw->name; kw++) {
		if (!(cs.mask & BIT(kw->id)))
			continue;
		if (c->cfg_mask & BIT(kw->id))
			return fail(e, line, "config: %s given twice (first on line %u)",
				    kw->name, c->cfg_line[kw->id]);
		c->cfg_mask |= BIT(kw->id);
		c->cfg_val[kw->id] = cs.val[kw->id];
		c->cfg_line[kw->id] = line;
	}
	c->nr_cfg_lines++;
	return 0;
}

static int rule_line(struct kh_conf *c, int argc, char **argv,
		     unsigned int line, struct kh_conf_err *e)
{
	struct kh_conf_rule *r;
	struct kh_rule_set rs;
	struct kh_parse_err pe;
	size_t i;

	if (kh_parse_rule_set(argc, argv, &rs, &pe))
		return parse_err(e, line, "rule", &pe);
	for (i = 0; i < c->nr_rules; i++)
		if (c->rule[i].metric == rs.metric)
			return fail(e, line, "rule %s given twice (first on line %u)",
				    kh_metric_name(rs.metric), c->rule[i].line);
	r = &c->rule[c->nr_rules++];
	r->metric = rs.metric;
	r->mask = rs.mask;
	memcpy(r->val, rs.val, sizeof(r->val));
	r->line = line;
	return 0;
}

static const char *watch_kw(int type)
{
	return type == KHOLMES_WATCH_PID ? "pid" :
	       type == KHOLMES_WATCH_COMM ? "comm" : "cgroup";
}

static int watch_line(struct kh_conf *c, int argc, char **argv,
		      unsigned int line, struct kh_conf_err *e)
{
	struct kh_conf_watch *w;
	struct kh_parse_err pe;
	struct kh_watch_arg wa;
	size_t i;

	if (argc && (!strcmp(argv[0], "add") || !strcmp(argv[0], "del") ||
		     !strcmp(argv[0], "clear")))
		return fail(e, line,
			    "watch: no \"%s\" here: the watch lines are the whole scope, write \"watch pid N\", \"watch comm NAME\" or \"watch cgroup PATH\"",
			    argv[0]);
	if (kh_parse_watch(argc, argv, &wa, &pe))
		return parse_err(e, line, "watch", &pe);
	if (wa.type == KHOLMES_WATCH_CGROUP &&
	    strlen(wa.name) >= KHOLMES_CGROUP_PATH_MAX)
		return fail(e, line, "watch: cgroup path longer than %d bytes",
			    KHOLMES_CGROUP_PATH_MAX - 1);
	for (i = 0; i < c->nr_watch; i++) {
		w = &c->watch[i];
		if (w->type == wa.type &&
		    (wa.type == KHOLMES_WATCH_PID ? w->pid == wa.pid :
						    !strcmp(w->name, wa.name)))
			return fail(e, line, "watch %s given twice (first on line %u)",
				    watch_kw(wa.type), w->line);
	}
	if (c->nr_watch == KHOLMES_WATCH_MAX)
		return fail(e, line, "watch: more than %d watch lines, the most the module keeps",
			    KHOLMES_WATCH_MAX);
	w = &c->watch[c->nr_watch];
	w->type = wa.type;
	w->pid = wa.pid;
	w->line = line;
	w->name = NULL;
	if (wa.name) {
		w->name = strdup(wa.name);
		if (!w->name)
			return -ENOMEM;
	}
	c->nr_watch++;
	return 0;
}

static int statement(struct kh_conf *c, int argc, char **argv,
		     unsigned int line, struct kh_conf_err *e)
{
	int i;

	/* the command line's -j means nothing in a file */
	for (i = 1; i < argc; i++)
		if (kh_is_json_opt(argv[i]))
			return fail(e, line, "%s: unknown keyword \"%s\"",
				    argv[0], argv[i]);
	if (!strcmp(argv[0], "config"))
		return config_line(c, argc - 1, argv + 1, line, e);
	if (!strcmp(argv[0], "rule"))
		return rule_line(c, argc - 1, argv + 1, line, e);
	if (!strcmp(argv[0], "watch"))
		return watch_line(c, argc - 1, argv + 1, line, e);
	return fail(e, line,
		    "unknown statement \"%s\": a line starts with config, rule or watch",
		    argv[0]);
}

/*
 * The whole text, or nothing: returns 0, -EINVAL with e naming the line,
 * or -ENOMEM. c is left empty on failure.
 */
int kh_conf_parse(struct kh_conf *c, const char *text, size_t len,
		  struct kh_conf_err *e)
{
	const char *p = text, *end = text + len, *nl;
	char *buf = NULL, **words = NULL;
	unsigned int line = 0;
	size_t llen;
	int n, ret = 0;

	memset(c, 0, sizeof(*c));
	memset(e, 0, sizeof(*e));
	nl = memchr(text, '\0', len);
	if (nl) {
		for (line = 1; p < nl; p++)
			line += *p == '\n';
		return fail(e, line, "a NUL byte: this is not a text file");
	}
	while (p < end) {
		line++;
		nl = memchr(p, '\n', end - p);
		llen = (nl ? nl : end) - p;
		free(buf);
		free(words);
		buf = malloc(llen + 1);
		words = calloc(llen / 2 + 2, sizeof(*words));
		if (!buf || !words) {
			ret = -ENOMEM;
			break;
		}
		n = split(p, llen, buf, words, line, e);
		if (n < 0) {
			ret = -EINVAL;
			break;
		}
		if (n) {
			ret = statement(c, n, words, line, e);
			if (ret)
				break;
		}
		p += llen + (nl != NULL);
	}
	free(buf);
	free(words);
	if (ret)
		kh_conf_free(c);
	return ret;
}

void kh_conf_free(struct kh_conf *c)
{
	size_t i;

	for (i = 0; i < c->nr_watch; i++)
		free(c->watch[i].name);
	memset(c, 0, sizeof(*c));
}

/* The whole file into a NUL-terminated buffer; 0 or a negative errno. */
int kh_conf_read(const char *path, char **text, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf, *t;
	ssize_t r;
	int fd, ret = 0;

	*text = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		if (n + 1 >= cap) {
			if (cap > KH_CONF_MAX_BYTES) {
				ret = -EFBIG;
				break;
			}
			t = realloc(buf, cap * 2);
			if (!t) {
				ret = -ENOMEM;
				break;
			}
			buf = t;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			break;
		}
		if (!r)
			break;
		n += r;
	}
	close(fd);
	if (!ret && n > KH_CONF_MAX_BYTES)
		ret = -EFBIG;
	if (ret) {
		free(buf);
		return ret;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

/* ---------------------------------------------------------------- request */

/* A bound on the request's size, for the buffer it is built in. */
size_t kh_conf_msg_size(const struct kh_conf *c)
{
	size_t n = 1024, i;

	n += (KHOLMES_CFG_MAX + 1) * NLA_HDRLEN * 2;
	n += c->nr_rules * (KHOLMES_RULE_MAX + 2) * NLA_HDRLEN * 2;
	for (i = 0; i < c->nr_watch; i++)
		n += 4 * NLA_HDRLEN + (c->watch[i].name ?
				       NLA_ALIGN(strlen(c->watch[i].name) + 1) : 4);
	return n;
}

static uint32_t offset(struct nl_msg *msg, const void *p)
{
	return (const char *)p - (const char *)nlmsg_hdr(msg);
}

static int span_add(struct kh_conf_map *map, struct nl_msg *msg,
		    const struct nlattr *a, unsigned int line,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int span_add(struct kh_conf_map *map, struct nl_msg *msg,
		    const struct nlattr *a, unsigned int line,
		    const char *fmt, ...)
{
	struct kh_conf_span *s;
	va_list ap;

	if (!map)
		return 0;
	if (KH_GROW(map->s, map->n, map->cap, 32))
		return -ENOMEM;
	s = &map->s[map->n++];
	s->start = offset(msg, a);
	s->end = s->start + nla_total_size(nla_len(a));
	s->line = line;
	va_start(ap, fmt);
	vsnprintf(s->what, sizeof(s->what), fmt, ap);
	va_end(ap);
	return 0;
}

/* The attribute just put: the last one in the message. */
static struct nlattr *last_attr(struct nl_msg *msg, size_t before)
{
	return (struct nlattr *)((char *)nlmsg_hdr(msg) + before);
}

static int put_u(struct nl_msg *msg, int type, bool u8, uint32_t v,
		 struct kh_conf_map *map, unsigned int line, const char *what)
{
	size_t before = nlmsg_hdr(msg)->nlmsg_len;
	int err;

	err = u8 ? nla_put_u8(msg, type, v) : nla_put_u32(msg, type, v);
	if (err)
		return -EMSGSIZE;
	return span_add(map, msg, last_attr(msg, before), line, "%s", what);
}

static int put_config(struct nl_msg *msg, const struct kh_conf *c,
		      struct kh_conf_map *map)
{
	const struct kh_keyword *kw;
	unsigned int line = 0;
	struct nlattr *nest;
	char what[96];
	int err;

	if (!c->cfg_mask)
		return 0;
	nest = nla_nest_start(msg, KHOLMES_A_CONFIG);
	if (!nest)
		return -EMSGSIZE;
	for (kw = kh_config_keys; kw->name; kw++) {
		if (!(c->cfg_mask & BIT(kw->id)))
			continue;
		if (kw->type == KH_KW_ONOFF)
			snprintf(what, sizeof(what), "config %s %s", kw->name,
				 c->cfg_val[kw->id] ? "on" : "off");
		else
			snprintf(what, sizeof(what), "config %s %u", kw->name,
				 c->cfg_val[kw->id]);
		err = put_u(msg, kw->id, kw->type == KH_KW_ONOFF,
			    c->cfg_val[kw->id], map, c->cfg_line[kw->id], what);
		if (err)
			return err;
		line = c->cfg_line[kw->id];
	}
	nla_nest_end(msg, nest);
	return span_add(map, msg, nest, c->nr_cfg_lines == 1 ? line : 0,
			"config");
}

static int put_rule(struct nl_msg *msg, const struct kh_conf_rule *r,
		    struct kh_conf_map *map)
{
	const char *name = kh_metric_name(r->metric);
	const struct kh_keyword *kw;
	struct nlattr *nest;
	char what[96];
	int err;

	nest = nla_nest_start(msg, KHOLMES_A_RULE);
	if (!nest)
		return -EMSGSIZE;
	snprintf(what, sizeof(what), "rule %s", name);
	err = put_u(msg, KHOLMES_RULE_METRIC, false, r->metric, map, r->line,
		    what);
	if (!err && (r->mask & BIT(KHOLMES_RULE_ENABLED))) {
		snprintf(what, sizeof(what), "rule %s %s", name,
			 r->val[KHOLMES_RULE_ENABLED] ? "on" : "off");
		err = put_u(msg, KHOLMES_RULE_ENABLED, true,
			    r->val[KHOLMES_RULE_ENABLED], map, r->line, what);
	}
	for (kw = kh_rule_keys; kw->name && !err; kw++) {
		if (!(r->mask & BIT(kw->id)))
			continue;
		snprintf(what, sizeof(what), "rule %s %s %u", name, kw->name,
			 r->val[kw->id]);
		err = put_u(msg, kw->id, false, r->val[kw->id], map, r->line,
			    what);
	}
	if (err)
		return err;
	nla_nest_end(msg, nest);
	snprintf(what, sizeof(what), "rule %s", name);
	return span_add(map, msg, nest, r->line, "%s", what);
}

static int put_watch(struct nl_msg *msg, const struct kh_conf_watch *w,
		     struct kh_conf_map *map)
{
	size_t before;
	struct nlattr *nest;
	char what[96];
	int err;

	nest = nla_nest_start(msg, KHOLMES_A_WATCH);
	if (!nest)
		return -EMSGSIZE;
	if (w->type == KHOLMES_WATCH_PID)
		snprintf(what, sizeof(what), "watch pid %u", w->pid);
	else
		snprintf(what, sizeof(what), "watch %s %.80s", watch_kw(w->type),
			 w->name);
	before = nlmsg_hdr(msg)->nlmsg_len;
	if (w->type == KHOLMES_WATCH_PID)
		err = nla_put_u32(msg, w->type, w->pid);
	else
		err = nla_put_string(msg, w->type, w->name);
	if (err)
		return -EMSGSIZE;
	err = span_add(map, msg, last_attr(msg, before), w->line, "%s", what);
	if (err)
		return err;
	nla_nest_end(msg, nest);
	return span_add(map, msg, nest, w->line, "%s", what);
}

/*
 * Everything c says, into msg (a KHOLMES_CMD_APPLY request whose generic
 * netlink header is in place): one KHOLMES_A_CONFIG nest with every key
 * of every config line, one KHOLMES_A_RULE per rule line, and always
 * KHOLMES_A_REPLACE_WATCH with one KHOLMES_A_WATCH per watch line, since
 * the file's watch lines are the whole scope. map, if not NULL, learns
 * where each attribute is. 0, -EMSGSIZE or -ENOMEM.
 */
int kh_conf_put(struct nl_msg *msg, const struct kh_conf *c,
		struct kh_conf_map *map)
{
	size_t i;
	int err;

	err = put_config(msg, c, map);
	for (i = 0; !err && i < c->nr_rules; i++)
		err = put_rule(msg, &c->rule[i], map);
	if (!err && nla_put_flag(msg, KHOLMES_A_REPLACE_WATCH))
		err = -EMSGSIZE;
	for (i = 0; !err && i < c->nr_watch; i++)
		err = put_watch(msg, &c->watch[i], map);
	return err;
}

/* The narrowest attribute that holds byte off of the request, or NULL. */
const struct kh_conf_span *kh_conf_span_at(const struct kh_conf_map *map,
					   uint32_t off)
{
	const struct kh_conf_span *best = NULL, *s;
	size_t i;

	for (i = 0; i < map->n; i++) {
		s = &map->s[i];
		if (off < s->start || off >= s->end)
			continue;
		if (!best || s->end - s->start < best->end - best->start)
			best = s;
	}
	return best;
}

void kh_conf_map_free(struct kh_conf_map *map)
{
	free(map->s);
	memset(map, 0, sizeof(*map));
}

/* @s as one word of the file: quoted when a bare word would not read back. */
static void conf_word(FILE *f, const char *s)
{
	const char *p;

	if (*s && !strpbrk(s, " \t\r\v\f#\"")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (p = s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

int kh_conf_write(FILE *f, const struct kh_config *cfg,
		  const struct kh_rule *rules, size_t nr_rules,
		  const struct kh_watch *w)
{
	const struct kh_keyword *kw;
	int lost = 0;
	uint32_t val;
	size_t i;

	fputs("config", f);
	for (kw = kh_config_keys; kw->name; kw++) {
		if (!kh_config_get(cfg, kw->id, &val))
			continue;
		if (kw->type == KH_KW_ONOFF)
			fprintf(f, " %s %s", kw->name, val ? "on" : "off");
		else
			fprintf(f, " %s %" PRIu32, kw->name, val);
	}
	fputc('\n', f);
	for (i = 0; i < nr_rules; i++) {
		const struct kholmes_rule_cfg *r = &rules[i].cfg;

		fprintf(f, "rule %s min %" PRIu32 " diff %" PRIu32 " abs %" PRIu32
			" cooldown %" PRIu32 " %s\n",
			kh_metric_name(rules[i].metric), r->min, r->diff, r->abs,
			r->cooldown_s, r->enabled ? "on" : "off");
	}
	for (i = 0; i < w->n; i++) {
		const struct kh_watch_entry *e = &w->e[i];
		const char *kind = e->type == KHOLMES_WATCH_COMM ? "comm" : "cgroup";

		if (e->type == KHOLMES_WATCH_PID) {
			fprintf(f, "watch pid %" PRIu32 "\n", e->pid);
			continue;
		}
		if (strchr(e->name, '\n')) {
			/* the comment ends at the newline, so not the name */
			fprintf(f, "# not saved: a watch %s whose name has a newline\n",
				kind);
			lost++;
			continue;
		}
		fprintf(f, "watch %s ", kind);
		conf_word(f, e->name);
		fputc('\n', f);
	}
	return lost;
}
