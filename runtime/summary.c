/* summary - the result files of a run gathered into results.json, junit.xml
 * and a summary line; the formats are documented in runtime/summary.h.
 * cJSON reads the result files; lib/json.c writes results.json, and
 * junit.xml has an escaper of its own; each report goes straight into one
 * buffer. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "runtime/summary.h"
#include "lib/htab.h"
#include "lib/json.h"
#include "lib/utf8.h"
#include "lib/util.h"

void
summary_init(struct summary *s)
{
	memset(s, 0, sizeof(*s));
}

void
summary_free(struct summary *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		result_case_free(&s->cases[i]);
	free(s->cases);
	for (i = 0; i < s->nnotcollected; i++)
		free(s->notcollected[i]);
	free(s->notcollected);
	memset(s, 0, sizeof(*s));
}

static struct result_case *
add_case(struct summary *s)
{
	struct result_case *c;

	s->cases = xgrow(s->cases, &s->cap, s->n + 1, sizeof(*s->cases));
	c = &s->cases[s->n++];
	memset(c, 0, sizeof(*c));
	return c;
}

void
summary_add_missing(struct summary *s, const char *shown, const char *nodeid, const char *why)
{
	struct result_case *c = add_case(s);

	c->nodeid = xstrdup(nodeid ? nodeid : shown);
	c->outcome = xstrdup("error");
	c->message = xconcat("no result: ", why, " (", shown, ")", (char *)NULL);
	c->out = xstrdup("");
	c->err = xstrdup("");
	s->missing++;
}

/* A copy of obj[key] when it is a string, else of def (NULL stays NULL). */
static char *
str_field(const cJSON *obj, const char *key, const char *def)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));

	if (!v)
		v = def;
	return v ? xstrdup(v) : NULL;
}

int
summary_add_text(struct summary *s, const char *text, size_t len, const char *shown,
    const char *nodeid)
{
	cJSON *root, *tests, *t, *des, *notc;
	const char *id, *outcome;
	char why[64];
	size_t i = 0;
	int ret = 0;

	/* len + 1: cJSON wants the terminating NUL inside the buffer to see
	 * that nothing follows the value */
	root = memchr(text, 0, len) ? NULL : cJSON_ParseWithLengthOpts(text, len + 1, NULL, 1);
	if (!root) {
		summary_add_missing(s, shown, nodeid, "not valid JSON");
		return -1;
	}
	tests = cJSON_GetObjectItemCaseSensitive(root, "tests");
	if (!cJSON_IsArray(tests)) {
		summary_add_missing(s, shown, nodeid, "no \"tests\" array");
		ret = -1;
		goto out;
	}
	des = cJSON_GetObjectItemCaseSensitive(root, "deselected");
	notc = cJSON_GetObjectItemCaseSensitive(root, "notcollected");
	if (!cJSON_GetArraySize(tests) && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "complete"))
	    && !cJSON_GetArraySize(des) && !cJSON_GetArraySize(notc)) {
		summary_add_missing(s, shown, nodeid, "no test case");
		ret = -1;
		goto out;
	}
	s->deselected += (size_t)cJSON_GetArraySize(des);
	cJSON_ArrayForEach(t, notc) {
		if (!cJSON_IsString(t))
			continue;
		s->notcollected = xgrow(s->notcollected, &s->capnotcollected, s->nnotcollected + 1,
		    sizeof(*s->notcollected));
		s->notcollected[s->nnotcollected++] = xstrdup(t->valuestring);
	}
	cJSON_ArrayForEach(t, tests) {
		struct result_case *c;
		const cJSON *dur;

		i++;
		id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "nodeid"));
		outcome = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "outcome"));
		if (!cJSON_IsObject(t) || !id || !*id || !outcome || !*outcome) {
			snprintf(why, sizeof(why), "malformed case %zu", i);
			summary_add_missing(s, shown, id && *id ? id : nodeid, why);
			ret = -1;
			continue;
		}
		c = add_case(s);
		c->nodeid = xstrdup(id);
		c->outcome = xstrdup(outcome);
		c->mode = str_field(t, "mode", NULL);
		dur = cJSON_GetObjectItemCaseSensitive(t, "duration");
		c->duration = cJSON_IsNumber(dur) && isfinite(dur->valuedouble) ? dur->valuedouble : 0;
		c->message = str_field(t, "message", "");
		c->out = str_field(t, "stdout", "");
		c->err = str_field(t, "stderr", "");
		c->signal = str_field(t, "signal", NULL);
	}
out:
	cJSON_Delete(root);
	return ret;
}

int
summary_add_file(struct summary *s, const char *path, const char *shown, const char *nodeid)
{
	char *data;
	size_t len;
	int ret;

	if (read_file(path, &data, &len) < 0) {
		summary_add_missing(s, shown, nodeid, strerror(errno));
		return -1;
	}
	ret = summary_add_text(s, data, len, shown, nodeid);
	free(data);
	return ret;
}

enum summary_kind
summary_kind(const char *outcome)
{
	if (strcmp(outcome, "passed") == 0)
		return SUMMARY_PASSED;
	if (strcmp(outcome, "skipped") == 0 || strcmp(outcome, "xfailed") == 0)
		return SUMMARY_SKIPPED;
	if (strcmp(outcome, "failed") == 0)
		return SUMMARY_FAILURE;
	return SUMMARY_ERROR;
}

static void
count_case(struct summary_counts *c, const struct result_case *k)
{
	c->tests++;
	c->time += k->duration;
	switch (summary_kind(k->outcome)) {
	case SUMMARY_PASSED: c->passed++; break;
	case SUMMARY_SKIPPED: c->skipped++; break;
	case SUMMARY_FAILURE: c->failed++; c->failures++; break;
	case SUMMARY_ERROR: c->failed++; c->errors++; break;
	}
}

void
summary_count(const struct summary *s, struct summary_counts *c)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < s->n; i++)
		count_case(c, &s->cases[i]);
}

/* Appends the dotted module path of the file path s[0..n). */
static void
module_path(struct buf *b, const char *s, size_t n)
{
	size_t i, start = b->len;

	if (n >= 3 && memcmp(s + n - 3, ".py", 3) == 0)
		n -= 3;
	buf_add(b, s, n);
	for (i = start; i < b->len; i++)
		if (b->data[i] == '/')
			b->data[i] = '.';
}

void
summary_names(const char *nodeid, char **file, char **classname, char **name)
{
	const char *sep = strstr(nodeid, "::"), *end, *last, *p;
	struct buf b = {0};

	if (!sep) {
		*file = xstrdup(nodeid);
		module_path(&b, nodeid, strlen(nodeid));
		*classname = buf_take(&b);
		*name = xstrdup(nodeid);
		return;
	}
	*file = xstrndup(nodeid, (size_t)(sep - nodeid));
	module_path(&b, nodeid, (size_t)(sep - nodeid));
	/* parameters may hold "::": only the part before them splits */
	end = strchr(sep, '[');
	if (!end)
		end = sep + strlen(sep);
	last = sep;
	for (p = sep + 2; p + 1 < end; p++) {
		if (p[0] == ':' && p[1] == ':') {
			last = p;
			p++;
		}
	}
	for (p = sep; p < last; p++) {
		if (p[0] == ':' && p[1] == ':') {
			buf_putc(&b, '.');
			p++;
		} else {
			buf_putc(&b, *p);
		}
	}
	*classname = buf_take(&b);
	*name = xstrdup(last + 2);
}

/* XML's escapes; ctx points to whether the text is an attribute value. */
static const char *
xml_rep(unsigned cp, char *tmp, void *ctx)
{
	bool attr = *(const bool *)ctx;

	(void)tmp;
	switch (cp) {
	case '&': return "&amp;";
	case '<': return "&lt;";
	case '>': return "&gt;";
	case '"': return "&quot;";
	case '\'': return "&apos;";
	/* a parser turns a raw CR into a newline, and in an attribute tab and
	 * newline into spaces */
	case '\r': return "&#13;";
	case '\t': return attr ? "&#9;" : NULL;
	case '\n': return attr ? "&#10;" : NULL;
	default:
		/* characters XML 1.0 does not allow */
		return cp < 0x20 || cp == 0xfffe || cp == 0xffff ? "" : NULL;
	}
}

void
summary_xml_escape(struct buf *b, const char *s, bool attr)
{
	utf8_escape(b, s, strlen(s), xml_rep, &attr);
}

char *
summary_json(const struct summary *s)
{
	struct buf b = {0};
	struct json w;
	size_t i;

	json_init(&w, &b, false);
	json_object(&w);
	json_key(&w, "tests");
	json_array(&w);
	for (i = 0; i < s->n; i++) {
		json_pad(&w, "\n");		/* one case a line */
		result_case_json(&w, &s->cases[i], NULL);
	}
	if (s->n)
		json_pad(&w, "\n");
	json_end(&w);
	json_key(&w, "deselected");
	json_uint(&w, s->deselected);
	json_key(&w, "notcollected");
	json_array(&w);
	for (i = 0; i < s->nnotcollected; i++)
		json_string(&w, s->notcollected[i]);
	json_end(&w);
	json_end(&w);
	buf_putc(&b, '\n');
	return buf_take(&b);
}

static void
xml_attr(struct buf *b, const char *name, const char *val)
{
	buf_putc(b, ' ');
	buf_puts(b, name);
	buf_puts(b, "=\"");
	summary_xml_escape(b, val, true);
	buf_putc(b, '"');
}

static void
xml_time(struct buf *b, double t)
{
	buf_printf(b, " time=\"%.3f\"", isfinite(t) ? t : 0.0);
}

static void
xml_counts(struct buf *b, const struct summary_counts *c)
{
	buf_printf(b, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\"",
	    c->tests, c->failures, c->errors, c->skipped);
	xml_time(b, c->time);
}

/* <tag message="first line" type="outcome">message</tag>, the body left
 * out when it would say no more than the attribute. */
static void
xml_outcome(struct buf *b, const char *tag, const struct result_case *c)
{
	size_t n = strcspn(c->message, "\n");
	char *first = xstrndup(c->message, n);

	/* a crash's message names its signal */
	if (c->signal && !strstr(first, c->signal)) {
		char *with = xconcat(c->signal, *first ? ": " : "", first, (char *)NULL);

		free(first);
		first = with;
	}
	buf_printf(b, "      <%s", tag);
	xml_attr(b, "message", first);
	xml_attr(b, "type", c->outcome);
	if (strcmp(first, c->message) == 0) {
		buf_puts(b, "/>\n");
	} else {
		buf_putc(b, '>');
		summary_xml_escape(b, c->message, false);
		buf_printf(b, "</%s>\n", tag);
	}
	free(first);
}

static void
xml_case(struct buf *b, const struct result_case *c)
{
	char *file, *classname, *name;

	summary_names(c->nodeid, &file, &classname, &name);
	buf_puts(b, "    <testcase");
	xml_attr(b, "classname", classname);
	xml_attr(b, "name", name);
	xml_attr(b, "file", file);
	xml_time(b, c->duration);
	free(file);
	free(classname);
	free(name);
	/* as pytest's junit: a passing test's output is not kept */
	if (summary_kind(c->outcome) == SUMMARY_PASSED) {
		buf_puts(b, "/>\n");
		return;
	}
	buf_puts(b, ">\n");
	switch (summary_kind(c->outcome)) {
	case SUMMARY_PASSED: break;
	case SUMMARY_SKIPPED: xml_outcome(b, "skipped", c); break;
	case SUMMARY_FAILURE: xml_outcome(b, "failure", c); break;
	case SUMMARY_ERROR: xml_outcome(b, "error", c); break;
	}
	if (*c->out) {
		buf_puts(b, "      <system-out>");
		summary_xml_escape(b, c->out, false);
		buf_puts(b, "</system-out>\n");
	}
	if (*c->err) {
		buf_puts(b, "      <system-err>");
		summary_xml_escape(b, c->err, false);
		buf_puts(b, "</system-err>\n");
	}
	buf_puts(b, "    </testcase>\n");
}

/* The cases of one test file, in input order. */
struct suite {
	char *file;
	size_t *cases;
	size_t n, cap;
	struct summary_counts counts;
};

char *
summary_junit(const struct summary *s)
{
	struct buf b = {0};
	struct summary_counts all;
	struct suite *suites = NULL, *st;
	struct htab *byfile = htab_new();
	size_t nsuites = 0, capsuites = 0, i, j;
	void **slot;
	char *file;

	/* group by file; a slot holds the suite's index + 1, its key is the
	 * suite's file */
	for (i = 0; i < s->n; i++) {
		const char *id = s->cases[i].nodeid, *sep = strstr(id, "::");

		file = sep ? xstrndup(id, (size_t)(sep - id)) : xstrdup(id);
		slot = htab_slot(byfile, file);
		if (!*slot) {
			suites = xgrow(suites, &capsuites, nsuites + 1, sizeof(*suites));
			memset(&suites[nsuites], 0, sizeof(*suites));
			suites[nsuites].file = file;
			*slot = (void *)(uintptr_t)(nsuites + 1);
			nsuites++;
		} else {
			free(file);
		}
		st = &suites[(size_t)(uintptr_t)*slot - 1];
		st->cases = xgrow(st->cases, &st->cap, st->n + 1, sizeof(*st->cases));
		st->cases[st->n++] = i;
		count_case(&st->counts, &s->cases[i]);
	}

	summary_count(s, &all);
	buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"tach\"");
	xml_counts(&b, &all);
	buf_puts(&b, ">\n");
	for (i = 0; i < nsuites; i++) {
		st = &suites[i];
		buf_puts(&b, "  <testsuite");
		xml_attr(&b, "name", st->file);
		xml_counts(&b, &st->counts);
		buf_puts(&b, ">\n");
		for (j = 0; j < st->n; j++)
			xml_case(&b, &s->cases[st->cases[j]]);
		buf_puts(&b, "  </testsuite>\n");
	}
	buf_puts(&b, "</testsuites>\n");

	htab_free(byfile);
	for (i = 0; i < nsuites; i++) {
		free(suites[i].file);
		free(suites[i].cases);
	}
	free(suites);
	return buf_take(&b);
}

void
summary_print(const struct summary *s, FILE *f)
{
	struct summary_counts c;
	size_t i;

	for (i = 0; i < s->n; i++) {
		const struct result_case *k = &s->cases[i];
		enum summary_kind kind = summary_kind(k->outcome);

		if (kind != SUMMARY_FAILURE && kind != SUMMARY_ERROR)
			continue;
		fprintf(f, "FAILED %s (%s%s%s)\n", k->nodeid, k->outcome, k->signal ? ", " : "",
		    k->signal ? k->signal : "");
	}
	if (s->nnotcollected) {
		fprintf(f, "tach: warning: pytest does not collect %zu test%s that tach gen planned "
		    "(behind a platform check, or ignored by the configuration):", s->nnotcollected,
		    s->nnotcollected == 1 ? "" : "s");
		for (i = 0; i < s->nnotcollected && i < 5; i++)
			fprintf(f, "%s %s", i ? "," : "", s->notcollected[i]);
		fprintf(f, "%s\n", s->nnotcollected > 5 ? ", ..." : "");
	}
	summary_count(s, &c);
	fprintf(f, "%zu passed, %zu failed, %zu skipped", c.passed, c.failed, c.skipped);
	if (s->deselected)
		fprintf(f, ", %zu deselected", s->deselected);
	fputc('\n', f);
}

/* Undoes POSIX shell single quoting in place ('a b', 'it'\''s', and bare
 * characters between quoted parts). Returns false, leaving s as it was,
 * when s is not well formed. */
static bool
shell_unquote(char *s)
{
	char *r, *w;
	bool quoted = false;

	/* first a dry run, so a malformed s stays untouched */
	for (r = s; *r; r++) {
		if (*r == '\'')
			quoted = !quoted;
		else if (!quoted && *r == '\\' && !*++r)
			return false;
	}
	if (quoted)
		return false;
	for (r = w = s; *r; r++) {
		if (*r == '\'') {
			quoted = !quoted;
			continue;
		}
		if (!quoted && *r == '\\')
			r++;
		*w++ = *r;
	}
	*w = 0;
	return true;
}

bool
summary_list_line(char *line, char **path, char **nodeid)
{
	size_t n = strlen(line);
	char *tab;

	if (n > 0 && line[n - 1] == '\r')
		line[--n] = 0;
	*nodeid = NULL;
	/* the path is tach's own (no tab); a node id may hold one */
	tab = strchr(line, '\t');
	if (tab) {
		*tab = 0;
		*nodeid = *(tab + 1) ? tab + 1 : NULL;
	}
	if (line[0] == '\'')
		shell_unquote(line);
	*path = line;
	return *line || *nodeid;
}
