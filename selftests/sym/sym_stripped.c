// SPDX-License-Identifier: GPL-2.0
/*
 * sym_stripped: a C program built as Debian builds its packages (-O2, no
 * frame pointers, PIE against the system's libc), then stripped to
 * .dynsym with its symbols and DWARF moved to sym_stripped.debug
 * (objcopy --only-keep-debug / --strip-all, as dh_strip makes a -dbgsym
 * package), for symbols_test. main calls sym_middle(), which calls
 * sym_leaf() until killed; it says "ready" first. No name of its own is
 * left in the binary: a profile names them only from the debug file.
 */
#include <stdio.h>

static volatile int stop;

__attribute__((noipa)) unsigned long sym_leaf(unsigned long x)
{
	int i;

	for (i = 0; i < 4096; i++) {
		x = x * 6364136223846793005UL + i;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

__attribute__((noipa)) unsigned long sym_middle(unsigned long x)
{
	while (!stop)
		x = sym_leaf(x);
	return x;
}

int main(void)
{
	printf("ready\n");
	fflush(stdout);
	return (int)sym_middle(1);
}
