/* ninja - the project's build.ninja: one edge per test, the import graph as
 * chained phony nodes, the summary, and the edge that regenerates the
 * manifest (gen/ninja.c has the design). */
#ifndef TACH_NINJA_H
#define TACH_NINJA_H

#include <stdbool.h>

#include "gen/config.h"
#include "gen/discover.h"
#include "gen/analyze/graph.h"
#include "lib/util.h"

/* The first line of every manifest tach writes; a file without it is not
 * ours to overwrite. */
#define NINJA_MARKER "# Written by tach gen: do not edit."

struct gen_opts {
	const char *root;	/* absolute */
	const char *out_rel;	/* the manifest, as Ninja names it (relative to root) */
	const char *python;	/* absolute */
	const char *bindir;	/* where tach's binaries are, absolute */
	const char *cache_prefix;
	const char *ini_path;	/* pytest's inifile (absolute), or NULL */
	const char *pytest_args;	/* options added to pytest's, or NULL */
	const char *policy;	/* --policy for the regenerating command, or NULL */
	long timeout;		/* seconds a test may run (tach-run --timeout) */
	long timeout_arg;	/* --timeout for the regenerating command, or 0 */
	bool rescan;		/* something could not be read: regenerate on every run */
	const struct strlist *outside;	/* .py files on pytest's pythonpath outside the
					 * root (absolute): every test depends on them */
};

/* Renders the manifest into b, the test list (result path, tab, node id,
 * a line each) into list and the toxic modules' paths (a line each) into
 * toxic. files are the project's .py files. */
void ninja_render(const struct graph *g, const struct tests *t, const struct strlist *files,
    const struct gen_opts *o, struct buf *b, struct buf *list, struct buf *toxic);
/* Writes the three (toxic.list beside listpath), each only when its content
 * changed (so Ninja sees an unchanged manifest as unchanged). Returns 1
 * when the manifest was written, 0 when it was already up to date, -1 with
 * *err set. */
int ninja_write(const char *manifest, const char *listpath, const struct buf *b, const struct buf *list,
    const struct buf *toxic, char **err);
/* 1 when manifest is missing or written by tach, 0 when it is someone
 * else's, -1 when it cannot be read. */
int ninja_check_ours(const char *manifest);
/* Whether a path can be named in a manifest at all (no newline or carriage
 * return). */
bool ninja_path_ok(const char *s);

#endif
