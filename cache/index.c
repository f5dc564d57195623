/* index - see cache/index.h. Also the content hash and key functions. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "analyzer_version.h"   /* generated: a checksum of the analyzer's source */
#include "cache/index.h"
#include "cache/cache.h"
#include "lib/htab.h"
#include "lib/util.h"

struct index {
	char *data;             /* the file; entries point into it */
	struct idx_entry *e;
	size_t n;
	struct htab *bypath;
};

void
hash_content(const void *data, size_t len, char hex[33])
{
	XXH128_hash_t h = XXH3_128bits(data, len);

	snprintf(hex, 33, "%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
}

void
cache_key(const char content_hex[33], const char *rules_fingerprint, char key[CACHE_KEY_LEN + 1])
{
	char *s = xasprintf("analyzer%d;%s;%s", TACH_ANALYZER_VERSION, TACH_ANALYZER_SOURCE,
	                    rules_fingerprint);

	snprintf(key, CACHE_KEY_LEN + 1, "%.32s-%016llx", content_hex,
	         (unsigned long long)XXH3_64bits(s, strlen(s)));
	free(s);
}

void
idx_entry_from_stat(struct idx_entry *e, const struct stat *st)
{
	e->size = (uint64_t)st->st_size;
	e->mtime = (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
	e->ctime = (uint64_t)st->st_ctim.tv_sec * 1000000000u + (uint64_t)st->st_ctim.tv_nsec;
	e->ino = (uint64_t)st->st_ino;
}

static uint64_t
le(const char *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)(unsigned char)p[i] << (8 * i);
	return v;
}

static void
put(struct buf *b, uint64_t v, int n)
{
	char tmp[8];
	int i;

	for (i = 0; i < n; i++)
		tmp[i] = (char)(v >> (8 * i));
	buf_add(b, tmp, n);
}

struct index *
index_load(const char *path, const char *fp)
{
	struct index *ix = xcalloc(1, sizeof(*ix));
	const char *p, *end;
	size_t len, i, count;
	bool same_fp;

	ix->bypath = htab_new();
	if (read_file(path, &ix->data, &len) < 0)
		return ix;
	if (len >= 8 && memcmp(ix->data, "TACHIDX", 7) == 0 && ix->data[7] != '2') {
		/* written by another version of tach: not corrupt, just not ours */
		free(ix->data);
		ix->data = NULL;
		return ix;
	}
	if (len < 8 + 16 + 4 + 8 || memcmp(ix->data, "TACHIDX2", 8) != 0 ||
	    le(ix->data + len - 8, 8) != XXH3_64bits(ix->data, len - 8))
		goto corrupt;
	same_fp = memcmp(ix->data + 8, fp, 16) == 0;
	count = le(ix->data + 24, 4);
	p = ix->data + 28;
	end = ix->data + len - 8;
	if (count > len / 73)
		goto corrupt;
	ix->e = xcalloc(count, sizeof(ix->e[0]));
	for (i = 0; i < count; i++) {
		struct idx_entry *e = &ix->e[i];
		size_t n;

		if (end - p < 4)
			goto corrupt;
		n = le(p, 4);
		/* the path is NUL-terminated in place: overwrite the next field's
		 * first byte only after reading it */
		if ((size_t)(end - p) < 4 + n + 32 + 32 + 1 + 4)
			goto corrupt;
		e->path = p + 4;
		p += 4 + n;
		e->size = le(p, 8);
		e->mtime = le(p + 8, 8);
		e->ctime = le(p + 16, 8);
		e->ino = le(p + 24, 8);
		memcpy(e->hash, p + 32, 32);
		e->hash[32] = '\0';
		((char *)e->path)[n] = '\0';   /* the size's first byte, already read */
		p += 64;
		e->racy = *p++ & 1;
		n = le(p, 4);
		p += 4;
		if ((size_t)(end - p) < n)
			goto corrupt;
		if (same_fp && n) {
			e->blob = p;
			e->bloblen = n;
		}
		p += n;
		ix->n++;
	}
	for (i = 0; i < ix->n; i++)
		*htab_slot(ix->bypath, ix->e[i].path) = &ix->e[i];
	return ix;
corrupt:
	warn("%s: corrupt stat index ignored", path);
	free(ix->e);
	free(ix->data);
	ix->e = NULL;
	ix->data = NULL;
	ix->n = 0;
	return ix;
}

void
index_free(struct index *ix)
{
	if (!ix)
		return;
	htab_free(ix->bypath);
	free(ix->e);
	free(ix->data);
	free(ix);
}

size_t
index_size(const struct index *ix)
{
	return ix->n;
}

const struct idx_entry *
index_lookup(const struct index *ix, const char *path, const struct stat *st)
{
	const struct idx_entry *e = htab_get(ix->bypath, path);
	struct idx_entry now;

	if (!e)
		return NULL;
	idx_entry_from_stat(&now, st);
	if (e->size != now.size || e->mtime != now.mtime || e->ctime != now.ctime || e->ino != now.ino)
		return NULL;
	return e;
}

int
index_write(const char *path, const char *fp, const struct idx_entry *e, size_t n)
{
	struct buf b = {0};
	struct timespec ts;
	uint64_t now;
	size_t i;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	buf_add(&b, "TACHIDX2", 8);
	buf_add(&b, fp, 16);
	put(&b, n, 4);
	for (i = 0; i < n; i++) {
		size_t plen = strlen(e[i].path);

		put(&b, plen, 4);
		buf_add(&b, e[i].path, plen);
		put(&b, e[i].size, 8);
		put(&b, e[i].mtime, 8);
		put(&b, e[i].ctime, 8);
		put(&b, e[i].ino, 8);
		buf_add(&b, e[i].hash, 32);
		buf_putc(&b, e[i].mtime + RACY_NS > now || e[i].ctime + RACY_NS > now ? 1 : 0);
		put(&b, e[i].blob ? e[i].bloblen : 0, 4);
		if (e[i].blob && e[i].bloblen)
			buf_add(&b, e[i].blob, e[i].bloblen);
	}
	put(&b, XXH3_64bits(b.data, b.len), 8);
	r = write_file_atomic(path, b.data, b.len, 0644);
	buf_free(&b);
	return r;
}
