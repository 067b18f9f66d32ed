// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmt.h"
#include "store.h"
#include "util.h"

#define TEMP_MARK	".tmp."

static bool name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '+' ||
	       c == '-';
}

/*
 * A process names itself: only [A-Za-z0-9._+-] reach a file name, the
 * rest become '_' (a '/' would leave the directory). A leading '.' would
 * hide the file and could read as our temporary names, so it goes too.
 */
void kh_sanitize(char *dst, size_t len, const char *src)
{
	size_t i;

	if (!len)
		return;
	for (i = 0; src[i] && i + 1 < len; i++)
		dst[i] = name_char(src[i]) ? src[i] : '_';
	dst[i] = '\0';
	if (dst[0] == '.')
		dst[0] = '_';
	if (!dst[0] && len > 1)
		snprintf(dst, len, "_");
}

int kh_capture_base(char *buf, size_t len, const struct kh_capture_sum *sum)
{
	char tm[KH_TIME_LEN], comm[KHOLMES_COMM_LEN];
	int n;

	kh_time_compact(tm, sizeof(tm), sum->time_ns);
	kh_sanitize(comm, sizeof(comm), sum->comm);
	n = snprintf(buf, len, "%s-%s-%" PRIu32 "-%s-%" PRIu64, tm, comm,
		     sum->pid, kh_trigger_name(sum), sum->id);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/*
 * Ours: "YYYYMMDDTHHMMSSZ-...-<id>.<ext>". The id is the last "-digits."
 * (a comm may hold dashes, digits and dots of its own; the metric and the
 * extensions hold no "-digits."). *base_len is where the extension starts.
 */
bool kh_parse_name(const char *name, size_t *base_len, uint64_t *id)
{
	const char *p, *d, *best = NULL, *end = NULL;
	uint64_t v = 0;

	if (strlen(name) < KH_TIME_COMPACT + 2 || !digits(name, 8) ||
	    name[8] != 'T' || !digits(name + 9, 6) || name[15] != 'Z' ||
	    name[16] != '-')
		return false;
	for (p = name + KH_TIME_COMPACT; (p = strchr(p, '-')); p++) {
		for (d = p + 1; *d >= '0' && *d <= '9'; d++)
			;
		if (d > p + 1 && *d == '.') {
			best = p + 1;
			end = d;
		}
	}
	if (!best || end - best > 20 || (size_t)(end - name) >= KH_BASE_LEN)
		return false;
	if (kh_parse_dec(best, end - best, UINT64_MAX, &v))
		return false;
	*base_len = end - name;
	*id = v;
	return true;
}

/* ".<name>.tmp.<pid>" */
bool kh_is_temp_name(const char *name)
{
	const char *m;

	if (name[0] != '.')
		return false;
	m = strstr(name, TEMP_MARK);
	if (!m)
		return false;
	for (;;) {
		const char *next = strstr(m + 1, TEMP_MARK);

		if (!next)
			break;
		m = next;
	}
	m += strlen(TEMP_MARK);
	return *m && digits(m, strlen(m));
}

/*
 * A directory where another user may create names could hold their
 * symlinks, FIFOs and hard links under the names we write or delete:
 * only ours (or root's) and writable by no one else, or sticky and ours
 * (then nobody else can rename or remove what we put there).
 */
int kh_dir_check(int dirfd)
{
	struct stat sb;

	if (fstat(dirfd, &sb))
		return -errno;
	if (!S_ISDIR(sb.st_mode))
		return -ENOTDIR;
	if (sb.st_uid != geteuid() && sb.st_uid != 0)
		return -KH_ENOTOURS;
	if (!(sb.st_mode & (S_IWGRP | S_IWOTH)))
		return 0;
	if ((sb.st_mode & S_ISVTX) && sb.st_uid == geteuid())
		return 0;
	return -KH_ENOTOURS;
}

/*
 * Holds DIR/.lock's lock until kh_store_close(): two writers would race on
 * the same names and acknowledge each other's files. The lock is a file
 * only we can open (0600, never through a symlink): a lock on the directory
 * itself could be taken by any user who can read it.
 */
int kh_store_open(struct kh_store *st, const char *dir)
{
	struct stat sb;
	int err;

	st->dir = dir;
	st->lockfd = -1;
	st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0)
		return -errno;
	err = kh_dir_check(st->dirfd);
	if (err)
		goto fail;
	st->lockfd = openat(st->dirfd, KH_LOCK_NAME,
			    O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
			    O_NOCTTY | O_CLOEXEC, 0600);
	if (st->lockfd < 0 && errno == EROFS) {
		/*
		 * A read-only file system: no lock file can be made there,
		 * and nobody can write there either. The daemon still starts
		 * and retries its writes until the directory is writable;
		 * meanwhile it locks the directory itself.
		 */
		if (flock(st->dirfd, LOCK_EX | LOCK_NB)) {
			err = errno == EWOULDBLOCK ? -EBUSY : -errno;
			goto fail;
		}
		return 0;
	}
	if (st->lockfd < 0) {
		err = errno == ELOOP ? -KH_ENOTOURS : -errno;
		goto fail;
	}
	if (fstat(st->lockfd, &sb)) {
		err = -errno;
		goto fail;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_uid != geteuid() || sb.st_nlink != 1) {
		err = -KH_ENOTOURS;
		goto fail;
	}
	if ((sb.st_mode & 07777) != 0600 && fchmod(st->lockfd, 0600)) {
		err = -errno;
		goto fail;
	}
	if (flock(st->lockfd, LOCK_EX | LOCK_NB)) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto fail;
	}
	return 0;
fail:
	kh_store_close(st);
	return err;
}

void kh_store_close(struct kh_store *st)
{
	if (st->dirfd >= 0 && st->lockfd >= 0)
		close(st->lockfd);
	if (st->dirfd >= 0)
		close(st->dirfd);
	st->dirfd = -1;
	st->lockfd = -1;
}

/*
 * DIR/.lock also holds what the directory has seen that its files do not
 * say, for `kholmesctl status --dir`: "partial N", the captures written
 * as far as they went (not read whole after KH_PULL_TRIES). N is written
 * at a fixed width, so that each update overwrites the last in place.
 */
#define PARTIAL_KEY	"partial "
#define PARTIAL_MAX	64

static int partial_parse(const char *buf, size_t len, uint64_t *n)
{
	size_t klen = strlen(PARTIAL_KEY);

	*n = 0;
	/* a lock file of before the count, or of a directory without one */
	if (!len)
		return 0;
	if (len < klen + 2 || memcmp(buf, PARTIAL_KEY, klen) ||
	    buf[len - 1] != '\n')
		return -EBADMSG;
	return kh_parse_dec(buf + klen, len - klen - 1, UINT64_MAX, n) ?
	       -EBADMSG : 0;
}

static int partial_read(int fd, uint64_t *n)
{
	char buf[PARTIAL_MAX];
	ssize_t len = pread(fd, buf, sizeof(buf), 0);

	if (len < 0)
		return -errno;
	if (len == sizeof(buf))
		return -EBADMSG;
	return partial_parse(buf, len, n);
}

/* One more partial capture, counted durably in DIR/.lock. */
int kh_store_add_partial(struct kh_store *st)
{
	char buf[PARTIAL_MAX];
	uint64_t n;
	int len, err;

	if (st->lockfd < 0)
		return -EROFS;
	err = partial_read(st->lockfd, &n);
	/* a count that cannot be read starts again rather than stop us */
	if (err == -EBADMSG)
		n = 0;
	else if (err)
		return err;
	if (n < UINT64_MAX)
		n++;
	len = snprintf(buf, sizeof(buf), PARTIAL_KEY "%020" PRIu64 "\n", n);
	if (pwrite(st->lockfd, buf, len, 0) != len)
		return errno ? -errno : -EIO;
	if (ftruncate(st->lockfd, len) || fsync(st->lockfd))
		return -errno;
	return 0;
}

/*
 * The count of DIR/.lock, read without taking the lock (a daemon holds
 * it). A missing lock file counts 0. 0 or a negative errno.
 */
int kh_store_read_partial(const char *dir, uint64_t *n)
{
	struct stat sb;
	int dfd, fd, err;

	*n = 0;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = openat(dfd, KH_LOCK_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_NOCTTY | O_CLOEXEC);
	err = fd < 0 ? -errno : 0;
	close(dfd);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	if (fstat(fd, &sb))
		err = -errno;
	else if (!S_ISREG(sb.st_mode))
		err = -EBADMSG;
	else
		err = partial_read(fd, n);
	close(fd);
	return err;
}

/*
 * A readdir stream over dirfd's directory from its start, on a duplicate
 * of dirfd, which stays open and usable; NULL with errno set.
 */
DIR *kh_opendir_at(int dirfd)
{
	int fd = dup(dirfd);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		int err = errno;

		close(fd);
		errno = err;
		return NULL;
	}
	/* a duplicate shares the offset of an earlier scan */
	rewinddir(d);
	return d;
}

/*
 * Unlinks every entry of the store's directory that match(name, arg)
 * accepts, counting them in *removed; an entry already gone is not an
 * error. 0 or the last negative errno, having tried them all.
 */
static int unlink_matching(struct kh_store *st,
			   bool (*match)(const char *name, const void *arg),
			   const void *arg, unsigned int *removed)
{
	struct dirent *de;
	int ret = 0;
	DIR *d;

	*removed = 0;
	d = kh_opendir_at(st->dirfd);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!match(de->d_name, arg))
			continue;
		if (unlinkat(st->dirfd, de->d_name, 0) && errno != ENOENT)
			ret = -errno;
		else
			(*removed)++;
	}
	closedir(d);
	return ret;
}

static bool is_temp(const char *name, const void *arg)
{
	(void)arg;
	return kh_is_temp_name(name);
}

/* A crash leaves temporary files; under the lock, none is anyone's. */
int kh_store_clean(struct kh_store *st, unsigned int *removed)
{
	return unlink_matching(st, is_temp, NULL, removed);
}

int kh_store_sync(struct kh_store *st)
{
	return fsync(st->dirfd) ? -errno : 0;
}

/*
 * ".<name>.tmp.<random>", created exclusively and never through a symlink:
 * a name someone planted fails the open instead of redirecting the write,
 * and the next try takes another name.
 */
static int open_temp(int dirfd, const char *name, mode_t mode, char *tmp,
		     size_t len)
{
	uint64_t r;
	int fd, n, tries;

	for (tries = 0; tries < 16; tries++) {
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			return -errno;
		n = snprintf(tmp, len, ".%s" TEMP_MARK "%" PRIu64, name, r);
		if (n < 0 || (size_t)n >= len)
			return -ENAMETOOLONG;
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			    O_NOCTTY | O_CLOEXEC, mode);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/*
 * name in dirfd appears whole or not at all: the content goes to a
 * temporary name in the same directory and reaches the disk before the
 * rename makes it visible. The rename replaces whatever held the name (a
 * symlink is replaced, not followed). The file gets exactly mode (not
 * widened by the umask) and group gid unless gid is -1. The caller fsyncs
 * the directory once all its files are renamed.
 */
int kh_write_atomic_gid(int dirfd, const char *name, mode_t mode, gid_t gid,
			kh_write_fn fn, void *arg)
{
	char tmp[NAME_MAX + 1];
	int fd, ret;
	FILE *f;

	fd = open_temp(dirfd, name, mode, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	ret = 0;
	if (gid != (gid_t)-1 && fchown(fd, -1, gid))
		ret = -errno;
	if (!ret && fchmod(fd, mode))
		ret = -errno;
	if (ret) {
		close(fd);
		goto out;
	}
	f = fdopen(fd, "w");
	if (!f) {
		ret = -errno;
		close(fd);
		goto out;
	}
	errno = 0;
	ret = fn(f, arg);
	if (!ret && (fflush(f) || ferror(f)))
		ret = errno ? -errno : -EIO;
	if (!ret && fsync(fd))
		ret = -errno;
	if (fclose(f) && !ret)
		ret = -errno;
	if (!ret && renameat(dirfd, tmp, dirfd, name))
		ret = -errno;
out:
	if (ret)
		unlinkat(dirfd, tmp, 0);
	return ret;
}

int kh_write_atomic(int dirfd, const char *name, mode_t mode,
		    kh_write_fn fn, void *arg)
{
	return kh_write_atomic_gid(dirfd, name, mode, (gid_t)-1, fn, arg);
}

/* Captures: read by root and, if set, one group (KH_CAPTURE_MODE). */
int kh_store_write(struct kh_store *st, const char *name, kh_write_fn fn,
		   void *arg)
{
	return kh_write_atomic_gid(st->dirfd, name, KH_CAPTURE_MODE,
				   st->set_gid ? st->gid : (gid_t)-1, fn, arg);
}

static int set_cmp_base(const void *a, const void *b)
{
	return strcmp(((const struct kh_set *)a)->base,
		      ((const struct kh_set *)b)->base);
}

/* Every capture in the directory, one set per base name, with its size. */
int kh_store_scan(struct kh_store *st, struct kh_set **sets, size_t *n)
{
	struct kh_set *s = NULL;
	size_t cap = 0, cnt = 0, i, j, blen;
	struct dirent *de;
	struct stat sb;
	uint64_t id;
	int ret = 0;
	DIR *d;

	*sets = NULL;
	*n = 0;
	d = kh_opendir_at(st->dirfd);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!kh_parse_name(de->d_name, &blen, &id))
			continue;
		if (fstatat(st->dirfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(sb.st_mode))
			continue;
		if (KH_GROW(s, cnt, cap, 64)) {
			ret = -ENOMEM;
			goto out;
		}
		memcpy(s[cnt].base, de->d_name, blen);
		s[cnt].base[blen] = '\0';
		s[cnt].id = id;
		s[cnt].bytes = sb.st_size;
		s[cnt].files = 1;
		s[cnt].pending = false;
		s[cnt].remove = false;
		s[cnt].undelivered = false;
		cnt++;
	}
	if (cnt)
		qsort(s, cnt, sizeof(*s), set_cmp_base);
	for (i = 0, j = 0; i < cnt; i++) {
		if (j && !strcmp(s[j - 1].base, s[i].base)) {
			s[j - 1].bytes += s[i].bytes;
			s[j - 1].files++;
			continue;
		}
		s[j++] = s[i];
	}
	cnt = j;
out:
	closedir(d);
	if (ret) {
		free(s);
		return ret;
	}
	*sets = s;
	*n = cnt;
	return 0;
}

/* Oldest first: the capture's time (the name's prefix), then its id. */
static int set_cmp_age(const void *a, const void *b)
{
	const struct kh_set *x = a, *y = b;
	int c = strncmp(x->base, y->base, KH_TIME_COMPACT);

	if (c)
		return c;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return strcmp(x->base, y->base);
}

/*
 * Sorts sets oldest first and marks the oldest for removal until at most
 * max_sets remain, holding at most max_bytes (0: no limit). Returns how
 * many are marked. The newest is always kept, and so is the set named keep
 * (the one just written, which may be older than others when a backlog is
 * pulled): a capture just acknowledged must not vanish, even when it alone
 * is over the limit. Sets whose upload is pending go last: one is marked
 * (and its undelivered set) only when no delivered one is left to remove.
 */
size_t kh_rotate_plan(struct kh_set *sets, size_t n, uint64_t max_sets,
		      uint64_t max_bytes, const char *keep)
{
	uint64_t total = 0;
	size_t i, left = n, k = 0;
	int pass;

	if (!n)
		return 0;
	qsort(sets, n, sizeof(*sets), set_cmp_age);
	for (i = 0; i < n; i++) {
		total += sets[i].bytes;
		sets[i].remove = false;
		sets[i].undelivered = false;
	}
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i + 1 < n; i++) {
			if ((!max_sets || left <= max_sets) &&
			    (!max_bytes || total <= max_bytes))
				return k;
			if (sets[i].remove || (keep && !strcmp(sets[i].base, keep)))
				continue;
			if (sets[i].pending && !pass)
				continue;
			sets[i].remove = true;
			sets[i].undelivered = sets[i].pending;
			total -= sets[i].bytes;
			left--;
			k++;
		}
	}
	return k;
}

/* <base>.<anything>: one of the set's files */
static bool in_set(const char *name, const void *arg)
{
	const struct kh_set *set = arg;
	size_t len = strlen(set->base);

	return !strncmp(name, set->base, len) && name[len] == '.';
}

int kh_store_remove(struct kh_store *st, const struct kh_set *set)
{
	unsigned int removed;
	int ret;

	ret = unlink_matching(st, in_set, set, &removed);
	if (!ret)
		ret = kh_store_sync(st);
	return ret;
}
