// SPDX-License-Identifier: GPL-2.0
/*
 * A growable buffer of netlink attributes, written outside any skb: a
 * capture is serialised once, when it is taken, into the record stream
 * that KHOLMES_CMD_GET_CAPTURE later copies out verbatim. The first error
 * sticks, so a writer checks once at the end.
 */
#include <linux/errno.h>
#include <linux/string.h>
#include <net/netlink.h>

#include "khm.h"

void khm_rec_init(struct khm_rec *r, size_t limit)
{
	memset(r, 0, sizeof(*r));
	r->limit = limit;
}

void khm_rec_release(struct khm_rec *r)
{
	khm_free(r->buf, r->cap);
	r->buf = NULL;
	r->cap = 0;
	r->len = 0;
}

static void *khm_rec_reserve(struct khm_rec *r, size_t n)
{
	size_t cap;
	u8 *buf;

	if (r->err)
		return NULL;
	if (n > r->limit || r->len > r->limit - n) {
		r->err = -E2BIG;
		return NULL;
	}
	if (r->len + n > r->cap) {
		cap = max3(r->cap * 2, r->len + n, (size_t)PAGE_SIZE);
		cap = min(cap, r->limit);
		buf = khm_alloc(cap);
		if (!buf) {
			r->err = -ENOMEM;
			return NULL;
		}
		if (r->len)
			memcpy(buf, r->buf, r->len);
		khm_free(r->buf, r->cap);
		r->buf = buf;
		r->cap = cap;
	}
	buf = r->buf + r->len;
	r->len += n;
	return buf;
}

int khm_rec_put(struct khm_rec *r, int type, const void *data, size_t len)
{
	size_t total = nla_total_size(len);
	struct nlattr *nla;

	if (len > U16_MAX - NLA_HDRLEN) {
		r->err = r->err ?: -EMSGSIZE;
		return r->err;
	}
	nla = khm_rec_reserve(r, total);
	if (!nla)
		return r->err;
	nla->nla_type = type;
	nla->nla_len = nla_attr_size(len);
	if (len)
		memcpy(nla_data(nla), data, len);
	memset((u8 *)nla + nla_attr_size(len), 0, total - nla_attr_size(len));
	return 0;
}

int khm_rec_u32(struct khm_rec *r, int type, u32 v)
{
	return khm_rec_put(r, type, &v, sizeof(v));
}

int khm_rec_u64(struct khm_rec *r, int type, u64 v)
{
	return khm_rec_put(r, type, &v, sizeof(v));
}

int khm_rec_str(struct khm_rec *r, int type, const char *s)
{
	return khm_rec_put(r, type, s, strlen(s) + 1);
}

/* Returns the nest's offset for khm_rec_nest_end(). */
size_t khm_rec_nest_start(struct khm_rec *r, int type)
{
	size_t off = r->len;

	khm_rec_put(r, type | NLA_F_NESTED, NULL, 0);
	return off;
}

void khm_rec_nest_end(struct khm_rec *r, size_t off)
{
	struct nlattr *nla;

	if (r->err)
		return;
	if (r->len - off > U16_MAX) {
		r->err = -EMSGSIZE;
		return;
	}
	nla = (struct nlattr *)(r->buf + off);
	nla->nla_len = r->len - off;
}

/* Append another writer's bytes. */
int khm_rec_append(struct khm_rec *r, const struct khm_rec *from)
{
	void *p;

	if (from->err) {
		r->err = r->err ?: from->err;
		return r->err;
	}
	p = khm_rec_reserve(r, from->len);
	if (!p)
		return r->err;
	if (from->len)
		memcpy(p, from->buf, from->len);
	return 0;
}
