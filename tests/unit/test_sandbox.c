/* Live tests for the Iron Dome, after libseccomp's: each case forks a
 * child that loads the filter and attempts a system call directly; the
 * child's exit status says what happened and the parent asserts on it.
 *
 * Child exit status: 0 the call was refused as expected (or, for an
 * allowed call, it worked); 1 a refused call succeeded; 2 sandbox_load()
 * failed; 3 an allowed call failed; 4 sandbox_take_denied() did not name
 * the refused call (the child says what it got on stderr); 10 + errno a
 * refused call failed with another errno. The golden dump of the policy
 * is compared with tests/sandbox/policy.pfc, found from the top directory (or $TACH_TOP);
 * TACH_WRITE_GOLDEN=1 rewrites that file from the current policy. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <cmocka.h>

#include "tach/sandbox.h"
#include "lib/util.h"

enum {
	OK = 0,
	SUCCEEDED = 1,
	LOAD_FAILED = 2,
	ALLOWED_FAILED = 3,
	WRONG_DENIED = 4,
	OTHER_ERRNO = 10,
};

static struct sandbox *sb;

/* Outcome of a call the dome must refuse with want. */
static int
refused(long ret, int want)
{
	if (ret >= 0)
		return SUCCEEDED;
	if (errno == want)
		return OK;
	return OTHER_ERRNO + (errno < 200 ? errno : 200);
}

/* Runs fn in a forked child, inside the dome when dome is set; returns
 * the child's exit status, or 256 + the signal that killed it. */
static int
run_child(int (*fn)(void), int dome)
{
	pid_t pid;
	int status, rc;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (dome && sandbox_load(sb) < 0)
			_exit(LOAD_FAILED);
		rc = fn();
		_exit(rc);
	}
	while (waitpid(pid, &status, 0) < 0)
		assert_int_equal(errno, EINTR);
	if (WIFSIGNALED(status))
		return 256 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static void
explain(const char *what, int rc)
{
	if (rc >= 256)
		print_error("%s: child killed by signal %d\n", what, rc - 256);
	else if (rc >= OTHER_ERRNO)
		print_error("%s: failed with %s instead\n", what, strerror(rc - OTHER_ERRNO));
	else if (rc == SUCCEEDED)
		print_error("%s: succeeded inside the dome\n", what);
	else if (rc == LOAD_FAILED)
		print_error("%s: sandbox_load failed\n", what);
	else if (rc == ALLOWED_FAILED)
		print_error("%s: an allowed call failed inside the dome\n", what);
	else if (rc == WRONG_DENIED)
		print_error("%s: sandbox_take_denied reported another call\n", what);
}

/* Calls the dome must refuse. */

static int
do_socket_inet(void)
{
	return refused(socket(AF_INET, SOCK_STREAM, 0), EPERM);
}

static int
do_socket_inet6(void)
{
	return refused(socket(AF_INET6, SOCK_DGRAM, 0), EPERM);
}

static int
do_socket_netlink(void)
{
	return refused(socket(AF_NETLINK, SOCK_RAW, 0), EPERM);
}

/* AF_UNIX with garbage in the high word: the kernel reads AF_UNIX, the
 * filter sees another value and refuses */
static int
do_socket_high_word(void)
{
	return refused((int)syscall(SYS_socket, (1L << 32) | AF_UNIX, SOCK_STREAM, 0), EPERM);
}

/* Limits, priority and scheduling of another process (the zygote) are
 * not the test's; its own are. */
static int
do_prlimit_parent(void)
{
	struct rlimit r = {RLIM_INFINITY, RLIM_INFINITY};

	return refused((int)syscall(SYS_prlimit64, getppid(), RLIMIT_CORE, &r, NULL), EPERM);
}

static int
do_setpriority_group(void)
{
	return refused(setpriority(PRIO_PGRP, 0, 0), EPERM);
}

static int
do_setpriority_parent(void)
{
	return refused(setpriority(PRIO_PROCESS, (id_t)getppid(), 0), EPERM);
}

static int
do_setaffinity_parent(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	return refused(sched_setaffinity(getppid(), sizeof(set), &set), EPERM);
}

static int
do_limits_own(void)
{
	struct rlimit r;
	cpu_set_t set;

	if (getrlimit(RLIMIT_NOFILE, &r) < 0 || setrlimit(RLIMIT_NOFILE, &r) < 0)
		return ALLOWED_FAILED;
	if (syscall(SYS_prlimit64, getpid(), RLIMIT_NOFILE, &r, NULL) < 0)
		return ALLOWED_FAILED;
	/* reading another's limit is harmless */
	if (syscall(SYS_prlimit64, getppid(), RLIMIT_NOFILE, NULL, &r) < 0)
		return ALLOWED_FAILED;
	if (setpriority(PRIO_PROCESS, 0, getpriority(PRIO_PROCESS, 0)) < 0 ||
	    setpriority(PRIO_PROCESS, (id_t)getpid(), 0) < 0)
		return ALLOWED_FAILED;
	if (sched_getaffinity(0, sizeof(set), &set) < 0 || sched_setaffinity(0, sizeof(set), &set) < 0 ||
	    sched_setaffinity(getpid(), sizeof(set), &set) < 0)
		return ALLOWED_FAILED;
	return OK;
}

/* A socketpair made before the filter. */
static int pair[2] = {-1, -1};

/* A unix socket is the test's own: a server and a client in the dome
 * (abstract name), connect, bind, listen, accept. */
static int
do_unix_socket(void)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + 10;
	int srv, cli, conn;
	char c = 0;

	memcpy(sun.sun_path, "\0tach-dome", 10);
	srv = socket(AF_UNIX, SOCK_STREAM, 0);
	cli = socket(AF_UNIX, SOCK_STREAM, 0);
	if (srv < 0 || cli < 0 || bind(srv, (struct sockaddr *)&sun, len) < 0 || listen(srv, 1) < 0 ||
	    connect(cli, (struct sockaddr *)&sun, len) < 0 || (conn = accept4(srv, NULL, NULL, 0)) < 0)
		return ALLOWED_FAILED;
	if (write(cli, "x", 1) != 1 || read(conn, &c, 1) != 1 || c != 'x')
		return ALLOWED_FAILED;
	close(conn);
	close(cli);
	close(srv);
	return OK;
}

/* Checks that sandbox_take_denied() reports syscall nr, named name,
 * exactly once; or nothing when nr is -1 (always where the dome does not
 * trap). */
static int
took(int nr, const char *name)
{
	unsigned count = 99;
	const char *got_name;
	int got;

	if (!SANDBOX_TRAPS)
		nr = -1;
	got = sandbox_take_denied(&count);
	got_name = sandbox_denied_name(got);
	if (nr < 0 ? got == -1 && count == 0
	    : got == nr && count == 1 && got_name && strcmp(got_name, name) == 0)
		return OK;
	fprintf(stderr, "took %d (%s) %u time(s), wanted %d (%s)\n", got,
	    got_name ? got_name : "-", count, nr, name ? name : "-");
	return WRONG_DENIED;
}

/* Reaps a process a refused call made anyway, and reports it. */
static int
reap(pid_t pid)
{
	if (pid == 0)
		_exit(0);
	if (pid > 0) {
		waitpid(pid, NULL, 0);
		return SUCCEEDED;
	}
	return -1;
}

static int
do_fork(void)
{
	pid_t pid = fork();

	if (pid >= 0)
		return reap(pid);
	return refused(pid, EPERM);
}

static int
do_sys_fork(void)
{
	long pid = syscall(SYS_fork);

	if (pid == 0)
		syscall(SYS_exit, 0);
	if (pid > 0)
		return reap(pid);
	return refused(pid, EPERM);
}

static int
do_vfork(void)
{
	long pid = syscall(SYS_vfork);

	if (pid == 0)
		syscall(SYS_exit, 0);
	if (pid > 0)
		return reap(pid);
	return refused(pid, EPERM);
}

static int
do_clone(void)
{
	long pid = syscall(SYS_clone, (unsigned long)SIGCHLD, 0, 0, 0, 0);

	if (pid >= 0)
		return reap(pid);
	return refused(pid, EPERM);
}

static int
do_clone_vfork(void)
{
	long pid = syscall(SYS_clone, (unsigned long)(CLONE_VFORK | SIGCHLD), 0, 0, 0, 0);

	if (pid >= 0)
		return reap(pid);
	return refused(pid, EPERM);
}

/* Runs fn with every signal blocked, as posix_spawn(), system() and
 * CPython's _posixsubprocess do around their vfork or fork: a trap there
 * would kill the process with SIGSYS. */
static int
all_blocked(int (*fn)(void))
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	if (sigprocmask(SIG_BLOCK, &all, &old) < 0)
		return ALLOWED_FAILED;
	rc = fn();
	if (sigprocmask(SIG_SETMASK, &old, NULL) < 0)
		return ALLOWED_FAILED;
	return rc;
}

static int
do_fork_blocked(void)
{
	return all_blocked(do_fork);
}

static int
do_sys_fork_blocked(void)
{
	return all_blocked(do_sys_fork);
}

static int
do_vfork_blocked(void)
{
	return all_blocked(do_vfork);
}

static int
do_clone_blocked(void)
{
	return all_blocked(do_clone);
}

static int
do_clone_vfork_blocked(void)
{
	return all_blocked(do_clone_vfork);
}

/* CPython's _posixsubprocess: vfork, and when it fails fork(), with every
 * signal still blocked. */
static int
subprocess_fallback(void)
{
	int rc = do_clone_vfork();

	return rc == OK ? do_fork() : rc;
}

static int
do_subprocess_fallback(void)
{
	return all_blocked(subprocess_fallback);
}

extern char **environ;

static int
do_posix_spawn(void)
{
	char *argv[] = {"true", NULL};
	pid_t pid;
	int err;

	err = posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ);
	if (err == 0) {
		waitpid(pid, NULL, 0);
		return SUCCEEDED;
	}
	return err == EPERM ? OK : OTHER_ERRNO + (err < 200 ? err : 200);
}

/* system() fails (-1, or the shell's "could not run" status 127) rather
 * than kill the caller. */
static int
do_system(void)
{
	int st = system("true");

	if (st == 0)
		return SUCCEEDED;
	if (st == -1 || (WIFEXITED(st) && WEXITSTATUS(st) != 0))
		return OK;
	return ALLOWED_FAILED;
}

static int
do_clone3(void)
{
	/* struct clone_args, version 0: flags, pidfd, child_tid,
	 * parent_tid, exit_signal, stack, stack_size, tls. */
	uint64_t args[8] = {0};
	long pid;

	args[4] = SIGCHLD;
	pid = syscall(SYS_clone3, args, sizeof(args));
	if (pid >= 0)
		return reap(pid);
	return refused(pid, ENOSYS);
}

static int
do_execve(void)
{
	char *argv[] = {"true", NULL};
	char *envp[] = {NULL};

	return refused(execve("/bin/true", argv, envp), EPERM);
}

static int
do_execveat(void)
{
	char *argv[] = {"true", NULL};
	char *envp[] = {NULL};

	return refused(syscall(SYS_execveat, AT_FDCWD, "/bin/true", argv, envp, 0), EPERM);
}

static int
do_pidfd_getfd(void)
{
	int pidfd = (int)syscall(SYS_pidfd_open, getppid(), 0);

	if (pidfd < 0)
		return ALLOWED_FAILED;
	return refused(syscall(SYS_pidfd_getfd, pidfd, 0, 0), EPERM);
}

static int
do_process_madvise(void)
{
	int pidfd = (int)syscall(SYS_pidfd_open, getppid(), 0);
	struct iovec iov = {&iov, sizeof(iov)};

	if (pidfd < 0)
		return ALLOWED_FAILED;
	return refused(syscall(SYS_process_madvise, pidfd, &iov, 1, 20 /* MADV_COLD */, 0), EPERM);
}

/* A hardened parent's memory is closed to its sandboxed child: runs as the
 * parent (outside the dome), forks the child into the dome. */
static int
do_parent_mem(void)
{
	pid_t pid;
	int status;

	if (sandbox_harden() < 0)
		return ALLOWED_FAILED;
	pid = fork();
	if (pid < 0)
		return ALLOWED_FAILED;
	if (pid == 0) {
		char path[64];

		if (sandbox_load(sb) < 0)
			_exit(LOAD_FAILED);
		snprintf(path, sizeof(path), "/proc/%d/mem", (int)getppid());
		_exit(refused(open(path, O_RDWR), EACCES));
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return ALLOWED_FAILED;
	return WIFEXITED(status) ? WEXITSTATUS(status) : ALLOWED_FAILED;
}

static int
do_ptrace(void)
{
	return refused(ptrace(PTRACE_TRACEME, 0, NULL, NULL), EPERM);
}

static int
do_process_vm_readv(void)
{
	char src[8] = "dome", dst[8];
	struct iovec local = {dst, sizeof(dst)}, remote = {src, sizeof(src)};

	return refused(process_vm_readv(getpid(), &local, 1, &remote, 1, 0), EPERM);
}

static int
do_process_vm_writev(void)
{
	char src[8] = "dome", dst[8];
	struct iovec local = {src, sizeof(src)}, remote = {dst, sizeof(dst)};

	return refused(process_vm_writev(getpid(), &local, 1, &remote, 1, 0), EPERM);
}

static int
do_mount(void)
{
	/* A target that does not exist: without the dome this fails with
	 * ENOENT even for root, so nothing is ever mounted. */
	return refused(mount("none", "/nonexistent/tach-dome", "tmpfs", 0, NULL), EPERM);
}

static int
do_umount2(void)
{
	return refused(umount2("/nonexistent/tach-dome", 0), EPERM);
}

static int
do_unshare(void)
{
	return refused(unshare(CLONE_NEWUSER), EPERM);
}

static int
do_setns(void)
{
	return refused(setns(-1, 0), EPERM);
}

static int
do_chroot(void)
{
	return refused(chroot("/"), EPERM);
}

static int
do_io_uring_setup(void)
{
	char params[120] = {0};

	return refused(syscall(SYS_io_uring_setup, 1, params), EPERM);
}

static int
do_bpf(void)
{
	return refused(syscall(SYS_bpf, -1, NULL, 0), EPERM);
}

static int
do_perf_event_open(void)
{
	return refused(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0), EPERM);
}

static int
do_userfaultfd(void)
{
	return refused(syscall(SYS_userfaultfd, O_CLOEXEC), EPERM);
}

static int
do_keyctl(void)
{
	/* KEYCTL_GET_KEYRING_ID of KEY_SPEC_SESSION_KEYRING */
	return refused(syscall(SYS_keyctl, 0, -3, 0), EPERM);
}

/* Signals: a test may send them to itself only. Its parent (the zygote),
 * its process group (the zygote's and the other tests') and, for root,
 * every process (kill(-1)) are out of reach. Signal 0 only asks whether
 * the target exists, so a call the dome lets through harms nothing. */

static int
do_kill_parent(void)
{
	return refused(kill(getppid(), 0), EPERM);
}

static int
do_kill_group(void)
{
	return refused(kill(0, 0), EPERM);
}

static int
do_kill_all(void)
{
	return refused(kill(-1, 0), EPERM);
}

/* -1 as the kernel sees it from syscall(): all 64 bits set */
static int
do_sys_kill_all(void)
{
	return refused(syscall(SYS_kill, -1L, 0), EPERM);
}

/* the kernel reads the pid as an int: the dome must not see its own pid
 * in the low word and let the call through */
static int
do_kill_high_word(void)
{
	return refused(syscall(SYS_kill, (1L << 32) | getpid(), 0), EPERM);
}

static int
do_killpg(void)
{
	return refused(killpg(getpgrp(), 0), EPERM);
}

static int
do_tgkill_parent(void)
{
	return refused(tgkill(getppid(), getppid(), 0), EPERM);
}

static int
do_tkill_parent(void)
{
	return refused(syscall(SYS_tkill, getppid(), 0), EPERM);
}

static int
do_sigqueue_parent(void)
{
	union sigval v = {.sival_int = 1};

	return refused(sigqueue(getppid(), 0, v), EPERM);
}

static int
do_tgsigqueueinfo_parent(void)
{
	siginfo_t info;

	memset(&info, 0, sizeof(info));
	info.si_code = SI_QUEUE;
	info.si_pid = getpid();
	info.si_uid = getuid();
	return refused(syscall(SYS_rt_tgsigqueueinfo, getppid(), getppid(), 0, &info), EPERM);
}

static int
do_pidfd_send_signal(void)
{
	int pidfd = (int)syscall(SYS_pidfd_open, getppid(), 0);

	if (pidfd < 0)
		return ALLOWED_FAILED;
	return refused(syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0), EPERM);
}

/* denied even to the caller itself: its pidfd is only a number */
static int
do_pidfd_send_signal_self(void)
{
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);

	if (pidfd < 0)
		return ALLOWED_FAILED;
	return refused(syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0), EPERM);
}

/* A file's owner gets SIGIO (or what F_SETSIG says) on its I/O. */
static int
do_setown_parent(void)
{
	return refused(fcntl(pair[0], F_SETOWN, getppid()), EPERM);
}

static int
do_setown_group(void)
{
	return refused(fcntl(pair[0], F_SETOWN, -getpgrp()), EPERM);
}

/* the kernel reads cmd as an unsigned int */
static int
do_setown_high_word(void)
{
	return refused(syscall(SYS_fcntl, pair[0], (1L << 32) | F_SETOWN, getppid()), EPERM);
}

static int
do_setown_ex(void)
{
	struct f_owner_ex own = {F_OWNER_PID, 0};

	own.pid = getpid();
	return refused(fcntl(pair[0], F_SETOWN_EX, &own), EPERM);
}

static int
do_fiosetown(void)
{
	int pid = getppid();

	return refused(ioctl(pair[0], FIOSETOWN, &pid), EPERM);
}

static int
do_siocspgrp(void)
{
	int pid = getppid();

	return refused(ioctl(pair[0], SIOCSPGRP, &pid), EPERM);
}

static volatile sig_atomic_t usr1;

static void
on_usr1(int sig)
{
	(void)sig;
	usr1++;
}

static int
catch_usr1(void)
{
	struct sigaction sa = {.sa_handler = on_usr1};

	sigemptyset(&sa.sa_mask);
	usr1 = 0;
	return sigaction(SIGUSR1, &sa, NULL);
}

/* A signal a process sends itself is delivered before the call returns. */
static int
do_kill_self(void)
{
	union sigval v = {.sival_int = 1};

	if (catch_usr1() < 0)
		return ALLOWED_FAILED;
	if (kill(getpid(), SIGUSR1) < 0 || usr1 != 1)
		return ALLOWED_FAILED;
	if (tgkill(getpid(), gettid(), SIGUSR1) < 0 || usr1 != 2)
		return ALLOWED_FAILED;
	if (raise(SIGUSR1) != 0 || usr1 != 3)
		return ALLOWED_FAILED;
	if (sigqueue(getpid(), SIGUSR1, v) < 0 || usr1 != 4)
		return ALLOWED_FAILED;
	/* the main thread's id is the pid */
	if (syscall(SYS_tkill, getpid(), SIGUSR1) < 0 || usr1 != 5)
		return ALLOWED_FAILED;
	return OK;
}

static void *
wait_usr1(void *arg)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigwait(&set, &sig) != 0 || sig != SIGUSR1)
		return NULL;
	return arg;
}

/* pthread_kill() is tgkill to another thread of the same process. */
static int
do_pthread_kill(void)
{
	sigset_t set;
	pthread_t t;
	void *ret = NULL;
	int x;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return ALLOWED_FAILED;
	if (pthread_create(&t, NULL, wait_usr1, &x) != 0)
		return ALLOWED_FAILED;
	if (pthread_kill(t, SIGUSR1) != 0)
		return ALLOWED_FAILED;
	if (pthread_join(t, &ret) != 0 || ret != &x)
		return ALLOWED_FAILED;
	return OK;
}

/* The owner may be the caller, and the other commands stay. */
static int
do_setown_self(void)
{
	int n = -1;

	if (fcntl(pair[0], F_SETOWN, getpid()) < 0 || fcntl(pair[0], F_GETOWN) != getpid())
		return ALLOWED_FAILED;
	if (fcntl(pair[0], F_GETFL) < 0 || ioctl(pair[0], FIONREAD, &n) < 0 || n != 0)
		return ALLOWED_FAILED;
	return OK;
}

#if defined(__x86_64__)
/* The x32 ABI (syscall numbers with bit 30 set) is a foreign architecture
 * to the filter: the call kills the process rather than slipping by. */
static int
do_x32(void)
{
	syscall(0x40000000L | SYS_getpid);
	return SUCCEEDED;
}

static void
test_foreign_abi(void **state)
{
	int rc;

	(void)state;
	rc = run_child(do_x32, 1);
	if (rc != 256 + SIGSYS)
		explain("x32 getpid", rc);
	assert_int_equal(rc, 256 + SIGSYS);
}
#else
static void
test_foreign_abi(void **state)
{
	(void)state;
	skip();
}
#endif

/* Calls the dome must allow. */

static int
do_socketpair(void)
{
	int sv[2];
	char c = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return ALLOWED_FAILED;
	if (write(sv[0], "x", 1) != 1 || read(sv[1], &c, 1) != 1 || c != 'x')
		return ALLOWED_FAILED;
	return OK;
}

static void *
thread_main(void *arg)
{
	return arg;
}

static int
do_pthread(void)
{
	pthread_t t;
	void *ret = NULL;
	int x;

	if (pthread_create(&t, NULL, thread_main, &x) != 0)
		return ALLOWED_FAILED;
	if (pthread_join(t, &ret) != 0 || ret != &x)
		return ALLOWED_FAILED;
	return OK;
}

static int
do_file_io(void)
{
	char path[] = "/tmp/tach-dome-XXXXXX", buf[8] = {0};
	int fd, rc = ALLOWED_FAILED;

	fd = mkstemp(path);
	if (fd < 0)
		return ALLOWED_FAILED;
	if (write(fd, "dome", 4) != 4)
		goto out;
	close(fd);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		goto out;
	if (read(fd, buf, sizeof(buf)) == 4 && memcmp(buf, "dome", 4) == 0)
		rc = OK;
out:
	if (fd >= 0)
		close(fd);
	unlink(path);
	return rc;
}

static int
do_basics(void)
{
	struct timespec ts;
	char *p;

	if (syscall(SYS_getpid) != getpid())
		return ALLOWED_FAILED;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return ALLOWED_FAILED;
	if (syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts) < 0)
		return ALLOWED_FAILED;
	p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return ALLOWED_FAILED;
	p[0] = 1;
	p[(1 << 16) - 1] = 2;
	if (munmap(p, 1 << 16) < 0)
		return ALLOWED_FAILED;
	return OK;
}

/* A live case: fn's attempt, then the denial it must leave for
 * sandbox_take_denied() (nr -1 for none). */
struct live {
	const char *what;
	int (*fn)(void);
	int nr;
	const char *name;
};

static const struct live *live;

static int
live_child(void)
{
	int rc = live->fn();

	return rc == OK ? took(live->nr, live->name) : rc;
}

static void
test_live(void **state)
{
	int rc;

	live = *state;
	rc = run_child(live_child, 1);
	explain(live->what, rc);
	assert_int_equal(rc, OK);
}

/* DENY: refused with EPERM and reported as sys; REFUSE: refused and not
 * reported (fork, vfork, clone without CLONE_THREAD, clone3); ALLOW: works
 * and nothing reported. */
#define DENY(what, fn, sys) \
	{"denies " what, test_live, NULL, NULL, &(struct live){what, fn, __NR_##sys, #sys}}
#define REFUSE(what, fn) {"denies " what, test_live, NULL, NULL, &(struct live){what, fn, -1, NULL}}
#define ALLOW(what, fn) {"allows " what, test_live, NULL, NULL, &(struct live){what, fn, -1, NULL}}

/* Two denials: the first is reported, both counted, and taking resets. */
static int
do_count_two(void)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	unsigned count = 0;
	int nr, rc;

	(void)sun;
	if ((rc = refused(socket(AF_INET, SOCK_STREAM, 0), EPERM)) != OK)
		return rc;
	if ((rc = refused(socket(AF_INET6, SOCK_STREAM, 0), EPERM)) != OK)
		return rc;
	nr = sandbox_take_denied(&count);
	if (SANDBOX_TRAPS && (nr != __NR_socket || count != 2))
		return WRONG_DENIED;
	if (sandbox_take_denied(&count) != -1 || count != 0)
		return WRONG_DENIED;
	if ((rc = refused(ptrace(PTRACE_TRACEME, 0, NULL, NULL), EPERM)) != OK)
		return rc;
	nr = sandbox_take_denied(NULL);
	if (SANDBOX_TRAPS && nr != __NR_ptrace)
		return WRONG_DENIED;
	return took(-1, NULL);
}

static void
test_count_two(void **state)
{
	static struct live c = {"two sockets", do_count_two, -1, NULL};

	*state = &c;
	test_live(state);
}

#if SANDBOX_TRAPS
/* The SIGSYS handler cannot be replaced, not even with the signal number
 * in the low half of a 64-bit argument, but it can be queried; other
 * signals' handlers stay free, and a SIGSYS not from the filter (raise)
 * is ignored. */
static int
do_keep_handler(void)
{
	struct sigaction sa = {.sa_handler = SIG_DFL}, old;
	unsigned long kact[4] = {0};
	int rc;

	if ((rc = refused(sigaction(SIGSYS, &sa, NULL), EPERM)) != OK)
		return rc;
	if ((rc = refused(signal(SIGSYS, SIG_IGN) == SIG_ERR ? -1 : 0, EPERM)) != OK)
		return rc;
	if ((rc = refused(syscall(SYS_rt_sigaction, (1L << 32) | SIGSYS, kact, NULL, 8), EPERM)) != OK)
		return rc;
	if (sigaction(SIGSYS, NULL, &old) < 0 || !(old.sa_flags & SA_SIGINFO)
	    || old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN)
		return ALLOWED_FAILED;
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		return ALLOWED_FAILED;
	if (raise(SIGSYS) != 0)
		return ALLOWED_FAILED;
	if ((rc = took(-1, NULL)) != OK)
		return rc;
	return refused(socket(AF_INET, SOCK_STREAM, 0), EPERM);
}

static void
test_keep_handler(void **state)
{
	static struct live c = {"rt_sigaction(SIGSYS)", do_keep_handler, __NR_socket, "socket"};

	*state = &c;
	test_live(state);
}
#else
static void
test_keep_handler(void **state)
{
	(void)state;
	skip();
}
#endif

/* A sandboxed child cannot open its hardened parent's memory. */
static void
test_parent_mem(void **state)
{
	int rc;

	(void)state;
	rc = run_child(do_parent_mem, 0);
	if (rc != OK)
		explain("open(/proc/PPID/mem) of a hardened parent", rc);
	assert_int_equal(rc, OK);
}

/* Without the dome the harness does see a call that works. */
static void
test_control(void **state)
{
	(void)state;
	assert_int_equal(run_child(do_socket_inet, 0), SUCCEEDED);
}

static int
do_nothing(void)
{
	return OK;
}

static void
test_load_many(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 100; i++)
		assert_int_equal(run_child(do_nothing, 1), OK);
}

/* The dome stacks: loading it twice is allowed (the handler in place is
 * kept), still refuses, and reports the call once. */
static int
do_load_twice(void)
{
	int rc;

	if (sandbox_load(sb) < 0)
		return LOAD_FAILED;
	rc = refused(socket(AF_INET, SOCK_DGRAM, 0), EPERM);
	return rc == OK ? took(__NR_socket, "socket") : rc;
}

static void
test_load_twice(void **state)
{
	(void)state;
	assert_int_equal(run_child(do_load_twice, 1), OK);
}

static void
test_denied_name(void **state)
{
	const char *const *names;
	size_t n = 0;

	(void)state;
	assert_string_equal(sandbox_denied_name(__NR_socket), "socket");
	assert_string_equal(sandbox_denied_name(__NR_clone3), "clone3");
	assert_string_equal(sandbox_denied_name(__NR_userfaultfd), "userfaultfd");
	assert_string_equal(sandbox_denied_name(__NR_kill), "kill");
	assert_string_equal(sandbox_denied_name(__NR_pidfd_send_signal), "pidfd_send_signal");
	assert_null(sandbox_denied_name(__NR_read));
	assert_null(sandbox_denied_name(__NR_socketpair));
	assert_null(sandbox_denied_name(-1));
	for (names = sandbox_denied(); *names; names++) {
		assert_string_not_equal(*names, "socketpair");
		assert_string_not_equal(*names, "read");
		n++;
	}
	assert_true(n >= 36);
}

static void
test_load_null(void **state)
{
	(void)state;
	assert_int_equal(sandbox_load(NULL), -EINVAL);
	assert_int_equal(sandbox_export_pfc(NULL, 1), -EINVAL);
}

/* The 1-based line where two NUL-terminated texts first differ. */
static int
first_diff_line(const char *a, const char *b)
{
	int line = 1;

	for (; *a && *a == *b; a++, b++) {
		if (*a == '\n')
			line++;
	}
	return line;
}

static void
test_golden_pfc(void **state)
{
	char tmp[] = "/tmp/tach-pfc-XXXXXX", *golden, *got = NULL, *want = NULL;
	const char *top;
	size_t gotlen, wantlen;
	int fd;

	(void)state;
#if !defined(__x86_64__)
	skip();
#endif
	top = getenv("TACH_TOP");
	golden = path_join(top && *top ? top : ".", "tests/sandbox/policy.pfc");
	fd = mkstemp(tmp);
	assert_true(fd >= 0);
	assert_int_equal(sandbox_export_pfc(sb, fd), 0);
	close(fd);
	assert_int_equal(read_file(tmp, &got, &gotlen), 0);
	unlink(tmp);
	if (getenv("TACH_WRITE_GOLDEN")) {
		FILE *f = fopen(golden, "w");

		assert_non_null(f);
		assert_int_equal(fwrite(got, 1, gotlen, f), gotlen);
		assert_int_equal(fclose(f), 0);
	}
	if (read_file(golden, &want, &wantlen) < 0)
		fail_msg("cannot read %s: %s", golden, strerror(errno));
	if (gotlen != wantlen || memcmp(got, want, gotlen) != 0)
		fail_msg("policy dump differs from %s at line %d (rerun with "
		    "TACH_WRITE_GOLDEN=1 to update it after a policy change)",
		    golden, first_diff_line(got, want));
	free(got);
	free(want);
	free(golden);
}

static int
setup(void **state)
{
	int err = 0;

	(void)state;
	sb = sandbox_new(&err);
	if (!sb) {
		print_error("sandbox_new: %s\n", strerror(-err));
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) < 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	sandbox_free(sb);
	close(pair[0]);
	close(pair[1]);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_denied_name),
		cmocka_unit_test(test_load_null),
		cmocka_unit_test(test_golden_pfc),
		cmocka_unit_test(test_control),
		DENY("socket(AF_INET)", do_socket_inet, socket),
		DENY("socket(AF_INET6)", do_socket_inet6, socket),
		DENY("socket(AF_NETLINK)", do_socket_netlink, socket),
		DENY("socket(AF_UNIX) with a high word", do_socket_high_word, socket),
		REFUSE("fork() (clone, EPERM)", do_fork),
		REFUSE("fork() with every signal blocked", do_fork_blocked),
		REFUSE("fork (EPERM)", do_sys_fork),
		REFUSE("fork with every signal blocked", do_sys_fork_blocked),
		REFUSE("vfork (EPERM)", do_vfork),
		REFUSE("vfork with every signal blocked", do_vfork_blocked),
		REFUSE("clone without CLONE_THREAD (EPERM)", do_clone),
		REFUSE("clone with every signal blocked", do_clone_blocked),
		REFUSE("clone(CLONE_VFORK) (EPERM)", do_clone_vfork),
		REFUSE("clone(CLONE_VFORK) with every signal blocked", do_clone_vfork_blocked),
		REFUSE("vfork then fork() with every signal blocked", do_subprocess_fallback),
		REFUSE("posix_spawn (EPERM)", do_posix_spawn),
		REFUSE("system (fails)", do_system),
		REFUSE("clone3 (ENOSYS)", do_clone3),
		DENY("execve", do_execve, execve),
		DENY("execveat", do_execveat, execveat),
		DENY("ptrace(PTRACE_TRACEME)", do_ptrace, ptrace),
		DENY("pidfd_getfd", do_pidfd_getfd, pidfd_getfd),
		DENY("process_madvise", do_process_madvise, process_madvise),
		DENY("process_vm_readv", do_process_vm_readv, process_vm_readv),
		DENY("process_vm_writev", do_process_vm_writev, process_vm_writev),
		DENY("mount", do_mount, mount),
		DENY("umount2", do_umount2, umount2),
		DENY("unshare(CLONE_NEWUSER)", do_unshare, unshare),
		DENY("setns", do_setns, setns),
		DENY("chroot", do_chroot, chroot),
		DENY("io_uring_setup", do_io_uring_setup, io_uring_setup),
		DENY("bpf", do_bpf, bpf),
		DENY("perf_event_open", do_perf_event_open, perf_event_open),
		DENY("userfaultfd", do_userfaultfd, userfaultfd),
		DENY("keyctl", do_keyctl, keyctl),
		DENY("kill(getppid())", do_kill_parent, kill),
		DENY("kill(0)", do_kill_group, kill),
		DENY("kill(-1)", do_kill_all, kill),
		DENY("kill(-1) by syscall()", do_sys_kill_all, kill),
		DENY("kill of its pid with a high word", do_kill_high_word, kill),
		DENY("killpg(getpgrp())", do_killpg, kill),
		DENY("tgkill(getppid())", do_tgkill_parent, tgkill),
		DENY("tkill(getppid())", do_tkill_parent, tkill),
		DENY("sigqueue(getppid())", do_sigqueue_parent, rt_sigqueueinfo),
		DENY("rt_tgsigqueueinfo(getppid())", do_tgsigqueueinfo_parent, rt_tgsigqueueinfo),
		DENY("pidfd_send_signal", do_pidfd_send_signal, pidfd_send_signal),
		DENY("pidfd_send_signal to itself", do_pidfd_send_signal_self, pidfd_send_signal),
		DENY("fcntl(F_SETOWN, getppid())", do_setown_parent, fcntl),
		DENY("fcntl(F_SETOWN, -getpgrp())", do_setown_group, fcntl),
		DENY("fcntl(F_SETOWN) with a high word", do_setown_high_word, fcntl),
		DENY("fcntl(F_SETOWN_EX)", do_setown_ex, fcntl),
		DENY("ioctl(FIOSETOWN)", do_fiosetown, ioctl),
		DENY("ioctl(SIOCSPGRP)", do_siocspgrp, ioctl),
		DENY("prlimit64 of its parent", do_prlimit_parent, prlimit64),
		DENY("setpriority of its process group", do_setpriority_group, setpriority),
		DENY("setpriority of its parent", do_setpriority_parent, setpriority),
		DENY("sched_setaffinity of its parent", do_setaffinity_parent, sched_setaffinity),
		ALLOW("its own limits, priority and affinity", do_limits_own),
		ALLOW("socketpair", do_socketpair),
		ALLOW("unix sockets: socket, bind, listen, connect, accept", do_unix_socket),
		ALLOW("pthread_create and join", do_pthread),
		ALLOW("file read/write/open", do_file_io),
		ALLOW("getpid, clock_gettime, mmap", do_basics),
		ALLOW("kill, tgkill, raise, sigqueue and tkill to itself", do_kill_self),
		ALLOW("pthread_kill", do_pthread_kill),
		ALLOW("fcntl(F_SETOWN, getpid()), F_GETFL, FIONREAD", do_setown_self),
		cmocka_unit_test(test_count_two),
		cmocka_unit_test(test_keep_handler),
		cmocka_unit_test(test_foreign_abi),
		cmocka_unit_test(test_parent_mem),
		cmocka_unit_test(test_load_twice),
		cmocka_unit_test(test_load_many),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
