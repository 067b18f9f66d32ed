// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "fmt.h"
#include "nl.h"
#include "out.h"
#include "subcommands.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s [-j|--json] watch [show]\n", PROG_NAME);
	fprintf(f, "       %s watch add|del pid N | comm NAME | cgroup PATH\n",
		PROG_NAME);
	fprintf(f, "       %s watch clear\n", PROG_NAME);
	fprintf(f, "With no entry every process is watched; a cgroup (v2, e.g. /system.slice)\n"
		"includes its descendants; a comm is at most %d bytes.\n",
		KHOLMES_COMM_LEN - 1);
}

static int watch_cb(struct nlmsghdr *nlh, void *arg)
{
	struct kh_watch *w = arg;
	struct nlattr *a;
	int rem;

	kh_for_each_attr(a, nlh, rem) {
		if (nla_type(a) != KHOLMES_A_WATCH)
			continue;
		if (kh_grow_implied(&w->e, w->n, sizeof(*w->e)))
			return -ENOMEM;
		if (kh_decode_watch(a, &w->e[w->n]))
			return -EBADMSG;
		w->n++;
	}
	return 0;
}

int kh_fetch_watch(struct kh_watch *w)
{
	w->n = 0;
	w->e = NULL;
	return kh_nl_request(KHOLMES_CMD_GET_WATCH, watch_cb, w,
			     "reading the watch list");
}

static int watch_show(int argc, char *argv[])
{
	struct kh_watch w = { 0 };
	struct kh_parse_err pe;
	int ret;

	if (kh_parse_json_only(argc, argv, &kh_json, &pe))
		return kh_usage_fail(usage, &pe);
	ret = kh_fetch_watch(&w);
	if (!ret && kh_json) {
		ret = kh_json_put(kh_watch_json(&w));
	} else if (!ret) {
		kh_watch_text(stdout, &w);
		ret = KH_EXIT_OK;
	}
	free(w.e);
	return ret;
}

static int watch_put(struct nl_msg *msg, const void *arg)
{
	const struct kh_watch_arg *wa = arg;

	if (wa->type == KHOLMES_WATCH_PID)
		return nla_put_u32(msg, wa->type, wa->pid);
	return nla_put_string(msg, wa->type, wa->name);
}

static int watch_change(int argc, char *argv[], bool add)
{
	struct kh_parse_err pe;
	struct kh_watch_arg wa;
	struct kh_nl nl;
	int ret, err;

	if (kh_parse_watch(argc, argv, &wa, &pe))
		return kh_usage_fail(usage, &pe);
	ret = kh_nl_connect(&nl);
	if (ret)
		return ret;
	err = kh_nl_call(&nl, kh_nl_nest_msg(&nl, add ? KHOLMES_CMD_ADD_WATCH :
					     KHOLMES_CMD_DEL_WATCH,
					     KHOLMES_A_WATCH, watch_put, &wa),
			 NULL, NULL);
	if (err)
		ret = kh_nl_fail(&nl, add ? "adding to the watch list" :
				 "removing from the watch list", err);
	kh_nl_close(&nl);
	return ret;
}

static int watch_clear(int argc, char *argv[])
{
	struct kh_parse_err pe;

	if (kh_parse_json_only(argc, argv, &kh_json, &pe))
		return kh_usage_fail(usage, &pe);
	return kh_nl_request(KHOLMES_CMD_CLEAR_WATCH, NULL, NULL,
			     "clearing the watch list");
}

int watch_main(int argc, char *argv[])
{
	if (argc > 1 && kh_is_help(argv[1])) {
		usage(stdout);
		return KH_EXIT_OK;
	}
	if (argc > 1 && !strcmp(argv[1], "add"))
		return watch_change(argc - 2, argv + 2, true);
	if (argc > 1 && !strcmp(argv[1], "del"))
		return watch_change(argc - 2, argv + 2, false);
	if (argc > 1 && !strcmp(argv[1], "clear"))
		return watch_clear(argc - 2, argv + 2);
	if (argc > 1 && !strcmp(argv[1], "show"))
		return watch_show(argc - 2, argv + 2);
	return watch_show(argc - 1, argv + 1);
}
