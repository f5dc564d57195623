# tach_zygote - pytest's side of the hypervisor (runtime/hv.c). The C side
# owns the processes, sockets, sandbox and timeouts; it calls three
# functions here, each in its own process:
#
#   init(root)        the base zygote: configure pytest as `pytest -p
#                     tach_harness --rootdir=. .` would in ROOT, start the
#                     session, then stop output capture and silence the
#                     terminal so forked processes start clean.
#   collect(relpath)  a sub-zygote: collect one test file with pytest's own
#                     machinery (conftest files, hooks, parametrize, marks).
#   prepare(), warm() a spare test process, forked before its request:
#                     set up output capture; warm pytest's protocol up
#                     when no request comes at once.
#   run(nodeid, fd, errfd)
#                     a test process: run the matching items through
#                     pytest's runtest protocol, reporting each case through
#                     tach_harness to descriptor fd, then return.
#
# init and collect return the files whose change makes that zygote stale:
# the project's modules imported since the previous step, plus the files
# pytest read (configuration, conftest.py, the test file).

import faulthandler
import gc
import os
import sys

import tach_harness

_config = None
_session = None
_items = []
_collect_errors = []
_deselected = []
_root = None

_CONFIG_FILES = ("pyproject.toml", "pytest.ini", "tox.ini", "setup.cfg", "conftest.py")


class _Recorder:
    """Keeps the collection errors of a sub-zygote for its test processes."""

    def pytest_collectreport(self, report):
        if report.failed:
            _collect_errors.append((report.nodeid, tach_harness._text(report)))

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


def init(root):
    """Configures pytest in the base zygote. Returns the files it depends on."""
    global _config, _session, _root
    from _pytest.config import _prepareconfig, create_terminal_writer
    from _pytest.main import Session

    _root = os.path.realpath(root)
    os.chdir(_root)
    if _root not in sys.path:
        sys.path.insert(0, _root)
    before = set(sys.modules)
    args = ["-q", "-p", "no:cacheprovider", "-p", "tach_harness", "--rootdir=.", "."]
    _config = _prepareconfig(args, plugins=[_Recorder()])
    _config._do_configure()
    _session = Session.from_config(_config)
    _session.exitstatus = 0
    _config.hook.pytest_sessionstart(session=_session)
    # nobody sees the terminal: progress lines would only cost each test
    # its hook calls (plugins that want the reporter check for None)
    tr = _config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr._tw = create_terminal_writer(_config, open(os.devnull, "w"))
        _config.pluginmanager.unregister(tr)
    capman = _config.pluginmanager.get_plugin("capturemanager")
    if capman is not None:
        capman.stop_global_capturing()
    files = _project_files(before)
    for name in _CONFIG_FILES:
        files.add(os.path.join(_root, name))
    if _config.inipath:
        files.add(str(_config.inipath))
    return sorted(files)


def collect(relpath):
    """Collects one test file in a sub-zygote. Returns the files it
    depends on."""
    from _pytest.config.exceptions import UsageError

    before = set(sys.modules)
    path = os.path.join(_root, relpath)
    # pytest collects with output captured (collection reports carry it)
    capman = _config.pluginmanager.get_plugin("capturemanager")
    if capman is not None:
        capman.start_global_capturing()
    try:
        _items.extend(_session.perform_collect([relpath]))
    except UsageError as e:
        _collect_errors.append((relpath, "ERROR: " + "\n".join(str(a) for a in e.args)))
    except BaseException as e:
        _collect_errors.append((relpath, "ERROR collecting %s: %r" % (relpath, e)))
    if capman is not None:
        capman.stop_global_capturing()
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


def _select(nodeid):
    return [i for i in _items
            if i.nodeid == nodeid or i.nodeid.startswith(nodeid + "[")
            or i.nodeid.startswith(nodeid + "::")]


def _warm_test():
    pass


def _warm_item():
    """A test item that runs nothing of the project: no fixtures, and a
    path outside the root, so no conftest.py hook applies to it."""
    from pathlib import Path
    from _pytest.fixtures import FuncFixtureInfo
    from _pytest.python import Function, Module

    mod = Module.from_parent(_session, path=Path(__file__))
    info = FuncFixtureInfo(argnames=(), initialnames=(), names_closure=[], name2fixturedefs={})
    return Function.from_parent(mod, name="tach_warm", callobj=_warm_test, fixtureinfo=info)


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
    capman = _config.pluginmanager.get_plugin("capturemanager")
    if capman is not None:
        capman.start_global_capturing()
    _prepared = True


def warm():
    """Runs pytest's runtest protocol once on a test of nothing, so that the
    pages it writes are copied now, while the spare waits, rather than
    during the test."""
    tach_harness._out = None
    try:
        item = _warm_item()
        item.ihook.pytest_runtest_protocol(item=item, nextitem=None)
    finally:
        tach_harness._out = _out


def _redirect(errfd):
    """Points stdout and stderr, crash reports, and where pytest's capture
    restores them, at errfd."""
    os.dup2(errfd, 1)
    os.dup2(errfd, 2)
    os.dup2(errfd, _crash_fd)
    capman = _config.pluginmanager.get_plugin("capturemanager")
    mc = capman._global_capturing if capman is not None else None
    for cap in (getattr(mc, "out", None), getattr(mc, "err", None)):
        saved = getattr(cap, "targetfd_save", None)
        if saved is not None:
            os.dup2(errfd, saved)
    if errfd > 2:
        os.close(errfd)


def run(nodeid, fd, errfd):
    """Runs the items of nodeid in a test process, reporting to fd; errfd
    takes its stdout and stderr outside pytest's capture."""
    if not _prepared:
        _setup_io()
    _redirect(errfd)
    os.dup2(fd, _out_fd)
    os.close(fd)
    out = _out
    tach_harness._emit({"event": "configure"})
    items = _select(nodeid)
    gone = [i for i in _deselected
            if i == nodeid or i.startswith(nodeid + "[") or i.startswith(nodeid + "::")]
    if not items and gone:
        tach_harness._emit({"event": "deselected", "nodeids": gone})
        tach_harness._emit({"event": "finish", "exitstatus": 5})
        out.flush()
        return
    if not items:
        for where, message in _collect_errors:
            tach_harness._emit({"event": "collecterror", "nodeid": where, "message": message})
        if not _collect_errors:
            tach_harness._emit({"event": "collecterror", "nodeid": nodeid,
                                "message": "ERROR: not found: %s" % nodeid})
        tach_harness._emit({"event": "finish", "exitstatus": 4})
        out.flush()
        return
    if any(i.get_closest_marker("toxic") is not None for i in items):
        # not for this process: the client runs it in a fresh interpreter
        tach_harness._emit({"event": "toxic"})
        out.flush()
        return
    tach_harness._emit({"event": "collected", "nodeids": [i.nodeid for i in items]})
    capman = _config.pluginmanager.get_plugin("capturemanager")
    if capman is not None and not _prepared:
        capman.start_global_capturing()
    hook = _config.hook
    for i, item in enumerate(items):
        nextitem = items[i + 1] if i + 1 < len(items) else None
        hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
    if capman is not None:
        capman.stop_global_capturing()
    tach_harness._emit({"event": "finish", "exitstatus": 0})
    out.flush()
