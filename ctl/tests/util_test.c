// SPDX-License-Identifier: GPL-2.0
/*
 * The helpers every part of kholmesctl shares (util.h): decimal parsing at
 * its edges, the monotonic clock, arrays that grow.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"
#include "kselftest_harness.h"

static int dec(const char *s, uint64_t max, uint64_t *v)
{
	return kh_parse_dec(s, strlen(s), max, v);
}

TEST(parse_dec_edges)
{
	static const struct {
		const char *s;
		uint64_t max;
		int ret;
		uint64_t v;
	} cases[] = {
		{ "0", 10, 0, 0 },
		{ "007", 10, 0, 7 },
		{ "10", 10, 0, 10 },
		{ "11", 10, -ERANGE, 0 },
		{ "4294967295", UINT32_MAX, 0, UINT32_MAX },
		{ "4294967296", UINT32_MAX, -ERANGE, 0 },
		{ "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
		{ "18446744073709551616", UINT64_MAX, -ERANGE, 0 },
		{ "99999999999999999999999", UINT64_MAX, -ERANGE, 0 },
		{ "", UINT64_MAX, -EINVAL, 0 },
		{ "-1", UINT64_MAX, -EDOM, 0 },
		{ "-", UINT64_MAX, -EINVAL, 0 },
		{ "-x", UINT64_MAX, -EINVAL, 0 },
		{ "+1", UINT64_MAX, -EINVAL, 0 },
		{ " 1", UINT64_MAX, -EINVAL, 0 },
		{ "1 ", UINT64_MAX, -EINVAL, 0 },
		{ "12x", UINT64_MAX, -EINVAL, 0 },
		{ "0x10", UINT64_MAX, -EINVAL, 0 },
		{ "1.5", UINT64_MAX, -EINVAL, 0 },
		/* junk is junk even when the number would be too large */
		{ "99999999999999999999999x", UINT64_MAX, -EINVAL, 0 },
	};
	uint64_t v;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		v = 12345;
		EXPECT_EQ(cases[i].ret, dec(cases[i].s, cases[i].max, &v))
			TH_LOG("\"%s\"", cases[i].s);
		/* nothing is written on a refusal */
		EXPECT_EQ(cases[i].ret ? 12345 : cases[i].v, v)
			TH_LOG("\"%s\"", cases[i].s);
	}
}

/* len bounds what is read: a number inside a longer text, no NUL needed */
TEST(parse_dec_length)
{
	const char text[] = { '4', '2', 'x' };
	uint64_t v = 0;

	EXPECT_EQ(0, kh_parse_dec(text, 2, UINT64_MAX, &v));
	EXPECT_EQ(42U, v);
	EXPECT_EQ(-EINVAL, kh_parse_dec(text, 3, UINT64_MAX, &v));
	EXPECT_EQ(-EINVAL, kh_parse_dec(text, 0, UINT64_MAX, &v));
	EXPECT_EQ(-EINVAL, kh_parse_dec(NULL, 0, UINT64_MAX, &v));
}

TEST(now_ms_monotonic)
{
	struct timespec ts = { .tv_nsec = 20 * 1000 * 1000 };
	uint64_t a, b, us;

	a = kh_now_ms();
	us = kh_now_us();
	nanosleep(&ts, NULL);
	b = kh_now_ms();
	EXPECT_GE(b - a, 20U);
	EXPECT_LT(b - a, 10000U);
	/* the same clock */
	EXPECT_LE(a, us / 1000);
	EXPECT_LE(us / 1000, b);
}

TEST(grow_doubles)
{
	uint32_t *arr = NULL;
	size_t n, cap = 0, seen_cap[4] = { 0 };
	unsigned int changes = 0;

	for (n = 0; n < 100; n++) {
		ASSERT_EQ(0, KH_GROW(arr, n, cap, 4));
		ASSERT_GT(cap, n);
		if (changes < 4 && cap != (changes ? seen_cap[changes - 1] : 0))
			seen_cap[changes++] = cap;
		arr[n] = n;
	}
	EXPECT_EQ(4U, seen_cap[0]);
	EXPECT_EQ(8U, seen_cap[1]);
	EXPECT_EQ(16U, seen_cap[2]);
	EXPECT_EQ(32U, seen_cap[3]);
	EXPECT_EQ(128U, cap);
	for (n = 0; n < 100; n++)
		ASSERT_EQ(n, arr[n]);
	free(arr);
}

/* A size that would overflow: refused, the array as it was. */
TEST(grow_overflow)
{
	char *arr = malloc(4);
	char *before = arr;
	size_t cap = SIZE_MAX / 2 + 1;

	ASSERT_NE(NULL, arr);
	EXPECT_EQ(-ENOMEM, kh_grow(&arr, &cap, cap, 2, 8));
	EXPECT_EQ(before, arr);
	EXPECT_EQ(SIZE_MAX / 2 + 1, cap);
	free(arr);
}

TEST(grow_implied)
{
	uint64_t *arr = NULL;
	size_t n;

	for (n = 0; n < 1000; n++) {
		ASSERT_EQ(0, kh_grow_implied(&arr, n, sizeof(*arr)));
		arr[n] = n * 3;
	}
	for (n = 0; n < 1000; n++)
		ASSERT_EQ(n * 3, arr[n]);
	free(arr);
}

/*
 * kh_dl_load(): every pointer set from a library that has them all; none
 * set, and the missing name said, from one that lacks one; the loader's
 * words for a library that is not there.
 */
TEST(dl_load)
{
	static const char *const good[] = { "zlibVersion", "crc32" };
	static const char *const bad[] = { "zlibVersion", "kh_no_such_function" };
	void *a = NULL, *b = NULL;
	void **const ptrs[] = { &a, &b };
	char err[256];

	ASSERT_EQ(0, kh_dl_load("libz.so.1", good, ptrs, 2, err, sizeof(err)));
	EXPECT_NE(NULL, a);
	EXPECT_NE(NULL, b);
	/* zlibVersion() itself, called through the pointer */
	EXPECT_EQ('1', *((const char *(*)(void))a)());
	a = b = NULL;
	EXPECT_EQ(-ENOENT, kh_dl_load("libz.so.1", bad, ptrs, 2, err, sizeof(err)));
	EXPECT_EQ(NULL, a);
	EXPECT_EQ(NULL, b);
	EXPECT_STREQ("libz.so.1 has no kh_no_such_function", err);
	EXPECT_EQ(-ENOENT, kh_dl_load("libkh-none.so.9", good, ptrs, 2, err,
				      sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "libkh-none.so.9")) TH_LOG("%s", err);
	EXPECT_EQ(NULL, a);
}

TEST_HARNESS_MAIN
