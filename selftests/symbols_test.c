// SPDX-License-Identifier: GPL-2.0
/*
 * Symbols of profiles on programs nobody here wrote the unwinder for
 * (issue 15, points 1 and 4), end to end in the VM. Every program is
 * built as distributions build theirs, without frame pointers, so every
 * stack is a CFI walk of the stack copies by kholmesctl (libdw):
 *
 *  - cpp: a C++ program (selftests/sym/sym_cpp.cc) spinning in a template
 *    instance in a namespace: its .folded, .txt and .json name
 *    "long khsym::churn<long>(long)", the .json and .pb.gz keep the
 *    mangled name as system-name / system_name, nothing mangled is left
 *    in .folded or .txt, and at least 95 % of the samples reach main;
 *  - stripped: a C program stripped to .dynsym (sym_stripped), with its
 *    debug file installed under /usr/lib/debug/.build-id/: its frames are
 *    named from it, and reach main; without the debug file they keep the
 *    path, a file offset and the build-id, from which this test itself
 *    names them again out of the debug file (what a later, offline
 *    symbolization does);
 *  - debuginfod: Debian's debuginfod serving a directory holding the debug
 *    file on 127.0.0.1, DEBUGINFOD_URLS set for kholmesctl: the frames are
 *    named through it, and its client cache holds what it fetched;
 *  - python: Debian's python3 (no frame pointers, stripped) spinning: at
 *    least 95 % of the samples reach Py_BytesMain, the body of python's
 *    main (which tail-calls it, so main itself is on no stack);
 *  - perf: Debian's perl spinning, profiled by kholmes and by Debian's
 *    `perf record --call-graph dwarf` at once: perf's top five functions
 *    by self and by cumulative share have the same shares in kholmes'
 *    profile within 5 points;
 *  - last, every file written is valid (KT_FILES_TEST).
 *
 * What the VM needs beyond kholmesctl (libstdc++ for the demangler,
 * debuginfod, python3 and the start of its stdlib, perf) is named in
 * symbols_test.extra; a case whose program is missing skips, naming it.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <elf.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "kholmes.h"
#include "kt.h"
#include "prof.h"

#define SYM_ROOT	"/tmp/khm-sym"
#define SYM_S		2	/* a profile's seconds */
#define SYM_HZ		99
#define SYM_TIMEOUT	150	/* a bound: see profile_test.c's PROF_TIMEOUT */
#define DEBUG_ROOT	"/usr/lib/debug"
#define DBGD_PORT	18002

#define CHURN		"long khsym::churn<long>(long)"
#define CHURN_SYS	"_ZN5khsym5churnIlEET_S1_"
#define RUN		"khsym::Spinner<long>::run(long)"
#define RUN_SYS		"_ZN5khsym7SpinnerIlE3runEl"

/* ------------------------------------------------------------------ */
/* a profile's files */

static size_t array_len(struct json_object *arr)
{
	return arr && json_object_is_type(arr, json_type_array) ?
	       json_object_array_length(arr) : 0;
}

/*
 * The first user frame of the .json's stacks whose "func" is @func (a
 * reference into f->json), or NULL.
 */
static struct json_object *json_frame(const struct prof_files *f,
				      const char *func)
{
	struct json_object *st = khm_json_get(f->prof, "stacks");
	size_t i, j;

	for (i = 0; i < array_len(st); i++) {
		struct json_object *u = khm_json_get(
			json_object_array_get_idx(st, i), "ustack");

		for (j = 0; j < array_len(u); j++) {
			struct json_object *fr = json_object_array_get_idx(u, j);
			const char *fn = khm_json_str(fr, "func");

			if (fn && !strcmp(fn, func))
				return fr;
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* pprof: the functions of a .pb.gz, with a reader of protobuf's wire */

struct pb_buf {
	unsigned char *p;
	size_t len;
};

static bool pb_varint(const unsigned char **p, const unsigned char *end,
		      unsigned long long *v)
{
	int shift = 0;

	*v = 0;
	while (*p < end && shift < 64) {
		unsigned char b = *(*p)++;

		*v |= (unsigned long long)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
		shift += 7;
	}
	return false;
}

/*
 * One field of a message at *@p: its number, wire type, its varint value
 * or its bytes; false at the end or on a malformed one.
 */
static bool pb_field(const unsigned char **p, const unsigned char *end,
		     unsigned int *num, unsigned long long *v,
		     const unsigned char **bytes)
{
	unsigned long long key;

	if (*p >= end || !pb_varint(p, end, &key))
		return false;
	*num = key >> 3;
	*bytes = NULL;
	switch (key & 7) {
	case 0:
		return pb_varint(p, end, v);
	case 1:
		if (end - *p < 8)
			return false;
		*p += 8;
		return true;
	case 2:
		if (!pb_varint(p, end, v) || *v > (unsigned long long)(end - *p))
			return false;
		*bytes = *p;
		*p += *v;
		return true;
	case 5:
		if (end - *p < 4)
			return false;
		*p += 4;
		return true;
	}
	return false;
}

/* gunzip -c @path into @b (to free). 0, or -1. */
static int gunzip(const char *path, struct pb_buf *b)
{
	char cmd[PATH_MAX + 32];
	size_t cap = 0;
	FILE *f;
	size_t n;

	memset(b, 0, sizeof(*b));
	snprintf(cmd, sizeof(cmd), "gunzip -c '%s'", path);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	for (;;) {
		if (b->len == cap) {
			unsigned char *np = realloc(b->p, cap ? cap * 2 : 65536);

			if (!np)
				break;
			b->p = np;
			cap = cap ? cap * 2 : 65536;
		}
		n = fread(b->p + b->len, 1, cap - b->len, f);
		if (!n)
			break;
		b->len += n;
	}
	return pclose(f) || !b->len ? -1 : 0;
}

/*
 * The Profile in @path has a Function (field 5) whose name (2) is @name
 * and whose system_name (3) is @sys, both indexes into string_table (6).
 * 1 yes, 0 no, -1 not a Profile.
 */
static int pb_has_function(const char *path, const char *name, const char *sys)
{
	const unsigned char *p, *end, *bytes, *q, **strs = NULL;
	unsigned long long v, fv, nm, sn, *fns = NULL;
	size_t nstr = 0, nfn = 0, *lens = NULL, i;
	struct pb_buf b;
	unsigned int num, fnum;
	int found = -1;

	if (gunzip(path, &b))
		goto out;
	p = b.p;
	end = b.p + b.len;
	while (p < end) {
		if (!pb_field(&p, end, &num, &v, &bytes))
			goto out;
		if (num == 6 && bytes) {
			strs = realloc(strs, (nstr + 1) * sizeof(*strs));
			lens = realloc(lens, (nstr + 1) * sizeof(*lens));
			if (!strs || !lens)
				goto out;
			strs[nstr] = bytes;
			lens[nstr++] = v;
		} else if (num == 5 && bytes) {
			nm = sn = ~0ULL;
			q = bytes;
			while (q < bytes + v) {
				const unsigned char *fb;

				if (!pb_field(&q, bytes + v, &fnum, &fv, &fb))
					goto out;
				if (fnum == 2 && !fb)
					nm = fv;
				else if (fnum == 3 && !fb)
					sn = fv;
			}
			fns = realloc(fns, (nfn + 1) * 2 * sizeof(*fns));
			if (!fns)
				goto out;
			fns[2 * nfn] = nm;
			fns[2 * nfn++ + 1] = sn;
		}
	}
	found = 0;
	for (i = 0; i < nfn && !found; i++) {
		nm = fns[2 * i];
		sn = fns[2 * i + 1];
		if (nm >= nstr || sn >= nstr)
			continue;
		found = lens[nm] == strlen(name) && !memcmp(strs[nm], name, lens[nm]) &&
			lens[sn] == strlen(sys) && !memcmp(strs[sn], sys, lens[sn]);
	}
out:
	free(strs);
	free(lens);
	free(fns);
	free(b.p);
	return found;
}

/* ------------------------------------------------------------------ */
/* ELF: build-id, file offset to address, symbol at an address */

struct elf_img {
	char *b;
	size_t len;
	const Elf64_Ehdr *eh;
};

static int elf_open(struct elf_img *e, const char *path)
{
	e->b = khm_slurp(path, &e->len);
	e->eh = (const Elf64_Ehdr *)e->b;
	if (!e->b || e->len < sizeof(*e->eh) ||
	    memcmp(e->eh->e_ident, ELFMAG, SELFMAG) ||
	    e->eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    e->eh->e_shoff + (size_t)e->eh->e_shnum * sizeof(Elf64_Shdr) > e->len ||
	    e->eh->e_phoff + (size_t)e->eh->e_phnum * sizeof(Elf64_Phdr) > e->len) {
		free(e->b);
		e->b = NULL;
		return -1;
	}
	return 0;
}

static const Elf64_Shdr *elf_sh(const struct elf_img *e, size_t i)
{
	const Elf64_Shdr *sh;

	if (i >= e->eh->e_shnum)
		return NULL;
	sh = (const Elf64_Shdr *)(e->b + e->eh->e_shoff) + i;
	if (sh->sh_type != SHT_NOBITS && sh->sh_offset + sh->sh_size > e->len)
		return NULL;
	return sh;
}

/* @path's GNU build-id in hex. 0, or -1. */
static int elf_build_id(const char *path, char *hex, size_t hexlen)
{
	struct elf_img e;
	size_t i, off, end, name, desc, k;
	int ret = -1;

	if (elf_open(&e, path))
		return -1;
	for (i = 0; i < e.eh->e_shnum && ret; i++) {
		const Elf64_Shdr *sh = elf_sh(&e, i);

		if (!sh || sh->sh_type != SHT_NOTE)
			continue;
		off = sh->sh_offset;
		end = off + sh->sh_size;
		while (off + sizeof(Elf64_Nhdr) <= end) {
			const Elf64_Nhdr *n = (const Elf64_Nhdr *)(e.b + off);

			name = off + sizeof(*n);
			desc = name + ((n->n_namesz + 3) & ~3U);
			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
			    !memcmp(e.b + name, "GNU", 4) &&
			    desc + n->n_descsz <= end &&
			    2 * n->n_descsz < hexlen) {
				for (k = 0; k < n->n_descsz; k++)
					sprintf(hex + 2 * k, "%02x",
						(unsigned char)e.b[desc + k]);
				ret = 0;
				break;
			}
			off = desc + ((n->n_descsz + 3) & ~3U);
		}
	}
	free(e.b);
	return ret;
}

/* The address @path maps its file offset @off at; 0 if none. */
static unsigned long long elf_off_to_addr(const char *path,
					  unsigned long long off)
{
	unsigned long long addr = 0;
	struct elf_img e;
	size_t i;

	if (elf_open(&e, path))
		return 0;
	for (i = 0; i < e.eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(e.b + e.eh->e_phoff) + i;

		if (ph->p_type == PT_LOAD && ph->p_offset <= off &&
		    off < ph->p_offset + ph->p_filesz) {
			addr = off - ph->p_offset + ph->p_vaddr;
			break;
		}
	}
	free(e.b);
	return addr;
}

/* The function of @path's .symtab holding @addr, into @name; "" if none. */
static void elf_func_at(const char *path, unsigned long long addr, char *name,
			size_t len)
{
	struct elf_img e;
	size_t i, j;

	name[0] = '\0';
	if (elf_open(&e, path))
		return;
	for (i = 0; i < e.eh->e_shnum; i++) {
		const Elf64_Shdr *sh = elf_sh(&e, i), *str;
		const Elf64_Sym *s;

		if (!sh || sh->sh_type != SHT_SYMTAB)
			continue;
		str = elf_sh(&e, sh->sh_link);
		if (!str)
			continue;
		s = (const Elf64_Sym *)(e.b + sh->sh_offset);
		for (j = 0; j < sh->sh_size / sizeof(*s); j++) {
			if (ELF64_ST_TYPE(s[j].st_info) != STT_FUNC ||
			    addr < s[j].st_value ||
			    addr >= s[j].st_value + s[j].st_size ||
			    s[j].st_name >= str->sh_size)
				continue;
			snprintf(name, len, "%.*s",
				 (int)strnlen(e.b + str->sh_offset + s[j].st_name,
					      str->sh_size - s[j].st_name),
				 e.b + str->sh_offset + s[j].st_name);
			free(e.b);
			return;
		}
	}
	free(e.b);
}

/* ------------------------------------------------------------------ */
/* self and cumulative shares, of kholmes' .folded and of perf script */

#define TAB_MAX		512

struct share_tab {
	struct {
		char name[200];
		long long self, cum;
	} e[TAB_MAX];
	int n;
	long long total;
};

static int tab_find(struct share_tab *t, const char *name, bool add)
{
	int i;

	for (i = 0; i < t->n; i++)
		if (!strcmp(t->e[i].name, name))
			return i;
	if (!add || t->n == TAB_MAX)
		return -1;
	snprintf(t->e[t->n].name, sizeof(t->e[0].name), "%s", name);
	t->e[t->n].self = t->e[t->n].cum = 0;
	return t->n++;
}

/* One stack of @n frames, innermost first, seen @count times. */
static void tab_add(struct share_tab *t, char **fr, int n, long long count)
{
	int i, k, e;

	t->total += count;
	for (i = 0; i < n; i++) {
		e = tab_find(t, fr[i], true);
		if (e < 0)
			continue;
		if (!i)
			t->e[e].self += count;
		/* once a sample, however recursive */
		for (k = 0; k < i && strcmp(fr[k], fr[i]); k++)
			;
		if (k == i)
			t->e[e].cum += count;
	}
}

static double tab_pct(struct share_tab *t, const char *name, bool cum)
{
	int e = tab_find(t, name, false);

	if (e < 0 || !t->total)
		return 0;
	return 100.0 * (cum ? t->e[e].cum : t->e[e].self) / t->total;
}

/* The .folded: "root;...;leaf count" a line. */
static void tab_folded(struct share_tab *t, char *folded)
{
	char *line, *save = NULL, *fr[256], *sp, *p;
	int n;

	for (line = strtok_r(folded, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		sp = strrchr(line, ' ');
		if (!sp)
			continue;
		*sp = '\0';
		n = 0;
		/* reversed: innermost first */
		while (n < 256 && (p = strrchr(line, ';'))) {
			fr[n++] = p + 1;
			*p = '\0';
		}
		if (n < 256)
			fr[n++] = line;
		tab_add(t, fr, n, atoll(sp + 1));
	}
}

/*
 * `perf script -F pid,time,ip,sym`: a header line a sample, "<pid>
 * <seconds>:", then its frames innermost first, "\t<ip> <sym>", then a
 * blank line. Only samples taken from @from to @to (seconds of the
 * clock perf record ran with) count. Inlined frames (perf reads them from
 * DWARF) are left out: kholmes shows none.
 */
static void tab_perf(struct share_tab *t, char *text, double from, double to)
{
	char *line, *next, *fr[256], *p;
	double ts;
	int n = -1;

	for (line = text; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (line[0] != '\t') {
			if (n > 0)
				tab_add(t, fr, n, 1);
			n = -1;
			if (sscanf(line, "%*d %lf:", &ts) == 1 &&
			    ts >= from && ts <= to)
				n = 0;
			continue;
		}
		if (n < 0 || n == 256)
			continue;
		p = line + strspn(line, "\t ");
		p += strcspn(p, " ");
		p += strspn(p, " ");
		if (!*p || strstr(p, " (inlined)"))
			continue;
		fr[n++] = p;
	}
	if (n > 0)
		tab_add(t, fr, n, 1);
}

/*
 * Each of @a's top five named functions by self (@cum: cumulative)
 * share has the same share in @b within @pts points, or within 4.5
 * standard errors of the difference of two shares drawn from samples of
 * these sizes where that is wider; logged.
 *
 * Each sampler's share of a function is a binomial estimate: at 1,500
 * samples each and a share near 50 %, the difference of two such
 * estimates has a standard error of 1.8 points, so 5 points is under 3
 * of them. Over 27 runs of 3 s windows the differences had a mean of
 * +0.9 and a spread of 1.6 points: sampling noise, and one CI run in
 * about thirty saw 5.8.
 */
static int tab_agree(struct __test_metadata *_metadata, struct share_tab *a,
		     struct share_tab *b, bool cum, double pts)
{
	bool used[TAB_MAX] = { false };
	int k, i, best, bad = 0;
	double pa, pb, p, tol;

	for (k = 0; k < 5; k++) {
		best = -1;
		for (i = 0; i < a->n; i++) {
			if (used[i] || !strcmp(a->e[i].name, "[unknown]"))
				continue;
			if (best < 0 || (cum ? a->e[i].cum > a->e[best].cum :
					       a->e[i].self > a->e[best].self))
				best = i;
		}
		if (best < 0)
			break;
		used[best] = true;
		pa = tab_pct(a, a->e[best].name, cum);
		pb = tab_pct(b, a->e[best].name, cum);
		p = (pa + pb) / 200;
		tol = 4.5 * 100 * sqrt(p * (1 - p) *
				       (1.0 / a->total + 1.0 / b->total));
		if (tol < pts)
			tol = pts;
		TH_LOG("%s %-32s perf %5.1f %%  kholmes %5.1f %%  (within %.1f)",
		       cum ? "cum " : "self", a->e[best].name, pa, pb, tol);
		if (pa - pb > tol || pb - pa > tol)
			bad++;
	}
	return bad;
}

/* ------------------------------------------------------------------ */
/* the programs */

/* Copy @from to @to, making its directories. 0, or -1. */
static int copy_file(const char *from, const char *to)
{
	char dir[PATH_MAX], *slash, *buf;
	size_t len;
	FILE *f;
	int ok;

	snprintf(dir, sizeof(dir), "%s", to);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		if (khm_mkdir_p(dir))
			return -1;
	}
	buf = khm_slurp(from, &len);
	if (!buf)
		return -1;
	f = fopen(to, "w");
	ok = f && fwrite(buf, 1, len, f) == len;
	if (f && fclose(f))
		ok = 0;
	free(buf);
	return ok ? 0 : -1;
}

/*
 * Start @argv (from $PATH) with its stdout on a pipe and its stderr in
 * @errlog, killed with the test however it ends, and wait for a line
 * starting with @until. 0, or -1.
 */
static int spawn_until(struct kt_wl *w, const char *until, const char *errlog,
		       char *const argv[])
{
	pid_t parent = getpid(), pid;
	int p[2];

	memset(w, 0, sizeof(*w));
	w->pid = -1;
	w->out = -1;
	snprintf(w->name, sizeof(w->name), "%s", argv[0]);
	if (pipe2(p, O_CLOEXEC))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		int fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		kt_die_with(parent);
		dup2(p[1], STDOUT_FILENO);
		if (fd >= 0)
			dup2(fd, STDERR_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	w->pid = pid;
	w->out = p[0];
	return kt_wl_wait(w, until, 20000, NULL, 0);
}

/*
 * A HEAD-like GET of http://127.0.0.1:@port@path: the status code, or -1
 * when nothing answers.
 */
static int http_status(int port, const char *path)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 5 };
	char req[512], resp[64];
	int fd, code = -1;
	ssize_t n;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto out;
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	if (write(fd, req, n) != n)
		goto out;
	n = read(fd, resp, sizeof(resp) - 1);
	if (n < 12)
		goto out;
	resp[n] = '\0';
	if (sscanf(resp, "HTTP/%*d.%*d %d", &code) != 1)
		code = -1;
out:
	close(fd);
	return code;
}

/*
 * How many times debuginfod's log (-v) says it answered GET @req with 200
 * to a client that says who it is (libdebuginfod does, this test not).
 */
static int served_gets(const char *log, const char *req)
{
	char *text = khm_slurp(log, NULL), *line, *save = NULL;
	int n = 0;

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (strstr(line, req) && strstr(line, " 200 ") &&
		    !strstr(line, "UA: XFF"))
			n++;
	free(text);
	return n;
}

/* ------------------------------------------------------------------ */

FIXTURE(sym) {
	struct kt_saved state;
	struct kt_wl wl;
	struct kt_wl server;
	char dir[PATH_MAX];
	char installed[PATH_MAX];	/* a debug file this test put there */
};

static void drain(const char *dir)
{
	char d[PATH_MAX + 16];

	snprintf(d, sizeof(d), "%s/drain", dir);
	if (khm_mkdir_p(d) || khm_pull(d))
		fprintf(stderr, "# sym: could not drain the queue into %s\n", d);
}

FIXTURE_SETUP(sym)
{
	self->wl = (struct kt_wl)KT_WL_INIT;
	self->server = (struct kt_wl)KT_WL_INIT;
	snprintf(self->dir, sizeof(self->dir), SYM_ROOT "/%s", _metadata->name);
	ASSERT_EQ(0, khm_mkdir_p(self->dir));
	ASSERT_EQ(0, kt_saved_take(&self->state));
	/* no automatic profile takes the one slot: nothing watched, no rule */
	ASSERT_EQ(0, kt_watch_none());
	ASSERT_EQ(0, kt_rules_only("cpu", "min 50"));
	ASSERT_EQ(0, kt_ctl("rule set cpu off"));
	ASSERT_EQ(0, kt_ctl("config set enabled on profiles on max-queue-kb 16384 cpu-max 0"));
	ASSERT_EQ(0, prof_quiesce());
	drain(self->dir);
}

FIXTURE_TEARDOWN_PARENT(sym)
{
	kt_wl_stop(&self->wl);
	kt_wl_stop(&self->server);
	if (self->installed[0])
		unlink(self->installed);
	drain(self->dir);
	EXPECT_EQ(0, kt_saved_put(&self->state));
}

/*
 * A SYM_S s CPU profile at SYM_HZ of self->wl, queued (not pulled: the
 * caller sets up what kholmesctl symbolizes with first). Its id.
 */
static long long profile_wl(struct __test_metadata *_metadata,
			    FIXTURE_DATA(sym) *self)
{
	struct json_object *pc;
	long long id;
	int ret;

	id = profile_start(&ret, NULL, "pid %d seconds %d hz %d",
			   (int)self->wl.pid, SYM_S, SYM_HZ);
	EXPECT_LT(0, id) TH_LOG("kholmesctl profile: exit %d", ret);
	if (id <= 0)
		return -1;
	pc = khm_capture_wait(id, 15000);
	EXPECT_NE(NULL, pc);
	json_object_put(pc);
	kt_wl_stop(&self->wl);
	return pc ? id : -1;
}

/* Pull into self->dir and load profile @id's files. */
static void pull_load(struct __test_metadata *_metadata,
		      FIXTURE_DATA(sym) *self, long long id,
		      struct prof_files *f)
{
	ASSERT_EQ(0, khm_pull(self->dir));
	prof_files_load(_metadata, self->dir, id, "cpu", f);
}

/* The share of samples with @func, logged; *@total the samples. */
static double share(struct __test_metadata *_metadata,
		    const struct prof_files *f, const char *func,
		    long long *total)
{
	long long with;
	char top[1024];

	folded_stats(f->folded, func, total, &with, top, sizeof(top));
	TH_LOG("%s: %lld of %lld samples hold %s; top: %s",
	       strrchr(f->folded_path, '/') + 1, with, *total, func, top);
	return *total ? (double)with / *total : 0;
}

/*
 * Issue 15 point 4 on a C++ program built without frame pointers: every
 * file names the template instance as its source spells it, the pprof
 * keeps the mangled name as system_name, and the CFI walk reaches main.
 */
TEST_F_TIMEOUT(sym, cpp_demangled, SYM_TIMEOUT)
{
	struct json_object *fr;
	struct prof_files f;
	long long total, id;

	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 10000, "sym_cpp", NULL));
	id = profile_wl(_metadata, self);
	ASSERT_LT(0, id);
	pull_load(_metadata, self, id, &f);

	EXPECT_LE(0.95, share(_metadata, &f, "main", &total));
	EXPECT_LT(50, total);
	EXPECT_LE(0.80, share(_metadata, &f, CHURN, &total));
	EXPECT_LE(0.95, share(_metadata, &f, RUN, &total));
	EXPECT_LT(0, khm_json_int(f.prof, "unwound-dwarf"));
	/* no name left mangled where a person reads */
	EXPECT_EQ(NULL, strstr(f.folded, "_ZN5khsym"));
	EXPECT_EQ(NULL, strstr(f.txt, "_ZN5khsym"));
	EXPECT_NE(NULL, strstr(f.txt, CHURN));
	EXPECT_NE(NULL, strstr(f.txt, RUN));
	/* the .json: the name, and the mangled one beside it */
	fr = json_frame(&f, CHURN);
	ASSERT_NE(NULL, fr) TH_LOG("no frame named %s in %s", CHURN, f.json_path);
	EXPECT_STREQ(CHURN_SYS, khm_json_str(fr, "system-name") ?: "(none)");
	fr = json_frame(&f, "main");
	ASSERT_NE(NULL, fr);
	EXPECT_EQ(NULL, khm_json_str(fr, "system-name"));
	/* the .pb.gz: Function.name demangled, system_name mangled */
	EXPECT_EQ(1, pb_has_function(f.pb_path, CHURN, CHURN_SYS));
	EXPECT_EQ(1, pb_has_function(f.pb_path, RUN, RUN_SYS));
	EXPECT_EQ(1, pb_has_function(f.pb_path, "main", "main"));
	prof_files_free(&f);
}

/* sym_stripped's build-id, and where its debug file goes by it. */
static void stripped_ids(struct __test_metadata *_metadata, char *bin,
			 char *dbg, char *id, char *dest)
{
	char did[128];

	snprintf(bin, PATH_MAX, "%s/sym_stripped", kt_wl_dir());
	snprintf(dbg, PATH_MAX, "%s/sym_stripped.debug", kt_wl_dir());
	ASSERT_EQ(0, elf_build_id(bin, id, 128)) TH_LOG("%s: no build-id", bin);
	ASSERT_EQ(0, elf_build_id(dbg, did, sizeof(did)));
	ASSERT_STREQ(id, did);
	snprintf(dest, PATH_MAX, DEBUG_ROOT "/.build-id/%.2s/%s.debug", id,
		 id + 2);
	ASSERT_NE(0, access(dest, F_OK))
		TH_LOG("%s is there before the test", dest);
}

/* The checks of sym_stripped's profile, its frames named. */
static void check_stripped_named(struct __test_metadata *_metadata,
				 const struct prof_files *f, const char *id)
{
	struct json_object *fr;
	long long total;

	EXPECT_LE(0.95, share(_metadata, f, "main", &total));
	EXPECT_LT(50, total);
	EXPECT_LE(0.95, share(_metadata, f, "sym_middle", &total));
	EXPECT_LE(0.80, share(_metadata, f, "sym_leaf", &total));
	EXPECT_LT(0, khm_json_int(f->prof, "unwound-dwarf"));
	EXPECT_NE(NULL, strstr(f->txt, "sym_leaf"));
	fr = json_frame(f, "sym_leaf");
	ASSERT_NE(NULL, fr);
	EXPECT_STREQ(id, khm_json_str(fr, "build-id") ?: "(none)");
	EXPECT_EQ(1, pb_has_function(f->pb_path, "sym_leaf", "sym_leaf"));
}

/*
 * Issue 15 point 4: a binary stripped to .dynsym is symbolized from its
 * separate debug file under /usr/lib/debug/.build-id/.
 */
TEST_F_TIMEOUT(sym, stripped_from_debug_file, SYM_TIMEOUT)
{
	char bin[PATH_MAX], dbg[PATH_MAX], id[128];
	struct prof_files f;
	long long pid;

	stripped_ids(_metadata, bin, dbg, id, self->installed);
	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 10000, "sym_stripped",
				 NULL));
	pid = profile_wl(_metadata, self);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, copy_file(dbg, self->installed));
	TH_LOG("build-id %s, debug file %s", id, self->installed);
	pull_load(_metadata, self, pid, &f);
	check_stripped_named(_metadata, &f, id);
	prof_files_free(&f);
}

/*
 * Without the debug file nothing names sym_stripped's frames, and each
 * keeps its file, a file offset and the build-id: from those alone this
 * test names them out of the debug file, as a later symbolization would,
 * and they are the functions the program runs, down to main.
 */
TEST_F_TIMEOUT(sym, stripped_keeps_offsets, SYM_TIMEOUT)
{
	char bin[PATH_MAX], dbg[PATH_MAX], id[128], dest[PATH_MAX], fn[128];
	char pfx[PATH_MAX + 4];
	long long total = 0, leaf = 0, to_main = 0, named = 0, pid;
	struct json_object *st;
	struct prof_files f;
	size_t i, j;

	stripped_ids(_metadata, bin, dbg, id, dest);
	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 10000, "sym_stripped",
				 NULL));
	pid = profile_wl(_metadata, self);
	ASSERT_LT(0, pid);
	pull_load(_metadata, self, pid, &f);

	st = khm_json_get(f.prof, "stacks");
	for (i = 0; i < array_len(st); i++) {
		struct json_object *s = json_object_array_get_idx(st, i);
		struct json_object *u = khm_json_get(s, "ustack");
		long long c = khm_json_int(s, "count");
		bool has_main = false;

		total += c;
		for (j = 0; j < array_len(u); j++) {
			struct json_object *fr = json_object_array_get_idx(u, j);
			const char *path = khm_json_str(fr, "path");
			long long off = khm_json_int(fr, "file-offset");
			unsigned long long addr;

			if (!path || strcmp(path, bin))
				continue;
			if (khm_json_str(fr, "func"))
				named++;
			EXPECT_STREQ(id, khm_json_str(fr, "build-id") ?: "(none)");
			ASSERT_LE(0, off) TH_LOG("no file-offset: %s",
						 json_object_to_json_string(fr));
			/* a caller's is a return address: its call is before */
			addr = elf_off_to_addr(bin, j ? off - 1 : off);
			elf_func_at(dbg, addr, fn, sizeof(fn));
			if (!j && !strcmp(fn, "sym_leaf"))
				leaf += c;
			if (!strcmp(fn, "main"))
				has_main = true;
		}
		if (has_main)
			to_main += c;
	}
	TH_LOG("%lld samples: %lld with the leaf at an offset of sym_leaf, %lld reach an offset of main; %lld frames of %s named",
	       total, leaf, to_main, named, bin);
	EXPECT_LT(50, total);
	EXPECT_EQ(0, named);
	EXPECT_LE(total * 80, leaf * 100);
	EXPECT_LE(total * 95, to_main * 100);
	/* the .folded says path+offset */
	snprintf(pfx, sizeof(pfx), "%s+0x", bin);
	EXPECT_NE(NULL, strstr(f.folded, pfx));
	EXPECT_EQ(NULL, strstr(f.folded, "sym_leaf"));
	prof_files_free(&f);
}

/*
 * Issue 15 point 4: with DEBUGINFOD_URLS set, kholmesctl asks Debian's
 * debuginfod, here on 127.0.0.1 serving a directory with the debug file,
 * and names the stripped binary's frames with what it sends.
 */
TEST_F_TIMEOUT(sym, debuginfod, SYM_TIMEOUT)
{
	char bin[PATH_MAX], dbg[PATH_MAX], id[128], dest[PATH_MAX];
	char srv[PATH_MAX + 8], db[PATH_MAX + 16], cache[PATH_MAX + 16];
	char url[64], req[256], fetched[PATH_MAX + 160], log[PATH_MAX + 16];
	char port[16];
	char *argv[] = { "debuginfod", "-F", srv, "-p", port, "-d", db,
			 "-t", "0", "-g", "0", "-v", NULL };
	long long end, pid;
	struct prof_files f;
	pid_t parent = getpid(), srv_pid;
	int code = -1, fd, served;
	char *err = NULL;

	if (access("/bin/debuginfod", X_OK))
		SKIP(return, "no debuginfod in the VM (symbols_test.extra)");
	stripped_ids(_metadata, bin, dbg, id, dest);
	snprintf(srv, sizeof(srv), "%s/srv", self->dir);
	snprintf(db, sizeof(db), "%s/db.sqlite", self->dir);
	snprintf(cache, sizeof(cache), "%s/cache", self->dir);
	snprintf(log, sizeof(log), "%s/debuginfod.log", self->dir);
	snprintf(port, sizeof(port), "%d", DBGD_PORT);
	snprintf(fetched, sizeof(fetched), "%s/srv/sym_stripped.debug",
		 self->dir);
	ASSERT_EQ(0, copy_file(dbg, fetched));

	fflush(stdout);
	fflush(stderr);
	srv_pid = fork();
	ASSERT_LE(0, srv_pid);
	if (!srv_pid) {
		kt_die_with(parent);
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	kt_wl_adopt(&self->server, srv_pid);
	/* up, and its first scan has indexed the debug file */
	snprintf(req, sizeof(req), "/buildid/%s/debuginfo", id);
	for (end = kt_now_ms() + 30000; kt_now_ms() < end;) {
		code = http_status(DBGD_PORT, req);
		if (code == 200)
			break;
		kt_sleep_ms(100);
	}
	ASSERT_EQ(200, code) TH_LOG("debuginfod: GET %s: %d (log: %s)", req,
				     code, log);

	ASSERT_EQ(0, kt_wl_start(&self->wl, "ready", 10000, "sym_stripped",
				 NULL));
	pid = profile_wl(_metadata, self);
	ASSERT_LT(0, pid);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", DBGD_PORT);
	ASSERT_EQ(0, setenv("DEBUGINFOD_URLS", url, 1));
	ASSERT_EQ(0, setenv("DEBUGINFOD_CACHE_PATH", cache, 1));
	ASSERT_EQ(0, setenv("DEBUGINFOD_VERBOSE", "1", 1));
	code = khm_run(NULL, &err, "pull --dir %s", self->dir);
	unsetenv("DEBUGINFOD_URLS");
	unsetenv("DEBUGINFOD_VERBOSE");
	ASSERT_EQ(0, code) TH_LOG("pull: %s", khm_oneline(err));
	prof_files_load(_metadata, self->dir, pid, "cpu", &f);
	served = served_gets(log, req);
	TH_LOG("debuginfod served %d GET %s to others than this test", served,
	       req);
	if (!served)
		TH_LOG("kholmesctl pull said: %s", khm_oneline(err));
	free(err);
	EXPECT_LE(1, served);
	check_stripped_named(_metadata, &f, id);
	/* it came from the server: libdebuginfod's cache holds it */
	snprintf(fetched, sizeof(fetched), "%s/%s/debuginfo", cache, id);
	EXPECT_EQ(0, access(fetched, R_OK)) TH_LOG("no %s", fetched);
	/* and from nowhere else */
	EXPECT_NE(0, access(dest, F_OK));
	prof_files_free(&f);
}

/* python3 in self->wl, up to its "ready"; 0, or -1 with its stderr logged */
static int start_python(struct __test_metadata *_metadata,
			FIXTURE_DATA(sym) *self, char *argv[])
{
	char errlog[PATH_MAX + 16], *said;

	snprintf(errlog, sizeof(errlog), "%s/python3.stderr", self->dir);
	if (!spawn_until(&self->wl, "ready", errlog, argv))
		return 0;
	said = khm_slurp(errlog, NULL);
	TH_LOG("python3 did not start: %s", khm_oneline(said));
	free(said);
	return -1;
}

/*
 * Issue 15 point 1 on Debian's python3 (no frame pointers, stripped to
 * .dynsym): at least 95 % of the samples of it spinning reach
 * Py_BytesMain. python's main is "jmp Py_BytesMain", a tail call: no
 * stack of python has main on it, perf's neither.
 */
TEST_F_TIMEOUT(sym, python_whole_stacks, SYM_TIMEOUT)
{
	char *argv[] = { "python3", "-I", "-S", "-c",
			 "print('ready', flush=True)\n"
			 "def khsym_spin():\n"
			 "    while True:\n"
			 "        pass\n"
			 "khsym_spin()\n", NULL };
	struct prof_files f;
	long long total, id;

	if (access("/bin/python3", X_OK))
		SKIP(return, "no python3 in the VM (symbols_test.extra)");
	ASSERT_EQ(0, start_python(_metadata, self, argv));
	id = profile_wl(_metadata, self);
	ASSERT_LT(0, id);
	pull_load(_metadata, self, id, &f);
	EXPECT_LE(0.95, share(_metadata, &f, "Py_BytesMain", &total));
	EXPECT_LT(50, total);
	EXPECT_LE(0.80, share(_metadata, &f, "_PyEval_EvalFrameDefault", &total));
	EXPECT_LT(0, khm_json_int(f.prof, "unwound-dwarf"));
	prof_files_free(&f);
}

/*
 * Issue 15 point 1 for page-fault profiles: every fault of Debian's
 * python3 (no frame pointers) taking new pages, a MiB a call written by
 * bytes' repeat into memory malloc() just mapped (32 kept, the oldest
 * unmapped), sampled with its whole stack: at least 95 % reach
 * Py_BytesMain, as in the CPU profile above, and the stacks hold the
 * interpreter's loop and the copy into the new pages.
 */
TEST_F_TIMEOUT(sym, python_faults_whole_stacks, SYM_TIMEOUT)
{
	char *argv[] = { "python3", "-I", "-S", "-c",
			 "print('ready', flush=True)\n"
			 "def khsym_touch(keep, i):\n"
			 "    keep[i % 32] = b'x' * (1 << 20)\n"
			 "def khsym_grow():\n"
			 "    keep = [None] * 32\n"
			 "    i = 0\n"
			 "    while True:\n"
			 "        khsym_touch(keep, i)\n"
			 "        i += 1\n"
			 "khsym_grow()\n", NULL };
	struct json_object *pc;
	struct prof_files f;
	long long total, id;
	int ret;

	if (access("/bin/python3", X_OK))
		SKIP(return, "no python3 in the VM (symbols_test.extra)");
	ASSERT_EQ(0, start_python(_metadata, self, argv));
	id = profile_start(&ret, NULL, "pid %d faults seconds %d",
			   (int)self->wl.pid, SYM_S);
	ASSERT_LT(0, id) TH_LOG("kholmesctl profile: exit %d", ret);
	pc = khm_capture_wait(id, 15000);
	ASSERT_NE(NULL, pc);
	EXPECT_STREQ("faults", khm_json_str(pc, "profile-kind") ?: "(none)");
	json_object_put(pc);
	kt_wl_stop(&self->wl);
	ASSERT_EQ(0, khm_pull(self->dir));
	prof_files_load(_metadata, self->dir, id, "faults", &f);
	TH_LOG("module: %lld samples, %lld unwound from stack copies, %lld given their walks",
	       khm_json_int(f.prof, "samples"),
	       khm_json_int(f.prof, "unwound-dwarf"),
	       khm_json_int(f.prof, "attributed-dwarf"));
	EXPECT_LE(0.95, share(_metadata, &f, "Py_BytesMain", &total));
	/* 256 faults a MiB: thousands in 2 s even under TCG */
	EXPECT_LT(200, total);
	EXPECT_LE(0.80, share(_metadata, &f, "_PyEval_EvalFrameDefault", &total));
	EXPECT_LT(0, khm_json_int(f.prof, "unwound-dwarf"));
	/* more faults than the pool holds copies: the rest follow them */
	EXPECT_LT(0, khm_json_int(f.prof, "attributed-dwarf"));
	prof_files_free(&f);
}

/*
 * Wait until a child of @parent runs @comm (its exec done). 0, or -1
 * after @timeout_ms.
 */
static int wait_child(pid_t parent, const char *comm, int timeout_ms)
{
	long long end = kt_now_ms() + timeout_ms;
	char path[300], buf[512], name[64], *p;
	struct dirent *d;
	int ppid;
	DIR *dir;

	do {
		dir = opendir("/proc");
		while (dir && (d = readdir(dir))) {
			if (d->d_name[0] < '1' || d->d_name[0] > '9')
				continue;
			snprintf(path, sizeof(path), "/proc/%s/stat", d->d_name);
			if (khm_read_file(path, buf, sizeof(buf)) <= 0)
				continue;
			p = strrchr(buf, ')');
			if (!p || sscanf(p + 2, "%*c %d", &ppid) != 1 ||
			    ppid != parent)
				continue;
			snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
			if (khm_read_file(path, name, sizeof(name)) <= 0)
				continue;
			name[strcspn(name, "\n")] = '\0';
			if (!strcmp(name, comm)) {
				closedir(dir);
				return 0;
			}
		}
		if (dir)
			closedir(dir);
		kt_sleep_ms(20);
	} while (kt_now_ms() < end);
	return -1;
}

/*
 * One round: a fresh perl spinning, sampled by perf record and a kholmes
 * profile at once, perf's samples taken from the stretch kholmes' ran;
 * added to the tables @pt (perf) and @kt (kholmes). 0, or -1 when the
 * round could not be run.
 */
static int perl_round(struct __test_metadata *_metadata,
		      FIXTURE_DATA(sym) *self, int round,
		      struct share_tab *pt, struct share_tab *kt)
{
	char *argv[] = { "perl", "-e", "$| = 1; print qq(ready\n); 1 while 1",
			 NULL };
	char data[PATH_MAX + 32], plog[PATH_MAX + 32], perrs[PATH_MAX + 32];
	char cmd[4 * PATH_MAX + 160], *perf_argv[] = { "perf", "record", "-q",
		"-N", "-e", "cpu-clock", "-F", "999", "-a", "-k",
		"CLOCK_MONOTONIC", "--call-graph", "dwarf,8192", "-o", data,
		"--", "sleep", "7", NULL };
	long long id, perf_n = pt->total, kholmes_n = kt->total;
	char *text = NULL, *folded = NULL;
	struct prof_files f = { 0 };
	pid_t perf, parent = getpid(), perl;
	struct json_object *pc;
	double t0, t1, dur;
	int ret, fd, err = -1;

	snprintf(data, sizeof(data), "%s/perf-%d.data", self->dir, round);
	snprintf(plog, sizeof(plog), "%s/perf-%d.log", self->dir, round);
	snprintf(perrs, sizeof(perrs), "%s/perl-%d.stderr", self->dir, round);
	if (spawn_until(&self->wl, "ready", perrs, argv)) {
		TH_LOG("round %d: perl did not start", round);
		return -1;
	}
	perl = self->wl.pid;

	fflush(stdout);
	fflush(stderr);
	perf = fork();
	if (perf < 0)
		return -1;
	if (!perf) {
		kt_die_with(parent);
		fd = open(plog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execvp(perf_argv[0], perf_argv);
		_exit(127);
	}
	/* perf execs its workload once its events are on */
	if (wait_child(perf, "sleep", 30000)) {
		TH_LOG("round %d: perf record did not start: see %s", round, plog);
		return -1;
	}
	t0 = kt_now_ms() / 1e3;	/* CLOCK_MONOTONIC, as perf's -k */
	id = profile_start(&ret, NULL, "pid %d seconds 6 hz 997", (int)perl);
	t1 = kt_now_ms() / 1e3;
	EXPECT_LT(0, id) TH_LOG("kholmesctl profile: exit %d", ret);
	/*
	 * This test stays idle meanwhile: polling with kholmesctl (an exec
	 * every 20 ms) put 10-15 % of perl's samples in the kernel
	 * (handle_softirqs, irqentry_exit_to_user_mode), where perf's had 1 %.
	 */
	EXPECT_EQ(perf, waitpid(perf, &ret, 0));
	EXPECT_EQ(0, ret) TH_LOG("perf record: status %d, see %s", ret, plog);
	if (id <= 0)
		return -1;
	pc = khm_capture_wait(id, 15000);
	EXPECT_NE(NULL, pc);
	if (!pc)
		return -1;
	json_object_put(pc);
	kt_wl_stop(&self->wl);
	pull_load(_metadata, self, id, &f);
	if (!f.prof)
		goto out;

	snprintf(cmd, sizeof(cmd),
		 "perf script --no-inline -i %s -F pid,time,ip,sym --pid %d >%s/perf-%d.script 2>>%s",
		 data, (int)perl, self->dir, round, plog);
	ret = system(cmd);
	if (ret) {
		char *l = khm_slurp(plog, NULL);

		TH_LOG("%s: status %d; perf.log: %s", cmd, ret, khm_oneline(l));
		free(l);
		goto out;
	}
	snprintf(cmd, sizeof(cmd), "%s/perf-%d.script", self->dir, round);
	text = khm_slurp(cmd, NULL);
	folded = strdup(f.folded);
	if (!text || !folded)
		goto out;
	/*
	 * kholmes sampled from a moment between t0 and t1 for dur: perf's
	 * samples of that stretch (perf ran on either side of it)
	 */
	dur = khm_json_int(f.prof, "duration-ns") / 1e9;
	tab_perf(pt, text, t0, t1 + dur);
	tab_folded(kt, folded);
	perf_n = pt->total - perf_n;
	kholmes_n = kt->total - kholmes_n;
	TH_LOG("round %d: kholmes' start took %.0f ms, it ran %.3f s; perf: %lld samples of perl then; kholmes: %lld, unwound by CFI %lld, stack copies lost %lld",
	       round, (t1 - t0) * 1000, dur, perf_n, kholmes_n,
	       khm_json_int(f.prof, "unwound-dwarf"),
	       khm_json_int(f.prof, "stack-copies-lost"));
	EXPECT_LT(2000, perf_n);
	EXPECT_LT(2000, kholmes_n);
	if (perf_n > 2000 && kholmes_n > 2000)
		err = 0;
out:
	kt_wl_stop(&self->wl);
	free(folded);
	free(text);
	prof_files_free(&f);
	return err;
}

/*
 * Issue 15 point 1: the stacks agree with perf record --call-graph dwarf
 * of the same program in the same VM: Debian's perl spinning, sampled 6 s
 * by both at once with the same kind of event (cpu-clock on every CPU, as
 * kholmes' is), and perf's top five functions by self and by cumulative
 * share have the same shares in kholmes' profile within 5 points (or
 * 4.5 standard errors of the difference where that is wider: see
 * tab_agree()).
 *
 * At once, because under TCG what a function costs is host time, which
 * drifts with the host's load: two 3 s windows one after the other put
 * Perl_pp_unstack at 66.7 % and 73.8 %. At 999 and 997 Hz, so that
 * neither sampler keeps landing just after the other's interrupt. perf
 * runs on either side of kholmes' profile and only its samples of the
 * same stretch count (perf record -k CLOCK_MONOTONIC, kholmes' clock).
 *
 * Even so, the two samplers of one run disagree by more than binomial
 * noise: Perl_runops_standard and Perl_pp_unstack, which between them
 * take all of perl's samples, split 40/60 in one run and 66/34 in the
 * next (the split is where TCG ends its translation blocks), and over 22
 * rounds on 6.12-rt the two samplers' shares of Perl_pp_unstack differed
 * by -0.3 points on average with a standard deviation of 1.6 and up to
 * 4.0, where ~5,500 samples each would give 0.9; one CI run saw 5.4. So
 * a round that disagrees is not the verdict: up to PERF_ROUNDS rounds,
 * each with a fresh perl, are pooled (perf's samples and kholmes' summed
 * over the rounds) and the pool is judged, its spread a factor of
 * sqrt(rounds) narrower. A kholmes that misattributes 5 points or more
 * disagrees in the pool as in every round.
 */
#define PERF_ROUNDS	3

TEST_F_TIMEOUT(sym, perl_agrees_with_perf, 2 * SYM_TIMEOUT)
{
	struct share_tab *pt, *kt;
	int round, bad = 0;

	if (access("/bin/perf", X_OK))
		SKIP(return, "no perf in the VM (symbols_test.extra)");
	if (access("/bin/perl", X_OK))
		SKIP(return, "no perl in the VM (KHM_EXTRA_BINS)");
	/*
	 * A stack copy for most samples: the pool holds a quarter of
	 * max-queue-kb, 4,096 copies of 8 KiB at 128 MiB; the rest keep the
	 * frame-pointer walk, which perl's code defeats, and follow the
	 * copies of their stack
	 */
	ASSERT_EQ(0, kt_ctl("config set max-queue-kb 131072"));
	pt = calloc(1, sizeof(*pt));
	kt = calloc(1, sizeof(*kt));
	ASSERT_TRUE(pt && kt);
	for (round = 0; round < PERF_ROUNDS; round++) {
		ASSERT_EQ(0, perl_round(_metadata, self, round, pt, kt))
			TH_LOG("round %d did not run", round);
		bad = tab_agree(_metadata, pt, kt, false, 5) +
		      tab_agree(_metadata, pt, kt, true, 5);
		if (!bad)
			break;
		if (round + 1 < PERF_ROUNDS)
			TH_LOG("%d function%s disagreed over %d round%s: one more round, pooled",
			       bad, bad == 1 ? "" : "s", round + 1,
			       round ? "s" : "");
	}
	EXPECT_EQ(0, bad);
	free(pt);
	free(kt);
}

KT_FILES_TEST(SYM_ROOT)

TEST_HARNESS_MAIN
