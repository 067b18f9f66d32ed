// SPDX-License-Identifier: GPL-2.0
/*
 * The libdw unwinder on a real process, given exactly what the kernel
 * sends: a child of this binary blocks in nanosleep() called from a named
 * function; ptrace stops it, and its registers (PTRACE_GETREGS), the top of
 * its stack (/proc/PID/mem), its mappings (/proc/PID/maps) and their
 * build-ids become a capture. Debian's libc has no frame pointers, so
 * finding the named function proves the CFI walk through libc.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>

#include <elfutils/libdwelf.h>
#include <gelf.h>

#include "stream.h"
#include "unwind.h"
#include "kselftest_harness.h"

#define STACK_COPY	8192

/* The frames the test looks for: not inlined, not tail calls. */
__attribute__((noinline)) void khtest_blocked_in_nanosleep(void)
{
	struct timespec ts = { .tv_sec = 10 };

	for (;;) {
		nanosleep(&ts, NULL);
		__asm__ volatile("" ::: "memory");
	}
}

__attribute__((noinline)) void khtest_outer(int fd)
{
	char c = 1;

	if (write(fd, &c, 1) != 1)
		_exit(1);
	khtest_blocked_in_nanosleep();
	__asm__ volatile("" ::: "memory");
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

/* /proc/PID/maps as the kernel's mapping records: files, [heap], [stack]. */
static int read_maps(pid_t pid, struct kh_capture *cap, uint64_t *stack_end)
{
	char path[64], line[4096 + 128], perms[8], file[4096];
	unsigned long long start, end, off, ino;
	unsigned int maj, min;
	struct kh_mapping *m;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	cap->maps = calloc(1024, sizeof(*cap->maps));
	while (cap->maps && cap->nr_maps < 1024 && fgets(line, sizeof(line), f)) {
		file[0] = '\0';
		n = sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %4095[^\n]", &start,
			   &end, perms, &off, &maj, &min, &ino, file);
		if (n < 7 || !file[0])
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
		if (!strcmp(file, "[stack]"))
			*stack_end = end;
	}
	fclose(f);
	return cap->maps ? 0 : -1;
}

static void regs_to_dwarf(const struct user_regs_struct *r, uint64_t *u)
{
	u[KHOLMES_UREG_AX] = r->rax;
	u[KHOLMES_UREG_DX] = r->rdx;
	u[KHOLMES_UREG_CX] = r->rcx;
	u[KHOLMES_UREG_BX] = r->rbx;
	u[KHOLMES_UREG_SI] = r->rsi;
	u[KHOLMES_UREG_DI] = r->rdi;
	u[KHOLMES_UREG_BP] = r->rbp;
	u[KHOLMES_UREG_SP] = r->rsp;
	u[KHOLMES_UREG_R8] = r->r8;
	u[KHOLMES_UREG_R9] = r->r9;
	u[KHOLMES_UREG_R10] = r->r10;
	u[KHOLMES_UREG_R11] = r->r11;
	u[KHOLMES_UREG_R12] = r->r12;
	u[KHOLMES_UREG_R13] = r->r13;
	u[KHOLMES_UREG_R14] = r->r14;
	u[KHOLMES_UREG_R15] = r->r15;
	u[KHOLMES_UREG_IP] = r->rip;
}

FIXTURE(child) {
	pid_t pid;
	struct kh_capture cap;
	char exe[4096];
};

FIXTURE_SETUP(child)
{
	struct user_regs_struct regs;
	uint64_t stack_end = 0;
	struct kh_thread *t;
	int p[2], status, fd;
	char path[64], c;
	ssize_t len;

	memset(&self->cap, 0, sizeof(self->cap));
	elf_version(EV_CURRENT);
	len = readlink("/proc/self/exe", self->exe, sizeof(self->exe) - 1);
	ASSERT_LT(0, len);
	self->exe[len] = '\0';
	ASSERT_EQ(0, pipe(p));
	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (!self->pid) {
		/* a test that dies must not leave it behind */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		khtest_outer(p[1]);
		_exit(0);
	}
	close(p[1]);
	ASSERT_EQ(1, read(p[0], &c, 1));
	close(p[0]);
	/* let it get from write() into nanosleep() */
	usleep(100 * 1000);
	if (ptrace(PTRACE_SEIZE, self->pid, 0, 0)) {
		kill(self->pid, SIGKILL);
		waitpid(self->pid, NULL, 0);
		self->pid = 0;
		SKIP(return, "ptrace is not permitted here: %s", strerror(errno));
	}
	ASSERT_EQ(0, ptrace(PTRACE_INTERRUPT, self->pid, 0, 0));
	ASSERT_EQ(self->pid, waitpid(self->pid, &status, __WALL));
	ASSERT_EQ(0, ptrace(PTRACE_GETREGS, self->pid, 0, &regs));

	self->cap.sum.id = 1;
	self->cap.sum.pid = self->pid;
	snprintf(self->cap.sum.comm, sizeof(self->cap.sum.comm), "unwind_test");
	ASSERT_EQ(0, read_maps(self->pid, &self->cap, &stack_end));
	ASSERT_NE(0, stack_end);
	self->cap.threads = calloc(1, sizeof(*self->cap.threads));
	ASSERT_NE(NULL, self->cap.threads);
	self->cap.nr_threads = 1;
	t = &self->cap.threads[0];
	t->tid = self->pid;
	t->state = 'S';
	regs_to_dwarf(&regs, t->uregs);
	t->has_uregs = true;
	/* what the kernel's frame-pointer walk finds in libc: the pc alone */
	t->uframes = malloc(sizeof(uint64_t));
	ASSERT_NE(NULL, t->uframes);
	t->uframes[0] = regs.rip;
	t->nr_uframes = 1;
	t->ustack_sp = regs.rsp;
	t->ustack_len = stack_end - regs.rsp < STACK_COPY ?
			stack_end - regs.rsp : STACK_COPY;
	t->ustack = malloc(t->ustack_len);
	ASSERT_NE(NULL, t->ustack);
	snprintf(path, sizeof(path), "/proc/%d/mem", self->pid);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)t->ustack_len,
		  pread(fd, t->ustack, t->ustack_len, regs.rsp));
	close(fd);
	t->ustack_valid = t->ustack_len;
}

FIXTURE_TEARDOWN(child)
{
	if (self->pid > 0) {
		kill(self->pid, SIGKILL);
		waitpid(self->pid, NULL, __WALL);
	}
	kh_capture_free(&self->cap);
}

static int find_func(const struct kh_ustack *us, const char *name)
{
	size_t i;

	for (i = 0; i < us->n; i++)
		if (us->f[i].func && !strcmp(us->f[i].func, name))
			return i;
	return -1;
}

static void dump(struct __test_metadata *_metadata, const struct kh_capture *cap,
		 const struct kh_ustack *us)
{
	size_t i;

	for (i = 0; i < us->n; i++) {
		const struct kh_uframe *f = &us->f[i];

		TH_LOG("#%zu 0x%" PRIx64 " %s+0x%" PRIx64 " (%s)", i, f->pc,
		       f->func ? f->func : "?", f->func_off,
		       f->map >= 0 ? cap->maps[f->map].path : "-");
	}
	TH_LOG("stop: %s; %s", us->stop, cap->unwind_err);
}

TEST_F(child, dwarf_through_libc)
{
	struct kh_thread *t = &self->cap.threads[0];
	int inner, outer, i;
	bool in_libc = false;

	ASSERT_EQ(0, kh_unwind(&self->cap));
	inner = find_func(&t->dwarf, "khtest_blocked_in_nanosleep");
	outer = find_func(&t->dwarf, "khtest_outer");
	if (inner < 0 || outer < inner)
		dump(_metadata, &self->cap, &t->dwarf);
	EXPECT_LT(0, inner);
	EXPECT_LT(inner, outer);
	for (i = 0; i < inner; i++)
		if (t->dwarf.f[i].map >= 0 &&
		    strstr(self->cap.maps[t->dwarf.f[i].map].path, "libc"))
			in_libc = true;
	EXPECT_TRUE(in_libc);
	EXPECT_TRUE(t->dwarf.f[0].activation);
	EXPECT_EQ(KH_UNW_DWARF, t->shown);
	/* the frame-pointer walk is symbolized too: its one frame in libc */
	ASSERT_EQ(1U, t->fp.n);
	EXPECT_NE(NULL, t->fp.f[0].func);
	EXPECT_EQ(t->dwarf.f[0].pc, t->fp.f[0].pc);
	EXPECT_STREQ(t->dwarf.f[0].func, t->fp.f[0].func);
}

/* A binary replaced on disk since it was mapped is not believed. */
TEST_F(child, build_id_mismatch)
{
	struct kh_thread *t = &self->cap.threads[0];
	struct kh_mapping *exe = NULL;
	bool seen = false;
	size_t i;

	for (i = 0; i < self->cap.nr_maps; i++) {
		struct kh_mapping *m = &self->cap.maps[i];

		if (strcmp(m->path, self->exe))
			continue;
		ASSERT_NE(0, m->build_id_len);
		m->build_id[0] ^= 0xff;
		exe = m;
	}
	ASSERT_NE(NULL, exe);
	ASSERT_EQ(0, kh_unwind(&self->cap));
	EXPECT_EQ(-1, find_func(&t->dwarf, "khtest_blocked_in_nanosleep"))
		dump(_metadata, &self->cap, &t->dwarf);
	for (i = 0; i < t->dwarf.n; i++) {
		const struct kh_uframe *f = &t->dwarf.f[i];

		if (f->map < 0 || strcmp(self->cap.maps[f->map].path, self->exe))
			continue;
		seen = true;
		EXPECT_EQ(NULL, f->func);
		EXPECT_EQ(KH_FILE_MISMATCH, self->cap.maps[f->map].state);
		EXPECT_EQ(f->pc - self->cap.maps[f->map].start +
			  self->cap.maps[f->map].pgoff, f->file_off);
	}
	EXPECT_TRUE(seen);
	EXPECT_EQ(exe->build_id_len, exe->disk_build_id_len);
	EXPECT_EQ(exe->build_id[0] ^ 0xff, exe->disk_build_id[0]);
}

/* No stack copy: the leaf from the registers, and no crash. */
TEST_F(child, no_stack_copy)
{
	struct kh_thread *t = &self->cap.threads[0];

	free(t->ustack);
	t->ustack = NULL;
	t->ustack_len = t->ustack_valid = 0;
	ASSERT_EQ(0, kh_unwind(&self->cap));
	EXPECT_LE(1U, t->dwarf.n);
	EXPECT_NE(0, t->dwarf.stop[0]);
	EXPECT_EQ(-1, find_func(&t->dwarf, "khtest_outer"));
}

/* Garbage registers and a stack of garbage: frames end, nothing breaks. */
TEST_F(child, garbage)
{
	struct kh_thread *t = &self->cap.threads[0];
	uint32_t i;

	for (i = 0; i < KHOLMES_NR_UREGS; i++)
		t->uregs[i] = 0x4141414141414141ULL * (i + 1);
	t->uregs[KHOLMES_UREG_SP] = t->ustack_sp;
	memset(t->ustack, 0x41, t->ustack_valid);
	ASSERT_EQ(0, kh_unwind(&self->cap));
	EXPECT_GE((size_t)KH_UNWIND_MAX, t->dwarf.n);
	EXPECT_GE(1U, t->dwarf.n);
	if (t->dwarf.n)
		EXPECT_EQ(-1, t->dwarf.f[0].map);
}

/* An address in a mapping that is not executable ([heap], [stack], data). */
static uint64_t non_exec_addr(const struct kh_capture *cap)
{
	size_t i;

	for (i = 0; i < cap->nr_maps; i++)
		if (!(cap->maps[i].prot & KHOLMES_MAP_X))
			return cap->maps[i].start + 0x158;
	return 0;
}

/*
 * Issue 15 point 2: a frame-pointer walk through code without frame
 * pointers reads return addresses from whatever rbp holds; the first one
 * outside every executable mapping ends the walk, in a capture's thread
 * and in a profile's stack alike.
 */
TEST_F(child, junk_frames_end_the_walk)
{
	struct kh_thread *t = &self->cap.threads[0];
	uint64_t junk = non_exec_addr(&self->cap), *u;
	struct kh_pstack *ps;
	size_t i;

	ASSERT_NE(0, junk);
	u = realloc(t->uframes, 3 * sizeof(*u));
	ASSERT_NE(NULL, u);
	t->uframes = u;
	u[1] = junk;
	u[2] = 0x110100000001ULL;
	t->nr_uframes = 3;
	self->cap.prof.present = true;
	self->cap.prof.pstacks = calloc(2, sizeof(*ps));
	ASSERT_NE(NULL, self->cap.prof.pstacks);
	self->cap.prof.nr_pstacks = 2;
	for (i = 0; i < 2; i++) {
		ps = &self->cap.prof.pstacks[i];
		ps->count = 1;
		ps->upcs = malloc(3 * sizeof(*ps->upcs));
		ASSERT_NE(NULL, ps->upcs);
		ps->upcs[0] = t->uregs[KHOLMES_UREG_IP];
		ps->upcs[1] = i ? 0x110100000001ULL : junk;
		ps->upcs[2] = t->uregs[KHOLMES_UREG_IP];
		ps->nr_upcs = 3;
	}
	ASSERT_EQ(0, kh_unwind(&self->cap));
	EXPECT_EQ(1U, t->fp.n);
	EXPECT_NE(NULL, strstr(t->fp.stop, "executable"));
	for (i = 0; i < 2; i++) {
		ps = &self->cap.prof.pstacks[i];
		EXPECT_EQ(1U, ps->user.n);
		EXPECT_NE(NULL, strstr(ps->user.stop, "executable"));
	}
	/* real return addresses stay: a walk of two pcs in the binary */
	EXPECT_EQ(2U, kh_fp_len(&self->cap, (uint64_t[]){
		t->uregs[KHOLMES_UREG_IP], t->uregs[KHOLMES_UREG_IP] }, 2));
}

/* @s: a profile sample of stack @id whose copy is @t's registers and stack */
static int copy_of(struct kh_psample *s, const struct kh_thread *t,
		   uint32_t id)
{
	s->stack = id;
	s->has_uregs = true;
	memcpy(s->uregs, t->uregs, sizeof(s->uregs));
	s->sp = t->ustack_sp;
	s->len = s->valid = t->ustack_valid;
	s->data = malloc(s->len);
	if (!s->data)
		return -1;
	memcpy(s->data, t->ustack, s->len);
	return 0;
}

/*
 * Profile samples with a stack copy: counted by the kernel in a stack
 * whose frame-pointer walk stops in libc (the pc alone), each is unwound
 * by CFI to the caller's caller, and moves to a stack of those frames with
 * the same kernel frames. A sample without a copy stays where it was.
 */
TEST_F(child, profile_samples_unwound)
{
	struct kh_thread *t = &self->cap.threads[0];
	struct kh_profile *p = &self->cap.prof;
	struct kh_pstack *ps, *dw = NULL, *fp = NULL;
	size_t i;

	p->present = true;
	p->pstacks = calloc(1, sizeof(*p->pstacks));
	p->psamples = calloc(2, sizeof(*p->psamples));
	ASSERT_NE(NULL, p->pstacks);
	ASSERT_NE(NULL, p->psamples);
	p->nr_pstacks = 1;
	ps = &p->pstacks[0];
	ps->count = 3;
	ps->has_id = true;
	ps->id = 7;
	ps->upcs = malloc(sizeof(*ps->upcs));
	ps->kframes = calloc(1, sizeof(*ps->kframes));
	ASSERT_NE(NULL, ps->upcs);
	ASSERT_NE(NULL, ps->kframes);
	ps->upcs[0] = t->uregs[KHOLMES_UREG_IP];
	ps->nr_upcs = 1;
	ps->kframes[0] = strdup("hrtimer_nanosleep+0x1/0x2");
	ps->nr_kframes = 1;
	p->nr_psamples = 2;
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, copy_of(&p->psamples[i], t, 7));
	ASSERT_EQ(0, kh_unwind(&self->cap));
	EXPECT_EQ(2U, p->unwound);
	ASSERT_EQ(2U, p->nr_pstacks);
	for (i = 0; i < p->nr_pstacks; i++) {
		if (p->pstacks[i].dwarf)
			dw = &p->pstacks[i];
		else
			fp = &p->pstacks[i];
	}
	ASSERT_NE(NULL, dw);
	ASSERT_NE(NULL, fp);
	EXPECT_EQ(2U, dw->count);
	EXPECT_EQ(1U, fp->count);
	EXPECT_EQ(1U, fp->user.n);
	ASSERT_EQ(1U, dw->nr_kframes);
	EXPECT_STREQ("hrtimer_nanosleep+0x1/0x2", dw->kframes[0]);
	if (find_func(&dw->user, "khtest_outer") < 0)
		dump(_metadata, &self->cap, &dw->user);
	EXPECT_LT(find_func(&dw->user, "khtest_blocked_in_nanosleep"),
		  find_func(&dw->user, "khtest_outer"));
	EXPECT_LT(0, find_func(&dw->user, "khtest_blocked_in_nanosleep"));
}

/*
 * With the copies a uniform sample (KHOLMES_PROFILE_F_COPIES_UNIFORM), the
 * samples of the stack that had no copy of their own follow its copies'
 * CFI walk: all 10 end up whole, 8 of them estimated, and the
 * frame-pointer stack goes. Without the flag (above) they stay.
 */
TEST_F(child, profile_samples_attributed)
{
	struct kh_thread *t = &self->cap.threads[0];
	struct kh_profile *p = &self->cap.prof;
	struct kh_pstack *ps;
	size_t i;

	p->present = true;
	p->flags = KHOLMES_PROFILE_F_COPIES_UNIFORM;
	p->pstacks = calloc(1, sizeof(*p->pstacks));
	p->psamples = calloc(2, sizeof(*p->psamples));
	ASSERT_NE(NULL, p->pstacks);
	ASSERT_NE(NULL, p->psamples);
	p->nr_pstacks = 1;
	ps = &p->pstacks[0];
	ps->count = 10;
	ps->has_id = true;
	ps->id = 3;
	ps->upcs = malloc(sizeof(*ps->upcs));
	ASSERT_NE(NULL, ps->upcs);
	ps->upcs[0] = t->uregs[KHOLMES_UREG_IP];
	ps->nr_upcs = 1;
	p->nr_psamples = 2;
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, copy_of(&p->psamples[i], t, 3));
	ASSERT_EQ(0, kh_unwind(&self->cap));
	EXPECT_EQ(2U, p->unwound);
	EXPECT_EQ(8U, p->attributed);
	ASSERT_EQ(1U, p->nr_pstacks);
	EXPECT_TRUE(p->pstacks[0].dwarf);
	EXPECT_EQ(10U, p->pstacks[0].count);
	EXPECT_LT(0, find_func(&p->pstacks[0].user, "khtest_outer"));
}

/* Every sample unwound: the frame-pointer stack they left goes. */
TEST_F(child, profile_stack_emptied_goes)
{
	struct kh_thread *t = &self->cap.threads[0];
	struct kh_profile *p = &self->cap.prof;
	struct kh_psample *s;
	struct kh_pstack *ps;

	p->present = true;
	p->pstacks = calloc(1, sizeof(*p->pstacks));
	p->psamples = calloc(2, sizeof(*p->psamples));
	ASSERT_NE(NULL, p->pstacks);
	ASSERT_NE(NULL, p->psamples);
	p->nr_pstacks = 1;
	ps = &p->pstacks[0];
	ps->count = 1;
	ps->has_id = true;
	ps->upcs = malloc(sizeof(*ps->upcs));
	ASSERT_NE(NULL, ps->upcs);
	ps->upcs[0] = t->uregs[KHOLMES_UREG_IP];
	ps->nr_upcs = 1;
	/* the second names a stack that is not there, the first one twice */
	p->nr_psamples = 2;
	s = &p->psamples[0];
	s->has_uregs = true;
	memcpy(s->uregs, t->uregs, sizeof(s->uregs));
	s->sp = t->ustack_sp;
	s->len = s->valid = t->ustack_valid;
	s->data = malloc(s->len);
	ASSERT_NE(NULL, s->data);
	memcpy(s->data, t->ustack, s->len);
	p->psamples[1] = *s;
	p->psamples[1].data = malloc(s->len);
	ASSERT_NE(NULL, p->psamples[1].data);
	memcpy(p->psamples[1].data, s->data, s->len);
	ASSERT_EQ(0, kh_unwind(&self->cap));
	EXPECT_EQ(1U, p->unwound);
	ASSERT_EQ(1U, p->nr_pstacks);
	EXPECT_TRUE(p->pstacks[0].dwarf);
	EXPECT_EQ(1U, p->pstacks[0].count);
	EXPECT_LT(0, find_func(&p->pstacks[0].user, "khtest_outer"));
}

/*
 * A debuginfod server of one file on 127.0.0.1: GET
 * /buildid/<hex>/debuginfo for want, 404 for anything else. Counts the
 * files it served in *served (shared memory). Runs until killed.
 */
static void serve_debuginfo(int lfd, const char *want, const char *file,
			    int *served)
{
	char req[1024], head[256];
	struct stat st;
	ssize_t n;
	int c, fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		c = accept(lfd, NULL, NULL);
		if (c < 0)
			continue;
		n = read(c, req, sizeof(req) - 1);
		req[n > 0 ? n : 0] = '\0';
		fd = strstr(req, want) ? open(file, O_RDONLY) : -1;
		if (fd >= 0 && !fstat(fd, &st)) {
			n = snprintf(head, sizeof(head),
				     "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\nConnection: close\r\n\r\n",
				     (long long)st.st_size);
			if (write(c, head, n) == n) {
				while ((n = read(fd, req, sizeof(req))) > 0)
					if (write(c, req, n) != n)
						break;
				__atomic_add_fetch(served, 1, __ATOMIC_SEQ_CST);
			}
		} else {
			n = snprintf(head, sizeof(head),
				     "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
			if (write(c, head, n) != n)
				n = 0;
		}
		if (fd >= 0)
			close(fd);
		close(c);
	}
}

/* A profile of one sample at pc, with this process's maps, exe as path. */
static void stripped_profile(struct __test_metadata *_metadata,
			     struct kh_capture *cap, const char *self_exe,
			     const char *stripped, uint64_t pc)
{
	uint64_t stack_end = 0;
	struct kh_pstack *ps;
	size_t i;

	memset(cap, 0, sizeof(*cap));
	cap->sum.id = 1;
	cap->sum.pid = getpid();
	ASSERT_EQ(0, read_maps(getpid(), cap, &stack_end));
	for (i = 0; i < cap->nr_maps; i++) {
		if (strcmp(cap->maps[i].path, self_exe))
			continue;
		free(cap->maps[i].path);
		cap->maps[i].path = strdup(stripped);
		ASSERT_NE(NULL, cap->maps[i].path);
	}
	cap->prof.present = true;
	cap->prof.pstacks = calloc(1, sizeof(*ps));
	ASSERT_NE(NULL, cap->prof.pstacks);
	cap->prof.nr_pstacks = 1;
	ps = &cap->prof.pstacks[0];
	ps->count = 1;
	ps->upcs = malloc(sizeof(*ps->upcs));
	ASSERT_NE(NULL, ps->upcs);
	ps->upcs[0] = pc;
	ps->nr_upcs = 1;
}

/*
 * Issue 15 point 4: a binary stripped of its symbols (this test binary,
 * by objcopy) is symbolized from its debug file, which a debuginfod server
 * on 127.0.0.1 serves by build-id, when $DEBUGINFOD_URLS names it; without
 * it the frame stays unsymbolized (file and offset). (Fails with
 * find_debuginfo looking under /usr/lib/debug only.)
 */
TEST(debuginfod_symbolizes_stripped)
{
	char dir[] = "/tmp/khm-dbgd-XXXXXX", exe[1024], stripped[1100];
	char debug[1100], cmd[5000], want[64], env[64], cache[1100];
	uint64_t pc = (uint64_t)(uintptr_t)khtest_outer + 4;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	struct kh_mapping m = { 0 };
	struct kh_capture cap;
	int lfd, *served, i;
	pid_t server;
	ssize_t len;

	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ASSERT_LT(0, len);
	exe[len] = '\0';
	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(stripped, sizeof(stripped), "%s/stripped", dir);
	snprintf(debug, sizeof(debug), "%s/stripped.debug", dir);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	snprintf(cmd, sizeof(cmd),
		 "objcopy --only-keep-debug %s %s && objcopy --strip-all %s %s",
		 exe, debug, exe, stripped);
	if (system(cmd))
		SKIP(return, "objcopy could not strip a copy of this binary");
	elf_version(EV_CURRENT);
	m.path = exe;
	build_id_of(&m);
	ASSERT_LT(0, m.build_id_len);
	len = snprintf(want, sizeof(want), "/buildid/");
	for (i = 0; i < m.build_id_len; i++)
		len += snprintf(want + len, sizeof(want) - len, "%02x",
				m.build_id[i]);

	/* stripped and no server: the frame keeps its file and offset */
	unsetenv("DEBUGINFOD_URLS");
	stripped_profile(_metadata, &cap, exe, stripped, pc);
	ASSERT_EQ(0, kh_unwind(&cap));
	ASSERT_EQ(1U, cap.prof.pstacks[0].user.n);
	EXPECT_EQ(NULL, cap.prof.pstacks[0].user.f[0].func);
	EXPECT_LE(0, cap.prof.pstacks[0].user.f[0].map);
	kh_capture_free(&cap);

	served = mmap(NULL, sizeof(*served), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, served);
	*served = 0;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, bind(lfd, (struct sockaddr *)&sa, sizeof(sa)));
	ASSERT_EQ(0, listen(lfd, 8));
	ASSERT_EQ(0, getsockname(lfd, (struct sockaddr *)&sa, &salen));
	server = fork();
	ASSERT_LE(0, server);
	if (!server) {
		serve_debuginfo(lfd, want, debug, served);
		_exit(0);
	}
	close(lfd);
	snprintf(env, sizeof(env), "http://127.0.0.1:%d", ntohs(sa.sin_port));
	setenv("DEBUGINFOD_URLS", env, 1);
	setenv("DEBUGINFOD_CACHE_PATH", cache, 1);
	setenv("DEBUGINFOD_TIMEOUT", "10", 1);
	stripped_profile(_metadata, &cap, exe, stripped, pc);
	ASSERT_EQ(0, kh_unwind(&cap));
	ASSERT_EQ(1U, cap.prof.pstacks[0].user.n);
	EXPECT_STREQ("khtest_outer", cap.prof.pstacks[0].user.f[0].func ?:
				     "(none)") TH_LOG("%s", cap.unwind_err);
	EXPECT_LE(1, *served);
	kh_capture_free(&cap);
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	unsetenv("DEBUGINFOD_URLS");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	EXPECT_EQ(0, system(cmd));
}

/*
 * kh_pstack_attribute()'s arithmetic: stack 0's 10 samples without a copy
 * shared 2:1 between the walks its copies took (6.67 and 3.33: the
 * largest remainder gets the odd one, 7 and 3), stack 1's 5 (no copy
 * unwound) kept, stack 2's copies (none left over) untouched; the total
 * is what the kernel counted.
 */
TEST(attribute_in_proportion)
{
	struct kh_pstack st[6];
	struct kh_profile p = { .pstacks = st, .nr_pstacks = 6 };
	/* stacks 3 and 4 walked from stack 0's copies, 5 from stack 2's */
	const size_t origins[3] = { 0, 0, 2 };
	uint64_t want[6] = { 0, 5, 0, 2 + 7, 1 + 3, 4 }, sum = 0;
	size_t i;

	memset(st, 0, sizeof(st));
	st[0].count = 10;
	st[1].count = 5;
	st[2].count = 0;
	st[3].count = 2;
	st[4].count = 1;
	st[5].count = 4;
	kh_pstack_attribute(&p, 3, origins);
	for (i = 0; i < 6; i++) {
		EXPECT_EQ(want[i], st[i].count) TH_LOG("stack %zu", i);
		sum += st[i].count;
	}
	EXPECT_EQ(10U + 5 + 2 + 1 + 4, sum);
	EXPECT_EQ(10U, p.attributed);
}

TEST_HARNESS_MAIN
