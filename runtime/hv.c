/* hv - tach-hv, the hypervisor runtime: a tree of zygotes serving one
 * project root.
 *
 *   tach-hv --root DIR --python PATH --listen-fd N [--idle S] [--held C:E:T:NODEID]...
 *
 * Started by tach-run (runtime/hvclient.c) with the listening socket as fd N,
 * detached: its own session, stdin /dev/null, output to .tach/hv.log.
 *
 * The base zygote embeds CPython configured as PATH would be (its prefix,
 * so a virtualenv's site-packages are used), imports pytest and configures
 * it in ROOT (conftest.py files at the root, plugins, ini options;
 * runtime/zygote.py). For each test file it forks a sub-zygote that
 * collects that file with pytest's own machinery; the sub-zygote forks one
 * child per request. A child loads the Iron Dome (runtime/sandbox.c), runs
 * the node id's items through pytest's runtest protocol, writing the
 * harness's events straight to the client's connection, and _exits; its
 * sub-zygote reaps it and appends how it ended. Neither zygote runs test
 * code, and a child's death is only ever a result.
 *
 * Nothing stale is ever used. Each zygote reports the files it depends on
 * (the project's modules it imported, configuration, conftest.py, the test
 * file), and the base watches their directories with inotify. Before a
 * request is routed, the pending events are read: a sub-zygote whose files
 * changed is retired (it finishes what it runs, then exits) and the next
 * request for its file gets a new one; a change to the base's own files
 * re-executes tach-hv, keeping the listening socket and the requests it
 * holds (--held), so clients never notice. A file changed while a zygote
 * was importing it (its mtime falls inside the import) counts as changed.
 * Requests for a sub-zygote still collecting wait in the base, so none
 * reaches a zygote before its files are checked.
 *
 * Requests come from the uid of this process only (SO_PEERCRED). After
 * --idle seconds without a request (HV_DEFAULT_IDLE), or a STOP request,
 * the base removes the socket under .tach/hv.lock (a client that connected
 * before gets no answer and starts a new zygote), lets the sub-zygotes
 * finish, and exits. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tach/hv.h"
#include "tach/sandbox.h"
#include "tach/util.h"

#define GRACE 0.2		/* seconds between SIGUSR2 and SIGKILL at a timeout */
#define MAXSUBS 64		/* sub-zygotes kept; the least recently used goes */
#define CHUNK 16384		/* bytes of file list per message */
#define MTIME_SLACK 10000000	/* ns: file times come from a coarse clock */
#define WARM_AFTER 5		/* ms a spare waits for a request before warming up */

/* A request that waits in the base for its sub-zygote. */
struct held {
	int conn, errfd;
	uint32_t timeout_ms;
	char *nodeid;
	double deadline;	/* while it waits for a collecting sub-zygote; 0: none */
};

struct sub {
	long id;
	char *file;		/* the test file, relative to the root */
	pid_t pid;
	int chan;		/* SOCK_SEQPACKET to the sub-zygote */
	int ready;		/* its files are checked: requests go through */
	int stale;
	struct held *held;
	size_t nheld, capheld;
	double used;
	unsigned long served;
	int64_t t0;		/* when it started importing, ns since the epoch */
};

/* A watched file and the zygotes that depend on it (-1: the base). */
struct wfile {
	char *path;
	long *owners;
	size_t n, cap;
};

/* A watched directory and the zygotes that depend on a file in it. */
struct wdir {
	int wd;
	char *path;
	long *owners;
	size_t n, cap;
};

static struct {
	char *root, *python, *exe;
	char *args;		/* the options tach passes to pytest */
	char *cwd;		/* where the client that started us ran */
	uint64_t envhash;	/* of the environment we were started with */
	char *failure;		/* pytest could not start: every request's answer */
	int lfd, ifd, dirfd;
	int idle;
	struct sub **subs;
	size_t nsubs, capsubs;
	long next_id;
	struct htab *files;	/* path -> struct wfile */
	struct htab *dirs;	/* path -> struct wdir */
	struct wdir **wds;	/* by watch descriptor */
	size_t capwds;
	int base_stale;
	double started, last;
	unsigned long requests;
	struct sandbox *sb;
	PyObject *zygote;
	struct held *pending;	/* requests not yet routed, kept by reexec() */
	size_t npending;
	ino_t sock_ino;
} hv = {.lfd = -1, .ifd = -1, .dirfd = -1};

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

static int64_t
wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line to the log (stderr), stamped with the pid. */
static void
logf_(const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(fmt);
	int err = errno;

	fprintf(stderr, "tach-hv[%ld]: ", (long)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (n > 0 && fmt[n - 1] == ':')
		fprintf(stderr, " %s", strerror(err));
	fputc('\n', stderr);
	fflush(stderr);
}

static void
send_all(int fd, const char *s, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;		/* the client is gone; nothing to tell */
		s += w;
		n -= (size_t)w;
	}
}

/* Tells a client its request could not be run at all. */
static void
reply_error(int conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
reply_error(int conn, const char *fmt, ...)
{
	struct buf b = {0};
	va_list ap;
	char *msg;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	msg = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(msg, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf_puts(&b, "{\"event\": \"exit\", \"error\": ");
	json_string(&b, msg);
	buf_puts(&b, "}\n");
	send_all(conn, b.data, b.len);
	buf_free(&b);
	free(msg);
}

static void
held_free(struct held *h)
{
	if (h->conn >= 0)
		close(h->conn);
	if (h->errfd >= 0)
		close(h->errfd);
	free(h->nodeid);
	h->conn = h->errfd = -1;
	h->nodeid = NULL;
}

/* ---- Python ---- */

/* The pending Python exception as text (with its traceback), cleared. */
static char *
py_error(void)
{
	PyObject *type, *value, *tb, *mod = NULL, *lines = NULL, *text = NULL, *empty = NULL;
	const char *s;
	char *ret;

	PyErr_Fetch(&type, &value, &tb);
	PyErr_NormalizeException(&type, &value, &tb);
	if (!type)
		return xstrdup("unknown Python error");
	mod = PyImport_ImportModule("traceback");
	if (mod)
		lines = PyObject_CallMethod(mod, "format_exception", "OOO", type,
		    value ? value : Py_None, tb ? tb : Py_None);
	empty = PyUnicode_FromString("");
	if (lines && empty)
		text = PyUnicode_Join(empty, lines);
	s = text ? PyUnicode_AsUTF8(text) : NULL;
	ret = xstrdup(s ? s : "Python error (its traceback could not be formatted)");
	PyErr_Clear();
	Py_XDECREF(mod);
	Py_XDECREF(lines);
	Py_XDECREF(text);
	Py_XDECREF(empty);
	Py_XDECREF(type);
	Py_XDECREF(value);
	Py_XDECREF(tb);
	return ret;
}

static PyObject *
tach_take_denied(PyObject *self, PyObject *args)
{
	const char *name;
	int nr;

	(void)self;
	(void)args;
	nr = sandbox_take_denied(NULL);
	name = nr >= 0 ? sandbox_denied_name(nr) : NULL;
	if (nr >= 0 && !name)
		return PyUnicode_FromFormat("syscall %d", nr);
	if (!name)
		Py_RETURN_NONE;
	return PyUnicode_FromString(name);
}

static PyMethodDef tach_methods[] = {
	{"take_denied", tach_take_denied, METH_NOARGS,
	    "The name of the first system call the Iron Dome denied since the last call, or None."},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef tach_module = {
	PyModuleDef_HEAD_INIT, "_tach", "tach's hypervisor.", -1, tach_methods,
	NULL, NULL, NULL, NULL,
};

static PyObject *
init_tach_module(void)
{
	return PyModule_Create(&tach_module);
}

/* Starts the interpreter as hv.python would start, with tach's Python
 * files (installed beside this binary) importable. */
static char *
python_start(void)
{
	PyConfig config;
	PyStatus st;
	PyObject *path, *dir;
	char *exedir, *slash;

	if (PyImport_AppendInittab("_tach", init_tach_module) < 0)
		return xstrdup("cannot register the _tach module");
	PyConfig_InitPythonConfig(&config);
	config.install_signal_handlers = 0;
	config.parse_argv = 0;
	st = PyConfig_SetBytesString(&config, &config.program_name, hv.python);
	if (!PyStatus_Exception(st))
		st = PyConfig_SetBytesString(&config, &config.executable, hv.python);
	if (!PyStatus_Exception(st))
		st = PyConfig_SetBytesArgv(&config, 1, (char *const[]){hv.python, NULL});
	if (!PyStatus_Exception(st))
		st = Py_InitializeFromConfig(&config);
	PyConfig_Clear(&config);
	if (PyStatus_Exception(st))
		return xasprintf("cannot start Python as %s: %s", hv.python,
		    st.err_msg ? st.err_msg : "unknown error");
	exedir = xstrdup(hv.exe);
	slash = strrchr(exedir, '/');
	if (slash)
		*slash = 0;
	path = PySys_GetObject("path");
	dir = PyUnicode_DecodeFSDefault(exedir);
	free(exedir);
	if (!path || !dir || PyList_Insert(path, 0, dir) < 0) {
		Py_XDECREF(dir);
		return py_error();
	}
	Py_DECREF(dir);
	hv.zygote = PyImport_ImportModule("tach_zygote");
	if (!hv.zygote)
		return py_error();
	return NULL;
}

/* Calls tach_zygote.FN(arg) and returns the list of files it returns,
 * NULL-terminated, or NULL with the error in *err. */
static char **
python_files(const char *fn, const char *arg, char **err)
{
	PyObject *res, *item;
	Py_ssize_t i, n;
	const char *s;
	char **files;

	if (strcmp(fn, "init") == 0)
		res = PyObject_CallMethod(hv.zygote, fn, "ss", arg, hv.args);
	else
		res = PyObject_CallMethod(hv.zygote, fn, "s", arg);
	fflush(stdout);
	fflush(stderr);
	if (!res || !PyList_Check(res)) {
		Py_XDECREF(res);
		*err = PyErr_Occurred() ? py_error() : xasprintf("tach_zygote.%s: not a list", fn);
		return NULL;
	}
	n = PyList_GET_SIZE(res);
	files = xcalloc((size_t)n + 1, sizeof(*files));
	for (i = 0; i < n; i++) {
		item = PyList_GET_ITEM(res, i);
		s = PyUnicode_Check(item) ? PyUnicode_AsUTF8(item) : NULL;
		files[i] = xstrdup(s ? s : "");
	}
	PyErr_Clear();
	Py_DECREF(res);
	return files;
}

static void
strv_free(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* ---- the sub-zygote ---- */

static void
exit_event(int conn, int status, int timed_out)
{
	char line[256], name[64];
	const char *abbrev;

	if (WIFSIGNALED(status)) {
		abbrev = sigabbrev_np(WTERMSIG(status));
		if (abbrev)
			snprintf(name, sizeof(name), "\"SIG%s\"", abbrev);
		else
			snprintf(name, sizeof(name), "\"signal %d\"", WTERMSIG(status));
		snprintf(line, sizeof(line), "{\"event\": \"exit\", \"status\": null, \"signal\": %s, "
		    "\"signo\": %d, \"timeout\": %s}\n", name, WTERMSIG(status), timed_out ? "true" : "false");
	} else {
		snprintf(line, sizeof(line), "{\"event\": \"exit\", \"status\": %d, \"signal\": null, "
		    "\"signo\": null, \"timeout\": %s}\n", WEXITSTATUS(status), timed_out ? "true" : "false");
	}
	send_all(conn, line, strlen(line));
}

/* Receives one message with up to two descriptors. Returns its length, 0
 * at EOF, -1 on error. */
static ssize_t
recv_fds(int sock, void *data, size_t len, int *fds, int *nfds)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = data, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
	    .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *cm;
	ssize_t n;
	int i, k;

	*nfds = 0;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*nfds < 2)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
	return n;
}

static int
send_fds(int sock, const void *data, size_t len, const int *fds, int nfds)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;
	ssize_t n;

	if (nfds > 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -1 : 0;
}

/* Message from the base to a sub-zygote: 'Q', the timeout, the node id;
 * with the connection and the client's output file. */
struct qmsg {
	char type;
	uint32_t timeout_ms;
	char nodeid[65536];	/* the spec */
};

/* A test process of a sub-zygote. A spare is forked ahead of its request
 * and waits on sock for it, already sandboxed and warmed up. */
struct child {
	pid_t pid;
	int pidfd, conn, sock;	/* conn: the client's, once assigned */
	double deadline;	/* 0: none */
	int warned, timed_out;
	int killed;		/* its client is gone */
};

/* Calls tach_zygote.FN(ARGS...) in a test process; a failure there is
 * tach's, not the test's: it is reported on stderr and the process exits. */
static void
child_call(PyObject *res, const char *fn)
{
	char *e;

	if (res) {
		Py_DECREF(res);
		return;
	}
	e = py_error();
	dprintf(2, "tach-hv: %s failed in the test process:\n%s", fn, e);
	free(e);
	fflush(NULL);
	_exit(124);
}

/* In a fresh child of a sub-zygote: the dome, then the test. conn < 0
 * makes a spare, which warms up and then takes its request from sock.
 * Never returns. */
static _Noreturn void
child_main(int conn, int errfd, const char *nodeid, int sock, int chan, pid_t parent,
    const struct child *kids, size_t nkids)
{
	struct qmsg *q;
	int fds[2], nfds, rc;
	ssize_t n;
	size_t i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(125);
	close(chan);
	for (i = 0; i < nkids; i++) {
		/* the other tests' descriptors are theirs */
		if (kids[i].conn >= 0)
			close(kids[i].conn);
		if (kids[i].sock >= 0)
			close(kids[i].sock);
		if (kids[i].pidfd >= 0)
			close(kids[i].pidfd);
	}
	rc = sandbox_load(hv.sb);
	PyOS_AfterFork_Child();
	if (rc < 0) {
		dprintf(2, "tach-hv: cannot load the Iron Dome: %s\n", strerror(-rc));
		_exit(125);
	}
	if (conn < 0) {
		struct pollfd p = {.fd = sock, .events = POLLIN};

		child_call(PyObject_CallMethod(hv.zygote, "prepare", NULL), "prepare");
		/* idle: spend the wait copying the pages a test writes */
		if (poll(&p, 1, WARM_AFTER) == 0)
			child_call(PyObject_CallMethod(hv.zygote, "warm", NULL), "warm");
		q = xmalloc(sizeof(*q));
		n = recv_fds(sock, q, sizeof(*q) - 1, fds, &nfds);
		if (n <= (ssize_t)offsetof(struct qmsg, nodeid) || nfds != 2)
			_exit(0);	/* not needed after all */
		((char *)q)[n] = 0;
		close(sock);
		conn = fds[0];
		errfd = fds[1];
		nodeid = q->nodeid;
	}
	child_call(PyObject_CallMethod(hv.zygote, "run", "sii", nodeid, conn, errfd), "run");
	fflush(NULL);
	_exit(0);
}

/* Forks a test process: for the request (conn, errfd, nodeid), or a spare
 * when conn < 0. */
static struct child *
sub_fork_child(int chan, struct child **kids, size_t *nkids, size_t *capkids, int conn, int errfd,
    const char *nodeid)
{
	struct child *c;
	pid_t pid, self = getpid();
	int sv[2] = {-1, -1};

	if (conn < 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return NULL;
	fflush(NULL);
	PyOS_BeforeFork();
	pid = fork();
	if (pid == 0) {
		if (sv[0] >= 0)
			close(sv[0]);
		child_main(conn, errfd, nodeid, sv[1], chan, self, *kids, *nkids);
	}
	PyOS_AfterFork_Parent();
	if (sv[1] >= 0)
		close(sv[1]);
	if (pid < 0) {
		if (sv[0] >= 0)
			close(sv[0]);
		return NULL;
	}
	*kids = xgrow(*kids, capkids, *nkids + 1, sizeof(**kids));
	c = &(*kids)[(*nkids)++];
	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	c->conn = conn;
	c->sock = sv[0];
	return c;
}

/* Runs a request: in the spare if there is one, else in a new child. */
static void
sub_run(int chan, struct child **kids, size_t *nkids, size_t *capkids, struct qmsg *q, size_t qlen,
    int conn, int errfd)
{
	struct child *c = NULL;
	int fds[2] = {conn, errfd};
	PyObject *ans;
	const char *text;
	size_t i;

	/* nothing to run (deselected, not collected, a broken or skipped
	 * file): the answer costs no process */
	ans = PyObject_CallMethod(hv.zygote, "answer", "s", q->nodeid);
	text = ans && PyUnicode_Check(ans) ? PyUnicode_AsUTF8(ans) : NULL;
	if (!ans) {
		char *e = py_error();

		logf_("tach_zygote.answer failed:\n%s", e);
		free(e);
	}
	if (text) {
		send_all(conn, text, strlen(text));
		exit_event(conn, 0, 0);
		Py_DECREF(ans);
		close(conn);
		close(errfd);
		return;
	}
	Py_XDECREF(ans);
	PyErr_Clear();
	for (i = 0; i < *nkids; i++) {
		if ((*kids)[i].sock >= 0) {
			c = &(*kids)[i];
			if (send_fds(c->sock, q, qlen, fds, 2) == 0)
				break;
			close(c->sock);	/* a dead spare: reaped when its pidfd says so */
			c->sock = -1;
			c = NULL;
		}
	}
	if (c) {
		close(c->sock);
		c->sock = -1;
		c->conn = conn;
	} else {
		c = sub_fork_child(chan, kids, nkids, capkids, conn, errfd, q->nodeid);
		if (!c) {
			reply_error(conn, "tach-hv: fork: %s", strerror(errno));
			close(conn);
			close(errfd);
			return;
		}
	}
	close(errfd);
	c->deadline = q->timeout_ms ? monotime() + q->timeout_ms / 1000.0 : 0;
}
/* Sends the base the files this sub-zygote depends on, then 'R'. */
static void
sub_report(int chan, char **files)
{
	struct buf b = {0};
	size_t i;

	buf_putc(&b, 'F');
	for (i = 0; files[i]; i++) {
		if (b.len + strlen(files[i]) + 1 > CHUNK && b.len > 1) {
			send_fds(chan, b.data, b.len, NULL, 0);
			b.len = 1;
		}
		buf_add(&b, files[i], strlen(files[i]) + 1);
	}
	if (b.len > 1)
		send_fds(chan, b.data, b.len, NULL, 0);
	send_fds(chan, "R", 1, NULL, 0);
	buf_free(&b);
}

static _Noreturn void
sub_main(const char *file, int chan)
{
	struct child *kids = NULL;
	struct pollfd *pfds = NULL;
	size_t nkids = 0, capkids = 0, cappfds = 0, i, np, running;
	struct qmsg *q = xmalloc(sizeof(*q));
	char **files, *err = NULL;
	int open_chan = 1, fds[2], nfds, timeout, status, spare;
	double t, next;
	ssize_t n;

	files = python_files("collect", file, &err);
	if (!files) {
		/* the errors are per test; this is tach_zygote itself failing */
		logf_("collecting %s failed:\n%s", file, err);
		free(err);
		_exit(1);
	}
	sub_report(chan, files);
	strv_free(files);

	for (;;) {
		running = 0;
		spare = 0;
		for (i = 0; i < nkids; i++) {
			if (kids[i].sock >= 0)
				spare = 1;
			else
				running++;
		}
		if (!open_chan && running == 0)
			break;
		/* while no test runs, the next test process gets ready */
		if (open_chan && !spare && running == 0)
			sub_fork_child(chan, &kids, &nkids, &capkids, -1, -1, NULL);
		pfds = xgrow(pfds, &cappfds, 2 * nkids + 1, sizeof(*pfds));
		np = 0;
		pfds[np++] = (struct pollfd){.fd = open_chan ? chan : -1, .events = POLLIN};
		t = monotime();
		next = 0;
		for (i = 0; i < nkids; i++) {
			pfds[np++] = (struct pollfd){.fd = kids[i].pidfd, .events = POLLIN};
			if (kids[i].deadline && (!next || kids[i].deadline < next))
				next = kids[i].deadline;
		}
		/* a client that went away (ninja interrupted) takes its test along */
		for (i = 0; i < nkids; i++)
			pfds[np++] = (struct pollfd){.fd = kids[i].killed ? -1 : kids[i].conn, .events = POLLRDHUP};
		timeout = next ? (int)((next - t) * 1000) + 1 : -1;
		if (next && timeout < 0)
			timeout = 0;
		/* kernels without pidfd_open: look at the children every so often */
		for (i = 0; i < nkids; i++)
			if (kids[i].pidfd < 0 && (timeout < 0 || timeout > 50))
				timeout = 50;
		if (poll(pfds, np, timeout) < 0 && errno != EINTR)
			break;

		t = monotime();
		for (i = 0; i < nkids; i++) {
			struct child *c = &kids[i];

			if (c->conn >= 0 && !c->killed && (pfds[1 + nkids + i].revents & (POLLRDHUP | POLLHUP | POLLERR))) {
				kill(c->pid, SIGKILL);
				c->killed = 1;
				c->deadline = 0;
			}
			if (c->deadline && t >= c->deadline) {
				if (!c->warned) {
					/* the harness dumps tracebacks on SIGUSR2 */
					kill(c->pid, SIGUSR2);
					c->warned = 1;
					c->deadline = t + GRACE;
				} else {
					kill(c->pid, SIGKILL);
					c->timed_out = 1;
					c->deadline = 0;
				}
			}
			if ((c->pidfd < 0 || pfds[1 + i].revents) && waitpid(c->pid, &status, WNOHANG) == c->pid) {
				if (c->conn >= 0) {
					exit_event(c->conn, status, c->timed_out);
					close(c->conn);
				} else if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0) {
					logf_("a spare test process of %s died (status %d)", file, status);
				}
				if (c->sock >= 0)
					close(c->sock);
				if (c->pidfd >= 0)
					close(c->pidfd);
				c->pid = 0;
			}
		}
		for (i = 0; i < nkids;) {
			if (kids[i].pid == 0)
				kids[i] = kids[--nkids];
			else
				i++;
		}

		if (open_chan && pfds[0].revents) {
			n = recv_fds(chan, q, sizeof(*q) - 1, fds, &nfds);
			if (n <= 0) {
				/* retired: finish the tests, let the spare go */
				open_chan = 0;
				close(chan);
				for (i = 0; i < nkids; i++) {
					if (kids[i].sock >= 0) {
						close(kids[i].sock);
						kids[i].sock = -1;
					}
				}
			} else if (q->type == 'Q' && nfds == 2 && n > (ssize_t)offsetof(struct qmsg, nodeid)) {
				((char *)q)[n] = 0;
				sub_run(chan, &kids, &nkids, &capkids, q, (size_t)n, fds[0], fds[1]);
			} else {
				for (i = 0; i < (size_t)nfds; i++)
					close(fds[i]);
			}
		}
	}
	free(q);
	free(kids);
	free(pfds);
	fflush(NULL);
	_exit(0);
}

/* ---- watching files ---- */

/* Adds owner to a list of owners (-1 is the base). */
static long *
add_owner(long *owners, size_t *n, size_t *cap, long owner)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (owners[i] == owner)
			return owners;
	owners = xgrow(owners, cap, *n + 1, sizeof(*owners));
	owners[(*n)++] = owner;
	return owners;
}

static struct sub *
sub_by_id(long id)
{
	size_t i;

	for (i = 0; i < hv.nsubs; i++)
		if (hv.subs[i]->id == id)
			return hv.subs[i];
	return NULL;
}

static void
mark_stale(long owner, const char *why)
{
	struct sub *s;

	if (owner < 0) {
		if (!hv.base_stale)
			logf_("%s changed: restarting", why);
		hv.base_stale = 1;
		return;
	}
	s = sub_by_id(owner);
	if (s && !s->stale) {
		logf_("%s changed: retiring the zygote of %s", why, s->file);
		s->stale = 1;
	}
}

/* Watches path for owner. A file whose mtime falls at or after t0 (the
 * owner began importing) changed under it: the owner is stale at once. */
static void
watch_file(const char *path, long owner, int64_t t0)
{
	struct wfile *f;
	struct wdir *d;
	struct stat st;
	char *dir, *slash;
	int wd;

	f = htab_get(hv.files, path);
	if (!f) {
		f = xcalloc(1, sizeof(*f));
		f->path = xstrdup(path);
		*htab_slot(hv.files, f->path) = f;	/* keys are borrowed */
	}
	f->owners = add_owner(f->owners, &f->n, &f->cap, owner);

	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = 0;
	d = htab_get(hv.dirs, dir);
	if (!d) {
		d = xcalloc(1, sizeof(*d));
		d->wd = -1;
		d->path = dir;
		*htab_slot(hv.dirs, d->path) = d;
		dir = NULL;
	}
	if (d->wd < 0) {
		wd = inotify_add_watch(hv.ifd, d->path, IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM
		    | IN_CREATE | IN_DELETE | IN_ATTRIB | IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF
		    | IN_ONLYDIR);
		d->wd = wd;
		if (wd >= 0) {
			hv.wds = xgrow(hv.wds, &hv.capwds, (size_t)wd + 1, sizeof(*hv.wds));
			hv.wds[wd] = d;
		} else if (errno != ENOENT && errno != ENOTDIR) {
			/* ENOSPC: out of watches; changes there would go unseen */
			logf_("cannot watch %s (%s): raise fs.inotify.max_user_watches", d->path,
			    strerror(errno));
		}
	}
	d->owners = add_owner(d->owners, &d->n, &d->cap, owner);
	free(dir);
	if (stat(path, &st) == 0) {
		int64_t m = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		int64_t c = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
		int64_t t1 = wall_ns();

		if ((m >= t0 - MTIME_SLACK && m <= t1) || (c >= t0 - MTIME_SLACK && c <= t1))
			mark_stale(owner, path);
	}
}

static int
ignored_name(const char *name)
{
	return name[0] == '.' || strcmp(name, "__pycache__") == 0;
}

static int
config_name(const char *name)
{
	static const char *const names[] = {
		"pyproject.toml", "pytest.ini", "tox.ini", "setup.cfg", NULL,
	};
	size_t i, n = strlen(name);

	for (i = 0; names[i]; i++)
		if (strcmp(name, names[i]) == 0)
			return 1;
	return n > 3 && strcmp(name + n - 3, ".py") == 0;
}

/* Reads every pending inotify event and marks the zygotes that depend on
 * what changed. A file appearing, going or moving in a watched directory
 * may change what an import finds, so it retires every owner of the
 * directory. */
static void
read_changes(void)
{
	char data[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	struct wfile *f;
	struct wdir *d;
	ssize_t n;
	char *path, *p;
	size_t i;

	for (;;) {
		n = read(hv.ifd, data, sizeof(data));
		if (n <= 0)
			return;
		for (p = data; p < data + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				/* events were lost: trust nothing */
				mark_stale(-1, "(inotify overflow)");
				continue;
			}
			if (ev->wd < 0 || (size_t)ev->wd >= hv.capwds || !(d = hv.wds[ev->wd]))
				continue;
			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
				path = xstrdup(d->path);
				if (ev->mask & IN_IGNORED) {
					/* the watch is gone with its directory: a directory
					 * made again under that name needs a new one */
					hv.wds[ev->wd] = NULL;
					d->wd = -1;
				}
			} else {
				if (!ev->len || ignored_name(ev->name))
					continue;
				path = path_join(d->path, ev->name);
			}
			f = htab_get(hv.files, path);
			if (f) {
				for (i = 0; i < f->n; i++)
					mark_stale(f->owners[i], path);
			}
			if (!f && (ev->mask & (IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM
			    | IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) && (!ev->len || (ev->mask & IN_ISDIR)
			    || config_name(ev->name))) {
				/* a module or package appearing or going: every owner
				 * of a file in this directory (a file replaced by a
				 * rename concerns only its own owners, above) */
				for (i = 0; i < d->n; i++)
					mark_stale(d->owners[i], path);
			}
			free(path);
		}
	}
}

/* Watches tach's own files: this binary and the Python beside it. */
static void
watch_self(int64_t t0)
{
	static const char *const mine[] = {"tach_harness.py", "tach_zygote.py", "tach_compat.py", NULL};
	char *dir = xstrdup(hv.exe), *slash = strrchr(dir, '/'), *path;
	size_t i;

	watch_file(hv.exe, -1, t0);
	if (slash) {
		*slash = 0;
		for (i = 0; mine[i]; i++) {
			path = path_join(dir, mine[i]);
			watch_file(path, -1, t0);
			free(path);
		}
	}
	free(dir);
}

/* ---- sub-zygotes ---- */

/* Closes, in a new sub-zygote, every descriptor of the base that is not
 * its own: the listening socket, the watches, the other sub-zygotes'
 * channels and the requests they hold. */
static void
sub_close_base(const struct sub *self)
{
	size_t i, k;

	close(hv.lfd);
	close(hv.ifd);
	close(hv.dirfd);
	for (i = 0; i < hv.nsubs; i++) {
		const struct sub *s = hv.subs[i];

		if (s != self)
			close(s->chan);
		for (k = 0; k < s->nheld; k++) {
			close(s->held[k].conn);
			close(s->held[k].errfd);
		}
	}
}

static void
sub_free(struct sub *s)
{
	size_t i;

	if (s->chan >= 0)
		close(s->chan);
	for (i = 0; i < s->nheld; i++)
		held_free(&s->held[i]);
	free(s->held);
	free(s->file);
	free(s);
}

static void
sub_remove(struct sub *s)
{
	size_t i;

	for (i = 0; i < hv.nsubs; i++) {
		if (hv.subs[i] == s) {
			hv.subs[i] = hv.subs[--hv.nsubs];
			break;
		}
	}
}

static void
sub_hold(struct sub *s, struct held *h)
{
	s->held = xgrow(s->held, &s->capheld, s->nheld + 1, sizeof(*s->held));
	s->held[s->nheld++] = *h;
	h->conn = h->errfd = -1;
	h->nodeid = NULL;
}

/* Starts the sub-zygote of s->file. Its held requests must be in s already,
 * so that it does not inherit their descriptors. Returns 0 or -1. */
static int
sub_fork(struct sub *s)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		logf_("socketpair:");
		return -1;
	}
	s->t0 = wall_ns();
	fflush(NULL);
	PyOS_BeforeFork();
	pid = fork();
	if (pid == 0) {
		PyOS_AfterFork_Child();
		close(sv[0]);
		sub_close_base(s);
		sub_main(s->file, sv[1]);
	}
	PyOS_AfterFork_Parent();
	close(sv[1]);
	if (pid < 0) {
		logf_("fork:");
		close(sv[0]);
		return -1;
	}
	s->pid = pid;
	s->chan = sv[0];
	return 0;
}

/* Sends a held request on to a ready sub-zygote. */
static int
sub_forward(struct sub *s, struct held *h)
{
	size_t len = strlen(h->nodeid);
	struct qmsg *q = xmalloc(offsetof(struct qmsg, nodeid) + len + 1);
	int fds[2] = {h->conn, h->errfd}, rc;

	q->type = 'Q';
	q->timeout_ms = h->timeout_ms;
	memcpy(q->nodeid, h->nodeid, len + 1);
	rc = send_fds(s->chan, q, offsetof(struct qmsg, nodeid) + len, fds, 2);
	free(q);
	if (rc == 0) {
		s->served++;
		held_free(h);
	}
	return rc;
}

/* Retires a sub-zygote: it finishes its tests and exits when its channel
 * closes. Its held requests go back to be routed again. */
static void route(struct held *h);

static void
sub_retire(struct sub *s)
{
	struct held *held = s->held;
	size_t i, n = s->nheld;

	s->held = NULL;
	s->nheld = s->capheld = 0;
	sub_remove(s);
	if (!s->ready && s->pid > 0)
		kill(s->pid, SIGKILL);	/* still collecting stale files */
	sub_free(s);
	for (i = 0; i < n; i++)
		route(&held[i]);
	free(held);
}

/* A sub-zygote died or failed before it was ready: its held requests get
 * the reason. */
static void
sub_failed(struct sub *s, const char *why)
{
	size_t i;

	for (i = 0; i < s->nheld; i++) {
		reply_error(s->held[i].conn, "tach-hv: the zygote collecting %s %s; see %s/.tach/%s",
		    s->file, why, hv.root, HV_LOG);
		held_free(&s->held[i]);
	}
	s->nheld = 0;
	sub_remove(s);
	sub_free(s);
}

/* Handles what a sub-zygote sends: its files, then 'R'; EOF when it is gone. */
static void
sub_message(struct sub *s)
{
	char *data = xmalloc(CHUNK + 2), *p, *end;
	int fds[2], nfds, i;
	ssize_t n;
	size_t k;

	n = recv_fds(s->chan, data, CHUNK + 1, fds, &nfds);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	if (n <= 0) {
		sub_failed(s, s->ready ? "exited" : "died while collecting");
	} else if (data[0] == 'F') {
		data[n] = 0;
		for (p = data + 1, end = data + n; p < end; p += strlen(p) + 1)
			if (*p)
				watch_file(p, s->id, s->t0);
	} else if (data[0] == 'R') {
		s->ready = 1;
		if (s->stale) {
			sub_retire(s);
		} else {
			for (k = 0; k < s->nheld; k++) {
				if (sub_forward(s, &s->held[k]) < 0) {
					reply_error(s->held[k].conn, "tach-hv: the zygote of %s is gone", s->file);
					held_free(&s->held[k]);
				}
			}
			s->nheld = 0;
		}
	}
	free(data);
}

/* The least recently used sub-zygote goes when there are too many. */
static void
sub_evict(void)
{
	struct sub *lru = NULL;
	size_t i;

	if (hv.nsubs < MAXSUBS)
		return;
	for (i = 0; i < hv.nsubs; i++)
		if (hv.subs[i]->ready && hv.subs[i]->nheld == 0 && (!lru || hv.subs[i]->used < lru->used))
			lru = hv.subs[i];
	if (lru)
		sub_retire(lru);
}

/* The test file of a node id, or NULL when it is not a path inside the root. */
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
reply_files(struct held *h)
{
	PyObject *res = PyObject_CallMethod(hv.zygote, "files", NULL), *paths, *imported, *item;
	struct buf b = {0};
	Py_ssize_t i;
	const char *s;
	int64_t t0 = wall_ns();

	if (!res || !PyTuple_Check(res) || PyTuple_GET_SIZE(res) != 2) {
		char *e = PyErr_Occurred() ? py_error() : xstrdup("tach_zygote.files: not a pair");

		reply_error(h->conn, "tach-hv: listing the files pytest collects failed:\n%s", e);
		free(e);
		Py_XDECREF(res);
		held_free(h);
		return;
	}
	paths = PyTuple_GET_ITEM(res, 0);
	imported = PyTuple_GET_ITEM(res, 1);
	buf_puts(&b, "{\"event\": \"files\", \"paths\": [");
	for (i = 0; PyList_Check(paths) && i < PyList_GET_SIZE(paths); i++) {
		item = PyList_GET_ITEM(paths, i);
		s = PyUnicode_Check(item) ? PyUnicode_AsUTF8(item) : NULL;
		if (!s) {
			PyErr_Clear();
			continue;
		}
		if (i)
			buf_puts(&b, ", ");
		json_string(&b, s);
	}
	buf_puts(&b, "]}\n");
	send_all(h->conn, b.data, b.len);
	for (i = 0; PyList_Check(imported) && i < PyList_GET_SIZE(imported); i++) {
		item = PyList_GET_ITEM(imported, i);
		s = PyUnicode_Check(item) ? PyUnicode_AsUTF8(item) : NULL;
		if (s)
			watch_file(s, -1, t0);
		PyErr_Clear();
	}
	buf_free(&b);
	Py_DECREF(res);
	held_free(h);
}

/* Sends a request to the sub-zygote of its file, starting one if needed. */
static void
route(struct held *h)
{
	struct sub *s = NULL;
	char *file;
	size_t i;

	if (hv.failure) {
		reply_error(h->conn, "%s", hv.failure);
		held_free(h);
		return;
	}
	if (strcmp(h->nodeid, HV_FILES_SPEC) == 0) {
		reply_files(h);
		return;
	}
	file = nodeid_file(h->nodeid);
	if (!file) {
		reply_error(h->conn, "tach-hv: %s: not a node id inside %s", h->nodeid, hv.root);
		held_free(h);
		return;
	}
	for (i = 0; i < hv.nsubs; i++) {
		if (!hv.subs[i]->stale && strcmp(hv.subs[i]->file, file) == 0) {
			s = hv.subs[i];
			break;
		}
	}
	if (!s) {
		sub_evict();
		s = xcalloc(1, sizeof(*s));
		s->id = hv.next_id++;
		s->file = file;
		s->chan = -1;
		s->used = monotime();
		hv.subs = xgrow(hv.subs, &hv.capsubs, hv.nsubs + 1, sizeof(*hv.subs));
		hv.subs[hv.nsubs++] = s;
		sub_hold(s, h);
		if (sub_fork(s) < 0)
			sub_failed(s, "could not be started");
		return;
	}
	free(file);
	s->used = monotime();
	if (!s->ready) {
		sub_hold(s, h);
		return;
	}
	if (sub_forward(s, h) < 0) {
		/* it just died; a new one takes the request */
		logf_("the zygote of %s is gone; starting another", s->file);
		sub_hold(s, h);
		s->ready = 0;
		s->stale = 1;
		sub_retire(s);
	}
}

/* ---- the base ---- */

static void
retire_stale(void)
{
	size_t i;

	for (i = 0; i < hv.nsubs;) {
		if (hv.subs[i]->stale)
			sub_retire(hv.subs[i]);	/* removes it from the array */
		else
			i++;
	}
}

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
start_failure(void)
{
	PyObject *f = PyObject_GetAttrString(hv.zygote, "start_failure");
	PyObject *text, *by_project;
	const char *t, *last, *e;
	char *line;

	if (!f || f == Py_None || !PyTuple_Check(f) || PyTuple_GET_SIZE(f) != 2) {
		Py_XDECREF(f);
		PyErr_Clear();
		return;
	}
	text = PyTuple_GET_ITEM(f, 0);
	by_project = PyTuple_GET_ITEM(f, 1);
	t = PyUnicode_Check(text) ? PyUnicode_AsUTF8(text) : NULL;
	if (!t)
		t = "unknown error";
	logf_("pytest could not start:\n%s", t);
	/* the last line that says something: the exception */
	e = t + strlen(t);
	while (e > t && (e[-1] == '\n' || e[-1] == ' '))
		e--;
	last = e;
	while (last > t && last[-1] != '\n')
		last--;
	line = xstrndup(last, (size_t)(e - last));
	hv.failure = xasprintf("the zygote could not start: %s\n%s; the whole traceback is in %s/.tach/%s",
	    line, PyObject_IsTrue(by_project) == 1
	    ? "the cause is in the project (its configuration, options or conftest.py): "
	    "plain pytest fails the same way"
	    : "tach could not start pytest here (plain pytest may not fail): please report it",
	    hv.root, HV_LOG);
	free(line);
	Py_DECREF(f);
	PyErr_Clear();
}

/* Replaces this process with a fresh tach-hv that keeps the listening
 * socket and every request not yet forwarded, as id says (NULL: as we
 * are). The sub-zygotes stay our children: they finish their tests and
 * exit, and the new image reaps them. */
static _Noreturn void
reexec(struct held *extra, const struct ident *id)
{
	const char *python = id ? id->python : hv.python;
	const char *args = id ? id->args : hv.args;
	char **env = id && id->env ? id->env : environ;
	char **argv = NULL, idle[32], lfd[32];
	size_t n = 0, cap = 0, i, k;
	struct held *hs = NULL;
	size_t nh = 0, caph = 0;

	for (i = 0; i < hv.nsubs; i++) {
		struct sub *s = hv.subs[i];

		for (k = 0; k < s->nheld; k++) {
			hs = xgrow(hs, &caph, nh + 1, sizeof(*hs));
			hs[nh++] = s->held[k];
		}
		s->nheld = 0;
		if (!s->ready && s->pid > 0)
			kill(s->pid, SIGKILL);
		close(s->chan);
	}
	for (i = 0; i < hv.npending; i++) {
		hs = xgrow(hs, &caph, nh + 1, sizeof(*hs));
		hs[nh++] = hv.pending[i];
	}
	if (extra && extra->conn >= 0) {
		hs = xgrow(hs, &caph, nh + 1, sizeof(*hs));
		hs[nh++] = *extra;
	}
	snprintf(idle, sizeof(idle), "%d", hv.idle);
	snprintf(lfd, sizeof(lfd), "%d", hv.lfd);
	argv = xgrow(argv, &cap, 12 + 2 * nh, sizeof(*argv));
	argv[n++] = hv.exe;
	argv[n++] = "--root";
	argv[n++] = hv.root;
	argv[n++] = "--python";
	argv[n++] = (char *)python;
	argv[n++] = "--pytest-args";
	argv[n++] = (char *)args;
	argv[n++] = "--listen-fd";
	argv[n++] = lfd;
	argv[n++] = "--idle";
	argv[n++] = idle;
	fcntl(hv.lfd, F_SETFD, 0);
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
	execve(hv.exe, argv, env);
	logf_("re-executing %s:", hv.exe);
	_exit(1);
}

/* Takes the lock clients hold while they start a zygote, and removes our
 * socket's name if it is still ours: from then on no client can reach us,
 * and a new one starts its own zygote. */
static void
unpublish(void)
{
	struct stat st;
	int lockfd;

	lockfd = openat(hv.dirfd, HV_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd >= 0)
		while (flock(lockfd, LOCK_EX) < 0 && errno == EINTR)
			;
	if (fstatat(hv.dirfd, HV_SOCK, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino == hv.sock_ino)
		unlinkat(hv.dirfd, HV_SOCK, 0);
	if (lockfd >= 0)
		close(lockfd);
}

static void
remove_pidfile(void)
{
	if (hv_pid(hv.dirfd) == (long)getpid())
		unlinkat(hv.dirfd, HV_PID, 0);
}

/* Stops serving: clients still in the backlog get no answer (they start a
 * new zygote), the sub-zygotes finish their tests, then we exit. */
static _Noreturn void
shutdown_all(const char *why)
{
	int conn, status;

	logf_("stopping: %s", why);
	unpublish();
	while ((conn = accept4(hv.lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0)
		close(conn);
	close(hv.lfd);
	while (hv.nsubs > 0) {
		struct sub *s = hv.subs[0];

		if (!s->ready && s->pid > 0)
			kill(s->pid, SIGKILL);
		/* unanswered, their clients start a new zygote */
		sub_remove(s);
		sub_free(s);
	}
	remove_pidfile();
	while (waitpid(-1, &status, 0) > 0 || errno == EINTR)
		;
	logf_("stopped");
	exit(0);
}

static void
reply_status(int conn)
{
	struct buf b = {0};
	size_t i;

	buf_printf(&b, "{\"event\": \"status\", \"pid\": %ld, \"root\": ", (long)getpid());
	json_string(&b, hv.root);
	buf_puts(&b, ", \"python\": ");
	json_string(&b, hv.python);
	buf_printf(&b, ", \"uptime\": %.3f, \"idle\": %.3f, \"idle_timeout\": %d, \"requests\": %lu, "
	    "\"zygotes\": [", monotime() - hv.started, monotime() - hv.last, hv.idle, hv.requests);
	for (i = 0; i < hv.nsubs; i++) {
		buf_puts(&b, i ? ", {\"file\": " : "{\"file\": ");
		json_string(&b, hv.subs[i]->file);
		buf_printf(&b, ", \"pid\": %ld, \"ready\": %s, \"served\": %lu}", (long)hv.subs[i]->pid,
		    hv.subs[i]->ready ? "true" : "false", hv.subs[i]->served);
	}
	buf_puts(&b, "]}\n");
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
serve(int conn)
{
	struct timeval tv = {.tv_sec = 5};
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct hv_req req;
	struct held h = {.conn = conn, .errfd = -1};
	struct ident id = {0};
	char *payload = NULL, *f[HV_RUN_FIELDS], *p, *end, **env = NULL;
	size_t nenv = 0, capenv = 0, k;
	int fds[2], nfds, i;
	ssize_t n;

	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 || cred.uid != geteuid()) {
		logf_("refused a request from uid %ld", (long)cred.uid);
		reply_error(conn, "tach-hv: this zygote serves uid %ld only", (long)geteuid());
		close(conn);
		return;
	}
	setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = recv_fds(conn, &req, sizeof(req), fds, &nfds);
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
	hv.last = monotime();
	switch (req.kind) {
	case HV_STATUS:
		reply_status(conn);
		held_free(&h);
		break;
	case HV_STOP:
		/* the connection stays open until we are gone: the client
		 * waits for its end */
		send_all(conn, "{\"event\": \"stopping\"}\n", 22);
		if (h.errfd >= 0)
			close(h.errfd);
		free(payload);
		shutdown_all("asked to stop");
	case HV_RUN:
		hv.requests++;
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
		read_changes();
		id.python = *f[1] ? f[1] : hv.python;
		id.args = f[3];
		id.cwd = *f[4] ? f[4] : NULL;
		if (env)
			env[nenv] = NULL;
		id.env = env;
		if (strcmp(id.python, hv.python) != 0 || strcmp(id.args, hv.args) != 0
		    || (id.cwd && strcmp(id.cwd, hv.cwd) != 0)
		    || (env && hv_env_hash((const char *const *)env) != hv.envhash)) {
			/* a zygote started otherwise would not run the tests as
			 * the user's pytest would */
			logf_("a request for %s with other pytest options, directory or environment: "
			    "restarting with them", id.python);
			reexec(&h, &id);
		}
		if (hv.base_stale)
			reexec(&h, NULL);
		free(env);
		retire_stale();
		route(&h);
		break;
	default:
		reply_error(conn, "tach-hv: unknown request %u", req.kind);
		held_free(&h);
	}
	free(payload);
}

/* The earliest deadline among requests waiting for a collection, or
 * `until` when that is earlier. */
static double
held_deadline(double until)
{
	size_t i, k;

	for (i = 0; i < hv.nsubs; i++)
		for (k = 0; k < hv.subs[i]->nheld; k++)
			if (hv.subs[i]->held[k].deadline && hv.subs[i]->held[k].deadline < until)
				until = hv.subs[i]->held[k].deadline;
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
expire_held(void)
{
	static const char line[] = "{\"event\": \"exit\", \"status\": null, \"signal\": null, "
	    "\"signo\": null, \"timeout\": true}\n";
	double t = monotime();
	size_t i, k, kept;

	for (i = 0; i < hv.nsubs; i++) {
		struct sub *s = hv.subs[i];
		bool expired = false;

		for (k = kept = 0; k < s->nheld; k++) {
			if (s->held[k].deadline && t >= s->held[k].deadline) {
				logf_("%s: still collecting %s at its timeout", s->held[k].nodeid, s->file);
				send_all(s->held[k].conn, line, sizeof(line) - 1);
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
			sub_remove(s);
			sub_free(s);
			i--;
		}
	}
}

static void
reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
			logf_("zygote %ld died of signal %d", (long)pid, WTERMSIG(status));
	}
}

static void
usage(void)
{
	fputs("usage: tach-hv --root DIR --python PATH --listen-fd N [--idle S] [--held C:E:T:NODEID]...\n",
	    stderr);
	exit(2);
}

/* Parses --held C:E:T:NODEID, a request a previous image of us held. */
static int
parse_held(const char *arg, struct held *h)
{
	char *end;
	long c, e;
	unsigned long t;

	c = strtol(arg, &end, 10);
	if (*end != ':')
		return -1;
	e = strtol(end + 1, &end, 10);
	if (*end != ':')
		return -1;
	t = strtoul(end + 1, &end, 10);
	if (*end != ':')
		return -1;
	h->conn = (int)c;
	h->errfd = (int)e;
	h->timeout_ms = (uint32_t)t;
	h->deadline = t ? monotime() + t / 1000.0 : 0;	/* counted again from here */
	h->nodeid = xstrdup(end + 1);
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
		{NULL, 0, NULL, 0},
	};
	struct held *held = NULL;
	size_t nheld = 0, capheld = 0, i, np;
	struct pollfd *pfds = NULL;
	size_t cappfds = 0;
	char exe[PATH_MAX], pid[32], *err, **files, *pidfile;
	struct stat st;
	ssize_t n;
	int c, conn, timeout, rc;
	int64_t t0;

	hv.idle = HV_DEFAULT_IDLE;
	hv.args = "";
	hv.envhash = hv_env_hash((const char *const *)environ);
	hv.cwd = getcwd(NULL, 0);
	if (!hv.cwd)
		hv.cwd = xstrdup("/");
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': hv.root = optarg; break;
		case 'p': hv.python = optarg; break;
		case 'a': hv.args = optarg; break;
		case 'l': hv.lfd = atoi(optarg); break;
		case 'i': hv.idle = atoi(optarg); break;
		case 'H':
			held = xgrow(held, &capheld, nheld + 1, sizeof(*held));
			if (parse_held(optarg, &held[nheld]) < 0)
				usage();
			nheld++;
			break;
		default:
			usage();
		}
	}
	if (!hv.root || !hv.python || hv.lfd < 0 || optind != argc || hv.idle <= 0)
		usage();
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		logf_("readlink /proc/self/exe:");
		return 1;
	}
	exe[n] = 0;
	hv.exe = exe;
	fcntl(hv.lfd, F_SETFD, FD_CLOEXEC);
	/* accept() must never block: the backlog is drained until EAGAIN */
	fcntl(hv.lfd, F_SETFL, fcntl(hv.lfd, F_GETFL) | O_NONBLOCK);
	if (fstat(hv.lfd, &st) == 0)
		hv.sock_ino = st.st_ino;
	signal(SIGPIPE, SIG_IGN);
	hv.started = hv.last = monotime();
	hv.files = htab_new();
	hv.dirs = htab_new();
	hv.dirfd = hv_dir(hv.root, 1);
	if (hv.dirfd < 0) {
		logf_("%s/.tach:", hv.root);
		return 1;
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	pidfile = xconcat(hv.root, "/.tach/", HV_PID, NULL);
	if (write_file_atomic(pidfile, pid, strlen(pid), 0600) < 0)
		logf_("writing %s:", pidfile);
	free(pidfile);
	/* the socket's inode, to recognise our name when we unlink it */
	if (fstatat(hv.dirfd, HV_SOCK, &st, 0) == 0)
		hv.sock_ino = st.st_ino;

	hv.sb = sandbox_new(&rc);
	if (!hv.sb)
		err = xasprintf("cannot build the Iron Dome: %s", strerror(-rc));
	else if ((rc = sandbox_harden()) < 0)
		err = xasprintf("cannot make the zygote non-dumpable: %s", strerror(-rc));
	else
		err = NULL;

	hv.ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (!err && hv.ifd < 0)
		err = xasprintf("inotify: %s", strerror(errno));
	t0 = wall_ns();
	if (!err)
		err = python_start();
	files = NULL;
	if (!err)
		files = python_files("init", hv.root, &err);
	if (err) {
		/* answer everyone waiting, then go */
		logf_("cannot start:\n%s", err);
		unpublish();
		for (i = 0; i < nheld; i++) {
			reply_error(held[i].conn, "tach-hv: cannot start the zygote: %s", err);
			held_free(&held[i]);
		}
		while ((conn = accept4(hv.lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
			reply_error(conn, "tach-hv: cannot start the zygote: %s", err);
			close(conn);
		}
		remove_pidfile();
		free(err);
		return 1;
	}
	start_failure();
	for (i = 0; files[i]; i++)
		watch_file(files[i], -1, t0);
	strv_free(files);
	/* a rebuilt tach replaces the zygote too */
	watch_self(t0);
	if (hv.failure)
		logf_("answering every test with the failure until a file it read changes");
	else
		logf_("serving %s with %s (ready in %.3f s)", hv.root, hv.python, monotime() - hv.started);
	/* requests a previous image held: anything changed while we started? */
	hv.pending = held;
	hv.npending = nheld;
	read_changes();
	if (hv.base_stale)
		reexec(NULL, NULL);
	hv.pending = NULL;
	hv.npending = 0;
	for (i = 0; i < nheld; i++)
		route(&held[i]);
	free(held);

	for (;;) {
		pfds = xgrow(pfds, &cappfds, hv.nsubs + 2, sizeof(*pfds));
		np = 0;
		pfds[np++] = (struct pollfd){.fd = hv.lfd, .events = POLLIN};
		pfds[np++] = (struct pollfd){.fd = hv.ifd, .events = POLLIN};
		for (i = 0; i < hv.nsubs; i++)
			pfds[np++] = (struct pollfd){.fd = hv.subs[i]->chan, .events = POLLIN};
		timeout = ms_until(held_deadline(hv.last + hv.idle));
		rc = poll(pfds, np, timeout);
		if (rc < 0 && errno != EINTR) {
			logf_("poll:");
			shutdown_all("poll failed");
		}
		reap();
		if (rc == 0 && monotime() >= hv.last + hv.idle)
			shutdown_all("idle");
		if (pfds[1].revents)
			read_changes();
		if (hv.base_stale)
			reexec(NULL, NULL);
		/* sub-zygotes' messages, by identity: the array changes as we go */
		for (i = 2; i < np; i++) {
			struct sub *s;
			size_t k;

			if (!pfds[i].revents)
				continue;
			for (k = 0, s = NULL; k < hv.nsubs; k++)
				if (hv.subs[k]->chan == pfds[i].fd)
					s = hv.subs[k];
			if (s)
				sub_message(s);
		}
		retire_stale();
		expire_held();
		if (pfds[0].revents) {
			while ((conn = accept4(hv.lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
				serve(conn);
		}
	}
}
