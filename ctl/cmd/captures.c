// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "fmt.h"
#include "nl.h"
#include "out.h"
#include "pull.h"
#include "subcommands.h"

static void captures_usage(FILE *f)
{
	fprintf(f, "Usage: %s [-j|--json] captures\n", PROG_NAME);
	fprintf(f, "Lists the captures queued in the module, oldest first.\n");
}

int captures_main(int argc, char *argv[])
{
	struct kh_capture_sum *sums = NULL;
	struct kh_parse_err pe;
	struct kh_nl nl;
	size_t n, bad;
	int ret, err;

	if (argc > 1 && kh_is_help(argv[1])) {
		captures_usage(stdout);
		return KH_EXIT_OK;
	}
	if (kh_parse_json_only(argc - 1, argv + 1, &kh_json, &pe))
		return kh_usage_fail(captures_usage, &pe);
	ret = kh_nl_connect(&nl);
	if (ret)
		return ret;
	err = kh_list_captures(&nl, &sums, &n, &bad);
	if (err) {
		ret = kh_nl_fail(&nl, "listing the captures", err);
		goto out;
	}
	if (kh_json) {
		ret = kh_json_put(kh_captures_json(sums, n));
		goto out;
	}
	kh_captures_text(stdout, sums, n);
	ret = KH_EXIT_OK;
out:
	free(sums);
	kh_nl_close(&nl);
	return ret;
}

static void capture_usage(FILE *f)
{
	fprintf(f, "Usage: %s [-j|--json] capture pid N\n", PROG_NAME);
	fprintf(f, "Queues a capture of process N's threads and prints its id; pull or the\n");
	fprintf(f, "daemon writes it to files once the module has taken it.\n");
}

static int id_cb(struct nlmsghdr *nlh, void *arg)
{
	return kh_decode_capture_id(nlh, arg);
}

int capture_main(int argc, char *argv[])
{
	struct kh_capture_arg ca;
	struct kh_parse_err pe;
	struct nl_msg *msg;
	struct kh_nl nl;
	uint64_t id = 0;
	int ret, err;

	if (argc > 1 && kh_is_help(argv[1])) {
		capture_usage(stdout);
		return KH_EXIT_OK;
	}
	if (kh_parse_capture(argc - 1, argv + 1, &ca, &pe))
		return kh_usage_fail(capture_usage, &pe);
	kh_json |= ca.json;
	ret = kh_nl_connect(&nl);
	if (ret)
		return ret;
	msg = kh_nl_msg(&nl, KHOLMES_CMD_CAPTURE, 0);
	if (msg && nla_put_u32(msg, KHOLMES_A_PID, ca.pid)) {
		nlmsg_free(msg);
		msg = NULL;
	}
	err = kh_nl_call(&nl, msg, id_cb, &id);
	if (err) {
		ret = kh_nl_fail(&nl, "capturing the process", err);
		goto out;
	}
	if (kh_json) {
		json_object *o = json_object_new_object();

		if (o)
			json_object_object_add(o, "id", json_object_new_uint64(id));
		ret = kh_json_put(o);
		goto out;
	}
	printf("%" PRIu64 "\n", id);
	ret = KH_EXIT_OK;
out:
	kh_nl_close(&nl);
	return ret;
}
