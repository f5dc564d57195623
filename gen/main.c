/* main - tach's command line: flags and orchestration only.
 *
 *   tach analyze [--root DIR] [--format text|json] [-j N] [-q] [CACHE OPTIONS]
 *   tach explain [--root DIR] [-j N] [CACHE OPTIONS] MODULE_OR_PATH
 *   tach cache stats|clear [--root DIR] [--redis] [CACHE OPTIONS]
 *
 * Exit status: 0 when the analysis ran (Python files that do not parse
 * included), 1 on an I/O error, 2 on a usage or configuration error. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gen/analyze/analyze.h"
#include "cache/cache.h"
#include "gen/config.h"
#include "gen/discover.h"
#include "gen/analyze/graph.h"
#include "tach/hv.h"
#include "gen/ninja.h"
#include "gen/output.h"
#include "cache/rcache.h"
#include "tach/report.h"
#include "gen/analyze/scan.h"
#include "tach/statedir.h"
#include "lib/htab.h"
#include "lib/util.h"

#define TACH_VERSION "0.1.0"

enum { EXIT_USAGE = 2 };

struct opts {
	const char *root;
	const char *format;
	int jobs;
	bool quiet;
	bool redis;             /* tach cache: act on Redis too */
	const char *out;        /* tach gen -o */
	const char *python;     /* tach gen --python */
	bool regen;             /* tach gen --regen: run by the manifest itself */
	struct buf pytest_args; /* tach gen -k/-m/--pytest-args, shell-quoted */
	struct cache_opts cache;
};

struct run {
	struct config cfg;
	struct rules *rules;
	struct strlist files;
	struct stat *stats;     /* of files, from the scan */
	struct graph *graph;
	struct cache_stats cstats;
	bool io_error;
};

#define CACHE_HELP \
	"  --no-cache      analyze every file; read and write no cache\n" \
	"  --cache URL     also use a shared Redis: redis://[[user]:password@]host[:port][/db]\n" \
	"                  or unix:///path/redis.sock (default: $TACH_CACHE)\n" \
	"  --cache-prefix P  key prefix in Redis (default: tach:)\n"

static const char analyze_usage[] =
	"usage: tach analyze [--root DIR] [--format text|json] [-j N] [-q]\n"
	"\n"
	"Finds the Python modules under DIR that are unsafe to import into a process\n"
	"that is then forked (threads, sockets, subprocesses, FFI, signals, dynamic\n"
	"imports), follows the import graph and lists every module with its verdict.\n"
	"\n"
	"  --root DIR      project root (default: the current directory)\n"
	"  --format FMT    text (default) or json\n"
	"  -j, --jobs N    analyze with N threads (default: the number of CPUs)\n"
	"  -q, --quiet     no warnings for files that do not parse\n"
	CACHE_HELP
	"  -h, --help      show this help\n";

static const char explain_usage[] =
	"usage: tach explain [--root DIR] [-j N] MODULE_OR_PATH\n"
	"\n"
	"Prints the chain of imports from a module to the code that makes it toxic,\n"
	"e.g. tests/test_user.py -> auth -> crypto_utils -> ctypes (line 1).\n"
	"MODULE_OR_PATH is a dotted module name or a file path (relative to the\n"
	"root or to the current directory).\n"
	"\n"
	"  --root DIR      project root (default: the current directory)\n"
	"  -j, --jobs N    analyze with N threads (default: the number of CPUs)\n"
	CACHE_HELP
	"  -h, --help      show this help\n";

static const char cache_usage[] =
	"usage: tach cache stats|clear [--root DIR] [--redis] [--cache URL] [--cache-prefix P]\n"
	"\n"
	"Reports are cached by file content in DIR/.tach/ (and in Redis with --cache\n"
	"or $TACH_CACHE). 'stats' counts the entries; 'clear' removes the local cache\n"
	"and, with --redis, every key under the prefix in Redis.\n"
	"\n"
	"  --root DIR      project root (default: the current directory)\n"
	"  --redis         clear the Redis keys too\n"
	CACHE_HELP
	"  -h, --help      show this help\n";

static const char hv_usage[] =
	"usage: tach hv status|stop [--root DIR]\n"
	"\n"
	"The hypervisor keeps a zygote per project (started by tach-run --mode\n"
	"hypervisor, gone after 10 idle minutes). 'status' describes it and exits 1\n"
	"when none runs; 'stop' stops it once its running tests end.\n"
	"\n"
	"  --root DIR      project root (default: the current directory)\n"
	"  -h, --help      show this help\n";

#define PYTEST_HELP \
	"  -k EXPR         pytest's -k: run only the tests whose names match EXPR\n" \
	"  -m EXPR         pytest's -m: run only the tests whose marks match EXPR\n" \
	"  --pytest-args ARGS  more pytest options, split as a shell would (e.g.\n" \
	"                  '-p no:randomly --strict-markers'); repeatable. Options only:\n" \
	"                  choose files and directories with Ninja targets\n"

static const char gen_usage[] =
	"usage: tach gen [--root DIR] [-o FILE] [--python PATH] [-k EXPR] [-m EXPR]\n"
	"                [--pytest-args ARGS] [-j N] [-q]\n"
	"\n"
	"Writes DIR/build.ninja (or FILE): one edge per test, run by tach-run in the\n"
	"hypervisor runtime, or isolated when the test is toxic; `ninja test` in DIR\n"
	"runs them and prints the summary. The manifest regenerates itself when the\n"
	"project changes. A build.ninja tach did not write is never overwritten.\n"
	"\n"
	"  --root DIR      project root (default: the current directory)\n"
	"  -o FILE         the manifest to write (default: DIR/build.ninja)\n"
	"  --python PATH   the interpreter with pytest (default: python3 on PATH when\n"
	"                  it has pytest, else /usr/bin/python3)\n"
	PYTEST_HELP
	"  -j N            analyzer threads\n"
	"  -q              no summary line\n"
	CACHE_HELP
	"  -h, --help      show this help\n";

static const char run_usage[] =
	"usage: tach run [gen options] [PATH...] [-- NINJA_ARGS...]\n"
	"\n"
	"Writes the manifest when it is missing or out of date (as tach gen, with the\n"
	"same options), then runs `ninja test` in DIR with NINJA_ARGS (e.g. -- -j4),\n"
	"or, given test files or directories, only their tests (`ninja PATH`).\n"
	"pytest's options given here (-k, -m, --pytest-args) apply from then on.\n"
	"\n"
	"  -h, --help      show this help\n";

static const char main_usage[] =
	"usage: tach COMMAND [ARGS]\n"
	"\n"
	"tach runs every Python test isolated, at near in-process speed.\n"
	"\n"
	"commands:\n"
	"  analyze    list modules and whether they are safe to pre-import before fork\n"
	"  explain    show why a module is toxic\n"
	"  cache      show or clear the report cache\n"
	"  gen        write the project's build.ninja: one edge per test\n"
	"  run        gen when needed, then ninja test\n"
	"  hv         show or stop the project's hypervisor zygote\n"
	"\n"
	"Run 'tach COMMAND --help' for a command's options.\n";

static _Noreturn void
usage_error(const char *usage, const char *fmt, const char *arg)
{
	const char *nl = strchr(usage, '\n');

	fputs("tach: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	/* the synopsis line only; --help has the rest */
	fprintf(stderr, "%.*s\n", nl ? (int)(nl - usage) : (int)strlen(usage), usage);
	exit(EXIT_USAGE);
}

static int
parse_jobs(const char *usage, const char *s)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || *end || n < 1 || n > 1024)
		usage_error(usage, "invalid job count '%s'", s);
	return (int)n;
}

static int
default_jobs(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

/* Appends arg to args quoted for a POSIX shell (pytest's side splits them
 * with shlex). */
static void
add_pytest_arg(struct buf *args, const char *arg)
{
	if (args->len)
		buf_putc(args, ' ');
	buf_putc(args, '\'');
	for (; *arg; arg++) {
		if (*arg == '\'')
			buf_puts(args, "'\\''");
		else
			buf_putc(args, *arg);
	}
	buf_putc(args, '\'');
}

/* The options a command accepts beyond those every command takes (--root,
 * -j, -q, -h and the cache options). */
enum {
	OPT_FORMAT = 1 << 0,    /* --format */
	OPT_REDIS = 1 << 1,     /* --redis */
	OPT_GEN = 1 << 2,       /* -o, -k, -m, --python, --regen, --pytest-args */
};

struct command {
	const char *name;
	const char *usage;      /* printed by --help; its first line on a usage error */
	unsigned opts;          /* OPT_* */
	int (*fn)(const struct command *cmd, int argc, char **argv);
};

static int
parse_opts(int argc, char **argv, struct opts *o, const struct command *cmd)
{
	static const struct option longopts[] = {
		{"root", required_argument, NULL, 'r'},
		{"format", required_argument, NULL, 'f'},
		{"jobs", required_argument, NULL, 'j'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"no-cache", no_argument, NULL, 'N'},
		{"cache", required_argument, NULL, 'C'},
		{"cache-prefix", required_argument, NULL, 'P'},
		{"redis", no_argument, NULL, 'R'},
		{"output", required_argument, NULL, 'o'},
		{"python", required_argument, NULL, 'p'},
		{"regen", no_argument, NULL, 'G'},
		{"pytest-args", required_argument, NULL, 'A'},
		{NULL, 0, NULL, 0},
	};
	const char *usage = cmd->usage;
	bool gen = cmd->opts & OPT_GEN;
	int c;

	o->root = ".";
	o->format = "text";
	o->jobs = default_jobs();
	o->cache.url = getenv("TACH_CACHE");
	o->cache.prefix = "tach:";
	o->cache.ttl_seconds = 30L * 24 * 3600;
	o->cache.connect_timeout_ms = 100;
	o->cache.op_timeout_ms = 2000;
	o->cache.max_mb = 256;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, gen ? ":r:f:j:qho:k:m:" : ":r:f:j:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
		case 'm':
			add_pytest_arg(&o->pytest_args, c == 'k' ? "-k" : "-m");
			add_pytest_arg(&o->pytest_args, optarg);
			break;
		case 'A':
			if (!gen)
				usage_error(usage, "unknown option '%s'", "--pytest-args");
			if (o->pytest_args.len)
				buf_putc(&o->pytest_args, ' ');
			buf_puts(&o->pytest_args, optarg);
			break;
		case 'o':
			if (!gen)
				usage_error(usage, "unknown option '%s'", argv[optind - 1]);
			o->out = optarg;
			break;
		case 'p':
			if (!gen)
				usage_error(usage, "unknown option '%s'", "--python");
			o->python = optarg;
			break;
		case 'G':
			/* the manifest regenerating itself: its interpreter was
			 * checked when it was first written */
			if (!gen)
				usage_error(usage, "unknown option '%s'", "--regen");
			o->regen = true;
			break;
		case 'r':
			o->root = optarg;
			break;
		case 'f':
			if (!(cmd->opts & OPT_FORMAT))
				usage_error(usage, "unknown option '%s'", "--format");
			if (strcmp(optarg, "text") != 0 && strcmp(optarg, "json") != 0)
				usage_error(usage, "unknown format '%s' (expected text or json)", optarg);
			o->format = optarg;
			break;
		case 'j':
			o->jobs = parse_jobs(usage, optarg);
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'N':
			o->cache.disabled = true;
			break;
		case 'C':
			o->cache.url = optarg;
			break;
		case 'P':
			o->cache.prefix = optarg;
			break;
		case 'R':
			if (!(cmd->opts & OPT_REDIS))
				usage_error(usage, "unknown option '%s'", "--redis");
			o->redis = true;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case ':':
			usage_error(usage, "option '%s' needs an argument", argv[optind - 1]);
		default:
			usage_error(usage, "unknown option '%s'", argv[optind - 1]);
		}
	}
	return optind;
}

/* TACH_TIMINGS=1 prints how long each phase took, to stderr. */
static void
phase(const char *name)
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

/* Loads the config, scans, analyzes and fills the graph (build_graph() then
 * resolves it). Exits on error. */
static void
run_analysis(struct run *r, struct opts *o)
{
	struct report **reports;
	struct stat st;
	size_t i;

	phase(NULL);
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
	for (i = 0; i < r->cfg.safe_modules.n; i++)
		if (!rules_remove(r->rules, r->cfg.safe_modules.v[i]))
			warn("%s: safe-modules: '%s' is not a toxic module", r->cfg.path,
			     r->cfg.safe_modules.v[i]);
	for (i = 0; i < r->cfg.toxic_modules.n; i++)
		rules_add_toxic(r->rules, r->cfg.toxic_modules.v[i]);
	phase("config");
	switch (scan_tree(o->root, &r->cfg.exclude, &r->files, &r->stats)) {
	case -1:
		fatal("%s:", o->root);
	case 1:
		r->io_error = true;   /* reported; analyze what could be read */
		break;
	}
	phase("scan");
	if (o->cache.disabled) {
		struct analyze_stats as;

		reports = analyze_files(o->root, r->files.v, r->files.n, r->rules, o->jobs, &as);
		r->cstats.files = as.files;
		r->cstats.parsed = as.parsed;
	} else {
		reports = cache_analyze(o->root, r->files.v, r->stats, r->files.n, r->rules, o->jobs,
		                        &o->cache, &r->cstats);
	}
	phase("analyze");
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
			fprintf(stderr, "%s:%d: could not parse; treated as toxic\n", r->files.v[i],
			        reports[i]->parse_error_line);
		graph_add(r->graph, r->files.v[i], reports[i]);
	}
	free(reports);
	phase("reports");
}

static void
build_graph(struct run *r)
{
	graph_build(r->graph);
	phase("graph");
}

static void
run_free(struct run *r)
{
	graph_free(r->graph);
	strlist_free(&r->files);
	free(r->stats);
	rules_free(r->rules);
	config_free(&r->cfg);
}

/* The memo of the last output, ROOT/.tach/analyze.json|txt: a header line
 * "TACHOUT1 DIGEST PARSE_ERRORS TOXIC DIRECT EDGES" and the output (for JSON,
 * all but the statistics). DIGEST covers every input of the output: each
 * file's path and content hash, the rules, the source roots, whether src/
 * exists, the root as given and as resolved, the format and tach's version.
 * A rerun with the same digest replays the output instead of rebuilding the
 * graph. */
static void
memo_digest(const struct run *r, const struct opts *o, char out[33])
{
	char real[PATH_MAX];
	struct buf b = {0};
	struct stat st;
	char *src = path_join(o->root, "src");
	size_t i;

	out[0] = '\0';
	if (!cache_last_digest[0] || r->io_error)
		goto done;
	buf_printf(&b, "tach %s\n%s\n%s\n%s\n%s\n%d\n", TACH_VERSION, cache_last_digest, o->format,
	           o->root, realpath(o->root, real) ? real : "", stat(src, &st) == 0 && S_ISDIR(st.st_mode));
	for (i = 0; i < r->cfg.source_roots.n; i++)
		buf_printf(&b, "root %s\n", r->cfg.source_roots.v[i]);
	hash_content(b.data, b.len, out);
done:
	buf_free(&b);
	free(src);
}

static bool
memo_replay(const char *path, const char *digest, const struct cache_stats *st, bool json)
{
	struct output_counts c;
	char *data, *nl, want[64];
	size_t len;
	bool ok = false;

	if (!digest[0] || read_file(path, &data, &len) < 0)
		return false;
	nl = memchr(data, '\n', len);
	snprintf(want, sizeof(want), "TACHOUT1 %s ", digest);
	if (nl && strncmp(data, want, strlen(want)) == 0 &&
	    sscanf(data + strlen(want), "%zu %zu %zu %zu", &c.parse_errors, &c.toxic, &c.direct,
	           &c.edges) == 4) {
		fwrite(nl + 1, 1, len - (size_t)(nl + 1 - data), stdout);
		if (json)
			output_json_stats(stdout, st, &c);
		ok = true;
	}
	free(data);
	return ok;
}

static int
cmd_analyze(const struct command *cmd, int argc, char **argv)
{
	struct opts o = {0};
	struct run r = {0};
	struct output_counts c = {0};
	bool json;
	char digest[33] = "", *memo = NULL, *body = NULL;
	size_t bodylen = 0;
	FILE *mf;
	int i;

	i = parse_opts(argc, argv, &o, cmd);
	if (i < argc)
		usage_error(cmd->usage, "unexpected argument '%s'", argv[i]);
	json = strcmp(o.format, "json") == 0;
	run_analysis(&r, &o);
	if (!o.cache.disabled) {
		memo_digest(&r, &o, digest);
		memo = xasprintf("%s/%s", o.root, json ? TACH_PATH(TACH_ANALYZE_JSON) : TACH_PATH(TACH_ANALYZE_TXT));
		if (memo_replay(memo, digest, &r.cstats, json)) {
			phase("replay");
			goto out;
		}
	}
	build_graph(&r);
	/* render to memory, so the memo gets the same bytes */
	mf = open_memstream(&body, &bodylen);
	if (!mf)
		fatal("open_memstream:");
	if (json)
		output_json_body(mf, r.graph, o.root, &c);
	else
		output_text(mf, r.graph, &r.cstats);
	if (fclose(mf) != 0)
		fatal("open_memstream:");
	fwrite(body, 1, bodylen, stdout);
	if (json)
		output_json_stats(stdout, &r.cstats, &c);
	if (digest[0]) {
		struct buf b = {0};

		buf_printf(&b, "TACHOUT1 %s %zu %zu %zu %zu\n", digest, c.parse_errors, c.toxic, c.direct,
		           c.edges);
		buf_add(&b, body, bodylen);
		write_file_atomic(memo, b.data, b.len, 0644);   /* a memo that fails is no loss */
		buf_free(&b);
	}
	phase("output");
out:
	free(body);
	free(memo);
	run_free(&r);
	phase("free");
	if (fflush(stdout) != 0 || ferror(stdout))
		fatal("write:");
	return r.io_error ? 1 : 0;
}

static int
cmd_explain(const struct command *cmd, int argc, char **argv)
{
	struct opts o = {0};
	struct run r = {0};
	struct module *m;
	bool ambiguous;
	int i;

	i = parse_opts(argc, argv, &o, cmd);
	if (i >= argc)
		usage_error(cmd->usage, "%s", "missing MODULE_OR_PATH");
	if (i + 1 < argc)
		usage_error(cmd->usage, "unexpected argument '%s'", argv[i + 1]);
	o.quiet = true;
	run_analysis(&r, &o);
	build_graph(&r);
	m = graph_lookup(r.graph, argv[i], &ambiguous);
	if (!m) {
		fprintf(stderr, "tach: no module or file '%s' under %s\n", argv[i], o.root);
		run_free(&r);
		return EXIT_USAGE;
	}
	if (ambiguous) {
		size_t k;

		fprintf(stderr, "tach: '%s' names several files; give a path:\n", argv[i]);
		for (k = 0; k < graph_count(r.graph); k++)
			if (strcmp(graph_module(r.graph, k)->name, argv[i]) == 0)
				fprintf(stderr, "  %s\n", graph_module(r.graph, k)->path);
		run_free(&r);
		return EXIT_USAGE;
	}
	output_explain(stdout, m);
	run_free(&r);
	return r.io_error ? 1 : 0;
}

static struct rcache *
open_redis(const struct opts *o)
{
	struct rcache_opts ro = {o->cache.url, o->cache.prefix, o->cache.connect_timeout_ms,
	                         o->cache.op_timeout_ms, o->cache.ttl_seconds};

	return rcache_open(&ro);
}

static int
cmd_cache(const struct command *cmd, int argc, char **argv)
{
	struct opts o = {0};
	struct config cfg;
	const char *what;
	char *dir;
	uint64_t bytes;
	long n;
	int i, status = 0;

	i = parse_opts(argc, argv, &o, cmd);
	if (i >= argc)
		usage_error(cmd->usage, "%s", "missing 'stats' or 'clear'");
	what = argv[i];
	if (i + 1 < argc)
		usage_error(cmd->usage, "unexpected argument '%s'", argv[i + 1]);
	if (strcmp(what, "stats") != 0 && strcmp(what, "clear") != 0)
		usage_error(cmd->usage, "unknown cache command '%s'", what);
	load_config(&cfg, o.root);
	apply_cache_config(&o.cache, &cfg);
	config_free(&cfg);
	dir = xasprintf("%s/" TACH_PATH(TACH_CACHE), o.root);
	if (strcmp(what, "stats") == 0) {
		n = local_usage(dir, &bytes);
		if (n < 0)
			printf("local: %s: no cache yet\n", dir);
		else
			printf("local: %s: %ld entries, %.1f MiB (bound %ld MiB)\n", dir, n,
			       bytes / 1048576.0, o.cache.max_mb);
	} else {
		if (local_clear(o.root) < 0) {
			warn("%s: cannot remove the local cache:", dir);
			status = 1;
		} else {
			printf("local: %s: cleared\n", dir);
		}
	}
	if (o.cache.url && *o.cache.url && (strcmp(what, "stats") == 0 || o.redis)) {
		struct rcache *rc = open_redis(&o);
		char masked[512];

		rcache_mask_url(o.cache.url, masked, sizeof(masked));
		n = rc->err ? -1 : strcmp(what, "stats") == 0 ? rcache_count(rc) : rcache_clear(rc);
		if (n < 0) {
			warn("cache: %s", rc->errstr);
			status = 1;
		} else if (strcmp(what, "stats") == 0) {
			printf("redis: %s: %ld entries under '%s'\n", masked, n, o.cache.prefix);
		} else {
			printf("redis: %s: %ld entries under '%s' removed\n", masked, n, o.cache.prefix);
		}
		rcache_free(rc);
	} else if (o.redis) {
		warn("cache clear --redis needs --cache URL or $TACH_CACHE");
		status = EXIT_USAGE;
	}
	free(dir);
	return status;
}

/* Whether PATH runs and imports pytest. */
static bool
python_has_pytest(const char *python)
{
	pid_t pid;
	int status, fd;

	pid = fork();
	if (pid == 0) {
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp(python, python, "-c", "import pytest", (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return false;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The interpreter the tests run with: --python, else python3 on PATH when
 * it has pytest, else /usr/bin/python3. Exits when it is missing or has no
 * pytest, before anything runs. */
static char *
choose_python(const char *want)
{
	static const char *const defaults[] = {"python3", "/usr/bin/python3"};
	char *abs;
	size_t i;

	if (want) {
		abs = find_program(want);
		if (!abs || access(abs, X_OK) < 0) {
			warn("--python %s: no such interpreter", want);
			exit(EXIT_USAGE);
		}
		if (!python_has_pytest(abs)) {
			warn("--python %s: cannot import pytest (install it for that interpreter, "
			     "e.g. apt-get install python3-pytest for /usr/bin/python3)", want);
			exit(EXIT_USAGE);
		}
		return abs;
	}
	for (i = 0; i < LEN(defaults); i++) {
		abs = find_program(defaults[i]);
		if (abs && python_has_pytest(abs))
			return abs;
		free(abs);
	}
	warn("no Python with pytest: neither python3 on PATH nor /usr/bin/python3 imports it "
	     "(apt-get install python3-pytest, or pass --python PATH)");
	exit(EXIT_USAGE);
}

/* The directory of this binary (tach-run and friends live beside it). */
static char *
bindir(void)
{
	char exe[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		fatal("readlink /proc/self/exe:");
	exe[n] = 0;
	slash = strrchr(exe, '/');
	*slash = 0;
	return xstrdup(exe);
}

/* Removes the result files and stamps of tests that are gone, so nothing
 * reads a stale result. list holds the current ones. */
static void
prune_results(const char *root, const struct buf *list)
{
	struct htab *keep = htab_new();
	char *dir = xconcat(root, "/" TACH_PATH(TACH_TESTS), NULL), *lines, *p, *nl, *path;
	DIR *d;
	struct dirent *de;

	lines = xstrndup(list->data ? list->data : "", list->len);
	for (p = lines; *p; p = nl + 1) {
		char *tab = strchr(p, '\t'), *slash;

		nl = strchrnul(p, '\n');
		if (!tab || tab > nl)
			break;
		*tab = 0;
		slash = strrchr(p, '/');
		if (slash && strlen(slash + 1) > 5) {
			slash[1 + strlen(slash + 1) - 5] = 0;	/* the hash, without ".json" */
			*htab_slot(keep, slash + 1) = keep;
		}
		if (!*nl)
			break;
	}
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		char *dot = strrchr(de->d_name, '.'), *h;

		if (de->d_name[0] == '.' || !dot)
			continue;
		h = xstrndup(de->d_name, (size_t)(dot - de->d_name));
		if (!htab_get(keep, h)) {
			path = path_join(dir, de->d_name);
			unlink(path);
			free(path);
		}
		free(h);
	}
	if (d)
		closedir(d);
	htab_free(keep);
	free(lines);
	free(dir);
}

/* Writes the manifest; returns the exit status. *manifest_out (when not
 * NULL) gets the manifest's absolute path. */
static int
generate(struct opts *o, char **manifest_out)
{
	struct run r = {0};
	struct opts ro;
	struct pytest_ini ini;
	struct tests tests = {0};
	struct gen_opts go = {0};
	struct buf b = {0}, list = {0}, toxic = {0};
	char *root, *python, *dir, *manifest, *listpath, *rel, *dot, *err = NULL;
	size_t i, nisolated = 0;
	int rc;

	root = realpath(o->root, NULL);
	if (!root) {
		warn("%s:", o->root);
		exit(EXIT_USAGE);
	}
	if (o->out) {
		char *d = xstrdup(o->out), *slash = strrchr(d, '/'), *ad;

		if (slash)
			*slash = 0;
		ad = realpath(slash ? (*d ? d : "/") : ".", NULL);
		if (!ad) {
			warn("-o %s: no such directory", o->out);
			exit(EXIT_USAGE);
		}
		manifest = path_join(ad, slash ? slash + 1 : o->out);
		free(ad);
		free(d);
	} else {
		manifest = path_join(root, "build.ninja");
	}
	rc = ninja_check_ours(manifest);
	if (rc == 0) {
		warn("%s was not written by tach; not overwriting it (use -o FILE)", manifest);
		exit(EXIT_USAGE);
	}
	python = o->regen && o->python ? find_program(o->python) : NULL;
	if (!python)
		python = choose_python(o->python);
	ro = *o;
	ro.root = root;
	ro.quiet = true;
	run_analysis(&r, &ro);
	build_graph(&r);
	if (pytest_ini_load(&ini, root, &err) < 0) {
		fprintf(stderr, "tach: %s\n", err);
		exit(EXIT_USAGE);
	}
	discover(r.graph, &ini, &tests);
	phase("discover");

	dir = bindir();
	go.root = root;
	rel = strncmp(manifest, root, strlen(root)) == 0 && manifest[strlen(root)] == '/'
	    ? manifest + strlen(root) + 1 : manifest;
	if (rel == manifest) {
		/* its paths are relative to the root, where Ninja must run */
		warn("-o %s: the manifest must be inside %s", o->out, root);
		exit(EXIT_USAGE);
	}
	go.out_rel = rel;
	go.ini_path = ini.path;
	go.python = python;
	go.pytest_args = o->pytest_args.len ? o->pytest_args.data : NULL;
	go.bindir = dir;
	go.cache_url = ro.cache.url && !getenv("TACH_CACHE") ? ro.cache.url : NULL;
	go.cache_prefix = strcmp(ro.cache.prefix, "tach:") != 0 ? ro.cache.prefix : NULL;
	ninja_render(r.graph, &tests, &r.files, &go, &b, &list, &toxic);
	listpath = xconcat(root, "/" TACH_PATH(TACH_TESTS_LIST), NULL);
	dot = path_join(root, TACH_DIR);
	mkdir(dot, 0700);
	free(dot);
	rc = ninja_write(manifest, listpath, &b, &list, &toxic, &err);
	phase("write");
	if (rc >= 0)
		prune_results(root, &list);
	if (rc < 0) {
		fprintf(stderr, "tach: %s\n", err);
		free(err);
		rc = 1;
	} else {
		for (i = 0; i < tests.n; i++)
			nisolated += tests.v[i].toxic;
		if (o->quiet)
			;
		else if (!tests.n)
			fprintf(stderr, "tach: no tests under %s (files matching %s%s)\n", root,
			        ini.python_files.n ? ini.python_files.v[0] : "", ini.python_files.n > 1 ? " ..." : "");
		else if (rc == 1)
			fprintf(stderr, "tach: %zu tests (%zu hypervisor, %zu isolated) in %s\n", tests.n,
			        tests.n - nisolated, nisolated, manifest);
		rc = r.io_error ? 1 : 0;
	}
	if (manifest_out)
		*manifest_out = manifest;
	else
		free(manifest);
	free(listpath);
	free(dir);
	free(python);
	buf_free(&b);
	buf_free(&list);
	buf_free(&toxic);
	tests_free(&tests);
	pytest_ini_free(&ini);
	run_free(&r);
	free(root);
	return rc;
}

static int
cmd_gen(const struct command *cmd, int argc, char **argv)
{
	struct opts o = {0};
	int i;

	i = parse_opts(argc, argv, &o, cmd);
	if (i < argc)
		usage_error(cmd->usage, "unexpected argument '%s'", argv[i]);
	return generate(&o, NULL);
}

/* The Ninja target of a test file or directory given to tach run: its path
 * relative to root ("test" for the root itself). Exits when it is not
 * inside the root. */
static char *
path_target(const char *root, const char *path)
{
	char *abs = realpath(path, NULL), *t;
	size_t n = strlen(root);

	if (!abs) {
		warn("%s:", path);
		exit(EXIT_USAGE);
	}
	if (strcmp(abs, root) == 0) {
		free(abs);
		return xstrdup("test");
	}
	if (strncmp(abs, root, n) != 0 || abs[n] != '/') {
		warn("%s: not inside %s", path, root);
		exit(EXIT_USAGE);
	}
	t = xstrdup(abs + n + 1);
	free(abs);
	return t;
}

static int
cmd_run(const struct command *cmd, int argc, char **argv)
{
	struct opts o = {0};
	char *manifest = NULL, **nargv, *root;
	int i, k, dd, ntargets = 0, rc;

	/* tach's arguments, then -- and Ninja's */
	for (dd = 1; dd < argc && strcmp(argv[dd], "--") != 0; dd++)
		;
	i = parse_opts(dd, argv, &o, cmd);
	rc = generate(&o, &manifest);
	if (rc == EXIT_USAGE)
		return rc;
	root = realpath(o.root, NULL);
	if (!root)
		fatal("%s:", o.root);
	nargv = xcalloc((size_t)argc + 7, sizeof(*nargv));
	k = 0;
	nargv[k++] = "ninja";
	nargv[k++] = "-C";
	nargv[k++] = root;
	nargv[k++] = "-f";
	nargv[k++] = manifest;
	for (k += dd - i, ntargets = i; ntargets < dd; ntargets++)
		nargv[k - (dd - ntargets)] = path_target(root, argv[ntargets]);
	for (ntargets = dd - i, i = dd + 1; i < argc; i++)
		nargv[k++] = argv[i];
	if (!ntargets)
		nargv[k++] = "test";
	fflush(NULL);
	execvp("ninja", nargv);
	warn("ninja:");
	return 1;
}

static int
cmd_hv(const struct command *cmd, int argc, char **argv)
{
	struct opts o = {0};
	int i;

	i = parse_opts(argc, argv, &o, cmd);
	if (i >= argc)
		usage_error(cmd->usage, "%s", "missing 'status' or 'stop'");
	if (i + 1 < argc)
		usage_error(cmd->usage, "unexpected argument '%s'", argv[i + 1]);
	if (strcmp(argv[i], "status") != 0 && strcmp(argv[i], "stop") != 0)
		usage_error(cmd->usage, "unknown hv command '%s'", argv[i]);
	/* the runtime speaks the zygote's protocol; tach only hands over */
	{
		char *run = xconcat(bindir(), "/tach-run", NULL);

		fflush(NULL);
		execl(run, run, "--hv", argv[i], "--root", o.root, (char *)NULL);
		warn("%s:", run);
		return 1;
	}
}

static const struct command commands[] = {
	{"analyze", analyze_usage, OPT_FORMAT, cmd_analyze},
	{"explain", explain_usage, 0, cmd_explain},
	{"cache", cache_usage, OPT_REDIS, cmd_cache},
	{"hv", hv_usage, 0, cmd_hv},
	{"gen", gen_usage, OPT_GEN, cmd_gen},
	{"run", run_usage, OPT_GEN, cmd_run},
};

/* The command called name, or NULL. */
static const struct command *
command_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	const struct command *cmd;

	malloc_tune();
	if (argc < 2) {
		fputs(main_usage, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		cmd = argc > 2 ? command_find(argv[2]) : NULL;
		fputs(cmd ? cmd->usage : main_usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		puts("tach " TACH_VERSION);
		return 0;
	}
	cmd = command_find(argv[1]);
	if (cmd)
		return cmd->fn(cmd, argc - 1, argv + 1);
	fprintf(stderr, "tach: unknown command '%s'\n", argv[1]);
	fputs(main_usage, stderr);
	return EXIT_USAGE;
}
