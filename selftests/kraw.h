/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kraw: raw generic netlink helpers for the issue 12 tests (limits_test,
 * storm_test), on top of lib/khm.h's request and attribute helpers: the
 * configuration saved and put back, the watch scope set to pids, a tracked
 * process's values read from GET_PROCS, the queue listed with a chosen
 * receive buffer, and capabilities reduced in a forked child.
 */
#ifndef _KRAW_H
#define _KRAW_H

#include <errno.h>
#include <stdarg.h>
#include <linux/capability.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kholmes.h"
#include "khm.h"

#define KR_FN	static __attribute__((__unused__))

KR_FN long long kr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

KR_FN void kr_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Each message of a reply, checked to fit. */
#define kr_for_each_msg(nlh, buf, len, left)					\
	for (left = (len), nlh = (const struct nlmsghdr *)(buf);		\
	     left >= NLMSG_HDRLEN && nlh->nlmsg_len >= NLMSG_HDRLEN &&		\
	     nlh->nlmsg_len <= left;						\
	     left -= NLMSG_ALIGN(nlh->nlmsg_len) < left ?			\
		     NLMSG_ALIGN(nlh->nlmsg_len) : left,			\
	     nlh = (const struct nlmsghdr *)((const uint8_t *)nlh +		\
					     NLMSG_ALIGN(nlh->nlmsg_len)))

/* Each attribute of @len bytes at @attrs, checked to fit. */
#define kr_for_each_attr(a, attrs, len, off)					\
	for (off = 0; (len) - off >= NLA_HDRLEN &&				\
	     (a = (const struct nlattr *)((const uint8_t *)(attrs) + off),	\
	      a->nla_len >= NLA_HDRLEN && a->nla_len <= (len) - off);		\
	     off += NLA_ALIGN(a->nla_len))

KR_FN const void *kr_payload(const struct nlattr *a)
{
	return (const uint8_t *)a + NLA_HDRLEN;
}

KR_FN size_t kr_plen(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

KR_FN const struct nlattr *kr_nest_find(const struct nlattr *nest, int type)
{
	return khm_nla_find(kr_payload(nest), kr_plen(nest), type);
}

KR_FN uint64_t kr_u64(const struct nlattr *a)
{
	uint64_t v = 0;

	if (a)
		memcpy(&v, kr_payload(a), kr_plen(a) < 8 ? kr_plen(a) : 8);
	return v;
}

/* The kholmes attributes of message nlh, or NULL. */
KR_FN const uint8_t *kr_msg_attrs(const struct nlmsghdr *nlh, uint16_t family,
				  size_t *len)
{
	if (nlh->nlmsg_type != family ||
	    nlh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		return NULL;
	*len = nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	return (const uint8_t *)NLMSG_DATA(nlh) + GENL_HDRLEN;
}

/* Save the configuration: the KHOLMES_A_CONFIG nest of GET_CONFIG. */
struct kr_saved {
	uint8_t cfg[512];
	size_t len;
};

KR_FN int kr_config_save(struct khm_genl *g, struct kr_saved *sv)
{
	const struct nlmsghdr *nlh;
	const struct nlattr *a;
	size_t left, alen;
	const uint8_t *attrs;
	void *raw = NULL;
	size_t len = 0;
	int ret;

	ret = khm_genl_request(g, KHOLMES_CMD_GET_CONFIG, 0, NULL, 0, &raw, &len);
	if (ret)
		return ret;
	sv->len = 0;
	kr_for_each_msg(nlh, raw, len, left) {
		attrs = kr_msg_attrs(nlh, g->family, &alen);
		a = attrs ? khm_nla_find(attrs, alen, KHOLMES_A_CONFIG) : NULL;
		if (a && a->nla_len <= sizeof(sv->cfg)) {
			memcpy(sv->cfg, a, a->nla_len);
			sv->len = NLA_ALIGN(a->nla_len);
		}
	}
	free(raw);
	return sv->len ? 0 : -ENODATA;
}

KR_FN int kr_config_restore(struct khm_genl *g, const struct kr_saved *sv)
{
	return khm_genl_request(g, KHOLMES_CMD_SET_CONFIG, 0, sv->cfg, sv->len,
				NULL, NULL);
}

/*
 * Set configuration members: pairs of (type, value), ended by type 0.
 * The u8 members (enabled, profiles) are sent as u8.
 */
KR_FN int kr_config_set(struct khm_genl *g, ...)
{
	uint8_t buf[512];
	size_t off, nest;
	va_list ap;
	int type;

	nest = khm_nla_nest_start(buf, 0, KHOLMES_A_CONFIG);
	off = nest + NLA_HDRLEN;
	va_start(ap, g);
	while ((type = va_arg(ap, int))) {
		uint32_t v = va_arg(ap, uint32_t);
		uint8_t b = v;

		if (type == KHOLMES_CFG_ENABLED || type == KHOLMES_CFG_PROFILES)
			off = khm_nla_put(buf, off, type, &b, 1);
		else
			off = khm_nla_put(buf, off, type, &v, 4);
	}
	va_end(ap);
	khm_nla_nest_end(buf, nest, off);
	return khm_genl_request(g, KHOLMES_CMD_SET_CONFIG, 0, buf, off, NULL,
				NULL);
}

/* Replace the watch scope with these pids (none: every process). */
KR_FN int kr_watch_pids(struct khm_genl *g, const pid_t *pids, int n)
{
	uint8_t buf[4096];
	size_t off = 0, nest;
	int i;

	off = khm_nla_put(buf, off, KHOLMES_A_REPLACE_WATCH, NULL, 0);
	for (i = 0; i < n; i++) {
		uint32_t p = pids[i];

		nest = khm_nla_nest_start(buf, off, KHOLMES_A_WATCH);
		off = khm_nla_put(buf, nest + NLA_HDRLEN, KHOLMES_WATCH_PID,
				  &p, 4);
		khm_nla_nest_end(buf, nest, off);
	}
	return khm_genl_request(g, KHOLMES_CMD_APPLY, 0, buf, off, NULL, NULL);
}

/* One process of GET_PROCS, as the asking socket's owner sees it. */
struct kr_proc {
	pid_t pid;
	char comm[16];
	uint32_t samples;
	uint64_t value[KHOLMES_NR_METRICS];
	uint32_t have;
};

/* GET_PROCS into procs (at most max); the count, or -errno. */
KR_FN int kr_procs(struct khm_genl *g, struct kr_proc *procs, int max)
{
	const struct nlmsghdr *nlh;
	const struct nlattr *pr, *a, *vals;
	size_t left, alen, off;
	const uint8_t *attrs;
	void *raw = NULL;
	size_t len = 0;
	int n = 0, ret, m;

	ret = khm_genl_request(g, KHOLMES_CMD_GET_PROCS, NLM_F_DUMP, NULL, 0,
			       &raw, &len);
	if (ret)
		return ret;
	kr_for_each_msg(nlh, raw, len, left) {
		struct kr_proc *p;

		attrs = kr_msg_attrs(nlh, g->family, &alen);
		pr = attrs ? khm_nla_find(attrs, alen, KHOLMES_A_PROC) : NULL;
		if (!pr || n == max)
			continue;
		p = &procs[n++];
		memset(p, 0, sizeof(*p));
		a = kr_nest_find(pr, KHOLMES_PROC_PID);
		p->pid = a ? (pid_t)kr_u64(a) : 0;
		a = kr_nest_find(pr, KHOLMES_PROC_COMM);
		if (a)
			snprintf(p->comm, sizeof(p->comm), "%.*s",
				 (int)kr_plen(a), (const char *)kr_payload(a));
		a = kr_nest_find(pr, KHOLMES_PROC_SAMPLES);
		p->samples = a ? (uint32_t)kr_u64(a) : 0;
		vals = kr_nest_find(pr, KHOLMES_PROC_VALUES);
		if (!vals)
			continue;
		kr_for_each_attr(a, kr_payload(vals), kr_plen(vals), off) {
			m = (a->nla_type & NLA_TYPE_MASK) - 1;
			if (m >= 0 && m < KHOLMES_NR_METRICS &&
			    kr_plen(a) == 8) {
				p->value[m] = kr_u64(a);
				p->have |= 1U << m;
			}
		}
	}
	free(raw);
	return n;
}

KR_FN int kr_find_proc(struct khm_genl *g, pid_t pid, struct kr_proc *out)
{
	static struct kr_proc procs[256];
	int n = kr_procs(g, procs, 256), i;

	for (i = 0; i < n; i++)
		if (procs[i].pid == pid) {
			*out = procs[i];
			return 0;
		}
	return n < 0 ? n : -ENOENT;
}

/* Keep only these capabilities (a mask of CAP_* bits below 32). */
KR_FN int kr_caps_only(uint32_t mask)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { { 0 } };

	data[0].effective = data[0].permitted = mask;
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

/*
 * CAPTURE (kind 0) or PROFILE (kind, for seconds) of pid: 0 or -errno,
 * and the id the reply gives.
 */
KR_FN int kr_pid_cmd(struct khm_genl *g, int cmd, pid_t pid, int kind,
		     uint32_t seconds, uint64_t *id)
{
	const struct nlmsghdr *nlh;
	const struct nlattr *a;
	uint8_t buf[64];
	size_t off, left, alen;
	const uint8_t *attrs;
	uint32_t p = pid, k = kind, s = seconds;
	void *raw = NULL;
	size_t len = 0;
	int ret;

	off = khm_nla_put(buf, 0, KHOLMES_A_PID, &p, 4);
	if (kind) {
		off = khm_nla_put(buf, off, KHOLMES_A_PROFILE_KIND, &k, 4);
		off = khm_nla_put(buf, off, KHOLMES_A_PROFILE_S, &s, 4);
	}
	ret = khm_genl_request(g, cmd, 0, buf, off, &raw, &len);
	if (!ret && id) {
		*id = 0;
		kr_for_each_msg(nlh, raw, len, left) {
			attrs = kr_msg_attrs(nlh, g->family, &alen);
			a = attrs ? khm_nla_find(attrs, alen,
						 KHOLMES_A_CAPTURE_ID) : NULL;
			if (a)
				*id = kr_u64(a);
		}
	}
	free(raw);
	return ret;
}

KR_FN int kr_ack(struct khm_genl *g, uint64_t id)
{
	uint8_t buf[16];
	size_t off = khm_nla_put(buf, 0, KHOLMES_A_CAPTURE_ID, &id, 8);

	return khm_genl_request(g, KHOLMES_CMD_ACK_CAPTURE, 0, buf, off, NULL,
				NULL);
}

KR_FN int kr_read_u64(const char *path, unsigned long long *v)
{
	FILE *f = fopen(path, "r");
	int ret;

	if (!f)
		return -errno;
	ret = fscanf(f, "%llu", v) == 1 ? 0 : -EINVAL;
	fclose(f);
	return ret;
}

KR_FN int kr_write_str(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -errno;
	ret = fputs(s, f) < 0 ? -EIO : 0;
	return fclose(f) ? -errno : ret;
}

#endif /* _KRAW_H */
