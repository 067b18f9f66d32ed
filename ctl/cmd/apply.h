/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KHOLMESCTL_APPLY_H
#define KHOLMESCTL_APPLY_H

#include <stdbool.h>

#include "nl.h"

/*
 * Reads and parses path whole, then sends it as one KHOLMES_CMD_APPLY.
 * Returns an enum kh_exit: KH_EXIT_USAGE for a file that does not parse
 * (nothing was sent), KH_EXIT_FAIL for one that cannot be read or that
 * the module refused (nothing changed); each said on stderr with the
 * file's line. log: say what was applied, for the daemon's log.
 */
int kh_apply_file(struct kh_nl *nl, const char *path, bool log);

#endif
