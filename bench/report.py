#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the benchmark VM's "KERNEL section key value" lines into
bench/results.json and bench/results.md (see scripts/bench.sh)."""

import json
import statistics
import sys


def load(path):
    data = {}
    for line in open(path, encoding="utf-8", errors="replace"):
        parts = line.split()
        if len(parts) < 4:
            continue
        kernel, section, key, value = parts[0], parts[1], parts[2], " ".join(parts[3:])
        try:
            value = float(value)
        except ValueError:
            pass
        data.setdefault(kernel, {}).setdefault(section, {}).setdefault(key, []).append(value)
    return data


def num(d, section, key):
    vals = [v for v in d.get(section, {}).get(key, []) if isinstance(v, float)]
    return vals


def med(vals):
    return statistics.median(vals) if vals else None


def spread(vals):
    return (min(vals), max(vals)) if vals else (None, None)


def ratio(a, b):
    return a / b if a is not None and b else None


def summarize(d):
    out = {}
    for total in ("1000", "10000"):
        s = "sampling-" + total
        pass_ns = med(num(d, s, "module-pass-ns"))
        tasks = med(num(d, s, "tasks"))
        pid_cpu = med(num(d, s, "pidstat-cpu-s"))
        samples = med(num(d, s, "pidstat-samples"))
        pid_per_sample = pid_cpu / samples if pid_cpu is not None and samples else None
        mod_per_sample = pass_ns / 1e9 if pass_ns is not None else None
        out[s] = {
            "tasks": tasks,
            "module_cpu_s_per_sample": mod_per_sample,
            "module_ns_per_task": ratio(pass_ns, tasks),
            "pidstat_cpu_s_per_sample": pid_per_sample,
            "pidstat_ns_per_task": ratio(pid_per_sample * 1e9 if pid_per_sample else None, tasks),
            "pidstat_over_module": ratio(pid_per_sample, mod_per_sample),
        }
    ov = {}
    for job in ("cpu", "fork", "ctxsw"):
        base = num(d, "overhead-off", job + "-ns")
        ov[job] = {"unloaded_ms": med(base) and med(base) / 1e6,
                   "unloaded_spread_ms": [x and x / 1e6 for x in spread(base)],
                   "runs": len(base)}
        for mode in ("1000", "100"):
            vals = num(d, "overhead-" + mode, job + "-ns")
            ov[job][mode + "ms_ms"] = med(vals) and med(vals) / 1e6
            ov[job][mode + "ms_spread_ms"] = [x and x / 1e6 for x in spread(vals)]
            ov[job][mode + "ms_ratio"] = ratio(med(vals), med(base))
            # each round's loaded run against the unloaded run just before it
            paired = [v / b for v, b in zip(vals, base) if b]
            ov[job][mode + "ms_paired_ratio"] = med(paired)
            ov[job][mode + "ms_paired_spread"] = list(spread(paired))
    out["overhead"] = ov
    out["overhead_tasks"] = med(num(d, "overhead", "tasks"))
    lat = {}
    for iv in ("1000", "100"):
        vals = sorted(v / 1e6 for v in num(d, "latency-" + iv, "ns") if v >= 0)
        missed = len([v for v in num(d, "latency-" + iv, "ns") if v < 0])
        target = 2 * int(iv) + 1000
        lat[iv] = {
            "trials": len(vals) + missed,
            "missed": missed,
            "median_ms": med(vals),
            "p90_ms": vals[min(len(vals) - 1, int(round(0.9 * (len(vals) - 1))))] if vals else None,
            "max_ms": vals[-1] if vals else None,
            "target_ms": target,
            "within_target": len([v for v in vals if v <= target]),
        }
    out["latency"] = lat
    cap = num(d, "capture", "capture-ns")
    qb, ql = med(num(d, "capture", "queue-bytes")), med(num(d, "capture", "queue-len"))
    out["capture"] = {
        "threads": 64,
        "capture_ms": med(cap) and med(cap) / 1e6,
        "capture_spread_ms": [x and x / 1e6 for x in spread(cap)],
        "bytes_per_capture": ratio(qb, ql),
        "target_longest_gap_alone_ms": med(num(d, "capture", "gap-alone-ns")) and
        med(num(d, "capture", "gap-alone-ns")) / 1e6,
        "target_longest_gap_control_ms": med(num(d, "capture", "gap-control-ns")) and
        med(num(d, "capture", "gap-control-ns")) / 1e6,
        "target_longest_gap_captured_ms": med(num(d, "capture", "gap-captured-ns")) and
        med(num(d, "capture", "gap-captured-ns")) / 1e6,
    }
    mb, mt = med(num(d, "memory", "bytes")), med(num(d, "memory", "tracked"))
    bb, bt = med(num(d, "memory", "base-bytes")), med(num(d, "memory", "base-tracked"))
    out["memory"] = {
        "tracked": mt,
        "module_bytes": mb,
        "bytes_per_tracked_process": ratio(mb - bb if mb is not None and bb is not None else None,
                                           mt - bt if mt is not None and bt is not None else None),
    }
    out["threads_5000"] = {
        "tasks": med(num(d, "threads-5000", "tasks")),
        "pass_mean_us": med(num(d, "threads-5000", "pass-mean-ns")) and
        med(num(d, "threads-5000", "pass-mean-ns")) / 1e3,
        "pass_max_us": med(num(d, "threads-5000", "pass-max-ns")) and
        med(num(d, "threads-5000", "pass-max-ns")) / 1e3,
    }
    samples, handler = med(num(d, "profile", "samples")), med(num(d, "profile", "handler-ns"))
    per_sample = ratio(handler, samples)
    alone, prof = med(num(d, "profile", "job-alone-ns")), med(num(d, "profile", "job-profiled-ns"))
    fp_per_sample = ratio(med(num(d, "profile-fp", "handler-ns")),
                          med(num(d, "profile-fp", "samples")))
    out["profile"] = {
        "samples": samples,
        "handler_ns_per_sample": per_sample,
        "handler_ns_per_sample_fp_only": fp_per_sample,
        "cpu_percent_at_99hz": per_sample * 99 / 1e9 * 100 if per_sample else None,
        "job_slowdown": ratio(prof, alone),
    }
    # perf record -F 99 -g of the same job, without the module loaded
    psamples = med(num(d, "perf", "samples"))
    if psamples:
        # perf's CPU besides the job's, in all; and what it takes around a
        # job of no length (starting, writing its file), which under
        # emulation is most of it
        own = med(num(d, "perf", "own-cpu-ns"))
        fixed = med(num(d, "perf", "fixed-cpu-ns"))
        out["perf_record"] = {
            "samples": psamples,
            "job_slowdown": ratio(med(num(d, "perf", "job-recorded-ns")),
                                  med(num(d, "perf", "job-alone-ns"))),
            "start_cpu_ms": fixed / 1e6 if fixed is not None else None,
            "own_cpu_ms": own / 1e6 if own is not None else None,
        }
    else:
        out["perf_record"] = None
    return out


def fmt(v, unit="", digits=2):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}f}{unit}"
    return f"{v}{unit}"


def markdown(results):
    lines = ["# kholmes benchmark", "",
             "Measured by `make bench` in qemu under software emulation (TCG, 2 vCPUs): the ratios,",
             "measured side by side in one run, are the result; absolute times are not those of",
             "hardware. Re-run: `make bench` (or `KHM_BENCH_KERNELS=<release> make bench`).", ""]
    for kernel, r in results.items():
        lines += [f"## {kernel}", "", "### Sampling cost per pass, against pidstat", "",
                  "| threads | tasks | kholmes CPU s/sample | ns/task | pidstat -u -r -w -t CPU s/sample | ns/task | pidstat / kholmes |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for total in ("1000", "10000"):
            s = r["sampling-" + total]
            lines.append(f"| {total} | {fmt(s['tasks'], digits=0)} | {fmt(s['module_cpu_s_per_sample'], digits=5)} | "
                         f"{fmt(s['module_ns_per_task'], digits=0)} | {fmt(s['pidstat_cpu_s_per_sample'], digits=4)} | "
                         f"{fmt(s['pidstat_ns_per_task'], digits=0)} | {fmt(s['pidstat_over_module'], 'x', 1)} |")
        lines += ["", "### Overhead on a job (median, min-max of runs; ratio of medians to unloaded)", "",
                  f"With {fmt(r['overhead_tasks'], '', 0)} tasks on the host for the module to sample; "
                  "the three settings alternate, one run of each per round.", "",
                  "| job | unloaded ms | loaded 1000 ms | ratio | paired | loaded 100 ms | ratio | paired |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]

        def cell(o, key):
            lo, hi = o[key + "_spread_ms"]
            return f"{fmt(o[key + '_ms'])} ({fmt(lo, '', 0)}-{fmt(hi, '', 0)})"
        for job, o in r["overhead"].items():
            lines.append(f"| {job} ({o['runs']} runs) | {cell(o, 'unloaded')} | {cell(o, '1000ms')} | "
                         f"{fmt(o['1000ms_ratio'], '', 3)} | {fmt(o['1000ms_paired_ratio'], '', 3)} | "
                         f"{cell(o, '100ms')} | {fmt(o['100ms_ratio'], '', 3)} | "
                         f"{fmt(o['100ms_paired_ratio'], '', 3)} |")
        lines += ["", "ratio: median loaded over median unloaded; paired: the median over rounds of "
                  "each loaded run over the unloaded run of the same round."]
        lines += ["", "### Detection latency: spin start to capture file on disk", "",
                  "| interval | trials | median ms | p90 ms | max ms | target ms | within target |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for iv, l in r["latency"].items():
            lines.append(f"| {iv} ms | {l['trials']} | {fmt(l['median_ms'], '', 0)} | {fmt(l['p90_ms'], '', 0)} | "
                         f"{fmt(l['max_ms'], '', 0)} | {l['target_ms']} | {l['within_target']} |")
        c, m, p = r["capture"], r["memory"], r["profile"]
        lines += ["", "### Capture, memory, profile", "",
                  f"- capture of a 64-thread process: {fmt(c['capture_ms'])} ms in the module, "
                  f"{fmt(c['bytes_per_capture'], ' bytes', 0)} per capture",
                  f"- a spinning target's longest stall: {fmt(c['target_longest_gap_alone_ms'])} ms alone, "
                  f"{fmt(c['target_longest_gap_control_ms'])} ms beside 5 runs of kholmesctl status (control), "
                  f"{fmt(c['target_longest_gap_captured_ms'])} ms while captured 5 times",
                  f"- memory: {fmt(m['bytes_per_tracked_process'], ' bytes', 0)} per tracked process "
                  f"at {fmt(m['tracked'], '', 0)} tracked",
                  f"- a pass over 5,000 idle threads at 100 ms: {fmt(r['threads_5000']['pass_mean_us'], ' us', 0)} "
                  f"mean, {fmt(r['threads_5000']['pass_max_us'], ' us', 0)} max "
                  f"({fmt(r['threads_5000']['tasks'], '', 0)} tasks visited)",
                  f"- profile: {fmt(p['handler_ns_per_sample'], ' ns', 0)} per sample with an 8 KiB stack copy "
                  f"({fmt(p['handler_ns_per_sample_fp_only'], ' ns', 0)} walking frame pointers only), "
                  f"{fmt(p['cpu_percent_at_99hz'], ' %', 4)} of one CPU at 99 Hz; profiled job "
                  f"{fmt(p['job_slowdown'], 'x', 3)} its unprofiled time"]
        q = r["perf_record"]
        if q:
            lines.append(f"- `perf record -F 99 -g` of the same job: {fmt(q['samples'], '', 0)} samples, "
                         f"job {fmt(q['job_slowdown'], 'x', 3)} its unrecorded time; perf's own CPU "
                         f"{fmt(q['own_cpu_ms'], ' ms', 0)} in all, of which "
                         f"{fmt(q['start_cpu_ms'], ' ms', 0)} is what it takes around a job of no length "
                         f"(kholmes' profile: {fmt(p['handler_ns_per_sample'] and p['handler_ns_per_sample'] * p['samples'] / 3e6, ' ms', 1)} "
                         f"per profile, in its sample handler)")
        else:
            lines.append("- `perf record`: not compared, no perf in the VM image (install linux-perf)")
        lines.append("")
    return "\n".join(lines) + "\n"


def main():
    raw, out_json, out_md = sys.argv[1:4]
    data = load(raw)
    results = {k: summarize(v) for k, v in data.items()}
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump({"kernels": results, "raw": data}, f, indent=1, sort_keys=True)
    with open(out_md, "w", encoding="utf-8") as f:
        f.write(markdown(results))


if __name__ == "__main__":
    main()
