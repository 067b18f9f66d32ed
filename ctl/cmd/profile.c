// SPDX-License-Identifier: GPL-2.0
/*
 * kholmesctl profile: starts a profile of a process in the module. It runs
 * there for `seconds` and is then queued as a capture, which pull or the
 * daemon writes as <base>.cpu.pb.gz and .cpu.folded (or .faults.*) beside
 * a report; this command only starts it and prints the id it will have.
 */
#include <inttypes.h>

#include "decode.h"
#include "nl.h"
#include "out.h"
#include "subcommands.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s [-j|--json] profile pid N [seconds S] [hz F] [faults]\n",
		PROG_NAME);
	fprintf(f, "Profiles process N in the module for S seconds (%u..%u, default profile-s):\n",
		KHOLMES_PROFILE_S_MIN, KHOLMES_PROFILE_S_MAX);
	fprintf(f, "  its stacks on the CPU F times a second (%u..%u, default profile-hz),\n",
		KHOLMES_PROFILE_HZ_MIN, KHOLMES_PROFILE_HZ_MAX);
	fprintf(f, "  or with faults, at every profile-fault-period-th page fault.\n");
	fprintf(f, "Prints the id of the capture that will hold it; pull or the daemon writes\n");
	fprintf(f, "it as <base>.cpu.pb.gz (pprof) and <base>.cpu.folded, or .faults.*, when\n");
	fprintf(f, "it ends. One profile runs at a time.\n");
}

static int id_cb(struct nlmsghdr *nlh, void *arg)
{
	return kh_decode_capture_id(nlh, arg);
}

static struct nl_msg *profile_msg(struct kh_nl *nl,
				  const struct kh_profile_arg *pa)
{
	struct nl_msg *msg = kh_nl_msg(nl, KHOLMES_CMD_PROFILE, 0);

	if (!msg)
		return NULL;
	if (nla_put_u32(msg, KHOLMES_A_PID, pa->pid) ||
	    nla_put_u32(msg, KHOLMES_A_PROFILE_KIND, pa->kind) ||
	    (pa->has_seconds &&
	     nla_put_u32(msg, KHOLMES_A_PROFILE_S, pa->seconds)) ||
	    (pa->has_hz && nla_put_u32(msg, KHOLMES_A_PROFILE_HZ, pa->hz))) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

int profile_main(int argc, char *argv[])
{
	struct kh_profile_arg pa;
	struct kh_parse_err pe;
	struct kh_nl nl;
	uint64_t id = 0;
	json_object *o;
	int ret, err;

	if (argc > 1 && kh_is_help(argv[1])) {
		usage(stdout);
		return KH_EXIT_OK;
	}
	if (kh_parse_profile(argc - 1, argv + 1, &pa, &pe))
		return kh_usage_fail(usage, &pe);
	kh_json |= pa.json;
	ret = kh_nl_connect(&nl);
	if (ret)
		return ret;
	err = kh_nl_call(&nl, profile_msg(&nl, &pa), id_cb, &id);
	if (err) {
		ret = kh_nl_fail(&nl, "starting the profile", err);
		goto out;
	}
	if (kh_json) {
		o = json_object_new_object();
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
