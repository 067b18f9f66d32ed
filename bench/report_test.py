#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Host tests of bench/report.py (run by `make bench-build`, so before
every `make bench`): pairs by round id (a pass with the floor walk
after it too), nearest-rank percentiles, a missed
latency trial counted as the longest, a missing measurement failing
the report, a flight recorder figure judged only where it resolves, a
difference of CPU times printed only where it resolves, and
which earlier kernels keep their column."""

import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402


def raw(lines):
    f = tempfile.NamedTemporaryFile("w", suffix=".lines", delete=False)
    f.write("\n".join(lines) + "\n")
    f.close()
    return f.name


class Pairing(unittest.TestCase):
    def test_pairs_by_round_not_position(self):
        # round 1's loaded run is missing: by list position every later
        # pair would be off by one (1.0 against 2.0 and so on)
        lines = [f"k overhead-off cpu-ns {100 * (r + 1)} r{r}" for r in range(4)]
        lines += [f"k overhead-1000 cpu-ns {101 * (r + 1)} r{r}" for r in (0, 2, 3)]
        d = report.load(raw(lines))["k"]
        p = report.paired(d, "overhead-1000", "overhead-off", "cpu-ns")
        self.assertEqual(p["n"], 3)
        self.assertAlmostEqual(p["min"], 1.01)
        self.assertAlmostEqual(p["max"], 1.01)

    def test_round_tag_is_not_part_of_value(self):
        d = report.load(raw(["k latency-1000 ns 1234 r7"]))["k"]
        self.assertEqual(report.vals(d, "latency-1000", "ns"), [1234.0])
        self.assertEqual(report.tagged(d, "latency-1000", "ns"), {"r7": 1234.0})

    def test_pass_pairs_with_its_floor_walk(self):
        # pass r1's floor walk is missing: by position pass r2 would be
        # paired with r3's walk, which the VM ran at half the speed
        lines = ["k sampling-1000 module-pass-ns 3000 r0", "k sampling-1000 floor-ns 1000 r0",
                 "k sampling-1000 module-pass-ns 3000 r1",
                 "k sampling-1000 module-pass-ns 2000 r2", "k sampling-1000 floor-ns 1000 r2",
                 "k sampling-1000 module-pass-ns 4000 r3", "k sampling-1000 floor-ns 2000 r3"]
        lines += [f"k sampling-1000 floor-tasks 10 r{r}" for r in range(4)]
        d = report.load(raw(lines))["k"]
        self.assertEqual(report.floor_pairs(d, "sampling-1000", 10), [3.0, 2.0, 2.0])


class ByJob(unittest.TestCase):
    # the job's CPU with the profiler less the job's alone: under
    # emulation it scattered to -2,621 ms per 1,000 samples (median), and
    # the report printed perf / kholmes as -5.6x
    def test_scatter_across_zero_is_not_resolved(self):
        dd = report.dist([-2954.0, -2621.2, 1628.8])
        self.assertFalse(report.above_zero(dd))
        self.assertTrue(report.by_job(dd).startswith("not resolved ("))

    def test_resolved_difference_is_shown(self):
        dd = report.dist([1600.0, 1695.0, 1706.5])
        self.assertTrue(report.above_zero(dd))
        self.assertEqual(report.by_job(dd), "1,695.0 (1,600.0 to 1,706.5)")


class Percentiles(unittest.TestCase):
    def test_nearest_rank_of_11(self):
        xs = list(range(1, 12))
        self.assertEqual(report.pct(xs, 0.1), 2)
        self.assertEqual(report.pct(xs, 0.9), 10)
        self.assertEqual(report.dist(xs)["median"], 6)

    def test_missed_trial_is_longest(self):
        self.assertEqual(report.pct([1.0, 2.0, float("inf")], 0.9), float("inf"))


class Missing(unittest.TestCase):
    def test_missing_measurement_fails(self):
        here = os.path.dirname(os.path.abspath(__file__))
        lines = ["k meta kernel k", "k meta seed 1", "k meta rounds 1", "k meta trials 1",
                 "k meta passes 1"]
        with tempfile.TemporaryDirectory() as tmp:
            rc = subprocess.run([sys.executable, os.path.join(here, "report.py"), raw(lines),
                                 os.path.join(tmp, "r.json"), os.path.join(tmp, "r.md")],
                                capture_output=True, text=True, check=False)
        self.assertEqual(rc.returncode, 1)
        self.assertIn("missing: k: sampling-1000 kworker-idle-ns", rc.stderr)


class Verdicts(unittest.TestCase):
    @staticmethod
    def result(ratios, icount_ratios):
        d = {"flight-19": {"cpu-ns": [(100.0 * x, f"r{i}") for i, x in enumerate(ratios)]},
             "flight-0": {"cpu-ns": [(100.0, f"r{i}") for i in range(len(ratios))]}}
        p = report.paired(d, "flight-19", "flight-0", "cpu-ns")
        d = {"a": {"cpu-ns": [(100.0 * x, f"r{i}") for i, x in enumerate(icount_ratios)]},
             "b": {"cpu-ns": [(100.0, f"r{i}") for i in range(len(icount_ratios))]}}
        return {"sampling-1000": {"pidstat_over_module": 100, "pass_over_floor": 2},
                "sampling-10000": {"pidstat_over_module": 100, "pass_over_floor": 2},
                "overhead": {j: {"1000ms_paired": None, "100ms_paired": None}
                             for j in ("cpu", "fork", "ctxsw")},
                "latency": {}, "flight": {"available": True, "cpu_job_paired": p},
                "icount": {"flight": report.paired(d, "a", "b", "cpu-ns"),
                           **{j: {"1000ms_paired": None, "100ms_paired": None}
                              for j in ("cpu", "fork", "ctxsw")}}}

    def test_flight_that_scatters_is_not_judged(self):
        # 2 TCG vCPUs: a median over the aim inside a spread 20 times wider
        v = report.verdicts(self.result([0.95, 1.0, 1.026, 1.1, 1.4], [1.0004] * 5))
        self.assertIn("flight recorder not resolved to 1 % (p10 to p90 0.950 to 1.400)", v)
        self.assertIn("under -icount flight recorder 1.0004 (met, aim under 0.5 %)", v)

    def test_flight_over_its_aim_is_said(self):
        v = report.verdicts(self.result([1.02] * 5, [1.007, 1.008, 1.008, 1.009, 1.01]))
        self.assertIn("flight recorder 1.020 (NOT met, aim under 0.5 %)", v)
        self.assertIn("under -icount flight recorder 1.0080 (NOT met, aim under 0.5 %)", v)


class Keep(unittest.TestCase):
    def test_point_release_replaces_its_predecessor(self):
        old = {"6.12.117+deb12-cloud-amd64": {"commit": "a"},
               "6.12.117+deb12-rt-amd64": {"commit": "a"},
               "6.1.0-56-cloud-amd64": {"commit": "b"},
               "6.1.0-55-cloud-amd64": {}}
        new = {"6.12.118+deb12-rt-amd64": {}, "6.1.0-57-cloud-amd64": {}}
        self.assertEqual(report.kept(old, new), ["6.12.117+deb12-cloud-amd64"])

    def test_flavour(self):
        self.assertEqual(report.flavour("6.12.118+deb12-rt-amd64"), ("6.12", "rt"))
        self.assertEqual(report.flavour("6.1.0-57-cloud-amd64"), ("6.1", "cloud"))


if __name__ == "__main__":
    unittest.main()
