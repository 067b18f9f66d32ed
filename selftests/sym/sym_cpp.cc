// SPDX-License-Identifier: GPL-2.0
/*
 * sym_cpp: a C++ program built as distributions build theirs (-O2, no
 * frame pointers; static, so that the VM needs no libstdc++ to run it),
 * for symbols_test. main calls khsym::Spinner<long>::run(), which calls
 * the template instance khsym::churn<long>() until killed; it says
 * "ready" first. A profile of it must name both demangled, keep the
 * mangled names as pprof's system_name, and unwind down to main by CFI.
 */
#include <cstdio>

namespace khsym {

static volatile int stop;

template <typename T>
__attribute__((noipa)) T churn(T x)
{
	for (int i = 0; i < 4096; i++) {
		x = x * 6364136223846793005ULL + i;
		asm volatile("" : "+r"(x));
	}
	return x;
}

template <typename T>
struct Spinner {
	__attribute__((noipa)) static T run(T seed)
	{
		while (!stop)
			seed = churn<T>(seed);
		return seed;
	}
};

} // namespace khsym

int main()
{
	std::printf("ready\n");
	std::fflush(stdout);
	return (int)khsym::Spinner<long>::run(1);
}
