// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "metrics.h"

const struct kh_metric_info kh_metrics[KHOLMES_NR_METRICS] = {
	[KHOLMES_METRIC_CPU]		= { "cpu",	"%",	"CPU%" },
	[KHOLMES_METRIC_RSS]		= { "rss",	"MiB",	"RSS(MiB)" },
	[KHOLMES_METRIC_RSS_PCT]	= { "rss-pct",	"%",	"RSS%" },
	[KHOLMES_METRIC_THREADS]	= { "threads",	"count", "THREADS" },
	[KHOLMES_METRIC_CTXSW]		= { "ctxsw",	"/s",	"CTXSW/s" },
	[KHOLMES_METRIC_RUNDELAY]	= { "rundelay",	"ms/s",	"RUNDELAY(ms/s)" },
	[KHOLMES_METRIC_MAJFLT]		= { "majflt",	"/s",	"MAJFLT/s" },
	[KHOLMES_METRIC_DSTATE]		= { "dstate",	"ms",	"DSTATE(ms)" },
};

/* Returns the metric id, or -1 if no metric has that name. */
int kh_metric_by_name(const char *name)
{
	unsigned int m;

	for (m = 0; m < KHOLMES_NR_METRICS; m++)
		if (kh_metrics[m].name && !strcmp(kh_metrics[m].name, name))
			return m;
	return -1;
}

/* A newer module may report metrics this controller does not know yet. */
const char *kh_metric_name(unsigned int metric)
{
	return metric < KHOLMES_NR_METRICS ? kh_metrics[metric].name : "unknown";
}

const char *kh_metric_unit(unsigned int metric)
{
	return metric < KHOLMES_NR_METRICS ? kh_metrics[metric].unit : "";
}
