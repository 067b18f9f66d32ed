// SPDX-License-Identifier: GPL-2.0
/*
 * The capture queue. A capture stays until the controller acknowledges its
 * id, having written it durably, or until the queue is full (in count or
 * bytes) and it is the oldest: then it is dropped and counted. Nothing
 * leaves the queue silently.
 *
 * Each capture holds its record stream already serialised, so reading one
 * out is copying bytes from an offset: a resumed dump looks the capture up
 * by id again and continues, and a capture acknowledged or dropped in
 * between ends the dump with -ENOENT.
 *
 * Ids are taken when a capture or a profile is asked for, but a profile is
 * queued when it ends: the queue is in push order, not id order. Each push
 * gets a sequence number, and a list dump resumes by it.
 *
 * Once pushed, a capture belongs to the queue, and an ACK or an eviction
 * may free it at any moment: its CAPTURE_READY event is built before it is
 * published and sent after, from a copy.
 */
#include <linux/list.h>
#include <linux/mutex.h>
#include <net/genetlink.h>

#include "khm.h"

static LIST_HEAD(khm_queue);
static DEFINE_MUTEX(khm_qlock);
static struct khm_queue_stats khm_qstats;
static u64 khm_qseq;

/*
 * What a queued capture holds: its two buffers, whose capacity never
 * exceeds their limit, and itself.
 */
static size_t khm_capture_bytes(const struct khm_capture *c)
{
	return c->sum.cap + c->body.cap + sizeof(*c);
}

/*
 * The limit for a capture's record stream (c->body) under a queue limit of
 * max_bytes, so that the capture it ends in, summary (at most
 * KHOLMES_RECORD_MAX) and bookkeeping included, is never refused for its
 * size: cut the stream here, not at max_bytes. max_bytes is at least
 * KHOLMES_MAX_QUEUE_KB_MIN KiB, far above the overhead.
 */
u64 khm_queue_room(u64 max_bytes)
{
	u64 over = sizeof(struct khm_capture) + KHOLMES_RECORD_MAX;

	return max_bytes > over ? max_bytes - over : 0;
}

void khm_capture_free(struct khm_capture *c)
{
	if (!c)
		return;
	khm_rec_release(&c->sum);
	khm_rec_release(&c->body);
	khm_free(c, sizeof(*c));
}

static void khm_queue_unlink(struct khm_capture *c)
{
	list_del(&c->node);
	khm_qstats.len--;
	khm_qstats.bytes -= khm_capture_bytes(c);
	khm_capture_free(c);
}

/*
 * Queue a finished capture, dropping the oldest to make room, and tell the
 * listeners. Takes ownership of c. Returns -E2BIG (and frees it) if it
 * alone exceeds the byte limit.
 */
int khm_queue_push(struct khm_capture *c, u32 max_count, u64 max_bytes,
		   u64 duration_ns)
{
	size_t bytes = khm_capture_bytes(c);
	struct khm_capture *old;
	struct sk_buff *event;

	/* c is still ours: nothing can free it while the event is built */
	event = khm_capture_event(&c->sum);
	mutex_lock(&khm_qlock);
	if (bytes > max_bytes) {
		khm_qstats.failed++;
		mutex_unlock(&khm_qlock);
		khm_capture_free(c);
		khm_event_drop(event);
		return -E2BIG;
	}
	while (khm_qstats.len &&
	       (khm_qstats.len >= max_count ||
		khm_qstats.bytes + bytes > max_bytes)) {
		old = list_first_entry(&khm_queue, struct khm_capture, node);
		khm_queue_unlink(old);
		khm_qstats.dropped++;
	}
	c->seq = ++khm_qseq;
	list_add_tail(&c->node, &khm_queue);
	khm_qstats.len++;
	khm_qstats.bytes += bytes;
	khm_qstats.captures++;
	khm_qstats.last_ns = duration_ns;
	khm_qstats.max_ns = max(khm_qstats.max_ns, duration_ns);
	mutex_unlock(&khm_qlock);
	/* from here on c may be gone: the event is a copy */
	khm_event_send(event);
	return 0;
}

void khm_queue_count(enum khm_qcount what)
{
	mutex_lock(&khm_qlock);
	if (what == KHM_QCOUNT_FAILED)
		khm_qstats.failed++;
	else
		khm_qstats.limited++;
	mutex_unlock(&khm_qlock);
}

void khm_queue_stats(struct khm_queue_stats *s)
{
	mutex_lock(&khm_qlock);
	*s = khm_qstats;
	mutex_unlock(&khm_qlock);
}

static struct khm_capture *khm_queue_find(u64 id)
{
	struct khm_capture *c;

	list_for_each_entry(c, &khm_queue, node)
		if (c->id == id)
			return c;
	return NULL;
}

int khm_queue_ack(u64 id)
{
	struct khm_capture *c;
	int ret = -ENOENT;

	mutex_lock(&khm_qlock);
	c = khm_queue_find(id);
	if (c) {
		khm_queue_unlink(c);
		ret = 0;
	}
	mutex_unlock(&khm_qlock);
	return ret;
}

/* Copy whole records from buf[*off..len) while they fit in skb. */
static int khm_copy_records(struct sk_buff *skb, const struct khm_rec *r,
			    size_t *off)
{
	const struct nlattr *nla;
	int copied = 0;
	size_t n;

	while (*off < r->len) {
		nla = (const struct nlattr *)(r->buf + *off);
		n = NLA_ALIGN(nla->nla_len);
		if (skb_tailroom(skb) < n)
			break;
		skb_put_data(skb, nla, n);
		*off += n;
		copied++;
	}
	return copied;
}

/*
 * Copy the next records of capture `id` from *off into skb. Returns the
 * number copied (0 when the stream is done), -ENOENT when the capture is
 * gone, -EMSGSIZE when not even one record fits.
 */
int khm_queue_read(u64 id, size_t *off, struct sk_buff *skb)
{
	struct khm_capture *c;
	int ret;

	mutex_lock(&khm_qlock);
	c = khm_queue_find(id);
	if (!c) {
		ret = -ENOENT;
	} else if (*off >= c->body.len) {
		ret = 0;
	} else {
		ret = khm_copy_records(skb, &c->body, off);
		if (!ret)
			ret = -EMSGSIZE;
	}
	mutex_unlock(&khm_qlock);
	return ret;
}

/*
 * The summary of the first queued capture pushed at or after sequence
 * number *seq, put into skb; *seq is set past it. The queue is in push
 * order, so a resumed dump neither skips a profile whose (older) id is
 * below those already sent nor repeats one. Returns 1 when one was put, 0
 * when there are no more, -EMSGSIZE when it does not fit.
 */
int khm_queue_summary(u64 *seq, struct sk_buff *skb)
{
	struct khm_capture *c;
	size_t off = 0;
	int ret = 0;

	mutex_lock(&khm_qlock);
	list_for_each_entry(c, &khm_queue, node) {
		if (c->seq < *seq)
			continue;
		if (!khm_copy_records(skb, &c->sum, &off)) {
			ret = -EMSGSIZE;
			break;
		}
		*seq = c->seq + 1;
		ret = 1;
		break;
	}
	mutex_unlock(&khm_qlock);
	return ret;
}

void khm_queue_uninit(void)
{
	struct khm_capture *c, *tmp;

	mutex_lock(&khm_qlock);
	list_for_each_entry_safe(c, tmp, &khm_queue, node)
		khm_queue_unlink(c);
	mutex_unlock(&khm_qlock);
}
