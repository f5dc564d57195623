/* output - see gen/output.h. JSON is streamed as it is written, a module
 * at a time through lib/json.c: a document tree for 10,000 modules would
 * cost more than the analysis. */
#include <stdlib.h>
#include <string.h>

#include "gen/output.h"
#include "lib/json.h"
#include "lib/util.h"

static char *
dep_reason(const struct dep *d)
{
	char line[16];

	if (d->parent)
		return xconcat("Inside toxic package '", d->to->name, "' (", d->to->path, ")", NULL);
	snprintf(line, sizeof(line), "%d", d->line);
	return xconcat("Imports toxic module '", d->to->name, "' (line ", line, ")", NULL);
}

char **
module_reasons(const struct module *m, size_t *n)
{
	char **v = NULL;
	size_t cap = 0, i;
	const struct dep *first = NULL;

	*n = 0;
	for (i = 0; m->report && i < m->report->ncauses; i++) {
		if (m->report->causes[i].why != WHY_COUNTS)
			continue;	/* recorded, but no reason: explain says why */
		v = xgrow(v, &cap, *n + 1, sizeof(v[0]));
		v[(*n)++] = xstrdup(m->report->causes[i].reason);
	}
	if (!m->toxic)
		return v;
	/* the dependency that carried toxicity in comes first */
	for (i = 0; i < m->ndeps; i++) {
		if (m->deps[i].to == m->via) {
			first = &m->deps[i];
			v = xgrow(v, &cap, *n + 1, sizeof(v[0]));
			v[(*n)++] = dep_reason(first);
		}
	}
	for (i = 0; i < m->ndeps; i++) {
		if (&m->deps[i] == first || !m->deps[i].to->toxic)
			continue;
		v = xgrow(v, &cap, *n + 1, sizeof(v[0]));
		v[(*n)++] = dep_reason(&m->deps[i]);
	}
	return v;
}

static void
free_reasons(char **v, size_t n)
{
	while (n--)
		free(v[n]);
	free(v);
}

/* Writes out what b holds and empties it. */
static void
flush(FILE *f, struct buf *b)
{
	fwrite(b->data, 1, b->len, f);
	b->len = 0;
}

static void
json_strs(struct json *w, char *const *v, size_t n)
{
	size_t i;

	json_array(w);
	for (i = 0; i < n; i++)
		json_string(w, v[i]);
	json_end(w);
}

static void
module_json(struct json *w, const struct module *m)
{
	static const char *const indent = "\n     ";
	char **reasons;
	size_t i, n;

	json_object(w);
	json_key(w, "module");
	json_string(w, m->name);
	json_key(w, "path");
	json_string(w, m->path);
	json_key(w, "toxic");
	json_bool(w, m->toxic);
	json_key(w, "direct");
	json_bool(w, m->direct);
	json_pad(w, indent);
	json_key(w, "reasons");
	reasons = module_reasons(m, &n);
	json_strs(w, reasons, n);
	free_reasons(reasons, n);
	json_pad(w, indent);
	json_key(w, "imports");
	json_strs(w, m->imports, m->nimports);
	json_pad(w, indent);
	json_key(w, "causes");
	json_array(w);
	for (i = 0; m->report && i < m->report->ncauses; i++) {
		const struct cause *c = &m->report->causes[i];

		json_object(w);
		json_key(w, "kind");
		json_string(w, cause_kind_name(c->kind));
		json_key(w, "name");
		json_string(w, c->name);
		json_key(w, "line");
		json_int(w, c->line);
		json_key(w, "import_time");
		json_bool(w, c->import_time);
		json_key(w, "counts");
		json_bool(w, c->why == WHY_COUNTS);
		if (c->why != WHY_COUNTS) {
			json_key(w, "why");
			json_string(w, cause_why_text(c->why));
		}
		json_end(w);
	}
	json_end(w);
	json_pad(w, indent);
	json_key(w, "depends");
	json_array(w);
	for (i = 0; i < m->ndeps; i++)
		json_string(w, m->deps[i].to->path);
	json_end(w);
	json_pad(w, indent);
	json_key(w, "via");
	json_string(w, m->via ? m->via->path : NULL);
	json_end(w);
}

/* The body ends inside the "modules" array, after its last module and a
 * newline; output_json_stats() goes on from there. */
void
output_json_body(FILE *f, const struct graph *g, const char *root, struct output_counts *c)
{
	struct buf b = {0};
	struct json w;
	size_t i;

	memset(c, 0, sizeof(*c));
	json_init(&w, &b, false);
	json_object(&w);
	json_key(&w, "root");
	json_string(&w, root);
	json_pad(&w, "\n  ");
	json_key(&w, "modules");
	json_array(&w);
	for (i = 0; i < graph_count(g); i++) {
		const struct module *m = graph_module(g, i);

		c->toxic += m->toxic;
		c->direct += m->direct;
		c->parse_errors += m->report && m->report->parse_error_line != 0;
		json_pad(&w, "\n    ");
		module_json(&w, m);
		flush(f, &b);
	}
	buf_putc(&b, '\n');
	flush(f, &b);
	buf_free(&b);
	c->edges = graph_nedges(g);
}

void
output_json_stats(FILE *f, const struct cache_stats *st, const struct output_counts *c)
{
	struct buf b = {0};
	struct json w;

	json_init(&w, &b, false);
	json_resume(&w, "{[");
	json_pad(&w, "  ");
	json_end(&w);
	json_pad(&w, "\n  ");
	json_key(&w, "stats");
	json_object(&w);
	json_key(&w, "files");
	json_uint(&w, st->files);
	json_key(&w, "parsed");
	json_uint(&w, st->parsed);
	json_key(&w, "local_hits");
	json_uint(&w, st->local_hits);
	json_key(&w, "redis_hits");
	json_uint(&w, st->redis_hits);
	json_key(&w, "redis_round_trips");
	json_uint(&w, st->redis_round_trips);
	json_pad(&w, "\n            ");
	json_key(&w, "parse_errors");
	json_uint(&w, c->parse_errors);
	json_key(&w, "toxic");
	json_uint(&w, c->toxic);
	json_key(&w, "direct");
	json_uint(&w, c->direct);
	json_key(&w, "edges");
	json_uint(&w, c->edges);
	json_end(&w);
	json_end(&w);
	buf_putc(&b, '\n');
	flush(f, &b);
	buf_free(&b);
}

void
output_json(FILE *f, const struct graph *g, const char *root, const struct cache_stats *st)
{
	struct output_counts c;

	output_json_body(f, g, root, &c);
	output_json_stats(f, st, &c);
}

void
output_text(FILE *f, const struct graph *g, const struct cache_stats *st)
{
	size_t i, j, n, ntoxic = 0, ndirect = 0, nbroken = 0;
	int pass;

	/* toxic modules first, each with its reasons; then the safe ones */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < graph_count(g); i++) {
			const struct module *m = graph_module(g, i);
			char **reasons;

			if (pass == 0)
				nbroken += m->report && m->report->parse_error_line != 0;
			if (m->toxic != (pass == 0))
				continue;
			if (!m->toxic) {
				fprintf(f, "safe   %s (%s)\n", m->path, m->name);
				continue;
			}
			ntoxic++;
			ndirect += m->direct;
			fprintf(f, "toxic  %s (%s)%s\n", m->path, m->name, m->direct ? "" : " via");
			reasons = module_reasons(m, &n);
			for (j = 0; j < n; j++)
				fprintf(f, "         %s\n", reasons[j]);
			free_reasons(reasons, n);
		}
	}
	fprintf(f, "%zu modules: %zu toxic (%zu direct), %zu safe; %zu parse errors\n",
	        graph_count(g), ntoxic, ndirect, graph_count(g) - ntoxic, nbroken);
	(void)st;
}

static bool
is_import_cause(const struct cause *c)
{
	return strncmp(c->reason, "Imports toxic module", 20) == 0 ||
	       strncmp(c->reason, "Star import", 11) == 0;
}

/* One line for a cause: where, what, its kind, when it runs, and under the
 * precise policy whether it counts and why not. */
static void
explain_cause(FILE *f, const char *path, const struct cause *c, const char *policy)
{
	fprintf(f, "  %s:%d: %s [%s%s", path, c->line, c->reason, cause_kind_name(c->kind),
	        c->import_time ? ", import time" : "");
	if (c->why != WHY_COUNTS)
		fprintf(f, "; does not count under the %s policy: %s", policy, cause_why_text(c->why));
	fputs("]\n", f);
}

void
output_explain(FILE *f, const struct module *m, const char *policy)
{
	const struct module *p;
	const struct cause *c = NULL;
	size_t i;

	if (!m->toxic) {
		if (strcmp(policy, "strict") == 0) {
			fprintf(f, "%s (%s) is safe: nothing it imports is toxic\n", m->path, m->name);
			return;
		}
		fprintf(f, "%s (%s) is safe under the %s policy: nothing it imports is toxic\n", m->path, m->name,
		        policy);
		for (i = 0; m->report && i < m->report->ncauses; i++)
			explain_cause(f, m->path, &m->report->causes[i], policy);
		return;
	}
	fputs(m->path, f);
	for (p = m; p->via; p = p->via)
		fprintf(f, " -> %s", p->via->name);
	for (i = 0; i < p->report->ncauses && !c; i++)
		if (p->report->causes[i].why == WHY_COUNTS)
			c = &p->report->causes[i];
	if (!c)
		c = &p->report->causes[0];
	if (is_import_cause(c))
		fprintf(f, " -> %s (line %d)\n", c->name, c->line);
	else
		fprintf(f, " -> %s\n", c->reason);
	for (p = m; p->via; p = p->via) {
		if (p->via_parent)
			fprintf(f, "  %s: inside package %s (%s)\n", p->path, p->via->name, p->via->path);
		else
			fprintf(f, "  %s:%d: imports %s (%s)\n", p->path, p->via_line, p->via->name,
			        p->via->path);
	}
	for (i = 0; i < p->report->ncauses; i++)
		explain_cause(f, p->path, &p->report->causes[i], policy);
}
