"""bench/where.py - where the CPU of a trivial test goes under `ninja test`.

    /usr/bin/python3 bench/where.py [--repeat 3] [-j 2]

Generates bench/suite.py's trivial suite (500 one-assert tests in 10
files), runs `ninja -jJ test` with the zygote warm (twice first), and
reports for the best of REPEAT runs the machine's busy CPU a test and the
share of each kind of tach-hv process (from /proc/PID/stat, read before
and after the run): the base zygote, the sub-zygotes, the test processes
(workers, with their twins). What is left is everything else: ninja,
/bin/sh and tach-run for every edge, the kernel's work for them.

Two costs of this machine are measured beside it, since they bound that
rest: starting `/bin/sh -c 'exec /bin/true'` (what ninja does for an edge
before tach-run runs) and a one-byte round trip between two processes on
a socket, each on any CPU and both pinned to one.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "bench"))
import suite  # noqa: E402  (the suite's generator)

TACH = os.path.join(TOP, "build", "tach")
TICK = os.sysconf("SC_CLK_TCK")


def busy():
    """The machine's busy CPU seconds so far."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / TICK


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def cpu(pid):
    """A process's user and system CPU seconds, 0 when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            v = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(v[11]) + int(v[12])) / TICK


def census(root):
    """CPU seconds so far of the base zygote, its sub-zygotes, and their
    test processes and what those started, by pid."""
    try:
        with open(os.path.join(root, ".tach", "hv.pid")) as f:
            base = int(f.read())
    except OSError:
        return {}  # no zygote yet
    kinds = {base: "base"}
    for sub in children(base):
        kinds[sub] = "sub-zygotes"
        todo = children(sub)
        while todo:
            p = todo.pop()
            kinds[p] = "test processes"
            todo += children(p)
    return {p: (k, cpu(p)) for p, k in kinds.items()}


def run(root, jobs):
    t = os.path.join(root, ".tach", "t")
    if os.path.isdir(t):
        # moved aside, not removed (see bench/suite.py's clean())
        os.rename(t, tempfile.mkdtemp(prefix="results.", dir=os.path.dirname(root)) + "/t")
    before, b0, t0 = census(root), busy(), time.perf_counter()
    subprocess.run(["ninja", "-j%d" % jobs, "test"], cwd=root, stdout=subprocess.DEVNULL, check=False)
    wall, used, after = time.perf_counter() - t0, busy() - b0, census(root)
    by = {}
    for p, (k, c) in after.items():
        # a process started during the run counts from 0
        by[k] = by.get(k, 0.0) + c - (before[p][1] if p in before else 0.0)
    return wall, used, by


def spawn_cost(n=500):
    argv = ["/bin/sh", "-c", "exec /bin/true"]
    t = time.perf_counter()
    for _ in range(n):
        os.waitpid(os.posix_spawn("/bin/sh", argv, os.environ), 0)
    return (time.perf_counter() - t) / n


def round_trip(n=5000, cpu_=None):
    a, b = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        if cpu_ is not None:
            os.sched_setaffinity(0, {cpu_})
        a.close()
        for _ in range(n):
            b.send(b.recv(1))
        os._exit(0)
    b.close()
    mask = os.sched_getaffinity(0)
    if cpu_ is not None:
        os.sched_setaffinity(0, {cpu_})
    t = time.perf_counter()
    for _ in range(n):
        a.send(b"x")
        a.recv(1)
    dt = (time.perf_counter() - t) / n
    os.sched_setaffinity(0, mask)
    os.waitpid(pid, 0)
    a.close()
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("-j", type=int, default=2)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tach-where-bench.")
    root = os.path.join(tmp, "trivial")
    try:
        suite.write_suite(root, "trivial")
        subprocess.run([TACH, "gen", "--root", root, "--python", sys.executable], check=True,
                       stdout=subprocess.DEVNULL)
        for _ in range(2):
            run(root, a.j)
        best = min((run(root, a.j) for _ in range(a.repeat)), key=lambda r: r[0])
        wall, used, by = best
        n = 500
        print("trivial suite, warm zygote, ninja -j%d, best of %d: %.2f s, %.2f ms of busy CPU a test"
              % (a.j, a.repeat, wall, used / n * 1000))
        rest = used
        for k in ("test processes", "sub-zygotes", "base"):
            c = by.get(k, 0.0)
            rest -= c
            print("  %-40s %5.2f ms a test (%2.0f%%)" % (k, c / n * 1000, 100 * c / used))
        print("  %-40s %5.2f ms a test (%2.0f%%)" % ("the rest: ninja, sh, tach-run, kernel",
                                                   rest / n * 1000, 100 * rest / used))
        print("starting /bin/sh -c 'exec /bin/true': %.2f ms" % (spawn_cost() * 1000))
        print("a one-byte round trip between two processes: %.1f us, %.1f us both on CPU 0"
              % (round_trip() * 1e6, round_trip(cpu_=0) * 1e6))
    finally:
        subprocess.run([TACH, "hv", "stop", "--root", root], stdout=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
