// SPDX-License-Identifier: GPL-2.0
/*
 * Watch scope: which processes the sampler tracks. Empty means every
 * process; otherwise a process is tracked when any entry matches it: its
 * tgid, its comm, or its cgroup v2 being the entry's cgroup or below it.
 * Entries are kept under khm_lock, which the sampler holds for a pass.
 */
#include <linux/cgroup.h>
#include <linux/err.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <net/genetlink.h>

#include "khm.h"

enum khm_watch_type {
	KHM_WATCH_PID,
	KHM_WATCH_COMM,
	KHM_WATCH_CGROUP,
};

struct khm_watch {
	enum khm_watch_type type;
	pid_t pid;
	char comm[TASK_COMM_LEN];
	struct cgroup *cgrp;	/* holds a reference */
	char *path;
	size_t path_size;
};

static struct khm_watch khm_watches[KHOLMES_WATCH_MAX];
static unsigned int khm_nwatch;

/* Called under rcu_read_lock() and khm_lock. */
bool khm_watch_match(struct task_struct *p)
{
	const struct khm_watch *w;
	unsigned int i;

	if (!khm_nwatch)
		return true;
	for (i = 0; i < khm_nwatch; i++) {
		w = &khm_watches[i];
		switch (w->type) {
		case KHM_WATCH_PID:
			if (p->tgid == w->pid)
				return true;
			break;
		case KHM_WATCH_COMM:
			if (!strncmp(p->comm, w->comm, TASK_COMM_LEN))
				return true;
			break;
		case KHM_WATCH_CGROUP:
			if (cgroup_is_descendant(task_dfl_cgroup(p), w->cgrp))
				return true;
			break;
		}
	}
	return false;
}

/*
 * Called under khm_lock: a pid or comm entry names the process, which an
 * operator can do to have even kholmesctl captured.
 */
bool khm_watch_names(pid_t tgid, const char *comm)
{
	const struct khm_watch *w;
	unsigned int i;

	for (i = 0; i < khm_nwatch; i++) {
		w = &khm_watches[i];
		if ((w->type == KHM_WATCH_PID && w->pid == tgid) ||
		    (w->type == KHM_WATCH_COMM &&
		     !strncmp(comm, w->comm, TASK_COMM_LEN)))
			return true;
	}
	return false;
}

static void khm_watch_release(struct khm_watch *w)
{
	if (w->type != KHM_WATCH_CGROUP)
		return;
	cgroup_put(w->cgrp);
	khm_free(w->path, w->path_size);
}

/*
 * Turn the request into an entry. A pid is read in the caller's pid
 * namespace and stored as the global tgid the sampler sees.
 */
static int khm_watch_parse(struct nlattr **tb, struct khm_watch *w,
			   bool resolve, struct netlink_ext_ack *extack)
{
	struct nlattr *attr = NULL;
	unsigned int i, n = 0;

	for (i = 1; i <= KHOLMES_WATCH_MAX_ATTR; i++) {
		if (tb[i]) {
			attr = tb[i];
			n++;
		}
	}
	if (n != 1) {
		NL_SET_ERR_MSG(extack, "give exactly one of pid, comm or cgroup");
		return -EINVAL;
	}
	memset(w, 0, sizeof(*w));

	if (tb[KHOLMES_WATCH_PID]) {
		struct task_struct *task;
		struct pid *pid;

		w->type = KHM_WATCH_PID;
		pid = find_get_pid(nla_get_u32(attr));
		task = pid ? get_pid_task(pid, PIDTYPE_TGID) : NULL;
		put_pid(pid);
		if (!task) {
			NL_SET_ERR_MSG_ATTR(extack, attr, "no process with that pid");
			return -ESRCH;
		}
		w->pid = task_tgid_nr(task);
		put_task_struct(task);
	} else if (tb[KHOLMES_WATCH_COMM]) {
		w->type = KHM_WATCH_COMM;
		nla_strscpy(w->comm, attr, sizeof(w->comm));
		if (!w->comm[0]) {
			NL_SET_ERR_MSG_ATTR(extack, attr, "empty comm");
			return -EINVAL;
		}
	} else {
		struct cgroup *cgrp;

		w->type = KHM_WATCH_CGROUP;
		w->path_size = nla_len(attr);
		if (nla_data(attr) && ((char *)nla_data(attr))[0] != '/') {
			NL_SET_ERR_MSG_ATTR(extack, attr,
					    "cgroup path must start with /");
			return -EINVAL;
		}
		if (!resolve)
			return 0;
		cgrp = cgroup_get_from_path(nla_data(attr));
		if (IS_ERR(cgrp)) {
			NL_SET_ERR_MSG_ATTR(extack, attr,
					    "no such cgroup v2 path");
			return PTR_ERR(cgrp);
		}
		w->cgrp = cgrp;
		w->path = khm_alloc(w->path_size);
		if (!w->path) {
			cgroup_put(cgrp);
			return -ENOMEM;
		}
		nla_strscpy(w->path, attr, w->path_size);
	}
	return 0;
}

/* The index of w in set[0..n), matching a cgroup by path, or -1. */
static int khm_watch_find(const struct khm_watch *set, unsigned int n,
			  const struct khm_watch *w, const struct nlattr *a)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		const struct khm_watch *e = &set[i];

		if (e->type != w->type)
			continue;
		if (w->type == KHM_WATCH_PID && e->pid == w->pid)
			return i;
		if (w->type == KHM_WATCH_COMM &&
		    !strncmp(e->comm, w->comm, TASK_COMM_LEN))
			return i;
		if (w->type == KHM_WATCH_CGROUP &&
		    (w->path ? !strcmp(w->path, e->path) :
			       !nla_strcmp(a, e->path)))
			return i;
	}
	return -1;
}

static struct nlattr *khm_watch_attr(struct nlattr **tb)
{
	return tb[KHOLMES_WATCH_PID] ?: tb[KHOLMES_WATCH_COMM] ?:
	       tb[KHOLMES_WATCH_CGROUP];
}

/* Called with khm_lock held. */
int khm_watch_add(struct nlattr **tb, struct netlink_ext_ack *extack)
{
	struct khm_watch w;
	int ret;

	ret = khm_watch_parse(tb, &w, true, extack);
	if (ret)
		return ret;
	if (khm_watch_find(khm_watches, khm_nwatch, &w,
			   khm_watch_attr(tb)) >= 0) {
		NL_SET_ERR_MSG(extack, "already in the watch list");
		ret = -EEXIST;
	} else if (khm_nwatch == KHOLMES_WATCH_MAX) {
		NL_SET_ERR_MSG(extack, "watch list is full");
		ret = -ENOSPC;
	}
	if (ret) {
		khm_watch_release(&w);
		return ret;
	}
	khm_watches[khm_nwatch++] = w;
	return 0;
}

/* Called with khm_lock held. */
int khm_watch_del(struct nlattr **tb, struct netlink_ext_ack *extack)
{
	struct khm_watch w;
	int ret, i;

	ret = khm_watch_parse(tb, &w, false, extack);
	if (ret == -ESRCH && tb[KHOLMES_WATCH_PID]) {
		/* the process may have exited: match the number as given */
		w.type = KHM_WATCH_PID;
		w.pid = nla_get_u32(tb[KHOLMES_WATCH_PID]);
		ret = 0;
	}
	if (ret)
		return ret;
	i = khm_watch_find(khm_watches, khm_nwatch, &w, khm_watch_attr(tb));
	if (i < 0) {
		NL_SET_ERR_MSG(extack, "not in the watch list");
		return -ENOENT;
	}
	khm_watch_release(&khm_watches[i]);
	khm_watches[i] = khm_watches[--khm_nwatch];
	return 0;
}

/* Called with khm_lock held. */
void khm_watch_clear(void)
{
	while (khm_nwatch)
		khm_watch_release(&khm_watches[--khm_nwatch]);
}

/* Called with khm_lock held: the attribute bytes khm_watch_put() needs. */
size_t khm_watch_size(void)
{
	size_t size = 0;
	unsigned int i;

	for (i = 0; i < khm_nwatch; i++) {
		const struct khm_watch *w = &khm_watches[i];

		size += nla_total_size(0);
		switch (w->type) {
		case KHM_WATCH_PID:
			size += nla_total_size(sizeof(u32));
			break;
		case KHM_WATCH_COMM:
			size += nla_total_size(strlen(w->comm) + 1);
			break;
		default:
			size += nla_total_size(strlen(w->path) + 1);
			break;
		}
	}
	return size;
}

/* Called with khm_lock held: one KHOLMES_A_WATCH nest per entry. */
int khm_watch_put(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *nest;
	unsigned int i;
	int ret;

	for (i = 0; i < khm_nwatch; i++) {
		const struct khm_watch *w = &khm_watches[i];

		nest = nla_nest_start(skb, KHOLMES_A_WATCH);
		if (!nest)
			return -EMSGSIZE;
		switch (w->type) {
		case KHM_WATCH_PID:
			ret = nla_put_u32(skb, KHOLMES_WATCH_PID, w->pid);
			break;
		case KHM_WATCH_COMM:
			ret = nla_put_string(skb, KHOLMES_WATCH_COMM, w->comm);
			break;
		default:
			ret = nla_put_string(skb, KHOLMES_WATCH_CGROUP, w->path);
			break;
		}
		if (ret)
			return ret;
		nla_nest_end(skb, nest);
	}
	return 0;
}

/*
 * A whole new scope, built (cgroups resolved, pids checked) without the
 * lock and swapped in under it by khm_watch_set_swap().
 */
struct khm_watch_set {
	struct khm_watch w[KHOLMES_WATCH_MAX];
	unsigned int n;
};

struct khm_watch_set *khm_watch_set_new(void)
{
	return khm_alloc(sizeof(struct khm_watch_set));
}

int khm_watch_set_add(struct khm_watch_set *ws, struct nlattr **tb,
		      struct netlink_ext_ack *extack)
{
	struct khm_watch w;
	int ret;

	ret = khm_watch_parse(tb, &w, true, extack);
	if (ret)
		return ret;
	if (khm_watch_find(ws->w, ws->n, &w, NULL) >= 0) {
		NL_SET_ERR_MSG(extack, "watch entry given twice");
		ret = -EEXIST;
	} else if (ws->n == KHOLMES_WATCH_MAX) {
		NL_SET_ERR_MSG(extack, "more watch entries than the scope holds");
		ret = -ENOSPC;
	}
	if (ret) {
		khm_watch_release(&w);
		return ret;
	}
	ws->w[ws->n++] = w;
	return 0;
}

/* Called with khm_lock held: ws gets the old scope, for release. */
void khm_watch_set_swap(struct khm_watch_set *ws)
{
	struct khm_watch tmp;
	unsigned int i, n = max(khm_nwatch, ws->n);

	for (i = 0; i < n; i++) {
		tmp = khm_watches[i];
		khm_watches[i] = ws->w[i];
		ws->w[i] = tmp;
	}
	swap(khm_nwatch, ws->n);
}

void khm_watch_set_free(struct khm_watch_set *ws)
{
	unsigned int i;

	if (!ws)
		return;
	for (i = 0; i < ws->n; i++)
		khm_watch_release(&ws->w[i]);
	khm_free(ws, sizeof(*ws));
}

void khm_watch_uninit(void)
{
	mutex_lock(&khm_lock);
	khm_watch_clear();
	mutex_unlock(&khm_lock);
}
