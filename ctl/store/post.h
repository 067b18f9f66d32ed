/* SPDX-License-Identifier: GPL-2.0 */
/*
 * daemon --post URL: each capture's files to an HTTP server as one
 * multipart/form-data POST, with the disk as the buffer.
 *
 * Before a capture is acknowledged in the module its upload is recorded
 * in DIR/.upload-queue/<id>-<time ns>.upload (written atomically,
 * fsynced), so a capture the module forgot is one the spool remembers;
 * the entry goes when the server answers 2xx. An upload carries the files
 * that capture wrote: a profile's, which join the capture they follow
 * (its <base>.cpu.* and its rewritten <base>.txt), go in a POST of their
 * own. Failed attempts are retried, oldest capture
 * first, after 1 s, 2 s, 4 s ... up to 5 min (a little jitter on top, so
 * a fleet does not come back in step); a restarted daemon resumes the
 * spool at once. Every attempt for a capture carries the same
 * Idempotency-Key, <hostname>-<capture id>-<capture time ns>, so the
 * server can recognise a retry of a request it already took. Rotation
 * deleting a capture's files drops its upload (counted).
 */
#ifndef KHOLMESCTL_POST_H
#define KHOLMESCTL_POST_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fmt.h"
#include "record.h"
#include "store.h"

#define KH_SPOOL_DIR		".upload-queue"
#define KH_SPOOL_EXT		".upload"
#define KH_HOST_LEN		256
#define KH_KEY_LEN		(KH_HOST_LEN + 48)
#define KH_UPLOAD_FILES		8
#define KH_UPLOAD_NAME		(KH_BASE_LEN + 24)

/* One spool entry: the capture and what its POST says about it. */
struct kh_upload {
	char base[KH_BASE_LEN];		/* its files are DIR/<base>.* */
	char key[KH_KEY_LEN];		/* Idempotency-Key */
	char hostname[KH_HOST_LEN];
	uint64_t id;
	uint64_t time_ns;
	char metric[24];		/* "cpu", ..., or "manual" */
	char value[KH_FIXED_LEN];	/* "" for a manual capture */
	char avg[KH_FIXED_LEN];
	uint32_t pid;
	char comm[4 * KHOLMES_COMM_LEN];
	bool has_profile_of;		/* a profile: the capture it follows */
	uint64_t profile_of;
	char profile[16];		/* "cpu", "faults", "" */
	unsigned int nfiles;		/* DIR/<files[i]>, each <base>.<ext> */
	char files[KH_UPLOAD_FILES][KH_UPLOAD_NAME];
};

int kh_upload_key(char *buf, size_t len, const char *hostname, uint64_t id,
		  uint64_t time_ns);
int kh_upload_init(struct kh_upload *u, const struct kh_capture_sum *sum,
		   const char *base, const char *hostname);
int kh_upload_add_file(struct kh_upload *u, const char *name);
void kh_spool_name(char *buf, size_t len, const struct kh_upload *u);
int kh_spool_format(FILE *f, const struct kh_upload *u);
int kh_spool_parse(const char *text, const char *name, struct kh_upload *u);
uint64_t kh_backoff_ms(unsigned int failures, uint32_t min_ms,
		       uint32_t max_ms, uint32_t rnd);
bool kh_capture_file_of(const char *name, const char *base);

struct kh_post_opts {
	const char *url;
	uint32_t backoff_min_ms;	/* 0: 1 s */
	uint32_t backoff_max_ms;	/* 0: 5 min */
	unsigned int parallel;		/* POSTs at once, 0: 2 */
	bool quiet;			/* log failures only */
};

struct kh_post_stats {
	uint64_t uploads;		/* accepted (2xx) */
	uint64_t failures;		/* attempts that failed */
	uint64_t dropped;		/* given up: files gone */
	uint64_t pending;		/* in the spool */
};

struct kh_post;

int kh_post_open(struct kh_post **pp, int dirfd, const struct kh_post_opts *o);
void kh_post_close(struct kh_post *p);
int kh_post_spool(struct kh_post *p, const struct kh_upload *u);
void kh_post_drop(struct kh_post *p, const char *base);
bool kh_post_pending(const struct kh_post *p, const char *base);
void kh_post_run(struct kh_post *p);
int kh_post_timeout_ms(const struct kh_post *p);
int kh_post_poll(struct kh_post *p, struct pollfd *pfd, unsigned int n,
		 int timeout_ms);
void kh_post_stats(const struct kh_post *p, struct kh_post_stats *s);

#endif
