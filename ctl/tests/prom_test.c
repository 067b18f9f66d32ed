// SPDX-License-Identifier: GPL-2.0
/*
 * --prom-file: the text exposition format (HELP and TYPE before each
 * metric's samples, names, counters ending in _total, label and HELP
 * escaping), the values taken from the module's counters, what is left
 * out while the module does not answer, the atomic replacement of the
 * file, and promtool's verdict where Debian's prometheus is installed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prom.h"
#include "kselftest_harness.h"

static char *render(const struct kh_prom *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (kh_prom_text(f, p)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

static void status(struct kh_status *st)
{
	int i;

	memset(st, 0, sizeof(*st));
	strcpy(st->version, "0.1.0");
	strcpy(st->krelease, "6.12.117+deb12-cloud-amd64");
	for (i = 0; i <= KHOLMES_STAT_MAX; i++)
		st->stat[i] = 1000 + i;
	st->stat[KHOLMES_STAT_PASS_LAST_NS] = 1234567;
	st->stat[KHOLMES_STAT_PASS_MEAN_NS] = 2000000000;
	st->stat[KHOLMES_STAT_PASS_MAX_NS] = 5;
}

static bool name_ok(const char *s, size_t n)
{
	size_t i;

	if (!n)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '_' || c == ':' || (i && c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

/*
 * The rules node_exporter's parser enforces, checked line by line: every
 * sample belongs to the family the last TYPE line named (a counter's
 * samples carry its name), each family is declared once, and values
 * parse as numbers. Returns the number of samples, -1 on a violation.
 */
static int check_format(struct __test_metadata *_metadata, const char *text)
{
	char family[128] = "", kind[16] = "", seen[64][128];
	const char *p = text, *eol, *sp;
	int nseen = 0, samples = 0, i;
	bool help = false;

	while (*p) {
		eol = strchr(p, '\n');
		if (!eol) {
			TH_LOG("no line feed at the end");
			return -1;
		}
		if (!strncmp(p, "# HELP ", 7)) {
			sp = strchr(p + 7, ' ');
			if (!sp || sp > eol || !name_ok(p + 7, sp - (p + 7))) {
				TH_LOG("bad HELP: %.*s", (int)(eol - p), p);
				return -1;
			}
			snprintf(family, sizeof(family), "%.*s", (int)(sp - p - 7), p + 7);
			for (i = 0; i < nseen; i++)
				if (!strcmp(seen[i], family)) {
					TH_LOG("%s declared twice", family);
					return -1;
				}
			if (nseen < 64)
				strcpy(seen[nseen++], family);
			help = true;
			kind[0] = '\0';
		} else if (!strncmp(p, "# TYPE ", 7)) {
			size_t fl = strlen(family);

			if (!help || strncmp(p + 7, family, fl) || p[7 + fl] != ' ') {
				TH_LOG("TYPE without its HELP: %.*s", (int)(eol - p), p);
				return -1;
			}
			snprintf(kind, sizeof(kind), "%.*s", (int)(eol - p - 8 - fl),
				 p + 8 + fl);
			if (strcmp(kind, "counter") && strcmp(kind, "gauge")) {
				TH_LOG("type %s", kind);
				return -1;
			}
			if (!strcmp(kind, "counter") &&
			    (fl < 6 || strcmp(family + fl - 6, "_total"))) {
				TH_LOG("counter %s without _total", family);
				return -1;
			}
		} else if (*p == '#') {
			TH_LOG("stray comment: %.*s", (int)(eol - p), p);
			return -1;
		} else {
			size_t fl = strlen(family);
			const char *v;
			char *end;

			if (!kind[0] || strncmp(p, family, fl) ||
			    (p[fl] != ' ' && p[fl] != '{')) {
				TH_LOG("sample outside its family %s: %.*s", family,
				       (int)(eol - p), p);
				return -1;
			}
			if (p[fl] == '{') {
				const char *close = strstr(p, "} ");

				if (!close || close > eol) {
					TH_LOG("labels: %.*s", (int)(eol - p), p);
					return -1;
				}
				v = close + 2;
			} else {
				v = p + fl + 1;
			}
			strtod(v, &end);
			if (end != eol || end == v) {
				TH_LOG("value: %.*s", (int)(eol - p), p);
				return -1;
			}
			samples++;
		}
		p = eol + 1;
	}
	return samples;
}

static const char *const required[] = {
	"kholmes_up", "kholmes_detections_total", "kholmes_suppressed_total",
	"kholmes_captures_total", "kholmes_captures_written_total",
	"kholmes_captures_dropped_total", "kholmes_captures_limited_total",
	"kholmes_captures_failed_total", "kholmes_profiles_total",
	"kholmes_profiles_skipped_total", "kholmes_saturated_skips_total",
	"kholmes_queue_length", "kholmes_queue_bytes",
	"kholmes_tracked_processes", "kholmes_sampling_pass_seconds",
	"kholmes_tasks_visited", "kholmes_module_memory_bytes",
	"kholmes_uploads_total", "kholmes_upload_failures_total",
	"kholmes_uploads_pending", "kholmes_captures_partial_total",
	"kholmes_captures_rotated_undelivered_total",
};

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

TEST(module_up)
{
	struct kh_status st;
	struct kh_prom p = { .up = true, .st = &st, .written = 7, .uploads = 5,
			     .upload_failures = 3, .uploads_dropped = 1,
			     .uploads_pending = 2, .partial = 4,
			     .rotated_undelivered = 6 };
	char help[160];
	char *text;
	size_t i;

	status(&st);
	text = render(&p);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(30, check_format(_metadata, text)) TH_LOG("%s", text);
	for (i = 0; i < ARRAY_SIZE(required); i++) {
		snprintf(help, sizeof(help), "# HELP %s ", required[i]);
		EXPECT_NE(NULL, strstr(text, help)) TH_LOG("%s missing", required[i]);
	}
	EXPECT_TRUE(has_line(text, "kholmes_up 1"));
	EXPECT_TRUE(has_line(text, "# TYPE kholmes_up gauge"));
	EXPECT_TRUE(has_line(text, "kholmes_info{version=\"0.1.0\",kernel=\"6.12.117+deb12-cloud-amd64\"} 1"));
	EXPECT_TRUE(has_line(text, "# TYPE kholmes_detections_total counter"));
	EXPECT_TRUE(has_line(text, "kholmes_detections_total 1005"));
	EXPECT_TRUE(has_line(text, "kholmes_suppressed_total 1006"));
	EXPECT_TRUE(has_line(text, "kholmes_captures_total 1015"));
	EXPECT_TRUE(has_line(text, "kholmes_captures_dropped_total 1016"));
	EXPECT_TRUE(has_line(text, "kholmes_captures_limited_total 1017"));
	EXPECT_TRUE(has_line(text, "kholmes_captures_failed_total 1018"));
	EXPECT_TRUE(has_line(text, "kholmes_queue_length 1019"));
	EXPECT_TRUE(has_line(text, "kholmes_queue_bytes 1020"));
	EXPECT_TRUE(has_line(text, "kholmes_profiles_total 1023"));
	EXPECT_TRUE(has_line(text, "kholmes_profiles_skipped_total 1024"));
	EXPECT_TRUE(has_line(text, "kholmes_saturated_skips_total 1025"));
	EXPECT_TRUE(has_line(text, "kholmes_tracked_processes 1003"));
	EXPECT_TRUE(has_line(text, "kholmes_tasks_visited 1010"));
	EXPECT_TRUE(has_line(text, "kholmes_module_memory_bytes 1012"));
	EXPECT_TRUE(has_line(text, "# TYPE kholmes_sampling_pass_seconds gauge"));
	EXPECT_TRUE(has_line(text, "kholmes_sampling_pass_seconds{stat=\"last\"} 0.001234567"));
	EXPECT_TRUE(has_line(text, "kholmes_sampling_pass_seconds{stat=\"mean\"} 2.000000000"));
	EXPECT_TRUE(has_line(text, "kholmes_sampling_pass_seconds{stat=\"max\"} 0.000000005"));
	EXPECT_TRUE(has_line(text, "kholmes_captures_written_total 7"));
	EXPECT_TRUE(has_line(text, "kholmes_uploads_total 5"));
	EXPECT_TRUE(has_line(text, "kholmes_upload_failures_total 3"));
	EXPECT_TRUE(has_line(text, "kholmes_uploads_dropped_total 1"));
	EXPECT_TRUE(has_line(text, "kholmes_captures_partial_total 4"));
	EXPECT_TRUE(has_line(text, "kholmes_captures_rotated_undelivered_total 6"));
	EXPECT_TRUE(has_line(text, "kholmes_uploads_pending 2"));
	free(text);
}

TEST(module_down)
{
	struct kh_status st;
	struct kh_prom p = { .up = false, .st = &st, .written = 3 };
	char *text;

	status(&st);
	text = render(&p);
	ASSERT_NE(NULL, text);
	/* up, then the daemon's own five: nothing of the module's made up */
	EXPECT_EQ(8, check_format(_metadata, text)) TH_LOG("%s", text);
	EXPECT_TRUE(has_line(text, "kholmes_up 0"));
	EXPECT_EQ(NULL, strstr(text, "kholmes_info"));
	EXPECT_EQ(NULL, strstr(text, "kholmes_detections_total"));
	EXPECT_TRUE(has_line(text, "kholmes_captures_written_total 3"));
	EXPECT_TRUE(has_line(text, "kholmes_uploads_pending 0"));
	free(text);
}

TEST(escaping)
{
	struct kh_status st;
	struct kh_prom p = { .up = true, .st = &st };
	char *buf = NULL, *text;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	ASSERT_NE(NULL, f);
	kh_prom_label(f, "a\"b\\c\nd");
	fputc('|', f);
	kh_prom_help(f, "a\"b\\c\nd");
	fclose(f);
	EXPECT_STREQ("a\\\"b\\\\c\\nd|a\"b\\\\c\\nd", buf);
	free(buf);

	status(&st);
	strcpy(st.krelease, "6.1\"x\\y\nz");
	text = render(&p);
	ASSERT_NE(NULL, text);
	EXPECT_TRUE(has_line(text, "kholmes_info{version=\"0.1.0\",kernel=\"6.1\\\"x\\\\y\\nz\"} 1"))
		TH_LOG("%s", text);
	EXPECT_EQ(30, check_format(_metadata, text));
	free(text);
}

static int count_entries(const char *dir)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' || (strcmp(de->d_name, ".") &&
					      strcmp(de->d_name, "..")))
			n++;
	closedir(d);
	return n;
}

TEST(atomic_file)
{
	char dir[] = "/tmp/kholmes-prom-XXXXXX", path[256], want[8192];
	struct kh_status st;
	struct kh_prom p = { .up = true, .st = &st, .written = 1 };
	struct stat sb;
	char *text;
	FILE *f;
	size_t n;

	status(&st);
	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/kholmes.prom", dir);
	ASSERT_EQ(0, kh_prom_write(path, &p));
	p.written = 2;
	ASSERT_EQ(0, kh_prom_write(path, &p));
	text = render(&p);
	ASSERT_NE(NULL, text);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	n = fread(want, 1, sizeof(want) - 1, f);
	want[n] = '\0';
	fclose(f);
	EXPECT_STREQ(text, want);
	free(text);
	ASSERT_EQ(0, stat(path, &sb));
	EXPECT_EQ(0644, sb.st_mode & 0777);
	/* the temporary name is gone: one file */
	EXPECT_EQ(1, count_entries(dir));
	EXPECT_EQ(-ENOENT, kh_prom_write("/nonexistent-dir/kholmes.prom", &p));
	unlink(path);
	rmdir(dir);
}

/* Prometheus' own linter, where Debian's prometheus package is installed. */
TEST(promtool)
{
	struct kh_status st;
	struct kh_prom p = { .up = true, .st = &st, .written = 4 };
	char *text;
	FILE *f;
	int st_;

	if (access("/usr/bin/promtool", X_OK))
		SKIP(return, "promtool not installed (Debian package prometheus)");
	status(&st);
	text = render(&p);
	ASSERT_NE(NULL, text);
	f = popen("/usr/bin/promtool check metrics", "w");
	ASSERT_NE(NULL, f);
	fputs(text, f);
	st_ = pclose(f);
	EXPECT_TRUE(WIFEXITED(st_) && !WEXITSTATUS(st_)) TH_LOG("%s", text);
	free(text);
}

TEST_HARNESS_MAIN
