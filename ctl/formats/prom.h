/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon's counters in the Prometheus text exposition format, for
 * node_exporter's textfile collector. kh_prom_text() is pure formatting;
 * kh_prom_write() replaces a file with it atomically (a temporary name
 * beside it that the collector ignores, fsync, rename), so the collector
 * never reads half a file.
 */
#ifndef KHOLMESCTL_PROM_H
#define KHOLMESCTL_PROM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "record.h"

struct kh_prom {
	bool up;			/* the module answered: st is valid */
	const struct kh_status *st;
	uint64_t written;		/* captures this daemon wrote */
	uint64_t partial;		/* of which written as far as they went */
	uint64_t rotated_undelivered;	/* rotated out before the upload */
	uint64_t uploads;		/* accepted by the --post server */
	uint64_t upload_failures;	/* attempts that failed */
	uint64_t uploads_dropped;	/* given up: files rotated out */
	uint64_t uploads_pending;	/* in the spool now */
};

void kh_prom_help(FILE *f, const char *s);
void kh_prom_label(FILE *f, const char *s);
int kh_prom_text(FILE *f, const struct kh_prom *p);
int kh_prom_write(const char *path, const struct kh_prom *p);

#endif
