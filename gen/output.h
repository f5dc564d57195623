/* output - the analysis as JSON (the contract other tools read), as text for
 * people, and the explain chain.
 *
 * JSON: {"root", "modules": [{"module", "path", "toxic", "direct", "reasons",
 * "imports", "causes": [{"kind", "name", "line", "import_time", "counts",
 * "why"}], "depends", "via"}], "stats": {...}}; paths are relative to the
 * root, modules sorted by path. "reasons" holds the causes that count and
 * the toxic dependencies; "why" (only when "counts" is false) says why a
 * cause does not count under the policy. */
#ifndef TACH_OUTPUT_H
#define TACH_OUTPUT_H

#include <stdio.h>

#include "cache/cache.h"
#include "gen/analyze/graph.h"

/* Why a module is toxic, one newly allocated line per reason: its own causes,
 * then each toxic dependency ("Imports toxic module 'auth' (line 2)"). */
char **module_reasons(const struct module *m, size_t *n);
void output_json(FILE *f, const struct graph *g, const char *root, const struct cache_stats *st);

/* The JSON in two parts, so a rerun with nothing changed can replay the
 * body and print fresh cache statistics after it. */
struct output_counts {
	size_t parse_errors, toxic, direct, edges;
};
void output_json_body(FILE *f, const struct graph *g, const char *root, struct output_counts *c);
void output_json_stats(FILE *f, const struct cache_stats *st, const struct output_counts *c);
void output_text(FILE *f, const struct graph *g, const struct cache_stats *st);
/* Prints the chain from m to the direct cause, then one line per hop, then
 * the causes of the module at its end, each saying whether it counts under
 * the policy (its name) and why not. A safe module under the precise policy
 * lists the causes it has that do not count. */
void output_explain(FILE *f, const struct module *m, const char *policy);

#endif
