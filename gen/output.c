/* output - see gen/output.h. JSON is streamed as it is written:
 * a document tree for 10,000 modules would cost more than the analysis. */
#include <stdlib.h>
#include <string.h>

#include "gen/output.h"
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

/* Writes s as a JSON string. Bytes that are not valid UTF-8 could only come
 * from file names; they are written as U+FFFD so the output always parses. */
static void
json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run;

	putc_unlocked('"', f);
	while (*p) {
		/* copy plain ASCII in one run */
		for (run = p; *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\'; p++)
			;
		if (p > run)
			fwrite_unlocked(run, 1, p - run, f);
		if (!*p)
			break;
		switch (*p) {
		case '"': fputs_unlocked("\\\"", f); break;
		case '\\': fputs_unlocked("\\\\", f); break;
		case '\n': fputs_unlocked("\\n", f); break;
		case '\r': fputs_unlocked("\\r", f); break;
		case '\t': fputs_unlocked("\\t", f); break;
		default:
			if (*p < 0x20) {
				fprintf(f, "\\u%04x", *p);
			} else {
				int n = *p >= 0xf0 && *p < 0xf5 ? 3 : *p >= 0xe0 ? 2 : *p >= 0xc2 && *p < 0xe0 ? 1 : -1;
				int i;

				for (i = 1; n > 0 && i <= n; i++)
					if ((p[i] & 0xc0) != 0x80)
						n = -1;
				if (n < 0) {
					fputs_unlocked("\\ufffd", f);
				} else {
					fwrite_unlocked(p, 1, n + 1, f);
					p += n;
				}
			}
		}
		p++;
	}
	putc_unlocked('"', f);
}

static void
json_strs(FILE *f, char *const *v, size_t n)
{
	size_t i;

	putc('[', f);
	for (i = 0; i < n; i++) {
		if (i)
			fputs(", ", f);
		json_str(f, v[i]);
	}
	putc(']', f);
}

static void
module_json(FILE *f, const struct module *m)
{
	char **reasons;
	size_t i, n;

	fputs("    {\"module\": ", f);
	json_str(f, m->name);
	fputs(", \"path\": ", f);
	json_str(f, m->path);
	fprintf(f, ", \"toxic\": %s, \"direct\": %s,\n     \"reasons\": ", m->toxic ? "true" : "false",
	        m->direct ? "true" : "false");
	reasons = module_reasons(m, &n);
	json_strs(f, reasons, n);
	free_reasons(reasons, n);
	fputs(",\n     \"imports\": ", f);
	json_strs(f, m->imports, m->nimports);
	fputs(",\n     \"causes\": [", f);
	for (i = 0; m->report && i < m->report->ncauses; i++) {
		const struct cause *c = &m->report->causes[i];

		fputs(i ? ", {\"kind\": " : "{\"kind\": ", f);
		json_str(f, cause_kind_name(c->kind));
		fputs(", \"name\": ", f);
		json_str(f, c->name);
		fprintf(f, ", \"line\": %d, \"import_time\": %s}", c->line, c->import_time ? "true" : "false");
	}
	fputs("],\n     \"depends\": [", f);
	for (i = 0; i < m->ndeps; i++) {
		if (i)
			fputs(", ", f);
		json_str(f, m->deps[i].to->path);
	}
	fputs("],\n     \"via\": ", f);
	if (m->via)
		json_str(f, m->via->path);
	else
		fputs("null", f);
	putc('}', f);
}

void
output_json_body(FILE *f, const struct graph *g, const char *root, struct output_counts *c)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	flockfile(f);
	fputs("{\"root\": ", f);
	json_str(f, root);
	fputs(",\n  \"modules\": [\n", f);
	for (i = 0; i < graph_count(g); i++) {
		const struct module *m = graph_module(g, i);

		c->toxic += m->toxic;
		c->direct += m->direct;
		c->parse_errors += m->report && m->report->parse_error_line != 0;
		module_json(f, m);
		fputs(i + 1 < graph_count(g) ? ",\n" : "\n", f);
	}
	c->edges = graph_nedges(g);
	funlockfile(f);
}

void
output_json_stats(FILE *f, const struct cache_stats *st, const struct output_counts *c)
{
	fprintf(f, "  ],\n  \"stats\": {\"files\": %zu, \"parsed\": %zu, \"local_hits\": %zu, "
	           "\"redis_hits\": %zu, \"redis_round_trips\": %zu,\n            \"parse_errors\": %zu, "
	           "\"toxic\": %zu, \"direct\": %zu, \"edges\": %zu}}\n",
	        st->files, st->parsed, st->local_hits, st->redis_hits, st->redis_round_trips,
	        c->parse_errors, c->toxic, c->direct, c->edges);
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
