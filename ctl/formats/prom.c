// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prom.h"
#include "store.h"

enum kind { COUNTER, GAUGE };

static const struct {
	const char *name;
	enum kind kind;
	int stat;			/* enum kholmes_stat_attr */
	const char *help;
} kernel_metrics[] = {
	{ "kholmes_sampling_passes_total", COUNTER, KHOLMES_STAT_PASSES,
	  "Sampling passes over every process the module has done." },
	{ "kholmes_detections_total", COUNTER, KHOLMES_STAT_DETECTIONS,
	  "Rules that fired." },
	{ "kholmes_suppressed_total", COUNTER, KHOLMES_STAT_SUPPRESSED,
	  "Rules that would have fired within their cooldown." },
	{ "kholmes_untracked_total", COUNTER, KHOLMES_STAT_UNTRACKED,
	  "New processes not tracked because max-tracked were already." },
	{ "kholmes_events_lost_total", COUNTER, KHOLMES_STAT_EVENTS_LOST,
	  "Events that could not be multicast to listeners." },
	{ "kholmes_alloc_failures_total", COUNTER, KHOLMES_STAT_ALLOC_FAILS,
	  "Allocations in the module that failed." },
	{ "kholmes_captures_total", COUNTER, KHOLMES_STAT_CAPTURES,
	  "Captures the module queued." },
	{ "kholmes_captures_dropped_total", COUNTER, KHOLMES_STAT_CAPTURES_DROPPED,
	  "Queued captures dropped, oldest first, because the queue was full." },
	{ "kholmes_captures_limited_total", COUNTER, KHOLMES_STAT_CAPTURES_LIMITED,
	  "Automatic captures not taken: over capture-rate." },
	{ "kholmes_captures_failed_total", COUNTER, KHOLMES_STAT_CAPTURES_FAILED,
	  "Captures that failed: the process was gone, or no memory." },
	{ "kholmes_profiles_total", COUNTER, KHOLMES_STAT_PROFILES,
	  "Profiles completed." },
	{ "kholmes_profiles_skipped_total", COUNTER, KHOLMES_STAT_PROFILES_SKIPPED,
	  "Automatic profiles not started because one was running." },
	{ "kholmes_saturated_skips_total", COUNTER, KHOLMES_STAT_SATURATED,
	  "Automatic captures and profiles skipped with the host at or above cpu-max." },
	{ "kholmes_queue_length", GAUGE, KHOLMES_STAT_QUEUE_LEN,
	  "Captures queued in the module, not yet acknowledged." },
	{ "kholmes_queue_bytes", GAUGE, KHOLMES_STAT_QUEUE_BYTES,
	  "Bytes of captures queued in the module." },
	{ "kholmes_tracked_processes", GAUGE, KHOLMES_STAT_TRACKED,
	  "Processes the module tracks now." },
	{ "kholmes_tasks_visited", GAUGE, KHOLMES_STAT_TASKS_VISITED,
	  "Threads the last sampling pass visited." },
	{ "kholmes_module_memory_bytes", GAUGE, KHOLMES_STAT_MEM_BYTES,
	  "Memory the module holds now." },
};

static const struct {
	const char *label;
	int stat;
} pass_stats[] = {
	{ "last", KHOLMES_STAT_PASS_LAST_NS },
	{ "mean", KHOLMES_STAT_PASS_MEAN_NS },
	{ "max",  KHOLMES_STAT_PASS_MAX_NS },
};

/* HELP text: a backslash and a line feed are the two bytes escaped. */
void kh_prom_help(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* A label value: the double quote is escaped too. */
void kh_prom_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void head(FILE *f, const char *name, enum kind kind, const char *help)
{
	fprintf(f, "# HELP %s ", name);
	kh_prom_help(f, help);
	fprintf(f, "\n# TYPE %s %s\n", name, kind == COUNTER ? "counter" : "gauge");
}

static void one(FILE *f, const char *name, enum kind kind, const char *help,
		uint64_t v)
{
	head(f, name, kind, help);
	fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static void seconds(FILE *f, uint64_t ns)
{
	fprintf(f, "%" PRIu64 ".%09" PRIu64 "\n", ns / 1000000000,
		ns % 1000000000);
}

/*
 * Every metric once, with its HELP and TYPE, in a fixed order. While the
 * module does not answer only kholmes_up (0) and the daemon's own
 * counters appear: a value we do not have is left out, never made up.
 */
int kh_prom_text(FILE *f, const struct kh_prom *p)
{
	const struct kh_status *st = p->up ? p->st : NULL;
	size_t i;

	one(f, "kholmes_up", GAUGE,
	    "1 if the kholmes module answered the daemon's last status request.",
	    st != NULL);
	if (st) {
		head(f, "kholmes_info", GAUGE,
		     "The module's version and the kernel it runs on.");
		fputs("kholmes_info{version=\"", f);
		kh_prom_label(f, st->version);
		fputs("\",kernel=\"", f);
		kh_prom_label(f, st->krelease);
		fputs("\"} 1\n", f);
		for (i = 0; i < sizeof(kernel_metrics) / sizeof(kernel_metrics[0]); i++)
			one(f, kernel_metrics[i].name, kernel_metrics[i].kind,
			    kernel_metrics[i].help,
			    st->stat[kernel_metrics[i].stat]);
		head(f, "kholmes_sampling_pass_seconds", GAUGE,
		     "Time a sampling pass took: the last one, the mean and the longest.");
		for (i = 0; i < sizeof(pass_stats) / sizeof(pass_stats[0]); i++) {
			fprintf(f, "kholmes_sampling_pass_seconds{stat=\"%s\"} ",
				pass_stats[i].label);
			seconds(f, st->stat[pass_stats[i].stat]);
		}
	}
	one(f, "kholmes_captures_written_total", COUNTER,
	    "Captures this daemon wrote to its directory and acknowledged.",
	    p->written);
	one(f, "kholmes_captures_partial_total", COUNTER,
	    "Captures that could not be read whole after several tries, written as far as they went and acknowledged.",
	    p->partial);
	one(f, "kholmes_captures_rotated_undelivered_total", COUNTER,
	    "Captures rotation deleted before the --post server took them.",
	    p->rotated_undelivered);
	one(f, "kholmes_uploads_total", COUNTER,
	    "Captures the --post server accepted.", p->uploads);
	one(f, "kholmes_upload_failures_total", COUNTER,
	    "Upload attempts that failed; each is retried.", p->upload_failures);
	one(f, "kholmes_uploads_dropped_total", COUNTER,
	    "Pending uploads given up because rotation deleted their files.",
	    p->uploads_dropped);
	one(f, "kholmes_uploads_pending", GAUGE,
	    "Captures waiting in the upload spool.", p->uploads_pending);
	return ferror(f) ? -EIO : 0;
}

static int prom_text_fn(FILE *f, void *arg)
{
	return kh_prom_text(f, arg);
}

/*
 * path whole or not at all; 0 or a negative errno. The temporary name is
 * ".<name>.tmp.<pid>", not *.prom: the collector skips it while it is
 * being written.
 */
int kh_prom_write(const char *path, const struct kh_prom *p)
{
	char dcopy[PATH_MAX], bcopy[PATH_MAX];
	int dfd, ret;

	if (snprintf(dcopy, sizeof(dcopy), "%s", path) >= (int)sizeof(dcopy))
		return -ENAMETOOLONG;
	snprintf(bcopy, sizeof(bcopy), "%s", path);
	dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	ret = kh_write_atomic(dfd, basename(bcopy), 0644, prom_text_fn,
			      (void *)p);
	if (!ret)
		fsync(dfd);
	close(dfd);
	return ret;
}
