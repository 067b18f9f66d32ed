// SPDX-License-Identifier: GPL-2.0
/*
 * kholmes: holmes for the whole host. Samples every process's scheduler and
 * memory counters, detects spikes against each process's own recent
 * average, and reports them over generic netlink.
 */

#include <linux/atomic.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <net/genetlink.h>

#include "khm.h"

static bool enabled = true;
module_param(enabled, bool, 0444);
MODULE_PARM_DESC(enabled, "Start sampling at load (default: 1)");

static uint interval_ms = 1000;
module_param(interval_ms, uint, 0444);
MODULE_PARM_DESC(interval_ms, "Sampling interval in ms, 10..60000 (default: 1000)");

static uint window = 10;
module_param(window, uint, 0444);
MODULE_PARM_DESC(window, "Samples averaged by each rule, 2..64 (default: 10)");

static uint max_tracked = 65536;
module_param(max_tracked, uint, 0444);
MODULE_PARM_DESC(max_tracked, "Most processes tracked at once, 1..1048576 (default: 65536)");

static uint max_threads = 64;
module_param(max_threads, uint, 0444);
MODULE_PARM_DESC(max_threads, "Threads per capture, 1..4096 (default: 64)");

static uint max_captures = 64;
module_param(max_captures, uint, 0444);
MODULE_PARM_DESC(max_captures, "Captures queued at most, 1..4096 (default: 64)");

static uint max_queue_kb = 16384;
module_param(max_queue_kb, uint, 0444);
MODULE_PARM_DESC(max_queue_kb, "Bytes queued at most in KiB, 64..1048576 (default: 16384)");

static uint user_stack_kb = 8;
module_param(user_stack_kb, uint, 0444);
MODULE_PARM_DESC(user_stack_kb, "User stack copied per thread in KiB, 0..64 (default: 8)");

static uint capture_rate = 10;
module_param(capture_rate, uint, 0444);
MODULE_PARM_DESC(capture_rate, "Automatic captures a minute, 0 (none)..600 (default: 10)");

static uint profile_s = 5;
module_param(profile_s, uint, 0444);
MODULE_PARM_DESC(profile_s, "Seconds a profile runs, 1..60 (default: 5)");

static uint profile_hz = 99;
module_param(profile_hz, uint, 0444);
MODULE_PARM_DESC(profile_hz, "CPU profile samples a second, 1..1000 (default: 99)");

static uint fault_period = 1;
module_param(fault_period, uint, 0444);
MODULE_PARM_DESC(fault_period, "Profile every Nth page fault, 1..1000000 (default: 1)");

static uint cpu_max;
module_param(cpu_max, uint, 0444);
MODULE_PARM_DESC(cpu_max, "Skip automatic captures while the host is at or above this percent of all CPUs, 0 (never)..100 (default: 0)");

static bool profiles = true;
module_param(profiles, bool, 0444);
MODULE_PARM_DESC(profiles, "Profile after cpu, rss, rss-pct and majflt detections (default: 1)");

static uint flight_hz = 19;
module_param(flight_hz, uint, 0444);
MODULE_PARM_DESC(flight_hz, "Flight recorder samples a second per CPU, 0..100, 0 off (default: 19)");

static uint flight_s = 10;
module_param(flight_s, uint, 0444);
MODULE_PARM_DESC(flight_s, "Seconds the flight recorder keeps, 1..60 (default: 10)");

static uint fail_alloc_every;
module_param(fail_alloc_every, uint, 0644);
MODULE_PARM_DESC(fail_alloc_every, "Debug: make every Nth allocation fail (default: 0, never)");

/* see khm.h: config, rules, watch scope, tracked processes, stats */
DEFINE_MUTEX(khm_lock);
struct khm_config khm_cfg;
struct khm_stats khm_stats;

/* the shipped defaults: kholmes_rule.h, where the unit tests see them */
struct kholmes_rule_cfg khm_rules[KHOLMES_NR_METRICS] = KHR_DEFAULT_RULES;
u32 khm_rules_gen;

static atomic64_t mem_bytes = ATOMIC64_INIT(0);
static atomic64_t alloc_fails = ATOMIC64_INIT(0);
static atomic_t alloc_seq = ATOMIC_INIT(0);

/*
 * Every allocation of the module goes through here so that status can show
 * what the module holds and so that failure paths can be exercised.
 */
void *khm_alloc(size_t size)
{
	uint every = READ_ONCE(fail_alloc_every);
	void *p = NULL;

	if (!every || atomic_inc_return(&alloc_seq) % every)
		p = kvzalloc(size, GFP_KERNEL);
	if (!p) {
		atomic64_inc(&alloc_fails);
		return NULL;
	}
	atomic64_add(size, &mem_bytes);
	return p;
}

void khm_free(const void *p, size_t size)
{
	if (!p)
		return;
	atomic64_sub(size, &mem_bytes);
	kvfree(p);
}

u64 khm_mem_bytes(void)
{
	return atomic64_read(&mem_bytes);
}

u64 khm_alloc_fails(void)
{
	return atomic64_read(&alloc_fails);
}

static int __init khm_check_param(const char *name, uint v, uint lo, uint hi)
{
	if (v >= lo && v <= hi)
		return 0;
	pr_err("%s=%u out of range %u..%u\n", name, v, lo, hi);
	return -EINVAL;
}

static int __init kholmes_init(void)
{
	int ret;

	ret = khm_check_param("interval_ms", interval_ms,
			      KHOLMES_INTERVAL_MS_MIN, KHOLMES_INTERVAL_MS_MAX) ?:
	      khm_check_param("window", window,
			      KHOLMES_WINDOW_MIN, KHOLMES_WINDOW_MAX) ?:
	      khm_check_param("max_tracked", max_tracked,
			      KHOLMES_MAX_TRACKED_MIN, KHOLMES_MAX_TRACKED_MAX) ?:
	      khm_check_param("max_threads", max_threads,
			      KHOLMES_MAX_THREADS_MIN, KHOLMES_MAX_THREADS_MAX) ?:
	      khm_check_param("max_captures", max_captures,
			      KHOLMES_MAX_CAPTURES_MIN,
			      KHOLMES_MAX_CAPTURES_MAX) ?:
	      khm_check_param("max_queue_kb", max_queue_kb,
			      KHOLMES_MAX_QUEUE_KB_MIN,
			      KHOLMES_MAX_QUEUE_KB_MAX) ?:
	      khm_check_param("user_stack_kb", user_stack_kb, 0,
			      KHOLMES_USER_STACK_KB_MAX) ?:
	      khm_check_param("capture_rate", capture_rate, 0,
			      KHOLMES_CAPTURE_RATE_MAX) ?:
	      khm_check_param("profile_s", profile_s, KHOLMES_PROFILE_S_MIN,
			      KHOLMES_PROFILE_S_MAX) ?:
	      khm_check_param("profile_hz", profile_hz, KHOLMES_PROFILE_HZ_MIN,
			      KHOLMES_PROFILE_HZ_MAX) ?:
	      khm_check_param("fault_period", fault_period, 1,
			      KHOLMES_FAULT_PERIOD_MAX) ?:
	      khm_check_param("cpu_max", cpu_max, 0, 100) ?:
	      khm_check_param("flight_hz", flight_hz, 0,
			      KHOLMES_FLIGHT_HZ_MAX) ?:
	      khm_check_param("flight_s", flight_s, KHOLMES_FLIGHT_S_MIN,
			      KHOLMES_FLIGHT_S_MAX);
	if (ret)
		return ret;

	khm_cfg.enabled = enabled;
	khm_cfg.interval_ms = interval_ms;
	khm_cfg.window = window;
	khm_cfg.max_tracked = max_tracked;
	khm_cfg.max_threads = max_threads;
	khm_cfg.max_captures = max_captures;
	khm_cfg.max_queue_kb = max_queue_kb;
	khm_cfg.user_stack_kb = user_stack_kb;
	khm_cfg.capture_rate = capture_rate;
	khm_cfg.profile_s = profile_s;
	khm_cfg.profile_hz = profile_hz;
	khm_cfg.fault_period = fault_period;
	khm_cfg.cpu_max = cpu_max;
	khm_cfg.profiles = profiles;
	khm_cfg.flight_hz = flight_hz;
	khm_cfg.flight_s = flight_s;

	ret = khm_capture_init();
	if (ret)
		goto err_capture;
	ret = khm_profile_init();
	if (ret)
		goto err_profile;
	ret = khm_flight_init();
	if (ret)
		goto err_flight;
	ret = khm_sampler_init();
	if (ret)
		goto err_sampler;
	ret = khm_netlink_init();
	if (ret)
		goto err_netlink;
	mutex_lock(&khm_lock);
	khm_sampler_kick();
	mutex_unlock(&khm_lock);
	pr_info("version %s loaded, interval %u ms, window %u\n",
		KHOLMES_VERSION, interval_ms, window);
	return 0;

err_netlink:
	khm_sampler_uninit();
err_sampler:
	khm_flight_uninit();
err_flight:
	khm_profile_uninit();
err_profile:
	khm_capture_uninit();
err_capture:
	return ret;
}

/*
 * Netlink requests are closed first (those in flight finish) so that none
 * can restart the sampler or ask for a capture while they are torn down;
 * then the sampler, which requests captures and profiles; then a running
 * profile, which ends into the queue; then the capture worker and its
 * queue. Each of them may still send an event until it has stopped: the
 * family is unregistered only then. The watch scope goes last, as the
 * sampler reads it. The flight recorder's events and rings go with the
 * sampler: a capture still being taken finds none.
 */
static void __exit kholmes_exit(void)
{
	khm_netlink_close();
	khm_sampler_uninit();
	khm_flight_uninit();
	khm_profile_uninit();
	khm_capture_uninit();
	khm_netlink_uninit();
	khm_watch_uninit();
	WARN_ON(khm_mem_bytes());
	pr_info("unloaded\n");
}

module_init(kholmes_init);
module_exit(kholmes_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Per-process spike detection and stack capture");
MODULE_AUTHOR("kholmes developers");
MODULE_VERSION(KHOLMES_VERSION);
MODULE_ALIAS_GENL_FAMILY(KHOLMES_GENL_NAME);
