/* analysis - the pipeline of tach analyze, explain and cache; see
 * gen/analysis.h.
 *
 * config -> scan -> cache_analyze() (or, with --no-cache, analyze_files())
 * -> the graph's modules -> graph_build() -> output. tach analyze keys its
 * output by the analysis's digest and the other inputs of the output, and
 * replays the memo (cache/memo.c) when the key is the last run's, skipping
 * the graph and the rendering. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gen/analyze/analyze.h"
#include "cache/cache.h"
#include "gen/analysis.h"
#include "gen/config.h"
#include "gen/analyze/graph.h"
#include "gen/output.h"
#include "cache/rcache.h"
#include "tach/report.h"
#include "gen/analyze/scan.h"
#include "tach/statedir.h"
#include "lib/util.h"

void
analysis_phase(const char *name)
{
	static struct timespec last;
	static int on = -1;
	struct timespec now;

	if (on < 0) {
		const char *e = getenv("TACH_TIMINGS");

		on = e && *e && strcmp(e, "0") != 0;
	}
	if (!on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (name)
		fprintf(stderr, "tach: timing: %-8s %8.2f ms\n", name,
		        (now.tv_sec - last.tv_sec) * 1e3 + (now.tv_nsec - last.tv_nsec) / 1e6);
	last = now;
}

enum policy
analysis_policy(const struct analysis_opts *o, const struct config *cfg)
{
	enum policy p = POLICY_PRECISE;

	if (o->policy && policy_parse(o->policy, &p))
		return p;
	if (cfg->policy && !policy_parse(cfg->policy, &p))
		fatal("%s: unknown policy '%s'", cfg->path, cfg->policy);
	return p;
}

static void
apply_cache_config(struct cache_opts *c, const struct config *cfg)
{
	if (cfg->cache_max_mb)
		c->max_mb = cfg->cache_max_mb;
	if (cfg->cache_ttl_days)
		c->ttl_seconds = cfg->cache_ttl_days * 24 * 3600;
	if (cfg->redis_connect_timeout_ms)
		c->connect_timeout_ms = (int)cfg->redis_connect_timeout_ms;
	if (cfg->redis_timeout_ms)
		c->op_timeout_ms = (int)cfg->redis_timeout_ms;
}

static void
load_config(struct config *cfg, const char *root)
{
	char *err = NULL;

	if (config_load(cfg, root, &err) < 0) {
		fprintf(stderr, "tach: %s\n", err);
		free(err);
		config_free(cfg);
		exit(EXIT_USAGE);
	}
}

/* "could not parse", or why the file was not parsed at all (its encoding). */
static const char *
parse_error_what(const struct report *rep)
{
	size_t i;

	for (i = 0; i < rep->ncauses; i++) {
		const struct cause *c = &rep->causes[i];

		if (c->kind == CAUSE_PARSE_ERROR && c->name && strcmp(c->name, "encoding") == 0)
			return c->reason;
	}
	return "could not parse";
}

void
analysis_run(struct analysis *r, struct analysis_opts *o)
{
	struct report **reports;
	struct stat st;
	size_t i;

	analysis_phase(NULL);
	if (stat(o->root, &st) < 0)
		fatal("%s:", o->root);
	if (!S_ISDIR(st.st_mode)) {
		/* a usage error: the root must be a project directory */
		warn("%s: not a directory", o->root);
		exit(EXIT_USAGE);
	}
	load_config(&r->cfg, o->root);
	apply_cache_config(&o->cache, &r->cfg);
	r->rules = rules_new();
	rules_set_policy(r->rules, analysis_policy(o, &r->cfg));
	for (i = 0; i < r->cfg.safe_modules.n; i++)
		if (!rules_remove(r->rules, r->cfg.safe_modules.v[i]))
			warn("%s: safe-modules: '%s' is not a toxic module", r->cfg.path,
			     r->cfg.safe_modules.v[i]);
	for (i = 0; i < r->cfg.toxic_modules.n; i++)
		rules_add_toxic(r->rules, r->cfg.toxic_modules.v[i]);
	analysis_phase("config");
	switch (scan_tree(o->root, &r->cfg.exclude, &r->files, &r->stats, &r->unreadable)) {
	case -1:
		fatal("%s:", o->root);
	case 1:
		r->io_error = true;   /* reported; analyze what could be read */
		break;
	}
	analysis_phase("scan");
	if (o->cache.disabled) {
		struct analyze_stats as;

		reports = analyze_files(o->root, r->files.v, r->files.n, r->rules, o->jobs, &as);
		r->cstats.files = as.files;
		r->cstats.parsed = as.parsed;
	} else {
		reports = cache_analyze(o->root, r->files.v, r->stats, r->files.n, r->rules, o->jobs,
		                        &o->cache, &r->cstats);
	}
	analysis_phase("analyze");
	r->graph = graph_new(o->root);
	for (i = 0; i < r->cfg.source_roots.n; i++) {
		char *p = path_join(o->root, r->cfg.source_roots.v[i]);

		if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
			warn("%s: source-roots: '%s' is not a directory", r->cfg.path,
			     r->cfg.source_roots.v[i]);
		free(p);
		graph_add_root(r->graph, r->cfg.source_roots.v[i]);
	}
	for (i = 0; i < r->files.n; i++) {
		/* unreadable files were reported when they were read */
		if (reports[i]->parse_error_line && !o->quiet && reports[i]->ncauses &&
		    !cause_is_unreadable(&reports[i]->causes[0]))
			fprintf(stderr, "%s:%d: %s; treated as toxic\n", r->files.v[i],
			        reports[i]->parse_error_line, parse_error_what(reports[i]));
		graph_add(r->graph, r->files.v[i], reports[i]);
	}
	free(reports);
	analysis_phase("reports");
}

void
analysis_build(struct analysis *r)
{
	graph_build(r->graph);
	analysis_phase("graph");
}

void
analysis_free(struct analysis *r)
{
	graph_free(r->graph);
	strlist_free(&r->files);
	free(r->stats);
	scan_errors_free(&r->unreadable);
	rules_free(r->rules);
	config_free(&r->cfg);
}

/* The memo's key of this run's output: the analysis's digest and every
 * other input of the output (the format, the root as given and as
 * resolved, whether src/ exists, the source roots). Empty when a file
 * could not be read. */
static void
output_key(const struct analysis *r, const struct analysis_opts *o, bool json, char key[33])
{
	char real[PATH_MAX];
	struct buf b = {0};
	struct stat st;
	char *src;
	size_t i;

	key[0] = '\0';
	if (!r->cstats.digest[0] || r->io_error)
		return;
	src = path_join(o->root, "src");
	buf_printf(&b, "%s\n%s\n%s\n%d\n", json ? "json" : "text", o->root,
	           realpath(o->root, real) ? real : "", stat(src, &st) == 0 && S_ISDIR(st.st_mode));
	for (i = 0; i < r->cfg.source_roots.n; i++)
		buf_printf(&b, "root %s\n", r->cfg.source_roots.v[i]);
	memo_key(TACH_VERSION, r->cstats.digest, &b, key);
	buf_free(&b);
	free(src);
}

/* Whether ROOT/.tach is a directory of the caller's own (the cache said
 * why when it is not): the memo is written there. */
static bool
own_state_dir(const char *root)
{
	char *dot = path_join(root, TACH_DIR);
	int fd = private_dir(dot, false);

	free(dot);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int
analysis_print(struct analysis_opts *o, bool json)
{
	struct analysis r = {0};
	struct output_counts c = {0};
	struct memo_counts mc;
	char key[33] = "", *memo = NULL, *body = NULL;
	size_t bodylen = 0;
	FILE *mf;

	analysis_run(&r, o);
	if (!o->cache.disabled && own_state_dir(o->root)) {
		output_key(&r, o, json, key);
		memo = memo_path(o->root, json);
		if (memo_read(memo, key, &body, &bodylen, &mc) == 0) {
			fwrite(body, 1, bodylen, stdout);
			if (json) {
				c = (struct output_counts){mc.parse_errors, mc.toxic, mc.direct, mc.edges};
				output_json_stats(stdout, &r.cstats, &c);
			}
			analysis_phase("replay");
			goto out;
		}
	}
	analysis_build(&r);
	/* render to memory, so the memo gets the same bytes */
	mf = open_memstream(&body, &bodylen);
	if (!mf)
		fatal("open_memstream:");
	if (json)
		output_json_body(mf, r.graph, o->root, &c);
	else
		output_text(mf, r.graph, &r.cstats);
	if (fclose(mf) != 0)
		fatal("open_memstream:");
	fwrite(body, 1, bodylen, stdout);
	if (json)
		output_json_stats(stdout, &r.cstats, &c);
	if (key[0]) {
		mc = (struct memo_counts){c.parse_errors, c.toxic, c.direct, c.edges};
		memo_write(memo, key, &mc, body, bodylen);	/* a memo that fails is no loss */
	}
	analysis_phase("output");
out:
	free(body);
	free(memo);
	analysis_free(&r);
	analysis_phase("free");
	if (fflush(stdout) != 0 || ferror(stdout))
		fatal("write:");
	return r.io_error ? 1 : 0;
}

int
analysis_explain(struct analysis_opts *o, const char *name)
{
	struct analysis r = {0};
	struct module *m;
	bool ambiguous;

	o->quiet = true;
	analysis_run(&r, o);
	analysis_build(&r);
	m = graph_lookup(r.graph, name, &ambiguous);
	if (!m) {
		fprintf(stderr, "tach: no module or file '%s' under %s\n", name, o->root);
		analysis_free(&r);
		return EXIT_USAGE;
	}
	if (ambiguous) {
		size_t k;

		fprintf(stderr, "tach: '%s' names several files; give a path:\n", name);
		for (k = 0; k < graph_count(r.graph); k++)
			if (strcmp(graph_module(r.graph, k)->name, name) == 0)
				fprintf(stderr, "  %s\n", graph_module(r.graph, k)->path);
		analysis_free(&r);
		return EXIT_USAGE;
	}
	output_explain(stdout, m, policy_name(rules_policy(r.rules)));
	analysis_free(&r);
	return r.io_error ? 1 : 0;
}

static struct rcache *
open_redis(const struct analysis_opts *o)
{
	struct rcache_opts ro = {o->cache.url, o->cache.prefix, o->cache.connect_timeout_ms,
	                         o->cache.op_timeout_ms, o->cache.ttl_seconds};

	return rcache_open(&ro);
}

int
analysis_cache(struct analysis_opts *o, bool clear, bool redis)
{
	struct config cfg;
	char *dir;
	uint64_t bytes;
	long n;
	int status = 0;

	load_config(&cfg, o->root);
	apply_cache_config(&o->cache, &cfg);
	config_free(&cfg);
	dir = xasprintf("%s/" TACH_PATH(TACH_CACHE), o->root);
	if (!clear) {
		n = local_usage(dir, &bytes);
		if (n < 0)
			printf("local: %s: no cache yet\n", dir);
		else
			printf("local: %s: %ld entries, %.1f MiB (bound %ld MiB)\n", dir, n,
			       bytes / 1048576.0, o->cache.max_mb);
	} else {
		if (local_clear(o->root) < 0) {
			warn("%s: cannot remove the local cache:", dir);
			status = 1;
		} else {
			printf("local: %s: cleared\n", dir);
		}
	}
	if (o->cache.url && *o->cache.url && (!clear || redis)) {
		struct rcache *rc = open_redis(o);
		char masked[512];

		rcache_mask_url(o->cache.url, masked, sizeof(masked));
		n = rc->err ? -1 : !clear ? rcache_count(rc) : rcache_clear(rc);
		if (n < 0) {
			warn("cache: %s", rc->errstr);
			status = 1;
		} else if (!clear) {
			printf("redis: %s: %ld entries under '%s'\n", masked, n, o->cache.prefix);
		} else {
			printf("redis: %s: %ld entries under '%s' removed\n", masked, n, o->cache.prefix);
		}
		rcache_free(rc);
	} else if (redis) {
		warn("cache clear --redis needs --cache URL or $TACH_CACHE");
		status = EXIT_USAGE;
	}
	free(dir);
	return status;
}
