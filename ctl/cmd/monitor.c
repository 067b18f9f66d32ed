// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "decode.h"
#include "fmt.h"
#include "nl.h"
#include "out.h"
#include "subcommands.h"

/* A burst of detections must not overflow the socket while we print. */
#define KH_MONITOR_RCVBUF	(1 << 20)

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s [-j|--json] monitor\n", PROG_NAME);
	fprintf(f, "Prints each detection as it happens, one line each, until interrupted.\n");
}

static int event_cb(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct kh_nl *nl = arg;
	struct kh_event ev;
	struct nlattr *a;
	int rem;

	if (nlh->nlmsg_type != nl->family || !genlmsg_valid_hdr(nlh, 0) ||
	    ((struct genlmsghdr *)nlmsg_data(nlh))->cmd != KHOLMES_CMD_DETECTION)
		return NL_SKIP;
	kh_for_each_attr(a, nlh, rem) {
		if (nla_type(a) != KHOLMES_A_EVENT)
			continue;
		if (kh_decode_event(a, &ev)) {
			kh_err("skipping a malformed event");
			continue;
		}
		if (kh_json) {
			kh_json_put(kh_event_json(&ev));
			continue;
		}
		kh_event_text(stdout, &ev);
		fflush(stdout);
	}
	return NL_OK;
}

/* SIGINT and SIGTERM arrive on a descriptor, so poll() sees them race-free. */
static int signal_fd(void)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL))
		return -1;
	return signalfd(-1, &mask, SFD_CLOEXEC);
}

static int receive(struct kh_nl *nl)
{
	int err = nl_recvmsgs_default(nl->sk);

	if (err == -NLE_NOMEM) {
		/* ENOBUFS: the kernel dropped events for this socket */
		kh_err("events lost: the receive buffer overflowed");
		return 0;
	}
	if (err < 0 && err != -NLE_AGAIN) {
		kh_err("reading events: %s", nl_geterror(err));
		return -1;
	}
	return 0;
}

int monitor_main(int argc, char *argv[])
{
	struct kh_parse_err pe;
	struct pollfd pfd[2];
	struct kh_nl nl;
	int ret, err, sfd = -1;

	if (argc > 1 && kh_is_help(argv[1])) {
		usage(stdout);
		return KH_EXIT_OK;
	}
	if (kh_parse_json_only(argc - 1, argv + 1, &kh_json, &pe))
		return kh_usage_fail(usage, &pe);
	ret = kh_nl_connect(&nl);
	if (ret)
		return ret;
	err = kh_nl_subscribe(&nl, KHOLMES_MCGRP_EVENTS);
	if (err) {
		ret = kh_nl_fail(&nl, "subscribing to events", err);
		goto out;
	}
	ret = KH_EXIT_FAIL;
	nl_socket_modify_cb(nl.sk, NL_CB_VALID, NL_CB_CUSTOM, event_cb, &nl);
	nl_socket_set_buffer_size(nl.sk, KH_MONITOR_RCVBUF, 0);
	if (nl_socket_set_nonblocking(nl.sk)) {
		kh_err("subscribing to events: %s", strerror(errno));
		goto out;
	}
	sfd = signal_fd();
	if (sfd < 0) {
		kh_err("catching SIGINT and SIGTERM: %s", strerror(errno));
		goto out;
	}
	pfd[0] = (struct pollfd){ .fd = nl_socket_get_fd(nl.sk), .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			kh_err("waiting for events: %s", strerror(errno));
			goto out;
		}
		if (pfd[1].revents) {
			ret = KH_EXIT_OK;
			goto out;
		}
		if (pfd[0].revents && receive(&nl))
			goto out;
	}
out:
	if (sfd >= 0)
		close(sfd);
	kh_nl_close(&nl);
	return ret;
}
