/* result - the per-test result file; the format is documented in
 * include/tach/result.h. cJSON builds the text; the file is written to a
 * temporary name beside the target and renamed over it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "tach/result.h"
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

	for (i = 0; i < r->n; i++) {
		struct result_case *c = &r->cases[i];

		free(c->nodeid);
		free(c->outcome);
		free(c->message);
		free(c->out);
		free(c->err);
		free(c->signal);
	}
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
		buf_puts(&b, "\xef\xbf\xbd");
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

/* Adds key: [ids] to obj unless there are none. Returns false when out of
 * memory. */
static bool
add_ids(cJSON *obj, const char *key, char **ids, size_t n)
{
	cJSON *a;
	size_t i;

	if (n == 0)
		return true;
	a = cJSON_AddArrayToObject(obj, key);
	if (!a)
		return false;
	for (i = 0; i < n; i++) {
		cJSON *s = cJSON_CreateString(ids[i]);

		if (!s)
			return false;
		cJSON_AddItemToArray(a, s);
	}
	return true;
}

char *
result_json(const struct result *r)
{
	cJSON *root, *tests, *t;
	char *text = NULL;
	size_t i;

	root = cJSON_CreateObject();
	if (!root)
		return NULL;
	tests = cJSON_AddArrayToObject(root, "tests");
	if (!tests)
		goto out;
	for (i = 0; i < r->n; i++) {
		const struct result_case *c = &r->cases[i];

		t = cJSON_CreateObject();
		if (!t)
			goto out;
		cJSON_AddItemToArray(tests, t);
		if (!cJSON_AddStringToObject(t, "nodeid", c->nodeid) ||
		    !cJSON_AddStringToObject(t, "outcome", c->outcome) ||
		    !cJSON_AddStringToObject(t, "mode", r->mode) ||
		    !cJSON_AddNumberToObject(t, "duration", c->duration) ||
		    !cJSON_AddStringToObject(t, "message", c->message) ||
		    !cJSON_AddStringToObject(t, "stdout", c->out) ||
		    !cJSON_AddStringToObject(t, "stderr", c->err) ||
		    !(c->signal ? cJSON_AddStringToObject(t, "signal", c->signal)
				: cJSON_AddNullToObject(t, "signal")))
			goto out;
	}
	if (r->n == 0 && r->complete && !cJSON_AddTrueToObject(root, "complete"))
		goto out;
	if (!add_ids(root, "deselected", r->deselected, r->ndeselected) ||
	    !add_ids(root, "notcollected", r->notcollected, r->nnotcollected))
		goto out;
	text = cJSON_PrintUnformatted(root);
out:
	cJSON_Delete(root);
	return text;
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
	char *text, *tmp;
	int fd, ret;

	text = result_json(r);
	if (!text)
		return -ENOMEM;
	tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0 && errno == ENOENT) {
		make_parents(path);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	}
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	ret = write_all(fd, text, strlen(text));
	if (ret == 0)
		ret = write_all(fd, "\n", 1);
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -errno;
	if (ret < 0)
		unlink(tmp);
out:
	free(tmp);
	cJSON_free(text);
	return ret;
}
