/* hvclient - the client side of the hypervisor's protocol (include/tach/hv.h):
 * finding the zygote's socket, starting a zygote when there is none, and
 * sending requests (the descriptor a request carries goes through
 * runtime/fdpass.c). Every wait here has a deadline, and a zygote that is
 * stopped is killed and replaced rather than waited for. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tach/hv.h"
#include "tach/statedir.h"
#include "lib/htab.h"
#include "lib/util.h"
#include "runtime/fdpass.h"

int
hv_dir(const char *root, int create)
{
	char *path = path_join(root, TACH_DIR);
	/* the socket is only as private as its directory */
	int fd = private_dir(path, create);

	free(path);
	return fd;
}

int
hv_clean_dir(const char *root, int create)
{
	int dirfd = hv_dir(root, create), fd;

	if (dirfd < 0)
		return -1;
	if (create && mkdirat(dirfd, TACH_CLEAN, 0700) < 0 && errno != EEXIST) {
		close(dirfd);
		return -1;
	}
	fd = openat(dirfd, TACH_CLEAN, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	close(dirfd);
	return fd;
}

int
hv_addr(int dirfd, void *addr)
{
	struct sockaddr_un *un = addr;

	memset(un, 0, sizeof(*un));
	un->sun_family = AF_UNIX;
	snprintf(un->sun_path, sizeof(un->sun_path), "/proc/self/fd/%d/%s", dirfd, TACH_HV_SOCK);
	return (int)sizeof(*un);
}

/* A full backlog, or a request no one reads, fails with EAGAIN after
 * HV_SEND_WAIT instead of blocking for ever. */
static void
bound_sends(int fd)
{
	struct timeval tv = {.tv_sec = HV_SEND_WAIT};

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int
hv_connect(int dirfd)
{
	struct sockaddr_un un;
	int fd, len, err;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	bound_sends(fd);
	len = hv_addr(dirfd, &un);
	if (connect(fd, (struct sockaddr *)&un, (socklen_t)len) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

long
hv_pid(int dirfd)
{
	char buf[32];
	ssize_t n;
	int fd;

	fd = openat(dirfd, TACH_HV_PID, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

/* Starts tach-hv detached from us: its own session, stdin /dev/null,
 * stdout and stderr to the log, the listening socket as fd 3 and no other
 * descriptor, so nothing waiting on our pipes waits on the zygote. */
static int
spawn(int dirfd, int lfd, const struct hv_spawn *sp, char **err)
{
	char idle[32], proc[64];
	char *argv[] = {
		(char *)sp->hv, "--root", (char *)sp->root, "--python", (char *)sp->python,
		"--pytest-args", (char *)(sp->args ? sp->args : ""),
		"--listen-fd", "3", "--idle", idle, sp->clean ? "--clean" : NULL, NULL,
	};
	sigset_t all, old;
	pid_t pid, w;
	int status, nullfd, logfd;

	snprintf(idle, sizeof(idle), "%d", sp->idle > 0 ? sp->idle : HV_DEFAULT_IDLE);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dirfd);
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	logfd = openat(dirfd, TACH_HV_LOG, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (nullfd < 0 || logfd < 0) {
		*err = xasprintf("cannot open /dev/null or the zygote's log: %s", strerror(errno));
		if (nullfd >= 0)
			close(nullfd);
		if (logfd >= 0)
			close(logfd);
		return -1;
	}
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0) {
		/* only async-signal-safe calls from here to execv */
		struct sigaction sa;
		int sig;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		for (sig = 1; sig < NSIG; sig++)
			sigaction(sig, &sa, NULL);
		setsid();
		if (fork() != 0)
			_exit(0);
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 || dup2(lfd, 3) < 0)
			_exit(127);
		close_from(4);
		/* our working directory stays: Python resolves a relative
		 * PYTHONPATH from it, as the user's pytest would */
		execv(sp->hv, argv);
		write(2, "tach-run: cannot start the zygote: exec failed\n", 47);
		_exit(127);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(nullfd);
	close(logfd);
	if (pid < 0) {
		*err = xasprintf("fork: %s", strerror(errno));
		return -1;
	}
	do
		w = waitpid(pid, &status, 0);
	while (w < 0 && errno == EINTR);
	return 0;
}

int
hv_connect_or_spawn(int dirfd, const struct hv_spawn *sp, char **err)
{
	struct sockaddr_un un;
	mode_t mask;
	long pid;
	int fd, lockfd, lfd, len;

	*err = NULL;
	pid = hv_pid(dirfd);
	if (pid > 0 && hv_is_stopped(pid, sp->root))
		hv_replace_stopped(dirfd, sp->root, sp->clean, pid);
	fd = hv_connect(dirfd);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT && errno != ECONNREFUSED) {
		*err = xasprintf("connect to the zygote: %s", strerror(errno));
		return -1;
	}
	lockfd = openat(dirfd, TACH_HV_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd < 0) {
		*err = xasprintf(TACH_PATH(TACH_HV_LOCK) ": %s", strerror(errno));
		return -1;
	}
	if (lock_wait(lockfd, HV_LOCK_WAIT) < 0) {
		*err = errno == EWOULDBLOCK
		    ? xasprintf(TACH_PATH(TACH_HV_LOCK) " is still held after %d s (by a stopped tach-run?)",
		    HV_LOCK_WAIT)
		    : xasprintf("lock " TACH_PATH(TACH_HV_LOCK) ": %s", strerror(errno));
		close(lockfd);
		return -1;
	}
	/* another client may have started one while we waited */
	fd = hv_connect(dirfd);
	if (fd >= 0)
		goto out;
	/* none: listen here, and give the listening socket to a new zygote */
	unlinkat(dirfd, TACH_HV_SOCK, 0);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		*err = xasprintf("socket: %s", strerror(errno));
		goto out;
	}
	len = hv_addr(dirfd, &un);
	mask = umask(0177);
	if (bind(lfd, (struct sockaddr *)&un, (socklen_t)len) < 0 || listen(lfd, SOMAXCONN) < 0) {
		umask(mask);
		*err = xasprintf("listen on " TACH_PATH(TACH_HV_SOCK) ": %s", strerror(errno));
		close(lfd);
		goto out;
	}
	umask(mask);
	if (spawn(dirfd, lfd, sp, err) < 0) {
		unlinkat(dirfd, TACH_HV_SOCK, 0);
		close(lfd);
		goto out;
	}
	/* queued in the backlog until the zygote is ready */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		bound_sends(fd);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&un, (socklen_t)len) < 0) {
		*err = xasprintf("connect to the new zygote: %s", strerror(errno));
		close(fd);
		fd = -1;
	}
	close(lfd);
out:
	close(lockfd);
	return fd;
}

uint64_t
hv_env_hash(const char *const *env)
{
	uint64_t h = 0;
	size_t i;

	/* a sum of each entry's hash: the order does not count; "_" is the
	 * shell's note of the last command, never the tests' business */
	for (i = 0; env && env[i]; i++)
		if (strncmp(env[i], "_=", 2) != 0)
			h += hash_str(env[i], strlen(env[i])) * 0x9e3779b97f4a7c15ull + 1;
	return h;
}

void
hv_run_payload(struct buf *b, const char *nodeid, const char *python, const char *claims,
    const char *args)
{
	const char *f[] = {nodeid, python, claims, args};
	char *cwd = getcwd(NULL, 0);
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(*f); i++)
		buf_add(b, f[i] ? f[i] : "", strlen(f[i] ? f[i] : "") + 1);
	buf_add(b, cwd ? cwd : "", strlen(cwd ? cwd : "") + 1);
	free(cwd);
	for (i = 0; environ[i]; i++)
		buf_add(b, environ[i], strlen(environ[i]) + 1);
}

int
hv_send(int sock, enum hv_kind kind, uint32_t timeout_ms, const char *payload, uint32_t len, int fd)
{
	struct hv_req req = {
		.magic = HV_MAGIC, .version = HV_VERSION, .kind = (uint16_t)kind,
		.timeout_ms = timeout_ms, .len = len,
	};
	struct iovec iov[2] = {
		{.iov_base = &req, .iov_len = sizeof(req)},
		{.iov_base = (void *)payload, .iov_len = len},
	};

	if (len > HV_MAXPAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	return fdpass_sendv(sock, iov, len ? 2 : 1, &fd, fd >= 0 ? 1 : 0);
}

/* Whether process pid runs tach-hv --root ROOT: hv.pid may name a process
 * that reused the pid of a zygote killed without a word. */
static int
serves(long pid, const char *root)
{
	char path[64], *data, *p, *end, *prev = NULL, *name;
	size_t len;
	int yes = 0;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	if (read_file(path, &data, &len) < 0)
		return 0;
	name = strrchr(data, '/');
	if (strcmp(name ? name + 1 : data, "tach-hv") == 0) {
		for (p = data, end = data + len; p < end; prev = p, p += strlen(p) + 1)
			if (prev && strcmp(prev, "--root") == 0 && strcmp(p, root) == 0)
				yes = 1;
	}
	free(data);
	return yes;
}

int
hv_is_stopped(long pid, const char *root)
{
	if (pid <= 0 || !proc_stopped((pid_t)pid) || !serves(pid, root))
		return 0;
	sleep_ms(HV_STOPPED_MS);
	return proc_stopped((pid_t)pid) && serves(pid, root);
}

int
hv_wait(int sock, int dirfd, const char *root, double deadline, long *pid)
{
	struct pollfd p = {.fd = sock, .events = POLLIN};
	double left;
	long now;
	int rc;

	for (;;) {
		left = (deadline - monotime()) * 1000;
		if (left <= 0)
			return 0;
		rc = poll(&p, 1, left < HV_TICK_MS ? (int)left + 1 : HV_TICK_MS);
		if (rc > 0 || (rc < 0 && errno != EINTR))
			return 1;	/* the read says what it is */
		if (rc < 0)
			continue;
		now = dirfd >= 0 ? hv_pid(dirfd) : 0;
		if (now > 0)
			*pid = now;
		if (*pid > 0 && hv_is_stopped(*pid, root))
			return -1;
	}
}

void
hv_kill_zygote(pid_t pid)
{
	pid_t *kids;
	size_t n, i;

	/* first its children: once it is gone they are no longer its, and
	 * what a clean zygote's test left in its group would be lost. It is
	 * stopped first: then it reaps none of them, and their pids cannot
	 * pass to another process while they are killed */
	kill(pid, SIGSTOP);
	for (i = 0; i < 20 && !proc_stopped(pid); i++)
		sleep_ms(5);
	kids = proc_children(pid, &n);
	for (i = 0; i < n; i++) {
		kill(-kids[i], SIGKILL);
		kill(kids[i], SIGKILL);
	}
	free(kids);
	kill(pid, SIGKILL);
}

void
hv_kill(int dirfd, long pid)
{
	pid_t *kids;
	size_t n, i;
	double until;
	int state;

	kids = proc_children((pid_t)pid, &n);
	for (i = 0; i < n; i++)
		if (proc_stopped(kids[i]))
			hv_kill_zygote(kids[i]);
	free(kids);
	kill((pid_t)pid, SIGKILL);
	/* its listening socket closes as it dies: a client that connects
	 * after this reaches its successor, not it */
	for (until = monotime() + 1; monotime() < until; sleep_ms(10)) {
		state = proc_state((pid_t)pid);
		if (state == 0 || state == 'Z' || state == 'X')
			break;
	}
	if (hv_pid(dirfd) == pid)
		unlinkat(dirfd, TACH_HV_PID, 0);
}

void
hv_replace_stopped(int dirfd, const char *root, int clean, long pid)
{
	warn("the %szygote %ld of %s is stopped and answers no one: killed it, starting another",
	    clean ? "clean " : "", pid, root);
	hv_kill(dirfd, pid);
}
