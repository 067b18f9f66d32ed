// SPDX-License-Identifier: GPL-2.0
/*
 * systemd's readiness protocol (sd_notify(3)), which is one datagram of
 * "KEY=VALUE" lines to the AF_UNIX socket named by $NOTIFY_SOCKET (a
 * leading '@' names an abstract socket). Without the variable, as when
 * not started by systemd, nothing is sent. Written here rather than
 * linked from libsystemd: it is these few lines, and the daemon then runs
 * the same with or without systemd.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"
#include "util.h"

int kh_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len, slen = strlen(state);
	socklen_t alen;
	ssize_t n;
	int fd, err = 0;

	if (!path || !path[0])
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	alen = offsetof(struct sockaddr_un, sun_path) + len +
	       (path[0] == '/');
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n = sendto(fd, state, slen, MSG_NOSIGNAL, (struct sockaddr *)&sa, alen);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != slen)
		err = -EMSGSIZE;
	close(fd);
	return err;
}

/* RELOADING=1 carries the time of the reload, as systemd 253 asks. */
int kh_notify_reloading(void)
{
	char buf[96];

	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
		 kh_now_us());
	return kh_notify(buf);
}
