// SPDX-License-Identifier: GPL-2.0
/*
 * The command line as a user meets it, run as ./kholmesctl (make test
 * runs in ctl/): output that cannot be written fails the command (a full
 * disk, a reader gone) instead of exiting 0 or dying of SIGPIPE; a usage
 * error is one line naming the word, then the synopsis, not the whole
 * help; options take --name=VALUE as well as --name VALUE; it starts
 * without the libraries it loads only when it needs them (libdw,
 * libkmod), and a missing module is explained with or without libkmod.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "kselftest_harness.h"

#define CTL	"./kholmesctl"

/* Runs CTL argv with stdout on out_fd, stderr into err; its wait status. */
static int run(char *const argv[], int out_fd, char *err, size_t len)
{
	int ep[2], st;
	ssize_t n;
	size_t off = 0;
	pid_t pid;

	if (pipe(ep))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		close(ep[0]);
		dup2(out_fd, 1);
		dup2(ep[1], 2);
		/* as a shell would start it: SIGPIPE at its default */
		signal(SIGPIPE, SIG_DFL);
		execv(CTL, argv);
		_exit(127);
	}
	close(ep[1]);
	while (off + 1 < len && (n = read(ep[0], err + off, len - 1 - off)) > 0)
		off += n;
	err[off] = '\0';
	close(ep[0]);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}

static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

TEST(help_to_dev_full_fails)
{
	char *const argv[] = { CTL, "help", NULL };
	char err[4096];
	int fd, st;

	fd = open("/dev/full", O_WRONLY);
	ASSERT_LE(0, fd);
	st = run(argv, fd, err, sizeof(err));
	close(fd);
	ASSERT_TRUE(WIFEXITED(st)) TH_LOG("status %#x", st);
	EXPECT_EQ(1, WEXITSTATUS(st));
	EXPECT_NE(NULL, strstr(err, "No space left on device")) TH_LOG("%s", err);
}

/* The reader closed its end before anything was written. */
TEST(reader_gone_fails_without_sigpipe)
{
	char *const argv[] = { CTL, "help", NULL };
	char err[4096];
	int p[2], st;

	ASSERT_EQ(0, pipe(p));
	close(p[0]);
	st = run(argv, p[1], err, sizeof(err));
	close(p[1]);
	ASSERT_TRUE(WIFEXITED(st)) TH_LOG("killed by signal %d",
					  WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	EXPECT_EQ(1, WEXITSTATUS(st));
}

TEST(usage_error_is_one_line_and_the_synopsis)
{
	static const struct {
		const char *argv[6];
		const char *word;
		int lines;
	} cases[] = {
		{ { CTL, "daemon", "--dir", "/tmp", "--bogus", NULL }, "\"--bogus\"", 3 },
		{ { CTL, "frob", NULL }, "\"frob\"", 2 },
		{ { CTL, "--frob", NULL }, "\"--frob\"", 2 },
		{ { CTL, "pull", "--dir=", NULL }, "\"--dir\"", 2 },
		{ { CTL, "ps", "--top=x", NULL }, "\"x\"", 2 },
		{ { CTL, "apply", "a", "b", NULL }, "\"b\"", 2 },
		{ { CTL, "save", "frob", NULL }, "\"frob\"", 2 },
		{ { CTL, "config", "set", "frob", "1", NULL }, "\"frob\"", 3 },
	};
	char err[8192];
	size_t i;
	int st, fd = open("/dev/null", O_WRONLY);

	ASSERT_LE(0, fd);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		st = run((char *const *)cases[i].argv, fd, err, sizeof(err));
		ASSERT_TRUE(WIFEXITED(st));
		EXPECT_EQ(2, WEXITSTATUS(st)) TH_LOG("case %zu", i);
		EXPECT_NE(NULL, strstr(err, cases[i].word))
			TH_LOG("case %zu: %s", i, err);
		EXPECT_EQ(0, strncmp(strchr(err, '\n') + 1, "Usage: ", 7))
			TH_LOG("case %zu: %s", i, err);
		EXPECT_EQ(cases[i].lines, lines(err)) TH_LOG("case %zu: %s", i, err);
	}
	close(fd);
}

TEST(options_take_equals)
{
	char *v1[] = { "--dir=/a", "--max-files=3", "--post=http://h/", "--group", "adm", NULL };
	char *v2[] = { "--dir", "/a", "--max-files", "3", "--config=/c", NULL };
	char *v3[] = { "--dir=/a", "--dir=/b", NULL };
	char *v4[] = { "--directory=/a", NULL };
	struct kh_pull_opts po;
	struct kh_parse_err pe;
	struct kh_ps_opts ps;

	ASSERT_EQ(0, kh_parse_pull(5, v1, true, &po, &pe));
	EXPECT_STREQ("/a", po.dir);
	EXPECT_EQ(3U, po.max_files);
	EXPECT_STREQ("http://h/", po.post);
	EXPECT_STREQ("adm", po.group);
	ASSERT_EQ(0, kh_parse_pull(5, v2, true, &po, &pe));
	EXPECT_STREQ("/a", po.dir);
	EXPECT_STREQ("/c", po.config);
	EXPECT_EQ(-1, kh_parse_pull(2, v3, false, &po, &pe));
	EXPECT_EQ(KH_PE_TWICE, pe.kind);
	EXPECT_EQ(-1, kh_parse_pull(1, v4, false, &po, &pe));
	EXPECT_EQ(KH_PE_KEYWORD, pe.kind);
	/* pull takes none of the daemon's */
	EXPECT_EQ(-1, kh_parse_pull(5, v1, false, &po, &pe));
	EXPECT_STREQ("--max-files=3", pe.word);
	{
		char *w[] = { "--top=5", "--sort", "rss", NULL };

		ASSERT_EQ(0, kh_parse_ps(3, w, &ps, &pe));
		EXPECT_EQ(5U, ps.top);
	}
}

/* Libraries kholmesctl loads only when it needs them, and theirs */
static const char *const lazy_libs[] = {
	"libdw.so.1", "libelf.so.1", "libkmod.so.2", "libcrypto.so.3",
};

/*
 * A directory of empty files named as lazy_libs, found before the
 * system's (LD_LIBRARY_PATH, set for this test's process and the command
 * it runs): what kholmesctl links of them would stop it at its start.
 */
static const char *broken_libs(char *dir, size_t len)
{
	char path[256];
	size_t i;
	int fd;

	snprintf(dir, len, "/tmp/kh-cli-libs.XXXXXX");
	if (!mkdtemp(dir))
		return NULL;
	for (i = 0; i < ARRAY_SIZE(lazy_libs); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, lazy_libs[i]);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0)
			return NULL;
		close(fd);
	}
	return setenv("LD_LIBRARY_PATH", dir, 1) ? NULL : dir;
}

static void broken_libs_gone(const char *dir)
{
	char path[256];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(lazy_libs); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, lazy_libs[i]);
		unlink(path);
	}
	rmdir(dir);
}

/*
 * libdw and libkmod are loaded when a capture is unwound or a missing
 * module explained, not at the start: with both unloadable, a command
 * that needs neither runs (before, the loader refused to start it:
 * "error while loading shared libraries", status 127).
 */
TEST(starts_without_libdw_and_libkmod)
{
	char *const argv[] = { CTL, "--version", NULL };
	char dir[64], err[4096];
	int st, fd = open("/dev/null", O_WRONLY);

	ASSERT_LE(0, fd);
	ASSERT_NE(NULL, broken_libs(dir, sizeof(dir)));
	st = run(argv, fd, err, sizeof(err));
	close(fd);
	broken_libs_gone(dir);
	ASSERT_TRUE(WIFEXITED(st)) TH_LOG("status %#x", st);
	EXPECT_EQ(0, WEXITSTATUS(st)) TH_LOG("%s", err);
	EXPECT_EQ(NULL, strstr(err, "error while loading")) TH_LOG("%s", err);
}

/*
 * Where no kholmes family is registered (this host's kernel has no
 * module), a command that needs the module says why and exits 3, with
 * libkmod (nl/module.c loads it to look the module up) and without it
 * (then /sys/module alone says what it can).
 */
TEST(missing_module_explained_with_and_without_libkmod)
{
	char *const argv[] = { CTL, "status", NULL };
	char dir[64], err[4096];
	int round, st, fd;

	if (!access("/sys/module/kholmes", F_OK))
		SKIP(return, "the kholmes module is loaded on this host");
	for (round = 0; round < 2; round++) {
		if (round)
			ASSERT_NE(NULL, broken_libs(dir, sizeof(dir)));
		fd = open("/dev/null", O_WRONLY);
		ASSERT_LE(0, fd);
		st = run(argv, fd, err, sizeof(err));
		close(fd);
		if (round)
			broken_libs_gone(dir);
		ASSERT_TRUE(WIFEXITED(st)) TH_LOG("round %d: status %#x", round, st);
		EXPECT_EQ(3, WEXITSTATUS(st)) TH_LOG("round %d: %s", round, err);
		EXPECT_NE(NULL, strstr(err, "the kholmes module is not loaded"))
			TH_LOG("round %d: %s", round, err);
		EXPECT_EQ(1, lines(err)) TH_LOG("round %d: %s", round, err);
	}
}

TEST_HARNESS_MAIN
