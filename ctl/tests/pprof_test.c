// SPDX-License-Identifier: GPL-2.0
/*
 * The pprof writer on real symbols: a capture and a cpu profile of this
 * very process, whose user pcs are in functions of this binary and whose
 * mappings and build-ids are read from /proc/self/maps, symbolized by
 * kh_unwind() as pull does. The .pb.gz is decoded back with protobuf-c
 * (sample types, period, counts, labels, mappings, kernel frames) and,
 * when Debian's golang-go is installed, read by `go tool pprof -top`,
 * which must list the functions, and `-base`, which must diff two.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <elfutils/libdwelf.h>
#include <gelf.h>
#include <zlib.h>

#include "pprof.h"
#include "profile.pb-c.h"
#include "stream.h"
#include "unwind.h"
#include "kselftest_harness.h"

#define PERIOD		(1000000000ULL / 99)

/* Real functions of this binary, kept whole: their names must come out. */
__attribute__((noinline, used)) int khtest_pprof_hot(int n)
{
	volatile int x = 0;
	int i;

	for (i = 0; i < n; i++)
		x += i * n;
	return x;
}

__attribute__((noinline, used)) int khtest_pprof_caller(int n)
{
	volatile int y = khtest_pprof_hot(n);

	return y + khtest_pprof_hot(n + 1);
}

__attribute__((noinline, used)) int khtest_pprof_other(int n)
{
	volatile int z = n;

	return khtest_pprof_caller(z) * 3;
}

/* A C++ template instance's name, as a C++ compiler would emit it. */
__attribute__((noinline, used)) int khtest_pprof_templated(int n)
	__asm__("_ZN6khtest3hotIiEEiT_");
__attribute__((noinline, used)) int khtest_pprof_templated(int n)
{
	volatile int x = n;

	return x * 7;
}

static uint64_t in(void *fn)
{
	return (uint64_t)(uintptr_t)fn + 8;
}

static void build_id_of(struct kh_mapping *m)
{
	const void *id;
	ssize_t len;
	Elf *elf;
	int fd;

	fd = open(m->path, O_RDONLY);
	if (fd < 0)
		return;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	len = elf ? dwelf_elf_gnu_build_id(elf, &id) : -1;
	if (len > 0 && len <= KHOLMES_BUILD_ID_MAX) {
		memcpy(m->build_id, id, len);
		m->build_id_len = len;
	}
	elf_end(elf);
	close(fd);
}

/* Our own mappings, as the module would send them. */
static int read_maps(struct kh_capture *cap)
{
	char line[4096 + 128], perms[8], file[4096];
	unsigned long long start, end, off, ino;
	unsigned int maj, min;
	struct kh_mapping *m;
	FILE *f;

	f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	cap->maps = calloc(1024, sizeof(*cap->maps));
	while (cap->maps && cap->nr_maps < 1024 && fgets(line, sizeof(line), f)) {
		file[0] = '\0';
		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %4095[^\n]",
			   &start, &end, perms, &off, &maj, &min, &ino, file) < 7 ||
		    !file[0])
			continue;
		m = &cap->maps[cap->nr_maps++];
		m->start = start;
		m->end = end;
		m->pgoff = off;
		m->inode = ino;
		m->dev = maj << 20 | min;
		m->prot = (perms[0] == 'r' ? KHOLMES_MAP_R : 0) |
			  (perms[1] == 'w' ? KHOLMES_MAP_W : 0) |
			  (perms[2] == 'x' ? KHOLMES_MAP_X : 0) |
			  (perms[3] == 's' ? KHOLMES_MAP_SHARED : 0);
		m->path = strdup(file);
		if (file[0] == '/')
			build_id_of(m);
	}
	fclose(f);
	return cap->maps ? 0 : -1;
}

static void base_capture(struct kh_capture *cap)
{
	char exe[4096];
	ssize_t n;

	memset(cap, 0, sizeof(*cap));
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		cap->exe = strdup(exe);
	}
	elf_version(EV_CURRENT);
	cap->sum.id = 7;
	cap->sum.pid = getpid();
	cap->sum.time_ns = 1795662965000000000ULL;
	cap->sum.has_metric = true;
	cap->sum.metric = KHOLMES_METRIC_CPU;
	snprintf(cap->sum.comm, sizeof(cap->sum.comm), "pprof_test");
}

static char **kframes(const char *const *names, size_t n)
{
	char **k = calloc(n + 1, sizeof(*k));
	size_t i;

	for (i = 0; k && i < n; i++)
		k[i] = strdup(names[i]);
	return k;
}

static uint64_t *pcs(const uint64_t *v, size_t n)
{
	uint64_t *p = malloc((n + 1) * sizeof(*p));

	if (p)
		memcpy(p, v, n * sizeof(*p));
	return p;
}

static const char *const sleep_frames[] = {
	"do_nanosleep+0x8a/0x1a0", "hrtimer_nanosleep+0xc1/0x1b0",
};

static const char *const tick_frames[] = {
	"asm_sysvec_apic_timer_interrupt+0x1a/0x20",
	"kh_fake_fn+0x1/0x2 [kh_fake_mod]",
};

/* A cpu profile: hot (via caller, other), other alone, kernel only. */
static void profile(struct __test_metadata *_metadata, struct kh_capture *cap,
		    uint32_t hot)
{
	const uint64_t s0[] = { in(khtest_pprof_hot), in(khtest_pprof_caller),
				in(khtest_pprof_other) };
	const uint64_t s1[] = { in(khtest_pprof_other) };
	struct kh_profile *p = &cap->prof;

	base_capture(cap);
	ASSERT_EQ(0, read_maps(cap));
	cap->sum.flags = KHOLMES_CAPTURE_F_PROFILE;
	cap->sum.has_profile_of = true;
	cap->sum.profile_of = 6;
	cap->sum.profile_kind = KHOLMES_PROFILE_CPU;
	p->present = true;
	p->kind = KHOLMES_PROFILE_CPU;
	p->hz = 99;
	p->period = PERIOD;
	p->seconds = 2;
	p->duration_ns = 2000000000ULL;
	p->samples = hot + 30 + 20;
	p->stacks = 3;
	p->pstacks = calloc(3, sizeof(*p->pstacks));
	ASSERT_NE(NULL, p->pstacks);
	p->nr_pstacks = 3;
	p->pstacks[0].count = hot;
	p->pstacks[0].upcs = pcs(s0, 3);
	p->pstacks[0].nr_upcs = 3;
	p->pstacks[1].count = 30;
	p->pstacks[1].upcs = pcs(s1, 1);
	p->pstacks[1].nr_upcs = 1;
	p->pstacks[1].kframes = kframes(tick_frames, 2);
	p->pstacks[1].nr_kframes = 2;
	p->pstacks[2].count = 20;
	p->pstacks[2].kframes = kframes(sleep_frames, 2);
	p->pstacks[2].nr_kframes = 2;
	ASSERT_EQ(0, kh_unwind(cap));
	ASSERT_NE(NULL, p->pstacks[0].user.f[0].func) TH_LOG("%s", cap->unwind_err);
	ASSERT_STREQ("khtest_pprof_hot", p->pstacks[0].user.f[0].func);
	ASSERT_STREQ("khtest_pprof_caller", p->pstacks[0].user.f[1].func);
}

/* Two threads: one in hot via caller, one sleeping in the kernel. */
static void capture(struct __test_metadata *_metadata, struct kh_capture *cap)
{
	const uint64_t u[] = { in(khtest_pprof_hot), in(khtest_pprof_caller) };
	struct kh_thread *t;

	base_capture(cap);
	ASSERT_EQ(0, read_maps(cap));
	cap->threads = calloc(2, sizeof(*cap->threads));
	ASSERT_NE(NULL, cap->threads);
	cap->nr_threads = 2;
	cap->sum.threads = cap->sum.nr_threads = 2;
	t = &cap->threads[0];
	t->tid = getpid();
	t->state = 'R';
	snprintf(t->comm, sizeof(t->comm), "hot");
	t->uframes = pcs(u, 2);
	t->nr_uframes = 2;
	t = &cap->threads[1];
	t->tid = getpid() + 1;
	t->state = 'S';
	snprintf(t->comm, sizeof(t->comm), "sleeper\xff");
	t->kframes = kframes(sleep_frames, 2);
	t->nr_kframes = 2;
	ASSERT_EQ(0, kh_unwind(cap));
	ASSERT_EQ(KH_UNW_FP, cap->threads[0].shown);
	ASSERT_STREQ("khtest_pprof_hot", cap->threads[0].fp.f[0].func);
}

static Perftools__Profiles__Profile *decode(const uint8_t *buf, size_t len)
{
	return perftools__profiles__profile__unpack(NULL, len, buf);
}

static const char *s(const Perftools__Profiles__Profile *p, int64_t i)
{
	return i >= 0 && (size_t)i < p->n_string_table ? p->string_table[i] :
							 "<bad index>";
}

static const Perftools__Profiles__Location *
loc(const Perftools__Profiles__Profile *p, uint64_t id)
{
	return id && id <= p->n_location && p->location[id - 1]->id == id ?
	       p->location[id - 1] : NULL;
}

static const char *fn_name(const Perftools__Profiles__Profile *p, uint64_t id)
{
	const Perftools__Profiles__Location *l = loc(p, id);
	uint64_t f;

	if (!l || l->n_line != 1)
		return NULL;
	f = l->line[0]->function_id;
	if (!f || f > p->n_function || p->function[f - 1]->id != f)
		return NULL;
	return s(p, p->function[f - 1]->name);
}

static const Perftools__Profiles__Mapping *
map_of(const Perftools__Profiles__Profile *p, uint64_t loc_id)
{
	const Perftools__Profiles__Location *l = loc(p, loc_id);

	if (!l || !l->mapping_id || l->mapping_id > p->n_mapping)
		return NULL;
	return p->mapping[l->mapping_id - 1];
}

TEST(profile_decoded)
{
	const Perftools__Profiles__Mapping *m;
	Perftools__Profiles__Profile *p;
	const Perftools__Profiles__Sample *smp;
	struct kh_capture cap;
	uint8_t *buf;
	size_t len, i;
	char exe[4096];
	ssize_t n;

	profile(_metadata, &cap, 150);
	ASSERT_EQ(0, kh_pprof_encode(&cap, &buf, &len));
	p = decode(buf, len);
	ASSERT_NE(NULL, p);
	ASSERT_LE(1U, p->n_string_table);
	EXPECT_STREQ("", p->string_table[0]);
	ASSERT_EQ(2U, p->n_sample_type);
	EXPECT_STREQ("samples", s(p, p->sample_type[0]->type));
	EXPECT_STREQ("count", s(p, p->sample_type[0]->unit));
	EXPECT_STREQ("cpu", s(p, p->sample_type[1]->type));
	EXPECT_STREQ("nanoseconds", s(p, p->sample_type[1]->unit));
	ASSERT_NE(NULL, p->period_type);
	EXPECT_STREQ("cpu", s(p, p->period_type->type));
	EXPECT_STREQ("nanoseconds", s(p, p->period_type->unit));
	EXPECT_EQ((int64_t)PERIOD, p->period);
	EXPECT_STREQ("cpu", s(p, p->default_sample_type));
	EXPECT_EQ(2000000000LL, p->duration_nanos);
	EXPECT_EQ(1795662963000000000LL, p->time_nanos);
	ASSERT_LE(2U, p->n_comment);
	EXPECT_NE(NULL, strstr(s(p, p->comment[0]), "after capture 6"));

	ASSERT_EQ(3U, p->n_sample);
	smp = p->sample[0];
	ASSERT_EQ(2U, smp->n_value);
	EXPECT_EQ(150, smp->value[0]);
	EXPECT_EQ(150 * (int64_t)PERIOD, smp->value[1]);
	ASSERT_EQ(3U, smp->n_location_id);
	EXPECT_STREQ("khtest_pprof_hot", fn_name(p, smp->location_id[0]));
	EXPECT_STREQ("khtest_pprof_caller", fn_name(p, smp->location_id[1]));
	EXPECT_STREQ("khtest_pprof_other", fn_name(p, smp->location_id[2]));
	EXPECT_EQ(in(khtest_pprof_hot), loc(p, smp->location_id[0])->address);
	m = map_of(p, smp->location_id[0]);
	ASSERT_NE(NULL, m);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ASSERT_LT(0, n);
	exe[n] = '\0';
	EXPECT_STREQ(exe, s(p, m->filename));
	EXPECT_TRUE(m->has_functions);
	/* pprof's "File:" is the first mapping's: the executable */
	EXPECT_STREQ(exe, s(p, p->mapping[0]->filename));
	EXPECT_EQ(40U, strlen(s(p, m->build_id)));
	EXPECT_LE(m->memory_start, in(khtest_pprof_hot));
	EXPECT_GT(m->memory_limit, in(khtest_pprof_hot));

	/* kernel frames first, leaf first, in the pseudo-mapping */
	smp = p->sample[1];
	EXPECT_EQ(30, smp->value[0]);
	ASSERT_EQ(3U, smp->n_location_id);
	EXPECT_STREQ("asm_sysvec_apic_timer_interrupt",
		     fn_name(p, smp->location_id[0]));
	EXPECT_STREQ("kh_fake_fn", fn_name(p, smp->location_id[1]));
	EXPECT_STREQ("khtest_pprof_other", fn_name(p, smp->location_id[2]));
	m = map_of(p, smp->location_id[0]);
	ASSERT_NE(NULL, m);
	EXPECT_STREQ(KH_PPROF_KERNEL_MAP, s(p, m->filename));
	EXPECT_LE(KH_PPROF_KERNEL_BASE, loc(p, smp->location_id[0])->address);
	EXPECT_GT(m->memory_limit, loc(p, smp->location_id[1])->address);
	EXPECT_NE(loc(p, smp->location_id[0])->address,
		  loc(p, smp->location_id[1])->address);
	/* the module's frame names its function's file */
	i = loc(p, smp->location_id[1])->line[0]->function_id;
	EXPECT_STREQ("[kh_fake_mod]", s(p, p->function[i - 1]->filename));

	smp = p->sample[2];
	EXPECT_EQ(20, smp->value[0]);
	ASSERT_EQ(2U, smp->n_location_id);
	EXPECT_STREQ("do_nanosleep", fn_name(p, smp->location_id[0]));
	/* ids are dense and each function once */
	for (i = 0; i < p->n_function; i++)
		EXPECT_EQ(i + 1, p->function[i]->id);
	for (i = 0; i < p->n_location; i++)
		EXPECT_EQ(i + 1, p->location[i]->id);
	perftools__profiles__profile__free_unpacked(p, NULL);
	free(buf);
	kh_capture_free(&cap);
}

TEST(capture_decoded)
{
	Perftools__Profiles__Profile *p;
	const Perftools__Profiles__Sample *smp;
	struct kh_capture cap;
	uint8_t *buf;
	size_t len, i;
	bool tid = false, state = false, comm = false;

	capture(_metadata, &cap);
	ASSERT_EQ(0, kh_pprof_encode(&cap, &buf, &len));
	p = decode(buf, len);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(1U, p->n_sample_type);
	EXPECT_STREQ("threads", s(p, p->sample_type[0]->type));
	EXPECT_STREQ("count", s(p, p->sample_type[0]->unit));
	EXPECT_EQ(1795662965000000000LL, p->time_nanos);
	ASSERT_EQ(2U, p->n_sample);
	smp = p->sample[0];
	ASSERT_EQ(1U, smp->n_value);
	EXPECT_EQ(1, smp->value[0]);
	EXPECT_STREQ("khtest_pprof_hot", fn_name(p, smp->location_id[0]));
	for (i = 0; i < smp->n_label; i++) {
		const Perftools__Profiles__Label *l = smp->label[i];

		if (!strcmp(s(p, l->key), "tid")) {
			tid = true;
			EXPECT_EQ(getpid(), l->num);
		} else if (!strcmp(s(p, l->key), "state")) {
			state = true;
			EXPECT_STREQ("R", s(p, l->str));
		} else if (!strcmp(s(p, l->key), "comm")) {
			comm = true;
			EXPECT_STREQ("hot", s(p, l->str));
		}
	}
	EXPECT_TRUE(tid && state && comm);
	smp = p->sample[1];
	EXPECT_STREQ("do_nanosleep", fn_name(p, smp->location_id[0]));
	/* a name that is not UTF-8 is cleaned for the terminal */
	EXPECT_STREQ("sleeper?", s(p, smp->label[2]->str));
	perftools__profiles__profile__free_unpacked(p, NULL);
	free(buf);
	kh_capture_free(&cap);
}

/* The .pb.gz is a gzip of exactly the encoding. */
/*
 * A period the kernel sent as a u64, times a count: a product past
 * INT64_MAX is pprof's largest value, not a signed overflow (UBSan).
 */
/* Issue 15: the name demangled, the mangled one kept as system_name. */
TEST(demangled_names)
{
	const uint64_t u[] = { in(khtest_pprof_templated), in(khtest_pprof_other) };
	const Perftools__Profiles__Function *fn = NULL;
	Perftools__Profiles__Profile *p;
	struct kh_capture cap;
	struct kh_pstack *ps;
	uint8_t *buf;
	size_t len, i;

	profile(_metadata, &cap, 150);
	/* symbolize again, with stack 1 in the template instance */
	for (i = 0; i < cap.prof.nr_pstacks; i++) {
		struct kh_ustack *us = &cap.prof.pstacks[i].user;
		size_t j;

		for (j = 0; j < us->n; j++) {
			free(us->f[j].func);
			free(us->f[j].sys_name);
		}
		free(us->f);
		memset(us, 0, sizeof(*us));
	}
	ps = &cap.prof.pstacks[1];
	free(ps->upcs);
	ps->upcs = pcs(u, 2);
	ps->nr_upcs = 2;
	ASSERT_EQ(0, kh_unwind(&cap));
	ASSERT_NE(NULL, ps->user.f[0].func);
	EXPECT_STREQ("int khtest::hot<int>(int)", ps->user.f[0].func);
	EXPECT_STREQ("_ZN6khtest3hotIiEEiT_", ps->user.f[0].sys_name ?: "(none)");
	EXPECT_EQ(NULL, ps->user.f[1].sys_name);
	ASSERT_EQ(0, kh_pprof_encode(&cap, &buf, &len));
	p = decode(buf, len);
	ASSERT_NE(NULL, p);
	for (i = 0; i < p->n_function; i++)
		if (!strcmp(s(p, p->function[i]->name), "int khtest::hot<int>(int)"))
			fn = p->function[i];
	ASSERT_NE(NULL, fn);
	EXPECT_STREQ("_ZN6khtest3hotIiEEiT_", s(p, fn->system_name));
	perftools__profiles__profile__free_unpacked(p, NULL);
	free(buf);
	kh_capture_free(&cap);
}

TEST(huge_period_saturates)
{
	Perftools__Profiles__Profile *p;
	struct kh_capture cap;
	uint8_t *buf;
	size_t len;

	profile(_metadata, &cap, 150);
	cap.prof.period = UINT64_MAX / 4;
	ASSERT_EQ(0, kh_pprof_encode(&cap, &buf, &len));
	p = decode(buf, len);
	ASSERT_NE(NULL, p);
	EXPECT_EQ((int64_t)(UINT64_MAX / 4), p->period);
	ASSERT_LE(1U, p->n_sample);
	EXPECT_EQ(150, p->sample[0]->value[0]);
	EXPECT_EQ(INT64_MAX, p->sample[0]->value[1]);
	perftools__profiles__profile__free_unpacked(p, NULL);
	free(buf);
	kh_capture_free(&cap);
}

TEST(gzip_roundtrip)
{
	uint8_t *buf, *file, *back;
	struct kh_capture cap;
	size_t len, flen;
	uLongf blen;
	z_stream z = { 0 };
	FILE *f;

	profile(_metadata, &cap, 150);
	ASSERT_EQ(0, kh_pprof_encode(&cap, &buf, &len));
	file = NULL;
	flen = 0;
	f = open_memstream((char **)&file, &flen);
	ASSERT_EQ(0, kh_pprof_write(f, &cap));
	fclose(f);
	ASSERT_LT(2U, flen);
	EXPECT_EQ(0x1f, file[0]);
	EXPECT_EQ(0x8b, file[1]);
	blen = len + 64;
	back = malloc(blen);
	ASSERT_EQ(Z_OK, inflateInit2(&z, 15 + 32));
	z.next_in = file;
	z.avail_in = flen;
	z.next_out = back;
	z.avail_out = blen;
	EXPECT_EQ(Z_STREAM_END, inflate(&z, Z_FINISH));
	EXPECT_EQ(len, z.total_out);
	EXPECT_EQ(0, memcmp(buf, back, len));
	inflateEnd(&z);
	free(back);
	free(file);
	free(buf);
	kh_capture_free(&cap);
}

/* ------------------------------------------------------- go tool pprof */

FIXTURE(gotool) {
	char dir[64];
};

FIXTURE_SETUP(gotool)
{
	strcpy(self->dir, "/tmp/kh_pprof_test.XXXXXX");
	if (system("command -v go >/dev/null 2>&1"))
		SKIP(return, "go is not installed (Debian: apt-get install golang-go)");
	ASSERT_NE(NULL, mkdtemp(self->dir));
}

FIXTURE_TEARDOWN(gotool)
{
	char cmd[128];

	if (!self->dir[strlen(self->dir) - 1] || strstr(self->dir, "XXXXXX"))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	if (system(cmd))
		TH_LOG("could not remove %s", self->dir);
}

static int write_pb(const char *path, const struct kh_capture *cap)
{
	FILE *f = fopen(path, "w");
	int err;

	if (!f)
		return -errno;
	err = kh_pprof_write(f, cap);
	if (fclose(f) && !err)
		err = -EIO;
	return err;
}

/* What the command printed, stderr too; *status its exit status. */
static char *run(const char *cmd, int *status)
{
	char *buf = NULL, line[4096];
	size_t len = 0;
	FILE *out, *p;

	p = popen(cmd, "r");
	if (!p)
		return NULL;
	out = open_memstream(&buf, &len);
	while (fgets(line, sizeof(line), p))
		fputs(line, out);
	fclose(out);
	*status = pclose(p);
	return buf;
}

/* GOCACHE and HOME may be unset under a test runner; pprof needs neither
 * for -top, but go itself wants a cache directory to exist. */
#define GO_ENV	"HOME=${HOME:-/tmp} GOCACHE=${GOCACHE:-/tmp/kh-gocache} " \
		"PPROF_TMPDIR=/tmp "

TEST_F_TIMEOUT(gotool, top_lists_functions, 300)
{
	struct kh_capture cap;
	char path[256], cmd[1024], *out;
	int status;

	profile(_metadata, &cap, 150);
	snprintf(path, sizeof(path), "%s/p.cpu.pb.gz", self->dir);
	ASSERT_EQ(0, write_pb(path, &cap));
	kh_capture_free(&cap);
	snprintf(cmd, sizeof(cmd), GO_ENV "go tool pprof -top -nodecount=50 %s 2>&1",
		 path);
	out = run(cmd, &status);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(0, status) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "khtest_pprof_hot")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "khtest_pprof_caller"));
	EXPECT_NE(NULL, strstr(out, "khtest_pprof_other"));
	EXPECT_NE(NULL, strstr(out, "do_nanosleep"));
	EXPECT_NE(NULL, strstr(out, "asm_sysvec_apic_timer_interrupt"));
	EXPECT_NE(NULL, strstr(out, "Type: cpu")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "File: pprof_test")) TH_LOG("%s", out);
	/* 200 samples at 99 Hz: 2.02 s of CPU */
	EXPECT_NE(NULL, strstr(out, "Total samples = 2020.20ms")) TH_LOG("%s", out);
	free(out);

	/* counts: the hot function's 150 samples, flat, at the top */
	snprintf(cmd, sizeof(cmd), GO_ENV "go tool pprof -top -sample_index=samples %s 2>&1",
		 path);
	out = run(cmd, &status);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(0, status);
	EXPECT_NE(NULL, strstr(out, "150 75.00% 75.00%        150 75.00%  khtest_pprof_hot"))
		TH_LOG("%s", out);
	free(out);

	capture(_metadata, &cap);
	snprintf(path, sizeof(path), "%s/c.pb.gz", self->dir);
	ASSERT_EQ(0, write_pb(path, &cap));
	kh_capture_free(&cap);
	snprintf(cmd, sizeof(cmd), GO_ENV "go tool pprof -top -tagfocus=state=R %s 2>&1",
		 path);
	out = run(cmd, &status);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(0, status) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "Type: threads")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "khtest_pprof_hot")) TH_LOG("%s", out);
	/* the sleeper is not in state R */
	EXPECT_EQ(NULL, strstr(out, "do_nanosleep")) TH_LOG("%s", out);
	free(out);
}

TEST_F_TIMEOUT(gotool, base_diffs_two, 300)
{
	struct kh_capture cap;
	char before[256], after[256], cmd[1024], *out;
	int status;

	profile(_metadata, &cap, 150);
	snprintf(before, sizeof(before), "%s/before.cpu.pb.gz", self->dir);
	ASSERT_EQ(0, write_pb(before, &cap));
	kh_capture_free(&cap);
	profile(_metadata, &cap, 50);
	snprintf(after, sizeof(after), "%s/after.cpu.pb.gz", self->dir);
	ASSERT_EQ(0, write_pb(after, &cap));
	kh_capture_free(&cap);
	snprintf(cmd, sizeof(cmd), GO_ENV "go tool pprof -top -sample_index=samples -base %s %s 2>&1",
		 before, after);
	out = run(cmd, &status);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(0, status) TH_LOG("%s", out);
	/* 100 fewer samples in hot, nothing else changed */
	EXPECT_NE(NULL, strstr(out, "-100")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "khtest_pprof_hot")) TH_LOG("%s", out);
	EXPECT_EQ(NULL, strstr(out, "do_nanosleep")) TH_LOG("%s", out);
	free(out);
}

TEST_HARNESS_MAIN
