/* discover - finds a project's tests statically, the way pytest would
 * collect them, from the analyzer's reports (gen/discover.c).
 *
 * pytest's options come from the first of pytest.ini ([pytest]),
 * pyproject.toml ([tool.pytest.ini_options]), tox.ini ([pytest]) and
 * setup.cfg ([tool:pytest]) that has its section, in ROOT or else its
 * nearest ancestor, as pytest picks its inifile (testpaths only from ROOT): python_files (default "test_*.py *_test.py"), python_classes
 * ("Test"), python_functions ("test"), testpaths and norecursedirs. A name
 * pattern with a glob character is an fnmatch pattern, else a prefix.
 *
 * Tests are module-level functions matching python_functions, methods of
 * classes matching python_classes that define no __init__, and every
 * test* method of a unittest.TestCase subclass (a base named TestCase, or a
 * project class already known to be one). A test is toxic when its module
 * is (the graph's verdict), when a conftest.py pytest loads for it is, or
 * when it, its class or its module's pytestmark carries pytest.mark.toxic. A
 * test file that does not parse is one test, its path, run isolated, and so
 * is a test file in which none is found.
 *
 * This is a plan, not the authority: pytest's collection of the file is.
 * The first test of each file (tests are contiguous per file) also runs
 * every item pytest collects there that no test of the plan names, and
 * reports what happens to the file as a whole (see tach-run --claims). */
#ifndef TACH_DISCOVER_H
#define TACH_DISCOVER_H

#include <stdbool.h>
#include <stddef.h>

#include "gen/config.h"
#include "gen/analyze/graph.h"
#include "gen/analyze/scan.h"

struct pytest_ini {
	struct strlist python_files;
	struct strlist python_classes;
	struct strlist python_functions;
	struct strlist testpaths;
	struct strlist norecursedirs;
	struct strlist pythonpath;      /* pytest's pythonpath, as written */
	char *path;             /* the file the options came from, or NULL */
};

/* Reads pytest's options in root. Returns 0, or -1 with *err set to
 * "PATH:LINE: message" (the caller frees it). */
int pytest_ini_load(struct pytest_ini *ini, const char *root, char **err);
void pytest_ini_free(struct pytest_ini *ini);

struct test {
	char *nodeid;           /* "tests/test_a.py::TestK::test_m" */
	struct module *module;  /* the test file */
	bool toxic;
	const char *why;        /* for toxic tests: "module", "conftest", "mark", "parse" */
	struct module **conftests;  /* the conftest.py chain, root first */
	size_t nconftests;
};

struct tests {
	struct test *v;
	size_t n, cap;
	/* directories pytest walks that tach could not read: each is one
	 * error case, under unreadable.v[i] as its node id, why.v[i] saying
	 * why (pytest reports a collection error for it) */
	struct strlist unreadable, why;
};

/* Appends the tests of the built graph g, in path order then source
 * order. */
void discover(const struct graph *g, const struct pytest_ini *ini, struct tests *out);
/* Appends to out->unreadable the directories of errs that pytest would
 * walk into: under testpaths (or on the way to one), none of their
 * components matching norecursedirs. */
void discover_unreadable(const struct pytest_ini *ini, const struct scan_errors *errs, struct tests *out);
void tests_free(struct tests *t);

/* pytest's matching of a name against python_classes/python_functions:
 * fnmatch when the pattern has a glob character, else a prefix. */
bool pytest_name_matches(const struct strlist *patterns, const char *name);

#endif
