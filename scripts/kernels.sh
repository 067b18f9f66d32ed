#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# List the kernel releases installed here, oldest first, one per line.
#   scripts/kernels.sh        releases with headers (/lib/modules/<rel>/build)
#   scripts/kernels.sh --vm   releases that also have /boot/vmlinuz-<rel>,
#                             i.e. the ones the VM rig can boot
# Nothing is hard-coded: what apt installed is what we build and test.
set -euo pipefail

vm=0
[[ ${1:-} == --vm ]] && vm=1

shopt -s nullglob
for build in /lib/modules/*/build; do
	[[ -f $build/Makefile ]] || continue
	rel=${build#/lib/modules/}
	rel=${rel%/build}
	if ((vm)) && [[ ! -r /boot/vmlinuz-$rel ]]; then
		continue
	fi
	printf '%s\n' "$rel"
done | sort -V
