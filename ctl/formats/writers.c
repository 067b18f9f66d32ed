// SPDX-License-Identifier: GPL-2.0
#include <errno.h>

#include <json-c/json.h>

#include "pprof.h"
#include "report.h"
#include "writers.h"

#define JSON_FILE_FLAGS	(JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)

int kh_write_json(FILE *f, void *cap)
{
	json_object *o = kh_report_json(cap);

	if (!o)
		return -ENOMEM;
	fputs(json_object_to_json_string_ext(o, JSON_FILE_FLAGS), f);
	fputc('\n', f);
	json_object_put(o);
	return 0;
}

int kh_write_folded(FILE *f, void *cap)
{
	return kh_report_folded(f, cap);
}

int kh_write_pprof(FILE *f, void *cap)
{
	return kh_pprof_write(f, cap);
}

int kh_write_txt(FILE *f, void *cap)
{
	return kh_report_txt(f, cap);
}

const struct kh_format kh_formats[KH_NR_FORMATS] = {
	{ "json", kh_write_json },
	{ "folded", kh_write_folded },
	{ "pb.gz", kh_write_pprof },
};
