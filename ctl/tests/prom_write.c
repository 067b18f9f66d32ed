// SPDX-License-Identifier: GPL-2.0
/*
 * prom_write PATH: the daemon's --prom-file as kh_prom_write() writes it,
 * with made-up counters (each its own value, so that a test reading them
 * back through node_exporter can tell them apart). For
 * scripts/node-exporter-check.sh; not installed.
 */
#include <stdio.h>
#include <string.h>

#include "prom.h"

int main(int argc, char *argv[])
{
	struct kh_status st = { 0 };
	struct kh_prom p = { .up = true, .st = &st, .written = 41,
			     .uploads = 40, .upload_failures = 3,
			     .uploads_dropped = 1, .uploads_pending = 2 };
	int i, err;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH\n", argv[0]);
		return 2;
	}
	snprintf(st.version, sizeof(st.version), "%s", KHOLMES_VERSION);
	snprintf(st.krelease, sizeof(st.krelease), "test \"quoted\" \\ release");
	for (i = 0; i <= KHOLMES_STAT_MAX; i++)
		st.stat[i] = 100 + i;
	st.stat[KHOLMES_STAT_PASS_LAST_NS] = 1500000;
	st.stat[KHOLMES_STAT_PASS_MEAN_NS] = 1250000;
	st.stat[KHOLMES_STAT_PASS_MAX_NS] = 9000000;
	err = kh_prom_write(argv[1], &p);
	if (err) {
		fprintf(stderr, "prom_write: %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	return 0;
}
