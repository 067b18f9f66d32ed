/* SPDX-License-Identifier: GPL-2.0 */
/*
 * khm: small helpers for the kholmes VM selftests.
 *
 * The tests run as root inside the test VM (see selftests/vm/), where the
 * module was loaded by /init before the first test and must still be loaded
 * after the last one. They drive the module through kholmesctl, as an
 * operator would, and read the JSON it prints (-j).
 *
 * Layout of the VM, each path overridable by an environment variable:
 *
 *	/bin/kholmesctl            KHOLMESCTL   the controller (dynamic, libs copied)
 *	/lib/kholmes/kholmes.ko    KHM_MODULE   the module
 *	/selftests/<name>_test                  every test binary, run in turn
 *	/selftests/<workload>                   every selftests/workloads/<workload>.c
 *	/bin/insmod, /bin/rmmod, ...            busybox applets
 *
 * Commands are given as a printf format; the result is split on spaces into
 * an argv and executed directly (no shell, no quoting): arguments cannot
 * contain spaces. Every function returning a string or a json_object hands
 * ownership to the caller (free() / json_object_put()).
 */
#ifndef _KHM_H
#define _KHM_H

#include <stddef.h>
#include <sys/types.h>
#include <json-c/json.h>

#define KHM_CTL_DEFAULT		"/bin/kholmesctl"
#define KHM_MODULE_DEFAULT	"/lib/kholmes/kholmes.ko"
#define KHM_SELFTESTS_DIR	"/selftests"
#define KHM_INSMOD		"/bin/insmod"
#define KHM_RMMOD		"/bin/rmmod"
#define KHM_MODULE_NAME		"kholmes"

/* uid and gid of the `nobody` user the VM's /etc/passwd defines. */
#define KHM_NOBODY		65534

/* Exit codes of kholmesctl (the controller contract). */
#define KHM_EXIT_OK		0
#define KHM_EXIT_FAIL		1
#define KHM_EXIT_USAGE		2
#define KHM_EXIT_NOT_LOADED	3

/* The controller to run: $KHOLMESCTL or KHM_CTL_DEFAULT. */
const char *khm_ctl_path(void);

/* The module file to load: $KHM_MODULE or KHM_MODULE_DEFAULT. */
const char *khm_module_path(void);

/*
 * Run `kholmesctl <fmt...>` as root. Its stdout and stderr are returned in
 * *out and *err (NUL-terminated, to be freed; pass NULL to discard).
 * Returns its exit code, 128 + signal if it was killed, -1 if it could not
 * be run at all.
 */
int khm_run(char **out, char **err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * The same, in a forked child that first drops to uid and gid @uid with no
 * supplementary groups; leaving uid 0 clears every capability, so this is
 * how a test plays an unprivileged user (KHM_NOBODY).
 */
int khm_run_as(uid_t uid, char **out, char **err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Run any program as root: the first word of the formatted command is its
 * path, e.g. khm_exec(NULL, &err, "/bin/rmmod %s", KHM_MODULE_NAME).
 * Same outputs and return value as khm_run().
 */
int khm_exec(char **out, char **err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Run `kholmesctl -j <fmt...>` as root and parse its stdout. NULL when it
 * exits non-zero or prints something that is not one JSON value; the reason
 * goes to stderr.
 */
struct json_object *khm_json(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/*
 * Members by dotted path: "pass-ns.max" is obj["pass-ns"]["max"].
 * khm_json_get() returns the member (borrowed, not to be put) or NULL.
 * khm_json_int() returns an integer or boolean member (true is 1), or
 * LLONG_MIN when it is missing or of another type. khm_json_num() returns
 * any number as a double, NAN when missing. khm_json_str() returns a string
 * member (borrowed) or NULL.
 */
struct json_object *khm_json_get(struct json_object *obj, const char *path);
long long khm_json_int(struct json_object *obj, const char *path);
double khm_json_num(struct json_object *obj, const char *path);
const char *khm_json_str(struct json_object *obj, const char *path);

/*
 * Start a workload: fork and execv(path, argv), argv NULL-terminated with
 * argv[0] set. Returns the child's pid once exec has succeeded, -1 (errno
 * set) if fork or exec failed. The caller kills and reaps it (khm_stop()).
 */
pid_t khm_spawn(const char *path, char *const argv[]);

/* SIGKILL @pid and reap it. 0, or -1 with errno set. */
int khm_stop(pid_t pid);

/*
 * The number in field @field of /proc/@pid/status, e.g. "VmRSS" (kB) or
 * "Threads"; -1 when the process or the field does not exist.
 */
int khm_proc_status_kb(pid_t pid, const char *field);

/*
 * Read a (small) file into buf, NUL-terminated, trailing whitespace and
 * newlines trimmed. Returns the length kept, or -errno.
 */
int khm_read_file(const char *path, char *buf, size_t len);

/*
 * For TH_LOG: turn @s (e.g. a captured stderr) into one line in place, its
 * newlines made spaces and trailing ones dropped, so that it stays a single
 * TAP comment. Returns @s, or "" for NULL.
 */
const char *khm_oneline(char *s);

/* 1 when the module is loaded (/sys/module/kholmes exists), else 0. */
int khm_module_loaded(void);

/*
 * Load the module with busybox insmod and @params ("interval_ms=100
 * window=4"); NULL means the parameters /init loaded it with ($KHM_MODPARAMS,
 * usually none), which is how a test puts back what it found. Unload it with
 * busybox rmmod. Both return the command's exit code (0 on success) and
 * print the command's complaint, if any, as a TAP comment.
 */
int khm_insmod(const char *params);
int khm_rmmod(void);

#endif /* _KHM_H */
