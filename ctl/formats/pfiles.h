/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A profile's files in the capture directory. A profile follows the
 * capture of the detection that started it (KHOLMES_CAPTURE_PROFILE_OF):
 * its files take that capture's base name, <base>.cpu.json, .cpu.folded
 * and .cpu.pb.gz (or .faults.*), and its report becomes a section of
 * <base>.txt, rewritten whole as every file is (temporary name, fsync,
 * rename). A manual profile, or one whose capture is not in the directory
 * (rotated away, or never written), gets its own base name and its own
 * .txt. Writing a profile again gives the same names and the same .txt.
 */
#ifndef KHOLMESCTL_PFILES_H
#define KHOLMESCTL_PFILES_H

#include <stdbool.h>

#include "record.h"
#include "store.h"

#define KH_FILE_LEN	(KH_BASE_LEN + 24)
#define KH_FILES_MAX	8

/* What was written for one capture, in order; the .txt comes last. */
struct kh_files {
	char base[KH_BASE_LEN];
	bool joined;			/* a profile in its capture's .txt */
	unsigned int n;
	char name[KH_FILES_MAX][KH_FILE_LEN];
};

int kh_profile_base(struct kh_store *st, const struct kh_capture *cap,
		    char *base, size_t len, bool *joined);
int kh_profile_write(struct kh_store *st, const struct kh_capture *cap,
		     struct kh_files *out, char *failed, size_t len);

#endif
