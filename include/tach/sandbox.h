/* sandbox - the Iron Dome: a seccomp filter for forked test processes
 * (runtime/sandbox.c, the only libseccomp user).
 *
 * The zygote builds the filter once with sandbox_new() and exports it as
 * BPF; each forked child loads it with sandbox_load(), with no allocation.
 * Denied system calls fail with EPERM: socket (socketpair stays), connect,
 * bind, listen, accept, accept4, fork, vfork, clone without CLONE_THREAD
 * (threads stay allowed), execve, execveat, ptrace,
 * process_vm_readv/writev, mount, umount2, pivot_root, chroot, unshare,
 * setns, io_uring_setup/enter/register, bpf, perf_event_open,
 * init/finit/delete_module, kexec_load/kexec_file_load, reboot, keyctl,
 * add_key, request_key, userfaultfd, pidfd_getfd, process_madvise,
 * pidfd_send_signal; clone3 fails with ENOSYS so that glibc falls back to
 * clone. A test may signal itself and nothing else: kill, tkill, tgkill,
 * rt_sigqueueinfo and rt_tgsigqueueinfo are denied unless they target the
 * caller's own pid (so kill(0), kill(-1), killpg() and kill(getppid()) are
 * denied), and so is naming another process as a file's owner, which the
 * kernel signals on I/O (fcntl F_SETOWN; F_SETOWN_EX, and the FIOSETOWN and
 * SIOCSPGRP ioctls, always).
 *
 * The calls that make a process (fork, vfork, clone without CLONE_THREAD,
 * with CLONE_VFORK or not) fail with EPERM directly and are never recorded:
 * posix_spawn(), system() and CPython's _posixsubprocess block every signal
 * around them, and a trapped call with SIGSYS blocked kills the process.
 * So fork(), posix_spawn(), system() and subprocess fail (EPERM), and a
 * process in the dome is never killed by a denial it cannot see.
 *
 * Every other denied call, where SANDBOX_TRAPS is 1 (x86_64, aarch64),
 * gets its EPERM from a SIGSYS handler that sandbox_load() installs: it
 * records the call for sandbox_take_denied(), and the caller still sees -1
 * and errno EPERM. After the load, rt_sigaction(SIGSYS, act != NULL) fails
 * with EPERM so the handler stays (querying it with act == NULL works). A
 * SIGSYS that is not from the filter (kill) is ignored. Where SANDBOX_TRAPS
 * is 0 all the calls fail with EPERM directly and nothing is recorded.
 *
 * seccomp cannot filter paths, so the parent's memory is guarded by
 * sandbox_harden() instead: the zygote must call it, or a child could
 * write into the zygote through /proc/PPID/mem.
 * Functions return 0 or a negative errno, never exit. */
#ifndef TACH_SANDBOX_H
#define TACH_SANDBOX_H

#include <stddef.h>

#if defined(__x86_64__) || defined(__aarch64__)
#define SANDBOX_TRAPS 1
#else
#define SANDBOX_TRAPS 0
#endif

struct sandbox;

/* Builds the policy. Returns NULL and sets *err (negative errno) on failure. */
struct sandbox *sandbox_new(int *err);
void sandbox_free(struct sandbox *sb);
/* Installs the filter in the calling process: sets no_new_privs, drops
 * CAP_SYS_PTRACE (so not even root gets past sandbox_harden()), installs
 * the SIGSYS handler (SANDBOX_TRAPS), loads the BPF with the caller's pid
 * in its signal rules, and the filter of the calls on other pids. Safe to
 * call right after fork(): no allocation, seven system calls. Loading it again stacks a second copy and keeps the
 * handler. */
int sandbox_load(const struct sandbox *sb);
/* Makes the calling process (a zygote) non-dumpable, so that processes of
 * the same user, its sandboxed children included, cannot open its
 * /proc/PID/mem or ptrace it. Inherited across fork. */
int sandbox_harden(void);
/* Writes the policy as libseccomp's pseudo-filter-code text to fd (the
 * golden dump that makes policy changes visible). */
int sandbox_export_pfc(const struct sandbox *sb, int fd);
/* The first syscall number denied in this process since the last call, or
 * -1 when none was (always -1 where SANDBOX_TRAPS is 0; fork, vfork,
 * clone and clone3 are never counted); stores the number
 * of denials in *count when count is not NULL, and resets both.
 * Async-signal-safe. Exact within one thread; denials made at the same
 * time in several threads may be miscounted. */
int sandbox_take_denied(unsigned *count);
/* How many calls were denied since the filter was loaded, takes or not. */
unsigned sandbox_denied_total(void);
/* The name of a denied syscall number ("socket"), or NULL when the policy
 * allows it whatever its arguments. Used to explain a test stopped by the
 * dome. */
const char *sandbox_denied_name(int nr);
/* The names of the syscalls the policy denies, always or for some
 * arguments (clone, kill, fcntl), NULL-terminated. */
const char *const *sandbox_denied(void);

#endif
