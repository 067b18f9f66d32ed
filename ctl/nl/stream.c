// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "stream.h"
#include "util.h"

static const struct nla_policy map_policy[KHOLMES_MAP_MAX + 1] = {
	[KHOLMES_MAP_START]	= { .type = NLA_U64 },
	[KHOLMES_MAP_END]	= { .type = NLA_U64 },
	[KHOLMES_MAP_PGOFF]	= { .type = NLA_U64 },
	[KHOLMES_MAP_PROT]	= { .type = NLA_U32 },
	[KHOLMES_MAP_INODE]	= { .type = NLA_U64 },
	[KHOLMES_MAP_DEV]	= { .type = NLA_U32 },
	[KHOLMES_MAP_PATH]	= { .type = NLA_STRING },
	[KHOLMES_MAP_BUILD_ID]	= { .type = NLA_UNSPEC },
};

static const struct nla_policy thread_policy[KHOLMES_THREAD_MAX + 1] = {
	[KHOLMES_THREAD_TID]		= { .type = NLA_U32 },
	[KHOLMES_THREAD_COMM]		= { .type = NLA_STRING,
					    .maxlen = KHOLMES_COMM_LEN },
	[KHOLMES_THREAD_STATE]		= { .type = NLA_U8 },
	[KHOLMES_THREAD_FLAGS]		= { .type = NLA_U32 },
	[KHOLMES_THREAD_UFRAMES]	= { .type = NLA_UNSPEC },
	[KHOLMES_THREAD_UREGS]		= { .type = NLA_UNSPEC },
	[KHOLMES_THREAD_USTACK_SP]	= { .type = NLA_U64 },
	[KHOLMES_THREAD_USTACK_LEN]	= { .type = NLA_U32 },
	[KHOLMES_THREAD_CPU]		= { .type = NLA_U32 },
};

/* FRAME repeats: the parse checks every one, then we walk them in order. */
static const struct nla_policy kstack_policy[KHOLMES_KSTACK_MAX + 1] = {
	[KHOLMES_KSTACK_TID]	= { .type = NLA_U32 },
	[KHOLMES_KSTACK_FIRST]	= { .type = NLA_U32 },
	[KHOLMES_KSTACK_FRAME]	= { .type = NLA_STRING },
};

static const struct nla_policy ustack_policy[KHOLMES_USTACK_MAX + 1] = {
	[KHOLMES_USTACK_TID]	= { .type = NLA_U32 },
	[KHOLMES_USTACK_OFFSET]	= { .type = NLA_U32 },
	[KHOLMES_USTACK_DATA]	= { .type = NLA_UNSPEC,
				    .maxlen = KHOLMES_RECORD_MAX },
};

static const struct nla_policy profile_policy[KHOLMES_PROFILE_MAX + 1] = {
	[KHOLMES_PROFILE_KIND]		 = { .type = NLA_U32 },
	[KHOLMES_PROFILE_FLAGS]		 = { .type = NLA_U32 },
	[KHOLMES_PROFILE_HZ]		 = { .type = NLA_U32 },
	[KHOLMES_PROFILE_PERIOD]	 = { .type = NLA_U64 },
	[KHOLMES_PROFILE_SECONDS]	 = { .type = NLA_U32 },
	[KHOLMES_PROFILE_DURATION_NS]	 = { .type = NLA_U64 },
	[KHOLMES_PROFILE_SAMPLES]	 = { .type = NLA_U64 },
	[KHOLMES_PROFILE_LOST]		 = { .type = NLA_U64 },
	[KHOLMES_PROFILE_STACKS]	 = { .type = NLA_U32 },
	[KHOLMES_PROFILE_START_RSS_ANON] = { .type = NLA_U64 },
	[KHOLMES_PROFILE_START_RSS_FILE] = { .type = NLA_U64 },
	[KHOLMES_PROFILE_START_VM]	 = { .type = NLA_U64 },
	[KHOLMES_PROFILE_END_RSS_ANON]	 = { .type = NLA_U64 },
	[KHOLMES_PROFILE_END_RSS_FILE]	 = { .type = NLA_U64 },
};

static const struct nla_policy pstack_policy[KHOLMES_PSTACK_MAX + 1] = {
	[KHOLMES_PSTACK_COUNT]		= { .type = NLA_U32 },
	[KHOLMES_PSTACK_UFRAMES]	= { .type = NLA_UNSPEC },
	[KHOLMES_PSTACK_KFRAME]		= { .type = NLA_STRING },
	[KHOLMES_PSTACK_ID]		= { .type = NLA_U32 },
	[KHOLMES_PSTACK_AGO_NS]		= { .type = NLA_U64 },
	[KHOLMES_PSTACK_TID]		= { .type = NLA_U32 },
	[KHOLMES_PSTACK_PID]		= { .type = NLA_U32 },
	[KHOLMES_PSTACK_COMM]		= { .type = NLA_STRING },
};

static const struct nla_policy psample_policy[KHOLMES_PSAMPLE_MAX + 1] = {
	[KHOLMES_PSAMPLE_STACK]		= { .type = NLA_U32 },
	[KHOLMES_PSAMPLE_UREGS]		= { .type = NLA_UNSPEC },
	[KHOLMES_PSAMPLE_SP]		= { .type = NLA_U64 },
	[KHOLMES_PSAMPLE_LEN]		= { .type = NLA_U32 },
};

static const struct nla_policy consumer_policy[KHOLMES_CONSUMER_MAX + 1] = {
	[KHOLMES_CONSUMER_PID]		= { .type = NLA_U32 },
	[KHOLMES_CONSUMER_COMM]		= { .type = NLA_STRING },
	[KHOLMES_CONSUMER_CPU]		= { .type = NLA_U64 },
	[KHOLMES_CONSUMER_CGROUP]	= { .type = NLA_STRING },
};

void kh_stream_init(struct kh_stream *s, struct kh_capture *cap, uint64_t id)
{
	memset(s, 0, sizeof(*s));
	memset(cap, 0, sizeof(*cap));
	s->cap = cap;
	s->id = id;
	s->cur = -1;
}

/* A dump that the kernel restarted: forget what the last try gathered. */
void kh_stream_reset(struct kh_stream *s)
{
	kh_capture_free(s->cap);
	kh_stream_init(s, s->cap, s->id);
}

static void ustack_free(struct kh_ustack *us)
{
	size_t i;

	for (i = 0; i < us->n; i++) {
		free(us->f[i].func);
		free(us->f[i].sys_name);
	}
	free(us->f);
	memset(us, 0, sizeof(*us));
}

static void pstack_free(struct kh_pstack *ps)
{
	size_t j;

	for (j = 0; j < ps->nr_kframes; j++)
		free(ps->kframes[j]);
	free(ps->kframes);
	free(ps->upcs);
	ustack_free(&ps->user);
}

static void profile_free(struct kh_profile *p)
{
	size_t i;

	for (i = 0; i < p->nr_pstacks; i++)
		pstack_free(&p->pstacks[i]);
	free(p->pstacks);
	for (i = 0; i < p->nr_psamples; i++)
		free(p->psamples[i].data);
	free(p->psamples);
}

void kh_capture_free(struct kh_capture *cap)
{
	size_t i, j;

	if (!cap)
		return;
	profile_free(&cap->prof);
	profile_free(&cap->before);
	profile_free(&cap->host);
	for (i = 0; i < cap->nr_consumers; i++)
		free(cap->consumers[i].cgroup);
	free(cap->consumers);
	for (i = 0; i < cap->nr_maps; i++)
		free(cap->maps[i].path);
	for (i = 0; i < cap->nr_threads; i++) {
		struct kh_thread *t = &cap->threads[i];

		for (j = 0; j < t->nr_kframes; j++)
			free(t->kframes[j]);
		free(t->kframes);
		free(t->uframes);
		free(t->ustack);
		ustack_free(&t->dwarf);
		ustack_free(&t->fp);
	}
	free(cap->maps);
	free(cap->threads);
	free(cap->exe);
	free(cap->cgroup);
	memset(cap, 0, sizeof(*cap));
}

/* Counts a refused record; the first reason is kept for the report. */
static int __attribute__((format(printf, 2, 3)))
refuse(struct kh_stream *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->cap->bad_records++) {
		va_start(ap, fmt);
		vsnprintf(s->cap->bad_why, sizeof(s->cap->bad_why), fmt, ap);
		va_end(ap);
	}
	return 0;
}

static int nomem(struct kh_stream *s)
{
	s->err = -ENOMEM;
	return -ENOMEM;
}

/*
 * Grows *p, which holds n elements of size sz, to hold one more. Capacity
 * is implied by n (8, then powers of two), so no field keeps it.
 */
static int grow(void *p, size_t n, size_t sz)
{
	return kh_grow_implied(p, n, sz);
}

static int on_capture(struct kh_stream *s, struct nlattr *a)
{
	int ret;

	if (s->have_capture)
		return refuse(s, "a second capture record");
	ret = kh_decode_capture(a, s->cap);
	if (ret == -ENOMEM)
		return nomem(s);
	if (ret)
		return refuse(s, "a malformed capture record");
	if (s->cap->sum.id != s->id) {
		s->err = -EBADMSG;
		return refuse(s, "capture record of id %llu, not %llu",
			      (unsigned long long)s->cap->sum.id,
			      (unsigned long long)s->id);
	}
	s->have_capture = true;
	return 0;
}

static int on_mapping(struct kh_stream *s, struct nlattr *a)
{
	struct nlattr *tb[KHOLMES_MAP_MAX + 1];
	struct kh_capture *cap = s->cap;
	struct kh_mapping *m;
	struct nlattr *id;
	const char *path;

	if (nla_parse_nested(tb, KHOLMES_MAP_MAX, a, map_policy) ||
	    !tb[KHOLMES_MAP_START] || !tb[KHOLMES_MAP_END])
		return refuse(s, "a malformed mapping record");
	if (nla_get_u64(tb[KHOLMES_MAP_START]) >= nla_get_u64(tb[KHOLMES_MAP_END]))
		return refuse(s, "a mapping that ends before it starts");
	if (cap->nr_maps >= KH_MAX_MAPS)
		return refuse(s, "more than %d mappings", KH_MAX_MAPS);
	if (grow(&cap->maps, cap->nr_maps, sizeof(*cap->maps)))
		return nomem(s);
	m = &cap->maps[cap->nr_maps];
	memset(m, 0, sizeof(*m));
	m->start = nla_get_u64(tb[KHOLMES_MAP_START]);
	m->end = nla_get_u64(tb[KHOLMES_MAP_END]);
	if (tb[KHOLMES_MAP_PGOFF])
		m->pgoff = nla_get_u64(tb[KHOLMES_MAP_PGOFF]);
	if (tb[KHOLMES_MAP_PROT])
		m->prot = nla_get_u32(tb[KHOLMES_MAP_PROT]);
	if (tb[KHOLMES_MAP_INODE])
		m->inode = nla_get_u64(tb[KHOLMES_MAP_INODE]);
	if (tb[KHOLMES_MAP_DEV])
		m->dev = nla_get_u32(tb[KHOLMES_MAP_DEV]);
	path = tb[KHOLMES_MAP_PATH] ? nla_get_string(tb[KHOLMES_MAP_PATH]) : "";
	m->path = strdup(path);
	if (!m->path)
		return nomem(s);
	id = tb[KHOLMES_MAP_BUILD_ID];
	if (id && nla_len(id) > 0 && nla_len(id) <= KHOLMES_BUILD_ID_MAX) {
		memcpy(m->build_id, nla_data(id), nla_len(id));
		m->build_id_len = nla_len(id);
	} else if (id) {
		refuse(s, "a build-id of %d bytes", nla_len(id));
	}
	cap->nr_maps++;
	return 0;
}

static int thread_user(struct kh_stream *s, struct kh_thread *t,
		       struct nlattr **tb)
{
	struct nlattr *a;
	size_t n;

	a = tb[KHOLMES_THREAD_UFRAMES];
	if (a) {
		n = nla_len(a) / sizeof(uint64_t);
		if (nla_len(a) % sizeof(uint64_t) || n > KH_MAX_UFRAMES) {
			refuse(s, "thread %u: a frame list of %d bytes", t->tid,
			       nla_len(a));
		} else if (n) {
			t->uframes = malloc(n * sizeof(uint64_t));
			if (!t->uframes)
				return nomem(s);
			memcpy(t->uframes, nla_data(a), n * sizeof(uint64_t));
			t->nr_uframes = n;
		}
	}
	a = tb[KHOLMES_THREAD_UREGS];
	if (a && nla_len(a) == sizeof(t->uregs)) {
		memcpy(t->uregs, nla_data(a), sizeof(t->uregs));
		t->has_uregs = true;
	} else if (a) {
		refuse(s, "thread %u: registers of %d bytes", t->tid, nla_len(a));
	}
	if (tb[KHOLMES_THREAD_USTACK_SP])
		t->ustack_sp = nla_get_u64(tb[KHOLMES_THREAD_USTACK_SP]);
	if (!tb[KHOLMES_THREAD_USTACK_LEN])
		return 0;
	n = nla_get_u32(tb[KHOLMES_THREAD_USTACK_LEN]);
	if (n > KH_MAX_USTACK || !tb[KHOLMES_THREAD_USTACK_SP] ||
	    t->ustack_sp + n < t->ustack_sp)
		return refuse(s, "thread %u: a stack copy of %zu bytes", t->tid,
			      n);
	if (!n)
		return 0;
	t->ustack = calloc(1, n);
	if (!t->ustack)
		return nomem(s);
	t->ustack_len = n;
	return 0;
}

static int on_thread(struct kh_stream *s, struct nlattr *a)
{
	struct nlattr *tb[KHOLMES_THREAD_MAX + 1];
	struct kh_capture *cap = s->cap;
	struct kh_thread *t;

	if (nla_parse_nested(tb, KHOLMES_THREAD_MAX, a, thread_policy) ||
	    !tb[KHOLMES_THREAD_TID]) {
		s->cur = -1;
		return refuse(s, "a malformed thread record");
	}
	if (cap->nr_threads >= KHOLMES_MAX_THREADS_MAX) {
		s->cur = -1;
		return refuse(s, "more than %d threads", KHOLMES_MAX_THREADS_MAX);
	}
	if (grow(&cap->threads, cap->nr_threads,
		 sizeof(*cap->threads)))
		return nomem(s);
	t = &cap->threads[cap->nr_threads];
	memset(t, 0, sizeof(*t));
	t->tid = nla_get_u32(tb[KHOLMES_THREAD_TID]);
	if (tb[KHOLMES_THREAD_COMM])
		snprintf(t->comm, sizeof(t->comm), "%s",
			 nla_get_string(tb[KHOLMES_THREAD_COMM]));
	t->state = tb[KHOLMES_THREAD_STATE] ?
		   (char)nla_get_u8(tb[KHOLMES_THREAD_STATE]) : '?';
	if (tb[KHOLMES_THREAD_FLAGS])
		t->flags = nla_get_u32(tb[KHOLMES_THREAD_FLAGS]);
	t->has_cpu = tb[KHOLMES_THREAD_CPU];
	if (t->has_cpu)
		t->cpu = nla_get_u32(tb[KHOLMES_THREAD_CPU]);
	cap->nr_threads++;
	s->cur = cap->nr_threads - 1;
	return thread_user(s, t, tb);
}

/* Records follow their thread; one naming another thread is looked up. */
static struct kh_thread *thread_of(struct kh_stream *s, struct nlattr *tid)
{
	struct kh_capture *cap = s->cap;
	uint32_t want;
	size_t i;

	if (!tid)
		return s->cur >= 0 ? &cap->threads[s->cur] : NULL;
	want = nla_get_u32(tid);
	if (s->cur >= 0 && cap->threads[s->cur].tid == want)
		return &cap->threads[s->cur];
	for (i = cap->nr_threads; i-- > 0;)
		if (cap->threads[i].tid == want)
			return &cap->threads[i];
	return NULL;
}

static int on_kstack(struct kh_stream *s, struct nlattr *a)
{
	struct nlattr *tb[KHOLMES_KSTACK_MAX + 1];
	struct kh_thread *t;
	struct nlattr *f;
	uint32_t first, idx;
	char *frame;
	int rem;

	if (nla_parse_nested(tb, KHOLMES_KSTACK_MAX, a, kstack_policy))
		return refuse(s, "a malformed kernel stack record");
	t = thread_of(s, tb[KHOLMES_KSTACK_TID]);
	if (!t)
		return refuse(s, "a kernel stack record of no thread");
	first = tb[KHOLMES_KSTACK_FIRST] ? nla_get_u32(tb[KHOLMES_KSTACK_FIRST]) :
					   t->nr_kframes;
	if (first > t->nr_kframes)
		t->kframes_gap = true;
	idx = first;
	nla_for_each_nested(f, a, rem) {
		if (nla_type(f) != KHOLMES_KSTACK_FRAME)
			continue;
		/* a repeated record: frames we have already */
		if (idx++ < t->nr_kframes)
			continue;
		if (t->nr_kframes >= KH_MAX_KFRAMES)
			return refuse(s, "thread %u: more than %d kernel frames",
				      t->tid, KH_MAX_KFRAMES);
		if (grow(&t->kframes, t->nr_kframes,
			 sizeof(*t->kframes)))
			return nomem(s);
		frame = strdup(nla_get_string(f));
		if (!frame)
			return nomem(s);
		t->kframes[t->nr_kframes++] = frame;
	}
	return 0;
}

static int on_ustack(struct kh_stream *s, struct nlattr *a)
{
	struct nlattr *tb[KHOLMES_USTACK_MAX + 1];
	struct kh_thread *t;
	uint32_t off, len;

	if (nla_parse_nested(tb, KHOLMES_USTACK_MAX, a, ustack_policy) ||
	    !tb[KHOLMES_USTACK_DATA])
		return refuse(s, "a malformed user stack record");
	t = thread_of(s, tb[KHOLMES_USTACK_TID]);
	if (!t)
		return refuse(s, "a user stack record of no thread");
	off = tb[KHOLMES_USTACK_OFFSET] ? nla_get_u32(tb[KHOLMES_USTACK_OFFSET]) :
					  t->ustack_valid;
	len = nla_len(tb[KHOLMES_USTACK_DATA]);
	if (!t->ustack || off > t->ustack_len || len > t->ustack_len - off)
		return refuse(s, "thread %u: stack bytes %u..%u of %u", t->tid,
			      off, off + len, t->ustack_len);
	memcpy(t->ustack + off, nla_data(tb[KHOLMES_USTACK_DATA]), len);
	/* only the part contiguous from sp can be unwound */
	if (off <= t->ustack_valid && off + len > t->ustack_valid)
		t->ustack_valid = off + len;
	return 0;
}

/* The profile the last profile record opened: stacks and samples go there. */
static struct kh_profile *cur_prof(struct kh_stream *s)
{
	return s->prof ? s->prof : &s->cap->prof;
}

static int on_profile(struct kh_stream *s, struct nlattr *a)
{
	struct nlattr *tb[KHOLMES_PROFILE_MAX + 1];
	struct kh_profile *p;
	uint32_t kind;

	if (nla_parse_nested(tb, KHOLMES_PROFILE_MAX, a, profile_policy) ||
	    !tb[KHOLMES_PROFILE_KIND])
		return refuse(s, "a malformed profile record");
	kind = nla_get_u32(tb[KHOLMES_PROFILE_KIND]);
	p = kind == KHOLMES_PROFILE_BEFORE ? &s->cap->before :
	    kind == KHOLMES_PROFILE_HOST ? &s->cap->host : &s->cap->prof;
	if (p->present)
		return refuse(s, "a second profile record");
	s->prof = p;
	p->present = true;
	p->kind = nla_get_u32(tb[KHOLMES_PROFILE_KIND]);
#define GET(field, attr, type)						\
	do {								\
		if (tb[attr])						\
			p->field = nla_get_##type(tb[attr]);		\
	} while (0)
	GET(flags, KHOLMES_PROFILE_FLAGS, u32);
	GET(hz, KHOLMES_PROFILE_HZ, u32);
	GET(period, KHOLMES_PROFILE_PERIOD, u64);
	GET(seconds, KHOLMES_PROFILE_SECONDS, u32);
	GET(duration_ns, KHOLMES_PROFILE_DURATION_NS, u64);
	GET(samples, KHOLMES_PROFILE_SAMPLES, u64);
	GET(lost, KHOLMES_PROFILE_LOST, u64);
	GET(stacks, KHOLMES_PROFILE_STACKS, u32);
	GET(start_rss_anon, KHOLMES_PROFILE_START_RSS_ANON, u64);
	GET(start_rss_file, KHOLMES_PROFILE_START_RSS_FILE, u64);
	GET(start_vm, KHOLMES_PROFILE_START_VM, u64);
	GET(copy_bytes, KHOLMES_PROFILE_COPY_BYTES, u32);
	GET(copies, KHOLMES_PROFILE_COPIES, u64);
	GET(copies_lost, KHOLMES_PROFILE_COPIES_LOST, u64);
	GET(end_rss_anon, KHOLMES_PROFILE_END_RSS_ANON, u64);
	GET(end_rss_file, KHOLMES_PROFILE_END_RSS_FILE, u64);
#undef GET
	p->has_end_rss = tb[KHOLMES_PROFILE_END_RSS_ANON] &&
			 tb[KHOLMES_PROFILE_END_RSS_FILE];
	return 0;
}

static int on_pstack(struct kh_stream *s, struct nlattr *a)
{
	struct nlattr *tb[KHOLMES_PSTACK_MAX + 1];
	struct kh_profile *p = cur_prof(s);
	struct kh_pstack *ps;
	struct nlattr *f, *u;
	char *frame;
	size_t n;
	int rem;

	if (nla_parse_nested(tb, KHOLMES_PSTACK_MAX, a, pstack_policy) ||
	    !tb[KHOLMES_PSTACK_COUNT])
		return refuse(s, "a malformed profile stack record");
	u = tb[KHOLMES_PSTACK_UFRAMES];
	n = u ? nla_len(u) / sizeof(uint64_t) : 0;
	if (u && (nla_len(u) % sizeof(uint64_t) || n > KH_MAX_UFRAMES))
		return refuse(s, "a profile stack of %d bytes of user frames",
			      nla_len(u));
	if (p->nr_pstacks >= KH_MAX_PSTACKS)
		return refuse(s, "more than %d profile stacks", KH_MAX_PSTACKS);
	if (grow(&p->pstacks, p->nr_pstacks, sizeof(*p->pstacks)))
		return nomem(s);
	ps = &p->pstacks[p->nr_pstacks++];
	p->received++;
	memset(ps, 0, sizeof(*ps));
	ps->count = nla_get_u32(tb[KHOLMES_PSTACK_COUNT]);
	ps->has_id = tb[KHOLMES_PSTACK_ID];
	if (ps->has_id)
		ps->id = nla_get_u32(tb[KHOLMES_PSTACK_ID]);
	ps->has_ago = tb[KHOLMES_PSTACK_AGO_NS];
	if (ps->has_ago)
		ps->ago_ns = nla_get_u64(tb[KHOLMES_PSTACK_AGO_NS]);
	if (tb[KHOLMES_PSTACK_TID])
		ps->tid = nla_get_u32(tb[KHOLMES_PSTACK_TID]);
	if (tb[KHOLMES_PSTACK_PID])
		ps->pid = nla_get_u32(tb[KHOLMES_PSTACK_PID]);
	if (tb[KHOLMES_PSTACK_COMM])
		snprintf(ps->comm, sizeof(ps->comm), "%s",
			 nla_get_string(tb[KHOLMES_PSTACK_COMM]));
	if (n) {
		ps->upcs = malloc(n * sizeof(uint64_t));
		if (!ps->upcs)
			return nomem(s);
		memcpy(ps->upcs, nla_data(u), n * sizeof(uint64_t));
		ps->nr_upcs = n;
	}
	nla_for_each_nested(f, a, rem) {
		if (nla_type(f) != KHOLMES_PSTACK_KFRAME)
			continue;
		if (ps->nr_kframes >= KH_MAX_KFRAMES)
			return refuse(s, "a profile stack of more than %d kernel frames",
				      KH_MAX_KFRAMES);
		if (grow(&ps->kframes, ps->nr_kframes,
			 sizeof(*ps->kframes)))
			return nomem(s);
		frame = strdup(nla_get_string(f));
		if (!frame)
			return nomem(s);
		ps->kframes[ps->nr_kframes++] = frame;
	}
	return 0;
}

/* A sample with a stack copy; its bytes follow in PSAMPLE_STACK records. */
static int on_psample(struct kh_stream *s, struct nlattr *a)
{
	struct nlattr *tb[KHOLMES_PSAMPLE_MAX + 1];
	struct kh_profile *p = cur_prof(s);
	struct kh_psample *ps;
	struct nlattr *r;
	uint32_t len;

	if (nla_parse_nested(tb, KHOLMES_PSAMPLE_MAX, a, psample_policy) ||
	    !tb[KHOLMES_PSAMPLE_STACK] || !tb[KHOLMES_PSAMPLE_SP] ||
	    !tb[KHOLMES_PSAMPLE_LEN])
		return refuse(s, "a malformed profile sample record");
	r = tb[KHOLMES_PSAMPLE_UREGS];
	len = nla_get_u32(tb[KHOLMES_PSAMPLE_LEN]);
	if (!r || nla_len(r) != sizeof(ps->uregs))
		return refuse(s, "a profile sample without its registers");
	if (len > KH_MAX_USTACK ||
	    nla_get_u64(tb[KHOLMES_PSAMPLE_SP]) + len <
	    nla_get_u64(tb[KHOLMES_PSAMPLE_SP]))
		return refuse(s, "a profile sample of %u stack bytes", len);
	if (p->nr_psamples >= KH_MAX_PSAMPLES)
		return refuse(s, "more than %d profile samples", KH_MAX_PSAMPLES);
	if (grow((void **)&p->psamples, p->nr_psamples, sizeof(*p->psamples)))
		return nomem(s);
	ps = &p->psamples[p->nr_psamples];
	memset(ps, 0, sizeof(*ps));
	ps->stack = nla_get_u32(tb[KHOLMES_PSAMPLE_STACK]);
	memcpy(ps->uregs, nla_data(r), sizeof(ps->uregs));
	ps->has_uregs = true;
	ps->sp = nla_get_u64(tb[KHOLMES_PSAMPLE_SP]);
	ps->len = len;
	if (len) {
		ps->data = calloc(1, len);
		if (!ps->data)
			return nomem(s);
	}
	p->nr_psamples++;
	return 0;
}

static int on_psample_stack(struct kh_stream *s, struct nlattr *a)
{
	struct nlattr *tb[KHOLMES_USTACK_MAX + 1];
	struct kh_profile *p = cur_prof(s);
	struct kh_psample *ps;
	uint32_t off, len;

	if (nla_parse_nested(tb, KHOLMES_USTACK_MAX, a, ustack_policy) ||
	    !tb[KHOLMES_USTACK_DATA] || !tb[KHOLMES_USTACK_OFFSET])
		return refuse(s, "a malformed profile sample stack record");
	if (!p->nr_psamples)
		return refuse(s, "profile sample stack bytes of no sample");
	ps = &p->psamples[p->nr_psamples - 1];
	off = nla_get_u32(tb[KHOLMES_USTACK_OFFSET]);
	len = nla_len(tb[KHOLMES_USTACK_DATA]);
	if (!ps->data || off > ps->len || len > ps->len - off)
		return refuse(s, "profile sample stack bytes %u..%u of %u", off,
			      off + len, ps->len);
	memcpy(ps->data + off, nla_data(tb[KHOLMES_USTACK_DATA]), len);
	if (off <= ps->valid && off + len > ps->valid)
		ps->valid = off + len;
	return 0;
}

static int on_consumer(struct kh_stream *s, struct nlattr *a)
{
	struct nlattr *tb[KHOLMES_CONSUMER_MAX + 1];
	struct kh_capture *cap = s->cap;
	struct kh_consumer *c;
	const char *cg;

	if (nla_parse_nested(tb, KHOLMES_CONSUMER_MAX, a, consumer_policy) ||
	    !tb[KHOLMES_CONSUMER_PID])
		return refuse(s, "a malformed consumer record");
	if (cap->nr_consumers >= KH_MAX_CONSUMERS)
		return refuse(s, "more than %d consumers", KH_MAX_CONSUMERS);
	if (grow(&cap->consumers, cap->nr_consumers,
		 sizeof(*cap->consumers)))
		return nomem(s);
	c = &cap->consumers[cap->nr_consumers];
	memset(c, 0, sizeof(*c));
	c->pid = nla_get_u32(tb[KHOLMES_CONSUMER_PID]);
	if (tb[KHOLMES_CONSUMER_COMM])
		snprintf(c->comm, sizeof(c->comm), "%s",
			 nla_get_string(tb[KHOLMES_CONSUMER_COMM]));
	if (tb[KHOLMES_CONSUMER_CPU])
		c->cpu = nla_get_u64(tb[KHOLMES_CONSUMER_CPU]);
	cg = tb[KHOLMES_CONSUMER_CGROUP] ?
	     nla_get_string(tb[KHOLMES_CONSUMER_CGROUP]) : "";
	c->cgroup = strdup(cg);
	if (!c->cgroup)
		return nomem(s);
	cap->nr_consumers++;
	return 0;
}

/* 0, or a negative errno once the stream cannot be used at all. */
int kh_stream_attr(struct kh_stream *s, struct nlattr *a)
{
	int type = nla_type(a);

	if (s->err)
		return s->err;
	if (type == KHOLMES_A_CAPTURE)
		return on_capture(s, a);
	switch (type) {
	case KHOLMES_A_MAPPING:
	case KHOLMES_A_THREAD:
	case KHOLMES_A_KSTACK:
	case KHOLMES_A_USTACK:
	case KHOLMES_A_PROFILE:
	case KHOLMES_A_PSTACK:
	case KHOLMES_A_PSAMPLE:
	case KHOLMES_A_PSAMPLE_STACK:
	case KHOLMES_A_CONSUMER:
		break;
	default:
		return 0;	/* a newer module's record */
	}
	if (!s->have_capture)
		return refuse(s, "a record before the capture record");
	switch (type) {
	case KHOLMES_A_MAPPING:
		return on_mapping(s, a);
	case KHOLMES_A_THREAD:
		return on_thread(s, a);
	case KHOLMES_A_KSTACK:
		return on_kstack(s, a);
	case KHOLMES_A_USTACK:
		return on_ustack(s, a);
	case KHOLMES_A_PROFILE:
		return on_profile(s, a);
	case KHOLMES_A_PSTACK:
		return on_pstack(s, a);
	case KHOLMES_A_PSAMPLE:
		return on_psample(s, a);
	case KHOLMES_A_PSAMPLE_STACK:
		return on_psample_stack(s, a);
	default:
		return on_consumer(s, a);
	}
}

/*
 * Every record of one dump message. It never stops the dump early: what
 * is left of a dump in the socket would be read as the next reply.
 */
int kh_stream_msg(struct kh_stream *s, struct nlmsghdr *nlh)
{
	struct nlattr *a;
	int rem;

	if (!genlmsg_valid_hdr(nlh, 0)) {
		refuse(s, "a message without its generic netlink header");
		return 0;
	}
	kh_for_each_attr(a, nlh, rem)
		if (kh_stream_attr(s, a))
			break;
	if (rem > 0 && !s->err)
		refuse(s, "%d bytes of a truncated record", rem);
	return 0;
}

static int map_cmp(const void *a, const void *b)
{
	const struct kh_mapping *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int file_cmp(const void *a, const void *b, void *arg)
{
	const struct kh_mapping *maps = arg;
	const struct kh_mapping *x = &maps[*(const size_t *)a];
	const struct kh_mapping *y = &maps[*(const size_t *)b];

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->inode != y->inode)
		return x->inode < y->inode ? -1 : 1;
	return strcmp(x->path, y->path);
}

/*
 * The kernel reads a file's build-id once, for one of its mappings; every
 * mapping of that file (same device, inode and path) carries it here, so
 * that each frame names the build it came from.
 */
static int share_build_ids(struct kh_capture *cap)
{
	struct kh_mapping *maps = cap->maps, *from;
	size_t *idx, i, j, k;

	idx = malloc(cap->nr_maps * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (i = 0; i < cap->nr_maps; i++)
		idx[i] = i;
	qsort_r(idx, cap->nr_maps, sizeof(*idx), file_cmp, maps);
	for (i = 0; i < cap->nr_maps; i = j) {
		from = NULL;
		for (j = i; j < cap->nr_maps &&
		     !file_cmp(&idx[i], &idx[j], maps); j++)
			if (!from && maps[idx[j]].build_id_len)
				from = &maps[idx[j]];
		if (!from || !maps[idx[i]].path[0])
			continue;
		for (k = i; k < j; k++) {
			if (maps[idx[k]].build_id_len)
				continue;
			memcpy(maps[idx[k]].build_id, from->build_id,
			       from->build_id_len);
			maps[idx[k]].build_id_len = from->build_id_len;
		}
	}
	free(idx);
	return 0;
}

int kh_stream_end(struct kh_stream *s)
{
	if (s->err)
		return s->err;
	if (!s->have_capture)
		return -EBADMSG;
	if (!s->cap->nr_maps)
		return 0;
	qsort(s->cap->maps, s->cap->nr_maps, sizeof(*s->cap->maps), map_cmp);
	return share_build_ids(s->cap);
}

/*
 * A capture that could not be read whole after several tries, made
 * writable as far as it goes: the queue's summary of it stands in for a
 * missing capture record, what was decoded stays, and why is said where
 * the report shows malformed records. The next tries would fail the same
 * way, and a capture left queued would be retried for ever.
 */
int kh_stream_salvage(struct kh_stream *s, const struct kh_capture_sum *listed,
		      const char *why)
{
	struct kh_capture *cap = s->cap;

	if (!s->have_capture) {
		cap->sum = *listed;
		s->have_capture = true;
	}
	if (!cap->bad_records++ || why)
		snprintf(cap->bad_why, sizeof(cap->bad_why), "%s",
			 why ? why : "incomplete");
	s->err = 0;
	return kh_stream_end(s);
}
