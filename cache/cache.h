/* cache - the report cache, keyed by file content.
 *
 * Three levels, each consulted only for what the one before missed:
 *   1. the stat index, ROOT/.tach/index: (path, size, mtime, ctime, inode)
 *      -> content hash and the encoded report, so a run in which nothing
 *      changed reads one file and no project file contents;
 *   2. the local store, ROOT/.tach/cache/XX/KEY, one entry per key;
 *   3. Redis (optional), shared by every CI job, batched and pipelined.
 * A key is the XXH3-128 of the file's bytes plus a fingerprint of the
 * analyzer (version and source checksum) and the rules, so a rule change never serves an old
 * verdict. Values are encoded reports (cache/codec.c) with a version, a
 * length and a checksum: a corrupt, truncated or foreign value is a miss,
 * never a crash and never a wrong verdict. Every failure of the cache
 * degrades to "miss" with one warning; the analysis always completes. */
#ifndef TACH_CACHE_H
#define TACH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "tach/report.h"
#include "gen/analyze/rules.h"
#include "lib/util.h"

/* Bump when the analyzer's output for the same bytes may change. Keys also
 * carry a checksum of the analyzer's source files (build/gen/
 * analyzer_version.h), so a rebuilt analyzer never reads an older one's
 * reports even when nobody bumped this. */
#define TACH_ANALYZER_VERSION 4

#define CACHE_KEY_LEN 49   /* 32 hex (content) + '-' + 16 hex (rules) */

struct cache_opts {
	bool disabled;            /* --no-cache: no index, no store, no Redis */
	const char *url;          /* Redis URL or NULL */
	const char *prefix;       /* Redis key prefix, default "tach:" */
	long ttl_seconds;         /* Redis TTL, default 30 days */
	int connect_timeout_ms;   /* default 100 */
	int op_timeout_ms;        /* default 2000 */
	long max_mb;              /* local store bound, default 256 */
};

struct cache_stats {
	size_t files;
	size_t parsed;
	size_t index_hits;        /* unchanged since the last run */
	size_t local_hits;        /* includes index_hits */
	size_t redis_hits;
	size_t redis_round_trips;
	size_t corrupt;           /* values rejected and recomputed */
	size_t bytes_read;
};

/* codec: a report <-> bytes. */
void codec_encode(const struct report *r, struct buf *out);
/* Returns NULL (and sets *why to a static string) for anything but a
 * well-formed value of this version. The caller frees the report. */
struct report *codec_decode(const char *data, size_t len, const char **why);

/* hashing */
void hash_content(const void *data, size_t len, char hex[33]);
/* "CONTENTHEX-RULESHEX" into key[CACHE_KEY_LEN + 1]. */
void cache_key(const char content_hex[33], const char *rules_fingerprint, char key[CACHE_KEY_LEN + 1]);

/* The local store under DIR (ROOT/.tach/cache). Both return 0 or -1;
 * get sets *data (caller frees) or returns 1 on a miss. */
int local_get(const char *dir, const char *key, char **data, size_t *len);
int local_put(const char *dir, const char *key, const char *data, size_t len);
/* Evicts the oldest entries until the store is under max_bytes. Returns the
 * number removed. */
long local_evict(const char *dir, uint64_t max_bytes);
/* Counts entries and bytes; returns -1 when the store does not exist. */
long local_usage(const char *dir, uint64_t *bytes);
/* Removes the store, the index and the memo of the last output. */
int local_clear(const char *root);

/* The whole pipeline: returns one report per path (in order; caller owns),
 * parsing with `jobs` threads only what no level had. stats, when not NULL,
 * holds each path's stat(2) from the scan (saving a second stat per file).
 * Warnings go to stderr. */
struct report **cache_analyze(const char *root, char *const *paths, const struct stat *stats,
                              size_t n, struct rules *rules, int jobs, const struct cache_opts *opts,
                              struct cache_stats *st);
/* A digest of everything the analysis of the last cache_analyze() call
 * depended on: every path with its content hash and the rules. Two runs with
 * the same digest (and the same other inputs, which the caller adds) produce
 * the same analysis. Empty when a file could not be read. */
extern char cache_last_digest[33];

#endif
