/* analyze - produces one report per file, in parallel.
 *
 * parallel_for() is the worker pool every parallel step uses: workers take
 * the next index from a shared counter, so one large file never holds up
 * the others. analyze_files() reads and analyzes every file (the --no-cache
 * path); cache_analyze() in cache/ puts the report cache in front of it. A
 * file that cannot be read gets a CAUSE_PARSE_ERROR report ("could not
 * read: ..."), so it is treated as toxic and the run goes on. */
#ifndef TACH_ANALYZE_H
#define TACH_ANALYZE_H

#include <stddef.h>

#include "tach/report.h"

struct analyze_stats {
	size_t files;
	size_t parsed;
	size_t bytes;
	size_t parse_errors;
};

/* Runs fn(ctx, tls, i) for every i < n on up to `jobs` threads. init(ctx),
 * if not NULL, makes each thread's state (tls); fini frees it. */
void parallel_for(size_t n, int jobs, void *ctx, void *(*init)(void *ctx),
                  void (*fn)(void *ctx, void *tls, size_t i), void (*fini)(void *tls));
/* Returns the indices 0..n-1 ordered by weight, heaviest first: handing out
 * the big files first keeps every worker busy until the end. The caller
 * frees the result. */
size_t *order_by_weight(const size_t *weight, size_t n);

/* paths are relative to root. Returns an array of n reports, in the order of
 * paths; the caller owns the array and each report. */
struct report **analyze_files(const char *root, char *const *paths, size_t n,
                              const struct rules *rules, int jobs, struct analyze_stats *stats);

/* The report for a file that could not be read (err is an errno value);
 * prints a warning naming path. */
struct report *report_unreadable(const char *path, int err);

#endif
