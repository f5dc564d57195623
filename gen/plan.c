/* plan - the pipeline of tach gen, run and hv; see gen/plan.h.
 *
 * tach gen: the analysis (without parse warnings: a test file that does
 * not parse is a test of its own, run isolated),
 * the graph, pytest's inifile, discover(), ninja_render() and
 * ninja_write(); then the result files and stamps of tests no longer
 * planned are removed, so tach-results never reads a stale one. The
 * interpreter is checked (it must import pytest) before anything runs,
 * except under --regen, when the manifest that names it runs tach.
 *
 * A directory the scan could not read is warned of, and tach gen exits 1
 * (an I/O error, as tach analyze does) with the manifest written all the
 * same: each such directory pytest would walk is an edge whose result is
 * one error case, and the manifest depends on a target that is never made,
 * so Ninja regenerates it on every run until the directory can be read.
 * Under --regen (Ninja regenerating it) the exit status is 0 whenever the
 * manifest was written: a failed regeneration stops Ninja before any test
 * runs, and the results say what is wrong. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gen/analysis.h"
#include "gen/discover.h"
#include "gen/ninja.h"
#include "gen/plan.h"
#include "tach/hv.h"
#include "tach/statedir.h"
#include "lib/htab.h"
#include "lib/util.h"

/* Whether PATH runs and imports pytest. */
static bool
python_has_pytest(const char *python)
{
	pid_t pid;
	int status, fd;

	pid = fork();
	if (pid == 0) {
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp(python, python, "-c", "import pytest", (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return false;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The interpreter the tests run with: --python, else python3 on PATH when
 * it has pytest, else /usr/bin/python3. Exits when it is missing or has no
 * pytest, before anything runs. */
static char *
choose_python(const char *want)
{
	static const char *const defaults[] = {"python3", "/usr/bin/python3"};
	char *abs;
	size_t i;

	if (want) {
		abs = find_program(want);
		if (!abs || access(abs, X_OK) < 0) {
			warn("--python %s: no such interpreter", want);
			exit(EXIT_USAGE);
		}
		if (!python_has_pytest(abs)) {
			warn("--python %s: cannot import pytest (install it for that interpreter, "
			     "e.g. apt-get install python3-pytest for /usr/bin/python3)", want);
			exit(EXIT_USAGE);
		}
		return abs;
	}
	for (i = 0; i < LEN(defaults); i++) {
		abs = find_program(defaults[i]);
		if (abs && python_has_pytest(abs))
			return abs;
		free(abs);
	}
	warn("no Python with pytest: neither python3 on PATH nor /usr/bin/python3 imports it "
	     "(apt-get install python3-pytest, or pass --python PATH)");
	exit(EXIT_USAGE);
}

/* The directory of this binary (tach-run and friends live beside it). */
static char *
bindir(void)
{
	char exe[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		fatal("readlink /proc/self/exe:");
	exe[n] = 0;
	slash = strrchr(exe, '/');
	*slash = 0;
	return xstrdup(exe);
}

/* Removes the result files and stamps of tests that are gone, so nothing
 * reads a stale result. list holds the current ones; the edge of the files
 * no edge plans keeps its own (its inputs say when it must run again). */
static void
prune_results(const char *root, const struct buf *list)
{
	struct htab *keep = htab_new();
	char *dir = xconcat(root, "/" TACH_PATH(TACH_TESTS), NULL), *lines, *p, *nl, *path;
	DIR *d;
	struct dirent *de;

	*htab_slot(keep, TACH_OTHERS) = keep;
	lines = xstrndup(list->data ? list->data : "", list->len);
	for (p = lines; *p; p = nl + 1) {
		char *tab = strchr(p, '\t'), *slash;

		nl = strchrnul(p, '\n');
		if (!tab || tab > nl)
			break;
		*tab = 0;
		slash = strrchr(p, '/');
		if (slash && strlen(slash + 1) > 5) {
			slash[1 + strlen(slash + 1) - 5] = 0;	/* the hash, without ".json" */
			*htab_slot(keep, slash + 1) = keep;
		}
		if (!*nl)
			break;
	}
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		char *dot = strrchr(de->d_name, '.'), *h;

		if (de->d_name[0] == '.' || !dot)
			continue;
		h = xstrndup(de->d_name, (size_t)(dot - de->d_name));
		if (!htab_get(keep, h)) {
			path = path_join(dir, de->d_name);
			unlink(path);
			free(path);
		}
		free(h);
	}
	if (d)
		closedir(d);
	htab_free(keep);
	free(lines);
	free(dir);
}

/* A URL given with --cache may hold a password, so it goes in no manifest
 * and on no command line: tach gen keeps it in .tach/cache.url (0600) and
 * the regeneration reads it from there (before $TACH_CACHE); a tach gen
 * without --cache forgets it. Returns the URL read, which *url borrows. */
static char *
cache_url_keep(const char *root, const struct plan_opts *o, const char **url)
{
	char *path = xconcat(root, "/" TACH_PATH(TACH_CACHE_URL), NULL), *saved = NULL;
	size_t len;

	if (o->cache_url_given) {
		if (write_file_atomic(path, *url, strlen(*url), 0600) < 0)
			warn("%s: cannot keep the cache URL for the regeneration:", path);
	} else if (!o->regen) {
		unlink(path);
	} else if (read_file(path, &saved, &len) == 0) {
		while (len && (saved[len - 1] == '\n' || saved[len - 1] == '\r'))
			saved[--len] = '\0';
		*url = saved;
	}
	free(path);
	return saved;
}

#define OUTSIDE_MAX 20000	/* files of pythonpath directories outside the root */

/* Adds the .py files under dir (hidden directories and __pycache__ left
 * out) to out, up to OUTSIDE_MAX. */
static void
outside_walk(const char *dir, struct strlist *out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	char *p;
	size_t n;

	while (d && out->n < OUTSIDE_MAX && (e = readdir(d))) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "__pycache__") == 0)
			continue;
		p = path_join(dir, e->d_name);
		n = strlen(e->d_name);
		if (stat(p, &st) < 0)
			;
		else if (S_ISDIR(st.st_mode))
			outside_walk(p, out);
		else if (S_ISREG(st.st_mode) && n > 3 && strcmp(e->d_name + n - 3, ".py") == 0)
			strlist_add(out, p);
		free(p);
	}
	if (d)
		closedir(d);
}

/* The .py files of pytest's pythonpath directories outside the root: the
 * tests import them, the analysis does not see them, so every test depends
 * on them (an edit reruns every test, and the zygote watches them too). */
static void
outside_files(const char *root, const struct pytest_ini *ini, struct strlist *out)
{
	char *p, *abs;
	size_t i, n = strlen(root);

	for (i = 0; i < ini->pythonpath.n; i++) {
		p = ini->pythonpath.v[i][0] == '/' ? xstrdup(ini->pythonpath.v[i])
		    : path_join(root, ini->pythonpath.v[i]);
		abs = realpath(p, NULL);
		free(p);
		if (abs && !(strncmp(abs, root, n) == 0 && (abs[n] == '/' || !abs[n])))
			outside_walk(abs, out);
		free(abs);
	}
	if (out->n >= OUTSIDE_MAX)
		warn("pythonpath: more than %d files outside %s; the rest are not tracked", OUTSIDE_MAX, root);
}

int
plan_generate(const struct plan_opts *o, char **manifest_out)
{
	struct analysis r = {0};
	struct analysis_opts ro;
	struct pytest_ini ini;
	struct tests tests = {0};
	struct gen_opts go = {0};
	struct buf b = {0}, list = {0}, toxic = {0};
	struct strlist outside = {0};
	char *root, *python, *dir, *manifest, *listpath, *rel, *dot, *err = NULL;
	size_t i, nisolated = 0;
	char *saved_url;
	int rc, dotfd;

	root = realpath(o->an.root, NULL);
	if (!root) {
		warn("%s:", o->an.root);
		exit(EXIT_USAGE);
	}
	/* every file tach writes goes there: never through a planted link */
	dot = path_join(root, TACH_DIR);
	if ((dotfd = private_dir(dot, true)) < 0) {
		fprintf(stderr, "tach: %s: %s\n", dot, private_dir_error(errno));
		exit(1);
	}
	close(dotfd);
	free(dot);
	if (o->out) {
		char *d = xstrdup(o->out), *slash = strrchr(d, '/'), *ad;

		if (slash)
			*slash = 0;
		ad = realpath(slash ? (*d ? d : "/") : ".", NULL);
		if (!ad) {
			warn("-o %s: no such directory", o->out);
			exit(EXIT_USAGE);
		}
		manifest = path_join(ad, slash ? slash + 1 : o->out);
		free(ad);
		free(d);
	} else {
		manifest = path_join(root, "build.ninja");
	}
	rc = ninja_check_ours(manifest);
	if (rc == 0) {
		warn("%s was not written by tach; not overwriting it (use -o FILE)", manifest);
		exit(EXIT_USAGE);
	}
	python = o->regen && o->python ? find_program(o->python) : NULL;
	if (!python)
		python = choose_python(o->python);
	ro = o->an;
	saved_url = cache_url_keep(root, o, &ro.cache.url);
	ro.root = root;
	ro.quiet = true;
	analysis_run(&r, &ro);
	analysis_build(&r);
	if (pytest_ini_load(&ini, root, &err) < 0) {
		fprintf(stderr, "tach: %s\n", err);
		exit(EXIT_USAGE);
	}
	discover(r.graph, &ini, &tests);
	discover_unreadable(&ini, &r.unreadable, &tests);
	analysis_phase("discover");

	dir = bindir();
	go.root = root;
	rel = strncmp(manifest, root, strlen(root)) == 0 && manifest[strlen(root)] == '/'
	    ? manifest + strlen(root) + 1 : manifest;
	if (rel == manifest) {
		/* its paths are relative to the root, where Ninja must run */
		warn("-o %s: the manifest must be inside %s", o->out, root);
		exit(EXIT_USAGE);
	}
	go.out_rel = rel;
	go.ini_path = ini.path;
	go.python = python;
	go.pytest_args = o->pytest_args;
	go.policy = o->an.policy;
	outside_files(root, &ini, &outside);
	go.outside = &outside;
	go.timeout_arg = o->timeout;
	go.timeout = o->timeout ? o->timeout : r.cfg.timeout ? r.cfg.timeout : TACH_DEFAULT_TIMEOUT;
	go.bindir = dir;
	go.cache_prefix = strcmp(ro.cache.prefix, "tach:") != 0 ? ro.cache.prefix : NULL;
	go.rescan = r.io_error;
	ninja_render(r.graph, &tests, &r.files, &go, &b, &list, &toxic);
	listpath = xconcat(root, "/" TACH_PATH(TACH_TESTS_LIST), NULL);
	rc = ninja_write(manifest, listpath, &b, &list, &toxic, &err);
	analysis_phase("write");
	if (rc >= 0)
		prune_results(root, &list);
	if (rc < 0) {
		fprintf(stderr, "tach: %s\n", err);
		free(err);
		rc = 1;
	} else {
		for (i = 0; i < tests.n; i++)
			nisolated += tests.v[i].toxic;
		if (o->an.quiet)
			;
		else if (!tests.n)
			fprintf(stderr, "tach: no tests under %s (files matching %s%s)\n", root,
			        ini.python_files.n ? ini.python_files.v[0] : "", ini.python_files.n > 1 ? " ..." : "");
		else if (rc == 1)
			fprintf(stderr, "tach: %zu tests (%zu hypervisor, %zu isolated) in %s\n", tests.n,
			        tests.n - nisolated, nisolated, manifest);
		/* what could not be read was warned of, and the manifest has it
		 * (an error case for a directory pytest collects); Ninja's own
		 * regeneration must not fail, or no test would run */
		rc = r.io_error && !o->regen ? 1 : 0;
	}
	if (manifest_out)
		*manifest_out = manifest;
	else
		free(manifest);
	free(listpath);
	free(dir);
	free(python);
	free(saved_url);
	strlist_free(&outside);
	buf_free(&b);
	buf_free(&list);
	buf_free(&toxic);
	tests_free(&tests);
	pytest_ini_free(&ini);
	analysis_free(&r);
	free(root);
	return rc;
}

/* The Ninja target of a test file or directory given to tach run: its path
 * relative to root ("test" for the root itself). Exits when it is not
 * inside the root. */
static char *
path_target(const char *root, const char *path)
{
	char *abs = realpath(path, NULL), *t;
	size_t n = strlen(root);

	if (!abs) {
		warn("%s:", path);
		exit(EXIT_USAGE);
	}
	if (strcmp(abs, root) == 0) {
		free(abs);
		return xstrdup("test");
	}
	if (strncmp(abs, root, n) != 0 || abs[n] != '/') {
		warn("%s: not inside %s", path, root);
		exit(EXIT_USAGE);
	}
	t = xstrdup(abs + n + 1);
	free(abs);
	return t;
}

int
plan_run(const struct plan_opts *o, const char *manifest, char *const *paths, int npaths,
         char *const *ninja_args, int nargs)
{
	char **nargv, *root;
	int i, k;

	root = realpath(o->an.root, NULL);
	if (!root)
		fatal("%s:", o->an.root);
	nargv = xcalloc((size_t)npaths + (size_t)nargs + 7, sizeof(*nargv));
	k = 0;
	nargv[k++] = "ninja";
	nargv[k++] = "-C";
	nargv[k++] = root;
	nargv[k++] = "-f";
	nargv[k++] = (char *)manifest;
	for (i = 0; i < npaths; i++)
		nargv[k++] = path_target(root, paths[i]);
	for (i = 0; i < nargs; i++)
		nargv[k++] = ninja_args[i];
	if (!npaths)
		nargv[k++] = "test";
	fflush(NULL);
	execvp("ninja", nargv);
	warn("ninja:");
	return 1;
}

int
plan_hv(const char *root, const char *what)
{
	/* the runtime speaks the zygote's protocol; tach only hands over */
	char *run = xconcat(bindir(), "/tach-run", NULL);

	fflush(NULL);
	execl(run, run, "--hv", what, "--root", root, (char *)NULL);
	warn("%s:", run);
	return 1;
}
