/* scan - see include/tach/scan.h. */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tach/scan.h"
#include "tach/util.h"

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

static int
namecmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
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

static int
walk_dir(struct walk *w, const char *rel)
{
	char *dir = rel[0] ? path_join(w->root, rel) : xstrdup(w->root);
	char **names = NULL;
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
		if (de->d_name[0] == '.')
			continue;   /* hidden, and . and .. */
		names = xgrow(names, &cap, n + 1, sizeof(names[0]));
		names[n++] = xstrdup(de->d_name);
	}
	qsort(names, n, sizeof(names[0]), namecmp);
	for (i = 0; i < n; i++) {
		char *childrel = rel[0] ? path_join(rel, names[i]) : xstrdup(names[i]);
		struct stat st;
		size_t len = strlen(names[i]);

		/* relative to the open directory: no path walk per file */
		if (fstatat(fd, names[i], &st, 0) < 0)
			goto next;   /* dangling symlink */
		if (w->exclude && w->exclude->n && scan_excluded(w->exclude, childrel))
			goto next;
		if (S_ISDIR(st.st_mode)) {
			char *child;

			if (strcmp(names[i], "__pycache__") == 0 || strcmp(names[i], "node_modules") == 0)
				goto next;
			if (!rel[0] && strcmp(names[i], "build") == 0)
				goto next;
			child = path_join(dir, names[i]);
			if (!is_venv(child) && !seen_before(w, &st) && walk_dir(w, childrel) < 0)
				warn("%s: cannot read directory:", child);
			free(child);
		} else if (S_ISREG(st.st_mode) && len > 3 && strcmp(names[i] + len - 3, ".py") == 0) {
			if (w->stats) {
				*w->stats = xgrow(*w->stats, &w->capstats, w->files->n + 1, sizeof(st));
				(*w->stats)[w->files->n] = st;
			}
			strlist_add(w->files, childrel);
		}
next:
		free(childrel);
		free(names[i]);
	}
	closedir(d);
	free(names);
	free(dir);
	return 0;
}

int
scan_tree(const char *root, const struct strlist *exclude, struct strlist *files, struct stat **stats)
{
	struct walk w = {root, exclude, files, stats, 0, NULL, 0, 0};
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
	free(w.seen);
	return r;
}
