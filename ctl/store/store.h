/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The capture directory. Files are named after the capture itself,
 * <UTC time>-<comm>-<pid>-<metric>-<id>.<ext>, so that writing a capture
 * again (after a crash before its acknowledgement) gives the same names.
 * Each file appears whole or not at all: written under a temporary name,
 * fsynced, renamed, and the directory fsynced before the capture is
 * acknowledged. One writer per directory, by flock() on DIR/.lock, which
 * also counts the captures written as far as they went ("partial N"). The
 * files are 0640 (KH_CAPTURE_MODE), of root's group or the one set.
 */
#ifndef KHOLMESCTL_STORE_H
#define KHOLMESCTL_STORE_H

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "record.h"

/* "20261126T031600Z", then comm (15), pid, metric, id, and the dashes */
#define KH_TIME_COMPACT		16
#define KH_BASE_LEN		96

#define KH_LOCK_NAME		".lock"
/* kholmesd.service's --dir: what status reads when given no --dir */
#define KH_DEFAULT_DIR		"/var/lib/kholmes/captures"
#define KH_CAPTURE_MODE		0640
/* A directory others could write into: said as such, not as an errno. */
#define KH_ENOTOURS		EPERM

struct kh_store {
	int dirfd;
	int lockfd;			/* DIR/.lock, flocked */
	const char *dir;
	bool set_gid;			/* the captures' group: gid */
	gid_t gid;
};

int kh_dir_check(int dirfd);

void kh_sanitize(char *dst, size_t len, const char *src);
int kh_capture_base(char *buf, size_t len, const struct kh_capture_sum *sum);
bool kh_parse_name(const char *name, size_t *base_len, uint64_t *id);
bool kh_is_temp_name(const char *name);

int kh_store_open(struct kh_store *st, const char *dir);
void kh_store_close(struct kh_store *st);
DIR *kh_opendir_at(int dirfd);
int kh_store_clean(struct kh_store *st, unsigned int *removed);

typedef int (*kh_write_fn)(FILE *f, void *arg);
int kh_write_atomic(int dirfd, const char *name, mode_t mode,
		    kh_write_fn fn, void *arg);
int kh_write_atomic_gid(int dirfd, const char *name, mode_t mode, gid_t gid,
			kh_write_fn fn, void *arg);
int kh_store_write(struct kh_store *st, const char *name, kh_write_fn fn,
		   void *arg);
int kh_store_sync(struct kh_store *st);

/* The files of one capture in the directory, for rotation. */
struct kh_set {
	char base[KH_BASE_LEN];
	uint64_t id;
	uint64_t bytes;
	unsigned int files;
	bool pending;			/* its upload is not delivered yet */
	bool remove;			/* kh_rotate_plan()'s verdict */
	bool undelivered;		/* removed while pending */
};

int kh_store_add_partial(struct kh_store *st);
int kh_store_read_partial(const char *dir, uint64_t *n);

int kh_store_scan(struct kh_store *st, struct kh_set **sets, size_t *n);
size_t kh_rotate_plan(struct kh_set *sets, size_t n, uint64_t max_sets,
		      uint64_t max_bytes, const char *keep);
int kh_store_remove(struct kh_store *st, const struct kh_set *set);

#endif
