/* util - allocation that dies on exhaustion, diagnostics, growable buffers
 * and a string-keyed hash table shared by gen/, cache/ and the tests.
 *
 * fatal() and warn() print "PROGNAME: ..."; a format ending in ':' appends
 * strerror(errno). Run-once code (gen/) may call fatal(); long-lived code
 * (runtime/) must not. */
#ifndef TACH_UTIL_H
#define TACH_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* Grows *p (an array of *cap elements of size elem) to hold at least need. */
void *xgrow(void *p, size_t *cap, size_t need, size_t elem);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a newly allocated formatted string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Concatenates NUL-terminated strings up to a NULL argument; cheaper than
 * xasprintf on hot paths. The caller frees the result. */
char *xconcat(const char *s, ...);

/* The name messages start with ("tach"); each binary's main sets its own. */
extern const char *progname;

_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte string, always NUL-terminated once anything was added. */
struct buf {
	char *data;
	size_t len, cap;
};

void buf_add(struct buf *b, const char *s, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Appends what one read(2) of at most max bytes from fd gives (EINTR
 * retried). Returns its result: the bytes added, 0 at the end, -1. */
ssize_t buf_read(struct buf *b, int fd, size_t max);
/* Returns the string and leaves b empty; the caller frees the result. */
char *buf_take(struct buf *b);
void buf_free(struct buf *b);

/* A growable list of owned strings. */
struct strlist {
	char **v;
	size_t n, cap;
};

void strlist_add(struct strlist *l, const char *s);   /* copies s */
void strlist_free(struct strlist *l);

/* Reads a whole file. Returns 0, or -1 with errno set. *data is
 * NUL-terminated and must be freed by the caller. */
int read_file(const char *path, char **data, size_t *len);

/* Writes a whole file atomically: to a unique temporary name beside path,
 * then rename(2), so readers see the old contents or the new, never a part.
 * Returns 0, or -1 with errno set (the temporary file is removed). */
int write_file_atomic(const char *path, const char *data, size_t len, int mode);

/* The value of a hexadecimal digit, or -1. */
int hexval(int c);

/* Tunes malloc for a short batch run with worker threads: no trimming of
 * freed memory back to the kernel between files (each file's parse tree is
 * freed and the next one reallocates it). */
void malloc_tune(void);

/* Creates the parent directories of path; errors surface when it is
 * opened. */
void make_parents(const char *path);
/* Opens path (O_PATH) as a directory of the caller's own: not a symlink,
 * owned by the effective uid; with create, made 0700 when missing. Returns
 * the descriptor, or -1 with errno: ELOOP (a symlink), ENOTDIR, EACCES
 * (another owner), or mkdir's or open's. private_dir_error() words it. */
int private_dir(const char *path, bool create);
const char *private_dir_error(int err);

/* Seconds on the monotonic clock. */
double monotime(void);
/* Sleeps ms milliseconds. */
void sleep_ms(int ms);

/* flock(fd, LOCK_EX) for at most seconds. Returns 0, or -1 with errno
 * (EWOULDBLOCK: still held by another at the deadline). */
int lock_wait(int fd, double seconds);

/* The state of process pid, its letter in /proc/PID/stat ('R', 'S', 'T'
 * stopped by a signal, 't' stopped by a tracer, 'Z' dead...), or 0 when
 * there is no such process. */
int proc_state(pid_t pid);
/* Whether process pid is stopped, by a signal or at a tracer's stop. */
bool proc_stopped(pid_t pid);
/* The children of process pid's main thread, *n of them: a new array for
 * the caller to free, NULL when there are none or they cannot be read. */
pid_t *proc_children(pid_t pid, size_t *n);

/* Closes every descriptor from lowfd up (close_range(2), or one by one). */
void close_from(int lowfd);

/* An absolute path for a program: a relative path is made absolute, a bare
 * name is looked up on $PATH; symbolic links are not resolved, so a
 * virtualenv's python stays itself. NULL when it is not executable. The
 * caller frees the result. */
char *find_program(const char *name);

/* Joins a and b with exactly one '/'. The caller frees the result. */
char *path_join(const char *a, const char *b);

#endif
