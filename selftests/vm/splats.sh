#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/vm/splats.sh KERNEL-LOG: print every line of a VM's kernel log
# that reports a kernel problem, each prefixed with the test binary that
# was running when it was logged (the VM's /init writes its KHM-* markers
# into the kernel log too). Prints nothing for a clean log. Used by
# judge.sh and scripts/demo.sh alike. What it knows:
#   BUG:, kernel BUG at, WARNING:, Oops, general protection fault, panic
#   KASAN (BUG: KASAN: ...), UBSAN (UBSAN: ...)
#   lockdep: every "WARNING: ..." report, lockdep's own BUG:/INFO: lines,
#            "INFO: lockdep is turned off" (a first report switched it off)
#   RCU: suspicious RCU usage, stalls
#   kmemleak: "unreferenced object", "N new suspected memory leaks", and
#            kmemleak switching itself off (it then proves nothing)
#   hung tasks (blocked for more than), soft and hard lockups, sleeping in
#   atomic context, list corruption, refcount_t, bad page state, stack
#   corruption, and any Call Trace
set -euo pipefail

splat_re='BUG:|WARNING:|Oops|general protection fault|kernel BUG at|Kernel panic'
splat_re+='|possible circular locking|inconsistent lock state|possible recursive locking'
splat_re+='|lockdep|suspicious RCU usage|refcount_t|list_add corruption|list_del corruption'
splat_re+='|sleeping function called from invalid context|scheduling while atomic'
splat_re+='|Call Trace|UBSAN:|KASAN:|soft lockup|hard LOCKUP|blocked for more than'
splat_re+='|rcu_.*detected stall|self-detected stall|unreferenced object|bad page state'
splat_re+='|detected stalls? on CPU|suspected memory leak|kmemleak: .*(disabled|Cannot|failed|pool empty)'
splat_re+='|Kernel memory leak detector disabled|INFO: task .* blocked|non-static key'
splat_re+='|lock held when returning|held lock freed|bad unlock balance|DEBUG_LOCKS_WARN_ON'
splat_re+='|stack-protector|stack guard page|corrupted stack end|double fault|Unable to handle'
# Lines that match the above and are not splats, seen on these kernels
# under TCG.
benign_re='RETBleed: WARNING: Spectre v2 mitigation leaves CPU vulnerable'
# the debug kernel's boot banner
benign_re+='|RCU lockdep checking is enabled'

awk -v re="$splat_re" -v benign="$benign_re" '
	/KHM-BEGIN /     { during = $NF; next }
	/KHM-END /       { during = "outside any test"; next }
	/KHM-INSMOD-OK/  { during = "outside any test"; next }
	/KHM-BOOT /      { during = "insmod at boot"; next }
	# /init has kmemleak scan and forget what the boot leaked before
	# its first mark: that scan'"'"'s report is not ours.
	!during && /suspected memory leak/ { next }
	$0 ~ re && $0 !~ benign { print "[" (during ? during : "boot") "] " $0 }
' "$1"
