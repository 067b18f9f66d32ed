/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kholmes generic netlink family through libnl-genl-3: one request and
 * its reply, or a dump, with the kernel's extack message kept for the user.
 */
#ifndef KHOLMESCTL_NL_H
#define KHOLMESCTL_NL_H

#include <stdbool.h>
#include <stdint.h>

#include <netlink/genl/genl.h>

#define KH_NL_MSG_LEN	512

struct kh_nl {
	struct nl_sock *sk;
	int family;
	char msg[KH_NL_MSG_LEN];	/* why the last call failed, if known */
	/* what the kernel's extack pointed at, if anything */
	bool has_err_off;
	uint32_t err_off;		/* bytes from the request's nlmsghdr */
	bool has_err_range;
	uint64_t err_min, err_max;	/* the refused attribute's range */
};

/* Called for each reply message; a negative errno stops the call. */
typedef int (*kh_nl_cb)(struct nlmsghdr *nlh, void *arg);
/* Called before a dump is restarted, to drop what the last try gathered. */
typedef void (*kh_nl_reset)(void *arg);

int kh_nl_connect(struct kh_nl *nl);
void kh_nl_close(struct kh_nl *nl);
struct nl_msg *kh_nl_msg(struct kh_nl *nl, uint8_t cmd, int flags);
/* Puts the attributes of one nest; 0 or a negative error. */
typedef int (*kh_nl_put)(struct nl_msg *msg, const void *arg);
struct nl_msg *kh_nl_nest_msg(struct kh_nl *nl, uint8_t cmd, int nest_type,
			      kh_nl_put put, const void *arg);
int kh_nl_call(struct kh_nl *nl, struct nl_msg *msg, kh_nl_cb cb, void *arg);
int kh_nl_dump(struct kh_nl *nl, uint8_t cmd, kh_nl_cb cb, kh_nl_reset reset,
	       void *arg);
int kh_nl_dump_u64(struct kh_nl *nl, uint8_t cmd, int attr, uint64_t val,
		   kh_nl_cb cb, kh_nl_reset reset, void *arg);
int kh_nl_subscribe(struct kh_nl *nl, const char *group);
int kh_nl_fail(const struct kh_nl *nl, const char *what, int err);
int kh_nl_request(uint8_t cmd, kh_nl_cb cb, void *arg, const char *what);

#endif
