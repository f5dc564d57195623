/* hv_base - the base zygote of tach-hv (see runtime/hv.h for the whole):
 * main, the listening socket, requests, and the sub-zygotes from the
 * base's side. A request is read (base_serve), checked against what the
 * zygote was started with and against the files that changed, and routed
 * (base_route) to the sub-zygote of its test file, which is started when
 * there is none (subz_fork) and holds the request in the base until it has
 * collected its file (subz_hold, subz_message). A change to the base's own
 * files, or a request from another interpreter, options, directory or
 * environment, re-executes tach-hv with the requests it holds
 * (base_reexec). The base never runs test code and never exits on a
 * request's error: the client gets the error, and the base serves on until
 * it is idle or asked to stop (base_shutdown). Only test requests count
 * as activity: `tach hv status` leaves the idle clock alone. A stopped
 * sub-zygote is killed, with its test processes, when SIGCHLD tells of
 * its stop (base_reap), when a request is for it (base_route), or when it
 * has not taken a request in time (subz_check_answers); neither serving
 * nor shutting down ever waits on a stopped process.
 *
 * 983 lines: the base's one poll loop and everything it dispatches to (the
 * start with its census, requests, re-execution, reaping and shutdown)
 * share the `base` state; the sub-zygotes' records and the watches are
 * already apart (hv_subz.c, hv_watch.c). Splitting the start from the loop
 * is next when this file grows. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tach/hv.h"
#include "tach/sandbox.h"
#include "tach/statedir.h"
#include "lib/htab.h"
#include "lib/json.h"
#include "lib/util.h"
#include "runtime/fdpass.h"
#include "runtime/hv.h"
#include "runtime/reset.h"

/* Tries at re-executing a binary that is being rebuilt, 50 ms apart. */
#define REEXEC_TRIES 40


struct base base = {.lfd = -1, .ifd = -1, .dirfd = -1, .sigchld = {-1, -1}};

#if defined(__SANITIZE_ADDRESS__)
/* Under AddressSanitizer (./configure --sanitize) a test's crash must stay
 * a crash: the sanitizer's own handlers would turn a segfault into exit
 * status 1. The interpreter is never finalised, so its memory is not a
 * leak. */
const char *__asan_default_options(void);

const char *
__asan_default_options(void)
{
	return "handle_segv=0:handle_sigbus=0:handle_abort=0:handle_sigfpe=0:handle_sigill=0:"
	    "allow_user_segv_handler=1:detect_leaks=0";
}
#endif

static char *
nodeid_file(const char *spec)
{
	char *nodeid = xstrndup(spec, strcspn(spec, HV_CLAIMS_SEP));
	const char *sep = strstr(nodeid, "::");
	char *file = sep ? xstrndup(nodeid, (size_t)(sep - nodeid)) : xstrdup(nodeid);
	const char *p;

	free(nodeid);
	if (!*file || file[0] == '/')
		goto bad;
	for (p = file; *p; ) {
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == 0))
			goto bad;
		p = strchrnul(p, '/');
		if (*p)
			p++;
	}
	return file;
bad:
	free(file);
	return NULL;
}

/* Answers a request for the files pytest collects (HV_FILES_SPEC) from the
 * base: {"event": "files", "paths": [...]}; the project files the walk
 * imported (conftest.py files) are watched from now on. */
static void
base_reply_files(struct held *h)
{
	struct buf b = {0};
	struct json w;
	char **paths, **imported, *e;
	size_t i;
	int64_t t0;

	/* before the walk: a conftest.py edited while it ran is stale */
	t0 = wall_ns();
	e = py_files(&paths, &imported);
	if (e) {
		reply_error(h->conn, "tach-hv: listing the files pytest collects failed:\n%s", e);
		free(e);
		held_free(h);
		return;
	}
	json_init(&w, &b, false);
	json_object(&w);
	json_key(&w, "event");
	json_string(&w, "files");
	json_key(&w, "paths");
	json_array(&w);
	for (i = 0; paths[i]; i++)
		json_bytes(&w, paths[i]);	/* named again in requests */
	json_end(&w);
	json_end(&w);
	buf_putc(&b, '\n');
	send_all(h->conn, b.data, b.len);
	for (i = 0; imported[i]; i++)
		watch_file(imported[i], -1, t0);
	buf_free(&b);
	strv_free(paths);
	strv_free(imported);
	held_free(h);
}

/* Sends a request to the sub-zygote of its file, starting one if needed. */
void
base_route(struct held *h)
{
	struct sub *s = NULL;
	char *file;
	size_t i;

	if (base.failure) {
		reply_error(h->conn, "%s", base.failure);
		held_free(h);
		return;
	}
	if (base.unsafe && base.clean) {
		reply_error(h->conn, "%s", base.unsafe);
		held_free(h);
		return;
	}
	if (base.unsafe && strcmp(h->nodeid, HV_FILES_SPEC) != 0) {
		hv_reply_toxic(h->conn, base.unsafe);
		held_free(h);
		return;
	}
	if (strcmp(h->nodeid, HV_FILES_SPEC) == 0 && !base.clean) {
		base_reply_files(h);
		return;
	}
	/* the clean zygote has one sub-zygote for every file: it imports
	 * nothing of the project */
	file = base.clean ? xstrdup("") : nodeid_file(h->nodeid);
	if (!file) {
		reply_error(h->conn, "tach-hv: %s: not a node id inside %s", h->nodeid, base.root);
		held_free(h);
		return;
	}
	for (i = 0; i < base.nsubs; i++) {
		if (!base.subs[i]->stale && strcmp(base.subs[i]->file, file) == 0) {
			s = base.subs[i];
			break;
		}
	}
	if (!s) {
		subz_evict();
		s = xcalloc(1, sizeof(*s));
		s->id = base.next_id++;
		s->file = file;
		s->chan = -1;
		s->used = monotime();
		base.subs = xgrow(base.subs, &base.capsubs, base.nsubs + 1, sizeof(*base.subs));
		base.subs[base.nsubs++] = s;
		subz_hold(s, h);
		if (subz_fork(s) < 0)
			subz_failed(s, "could not be started");
		return;
	}
	free(file);
	/* still stopped a moment later: a test that stops its parent and
	 * lets it go at once, or a profiler's pause, is no stopped zygote */
	if (hv_is_stopped(s->pid, base.root)) {
		/* it would never take it; a new one does */
		subz_kill(s, "is stopped");
		base_route(h);
		return;
	}
	s->used = monotime();
	if (!s->ready) {
		subz_hold(s, h);
		return;
	}
	if (subz_forward(s, h) < 0) {
		/* it just died, or its channel is full: a new one takes the
		 * request */
		bool full = errno == EAGAIN || errno == EWOULDBLOCK;

		subz_hold(s, h);
		if (full) {
			subz_kill(s, "reads no requests");
		} else {
			logf_("the zygote of %s is gone; starting another", s->file);
			s->ready = 0;
			s->stale = 1;
			subz_retire(s);
		}
	}
}

/* ---- the base ---- */

/* What a client asks the zygote to be: its interpreter, pytest options,
 * working directory and environment (NULL: ours). */
struct ident {
	const char *python, *args, *cwd;
	char **env;
};

/* When pytest could not start (tach_zygote.start_failure), logs the whole
 * story once and keeps the one line every request is answered with: the
 * zygote stays, watching what pytest read, and starts again when one of
 * those files changes, so a broken configuration costs one failed start,
 * not one per test. */
static void
base_start_failure(void)
{
	const char *last, *e;
	char *t, *line;
	int by_project = 0;

	t = py_start_failure(&by_project);
	if (!t)
		return;
	logf_("pytest could not start:\n%s", t);
	/* the last line that says something: the exception */
	e = t + strlen(t);
	while (e > t && (e[-1] == '\n' || e[-1] == ' '))
		e--;
	last = e;
	while (last > t && last[-1] != '\n')
		last--;
	line = xstrndup(last, (size_t)(e - last));
	base.failure = xasprintf("the zygote could not start: %s\n%s; the whole traceback is in %s/"
	    TACH_PATH(TACH_HV_LOG),
	    line, by_project
	    ? "the cause is in the project (its configuration, options or conftest.py): "
	    "plain pytest fails the same way"
	    : "tach could not start pytest here (plain pytest may not fail): please report it",
	    base.root);
	free(line);
	free(t);
}

/* Replaces this process with a fresh tach-hv that keeps the listening
 * socket and every request not yet forwarded, as id says (NULL: as we
 * are). The sub-zygotes stay our children: they finish their tests and
 * exit, and the new image reaps them (those that ended while it started
 * too: their SIGCHLD came before its handler). */
static _Noreturn void
base_reexec(struct held *extra, const struct ident *id)
{
	const char *python = id ? id->python : base.python;
	const char *args = id ? id->args : base.args;
	char **env = id && id->env ? id->env : environ;
	char **argv = NULL, idle[32], lfd[32];
	size_t n = 0, cap = 0, i, k;
	struct held *hs = NULL;
	size_t nh = 0, caph = 0;
	int tries;

	for (i = 0; i < base.nsubs; i++) {
		struct sub *s = base.subs[i];

		for (k = 0; k < s->nheld; k++) {
			hs = xgrow(hs, &caph, nh + 1, sizeof(*hs));
			hs[nh++] = s->held[k];
		}
		s->nheld = 0;
		if (!s->ready && s->pid > 0)
			kill(s->pid, SIGKILL);
		close(s->chan);
	}
	for (i = 0; i < base.npending; i++) {
		hs = xgrow(hs, &caph, nh + 1, sizeof(*hs));
		hs[nh++] = base.pending[i];
	}
	if (extra && extra->conn >= 0) {
		hs = xgrow(hs, &caph, nh + 1, sizeof(*hs));
		hs[nh++] = *extra;
	}
	snprintf(idle, sizeof(idle), "%d", base.idle);
	snprintf(lfd, sizeof(lfd), "%d", base.lfd);
	argv = xgrow(argv, &cap, 13 + 2 * nh, sizeof(*argv));
	argv[n++] = base.exe;
	if (base.clean)
		argv[n++] = "--clean";
	argv[n++] = "--root";
	argv[n++] = base.root;
	argv[n++] = "--python";
	argv[n++] = (char *)python;
	argv[n++] = "--pytest-args";
	argv[n++] = (char *)args;
	argv[n++] = "--listen-fd";
	argv[n++] = lfd;
	argv[n++] = "--idle";
	argv[n++] = idle;
	fcntl(base.lfd, F_SETFD, 0);
	for (i = 0; i < nh; i++) {
		fcntl(hs[i].conn, F_SETFD, 0);
		fcntl(hs[i].errfd, F_SETFD, 0);
		argv[n++] = "--held";
		argv[n++] = xasprintf("%d:%d:%u:%s", hs[i].conn, hs[i].errfd, hs[i].timeout_ms, hs[i].nodeid);
	}
	argv[n] = NULL;
	fflush(NULL);
	/* the environment's relative PYTHONPATH entries are resolved from
	 * where the client ran, as the user's pytest resolves them */
	if (id && id->cwd && chdir(id->cwd) < 0)
		logf_("chdir %s:", id->cwd);
	/* a binary being rebuilt is briefly missing, busy or not yet
	 * executable: the requests held are worth a few tries */
	for (tries = 0;; tries++) {
		execve(base.exe, argv, env);
		if (tries == REEXEC_TRIES || (errno != ENOENT && errno != EACCES && errno != ETXTBSY && errno != ENOEXEC))
			break;
		sleep_ms(50);
	}
	logf_("re-executing %s:", base.exe);
	_exit(1);
}

/* Takes the lock clients hold while they start a zygote, and removes our
 * socket's name if it is still ours: from then on no client can reach us,
 * and a new one starts its own zygote. */
static void
base_unpublish(void)
{
	struct stat st;
	int lockfd;

	lockfd = openat(base.dirfd, TACH_HV_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	/* a client holds it for a fork; one stopped holding it must not keep
	 * us: the inode says whether the name is still ours */
	if (lockfd >= 0 && lock_wait(lockfd, HV_LOCK_WAIT) < 0)
		logf_(TACH_HV_LOCK " not taken in %d s; going on without it:", HV_LOCK_WAIT);
	if (fstatat(base.dirfd, TACH_HV_SOCK, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino == base.sock_ino)
		unlinkat(base.dirfd, TACH_HV_SOCK, 0);
	if (lockfd >= 0)
		close(lockfd);
}

static void
base_remove_pidfile(void)
{
	if (hv_pid(base.dirfd) == (long)getpid())
		unlinkat(base.dirfd, TACH_HV_PID, 0);
}

/* Waits for every child to end: the sub-zygotes finish their tests, each
 * within its timeout, but one that is stopped never would: it is killed,
 * at SIGCHLD for a stop by a signal, and when seen stopped for one by a
 * debugger (not reported to a parent; looked at each second). */
static void
base_wait_children(void)
{
	struct pollfd p = {.fd = base.sigchld[0], .events = POLLIN};
	char drain[64];
	pid_t pid, *kids;
	size_t n, i;
	int status;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG | WUNTRACED);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			return;		/* none left */
		if (pid > 0) {
			if (WIFSTOPPED(status)) {
				logf_("zygote %ld is stopped: killed it", (long)pid);
				hv_kill_zygote(pid);
			}
			continue;
		}
		kids = proc_children(getpid(), &n);
		for (i = 0; i < n; i++) {
			if (proc_stopped(kids[i])) {
				logf_("zygote %ld is stopped: killed it", (long)kids[i]);
				hv_kill_zygote(kids[i]);
			}
		}
		free(kids);
		if (poll(&p, 1, 1000) > 0)
			while (read(base.sigchld[0], drain, sizeof(drain)) > 0)
				;
	}
}

/* Stops serving: clients still in the backlog get no answer (they start a
 * new zygote), the sub-zygotes finish their tests, then we exit. */
static _Noreturn void
base_shutdown(const char *why)
{
	int conn;

	logf_("stopping: %s", why);
	base_unpublish();
	while ((conn = accept4(base.lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0)
		close(conn);
	close(base.lfd);
	while (base.nsubs > 0) {
		struct sub *s = base.subs[0];

		if (!s->ready && s->pid > 0)
			kill(s->pid, SIGKILL);
		/* unanswered, their clients start a new zygote */
		subz_remove(s);
		subz_free(s);
	}
	base_remove_pidfile();
	base_wait_children();
	logf_("stopped");
	exit(0);
}

/* A process and its descendants: how many, and their proportional set
 * size in kB (-1 when a process's /proc/PID/smaps_rollup cannot be read:
 * not dumpable, and no CAP_SYS_PTRACE). */
static void
tree_usage(pid_t pid, long *nproc, long *pss)
{
	char path[64], *data, *p;
	size_t len, n, i;
	pid_t *kids;

	snprintf(path, sizeof(path), "/proc/%ld/smaps_rollup", (long)pid);
	if (read_file(path, &data, &len) == 0) {
		p = strstr(data, "\nPss:");
		if (p && *pss >= 0)
			*pss += strtol(p + 5, NULL, 10);
		free(data);
	} else if (errno == EACCES || errno == EPERM) {
		*pss = -1;
	} else {
		return;		/* gone meanwhile */
	}
	(*nproc)++;
	kids = proc_children(pid, &n);
	for (i = 0; i < n; i++)
		tree_usage(kids[i], nproc, pss);
	free(kids);
}

static void
base_reply_status(int conn)
{
	struct buf b = {0};
	struct json w;
	size_t i;
	long nproc, pss;

	json_init(&w, &b, false);
	json_object(&w);
	json_key(&w, "event");
	json_string(&w, "status");
	json_key(&w, "pid");
	json_int(&w, getpid());
	json_key(&w, "root");
	json_string(&w, base.root);
	json_key(&w, "python");
	json_string(&w, base.python);
	json_key(&w, "uptime");
	json_fixed(&w, monotime() - base.started, 3);
	json_key(&w, "idle");
	json_fixed(&w, monotime() - base.last, 3);
	json_key(&w, "idle_timeout");
	json_int(&w, base.idle);
	json_key(&w, "requests");
	json_uint(&w, base.requests);
	nproc = 0;
	pss = 0;
	tree_usage(getpid(), &nproc, &pss);
	json_key(&w, "processes");
	json_int(&w, nproc);
	json_key(&w, "pss_kb");
	json_int(&w, pss);
	json_key(&w, "zygotes");
	json_array(&w);
	for (i = 0; i < base.nsubs; i++) {
		json_object(&w);
		json_key(&w, "file");
		json_string(&w, base.subs[i]->file);
		json_key(&w, "pid");
		json_int(&w, base.subs[i]->pid);
		json_key(&w, "ready");
		json_bool(&w, base.subs[i]->ready);
		json_key(&w, "served");
		json_uint(&w, base.subs[i]->served);
		nproc = 0;
		pss = 0;
		tree_usage(base.subs[i]->pid, &nproc, &pss);
		json_key(&w, "processes");
		json_int(&w, nproc);
		json_key(&w, "pss_kb");
		json_int(&w, pss);
		json_end(&w);
	}
	json_end(&w);
	json_end(&w);
	buf_putc(&b, '\n');
	send_all(conn, b.data, b.len);
	buf_free(&b);
}

/* Reads exactly n bytes (the rest of a request). */
static int
read_full(int fd, void *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p = (char *)p + r;
		n -= (size_t)r;
	}
	return 0;
}

/* Serves one connection. */
static void
base_serve(int conn)
{
	struct timeval tv = {.tv_sec = 5};
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct hv_req req;
	struct held h = {.conn = conn, .errfd = -1};
	struct ident id = {0};
	char *payload = NULL, *f[HV_RUN_FIELDS], *p, *end, **env = NULL;
	size_t nenv = 0, capenv = 0, k;
	int fds[FDPASS_MAX], nfds, i;
	ssize_t n;

	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 || cred.uid != geteuid()) {
		logf_("refused a request from uid %ld", (long)cred.uid);
		reply_error(conn, "tach-hv: this zygote serves uid %ld only", (long)geteuid());
		close(conn);
		return;
	}
	setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = fdpass_recv(conn, &req, sizeof(req), fds, &nfds);
	if (n > 0 && (size_t)n < sizeof(req) && read_full(conn, (char *)&req + n, sizeof(req) - (size_t)n) < 0)
		n = -1;
	for (i = 0; i < nfds; i++) {
		if (i == 0 && h.errfd < 0)
			h.errfd = fds[i];
		else
			close(fds[i]);
	}
	if (n <= 0 || req.magic != HV_MAGIC || req.version != HV_VERSION || req.len > HV_MAXPAYLOAD) {
		if (n > 0)
			reply_error(conn, "tach-hv: not a request of protocol version %d", HV_VERSION);
		held_free(&h);
		return;
	}
	payload = xcalloc(1, req.len + 2);
	if (read_full(conn, payload, req.len) < 0) {
		free(payload);
		held_free(&h);
		return;
	}
	switch (req.kind) {
	case HV_STATUS:
		base_reply_status(conn);
		held_free(&h);
		break;
	case HV_STOP:
		/* the connection stays open until we are gone: the client
		 * waits for its end */
		hv_send_event(conn, "stopping", NULL, NULL);
		if (h.errfd >= 0)
			close(h.errfd);
		free(payload);
		base_shutdown("asked to stop");
	case HV_RUN:
		/* only tests keep the zygote: status is no activity */
		base.last = monotime();
		base.requests++;
		/* the fields, then the environment, NUL-terminated strings */
		end = payload + req.len;
		for (p = payload, k = 0; k < HV_RUN_FIELDS; k++) {
			f[k] = p < end ? p : "";
			p = p < end ? p + strlen(p) + 1 : p;
		}
		for (; p < end; p += strlen(p) + 1) {
			env = xgrow(env, &capenv, nenv + 2, sizeof(*env));
			env[nenv++] = p;
		}
		if (h.errfd < 0 || !*f[0]) {
			reply_error(conn, "tach-hv: a run request needs a node id and an output file");
			held_free(&h);
			free(env);
			break;
		}
		/* claims: "" none (asked for directly), "-" empty, else the file */
		h.nodeid = !*f[2] ? xstrdup(f[0])
		    : xconcat(f[0], HV_CLAIMS_SEP, strcmp(f[2], "-") == 0 ? "" : f[2], NULL);
		h.timeout_ms = req.timeout_ms;
		h.deadline = req.timeout_ms ? monotime() + req.timeout_ms / 1000.0 : 0;
		/* nothing changed since the client sent this? */
		watch_read_changes();
		id.python = *f[1] ? f[1] : base.python;
		id.args = f[3];
		id.cwd = *f[4] ? f[4] : NULL;
		if (env)
			env[nenv] = NULL;
		id.env = env;
		if (strcmp(id.python, base.python) != 0 || strcmp(id.args, base.args) != 0
		    || (id.cwd && strcmp(id.cwd, base.cwd) != 0)
		    || (env && hv_env_hash((const char *const *)env) != base.envhash)) {
			/* a zygote started otherwise would not run the tests as
			 * the user's pytest would */
			logf_("a request for %s with other pytest options, directory or environment: "
			    "restarting with them", id.python);
			base_reexec(&h, &id);
		}
		if (base.stale)
			base_reexec(&h, NULL);
		free(env);
		subz_retire_stale();
		base_route(&h);
		break;
	default:
		reply_error(conn, "tach-hv: unknown request %u", req.kind);
		held_free(&h);
	}
	free(payload);
}

/* The earliest deadline among requests waiting for a collection and
 * sub-zygotes that must take a request, or `until` when that is earlier. */
static double
next_deadline(double until)
{
	size_t i, k;

	for (i = 0; i < base.nsubs; i++) {
		for (k = 0; k < base.subs[i]->nheld; k++)
			if (base.subs[i]->held[k].deadline && base.subs[i]->held[k].deadline < until)
				until = base.subs[i]->held[k].deadline;
		if (base.subs[i]->unanswered > 0 && base.subs[i]->answer_by < until)
			until = base.subs[i]->answer_by;
	}
	return until;
}

static int
ms_until(double t)
{
	double ms = (t - monotime()) * 1000 + 1;

	return ms < 0 ? 0 : ms > 1e9 ? 1000000000 : (int)ms;
}

/* A test's timeout covers the collection of its file: a request that
 * waited that long is answered "timeout", and a sub-zygote left with no
 * request to serve is stuck importing: it goes. */
static void
held_expire(void)
{
	double t = monotime();
	size_t i, k, kept;

	for (i = 0; i < base.nsubs; i++) {
		struct sub *s = base.subs[i];
		bool expired = false;

		for (k = kept = 0; k < s->nheld; k++) {
			if (s->held[k].deadline && t >= s->held[k].deadline) {
				logf_("%s: still collecting %s at its timeout", s->held[k].nodeid, s->file);
				hv_send_exit(s->held[k].conn, 0, 0, 1);
				held_free(&s->held[k]);
				expired = true;
			} else {
				s->held[kept++] = s->held[k];
			}
		}
		s->nheld = kept;
		if (expired && !s->ready && s->nheld == 0) {
			if (s->pid > 0)
				kill(s->pid, SIGKILL);
			subz_remove(s);
			subz_free(s);
			i--;
		}
	}
}

/* Reaps the sub-zygotes that ended, and kills those that stopped: a
 * stopped one would take requests and never serve them. */
static void
base_reap(void)
{
	struct sub *s;
	int status;
	pid_t pid;
	size_t i;

	while ((pid = waitpid(-1, &status, WNOHANG | WUNTRACED)) > 0) {
		if (WIFSTOPPED(status) && hv_is_stopped(pid, base.root)) {
			for (i = 0, s = NULL; i < base.nsubs; i++)
				if (base.subs[i]->pid == pid)
					s = base.subs[i];
			if (s) {
				subz_kill(s, "is stopped");
			} else {
				/* retired, or a previous image's */
				logf_("zygote %ld is stopped: killed it", (long)pid);
				hv_kill_zygote(pid);
			}
		} else if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL) {
			logf_("zygote %ld died of signal %d", (long)pid, WTERMSIG(status));
		}
	}
}

/* SIGCHLD wakes the poll through base.sigchld, whatever the moment it
 * comes; base_reap() does the rest. */
static void
on_sigchld(int sig)
{
	int err = errno;
	ssize_t w;

	(void)sig;
	/* when the pipe is full, a wake is pending already */
	w = write(base.sigchld[1], "", 1);
	(void)w;
	errno = err;
}

/* ---- the command line ---- */

static _Noreturn void
usage(void)
{
	fputs("usage: tach-hv --root DIR --python PATH --listen-fd N [--idle S] [--held C:E:T:NODEID]...\n"
	    "       tach-hv --reset-supported\n", stderr);
	exit(2);
}

/* Parses the decimal number at s, from min to max (min >= 0: no sign, no
 * blanks), which must end at the character stop; *rest (when not NULL) is
 * set to that end. Returns 0, or -1 when s does not hold such a number. */
static int
parse_num(const char *s, char stop, long long min, long long max, long long *val, const char **rest)
{
	char *end;
	long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != stop || v < min || v > max)
		return -1;
	*val = v;
	if (rest)
		*rest = end;
	return 0;
}

/* The value of --NAME ARG, a number from min to max, or a usage error. */
static int
option_num(const char *name, const char *arg, int min, int max)
{
	long long v;

	if (parse_num(arg, 0, min, max, &v, NULL) < 0) {
		fprintf(stderr, "tach-hv: --%s: '%s' is not a number from %d to %d\n", name, arg, min, max);
		usage();
	}
	return (int)v;
}

/* Parses --held C:E:T:NODEID, a request a previous image of us held: its
 * connection and output file, its timeout in ms and its spec. */
static int
held_parse(const char *arg, struct held *h)
{
	const char *p;
	long long c, e, t;

	if (parse_num(arg, ':', 0, INT_MAX, &c, &p) < 0 || parse_num(p + 1, ':', 0, INT_MAX, &e, &p) < 0
	    || parse_num(p + 1, ':', 0, UINT32_MAX, &t, &p) < 0)
		return -1;
	h->conn = (int)c;
	h->errfd = (int)e;
	h->timeout_ms = (uint32_t)t;
	h->deadline = t ? monotime() + t / 1000.0 : 0;	/* counted again from here */
	h->nodeid = xstrdup(p + 1);
	fcntl(h->conn, F_SETFD, FD_CLOEXEC);
	fcntl(h->errfd, F_SETFD, FD_CLOEXEC);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"root", required_argument, NULL, 'r'},
		{"python", required_argument, NULL, 'p'},
		{"listen-fd", required_argument, NULL, 'l'},
		{"idle", required_argument, NULL, 'i'},
		{"held", required_argument, NULL, 'H'},
		{"pytest-args", required_argument, NULL, 'a'},
		{"clean", no_argument, NULL, 'c'},
		{"reset-supported", no_argument, NULL, 'R'},
		{NULL, 0, NULL, 0},
	};
	struct held *held = NULL;
	size_t nheld = 0, capheld = 0, i, np, nknown;
	struct pollfd *pfds = NULL;
	pid_t *known;
	size_t cappfds = 0;
	char exe[PATH_MAX], pid[32], *err, **files, *pidfile;
	struct stat st;
	struct sigaction sa;
	char drain[64];
	ssize_t n;
	int c, conn, timeout, rc;
	int64_t t0;

	base.idle = HV_DEFAULT_IDLE;
	base.args = "";
	base.envhash = hv_env_hash((const char *const *)environ);
	base.cwd = getcwd(NULL, 0);
	if (!base.cwd)
		base.cwd = xstrdup("/");
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': base.root = optarg; break;
		case 'p': base.python = optarg; break;
		case 'a': base.args = optarg; break;
		case 'c': base.clean = 1; break;
		case 'R':
			/* whether workers are reset here (runtime/reset.h): nothing, or why not */
			if (reset_supported())
				puts(reset_supported());
			return 0;
		case 'l': base.lfd = option_num("listen-fd", optarg, 0, INT_MAX); break;
		case 'i': base.idle = option_num("idle", optarg, 1, INT_MAX); break;
		case 'H':
			held = xgrow(held, &capheld, nheld + 1, sizeof(*held));
			if (held_parse(optarg, &held[nheld]) < 0) {
				fprintf(stderr, "tach-hv: --held: '%s' is not CONN:ERRFD:TIMEOUT_MS:NODEID\n",
				    optarg);
				usage();
			}
			nheld++;
			break;
		default:
			usage();
		}
	}
	if (!base.root || !base.python || base.lfd < 0 || optind != argc || base.idle <= 0)
		usage();
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		logf_("readlink /proc/self/exe:");
		return 1;
	}
	exe[n] = 0;
	base.exe = exe;
	fcntl(base.lfd, F_SETFD, FD_CLOEXEC);
	/* accept() must never block: the backlog is drained until EAGAIN */
	fcntl(base.lfd, F_SETFL, fcntl(base.lfd, F_GETFL) | O_NONBLOCK);
	if (fstat(base.lfd, &st) == 0)
		base.sock_ino = st.st_ino;
	signal(SIGPIPE, SIG_IGN);
	base.started = base.last = monotime();
	base.files = htab_new();
	base.dirs = htab_new();
	base.dirfd = base.clean ? hv_clean_dir(base.root, 1) : hv_dir(base.root, 1);
	if (base.dirfd < 0) {
		logf_("%s/" TACH_DIR ":", base.root);
		return 1;
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	pidfile = xasprintf("/proc/self/fd/%d/" TACH_HV_PID, base.dirfd);
	if (write_file_atomic(pidfile, pid, strlen(pid), 0600) < 0)
		logf_("writing %s:", pidfile);
	free(pidfile);
	/* the socket's inode, to recognise our name when we unlink it */
	if (fstatat(base.dirfd, TACH_HV_SOCK, &st, 0) == 0)
		base.sock_ino = st.st_ino;

	/* the clean zygote's tests run as in a new interpreter: no dome */
	base.sb = base.clean ? NULL : sandbox_new(&rc);
	if (!base.sb && !base.clean)
		err = xasprintf("cannot build the Iron Dome: %s", strerror(-rc));
	else if (!base.clean && (rc = sandbox_harden()) < 0)
		err = xasprintf("cannot make the zygote non-dumpable: %s", strerror(-rc));
	else
		err = NULL;

	base.ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (!err && base.ifd < 0)
		err = xasprintf("inotify: %s", strerror(errno));
	t0 = wall_ns();
	if (!err)
		err = py_start(base.python, base.exe);
	files = NULL;
	/* the sub-zygotes of a previous image are ours still; what the
	 * configuration leaves behind is told from them */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	known = proc_children(getpid(), &nknown);
	if (!err)
		files = base.clean ? py_clean_init(base.root, base.args, &err) : py_init(base.root, base.args, &err);
	if (err) {
		/* answer everyone waiting, then go */
		logf_("cannot start:\n%s", err);
		base_unpublish();
		for (i = 0; i < nheld; i++) {
			reply_error(held[i].conn, "tach-hv: cannot start the zygote: %s", err);
			held_free(&held[i]);
		}
		while ((conn = accept4(base.lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
			reply_error(conn, "tach-hv: cannot start the zygote: %s", err);
			close(conn);
		}
		base_remove_pidfile();
		free(err);
		return 1;
	}
	if (!base.clean)
		base_start_failure();
	/* the configuration (conftest.py files, plugins) left a thread or a
	 * process: no sub-zygote is forked, every test runs isolated */
	if (!base.failure && !base.clean &&
	    (base.unsafe = hv_unsafe_state("the configuration", known, nknown)))
		logf_("%s; every test runs isolated until a file it read changes", base.unsafe);
	/* the clean zygote forks nothing with a thread in it: its clients
	 * start new interpreters instead */
	if (base.clean && (base.unsafe = hv_unsafe_state("pytest's plugins", known, nknown)))
		logf_("%s; the isolated runtime starts an interpreter per test", base.unsafe);
	if (base.unsafe)
		hv_kill_leftovers(known, nknown);
	free(known);
	for (i = 0; files[i]; i++)
		watch_file(files[i], -1, t0);
	strv_free(files);
	/* a rebuilt tach replaces the zygote too */
	watch_self(t0);
	if (base.failure)
		logf_("answering every test with the failure until a file it read changes");
	else
		logf_("serving %s with %s (ready in %.3f s)", base.root, base.python, monotime() - base.started);
	/* requests a previous image held: anything changed while we started? */
	base.pending = held;
	base.npending = nheld;
	watch_read_changes();
	if (base.stale)
		base_reexec(NULL, NULL);
	base.pending = NULL;
	base.npending = 0;
	/* a sub-zygote that stops or ends wakes us */
	if (pipe2(base.sigchld, O_CLOEXEC | O_NONBLOCK) < 0) {
		logf_("pipe:");
		base_shutdown("no pipe for SIGCHLD");
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART;	/* no other call sees EINTR for it */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	/* a child that ended before there was a handler told nobody: a
	 * previous image's sub-zygotes end as their channels close at the
	 * exec, with their test processes (re-parented to us), while this
	 * image starts */
	base_reap();

	for (i = 0; i < nheld; i++)
		base_route(&held[i]);
	free(held);

	for (;;) {
		pfds = xgrow(pfds, &cappfds, base.nsubs + 3, sizeof(*pfds));
		np = 0;
		pfds[np++] = (struct pollfd){.fd = base.lfd, .events = POLLIN};
		pfds[np++] = (struct pollfd){.fd = base.ifd, .events = POLLIN};
		pfds[np++] = (struct pollfd){.fd = base.sigchld[0], .events = POLLIN};
		for (i = 0; i < base.nsubs; i++)
			pfds[np++] = (struct pollfd){.fd = base.subs[i]->chan, .events = POLLIN};
		timeout = ms_until(next_deadline(base.last + base.idle));
		rc = poll(pfds, np, timeout);
		if (rc < 0 && errno != EINTR) {
			logf_("poll:");
			base_shutdown("poll failed");
		}
		if (rc == 0 && monotime() >= base.last + base.idle)
			base_shutdown("idle");
		if (pfds[1].revents)
			watch_read_changes();
		if (pfds[2].revents)
			while (read(base.sigchld[0], drain, sizeof(drain)) > 0)
				;
		if (base.stale)
			base_reexec(NULL, NULL);
		/* sub-zygotes' messages, by identity: the array changes as we go */
		for (i = 3; i < np; i++) {
			struct sub *s;
			size_t k;

			if (!pfds[i].revents)
				continue;
			for (k = 0, s = NULL; k < base.nsubs; k++)
				if (base.subs[k]->chan == pfds[i].fd)
					s = base.subs[k];
			if (s)
				subz_message(s);
		}
		/* after the messages: a sub-zygote killed here may leave its
		 * channel's number to a new one, whose revents we have not */
		base_reap();
		subz_check_answers();
		subz_retire_stale();
		held_expire();
		if (pfds[0].revents) {
			while ((conn = accept4(base.lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
				base_serve(conn);
		}
	}
}
