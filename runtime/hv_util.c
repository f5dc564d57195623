/* hv_util - what every process of tach-hv uses: the log (stderr, which is
 * .tach/hv.log), the wall clock that file times are compared with, and
 * writing to a client, who may be gone or stopped: nothing here fails a
 * request, raises SIGPIPE or waits more than CLIENT_WAIT. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/json.h"
#include "lib/util.h"
#include "runtime/hv.h"

int64_t
wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
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

void
send_all(int fd, const char *s, size_t n)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	double until = monotime() + CLIENT_WAIT, left;
	ssize_t w;

	while (n > 0) {
		/* per call: the test process shares the descriptor, and its
		 * writes must block */
		w = send(fd, s, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			left = (until - monotime()) * 1000;
			if (left <= 0) {
				logf_("a client took no reply for %d s: left unanswered", CLIENT_WAIT);
				return;
			}
			poll(&p, 1, (int)left + 1);	/* then a look again, whatever it says */
			continue;
		}
		if (w <= 0)
			return;		/* the client is gone; nothing to tell */
		s += w;
		n -= (size_t)w;
	}
}

void
hv_send_event(int conn, const char *name, const char *key, const char *value)
{
	struct buf b = {0};
	struct json w;

	json_init(&w, &b, false);
	json_object(&w);
	json_key(&w, "event");
	json_string(&w, name);
	if (key) {
		json_key(&w, key);
		json_string(&w, value);
	}
	json_end(&w);
	buf_putc(&b, '\n');
	send_all(conn, b.data, b.len);
	buf_free(&b);
}

void
reply_error(int conn, const char *fmt, ...)
{
	struct buf msg = {0};
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	hv_send_event(conn, "exit", "error", msg.data ? msg.data : "");
	buf_free(&msg);
}

void
strv_free(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* Whether this process holds a socket of another family than AF_UNIX: a
 * test process would inherit it, and the Iron Dome lets connect, bind,
 * listen and accept through (it only stops making such sockets). */
static int
network_sockets(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	struct stat st;
	socklen_t len;
	int fd, domain, found = 0;

	while (d && !found && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		fd = atoi(e->d_name);
		len = sizeof(domain);
		if (fd != dirfd(d) && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain != AF_UNIX)
			found = 1;
	}
	if (d)
		closedir(d);
	return found;
}

/* The threads of this process beyond the first. */
static int
threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n > 0 ? n - 1 : 0;
}

static int
known_pid(pid_t pid, const pid_t *known, size_t nknown)
{
	size_t i;

	for (i = 0; i < nknown; i++)
		if (known[i] == pid)
			return 1;
	return 0;
}

/* The child processes of this process that are not in known: a zygote
 * is a child subreaper, so what the code it imported started and left (a
 * daemon, `sleep &`) is among them too. */
static size_t
leftovers(const pid_t *known, size_t nknown)
{
	pid_t *kids;
	size_t n, i, left = 0;

	kids = proc_children(getpid(), &n);
	for (i = 0; i < n; i++)
		left += !known_pid(kids[i], known, nknown);
	free(kids);
	return left;
}

void
hv_kill_leftovers(const pid_t *known, size_t nknown)
{
	pid_t *kids;
	size_t n, i;

	kids = proc_children(getpid(), &n);
	for (i = 0; i < n; i++) {
		if (known_pid(kids[i], known, nknown))
			continue;
		kill(-kids[i], SIGKILL);
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	free(kids);
}

/* After the collection: what fork cannot survive, said with who did it
 * (tach_zygote.unsafe()), or NULL. */
char *
hv_unsafe_state(const char *what, const pid_t *known, size_t nknown)
{
	int nthreads, children, sockets;
	char *who, *err = NULL, *why;
	struct buf b = {0};

	nthreads = threads();
	children = leftovers(known, nknown) > 0;
	sockets = network_sockets();
	if (!nthreads && !children && !sockets)
		return NULL;
	who = py_unsafe(nthreads > 0, children, sockets, &err);
	free(err);
	buf_puts(&b, "the zygote had ");
	if (nthreads)
		buf_puts(&b, "threads");
	if (children)
		buf_printf(&b, "%s%s", nthreads ? (sockets ? ", " : " and ") : "", "child processes");
	if (sockets)
		buf_printf(&b, "%s%s", nthreads || children ? " and " : "", "network sockets");
	buf_printf(&b, " after importing %s%s%s", what, who && *who ? ": " : "", who ? who : "");
	free(who);
	why = buf_take(&b);
	return why;
}

void
hv_reply_toxic(int conn, const char *why)
{
	hv_send_event(conn, "toxic", "reason", why);
}

void
hv_send_exit(int conn, int ended, int status, int timed_out)
{
	struct buf b = {0};
	struct json w;
	char name[64];
	const char *abbrev;
	bool sig = ended && WIFSIGNALED(status);

	json_init(&w, &b, false);
	json_object(&w);
	json_key(&w, "event");
	json_string(&w, "exit");
	json_key(&w, "status");
	if (sig || !ended)
		json_null(&w);
	else
		json_int(&w, WEXITSTATUS(status));
	json_key(&w, "signal");
	if (sig) {
		abbrev = sigabbrev_np(WTERMSIG(status));
		if (abbrev)
			snprintf(name, sizeof(name), "SIG%s", abbrev);
		else
			snprintf(name, sizeof(name), "signal %d", WTERMSIG(status));
		json_string(&w, name);
	} else {
		json_null(&w);
	}
	json_key(&w, "signo");
	if (sig)
		json_int(&w, WTERMSIG(status));
	else
		json_null(&w);
	json_key(&w, "timeout");
	json_bool(&w, timed_out);
	json_end(&w);
	buf_putc(&b, '\n');
	send_all(conn, b.data, b.len);
	buf_free(&b);
}
