/* output - the analysis as JSON (the contract other tools read), as text for
 * people, and the explain chain.
 *
 * JSON: {"root", "modules": [{"module", "path", "toxic", "direct", "reasons",
 * "imports", "causes": [{"kind", "name", "line", "import_time"}], "depends",
 * "via"}], "stats": {...}}; paths are relative to the root, modules sorted by
 * path. */
#ifndef TACH_OUTPUT_H
#define TACH_OUTPUT_H

#include <stdio.h>

#include "tach/cache.h"
#include "tach/graph.h"

/* Why a module is toxic, one newly allocated line per reason: its own causes,
 * then each toxic dependency ("Imports toxic module 'auth' (line 2)"). */
char **module_reasons(const struct module *m, size_t *n);
void output_json(FILE *f, const struct graph *g, const char *root, const struct cache_stats *st);
void output_text(FILE *f, const struct graph *g, const struct cache_stats *st);
/* Prints the chain from m to the direct cause, then one line per hop. */
void output_explain(FILE *f, const struct module *m);

#endif
