/* ninja - writes the project's build.ninja (gen/ninja.h).
 *
 * The manifest mirrors the import graph: one phony node per strongly
 * connected component of modules (Ninja rejects cycles; Python has them),
 * whose inputs are its files and the nodes of the components it imports.
 * Ninja propagates dirtiness through chained phony edges, so a test edge
 * that depends on its file's node reruns when anything in its import
 * closure changes, and the manifest grows with modules + imports + tests.
 *
 * A test edge's output is a stamp, .tach/t/HASH.ok, that tach-run leaves
 * only when every case succeeded, and exits 0 either way: the other tests
 * keep running, and a failed test, without its stamp, runs again next time.
 * Its result file, .tach/t/HASH.json, is not a declared output. The first
 * edge of each test file also gets its file's claims (the names of every
 * edge of the file after "FILE::", space-separated, in a response file
 * Ninja writes, .tach/t/HASH.claims): it runs whatever pytest collects in
 * the file that no edge names, so static discovery plans the edges and
 * pytest's collection decides what runs. The
 * summary edge's output is never written, so it runs on every `ninja
 * test`; it reads .tach/tests.list (result path, tab, node id) and fails
 * the build when a test failed. Nothing in a test's command depends on
 * anything but that test, so an edit reruns only what it affects. The
 * names under .tach are include/tach/statedir.h's.
 *
 * Each test edge carries the digest of its import closure (the paths,
 * sizes and mtimes of the files of its components and its conftests',
 * through every import): tach-run writes it into the record it leaves when
 * the Iron Dome stopped the test in hypervisor mode and it ran it isolated
 * (.tach/fallback/HASH). A test with a record of its current digest is
 * planned isolated; a record whose digest no longer holds is removed, and
 * the test tries the hypervisor again.
 *
 * A directory pytest walks that the scan could not read is an edge of its
 * own, `tach-run --error`, whose result is one error case under the
 * directory's path and which never leaves its stamp. While anything could
 * not be read, the manifest also depends on .tach/rescan, a phony target
 * with no inputs that is never made, so Ninja regenerates it on every run:
 * making a directory readable changes no time Ninja could see.
 *
 * Paths are escaped for Ninja ($$, "$ ", $:); '|', for which a build line
 * has no escape, is written ${pipe}, a variable bound to it. A newline or a
 * carriage return cannot be in a manifest at all: such a file is no input
 * and plans no edge (the files no edge plans run it). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gen/discover.h"
#include "gen/analyze/graph.h"
#include "gen/ninja.h"
#include "tach/statedir.h"
#include "lib/htab.h"
#include "lib/util.h"

/* Appends s escaped for a path in a build line. Ninja has no escape for
 * '|' there, but a path may take it from a variable, ${pipe} (bound at the
 * top of the manifest); for a newline or a carriage return it has nothing. */
static void
esc_path(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '|') {
			buf_puts(b, "${pipe}");
			continue;
		}
		if (*s == '$' || *s == ' ' || *s == ':')
			buf_putc(b, '$');
		buf_putc(b, *s);
	}
}

/* Appends s escaped for a variable's value (only '$' is special; leading
 * spaces would be dropped, so they are escaped too). */
static void
esc_value(struct buf *b, const char *s)
{
	const char *p;

	for (p = s; *p; p++) {
		if (*p == '$' || (*p == ' ' && p == s))
			buf_putc(b, '$');
		buf_putc(b, *p);
	}
}

/* Appends s single-quoted for /bin/sh, then escaped for Ninja. */
static void
esc_shell(struct buf *b, const char *s)
{
	struct buf q = {0};

	buf_putc(&q, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			buf_puts(&q, "'\\''");
		else
			buf_putc(&q, *s);
	}
	buf_putc(&q, '\'');
	esc_value(b, q.data);
	buf_free(&q);
}

/* Appends a path of the project, relative to the root, as Ninja should
 * name the file: absolute ($src/PATH), so that PATH itself stays free for
 * the target that runs its tests. */
static void
src_path(struct buf *b, const char *rel)
{
	buf_puts(b, "$src");
	if (strcmp(rel, ".") != 0) {
		buf_putc(b, '/');
		esc_path(b, rel);
	}
}

bool
ninja_path_ok(const char *s)
{
	return !strpbrk(s, "\n\r");
}

/* ---- strongly connected components (Tarjan, iterative) ---- */

struct scc {
	size_t *comp;		/* module index -> component */
	size_t ncomp;
};

static void
scc_compute(const struct graph *g, struct scc *out)
{
	size_t n = graph_count(g), i, next = 0, top = 0, ctop = 0;
	size_t *index = xmalloc(n * sizeof(*index)), *low = xmalloc(n * sizeof(*low));
	size_t *stack = xmalloc(n * sizeof(*stack)), *cstack = xmalloc(n * sizeof(*cstack));
	size_t *edge = xmalloc(n * sizeof(*edge));
	bool *on = xcalloc(n, sizeof(*on));
	const size_t unset = (size_t)-1;

	out->comp = xmalloc(n * sizeof(*out->comp));
	out->ncomp = 0;
	for (i = 0; i < n; i++)
		index[i] = unset;
	for (i = 0; i < n; i++) {
		if (index[i] != unset)
			continue;
		/* call stack of (node, next edge) */
		cstack[ctop++] = i;
		edge[i] = 0;
		index[i] = low[i] = next++;
		stack[top++] = i;
		on[i] = true;
		while (ctop > 0) {
			size_t v = cstack[ctop - 1];
			struct module *m = graph_module(g, v);

			if (edge[v] < m->ndeps) {
				size_t w = m->deps[edge[v]++].to->index;

				if (index[w] == unset) {
					index[w] = low[w] = next++;
					stack[top++] = w;
					on[w] = true;
					edge[w] = 0;
					cstack[ctop++] = w;
				} else if (on[w] && index[w] < low[v]) {
					low[v] = index[w];
				}
				continue;
			}
			ctop--;
			if (ctop > 0) {
				size_t u = cstack[ctop - 1];

				if (low[v] < low[u])
					low[u] = low[v];
			}
			if (low[v] == index[v]) {
				size_t w;

				do {
					w = stack[--top];
					on[w] = false;
					out->comp[w] = out->ncomp;
				} while (w != v);
				out->ncomp++;
			}
		}
	}
	free(index);
	free(low);
	free(stack);
	free(cstack);
	free(edge);
	free(on);
}

/* ---- the manifest ---- */

static void
hash_id(const char *nodeid, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)hash_str(nodeid, strlen(nodeid)));
}

/* ---- fallbacks: tests the Iron Dome stopped, run isolated until their
 * import closure changes ---- */

/* The digest of a file as the closure sees it: its path, size and mtime. */
static void
file_digest(struct buf *d, const char *root, const char *path)
{
	char *p = path_join(root, path);
	struct stat st;

	buf_puts(d, path);
	if (stat(p, &st) == 0)
		buf_printf(d, "\t%lld\t%lld.%09ld\n", (long long)st.st_size, (long long)st.st_mtim.tv_sec,
		           st.st_mtim.tv_nsec);
	else
		buf_puts(d, "\t-\n");
	free(p);
}

struct fallback {
	char *data;             /* the record's text: digest, call, node id */
	const char *digest, *call;
	char *path;
	bool used;
};

/* Reads ROOT/.tach/fallback/: node id -> struct fallback. */
static struct htab *
fallbacks_read(const char *root, struct fallback **v, size_t *n)
{
	char *dir = xconcat(root, "/" TACH_PATH(TACH_FALLBACK), NULL);
	struct htab *h = htab_new();
	struct dirent *e;
	size_t cap = 0, len;
	DIR *d = opendir(dir);
	char *tab1, *tab2, *nl;

	*v = NULL;
	*n = 0;
	while (d && (e = readdir(d))) {
		struct fallback f = {0};

		if (e->d_name[0] == '.')
			continue;
		f.path = xconcat(dir, "/", e->d_name, NULL);
		if (read_file(f.path, &f.data, &len) < 0 || !(tab1 = strchr(f.data, '\t')) ||
		    !(tab2 = strchr(tab1 + 1, '\t'))) {
			unlink(f.path);	/* not a record: nothing to keep */
			free(f.path);
			free(f.data);
			continue;
		}
		*tab1 = *tab2 = 0;
		if ((nl = strchr(tab2 + 1, '\n')))
			*nl = 0;
		f.digest = f.data;
		f.call = tab1 + 1;
		*v = xgrow(*v, &cap, *n + 1, sizeof(**v));
		(*v)[(*n)++] = f;
	}
	if (d)
		closedir(d);
	free(dir);
	for (len = 0; len < *n; len++)
		*htab_slot(h, (*v)[len].call + strlen((*v)[len].call) + 1) = &(*v)[len];
	return h;
}

/* Forgets the records no test used: their closure changed, or the test is
 * gone. */
static void
fallbacks_free(struct htab *h, struct fallback *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!v[i].used)
			unlink(v[i].path);
		free(v[i].path);
		free(v[i].data);
	}
	free(v);
	htab_free(h);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directories holding the project's files (and the root, "."), whose
 * mtimes change when a file is added or removed. */
static void
dirs_of(const struct strlist *files, struct strlist *dirs)
{
	struct htab *seen = htab_new();
	size_t i;
	char *d, *slash;

	strlist_add(dirs, ".");
	for (i = 0; i < files->n; i++) {
		d = xstrdup(files->v[i]);
		while ((slash = strrchr(d, '/'))) {
			*slash = 0;
			if (htab_get(seen, d))
				break;
			strlist_add(dirs, d);
			*htab_slot(seen, dirs->v[dirs->n - 1]) = dirs;
		}
		free(d);
	}
	htab_free(seen);
	qsort(dirs->v + 1, dirs->n - 1, sizeof(*dirs->v), cmp_str);
}

static const char *const config_files[] = {
	"pyproject.toml", "pytest.ini", "tox.ini", "setup.cfg", NULL,
};

static const char *const tach_files[] = {
	"tach", "tach-run", "tach-hv", "tach-isolated", "tach-results", "tach_harness.py",
	"tach_zygote.py", "tach_compat.py", NULL,
};

/* One target per test file and per directory holding one (`ninja
 * tests/test_a.py`, `ninja tests`): its tests, then their summary; an
 * unreadable directory's error is one of its own and its parents'. A path
 * Ninja cannot name, or one named like a target of ours ("test"), has
 * none. */
static void
path_targets(const struct tests *t, struct buf *b)
{
	struct htab *index = htab_new();
	struct strlist paths = {0};
	size_t **stamps = NULL, *nstamps = NULL, cap = 0, i, k, j;
	char h[17], *p, *slash;

	/* i < t->n: a test; then the unreadable directories */
	for (i = 0; i < t->n + t->unreadable.n; i++) {
		const char *file = i < t->n ? t->v[i].module->path : t->unreadable.v[i - t->n];

		p = xstrdup(file);
		for (;;) {
			if (!htab_get(index, p)) {
				strlist_add(&paths, p);
				if (paths.n > cap) {
					size_t old = cap;

					cap = cap ? 2 * cap : 64;
					stamps = xrealloc(stamps, cap * sizeof(*stamps));
					nstamps = xrealloc(nstamps, cap * sizeof(*nstamps));
					memset(stamps + old, 0, (cap - old) * sizeof(*stamps));
					memset(nstamps + old, 0, (cap - old) * sizeof(*nstamps));
				}
				/* keyed by the list's copy, which outlives p */
				*htab_slot(index, paths.v[paths.n - 1]) = (void *)(uintptr_t)paths.n;
			}
			k = (size_t)(uintptr_t)htab_get(index, p) - 1;
			stamps[k] = xrealloc(stamps[k], (nstamps[k] + 1) * sizeof(**stamps));
			stamps[k][nstamps[k]++] = i;
			slash = strrchr(p, '/');
			if (!slash)
				break;
			*slash = 0;
		}
		free(p);
	}
	if (paths.n)
		buf_puts(b, "\n# a test file's or directory's tests: ninja PATH\n");
	for (k = 0; k < paths.n; k++) {
		const char *path = paths.v[k];

		if (strcmp(path, "test") == 0 || strcmp(path, "all") == 0 || strcmp(path, ".") == 0
		    || !ninja_path_ok(path) || strncmp(path, TACH_DIR, strlen(TACH_DIR)) == 0)
			continue;
		hash_id(path, h);
		buf_printf(b, "build " TACH_PATH(TACH_UNDER) "/%s: results_under |", h);
		for (j = 0; j < nstamps[k]; j++) {
			char th[17];

			i = stamps[k][j];
			hash_id(i < t->n ? t->v[i].nodeid : t->unreadable.v[i - t->n], th);
			buf_printf(b, " $\n    " TACH_PATH(TACH_TESTS) "/%s.ok", th);
		}
		buf_puts(b, " $\n    " TACH_PATH(TACH_TESTS_LIST) "\n  under = ");
		esc_shell(b, path);
		buf_puts(b, "\n  path = ");
		esc_value(b, path);
		buf_puts(b, "\nbuild ");
		esc_path(b, path);
		buf_printf(b, ": phony " TACH_PATH(TACH_UNDER) "/%s\n", h);
	}
	for (k = 0; k < paths.n; k++)
		free(stamps[k]);
	free(stamps);
	free(nstamps);
	htab_free(index);
	strlist_free(&paths);
}

void
ninja_render(const struct graph *g, const struct tests *t, const struct strlist *files,
    const struct gen_opts *o, struct buf *b, struct buf *list, struct buf *toxic)
{
	struct scc scc;
	struct strlist dirs = {0};
	size_t i, k, c, n = graph_count(g), nfb;
	char h[17], closure[17], *p;
	bool *dep;
	uint64_t *digest;
	struct buf d = {0};
	struct fallback *fbv, *fb;
	struct htab *fbs = fallbacks_read(o->root, &fbv, &nfb);

	buf_puts(b, NINJA_MARKER "\n"
	    "# The project's tests, one edge each (tach gen). Run `ninja test`; tach\n"
	    "# rewrites this file when the project changes.\n"
	    "ninja_required_version = 1.10\n"
	    "# .ninja_log and .ninja_deps there, not in the root, whose mtime the\n"
	    "# manifest depends on\n"
	    "builddir = " TACH_DIR "\n"
	    "# '|' in a path (Ninja has no escape for it there)\n"
	    "pipe = |\n\n");
	buf_puts(b, "tach = ");
	p = path_join(o->bindir, "tach");
	esc_shell(b, p);
	free(p);
	buf_puts(b, "\ntachrun = ");
	p = path_join(o->bindir, "tach-run");
	esc_shell(b, p);
	free(p);
	buf_puts(b, "\ntachresults = ");
	p = path_join(o->bindir, "tach-results");
	esc_shell(b, p);
	free(p);
	buf_puts(b, "\nroot = ");
	esc_shell(b, o->root);
	buf_puts(b, "\nsrc = ");
	esc_value(b, o->root);
	buf_puts(b, "\npython = ");
	esc_shell(b, o->python);
	buf_puts(b, "\npytestargs = ");
	esc_shell(b, o->pytest_args ? o->pytest_args : "");
	buf_printf(b, "\ntimeout = %ld", o->timeout);
	buf_puts(b, "\n\n"
	    "rule test\n"
	    "  command = exec $tachrun --ninja-stamp $out --mode $mode --root $root --python $python"
	    " --timeout $timeout"
	    " --pytest-args $pytestargs --result $result --claims '$claimsfile' --closure $closure $qid\n"
	    "  description = TEST $id\n"
	    "  rspfile = $claimsfile\n"
	    "  rspfile_content = $claims\n\n"
	    "rule error\n"
	    "  command = exec $tachrun --ninja-stamp $out --root $root --result $result --error $message $qid\n"
	    "  description = UNREADABLE $id\n\n"
	    "rule others\n"
	    "  command = exec $tachrun --ninja-stamp $out --others --mode hypervisor --root $root"
	    " --timeout $timeout"
	    " --python $python --pytest-args $pytestargs --result "
	    TACH_PATH(TACH_TESTS) "/" TACH_OTHERS ".json .\n"
	    "  description = OTHERS files pytest collects that no edge plans\n"
	    "  depfile = $out.d\n"
	    "  deps = gcc\n\n"
	    "rule results\n"
	    "  command = exec $tachresults --root $root --list " TACH_PATH(TACH_TESTS_LIST) " "
	    TACH_PATH(TACH_TESTS) "/" TACH_OTHERS ".json\n"
	    "  description = RESULTS\n"
	    "  pool = console\n\n"
	    "rule results_under\n"
	    "  command = exec $tachresults --root $root --list " TACH_PATH(TACH_TESTS_LIST) " --under $under\n"
	    "  description = RESULTS $path\n"
	    "  pool = console\n\n"
	    "rule gen\n"
	    "  command = exec $tach gen --regen -q --root $root -o $out --python $python");
	if (o->cache_prefix) {
		buf_puts(b, " --cache-prefix ");
		esc_shell(b, o->cache_prefix);
	}
	if (o->pytest_args)
		buf_puts(b, " --pytest-args $pytestargs");
	if (o->policy)
		buf_printf(b, " --policy %s", o->policy);
	if (o->timeout_arg)
		buf_printf(b, " --timeout %ld", o->timeout_arg);
	buf_puts(b, "\n  description = GEN $out\n  generator = 1\n  restat = 1\n\n");

	/* the manifest itself: rewritten when a file, a directory or the
	 * configuration changes */
	buf_puts(b, "build ");
	esc_path(b, o->out_rel);
	buf_puts(b, ": gen |");
	for (i = 0; i < files->n; i++) {
		if (!ninja_path_ok(files->v[i]))
			continue;
		buf_puts(b, " $\n    ");
		src_path(b, files->v[i]);
	}
	dirs_of(files, &dirs);
	for (i = 0; i < dirs.n; i++) {
		if (!ninja_path_ok(dirs.v[i]))
			continue;
		buf_puts(b, " $\n    ");
		src_path(b, dirs.v[i]);
	}
	for (i = 0; config_files[i]; i++) {
		p = path_join(o->root, config_files[i]);
		if (access(p, F_OK) == 0) {
			buf_puts(b, " $\n    ");
			src_path(b, config_files[i]);
		}
		free(p);
	}
	if (o->ini_path && ninja_path_ok(o->ini_path) && strncmp(o->ini_path, o->root, strlen(o->root)) != 0) {
		buf_puts(b, " $\n    ");
		esc_path(b, o->ini_path);
	}
	buf_puts(b, " $\n    ");
	p = path_join(o->bindir, "tach");
	esc_path(b, p);
	free(p);
	if (o->rescan)
		buf_puts(b, " $\n    " TACH_PATH(TACH_RESCAN));
	buf_puts(b, "\n\n");
	if (o->rescan) {
		/* never made: the manifest is rewritten on every run until
		 * everything can be read (a chmod changes no mtime) */
		buf_puts(b, "# something could not be read: regenerate on every run\n"
		    "build " TACH_PATH(TACH_RESCAN) ": phony\n\n");
	}

	/* what every test depends on: the interpreter, tach, the configuration */
	buf_puts(b, "build " TACH_PATH(TACH_ENV) ": phony ");
	esc_path(b, o->python);
	for (i = 0; tach_files[i]; i++) {
		p = path_join(o->bindir, tach_files[i]);
		buf_puts(b, " $\n    ");
		esc_path(b, p);
		free(p);
	}
	for (i = 0; config_files[i]; i++) {
		p = path_join(o->root, config_files[i]);
		if (access(p, F_OK) == 0) {
			buf_puts(b, " ");
			src_path(b, config_files[i]);
		}
		free(p);
	}
	/* a file that goes away must not stop Ninja before the manifest is
	 * rewritten without it */
	if (o->ini_path && ninja_path_ok(o->ini_path) && strncmp(o->ini_path, o->root, strlen(o->root)) != 0) {
		buf_puts(b, " ");
		esc_path(b, o->ini_path);	/* pytest's inifile, above the root */
	}
	for (i = 0; o->outside && i < o->outside->n; i++) {
		if (!ninja_path_ok(o->outside->v[i]))
			continue;
		buf_puts(b, " $\n    ");
		esc_path(b, o->outside->v[i]);
	}
	buf_puts(b, "\n\n# the project's files, which may come and go\n");
	for (i = 0; o->outside && i < o->outside->n; i++) {
		if (!ninja_path_ok(o->outside->v[i]))
			continue;
		buf_puts(b, "build ");
		esc_path(b, o->outside->v[i]);
		buf_puts(b, ": phony\n");
	}
	for (i = 0; i < files->n; i++) {
		if (!ninja_path_ok(files->v[i]))
			continue;
		buf_puts(b, "build ");
		src_path(b, files->v[i]);
		buf_puts(b, ": phony\n");
	}
	buf_puts(b, "\n# the import graph: one node per strongly connected component\n");

	scc_compute(g, &scc);
	dep = xcalloc(scc.ncomp, sizeof(*dep));
	/* each component's digest: its files and the digests of what it
	 * imports, which Tarjan's order numbered before it */
	digest = xcalloc(scc.ncomp, sizeof(*digest));
	for (c = 0; c < scc.ncomp; c++) {
		size_t *deps = NULL, ndeps = 0, capdeps = 0;

		d.len = 0;
		buf_add(&d, "", 0);
		buf_printf(b, "build " TACH_PATH(TACH_MODULES) "/%zu: phony", c);
		for (i = 0; i < n; i++) {
			struct module *m = graph_module(g, i);

			if (scc.comp[i] != c)
				continue;
			if (ninja_path_ok(m->path)) {
				buf_putc(b, ' ');
				src_path(b, m->path);
			}
			file_digest(&d, o->root, m->path);
			for (k = 0; k < m->ndeps; k++) {
				size_t d = scc.comp[m->deps[k].to->index];

				if (d != c && !dep[d]) {
					dep[d] = true;
					deps = xgrow(deps, &capdeps, ndeps + 1, sizeof(*deps));
					deps[ndeps++] = d;
				}
			}
		}
		if (ndeps)
			buf_puts(b, " |");
		for (k = 0; k < ndeps; k++) {
			buf_printf(b, " " TACH_PATH(TACH_MODULES) "/%zu", deps[k]);
			buf_printf(&d, "%016llx\n", (unsigned long long)digest[deps[k]]);
			dep[deps[k]] = false;
		}
		digest[c] = hash_str(d.data, d.len);
		buf_putc(b, '\n');
		free(deps);
	}
	free(dep);

	buf_puts(b, "\n# the tests\n");
	for (i = 0; i < t->n; i++) {
		const struct test *tt = &t->v[i];
		bool first = i == 0 || t->v[i - 1].module != tt->module;

		hash_id(tt->nodeid, h);
		d.len = 0;
		buf_printf(&d, "%016llx", (unsigned long long)digest[scc.comp[tt->module->index]]);
		for (k = 0; k < tt->nconftests; k++)
			buf_printf(&d, " %016llx", (unsigned long long)digest[scc.comp[tt->conftests[k]->index]]);
		snprintf(closure, sizeof(closure), "%016llx", (unsigned long long)hash_str(d.data, d.len));
		fb = htab_get(fbs, tt->nodeid);
		if (fb && strcmp(fb->digest, closure) == 0)
			fb->used = true;
		else
			fb = NULL;
		buf_printf(b, "build " TACH_PATH(TACH_TESTS) "/%s.ok: test | " TACH_PATH(TACH_MODULES) "/%zu", h,
		    scc.comp[tt->module->index]);
		for (k = 0; k < tt->nconftests; k++)
			buf_printf(b, " " TACH_PATH(TACH_MODULES) "/%zu", scc.comp[tt->conftests[k]->index]);
		buf_puts(b, " " TACH_PATH(TACH_ENV) "\n  id = ");
		esc_value(b, tt->nodeid);
		buf_puts(b, "\n  qid = ");
		esc_shell(b, tt->nodeid);
		buf_printf(b, "\n  mode = %s\n  result = " TACH_PATH(TACH_TESTS) "/%s.json\n  closure = %s\n",
		    tt->toxic || fb ? "isolated" : "hypervisor", h, closure);
		if (first) {
			size_t plen = strlen(tt->module->path);

			buf_printf(b, "  claimsfile = " TACH_PATH(TACH_TESTS) "/%s.claims\n  claims =", h);
			for (k = i; k < t->n && t->v[k].module == tt->module; k++) {
				const char *id = t->v[k].nodeid;

				/* names after "FILE::": identifiers, never a space */
				if (strncmp(id, tt->module->path, plen) == 0 && id[plen] == ':' && id[plen + 1] == ':') {
					buf_putc(b, ' ');
					esc_value(b, id + plen + 2);
				}
			}
			buf_putc(b, '\n');
		}
		buf_printf(list, TACH_PATH(TACH_TESTS) "/%s.json\t%s\n", h, tt->nodeid);
	}

	/* what pytest cannot collect either: a directory tach could not read
	 * is one error case, which tach-run writes without running anything */
	if (t->unreadable.n)
		buf_puts(b, "\n# the directories pytest collects that could not be read\n");
	for (i = 0; i < t->unreadable.n; i++) {
		const char *path = t->unreadable.v[i];
		char *msg;

		if (!ninja_path_ok(path))
			continue;	/* warned of by the scan */
		hash_id(path, h);
		msg = xasprintf("%s: %s (pytest reports a collection error for the directory; "
		    "none of its tests was run)", path, t->why.v[i]);
		buf_printf(b, "build " TACH_PATH(TACH_TESTS) "/%s.ok: error | " TACH_PATH(TACH_ENV) "\n  id = ", h);
		esc_value(b, path);
		buf_puts(b, "\n  qid = ");
		esc_shell(b, path);
		buf_puts(b, "\n  message = ");
		esc_shell(b, msg);
		buf_printf(b, "\n  result = " TACH_PATH(TACH_TESTS) "/%s.json\n", h);
		buf_printf(list, TACH_PATH(TACH_TESTS) "/%s.json\t%s\n", h, path);
		free(msg);
	}

	/* what pytest collects beyond the plan (doctests, a plugin's files):
	 * asked of pytest at run time, again when a file comes or goes, the
	 * configuration changes, or one of the files it ran does (its
	 * depfile) */
	buf_puts(b, "\n# the files pytest collects that no edge above plans\n"
	    "build " TACH_PATH(TACH_TESTS) "/" TACH_OTHERS ".ok: others | " TACH_PATH(TACH_ENV)
	    " " TACH_PATH(TACH_TESTS_LIST) " " TACH_PATH(TACH_TOXIC_LIST));
	for (i = 0; i < dirs.n; i++) {
		if (!ninja_path_ok(dirs.v[i]))
			continue;
		buf_puts(b, " $\n    ");
		src_path(b, dirs.v[i]);
	}
	buf_putc(b, '\n');

	buf_puts(b, "\n# every run ends with the summary: its output is never written\n"
	    "build " TACH_PATH(TACH_SUMMARY) ": results | " TACH_PATH(TACH_TESTS) "/" TACH_OTHERS ".ok");
	for (i = 0; i < t->n; i++) {
		hash_id(t->v[i].nodeid, h);
		buf_printf(b, " $\n    " TACH_PATH(TACH_TESTS) "/%s.ok", h);
	}
	for (i = 0; i < t->unreadable.n; i++) {
		if (!ninja_path_ok(t->unreadable.v[i]))
			continue;
		hash_id(t->unreadable.v[i], h);
		buf_printf(b, " $\n    " TACH_PATH(TACH_TESTS) "/%s.ok", h);
	}
	buf_puts(b, " $\n    " TACH_PATH(TACH_TESTS_LIST) "\n\nbuild test: phony " TACH_PATH(TACH_SUMMARY)
	    "\ndefault test\n");
	path_targets(t, b);
	fallbacks_free(fbs, fbv, nfb);
	buf_free(&d);
	free(digest);
	free(scc.comp);
	strlist_free(&dirs);
	for (i = 0; i < n; i++) {
		struct module *m = graph_module(g, i);

		if (m->toxic) {
			buf_puts(toxic, m->path);
			buf_putc(toxic, '\n');
		}
	}
}

/* Writes data to path unless it already holds exactly that. Returns 1 when
 * written, 0 when unchanged, -1 with errno on error. */
static int
write_if_changed(const char *path, const char *data, size_t len)
{
	char *old;
	size_t oldlen;

	if (read_file(path, &old, &oldlen) == 0) {
		bool same = oldlen == len && memcmp(old, data, len) == 0;

		free(old);
		if (same)
			return 0;
	}
	return write_file_atomic(path, data, len, 0644) < 0 ? -1 : 1;
}

int
ninja_write(const char *manifest, const char *listpath, const struct buf *b, const struct buf *list,
    const struct buf *toxic, char **err)
{
	char *toxicpath, *slash;
	int rc;

	/* beside the list */
	slash = strrchr(listpath, '/');
	toxicpath = slash ? xasprintf("%.*s/" TACH_TOXIC_LIST, (int)(slash - listpath), listpath)
	    : xstrdup(TACH_TOXIC_LIST);
	rc = write_if_changed(toxicpath, toxic->data ? toxic->data : "", toxic->len);
	if (rc < 0) {
		*err = xasprintf("%s: %s", toxicpath, strerror(errno));
		free(toxicpath);
		return -1;
	}
	free(toxicpath);

	rc = write_if_changed(listpath, list->data ? list->data : "", list->len);
	if (rc < 0) {
		*err = xasprintf("%s: %s", listpath, strerror(errno));
		return -1;
	}
	rc = write_if_changed(manifest, b->data, b->len);
	if (rc < 0) {
		*err = xasprintf("%s: %s", manifest, strerror(errno));
		return -1;
	}
	/* the rename made the directory, an input of the manifest, newer than
	 * the file: touch the file, or Ninja would regenerate it once more */
	if (rc == 1)
		utimensat(AT_FDCWD, manifest, NULL, 0);
	return rc;
}

int
ninja_check_ours(const char *manifest)
{
	char line[128];
	FILE *f = fopen(manifest, "r");
	int ours;

	if (!f)
		return errno == ENOENT ? 1 : -1;
	ours = fgets(line, sizeof(line), f) && strncmp(line, NINJA_MARKER, strlen(NINJA_MARKER)) == 0;
	fclose(f);
	return ours;
}
