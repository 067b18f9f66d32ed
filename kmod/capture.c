// SPDX-License-Identifier: GPL-2.0
/*
 * Captures: what every thread of one process was doing, taken by a worker
 * and serialised into a record stream for the queue.
 *
 * Why a worker and not task_work: task_work_cancel() is not exported, so a
 * callback queued on a thread that never returns to user space (blocked in
 * D state) would pin the module, and one that dropped the module's last
 * reference would return into freed text. A worker owns nothing the
 * targets hold: unload cancels it and waits, and that is all. It also
 * gives a thread blocked in the kernel a user stack: its saved user
 * registers (task_pt_regs(), exact for a thread sleeping in a syscall or
 * preempted) and the top of its user stack: the user code that made the
 * blocking call, which is what an incident needs. A thread running on
 * another CPU is asked by IPI, where current is the target: its registers
 * are exact and its user stack is copied with copy_from_user_nofault().
 * The targets are never stopped; a capture costs them at most that IPI.
 *
 * Never wait on the target: the process captured is often the sick one.
 * - Its user memory is read with the worker switched onto its mm
 *   (kthread_use_mm()) by copy_from_user_nofault(): page faults are
 *   disabled, so only pages present in its page tables are read, with no
 *   mmap lock and no I/O. access_process_vm() would take the mmap lock
 *   (stuck behind a queued writer) and fault pages in from the file (a
 *   hung NFS or FUSE mount). A page that is not present ends the copy
 *   (KHOLMES_THREAD_F_USTACK_PARTIAL).
 * - Its mmap lock is only tried, for KHM_MMAP_TRY_MS: a writer queued
 *   behind a stuck reader would block us with it. Without the lock the
 *   capture has no mappings and says so (KHOLMES_CAPTURE_F_MAPS_SKIPPED).
 * - Build-ids are read only from pages of regular files already uptodate
 *   in the page cache: a lookup, never I/O. kernel_read() of a mapped
 *   file would wait on a hung mount, and on a socket (an AF_PACKET ring
 *   maps one at offset 0) becomes a blocking recvmsg. An ELF header that
 *   is not cached (rare: the loader read it) leaves the build-id out and
 *   the controller reads it from the file.
 * - Each capture has a time budget, KHM_CAPTURE_BUDGET_MS, after which its
 *   remaining threads are left out (KHOLMES_CAPTURE_F_BUDGET), so one
 *   capture cannot hold up the next on the ordered workqueue: nothing in
 *   it sleeps on the target, so that order costs no more than the budget.
 */

#include <linux/cgroup.h>
#include <linux/cred.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kallsyms.h>
#include <linux/kernfs.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/pid.h>
#include <linux/ptrace.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <linux/stacktrace.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <net/netlink.h>

#include <kholmes_elf.h>

#include "khm.h"

#define KHM_PENDING_MAX		64
#define KHM_MAPS_MAX		1024
#define KHM_MAP_PATH_MAX	1024
#define KHM_ELF_READ		4096
#define NSEC_PER_MINUTE		(60ULL * NSEC_PER_SEC)
#define KHM_MMAP_TRY_MS		100	/* how long a capture tries the mmap lock */
#define KHM_CAPTURE_BUDGET_MS	1000	/* and how long it takes at most */

struct khm_req {
	struct list_head node;
	u64 id;
	struct pid *pid;
	u64 start_ns;		/* 0: whatever process has the pid */
	struct khm_trigger trig;
	u64 detect_ns;		/* mono fast clock, as the flight recorder's */
	const struct khm_rec *profile;	/* a profile's records, no threads */
	u64 profile_of;
	u32 profile_kind;
	/* what the profile saw of its target, should it be gone at the end */
	const struct khm_rec *profile_maps;
	u32 profile_nmaps;
	const char *profile_comm;
};

struct khm_map {
	u64 start;
	u64 end;
	u64 pgoff;
	u64 inode;
	u32 prot;
	u32 dev;
	struct file *file;	/* referenced while its build-id is read */
	char *path;
	size_t path_size;
	u8 build_id[KHOLMES_BUILD_ID_MAX];
	u8 build_id_len;
};

/* What one thread gave, before it is written out. */
struct khm_snap {
	u32 flags;
	unsigned int nk;
	unsigned int nu;
	unsigned long kstack[KHOLMES_STACK_FRAMES];
	u64 upcs[KHOLMES_STACK_FRAMES];
	u64 uregs[KHOLMES_NR_UREGS];
	u64 sp;
	size_t ulen;
};

/* Scratch space of one capture, allocated for it and freed after. */
struct khm_ctx {
	struct task_struct **threads;
	u32 nthreads;
	u32 nr_threads;
	struct khm_map *maps;
	u32 nmaps;
	bool maps_trunc;
	struct khm_snap snap;
	u8 *ubuf;
	size_t ucap;
	char path[PATH_MAX];
	char sym[KSYM_SYMBOL_LEN];
	u8 elf[KHM_ELF_READ];
	u8 notes[KHM_ELF_READ];
};

static LIST_HEAD(khm_pending);
static DEFINE_SPINLOCK(khm_pending_lock);
static unsigned int khm_npending;
static u64 khm_next_id;
static bool khm_cstopping;
static struct workqueue_struct *khm_cwq;
static struct work_struct khm_cwork;

/* Token bucket of automatic captures, one minute deep; under khm_lock. */
static u64 khm_rl_credit_ns = NSEC_PER_MINUTE;
static u64 khm_rl_last_ns;

static bool khm_rate_ok(void)
{
	u64 now = ktime_get_ns(), cost;

	lockdep_assert_held(&khm_lock);
	if (!khm_cfg.capture_rate)
		return false;
	cost = div_u64(NSEC_PER_MINUTE, khm_cfg.capture_rate);
	if (khm_rl_last_ns)
		khm_rl_credit_ns = min(khm_rl_credit_ns + (now - khm_rl_last_ns),
				       NSEC_PER_MINUTE);
	khm_rl_last_ns = now;
	if (khm_rl_credit_ns < cost)
		return false;
	khm_rl_credit_ns -= cost;
	return true;
}

/*
 * Queue a capture of the process behind pid. Automatic requests (called
 * by the sampler with khm_lock held) pass the rate limit first; manual
 * ones do not. The id is assigned now so a manual caller can report it.
 */
int khm_capture_request(struct pid *pid, u64 start_ns,
			const struct khm_trigger *trig, u64 *id)
{
	struct khm_req *req;
	u64 new_id;

	if (!trig->manual && !khm_rate_ok()) {
		khm_queue_count(KHM_QCOUNT_LIMITED);
		return -EBUSY;
	}
	req = khm_alloc(sizeof(*req));
	if (!req) {
		khm_queue_count(KHM_QCOUNT_FAILED);
		return -ENOMEM;
	}
	spin_lock(&khm_pending_lock);
	if (khm_cstopping || khm_npending >= KHM_PENDING_MAX) {
		spin_unlock(&khm_pending_lock);
		khm_free(req, sizeof(*req));
		khm_queue_count(KHM_QCOUNT_FAILED);
		return -EBUSY;
	}
	req->id = ++khm_next_id;
	req->pid = get_pid(pid);
	req->start_ns = start_ns;
	req->trig = *trig;
	req->detect_ns = ktime_get_mono_fast_ns();
	/*
	 * Once on the list the request is the worker's, which may take and
	 * free it before this function returns: the id is read now.
	 */
	new_id = req->id;
	list_add_tail(&req->node, &khm_pending);
	khm_npending++;
	spin_unlock(&khm_pending_lock);
	queue_work(khm_cwq, &khm_cwork);
	if (id)
		*id = new_id;
	return 0;
}

/* An id for a capture that is not taken through the pending list. */
u64 khm_capture_next_id(void)
{
	u64 id;

	spin_lock(&khm_pending_lock);
	id = ++khm_next_id;
	spin_unlock(&khm_pending_lock);
	return id;
}

/*
 * Resident bytes by kind and mapped bytes of task's mm; false (and zeros)
 * when it has none.
 */
bool khm_task_rss(struct task_struct *task, u64 *anon, u64 *file, u64 *vm)
{
	struct mm_struct *mm;

	*anon = 0;
	*file = 0;
	*vm = 0;
	task_lock(task);
	mm = task->mm;
	if (mm) {
		*anon = (u64)compat_mm_counter_sum(mm, MM_ANONPAGES) << PAGE_SHIFT;
		*file = (u64)compat_mm_counter_sum(mm, MM_FILEPAGES) << PAGE_SHIFT;
		*vm = (u64)READ_ONCE(mm->total_vm) << PAGE_SHIFT;
	}
	task_unlock(task);
	return mm;
}

void khm_regs_to_user(const struct pt_regs *regs, u64 *u)
{
	u[KHOLMES_UREG_AX] = regs->ax;
	u[KHOLMES_UREG_DX] = regs->dx;
	u[KHOLMES_UREG_CX] = regs->cx;
	u[KHOLMES_UREG_BX] = regs->bx;
	u[KHOLMES_UREG_SI] = regs->si;
	u[KHOLMES_UREG_DI] = regs->di;
	u[KHOLMES_UREG_BP] = regs->bp;
	u[KHOLMES_UREG_SP] = regs->sp;
	u[KHOLMES_UREG_R8] = regs->r8;
	u[KHOLMES_UREG_R9] = regs->r9;
	u[KHOLMES_UREG_R10] = regs->r10;
	u[KHOLMES_UREG_R11] = regs->r11;
	u[KHOLMES_UREG_R12] = regs->r12;
	u[KHOLMES_UREG_R13] = regs->r13;
	u[KHOLMES_UREG_R14] = regs->r14;
	u[KHOLMES_UREG_R15] = regs->r15;
	u[KHOLMES_UREG_IP] = regs->ip;
}

/* Page by page, so that a stack shorter than asked still gives its top. */
size_t khm_copy_ustack_nofault(u8 *buf, size_t cap, unsigned long sp)
{
	size_t got = 0, n;

	while (got < cap) {
		n = min_t(size_t, cap - got,
			  PAGE_SIZE - ((sp + got) & ~PAGE_MASK));
		if (copy_from_user_nofault(buf + got,
					   (const void __user *)(sp + got), n))
			break;
		got += n;
	}
	return got;
}

struct khm_ipi {
	struct task_struct *task;
	struct khm_ctx *x;
	bool hit;
};

/*
 * Runs on the target's CPU in hard interrupt context, with current the
 * target. Its user registers are at the top of its kernel stack: saved by
 * this very interrupt if it was in user mode, else by its last entry into
 * the kernel; exact either way. Its kernel stack is walked from here and
 * trimmed to the interrupted frames by khm_trim_ipi().
 */
static void khm_ipi_fn(void *arg)
{
	struct khm_ipi *ipi = arg;
	struct khm_snap *s = &ipi->x->snap;
	struct pt_regs *uregs;

	if (current != ipi->task)
		return;
	ipi->hit = true;
	s->flags |= KHOLMES_THREAD_F_RUNNING;
	s->nk = stack_trace_save(s->kstack, ARRAY_SIZE(s->kstack), 0);
	if (current->flags & PF_KTHREAD)
		return;
	uregs = task_pt_regs(current);
	khm_regs_to_user(uregs, s->uregs);
	s->sp = uregs->sp;
	s->ulen = khm_copy_ustack_nofault(ipi->x->ubuf, ipi->x->ucap,
					  uregs->sp);
}

/*
 * The IPI's own frames end at its entry from the IDT; what follows is the
 * code it interrupted. Nothing follows when that was user mode, where the
 * kernel's unwinder stops. The vector's irq_regs are not set for this
 * vector, so the entry is recognised by name.
 */
static void khm_trim_ipi(struct khm_snap *s, struct khm_ctx *x)
{
	unsigned int i;

	for (i = 0; i < s->nk; i++) {
		sprint_symbol_no_offset(x->sym, s->kstack[i]);
		if (strstarts(x->sym, "asm_sysvec_call_function"))
			break;
	}
	if (i == s->nk)
		return;
	i++;
	s->nk -= i;
	memmove(s->kstack, s->kstack + i, s->nk * sizeof(s->kstack[0]));
	if (!s->nk)
		s->flags |= KHOLMES_THREAD_F_IN_USER;
}

struct khm_fp_ctx {
	bool use_mm;
	const u8 *buf;
	u64 sp;
	size_t len;
};

static bool khm_fp_read(void *arg, __u64 addr, __u64 out[2])
{
	struct khm_fp_ctx *c = arg;

	if (addr >= c->sp && addr - c->sp <= c->len &&
	    c->len - (addr - c->sp) >= 16) {
		memcpy(out, c->buf + (addr - c->sp), 16);
		return true;
	}
	/* the worker is on the target's mm (khm_take): no fault, no lock */
	return c->use_mm &&
	       !copy_from_user_nofault(out, (const void __user *)addr, 16);
}

/*
 * user: the thread has a user side; use_mm: and the worker runs on its mm,
 * so that its user memory can be read.
 */
static void khm_snap_thread(struct task_struct *t, bool user, bool use_mm,
			    struct khm_ctx *x)
{
	struct khm_snap *s = &x->snap;
	struct khm_ipi ipi = { .task = t, .x = x };
	struct khm_fp_ctx fp;
	bool fault, trunc;

	memset(s, 0, sizeof(*s));
	if (!user)
		s->flags |= KHOLMES_THREAD_F_NO_USER;
	if (READ_ONCE(t->exit_state) || (READ_ONCE(t->flags) & PF_EXITING)) {
		s->flags |= KHOLMES_THREAD_F_EXITED;
		return;
	}

	if (READ_ONCE(t->on_cpu))
		smp_call_function_single(task_cpu(t), khm_ipi_fn, &ipi, 1);
	if (ipi.hit) {
		khm_trim_ipi(s, x);
	} else {
		s->nk = compat_stack_save_tsk(t, s->kstack,
					      ARRAY_SIZE(s->kstack));
		if (user) {
			/* a stack freed by an exiting thread outlives RCU */
			rcu_read_lock();
			if (!(READ_ONCE(t->flags) & PF_EXITING)) {
				khm_regs_to_user(task_pt_regs(t), s->uregs);
				s->sp = s->uregs[KHOLMES_UREG_SP];
			} else {
				user = false;
				s->flags |= KHOLMES_THREAD_F_EXITED;
			}
			rcu_read_unlock();
		}
		if (user && use_mm)
			s->ulen = khm_copy_ustack_nofault(x->ubuf, x->ucap,
							  s->sp);
	}
	if (!s->nk && !(s->flags & KHOLMES_THREAD_F_IN_USER))
		s->flags |= KHOLMES_THREAD_F_KSTACK_NONE;
	if (s->nk == ARRAY_SIZE(s->kstack))
		s->flags |= KHOLMES_THREAD_F_KSTACK_TRUNC;
	if (!user)
		return;
	if (s->ulen < x->ucap)
		s->flags |= KHOLMES_THREAD_F_USTACK_PARTIAL;

	fp.use_mm = use_mm;
	fp.buf = x->ubuf;
	fp.sp = s->sp;
	fp.len = s->ulen;
	s->nu = khe_fp_walk(s->uregs[KHOLMES_UREG_IP],
			    s->uregs[KHOLMES_UREG_BP], TASK_SIZE_MAX,
			    khm_fp_read, &fp, s->upcs, ARRAY_SIZE(s->upcs),
			    &fault, &trunc);
	if (fault)
		s->flags |= KHOLMES_THREAD_F_USTACK_FAULT;
	if (trunc)
		s->flags |= KHOLMES_THREAD_F_USTACK_TRUNC;
}

/* A kernel address is only ever written out as a symbol. */
const char *khm_ksym(char *buf, unsigned long addr)
{
	sprint_symbol(buf, addr);
	if (!strncmp(buf, "0x", 2))
		return "?";
	return buf;
}

static void khm_write_thread(struct khm_rec *r, struct task_struct *t,
			     struct khm_ctx *x)
{
	const struct khm_snap *s = &x->snap;
	char comm[TASK_COMM_LEN];
	size_t nest, len;
	unsigned int i;
	u8 state = task_state_to_char(t);
	u32 tid = task_pid_nr(t);
	const char *f;

	strscpy(comm, t->comm, sizeof(comm));
	nest = khm_rec_nest_start(r, KHOLMES_A_THREAD);
	khm_rec_u32(r, KHOLMES_THREAD_TID, tid);
	khm_rec_str(r, KHOLMES_THREAD_COMM, comm);
	khm_rec_put(r, KHOLMES_THREAD_STATE, &state, 1);
	khm_rec_u32(r, KHOLMES_THREAD_FLAGS, s->flags);
	khm_rec_u32(r, KHOLMES_THREAD_CPU, task_cpu(t));
	if (!(s->flags & KHOLMES_THREAD_F_NO_USER) &&
	    !(s->flags & KHOLMES_THREAD_F_EXITED)) {
		khm_rec_put(r, KHOLMES_THREAD_UFRAMES, s->upcs,
			    s->nu * sizeof(s->upcs[0]));
		khm_rec_put(r, KHOLMES_THREAD_UREGS, s->uregs,
			    sizeof(s->uregs));
		khm_rec_u64(r, KHOLMES_THREAD_USTACK_SP, s->sp);
		khm_rec_u32(r, KHOLMES_THREAD_USTACK_LEN, s->ulen);
	}
	khm_rec_nest_end(r, nest);

	/* kernel frames, in as many records as they need */
	nest = 0;
	for (i = 0; i < s->nk; i++) {
		f = khm_ksym(x->sym, s->kstack[i]);
		len = nla_total_size(strlen(f) + 1);
		if (nest && r->len - nest + len > KHOLMES_RECORD_MAX) {
			khm_rec_nest_end(r, nest);
			nest = 0;
		}
		if (!nest) {
			nest = khm_rec_nest_start(r, KHOLMES_A_KSTACK);
			khm_rec_u32(r, KHOLMES_KSTACK_TID, tid);
			khm_rec_u32(r, KHOLMES_KSTACK_FIRST, i);
		}
		khm_rec_str(r, KHOLMES_KSTACK_FRAME, f);
	}
	if (nest)
		khm_rec_nest_end(r, nest);

	for (i = 0; i < s->ulen; i += KHOLMES_USTACK_CHUNK) {
		nest = khm_rec_nest_start(r, KHOLMES_A_USTACK);
		khm_rec_u32(r, KHOLMES_USTACK_TID, tid);
		khm_rec_u32(r, KHOLMES_USTACK_OFFSET, i);
		khm_rec_put(r, KHOLMES_USTACK_DATA, x->ubuf + i,
			    min_t(size_t, KHOLMES_USTACK_CHUNK, s->ulen - i));
		khm_rec_nest_end(r, nest);
	}
}

/*
 * Up to len bytes of file at pos, from pages already uptodate in the page
 * cache only: a lookup that never starts I/O nor waits on a folio lock.
 * Returns the bytes read, stopping at the first page that is missing.
 */
static size_t khm_read_cached(struct file *file, void *buf, size_t len,
			      loff_t pos)
{
	struct address_space *mapping = file->f_mapping;
	size_t got = 0, n, off;
	struct folio *folio;
	void *src;

	while (got < len) {
		folio = __filemap_get_folio(mapping, (pos + got) >> PAGE_SHIFT,
					    0, 0);
		/* NULL on 6.1, an ERR_PTR since 6.3 */
		if (IS_ERR_OR_NULL(folio))
			break;
		if (!folio_test_uptodate(folio)) {
			folio_put(folio);
			break;
		}
		off = offset_in_folio(folio, pos + got);
		n = min_t(size_t, len - got,
			  PAGE_SIZE - offset_in_page(pos + got));
		src = kmap_local_folio(folio, off);
		memcpy(buf + got, src, n);
		kunmap_local(src);
		folio_put(folio);
		got += n;
	}
	return got;
}

static void khm_read_build_id(struct khm_map *m, struct khm_ctx *x)
{
	u64 phoff, off, size;
	size_t n, nn;
	u32 phnum, i;
	int ret;

	/* a socket, device or FIFO mapping is never read: see the top */
	if (!S_ISREG(file_inode(m->file)->i_mode))
		return;
	n = khm_read_cached(m->file, x->elf, sizeof(x->elf), 0);
	if (!n || khe_ehdr(x->elf, n, &phoff, &phnum))
		return;
	for (i = 0; i < phnum && i < 64; i++) {
		ret = khe_phdr_note(x->elf, n, 0, phoff, i, &off, &size);
		if (ret < 0)
			return;
		if (!ret)
			continue;
		nn = khm_read_cached(m->file, x->notes,
				     min_t(u64, size, sizeof(x->notes)), off);
		if (!nn)
			continue;
		m->build_id_len = khe_build_id(x->notes, nn, m->build_id,
					       sizeof(m->build_id));
		if (m->build_id_len)
			return;
	}
}

static void khm_map_path(struct khm_map *m, const char *path)
{
	size_t len = min_t(size_t, strlen(path), KHM_MAP_PATH_MAX - 1);

	m->path = khm_alloc(len + 1);
	if (!m->path)
		return;
	m->path_size = len + 1;
	memcpy(m->path, path, len);
}

/*
 * The mmap lock of mm, read side, tried for KHM_MMAP_TRY_MS at most: a
 * writer queued on it makes every trylock fail until it is served, so a
 * writer stuck behind a stuck reader is never joined.
 */
static bool khm_mmap_trylock(struct mm_struct *mm)
{
	unsigned long end = jiffies + msecs_to_jiffies(KHM_MMAP_TRY_MS);

	for (;;) {
		if (mmap_read_trylock(mm))
			return true;
		if (time_after(jiffies, end) || READ_ONCE(khm_cstopping))
			return false;
		usleep_range(1000, 2000);
	}
}

/*
 * The file mappings (and heap and stack) of mm, and the executable's path.
 * Files are read for their build-id after the lock is dropped. False when
 * the mmap lock could not be had: no mappings then.
 */
static bool khm_collect_maps(struct mm_struct *mm, struct khm_ctx *x,
			     char *exe, size_t exe_size)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;
	struct khm_map *m;
	const char *p;
	u32 i;

	exe[0] = '\0';
	if (!khm_mmap_trylock(mm))
		return false;
	for_each_vma(vmi, vma) {
		bool heap = vma->vm_start <= mm->brk &&
			    vma->vm_end >= mm->start_brk;
		bool stack = vma->vm_start <= mm->start_stack &&
			     vma->vm_end >= mm->start_stack;

		bool anon_x = !vma->vm_file && (vma->vm_flags & VM_EXEC);

		/*
		 * Executable anonymous memory too ([vdso], JIT code): a user
		 * frame outside every executable mapping is junk.
		 */
		if (!vma->vm_file && !heap && !stack && !anon_x)
			continue;
		if (x->nmaps == KHM_MAPS_MAX) {
			x->maps_trunc = true;
			break;
		}
		m = &x->maps[x->nmaps++];
		m->start = vma->vm_start;
		m->end = vma->vm_end;
		m->prot = (vma->vm_flags & VM_READ ? KHOLMES_MAP_R : 0) |
			  (vma->vm_flags & VM_WRITE ? KHOLMES_MAP_W : 0) |
			  (vma->vm_flags & VM_EXEC ? KHOLMES_MAP_X : 0) |
			  (vma->vm_flags & VM_SHARED ? KHOLMES_MAP_SHARED : 0);
		if (!vma->vm_file) {
			if (heap || stack)
				p = heap ? "[heap]" : "[stack]";
			else if (vma->vm_ops && vma->vm_ops->name)
				p = vma->vm_ops->name(vma);
			else
				p = NULL;
			khm_map_path(m, p ?: "[anon]");
			continue;
		}
		m->pgoff = (u64)vma->vm_pgoff << PAGE_SHIFT;
		m->inode = file_inode(vma->vm_file)->i_ino;
		m->dev = file_inode(vma->vm_file)->i_sb->s_dev;
		p = d_path(&vma->vm_file->f_path, x->path, sizeof(x->path));
		khm_map_path(m, IS_ERR(p) ? "?" : p);
		if (!IS_ERR(p) && vma->vm_start <= mm->start_code &&
		    mm->start_code < vma->vm_end)
			strscpy(exe, p, exe_size);
		if (!m->pgoff)
			m->file = get_file(vma->vm_file);
	}
	mmap_read_unlock(mm);

	for (i = 0; i < x->nmaps; i++) {
		m = &x->maps[i];
		if (!m->file)
			continue;
		khm_read_build_id(m, x);
		fput(m->file);
		m->file = NULL;
	}
	return true;
}

static void khm_write_maps(struct khm_rec *r, struct khm_ctx *x)
{
	const struct khm_map *m;
	size_t nest;
	u32 i;

	for (i = 0; i < x->nmaps; i++) {
		m = &x->maps[i];
		nest = khm_rec_nest_start(r, KHOLMES_A_MAPPING);
		khm_rec_u64(r, KHOLMES_MAP_START, m->start);
		khm_rec_u64(r, KHOLMES_MAP_END, m->end);
		khm_rec_u64(r, KHOLMES_MAP_PGOFF, m->pgoff);
		khm_rec_u32(r, KHOLMES_MAP_PROT, m->prot);
		khm_rec_u64(r, KHOLMES_MAP_INODE, m->inode);
		khm_rec_u32(r, KHOLMES_MAP_DEV, m->dev);
		khm_rec_str(r, KHOLMES_MAP_PATH, m->path ?: "?");
		if (m->build_id_len)
			khm_rec_put(r, KHOLMES_MAP_BUILD_ID, m->build_id,
				    m->build_id_len);
		khm_rec_nest_end(r, nest);
	}
}

static void khm_free_maps(struct khm_ctx *x)
{
	u32 i;

	for (i = 0; i < x->nmaps; i++)
		khm_free(x->maps[i].path, x->maps[i].path_size);
	x->nmaps = 0;
}

/* Up to max threads of task's group, referenced. */
static void khm_collect_threads(struct task_struct *task, u32 max,
				struct khm_ctx *x)
{
	struct task_struct *t;

	rcu_read_lock();
	for_each_thread(task, t) {
		x->nr_threads++;
		if (x->nthreads < max) {
			get_task_struct(t);
			x->threads[x->nthreads++] = t;
		}
	}
	rcu_read_unlock();
}

struct khm_proc_info {
	pid_t pid;
	u32 uid;
	u32 flags;
	u64 start_ns;
	u64 time_ns;
	u64 boot_ns;
	u64 values[KHOLMES_NR_METRICS];
	u64 avgs[KHOLMES_NR_METRICS];
	u32 have;
	u64 rss_anon;
	u64 rss_file;
	u64 rss_shmem;
	u64 vm;
	bool rss_known;
	char comm[TASK_COMM_LEN];
	char exe[KHM_MAP_PATH_MAX];
	char cgroup[KHM_MAP_PATH_MAX];
};

static void khm_write_metrics(struct khm_rec *r, int type, const u64 *v,
			      u32 have)
{
	size_t nest = khm_rec_nest_start(r, type);
	unsigned int m;

	for (m = 0; m < KHOLMES_NR_METRICS; m++)
		if (have & BIT(m))
			khm_rec_u64(r, KHOLMES_METRIC_ATTR(m), v[m]);
	khm_rec_nest_end(r, nest);
}

static void khm_write_rule(struct khm_rec *r, unsigned int metric,
			   const struct kholmes_rule_cfg *rule)
{
	size_t nest = khm_rec_nest_start(r, KHOLMES_CAPTURE_RULE);
	u8 enabled = rule->enabled;

	khm_rec_u32(r, KHOLMES_RULE_METRIC, metric);
	khm_rec_put(r, KHOLMES_RULE_ENABLED, &enabled, 1);
	khm_rec_u32(r, KHOLMES_RULE_MIN, rule->min);
	khm_rec_u32(r, KHOLMES_RULE_DIFF, rule->diff);
	khm_rec_u32(r, KHOLMES_RULE_ABS, rule->abs);
	khm_rec_u32(r, KHOLMES_RULE_COOLDOWN, rule->cooldown_s);
	khm_rec_nest_end(r, nest);
}

/* The capture record: `full` for the stream, else the summary. */
static void khm_write_capture(struct khm_rec *r, const struct khm_req *req,
			      const struct khm_proc_info *pi,
			      const struct khm_ctx *x, u64 bytes,
			      u64 duration, bool full)
{
	const struct khm_trigger *tr = &req->trig;
	size_t nest = khm_rec_nest_start(r, KHOLMES_A_CAPTURE);

	khm_rec_u64(r, KHOLMES_CAPTURE_ID, req->id);
	khm_rec_u64(r, KHOLMES_CAPTURE_TIME_NS, pi->time_ns);
	khm_rec_u64(r, KHOLMES_CAPTURE_BOOT_NS, pi->boot_ns);
	khm_rec_u32(r, KHOLMES_CAPTURE_FLAGS, pi->flags);
	if (!tr->manual) {
		khm_rec_u32(r, KHOLMES_CAPTURE_METRIC, tr->metric);
		khm_rec_u64(r, KHOLMES_CAPTURE_VALUE, tr->value);
		khm_rec_u64(r, KHOLMES_CAPTURE_AVG, tr->avg);
		if (full)
			khm_write_rule(r, tr->metric, &tr->rule);
	}
	khm_rec_u32(r, KHOLMES_CAPTURE_PID, pi->pid);
	khm_rec_str(r, KHOLMES_CAPTURE_COMM, pi->comm);
	khm_rec_u32(r, KHOLMES_CAPTURE_NR_THREADS, x->nr_threads);
	khm_rec_u32(r, KHOLMES_CAPTURE_THREADS, x->nthreads);
	if (bytes)
		khm_rec_u64(r, KHOLMES_CAPTURE_BYTES, bytes);
	if (full) {
		khm_rec_str(r, KHOLMES_CAPTURE_EXE, pi->exe);
		khm_rec_str(r, KHOLMES_CAPTURE_CGROUP, pi->cgroup);
		khm_rec_u32(r, KHOLMES_CAPTURE_UID, pi->uid);
		khm_rec_u64(r, KHOLMES_CAPTURE_START_NS, pi->start_ns);
		khm_write_metrics(r, KHOLMES_CAPTURE_VALUES, pi->values,
				  pi->have);
		khm_write_metrics(r, KHOLMES_CAPTURE_AVGS, pi->avgs, pi->have);
		khm_rec_u32(r, KHOLMES_CAPTURE_MAPPINGS,
			    req->profile_maps ? req->profile_nmaps : x->nmaps);
		khm_rec_u64(r, KHOLMES_CAPTURE_DURATION_NS, duration);
		if (pi->rss_known) {
			khm_rec_u64(r, KHOLMES_CAPTURE_RSS_ANON, pi->rss_anon);
			khm_rec_u64(r, KHOLMES_CAPTURE_RSS_FILE, pi->rss_file);
		}
	}
	if (req->profile) {
		khm_rec_u64(r, KHOLMES_CAPTURE_PROFILE_OF, req->profile_of);
		khm_rec_u32(r, KHOLMES_CAPTURE_PROFILE_KIND,
			    req->profile_kind);
	}
	khm_rec_nest_end(r, nest);
}

static void khm_proc_info(struct task_struct *task, struct khm_proc_info *pi)
{
	struct cgroup *cgrp;

	strscpy(pi->comm, task->comm, sizeof(pi->comm));
	pi->start_ns = task->start_boottime;
	pi->uid = from_kuid_munged(&init_user_ns, task_uid(task));
	rcu_read_lock();
	cgrp = task_dfl_cgroup(task);
	if (kernfs_path(cgrp->kn, pi->cgroup, sizeof(pi->cgroup)) < 0)
		pi->cgroup[0] = '\0';
	rcu_read_unlock();
	khm_proc_counters(task->tgid, pi->start_ns, pi->values, pi->avgs,
			  &pi->have);
	pi->rss_known = khm_task_rss(task, &pi->rss_anon, &pi->rss_file,
				     &pi->vm);
}

static struct khm_ctx *khm_ctx_new(u32 max_threads, size_t ucap)
{
	struct khm_ctx *x = khm_alloc(sizeof(*x));

	if (!x)
		return NULL;
	x->threads = khm_alloc(array_size(max_threads, sizeof(*x->threads)));
	x->maps = khm_alloc(array_size(KHM_MAPS_MAX, sizeof(*x->maps)));
	x->ucap = ucap;
	x->ubuf = ucap ? khm_alloc(ucap) : NULL;
	if (!x->threads || !x->maps || (ucap && !x->ubuf)) {
		khm_free(x->threads, array_size(max_threads,
						sizeof(*x->threads)));
		khm_free(x->maps, array_size(KHM_MAPS_MAX, sizeof(*x->maps)));
		khm_free(x->ubuf, ucap);
		khm_free(x, sizeof(*x));
		return NULL;
	}
	return x;
}

static void khm_ctx_free(struct khm_ctx *x, u32 max_threads)
{
	u32 i;

	for (i = 0; i < x->nthreads; i++)
		put_task_struct(x->threads[i]);
	khm_free_maps(x);
	khm_free(x->threads, array_size(max_threads, sizeof(*x->threads)));
	khm_free(x->maps, array_size(KHM_MAPS_MAX, sizeof(*x->maps)));
	khm_free(x->ubuf, x->ucap);
	khm_free(x, sizeof(*x));
}

#define KHM_CONSUMERS_MAX	16384	/* processes a consumer census covers */
#define KHM_CONSUMERS_MS	200	/* and the interval it measures */

/* a top consumer of CPU, for rundelay captures */
struct khm_top {
	pid_t pid;
	u64 cpu;
	char comm[TASK_COMM_LEN];
};

struct khm_cons {
	pid_t pid;
	u64 start_ns;
	u64 runtime;
	char comm[TASK_COMM_LEN];
};

/* Every process's CPU time, in the task list's order (creation order). */
static u32 khm_cons_census(struct khm_cons *c, u32 max)
{
	struct khm_group_sums sums;
	struct task_struct *p;
	u32 n = 0;

	rcu_read_lock();
	for_each_process(p) {
		if (n == max)
			break;
		c[n].pid = p->tgid;
		c[n].start_ns = p->start_boottime;
		strscpy(c[n].comm, p->comm, sizeof(c[n].comm));
		/* consistent against exits, as the sampler reads it */
		khm_group_sums(p, &sums);
		c[n].runtime = sums.runtime;
		n++;
	}
	rcu_read_unlock();
	return n;
}

static void khm_cons_rank(struct khm_top *top, unsigned int *k,
			  const struct khm_cons *c, u64 cpu)
{
	unsigned int i;

	if (*k == KHOLMES_TOP_CONSUMERS && cpu <= top[*k - 1].cpu)
		return;
	i = *k < KHOLMES_TOP_CONSUMERS ? (*k)++ : *k - 1;
	for (; i > 0 && top[i - 1].cpu < cpu; i--)
		top[i] = top[i - 1];
	top[i].pid = c->pid;
	top[i].cpu = cpu;
	memcpy(top[i].comm, c->comm, sizeof(top[i].comm));
}

/*
 * Who had the CPU that a process stuck in the run queue waited for: the
 * host's top consumers, whatever the watch scope, measured over two
 * censuses KHM_CONSUMERS_MS apart, with their cgroups. Both censuses walk
 * the task list in its creation order, so they merge in one pass.
 */
static void khm_write_consumers(struct khm_rec *r, struct khm_ctx *x)
{
	struct khm_top top[KHOLMES_TOP_CONSUMERS];
	size_t size = array_size(KHM_CONSUMERS_MAX, sizeof(struct khm_cons));
	struct khm_cons *a, *b;
	struct task_struct *task;
	unsigned int i, j, k = 0;
	u32 na, nb;
	u64 t0, el;
	size_t nest;

	a = khm_alloc(size);
	b = khm_alloc(size);
	if (!a || !b)
		goto out;
	t0 = ktime_get_ns();
	na = khm_cons_census(a, KHM_CONSUMERS_MAX);
	msleep(KHM_CONSUMERS_MS);
	nb = khm_cons_census(b, KHM_CONSUMERS_MAX);
	el = ktime_get_ns() - t0;
	for (i = 0, j = 0; i < na && j < nb;) {
		if (a[i].pid == b[j].pid && a[i].start_ns == b[j].start_ns) {
			if (b[j].runtime > a[i].runtime)
				khm_cons_rank(top, &k, &b[j],
					      mul_u64_u64_div_u64(b[j].runtime - a[i].runtime,
								  100 * KHOLMES_VALUE_SCALE, el));
			i++;
			j++;
		} else if (a[i].start_ns < b[j].start_ns) {
			i++;	/* exited between the two */
		} else {
			j++;	/* born between the two */
		}
	}

	for (i = 0; i < k; i++) {
		x->path[0] = '\0';
		rcu_read_lock();
		task = pid_task(find_pid_ns(top[i].pid, &init_pid_ns),
				PIDTYPE_TGID);
		if (task &&
		    kernfs_path(task_dfl_cgroup(task)->kn, x->path,
				KHM_MAP_PATH_MAX) < 0)
			x->path[0] = '\0';
		rcu_read_unlock();
		nest = khm_rec_nest_start(r, KHOLMES_A_CONSUMER);
		khm_rec_u32(r, KHOLMES_CONSUMER_PID, top[i].pid);
		khm_rec_str(r, KHOLMES_CONSUMER_COMM, top[i].comm);
		khm_rec_u64(r, KHOLMES_CONSUMER_CPU, top[i].cpu);
		khm_rec_str(r, KHOLMES_CONSUMER_CGROUP, x->path);
		khm_rec_nest_end(r, nest);
	}
out:
	khm_free(a, size);
	khm_free(b, size);
}

/* Take the capture a request asks for and queue it. */
static void khm_take(struct khm_req *req)
{
	struct khm_proc_info *pi = NULL;
	struct khm_capture *c = NULL;
	struct task_struct *task;
	struct mm_struct *mm = NULL;
	struct khm_rec body;
	struct khm_ctx *x;
	u32 max_threads, max_captures, i;
	u64 t0 = ktime_get_ns(), max_bytes, room;
	size_t ucap;
	bool user, use_mm;

	mutex_lock(&khm_lock);
	max_threads = khm_cfg.max_threads;
	max_captures = khm_cfg.max_captures;
	max_bytes = (u64)khm_cfg.max_queue_kb * 1024;
	ucap = (size_t)khm_cfg.user_stack_kb * 1024;
	mutex_unlock(&khm_lock);

	task = get_pid_task(req->pid, PIDTYPE_TGID);
	if (task && req->start_ns && task->start_boottime != req->start_ns) {
		/* the pid was reused: that is another process */
		put_task_struct(task);
		khm_queue_count(KHM_QCOUNT_FAILED);
		return;
	}
	x = khm_ctx_new(max_threads, ucap);
	pi = khm_alloc(sizeof(*pi));
	c = khm_alloc(sizeof(*c));
	if (!x || !pi || !c)
		goto fail;
	c->id = req->id;
	khm_rec_init(&c->sum, KHOLMES_RECORD_MAX);
	/* cut where the whole capture still fits the queue's byte limit */
	room = khm_queue_room(max_bytes);
	khm_rec_init(&c->body, room);
	khm_rec_init(&body, room > KHOLMES_RECORD_MAX ?
			    room - KHOLMES_RECORD_MAX : 0);
	pi->time_ns = ktime_get_real_ns();
	pi->boot_ns = ktime_get_boottime_ns();
	pi->pid = pid_nr(req->pid);
	if (req->trig.manual)
		pi->flags |= KHOLMES_CAPTURE_F_MANUAL;
	if (req->profile)
		pi->flags |= KHOLMES_CAPTURE_F_PROFILE;

	if (!task) {
		pi->flags |= KHOLMES_CAPTURE_F_EXITED;
		if (req->profile_maps) {
			strscpy(pi->comm, req->profile_comm, sizeof(pi->comm));
			khm_rec_append(&body, req->profile_maps);
		}
	} else {
		khm_proc_info(task, pi);
		mm = get_task_mm(task);
		user = !(task->flags & PF_KTHREAD);
		if (!mm && user) {
			/* the leader exited: a live thread still has the mm */
			khm_collect_threads(task, max_threads, x);
			for (i = 0; i < x->nthreads && !mm; i++)
				mm = get_task_mm(x->threads[i]);
		} else {
			khm_collect_threads(task, max_threads, x);
		}
		if (!user)
			pi->flags |= KHOLMES_CAPTURE_F_NO_MM;
		else if (!mm)
			pi->flags |= KHOLMES_CAPTURE_F_EXITED;
		if (mm) {
			if (!khm_collect_maps(mm, x, pi->exe, sizeof(pi->exe)))
				pi->flags |= KHOLMES_CAPTURE_F_MAPS_SKIPPED;
			khm_write_maps(&body, x);
		}
		if (!req->trig.manual && !req->profile &&
		    req->trig.metric == KHOLMES_METRIC_RUNDELAY)
			khm_write_consumers(&body, x);
		if (req->profile) {
			/* a profile's stacks, not a snapshot of its threads */
			for (i = 0; i < x->nthreads; i++)
				put_task_struct(x->threads[i]);
			x->nthreads = 0;
		}
		if (x->nr_threads > x->nthreads && !req->profile)
			pi->flags |= KHOLMES_CAPTURE_F_THREADS_TRUNC;
		if (x->maps_trunc)
			pi->flags |= KHOLMES_CAPTURE_F_MAPS_TRUNC;
		/* only a kthread (a worker) may borrow an mm */
		use_mm = user && mm && x->nthreads && !req->profile &&
			 (current->flags & PF_KTHREAD);
		if (use_mm)
			kthread_use_mm(mm);
		for (i = 0; i < x->nthreads && !READ_ONCE(khm_cstopping); i++) {
			size_t mark = body.len;

			if (ktime_get_ns() - t0 > KHM_CAPTURE_BUDGET_MS * NSEC_PER_MSEC) {
				pi->flags |= KHOLMES_CAPTURE_F_BUDGET;
				break;
			}
			khm_snap_thread(x->threads[i], user && mm, use_mm, x);
			khm_write_thread(&body, x->threads[i], x);
			if (body.err == -E2BIG) {
				/* keep the threads that fit the byte limit */
				body.len = mark;
				body.err = 0;
				pi->flags |= KHOLMES_CAPTURE_F_THREADS_TRUNC;
				break;
			}
			if (body.err)
				break;
			cond_resched();
		}
		if (use_mm)
			kthread_unuse_mm(mm);
		if (i < x->nthreads && READ_ONCE(khm_cstopping))
			pi->flags |= KHOLMES_CAPTURE_F_BUDGET;
	}

	/* what the target did before: its samples in the flight recorder */
	if (!req->profile)
		khm_flight_write(&body, pi->pid, req->detect_ns,
				 !req->trig.manual &&
				 req->trig.metric == KHOLMES_METRIC_RUNDELAY,
				 max_bytes / 4);
	if (req->profile && task)
		req->profile_maps = NULL;
	if (req->profile)
		khm_rec_append(&body, req->profile);
	khm_write_capture(&c->body, req, pi, x, 0, ktime_get_ns() - t0, true);
	khm_rec_append(&c->body, &body);
	khm_rec_release(&body);
	khm_write_capture(&c->sum, req, pi, x, c->body.len, 0, false);
	if (c->body.err || c->sum.err)
		goto fail;
	khm_queue_push(c, max_captures, max_bytes, ktime_get_ns() - t0);
	c = NULL;
	goto out;
fail:
	khm_queue_count(KHM_QCOUNT_FAILED);
out:
	khm_capture_free(c);
	if (mm)
		mmput(mm);
	if (x)
		khm_ctx_free(x, max_threads);
	khm_free(pi, sizeof(*pi));
	if (task)
		put_task_struct(task);
}

/*
 * The mapping records and comm of the process behind pid, for a profile to
 * keep in case its target is gone by the time it ends. Returns how many
 * mappings, or a negative errno.
 */
int khm_capture_maps(struct pid *pid, struct khm_rec *r, char *comm)
{
	struct task_struct *task;
	struct mm_struct *mm;
	struct khm_ctx *x;
	char *exe;
	int ret;

	task = get_pid_task(pid, PIDTYPE_TGID);
	if (!task)
		return -ESRCH;
	strscpy(comm, task->comm, TASK_COMM_LEN);
	mm = get_task_mm(task);
	put_task_struct(task);
	if (!mm)
		return -ESRCH;
	x = khm_ctx_new(1, 0);
	exe = khm_alloc(KHM_MAP_PATH_MAX);
	if (!x || !exe) {
		ret = -ENOMEM;
		goto out;
	}
	if (!khm_collect_maps(mm, x, exe, KHM_MAP_PATH_MAX)) {
		ret = -EBUSY;
		goto out;
	}
	khm_write_maps(r, x);
	ret = r->err ?: x->nmaps;
out:
	khm_free(exe, KHM_MAP_PATH_MAX);
	if (x)
		khm_ctx_free(x, 1);
	mmput(mm);
	return ret;
}

/* Queue a finished profile, with the process's mappings to read it by. */
void khm_capture_profile(u64 id, struct pid *pid,
			 const struct khm_trigger *trig, u64 profile_of,
			 u32 kind, const struct khm_rec *profile,
			 const struct khm_rec *maps, u32 nmaps, const char *comm)
{
	struct khm_req req = {
		.id = id,
		.pid = pid,
		.trig = *trig,
		.profile = profile,
		.profile_maps = maps,
		.profile_nmaps = nmaps,
		.profile_comm = comm,
		.profile_of = profile_of,
		.profile_kind = kind,
	};

	if (profile->err) {
		khm_queue_count(KHM_QCOUNT_FAILED);
		return;
	}
	khm_take(&req);
}

static void khm_capture_work(struct work_struct *work)
{
	struct khm_req *req;

	for (;;) {
		spin_lock(&khm_pending_lock);
		req = khm_cstopping ? NULL :
		      list_first_entry_or_null(&khm_pending, struct khm_req,
					       node);
		if (req) {
			list_del(&req->node);
			khm_npending--;
		}
		spin_unlock(&khm_pending_lock);
		if (!req)
			break;
		khm_take(req);
		put_pid(req->pid);
		khm_free(req, sizeof(*req));
		cond_resched();
	}
}

int khm_capture_init(void)
{
	khm_cwq = alloc_ordered_workqueue("kholmes_capture", 0);
	if (!khm_cwq)
		return -ENOMEM;
	INIT_WORK(&khm_cwork, khm_capture_work);
	return 0;
}

/* After the sampler and netlink are gone: nobody requests any more. */
void khm_capture_uninit(void)
{
	struct khm_req *req, *tmp;

	spin_lock(&khm_pending_lock);
	khm_cstopping = true;
	spin_unlock(&khm_pending_lock);
	cancel_work_sync(&khm_cwork);
	destroy_workqueue(khm_cwq);
	list_for_each_entry_safe(req, tmp, &khm_pending, node) {
		list_del(&req->node);
		put_pid(req->pid);
		khm_free(req, sizeof(*req));
	}
	khm_npending = 0;
	khm_queue_uninit();
}
