/* scan - lists the Python files of a project.
 *
 * Walks ROOT depth-first in sorted order and returns .py paths relative to
 * ROOT. Skips hidden files and directories, __pycache__, virtualenvs
 * (directories holding pyvenv.cfg), node_modules, ROOT/build and the
 * configured exclude patterns. Symlinked directories are followed after
 * the real tree, once: a directory already visited (same device and inode)
 * is never entered again, so symlink loops terminate and a link never hides
 * the directory it points to. */
#ifndef TACH_SCAN_H
#define TACH_SCAN_H

#include <stdbool.h>
#include <sys/stat.h>

#include "lib/util.h"

/* The directories a walk could not list, or not stat an entry of: each
 * one's path relative to ROOT ("." for ROOT) and why, as "cannot read
 * directory: Permission denied" or "cannot stat NAME: ...". */
struct scan_errors {
	struct strlist path, why;
};

/* Appends the paths to files (copies). exclude may be NULL. When stats is
 * not NULL, *stats is set to a new array (the caller frees it) holding each
 * file's stat(2), in the order of files. When errs is not NULL, the
 * directories that could not be read are appended to it. Returns 0; 1
 * when some subdirectory could not be read (each one a warning; the rest
 * is listed); -1 when ROOT itself cannot be read (errno set). */
int scan_tree(const char *root, const struct strlist *exclude, struct strlist *files,
              struct stat **stats, struct scan_errors *errs);
void scan_errors_free(struct scan_errors *e);
/* Whether a path relative to ROOT matches an exclude pattern: a pattern
 * without '/' matches any single path component, one with '/' matches the
 * path from ROOT (fnmatch), a directory pattern also covers what is below. */
bool scan_excluded(const struct strlist *exclude, const char *relpath);

#endif
