/* analysis - the pipeline behind tach analyze, explain and cache: the
 * project's config, the scan, the cached analysis (cache_analyze()), the
 * import graph, and the output, replayed from the memo of the last one when
 * nothing it depends on changed (gen/analysis.c).
 *
 * Like the rest of gen/, a run-once pipeline: a usage or configuration
 * error (a bad pyproject.toml, a root that is not a directory) prints
 * "tach: ..." and exits EXIT_USAGE; an unreadable file is reported and the
 * run goes on, ending with status 1. TACH_TIMINGS=1 prints each phase's
 * time to stderr (analysis_phase()). */
#ifndef TACH_ANALYSIS_H
#define TACH_ANALYSIS_H

#include <stdbool.h>
#include <sys/stat.h>

#include "cache/cache.h"
#include "gen/analyze/graph.h"
#include "gen/analyze/rules.h"
#include "gen/analyze/scan.h"
#include "gen/config.h"
#include "lib/util.h"

#define TACH_VERSION "0.1.0"

enum { EXIT_USAGE = 2 };	/* a usage or configuration error */

/* What every command that analyzes takes; the strings are borrowed. */
struct analysis_opts {
	const char *root;       /* the project root, as given */
	int jobs;               /* analyzer threads */
	bool quiet;             /* no warnings for files that do not parse */
	const char *policy;     /* --policy, or NULL for the config's */
	struct cache_opts cache;
};

/* One run of the analysis. Owns everything in it; analysis_free() frees it. */
struct analysis {
	struct config cfg;
	struct rules *rules;
	struct strlist files;   /* the project's .py files, relative to the root */
	struct stat *stats;     /* of files, from the scan */
	struct graph *graph;
	struct cache_stats cstats;
	struct scan_errors unreadable;  /* directories the scan could not read */
	bool io_error;          /* a file or directory could not be read */
};

/* The policy: --policy, else [tool.tach] policy, else precise. */
enum policy analysis_policy(const struct analysis_opts *o, const struct config *cfg);
/* Marks the end of the phase called name (NULL starts the clock). */
void analysis_phase(const char *name);
/* Loads the config, scans, analyzes and fills a->graph with the reports;
 * analysis_build() then resolves it. The config's cache settings go into
 * o->cache. Exits on a usage or configuration error. */
void analysis_run(struct analysis *a, struct analysis_opts *o);
/* Builds the import graph: each module's verdict and its chain. */
void analysis_build(struct analysis *a);
void analysis_free(struct analysis *a);

/* The commands. Each returns the exit status. */
/* tach analyze: every module and its verdict to stdout, as JSON or text. */
int analysis_print(struct analysis_opts *o, bool json);
/* tach explain: the chain from the module or file called name to its cause. */
int analysis_explain(struct analysis_opts *o, const char *name);
/* tach cache stats, or clear (the Redis keys too when redis). */
int analysis_cache(struct analysis_opts *o, bool clear, bool redis);

#endif
