// SPDX-License-Identifier: GPL-2.0
/*
 * khm_sick: a test-only module that makes a process sick on demand, for
 * selftests/sick_test.c. Never part of kholmes.
 *
 * /proc/khm_sick takes one command per write:
 *   "lock PID SECONDS"  a kthread takes the mmap lock of PID's mm for
 *                       writing and holds it SECONDS (one at a time)
 *   "unlock"            it lets go now
 *   "spin MS"           the writer spins MS ms in this module, 40 calls
 *                       deep in a function whose name is 200 characters
 *                       long: kernel frames that overflow a profile's
 *                       stack record unless it is bounded
 * Reading it says "locked PID" or "idle". Unloading lets go first.
 */
#include <linux/completion.h>
#include <linux/ktime.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/proc_fs.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

static DEFINE_MUTEX(sick_mutex);
static DECLARE_WAIT_QUEUE_HEAD(sick_wq);
static struct task_struct *sick_thread;
static struct mm_struct *sick_mm;
static unsigned long sick_secs;
static pid_t sick_pid;
static bool sick_release;
static bool sick_held;
static struct completion sick_taken;

#define SICK_LONG_NAME(x)						\
	x##_khm_sick_a_kernel_function_whose_name_is_long_enough_that	\
	##_thirty_two_frames_of_it_overflow_any_profile_stack_record	\
	##_of_three_kilobytes_when_they_are_written_out_as_symbol	\
	##_strings_by_the_module
#define SICK_DEPTH	40

static noinline void SICK_LONG_NAME(spin)(int depth, u64 end)
{
	if (depth < SICK_DEPTH) {
		SICK_LONG_NAME(spin)(depth + 1, end);
		barrier();	/* no tail call: every level keeps its frame */
		return;
	}
	while (ktime_get_ns() < end)
		cond_resched();
}

static int sick_fn(void *arg)
{
	mmap_write_lock(sick_mm);
	WRITE_ONCE(sick_held, true);
	complete(&sick_taken);
	wait_event_timeout(sick_wq, READ_ONCE(sick_release) ||
			   kthread_should_stop(), sick_secs * HZ);
	mmap_write_unlock(sick_mm);
	WRITE_ONCE(sick_held, false);
	while (!kthread_should_stop()) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (!kthread_should_stop())
			schedule();
		__set_current_state(TASK_RUNNING);
	}
	return 0;
}

/* under sick_mutex */
static void sick_stop(void)
{
	if (!sick_thread)
		return;
	WRITE_ONCE(sick_release, true);
	wake_up(&sick_wq);
	kthread_stop(sick_thread);
	put_task_struct(sick_thread);
	sick_thread = NULL;
	mmput(sick_mm);
	sick_mm = NULL;
	sick_pid = 0;
}

static int sick_lock(pid_t nr, unsigned long secs)
{
	struct task_struct *task, *t;
	struct mm_struct *mm;

	task = get_pid_task(find_get_pid(nr), PIDTYPE_PID);
	if (!task)
		return -ESRCH;
	mm = get_task_mm(task);
	put_task_struct(task);
	if (!mm)
		return -EINVAL;
	sick_stop();
	sick_mm = mm;
	sick_secs = secs;
	sick_release = false;
	init_completion(&sick_taken);
	t = kthread_create(sick_fn, NULL, "khm_sick/%d", nr);
	if (IS_ERR(t)) {
		mmput(mm);
		sick_mm = NULL;
		return PTR_ERR(t);
	}
	get_task_struct(t);
	sick_thread = t;
	sick_pid = nr;
	wake_up_process(t);
	wait_for_completion(&sick_taken);
	return 0;
}

static ssize_t sick_write(struct file *file, const char __user *ubuf,
			  size_t len, loff_t *ppos)
{
	unsigned long secs;
	char buf[64];
	int pid, ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	mutex_lock(&sick_mutex);
	if (sscanf(buf, "spin %lu", &secs) == 1) {
		mutex_unlock(&sick_mutex);
		SICK_LONG_NAME(spin)(0, ktime_get_ns() +
				     min(secs, 10000UL) * NSEC_PER_MSEC);
		return len;
	}
	if (sscanf(buf, "lock %d %lu", &pid, &secs) == 2)
		ret = sick_lock(pid, secs);
	else if (!strncmp(buf, "unlock", 6))
		ret = 0, sick_stop();
	else
		ret = -EINVAL;
	mutex_unlock(&sick_mutex);
	return ret ?: len;
}

static int sick_show(struct seq_file *m, void *v)
{
	if (READ_ONCE(sick_held))
		seq_printf(m, "locked %d\n", READ_ONCE(sick_pid));
	else
		seq_puts(m, "idle\n");
	return 0;
}

static int sick_open(struct inode *inode, struct file *file)
{
	return single_open(file, sick_show, NULL);
}

static const struct proc_ops sick_ops = {
	.proc_open	= sick_open,
	.proc_read	= seq_read,
	.proc_lseek	= seq_lseek,
	.proc_release	= single_release,
	.proc_write	= sick_write,
};

static int __init sick_init(void)
{
	if (!proc_create("khm_sick", 0600, NULL, &sick_ops))
		return -ENOMEM;
	return 0;
}

static void __exit sick_exit(void)
{
	remove_proc_entry("khm_sick", NULL);
	mutex_lock(&sick_mutex);
	sick_stop();
	mutex_unlock(&sick_mutex);
}

module_init(sick_init);
module_exit(sick_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kholmes selftests: hold a process's mmap lock");
