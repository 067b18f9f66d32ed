/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KHOLMESCTL_DEMANGLE_H
#define KHOLMESCTL_DEMANGLE_H

/*
 * The demangled form of a C++ or Rust (legacy) symbol, to free(); NULL
 * when name is not mangled, or cannot be demangled here (Rust's v0 "_R"
 * names, no libstdc++).
 */
char *kh_demangle(const char *name);

#endif
