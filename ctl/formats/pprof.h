/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Captures and profiles in pprof's profile format (profile.proto, encoded
 * with protobuf-c, gzipped with zlib), which `go tool pprof`, Grafana
 * Pyroscope and speedscope open.
 *
 * A capture: one sample per thread, value 1 (threads, count), labelled
 * with its tid, state and comm. A profile: one sample per distinct stack,
 * valued (samples, count) and (cpu, nanoseconds) or (faults, count), with
 * the period set. Stacks are leaf first: kernel frames, then user frames.
 * User frames keep their addresses, in mappings with their files and
 * build-ids; a mapping whose file served the symbols says so
 * (has_functions), one whose file was missing or another build leaves
 * its frames to pprof's own symbolization. Kernel frames come as strings
 * (kernel addresses never leave the module): each distinct frame gets a
 * synthetic address in a pseudo-mapping "[kernel.kallsyms]" placed at a
 * non-canonical address, which no real code can have.
 */
#ifndef KHOLMESCTL_PPROF_H
#define KHOLMESCTL_PPROF_H

#include <stdint.h>
#include <stdio.h>

#include "record.h"

#define KH_PPROF_KERNEL_MAP	"[kernel.kallsyms]"
#define KH_PPROF_KERNEL_BASE	0x8000000000000000ULL
#define KH_PPROF_KERNEL_STEP	0x10

int kh_pprof_encode(const struct kh_capture *cap, uint8_t **buf, size_t *len);
int kh_gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len);
int kh_pprof_write(FILE *f, const struct kh_capture *cap);

#endif
