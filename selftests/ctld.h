/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the tests of `kholmesctl daemon` share (daemon_test, ctl_hostile_test,
 * ctl_faults_test): waiting for captures to be delivered or for a status
 * counter to move, and the tail of the daemon's log in a failure's message.
 * Include after kselftest_harness.h and kt.h.
 */
#ifndef _CTLD_H
#define _CTLD_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kt.h"

/* The last 1500 bytes of @log, as one TAP comment line. */
#define ctld_log_tail(log) do {						\
	char *__text = khm_slurp((log), NULL);				\
	size_t __n;							\
									\
	if (__text) {							\
		__n = strlen(__text);					\
		TH_LOG("daemon log: %s",				\
		       khm_oneline(__text + (__n > 1500 ? __n - 1500 : 0))); \
		free(__text);						\
	}								\
} while (0)

/*
 * Wait until @dir holds a .txt, .json and .folded of each of the @n
 * captures @ids, and none of them is queued any more.
 */
KT_FN bool ctld_wait_delivered(const char *dir, const long long *ids, int n,
			       int timeout_ms)
{
	static const char * const exts[] = { ".txt", ".json", ".folded" };
	long long end = kt_now_ms() + timeout_ms;
	struct json_object *e;
	int i, missing;
	size_t x;

	do {
		missing = 0;
		for (i = 0; i < n && !missing; i++) {
			for (x = 0; x < sizeof(exts) / sizeof(exts[0]); x++)
				if (khm_capture_path(dir, ids[i], exts[x],
						     NULL, 0) < 1)
					missing++;
		}
		for (i = 0; i < n && !missing; i++) {
			e = khm_capture_find(ids[i]);
			if (e)
				missing++;
			json_object_put(e);
		}
		if (!missing)
			return true;
		kt_sleep_ms(100);
	} while (kt_now_ms() < end);
	return false;
}

/* Wait until status @key has moved to at least @want. Its last value. */
KT_FN long long ctld_wait_status(const char *key, long long want,
				 int timeout_ms)
{
	return kt_wait_status(key, want, timeout_ms, 20);
}

#endif /* _CTLD_H */
