// SPDX-License-Identifier: GPL-2.0
/*
 * A pretend service that idles, then gets stuck in a hot loop in
 * compute_invoice_totals(): the CPU spike of the demo. Frame pointers on,
 * so both user-stack unwinders name the function.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static volatile unsigned long total;

static __attribute__((noinline)) void compute_invoice_totals(void)
{
	for (;;)
		total += total * 31 + 7;
}

static __attribute__((noinline)) void handle_request(void)
{
	compute_invoice_totals();
}

int main(int argc, char *argv[])
{
	sleep(argc > 1 ? atoi(argv[1]) : 4);
	handle_request();
	return 0;
}
