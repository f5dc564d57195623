/* isolated - tach-isolated, the isolated runtime: one pytest node id in a
 * fresh interpreter, no sandbox.
 *
 *   tach-isolated --root DIR --python PATH --result FILE [--timeout S]
 *                 [--claims FILE] [--pytest-args ARGS] NODEID
 *
 * The child gets its own process group, DIR as its working directory,
 * /dev/null as stdin, stdout and stderr in unlinked temporary files and no
 * other descriptors, and runs `PATH -m pytest -q -p tach_harness
 * --rootdir=. FILE`, FILE being NODEID's test file, with ARGS appended to
 * $PYTEST_ADDOPTS. The harness (runtime/harness.py, installed as
 * tach_harness.py beside this binary) keeps the items NODEID selects
 * ($TACH_SELECT, and $TACH_CLAIMS for a file's first edge: see tach-run)
 * and appends one JSON line per event to $TACH_RESULT_FILE, so the cases
 * that finished survive a crash. A node id naming a parametrized function
 * runs all its cases; one that pytest does not collect is no case.
 *
 * Outcomes the harness cannot report are made here: a case running when
 * the interpreter died of a signal or exited is "crashed" (signal name or
 * exit status, with the last 50 lines of stderr); when --timeout seconds
 * (default 300) pass, the child gets SIGUSR2 (the harness dumps its
 * tracebacks), then the whole process group SIGKILL, and every case that
 * did not report is "timeout"; a node id that does not collect is "error"
 * with pytest's output.
 *
 * No process is left behind: this process is a child subreaper, and after
 * the run it kills the child's process group and then every orphan that
 * was re-parented to it, until it has no child left. SIGINT, SIGTERM and
 * SIGHUP do the same before tach-isolated dies of them.
 *
 * The result file (include/tach/result.h) is written atomically. Failing
 * cases' messages go to stdout. Exit status: 0 when every case passed,
 * skipped or xfailed; 1 otherwise; 2 on a usage error. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "runtime/events.h"
#include "tach/deadline.h"
#include "tach/hv.h"
#include "tach/result.h"
#include "lib/util.h"

#define HARNESS "tach_harness.py"
#define TAIL_BYTES (64 * 1024)
#define GRACE 0.2		/* seconds between SIGUSR2 and SIGKILL on timeout */
#define SWEEP_LIMIT 5.0		/* seconds spent killing orphans at most */

extern char **environ;

struct opts {
	const char *root;
	const char *python;
	const char *result;
	const char *nodeid;
	const char *claims;	/* --claims */
	const char *args;	/* --pytest-args */
	double timeout;
};

/* One run of the child and what it left. */
struct run {
	char *python;		/* absolute or found on PATH */
	char *harness_dir;
	char *tmpdir;
	char *events;		/* the harness's event file */
	int outfd, errfd;
	pid_t pid;
	int status;		/* wait status */
	int timed_out;
	double wall;
	char *out, *err;	/* tails of the child's stdout and stderr */
	char *error;		/* why the child could not be started */
	int pagefd;		/* the deadline page (include/tach/deadline.h) */
	struct tach_deadline *page;
};

static volatile sig_atomic_t got_signal;
static sigset_t orig_mask;

static void
usage(FILE *f)
{
	fputs("usage: tach-isolated --root DIR --python PATH --result FILE [--timeout S] [--claims FILE] "
	    "[--pytest-args ARGS] NODEID\n", f);
}

static void
on_signal(int sig)
{
	got_signal = sig;
}

static int
parse_timeout(const char *s, double *t)
{
	char *end;

	errno = 0;
	*t = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(*t) || *t <= 0 || *t > 1e7)
		return -1;
	return 0;
}

/* Returns 0, or 2 after printing what is wrong with the command line. */
static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"root", required_argument, NULL, 'r'},
		{"python", required_argument, NULL, 'p'},
		{"result", required_argument, NULL, 'o'},
		{"timeout", required_argument, NULL, 't'},
		{"claims", required_argument, NULL, 'c'},
		{"pytest-args", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct stat st;
	int c;

	memset(o, 0, sizeof(*o));
	o->timeout = TACH_DEFAULT_TIMEOUT;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': o->root = optarg; break;
		case 'p': o->python = optarg; break;
		case 'o': o->result = optarg; break;
		case 'c': o->claims = optarg; break;
		case 'a': o->args = *optarg ? optarg : NULL; break;
		case 't':
			if (parse_timeout(optarg, &o->timeout) < 0) {
				warn("--timeout %s: expected a positive number of seconds", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			if (optopt)
				warn("option -%c: unknown or missing its argument", optopt);
			else
				warn("%s: unknown option or missing argument", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (!o->root || !o->python || !o->result) {
		warn("missing %s", !o->root ? "--root DIR" : !o->python ? "--python PATH" : "--result FILE");
		usage(stderr);
		return 2;
	}
	if (optind != argc - 1) {
		if (optind == argc)
			warn("missing NODEID");
		else
			warn("expected one NODEID, got %d", argc - optind);
		usage(stderr);
		return 2;
	}
	o->nodeid = argv[optind];
	if (!*o->nodeid) {
		warn("empty NODEID");
		return 2;
	}
	if (stat(o->root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		warn("--root %s: not a directory", o->root);
		return 2;
	}
	return 0;
}

/* The directory of this binary, where tach_harness.py is installed. */
static char *
find_harness_dir(void)
{
	char exe[PATH_MAX], *slash, *file;
	ssize_t n;
	int ok;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = 0;
	file = path_join(exe, HARNESS);
	ok = access(file, R_OK) == 0;
	free(file);
	return ok ? xstrdup(exe) : NULL;
}

static bool
env_is(const char *entry, const char *name)
{
	size_t n = strlen(name);

	return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

/* The environment of the child: PYTHONPATH starts with the harness's
 * directory and TACH_RESULT_FILE names the event file. */
static char **
child_env(const struct opts *o, const struct run *r)
{
	const char *old = getenv("PYTHONPATH");
	size_t n = 0, i, k = 0;
	char **env;

	const char *addopts = getenv("PYTEST_ADDOPTS");

	while (environ[n])
		n++;
	env = xcalloc(n + 7, sizeof(*env));
	for (i = 0; i < n; i++) {
		if (env_is(environ[i], "PYTHONPATH") || env_is(environ[i], "TACH_RESULT_FILE")
		    || env_is(environ[i], "TACH_SELECT") || env_is(environ[i], "TACH_CLAIMS")
		    || env_is(environ[i], "TACH_DEADLINE_FD")
		    || (o->args && env_is(environ[i], "PYTEST_ADDOPTS")))
			continue;
		env[k++] = xstrdup(environ[i]);
	}
	env[k++] = xconcat("TACH_SELECT=", o->nodeid, NULL);
	if (o->claims)
		env[k++] = xconcat("TACH_CLAIMS=", o->claims, NULL);
	if (o->args)
		env[k++] = xconcat("PYTEST_ADDOPTS=", addopts ? addopts : "", addopts ? " " : "", o->args, NULL);
	if (old && *old)
		env[k++] = xconcat("PYTHONPATH=", r->harness_dir, ":", old, NULL);
	else
		env[k++] = xconcat("PYTHONPATH=", r->harness_dir, NULL);
	env[k++] = xconcat("TACH_RESULT_FILE=", r->events, NULL);
	if (r->page)
		env[k++] = xasprintf("TACH_DEADLINE_FD=%d", TACH_DEADLINE_FD);
	env[k] = NULL;
	return env;
}

static void
free_strv(char **v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

/* In the child: only async-signal-safe calls from here to execve. */
static _Noreturn void
exec_child(const struct opts *o, const struct run *r, char **argv, char **env, int nullfd, pid_t parent)
{
	static const char msg[] = "tach-isolated: cannot start the interpreter\n";
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigprocmask(SIG_SETMASK, &orig_mask, NULL);
	setpgid(0, 0);
	/* a parent killed with SIGKILL takes its child along */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if (dup2(nullfd, 0) < 0 || dup2(r->outfd, 1) < 0 || dup2(r->errfd, 2) < 0)
		_exit(127);
	/* dup2 clears close-on-exec */
	if (r->page && dup2(r->pagefd, TACH_DEADLINE_FD) < 0)
		_exit(127);
	close_from(r->page ? TACH_DEADLINE_FD + 1 : 3);
	if (chdir(o->root) < 0) {
		write(2, msg, sizeof(msg) - 1);
		_exit(127);
	}
	execve(r->python, argv, env);
	write(2, msg, sizeof(msg) - 1);
	_exit(127);
}

/* Lists the children of this process. Returns how many; *pids is freed by
 * the caller. */
static size_t
list_children(pid_t **pids)
{
	char path[64], *data, *p, *end;
	size_t n = 0, cap = 0;
	pid_t self = getpid();
	size_t dlen;
	DIR *d;
	struct dirent *de;
	long v;

	*pids = NULL;
	snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)self);
	if (read_file(path, &data, &dlen) == 0) {
		for (p = data; ; p = end) {
			v = strtol(p, &end, 10);
			if (end == p)
				break;
			*pids = xgrow(*pids, &cap, n + 1, sizeof(**pids));
			(*pids)[n++] = (pid_t)v;
		}
		free(data);
		return n;
	}
	/* kernels without CONFIG_PROC_CHILDREN: every process's parent */
	d = opendir("/proc");
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", atol(de->d_name));
		if (read_file(path, &data, &dlen) < 0)
			continue;
		p = strrchr(data, ')');
		if (p && sscanf(p + 1, " %*c %ld", &v) == 1 && v == self) {
			*pids = xgrow(*pids, &cap, n + 1, sizeof(**pids));
			(*pids)[n++] = (pid_t)atol(de->d_name);
		}
		free(data);
	}
	closedir(d);
	return n;
}

/* Kills and reaps every child of this process, including orphans that were
 * re-parented to it, until none is left. */
static void
sweep(void)
{
	double limit = monotime() + SWEEP_LIMIT;
	struct timespec ms = {0, 1000000};
	pid_t *pids, p;
	size_t n, i;
	int reaped;

	for (;;) {
		n = list_children(&pids);
		for (i = 0; i < n; i++)
			kill(pids[i], SIGKILL);
		free(pids);
		reaped = 0;
		while ((p = waitpid(-1, NULL, WNOHANG)) > 0)
			reaped++;
		if (p < 0 && errno == ECHILD)
			return;
		if (monotime() > limit) {
			warn("some processes the test started could not be killed");
			return;
		}
		if (!reaped)
			nanosleep(&ms, NULL);
	}
}

/* Waits for the child to exit (left as a zombie) until deadline. Returns 1
 * when it exited, 0 at the deadline, -1 when a signal asks us to stop. */
static int
wait_exit(pid_t pid, int pidfd, double deadline)
{
	struct pollfd pfd = {pidfd, POLLIN, 0};
	struct timespec ts;
	siginfo_t si;
	double left;

	for (;;) {
		if (got_signal)
			return -1;
		if (pidfd < 0) {
			memset(&si, 0, sizeof(si));
			if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
				return 1;
		}
		left = deadline - monotime();
		if (left <= 0)
			return 0;
		if (pidfd < 0 && left > 0.01)
			left = 0.01;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		if (ppoll(pidfd >= 0 ? &pfd : NULL, pidfd >= 0 ? 1 : 0, &ts, &orig_mask) > 0)
			return 1;
	}
}

/* The time the test must end by: the harness's for its item, or ours. */
static double
deadline(const struct run *r, double fallback)
{
	return r->page ? tach_deadline_get(r->page, fallback) : fallback;
}

/* When to look at the deadline again. */
static double
next_look(const struct run *r, double fallback)
{
	double d = deadline(r, fallback), soon = monotime() + TACH_DEADLINE_POLL_MS / 1000.0;

	return r->page && soon < d ? soon : d;
}

/* Records (and prints) why the child could not be started: what failed,
 * and errno's words. */
static void
setup_failed(struct run *r, const char *what)
{
	free(r->error);
	if (r->page)
		munmap(r->page, sizeof(*r->page));
	if (r->pagefd >= 0)
		close(r->pagefd);
	r->error = xasprintf("%s: %s", what, strerror(errno));
	warn("%s", r->error);
}

/* Runs the child to its end. Returns 0, -1 on a system error (r->error
 * says which), or the signal number that interrupted us. */
static int
run_child(const struct opts *o, struct run *r)
{
	char *file = xstrndup(o->nodeid, strstr(o->nodeid, "::") ? (size_t)(strstr(o->nodeid, "::") - o->nodeid)
	    : strlen(o->nodeid));
	char *argv[] = {
		r->python, "-m", "pytest", "-q", "-p", "tach_harness", "--rootdir=.", file, NULL,
	};
	char **env = NULL, *path;
	const char *tmp = getenv("TMPDIR");
	int nullfd = -1, pidfd = -1, ret = -1, w;
	double start;

	r->tmpdir = xasprintf("%s/tach-isolated.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(r->tmpdir)) {
		path = xasprintf("cannot make a temporary directory %s", r->tmpdir);
		setup_failed(r, path);
		free(path);
		free(r->tmpdir);
		r->tmpdir = NULL;
		goto out;
	}
	r->events = path_join(r->tmpdir, "events");
	path = path_join(r->tmpdir, "stdout");
	r->outfd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	unlink(path);
	free(path);
	path = path_join(r->tmpdir, "stderr");
	r->errfd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	unlink(path);
	free(path);
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (r->outfd < 0 || r->errfd < 0 || nullfd < 0) {
		path = xasprintf("cannot make temporary files in %s", r->tmpdir);
		setup_failed(r, path);
		free(path);
		goto out;
	}
	/* no page, no marker: the test still ends at our timeout */
	r->pagefd = memfd_create("tach-deadline", MFD_CLOEXEC);
	if (r->pagefd >= 0 && ftruncate(r->pagefd, sizeof(*r->page)) == 0)
		r->page = mmap(NULL, sizeof(*r->page), PROT_READ | PROT_WRITE, MAP_SHARED, r->pagefd, 0);
	if (r->page == MAP_FAILED)
		r->page = NULL;
	if (r->page)
		r->page->default_ns = (uint64_t)(o->timeout * 1e9);
	env = child_env(o, r);

	start = monotime();
	r->pid = fork();
	if (r->pid < 0) {
		setup_failed(r, "cannot fork");
		goto out;
	}
	if (r->pid == 0)
		exec_child(o, r, argv, env, nullfd, getppid());
	setpgid(r->pid, r->pid);
	pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);

	/* the harness moves the deadline item by item: look again at least
	 * every TACH_DEADLINE_POLL_MS */
	while ((w = wait_exit(r->pid, pidfd, next_look(r, start + o->timeout))) == 0 &&
	    monotime() < deadline(r, start + o->timeout))
		;
	if (w == 0) {
		r->timed_out = 1;
		kill(r->pid, SIGUSR2);
		wait_exit(r->pid, pidfd, monotime() + GRACE);
	}
	/* the child itself too: a test may have left its process group */
	kill(r->pid, SIGKILL);
	kill(-r->pid, SIGKILL);
	while (waitpid(r->pid, &r->status, 0) < 0 && errno == EINTR)
		;
	r->wall = monotime() - start;
	sweep();
	ret = w < 0 ? got_signal : 0;
	r->out = read_tail(r->outfd, TAIL_BYTES);
	r->err = read_tail(r->errfd, TAIL_BYTES);
out:
	if (pidfd >= 0)
		close(pidfd);
	if (nullfd >= 0)
		close(nullfd);
	free_strv(env);
	free(file);
	return ret;
}

static void
run_free(struct run *r)
{
	if (r->outfd >= 0)
		close(r->outfd);
	if (r->errfd >= 0)
		close(r->errfd);
	if (r->events)
		unlink(r->events);
	if (r->tmpdir)
		rmdir(r->tmpdir);
	free(r->python);
	free(r->harness_dir);
	free(r->tmpdir);
	free(r->events);
	free(r->out);
	free(r->err);
	free(r->error);
}

/* Reads the harness's event file. */
static void
read_events(const char *path, const char *nodeid, struct events *ev)
{
	char *data, *line, *nl;
	size_t dlen;

	events_init(ev, "isolated", nodeid);
	if (read_file(path, &data, &dlen) < 0)
		return;
	for (line = data; *line; line = nl + 1) {
		nl = strchrnul(line, '\n');
		if (!*nl)
			break;		/* a torn last line */
		events_line(ev, line, (size_t)(nl - line));
	}
	free(data);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct run r = {.outfd = -1, .errfd = -1, .pagefd = -1};
	struct events ev = {0};
	struct result res;
	struct sigaction sa;
	sigset_t block;
	int ret, status = 1, sig;

	progname = "tach-isolated";
	ret = parse_args(argc, argv, &o);
	if (ret)
		return ret;
	r.python = find_program(o.python);
	if (!r.python) {
		warn("--python %s: not an executable", o.python);
		return 2;
	}
	r.harness_dir = find_harness_dir();
	if (!r.harness_dir) {
		warn("cannot find %s beside the tach-isolated binary", HARNESS);
		free(r.python);
		return 1;
	}

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		warn("prctl(PR_SET_CHILD_SUBREAPER):");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &orig_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	result_init(&res, "isolated");
	sig = run_child(&o, &r);
	if (sig > 0) {
		/* interrupted: everything is killed; die of the same signal */
		run_free(&r);
		result_free(&res);
		signal(sig, SIG_DFL);
		sigprocmask(SIG_SETMASK, &orig_mask, NULL);
		raise(sig);
		return 128 + sig;
	}
	if (sig == 0) {
		struct ending e = {
			.nodeid = o.nodeid, .status = r.status, .timed_out = r.timed_out,
			.timeout = o.timeout, .wall = r.wall, .out = r.out, .err = r.err,
		};

		read_events(r.events, o.nodeid, &ev);
		events_result(&ev, &e, &res);
		events_free(&ev);
	} else {
		char *msg = xasprintf("tach-isolated could not run the test: %s",
		    r.error ? r.error : "interrupted");

		result_add(&res, o.nodeid, "error", 0, msg, "", "", NULL);
		free(msg);
	}
	ret = result_write(&res, o.result);
	if (ret < 0) {
		errno = -ret;
		warn("write %s:", o.result);
	} else if (result_ok(&res)) {
		status = 0;
	}
	print_failures(&res);
	result_free(&res);
	run_free(&r);
	return status;
}
