// SPDX-License-Identifier: GPL-2.0
/*
 * The configuration file: every statement form, comments and quotes,
 * every error with its line, duplicates; then the KHOLMES_CMD_APPLY
 * request it becomes (its nests, attributes and flag, read back with
 * libnl as the kernel would) and the map from the kernel's extack offset
 * back to the line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netlink/genl/genl.h>

#include "conffile.h"
#include "fmt.h"
#include "kselftest_harness.h"

#define BIT(n)		(1U << (n))
#define FAMILY		0x20

static int parse(const char *text, struct kh_conf *c, struct kh_conf_err *e)
{
	return kh_conf_parse(c, text, strlen(text), e);
}

static const char sample[] =
	"# a comment line\n"
	"\n"
	"config interval-ms 1000 window 10   # trailing comment\n"
	"\tconfig enabled on profiles off cpu-max 90\n"
	"config profile-s 5 profile-hz 99 profile-fault-period 10 max-tracked 4096\n"
	"config max-threads 64 max-captures 128 max-queue-kb 8192 user-stack-kb 8 capture-rate 10\n"
	"rule cpu min 50 diff 100% abs 0 cooldown 60s on\n"
	"rule rss-pct off\n"
	"rule dstate cooldown 600 min 5000\r\n"
	"watch pid 1\n"
	"watch comm \"Web Content\"\n"
	"watch cgroup /system.slice/dev-disk-by\\x2duuid.swap\n"
	"watch comm \"a\\\"b\\\\c\"\n"
	"watch cgroup \"/a b/#c\" # a comment after a quoted word\n"
	"watch comm x#y\n";

TEST(every_form)
{
	struct kh_conf c;
	struct kh_conf_err e;

	ASSERT_EQ(0, parse(sample, &c, &e)) TH_LOG("line %u: %s", e.line, e.msg);
	EXPECT_EQ(BIT(KHOLMES_CFG_INTERVAL_MS) | BIT(KHOLMES_CFG_WINDOW) |
		  BIT(KHOLMES_CFG_ENABLED) | BIT(KHOLMES_CFG_PROFILES) |
		  BIT(KHOLMES_CFG_CPU_MAX) | BIT(KHOLMES_CFG_PROFILE_S) |
		  BIT(KHOLMES_CFG_PROFILE_HZ) | BIT(KHOLMES_CFG_FAULT_PERIOD) |
		  BIT(KHOLMES_CFG_MAX_TRACKED) | BIT(KHOLMES_CFG_MAX_THREADS) |
		  BIT(KHOLMES_CFG_MAX_CAPTURES) | BIT(KHOLMES_CFG_MAX_QUEUE_KB) |
		  BIT(KHOLMES_CFG_USER_STACK_KB) | BIT(KHOLMES_CFG_CAPTURE_RATE),
		  c.cfg_mask);
	EXPECT_EQ(1000, c.cfg_val[KHOLMES_CFG_INTERVAL_MS]);
	EXPECT_EQ(3, c.cfg_line[KHOLMES_CFG_INTERVAL_MS]);
	EXPECT_EQ(10, c.cfg_val[KHOLMES_CFG_WINDOW]);
	EXPECT_EQ(1, c.cfg_val[KHOLMES_CFG_ENABLED]);
	EXPECT_EQ(4, c.cfg_line[KHOLMES_CFG_ENABLED]);
	EXPECT_EQ(0, c.cfg_val[KHOLMES_CFG_PROFILES]);
	EXPECT_EQ(90, c.cfg_val[KHOLMES_CFG_CPU_MAX]);
	EXPECT_EQ(10, c.cfg_val[KHOLMES_CFG_FAULT_PERIOD]);
	EXPECT_EQ(5, c.cfg_line[KHOLMES_CFG_FAULT_PERIOD]);
	EXPECT_EQ(10, c.cfg_val[KHOLMES_CFG_CAPTURE_RATE]);
	EXPECT_EQ(6, c.cfg_line[KHOLMES_CFG_CAPTURE_RATE]);
	EXPECT_EQ(4, c.nr_cfg_lines);

	ASSERT_EQ(3, c.nr_rules);
	EXPECT_EQ(KHOLMES_METRIC_CPU, c.rule[0].metric);
	EXPECT_EQ(7, c.rule[0].line);
	EXPECT_EQ(BIT(KHOLMES_RULE_MIN) | BIT(KHOLMES_RULE_DIFF) |
		  BIT(KHOLMES_RULE_ABS) | BIT(KHOLMES_RULE_COOLDOWN) |
		  BIT(KHOLMES_RULE_ENABLED), c.rule[0].mask);
	EXPECT_EQ(50, c.rule[0].val[KHOLMES_RULE_MIN]);
	EXPECT_EQ(100, c.rule[0].val[KHOLMES_RULE_DIFF]);
	EXPECT_EQ(0, c.rule[0].val[KHOLMES_RULE_ABS]);
	EXPECT_EQ(60, c.rule[0].val[KHOLMES_RULE_COOLDOWN]);
	EXPECT_EQ(1, c.rule[0].val[KHOLMES_RULE_ENABLED]);
	EXPECT_EQ(KHOLMES_METRIC_RSS_PCT, c.rule[1].metric);
	EXPECT_EQ(BIT(KHOLMES_RULE_ENABLED), c.rule[1].mask);
	EXPECT_EQ(0, c.rule[1].val[KHOLMES_RULE_ENABLED]);
	EXPECT_EQ(KHOLMES_METRIC_DSTATE, c.rule[2].metric);
	EXPECT_EQ(9, c.rule[2].line);
	EXPECT_EQ(600, c.rule[2].val[KHOLMES_RULE_COOLDOWN]);

	ASSERT_EQ(6, c.nr_watch);
	EXPECT_EQ(KHOLMES_WATCH_PID, c.watch[0].type);
	EXPECT_EQ(1, c.watch[0].pid);
	EXPECT_EQ(10, c.watch[0].line);
	EXPECT_EQ(KHOLMES_WATCH_COMM, c.watch[1].type);
	EXPECT_STREQ("Web Content", c.watch[1].name);
	EXPECT_EQ(KHOLMES_WATCH_CGROUP, c.watch[2].type);
	/* outside quotes a backslash is itself, as systemd escapes names */
	EXPECT_STREQ("/system.slice/dev-disk-by\\x2duuid.swap", c.watch[2].name);
	EXPECT_STREQ("a\"b\\c", c.watch[3].name);
	EXPECT_STREQ("/a b/#c", c.watch[4].name);
	EXPECT_EQ(14, c.watch[4].line);
	/* '#' starts a comment only at the start of a word */
	EXPECT_STREQ("x#y", c.watch[5].name);
	kh_conf_free(&c);
}

TEST(empty_and_comments)
{
	struct kh_conf c;
	struct kh_conf_err e;

	ASSERT_EQ(0, parse("", &c, &e));
	EXPECT_EQ(0, c.cfg_mask);
	EXPECT_EQ(0, c.nr_rules);
	EXPECT_EQ(0, c.nr_watch);
	ASSERT_EQ(0, parse("# nothing\n   \n\t# at all\n#config window 5", &c, &e));
	EXPECT_EQ(0, c.cfg_mask);
	/* no final line feed */
	ASSERT_EQ(0, parse("config window 5", &c, &e));
	EXPECT_EQ(5, c.cfg_val[KHOLMES_CFG_WINDOW]);
	kh_conf_free(&c);
}

static const struct {
	const char *text;
	unsigned int line;
	const char *msg;		/* a part of the message */
} bad[] = {
	{ "config window 5\nfrobnicate 3\n", 2, "unknown statement \"frobnicate\"" },
	{ "config windw 5\n", 1, "config: unknown keyword \"windw\"" },
	{ "\n\nconfig window five\n", 3, "invalid number \"five\" for window" },
	{ "config window -5\n", 1, "must not be negative" },
	{ "config window 99999999999\n", 1, "too large" },
	{ "config window 0x10\n", 1, "invalid number" },
	{ "config window\n", 1, "missing value after \"window\"" },
	{ "config\n", 1, "config: missing KEY VALUE" },
	{ "config enabled yes\n", 1, "expected on or off" },
	{ "config window 5 window 6\n", 1, "\"window\" given more than once" },
	{ "config window 5\n# x\nconfig interval-ms 100 window 6\n", 3,
	  "config: window given twice (first on line 1)" },
	{ "config -j window 5\n", 1, "unknown keyword \"-j\"" },
	{ "rule cpux min 5\n", 1, "unknown metric \"cpux\"" },
	{ "rule\n", 1, "rule: missing METRIC" },
	{ "rule cpu\n", 1, "rule: missing min, diff, abs, cooldown, on or off" },
	{ "rule cpu min\n", 1, "missing value after \"min\"" },
	{ "rule cpu diff 5%%\n", 1, "invalid number" },
	{ "rule cpu on off\n", 1, "given more than once" },
	{ "rule cpu size 5\n", 1, "unknown keyword \"size\"" },
	{ "rule cpu min 5\nrule rss on\nrule cpu off\n", 3,
	  "rule cpu given twice (first on line 1)" },
	{ "watch\n", 1, "missing pid N, comm NAME or cgroup PATH" },
	{ "watch pid\n", 1, "missing value after \"pid\"" },
	{ "watch pid one\n", 1, "invalid number \"one\" for pid" },
	{ "watch pid 1 comm x\n", 1, "unknown keyword \"comm\"" },
	{ "watch add pid 1\n", 1, "the watch lines are the whole scope" },
	{ "watch comm abcdefghijklmnop\n", 1, "longer than 15 bytes" },
	{ "watch user root\n", 1, "unknown keyword \"user\"" },
	{ "watch pid 7\nwatch comm x\nwatch pid 7\n", 3,
	  "watch pid given twice (first on line 1)" },
	{ "watch cgroup /a\nwatch cgroup \"/a\"\n", 2,
	  "watch cgroup given twice (first on line 1)" },
	{ "watch comm \"abc\n", 1, "unterminated quote" },
	{ "config window 5\nwatch comm \"a\\\"\n", 2, "unterminated quote" },
};

TEST(errors_name_their_line)
{
	struct kh_conf c;
	struct kh_conf_err e;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, parse(bad[i].text, &c, &e)) {
			TH_LOG("accepted: %s", bad[i].text);
			continue;
		}
		EXPECT_EQ(bad[i].line, e.line) TH_LOG("%s -> %u: %s", bad[i].text,
						     e.line, e.msg);
		EXPECT_NE(NULL, strstr(e.msg, bad[i].msg))
			TH_LOG("%s -> \"%s\", wanted \"%s\"", bad[i].text, e.msg,
			       bad[i].msg);
		/* nothing half-parsed is left behind */
		EXPECT_EQ(0, c.nr_watch);
		EXPECT_EQ(0, c.cfg_mask);
	}
}

TEST(nul_byte)
{
	static const char text[] = "config window 5\nwatch comm a\0b\n";
	struct kh_conf c;
	struct kh_conf_err e;

	EXPECT_EQ(-EINVAL, kh_conf_parse(&c, text, sizeof(text) - 1, &e));
	EXPECT_EQ(2, e.line);
	EXPECT_NE(NULL, strstr(e.msg, "NUL"));
}

TEST(watch_limit)
{
	char *text = malloc(64 * 32), *p = text;
	struct kh_conf c;
	struct kh_conf_err e;
	int i;

	ASSERT_NE(NULL, text);
	for (i = 0; i < KHOLMES_WATCH_MAX; i++)
		p += sprintf(p, "watch pid %d\n", i + 1);
	ASSERT_EQ(0, parse(text, &c, &e));
	EXPECT_EQ(KHOLMES_WATCH_MAX, c.nr_watch);
	kh_conf_free(&c);
	sprintf(p, "watch pid 999\n");
	ASSERT_EQ(-EINVAL, parse(text, &c, &e));
	EXPECT_EQ(KHOLMES_WATCH_MAX + 1, e.line);
	EXPECT_NE(NULL, strstr(e.msg, "more than 64 watch lines"));
	free(text);
}

TEST(shipped_example_parses)
{
	struct kh_conf_err e;
	struct kh_conf c;
	char path[4096];
	char *text;
	size_t len;
	ssize_t n;

	/* beside the test binary: ctl/tests/ -> packaging/ */
	n = readlink("/proc/self/exe", path, sizeof(path) - 64);
	ASSERT_GT(n, 0);
	path[n] = '\0';
	strcpy(strrchr(path, '/'), "/../../packaging/kholmes.conf");
	ASSERT_EQ(0, kh_conf_read(path, &text, &len)) TH_LOG("%s", path);
	EXPECT_EQ(0, kh_conf_parse(&c, text, len, &e))
		TH_LOG("kholmes.conf:%u: %s", e.line, e.msg);
	EXPECT_NE(0, c.cfg_mask);
	EXPECT_NE(0, c.nr_rules);
	kh_conf_free(&c);
	free(text);
}

TEST(read_file)
{
	char path[] = "/tmp/kholmes-conf-XXXXXX", *text, *big;
	size_t len;
	int fd;

	EXPECT_EQ(-ENOENT, kh_conf_read("/nonexistent/kholmes.conf", &text, &len));
	fd = mkstemp(path);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(15, write(fd, "config window 5", 15));
	ASSERT_EQ(0, kh_conf_read(path, &text, &len));
	EXPECT_EQ(15, len);
	EXPECT_STREQ("config window 5", text);
	free(text);
	big = calloc(1, KH_CONF_MAX_BYTES + 1);
	ASSERT_NE(NULL, big);
	memset(big, '#', KH_CONF_MAX_BYTES + 1);
	ASSERT_EQ(KH_CONF_MAX_BYTES + 1, write(fd, big, KH_CONF_MAX_BYTES + 1));
	EXPECT_EQ(-EFBIG, kh_conf_read(path, &text, &len));
	free(big);
	close(fd);
	unlink(path);
}

/* ---------------------------------------------------------- the request */

static struct nl_msg *apply_msg(const struct kh_conf *c,
				struct kh_conf_map *map)
{
	struct nl_msg *msg = nlmsg_alloc_size(kh_conf_msg_size(c));

	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, FAMILY, 0, 0,
			 KHOLMES_CMD_APPLY, KHOLMES_GENL_VERSION) ||
	    kh_conf_put(msg, c, map)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

#define for_each_top(a, msg, rem)					\
	nla_for_each_attr(a, genlmsg_attrdata(nlmsg_data(nlmsg_hdr(msg)), 0), \
			  genlmsg_attrlen(nlmsg_data(nlmsg_hdr(msg)), 0), rem)

static uint32_t off_of(struct nl_msg *msg, const struct nlattr *a)
{
	return (const char *)a - (const char *)nlmsg_hdr(msg);
}

TEST(request)
{
	struct nlattr *a, *in, *cfg = NULL, *rules[8], *watch[8];
	int rem, rem2, nr = 0, nw = 0, ncfg = 0, replace = 0, other = 0;
	struct kh_conf_map map = { 0 };
	const struct kh_conf_span *s;
	struct kh_conf_err e;
	struct kh_conf c;
	struct nl_msg *msg;
	unsigned int n;

	ASSERT_EQ(0, parse(sample, &c, &e));
	msg = apply_msg(&c, &map);
	ASSERT_NE(NULL, msg);
	EXPECT_EQ(KHOLMES_CMD_APPLY,
		  ((struct genlmsghdr *)nlmsg_data(nlmsg_hdr(msg)))->cmd);
	EXPECT_EQ(FAMILY, nlmsg_hdr(msg)->nlmsg_type);

	for_each_top(a, msg, rem) {
		switch (nla_type(a)) {
		case KHOLMES_A_CONFIG:
			cfg = a;
			ncfg++;
			break;
		case KHOLMES_A_RULE:
			ASSERT_LT(nr, 8);
			rules[nr++] = a;
			break;
		case KHOLMES_A_WATCH:
			ASSERT_LT(nw, 8);
			watch[nw++] = a;
			break;
		case KHOLMES_A_REPLACE_WATCH:
			EXPECT_EQ(0, nla_len(a));
			/* the flag comes before the entries it governs */
			EXPECT_EQ(0, nw);
			replace++;
			break;
		default:
			other++;
		}
	}
	EXPECT_EQ(0, rem);
	EXPECT_EQ(1, ncfg);	/* every config line merged into one nest */
	EXPECT_EQ(3, nr);
	EXPECT_EQ(6, nw);
	EXPECT_EQ(1, replace);
	EXPECT_EQ(0, other);
	ASSERT_NE(NULL, cfg);

	/* the config nest: u8 for on/off keys, u32 for the rest */
	n = 0;
	nla_for_each_nested(in, cfg, rem2) {
		n++;
		switch (nla_type(in)) {
		case KHOLMES_CFG_ENABLED:
			EXPECT_EQ(1, nla_len(in));
			EXPECT_EQ(1, nla_get_u8(in));
			break;
		case KHOLMES_CFG_PROFILES:
			EXPECT_EQ(1, nla_len(in));
			EXPECT_EQ(0, nla_get_u8(in));
			break;
		default:
			EXPECT_EQ(4, nla_len(in)) TH_LOG("type %d", nla_type(in));
			EXPECT_EQ(c.cfg_val[nla_type(in)], nla_get_u32(in));
		}
	}
	EXPECT_EQ(14, n);

	/* rules in file order, each naming its metric */
	{
		struct nlattr *tb[KHOLMES_RULE_MAX + 1];

		ASSERT_EQ(0, nla_parse_nested(tb, KHOLMES_RULE_MAX, rules[0], NULL));
		EXPECT_EQ(KHOLMES_METRIC_CPU, nla_get_u32(tb[KHOLMES_RULE_METRIC]));
		EXPECT_EQ(50, nla_get_u32(tb[KHOLMES_RULE_MIN]));
		EXPECT_EQ(100, nla_get_u32(tb[KHOLMES_RULE_DIFF]));
		EXPECT_EQ(0, nla_get_u32(tb[KHOLMES_RULE_ABS]));
		EXPECT_EQ(60, nla_get_u32(tb[KHOLMES_RULE_COOLDOWN]));
		EXPECT_EQ(1, nla_get_u8(tb[KHOLMES_RULE_ENABLED]));
		ASSERT_EQ(0, nla_parse_nested(tb, KHOLMES_RULE_MAX, rules[1], NULL));
		EXPECT_EQ(KHOLMES_METRIC_RSS_PCT, nla_get_u32(tb[KHOLMES_RULE_METRIC]));
		EXPECT_EQ(0, nla_get_u8(tb[KHOLMES_RULE_ENABLED]));
		/* what a line does not name is not sent: it keeps its value */
		EXPECT_EQ(NULL, tb[KHOLMES_RULE_MIN]);
		EXPECT_EQ(NULL, tb[KHOLMES_RULE_COOLDOWN]);
		ASSERT_EQ(0, nla_parse_nested(tb, KHOLMES_RULE_MAX, rules[2], NULL));
		EXPECT_EQ(KHOLMES_METRIC_DSTATE, nla_get_u32(tb[KHOLMES_RULE_METRIC]));
		EXPECT_EQ(NULL, tb[KHOLMES_RULE_ENABLED]);
	}
	/* one entry per watch nest, strings NUL-terminated */
	{
		struct nlattr *tb[KHOLMES_WATCH_MAX_ATTR + 1];

		ASSERT_EQ(0, nla_parse_nested(tb, KHOLMES_WATCH_MAX_ATTR, watch[0], NULL));
		EXPECT_EQ(1, nla_get_u32(tb[KHOLMES_WATCH_PID]));
		EXPECT_EQ(NULL, tb[KHOLMES_WATCH_COMM]);
		ASSERT_EQ(0, nla_parse_nested(tb, KHOLMES_WATCH_MAX_ATTR, watch[1], NULL));
		EXPECT_STREQ("Web Content", nla_get_string(tb[KHOLMES_WATCH_COMM]));
		EXPECT_EQ(12, nla_len(tb[KHOLMES_WATCH_COMM]));
		ASSERT_EQ(0, nla_parse_nested(tb, KHOLMES_WATCH_MAX_ATTR, watch[4], NULL));
		EXPECT_STREQ("/a b/#c", nla_get_string(tb[KHOLMES_WATCH_CGROUP]));
	}

	/* the kernel's offsets, back to lines */
	nla_for_each_nested(in, cfg, rem2) {
		s = kh_conf_span_at(&map, off_of(msg, in));
		ASSERT_NE(NULL, s);
		EXPECT_EQ(c.cfg_line[nla_type(in)], s->line);
		if (nla_type(in) == KHOLMES_CFG_WINDOW)
			EXPECT_STREQ("config window 10", s->what);
		if (nla_type(in) == KHOLMES_CFG_PROFILES)
			EXPECT_STREQ("config profiles off", s->what);
	}
	/* the config nest itself spans four lines: no single one */
	s = kh_conf_span_at(&map, off_of(msg, cfg));
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0, s->line);
	EXPECT_STREQ("config", s->what);
	nla_for_each_nested(in, rules[0], rem2) {
		s = kh_conf_span_at(&map, off_of(msg, in));
		ASSERT_NE(NULL, s);
		EXPECT_EQ(7, s->line);
		if (nla_type(in) == KHOLMES_RULE_DIFF)
			EXPECT_STREQ("rule cpu diff 100", s->what);
	}
	s = kh_conf_span_at(&map, off_of(msg, rules[2]));
	ASSERT_NE(NULL, s);
	EXPECT_EQ(9, s->line);
	EXPECT_STREQ("rule dstate", s->what);
	/* an offset inside an attribute's payload is that attribute */
	s = kh_conf_span_at(&map, off_of(msg, nla_data(watch[2])) + NLA_HDRLEN + 3);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(12, s->line);
	EXPECT_STREQ("watch cgroup /system.slice/dev-disk-by\\x2duuid.swap", s->what);
	s = kh_conf_span_at(&map, off_of(msg, watch[5]));
	ASSERT_NE(NULL, s);
	EXPECT_EQ(15, s->line);
	/* the headers, or past the end: no line */
	EXPECT_EQ(NULL, kh_conf_span_at(&map, 0));
	EXPECT_EQ(NULL, kh_conf_span_at(&map, nlmsg_hdr(msg)->nlmsg_len));

	nlmsg_free(msg);
	kh_conf_map_free(&map);
	kh_conf_free(&c);
}

TEST(empty_file_request_clears_the_scope)
{
	struct kh_conf_map map = { 0 };
	struct kh_conf_err e;
	struct kh_conf c;
	struct nl_msg *msg;
	struct nlattr *a;
	int rem, n = 0;

	ASSERT_EQ(0, parse("# only comments\n", &c, &e));
	msg = apply_msg(&c, &map);
	ASSERT_NE(NULL, msg);
	for_each_top(a, msg, rem) {
		EXPECT_EQ(KHOLMES_A_REPLACE_WATCH, nla_type(a));
		n++;
	}
	EXPECT_EQ(1, n);
	EXPECT_EQ(0, map.n);
	nlmsg_free(msg);
	kh_conf_map_free(&map);
}

TEST(one_config_line_names_its_nest)
{
	struct kh_conf_map map = { 0 };
	const struct kh_conf_span *s;
	struct kh_conf_err e;
	struct kh_conf c;
	struct nl_msg *msg;
	struct nlattr *a;
	int rem;

	ASSERT_EQ(0, parse("\nconfig window 5 interval-ms 100\n", &c, &e));
	msg = apply_msg(&c, &map);
	ASSERT_NE(NULL, msg);
	for_each_top(a, msg, rem) {
		if (nla_type(a) != KHOLMES_A_CONFIG)
			continue;
		s = kh_conf_span_at(&map, off_of(msg, a));
		ASSERT_NE(NULL, s);
		EXPECT_EQ(2, s->line);
	}
	nlmsg_free(msg);
	kh_conf_map_free(&map);
	kh_conf_free(&c);
}

/* The largest scope fits the buffer the request is sized for. */
TEST(largest_request)
{
	size_t len = 64 * (KHOLMES_CGROUP_PATH_MAX + 16);
	struct kh_conf_map map = { 0 };
	char *text = malloc(len), *p = text;
	struct kh_conf_err e;
	struct kh_conf c;
	struct nl_msg *msg;
	int i;

	ASSERT_NE(NULL, text);
	for (i = 0; i < KHOLMES_WATCH_MAX; i++) {
		p += sprintf(p, "watch cgroup /%d", i);
		memset(p, 'x', KHOLMES_CGROUP_PATH_MAX - 8);
		p += KHOLMES_CGROUP_PATH_MAX - 8;
		*p++ = '\n';
	}
	*p = '\0';
	ASSERT_EQ(0, parse(text, &c, &e)) TH_LOG("%u: %s", e.line, e.msg);
	msg = apply_msg(&c, &map);
	ASSERT_NE(NULL, msg);
	/* each entry's nest and its one attribute */
	EXPECT_EQ(2 * KHOLMES_WATCH_MAX, map.n);
	nlmsg_free(msg);
	kh_conf_map_free(&map);
	kh_conf_free(&c);
	/* one byte more than the kernel keeps of a path */
	sprintf(text, "watch cgroup /");
	memset(text + 14, 'y', KHOLMES_CGROUP_PATH_MAX);
	text[13 + KHOLMES_CGROUP_PATH_MAX] = '\0';
	ASSERT_EQ(-EINVAL, parse(text, &c, &e));
	EXPECT_NE(NULL, strstr(e.msg, "longer than"));
	free(text);
}

/* What `kholmesctl save` writes reads back to the same values. */
static const struct {
	int type;
	const char *name;
} save_names[] = {
	{ KHOLMES_WATCH_COMM, "plain" },
	{ KHOLMES_WATCH_COMM, "Web Content" },
	{ KHOLMES_WATCH_COMM, "a\"b\\c" },
	{ KHOLMES_WATCH_CGROUP, "/a b/#c" },
	{ KHOLMES_WATCH_COMM, "x#y" },
	{ KHOLMES_WATCH_COMM, "tab\there" },
	{ KHOLMES_WATCH_CGROUP, "/system.slice/dev-disk-by\\x2duuid.swap" },
	{ KHOLMES_WATCH_COMM, "\"" },
	{ KHOLMES_WATCH_CGROUP, "/\\" },
};

static void save_sample(struct kh_config *cfg, struct kh_rule *rules,
			struct kh_watch *w)
{
	static struct kh_watch_entry e[ARRAY_SIZE(save_names) + 1];
	unsigned int m;
	size_t i;

	*cfg = (struct kh_config){
		.enabled = true, .interval_ms = 250, .window = 7,
		.max_tracked = 2048, .max_threads = 32, .max_captures = 16,
		.max_queue_kb = 4096, .user_stack_kb = 8, .capture_rate = 5,
		.profile_s = 3, .profile_hz = 49, .fault_period = 7,
		.cpu_max = 80, .profiles = true, .kthreads = false,
		.flight_hz = 19, .flight_s = 10, .has = ~0U,
	};
	for (m = 0; m < KHOLMES_NR_METRICS; m++) {
		rules[m].metric = m;
		rules[m].cfg = (struct kholmes_rule_cfg){
			.min = 10 + m, .diff = 20 + m, .abs = m % 2 ? 0 : 900 + m,
			.cooldown_s = 30 + m, .enabled = m % 3 != 0,
		};
	}
	e[0] = (struct kh_watch_entry){ .type = KHOLMES_WATCH_PID, .pid = 4242 };
	for (i = 0; i < ARRAY_SIZE(save_names); i++) {
		e[i + 1].type = save_names[i].type;
		snprintf(e[i + 1].name, sizeof(e[i + 1].name), "%s",
			 save_names[i].name);
	}
	w->e = e;
	w->n = ARRAY_SIZE(save_names) + 1;
}

static char *save_text(const struct kh_config *cfg, const struct kh_rule *rules,
		       const struct kh_watch *w, int *lost)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	*lost = kh_conf_write(f, cfg, rules, KHOLMES_NR_METRICS, w);
	fclose(f);
	return text;
}

TEST(save_reads_back)
{
	struct kh_rule rules[KHOLMES_NR_METRICS];
	struct kh_config cfg;
	struct kh_conf_err e;
	struct kh_watch w;
	struct kh_conf c;
	uint32_t val;
	int lost, id;
	unsigned int m;
	char *text;
	size_t i;

	save_sample(&cfg, rules, &w);
	text = save_text(&cfg, rules, &w, &lost);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(0, lost);
	ASSERT_EQ(0, parse(text, &c, &e)) TH_LOG("line %u: %s\n%s", e.line, e.msg, text);
	/* every key, with its value */
	for (id = KHOLMES_CFG_ENABLED; id <= KHOLMES_CFG_MAX; id++) {
		ASSERT_TRUE(kh_config_get(&cfg, id, &val));
		EXPECT_TRUE(c.cfg_mask & BIT(id)) TH_LOG("config key %d not saved", id);
		EXPECT_EQ(val, c.cfg_val[id]) TH_LOG("config key %d", id);
	}
	ASSERT_EQ(KHOLMES_NR_METRICS, c.nr_rules);
	for (m = 0; m < KHOLMES_NR_METRICS; m++) {
		const struct kh_conf_rule *r = &c.rule[m];

		EXPECT_EQ(m, r->metric);
		EXPECT_EQ(rules[m].cfg.min, r->val[KHOLMES_RULE_MIN]);
		EXPECT_EQ(rules[m].cfg.diff, r->val[KHOLMES_RULE_DIFF]);
		EXPECT_EQ(rules[m].cfg.abs, r->val[KHOLMES_RULE_ABS]);
		EXPECT_EQ(rules[m].cfg.cooldown_s, r->val[KHOLMES_RULE_COOLDOWN]);
		EXPECT_EQ(rules[m].cfg.enabled, r->val[KHOLMES_RULE_ENABLED]);
	}
	ASSERT_EQ(w.n, c.nr_watch);
	EXPECT_EQ(KHOLMES_WATCH_PID, c.watch[0].type);
	EXPECT_EQ(4242, c.watch[0].pid);
	for (i = 1; i < w.n; i++) {
		EXPECT_EQ(w.e[i].type, c.watch[i].type);
		EXPECT_STREQ(w.e[i].name, c.watch[i].name);
	}
	kh_conf_free(&c);
	free(text);
}

TEST(save_empty_scope_and_old_module)
{
	struct kh_rule rules[KHOLMES_NR_METRICS];
	struct kh_watch w = { 0 };
	struct kh_config cfg;
	struct kh_conf_err e;
	struct kh_conf c;
	int lost;
	char *text;

	save_sample(&cfg, rules, &w);
	w.n = 0;
	/* a module that sends only the first four keys */
	cfg.has = 0;
	text = save_text(&cfg, rules, &w, &lost);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(0, lost);
	EXPECT_EQ(NULL, strstr(text, "watch"));
	EXPECT_EQ(NULL, strstr(text, "profiles"));
	ASSERT_EQ(0, parse(text, &c, &e)) TH_LOG("line %u: %s", e.line, e.msg);
	EXPECT_EQ(BIT(KHOLMES_CFG_ENABLED) | BIT(KHOLMES_CFG_INTERVAL_MS) |
		  BIT(KHOLMES_CFG_WINDOW) | BIT(KHOLMES_CFG_MAX_TRACKED), c.cfg_mask);
	EXPECT_EQ(0, c.nr_watch);
	kh_conf_free(&c);
	free(text);
}

TEST(save_leaves_out_a_name_with_a_newline)
{
	struct kh_rule rules[KHOLMES_NR_METRICS];
	struct kh_config cfg;
	struct kh_conf_err e;
	struct kh_watch w;
	struct kh_conf c;
	int lost;
	char *text;

	save_sample(&cfg, rules, &w);
	snprintf(w.e[4].name, sizeof(w.e[4].name), "/evil\nwatch pid 1");
	text = save_text(&cfg, rules, &w, &lost);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(1, lost);
	EXPECT_EQ(NULL, strstr(text, "evil"));
	ASSERT_EQ(0, parse(text, &c, &e)) TH_LOG("line %u: %s", e.line, e.msg);
	EXPECT_EQ(w.n - 1, c.nr_watch);
	EXPECT_EQ(4242, c.watch[0].pid);
	EXPECT_STREQ(w.e[3].name, c.watch[3].name);
	EXPECT_STREQ(w.e[5].name, c.watch[4].name);
	kh_conf_free(&c);
	free(text);
}

TEST_HARNESS_MAIN
