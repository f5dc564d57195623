/* discover - pytest's test discovery, statically (gen/discover.h). */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen/discover.h"
#include "gen/analyze/graph.h"
#include "tach/report.h"
#include "gen/toml.h"
#include "lib/htab.h"
#include "lib/util.h"

/* ---- pytest's options ---- */

static void
split_words(struct strlist *l, const char *s)
{
	const char *p = s, *start;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p)
			return;
		start = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			p++;
		l->v = xgrow(l->v, &l->cap, l->n + 1, sizeof(*l->v));
		l->v[l->n++] = xstrndup(start, (size_t)(p - start));
	}
}

static struct strlist *
ini_option(struct pytest_ini *ini, const char *key)
{
	if (strcmp(key, "python_files") == 0)
		return &ini->python_files;
	if (strcmp(key, "python_classes") == 0)
		return &ini->python_classes;
	if (strcmp(key, "python_functions") == 0)
		return &ini->python_functions;
	if (strcmp(key, "testpaths") == 0)
		return &ini->testpaths;
	if (strcmp(key, "norecursedirs") == 0)
		return &ini->norecursedirs;
	if (strcmp(key, "pythonpath") == 0)
		return &ini->pythonpath;
	return NULL;
}

/* Reads section of an INI file (pytest.ini, tox.ini, setup.cfg). Returns 1
 * when the section is there, 0 when not, -1 when the file is unreadable.
 *
 * By hand, as pytest's iniconfig reads it, not with libinih: Debian's
 * libinih (55) strips " ;..." from values (iniconfig keeps it: `python_files
 * = test_*.py ;check_*.py` is two patterns to pytest), cuts lines at 200
 * bytes, and hands continuation lines over one by one; so the same file
 * would give other patterns than the ones pytest collects with. */
static int
ini_read(struct pytest_ini *ini, const char *path, const char *section, char **err)
{
	char *data, *line, *nl, *p, *key = NULL, *eq;
	struct buf val = {0};
	size_t len;
	int in = 0, found = 0, lineno = 0;
	bool last;
	struct strlist *cur = NULL;

	if (read_file(path, &data, &len) < 0)
		return errno == ENOENT ? 0 : -1;
	for (line = data; line; line = last ? NULL : nl + 1) {
		nl = strchrnul(line, '\n');
		last = !*nl;
		lineno++;
		*nl = 0;
		if (line[0] == ' ' || line[0] == '\t') {
			/* a continuation line of the value before */
			if (in && cur && *line)
				split_words(cur, line);
			continue;
		}
		cur = NULL;
		for (p = line; *p == ' '; p++)
			;
		if (!*p || *p == '#' || *p == ';')
			continue;
		if (*p == '[') {
			char *end = strchr(p, ']');

			if (!end) {
				*err = xasprintf("%s:%d: a section header without ']'", path, lineno);
				free(data);
				return -1;
			}
			*end = 0;
			in = strcmp(p + 1, section) == 0;
			found |= in;
			continue;
		}
		if (!in)
			continue;
		eq = strpbrk(p, "=:");
		if (!eq)
			continue;
		*eq = 0;
		key = p;
		for (p = eq - 1; p >= key && (*p == ' ' || *p == '\t'); p--)
			*p = 0;
		cur = ini_option(ini, key);
		if (cur) {
			strlist_free(cur);
			memset(cur, 0, sizeof(*cur));
			split_words(cur, eq + 1);
		}
	}
	buf_free(&val);
	free(data);
	if (found)
		ini->path = xstrdup(path);
	return found;
}

static int
pyproject_read(struct pytest_ini *ini, const char *path, char **err)
{
	const struct toml_value *opts, *v;
	struct toml_value *doc;
	struct strlist *l;
	char *data;
	size_t len, i, k;

	if (read_file(path, &data, &len) < 0)
		return errno == ENOENT ? 0 : -1;
	doc = toml_parse(data, len, path, err);
	free(data);
	if (!doc)
		return -1;
	opts = toml_get(doc, "tool.pytest.ini_options");
	if (!opts || opts->type != TOML_TABLE) {
		toml_free(doc);
		return 0;
	}
	for (i = 0; i < opts->n; i++) {
		l = ini_option(ini, opts->keys[i]);
		v = opts->items[i];
		if (!l)
			continue;
		strlist_free(l);
		memset(l, 0, sizeof(*l));
		if (v->type == TOML_STRING) {
			split_words(l, v->str);
		} else if (v->type == TOML_ARRAY) {
			for (k = 0; k < v->n; k++) {
				if (v->items[k]->type != TOML_STRING) {
					*err = xasprintf("%s:%d: tool.pytest.ini_options.%s: expected strings",
					    path, v->items[k]->line, opts->keys[i]);
					toml_free(doc);
					return -1;
				}
				strlist_add(l, v->items[k]->str);
			}
		} else {
			*err = xasprintf("%s:%d: tool.pytest.ini_options.%s: expected a string or an array",
			    path, v->line, opts->keys[i]);
			toml_free(doc);
			return -1;
		}
	}
	ini->path = xstrdup(path);
	toml_free(doc);
	return 1;
}

int
pytest_ini_load(struct pytest_ini *ini, const char *root, char **err)
{
	static const struct {
		const char *file, *section;
	} inis[] = {
		{"pytest.ini", "pytest"},
		{"pyproject.toml", NULL},
		{"tox.ini", "pytest"},
		{"setup.cfg", "tool:pytest"},
	};
	char *path, *dir = xstrdup(root), *slash;
	size_t i;
	int rc = 0;

	memset(ini, 0, sizeof(*ini));
	*err = NULL;
	/* the root, then its ancestors, as pytest looks for its inifile */
	for (;;) {
		for (i = 0; i < LEN(inis) && rc == 0; i++) {
			path = path_join(dir, inis[i].file);
			rc = inis[i].section ? ini_read(ini, path, inis[i].section, err)
			    : pyproject_read(ini, path, err);
			if (rc < 0 && !*err)
				*err = xasprintf("%s: %s", path, strerror(errno));
			/* pytest.ini is the inifile even without its section */
			if (i == 0 && rc == 0 && access(path, F_OK) == 0) {
				ini->path = xstrdup(path);
				rc = 1;
			}
			free(path);
		}
		slash = strrchr(dir, '/');
		if (rc != 0 || !slash || slash == dir)
			break;
		*slash = 0;
	}
	if (rc > 0 && strcmp(dir, root) != 0) {
		/* testpaths are for runs from that directory, not ours */
		strlist_free(&ini->testpaths);
		memset(&ini->testpaths, 0, sizeof(ini->testpaths));
	}
	free(dir);
	if (!ini->python_files.n)
		split_words(&ini->python_files, "test_*.py *_test.py");
	if (!ini->python_classes.n)
		strlist_add(&ini->python_classes, "Test");
	if (!ini->python_functions.n)
		strlist_add(&ini->python_functions, "test");
	if (!ini->norecursedirs.n)
		split_words(&ini->norecursedirs, "*.egg .* _darcs build CVS dist node_modules venv {arch}");
	return rc < 0 ? -1 : 0;
}

void
pytest_ini_free(struct pytest_ini *ini)
{
	strlist_free(&ini->python_files);
	strlist_free(&ini->python_classes);
	strlist_free(&ini->python_functions);
	strlist_free(&ini->testpaths);
	strlist_free(&ini->norecursedirs);
	strlist_free(&ini->pythonpath);
	free(ini->path);
}

/* ---- matching ---- */

static bool
has_glob(const char *p)
{
	return strpbrk(p, "*?[") != NULL;
}

bool
pytest_name_matches(const struct strlist *patterns, const char *name)
{
	size_t i;

	for (i = 0; i < patterns->n; i++) {
		const char *p = patterns->v[i];

		if (has_glob(p) ? fnmatch(p, name, 0) == 0 : strncmp(name, p, strlen(p)) == 0)
			return true;
	}
	return false;
}

/* Whether a directory on the way to path (relative to the root), or path
 * itself when dir_too, matches norecursedirs. */
static bool
norecursed(const struct pytest_ini *ini, const char *path, bool dir_too)
{
	char *dir = xstrdup(path), *p, *slash;
	bool last = false;
	size_t i;

	for (p = dir; !last; p = slash + 1) {
		slash = strchr(p, '/');
		if (!slash) {
			if (!dir_too)
				break;
			last = true;
			slash = p + strlen(p);
		}
		*slash = 0;
		for (i = 0; i < ini->norecursedirs.n; i++) {
			if (fnmatch(ini->norecursedirs.v[i], p, 0) == 0) {
				free(dir);
				return true;
			}
		}
	}
	free(dir);
	return false;
}

/* Whether path (relative to the root) lies under a testpath, when there
 * are any; with above, also whether a testpath lies under path (pytest
 * walks path to reach it). */
static bool
under_testpaths(const struct pytest_ini *ini, const char *path, bool above)
{
	size_t i, n, plen = strlen(path);

	if (!ini->testpaths.n)
		return true;
	for (i = 0; i < ini->testpaths.n; i++) {
		const char *tp = ini->testpaths.v[i];

		n = strlen(tp);
		while (n > 0 && tp[n - 1] == '/')
			n--;
		if (strcmp(tp, ".") == 0 || n == 0)
			return true;
		if (has_glob(tp)) {
			if (fnmatch(tp, path, FNM_PATHNAME | FNM_LEADING_DIR) == 0)
				return true;
		} else if (strncmp(path, tp, n) == 0 && (path[n] == '/' || path[n] == 0)) {
			return true;
		} else if (above && n > plen && strncmp(tp, path, plen) == 0 && tp[plen] == '/') {
			return true;
		}
	}
	return false;
}

/* Whether a test file at path (relative to the root) is collected: its
 * name matches python_files, it lies under a testpath when there are any,
 * and no directory on the way matches norecursedirs. */
static bool
collected_file(const struct pytest_ini *ini, const char *path)
{
	const char *base = strrchr(path, '/');
	size_t i;
	bool ok = false;

	base = base ? base + 1 : path;
	for (i = 0; i < ini->python_files.n && !ok; i++) {
		const char *pat = ini->python_files.v[i];

		ok = fnmatch(pat, strchr(pat, '/') ? path : base, 0) == 0;
	}
	return ok && under_testpaths(ini, path, false) && !norecursed(ini, path, false);
}

/* ---- unittest ---- */

static bool
testcase_base(const char *base)
{
	const char *last = strrchr(base, '.');

	last = last ? last + 1 : base;
	return strcmp(last, "TestCase") == 0 || strcmp(last, "IsolatedAsyncioTestCase") == 0
	    || strcmp(last, "AsyncTestCase") == 0;
}

/* Names of project classes that are unittest.TestCase subclasses, to a
 * fixed point: a class whose base's last component names one is one. */
static struct htab *
testcase_classes(const struct graph *g)
{
	struct htab *known = htab_new();
	size_t i, d, b, n = graph_count(g);
	bool changed = true;

	while (changed) {
		changed = false;
		for (i = 0; i < n; i++) {
			const struct report *r = graph_module(g, i)->report;

			for (d = 0; r && d < r->ndefs; d++) {
				const struct pydef *def = &r->defs[d];

				if (def->kind != DEF_CLASS || htab_get(known, def->name))
					continue;
				for (b = 0; b < def->nbases; b++) {
					const char *base = def->bases[b], *last = strrchr(base, '.');

					last = last ? last + 1 : base;
					if (testcase_base(base) || htab_get(known, last)) {
						*htab_slot(known, def->name) = (void *)def->name;
						changed = true;
						break;
					}
				}
			}
		}
	}
	return known;
}

/* ---- discovery ---- */

/* Whether a class may inherit tests: a base other than object and
 * unittest's TestCase classes. */
static bool
inherits(const struct pydef *def)
{
	size_t b;

	for (b = 0; b < def->nbases; b++)
		if (strcmp(def->bases[b], "object") != 0 && !testcase_base(def->bases[b]))
			return true;
	return false;
}

/* The conftest.py files pytest loads for a test at path: one per directory
 * from the root down to the test's own. */
static void
conftest_chain(const struct graph *g, const char *path, struct test *t)
{
	char *dir = xstrdup(path), *p, *c;
	struct module *m;

	m = graph_find_path(g, "conftest.py");
	if (m) {
		t->conftests = xrealloc(t->conftests, (t->nconftests + 1) * sizeof(*t->conftests));
		t->conftests[t->nconftests++] = m;
	}
	for (p = dir; (p = strchr(p, '/')); p++) {
		*p = 0;
		c = path_join(dir, "conftest.py");
		m = graph_find_path(g, c);
		free(c);
		*p = '/';
		if (m) {
			t->conftests = xrealloc(t->conftests, (t->nconftests + 1) * sizeof(*t->conftests));
			t->conftests[t->nconftests++] = m;
		}
	}
	free(dir);
}

static void
add_test(struct tests *out, const struct graph *g, struct module *m, char *nodeid, bool marked)
{
	struct test *t;
	size_t i;

	/* a name defined twice (if/else branches, a redefinition): pytest
	 * collects it once */
	for (i = out->n; i > 0 && out->v[i - 1].module == m; i--) {
		if (strcmp(out->v[i - 1].nodeid, nodeid) == 0) {
			out->v[i - 1].toxic |= marked;
			if (marked && !out->v[i - 1].why)
				out->v[i - 1].why = "mark";
			free(nodeid);
			return;
		}
	}
	out->v = xgrow(out->v, &out->cap, out->n + 1, sizeof(*out->v));
	t = &out->v[out->n++];
	memset(t, 0, sizeof(*t));
	t->nodeid = nodeid;
	t->module = m;
	conftest_chain(g, m->path, t);
	if (m->report && m->report->parse_error_line) {
		t->toxic = true;
		t->why = "parse";
	} else if (m->toxic) {
		t->toxic = true;
		t->why = "module";
	} else if (marked) {
		t->toxic = true;
		t->why = "mark";
	} else {
		for (i = 0; i < t->nconftests; i++) {
			if (t->conftests[i]->toxic) {
				t->toxic = true;
				t->why = "conftest";
				break;
			}
		}
	}
}

/* The class chain of def d as "Outer::Inner", or NULL when a class on the
 * way is not collected. */
static char *
class_path(const struct report *r, int d, const struct pytest_ini *ini, struct htab *tc, bool *marked,
    bool *unittest)
{
	const struct pydef *def = &r->defs[d];
	char *outer, *s;
	bool is_tc = htab_get(tc, def->name) != NULL;

	if (def->kind != DEF_CLASS || (def->flags & DEF_NOT_TEST))
		return NULL;
	if (!is_tc && !(def->flags & DEF_FORCE_TEST)
	    && (!pytest_name_matches(&ini->python_classes, def->name) || def->has_init || def->has_new))
		return NULL;
	*marked |= (def->flags & DEF_TOXIC_MARK) != 0;
	*unittest |= is_tc;
	if (def->parent < 0)
		return xstrdup(def->name);
	outer = class_path(r, def->parent, ini, tc, marked, unittest);
	if (!outer)
		return NULL;
	s = xconcat(outer, "::", def->name, NULL);
	free(outer);
	return s;
}

void
discover(const struct graph *g, const struct pytest_ini *ini, struct tests *out)
{
	struct htab *tc = testcase_classes(g);
	size_t i, n = graph_count(g);
	bool *whole;
	int d;

	for (i = 0; i < n; i++) {
		struct module *m = graph_module(g, i);
		const struct report *r = m->report;
		bool module_mark;
		size_t before;

		if (!collected_file(ini, m->path))
			continue;
		if (strpbrk(m->path, "\n\r")) {
			/* Ninja cannot name it: the edge of the files no edge
			 * plans runs it, every time */
			warn("%s: a name Ninja cannot hold (a newline); its tests run with the files no "
			     "edge plans", m->path);
			continue;
		}
		if (!r || r->parse_error_line) {
			/* one error result for the file, from pytest itself */
			add_test(out, g, m, xstrdup(m->path), false);
			continue;
		}
		before = out->n;
		module_mark = (r->module_flags & DEF_TOXIC_MARK) != 0;
		if (r->module_flags & DEF_NOT_TEST)
			goto none;	/* __test__ = False */
		whole = xcalloc(r->ndefs ? r->ndefs : 1, sizeof(*whole));
		for (d = 0; d < (int)r->ndefs; d++) {
			const struct pydef *def = &r->defs[d];
			bool marked = module_mark || (def->flags & DEF_TOXIC_MARK), unittest = false;
			bool named;
			char *cls;

			if (def->parent >= 0 && whole[def->parent]) {
				whole[d] = true;	/* inside a class run as a whole */
				continue;
			}
			if (def->kind == DEF_CLASS && inherits(def)) {
				/* its tests may come from its bases, which pytest
				 * collects and we cannot see: one edge for the class */
				cls = class_path(r, d, ini, tc, &marked, &unittest);
				if (cls) {
					whole[d] = true;
					add_test(out, g, m, xconcat(m->path, "::", cls, NULL), marked);
					free(cls);
				}
				continue;
			}
			if (def->kind != DEF_FUNC || (def->flags & (DEF_FIXTURE | DEF_NOT_TEST)))
				continue;
			named = (def->flags & DEF_FORCE_TEST)
			    || pytest_name_matches(&ini->python_functions, def->name);
			if (def->parent < 0) {
				if (named)
					add_test(out, g, m, xconcat(m->path, "::", def->name, NULL), marked);
				continue;
			}
			cls = class_path(r, def->parent, ini, tc, &marked, &unittest);
			if (!cls)
				continue;
			/* unittest's loader takes test* methods whatever python_functions says */
			if (unittest ? strncmp(def->name, "test", 4) == 0 : named)
				add_test(out, g, m, xconcat(m->path, "::", cls, "::", def->name, NULL), marked);
			free(cls);
		}
		free(whole);
none:
		/* pytest may still collect something here (a test class imported
		 * from another module, a test made at import time): one edge for
		 * the file, which runs whatever no edge claimed */
		if (out->n == before)
			add_test(out, g, m, xstrdup(m->path), module_mark);
	}
	htab_free(tc);
}

void
discover_unreadable(const struct pytest_ini *ini, const struct scan_errors *errs, struct tests *out)
{
	size_t i;

	for (i = 0; i < errs->path.n; i++) {
		const char *path = errs->path.v[i];

		/* the root is walked when there are no testpaths */
		if (strcmp(path, ".") == 0 ? !under_testpaths(ini, ".", false)
		    : !under_testpaths(ini, path, true) || norecursed(ini, path, true))
			continue;
		strlist_add(&out->unreadable, path);
		strlist_add(&out->why, errs->why.v[i]);
	}
}

void
tests_free(struct tests *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->v[i].nodeid);
		free(t->v[i].conftests);
	}
	free(t->v);
	strlist_free(&t->unreadable);
	strlist_free(&t->why);
	memset(t, 0, sizeof(*t));
}
