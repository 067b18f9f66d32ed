// SPDX-License-Identifier: GPL-2.0
/*
 * khm: helpers for the kholmes VM selftests. See khm.h.
 */
#include <ctype.h>
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "khm.h"

#define KHM_MAX_ARGS	128
#define KHM_NO_UID	((uid_t)-1)

const char *khm_ctl_path(void)
{
	const char *p = getenv("KHOLMESCTL");

	return p && *p ? p : KHM_CTL_DEFAULT;
}

const char *khm_module_path(void)
{
	const char *p = getenv("KHM_MODULE");

	return p && *p ? p : KHM_MODULE_DEFAULT;
}

struct khm_buf {
	char *data;
	size_t len, cap;
};

static int buf_read(struct khm_buf *b, int fd)
{
	ssize_t n;

	if (b->cap - b->len < 4096) {
		size_t cap = b->cap ? b->cap * 2 : 8192;
		char *d = realloc(b->data, cap);

		if (!d)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	do {
		n = read(fd, b->data + b->len, b->cap - b->len - 1);
	} while (n < 0 && errno == EINTR);
	if (n <= 0)
		return 0;	/* EOF (or an error: treated as EOF) */
	b->len += n;
	b->data[b->len] = '\0';
	return 1;
}

static char *buf_take(struct khm_buf *b)
{
	if (!b->data)
		return strdup("");
	b->data[b->len] = '\0';
	return b->data;
}

/*
 * Fork, optionally drop to @uid, exec argv[0] with stdin on /dev/null and
 * stdout/stderr captured. Both pipes are drained together so that a child
 * filling one of them cannot block forever.
 */
static int run_argv(uid_t uid, char *const argv[], char **out, char **err)
{
	struct khm_buf bo = { 0 }, be = { 0 };
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	int status, ret = -1;
	pid_t pid;

	if (out)
		*out = NULL;
	if (err)
		*err = NULL;
	if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC))
		goto out_close;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		goto out_close;
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null >= 0)
			dup2(null, STDIN_FILENO);
		dup2(po[1], STDOUT_FILENO);
		dup2(pe[1], STDERR_FILENO);
		if (uid != KHM_NO_UID &&
		    (setgroups(0, NULL) || setgid(uid) || setuid(uid))) {
			perror("khm: dropping privileges");
			_exit(126);
		}
		execv(argv[0], argv);
		fprintf(stderr, "khm: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;

	{
		struct pollfd pfd[2] = {
			{ .fd = po[0], .events = POLLIN },
			{ .fd = pe[0], .events = POLLIN },
		};
		struct khm_buf *bufs[2] = { &bo, &be };
		int open_fds = 2;

		while (open_fds) {
			if (poll(pfd, 2, -1) < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			for (int i = 0; i < 2; i++) {
				if (pfd[i].fd < 0 || !pfd[i].revents)
					continue;
				if (buf_read(bufs[i], pfd[i].fd) <= 0) {
					close(pfd[i].fd);
					pfd[i].fd = -1;
					open_fds--;
				}
			}
		}
		po[0] = pfd[0].fd;
		pe[0] = pfd[1].fd;
	}

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			goto out_close;
	}
	if (WIFEXITED(status))
		ret = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		ret = 128 + WTERMSIG(status);

out_close:
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	if (out)
		*out = buf_take(&bo);
	else
		free(bo.data);
	if (err)
		*err = buf_take(&be);
	else
		free(be.data);
	return ret;
}

/* Split "fmt, ap" on spaces behind @argv0 (if any) and run it. */
static int run_fmt(uid_t uid, const char *argv0, char **out, char **err,
		   const char *fmt, va_list ap)
{
	char *argv[KHM_MAX_ARGS + 1];
	char *line, *save = NULL, *word;
	int argc = 0, ret;

	if (vasprintf(&line, fmt, ap) < 0)
		return -1;
	if (argv0)
		argv[argc++] = (char *)argv0;
	for (word = strtok_r(line, " ", &save); word && argc < KHM_MAX_ARGS;
	     word = strtok_r(NULL, " ", &save))
		argv[argc++] = word;
	argv[argc] = NULL;
	if (!argc) {
		free(line);
		errno = EINVAL;
		return -1;
	}
	ret = run_argv(uid, argv, out, err);
	free(line);
	return ret;
}

int khm_run(char **out, char **err, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = run_fmt(KHM_NO_UID, khm_ctl_path(), out, err, fmt, ap);
	va_end(ap);
	return ret;
}

int khm_run_as(uid_t uid, char **out, char **err, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = run_fmt(uid, khm_ctl_path(), out, err, fmt, ap);
	va_end(ap);
	return ret;
}

int khm_exec(char **out, char **err, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = run_fmt(KHM_NO_UID, NULL, out, err, fmt, ap);
	va_end(ap);
	return ret;
}

struct json_object *khm_json(const char *fmt, ...)
{
	struct json_object *obj = NULL;
	enum json_tokener_error jerr;
	char *args, *out = NULL, *err = NULL;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vasprintf(&args, fmt, ap);
	va_end(ap);
	if (ret < 0)
		return NULL;

	ret = khm_run(&out, &err, "-j %s", args);
	if (ret != 0) {
		fprintf(stderr, "# khm: kholmesctl -j %s: exit %d: %s\n", args,
			ret, khm_oneline(err));
		goto out;
	}
	obj = json_tokener_parse_verbose(out, &jerr);
	if (!obj)
		fprintf(stderr, "# khm: kholmesctl -j %s: bad JSON (%s): %s\n",
			args, json_tokener_error_desc(jerr), khm_oneline(out));
out:
	free(args);
	free(out);
	free(err);
	return obj;
}

struct json_object *khm_json_get(struct json_object *obj, const char *path)
{
	char *copy, *save = NULL, *key;

	if (!obj || !path)
		return NULL;
	copy = strdup(path);
	if (!copy)
		return NULL;
	for (key = strtok_r(copy, ".", &save); key && obj;
	     key = strtok_r(NULL, ".", &save)) {
		if (!json_object_is_type(obj, json_type_object) ||
		    !json_object_object_get_ex(obj, key, &obj))
			obj = NULL;
	}
	free(copy);
	return obj;
}

long long khm_json_int(struct json_object *obj, const char *path)
{
	struct json_object *v = khm_json_get(obj, path);

	if (!v || !(json_object_is_type(v, json_type_int) ||
		    json_object_is_type(v, json_type_boolean)))
		return LLONG_MIN;
	return json_object_get_int64(v);
}

double khm_json_num(struct json_object *obj, const char *path)
{
	struct json_object *v = khm_json_get(obj, path);

	if (!v || !(json_object_is_type(v, json_type_int) ||
		    json_object_is_type(v, json_type_double)))
		return NAN;
	return json_object_get_double(v);
}

const char *khm_json_str(struct json_object *obj, const char *path)
{
	struct json_object *v = khm_json_get(obj, path);

	if (!v || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

pid_t khm_spawn(const char *path, char *const argv[])
{
	int p[2], child_errno = 0;
	ssize_t n;
	pid_t pid;

	/* The pipe closes on exec; anything read from it is exec's errno. */
	if (pipe2(p, O_CLOEXEC))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		execv(path, argv);
		child_errno = errno;
		if (write(p[1], &child_errno, sizeof(child_errno)) < 0)
			_exit(127);
		_exit(127);
	}
	close(p[1]);
	do {
		n = read(p[0], &child_errno, sizeof(child_errno));
	} while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n > 0) {
		waitpid(pid, NULL, 0);
		errno = child_errno;
		return -1;
	}
	return pid;
}

int khm_stop(pid_t pid)
{
	if (pid <= 0) {
		errno = EINVAL;
		return -1;
	}
	if (kill(pid, SIGKILL) && errno != ESRCH)
		return -1;
	while (waitpid(pid, NULL, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

int khm_proc_status_kb(pid_t pid, const char *field)
{
	size_t flen = strlen(field);
	char path[64], line[256];
	long long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, flen) && line[flen] == ':') {
			val = strtoll(line + flen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	if (val > INT_MAX)
		return INT_MAX;
	return (int)val;
}

int khm_read_file(const char *path, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;
	int fd;

	if (!len)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < len - 1) {
		n = read(fd, buf + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		got += n;
	}
	close(fd);
	while (got && (buf[got - 1] == '\n' || buf[got - 1] == ' ' ||
		       buf[got - 1] == '\t' || buf[got - 1] == '\r'))
		got--;
	buf[got] = '\0';
	return (int)got;
}

const char *khm_oneline(char *s)
{
	size_t n;

	if (!s)
		return "";
	n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	for (char *p = s; *p; p++) {
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	}
	return s;
}

int khm_module_loaded(void)
{
	struct stat st;

	return stat("/sys/module/" KHM_MODULE_NAME, &st) == 0;
}

int khm_insmod(const char *params)
{
	char *err = NULL;
	int ret;

	if (!params)
		params = getenv("KHM_MODPARAMS");
	ret = khm_exec(NULL, &err, "%s %s %s", KHM_INSMOD, khm_module_path(),
		       params ? params : "");
	if (ret)
		fprintf(stderr, "# khm: insmod %s %s: exit %d: %s\n",
			khm_module_path(), params ? params : "", ret,
			khm_oneline(err));
	free(err);
	return ret;
}

int khm_rmmod(void)
{
	char *err = NULL;
	int ret;

	ret = khm_exec(NULL, &err, "%s %s", KHM_RMMOD, KHM_MODULE_NAME);
	if (ret)
		fprintf(stderr, "# khm: rmmod %s: exit %d: %s\n",
			KHM_MODULE_NAME, ret, khm_oneline(err));
	free(err);
	return ret;
}

/* ------------------------------------------------------------------ */
/* captures (issue 4) */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

long long khm_capture(pid_t pid, int *ret)
{
	struct json_object *obj = NULL;
	char *out = NULL, *err = NULL;
	long long id = -1;
	int rc;

	rc = khm_run(&out, &err, "-j capture pid %d", (int)pid);
	if (ret)
		*ret = rc;
	if (rc) {
		fprintf(stderr, "# khm: kholmesctl -j capture pid %d: exit %d: %s\n",
			(int)pid, rc, khm_oneline(err));
		goto out;
	}
	obj = json_tokener_parse(out);
	id = khm_json_int(obj, "id");
	if (id < 0) {
		fprintf(stderr, "# khm: kholmesctl -j capture pid %d printed no id: %s\n",
			(int)pid, khm_oneline(out));
		id = -1;
	}
out:
	json_object_put(obj);
	free(out);
	free(err);
	return id;
}

struct json_object *khm_capture_find(long long id)
{
	struct json_object *list = khm_json("captures"), *found = NULL;
	size_t i, n;

	if (!list)
		return NULL;
	n = json_object_is_type(list, json_type_array) ?
	    json_object_array_length(list) : 0;
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(list, i);

		if (khm_json_int(e, "id") == id) {
			found = json_object_get(e);
			break;
		}
	}
	json_object_put(list);
	return found;
}

struct json_object *khm_capture_wait(long long id, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;
	struct json_object *e;

	for (;;) {
		e = khm_capture_find(id);
		if (e || now_ms() > end)
			break;
		usleep(20000);
	}
	if (!e)
		fprintf(stderr, "# khm: capture %lld not queued after %d ms\n",
			id, timeout_ms);
	return e;
}

int khm_pull(const char *dir)
{
	char *err = NULL;
	int ret;

	ret = khm_run(NULL, &err, "pull --dir %s", dir);
	if (ret)
		fprintf(stderr, "# khm: kholmesctl pull --dir %s: exit %d: %s\n",
			dir, ret, khm_oneline(err));
	free(err);
	return ret;
}

int khm_mkdir_p(const char *path)
{
	char buf[PATH_MAX], *p, c;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; ; p++) {
		if (*p != '/' && *p)
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -1;
		if (!c)
			return 0;
		*p = c;
	}
}

long long khm_capture_name_id(const char *name, const char **ext)
{
	const char *dash = strrchr(name, '-'), *p;
	long long id = 0;

	if (!dash || !isdigit((unsigned char)dash[1]))
		return -1;
	for (p = dash + 1; isdigit((unsigned char)*p); p++)
		id = id * 10 + (*p - '0');
	if (*p != '.')
		return -1;
	if (ext)
		*ext = p;
	return id;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* Capture files of @dir ending in @ext; with @id >= 0, only that id's. */
static int scan_capture_files(const char *dir, long long id, const char *ext,
			      char *path, size_t len, long long *ids, int max)
{
	struct dirent *de;
	int n = 0;
	DIR *d;

	d = opendir(dir);
	if (!d) {
		fprintf(stderr, "# khm: opendir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		const char *e;
		long long i;

		if (de->d_name[0] == '.')
			continue;
		i = khm_capture_name_id(de->d_name, &e);
		if (i < 0 || strcmp(e, ext) || (id >= 0 && i != id))
			continue;
		if (!n && path && len)
			snprintf(path, len, "%s/%s", dir, de->d_name);
		if (ids && n < max)
			ids[n] = i;
		n++;
	}
	closedir(d);
	if (ids)
		qsort(ids, n < max ? n : max, sizeof(*ids), cmp_ll);
	return n;
}

int khm_capture_path(const char *dir, long long id, const char *ext,
		     char *path, size_t len)
{
	if (path && len)
		path[0] = '\0';
	return scan_capture_files(dir, id, ext, path, len, NULL, 0);
}

int khm_capture_ids(const char *dir, const char *ext, long long *ids, int max)
{
	return scan_capture_files(dir, -1, ext, NULL, 0, ids, max);
}

char *khm_slurp(const char *path, size_t *len)
{
	struct khm_buf b = { 0 };
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	while ((r = buf_read(&b, fd)) > 0)
		;
	close(fd);
	if (r < 0) {
		free(b.data);
		errno = ENOMEM;
		return NULL;
	}
	if (len)
		*len = b.len;
	return buf_take(&b);
}

/*
 * The GNU build-id of the ELF file at @path as hex, read here with
 * <elf.h> from its PT_NOTE segments (not the module's parser, which the
 * tests check). 0, or -1.
 */
int khm_elf_build_id(const char *path, char *hex, size_t len)
{
	const Elf64_Ehdr *eh;
	size_t size, i, at;
	char *buf;
	int ret = -1;

	buf = khm_slurp(path, &size);
	if (!buf)
		return -1;
	eh = (const Elf64_Ehdr *)buf;
	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_phoff + (size_t)eh->e_phnum * sizeof(Elf64_Phdr) > size)
		goto out;
	for (i = 0; i < eh->e_phnum && ret; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(buf + eh->e_phoff) + i;

		if (ph->p_type != PT_NOTE || ph->p_offset + ph->p_filesz > size)
			continue;
		for (at = 0; at + sizeof(Elf64_Nhdr) <= ph->p_filesz;) {
			const Elf64_Nhdr *nh = (const Elf64_Nhdr *)(buf + ph->p_offset + at);
			const char *name = (const char *)(nh + 1);
			const unsigned char *desc = (const unsigned char *)name +
						    ((nh->n_namesz + 3) & ~3U);
			size_t j;

			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    !memcmp(name, "GNU", 4) && 2 * nh->n_descsz < len) {
				for (j = 0; j < nh->n_descsz; j++)
					sprintf(hex + 2 * j, "%02x", desc[j]);
				ret = 0;
				break;
			}
			at += sizeof(*nh) + ((nh->n_namesz + 3) & ~3U) +
			      ((nh->n_descsz + 3) & ~3U);
		}
	}
out:
	free(buf);
	return ret;
}

#define KADDR_HI	0xffffffffffff0000ULL

static int khm_la57 = -1;	/* -1: not probed yet */

/*
 * 5-level paging is on when the kernel lets user space map above 47 bits:
 * a hint address of 2^48 with MAP_FIXED_NOREPLACE is taken only when the
 * user half reaches 2^56 (the CPU's la57 flag alone says nothing of the
 * kernel's choice: no5lvl, or a kernel built without it).
 */
static bool khm_probe_la57(void)
{
	void *hint = (void *)(1ULL << 48);
	void *p;

	p = mmap(hint, 4096, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return false;
	munmap(p, 4096);
	return p == hint;
}

bool khm_paging_la57(void)
{
	if (khm_la57 < 0)
		khm_la57 = khm_probe_la57();
	return khm_la57;
}

void khm_paging_set_la57(int on)
{
	khm_la57 = on;
}

unsigned long long khm_kaddr_min(void)
{
	return khm_paging_la57() ? KHM_KADDR_MIN_LA57 : KHM_KADDR_MIN_4L;
}

const char *khm_find_kaddr(const char *text)
{
	unsigned long long lo = khm_kaddr_min();
	const char *p = text, *q;

	while (*p) {
		if (!isxdigit((unsigned char)*p)) {
			p++;
			continue;
		}
		for (q = p; isxdigit((unsigned char)*q); q++)
			;
		if (q - p == 16 && !strncasecmp(p, "ff", 2)) {
			unsigned long long v = strtoull(p, NULL, 16);

			if (v >= lo && v < KADDR_HI)
				return p;
		}
		if (q - p == 20) {
			const char *r;

			for (r = p; r < q && isdigit((unsigned char)*r); r++)
				;
			if (r == q) {
				unsigned long long v;

				errno = 0;
				v = strtoull(p, NULL, 10);
				if (!errno && v >= lo && v < KADDR_HI)
					return p;
			}
		}
		p = q;
	}
	return NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* One JSON value and nothing but whitespace after it. */
static bool json_whole(const char *text, size_t len, char *why, size_t wlen)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t off;
	bool ok = false;

	if (!tok) {
		snprintf(why, wlen, "out of memory");
		return false;
	}
	obj = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	off = json_tokener_get_parse_end(tok);
	if (!obj) {
		snprintf(why, wlen, "%s at byte %zu",
			 json_tokener_error_desc(jerr == json_tokener_continue ?
						 json_tokener_error_parse_eof : jerr),
			 off);
		goto out;
	}
	while (off < len && isspace((unsigned char)text[off]))
		off++;
	if (off < len) {
		snprintf(why, wlen, "trailing data at byte %zu", off);
		goto out;
	}
	ok = true;
out:
	json_object_put(obj);
	json_tokener_free(tok);
	return ok;
}

static struct khm_tree_stats *tree_st;
static int tree_problems;

static int tree_file(const char *path, const struct stat *sb, int type,
		     struct FTW *ftw)
{
	const char *name = path + ftw->base, *k;
	char *text, why[128];
	size_t len;

	(void)sb;
	if (type != FTW_F)
		return 0;
	/* the daemon's single-instance lock: DIR/.lock, kept on purpose */
	if (!strcmp(name, ".lock"))
		return 0;
	tree_st->files++;
	if (name[0] == '.' || strstr(name, ".tmp")) {
		fprintf(stderr, "# khm: temporary file left: %s\n", path);
		tree_st->tmp++;
		tree_problems++;
	}
	if (!ends_with(name, ".json") && !ends_with(name, ".txt") &&
	    !ends_with(name, ".folded"))
		return 0;
	text = khm_slurp(path, &len);
	if (!text) {
		fprintf(stderr, "# khm: cannot read %s: %s\n", path,
			strerror(errno));
		tree_problems++;
		return 0;
	}
	if (ends_with(name, ".json")) {
		tree_st->json++;
		if (!json_whole(text, len, why, sizeof(why))) {
			fprintf(stderr, "# khm: %s is not JSON: %s\n", path, why);
			tree_st->bad_json++;
			tree_problems++;
		}
	}
	k = khm_find_kaddr(text);
	if (k) {
		fprintf(stderr, "# khm: %s holds a kernel address at byte %zu: \"%.40s\"\n",
			path, (size_t)(k - text), k);
		tree_st->kaddr++;
		tree_problems++;
	}
	free(text);
	return 0;
}

int khm_check_tree(const char *dir, struct khm_tree_stats *st)
{
	struct khm_tree_stats local;

	/* nftw() has no context argument: one walk at a time */
	tree_st = st ? st : &local;
	memset(tree_st, 0, sizeof(*tree_st));
	tree_problems = 0;
	if (nftw(dir, tree_file, 16, FTW_PHYS)) {
		fprintf(stderr, "# khm: walking %s: %s\n", dir, strerror(errno));
		return -1;
	}
	return tree_problems;
}

struct json_object *khm_config_save(void)
{
	return khm_json("config show");
}

int khm_config_restore(struct json_object *saved)
{
	struct json_object *now = khm_config_save();
	char cmd[1024] = "config set";
	size_t len = strlen(cmd);
	int ret = 0;

	if (!saved || !now) {
		json_object_put(now);
		return -1;
	}
	json_object_object_foreach(saved, key, val) {
		struct json_object *cur = khm_json_get(now, key);

		if (cur && json_object_equal(cur, val))
			continue;
		if (json_object_is_type(val, json_type_boolean))
			len += snprintf(cmd + len, sizeof(cmd) - len, " %s %s",
					key, json_object_get_boolean(val) ?
					"on" : "off");
		else if (json_object_is_type(val, json_type_int))
			len += snprintf(cmd + len, sizeof(cmd) - len, " %s %lld",
					key, (long long)json_object_get_int64(val));
		if (len >= sizeof(cmd)) {
			ret = -1;
			goto out;
		}
	}
	if (strcmp(cmd, "config set")) {
		char *err = NULL;

		ret = khm_run(NULL, &err, "%s", cmd);
		if (ret) {
			fprintf(stderr, "# khm: kholmesctl %s: exit %d: %s\n",
				cmd, ret, khm_oneline(err));
			ret = -1;
		}
		free(err);
	}
out:
	json_object_put(now);
	return ret;
}

/* ------------------------------------------------------------------ */
/* raw generic netlink */

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include "kholmes.h"

#define KHM_GENL_BUF	(128 * 1024)

size_t khm_nla_put(void *buf, size_t off, unsigned short type,
		   const void *data, size_t len)
{
	struct nlattr *nla = (struct nlattr *)((char *)buf + off);

	nla->nla_type = type;
	nla->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy((char *)nla + NLA_HDRLEN, data, len);
	memset((char *)nla + NLA_HDRLEN + len, 0,
	       NLA_ALIGN(len) - len);
	return off + NLA_HDRLEN + NLA_ALIGN(len);
}

size_t khm_nla_nest_start(void *buf, size_t off, unsigned short type)
{
	khm_nla_put(buf, off, type | NLA_F_NESTED, NULL, 0);
	return off;
}

void khm_nla_nest_end(void *buf, size_t start, size_t off)
{
	((struct nlattr *)((char *)buf + start))->nla_len = off - start;
}

const struct nlattr *khm_nla_find(const void *attrs, size_t len, int type)
{
	const char *p = attrs;
	size_t off = 0;

	while (len - off >= NLA_HDRLEN) {
		const struct nlattr *nla = (const struct nlattr *)(p + off);

		if (nla->nla_len < NLA_HDRLEN || nla->nla_len > len - off)
			return NULL;
		if ((nla->nla_type & NLA_TYPE_MASK) == type)
			return nla;
		off += NLA_ALIGN(nla->nla_len);
	}
	return NULL;
}

/* Send one message of @len bytes at @msg on @fd to the kernel. */
static int genl_send(int fd, const void *msg, size_t len, int plain)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	ssize_t n;

	if (plain)
		n = send(fd, msg, len, 0);
	else
		n = sendto(fd, msg, len, 0, (struct sockaddr *)&sa, sizeof(sa));
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

/*
 * Read the replies to @seq until its final message; append them to @acc
 * (if given). Returns the request's outcome as khm_genl_request() does.
 */
static int genl_collect(int fd, unsigned int seq, struct khm_buf *acc)
{
	char *buf = malloc(KHM_GENL_BUF);
	int ret = -EIO;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		struct nlmsghdr *nlh;
		ssize_t n;
		int left;

		n = recv(fd, buf, KHM_GENL_BUF, MSG_TRUNC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
			break;
		}
		if (n > KHM_GENL_BUF) {
			ret = -EMSGSIZE;
			break;
		}
		left = n;
		for (nlh = (struct nlmsghdr *)buf; NLMSG_OK(nlh, left);
		     nlh = NLMSG_NEXT(nlh, left)) {
			int done = 0;

			if (nlh->nlmsg_seq != seq)
				continue;
			if (acc) {
				size_t need = acc->len + nlh->nlmsg_len + 1;

				if (need > acc->cap) {
					char *d = realloc(acc->data, need * 2);

					if (!d) {
						ret = -ENOMEM;
						goto out;
					}
					acc->data = d;
					acc->cap = need * 2;
				}
				memcpy(acc->data + acc->len, nlh,
				       nlh->nlmsg_len);
				acc->len += nlh->nlmsg_len;
			}
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nlh);

				ret = nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) ?
				      e->error : -EIO;
				done = 1;
			} else if (nlh->nlmsg_type == NLMSG_DONE) {
				ret = nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) ?
				      *(int *)NLMSG_DATA(nlh) : 0;
				done = 1;
			}
			if (done)
				goto out;
		}
	}
out:
	free(buf);
	return ret;
}

int khm_genl_family_id(int fd, const char *name)
{
	struct {
		struct nlmsghdr nlh;
		struct genlmsghdr genl;
		char attrs[64];
	} req = { 0 };
	struct khm_buf acc = { 0 };
	const struct nlattr *id;
	size_t off;
	int ret;

	if (strlen(name) + 1 > sizeof(req.attrs) - NLA_HDRLEN)
		return -ENAMETOOLONG;
	off = khm_nla_put(req.attrs, 0, CTRL_ATTR_FAMILY_NAME, name,
			  strlen(name) + 1);
	req.nlh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN + off);
	req.nlh.nlmsg_type = GENL_ID_CTRL;
	req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.nlh.nlmsg_seq = 1;
	req.genl.cmd = CTRL_CMD_GETFAMILY;
	req.genl.version = 1;
	ret = genl_send(fd, &req, req.nlh.nlmsg_len, 0);
	if (!ret)
		ret = genl_collect(fd, 1, &acc);
	if (!ret) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)acc.data;
		int left = acc.len;

		ret = -ENOENT;
		for (; NLMSG_OK(nlh, left); nlh = NLMSG_NEXT(nlh, left)) {
			if (nlh->nlmsg_type != GENL_ID_CTRL ||
			    nlh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
				continue;
			id = khm_nla_find((char *)NLMSG_DATA(nlh) + GENL_HDRLEN,
					  nlh->nlmsg_len -
					  NLMSG_LENGTH(GENL_HDRLEN),
					  CTRL_ATTR_FAMILY_ID);
			if (id && id->nla_len >= NLA_HDRLEN + 2) {
				ret = *(unsigned short *)((char *)id +
							  NLA_HDRLEN);
				break;
			}
		}
	}
	free(acc.data);
	return ret;
}

int khm_genl_open(struct khm_genl *g)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 10 };
	socklen_t salen = sizeof(sa);
	int ret;

	memset(g, 0, sizeof(*g));
	g->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (g->fd < 0)
		return -errno;
	if (bind(g->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(g->fd, (struct sockaddr *)&sa, &salen) ||
	    setsockopt(g->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		ret = -errno;
		goto err;
	}
	g->portid = sa.nl_pid;
	g->seq = 1;
	ret = khm_genl_family_id(g->fd, KHOLMES_GENL_NAME);
	if (ret < 0)
		goto err;
	g->family = ret;
	return 0;
err:
	close(g->fd);
	g->fd = -1;
	return ret;
}

void khm_genl_close(struct khm_genl *g)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
}

int khm_genl_request(struct khm_genl *g, unsigned char cmd,
		     unsigned short flags, const void *attrs, size_t len,
		     void **out, size_t *out_len)
{
	size_t total = NLMSG_LENGTH(GENL_HDRLEN + len);
	struct khm_buf acc = { 0 };
	struct genlmsghdr *genl;
	struct nlmsghdr *nlh;
	int ret;

	if (out)
		*out = NULL;
	if (out_len)
		*out_len = 0;
	nlh = calloc(1, total);
	if (!nlh)
		return -ENOMEM;
	nlh->nlmsg_len = total;
	nlh->nlmsg_type = g->family;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	if (!(flags & NLM_F_DUMP))
		nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++g->seq;
	genl = NLMSG_DATA(nlh);
	genl->cmd = cmd;
	genl->version = KHOLMES_GENL_VERSION;
	if (len)
		memcpy((char *)genl + GENL_HDRLEN, attrs, len);
	ret = genl_send(g->fd, nlh, total, g->plain);
	free(nlh);
	if (!ret)
		ret = genl_collect(g->fd, g->seq, out ? &acc : NULL);
	if (out) {
		*out = acc.data;
		if (out_len)
			*out_len = acc.len;
	} else {
		free(acc.data);
	}
	return ret;
}

int khm_captures_settle(long long quiet_since_ms, const char *dir)
{
	struct json_object *cfg = khm_config_save(), *list;
	long long profile_s = khm_json_int(cfg, "profile-s"), wait;
	size_t n;

	json_object_put(cfg);
	if (profile_s < 0)
		profile_s = 5;
	wait = quiet_since_ms + (profile_s + 1) * 1000 - now_ms();
	if (wait > 0)
		usleep(wait * 1000);
	if (khm_mkdir_p(dir) || khm_pull(dir))
		return -1;
	list = khm_json("captures");
	n = list && json_object_is_type(list, json_type_array) ?
	    json_object_array_length(list) : 1;
	if (n)
		fprintf(stderr, "# khm: queue not empty after settling: %s\n",
			list ? json_object_to_json_string(list) : "?");
	json_object_put(list);
	return n ? -1 : 0;
}
