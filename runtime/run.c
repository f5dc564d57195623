/* run - tach-run, the one command every test edge calls.
 *
 *   tach-run --mode hypervisor|isolated --root DIR --python PATH
 *            --result FILE [--timeout S] [--claims FILE] [--pytest-args ARGS]
 *            NODEID
 *
 * --claims is given by a manifest's edges: '' for all but the first edge of
 * a test file; for the first, a file with the names (after "FILE::") of
 * every edge of the file: that edge runs the items no edge claimed as well
 * (tests pytest collects that tach gen did not plan, such as classes
 * imported from another test module), and reports what happens to the
 * file as a whole (a collection error, a module-level skip). An edge's
 * node id that pytest does not collect is then no case, only a warning of
 * the summary; without --claims (a node id asked for directly) it is an
 * error, as with `pytest NODEID`.
 * --pytest-args are options added to pytest's command line, as one
 * string split the way a shell would.
 * --error MESSAGE runs nothing: NODEID is one error case with MESSAGE, for
 * what tach gen found that pytest cannot collect (a directory it cannot
 * read); --python and --mode are not needed.
 *
 * isolated: runs tach-isolated (installed beside this binary) with the same
 * arguments: a fresh interpreter for the test.
 *
 * hypervisor: asks the project's zygote (tach-hv, started on demand; see
 * include/tach/hv.h) to fork a sandboxed child for NODEID, reads the
 * harness's events and how the child ended from the connection, and writes
 * the result file. The child's stdout and stderr outside pytest's capture
 * (a crash's traceback from faulthandler) go to an unlinked temporary file
 * passed along with the request, so a crashed test reports its last words.
 * A connection the zygote drops before answering (it was stopped, or died)
 * is retried with a new zygote, and so is a zygote that is found stopped
 * (SIGSTOP, a debugger) while the client waits: it is killed first (see
 * include/tach/hv.h). No wait is without a deadline (START_WAIT).
 *
 * Failing cases are printed to stdout. Exit status: 0 when every case
 * passed, skipped or xfailed; 1 otherwise; 2 on a usage error. With
 * --ninja-stamp FILE (a Ninja test edge's output), FILE is touched when
 * every case succeeded and removed otherwise, and the exit status is 0
 * whenever the result was written: a failing test does not stop the other
 * edges, and without its stamp it runs again next time.
 * TACH_HV_IDLE (seconds) sets a new zygote's idle timeout. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "runtime/events.h"
#include "tach/hv.h"
#include "tach/result.h"
#include "tach/statedir.h"
#include "lib/htab.h"
#include "lib/util.h"

#define TAIL_BYTES (64 * 1024)
#define ATTEMPTS 3
#define TOXIC 3			/* run_hypervisor(): the test wants isolated mode */
#define FALLBACK 4		/* run_hypervisor(): the Iron Dome stopped it; run it isolated */
#define EXEC 5			/* run_hypervisor(clean): run it in a new interpreter instead */
/* A client waits for its zygote's answer twice the test's timeout (the
 * collection of its file, then the test, each within it) and this many
 * seconds more, for a zygote that starts meanwhile (imports pytest and the
 * conftest files). A zygote that takes longer is not working: the test
 * ends in an error, the run goes on. */
#define START_WAIT 120

/* FALLBACK: what the record remembers (the call the Iron Dome stopped, or
 * "zygote"), and the notice's words */
static char *fallback_call, *fallback_why;

struct opts {
	const char *mode;
	const char *root;
	const char *python;
	const char *result;
	const char *nodeid;
	const char *stamp;	/* --ninja-stamp: left on success, exit 0 either way */
	const char *claims;	/* --claims */
	const char *args;	/* --pytest-args */
	const char *closure;	/* --closure: the digest of the test's import closure */
	const char *error;	/* --error: the one case's message; nothing runs */
	int others;		/* --others */
	const char *hv;		/* --hv status|stop */
	struct result *into;	/* run_isolated(): add the cases here */
	double timeout;
};

/* What came back over the connection. */
struct reply {
	struct events ev;
	int got_any;		/* any byte */
	int got_exit;
	int status;		/* wait status built from the exit event */
	int timed_out;
	char *error;		/* the zygote could not run the test */
	int toxic;		/* marked @pytest.mark.toxic, or unsafe: run it isolated */
	int fresh;		/* marked @pytest.mark.fresh: a new interpreter */
	int clean;		/* from the clean zygote: read up to the exit event */
	int expired;		/* no answer, or no end, by the deadline */
	char *unsafe;		/* why its zygote could not fork it, or NULL */
	char *files;		/* the reply to HV_FILES_SPEC */
};

static void
usage(FILE *f)
{
	fputs("usage: tach-run --mode hypervisor|isolated --root DIR --python PATH --result FILE "
	    "[--timeout S] [--ninja-stamp FILE] [--claims FILE] [--pytest-args ARGS] [--closure DIGEST] NODEID\n"
	    "       tach-run --others --root DIR --python PATH --result FILE [...] .\n"
	    "       tach-run --error MESSAGE --root DIR --result FILE [--ninja-stamp FILE] NODEID\n"
	    "       tach-run --hv status|stop --root DIR\n", f);
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"mode", required_argument, NULL, 'm'},
		{"root", required_argument, NULL, 'r'},
		{"python", required_argument, NULL, 'p'},
		{"result", required_argument, NULL, 'o'},
		{"timeout", required_argument, NULL, 't'},
		{"ninja-stamp", required_argument, NULL, 's'},
		{"claims", required_argument, NULL, 'c'},
		{"others", no_argument, NULL, 'O'},
		{"pytest-args", required_argument, NULL, 'a'},
		{"closure", required_argument, NULL, 'C'},
		{"hv", required_argument, NULL, 'H'},
		{"error", required_argument, NULL, 'E'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct stat st;
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->timeout = TACH_DEFAULT_TIMEOUT;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o->mode = optarg; break;
		case 'r': o->root = optarg; break;
		case 'p': o->python = optarg; break;
		case 'o': o->result = optarg; break;
		case 's': o->stamp = optarg; break;
		case 'c': o->claims = optarg; break;
		case 'O': o->others = 1; break;
		case 'a': o->args = optarg; break;
		case 'C': o->closure = optarg; break;
		case 'H': o->hv = optarg; break;
		case 'E': o->error = optarg; break;
		case 't':
			errno = 0;
			o->timeout = strtod(optarg, &end);
			if (errno || end == optarg || *end || !isfinite(o->timeout) || o->timeout <= 0
			    || o->timeout > 4e6) {
				warn("--timeout %s: not a positive number of seconds", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (o->hv) {
		/* `tach hv`: the zygote's control, here so that only the
		 * runtime speaks the wire protocol */
		if (!o->root || optind != argc
		    || (strcmp(o->hv, "status") != 0 && strcmp(o->hv, "stop") != 0)) {
			usage(stderr);
			return 2;
		}
		return 0;
	}
	if (o->error && !o->mode)
		o->mode = "hypervisor";		/* where the manifest's tests run by default */
	if (!o->mode || !o->root || (!o->python && !o->error) || !o->result || optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	o->nodeid = argv[optind];
	if (o->claims && *o->claims) {
		/* the runtimes read it from the root, not from here */
		static char abs[PATH_MAX];

		if (!realpath(o->claims, abs)) {
			warn("--claims %s:", o->claims);
			return 2;
		}
		o->claims = abs;
	}
	if (strcmp(o->mode, "hypervisor") != 0 && strcmp(o->mode, "isolated") != 0) {
		warn("--mode %s: expected hypervisor or isolated", o->mode);
		return 2;
	}
	if (stat(o->root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		warn("--root %s: not a directory", o->root);
		return 2;
	}
	if (!*o->nodeid) {
		warn("empty node id");
		return 2;
	}
	return 0;
}

/* The directory this binary lives in. */
static char *
self_dir(void)
{
	char exe[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return NULL;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = 0;
	return xstrdup(exe);
}

static struct timespec started;	/* CLOCK_REALTIME when tach-run began */

/* Leaves the Ninja stamp when the test succeeded, removes it otherwise:
 * a test without its stamp runs again on the next `ninja test`. */
static int
stamp(const char *path, int ok)
{
	int fd;

	if (!path)
		return 0;
	if (!ok)
		return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ENOENT) {
		make_parents(path);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	}
	if (fd < 0)
		return -1;
	/* the time the test started, not now: a file edited while the test
	 * ran is newer than the stamp, and the test runs again */
	futimens(fd, (const struct timespec[2]){started, started});
	close(fd);
	return 0;
}

/* The Iron Dome stopped the test in hypervisor mode: says so on stderr,
 * and, with remember and a --closure, leaves the record that makes the next
 * `tach gen` plan it isolated while its import closure stays the same. */
static void
fallback_notice(const struct opts *o, int remember)
{
	char h[17], *path = NULL, *rec;

	if (remember && o->closure) {
		snprintf(h, sizeof(h), "%016llx", (unsigned long long)hash_str(o->nodeid, strlen(o->nodeid)));
		path = xconcat(o->root, "/" TACH_PATH(TACH_FALLBACK) "/", h, NULL);
		rec = xasprintf("%s\t%s\t%s\n", o->closure, fallback_call, o->nodeid);
		make_parents(path);
		if (write_file_atomic(path, rec, strlen(rec), 0644) < 0) {
			warn("%s:", path);
			free(path);
			path = NULL;
		}
		free(rec);
	}
	fprintf(stderr, "tach: %s: %s; ran it isolated%s\n", o->nodeid, fallback_why,
	    path ? " (remembered until its imports change)" : "");
	free(path);
	free(fallback_call);
	free(fallback_why);
	fallback_call = fallback_why = NULL;
}

/* Whether a record says the Iron Dome stopped this test in hypervisor mode
 * while its import closure was what --closure says it is now. */
static int
remembered(const struct opts *o)
{
	char h[17], *path, *data, *tab;
	size_t len;
	int yes;

	if (!o->closure)
		return 0;
	snprintf(h, sizeof(h), "%016llx", (unsigned long long)hash_str(o->nodeid, strlen(o->nodeid)));
	path = xconcat(o->root, "/" TACH_PATH(TACH_FALLBACK) "/", h, NULL);
	yes = read_file(path, &data, &len) == 0;
	free(path);
	if (!yes)
		return 0;
	tab = strchr(data, '\t');
	yes = tab && (size_t)(tab - data) == strlen(o->closure) && memcmp(data, o->closure, strlen(o->closure)) == 0 &&
	      strstr(tab, o->nodeid);
	free(data);
	return yes;
}

/* Runs tach-isolated (installed beside this binary) for the test. Without
 * a stamp to leave this process becomes it; with one it waits for it. */
static int
run_isolated(const struct opts *o)
{
	char *dir = self_dir(), *iso, timeout[32];
	char *argv[16] = {
		NULL, "--root", (char *)o->root, "--python", (char *)o->python, "--result",
		(char *)o->result, "--timeout", timeout,
	};
	int n = 9;
	int status;
	pid_t pid;

	if (!dir) {
		warn("cannot find this binary's directory:");
		return 1;
	}
	iso = path_join(dir, "tach-isolated");
	free(dir);
	snprintf(timeout, sizeof(timeout), "%.17g", o->timeout);
	argv[0] = iso;
	if (o->claims) {
		argv[n++] = "--claims";
		argv[n++] = (char *)o->claims;
	}
	if (o->args) {
		argv[n++] = "--pytest-args";
		argv[n++] = (char *)o->args;
	}
	argv[n++] = (char *)o->nodeid;
	argv[n] = NULL;
	if (!o->stamp && !o->into) {
		execv(iso, argv);
		warn("exec %s:", iso);
		free(iso);
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		execv(iso, argv);
		warn("exec %s:", iso);
		_exit(127);
	}
	free(iso);
	if (pid < 0) {
		warn("fork:");
		return 1;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			warn("waitpid:");
			return 1;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) > 1)
		return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	if (o->into)
		return result_read(o->into, o->result) < 0 ? 1 : 0;
	if (stamp(o->stamp, WEXITSTATUS(status) == 0) < 0) {
		warn("%s:", o->stamp);
		return 1;
	}
	return 0;
}

/* A file for the child's stdout and stderr outside pytest's capture: in
 * memory (no file system's inode made and freed a test), else unnamed in
 * $TMPDIR. */
static int
open_errfile(void)
{
	const char *tmp = getenv("TMPDIR");
	char *path;
	int fd;

	fd = memfd_create("tach-run-output", MFD_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (!tmp || !*tmp)
		tmp = "/tmp";
	fd = open(tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	path = xconcat(tmp, "/tach-run.XXXXXX", NULL);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	free(path);
	return fd;
}

static void
exit_event(struct reply *rp, const cJSON *obj)
{
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
	const char *sig = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "signal"));
	const char *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "error"));
	const cJSON *signo = cJSON_GetObjectItemCaseSensitive(obj, "signo");

	rp->got_exit = 1;
	if (error) {
		free(rp->error);
		rp->error = xstrdup(error);
		return;
	}
	rp->timed_out = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, "timeout"));
	if (sig && cJSON_IsNumber(signo))
		rp->status = W_EXITCODE(0, signo->valueint & 0x7f);
	else if (cJSON_IsNumber(status))
		rp->status = W_EXITCODE(status->valueint & 0xff, 0);
}

/* Under TACH_HV_VERIFY (tests), a worker's reset is checked after the
 * test's finish event, and a reset that left memory unlike the snapshot
 * makes the exit event an error: read up to it. */
static int
verify_resets(void)
{
	const char *v = getenv("TACH_HV_VERIFY");

	return v && *v && strcmp(v, "0") != 0;
}

/* Reads the reply of the zygote under dirfd, serving root: event lines,
 * then the exit event, until deadline. While nothing came, a zygote found
 * stopped is killed: the connection then ends unanswered (the caller
 * starts another), unless a sub-zygote had taken the request. Once the
 * test process answers, the zygote's state is no part of the reply. */
static void
read_reply(int sock, struct reply *rp, int dirfd, const char *root, double deadline)
{
	struct buf b = {0};
	char *line, *nl, *end;
	size_t scanned = 0;	/* bytes of b known to hold no newline */
	cJSON *obj;
	const char *kind;
	long pid = 0, none = 0;
	int w;

	for (;;) {
		w = rp->got_any ? hv_wait(sock, -1, root, deadline, &none)
		    : hv_wait(sock, dirfd, root, deadline, &pid);
		if (w == 0) {
			rp->expired = 1;
			break;
		}
		if (w < 0) {
			hv_replace_stopped(dirfd, root, rp->clean, pid);
			pid = 0;
			continue;
		}
		if (buf_read(&b, sock, 65536) <= 0)
			break;
		rp->got_any = 1;
		end = b.data + b.len;
		/* a huge line arrives in many reads: look for its end in the new
		 * bytes only */
		if (!memchr(b.data + scanned, '\n', b.len - scanned)) {
			scanned = b.len;
			continue;
		}
		for (line = b.data; (nl = memchr(line, '\n', (size_t)(end - line))); line = nl + 1) {
			if (nl - line > 16 && memcmp(line, "{\"event\": \"exit\"", 16) == 0) {
				*nl = 0;
				obj = cJSON_Parse(line);
				kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "event"));
				if (kind && strcmp(kind, "exit") == 0)
					exit_event(rp, obj);
				cJSON_Delete(obj);
				continue;
			}
			if (nl - line >= 17 && memcmp(line, "{\"event\": \"toxic\"", 17) == 0) {
				/* a reason: the zygote was not safe to fork; none:
				 * the test is marked toxic */
				*nl = 0;
				obj = cJSON_Parse(line);
				kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "reason"));
				rp->toxic = 1;
				if (kind)
					rp->unsafe = xstrdup(kind);
				cJSON_Delete(obj);
				goto out;
			}
			if (nl - line >= 17 && memcmp(line, "{\"event\": \"fresh\"", 17) == 0) {
				rp->fresh = 1;
				goto out;
			}
			if (nl - line > 17 && memcmp(line, "{\"event\": \"files\"", 17) == 0) {
				rp->files = xstrndup(line, (size_t)(nl - line));
				rp->got_exit = 1;
				goto out;
			}
			events_line(&rp->ev, line, (size_t)(nl - line));
			/* a clean zygote's test ends when its leftovers are gone,
			 * which its exit event says */
			if (rp->ev.finished && !rp->clean && !verify_resets()) {
				/* the test process is done: its exit, which the
				 * zygote would report next, tells nothing more */
				rp->got_exit = 1;
				goto out;
			}
		}
		memmove(b.data, line, (size_t)(end - line));
		b.len = (size_t)(end - line);
		scanned = b.len;
	}
out:
	buf_free(&b);
}

/* Runs the test in the hypervisor, or with clean in the clean zygote (the
 * isolated runtime forked from an interpreter that has imported pytest and
 * nothing of the project). Returns 0 with the cases in res, TOXIC,
 * FALLBACK, EXEC (clean: run it in a new interpreter), or an exit status. */
static int
run_hypervisor(const struct opts *o, struct result *res, char **files, int clean)
{
	struct hv_spawn sp = {.root = o->root};
	struct reply rp;
	struct ending e = {.nodeid = o->nodeid, .timeout = o->timeout, .out = ""};
	char *dir, *python, *err = NULL, *tail = NULL, *rootabs, *msg;
	const char *idle = getenv("TACH_HV_IDLE");
	struct buf payload = {0};
	double start = monotime(), deadline = start + 2 * o->timeout + START_WAIT;
	long pid;
	int dirfd, sock, errfd, attempt, ret = 0, errnum;

	python = find_program(o->python);
	if (!python) {
		warn("--python %s: not an executable", o->python);
		return 2;
	}
	rootabs = realpath(o->root, NULL);
	dir = self_dir();
	if (!rootabs || !dir) {
		warn("%s:", o->root);
		free(python);
		free(dir);
		free(rootabs);
		return 1;
	}
	sp.root = rootabs;
	sp.python = python;
	sp.hv = path_join(dir, "tach-hv");
	sp.idle = idle ? atoi(idle) : 0;
	sp.args = o->args;
	sp.clean = clean;
	/* claims on the wire: "" none given, "-" given empty, else the file */
	hv_run_payload(&payload, o->nodeid, python, !o->claims ? "" : *o->claims ? o->claims : "-", o->args);

	memset(&rp, 0, sizeof(rp));
	rp.clean = clean;
	events_init(&rp.ev, clean ? "isolated" : "hypervisor", o->nodeid);
	dirfd = clean ? hv_clean_dir(rootabs, 1) : hv_dir(rootabs, 1);
	errfd = open_errfile();
	if (dirfd < 0 || errfd < 0) {
		err = dirfd < 0 ? xasprintf("%s/" TACH_DIR ": %s", rootabs, private_dir_error(errno))
		                : xasprintf("temporary file: %s", strerror(errno));
		goto out;
	}
	for (attempt = 0; attempt < ATTEMPTS; attempt++) {
		sock = hv_connect_or_spawn(dirfd, &sp, &err);
		if (sock < 0)
			goto out;
		if (hv_send(sock, HV_RUN, (uint32_t)(o->timeout * 1000), payload.data, (uint32_t)payload.len,
		    errfd) < 0) {
			errnum = errno;
			close(sock);
			if (errnum == EPIPE || errnum == ECONNRESET)
				continue;	/* the zygote went away */
			if (errnum == EAGAIN && (pid = hv_pid(dirfd)) > 0 && hv_is_stopped(pid, rootabs)) {
				hv_replace_stopped(dirfd, rootabs, clean, pid);
				continue;
			}
			err = xasprintf("send to the zygote: %s", strerror(errnum));
			goto out;
		}
		read_reply(sock, &rp, dirfd, rootabs, deadline);
		close(sock);
		if (rp.got_any || rp.expired)
			break;
		/* dropped before answering: a zygote stopping; start another */
	}
	if (rp.expired && !rp.got_any)
		err = xasprintf("no answer from the zygote in %.0f s; see %s/" TACH_PATH(TACH_HV_LOG),
		    deadline - start, rootabs);
	else if (!rp.got_any)
		err = xasprintf("the zygote closed the connection %d times without an answer; "
		    "see %s/" TACH_PATH(TACH_HV_LOG), ATTEMPTS, rootabs);
out:
	e.wall = monotime() - start;
	if (files && rp.files) {
		*files = rp.files;
		rp.files = NULL;
	} else if (clean && (err || rp.error || rp.fresh)) {
		/* the clean zygote could not, or the test wants its own
		 * interpreter */
		if (!rp.fresh)
			fprintf(stderr, "tach-run: the clean zygote could not run %s (%s); starting an interpreter for it\n",
			    o->nodeid, err ? err : rp.error);
		ret = EXEC;
	} else if (rp.toxic && rp.unsafe) {
		fallback_why = rp.unsafe;
		rp.unsafe = NULL;
		fallback_call = xstrdup("zygote");
		ret = FALLBACK;
	} else if (rp.toxic) {
		ret = TOXIC;
	} else if (err) {
		msg = xasprintf("tach-run: the hypervisor could not run the test: %s", err);
		result_add(res, o->nodeid, "error", e.wall, msg, "", "", NULL);
		free(msg);
	} else if (rp.error) {
		result_add(res, o->nodeid, "error", e.wall, rp.error, "", "", NULL);
	} else {
		tail = read_tail(errfd, TAIL_BYTES);
		e.err = tail;
		e.status = rp.status;
		e.timed_out = rp.timed_out;
		if (!rp.got_exit)
			e.lost = rp.expired ? "the zygote did not report the test's end in time"
			    : "the zygote was lost before the test process ended";
		if (rp.ev.denied && !files) {
			/* not what pytest would say: run it where the call is allowed */
			fallback_why = xasprintf("the Iron Dome stopped %s(2) in hypervisor mode", rp.ev.denied);
			fallback_call = rp.ev.denied;
			rp.ev.denied = NULL;
			ret = FALLBACK;
		} else {
			events_result(&rp.ev, &e, res);
		}
	}
	events_free(&rp.ev);
	if (dirfd >= 0)
		close(dirfd);
	if (errfd >= 0)
		close(errfd);
	free(rp.error);
	free(rp.unsafe);
	free(rp.files);
	free(tail);
	free(err);
	buf_free(&payload);
	free((char *)sp.hv);
	free(python);
	free(dir);
	free(rootabs);
	return ret;
}

/* Adds the lines of ROOT/.tach/NAME to set; with list, each line's node id
 * (tests.list: result TAB node id) cut to its file. The keys point into the
 * file's text, returned for the caller to free after the set. */
static char *
read_lines(const char *root, const char *name, int list, struct htab *set)
{
	char *path = xconcat(root, "/" TACH_DIR "/", name, NULL), *data, *line, *next, *id;
	size_t len;

	if (read_file(path, &data, &len) < 0) {
		free(path);
		return NULL;
	}
	free(path);
	for (line = data; line < data + len; line = next) {
		next = memchr(line, '\n', (size_t)(data + len - line));
		if (next)
			*next++ = 0;
		else
			next = data + len;
		id = line;
		if (list) {
			id = strchr(line, '\t');
			if (!id)
				continue;
			id++;
			if (strstr(id, "::"))
				*strstr(id, "::") = 0;
		}
		if (*id)
			*htab_slot(set, id) = set;
	}
	return data;
}

/* Appends path to a Makefile-style dependency line, escaped as Ninja's
 * depfile parser reads it. Returns -1, appending nothing, when that parser
 * cannot read it back: a byte it ends a name at ('|', a quote, '&', a tab, a
 * newline...), a backslash, or a ':' that would end a target. */
static int
dep_path(struct buf *b, const char *path)
{
	const char *p;

	for (p = path; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == ':' && (p[1] == ' ' || !p[1]))
			return -1;
		if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("+,/_:.~(){}%=@[]!- #$", c)))
			return -1;
	}
	buf_putc(b, ' ');
	for (; *path; path++) {
		if (*path == ' ' || *path == '#')
			buf_putc(b, '\\');
		else if (*path == '$')
			buf_putc(b, '$');
		buf_putc(b, *path);
	}
	return 0;
}

/* --others: the files pytest collects that the manifest plans no edge for
 * (doctest modules and text files, a plugin's kinds of file, a test file
 * outside python_files given in testpaths), asked of the zygote, each run
 * as a node id of its own: in the hypervisor, or isolated when tach gen
 * found the module toxic (.tach/toxic.list). The files run are written to
 * a depfile beside the stamp, so Ninja runs the edge again when one of
 * them changes; when one cannot be written there (a newline in its name),
 * *untracked is set: the edge leaves no stamp, and runs again every time. */
static int
run_others(const struct opts *o, struct result *res, int *untracked)
{
	struct htab *planned = htab_new(), *toxic = htab_new();
	char *plannedtext, *toxictext, *json = NULL, *tmp = NULL, *dep;
	struct result got;
	struct opts f;
	struct buf deps = {0};
	cJSON *obj, *paths, *p;
	int ret = 0, rc;
	size_t i;

	plannedtext = read_lines(o->root, TACH_TESTS_LIST, 1, planned);
	toxictext = read_lines(o->root, TACH_TOXIC_LIST, 0, toxic);
	f = *o;
	f.nodeid = HV_FILES_SPEC;
	f.claims = NULL;
	result_init(&got, "hypervisor");
	ret = run_hypervisor(&f, &got, &json, 0);
	for (i = 0; i < got.n; i++) {
		/* the zygote could not say: one error, under the root's name */
		result_add(res, ".", "error", 0, got.cases[i].message, "", "", NULL);
	}
	result_free(&got);
	if (ret || !json)
		goto out;
	if (o->stamp) {
		buf_puts(&deps, o->stamp);
		buf_putc(&deps, ':');
	}
	obj = cJSON_Parse(json);
	paths = cJSON_GetObjectItemCaseSensitive(obj, "paths");
	tmp = xconcat(o->result, ".part", NULL);
	cJSON_ArrayForEach(p, paths) {
		const char *path = cJSON_GetStringValue(p);
		char *abs;

		if (!path || htab_get(planned, path))
			continue;
		abs = path_join(o->root, path);
		if (dep_path(&deps, abs) < 0)
			*untracked = 1;
		free(abs);
		f = *o;
		f.nodeid = path;
		f.claims = NULL;
		f.stamp = NULL;
		f.result = tmp;
		f.into = res;
		rc = htab_get(toxic, path) ? TOXIC : run_hypervisor(&f, res, NULL, 0);
		if (rc == FALLBACK)
			fallback_notice(&f, 0);
		if ((rc == TOXIC || rc == FALLBACK) && run_isolated(&f) != 0)
			result_add(res, path, "error", 0, "tach-run: the isolated runtime could not run it",
			    "", "", NULL);
		unlink(tmp);
	}
	cJSON_Delete(obj);
	if (o->stamp) {
		buf_putc(&deps, '\n');
		dep = xconcat(o->stamp, ".d", NULL);
		if (write_file_atomic(dep, deps.data, deps.len, 0644) < 0)
			warn("%s:", dep);
		free(dep);
	}
out:
	res->complete = true;
	htab_free(planned);
	htab_free(toxic);
	free(plannedtext);
	free(toxictext);
	free(json);
	free(tmp);
	buf_free(&deps);
	return ret;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct result res;
	int ret, status, untracked = 0;

	progname = "tach-run";
	clock_gettime(CLOCK_REALTIME, &started);
	ret = parse_args(argc, argv, &o);
	if (ret)
		return ret;
	if (o.hv)
		return hv_command(o.hv, o.root);
	signal(SIGPIPE, SIG_IGN);
	result_init(&res, "hypervisor");
	ret = 0;
	if (o.error)
		result_add(&res, o.nodeid, "error", 0, o.error, "", "", NULL);
	else if (strcmp(o.mode, "isolated") == 0 || (!o.others && remembered(&o)))
		ret = TOXIC;
	else
		ret = o.others ? run_others(&o, &res, &untracked) : run_hypervisor(&o, &res, NULL, 0);
	if (ret == FALLBACK) {
		fallback_notice(&o, 1);
		ret = TOXIC;
	}
	if (ret == TOXIC) {
		/* the isolated runtime: forked from the clean zygote, or a new
		 * interpreter (TACH_ISOLATED=exec, @pytest.mark.fresh, or when
		 * the clean zygote cannot) */
		const char *how = getenv("TACH_ISOLATED");

		result_free(&res);
		result_init(&res, "isolated");
		ret = how && strcmp(how, "exec") == 0 ? EXEC : run_hypervisor(&o, &res, NULL, 1);
		if (ret == EXEC || ret == FALLBACK || ret == TOXIC) {
			result_free(&res);
			return run_isolated(&o);
		}
	}
	if (ret) {
		result_free(&res);
		return ret;
	}
	ret = result_write(&res, o.result);
	if (ret < 0) {
		errno = -ret;
		warn("write %s:", o.result);
		status = 1;
	} else if (o.stamp) {
		/* under Ninja the summary reports failures; the other tests go on */
		status = stamp(o.stamp, result_ok(&res) && !untracked) < 0 ? 1 : 0;
		if (status)
			warn("%s:", o.stamp);
	} else {
		status = result_ok(&res) ? 0 : 1;
	}
	print_failures(&res);
	result_free(&res);
	return status;
}
