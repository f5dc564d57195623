/* sandbox - the Iron Dome: a seccomp filter for forked test processes
 * (runtime/sandbox.c, the only libseccomp user).
 *
 * The zygote builds the filter once with sandbox_new() and exports it as
 * BPF; each forked child loads it with sandbox_load(), a single prctl/
 * seccomp call with no allocation. Denied system calls fail with EPERM:
 * socket (socketpair stays), connect, bind, listen, accept, accept4, fork,
 * vfork, clone without CLONE_THREAD (threads stay allowed), clone3, execve,
 * execveat, ptrace, process_vm_readv/writev, mount, umount2, pivot_root,
 * chroot, unshare, setns, io_uring_setup/enter/register, bpf,
 * perf_event_open, init/finit/delete_module, kexec_load/kexec_file_load,
 * reboot, keyctl, add_key, request_key, userfaultfd, pidfd_getfd,
 * process_madvise. seccomp cannot filter paths, so the parent's memory is
 * guarded by sandbox_harden() instead: the zygote must call it, or a child
 * could write into the zygote through /proc/PPID/mem.
 * Functions return 0 or a negative errno, never exit. */
#ifndef TACH_SANDBOX_H
#define TACH_SANDBOX_H

#include <stddef.h>

struct sandbox;

/* Builds the policy. Returns NULL and sets *err (negative errno) on failure. */
struct sandbox *sandbox_new(int *err);
void sandbox_free(struct sandbox *sb);
/* Installs the filter in the calling process: sets no_new_privs, drops
 * CAP_SYS_PTRACE (so not even root gets past sandbox_harden()), loads the
 * BPF. Safe to call right after fork(): no allocation, four system calls. */
int sandbox_load(const struct sandbox *sb);
/* Makes the calling process (a zygote) non-dumpable, so that processes of
 * the same user, its sandboxed children included, cannot open its
 * /proc/PID/mem or ptrace it. Inherited across fork. */
int sandbox_harden(void);
/* Writes the policy as libseccomp's pseudo-filter-code text to fd (the
 * golden dump that makes policy changes visible). */
int sandbox_export_pfc(const struct sandbox *sb, int fd);
/* The name of a denied syscall number ("socket"), or NULL when the policy
 * allows it. Used to explain a test stopped by the dome. */
const char *sandbox_denied_name(int nr);
/* The list of denied syscall names, NULL-terminated. */
const char *const *sandbox_denied(void);

#endif
