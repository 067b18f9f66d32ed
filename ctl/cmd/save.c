// SPDX-License-Identifier: GPL-2.0
/*
 * kholmesctl save: the module's running configuration, rules and watch
 * scope, printed as the file that `kholmesctl apply` reads, so that
 * `kholmesctl save > f; ...; kholmesctl apply f` puts back what was there
 * (iptables-save's job). With -j: one object whose "config", "rules" and
 * "watch" are what the show commands print with -j.
 */
#include <stdlib.h>

#include "conffile.h"
#include "fmt.h"
#include "out.h"
#include "subcommands.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s [-j|--json] save\n", PROG_NAME);
	fprintf(f, "Prints the running configuration, rules and watch scope as a file that\n"
		"`%s apply FILE` sets again, all or nothing. With -j, one JSON object:\n"
		"{\"config\": ..., \"rules\": [...], \"watch\": {...}}, as the show commands print them.\n"
		"A watch entry whose name holds a newline cannot be a line of the file: it is\n"
		"left out as a comment and the exit status is 1.\n", PROG_NAME);
}

static int save_json(const struct kh_config *cfg, const struct kh_rule *rules,
		     size_t n, const struct kh_watch *w)
{
	json_object *o = json_object_new_object();

	if (!o)
		return kh_json_put(NULL);
	json_object_object_add(o, "config", kh_config_json(cfg));
	json_object_object_add(o, "rules", kh_rules_json(rules, n));
	json_object_object_add(o, "watch", kh_watch_json(w));
	return kh_json_put(o);
}

int save_main(int argc, char *argv[])
{
	struct kh_rule rules[KHOLMES_NR_METRICS];
	struct kh_watch w = { 0 };
	struct kh_parse_err pe;
	struct kh_config cfg;
	size_t n;
	int ret, lost;

	if (argc > 1 && kh_is_help(argv[1])) {
		usage(stdout);
		return KH_EXIT_OK;
	}
	if (kh_parse_json_only(argc - 1, argv + 1, &kh_json, &pe))
		return kh_usage_fail(usage, &pe);
	ret = kh_fetch_config(&cfg);
	if (!ret)
		ret = kh_fetch_rules(rules, &n);
	if (!ret)
		ret = kh_fetch_watch(&w);
	if (ret)
		goto out;
	if (kh_json) {
		ret = save_json(&cfg, rules, n, &w);
		goto out;
	}
	printf("# kholmes: the running configuration, as `%s save` read it.\n"
	       "# `%s apply FILE` sets it again, all or nothing.\n",
	       PROG_NAME, PROG_NAME);
	lost = kh_conf_write(stdout, &cfg, rules, n, &w);
	if (fflush(stdout) || ferror(stdout)) {
		kh_err("writing the configuration: %m");
		ret = KH_EXIT_FAIL;
	} else if (lost) {
		kh_err("%d watch entr%s not saved: a name with a newline cannot be a line",
		       lost, lost == 1 ? "y was" : "ies were");
		ret = KH_EXIT_FAIL;
	}
out:
	free(w.e);
	return ret;
}
