// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "decode.h"
#include "fmt.h"
#include "nl.h"
#include "out.h"
#include "subcommands.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s [-j|--json] status\n", PROG_NAME);
}

static int status_cb(struct nlmsghdr *nlh, void *arg)
{
	return kh_decode_status(nlh, arg);
}

int status_main(int argc, char *argv[])
{
	struct kh_status st = { 0 };
	struct kh_parse_err pe;
	struct kh_nl nl;
	int ret, err;

	if (argc > 1 && kh_is_help(argv[1])) {
		usage(stdout);
		return KH_EXIT_OK;
	}
	if (kh_parse_json_only(argc - 1, argv + 1, &kh_json, &pe))
		return kh_usage_fail(usage, &pe);
	ret = kh_nl_connect(&nl);
	if (ret)
		return ret;
	err = kh_nl_call(&nl, kh_nl_msg(&nl, KHOLMES_CMD_GET_STATUS, 0),
			 status_cb, &st);
	if (err) {
		ret = kh_nl_fail(&nl, "reading the status", err);
		goto out;
	}
	if (kh_json) {
		ret = kh_json_put(kh_status_json(&st));
		goto out;
	}
	kh_status_text(stdout, &st);
	ret = KH_EXIT_OK;
out:
	kh_nl_close(&nl);
	return ret;
}
