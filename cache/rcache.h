/* rcache - the shared Redis level of the report cache (cache/redis.c, the
 * only hiredis user).
 *
 * A handle with a sticky error, in the manner of hiredis: once err is set
 * (refused, unreachable, timed out, authentication denied, connection lost)
 * every later call is a no-op that reports a miss, so callers degrade to
 * local-only without checking after every call. No redisReply ever leaves
 * cache/redis.c.
 *
 * URL forms: redis://[[user]:password@]host[:port][/db] and
 * unix:///path/to/redis.sock[?db=N]. Keys are stored as PREFIX + key.
 * Lookups and writes are pipelined in batches: one round trip per batch of
 * up to RCACHE_BATCH keys, never one per key. */
#ifndef TACH_RCACHE_H
#define TACH_RCACHE_H

#include <stdbool.h>
#include <stddef.h>

#define RCACHE_BATCH 1000

enum rcache_err {
	RCACHE_OK,
	RCACHE_ERR_URL,       /* the URL does not parse */
	RCACHE_ERR_CONNECT,   /* refused, unreachable, connect timeout */
	RCACHE_ERR_AUTH,      /* wrong password, ACL denial */
	RCACHE_ERR_IO,        /* lost or timed out mid-run */
	RCACHE_ERR_PROTOCOL,  /* an unexpected reply */
};

struct rcache_opts {
	const char *url;
	const char *prefix;        /* default "tach:" */
	int connect_timeout_ms;    /* default 100 */
	int op_timeout_ms;         /* default 2000 */
	long ttl_seconds;          /* default 30 days; refreshed on every hit */
};

/* A value fetched from Redis; data is NULL on a miss. */
struct rcache_blob {
	char *data;
	size_t len;
};

struct rcache {
	enum rcache_err err;
	char errstr[256];          /* names the URL with the password masked */
	size_t round_trips;        /* pipelined batches sent */
	size_t hits, misses;
	/* private */
	void *ctx;
	char *prefix;
	long ttl;
	int op_timeout_ms;
	char *display_url;
};

/* Connects (and AUTHs / SELECTs). Never returns NULL: on failure the handle
 * has err set and every call is a miss. Free with rcache_free(). */
struct rcache *rcache_open(const struct rcache_opts *opts);
void rcache_free(struct rcache *rc);
/* Looks up n keys, pipelined in batches of RCACHE_BATCH. out[i] is set for
 * each key (data NULL on a miss or after an error); the caller frees each
 * out[i].data. Hits get their TTL refreshed in the same round trip. Returns
 * the number of hits, or -1 when the handle failed (all of out are misses). */
long rcache_get(struct rcache *rc, char *const *keys, size_t n, struct rcache_blob *out);
/* Stores n values with the TTL, pipelined. Returns 0, or -1 on error. */
int rcache_put(struct rcache *rc, char *const *keys, const struct rcache_blob *vals, size_t n);
/* Deletes every key under the prefix (SCAN + UNLINK in batches). Returns the
 * number of keys removed, or -1. */
long rcache_clear(struct rcache *rc);
/* Counts the keys under the prefix (SCAN). Returns -1 on error. */
long rcache_count(struct rcache *rc);
/* Writes the URL with any password replaced by "***" into buf. */
void rcache_mask_url(const char *url, char *buf, size_t size);
/* Whether url is one rcache_open() accepts: 0, or -1 with the reason in
 * why[size] (the URL is not repeated there). */
int rcache_check_url(const char *url, char *why, size_t size);

#endif
