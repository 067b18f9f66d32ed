/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every part of kholmesctl needs and would otherwise write again:
 * decimal numbers read exactly, the monotonic clock in ms, arrays that
 * grow as they fill.
 */
#ifndef KHOLMESCTL_UTIL_H
#define KHOLMESCTL_UTIL_H

#include <stddef.h>
#include <stdint.h>

/*
 * The len bytes at s as a decimal number of at most max: digits only (no
 * sign, blank, base prefix or trailing junk), so that what was typed or
 * stored is exactly what is used. 0, -EINVAL (empty, or not a number),
 * -EDOM (a negative number) or -ERANGE (above max).
 */
int kh_parse_dec(const char *s, size_t len, uint64_t max, uint64_t *out);

/* CLOCK_MONOTONIC, in ms and in µs */
uint64_t kh_now_ms(void);
uint64_t kh_now_us(void);

/*
 * Room for element n in *arrp, an array of elements of size bytes with
 * capacity *cap: doubled when full (first, when empty). 0, or -ENOMEM and
 * the array is as it was.
 */
int kh_grow(void *arrp, size_t *cap, size_t n, size_t size, size_t first);
/* As kh_grow, with the capacity implied by n: 8, then powers of two. */
int kh_grow_implied(void *arrp, size_t n, size_t size);

#define KH_GROW(arr, n, cap, first) \
	kh_grow(&(arr), &(cap), (n), sizeof(*(arr)), (first))

#endif
