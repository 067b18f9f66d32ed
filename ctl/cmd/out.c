// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <string.h>

#include "fmt.h"
#include "out.h"

bool kh_json;

/*
 * stderr is the journal's stream when $JOURNAL_STREAM names its device and
 * inode (systemd.exec(5)): then each line starts with its priority, "<3>",
 * which journald strips and keeps. Anywhere else the lines are plain.
 */
static bool to_journal(void)
{
	static int journal = -1;
	unsigned long long dev, ino;
	const char *e;
	struct stat sb;

	if (journal >= 0)
		return journal;
	journal = 0;
	e = getenv("JOURNAL_STREAM");
	if (e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 &&
	    !fstat(STDERR_FILENO, &sb) && sb.st_dev == dev && sb.st_ino == ino)
		journal = 1;
	return journal;
}

void kh_vlog(int prio, const char *fmt, va_list ap)
{
	if (to_journal())
		fprintf(stderr, "<%d>", prio);
	fprintf(stderr, "%s: ", PROG_NAME);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void kh_log(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kh_vlog(prio, fmt, ap);
	va_end(ap);
}

void kh_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kh_vlog(LOG_ERR, fmt, ap);
	va_end(ap);
}

/*
 * The synopsis of a usage text: its "Usage:" lines and the indented lines
 * that continue them, up to the first line of prose.
 */
void kh_synopsis(FILE *out, kh_usage_fn usage)
{
	char *text = NULL, *line, *end;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&text, &len);
	if (!f)
		return;
	usage(f);
	if (fclose(f) || !text) {
		free(text);
		return;
	}
	for (line = text; *line; line = end + 1) {
		end = strchrnul(line, '\n');
		if (line != text && *line != ' ')
			break;
		fprintf(out, "%.*s\n", (int)(end - line), line);
		if (!*end)
			break;
	}
	free(text);
}

/* One line naming what was wrong, then the command's synopsis only. */
int kh_usage_fail(kh_usage_fn usage, const struct kh_parse_err *pe)
{
	char buf[512];

	kh_parse_err_str(buf, sizeof(buf), pe);
	kh_err("%s", buf);
	kh_synopsis(stderr, usage);
	return KH_EXIT_USAGE;
}

/* Prints and frees; flushed, as a reader may be waiting on a pipe. */
int kh_json_put(json_object *o)
{
	if (!o) {
		kh_err("formatting JSON: %s", strerror(ENOMEM));
		return KH_EXIT_FAIL;
	}
	puts(json_object_to_json_string_ext(o, KH_JSON_FLAGS));
	json_object_put(o);
	fflush(stdout);
	return KH_EXIT_OK;
}
