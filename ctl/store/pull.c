// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decode.h"
#include "fmt.h"
#include "out.h"
#include "pull.h"
#include "report.h"
#include "stream.h"
#include "subcommands.h"
#include "unwind.h"
#include "util.h"
#include "writers.h"

struct sums {
	struct kh_capture_sum *s;
	size_t n;
	size_t cap;
	size_t bad;			/* malformed entries */
	int err;
};

/*
 * Never stops the dump: what is left of it would be read as a reply. A
 * malformed entry is counted and skipped, or kept by its id alone, so
 * that one bad entry never hides the others.
 */
static int list_cb(struct nlmsghdr *nlh, void *arg)
{
	struct sums *ss = arg;
	struct nlattr *a;
	int rem;

	kh_for_each_attr(a, nlh, rem) {
		if (nla_type(a) != KHOLMES_A_CAPTURE || ss->err)
			continue;
		if (KH_GROW(ss->s, ss->n, ss->cap, 64)) {
			ss->err = -ENOMEM;
			continue;
		}
		switch (kh_decode_list_entry(a, &ss->s[ss->n])) {
		case 0:
			ss->n++;
			break;
		case 1:
			ss->n++;
			ss->bad++;
			break;
		default:
			ss->bad++;
		}
	}
	return 0;
}

static void list_reset(void *arg)
{
	struct sums *ss = arg;

	ss->n = 0;
	ss->bad = 0;
	ss->err = 0;
}

static int sum_cmp(const void *a, const void *b)
{
	const struct kh_capture_sum *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* The queue, oldest (lowest id) first; *bad: malformed entries, said. */
int kh_list_captures(struct kh_nl *nl, struct kh_capture_sum **out, size_t *n,
		     size_t *bad)
{
	struct sums ss = { 0 };
	int err;

	*out = NULL;
	*n = 0;
	err = kh_nl_dump(nl, KHOLMES_CMD_LIST_CAPTURES, list_cb, list_reset, &ss);
	if (!err)
		err = ss.err;
	if (err) {
		free(ss.s);
		return err;
	}
	if (ss.n)
		qsort(ss.s, ss.n, sizeof(*ss.s), sum_cmp);
	*out = ss.s;
	*n = ss.n;
	*bad = ss.bad;
	if (ss.bad)
		kh_err("%zu malformed entr%s in the list of captures%s", ss.bad,
		       ss.bad == 1 ? "y" : "ies",
		       ss.n ? "; the others are listed" : "");
	return 0;
}

static int fetch_cb(struct nlmsghdr *nlh, void *arg)
{
	return kh_stream_msg(arg, nlh);
}

static void fetch_reset(void *arg)
{
	kh_stream_reset(arg);
}

static int ack(struct kh_puller *p, uint64_t id)
{
	struct nl_msg *msg = kh_nl_msg(&p->nl, KHOLMES_CMD_ACK_CAPTURE, 0);

	if (msg && nla_put_u64(msg, KHOLMES_A_CAPTURE_ID, id)) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return kh_nl_call(&p->nl, msg, NULL, NULL);
}

/* A failure logged once per capture: the daemon retries every few seconds. */
static bool quiet(struct kh_puller *p, uint64_t id)
{
	unsigned int i;

	for (i = 0; i < p->nr_quiet && i < KH_PULL_QUIET; i++)
		if (p->quiet[i] == id)
			return true;
	p->quiet[p->nr_quiet++ % KH_PULL_QUIET] = id;
	return false;
}

/* One more failure of capture id; how many so far (capped). */
static unsigned int failed_once_more(struct kh_puller *p, uint64_t id)
{
	unsigned int i, worst = 0;

	for (i = 0; i < KH_PULL_QUIET; i++)
		if (p->tries[i].n && p->tries[i].id == id)
			return ++p->tries[i].n;
	/* a free slot, or the one that failed least */
	for (i = 1; i < KH_PULL_QUIET; i++)
		if (p->tries[i].n < p->tries[worst].n)
			worst = i;
	p->tries[worst].id = id;
	p->tries[worst].n = 1;
	return 1;
}

static const char *sep(const char *dir)
{
	size_t len = strlen(dir);

	return len && dir[len - 1] == '/' ? "" : "/";
}

/* "{json,folded,pb.gz,txt}": the files' extensions after the base */
static void ext_list(char *buf, size_t len, const struct kh_files *fs)
{
	size_t off = 0, blen = strlen(fs->base);
	unsigned int i;

	snprintf(buf, len, "{");
	for (i = 0; i < fs->n; i++) {
		off = strlen(buf);
		snprintf(buf + off, len - off, "%s%s", i ? "," : "",
			 fs->name[i] + blen + 1);
	}
	off = strlen(buf);
	snprintf(buf + off, len - off, "}");
}

static void report_written(struct kh_puller *p, const struct kh_capture *cap)
{
	const struct kh_files *fs = &p->files;
	const char *dir = p->store.dir;
	char comm[KHOLMES_COMM_LEN], path[4096], what[64], ext[128];
	json_object *o, *files;
	size_t i;

	if (p->daemon) {
		kh_text_clean(comm, sizeof(comm), cap->sum.comm);
		if (cap->prof.present)
			snprintf(what, sizeof(what), "%s profile, %" PRIu64 " samples",
				 kh_profile_kind_name(cap->prof.kind),
				 cap->prof.samples);
		else
			snprintf(what, sizeof(what), "%zu threads",
				 cap->nr_threads);
		ext_list(ext, sizeof(ext), fs);
		kh_log(LOG_INFO, "capture %" PRIu64 " (%s, pid %" PRIu32 " %s, %s): wrote %s%s%s.%s%s",
		       cap->sum.id, kh_trigger_name(&cap->sum), cap->sum.pid,
		       comm[0] ? comm : "-", what, dir, sep(dir), fs->base, ext,
		       fs->joined ? " (its profile section in the .txt)" : "");
		return;
	}
	if (!p->out) {
		for (i = 0; i < fs->n; i++)
			printf("%s%s%s\n", dir, sep(dir), fs->name[i]);
		fflush(stdout);
		return;
	}
	o = json_object_new_object();
	files = json_object_new_array();
	if (!o || !files) {
		json_object_put(o);
		json_object_put(files);
		return;
	}
	json_object_object_add(o, "id", json_object_new_uint64(cap->sum.id));
	for (i = 0; i < fs->n; i++) {
		snprintf(path, sizeof(path), "%s%s%s", dir, sep(dir),
			 fs->name[i]);
		json_object_array_add(files, kh_json_string(path));
	}
	json_object_object_add(o, "files", files);
	json_object_array_add(p->out, o);
}

/*
 * A capture's files, or a profile's (pfiles.h), into p->files; 0, or the
 * negative errno of the file named in name.
 */
static int write_files(struct kh_puller *p, const struct kh_capture *cap,
		       char *name, size_t len)
{
	struct kh_files *fs = &p->files;
	size_t i;
	int err;

	if (cap->sum.flags & KHOLMES_CAPTURE_F_PROFILE && cap->prof.present)
		return kh_profile_write(&p->store, cap, fs, name, len);
	memset(fs, 0, sizeof(*fs));
	err = kh_capture_base(fs->base, sizeof(fs->base), &cap->sum);
	for (i = 0; !err && i < KH_NR_FORMATS; i++) {
		snprintf(name, len, "%s.%s", fs->base, kh_formats[i].ext);
		err = kh_store_write(&p->store, name, kh_formats[i].fn,
				     (void *)cap);
		if (!err)
			snprintf(fs->name[fs->n++], KH_FILE_LEN, "%s", name);
	}
	if (!err && cap->before.present) {
		/* the flight recorder's samples, as a profile of their own */
		struct kh_capture *view = malloc(sizeof(*view));

		if (!view)
			return -ENOMEM;
		*view = *cap;
		view->prof = cap->before;
		for (i = 0; !err && i < 2; i++) {
			snprintf(name, len, "%s.before.%s", fs->base,
				 i ? "pb.gz" : "folded");
			err = kh_store_write(&p->store, name, i ? kh_write_pprof :
					     kh_write_folded, view);
			if (!err)
				snprintf(fs->name[fs->n++], KH_FILE_LEN, "%s",
					 name);
		}
		free(view);
	}
	/* .txt last: a tool that waits for it finds the others */
	if (!err) {
		snprintf(name, len, "%s.txt", fs->base);
		err = kh_store_write(&p->store, name, kh_write_txt, (void *)cap);
		if (!err)
			snprintf(fs->name[fs->n++], KH_FILE_LEN, "%s", name);
	}
	return err;
}

/*
 * 0 when the capture is dealt with (written and acknowledged, or gone
 * from the queue, or unusable and left there with a message), a negative
 * errno when the directory refused a file: then the pull stops, as the
 * next capture would fail the same way.
 */
static int pull_one(struct kh_puller *p, const struct kh_capture_sum *listed)
{
	char name[KH_FILE_LEN], what[96], why[128];
	uint64_t id = listed->id;
	struct kh_capture cap;
	struct kh_stream s;
	bool partial = false, unwound = false;
	int err;

	name[0] = '\0';
	why[0] = '\0';
	kh_stream_init(&s, &cap, id);
	err = kh_nl_dump_u64(&p->nl, KHOLMES_CMD_GET_CAPTURE, KHOLMES_A_CAPTURE_ID,
			     id, fetch_cb, fetch_reset, &s);
	if (err == -ENOENT) {
		kh_err("capture %" PRIu64 ": dropped from the queue before it was read; skipped",
		       id);
		err = 0;
		goto out;
	}
	if (err == -EIO || err == -EPERM) {
		/* the socket's or ours, not this capture's: no try counted */
		p->nr_failed++;
		p->nl_broken |= err == -EIO;
		snprintf(what, sizeof(what), "reading capture %" PRIu64, id);
		if (!quiet(p, id))
			kh_nl_fail(&p->nl, what, err);
		err = 0;
		goto out;
	}
	if (err) {
		snprintf(why, sizeof(why), "the module refused to send it: %.80s",
			 p->nl.msg[0] ? p->nl.msg : strerror(-err));
	} else {
		err = kh_stream_end(&s);
		if (err)
			snprintf(why, sizeof(why), "%s",
				 err == -ENOMEM ? strerror(ENOMEM) :
				 cap.bad_why[0] ? cap.bad_why :
				 "the record stream has no capture record");
	}
	if (!err) {
		unwound = true;
		err = kh_unwind(&cap);
		if (err)
			snprintf(why, sizeof(why), "unwinding: %s", strerror(-err));
	}
	if (err && failed_once_more(p, id) < KH_PULL_TRIES) {
		p->nr_failed++;
		if (!quiet(p, id))
			kh_err("capture %" PRIu64 ": %s; left queued, tried again up to %d times",
			       id, why, KH_PULL_TRIES);
		err = 0;
		goto out;
	}
	if (err) {
		/* as far as it goes: one bad capture must not wedge the rest */
		snprintf(what, sizeof(what), "not read whole after %d tries: %.60s",
			 KH_PULL_TRIES, why);
		if (unwound) {
			/* decoded whole: its stacks are as far as they got */
			if (!cap.bad_records++)
				snprintf(cap.bad_why, sizeof(cap.bad_why), "%s", what);
			err = 0;
		} else {
			err = kh_stream_salvage(&s, listed, what);
			if (!err)
				kh_unwind(&cap);
		}
		if (err) {
			p->nr_failed++;
			kh_err("capture %" PRIu64 ": %s; left queued", id,
			       strerror(-err));
			err = 0;
			goto out;
		}
		partial = true;
		kh_log(LOG_WARNING, "capture %" PRIu64 ": %s after %d tries: written as far as it goes, then acknowledged",
		       id, why, KH_PULL_TRIES);
	}
	if (cap.bad_records)
		kh_err("capture %" PRIu64 ": %u malformed records skipped (first: %s)",
		       id, cap.bad_records, cap.bad_why);
	err = write_files(p, &cap, name, sizeof(name));
	if (!err)
		err = kh_store_sync(&p->store);
	/* counted before the acknowledgement: status shows every one */
	if (!err && partial) {
		err = kh_store_add_partial(&p->store);
		if (err)
			snprintf(name, sizeof(name), "%s", KH_LOCK_NAME);
	}
	if (err) {
		p->nr_failed++;
		kh_err("writing %s%s%s: %s; capture %" PRIu64 " left queued",
		       p->store.dir, sep(p->store.dir), name, strerror(-err), id);
		goto out;
	}
	if (p->durable) {
		err = p->durable(p, &cap, p->files.base);
		if (err) {
			p->nr_failed++;
			kh_err("capture %" PRIu64 " left queued", id);
			goto out;
		}
	}
	err = ack(p, id);
	/* gone meanwhile (dropped as the oldest): we have it all the same */
	if (err && err != -ENOENT) {
		p->nr_failed++;
		p->nl_broken |= err == -EIO;
		snprintf(what, sizeof(what), "acknowledging capture %" PRIu64, id);
		kh_nl_fail(&p->nl, what, err);
	}
	err = 0;
	p->nr_written++;
	p->nr_partial += partial;
	report_written(p, &cap);
	if (p->written)
		p->written(p, &cap, p->files.base);
out:
	kh_capture_free(&cap);
	return err;
}

/*
 * Everything queued now. Returns 0, the negative errno of a directory
 * that refused a file, or of a list that could not be read.
 */
int kh_pull_all(struct kh_puller *p)
{
	struct kh_capture_sum *sums;
	size_t n, i, bad;
	int err;

	err = kh_list_captures(&p->nl, &sums, &n, &bad);
	if (err) {
		p->nl_broken = true;
		kh_nl_fail(&p->nl, "listing the captures", err);
		return err;
	}
	for (i = 0; i < n; i++) {
		err = pull_one(p, &sums[i]);
		if (err || (p->stop && p->stop(p)))
			break;
	}
	free(sums);
	return err;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s [-j|--json] pull --dir DIR\n", PROG_NAME);
	fprintf(f, "Writes every queued capture to DIR as <time>-<comm>-<pid>-<metric>-<id>.txt, .json,\n");
	fprintf(f, ".folded and .pb.gz (pprof), with the flight recorder's samples from before the\n");
	fprintf(f, "detection as .before.folded and .before.pb.gz, each durably, then acknowledges\n");
	fprintf(f, "it; a profile adds\n");
	fprintf(f, "<base>.cpu.pb.gz, .cpu.folded and .cpu.json (or .faults.*) to the capture it\n");
	fprintf(f, "follows, and a section to its .txt. Prints the files written.\n");
}

/*
 * Shared with daemon: lock DIR, drop what an interrupted run left. With
 * create, a missing DIR is made (0750) when its parent exists.
 */
int kh_pull_open_dir(struct kh_store *st, const char *dir, bool create)
{
	unsigned int removed;
	int err;

	err = kh_store_open(st, dir);
	if (err == -ENOENT && create) {
		if (!mkdir(dir, 0750)) {
			kh_log(LOG_NOTICE, "created %s", dir);
			if (st->set_gid && chown(dir, -1, st->gid))
				kh_err("giving %s to group %u: %s", dir,
				       (unsigned int)st->gid, strerror(errno));
		}
		err = kh_store_open(st, dir);
	}
	if (err == -EBUSY) {
		kh_err("%s is in use by another %s pull or daemon", dir,
		       PROG_NAME);
		return KH_EXIT_FAIL;
	}
	if (err == -KH_ENOTOURS) {
		kh_err("refusing %s: another user could write into it or owns it (it must be ours or root's and writable by no one else, or sticky and ours), or its %s is not a file of ours",
		       dir, KH_LOCK_NAME);
		return KH_EXIT_FAIL;
	}
	if (err) {
		kh_err("opening %s: %s", dir, strerror(-err));
		return KH_EXIT_FAIL;
	}
	err = kh_store_clean(st, &removed);
	if (err)
		kh_err("removing temporary files from %s: %s", dir, strerror(-err));
	else if (removed)
		kh_log(LOG_NOTICE, "removed %u temporary file%s an interrupted run left in %s",
		       removed, removed == 1 ? "" : "s", dir);
	return KH_EXIT_OK;
}

int pull_main(int argc, char *argv[])
{
	struct kh_puller p = { .store = { .dirfd = -1 } };
	struct kh_pull_opts po;
	struct kh_parse_err pe;
	int ret, err;

	if (argc > 1 && kh_is_help(argv[1])) {
		usage(stdout);
		return KH_EXIT_OK;
	}
	if (kh_parse_pull(argc - 1, argv + 1, false, &po, &pe))
		return kh_usage_fail(usage, &pe);
	kh_json |= po.json;
	/*
	 * DEBUGINFOD_URLS is kept: whoever runs pull with it set asks for
	 * symbols from those servers (bounded by DEBUGINFOD_TIMEOUT). The
	 * daemon unsets it: a fetch would stall its loop.
	 */
	ret = kh_pull_open_dir(&p.store, po.dir, false);
	if (ret)
		return ret;
	ret = kh_nl_connect(&p.nl);
	if (ret)
		goto out;
	if (kh_json) {
		p.out = json_object_new_array();
		if (!p.out) {
			ret = kh_json_put(NULL);
			goto out;
		}
	}
	err = kh_pull_all(&p);
	ret = err || p.nr_failed ? KH_EXIT_FAIL : KH_EXIT_OK;
	if (p.out) {
		kh_json_put(p.out);
		p.out = NULL;
	}
out:
	kh_nl_close(&p.nl);
	kh_store_close(&p.store);
	return ret;
}
