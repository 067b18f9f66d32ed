// SPDX-License-Identifier: GPL-2.0
/*
 * Configuration, rules and watch scope under bad input, and the module
 * parameters that set the defaults.
 *
 * Every malformed or out-of-range request is refused and changes nothing:
 * what kholmesctl can tell is wrong by itself (a negative or non-numeric
 * number, an unknown metric, a process name the kernel could never hold)
 * is a usage error, exit 2; what only the kernel knows (ranges, paths,
 * pids) is refused by the kernel with an extack message that kholmesctl
 * prints, exit 1. After each refusal the configuration, every rule and the
 * watch scope read back exactly as before. The largest and smallest
 * accepted values are accepted, so the ranges are not off by one, and the
 * kernel itself refuses what kholmesctl would not send.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "kselftest_harness.h"
#include "kholmes.h"
#include "kt.h"

#define PARAMS_DIR	"/sys/module/" KHM_MODULE_NAME "/parameters"

FIXTURE(bad) {
	struct kt_saved state;
};

FIXTURE_VARIANT(bad) {
	const char *cmd;
	int exit;
	const char *says;	/* on stderr */
};

/* Refused by the kernel: exit 1 and its extack message. */
FIXTURE_VARIANT_ADD(bad, interval_zero) {
	.cmd = "config set interval-ms 0", .exit = 1, .says = "out of range",
};

FIXTURE_VARIANT_ADD(bad, interval_above_max) {
	.cmd = "config set interval-ms 60001", .exit = 1, .says = "out of range",
};

FIXTURE_VARIANT_ADD(bad, window_one) {
	.cmd = "config set window 1", .exit = 1, .says = "out of range",
};

FIXTURE_VARIANT_ADD(bad, window_1000) {
	.cmd = "config set window 1000", .exit = 1, .says = "out of range",
};

FIXTURE_VARIANT_ADD(bad, max_tracked_zero) {
	.cmd = "config set max-tracked 0", .exit = 1, .says = "out of range",
};

/* all or nothing: the good interval must not be applied either */
FIXTURE_VARIANT_ADD(bad, config_one_good_one_bad) {
	.cmd = "config set interval-ms 500 window 1", .exit = 1,
	.says = "out of range",
};

FIXTURE_VARIANT_ADD(bad, rule_diff_above_max) {
	.cmd = "rule set cpu diff 100001", .exit = 1, .says = "out of range",
};

FIXTURE_VARIANT_ADD(bad, rule_min_above_max) {
	.cmd = "rule set cpu min 1000000001", .exit = 1, .says = "out of range",
};

FIXTURE_VARIANT_ADD(bad, rule_cooldown_above_max) {
	.cmd = "rule set cpu cooldown 604801", .exit = 1,
	.says = "out of range",
};

FIXTURE_VARIANT_ADD(bad, rule_one_good_one_bad) {
	.cmd = "rule set cpu min 10 diff 100001", .exit = 1,
	.says = "out of range",
};

FIXTURE_VARIANT_ADD(bad, cgroup_missing) {
	.cmd = "watch add cgroup /khm-no-such-cgroup", .exit = 1,
	.says = "no such cgroup",
};

FIXTURE_VARIANT_ADD(bad, cgroup_relative) {
	.cmd = "watch add cgroup khmtest", .exit = 1,
	.says = "must start with /",
};

FIXTURE_VARIANT_ADD(bad, pid_missing) {
	.cmd = "watch add pid 4000000", .exit = 1, .says = "no process",
};

FIXTURE_VARIANT_ADD(bad, pid_above_max) {
	.cmd = "watch add pid 5000000", .exit = 1, .says = "out of range",
};

FIXTURE_VARIANT_ADD(bad, pid_zero) {
	.cmd = "watch add pid 0", .exit = 1, .says = "out of range",
};

FIXTURE_VARIANT_ADD(bad, flight_hz_above_max) {
	.cmd = "config set flight-hz 101", .exit = 1, .says = "out of range",
};

FIXTURE_VARIANT_ADD(bad, flight_s_zero) {
	.cmd = "config set flight-s 0", .exit = 1, .says = "out of range",
};

FIXTURE_VARIANT_ADD(bad, flight_s_above_max) {
	.cmd = "config set flight-hz 5 flight-s 61", .exit = 1,
	.says = "out of range",
};

FIXTURE_VARIANT_ADD(bad, watch_del_absent) {
	.cmd = "watch del pid 1", .exit = 1, .says = "not in the watch list",
};

/* Refused by kholmesctl before asking: a usage error, exit 2. */
FIXTURE_VARIANT_ADD(bad, window_negative) {
	.cmd = "config set window -1", .exit = 2, .says = "negative",
};

FIXTURE_VARIANT_ADD(bad, window_not_a_number) {
	.cmd = "config set window abc", .exit = 2, .says = "\"abc\"",
};

FIXTURE_VARIANT_ADD(bad, enabled_not_on_off) {
	.cmd = "config set enabled maybe", .exit = 2, .says = "\"maybe\"",
};

FIXTURE_VARIANT_ADD(bad, config_one_good_one_malformed) {
	.cmd = "config set interval-ms 500 window abc", .exit = 2,
	.says = "\"abc\"",
};

FIXTURE_VARIANT_ADD(bad, metric_unknown) {
	.cmd = "rule set bogus min 1", .exit = 2, .says = "unknown metric",
};

FIXTURE_VARIANT_ADD(bad, comm_too_long) {
	.cmd = "watch add comm abcdefghijklmnop", .exit = 2,
	.says = "longer than 15 bytes",
};

FIXTURE_SETUP(bad)
{
	ASSERT_EQ(0, kt_saved_take(&self->state));
}

FIXTURE_TEARDOWN_PARENT(bad)
{
	EXPECT_EQ(0, kt_saved_put(&self->state));
}

/* `kholmesctl -j <show>` prints what @before_text says. */
static void expect_same(struct __test_metadata *_metadata,
			const char *before_text, const char *show)
{
	struct json_object *before = json_tokener_parse(before_text);
	struct json_object *now = khm_json("%s", show);

	ASSERT_NE(NULL, before);
	ASSERT_NE(NULL, now);
	EXPECT_TRUE(json_object_equal(before, now)) {
		TH_LOG("%s changed: %s -> %s", show, before_text,
		       json_object_to_json_string(now));
	}
	json_object_put(before);
	json_object_put(now);
}

TEST_F(bad, refused_unchanged)
{
	char *out = NULL, *err = NULL;
	int ret;

	ret = khm_run(&out, &err, "%s", variant->cmd);
	TH_LOG("kholmesctl %s: exit %d: %s", variant->cmd, ret,
	       khm_oneline(err));
	EXPECT_EQ(variant->exit, ret);
	EXPECT_NE(NULL, strstr(err, variant->says)) {
		TH_LOG("stderr does not say \"%s\"", variant->says);
	}
	EXPECT_STREQ("", out);
	free(out);
	free(err);

	expect_same(_metadata, self->state.config, "config show");
	expect_same(_metadata, self->state.rules, "rule show");
	expect_same(_metadata, self->state.watch, "watch show");
}

/* ------------------------------------------------------------------ */
/*
 * `kholmesctl apply FILE`, all or nothing against the module: a file of
 * config, rule and watch lines whose last line the kernel refuses changes
 * nothing (config, rules and watch read back as before); the same file
 * without that line changes all it names, and only that.
 */

#define APPLY_FILE	"/tmp/khm-apply.conf"

FIXTURE(apply) {
	struct kt_saved state;
	long long rate, window, threads, cool, min;	/* what the file sets */
};

FIXTURE_VARIANT(apply) {
	const char *last;	/* the line the kernel refuses */
	const char *says;
};

FIXTURE_VARIANT_ADD(apply, no_such_pid) {
	.last = "watch pid 4000000", .says = "no process",
};

FIXTURE_VARIANT_ADD(apply, no_such_cgroup) {
	.last = "watch cgroup /khm-no-such-cgroup", .says = "cgroup",
};

FIXTURE_VARIANT_ADD(apply, interval_out_of_range) {
	.last = "config interval-ms 5", .says = "range",
};

FIXTURE_SETUP(apply)
{
	struct json_object *cfg, *rules;
	size_t i;

	ASSERT_EQ(0, kt_saved_take(&self->state));
	/* values that differ from what the module holds now */
	cfg = khm_json("config show");
	rules = khm_json("rule show");
	ASSERT_NE(NULL, cfg);
	ASSERT_NE(NULL, rules);
	self->rate = khm_json_int(cfg, "capture-rate") == 7 ? 8 : 7;
	self->window = khm_json_int(cfg, "window") == 9 ? 11 : 9;
	self->threads = khm_json_int(cfg, "max-threads") == 33 ? 34 : 33;
	for (i = 0; i < json_object_array_length(rules); i++) {
		struct json_object *r = json_object_array_get_idx(rules, i);

		if (strcmp(khm_json_str(r, "metric") ?: "", "threads"))
			continue;
		self->cool = khm_json_int(r, "cooldown") == 4242 ? 4243 : 4242;
		self->min = khm_json_int(r, "min") == 9 ? 10 : 9;
	}
	json_object_put(cfg);
	json_object_put(rules);
	ASSERT_LT(0, self->cool);
}

FIXTURE_TEARDOWN_PARENT(apply)
{
	unlink(APPLY_FILE);
	EXPECT_EQ(0, kt_saved_put(&self->state));
}

static void apply_file(FIXTURE_DATA(apply) *self, const char *last)
{
	FILE *f = fopen(APPLY_FILE, "we");

	if (!f)
		return;
	fprintf(f, "# kholmes selftest\n"
		"config capture-rate %lld window %lld\n"
		"config max-threads %lld\n"
		"rule threads min %lld cooldown %lld\n"
		"watch comm khm-apply\n"
		"watch pid %d\n"
		"%s%s",
		self->rate, self->window, self->threads, self->min, self->cool,
		(int)getpid(), last ?: "", last ? "\n" : "");
	fclose(f);
}

TEST_F_TIMEOUT(apply, last_line_refused_changes_nothing, 90)
{
	char *out = NULL, *err = NULL;
	int ret;

	apply_file(self, variant->last);
	ret = khm_run(&out, &err, "apply " APPLY_FILE);
	TH_LOG("kholmesctl apply, last line \"%s\": exit %d: %s",
	       variant->last, ret, khm_oneline(err));
	EXPECT_EQ(KHM_EXIT_FAIL, ret);
	EXPECT_NE(NULL, strstr(err ?: "", variant->says));
	/* the line it names is the last, line 7 */
	EXPECT_NE(NULL, strstr(err ?: "", APPLY_FILE ":7:"));
	EXPECT_NE(NULL, strstr(err ?: "", "nothing was changed"));
	free(out);
	free(err);

	expect_same(_metadata, self->state.config, "config show");
	expect_same(_metadata, self->state.rules, "rule show");
	expect_same(_metadata, self->state.watch, "watch show");
}

TEST_F_TIMEOUT(apply, valid_file_changes_all, 90)
{
	struct json_object *before = json_tokener_parse(self->state.config);
	struct json_object *cfg, *rules, *w;
	size_t i;

	apply_file(self, NULL);
	ASSERT_EQ(0, kt_ctl("apply " APPLY_FILE));

	cfg = khm_json("config show");
	ASSERT_NE(NULL, cfg);
	EXPECT_EQ(self->rate, khm_json_int(cfg, "capture-rate"));
	EXPECT_EQ(self->window, khm_json_int(cfg, "window"));
	EXPECT_EQ(self->threads, khm_json_int(cfg, "max-threads"));
	/* what the file does not name keeps its value */
	json_object_object_foreach(before, key, val) {
		if (!strcmp(key, "capture-rate") || !strcmp(key, "window") ||
		    !strcmp(key, "max-threads"))
			continue;
		EXPECT_TRUE(json_object_equal(val, khm_json_get(cfg, key)))
			TH_LOG("config %s changed", key);
	}
	json_object_put(cfg);
	json_object_put(before);

	rules = khm_json("rule show");
	ASSERT_NE(NULL, rules);
	for (i = 0; i < json_object_array_length(rules); i++) {
		struct json_object *r = json_object_array_get_idx(rules, i);

		if (strcmp(khm_json_str(r, "metric") ?: "", "threads"))
			continue;
		EXPECT_EQ(self->cool, khm_json_int(r, "cooldown"));
		EXPECT_EQ(self->min, khm_json_int(r, "min"));
	}
	json_object_put(rules);

	/* the watch lines are the whole scope */
	w = khm_json("watch show");
	ASSERT_NE(NULL, w);
	EXPECT_EQ(1, kt_json_len(w, "comms"));
	EXPECT_STREQ("khm-apply", kt_json_item(w, "comms", 0) ?: "(none)");
	EXPECT_EQ(1, kt_json_len(w, "pids"));
	EXPECT_EQ(getpid(), atoi(kt_json_item(w, "pids", 0) ?: "0"));
	EXPECT_EQ(0, kt_json_len(w, "cgroups"));
	json_object_put(w);
}

/* ------------------------------------------------------------------ */
/* kholmesctl save: what it prints, apply puts back */

#define SAVE_FILE	"/tmp/khm-save.conf"

FIXTURE(save) {
	struct kt_saved state;
};

FIXTURE_SETUP(save)
{
	ASSERT_EQ(0, kt_saved_take(&self->state));
}

FIXTURE_TEARDOWN_PARENT(save)
{
	unlink(SAVE_FILE);
	EXPECT_EQ(0, kt_saved_put(&self->state));
}

static int save_write(const char *text)
{
	FILE *f = fopen(SAVE_FILE, "we");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

TEST_F_TIMEOUT(save, apply_puts_back_what_save_printed, 90)
{
	struct json_object *want, *got, *part, *r;
	char text[512], *out = NULL;
	const char *parts[][2] = {
		{ "config", "config show" },
		{ "rules", "rule show" },
		{ "watch", "watch show" },
	};
	size_t i;

	/* names that need quoting, a rule off, keys off their defaults */
	snprintf(text, sizeof(text),
		 "config interval-ms 300 window 6 max-threads 33 cpu-max 77 profiles off\n"
		 "rule rss min 123 diff 45 abs 0 cooldown 33 off\n"
		 "watch comm \"Web Content\"\n"
		 "watch comm \"a\\\"b#c\"\n"
		 "watch pid %d\n", (int)getpid());
	ASSERT_EQ(0, save_write(text));
	ASSERT_EQ(0, kt_ctl("apply " SAVE_FILE));

	want = khm_json("save");
	ASSERT_NE(NULL, want);
	EXPECT_EQ(300, khm_json_int(want, "config.interval-ms"));
	EXPECT_EQ(77, khm_json_int(want, "config.cpu-max"));
	/* kind 1 of kt_watch_kinds: comms */
	EXPECT_TRUE(kt_watch_has(khm_json_get(want, "watch"), 1, "Web Content"));
	EXPECT_TRUE(kt_watch_has(khm_json_get(want, "watch"), 1, "a\"b#c"));
	EXPECT_EQ(1, kt_json_len(khm_json_get(want, "watch"), "pids"));
	part = khm_json_get(want, "rules");
	for (i = 0; part && i < json_object_array_length(part); i++) {
		r = json_object_array_get_idx(part, i);
		if (strcmp(khm_json_str(r, "metric") ?: "", "rss"))
			continue;
		EXPECT_EQ(123, khm_json_int(r, "min"));
		EXPECT_EQ(45, khm_json_int(r, "diff"));
		EXPECT_EQ(33, khm_json_int(r, "cooldown"));
		EXPECT_FALSE(json_object_get_boolean(khm_json_get(r, "enabled")));
	}
	/* -j save is the three show commands in one */
	for (i = 0; i < ARRAY_SIZE(parts); i++) {
		got = khm_json("%s", parts[i][1]);
		EXPECT_TRUE(json_object_equal(got, khm_json_get(want, parts[i][0])))
			TH_LOG("save's %s is not what %s prints", parts[i][0],
			       parts[i][1]);
		json_object_put(got);
	}

	/* the file save prints, kept; then everything changed */
	ASSERT_EQ(0, khm_run(&out, NULL, "save"));
	ASSERT_NE(NULL, out);
	EXPECT_NE(NULL, strstr(out, "\nwatch comm \"Web Content\"\n")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\nrule rss min 123 diff 45 abs 0 cooldown 33 off\n"))
		TH_LOG("%s", out);
	ASSERT_EQ(0, save_write(out));
	free(out);
	ASSERT_EQ(0, kt_ctl("config set interval-ms 500 window 8 max-threads 40 cpu-max 0 profiles on"));
	ASSERT_EQ(0, kt_ctl("rule set rss min 1 diff 2 cooldown 3 on"));
	ASSERT_EQ(0, kt_ctl("watch clear"));

	ASSERT_EQ(0, kt_ctl("apply " SAVE_FILE));
	got = khm_json("save");
	ASSERT_NE(NULL, got);
	for (i = 0; i < ARRAY_SIZE(parts); i++) {
		EXPECT_TRUE(json_object_equal(khm_json_get(want, parts[i][0]),
					      khm_json_get(got, parts[i][0])))
			TH_LOG("%s after apply: %s, saved: %s", parts[i][0],
			       json_object_to_json_string(khm_json_get(got, parts[i][0])),
			       json_object_to_json_string(khm_json_get(want, parts[i][0])));
	}
	json_object_put(got);
	json_object_put(want);
}

/* ------------------------------------------------------------------ */

FIXTURE(limits) {
	struct kt_saved state;
};

FIXTURE_SETUP(limits)
{
	ASSERT_EQ(0, kt_saved_take(&self->state));
}

FIXTURE_TEARDOWN_PARENT(limits)
{
	EXPECT_EQ(0, kt_saved_put(&self->state));
}

static void expect_config(struct __test_metadata *_metadata, const char *key,
			  long long v)
{
	struct json_object *c = khm_json("config show");

	ASSERT_NE(NULL, c);
	EXPECT_EQ(v, khm_json_int(c, key)) {
		TH_LOG("config: %s", json_object_to_json_string(c));
	}
	json_object_put(c);
}

static void expect_cpu_rule(struct __test_metadata *_metadata,
			    const char *key, long long v)
{
	struct json_object *rules = khm_json("rule show"), *cpu;

	ASSERT_NE(NULL, rules);
	cpu = json_object_array_get_idx(rules, 0);
	EXPECT_STREQ("cpu", khm_json_str(cpu, "metric") ?: "");
	EXPECT_EQ(v, khm_json_int(cpu, key)) {
		TH_LOG("rule: %s", json_object_to_json_string(cpu));
	}
	json_object_put(rules);
}

/* The ends of every range are accepted, and read back as set. */
TEST_F(limits, ends_of_ranges_accepted)
{
	static const struct {
		const char *key;
		long long v;
	} cfg[] = {
		{ "interval-ms", 10 }, { "interval-ms", 60000 },
		{ "window", 2 }, { "window", 64 },
		{ "max-tracked", 1 }, { "max-tracked", 1048576 },
		{ "flight-s", 1 }, { "flight-s", 60 },
		{ "flight-hz", 0 }, { "flight-hz", 100 },
	}, rule[] = {
		{ "min", 0 }, { "min", 1000000000 },
		{ "diff", 0 }, { "diff", 100000 },
		{ "abs", 1000000000 }, { "cooldown", 604800 },
	};
	struct json_object *w;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cfg); i++) {
		EXPECT_EQ(0, kt_ctl("config set %s %lld", cfg[i].key, cfg[i].v));
		expect_config(_metadata, cfg[i].key, cfg[i].v);
	}
	for (i = 0; i < ARRAY_SIZE(rule); i++) {
		EXPECT_EQ(0, kt_ctl("rule set cpu %s %lld", rule[i].key,
				    rule[i].v));
		expect_cpu_rule(_metadata, rule[i].key, rule[i].v);
	}
	/* 15 bytes is as long as a process name gets */
	EXPECT_EQ(0, kt_ctl("watch add comm abcdefghijklmno"));
	w = khm_json("watch show");
	ASSERT_NE(NULL, w);
	EXPECT_STREQ("abcdefghijklmno", kt_json_item(w, "comms", 0) ?: "");
	json_object_put(w);
}

/* ------------------------------------------------------------------ */
/*
 * The kernel's own policy, without kholmesctl's checks in front of it:
 * plain generic netlink, one request and its answer.
 */

struct raw_req {
	struct nlmsghdr n;
	struct genlmsghdr g;
	char attrs[256];
};

static struct nlattr *raw_put(struct nlmsghdr *n, int type, const void *data,
			      int len)
{
	struct nlattr *a = (void *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy((char *)a + NLA_HDRLEN, data, len);
	n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + NLA_ALIGN(a->nla_len);
	return a;
}

/*
 * Send @req, read its first answer into @buf: the answer's length or -1.
 * A request with @ack is answered by an ack (NLMSG_ERROR) alone when it
 * returns nothing else; a GET without it by its reply alone.
 */
static int raw_talk(int fd, struct raw_req *req, bool ack, char *buf,
		    size_t len)
{
	static unsigned int seq;
	ssize_t n;

	req->n.nlmsg_flags = NLM_F_REQUEST | (ack ? NLM_F_ACK : 0);
	req->n.nlmsg_seq = ++seq;
	if (send(fd, req, req->n.nlmsg_len, 0) != (ssize_t)req->n.nlmsg_len)
		return -1;
	do {
		n = recv(fd, buf, len, 0);
	} while (n >= (ssize_t)NLMSG_HDRLEN &&
		 ((struct nlmsghdr *)buf)->nlmsg_seq != seq);
	return n < (ssize_t)NLMSG_HDRLEN ? -1 : (int)n;
}

/* Attribute @type among those that follow @hdr_len bytes of payload. */
static struct nlattr *raw_find(struct nlmsghdr *n, size_t hdr_len, int type)
{
	int rem = (int)n->nlmsg_len - NLMSG_HDRLEN - (int)NLMSG_ALIGN(hdr_len);
	struct nlattr *a = (void *)((char *)NLMSG_DATA(n) + NLMSG_ALIGN(hdr_len));

	while (rem >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN &&
	       a->nla_len <= rem) {
		if ((a->nla_type & NLA_TYPE_MASK) == type)
			return a;
		rem -= NLA_ALIGN(a->nla_len);
		a = (void *)((char *)a + NLA_ALIGN(a->nla_len));
	}
	return NULL;
}

static int raw_family(int fd)
{
	struct raw_req req = {
		.n.nlmsg_type = GENL_ID_CTRL,
		.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN),
		.g.cmd = CTRL_CMD_GETFAMILY,
		.g.version = 1,
	};
	char buf[8192];
	struct nlmsghdr *n = (void *)buf;
	struct nlattr *id;

	raw_put(&req.n, CTRL_ATTR_FAMILY_NAME, KHOLMES_GENL_NAME,
		sizeof(KHOLMES_GENL_NAME));
	if (raw_talk(fd, &req, false, buf, sizeof(buf)) < 0 ||
	    n->nlmsg_type == NLMSG_ERROR)
		return -1;
	id = raw_find(n, GENL_HDRLEN, CTRL_ATTR_FAMILY_ID);
	return id ? *(__u16 *)((char *)id + NLA_HDRLEN) : -1;
}

/*
 * KHOLMES_CMD_ADD_WATCH with a comm of any length. 0 when the kernel
 * answered: its error (0 or -errno) in *@err and extack text in @msg.
 */
static int raw_watch_comm(const char *comm, int *err, char *msg, size_t len)
{
	struct raw_req req = {
		.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN),
		.g.cmd = KHOLMES_CMD_ADD_WATCH,
		.g.version = KHOLMES_GENL_VERSION,
	};
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct nlmsghdr *n;
	struct nlmsgerr *e;
	struct nlattr *nest, *text;
	size_t off = sizeof(*e);
	int fd, fam, one = 1, ret = -1;
	char buf[8192];

	msg[0] = '\0';
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto out;
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	fam = raw_family(fd);
	if (fam < 0)
		goto out;
	req.n.nlmsg_type = fam;
	nest = raw_put(&req.n, KHOLMES_A_WATCH | NLA_F_NESTED, NULL, 0);
	raw_put(&req.n, KHOLMES_WATCH_COMM, comm, strlen(comm) + 1);
	nest->nla_len = (char *)&req + req.n.nlmsg_len - (char *)nest;
	if (raw_talk(fd, &req, true, buf, sizeof(buf)) < 0)
		goto out;
	n = (void *)buf;
	if (n->nlmsg_type != NLMSG_ERROR)
		goto out;
	e = NLMSG_DATA(n);
	*err = e->error;
	if (!(n->nlmsg_flags & NLM_F_CAPPED))
		off += NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN);
	text = (n->nlmsg_flags & NLM_F_ACK_TLVS) ?
	       raw_find(n, off, NLMSGERR_ATTR_MSG) : NULL;
	if (text)
		snprintf(msg, len, "%.*s", (int)(text->nla_len - NLA_HDRLEN),
			 (char *)text + NLA_HDRLEN);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

TEST_F(limits, kernel_refuses_long_comm)
{
	struct json_object *w;
	char msg[256];
	int err;

	/* the request is well made: the longest valid name goes through */
	ASSERT_EQ(0, raw_watch_comm("abcdefghijklmno", &err, msg, sizeof(msg)));
	EXPECT_EQ(0, err) TH_LOG("15-byte comm refused: %d %s", err, msg);

	ASSERT_EQ(0, raw_watch_comm("abcdefghijklmnop", &err, msg, sizeof(msg)));
	TH_LOG("16-byte comm: error %d, extack \"%s\"", err, msg);
	EXPECT_GT(0, err);
	EXPECT_NE('\0', msg[0]);
	w = khm_json("watch show");
	ASSERT_NE(NULL, w);
	EXPECT_EQ(1, kt_json_len(w, "comms")) {
		TH_LOG("watch: %s", json_object_to_json_string(w));
	}
	json_object_put(w);
}

/* ------------------------------------------------------------------ */
/* Module parameters: the defaults at load. */

FIXTURE(module) {
	struct kt_saved state;
};

FIXTURE_SETUP(module)
{
	if (!khm_module_loaded())
		ASSERT_EQ(0, khm_insmod(NULL));
	ASSERT_EQ(0, kt_saved_take(&self->state));
}

/* Loaded again whatever happened, for the tests that follow. */
FIXTURE_TEARDOWN_PARENT(module)
{
	if (!khm_module_loaded() && khm_insmod(NULL))
		TH_LOG("could not load the module back");
}

static long long read_param(const char *name)
{
	char path[128], buf[64], *end;
	long long v;

	snprintf(path, sizeof(path), PARAMS_DIR "/%s", name);
	if (khm_read_file(path, buf, sizeof(buf)) <= 0)
		return LLONG_MIN;
	if (!strcmp(buf, "Y"))
		return 1;
	if (!strcmp(buf, "N"))
		return 0;
	v = strtoll(buf, &end, 10);
	return *end ? LLONG_MIN : v;
}

TEST_F(module, parameters_present)
{
	static const char * const names[] = {
		"interval_ms", "window", "max_tracked", "enabled",
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		long long v = read_param(names[i]);

		EXPECT_NE(LLONG_MIN, v) TH_LOG("no readable parameter %s",
					       names[i]);
		TH_LOG("%s = %lld", names[i], v);
	}
}

TEST_F_TIMEOUT(module, reload_with_parameters, 60)
{
	struct json_object *c;

	ASSERT_EQ(0, khm_rmmod());
	ASSERT_EQ(0, khm_insmod("interval_ms=500 window=4"));
	EXPECT_EQ(500, read_param("interval_ms"));
	EXPECT_EQ(4, read_param("window"));
	c = khm_json("config show");
	ASSERT_NE(NULL, c);
	TH_LOG("loaded with interval_ms=500 window=4: %s",
	       json_object_to_json_string(c));
	EXPECT_EQ(500, khm_json_int(c, "interval-ms"));
	EXPECT_EQ(4, khm_json_int(c, "window"));
	EXPECT_EQ(1, khm_json_int(c, "enabled"));
	EXPECT_EQ(read_param("max_tracked"), khm_json_int(c, "max-tracked"));
	json_object_put(c);
	EXPECT_EQ(500, kt_status("interval-ms"));

	/* a plain reload is back to what /init loaded */
	ASSERT_EQ(0, khm_rmmod());
	ASSERT_EQ(0, khm_insmod(NULL));
	expect_same(_metadata, self->state.config, "config show");
}

TEST_F_TIMEOUT(module, bad_parameters_refused, 60)
{
	static const char * const bad[] = {
		"window=1", "window=65", "interval_ms=5", "interval_ms=60001",
		"max_tracked=0",
	};

	ASSERT_EQ(0, khm_rmmod());
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_NE(0, khm_insmod(bad[i])) TH_LOG("insmod %s", bad[i]);
		EXPECT_FALSE(khm_module_loaded()) {
			TH_LOG("loaded with %s", bad[i]);
			khm_rmmod();
		}
	}
	ASSERT_EQ(0, khm_insmod(NULL));
	expect_same(_metadata, self->state.config, "config show");
}

TEST_HARNESS_MAIN
