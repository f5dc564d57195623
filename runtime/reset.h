/* reset - brings a process back to a snapshot of itself, so that one
 * process can run test after test as if each were the first.
 *
 * reset_snapshot() records the process: its writable private memory (the
 * heap, anonymous mappings, the data and bss of the program and of every
 * shared object, the stack above the caller's frame), its descriptors,
 * signal dispositions and mask, alternate stack, interval timers, resource
 * limits, umask, priority, working directory and program break. The
 * memory is kept by a twin: a process cloned at that moment that does
 * nothing but exist, so its pages are the snapshot, shared copy-on-write
 * and unwritable by the process that is reset (it reads them through the
 * twin's /proc/PID/mem, handed over once). The written pages are found
 * with userfaultfd's asynchronous write protection and the PAGEMAP_SCAN
 * ioctl: after a test, the pages written since the last reset are copied
 * back from the twin and protected again; mappings the test made are
 * removed, mappings it removed or replaced are made again and refilled.
 *
 * What cannot be brought back makes reset_restore() fail with the reason:
 * a thread still running, a child process, a descriptor of the reset's
 * own closed or replaced, a limit that cannot be raised again, a signal
 * pending, a session or process group of its own, a dumpable process, a
 * mapping it cannot make again. The caller then exits (retires the
 * process) rather than go on in an unknown state.
 *
 * Every call is for a single-threaded process. The bookkeeping lives in a
 * mapping of its own, outside what is tracked; reset_restore() allocates
 * nothing and leaves errno alone once memory is restored. Needs Linux 6.7
 * (UFFD_FEATURE_WP_ASYNC, PAGEMAP_SCAN); reset_supported() says. */
#ifndef TACH_RUNTIME_RESET_H
#define TACH_RUNTIME_RESET_H

#include <stddef.h>

/* Whether this kernel offers what a reset needs. NULL when it does, else
 * why not (a static string). */
const char *reset_supported(void);

/* Snapshots the calling process. frame is the caller's frame
 * (__builtin_frame_address(0)): the stack above it is tracked, the stack
 * below it (the caller's and its callees' frames) is not, so the caller
 * must keep no pointer across a reset into memory allocated after the
 * snapshot. The reset's descriptors are placed at or above fdbase.
 * Returns 0, or -1 with why (a static string) and errno. */
int reset_snapshot(void *frame, int fdbase, const char **why);

/* Records the kernel's side again (signals, timers, limits, umask,
 * priority, program break), after the caller changed it on purpose since
 * the snapshot (loaded the Iron Dome, which the twin cannot be made
 * under). Memory the caller wrote since is still brought back. */
void reset_kernel_again(void);

/* Brings the process back to its snapshot. Returns 0, or -1 with why (a
 * static string): the process is in an unknown state and must exit. */
int reset_restore(const char **why);

/* Compares every tracked page with the snapshot. Returns the number of
 * pages that differ (0: none), with the first described in msg; -1 when
 * the comparison itself failed (msg says why). */
long reset_verify(char *msg, size_t n);

/* How many pages the last reset_restore() copied back, how many mappings
 * it removed or made again, and (into steps, n bytes) the time of each of
 * its steps. */
void reset_stats(unsigned long *pages, unsigned long *maps, char *steps, size_t n);

/* The twin's pid (0 before the snapshot). */
int reset_twin(void);

#endif
