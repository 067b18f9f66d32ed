/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every part of kholmesctl needs and would otherwise write again:
 * decimal numbers read exactly, the monotonic clock in ms, arrays that
 * grow as they fill, libraries loaded when first needed.
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

/*
 * A library kholmesctl loads when a run first needs it, not at its start
 * (libcurl, libdw, libkmod): dlopen(@soname) and, for each of the @n
 * @names, its address in *@ptrs[i]. 0, the library then staying loaded;
 * or -ENOENT, no pointer set, and why in @err (the loader's words, or
 * the symbol missing).
 */
int kh_dl_load(const char *soname, const char *const *names, void **const *ptrs,
	       size_t n, char *err, size_t len);

/*
 * With X a list of a library's functions, X(f) for each (KH_DL_NAME and
 * KH_DL_PTR make the two arrays kh_dl_load() takes; KH_DL_DECL the
 * pointers, p_<f>, typed as <f> is declared).
 */
#define KH_DL_DECL(f)	static typeof(f) *p_##f;
#define KH_DL_NAME(f)	#f,
#define KH_DL_PTR(f)	(void **)&p_##f,

#endif
