// SPDX-License-Identifier: GPL-2.0
/*
 * What the daemon writes, against another user of the host: a symlink
 * planted at every name it writes (the final names, the temporary names
 * the old code predicted, the lock, the --prom-file), a user holding a
 * lock on the directory before it starts, a directory others can write
 * into, and the modes of what it writes, read back. Runs as root (as the
 * daemon does); the tests that need another user skip without root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "post.h"
#include "prom.h"
#include "store.h"
#include "stream.h"
#include "unwind.h"
#include "kselftest_harness.h"

#define VICTIM_TEXT	"precious\n"

FIXTURE(hostile) {
	char path[64];
	char victim[96];
	struct kh_store st;
};

FIXTURE_SETUP(hostile)
{
	int fd;

	strcpy(self->path, "/tmp/kh_hostile_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->path));
	snprintf(self->victim, sizeof(self->victim), "%s.victim", self->path);
	fd = open(self->victim, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)strlen(VICTIM_TEXT),
		  write(fd, VICTIM_TEXT, strlen(VICTIM_TEXT)));
	close(fd);
	self->st.dirfd = -1;
}

FIXTURE_TEARDOWN(hostile)
{
	char cmd[256];

	kh_store_close(&self->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", self->path, self->victim);
	if (system(cmd))
		TH_LOG("could not remove %s", self->path);
}

static int write_hello(FILE *f, void *arg)
{
	fprintf(f, "hello %s\n", (const char *)arg);
	return 0;
}

static void victim_intact(struct __test_metadata *_metadata, const char *path)
{
	char buf[64] = "";
	struct stat sb;
	ssize_t n;
	int fd;

	ASSERT_EQ(0, lstat(path, &sb));
	EXPECT_TRUE(S_ISREG(sb.st_mode));
	EXPECT_EQ(0644, sb.st_mode & 07777);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ASSERT_LE(0, n);
	buf[n] = '\0';
	EXPECT_STREQ(VICTIM_TEXT, buf);
}

static void plant(struct __test_metadata *_metadata, const char *dir,
		  const char *name, const char *target)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ASSERT_EQ(0, symlink(target, path));
}

static void is_regular(struct __test_metadata *_metadata, const char *dir,
		       const char *name, mode_t mode)
{
	char path[256];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ASSERT_EQ(0, lstat(path, &sb)) TH_LOG("%s", path);
	EXPECT_TRUE(S_ISREG(sb.st_mode)) TH_LOG("%s", path);
	EXPECT_EQ(mode, sb.st_mode & 07777) TH_LOG("%s", path);
}

/*
 * The old temporary names were ".<name>.tmp.<pid>": a symlink there made
 * root truncate its target. A symlink at the final name is replaced, not
 * followed. Neither touches the target.
 */
TEST_F(hostile, symlinks_at_every_name)
{
	static const char *const names[] = {
		"20261126T031600Z-a-1-cpu-2.txt",
		"20261126T031600Z-a-1-cpu-2.json",
	};
	char tmp[256];
	size_t i;
	pid_t p;

	ASSERT_EQ(0, kh_store_open(&self->st, self->path));
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		plant(_metadata, self->path, names[i], self->victim);
		/* this process's pid, and a few around it */
		for (p = getpid() - 2; p <= getpid() + 2; p++) {
			snprintf(tmp, sizeof(tmp), ".%s.tmp.%d", names[i], (int)p);
			plant(_metadata, self->path, tmp, self->victim);
		}
		ASSERT_EQ(0, kh_store_write(&self->st, names[i], write_hello,
					    "x"));
		victim_intact(_metadata, self->victim);
		is_regular(_metadata, self->path, names[i], KH_CAPTURE_MODE);
	}
}

TEST_F(hostile, symlink_at_prom_file)
{
	struct kh_status st = { 0 };
	struct kh_prom pr = { .st = &st };
	char path[128], tmp[160];

	snprintf(path, sizeof(path), "%s/kholmes.prom", self->path);
	plant(_metadata, self->path, "kholmes.prom", self->victim);
	snprintf(tmp, sizeof(tmp), ".kholmes.prom.tmp.%d", (int)getpid());
	plant(_metadata, self->path, tmp, self->victim);
	ASSERT_EQ(0, kh_prom_write(path, &pr));
	victim_intact(_metadata, self->victim);
	is_regular(_metadata, self->path, "kholmes.prom", 0644);
}

/* A symlink (or anything not ours) at .lock: refused, target untouched. */
TEST_F(hostile, symlink_at_lock)
{
	plant(_metadata, self->path, KH_LOCK_NAME, self->victim);
	EXPECT_EQ(-KH_ENOTOURS, kh_store_open(&self->st, self->path));
	victim_intact(_metadata, self->victim);
}

/* Modes read back, whatever the umask: captures 0640, the spool 0600. */
TEST_F(hostile, modes)
{
	char name[128];
	mode_t old = umask(0);
	struct stat sb;
	int spool;

	ASSERT_EQ(0, kh_store_open(&self->st, self->path));
	ASSERT_EQ(0, kh_store_write(&self->st, "c.txt", write_hello, "x"));
	is_regular(_metadata, self->path, "c.txt", 0640);
	is_regular(_metadata, self->path, KH_LOCK_NAME, 0600);
	/* the captures' group, when one is set */
	self->st.set_gid = true;
	self->st.gid = 4;
	ASSERT_EQ(0, kh_store_write(&self->st, "d.txt", write_hello, "x"));
	snprintf(name, sizeof(name), "%s/d.txt", self->path);
	ASSERT_EQ(0, stat(name, &sb));
	EXPECT_EQ(4U, sb.st_gid);
	EXPECT_EQ(0640, sb.st_mode & 07777);
	/* the spool, as kh_post_spool writes its entries */
	ASSERT_EQ(0, mkdirat(self->st.dirfd, KH_SPOOL_DIR, 0700));
	spool = openat(self->st.dirfd, KH_SPOOL_DIR, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, spool);
	ASSERT_EQ(0, kh_write_atomic(spool, "1-2.upload", 0600, write_hello,
				     "x"));
	close(spool);
	snprintf(name, sizeof(name), "%s/1-2.upload", KH_SPOOL_DIR);
	is_regular(_metadata, self->path, name, 0600);
	umask(old);
}

/* Writable by others: refused, unless sticky and ours. */
TEST_F(hostile, shared_dir)
{
	ASSERT_EQ(0, chmod(self->path, 0777));
	EXPECT_EQ(-KH_ENOTOURS, kh_store_open(&self->st, self->path));
	ASSERT_EQ(0, chmod(self->path, 0775));
	EXPECT_EQ(-KH_ENOTOURS, kh_store_open(&self->st, self->path));
	ASSERT_EQ(0, chmod(self->path, 01777));
	EXPECT_EQ(0, kh_store_open(&self->st, self->path));
	kh_store_close(&self->st);
	ASSERT_EQ(0, chmod(self->path, 0755));
	EXPECT_EQ(0, kh_store_open(&self->st, self->path));
}

/*
 * Another user holds a lock on the directory before the daemon starts:
 * the daemon's lock is DIR/.lock, which that user cannot open.
 */
TEST_F(hostile, user_holds_dir_lock)
{
	struct passwd *pw = getpwnam("nobody");
	int ready[2], done[2], fd;
	char c = 0;
	pid_t pid;

	if (geteuid() || !pw)
		SKIP(return, "needs root and a user nobody");
	ASSERT_EQ(0, chmod(self->path, 0755));
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(done));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(ready[0]);
		close(done[1]);
		if (setgid(pw->pw_gid) || setuid(pw->pw_uid))
			_exit(2);
		fd = open(self->path, O_RDONLY | O_DIRECTORY);
		if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB))
			_exit(3);
		if (write(ready[1], "r", 1) != 1)
			_exit(4);
		if (read(done[0], &c, 1) < 0)
			_exit(5);
		_exit(0);
	}
	close(ready[1]);
	close(done[0]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	EXPECT_EQ(0, kh_store_open(&self->st, self->path));
	/* and a second writer is still kept out */
	{
		struct kh_store other = { .dirfd = -1 };

		EXPECT_EQ(-EBUSY, kh_store_open(&other, self->path));
		kh_store_close(&other);
	}
	ASSERT_EQ(1, write(done[1], "d", 1));
	close(done[1]);
	close(ready[0]);
	waitpid(pid, NULL, 0);
}

/* ------------------------------------------------------------ unwinding */

/* A capture of one thread whose frame-pointer walk is the pc alone. */
static int one_frame_capture(struct kh_capture *cap, const char *path,
			     uint64_t start, uint64_t end, uint64_t pgoff,
			     uint64_t pc)
{
	struct kh_mapping *m;
	size_t i;

	memset(cap, 0, sizeof(*cap));
	cap->sum.id = 1;
	cap->sum.pid = getpid();
	cap->maps = calloc(1, sizeof(*cap->maps));
	cap->threads = calloc(1, sizeof(*cap->threads));
	if (!cap->maps || !cap->threads)
		return -1;
	cap->nr_maps = 1;
	m = &cap->maps[0];
	m->start = start;
	m->end = end;
	m->pgoff = pgoff;
	m->inode = 1;
	m->prot = KHOLMES_MAP_R | KHOLMES_MAP_X;
	m->path = strdup(path);
	/* a build-id: the unwinder also tries /proc/PID/root<path> */
	for (i = 0; i < 20; i++)
		m->build_id[i] = 0xa0 + i;
	m->build_id_len = 20;
	cap->nr_threads = 1;
	cap->sum.threads = cap->sum.nr_threads = 1;
	cap->threads[0].tid = getpid();
	cap->threads[0].state = 'S';
	cap->threads[0].uframes = malloc(sizeof(uint64_t));
	if (!cap->threads[0].uframes || !m->path)
		return -1;
	cap->threads[0].uframes[0] = pc;
	cap->threads[0].nr_uframes = 1;
	return 0;
}

/*
 * A user maps a binary, deletes it and puts a FIFO at its path: opening
 * it must not block (the old open() waited for a writer for ever). The
 * unwinding runs in a child that an alarm ends if it hangs.
 */
TEST_F(hostile, fifo_in_place_of_binary)
{
	char fifo[128], deleted[160];
	struct kh_capture cap;
	int st;
	pid_t pid;

	snprintf(fifo, sizeof(fifo), "%s/prog", self->path);
	ASSERT_EQ(0, mkfifo(fifo, 0644));
	snprintf(deleted, sizeof(deleted), "%s (deleted)", fifo);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		alarm(20);
		if (one_frame_capture(&cap, deleted, 0x400000, 0x401000, 0,
				      0x400100))
			_exit(2);
		if (kh_unwind(&cap))
			_exit(3);
		/* the frame keeps its file and offset, no name */
		if (cap.threads[0].fp.n != 1 || cap.threads[0].fp.f[0].func ||
		    cap.threads[0].fp.f[0].map != 0 ||
		    cap.threads[0].fp.f[0].file_off != 0x100)
			_exit(4);
		if (cap.maps[0].state != KH_FILE_MISSING)
			_exit(5);
		kh_capture_free(&cap);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st)) TH_LOG("killed by signal %d (SIGALRM: %d)",
					  WTERMSIG(st), SIGALRM);
	if (WIFEXITED(st))
		EXPECT_EQ(0, WEXITSTATUS(st));
}

__attribute__((noinline)) void khtest_hostile_fn(void)
{
	__asm__ volatile("" ::: "memory");
}

/*
 * The mappings of the file that holds addr, from /proc/self/maps, as the
 * capture's (libdwfl needs them all to place the ELF).
 */
static int self_maps(struct kh_capture *cap, uint64_t addr)
{
	unsigned long long s, e, o;
	char line[4096 + 128], file[4096], path[4096] = "";
	struct kh_mapping *m;
	FILE *f;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		f = fopen("/proc/self/maps", "r");
		if (!f)
			return -1;
		while (fgets(line, sizeof(line), f)) {
			file[0] = '\0';
			if (sscanf(line, "%llx-%llx %*s %llx %*s %*s %4095s", &s,
				   &e, &o, file) < 4 || file[0] != '/')
				continue;
			if (!pass && addr >= s && addr < e)
				snprintf(path, sizeof(path), "%s", file);
			if (!pass || strcmp(file, path) || cap->nr_maps == 16)
				continue;
			m = &cap->maps[cap->nr_maps++];
			memset(m, 0, sizeof(*m));
			m->start = s;
			m->end = e;
			m->pgoff = o;
			m->inode = 1;
			m->prot = KHOLMES_MAP_R | KHOLMES_MAP_X;
			m->path = strdup(file);
		}
		fclose(f);
		if (!path[0])
			return -1;
	}
	return 0;
}

/*
 * The time budget: with the default, the frame gets its function; with a
 * budget of 0 ms, nothing is looked up, the frame keeps its mapping and
 * offset, and the capture says why.
 */
TEST(unwind_time_budget)
{
	uint64_t pc = (uint64_t)(uintptr_t)khtest_hostile_fn;
	struct kh_capture cap;
	unsigned int budget;
	int map;

	for (budget = KH_UNWIND_BUDGET_MS;; budget = 0) {
		ASSERT_EQ(0, one_frame_capture(&cap, "/x", 1, 2, 0, pc));
		free(cap.maps[0].path);
		free(cap.maps);
		cap.maps = calloc(16, sizeof(*cap.maps));
		ASSERT_NE(NULL, cap.maps);
		cap.nr_maps = 0;
		ASSERT_EQ(0, self_maps(&cap, pc));
		map = kh_map_find(&cap, pc);
		ASSERT_LE(0, map);
		kh_unwind_budget_ms = budget;
		ASSERT_EQ(0, kh_unwind(&cap));
		kh_unwind_budget_ms = KH_UNWIND_BUDGET_MS;
		EXPECT_EQ(map, cap.threads[0].fp.f[0].map);
		EXPECT_EQ(pc - cap.maps[map].start + cap.maps[map].pgoff,
			  cap.threads[0].fp.f[0].file_off);
		if (budget) {
			ASSERT_NE(NULL, cap.threads[0].fp.f[0].func)
				TH_LOG("%s", cap.unwind_err);
			EXPECT_STREQ("khtest_hostile_fn",
				     cap.threads[0].fp.f[0].func);
			EXPECT_EQ(NULL, strstr(cap.unwind_err, "budget"));
		} else {
			EXPECT_EQ(NULL, cap.threads[0].fp.f[0].func);
			EXPECT_NE(NULL, strstr(cap.unwind_err,
					       "time budget of 0 ms"))
				TH_LOG("%s", cap.unwind_err);
		}
		kh_capture_free(&cap);
		if (!budget)
			break;
	}
}

TEST_HARNESS_MAIN
