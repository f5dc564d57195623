/* test_pyparse - unit tests for the analyzer (gen/analyze/pyparse.c).
 *
 * Each case analyzes a small Python source and checks the report: imports
 * with their fields and order, and causes with their exact kind, name,
 * reason, line and import_time. Every rule has cases that must fire and
 * cases that must not. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/analyze/analyze.h"
#include "tach/report.h"
#include "lib/util.h"

static struct rules *rules;
static struct analyzer *an;

static int
setup(void **state)
{
	(void)state;
	/* the tests before test_precise_* pin the strict policy's rules */
	rules = rules_new();
	rules_set_policy(rules, POLICY_STRICT);
	an = analyzer_new(rules);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	analyzer_free(an);
	rules_free(rules);
	return 0;
}

static struct report *
run(const char *src)
{
	struct report *r = analyzer_run(an, src, strlen(src), "t.py");

	assert_non_null(r);
	return r;
}

static const struct cause *
find_cause(const struct report *r, const char *reason)
{
	size_t i;

	for (i = 0; i < r->ncauses; i++)
		if (strcmp(r->causes[i].reason, reason) == 0)
			return &r->causes[i];
	return NULL;
}

/* Prints the causes to help when an assertion fails. */
static void
dump(const struct report *r)
{
	size_t i;

	for (i = 0; i < r->ncauses; i++)
		print_message("# cause %zu: %s [%s, %s, line %d]\n", i, r->causes[i].reason,
		              cause_kind_name(r->causes[i].kind), r->causes[i].name, r->causes[i].line);
}

/* Asserts that r has a cause with exactly this kind, name, reason, line
 * and import_time. */
static void
check_cause(const struct report *r, enum cause_kind kind, const char *name, const char *reason, int line,
            bool import_time)
{
	const struct cause *c = find_cause(r, reason);

	if (!c)
		dump(r);
	assert_non_null(c);
	assert_int_equal(c->kind, kind);
	assert_string_equal(c->name, name);
	assert_int_equal(c->line, line);
	assert_int_equal(c->import_time, import_time);
}

static void
check_import(const struct report *r, size_t i, const char *module, const char *name, int level, int line,
             bool import_time, bool dynamic)
{
	const struct pyimport *p;

	assert_true(i < r->nimports);
	p = &r->imports[i];
	assert_string_equal(p->module, module);
	if (name)
		assert_string_equal(p->name, name);
	else
		assert_null(p->name);
	assert_int_equal(p->level, level);
	assert_int_equal(p->line, line);
	assert_int_equal(p->import_time, import_time);
	assert_int_equal(p->dynamic, dynamic);
}

static void
check_no_causes(const struct report *r)
{
	if (r->ncauses)
		dump(r);
	assert_int_equal(r->ncauses, 0);
	assert_int_equal(r->parse_error_line, 0);
}

/* imports: every form */

static void
test_import_plain(void **state)
{
	struct report *r = run("import os\n");

	(void)state;
	assert_int_equal(r->nimports, 1);
	check_import(r, 0, "os", NULL, 0, 1, true, false);
	check_no_causes(r);
	assert_false(policy_is_toxic(r));
	report_free(r);
}

static void
test_pytest_plugins(void **state)
{
	struct report *r = run("pytest_plugins = [\"helpers\", 'fixtures.db']\n"
	                       "pytest_plugins = \"one\"\n"
	                       "x = 1\n"
	                       "def f():\n    pytest_plugins = ['inner']\n"
	                       "class C:\n    pytest_plugins = ['cls']\n"
	                       "pytest_plugins = ['threading']\n");

	(void)state;
	assert_int_equal(r->nimports, 4);
	check_import(r, 0, "helpers", NULL, 0, 1, true, false);
	check_import(r, 1, "fixtures.db", NULL, 0, 1, true, false);
	check_import(r, 2, "one", NULL, 0, 2, true, false);
	check_import(r, 3, "threading", NULL, 0, 8, true, false);
	assert_true(policy_is_toxic(r));
	report_free(r);
}

static void
test_import_dotted_and_several(void **state)
{
	struct report *r = run("import a.b.c, d\nimport e . f\n");

	(void)state;
	assert_int_equal(r->nimports, 3);
	check_import(r, 0, "a.b.c", NULL, 0, 1, true, false);
	check_import(r, 1, "d", NULL, 0, 1, true, false);
	check_import(r, 2, "e.f", NULL, 0, 2, true, false);
	check_no_causes(r);
	report_free(r);
}

static void
test_import_as(void **state)
{
	struct report *r = run("import a as x, b.c as y\n");

	(void)state;
	assert_int_equal(r->nimports, 2);
	check_import(r, 0, "a", NULL, 0, 1, true, false);
	check_import(r, 1, "b.c", NULL, 0, 1, true, false);
	report_free(r);
}

static void
test_from_import(void **state)
{
	struct report *r = run("from a import b\nfrom a import b as y, c\nfrom a.b import (c,\n    d,)\n");

	(void)state;
	assert_int_equal(r->nimports, 5);
	check_import(r, 0, "a", "b", 0, 1, true, false);
	check_import(r, 1, "a", "b", 0, 2, true, false);
	check_import(r, 2, "a", "c", 0, 2, true, false);
	check_import(r, 3, "a.b", "c", 0, 3, true, false);
	check_import(r, 4, "a.b", "d", 0, 3, true, false);
	check_no_causes(r);
	report_free(r);
}

static void
test_relative_imports(void **state)
{
	struct report *r = run("from . import x\nfrom ..c import y\nfrom .a.b import z as w\n"
	                       "from ... import v\nfrom . import (p, q)\n");

	(void)state;
	assert_int_equal(r->nimports, 6);
	check_import(r, 0, "", "x", 1, 1, true, false);
	check_import(r, 1, "c", "y", 2, 2, true, false);
	check_import(r, 2, "a.b", "z", 1, 3, true, false);
	check_import(r, 3, "", "v", 3, 4, true, false);
	check_import(r, 4, "", "p", 1, 5, true, false);
	check_import(r, 5, "", "q", 1, 5, true, false);
	report_free(r);
}

static void
test_relative_imports_never_toxic(void **state)
{
	struct report *r = run("from . import threading\nfrom .socket import x\nfrom ..signal import *\n"
	                       "from .concurrent import futures\n");

	(void)state;
	assert_int_equal(r->nimports, 4);
	check_import(r, 2, "signal", "*", 2, 3, true, false);
	check_no_causes(r);
	report_free(r);
}

static void
test_future_import(void **state)
{
	struct report *r = run("from __future__ import annotations, division\n");

	(void)state;
	assert_int_equal(r->nimports, 2);
	check_import(r, 0, "__future__", "annotations", 0, 1, true, false);
	check_import(r, 1, "__future__", "division", 0, 1, true, false);
	check_no_causes(r);
	report_free(r);
}

static void
test_imports_not_deduped(void **state)
{
	struct report *r = run("import json\nimport json\nfrom json import loads, loads\n");

	(void)state;
	assert_int_equal(r->nimports, 4);
	report_free(r);
}

/* toxic imports */

static void
test_toxic_import(void **state)
{
	struct report *r = run("import os\n\nimport threading\n");

	(void)state;
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_THREADS, "threading", "Imports toxic module 'threading' (line 3)", 3, true);
	assert_true(policy_is_toxic(r));
	report_free(r);
}

static void
test_toxic_import_kinds(void **state)
{
	struct report *r = run("import socket\nimport subprocess\nimport ctypes\nimport signal\nimport cv2\n"
	                       "import grpc\nimport _thread\nimport multiprocessing\n");

	(void)state;
	assert_int_equal(r->ncauses, 8);
	check_cause(r, CAUSE_NETWORK, "socket", "Imports toxic module 'socket' (line 1)", 1, true);
	check_cause(r, CAUSE_SUBPROCESS, "subprocess", "Imports toxic module 'subprocess' (line 2)", 2, true);
	check_cause(r, CAUSE_FFI, "ctypes", "Imports toxic module 'ctypes' (line 3)", 3, true);
	check_cause(r, CAUSE_SIGNALS, "signal", "Imports toxic module 'signal' (line 4)", 4, true);
	check_cause(r, CAUSE_POISON_FORK, "cv2", "Imports toxic module 'cv2' (line 5)", 5, true);
	check_cause(r, CAUSE_POISON_FORK, "grpc", "Imports toxic module 'grpc' (line 6)", 6, true);
	check_cause(r, CAUSE_THREADS, "_thread", "Imports toxic module '_thread' (line 7)", 7, true);
	check_cause(r, CAUSE_THREADS, "multiprocessing", "Imports toxic module 'multiprocessing' (line 8)", 8,
	            true);
	report_free(r);
}

static void
test_toxic_dotted_boundary(void **state)
{
	struct report *r = run("import torch.nn\nimport pandas_helpers\nimport sockets\nimport my.threading\n"
	                       "import torchvision\n");

	(void)state;
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_POISON_FORK, "torch.nn", "Imports toxic module 'torch.nn' (line 1)", 1, true);
	report_free(r);
}

static void
test_toxic_import_as(void **state)
{
	struct report *r = run("import numpy as np\nimport pandas as pd\n");

	(void)state;
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_POISON_FORK, "pandas", "Imports toxic module 'pandas' (line 2)", 2, true);
	report_free(r);
}

static void
test_from_toxic_module(void **state)
{
	struct report *r = run("from threading import Thread, Lock\nfrom torch.nn import functional as F\n");

	(void)state;
	/* one cause per line and name */
	assert_int_equal(r->ncauses, 2);
	check_cause(r, CAUSE_THREADS, "threading", "Imports toxic module 'threading' (line 1)", 1, true);
	check_cause(r, CAUSE_POISON_FORK, "torch.nn", "Imports toxic module 'torch.nn' (line 2)", 2, true);
	report_free(r);
}

static void
test_from_toxic_submodule(void **state)
{
	struct report *r = run("from concurrent import futures\n");

	(void)state;
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_THREADS, "concurrent.futures",
	            "Imports toxic module 'concurrent.futures' (line 1)", 1, true);
	report_free(r);

	r = run("from concurrent import something_else\nfrom concurrent.futures import Future\n");
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_THREADS, "concurrent.futures",
	            "Imports toxic module 'concurrent.futures' (line 2)", 2, true);
	report_free(r);
}

static void
test_from_safe_module(void **state)
{
	struct report *r = run("from os import path\nfrom collections import abc\n"
	                       "from pandas_helpers import x\n");

	(void)state;
	check_no_causes(r);
	report_free(r);
}

static void
test_configured_toxic_module(void **state)
{
	const char *src = "from myco import heavy\nimport signal\nimport myco.light\n";
	struct rules *ru = rules_new();
	struct report *r;

	(void)state;
	rules_set_policy(ru, POLICY_STRICT);
	rules_add_toxic(ru, "myco.heavy");
	assert_true(rules_remove(ru, "signal"));
	r = analyze_file(ru, src, strlen(src), "t.py");
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_CONFIGURED, "myco.heavy", "Imports toxic module 'myco.heavy' (line 1)", 1, true);
	report_free(r);
	rules_free(ru);
}

/* star imports */

static void
test_star_import_toxic(void **state)
{
	struct report *r = run("import os\nfrom threading import *\n");

	(void)state;
	assert_int_equal(r->nimports, 2);
	check_import(r, 1, "threading", "*", 0, 2, true, false);
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_THREADS, "threading", "Star import from toxic module 'threading' (line 2)", 2,
	            true);
	report_free(r);
}

static void
test_star_import_safe(void **state)
{
	struct report *r = run("from os.path import *\nfrom collections import *\n");

	(void)state;
	assert_int_equal(r->nimports, 2);
	check_import(r, 0, "os.path", "*", 0, 1, true, false);
	check_no_causes(r);
	report_free(r);
}

/* import_time and where imports count */

static void
test_import_time_flags(void **state)
{
	struct report *r = run("import a\n"
	                       "def f():\n"
	                       "    import b\n"
	                       "class C:\n"
	                       "    import c\n"
	                       "    def m(self):\n"
	                       "        import d\n"
	                       "g = lambda: __import__('e')\n"
	                       "def outer():\n"
	                       "    class Inner:\n"
	                       "        import f\n");

	(void)state;
	assert_int_equal(r->nimports, 6);
	check_import(r, 0, "a", NULL, 0, 1, true, false);
	check_import(r, 1, "b", NULL, 0, 3, false, false);
	check_import(r, 2, "c", NULL, 0, 5, true, false);
	check_import(r, 3, "d", NULL, 0, 7, false, false);
	check_import(r, 4, "e", NULL, 0, 8, false, true);
	check_import(r, 5, "f", NULL, 0, 11, false, false);
	report_free(r);
}

static void
test_toxic_import_in_function(void **state)
{
	struct report *r = run("def f():\n    import subprocess\n    return subprocess\n");

	(void)state;
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_SUBPROCESS, "subprocess", "Imports toxic module 'subprocess' (line 2)", 2,
	            false);
	report_free(r);
}

static void
test_imports_in_try_and_platform_checks(void **state)
{
	struct report *r = run("import sys\n"
	                       "try:\n"
	                       "    import ctypes\n"
	                       "except ImportError:\n"
	                       "    ctypes = None\n"
	                       "if sys.platform == 'win32':\n"
	                       "    import socket\n"
	                       "with ctx():\n"
	                       "    from signal import SIGINT\n");

	(void)state;
	assert_int_equal(r->ncauses, 3);
	check_cause(r, CAUSE_FFI, "ctypes", "Imports toxic module 'ctypes' (line 3)", 3, true);
	check_cause(r, CAUSE_NETWORK, "socket", "Imports toxic module 'socket' (line 7)", 7, true);
	check_cause(r, CAUSE_SIGNALS, "signal", "Imports toxic module 'signal' (line 9)", 9, true);
	report_free(r);
}

static void
test_type_checking_ignored(void **state)
{
	struct report *r = run("from typing import TYPE_CHECKING\n"
	                       "if TYPE_CHECKING:\n"
	                       "    import threading\n"
	                       "    from socket import socket\n"
	                       "else:\n"
	                       "    import signal\n");

	(void)state;
	assert_int_equal(r->nimports, 2);
	check_import(r, 0, "typing", "TYPE_CHECKING", 0, 1, true, false);
	check_import(r, 1, "signal", NULL, 0, 6, true, false);
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_SIGNALS, "signal", "Imports toxic module 'signal' (line 6)", 6, true);
	report_free(r);
}

static void
test_type_checking_qualified(void **state)
{
	struct report *r = run("import typing\n"
	                       "import typing as t\n"
	                       "if typing.TYPE_CHECKING:\n"
	                       "    import threading\n"
	                       "if t.TYPE_CHECKING:\n"
	                       "    import socket\n"
	                       "if (TYPE_CHECKING):\n"
	                       "    import ctypes\n");

	(void)state;
	assert_int_equal(r->nimports, 2);
	check_no_causes(r);
	report_free(r);
}

static void
test_type_checking_elif_counts(void **state)
{
	struct report *r = run("if TYPE_CHECKING:\n"
	                       "    import threading\n"
	                       "elif sys.version_info < (3, 8):\n"
	                       "    import socket\n"
	                       "if x:\n"
	                       "    pass\n"
	                       "elif TYPE_CHECKING:\n"
	                       "    import ctypes\n"
	                       "else:\n"
	                       "    import signal\n");

	(void)state;
	assert_int_equal(r->ncauses, 2);
	check_cause(r, CAUSE_NETWORK, "socket", "Imports toxic module 'socket' (line 4)", 4, true);
	check_cause(r, CAUSE_SIGNALS, "signal", "Imports toxic module 'signal' (line 10)", 10, true);
	report_free(r);
}

static void
test_not_type_checking(void **state)
{
	struct report *r = run("if not TYPE_CHECKING:\n"
	                       "    import socket\n"
	                       "else:\n"
	                       "    import threading\n");

	(void)state;
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_NETWORK, "socket", "Imports toxic module 'socket' (line 2)", 2, true);
	report_free(r);
}

static void
test_type_checking_lookalikes_count(void **state)
{
	struct report *r = run("if TYPE_CHECKING_EXTRA:\n    import socket\n"
	                       "if TYPE_CHECKING and x:\n    import signal\n");

	(void)state;
	assert_int_equal(r->ncauses, 2);
	report_free(r);
}

static void
test_main_guard_ignored(void **state)
{
	struct report *r = run("import os\n"
	                       "if __name__ == \"__main__\":\n"
	                       "    import threading\n"
	                       "    threading.Thread(target=main).start()\n"
	                       "    exec(code)\n"
	                       "    __import__('socket')\n"
	                       "    os.fork()\n");

	(void)state;
	assert_int_equal(r->nimports, 1);
	check_no_causes(r);
	report_free(r);
}

static void
test_main_guard_forms(void **state)
{
	struct report *r = run("if '__main__' == __name__:\n"
	                       "    import socket\n"
	                       "if (__name__ == '''__main__'''):\n"
	                       "    import signal\n"
	                       "def f():\n"
	                       "    if __name__ == '__main__':\n"
	                       "        import ctypes\n");

	(void)state;
	assert_int_equal(r->nimports, 0);
	check_no_causes(r);
	report_free(r);
}

static void
test_main_lookalikes_count(void **state)
{
	struct report *r = run("if __name__ == 'main':\n"
	                       "    import socket\n"
	                       "if __name__ != '__main__':\n"
	                       "    import signal\n"
	                       "if name == '__main__':\n"
	                       "    import ctypes\n"
	                       "if __name__ == '__main__':\n"
	                       "    pass\n"
	                       "else:\n"
	                       "    import cffi\n");

	(void)state;
	assert_int_equal(r->ncauses, 4);
	check_cause(r, CAUSE_FFI, "cffi", "Imports toxic module 'cffi' (line 10)", 10, true);
	report_free(r);
}

/* dynamic code */

static void
test_exec(void **state)
{
	struct report *r = run("x = 1\n"
	                       "\n"
	                       "\n"
	                       "exec(code)\n"
	                       "def f():\n"
	                       "    exec('y = 2', {})\n");

	(void)state;
	assert_int_equal(r->ncauses, 2);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "exec", "Dynamic code: exec() (line 4)", 4, true);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "exec", "Dynamic code: exec() (line 6)", 6, false);
	assert_int_equal(r->nimports, 0);
	report_free(r);
}

static void
test_exec_once_per_line(void **state)
{
	struct report *r = run("exec(a); exec(b)\nexec(c)\n");

	(void)state;
	assert_int_equal(r->ncauses, 2);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "exec", "Dynamic code: exec() (line 1)", 1, true);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "exec", "Dynamic code: exec() (line 2)", 2, true);
	report_free(r);
}

static void
test_builtins_exec(void **state)
{
	struct report *r = run("import builtins\nbuiltins.exec(code)\nbuiltins.__import__(name)\n");

	(void)state;
	assert_int_equal(r->ncauses, 2);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "exec", "Dynamic code: exec() (line 2)", 2, true);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "__import__", "Dynamic import: __import__() (line 3)", 3, true);
	report_free(r);
}

static void
test_exec_method_not_dynamic(void **state)
{
	struct report *r = run("db.exec('select 1')\n"
	                       "cursor.execute(q)\n"
	                       "self.exec_(x)\n"
	                       "conn.execute_many(q)\n"
	                       "obj.__import__(x)\n"
	                       "executor(x)\n");

	(void)state;
	check_no_causes(r);
	report_free(r);
}

static void
test_dynamic_mentions_not_dynamic(void **state)
{
	struct report *r = run("\"\"\"Calls exec() and __import__('threading').\n"
	                       "import socket\n"
	                       "\"\"\"\n"
	                       "# exec(code); import socket\n"
	                       "s = \"importlib.import_module('x')\"\n"
	                       "t = f'no call: {exec}'\n"
	                       "def f():\n"
	                       "    '''os.fork() exec(x)'''\n");

	(void)state;
	assert_int_equal(r->nimports, 0);
	check_no_causes(r);
	report_free(r);
}

static void
test_exec_in_fstring(void **state)
{
	struct report *r = run("s = f\"{exec(code)}\"\n");

	(void)state;
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "exec", "Dynamic code: exec() (line 1)", 1, true);
	report_free(r);
}

static void
test_dunder_import_literal(void **state)
{
	struct report *r = run("import os\nmod = __import__(\"socket\")\n");

	(void)state;
	assert_int_equal(r->nimports, 2);
	check_import(r, 1, "socket", NULL, 0, 2, true, true);
	assert_int_equal(r->ncauses, 2);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "__import__", "Dynamic import: __import__() (line 2)", 2, true);
	check_cause(r, CAUSE_NETWORK, "socket", "Imports toxic module 'socket' (line 2)", 2, true);
	report_free(r);
}

static void
test_dunder_import_not_literal(void **state)
{
	struct report *r = run("mod = __import__(name)\n"
	                       "m2 = __import__(f'x{y}')\n"
	                       "m3 = __import__(b'json')\n");

	(void)state;
	assert_int_equal(r->nimports, 0);
	assert_int_equal(r->ncauses, 3);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "__import__", "Dynamic import: __import__() (line 1)", 1, true);
	report_free(r);
}

static void
test_import_module(void **state)
{
	struct report *r = run("import importlib\n"
	                       "\n"
	                       "def load():\n"
	                       "    pass\n"
	                       "\n"
	                       "\n"
	                       "m = importlib.import_module('json.decoder')\n");

	(void)state;
	assert_int_equal(r->nimports, 2);
	check_import(r, 1, "json.decoder", NULL, 0, 7, true, true);
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "importlib.import_module",
	            "Dynamic import: importlib.import_module() (line 7)", 7, true);
	report_free(r);
}

static void
test_import_module_aliases(void **state)
{
	struct report *r = run("import importlib as il\n"
	                       "from importlib import import_module as im\n"
	                       "from importlib import import_module\n"
	                       "def f(x):\n"
	                       "    il.import_module(x)\n"
	                       "im('pandas.io')\n"
	                       "import_module(x)\n");

	(void)state;
	assert_int_equal(r->ncauses, 4);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "importlib.import_module",
	            "Dynamic import: importlib.import_module() (line 5)", 5, false);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "importlib.import_module",
	            "Dynamic import: importlib.import_module() (line 6)", 6, true);
	check_cause(r, CAUSE_POISON_FORK, "pandas.io", "Imports toxic module 'pandas.io' (line 6)", 6, true);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "importlib.import_module",
	            "Dynamic import: importlib.import_module() (line 7)", 7, true);
	check_import(r, 3, "pandas.io", NULL, 0, 6, true, true);
	report_free(r);
}

static void
test_import_module_relative(void **state)
{
	struct report *r = run("import importlib\n"
	                       "a = importlib.import_module('..sibling', __package__)\n"
	                       "b = importlib.import_module('.threading', 'pkg')\n");

	(void)state;
	assert_int_equal(r->nimports, 3);
	check_import(r, 1, "sibling", NULL, 2, 2, true, true);
	check_import(r, 2, "threading", NULL, 1, 3, true, true);
	/* relative: never matched against the table */
	assert_int_equal(r->ncauses, 2);
	assert_null(find_cause(r, "Imports toxic module 'threading' (line 3)"));
	report_free(r);
}

static void
test_import_module_unrelated(void **state)
{
	struct report *r = run("loader.import_module('x')\nimport_module('y')\nmy_import_module('z')\n");

	(void)state;
	check_no_causes(r);
	assert_int_equal(r->nimports, 0);
	report_free(r);
}

static void
test_dynamic_imports_in_source_order(void **state)
{
	struct report *r = run("x = __import__('json'); import os\nimport sys\n__import__('csv')\n");

	(void)state;
	assert_int_equal(r->nimports, 4);
	check_import(r, 0, "json", NULL, 0, 1, true, true);
	check_import(r, 1, "os", NULL, 0, 1, true, false);
	check_import(r, 2, "sys", NULL, 0, 2, true, false);
	check_import(r, 3, "csv", NULL, 0, 3, true, true);
	report_free(r);
}

/* calls at module scope */

static void
test_module_scope_thread(void **state)
{
	struct report *r = run("import threading\nt = threading.Thread(target=run)\n");

	(void)state;
	assert_int_equal(r->ncauses, 2);
	check_cause(r, CAUSE_MODULE_SCOPE_CALL, "threading.Thread",
	            "Calls threading.Thread() at module scope (line 2)", 2, true);
	report_free(r);
}

static void
test_module_scope_aliases(void **state)
{
	struct report *r = run("import threading as t\n"
	                       "from threading import Thread\n"
	                       "from threading import Thread as T\n"
	                       "t.Thread()\n"
	                       "Thread()\n"
	                       "T()\n");

	(void)state;
	check_cause(r, CAUSE_MODULE_SCOPE_CALL, "threading.Thread",
	            "Calls threading.Thread() at module scope (line 4)", 4, true);
	check_cause(r, CAUSE_MODULE_SCOPE_CALL, "threading.Thread",
	            "Calls threading.Thread() at module scope (line 5)", 5, true);
	check_cause(r, CAUSE_MODULE_SCOPE_CALL, "threading.Thread",
	            "Calls threading.Thread() at module scope (line 6)", 6, true);
	report_free(r);
}

static void
test_module_scope_pool_and_ssl(void **state)
{
	struct report *r = run("import multiprocessing, ssl\n"
	                       "pool = multiprocessing.Pool(4)\n"
	                       "ctx = ssl.create_default_context()\n"
	                       "def f(c=ssl.create_default_context()):\n"
	                       "    pass\n");

	(void)state;
	assert_int_equal(r->ncauses, 4);
	check_cause(r, CAUSE_MODULE_SCOPE_CALL, "multiprocessing.Pool",
	            "Calls multiprocessing.Pool() at module scope (line 2)", 2, true);
	check_cause(r, CAUSE_MODULE_SCOPE_CALL, "ssl.create_default_context",
	            "Calls ssl.create_default_context() at module scope (line 3)", 3, true);
	/* default values are evaluated when the def runs, at import */
	check_cause(r, CAUSE_MODULE_SCOPE_CALL, "ssl.create_default_context",
	            "Calls ssl.create_default_context() at module scope (line 4)", 4, true);
	report_free(r);
}

static void
test_module_scope_class_body(void **state)
{
	struct report *r = run("import ssl\nclass Client:\n    ctx = ssl.create_default_context()\n");

	(void)state;
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_MODULE_SCOPE_CALL, "ssl.create_default_context",
	            "Calls ssl.create_default_context() at module scope (line 3)", 3, true);
	report_free(r);
}

static void
test_module_scope_not_in_def(void **state)
{
	struct report *r = run("import ssl\n"
	                       "from threading import Thread\n"
	                       "def f():\n"
	                       "    Thread(target=g).start()\n"
	                       "    return ssl.create_default_context()\n"
	                       "h = lambda: Thread()\n"
	                       "class C:\n"
	                       "    def m(self):\n"
	                       "        self.t = Thread()\n");

	(void)state;
	/* only the import of threading */
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_THREADS, "threading", "Imports toxic module 'threading' (line 2)", 2, true);
	report_free(r);
}

static void
test_module_scope_unrelated(void **state)
{
	struct report *r = run("Thread()\nx.Thread()\nmy.ssl.create_default_context()\nPool()\n"
	                       "import mythreading\nmythreading.Thread()\n");

	(void)state;
	check_no_causes(r);
	report_free(r);
}

/* process spawning */

static void
test_spawn_fork(void **state)
{
	struct report *r = run("import os\n\npid = os.fork()\n");

	(void)state;
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_SUBPROCESS, "os.fork", "Spawns a process: os.fork() (line 3)", 3, true);
	report_free(r);
}

static void
test_spawn_in_function(void **state)
{
	struct report *r = run("import os\ndef run(cmd):\n    return os.system(cmd)\n");

	(void)state;
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_SUBPROCESS, "os.system", "Spawns a process: os.system() (line 3)", 3, false);
	report_free(r);
}

static void
test_spawn_aliases(void **state)
{
	struct report *r = run("import os as o\n"
	                       "from os import system\n"
	                       "from os import fork as f\n"
	                       "o.popen('ls')\n"
	                       "system('ls')\n"
	                       "def g():\n"
	                       "    f()\n");

	(void)state;
	assert_int_equal(r->ncauses, 3);
	check_cause(r, CAUSE_SUBPROCESS, "os.popen", "Spawns a process: os.popen() (line 4)", 4, true);
	check_cause(r, CAUSE_SUBPROCESS, "os.system", "Spawns a process: os.system() (line 5)", 5, true);
	check_cause(r, CAUSE_SUBPROCESS, "os.fork", "Spawns a process: os.fork() (line 7)", 7, false);
	report_free(r);
}

static void
test_spawn_all_functions(void **state)
{
	static const char *fns[] = {
		"fork", "forkpty", "system", "popen", "execl", "execle", "execlp", "execlpe", "execv",
		"execve", "execvp", "execvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv",
		"spawnve", "spawnvp", "spawnvpe", "posix_spawn", "posix_spawnp",
	};
	char src[128], reason[128], name[64];
	struct report *r;
	size_t i;

	(void)state;
	for (i = 0; i < LEN(fns); i++) {
		snprintf(src, sizeof(src), "import os\nos.%s(a, b)\n", fns[i]);
		snprintf(reason, sizeof(reason), "Spawns a process: os.%s() (line 2)", fns[i]);
		snprintf(name, sizeof(name), "os.%s", fns[i]);
		r = run(src);
		assert_int_equal(r->ncauses, 1);
		check_cause(r, CAUSE_SUBPROCESS, name, reason, 2, true);
		report_free(r);
	}
}

static void
test_spawn_star_import(void **state)
{
	struct report *r = run("from os import *\nsystem('ls')\n");

	(void)state;
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_SUBPROCESS, "os.system", "Spawns a process: os.system() (line 2)", 2, true);
	report_free(r);
}

static void
test_spawn_unrelated(void **state)
{
	struct report *r = run("import os\n"
	                       "myobj.system('x')\n"
	                       "wrapper.fork()\n"
	                       "os.path.join(a, b)\n"
	                       "os.getpid()\n"
	                       "system('ls')\n"
	                       "fork()\n"
	                       "os.forked()\n");

	(void)state;
	check_no_causes(r);
	report_free(r);
}

static void
test_spawn_spelled_oddly(void **state)
{
	struct report *r = run("import os\n(os.fork)()\nos . system('x')\nos.\\\n    popen('y')\n");

	(void)state;
	assert_int_equal(r->ncauses, 3);
	check_cause(r, CAUSE_SUBPROCESS, "os.fork", "Spawns a process: os.fork() (line 2)", 2, true);
	check_cause(r, CAUSE_SUBPROCESS, "os.system", "Spawns a process: os.system() (line 3)", 3, true);
	check_cause(r, CAUSE_SUBPROCESS, "os.popen", "Spawns a process: os.popen() (line 4)", 4, true);
	report_free(r);
}

/* dynamic code through a name bound to a builtin */

static void
test_exec_alias(void **state)
{
	struct report *r = run("e = exec\n"
	                       "e(\"x = 1\")\n"
	                       "def f(code):\n"
	                       "    run = exec\n"
	                       "    run(code)\n");

	(void)state;
	assert_int_equal(r->ncauses, 2);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "exec", "Dynamic code: exec() (line 2)", 2, true);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "exec", "Dynamic code: exec() (line 5)", 5, false);
	assert_int_equal(r->nimports, 0);
	report_free(r);
}

static void
test_dunder_import_alias(void **state)
{
	struct report *r = run("imp = __import__\nm = imp(\"socket\")\n");

	(void)state;
	assert_int_equal(r->nimports, 1);
	check_import(r, 0, "socket", NULL, 0, 2, true, true);
	assert_int_equal(r->ncauses, 2);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "__import__", "Dynamic import: __import__() (line 2)", 2, true);
	check_cause(r, CAUSE_NETWORK, "socket", "Imports toxic module 'socket' (line 2)", 2, true);
	report_free(r);
}

static void
test_import_module_value_alias(void **state)
{
	struct report *r = run("load = il.import_module\n"
	                       "import importlib as il\n"
	                       "import importlib\n"
	                       "get = importlib.import_module\n"
	                       "load('json')\n"
	                       "def f(x):\n"
	                       "    return get(x)\n");

	(void)state;
	assert_int_equal(r->nimports, 3);
	check_import(r, 2, "json", NULL, 0, 5, true, true);
	assert_int_equal(r->ncauses, 2);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "importlib.import_module",
	            "Dynamic import: importlib.import_module() (line 5)", 5, true);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "importlib.import_module",
	            "Dynamic import: importlib.import_module() (line 7)", 7, false);
	report_free(r);
}

static void
test_builtins_aliases(void **state)
{
	struct report *r = run("from builtins import exec as run\n"
	                       "import builtins as b\n"
	                       "run(code)\n"
	                       "b.exec(code)\n"
	                       "b.__import__(name)\n"
	                       "ex = b.exec\n"
	                       "ex(code)\n"
	                       "imp = builtins.__import__\n"
	                       "imp(name)\n");

	(void)state;
	assert_int_equal(r->ncauses, 5);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "exec", "Dynamic code: exec() (line 3)", 3, true);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "exec", "Dynamic code: exec() (line 4)", 4, true);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "__import__", "Dynamic import: __import__() (line 5)", 5, true);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "exec", "Dynamic code: exec() (line 7)", 7, true);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "__import__", "Dynamic import: __import__() (line 9)", 9, true);
	report_free(r);
}

static void
test_exec_alias_unrelated(void **state)
{
	struct report *r = run("db.exec('select 1')\n"
	                       "self.exec(x)\n"
	                       "run = db.exec\n"
	                       "run(q)\n"
	                       "go = self.exec\n"
	                       "go(q)\n"
	                       "e = executor\n"
	                       "e(x)\n"
	                       "f = exec_\n"
	                       "f(x)\n"
	                       "g == exec\n"
	                       "g(x)\n"
	                       "h = exec.x\n"
	                       "h(x)\n"
	                       "k = exec\n"
	                       "m = loader.import_module\n"
	                       "m(x)\n");

	(void)state;
	check_no_causes(r);
	assert_int_equal(r->nimports, 0);
	report_free(r);
}

/* aliases bound by any form of assignment */

static void
test_alias_assignment_forms(void **state)
{
	static const struct {
		const char *src;
		const char *name, *reason;
		enum cause_kind kind;
		int line;
	} cases[] = {
		{"run: object = exec\nrun(\"x=1\")\n", "exec", "Dynamic code: exec() (line 2)",
		 CAUSE_DYNAMIC_IMPORT, 2},
		{"run = (exec)\nrun(\"x=1\")\n", "exec", "Dynamic code: exec() (line 2)", CAUSE_DYNAMIC_IMPORT, 2},
		{"run: object = exec; run(\"x=1\")\n", "exec", "Dynamic code: exec() (line 1)",
		 CAUSE_DYNAMIC_IMPORT, 1},
		{"import os\nsp: Callable = os.system\nsp(\"ls\")\n", "os.system",
		 "Spawns a process: os.system() (line 3)", CAUSE_SUBPROCESS, 3},
		{"import os\nx = sp = os.system\nsp(\"ls\")\n", "os.system",
		 "Spawns a process: os.system() (line 3)", CAUSE_SUBPROCESS, 3},
		{"import os\nx = sp = os.system\nx(\"ls\")\n", "os.system",
		 "Spawns a process: os.system() (line 3)", CAUSE_SUBPROCESS, 3},
		{"import os\nsp, x = os.system, 1\nsp(\"ls\")\n", "os.system",
		 "Spawns a process: os.system() (line 3)", CAUSE_SUBPROCESS, 3},
		{"import os\n(x, [sp, y]) = 1, (os.system, 2)\nsp(\"ls\")\n", "os.system",
		 "Spawns a process: os.system() (line 3)", CAUSE_SUBPROCESS, 3},
		{"import os\nsp = os . system\nsp(\"ls\")\n", "os.system",
		 "Spawns a process: os.system() (line 3)", CAUSE_SUBPROCESS, 3},
		{"import os\nsp = \\\n    os.system\nsp(\"ls\")\n", "os.system",
		 "Spawns a process: os.system() (line 4)", CAUSE_SUBPROCESS, 4},
		{"import os as o\nsp = (o).system\nsp(\"ls\")\n", "os.system",
		 "Spawns a process: os.system() (line 3)", CAUSE_SUBPROCESS, 3},
		{"def f():\n    run: object = exec\n    run(x)\n", "exec", "Dynamic code: exec() (line 3)",
		 CAUSE_DYNAMIC_IMPORT, 3},
	};
	struct report *r;
	size_t i;

	(void)state;
	for (i = 0; i < LEN(cases); i++) {
		r = run(cases[i].src);
		if (r->ncauses != 1)
			print_message("# source: %s", cases[i].src);
		assert_int_equal(r->ncauses, 1);
		check_cause(r, cases[i].kind, cases[i].name, cases[i].reason, cases[i].line,
		            strncmp(cases[i].src, "def", 3) != 0);
		report_free(r);
	}
}

static void
test_alias_assignment_forms_unrelated(void **state)
{
	static const char *const srcs[] = {
		"db.exec()\n",
		"run = db.exec\nrun()\n",
		"run: object = db.exec\nrun()\n",
		"run = (db.exec)\nrun()\n",
		"x = run = db.exec\nrun()\n",
		"run, x = db.exec, exec\nrun()\n",
		"x, run = exec\nrun()\n",
		"x, *run = 1, exec\nrun()\n",
		"*x, run = exec, 1\nrun()\n",
		"run, x = exec, 1\nx()\n",
		"e = executor\ne()\n",
		"e: object = executor\ne()\n",
		"e = (executor)\ne()\n",
		"k = exec\n",
		"k: object = exec\nk = 1\n",
		"x = k = exec\n",
		"k: object\nk()\n",
		"k = db.exec()\nk()\n",
		"k = 'exec'\nk()\n",
		"k = [exec]\nk()\n",
		"import os\nsp = os.system.x\nsp()\n",
		"import os\nsp = os.systems\nsp()\n",
	};
	struct report *r;
	size_t i;

	(void)state;
	for (i = 0; i < LEN(srcs); i++) {
		r = run(srcs[i]);
		if (r->ncauses)
			print_message("# source: %s", srcs[i]);
		check_no_causes(r);
		report_free(r);
	}
}

/* process spawning beyond os */

static void
test_spawn_pty_asyncio(void **state)
{
	struct report *r = run("import pty, asyncio\n"
	                       "pid, fd = pty.fork()\n"
	                       "pty.spawn('sh')\n"
	                       "async def run():\n"
	                       "    p = await asyncio.create_subprocess_exec('ls')\n"
	                       "    q = await asyncio.create_subprocess_shell('ls')\n"
	                       "    return await asyncio.subprocess.create_subprocess_exec('ls')\n"
	                       "import os\n"
	                       "os.forkpty()\n");

	(void)state;
	assert_int_equal(r->ncauses, 6);
	check_cause(r, CAUSE_SUBPROCESS, "pty.fork", "Spawns a process: pty.fork() (line 2)", 2, true);
	check_cause(r, CAUSE_SUBPROCESS, "pty.spawn", "Spawns a process: pty.spawn() (line 3)", 3, true);
	check_cause(r, CAUSE_SUBPROCESS, "asyncio.create_subprocess_exec",
	            "Spawns a process: asyncio.create_subprocess_exec() (line 5)", 5, false);
	check_cause(r, CAUSE_SUBPROCESS, "asyncio.create_subprocess_shell",
	            "Spawns a process: asyncio.create_subprocess_shell() (line 6)", 6, false);
	check_cause(r, CAUSE_SUBPROCESS, "asyncio.subprocess.create_subprocess_exec",
	            "Spawns a process: asyncio.subprocess.create_subprocess_exec() (line 7)", 7, false);
	check_cause(r, CAUSE_SUBPROCESS, "os.forkpty", "Spawns a process: os.forkpty() (line 9)", 9, true);
	report_free(r);
}

static void
test_spawn_pty_asyncio_aliases(void **state)
{
	struct report *r = run("import pty as p\n"
	                       "from asyncio import create_subprocess_exec as cse\n"
	                       "from asyncio import create_subprocess_shell\n"
	                       "from pty import fork\n"
	                       "p.spawn(argv)\n"
	                       "async def f():\n"
	                       "    await cse('ls')\n"
	                       "    await create_subprocess_shell('ls')\n"
	                       "fork()\n"
	                       "sp = p.spawn\n"
	                       "sp(argv)\n");

	(void)state;
	assert_int_equal(r->ncauses, 5);
	check_cause(r, CAUSE_SUBPROCESS, "pty.spawn", "Spawns a process: pty.spawn() (line 5)", 5, true);
	check_cause(r, CAUSE_SUBPROCESS, "asyncio.create_subprocess_exec",
	            "Spawns a process: asyncio.create_subprocess_exec() (line 7)", 7, false);
	check_cause(r, CAUSE_SUBPROCESS, "asyncio.create_subprocess_shell",
	            "Spawns a process: asyncio.create_subprocess_shell() (line 8)", 8, false);
	check_cause(r, CAUSE_SUBPROCESS, "pty.fork", "Spawns a process: pty.fork() (line 9)", 9, true);
	check_cause(r, CAUSE_SUBPROCESS, "pty.spawn", "Spawns a process: pty.spawn() (line 11)", 11, true);
	report_free(r);
}

static void
test_spawn_pty_asyncio_unrelated(void **state)
{
	struct report *r = run("import ptyprocess, asyncio\n"
	                       "gevent.spawn(f)\n"
	                       "pool.spawn(g)\n"
	                       "spawn(h)\n"
	                       "ptyprocess.spawn(x)\n"
	                       "mypty.fork()\n"
	                       "loop.create_subprocess_exec(x)\n"
	                       "create_subprocess_shell(x)\n"
	                       "asyncio.create_subprocess(x)\n"
	                       "asyncio.run(main())\n");

	(void)state;
	check_no_causes(r);
	report_free(r);
}

/* __all__ */

/* Asserts the kind of r's __all__ and, unless names is NULL, its names:
 * a NULL-terminated list. */
static void
check_all(const struct report *r, enum all_kind kind, const char *const *names)
{
	size_t i, n = 0;

	if (r->all_kind != kind)
		print_message("# all_kind %d, expected %d\n", (int)r->all_kind, (int)kind);
	assert_int_equal(r->all_kind, kind);
	if (!names)
		return;
	while (names[n])
		n++;
	if (r->nall != n)
		for (i = 0; i < r->nall; i++)
			print_message("# all %zu: %s\n", i, r->all[i]);
	assert_int_equal(r->nall, n);
	if (!n)
		assert_null(r->all);
	for (i = 0; i < n; i++)
		assert_string_equal(r->all[i], names[i]);
}

static void
test_all_none(void **state)
{
	static const char *const none[] = {NULL};
	struct report *r = run("import os\nx = 1\n");

	(void)state;
	check_all(r, ALL_NONE, none);
	report_free(r);

	/* read, annotated without a value, or bound somewhere else */
	r = run("__all__: list[str]\n"
	        "print(__all__)\n"
	        "x = __all__\n"
	        "__all__\n"
	        "__all___ = ['a']\n"
	        "__all__x = ['b']\n"
	        "def f():\n"
	        "    __all__ = ['c']\n"
	        "    __all__ = names\n"
	        "    __all__.append(x)\n"
	        "class C:\n"
	        "    __all__ = names\n"
	        "    from m import __all__\n"
	        "    def g(self):\n"
	        "        __all__.extend(y)\n"
	        "f = lambda: __all__.append(x)\n"
	        "if TYPE_CHECKING:\n"
	        "    __all__ = names\n"
	        "if __name__ == '__main__':\n"
	        "    __all__ = ['d']\n"
	        "if not TYPE_CHECKING:\n"
	        "    pass\n"
	        "else:\n"
	        "    __all__ += x\n");
	check_all(r, ALL_NONE, none);
	check_no_causes(r);
	report_free(r);
}

static void
test_all_list_and_tuple(void **state)
{
	static const char *const ab[] = {"a", "b", NULL};
	static const char *const none[] = {NULL};
	static const char *const srcs[] = {
		"__all__ = [\"a\", 'b']\n",
		"__all__ = ('a', 'b',)\n",
		"__all__ = 'a', 'b'\n",
		"__all__ = [\n    'a',  # first\n    # none here\n    'b',\n]\n",
		"__all__: list[str] = ['a', 'b']\n",
		"__all__ = ['a'] + ['b', 'a']\n",
		"__all__ = (['a']) + ('b',)\n",
		"__all__ = [r'a', u\"b\", '''a''', \"\"\"b\"\"\"]\n",
		"__all__ = ['a', 'b', 'a', 'b']\n",
		"__all__ = x = ['a', 'b']\n",
	};
	struct report *r;
	size_t i;

	(void)state;
	for (i = 0; i < LEN(srcs); i++) {
		r = run(srcs[i]);
		if (r->all_kind != ALL_LITERAL || r->nall != 2)
			print_message("# source: %s", srcs[i]);
		check_all(r, ALL_LITERAL, ab);
		assert_int_equal(r->parse_error_line, 0);
		report_free(r);
	}

	r = run("__all__ = []\n");
	check_all(r, ALL_LITERAL, none);
	report_free(r);
}

static void
test_all_extended(void **state)
{
	static const char *const names[] = {"a", "b", "c", "d", "e", "f", "g", "h", "ij", NULL};
	struct report *r = run("import sys\n"
	                       "__all__ = ['a', 'b']\n"
	                       "__all__ += ['c']\n"
	                       "__all__ += ('b', 'd')\n"
	                       "__all__.extend(['e'])\n"
	                       "__all__.extend(('f',) + ('a',))\n"
	                       "__all__.append(\"g\")\n"
	                       "__all__.append( # the last\n    'h')\n"
	                       "__all__.append('i' 'j')\n"
	                       "__all__.sort()\n"
	                       "__all__.index('a')\n"
	                       "print(sorted(__all__))\n");

	(void)state;
	check_all(r, ALL_LITERAL, names);
	check_no_causes(r);
	report_free(r);
}

static void
test_all_in_blocks(void **state)
{
	static const char *const names[] = {"fast", "slow", "common", "extra", "late", NULL};
	struct report *r = run("try:\n"
	                       "    from ._speedups import fast\n"
	                       "    __all__ = ['fast']\n"
	                       "except ImportError:\n"
	                       "    __all__ = ['slow']\n"
	                       "finally:\n"
	                       "    __all__ += ['common']\n"
	                       "if sys.version_info >= (3, 8):\n"
	                       "    __all__.append('extra')\n"
	                       "elif x:\n"
	                       "    __all__.append('fast')\n"
	                       "else:\n"
	                       "    with lock:\n"
	                       "        __all__.extend(['late'])\n");

	(void)state;
	check_all(r, ALL_LITERAL, names);
	report_free(r);
}

static void
test_all_dynamic(void **state)
{
	static const char *const srcs[] = {
		"__all__ = names\n",
		"__all__ = [n for n in dir() if not n.startswith('_')]\n",
		"__all__ = list(x)\n",
		"__all__ = sorted(['a'])\n",
		"__all__ = list(['a'])\n",
		"__all__: list[str] = list(x)\n",
		"__all__: list[str] = names\n",
		"__all__ = ['a']\n__all__ += other.__all__\n",
		"__all__ = ['a'] + core.__all__\n",
		"__all__ = ['a', *core.__all__]\n",
		"__all__ = ['a']\n__all__.extend(core.__all__)\n",
		"__all__ = ['a']\n__all__.extend(x for x in y)\n",
		"__all__ = ['a']\n__all__.append(name)\n",
		"__all__ = ['a']\n__all__.extend()\n",
		"__all__ = ['a']\n__all__.append('b', 'c')\n",
		"__all__ = ['a']\n__all__.extend('bc')\n",
		"__all__ = ['a']\n__all__.remove('a')\n",
		"__all__ = ['a']\n__all__.insert(0, 'b')\n",
		"__all__ = ['a']\n__all__[0] = 'b'\n",
		"__all__ = ['a']\n__all__[:] = ['b']\n",
		"__all__ = ['a']\n__all__ -= ['a']\n",
		"__all__ = ['a']\n__all__ *= 2\n",
		"__all__, x = ['a'], 1\n",
		"__all__ = ('a')\n",
		"__all__ = 'a'\n",
		"__all__ = [f'a{x}']\n",
		"__all__ = [b'a']\n",
		"__all__ = ['a\\x62']\n",
		"__all__ = ['a'] * 2\n",
		"__all__ = ['a'] + names\n",
		"__all__ = {'a', 'b'}\n",
		"from .core import __all__\n",
		"from .core import names as __all__\n",
		"import names as __all__\n",
		"if x:\n    from m import __all__\n",
		"__all__ = ['a']\nif x:\n    __all__ = compute()\n",
	};
	struct report *r;
	size_t i;

	(void)state;
	for (i = 0; i < LEN(srcs); i++) {
		r = run(srcs[i]);
		if (r->all_kind != ALL_DYNAMIC)
			print_message("# source: %s", srcs[i]);
		check_all(r, ALL_DYNAMIC, NULL);
		report_free(r);
	}
}

static void
test_all_other_bindings(void **state)
{
	static const char *const sub[] = {"sub", NULL};
	static const char *const srcs[] = {
		"x = __all__ = ['sub']\n",
		"(__all__) = ['sub']\n",
		"for __all__ in [['sub']]:\n    pass\n",
		"(__all__ := ['sub'])\n",
		"print((__all__ := ['sub']))\n",
		"if __all__ := ['sub']:\n    pass\n",
		"x = [(__all__ := ['sub']) for y in z]\n",
		"def f():\n    global __all__\n    __all__ = ['sub']\n",
		"class C:\n    def f(self):\n        global x, __all__\n",
		"with open(p) as __all__:\n    pass\n",
		"with a as x, b as (y, __all__):\n    pass\n",
		"__all__, x = ['sub'], 1\n",
		"x, __all__ = 1, ['sub']\n",
		"[x, *__all__] = 1, 'sub'\n",
		"x: int = __all__ = ['sub']\n",
		"x = y = __all__ = ['sub']\n",
		"try:\n    pass\nexcept E as __all__:\n    pass\n",
		"del __all__\n",
		"def __all__():\n    pass\n",
		"if x:\n    for (__all__) in y:\n        pass\n",
		"x = 1; (__all__) += ['sub']\n",
	};
	struct report *r;
	size_t i;

	(void)state;
	for (i = 0; i < LEN(srcs); i++) {
		r = run(srcs[i]);
		if (r->all_kind != ALL_DYNAMIC)
			print_message("# source: %s", srcs[i]);
		check_all(r, ALL_DYNAMIC, NULL);
		check_no_causes(r);
		report_free(r);
	}

	/* names already read are kept */
	r = run("__all__ = ['sub']\nx = __all__ = names\n");
	check_all(r, ALL_DYNAMIC, sub);
	report_free(r);
	r = run("__all__ = ['sub']\nfor __all__ in y:\n    pass\n");
	check_all(r, ALL_DYNAMIC, sub);
	report_free(r);
}

static void
test_all_other_bindings_elsewhere(void **state)
{
	static const char *const none[] = {NULL};
	static const char *const sub[] = {"sub", NULL};
	static const char *const srcs[] = {
		"def f():\n    x = __all__ = ['a']\n    for __all__ in y:\n        pass\n",
		"def f():\n    (__all__ := 1)\n    with a as __all__:\n        pass\n",
		"class C:\n    x = __all__ = names\n    (__all__) = names\n",
		"f = lambda: (__all__ := 1)\n",
		"if TYPE_CHECKING:\n    x = __all__ = names\n    global __all__\n",
		"if __name__ == '__main__':\n    for __all__ in y:\n        pass\n",
		"if not TYPE_CHECKING:\n    pass\nelse:\n    (__all__ := 1)\n",
		"x = __all__\nx = y = __all__\nprint(__all__)\nx, y = __all__, 1\n",
		"for x in __all__:\n    pass\nwith __all__ as x:\n    pass\n",
		"x = [__all__ for __all__ in y]\n",
		"def f(__all__):\n    global x\n",
		"# x = __all__ = names\ns = 'global __all__'\n",
		"x = __all__x = names\nfor __all___ in y:\n    pass\n",
		"x = o.__all__ = names\n",
		"x[__all__] = 1\n",
	};
	struct report *r;
	size_t i;

	(void)state;
	for (i = 0; i < LEN(srcs); i++) {
		r = run(srcs[i]);
		if (r->all_kind != ALL_NONE)
			print_message("# source: %s", srcs[i]);
		check_all(r, ALL_NONE, none);
		report_free(r);
	}

	r = run("__all__ = ['sub']\ndef f():\n    for __all__ in y:\n        pass\nx = __all__\n");
	check_all(r, ALL_LITERAL, sub);
	report_free(r);
	r = run("__all__ = x = ['sub']\n__all__: list[str]\n__all__ += ['sub']\n");
	check_all(r, ALL_LITERAL, sub);
	report_free(r);
}

static void
test_all_dynamic_is_final(void **state)
{
	struct report *r = run("__all__ = names\n__all__ += ['b']\n__all__ = ['c']\n");

	(void)state;
	check_all(r, ALL_DYNAMIC, NULL);
	report_free(r);
}

static void
test_all_reset_between_files(void **state)
{
	static const char *const a[] = {"a", NULL};
	static const char *const none[] = {NULL};
	struct report *r = run("__all__ = ['a']\n");

	(void)state;
	check_all(r, ALL_LITERAL, a);
	report_free(r);
	r = run("x = 1\n");
	check_all(r, ALL_NONE, none);
	report_free(r);
	r = run("__all__ = y\n");
	check_all(r, ALL_DYNAMIC, none);
	report_free(r);
	r = run("import os\n");
	check_all(r, ALL_NONE, none);
	report_free(r);
}

static void
test_all_with_parse_error(void **state)
{
	static const char *const a[] = {"a", NULL};
	struct report *r = run("__all__ = ['a']\ndef f(:\n    pass\n");

	(void)state;
	assert_int_equal(r->parse_error_line, 2);
	check_all(r, ALL_LITERAL, a);
	report_free(r);
}

static void
test_causes_sorted_by_line(void **state)
{
	struct report *r = run("def f():\n    os.fork()\nimport threading\nexec(x)\n");

	(void)state;
	assert_int_equal(r->ncauses, 3);
	assert_int_equal(r->causes[0].line, 2);
	assert_int_equal(r->causes[1].line, 3);
	assert_int_equal(r->causes[2].line, 4);
	report_free(r);
}

/* definitions, for test discovery */

/* Prints the definitions to help when an assertion fails. */
static void
dump_defs(const struct report *r)
{
	size_t i, j;

	for (i = 0; i < r->ndefs; i++) {
		const struct pydef *d = &r->defs[i];

		print_message("# def %zu: %s %s line %d parent %d flags %#x init %d new %d", i,
		              d->kind == DEF_CLASS ? "class" : "def", d->name, d->line, d->parent, d->flags,
		              d->has_init, d->has_new);
		for (j = 0; j < d->nbases; j++)
			print_message(" (%s)", d->bases[j]);
		print_message("\n");
	}
}

/* Asserts that def i of r has exactly these fields. */
static void
check_def(const struct report *r, size_t i, enum def_kind kind, const char *name, int line, int parent,
          unsigned flags)
{
	const struct pydef *d;

	if (i >= r->ndefs || strcmp(r->defs[i].name, name) != 0 || r->defs[i].kind != kind ||
	    r->defs[i].line != line || r->defs[i].parent != parent || r->defs[i].flags != flags)
		dump_defs(r);
	assert_true(i < r->ndefs);
	d = &r->defs[i];
	assert_string_equal(d->name, name);
	assert_int_equal(d->kind, kind);
	assert_int_equal(d->line, line);
	assert_int_equal(d->parent, parent);
	assert_int_equal(d->flags, flags);
	if (kind == DEF_FUNC) {
		assert_int_equal(d->nbases, 0);
		assert_false(d->has_init);
		assert_false(d->has_new);
	}
}

/* Asserts the bases of class i, a NULL-terminated list. */
static void
check_bases(const struct report *r, size_t i, const char *const *bases)
{
	size_t n = 0;

	while (bases[n])
		n++;
	assert_true(i < r->ndefs);
	if (r->defs[i].nbases != n)
		dump_defs(r);
	assert_int_equal(r->defs[i].nbases, n);
	for (n = 0; bases[n]; n++)
		assert_string_equal(r->defs[i].bases[n], bases[n]);
}

/* The flags of the one definition named name. */
static unsigned
def_flags(const struct report *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->ndefs; i++)
		if (strcmp(r->defs[i].name, name) == 0)
			return r->defs[i].flags;
	dump_defs(r);
	fail_msg("no definition %s", name);
	return 0;
}

/* Invariants of any report: parents are earlier classes, bases only on
 * classes, flags known. */
static void
check_defs_sane(const struct report *r)
{
	size_t i;

	for (i = 0; i < r->ndefs; i++) {
		const struct pydef *d = &r->defs[i];

		assert_non_null(d->name);
		assert_true(d->name[0] != '\0');
		assert_true(d->line >= 1);
		assert_true(d->parent >= -1 && d->parent < (int)i);
		if (d->parent >= 0)
			assert_int_equal(r->defs[d->parent].kind, DEF_CLASS);
		assert_int_equal(d->flags & ~(unsigned)DEF_ALL_FLAGS, 0);
		if (d->kind == DEF_FUNC)
			assert_int_equal(d->nbases, 0);
	}
	assert_int_equal(r->module_flags & ~(unsigned)DEF_ALL_FLAGS, 0);
}

static void
test_defs_functions(void **state)
{
	struct report *r = run("import pytest\n"
	                       "def test_a():\n"
	                       "    def inner():\n"
	                       "        pass\n"
	                       "    class Local:\n"
	                       "        def test_local(self):\n"
	                       "            pass\n"
	                       "async def test_b():\n"
	                       "    pass\n"
	                       "@decorator\n"
	                       "@other.thing(1)\n"
	                       "def helper(x):\n"
	                       "    return lambda: x\n"
	                       "@deco\n"
	                       "async   def test_c():\n"
	                       "    pass\n"
	                       "test_d = lambda: None\n"
	                       "def test_a(): pass\n");

	(void)state;
	assert_int_equal(r->ndefs, 5);
	check_def(r, 0, DEF_FUNC, "test_a", 2, -1, 0);
	check_def(r, 1, DEF_FUNC, "test_b", 8, -1, DEF_ASYNC);
	/* the line of `def`, not of the decorators */
	check_def(r, 2, DEF_FUNC, "helper", 12, -1, 0);
	check_def(r, 3, DEF_FUNC, "test_c", 15, -1, DEF_ASYNC);
	/* both bindings, in source order: the later one wins in Python */
	check_def(r, 4, DEF_FUNC, "test_a", 18, -1, 0);
	assert_int_equal(r->module_flags, 0);
	check_no_causes(r);
	report_free(r);

	r = run("import os\nx = 1\n");
	assert_int_equal(r->ndefs, 0);
	assert_null(r->defs);
	report_free(r);
}

static void
test_defs_classes(void **state)
{
	static const char *const b0[] = {"unittest.TestCase", NULL};
	static const char *const b1[] = {"TestCase", "mod.Base", "a.b.c.D", "Mixin", NULL};
	static const char *const b2[] = {"make_base()", "Generic[T]", "*bases", "mod.sub.Base", NULL};
	static const char *const none[] = {NULL};
	struct report *r = run("class TestA(unittest.TestCase):\n"
	                       "    x = 1\n"
	                       "    def setUp(self):\n"
	                       "        pass\n"
	                       "    async def test_one(self):\n"
	                       "        def inner(): pass\n"
	                       "    @staticmethod\n"
	                       "    def test_two():\n"
	                       "        pass\n"
	                       "class TestB(TestCase, ( mod . Base ), a.b.c.D, # why\n"
	                       "            Mixin, metaclass=Meta, **kw):\n"
	                       "    def __init__(self):\n"
	                       "        pass\n"
	                       "class TestC(make_base(), Generic[T], *bases, (mod.\n"
	                       "        sub.Base)):\n"
	                       "    def __new__(cls):\n"
	                       "        pass\n"
	                       "class TestD:\n"
	                       "    __init__ = object.__init__\n"
	                       "    def test_x(self):\n"
	                       "        def __init__(self): pass\n"
	                       "class TestE():\n"
	                       "    pass\n");

	(void)state;
	assert_int_equal(r->ndefs, 11);
	check_def(r, 0, DEF_CLASS, "TestA", 1, -1, 0);
	check_bases(r, 0, b0);
	assert_false(r->defs[0].has_init);
	check_def(r, 1, DEF_FUNC, "setUp", 3, 0, 0);
	check_def(r, 2, DEF_FUNC, "test_one", 5, 0, DEF_ASYNC);
	check_def(r, 3, DEF_FUNC, "test_two", 8, 0, 0);
	check_def(r, 4, DEF_CLASS, "TestB", 10, -1, 0);
	check_bases(r, 4, b1);
	assert_true(r->defs[4].has_init);
	assert_false(r->defs[4].has_new);
	check_def(r, 5, DEF_FUNC, "__init__", 12, 4, 0);
	check_def(r, 6, DEF_CLASS, "TestC", 14, -1, 0);
	check_bases(r, 6, b2);
	assert_false(r->defs[6].has_init);
	assert_true(r->defs[6].has_new);
	check_def(r, 7, DEF_FUNC, "__new__", 16, 6, 0);
	/* only a def __init__ in the body counts */
	check_def(r, 8, DEF_CLASS, "TestD", 18, -1, 0);
	check_bases(r, 8, none);
	assert_false(r->defs[8].has_init);
	check_def(r, 9, DEF_FUNC, "test_x", 20, 8, 0);
	check_def(r, 10, DEF_CLASS, "TestE", 22, -1, 0);
	check_bases(r, 10, none);
	assert_null(r->defs[10].bases);
	check_defs_sane(r);
	report_free(r);
}

static void
test_defs_nested_classes(void **state)
{
	struct report *r = run("class TestOuter:\n"
	                       "    def test_a(self):\n"
	                       "        class NotRecorded:\n"
	                       "            def test_no(self): pass\n"
	                       "    class TestInner(Base):\n"
	                       "        def __init__(self): pass\n"
	                       "        def test_m(self):\n"
	                       "            pass\n"
	                       "        class TestDeep:\n"
	                       "            async def test_d(self): pass\n"
	                       "        def test_after_deep(self): pass\n"
	                       "    def test_b(self):\n"
	                       "        pass\n");

	(void)state;
	assert_int_equal(r->ndefs, 9);
	check_def(r, 0, DEF_CLASS, "TestOuter", 1, -1, 0);
	assert_false(r->defs[0].has_init);
	check_def(r, 1, DEF_FUNC, "test_a", 2, 0, 0);
	check_def(r, 2, DEF_CLASS, "TestInner", 5, 0, 0);
	/* __init__ counts for the class whose body holds it */
	assert_true(r->defs[2].has_init);
	check_def(r, 3, DEF_FUNC, "__init__", 6, 2, 0);
	check_def(r, 4, DEF_FUNC, "test_m", 7, 2, 0);
	check_def(r, 5, DEF_CLASS, "TestDeep", 9, 2, 0);
	check_def(r, 6, DEF_FUNC, "test_d", 10, 5, DEF_ASYNC);
	check_def(r, 7, DEF_FUNC, "test_after_deep", 11, 2, 0);
	check_def(r, 8, DEF_FUNC, "test_b", 12, 0, 0);
	check_defs_sane(r);
	report_free(r);
	/* nothing in a def body */
	r = run("def test_f():\n    class TestInFunction:\n        def test_no(self): pass\n");
	assert_int_equal(r->ndefs, 1);
	check_def(r, 0, DEF_FUNC, "test_f", 1, -1, 0);
	report_free(r);
}

static void
test_defs_toxic_decorators(void **state)
{
	static const char *const toxic[] = {
		"@pytest.mark.toxic\ndef test_x(): pass\n",
		"@mark.toxic\ndef test_x(): pass\n",
		"@pytest.mark.toxic()\ndef test_x(): pass\n",
		"@pytest.mark.toxic(reason='forks')\ndef test_x(): pass\n",
		"@pt.mark.toxic\ndef test_x(): pass\n",
		"@ pytest . mark . toxic\ndef test_x(): pass\n",
		"@(pytest.mark.toxic)\ndef test_x(): pass\n",
		"@pytest.mark.slow\n@pytest.mark.toxic\n@other\ndef test_x(): pass\n",
		"@pytest.mark.toxic  # comment\ndef test_x(): pass\n",
		"if x:\n    @pytest.mark.toxic\n    def test_x(): pass\n",
		"class TestA:\n    @pytest.mark.toxic\n    def test_x(self): pass\n",
	};
	static const char *const safe[] = {
		"@toxic\ndef test_x(): pass\n",
		"@pytest.toxic\ndef test_x(): pass\n",
		"@pytest.mark.toxicity\ndef test_x(): pass\n",
		"@pytest.mark.slow\ndef test_x(): pass\n",
		"@a.b.mark.toxic\ndef test_x(): pass\n",
		"@pytest.mark.toxic.x\ndef test_x(): pass\n",
		"@pytest.mark.toxic()()\ndef test_x(): pass\n",
		"@pytest.mark.toxic\ndef helper(): pass\ndef test_x(): pass\n",
		"def test_x():\n    pytestmark = pytest.mark.toxic\n",
		"# @pytest.mark.toxic\ndef test_x(): pass\n",
	};
	struct report *r;
	size_t i;

	(void)state;
	for (i = 0; i < LEN(toxic); i++) {
		r = run(toxic[i]);
		if (def_flags(r, "test_x") != DEF_TOXIC_MARK)
			print_message("# %s", toxic[i]);
		assert_int_equal(def_flags(r, "test_x"), DEF_TOXIC_MARK);
		assert_int_equal(r->module_flags, 0);
		report_free(r);
	}
	for (i = 0; i < LEN(safe); i++) {
		r = run(safe[i]);
		if (def_flags(r, "test_x") || r->module_flags)
			print_message("# %s", safe[i]);
		assert_int_equal(def_flags(r, "test_x"), 0);
		assert_int_equal(r->module_flags, 0);
		report_free(r);
	}
	/* a marked class; its methods keep their own flags */
	r = run("@pytest.mark.toxic\nclass TestA:\n    def test_m(self): pass\n");
	check_def(r, 0, DEF_CLASS, "TestA", 2, -1, DEF_TOXIC_MARK);
	check_def(r, 1, DEF_FUNC, "test_m", 3, 0, 0);
	report_free(r);
}

static void
test_defs_pytestmark(void **state)
{
	static const char *const toxic[] = {
		"pytestmark = pytest.mark.toxic\n",
		"pytestmark = mark.toxic\n",
		"pytestmark = pytest.mark.toxic(reason='x')\n",
		"pytestmark = [pytest.mark.toxic]\n",
		"pytestmark = [pytest.mark.slow, pytest.mark.toxic]\n",
		"pytestmark = (pytest.mark.toxic,)\n",
		"pytestmark = pytest.mark.slow, pytest.mark.toxic\n",
		"pytestmark = [\n    pytest.mark.slow,  # a comment\n    pytest.mark.toxic,\n]\n",
		"pytestmark: list = [pytest.mark.toxic]\n",
		"pytestmark = [pytest.mark.slow]\npytestmark += [pytest.mark.toxic]\n",
		"pytestmark = [pytest.mark.slow] + [pytest.mark.toxic]\n",
		"pytestmark = other = pytest.mark.toxic\n",
		"pytestmark = (pytest.mark.toxic)\n",
		"if sys.platform == 'linux':\n    pytestmark = pytest.mark.toxic\n",
		"try:\n    import x\nexcept ImportError:\n    pytestmark = [pytest.mark.toxic]\n",
	};
	static const char *const safe[] = {
		"pytestmark = pytest.mark.slow\n",
		"pytestmark = [pytest.mark.skipif(x, reason='toxic')]\n",
		"pytestmark = marks\n",
		"pytestmark: list\n",
		"pytestmarks = pytest.mark.toxic\n",
		"x.pytestmark = pytest.mark.toxic\n",
		"pytestmark[0] = pytest.mark.toxic\n",
		"x = pytestmark = pytest.mark.toxic\n",
		"def f():\n    pytestmark = pytest.mark.toxic\n",
		"if __name__ == '__main__':\n    pytestmark = pytest.mark.toxic\n",
		"pytestmark == pytest.mark.toxic\n",
	};
	struct report *r;
	size_t i;

	(void)state;
	for (i = 0; i < LEN(toxic); i++) {
		r = run(toxic[i]);
		if (r->module_flags != DEF_TOXIC_MARK)
			print_message("# %s", toxic[i]);
		assert_int_equal(r->module_flags, DEF_TOXIC_MARK);
		report_free(r);
	}
	for (i = 0; i < LEN(safe); i++) {
		r = run(safe[i]);
		if (r->module_flags)
			print_message("# %s", safe[i]);
		assert_int_equal(r->module_flags, 0);
		report_free(r);
	}
	/* in a class body: the class's flag, not the module's */
	r = run("class TestA:\n"
	        "    pytestmark = [pytest.mark.toxic]\n"
	        "    def test_m(self):\n"
	        "        pytestmark = pytest.mark.parametrize('x', [1])\n"
	        "    class TestB:\n"
	        "        if x:\n"
	        "            pytestmark = pytest.mark.toxic\n"
	        "class TestC:\n"
	        "    pytestmark = pytest.mark.slow\n"
	        "pytestmark = pytest.mark.parametrize('x', [1])\n");
	assert_int_equal(r->module_flags, DEF_PARAMETRIZE);
	check_def(r, 0, DEF_CLASS, "TestA", 1, -1, DEF_TOXIC_MARK);
	check_def(r, 1, DEF_FUNC, "test_m", 3, 0, 0);
	check_def(r, 2, DEF_CLASS, "TestB", 5, 0, DEF_TOXIC_MARK);
	check_def(r, 3, DEF_CLASS, "TestC", 8, -1, 0);
	report_free(r);
}

static void
test_defs_parametrize_and_fixtures(void **state)
{
	struct report *r = run("import pytest\n"
	                       "from pytest import fixture\n"
	                       "@pytest.mark.parametrize('x', [1, 2])\n"
	                       "def test_p(x): pass\n"
	                       "@pytest.mark.parametrize('x', [1])\n"
	                       "@pytest.mark.toxic\n"
	                       "async def test_pt(x): pass\n"
	                       "@pytest.fixture\n"
	                       "def test_fix(): pass\n"
	                       "@pytest.fixture(scope='module', autouse=True)\n"
	                       "def fix2(): pass\n"
	                       "@fixture\n"
	                       "def fix3(): pass\n"
	                       "@pytest_asyncio.fixture()\n"
	                       "async def fix4(): pass\n"
	                       "@a.b.fixture\n"
	                       "def not_fix(): pass\n"
	                       "@pytest.mark.parametrize('x', [1])\n"
	                       "class TestP:\n"
	                       "    @pytest.mark.parametrize('y', [1])\n"
	                       "    def test_m(self, x, y): pass\n"
	                       "    @pytest.fixture\n"
	                       "    def test_fix(self): pass\n");

	(void)state;
	assert_int_equal(r->ndefs, 10);
	check_def(r, 0, DEF_FUNC, "test_p", 4, -1, DEF_PARAMETRIZE);
	check_def(r, 1, DEF_FUNC, "test_pt", 7, -1, DEF_PARAMETRIZE | DEF_TOXIC_MARK | DEF_ASYNC);
	check_def(r, 2, DEF_FUNC, "test_fix", 9, -1, DEF_FIXTURE);
	check_def(r, 3, DEF_FUNC, "fix2", 11, -1, DEF_FIXTURE);
	check_def(r, 4, DEF_FUNC, "fix3", 13, -1, DEF_FIXTURE);
	check_def(r, 5, DEF_FUNC, "fix4", 15, -1, DEF_FIXTURE | DEF_ASYNC);
	check_def(r, 6, DEF_FUNC, "not_fix", 17, -1, 0);
	check_def(r, 7, DEF_CLASS, "TestP", 19, -1, DEF_PARAMETRIZE);
	check_def(r, 8, DEF_FUNC, "test_m", 21, 7, DEF_PARAMETRIZE);
	check_def(r, 9, DEF_FUNC, "test_fix", 23, 7, DEF_FIXTURE);
	assert_int_equal(r->module_flags, 0);
	report_free(r);
}

static void
test_defs_dunder_test(void **state)
{
	struct report *r = run("__test__ = False\n"
	                       "class TestA:\n"
	                       "    __test__ = False\n"
	                       "    def test_m(self):\n"
	                       "        __test__ = True\n"
	                       "class Checks:\n"
	                       "    __test__ = True\n"
	                       "class TestB:\n"
	                       "    __test__ = False\n"
	                       "    __test__ = True\n"
	                       "class TestC:\n"
	                       "    __test__ = 0\n"
	                       "    __test__s = False\n"
	                       "    x.__test__ = False\n");

	(void)state;
	assert_int_equal(r->module_flags, DEF_NOT_TEST);
	check_def(r, 0, DEF_CLASS, "TestA", 2, -1, DEF_NOT_TEST);
	check_def(r, 1, DEF_FUNC, "test_m", 4, 0, 0);
	check_def(r, 2, DEF_CLASS, "Checks", 6, -1, DEF_FORCE_TEST);
	/* the last binding */
	check_def(r, 3, DEF_CLASS, "TestB", 8, -1, DEF_FORCE_TEST);
	check_def(r, 4, DEF_CLASS, "TestC", 11, -1, 0);
	report_free(r);
	r = run("__test__ = True\n");
	assert_int_equal(r->module_flags, DEF_FORCE_TEST);
	report_free(r);
}

static void
test_defs_in_blocks(void **state)
{
	struct report *r = run("if sys.version_info >= (3, 8):\n"
	                       "    def test_if(): pass\n"
	                       "elif x:\n"
	                       "    def test_elif(): pass\n"
	                       "else:\n"
	                       "    def test_else(): pass\n"
	                       "try:\n"
	                       "    def test_try(): pass\n"
	                       "except ImportError:\n"
	                       "    class TestExcept: pass\n"
	                       "else:\n"
	                       "    def test_try_else(): pass\n"
	                       "finally:\n"
	                       "    def test_finally(): pass\n"
	                       "with ctx:\n"
	                       "    def test_with(): pass\n"
	                       "for i in x:\n"
	                       "    def test_for(): pass\n"
	                       "while x:\n"
	                       "    def test_while(): pass\n"
	                       "if TYPE_CHECKING:\n"
	                       "    def test_typing(): pass\n"
	                       "if __name__ == '__main__':\n"
	                       "    def test_main(): pass\n"
	                       "class TestK:\n"
	                       "    if x:\n"
	                       "        def test_a(self): pass\n"
	                       "    else:\n"
	                       "        def __init__(self): pass\n"
	                       "    try:\n"
	                       "        class TestInner: pass\n"
	                       "    except E:\n"
	                       "        pass\n");

	(void)state;
	assert_int_equal(r->ndefs, 14);
	check_def(r, 0, DEF_FUNC, "test_if", 2, -1, 0);
	check_def(r, 1, DEF_FUNC, "test_elif", 4, -1, 0);
	check_def(r, 2, DEF_FUNC, "test_else", 6, -1, 0);
	check_def(r, 3, DEF_FUNC, "test_try", 8, -1, 0);
	check_def(r, 4, DEF_CLASS, "TestExcept", 10, -1, 0);
	check_def(r, 5, DEF_FUNC, "test_try_else", 12, -1, 0);
	check_def(r, 6, DEF_FUNC, "test_finally", 14, -1, 0);
	check_def(r, 7, DEF_FUNC, "test_with", 16, -1, 0);
	check_def(r, 8, DEF_FUNC, "test_for", 18, -1, 0);
	check_def(r, 9, DEF_FUNC, "test_while", 20, -1, 0);
	/* skipped blocks never run: no test_typing, no test_main */
	check_def(r, 10, DEF_CLASS, "TestK", 25, -1, 0);
	assert_true(r->defs[10].has_init);
	check_def(r, 11, DEF_FUNC, "test_a", 27, 10, 0);
	check_def(r, 12, DEF_FUNC, "__init__", 29, 10, 0);
	check_def(r, 13, DEF_CLASS, "TestInner", 31, 10, 0);
	report_free(r);

	r = run("match x:\n"
	        "    case 1:\n"
	        "        def test_case(): pass\n"
	        "    case _:\n"
	        "        class TestCase2: pass\n");
	assert_int_equal(r->ndefs, 2);
	check_def(r, 0, DEF_FUNC, "test_case", 3, -1, 0);
	check_def(r, 1, DEF_CLASS, "TestCase2", 5, -1, 0);
	report_free(r);
}

static void
test_defs_with_parse_error(void **state)
{
	static const char *const base[] = {"Base", NULL};
	struct report *r = run("import pytest\n"
	                       "\n"
	                       "@pytest.mark.toxic\n"
	                       "def test_a():\n"
	                       "    pass\n"
	                       "\n"
	                       "def broken(:\n"
	                       "    pass\n"
	                       "\n"
	                       "class TestB(Base):\n"
	                       "    def test_m(self):\n"
	                       "        pass\n"
	                       "    )\n"
	                       "\n"
	                       "    def test_n(self):\n"
	                       "        pass\n");

	(void)state;
	assert_true(r->parse_error_line > 0);
	assert_int_equal(r->ndefs, 5);
	check_def(r, 0, DEF_FUNC, "test_a", 4, -1, DEF_TOXIC_MARK);
	check_def(r, 1, DEF_FUNC, "broken", 7, -1, 0);
	check_def(r, 2, DEF_CLASS, "TestB", 10, -1, 0);
	check_bases(r, 2, base);
	check_def(r, 3, DEF_FUNC, "test_m", 11, 2, 0);
	check_def(r, 4, DEF_FUNC, "test_n", 15, 2, 0);
	check_defs_sane(r);
	report_free(r);
}

static void
test_defs_reset_between_files(void **state)
{
	struct report *r = run("pytestmark = pytest.mark.toxic\n"
	                       "class TestA:\n"
	                       "    def test_m(self): pass\n");

	(void)state;
	assert_int_equal(r->ndefs, 2);
	report_free(r);
	r = run("x = 1\n");
	assert_int_equal(r->ndefs, 0);
	assert_int_equal(r->module_flags, 0);
	report_free(r);
	r = run("def test_f(): pass\n");
	assert_int_equal(r->ndefs, 1);
	check_def(r, 0, DEF_FUNC, "test_f", 1, -1, 0);
	assert_int_equal(r->module_flags, 0);
	report_free(r);
}

static void
test_defs_encodings(void **state)
{
	struct report *r = run("\xef\xbb\xbf# comment\r\nclass TestA(Base):\r\n    def test_m(self):\r\n"
	                       "        pass\r\n");

	(void)state;
	assert_int_equal(r->ndefs, 2);
	check_def(r, 0, DEF_CLASS, "TestA", 2, -1, 0);
	check_def(r, 1, DEF_FUNC, "test_m", 3, 0, 0);
	report_free(r);
	r = run("# -*- coding: latin-1 -*-\ndef test_\xe9t\xe9(): pass\n");
	assert_int_equal(r->ndefs, 1);
	check_def(r, 0, DEF_FUNC, "test_\xc3\xa9t\xc3\xa9", 2, -1, 0);
	report_free(r);
}

/* files that do not parse */

static void
test_parse_error(void **state)
{
	struct report *r = run("def f(:\n    pass\nimport threading\n");

	(void)state;
	assert_int_equal(r->parse_error_line, 1);
	check_cause(r, CAUSE_PARSE_ERROR, "syntax", "could not parse: line 1", 1, true);
	/* the rest of the file still counts */
	check_cause(r, CAUSE_THREADS, "threading", "Imports toxic module 'threading' (line 3)", 3, true);
	assert_true(policy_is_toxic(r));
	report_free(r);
}

static void
test_parse_error_line(void **state)
{
	struct report *r = run("import os\n\nclass :\n    pass\n");

	(void)state;
	assert_int_equal(r->parse_error_line, 3);
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_PARSE_ERROR, "syntax", "could not parse: line 3", 3, true);
	check_import(r, 0, "os", NULL, 0, 1, true, false);
	report_free(r);

	r = run("import os\nx = 1\ny = (\n");
	assert_int_equal(r->parse_error_line, 3);
	check_cause(r, CAUSE_PARSE_ERROR, "syntax", "could not parse: line 3", 3, true);
	report_free(r);
}

static void
test_parse_error_in_skipped_block(void **state)
{
	struct report *r = run("if TYPE_CHECKING:\n    import os\n    def (:\n");

	(void)state;
	assert_int_equal(r->parse_error_line, 3);
	report_free(r);
}

/* encodings and line endings */

static void
test_utf8_bom(void **state)
{
	struct report *r = run("\xef\xbb\xbfimport threading\nx = 'caf\xc3\xa9'\nimport socket\n");

	(void)state;
	assert_int_equal(r->nimports, 2);
	check_import(r, 0, "threading", NULL, 0, 1, true, false);
	check_cause(r, CAUSE_THREADS, "threading", "Imports toxic module 'threading' (line 1)", 1, true);
	check_cause(r, CAUSE_NETWORK, "socket", "Imports toxic module 'socket' (line 3)", 3, true);
	assert_int_equal(r->parse_error_line, 0);
	report_free(r);
}

static void
test_latin1_cookie(void **state)
{
	struct report *r = run("# -*- coding: latin-1 -*-\ns = 'caf\xe9'\nimport socket\n");

	(void)state;
	assert_int_equal(r->parse_error_line, 0);
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_NETWORK, "socket", "Imports toxic module 'socket' (line 3)", 3, true);
	report_free(r);

	/* an identifier is valid only once decoded */
	r = run("# -*- coding: latin-1 -*-\ncaf\xe9 = 1\nimport socket\n");
	assert_int_equal(r->parse_error_line, 0);
	check_cause(r, CAUSE_NETWORK, "socket", "Imports toxic module 'socket' (line 3)", 3, true);
	report_free(r);
}

static void
test_cookie_forms(void **state)
{
	struct report *r = run("#!/usr/bin/env python\n# vim: set fileencoding=iso-8859-15 :\n"
	                       "caf\xe9 = 1\nimport signal\n");

	(void)state;
	assert_int_equal(r->parse_error_line, 0);
	check_cause(r, CAUSE_SIGNALS, "signal", "Imports toxic module 'signal' (line 4)", 4, true);
	report_free(r);

	r = run("# coding=cp1252\ncaf\xe9 = '\x80'\nimport signal\n");
	assert_int_equal(r->parse_error_line, 0);
	check_cause(r, CAUSE_SIGNALS, "signal", "Imports toxic module 'signal' (line 3)", 3, true);
	report_free(r);

	r = run("# -*- coding: utf-8 -*-\ncaf\xc3\xa9 = 1\nimport signal\n");
	assert_int_equal(r->parse_error_line, 0);
	check_cause(r, CAUSE_SIGNALS, "signal", "Imports toxic module 'signal' (line 3)", 3, true);
	report_free(r);
}

/* a file read otherwise than Python reads it is a parse error, not a parse
 * of its bytes */
static void
check_undecodable(const char *src, int line, const char *reason)
{
	struct report *r = run(src);

	assert_int_equal(r->parse_error_line, line);
	assert_int_equal(r->nimports, 0);
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_PARSE_ERROR, "encoding", reason, line, true);
	report_free(r);
}

static void
test_unknown_encoding(void **state)
{
	(void)state;
	check_undecodable("# coding: no-such-codec\nimport socket\n", 1,
	    "could not decode: encoding 'no-such-codec' is not one tach decodes as Python does (line 1)");
	/* Python decodes "\n" in a comment into a line break: the import is real */
	check_undecodable("# -*- coding: unicode_escape -*-\nx = 1  # \\nimport subprocess\n", 1,
	    "could not decode: encoding 'unicode_escape' is not one tach decodes as Python does (line 1)");
	check_undecodable("#!/usr/bin/python\n# coding: raw-unicode-escape\nx = 1\n", 2,
	    "could not decode: encoding 'raw-unicode-escape' is not one tach decodes as Python does (line 2)");
	/* second bytes in the ASCII range, where glibc and Python disagree */
	check_undecodable("# coding: shift_jis\nx = '\x83\x5c'\n", 1,
	    "could not decode: encoding 'shift_jis' is not one tach decodes as Python does (line 1)");
	/* bytes that do not decode: Python refuses the file too */
	check_undecodable("# coding: ascii\nx = '\xff'\nimport socket\n", 2,
	    "could not decode: byte 0xff is not ASCII (line 2)");
	check_undecodable("# coding: euc-jp\nx = 1\ny = '\xff\xff'\n", 3,
	    "could not decode: bytes that do not decode as euc_jp (line 3)");
}

/* Python's names for the encodings tach decodes: the tokenizer's spellings
 * of UTF-8 and Latin-1, codecs' normalization and aliases */
static void
test_encoding_names(void **state)
{
	static const char *const names[] = {
		"utf_8", "UTF8", "u8", "utf-8-sig", "latin", "l1", "Latin-1-unix", "iso_8859_1",
		"ISO8859-15", "windows-1252", "cp1252", "8859", "iso_ir_100", "euc_jp", "ansi_x3.4-1968",
		NULL,
	};
	struct report *r;
	char src[128];
	size_t i;

	(void)state;
	for (i = 0; names[i]; i++) {
		snprintf(src, sizeof(src), "# coding: %s\nimport socket\n", names[i]);
		r = run(src);
		if (r->parse_error_line)
			fail_msg("%s: %s", names[i], r->causes[0].reason);
		check_cause(r, CAUSE_NETWORK, "socket", "Imports toxic module 'socket' (line 2)", 2, true);
		report_free(r);
	}
}

static void
test_crlf(void **state)
{
	struct report *r = run("import os\r\n\r\nimport threading\r\nos.fork()\r\n"
	                       "def f():\r\n    exec(x)\r\n");

	(void)state;
	assert_int_equal(r->parse_error_line, 0);
	assert_int_equal(r->ncauses, 3);
	check_cause(r, CAUSE_THREADS, "threading", "Imports toxic module 'threading' (line 3)", 3, true);
	check_cause(r, CAUSE_SUBPROCESS, "os.fork", "Spawns a process: os.fork() (line 4)", 4, true);
	check_cause(r, CAUSE_DYNAMIC_IMPORT, "exec", "Dynamic code: exec() (line 6)", 6, false);
	report_free(r);

	r = run("# -*- coding: latin-1 -*-\r\ncaf\xe9 = 1\r\nimport socket\r\n");
	assert_int_equal(r->parse_error_line, 0);
	check_cause(r, CAUSE_NETWORK, "socket", "Imports toxic module 'socket' (line 3)", 3, true);
	report_free(r);
}

static void
test_invalid_utf8(void **state)
{
	(void)state;
	/* no cookie: UTF-8, and Python refuses a file that is not */
	check_undecodable("import socket\nx = '\xff\xfe\xc3'\ny = \x80\n", 2,
	    "could not decode: byte 0xff is not UTF-8 (line 2)");
	check_undecodable("# coding: utf-8\n# caf\xc3\n", 2, "could not decode: byte 0xc3 is not UTF-8 (line 2)");
	/* a surrogate is not UTF-8 either */
	check_undecodable("x = '\xed\xa0\x80'\n", 1, "could not decode: byte 0xed is not UTF-8 (line 1)");
}

/* robustness */

static void
test_empty(void **state)
{
	struct report *r = analyzer_run(an, "", 0, "empty.py");

	(void)state;
	assert_non_null(r);
	assert_int_equal(r->nimports, 0);
	check_no_causes(r);
	report_free(r);

	r = analyzer_run(an, NULL, 0, "null.py");
	assert_non_null(r);
	check_no_causes(r);
	report_free(r);

	r = run("\n\n# only a comment\n");
	check_no_causes(r);
	report_free(r);
}

static void
test_binary_garbage(void **state)
{
	static char junk[8192];
	char reason[64];
	uint32_t x = 2463534242u;
	struct report *r;
	size_t i;
	int round;

	(void)state;
	for (round = 0; round < 8; round++) {
		for (i = 0; i < sizeof(junk); i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			junk[i] = (char)(round & 1 ? x : (x % 96) + 32);
		}
		r = analyzer_run(an, junk, sizeof(junk), "junk.py");
		assert_non_null(r);
		assert_true(r->parse_error_line >= 1);
		if (round & 1) {
			/* bytes: not UTF-8, never parsed */
			assert_int_equal(r->ncauses, 1);
			assert_int_equal(r->causes[0].kind, CAUSE_PARSE_ERROR);
			assert_string_equal(r->causes[0].name, "encoding");
		} else {
			snprintf(reason, sizeof(reason), "could not parse: line %d", r->parse_error_line);
			check_cause(r, CAUSE_PARSE_ERROR, "syntax", reason, r->parse_error_line, true);
		}
		check_defs_sane(r);
		report_free(r);
	}
	/* the analyzer keeps working after garbage */
	r = run("import socket\n");
	assert_int_equal(r->ncauses, 1);
	report_free(r);
}

static void
test_deep_nesting(void **state)
{
	struct buf b = {0};
	struct report *r;
	int i;

	(void)state;
	buf_puts(&b, "import os\nx = ");
	for (i = 0; i < 2000; i++)
		buf_puts(&b, "f(");
	buf_puts(&b, "os.fork()");
	for (i = 0; i < 2000; i++)
		buf_putc(&b, ')');
	buf_puts(&b, "\ny = 1");
	for (i = 0; i < 5000; i++)
		buf_puts(&b, " + 1");
	buf_putc(&b, '\n');
	r = run(b.data);
	check_cause(r, CAUSE_SUBPROCESS, "os.fork", "Spawns a process: os.fork() (line 2)", 2, true);
	report_free(r);
	buf_free(&b);
}

static void
test_analyze_file(void **state)
{
	const char *src = "import signal\n";
	struct report *r = analyze_file(rules, src, strlen(src), "t.py");

	(void)state;
	assert_int_equal(r->ncauses, 1);
	check_cause(r, CAUSE_SIGNALS, "signal", "Imports toxic module 'signal' (line 1)", 1, true);
	report_free(r);
}

/* ---- the precise policy ---- */

/* Analyzes src under the precise policy. */
static struct report *
precise(const char *src)
{
	struct rules *ru = rules_new();
	struct report *r = analyze_file(ru, src, strlen(src), "t.py");

	rules_free(ru);
	return r;
}

/* The cause whose reason starts with prefix, or NULL. */
static const struct cause *
cause_starting(const struct report *r, const char *prefix)
{
	size_t i;

	for (i = 0; i < r->ncauses; i++)
		if (strncmp(r->causes[i].reason, prefix, strlen(prefix)) == 0)
			return &r->causes[i];
	return NULL;
}

/* src is toxic (or not) under the precise policy; when why_prefix is
 * given, the cause whose reason starts with it has that why. */
static void
check_precise(const char *src, bool toxic, const char *prefix, enum cause_why why)
{
	struct report *r = precise(src);
	const struct cause *c;

	if (policy_is_toxic(r) != toxic) {
		fprintf(stderr, "---\n%s---\n", src);
		dump(r);
	}
	assert_int_equal(policy_is_toxic(r), toxic);
	if (prefix) {
		c = cause_starting(r, prefix);
		if (!c) {
			fprintf(stderr, "no cause '%s' in:\n", prefix);
			dump(r);
		}
		assert_non_null(c);
		assert_int_equal(c->why, why);
	}
	report_free(r);
}

static void
test_precise_imports(void **state)
{
	(void)state;
	check_precise("import threading\nimport socket, subprocess, signal, ctypes\n", false,
	              "Imports threading", WHY_NO_STATE);
	check_precise("from multiprocessing import Pool\n", false, "Imports multiprocessing", WHY_NO_STATE);
	check_precise("import torch\n", true, "Imports toxic module 'torch'", WHY_COUNTS);
	check_precise("import grpc.aio\n", true, NULL, WHY_COUNTS);
	check_precise("def f():\n    import torch\n", false, "Imports toxic module 'torch'", WHY_USE_TIME);
	check_precise("import threading\nlock = threading.Lock()\nr = threading.RLock()\n"
	              "l = threading.local()\ne = threading.Event()\n", false, NULL, WHY_COUNTS);
}

static void
test_precise_threads(void **state)
{
	(void)state;
	check_precise("import threading\nthreading.Thread(target=print).start()\n", true,
	              "Starts a thread: threading.Thread() (line 2)", WHY_COUNTS);
	check_precise("import threading\nt = threading.Thread(target=print)\n", false,
	              "Creates a thread: threading.Thread()", WHY_NOT_STARTED);
	check_precise("from threading import Thread as T\nt = T(target=print, daemon=True)\nt.start()\n", true,
	              "Starts a thread", WHY_COUNTS);
	check_precise("import threading\ntimer = threading.Timer(5, print)\ntimer.start()\n", true,
	              "Starts a thread: threading.Timer()", WHY_COUNTS);
	check_precise("import threading\ndef go():\n    t = threading.Thread(target=print)\n    t.start()\n", false,
	              "Starts a thread", WHY_USE_TIME);
	check_precise("import _thread\n_thread.start_new_thread(print, ())\n", true, "Starts a thread", WHY_COUNTS);
	check_precise("import threading\nclass W(threading.Thread):\n    def run(self):\n        pass\nW().start()\n",
	              true, "Starts a thread: W() (a threading.Thread; line 5)", WHY_COUNTS);
	check_precise("import threading\nclass W(threading.Thread):\n    pass\nw = W()\n", false, NULL, WHY_COUNTS);
	/* a started object elsewhere: another function's t is not this one's */
	check_precise("import threading\nt = threading.Thread(target=print)\ndef later():\n    t.start()\n", false,
	              "Starts a thread", WHY_USE_TIME);
}

static void
test_precise_workers(void **state)
{
	(void)state;
	check_precise("import multiprocessing\npool = multiprocessing.Pool(2)\n", true,
	              "Starts a process: multiprocessing.Pool()", WHY_COUNTS);
	check_precise("from concurrent.futures import ThreadPoolExecutor\nex = ThreadPoolExecutor()\n", false,
	              "Creates an executor", WHY_NOT_STARTED);
	check_precise("from concurrent.futures import ThreadPoolExecutor\nex = ThreadPoolExecutor()\n"
	              "ex.submit(print, 1)\n", true, "Starts an executor", WHY_COUNTS);
	check_precise("import concurrent.futures as cf\nwith cf.ProcessPoolExecutor() as ex:\n"
	              "    list(ex.map(abs, [1]))\n", true, "Starts an executor", WHY_COUNTS);
	check_precise("import multiprocessing\np = multiprocessing.Process(target=print)\np.start()\n", true,
	              "Starts a process: multiprocessing.Process()", WHY_COUNTS);
}

static void
test_precise_processes_sockets_signals_ffi(void **state)
{
	(void)state;
	check_precise("import subprocess\nsubprocess.run(['true'])\n", true, "Spawns a process: subprocess.run()",
	              WHY_COUNTS);
	check_precise("import subprocess\ndef f():\n    subprocess.run(['true'])\n", false,
	              "Spawns a process: subprocess.run()", WHY_USE_TIME);
	check_precise("import os\nos.system('true')\n", true, NULL, WHY_COUNTS);
	check_precise("import socket\ns = socket.socket()\n", true, "Opens a socket: socket.socket()", WHY_COUNTS);
	check_precise("from urllib.request import urlopen\nurlopen('http://x')\n", true, "Opens a socket", WHY_COUNTS);
	check_precise("import signal\nsignal.signal(signal.SIGTERM, print)\n", true,
	              "Installs a signal handler: signal.signal()", WHY_COUNTS);
	check_precise("import signal\ndef handler():\n    signal.signal(signal.SIGTERM, print)\n", false,
	              "Installs a signal handler", WHY_USE_TIME);
	check_precise("import ctypes\nlibc = ctypes.CDLL('libc.so.6')\n", true, "Loads native code: ctypes.CDLL()",
	              WHY_COUNTS);
	check_precise("import ctypes\nk = ctypes.WinDLL('kernel32')\n", false, "Loads a library of another platform",
	              WHY_NOT_HERE);
	check_precise("import cffi\nffi = cffi.FFI()\nlib = ffi.dlopen(None)\n", true, "Starts", WHY_COUNTS);
	check_precise("import cffi\nffi = cffi.FFI()\nffi.cdef('int f(void);')\n", false, "Creates an FFI",
	              WHY_NOT_STARTED);
}

static void
test_precise_dynamic(void **state)
{
	(void)state;
	check_precise("import importlib\nname = 'x'\nm = importlib.import_module(name)\n", true,
	              "Dynamic import: importlib.import_module()", WHY_COUNTS);
	check_precise("import importlib\nm = importlib.import_module('json')\n", false,
	              "Dynamic import: importlib.import_module()", WHY_LITERAL_IMPORT);
	check_precise("import importlib\ndef f(n):\n    return importlib.import_module(n)\n", false,
	              "Dynamic import", WHY_USE_TIME);
	check_precise("exec('x = 1')\n", true, "Dynamic code: exec()", WHY_COUNTS);
	check_precise("def f(s):\n    exec(s)\n", false, "Dynamic code: exec()", WHY_USE_TIME);
}

static void
test_precise_called_at_import(void **state)
{
	struct report *r;
	const struct cause *c;

	(void)state;
	r = precise("import subprocess\n\ndef setup():\n    helper()\n\ndef helper():\n"
	            "    subprocess.run(['true'])\n\nsetup()\n");
	assert_true(policy_is_toxic(r));
	c = cause_starting(r, "Spawns a process");
	assert_non_null(c);
	assert_true(c->import_time);
	assert_string_equal(c->reason,
	                    "Spawns a process: subprocess.run() (line 7; in helper(), run at import from line 4)");
	report_free(r);
	/* defined, never called at import */
	check_precise("import subprocess\ndef setup():\n    subprocess.run(['true'])\n", false, NULL, WHY_COUNTS);
	/* a bare decorator runs at definition */
	check_precise("import signal\ndef register(f):\n    signal.signal(signal.SIGINT, f)\n    return f\n"
	              "@register\ndef on_int(*a):\n    pass\n", true, "Installs a signal handler", WHY_COUNTS);
	/* an instance made at import runs __init__, and self.x.start() there */
	check_precise("import threading\nclass Poller:\n    def __init__(self):\n"
	              "        self.t = threading.Thread(target=self.run)\n        self.t.start()\n"
	              "    def run(self):\n        pass\npoller = Poller()\n", true, "Starts a thread", WHY_COUNTS);
	/* ... and a method it calls through self */
	check_precise("import socket\nclass C:\n    def __init__(self):\n        self.connect()\n"
	              "    def connect(self):\n        self.s = socket.create_connection(('h', 1))\nc = C()\n", true,
	              "Opens a socket", WHY_COUNTS);
	/* a class defined but not instantiated at import */
	check_precise("import socket\nclass C:\n    def __init__(self):\n        socket.socket()\n", false, NULL,
	              WHY_COUNTS);
	/* a lambda's body runs when called */
	check_precise("import subprocess\nrun = lambda: subprocess.run(['x'])\n", false, NULL, WHY_COUNTS);
	/* a chain of calls, each function defined before the one it calls
	 * (so no pass in source order could follow it) */
	{
		struct buf b = {0};
		int k;

		buf_puts(&b, "import subprocess\n");
		for (k = 49; k >= 0; k--) {
			if (k == 49)
				buf_printf(&b, "def f%d():\n    subprocess.run(['true'])\n", k);
			else
				buf_printf(&b, "def f%d():\n    f%d()\n", k, k + 1);
		}
		buf_puts(&b, "f0()\n");
		r = precise(b.data);
		assert_true(policy_is_toxic(r));
		c = cause_starting(r, "Spawns a process");
		assert_non_null(c);
		assert_string_equal(c->reason,
		                    "Spawns a process: subprocess.run() (line 3; in f49(), run at import from line 5)");
		report_free(r);
		buf_free(&b);
	}
	/* default arguments run at definition */
	check_precise("import socket\ndef f(s=socket.socket()):\n    pass\n", true, "Opens a socket", WHY_COUNTS);
}

static void
test_precise_platform(void **state)
{
	(void)state;
	check_precise("import sys\nif sys.platform == 'win32':\n    import torch\n", false, NULL, WHY_COUNTS);
	check_precise("import sys\nif sys.platform == 'win32':\n    pass\nelse:\n    import torch\n", true, NULL,
	              WHY_COUNTS);
	check_precise("import sys\nif sys.platform != 'win32':\n    pass\nelse:\n    import torch\n", false, NULL,
	              WHY_COUNTS);
	check_precise("import sys\nif sys.platform.startswith('linux'):\n    import torch\n", true, NULL, WHY_COUNTS);
	check_precise("import sys\nif sys.platform.startswith(('win', 'cygwin')):\n    import torch\n", false, NULL,
	              WHY_COUNTS);
	check_precise("import sys\nif sys.platform in ('win32', 'darwin'):\n    import torch\n", false, NULL,
	              WHY_COUNTS);
	check_precise("import sys\nif sys.platform not in ('win32', 'darwin'):\n    import torch\n", true, NULL,
	              WHY_COUNTS);
	check_precise("import os\nif os.name == 'nt':\n    import torch\n", false, NULL, WHY_COUNTS);
	check_precise("import platform\nif platform.system() == 'Windows':\n    import torch\n", false, NULL,
	              WHY_COUNTS);
	check_precise("import platform\nif platform.system() == 'Linux':\n    import torch\n", true, NULL, WHY_COUNTS);
	check_precise("import sys, subprocess\nWIN = sys.platform.startswith('win')\nif WIN:\n"
	              "    subprocess.run(['cmd'])\n", false, NULL, WHY_COUNTS);
	check_precise("import sys, subprocess\nWIN = sys.platform.startswith('win')\nif not WIN:\n"
	              "    subprocess.run(['ls'])\n", true, NULL, WHY_COUNTS);
	check_precise("import os, subprocess\nIS_WINDOWS = (os.name == 'nt')\nif IS_WINDOWS and True:\n"
	              "    subprocess.run(['cmd'])\n", false, NULL, WHY_COUNTS);
	/* a name bound again to something unknown is unknown */
	check_precise("import sys, subprocess\nWIN = sys.platform == 'win32'\nWIN = input()\nif WIN:\n"
	              "    subprocess.run(['cmd'])\n", true, NULL, WHY_COUNTS);
	/* unknown conditions keep both branches */
	check_precise("import subprocess\nif DEBUG:\n    subprocess.run(['x'])\n", true, NULL, WHY_COUNTS);
}

static void
test_precise_main_guard(void **state)
{
	(void)state;
	check_precise("import subprocess\nif __name__ == '__main__':\n    subprocess.run(['x'])\n", false, NULL,
	              WHY_COUNTS);
	check_precise("import sys, subprocess\nif sys.platform != 'win32' and __name__ == '__main__':\n"
	              "    subprocess.run(['x'])\n", false, NULL, WHY_COUNTS);
	check_precise("import subprocess\nif (__name__ == '__main__') and flag:\n    subprocess.run(['x'])\n", false,
	              NULL, WHY_COUNTS);
	check_precise("import subprocess\nif __name__ == '__main__' or flag:\n    subprocess.run(['x'])\n", true, NULL,
	              WHY_COUNTS);
	check_precise("import subprocess\nif __name__ != '__main__':\n    pass\nelse:\n    subprocess.run(['x'])\n",
	              false, NULL, WHY_COUNTS);
}

static void
test_precise_strict_differs(void **state)
{
	const char *src = "import threading\n";
	struct rules *ru = rules_new();
	struct report *r;

	(void)state;
	assert_int_equal(rules_policy(ru), POLICY_PRECISE);
	r = analyze_file(ru, src, strlen(src), "t.py");
	assert_false(policy_is_toxic(r));
	report_free(r);
	{
		char *fp = xstrdup(rules_fingerprint(ru));

		rules_set_policy(ru, POLICY_STRICT);
		assert_string_not_equal(fp, rules_fingerprint(ru));
		free(fp);
	}
	r = analyze_file(ru, src, strlen(src), "t.py");
	assert_true(policy_is_toxic(r));
	assert_int_equal(r->causes[0].why, WHY_COUNTS);
	report_free(r);
	rules_free(ru);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_import_plain),
		cmocka_unit_test(test_import_dotted_and_several),
		cmocka_unit_test(test_import_as),
		cmocka_unit_test(test_from_import),
		cmocka_unit_test(test_relative_imports),
		cmocka_unit_test(test_relative_imports_never_toxic),
		cmocka_unit_test(test_future_import),
		cmocka_unit_test(test_imports_not_deduped),
		cmocka_unit_test(test_pytest_plugins),
		cmocka_unit_test(test_toxic_import),
		cmocka_unit_test(test_toxic_import_kinds),
		cmocka_unit_test(test_toxic_dotted_boundary),
		cmocka_unit_test(test_toxic_import_as),
		cmocka_unit_test(test_from_toxic_module),
		cmocka_unit_test(test_from_toxic_submodule),
		cmocka_unit_test(test_from_safe_module),
		cmocka_unit_test(test_configured_toxic_module),
		cmocka_unit_test(test_star_import_toxic),
		cmocka_unit_test(test_star_import_safe),
		cmocka_unit_test(test_import_time_flags),
		cmocka_unit_test(test_toxic_import_in_function),
		cmocka_unit_test(test_imports_in_try_and_platform_checks),
		cmocka_unit_test(test_type_checking_ignored),
		cmocka_unit_test(test_type_checking_qualified),
		cmocka_unit_test(test_type_checking_elif_counts),
		cmocka_unit_test(test_not_type_checking),
		cmocka_unit_test(test_type_checking_lookalikes_count),
		cmocka_unit_test(test_main_guard_ignored),
		cmocka_unit_test(test_main_guard_forms),
		cmocka_unit_test(test_main_lookalikes_count),
		cmocka_unit_test(test_exec),
		cmocka_unit_test(test_exec_once_per_line),
		cmocka_unit_test(test_builtins_exec),
		cmocka_unit_test(test_exec_method_not_dynamic),
		cmocka_unit_test(test_dynamic_mentions_not_dynamic),
		cmocka_unit_test(test_exec_in_fstring),
		cmocka_unit_test(test_dunder_import_literal),
		cmocka_unit_test(test_dunder_import_not_literal),
		cmocka_unit_test(test_import_module),
		cmocka_unit_test(test_import_module_aliases),
		cmocka_unit_test(test_import_module_relative),
		cmocka_unit_test(test_import_module_unrelated),
		cmocka_unit_test(test_dynamic_imports_in_source_order),
		cmocka_unit_test(test_module_scope_thread),
		cmocka_unit_test(test_module_scope_aliases),
		cmocka_unit_test(test_module_scope_pool_and_ssl),
		cmocka_unit_test(test_module_scope_class_body),
		cmocka_unit_test(test_module_scope_not_in_def),
		cmocka_unit_test(test_module_scope_unrelated),
		cmocka_unit_test(test_spawn_fork),
		cmocka_unit_test(test_spawn_in_function),
		cmocka_unit_test(test_spawn_aliases),
		cmocka_unit_test(test_spawn_all_functions),
		cmocka_unit_test(test_spawn_star_import),
		cmocka_unit_test(test_spawn_unrelated),
		cmocka_unit_test(test_spawn_spelled_oddly),
		cmocka_unit_test(test_exec_alias),
		cmocka_unit_test(test_dunder_import_alias),
		cmocka_unit_test(test_import_module_value_alias),
		cmocka_unit_test(test_builtins_aliases),
		cmocka_unit_test(test_exec_alias_unrelated),
		cmocka_unit_test(test_alias_assignment_forms),
		cmocka_unit_test(test_alias_assignment_forms_unrelated),
		cmocka_unit_test(test_spawn_pty_asyncio),
		cmocka_unit_test(test_spawn_pty_asyncio_aliases),
		cmocka_unit_test(test_spawn_pty_asyncio_unrelated),
		cmocka_unit_test(test_all_none),
		cmocka_unit_test(test_all_list_and_tuple),
		cmocka_unit_test(test_all_extended),
		cmocka_unit_test(test_all_in_blocks),
		cmocka_unit_test(test_all_dynamic),
		cmocka_unit_test(test_all_other_bindings),
		cmocka_unit_test(test_all_other_bindings_elsewhere),
		cmocka_unit_test(test_all_dynamic_is_final),
		cmocka_unit_test(test_all_reset_between_files),
		cmocka_unit_test(test_all_with_parse_error),
		cmocka_unit_test(test_causes_sorted_by_line),
		cmocka_unit_test(test_defs_functions),
		cmocka_unit_test(test_defs_classes),
		cmocka_unit_test(test_defs_nested_classes),
		cmocka_unit_test(test_defs_toxic_decorators),
		cmocka_unit_test(test_defs_pytestmark),
		cmocka_unit_test(test_defs_parametrize_and_fixtures),
		cmocka_unit_test(test_defs_dunder_test),
		cmocka_unit_test(test_defs_in_blocks),
		cmocka_unit_test(test_defs_with_parse_error),
		cmocka_unit_test(test_defs_reset_between_files),
		cmocka_unit_test(test_defs_encodings),
		cmocka_unit_test(test_parse_error),
		cmocka_unit_test(test_parse_error_line),
		cmocka_unit_test(test_parse_error_in_skipped_block),
		cmocka_unit_test(test_utf8_bom),
		cmocka_unit_test(test_latin1_cookie),
		cmocka_unit_test(test_cookie_forms),
		cmocka_unit_test(test_unknown_encoding),
		cmocka_unit_test(test_encoding_names),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_binary_garbage),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_analyze_file),
		cmocka_unit_test(test_precise_imports),
		cmocka_unit_test(test_precise_threads),
		cmocka_unit_test(test_precise_workers),
		cmocka_unit_test(test_precise_processes_sockets_signals_ffi),
		cmocka_unit_test(test_precise_dynamic),
		cmocka_unit_test(test_precise_called_at_import),
		cmocka_unit_test(test_precise_platform),
		cmocka_unit_test(test_precise_main_guard),
		cmocka_unit_test(test_precise_strict_differs),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
