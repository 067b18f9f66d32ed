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

#include <stdbool.h>
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

/*
 * Captures (issue 4): ids, the queue, and the files `kholmesctl pull` and
 * `kholmesctl daemon` write, named DIR/<UTC time>-<comm>-<pid>-<metric>-<id>
 * followed by an extension (".txt", ".json", ".folded", ...).
 */

/*
 * `kholmesctl -j capture pid @pid`: the id of the capture it queued, or -1
 * with kholmesctl's exit code in *@ret (if given) and its complaint as a
 * TAP comment.
 */
long long khm_capture(pid_t pid, int *ret);

/*
 * The entry of capture @id in `kholmesctl -j captures` (a reference, to be
 * put), or NULL. khm_capture_wait() waits up to @timeout_ms for it.
 */
struct json_object *khm_capture_find(long long id);
struct json_object *khm_capture_wait(long long id, int timeout_ms);

/* `kholmesctl pull --dir @dir`: its exit code; a complaint as TAP comment. */
int khm_pull(const char *dir);

/* mkdir -p, mode 0755. 0, or -1 with errno set. */
int khm_mkdir_p(const char *path);

/*
 * The id in a capture file's name ("...-<id>.json" -> id), with the
 * extension that follows it in *@ext; -1 when the name is not one.
 */
long long khm_capture_name_id(const char *name, const char **ext);

/*
 * How many files of @dir belong to capture @id and end in @ext exactly
 * (".json"); the path of the first in @path (if given).
 */
int khm_capture_path(const char *dir, long long id, const char *ext,
		     char *path, size_t len);

/*
 * The ids of @dir's capture files ending in @ext exactly, ascending, one
 * per file (a file written twice under two names shows twice), at most
 * @max in @ids; how many files there are (which may exceed @max), or -1.
 */
int khm_capture_ids(const char *dir, const char *ext, long long *ids, int max);

/* A whole file, NUL-terminated, to be freed; NULL with errno set. */
char *khm_slurp(const char *path, size_t *len);

/* The GNU build-id of the ELF file at @path, in hex (NUL-terminated). 0, or -1. */
int khm_elf_build_id(const char *path, char *hex, size_t len);

/*
 * Where the kernel half starts: 0xffff800000000000 with 4-level paging,
 * 0xff00000000000000 with 5-level paging (la57), where the direct map
 * sits at 0xff11000000000000 and vmalloc at 0xffa0000000000000.
 */
#define KHM_KADDR_MIN_4L	0xffff800000000000ULL
#define KHM_KADDR_MIN_LA57	0xff00000000000000ULL

/* Whether this kernel runs with 5-level paging (probed once). */
bool khm_paging_la57(void);
/* For a test of the scan itself: 1 or 0 forces, -1 probes again. */
void khm_paging_set_la57(int on);
/* The lowest kernel address of this kernel's paging mode. */
unsigned long long khm_kaddr_min(void);

/*
 * The first raw kernel address in @text: a run of exactly 16 hex digits
 * starting "ff" (with or without 0x), or a 20-digit decimal number, whose
 * value lies in the kernel half, [khm_kaddr_min(), 0xffffffffffff0000);
 * above that are small negative numbers such as a saved -ENOSYS, not
 * addresses. NULL when there is none.
 */
const char *khm_find_kaddr(const char *text);

/*
 * Check every regular file under @dir, recursively, as a capture
 * directory: no temporary file is left (a name starting with '.' or
 * holding ".tmp"), every .json is exactly one JSON value json-c parses,
 * and no .txt, .json or .folded holds a raw kernel address. Each problem
 * is a TAP comment. Counts in @st (if given); returns the number of
 * problems, or -1 when @dir cannot be walked.
 */
struct khm_tree_stats {
	int files;
	int json;
	int bad_json;
	int kaddr;
	int tmp;
};

int khm_check_tree(const char *dir, struct khm_tree_stats *st);

/*
 * The configuration as `kholmesctl -j config show` prints it (a
 * reference), and putting it back: every member that differs now is set
 * again, all in one `config set`. 0, or -1 with the complaint as a TAP
 * comment. khm_config_restore() does not put @saved.
 */
struct json_object *khm_config_save(void);
int khm_config_restore(struct json_object *saved);

/*
 * Raw generic netlink (no libnl), for tests that craft the request bytes
 * themselves or read the replies' bytes unparsed (fuzz_test, priv_test).
 * A struct khm_genl is one NETLINK_GENERIC socket bound to an
 * automatic port id, with the "kholmes" family id resolved on it by hand
 * (CTRL_CMD_GETFAMILY).
 */
struct nlattr;

struct khm_genl {
	int fd;
	unsigned int portid;
	unsigned short family;
	unsigned int seq;
	/*
	 * Send with send(), without a destination address; the kernel then
	 * checks the capabilities of whoever opened the socket as well as the
	 * sender's (a socket handed to a privileged program). Default: sendto()
	 * the kernel, where only the sender's count.
	 */
	int plain;
};

/* The id of generic netlink family @name, asked on socket @fd; or -errno. */
int khm_genl_family_id(int fd, const char *name);

/*
 * Open, bind (receive timeout 10 s) and resolve KHOLMES_GENL_NAME.
 * 0, or -errno with nothing left open.
 */
int khm_genl_open(struct khm_genl *g);
void khm_genl_close(struct khm_genl *g);

/*
 * Append attribute @type with @len bytes of @data at offset @off of @buf
 * (padded to 4 bytes); returns the offset after it. khm_nla_nest_start()
 * appends an empty nest header and returns its offset, which
 * khm_nla_nest_end() gives back once its members are appended, to set
 * its length. The caller sizes @buf.
 */
size_t khm_nla_put(void *buf, size_t off, unsigned short type,
		   const void *data, size_t len);
size_t khm_nla_nest_start(void *buf, size_t off, unsigned short type);
void khm_nla_nest_end(void *buf, size_t start, size_t off);

/*
 * Send one kholmes request: genl command @cmd, NLM_F_REQUEST | @flags
 * (NLM_F_ACK is added unless @flags has NLM_F_DUMP), @len bytes of
 * attributes. Every reply message to it is read, up to its final ack,
 * error or NLMSG_DONE, and, if @out is given, handed back concatenated as
 * received in *@out (to be freed), *@out_len bytes. Returns 0 when it was
 * acknowledged or the dump ended without error, the negative errno of its
 * NLMSG_ERROR or NLMSG_DONE, or -errno when sending or receiving failed.
 */
int khm_genl_request(struct khm_genl *g, unsigned char cmd,
		     unsigned short flags, const void *attrs, size_t len,
		     void **out, size_t *out_len);

/*
 * The first attribute of @type (flags ignored) among the @len bytes of
 * attributes at @attrs, or NULL. The bytes are checked: an attribute that
 * does not fit ends the search.
 */
const struct nlattr *khm_nla_find(const void *attrs, size_t len, int type);

/*
 * For a test that needs the queue to itself: once automatic captures are
 * off (capture-rate 0, since CLOCK_MONOTONIC @quiet_since_ms), a profile
 * started before still ends into the queue up to profile-s seconds later.
 * Wait that long (config "profile-s", 5 when the controller does not show
 * it) plus a second, then pull whatever came into @dir. 0, or -1 when the
 * pull failed or the queue is still not empty.
 */
int khm_captures_settle(long long quiet_since_ms, const char *dir);

#endif /* _KHM_H */
