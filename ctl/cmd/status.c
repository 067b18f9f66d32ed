// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>

#include "decode.h"
#include "fmt.h"
#include "nl.h"
#include "out.h"
#include "store.h"
#include "subcommands.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s [-j|--json] status [--dir DIR]\n", PROG_NAME);
	fprintf(f, "The module's state and counters; then the captures written as far as they\n"
		"went into DIR (captures-partial), by default %s\n"
		"when it can be read.\n", KH_DEFAULT_DIR);
}

static int status_cb(struct nlmsghdr *nlh, void *arg)
{
	return kh_decode_status(nlh, arg);
}

int status_main(int argc, char *argv[])
{
	struct kh_status st = { 0 };
	struct kh_status_opts so;
	struct kh_parse_err pe;
	const char *dir;
	uint64_t partial;
	json_object *o;
	bool show;
	int ret, err;

	if (argc > 1 && kh_is_help(argv[1])) {
		usage(stdout);
		return KH_EXIT_OK;
	}
	if (kh_parse_status(argc - 1, argv + 1, &so, &pe))
		return kh_usage_fail(usage, &pe);
	kh_json |= so.json;
	ret = kh_nl_request(KHOLMES_CMD_GET_STATUS, status_cb, &st,
			    "reading the status");
	if (ret)
		return ret;
	/*
	 * Partial captures are the daemon's, counted in its directory: the
	 * service's unless --dir names another. Without --dir, a directory
	 * that is missing or not ours to read is left out, not an error.
	 */
	dir = so.dir ? so.dir : KH_DEFAULT_DIR;
	err = kh_store_read_partial(dir, &partial);
	show = !err;
	if (err && so.dir)
		kh_err("reading the count of partial captures in %s/%s: %s", dir,
		       KH_LOCK_NAME, err == -EBADMSG ?
		       "not a count this version writes" : strerror(-err));
	if (kh_json) {
		o = kh_status_json(&st);
		if (o && show)
			kh_dir_status_json(o, dir, partial);
		ret = kh_json_put(o);
	} else {
		kh_status_text(stdout, &st);
		if (show)
			kh_dir_status_text(stdout, dir, partial);
	}
	return ret ? ret : err && so.dir ? KH_EXIT_FAIL : KH_EXIT_OK;
}
