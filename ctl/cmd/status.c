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
	int ret;

	if (argc > 1 && kh_is_help(argv[1])) {
		usage(stdout);
		return KH_EXIT_OK;
	}
	if (kh_parse_json_only(argc - 1, argv + 1, &kh_json, &pe))
		return kh_usage_fail(usage, &pe);
	ret = kh_nl_request(KHOLMES_CMD_GET_STATUS, status_cb, &st,
			    "reading the status");
	if (ret)
		return ret;
	if (kh_json)
		return kh_json_put(kh_status_json(&st));
	kh_status_text(stdout, &st);
	return KH_EXIT_OK;
}
