/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Pure parsing that the module and the host unit tests compile alike: the
 * GNU build-id of an ELF64 file from its first bytes, and a user stack's
 * frame-pointer walk over a caller-supplied reader. No allocation, every
 * length bounds-checked: the input is another process's memory or file.
 */
#ifndef _KHOLMES_ELF_H
#define _KHOLMES_ELF_H

#ifdef __KERNEL__
#include <linux/string.h>
#include <linux/types.h>
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <linux/types.h>
#endif

#define KHE_PT_NOTE		4
#define KHE_NT_GNU_BUILD_ID	3
#define KHE_EHDR_SIZE		64
#define KHE_PHDR_SIZE		56

static inline __u16 khe_u16(const unsigned char *p)
{
	return p[0] | (p[1] << 8);
}

static inline __u32 khe_u32(const unsigned char *p)
{
	return khe_u16(p) | ((__u32)khe_u16(p + 2) << 16);
}

static inline __u64 khe_u64(const unsigned char *p)
{
	return khe_u32(p) | ((__u64)khe_u32(p + 4) << 32);
}

/*
 * Check a little-endian ELF64 header in buf and find its program headers.
 * Returns 0 and sets *phoff and *phnum, or -1 when buf is not one.
 */
static inline int khe_ehdr(const void *buf, size_t len, __u64 *phoff,
			   __u32 *phnum)
{
	const unsigned char *e = buf;

	if (len < KHE_EHDR_SIZE || memcmp(e, "\177ELF", 4) ||
	    e[4] != 2 /* ELFCLASS64 */ || e[5] != 1 /* ELFDATA2LSB */)
		return -1;
	if (khe_u16(e + 54) != KHE_PHDR_SIZE)
		return -1;
	*phoff = khe_u64(e + 32);
	*phnum = khe_u16(e + 56);
	return 0;
}

/*
 * Program header i of the table in buf (which starts at file offset
 * `base`): if it is PT_NOTE, set its file range and return 1; 0 if it is
 * another type, -1 if the table does not fit in buf.
 */
static inline int khe_phdr_note(const void *buf, size_t len, __u64 base,
				__u64 phoff, __u32 i, __u64 *off, __u64 *size)
{
	const unsigned char *p;
	__u64 at;

	if (phoff < base)
		return -1;
	at = phoff - base + (__u64)i * KHE_PHDR_SIZE;
	if (at > len || len - at < KHE_PHDR_SIZE)
		return -1;
	p = (const unsigned char *)buf + at;
	if (khe_u32(p) != KHE_PT_NOTE)
		return 0;
	*off = khe_u64(p + 8);
	*size = khe_u64(p + 32);
	return 1;
}

/*
 * Find the GNU build-id note in a buffer of notes. Returns its length
 * (copied into id, at most idmax bytes) or 0 when there is none.
 */
static inline unsigned int khe_build_id(const void *notes, size_t len,
					unsigned char *id, unsigned int idmax)
{
	const unsigned char *p = notes;
	size_t at = 0;

	while (len - at >= 12) {
		__u32 namesz = khe_u32(p + at);
		__u32 descsz = khe_u32(p + at + 4);
		__u32 type = khe_u32(p + at + 8);
		size_t name_al = ((size_t)namesz + 3) & ~(size_t)3;
		size_t desc_al = ((size_t)descsz + 3) & ~(size_t)3;
		size_t body = at + 12;

		if (name_al > len - body || desc_al > len - body - name_al)
			return 0;
		if (type == KHE_NT_GNU_BUILD_ID && namesz == 4 &&
		    !memcmp(p + body, "GNU", 4) && descsz && descsz <= idmax) {
			memcpy(id, p + body + name_al, descsz);
			return descsz;
		}
		at = body + name_al + desc_al;
	}
	return 0;
}

/*
 * Walk a user stack by frame pointers: pcs[0] = ip, then the return
 * address of each frame whose saved frame pointer `read` can fetch. A
 * frame pointer must be 8-aligned and each next one higher than the last,
 * and a return address below user_end (the end of the user address
 * space: TASK_SIZE_MAX in the kernel), so a corrupt chain ends the walk
 * instead of looping or handing on a word that cannot be a user pc (code
 * built without frame pointers leaves any data in rbp: a walk of such a
 * stack read 0xffffffff00000003, a pair of ints, as a return address,
 * and a profile's files then held what looks like a kernel address).
 * Returns the number of pcs; *fault is set when a frame could not be
 * read, *trunc when max was reached with frames left.
 */
typedef bool (*khe_read_fn)(void *ctx, __u64 addr, __u64 out[2]);

static inline unsigned int khe_fp_walk(__u64 ip, __u64 bp, __u64 user_end,
				       khe_read_fn read, void *ctx, __u64 *pcs,
				       unsigned int max, bool *fault,
				       bool *trunc)
{
	unsigned int n = 0;
	__u64 w[2];

	*fault = false;
	*trunc = false;
	if (!max)
		return 0;
	pcs[n++] = ip;
	while (bp && !(bp & 7)) {
		if (!read(ctx, bp, w)) {
			*fault = true;
			break;
		}
		if (!w[1] || w[1] >= user_end)
			break;
		if (n == max) {
			*trunc = true;
			break;
		}
		pcs[n++] = w[1];
		if (w[0] <= bp)
			break;
		bp = w[0];
	}
	return n;
}

#endif /* _KHOLMES_ELF_H */
