// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>

#include "decode.h"
#include "fmt.h"
#include "nl.h"
#include "out.h"
#include "subcommands.h"

#define BIT(n)	(1U << (n))

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s [-j|--json] config [show]\n", PROG_NAME);
	fprintf(f, "       %s config set KEY VALUE [KEY VALUE ...]\n",
		PROG_NAME);
	fprintf(f, "KEY VALUE: enabled on|off, interval-ms %u..%u, window %u..%u, max-tracked %u..%u,\n",
		KHOLMES_INTERVAL_MS_MIN, KHOLMES_INTERVAL_MS_MAX,
		KHOLMES_WINDOW_MIN, KHOLMES_WINDOW_MAX,
		KHOLMES_MAX_TRACKED_MIN, KHOLMES_MAX_TRACKED_MAX);
	fprintf(f, "  max-threads %u..%u (threads per capture), max-captures %u..%u (queued),\n",
		KHOLMES_MAX_THREADS_MIN, KHOLMES_MAX_THREADS_MAX,
		KHOLMES_MAX_CAPTURES_MIN, KHOLMES_MAX_CAPTURES_MAX);
	fprintf(f, "  max-queue-kb %u..%u, user-stack-kb 0..%u (stack copied per thread),\n",
		KHOLMES_MAX_QUEUE_KB_MIN, KHOLMES_MAX_QUEUE_KB_MAX,
		KHOLMES_USER_STACK_KB_MAX);
	fprintf(f, "  capture-rate 0..%u (automatic captures a minute, 0 off),\n",
		KHOLMES_CAPTURE_RATE_MAX);
	fprintf(f, "  profiles on|off (profile after cpu, rss, rss-pct and majflt detections),\n");
	fprintf(f, "  profile-s %u..%u (seconds a profile runs), profile-hz %u..%u (cpu samples a second),\n",
		KHOLMES_PROFILE_S_MIN, KHOLMES_PROFILE_S_MAX,
		KHOLMES_PROFILE_HZ_MIN, KHOLMES_PROFILE_HZ_MAX);
	fprintf(f, "  profile-fault-period 1..%u (every Nth page fault), cpu-max 0..100 (percent of\n",
		KHOLMES_FAULT_PERIOD_MAX);
	fprintf(f, "  all CPUs at or above which automatic captures and profiles are skipped, 0 off),\n");
	fprintf(f, "  kthreads on|off (kernel threads may be captured by the rules),\n");
	fprintf(f, "  flight-hz 0..%u (flight recorder samples a second per CPU, 0 off),\n",
		KHOLMES_FLIGHT_HZ_MAX);
	fprintf(f, "  flight-s %u..%u (seconds before a detection the flight recorder keeps)\n",
		KHOLMES_FLIGHT_S_MIN, KHOLMES_FLIGHT_S_MAX);
	fprintf(f, "The kernel applies all the pairs of one command, or none.\n");
}

static int config_cb(struct nlmsghdr *nlh, void *arg)
{
	return kh_decode_config_msg(nlh, arg);
}

int kh_fetch_config(struct kh_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	return kh_nl_request(KHOLMES_CMD_GET_CONFIG, config_cb, cfg,
			     "reading the configuration");
}

static int config_show(int argc, char *argv[])
{
	struct kh_config cfg;
	struct kh_parse_err pe;
	int ret;

	if (kh_parse_json_only(argc, argv, &kh_json, &pe))
		return kh_usage_fail(usage, &pe);
	ret = kh_fetch_config(&cfg);
	if (ret)
		return ret;
	if (kh_json)
		return kh_json_put(kh_config_json(&cfg));
	kh_config_text(stdout, &cfg);
	return KH_EXIT_OK;
}

/* Every pair in one nest of one message: the kernel takes all or none. */
static int config_put(struct nl_msg *msg, const void *arg)
{
	const struct kh_config_set *cs = arg;
	const struct kh_keyword *kw;
	int err = 0;

	for (kw = kh_config_keys; kw->name && !err; kw++) {
		if (!(cs->mask & BIT(kw->id)))
			continue;
		if (kw->type == KH_KW_ONOFF)
			err = nla_put_u8(msg, kw->id, cs->val[kw->id]);
		else
			err = nla_put_u32(msg, kw->id, cs->val[kw->id]);
	}
	return err;
}

static int config_set(int argc, char *argv[])
{
	struct kh_config_set cs;
	struct kh_parse_err pe;
	struct kh_nl nl;
	int ret, err;

	if (kh_parse_config_set(argc, argv, &cs, &pe))
		return kh_usage_fail(usage, &pe);
	ret = kh_nl_connect(&nl);
	if (ret)
		return ret;
	err = kh_nl_call(&nl, kh_nl_nest_msg(&nl, KHOLMES_CMD_SET_CONFIG,
						 KHOLMES_A_CONFIG, config_put,
						 &cs), NULL, NULL);
	ret = err ? kh_nl_fail(&nl, "setting the configuration", err) :
		    KH_EXIT_OK;
	kh_nl_close(&nl);
	return ret;
}

int config_main(int argc, char *argv[])
{
	if (argc > 1 && kh_is_help(argv[1])) {
		usage(stdout);
		return KH_EXIT_OK;
	}
	if (argc > 1 && !strcmp(argv[1], "set"))
		return config_set(argc - 2, argv + 2);
	if (argc > 1 && !strcmp(argv[1], "show"))
		return config_show(argc - 2, argv + 2);
	return config_show(argc - 1, argv + 1);
}
