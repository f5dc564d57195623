/* hv_util - what every process of tach-hv uses: the log (stderr, which is
 * .tach/hv.log), the wall clock that file times are compared with, and
 * writing to a client, who may be gone: nothing here fails a request or
 * raises SIGPIPE. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

void
strv_free(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}
