/* hv_util - what every process of tach-hv uses: the log (stderr, which is
 * .tach/hv.log), the wall clock that file times are compared with, and
 * writing to a client, who may be gone: nothing here fails a request or
 * raises SIGPIPE. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

void
reply_error(int conn, const char *fmt, ...)
{
	struct buf b = {0};
	struct json w;
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
	json_init(&w, &b, false);
	json_object(&w);
	json_key(&w, "event");
	json_string(&w, "exit");
	json_key(&w, "error");
	json_string(&w, msg);
	json_end(&w);
	buf_putc(&b, '\n');
	send_all(conn, b.data, b.len);
	buf_free(&b);
	free(msg);
}

void
strv_free(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* The threads of this process beyond the first, and whether it has child
 * processes (the kernel's /proc/self/task/TID/children). */
static void
census(int *threads, int *children)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	char path[64], c;
	int fd;

	*threads = 0;
	*children = 0;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		(*threads)++;
		snprintf(path, sizeof(path), "/proc/self/task/%.20s/children", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (read(fd, &c, 1) == 1)
				*children = 1;
			close(fd);
		}
	}
	if (d)
		closedir(d);
	if (*threads > 0)
		(*threads)--;
}

/* After the collection: what fork cannot survive, said with who did it
 * (tach_zygote.unsafe()), or NULL. */
char *
hv_unsafe_state(const char *what, int check_children)
{
	int threads, children;
	char *who, *err = NULL, *why;

	census(&threads, &children);
	if (!check_children)
		children = 0;
	if (!threads && !children)
		return NULL;
	who = py_unsafe(threads > 0, children, &err);
	free(err);
	why = xasprintf("the zygote had %s%s%s after importing %s%s%s", threads ? "threads" : "",
	    threads && children ? " and " : "", children ? "child processes" : "", what,
	    who && *who ? ": " : "", who ? who : "");
	free(who);
	return why;
}

void
hv_reply_toxic(int conn, const char *why)
{
	struct buf b = {0};
	struct json w;

	json_init(&w, &b, false);
	json_object(&w);
	json_key(&w, "event");
	json_string(&w, "toxic");
	json_key(&w, "reason");
	json_string(&w, why);
	json_end(&w);
	buf_putc(&b, '\n');
	send_all(conn, b.data, b.len);
	buf_free(&b);
}
