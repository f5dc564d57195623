/* graph - the project's module graph and toxicity propagation.
 *
 * Nodes are files, keyed by path: several files may share a dotted name
 * (conftest.py in many directories) and none replaces another. An edge A -> B
 * means importing A runs B: B is imported by A, or B is a parent package
 * (__init__.py) of A or of a module A imports. Imports resolve the way
 * sys.path does, through the source roots: the project root, src/ when
 * present, every directory pytest inserts for its test files (the first
 * ancestor without __init__.py) and the configured roots. Relative imports
 * resolve by path. Toxicity spreads backwards along edges with one BFS from
 * the directly toxic modules; each module records the dependency that
 * carried it in. */
#ifndef TACH_GRAPH_H
#define TACH_GRAPH_H

#include <stdbool.h>
#include <stddef.h>

#include "tach/report.h"

struct module;

struct dep {
	struct module *to;
	int line;          /* of the import; 0 for a parent package */
	bool import_time;
	bool parent;       /* a parent package's __init__.py, not an import */
};

struct module {
	char *path;        /* relative to the root */
	char *name;        /* dotted name under its most specific source root */
	bool package;      /* an __init__.py */
	struct report *report;
	bool direct;       /* toxic by its own code */
	bool toxic;        /* direct, or imports a toxic module */
	struct module *via;/* the dependency that carried toxicity in, or NULL */
	int via_line;
	bool via_parent;
	struct dep *deps;
	size_t ndeps, capdeps;
	char **imports;    /* absolute dotted names it imports, deduplicated */
	size_t nimports, capimports;
	size_t index;      /* position in graph order (sorted by path) */
	int root;          /* index of its source root */
	char *rootdir;     /* borrowed from the graph */
};

struct graph;

/* Creates an empty graph for root. Copies root. */
struct graph *graph_new(const char *root);
void graph_free(struct graph *g);
/* Adds an extra source root, relative to the root. Copies dir. */
void graph_add_root(struct graph *g, const char *dir);
/* Adds a file (path relative to root). Takes ownership of report. */
struct module *graph_add(struct graph *g, const char *path, struct report *report);
/* Names modules, resolves imports into edges and propagates toxicity. Call
 * once, after the last graph_add(). */
void graph_build(struct graph *g);

size_t graph_count(const struct graph *g);
/* Modules sorted by path; borrowed, valid until graph_free(). */
struct module *graph_module(const struct graph *g, size_t i);
/* Finds a module by path relative to the root. */
struct module *graph_find_path(const struct graph *g, const char *path);
/* Finds by path, by dotted name, or by a path relative to the current
 * directory. Sets *ambiguous when a dotted name names several files. */
struct module *graph_lookup(const struct graph *g, const char *what, bool *ambiguous);
/* Whether the file at path (relative to root) is toxic; false when unknown. */
bool graph_is_toxic(const struct graph *g, const char *path);
/* The source roots, relative to the root ("" is the root itself). */
size_t graph_nroots(const struct graph *g);
const char *graph_root_dir(const struct graph *g, size_t i);
size_t graph_nedges(const struct graph *g);

#endif
