# tach_harness - thin pytest glue for tach's runtimes, loaded with
# `-p tach_harness`. Processes, timeouts and the result file are C; this
# plugin only tells the C side what pytest saw.
#
# When TACH_RESULT_FILE is set, it appends one JSON object a line to that
# file, each flushed as soon as it is known, so a crash keeps what came
# before it:
#   {"event": "configure"}                       pytest parsed its arguments
#   {"event": "collected", "nodeids": [...]}     the items about to run
#   {"event": "collecterror", "nodeid", "message"}
#   {"event": "deselected", "nodeids": [...]}      left out by -m/-k/plugins
#   {"event": "notcollected", "nodeid"}        an id asked for that pytest
#                                                does not collect
#   {"event": "start", "nodeid"}                 a test case begins
#   {"event": "case", "nodeid", "outcome", "duration", "message",
#    "stdout", "stderr"}                          a test case ended
#   {"event": "finish", "exitstatus"}
# outcome is passed|failed|skipped|xfailed|error: a failure in setup or
# teardown is an error, an xfail that failed is xfailed, a strict xpass is
# failed and a non-strict xpass passed.
#
# SIGUSR2 dumps every thread's traceback to the real stderr, so a test
# killed for a timeout says where it hung. In the hypervisor, the zygote
# calls start() instead, and a case during which the Iron Dome denied a
# system call carries "denied": the call's name.

"""tach's pytest plugin (see the comment above).

PYTEST_DONT_REWRITE
"""

import faulthandler
import json
import os
import signal
import struct
import time

import pytest

# bound before any test runs: a test that patches json.dumps or os.write
# and leaves it so must not break the report of its own result
_dumps = json.dumps
_environ_get = os.environ.get
_monotonic_ns = time.monotonic_ns
_pack_into = struct.pack_into
_unpack_from = struct.unpack_from

try:
    import _tach  # built into the hypervisor's interpreter
except ImportError:
    _tach = None

_path = _environ_get("TACH_RESULT_FILE")
_out = None
# a test's result is read with the next test's start or the end
# (hold_cases()); else at once, for pytest's own session end runs other
# plugins' hooks after the last test, and one may crash or hang
_hold_cases = False
_reports = {}


_crash_fd = None


def start(out, stderr_fd):
    """Reports events to the text file out from now on; SIGUSR2 dumps
    tracebacks to stderr_fd."""
    global _out, _crash_fd
    _out = out
    _crash_fd = stderr_fd
    faulthandler.register(signal.SIGUSR2, file=stderr_fd, all_threads=True)


if _path:
    # the real stderr, before pytest's capture redirects fd 2
    start(open(_path, "a", encoding="utf-8"), os.dup(2))


def _clean(v):
    # strings from file names may hold lone surrogates, which are not JSON
    if isinstance(v, str):
        return v.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if isinstance(v, dict):
        return {_clean(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def _emit(obj, flush=True):
    """Writes an event; flush=False leaves it for the next flush, which
    every event that must be read at once makes: the start of a test (a
    crash during it is the test's), its timeout, the end."""
    if _out is not None:
        _out.write(_dumps(_clean(obj)) + "\n")
        if flush:
            _out.flush()


def _text(report):
    if report.longrepr is None:
        return ""
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = report.longrepr[2]
        if reason.startswith("Skipped: "):
            reason = reason[len("Skipped: "):]
        return reason
    return report.longreprtext


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "toxic: tach runs this test in the isolated runtime (no Iron Dome)")
    config.addinivalue_line(
        "markers", "fresh: tach runs this test in an interpreter started for it (not forked)")
    config.addinivalue_line(
        "markers", "timeout(seconds): tach stops this test after that many seconds")
    _emit({"event": "configure"})


def above(nodeid):
    """The node ids nodeid is under: itself, the function of a case
    ("id" of "id[x]"), and every node above it ("a::b" of "a::b::c")."""
    yield nodeid
    k = nodeid.find("[")
    head = nodeid if k < 0 else nodeid[:k]
    if head != nodeid:
        yield head
    k = head.rfind("::")
    while k > 0:
        head = head[:k]
        yield head
        k = head.rfind("::")


def _under(nodeid, prefixes):
    """Whether nodeid is one of prefixes, a case of one ("id[x]") or an
    item below one ("id::x")."""
    return any(p in prefixes for p in above(nodeid))


class Selection:
    """The items one test edge runs, and what it reports of its file.

    claims is None for a node id asked for directly (tach-run NODEID): it
    runs the items under its node id, reports what happens to the file as
    a whole (a collection error, a skip at module level), and a node id
    pytest does not collect is an error, as with `pytest NODEID`.

    In a manifest every edge is given claims: "" for every edge but the
    first of its file, which runs the items under its node id only; for
    the first, a file holding the names (after "FILE::") of every edge of
    the file, separated by white space. The first edge runs its own items
    and every item of the file no edge claimed (such as test classes
    imported from another module) and reports the file as a whole. A node id
    pytest does not collect there (a test behind a platform check) is no
    error, only a warning of the summary."""

    def __init__(self, nodeid, claims=None):
        self.nodeid = nodeid
        self.file = nodeid.split("::", 1)[0]
        self.own = {nodeid}
        self.direct = claims is None
        self.rest = bool(claims)
        self.owner = self.direct or self.rest
        self.claims = set()
        if claims:
            with open(claims, encoding="utf-8", errors="surrogateescape") as f:
                self.claims = {self.file + "::" + name for name in f.read().split()}
            self.claims.discard(nodeid)

    def wants(self, nodeid):
        if _under(nodeid, self.own):
            return True
        return (self.rest and _under(nodeid, {self.file})
                and not _under(nodeid, self.claims))


def _case(nodeid, outcome, message):
    return {"event": "case", "nodeid": nodeid, "outcome": outcome, "duration": 0,
            "message": message, "stdout": "", "stderr": ""}


def file_events(selection, reports, found, deselected, ignored, missing=False):
    """The events of a file's collection for one edge: collection errors and
    a module-level skip (by the file's owner) as cases, the edge's
    deselected items, and its node id when pytest collects nothing of it
    (found: whether it collected an item under the node id). A file that
    does not exist is an error of every edge."""
    # collecting a package's __init__.py collects the whole package: the
    # other files' collectors are theirs to report
    reports = [r for r in reports
               if r[0] == selection.file or r[0].startswith(selection.file + "::")]
    if missing:
        return [_case(selection.nodeid, "error", m) for _, _, m in reports[:1]]
    events = []
    trouble = False
    for nodeid, outcome, message in reports:
        trouble = True
        if selection.owner:
            events.append(_case(nodeid, outcome, message))
    gone = [i for i in deselected if selection.wants(i)]
    if gone:
        events.append({"event": "deselected", "nodeids": gone})
    if not trouble and not gone and selection.nodeid != selection.file \
            and not found:
        if selection.direct:
            why = " (the configuration ignores the file)" if ignored else ""
            events.append(_case(selection.nodeid, "error",
                                "ERROR: not found: %s%s" % (selection.nodeid, why)))
        else:
            events.append({"event": "notcollected", "nodeid": selection.nodeid,
                           "ignored": bool(ignored)})
    return events


_selection = None
if _environ_get("TACH_SELECT"):
    # TACH_CLAIMS: unset for a node id asked for directly, else the claims
    _selection = Selection(_environ_get("TACH_SELECT"), _environ_get("TACH_CLAIMS"))
    os.environ.pop("TACH_SELECT", None)
    os.environ.pop("TACH_CLAIMS", None)
_file_reports = []      # (nodeid, outcome, message) of the file's collectors
_file_deselected = []
_file_ignored = False


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session):
    # isolated mode collects the file named on the command line, which
    # pytest would do even where the configuration ignores it
    global _file_ignored
    if _selection is None:
        return None
    import tach_compat
    if tach_compat.ignored(session, _selection.file):
        _file_ignored = True
        session.items = []
        session.testscollected = 0
        session.config.hook.pytest_collection_finish(session=session)
        return True
    return None


_fresh = False   # run by the clean zygote: a test marked `fresh` wants an interpreter of its own


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    if _selection is not None:
        items[:] = [i for i in items if _selection.wants(i.nodeid)]
    if _fresh and any(i.get_closest_marker("fresh") is not None for i in items):
        # not for a forked process: the client starts a new interpreter
        _emit({"event": "fresh"})
        os._exit(0)


def pytest_collection_finish(session):
    _emit({"event": "collected", "nodeids": [i.nodeid for i in session.items]})
    if _selection is not None:
        found = any(_under(i.nodeid, _selection.own) for i in session.items)
        for e in file_events(_selection, _file_reports, found, _file_deselected, _file_ignored):
            _emit(e)


def pytest_collectreport(report):
    if _selection is None:
        if report.failed:
            _emit({"event": "collecterror", "nodeid": report.nodeid, "message": _text(report)})
        return
    if report.failed:
        _file_reports.append((report.nodeid, "error", _text(report)))
    elif report.skipped:
        _file_reports.append((report.nodeid, "skipped", _text(report)))


def pytest_deselected(items):
    # -m/-k in addopts, --deselect, or a plugin left these out: not cases
    if _selection is None:
        _emit({"event": "deselected", "nodeids": [i.nodeid for i in items]})
    else:
        _file_deselected.extend(i.nodeid for i in items)


_spawn_denied = None

# The Python-level ways to make a process, by their audit events (PEP 578):
# the dome refuses the system call without naming it, and library code may
# swallow the error (ctypes.util.find_library runs ldconfig and takes a
# failure for "not found"), so the attempt itself is what is recorded.
_SPAWN_EVENTS = frozenset(("os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.system",
                           "os.exec", "subprocess.Popen", "pty.spawn"))


def _audit(event, args):
    global _spawn_denied
    if event in _SPAWN_EVENTS and _spawn_denied is None:
        _spawn_denied = "fork"


_watching = False


def watch_spawns():
    """In a hypervisor test process: records any attempt to make a process
    (an audit hook, for the life of the process)."""
    global _watching
    import sys
    _watching = True
    sys.addaudithook(_audit)


# _posixsubprocess.fork_exec, called directly, raises no audit event: it is
# wrapped here, when pytest loads this plugin, before any test code runs.
try:
    import _posixsubprocess
except ImportError:
    _posixsubprocess = None
if _posixsubprocess is not None and not hasattr(_posixsubprocess.fork_exec, "_tach"):
    def _fork_exec(*args, _real=_posixsubprocess.fork_exec, **kwargs):
        global _spawn_denied
        if _watching and _spawn_denied is None:
            _spawn_denied = "fork"
        return _real(*args, **kwargs)
    _fork_exec._tach = True
    _posixsubprocess.fork_exec = _fork_exec

# Process creation (fork, vfork, clone) fails with plain EPERM under the
# dome, without the trap that names other calls: callers block every signal
# around it. Name it from where the PermissionError came from.
_SPAWNERS = ("_execute_child", "_posix_spawn", "_launch", "fork", "posix_spawn",
             "posix_spawnp", "spawnv", "spawnve", "system", "popen", "fork_exec")


def _creates_process(excinfo):
    e = excinfo.value
    while e is not None:
        if isinstance(e, PermissionError) and e.errno == 1:
            tb = e.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            if tb is not None:
                code = tb.tb_frame.f_code
                import linecache
                line = linecache.getline(code.co_filename, tb.tb_lineno)
                if code.co_name in _SPAWNERS or any(
                        "." + name + "(" in line for name in _SPAWNERS):
                    return True
        e = e.__cause__ or e.__context__
    return False


if _tach is not None:
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(item, call):
        global _spawn_denied
        yield
        if call.excinfo is not None and _spawn_denied is None and _creates_process(call.excinfo):
            _spawn_denied = "fork"


def _marker_timeout(item):
    m = item.get_closest_marker("timeout")
    if m is None:
        return None
    v = m.kwargs.get("timeout", m.args[0] if m.args else None)
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if v > 0 else None


# The deadline page (include/tach/deadline.h): u64 deadline, u64 default,
# nanoseconds of CLOCK_MONOTONIC. A new interpreter finds it as a
# descriptor; a forked test process of the hypervisor through _tach.
_page = None
if _environ_get("TACH_DEADLINE_FD"):
    try:
        import mmap
        _fd = int(_environ_get("TACH_DEADLINE_FD"))
        _page = mmap.mmap(_fd, 16)
        os.close(_fd)   # the mapping stays; the test's processes get no descriptor
    except (ValueError, OSError):
        _page = None
    os.environ.pop("TACH_DEADLINE_FD", None)

# seconds pytest-timeout, when installed, gets to report a marker's timeout
# its own way before the runtime stops the test
PLUGIN_GRACE = 2.0
_item_timeout = {}


def _deadline_page():
    if _page is not None:
        return _page
    get = getattr(_tach, "deadline_page", None) if _tach is not None else None
    return get() if get is not None else None


def _set_deadline(page, seconds):
    _pack_into("<Q", page, 0, _monotonic_ns() + int(seconds * 1e9))


def _expire(nodeid, seconds):
    # a watchdog thread: the test overran its marker; say so and end the
    # process, which the runtime reports as a timeout
    if _crash_fd is not None:
        faulthandler.dump_traceback(file=_crash_fd, all_threads=True)
    _emit({"event": "timeout", "nodeid": nodeid, "seconds": seconds})
    os._exit(124)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    page = _deadline_page() if _out is not None else None
    default = _unpack_from("<Q", page, 8)[0] / 1e9 if page is not None else 0
    marker = _marker_timeout(item) if page is not None else None
    if marker or default:
        # the C side stops the test at the time written here: the marker's
        # (either way from the default), else the default; with neither,
        # nothing is written and the request's own time holds
        seconds = marker or default
        plugin = marker and item.config.pluginmanager.hasplugin("timeout")
        _item_timeout[item.nodeid] = seconds
        _set_deadline(page, seconds + (PLUGIN_GRACE if plugin else 0))
        try:
            yield
        finally:
            if default:
                _set_deadline(page, default)
            else:
                _pack_into("<Q", page, 0, 0)
        return
    seconds = None
    if _out is not None and not item.config.pluginmanager.hasplugin("timeout"):
        seconds = _marker_timeout(item)
    timer = None
    if seconds:
        import threading
        timer = threading.Timer(seconds, _expire, (item.nodeid, seconds))
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()


def pytest_runtest_logstart(nodeid, location):
    global _spawn_denied
    _reports[nodeid] = []
    _spawn_denied = None
    if _tach is not None:
        _tach.take_denied()
    start = {"event": "start", "nodeid": nodeid}
    if nodeid in _item_timeout:
        start["timeout"] = _item_timeout.pop(nodeid)
    _emit(start)


def pytest_runtest_logreport(report):
    _reports.setdefault(report.nodeid, []).append(report)


def _outcome(reports):
    outcome, messages = "passed", []
    for r in reports:
        xfail = hasattr(r, "wasxfail")
        if r.when == "call":
            if r.skipped and xfail:
                outcome = "xfailed"
                messages.append(r.wasxfail)
            elif r.skipped:
                outcome = "skipped"
                messages.append(_text(r))
            elif r.failed:
                outcome = "failed"
                messages.append(_text(r))
        elif r.skipped:
            outcome = "xfailed" if xfail else "skipped"
            messages.append(r.wasxfail if xfail else _text(r))
        elif r.failed:
            if outcome in ("passed", "skipped", "xfailed"):
                outcome = "error"
            messages.append(_text(r))
    return outcome, "\n".join(m for m in messages if m)


# captured output kept in a case: its head and its tail (where the end of
# a failing run is), so that a test printing megabytes does not make every
# result file that large
OUTPUT_HEAD = 16 * 1024
OUTPUT_TAIL = 48 * 1024


def _bounded(text):
    if len(text) <= OUTPUT_HEAD + OUTPUT_TAIL:
        return text
    omitted = len(text) - OUTPUT_HEAD - OUTPUT_TAIL
    return "%s\n[... %d characters of output omitted by tach ...]\n%s" % (
        text[:OUTPUT_HEAD], omitted, text[-OUTPUT_TAIL:])


def pytest_runtest_logfinish(nodeid, location):
    reports = _reports.pop(nodeid, [])
    outcome, message = _outcome(reports)
    last = reports[-1] if reports else None
    case = {
        "event": "case",
        "nodeid": nodeid,
        "outcome": outcome,
        "duration": sum(r.duration for r in reports),
        "message": message,
        "stdout": _bounded(last.capstdout) if last else "",
        "stderr": _bounded(last.capstderr) if last else "",
    }
    denied = _tach.take_denied() if _tach is not None else None
    if not denied and _tach is not None:
        denied = _spawn_denied
    if denied:
        case["denied"] = denied
        # a worker the Dome stopped a test in is not reset for another
        if hasattr(_tach, "retire"):
            _tach.retire()
    _emit(case, flush=not _hold_cases)


def hold_cases():
    """In a test process whose end nothing else runs before: a test's
    result need not be written before the next test's start."""
    global _hold_cases
    _hold_cases = True


def pytest_sessionfinish(session, exitstatus):
    _emit({"event": "finish", "exitstatus": int(exitstatus)})
