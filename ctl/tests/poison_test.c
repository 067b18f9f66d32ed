// SPDX-License-Identifier: GPL-2.0
/*
 * One bad capture must not wedge the rest: a malformed entry of the
 * queue's list keeps its id (or is skipped) instead of failing the list,
 * and a capture whose record stream cannot be read whole is made writable
 * as far as it goes, from the list's summary, saying why.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/attr.h>
#include <netlink/msg.h>

#include "decode.h"
#include "report.h"
#include "stream.h"
#include "unwind.h"
#include "kselftest_harness.h"

/* A KHOLMES_A_CAPTURE nest: whole, poisoned (a field of the wrong size), or without an id. */
enum entry { WHOLE, POISONED, NO_ID };

static struct nlattr *entry(struct nl_msg *m, enum entry kind, uint64_t id)
{
	struct nlattr *nest = nla_nest_start(m, KHOLMES_A_CAPTURE);
	uint8_t bad = 1;

	if (!nest)
		return NULL;
	if (kind != NO_ID && nla_put_u64(m, KHOLMES_CAPTURE_ID, id))
		return NULL;
	if (nla_put_u64(m, KHOLMES_CAPTURE_TIME_NS, 1764126960000000000ULL) ||
	    nla_put_u32(m, KHOLMES_CAPTURE_PID, 42))
		return NULL;
	if (kind != WHOLE && nla_put(m, KHOLMES_CAPTURE_FLAGS, 1, &bad))
		return NULL;
	nla_nest_end(m, nest);
	return nest;
}

TEST(list_entries)
{
	static const struct {
		enum entry kind;
		int ret;
	} cases[] = {
		{ WHOLE, 0 }, { POISONED, 1 }, { NO_ID, -EBADMSG }, { WHOLE, 0 },
	};
	struct kh_capture_sum sum;
	struct nlattr *a;
	struct nl_msg *m;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		m = nlmsg_alloc();
		ASSERT_NE(NULL, m);
		a = entry(m, cases[i].kind, 100 + i);
		ASSERT_NE(NULL, a);
		EXPECT_EQ(cases[i].ret, kh_decode_list_entry(a, &sum))
			TH_LOG("case %zu", i);
		if (cases[i].ret >= 0)
			EXPECT_EQ(100 + i, sum.id);
		if (cases[i].ret == 0)
			EXPECT_EQ(42U, sum.pid);
		nlmsg_free(m);
	}
}

/*
 * A record stream with no capture record (what a poisoned capture gives
 * every time): salvaged from the list's summary, it unwinds and reports,
 * and its report says why it is incomplete.
 */
TEST(salvage_without_capture_record)
{
	struct kh_capture_sum listed = { .id = 9, .pid = 77,
					 .time_ns = 1764126960000000000ULL };
	struct kh_capture cap;
	struct kh_stream s;
	size_t len = 0;
	char *text = NULL;
	FILE *f;

	snprintf(listed.comm, sizeof(listed.comm), "poisoned");
	kh_stream_init(&s, &cap, 9);
	EXPECT_EQ(-EBADMSG, kh_stream_end(&s));
	ASSERT_EQ(0, kh_stream_salvage(&s, &listed, "not read whole after 3 tries: x"));
	EXPECT_EQ(9U, cap.sum.id);
	EXPECT_EQ(77U, cap.sum.pid);
	EXPECT_EQ(1U, cap.bad_records);
	ASSERT_EQ(0, kh_unwind(&cap));
	f = open_memstream(&text, &len);
	ASSERT_NE(NULL, f);
	ASSERT_EQ(0, kh_report_txt(f, &cap));
	fclose(f);
	EXPECT_NE(NULL, strstr(text, "not read whole after 3 tries: x")) TH_LOG("%s", text);
	EXPECT_NE(NULL, strstr(text, "poisoned")) TH_LOG("%s", text);
	free(text);
	kh_capture_free(&cap);
}

TEST_HARNESS_MAIN
