/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Netlink attributes to records, each nest checked against a policy as the
 * kernel checks what it is sent. Every function returns 0 or -EBADMSG
 * (or -ENOMEM where it copies a string).
 */
#ifndef KHOLMESCTL_DECODE_H
#define KHOLMESCTL_DECODE_H

#include <netlink/genl/genl.h>

#include "record.h"

int kh_decode_status(struct nlmsghdr *nlh, struct kh_status *st);
int kh_decode_config_msg(struct nlmsghdr *nlh, struct kh_config *cfg);
int kh_decode_config(struct nlattr *nest, struct kh_config *cfg);
int kh_decode_rule(struct nlattr *nest, struct kh_rule *rule);
int kh_decode_watch(struct nlattr *nest, struct kh_watch_entry *e);
int kh_decode_proc(struct nlattr *nest, struct kh_proc *p);
int kh_decode_event(struct nlattr *nest, struct kh_event *ev);
int kh_decode_list_entry(struct nlattr *nest, struct kh_capture_sum *sum);
int kh_decode_capture_sum(struct nlattr *nest, struct kh_capture_sum *sum);
int kh_decode_capture(struct nlattr *nest, struct kh_capture *cap);
int kh_decode_capture_id(struct nlmsghdr *nlh, uint64_t *id);

const char *kh_extack_msg(const struct nlmsghdr *nlh, size_t off);
const char *kh_nlerr_extack(const struct nlmsghdr *nlh);

/* Every top-level attribute of a kholmes message, for repeated nests. */
#define kh_for_each_attr(pos, nlh, rem)					\
	nla_for_each_attr(pos, genlmsg_attrdata(nlmsg_data(nlh), 0),	\
			  genlmsg_attrlen(nlmsg_data(nlh), 0), rem)

#endif
