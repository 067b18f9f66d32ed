// SPDX-License-Identifier: GPL-2.0
/*
 * dstate [-d MS] [-g]: after an optional idle phase, vfork() a child that
 * sleeps forever. The parent waits for the child in the kernel
 * (wait_for_vfork_done(), TASK_KILLABLE) and so shows as 'D' in
 * /proc/PID/stat until it is killed; the child, which must not return
 * from here nor touch the parent's stack frames, asks to be killed with
 * its parent and says "ready" (with its own pid) from a raw write().
 */
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "wl.h"

static wl_noinline void vfork_child(pid_t parent)
{
	static char msg[32] = "ready ";
	int len = 6, i;
	char digits[12];
	pid_t me;

	syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (syscall(SYS_getppid) != parent)
		syscall(SYS_exit, 1);
	me = syscall(SYS_getpid);
	for (i = 0; me; me /= 10)
		digits[i++] = '0' + me % 10;
	while (i)
		msg[len++] = digits[--i];
	msg[len++] = '\n';
	syscall(SYS_write, STDOUT_FILENO, msg, len);
	for (;;)
		syscall(SYS_pause);
}

static wl_noinline void block_in_vfork(void)
{
	pid_t parent = getpid();
	pid_t pid;

	pid = vfork();
	if (pid == 0)
		vfork_child(parent);
	/* only when the child died: nothing more to hold */
	if (pid < 0)
		wl_die("vfork");
	fprintf(stderr, "dstate: vfork child %d exited\n", pid);
	exit(1);
}

int main(int argc, char *argv[])
{
	struct wl_opts o;

	wl_parse(argc, argv, "", "", &o);
	wl_idle_phase(&o);
	block_in_vfork();
	return 0;
}
