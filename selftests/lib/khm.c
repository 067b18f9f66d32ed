// SPDX-License-Identifier: GPL-2.0
/*
 * khm: helpers for the kholmes VM selftests. See khm.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
