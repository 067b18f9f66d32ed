// SPDX-License-Identifier: GPL-2.0
/*
 * khe_fp_walk() (include/kholmes_elf.h), the frame-pointer walk the module
 * runs on a sampled or captured thread's user stack, over a fake stack:
 * a frame is two words at a frame pointer, the next frame pointer and the
 * return address. What the walk hands on becomes a profile's or a
 * capture's user frames, so a word that cannot be a user pc must end it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "kholmes_elf.h"
#include "kselftest_harness.h"

#define BASE		0x7ffe00001000ULL	/* the fake stack's address */
#define WORDS		64
/* TASK_SIZE_MAX with 4-level paging */
#define USER_END	0x00007ffffffff000ULL

struct fake {
	__u64 w[WORDS];
	int reads;
};

static bool fake_read(void *ctx, __u64 addr, __u64 out[2])
{
	struct fake *f = ctx;
	__u64 i = (addr - BASE) / 8;

	f->reads++;
	if (addr < BASE || (addr - BASE) % 8 || i + 1 >= WORDS)
		return false;
	out[0] = f->w[i];
	out[1] = f->w[i + 1];
	return true;
}

/* Frame @i (at fp_of(i)): the next frame pointer and its return address. */
static void frame(struct fake *f, int i, __u64 next, __u64 ret)
{
	f->w[4 * i] = next;
	f->w[4 * i + 1] = ret;
}

static __u64 fp_of(int i)
{
	return BASE + 4 * i * 8;
}

TEST(chain_to_the_end)
{
	struct fake f = { 0 };
	__u64 pcs[8];
	bool fault, trunc;
	unsigned int n;

	frame(&f, 0, fp_of(1), 0x401010);
	frame(&f, 1, fp_of(2), 0x401020);
	frame(&f, 2, 0, 0x401030);	/* the outermost: no caller */
	frame(&f, 3, 0, 0);
	n = khe_fp_walk(0x401000, fp_of(0), USER_END, fake_read, &f, pcs, 8,
			&fault, &trunc);
	ASSERT_EQ(4, n);
	EXPECT_EQ(0x401000, pcs[0]);
	EXPECT_EQ(0x401010, pcs[1]);
	EXPECT_EQ(0x401020, pcs[2]);
	EXPECT_EQ(0x401030, pcs[3]);
	EXPECT_FALSE(fault);
	EXPECT_FALSE(trunc);
}

/*
 * Seen in a profile of a process whose code keeps no frame pointers
 * (hardening_test, 6.1, 4 December 2026): rbp held data, and the word
 * after it, 0xffffffff00000003 (two ints), was taken for a return address
 * and written out, where it reads as a kernel address.
 */
TEST(junk_return_address_ends_the_walk)
{
	static const __u64 junk[] = {
		0xffffffff00000003ULL,	/* the kernel half */
		0xffff888000000000ULL,	/* the direct map's start */
		0x0000800000000000ULL,	/* non-canonical */
		USER_END,		/* the first address past user space */
	};
	struct fake f = { 0 };
	bool fault, trunc;
	unsigned int n, i;
	__u64 pcs[8];

	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		memset(&f, 0, sizeof(f));
		frame(&f, 0, fp_of(1), 0x401010);
		frame(&f, 1, fp_of(2), junk[i]);
		frame(&f, 2, 0, 0x401030);
		n = khe_fp_walk(0x401000, fp_of(0), USER_END, fake_read, &f,
				pcs, 8, &fault, &trunc);
		EXPECT_EQ(2, n) TH_LOG("return address 0x%llx: %u pcs",
				       (unsigned long long)junk[i], n);
		EXPECT_EQ(0x401010, pcs[1]);
		EXPECT_FALSE(fault);
		EXPECT_FALSE(trunc);
	}
	/* the last user page is still user space */
	memset(&f, 0, sizeof(f));
	frame(&f, 0, 0, USER_END - 1);
	n = khe_fp_walk(0x401000, fp_of(0), USER_END, fake_read, &f, pcs, 8,
			&fault, &trunc);
	ASSERT_EQ(2, n);
	EXPECT_EQ(USER_END - 1, pcs[1]);
}

TEST(corrupt_chains_end)
{
	struct fake f = { 0 };
	bool fault, trunc;
	__u64 pcs[8];
	unsigned int n;

	/* a frame pointer that points back: no loop */
	frame(&f, 0, fp_of(1), 0x401010);
	frame(&f, 1, fp_of(0), 0x401020);
	n = khe_fp_walk(0x401000, fp_of(0), USER_END, fake_read, &f, pcs, 8,
			&fault, &trunc);
	EXPECT_EQ(3, n);
	EXPECT_GE(3, f.reads);

	/* unaligned: not read at all */
	f.reads = 0;
	n = khe_fp_walk(0x401000, fp_of(0) + 4, USER_END, fake_read, &f, pcs,
			8, &fault, &trunc);
	EXPECT_EQ(1, n);
	EXPECT_EQ(0, f.reads);

	/* unreadable: a fault, what came before kept */
	memset(&f, 0, sizeof(f));
	frame(&f, 0, BASE + WORDS * 8, 0x401010);	/* past the copy */
	n = khe_fp_walk(0x401000, fp_of(0), USER_END, fake_read, &f, pcs, 8,
			&fault, &trunc);
	EXPECT_EQ(2, n);
	EXPECT_TRUE(fault);
}

TEST(max_truncates)
{
	struct fake f = { 0 };
	bool fault, trunc;
	unsigned int n, i;
	__u64 pcs[4];

	for (i = 0; i < 10; i++)
		frame(&f, i, fp_of(i + 1), 0x401000 + 16 * (i + 1));
	n = khe_fp_walk(0x401000, fp_of(0), USER_END, fake_read, &f, pcs, 4,
			&fault, &trunc);
	EXPECT_EQ(4, n);
	EXPECT_TRUE(trunc);
	EXPECT_FALSE(fault);
	n = khe_fp_walk(0x401000, fp_of(0), USER_END, fake_read, &f, pcs, 0,
			&fault, &trunc);
	EXPECT_EQ(0, n);
}

TEST_HARNESS_MAIN
