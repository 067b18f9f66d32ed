/* SPDX-License-Identifier: GPL-2.0 */
/*
 * GET_CAPTURE's record stream, message by message, into a struct
 * kh_capture. The kernel is trusted, but a truncated or malformed stream
 * must cost a record, never the controller: every length is checked, a
 * refused record is counted and skipped (the report says so), and only a
 * stream without its capture record is refused as a whole.
 */
#ifndef KHOLMESCTL_STREAM_H
#define KHOLMESCTL_STREAM_H

#include <netlink/genl/genl.h>

#include "record.h"

/* Bounds beyond the kernel's own, against a stream that lies. */
#define KH_MAX_MAPS		65536
#define KH_MAX_KFRAMES		(4 * KHOLMES_STACK_FRAMES)
#define KH_MAX_UFRAMES		(4 * KHOLMES_STACK_FRAMES)
#define KH_MAX_USTACK		(KHOLMES_USER_STACK_KB_MAX * 1024)
#define KH_MAX_PSTACKS		65536
#define KH_MAX_PSAMPLES		1048576
#define KH_MAX_CONSUMERS	(4 * KHOLMES_TOP_CONSUMERS)

struct kh_stream {
	struct kh_capture *cap;
	uint64_t id;			/* the capture asked for */
	bool have_capture;
	long cur;			/* index of the last thread record, -1 */
	struct kh_profile *prof;	/* of the last profile record, NULL: cap->prof */
	int err;			/* fatal: -ENOMEM, -EBADMSG */
};

void kh_stream_init(struct kh_stream *s, struct kh_capture *cap, uint64_t id);
int kh_stream_attr(struct kh_stream *s, struct nlattr *a);
int kh_stream_msg(struct kh_stream *s, struct nlmsghdr *nlh);
int kh_stream_end(struct kh_stream *s);
void kh_stream_reset(struct kh_stream *s);
int kh_stream_salvage(struct kh_stream *s, const struct kh_capture_sum *listed,
		      const char *why);

void kh_capture_free(struct kh_capture *cap);

#endif
