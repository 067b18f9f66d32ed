// SPDX-License-Identifier: GPL-2.0
/*
 * kholmesctl daemon: every capture the module queues, on disk. It pulls at
 * start (captures queued while it was down are not lost), on each
 * CAPTURE_READY event, and every few seconds anyway, since an event can be
 * lost (a full socket buffer) where the queue cannot. A directory that
 * refuses a file (full, read-only) acknowledges nothing and is retried
 * with a growing delay. SIGTERM and SIGINT end it after the capture being
 * written, with 0.
 *
 * --config FILE is applied as `apply` does: at start (a refusal ends the
 * daemon with 1, as a misconfigured service should not look healthy), on
 * SIGHUP (a refusal is logged and the module keeps what it had), and
 * after reconnecting to a module that was reloaded with its defaults.
 * --prom-file is rewritten every 5 s and after each capture. --post
 * spools each capture's upload before acknowledging it (post.h) and
 * drives the transfers from this loop.
 */
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "decode.h"
#include "notify.h"
#include "fmt.h"
#include "nl.h"
#include "out.h"
#include "post.h"
#include "prom.h"
#include "pull.h"
#include "subcommands.h"
#include "util.h"

#define RESYNC_MS		5000	/* pull even without an event */
#define BACKOFF_MAX_S		60
#define HOOKS_MAX		8	/* --exec commands running at once */
#define HOOK_QUEUE		64	/* waiting for one of those */
#define HOOK_TIMEOUT_MS		(300 * 1000)
#define EVENTS_RCVBUF		(1 << 20)
#define PROM_MS			5000	/* --prom-file refresh */

struct hook {
	pid_t pid;			/* 0: free */
	uint64_t id;
	uint64_t deadline;		/* ms, monotonic */
	bool killed;
};

struct queued {
	uint64_t id;
	char *path;
};

struct daemon {
	struct kh_pull_opts o;
	struct kh_puller p;
	struct kh_nl ev;
	bool connected;
	int sfd;
	bool stop;
	bool need_pull;
	unsigned int backoff_s;
	uint64_t retry_at;		/* ms, monotonic */
	uint64_t resync_at;
	char *cmdline;
	struct hook hooks[HOOKS_MAX];
	struct queued queue[HOOK_QUEUE];
	size_t qhead, qlen;
	bool reload;			/* SIGHUP: apply --config again */
	bool need_apply;		/* connected anew: apply --config */
	uint64_t written;		/* captures written and acknowledged */
	uint64_t rotated_undelivered;	/* rotated out before the upload */
	uint64_t prom_at;		/* next --prom-file refresh, ms */
	bool prom_failed;		/* its failure is logged already */
	struct kh_post *post;		/* --post */
	char hostname[KH_HOST_LEN];
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s daemon --dir DIR [--max-files N] [--max-mb N] [--exec CMD]\n"
		"         [--post URL] [--prom-file PATH] [--config FILE] [--group GROUP]\n",
		PROG_NAME);
	fprintf(f, "Writes every capture the module queues to DIR, as pull does, until SIGTERM.\n");
	fprintf(f, "DIR is created (0750) if missing; it must be writable by no other user.\n");
	fprintf(f, "--group GROUP: the captures' group (they are 0640; default: root's).\n");
	fprintf(f, "--max-files N, --max-mb N: keep at most N captures, N MiB, deleting the oldest\n");
	fprintf(f, "  captures' files first (0: no limit, the default).\n");
	fprintf(f, "--exec CMD: run /bin/sh -c 'CMD \"$1\"' with each report's .txt path as $1.\n");
	fprintf(f, "--post URL: upload each capture's files as one multipart/form-data POST,\n"
		"  retried from DIR/%s until the server answers 2xx.\n", KH_SPOOL_DIR);
	fprintf(f, "--prom-file PATH: keep PATH (e.g. .../textfile/kholmes.prom) up to date with\n"
		"  counters in the Prometheus text format, every %d s and after each capture.\n",
		PROM_MS / 1000);
	fprintf(f, "--config FILE: apply FILE as apply does, at start and on SIGHUP; a file\n"
		"  that is refused changes nothing.\n");
	fprintf(f, "Under systemd: Type=notify (READY=1 once the module answered), and log\n"
		"  priorities when stderr is the journal.\n");
}

/* ------------------------------------------------------------------ hooks */

static void hook_start(struct daemon *d, struct hook *h, uint64_t id,
		       const char *path)
{
	sigset_t none;
	pid_t pid;
	int fd;

	pid = fork();
	if (pid < 0) {
		kh_err("--exec for capture %" PRIu64 ": %s", id, strerror(errno));
		return;
	}
	if (!pid) {
		/* the signals the daemon takes by signalfd are the hook's own */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* its own group, so that a timeout ends its children too */
		setpgid(0, 0);
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		execl("/bin/sh", "sh", "-c", d->cmdline, "sh", path, (char *)NULL);
		_exit(127);
	}
	*h = (struct hook){ .pid = pid, .id = id,
			    .deadline = kh_now_ms() + HOOK_TIMEOUT_MS };
}

static struct hook *hook_free(struct daemon *d)
{
	size_t i;

	for (i = 0; i < HOOKS_MAX; i++)
		if (!d->hooks[i].pid)
			return &d->hooks[i];
	return NULL;
}

/* Reaps finished hooks, ends overdue ones, starts queued ones. */
static void hooks_run(struct daemon *d)
{
	struct queued *q;
	struct hook *h;
	uint64_t now;
	pid_t pid;
	size_t i;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < HOOKS_MAX && d->hooks[i].pid != pid; i++)
			;
		if (i == HOOKS_MAX)
			continue;
		h = &d->hooks[i];
		if (WIFEXITED(st) && WEXITSTATUS(st))
			kh_err("--exec for capture %" PRIu64 " exited with %d",
			       h->id, WEXITSTATUS(st));
		else if (WIFSIGNALED(st) && !h->killed)
			kh_err("--exec for capture %" PRIu64 " killed by signal %d",
			       h->id, WTERMSIG(st));
		h->pid = 0;
	}
	now = kh_now_ms();
	for (i = 0; i < HOOKS_MAX; i++) {
		h = &d->hooks[i];
		if (!h->pid || h->killed || now < h->deadline)
			continue;
		kh_err("--exec for capture %" PRIu64 " still running after %d s: killed",
		       h->id, HOOK_TIMEOUT_MS / 1000);
		kill(-h->pid, SIGKILL);
		kill(h->pid, SIGKILL);
		h->killed = true;
	}
	while (d->qlen && (h = hook_free(d))) {
		q = &d->queue[d->qhead];
		hook_start(d, h, q->id, q->path);
		free(q->path);
		d->qhead = (d->qhead + 1) % HOOK_QUEUE;
		d->qlen--;
	}
}

static void hook_queue(struct daemon *d, uint64_t id, const char *path)
{
	struct queued *q;

	if (d->qlen == HOOK_QUEUE) {
		kh_err("--exec for capture %" PRIu64 " not run: %d already waiting",
		       id, HOOK_QUEUE);
		return;
	}
	q = &d->queue[(d->qhead + d->qlen) % HOOK_QUEUE];
	q->path = strdup(path);
	if (!q->path) {
		kh_err("--exec for capture %" PRIu64 ": %s", id, strerror(ENOMEM));
		return;
	}
	q->id = id;
	d->qlen++;
	hooks_run(d);
}

static uint64_t hooks_deadline(const struct daemon *d)
{
	uint64_t t = UINT64_MAX;
	size_t i;

	for (i = 0; i < HOOKS_MAX; i++)
		if (d->hooks[i].pid && !d->hooks[i].killed &&
		    d->hooks[i].deadline < t)
			t = d->hooks[i].deadline;
	return t;
}

/* --------------------------------------------------------------- rotation */

static void rotate(struct daemon *d, const char *keep)
{
	struct kh_set *sets;
	char size[32];
	size_t n, k, i;
	int err;

	if (!d->o.max_files && !d->o.max_mb)
		return;
	err = kh_store_scan(&d->p.store, &sets, &n);
	if (err) {
		kh_err("rotating %s: %s", d->o.dir, strerror(-err));
		return;
	}
	for (i = 0; i < n; i++)
		sets[i].pending = kh_post_pending(d->post, sets[i].base);
	k = kh_rotate_plan(sets, n, d->o.max_files, (uint64_t)d->o.max_mb << 20,
			   keep);
	for (i = 0; k && i < n; i++) {
		if (!sets[i].remove)
			continue;
		k--;
		err = kh_store_remove(&d->p.store, &sets[i]);
		if (err) {
			kh_err("rotating out %s: %s", sets[i].base, strerror(-err));
			break;
		}
		if (d->post)
			kh_post_drop(d->post, sets[i].base);
		d->rotated_undelivered += sets[i].undelivered;
		kh_log(sets[i].undelivered ? LOG_WARNING : LOG_INFO,
		       "rotated out %s (%u files, %s)%s", sets[i].base,
		       sets[i].files, kh_size(size, sizeof(size), sets[i].bytes),
		       sets[i].undelivered ?
		       ": never uploaded, and no uploaded capture was left to delete" :
		       "");
	}
	free(sets);
}

/* ----------------------------------------------------------------- events */

static void signals(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			d->reload = true;
		} else if (si.ssi_signo != SIGCHLD && !d->stop) {
			d->stop = true;
			kh_notify("STOPPING=1");
		}
	}
	hooks_run(d);
}

static int status_cb(struct nlmsghdr *nlh, void *arg)
{
	return kh_decode_status(nlh, arg);
}

/* What the module did, if it answers, and what this daemon did. */
static void prom_refresh(struct daemon *d)
{
	struct kh_status st = { 0 };
	struct kh_prom pr = { .st = &st };
	struct kh_post_stats ps = { 0 };
	int err;

	if (!d->o.prom_file)
		return;
	d->prom_at = kh_now_ms() + PROM_MS;
	if (d->connected)
		pr.up = !kh_nl_call(&d->p.nl,
				    kh_nl_msg(&d->p.nl, KHOLMES_CMD_GET_STATUS, 0),
				    status_cb, &st);
	pr.written = d->written;
	pr.partial = d->p.nr_partial;
	pr.rotated_undelivered = d->rotated_undelivered;
	if (d->post) {
		kh_post_stats(d->post, &ps);
		pr.uploads = ps.uploads;
		pr.upload_failures = ps.failures;
		pr.uploads_dropped = ps.dropped;
		pr.uploads_pending = ps.pending;
	}
	err = kh_prom_write(d->o.prom_file, &pr);
	if (err && !d->prom_failed)
		kh_err("writing %s: %s", d->o.prom_file, strerror(-err));
	else if (!err && d->prom_failed)
		kh_log(LOG_NOTICE, "writing %s again", d->o.prom_file);
	d->prom_failed = err != 0;
}

/* Before the acknowledgement: the capture's upload, on disk. */
static int durable(struct kh_puller *p, const struct kh_capture *cap,
		   const char *base)
{
	struct daemon *d = p->arg;
	struct kh_upload u;
	unsigned int i;
	int err;

	err = kh_upload_init(&u, &cap->sum, base, d->hostname);
	/* the files this capture wrote: a profile's join its capture's */
	for (i = 0; !err && i < p->files.n; i++)
		err = kh_upload_add_file(&u, p->files.name[i]);
	if (!err)
		err = kh_post_spool(d->post, &u);
	if (err)
		kh_err("capture %" PRIu64 ": recording its upload in %s/%s: %s",
		       cap->sum.id, d->o.dir, KH_SPOOL_DIR, strerror(-err));
	return err;
}

static void written(struct kh_puller *p, const struct kh_capture *cap,
		    const char *base)
{
	struct daemon *d = p->arg;
	char path[4096];
	size_t len = strlen(d->o.dir);

	d->written++;
	rotate(d, base);
	if (d->post)
		kh_post_run(d->post);
	prom_refresh(d);
	if (!d->cmdline)
		return;
	snprintf(path, sizeof(path), "%s%s%s.txt", d->o.dir,
		 len && d->o.dir[len - 1] == '/' ? "" : "/", base);
	hook_queue(d, cap->sum.id, path);
}

static bool stop_asked(struct kh_puller *p)
{
	struct daemon *d = p->arg;

	signals(d);
	return d->stop;
}

static int event_cb(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct daemon *d = arg;

	if (nlh->nlmsg_type != d->ev.family || !genlmsg_valid_hdr(nlh, 0))
		return NL_SKIP;
	if (((struct genlmsghdr *)nlmsg_data(nlh))->cmd == KHOLMES_CMD_CAPTURE_READY)
		d->need_pull = true;
	return NL_OK;
}

static void disconnect(struct daemon *d)
{
	kh_nl_close(&d->p.nl);
	kh_nl_close(&d->ev);
	d->connected = false;
}

static void receive(struct daemon *d)
{
	int err = nl_recvmsgs_default(d->ev.sk);

	if (err == -NLE_NOMEM) {
		/* ENOBUFS: events were dropped; the queue was not */
		d->need_pull = true;
		return;
	}
	if (err < 0 && err != -NLE_AGAIN) {
		kh_err("reading events: %s", nl_geterror(err));
		disconnect(d);
	}
}

static int connect_all(struct daemon *d)
{
	int ret, err;

	ret = kh_nl_connect(&d->p.nl);
	if (ret)
		return ret;
	ret = kh_nl_connect(&d->ev);
	if (ret) {
		kh_nl_close(&d->p.nl);
		return ret;
	}
	err = kh_nl_subscribe(&d->ev, KHOLMES_MCGRP_EVENTS);
	if (err) {
		ret = kh_nl_fail(&d->ev, "subscribing to events", err);
		disconnect(d);
		return ret;
	}
	nl_socket_modify_cb(d->ev.sk, NL_CB_VALID, NL_CB_CUSTOM, event_cb, d);
	nl_socket_set_buffer_size(d->ev.sk, EVENTS_RCVBUF, 0);
	if (nl_socket_set_nonblocking(d->ev.sk)) {
		kh_err("subscribing to events: %s", strerror(errno));
		disconnect(d);
		return KH_EXIT_FAIL;
	}
	/*
	 * Any request marks this process as kholmesctl in the module, which
	 * then never captures it by itself: say hello before the first pull
	 * makes us busy. A failure here shows again in the pull.
	 */
	kh_nl_call(&d->p.nl, kh_nl_msg(&d->p.nl, KHOLMES_CMD_GET_CONFIG, 0),
		   NULL, NULL);
	d->connected = true;
	d->need_pull = true;
	/* a module loaded again starts from its defaults */
	d->need_apply = d->o.config != NULL;
	return KH_EXIT_OK;
}

static void backoff(struct daemon *d)
{
	d->backoff_s = d->backoff_s ? 2 * d->backoff_s : 1;
	if (d->backoff_s > BACKOFF_MAX_S)
		d->backoff_s = BACKOFF_MAX_S;
	d->retry_at = kh_now_ms() + d->backoff_s * 1000;
	kh_log(LOG_WARNING, "retrying in %u s", d->backoff_s);
}

static void pull(struct daemon *d)
{
	int err;

	d->need_pull = false;
	d->p.nl_broken = false;
	err = kh_pull_all(&d->p);
	if (d->p.nl_broken) {
		disconnect(d);
		if (!err)
			err = -EIO;
	}
	d->resync_at = kh_now_ms() + RESYNC_MS;
	if (!err) {
		d->backoff_s = 0;
		return;
	}
	d->need_pull = true;
	backoff(d);
}

/*
 * --config: at start (the caller ends the daemon on a refusal), on SIGHUP
 * and after a reconnection, where a refusal leaves the module as it was.
 */
static int apply_config(struct daemon *d)
{
	bool reload = d->reload;
	int ret;

	if (reload && !d->o.config)
		kh_log(LOG_WARNING, "SIGHUP: no --config to apply");
	d->reload = false;
	d->need_apply = false;
	if (!d->o.config)
		return KH_EXIT_OK;
	/* all or nothing: the file is parsed whole, the module checks it whole */
	if (reload)
		kh_notify_reloading();
	ret = kh_apply_file(&d->p.nl, d->o.config, true);
	if (ret)
		kh_err("%s not applied: the module keeps its configuration, rules and watch scope",
		       d->o.config);
	else if (reload)
		kh_log(LOG_NOTICE, "SIGHUP: %s applied", d->o.config);
	if (reload)
		kh_notify("READY=1");
	return ret;
}

static int wait_ms(const struct daemon *d)
{
	uint64_t now = kh_now_ms(), t = d->resync_at, h = hooks_deadline(d);
	int pt;

	if ((d->need_pull || !d->connected) && d->retry_at < t)
		t = d->retry_at;
	if (h < t)
		t = h;
	if (d->o.prom_file && d->prom_at < t)
		t = d->prom_at;
	pt = d->post ? kh_post_timeout_ms(d->post) : -1;
	if (pt >= 0 && now + pt < t)
		t = now + pt;
	if (t <= now)
		return 0;
	return t - now > 60000 ? 60000 : (int)(t - now);
}

static int run(struct daemon *d)
{
	struct pollfd pfd[2];
	int n, err;

	while (!d->stop) {
		if (!d->connected && kh_now_ms() >= d->retry_at &&
		    connect_all(d))
			backoff(d);
		if (d->connected && (d->need_apply || d->reload))
			apply_config(d);
		if (d->connected && d->need_pull && kh_now_ms() >= d->retry_at) {
			pull(d);
			continue;
		}
		pfd[0] = (struct pollfd){ .fd = d->sfd, .events = POLLIN };
		n = 1;
		if (d->connected)
			pfd[n++] = (struct pollfd){ .fd = nl_socket_get_fd(d->ev.sk),
						    .events = POLLIN };
		if (d->post)
			err = kh_post_poll(d->post, pfd, n, wait_ms(d));
		else
			err = poll(pfd, n, wait_ms(d)) < 0 && errno != EINTR ?
			      -errno : 0;
		if (err) {
			kh_err("waiting for events: %s", strerror(-err));
			return KH_EXIT_FAIL;
		}
		if (pfd[0].revents)
			signals(d);
		if (n > 1 && pfd[1].revents)
			receive(d);
		hooks_run(d);
		if (d->post)
			kh_post_run(d->post);
		if (d->o.prom_file && kh_now_ms() >= d->prom_at)
			prom_refresh(d);
		if (kh_now_ms() >= d->resync_at) {
			d->need_pull = true;
			d->resync_at = kh_now_ms() + RESYNC_MS;
		}
	}
	return KH_EXIT_OK;
}

/* SIGINT, SIGTERM, SIGHUP, SIGCHLD arrive on a descriptor, polled race-free. */
static int signal_fd(void)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL))
		return -1;
	return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

static int open_post(struct daemon *d)
{
	struct kh_post_opts po = { .url = d->o.post };
	struct kh_post_stats ps;
	int err;

	/* any other scheme would fail every attempt, forever */
	if (strncasecmp(d->o.post, "http://", 7) &&
	    strncasecmp(d->o.post, "https://", 8)) {
		kh_err("--post: the URL must start with http:// or https://");
		return KH_EXIT_USAGE;
	}
	if (gethostname(d->hostname, sizeof(d->hostname)))
		snprintf(d->hostname, sizeof(d->hostname), "localhost");
	d->hostname[sizeof(d->hostname) - 1] = '\0';
	err = kh_post_open(&d->post, d->p.store.dirfd, &po);
	if (err) {
		kh_err("opening the upload spool %s/%s: %s", d->o.dir,
		       KH_SPOOL_DIR, strerror(-err));
		return KH_EXIT_FAIL;
	}
	kh_post_stats(d->post, &ps);
	kh_log(LOG_INFO, "uploading each capture, %" PRIu64 " waiting in %s/%s",
	       ps.pending, d->o.dir, KH_SPOOL_DIR);
	d->p.durable = durable;
	return KH_EXIT_OK;
}

/* --group NAME or GID: the captures' group. */
static int set_group(struct daemon *d)
{
	struct group *gr;
	uint64_t v;

	if (!d->o.group)
		return 0;
	/* (gid_t)-1 is no group: chown() would leave the group as it is */
	if (!kh_parse_u64(d->o.group, (gid_t)-1 - 1, &v)) {
		d->p.store.gid = v;
	} else {
		gr = getgrnam(d->o.group);
		if (!gr) {
			kh_err("--group: no group \"%s\"", d->o.group);
			return -1;
		}
		d->p.store.gid = gr->gr_gid;
	}
	d->p.store.set_gid = true;
	return 0;
}

int daemon_main(int argc, char *argv[])
{
	struct kh_parse_err pe;
	struct daemon *d;
	size_t i;
	int ret, err;

	if (argc > 1 && kh_is_help(argv[1])) {
		usage(stdout);
		return KH_EXIT_OK;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		kh_err("starting: %s", strerror(ENOMEM));
		return KH_EXIT_FAIL;
	}
	ret = KH_EXIT_USAGE;
	if (kh_parse_pull(argc - 1, argv + 1, true, &d->o, &pe)) {
		kh_usage_fail(usage, &pe);
		goto out_free;
	}
	if (set_group(d))
		goto out_free;
	ret = KH_EXIT_FAIL;
	d->sfd = -1;
	d->p.store.dirfd = -1;
	d->p.daemon = true;
	d->p.written = written;
	d->p.stop = stop_asked;
	d->p.arg = d;
	if (d->o.exec && asprintf(&d->cmdline, "%s \"$1\"", d->o.exec) < 0) {
		d->cmdline = NULL;
		kh_err("starting: %s", strerror(ENOMEM));
		goto out_free;
	}
	/* symbolize from local files only: a network fetch would stall us */
	unsetenv("DEBUGINFOD_URLS");
	d->sfd = signal_fd();
	if (d->sfd < 0) {
		kh_err("catching SIGINT, SIGTERM, SIGHUP and SIGCHLD: %s",
		       strerror(errno));
		goto out_free;
	}
	ret = kh_pull_open_dir(&d->p.store, d->o.dir, true);
	if (ret)
		goto out;
	if (d->o.post) {
		ret = open_post(d);
		if (ret)
			goto out;
	}
	/* a module missing at start is an operator's mistake: say it, exit 3 */
	ret = connect_all(d);
	if (ret)
		goto out;
	if (apply_config(d)) {
		ret = KH_EXIT_FAIL;
		goto out;
	}
	kh_log(LOG_INFO, "writing captures to %s", d->o.dir);
	rotate(d, NULL);
	prom_refresh(d);
	/* the module answered and --config is applied: ready */
	err = kh_notify("READY=1");
	if (err)
		kh_log(LOG_WARNING, "telling systemd we are ready: %s",
		       strerror(-err));
	ret = run(d);
	kh_notify("STOPPING=1");
	kh_log(LOG_INFO, "stopped");
out:
	kh_post_close(d->post);
	disconnect(d);
	kh_store_close(&d->p.store);
	close(d->sfd);
out_free:
	for (i = 0; i < d->qlen; i++)
		free(d->queue[(d->qhead + i) % HOOK_QUEUE].path);
	free(d->cmdline);
	free(d);
	return ret;
}
