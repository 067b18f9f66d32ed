// SPDX-License-Identifier: GPL-2.0
/*
 * C++ and Rust (legacy mangling) symbol names demangled by libstdc++'s
 * __cxa_demangle, loaded when first needed: kholmesctl is C and links no
 * C++ runtime, and a host without libstdc++ keeps the mangled names.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "demangle.h"

typedef char *(*cxa_demangle_fn)(const char *name, char *buf, size_t *len,
				 int *status);

static cxa_demangle_fn cxa_demangle(void)
{
	static cxa_demangle_fn fn;
	static bool tried;
	void *h;

	if (tried)
		return fn;
	tried = true;
	h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
	if (h)
		fn = (cxa_demangle_fn)dlsym(h, "__cxa_demangle");
	return fn;
}

/* Rust's legacy mangling ends in a hash, "::h" and 16 hex digits: drop it. */
static void drop_rust_hash(char *s)
{
	size_t n = strlen(s), i;

	if (n < 19 || memcmp(s + n - 19, "::h", 3))
		return;
	for (i = n - 16; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return;
	s[n - 19] = '\0';
}

char *kh_demangle(const char *name)
{
	cxa_demangle_fn fn;
	char *out;
	int status;

	if (!name || strncmp(name, "_Z", 2))
		return NULL;
	fn = cxa_demangle();
	if (!fn)
		return NULL;
	out = fn(name, NULL, NULL, &status);
	if (status || !out) {
		free(out);
		return NULL;
	}
	if (!strncmp(name, "_ZN", 3))
		drop_rust_hash(out);
	return out;
}
