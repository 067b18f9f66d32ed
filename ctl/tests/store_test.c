// SPDX-License-Identifier: GPL-2.0
/*
 * The capture directory: names from the capture (sanitized, parsed back),
 * atomic writes in a temporary directory (no temporary file survives, a
 * failed write leaves nothing under the final name), the cleanup of what
 * a crash leaves, the writers' lock, and rotation as a pure policy over a
 * list of capture sets, then for real.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "kselftest_harness.h"

TEST(sanitize)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "nginx", "nginx" },
		{ "kworker/0:1", "kworker_0_1" },
		{ "my proc", "my_proc" },
		{ "a.b+c-d_e", "a.b+c-d_e" },
		{ ".hidden", "_hidden" },
		{ "..", "_." },
		{ "", "_" },
		{ "caf\xc3\xa9", "caf__" },
		{ "x\n;$(rm)", "x____rm_" },
	};
	char buf[KHOLMES_COMM_LEN];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		kh_sanitize(buf, sizeof(buf), cases[i].in);
		EXPECT_STREQ(cases[i].want, buf) TH_LOG("%s", cases[i].in);
	}
	kh_sanitize(buf, 4, "abcdef");
	EXPECT_STREQ("abc", buf);
}

TEST(base_name)
{
	struct kh_capture_sum s = {
		.id = 42, .time_ns = 1795662960123000000ULL, .pid = 1234,
		.has_metric = true, .metric = KHOLMES_METRIC_RSS_PCT,
	};
	char buf[KH_BASE_LEN];

	strcpy(s.comm, "web/worker 1");
	ASSERT_EQ(0, kh_capture_base(buf, sizeof(buf), &s));
	EXPECT_STREQ("20261126T031600Z-web_worker_1-1234-rss-pct-42", buf);
	s.has_metric = false;
	s.id = 18446744073709551615ULL;
	s.comm[0] = '\0';
	ASSERT_EQ(0, kh_capture_base(buf, sizeof(buf), &s));
	EXPECT_STREQ("20261126T031600Z-_-1234-manual-18446744073709551615", buf);
	EXPECT_EQ(-ENAMETOOLONG, kh_capture_base(buf, 20, &s));
}

TEST(parse_name)
{
	static const struct {
		const char *name;
		bool ok;
		size_t base;
		uint64_t id;
	} cases[] = {
		{ "20261126T031600Z-spin-1234-cpu-42.txt", true, 33, 42 },
		{ "20261126T031600Z-spin-1234-cpu-42.json", true, 33, 42 },
		{ "20261126T031600Z-spin-1234-cpu-42.cpu.folded", true, 33, 42 },
		{ "20261126T031600Z-a-1.b-7-rss-pct-9.txt", true, 34, 9 },
		{ "20261126T031600Z-x-1-manual-18446744073709551615.txt", true, 48,
		  18446744073709551615ULL },
		{ "20261126T031600Z-x-1-manual-18446744073709551616.txt", false, 0, 0 },
		{ ".20261126T031600Z-spin-1234-cpu-42.txt.tmp.99", false, 0, 0 },
		{ "20261126T031600Z-spin-1234-cpu-42", false, 0, 0 },
		{ "20261126T031600Z-spin-1234-cpu-x.txt", false, 0, 0 },
		{ "2026112xT031600Z-spin-1234-cpu-42.txt", false, 0, 0 },
		{ "notes.txt", false, 0, 0 },
		{ "", false, 0, 0 },
	};
	size_t i, base;
	uint64_t id;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		bool ok = kh_parse_name(cases[i].name, &base, &id);

		EXPECT_EQ(cases[i].ok, ok) TH_LOG("%s", cases[i].name);
		if (!ok || !cases[i].ok)
			continue;
		EXPECT_EQ(cases[i].base, base) TH_LOG("%s", cases[i].name);
		EXPECT_EQ(cases[i].id, id) TH_LOG("%s", cases[i].name);
	}
}

TEST(temp_name)
{
	EXPECT_TRUE(kh_is_temp_name(".20261126T031600Z-a-1-cpu-2.txt.tmp.123"));
	EXPECT_TRUE(kh_is_temp_name(".x.tmp.tmp.1"));
	EXPECT_FALSE(kh_is_temp_name(".x.tmp."));
	EXPECT_FALSE(kh_is_temp_name(".x.tmp.12a"));
	EXPECT_FALSE(kh_is_temp_name("x.tmp.12"));
	EXPECT_FALSE(kh_is_temp_name(".bashrc"));
}

/* ---------------------------------------------------------- directory */

FIXTURE(dir) {
	char path[64];
	struct kh_store st;
};

FIXTURE_SETUP(dir)
{
	strcpy(self->path, "/tmp/kh_store_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->path));
	ASSERT_EQ(0, kh_store_open(&self->st, self->path));
}

FIXTURE_TEARDOWN(dir)
{
	char cmd[128];

	kh_store_close(&self->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->path);
	if (system(cmd))
		TH_LOG("could not remove %s", self->path);
}

static int names(const char *path, char out[][256], int max)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(path);

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, KH_LOCK_NAME))
			continue;
		if (n < max)
			snprintf(out[n++], 256, "%s", de->d_name);
	}
	closedir(d);
	return n;
}

static char *slurp(const char *dir, const char *name)
{
	char path[256], *buf;
	long len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = calloc(1, len + 1);
	if (buf && fread(buf, 1, len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static int write_hello(FILE *f, void *arg)
{
	fprintf(f, "hello %s\n", (const char *)arg);
	return 0;
}

static int write_fail(FILE *f, void *arg)
{
	(void)arg;
	fputs("half a file", f);
	return -ENOSPC;
}

TEST_F(dir, atomic_write)
{
	char n[8][256], *s;

	ASSERT_EQ(0, kh_store_write(&self->st, "a.txt", write_hello, "one"));
	ASSERT_EQ(0, kh_store_sync(&self->st));
	ASSERT_EQ(1, names(self->path, n, 8));
	EXPECT_STREQ("a.txt", n[0]);
	s = slurp(self->path, "a.txt");
	EXPECT_STREQ("hello one\n", s);
	free(s);

	/* a rewrite replaces it whole: the same name, the new content */
	ASSERT_EQ(0, kh_store_write(&self->st, "a.txt", write_hello, "two"));
	s = slurp(self->path, "a.txt");
	EXPECT_STREQ("hello two\n", s);
	free(s);

	/* a failed write leaves neither the file nor its temporary */
	EXPECT_EQ(-ENOSPC, kh_store_write(&self->st, "b.txt", write_fail, NULL));
	EXPECT_EQ(-ENOSPC, kh_store_write(&self->st, "a.txt", write_fail, NULL));
	ASSERT_EQ(1, names(self->path, n, 8));
	s = slurp(self->path, "a.txt");
	EXPECT_STREQ("hello two\n", s);
	free(s);
}

TEST_F(dir, clean_temps)
{
	static const char *const files[] = {
		".20261126T031600Z-a-1-cpu-2.txt.tmp.1",
		".20261126T031600Z-a-1-cpu-2.json.tmp.99999",
		"20261126T031600Z-a-1-cpu-2.txt",
		".keep", "keep.tmp.1",
	};
	unsigned int removed;
	char n[8][256];
	size_t i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(files); i++) {
		fd = openat(self->st.dirfd, files[i], O_CREAT | O_WRONLY, 0644);
		ASSERT_LE(0, fd);
		close(fd);
	}
	ASSERT_EQ(0, kh_store_clean(&self->st, &removed));
	EXPECT_EQ(2U, removed);
	EXPECT_EQ(3, names(self->path, n, 8));
	EXPECT_NE(0, faccessat(self->st.dirfd, files[0], F_OK, 0));
	EXPECT_EQ(0, faccessat(self->st.dirfd, files[2], F_OK, 0));
	EXPECT_EQ(0, faccessat(self->st.dirfd, files[3], F_OK, 0));
}

TEST_F(dir, one_writer)
{
	struct kh_store other;

	EXPECT_EQ(-EBUSY, kh_store_open(&other, self->path));
	kh_store_close(&self->st);
	ASSERT_EQ(0, kh_store_open(&other, self->path));
	kh_store_close(&other);
	EXPECT_EQ(-ENOENT, kh_store_open(&other, "/nonexistent/kh"));
	EXPECT_EQ(-ENOTDIR, kh_store_open(&other, "/etc/hostname"));
	ASSERT_EQ(0, kh_store_open(&self->st, self->path));
}

/*
 * The count of partial captures in DIR/.lock: 0 before any, one more per
 * kh_store_add_partial(), durable across a reopen, readable while the
 * lock is held; a lock file of another content is no count.
 */
TEST_F(dir, partial_count)
{
	char path[128];
	uint64_t n = 99;
	char *text;
	int fd;

	EXPECT_EQ(0, kh_store_read_partial(self->path, &n));
	EXPECT_EQ(0U, n);
	ASSERT_EQ(0, kh_store_add_partial(&self->st));
	ASSERT_EQ(0, kh_store_add_partial(&self->st));
	EXPECT_EQ(0, kh_store_read_partial(self->path, &n));
	EXPECT_EQ(2U, n);
	text = slurp(self->path, KH_LOCK_NAME);
	ASSERT_NE(NULL, text);
	EXPECT_STREQ("partial 00000000000000000002\n", text);
	free(text);
	/* across a restart of the writer */
	kh_store_close(&self->st);
	ASSERT_EQ(0, kh_store_open(&self->st, self->path));
	ASSERT_EQ(0, kh_store_add_partial(&self->st));
	EXPECT_EQ(0, kh_store_read_partial(self->path, &n));
	EXPECT_EQ(3U, n);
	/* junk: no count to show; the next partial capture starts again */
	snprintf(path, sizeof(path), "%s/%s", self->path, KH_LOCK_NAME);
	fd = open(path, O_WRONLY | O_TRUNC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(4, write(fd, "12x\n", 4));
	close(fd);
	EXPECT_EQ(-EBADMSG, kh_store_read_partial(self->path, &n));
	ASSERT_EQ(0, kh_store_add_partial(&self->st));
	EXPECT_EQ(0, kh_store_read_partial(self->path, &n));
	EXPECT_EQ(1U, n);
	/* no directory, no lock file */
	EXPECT_EQ(-ENOENT, kh_store_read_partial("/nonexistent/kh", &n));
	kh_store_close(&self->st);
	ASSERT_EQ(0, unlink(path));
	EXPECT_EQ(0, kh_store_read_partial(self->path, &n));
	EXPECT_EQ(0U, n);
	/* a symlink in its place is not followed */
	ASSERT_EQ(0, symlink("/etc/hostname", path));
	EXPECT_EQ(-ELOOP, kh_store_read_partial(self->path, &n));
	ASSERT_EQ(0, unlink(path));
	ASSERT_EQ(0, kh_store_open(&self->st, self->path));
}

static void set(struct kh_set *s, const char *base, uint64_t id,
		uint64_t bytes)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->base, sizeof(s->base), "%s", base);
	s->id = id;
	s->bytes = bytes;
	s->files = 3;
}

static size_t removed(const struct kh_set *s, size_t n, char *names,
		      size_t len)
{
	size_t i, k = 0;

	names[0] = '\0';
	for (i = 0; i < n; i++) {
		if (!s[i].remove)
			continue;
		k++;
		snprintf(names + strlen(names), len - strlen(names), "%s%.*s",
			 k > 1 ? "," : "", 16, s[i].base + 17);
	}
	return k;
}

TEST(rotate_plan)
{
	struct kh_set s[5];
	char gone[128];

	/* given out of order; the same second is ordered by id */
	set(&s[0], "20261126T031700Z-b-1-cpu-7", 7, 100);
	set(&s[1], "20261126T031600Z-z-1-cpu-10", 10, 100);
	set(&s[2], "20261126T031600Z-a-1-cpu-9", 9, 100);
	set(&s[3], "20251126T031600Z-old-1-cpu-99", 99, 100);
	set(&s[4], "20261126T031800Z-new-1-cpu-1", 1, 1000);

	EXPECT_EQ(0U, kh_rotate_plan(s, 5, 0, 0, NULL));
	EXPECT_STREQ("20251126T031600Z-old-1-cpu-99", s[0].base);
	EXPECT_STREQ("20261126T031600Z-a-1-cpu-9", s[1].base);
	EXPECT_STREQ("20261126T031600Z-z-1-cpu-10", s[2].base);
	EXPECT_STREQ("20261126T031700Z-b-1-cpu-7", s[3].base);
	EXPECT_STREQ("20261126T031800Z-new-1-cpu-1", s[4].base);
	EXPECT_EQ(0U, removed(s, 5, gone, sizeof(gone)));

	EXPECT_EQ(0U, kh_rotate_plan(s, 5, 5, 0, NULL));
	EXPECT_EQ(2U, kh_rotate_plan(s, 5, 3, 0, NULL));
	EXPECT_EQ(2U, removed(s, 5, gone, sizeof(gone)));
	EXPECT_STREQ("old-1-cpu-99,a-1-cpu-9", gone);
	EXPECT_EQ(4U, kh_rotate_plan(s, 5, 1, 0, NULL));
	/* bytes: 1400 in all; the oldest go until it fits */
	EXPECT_EQ(0U, kh_rotate_plan(s, 5, 0, 1400, NULL));
	EXPECT_EQ(1U, kh_rotate_plan(s, 5, 0, 1300, NULL));
	EXPECT_EQ(3U, kh_rotate_plan(s, 5, 0, 1150, NULL));
	/* the newest stays even when it alone is over the limit */
	EXPECT_EQ(4U, kh_rotate_plan(s, 5, 0, 10, NULL));
	EXPECT_FALSE(s[4].remove);
	EXPECT_EQ(4U, kh_rotate_plan(s, 5, 2, 1000, NULL));
	/* and so does the one just written, though it is the oldest */
	EXPECT_EQ(2U, kh_rotate_plan(s, 5, 3, 0, "20251126T031600Z-old-1-cpu-99"));
	removed(s, 5, gone, sizeof(gone));
	EXPECT_STREQ("a-1-cpu-9,z-1-cpu-10", gone);
	EXPECT_EQ(3U, kh_rotate_plan(s, 5, 1, 0, "20261126T031600Z-z-1-cpu-10"));
	EXPECT_FALSE(s[2].remove);
	EXPECT_FALSE(s[4].remove);
	EXPECT_EQ(0U, kh_rotate_plan(s, 1, 0, 1, NULL));
	EXPECT_EQ(0U, kh_rotate_plan(s, 0, 1, 1, NULL));
}

static void touch(struct kh_store *st, const char *name, size_t bytes)
{
	FILE *f;
	int fd;

	fd = openat(st->dirfd, name, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	f = fdopen(fd, "w");
	while (f && bytes--)
		fputc('x', f);
	if (f)
		fclose(f);
}

TEST_F(dir, scan_and_remove)
{
	static const char *const bases[] = {
		"20261126T031600Z-a-1-cpu-1",
		"20261126T031600Z-a-1-cpu-12",
		"20261126T031500Z-b-2-manual-3",
	};
	struct kh_set *sets;
	char n[16][256];
	size_t i, cnt;
	char name[128];

	for (i = 0; i < ARRAY_SIZE(bases); i++) {
		snprintf(name, sizeof(name), "%s.txt", bases[i]);
		touch(&self->st, name, 100);
		snprintf(name, sizeof(name), "%s.json", bases[i]);
		touch(&self->st, name, 200);
		snprintf(name, sizeof(name), "%s.folded", bases[i]);
		touch(&self->st, name, 10 * (i + 1));
	}
	touch(&self->st, "README", 5);
	touch(&self->st, ".20261126T031600Z-a-1-cpu-1.txt.tmp.4", 5);

	ASSERT_EQ(0, kh_store_scan(&self->st, &sets, &cnt));
	ASSERT_EQ(3U, cnt);
	for (i = 0; i < cnt; i++)
		EXPECT_EQ(3U, sets[i].files);
	ASSERT_EQ(1U, kh_rotate_plan(sets, cnt, 2, 0, NULL));
	EXPECT_TRUE(sets[0].remove);
	EXPECT_STREQ("20261126T031500Z-b-2-manual-3", sets[0].base);
	EXPECT_EQ(330U, sets[0].bytes);
	EXPECT_STREQ("20261126T031600Z-a-1-cpu-1", sets[1].base);
	ASSERT_EQ(0, kh_store_remove(&self->st, &sets[0]));
	/* "-1." is not "-12.": the neighbour keeps its files */
	ASSERT_EQ(0, kh_store_remove(&self->st, &sets[1]));
	free(sets);
	EXPECT_EQ(5, names(self->path, n, 16));
	EXPECT_EQ(0, faccessat(self->st.dirfd,
			       "20261126T031600Z-a-1-cpu-12.folded", F_OK, 0));
	EXPECT_EQ(0, faccessat(self->st.dirfd, "README", F_OK, 0));
}

TEST_HARNESS_MAIN
