"""bench/suite.py - `tach gen` + `ninja test` against pytest, in one run.

    /usr/bin/python3 bench/suite.py [--repeat 3] [--kind trivial|realistic|both]

Two generated suites of 500 tests in 10 files whose module imports a dozen
stdlib packages: "trivial" (each test one assert) and "realistic" (each
test a JSON round trip of 7,000 records, ~5 ms of work). For each, best of
REPEAT, contenders interleaved:

  pytest, pytest --forked, pytest -n 2   (Debian's python3 with the plugins)
  tach, ninja -j2, fork per test         `ninja test` after removing the
                                         results, every test in a process
                                         of its own (TACH_HV_RESET=0), the
                                         zygote running
  tach, ninja -j2, no headroom           workers without their headroom
                                         (TACH_HV_HEADROOM=0)
  tach, ninja -j2 (zygote running)       the same with workers reset after
                                         each test (the default)
  tach, ninja -j2 (cold)                 the same with the zygote stopped

then, on the trivial suite: `ninja test` with nothing to do (the summary
only), and after editing one test file (its 50 tests rerun), each next to
the time of those 50 tests alone.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TACH = os.path.join(TOP, "build", "tach")
IMPORTS = ("json, re, os, sys, collections, itertools, functools, datetime, "
           "decimal, fractions, pathlib, typing")
REALISTIC = '''
RECORDS = [{"id": i, "name": "item%d" % i, "tags": ["a", "b"], "price": i * 0.5}
           for i in range(7000)]


def work():
    return json.loads(json.dumps(RECORDS))
'''


def write_suite(root, kind, files=10, per_file=50):
    os.makedirs(root)
    for f in range(files):
        with open(os.path.join(root, "test_m%d.py" % f), "w") as fh:
            fh.write("import %s\n" % IMPORTS)
            if kind == "realistic":
                fh.write(REALISTIC)
            fh.write("\n")
            for t in range(per_file):
                body = ("    assert len(work()) == 7000\n" if kind == "realistic"
                        else "    assert %d + 1 == %d\n" % (t, t + 1))
                fh.write("def test_%d():\n%s\n" % (t, body))


def timed(cmd, cwd, check=True):
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    dt = time.perf_counter() - t
    if check and r.returncode != 0:
        sys.exit("bench: %s failed:\n%s" % (" ".join(cmd), r.stdout.decode()[-3000:]))
    return dt, r.stdout.decode()


def stop(root):
    subprocess.run([TACH, "hv", "stop", "--root", root], stdout=subprocess.DEVNULL)


def clean(root):
    """The last run's results, moved aside (removed with the rest at the end)
    rather than removed: on a file system that will not reuse an inode freed
    in the last 30 s (ext4 without a journal, as here), every file the next
    run makes would search past each one removed, a cost of the file
    system's that grows with every row and repeat, not of the runs."""
    t = os.path.join(root, ".tach", "t")
    if os.path.isdir(t):
        aside = tempfile.mkdtemp(prefix="results.", dir=os.path.dirname(root))
        os.rename(t, os.path.join(aside, "t"))


def suite(root, kind, repeat):
    py = sys.executable
    write_suite(root, kind)
    timed([TACH, "gen", "--root", root, "--python", py], root)
    best = {}

    def note(name, dt):
        best[name] = min(best.get(name, 1e9), dt)

    for _ in range(repeat):
        note("pytest", timed([py, "-m", "pytest", "-q", "-p", "no:cacheprovider"], root)[0])
        note("pytest --forked", timed([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--forked"], root)[0])
        note("pytest -n 2", timed([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2"], root)[0])
        # a process per test (no reset), then workers without their
        # headroom (each test maps its memory anew), each with its zygote
        # warm too: a zygote started with another environment restarts first
        for var, name in (("TACH_HV_RESET", "fork per test"), ("TACH_HV_HEADROOM", "no headroom")):
            os.environ[var] = "0"
            clean(root)
            timed(["ninja", "-j2", "test"], root)
            clean(root)
            note("tach, ninja -j2, " + name, timed(["ninja", "-j2", "test"], root)[0])
            del os.environ[var]
        clean(root)
        timed(["ninja", "-j2", "test"], root)
        clean(root)
        note("tach, ninja -j2", timed(["ninja", "-j2", "test"], root)[0])
        stop(root)
        clean(root)
        note("tach, ninja -j2, cold zygote", timed(["ninja", "-j2", "test"], root)[0])
    base, forked, xdist = best["pytest"], best["pytest --forked"], best["pytest -n 2"]
    print("\n%s suite: 500 tests in 10 files (best of %d)" % (kind, repeat))
    print("%-32s %7s %10s %10s %11s" % ("", "wall s", "vs pytest", "vs -n 2", "vs --forked"))
    for name, dt in best.items():
        print("%-32s %7.2f %9.2fx %9.2fx %10.2fx" % (name, dt, dt / base, dt / xdist, forked / dt))


def incremental(root, repeat):
    noop = min(timed(["ninja", "-j2", "test"], root)[0] for _ in range(repeat))
    out = timed(["ninja", "-j2", "test"], root)[1]
    ran = out.count(" TEST ")
    with open(os.path.join(root, ".tach", "tests.list")) as fh:
        stamps = [line.split("\t")[0][:-len(".json")] + ".ok" for line in fh
                  if "\ttest_m3.py::" in line]
    rerun, edit = [], []
    path = os.path.join(root, "test_m3.py")
    for i in range(repeat):
        # the same 50 tests without an edit (their stamps removed) ...
        for st in stamps:
            os.unlink(os.path.join(root, st))
        dt, out = timed(["ninja", "-j2", "test"], root)
        rerun.append((dt, out.count(" TEST ")))
        # ... and after an edit of their file (the manifest regenerates)
        with open(path, "a") as fh:
            fh.write("\n# edit %d\n" % i)
        dt, out = timed(["ninja", "-j2", "test"], root)
        edit.append((dt, out.count(" TEST ")))
    print("\nno-op `ninja test`: %.0f ms (%d tests ran)" % (noop * 1000, ran))
    print("one test file's 50 tests rerun: %.2f s without an edit (%d ran), %.2f s after editing "
          "the file (%d ran): the edit costs %.0f ms" % (min(rerun)[0], min(rerun)[1], min(edit)[0],
                                                       min(edit)[1], (min(edit)[0] - min(rerun)[0]) * 1000))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--kind", default="both", choices=("trivial", "realistic", "both"))
    a = ap.parse_args()
    os.environ["TACH_HV_IDLE"] = "120"
    tmp = tempfile.mkdtemp(prefix="tach-suite-bench.")
    roots = []
    try:
        for kind in ("trivial", "realistic"):
            if a.kind not in (kind, "both"):
                continue
            root = os.path.join(tmp, kind)
            roots.append(root)
            suite(root, kind, a.repeat)
            if kind == "trivial":
                incremental(root, a.repeat)
            stop(root)
    finally:
        for r in roots:
            stop(r)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
