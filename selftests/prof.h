/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Profiles for the VM tests that take them (profile_test, symbols_test):
 * starting one, waiting until none runs, and loading a profile's files.
 * Included after kselftest_harness.h and kt.h.
 */
#ifndef _KHM_PROF_H
#define _KHM_PROF_H

#include <limits.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * `kholmesctl -j profile ...`: the id, or -1 with the exit code in *@ret
 * and stderr in *@err (if given, to be freed).
 */
KT_FN __attribute__((format(printf, 3, 4))) long long
profile_start(int *ret, char **err, const char *fmt, ...)
{
	char *args, *out = NULL, *e = NULL;
	struct json_object *o;
	long long id = -1;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&args, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -1;
	r = khm_run(&out, &e, "-j profile %s", args);
	if (!r) {
		o = json_tokener_parse(out);
		id = khm_json_int(o, "id");
		json_object_put(o);
		if (id == LLONG_MIN)
			id = -1;
	}
	if (ret)
		*ret = r;
	if (err)
		*err = e;
	else
		free(e);
	free(out);
	free(args);
	return id;
}

/*
 * Wait until no profile runs: start one of our own (1 s at 1 Hz of this
 * idle process), retrying while the module says one runs already (a
 * detection of an earlier test binary may have started one of up to
 * profile-s seconds), and wait for it to be queued. 0, or -1.
 */
KT_FN int prof_quiesce(void)
{
	long long end = kt_now_ms() + 65000, id;
	struct json_object *c;
	char *err = NULL;
	int ret;

	for (;;) {
		id = profile_start(&ret, &err, "pid %d seconds 1 hz 1",
				   (int)getpid());
		if (id > 0)
			break;
		if (ret != KHM_EXIT_FAIL || !strstr(err ?: "", "already") ||
		    kt_now_ms() > end) {
			fprintf(stderr, "# probe profile: exit %d: %s\n",
				ret, khm_oneline(err));
			free(err);
			return -1;
		}
		free(err);
		err = NULL;
		kt_sleep_ms(250);
	}
	free(err);
	c = khm_capture_wait(id, 10000);
	json_object_put(c);
	return c ? 0 : -1;
}

/* The files of a profile: <base>.<kind>.{folded,json,pb.gz} and <base>.txt */
struct prof_files {
	char folded_path[PATH_MAX];
	char json_path[PATH_MAX];
	char pb_path[PATH_MAX];
	char txt_path[PATH_MAX];
	char *folded;
	char *txt;
	struct json_object *json;
	struct json_object *prof;	/* borrowed: json's "profile" */
};

KT_FN void prof_files_free(struct prof_files *f)
{
	free(f->folded);
	free(f->txt);
	json_object_put(f->json);
	memset(f, 0, sizeof(*f));
}

/* Files of @dir whose base ends in -<@id>, the profile's of @kind. */
KT_FN void prof_files_load(struct __test_metadata *_metadata,
			   const char *dir, long long id, const char *kind,
			   struct prof_files *f)
{
	char ext[32];

	memset(f, 0, sizeof(*f));
	snprintf(ext, sizeof(ext), ".%s.folded", kind);
	ASSERT_EQ(1, khm_capture_path(dir, id, ext, f->folded_path,
				      sizeof(f->folded_path)))
		TH_LOG("no single *-%lld%s in %s", id, ext, dir);
	snprintf(ext, sizeof(ext), ".%s.json", kind);
	ASSERT_EQ(1, khm_capture_path(dir, id, ext, f->json_path,
				      sizeof(f->json_path)))
		TH_LOG("no single *-%lld%s in %s", id, ext, dir);
	snprintf(ext, sizeof(ext), ".%s.pb.gz", kind);
	ASSERT_EQ(1, khm_capture_path(dir, id, ext, f->pb_path,
				      sizeof(f->pb_path)))
		TH_LOG("no single *-%lld%s in %s", id, ext, dir);
	ASSERT_EQ(1, khm_capture_path(dir, id, ".txt", f->txt_path,
				      sizeof(f->txt_path)))
		TH_LOG("no single *-%lld.txt in %s", id, dir);
	f->folded = khm_slurp(f->folded_path, NULL);
	ASSERT_NE(NULL, f->folded);
	f->txt = khm_slurp(f->txt_path, NULL);
	ASSERT_NE(NULL, f->txt);
	f->json = json_object_from_file(f->json_path);
	ASSERT_NE(NULL, f->json)
		TH_LOG("%s: %s", f->json_path, json_util_get_last_err());
	f->prof = khm_json_get(f->json, "profile");
	ASSERT_NE(NULL, f->prof) TH_LOG("%s has no profile object", f->json_path);
	ASSERT_STREQ(kind, khm_json_str(f->prof, "kind") ?: "(none)");
}

/* A line of .folded holds @func as one of its frames. */
KT_FN bool line_has(const char *line, size_t len, const char *func)
{
	size_t n = strlen(func);
	const char *p = line, *end = line + len;

	while ((p = memmem(p, end - p, func, n))) {
		if ((p == line || p[-1] == ';') &&
		    (p[n] == ';' || p[n] == ' '))
			return true;
		p += n;
	}
	return false;
}

/*
 * Sum the counts of a .folded: all of them in *@total, those of lines with
 * @func in *@with; the line with the most samples in @top.
 */
KT_FN void folded_stats(const char *folded, const char *func,
			long long *total, long long *with, char *top,
			size_t toplen)
{
	const char *line = folded;
	long long best = -1;

	*total = *with = 0;
	if (top && toplen)
		top[0] = '\0';
	while (line && *line) {
		const char *end = strchr(line, '\n'), *sp;
		long long c;

		if (!end)
			end = line + strlen(line);
		sp = memrchr(line, ' ', end - line);
		c = sp ? atoll(sp + 1) : 0;
		*total += c;
		if (func && line_has(line, end - line, func))
			*with += c;
		if (top && c > best) {
			size_t l = end - line < (long)toplen - 1 ?
				   (size_t)(end - line) : toplen - 1;

			best = c;
			memcpy(top, line, l);
			top[l] = '\0';
		}
		line = *end ? end + 1 : NULL;
	}
}

#endif /* _KHM_PROF_H */
