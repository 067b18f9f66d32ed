// SPDX-License-Identifier: GPL-2.0
/*
 * Profiles and rundelay consumers, without a kernel: a profile capture's
 * record stream built in memory as the module sends it (the capture, its
 * mappings, one profile record and its stacks), decoded; its .folded, the
 * "top functions" section of its report (cpu and faults), its JSON; then
 * its files in a directory: joined to the capture it follows (the .txt
 * rewritten with the section, the same again when written twice), or on
 * their own when that capture is absent. Also `profile`'s command line and
 * the profile keys of config and status.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/genl/genl.h>

#include "args.h"
#include "fmt.h"
#include "pfiles.h"
#include "report.h"
#include "stream.h"
#include "unwind.h"
#include "kselftest_harness.h"

#define FAMILY		0x42
#define SNAP_ID		16
#define PROF_ID		17
#define PID		204
#define HZ		99
/* 2026-11-26T03:16:05Z, five seconds after its capture */
#define PROF_TIME	1795662965000000000ULL
#define EXE		"/selftests/cap_spin"

static struct nl_msg *new_msg(void)
{
	struct nl_msg *msg = nlmsg_alloc_size(65536);

	if (msg)
		genlmsg_put(msg, 0, 1, FAMILY, 0, NLM_F_MULTI,
			    KHOLMES_CMD_GET_CAPTURE, KHOLMES_GENL_VERSION);
	return msg;
}

static void put_capture(struct nl_msg *msg, uint32_t metric, bool manual)
{
	struct nlattr *n = nla_nest_start(msg, KHOLMES_A_CAPTURE);

	nla_put_u64(msg, KHOLMES_CAPTURE_ID, PROF_ID);
	nla_put_u64(msg, KHOLMES_CAPTURE_TIME_NS, PROF_TIME);
	nla_put_u64(msg, KHOLMES_CAPTURE_BOOT_NS, 377000000000ULL);
	/* as the module sends it: no thread snapshot, flagged truncated */
	nla_put_u32(msg, KHOLMES_CAPTURE_FLAGS, KHOLMES_CAPTURE_F_PROFILE |
		    KHOLMES_CAPTURE_F_THREADS_TRUNC |
		    (manual ? KHOLMES_CAPTURE_F_MANUAL : 0));
	if (!manual) {
		nla_put_u32(msg, KHOLMES_CAPTURE_METRIC, metric);
		nla_put_u64(msg, KHOLMES_CAPTURE_VALUE, 99000);
		nla_put_u64(msg, KHOLMES_CAPTURE_AVG, 1000);
	}
	nla_put_u32(msg, KHOLMES_CAPTURE_PID, PID);
	nla_put_string(msg, KHOLMES_CAPTURE_COMM, "cap_spin");
	nla_put_string(msg, KHOLMES_CAPTURE_EXE, EXE);
	nla_put_u32(msg, KHOLMES_CAPTURE_NR_THREADS, 2);
	nla_put_u32(msg, KHOLMES_CAPTURE_THREADS, 0);
	nla_put_u32(msg, KHOLMES_CAPTURE_MAPPINGS, 3);
	nla_put_u64(msg, KHOLMES_CAPTURE_RSS_ANON, 11 << 20);
	nla_put_u64(msg, KHOLMES_CAPTURE_RSS_FILE, 2 << 20);
	nla_put_u64(msg, KHOLMES_CAPTURE_PROFILE_OF, manual ? 0 : SNAP_ID);
	nla_put_u32(msg, KHOLMES_CAPTURE_PROFILE_KIND,
		    metric == KHOLMES_METRIC_CPU ? KHOLMES_PROFILE_CPU :
						   KHOLMES_PROFILE_FAULTS);
	nla_nest_end(msg, n);
}

static void put_mapping(struct nl_msg *msg, uint64_t start, uint64_t end,
			uint32_t prot, const char *path)
{
	struct nlattr *n = nla_nest_start(msg, KHOLMES_A_MAPPING);

	nla_put_u64(msg, KHOLMES_MAP_START, start);
	nla_put_u64(msg, KHOLMES_MAP_END, end);
	nla_put_u32(msg, KHOLMES_MAP_PROT, prot);
	nla_put_string(msg, KHOLMES_MAP_PATH, path);
	nla_nest_end(msg, n);
}

/* put_profile() says the resident sizes when sampling stopped */
static bool with_end_rss;

static void put_profile(struct nl_msg *msg, uint32_t kind, uint32_t flags,
			uint64_t samples, uint32_t stacks)
{
	struct nlattr *n = nla_nest_start(msg, KHOLMES_A_PROFILE);

	nla_put_u32(msg, KHOLMES_PROFILE_KIND, kind);
	nla_put_u32(msg, KHOLMES_PROFILE_FLAGS, flags);
	nla_put_u32(msg, KHOLMES_PROFILE_HZ, kind == KHOLMES_PROFILE_CPU ? HZ : 0);
	nla_put_u64(msg, KHOLMES_PROFILE_PERIOD, kind == KHOLMES_PROFILE_CPU ?
		    1000000000ULL / HZ : 4);
	nla_put_u32(msg, KHOLMES_PROFILE_SECONDS, 5);
	nla_put_u64(msg, KHOLMES_PROFILE_DURATION_NS, 5000000000ULL);
	nla_put_u64(msg, KHOLMES_PROFILE_SAMPLES, samples);
	nla_put_u64(msg, KHOLMES_PROFILE_LOST, 3);
	nla_put_u32(msg, KHOLMES_PROFILE_STACKS, stacks);
	nla_put_u64(msg, KHOLMES_PROFILE_START_RSS_ANON, 1 << 20);
	nla_put_u64(msg, KHOLMES_PROFILE_START_RSS_FILE, 2 << 20);
	nla_put_u64(msg, KHOLMES_PROFILE_START_VM, 14 << 20);
	if (with_end_rss) {
		nla_put_u64(msg, KHOLMES_PROFILE_END_RSS_ANON, 9 << 20);
		nla_put_u64(msg, KHOLMES_PROFILE_END_RSS_FILE, 3 << 20);
	}
	nla_nest_end(msg, n);
}

static void put_pstack(struct nl_msg *msg, uint32_t count, const uint64_t *pcs,
		       int npcs, const char *const *kframes, int nk)
{
	struct nlattr *n = nla_nest_start(msg, KHOLMES_A_PSTACK);
	int i;

	nla_put_u32(msg, KHOLMES_PSTACK_COUNT, count);
	if (npcs)
		nla_put(msg, KHOLMES_PSTACK_UFRAMES, npcs * sizeof(*pcs), pcs);
	for (i = 0; i < nk; i++)
		nla_put_string(msg, KHOLMES_PSTACK_KFRAME, kframes[i]);
	nla_nest_end(msg, n);
}

static const char *const tick[] = {
	"asm_sysvec_apic_timer_interrupt+0x1a/0x20",
};

static const char *const fault[] = {
	"handle_mm_fault+0x12/0x2a0", "do_user_addr_fault+0x1b0/0x5a0",
	"exc_page_fault+0x70/0x170", "asm_exc_page_fault+0x26/0x30",
};

/*
 * A cpu profile of a spinner, or a faults profile of a leaker: frames in
 * the executable (spin_here called by main), one in no mapping, and a
 * stack of nothing at all. Addresses are in the mappings the stream sends.
 */
static struct nl_msg *profile_stream(uint32_t kind, bool manual)
{
	struct nl_msg *msg = new_msg();
	uint64_t hot[] = { 0x401010, 0x401208, 0x7f0000001234 };
	uint64_t hot2[] = { 0x401018, 0x401208, 0x7f0000001234 };
	uint64_t lib[] = { 0x7f0000005000, 0x401100, 0x401208 };
	uint64_t lost[] = { 0x12345 };
	bool cpu = kind == KHOLMES_PROFILE_CPU;

	put_capture(msg, cpu ? KHOLMES_METRIC_CPU : KHOLMES_METRIC_RSS, manual);
	put_mapping(msg, 0x400000, 0x402000, KHOLMES_MAP_R | KHOLMES_MAP_X, EXE);
	put_mapping(msg, 0x7f0000000000ULL, 0x7f0000200000ULL,
		    KHOLMES_MAP_R | KHOLMES_MAP_X,
		    "/usr/lib/x86_64-linux-gnu/libc.so.6");
	put_mapping(msg, 0x500000, 0x1500000, KHOLMES_MAP_R | KHOLMES_MAP_W,
		    "[heap]");
	put_profile(msg, kind, manual ? 0 : KHOLMES_PROFILE_F_EXITED, 500, 5);
	/* 480 in spin_here (two pcs of it), in user mode */
	put_pstack(msg, 400, hot, 3, NULL, 0);
	put_pstack(msg, 80, hot2, 3, cpu ? NULL : fault, cpu ? 0 : 4);
	/* 15 in the timer interrupt, over libc called by other_fn */
	put_pstack(msg, 15, lib, 3, tick, 1);
	put_pstack(msg, 3, lost, 1, NULL, 0);
	put_pstack(msg, 2, NULL, 0, NULL, 0);
	return msg;
}

/* Decoded, and symbolized as kh_unwind() would with the binaries at hand. */
static void decoded(struct __test_metadata *_metadata, struct kh_capture *cap,
		    uint32_t kind, bool manual)
{
	struct nl_msg *msg = profile_stream(kind, manual);
	struct kh_stream s;
	size_t i, j;

	ASSERT_NE(NULL, msg);
	kh_stream_init(&s, cap, PROF_ID);
	EXPECT_EQ(0, kh_stream_msg(&s, nlmsg_hdr(msg)));
	ASSERT_EQ(0, kh_stream_end(&s));
	nlmsg_free(msg);
	EXPECT_EQ(0U, cap->bad_records) TH_LOG("%s", cap->bad_why);
	/* what kh_unwind() does, with the names it would have found */
	for (i = 0; i < cap->prof.nr_pstacks; i++) {
		struct kh_pstack *ps = &cap->prof.pstacks[i];

		ps->user.f = calloc(ps->nr_upcs + 1, sizeof(*ps->user.f));
		ASSERT_NE(NULL, ps->user.f);
		for (j = 0; j < ps->nr_upcs; j++) {
			struct kh_uframe *f = &ps->user.f[j];
			uint64_t pc = ps->upcs[j];

			f->pc = pc;
			f->activation = !j;
			f->map = kh_map_find(cap, pc);
			if (f->map >= 0)
				f->file_off = pc - cap->maps[f->map].start;
			if (pc >= 0x401000 && pc < 0x401100)
				f->func = strdup("spin_here");
			else if (pc >= 0x401100 && pc < 0x401200)
				f->func = strdup("other_fn");
			else if (pc >= 0x401200 && pc < 0x401300)
				f->func = strdup("main");
			else if (pc == 0x7f0000001234)
				f->func = strdup("__libc_start_call_main");
			f->func_off = pc & 0xff;
		}
		ps->user.n = ps->nr_upcs;
	}
}

TEST(stream)
{
	struct kh_capture cap;
	struct kh_pstack *ps;

	decoded(_metadata, &cap, KHOLMES_PROFILE_CPU, false);
	EXPECT_TRUE(cap.sum.flags & KHOLMES_CAPTURE_F_PROFILE);
	EXPECT_TRUE(cap.sum.has_profile_of);
	EXPECT_EQ((uint64_t)SNAP_ID, cap.sum.profile_of);
	EXPECT_EQ((uint32_t)KHOLMES_PROFILE_CPU, cap.sum.profile_kind);
	EXPECT_TRUE(cap.has_rss);
	EXPECT_EQ(11U << 20, cap.rss_anon);
	EXPECT_EQ(2U << 20, cap.rss_file);
	ASSERT_TRUE(cap.prof.present);
	EXPECT_EQ((uint32_t)KHOLMES_PROFILE_CPU, cap.prof.kind);
	EXPECT_EQ((uint32_t)KHOLMES_PROFILE_F_EXITED, cap.prof.flags);
	EXPECT_EQ((uint32_t)HZ, cap.prof.hz);
	EXPECT_EQ(1000000000ULL / HZ, cap.prof.period);
	EXPECT_EQ(5U, cap.prof.seconds);
	EXPECT_EQ(5000000000ULL, cap.prof.duration_ns);
	EXPECT_EQ(500U, cap.prof.samples);
	EXPECT_EQ(3U, cap.prof.lost);
	EXPECT_EQ(5U, cap.prof.stacks);
	EXPECT_EQ(1U << 20, cap.prof.start_rss_anon);
	EXPECT_EQ(14U << 20, cap.prof.start_vm);
	ASSERT_EQ(5U, cap.prof.nr_pstacks);
	ps = &cap.prof.pstacks[0];
	EXPECT_EQ(400U, ps->count);
	ASSERT_EQ(3U, ps->nr_upcs);
	EXPECT_EQ(0x401010U, ps->upcs[0]);
	EXPECT_EQ(0U, ps->nr_kframes);
	ps = &cap.prof.pstacks[2];
	ASSERT_EQ(1U, ps->nr_kframes);
	EXPECT_STREQ(tick[0], ps->kframes[0]);
	EXPECT_EQ(0U, cap.prof.pstacks[4].nr_upcs);
	EXPECT_EQ(3U, cap.nr_maps);
	kh_capture_free(&cap);
}

/* Malformed profile records cost a record each, never the capture. */
TEST(stream_refusals)
{
	struct nl_msg *msg = new_msg();
	uint64_t odd[2] = { 1, 2 };
	struct kh_capture cap;
	struct kh_stream s;
	struct nlattr *n;
	int i;

	ASSERT_NE(NULL, msg);
	put_capture(msg, KHOLMES_METRIC_CPU, false);
	n = nla_nest_start(msg, KHOLMES_A_PROFILE);	/* no kind */
	nla_put_u32(msg, KHOLMES_PROFILE_HZ, 99);
	nla_nest_end(msg, n);
	put_profile(msg, KHOLMES_PROFILE_CPU, 0, 1, 1);
	put_profile(msg, KHOLMES_PROFILE_CPU, 0, 1, 1);	/* twice */
	n = nla_nest_start(msg, KHOLMES_A_PSTACK);	/* no count */
	nla_put_string(msg, KHOLMES_PSTACK_KFRAME, "f+0x1/0x2");
	nla_nest_end(msg, n);
	n = nla_nest_start(msg, KHOLMES_A_PSTACK);	/* 12 bytes of pcs */
	nla_put_u32(msg, KHOLMES_PSTACK_COUNT, 1);
	nla_put(msg, KHOLMES_PSTACK_UFRAMES, 12, odd);
	nla_nest_end(msg, n);
	n = nla_nest_start(msg, KHOLMES_A_PSTACK);	/* too many kernel frames */
	nla_put_u32(msg, KHOLMES_PSTACK_COUNT, 1);
	for (i = 0; i <= KH_MAX_KFRAMES; i++)
		nla_put_string(msg, KHOLMES_PSTACK_KFRAME, "f+0x1/0x2");
	nla_nest_end(msg, n);
	n = nla_nest_start(msg, KHOLMES_A_CONSUMER);	/* no pid */
	nla_put_string(msg, KHOLMES_CONSUMER_COMM, "x");
	nla_nest_end(msg, n);
	put_pstack(msg, 7, odd, 2, NULL, 0);
	kh_stream_init(&s, &cap, PROF_ID);
	kh_stream_msg(&s, nlmsg_hdr(msg));
	ASSERT_EQ(0, kh_stream_end(&s));
	EXPECT_EQ(6U, cap.bad_records) TH_LOG("%s", cap.bad_why);
	EXPECT_STREQ("a malformed profile record", cap.bad_why);
	EXPECT_TRUE(cap.prof.present);
	/* the one with too many frames is kept, cut */
	ASSERT_EQ(2U, cap.prof.nr_pstacks);
	EXPECT_EQ((size_t)KH_MAX_KFRAMES, cap.prof.pstacks[0].nr_kframes);
	EXPECT_EQ(7U, cap.prof.pstacks[1].count);
	EXPECT_EQ(0U, cap.nr_consumers);
	kh_capture_free(&cap);
	nlmsg_free(msg);
}

TEST(folded)
{
	struct kh_capture cap;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	decoded(_metadata, &cap, KHOLMES_PROFILE_CPU, false);
	f = open_memstream(&buf, &len);
	ASSERT_EQ(0, kh_report_folded(f, &cap));
	fclose(f);
	/* root first, user then kernel, identical lines summed, sorted */
	EXPECT_STREQ("0x12345 3\n"
		     "[no stack] 2\n"
		     "__libc_start_call_main;main;spin_here 480\n"
		     "main;other_fn;/usr/lib/x86_64-linux-gnu/libc.so.6+0x5000;asm_sysvec_apic_timer_interrupt 15\n",
		     buf);
	free(buf);
	kh_capture_free(&cap);
}

/* Kernel frames after the user ones, root first. */
TEST(folded_faults)
{
	struct kh_capture cap;
	struct kh_folded *lines;
	size_t n;

	decoded(_metadata, &cap, KHOLMES_PROFILE_FAULTS, false);
	ASSERT_EQ(0, kh_folded_build_profile(&cap, &lines, &n));
	ASSERT_EQ(5U, n);
	EXPECT_STREQ("__libc_start_call_main;main;spin_here", lines[2].stack);
	EXPECT_EQ(400U, lines[2].count);
	EXPECT_STREQ("__libc_start_call_main;main;spin_here;"
		     "asm_exc_page_fault;exc_page_fault;do_user_addr_fault;handle_mm_fault",
		     lines[3].stack);
	EXPECT_EQ(80U, lines[3].count);
	kh_folded_free(lines, n);
	kh_capture_free(&cap);
}

TEST(top)
{
	struct kh_capture cap;
	struct kh_topfn *top;
	size_t n, i;

	decoded(_metadata, &cap, KHOLMES_PROFILE_CPU, false);
	ASSERT_EQ(0, kh_profile_top(&cap, &top, &n));
	ASSERT_LE(5U, n);
	EXPECT_STREQ("spin_here", top[0].name);
	EXPECT_STREQ(EXE, top[0].where);
	EXPECT_EQ(480U, top[0].self);
	EXPECT_EQ(480U, top[0].cum);
	EXPECT_STREQ("asm_sysvec_apic_timer_interrupt", top[1].name);
	EXPECT_STREQ("[kernel]", top[1].where);
	EXPECT_EQ(15U, top[1].self);
	for (i = 0; i < n; i++) {
		if (!strcmp(top[i].name, "main")) {
			EXPECT_EQ(0U, top[i].self);
			EXPECT_EQ(495U, top[i].cum);
		}
		if (!strcmp(top[i].name, "other_fn"))
			EXPECT_EQ(15U, top[i].cum);
	}
	kh_topfn_free(top, n);
	kh_capture_free(&cap);
}

/* A recursive function counts once per stack in its cumulative share. */
TEST(top_recursion)
{
	struct kh_capture cap = { 0 };
	struct kh_pstack ps = { .count = 10 };
	struct kh_uframe f[3] = {
		{ .pc = 1, .map = -1, .func = "fib" },
		{ .pc = 2, .map = -1, .func = "fib" },
		{ .pc = 3, .map = -1, .func = "main" },
	};
	struct kh_topfn *top;
	size_t n;

	ps.user.f = f;
	ps.user.n = 3;
	cap.prof.present = true;
	cap.prof.pstacks = &ps;
	cap.prof.nr_pstacks = 1;
	ASSERT_EQ(0, kh_profile_top(&cap, &top, &n));
	ASSERT_EQ(2U, n);
	EXPECT_STREQ("fib", top[0].name);
	EXPECT_EQ(10U, top[0].self);
	EXPECT_EQ(10U, top[0].cum);
	EXPECT_EQ(0U, top[1].self);
	kh_topfn_free(top, n);
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

TEST(txt_cpu)
{
	struct kh_capture cap;
	char *buf;

	decoded(_metadata, &cap, KHOLMES_PROFILE_CPU, false);
	buf = txt_of(&cap);
	ASSERT_NE(NULL, buf);
	EXPECT_NE(NULL, strstr(buf, "kholmes capture 17: cpu, pid 204 (cap_spin)\n"));
	EXPECT_EQ(NULL, strstr(buf, "does not show"));
	/* no thread snapshot is no truncation */
	EXPECT_EQ(NULL, strstr(buf, "threads truncated"));
	EXPECT_NE(NULL, strstr(buf, "\n\nkholmes profile 17: cpu, pid 204 (cap_spin), after capture 16 (cpu)\n\n"));
	EXPECT_NE(NULL, strstr(buf, "ran:        5.000 s of 5 s asked, 99 Hz: a sample every 10.101 ms a thread is on a CPU\n"));
	EXPECT_NE(NULL, strstr(buf, "ended:      early: the process exited (the profile holds what it had)\n"));
	EXPECT_NE(NULL, strstr(buf, "samples:    500 of the process; 495 expected of one thread on a CPU all along\n"
				    "            (99 Hz x 5.000 s): 1.0 CPUs busy on average\n"));
	EXPECT_NE(NULL, strstr(buf, "lost:       3 (not counted"));
	EXPECT_NE(NULL, strstr(buf, "stacks:     5 distinct\n"));
	EXPECT_NE(NULL, strstr(buf, "files:      .cpu.pb.gz (go tool pprof -top), .cpu.folded (flame graphs), .cpu.json\n"));
	EXPECT_NE(NULL, strstr(buf, "frame-pointer walk"));
	EXPECT_NE(NULL, strstr(buf, "top functions, of 500 samples (self: where it was running; cumulative: on the stack):\n"
				    "       SELF  SELF%        CUM   CUM%  FUNCTION\n"
				    "        480  96.0%        480  96.0%  spin_here  " EXE "\n"
				    "         15   3.0%         15   3.0%  asm_sysvec_apic_timer_interrupt  [kernel]\n"))
		TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "          0   0.0%        495  99.0%  main  " EXE "\n"));
	/* a cpu profile shows no memory */
	EXPECT_EQ(NULL, strstr(buf, "resident:"));
	free(buf);
	kh_capture_free(&cap);
}

TEST(txt_faults_manual)
{
	struct kh_capture cap;
	char *buf;

	decoded(_metadata, &cap, KHOLMES_PROFILE_FAULTS, true);
	buf = txt_of(&cap);
	ASSERT_NE(NULL, buf);
	EXPECT_NE(NULL, strstr(buf, "kholmes profile 17: faults, pid 204 (cap_spin), requested with kholmesctl profile\n"));
	EXPECT_NE(NULL, strstr(buf, "one page fault of the process in 4\n"));
	EXPECT_NE(NULL, strstr(buf, "trigger:    manual (requested with kholmesctl profile)\n"));
	EXPECT_NE(NULL, strstr(buf, "threads:    2 (a profile: its stacks follow, not a snapshot of each thread)\n"));
	EXPECT_EQ(NULL, strstr(buf, "ended:"));
	EXPECT_NE(NULL, strstr(buf, "samples:    500 page faults recorded, about 2000 in all\n"));
	EXPECT_NE(NULL, strstr(buf, "resident:   anon 1.0MiB at the start, 11.0MiB at the end (+10.0MiB)\n"
				    "            file 2.0MiB at the start, 2.0MiB at the end (+0B)\n"
				    "mapped:     14.0MiB at the start\n"));
	EXPECT_NE(NULL, strstr(buf, "resident size per mapping is not\navailable from the kernel's exported API"));
	EXPECT_NE(NULL, strstr(buf, "        SIZE  KIND  PERM  MAPPING\n"
				    "     16.0MiB  anon  rw-p  [heap]\n"
				    "      2.0MiB  file  r-xp  /usr/lib/x86_64-linux-gnu/libc.so.6\n"
				    "      8.0KiB  file  r-xp  " EXE "\n"))
		TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "top functions, of 500 sampled page faults (self: where it was faulting"));
	EXPECT_NE(NULL, strstr(buf, "         80  16.0%         80  16.0%  handle_mm_fault  [kernel]\n"));
	free(buf);
	kh_capture_free(&cap);
}

static json_object *key(json_object *o, const char *k)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, k, &v);
	return v;
}

static json_object *reparse(json_object *o)
{
	json_object *back = json_tokener_parse(json_object_to_json_string(o));

	json_object_put(o);
	return back;
}

TEST(json)
{
	json_object *o, *p, *t, *st;
	struct kh_capture cap;

	decoded(_metadata, &cap, KHOLMES_PROFILE_CPU, false);
	o = reparse(kh_report_json(&cap));
	ASSERT_NE(NULL, o);
	EXPECT_EQ(0U, json_object_array_length(key(o, "threads")));
	ASSERT_EQ(1U, json_object_array_length(key(o, "flags")));
	EXPECT_STREQ("profile", json_object_get_string(
		json_object_array_get_idx(key(o, "flags"), 0)));
	EXPECT_EQ(11 << 20, json_object_get_int64(key(key(o, "rss"), "anon")));
	EXPECT_TRUE(json_object_is_type(key(o, "consumers"), json_type_null));
	p = key(o, "profile");
	ASSERT_TRUE(json_object_is_type(p, json_type_object));
	EXPECT_STREQ("cpu", json_object_get_string(key(p, "kind")));
	EXPECT_EQ(SNAP_ID, json_object_get_int(key(p, "profile-of")));
	EXPECT_STREQ("exited", json_object_get_string(
		json_object_array_get_idx(key(p, "flags"), 0)));
	EXPECT_EQ(HZ, json_object_get_int(key(p, "hz")));
	EXPECT_EQ(1000000000 / HZ, json_object_get_int(key(p, "period")));
	EXPECT_STREQ("nanoseconds", json_object_get_string(key(p, "period-unit")));
	EXPECT_EQ(500, json_object_get_int(key(p, "samples")));
	EXPECT_EQ(495, json_object_get_int(key(p, "expected-per-thread")));
	EXPECT_STREQ("1.01", json_object_to_json_string(key(p, "busy-cpus")));
	EXPECT_EQ(3, json_object_get_int(key(p, "lost")));
	EXPECT_EQ(5, json_object_get_int(key(p, "nr-stacks")));
	EXPECT_EQ(1 << 20, json_object_get_int64(key(key(p, "rss-start"), "anon")));
	EXPECT_EQ(11 << 20, json_object_get_int64(key(key(p, "rss-end"), "anon")));
	t = json_object_array_get_idx(key(p, "top"), 0);
	EXPECT_STREQ("spin_here", json_object_get_string(key(t, "function")));
	EXPECT_STREQ(EXE, json_object_get_string(key(t, "where")));
	EXPECT_EQ(480, json_object_get_int(key(t, "self")));
	EXPECT_STREQ("96", json_object_to_json_string(key(t, "self-pct")));
	st = key(p, "stacks");
	ASSERT_EQ(5U, json_object_array_length(st));
	/* most samples first */
	t = json_object_array_get_idx(st, 0);
	EXPECT_EQ(400, json_object_get_int(key(t, "count")));
	EXPECT_STREQ("spin_here", json_object_get_string(key(
		json_object_array_get_idx(key(t, "ustack"), 0), "func")));
	EXPECT_STREQ("0x401010", json_object_get_string(key(
		json_object_array_get_idx(key(t, "ustack"), 0), "pc")));
	t = json_object_array_get_idx(st, 2);
	EXPECT_STREQ(tick[0], json_object_get_string(
		json_object_array_get_idx(key(t, "kstack"), 0)));
	json_object_put(o);
	kh_capture_free(&cap);
}

/*
 * The end of a faults profile is when its sampling stopped, where the
 * module says it: a process that goes on faulting until the capture is
 * taken grew by more than any sample saw (run 36: 34 MiB against 23
 * sampled). The capture's own rss stays the capture's.
 */
TEST(faults_end_rss_when_sampling_stopped)
{
	struct kh_capture cap;
	json_object *o, *p;
	char *buf;

	with_end_rss = true;
	decoded(_metadata, &cap, KHOLMES_PROFILE_FAULTS, true);
	with_end_rss = false;
	buf = txt_of(&cap);
	ASSERT_NE(NULL, buf);
	EXPECT_NE(NULL, strstr(buf, "resident:   anon 1.0MiB at the start, 9.0MiB at the end (+8.0MiB)\n"
				    "            file 2.0MiB at the start, 3.0MiB at the end (+1.0MiB)\n"))
		TH_LOG("%s", buf);
	free(buf);
	o = reparse(kh_report_json(&cap));
	ASSERT_NE(NULL, o);
	p = key(o, "profile");
	EXPECT_EQ(9 << 20, json_object_get_int64(key(key(p, "rss-end"), "anon")));
	EXPECT_EQ(3 << 20, json_object_get_int64(key(key(p, "rss-end"), "file")));
	EXPECT_EQ(11 << 20, json_object_get_int64(key(key(o, "rss"), "anon")));
	json_object_put(o);
	kh_capture_free(&cap);
}

/* A rundelay capture names who took the CPU, in its report and JSON. */
TEST(consumers)
{
	struct nl_msg *msg = new_msg();
	struct kh_capture cap;
	struct kh_stream s;
	struct nlattr *n;
	json_object *o, *c;
	char *buf;
	int i;

	ASSERT_NE(NULL, msg);
	n = nla_nest_start(msg, KHOLMES_A_CAPTURE);
	nla_put_u64(msg, KHOLMES_CAPTURE_ID, 9);
	nla_put_u32(msg, KHOLMES_CAPTURE_METRIC, KHOLMES_METRIC_RUNDELAY);
	nla_put_u32(msg, KHOLMES_CAPTURE_PID, 300);
	nla_put_string(msg, KHOLMES_CAPTURE_COMM, "waiter");
	nla_nest_end(msg, n);
	for (i = 0; i < 2; i++) {
		n = nla_nest_start(msg, KHOLMES_A_CONSUMER);
		nla_put_u32(msg, KHOLMES_CONSUMER_PID, 200 + i);
		nla_put_string(msg, KHOLMES_CONSUMER_COMM, i ? "idle\n" : "spinner");
		nla_put_u64(msg, KHOLMES_CONSUMER_CPU, i ? 1500 : 99800);
		nla_put_string(msg, KHOLMES_CONSUMER_CGROUP,
			       i ? "" : "/system.slice/spin.service");
		nla_nest_end(msg, n);
	}
	kh_stream_init(&s, &cap, 9);
	kh_stream_msg(&s, nlmsg_hdr(msg));
	ASSERT_EQ(0, kh_stream_end(&s));
	nlmsg_free(msg);
	ASSERT_EQ(2U, cap.nr_consumers);
	EXPECT_EQ(200U, cap.consumers[0].pid);
	EXPECT_STREQ("spinner", cap.consumers[0].comm);
	EXPECT_EQ(99800U, cap.consumers[0].cpu);
	EXPECT_STREQ("/system.slice/spin.service", cap.consumers[0].cgroup);

	buf = txt_of(&cap);
	ASSERT_NE(NULL, buf);
	EXPECT_NE(NULL, strstr(buf, "who took the CPU (the top consumers on the host over the last interval):\n"
				    "       PID  COMM                   CPU  CGROUP\n"
				    "       200  spinner             99.8 %  /system.slice/spin.service\n"
				    "       201  idle?                1.5 %  -\n"))
		TH_LOG("%s", buf);
	free(buf);

	o = reparse(kh_report_json(&cap));
	ASSERT_NE(NULL, o);
	EXPECT_TRUE(json_object_is_type(key(o, "profile"), json_type_null));
	ASSERT_EQ(2U, json_object_array_length(key(o, "consumers")));
	c = json_object_array_get_idx(key(o, "consumers"), 0);
	EXPECT_EQ(200, json_object_get_int(key(c, "pid")));
	EXPECT_STREQ("spinner", json_object_get_string(key(c, "comm")));
	EXPECT_STREQ("99.8", json_object_to_json_string(key(c, "cpu")));
	EXPECT_STREQ("/system.slice/spin.service",
		     json_object_get_string(key(c, "cgroup")));
	c = json_object_array_get_idx(key(o, "consumers"), 1);
	EXPECT_TRUE(json_object_is_type(key(c, "cgroup"), json_type_null));
	json_object_put(o);

	/* none at all still says so */
	kh_capture_free(&cap);
	memset(&cap, 0, sizeof(cap));
	cap.sum.has_metric = true;
	cap.sum.metric = KHOLMES_METRIC_RUNDELAY;
	buf = txt_of(&cap);
	ASSERT_NE(NULL, buf);
	EXPECT_NE(NULL, strstr(buf, "who took the CPU: no process used any"));
	free(buf);
	o = reparse(kh_report_json(&cap));
	EXPECT_EQ(0U, json_object_array_length(key(o, "consumers")));
	json_object_put(o);
}

/* ------------------------------------------------------------ the files */

FIXTURE(dir) {
	char path[64];
	struct kh_store st;
};

FIXTURE_SETUP(dir)
{
	strcpy(self->path, "/tmp/kh_profile_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->path));
	ASSERT_EQ(0, kh_store_open(&self->st, self->path));
}

FIXTURE_TEARDOWN(dir)
{
	char cmd[128];

	kh_store_close(&self->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->path);
	if (system(cmd))
		TH_LOG("could not remove %s", self->path);
}

static char *slurp(const char *dir, const char *name)
{
	char path[512], *buf;
	long len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = calloc(1, len + 1);
	if (buf && fread(buf, 1, len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static void put_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static int count_files(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

#define SNAP	"20261126T031600Z-cap_spin-204-cpu-16"
#define SNAP_TXT "kholmes capture 16: cpu, pid 204 (cap_spin)\n\nthread 204\n"
#define SNAP_HEAD SNAP_TXT "\nkholmes profile 17: cpu, pid 204 (cap_spin), after capture 16 (cpu)\n\nran:"

TEST_F(dir, joined)
{
	struct kh_capture cap;
	struct kh_files fs;
	char failed[256], *txt, *again;

	decoded(_metadata, &cap, KHOLMES_PROFILE_CPU, false);
	put_file(self->path, SNAP ".txt", SNAP_TXT);
	put_file(self->path, SNAP ".json", "{}\n");
	/* decoys: another process's id 16, a capture after the profile, a .json alone */
	put_file(self->path, "20261126T031600Z-cap_spin-999-cpu-16.txt", "x");
	put_file(self->path, "20261126T031700Z-cap_spin-204-cpu-16.txt", "y");
	put_file(self->path, "20261126T031500Z-cap_spin-204-cpu-16.json", "z");
	/* an older capture of the same id, from before a module reload */
	put_file(self->path, "20261125T031600Z-cap_spin-204-cpu-16.txt", "old");

	ASSERT_EQ(0, kh_profile_write(&self->st, &cap, &fs, failed,
				      sizeof(failed))) TH_LOG("%s", failed);
	EXPECT_TRUE(fs.joined);
	EXPECT_STREQ(SNAP, fs.base);
	ASSERT_EQ(4U, fs.n);
	EXPECT_STREQ(SNAP ".cpu.json", fs.name[0]);
	EXPECT_STREQ(SNAP ".cpu.folded", fs.name[1]);
	EXPECT_STREQ(SNAP ".cpu.pb.gz", fs.name[2]);
	EXPECT_STREQ(SNAP ".txt", fs.name[3]);
	txt = slurp(self->path, SNAP ".txt");
	ASSERT_NE(NULL, txt);
	EXPECT_EQ(0, strncmp(txt, SNAP_HEAD, strlen(SNAP_HEAD))) TH_LOG("%s", txt);
	EXPECT_NE(NULL, strstr(txt, "spin_here"));
	/* the capture's own report is not repeated */
	EXPECT_EQ(NULL, strstr(txt, "kholmes capture 17"));
	/* written again (a crash before the acknowledgement): the same */
	ASSERT_EQ(0, kh_profile_write(&self->st, &cap, &fs, failed,
				      sizeof(failed)));
	again = slurp(self->path, SNAP ".txt");
	ASSERT_NE(NULL, again);
	EXPECT_STREQ(txt, again);
	free(again);
	free(txt);
	txt = slurp(self->path, SNAP ".cpu.folded");
	ASSERT_NE(NULL, txt);
	EXPECT_NE(NULL, strstr(txt, "main;spin_here 480\n"));
	free(txt);
	txt = slurp(self->path, SNAP ".cpu.json");
	ASSERT_NE(NULL, txt);
	EXPECT_NE(NULL, strstr(txt, "\"profile\""));
	free(txt);
	txt = slurp(self->path, "20261126T031600Z-cap_spin-999-cpu-16.txt");
	EXPECT_STREQ("x", txt);
	free(txt);
	txt = slurp(self->path, "20261125T031600Z-cap_spin-204-cpu-16.txt");
	EXPECT_STREQ("old", txt);
	free(txt);
	/* 6 before, 3 profile files; no temporary left */
	EXPECT_EQ(9, count_files(self->path));
	kh_capture_free(&cap);
}

/* Its capture rotated away (or a manual profile): a base of its own. */
TEST_F(dir, alone)
{
	struct kh_capture cap;
	struct kh_files fs;
	char failed[256], *txt;

	decoded(_metadata, &cap, KHOLMES_PROFILE_FAULTS, false);
	put_file(self->path, "20261126T031600Z-cap_spin-204-rss-16.json", "{}");
	ASSERT_EQ(0, kh_profile_write(&self->st, &cap, &fs, failed,
				      sizeof(failed)));
	EXPECT_FALSE(fs.joined);
	EXPECT_STREQ("20261126T031605Z-cap_spin-204-rss-17", fs.base);
	ASSERT_EQ(4U, fs.n);
	EXPECT_STREQ("20261126T031605Z-cap_spin-204-rss-17.faults.pb.gz",
		     fs.name[2]);
	EXPECT_STREQ("20261126T031605Z-cap_spin-204-rss-17.txt", fs.name[3]);
	txt = slurp(self->path, fs.name[3]);
	ASSERT_NE(NULL, txt);
	EXPECT_EQ(0, strncmp(txt, "kholmes capture 17: rss, pid 204 (cap_spin)\n", 44));
	EXPECT_NE(NULL, strstr(txt, "\n\nkholmes profile 17: faults, pid 204 (cap_spin), after capture 16 (rss)\n"));
	free(txt);
	kh_capture_free(&cap);

	decoded(_metadata, &cap, KHOLMES_PROFILE_CPU, true);
	ASSERT_EQ(0, kh_profile_write(&self->st, &cap, &fs, failed,
				      sizeof(failed)));
	EXPECT_FALSE(fs.joined);
	EXPECT_STREQ("20261126T031605Z-cap_spin-204-manual-17", fs.base);
	EXPECT_EQ(1 + 4 + 4, count_files(self->path));
	kh_capture_free(&cap);
}

/* ----------------------------------------------- command line, config */

#define ARGV(...)	((char *[]){ __VA_ARGS__ })
#define ARGC(...)	((int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(out, pe, ...)	\
	kh_parse_profile(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), out, pe)

TEST(parse_profile)
{
	struct kh_profile_arg pa;
	struct kh_parse_err pe;
	char msg[128];

	ASSERT_EQ(0, PARSE(&pa, &pe, "pid", "42"));
	EXPECT_EQ(42U, pa.pid);
	EXPECT_EQ((uint32_t)KHOLMES_PROFILE_CPU, pa.kind);
	EXPECT_FALSE(pa.has_seconds);
	EXPECT_FALSE(pa.has_hz);
	ASSERT_EQ(0, PARSE(&pa, &pe, "seconds", "2", "pid", "7", "hz", "999", "-j"));
	EXPECT_EQ(7U, pa.pid);
	EXPECT_TRUE(pa.has_seconds);
	EXPECT_EQ(2U, pa.seconds);
	EXPECT_EQ(999U, pa.hz);
	EXPECT_TRUE(pa.json);
	ASSERT_EQ(0, PARSE(&pa, &pe, "pid", "7", "faults", "seconds", "60"));
	EXPECT_EQ((uint32_t)KHOLMES_PROFILE_FAULTS, pa.kind);
	/* out of range is the kernel's to say: sent as typed */
	ASSERT_EQ(0, PARSE(&pa, &pe, "pid", "7", "seconds", "0", "hz", "100000"));
	EXPECT_EQ(0U, pa.seconds);

	EXPECT_EQ(-1, PARSE(&pa, &pe, "seconds", "2"));
	EXPECT_EQ(KH_PE_EMPTY, pe.kind);
	EXPECT_EQ(-1, PARSE(&pa, &pe, "pid"));
	EXPECT_EQ(KH_PE_MISSING, pe.kind);
	EXPECT_EQ(-1, PARSE(&pa, &pe, "pid", "x"));
	EXPECT_EQ(KH_PE_NUMBER, pe.kind);
	EXPECT_EQ(-1, PARSE(&pa, &pe, "pid", "1", "pid", "2"));
	EXPECT_EQ(KH_PE_TWICE, pe.kind);
	EXPECT_EQ(-1, PARSE(&pa, &pe, "pid", "1", "faults", "faults"));
	EXPECT_EQ(KH_PE_TWICE, pe.kind);
	EXPECT_EQ(-1, PARSE(&pa, &pe, "pid", "1", "hz", "-5"));
	EXPECT_EQ(-EDOM, pe.err);
	EXPECT_EQ(-1, PARSE(&pa, &pe, "pid", "1", "cpu"));
	EXPECT_EQ(KH_PE_KEYWORD, pe.kind);
	EXPECT_EQ(-1, PARSE(&pa, &pe, "pid", "1", "faults", "hz", "99"));
	EXPECT_EQ(KH_PE_CONFLICT, pe.kind);
	kh_parse_err_str(msg, sizeof(msg), &pe);
	EXPECT_STREQ("\"hz\" does not go with \"faults\"", msg);
}

TEST(config_keys)
{
	static const struct {
		const char *name;
		int id;
		enum kh_kw_type type;
	} keys[] = {
		{ "profile-s", KHOLMES_CFG_PROFILE_S, KH_KW_U32 },
		{ "profile-hz", KHOLMES_CFG_PROFILE_HZ, KH_KW_U32 },
		{ "profile-fault-period", KHOLMES_CFG_FAULT_PERIOD, KH_KW_U32 },
		{ "cpu-max", KHOLMES_CFG_CPU_MAX, KH_KW_U32 },
		{ "profiles", KHOLMES_CFG_PROFILES, KH_KW_ONOFF },
	};
	struct kh_config cfg = { .profile_s = 5, .profile_hz = 99,
				 .fault_period = 1, .cpu_max = 80,
				 .profiles = true };
	char *buf = NULL;
	json_object *o;
	size_t len, i;
	FILE *f;

	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct kh_keyword *kw = kh_keyword(kh_config_keys,
							 keys[i].name);

		ASSERT_NE(NULL, kw) TH_LOG("%s", keys[i].name);
		EXPECT_EQ(keys[i].id, kw->id);
		EXPECT_EQ(keys[i].type, kw->type);
		cfg.has |= 1U << keys[i].id;
	}
	o = reparse(kh_config_json(&cfg));
	EXPECT_EQ(5, json_object_get_int(key(o, "profile-s")));
	EXPECT_EQ(99, json_object_get_int(key(o, "profile-hz")));
	EXPECT_EQ(1, json_object_get_int(key(o, "profile-fault-period")));
	EXPECT_EQ(80, json_object_get_int(key(o, "cpu-max")));
	EXPECT_TRUE(json_object_is_type(key(o, "profiles"), json_type_boolean));
	EXPECT_TRUE(json_object_get_boolean(key(o, "profiles")));
	json_object_put(o);
	f = open_memstream(&buf, &len);
	kh_config_text(f, &cfg);
	fclose(f);
	EXPECT_NE(NULL, strstr(buf, "profile-s        5\n"));
	EXPECT_NE(NULL, strstr(buf, "profile-fault-period 1\n"));
	EXPECT_NE(NULL, strstr(buf, "cpu-max          80\n"));
	EXPECT_NE(NULL, strstr(buf, "profiles         on\n"));
	free(buf);
	/* a module without them: not shown */
	cfg.has = 0;
	o = reparse(kh_config_json(&cfg));
	EXPECT_EQ(NULL, key(o, "profiles"));
	EXPECT_EQ(NULL, key(o, "cpu-max"));
	json_object_put(o);
}

/* The queue says which captures are profiles, and of what. */
TEST(captures_list)
{
	struct kh_capture_sum sums[2] = {
		{ .id = 16, .pid = 204, .has_metric = true,
		  .metric = KHOLMES_METRIC_CPU, .threads = 1, .nr_threads = 1,
		  .bytes = 100 },
		{ .id = 17, .pid = 204, .has_metric = true,
		  .metric = KHOLMES_METRIC_RSS, .nr_threads = 1, .bytes = 2048,
		  .flags = KHOLMES_CAPTURE_F_PROFILE |
			   KHOLMES_CAPTURE_F_THREADS_TRUNC,
		  .has_profile_of = true, .profile_of = 16,
		  .profile_kind = KHOLMES_PROFILE_FAULTS },
	};
	json_object *a, *o;
	char *buf = NULL;
	size_t len;
	FILE *f;

	strcpy(sums[0].comm, "leak");
	strcpy(sums[1].comm, "leak");
	f = open_memstream(&buf, &len);
	kh_captures_text(f, sums, 2);
	fclose(f);
	EXPECT_NE(NULL, strstr(buf, "  rss (faults profile)        -  2.0KiB\n")) TH_LOG("%s", buf);
	EXPECT_NE(NULL, strstr(buf, "  cpu                         1    100B\n")) TH_LOG("%s", buf);
	free(buf);
	a = reparse(kh_captures_json(sums, 2));
	o = json_object_array_get_idx(a, 0);
	EXPECT_TRUE(json_object_is_type(key(o, "profile-kind"), json_type_null));
	EXPECT_TRUE(json_object_is_type(key(o, "profile-of"), json_type_null));
	o = json_object_array_get_idx(a, 1);
	EXPECT_STREQ("faults", json_object_get_string(key(o, "profile-kind")));
	EXPECT_EQ(16, json_object_get_int(key(o, "profile-of")));
	json_object_put(a);
}

TEST(status_counters)
{
	struct kh_status st = { 0 };
	char *buf = NULL;
	json_object *o;
	size_t len;
	FILE *f;

	st.stat[KHOLMES_STAT_PROFILES] = 3;
	st.stat[KHOLMES_STAT_PROFILES_SKIPPED] = 4;
	st.stat[KHOLMES_STAT_SATURATED] = 5;
	st.stat[KHOLMES_STAT_HOST_CPU] = 37512;
	st.stat[KHOLMES_STAT_PROFILE_SAMPLES] = 990;
	st.stat[KHOLMES_STAT_PROFILE_NS] = 123456;
	o = reparse(kh_status_json(&st));
	ASSERT_NE(NULL, o);
	EXPECT_EQ(3, json_object_get_int(key(o, "profiles-done")));
	/* the configuration's on|off keeps its name */
	EXPECT_EQ(NULL, key(o, "profiles"));
	EXPECT_EQ(4, json_object_get_int(key(o, "profiles-skipped")));
	EXPECT_EQ(5, json_object_get_int(key(o, "saturated")));
	EXPECT_STREQ("37.512", json_object_to_json_string(key(o, "host-cpu")));
	EXPECT_TRUE(json_object_is_type(key(o, "host-cpu"), json_type_double));
	EXPECT_EQ(990, json_object_get_int(key(o, "profile-samples")));
	EXPECT_EQ(123456, json_object_get_int(key(o, "profile-ns")));
	json_object_put(o);
	f = open_memstream(&buf, &len);
	kh_status_text(f, &st);
	fclose(f);
	EXPECT_NE(NULL, strstr(buf, "profiles-done    3\nprofiles-skipped 4\n"
				    "saturated        5\nhost-cpu         37.5\n"
				    "profile-samples  990\nprofile-ns       123456\n"))
		TH_LOG("%s", buf);
	free(buf);
}

TEST_HARNESS_MAIN
