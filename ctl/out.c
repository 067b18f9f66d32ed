// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "fmt.h"
#include "out.h"

bool kh_json;

void kh_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PROG_NAME);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int kh_usage_fail(kh_usage_fn usage, const struct kh_parse_err *pe)
{
	char buf[512];

	kh_parse_err_str(buf, sizeof(buf), pe);
	kh_err("%s", buf);
	usage(stderr);
	return KH_EXIT_USAGE;
}

/* Prints and frees; flushed, as a reader may be waiting on a pipe. */
int kh_json_put(json_object *o)
{
	if (!o) {
		kh_err("formatting JSON: %s", strerror(ENOMEM));
		return KH_EXIT_FAIL;
	}
	puts(json_object_to_json_string_ext(o, KH_JSON_FLAGS));
	json_object_put(o);
	fflush(stdout);
	return KH_EXIT_OK;
}
