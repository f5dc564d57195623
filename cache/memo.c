/* memo - the memo of `tach analyze`'s last output, ROOT/.tach/analyze.json
 * or analyze.txt (a file per format); see cache/cache.h.
 *
 * Format: a header line "TACHOUT1 KEY PARSE_ERRORS TOXIC DIRECT EDGES",
 * then the output's bytes (for JSON all but the statistics, which the
 * caller prints fresh after a replay). KEY covers every input of the
 * output: the analysis's digest (each file's path and content hash, the
 * rules) and what the caller adds (for tach analyze: the source roots,
 * whether src/ exists, the root as given and as resolved, the format), with
 * tach's version. A memo of another key, an older format or a foreign file
 * is a miss. Written atomically (write_file_atomic), so concurrent runs
 * read the old memo or the new one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "tach/statedir.h"
#include "lib/util.h"

#define MEMO_MAGIC "TACHOUT1"

void
memo_key(const char *version, const char *digest, const struct buf *inputs, char key[33])
{
	struct buf b = {0};

	key[0] = '\0';
	if (!digest[0])
		return;
	buf_printf(&b, "tach %s\n%s\n", version, digest);
	buf_add(&b, inputs->data, inputs->len);
	hash_content(b.data, b.len, key);
	buf_free(&b);
}

char *
memo_path(const char *root, bool json)
{
	return xasprintf("%s/%s", root, json ? TACH_PATH(TACH_ANALYZE_JSON) : TACH_PATH(TACH_ANALYZE_TXT));
}

int
memo_read(const char *path, const char *key, char **body, size_t *len, struct memo_counts *c)
{
	char *data, *nl, want[64];
	size_t n, skip;

	if (!key[0] || read_file(path, &data, &n) < 0)
		return 1;
	nl = memchr(data, '\n', n);
	snprintf(want, sizeof(want), MEMO_MAGIC " %s ", key);
	if (!nl || strncmp(data, want, strlen(want)) != 0 ||
	    sscanf(data + strlen(want), "%zu %zu %zu %zu", &c->parse_errors, &c->toxic, &c->direct,
	           &c->edges) != 4) {
		free(data);
		return 1;
	}
	/* the output to the front, so the caller owns one allocation */
	skip = (size_t)(nl + 1 - data);
	memmove(data, nl + 1, n - skip);
	data[n - skip] = '\0';
	*body = data;
	*len = n - skip;
	return 0;
}

int
memo_write(const char *path, const char *key, const struct memo_counts *c, const char *body, size_t len)
{
	struct buf b = {0};
	int rc;

	buf_printf(&b, MEMO_MAGIC " %s %zu %zu %zu %zu\n", key, c->parse_errors, c->toxic, c->direct,
	           c->edges);
	buf_add(&b, body, len);
	rc = write_file_atomic(path, b.data, b.len, 0644);
	buf_free(&b);
	return rc;
}
