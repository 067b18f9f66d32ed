// SPDX-License-Identifier: GPL-2.0
/*
 * sleeper: one thread, asleep until killed.
 */
#include "wl.h"

static wl_noinline void sleep_forever(void)
{
	wl_hold_forever();
}

int main(int argc, char *argv[])
{
	struct wl_opts o;

	wl_parse(argc, argv, "", "", &o);
	wl_idle_phase(&o);
	wl_say("ready");
	sleep_forever();
	return 0;
}
