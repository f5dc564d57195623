"""bench/hv.py - the hypervisor runtime against pytest, in one run.

    /usr/bin/python3 bench/hv.py [--tests-per-file 50] [--files 10] [--repeat 3]

Writes a suite of FILES x TESTS trivial tests whose modules import a dozen
stdlib packages into a temporary directory and measures, best of REPEAT:

  per test   tach-run --mode hypervisor on one trivial test, client start to
             result written, sequentially: "idle" with 50 ms between tests
             (the sub-zygote has a worker ready), "back to back" without;
             with workers reset after each test (the default) and with a
             process forked per test (TACH_HV_RESET=0); the cost of
             starting a process from this driver (/bin/true) is measured
             alongside and reported apart.
  suite      the whole suite: pytest; pytest --forked; pytest -n 2; and
             tach-run --mode hypervisor for every test through ninja -j 2
             (one edge per test, as a generated manifest has it), with the
             zygote already running ("warm") and started by the first test
             ("cold").

Needs Debian's python3 with pytest, pytest-forked and pytest-xdist, ninja,
and a built tree (build/tach-run, build/tach-hv).
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(TOP, "build", "tach-run")
TACH = os.path.join(TOP, "build", "tach")
IMPORTS = ("json, re, os, sys, collections, itertools, functools, datetime, "
           "decimal, fractions, pathlib, typing")


def write_suite(root, files, per_file):
    nodeids = []
    for f in range(files):
        name = "test_m%d.py" % f
        with open(os.path.join(root, name), "w") as fh:
            fh.write("import %s\n\n" % IMPORTS)
            for t in range(per_file):
                fh.write("def test_%d():\n    assert %d + 1 == %d\n\n" % (t, t, t + 1))
                nodeids.append("%s::test_%d" % (name, t))
    return nodeids


def write_manifest(root, nodeids):
    lines = ["rule t",
             "  command = %s --mode hypervisor --root %s --python %s --result $out $id > /dev/null"
             % (RUN, root, sys.executable),
             "  description = TEST $id", ""]
    for i, n in enumerate(nodeids):
        lines.append("build .tach/r/%d.json: t" % i)
        lines.append("  id = %s" % n)
    with open(os.path.join(root, "build.ninja"), "w") as fh:
        fh.write("\n".join(lines) + "\n")


def wall(cmd, cwd, setup=None):
    if setup:
        setup()
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit("bench: %s failed:\n%s" % (" ".join(cmd), r.stderr.decode()[-2000:]))
    return dt


def stop(root):
    subprocess.run([TACH, "hv", "stop", "--root", root], stdout=subprocess.DEVNULL)


def per_test(root, nodeids, n, pause):
    cmd = [RUN, "--mode", "hypervisor", "--root", root, "--python", sys.executable,
           "--result", os.path.join(root, ".tach", "one.json")]
    subprocess.run(cmd + [nodeids[0]], check=True, stdout=subprocess.DEVNULL)
    ts = []
    for i in range(n):
        if pause:
            time.sleep(pause)
        t = time.perf_counter()
        subprocess.run(cmd + [nodeids[i % 50]], close_fds=False, check=True)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000


def spawn_cost(n):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(["/bin/true"], close_fds=False)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--tests-per-file", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tach-hv-bench.")
    root = os.path.join(tmp, "suite")
    os.mkdir(root)
    try:
        nodeids = write_suite(root, a.files, a.tests_per_file)
        write_manifest(root, nodeids)
        os.environ["TACH_HV_IDLE"] = "120"
        n = len(nodeids)
        print("suite: %d files x %d tests (%d), imports %s" % (a.files, a.tests_per_file, n, IMPORTS))

        spawn = spawn_cost(200)
        print("per test (median of 200, best of %d); starting /bin/true from here costs %.2f ms"
              % (a.repeat, spawn))
        for label, reset in (("workers, reset after each test", None),
                             ("a process per test (TACH_HV_RESET=0)", "0")):
            if reset is None:
                os.environ.pop("TACH_HV_RESET", None)
            else:
                os.environ["TACH_HV_RESET"] = reset
            idle = min(per_test(root, nodeids, 200, 0.05) for _ in range(a.repeat))
            b2b = min(per_test(root, nodeids, 200, 0) for _ in range(a.repeat))
            print("  %-40s idle %.2f ms, back to back %.2f ms" % (label, idle, b2b))
        os.environ.pop("TACH_HV_RESET", None)
        # a worker's own cost between two tests: its reset, as it logs it
        # under TACH_HV_VERIFY=2 (the comparison that follows is not timed)
        os.environ["TACH_HV_VERIFY"] = "2"
        stop(root)
        log = os.path.join(root, ".tach", "hv.log")
        per_test(root, nodeids, 200, 0)
        resets, pages = [], []
        with open(log, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                m = re.search(r": reset after .*: (\d+) pages, \d+ mappings, ([\d.]+) ms", line)
                if m:
                    pages.append(int(m.group(1)))
                    resets.append(float(m.group(2)))
        del os.environ["TACH_HV_VERIFY"]
        stop(root)
        if resets:
            print("  a worker's reset (median of %d): %.3f ms, %d pages copied back"
                  % (len(resets), statistics.median(resets), statistics.median(pages)))

        py = sys.executable
        results = {}

        def best(name, cmd, setup=None):
            results[name] = min(wall(cmd, root, setup) for _ in range(a.repeat))

        def clean():
            # moved aside, not removed (see bench/suite.py, clean)
            r = os.path.join(root, ".tach", "r")
            if os.path.isdir(r):
                os.rename(r, tempfile.mkdtemp(prefix="results.", dir=os.path.dirname(root)) + "/r")

        def cold():
            stop(root)
            clean()

        for r in range(a.repeat):
            # interleaved so that drift hits every contender alike
            for name, cmd, setup in (
                    ("pytest", [py, "-m", "pytest", "-q", "-p", "no:cacheprovider"], None),
                    ("pytest --forked", [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--forked"], None),
                    ("pytest -n 2", [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2"], None),
                    ("tach hypervisor, ninja -j2, warm", ["ninja", "-j2"], clean),
                    ("tach hypervisor, ninja -j2, cold", ["ninja", "-j2"], cold)):
                dt = wall(cmd, root, setup)
                results[name] = min(results.get(name, 1e9), dt)
        base = results["pytest"]
        forked = results["pytest --forked"]
        print("%-36s %8s %10s %12s" % ("suite (best of %d)" % a.repeat, "wall s", "vs pytest", "vs --forked"))
        for name, dt in results.items():
            print("%-36s %8.2f %9.2fx %11.2fx" % (name, dt, dt / base, forked / dt))
    finally:
        stop(root)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
