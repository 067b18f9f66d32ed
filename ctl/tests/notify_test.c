// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon under systemd: sd_notify's datagram to $NOTIFY_SOCKET (a
 * path, or '@' for an abstract name), and the "<N>" priority prefixes of
 * its lines when stderr is the journal ($JOURNAL_STREAM names stderr),
 * plain lines otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "notify.h"
#include "out.h"
#include "kselftest_harness.h"

static int bound(const char *name, bool abstract)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(sa.sun_path + abstract, sizeof(sa.sun_path) - abstract, "%s",
		 name);
	len = offsetof(struct sockaddr_un, sun_path) + abstract + strlen(name) +
	      !abstract;
	if (bind(fd, (struct sockaddr *)&sa, len)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void expect_msg(struct __test_metadata *_metadata, int fd,
		       const char *prefix)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	ASSERT_LT(0, n);
	buf[n] = '\0';
	EXPECT_EQ(0, strncmp(buf, prefix, strlen(prefix))) TH_LOG("%s", buf);
}

TEST(notify_path_and_abstract)
{
	char path[] = "/tmp/kh_notify_test.XXXXXX", sock[96], abs[64];
	char buf[8];
	int fd;

	ASSERT_NE(NULL, mkdtemp(path));
	snprintf(sock, sizeof(sock), "%s/notify", path);
	fd = bound(sock, false);
	ASSERT_LE(0, fd);
	setenv("NOTIFY_SOCKET", sock, 1);
	ASSERT_EQ(0, kh_notify("READY=1"));
	expect_msg(_metadata, fd, "READY=1");
	ASSERT_EQ(0, kh_notify_reloading());
	expect_msg(_metadata, fd, "RELOADING=1\nMONOTONIC_USEC=");
	ASSERT_EQ(0, kh_notify("STOPPING=1"));
	expect_msg(_metadata, fd, "STOPPING=1");
	close(fd);
	unlink(sock);
	rmdir(path);

	snprintf(abs, sizeof(abs), "kh_notify_test_%d", (int)getpid());
	fd = bound(abs, true);
	ASSERT_LE(0, fd);
	snprintf(sock, sizeof(sock), "@%s", abs);
	setenv("NOTIFY_SOCKET", sock, 1);
	ASSERT_EQ(0, kh_notify("READY=1"));
	expect_msg(_metadata, fd, "READY=1");
	/* not under systemd: nothing sent, no error */
	unsetenv("NOTIFY_SOCKET");
	EXPECT_EQ(0, kh_notify("READY=1"));
	EXPECT_EQ(-1, recv(fd, buf, sizeof(buf), MSG_DONTWAIT));
	close(fd);
}

/* Logs two lines with stderr on a file; what the file holds. */
static void log_to_file(struct __test_metadata *_metadata, const char *env,
			bool env_is_file, char *out, size_t len)
{
	char path[] = "/tmp/kh_log_test.XXXXXX", val[64];
	struct stat sb;
	int fd, st;
	ssize_t n;
	pid_t pid;

	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &sb));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		dup2(fd, 2);
		if (env_is_file) {
			snprintf(val, sizeof(val), "%llu:%llu",
				 (unsigned long long)sb.st_dev,
				 (unsigned long long)sb.st_ino);
			setenv("JOURNAL_STREAM", val, 1);
		} else if (env) {
			setenv("JOURNAL_STREAM", env, 1);
		} else {
			unsetenv("JOURNAL_STREAM");
		}
		kh_err("broken");
		kh_log(LOG_INFO, "wrote %d", 1);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	n = pread(fd, out, len - 1, 0);
	ASSERT_LE(0, n);
	out[n] = '\0';
	close(fd);
	unlink(path);
}

TEST(log_priorities_only_to_the_journal)
{
	char out[256];

	log_to_file(_metadata, NULL, true, out, sizeof(out));
	EXPECT_STREQ("<3>kholmesctl: broken\n<6>kholmesctl: wrote 1\n", out);
	log_to_file(_metadata, NULL, false, out, sizeof(out));
	EXPECT_STREQ("kholmesctl: broken\nkholmesctl: wrote 1\n", out);
	/* a stream of the journal's, but not this stderr: plain */
	log_to_file(_metadata, "1:2", false, out, sizeof(out));
	EXPECT_STREQ("kholmesctl: broken\nkholmesctl: wrote 1\n", out);
}

TEST_HARNESS_MAIN
