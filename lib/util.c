/* util - see lib/util.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib/util.h"

const char *progname = "tach";

static void
vwarn(const char *fmt, va_list ap)
{
	size_t n = strlen(fmt);
	int err = errno;

	/* one line at a time, even from worker threads */
	flockfile(stderr);
	fprintf(stderr, "%s: ", progname);
	vfprintf(stderr, fmt, ap);
	if (n > 0 && fmt[n - 1] == ':')
		fprintf(stderr, " %s", strerror(err));
	fputc('\n', stderr);
	funlockfile(stderr);
}

void
warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	exit(1);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		fatal("malloc:");
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		fatal("calloc:");
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		fatal("realloc:");
	return p;
}

void *
xgrow(void *p, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 8;

	if (need <= *cap)
		return p;
	while (n < need)
		n *= 2;
	p = xrealloc(p, n * elem);
	*cap = n;
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xasprintf(const char *fmt, ...)
{
	struct buf b = {0};
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return b.data ? b.data : xstrdup("");
}

char *
xconcat(const char *s, ...)
{
	va_list ap;
	const char *p;
	size_t n = 0;
	char *r, *q;

	va_start(ap, s);
	for (p = s; p; p = va_arg(ap, const char *))
		n += strlen(p);
	va_end(ap);
	r = q = xmalloc(n + 1);
	va_start(ap, s);
	for (p = s; p; p = va_arg(ap, const char *)) {
		size_t k = strlen(p);

		memcpy(q, p, k);
		q += k;
	}
	va_end(ap);
	*q = '\0';
	return r;
}

void
buf_add(struct buf *b, const char *s, size_t n)
{
	b->data = xgrow(b->data, &b->cap, b->len + n + 1, 1);
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_puts(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_putc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

void
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	if (n < 0)
		fatal("vsnprintf:");
	b->data = xgrow(b->data, &b->cap, b->len + n + 1, 1);
	vsnprintf(b->data + b->len, n + 1, fmt, ap);
	b->len += n;
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

ssize_t
buf_read(struct buf *b, int fd, size_t max)
{
	ssize_t n;

	b->data = xgrow(b->data, &b->cap, b->len + max + 1, 1);
	do
		n = read(fd, b->data + b->len, max);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		b->len += (size_t)n;
	b->data[b->len] = 0;
	return n;
}

char *
buf_take(struct buf *b)
{
	char *s = b->data ? b->data : xstrdup("");

	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
strlist_add(struct strlist *l, const char *s)
{
	l->v = xgrow(l->v, &l->cap, l->n + 1, sizeof(l->v[0]));
	l->v[l->n++] = xstrdup(s);
}

void
strlist_free(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

int
read_file(const char *path, char **data, size_t *len)
{
	struct stat st;
	char *p = NULL;
	size_t cap, n = 0;
	ssize_t r;
	int fd, err;

	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto fail;
	}
	cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
	p = xmalloc(cap);
	for (;;) {
		if (n + 1 >= cap)
			p = xgrow(p, &cap, n + 4096, 1);
		r = read(fd, p + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	p[n] = '\0';
	*data = p;
	*len = n;
	return 0;
fail:
	err = errno;
	free(p);
	close(fd);
	errno = err;
	return -1;
}

int
write_file_atomic(const char *path, const char *data, size_t len, int mode)
{
	static atomic_uint seq;
	char *tmp = xasprintf("%s.%ld.%u.tmp", path, (long)getpid(), atomic_fetch_add(&seq, 1));
	size_t off = 0;
	ssize_t w;
	int fd, err = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		err = errno;
		goto out;
	}
	while (off < len) {
		w = write(fd, data + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			break;
		}
		off += (size_t)w;
	}
	if (close(fd) < 0 && !err)
		err = errno;
	if (!err && rename(tmp, path) < 0)
		err = errno;
	if (err)
		unlink(tmp);
out:
	free(tmp);
	errno = err;
	return err ? -1 : 0;
}

int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *
path_join(const char *a, const char *b)
{
	size_t n = strlen(a);

	if (n == 0 || (n == 1 && a[0] == '.'))
		return xstrdup(b);
	while (n > 1 && a[n - 1] == '/')
		n--;
	size_t m;
	char *r;

	while (*b == '/')
		b++;
	m = strlen(b);
	r = xmalloc(n + m + 2);
	memcpy(r, a, n);
	if (a[n - 1] != '/')
		r[n++] = '/';
	memcpy(r + n, b, m + 1);
	return r;
}

void
malloc_tune(void)
{
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	mallopt(M_TOP_PAD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
}

void
close_from(int lowfd)
{
	int fd, max;

	if (syscall(SYS_close_range, lowfd, ~0U, 0) == 0)
		return;
	max = (int)sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = lowfd; fd < max; fd++)
		close(fd);
}

char *
find_program(const char *name)
{
	const char *path, *p, *colon;
	char cwd[PATH_MAX], *cand;

	if (strchr(name, '/')) {
		if (access(name, X_OK) < 0)
			return NULL;
		if (name[0] == '/' || !getcwd(cwd, sizeof(cwd)))
			return xstrdup(name);
		return path_join(cwd, name);
	}
	path = getenv("PATH");
	for (p = path ? path : "/usr/bin:/bin"; ; p = colon + 1) {
		colon = strchrnul(p, ':');
		cand = xasprintf("%.*s/%s", (int)(colon - p), colon == p ? "." : p, name);
		if (access(cand, X_OK) == 0)
			return cand;
		free(cand);
		if (!*colon)
			return NULL;
	}
}

void
make_parents(const char *path)
{
	char *dir = xstrdup(path), *p;

	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		mkdir(dir, 0777);
		*p = '/';
	}
	free(dir);
}

int
private_dir(const char *path, bool create)
{
	struct stat st;
	int fd, err;

	if (create && mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		/* O_NOFOLLOW on a symlink gives ENOTDIR with O_DIRECTORY */
		err = errno;
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
			err = ELOOP;
		errno = err;
		return -1;
	}
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid()) {
		close(fd);
		errno = EACCES;
		return -1;
	}
	return fd;
}

const char *
private_dir_error(int err)
{
	switch (err) {
	case ELOOP:
		return "a symlink, not a directory; refusing to write there";
	case ENOTDIR:
		return "not a directory";
	case EACCES:
		return "owned by another user; refusing to write there";
	default:
		return strerror(err);
	}
}

double
monotime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int
lock_wait(int fd, double seconds)
{
	double until = monotime() + seconds;

	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		if (monotime() >= until) {
			errno = EWOULDBLOCK;
			return -1;
		}
		sleep_ms(10);
	}
	return 0;
}

int
proc_state(pid_t pid)
{
	char path[64], *data, *p;
	size_t len;
	int state;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (pid <= 0 || read_file(path, &data, &len) < 0)
		return 0;
	/* "PID (COMM) S ...": the name may hold anything, ')' too */
	p = strrchr(data, ')');
	state = p && p[1] == ' ' ? (unsigned char)p[2] : 0;
	free(data);
	return state;
}

bool
proc_stopped(pid_t pid)
{
	int state = proc_state(pid);

	return state == 'T' || state == 't';
}

pid_t *
proc_children(pid_t pid, size_t *n)
{
	char path[64], *data, *p, *end;
	pid_t *kids = NULL;
	size_t len, cap = 0;
	long k;

	*n = 0;
	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long)pid, (long)pid);
	if (read_file(path, &data, &len) < 0)
		return NULL;
	for (p = data; (k = strtol(p, &end, 10)), end != p; p = end) {
		kids = xgrow(kids, &cap, *n + 1, sizeof(*kids));
		kids[(*n)++] = (pid_t)k;
	}
	free(data);
	return kids;
}
