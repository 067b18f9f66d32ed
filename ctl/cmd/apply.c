// SPDX-License-Identifier: GPL-2.0
/*
 * kholmesctl apply FILE: configuration, rules and watch scope from a file,
 * all or nothing. The whole file is parsed before anything is sent, so a
 * typo changes nothing; what parses goes to the module as one
 * KHOLMES_CMD_APPLY, which the module validates whole before it applies
 * any of it. Its refusal points at an attribute; the request remembers
 * which line gave each one, so the error names the line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "conffile.h"
#include "nl.h"
#include "out.h"
#include "subcommands.h"

/* libnl's default socket buffer, which also bounds what one send takes. */
#define KH_SNDBUF_DEFAULT	32768

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s apply [--check] FILE\n", PROG_NAME);
	fprintf(f, "Sets the configuration, the rules and the watch scope from FILE in one step,\n"
		"all or nothing: a line that does not parse, or that the module refuses, changes\n"
		"nothing and is named with its line number. --check only parses FILE.\n");
	fprintf(f, "FILE: one statement a line, '#' starts a comment:\n");
	fprintf(f, "  config KEY VALUE [KEY VALUE ...]      as config set\n");
	fprintf(f, "  rule METRIC [min N] [diff PCT] [abs N] [cooldown SEC] [on|off]\n");
	fprintf(f, "  watch pid N | comm NAME | cgroup PATH\n");
	fprintf(f, "config and rule lines change what they name; the watch lines are the whole\n"
		"watch scope (none: every process is watched).\n");
}

static int load(const char *path, struct kh_conf *c)
{
	struct kh_conf_err e;
	size_t len;
	char *text;
	int err;

	memset(c, 0, sizeof(*c));
	err = kh_conf_read(path, &text, &len);
	if (err == -EFBIG) {
		kh_err("reading %s: larger than %d bytes: not a configuration file",
		       path, KH_CONF_MAX_BYTES);
		return KH_EXIT_FAIL;
	}
	if (err) {
		kh_err("reading %s: %s", path, strerror(-err));
		return KH_EXIT_FAIL;
	}
	err = kh_conf_parse(c, text, len, &e);
	free(text);
	if (err == -ENOMEM) {
		kh_err("reading %s: %s", path, strerror(ENOMEM));
		return KH_EXIT_FAIL;
	}
	if (err) {
		kh_err("%s:%u: %s", path, e.line, e.msg);
		return KH_EXIT_USAGE;
	}
	return KH_EXIT_OK;
}

/* The module's refusal, at the line that asked for what it refused. */
static int refused(const struct kh_nl *nl, const char *path,
		   const struct kh_conf_map *map, int err)
{
	const struct kh_conf_span *s = NULL;
	char where[4200], range[64] = "";

	if (err == -EPERM || err == -EIO || !nl->msg[0]) {
		snprintf(where, sizeof(where), "applying %s", path);
		kh_nl_fail(nl, where, err);
		return KH_EXIT_FAIL;
	}
	if (nl->has_err_off)
		s = kh_conf_span_at(map, nl->err_off);
	if (nl->has_err_range)
		snprintf(range, sizeof(range), " (%" PRIu64 "..%" PRIu64 ")",
			 nl->err_min, nl->err_max);
	if (s && s->line)
		kh_err("%s:%u: %s: %s%s; nothing was changed", path, s->line,
		       s->what, nl->msg, range);
	else if (s)
		kh_err("%s: %s: %s%s; nothing was changed", path, s->what,
		       nl->msg, range);
	else
		kh_err("%s: %s%s; nothing was changed", path, nl->msg, range);
	return KH_EXIT_FAIL;
}

static struct nl_msg *apply_msg(struct kh_nl *nl, const struct kh_conf *c,
				struct kh_conf_map *map)
{
	struct nl_msg *msg;

	msg = nlmsg_alloc_size(kh_conf_msg_size(c));
	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, 0,
			 KHOLMES_CMD_APPLY, KHOLMES_GENL_VERSION) ||
	    kh_conf_put(msg, c, map)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/* c, parsed from path, as one request; an enum kh_exit. */
static int send_conf(struct kh_nl *nl, const char *path,
		     const struct kh_conf *c, bool log)
{
	struct kh_conf_map map = { 0 };
	struct nl_msg *msg;
	uint32_t size;
	int ret, err;

	msg = apply_msg(nl, c, &map);
	if (!msg) {
		kh_err("applying %s: %s", path, strerror(ENOMEM));
		ret = KH_EXIT_FAIL;
		goto out;
	}
	/* hundreds of long cgroup paths outgrow the socket's buffer */
	size = nlmsg_hdr(msg)->nlmsg_len;
	if (size + 1024 > KH_SNDBUF_DEFAULT)
		nl_socket_set_buffer_size(nl->sk, 0, size + 4096);
	err = kh_nl_call(nl, msg, NULL, NULL);
	if (err) {
		ret = refused(nl, path, &map, err);
		goto out;
	}
	if (log)
		kh_log(LOG_INFO, "applied %s: %u config key%s, %zu rule%s, %s", path,
		       (unsigned int)__builtin_popcount(c->cfg_mask),
		       __builtin_popcount(c->cfg_mask) == 1 ? "" : "s",
		       c->nr_rules, c->nr_rules == 1 ? "" : "s",
		       c->nr_watch ? "a watch scope" : "every process watched");
	ret = KH_EXIT_OK;
out:
	kh_conf_map_free(&map);
	return ret;
}

int kh_apply_file(struct kh_nl *nl, const char *path, bool log)
{
	struct kh_conf c;
	int ret;

	ret = load(path, &c);
	if (ret)
		return ret;
	ret = send_conf(nl, path, &c, log);
	kh_conf_free(&c);
	return ret;
}

int apply_main(int argc, char *argv[])
{
	const char *path = NULL;
	bool check = false;
	struct kh_conf c;
	struct kh_nl nl;
	int i, ret;

	if (argc > 1 && kh_is_help(argv[1])) {
		usage(stdout);
		return KH_EXIT_OK;
	}
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--check") && !check) {
			check = true;
		} else if (!path && argv[i][0] && (argv[i][0] != '-' ||
						    !strcmp(argv[i], "-"))) {
			path = argv[i];
		} else {
			kh_err("unknown keyword \"%s\"", argv[i]);
			kh_synopsis(stderr, usage);
			return KH_EXIT_USAGE;
		}
	}
	if (!path) {
		kh_err("missing FILE");
		kh_synopsis(stderr, usage);
		return KH_EXIT_USAGE;
	}
	if (!strcmp(path, "-"))
		path = "/dev/stdin";
	/* a file that does not parse is not worth a module */
	ret = load(path, &c);
	if (ret || check)
		goto out;
	ret = kh_nl_connect(&nl);
	if (ret)
		goto out;
	ret = send_conf(&nl, path, &c, false);
	kh_nl_close(&nl);
out:
	kh_conf_free(&c);
	return ret;
}
