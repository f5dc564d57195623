"""bench/realsuites_compare.py - compare plain pytest with tach on real suites.

    /usr/bin/python3 bench/realsuites_compare.py SUITE_OUT_DIR...

Reads what bench/realsuites.sh left in each SUITE_OUT_DIR (meta.txt,
collect.json/.txt, pytest.json/.txt, results.json, tach.txt) and prints, per
suite: what pytest collected and deselected, how many cases tach reported,
the differences by class (missing, extra, different outcome) with node ids,
the hypervisor share and the wall times; then one machine-readable line per
suite (`realsuite {json}`). Stdlib only; always exits 0.

Outcome mapping (pytest -> tach's words): passed, failed, skipped, xfailed
as they are; a non-strict XPASS is `passed` (a strict one is already a
failed call in pytest); a setup or teardown failure is `error`. tach's
crashed and timeout are failed-ish: against a pytest failure or error they
are listed, but as a "failed-ish" difference, not a disagreement on whether
the test passes.
"""

import json
import os
import re
import sys
from collections import Counter

CAP = 30
FAILISH = {"failed", "error", "crashed", "timeout"}
PYTEST_TO_TACH = {"passed": "passed", "failed": "failed", "skipped": "skipped",
                  "xfailed": "xfailed", "xpassed": "passed", "error": "error"}
SUMMARY_RE = re.compile(
    r"(\d+) (passed|failed|skipped|xfailed|xpassed|errors?|warnings?|deselected"
    r"|rerun)")
RA_RE = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS|SKIPPED) ")


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def read_meta(sd):
    meta = {}
    for line in read_text(os.path.join(sd, "meta.txt")).splitlines():
        k, _, v = line.partition("=")
        meta[k] = v
    return meta


def fnum(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def pytest_totals(text):
    """The counts on pytest's closing line ('=== 1 failed, 185 passed in 1.6s ===')."""
    for line in reversed(text.splitlines()):
        s = line.strip().strip("=").strip()
        if re.search(r"\bin [\d.]+s\b", s) and SUMMARY_RE.search(s) or \
                s.startswith("no tests ran"):
            tot = {}
            for n, word in SUMMARY_RE.findall(s):
                word = {"errors": "error", "warnings": "warning"}.get(word, word)
                tot[word] = int(n)
            return tot, s
    return {}, ""


def collect_text_ids(text):
    """Node ids from `--collect-only -q` output, and pytest's collected line."""
    ids, line_out = [], ""
    for line in text.splitlines():
        if not line.strip():
            break
        if "::" in line or line.endswith(".py") or line.endswith(".rst"):
            ids.append(line.strip())
    for line in reversed(text.splitlines()):
        if "collected" in line or "no tests" in line:
            line_out = line.strip().strip("=").strip()
            break
    return ids, line_out


def ra_counts(text):
    """Counts of -rA short-summary lines by word (SKIPPED counts the [N])."""
    c = Counter()
    in_summary = False
    for line in text.splitlines():
        if "short test summary info" in line:
            in_summary = True
            continue
        if not in_summary:
            continue
        m = RA_RE.match(line)
        if not m:
            continue
        word = m.group(1)
        if word == "SKIPPED":
            k = re.match(r"SKIPPED \[(\d+)\]", line)
            c[word] += int(k.group(1)) if k else 1
        else:
            c[word] += 1
    return c


def show(title, rows, out):
    out.append("  %s: %d" % (title, len(rows)))
    for r in rows[:CAP]:
        out.append("    " + r)
    if len(rows) > CAP:
        out.append("    ... and %d more" % (len(rows) - CAP))


def tail(text, n):
    lines = [l for l in text.splitlines() if l.strip()]
    return lines[-n:]


def compare(sd):
    meta = read_meta(sd)
    name = meta.get("name", os.path.basename(sd))
    out = ["", "=" * 78, "%s  (%s)" % (name, meta.get("dir", sd)), "=" * 78]
    if meta.get("env"):
        out.append("env: " + meta["env"])
    if meta.get("pytest_args"):
        out.append("pytest args: " + meta["pytest_args"])

    coll = load_json(os.path.join(sd, "collect.json")) or {}
    run = load_json(os.path.join(sd, "pytest.json")) or {}
    ctext = read_text(os.path.join(sd, "collect.txt"))
    ptext = read_text(os.path.join(sd, "pytest.txt"))
    ttext = read_text(os.path.join(sd, "tach.txt"))
    tres = load_json(os.path.join(sd, "results.json"))
    partial = False
    if tres is None:
        tres = load_json(os.path.join(sd, "results.partial.json"))
        partial = tres is not None

    # --- pytest's collection
    collected = coll.get("collected")
    text_ids, collected_line = collect_text_ids(ctext)
    if collected is None:                       # probe missing: fall back
        collected = run.get("collected") or text_ids
        out.append("note: collect-only probe output missing; node ids from text")
    deselected = coll.get("deselected", [])
    run_collected = run.get("collected")
    cerrs = coll.get("collect_errors", []) or run.get("collect_errors", [])
    cskips = coll.get("collect_skipped", []) or run.get("collect_skipped", [])
    results = run.get("results", {})
    ptot, pline = pytest_totals(ptext)

    out.append("pytest: collected %d items (%d after deselection, %d deselected), "
               "collection errors %d, module-level skips %d  (collect-only rc=%s: %s)"
               % (len(collected) + len(deselected), len(collected), len(deselected),
                  len(cerrs), len(cskips), meta.get("collect_rc", "?"),
                  collected_line or "-"))
    if text_ids and len(text_ids) != len(collected):
        out.append("  note: collect-only text lists %d ids, the probe %d"
                   % (len(text_ids), len(collected)))
    if run_collected is not None and set(run_collected) != set(collected):
        out.append("  note: the timed run collected %d items (collect-only %d)"
                   % (len(run_collected), len(collected)))
    out.append("pytest run: rc=%s, %s" % (meta.get("pytest_rc", "?"), pline or "(no closing line)"))
    pcount = Counter(r.get("outcome") for r in results.values())
    out.append("  per item (probe): " + ", ".join(
        "%d %s" % (n, o) for o, n in sorted(pcount.items())))
    ra = ra_counts(ptext)
    if ra:
        # -rA's ERROR lines also name collection errors, and a teardown
        # error after a failed call (FAILED and ERROR for one item)
        tderr = sum(1 for r in results.values() if r.get("teardown_error"))
        checks = [("PASSED", pcount["passed"]), ("FAILED", pcount["failed"]),
                  ("ERROR", pcount["error"] + len(cerrs) + tderr),
                  ("XFAIL", pcount["xfailed"]), ("XPASS", pcount["xpassed"])]
        bad = ["%s -rA %d vs probe %d" % (w, ra[w], n) for w, n in checks
               if ra[w] != n]
        if bad:
            out.append("  note: -rA cross-check: " + "; ".join(bad))
    for e in cerrs[:CAP]:
        out.append("  collection error: %s: %s" % (e["nodeid"], e["message"]))
    if len(cerrs) > CAP:
        out.append("  ... and %d more collection errors" % (len(cerrs) - CAP))

    # --- tach
    summary = {"suite": name, "collected": len(collected),
               "deselected": len(deselected), "collect_errors": len(cerrs),
               "pytest_wall_s": fnum(meta.get("pytest_wall")),
               "tach_wall_s": fnum(meta.get("tach_wall")),
               "pytest_outcomes": dict(pcount)}
    if meta.get("tach_skipped"):
        out.append("tach: not run (%s)" % meta["tach_skipped"])
        summary["tach"] = "not run"
        return out, summary
    tests = (tres or {}).get("tests") if isinstance(tres, dict) else None
    if tests is None:
        out.append("tach: no results.json (gen rc=%s, ninja rc=%s); last lines:"
                   % (meta.get("gen_rc", "?"), meta.get("ninja_rc", "?")))
        out.extend("  | " + l for l in tail(ttext, 15))
        summary["tach"] = "no results"
        summary["tach_gen_rc"] = meta.get("gen_rc")
        return out, summary

    tcount = Counter(t.get("outcome") for t in tests)
    modes = Counter(t.get("mode") for t in tests)
    tach_line = ""
    for l in reversed(ttext.splitlines()):
        if re.search(r"\d+ passed, \d+ failed", l):
            tach_line = l.strip()
            break
    out.append("tach: %d cases, gen rc=%s, ninja rc=%s, summary: %s"
               % (len(tests), meta.get("gen_rc"), meta.get("ninja_rc"),
                  tach_line or "-"))
    if partial:
        out.append("  PARTIAL: no results.json (ninja rc=%s, 124 = timed out);"
                   " cases merged from .tach/t/*.json, so 'missing' includes"
                   " tests never reached" % meta.get("ninja_rc"))
    out.append("  outcomes: " + ", ".join("%d %s" % (n, o) for o, n in sorted(tcount.items())))
    hv = modes.get("hypervisor", 0)
    share = 100.0 * hv / len(tests) if tests else 0.0
    out.append("  modes: " + ", ".join("%d %s" % (n, m) for m, n in sorted(modes.items()))
               + "  -> hypervisor share %.1f%%" % share)

    tach = {}
    dups = Counter()
    for t in tests:
        nid = t.get("nodeid")
        if nid in tach:
            dups[nid] += 1
        tach[nid] = t
    if dups:
        show("duplicate node ids in results.json", sorted(dups), out)

    cset = set(collected)
    dset = set(deselected)
    errset = {e["nodeid"] for e in cerrs}
    skipset = {e["nodeid"] for e in cskips}

    missing = []
    for nid in collected:
        if nid not in tach:
            po = results.get(nid, {}).get("outcome", "not run")
            missing.append("%s  (pytest: %s)" % (nid, po))
    extra, extra_desel, both_err, both_skip = [], [], [], []
    for nid, t in tach.items():
        if nid in cset:
            continue
        o = t.get("outcome")
        msg = (t.get("message") or "").strip().splitlines()
        msg = (" - " + msg[-1][:160]) if msg else ""
        row = "%s  (tach: %s, %s)%s" % (nid, o, t.get("mode"), msg)
        if nid in dset:
            extra_desel.append(row)
        elif nid in errset:
            both_err.append(row)
        elif nid in skipset:
            both_skip.append(row)
        else:
            extra.append(row)

    different, failish = [], []
    pairs = Counter()
    for nid in collected:
        t = tach.get(nid)
        r = results.get(nid)
        if t is None or r is None:
            continue
        po = PYTEST_TO_TACH.get(r.get("outcome"), r.get("outcome"))
        to = t.get("outcome")
        if po == to:
            continue
        pairs["%s->%s" % (r.get("outcome"), to)] += 1
        tmsg = (t.get("message") or "").strip().splitlines()
        tmsg = tmsg[-1][:160] if tmsg else ""
        row = "%s  pytest %s, tach %s (%s)%s" % (
            nid, r.get("outcome"), to, t.get("mode"),
            (" - " + tmsg) if tmsg else "")
        if po in FAILISH and to in FAILISH:
            failish.append(row)
        else:
            different.append(row)
    notrun = [nid for nid in collected if nid in tach and nid not in results]

    out.append("differences:")
    show("missing (collected by pytest, not reported by tach)", missing, out)
    show("extra (reported by tach, not collected by pytest)", extra, out)
    if extra_desel:
        show("extra, deselected by pytest", extra_desel, out)
    if both_err:
        show("pytest collection errors that tach reports as a case", both_err, out)
    unseen_err = ["%s: %s" % (e["nodeid"], e["message"][:160]) for e in cerrs
                  if e["nodeid"] not in tach]
    if unseen_err:
        show("pytest collection errors with no tach case of that id",
             unseen_err, out)
    if both_skip:
        show("pytest module-level skips that tach reports as a case", both_skip, out)
    show("different outcome", different, out)
    if failish:
        show("different but failed-ish on both sides", failish, out)
    if notrun:
        show("collected but not run by pytest (interrupted?)", notrun, out)
    if pairs:
        out.append("  outcome pairs pytest->tach: " + ", ".join(
            "%s %d" % (k, v) for k, v in pairs.most_common()))

    pw, tw = fnum(meta.get("pytest_wall")), fnum(meta.get("tach_wall"))
    ratio = (tw / pw) if pw and tw else None
    out.append("wall: pytest %s s, tach (gen + ninja test, cold) %s s, tach/pytest %s"
               % ("%.2f" % pw if pw is not None else "?",
                  "%.2f" % tw if tw is not None else "?",
                  "%.2fx" % ratio if ratio else "?"))

    summary.update({
        "tach_cases": len(tests), "tach_outcomes": dict(tcount),
        "hypervisor_share": round(share / 100.0, 4),
        "missing": len(missing), "extra": len(extra),
        "extra_deselected": len(extra_desel),
        "collect_error_cases": len(both_err), "module_skip_cases": len(both_skip),
        "collect_errors_unseen": len(unseen_err),
        "different": len(different), "different_failish": len(failish),
        "ratio_tach_over_pytest": round(ratio, 3) if ratio else None,
        "gen_rc": meta.get("gen_rc"), "ninja_rc": meta.get("ninja_rc"),
        "tach_partial": partial,
    })
    return out, summary


def main(argv):
    if not argv:
        print(__doc__.strip())
        return 0
    summaries = []
    for sd in argv:
        try:
            lines, summary = compare(sd)
        except Exception as e:  # one broken suite must not hide the others
            lines = ["", "%s: compare failed: %r" % (sd, e)]
            summary = {"suite": os.path.basename(sd), "error": repr(e)}
        print("\n".join(lines))
        summaries.append(summary)
    print()
    for s in summaries:
        print("realsuite " + json.dumps(s, sort_keys=True))
    return 0


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except BrokenPipeError:
        pass
    sys.exit(0)
