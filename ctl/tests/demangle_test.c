// SPDX-License-Identifier: GPL-2.0
/*
 * Issue 15 point 4: C++ and Rust (legacy) symbols are shown as their
 * source spells them; other names and what cannot be demangled stay.
 */
#include <stdlib.h>
#include <string.h>

#include "demangle.h"
#include "kselftest_harness.h"

static void expect_demangled(struct __test_metadata *_metadata,
			     const char *mangled, const char *want)
{
	char *d = kh_demangle(mangled);

	if (!want) {
		EXPECT_EQ(NULL, d) TH_LOG("%s -> %s", mangled, d);
	} else {
		ASSERT_NE(NULL, d) TH_LOG("%s not demangled", mangled);
		EXPECT_STREQ(want, d);
	}
	free(d);
}

TEST(cxx_template)
{
	expect_demangled(_metadata, "_ZN2ns3hotIiEEvT_", "void ns::hot<int>(int)");
	expect_demangled(_metadata, "_ZNSt6vectorIiSaIiEE9push_backERKi",
			 "std::vector<int, std::allocator<int> >::push_back(int const&)");
}

TEST(rust_legacy_hash_dropped)
{
	expect_demangled(_metadata, "_ZN4core3fmt5write17h0123456789abcdefE",
			 "core::fmt::write");
	/* a C++ name ending like a hash but not one keeps it */
	expect_demangled(_metadata, "_ZN1a5hxyzwE", "a::hxyzw");
}

TEST(not_mangled_stays)
{
	expect_demangled(_metadata, "main", NULL);
	expect_demangled(_metadata, "Perl_pp_const", NULL);
	expect_demangled(_metadata, "_Zgarbage!", NULL);
	expect_demangled(_metadata, "_Z", NULL);
	expect_demangled(_metadata, "", NULL);
	expect_demangled(_metadata, NULL, NULL);
}

TEST_HARNESS_MAIN
