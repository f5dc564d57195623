/* analyze - produces one report per file, in parallel.
 *
 * Reads each file and runs the analyzer over it with `jobs` worker threads
 * (each with its own parser). A file that cannot be read gets a
 * CAUSE_PARSE_ERROR report ("could not read: ..."), so it is treated as toxic
 * and the run goes on. This is the step the report cache sits in front of. */
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

/* paths are relative to root. Returns an array of n reports, in the order of
 * paths; the caller owns the array and each report. */
struct report **analyze_files(const char *root, char *const *paths, size_t n,
                              const struct rules *rules, int jobs, struct analyze_stats *stats);

#endif
