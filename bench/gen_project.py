#!/usr/bin/env python3
"""Writes a synthetic Python project for tach's benchmarks.

    gen_project.py DIR [--modules N] [--seed S]

N modules (default 10,000) in packages of 100, of realistic size (a few
classes and functions, 1-12 KB) and import fan-out (3-8 stdlib imports,
1-5 imports of lower layers of the project, some relative), about 0.5% directly toxic (threads,
sockets, subprocess, ctypes, dynamic imports), plus a tests/ directory with
one test module per package. The same arguments always give the same bytes.
"""
import argparse
import os
import random

STDLIB = ["os", "sys", "json", "re", "math", "collections", "itertools", "functools",
          "dataclasses", "typing", "pathlib", "datetime", "decimal", "enum", "abc",
          "hashlib", "base64", "textwrap", "string", "heapq", "bisect", "copy"]
TOXIC = ["import threading", "import socket", "import subprocess", "import ctypes",
         "from concurrent import futures", "import signal",
         "import importlib\nplugin = importlib.import_module('json')"]


def module_source(rng, pkg, idx, nmods, npkgs):
    lines = ['"""Module %d of package %d: synthetic, for benchmarks."""' % (idx, pkg)]
    for name in rng.sample(STDLIB, rng.randint(3, 8)):
        lines.append("import %s" % name)
    # layered like real code: a module imports lower layers (lower package
    # numbers, lower module numbers in its own package), so toxicity spreads
    # upwards only
    for _ in range(rng.randint(1, 5)):
        other_pkg = pkg if rng.random() < 0.6 or pkg == 0 else rng.randrange(pkg)
        if other_pkg == pkg:
            if idx == 0:
                continue
            other = rng.randrange(idx)
        else:
            other = rng.randrange(nmods)
        if other_pkg == pkg and rng.random() < 0.5:
            lines.append("from . import m%03d" % other)
        else:
            lines.append("from pkg%03d import m%03d" % (other_pkg, other))
    if rng.random() < 0.005:
        lines.append(rng.choice(TOXIC))
    lines.append("")
    for c in range(rng.randint(1, 4)):
        lines.append("\nclass Thing%d:" % c)
        lines.append('    """A thing with some behaviour."""\n')
        lines.append("    def __init__(self, value=0):")
        lines.append("        self.value = value")
        lines.append("        self.items = []")
        for m in range(rng.randint(2, 8)):
            lines.append("\n    def method_%d(self, x, y=None):" % m)
            lines.append("        if y is None:")
            lines.append("            y = [i * %d for i in range(x) if i %% 3]" % (m + 1))
            lines.append("        total = sum(y) + self.value")
            lines.append("        self.items.append({'x': x, 'total': total, 'name': \"m%d\"})" % m)
            lines.append("        return total")
    for f in range(rng.randint(1, 6)):
        lines.append("\n\ndef helper_%d(data, *, strict=False):" % f)
        lines.append("    result = {}")
        lines.append("    for key, value in sorted(data.items()):")
        lines.append("        if strict and not isinstance(value, (int, float)):")
        lines.append("            raise ValueError(f'bad value for {key!r}: {value!r}')")
        lines.append("        result[key] = value * %d" % (f + 2))
        lines.append("    return result")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--modules", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    per = 100
    npkgs = max(1, (a.modules + per - 1) // per)
    os.makedirs(os.path.join(a.dir, "tests"), exist_ok=True)
    written = 0
    for p in range(npkgs):
        d = os.path.join(a.dir, "pkg%03d" % p)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "__init__.py"), "w") as f:
            f.write('"""Package %d."""\n' % p)
        written += 1
        n = min(per, a.modules - written) if p == npkgs - 1 else per - 1
        for i in range(max(n, 0)):
            with open(os.path.join(d, "m%03d.py" % i), "w") as f:
                f.write(module_source(rng, p, i, per - 1, npkgs))
            written += 1
        with open(os.path.join(a.dir, "tests", "test_pkg%03d.py" % p), "w") as f:
            f.write("from pkg%03d import m000\n\n\ndef test_thing():\n"
                    "    assert m000.Thing0(1).method_0(3) >= 0\n" % p)
    print("wrote %d modules and %d test files under %s" % (written, npkgs, a.dir))


if __name__ == "__main__":
    main()
