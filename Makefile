# SPDX-License-Identifier: GPL-2.0
#
# kholmes: everything is driven from here.
#
#   make                 kmod/kholmes.ko for the newest installed headers, and
#                        ctl/kholmesctl
#   make KVER=<release>  the module for that kernel (/lib/modules/<release>/build)
#   make deps            (root) apt-get install whatever of $(DEPS) is missing
#   make install         kholmesctl, its man page, kholmesd.service, the
#                        modprobe.d and config examples, and the module's
#                        source for DKMS (DESTDIR, PREFIX honoured)
#   make dkms            (root) make install, then dkms add/build/install for
#                        every installed kernel
#   make deb             the Debian packages kholmes-dkms and kholmesctl,
#                        by dpkg-buildpackage, in build/deb/
#   make fleet-vm        deb, then the packages on a Debian 12 VM with systemd
#                        (selftests/fleet/run.sh; the rootfs is cached in
#                        /var/cache/kholmes/)
#   make bench           deps, then the benchmark in the VM on every kernel:
#                        bench/results.md and bench/results.json
#   make demo            deps, then the main job: kholmes and its daemon in a
#                        VM on the newest kernel, a staged incident, the
#                        capture files in ./demo-captures/
#   make check           deps, host unit tests, style, W=1 build for every
#                        installed kernel, then the selftests in a qemu VM on
#                        every installed kernel; one closing line of totals
#   make vm KVER=<rel>   only the VM suite on one kernel (KHM_TESTS=rig_test
#                        KHM_MODPARAMS="interval_ms=100" KHM_VERBOSE=1 ...);
#                        KVER=debug: on the debug kernel of make kdebug
#   make kdebug          the debug kernel (KASAN, lockdep, kmemleak, UBSAN...)
#                        from linux-source-6.12, built once into
#                        /var/cache/kholmes/, then reused; prints
#                        KDEBUG_IMAGE=, KDEBUG_BUILD=, KDEBUG_RELEASE=
#   make modules-all     the module for every installed kernel, W=1, no warnings
#   make style           checkpatch --strict on kmod/ and include/
#   make sparse          sparse (C=2) on every installed kernel, report only
#   make unit            the controller's host unit tests (TAP)
#   make selftests       the VM tests and workloads, static, in build/selftests
#   make clean
#
# Kernels are found, never named: every release with headers in
# /lib/modules/<release>/build is built, and every one that also has
# /boot/vmlinuz-<release> is booted.

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD := $(TOP)/build
KSFT_DIR := $(BUILD)/ksft
CHECKPATCH_DIR := $(BUILD)/checkpatch

MAKEFLAGS += --no-print-directory

# Everything a fresh Debian 12 needs for every target here. Later features
# add their packages to this list.
DEPS := linux-image-cloud-amd64 linux-headers-cloud-amd64 \
	linux-image-6.12-cloud-amd64 linux-headers-6.12-cloud-amd64 \
	linux-image-6.12-rt-amd64 linux-headers-6.12-rt-amd64 \
	linux-source-6.12 qemu-system-x86 busybox-static cpio gzip xz-utils \
	gcc libc6-dev make kmod pkg-config perl sparse libelf-dev libdw-dev \
	libnl-3-dev libnl-genl-3-dev libkmod-dev libjson-c-dev \
	dkms mandoc systemd sysstat python3 \
	protobuf-c-compiler libprotobuf-c-dev zlib1g-dev golang-go \
	libcurl4-openssl-dev curl prometheus-node-exporter stress-ng \
	bc flex bison libssl-dev debhelper dh-dkms lintian mmdebstrap \
	g++ debuginfod linux-perf

# Debian's own programs in the VM, for the tests that detect them
# (selftests/real_test.c); mkinitramfs.sh copies them with their libraries.
export KHM_EXTRA_BINS ?= /usr/bin/perl /usr/bin/stress-ng

KERNELS := $(shell $(TOP)/scripts/kernels.sh)
# The newest, preferring the usual flavour to PREEMPT_RT at the same version.
KVER ?= $(lastword $(filter-out %-rt-amd64,$(KERNELS)) $(filter %-rt-amd64,$(firstword $(KERNELS))))

STYLE_FILES := $(filter-out %.mod.c,\
	$(wildcard $(TOP)/kmod/*.c $(TOP)/kmod/*.h $(TOP)/include/*.h))

.PHONY: all module ctl deps check demo demo-build vm kdebug install dkms pkgcheck \
	deb fleet-vm bench bench-build modules-all style sparse unit selftests \
	ksft clean

all: module ctl

module:
	@$(TOP)/scripts/kbuild.sh $(KVER)
	@cp $(BUILD)/$(KVER)/src/kmod/kholmes.ko $(TOP)/kmod/kholmes.ko
	@echo "module: kmod/kholmes.ko for $(KVER)"

ctl:
	$(MAKE) -C $(TOP)/ctl all

deps:
	@$(TOP)/scripts/deps.sh $(DEPS)

# The harness and checkpatch come out of the linux-source tarball, at build
# time, into build/ only.
ksft: $(KSFT_DIR)/kselftest_harness.h

$(KSFT_DIR)/kselftest_harness.h $(CHECKPATCH_DIR)/checkpatch.pl &: $(TOP)/scripts/linux-src.sh
	@$(TOP)/scripts/linux-src.sh $(BUILD)

unit: ksft
	$(MAKE) -C $(TOP)/ctl test KSFT_DIR=$(KSFT_DIR)

selftests: ksft
	$(MAKE) -C $(TOP)/selftests TOP=$(TOP) KSFT_DIR=$(KSFT_DIR) \
		OUT=$(BUILD)/selftests

modules-all:
	@test -n "$(KERNELS)" || { echo "no kernel headers installed: sudo make deps" >&2; exit 1; }
	@rc=0; for k in $(KERNELS); do \
		echo "== W=1 build for $$k"; \
		if $(TOP)/scripts/kbuild.sh --quiet --fresh --strict $$k; then \
			echo "$$k: kholmes.ko built, no warnings"; \
		else \
			rc=1; \
		fi; \
	done; exit $$rc

style: $(CHECKPATCH_DIR)/checkpatch.pl
	@cd $(TOP) && scripts/style.sh $(CHECKPATCH_DIR) $(STYLE_FILES:$(TOP)/%=%)

sparse:
	@for k in $(KERNELS); do \
		echo "== sparse on $$k"; \
		$(TOP)/scripts/kbuild.sh --quiet --log $(BUILD)/$$k/sparse.log \
			$$k C=2 2>/dev/null || true; \
		grep -E 'warning:|error:' $(BUILD)/$$k/sparse.log || echo "(no sparse reports)"; \
	done

vm: ctl selftests
	@$(TOP)/scripts/kbuild.sh --quiet $(KVER)
	@$(TOP)/selftests/kmod_helper/build.sh $(KVER)
	@$(TOP)/selftests/vm/run-vm.sh $(KVER) $(BUILD)/$(KVER)/vm

# Cached outside the tree (make clean keeps it); see scripts/kdebug.sh.
kdebug:
	@$(TOP)/scripts/kdebug.sh

# What kholmes costs, measured in the VM against pidstat and unloaded runs
# (and `perf record`, from DEPS' linux-perf, for the profile's cost).
bench: deps
	@$(MAKE) bench-build
	@$(TOP)/scripts/bench.sh

bench-build: ctl $(BUILD)/bench/jobs
	@cp /usr/bin/pidstat $(BUILD)/bench/pidstat
	@python3 $(TOP)/bench/report_test.py

$(BUILD)/bench/jobs: $(TOP)/bench/jobs.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer \
		-Wall -Wextra -static -pthread -o $@ $<

# The main job: the module in a VM, a staged incident, the files it wrote.
demo: deps
	@$(MAKE) demo-build
	@$(TOP)/scripts/demo.sh

DEMO_SRCS := $(wildcard $(TOP)/demo/*.c)
demo-build: ctl $(DEMO_SRCS:$(TOP)/demo/%.c=$(BUILD)/demo/%)

$(BUILD)/demo/%: $(TOP)/demo/%.c
	@mkdir -p $(@D)
	$(CC) -O1 -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer \
		-Wall -Wextra -static -pthread -o $@ $<

VERSION := $(shell sed -n 's/^\#define KHOLMES_VERSION[[:space:]]*"\(.*\)"/\1/p' $(TOP)/include/kholmes.h)
PREFIX ?= /usr
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSTEMDUNITDIR ?= /lib/systemd/system
SYSCONFDIR ?= /etc
DKMS_SRC := $(PREFIX)/src/kholmes-$(VERSION)
MODULE_SRCS := $(wildcard $(TOP)/kmod/*.c $(TOP)/kmod/*.h) $(TOP)/kmod/Kbuild
UAPI_SRCS := $(wildcard $(TOP)/include/*.h)

install: ctl
	install -D -m 0755 $(TOP)/ctl/kholmesctl $(DESTDIR)$(SBINDIR)/kholmesctl
	install -D -m 0644 $(TOP)/doc/kholmesctl.8 $(DESTDIR)$(MANDIR)/man8/kholmesctl.8
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	sed 's|@SBINDIR@|$(SBINDIR)|g' $(TOP)/packaging/kholmesd.service \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/kholmesd.service
	install -D -m 0644 $(TOP)/packaging/modprobe.conf \
		$(DESTDIR)$(SYSCONFDIR)/modprobe.d/kholmes.conf
	test -e $(DESTDIR)$(SYSCONFDIR)/kholmes.conf || \
		install -D -m 0644 $(TOP)/packaging/kholmes.conf $(DESTDIR)$(SYSCONFDIR)/kholmes.conf
	install -d $(DESTDIR)$(DKMS_SRC)/kmod $(DESTDIR)$(DKMS_SRC)/include
	install -m 0644 $(TOP)/Kbuild $(DESTDIR)$(DKMS_SRC)/Kbuild
	install -m 0644 $(MODULE_SRCS) $(DESTDIR)$(DKMS_SRC)/kmod/
	install -m 0644 $(UAPI_SRCS) $(DESTDIR)$(DKMS_SRC)/include/
	sed 's|@VERSION@|$(VERSION)|' $(TOP)/dkms.conf >$(DESTDIR)$(DKMS_SRC)/dkms.conf

dkms: install
	dkms add kholmes/$(VERSION) 2>/dev/null || true
	@set -e; for k in $(KERNELS); do \
		dkms build kholmes/$(VERSION) -k $$k; \
		dkms install kholmes/$(VERSION) -k $$k --force; \
	done

# The Debian packages, built by dpkg-buildpackage from a copy of the tree
# in build/deb/ (debian/ is the packaging; scripts/deb.sh).
deb:
	@$(TOP)/scripts/deb.sh

# The packages on a real Debian 12 with systemd as PID 1, in a VM on the
# 6.12 cloud kernel: install, the unit, reload, a reboot, purge (TAP).
fleet-vm: deb
	@$(TOP)/selftests/fleet/run.sh

# Packaging checks on the host: DKMS builds for every kernel, the unit, the
# man page, an install into a scratch DESTDIR.
pkgcheck: ctl
	@$(TOP)/scripts/pkgcheck.sh

check: deps
	@MAKE="$(MAKE)" $(TOP)/scripts/check.sh

clean:
	-$(MAKE) -C $(TOP)/ctl clean
	rm -rf $(BUILD) $(TOP)/kmod/kholmes.ko
