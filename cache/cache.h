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
 * length, the key they were written for and a checksum over key and
 * report: a corrupt, truncated or foreign value, or a valid one copied under
 * another key, is a miss, never a crash and never a wrong verdict. Every
 * level decodes against the key it expects (the index against the key of
 * its entry's content hash), and only what proved its key reaches the local
 * store. Every failure of the cache degrades to "miss" with one warning;
 * the analysis always completes.
 * Beside it, the memo of `tach analyze`'s last output (cache/memo.c). */
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
	/* A digest of everything the analysis depended on: every path with its
	 * content hash and the rules. Two runs with the same digest (and the
	 * same other inputs, which the caller adds) produce the same analysis.
	 * Empty when a file could not be read, and without the cache. */
	char digest[33];
};

/* codec: a report <-> bytes. key (CACHE_KEY_LEN chars) is the key the value
 * is stored under; it is encoded inside the checksummed part. */
void codec_encode(const struct report *r, const char *key, struct buf *out);
/* Returns NULL (and sets *why to a static string) for anything but a
 * well-formed value of this version written for key. The caller frees the
 * report. */
struct report *codec_decode(const char *data, size_t len, const char *key, const char **why);

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

/* memo: the last output of `tach analyze`, ROOT/.tach/analyze.json or
 * analyze.txt (cache/memo.c has the format), so a rerun with the same key
 * replays it instead of building the graph. A memo that cannot be read or
 * written is a miss, never an error. */
struct memo_counts {
	size_t parse_errors, toxic, direct, edges;
};
/* The key of an output into key[33]: a hash of tach's version, digest
 * (cache_stats.digest) and inputs, the caller's other inputs of the output.
 * Empty when digest is: such an output is never memoized. */
void memo_key(const char *version, const char *digest, const struct buf *inputs, char key[33]);
/* ROOT/.tach/analyze.json (json) or analyze.txt. The caller frees it. */
char *memo_path(const char *root, bool json);
/* When the memo at path has key: returns 0, the output in *body (the
 * caller frees it), its length in *len and its counts in *c. Returns 1 on
 * a miss: no memo, another key, an empty key or a malformed memo. */
int memo_read(const char *path, const char *key, char **body, size_t *len, struct memo_counts *c);
/* Writes the memo atomically. Returns 0, or -1 with errno set. */
int memo_write(const char *path, const char *key, const struct memo_counts *c, const char *body,
               size_t len);

#endif
