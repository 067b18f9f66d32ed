/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The queue to the directory, shared by pull (once) and daemon (on every
 * event): list the queued captures, and for each fetch its record stream,
 * unwind its user stacks, write its files durably, and only then
 * acknowledge it. A capture that cannot be written is not acknowledged:
 * it stays queued for the next try.
 */
#ifndef KHOLMESCTL_PULL_H
#define KHOLMESCTL_PULL_H

#include <json-c/json.h>

#include "nl.h"
#include "pfiles.h"
#include "record.h"
#include "store.h"

/* Captures whose failure was logged already, so a retry loop stays quiet. */
#define KH_PULL_QUIET	64
/*
 * Tries to read a capture whole (fetch, decode, unwind) before it is
 * written as far as it goes and acknowledged, rather than retried for
 * ever; a lost socket is not a try.
 */
#define KH_PULL_TRIES	3

struct kh_puller;

/* Called once a capture's files are durable and it is acknowledged. */
typedef void (*kh_written_fn)(struct kh_puller *p, const struct kh_capture *cap,
			      const char *base);
/*
 * Called once the files are durable, before the acknowledgement: what must
 * not be lost with a capture the module forgets goes to disk here. A
 * negative errno (said on stderr) leaves the capture queued and ends the
 * pull, as a file that could not be written does.
 */
typedef int (*kh_durable_fn)(struct kh_puller *p, const struct kh_capture *cap,
			     const char *base);
/* Asked between captures: true ends the pull after the one just written. */
typedef bool (*kh_stop_fn)(struct kh_puller *p);

struct kh_puller {
	struct kh_nl nl;
	struct kh_store store;
	bool daemon;			/* log a line per capture, print nothing */
	json_object *out;		/* pull -j: what was written */
	kh_written_fn written;
	kh_durable_fn durable;
	kh_stop_fn stop;
	void *arg;
	/* the files of the capture being written, for the callbacks */
	struct kh_files files;
	unsigned int nr_written;
	unsigned int nr_failed;
	bool nl_broken;			/* a request failed: reconnect */
	uint64_t quiet[KH_PULL_QUIET];
	unsigned int nr_quiet;
	struct {
		uint64_t id;
		unsigned int n;		/* failed tries, 0: free */
	} tries[KH_PULL_QUIET];
	unsigned int nr_partial;	/* written as far as they went */
};

int kh_list_captures(struct kh_nl *nl, struct kh_capture_sum **sums,
		     size_t *n, size_t *bad);
int kh_pull_all(struct kh_puller *p);
int kh_pull_open_dir(struct kh_store *st, const char *dir, bool create);

#endif
