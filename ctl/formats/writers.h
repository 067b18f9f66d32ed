/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The files of a capture, each format's writer as kh_store_write() calls
 * it (arg: the struct kh_capture). A capture and a profile both write
 * KH_FORMATS, then their .txt: <base>.json or <base>.cpu.json, and so on.
 */
#ifndef KHOLMESCTL_WRITERS_H
#define KHOLMESCTL_WRITERS_H

#include <stdio.h>

#include "store.h"

int kh_write_json(FILE *f, void *cap);
int kh_write_folded(FILE *f, void *cap);
int kh_write_pprof(FILE *f, void *cap);
int kh_write_txt(FILE *f, void *cap);

struct kh_format {
	const char *ext;		/* without its dot */
	kh_write_fn fn;
};

/* .json, .folded, .pb.gz, in the order they are written; the .txt last */
#define KH_NR_FORMATS	3
extern const struct kh_format kh_formats[KH_NR_FORMATS];

#endif
