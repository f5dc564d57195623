"""tach_compat - every pytest internal that tach's Python touches, in one
place, behind a version check.

tach_zygote and tach_harness use pytest's public hooks wherever they can;
what they cannot do with hooks (configuring pytest and starting a session
without running it, collecting one file, building a test item of nothing,
pointing pytest's capture at another descriptor) goes through the functions
below, each written against the _pytest modules of the versions listed in
KNOWN. Another version stops the zygote with one clear line, never a
traceback from deep inside pytest.

PYTEST_DONT_REWRITE
"""

import fnmatch
import os
import sys
from pathlib import Path

import pytest

KNOWN = ((7, 0), (9, 99))       # first and last (major, minor) known


def version():
    parts = []
    for p in pytest.__version__.split(".")[:2]:
        digits = "".join(c for c in p if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts + [0] * (2 - len(parts)))


def check():
    """Raises RuntimeError when this pytest is one tach does not know."""
    v = version()
    if not KNOWN[0] <= v <= KNOWN[1]:
        raise RuntimeError(
            "tach supports pytest %d.%d to %d.x; %s is pytest %s"
            % (KNOWN[0] + (KNOWN[1][0],) + (os.path.dirname(pytest.__file__), pytest.__version__)))


def prepare_config(args, plugins, defer_conftests=False):
    """A Config as `pytest ARGS` makes it, configured (pytest_configure has
    run), with plugins (objects) registered first. With defer_conftests, the
    initial conftest.py files are not loaded: load_initial_conftests loads
    them later, as pytest would have (their pytest_addoption and
    pytest_configure run then, pluggy's historic calls)."""
    from _pytest.config import PytestPluginManager, _prepareconfig

    if version() >= (8, 2):
        # pytest's main() says who runs the tests; tests may look
        os.environ["PYTEST_VERSION"] = pytest.__version__
    real = PytestPluginManager._set_initial_conftests

    def defer(self, *a, **k):
        # until then no conftest.py is looked for
        self._tach_initial = (a, k)
        self._noconftest = True
    if defer_conftests:
        PytestPluginManager._set_initial_conftests = defer
    try:
        config = _prepareconfig(list(args), plugins=list(plugins))
    finally:
        PytestPluginManager._set_initial_conftests = real
    config._do_configure()
    return config


def load_initial_conftests(config):
    """Loads the conftest.py files a configuration made with
    defer_conftests left out."""
    from _pytest.config import PytestPluginManager

    pm = config.pluginmanager
    deferred = getattr(pm, "_tach_initial", None)
    if deferred is not None:
        del pm._tach_initial
        PytestPluginManager._set_initial_conftests(pm, *deferred[0], **deferred[1])


def call_late(config, name, known, /, **kwargs):
    """Calls hook name on the plugins registered since known (a set of
    plugins) only."""
    pm = config.pluginmanager
    return pm.subset_hook_caller(name, remove_plugins=known)(**kwargs)


def start_session(config):
    """A Session that has started (pytest_sessionstart has run)."""
    from _pytest.main import Session

    session = Session.from_config(config)
    session.exitstatus = 0
    config.hook.pytest_sessionstart(session=session)
    return session


def silence_terminal(config):
    """Unregisters the terminal reporter: nobody sees it, and its hooks would
    cost every test. Returns the file it was pointed at (kept open)."""
    from _pytest.config import create_terminal_writer

    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr is None:
        return None
    sink = open(os.devnull, "w")
    tr._tw = create_terminal_writer(config, sink)
    config.pluginmanager.unregister(tr)
    return sink


def collect(session, relpath):
    """Collects one file as `pytest relpath` would, returns its items."""
    return list(session.perform_collect([relpath]))


def default_plugins():
    """The modules of pytest's own plugins, to import ahead of a session."""
    from _pytest import config
    names = getattr(config, "default_plugins", ())
    return ["_pytest." + n for n in names if isinstance(n, str)]


def preload_plugins():
    """Imports the plugins a session would load from entry points the way
    pytest does (their modules marked for assertion rewriting, imported
    through its import hook), into a configuration thrown away after: a
    session forked later finds them imported and rewritten, and warns of
    nothing. Nothing when PYTEST_DISABLE_PLUGIN_AUTOLOAD is set."""
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return
    import inspect
    from _pytest.assertion import install_importhook
    from _pytest.config import get_config

    config = get_config()
    # no ini file is read: every ini value is its default
    for attr in ("inicfg", "_inicfg"):
        if attr in ("_inicfg",) or not hasattr(type(config), attr):
            if not hasattr(config, attr) or getattr(config, attr, None) is None:
                try:
                    setattr(config, attr, {})
                except AttributeError:
                    pass
    hook = install_importhook(config)
    try:
        mark = config._mark_plugins_for_rewrite
        if "disable_autoload" in inspect.signature(mark).parameters:
            mark(hook, False)
        else:
            mark(hook)
        config.pluginmanager.load_setuptools_entrypoints("pytest11")
    finally:
        if hook in sys.meta_path:
            sys.meta_path.remove(hook)


def main(args):
    """A whole pytest session (pytest.main), its exit status."""
    import pytest
    return pytest.main(args)


def usage_error():
    from _pytest.config.exceptions import UsageError

    return UsageError


def warm_item(session, path, fn):
    """A test item that runs fn: no fixtures, and a path outside the root,
    so no conftest.py hook applies to it."""
    from _pytest.fixtures import FuncFixtureInfo
    from _pytest.python import Function, Module

    mod = Module.from_parent(session, path=Path(path))
    info = FuncFixtureInfo(argnames=(), initialnames=(), names_closure=[], name2fixturedefs={})
    return Function.from_parent(mod, name="tach_warm", callobj=fn, fixtureinfo=info)


def global_capture(config, on):
    """Starts or stops pytest's global output capture (fd level)."""
    capman = config.pluginmanager.get_plugin("capturemanager")
    if capman is None:
        return
    if on:
        capman.start_global_capturing()
    else:
        capman.stop_global_capturing()


def capture_saved_fds(config):
    """The descriptors pytest's global capture restores stdout and stderr
    from."""
    capman = config.pluginmanager.get_plugin("capturemanager")
    mc = capman._global_capturing if capman is not None else None
    fds = []
    for cap in (getattr(mc, "out", None), getattr(mc, "err", None)):
        saved = getattr(cap, "targetfd_save", None)
        if saved is not None:
            fds.append(saved)
    return fds


def tmp_root(config):
    """The base directory pytest's tmp_path_factory gives this session
    (pytest-of-USER/pytest-N, or --basetemp, emptied), made now, or None."""
    factory = getattr(config, "_tmp_path_factory", None)
    return factory.getbasetemp() if factory is not None else None


def set_basetemp(config, make):
    """Makes tmp_path and tmpdir of this process live under the directory
    make() makes and returns the first time one of them asks for it (most
    tests never do: no directory made and removed for them); when make()
    fails, under the session's base directory, as before."""
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is None:
        return

    session = factory._basetemp

    def getbasetemp():
        if factory._basetemp is None:
            try:
                factory._basetemp = make()
            except OSError:
                # as pytest would: the session's own
                factory._basetemp = session
                if session is None:
                    del factory.getbasetemp
                    return factory.getbasetemp()
        return factory._basetemp

    factory._basetemp = None
    factory.getbasetemp = getbasetemp


def faulthandler_fds(config):
    """The descriptors pytest's faulthandler plugin writes tracebacks to (a
    crash, faulthandler_timeout): copies of the stderr pytest was configured
    with."""
    fds = []
    try:
        from _pytest import faulthandler as fh
    except ImportError:
        return fds
    for name in ("fault_handler_stderr_fd_key", "fault_handler_stderr_key"):
        key = getattr(fh, name, None)
        if key is None or key not in config.stash:
            continue
        v = config.stash[key]
        fds.append(v if isinstance(v, int) else v.fileno())
    return fds


def ignored(session, path):
    """Whether pytest, collecting the invocation directory (or testpaths),
    would never reach path: a conftest's collect_ignore or
    collect_ignore_glob, --ignore, --ignore-glob, norecursedirs, a
    virtualenv, or a plugin's pytest_ignore_collect, on the file or any
    directory between the rootdir and it. Collecting a file named on the
    command line skips those checks, which is why they are made here."""
    config = session.config
    path = Path(os.path.abspath(path))
    start = Path(str(config.rootpath))
    try:
        rel = path.relative_to(start)
    except ValueError:
        return False
    norecurse = config.getini("norecursedirs")
    p = start
    parts = rel.parts
    for i, part in enumerate(parts):
        p = p / part
        is_dir = i < len(parts) - 1
        if is_dir and (part == "__pycache__"
                       or any(_fnmatch_ex(pat, p) for pat in norecurse)):
            return True
        ihook = session.gethookproxy(p.parent if is_dir else p)
        if ihook.pytest_ignore_collect(collection_path=p, config=config):
            return True
    return False


def _fnmatch_ex(pattern, path):
    # pytest's fnmatch_ex: a pattern without a separator matches the name
    name = path.name if os.sep not in pattern else str(path)
    return fnmatch.fnmatch(name, pattern)


def collected_files(session):
    """The files pytest's collection of its initial paths (the command
    line's, testpaths, or the invocation directory) would make collectors
    for: test modules, doctest modules and text files, a plugin's own kinds
    of file. Walks the directories as pytest does (ignore hooks,
    norecursedirs) and asks pytest_collect_file of each file, which makes a
    collector without importing anything. Paths are absolute."""
    config = session.config
    out = []
    seen = set()

    def consider(path, initial):
        if path in seen:
            return
        seen.add(path)
        ihook = session.gethookproxy(path)
        if not initial and ihook.pytest_ignore_collect(collection_path=path, config=config):
            return
        cols = ihook.pytest_collect_file(file_path=path, parent=session) or []
        if not isinstance(cols, (list, tuple)):
            cols = [cols]
        # a package's __init__.py stands for its directory, walked anyway
        if any(c is not None and type(c).__name__ != "Package" for c in cols):
            out.append(str(path))

    norecurse = config.getini("norecursedirs")
    for arg in config.args:
        path = Path(os.path.abspath(str(arg).split("::", 1)[0]))
        if path.is_file():
            consider(path, True)
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            d = Path(dirpath)
            keep = []
            for name in sorted(dirnames):
                sub = d / name
                if name == "__pycache__" or any(_fnmatch_ex(p, sub) for p in norecurse):
                    continue
                if session.gethookproxy(d).pytest_ignore_collect(collection_path=sub, config=config):
                    continue
                keep.append(name)
            dirnames[:] = keep
            for name in sorted(filenames):
                consider(d / name, False)
    return out
