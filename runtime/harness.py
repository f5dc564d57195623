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

import faulthandler
import json
import os
import signal

import pytest

try:
    import _tach  # built into the hypervisor's interpreter
except ImportError:
    _tach = None

_path = os.environ.get("TACH_RESULT_FILE")
_out = None
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


def _emit(obj):
    if _out is not None:
        _out.write(json.dumps(_clean(obj)) + "\n")
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
        "markers", "toxic: tach runs this test in a fresh interpreter (isolated mode)")
    config.addinivalue_line(
        "markers", "timeout(seconds): tach stops this test after that many seconds")
    _emit({"event": "configure"})


def pytest_collection_finish(session):
    _emit({"event": "collected", "nodeids": [i.nodeid for i in session.items]})


def pytest_collectreport(report):
    if report.failed:
        _emit({"event": "collecterror", "nodeid": report.nodeid, "message": _text(report)})


def pytest_deselected(items):
    # -m/-k in addopts, or a plugin, left these out: they are skipped, not missing
    _emit({"event": "deselected", "nodeids": [i.nodeid for i in items]})


_spawn_denied = None

# Process creation (fork, vfork, clone) fails with plain EPERM under the
# dome, without the trap that names other calls: callers block every signal
# around it. Name it from where the PermissionError came from.
_SPAWNERS = ("_execute_child", "_posix_spawn", "_launch", "fork", "posix_spawn",
             "posix_spawnp", "spawnv", "spawnve", "system", "popen")


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


def _expire(nodeid, seconds):
    # a watchdog thread: the test overran its marker; say so and end the
    # process, which the runtime reports as a timeout
    if _crash_fd is not None:
        faulthandler.dump_traceback(file=_crash_fd, all_threads=True)
    _emit({"event": "timeout", "nodeid": nodeid, "seconds": seconds})
    os._exit(124)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
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
    _emit({"event": "start", "nodeid": nodeid})


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
        "stdout": last.capstdout if last else "",
        "stderr": last.capstderr if last else "",
    }
    denied = _tach.take_denied() if _tach is not None else None
    if not denied and outcome in ("failed", "error"):
        denied = _spawn_denied
    if denied:
        case["denied"] = denied
    _emit(case)


def pytest_sessionfinish(session, exitstatus):
    _emit({"event": "finish", "exitstatus": int(exitstatus)})
