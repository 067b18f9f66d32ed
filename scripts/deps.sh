#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/deps.sh PKG...: install with apt-get whichever of the Debian
# packages PKG are not installed yet (the Makefile's DEPS list). Idempotent:
# when everything is present it says so and changes nothing, and it only
# runs `apt-get update` when there is something to install.
set -euo pipefail

if (($# == 0)); then
	echo "usage: $0 PACKAGE..." >&2
	exit 2
fi

missing=()
for pkg in "$@"; do
	# db:Status-Abbrev is "ii " for an installed package; anything else
	# (unknown, removed, half-configured) needs apt.
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
	[[ $status == ii* ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
	echo "deps: all $# packages are installed, nothing to do"
	exit 0
fi

echo "deps: missing: ${missing[*]}"
if ((EUID != 0)); then
	echo "deps: run as root to install them: sudo make deps" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
echo "deps: installed ${#missing[@]} packages"
