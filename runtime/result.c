/* result - the per-test result file; the format is documented in
 * include/tach/result.h. lib/json.c writes the text and cJSON reads it; the
 * file is written to a temporary name beside the target and renamed over
 * it. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "tach/result.h"
#include "lib/json.h"
#include "lib/utf8.h"
#include "lib/util.h"

void
result_init(struct result *r, const char *mode)
{
	memset(r, 0, sizeof(*r));
	r->mode = mode;
}

void
result_free(struct result *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		result_case_free(&r->cases[i]);
	free(r->cases);
	r->cases = NULL;
	r->n = r->cap = 0;
	for (i = 0; i < r->ndeselected; i++)
		free(r->deselected[i]);
	for (i = 0; i < r->nnotcollected; i++)
		free(r->notcollected[i]);
	free(r->deselected);
	free(r->notcollected);
	r->deselected = r->notcollected = NULL;
	r->ndeselected = r->capdeselected = r->nnotcollected = r->capnotcollected = 0;
}

void
result_case_free(struct result_case *c)
{
	free(c->nodeid);
	free(c->outcome);
	free(c->mode);
	free(c->message);
	free(c->out);
	free(c->err);
	free(c->signal);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0; a NUL
 * byte counts as invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned cp;

	return s[0] ? utf8_decode(s, n, &cp) : 0;
}

char *
result_utf8(const char *s, size_t n)
{
	struct buf b = {0};
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, start = 0, len;

	while (i < n) {
		len = utf8_seq(p + i, n - i);
		if (len) {
			i += len;
			continue;
		}
		buf_add(&b, s + start, i - start);
		buf_puts(&b, UTF8_REPLACEMENT);
		start = ++i;
	}
	buf_add(&b, s + start, i - start);
	if (!b.data)
		return xstrdup("");
	return buf_take(&b);
}

static char *
copy(const char *s)
{
	return s ? result_utf8(s, strlen(s)) : xstrdup("");
}

void
result_add(struct result *r, const char *nodeid, const char *outcome, double duration,
    const char *message, const char *out, const char *err, const char *signal)
{
	struct result_case *c;

	r->cases = xgrow(r->cases, &r->cap, r->n + 1, sizeof(*r->cases));
	c = &r->cases[r->n++];
	c->nodeid = copy(nodeid);
	c->outcome = copy(outcome);
	c->mode = NULL;
	c->duration = duration;
	c->message = copy(message);
	c->out = copy(out);
	c->err = copy(err);
	c->signal = signal ? copy(signal) : NULL;
}

static void
add_id(char ***v, size_t *n, size_t *cap, const char *nodeid)
{
	*v = xgrow(*v, cap, *n + 1, sizeof(**v));
	(*v)[(*n)++] = copy(nodeid);
}

void
result_deselected(struct result *r, const char *nodeid)
{
	add_id(&r->deselected, &r->ndeselected, &r->capdeselected, nodeid);
}

void
result_notcollected(struct result *r, const char *nodeid)
{
	add_id(&r->notcollected, &r->nnotcollected, &r->capnotcollected, nodeid);
}

static const char *
field(const cJSON *obj, const char *key)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));

	return v ? v : "";
}

int
result_read(struct result *r, const char *path)
{
	char *data;
	size_t len;
	cJSON *root, *t, *dur, *sig;

	if (read_file(path, &data, &len) < 0)
		return -1;
	root = cJSON_ParseWithLength(data, len);
	free(data);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -1;
	}
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(root, "tests")) {
		dur = cJSON_GetObjectItemCaseSensitive(t, "duration");
		sig = cJSON_GetObjectItemCaseSensitive(t, "signal");
		result_add(r, field(t, "nodeid"), field(t, "outcome"), cJSON_IsNumber(dur) ? dur->valuedouble : 0,
		    field(t, "message"), field(t, "stdout"), field(t, "stderr"),
		    cJSON_IsString(sig) ? sig->valuestring : NULL);
	}
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(root, "deselected"))
		if (cJSON_IsString(t))
			result_deselected(r, t->valuestring);
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(root, "notcollected"))
		if (cJSON_IsString(t))
			result_notcollected(r, t->valuestring);
	cJSON_Delete(root);
	return 0;
}

bool
result_outcome_ok(const char *outcome)
{
	return strcmp(outcome, "passed") == 0 || strcmp(outcome, "skipped") == 0 ||
	    strcmp(outcome, "xfailed") == 0;
}

bool
result_ok(const struct result *r)
{
	size_t i;

	if (r->n == 0)
		return r->complete;
	for (i = 0; i < r->n; i++)
		if (!result_outcome_ok(r->cases[i].outcome))
			return false;
	return true;
}

/* key: [ids], unless there are none. */
static void
add_ids(struct json *w, const char *key, char **ids, size_t n)
{
	size_t i;

	if (n == 0)
		return;
	json_key(w, key);
	json_array(w);
	for (i = 0; i < n; i++)
		json_string(w, ids[i]);
	json_end(w);
}

void
result_case_json(struct json *w, const struct result_case *c, const char *mode)
{
	json_object(w);
	json_key(w, "nodeid");
	json_string(w, c->nodeid);
	json_key(w, "outcome");
	json_string(w, c->outcome);
	json_key(w, "mode");
	json_string(w, c->mode ? c->mode : mode);
	json_key(w, "duration");
	json_double(w, isfinite(c->duration) ? c->duration : 0);
	json_key(w, "message");
	json_string(w, c->message);
	json_key(w, "stdout");
	json_string(w, c->out);
	json_key(w, "stderr");
	json_string(w, c->err);
	json_key(w, "signal");
	json_string(w, c->signal);
	json_end(w);
}

char *
result_json(const struct result *r)
{
	struct buf b = {0};
	struct json w;
	size_t i;

	json_init(&w, &b, true);
	json_object(&w);
	json_key(&w, "tests");
	json_array(&w);
	for (i = 0; i < r->n; i++) {
		result_case_json(&w, &r->cases[i], r->mode);
	}
	json_end(&w);
	if (r->n == 0 && r->complete) {
		json_key(&w, "complete");
		json_bool(&w, true);
	}
	add_ids(&w, "deselected", r->deselected, r->ndeselected);
	add_ids(&w, "notcollected", r->notcollected, r->nnotcollected);
	json_end(&w);
	return buf_take(&b);
}

static int
write_all(int fd, const char *s, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, s, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int
result_write(const struct result *r, const char *path)
{
	char *text;
	size_t n;
	int fd, ret;

	/* in place, not a new file renamed over it: a test run again reuses
	 * its file (a new inode a test costs, on a file system that will not
	 * reuse one freed recently, a search past every one freed). The
	 * summary reads results once every test is over; a file cut short
	 * (tach-run killed while writing) is no JSON and says so there, and
	 * its test, stamp not left, runs again. */
	text = result_json(r);
	n = strlen(text);
	text[n++] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0 && errno == ENOENT) {
		make_parents(path);
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	}
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	ret = write_all(fd, text, n);
	if (ret == 0 && ftruncate(fd, (off_t)n) < 0)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
out:
	free(text);
	return ret;
}
