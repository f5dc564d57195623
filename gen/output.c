/* output - see include/tach/output.h. The only cJSON user. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tach/output.h"
#include "tach/util.h"

static char *
dep_reason(const struct dep *d)
{
	if (d->parent)
		return xasprintf("Inside toxic package '%s' (%s)", d->to->name, d->to->path);
	return xasprintf("Imports toxic module '%s' (line %d)", d->to->name, d->line);
}

char **
module_reasons(const struct module *m, size_t *n)
{
	char **v = NULL;
	size_t cap = 0, i;
	const struct dep *first = NULL;

	*n = 0;
	for (i = 0; m->report && i < m->report->ncauses; i++) {
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

static cJSON *
module_json(const struct module *m)
{
	cJSON *o = cJSON_CreateObject(), *a;
	char **reasons;
	size_t i, n;

	cJSON_AddStringToObject(o, "module", m->name);
	cJSON_AddStringToObject(o, "path", m->path);
	cJSON_AddBoolToObject(o, "toxic", m->toxic);
	cJSON_AddBoolToObject(o, "direct", m->direct);
	a = cJSON_AddArrayToObject(o, "reasons");
	reasons = module_reasons(m, &n);
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(reasons[i]));
	free_reasons(reasons, n);
	a = cJSON_AddArrayToObject(o, "imports");
	for (i = 0; i < m->nimports; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(m->imports[i]));
	a = cJSON_AddArrayToObject(o, "causes");
	for (i = 0; m->report && i < m->report->ncauses; i++) {
		const struct cause *c = &m->report->causes[i];
		cJSON *co = cJSON_CreateObject();

		cJSON_AddStringToObject(co, "kind", cause_kind_name(c->kind));
		cJSON_AddStringToObject(co, "name", c->name);
		cJSON_AddNumberToObject(co, "line", c->line);
		cJSON_AddBoolToObject(co, "import_time", c->import_time);
		cJSON_AddItemToArray(a, co);
	}
	a = cJSON_AddArrayToObject(o, "depends");
	for (i = 0; i < m->ndeps; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(m->deps[i].to->path));
	if (m->via)
		cJSON_AddStringToObject(o, "via", m->via->path);
	else
		cJSON_AddNullToObject(o, "via");
	return o;
}

void
output_json(FILE *f, const struct graph *g, const char *root, const struct cache_stats *st)
{
	cJSON *doc = cJSON_CreateObject(), *mods, *stats;
	size_t i, ntoxic = 0, ndirect = 0, nbroken = 0;
	char *text;

	cJSON_AddStringToObject(doc, "root", root);
	mods = cJSON_AddArrayToObject(doc, "modules");
	for (i = 0; i < graph_count(g); i++) {
		const struct module *m = graph_module(g, i);

		ntoxic += m->toxic;
		ndirect += m->direct;
		nbroken += m->report && m->report->parse_error_line != 0;
		cJSON_AddItemToArray(mods, module_json(m));
	}
	stats = cJSON_AddObjectToObject(doc, "stats");
	cJSON_AddNumberToObject(stats, "files", st->files);
	cJSON_AddNumberToObject(stats, "parsed", st->parsed);
	cJSON_AddNumberToObject(stats, "local_hits", st->local_hits);
	cJSON_AddNumberToObject(stats, "redis_hits", st->redis_hits);
	cJSON_AddNumberToObject(stats, "redis_round_trips", st->redis_round_trips);
	cJSON_AddNumberToObject(stats, "parse_errors", nbroken);
	cJSON_AddNumberToObject(stats, "toxic", ntoxic);
	cJSON_AddNumberToObject(stats, "direct", ndirect);
	cJSON_AddNumberToObject(stats, "edges", graph_nedges(g));
	text = cJSON_Print(doc);
	if (!text)
		fatal("out of memory printing JSON");
	fputs(text, f);
	fputc('\n', f);
	free(text);
	cJSON_Delete(doc);
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

void
output_explain(FILE *f, const struct module *m)
{
	const struct module *p;
	const struct cause *c;

	if (!m->toxic) {
		fprintf(f, "%s (%s) is safe: nothing it imports is toxic\n", m->path, m->name);
		return;
	}
	fputs(m->path, f);
	for (p = m; p->via; p = p->via)
		fprintf(f, " -> %s", p->via->name);
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
	for (size_t i = 0; i < p->report->ncauses; i++) {
		c = &p->report->causes[i];
		fprintf(f, "  %s:%d: %s [%s%s]\n", p->path, c->line, c->reason, cause_kind_name(c->kind),
		        c->import_time ? ", import time" : "");
	}
}
