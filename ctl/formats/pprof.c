// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "fmt.h"
#include "pprof.h"
#include "profile.pb-c.h"
#include "report.h"
#include "util.h"

typedef Perftools__Profiles__Profile pb_profile;
typedef Perftools__Profiles__ValueType pb_value_type;
typedef Perftools__Profiles__Sample pb_sample;
typedef Perftools__Profiles__Label pb_label;
typedef Perftools__Profiles__Mapping pb_mapping;
typedef Perftools__Profiles__Location pb_location;
typedef Perftools__Profiles__Line pb_line;
typedef Perftools__Profiles__Function pb_function;

/* Strings to indexes or ids: open addressing, keys copied. */
struct htab {
	char **keys;
	uint64_t *vals;
	size_t cap;
	size_t n;
};

struct pp {
	const struct kh_capture *cap;
	pb_profile *prof;
	struct htab strs;		/* string -> index in string_table */
	struct htab funcs;		/* name \1 file -> function id */
	struct htab locs;		/* "u<pc>" or "k<frame>" -> location id */
	uint64_t *map_ids;		/* per capture mapping: its id, 0 none yet */
	uint64_t kmap_id;		/* the kernel's pseudo-mapping, 0 none yet */
	uint64_t nkernel;		/* distinct kernel frames so far */
	size_t nstr_cap, ntype_cap, nsample_cap, nmap_cap, nloc_cap, nfunc_cap;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void ht_free(struct htab *h)
{
	size_t i;

	for (i = 0; i < h->cap; i++)
		free(h->keys[i]);
	free(h->keys);
	free(h->vals);
	memset(h, 0, sizeof(*h));
}

static int ht_grow(struct htab *h)
{
	struct htab n = { .cap = h->cap ? 2 * h->cap : 256 };
	size_t i, j;

	n.keys = calloc(n.cap, sizeof(*n.keys));
	n.vals = calloc(n.cap, sizeof(*n.vals));
	if (!n.keys || !n.vals) {
		free(n.keys);
		free(n.vals);
		return -ENOMEM;
	}
	for (i = 0; i < h->cap; i++) {
		if (!h->keys[i])
			continue;
		for (j = hash(h->keys[i]) & (n.cap - 1); n.keys[j];
		     j = (j + 1) & (n.cap - 1))
			;
		n.keys[j] = h->keys[i];
		n.vals[j] = h->vals[i];
	}
	n.n = h->n;
	free(h->keys);
	free(h->vals);
	*h = n;
	return 0;
}

/* The value slot of key; *fresh says it was added (its value is 0). */
static uint64_t *ht_get(struct htab *h, const char *key, bool *fresh)
{
	size_t j;

	*fresh = false;
	if ((h->n + 1) * 4 > h->cap * 3 && ht_grow(h))
		return NULL;
	for (j = hash(key) & (h->cap - 1); h->keys[j]; j = (j + 1) & (h->cap - 1))
		if (!strcmp(h->keys[j], key))
			return &h->vals[j];
	h->keys[j] = strdup(key);
	if (!h->keys[j])
		return NULL;
	h->vals[j] = 0;
	h->n++;
	*fresh = true;
	return &h->vals[j];
}

/*
 * Appends item to arr, which holds n of capacity capn (doubled as it
 * fills); 0 or -ENOMEM, and then item is the caller's to free.
 */
#define APPEND(arr, n, capn, item) ({					\
	int __ret = KH_GROW(arr, n, capn, 16);				\
									\
	if (!__ret)							\
		(arr)[(n)++] = (item);					\
	__ret;								\
})

/* The index of s in the string table, added if new; -1: no memory. */
static int64_t str(struct pp *pp, const char *s)
{
	uint64_t *v;
	bool fresh;
	char *copy;

	v = ht_get(&pp->strs, s, &fresh);
	if (!v)
		return -1;
	if (!fresh)
		return *v;
	/* protobuf strings are UTF-8; names and paths need not be */
	copy = kh_utf8_dup(s);
	if (!copy)
		return -1;
	*v = pp->prof->n_string_table;
	if (APPEND(pp->prof->string_table, pp->prof->n_string_table,
		   pp->nstr_cap, copy)) {
		free(copy);
		return -1;
	}
	return *v;
}

static pb_value_type *value_type(struct pp *pp, const char *type,
				 const char *unit)
{
	pb_value_type *vt = malloc(sizeof(*vt));
	int64_t t = str(pp, type), u = str(pp, unit);

	if (!vt || t < 0 || u < 0) {
		free(vt);
		return NULL;
	}
	perftools__profiles__value_type__init(vt);
	vt->type = t;
	vt->unit = u;
	return vt;
}

static int add_sample_type(struct pp *pp, const char *type, const char *unit)
{
	pb_value_type *vt = value_type(pp, type, unit);

	if (!vt)
		return -ENOMEM;
	if (APPEND(pp->prof->sample_type, pp->prof->n_sample_type,
		   pp->ntype_cap, vt)) {
		free(vt);
		return -ENOMEM;
	}
	return 0;
}

/* sys_name: the name as in the binary (mangled), NULL if the same. */
static uint64_t function(struct pp *pp, const char *name, const char *sys_name,
			 const char *file)
{
	pb_function *fn;
	uint64_t *v;
	char *key;
	bool fresh;

	if (asprintf(&key, "%s\1%s", name, file) < 0)
		return 0;
	v = ht_get(&pp->funcs, key, &fresh);
	free(key);
	if (!v)
		return 0;
	if (!fresh)
		return *v;
	fn = malloc(sizeof(*fn));
	if (!fn)
		return 0;
	perftools__profiles__function__init(fn);
	fn->id = pp->prof->n_function + 1;
	fn->name = str(pp, name);
	fn->system_name = sys_name ? str(pp, sys_name) : fn->name;
	fn->filename = str(pp, file);
	if (fn->name < 0 || fn->system_name < 0 || fn->filename < 0) {
		free(fn);
		return 0;
	}
	if (APPEND(pp->prof->function, pp->prof->n_function, pp->nfunc_cap,
		   fn)) {
		free(fn);
		return 0;
	}
	*v = fn->id;
	return *v;
}

static void hex(char *buf, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(buf + 2 * i, 3, "%02x", b[i]);
	buf[2 * n] = '\0';
}

static uint64_t user_mapping(struct pp *pp, int idx)
{
	const struct kh_mapping *m = &pp->cap->maps[idx];
	char id[2 * KHOLMES_BUILD_ID_MAX + 1];
	pb_mapping *pm;

	if (pp->map_ids[idx])
		return pp->map_ids[idx];
	pm = malloc(sizeof(*pm));
	if (!pm)
		return 0;
	perftools__profiles__mapping__init(pm);
	pm->id = pp->prof->n_mapping + 1;
	pm->memory_start = m->start;
	pm->memory_limit = m->end;
	pm->file_offset = m->pgoff;
	pm->filename = str(pp, m->path);
	hex(id, m->build_id, m->build_id_len);
	pm->build_id = str(pp, id);
	/* symbolized from the very build it ran: pprof must not redo it */
	pm->has_functions = m->state == KH_FILE_OK;
	if (pm->filename < 0 || pm->build_id < 0) {
		free(pm);
		return 0;
	}
	if (APPEND(pp->prof->mapping, pp->prof->n_mapping, pp->nmap_cap, pm)) {
		free(pm);
		return 0;
	}
	pp->map_ids[idx] = pm->id;
	return pm->id;
}

/* pprof names a profile after its first mapping: the executable's. */
static int main_mapping(struct pp *pp)
{
	const struct kh_capture *cap = pp->cap;
	size_t i;

	for (i = 0; cap->exe && i < cap->nr_maps; i++)
		if (!strcmp(cap->maps[i].path, cap->exe))
			return user_mapping(pp, i) ? 0 : -ENOMEM;
	return 0;
}

static pb_mapping *kernel_mapping(struct pp *pp)
{
	pb_mapping *pm;

	if (pp->kmap_id)
		return pp->prof->mapping[pp->kmap_id - 1];
	pm = malloc(sizeof(*pm));
	if (!pm)
		return NULL;
	perftools__profiles__mapping__init(pm);
	pm->id = pp->prof->n_mapping + 1;
	pm->memory_start = KH_PPROF_KERNEL_BASE;
	pm->memory_limit = KH_PPROF_KERNEL_BASE + KH_PPROF_KERNEL_STEP;
	pm->filename = str(pp, KH_PPROF_KERNEL_MAP);
	pm->build_id = str(pp, "");
	pm->has_functions = true;
	if (pm->filename < 0) {
		free(pm);
		return NULL;
	}
	if (APPEND(pp->prof->mapping, pp->prof->n_mapping, pp->nmap_cap, pm)) {
		free(pm);
		return NULL;
	}
	pp->kmap_id = pm->id;
	return pm;
}

/* A location with at most one line; fn 0: none. */
static pb_location *new_location(struct pp *pp, uint64_t map, uint64_t addr,
				 uint64_t fn)
{
	pb_location *loc = malloc(sizeof(*loc));
	pb_line *line;

	if (!loc)
		return NULL;
	perftools__profiles__location__init(loc);
	loc->id = pp->prof->n_location + 1;
	loc->mapping_id = map;
	loc->address = addr;
	if (!fn)
		return loc;
	loc->line = malloc(sizeof(*loc->line));
	line = malloc(sizeof(*line));
	if (!loc->line || !line) {
		free(loc->line);
		free(line);
		free(loc);
		return NULL;
	}
	perftools__profiles__line__init(line);
	line->function_id = fn;
	loc->line[0] = line;
	loc->n_line = 1;
	return loc;
}

static uint64_t add_location(struct pp *pp, uint64_t *slot, pb_location *loc)
{
	if (!loc)
		return 0;
	if (APPEND(pp->prof->location, pp->prof->n_location, pp->nloc_cap,
		   loc)) {
		perftools__profiles__location__free_unpacked(loc, NULL);
		return 0;
	}
	*slot = loc->id;
	return loc->id;
}

/* One per distinct pc: the address as sent, its function if known. */
static uint64_t user_location(struct pp *pp, const struct kh_uframe *f)
{
	const struct kh_mapping *m = f->map >= 0 ? &pp->cap->maps[f->map] : NULL;
	uint64_t *v, map = 0, fn = 0;
	char key[32];
	bool fresh;

	snprintf(key, sizeof(key), "u%" PRIx64, f->pc);
	v = ht_get(&pp->locs, key, &fresh);
	if (!v)
		return 0;
	if (!fresh)
		return *v;
	if (m) {
		map = user_mapping(pp, f->map);
		if (!map)
			return 0;
	}
	if (f->func) {
		fn = function(pp, f->func, f->sys_name, m ? m->path : "");
		if (!fn)
			return 0;
	}
	return add_location(pp, v, new_location(pp, map, f->pc, fn));
}

/*
 * One per distinct frame string ("do_nanosleep+0x8a/0x1a0"), named by its
 * function, in the kernel or in the module the string names ("[mod]").
 */
static uint64_t kernel_location(struct pp *pp, const char *frame)
{
	const char *mod = strstr(frame, " [");
	char name[256], file[96], *key;
	pb_mapping *km;
	uint64_t *v, fn, addr;
	bool fresh;

	if (asprintf(&key, "k%s", frame) < 0)
		return 0;
	v = ht_get(&pp->locs, key, &fresh);
	free(key);
	if (!v)
		return 0;
	if (!fresh)
		return *v;
	km = kernel_mapping(pp);
	if (!km)
		return 0;
	kh_kframe_func(name, sizeof(name), frame);
	if (mod)
		snprintf(file, sizeof(file), "%.*s", (int)strcspn(mod + 1, " "),
			 mod + 1);
	else
		snprintf(file, sizeof(file), "%s", KH_PPROF_KERNEL_MAP);
	fn = function(pp, name, NULL, file);
	if (!fn)
		return 0;
	addr = KH_PPROF_KERNEL_BASE + pp->nkernel++ * KH_PPROF_KERNEL_STEP;
	km->memory_limit = addr + KH_PPROF_KERNEL_STEP;
	return add_location(pp, v, new_location(pp, km->id, addr, fn));
}

/* A stack with no frame at all still counts, as in the .folded. */
static uint64_t empty_location(struct pp *pp)
{
	uint64_t *v, fn;
	bool fresh;

	v = ht_get(&pp->locs, "-", &fresh);
	if (!v)
		return 0;
	if (!fresh)
		return *v;
	fn = function(pp, "[no stack]", NULL, "");
	if (!fn)
		return 0;
	return add_location(pp, v, new_location(pp, 0, 0, fn));
}

static pb_sample *new_sample(struct pp *pp, char *const *kframes, size_t nk,
			     const struct kh_ustack *us, size_t nvalues)
{
	size_t n = nk + (us ? us->n : 0), i, j = 0;
	pb_sample *s = malloc(sizeof(*s));

	if (!s)
		return NULL;
	perftools__profiles__sample__init(s);
	s->location_id = calloc(n ? n : 1, sizeof(*s->location_id));
	s->value = calloc(nvalues, sizeof(*s->value));
	if (!s->location_id || !s->value)
		goto err;
	s->n_value = nvalues;
	for (i = 0; i < nk; i++)
		if (!(s->location_id[j++] = kernel_location(pp, kframes[i])))
			goto err;
	for (i = 0; us && i < us->n; i++)
		if (!(s->location_id[j++] = user_location(pp, &us->f[i])))
			goto err;
	if (!j && !(s->location_id[j++] = empty_location(pp)))
		goto err;
	s->n_location_id = j;
	return s;
err:
	free(s->location_id);
	free(s->value);
	free(s);
	return NULL;
}

static int add_label(struct pp *pp, pb_sample *s, const char *key,
		     const char *sval, int64_t num)
{
	pb_label *l = malloc(sizeof(*l));

	if (!l)
		return -ENOMEM;
	perftools__profiles__label__init(l);
	l->key = str(pp, key);
	if (sval)
		l->str = str(pp, sval);
	else
		l->num = num;
	if (l->key < 0 || l->str < 0) {
		free(l);
		return -ENOMEM;
	}
	if (kh_grow_implied(&s->label, s->n_label, sizeof(*s->label))) {
		free(l);
		return -ENOMEM;
	}
	s->label[s->n_label++] = l;
	return 0;
}

static int add_comment(struct pp *pp, const char *text)
{
	int64_t i = str(pp, text);

	if (i < 0)
		return -ENOMEM;
	if (kh_grow_implied(&pp->prof->comment, pp->prof->n_comment,
			    sizeof(*pp->prof->comment)))
		return -ENOMEM;
	pp->prof->comment[pp->prof->n_comment++] = i;
	return 0;
}

static const struct kh_ustack *shown_stack(const struct kh_thread *t)
{
	if (t->shown == KH_UNW_DWARF)
		return &t->dwarf;
	if (t->shown == KH_UNW_FP)
		return &t->fp;
	return NULL;
}

static int capture_samples(struct pp *pp)
{
	const struct kh_capture *cap = pp->cap;
	char state[2] = { 0 }, comm[KHOLMES_COMM_LEN];
	const struct kh_thread *t;
	pb_sample *s;
	size_t i;
	int err;

	err = add_sample_type(pp, "threads", "count");
	for (i = 0; !err && i < cap->nr_threads; i++) {
		t = &cap->threads[i];
		s = new_sample(pp, t->kframes, t->nr_kframes, shown_stack(t), 1);
		if (!s)
			return -ENOMEM;
		s->value[0] = 1;
		state[0] = t->state >= 0x21 && t->state < 0x7f ? t->state : '?';
		kh_text_clean(comm, sizeof(comm), t->comm);
		if (add_label(pp, s, "tid", NULL, t->tid) ||
		    add_label(pp, s, "state", state, 0) ||
		    add_label(pp, s, "comm", comm, 0)) {
			perftools__profiles__sample__free_unpacked(s, NULL);
			return -ENOMEM;
		}
		err = APPEND(pp->prof->sample, pp->prof->n_sample,
			     pp->nsample_cap, s);
		if (err)
			perftools__profiles__sample__free_unpacked(s, NULL);
	}
	return err;
}

static int profile_samples(struct pp *pp)
{
	const struct kh_profile *p = &pp->cap->prof;
	const struct kh_pstack *ps;
	bool cpu = kh_profile_on_cpu(p->kind);
	pb_sample *s;
	uint64_t v;
	size_t i;
	int err;

	err = add_sample_type(pp, "samples", "count");
	if (!err)
		err = cpu ? add_sample_type(pp, "cpu", "nanoseconds") :
			    add_sample_type(pp, "faults", "count");
	if (err)
		return err;
	pp->prof->period_type = cpu ? value_type(pp, "cpu", "nanoseconds") :
				     value_type(pp, "faults", "count");
	if (!pp->prof->period_type)
		return -ENOMEM;
	pp->prof->period = p->period > INT64_MAX ? INT64_MAX : (int64_t)p->period;
	pp->prof->default_sample_type = str(pp, cpu ? "cpu" : "faults");
	for (i = 0; i < p->nr_pstacks; i++) {
		ps = &p->pstacks[i];
		s = new_sample(pp, ps->kframes, ps->nr_kframes, &ps->user, 2);
		if (!s)
			return -ENOMEM;
		s->value[0] = ps->count;
		/* the kernel's u64 period: saturate, never overflow */
		if (__builtin_mul_overflow((uint64_t)ps->count,
					   p->period ? p->period : 1, &v) ||
		    v > INT64_MAX)
			v = INT64_MAX;
		s->value[1] = (int64_t)v;
		/* a flight sample's time, relative to the detection */
		err = ps->has_ago ?
		      add_label(pp, s, "time-ns", NULL, ps->ago_ns > INT64_MAX ?
				INT64_MIN : -(int64_t)ps->ago_ns) ?:
		      add_label(pp, s, "tid", NULL, ps->tid) : 0;
		if (!err)
			err = APPEND(pp->prof->sample, pp->prof->n_sample,
				     pp->nsample_cap, s);
		if (err) {
			perftools__profiles__sample__free_unpacked(s, NULL);
			return err;
		}
	}
	return 0;
}

static int comments(struct pp *pp)
{
	const struct kh_capture *cap = pp->cap;
	const struct kh_profile *p = &cap->prof;
	char comm[KHOLMES_COMM_LEN], buf[256];
	int err;

	kh_text_clean(comm, sizeof(comm), cap->sum.comm);
	if (!p->present) {
		snprintf(buf, sizeof(buf), "kholmes capture %" PRIu64 ": %s, pid %" PRIu32 " (%s), one sample per thread",
			 cap->sum.id, kh_trigger_name(&cap->sum), cap->sum.pid,
			 comm);
		return add_comment(pp, buf);
	}
	if (p->kind == KHOLMES_PROFILE_BEFORE)
		snprintf(buf, sizeof(buf), "kholmes flight recorder: pid %" PRIu32 " (%s) in the %" PRIu64 ".%03" PRIu64 " s before the detection of capture %" PRIu64 "; label time-ns: when, relative to the detection",
			 cap->sum.pid, comm, p->duration_ns / 1000000000,
			 p->duration_ns % 1000000000 / 1000000, cap->sum.id);
	else
		snprintf(buf, sizeof(buf), "kholmes %s profile %" PRIu64 " of pid %" PRIu32 " (%s)",
			 kh_profile_kind_name(p->kind), cap->sum.id,
			 cap->sum.pid, comm);
	if (cap->sum.profile_of)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
			 ", after capture %" PRIu64 " (%s)", cap->sum.profile_of,
			 kh_trigger_name(&cap->sum));
	err = add_comment(pp, buf);
	if (!err) {
		snprintf(buf, sizeof(buf), "user frames: %" PRIu64 " samples unwound by CFI (libdw) over a copy of the stack, the rest by the kernel's frame-pointer walk, which shows only the leaf of code without frame pointers",
			 p->unwound);
		err = add_comment(pp, buf);
	}
	if (!err && p->flags & KHOLMES_PROFILE_F_EXITED)
		err = add_comment(pp, "ended early: the process exited");
	if (!err && p->flags & KHOLMES_PROFILE_F_UNLOADED)
		err = add_comment(pp, "ended early: the module was unloading");
	if (!err && p->lost) {
		snprintf(buf, sizeof(buf), "%" PRIu64 " samples lost: the kernel's table of distinct stacks was full",
			 p->lost);
		err = add_comment(pp, buf);
	}
	return err;
}

static void pp_free(struct pp *pp)
{
	ht_free(&pp->strs);
	ht_free(&pp->funcs);
	ht_free(&pp->locs);
	free(pp->map_ids);
	/* every part is malloc'd, as protobuf-c's own unpacker does */
	if (pp->prof)
		perftools__profiles__profile__free_unpacked(pp->prof, NULL);
	free(pp);
}

/* The profile's protobuf encoding, uncompressed, in a malloc'd *buf. */
int kh_pprof_encode(const struct kh_capture *cap, uint8_t **buf, size_t *len)
{
	struct pp *pp;
	int err;

	*buf = NULL;
	*len = 0;
	pp = calloc(1, sizeof(*pp));
	if (!pp)
		return -ENOMEM;
	pp->cap = cap;
	pp->prof = malloc(sizeof(*pp->prof));
	if (pp->prof)
		perftools__profiles__profile__init(pp->prof);
	pp->map_ids = calloc(cap->nr_maps + 1, sizeof(*pp->map_ids));
	err = -ENOMEM;
	if (!pp->prof || !pp->map_ids || str(pp, "") != 0)
		goto out;
	err = main_mapping(pp);
	if (!err)
		err = cap->prof.present ? profile_samples(pp) :
					  capture_samples(pp);
	if (!err)
		err = comments(pp);
	if (err)
		goto out;
	if (cap->prof.present) {
		pp->prof->duration_nanos = cap->prof.duration_ns;
		pp->prof->time_nanos = cap->sum.time_ns - (cap->sum.time_ns >
			cap->prof.duration_ns ? cap->prof.duration_ns : 0);
	} else {
		pp->prof->time_nanos = cap->sum.time_ns;
	}
	*len = perftools__profiles__profile__get_packed_size(pp->prof);
	*buf = malloc(*len ? *len : 1);
	if (!*buf)
		goto out;
	perftools__profiles__profile__pack(pp->prof, *buf);
	err = 0;
out:
	if (err)
		*len = 0;
	pp_free(pp);
	return err;
}

/* gzip, as `go tool pprof` reads it (a raw protobuf would do too). */
int kh_gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	z_stream z = { 0 };
	uLong bound;
	int ret;

	*out = NULL;
	*out_len = 0;
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	bound = deflateBound(&z, len) + 32;
	*out = malloc(bound);
	if (!*out) {
		deflateEnd(&z);
		return -ENOMEM;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = len;
	z.next_out = *out;
	z.avail_out = bound;
	ret = deflate(&z, Z_FINISH);
	*out_len = z.total_out;
	deflateEnd(&z);
	if (ret != Z_STREAM_END) {
		free(*out);
		*out = NULL;
		*out_len = 0;
		return -EIO;
	}
	return 0;
}

int kh_pprof_write(FILE *f, const struct kh_capture *cap)
{
	uint8_t *pb, *gz;
	size_t len, gz_len;
	int err;

	err = kh_pprof_encode(cap, &pb, &len);
	if (err)
		return err;
	err = kh_gzip(pb, len, &gz, &gz_len);
	free(pb);
	if (err)
		return err;
	if (fwrite(gz, 1, gz_len, f) != gz_len)
		err = -EIO;
	free(gz);
	return err;
}
