/* htab - see lib/htab.h. Open addressing with linear probing, kept at
 * most three quarters full; keys hashed with XXH3 (the hash the cache keys
 * use too). */
#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL   /* header-only: no binary needs -lxxhash for a table */
#include <xxhash.h>

#include "lib/htab.h"
#include "lib/util.h"

uint64_t
hash_str(const char *s, size_t n)
{
	return XXH3_64bits(s, n);
}

struct hentry {
	const char *key;
	uint64_t hash;
	void *val;
};

struct htab {
	struct hentry *e;
	size_t cap, n;
};

struct htab *
htab_new(void)
{
	struct htab *h = xcalloc(1, sizeof(*h));

	h->cap = 64;
	h->e = xcalloc(h->cap, sizeof(h->e[0]));
	return h;
}

void
htab_free(struct htab *h)
{
	if (!h)
		return;
	free(h->e);
	free(h);
}

void
htab_clear(struct htab *h)
{
	/* a table much larger than its last use starts small again, so
	 * that emptying it costs about what filling it did */
	if (h->cap > 1024 && h->cap > 8 * h->n) {
		free(h->e);
		h->cap = 64;
		h->e = xcalloc(h->cap, sizeof(h->e[0]));
	} else {
		memset(h->e, 0, h->cap * sizeof(h->e[0]));
	}
	h->n = 0;
}

static struct hentry *
htab_find(struct hentry *e, size_t cap, const char *key, uint64_t hash)
{
	size_t i = hash & (cap - 1);

	while (e[i].key && (e[i].hash != hash || strcmp(e[i].key, key) != 0))
		i = (i + 1) & (cap - 1);
	return &e[i];
}

void **
htab_slot(struct htab *h, const char *key)
{
	uint64_t hash = hash_str(key, strlen(key));
	struct hentry *slot;

	if ((h->n + 1) * 4 > h->cap * 3) {
		size_t cap = h->cap * 2, i;
		struct hentry *e = xcalloc(cap, sizeof(e[0]));

		for (i = 0; i < h->cap; i++)
			if (h->e[i].key)
				*htab_find(e, cap, h->e[i].key, h->e[i].hash) = h->e[i];
		free(h->e);
		h->e = e;
		h->cap = cap;
	}
	slot = htab_find(h->e, h->cap, key, hash);
	if (!slot->key) {
		slot->key = key;
		slot->hash = hash;
		slot->val = NULL;
		h->n++;
	}
	return &slot->val;
}

void *
htab_get(const struct htab *h, const char *key)
{
	struct hentry *slot = htab_find(h->e, h->cap, key, hash_str(key, strlen(key)));

	return slot->key ? slot->val : NULL;
}

size_t
htab_count(const struct htab *h)
{
	return h->n;
}
