/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KHOLMESCTL_SUBCOMMANDS_H
#define KHOLMESCTL_SUBCOMMANDS_H

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

#endif
