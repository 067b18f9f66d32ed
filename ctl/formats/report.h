/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The files of a capture, from a decoded and unwound struct kh_capture:
 * .txt for a person, .json for tools (schema in FORMAT.md), .folded for
 * flame graphs; for a profile, the same from its stacks, and the section
 * its .txt gains. (pprof.h writes the .pb.gz.) Pure: they write to a FILE or build json-c
 * objects, so the host tests cover them.
 */
#ifndef KHOLMESCTL_REPORT_H
#define KHOLMESCTL_REPORT_H

#include <stdio.h>

#include <json-c/json.h>

#include "record.h"

#define KH_FORMAT_NAME		"kholmes-capture"
#define KH_FORMAT_VERSION	1

const char *kh_unwinder_name(enum kh_unwinder u);

void kh_kframe_func(char *buf, size_t len, const char *frame);

/* One line of a .folded file: a distinct stack and its thread count. */
struct kh_folded {
	char *stack;
	unsigned int count;
};

int kh_folded_build(const struct kh_capture *cap, struct kh_folded **out,
		    size_t *n);
int kh_folded_build_profile(const struct kh_capture *cap,
			    struct kh_folded **out, size_t *n);
void kh_folded_free(struct kh_folded *lines, size_t n);

/* A profile's functions: samples as the leaf (self), on the stack (cum). */
struct kh_topfn {
	char *name;
	char *where;			/* file, "[kernel]", "[mod]", or "" */
	uint64_t self;
	uint64_t cum;
};

#define KH_PROFILE_TOP		20	/* functions a report lists */
#define KH_PROFILE_MAPS		10	/* mappings a faults report lists */
/* How a profile's section of a .txt begins, then its id and ':' */
#define KH_PROFILE_MARK		"kholmes profile "

int kh_profile_top(const struct kh_capture *cap, struct kh_topfn **out,
		   size_t *n);
void kh_topfn_free(struct kh_topfn *top, size_t n);

int kh_report_txt(FILE *f, const struct kh_capture *cap);
int kh_report_profile_txt(FILE *f, const struct kh_capture *cap);
json_object *kh_report_json(const struct kh_capture *cap);
int kh_report_folded(FILE *f, const struct kh_capture *cap);

#endif
