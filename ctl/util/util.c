// SPDX-License-Identifier: GPL-2.0
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

int kh_parse_dec(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!s || !len)
		return -EINVAL;
	if (s[0] == '-')
		return len > 1 && s[1] >= '0' && s[1] <= '9' ? -EDOM : -EINVAL;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
	for (i = 0; i < len; i++) {
		unsigned int d = s[i] - '0';

		if (v > max / 10 || (v == max / 10 && d > max % 10))
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

uint64_t kh_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

uint64_t kh_now_ms(void)
{
	return kh_now_us() / 1000;
}

int kh_grow(void *arrp, size_t *cap, size_t n, size_t size, size_t first)
{
	size_t c;
	void *p;

	if (n < *cap)
		return 0;
	if (*cap > SIZE_MAX / 2)
		return -ENOMEM;
	c = *cap ? 2 * *cap : (first ? first : 1);
	if (c < n + 1)
		c = n + 1;
	if (!size || c > SIZE_MAX / size)
		return -ENOMEM;
	/* arrp is a T **: read and written as bytes, whatever T is */
	memcpy(&p, arrp, sizeof(p));
	p = realloc(p, c * size);
	if (!p)
		return -ENOMEM;
	memcpy(arrp, &p, sizeof(p));
	*cap = c;
	return 0;
}

int kh_grow_implied(void *arrp, size_t n, size_t size)
{
	size_t cap = 8;

	if (!n)
		cap = 0;
	while (cap && cap < n) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	return kh_grow(arrp, &cap, n, size, 8);
}

int kh_dl_load(const char *soname, const char *const *names, void **const *ptrs,
	       size_t n, char *err, size_t len)
{
	const char *why;
	void *h, *p;
	size_t i;

	h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		why = dlerror();
		snprintf(err, len, "%s", why ? why : soname);
		return -ENOENT;
	}
	for (i = 0; i < n; i++) {
		p = dlsym(h, names[i]);
		if (!p) {
			snprintf(err, len, "%s has no %s", soname, names[i]);
			while (i--)
				*ptrs[i] = NULL;
			dlclose(h);
			return -ENOENT;
		}
		*ptrs[i] = p;
	}
	return 0;
}
