/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KHOLMESCTL_METRICS_H
#define KHOLMESCTL_METRICS_H

#include "kholmes.h"

struct kh_metric_info {
	const char *name;	/* CLI keyword and JSON key */
	const char *unit;	/* what one unit of the value is */
	const char *head;	/* ps column header */
};

/* Indexed by enum kholmes_metric. */
extern const struct kh_metric_info kh_metrics[KHOLMES_NR_METRICS];

int kh_metric_by_name(const char *name);
const char *kh_metric_name(unsigned int metric);
const char *kh_metric_unit(unsigned int metric);

#endif
