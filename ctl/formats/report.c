// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "metrics.h"
#include "report.h"

#define BIT(n)		(1U << (n))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define NSEC		((uint64_t)1000000000)

const char *kh_unwinder_name(enum kh_unwinder u)
{
	return u == KH_UNW_DWARF ? "dwarf" : u == KH_UNW_FP ? "fp" : "none";
}

static const char *unwinder_words(enum kh_unwinder u)
{
	return u == KH_UNW_DWARF ? "dwarf (libdw CFI)" : "frame pointers";
}

/* "do_nanosleep+0x8a/0x1a0" and "f+0x1/0x2 [mod]" to the function alone. */
void kh_kframe_func(char *buf, size_t len, const char *frame)
{
	snprintf(buf, len, "%.*s", (int)strcspn(frame, "+ "), frame);
}

static void hex(char *buf, size_t len, const uint8_t *b, size_t n)
{
	size_t i;

	if (!len)
		return;
	buf[0] = '\0';
	for (i = 0; i < n && 2 * i + 2 < len; i++)
		snprintf(buf + 2 * i, 3, "%02x", b[i]);
}

#define BUILD_ID_HEX	(2 * KHOLMES_BUILD_ID_MAX + 1)

/* Text a process or a file system chose, safe for a terminal. */
static char *clean(const char *s)
{
	size_t len = strlen(s) + 1;
	char *d = malloc(len);

	if (d)
		kh_text_clean(d, len, s);
	return d;
}

/*
 * A profile's capture holds no snapshot of its threads, which the module
 * flags as threads truncated: that says nothing here, so it is not shown.
 */
static uint32_t profile_flags_off(const struct kh_capture_sum *s)
{
	return s->flags & KHOLMES_CAPTURE_F_PROFILE ?
	       KHOLMES_CAPTURE_F_THREADS_TRUNC : 0;
}

/* ---------------------------------------------------------------- folded */

/* flamegraph.pl splits frames at ';' and the count at the last blank. */
static int put_frame(FILE *f, bool *first, const char *name)
{
	const unsigned char *s = (const unsigned char *)name;

	if (!*first)
		fputc(';', f);
	*first = false;
	for (; *s; s++)
		fputc(*s == ';' || *s < 0x20 || *s == 0x7f ? '_' : *s, f);
	return 0;
}

static void user_frame_name(char *buf, size_t len, const struct kh_capture *cap,
			    const struct kh_uframe *fr)
{
	if (fr->func)
		snprintf(buf, len, "%s", fr->func);
	else if (fr->map >= 0)
		snprintf(buf, len, "%s+0x%" PRIx64, cap->maps[fr->map].path,
			 fr->file_off);
	else
		snprintf(buf, len, "0x%" PRIx64, fr->pc);
}

static const struct kh_ustack *shown(const struct kh_thread *t)
{
	if (t->shown == KH_UNW_DWARF)
		return &t->dwarf;
	if (t->shown == KH_UNW_FP)
		return &t->fp;
	return NULL;
}

/*
 * One folded line, root first: the outermost user frame first, the
 * innermost kernel frame last; "[no stack]" when there is neither.
 */
static char *folded_line(const struct kh_capture *cap,
			 const struct kh_ustack *us, char *const *kframes,
			 size_t nr_kframes)
{
	char name[4096 + 32];
	bool first = true;
	char *buf = NULL;
	size_t len, i;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	for (i = us ? us->n : 0; i-- > 0;) {
		user_frame_name(name, sizeof(name), cap, &us->f[i]);
		put_frame(f, &first, name);
	}
	for (i = nr_kframes; i-- > 0;) {
		kh_kframe_func(name, sizeof(name), kframes[i]);
		put_frame(f, &first, name);
	}
	if (first)
		put_frame(f, &first, "[no stack]");
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static char *thread_stack(const struct kh_capture *cap,
			  const struct kh_thread *t)
{
	return folded_line(cap, shown(t), t->kframes, t->nr_kframes);
}

static int folded_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kh_folded *)a)->stack,
		      ((const struct kh_folded *)b)->stack);
}

void kh_folded_free(struct kh_folded *lines, size_t n)
{
	size_t i;

	for (i = 0; lines && i < n; i++)
		free(lines[i].stack);
	free(lines);
}

/* Threads with identical stacks become one line with their count, sorted. */
int kh_folded_build(const struct kh_capture *cap, struct kh_folded **out,
		    size_t *n)
{
	struct kh_folded *lines;
	size_t i, j, k;

	*out = NULL;
	*n = 0;
	if (!cap->nr_threads)
		return 0;
	lines = calloc(cap->nr_threads, sizeof(*lines));
	if (!lines)
		return -ENOMEM;
	for (i = 0; i < cap->nr_threads; i++) {
		lines[i].stack = thread_stack(cap, &cap->threads[i]);
		lines[i].count = 1;
		if (!lines[i].stack) {
			kh_folded_free(lines, i);
			return -ENOMEM;
		}
	}
	qsort(lines, cap->nr_threads, sizeof(*lines), folded_cmp);
	for (i = 0, k = 0; i < cap->nr_threads; i = j) {
		lines[k] = lines[i];
		for (j = i + 1; j < cap->nr_threads &&
		     !strcmp(lines[j].stack, lines[k].stack); j++) {
			lines[k].count++;
			free(lines[j].stack);
		}
		k++;
	}
	*out = lines;
	*n = k;
	return 0;
}

/* Root first, as a thread's: the user frames, then the kernel's. */
static char *pstack_line(const struct kh_capture *cap,
			 const struct kh_pstack *ps)
{
	return folded_line(cap, &ps->user, ps->kframes, ps->nr_kframes);
}

/*
 * A profile's stacks, one line per distinct folded stack with its samples:
 * stacks the kernel told apart by their addresses may fold into one line.
 */
int kh_folded_build_profile(const struct kh_capture *cap,
			    struct kh_folded **out, size_t *n)
{
	const struct kh_profile *p = &cap->prof;
	struct kh_folded *lines;
	size_t i, j, k;

	*out = NULL;
	*n = 0;
	if (!p->nr_pstacks)
		return 0;
	lines = calloc(p->nr_pstacks, sizeof(*lines));
	if (!lines)
		return -ENOMEM;
	for (i = 0; i < p->nr_pstacks; i++) {
		lines[i].stack = pstack_line(cap, &p->pstacks[i]);
		lines[i].count = p->pstacks[i].count;
		if (!lines[i].stack) {
			kh_folded_free(lines, i);
			return -ENOMEM;
		}
	}
	qsort(lines, p->nr_pstacks, sizeof(*lines), folded_cmp);
	for (i = 0, k = 0; i < p->nr_pstacks; i = j) {
		lines[k] = lines[i];
		for (j = i + 1; j < p->nr_pstacks &&
		     !strcmp(lines[j].stack, lines[k].stack); j++) {
			lines[k].count += lines[j].count;
			free(lines[j].stack);
		}
		k++;
	}
	*out = lines;
	*n = k;
	return 0;
}

int kh_report_folded(FILE *f, const struct kh_capture *cap)
{
	struct kh_folded *lines;
	size_t n, i;

	if (cap->prof.present ? kh_folded_build_profile(cap, &lines, &n) :
				kh_folded_build(cap, &lines, &n))
		return -ENOMEM;
	for (i = 0; i < n; i++)
		fprintf(f, "%s %u\n", lines[i].stack, lines[i].count);
	kh_folded_free(lines, n);
	return 0;
}

/* ------------------------------------------------------------------ text */

#define KEY	"%-11s "

/* "398.2 %", "12 MiB", "3000" (a count needs no unit) */
static char *with_unit(char *buf, size_t len, uint64_t v, unsigned int metric,
		       bool fixed)
{
	const char *unit = kh_metric_unit(metric);
	char num[KH_FIXED_LEN];

	if (fixed)
		kh_fixed(num, sizeof(num), v, KH_TEXT_DIGITS);
	else
		snprintf(num, sizeof(num), "%" PRIu64, v);
	if (!*unit || !strcmp(unit, "count"))
		snprintf(buf, len, "%s", num);
	else
		snprintf(buf, len, "%s %s", num, unit);
	return buf;
}

static void txt_why(FILE *f, const struct kh_capture *cap)
{
	const struct kh_capture_sum *s = &cap->sum;
	const struct kholmes_rule_cfg *r = &cap->rule;
	char v[64], a[64], t[64], x[64];
	uint64_t thr;
	bool min_ok, avg_ok, abs_ok;

	if (!s->has_metric) {
		fprintf(f, KEY "manual (requested with kholmesctl %s)\n",
			"trigger:", s->flags & KHOLMES_CAPTURE_F_PROFILE ?
			"profile" : "capture");
		return;
	}
	fprintf(f, KEY "%s (its rule fired)\n", "trigger:",
		kh_metric_name(s->metric));
	fprintf(f, KEY "%s\n", "value:", with_unit(v, sizeof(v), s->value,
						   s->metric, true));
	fprintf(f, KEY "%s over the window before it\n", "average:",
		with_unit(a, sizeof(a), s->avg, s->metric, true));
	if (!cap->has_rule)
		return;
	fprintf(f, KEY "min %s, diff %" PRIu32 " %%, abs %s, cooldown %" PRIu32 " s\n",
		"rule:", with_unit(t, sizeof(t), r->min, s->metric, false),
		r->diff, r->abs ? with_unit(x, sizeof(x), r->abs, s->metric, false) :
				  "0 (none)", r->cooldown_s);
	thr = khr_sat_mul(s->avg, 100 + (uint64_t)r->diff) / 100;
	min_ok = s->value >= (uint64_t)r->min * KHOLMES_VALUE_SCALE;
	avg_ok = s->value >= thr;
	abs_ok = r->abs && s->value >= (uint64_t)r->abs * KHOLMES_VALUE_SCALE;
	fprintf(f, KEY "%s is %s min %s", "why:", v, min_ok ? "at least" :
		"below", with_unit(t, sizeof(t), r->min, s->metric, false));
	if (avg_ok)
		fprintf(f, ", and at least %s (the average + %" PRIu32 " %%)",
			with_unit(x, sizeof(x), thr, s->metric, true), r->diff);
	if (abs_ok)
		fprintf(f, ", %s the ceiling abs %s", avg_ok ? "and above" :
			"and at least", with_unit(x, sizeof(x), r->abs, s->metric,
						  false));
	if (!min_ok || (!avg_ok && !abs_ok))
		fputs(" (the rule has changed since it fired)", f);
	fputc('\n', f);
}

static void txt_process(FILE *f, const struct kh_capture *cap)
{
	const struct kh_capture_sum *s = &cap->sum;
	char tm[KH_TIME_LEN], comm[KHOLMES_COMM_LEN], *c;
	uint64_t start;

	kh_text_clean(comm, sizeof(comm), s->comm);
	fprintf(f, KEY "%" PRIu32 "\n", "pid:", s->pid);
	fprintf(f, KEY "%s\n", "comm:", comm);
	c = cap->exe && *cap->exe ? clean(cap->exe) : NULL;
	fprintf(f, KEY "%s\n", "exe:", c ? c : "-");
	free(c);
	c = cap->cgroup && *cap->cgroup ? clean(cap->cgroup) : NULL;
	fprintf(f, KEY "%s\n", "cgroup:", c ? c : "-");
	free(c);
	if (cap->has_uid)
		fprintf(f, KEY "%" PRIu32 "\n", "uid:", cap->uid);
	else
		fprintf(f, KEY "-\n", "uid:");
	if (cap->start_ns && s->boot_ns >= cap->start_ns &&
	    s->time_ns >= s->boot_ns - cap->start_ns) {
		start = s->time_ns - (s->boot_ns - cap->start_ns);
		fprintf(f, KEY "%s (%" PRIu64 ".%03" PRIu64 " s before the capture)\n",
			"started:", kh_time_iso(tm, sizeof(tm), start),
			(s->boot_ns - cap->start_ns) / NSEC,
			(s->boot_ns - cap->start_ns) % NSEC / 1000000);
	}
	fprintf(f, KEY "%s (%" PRIu64 ".%03" PRIu64 " s after boot), took %" PRIu64
		".%03" PRIu64 " ms\n", "captured:",
		kh_time_iso(tm, sizeof(tm), s->time_ns), s->boot_ns / NSEC,
		s->boot_ns % NSEC / 1000000, cap->duration_ns / 1000000,
		cap->duration_ns % 1000000 / 1000);
	if (s->flags & KHOLMES_CAPTURE_F_PROFILE)
		fprintf(f, KEY "%" PRIu32 " (a profile: its stacks follow, not a snapshot of each thread)\n",
			"threads:", s->nr_threads);
	else
		fprintf(f, KEY "%" PRIu32 " captured of %" PRIu32 "\n", "threads:",
		s->threads, s->nr_threads);
}

static void txt_counters(FILE *f, const struct kh_capture *cap)
{
	char v[64], a[64];
	unsigned int m;

	if (!cap->has_value)
		return;
	fprintf(f, "counters:   last sample, window average\n");
	for (m = 0; m < KHOLMES_NR_METRICS; m++) {
		if (!(cap->has_value & BIT(m)))
			continue;
		with_unit(v, sizeof(v), cap->value[m], m, true);
		if (cap->has_avg & BIT(m))
			with_unit(a, sizeof(a), cap->avg[m], m, true);
		else
			snprintf(a, sizeof(a), "-");
		fprintf(f, "  %-10s %14s %14s\n", kh_metrics[m].name, v, a);
	}
}

/* Why some of the capture may be missing or wrong, in words. */
static void txt_notes(FILE *f, const struct kh_capture *cap)
{
	const struct kh_capture_sum *s = &cap->sum;
	char id[BUILD_ID_HEX], disk[BUILD_ID_HEX], *p;
	bool any = false;
	size_t i;

#define NOTE(...) do {							\
		if (!any)						\
			fputs("notes:\n", f);				\
		any = true;						\
		fputs("  - ", f);					\
		fprintf(f, __VA_ARGS__);				\
		fputc('\n', f);						\
	} while (0)

	if (s->flags & KHOLMES_CAPTURE_F_THREADS_TRUNC & ~profile_flags_off(s))
		NOTE("threads truncated: %" PRIu32 " of %" PRIu32 " captured (max-threads)",
		     s->threads, s->nr_threads);
	if (s->flags & KHOLMES_CAPTURE_F_EXITED)
		NOTE("the process exited during the capture: threads may be missing");
	if (s->flags & KHOLMES_CAPTURE_F_NO_MM)
		NOTE("a kernel thread: no user space, kernel stacks only");
	if (s->flags & KHOLMES_CAPTURE_F_MAPS_TRUNC)
		NOTE("the mapping list was cut short: frames in the missing mappings name no file");
	if (s->flags & KHOLMES_CAPTURE_F_MAPS_SKIPPED)
		NOTE("skipped: the mappings (the process's mmap lock stayed busy): frames name no file");
	if (s->flags & KHOLMES_CAPTURE_F_BUDGET)
		NOTE("skipped: threads after the %" PRIu32 " captured (the capture's time budget ran out)",
		     s->threads);
	if (s->flags & KHOLMES_CAPTURE_F_PROFILE && !cap->prof.present)
		NOTE("this capture should hold a profile, but its profile record is missing");
	if (cap->nr_threads != s->threads)
		NOTE("%zu thread records received, the capture announced %" PRIu32,
		     cap->nr_threads, s->threads);
	if (cap->bad_records)
		NOTE("%u malformed records skipped (first: %s)", cap->bad_records,
		     cap->bad_why);
	if (cap->unwind_err[0])
		NOTE("user stacks could not be unwound with libdw: %s",
		     cap->unwind_err);
	for (i = 0; i < cap->nr_maps; i++) {
		const struct kh_mapping *m = &cap->maps[i];

		/* one note per file, at its first mapping */
		if (i && !strcmp(cap->maps[i - 1].path, m->path))
			continue;
		if (m->state != KH_FILE_MISSING && m->state != KH_FILE_MISMATCH)
			continue;
		p = clean(m->path);
		hex(id, sizeof(id), m->build_id, m->build_id_len);
		if (m->state == KH_FILE_MISSING)
			NOTE("%s: not found or not readable as ELF: its frames are unsymbolized",
			     p ? p : "?");
		else {
			hex(disk, sizeof(disk), m->disk_build_id,
			    m->disk_build_id_len);
			NOTE("%s: the file on disk is another build (build-id %s, mapped %s), replaced since: its frames are unsymbolized",
			     p ? p : "?", disk[0] ? disk : "none", id);
		}
		free(p);
	}
#undef NOTE
}

static const char *const thread_flag_words[] = {
	"running on a CPU: its stacks were taken there",
	"kernel stack unavailable",
	"kernel stack cut at 64 frames",
	"frame-pointer walk cut at 64 frames",
	"frame-pointer walk hit unreadable memory",
	"kernel thread: no user stack",
	"exited during the capture",
	"user stack copy shorter than user-stack-kb (the stack ends there, or the rest was unreadable)",
	"was running in user mode",
};

/*
 * The set bits of FLAGS as words, "; "-separated between LEAD and TAIL; a bit
 * with no word (from a newer module) in hex. Nothing when no bit is set.
 */
static void txt_flag_words(FILE *f, uint32_t flags, const char *const *words,
			   size_t nwords, const char *lead, const char *tail)
{
	bool first = true;
	unsigned int i;

	for (i = 0; i < 32; i++) {
		if (!(flags & BIT(i)))
			continue;
		fputs(first ? lead : "; ", f);
		first = false;
		if (i < nwords)
			fputs(words[i], f);
		else
			fprintf(f, "0x%x", BIT(i));
	}
	if (!first)
		fputs(tail, f);
}

static void txt_thread_flags(FILE *f, uint32_t flags)
{
	txt_flag_words(f, flags, thread_flag_words,
		       ARRAY_SIZE(thread_flag_words), "  flags: ", "\n");
}

static void txt_frame(FILE *f, const struct kh_capture *cap, size_t i,
		      const struct kh_uframe *fr)
{
	const struct kh_mapping *m = fr->map >= 0 ? &cap->maps[fr->map] : NULL;
	char id[BUILD_ID_HEX], *fn, *path;

	fprintf(f, "    #%-2zu 0x%016" PRIx64 " ", i, fr->pc);
	path = m ? clean(m->path) : NULL;
	if (fr->func) {
		fn = clean(fr->func);
		fprintf(f, "%s+0x%" PRIx64 " (%s)\n", fn ? fn : "?", fr->func_off,
			path ? path : "?");
		free(fn);
	} else if (m) {
		hex(id, sizeof(id), m->build_id, m->build_id_len);
		fprintf(f, "%s+0x%" PRIx64, path ? path : "?", fr->file_off);
		fprintf(f, id[0] ? " [%s]\n" : "\n", id);
	} else {
		fputs("? (in no mapping the capture lists)\n", f);
	}
	free(path);
}

static void txt_ustack(FILE *f, const struct kh_capture *cap,
		       const struct kh_thread *t)
{
	const struct kh_ustack *us = shown(t);
	size_t i;

	if (t->flags & KHOLMES_THREAD_F_NO_USER ||
	    cap->sum.flags & KHOLMES_CAPTURE_F_NO_MM) {
		fputs("  user stack: none (kernel thread)\n", f);
		return;
	}
	if (!us) {
		fprintf(f, "  user stack: none (%s)\n", t->dwarf.stop[0] ?
			t->dwarf.stop : "nothing was captured");
		return;
	}
	fprintf(f, "  user stack (%s):\n", unwinder_words(t->shown));
	if (t->shown == KH_UNW_FP) {
		fprintf(f, "    (frame pointers: the dwarf unwind found %zu frame%s%s%s",
			t->dwarf.n, t->dwarf.n == 1 ? "" : "s",
			t->dwarf.stop[0] ? ": " : "", t->dwarf.stop);
		if (t->flags & (KHOLMES_THREAD_F_RUNNING | KHOLMES_THREAD_F_IN_USER))
			fputs("; the thread was running, its frames were walked where it ran", f);
		fputs(")\n", f);
	}
	for (i = 0; i < us->n; i++)
		txt_frame(f, cap, i, &us->f[i]);
	if (us->stop[0])
		fprintf(f, "    (stopped: %s)\n", us->stop);
	if (t->shown == KH_UNW_DWARF)
		fprintf(f, "  frame-pointer walk: %zu frame%s%s%s\n", t->fp.n,
			t->fp.n == 1 ? "" : "s", t->fp.stop[0] ? ", " : "",
			t->fp.stop);
}

static void txt_thread(FILE *f, const struct kh_capture *cap,
		       const struct kh_thread *t)
{
	char comm[KHOLMES_COMM_LEN], *k;
	size_t i;

	kh_text_clean(comm, sizeof(comm), t->comm);
	fprintf(f, "\nthread %" PRIu32 " (%s) state %c", t->tid, comm,
		t->state >= 0x21 && t->state < 0x7f ? t->state : '?');
	if (t->has_cpu)
		fprintf(f, " cpu %" PRIu32, t->cpu);
	fputc('\n', f);
	txt_thread_flags(f, t->flags);
	if (!t->nr_kframes) {
		fprintf(f, "  kernel stack: none\n");
	} else {
		fputs("  kernel stack:\n", f);
		for (i = 0; i < t->nr_kframes; i++) {
			k = clean(t->kframes[i]);
			fprintf(f, "    %s\n", k ? k : "?");
			free(k);
		}
		if (t->kframes_gap)
			fputs("    (some frames were lost in transit)\n", f);
	}
	txt_ustack(f, cap, t);
}

/* Who had the CPU that a process waiting in the run queue wanted. */
static void txt_consumers(FILE *f, const struct kh_capture *cap)
{
	char comm[KHOLMES_COMM_LEN], cpu[KH_FIXED_LEN], *cg;
	size_t i;

	if (!cap->nr_consumers) {
		if (cap->sum.has_metric &&
		    cap->sum.metric == KHOLMES_METRIC_RUNDELAY)
			fputs("who took the CPU: no process used any in the last interval\n",
			      f);
		return;
	}
	fputs("who took the CPU (the top consumers on the host over the last interval):\n",
	      f);
	fprintf(f, "  %8s  %-15s  %9s  %s\n", "PID", "COMM", "CPU", "CGROUP");
	for (i = 0; i < cap->nr_consumers; i++) {
		const struct kh_consumer *c = &cap->consumers[i];

		kh_text_clean(comm, sizeof(comm), c->comm);
		kh_fixed(cpu, sizeof(cpu), c->cpu, KH_TEXT_DIGITS);
		cg = c->cgroup[0] ? clean(c->cgroup) : NULL;
		fprintf(f, "  %8" PRIu32 "  %-15s  %7s %%  %s\n", c->pid, comm, cpu,
			cg ? cg : "-");
		free(cg);
	}
}

/* --------------------------------------------------------------- profile */

/* One frame of a stack, as a function: key "name\twhere" for sorting. */
struct fn_rec {
	char *key;
	size_t stack;
	uint32_t count;
	bool leaf;
};

static int rec_cmp(const void *a, const void *b)
{
	const struct fn_rec *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

static int top_cmp(const void *a, const void *b)
{
	const struct kh_topfn *x = a, *y = b;

	if (x->self != y->self)
		return x->self > y->self ? -1 : 1;
	if (x->cum != y->cum)
		return x->cum > y->cum ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* "where" of a kernel frame: "[kernel]", or the module it names. */
static void kframe_where(char *buf, size_t len, const char *frame)
{
	const char *mod = strstr(frame, " [");

	if (mod)
		snprintf(buf, len, "%.*s", (int)strcspn(mod + 1, " "), mod + 1);
	else
		snprintf(buf, len, "[kernel]");
}

static char *fn_key(const char *name, const char *where)
{
	char *k;

	return asprintf(&k, "%s\t%s", name, where) < 0 ? NULL : k;
}

/*
 * Every function of the profile with its self samples (it was the leaf)
 * and cumulative samples (it was anywhere on the stack, once per stack
 * even when recursive), the largest self first.
 */
int kh_profile_top(const struct kh_capture *cap, struct kh_topfn **out,
		   size_t *nout)
{
	const struct kh_profile *p = &cap->prof;
	struct fn_rec *recs = NULL;
	struct kh_topfn *top = NULL;
	size_t nrec = 0, total = 0, i, j, k, n = 0;
	char name[4096 + 32], where[4096];
	int err = -ENOMEM;

	*out = NULL;
	*nout = 0;
	for (i = 0; i < p->nr_pstacks; i++)
		total += p->pstacks[i].nr_kframes + p->pstacks[i].user.n;
	if (!total)
		return 0;
	recs = calloc(total, sizeof(*recs));
	if (!recs)
		return -ENOMEM;
	for (i = 0; i < p->nr_pstacks; i++) {
		const struct kh_pstack *ps = &p->pstacks[i];

		for (j = 0; j < ps->nr_kframes + ps->user.n; j++) {
			if (j < ps->nr_kframes) {
				kh_kframe_func(name, sizeof(name), ps->kframes[j]);
				kframe_where(where, sizeof(where), ps->kframes[j]);
			} else {
				const struct kh_uframe *fr =
					&ps->user.f[j - ps->nr_kframes];

				user_frame_name(name, sizeof(name), cap, fr);
				snprintf(where, sizeof(where), "%s",
					 fr->func && fr->map >= 0 ?
					 cap->maps[fr->map].path : "");
			}
			recs[nrec].key = fn_key(name, where);
			if (!recs[nrec].key)
				goto out;
			recs[nrec].stack = i;
			recs[nrec].count = ps->count;
			recs[nrec++].leaf = !j;
		}
	}
	qsort(recs, nrec, sizeof(*recs), rec_cmp);
	top = calloc(nrec, sizeof(*top));
	if (!top)
		goto out;
	for (i = 0; i < nrec; i = j) {
		struct kh_topfn *t = &top[n];
		char *tab = strchr(recs[i].key, '\t');

		t->name = strndup(recs[i].key, tab - recs[i].key);
		t->where = strdup(tab + 1);
		if (!t->name || !t->where) {
			free(t->name);
			free(t->where);
			goto out;
		}
		n++;
		for (j = i; j < nrec && !strcmp(recs[j].key, recs[i].key); j++) {
			if (recs[j].leaf)
				t->self += recs[j].count;
			/* once per stack: a recursive function is on it once */
			if (j == i || recs[j].stack != recs[j - 1].stack)
				t->cum += recs[j].count;
		}
	}
	qsort(top, n, sizeof(*top), top_cmp);
	*out = top;
	*nout = n;
	top = NULL;
	err = 0;
out:
	for (k = 0; k < nrec; k++)
		free(recs[k].key);
	free(recs);
	kh_topfn_free(top, n);
	return err;
}

void kh_topfn_free(struct kh_topfn *top, size_t n)
{
	size_t i;

	for (i = 0; top && i < n; i++) {
		free(top[i].name);
		free(top[i].where);
	}
	free(top);
}

static uint64_t pstack_total(const struct kh_profile *p)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < p->nr_pstacks; i++)
		n += p->pstacks[i].count;
	return n;
}

/* What a thread on the CPU all along would have given: hz x duration. */
static uint64_t expected_per_thread(const struct kh_profile *p)
{
	return (uint64_t)((double)p->hz * p->duration_ns / NSEC + 0.5);
}

static const char *const profile_flag_words[] = {
	"the process exited", "the module was unloading",
};

static const char *const profile_flag_names[] = {
	"exited", "unloaded",
};

static void txt_profile_flags(FILE *f, uint32_t flags)
{
	txt_flag_words(f, flags, profile_flag_words,
		       ARRAY_SIZE(profile_flag_words), "ended:      early: ",
		       " (the profile holds what it had)\n");
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * part / whole : 0;
}

/* Which walk the user frames come from, and for how many samples. */
static void txt_unwound(FILE *f, const struct kh_profile *p)
{
	if (p->copy_bytes) {
		fprintf(f, KEY "%" PRIu64 " samples by CFI (libdw) over a %" PRIu32 "-byte copy of\n"
			"            the stack, as perf record --call-graph dwarf does; %" PRIu64 " with\n"
			"            no copy (pool or queue full, stack unreadable) and %" PRIu64 " whose\n"
			"            CFI walk was shorter keep the kernel's frame-pointer walk\n",
			"unwound:", p->unwound, p->copy_bytes, p->copies_lost,
			p->copies > p->unwound ? p->copies - p->unwound : 0);
		if (p->attributed)
			fprintf(f, KEY "%" PRIu64 " of the samples with no copy given the CFI\n"
				"            walks of their stack's copies, in proportion (the copies\n"
				"            are a uniform sample of the profile's samples)\n",
				"estimated:", p->attributed);
	} else {
		fputs("unwound:    by the kernel's frame-pointer walk only (user-stack-kb 0):\n"
		      "            code built without frame pointers (Debian's libc, most\n"
		      "            distribution libraries) shows its leaf and what the walk\n"
		      "            reaches past it\n", f);
	}
	fputs("note:       a frame-pointer walk ends at a return address outside every\n"
	      "            executable mapping; kernel frames are exact\n", f);
}

static void txt_top(FILE *f, const struct kh_capture *cap, uint64_t total)
{
	struct kh_topfn *top;
	char *name, *where;
	size_t n, i;

	if (kh_profile_top(cap, &top, &n)) {
		fputs("top functions: not enough memory to count them\n", f);
		return;
	}
	if (!n) {
		fputs("top functions: none, no sample has a frame\n", f);
		return;
	}
	fprintf(f, "top functions, of %" PRIu64 " %s (self: where it was %s; cumulative: on the stack):\n",
		total, cap->prof.kind == KHOLMES_PROFILE_FAULTS ?
		"sampled page faults" : "samples",
		cap->prof.kind == KHOLMES_PROFILE_FAULTS ? "faulting" : "running");
	fprintf(f, "  %9s %6s  %9s %6s  %s\n", "SELF", "SELF%", "CUM", "CUM%",
		"FUNCTION");
	for (i = 0; i < n && i < KH_PROFILE_TOP; i++) {
		name = clean(top[i].name);
		where = top[i].where[0] ? clean(top[i].where) : NULL;
		fprintf(f, "  %9" PRIu64 " %5.1f%%  %9" PRIu64 " %5.1f%%  %s%s%s\n",
			top[i].self, pct(top[i].self, total), top[i].cum,
			pct(top[i].cum, total), name ? name : "?",
			where ? "  " : "", where ? where : "");
		free(name);
		free(where);
	}
	if (n > KH_PROFILE_TOP)
		fprintf(f, "  (%zu more functions: see the .folded or the .pb.gz)\n",
			n - KH_PROFILE_TOP);
	kh_topfn_free(top, n);
}

static int map_size_cmp(const void *a, const void *b)
{
	const struct kh_mapping *x = *(const struct kh_mapping *const *)a;
	const struct kh_mapping *y = *(const struct kh_mapping *const *)b;
	uint64_t sx = x->end - x->start, sy = y->end - y->start;

	if (sx != sy)
		return sx > sy ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

static bool map_is_file(const struct kh_mapping *m)
{
	return m->path[0] == '/';
}

/* "+10.0MiB", "-512B" */
static void txt_signed_size(char *buf, size_t len, uint64_t from, uint64_t to)
{
	if (len < 2)
		return;
	buf[0] = to >= from ? '+' : '-';
	kh_size(buf + 1, len - 1, to >= from ? to - from : from - to);
}

/*
 * A profile's resident sizes at its end: when sampling stopped, from a
 * module that says it, else when the capture was taken; false if the
 * process had exited.
 */
static bool prof_end_rss(const struct kh_capture *cap, uint64_t *anon,
			 uint64_t *file)
{
	const struct kh_profile *p = &cap->prof;

	*anon = p->has_end_rss ? p->end_rss_anon : cap->rss_anon;
	*file = p->has_end_rss ? p->end_rss_file : cap->rss_file;
	return p->has_end_rss || cap->has_rss;
}

/* RSS at the start and the end, and the largest mappings at the end. */
static void txt_memory(FILE *f, const struct kh_capture *cap)
{
	const struct kh_profile *p = &cap->prof;
	const struct kh_mapping **maps;
	char a[32], b[32], d[32], perms[8], *path;
	uint64_t anon, file;
	size_t i;

	kh_size(a, sizeof(a), p->start_rss_anon);
	if (prof_end_rss(cap, &anon, &file)) {
		kh_size(b, sizeof(b), anon);
		txt_signed_size(d, sizeof(d), p->start_rss_anon, anon);
		fprintf(f, KEY "anon %s at the start, %s at the end (%s)\n",
			"resident:", a, b, d);
		kh_size(a, sizeof(a), p->start_rss_file);
		kh_size(b, sizeof(b), file);
		txt_signed_size(d, sizeof(d), p->start_rss_file, file);
		fprintf(f, KEY "file %s at the start, %s at the end (%s)\n", "",
			a, b, d);
	} else {
		fprintf(f, KEY "anon %s, file %s at the start; the end is unknown (the process exited)\n",
			"resident:", a, kh_size(b, sizeof(b), p->start_rss_file));
	}
	fprintf(f, KEY "%s at the start\n", "mapped:",
		kh_size(a, sizeof(a), p->start_vm));
	if (!cap->nr_maps)
		return;
	maps = malloc(cap->nr_maps * sizeof(*maps));
	if (!maps)
		return;
	for (i = 0; i < cap->nr_maps; i++)
		maps[i] = &cap->maps[i];
	qsort(maps, cap->nr_maps, sizeof(*maps), map_size_cmp);
	fputs("largest mappings at the end, by size (resident size per mapping is not\n"
	      "available from the kernel's exported API, only the totals above; the module\n"
	      "lists file mappings and [heap] and [stack], not other anonymous memory):\n",
	      f);
	fprintf(f, "  %10s  %-4s  %-4s  %s\n", "SIZE", "KIND", "PERM", "MAPPING");
	for (i = 0; i < cap->nr_maps && i < KH_PROFILE_MAPS; i++) {
		const struct kh_mapping *m = maps[i];

		snprintf(perms, sizeof(perms), "%c%c%c%c",
			 m->prot & KHOLMES_MAP_R ? 'r' : '-',
			 m->prot & KHOLMES_MAP_W ? 'w' : '-',
			 m->prot & KHOLMES_MAP_X ? 'x' : '-',
			 m->prot & KHOLMES_MAP_SHARED ? 's' : 'p');
		path = clean(m->path);
		fprintf(f, "  %10s  %-4s  %-4s  %s\n",
			kh_size(a, sizeof(a), m->end - m->start),
			map_is_file(m) ? "file" : "anon", perms, path ? path : "?");
		free(path);
	}
	free(maps);
}

/*
 * The profile as a section of a report: appended to the .txt of the
 * capture it follows, or closing its own. Starts with KH_PROFILE_MARK.
 */
int kh_report_profile_txt(FILE *f, const struct kh_capture *cap)
{
	const struct kh_profile *p = &cap->prof;
	const char *kind = kh_profile_kind_name(p->kind);
	bool cpu = p->kind == KHOLMES_PROFILE_CPU;
	char comm[KHOLMES_COMM_LEN];
	uint64_t total = pstack_total(p), exp;

	kh_text_clean(comm, sizeof(comm), cap->sum.comm);
	fprintf(f, "\n" KH_PROFILE_MARK "%" PRIu64 ": %s, pid %" PRIu32 " (%s), ",
		cap->sum.id, kind, cap->sum.pid, comm);
	if (cap->sum.profile_of)
		fprintf(f, "after capture %" PRIu64 " (%s)\n\n",
			cap->sum.profile_of, kh_trigger_name(&cap->sum));
	else
		fputs("requested with kholmesctl profile\n\n", f);
	fprintf(f, KEY "%" PRIu64 ".%03" PRIu64 " s of %" PRIu32 " s asked, ",
		"ran:", p->duration_ns / NSEC, p->duration_ns % NSEC / 1000000,
		p->seconds);
	if (cpu)
		fprintf(f, "%" PRIu32 " Hz: a sample every %" PRIu64 ".%03" PRIu64 " ms a thread is on a CPU\n",
			p->hz, p->period / 1000000, p->period % 1000000 / 1000);
	else
		fprintf(f, p->period > 1 ? "one page fault of the process in %" PRIu64 "\n" :
			"every page fault of the process\n", p->period);
	txt_profile_flags(f, p->flags & ~KHOLMES_PROFILE_F_COPIES_UNIFORM);
	if (cpu) {
		exp = expected_per_thread(p);
		fprintf(f, KEY "%" PRIu64 " of the process; %" PRIu64 " expected of one thread on a CPU all along\n",
			"samples:", p->samples, exp);
		fprintf(f, KEY "(%" PRIu32 " Hz x %" PRIu64 ".%03" PRIu64 " s): %.1f CPUs busy on average\n",
			"", p->hz, p->duration_ns / NSEC,
			p->duration_ns % NSEC / 1000000,
			exp ? (double)p->samples / exp : 0);
	} else {
		fprintf(f, KEY "%" PRIu64 " page faults recorded, about %" PRIu64 " in all\n",
			"samples:", p->samples, p->samples * (p->period ? p->period : 1));
	}
	fprintf(f, KEY "%" PRIu64 " (not counted: the module's table of distinct stacks was full)\n",
		"lost:", p->lost);
	fprintf(f, KEY "%zu distinct", "stacks:", p->nr_pstacks);
	if ((p->received ? p->received : p->nr_pstacks) != p->stacks)
		fprintf(f, " (%" PRIu32 " announced, %zu received)", p->stacks,
			p->received);
	fputc('\n', f);
	if (!cpu)
		txt_memory(f, cap);
	fprintf(f, KEY ".%s.pb.gz (go tool pprof -top), .%s.folded (flame graphs), .%s.json\n",
		"files:", kind, kind, kind);
	txt_unwound(f, p);
	txt_top(f, cap, total);
	return ferror(f) ? -EIO : 0;
}

/* The innermost frame of a sample: kernel if it was in the kernel. */
static void pstack_leaf(char *buf, size_t len, const struct kh_capture *cap,
			const struct kh_pstack *ps)
{
	if (ps->nr_kframes)
		kh_kframe_func(buf, len, ps->kframes[0]);
	else if (ps->user.n)
		user_frame_name(buf, len, cap, &ps->user.f[0]);
	else
		snprintf(buf, len, "?");
}

static int ago_cmp(const void *a, const void *b)
{
	const struct kh_pstack *x = *(const struct kh_pstack *const *)a;
	const struct kh_pstack *y = *(const struct kh_pstack *const *)b;

	return x->ago_ns > y->ago_ns ? -1 : x->ago_ns < y->ago_ns;
}

/* Second by second, oldest first: how many samples, and the commonest leaf. */
static void txt_timeline(FILE *f, const struct kh_capture *cap,
			 const struct kh_profile *p)
{
	const struct kh_pstack **ps;
	char best[512], name[512];
	size_t i, j, k, n = p->nr_pstacks;
	uint64_t sec, bc, c;
	char *cl;

	ps = malloc((n + 1) * sizeof(*ps));
	if (!ps)
		return;
	for (i = 0; i < n; i++)
		ps[i] = &p->pstacks[i];
	qsort(ps, n, sizeof(*ps), ago_cmp);
	fputs("timeline, oldest first (second before the detection: samples, commonest\n"
	      "innermost function):\n", f);
	for (i = 0; i < n; i = j) {
		sec = ps[i]->ago_ns / NSEC;
		for (j = i; j < n && ps[j]->ago_ns / NSEC == sec; j++)
			;
		best[0] = '\0';
		bc = 0;
		for (k = i; k < j; k++) {
			size_t m;

			pstack_leaf(name, sizeof(name), cap, ps[k]);
			for (m = i, c = 0; m < j; m++) {
				char other[512];

				pstack_leaf(other, sizeof(other), cap, ps[m]);
				c += !strcmp(name, other) ? ps[m]->count : 0;
			}
			if (c > bc) {
				bc = c;
				snprintf(best, sizeof(best), "%s", name);
			}
		}
		cl = clean(best);
		fprintf(f, "  -%" PRIu64 " s: %4zu  %s (%" PRIu64 ")\n", sec + 1,
			j - i, cl ? cl : "?", bc);
		free(cl);
	}
	free(ps);
}

/* The host's most sampled stacks in the same seconds (rundelay). */
static void txt_host(FILE *f, const struct kh_profile *h)
{
	char comm[KHOLMES_COMM_LEN], fn[512];
	size_t i, j;

	fprintf(f, "who was on the CPUs in those seconds (the host's most sampled stacks, of\n"
		"%" PRIu64 " samples on every CPU):\n", h->samples);
	for (i = 0; i < h->nr_pstacks; i++) {
		const struct kh_pstack *ps = &h->pstacks[i];

		kh_text_clean(comm, sizeof(comm), ps->comm);
		fprintf(f, "  %6" PRIu32 " %5.1f%%  %s[%" PRIu32 "]", ps->count,
			pct(ps->count, h->samples), comm, ps->pid);
		if (!ps->nr_kframes)
			fputs("  (user code)", f);
		for (j = 0; j < ps->nr_kframes && j < 4; j++) {
			kh_kframe_func(fn, sizeof(fn), ps->kframes[j]);
			fprintf(f, "%s%s", j ? " <- " : "  ", fn);
		}
		fputc('\n', f);
	}
}

/* The flight recorder's samples of the process from before the detection. */
static void txt_before(FILE *f, const struct kh_capture *cap)
{
	const struct kh_profile *p = &cap->before;
	struct kh_capture view;
	uint64_t total;

	if (!p->present)
		return;
	total = pstack_total(p);
	fputs("\nbefore the trigger (flight recorder)\n\n", f);
	fprintf(f, KEY "%" PRIu64 ".%03" PRIu64 " s before the detection (flight-s %" PRIu32 " s, %" PRIu32 " Hz per CPU)\n",
		"covers:", p->duration_ns / NSEC, p->duration_ns % NSEC / 1000000,
		p->seconds, p->hz);
	fprintf(f, KEY "%" PRIu64 " of this process, on any CPU; %" PRIu64 " lost (overwritten\n"
		"            while read, or past the capture's share of max-queue-kb)\n",
		"samples:", total, p->lost);
	fprintf(f, KEY ".before.pb.gz (label time-ns: when, relative to the detection),\n"
		"            .before.folded\n", "files:");
	if (total) {
		view = *cap;
		view.prof = *p;
		txt_timeline(f, cap, p);
		txt_top(f, &view, total);
	} else {
		fputs("            none: the process was not on a CPU in those seconds\n", f);
	}
	if (cap->host.present)
		txt_host(f, &cap->host);
}

int kh_report_txt(FILE *f, const struct kh_capture *cap)
{
	char comm[KHOLMES_COMM_LEN];
	size_t i;

	kh_text_clean(comm, sizeof(comm), cap->sum.comm);
	fprintf(f, "kholmes capture %" PRIu64 ": %s, pid %" PRIu32 " (%s)\n\n",
		cap->sum.id, kh_trigger_name(&cap->sum), cap->sum.pid, comm);
	txt_why(f, cap);
	txt_process(f, cap);
	txt_counters(f, cap);
	txt_consumers(f, cap);
	txt_notes(f, cap);
	for (i = 0; i < cap->nr_threads; i++)
		txt_thread(f, cap, &cap->threads[i]);
	txt_before(f, cap);
	if (cap->prof.present)
		return kh_report_profile_txt(f, cap);
	return ferror(f) ? -EIO : 0;
}

/* ------------------------------------------------------------------ JSON */

static void add(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

static json_object *hex_addr(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return json_object_new_string(buf);
}

static json_object *build_id_json(const uint8_t *b, size_t n)
{
	char buf[BUILD_ID_HEX];

	if (!n)
		return NULL;
	hex(buf, sizeof(buf), b, n);
	return json_object_new_string(buf);
}

static json_object *metric_map(const uint64_t *v, uint32_t has)
{
	json_object *o = json_object_new_object();
	unsigned int m;

	for (m = 0; o && m < KHOLMES_NR_METRICS; m++)
		if (has & BIT(m))
			add(o, kh_metrics[m].name, kh_json_fixed(v[m]));
	return o;
}

static json_object *detection_json(const struct kh_capture *cap)
{
	const struct kh_capture_sum *s = &cap->sum;
	json_object *o;

	if (!s->has_metric)
		return NULL;
	o = json_object_new_object();
	if (!o)
		return NULL;
	add(o, "metric", json_object_new_string(kh_metric_name(s->metric)));
	add(o, "unit", json_object_new_string(kh_metric_unit(s->metric)));
	add(o, "value", kh_json_fixed(s->value));
	add(o, "avg", kh_json_fixed(s->avg));
	add(o, "rule", cap->has_rule ? kh_rule_cfg_json(&cap->rule) : NULL);
	return o;
}

/* The process, at the top level as in a `captures` entry. */
static void process_fill(json_object *o, const struct kh_capture *cap)
{
	const struct kh_capture_sum *s = &cap->sum;
	char tm[KH_TIME_LEN];

	add(o, "pid", json_object_new_uint64(s->pid));
	add(o, "comm", kh_json_string(s->comm));
	add(o, "exe", cap->exe && *cap->exe ? kh_json_string(cap->exe) : NULL);
	add(o, "cgroup", cap->cgroup && *cap->cgroup ?
	    kh_json_string(cap->cgroup) : NULL);
	add(o, "uid", cap->has_uid ? json_object_new_uint64(cap->uid) : NULL);
	add(o, "start-ns", json_object_new_uint64(cap->start_ns));
	if (cap->start_ns && s->boot_ns >= cap->start_ns &&
	    s->time_ns >= s->boot_ns - cap->start_ns)
		add(o, "start-time", json_object_new_string(kh_time_iso(tm,
			sizeof(tm), s->time_ns - (s->boot_ns - cap->start_ns))));
	else
		add(o, "start-time", NULL);
	add(o, "values", metric_map(cap->value, cap->has_value));
	add(o, "avg", metric_map(cap->avg, cap->has_avg));
}

static const char *const file_state_names[] = {
	[KH_FILE_UNKNOWN] = "unused",
	[KH_FILE_OK] = "ok",
	[KH_FILE_MISSING] = "missing",
	[KH_FILE_MISMATCH] = "mismatch",
};

static json_object *mapping_json(const struct kh_mapping *m)
{
	json_object *o = json_object_new_object();
	char buf[16];

	if (!o)
		return NULL;
	add(o, "start", hex_addr(m->start));
	add(o, "end", hex_addr(m->end));
	add(o, "offset", json_object_new_uint64(m->pgoff));
	snprintf(buf, sizeof(buf), "%c%c%c%c", m->prot & KHOLMES_MAP_R ? 'r' : '-',
		 m->prot & KHOLMES_MAP_W ? 'w' : '-',
		 m->prot & KHOLMES_MAP_X ? 'x' : '-',
		 m->prot & KHOLMES_MAP_SHARED ? 's' : 'p');
	add(o, "perms", json_object_new_string(buf));
	snprintf(buf, sizeof(buf), "%x:%x", m->dev >> 20, m->dev & 0xfffff);
	add(o, "dev", json_object_new_string(buf));
	add(o, "inode", json_object_new_uint64(m->inode));
	add(o, "path", kh_json_string(m->path));
	add(o, "build-id", build_id_json(m->build_id, m->build_id_len));
	add(o, "file", json_object_new_string(file_state_names[m->state]));
	add(o, "disk-build-id", m->state == KH_FILE_MISMATCH ?
	    build_id_json(m->disk_build_id, m->disk_build_id_len) : NULL);
	return o;
}

static json_object *frame_json(const struct kh_capture *cap,
			       const struct kh_uframe *fr)
{
	const struct kh_mapping *m = fr->map >= 0 ? &cap->maps[fr->map] : NULL;
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	add(o, "pc", hex_addr(fr->pc));
	add(o, "func", fr->func ? kh_json_string(fr->func) : NULL);
	add(o, "system-name", fr->sys_name ? kh_json_string(fr->sys_name) : NULL);
	add(o, "offset", fr->func ? json_object_new_uint64(fr->func_off) : NULL);
	add(o, "path", m ? kh_json_string(m->path) : NULL);
	add(o, "file-offset", m ? json_object_new_uint64(fr->file_off) : NULL);
	add(o, "build-id", m ? build_id_json(m->build_id, m->build_id_len) :
			       NULL);
	return o;
}

static json_object *ustack_json(const struct kh_capture *cap,
				const struct kh_ustack *us, enum kh_unwinder u)
{
	json_object *o, *a;
	size_t i;

	o = json_object_new_object();
	if (!o)
		return NULL;
	add(o, "unwinder", json_object_new_string(kh_unwinder_name(u)));
	a = json_object_new_array();
	for (i = 0; us && a && i < us->n; i++)
		json_object_array_add(a, frame_json(cap, &us->f[i]));
	add(o, "frames", a);
	add(o, "stop", us && us->stop[0] ? json_object_new_string(us->stop) :
					   NULL);
	return o;
}

static json_object *thread_json(const struct kh_capture *cap,
				const struct kh_thread *t)
{
	json_object *o, *k, *copy;
	char state[2] = { t->state, '\0' };
	size_t i;

	o = json_object_new_object();
	if (!o)
		return NULL;
	add(o, "tid", json_object_new_uint64(t->tid));
	add(o, "comm", kh_json_string(t->comm));
	add(o, "state", kh_json_string(state));
	add(o, "cpu", t->has_cpu ? json_object_new_uint64(t->cpu) : NULL);
	add(o, "flags", kh_thread_flags_json(t->flags));
	k = json_object_new_array();
	for (i = 0; k && i < t->nr_kframes; i++)
		json_object_array_add(k, kh_json_string(t->kframes[i]));
	add(o, "kstack", k);
	add(o, "kstack-gap", json_object_new_boolean(t->kframes_gap));
	add(o, "ustack", ustack_json(cap, shown(t), t->shown));
	add(o, "ustack-dwarf", ustack_json(cap, &t->dwarf, KH_UNW_DWARF));
	add(o, "ustack-fp", ustack_json(cap, &t->fp, KH_UNW_FP));
	copy = json_object_new_object();
	if (copy) {
		add(copy, "sp", hex_addr(t->ustack_sp));
		add(copy, "bytes", json_object_new_uint64(t->ustack_len));
		add(copy, "received", json_object_new_uint64(t->ustack_valid));
		add(copy, "ip", t->has_uregs ?
		    hex_addr(t->uregs[KHOLMES_UREG_IP]) : NULL);
	}
	add(o, "ustack-copy", copy);
	return o;
}

static json_object *flags_words_json(uint32_t flags)
{
	json_object *a = json_object_new_array();
	char buf[16];
	unsigned int i;

	for (i = 0; a && i < 32; i++) {
		if (!(flags & BIT(i)))
			continue;
		if (i < ARRAY_SIZE(profile_flag_names)) {
			json_object_array_add(a, json_object_new_string(
				profile_flag_names[i]));
			continue;
		}
		snprintf(buf, sizeof(buf), "0x%x", BIT(i));
		json_object_array_add(a, json_object_new_string(buf));
	}
	return a;
}

static json_object *rss_json(uint64_t anon, uint64_t file)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	add(o, "anon", json_object_new_uint64(anon));
	add(o, "file", json_object_new_uint64(file));
	return o;
}

static json_object *top_json(const struct kh_capture *cap, uint64_t total)
{
	json_object *a, *o;
	struct kh_topfn *top;
	size_t n, i;

	if (kh_profile_top(cap, &top, &n))
		return NULL;
	a = json_object_new_array();
	for (i = 0; a && i < n && i < KH_PROFILE_TOP; i++) {
		o = json_object_new_object();
		if (!o)
			break;
		add(o, "function", kh_json_string(top[i].name));
		add(o, "where", top[i].where[0] ? kh_json_string(top[i].where) :
						  NULL);
		add(o, "self", json_object_new_uint64(top[i].self));
		add(o, "cum", json_object_new_uint64(top[i].cum));
		add(o, "self-pct", kh_json_fixed(total ? top[i].self * 100 *
			KHOLMES_VALUE_SCALE / total : 0));
		add(o, "cum-pct", kh_json_fixed(total ? top[i].cum * 100 *
			KHOLMES_VALUE_SCALE / total : 0));
		json_object_array_add(a, o);
	}
	kh_topfn_free(top, n);
	return a;
}

static int pstack_cmp(const void *a, const void *b)
{
	const struct kh_pstack *x = *(const struct kh_pstack *const *)a;
	const struct kh_pstack *y = *(const struct kh_pstack *const *)b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	/* flight samples: oldest first */
	return x->ago_ns > y->ago_ns ? -1 : x->ago_ns < y->ago_ns;
}

static json_object *pstacks_json(const struct kh_capture *cap)
{
	const struct kh_profile *p = &cap->prof;
	const struct kh_pstack **ps;
	json_object *a, *o, *k, *u;
	size_t i, j;

	a = json_object_new_array();
	ps = malloc((p->nr_pstacks + 1) * sizeof(*ps));
	if (!a || !ps) {
		free(ps);
		return a;
	}
	for (i = 0; i < p->nr_pstacks; i++)
		ps[i] = &p->pstacks[i];
	qsort(ps, p->nr_pstacks, sizeof(*ps), pstack_cmp);
	for (i = 0; i < p->nr_pstacks; i++) {
		o = json_object_new_object();
		if (!o)
			break;
		add(o, "count", json_object_new_uint64(ps[i]->count));
		if (ps[i]->has_ago) {
			add(o, "ago-ns", json_object_new_uint64(ps[i]->ago_ns));
			add(o, "tid", json_object_new_uint64(ps[i]->tid));
		}
		if (ps[i]->comm[0]) {
			add(o, "pid", json_object_new_uint64(ps[i]->pid));
			add(o, "comm", kh_json_string(ps[i]->comm));
		}
		add(o, "unwinder", json_object_new_string(ps[i]->dwarf ? "dwarf" :
								      "fp"));
		k = json_object_new_array();
		for (j = 0; k && j < ps[i]->nr_kframes; j++)
			json_object_array_add(k, kh_json_string(ps[i]->kframes[j]));
		add(o, "kstack", k);
		u = json_object_new_array();
		for (j = 0; u && j < ps[i]->user.n; j++)
			json_object_array_add(u, frame_json(cap, &ps[i]->user.f[j]));
		add(o, "ustack", u);
		json_object_array_add(a, o);
	}
	free(ps);
	return a;
}

static json_object *profile_json(const struct kh_capture *cap)
{
	const struct kh_profile *p = &cap->prof;
	bool cpu = kh_profile_on_cpu(p->kind);
	bool flight = p->kind == KHOLMES_PROFILE_BEFORE ||
		      p->kind == KHOLMES_PROFILE_HOST;
	uint64_t exp = cpu ? expected_per_thread(p) : 0, anon, file;
	json_object *o;

	if (!p->present)
		return NULL;
	o = json_object_new_object();
	if (!o)
		return NULL;
	add(o, "kind", json_object_new_string(kh_profile_kind_name(p->kind)));
	add(o, "profile-of", cap->sum.profile_of ?
	    json_object_new_uint64(cap->sum.profile_of) : NULL);
	/* why it ended early; how its copies were drawn is attributed-dwarf */
	add(o, "flags", flags_words_json(p->flags &
					 ~KHOLMES_PROFILE_F_COPIES_UNIFORM));
	add(o, "hz", cpu ? json_object_new_uint64(p->hz) : NULL);
	add(o, "period", json_object_new_uint64(p->period));
	add(o, "period-unit", json_object_new_string(cpu ? "nanoseconds" :
							   "faults"));
	add(o, "seconds", json_object_new_uint64(p->seconds));
	add(o, "duration-ns", json_object_new_uint64(p->duration_ns));
	add(o, "samples", json_object_new_uint64(p->samples));
	add(o, "expected-per-thread", cpu ? json_object_new_uint64(exp) : NULL);
	add(o, "busy-cpus", cpu && exp ? kh_json_fixed(p->samples *
		KHOLMES_VALUE_SCALE / exp) : NULL);
	add(o, "lost", json_object_new_uint64(p->lost));
	add(o, "stack-copy-bytes", json_object_new_uint64(p->copy_bytes));
	add(o, "stack-copies", json_object_new_uint64(p->copies));
	add(o, "stack-copies-lost", json_object_new_uint64(p->copies_lost));
	add(o, "unwound-dwarf", json_object_new_uint64(p->unwound));
	add(o, "attributed-dwarf", json_object_new_uint64(p->attributed));
	add(o, "nr-stacks", json_object_new_uint64(p->nr_pstacks));
	if (flight)
		goto stacks;
	add(o, "rss-start", rss_json(p->start_rss_anon, p->start_rss_file));
	add(o, "rss-end", prof_end_rss(cap, &anon, &file) ?
			  rss_json(anon, file) : NULL);
	add(o, "vm-start", json_object_new_uint64(p->start_vm));
stacks:
	add(o, "top", top_json(cap, pstack_total(p)));
	add(o, "stacks", pstacks_json(cap));
	return o;
}

/* The flight recorder's part, as a profile of its own. */
static json_object *flight_json(const struct kh_capture *cap,
				const struct kh_profile *p)
{
	struct kh_capture view;

	if (!p->present)
		return NULL;
	view = *cap;
	view.prof = *p;
	return profile_json(&view);
}

static json_object *consumers_json(const struct kh_capture *cap)
{
	json_object *a, *o;
	size_t i;

	if (!cap->nr_consumers && !(cap->sum.has_metric &&
	    cap->sum.metric == KHOLMES_METRIC_RUNDELAY))
		return NULL;
	a = json_object_new_array();
	for (i = 0; a && i < cap->nr_consumers; i++) {
		const struct kh_consumer *c = &cap->consumers[i];

		o = json_object_new_object();
		if (!o)
			break;
		add(o, "pid", json_object_new_uint64(c->pid));
		add(o, "comm", kh_json_string(c->comm));
		add(o, "cpu", kh_json_fixed(c->cpu));
		add(o, "cgroup", c->cgroup[0] ? kh_json_string(c->cgroup) : NULL);
		json_object_array_add(a, o);
	}
	return a;
}

json_object *kh_report_json(const struct kh_capture *cap)
{
	const struct kh_capture_sum *s = &cap->sum;
	char tm[KH_TIME_LEN];
	json_object *o, *a;
	size_t i;

	o = json_object_new_object();
	if (!o)
		return NULL;
	add(o, "format", json_object_new_string(KH_FORMAT_NAME));
	add(o, "format-version", json_object_new_int(KH_FORMAT_VERSION));
	add(o, "id", json_object_new_uint64(s->id));
	add(o, "time", json_object_new_string(kh_time_iso(tm, sizeof(tm),
							   s->time_ns)));
	add(o, "time-ns", json_object_new_uint64(s->time_ns));
	add(o, "boot-ns", json_object_new_uint64(s->boot_ns));
	add(o, "duration-ns", json_object_new_uint64(cap->duration_ns));
	add(o, "trigger", json_object_new_string(kh_trigger_name(s)));
	add(o, "detection", detection_json(cap));
	add(o, "flags", kh_capture_flags_json(s->flags & ~profile_flags_off(s)));
	process_fill(o, cap);
	add(o, "nr-threads", json_object_new_uint64(s->nr_threads));
	add(o, "threads-captured", json_object_new_uint64(s->threads));
	add(o, "malformed-records", json_object_new_uint64(cap->bad_records));
	add(o, "malformed-first", cap->bad_records ?
	    json_object_new_string(cap->bad_why) : NULL);
	add(o, "unwind-error", cap->unwind_err[0] ?
	    json_object_new_string(cap->unwind_err) : NULL);
	a = json_object_new_array();
	for (i = 0; a && i < cap->nr_maps; i++)
		json_object_array_add(a, mapping_json(&cap->maps[i]));
	add(o, "mappings", a);
	a = json_object_new_array();
	for (i = 0; a && i < cap->nr_threads; i++)
		json_object_array_add(a, thread_json(cap, &cap->threads[i]));
	add(o, "threads", a);
	add(o, "rss", cap->has_rss ? rss_json(cap->rss_anon, cap->rss_file) :
				     NULL);
	add(o, "consumers", consumers_json(cap));
	add(o, "profile", profile_json(cap));
	add(o, "before", flight_json(cap, &cap->before));
	add(o, "before-host", flight_json(cap, &cap->host));
	return o;
}
