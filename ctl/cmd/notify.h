/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon under systemd's Type=notify: READY=1 once the module
 * answered and --config is applied, RELOADING=1 then READY=1 around a
 * SIGHUP reload, STOPPING=1 on SIGTERM. 0, or a negative errno (the
 * caller logs it once; the daemon runs on regardless).
 */
#ifndef KHOLMESCTL_NOTIFY_H
#define KHOLMESCTL_NOTIFY_H

int kh_notify(const char *state);
int kh_notify_reloading(void);

#endif
