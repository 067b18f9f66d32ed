// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>

#include "decode.h"
#include "fmt.h"
#include "metrics.h"
#include "nl.h"
#include "out.h"
#include "subcommands.h"

#define BIT(n)	(1U << (n))

static void usage(FILE *f)
{
	unsigned int m;

	fprintf(f, "Usage: %s [-j|--json] rule [show]\n", PROG_NAME);
	fprintf(f, "       %s rule set METRIC [min N] [diff PCT] [abs N] [cooldown SEC] [on|off]\n",
		PROG_NAME);
	fprintf(f, "METRIC:");
	for (m = 0; m < KHOLMES_NR_METRICS; m++)
		fprintf(f, " %s (%s)", kh_metrics[m].name, kh_metrics[m].unit);
	fprintf(f, "\nA rule fires when value >= min and (value >= avg * (1 + diff/100) or value >= abs), abs 0 meaning none.\n");
}

struct rules {
	struct kh_rule rule[KHOLMES_NR_METRICS];
	uint32_t present;
};

/* Kept in metric order; a newer module's extra metrics are left out. */
static int rules_cb(struct nlmsghdr *nlh, void *arg)
{
	struct rules *rs = arg;
	struct kh_rule r;
	struct nlattr *a;
	int rem;

	kh_for_each_attr(a, nlh, rem) {
		if (nla_type(a) != KHOLMES_A_RULE)
			continue;
		if (kh_decode_rule(a, &r))
			return -EBADMSG;
		if (r.metric >= KHOLMES_NR_METRICS)
			continue;
		rs->rule[r.metric] = r;
		rs->present |= BIT(r.metric);
	}
	return 0;
}

int kh_fetch_rules(struct kh_rule *list, size_t *n)
{
	struct rules rs = { 0 };
	unsigned int m;
	int ret;

	*n = 0;
	ret = kh_nl_request(KHOLMES_CMD_GET_RULES, rules_cb, &rs,
			    "reading the rules");
	if (ret)
		return ret;
	for (m = 0; m < KHOLMES_NR_METRICS; m++)
		if (rs.present & BIT(m))
			list[(*n)++] = rs.rule[m];
	return KH_EXIT_OK;
}

static int rule_show(int argc, char *argv[])
{
	struct kh_rule list[KHOLMES_NR_METRICS];
	struct kh_parse_err pe;
	size_t n;
	int ret;

	if (kh_parse_json_only(argc, argv, &kh_json, &pe))
		return kh_usage_fail(usage, &pe);
	ret = kh_fetch_rules(list, &n);
	if (ret)
		return ret;
	if (kh_json)
		return kh_json_put(kh_rules_json(list, n));
	kh_rules_text(stdout, list, n);
	return KH_EXIT_OK;
}

static int rule_put(struct nl_msg *msg, const void *arg)
{
	const struct kh_rule_set *rs = arg;
	const struct kh_keyword *kw;
	int err;

	err = nla_put_u32(msg, KHOLMES_RULE_METRIC, rs->metric);
	if (!err && (rs->mask & BIT(KHOLMES_RULE_ENABLED)))
		err = nla_put_u8(msg, KHOLMES_RULE_ENABLED,
				 rs->val[KHOLMES_RULE_ENABLED]);
	for (kw = kh_rule_keys; kw->name && !err; kw++)
		if (rs->mask & BIT(kw->id))
			err = nla_put_u32(msg, kw->id, rs->val[kw->id]);
	return err;
}

static int rule_set(int argc, char *argv[])
{
	struct kh_rule_set rs;
	struct kh_parse_err pe;
	struct kh_nl nl;
	char what[64];
	int ret, err;

	if (kh_parse_rule_set(argc, argv, &rs, &pe))
		return kh_usage_fail(usage, &pe);
	ret = kh_nl_connect(&nl);
	if (ret)
		return ret;
	err = kh_nl_call(&nl, kh_nl_nest_msg(&nl, KHOLMES_CMD_SET_RULE,
					     KHOLMES_A_RULE, rule_put, &rs),
			 NULL, NULL);
	if (err) {
		snprintf(what, sizeof(what), "setting the %s rule",
			 kh_metric_name(rs.metric));
		ret = kh_nl_fail(&nl, what, err);
	}
	kh_nl_close(&nl);
	return ret;
}

int rule_main(int argc, char *argv[])
{
	if (argc > 1 && kh_is_help(argv[1])) {
		usage(stdout);
		return KH_EXIT_OK;
	}
	if (argc > 1 && !strcmp(argv[1], "set"))
		return rule_set(argc - 2, argv + 2);
	if (argc > 1 && !strcmp(argv[1], "show"))
		return rule_show(argc - 2, argv + 2);
	return rule_show(argc - 1, argv + 1);
}
