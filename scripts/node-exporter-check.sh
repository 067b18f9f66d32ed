#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/node-exporter-check.sh: the daemon's --prom-file read back the
# way a fleet reads it, as TAP. ctl/tests/prom_write writes the file with
# kholmesctl's own writer (kh_prom_write(), made-up counters); Debian's
# prometheus-node-exporter serves it through its textfile collector on
# 127.0.0.1; curl fetches /metrics, and every kholmes_ metric must come
# back with its value, its TYPE, and no textfile scrape error. promtool,
# where Debian's prometheus package is installed, lints the file too.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
exporter=$(command -v prometheus-node-exporter || true)
if [[ -z $exporter ]]; then
	echo "1..0 # SKIP prometheus-node-exporter is not installed (make deps)"
	exit 0
fi
if ! command -v curl >/dev/null; then
	echo "1..0 # SKIP curl is not installed (make deps)"
	exit 0
fi

tmp=$(mktemp -d)
pid=
cleanup() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
n=0 failed=0

ok() {
	n=$((n + 1))
	if (($1 == 0)); then
		echo "ok $n - $2"
	else
		failed=$((failed + 1))
		echo "not ok $n - $2"
		[[ -s $tmp/out ]] && sed 's/^/# /' "$tmp/out" | head -n 30
	fi
	: >"$tmp/out"
}

make -s -C "$top/ctl" tests/prom_write >"$tmp/out" 2>&1
ok $? "build ctl/tests/prom_write"
mkdir -p "$tmp/textfile"
"$top/ctl/tests/prom_write" "$tmp/textfile/kholmes.prom" >"$tmp/out" 2>&1 &&
	[[ -s $tmp/textfile/kholmes.prom ]] &&
	! ls -A "$tmp/textfile" | grep -v '^kholmes\.prom$' >>"$tmp/out"
ok $? "kh_prom_write() leaves one file, kholmes.prom, and no temporary one"

if command -v promtool >/dev/null; then
	promtool check metrics <"$tmp/textfile/kholmes.prom" >"$tmp/out" 2>&1
	ok $? "promtool check metrics accepts it"
else
	n=$((n + 1))
	echo "ok $n - promtool check metrics # SKIP prometheus (promtool) not installed"
fi

# A port nobody listens on: the exporter says so when it cannot bind.
port=
for try in 1 2 3 4 5 6 7 8; do
	p=$((20000 + (RANDOM * 7 + try) % 40000))
	"$exporter" --collector.disable-defaults --collector.textfile \
		--collector.textfile.directory="$tmp/textfile" \
		--web.listen-address="127.0.0.1:$p" >"$tmp/exporter.log" 2>&1 &
	pid=$!
	for _ in $(seq 50); do
		if curl -sf "http://127.0.0.1:$p/metrics" -o "$tmp/metrics" 2>/dev/null; then
			port=$p
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[[ -n $port ]] && break
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
done
[[ -n $port ]] || cp "$tmp/exporter.log" "$tmp/out"
ok $([[ -n $port ]]; echo $?) "prometheus-node-exporter serves /metrics on 127.0.0.1${port:+:$port}"
if [[ -z $port ]]; then
	echo "1..$n"
	exit 1
fi

grep -q '^node_textfile_scrape_error 0$' "$tmp/metrics" ||
	grep 'textfile' "$tmp/metrics" "$tmp/exporter.log" >"$tmp/out"
ok $? "the textfile collector read kholmes.prom without error"

# name, value as prom_write sets them (stat i is 100 + i)
want=(
	"kholmes_up 1"
	"kholmes_detections_total 105"
	"kholmes_suppressed_total 106"
	"kholmes_captures_total 115"
	"kholmes_captures_written_total 41"
	"kholmes_captures_dropped_total 116"
	"kholmes_captures_limited_total 117"
	"kholmes_captures_failed_total 118"
	"kholmes_profiles_total 123"
	"kholmes_profiles_skipped_total 124"
	"kholmes_saturated_skips_total 125"
	"kholmes_queue_length 119"
	"kholmes_queue_bytes 120"
	"kholmes_tracked_processes 103"
	'kholmes_sampling_pass_seconds{stat="last"} 0.0015'
	'kholmes_sampling_pass_seconds{stat="mean"} 0.00125'
	'kholmes_sampling_pass_seconds{stat="max"} 0.009'
	"kholmes_tasks_visited 110"
	"kholmes_module_memory_bytes 112"
	"kholmes_uploads_total 40"
	"kholmes_upload_failures_total 3"
	"kholmes_uploads_dropped_total 1"
	"kholmes_uploads_pending 2"
)
missing=0
for w in "${want[@]}"; do
	grep -qxF "$w" "$tmp/metrics" || { echo "missing: $w"; missing=1; }
done >"$tmp/out"
ok $missing "every kholmes_ metric comes back over HTTP with its value (${#want[@]} samples)"

types=0
for t in kholmes_up:gauge kholmes_detections_total:counter \
	kholmes_captures_written_total:counter kholmes_queue_length:gauge \
	kholmes_sampling_pass_seconds:gauge kholmes_uploads_pending:gauge; do
	grep -qxF "# TYPE ${t%%:*} ${t#*:}" "$tmp/metrics" || { echo "no TYPE ${t/:/ }"; types=1; }
done >"$tmp/out"
ok $types "their TYPE lines survive (counter, gauge)"

# The label value as escaped in the file: test "quoted" \ release
grep -qF 'kholmes_info{kernel="test \"quoted\" \\ release",version="' "$tmp/metrics" ||
	grep kholmes_info "$tmp/metrics" >"$tmp/out"
ok $? "an escaped label value reads back unchanged"

echo "1..$n"
((failed == 0))
