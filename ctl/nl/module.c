// SPDX-License-Identifier: GPL-2.0
/*
 * The family did not resolve (and the kernel's own attempt to load the
 * module by its alias did not help): tell the user which of the usual
 * reasons it is, and the command that fixes it.
 */
#include <errno.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <libkmod.h>

#include "kholmes.h"
#include "module.h"
#include "out.h"
#include "util.h"

/* The module's file name, kmod/kholmes.ko; the UAPI names only the family. */
#define MODNAME		"kholmes"
#define SYSFS_MODULE	"/sys/module/" MODNAME

/*
 * libkmod is loaded here, on the one path that uses it, not linked:
 * kholmesctl runs for every `status`, `capture` and poll, and libkmod
 * brings libcrypto, libzstd and liblzma, whose loading and relocation
 * were most of a run's start in the test VMs (TCG), for a diagnosis
 * printed only when the module is missing. Without libkmod the
 * diagnosis falls back to /sys/module.
 */
#define KH_KMOD_SONAME "libkmod.so.2"

#define KH_KMOD_SYMS(X)							\
	X(kmod_new) X(kmod_unref)					\
	X(kmod_module_new_from_lookup) X(kmod_module_unref_list)	\
	X(kmod_module_new_from_name) X(kmod_module_get_initstate)	\
	X(kmod_module_unref)

KH_KMOD_SYMS(KH_DL_DECL)

/* 0 when every pointer above is set; the library then stays loaded */
static int kmod_load(void)
{
	static const char *const names[] = { KH_KMOD_SYMS(KH_DL_NAME) };
	static void **const ptrs[] = { KH_KMOD_SYMS(KH_DL_PTR) };
	char err[128];

	return kh_dl_load(KH_KMOD_SONAME, names, ptrs, sizeof(names) / sizeof(*names),
			  err, sizeof(err));
}

#define kmod_new (*p_kmod_new)
#define kmod_unref (*p_kmod_unref)
#define kmod_module_new_from_lookup (*p_kmod_module_new_from_lookup)
#define kmod_module_unref_list (*p_kmod_module_unref_list)
#define kmod_module_new_from_name (*p_kmod_module_new_from_name)
#define kmod_module_get_initstate (*p_kmod_module_get_initstate)
#define kmod_module_unref (*p_kmod_module_unref)

static const char *krelease(struct utsname *u)
{
	return uname(u) ? "(unknown)" : u->release;
}

/* 1 installed for this kernel, 0 not, negative errno when we cannot tell */
static int installed(struct kmod_ctx *ctx)
{
	struct kmod_list *list = NULL;
	int ret;

	ret = kmod_module_new_from_lookup(ctx, MODNAME, &list);
	if (ret < 0)
		return ret;
	ret = list != NULL;
	kmod_module_unref_list(list);
	return ret;
}

static int loaded_state(struct kmod_ctx *ctx)
{
	struct kmod_module *mod;
	int state;

	if (kmod_module_new_from_name(ctx, MODNAME, &mod) < 0)
		return -ENOENT;
	state = kmod_module_get_initstate(mod);
	kmod_module_unref(mod);
	return state;
}

static void not_loaded(struct kmod_ctx *ctx)
{
	struct utsname u;

	if (ctx && installed(ctx) > 0) {
		kh_err("the %s module is not loaded; load it with: modprobe %s",
		       MODNAME, MODNAME);
		return;
	}
	kh_err("the %s module is not loaded, and not installed for kernel %s; "
	       "build it with make and load it with insmod kmod/%s.ko",
	       MODNAME, krelease(&u), MODNAME);
}

int kh_module_explain(void)
{
	struct kmod_ctx *ctx;
	int state;

	/*
	 * Without libkmod, or in a minimal initramfs with no /lib/modules
	 * where it may not start, /sys/module says what it can.
	 */
	ctx = kmod_load() ? NULL : kmod_new(NULL, NULL);
	if (!ctx) {
		if (access(SYSFS_MODULE, F_OK))
			not_loaded(NULL);
		else
			kh_err("the %s module is loaded but its netlink family \"%s\" is not registered",
			       MODNAME, KHOLMES_GENL_NAME);
		return KH_EXIT_NOMOD;
	}
	state = loaded_state(ctx);
	switch (state) {
	case KMOD_MODULE_LIVE:
	case KMOD_MODULE_BUILTIN:
		kh_err("the %s module is loaded but its netlink family \"%s\" is not registered; reload it: rmmod %s && modprobe %s",
		       MODNAME, KHOLMES_GENL_NAME, MODNAME,
		       MODNAME);
		break;
	case KMOD_MODULE_COMING:
		kh_err("the %s module is still loading; try again", MODNAME);
		break;
	case KMOD_MODULE_GOING:
		kh_err("the %s module is being unloaded; load it again with: modprobe %s",
		       MODNAME, MODNAME);
		break;
	default:
		not_loaded(ctx);
		break;
	}
	kmod_unref(ctx);
	return KH_EXIT_NOMOD;
}
