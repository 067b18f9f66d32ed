#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/vm/splats.sh KERNEL-LOG: print every line of a VM's kernel log
# that reports a kernel problem (BUG, WARNING, Oops, lockdep, refcount,
# list corruption, sleeping in atomic context, stalls, ...), each prefixed
# with the test binary that was running when it was logged (the VM's /init
# writes its KHM-* markers into the kernel log too). Prints nothing for a
# clean log. Used by run-vm.sh and scripts/demo.sh alike.
set -euo pipefail

splat_re='BUG:|WARNING:|Oops|general protection fault|kernel BUG at|Kernel panic'
splat_re+='|possible circular locking|inconsistent lock state|possible recursive locking'
splat_re+='|lockdep|suspicious RCU usage|refcount_t|list_add corruption|list_del corruption'
splat_re+='|sleeping function called from invalid context|scheduling while atomic'
splat_re+='|Call Trace|UBSAN:|KASAN:|soft lockup|hard LOCKUP|blocked for more than'
splat_re+='|rcu_.*detected stall|self-detected stall|unreferenced object|bad page state'
# Lines that match the above and are not splats, seen on these kernels
# under TCG.
benign_re='RETBleed: WARNING: Spectre v2 mitigation leaves CPU vulnerable'

awk -v re="$splat_re" -v benign="$benign_re" '
	/KHM-BEGIN /     { during = $NF; next }
	/KHM-END /       { during = "outside any test"; next }
	/KHM-INSMOD-OK/  { during = "outside any test"; next }
	/KHM-BOOT /      { during = "insmod at boot"; next }
	$0 ~ re && $0 !~ benign { print "[" (during ? during : "boot") "] " $0 }
' "$1"
