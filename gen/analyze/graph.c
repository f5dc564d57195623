/* graph - see gen/analyze/graph.h.
 *
 * Resolution works on paths, the way the import system does: an absolute
 * name "a.b" is looked up as ROOTDIR/a/b.py or ROOTDIR/a/b/__init__.py in
 * each source root in turn (the importer's own root first), and a relative
 * import is resolved from the importer's directory. Each prefix of a dotted
 * name is resolved too, since importing a.b.c runs a/__init__.py and
 * a/b/__init__.py. Namespace packages (no __init__.py) simply contribute no
 * node of their own.
 *
 * 930 lines: resolution, the SCC collapse and propagation share the module
 * table and its indices; split apart, each part would export the table's
 * internals that graph.h keeps private. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gen/analyze/graph.h"
#include "lib/htab.h"
#include "lib/util.h"

struct graph {
	char *root;
	struct module **mods;
	size_t n, cap;
	struct htab *bypath;
	struct htab *byname;
	struct htab *ambiguous;
	struct htab *memo;     /* "ROOT:dotted" -> resolved module, or g for none */
	struct htab *dirs;     /* every directory holding a .py file, and its ancestors */
	char **dirkeys;
	size_t ndirs, capdirs;
	char *rootpkg;         /* the root's own package name when it has __init__.py */
	char **memokeys;
	size_t nmemo, capmemo;
	char **roots;          /* relative dirs, "" for the root, in priority order */
	size_t nroots, caproots;
	char **extra;          /* configured roots */
	size_t nextra, capextra;
	size_t nedges;
	bool built;
};

struct graph *
graph_new(const char *root)
{
	struct graph *g = xcalloc(1, sizeof(*g));

	g->root = xstrdup(root);
	g->bypath = htab_new();
	g->byname = htab_new();
	g->ambiguous = htab_new();
	g->memo = htab_new();
	g->dirs = htab_new();
	return g;
}

void
graph_free(struct graph *g)
{
	size_t i, j;

	if (!g)
		return;
	for (i = 0; i < g->n; i++) {
		struct module *m = g->mods[i];

		free(m->path);
		free(m->name);
		report_free(m->report);
		free(m->deps);
		for (j = 0; j < m->nimports; j++)
			free(m->imports[j]);
		free(m->imports);
		free(m);
	}
	for (i = 0; i < g->nroots; i++)
		free(g->roots[i]);
	for (i = 0; i < g->nextra; i++)
		free(g->extra[i]);
	free(g->roots);
	free(g->extra);
	free(g->mods);
	htab_free(g->bypath);
	htab_free(g->byname);
	htab_free(g->ambiguous);
	htab_free(g->memo);
	htab_free(g->dirs);
	for (i = 0; i < g->ndirs; i++)
		free(g->dirkeys[i]);
	free(g->dirkeys);
	free(g->rootpkg);
	for (i = 0; i < g->nmemo; i++)
		free(g->memokeys[i]);
	free(g->memokeys);
	free(g->root);
	free(g);
}

/* A relative path with "." and ".." folded and no trailing '/'; "" for the
 * root. A ".." above the root is dropped. */
static char *
normdir(const char *dir)
{
	char *out = xmalloc(strlen(dir) + 1);
	size_t n = 0;
	const char *p = dir, *e;

	while (*p) {
		e = p + strcspn(p, "/");
		if (e - p == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
		} else if (e - p > 0 && !(e - p == 1 && p[0] == '.')) {
			if (n > 0)
				out[n++] = '/';
			memcpy(out + n, p, e - p);
			n += e - p;
		}
		p = *e ? e + 1 : e;
	}
	out[n] = '\0';
	return out;
}

void
graph_add_root(struct graph *g, const char *dir)
{
	g->extra = xgrow(g->extra, &g->capextra, g->nextra + 1, sizeof(g->extra[0]));
	g->extra[g->nextra++] = normdir(dir);
}

struct module *
graph_add(struct graph *g, const char *path, struct report *report)
{
	struct module *m = xcalloc(1, sizeof(*m));
	const char *base;

	m->path = normdir(path);
	m->report = report;
	base = strrchr(m->path, '/');
	base = base ? base + 1 : m->path;
	m->package = strcmp(base, "__init__.py") == 0;
	g->mods = xgrow(g->mods, &g->cap, g->n + 1, sizeof(g->mods[0]));
	g->mods[g->n++] = m;
	return m;
}

static int
modcmp(const void *a, const void *b)
{
	return strcmp((*(struct module *const *)a)->path, (*(struct module *const *)b)->path);
}

/* Whether dir ("" = root) is an ancestor of path. */
static bool
under(const char *dir, const char *path)
{
	size_t n = strlen(dir);

	if (n == 0)
		return true;
	return strncmp(dir, path, n) == 0 && path[n] == '/';
}

static bool
isident(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c >= 0x80))
			return false;
	}
	return true;
}

/* The dotted name of path under dir, or NULL when it is not importable
 * from there. The caller frees the result. */
static char *
dotted_name(const char *dir, const char *path, bool package)
{
	const char *rel = path + (dir[0] ? strlen(dir) + 1 : 0);
	size_t n = strlen(rel), i, start;
	char *name;

	if (package)
		n -= strlen("__init__.py");
	else
		n -= strlen(".py");
	if (package) {
		if (n == 0)
			return NULL;     /* the root itself is a package */
		n--;                 /* the '/' before __init__.py */
	}
	name = xstrndup(rel, n);
	for (start = 0, i = 0; i <= n; i++) {
		if (i == n || name[i] == '/') {
			if (!isident(name + start, i - start)) {
				free(name);
				return NULL;
			}
			if (i < n)
				name[i] = '.';
			start = i + 1;
		}
	}
	return name;
}

static bool
is_test_file(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (strcmp(base, "conftest.py") == 0)
		return true;
	if (strncmp(base, "test_", 5) == 0 && n > 8)
		return true;
	return n > 8 && strcmp(base + n - 8, "_test.py") == 0;
}

static bool
has_init(const struct graph *g, const char *dir)
{
	char *p = path_join(dir, "__init__.py");
	bool r = htab_get(g->bypath, p) != NULL;

	free(p);
	return r;
}

static void
add_root(struct graph *g, const char *dir)
{
	size_t i;

	for (i = 0; i < g->nroots; i++)
		if (strcmp(g->roots[i], dir) == 0)
			return;
	g->roots = xgrow(g->roots, &g->caproots, g->nroots + 1, sizeof(g->roots[0]));
	g->roots[g->nroots++] = xstrdup(dir);
}

static bool
isdir(const char *root, const char *rel)
{
	char *p = path_join(root, rel);
	struct stat st;
	bool r = stat(p, &st) == 0 && S_ISDIR(st.st_mode);

	free(p);
	return r;
}

static void
find_roots(struct graph *g)
{
	size_t i;

	for (i = 0; i < g->nextra; i++)
		add_root(g, g->extra[i]);
	if (isdir(g->root, "src"))
		add_root(g, "src");
	add_root(g, "");
	/* pytest's rootdir-relative import mode ("prepend") inserts the first
	 * ancestor of each test file that is not a package */
	for (i = 0; i < g->n; i++) {
		char *dir, *slash;

		if (!is_test_file(g->mods[i]->path))
			continue;
		dir = xstrdup(g->mods[i]->path);
		for (;;) {
			slash = strrchr(dir, '/');
			if (!slash) {
				dir[0] = '\0';
				break;
			}
			*slash = '\0';
			if (!has_init(g, dir))
				break;
		}
		add_root(g, dir);
		free(dir);
	}
}

static void
name_module(struct graph *g, struct module *m)
{
	size_t i, best = SIZE_MAX, bestlen = 0;
	char *name;

	/* the most specific root that gives an importable name */
	for (i = 0; i < g->nroots; i++) {
		size_t n = strlen(g->roots[i]);

		if (!under(g->roots[i], m->path) || (best != SIZE_MAX && n <= bestlen))
			continue;
		name = dotted_name(g->roots[i], m->path, m->package);
		if (!name)
			continue;
		free(m->name);
		m->name = name;
		best = i;
		bestlen = n;
	}
	if (best == SIZE_MAX && g->rootpkg && strcmp(m->path, "__init__.py") == 0) {
		m->name = xstrdup(g->rootpkg);   /* the root's own package */
		for (i = 0; i < g->nroots; i++)
			if (strcmp(g->roots[i], "") == 0)
				best = i;
	} else if (best == SIZE_MAX) {
		/* not importable (a script such as my-tool.py): name it anyway */
		const char *base = strrchr(m->path, '/');

		base = base ? base + 1 : m->path;
		m->name = xstrndup(base, strlen(base) - 3);
		for (i = 0; i < g->nroots; i++)
			if (strcmp(g->roots[i], "") == 0)
				best = i;
	}
	m->root = (int)best;
	m->rootdir = g->roots[best];
}

static struct module *
lookup_in(const struct graph *g, const char *dir, const char *dotted, size_t n)
{
	char path[4096];
	size_t dlen = strlen(dir), i, len;
	struct module *m;

	if (dlen + n + sizeof("/__init__.py") + 1 > sizeof(path))
		return NULL;
	len = 0;
	if (dlen) {
		memcpy(path, dir, dlen);
		path[dlen] = '/';
		len = dlen + 1;
	}
	for (i = 0; i < n; i++)
		path[len++] = dotted[i] == '.' ? '/' : dotted[i];
	/* within one directory a package wins over a module of the same name */
	memcpy(path + len, "/__init__.py", sizeof("/__init__.py"));
	if ((m = htab_get(g->bypath, path)))
		return m;
	memcpy(path + len, ".py", 4);
	return htab_get(g->bypath, path);
}

static bool
dir_exists(const struct graph *g, const char *dir)
{
	return !dir[0] || htab_get(g->dirs, dir) != NULL;
}

static char *
subdir(const char *dir, const char *name, size_t n)
{
	char *s = xmalloc(strlen(dir) + n + 2);
	size_t k = strlen(dir);

	memcpy(s, dir, k);
	if (k)
		s[k++] = '/';
	memcpy(s + k, name, n);
	s[k + n] = '\0';
	return s;
}

static void
free_dirs(char **v, size_t n)
{
	while (n--)
		free(v[n]);
	free(v);
}

/* The import system's path-based finder, over the project's files: each
 * component of a dotted name is looked for in the current search path
 * (first the source roots, the importer's own first; then the package's
 * directory): a regular package (__init__.py) or a module ends the search at
 * once, and only when neither exists anywhere do the same-named directories
 * merge into a namespace package. Returns the module for the whole name. */
static struct module *
find_module(const struct graph *g, const struct module *from, const char *dotted, size_t n)
{
	char **search = NULL, **next;
	size_t nsearch = 0, nnext, cap, i, start = 0, end;
	struct module *found = NULL;

	/* the initial search path */
	cap = g->nroots + 1;
	search = xmalloc(cap * sizeof(search[0]));
	search[nsearch++] = xstrdup(from->rootdir);
	for (i = 0; i < g->nroots; i++)
		if ((int)i != from->root)
			search[nsearch++] = xstrdup(g->roots[i]);
	while (start < n) {
		struct module *regular = NULL, *module = NULL;
		const char *c = dotted + start;
		size_t clen;

		for (end = start; end < n && dotted[end] != '.'; end++)
			;
		clen = end - start;
		next = NULL;
		nnext = 0;
		cap = 0;
		if (start == 0 && g->rootpkg && strlen(g->rootpkg) == clen &&
		    memcmp(g->rootpkg, c, clen) == 0) {
			/* the root is itself a package, imported by its own name */
			regular = htab_get(g->bypath, "__init__.py");
			next = xmalloc(sizeof(next[0]));
			next[nnext++] = xstrdup("");
		}
		for (i = 0; !regular && !module && i < nsearch; i++) {
			char *d = subdir(search[i], c, clen);

			if ((regular = lookup_in(g, search[i], c, clen)) && !regular->package) {
				module = regular;
				regular = NULL;
			}
			if (regular) {
				free_dirs(next, nnext);
				next = xmalloc(sizeof(next[0]));
				next[0] = d;
				nnext = 1;
			} else if (!module && dir_exists(g, d)) {
				next = xgrow(next, &cap, nnext + 1, sizeof(next[0]));
				next[nnext++] = d;
			} else {
				free(d);
			}
		}
		free_dirs(search, nsearch);
		search = next;
		nsearch = nnext;
		if (end >= n) {
			found = regular ? regular : module;
			break;
		}
		if (!regular && (module || !nnext))
			break;      /* a module has no submodules; nothing found */
		start = end + 1;
	}
	free_dirs(search, nsearch);
	return found;
}

/* Resolves an absolute dotted name (its first n bytes). Most names (json,
 * os, ...) are imported by many modules and found in none, so results are
 * memoized per importer root. */
static struct module *
resolve_abs(struct graph *g, const struct module *from, const char *dotted, size_t n)
{
	char key[4096];
	struct module *m = NULL;
	void **slot;
	int k;

	if (n == 0)
		return NULL;
	/* the root index in decimal, then ':' */
	{
		char digits[16];
		int nd = 0, r = from->root;

		do {
			digits[nd++] = (char)('0' + r % 10);
			r /= 10;
		} while (r);
		for (k = 0; k < nd; k++)
			key[k] = digits[nd - 1 - k];
		key[k++] = ':';
	}
	if ((size_t)k + n >= sizeof(key))
		return NULL;
	memcpy(key + k, dotted, n);
	key[k + n] = '\0';
	if ((m = htab_get(g->memo, key)))
		return m == (void *)g ? NULL : m;
	m = find_module(g, from, dotted, n);
	g->memokeys = xgrow(g->memokeys, &g->capmemo, g->nmemo + 1, sizeof(g->memokeys[0]));
	g->memokeys[g->nmemo] = xstrdup(key);
	slot = htab_slot(g->memo, g->memokeys[g->nmemo++]);
	*slot = m ? (void *)m : (void *)g;
	return m;
}

/* Records every directory that holds a module, and its ancestors. */
static void
index_dirs(struct graph *g)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		char *d = xstrdup(g->mods[i]->path), *slash;

		while ((slash = strrchr(d, '/'))) {
			void **slot;

			*slash = '\0';
			if (htab_get(g->dirs, d))
				break;
			g->dirkeys = xgrow(g->dirkeys, &g->capdirs, g->ndirs + 1, sizeof(g->dirkeys[0]));
			g->dirkeys[g->ndirs] = xstrdup(d);
			slot = htab_slot(g->dirs, g->dirkeys[g->ndirs++]);
			*slot = g;
		}
		free(d);
	}
}

static void
find_rootpkg(struct graph *g)
{
	char real[PATH_MAX];
	const char *base;

	if (!htab_get(g->bypath, "__init__.py") || !realpath(g->root, real))
		return;
	base = strrchr(real, '/');
	base = base ? base + 1 : real;
	if (*base && isident(base, strlen(base)))
		g->rootpkg = xstrdup(base);
}

static void
add_dep(struct graph *g, struct module *m, struct module *to, int line, bool import_time,
        bool parent, size_t *stamp, size_t mark)
{
	size_t i;

	if (!to || to == m)
		return;
	if (stamp[to->index] == mark) {
		/* already an edge: keep the earliest line, import-time if any is */
		for (i = 0; i < m->ndeps; i++) {
			if (m->deps[i].to == to) {
				m->deps[i].import_time |= import_time;
				break;
			}
		}
		return;
	}
	stamp[to->index] = mark;
	m->deps = xgrow(m->deps, &m->capdeps, m->ndeps + 1, sizeof(m->deps[0]));
	m->deps[m->ndeps++] = (struct dep){to, line, import_time, parent};
	g->nedges++;
}

static void
add_import_name(struct module *m, char *name)
{
	size_t i;

	for (i = 0; i < m->nimports; i++) {
		if (strcmp(m->imports[i], name) == 0) {
			free(name);
			return;
		}
	}
	m->imports = xgrow(m->imports, &m->capimports, m->nimports + 1, sizeof(m->imports[0]));
	m->imports[m->nimports++] = name;
}

/* Adds edges to every prefix of dotted (a, a.b, a.b.c) that is a project
 * module; dir != NULL resolves under that directory only (relative). */
static struct module *
dep_chain(struct graph *g, struct module *m, const char *dir, const char *dotted,
          const struct pyimport *imp, size_t *stamp, size_t mark)
{
	struct module *to = NULL;
	size_t i, n = strlen(dotted);

	for (i = 1; i <= n; i++) {
		if (i < n && dotted[i] != '.')
			continue;
		to = dir ? lookup_in(g, dir, dotted, i) : resolve_abs(g, m, dotted, i);
		add_dep(g, m, to, imp->line, imp->import_time, false, stamp, mark);
	}
	return to;
}

/* The dotted package a relative import of the given level starts from. */
static char *
relative_base(const struct module *m, int level)
{
	char *base = xstrdup(m->name);
	char *dot;
	int up = m->package ? level - 1 : level;

	while (up-- > 0) {
		dot = strrchr(base, '.');
		if (dot)
			*dot = '\0';
		else
			base[0] = '\0';
	}
	return base;
}

/* `from pkg import *` also imports the submodules pkg's __all__ names; when
 * __all__ is not a literal list, any direct submodule may be among them. */
static void
star_deps(struct graph *g, struct module *m, const struct module *pkg, const struct pyimport *imp,
          size_t *stamp, size_t mark)
{
	const struct report *r = pkg ? pkg->report : NULL;
	size_t dlen, i;
	char *dir, *pkgdir;

	if (!pkg || !pkg->package || !r || r->all_kind == ALL_NONE)
		return;
	dir = xstrndup(pkg->path, strlen(pkg->path) - strlen("__init__.py"));   /* "a/b/" or "" */
	dlen = strlen(dir);
	pkgdir = xstrndup(dir, dlen ? dlen - 1 : 0);                             /* "a/b" or "" */
	if (r->all_kind == ALL_LITERAL) {
		for (i = 0; i < r->nall; i++)
			add_dep(g, m, lookup_in(g, pkgdir, r->all[i], strlen(r->all[i])), imp->line,
			        imp->import_time, false, stamp, mark);
	} else {
		for (i = 0; i < g->n; i++) {
			const char *p = g->mods[i]->path, *rest, *slash;

			if (strncmp(p, dir, dlen) != 0)
				continue;
			rest = p + dlen;
			slash = strchr(rest, '/');
			if (slash ? strcmp(slash, "/__init__.py") == 0 : strcmp(rest, "__init__.py") != 0)
				add_dep(g, m, g->mods[i], imp->line, imp->import_time, false, stamp, mark);
		}
	}
	free(pkgdir);
	free(dir);
}

static void
resolve_imports(struct graph *g, struct module *m, size_t *stamp, size_t mark)
{
	size_t i;

	for (i = 0; m->report && i < m->report->nimports; i++) {
		const struct pyimport *imp = &m->report->imports[i];
		char *dir = NULL, *full, *pkgname = NULL;
		struct module *leaf;

		if (imp->level > 0) {
			/* resolve by path from the importer's directory */
			char *slash;
			int up = imp->level - 1;
			bool escaped = false;

			dir = xstrdup(m->path);
			slash = strrchr(dir, '/');
			if (slash)
				*slash = '\0';
			else
				dir[0] = '\0';
			while (up-- > 0) {
				if (!dir[0]) {
					escaped = true;
					break;
				}
				slash = strrchr(dir, '/');
				if (slash)
					*slash = '\0';
				else
					dir[0] = '\0';
			}
			pkgname = relative_base(m, imp->level);
			if (escaped) {
				free(dir);
				free(pkgname);
				continue;
			}
			if (!imp->module[0]) {
				/* from . import x: the package itself, then maybe x */
				char *init = path_join(dir, "__init__.py");

				leaf = htab_get(g->bypath, init);
				add_dep(g, m, leaf, imp->line, imp->import_time, false, stamp, mark);
				free(init);
				full = xstrdup(pkgname);
			} else {
				leaf = dep_chain(g, m, dir, imp->module, imp, stamp, mark);
				full = pkgname[0] ? xconcat(pkgname, ".", imp->module, NULL) : xstrdup(imp->module);
			}
			if (imp->name && strcmp(imp->name, "*") != 0) {
				char *sub = imp->module[0] ? xconcat(imp->module, ".", imp->name, NULL)
				                           : xstrdup(imp->name);
				struct module *to = lookup_in(g, dir, sub, strlen(sub));

				add_dep(g, m, to, imp->line, imp->import_time, false, stamp, mark);
				free(sub);
				if (to) {
					char *t = full[0] ? xconcat(full, ".", imp->name, NULL) : xstrdup(imp->name);

					free(full);
					full = t;
				}
			}
			if (imp->name && strcmp(imp->name, "*") == 0)
				star_deps(g, m, leaf, imp, stamp, mark);
			free(dir);
			free(pkgname);
		} else {
			leaf = dep_chain(g, m, NULL, imp->module, imp, stamp, mark);
			if (imp->name && strcmp(imp->name, "*") == 0)
				star_deps(g, m, leaf, imp, stamp, mark);
			full = xstrdup(imp->module);
			if (imp->name && strcmp(imp->name, "*") != 0) {
				char *sub = xconcat(imp->module, ".", imp->name, NULL);
				struct module *to = resolve_abs(g, m, sub, strlen(sub));

				add_dep(g, m, to, imp->line, imp->import_time, false, stamp, mark);
				if (to) {
					free(full);
					full = sub;
				} else {
					free(sub);
				}
			}
		}
		if (full[0])
			add_import_name(m, full);
		else
			free(full);
	}
}

static void
parent_deps(struct graph *g, struct module *m, size_t *stamp, size_t mark)
{
	char dir[4096];
	size_t rootlen = strlen(m->rootdir), len = strlen(m->path);
	char *slash;

	if (len + sizeof("/__init__.py") > sizeof(dir))
		return;
	memcpy(dir, m->path, len + 1);
	/* every ancestor package below the module's source root */
	for (;;) {
		slash = strrchr(dir, '/');
		if (!slash)
			break;
		*slash = '\0';
		if ((size_t)(slash - dir) <= rootlen)
			break;
		memcpy(slash, "/__init__.py", sizeof("/__init__.py"));
		add_dep(g, m, htab_get(g->bypath, dir), 0, true, true, stamp, mark);
		*slash = '\0';
	}
	/* a root that is itself a package is imported under its own name by
	 * pytest (its parent goes on sys.path), so its __init__.py runs first */
	if (g->rootpkg && !m->rootdir[0])
		add_dep(g, m, htab_get(g->bypath, "__init__.py"), 0, true, true, stamp, mark);
}

static void
propagate(struct graph *g)
{
	size_t *start = xcalloc(g->n + 1, sizeof(size_t));
	size_t *fill = xcalloc(g->n + 1, sizeof(size_t));
	struct rdep { struct module *from; const struct dep *dep; } *rev;
	struct module **queue = xmalloc(g->n * sizeof(queue[0]) + 1);
	size_t i, j, head = 0, tail = 0;

	/* reverse edges in CSR form: who imports module i */
	for (i = 0; i < g->n; i++)
		for (j = 0; j < g->mods[i]->ndeps; j++)
			start[g->mods[i]->deps[j].to->index + 1]++;
	for (i = 0; i < g->n; i++)
		start[i + 1] += start[i];
	rev = xmalloc(start[g->n] * sizeof(rev[0]) + 1);
	for (i = 0; i < g->n; i++) {
		struct module *m = g->mods[i];

		for (j = 0; j < m->ndeps; j++) {
			size_t t = m->deps[j].to->index;

			rev[start[t] + fill[t]++] = (struct rdep){m, &m->deps[j]};
		}
	}
	for (i = 0; i < g->n; i++) {
		struct module *m = g->mods[i];

		m->direct = m->report && policy_is_toxic(m->report);
		m->toxic = m->direct;
		if (m->direct)
			queue[tail++] = m;
	}
	while (head < tail) {
		struct module *m = queue[head++];

		for (j = start[m->index]; j < start[m->index + 1]; j++) {
			struct module *from = rev[j].from;

			if (from->toxic)
				continue;
			from->toxic = true;
			from->via = m;
			from->via_line = rev[j].dep->line;
			from->via_parent = rev[j].dep->parent;
			queue[tail++] = from;
		}
	}
	free(start);
	free(fill);
	free(rev);
	free(queue);
}

void
graph_build(struct graph *g)
{
	size_t i, *stamp;

	if (g->built)
		return;
	g->built = true;
	for (i = 1; i < g->n && modcmp(&g->mods[i - 1], &g->mods[i]) <= 0; i++)
		;
	if (i < g->n)
		qsort(g->mods, g->n, sizeof(g->mods[0]), modcmp);
	for (i = 0; i < g->n; i++) {
		g->mods[i]->index = i;
		*htab_slot(g->bypath, g->mods[i]->path) = g->mods[i];
	}
	find_roots(g);
	index_dirs(g);
	find_rootpkg(g);
	for (i = 0; i < g->n; i++) {
		struct module *m = g->mods[i];
		void **slot;

		name_module(g, m);
		slot = htab_slot(g->byname, m->name);
		if (*slot)
			*htab_slot(g->ambiguous, m->name) = m;
		else
			*slot = m;
	}
	stamp = xmalloc(g->n * sizeof(stamp[0]) + 1);
	for (i = 0; i < g->n; i++)
		stamp[i] = SIZE_MAX;
	for (i = 0; i < g->n; i++) {
		resolve_imports(g, g->mods[i], stamp, i);
		parent_deps(g, g->mods[i], stamp, i);
	}
	free(stamp);
	propagate(g);
}

size_t
graph_count(const struct graph *g)
{
	return g->n;
}

struct module *
graph_module(const struct graph *g, size_t i)
{
	return i < g->n ? g->mods[i] : NULL;
}

struct module *
graph_find_path(const struct graph *g, const char *path)
{
	char *p = normdir(path);
	struct module *m = htab_get(g->bypath, p);

	free(p);
	return m;
}

struct module *
graph_lookup(const struct graph *g, const char *what, bool *ambiguous)
{
	char root[PATH_MAX], abs[PATH_MAX];
	struct module *m;
	size_t n;

	*ambiguous = false;
	if ((m = graph_find_path(g, what)))
		return m;
	/* a path relative to the current directory */
	if (realpath(g->root, root) && realpath(what, abs)) {
		n = strlen(root);
		if (strncmp(abs, root, n) == 0 && abs[n] == '/' && (m = graph_find_path(g, abs + n + 1)))
			return m;
	}
	if ((m = htab_get(g->byname, what))) {
		*ambiguous = htab_get(g->ambiguous, what) != NULL;
		return m;
	}
	return NULL;
}

bool
graph_is_toxic(const struct graph *g, const char *path)
{
	struct module *m = graph_find_path(g, path);

	return m && m->toxic;
}

size_t
graph_nroots(const struct graph *g)
{
	return g->nroots;
}

const char *
graph_root_dir(const struct graph *g, size_t i)
{
	return i < g->nroots ? g->roots[i] : NULL;
}

size_t
graph_nedges(const struct graph *g)
{
	return g->nedges;
}
