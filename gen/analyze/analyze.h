/* analyze - produces one report per file, in parallel.
 *
 * The analyzer (gen/analyze/pyparse.c) turns one file's bytes into a report.
 * analyze_files() reads and analyzes every file (the --no-cache
 * path); cache_analyze() in cache/ puts the report cache in front of it. A
 * file that cannot be read gets a CAUSE_UNREADABLE report ("could not
 * read: ..."), so it is treated as toxic and the run goes on. */
#ifndef TACH_ANALYZE_H
#define TACH_ANALYZE_H

#include <stdbool.h>
#include <stddef.h>

#include "tach/report.h"
#include "gen/analyze/rules.h"

/* The analyzer. One per thread: it owns a tree-sitter parser. */
struct analyzer;
/* rules is borrowed and must outlive the analyzer. */
struct analyzer *analyzer_new(const struct rules *rules);
void analyzer_free(struct analyzer *a);
/* Analyzes one file's bytes (UTF-8 with or without BOM, a PEP 263 coding
 * cookie, CRLF). path is used only in messages. Never fails: a file that
 * does not parse gets a CAUSE_PARSE_ERROR cause ("could not parse: line N").
 * The returned report must be freed with report_free(). */
struct report *analyzer_run(struct analyzer *a, const char *src, size_t len, const char *path);
/* Convenience wrapper that creates and frees an analyzer for one file. */
struct report *analyze_file(const struct rules *rules, const char *src, size_t len, const char *path);

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
