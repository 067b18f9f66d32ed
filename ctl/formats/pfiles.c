// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmt.h"
#include "pfiles.h"
#include "report.h"
#include "writers.h"

/* A report this large is not one of ours: leave it alone. */
#define TXT_MAX		(256 << 20)

static bool ends_with(const char *s, size_t len, const char *tail)
{
	size_t t = strlen(tail);

	return len >= t && !memcmp(s + len - t, tail, t);
}

/*
 * The base name of the capture this profile follows, if its .txt is in
 * the directory: "<time>-<comm>-<pid>-<metric>-<id>.txt" with the
 * profile's pid, trigger and profile_of, no later than the profile. Ids
 * restart when the module is reloaded, so the id alone could name an
 * older capture; of several candidates the latest is taken.
 */
static int find_capture(struct kh_store *st, const struct kh_capture *cap,
			char *base, size_t len, bool *found)
{
	char tail[64], tm[KH_TIME_LEN];
	struct dirent *de;
	size_t blen, nlen;
	uint64_t id;
	DIR *d;

	*found = false;
	snprintf(tail, sizeof(tail), "-%" PRIu32 "-%s-%" PRIu64, cap->sum.pid,
		 kh_trigger_name(&cap->sum), cap->sum.profile_of);
	kh_time_compact(tm, sizeof(tm), cap->sum.time_ns);
	d = kh_opendir_at(st->dirfd);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		nlen = strlen(de->d_name);
		if (!kh_parse_name(de->d_name, &blen, &id) ||
		    id != cap->sum.profile_of || blen + 4 != nlen ||
		    strcmp(de->d_name + blen, ".txt") ||
		    !ends_with(de->d_name, blen, tail) ||
		    strncmp(de->d_name, tm, KH_TIME_COMPACT) > 0 || blen >= len)
			continue;
		if (*found && strncmp(de->d_name, base, KH_TIME_COMPACT) <= 0)
			continue;
		memcpy(base, de->d_name, blen);
		base[blen] = '\0';
		*found = true;
	}
	closedir(d);
	return 0;
}

/* Which base a profile's files take; *joined: its capture's. */
int kh_profile_base(struct kh_store *st, const struct kh_capture *cap,
		    char *base, size_t len, bool *joined)
{
	int err;

	*joined = false;
	if (cap->sum.profile_of) {
		err = find_capture(st, cap, base, len, joined);
		if (err || *joined)
			return err;
	}
	return kh_capture_base(base, len, &cap->sum);
}

static int read_file(struct kh_store *st, const char *name, char **buf,
		     size_t *len)
{
	struct stat sb;
	ssize_t r;
	size_t off = 0;
	int fd, err = 0;

	*buf = NULL;
	*len = 0;
	fd = openat(st->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb)) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size > TXT_MAX) {
		err = -EFBIG;
		goto out;
	}
	*buf = malloc(sb.st_size + 1);
	if (!*buf) {
		err = -ENOMEM;
		goto out;
	}
	while (off < (size_t)sb.st_size) {
		r = read(fd, *buf + off, sb.st_size - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r ? -errno : -EIO;
			goto out;
		}
		off += r;
	}
	(*buf)[off] = '\0';
	*len = off;
out:
	if (err) {
		free(*buf);
		*buf = NULL;
	}
	close(fd);
	return err;
}

struct txt_arg {
	const struct kh_capture *cap;
	const char *old;		/* the capture's report, or NULL */
	size_t old_len;
};

/*
 * The capture's report with this profile's section, replacing the one a
 * run that died before its acknowledgement may have appended already.
 */
static int write_txt(FILE *f, void *arg)
{
	const struct txt_arg *t = arg;
	char mark[64];
	const char *at;
	size_t keep;

	if (!t->old)
		return kh_report_txt(f, t->cap);
	snprintf(mark, sizeof(mark), "\n" KH_PROFILE_MARK "%" PRIu64 ":",
		 t->cap->sum.id);
	at = memmem(t->old, t->old_len, mark, strlen(mark));
	keep = at ? (size_t)(at - t->old) : t->old_len;
	/* the section starts with a blank line: one line break before it */
	while (keep && t->old[keep - 1] == '\n')
		keep--;
	if (fwrite(t->old, 1, keep, f) != keep)
		return -EIO;
	fputc('\n', f);
	return kh_report_profile_txt(f, t->cap);
}

/*
 * Writes a profile capture's files into st, the .txt last; the caller
 * fsyncs the directory, then acknowledges. 0, or a negative errno with
 * the name of the file that failed in failed.
 */
int kh_profile_write(struct kh_store *st, const struct kh_capture *cap,
		     struct kh_files *out, char *failed, size_t len)
{
	const char *kind = kh_profile_kind_name(cap->prof.kind);
	struct txt_arg t = { .cap = cap };
	char name[KH_FILE_LEN];
	size_t i;
	int err;

	memset(out, 0, sizeof(*out));
	failed[0] = '\0';
	err = kh_profile_base(st, cap, out->base, sizeof(out->base),
			      &out->joined);
	if (err) {
		snprintf(failed, len, ".");
		return err;
	}
	for (i = 0; i < KH_NR_FORMATS; i++) {
		snprintf(name, sizeof(name), "%s.%s.%s", out->base, kind,
			 kh_formats[i].ext);
		err = kh_store_write(st, name, kh_formats[i].fn, (void *)cap);
		if (err)
			goto fail;
		snprintf(out->name[out->n++], KH_FILE_LEN, "%s", name);
	}
	snprintf(name, sizeof(name), "%s.txt", out->base);
	if (out->joined) {
		err = read_file(st, name, (char **)&t.old, &t.old_len);
		/* gone meanwhile: a report of its own, under the same name */
		if (err == -ENOENT)
			err = 0;
		if (err)
			goto fail;
	}
	err = kh_store_write(st, name, write_txt, &t);
	free((char *)t.old);
	if (err)
		goto fail;
	snprintf(out->name[out->n++], KH_FILE_LEN, "%s", name);
	return 0;
fail:
	snprintf(failed, len, "%s", name);
	return err;
}
