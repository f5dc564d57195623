# tach_zygote - pytest's side of the hypervisor (runtime/hv_*.c). The C side
# owns the processes, sockets, sandbox and timeouts; it calls three
# functions here, each in its own process:
#
#   init(root, args)  the base zygote: configure pytest as `pytest -p
#                     tach_harness --rootdir=. ARGS` would in ROOT, start
#                     the session, then stop output capture and silence the
#                     terminal so forked processes start clean. When that
#                     fails, start_failure says why (see below).
#   collect(relpath)  a sub-zygote: collect one test file with pytest's own
#                     machinery (conftest files, hooks, parametrize, marks),
#                     unless the configuration ignores the file.
#   files()           the base zygote: the files pytest would collect in the
#                     whole session (for the manifest's edge of the files it
#                     does not plan), without importing test modules.
#   answer(spec)      a sub-zygote, for a request that selects no item: the
#                     events to send, so that no process is forked for it;
#                     None when a test process must run it.
#   prepare(), warm() a spare test process, forked before its request:
#                     set up output capture; warm pytest's protocol up
#                     when no request comes at once.
#   run(spec, fd, errfd)
#                     a test process: run the selected items through
#                     pytest's runtest protocol, reporting each case through
#                     tach_harness to descriptor fd, then return.
#
# A spec is "NODEID" (asked for directly) or "NODEID\x1fCLAIMS" (an edge of
# a manifest; CLAIMS is empty but for the first edge of a test file, which
# runs every item no edge claimed too): see tach_harness.Selection.
#
# init and collect return the files whose change makes that zygote stale:
# the project's modules imported since the previous step, plus the files
# pytest read (configuration, conftest.py, the test file).
#
# tach's own Python is never rewritten by pytest (PYTEST_DONT_REWRITE in
# each module's docstring), so a configuration that turns warnings into
# errors cannot trip over it.

"""The hypervisor's pytest side (see the comment above).

PYTEST_DONT_REWRITE
"""

import faulthandler
import gc
import json
import os
import shlex
import sys
import traceback

import tach_compat
import tach_harness

_config = None
_session = None
_items = []
_file_reports = []     # (nodeid, "error"|"skipped", message) of collectors
_deselected = []
_ignored = False
_missing = False        # the test file is not there
_root = None
_sink = None

# (message, by_project): why init() could not start pytest, and whether the
# cause lies in the project (plain pytest fails the same way)
start_failure = None

_CONFIG_FILES = ("pyproject.toml", "pytest.ini", "tox.ini", "setup.cfg", "conftest.py")


class _Recorder:
    """Keeps the collection errors of a sub-zygote for its test processes."""

    def pytest_collectreport(self, report):
        if report.failed:
            _file_reports.append((report.nodeid, "error", tach_harness._text(report)))
        elif report.skipped:
            _file_reports.append((report.nodeid, "skipped", tach_harness._text(report)))

    def pytest_deselected(self, items):
        _deselected.extend(i.nodeid for i in items)


def _project_files(before):
    """Files of modules imported since `before` that live in the project."""
    files = set()
    for name, mod in list(sys.modules.items()):
        if name in before:
            continue
        f = getattr(mod, "__file__", None)
        if not f:
            continue
        f = os.path.abspath(f)
        if f.startswith(_root + os.sep) and os.sep + "site-packages" + os.sep not in f[len(_root):]:
            files.add(f)
    return files


def files():
    """The files, relative to the root, that pytest's collection of the
    whole session makes collectors for (tach_compat.collected_files), and
    the project's files imported to find them (conftest.py files the walk
    loaded), which the base zygote watches."""
    before = set(sys.modules)
    paths = []
    for p in tach_compat.collected_files(_session):
        rel = os.path.relpath(p, _root)
        if not rel.startswith(".." + os.sep):
            paths.append(rel)
    return paths, sorted(_project_files(before))


def _failure(exc):
    """start_failure for exc: pytest's own words for a usage error, else the
    traceback. The project is the cause of a usage error (its configuration
    or options) and of anything raised from its own files (a conftest.py,
    a plugin module of its own)."""
    if isinstance(exc, tach_compat.usage_error()):
        return "ERROR: " + " ".join(str(a) for a in exc.args), True
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    by_project, e = False, exc
    while e is not None and not by_project:
        by_project = any(os.path.abspath(f.filename).startswith(_root + os.sep)
                         for f in traceback.extract_tb(e.__traceback__))
        e = e.__cause__ or e.__context__
    return text, by_project


_culprits = []


def _importing():
    """The file of the module being imported: the innermost module-level
    frame on the stack."""
    f = sys._getframe(2)
    while f is not None:
        if f.f_code.co_name == "<module>":
            return f.f_globals.get("__file__") or f.f_globals.get("__name__", "?")
        f = f.f_back
    return "?"


class _Watch:
    """While a zygote imports, notes who starts a thread or a process (what
    fork cannot survive); the C side counts what is left afterwards."""

    def __enter__(self):
        import threading
        import subprocess
        self._saved = [(threading.Thread, "start"), (subprocess.Popen, "__init__"), (os, "fork")]
        self._saved = [(o, n, getattr(o, n)) for o, n in self._saved]
        for obj, name, orig in self._saved:
            setattr(obj, name, self._wrap(orig, name))
        return self

    @staticmethod
    def _wrap(orig, name):
        kind = "thread" if name == "start" else "process"
        what = {"start": "starts a thread", "__init__": "starts a process", "fork": "forks"}[name]

        def wrapper(*a, **k):
            _culprits.append((kind, "%s %s" % (_importing(), what)))
            return orig(*a, **k)
        return wrapper

    def __exit__(self, *exc):
        for obj, name, orig in self._saved:
            setattr(obj, name, orig)
        return False


def unsafe(threads=True, processes=True):
    """Who started threads (or processes) while this zygote imported, or
    ""."""
    seen = []
    for kind, c in _culprits:
        if (threads if kind == "thread" else processes) and c not in seen:
            seen.append(c)
    return "; ".join(seen[:3])


def init(root, args=""):
    """Configures pytest in the base zygote. Returns the files it depends
    on; when pytest cannot start, sets start_failure and returns the files
    it read until then."""
    global _config, _session, _root, _sink, start_failure

    _root = os.path.realpath(root)
    os.chdir(_root)
    if _root not in sys.path:
        sys.path.insert(0, _root)
    before = set(sys.modules)
    # no path: pytest starts from testpaths or the root, as a bare `pytest`
    # does, and loads the same initial conftest.py files
    argv = ["-q", "-p", "tach_harness", "--rootdir=."] + shlex.split(args)
    try:
        tach_compat.check()
        with _Watch():
            _config = tach_compat.prepare_config(argv, [_Recorder()])
            _session = tach_compat.start_session(_config)
        _sink = tach_compat.silence_terminal(_config)
        tach_compat.global_capture(_config, False)
    except BaseException as e:
        start_failure = _failure(e)
    files = _project_files(before)
    for name in _CONFIG_FILES:
        files.add(os.path.join(_root, name))
    if _config is not None and _config.inipath:
        files.add(str(_config.inipath))
    return sorted(files)


def collect(relpath):
    """Collects one test file in a sub-zygote. Returns the files it
    depends on."""
    global _ignored, _missing
    UsageError = tach_compat.usage_error()

    before = set(sys.modules)
    path = os.path.join(_root, relpath)
    # pytest collects with output captured (collection reports carry it)
    tach_compat.global_capture(_config, True)
    try:
        if tach_compat.ignored(_session, path):
            _ignored = True
        else:
            with _Watch():
                _items.extend(tach_compat.collect(_session, relpath))
    except UsageError as e:
        _missing = not os.path.exists(path)
        _file_reports.append((relpath, "error", "ERROR: " + "\n".join(str(a) for a in e.args)))
    except BaseException as e:
        _file_reports.append((relpath, "error", "ERROR collecting %s: %r" % (relpath, e)))
    tach_compat.global_capture(_config, False)
    files = _project_files(before)
    files.add(os.path.abspath(path))
    # conftest.py files between the root and the test file
    d = os.path.dirname(os.path.abspath(path))
    while d.startswith(_root):
        files.add(os.path.join(d, "conftest.py"))
        files.add(os.path.join(d, "__init__.py"))
        if d == _root:
            break
        d = os.path.dirname(d)
    sys.stdout.flush()
    sys.stderr.flush()
    # a test process should copy as few pages as it can: freeze what the
    # collection made so the collector never touches it again
    gc.collect()
    gc.freeze()
    return sorted(files)


_clean_args = ""


def clean_init(root, args=""):
    """Starts the clean zygote of the isolated runtime: pytest and its own
    plugins imported, nothing of the project (no configuration, no
    conftest.py). Returns the files it depends on: none of the project."""
    global _root, _clean_args
    import importlib
    _root = os.path.realpath(root)
    os.chdir(_root)
    _clean_args = args
    for name in tach_compat.default_plugins():
        try:
            importlib.import_module(name)
        except Exception:
            pass
    # the installed plugins (pytest-cov, xdist, ...): not the project's
    # code, and most of what a session costs to start
    try:
        with _Watch():
            tach_compat.preload_plugins()
    except Exception:
        traceback.print_exc()
    gc.collect()
    gc.freeze()
    return []


def fresh(spec, fd, errfd):
    """In a test process of the clean zygote: runs the items spec selects
    as `python -m pytest -p tach_harness FILE` would in a new interpreter,
    the harness's events to fd, stdout and stderr to errfd."""
    nodeid = spec.partition(HV_CLAIMS_SEP)[0]
    file = nodeid.split("::", 1)[0]
    tach_harness._selection = _selection(spec)
    tach_harness._fresh = True
    # as `python -m` does: the working directory first on sys.path
    if _root not in sys.path:
        sys.path.insert(0, _root)
    os.dup2(errfd, 1)
    os.dup2(errfd, 2)
    if errfd > 2:
        os.close(errfd)
    tach_harness.start(os.fdopen(fd, "w", encoding="utf-8"), os.dup(2))
    if _clean_args:
        os.environ["PYTEST_ADDOPTS"] = (os.environ.get("PYTEST_ADDOPTS", "") + " " + _clean_args).strip()
    sys.argv = [os.path.join(os.path.dirname(pytest_file()), "__main__.py")]
    try:
        tach_compat.main(["-q", "-p", "tach_harness", "--rootdir=.", file])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        if tach_harness._out is not None:
            tach_harness._out.flush()


def pytest_file():
    import pytest
    return pytest.__file__


HV_CLAIMS_SEP = "\x1f"


def _selection(spec):
    nodeid, sep, claims = spec.partition("\x1f")
    return tach_harness.Selection(nodeid, claims if sep else None)


def _file_events(sel):
    return tach_harness.file_events(sel, _file_reports, [i.nodeid for i in _items],
                                    _deselected, _ignored, _missing)


def answer(spec):
    """The events for a request that selects no item (all deselected, not
    collected, the file skipped or broken), or None when a test process
    must run it."""
    sel = _selection(spec)
    if any(sel.wants(i.nodeid) for i in _items):
        return None
    events = [{"event": "configure"}, {"event": "collected", "nodeids": []}]
    events += _file_events(sel)
    events.append({"event": "finish", "exitstatus": 0})
    return "".join(json.dumps(tach_harness._clean(e)) + "\n" for e in events)


def _warm_test():
    pass


_prepared = False
_out_fd = _crash_fd = -1
_out = None


def _setup_io():
    """Crash reports and the event stream, on descriptors that run()
    later points at the request's."""
    global _out_fd, _crash_fd, _out
    _crash_fd = os.dup(2)
    faulthandler.enable(file=_crash_fd, all_threads=True)
    _out_fd = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    _out = os.fdopen(_out_fd, "w", encoding="utf-8", closefd=False)
    tach_harness.start(_out, _crash_fd)


def prepare():
    """Readies a spare test process before its request: descriptors and
    output capture set up."""
    global _prepared
    _setup_io()
    tach_harness.watch_spawns()
    tach_compat.global_capture(_config, True)
    _prepared = True


def warm():
    """Runs pytest's runtest protocol once on a test of nothing, so that the
    pages it writes are copied now, while the spare waits, rather than
    during the test."""
    tach_harness._out = None
    try:
        item = tach_compat.warm_item(_session, __file__, _warm_test)
        item.ihook.pytest_runtest_protocol(item=item, nextitem=None)
    finally:
        tach_harness._out = _out


def _redirect(errfd):
    """Points stdout and stderr, crash reports, and where pytest's capture
    restores them, at errfd."""
    os.dup2(errfd, 1)
    os.dup2(errfd, 2)
    os.dup2(errfd, _crash_fd)
    for saved in tach_compat.capture_saved_fds(_config):
        os.dup2(errfd, saved)
    if errfd > 2:
        os.close(errfd)


def run(spec, fd, errfd):
    """Runs the items spec selects in a test process, reporting to fd;
    errfd takes its stdout and stderr outside pytest's capture."""
    if not _prepared:
        _setup_io()
        tach_harness.watch_spawns()
    _redirect(errfd)
    os.dup2(fd, _out_fd)
    os.close(fd)
    out = _out
    emit = tach_harness._emit
    emit({"event": "configure"})
    sel = _selection(spec)
    items = [i for i in _items if sel.wants(i.nodeid)]
    if items and any(i.get_closest_marker("toxic") is not None for i in items):
        # not for this process: the client runs it in a fresh interpreter
        emit({"event": "toxic"})
        out.flush()
        return
    emit({"event": "collected", "nodeids": [i.nodeid for i in items]})
    for e in _file_events(sel):
        emit(e)
    if not _prepared:
        tach_compat.global_capture(_config, True)
    hook = _config.hook
    for i, item in enumerate(items):
        nextitem = items[i + 1] if i + 1 < len(items) else None
        hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
    tach_compat.global_capture(_config, False)
    emit({"event": "finish", "exitstatus": 0})
    out.flush()
