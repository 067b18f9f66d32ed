// SPDX-License-Identifier: GPL-2.0
/*
 * The flight recorder's part of a capture, without a kernel: a rundelay
 * capture's record stream as the module sends it (the capture, its
 * mappings, a thread, then a KHOLMES_PROFILE_BEFORE record with one stack
 * per sample and its time, then a KHOLMES_PROFILE_HOST record with the
 * host's stacks), decoded; the "before the trigger" section of its .txt
 * (seconds covered, the timeline oldest first, top functions, the host's
 * stacks); its JSON; the .before.pb.gz's time labels; and what pull
 * writes: <base>.before.folded and <base>.before.pb.gz beside the rest.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netlink/genl/genl.h>

#include "fmt.h"
#include "pprof.h"
#include "profile.pb-c.h"
#include "report.h"
#include "stream.h"
#include "unwind.h"
#include "kselftest_harness.h"

#define FAMILY		0x42
#define CAP_ID		21
#define PID		305
#define TID		306
#define EXE		"/selftests/fl_phases"
#define NS		1000000000ULL

static void put_profile(struct nl_msg *msg, uint32_t kind, uint64_t covered,
			uint64_t samples, uint64_t lost, uint32_t stacks)
{
	struct nlattr *n = nla_nest_start(msg, KHOLMES_A_PROFILE);

	nla_put_u32(msg, KHOLMES_PROFILE_KIND, kind);
	nla_put_u32(msg, KHOLMES_PROFILE_HZ, 19);
	nla_put_u64(msg, KHOLMES_PROFILE_PERIOD, NS / 19);
	nla_put_u32(msg, KHOLMES_PROFILE_SECONDS, 10);
	nla_put_u64(msg, KHOLMES_PROFILE_DURATION_NS, covered);
	nla_put_u64(msg, KHOLMES_PROFILE_SAMPLES, samples);
	nla_put_u64(msg, KHOLMES_PROFILE_LOST, lost);
	nla_put_u32(msg, KHOLMES_PROFILE_STACKS, stacks);
	nla_nest_end(msg, n);
}

static void put_sample(struct nl_msg *msg, uint32_t id, uint64_t ago,
		       uint64_t pc)
{
	struct nlattr *n = nla_nest_start(msg, KHOLMES_A_PSTACK);
	uint64_t pcs[] = { pc, 0x401208 };

	nla_put_u32(msg, KHOLMES_PSTACK_COUNT, 1);
	nla_put_u32(msg, KHOLMES_PSTACK_ID, id);
	nla_put_u64(msg, KHOLMES_PSTACK_AGO_NS, ago);
	nla_put_u32(msg, KHOLMES_PSTACK_TID, TID);
	nla_put(msg, KHOLMES_PSTACK_UFRAMES, sizeof(pcs), pcs);
	nla_nest_end(msg, n);
}

static void put_host(struct nl_msg *msg, uint32_t count, uint32_t pid,
		     const char *comm, const char *kframe)
{
	struct nlattr *n = nla_nest_start(msg, KHOLMES_A_PSTACK);

	nla_put_u32(msg, KHOLMES_PSTACK_COUNT, count);
	nla_put_u32(msg, KHOLMES_PSTACK_PID, pid);
	nla_put_string(msg, KHOLMES_PSTACK_COMM, comm);
	if (kframe)
		nla_put_string(msg, KHOLMES_PSTACK_KFRAME, kframe);
	nla_nest_end(msg, n);
}

/*
 * 3 s in phase_one (0x401010), then 2 s in phase_two (0x401110): samples
 * from 4.9 s to 0.1 s before the detection, sent newest first to show
 * that order is the controller's to restore.
 */
static const struct {
	uint64_t ago;
	uint64_t pc;
} samples[] = {
	{ NS / 10, 0x401110 },
	{ 1 * NS + NS / 2, 0x401118 },
	{ 2 * NS - NS / 10, 0x401110 },
	{ 2 * NS + NS / 2, 0x401010 },
	{ 3 * NS + NS / 2, 0x401018 },
	{ 4 * NS + 9 * NS / 10, 0x401010 },
};

static struct nl_msg *flight_stream(bool host)
{
	struct nl_msg *msg = nlmsg_alloc_size(65536);
	struct nlattr *n;
	size_t i;

	if (!msg)
		return NULL;
	genlmsg_put(msg, 0, 1, FAMILY, 0, NLM_F_MULTI,
		    KHOLMES_CMD_GET_CAPTURE, KHOLMES_GENL_VERSION);
	n = nla_nest_start(msg, KHOLMES_A_CAPTURE);
	nla_put_u64(msg, KHOLMES_CAPTURE_ID, CAP_ID);
	nla_put_u64(msg, KHOLMES_CAPTURE_TIME_NS, 1795662965000000000ULL);
	nla_put_u32(msg, KHOLMES_CAPTURE_METRIC, KHOLMES_METRIC_RUNDELAY);
	nla_put_u64(msg, KHOLMES_CAPTURE_VALUE, 900000);
	nla_put_u64(msg, KHOLMES_CAPTURE_AVG, 1000);
	nla_put_u32(msg, KHOLMES_CAPTURE_PID, PID);
	nla_put_string(msg, KHOLMES_CAPTURE_COMM, "fl_phases");
	nla_put_string(msg, KHOLMES_CAPTURE_EXE, EXE);
	nla_put_u32(msg, KHOLMES_CAPTURE_NR_THREADS, 1);
	nla_put_u32(msg, KHOLMES_CAPTURE_THREADS, 1);
	nla_put_u32(msg, KHOLMES_CAPTURE_MAPPINGS, 1);
	nla_nest_end(msg, n);
	n = nla_nest_start(msg, KHOLMES_A_MAPPING);
	nla_put_u64(msg, KHOLMES_MAP_START, 0x400000);
	nla_put_u64(msg, KHOLMES_MAP_END, 0x402000);
	nla_put_u32(msg, KHOLMES_MAP_PROT, KHOLMES_MAP_R | KHOLMES_MAP_X);
	nla_put_string(msg, KHOLMES_MAP_PATH, EXE);
	nla_nest_end(msg, n);
	n = nla_nest_start(msg, KHOLMES_A_THREAD);
	nla_put_u32(msg, KHOLMES_THREAD_TID, TID);
	nla_nest_end(msg, n);
	put_profile(msg, KHOLMES_PROFILE_BEFORE, 5 * NS, ARRAY_SIZE(samples),
		    2, ARRAY_SIZE(samples));
	for (i = 0; i < ARRAY_SIZE(samples); i++)
		put_sample(msg, i, samples[i].ago, samples[i].pc);
	if (host) {
		put_profile(msg, KHOLMES_PROFILE_HOST, 5 * NS, 150, 0, 2);
		put_host(msg, 120, 77, "hog", NULL);
		put_host(msg, 30, 78, "kworker/0:1", "worker_thread+0x10/0x300");
	}
	return msg;
}

/* Decoded, and symbolized as kh_unwind() would. */
static void decoded(struct __test_metadata *_metadata, struct kh_capture *cap,
		    bool host)
{
	struct nl_msg *msg = flight_stream(host);
	struct kh_stream s;
	size_t i, j;

	ASSERT_NE(NULL, msg);
	kh_stream_init(&s, cap, CAP_ID);
	EXPECT_EQ(0, kh_stream_msg(&s, nlmsg_hdr(msg)));
	ASSERT_EQ(0, kh_stream_end(&s));
	nlmsg_free(msg);
	EXPECT_EQ(0U, cap->bad_records) TH_LOG("%s", cap->bad_why);
	for (i = 0; i < cap->before.nr_pstacks; i++) {
		struct kh_pstack *ps = &cap->before.pstacks[i];

		ps->user.f = calloc(ps->nr_upcs + 1, sizeof(*ps->user.f));
		ASSERT_NE(NULL, ps->user.f);
		for (j = 0; j < ps->nr_upcs; j++) {
			struct kh_uframe *f = &ps->user.f[j];
			uint64_t pc = ps->upcs[j];

			f->pc = pc;
			f->map = kh_map_find(cap, pc);
			f->file_off = pc - 0x400000;
			f->func = strdup(pc < 0x401100 ? "phase_one" :
					 pc < 0x401200 ? "phase_two" : "main");
		}
		ps->user.n = ps->nr_upcs;
	}
}

TEST(stream)
{
	struct kh_capture cap;
	size_t i;

	decoded(_metadata, &cap, true);
	EXPECT_FALSE(cap.prof.present);
	ASSERT_TRUE(cap.before.present);
	EXPECT_EQ((uint32_t)KHOLMES_PROFILE_BEFORE, cap.before.kind);
	EXPECT_EQ(19U, cap.before.hz);
	EXPECT_EQ(10U, cap.before.seconds);
	EXPECT_EQ(5 * NS, cap.before.duration_ns);
	EXPECT_EQ(2U, cap.before.lost);
	ASSERT_EQ(ARRAY_SIZE(samples), cap.before.nr_pstacks);
	for (i = 0; i < ARRAY_SIZE(samples); i++) {
		EXPECT_TRUE(cap.before.pstacks[i].has_ago);
		EXPECT_EQ(samples[i].ago, cap.before.pstacks[i].ago_ns);
		EXPECT_EQ((uint32_t)TID, cap.before.pstacks[i].tid);
		EXPECT_EQ(samples[i].pc, cap.before.pstacks[i].upcs[0]);
	}
	ASSERT_TRUE(cap.host.present);
	EXPECT_EQ(150U, cap.host.samples);
	ASSERT_EQ(2U, cap.host.nr_pstacks);
	EXPECT_EQ(77U, cap.host.pstacks[0].pid);
	EXPECT_STREQ("hog", cap.host.pstacks[0].comm);
	EXPECT_EQ(120U, cap.host.pstacks[0].count);
	EXPECT_STREQ("kworker/0:1", cap.host.pstacks[1].comm);
	ASSERT_EQ(1U, cap.host.pstacks[1].nr_kframes);
	/* the capture's one thread is still its own */
	EXPECT_EQ(1U, cap.nr_threads);
	kh_capture_free(&cap);
}

/* A second before-record is refused, the first kept. */
TEST(stream_second_before_refused)
{
	struct nl_msg *msg = flight_stream(false);
	struct kh_capture cap;
	struct kh_stream s;

	ASSERT_NE(NULL, msg);
	put_profile(msg, KHOLMES_PROFILE_BEFORE, NS, 1, 0, 1);
	kh_stream_init(&s, &cap, CAP_ID);
	EXPECT_EQ(0, kh_stream_msg(&s, nlmsg_hdr(msg)));
	ASSERT_EQ(0, kh_stream_end(&s));
	nlmsg_free(msg);
	EXPECT_EQ(1U, cap.bad_records);
	EXPECT_EQ(5 * NS, cap.before.duration_ns);
	EXPECT_EQ(ARRAY_SIZE(samples), cap.before.nr_pstacks);
	kh_capture_free(&cap);
}

static char *txt_of(const struct kh_capture *cap)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (kh_report_txt(f, cap)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

TEST(txt_before_section)
{
	struct kh_capture cap;
	char *buf, *one, *two;

	decoded(_metadata, &cap, true);
	buf = txt_of(&cap);
	ASSERT_NE(NULL, buf);
	EXPECT_NE(NULL, strstr(buf, "\nbefore the trigger (flight recorder)\n\n"
				    "covers:     5.000 s before the detection (flight-s 10 s, 19 Hz per CPU)\n"
				    "samples:    6 of this process, on any CPU; 2 lost"))
		TH_LOG("%s", buf);
	/* oldest first: phase_one's seconds, then phase_two's */
	one = strstr(buf, "  -5 s:    1  phase_one (1)\n");
	two = strstr(buf, "  -1 s:    1  phase_two (1)\n");
	EXPECT_NE(NULL, one) TH_LOG("%s", buf);
	EXPECT_NE(NULL, two);
	EXPECT_TRUE(one && two && one < two);
	EXPECT_NE(NULL, strstr(buf, "  -3 s:    1  phase_one (1)\n"));
	EXPECT_NE(NULL, strstr(buf, "  -2 s:    2  phase_two (2)\n"));
	EXPECT_NE(NULL, strstr(buf, "top functions, of 6 samples"));
	EXPECT_NE(NULL, strstr(buf, "        3  50.0%          3  50.0%  phase_one  " EXE "\n"));
	EXPECT_NE(NULL, strstr(buf, "          0   0.0%          6 100.0%  main  " EXE "\n") ?:
			strstr(buf, "        0   0.0%          6 100.0%  main  " EXE "\n"))
		TH_LOG("%s", buf);
	/* rundelay: who was on the CPUs meanwhile */
	EXPECT_NE(NULL, strstr(buf, "who was on the CPUs in those seconds"));
	EXPECT_NE(NULL, strstr(buf, "     120  80.0%  hog[77]  (user code)\n"));
	EXPECT_NE(NULL, strstr(buf, "      30  20.0%  kworker/0:1[78]  worker_thread\n"))
		TH_LOG("%s", buf);
	free(buf);
	kh_capture_free(&cap);
}

TEST(txt_nothing_before)
{
	struct nl_msg *msg = flight_stream(false);
	struct kh_capture cap;
	struct kh_stream s;
	char *buf;

	ASSERT_NE(NULL, msg);
	kh_stream_init(&s, &cap, CAP_ID);
	EXPECT_EQ(0, kh_stream_msg(&s, nlmsg_hdr(msg)));
	ASSERT_EQ(0, kh_stream_end(&s));
	nlmsg_free(msg);
	/* as if no sample of the process was in the rings */
	while (cap.before.nr_pstacks)
		free(cap.before.pstacks[--cap.before.nr_pstacks].upcs);
	buf = txt_of(&cap);
	ASSERT_NE(NULL, buf);
	EXPECT_NE(NULL, strstr(buf, "none: the process was not on a CPU in those seconds"));
	EXPECT_EQ(NULL, strstr(buf, "who was on the CPUs"));
	free(buf);
	kh_capture_free(&cap);
}

static json_object *key(json_object *o, const char *k)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, k, &v);
	return v;
}

TEST(json_before)
{
	json_object *o, *b, *st, *h;
	struct kh_capture cap;
	size_t i, n;
	uint64_t prev = UINT64_MAX, ago;

	decoded(_metadata, &cap, true);
	o = kh_report_json(&cap);
	ASSERT_NE(NULL, o);
	b = key(o, "before");
	ASSERT_NE(NULL, b);
	EXPECT_STREQ("before", json_object_get_string(key(b, "kind")));
	EXPECT_EQ(19, json_object_get_int(key(b, "hz")));
	EXPECT_EQ((int64_t)(5 * NS), json_object_get_int64(key(b, "duration-ns")));
	/* no memory figures: those are a faults profile's */
	EXPECT_EQ(NULL, key(b, "rss-start"));
	EXPECT_EQ(NULL, key(b, "vm-start"));
	st = key(b, "stacks");
	ASSERT_NE(NULL, st);
	n = json_object_array_length(st);
	ASSERT_EQ(ARRAY_SIZE(samples), n);
	/* oldest first, each with its time and thread */
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(st, i);

		ago = json_object_get_uint64(key(e, "ago-ns"));
		EXPECT_LT(ago, prev);
		prev = ago;
		EXPECT_EQ(TID, json_object_get_int(key(e, "tid")));
	}
	EXPECT_EQ(samples[ARRAY_SIZE(samples) - 1].ago,
		  json_object_get_uint64(key(json_object_array_get_idx(st, 0),
					     "ago-ns")));
	h = key(o, "before-host");
	ASSERT_NE(NULL, h);
	EXPECT_STREQ("host", json_object_get_string(key(h, "kind")));
	EXPECT_STREQ("hog", json_object_get_string(key(
		json_object_array_get_idx(key(h, "stacks"), 0), "comm")));
	json_object_put(o);
	kh_capture_free(&cap);
}

/* The .before.pb.gz: one sample per record, its time a label. */
TEST(pprof_time_labels)
{
	Perftools__Profiles__Profile *p;
	struct kh_capture cap, view;
	size_t len, i, j, seen = 0;
	uint8_t *buf;

	decoded(_metadata, &cap, false);
	view = cap;
	view.prof = cap.before;
	ASSERT_EQ(0, kh_pprof_encode(&view, &buf, &len));
	p = perftools__profiles__profile__unpack(NULL, len, buf);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(ARRAY_SIZE(samples), p->n_sample);
	EXPECT_STREQ("cpu", p->string_table[p->default_sample_type]);
	for (i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *smp = p->sample[i];

		for (j = 0; j < smp->n_label; j++) {
			const char *k = p->string_table[smp->label[j]->key];

			if (!strcmp(k, "time-ns")) {
				EXPECT_EQ(-(int64_t)samples[i].ago,
					  smp->label[j]->num);
				seen++;
			}
		}
	}
	EXPECT_EQ(ARRAY_SIZE(samples), seen);
	perftools__profiles__profile__free_unpacked(p, NULL);
	free(buf);
	kh_capture_free(&cap);
}

TEST(folded_before)
{
	struct kh_capture cap, view;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	decoded(_metadata, &cap, false);
	view = cap;
	view.prof = cap.before;
	f = open_memstream(&buf, &len);
	ASSERT_NE(NULL, f);
	EXPECT_EQ(0, kh_report_folded(f, &view));
	fclose(f);
	EXPECT_NE(NULL, strstr(buf, "main;phase_one 3\n")) TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "main;phase_two 3\n"));
	free(buf);
	kh_capture_free(&cap);
}

TEST_HARNESS_MAIN
