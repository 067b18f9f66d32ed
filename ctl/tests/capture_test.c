// SPDX-License-Identifier: GPL-2.0
/*
 * A capture from its record stream to its files, without a kernel: the
 * stream built in memory as the module sends it (several records per
 * message, kernel frames and stack bytes split over records), malformed
 * and truncated streams that must cost a record and never the process,
 * then the folded aggregation and the text and JSON reports (parsed back
 * with json-c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/genl/genl.h>

#include "fmt.h"
#include "report.h"
#include "stream.h"
#include "kselftest_harness.h"

#define FAMILY		0x42
#define ID		42
#define PID		1234
#define SP		0x7ffc0000f000ULL
#define STACK_LEN	5000

static struct nl_msg *new_msg(void)
{
	struct nl_msg *msg = nlmsg_alloc_size(65536);

	if (msg)
		genlmsg_put(msg, 0, 1, FAMILY, 0, NLM_F_MULTI,
			    KHOLMES_CMD_GET_CAPTURE, KHOLMES_GENL_VERSION);
	return msg;
}

static void put_capture(struct nl_msg *msg, uint64_t id)
{
	struct nlattr *n, *r, *v;

	n = nla_nest_start(msg, KHOLMES_A_CAPTURE);
	nla_put_u64(msg, KHOLMES_CAPTURE_ID, id);
	/* 2026-11-26T03:16:00.123Z */
	nla_put_u64(msg, KHOLMES_CAPTURE_TIME_NS, 1795662960123000000ULL);
	nla_put_u64(msg, KHOLMES_CAPTURE_BOOT_NS, 372000000000ULL);
	nla_put_u32(msg, KHOLMES_CAPTURE_FLAGS, KHOLMES_CAPTURE_F_THREADS_TRUNC);
	nla_put_u32(msg, KHOLMES_CAPTURE_METRIC, KHOLMES_METRIC_CPU);
	nla_put_u64(msg, KHOLMES_CAPTURE_VALUE, 398200);
	nla_put_u64(msg, KHOLMES_CAPTURE_AVG, 1500);
	r = nla_nest_start(msg, KHOLMES_CAPTURE_RULE);
	nla_put_u32(msg, KHOLMES_RULE_METRIC, KHOLMES_METRIC_CPU);
	nla_put_u8(msg, KHOLMES_RULE_ENABLED, 1);
	nla_put_u32(msg, KHOLMES_RULE_MIN, 10);
	nla_put_u32(msg, KHOLMES_RULE_DIFF, 25);
	nla_put_u32(msg, KHOLMES_RULE_ABS, 70);
	nla_put_u32(msg, KHOLMES_RULE_COOLDOWN, 60);
	nla_nest_end(msg, r);
	nla_put_u32(msg, KHOLMES_CAPTURE_PID, PID);
	nla_put_string(msg, KHOLMES_CAPTURE_COMM, "spin");
	nla_put_string(msg, KHOLMES_CAPTURE_EXE, "/usr/bin/spin");
	nla_put_string(msg, KHOLMES_CAPTURE_CGROUP, "/system.slice/spin.service");
	nla_put_u32(msg, KHOLMES_CAPTURE_UID, 1000);
	nla_put_u64(msg, KHOLMES_CAPTURE_START_NS, 12000000000ULL);
	v = nla_nest_start(msg, KHOLMES_CAPTURE_VALUES);
	nla_put_u64(msg, KHOLMES_METRIC_ATTR(KHOLMES_METRIC_CPU), 398200);
	nla_put_u64(msg, KHOLMES_METRIC_ATTR(KHOLMES_METRIC_RSS), 12000);
	nla_nest_end(msg, v);
	v = nla_nest_start(msg, KHOLMES_CAPTURE_AVGS);
	nla_put_u64(msg, KHOLMES_METRIC_ATTR(KHOLMES_METRIC_CPU), 1500);
	nla_nest_end(msg, v);
	nla_put_u32(msg, KHOLMES_CAPTURE_NR_THREADS, 200);
	nla_put_u32(msg, KHOLMES_CAPTURE_THREADS, 2);
	nla_put_u64(msg, KHOLMES_CAPTURE_BYTES, 9000);
	nla_put_u32(msg, KHOLMES_CAPTURE_MAPPINGS, 2);
	nla_put_u64(msg, KHOLMES_CAPTURE_DURATION_NS, 1234567);
	nla_nest_end(msg, n);
}

static void put_mapping(struct nl_msg *msg, uint64_t start, uint64_t end,
			const char *path, const char *id, int id_len)
{
	struct nlattr *n = nla_nest_start(msg, KHOLMES_A_MAPPING);

	nla_put_u64(msg, KHOLMES_MAP_START, start);
	nla_put_u64(msg, KHOLMES_MAP_END, end);
	nla_put_u64(msg, KHOLMES_MAP_PGOFF, 0x1000);
	nla_put_u32(msg, KHOLMES_MAP_PROT, KHOLMES_MAP_R | KHOLMES_MAP_X);
	nla_put_u64(msg, KHOLMES_MAP_INODE, 77);
	nla_put_u32(msg, KHOLMES_MAP_DEV, 8 << 20 | 1);
	nla_put_string(msg, KHOLMES_MAP_PATH, path);
	if (id)
		nla_put(msg, KHOLMES_MAP_BUILD_ID, id_len, id);
	nla_nest_end(msg, n);
}

static void put_thread(struct nl_msg *msg, uint32_t tid, uint32_t flags,
		       bool user)
{
	uint64_t pcs[2] = { 0x401234, 0x401300 }, regs[KHOLMES_NR_UREGS];
	struct nlattr *n = nla_nest_start(msg, KHOLMES_A_THREAD);
	unsigned int i;

	for (i = 0; i < KHOLMES_NR_UREGS; i++)
		regs[i] = i;
	nla_put_u32(msg, KHOLMES_THREAD_TID, tid);
	nla_put_string(msg, KHOLMES_THREAD_COMM, "worker");
	nla_put_u8(msg, KHOLMES_THREAD_STATE, 'S');
	nla_put_u32(msg, KHOLMES_THREAD_FLAGS, flags);
	nla_put_u32(msg, KHOLMES_THREAD_CPU, 3);
	if (user) {
		nla_put(msg, KHOLMES_THREAD_UFRAMES, sizeof(pcs), pcs);
		nla_put(msg, KHOLMES_THREAD_UREGS, sizeof(regs), regs);
		nla_put_u64(msg, KHOLMES_THREAD_USTACK_SP, SP);
		nla_put_u32(msg, KHOLMES_THREAD_USTACK_LEN, STACK_LEN);
	}
	nla_nest_end(msg, n);
}

static void put_kstack(struct nl_msg *msg, uint32_t tid, uint32_t first,
		       const char *const *frames, int n)
{
	struct nlattr *k = nla_nest_start(msg, KHOLMES_A_KSTACK);
	int i;

	nla_put_u32(msg, KHOLMES_KSTACK_TID, tid);
	nla_put_u32(msg, KHOLMES_KSTACK_FIRST, first);
	for (i = 0; i < n; i++)
		nla_put_string(msg, KHOLMES_KSTACK_FRAME, frames[i]);
	nla_nest_end(msg, k);
}

static void put_ustack(struct nl_msg *msg, uint32_t tid, uint32_t off,
		       uint32_t len)
{
	struct nlattr *u = nla_nest_start(msg, KHOLMES_A_USTACK);
	uint8_t buf[KHOLMES_USTACK_CHUNK];
	uint32_t i;

	for (i = 0; i < len; i++)
		buf[i] = (off + i) & 0xff;
	nla_put_u32(msg, KHOLMES_USTACK_TID, tid);
	nla_put_u32(msg, KHOLMES_USTACK_OFFSET, off);
	nla_put(msg, KHOLMES_USTACK_DATA, len, buf);
	nla_nest_end(msg, u);
}

static const char *const kframes[] = {
	"__schedule+0x2f1/0x870", "schedule+0x5a/0xd0",
	"do_nanosleep+0x8a/0x1a0", "hrtimer_nanosleep+0xc1/0x1b0",
	"entry_SYSCALL_64_after_hwframe+0x6e/0xd8",
};

/* The stream as the module sends it, cut into two messages mid-thread. */
static void build(struct nl_msg **m1, struct nl_msg **m2)
{
	static const char id[] = "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"
				 "\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14";

	*m1 = new_msg();
	*m2 = new_msg();
	put_capture(*m1, ID);
	/* out of order on purpose: the decoder sorts by address */
	put_mapping(*m1, 0x7f0000000000ULL, 0x7f0000200000ULL,
		    "/usr/lib/x86_64-linux-gnu/libc.so.6", id, 20);
	put_mapping(*m1, 0x400000, 0x402000, "/usr/bin/spin", id, 20);
	/* the same file again: the kernel sends its build-id once */
	put_mapping(*m1, 0x402000, 0x403000, "/usr/bin/spin", NULL, 0);
	put_mapping(*m1, 0x500000, 0x501000, "[heap]", NULL, 0);
	put_thread(*m1, PID, 0, true);
	put_kstack(*m1, PID, 0, kframes, 2);
	put_kstack(*m2, PID, 2, kframes + 2, 3);
	put_ustack(*m2, PID, 0, KHOLMES_USTACK_CHUNK);
	put_ustack(*m2, PID, KHOLMES_USTACK_CHUNK, KHOLMES_USTACK_CHUNK);
	put_ustack(*m2, PID, 2 * KHOLMES_USTACK_CHUNK,
		   STACK_LEN - 2 * KHOLMES_USTACK_CHUNK);
	put_thread(*m2, PID + 1, KHOLMES_THREAD_F_RUNNING |
		   KHOLMES_THREAD_F_IN_USER | 0x10000, true);
}

TEST(stream)
{
	struct nl_msg *m1, *m2;
	struct kh_capture cap;
	struct kh_stream s;
	struct kh_thread *t;
	uint32_t i;

	build(&m1, &m2);
	ASSERT_NE(NULL, m1);
	kh_stream_init(&s, &cap, ID);
	EXPECT_EQ(0, kh_stream_msg(&s, nlmsg_hdr(m1)));
	EXPECT_EQ(0, kh_stream_msg(&s, nlmsg_hdr(m2)));
	ASSERT_EQ(0, kh_stream_end(&s));
	EXPECT_EQ(0U, cap.bad_records) TH_LOG("%s", cap.bad_why);

	EXPECT_EQ((uint64_t)ID, cap.sum.id);
	EXPECT_EQ(1795662960123000000ULL, cap.sum.time_ns);
	EXPECT_TRUE(cap.sum.has_metric);
	EXPECT_EQ((uint32_t)KHOLMES_METRIC_CPU, cap.sum.metric);
	EXPECT_EQ(398200U, cap.sum.value);
	EXPECT_EQ((uint32_t)PID, cap.sum.pid);
	EXPECT_STREQ("spin", cap.sum.comm);
	EXPECT_EQ(200U, cap.sum.nr_threads);
	EXPECT_EQ(2U, cap.sum.threads);
	EXPECT_TRUE(cap.has_rule);
	EXPECT_EQ(25U, cap.rule.diff);
	EXPECT_STREQ("/usr/bin/spin", cap.exe);
	EXPECT_STREQ("/system.slice/spin.service", cap.cgroup);
	EXPECT_EQ(1000U, cap.uid);
	EXPECT_EQ((1U << KHOLMES_METRIC_CPU) | (1U << KHOLMES_METRIC_RSS),
		  cap.has_value);
	EXPECT_EQ(1234567U, cap.duration_ns);

	ASSERT_EQ(4U, cap.nr_maps);
	EXPECT_EQ(0x400000U, cap.maps[0].start);
	EXPECT_STREQ("/usr/bin/spin", cap.maps[0].path);
	EXPECT_EQ(20, cap.maps[0].build_id_len);
	EXPECT_EQ(20, cap.maps[1].build_id_len);
	EXPECT_EQ(0x14, cap.maps[1].build_id[19]);
	EXPECT_STREQ("[heap]", cap.maps[2].path);
	EXPECT_EQ(0, cap.maps[2].build_id_len);
	EXPECT_EQ(0x14, cap.maps[3].build_id[19]);
	EXPECT_EQ((uint32_t)(8 << 20 | 1), cap.maps[3].dev);

	ASSERT_EQ(2U, cap.nr_threads);
	t = &cap.threads[0];
	EXPECT_EQ((uint32_t)PID, t->tid);
	EXPECT_EQ('S', t->state);
	EXPECT_EQ(3U, t->cpu);
	ASSERT_EQ(5U, t->nr_kframes);
	for (i = 0; i < 5; i++)
		EXPECT_STREQ(kframes[i], t->kframes[i]);
	EXPECT_FALSE(t->kframes_gap);
	ASSERT_EQ(2U, t->nr_uframes);
	EXPECT_EQ(0x401234U, t->uframes[0]);
	EXPECT_TRUE(t->has_uregs);
	EXPECT_EQ((uint64_t)KHOLMES_UREG_IP, t->uregs[KHOLMES_UREG_IP]);
	EXPECT_EQ(SP, t->ustack_sp);
	EXPECT_EQ((uint32_t)STACK_LEN, t->ustack_len);
	EXPECT_EQ((uint32_t)STACK_LEN, t->ustack_valid);
	for (i = 0; i < STACK_LEN; i++)
		if (t->ustack[i] != (i & 0xff))
			break;
	EXPECT_EQ((uint32_t)STACK_LEN, i);
	/* its stack copy never came: nothing of it is believed */
	EXPECT_EQ(0U, cap.threads[1].ustack_valid);
	EXPECT_EQ(0U, cap.threads[1].nr_kframes);

	kh_capture_free(&cap);
	nlmsg_free(m1);
	nlmsg_free(m2);
}

TEST(stream_refusals)
{
	struct nl_msg *msg = new_msg();
	struct kh_capture cap;
	struct kh_stream s;
	struct nlattr *n;
	uint64_t three[3] = { 1, 2, 3 };

	ASSERT_NE(NULL, msg);
	/* before the capture record */
	put_thread(msg, 1, 0, false);
	put_capture(msg, ID);
	put_capture(msg, ID);				/* twice */
	put_mapping(msg, 0x2000, 0x1000, "/x", NULL, 0);	/* backwards */
	put_mapping(msg, 0x1000, 0x2000, "/y", "toolongtoolongtoolong!", 22);
	put_kstack(msg, 99, 0, kframes, 1);		/* no such thread */
	put_thread(msg, 7, 0, true);
	put_ustack(msg, 7, STACK_LEN - 10, 11);		/* past the copy */
	put_ustack(msg, 7, 100, 10);			/* a gap before it */
	put_kstack(msg, 7, 3, kframes, 1);		/* frames 0..2 lost */
	n = nla_nest_start(msg, KHOLMES_A_THREAD);	/* registers of 3 */
	nla_put_u32(msg, KHOLMES_THREAD_TID, 8);
	nla_put(msg, KHOLMES_THREAD_UREGS, sizeof(three), three);
	nla_put_u32(msg, KHOLMES_THREAD_USTACK_LEN, 1 << 20);	/* huge */
	nla_put_u64(msg, KHOLMES_THREAD_USTACK_SP, SP);
	nla_nest_end(msg, n);
	n = nla_nest_start(msg, KHOLMES_A_THREAD);	/* no tid */
	nla_put_u32(msg, KHOLMES_THREAD_FLAGS, 0);
	nla_nest_end(msg, n);
	nla_put_u32(msg, KHOLMES_A_MAX + 5, 1);		/* a newer record */

	kh_stream_init(&s, &cap, ID);
	EXPECT_EQ(0, kh_stream_msg(&s, nlmsg_hdr(msg)));
	ASSERT_EQ(0, kh_stream_end(&s));
	EXPECT_EQ(9U, cap.bad_records);
	EXPECT_STREQ("a record before the capture record", cap.bad_why);
	ASSERT_EQ(1U, cap.nr_maps);
	EXPECT_EQ(0, cap.maps[0].build_id_len);
	ASSERT_EQ(2U, cap.nr_threads);
	EXPECT_EQ(0U, cap.threads[0].ustack_valid);
	EXPECT_TRUE(cap.threads[0].kframes_gap);
	EXPECT_EQ(1U, cap.threads[0].nr_kframes);
	EXPECT_FALSE(cap.threads[1].has_uregs);
	EXPECT_EQ(NULL, cap.threads[1].ustack);
	kh_capture_free(&cap);
	nlmsg_free(msg);
}

TEST(stream_fatal)
{
	struct nl_msg *msg = new_msg();
	struct kh_capture cap;
	struct kh_stream s;

	/* no capture record at all */
	put_thread(msg, 1, 0, false);
	kh_stream_init(&s, &cap, ID);
	kh_stream_msg(&s, nlmsg_hdr(msg));
	EXPECT_EQ(-EBADMSG, kh_stream_end(&s));
	kh_capture_free(&cap);
	nlmsg_free(msg);

	/* another capture's */
	msg = new_msg();
	put_capture(msg, ID + 1);
	kh_stream_init(&s, &cap, ID);
	kh_stream_msg(&s, nlmsg_hdr(msg));
	EXPECT_EQ(-EBADMSG, kh_stream_end(&s));
	kh_capture_free(&cap);
	nlmsg_free(msg);
}

/* A restarted dump forgets the first try. */
TEST(stream_reset)
{
	struct nl_msg *m1, *m2;
	struct kh_capture cap;
	struct kh_stream s;

	build(&m1, &m2);
	kh_stream_init(&s, &cap, ID);
	kh_stream_msg(&s, nlmsg_hdr(m1));
	kh_stream_reset(&s);
	kh_stream_msg(&s, nlmsg_hdr(m1));
	kh_stream_msg(&s, nlmsg_hdr(m2));
	ASSERT_EQ(0, kh_stream_end(&s));
	EXPECT_EQ(2U, cap.nr_threads);
	EXPECT_EQ(4U, cap.nr_maps);
	EXPECT_EQ(0U, cap.bad_records);
	kh_capture_free(&cap);
	nlmsg_free(m1);
	nlmsg_free(m2);
}

/*
 * Every truncation of a valid message, and the message with bytes flipped:
 * the header lengths are rewritten to match, so only the attributes lie.
 * A few seconds under ASan alone; past the harness's default 30 s on a
 * host loaded by test VMs.
 */
FIXTURE(stream) {};
FIXTURE_SETUP(stream) {}
FIXTURE_TEARDOWN(stream) {}

TEST_F_TIMEOUT(stream, truncated_and_corrupt, 180)
{
	struct nl_msg *m1, *m2;
	struct nlmsghdr *nlh, *copy;
	struct kh_capture cap;
	struct kh_stream s;
	size_t len, cut, i;
	unsigned int seed = 1;

	build(&m1, &m2);
	nlh = nlmsg_hdr(m1);
	len = nlh->nlmsg_len;
	copy = malloc(len);
	ASSERT_NE(NULL, copy);
	for (cut = NLMSG_HDRLEN + GENL_HDRLEN; cut <= len; cut++) {
		memcpy(copy, nlh, cut);
		copy->nlmsg_len = cut;
		kh_stream_init(&s, &cap, ID);
		kh_stream_msg(&s, copy);
		kh_stream_end(&s);
		kh_capture_free(&cap);
	}
	for (i = 0; i < 20000; i++) {
		size_t at = NLMSG_HDRLEN + GENL_HDRLEN +
			    rand_r(&seed) % (len - NLMSG_HDRLEN - GENL_HDRLEN);

		memcpy(copy, nlh, len);
		((uint8_t *)copy)[at] ^= 1 << (rand_r(&seed) % 8);
		kh_stream_init(&s, &cap, ID);
		kh_stream_msg(&s, copy);
		kh_stream_msg(&s, nlmsg_hdr(m2));
		kh_stream_end(&s);
		kh_capture_free(&cap);
	}
	free(copy);
	nlmsg_free(m1);
	nlmsg_free(m2);
}

/* ------------------------------------------------------------ writers */

static struct kh_uframe uf(uint64_t pc, int map, const char *func,
			   uint64_t off, uint64_t file_off)
{
	return (struct kh_uframe){ .pc = pc, .map = map, .func_off = off,
				   .func = func ? strdup(func) : NULL,
				   .file_off = file_off };
}

static void set_frames(struct kh_ustack *us, const struct kh_uframe *f,
		       size_t n)
{
	us->f = malloc(n * sizeof(*f));
	memcpy(us->f, f, n * sizeof(*f));
	us->n = n;
}

static char *kdup(const char *s)
{
	return strdup(s);
}

/* Four threads: two alike, one kernel-only, one with nothing. */
static void decoded(struct kh_capture *cap)
{
	struct nl_msg *m1, *m2;
	struct kh_stream s;
	struct kh_thread *t;
	size_t i;

	build(&m1, &m2);
	kh_stream_init(&s, cap, ID);
	kh_stream_msg(&s, nlmsg_hdr(m1));
	kh_stream_msg(&s, nlmsg_hdr(m2));
	kh_stream_end(&s);
	nlmsg_free(m1);
	nlmsg_free(m2);
	cap->threads = realloc(cap->threads, 4 * sizeof(*cap->threads));
	memset(cap->threads + 2, 0, 2 * sizeof(*cap->threads));
	cap->nr_threads = 4;

	/* thread 0: dwarf, libc unsymbolized by a mismatch, then spin */
	t = &cap->threads[0];
	set_frames(&t->dwarf, (struct kh_uframe[]){
		uf(0x7f0000001503, 3, "clock_nanosleep", 0x23, 0x2503),
		uf(0x7f0000005e53, 3, NULL, 0, 0x6e53),
		uf(0x401300, 0, "spin_here", 0x2a, 0x1300),
		uf(0x401400, 0, "main", 0x10, 0x1400),
	}, 4);
	t->dwarf.f[0].activation = true;
	set_frames(&t->fp, (struct kh_uframe[]){
		uf(0x7f0000001503, 3, "clock_nanosleep", 0x23, 0x2503),
	}, 1);
	t->shown = KH_UNW_DWARF;
	cap->maps[3].state = KH_FILE_MISMATCH;
	cap->maps[3].disk_build_id_len = 2;
	cap->maps[3].disk_build_id[0] = 0xab;
	cap->maps[3].disk_build_id[1] = 0xcd;

	/* thread 1: the same stacks as thread 0 */
	t = &cap->threads[1];
	for (i = 0; i < cap->threads[0].nr_kframes; i++) {
		t->kframes = realloc(t->kframes, (i + 1) * sizeof(char *));
		t->kframes[i] = kdup(cap->threads[0].kframes[i]);
	}
	t->nr_kframes = i;
	set_frames(&t->dwarf, (struct kh_uframe[]){
		uf(0x7f0000001503, 3, "clock_nanosleep", 0x23, 0x2503),
		uf(0x7f0000005e53, 3, NULL, 0, 0x6e53),
		uf(0x401300, 0, "spin_here", 0x2a, 0x1300),
		uf(0x401400, 0, "main", 0x10, 0x1400),
	}, 4);
	t->shown = KH_UNW_DWARF;

	/* thread 2: a kernel thread */
	t = &cap->threads[2];
	t->tid = 2;
	t->state = 'I';
	t->flags = KHOLMES_THREAD_F_NO_USER;
	t->kframes = malloc(2 * sizeof(char *));
	t->kframes[0] = kdup("worker_thread+0x1/0x2 [mymod]");
	t->kframes[1] = kdup("kthread+0xe8/0x120");
	t->nr_kframes = 2;

	/* thread 3: nothing at all, a name to escape */
	t = &cap->threads[3];
	t->tid = 3;
	t->state = 'R';
	strcpy(t->comm, "bad\"\n\xff;x");
}

TEST(folded)
{
	struct kh_capture cap;
	struct kh_folded *lines;
	size_t n, i;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	decoded(&cap);
	ASSERT_EQ(0, kh_folded_build(&cap, &lines, &n));
	ASSERT_EQ(3U, n) {
		for (i = 0; i < n; i++)
			TH_LOG("%s %u", lines[i].stack, lines[i].count);
	}
	/* sorted; identical stacks counted; root first; names bare */
	EXPECT_STREQ("[no stack]", lines[0].stack);
	EXPECT_EQ(1U, lines[0].count);
	EXPECT_STREQ("kthread;worker_thread", lines[1].stack);
	EXPECT_STREQ("main;spin_here;/usr/lib/x86_64-linux-gnu/libc.so.6+0x6e53;"
		     "clock_nanosleep;entry_SYSCALL_64_after_hwframe;"
		     "hrtimer_nanosleep;do_nanosleep;schedule;__schedule",
		     lines[2].stack);
	EXPECT_EQ(2U, lines[2].count);
	kh_folded_free(lines, n);

	f = open_memstream(&buf, &len);
	ASSERT_EQ(0, kh_report_folded(f, &cap));
	fclose(f);
	EXPECT_EQ(0, strncmp(buf, "[no stack] 1\nkthread;worker_thread 1\nmain;", 42));
	EXPECT_NE(NULL, strstr(buf, ";__schedule 2\n"));
	free(buf);
	kh_capture_free(&cap);
}

/* A frame name cannot break the format: ';' and newlines are replaced. */
TEST(folded_escaping)
{
	struct kh_capture cap = { 0 };
	struct kh_thread t = { .state = 'S' };
	struct kh_folded *lines;
	char *k = strdup("evil;frame\n+0x1/0x2");
	size_t n;

	t.kframes = &k;
	t.nr_kframes = 1;
	cap.threads = &t;
	cap.nr_threads = 1;
	ASSERT_EQ(0, kh_folded_build(&cap, &lines, &n));
	ASSERT_EQ(1U, n);
	EXPECT_STREQ("evil_frame_", lines[0].stack);
	kh_folded_free(lines, n);
	free(k);
}

TEST(kframe_func)
{
	char buf[64];

	kh_kframe_func(buf, sizeof(buf), "do_nanosleep+0x8a/0x1a0");
	EXPECT_STREQ("do_nanosleep", buf);
	kh_kframe_func(buf, sizeof(buf), "f+0x1/0x2 [mod]");
	EXPECT_STREQ("f", buf);
	kh_kframe_func(buf, sizeof(buf), "?");
	EXPECT_STREQ("?", buf);
	kh_kframe_func(buf, sizeof(buf), "foo.constprop.0+0x10/0x20");
	EXPECT_STREQ("foo.constprop.0", buf);
}

TEST(txt)
{
	struct kh_capture cap;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	decoded(&cap);
	f = open_memstream(&buf, &len);
	ASSERT_EQ(0, kh_report_txt(f, &cap));
	fclose(f);
	EXPECT_NE(NULL, strstr(buf, "kholmes capture 42: cpu, pid 1234 (spin)\n"));
	EXPECT_NE(NULL, strstr(buf, "trigger:    cpu (its rule fired)\n"));
	EXPECT_NE(NULL, strstr(buf, "value:      398.2 %\n"));
	EXPECT_NE(NULL, strstr(buf, "average:    1.5 % over the window before it\n"));
	EXPECT_NE(NULL, strstr(buf, "rule:       min 10 %, diff 25 %, abs 70 %, cooldown 60 s\n"));
	EXPECT_NE(NULL, strstr(buf, "why:        398.2 % is at least min 10 %, and at least 1.9 % (the average + 25 %), and above the ceiling abs 70 %\n"));
	EXPECT_NE(NULL, strstr(buf, "exe:        /usr/bin/spin\n"));
	EXPECT_NE(NULL, strstr(buf, "cgroup:     /system.slice/spin.service\n"));
	EXPECT_NE(NULL, strstr(buf, "uid:        1000\n"));
	EXPECT_NE(NULL, strstr(buf, "started:    2026-11-26T03:10:00.123Z (360.000 s before the capture)\n"));
	EXPECT_NE(NULL, strstr(buf, "captured:   2026-11-26T03:16:00.123Z (372.000 s after boot), took 1.234 ms\n"));
	EXPECT_NE(NULL, strstr(buf, "threads:    2 captured of 200\n"));
	EXPECT_NE(NULL, strstr(buf, "  cpu               398.2 %          1.5 %\n"));
	EXPECT_NE(NULL, strstr(buf, "  - threads truncated: 2 of 200 captured (max-threads)\n"));
	EXPECT_NE(NULL, strstr(buf, "  - 4 thread records received, the capture announced 2\n"));
	EXPECT_NE(NULL, strstr(buf, "libc.so.6: the file on disk is another build (build-id abcd, mapped 0102030405060708090a0b0c0d0e0f1011121314)"));
	EXPECT_NE(NULL, strstr(buf, "\nthread 1234 (worker) state S cpu 3\n  kernel stack:\n    __schedule+0x2f1/0x870\n"));
	EXPECT_NE(NULL, strstr(buf, "  user stack (dwarf (libdw CFI)):\n"
		  "    #0  0x00007f0000001503 clock_nanosleep+0x23 (/usr/lib/x86_64-linux-gnu/libc.so.6)\n"
		  "    #1  0x00007f0000005e53 /usr/lib/x86_64-linux-gnu/libc.so.6+0x6e53 [0102030405060708090a0b0c0d0e0f1011121314]\n"
		  "    #2  0x0000000000401300 spin_here+0x2a (/usr/bin/spin)\n"));
	EXPECT_NE(NULL, strstr(buf, "  frame-pointer walk: 1 frame\n"));
	EXPECT_NE(NULL, strstr(buf, "flags: running on a CPU: its stacks were taken there; was running in user mode; 0x10000\n"));
	EXPECT_NE(NULL, strstr(buf, "\nthread 2 () state I\n  flags: kernel thread: no user stack\n"));
	EXPECT_NE(NULL, strstr(buf, "  user stack: none (kernel thread)\n"));
	EXPECT_NE(NULL, strstr(buf, "thread 3 (bad\"??;x) state R\n  kernel stack: none\n"));
	free(buf);
	kh_capture_free(&cap);
}

TEST(txt_manual_fp)
{
	struct kh_capture cap;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	decoded(&cap);
	cap.sum.has_metric = false;
	cap.sum.flags = KHOLMES_CAPTURE_F_MANUAL | KHOLMES_CAPTURE_F_EXITED;
	cap.threads[0].shown = KH_UNW_FP;
	snprintf(cap.threads[0].dwarf.stop, sizeof(cap.threads[0].dwarf.stop),
		 "no copy of the stack");
	cap.threads[0].flags = KHOLMES_THREAD_F_RUNNING;
	f = open_memstream(&buf, &len);
	ASSERT_EQ(0, kh_report_txt(f, &cap));
	fclose(f);
	EXPECT_NE(NULL, strstr(buf, "kholmes capture 42: manual, pid 1234 (spin)\n"));
	EXPECT_NE(NULL, strstr(buf, "trigger:    manual (requested with kholmesctl capture)\n"));
	EXPECT_EQ(NULL, strstr(buf, "why:"));
	EXPECT_NE(NULL, strstr(buf, "the process exited during the capture"));
	EXPECT_NE(NULL, strstr(buf, "  user stack (frame pointers):\n    (frame pointers: the dwarf unwind found 4 frames: no copy of the stack; the thread was running, its frames were walked where it ran)\n    #0  0x00007f0000001503 clock_nanosleep+0x23"));
	free(buf);
	kh_capture_free(&cap);
}

static json_object *key(json_object *o, const char *k)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, k, &v);
	return v;
}

static json_object *idx(json_object *a, size_t i)
{
	return json_object_array_get_idx(a, i);
}

TEST(json)
{
	json_object *o, *back, *t, *fr, *m;
	struct kh_capture cap;
	const char *s;

	decoded(&cap);
	/* bytes a kernel may cut mid-character, in a name and a path */
	strcpy(cap.sum.comm, "sp\xc3");
	free(cap.maps[0].path);
	cap.maps[0].path = strdup("/opt/\"q\"/\x01\xfe.bin");
	o = kh_report_json(&cap);
	ASSERT_NE(NULL, o);
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	back = json_tokener_parse(s);
	ASSERT_NE(NULL, back) TH_LOG("%s", s);
	json_object_put(o);

	EXPECT_STREQ("kholmes-capture", json_object_get_string(key(back, "format")));
	EXPECT_EQ(1, json_object_get_int(key(back, "format-version")));
	EXPECT_EQ(42, json_object_get_int64(key(back, "id")));
	EXPECT_STREQ("2026-11-26T03:16:00.123Z",
		     json_object_get_string(key(back, "time")));
	EXPECT_STREQ("cpu", json_object_get_string(key(back, "trigger")));
	EXPECT_STREQ("398.2", json_object_get_string(
		key(key(back, "detection"), "value")));
	EXPECT_EQ(25, json_object_get_int(
		key(key(key(back, "detection"), "rule"), "diff")));
	EXPECT_STREQ("threads-truncated", json_object_get_string(
		idx(key(back, "flags"), 0)));
	EXPECT_EQ(PID, json_object_get_int(key(back, "pid")));
	EXPECT_STREQ("sp\xef\xbf\xbd", json_object_get_string(key(back, "comm")));
	EXPECT_STREQ("/usr/bin/spin", json_object_get_string(key(back, "exe")));
	EXPECT_EQ(1000, json_object_get_int(key(back, "uid")));
	EXPECT_STREQ("2026-11-26T03:10:00.123Z", json_object_get_string(
		key(back, "start-time")));
	EXPECT_STREQ("398.2", json_object_get_string(
		key(key(back, "values"), "cpu")));
	EXPECT_EQ(200, json_object_get_int(key(back, "nr-threads")));
	EXPECT_EQ(2, json_object_get_int(key(back, "threads-captured")));

	m = key(back, "mappings");
	ASSERT_EQ(4U, json_object_array_length(m));
	EXPECT_STREQ("0x400000", json_object_get_string(key(idx(m, 0), "start")));
	EXPECT_STREQ("r-xp", json_object_get_string(key(idx(m, 0), "perms")));
	EXPECT_STREQ("8:1", json_object_get_string(key(idx(m, 0), "dev")));
	EXPECT_STREQ("/opt/\"q\"/\x01\xef\xbf\xbd.bin",
		     json_object_get_string(key(idx(m, 0), "path")));
	EXPECT_STREQ("mismatch", json_object_get_string(key(idx(m, 3), "file")));
	EXPECT_STREQ("abcd", json_object_get_string(key(idx(m, 3), "disk-build-id")));
	EXPECT_TRUE(json_object_is_type(key(idx(m, 2), "build-id"), json_type_null));

	t = idx(key(back, "threads"), 0);
	EXPECT_EQ(1234, json_object_get_int(key(t, "tid")));
	EXPECT_STREQ("S", json_object_get_string(key(t, "state")));
	EXPECT_EQ(5U, json_object_array_length(key(t, "kstack")));
	EXPECT_STREQ("dwarf", json_object_get_string(
		key(key(t, "ustack"), "unwinder")));
	EXPECT_EQ(4U, json_object_array_length(key(key(t, "ustack"), "frames")));
	EXPECT_STREQ("fp", json_object_get_string(
		key(key(t, "ustack-fp"), "unwinder")));
	EXPECT_EQ(1U, json_object_array_length(key(key(t, "ustack-fp"), "frames")));
	EXPECT_EQ(4U, json_object_array_length(
		key(key(t, "ustack-dwarf"), "frames")));
	fr = idx(key(key(t, "ustack"), "frames"), 0);
	EXPECT_STREQ("0x7f0000001503", json_object_get_string(key(fr, "pc")));
	EXPECT_STREQ("clock_nanosleep", json_object_get_string(key(fr, "func")));
	EXPECT_EQ(0x23, json_object_get_int(key(fr, "offset")));
	EXPECT_EQ(0x2503, json_object_get_int(key(fr, "file-offset")));
	fr = idx(key(key(t, "ustack"), "frames"), 1);
	EXPECT_TRUE(json_object_is_type(key(fr, "func"), json_type_null));
	EXPECT_STREQ("0102030405060708090a0b0c0d0e0f1011121314",
		     json_object_get_string(key(fr, "build-id")));
	EXPECT_STREQ("0x7ffc0000f000", json_object_get_string(
		key(key(t, "ustack-copy"), "sp")));
	EXPECT_EQ(STACK_LEN, json_object_get_int(
		key(key(t, "ustack-copy"), "received")));

	t = idx(key(back, "threads"), 2);
	EXPECT_STREQ("none", json_object_get_string(
		key(key(t, "ustack"), "unwinder")));
	EXPECT_STREQ("no-user", json_object_get_string(idx(key(t, "flags"), 0)));
	t = idx(key(back, "threads"), 3);
	EXPECT_STREQ("bad\"\n\xef\xbf\xbd;x", json_object_get_string(key(t, "comm")));

	json_object_put(back);
	kh_capture_free(&cap);
}

TEST_HARNESS_MAIN
