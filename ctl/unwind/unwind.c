// SPDX-License-Identifier: GPL-2.0
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>

#include "demangle.h"
#include "unwind.h"
#include "util.h"

/*
 * libdw (and libelf, which it needs) is loaded when the first capture is
 * unwound, not linked: kholmesctl runs for every `status`, `capture` and
 * poll, and only the runs that write a capture or a profile unwind. The
 * two bring libbz2 and liblzma, whose loading and relocation every other
 * run paid for at its start. Without libdw a
 * capture keeps its frame-pointer walks, unsymbolized, and says why.
 */
#define KH_DW_SONAME "libdw.so.1"

#define KH_DW_SYMS(X)							\
	X(elf_version) X(elf_begin) X(elf_memory) X(elf_kind) X(elf_end) \
	X(dwelf_elf_gnu_build_id) X(dwfl_errmsg)			\
	X(dwfl_begin) X(dwfl_end) X(dwfl_report_begin) X(dwfl_report_end) \
	X(dwfl_linux_proc_maps_report) X(dwfl_getmodules)		\
	X(dwfl_build_id_find_elf) X(dwfl_module_build_id)		\
	X(dwfl_module_report_build_id) X(dwfl_module_info)		\
	X(dwfl_module_getelf) X(dwfl_module_addrinfo) X(dwfl_addrmodule) \
	X(dwfl_attach_state) X(dwfl_thread_state_registers)		\
	X(dwfl_getthread_frames) X(dwfl_frame_pc)

KH_DW_SYMS(KH_DL_DECL)

/*
 * Once per process: 0 when every pointer above is set; else -ENOENT, and
 * why in @err (each capture says it).
 */
static int dw_load(char *err, size_t len)
{
	static const char *const names[] = { KH_DW_SYMS(KH_DL_NAME) };
	static void **const ptrs[] = { KH_DW_SYMS(KH_DL_PTR) };
	static char failed[96];	/* with its prefix, fits unwind_err */
	static bool tried;

	if (!tried) {
		tried = true;
		if (!kh_dl_load(KH_DW_SONAME, names, ptrs,
				sizeof(names) / sizeof(*names), failed,
				sizeof(failed)))
			p_elf_version(EV_CURRENT);
	}
	if (p_elf_version)
		return 0;
	snprintf(err, len, "libdw unavailable: %s", failed);
	return -ENOENT;
}

#define elf_version (*p_elf_version)
#define elf_begin (*p_elf_begin)
#define elf_memory (*p_elf_memory)
#define elf_kind (*p_elf_kind)
#define elf_end (*p_elf_end)
#define dwelf_elf_gnu_build_id (*p_dwelf_elf_gnu_build_id)
#define dwfl_errmsg (*p_dwfl_errmsg)
#define dwfl_begin (*p_dwfl_begin)
#define dwfl_end (*p_dwfl_end)
#define dwfl_report_begin (*p_dwfl_report_begin)
#define dwfl_report_end (*p_dwfl_report_end)
#define dwfl_linux_proc_maps_report (*p_dwfl_linux_proc_maps_report)
#define dwfl_getmodules (*p_dwfl_getmodules)
#define dwfl_build_id_find_elf (*p_dwfl_build_id_find_elf)
#define dwfl_module_build_id (*p_dwfl_module_build_id)
#define dwfl_module_report_build_id (*p_dwfl_module_report_build_id)
#define dwfl_module_info (*p_dwfl_module_info)
#define dwfl_module_getelf (*p_dwfl_module_getelf)
#define dwfl_module_addrinfo (*p_dwfl_module_addrinfo)
#define dwfl_addrmodule (*p_dwfl_addrmodule)
#define dwfl_attach_state (*p_dwfl_attach_state)
#define dwfl_thread_state_registers (*p_dwfl_thread_state_registers)
#define dwfl_getthread_frames (*p_dwfl_getthread_frames)
#define dwfl_frame_pc (*p_dwfl_frame_pc)

#define DELETED	" (deleted)"
/* The only place debug files are looked for: root's, by build-id. */
#define DEBUG_ROOT	"/usr/lib/debug"

unsigned int kh_unwind_budget_ms = KH_UNWIND_BUDGET_MS;

/* One module as libdwfl groups mappings: the consecutive ones of a file. */
struct kh_mod {
	struct kh_unw *u;
	size_t first;			/* index of its first mapping */
	uint64_t high;			/* end of its last mapping */
	int fd;				/* the file accepted, for memory reads */
};

struct kh_unw {
	struct kh_capture *cap;
	Dwfl *dwfl;
	Elf *arch;			/* names the machine to libdw's backend */
	Elf64_Ehdr ehdr;
	struct kh_mod *mods;		/* by first mapping index */
	int *mod_of;			/* per mapping: index in mods, -1 */
	struct kh_thread *cur;		/* the thread being unwound */
	struct kh_thread *one;		/* a profile sample, as a thread */
	size_t next;			/* next_thread's cursor */
	uint64_t deadline;		/* ms, monotonic: the time budget */
	bool expired;			/* spent: no more lookups */
};

/*
 * The budget for unwinding and symbolizing one capture is spent: what was
 * resolved stays, the rest keeps its mapping and file offset, and the
 * capture says so.
 */
static bool spent(struct kh_unw *u)
{
	if (u->expired)
		return true;
	if (kh_now_ms() < u->deadline)
		return false;
	u->expired = true;
	snprintf(u->cap->unwind_err, sizeof(u->cap->unwind_err),
		 "stopped after its time budget of %u ms: the frames not resolved by then are left as file and offset",
		 kh_unwind_budget_ms);
	return true;
}

/* Index of the mapping holding addr, -1 if none; maps are sorted. */
int kh_map_find(const struct kh_capture *cap, uint64_t addr)
{
	size_t lo = 0, hi = cap->nr_maps, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (addr < cap->maps[mid].start)
			hi = mid;
		else if (addr >= cap->maps[mid].end)
			lo = mid + 1;
		else
			return mid;
	}
	return -1;
}

static bool file_backed(const struct kh_mapping *m)
{
	return m->path[0] == '/' && !strchr(m->path, '\n');
}

static void set_state(struct kh_unw *u, const struct kh_mod *mod,
		      enum kh_file_state st, const void *disk_id, size_t len)
{
	struct kh_capture *cap = u->cap;
	const char *path = cap->maps[mod->first].path;
	size_t i;

	for (i = mod->first; i < cap->nr_maps && cap->maps[i].start < mod->high;
	     i++) {
		struct kh_mapping *m = &cap->maps[i];

		if (strcmp(m->path, path))
			continue;
		m->state = st;
		if (disk_id && len <= sizeof(m->disk_build_id)) {
			memcpy(m->disk_build_id, disk_id, len);
			m->disk_build_id_len = len;
		}
	}
}

/*
 * Opens path and keeps it if it is the build the process mapped. The
 * kernel read the build-id from the mapped file itself; a file on disk with
 * another one was replaced since (an upgrade), and its symbols and CFI
 * would be wrong, so it is refused and its frames stay path+offset with the
 * kernel's build-id, for offline symbolization.
 */
static int try_file(struct kh_unw *u, struct kh_mod *mod, const char *path,
		    char **file_name, Elf **elfp)
{
	const struct kh_mapping *m = &u->cap->maps[mod->first];
	const void *id = NULL;
	struct stat st;
	ssize_t len;
	Elf *elf;
	int fd;

	/*
	 * Another user's file: never wait on it (a FIFO put in place of a
	 * deleted binary), never follow its last component, read only a
	 * regular file.
	 */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW |
		  O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		goto fail;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		goto fail;
	if (elf_kind(elf) != ELF_K_ELF)
		goto fail_elf;
	len = dwelf_elf_gnu_build_id(elf, &id);
	if (m->build_id_len &&
	    (len != m->build_id_len || memcmp(id, m->build_id, len))) {
		set_state(u, mod, KH_FILE_MISMATCH, len > 0 ? id : NULL,
			  len > 0 ? (size_t)len : 0);
		goto fail_elf;
	}
	*file_name = strdup(path);
	if (!*file_name)
		goto fail_elf;
	mod->fd = dup(fd);
	*elfp = elf;
	set_state(u, mod, KH_FILE_OK, len > 0 ? id : NULL,
		  len > 0 ? (size_t)len : 0);
	return fd;
fail_elf:
	elf_end(elf);
fail:
	close(fd);
	return -1;
}

/*
 * Dwfl_Callbacks.find_elf: a copy found by build-id (a debug store), then
 * the file through the process's own root (containers), then the path as
 * the host sees it. Without a build-id to check it against, only the
 * host's path is believed: /proc/PID/root may by now be another process's.
 */
static int find_elf(Dwfl_Module *dmod, void **userdata, const char *name,
		    Dwarf_Addr base, char **file_name, Elf **elfp)
{
	struct kh_mod *mod = *userdata;
	const struct kh_mapping *m;
	char path[PATH_MAX], root[PATH_MAX + 32];
	size_t len;
	int fd;

	*elfp = NULL;
	if (!mod || spent(mod->u))
		return -1;
	m = &mod->u->cap->maps[mod->first];
	if (m->build_id_len) {
		fd = dwfl_build_id_find_elf(dmod, userdata, name, base,
					    file_name, elfp);
		if (fd >= 0 && *elfp) {
			mod->fd = dup(fd);
			set_state(mod->u, mod, KH_FILE_OK, m->build_id,
				  m->build_id_len);
			return fd;
		}
		if (fd >= 0)
			close(fd);
		*elfp = NULL;
	}
	snprintf(path, sizeof(path), "%s", name);
	len = strlen(path);
	if (len > strlen(DELETED) && !strcmp(path + len - strlen(DELETED), DELETED))
		path[len - strlen(DELETED)] = '\0';
	if (m->build_id_len) {
		snprintf(root, sizeof(root), "/proc/%" PRIu32 "/root%s",
			 mod->u->cap->sum.pid, path);
		fd = try_file(mod->u, mod, root, file_name, elfp);
		if (fd >= 0)
			return fd;
	}
	fd = try_file(mod->u, mod, path, file_name, elfp);
	if (fd >= 0)
		return fd;
	if (m->state != KH_FILE_MISMATCH)
		set_state(mod->u, mod, KH_FILE_MISSING, NULL, 0);
	return -1;
}

typedef debuginfod_client *(*debuginfod_begin_fn)(void);
typedef int (*debuginfod_find_fn)(debuginfod_client *client,
				  const unsigned char *build_id, int len,
				  char **path);

/*
 * The debug file from the debuginfod servers of $DEBUGINFOD_URLS, by
 * build-id, with libdebuginfod (loaded when first needed: a host without
 * it, or without the variable, looks nowhere). Its timeouts are its own
 * ($DEBUGINFOD_TIMEOUT); files are cached in $DEBUGINFOD_CACHE_PATH or the
 * user's cache. One client for the process, as kholmesctl is one thread.
 */
static int debuginfod_fd(const unsigned char *id, int len, char **path)
{
	static debuginfod_find_fn find;
	static debuginfod_client *client;
	static bool tried;
	const char *urls = getenv("DEBUGINFOD_URLS");
	debuginfod_begin_fn begin;
	void *h;
	int fd;

	if (!urls || !*urls)
		return -1;
	if (!tried) {
		tried = true;
		h = dlopen("libdebuginfod.so.1", RTLD_LAZY | RTLD_LOCAL);
		begin = h ? (debuginfod_begin_fn)dlsym(h, "debuginfod_begin") :
			    NULL;
		find = h ? (debuginfod_find_fn)dlsym(h, "debuginfod_find_debuginfo") :
			   NULL;
		client = begin && find ? begin() : NULL;
	}
	if (!client)
		return -1;
	fd = find(client, id, len, path);
	if (fd < 0) {
		*path = NULL;
		return -1;
	}
	return fd;
}

/*
 * Dwfl_Callbacks.find_debuginfo: DEBUG_ROOT/.build-id/xx/yyyy.debug, then
 * debuginfod when $DEBUGINFOD_URLS names servers, and nowhere else. (A
 * custom find_debuginfo is all libdwfl asks for a module's symbols.) libdw's standard search also looks next to the file and
 * in its .debug directory, which the user who owns the file controls.
 * libdwfl checks that what is found has the module's build-id.
 */
static int find_debuginfo(Dwfl_Module *dmod, void **userdata,
			  const char *modname, Dwarf_Addr base,
			  const char *file_name, const char *debuglink_file,
			  GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	char path[sizeof(DEBUG_ROOT) + 16 + 2 * KHOLMES_BUILD_ID_MAX + 16];
	const unsigned char *id;
	struct kh_mod *mod = *userdata;
	GElf_Addr vaddr;
	struct stat st;
	size_t off;
	int len, i, fd;

	(void)modname, (void)base, (void)file_name, (void)debuglink_file;
	(void)debuglink_crc;
	*debuginfo_file_name = NULL;
	if (mod && spent(mod->u))
		return -1;
	len = dwfl_module_build_id(dmod, &id, &vaddr);
	if (len < 2 || len > KHOLMES_BUILD_ID_MAX)
		return -1;
	off = snprintf(path, sizeof(path), DEBUG_ROOT "/.build-id/%02x/", id[0]);
	for (i = 1; i < len; i++)
		off += snprintf(path + off, sizeof(path) - off, "%02x", id[i]);
	snprintf(path + off, sizeof(path) - off, ".debug");
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return debuginfod_fd(id, len, debuginfo_file_name);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	*debuginfo_file_name = strdup(path);
	return fd;
}

/* dwfl_build_id_find_elf()'s search: the same root only. */
static char debug_root[] = DEBUG_ROOT;
static char *debuginfo_path = debug_root;

static const Dwfl_Callbacks dwfl_cbs = {
	.find_elf = find_elf,
	.find_debuginfo = find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

/* The mappings as /proc/PID/maps text, which libdwfl groups into modules. */
static char *maps_text(const struct kh_capture *cap, size_t *len)
{
	const struct kh_mapping *m;
	char *buf = NULL;
	uint64_t ino;
	size_t i;
	FILE *f;

	f = open_memstream(&buf, len);
	if (!f)
		return NULL;
	for (i = 0; i < cap->nr_maps; i++) {
		m = &cap->maps[i];
		if (!file_backed(m))
			continue;
		/* libdwfl skips inode 0 device 0 as anonymous */
		ino = m->inode ? m->inode : i + 1;
		fprintf(f, "%" PRIx64 "-%" PRIx64 " %c%c%c%c %" PRIx64 " %x:%x %" PRIu64 " %s\n",
			m->start, m->end, m->prot & KHOLMES_MAP_R ? 'r' : '-',
			m->prot & KHOLMES_MAP_W ? 'w' : '-',
			m->prot & KHOLMES_MAP_X ? 'x' : '-',
			m->prot & KHOLMES_MAP_SHARED ? 's' : 'p', m->pgoff,
			m->dev >> 20, m->dev & 0xfffff, ino, m->path);
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int mod_cb(Dwfl_Module *dmod, void **userdata, const char *name,
		  Dwarf_Addr start, void *arg)
{
	struct kh_unw *u = arg;
	struct kh_capture *cap = u->cap;
	struct kh_mapping *m;
	Dwarf_Addr high;
	int i = kh_map_find(cap, start);

	if (i < 0 || cap->maps[i].start != start || strcmp(cap->maps[i].path, name))
		return DWARF_CB_OK;
	m = &cap->maps[i];
	dwfl_module_info(dmod, NULL, NULL, &high, NULL, NULL, NULL, NULL);
	u->mods[i] = (struct kh_mod){ .u = u, .first = i, .high = high, .fd = -1 };
	*userdata = &u->mods[i];
	for (; (size_t)i < cap->nr_maps && cap->maps[i].start < high; i++)
		if (!strcmp(cap->maps[i].path, name))
			u->mod_of[i] = m - cap->maps;
	/* makes libdwfl look the build up in debug stores, and nowhere wrong */
	if (m->build_id_len)
		dwfl_module_report_build_id(dmod, m->build_id, m->build_id_len, 0);
	return DWARF_CB_OK;
}

static int report(struct kh_unw *u)
{
	char *text;
	size_t len, i;
	FILE *f;
	int ret;

	u->mods = calloc(u->cap->nr_maps + 1, sizeof(*u->mods));
	u->mod_of = calloc(u->cap->nr_maps + 1, sizeof(*u->mod_of));
	if (!u->mods || !u->mod_of)
		return -ENOMEM;
	for (i = 0; i < u->cap->nr_maps; i++)
		u->mod_of[i] = -1;
	text = maps_text(u->cap, &len);
	if (!text)
		return -ENOMEM;
	ret = 0;
	dwfl_report_begin(u->dwfl);
	if (len) {
		f = fmemopen(text, len, "r");
		if (!f)
			ret = -ENOMEM;
		else if (dwfl_linux_proc_maps_report(u->dwfl, f))
			ret = -EBADMSG;
		if (f)
			fclose(f);
	}
	dwfl_report_end(u->dwfl, NULL, NULL);
	free(text);
	if (!ret)
		dwfl_getmodules(u->dwfl, mod_cb, u, 0);
	return ret;
}

static struct kh_thread *thread_by_tid(struct kh_unw *u, pid_t tid)
{
	size_t i;

	for (i = 0; i < u->cap->nr_threads; i++)
		if (u->cap->threads[i].tid == (uint32_t)tid)
			return &u->cap->threads[i];
	return NULL;
}

static bool unwindable(const struct kh_thread *t)
{
	return t->has_uregs && !(t->flags & KHOLMES_THREAD_F_NO_USER);
}

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	struct kh_unw *u = arg;
	struct kh_thread *t;

	(void)dwfl;
	while (u->next < u->cap->nr_threads) {
		t = &u->cap->threads[u->next++];
		if (!unwindable(t) || !t->tid)
			continue;
		u->cur = t;
		*thread_argp = u;
		return t->tid;
	}
	return 0;
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	struct kh_unw *u = arg;
	struct kh_thread *t;

	(void)dwfl;
	t = u->one && u->one->tid == (uint32_t)tid ? u->one :
					  thread_by_tid(u, tid);
	if (!t || !unwindable(t))
		return false;
	u->cur = t;
	*thread_argp = u;
	return true;
}

/* A word from file-backed memory: the file at the mapping's offset. */
static bool file_read(struct kh_unw *u, Dwarf_Addr addr, Dwarf_Word *result)
{
	const struct kh_mapping *m;
	Dwfl_Module *dmod;
	struct kh_mod *mod;
	Dwarf_Addr bias;
	int i = kh_map_find(u->cap, addr);

	if (i < 0 || u->mod_of[i] < 0)
		return false;
	m = &u->cap->maps[i];
	if (addr + sizeof(*result) > m->end)
		return false;
	mod = &u->mods[u->mod_of[i]];
	if (mod->fd < 0) {
		/* opening the module runs find_elf, which checks the build */
		dmod = dwfl_addrmodule(u->dwfl, addr);
		if (dmod)
			dwfl_module_getelf(dmod, &bias);
	}
	if (mod->fd < 0)
		return false;
	return pread(mod->fd, result, sizeof(*result), addr - m->start + m->pgoff) ==
	       sizeof(*result);
}

/* The stack copy [sp, sp + valid) first; it is the thread's own memory. */
static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result,
			void *arg)
{
	struct kh_unw *u = arg;
	const struct kh_thread *t = u->cur;

	(void)dwfl;
	if (spent(u))
		return false;
	if (t && t->ustack && addr >= t->ustack_sp &&
	    t->ustack_valid >= sizeof(*result) &&
	    addr - t->ustack_sp <= t->ustack_valid - sizeof(*result)) {
		memcpy(result, t->ustack + (addr - t->ustack_sp), sizeof(*result));
		return true;
	}
	return file_read(u, addr, result);
}

/* KHOLMES_THREAD_UREGS is in DWARF order already, rip as 16. */
static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct kh_unw *u = arg;
	Dwarf_Word regs[KHOLMES_NR_UREGS];
	size_t i;

	for (i = 0; i < KHOLMES_NR_UREGS; i++)
		regs[i] = u->cur->uregs[i];
	return dwfl_thread_state_registers(thread, 0, KHOLMES_NR_UREGS, regs);
}

static const Dwfl_Thread_Callbacks thread_cbs = {
	.next_thread = next_thread,
	.get_thread = get_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

/* Capacity is implied by n: 8, then powers of two. */
static int push_frame(struct kh_ustack *us, uint64_t pc, bool activation)
{
	if (kh_grow_implied(&us->f, us->n, sizeof(*us->f)))
		return -ENOMEM;
	us->f[us->n++] = (struct kh_uframe){ .pc = pc, .activation = activation,
					     .map = -1 };
	return 0;
}

struct walk {
	struct kh_unw *u;
	struct kh_ustack *us;
	int err;
};

static int frame_cb(Dwfl_Frame *frame, void *arg)
{
	struct walk *w = arg;
	Dwarf_Addr pc;
	bool act;

	if (spent(w->u)) {
		snprintf(w->us->stop, sizeof(w->us->stop),
			 "the capture's time budget was spent");
		return DWARF_CB_ABORT;
	}
	if (!dwfl_frame_pc(frame, &pc, &act)) {
		snprintf(w->us->stop, sizeof(w->us->stop), "libdw: %s",
			 dwfl_errmsg(-1));
		return DWARF_CB_ABORT;
	}
	if (w->us->n >= KH_UNWIND_MAX) {
		snprintf(w->us->stop, sizeof(w->us->stop),
			 "stopped at %d frames", KH_UNWIND_MAX);
		return DWARF_CB_ABORT;
	}
	if (push_frame(w->us, pc, act)) {
		w->err = -ENOMEM;
		return DWARF_CB_ABORT;
	}
	return DWARF_CB_OK;
}

static int unwind_dwarf(struct kh_unw *u, struct kh_thread *t)
{
	struct walk w = { .u = u, .us = &t->dwarf };
	int ret;

	if (spent(u)) {
		snprintf(t->dwarf.stop, sizeof(t->dwarf.stop),
			 "the capture's time budget was spent");
		return 0;
	}
	ret = dwfl_getthread_frames(u->dwfl, t->tid, frame_cb, &w);
	u->cur = NULL;
	if (w.err)
		return w.err;
	if (ret < 0 && !t->dwarf.stop[0])
		snprintf(t->dwarf.stop, sizeof(t->dwarf.stop), "%s",
			 dwfl_errmsg(-1));
	if (!t->ustack_valid && t->dwarf.n <= 1)
		snprintf(t->dwarf.stop, sizeof(t->dwarf.stop),
			 "no copy of the stack (user-stack-kb 0, or unreadable)");
	return 0;
}

/*
 * A return address is the instruction after the call, which may already
 * be the next function (a call to a noreturn function ends its caller):
 * look up pc - 1 for every frame but the exact one, but show the pc.
 */
static int symbolize(struct kh_unw *u, struct kh_uframe *f)
{
	uint64_t look = f->activation || !f->pc ? f->pc : f->pc - 1;
	const struct kh_mapping *m;
	Dwfl_Module *dmod;
	const char *name;
	GElf_Off off;
	GElf_Sym sym;
	char *d;

	f->map = kh_map_find(u->cap, look);
	if (f->map < 0)
		return 0;
	m = &u->cap->maps[f->map];
	f->file_off = f->pc - m->start + m->pgoff;
	if (!u->dwfl || !file_backed(m) || spent(u))
		return 0;
	dmod = dwfl_addrmodule(u->dwfl, look);
	if (!dmod)
		return 0;
	name = dwfl_module_addrinfo(dmod, look, &off, &sym, NULL, NULL, NULL);
	if (!name || m->state != KH_FILE_OK)
		return 0;
	/* "clock_nanosleep@GLIBC_2.2.5": the version says nothing here */
	f->func = strndup(name, strcspn(name, "@"));
	if (!f->func)
		return -ENOMEM;
	/* C++ and Rust names as their source spells them; the mangled kept */
	d = kh_demangle(f->func);
	if (d) {
		f->sys_name = f->func;
		f->func = d;
	}
	f->func_off = off + (f->pc - look);
	return 0;
}

static int symbolize_all(struct kh_unw *u, struct kh_ustack *us)
{
	size_t i;

	for (i = 0; i < us->n; i++)
		if (symbolize(u, &us->f[i]))
			return -ENOMEM;
	return 0;
}

/*
 * How many of a frame-pointer walk's pcs are frames: a return address
 * outside every executable mapping was read from a register that held no
 * frame pointer (code built without them), and it and what follows are
 * junk. The leaf is the sampled pc itself and always kept; without
 * mappings to judge by, everything is.
 */
size_t kh_fp_len(const struct kh_capture *cap, const uint64_t *pcs, size_t n)
{
	size_t i;
	int m;

	if (!cap->nr_maps)
		return n;
	for (i = 1; i < n; i++) {
		m = kh_map_find(cap, pcs[i] - 1);
		if (m < 0 || !(cap->maps[m].prot & KHOLMES_MAP_X))
			return i;
	}
	return n;
}

#define JUNK_STOP "a return address outside every executable mapping ended the walk"

static int fp_frames(struct kh_capture *cap, struct kh_thread *t)
{
	size_t i, n = kh_fp_len(cap, t->uframes, t->nr_uframes);

	for (i = 0; i < n; i++)
		if (push_frame(&t->fp, t->uframes[i], i == 0))
			return -ENOMEM;
	if (n < t->nr_uframes)
		snprintf(t->fp.stop, sizeof(t->fp.stop), JUNK_STOP);
	else if (t->flags & KHOLMES_THREAD_F_USTACK_FAULT)
		snprintf(t->fp.stop, sizeof(t->fp.stop),
			 "the frame chain led to unreadable memory");
	else if (t->flags & KHOLMES_THREAD_F_USTACK_TRUNC)
		snprintf(t->fp.stop, sizeof(t->fp.stop), "stopped at %d frames",
			 KHOLMES_STACK_FRAMES);
	return 0;
}

/* A profile stack's pcs are its frames, the junk cut off. */
static int pstack_frames(struct kh_capture *cap, struct kh_pstack *ps)
{
	size_t i, n = kh_fp_len(cap, ps->upcs, ps->nr_upcs);

	for (i = 0; i < n; i++)
		if (push_frame(&ps->user, ps->upcs[i], i == 0))
			return -ENOMEM;
	if (n < ps->nr_upcs)
		snprintf(ps->user.stop, sizeof(ps->user.stop), JUNK_STOP);
	return 0;
}

static void pstack_drop(struct kh_pstack *ps)
{
	size_t i;

	for (i = 0; i < ps->nr_kframes; i++)
		free(ps->kframes[i]);
	free(ps->kframes);
	free(ps->upcs);
	for (i = 0; i < ps->user.n; i++) {
		free(ps->user.f[i].func);
		free(ps->user.f[i].sys_name);
	}
	free(ps->user.f);
}

/* The stack counted with id, -1: none. */
static long pstack_by_id(const struct kh_profile *p, uint32_t id, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p->pstacks[i].has_id && p->pstacks[i].id == id)
			return i;
	return -1;
}

/*
 * Moves one sample from the stack it was counted in (origin) to the one
 * with the same kernel frames and the user frames its CFI walk found,
 * made the first time. *origins holds each made stack's origin.
 */
static int pstack_move(struct kh_profile *p, size_t first, size_t **origins,
		       size_t origin, const struct kh_ustack *w)
{
	struct kh_pstack *ps, *o;
	size_t i, j, *no;

	for (i = first; i < p->nr_pstacks; i++) {
		ps = &p->pstacks[i];
		if ((*origins)[i - first] != origin || ps->nr_upcs != w->n)
			continue;
		for (j = 0; j < w->n && ps->upcs[j] == w->f[j].pc; j++)
			;
		if (j == w->n)
			goto found;
	}
	ps = realloc(p->pstacks, (p->nr_pstacks + 1) * sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	p->pstacks = ps;
	no = realloc(*origins, (p->nr_pstacks + 1 - first) * sizeof(*no));
	if (!no)
		return -ENOMEM;
	*origins = no;
	o = &p->pstacks[origin];
	ps = &p->pstacks[p->nr_pstacks];
	memset(ps, 0, sizeof(*ps));
	ps->dwarf = true;
	ps->upcs = malloc((w->n + 1) * sizeof(*ps->upcs));
	ps->kframes = calloc(o->nr_kframes + 1, sizeof(*ps->kframes));
	if (!ps->upcs || !ps->kframes) {
		pstack_drop(ps);
		return -ENOMEM;
	}
	for (j = 0; j < w->n; j++)
		ps->upcs[j] = w->f[j].pc;
	ps->nr_upcs = w->n;
	/* a flight sample keeps its time: each is a stack of its own */
	ps->has_ago = o->has_ago;
	ps->ago_ns = o->ago_ns;
	ps->tid = o->tid;
	for (j = 0; j < o->nr_kframes; j++) {
		ps->kframes[j] = strdup(o->kframes[j]);
		if (!ps->kframes[j]) {
			pstack_drop(ps);
			return -ENOMEM;
		}
		ps->nr_kframes++;
	}
	(*origins)[p->nr_pstacks - first] = origin;
	i = p->nr_pstacks++;
found:
	p->pstacks[i].count++;
	p->pstacks[origin].count--;
	p->unwound++;
	return 0;
}

/*
 * When the copies are a uniform sample of the profile's samples
 * (KHOLMES_PROFILE_F_COPIES_UNIFORM), the samples of a stack that kept no
 * copy of their own are shared out among the CFI walks of that stack's
 * copies, in proportion to how many copies each walk got (largest
 * remainder, so the counts still add up): the walks' shares within a
 * stack are an estimate from a uniform sample, as perf's are from its
 * period. A stack none of whose copies unwound keeps its samples.
 */
void kh_pstack_attribute(struct kh_profile *p, size_t first,
			 const size_t *origins)
{
	size_t o, d, n = p->nr_pstacks - first, best;
	uint64_t rest, m, left, *got, *rem;

	if (!n)
		return;
	got = calloc(n, sizeof(*got));
	rem = calloc(n, sizeof(*rem));
	if (!got || !rem)
		goto out;
	for (d = 0; d < n; d++)
		got[d] = p->pstacks[first + d].count;
	for (o = 0; o < first; o++) {
		rest = p->pstacks[o].count;
		m = 0;
		for (d = 0; d < n; d++)
			if (origins[d] == o)
				m += got[d];
		if (!rest || !m)
			continue;
		left = rest;
		for (d = 0; d < n; d++) {
			if (origins[d] != o)
				continue;
			p->pstacks[first + d].count += rest * got[d] / m;
			left -= rest * got[d] / m;
			rem[d] = rest * got[d] % m;
		}
		for (; left; left--) {
			best = n;
			for (d = 0; d < n; d++)
				if (origins[d] == o &&
				    (best == n || rem[d] > rem[best]))
					best = d;
			p->pstacks[first + best].count++;
			rem[best] = 0;
		}
		p->pstacks[o].count = 0;
		p->attributed += rest;
	}
out:
	free(got);
	free(rem);
}

/*
 * Each profile sample with a stack copy is unwound by CFI, as a capture's
 * thread is; where that walk is at least as long as the frame-pointer one
 * of the stack it was counted in, the sample moves to a stack of its own
 * frames; the samples without a copy may follow them (kh_pstack_attribute()).
 * Stacks left with no sample go.
 */
static int unwind_psamples(struct kh_unw *u, struct kh_profile *p)
{
	size_t first = p->nr_pstacks, *origins = NULL, i, j, fpn;
	struct kh_thread t;
	struct kh_psample *s;
	long o;
	int ret = 0;

	for (i = 0; i < p->nr_psamples && !ret; i++) {
		s = &p->psamples[i];
		o = pstack_by_id(p, s->stack, first);
		if (o < 0 || !p->pstacks[o].count || !s->has_uregs)
			continue;
		memset(&t, 0, sizeof(t));
		t.tid = u->cap->sum.pid ? u->cap->sum.pid : 1;
		t.has_uregs = true;
		memcpy(t.uregs, s->uregs, sizeof(t.uregs));
		t.ustack_sp = s->sp;
		t.ustack = s->data;
		t.ustack_valid = s->valid;
		u->one = &t;
		ret = unwind_dwarf(u, &t);
		u->one = NULL;
		fpn = kh_fp_len(u->cap, p->pstacks[o].upcs, p->pstacks[o].nr_upcs);
		if (!ret && t.dwarf.n && t.dwarf.n >= fpn)
			ret = pstack_move(p, first, &origins, o, &t.dwarf);
		free(t.dwarf.f);
	}
	if (!ret && (p->flags & KHOLMES_PROFILE_F_COPIES_UNIFORM))
		kh_pstack_attribute(p, first, origins);
	free(origins);
	if (ret)
		return ret;
	for (i = 0, j = 0; i < p->nr_pstacks; i++) {
		if (!p->pstacks[i].count && i < first) {
			pstack_drop(&p->pstacks[i]);
			continue;
		}
		p->pstacks[j++] = p->pstacks[i];
	}
	p->nr_pstacks = j;
	return 0;
}

/* The frame-pointer walk yields nothing past libc: prefer what CFI found. */
static enum kh_unwinder choose(const struct kh_thread *t)
{
	if (t->flags & KHOLMES_THREAD_F_NO_USER)
		return KH_UNW_NONE;
	if (t->dwarf.n > t->fp.n || (t->fp.n <= 1 && t->dwarf.n))
		return KH_UNW_DWARF;
	return t->fp.n ? KH_UNW_FP : KH_UNW_NONE;
}

/* Names the machine (x86-64: the registers' layout) to libdw's backend. */
static int arch_elf(struct kh_unw *u)
{
	Elf64_Ehdr *e = &u->ehdr;

	memset(e, 0, sizeof(*e));
	memcpy(e->e_ident, ELFMAG, SELFMAG);
	e->e_ident[EI_CLASS] = ELFCLASS64;
	e->e_ident[EI_DATA] = ELFDATA2LSB;
	e->e_ident[EI_VERSION] = EV_CURRENT;
	e->e_type = ET_EXEC;
	e->e_machine = EM_X86_64;
	e->e_version = EV_CURRENT;
	e->e_ehsize = sizeof(*e);
	u->arch = elf_memory((char *)e, sizeof(*e));
	return u->arch ? 0 : -EINVAL;
}

static bool any_unwindable(const struct kh_capture *cap)
{
	size_t i;

	for (i = 0; i < cap->nr_threads; i++)
		if (unwindable(&cap->threads[i]))
			return true;
	return false;
}

static void set_err(struct kh_capture *cap, const char *what)
{
	snprintf(cap->unwind_err, sizeof(cap->unwind_err), "%s: %s", what,
		 dwfl_errmsg(-1));
}

/*
 * Fills each thread's dwarf and fp walks, symbolized, and which one to
 * show; unwinds each profile sample's stack copy and symbolizes each
 * profile stack's user frames. Returns 0, or -ENOMEM; what libdw could
 * not do is said in cap->unwind_err and the walks' stop reasons, and the
 * frames then still carry their mapping and file offset.
 */
int kh_unwind(struct kh_capture *cap)
{
	struct kh_unw u = { .cap = cap };
	struct kh_thread *t;
	bool attached = false;
	size_t i;
	int ret;

	u.deadline = kh_now_ms() + kh_unwind_budget_ms;
	if (!dw_load(cap->unwind_err, sizeof(cap->unwind_err))) {
		u.dwfl = dwfl_begin(&dwfl_cbs);
		if (!u.dwfl)
			set_err(cap, "starting libdw");
	}
	if (u.dwfl) {
		ret = report(&u);
		if (ret == -ENOMEM)
			goto out;
		if (ret)
			set_err(cap, "reporting the mappings to libdw");
	}
	if (u.dwfl && (any_unwindable(cap) || cap->prof.nr_psamples ||
		       cap->before.nr_psamples)) {
		if (arch_elf(&u))
			set_err(cap, "describing x86-64 to libdw");
		else if (!dwfl_attach_state(u.dwfl, u.arch, cap->sum.pid,
					    &thread_cbs, &u))
			set_err(cap, "attaching the unwinder");
		else
			attached = true;
	}
	ret = -ENOMEM;
	for (i = 0; i < cap->nr_threads; i++) {
		t = &cap->threads[i];
		if (fp_frames(cap, t))
			goto out;
		if (attached && unwindable(t) && unwind_dwarf(&u, t))
			goto out;
		if (!attached && unwindable(t))
			snprintf(t->dwarf.stop, sizeof(t->dwarf.stop), "%s",
				 cap->unwind_err[0] ? cap->unwind_err :
						      "libdw unavailable");
		if (!t->has_uregs && !(t->flags & KHOLMES_THREAD_F_NO_USER))
			snprintf(t->dwarf.stop, sizeof(t->dwarf.stop),
				 "no user registers captured");
		if (symbolize_all(&u, &t->dwarf) || symbolize_all(&u, &t->fp))
			goto out;
		t->shown = choose(t);
	}
	if (attached && (unwind_psamples(&u, &cap->prof) ||
			 unwind_psamples(&u, &cap->before)))
		goto out;
	for (i = 0; i < cap->prof.nr_pstacks; i++)
		if (pstack_frames(cap, &cap->prof.pstacks[i]) ||
		    symbolize_all(&u, &cap->prof.pstacks[i].user))
			goto out;
	for (i = 0; i < cap->before.nr_pstacks; i++)
		if (pstack_frames(cap, &cap->before.pstacks[i]) ||
		    symbolize_all(&u, &cap->before.pstacks[i].user))
			goto out;
	ret = 0;
out:
	if (u.dwfl)
		dwfl_end(u.dwfl);
	if (u.arch)
		elf_end(u.arch);
	for (i = 0; u.mods && i < cap->nr_maps; i++)
		if (u.mods[i].u && u.mods[i].fd >= 0)
			close(u.mods[i].fd);
	free(u.mods);
	free(u.mod_of);
	return ret;
}
