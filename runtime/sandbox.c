/* sandbox - the Iron Dome, the only libseccomp user.
 *
 * sandbox_new() builds the policy with libseccomp once (in the zygote):
 * everything is allowed except the system calls in the table below. clone
 * is refused only when it would make a process (no CLONE_THREAD in its
 * flags), so threads keep working; clone3 fails with ENOSYS, because its
 * flags live in memory a filter cannot read: glibc then falls back to
 * clone, where the flag rule applies. A call made through a foreign ABI
 * (i386 int 0x80 on x86_64, x32) does not match the filter's architecture
 * and kills the process.
 *
 * The calls that make a process (fork, vfork, clone without CLONE_THREAD,
 * with CLONE_VFORK or not) fail with EPERM directly and are not recorded:
 * posix_spawn(), system() and CPython's _posixsubprocess (which falls back
 * from vfork to fork) block every signal around them, and a trap while
 * SIGSYS is blocked kills the process.
 *
 * socket is denied for every family but AF_UNIX: a unix socket is the
 * test's own (glibc's name lookups through nscd, sssd or systemd-userdb,
 * syslog, a socketpair), and with no other family to make, connect, bind,
 * listen and accept reach unix sockets only (the zygote checks it holds no
 * other socket a test process could inherit: hv_unsafe_state()).
 *
 * prlimit64 (setting a limit), setpriority and sched_setaffinity,
 * sched_setscheduler, sched_setparam and sched_setattr are denied on any
 * process but the caller (pid 0 or its own): a second, small filter
 * written by hand (by_pid_filter) says so, since a libseccomp rule allows
 * one comparison per argument and these need two.
 *
 * Every other denied call, where SANDBOX_TRAPS is 1 (x86_64, aarch64),
 * traps (SECCOMP_RET_TRAP): the kernel skips it and raises SIGSYS, whose
 * handler, installed by sandbox_load(), records the syscall number for
 * sandbox_take_denied() and writes -EPERM into the return register of the
 * interrupted context, so the caller sees -1 and errno EPERM. A second rule
 * refuses rt_sigaction(SIGSYS, act != NULL) with EPERM, so the handler
 * cannot be replaced. Where SANDBOX_TRAPS is 0 they fail with EPERM
 * directly and nothing is recorded.
 *
 * A test may signal itself and nothing else. Nothing but the filter would
 * stop it: the zygote and the other tests run as its uid, in its process
 * group, and as root kill(-1) reaches every process on the machine. kill,
 * tkill, tgkill, rt_sigqueueinfo and rt_tgsigqueueinfo are denied unless
 * their first argument is the caller's own pid (for tkill, its main
 * thread), so kill(0), kill(-1) and killpg() are denied too;
 * pidfd_send_signal is denied whatever its target. A file's owner, which
 * the kernel signals on I/O, is such a target too: fcntl(F_SETOWN) may
 * name only the caller, and F_SETOWN_EX, FIOSETOWN and SIOCSPGRP, which
 * name it through a pointer, are denied.
 *
 * The pid is not known when the policy is built: the rules compare with
 * OWN_PID, a number no pid can be, and sandbox_load() copies the program
 * onto its stack with getpid() written over it. The comparison takes all
 * 64 bits of the argument (libseccomp compiles it as "high word == 0 and
 * low word == OWN_PID"), so a negative pid, however its high word is
 * filled, and a pid with anything in the high word are denied; only the
 * exact pid passes. sandbox_new() checks that OWN_PID is in the program,
 * and only in such a comparison, so a libseccomp that compiles the rules
 * another way fails there rather than load a filter that denies every
 * signal (or, patched in the wrong place, lets them all through).
 *
 * The policy is exported as BPF right away and kept as a struct
 * sock_fprog, so sandbox_load() after fork() touches no allocator and no
 * lock: it sets no_new_privs, drops CAP_SYS_PTRACE, installs the SIGSYS
 * handler, then the program, with its pid, and by_pid_filter() in two
 * seccomp(2) calls. Paths
 * cannot be filtered, so a parent's memory (/proc/PPID/mem) is protected
 * by sandbox_harden(): the zygote makes itself non-dumpable, and its
 * children, without CAP_SYS_PTRACE even as root, cannot open it.
 * pidfd_getfd is denied so no descriptor (a socket) can be taken from
 * another process. The libseccomp context is kept only to print the policy
 * as pseudo-filter code (the golden dump in tests/sandbox/policy.pfc).
 *
 * Every function returns 0 or a negative errno and never exits. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/sockios.h>
#include <linux/seccomp.h>
#include <seccomp.h>

#include "tach/sandbox.h"
#include "lib/util.h"

struct sandbox {
	scmp_filter_ctx ctx;
	struct sock_fprog prog;
	uint32_t arch;		/* the native AUDIT_ARCH, for by_pid_filter() */
};

/* The denied system calls. "fork", "vfork" and "clone" (only without
 * CLONE_THREAD) fail with EPERM, "clone3" with ENOSYS, none of them
 * recorded; the rest trap, or fail with EPERM where SANDBOX_TRAPS is 0.
 * The calls of to_others[] are denied only when they signal another
 * process, fcntl and ioctl only when they set a file's owner (see
 * add_owner_rules()). Names unknown on the native architecture are
 * skipped. */
static const char *const denied[] = {
	"socket",
	"fork", "vfork", "clone", "clone3",
	"execve", "execveat",
	"ptrace", "process_vm_readv", "process_vm_writev",
	"mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"bpf", "perf_event_open",
	"init_module", "finit_module", "delete_module",
	"kexec_load", "kexec_file_load", "reboot",
	"keyctl", "add_key", "request_key", "userfaultfd",
	"pidfd_getfd", "process_madvise",
	"kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
	"pidfd_send_signal", "fcntl", "fcntl64", "ioctl",
	/* on a pid that is not the caller's: by_pid_filter(), not libseccomp */
	"prlimit64", "sched_setaffinity", "sched_setscheduler", "sched_setparam", "sched_setattr",
	"setpriority",
	NULL,
};

/* The signal senders whose first argument is the target's pid (a thread
 * id for tkill, a thread group id for the others). */
static const char *const to_others[] = {
	"kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
	NULL,
};

/* Stands for the caller's pid in the policy until sandbox_load() writes
 * the real one over it: above pid_max (at most 2^22), so it can be no
 * process, and unlike any other constant of the program (2052853217 in
 * the golden dump). */
#define OWN_PID 0x7A5C0DE1u

/* The longest program sandbox_load() copies onto its stack (8 KiB). */
#define MAX_INSNS 1024

static int denied_nr[LEN(denied) - 1];
static pthread_once_t denied_once = PTHREAD_ONCE_INIT;

static void
resolve_denied(void)
{
	size_t i;

	for (i = 0; i < LEN(denied_nr); i++)
		denied_nr[i] = seccomp_syscall_resolve_name(denied[i]);
}

#if SANDBOX_TRAPS
#define DENY SCMP_ACT_TRAP
#else
#define DENY SCMP_ACT_ERRNO(EPERM)
#endif

/* The first denied syscall since the last sandbox_take_denied(), and how
 * many there were; written only by on_sigsys(). */
static volatile sig_atomic_t first_denied = -1;
static volatile sig_atomic_t denied_count;
/* Every denial since the filter was loaded: never reset by a take. */
static volatile sig_atomic_t denied_total;

#if SANDBOX_TRAPS
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1	/* si_code of a seccomp SIGSYS; glibc lacks it */
#endif

/* SIGSYS from the filter: record the call and make it return -EPERM. */
static void
on_sigsys(int sig, siginfo_t *info, void *uctx)
{
	ucontext_t *uc = uctx;
	int saved = errno;

	(void)sig;
	if (info->si_code != SYS_SECCOMP)
		goto out;
	if (denied_count == 0)
		first_denied = info->si_syscall;
	if (denied_count < SIG_ATOMIC_MAX)
		denied_count++;
	if (denied_total < SIG_ATOMIC_MAX)
		denied_total++;
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = (unsigned long long)-EPERM;
#endif
out:
	errno = saved;
}

/* Installs on_sigsys(). Under a dome already loaded the rt_sigaction rule
 * refuses it, which is fine when our handler is the one in place. */
static int
install_sigsys(void)
{
	struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO}, old;
	int err;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == 0)
		return 0;
	err = errno;
	if (err == EPERM && sigaction(SIGSYS, NULL, &old) == 0
	    && (old.sa_flags & SA_SIGINFO) && old.sa_sigaction == on_sigsys)
		return 0;
	return -err;
}
#endif

/* fork, vfork and clone without CLONE_THREAD are often made with every
 * signal blocked (posix_spawn(), system(), CPython's _posixsubprocess),
 * where a trap would kill the process: they fail with EPERM directly and
 * are not recorded. */
#define DENY_PROCESS SCMP_ACT_ERRNO(EPERM)

static int
is_to_others(const char *name)
{
	size_t i;

	for (i = 0; to_others[i]; i++) {
		if (strcmp(to_others[i], name) == 0)
			return 1;
	}
	return 0;
}

/* The kernel signals a file's owner on its I/O (O_ASYNC's SIGIO, a
 * socket's SIGURG), with any signal F_SETSIG picks: an owner is a target
 * like kill()'s, and may be only the caller. F_SETOWN names it in its
 * argument; F_SETOWN_EX, and FIOSETOWN and SIOCSPGRP on a socket, through
 * a pointer the filter cannot follow, so they are denied. The kernel reads
 * cmd as an unsigned int, hence the masks. */
static int
add_owner_rules(scmp_filter_ctx ctx, int nr)
{
	int rc;

	if (nr == __NR_ioctl) {
		rc = seccomp_rule_add(ctx, DENY, nr, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, FIOSETOWN));
		if (rc == 0)
			rc = seccomp_rule_add(ctx, DENY, nr, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, SIOCSPGRP));
		return rc;
	}
	rc = seccomp_rule_add(ctx, DENY, nr, 2, SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, F_SETOWN),
	    SCMP_A2(SCMP_CMP_NE, OWN_PID));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, DENY, nr, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, F_SETOWN_EX));
	return rc;
}

static int
add_rules(scmp_filter_ctx ctx)
{
	struct scmp_arg_cmp nothread;
	size_t i;
	int nr, rc;

	/* s390 passes the stack pointer first and the flags second. */
	switch (seccomp_arch_native()) {
	case SCMP_ARCH_S390:
	case SCMP_ARCH_S390X:
		nothread = SCMP_A1(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0);
		break;
	default:
		nothread = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0);
		break;
	}
	for (i = 0; denied[i]; i++) {
		/* a negative number is libseccomp's stand-in for a call of
		 * another architecture (fcntl64 on x86_64) */
		nr = seccomp_syscall_resolve_name(denied[i]);
		if (nr < 0)
			continue;
		if (nr == __NR_prlimit64 || nr == __NR_sched_setaffinity || nr == __NR_sched_setscheduler ||
		    nr == __NR_sched_setparam || nr == __NR_sched_setattr || nr == __NR_setpriority)
			continue;	/* by_pid_filter() */
		if (nr == __NR_clone)
			rc = seccomp_rule_add(ctx, DENY_PROCESS, nr, 1, nothread);
#ifdef __NR_fork
		else if (nr == __NR_fork)
			rc = seccomp_rule_add(ctx, DENY_PROCESS, nr, 0);
#endif
#ifdef __NR_vfork
		else if (nr == __NR_vfork)
			rc = seccomp_rule_add(ctx, DENY_PROCESS, nr, 0);
#endif
#ifdef __NR_clone3
		else if (nr == __NR_clone3)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
#endif
		else if (is_to_others(denied[i]))
			rc = seccomp_rule_add(ctx, DENY, nr, 1, SCMP_A0(SCMP_CMP_NE, OWN_PID));
		else if (nr == __NR_ioctl || strcmp(denied[i], "fcntl") == 0 || strcmp(denied[i], "fcntl64") == 0)
			rc = add_owner_rules(ctx, nr);
		else if (nr == __NR_socket)
			/* a unix socket is the test's own (name lookups through
			 * nscd or sssd, syslog, a socketpair's peer): any other
			 * family is the network, or the kernel's (netlink) */
			rc = seccomp_rule_add(ctx, DENY, nr, 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX));
		else
			rc = seccomp_rule_add(ctx, DENY, nr, 0);
		if (rc < 0)
			return rc;
	}
#if SANDBOX_TRAPS
	/* keep on_sigsys() in place; the kernel reads the signal number
	 * as an int, hence the mask (querying with act == NULL stays) */
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(rt_sigaction), 2,
	    SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, SIGSYS), SCMP_A1(SCMP_CMP_NE, 0, 0));
	if (rc < 0)
		return rc;
#endif
	return 0;
}

/* Exports the BPF program into memory through a memfd (libseccomp 2.5
 * only writes it to a file descriptor). */
static int
export_bpf(scmp_filter_ctx ctx, struct sock_fprog *prog)
{
	struct stat st;
	char *p = NULL;
	size_t off;
	ssize_t n;
	int fd, rc;

	fd = memfd_create("tach-sandbox-bpf", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = seccomp_export_bpf(ctx, fd);
	if (rc < 0)
		goto out;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0) {
		rc = -EINVAL;
		goto out;
	}
	if (st.st_size / sizeof(struct sock_filter) > MAX_INSNS) {
		rc = -E2BIG;
		goto out;
	}
	p = malloc(st.st_size);
	if (!p) {
		rc = -ENOMEM;
		goto out;
	}
	for (off = 0; off < (size_t)st.st_size; off += n) {
		n = pread(fd, p + off, st.st_size - off, off);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			goto out;
		}
	}
	prog->len = st.st_size / sizeof(struct sock_filter);
	prog->filter = (struct sock_filter *)p;
	p = NULL;
	rc = 0;
out:
	free(p);
	close(fd);
	return rc;
}

/* Whether insn is a place for the caller's pid: a comparison of an
 * argument's low word with OWN_PID. */
static int
is_pid_slot(const struct sock_filter *insn)
{
	return insn->code == (BPF_JMP | BPF_JEQ | BPF_K) && insn->k == OWN_PID;
}

/* The signal rules hold only once their OWN_PID is replaced: it must be
 * there, and only where sandbox_load() will replace it. */
static int
check_pid_slots(const struct sock_fprog *prog)
{
	size_t i, n = 0;

	for (i = 0; i < prog->len; i++) {
		if (is_pid_slot(&prog->filter[i]))
			n++;
		else if (prog->filter[i].k == OWN_PID)
			return -ENOTSUP;
	}
	return n > 0 ? 0 : -ENOTSUP;
}

struct sandbox *
sandbox_new(int *err)
{
	struct sandbox *sb;
	int rc;

	sb = calloc(1, sizeof(*sb));
	if (!sb) {
		rc = -ENOMEM;
		goto out;
	}
	sb->ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!sb->ctx) {
		rc = -ENOMEM;
		goto out;
	}
	rc = seccomp_attr_set(sb->ctx, SCMP_FLTATR_CTL_NNP, 1);
	if (rc < 0)
		goto out;
	rc = seccomp_attr_set(sb->ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (rc < 0)
		goto out;
	rc = add_rules(sb->ctx);
	if (rc < 0)
		goto out;
	rc = export_bpf(sb->ctx, &sb->prog);
	if (rc < 0)
		goto out;
	rc = check_pid_slots(&sb->prog);
	sb->arch = seccomp_arch_native();
out:
	if (rc < 0) {
		sandbox_free(sb);
		sb = NULL;
	}
	if (err)
		*err = rc;
	return sb;
}

void
sandbox_free(struct sandbox *sb)
{
	if (!sb)
		return;
	if (sb->ctx)
		seccomp_release(sb->ctx);
	free(sb->prog.filter);
	free(sb);
}

/* The second filter, written here because libseccomp allows one comparison
 * per argument and these need two: prlimit64 setting a limit,
 * sched_setaffinity, sched_setscheduler, sched_setparam and sched_setattr
 * on a pid other than 0 and the caller's, and setpriority on anything but
 * PRIO_PROCESS of 0 or the caller, are denied like the policy's calls (a
 * lower RLIMIT_CPU or RLIMIT_NOFILE kills or breaks a zygote as surely as
 * a signal; a process group's priority is the zygote's and the other
 * tests'). The kernel runs both filters; the stricter answer wins. Built
 * into f (30 instructions) with the caller's pid; returns its length. No
 * allocation: sandbox_load() runs after fork(). */
#define ARG_LO(n) ((uint32_t)offsetof(struct seccomp_data, args[n]) + (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? 4 : 0))
#define ARG_HI(n) ((uint32_t)offsetof(struct seccomp_data, args[n]) + (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? 0 : 4))

static unsigned short
by_pid_filter(struct sock_filter *f, uint32_t arch, pid_t self)
{
	enum { AT_PRL = 10, AT_PID = 14, AT_PRIO = 19, AT_ALLOW = 28, AT_DENY = 29 };
	unsigned short n = 0;

#define LD(off) (f[n] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, off), n++)
#define JEQ(k, jt, jf) (f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf), n++)
#define TO(at) ((unsigned char)((at) - n - 1))
#define NEXT 0
	LD(offsetof(struct seccomp_data, arch));			/* 0 */
	JEQ(arch, NEXT, TO(AT_ALLOW));
	LD(offsetof(struct seccomp_data, nr));
	JEQ(__NR_prlimit64, TO(AT_PRL), NEXT);
	JEQ(__NR_sched_setaffinity, TO(AT_PID), NEXT);
	JEQ(__NR_sched_setscheduler, TO(AT_PID), NEXT);
	JEQ(__NR_sched_setparam, TO(AT_PID), NEXT);
	JEQ(__NR_sched_setattr, TO(AT_PID), NEXT);
	JEQ(__NR_setpriority, TO(AT_PRIO), NEXT);
	f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, TO(AT_ALLOW), 0, 0), n++;
	/* PRL: prlimit64 reading a limit (new == NULL) is anyone's */
	LD(ARG_LO(2));							/* 10 */
	JEQ(0, NEXT, TO(AT_PID));
	LD(ARG_HI(2));
	JEQ(0, TO(AT_ALLOW), NEXT);
	/* PID: the first argument, 0 or ours */
	LD(ARG_HI(0));							/* 14 */
	JEQ(0, NEXT, TO(AT_DENY));
	LD(ARG_LO(0));
	JEQ(0, TO(AT_ALLOW), NEXT);
	JEQ((uint32_t)self, TO(AT_ALLOW), TO(AT_DENY));
	/* PRIO: setpriority(PRIO_PROCESS, 0 or ours) */
	LD(ARG_HI(0));							/* 19 */
	JEQ(0, NEXT, TO(AT_DENY));
	LD(ARG_LO(0));
	JEQ(0, NEXT, TO(AT_DENY));
	LD(ARG_HI(1));
	JEQ(0, NEXT, TO(AT_DENY));
	LD(ARG_LO(1));
	JEQ(0, TO(AT_ALLOW), NEXT);
	JEQ((uint32_t)self, TO(AT_ALLOW), TO(AT_DENY));
	f[n] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW), n++;	/* 28 */
#if SANDBOX_TRAPS
	f[n] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP), n++;	/* 29 */
#else
	f[n] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM), n++;
#endif
#undef LD
#undef JEQ
#undef TO
#undef NEXT
	return n;
}

int
sandbox_load(const struct sandbox *sb)
{
	struct sock_filter insns[MAX_INSNS];
	struct sock_fprog prog;
	unsigned short i;
	pid_t self;

	if (!sb || !sb->prog.filter || sb->prog.len > MAX_INSNS)
		return -EINVAL;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* a test running as root must not get around sandbox_harden() with
	 * CAP_SYS_PTRACE: drop it for good (two syscalls, no allocation) */
	{
		struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct data[2];
		unsigned bit = CAP_SYS_PTRACE;

		if (syscall(SYS_capget, &hdr, data) < 0)
			return -errno;
		data[bit / 32].effective &= ~(1u << (bit % 32));
		data[bit / 32].permitted &= ~(1u << (bit % 32));
		data[bit / 32].inheritable &= ~(1u << (bit % 32));
		if (syscall(SYS_capset, &hdr, data) < 0)
			return -errno;
	}
#if SANDBOX_TRAPS
	{
		int rc = install_sigsys();

		if (rc < 0)
			return rc;
	}
#endif
	/* the policy with this process's pid in it: a copy on the stack,
	 * since the zygote's copy serves every child */
	self = getpid();
	prog.len = sb->prog.len;
	prog.filter = insns;
	for (i = 0; i < prog.len; i++) {
		insns[i] = sb->prog.filter[i];
		if (is_pid_slot(&insns[i]))
			insns[i].k = (uint32_t)self;
	}
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return -errno;
	prog.len = by_pid_filter(insns, sb->arch, self);
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return -errno;
	return 0;
}

int
sandbox_harden(void)
{
	/* not dumpable: no process of the same user may open our
	 * /proc/PID/mem (or ptrace us), children included */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

int
sandbox_export_pfc(const struct sandbox *sb, int fd)
{
	if (!sb || !sb->ctx)
		return -EINVAL;
	return seccomp_export_pfc(sb->ctx, fd);
}

int
sandbox_take_denied(unsigned *count)
{
	unsigned n = (unsigned)denied_count;
	int nr = n ? (int)first_denied : -1;

	denied_count = 0;
	first_denied = -1;
	if (count)
		*count = n;
	return nr;
}

unsigned
sandbox_denied_total(void)
{
	return (unsigned)denied_total;
}

const char *
sandbox_denied_name(int nr)
{
	size_t i;

	if (nr < 0)
		return NULL;
	pthread_once(&denied_once, resolve_denied);
	for (i = 0; i < LEN(denied_nr); i++) {
		if (denied_nr[i] == nr)
			return denied[i];
	}
	return NULL;
}

const char *const *
sandbox_denied(void)
{
	return denied;
}
