// SPDX-License-Identifier: GPL-2.0
/*
 * sick_fuse DIR: a FUSE file whose server stopped answering. A child
 * serves DIR (mounted here, over a raw /dev/fuse) with one 8 KiB file "f":
 * it answers INIT, LOOKUP, GETATTR, OPEN, FLUSH and RELEASE, and never
 * READ. The parent maps DIR/f at offset 0 and a thread touches it: that
 * thread blocks in the page fault (state D) for as long as the server
 * lives. Says "ready SERVER-PID TOUCHER-TID" once the thread is on its
 * way. Killing the server (the test does) aborts the connection.
 */
#include <linux/fuse.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "wl.h"

#define FILE_SIZE	8192

static char buf[1 << 17];
static volatile char *map;
static volatile int sink;
static volatile pid_t toucher;

static void attr_of(uint64_t ino, struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->mode = ino == FUSE_ROOT_ID ? S_IFDIR | 0755 : S_IFREG | 0644;
	a->nlink = ino == FUSE_ROOT_ID ? 2 : 1;
	a->size = ino == FUSE_ROOT_ID ? 0 : FILE_SIZE;
	a->blocks = a->size / 512;
	a->blksize = 4096;
}

static void reply(int fd, uint64_t unique, int error, const void *body,
		  size_t len)
{
	struct fuse_out_header h = {
		.len = sizeof(h) + len,
		.error = error,
		.unique = unique,
	};
	char out[sizeof(h) + 512];

	memcpy(out, &h, sizeof(h));
	if (len)
		memcpy(out + sizeof(h), body, len);
	if (write(fd, out, h.len) < 0 && errno != ENOENT)
		wl_die("fuse reply");
}

static void serve(int fd)
{
	struct fuse_in_header *in = (void *)buf;
	void *arg = buf + sizeof(*in);
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == ENOENT))
			continue;
		if (n < (ssize_t)sizeof(*in))
			_exit(0);
		switch (in->opcode) {
		case FUSE_INIT: {
			struct fuse_init_in *ii = arg;
			struct fuse_init_out io = {
				.major = FUSE_KERNEL_VERSION,
				.minor = ii->minor < FUSE_KERNEL_MINOR_VERSION ?
					 ii->minor : FUSE_KERNEL_MINOR_VERSION,
				.max_readahead = ii->max_readahead,
				.max_write = 4096,
			};

			reply(fd, in->unique, 0, &io, sizeof(io));
			break;
		}
		case FUSE_LOOKUP: {
			struct fuse_entry_out e = { 0 };

			if (in->nodeid != FUSE_ROOT_ID || strcmp(arg, "f")) {
				reply(fd, in->unique, -ENOENT, NULL, 0);
				break;
			}
			e.nodeid = 2;
			e.generation = 1;
			e.entry_valid = 3600;
			e.attr_valid = 3600;
			attr_of(2, &e.attr);
			reply(fd, in->unique, 0, &e, sizeof(e));
			break;
		}
		case FUSE_GETATTR: {
			struct fuse_attr_out a = { .attr_valid = 3600 };

			attr_of(in->nodeid, &a.attr);
			reply(fd, in->unique, 0, &a, sizeof(a));
			break;
		}
		case FUSE_OPEN: {
			struct fuse_open_out o = { .fh = 1 };

			reply(fd, in->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_READ:
		case FUSE_INTERRUPT:
			break;		/* the sick part: never answered */
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
			break;		/* no reply expected */
		case FUSE_FLUSH:
		case FUSE_RELEASE:
			reply(fd, in->unique, 0, NULL, 0);
			break;
		default:
			reply(fd, in->unique, -ENOSYS, NULL, 0);
			break;
		}
	}
}

static void *touch(void *arg)
{
	(void)arg;
	toucher = syscall(SYS_gettid);
	sink = map[0];		/* blocks: READ is never answered */
	return NULL;
}

int main(int argc, char *argv[])
{
	char opts[128], path[PATH_MAX], line[64];
	pid_t server, parent = getpid();
	pthread_t t;
	int fd, ffd;

	if (argc != 2) {
		fprintf(stderr, "usage: sick_fuse DIR\n");
		return 2;
	}
	fd = open("/dev/fuse", O_RDWR);
	if (fd < 0)
		wl_die("/dev/fuse");
	mkdir(argv[1], 0755);
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0", fd);
	if (mount("khm_sick", argv[1], "fuse", MS_NOSUID | MS_NODEV, opts))
		wl_die("mount fuse");
	server = fork();
	if (server < 0)
		wl_die("fork");
	if (!server) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		serve(fd);
	}
	close(fd);
	snprintf(path, sizeof(path), "%s/f", argv[1]);
	ffd = open(path, O_RDONLY);
	if (ffd < 0)
		wl_die("open fuse file");
	map = mmap(NULL, FILE_SIZE, PROT_READ, MAP_SHARED, ffd, 0);
	if (map == MAP_FAILED)
		wl_die("mmap fuse file");
	if (pthread_create(&t, NULL, touch, NULL))
		wl_die("pthread_create");
	while (!toucher)
		wl_sleep_ms(1);
	snprintf(line, sizeof(line), "ready %d %d", (int)server, (int)toucher);
	wl_say(line);
	wl_hold_forever();
	return 0;
}
