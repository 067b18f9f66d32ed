/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KHOLMESCTL_SUBCOMMANDS_H
#define KHOLMESCTL_SUBCOMMANDS_H

#include <stddef.h>

/* argv[0] is the subcommand's name; each returns an enum kh_exit. */
int status_main(int argc, char *argv[]);
int config_main(int argc, char *argv[]);
int rule_main(int argc, char *argv[]);
int watch_main(int argc, char *argv[]);
int ps_main(int argc, char *argv[]);
int monitor_main(int argc, char *argv[]);
int captures_main(int argc, char *argv[]);
int capture_main(int argc, char *argv[]);
int profile_main(int argc, char *argv[]);
int pull_main(int argc, char *argv[]);
int daemon_main(int argc, char *argv[]);
int apply_main(int argc, char *argv[]);
int save_main(int argc, char *argv[]);

/*
 * What the show commands read, for save: each an enum kh_exit, with the
 * error printed. kh_fetch_watch()'s w->e is the caller's to free, also on
 * failure.
 */
struct kh_config;
struct kh_rule;
struct kh_watch;
int kh_fetch_config(struct kh_config *cfg);
int kh_fetch_rules(struct kh_rule *list, size_t *n);	/* KHOLMES_NR_METRICS */
int kh_fetch_watch(struct kh_watch *w);

#endif
