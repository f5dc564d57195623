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
#   clean_init(root, args), fresh(spec, fd, errfd)
#                     the clean zygote of the isolated runtime and its test
#                     processes: pytest configured and its session started
#                     without any conftest.py; each test process loads the
#                     initial conftests, collects its file and runs as run()
#                     does, without the Iron Dome.
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
_by_node = None         # node id -> the items under it (harness.above), once collected
_file_reports = []     # (nodeid, "error"|"skipped", message) of collectors
_deselected = []
_ignored = False
_missing = False        # the test file is not there
_root = None
_sink = None
_tmp_root = None        # the session's base temporary directory (pytest-N)

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


def _project_files(before, anywhere=False):
    """Files of modules imported since `before` that live in the project,
    or with anywhere, wherever they live (an installed package, a directory
    on pytest's pythonpath outside the root, the standard library): a
    zygote watches every file it imported, so an upgraded package or an
    edited module beside the project is never served stale."""
    files = set()
    for name, mod in list(sys.modules.items()):
        if name in before:
            continue
        f = getattr(mod, "__file__", None)
        if not f:
            continue
        f = os.path.abspath(f)
        if anywhere:
            if os.path.isfile(f):
                files.add(f)
        elif f.startswith(_root + os.sep) and os.sep + "site-packages" + os.sep not in f[len(_root):]:
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
    """While a zygote imports, notes who starts a thread or a process or
    opens a socket (what fork cannot survive); the C side counts what is
    left afterwards."""

    def __enter__(self):
        import socket
        import subprocess
        import threading
        watched = [(threading.Thread, "start", "thread", "starts a thread"),
                   (subprocess.Popen, "__init__", "process", "starts a process"),
                   (os, "fork", "process", "forks"),
                   (socket.socket, "__init__", "socket", "opens a socket")]
        self._saved = [(obj, name, getattr(obj, name)) for obj, name, _, _ in watched]
        for obj, name, kind, what in watched:
            setattr(obj, name, self._wrap(getattr(obj, name), kind, what))
        return self

    @staticmethod
    def _wrap(orig, kind, what):
        def wrapper(*a, **k):
            _culprits.append((kind, "%s %s" % (_importing(), what)))
            return orig(*a, **k)
        return wrapper

    def __exit__(self, *exc):
        for obj, name, orig in self._saved:
            setattr(obj, name, orig)
        return False


def unsafe(threads=True, processes=True, sockets=True):
    """Who started threads, processes or opened network sockets while this
    zygote imported, or ""."""
    want = {"thread": threads, "process": processes, "socket": sockets}
    seen = []
    for kind, c in _culprits:
        if want.get(kind) and c not in seen:
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
    _make_tmp_root()
    # everything imported so far, pytest and its plugins included
    files = _project_files(set(), anywhere=True)
    for name in _CONFIG_FILES:
        files.add(os.path.join(_root, name))
    if _config is not None and _config.inipath:
        files.add(str(_config.inipath))
    return sorted(files)


def _make_tmp_root():
    """Makes the zygote's pytest-N once: a test process would make one of
    its own, never cleaned (it ends without atexit)."""
    global _tmp_root
    if _config is None:
        return
    try:
        _tmp_root = tach_compat.tmp_root(_config)
    except Exception:
        _tmp_root = None


def _test_tmp(nodeid):
    """In a test process: tmp_path under pytest-N/ID, emptied first, so a
    test's temporary files are those of its last run only. Its name is
    found, and the directory made, when a test first asks for it."""
    if _tmp_root is None:
        return

    def make():
        import hashlib
        import re
        import shutil
        name = re.sub(r"[^\w.-]", "_", nodeid.rpartition("/")[2])[-40:]
        name += "-" + hashlib.sha1(nodeid.encode("utf-8", "surrogateescape")).hexdigest()[:8]
        path = _tmp_root / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir()
        return path

    tach_compat.set_basetemp(_config, make)


def collect(relpath):
    """Collects one test file in a sub-zygote. Returns the files it
    depends on."""
    before = set(sys.modules)
    path = os.path.join(_root, relpath)
    # pytest collects with output captured (collection reports carry it)
    tach_compat.global_capture(_config, True)
    _collect_items(relpath)
    tach_compat.global_capture(_config, False)
    _index()
    files = _project_files(before, anywhere=True)
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


def _collect_items(relpath):
    """Collects one test file into _items, its collectors' reports into
    _file_reports (through _Recorder), unless the configuration ignores it."""
    global _ignored, _missing
    UsageError = tach_compat.usage_error()

    path = os.path.join(_root, relpath)
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


_clean_args = ""
_clean_known = None     # the clean zygote's plugins, before a test's conftests


def clean_init(root, args=""):
    """Starts the clean zygote of the isolated runtime: pytest configured as
    init() does and its session started, but no conftest.py loaded (pytest's
    initial conftests wait for each test process, which loads them after
    the fork). When pytest cannot be configured so (a conftest's option in
    addopts, a broken configuration), only pytest and its plugins are
    imported and each test process runs a whole session. Returns the files
    it depends on: the configuration, and any module of the project a
    plugin option (-p) imported."""
    global _root, _clean_args, _config, _session, _sink, _clean_known
    import importlib
    _root = os.path.realpath(root)
    os.chdir(_root)
    if _root not in sys.path:
        sys.path.insert(0, _root)
    _clean_args = args
    for name in tach_compat.default_plugins():
        try:
            importlib.import_module(name)
        except Exception:
            pass
    argv = ["-q", "-p", "tach_harness", "--rootdir=."] + shlex.split(args)
    try:
        tach_compat.check()
        with _Watch():
            _config = tach_compat.prepare_config(argv, [_Recorder()], defer_conftests=True)
            _session = tach_compat.start_session(_config)
        _sink = tach_compat.silence_terminal(_config)
        tach_compat.global_capture(_config, False)
        _clean_known = set(_config.pluginmanager.get_plugins())
    except BaseException:
        _config = _session = None
    _make_tmp_root()
    if _config is None:
        # the installed plugins (pytest-cov, xdist, ...): not the
        # project's code, and most of what a session costs to start
        try:
            with _Watch():
                tach_compat.preload_plugins()
        except Exception:
            traceback.print_exc()
    files = _project_files(set(), anywhere=True)
    for name in _CONFIG_FILES:
        if name != "conftest.py":
            files.add(os.path.join(_root, name))
    if _config is not None and _config.inipath:
        files.add(str(_config.inipath))
    gc.collect()
    gc.freeze()
    return sorted(files)


def fresh(spec, fd, errfd):
    """In a test process of the clean zygote: runs the items spec selects
    as `python -m pytest -p tach_harness` would in a new interpreter, the
    harness's events to fd, stdout and stderr to errfd. The initial
    conftest.py files are loaded here, then the test's file is collected
    and its items run as run() does; when they cannot be loaded, a whole
    pytest session over the file reports it as pytest would."""
    nodeid = spec.partition(HV_CLAIMS_SEP)[0]
    file = nodeid.split("::", 1)[0]
    os.dup2(errfd, 1)
    os.dup2(errfd, 2)
    if _config is not None:
        for saved in tach_compat.faulthandler_fds(_config):
            os.dup2(errfd, saved)
    if errfd > 2:
        os.close(errfd)
    out = os.fdopen(fd, "w", encoding="utf-8")
    crash = os.dup(2)
    faulthandler.enable(file=crash, all_threads=True)
    tach_harness.start(out, crash)
    sys.argv = [os.path.join(os.path.dirname(pytest_file()), "__main__.py")]
    try:
        if _config is not None and _fresh_configured(spec, file):
            return
        tach_harness._selection = _selection(spec)
        tach_harness._fresh = True
        if _clean_args:
            os.environ["PYTEST_ADDOPTS"] = (os.environ.get("PYTEST_ADDOPTS", "") + " " + _clean_args).strip()
        tach_compat.main(["-q", "-p", "tach_harness", "--rootdir=.", file])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        if tach_harness._out is not None:
            tach_harness._out.flush()


def _fresh_configured(spec, file):
    """fresh() in a clean zygote that configured pytest: False, having
    reported nothing, when the initial conftests cannot be loaded. Output
    is captured throughout, as pytest captures it from the conftests on."""
    config = _config
    tach_compat.global_capture(config, True)
    try:
        tach_compat.load_initial_conftests(config)
        if any(p not in _clean_known for p in config.pluginmanager.get_plugins()):
            tach_compat.call_late(config, "pytest_sessionstart", _clean_known, session=_session)
    except BaseException:
        tach_compat.global_capture(config, False)
        return False
    emit = tach_harness._emit
    emit({"event": "configure"})
    status = 0
    try:
        # the harness reports the selection's collection below, not the file's
        out, tach_harness._out = tach_harness._out, None
        try:
            _collect_items(file)
        finally:
            tach_harness._out = out
        sel = _selection(spec)
        items = _selected(sel)
        if any(i.get_closest_marker("fresh") is not None for i in items):
            # not for a forked process: the client starts a new interpreter
            emit({"event": "fresh"})
            return True
        _run_items(sel, items)
        # what pytest would exit with
        status = 1 if _session.testsfailed else (0 if items else 5)
        tach_compat.call_late(config, "pytest_sessionfinish", _clean_known,
                              session=_session, exitstatus=status)
        tach_compat.call_late(config, "pytest_unconfigure", _clean_known, config=config)
    finally:
        tach_compat.global_capture(config, False)
    emit({"event": "finish", "exitstatus": status})
    return True


def pytest_file():
    import pytest
    return pytest.__file__


HV_CLAIMS_SEP = "\x1f"


def _selection(spec):
    nodeid, sep, claims = spec.partition("\x1f")
    return tach_harness.Selection(nodeid, claims if sep else None)


def _index():
    """Which items are under which node id, for _selected: in the
    sub-zygote, once its file is collected (its test processes share it).
    Each item's location too, which pytest works out when the item starts
    and keeps: a test process reset after every test would work it out for
    every test."""
    global _by_node
    _by_node = {}
    for item in _items:
        for nodeid in tach_harness.above(item.nodeid):
            _by_node.setdefault(nodeid, []).append(item)
        try:
            item.location
        except Exception:
            pass  # raised again when the item starts, as pytest would


def _selected(sel):
    """The items sel runs, in the order collected: found by its node id but
    for the first edge of a file, which also runs what no edge claims (a
    look at every item, once a file)."""
    if sel.rest or _by_node is None:
        return [i for i in _items if sel.wants(i.nodeid)]
    return list(_by_node.get(sel.nodeid, ()))


def _file_events(sel):
    # an item under the edge's node id: the index says, but in a process
    # that collects for itself (the clean zygote's)
    if _by_node is not None:
        found = sel.nodeid in _by_node
    else:
        found = any(tach_harness._under(i.nodeid, sel.own) for i in _items)
    return tach_harness.file_events(sel, _file_reports, found, _deselected, _ignored, _missing)


def answer(spec):
    """The events for a request that selects no item (all deselected, not
    collected, the file skipped or broken), or None when a test process
    must run it."""
    sel = _selection(spec)
    if _selected(sel):
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


def settle():
    """In a worker, before its snapshot: what prepare() and warm() made is
    frozen out of the garbage collector's reach, so that a collection
    during a test does not write to every object's header (each page a
    test writes is a page its reset copies back)."""
    gc.collect()
    gc.freeze()


def _redirect(errfd):
    """Points stdout and stderr, crash reports, and where pytest's capture
    restores them, at errfd."""
    os.dup2(errfd, 1)
    os.dup2(errfd, 2)
    os.dup2(errfd, _crash_fd)
    for saved in tach_compat.capture_saved_fds(_config) + tach_compat.faulthandler_fds(_config):
        os.dup2(errfd, saved)
    if errfd > 2:
        os.close(errfd)


def _run_items(sel, items):
    """In a test process: reports what the selection collected, then runs
    its items through pytest's runtest protocol, output captured."""
    emit = tach_harness._emit
    # read with the first test's start, or the end
    emit({"event": "collected", "nodeids": [i.nodeid for i in items]}, flush=False)
    for e in _file_events(sel):
        emit(e, flush=False)
    if items:
        _test_tmp(sel.nodeid)
    hook = _config.hook
    for i, item in enumerate(items):
        nextitem = items[i + 1] if i + 1 < len(items) else None
        hook.pytest_runtest_protocol(item=item, nextitem=nextitem)


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
    # nothing runs between the last test and the finish event below
    tach_harness.hold_cases()
    emit({"event": "configure"}, flush=False)
    sel = _selection(spec)
    items = _selected(sel)
    if items and any(i.get_closest_marker("toxic") is not None for i in items):
        # not for this process: the client runs it in a fresh interpreter
        emit({"event": "toxic"})
        out.flush()
        return
    if not _prepared:
        tach_compat.global_capture(_config, True)
    _run_items(sel, items)
    tach_compat.global_capture(_config, False)
    emit({"event": "finish", "exitstatus": 0})
    out.flush()
