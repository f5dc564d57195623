/* main - tach's command line: the usage texts, the options and the
 * command table; each command parses its options and hands them to its
 * pipeline, gen/analysis.c (analyze, explain, cache) or gen/plan.c (gen,
 * run, hv).
 *
 *   tach analyze [--root DIR] [--format text|json] [-j N] [-q] [CACHE OPTIONS]
 *   tach explain [--root DIR] [-j N] [CACHE OPTIONS] MODULE_OR_PATH
 *   tach cache stats|clear [--root DIR] [--redis] [CACHE OPTIONS]
 *   tach gen [--root DIR] [-o FILE] [--python PATH] [-k EXPR] [-m EXPR] ...
 *   tach run [gen options] [PATH...] [-- NINJA_ARGS...]
 *   tach hv status|stop [--root DIR]
 *
 * Exit status: 0 when the analysis ran (Python files that do not parse
 * included), 1 on an I/O error, 2 on a usage or configuration error. tach
 * gen writes its manifest even after an I/O error (an unreadable test
 * directory is an error case of the run); under --regen, Ninja's own
 * regeneration, it then exits 0, so the build goes on to say so. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/rcache.h"
#include "gen/analysis.h"
#include "gen/plan.h"
#include "lib/util.h"

struct opts {
	struct plan_opts gen;   /* --root, -j, -q, the cache options; tach gen's */
	const char *format;
	bool redis;             /* tach cache: act on Redis too */
	struct buf pytest_args; /* tach gen -k/-m/--pytest-args, shell-quoted */
};

#define CACHE_HELP \
	"  --no-cache      analyze every file; read and write no cache\n" \
	"  --cache URL     also use a shared Redis: redis://[[user]:password@]host[:port][/db]\n" \
	"                  or unix:///path/redis.sock (default: $TACH_CACHE)\n" \
	"  --cache-prefix P  key prefix in Redis (default: tach:)\n"

#define POLICY_HELP \
	"  --policy P      precise or strict: which causes make a module toxic\n" \
	"                  (default: [tool.tach] policy, else precise)\n"

static const char analyze_usage[] =
	"usage: tach analyze [--root DIR] [--format text|json] [--policy P] [-j N] [-q]\n"
	"\n"
	"Finds the Python modules under DIR that are unsafe to import into a process\n"
	"that is then forked (threads, sockets, subprocesses, FFI, signals, dynamic\n"
	"imports), follows the import graph and lists every module with its verdict.\n"
	"\n"
	"  --root DIR      project root (default: the current directory)\n"
	"  --format FMT    text (default) or json\n"
	POLICY_HELP
	"  -j, --jobs N    analyze with N threads (default: the number of CPUs)\n"
	"  -q, --quiet     no warnings for files that do not parse\n"
	CACHE_HELP
	"  -h, --help      show this help\n";

static const char explain_usage[] =
	"usage: tach explain [--root DIR] [--policy P] [-j N] MODULE_OR_PATH\n"
	"\n"
	"Prints the chain of imports from a module to the code that makes it toxic,\n"
	"e.g. tests/test_user.py -> auth -> crypto_utils -> ctypes (line 1).\n"
	"MODULE_OR_PATH is a dotted module name or a file path (relative to the\n"
	"root or to the current directory). Each cause says whether it counts under\n"
	"the policy, and why not.\n"
	"\n"
	"  --root DIR      project root (default: the current directory)\n"
	POLICY_HELP
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
	"                [--pytest-args ARGS] [--policy P] [--timeout S] [-j N] [-q]\n"
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
	POLICY_HELP
	"  --timeout S     seconds a test may run unless @pytest.mark.timeout says\n"
	"                  otherwise (default: [tool.tach] timeout, else 300)\n"
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

/* The whole number s, from lo to hi, or a usage error: msg with s. */
static long
parse_whole(const char *usage, const char *s, long lo, long hi, const char *msg)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || end == s || *end || n < lo || n > hi)
		usage_error(usage, msg, s);
	return n;
}

static int
parse_jobs(const char *usage, const char *s)
{
	return (int)parse_whole(usage, s, 1, 1024, "invalid job count '%s'");
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

/* --timeout S: whole seconds, 1 to a week, as [tool.tach] timeout. */
static long
parse_timeout(const char *usage, const char *s)
{
	return parse_whole(usage, s, 1, 7L * 24 * 3600, "--timeout %s: expected whole seconds from 1 to 604800");
}

/* A cache URL that cannot be used is a usage error, whether given with
 * --cache or in $TACH_CACHE; its password never printed. */
static void
check_cache_url(const char *usage, const char *url, bool given)
{
	char why[160], masked[256], *msg;

	if (rcache_check_url(url, why, sizeof(why)) == 0)
		return;
	rcache_mask_url(url, masked, sizeof(masked));
	msg = xasprintf("%s %s: %s", given ? "--cache" : "$TACH_CACHE", masked, why);
	usage_error(usage, "%s", msg);
}

/* The options a command accepts beyond those every command takes (--root,
 * -j, -q, -h and the cache options). */
enum {
	OPT_FORMAT = 1 << 0,    /* --format */
	OPT_REDIS = 1 << 1,     /* --redis */
	OPT_GEN = 1 << 2,       /* -o, -k, -m, --python, --regen, --pytest-args */
	OPT_POLICY = 1 << 3,    /* --policy */
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
		{"policy", required_argument, NULL, 'L'},
		{"timeout", required_argument, NULL, 'T'},
		{NULL, 0, NULL, 0},
	};
	struct analysis_opts *a = &o->gen.an;
	const char *usage = cmd->usage;
	bool gen = cmd->opts & OPT_GEN;
	int c;

	a->root = ".";
	o->format = "text";
	a->jobs = default_jobs();
	a->cache.url = getenv("TACH_CACHE");
	if (a->cache.url && !*a->cache.url)
		a->cache.url = NULL;
	a->cache.prefix = "tach:";
	a->cache.ttl_seconds = 30L * 24 * 3600;
	a->cache.connect_timeout_ms = 100;
	a->cache.op_timeout_ms = 2000;
	a->cache.max_mb = 256;
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
			o->gen.out = optarg;
			break;
		case 'p':
			if (!gen)
				usage_error(usage, "unknown option '%s'", "--python");
			o->gen.python = optarg;
			break;
		case 'T':
			if (!gen)
				usage_error(usage, "unknown option '%s'", "--timeout");
			o->gen.timeout = parse_timeout(usage, optarg);
			break;
		case 'G':
			/* the manifest regenerating itself: its interpreter was
			 * checked when it was first written */
			if (!gen)
				usage_error(usage, "unknown option '%s'", "--regen");
			o->gen.regen = true;
			break;
		case 'L':
			if (!(cmd->opts & OPT_POLICY))
				usage_error(usage, "unknown option '%s'", "--policy");
			if (strcmp(optarg, "precise") != 0 && strcmp(optarg, "strict") != 0)
				usage_error(usage, "unknown policy '%s' (expected precise or strict)", optarg);
			a->policy = optarg;
			break;
		case 'r':
			a->root = optarg;
			break;
		case 'f':
			if (!(cmd->opts & OPT_FORMAT))
				usage_error(usage, "unknown option '%s'", "--format");
			if (strcmp(optarg, "text") != 0 && strcmp(optarg, "json") != 0)
				usage_error(usage, "unknown format '%s' (expected text or json)", optarg);
			o->format = optarg;
			break;
		case 'j':
			a->jobs = parse_jobs(usage, optarg);
			break;
		case 'q':
			a->quiet = true;
			break;
		case 'N':
			a->cache.disabled = true;
			break;
		case 'C':
			a->cache.url = optarg;
			o->gen.cache_url_given = true;
			break;
		case 'P':
			a->cache.prefix = optarg;
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
	o->gen.pytest_args = o->pytest_args.len ? o->pytest_args.data : NULL;
	if (a->cache.url && !a->cache.disabled)
		check_cache_url(usage, a->cache.url, o->gen.cache_url_given);
	return optind;
}

static int
cmd_analyze(const struct command *cmd, int argc, char **argv)
{
	struct opts o = {0};
	int i;

	i = parse_opts(argc, argv, &o, cmd);
	if (i < argc)
		usage_error(cmd->usage, "unexpected argument '%s'", argv[i]);
	return analysis_print(&o.gen.an, strcmp(o.format, "json") == 0);
}

static int
cmd_explain(const struct command *cmd, int argc, char **argv)
{
	struct opts o = {0};
	int i;

	i = parse_opts(argc, argv, &o, cmd);
	if (i >= argc)
		usage_error(cmd->usage, "%s", "missing MODULE_OR_PATH");
	if (i + 1 < argc)
		usage_error(cmd->usage, "unexpected argument '%s'", argv[i + 1]);
	return analysis_explain(&o.gen.an, argv[i]);
}

static int
cmd_cache(const struct command *cmd, int argc, char **argv)
{
	struct opts o = {0};
	const char *what;
	int i;

	i = parse_opts(argc, argv, &o, cmd);
	if (i >= argc)
		usage_error(cmd->usage, "%s", "missing 'stats' or 'clear'");
	what = argv[i];
	if (i + 1 < argc)
		usage_error(cmd->usage, "unexpected argument '%s'", argv[i + 1]);
	if (strcmp(what, "stats") != 0 && strcmp(what, "clear") != 0)
		usage_error(cmd->usage, "unknown cache command '%s'", what);
	return analysis_cache(&o.gen.an, strcmp(what, "clear") == 0, o.redis);
}

static int
cmd_gen(const struct command *cmd, int argc, char **argv)
{
	struct opts o = {0};
	int i;

	i = parse_opts(argc, argv, &o, cmd);
	if (i < argc)
		usage_error(cmd->usage, "unexpected argument '%s'", argv[i]);
	return plan_generate(&o.gen, NULL);
}

static int
cmd_run(const struct command *cmd, int argc, char **argv)
{
	struct opts o = {0};
	char *manifest = NULL;
	int i, dd, rc;

	/* tach's arguments, then -- and Ninja's */
	for (dd = 1; dd < argc && strcmp(argv[dd], "--") != 0; dd++)
		;
	i = parse_opts(dd, argv, &o, cmd);
	rc = plan_generate(&o.gen, &manifest);
	if (rc == EXIT_USAGE)
		return rc;
	return plan_run(&o.gen, manifest, argv + i, dd - i, argv + dd + (dd < argc),
	                dd < argc ? argc - dd - 1 : 0);
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
	return plan_hv(o.gen.an.root, argv[i]);
}

static const struct command commands[] = {
	{"analyze", analyze_usage, OPT_FORMAT | OPT_POLICY, cmd_analyze},
	{"explain", explain_usage, OPT_POLICY, cmd_explain},
	{"cache", cache_usage, OPT_REDIS, cmd_cache},
	{"hv", hv_usage, 0, cmd_hv},
	{"gen", gen_usage, OPT_GEN | OPT_POLICY, cmd_gen},
	{"run", run_usage, OPT_GEN | OPT_POLICY, cmd_run},
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
