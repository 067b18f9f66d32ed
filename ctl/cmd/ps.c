// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "fmt.h"
#include "metrics.h"
#include "nl.h"
#include "out.h"
#include "subcommands.h"
#include "util.h"

static void usage(FILE *f)
{
	unsigned int m;

	fprintf(f, "Usage: %s [-j|--json] ps [--sort METRIC] [--top N]\n",
		PROG_NAME);
	fprintf(f, "METRIC:");
	for (m = 0; m < KHOLMES_NR_METRICS; m++)
		fprintf(f, " %s", kh_metrics[m].name);
	fprintf(f, " (default %s); --top 0 shows every process.\n",
		kh_metrics[KHOLMES_METRIC_CPU].name);
}

struct procs {
	struct kh_proc *p;
	size_t n;
	size_t cap;
};

static int procs_cb(struct nlmsghdr *nlh, void *arg)
{
	struct procs *ps = arg;
	struct nlattr *a;
	int rem;

	kh_for_each_attr(a, nlh, rem) {
		if (nla_type(a) != KHOLMES_A_PROC)
			continue;
		if (KH_GROW(ps->p, ps->n, ps->cap, 256))
			return -ENOMEM;
		if (kh_decode_proc(a, &ps->p[ps->n]))
			return -EBADMSG;
		ps->n++;
	}
	return 0;
}

static void procs_reset(void *arg)
{
	((struct procs *)arg)->n = 0;
}

int ps_main(int argc, char *argv[])
{
	struct procs ps = { 0 };
	struct kh_parse_err pe;
	struct kh_ps_opts po;
	struct kh_nl nl;
	size_t n;
	int ret, err;

	if (argc > 1 && kh_is_help(argv[1])) {
		usage(stdout);
		return KH_EXIT_OK;
	}
	if (kh_parse_ps(argc - 1, argv + 1, &po, &pe))
		return kh_usage_fail(usage, &pe);
	kh_json |= po.json;
	ret = kh_nl_connect(&nl);
	if (ret)
		return ret;
	err = kh_nl_dump(&nl, KHOLMES_CMD_GET_PROCS, procs_cb, procs_reset,
			 &ps);
	if (err) {
		ret = kh_nl_fail(&nl, "listing the processes", err);
		goto out;
	}
	kh_procs_sort(ps.p, ps.n, po.sort);
	n = po.top && po.top < ps.n ? po.top : ps.n;
	if (kh_json) {
		ret = kh_json_put(kh_procs_json(ps.p, n));
		goto out;
	}
	kh_procs_text(stdout, ps.p, n, po.sort);
	ret = KH_EXIT_OK;
out:
	free(ps.p);
	kh_nl_close(&nl);
	return ret;
}
