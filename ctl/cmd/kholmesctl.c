// SPDX-License-Identifier: GPL-2.0
/*
 * kholmesctl: the controller of kholmes.ko. Each subcommand lives in its own
 * file; this one only finds it. Exit codes: 0 done, 1 the operation failed,
 * 2 usage error, 3 the module is not loaded.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "kholmes.h"
#include "out.h"
#include "subcommands.h"

static int help_main(int argc, char *argv[]);

static const struct {
	const char *name;
	int (*fn)(int argc, char *argv[]);
	const char *desc;
} subcommands[] = {
	{ "status",  status_main,  "Shows the module's version, configuration and counters" },
	{ "config",  config_main,  "Shows or changes the sampling configuration" },
	{ "rule",    rule_main,    "Shows or changes the detection rule of each metric" },
	{ "watch",   watch_main,   "Shows or changes which processes are watched" },
	{ "apply",   apply_main,   "Sets configuration, rules and watch scope from a file" },
	{ "save",    save_main,    "Prints configuration, rules and watch scope as apply reads them" },
	{ "ps",      ps_main,      "Lists tracked processes with their last values" },
	{ "monitor", monitor_main, "Prints each detection as it happens" },
	{ "capture", capture_main, "Captures a process's stacks by hand" },
	{ "profile", profile_main, "Profiles a process by hand, on the CPU or at page faults" },
	{ "captures", captures_main, "Lists the captures queued in the module" },
	{ "pull",    pull_main,    "Writes every queued capture to a directory" },
	{ "daemon",  daemon_main,  "Writes every capture to a directory as it comes" },
	{ "help",    help_main,    "Shows this help, or a subcommand's" },
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static void show_usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: %s [-j|--json] <cmd> [<args>]\n\n", PROG_NAME);
	fprintf(f, "Available subcommands:\n");
	for (i = 0; i < ARRAY_SIZE(subcommands); i++)
		fprintf(f, "  %-8s %s\n", subcommands[i].name,
			subcommands[i].desc);
	fprintf(f, "\nWith no subcommand, %s runs status. ", PROG_NAME);
	fprintf(f, "Pass help to any subcommand to view its usage.\n");
}

static int find(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(subcommands); i++)
		if (!strcmp(subcommands[i].name, name))
			return i;
	return -1;
}

/* "help" alone, or "help CMD" as "CMD help" */
static int help_main(int argc, char *argv[])
{
	char help[] = "help";
	char *sub_argv[] = { NULL, help, NULL };
	int i;

	if (argc < 2 || !strcmp(argv[1], "help")) {
		show_usage(stdout);
		return KH_EXIT_OK;
	}
	i = find(argv[1]);
	if (i < 0 || argc > 2) {
		if (i < 0)
			kh_err("unknown command \"%s\"", argv[1]);
		else
			kh_err("unknown keyword \"%s\"", argv[2]);
		kh_synopsis(stderr, show_usage);
		return KH_EXIT_USAGE;
	}
	sub_argv[0] = argv[1];
	return subcommands[i].fn(2, sub_argv);
}

static int run(int argc, char *argv[])
{
	char status[] = "status";
	char *status_argv[] = { status, NULL };
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (kh_is_json_opt(argv[i])) {
			kh_json = true;
		} else if (kh_is_help(argv[i])) {
			show_usage(stdout);
			return KH_EXIT_OK;
		} else if (!strcmp(argv[i], "-V") ||
			   !strcmp(argv[i], "--version")) {
			printf("%s %s\n", PROG_NAME, KHOLMES_VERSION);
			return KH_EXIT_OK;
		} else {
			kh_err("unknown option \"%s\"", argv[i]);
			kh_synopsis(stderr, show_usage);
			return KH_EXIT_USAGE;
		}
	}
	argc -= i;
	argv += i;
	if (!argc)
		return status_main(1, status_argv);
	i = find(argv[0]);
	if (i < 0) {
		kh_err("unknown command \"%s\"", argv[0]);
		kh_synopsis(stderr, show_usage);
		return KH_EXIT_USAGE;
	}
	return subcommands[i].fn(argc, argv);
}

/*
 * A reader gone (a closed pipe) is a write error, not a signal that kills
 * us half-way; a write error on stdout (a full disk, /dev/full, EPIPE)
 * fails the command, since what it printed is not all there.
 */
int main(int argc, char *argv[])
{
	int ret;

	signal(SIGPIPE, SIG_IGN);
	ret = run(argc, argv);
	if (fflush(stdout) || ferror(stdout)) {
		kh_err("writing the output: %s", strerror(errno ? errno : EIO));
		if (ret == KH_EXIT_OK)
			ret = KH_EXIT_FAIL;
	}
	return ret;
}
