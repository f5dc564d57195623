/* scan - see gen/analyze/scan.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gen/analyze/scan.h"
#include "lib/util.h"

struct visited {
	dev_t dev;
	ino_t ino;
};

struct walk {
	const char *root;
	const struct strlist *exclude;
	struct strlist *files;
	struct stat **stats;    /* parallel to files, or NULL */
	size_t capstats;
	struct visited *seen;
	size_t nseen, capseen;
	struct strlist deferred;/* symlinked directories, walked after the real tree */
	int errors;             /* directories that could not be read */
	struct scan_errors *errs;	/* or NULL */
};

struct entry {
	char *name;
	struct stat st;
	bool link;
};

bool
scan_excluded(const struct strlist *exclude, const char *relpath)
{
	size_t i;

	for (i = 0; exclude && i < exclude->n; i++) {
		const char *pat = exclude->v[i];
		size_t plen = strlen(pat);
		char *p;
		bool hit;

		while (plen > 1 && pat[plen - 1] == '/')
			plen--;
		p = xstrndup(pat, plen);
		if (p[0] == '.' && p[1] == '/')
			memmove(p, p + 2, strlen(p + 2) + 1);
		if (strchr(p, '/')) {
			hit = fnmatch(p, relpath, FNM_PATHNAME) == 0;
		} else {
			/* any component */
			const char *c = relpath, *slash;

			hit = false;
			while (!hit && *c) {
				char *comp;

				slash = strchr(c, '/');
				comp = slash ? xstrndup(c, slash - c) : xstrdup(c);
				hit = fnmatch(p, comp, 0) == 0;
				free(comp);
				c = slash ? slash + 1 : c + strlen(c);
			}
		}
		free(p);
		if (hit)
			return true;
	}
	return false;
}

/* Warns of a directory (rel, relative to the root) that could not be read,
 * and keeps it with why and the cause, err. */
static void
unreadable(struct walk *w, const char *rel, const char *why, int err)
{
	char *full = rel[0] ? path_join(w->root, rel) : xstrdup(w->root), *msg;
	const char *name = rel[0] ? rel : ".";
	struct strlist *paths = w->errs ? &w->errs->path : NULL;

	msg = xasprintf("%s: %s", why, strerror(err));
	warn("%s: %s", full, msg);
	w->errors++;
	/* once a directory, however many of its entries fail */
	if (paths && !(paths->n && strcmp(paths->v[paths->n - 1], name) == 0)) {
		strlist_add(paths, name);
		strlist_add(&w->errs->why, msg);
	}
	free(msg);
	free(full);
}

void
scan_errors_free(struct scan_errors *e)
{
	strlist_free(&e->path);
	strlist_free(&e->why);
}

static int
entrycmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static bool
seen_before(struct walk *w, const struct stat *st)
{
	size_t i;

	for (i = 0; i < w->nseen; i++)
		if (w->seen[i].dev == st->st_dev && w->seen[i].ino == st->st_ino)
			return true;
	w->seen = xgrow(w->seen, &w->capseen, w->nseen + 1, sizeof(w->seen[0]));
	w->seen[w->nseen++] = (struct visited){st->st_dev, st->st_ino};
	return false;
}

static bool
is_venv(const char *dir)
{
	char *p = path_join(dir, "pyvenv.cfg");
	struct stat st;
	bool r = stat(p, &st) == 0;

	free(p);
	return r;
}

/* Walks one directory. Its entries are read and stat'ed while it is open;
 * it is closed before any subdirectory is entered, so depth costs no file
 * descriptors. A symlinked directory is deferred until the real tree has
 * been walked, so a link never hides the directory it points to. */
static int
walk_dir(struct walk *w, const char *rel)
{
	char *dir = rel[0] ? path_join(w->root, rel) : xstrdup(w->root);
	struct entry *e = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;
	int fd;

	d = opendir(dir);
	if (!d) {
		int err = errno;

		free(dir);
		errno = err;
		return -1;
	}
	fd = dirfd(d);
	while ((de = readdir(d))) {
		struct stat st;
		bool link = false;

		if (de->d_name[0] == '.')
			continue;   /* hidden, and . and .. */
		if (de->d_type == DT_LNK || de->d_type == DT_UNKNOWN) {
			if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
				link = S_ISLNK(st.st_mode);
		}
		/* relative to the open directory: no path walk per file */
		if (fstatat(fd, de->d_name, &st, 0) < 0) {
			if (errno != ENOENT && errno != ELOOP) {
				/* not a dangling link: something we cannot see */
				int err = errno;
				char *why = xconcat("cannot stat ", de->d_name, NULL);

				unreadable(w, rel, why, err);
				free(why);
			}
			continue;
		}
		e = xgrow(e, &cap, n + 1, sizeof(e[0]));
		e[n++] = (struct entry){xstrdup(de->d_name), st, link};
	}
	closedir(d);
	if (n > 1)
		qsort(e, n, sizeof(e[0]), entrycmp);
	for (i = 0; i < n; i++) {
		char *childrel = rel[0] ? path_join(rel, e[i].name) : xstrdup(e[i].name);
		size_t len = strlen(e[i].name);

		if (w->exclude && w->exclude->n && scan_excluded(w->exclude, childrel))
			goto next;
		if (S_ISDIR(e[i].st.st_mode)) {
			char *child;

			if (strcmp(e[i].name, "__pycache__") == 0 || strcmp(e[i].name, "node_modules") == 0)
				goto next;
			if (!rel[0] && strcmp(e[i].name, "build") == 0)
				goto next;
			if (e[i].link) {
				strlist_add(&w->deferred, childrel);
				goto next;
			}
			child = path_join(dir, e[i].name);
			if (!is_venv(child) && !seen_before(w, &e[i].st) && walk_dir(w, childrel) < 0)
				unreadable(w, childrel, "cannot read directory", errno);
			free(child);
		} else if (S_ISREG(e[i].st.st_mode) && len > 3 && strcmp(e[i].name + len - 3, ".py") == 0) {
			if (w->stats) {
				*w->stats = xgrow(*w->stats, &w->capstats, w->files->n + 1, sizeof(e[i].st));
				(*w->stats)[w->files->n] = e[i].st;
			}
			strlist_add(w->files, childrel);
		}
next:
		free(childrel);
		free(e[i].name);
	}
	free(e);
	free(dir);
	return 0;
}

int
scan_tree(const char *root, const struct strlist *exclude, struct strlist *files, struct stat **stats,
          struct scan_errors *errs)
{
	struct walk w = {root, exclude, files, stats, 0, NULL, 0, 0, {0}, 0, errs};
	size_t i;
	struct stat st;
	int r;

	if (stat(root, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	if (stats)
		*stats = NULL;
	seen_before(&w, &st);
	r = walk_dir(&w, "");
	/* then the symlinked directories, which may defer more */
	for (i = 0; r == 0 && i < w.deferred.n; i++) {
		char *p = path_join(root, w.deferred.v[i]);
		struct stat dst;

		if (stat(p, &dst) == 0 && !is_venv(p) && !seen_before(&w, &dst) &&
		    walk_dir(&w, w.deferred.v[i]) < 0)
			unreadable(&w, w.deferred.v[i], "cannot read directory", errno);
		free(p);
	}
	strlist_free(&w.deferred);
	free(w.seen);
	if (r == 0 && w.errors) {
		errno = EIO;
		return 1;
	}
	return r;
}
