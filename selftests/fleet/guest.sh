#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/fleet/guest.sh: the guest side of the fleet VM test
# (selftests/fleet/run.sh), run at every boot of the Debian 12 image by
# khm-fleet-test.service from the second disk, which also holds the two
# packages. Each result is one line on the serial console, "KHMF ok - ..."
# or "KHMF not ok - ...", diagnostics "KHMF # ..."; run.sh numbers and
# judges them. First boot: install, enable, capture, reload; then reboot.
# Second boot: the module and the daemon came up by themselves, captures
# queued while the daemon was stopped reach the disk, purge; then power off.
# Every wait is for a condition, bounded by a limit that only a failure hits.
set -u
exec </dev/null >/dev/ttyS0 2>&1
disk=$(cd "$(dirname "$0")" && pwd)
state=/var/lib/khm-test
caps=/var/lib/kholmes/captures
mkdir -p "$state"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C SYSTEMD_PAGER= SYSTEMD_COLORS=0

say() { printf 'KHMF %s\n' "$*"; }
diag() { sed 's/^/KHMF # /'; }
# check DESC CMD...: one result; the command's output becomes diagnostics
# when it fails.
check() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if ((rc == 0)); then
		say "ok - $desc"
	else
		say "not ok - $desc"
		[[ -n $out ]] && printf '%s\n' "$out" | tail -n 25 | diag
	fi
	return $rc
}
# wait_for SECONDS CMD...: until CMD succeeds, at most SECONDS.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS >= end)) && return 1
		sleep 1
	done
}
journal() { journalctl --no-pager -o cat -u kholmesd -t kholmesctl "$@"; }
prop() { systemctl show -P "$1" kholmesd; }
active() { [[ $(prop ActiveState) == "$1" ]]; }
cfg_has() { kholmesctl config | grep -Eq "(^|[^a-z-])$1\"?[[:space:]:=]+$2([^0-9]|\$)"; }
# a spinner named khm-spin: idle for SECONDS (the rule's window fills with
# zeros), then busy until killed, so the cpu rule sees a jump
spin() {
	cp /bin/bash "$state/khm-spin"
	"$state/khm-spin" -c "sleep $1; while :; do :; done" >/dev/null 2>&1 &
	echo $!
}
# the kernel's log: no splat from the module (or anything else)
no_splat() {
	check "no BUG, WARNING, Oops, refcount or lockdep report in dmesg ($1)" \
		sh -c '! dmesg | grep -E "BUG:|WARNING:|Oops|refcount_t:|list_(add|del) corruption|possible (circular|recursive) locking|general protection"'
}
capture_files() { find "$caps" -maxdepth 1 -type f -name "*-khm-spin-$1-*" 2>/dev/null; }
export caps
export -f capture_files

# What the test writes as /etc/kholmes.conf: fast sampling, watch only the
# spinner, the cpu rule tuned for it.
good_conf() {
	cat <<'CONF'
config interval-ms 200 window 5 capture-rate 60 cpu-max 0
rule cpu min 50 diff 100 cooldown 600 on
watch comm khm-spin
CONF
}

wait_for 600 sh -c 'systemctl is-system-running --wait | grep -Eq "running|degraded"'
phase=1
[[ -f $state/phase1 ]] && phase=2
say "# boot $phase: $(uname -r), PID 1 is $(cat /proc/1/comm), $(systemctl is-system-running)"

if ((phase == 1)); then
	check "systemd is PID 1 on $(uname -r)" test "$(cat /proc/1/comm)" = systemd
	check "the image has no kholmes yet" sh -c '! dpkg -l kholmesctl kholmes-dkms 2>/dev/null | grep -q ^ii'

	cp "$disk"/*.deb /tmp/ && chmod 0644 /tmp/*.deb
	# run.sh's default: the module was built by DKMS on the host, and the
	# package's postinst loads it (dkms ldtarball) instead of compiling
	if [[ -f $(echo "$disk"/kholmes-*.dkms.tar.gz) ]]; then
		mkdir -p /usr/share/kholmes-dkms
		cp "$disk"/kholmes-*.dkms.tar.gz /usr/share/kholmes-dkms/
		say "# DKMS: the module built on the host, loaded by the postinst"
	else
		say "# DKMS: the module compiled in this VM"
	fi
	t0=$SECONDS
	check "apt-get install ./kholmes-dkms_*.deb ./kholmesctl_*.deb, offline" \
		sh -c 'cd /tmp && apt-get install -y ./kholmes-dkms_*.deb ./kholmesctl_*.deb' 
	say "# install with the DKMS build took $((SECONDS - t0)) s"
	check "dkms status: kholmes installed for $(uname -r)" \
		sh -c "dkms status -m kholmes -k $(uname -r) | grep -q installed"
	check "modinfo finds the DKMS module" sh -c 'modinfo -n kholmes | grep -q /updates/dkms/'
	check "/etc/kholmes.conf is a conffile of kholmesctl" \
		sh -c 'dpkg-query -W -f="\${Conffiles}" kholmesctl | grep -q " /etc/kholmes.conf "'
	check "the package leaves the daemon disabled and stopped" \
		sh -c '! systemctl is-enabled -q kholmesd && ! systemctl is-active -q kholmesd'
	check "the unit is Type=notify, NotifyAccess=main" \
		sh -c 'test "$(systemctl show -P Type kholmesd)" = notify && test "$(systemctl show -P NotifyAccess kholmesd)" = main'

	good_conf >/etc/kholmes.conf
	check "systemctl enable --now kholmesd" systemctl enable --now kholmesd
	# Type=notify: the start job ends only when the daemon says READY=1,
	# which it does once the module answered, so right now it is active
	# and the module is loaded and answering.
	check "active as soon as the start returns, the module answering" \
		sh -c 'systemctl is-active -q kholmesd && test -d /sys/module/kholmes && kholmesctl status >/dev/null'
	check "StateDirectory: $caps is root:root 0750" \
		sh -c "test \"\$(stat -c %U:%G:%a $caps)\" = root:root:750"
	check "the daemon applied /etc/kholmes.conf at start" \
		sh -c 'kholmesctl watch | grep -q khm-spin'

	# Not ready without the module: with modprobe kholmes made a no-op,
	# the daemon starts, finds no module, says so and exits; the unit
	# never becomes active (a Type=simple unit would, on exec).
	entered=$(prop ActiveEnterTimestampMonotonic)
	systemctl stop kholmesd
	rmmod kholmes
	echo "install kholmes /bin/true" >/etc/modprobe.d/khm-test-block.conf
	since=$(date +%s)
	systemctl start --no-block kholmesd
	wait_for 120 sh -c "journalctl -u kholmesd -t kholmesctl --since=@$since -o cat | grep -q ."
	wait_for 60 sh -c 'test "$(systemctl show -P MainPID kholmesd)" = 0'
	journalctl -u kholmesd --since=@$since -o cat | tail -n 6 | diag
	check "without the module the daemon is never reported ready" \
		test "$(prop ActiveEnterTimestampMonotonic)" = "$entered"
	systemctl stop kholmesd
	systemctl reset-failed kholmesd
	rm -f /etc/modprobe.d/khm-test-block.conf
	check "with the module back, systemctl start kholmesd" systemctl start kholmesd
	check "ready: active, the module answering" \
		sh -c 'systemctl is-active -q kholmesd && kholmesctl status >/dev/null'
	wait_for 30 sh -c 'kholmesctl watch | grep -q khm-spin'

	# A capture of a spinning process, asked for by hand so that it does not
	# hang on the rule's timing in an emulated CPU starved by its host.
	pid=$(spin 0)
	check "the module tracks the spinner" wait_for 120 sh -c "kholmesctl ps | grep -qw $pid"
	check "kholmesctl capture pid: the spinner's capture is queued" kholmesctl capture pid "$pid"
	check "the daemon writes the spinner's capture to $caps" wait_for 300 bash -c "capture_files $pid | grep -q '\.txt\$'"
	kill "$pid"
	wait_for 30 bash -c "capture_files $pid | grep -q '\.json\$'"
	capture_files "$pid" | xargs -r stat -c '%n %U:%G %a' | diag
	check "capture files are root:root 0640" \
		bash -c "test -n \"\$(capture_files $pid)\" && ! capture_files $pid | xargs stat -c '%U:%G:%a' | grep -v -x root:root:640"
	# kholmesctl loads libdw when it unwinds (dlopen): under the unit's
	# sandbox (MemoryDenyWriteExecute, ProtectSystem) too, the frames of
	# Debian's bash are named (main, reader_loop: its .dynsym), which only
	# libdw does, and no capture says it could not load it
	check "the daemon unwound the capture with libdw: user frames named" \
		bash -c "f=\$(capture_files $pid | grep '\.json\$') && test -n \"\$f\" && ! grep -q 'libdw unavailable' \$f && grep -Eq '\"func\": ?\"' \$f"

	# reload: a good edit applies, a bad file is refused and logged, and
	# changes nothing
	good_conf | sed 's/interval-ms 200/interval-ms 300/; s/watch comm khm-spin/watch comm khm-spin\nwatch comm khm-other/' >/etc/kholmes.conf
	check "systemctl reload kholmesd (good edit)" systemctl reload kholmesd
	check "kholmesctl config shows the reloaded interval-ms 300" wait_for 60 cfg_has interval-ms 300
	check "kholmesctl watch shows the reloaded scope" wait_for 60 sh -c 'kholmesctl watch | grep -q khm-other'
	check "still active after the reload" active active
	good_conf | sed 's/interval-ms 200/interval-ms 400/; s/^rule cpu .*/rule cpu min banana/' >/etc/kholmes.conf
	check "systemctl reload kholmesd (bad file)" systemctl reload kholmesd
	check "the bad file is refused and logged" \
		wait_for 60 sh -c 'journalctl -u kholmesd -t kholmesctl -o cat | grep -q "kholmes.conf not applied"'
	check "the running configuration is unchanged (interval-ms 300)" cfg_has interval-ms 300
	check "still active after the refused reload" active active
	check "journalctl -u kholmesd -p warning shows the refusal" \
		sh -c 'journalctl -u kholmesd -t kholmesctl -p warning -o cat | grep -q "not applied"'
	check "journalctl -p warning leaves out the daemon's informational lines" \
		sh -c 'journalctl -u kholmesd -t kholmesctl -p info -o cat | grep -q "writing captures to" && ! journalctl -u kholmesd -t kholmesctl -p warning -o cat | grep -q "writing captures to"'
	check "no raw <N> priority prefixes in the journal" \
		sh -c '! journalctl -u kholmesd -t kholmesctl -o cat | grep -q "^<[0-7]>"'
	journalctl -u kholmesd -t kholmesctl -o short-monotonic --output-fields=PRIORITY -n 12 | diag
	journalctl -u kholmesd -t kholmesctl -p warning -o cat | tail -n 5 | sed 's/^/-p warning: /' | diag

	no_splat "first boot"
	good_conf >/etc/kholmes.conf
	touch "$state/phase1"
	sync
	say "phase1 done"
	systemctl reboot
	exit 0
fi

# Second boot: nothing started by hand yet.
check "after the reboot the module is loaded" test -d /sys/module/kholmes
check "after the reboot kholmesd is active" wait_for 120 active active
check "after the reboot the daemon applied /etc/kholmes.conf" wait_for 60 sh -c 'kholmesctl watch | grep -q khm-spin'
systemctl show -p ExecMainStartTimestampMonotonic kholmesd | diag

# A capture queued while the daemon is stopped reaches the disk once it
# starts again.
check "systemctl stop kholmesd" systemctl stop kholmesd
pid=$(spin 0)
check "the module tracks the spinner" wait_for 120 sh -c "kholmesctl ps | grep -qw $pid"
check "kholmesctl capture pid while the daemon is stopped" kholmesctl capture pid "$pid"
check "the module holds it in its queue" wait_for 120 sh -c "kholmesctl captures | grep -q khm-spin"
kholmesctl captures | diag
kill "$pid"
check "none of its files on disk while stopped" bash -c "test -z \"\$(capture_files $pid)\""
check "systemctl start kholmesd" systemctl start kholmesd
check "the queued capture is on disk after the start" wait_for 120 bash -c "capture_files $pid | grep -q '\.txt\$'"
check "and the module's queue is empty" wait_for 60 sh -c '! kholmesctl captures | grep -q khm-spin'
ls -l "$caps" | tail -n 8 | diag

check "apt-get purge -y kholmesctl kholmes-dkms" apt-get purge -y kholmesctl kholmes-dkms
check "purge: DKMS removed the module for $(uname -r)" \
	sh -c "test -z \"\$(dkms status -m kholmes)\" && test -z \"\$(find /lib/modules/$(uname -r) -name 'kholmes.ko*')\""
check "purge: the unit is gone and the daemon stopped" \
	sh -c '! test -e /lib/systemd/system/kholmesd.service && ! systemctl is-active -q kholmesd'
check "purge: the controller and /etc/kholmes.conf are gone" \
	sh -c '! test -e /usr/sbin/kholmesctl && ! test -e /etc/kholmes.conf && ! test -e /etc/modprobe.d/kholmes.conf'
check "purge: $caps and its captures are kept" \
	sh -c "test -d $caps && test -n \"\$(find $caps -type f -name '*.txt')\""
no_splat "second boot"
say "done"
sync
systemctl poweroff
