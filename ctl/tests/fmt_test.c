// SPDX-License-Identifier: GPL-2.0
/*
 * Text and JSON renderings, from records built in memory: fixed-point
 * values, the documented JSON shapes (parsed back with json-c), escaping
 * of names a process chose itself, and the column layout of ps.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "metrics.h"
#include "kselftest_harness.h"

#define BIT(n)	(1U << (n))

static const struct {
	uint64_t v;
	unsigned int digits;
	const char *want;
} fixed_cases[] = {
	{ 0,		1, "0" },
	{ 0,		3, "0" },
	{ 1,		3, "0.001" },
	{ 1,		1, "0" },
	{ 49,		1, "0" },
	{ 50,		1, "0.1" },
	{ 99849,	1, "99.8" },
	{ 99850,	1, "99.9" },
	{ 99950,	1, "100" },
	{ 99500,	1, "99.5" },
	{ 1500,		3, "1.5" },
	{ 1050,		3, "1.05" },
	{ 100000,	3, "100" },
	{ 123456,	3, "123.456" },
	{ 123456,	9, "123.456" },		/* no more digits than the scale */
	{ 1499,		0, "1" },
	{ 1500,		0, "2" },
	{ UINT64_MAX,	3, "18446744073709551.615" },
	{ UINT64_MAX,	1, "18446744073709551.6" },
	{ UINT64_MAX,	0, "18446744073709552" },
};

TEST(fixed)
{
	char buf[KH_FIXED_LEN];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fixed_cases); i++) {
		kh_fixed(buf, sizeof(buf), fixed_cases[i].v,
			 fixed_cases[i].digits);
		EXPECT_STREQ(fixed_cases[i].want, buf) {
			TH_LOG("%ju with %u digits",
			       (uintmax_t)fixed_cases[i].v,
			       fixed_cases[i].digits);
		}
	}
	/* a short buffer is cut, not overrun */
	kh_fixed(buf, 4, 123456, 3);
	EXPECT_STREQ("123", buf);
}

static json_object *roundtrip(json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, KH_JSON_FLAGS);
	json_object *back;

	/* one document per line */
	if (strchr(s, '\n'))
		return NULL;
	back = json_tokener_parse(s);
	json_object_put(o);
	return back;
}

static json_object *key(json_object *o, const char *k)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, k, &v);
	return v;
}

TEST(json_fixed)
{
	json_object *o = kh_json_fixed(99500);

	ASSERT_NE(NULL, o);
	EXPECT_STREQ("99.5", json_object_to_json_string_ext(o, KH_JSON_FLAGS));
	json_object_put(o);
	o = kh_json_fixed(100);
	EXPECT_STREQ("0.1", json_object_to_json_string_ext(o, KH_JSON_FLAGS));
	json_object_put(o);
	o = kh_json_fixed(42000);
	EXPECT_STREQ("42", json_object_to_json_string_ext(o, KH_JSON_FLAGS));
	json_object_put(o);
}

static void fill_status(struct kh_status *st)
{
	int i;

	memset(st, 0, sizeof(*st));
	strcpy(st->version, KHOLMES_VERSION);
	strcpy(st->krelease, "6.1.0-56-cloud-amd64");
	st->cfg = (struct kh_config){
		.enabled = true, .interval_ms = 1000, .window = 10,
		.max_tracked = 65536, .max_threads = 64, .max_captures = 32,
		.max_queue_kb = 16384, .user_stack_kb = 8, .capture_rate = 10,
		.has = BIT(KHOLMES_CFG_MAX_THREADS) |
		       BIT(KHOLMES_CFG_MAX_CAPTURES) |
		       BIT(KHOLMES_CFG_MAX_QUEUE_KB) |
		       BIT(KHOLMES_CFG_USER_STACK_KB) |
		       BIT(KHOLMES_CFG_CAPTURE_RATE),
	};
	for (i = KHOLMES_STAT_PASSES; i <= KHOLMES_STAT_MAX; i++)
		st->stat[i] = 100 + i;
	st->stat[KHOLMES_STAT_MEM_BYTES] = (1ULL << 63) + 5;
}

TEST(status_json)
{
	static const struct {
		const char *key;
		int attr;
	} stats[] = {
		{ "tracked", KHOLMES_STAT_TRACKED },
		{ "untracked", KHOLMES_STAT_UNTRACKED },
		{ "passes", KHOLMES_STAT_PASSES },
		{ "detections", KHOLMES_STAT_DETECTIONS },
		{ "suppressed", KHOLMES_STAT_SUPPRESSED },
		{ "tasks-visited", KHOLMES_STAT_TASKS_VISITED },
		{ "procs-visited", KHOLMES_STAT_PROCS_VISITED },
		{ "mem-bytes", KHOLMES_STAT_MEM_BYTES },
		{ "alloc-fails", KHOLMES_STAT_ALLOC_FAILS },
		{ "events-lost", KHOLMES_STAT_EVENTS_LOST },
		{ "captures", KHOLMES_STAT_CAPTURES },
		{ "captures-dropped", KHOLMES_STAT_CAPTURES_DROPPED },
		{ "captures-limited", KHOLMES_STAT_CAPTURES_LIMITED },
		{ "captures-failed", KHOLMES_STAT_CAPTURES_FAILED },
		{ "queue-len", KHOLMES_STAT_QUEUE_LEN },
		{ "queue-bytes", KHOLMES_STAT_QUEUE_BYTES },
		{ "flight-bytes", KHOLMES_STAT_FLIGHT_BYTES },
		{ "flight-cpus", KHOLMES_STAT_FLIGHT_CPUS },
		{ "flight-samples", KHOLMES_STAT_FLIGHT_SAMPLES },
		{ "flight-dropped", KHOLMES_STAT_FLIGHT_DROPPED },
		{ "flight-ns", KHOLMES_STAT_FLIGHT_NS },
	};
	struct kh_status st;
	json_object *o, *pass, *cap;
	size_t i;

	fill_status(&st);
	o = roundtrip(kh_status_json(&st));
	ASSERT_NE(NULL, o);
	ASSERT_TRUE(json_object_is_type(o, json_type_object));
	/*
	 * 4 + 5 config keys, 16 counters, the two nests, version, kernel,
	 * the 6 of profiles (profile_test checks them) and the 5 of the
	 * flight recorder
	 */
	EXPECT_EQ(40, json_object_object_length(o));
	EXPECT_STREQ("0.1.0", json_object_get_string(key(o, "version")));
	EXPECT_STREQ("6.1.0-56-cloud-amd64",
		     json_object_get_string(key(o, "kernel")));
	EXPECT_TRUE(json_object_is_type(key(o, "enabled"), json_type_boolean));
	EXPECT_TRUE(json_object_get_boolean(key(o, "enabled")));
	EXPECT_EQ(1000, json_object_get_int64(key(o, "interval-ms")));
	EXPECT_EQ(10, json_object_get_int64(key(o, "window")));
	EXPECT_EQ(65536, json_object_get_int64(key(o, "max-tracked")));
	EXPECT_EQ(64, json_object_get_int64(key(o, "max-threads")));
	EXPECT_EQ(32, json_object_get_int64(key(o, "max-captures")));
	EXPECT_EQ(16384, json_object_get_int64(key(o, "max-queue-kb")));
	EXPECT_EQ(8, json_object_get_int64(key(o, "user-stack-kb")));
	EXPECT_EQ(10, json_object_get_int64(key(o, "capture-rate")));
	for (i = 0; i < ARRAY_SIZE(stats); i++) {
		ASSERT_NE(NULL, key(o, stats[i].key)) TH_LOG("%s", stats[i].key);
		EXPECT_TRUE(json_object_is_type(key(o, stats[i].key),
						json_type_int));
		EXPECT_EQ(st.stat[stats[i].attr],
			  json_object_get_uint64(key(o, stats[i].key))) {
			TH_LOG("%s", stats[i].key);
		}
	}
	pass = key(o, "pass-ns");
	ASSERT_NE(NULL, pass);
	EXPECT_EQ(3, json_object_object_length(pass));
	EXPECT_EQ(st.stat[KHOLMES_STAT_PASS_LAST_NS],
		  json_object_get_uint64(key(pass, "last")));
	EXPECT_EQ(st.stat[KHOLMES_STAT_PASS_MEAN_NS],
		  json_object_get_uint64(key(pass, "mean")));
	EXPECT_EQ(st.stat[KHOLMES_STAT_PASS_MAX_NS],
		  json_object_get_uint64(key(pass, "max")));
	cap = key(o, "capture-ns");
	ASSERT_NE(NULL, cap);
	EXPECT_EQ(2, json_object_object_length(cap));
	EXPECT_EQ(st.stat[KHOLMES_STAT_CAPTURE_LAST_NS],
		  json_object_get_uint64(key(cap, "last")));
	EXPECT_EQ(st.stat[KHOLMES_STAT_CAPTURE_MAX_NS],
		  json_object_get_uint64(key(cap, "max")));
	json_object_put(o);
}

TEST(status_text)
{
	struct kh_status st;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	fill_status(&st);
	st.cfg.enabled = false;
	f = open_memstream(&buf, &len);
	ASSERT_NE(NULL, f);
	kh_status_text(f, &st);
	fclose(f);
	EXPECT_NE(NULL, strstr(buf, "version          0.1.0\n"));
	EXPECT_NE(NULL, strstr(buf, "kernel           6.1.0-56-cloud-amd64\n"));
	EXPECT_NE(NULL, strstr(buf, "enabled          off\n"));
	EXPECT_NE(NULL, strstr(buf, "interval-ms      1000\n"));
	EXPECT_NE(NULL, strstr(buf, "max-threads      64\n"));
	EXPECT_NE(NULL, strstr(buf, "user-stack-kb    8\n"));
	EXPECT_NE(NULL, strstr(buf, "capture-rate     10\n"));
	EXPECT_NE(NULL, strstr(buf, "tracked          103\n"));
	EXPECT_NE(NULL, strstr(buf, "pass-ns          last 107 mean 108 max 109\n"));
	EXPECT_NE(NULL, strstr(buf, "mem-bytes        9223372036854775813\n"));
	EXPECT_NE(NULL, strstr(buf, "events-lost      114\n"));
	EXPECT_NE(NULL, strstr(buf, "captures         115\n"));
	EXPECT_NE(NULL, strstr(buf, "captures-dropped 116\n"));
	EXPECT_NE(NULL, strstr(buf, "queue-bytes      120\n"));
	EXPECT_NE(NULL, strstr(buf, "capture-ns       last 121 max 122\n"));
	free(buf);
}

/* status's lines of a capture directory, text and JSON */
TEST(dir_status)
{
	json_object *o = json_object_new_object();
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	ASSERT_NE(NULL, f);
	kh_dir_status_text(f, "/var/lib/kholmes/captures", 18446744073709551615ULL);
	fclose(f);
	EXPECT_STREQ("capture-dir      /var/lib/kholmes/captures\n"
		     "captures-partial 18446744073709551615\n", buf);
	free(buf);
	ASSERT_NE(NULL, o);
	kh_dir_status_json(o, "/d", 3);
	EXPECT_STREQ("{\"capture-dir\":\"/d\",\"captures-partial\":3}",
		     json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

TEST(config_json)
{
	struct kh_config cfg = { .interval_ms = 10, .window = 64,
				 .max_tracked = 1 };
	json_object *o = roundtrip(kh_config_json(&cfg));

	/* a module without captures: their keys are left out, not zero */
	ASSERT_NE(NULL, o);
	EXPECT_EQ(4, json_object_object_length(o));
	EXPECT_FALSE(json_object_get_boolean(key(o, "enabled")));
	EXPECT_TRUE(json_object_is_type(key(o, "enabled"), json_type_boolean));
	EXPECT_EQ(10, json_object_get_int64(key(o, "interval-ms")));
	EXPECT_EQ(64, json_object_get_int64(key(o, "window")));
	EXPECT_EQ(1, json_object_get_int64(key(o, "max-tracked")));
	json_object_put(o);
}

TEST(rules)
{
	struct kh_rule r[KHOLMES_NR_METRICS];
	json_object *a, *e;
	char *buf = NULL;
	size_t len = 0;
	unsigned int m;
	FILE *f;

	for (m = 0; m < KHOLMES_NR_METRICS; m++)
		r[m] = (struct kh_rule){ m, { 50 + m, 100, m == 1 ? 80 : 0,
					      60, m != 2 } };
	a = roundtrip(kh_rules_json(r, KHOLMES_NR_METRICS));
	ASSERT_NE(NULL, a);
	ASSERT_EQ(KHOLMES_NR_METRICS, json_object_array_length(a));
	for (m = 0; m < KHOLMES_NR_METRICS; m++) {
		e = json_object_array_get_idx(a, m);
		EXPECT_EQ(7, json_object_object_length(e));
		EXPECT_STREQ(kh_metrics[m].name,
			     json_object_get_string(key(e, "metric")));
		EXPECT_STREQ(kh_metrics[m].unit,
			     json_object_get_string(key(e, "unit")));
		EXPECT_EQ(m != 2, json_object_get_boolean(key(e, "enabled")));
		EXPECT_EQ(50 + m, json_object_get_int64(key(e, "min")));
		EXPECT_EQ(100, json_object_get_int64(key(e, "diff")));
		EXPECT_EQ(m == 1 ? 80 : 0, json_object_get_int64(key(e, "abs")));
		EXPECT_EQ(60, json_object_get_int64(key(e, "cooldown")));
	}
	json_object_put(a);

	f = open_memstream(&buf, &len);
	ASSERT_NE(NULL, f);
	kh_rules_text(f, r, KHOLMES_NR_METRICS);
	fclose(f);
	EXPECT_EQ(0, strncmp(buf, "METRIC    UNIT   STATE  MIN  DIFF  ABS  COOLDOWN\n",
			     strlen("METRIC    UNIT   STATE  MIN  DIFF  ABS  COOLDOWN\n")))
		TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "\ncpu       %      on      50  100%    0       60s\n"))
		TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "\nrss-pct   %      off     52  100%    0       60s\n"))
		TH_LOG("%s", buf);
	free(buf);
}

TEST(watch)
{
	struct kh_watch_entry e[4] = {
		{ .type = KHOLMES_WATCH_PID, .pid = 42 },
		{ .type = KHOLMES_WATCH_COMM, .name = "nginx" },
		{ .type = KHOLMES_WATCH_CGROUP, .name = "/system.slice" },
		{ .type = KHOLMES_WATCH_PID, .pid = 7 },
	};
	struct kh_watch w = { 0, e };
	json_object *o;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	o = roundtrip(kh_watch_json(&w));
	ASSERT_NE(NULL, o);
	EXPECT_TRUE(json_object_get_boolean(key(o, "all")));
	EXPECT_EQ(0, json_object_array_length(key(o, "pids")));
	EXPECT_EQ(0, json_object_array_length(key(o, "comms")));
	EXPECT_EQ(0, json_object_array_length(key(o, "cgroups")));
	json_object_put(o);

	w.n = 4;
	/* no "\/" in paths: NOSLASHESCAPE */
	o = kh_watch_json(&w);
	EXPECT_NE(NULL, strstr(json_object_to_json_string_ext(o, KH_JSON_FLAGS),
			       "\"/system.slice\""));
	o = roundtrip(o);
	ASSERT_NE(NULL, o);
	EXPECT_FALSE(json_object_get_boolean(key(o, "all")));
	ASSERT_EQ(2, json_object_array_length(key(o, "pids")));
	EXPECT_EQ(42, json_object_get_int(json_object_array_get_idx(key(o, "pids"), 0)));
	EXPECT_EQ(7, json_object_get_int(json_object_array_get_idx(key(o, "pids"), 1)));
	EXPECT_STREQ("nginx", json_object_get_string(
		json_object_array_get_idx(key(o, "comms"), 0)));
	EXPECT_STREQ("/system.slice", json_object_get_string(
		json_object_array_get_idx(key(o, "cgroups"), 0)));
	json_object_put(o);

	f = open_memstream(&buf, &len);
	kh_watch_text(f, &w);
	fclose(f);
	EXPECT_STREQ("pid 42\ncomm nginx\ncgroup /system.slice\npid 7\n", buf);
	free(buf);
	w.n = 0;
	f = open_memstream(&buf, &len);
	kh_watch_text(f, &w);
	fclose(f);
	EXPECT_STREQ("all processes\n", buf);
	free(buf);
}

/* A process can name itself anything up to 15 bytes. */
static const char nasty[] = "a\"b\\c\n\t\x1b[2J";

TEST(escaping)
{
	char buf[64];
	json_object *o;
	const char *s;

	o = kh_json_string(nasty);
	s = json_object_to_json_string_ext(o, KH_JSON_FLAGS);
	EXPECT_EQ(NULL, strchr(s, '\n'));
	EXPECT_EQ(NULL, strchr(s, '\x1b'));
	EXPECT_NE(NULL, strstr(s, "\\\"b\\\\c\\n\\t\\u001b"));
	json_object_put(o);

	kh_text_clean(buf, sizeof(buf), nasty);
	EXPECT_STREQ("a\"b\\c???[2J", buf);

	/* UTF-8 passes; broken UTF-8, C1 controls and DEL do not */
	kh_text_clean(buf, sizeof(buf), "h\xc3\xa9llo");
	EXPECT_STREQ("h\xc3\xa9llo", buf);
	kh_text_clean(buf, sizeof(buf), "x\xff\xc3");
	EXPECT_STREQ("x??", buf);
	kh_text_clean(buf, sizeof(buf), "\xc2\x9b" "1\x7f");
	EXPECT_STREQ("?1?", buf);
	kh_text_clean(buf, sizeof(buf), "\xc0\xaf");	/* overlong '/' */
	EXPECT_STREQ("??", buf);
	kh_text_clean(buf, sizeof(buf), "\xed\xa0\x80");	/* surrogate */
	EXPECT_STREQ("???", buf);
	/* never a partial character at the end of a short buffer */
	kh_text_clean(buf, 3, "a\xc3\xa9");
	EXPECT_STREQ("a", buf);

	/* the kernel cuts comm inside a character: JSON stays UTF-8 */
	o = roundtrip(kh_json_string("caf\xc3"));
	ASSERT_NE(NULL, o);
	EXPECT_STREQ("caf\xef\xbf\xbd", json_object_get_string(o));
	json_object_put(o);
}

static void fill_procs(struct kh_proc *p)
{
	memset(p, 0, 4 * sizeof(*p));
	p[0] = (struct kh_proc){ .pid = 1, .comm = "init", .start_ns = 5,
		.samples = 10 };
	p[0].value[KHOLMES_METRIC_CPU] = 1500;
	p[0].value[KHOLMES_METRIC_RSS] = 3200;
	p[0].avg[KHOLMES_METRIC_CPU] = 1000;
	p[0].has_value = BIT(KHOLMES_METRIC_CPU) | BIT(KHOLMES_METRIC_RSS);
	p[0].has_avg = BIT(KHOLMES_METRIC_CPU);

	p[1] = (struct kh_proc){ .pid = 300, .samples = 3 };
	memcpy(p[1].comm, nasty, sizeof(nasty));
	p[1].value[KHOLMES_METRIC_CPU] = 399876;
	p[1].avg[KHOLMES_METRIC_CPU] = 2000;
	p[1].has_value = BIT(KHOLMES_METRIC_CPU);
	p[1].has_avg = BIT(KHOLMES_METRIC_CPU);

	/* a kthread: no rss */
	p[2] = (struct kh_proc){ .pid = 2, .comm = "kthreadd", .kthread = true };
	p[2].value[KHOLMES_METRIC_CPU] = 1500;
	p[2].has_value = BIT(KHOLMES_METRIC_CPU);

	/* no cpu at all: last when sorting by cpu */
	p[3] = (struct kh_proc){ .pid = 3, .comm = "new" };
}

TEST(procs_sort)
{
	struct kh_proc p[4];

	fill_procs(p);
	kh_procs_sort(p, 4, KHOLMES_METRIC_CPU);
	EXPECT_EQ(300U, p[0].pid);
	EXPECT_EQ(1U, p[1].pid);	/* ties: lower pid first */
	EXPECT_EQ(2U, p[2].pid);
	EXPECT_EQ(3U, p[3].pid);
	kh_procs_sort(p, 4, KHOLMES_METRIC_RSS);
	EXPECT_EQ(1U, p[0].pid);
	EXPECT_EQ(2U, p[1].pid);
	EXPECT_EQ(3U, p[2].pid);
	EXPECT_EQ(300U, p[3].pid);
	kh_procs_sort(p, 0, KHOLMES_METRIC_RSS);
}

TEST(procs_json)
{
	struct kh_proc p[4];
	json_object *a, *e, *v;

	fill_procs(p);
	a = roundtrip(kh_procs_json(p, 4));
	ASSERT_NE(NULL, a);
	ASSERT_EQ(4, json_object_array_length(a));

	e = json_object_array_get_idx(a, 0);
	EXPECT_EQ(7, json_object_object_length(e));
	EXPECT_EQ(1, json_object_get_int(key(e, "pid")));
	EXPECT_STREQ("init", json_object_get_string(key(e, "comm")));
	EXPECT_EQ(5, json_object_get_int64(key(e, "start-ns")));
	EXPECT_FALSE(json_object_get_boolean(key(e, "kthread")));
	EXPECT_EQ(10, json_object_get_int(key(e, "samples")));
	v = key(e, "values");
	ASSERT_NE(NULL, v);
	EXPECT_EQ(2, json_object_object_length(v));
	EXPECT_TRUE(json_object_is_type(key(v, "cpu"), json_type_double));
	EXPECT_EQ(1.5, json_object_get_double(key(v, "cpu")));
	EXPECT_EQ(3.2, json_object_get_double(key(v, "rss")));
	v = key(e, "avg");
	EXPECT_EQ(1, json_object_object_length(v));
	EXPECT_EQ(1.0, json_object_get_double(key(v, "cpu")));

	e = json_object_array_get_idx(a, 1);
	EXPECT_STREQ(nasty, json_object_get_string(key(e, "comm")));
	EXPECT_EQ(399.876, json_object_get_double(key(key(e, "values"), "cpu")));

	e = json_object_array_get_idx(a, 2);
	EXPECT_TRUE(json_object_get_boolean(key(e, "kthread")));
	EXPECT_EQ(NULL, key(key(e, "values"), "rss"));

	e = json_object_array_get_idx(a, 3);
	EXPECT_EQ(0, json_object_object_length(key(e, "values")));
	EXPECT_EQ(0, json_object_object_length(key(e, "avg")));
	json_object_put(a);
}

TEST(procs_text)
{
	struct kh_proc p[4];
	char *buf = NULL, *line, *save;
	size_t len = 0, width = 0;
	int n = 0;
	FILE *f;

	fill_procs(p);
	kh_procs_sort(p, 4, KHOLMES_METRIC_CPU);
	f = open_memstream(&buf, &len);
	ASSERT_NE(NULL, f);
	kh_procs_text(f, p, 4, KHOLMES_METRIC_CPU);
	fclose(f);
	EXPECT_STREQ("PID  COMM          CPU%  AVG  RSS(MiB)  RSS%  THREADS  CTXSW/s  RUNDELAY(ms/s)  MAJFLT/s  DSTATE(ms)\n"
		     "300  a\"b\\c???[2J  399.9    2         -     -        -        -               -         -           -\n"
		     "  1  init           1.5    1       3.2     -        -        -               -         -           -\n"
		     "  2  [kthreadd]     1.5    -         -     -        -        -               -         -           -\n"
		     "  3  new              -    -         -     -        -        -               -         -           -\n",
		     buf);
	/* right-aligned last column: every line is as wide as the header */
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), n++) {
		if (!width)
			width = strlen(line);
		EXPECT_EQ(width, strlen(line)) TH_LOG("%s", line);
	}
	EXPECT_EQ(5, n);
	free(buf);

	/* the average follows the sort key */
	f = open_memstream(&buf, &len);
	kh_procs_text(f, p, 0, KHOLMES_METRIC_DSTATE);
	fclose(f);
	EXPECT_NE(NULL, strstr(buf, "DSTATE(ms)  AVG\n"));
	free(buf);
}

static const struct kh_event ev = {
	.pid = 123, .comm = "spin", .start_ns = 11, .time_ns = 22,
	.metric = KHOLMES_METRIC_CPU, .value = 99800, .avg = 200,
	.rule = { .min = 50, .diff = 100, .abs = 0, .cooldown_s = 60,
		  .enabled = true },
};

TEST(event)
{
	json_object *o, *r;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	ASSERT_NE(NULL, f);
	kh_event_text(f, &ev);
	fclose(f);
	EXPECT_STREQ("detection pid 123 comm spin metric cpu value 99.8 avg 0.2 (min 50 diff 100% abs 0 cooldown 60s)\n",
		     buf);
	free(buf);

	o = roundtrip(kh_event_json(&ev));
	ASSERT_NE(NULL, o);
	EXPECT_EQ(9, json_object_object_length(o));
	EXPECT_STREQ("detection", json_object_get_string(key(o, "event")));
	EXPECT_EQ(123, json_object_get_int(key(o, "pid")));
	EXPECT_STREQ("spin", json_object_get_string(key(o, "comm")));
	EXPECT_EQ(11, json_object_get_int64(key(o, "start-ns")));
	EXPECT_EQ(22, json_object_get_int64(key(o, "time-ns")));
	EXPECT_STREQ("cpu", json_object_get_string(key(o, "metric")));
	EXPECT_EQ(99.8, json_object_get_double(key(o, "value")));
	EXPECT_EQ(0.2, json_object_get_double(key(o, "avg")));
	r = key(o, "rule");
	ASSERT_NE(NULL, r);
	EXPECT_EQ(5, json_object_object_length(r));
	EXPECT_EQ(50, json_object_get_int(key(r, "min")));
	EXPECT_EQ(100, json_object_get_int(key(r, "diff")));
	EXPECT_EQ(0, json_object_get_int(key(r, "abs")));
	EXPECT_EQ(60, json_object_get_int(key(r, "cooldown")));
	EXPECT_TRUE(json_object_get_boolean(key(r, "enabled")));
	json_object_put(o);
}

static const struct kh_capture_sum sums[] = {
	{ .id = 9, .time_ns = 1795662960123000000ULL, .pid = 1234,
	  .comm = "spin", .has_metric = true, .metric = KHOLMES_METRIC_CPU,
	  .threads = 4, .nr_threads = 4, .bytes = 18637 },
	{ .id = 10, .time_ns = 1795662961000000000ULL, .pid = 77,
	  .comm = "many\tthreads", .flags = KHOLMES_CAPTURE_F_MANUAL |
	  KHOLMES_CAPTURE_F_THREADS_TRUNC | 0x80000000,
	  .threads = 64, .nr_threads = 200, .bytes = 3 << 20 },
};

TEST(captures_json)
{
	json_object *a, *o, *fl;

	a = roundtrip(kh_captures_json(sums, 2));
	ASSERT_NE(NULL, a);
	ASSERT_EQ(2U, json_object_array_length(a));
	o = json_object_array_get_idx(a, 0);
	/* 10, and profile-kind and profile-of (profile_test checks them) */
	EXPECT_EQ(12, json_object_object_length(o));
	EXPECT_EQ(9, json_object_get_int64(key(o, "id")));
	EXPECT_STREQ("2026-11-26T03:16:00.123Z",
		     json_object_get_string(key(o, "time")));
	EXPECT_EQ(1795662960123000000LL, json_object_get_int64(key(o, "time-ns")));
	EXPECT_EQ(1234, json_object_get_int64(key(o, "pid")));
	EXPECT_STREQ("spin", json_object_get_string(key(o, "comm")));
	EXPECT_STREQ("cpu", json_object_get_string(key(o, "trigger")));
	EXPECT_EQ(4, json_object_get_int64(key(o, "threads")));
	EXPECT_EQ(4, json_object_get_int64(key(o, "nr-threads")));
	EXPECT_EQ(18637, json_object_get_int64(key(o, "bytes")));
	EXPECT_EQ(0U, json_object_array_length(key(o, "flags")));
	o = json_object_array_get_idx(a, 1);
	EXPECT_STREQ("manual", json_object_get_string(key(o, "trigger")));
	fl = key(o, "flags");
	ASSERT_EQ(3U, json_object_array_length(fl));
	EXPECT_STREQ("manual", json_object_get_string(
		json_object_array_get_idx(fl, 0)));
	EXPECT_STREQ("threads-truncated", json_object_get_string(
		json_object_array_get_idx(fl, 1)));
	EXPECT_STREQ("0x80000000", json_object_get_string(
		json_object_array_get_idx(fl, 2)));
	json_object_put(a);
}

TEST(captures_text)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	ASSERT_NE(NULL, f);
	kh_captures_text(f, sums, 2);
	fclose(f);
	EXPECT_STREQ("ID  TIME                       PID  COMM          TRIGGER  THREADS     SIZE\n"
		     " 9  2026-11-26T03:16:00.123Z  1234  spin          cpu            4  18.2KiB\n"
		     "10  2026-11-26T03:16:01.000Z    77  many?threads  manual    64/200   3.0MiB\n",
		     buf);
	free(buf);
}

TEST_HARNESS_MAIN
