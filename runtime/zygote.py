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
#   run(nodeid, fd)   a forked test process: run the matching items through
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
_root = None

_CONFIG_FILES = ("pyproject.toml", "pytest.ini", "tox.ini", "setup.cfg", "conftest.py")


class _Recorder:
    """Keeps the collection errors of a sub-zygote for its test processes."""

    def pytest_collectreport(self, report):
        if report.failed:
            _collect_errors.append((report.nodeid, tach_harness._text(report)))


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
    tr = _config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr._tw = create_terminal_writer(_config, open(os.devnull, "w"))
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


def run(nodeid, fd):
    """Runs the items of nodeid in a forked test process."""
    out = os.fdopen(fd, "w", encoding="utf-8", closefd=False)
    # fd 2 is the client's file now; pytest's capture will take fd 2 over
    # during each test, so crash reports go to a copy of it
    crash_fd = os.dup(2)
    faulthandler.enable(file=crash_fd, all_threads=True)
    tach_harness.start(out, crash_fd)
    tach_harness._emit({"event": "configure"})
    items = _select(nodeid)
    if not items:
        for where, message in _collect_errors:
            tach_harness._emit({"event": "collecterror", "nodeid": where, "message": message})
        if not _collect_errors:
            tach_harness._emit({"event": "collecterror", "nodeid": nodeid,
                                "message": "ERROR: not found: %s" % nodeid})
        tach_harness._emit({"event": "finish", "exitstatus": 4})
        return
    tach_harness._emit({"event": "collected", "nodeids": [i.nodeid for i in items]})
    capman = _config.pluginmanager.get_plugin("capturemanager")
    if capman is not None:
        capman.start_global_capturing()
    hook = _config.hook
    for i, item in enumerate(items):
        nextitem = items[i + 1] if i + 1 < len(items) else None
        hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
    if capman is not None:
        capman.stop_global_capturing()
    tach_harness._emit({"event": "finish", "exitstatus": 0})
    out.flush()
