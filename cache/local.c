/* local - the local report store, ROOT/.tach/cache/XX/KEY.
 *
 * One file per key, written to a unique temporary name in the same
 * directory and renamed into place (write_file_atomic), so concurrent tach runs never see a
 * partial entry (at worst two of them write the same bytes twice). A hit
 * touches the entry's mtime, which is what eviction orders by. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache.h"
#include "tach/statedir.h"
#include "lib/util.h"

static char *
entry_path(const char *dir, const char *key)
{
	return xasprintf("%s/%.2s/%s", dir, key, key);
}

int
local_get(const char *dir, const char *key, char **data, size_t *len)
{
	char *p = entry_path(dir, key);
	int r = 0;

	if (read_file(p, data, len) < 0) {
		r = errno == ENOENT ? 1 : -1;
	} else {
		/* recently used: keep it longest */
		utimensat(AT_FDCWD, p, NULL, 0);
	}
	free(p);
	return r;
}

static int
mkdirs(const char *path)
{
	char *p = xstrdup(path), *s;
	int r = 0;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			r = -1;
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		r = -1;
	free(p);
	return r;
}

int
local_put(const char *dir, const char *key, const char *data, size_t len)
{
	char *p = entry_path(dir, key);
	int r = write_file_atomic(p, data, len, 0644);

	if (r < 0 && errno == ENOENT) {
		/* the first entry of its XX/ directory */
		char *sub = xasprintf("%s/%.2s", dir, key);

		if (mkdirs(sub) == 0)
			r = write_file_atomic(p, data, len, 0644);
		free(sub);
	}
	free(p);
	return r;
}

struct entry {
	char *path;
	off_t size;
	struct timespec mtime;
};

static int
entrycmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* Lists every entry of the store; returns -1 when it does not exist. */
static long
list_entries(const char *dir, struct entry **out, size_t *n, uint64_t *bytes)
{
	size_t cap = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	*out = NULL;
	*n = 0;
	*bytes = 0;
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char *sub;
		struct dirent *fe;
		DIR *sd;

		if (de->d_name[0] == '.' || strlen(de->d_name) != 2)
			continue;
		sub = xasprintf("%s/%s", dir, de->d_name);
		sd = opendir(sub);
		while (sd && (fe = readdir(sd))) {
			size_t nl = strlen(fe->d_name);
			struct stat st;
			char *p;

			if (fe->d_name[0] == '.')
				continue;
			if (nl > 4 && strcmp(fe->d_name + nl - 4, ".tmp") == 0) {
				/* another run's temporary: skip it, unless that run
				 * died long ago */
				p = xasprintf("%s/%s", sub, fe->d_name);
				if (stat(p, &st) == 0 && st.st_mtime + 3600 < time(NULL))
					unlink(p);
				free(p);
				continue;
			}
			p = xasprintf("%s/%s", sub, fe->d_name);
			if (stat(p, &st) < 0 || !S_ISREG(st.st_mode)) {
				free(p);
				continue;
			}
			*out = xgrow(*out, &cap, *n + 1, sizeof(**out));
			(*out)[(*n)++] = (struct entry){p, st.st_size, st.st_mtim};
			*bytes += (uint64_t)st.st_size;
		}
		if (sd)
			closedir(sd);
		free(sub);
	}
	closedir(d);
	return (long)*n;
}

long
local_usage(const char *dir, uint64_t *bytes)
{
	struct entry *e;
	size_t n, i;
	long r = list_entries(dir, &e, &n, bytes);

	for (i = 0; i < n; i++)
		free(e[i].path);
	free(e);
	return r;
}

long
local_evict(const char *dir, uint64_t max_bytes)
{
	struct entry *e;
	size_t n, i;
	uint64_t bytes;
	long removed = 0;

	if (list_entries(dir, &e, &n, &bytes) < 0)
		return 0;
	if (bytes > max_bytes) {
		qsort(e, n, sizeof(e[0]), entrycmp);
		for (i = 0; i < n && bytes > max_bytes; i++) {
			if (unlink(e[i].path) == 0) {
				bytes -= (uint64_t)e[i].size;
				removed++;
			}
		}
	}
	for (i = 0; i < n; i++)
		free(e[i].path);
	free(e);
	return removed;
}

static int
rmtree(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int r = 0;

	if (!d)
		return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
	while ((de = readdir(d))) {
		char *p;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		p = xasprintf("%s/%s", path, de->d_name);
		if (rmtree(p) < 0)
			r = -1;
		free(p);
	}
	closedir(d);
	if (rmdir(path) < 0 && errno != ENOENT)
		r = -1;
	return r;
}

int
local_clear(const char *root)
{
	char *dir = xasprintf("%s/" TACH_PATH(TACH_CACHE), root);
	static const char *const files[] = {TACH_INDEX, TACH_ANALYZE_JSON, TACH_ANALYZE_TXT};
	int r = rmtree(dir);
	size_t i;

	for (i = 0; i < LEN(files); i++) {
		char *p = xasprintf("%s/" TACH_DIR "/%s", root, files[i]);

		if (unlink(p) < 0 && errno != ENOENT)
			r = -1;
		free(p);
	}
	free(dir);
	return r;
}
