/* cache - the cached analysis pipeline; see cache/cache.h.
 *
 * Stage 1 (parallel): stat each file; an unchanged file takes its report
 *   from the stat index; a changed one is read and hashed, then looked up
 *   in the local store.
 * Stage 2: what is still missing is fetched from Redis in pipelined
 *   batches; the connection is opened only when something is missing, so a
 *   run with nothing changed never talks to Redis.
 * Stage 3 (parallel): the rest is parsed, encoded and stored locally; then
 *   written to Redis in pipelined batches.
 * Finally the stat index is rewritten (only when something changed) and the
 * local store is trimmed to its bound. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "cache/index.h"
#include "gen/analyze/analyze.h"
#include "lib/pool.h"
#include "cache/cache.h"
#include "cache/rcache.h"
#include "tach/statedir.h"
#include "lib/util.h"

enum source { FROM_NONE, FROM_INDEX, FROM_LOCAL, FROM_REDIS, FROM_PARSE, FROM_ERROR };

struct item {
	const char *path;
	struct stat st;
	bool stat_ok;
	char hash[33];
	char key[CACHE_KEY_LEN + 1];
	char *src;
	size_t len;
	struct report *report;
	const char *blob;     /* encoded report: borrowed from the index, or owned */
	char *owned;
	size_t bloblen;
	enum source from;
	bool corrupt;
	const char *why;
};

struct run {
	const char *root;
	char *store;          /* ROOT/.tach/cache, or NULL when not writable */
	struct index *ix;
	const struct rules *rules;
	const char *rules_fp;
	struct item *items;
	const struct stat *stats;
	const size_t *order;
	atomic_bool write_failed;  /* of the parse stage: largest first */
};

static void
take_blob(struct item *it, char *data, size_t len)
{
	free(it->owned);
	it->owned = data;
	it->blob = data;
	it->bloblen = len;
}

static void
stage_local(void *ctx, void *tls, size_t i)
{
	struct run *run = ctx;
	struct item *it = &run->items[i];
	const struct idx_entry *e;
	char *path = path_join(run->root, it->path);
	char *data;
	size_t len;

	(void)tls;
	if (run->stats) {
		it->st = run->stats[i];
		it->stat_ok = true;
	} else {
		it->stat_ok = stat(path, &it->st) == 0;
	}
	e = it->stat_ok ? index_lookup(run->ix, it->path, &it->st) : NULL;
	if (e && e->racy) {
		/* written too close to the last index: check the bytes */
		if (read_file(path, &it->src, &it->len) < 0) {
			it->report = report_unreadable(path, errno);
			it->from = FROM_ERROR;
			goto out;
		}
		hash_content(it->src, it->len, it->hash);
		if (memcmp(it->hash, e->hash, 32) != 0)
			e = NULL;
	}
	if (e) {
		memcpy(it->hash, e->hash, sizeof(it->hash));
		cache_key(it->hash, run->rules_fp, it->key);
		if (e->blob && (it->report = codec_decode(e->blob, e->bloblen, it->key, &it->why))) {
			it->blob = e->blob;
			it->bloblen = e->bloblen;
			it->from = e->racy ? FROM_LOCAL : FROM_INDEX;
			goto out;
		}
	}
	if (!it->src && read_file(path, &it->src, &it->len) < 0) {
		it->report = report_unreadable(path, errno);
		it->from = FROM_ERROR;
		goto out;
	}
	if (!e) {
		hash_content(it->src, it->len, it->hash);
		cache_key(it->hash, run->rules_fp, it->key);
	}
	if (run->store && local_get(run->store, it->key, &data, &len) == 0) {
		it->report = codec_decode(data, len, it->key, &it->why);
		if (it->report) {
			take_blob(it, data, len);
			it->from = FROM_LOCAL;
		} else {
			it->corrupt = true;
			free(data);
		}
	}
out:
	free(path);
}

static void *
parse_init(void *ctx)
{
	return analyzer_new(((struct run *)ctx)->rules);
}

static void
parse_fini(void *tls)
{
	analyzer_free(tls);
}

static void
stage_parse(void *ctx, void *tls, size_t i)
{
	struct run *run = ctx;
	struct item *it = &run->items[run->order[i]];
	struct buf b = {0};

	if (it->report)
		return;
	it->report = analyzer_run(tls, it->src, it->len, it->path);
	it->from = FROM_PARSE;
	codec_encode(it->report, it->key, &b);
	it->bloblen = b.len;
	take_blob(it, buf_take(&b), it->bloblen);
	if (run->store && local_put(run->store, it->key, it->blob, it->bloblen) < 0 &&
	    !atomic_exchange(&run->write_failed, true))
		warn("%s: cannot write cache entries (analysis goes on uncached):", run->store);
}

static void
warn_redis(struct rcache *rc, bool *warned)
{
	if (*warned)
		return;
	*warned = true;
	warn("cache: %s; continuing with the local cache only", rc->errstr);
}

static void
stage_redis_get(struct run *run, size_t n, const struct cache_opts *opts, struct rcache **rcp,
                struct cache_stats *st, bool *warned)
{
	struct rcache_opts ro = {opts->url, opts->prefix, opts->connect_timeout_ms, opts->op_timeout_ms,
	                         opts->ttl_seconds};
	struct rcache_blob *out;
	char **keys;
	size_t *idx, m = 0, i;
	struct rcache *rc;

	for (i = 0; i < n; i++)
		m += !run->items[i].report;
	if (!m)
		return;
	rc = *rcp = rcache_open(&ro);
	if (rc->err) {
		warn_redis(rc, warned);
		return;
	}
	keys = xmalloc(m * sizeof(keys[0]));
	idx = xmalloc(m * sizeof(idx[0]));
	out = xcalloc(m, sizeof(out[0]));
	for (m = 0, i = 0; i < n; i++) {
		if (!run->items[i].report) {
			keys[m] = run->items[i].key;
			idx[m++] = i;
		}
	}
	if (rcache_get(rc, keys, m, out) < 0)
		warn_redis(rc, warned);
	for (i = 0; i < m; i++) {
		struct item *it = &run->items[idx[i]];

		if (!out[i].data)
			continue;
		/* later runs trust the local store without asking Redis: only
		 * a value that proved its key may reach it */
		it->report = codec_decode(out[i].data, out[i].len, it->key, &it->why);
		if (!it->report) {
			it->corrupt = true;
			free(out[i].data);
			continue;
		}
		take_blob(it, out[i].data, out[i].len);
		it->from = FROM_REDIS;
		st->redis_hits++;
		if (run->store)
			local_put(run->store, it->key, it->blob, it->bloblen);
	}
	free(out);
	free(keys);
	free(idx);
}

static void
stage_redis_put(struct run *run, size_t n, struct rcache *rc, bool *warned)
{
	struct rcache_blob *vals;
	char **keys;
	size_t m = 0, i;

	if (!rc || rc->err)
		return;
	keys = xmalloc((n + 1) * sizeof(keys[0]));
	vals = xmalloc((n + 1) * sizeof(vals[0]));
	for (i = 0; i < n; i++) {
		struct item *it = &run->items[i];

		if (it->from != FROM_PARSE)
			continue;
		keys[m] = it->key;
		vals[m].data = (char *)it->blob;
		vals[m++].len = it->bloblen;
	}
	if (m && rcache_put(rc, keys, vals, m) < 0)
		warn_redis(rc, warned);
	free(keys);
	free(vals);
}

static void
write_index(struct run *run, const char *path, const char *fp, size_t n, size_t nold)
{
	struct idx_entry *e = xcalloc(n + 1, sizeof(e[0]));
	size_t m = 0, i;
	bool changed = n != nold;

	for (i = 0; i < n; i++) {
		struct item *it = &run->items[i];

		if (it->from != FROM_INDEX)
			changed = true;
		if (!it->stat_ok || it->from == FROM_ERROR || !it->blob)
			continue;
		e[m].path = it->path;
		idx_entry_from_stat(&e[m], &it->st);
		memcpy(e[m].hash, it->hash, sizeof(e[m].hash));
		e[m].blob = it->blob;
		e[m].bloblen = it->bloblen;
		m++;
	}
	if (changed && index_write(path, fp, e, m) < 0)
		warn("%s: cannot write the stat index:", path);
	free(e);
}

struct report **
cache_analyze(const char *root, char *const *paths, const struct stat *stats, size_t n,
              struct rules *rules, int jobs, const struct cache_opts *opts, struct cache_stats *st)
{
	struct run run = {root, NULL, NULL, rules, NULL, NULL, stats, NULL, false};
	size_t *weight, *order;
	struct report **out = xcalloc(n + 1, sizeof(out[0]));
	struct rcache *rc = NULL;
	char *tach_dir, *ixpath, fp[17];
	int dirfd;
	bool warned = false, wrote = false;
	size_t i, m;

	memset(st, 0, sizeof(*st));
	st->files = n;
	run.rules_fp = rules_fingerprint(rules);
	{
		char key[CACHE_KEY_LEN + 1];

		cache_key("00000000000000000000000000000000", run.rules_fp, key);
		memcpy(fp, key + 33, 16);
		fp[16] = '\0';
	}
	tach_dir = path_join(root, TACH_DIR);
	if ((dirfd = private_dir(tach_dir, true)) < 0) {
		warn("%s: %s (analysis goes on uncached)", tach_dir, private_dir_error(errno));
		ixpath = NULL;
	} else {
		close(dirfd);
		run.store = path_join(tach_dir, TACH_CACHE);
		ixpath = path_join(tach_dir, TACH_INDEX);
	}
	run.ix = index_load(ixpath ? ixpath : "/dev/null", fp);
	run.items = xcalloc(n + 1, sizeof(run.items[0]));
	for (i = 0; i < n; i++)
		run.items[i].path = paths[i];

	parallel_for(n, jobs, &run, NULL, stage_local, NULL);
	if (opts->url && *opts->url)
		stage_redis_get(&run, n, opts, &rc, st, &warned);
	/* parse what is left, largest first */
	weight = xcalloc(n + 1, sizeof(weight[0]));
	order = xcalloc(n + 1, sizeof(order[0]));
	for (m = 0, i = 0; i < n; i++) {
		weight[i] = run.items[i].len;
		if (!run.items[i].report)
			order[m++] = i;
	}
	if (m) {
		size_t *sub = xmalloc(m * sizeof(sub[0])), *w = xmalloc(m * sizeof(w[0]));

		for (i = 0; i < m; i++)
			w[i] = weight[order[i]];
		free(weight);
		weight = order_by_weight(w, m);
		for (i = 0; i < m; i++)
			sub[i] = order[weight[i]];
		free(w);
		memcpy(order, sub, m * sizeof(sub[0]));
		free(sub);
	}
	run.order = order;
	parallel_for(m, jobs, &run, parse_init, stage_parse, parse_fini);
	free(order);
	free(weight);
	stage_redis_put(&run, n, rc, &warned);

	for (i = 0; i < n; i++) {
		struct item *it = &run.items[i];

		if (it->corrupt) {
			st->corrupt++;
			warn("%s: cache entry %s was unusable (%s); recomputed", it->path, it->key, it->why);
		}
		st->index_hits += it->from == FROM_INDEX;
		st->local_hits += it->from == FROM_INDEX || it->from == FROM_LOCAL;
		st->parsed += it->from == FROM_PARSE;
		wrote |= it->from == FROM_PARSE || it->from == FROM_REDIS;
		st->bytes_read += it->len;
	}
	if (rc)
		st->redis_round_trips = rc->round_trips;
	{
		XXH3_state_t *h = XXH3_createState();
		XXH128_hash_t d;
		bool ok = h != NULL;

		if (ok) {
			XXH3_128bits_reset(h);
			XXH3_128bits_update(h, fp, 16);
			for (i = 0; i < n && ok; i++) {
				if (run.items[i].from == FROM_ERROR)
					ok = false;
				XXH3_128bits_update(h, run.items[i].path, strlen(run.items[i].path) + 1);
				XXH3_128bits_update(h, run.items[i].hash, 32);
			}
			d = XXH3_128bits_digest(h);
			XXH3_freeState(h);
		}
		if (ok)
			snprintf(st->digest, sizeof(st->digest), "%016llx%016llx",
			         (unsigned long long)d.high64, (unsigned long long)d.low64);
		else
			st->digest[0] = '\0';
	}
	if (run.store)
		write_index(&run, ixpath, fp, n, index_size(run.ix));
	if (run.store && wrote && opts->max_mb > 0)
		local_evict(run.store, (uint64_t)opts->max_mb << 20);

	for (i = 0; i < n; i++) {
		out[i] = run.items[i].report;
		free(run.items[i].src);
		free(run.items[i].owned);
	}
	rcache_free(rc);
	index_free(run.ix);
	free(run.items);
	free(run.store);
	free(ixpath);
	free(tach_dir);
	return out;
}
