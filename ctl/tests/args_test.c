// SPDX-License-Identifier: GPL-2.0
/* Command-line parsing: numbers, on/off, metric names, keyword tables. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "args.h"
#include "metrics.h"
#include "kselftest_harness.h"

#define BIT(n)		(1U << (n))

static const struct {
	const char *word;
	uint64_t max;
	int ret;
	uint64_t want;
} u64_cases[] = {
	{ "0",				UINT64_MAX, 0, 0 },
	{ "007",			UINT64_MAX, 0, 7 },
	{ "18446744073709551615",	UINT64_MAX, 0, UINT64_MAX },
	{ "18446744073709551616",	UINT64_MAX, -ERANGE, 0 },
	{ "99999999999999999999999",	UINT64_MAX, -ERANGE, 0 },
	{ "4294967295",			UINT32_MAX, 0, UINT32_MAX },
	{ "4294967296",			UINT32_MAX, -ERANGE, 0 },
	{ "9",				9, 0, 9 },
	{ "10",				9, -ERANGE, 0 },
	{ "5",				3, -ERANGE, 0 },
	{ "0",				0, 0, 0 },
	{ "1",				0, -ERANGE, 0 },
	{ "-1",				UINT64_MAX, -EDOM, 0 },
	{ "-0",				UINT64_MAX, -EDOM, 0 },
	{ "-",				UINT64_MAX, -EINVAL, 0 },
	{ "-x",				UINT64_MAX, -EINVAL, 0 },
	{ "",				UINT64_MAX, -EINVAL, 0 },
	{ "abc",			UINT64_MAX, -EINVAL, 0 },
	{ "12a",			UINT64_MAX, -EINVAL, 0 },
	{ " 1",				UINT64_MAX, -EINVAL, 0 },
	{ "1 ",				UINT64_MAX, -EINVAL, 0 },
	{ "+1",				UINT64_MAX, -EINVAL, 0 },
	{ "0x10",			UINT64_MAX, -EINVAL, 0 },
	{ "1.5",			UINT64_MAX, -EINVAL, 0 },
	{ "1e3",			UINT64_MAX, -EINVAL, 0 },
	{ "99999999999999999999999x",	UINT64_MAX, -EINVAL, 0 },
};

TEST(numbers)
{
	uint64_t v;
	size_t i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(u64_cases); i++) {
		v = 12345;
		ret = kh_parse_u64(u64_cases[i].word, u64_cases[i].max, &v);
		EXPECT_EQ(u64_cases[i].ret, ret) {
			TH_LOG("\"%s\"", u64_cases[i].word);
		}
		/* a refused word leaves the output untouched */
		EXPECT_EQ(ret ? 12345 : u64_cases[i].want, v) {
			TH_LOG("\"%s\"", u64_cases[i].word);
		}
	}
	EXPECT_EQ(-EINVAL, kh_parse_u64(NULL, UINT64_MAX, &v));
}

TEST(u32)
{
	uint32_t v = 0;

	EXPECT_EQ(0, kh_parse_u32("4294967295", &v));
	EXPECT_EQ(UINT32_MAX, v);
	EXPECT_EQ(-ERANGE, kh_parse_u32("4294967296", &v));
	EXPECT_EQ(-EDOM, kh_parse_u32("-5", &v));
	EXPECT_EQ(-EINVAL, kh_parse_u32("five", &v));
	EXPECT_EQ(-EINVAL, kh_parse_u32("5%", &v));
}

TEST(unit_suffix)
{
	uint32_t v = 0;

	EXPECT_EQ(0, kh_parse_u32_unit("100%", "%", &v));
	EXPECT_EQ((uint32_t)100, v);
	EXPECT_EQ(0, kh_parse_u32_unit("100", "%", &v));
	EXPECT_EQ((uint32_t)100, v);
	EXPECT_EQ(0, kh_parse_u32_unit("60s", "s", &v));
	EXPECT_EQ((uint32_t)60, v);
	EXPECT_EQ(-EINVAL, kh_parse_u32_unit("%", "%", &v));
	EXPECT_EQ(-EINVAL, kh_parse_u32_unit("60ss", "s", &v));
	EXPECT_EQ(-EINVAL, kh_parse_u32_unit("60%", "s", &v));
	EXPECT_EQ(-EINVAL, kh_parse_u32_unit("6%0", "%", &v));
	EXPECT_EQ(-EDOM, kh_parse_u32_unit("-6%", "%", &v));
	EXPECT_EQ(-ERANGE, kh_parse_u32_unit("4294967296s", "s", &v));
}

TEST(onoff)
{
	bool on = false;

	EXPECT_EQ(0, kh_parse_onoff("on", &on));
	EXPECT_TRUE(on);
	EXPECT_EQ(0, kh_parse_onoff("off", &on));
	EXPECT_FALSE(on);
	EXPECT_EQ(-EINVAL, kh_parse_onoff("ON", &on));
	EXPECT_EQ(-EINVAL, kh_parse_onoff("yes", &on));
	EXPECT_EQ(-EINVAL, kh_parse_onoff("1", &on));
	EXPECT_EQ(-EINVAL, kh_parse_onoff("", &on));
	EXPECT_EQ(-EINVAL, kh_parse_onoff("onn", &on));
	EXPECT_EQ(-EINVAL, kh_parse_onoff(NULL, &on));
	EXPECT_FALSE(on);
}

TEST(options)
{
	EXPECT_TRUE(kh_is_json_opt("-j"));
	EXPECT_TRUE(kh_is_json_opt("--json"));
	EXPECT_FALSE(kh_is_json_opt("-json"));
	EXPECT_FALSE(kh_is_json_opt("json"));
	EXPECT_TRUE(kh_is_help("help"));
	EXPECT_TRUE(kh_is_help("-h"));
	EXPECT_TRUE(kh_is_help("--help"));
	EXPECT_FALSE(kh_is_help("halp"));
}

/* The order and names are the CLI and JSON contract. */
TEST(metric_names)
{
	static const char *const want[KHOLMES_NR_METRICS] = {
		[KHOLMES_METRIC_CPU] = "cpu",
		[KHOLMES_METRIC_RSS] = "rss",
		[KHOLMES_METRIC_RSS_PCT] = "rss-pct",
		[KHOLMES_METRIC_THREADS] = "threads",
		[KHOLMES_METRIC_CTXSW] = "ctxsw",
		[KHOLMES_METRIC_RUNDELAY] = "rundelay",
		[KHOLMES_METRIC_MAJFLT] = "majflt",
		[KHOLMES_METRIC_DSTATE] = "dstate",
	};
	static const char *const units[KHOLMES_NR_METRICS] = {
		"%", "MiB", "%", "count", "/s", "ms/s", "/s", "ms",
	};
	unsigned int m, k;

	for (m = 0; m < KHOLMES_NR_METRICS; m++) {
		ASSERT_NE(NULL, kh_metrics[m].name);
		ASSERT_NE(NULL, kh_metrics[m].head);
		EXPECT_STREQ(want[m], kh_metrics[m].name);
		EXPECT_STREQ(units[m], kh_metrics[m].unit);
		EXPECT_STREQ(want[m], kh_metric_name(m));
		EXPECT_EQ((int)m, kh_metric_by_name(want[m]));
		for (k = 0; k < m; k++)
			EXPECT_STRNE(kh_metrics[k].name, kh_metrics[m].name);
	}
	EXPECT_EQ(-1, kh_metric_by_name("CPU"));
	EXPECT_EQ(-1, kh_metric_by_name("cpu "));
	EXPECT_EQ(-1, kh_metric_by_name(""));
	EXPECT_EQ(-1, kh_metric_by_name("rss_pct"));
	EXPECT_STREQ("unknown", kh_metric_name(KHOLMES_NR_METRICS));
}

TEST(keyword_tables)
{
	const struct kh_keyword *kw;

	kw = kh_keyword(kh_config_keys, "enabled");
	ASSERT_NE(NULL, kw);
	EXPECT_EQ(KHOLMES_CFG_ENABLED, kw->id);
	EXPECT_EQ(KH_KW_ONOFF, kw->type);
	EXPECT_EQ(KHOLMES_CFG_INTERVAL_MS,
		  kh_keyword(kh_config_keys, "interval-ms")->id);
	EXPECT_EQ(KHOLMES_CFG_WINDOW, kh_keyword(kh_config_keys, "window")->id);
	EXPECT_EQ(KHOLMES_CFG_MAX_TRACKED,
		  kh_keyword(kh_config_keys, "max-tracked")->id);
	EXPECT_EQ(KHOLMES_CFG_MAX_THREADS,
		  kh_keyword(kh_config_keys, "max-threads")->id);
	EXPECT_EQ(KHOLMES_CFG_MAX_CAPTURES,
		  kh_keyword(kh_config_keys, "max-captures")->id);
	EXPECT_EQ(KHOLMES_CFG_MAX_QUEUE_KB,
		  kh_keyword(kh_config_keys, "max-queue-kb")->id);
	EXPECT_EQ(KHOLMES_CFG_USER_STACK_KB,
		  kh_keyword(kh_config_keys, "user-stack-kb")->id);
	EXPECT_EQ(KHOLMES_CFG_CAPTURE_RATE,
		  kh_keyword(kh_config_keys, "capture-rate")->id);
	EXPECT_EQ(NULL, kh_keyword(kh_config_keys, "interval"));
	EXPECT_EQ(NULL, kh_keyword(kh_config_keys, "min"));

	EXPECT_EQ(KHOLMES_RULE_MIN, kh_keyword(kh_rule_keys, "min")->id);
	EXPECT_EQ(KHOLMES_RULE_DIFF, kh_keyword(kh_rule_keys, "diff")->id);
	EXPECT_EQ(KHOLMES_RULE_ABS, kh_keyword(kh_rule_keys, "abs")->id);
	EXPECT_EQ(KHOLMES_RULE_COOLDOWN,
		  kh_keyword(kh_rule_keys, "cooldown")->id);
	EXPECT_EQ(NULL, kh_keyword(kh_rule_keys, "window"));

	EXPECT_EQ(KHOLMES_WATCH_PID, kh_keyword(kh_watch_keys, "pid")->id);
	EXPECT_EQ(KHOLMES_WATCH_COMM, kh_keyword(kh_watch_keys, "comm")->id);
	EXPECT_EQ(KHOLMES_WATCH_CGROUP,
		  kh_keyword(kh_watch_keys, "cgroup")->id);
	EXPECT_EQ(NULL, kh_keyword(kh_watch_keys, "tid"));
}

#define ARGV(...)	((char *[]){ __VA_ARGS__ })
#define ARGC(...)	((int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(fn, out, pe, ...)	fn(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), out, pe)

TEST(config_set)
{
	struct kh_config_set cs;
	struct kh_parse_err pe;

	ASSERT_EQ(0, PARSE(kh_parse_config_set, &cs, &pe, "enabled", "off",
			   "interval-ms", "100", "window", "64",
			   "max-tracked", "1048576"));
	EXPECT_EQ(BIT(KHOLMES_CFG_ENABLED) | BIT(KHOLMES_CFG_INTERVAL_MS) |
		  BIT(KHOLMES_CFG_WINDOW) | BIT(KHOLMES_CFG_MAX_TRACKED), cs.mask);
	EXPECT_EQ((uint32_t)0, cs.val[KHOLMES_CFG_ENABLED]);
	EXPECT_EQ((uint32_t)100, cs.val[KHOLMES_CFG_INTERVAL_MS]);
	EXPECT_EQ((uint32_t)64, cs.val[KHOLMES_CFG_WINDOW]);
	EXPECT_EQ((uint32_t)1048576, cs.val[KHOLMES_CFG_MAX_TRACKED]);
	EXPECT_FALSE(cs.json);

	/* ranges are the kernel's to refuse, with its own message */
	ASSERT_EQ(0, PARSE(kh_parse_config_set, &cs, &pe, "-j",
			   "interval-ms", "0"));
	EXPECT_EQ(BIT(KHOLMES_CFG_INTERVAL_MS), cs.mask);
	EXPECT_TRUE(cs.json);

	ASSERT_EQ(-1, PARSE(kh_parse_config_set, &cs, &pe, "interval-ms", "abc"));
	EXPECT_EQ(KH_PE_NUMBER, pe.kind);
	EXPECT_STREQ("abc", pe.word);
	EXPECT_STREQ("interval-ms", pe.key);
	EXPECT_EQ(-EINVAL, pe.err);

	ASSERT_EQ(-1, PARSE(kh_parse_config_set, &cs, &pe, "window", "-1"));
	EXPECT_EQ(KH_PE_NUMBER, pe.kind);
	EXPECT_EQ(-EDOM, pe.err);

	ASSERT_EQ(-1, PARSE(kh_parse_config_set, &cs, &pe, "window",
			    "4294967296"));
	EXPECT_EQ(-ERANGE, pe.err);

	ASSERT_EQ(-1, PARSE(kh_parse_config_set, &cs, &pe, "enabled", "yes"));
	EXPECT_EQ(KH_PE_ONOFF, pe.kind);
	EXPECT_STREQ("yes", pe.word);

	ASSERT_EQ(-1, PARSE(kh_parse_config_set, &cs, &pe, "foo", "1"));
	EXPECT_EQ(KH_PE_KEYWORD, pe.kind);
	EXPECT_STREQ("foo", pe.word);

	ASSERT_EQ(-1, PARSE(kh_parse_config_set, &cs, &pe, "window", "3",
			    "window", "4"));
	EXPECT_EQ(KH_PE_TWICE, pe.kind);
	EXPECT_STREQ("window", pe.word);

	ASSERT_EQ(-1, PARSE(kh_parse_config_set, &cs, &pe, "window"));
	EXPECT_EQ(KH_PE_MISSING, pe.kind);
	EXPECT_STREQ("window", pe.word);

	ASSERT_EQ(-1, kh_parse_config_set(0, NULL, &cs, &pe));
	EXPECT_EQ(KH_PE_EMPTY, pe.kind);
}

TEST(rule_set)
{
	struct kh_rule_set rs;
	struct kh_parse_err pe;

	ASSERT_EQ(0, PARSE(kh_parse_rule_set, &rs, &pe, "rss-pct", "min", "50",
			   "diff", "100%", "abs", "0", "cooldown", "60s",
			   "off"));
	EXPECT_EQ((uint32_t)KHOLMES_METRIC_RSS_PCT, rs.metric);
	EXPECT_EQ(BIT(KHOLMES_RULE_MIN) | BIT(KHOLMES_RULE_DIFF) |
		  BIT(KHOLMES_RULE_ABS) | BIT(KHOLMES_RULE_COOLDOWN) |
		  BIT(KHOLMES_RULE_ENABLED), rs.mask);
	EXPECT_EQ((uint32_t)50, rs.val[KHOLMES_RULE_MIN]);
	EXPECT_EQ((uint32_t)100, rs.val[KHOLMES_RULE_DIFF]);
	EXPECT_EQ((uint32_t)0, rs.val[KHOLMES_RULE_ABS]);
	EXPECT_EQ((uint32_t)60, rs.val[KHOLMES_RULE_COOLDOWN]);
	EXPECT_EQ((uint32_t)0, rs.val[KHOLMES_RULE_ENABLED]);

	ASSERT_EQ(0, PARSE(kh_parse_rule_set, &rs, &pe, "dstate", "on"));
	EXPECT_EQ(BIT(KHOLMES_RULE_ENABLED), rs.mask);
	EXPECT_EQ((uint32_t)1, rs.val[KHOLMES_RULE_ENABLED]);

	ASSERT_EQ(-1, PARSE(kh_parse_rule_set, &rs, &pe, "memory", "min", "1"));
	EXPECT_EQ(KH_PE_METRIC, pe.kind);
	EXPECT_STREQ("memory", pe.word);

	ASSERT_EQ(-1, PARSE(kh_parse_rule_set, &rs, &pe, "cpu"));
	EXPECT_EQ(KH_PE_EMPTY, pe.kind);

	ASSERT_EQ(-1, kh_parse_rule_set(0, NULL, &rs, &pe));
	EXPECT_EQ(KH_PE_EMPTY, pe.kind);
	EXPECT_STREQ("METRIC", pe.key);

	ASSERT_EQ(-1, PARSE(kh_parse_rule_set, &rs, &pe, "cpu", "on", "off"));
	EXPECT_EQ(KH_PE_TWICE, pe.kind);

	ASSERT_EQ(-1, PARSE(kh_parse_rule_set, &rs, &pe, "cpu", "max", "3"));
	EXPECT_EQ(KH_PE_KEYWORD, pe.kind);
	EXPECT_STREQ("max", pe.word);

	ASSERT_EQ(-1, PARSE(kh_parse_rule_set, &rs, &pe, "cpu", "diff", "1.5"));
	EXPECT_EQ(KH_PE_NUMBER, pe.kind);
	EXPECT_STREQ("diff", pe.key);

	ASSERT_EQ(-1, PARSE(kh_parse_rule_set, &rs, &pe, "cpu", "cooldown"));
	EXPECT_EQ(KH_PE_MISSING, pe.kind);
}

TEST(watch)
{
	struct kh_watch_arg wa;
	struct kh_parse_err pe;

	ASSERT_EQ(0, PARSE(kh_parse_watch, &wa, &pe, "pid", "4194304"));
	EXPECT_EQ(KHOLMES_WATCH_PID, wa.type);
	EXPECT_EQ((uint32_t)4194304, wa.pid);

	ASSERT_EQ(0, PARSE(kh_parse_watch, &wa, &pe, "comm", "fifteen-bytes!!"));
	EXPECT_EQ(KHOLMES_WATCH_COMM, wa.type);
	EXPECT_STREQ("fifteen-bytes!!", wa.name);

	ASSERT_EQ(-1, PARSE(kh_parse_watch, &wa, &pe, "comm",
			    "sixteen-bytes!!!"));
	EXPECT_EQ(KH_PE_TOOLONG, pe.kind);

	ASSERT_EQ(0, PARSE(kh_parse_watch, &wa, &pe, "cgroup", "/system.slice"));
	EXPECT_EQ(KHOLMES_WATCH_CGROUP, wa.type);
	EXPECT_STREQ("/system.slice", wa.name);

	ASSERT_EQ(-1, PARSE(kh_parse_watch, &wa, &pe, "pid", "1", "pid", "2"));
	EXPECT_EQ(KH_PE_KEYWORD, pe.kind);
	EXPECT_STREQ("pid", pe.word);

	ASSERT_EQ(-1, PARSE(kh_parse_watch, &wa, &pe, "pid", "x"));
	EXPECT_EQ(KH_PE_NUMBER, pe.kind);

	ASSERT_EQ(-1, PARSE(kh_parse_watch, &wa, &pe, "pid"));
	EXPECT_EQ(KH_PE_MISSING, pe.kind);

	ASSERT_EQ(-1, PARSE(kh_parse_watch, &wa, &pe, "tid", "1"));
	EXPECT_EQ(KH_PE_KEYWORD, pe.kind);
	EXPECT_STREQ("tid", pe.word);

	ASSERT_EQ(-1, kh_parse_watch(0, NULL, &wa, &pe));
	EXPECT_EQ(KH_PE_EMPTY, pe.kind);
}

TEST(ps)
{
	struct kh_ps_opts po;
	struct kh_parse_err pe;

	ASSERT_EQ(0, kh_parse_ps(0, NULL, &po, &pe));
	EXPECT_EQ((unsigned int)KHOLMES_METRIC_CPU, po.sort);
	EXPECT_EQ((uint32_t)0, po.top);
	EXPECT_FALSE(po.json);

	ASSERT_EQ(0, PARSE(kh_parse_ps, &po, &pe, "--sort", "majflt", "--top",
			   "5", "--json"));
	EXPECT_EQ((unsigned int)KHOLMES_METRIC_MAJFLT, po.sort);
	EXPECT_EQ((uint32_t)5, po.top);
	EXPECT_TRUE(po.json);

	ASSERT_EQ(-1, PARSE(kh_parse_ps, &po, &pe, "--sort", "mem"));
	EXPECT_EQ(KH_PE_METRIC, pe.kind);
	ASSERT_EQ(-1, PARSE(kh_parse_ps, &po, &pe, "--top", "-1"));
	EXPECT_EQ(KH_PE_NUMBER, pe.kind);
	ASSERT_EQ(-1, PARSE(kh_parse_ps, &po, &pe, "--top"));
	EXPECT_EQ(KH_PE_MISSING, pe.kind);
	ASSERT_EQ(-1, PARSE(kh_parse_ps, &po, &pe, "--sort", "cpu", "--sort",
			    "rss"));
	EXPECT_EQ(KH_PE_TWICE, pe.kind);
	ASSERT_EQ(-1, PARSE(kh_parse_ps, &po, &pe, "sort", "cpu"));
	EXPECT_EQ(KH_PE_KEYWORD, pe.kind);
}

TEST(config_set_capture_keys)
{
	struct kh_config_set cs;
	struct kh_parse_err pe;

	ASSERT_EQ(0, PARSE(kh_parse_config_set, &cs, &pe, "max-threads", "4096",
			   "max-captures", "1", "max-queue-kb", "64",
			   "user-stack-kb", "0", "capture-rate", "600"));
	EXPECT_EQ(BIT(KHOLMES_CFG_MAX_THREADS) | BIT(KHOLMES_CFG_MAX_CAPTURES) |
		  BIT(KHOLMES_CFG_MAX_QUEUE_KB) | BIT(KHOLMES_CFG_USER_STACK_KB) |
		  BIT(KHOLMES_CFG_CAPTURE_RATE), cs.mask);
	EXPECT_EQ(4096U, cs.val[KHOLMES_CFG_MAX_THREADS]);
	EXPECT_EQ(1U, cs.val[KHOLMES_CFG_MAX_CAPTURES]);
	EXPECT_EQ(64U, cs.val[KHOLMES_CFG_MAX_QUEUE_KB]);
	EXPECT_EQ(0U, cs.val[KHOLMES_CFG_USER_STACK_KB]);
	EXPECT_EQ(600U, cs.val[KHOLMES_CFG_CAPTURE_RATE]);
}

TEST(config_set_flight_keys)
{
	struct kh_config_set cs;
	struct kh_parse_err pe;

	ASSERT_EQ(0, PARSE(kh_parse_config_set, &cs, &pe, "flight-hz", "0",
			   "flight-s", "60"));
	EXPECT_EQ(BIT(KHOLMES_CFG_FLIGHT_HZ) | BIT(KHOLMES_CFG_FLIGHT_S),
		  cs.mask);
	EXPECT_EQ(0U, cs.val[KHOLMES_CFG_FLIGHT_HZ]);
	EXPECT_EQ(60U, cs.val[KHOLMES_CFG_FLIGHT_S]);
	ASSERT_EQ(0, PARSE(kh_parse_config_set, &cs, &pe, "flight-hz", "19"));
	EXPECT_EQ(BIT(KHOLMES_CFG_FLIGHT_HZ), cs.mask);
	EXPECT_EQ(19U, cs.val[KHOLMES_CFG_FLIGHT_HZ]);
	/* out of range is the kernel's to refuse (fuzz_test sends them) */
	ASSERT_EQ(0, PARSE(kh_parse_config_set, &cs, &pe, "flight-hz", "101"));
	EXPECT_EQ(101U, cs.val[KHOLMES_CFG_FLIGHT_HZ]);
	ASSERT_EQ(-1, PARSE(kh_parse_config_set, &cs, &pe, "flight-hz", "-1"));
	EXPECT_EQ(KH_PE_NUMBER, pe.kind);
	EXPECT_EQ(-EDOM, pe.err);
	EXPECT_STREQ("flight-hz", pe.key);
	ASSERT_EQ(-1, PARSE(kh_parse_config_set, &cs, &pe, "flight-s", "10s"));
	EXPECT_EQ(KH_PE_NUMBER, pe.kind);
	EXPECT_STREQ("flight-s", pe.key);
	ASSERT_EQ(-1, PARSE(kh_parse_config_set, &cs, &pe, "flight-s"));
	EXPECT_EQ(KH_PE_MISSING, pe.kind);
	ASSERT_EQ(-1, PARSE(kh_parse_config_set, &cs, &pe, "flight-hz", "1",
			    "flight-hz", "2"));
	EXPECT_EQ(KH_PE_TWICE, pe.kind);
	ASSERT_EQ(-1, PARSE(kh_parse_config_set, &cs, &pe, "flight", "1"));
	EXPECT_EQ(KH_PE_KEYWORD, pe.kind);
}

TEST(capture_pid)
{
	struct kh_capture_arg ca;
	struct kh_parse_err pe;

	ASSERT_EQ(0, PARSE(kh_parse_capture, &ca, &pe, "pid", "1234"));
	EXPECT_EQ(1234U, ca.pid);
	EXPECT_FALSE(ca.json);
	ASSERT_EQ(0, PARSE(kh_parse_capture, &ca, &pe, "pid", "1", "--json"));
	EXPECT_TRUE(ca.json);
	EXPECT_EQ(-1, kh_parse_capture(0, NULL, &ca, &pe));
	EXPECT_EQ(KH_PE_EMPTY, pe.kind);
	ASSERT_EQ(-1, PARSE(kh_parse_capture, &ca, &pe, "pid"));
	EXPECT_EQ(KH_PE_MISSING, pe.kind);
	ASSERT_EQ(-1, PARSE(kh_parse_capture, &ca, &pe, "pid", "-3"));
	EXPECT_EQ(KH_PE_NUMBER, pe.kind);
	EXPECT_EQ(-EDOM, pe.err);
	ASSERT_EQ(-1, PARSE(kh_parse_capture, &ca, &pe, "pid", "1", "pid", "2"));
	EXPECT_EQ(KH_PE_TWICE, pe.kind);
	ASSERT_EQ(-1, PARSE(kh_parse_capture, &ca, &pe, "comm", "x"));
	EXPECT_EQ(KH_PE_KEYWORD, pe.kind);
}

TEST(pull_opts)
{
	struct kh_pull_opts po;
	struct kh_parse_err pe;

	ASSERT_EQ(0, kh_parse_pull(ARGC("--dir", "/var/lib/kholmes"),
				   ARGV("--dir", "/var/lib/kholmes"), false,
				   &po, &pe));
	EXPECT_STREQ("/var/lib/kholmes", po.dir);
	EXPECT_EQ(NULL, po.exec);
	/* the daemon's options are the daemon's */
	ASSERT_EQ(-1, kh_parse_pull(ARGC("--dir", "d", "--max-files", "3"),
				    ARGV("--dir", "d", "--max-files", "3"), false,
				    &po, &pe));
	EXPECT_EQ(KH_PE_KEYWORD, pe.kind);
	EXPECT_STREQ("--max-files", pe.word);
	ASSERT_EQ(-1, kh_parse_pull(0, NULL, false, &po, &pe));
	EXPECT_EQ(KH_PE_EMPTY, pe.kind);
	EXPECT_STREQ("--dir DIR", pe.key);
	ASSERT_EQ(-1, kh_parse_pull(ARGC("--dir"), ARGV("--dir"), false, &po,
				    &pe));
	EXPECT_EQ(KH_PE_MISSING, pe.kind);
	ASSERT_EQ(-1, kh_parse_pull(ARGC("--dir", ""), ARGV("--dir", ""), false,
				    &po, &pe));
	EXPECT_EQ(KH_PE_MISSING, pe.kind);
}

/* status [--dir DIR]: the directory whose partial captures it shows */
TEST(status_opts)
{
	struct kh_status_opts so;
	struct kh_parse_err pe;

	ASSERT_EQ(0, kh_parse_status(0, NULL, &so, &pe));
	EXPECT_EQ(NULL, so.dir);
	EXPECT_FALSE(so.json);
	ASSERT_EQ(0, kh_parse_status(ARGC("--dir", "/d", "-j"),
				     ARGV("--dir", "/d", "-j"), &so, &pe));
	EXPECT_STREQ("/d", so.dir);
	EXPECT_TRUE(so.json);
	ASSERT_EQ(0, kh_parse_status(ARGC("--dir=/e"), ARGV("--dir=/e"), &so,
				     &pe));
	EXPECT_STREQ("/e", so.dir);
	ASSERT_EQ(-1, kh_parse_status(ARGC("--dir"), ARGV("--dir"), &so, &pe));
	EXPECT_EQ(KH_PE_MISSING, pe.kind);
	ASSERT_EQ(-1, kh_parse_status(ARGC("--dir="), ARGV("--dir="), &so, &pe));
	EXPECT_EQ(KH_PE_MISSING, pe.kind);
	ASSERT_EQ(-1, kh_parse_status(ARGC("--dir", "a", "--dir", "b"),
				      ARGV("--dir", "a", "--dir", "b"), &so, &pe));
	EXPECT_EQ(KH_PE_TWICE, pe.kind);
	ASSERT_EQ(-1, kh_parse_status(ARGC("--directory", "a"),
				      ARGV("--directory", "a"), &so, &pe));
	EXPECT_EQ(KH_PE_KEYWORD, pe.kind);
	EXPECT_STREQ("--directory", pe.word);
	ASSERT_EQ(-1, kh_parse_status(ARGC("show"), ARGV("show"), &so, &pe));
	EXPECT_EQ(KH_PE_KEYWORD, pe.kind);
}

TEST(daemon_opts)
{
	struct kh_pull_opts po;
	struct kh_parse_err pe;

	ASSERT_EQ(0, kh_parse_pull(ARGC("--dir", "d", "--max-files", "100",
					"--max-mb", "512", "--exec", "ticket add",
					"-j"),
				   ARGV("--dir", "d", "--max-files", "100",
					"--max-mb", "512", "--exec", "ticket add",
					"-j"), true, &po, &pe));
	EXPECT_STREQ("d", po.dir);
	EXPECT_EQ(100U, po.max_files);
	EXPECT_EQ(512U, po.max_mb);
	EXPECT_STREQ("ticket add", po.exec);
	EXPECT_TRUE(po.json);
	ASSERT_EQ(-1, kh_parse_pull(ARGC("--dir", "d", "--max-mb", "lots"),
				    ARGV("--dir", "d", "--max-mb", "lots"), true,
				    &po, &pe));
	EXPECT_EQ(KH_PE_NUMBER, pe.kind);
	EXPECT_STREQ("--max-mb", pe.key);
	ASSERT_EQ(-1, kh_parse_pull(ARGC("--dir", "d", "--exec", "a", "--exec",
					 "b"),
				    ARGV("--dir", "d", "--exec", "a", "--exec",
					 "b"), true, &po, &pe));
	EXPECT_EQ(KH_PE_TWICE, pe.kind);
}

/* --config, --prom-file and --post: the daemon's, once each. */
TEST(daemon_outputs)
{
	struct kh_pull_opts po;
	struct kh_parse_err pe;

	ASSERT_EQ(0, kh_parse_pull(ARGC("--dir", "d", "--config", "/etc/kholmes.conf",
					"--prom-file", "/x/kholmes.prom",
					"--post", "http://127.0.0.1:8080/up"),
				   ARGV("--dir", "d", "--config", "/etc/kholmes.conf",
					"--prom-file", "/x/kholmes.prom",
					"--post", "http://127.0.0.1:8080/up"),
				   true, &po, &pe));
	EXPECT_STREQ("/etc/kholmes.conf", po.config);
	EXPECT_STREQ("/x/kholmes.prom", po.prom_file);
	EXPECT_STREQ("http://127.0.0.1:8080/up", po.post);
	ASSERT_EQ(0, kh_parse_pull(ARGC("--dir", "d"), ARGV("--dir", "d"), true,
				   &po, &pe));
	EXPECT_EQ(NULL, po.config);
	EXPECT_EQ(NULL, po.prom_file);
	EXPECT_EQ(NULL, po.post);
	/* pull has none of them */
	ASSERT_EQ(-1, kh_parse_pull(ARGC("--dir", "d", "--post", "u"),
				    ARGV("--dir", "d", "--post", "u"), false,
				    &po, &pe));
	EXPECT_EQ(KH_PE_KEYWORD, pe.kind);
	ASSERT_EQ(-1, kh_parse_pull(ARGC("--dir", "d", "--config"),
				    ARGV("--dir", "d", "--config"), true, &po, &pe));
	EXPECT_EQ(KH_PE_MISSING, pe.kind);
	ASSERT_EQ(-1, kh_parse_pull(ARGC("--dir", "d", "--prom-file", "a",
					 "--prom-file", "b"),
				    ARGV("--dir", "d", "--prom-file", "a",
					 "--prom-file", "b"), true, &po, &pe));
	EXPECT_EQ(KH_PE_TWICE, pe.kind);
}

TEST(json_only)
{
	struct kh_parse_err pe;
	bool json = false;

	EXPECT_EQ(0, kh_parse_json_only(0, NULL, &json, &pe));
	EXPECT_FALSE(json);
	EXPECT_EQ(0, kh_parse_json_only(1, ARGV("-j"), &json, &pe));
	EXPECT_TRUE(json);
	EXPECT_EQ(-1, kh_parse_json_only(2, ARGV("-j", "foo"), &json, &pe));
	EXPECT_EQ(KH_PE_KEYWORD, pe.kind);
	EXPECT_STREQ("foo", pe.word);
}

/* Every message names the word the user typed. */
TEST(messages)
{
	struct kh_parse_err pe = { 0 };
	char buf[512];

	pe = (struct kh_parse_err){ KH_PE_KEYWORD, "foo", NULL, 0 };
	kh_parse_err_str(buf, sizeof(buf), &pe);
	EXPECT_STREQ("unknown keyword \"foo\"", buf);

	pe = (struct kh_parse_err){ KH_PE_NUMBER, "abc", "interval-ms", -EINVAL };
	kh_parse_err_str(buf, sizeof(buf), &pe);
	EXPECT_STREQ("invalid number \"abc\" for interval-ms", buf);

	pe = (struct kh_parse_err){ KH_PE_NUMBER, "-5", "min", -EDOM };
	kh_parse_err_str(buf, sizeof(buf), &pe);
	EXPECT_STREQ("invalid number \"-5\" for min: it must not be negative",
		     buf);

	pe = (struct kh_parse_err){ KH_PE_NUMBER, "4294967296", "abs", -ERANGE };
	kh_parse_err_str(buf, sizeof(buf), &pe);
	EXPECT_STREQ("number \"4294967296\" for abs is too large", buf);

	pe = (struct kh_parse_err){ KH_PE_METRIC, "mem", NULL, 0 };
	kh_parse_err_str(buf, sizeof(buf), &pe);
	EXPECT_STREQ("unknown metric \"mem\" (metrics: cpu, rss, rss-pct, threads, ctxsw, rundelay, majflt, dstate)",
		     buf);

	pe = (struct kh_parse_err){ KH_PE_ONOFF, "yes", "enabled", -EINVAL };
	kh_parse_err_str(buf, sizeof(buf), &pe);
	EXPECT_STREQ("invalid value \"yes\" for enabled: expected on or off", buf);

	pe = (struct kh_parse_err){ KH_PE_TOOLONG, "sixteen-bytes!!!", "comm", 0 };
	kh_parse_err_str(buf, sizeof(buf), &pe);
	EXPECT_NE(NULL, strstr(buf, "\"sixteen-bytes!!!\""));
	EXPECT_NE(NULL, strstr(buf, "15 bytes"));

	/* a short buffer truncates, never overflows */
	pe = (struct kh_parse_err){ KH_PE_KEYWORD, "foo", NULL, 0 };
	kh_parse_err_str(buf, 8, &pe);
	EXPECT_STREQ("unknown", buf);
}

TEST_HARNESS_MAIN
