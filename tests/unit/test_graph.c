/* Unit tests for graph: module naming, import resolution (absolute,
 * relative, parents, namespace packages, source roots), propagation through
 * chains and cycles. Reports are built by hand so these tests exercise the
 * graph alone. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "gen/analyze/graph.h"
#include "lib/util.h"

static struct report *
rep(void)
{
	return xcalloc(1, sizeof(struct report));
}

static void
imp(struct report *r, int level, const char *module, const char *name, int line)
{
	size_t cap = r->nimports;

	r->imports = xgrow(r->imports, &cap, r->nimports + 1, sizeof(r->imports[0]));
	r->imports[r->nimports++] = (struct pyimport){xstrdup(module), name ? xstrdup(name) : NULL,
	                                              level, line, true, false};
}

static void
cause(struct report *r, const char *name, int line)
{
	size_t cap = r->ncauses;

	r->causes = xgrow(r->causes, &cap, r->ncauses + 1, sizeof(r->causes[0]));
	r->causes[r->ncauses++] = (struct cause){CAUSE_FFI, xstrdup(name),
	                                          xasprintf("Imports toxic module '%s' (line %d)", name, line),
	                                          line, true, WHY_COUNTS};
}

/* A file with one absolute import and optional toxic cause. */
static void
add(struct graph *g, const char *path, const char *imports, const char *toxic)
{
	struct report *r = rep();
	char *list = xstrdup(imports ? imports : ""), *tok, *save;
	int line = 1;

	for (tok = strtok_r(list, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		imp(r, 0, tok, NULL, line++);
	free(list);
	if (toxic)
		cause(r, toxic, line);
	graph_add(g, path, r);
}

static bool
has_dep(const struct module *m, const char *path)
{
	size_t i;

	for (i = 0; i < m->ndeps; i++)
		if (strcmp(m->deps[i].to->path, path) == 0)
			return true;
	return false;
}

static void
test_chain(void **state)
{
	struct graph *g = graph_new("/nonexistent");
	struct module *t;

	(void)state;
	add(g, "tests/test_user.py", "os auth", NULL);
	add(g, "auth.py", "crypto_utils", NULL);
	add(g, "crypto_utils.py", NULL, "ctypes");
	add(g, "models.py", "os", NULL);
	graph_build(g);
	t = graph_find_path(g, "tests/test_user.py");
	assert_non_null(t);
	assert_string_equal(t->name, "test_user");
	assert_true(t->toxic);
	assert_false(t->direct);
	assert_string_equal(t->via->path, "auth.py");
	assert_int_equal(t->via_line, 2);
	assert_string_equal(t->via->via->path, "crypto_utils.py");
	assert_null(t->via->via->via);
	assert_true(t->via->via->direct);
	assert_true(graph_is_toxic(g, "auth.py"));
	assert_false(graph_is_toxic(g, "models.py"));
	assert_false(graph_is_toxic(g, "nope.py"));
	graph_free(g);
}

static void
test_cycles_terminate(void **state)
{
	struct graph *g = graph_new("/nonexistent");

	(void)state;
	add(g, "a.py", "b", NULL);
	add(g, "b.py", "a c", NULL);
	add(g, "c.py", NULL, "threading");
	add(g, "d.py", "a", NULL);
	add(g, "e.py", "f", NULL);
	add(g, "f.py", "e", NULL);
	add(g, "self.py", "self", NULL);
	graph_build(g);
	assert_true(graph_is_toxic(g, "a.py"));
	assert_true(graph_is_toxic(g, "b.py"));
	assert_true(graph_is_toxic(g, "d.py"));
	assert_false(graph_is_toxic(g, "e.py"));
	assert_false(graph_is_toxic(g, "f.py"));
	assert_false(graph_is_toxic(g, "self.py"));
	/* a self-import is no edge */
	assert_int_equal(graph_find_path(g, "self.py")->ndeps, 0);
	/* shortest chain: b imports c directly */
	assert_string_equal(graph_find_path(g, "b.py")->via->path, "c.py");
	assert_string_equal(graph_find_path(g, "a.py")->via->path, "b.py");
	graph_free(g);
}

static void
test_parent_packages(void **state)
{
	struct graph *g = graph_new("/nonexistent");
	struct module *m;

	(void)state;
	add(g, "a/__init__.py", NULL, NULL);
	add(g, "a/b/__init__.py", NULL, "socket");
	add(g, "a/b/c.py", NULL, NULL);
	add(g, "a/d.py", NULL, NULL);
	add(g, "user.py", "a.b.c", NULL);
	graph_build(g);
	m = graph_find_path(g, "a/b/c.py");
	assert_string_equal(m->name, "a.b.c");
	assert_true(has_dep(m, "a/__init__.py"));
	assert_true(has_dep(m, "a/b/__init__.py"));
	assert_true(m->toxic);
	assert_true(m->via_parent);
	assert_false(graph_is_toxic(g, "a/d.py"));
	assert_false(graph_is_toxic(g, "a/__init__.py"));
	m = graph_find_path(g, "user.py");
	assert_true(has_dep(m, "a/__init__.py"));
	assert_true(has_dep(m, "a/b/__init__.py"));
	assert_true(has_dep(m, "a/b/c.py"));
	assert_true(m->toxic);
	assert_string_equal(graph_find_path(g, "a/b/__init__.py")->name, "a.b");
	assert_true(graph_find_path(g, "a/b/__init__.py")->package);
	graph_free(g);
}

static void
test_relative_and_namespace(void **state)
{
	struct graph *g = graph_new("/nonexistent");
	struct report *r;
	struct module *m;

	(void)state;
	add(g, "pkg/__init__.py", NULL, NULL);
	add(g, "pkg/fmt.py", NULL, NULL);
	add(g, "pkg/sub/__init__.py", NULL, NULL);
	add(g, "pkg/sub/x.py", NULL, "signal");
	add(g, "ns/tool.py", NULL, NULL);          /* ns: namespace package */
	r = rep();
	imp(r, 1, "", "fmt", 1);                    /* from . import fmt */
	imp(r, 1, "sub", "x", 2);                   /* from .sub import x */
	graph_add(g, "pkg/text.py", r);
	r = rep();
	imp(r, 2, "fmt", "pad", 1);                 /* from ..fmt import pad */
	graph_add(g, "pkg/sub/deep.py", r);
	r = rep();
	imp(r, 3, "", "x", 1);                      /* escapes the root: ignored */
	graph_add(g, "pkg/esc.py", r);
	r = rep();
	imp(r, 0, "ns", "tool", 1);                 /* from ns import tool */
	imp(r, 0, "pkg", "missing", 2);
	graph_add(g, "main.py", r);
	graph_build(g);

	m = graph_find_path(g, "pkg/text.py");
	assert_true(has_dep(m, "pkg/fmt.py"));
	assert_true(has_dep(m, "pkg/__init__.py"));
	assert_true(has_dep(m, "pkg/sub/__init__.py"));
	assert_true(has_dep(m, "pkg/sub/x.py"));
	assert_true(m->toxic);
	assert_int_equal(m->nimports, 2);
	assert_string_equal(m->imports[0], "pkg.fmt");
	assert_string_equal(m->imports[1], "pkg.sub.x");

	m = graph_find_path(g, "pkg/sub/deep.py");
	assert_true(has_dep(m, "pkg/fmt.py"));
	assert_string_equal(m->imports[0], "pkg.fmt");
	assert_false(has_dep(m, "pkg/sub/x.py"));
	assert_false(m->toxic);

	m = graph_find_path(g, "main.py");
	assert_true(has_dep(m, "ns/tool.py"));
	assert_true(has_dep(m, "pkg/__init__.py"));
	assert_string_equal(graph_find_path(g, "ns/tool.py")->name, "ns.tool");
	assert_int_equal(graph_find_path(g, "pkg/esc.py")->ndeps, 1);  /* its parent only */
	graph_free(g);
}

static void
test_test_dirs_are_roots(void **state)
{
	struct graph *g = graph_new("/nonexistent");
	struct module *m;
	bool amb;

	(void)state;
	add(g, "tests/conftest.py", NULL, NULL);
	add(g, "tests/unit/conftest.py", NULL, "socket");
	add(g, "tests/unit/test_a.py", "helpers", NULL);
	add(g, "tests/unit/helpers.py", NULL, NULL);
	add(g, "tests/helpers.py", NULL, "ctypes");
	add(g, "tests/pkgtests/__init__.py", NULL, NULL);
	add(g, "tests/pkgtests/test_p.py", "helpers", NULL);
	graph_build(g);

	/* two files named conftest, each its own node */
	assert_string_equal(graph_find_path(g, "tests/conftest.py")->name, "conftest");
	assert_string_equal(graph_find_path(g, "tests/unit/conftest.py")->name, "conftest");
	assert_false(graph_is_toxic(g, "tests/conftest.py"));
	assert_true(graph_is_toxic(g, "tests/unit/conftest.py"));
	m = graph_lookup(g, "conftest", &amb);
	assert_non_null(m);
	assert_true(amb);

	/* a test imports the helpers beside it: its own root comes first */
	m = graph_find_path(g, "tests/unit/test_a.py");
	assert_string_equal(m->name, "test_a");
	assert_true(has_dep(m, "tests/unit/helpers.py"));
	assert_false(m->toxic);

	/* inside a package the basedir is the package's parent */
	m = graph_find_path(g, "tests/pkgtests/test_p.py");
	assert_string_equal(m->name, "pkgtests.test_p");
	assert_true(has_dep(m, "tests/helpers.py"));
	assert_true(m->toxic);
	graph_free(g);
}

static void
test_extra_roots_and_names(void **state)
{
	struct graph *g = graph_new("/nonexistent");
	struct module *m;
	bool amb;

	(void)state;
	graph_add_root(g, "lib/");
	add(g, "lib/vendored.py", NULL, "vendor.blob");
	add(g, "app.py", "vendored", NULL);
	add(g, "my-script.py", "vendored", NULL);
	add(g, "2fast.py", NULL, NULL);
	graph_build(g);
	m = graph_find_path(g, "lib/vendored.py");
	assert_string_equal(m->name, "vendored");
	assert_true(graph_is_toxic(g, "app.py"));
	assert_string_equal(graph_find_path(g, "my-script.py")->name, "my-script");
	assert_true(graph_is_toxic(g, "my-script.py"));
	assert_string_equal(graph_find_path(g, "./app.py")->path, "app.py");
	m = graph_lookup(g, "vendored", &amb);
	assert_non_null(m);
	assert_false(amb);
	assert_string_equal(m->path, "lib/vendored.py");
	assert_null(graph_lookup(g, "nothing.here", &amb));
	graph_free(g);
}

static void
test_edges_deduplicated(void **state)
{
	struct graph *g = graph_new("/nonexistent");
	struct module *m;

	(void)state;
	add(g, "a.py", "b b b.c", NULL);
	add(g, "b/__init__.py", NULL, NULL);
	add(g, "b/c.py", NULL, NULL);
	graph_build(g);
	m = graph_find_path(g, "a.py");
	assert_int_equal(m->ndeps, 2);
	assert_int_equal(m->deps[0].line, 1);
	assert_int_equal(m->nimports, 2);
	assert_int_equal(graph_nedges(g), 3);   /* a->b, a->b.c, b.c->b */
	graph_free(g);
}

static void
test_package_path_wins(void **state)
{
	struct graph *g = graph_new("/nonexistent");
	struct module *m;

	(void)state;
	/* src/a is a regular package: a.b is looked up only inside it, never in
	 * the tests/a directory of another root */
	add(g, "src/a/__init__.py", NULL, NULL);
	add(g, "src/a/b.py", NULL, "subprocess");
	add(g, "tests/a/b.py", NULL, NULL);
	add(g, "tests/test_m.py", "a.b", NULL);
	graph_add_root(g, "src");
	graph_build(g);
	m = graph_find_path(g, "tests/test_m.py");
	assert_true(has_dep(m, "src/a/b.py"));
	assert_false(has_dep(m, "tests/a/b.py"));
	assert_true(m->toxic);
	graph_free(g);

	/* namespace portions merge when no regular package exists */
	g = graph_new("/nonexistent");
	add(g, "one/ns/x.py", NULL, NULL);
	add(g, "two/ns/y.py", NULL, "ctypes");
	add(g, "user.py", "ns.x ns.y", NULL);
	graph_add_root(g, "one");
	graph_add_root(g, "two");
	graph_build(g);
	m = graph_find_path(g, "user.py");
	assert_true(has_dep(m, "one/ns/x.py"));
	assert_true(has_dep(m, "two/ns/y.py"));
	assert_true(m->toxic);
	graph_free(g);

	/* a module has no submodules */
	g = graph_new("/nonexistent");
	add(g, "mod.py", NULL, NULL);
	add(g, "mod/sub.py", NULL, "signal");
	add(g, "user.py", "mod.sub", NULL);
	graph_build(g);
	m = graph_find_path(g, "user.py");
	assert_true(has_dep(m, "mod.py"));
	assert_false(has_dep(m, "mod/sub.py"));
	graph_free(g);
}

static void
test_star_import_all(void **state)
{
	struct graph *g = graph_new("/nonexistent");
	struct report *r;
	struct module *m;

	(void)state;
	r = rep();
	r->all_kind = ALL_LITERAL;
	r->nall = 1;
	r->all = xcalloc(1, sizeof(r->all[0]));
	r->all[0] = xstrdup("tox");
	graph_add(g, "pkg/__init__.py", r);
	add(g, "pkg/tox.py", NULL, "socket");
	add(g, "pkg/other.py", NULL, NULL);
	r = rep();
	imp(r, 0, "pkg", "*", 1);
	graph_add(g, "user.py", r);
	r = rep();
	r->all_kind = ALL_DYNAMIC;
	graph_add(g, "dyn/__init__.py", r);
	add(g, "dyn/a.py", NULL, NULL);
	add(g, "dyn/deep/__init__.py", NULL, NULL);
	add(g, "dyn/deep/z.py", NULL, NULL);
	r = rep();
	imp(r, 0, "dyn", "*", 1);
	graph_add(g, "user2.py", r);
	r = rep();
	imp(r, 0, "pkg", "other", 1);
	graph_add(g, "user3.py", r);
	graph_build(g);
	m = graph_find_path(g, "user.py");
	assert_true(has_dep(m, "pkg/tox.py"));
	assert_false(has_dep(m, "pkg/other.py"));
	assert_true(m->toxic);
	m = graph_find_path(g, "user2.py");
	assert_true(has_dep(m, "dyn/a.py"));
	assert_true(has_dep(m, "dyn/deep/__init__.py"));
	assert_false(has_dep(m, "dyn/deep/z.py"));
	assert_false(graph_is_toxic(g, "user3.py"));
	graph_free(g);
}

static void
test_root_is_a_package(void **state)
{
	char tmp[] = "/tmp/tach-graph-XXXXXX", *root;
	struct graph *g;
	struct module *m;

	(void)state;
	assert_non_null(mkdtemp(tmp));
	root = xasprintf("%s/proj", tmp);
	assert_int_equal(mkdir(root, 0755), 0);
	g = graph_new(root);
	add(g, "__init__.py", NULL, NULL);
	add(g, "pkg/__init__.py", NULL, NULL);
	add(g, "pkg/tox.py", NULL, "threading");
	add(g, "pkg/test_x.py", "proj.pkg.tox", NULL);
	graph_build(g);
	m = graph_find_path(g, "pkg/test_x.py");
	assert_true(has_dep(m, "pkg/tox.py"));
	assert_true(has_dep(m, "__init__.py"));
	assert_true(m->toxic);
	assert_string_equal(graph_find_path(g, "__init__.py")->name, "proj");
	graph_free(g);

	/* its __init__.py runs before every module imported under its name */
	g = graph_new(root);
	add(g, "__init__.py", NULL, "threading");
	add(g, "test_top.py", NULL, NULL);
	graph_build(g);
	m = graph_find_path(g, "test_top.py");
	assert_true(has_dep(m, "__init__.py"));
	assert_true(m->toxic);
	assert_true(m->via_parent);
	graph_free(g);
	rmdir(root);
	rmdir(tmp);
	free(root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_cycles_terminate),
		cmocka_unit_test(test_parent_packages),
		cmocka_unit_test(test_relative_and_namespace),
		cmocka_unit_test(test_test_dirs_are_roots),
		cmocka_unit_test(test_extra_roots_and_names),
		cmocka_unit_test(test_edges_deduplicated),
		cmocka_unit_test(test_package_path_wins),
		cmocka_unit_test(test_star_import_all),
		cmocka_unit_test(test_root_is_a_package),
	};

	return cmocka_run_group_tests_name("graph", tests, NULL, NULL);
}
