/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The configuration file (/etc/kholmes.conf) as one KHOLMES_CMD_APPLY
 * request. Pure: text in, a struct kh_conf out, then the request's
 * attributes into a message the caller sends. Nothing here touches a
 * socket, so that the host tests cover every statement and every error.
 *
 * One statement a line, the words of the command line without its verb:
 *	config KEY VALUE [KEY VALUE ...]
 *	rule METRIC [min N] [diff PCT] [abs N] [cooldown SEC] [on|off]
 *	watch pid N | comm NAME | cgroup PATH
 * A word starting with '#' starts a comment that runs to the end of the
 * line. A word may be double-quoted ("Web Content"), where \" and \\
 * stand for " and \; outside quotes a backslash is itself (systemd's
 * \x2d in cgroup names).
 */
#ifndef KHOLMESCTL_CONFFILE_H
#define KHOLMESCTL_CONFFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netlink/msg.h>

#include "kholmes.h"
#include "record.h"

/* A file larger than this is not a configuration file. */
#define KH_CONF_MAX_BYTES	(1 << 20)

struct kh_conf_rule {
	uint32_t metric;
	uint32_t mask;				/* 1 << KHOLMES_RULE_* given */
	uint32_t val[KHOLMES_RULE_MAX + 1];
	unsigned int line;
};

struct kh_conf_watch {
	int type;				/* KHOLMES_WATCH_* */
	uint32_t pid;
	char *name;				/* comm or cgroup path */
	unsigned int line;
};

struct kh_conf {
	uint32_t cfg_mask;			/* 1 << KHOLMES_CFG_* given */
	uint32_t cfg_val[KHOLMES_CFG_MAX + 1];
	unsigned int cfg_line[KHOLMES_CFG_MAX + 1];
	unsigned int nr_cfg_lines;
	struct kh_conf_rule rule[KHOLMES_NR_METRICS];	/* in file order */
	size_t nr_rules;
	struct kh_conf_watch watch[KHOLMES_WATCH_MAX];	/* in file order */
	size_t nr_watch;
};

struct kh_conf_err {
	unsigned int line;			/* 0: not about a line */
	char msg[512];
};

int kh_conf_parse(struct kh_conf *c, const char *text, size_t len,
		  struct kh_conf_err *e);
void kh_conf_free(struct kh_conf *c);
int kh_conf_read(const char *path, char **text, size_t *len);

/*
 * The running configuration as a file that kh_conf_parse() reads back to
 * the same values: one config line with every key the module sent, a rule
 * line per rule, a watch line per entry (none: every process watched).
 * Names are quoted where they need it. An entry no line can hold (a name
 * with a newline in it) is written as a comment instead and counted: the
 * return value, 0 when the file is whole.
 */
int kh_conf_write(FILE *f, const struct kh_config *cfg,
		  const struct kh_rule *rules, size_t nr_rules,
		  const struct kh_watch *w);

/*
 * Where each attribute of the request came from: byte ranges from the
 * start of the netlink message (its nlmsghdr), as the kernel's extack
 * offset counts, to the line that gave it and the words that name it.
 */
struct kh_conf_span {
	uint32_t start, end;
	unsigned int line;			/* 0: several lines */
	char what[96];				/* "window", "rule cpu min" */
};

struct kh_conf_map {
	struct kh_conf_span *s;
	size_t n, cap;
};

size_t kh_conf_msg_size(const struct kh_conf *c);
int kh_conf_put(struct nl_msg *msg, const struct kh_conf *c,
		struct kh_conf_map *map);
const struct kh_conf_span *kh_conf_span_at(const struct kh_conf_map *map,
					   uint32_t off);
void kh_conf_map_free(struct kh_conf_map *map);

#endif
