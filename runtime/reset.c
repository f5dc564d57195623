/* reset - brings a process back to a snapshot of itself (runtime/reset.h).
 *
 * The snapshot's memory is a twin: a process cloned (the raw system call,
 * so that no fork handler writes to either side) when the snapshot is
 * taken, which blocks every signal, closes every descriptor but its socket
 * and waits, dying with its parent. Its pages are the snapshot, shared
 * copy-on-write. Asked on its socket, it copies pages into a cache, a
 * memfd it maps writable; the process that is reset maps the cache
 * read-only, sealed (F_SEAL_FUTURE_WRITE) with no descriptor of it kept,
 * and copies back from there: the first reset that needs a page pays a
 * round trip, every later one a memcpy. The twin also hands over its
 * /proc/self/mem once (for refills and reset_verify()). It is not dumpable
 * (the zygote is not, and the Iron Dome drops CAP_SYS_PTRACE), so nothing
 * can write the snapshot.
 *
 * The tracked memory is every writable private mapping but the vDSO's,
 * this module's bookkeeping and the stack below the caller's frame. It is
 * registered with a userfaultfd in asynchronous write-protect mode and
 * write-protected once; a write then only clears the page's protection,
 * and PAGEMAP_SCAN lists the pages written. A reset, in this order:
 *   1. checks its own descriptors, that the process has one thread and
 *      no child but the twin;
 *   2. restores the kernel's side: descriptors (each recorded one is made
 *      again from a copy kept at fdbase and up, with its flags, offset and,
 *      for an unlinked file, its size; any other is closed), working
 *      directory, umask, signal dispositions, mask and alternate stack,
 *      interval timers, limits, priority, the parent-death signal, the
 *      program break (a pending signal, a new session or process group,
 *      a dumpable process cannot be undone);
 *   3. scans the tracked ranges: a part that is no longer registered (the
 *      test unmapped it, or mapped something else there) is mapped again,
 *      refilled from the twin and registered; the written pages are listed;
 *   4. when the process's size (/proc/self/statm) is not the snapshot's,
 *      unmaps what the test mapped and left, and checks that every mapping
 *      of the snapshot is still there;
 *   5. copies the written pages back from the cache, then protects them
 *      again (copying writes them: it must come before), but the hot
 *      ones: a page written by two resets running stays writable and is
 *      copied back every time (no fault during the test, no protection),
 *      learnt anew every RELEARN resets. A page the snapshot does not hold
 *      (anonymous, never written: all 0) is not copied but made 0, or
 *      given back (MADV_DONTNEED) when a test newly wrote more than
 *      KEEP_FRESH bytes of them: memory one test used once does not stay.
 * Once memory is restored, nothing may write to tracked memory: errno is
 * only set by a call that fails, and then the process exits.
 *
 * ~1,450 lines: one mechanism whose steps all work on one piece of
 * bookkeeping (struct state) that must stay private to this file. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "runtime/reset.h"

/* The kernel's uapi of 6.7 (linux/userfaultfd.h, linux/fs.h), newer than
 * Debian 12's headers. */
#define FEATURE_WP_UNPOPULATED (1ULL << 13)
#define FEATURE_WP_ASYNC (1ULL << 15)
struct scan_region {
	uint64_t start, end, categories;
};
struct scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define SCAN_IOCTL _IOWR('f', 16, struct scan_arg)
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)

#define MAXRANGES 4096		/* tracked ranges (adjacent mappings merged) */
#define MAXMAPS 8192		/* mappings of the snapshot */
#define MAXFDS 256		/* descriptors of the snapshot */
#define MAXVEC 16384		/* regions one scan returns */
#define MAXWRITTEN 65536	/* written regions one reset copies */
#define MAPSBUF (1 << 21)	/* /proc/self/maps */
#define CMPBUF (1 << 18)	/* reset_verify's reads */
#define MAXPAGES (1 << 22)	/* tracked pages (16 GiB) */
#define BATCH 2048		/* copies one request to the twin asks for */
#define RELEARN 64		/* resets between two learnings of the hot pages */
#define COLD_IOCTLS 32		/* more runs of pages to protect: a scan per range */
#define KEEP_FRESH (16 << 20)	/* bytes of 0 pages one test may newly write and keep */

struct range {
	uintptr_t start, end;
	int prot, anon;		/* anon: no file behind it (an unpopulated page reads 0) */
	size_t first;		/* index of its first page among all tracked pages */
};

struct span {
	uintptr_t start, end;
	size_t first;		/* the page index of start (struct range) */
};

/* A request to the twin: copy len bytes at addr into the cache at off. */
struct copy {
	uint64_t addr, len, off;
};

struct fdrec {
	int fd, saved, cloexec, flags;
	off_t off;		/* -1: not a regular file */
	off_t size;		/* an unlinked file's; -1: leave it */
};

struct own {
	int *fd;
	dev_t dev;
	ino_t ino;
};

struct state {
	size_t size;		/* of this mapping */
	int uffd, pagemap, maps, statm, task, cwd, mem, children;
	pid_t twin;
	uintptr_t brk, stack_lo;
	unsigned long vmsize;
	size_t page;
	size_t nranges, nmaps, nfds, nkeep, nown, nwritten;
	struct range ranges[MAXRANGES];
	struct span maps_[MAXMAPS];
	struct span runs[MAXMAPS];	/* unmap_new(): what is mapped now */
	struct fdrec fds[MAXFDS];
	int keep[2 * MAXFDS + 16];	/* sorted */
	struct own owns[16];
	struct sigaction sa[NSIG];
	char sa_ok[NSIG];
	sigset_t mask;
	stack_t altstack;
	int altstack_ok;
	struct itimerval it[3];
	struct rlimit rl[RLIM_NLIMITS];
	mode_t umask;
	int prio;
	pid_t sid, pgid;
	int dumpable, pdeathsig;
	unsigned long pages, remapped, dropped;
	int twinsock;		/* requests to the twin: copy these pages to the cache */
	char *cache;		/* the copy of the pages ever written, read-only here */
	size_t cache_size, nslots;
	size_t npages;		/* tracked pages */
	uint32_t slot[MAXPAGES];	/* a tracked page's slot in the cache, + 1; 0: none yet */
	uint32_t seen[MAXPAGES];	/* the last reset that found the page written */
	uint8_t zero[MAXPAGES / 8];	/* a tracked page the snapshot does not hold: all 0 */
	uint32_t resets;
	struct span cold[MAXWRITTEN];	/* written pages to protect again */
	size_t ncold;
	double t[6];		/* when each step of the last reset began, µs */
	struct scan_region vec[MAXVEC];
	struct span written[MAXWRITTEN];
	char buf[MAPSBUF];
	char cmp[CMPBUF];
};

static struct state *S;

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* glibc's rseq area, which the kernel writes whenever the thread is
 * scheduled: the one part of memory that may differ from the twin's
 * (glibc 2.35; weak, so absent is 0). glibc registers RSEQ_AREA bytes but
 * says __rseq_size is 20 (2.35-2.39): the kernel also writes node_id and
 * mm_cid past them (mm_cid changes when other threads come and go). */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));
#define RSEQ_AREA 32

/* The calling thread's rseq area and its length, or 0. */
static uintptr_t
rseq_area(size_t *len)
{
	if (!&__rseq_size || !__rseq_size)
		return 0;
	*len = __rseq_size > RSEQ_AREA ? __rseq_size : RSEQ_AREA;
	return (uintptr_t)__builtin_thread_pointer() + (uintptr_t)__rseq_offset;
}

/* Whether the page at addr (len bytes, snapshot copy at snap) differs
 * from the snapshot outside the rseq area; *first, where. */
static int
page_differs(const char *snap, uintptr_t addr, size_t len, uintptr_t *first)
{
	uintptr_t rs, re = 0;
	size_t b, n;

	rs = rseq_area(&n);
	if (rs)
		re = rs + n;
	for (b = 0; b < len; b++) {
		if (snap[b] != ((const char *)addr)[b] && !(addr + b >= rs && addr + b < re)) {
			*first = addr + b;
			return 1;
		}
	}
	return 0;
}

/* Moves fd to a number at or above base (close-on-exec). Returns it, or -1. */
static int
high(int fd, int base)
{
	int h;

	if (fd < 0 || fd >= base)
		return fd;
	h = fcntl(fd, F_DUPFD_CLOEXEC, base);
	close(fd);
	return h;
}

static void
keep_add(int fd)
{
	size_t i;

	if (S->nkeep >= sizeof(S->keep) / sizeof(S->keep[0]))
		return;
	for (i = S->nkeep; i > 0 && S->keep[i - 1] > fd; i--)
		S->keep[i] = S->keep[i - 1];
	S->keep[i] = fd;
	S->nkeep++;
}

static int
own_add(int *fd)
{
	struct stat st;

	if (S->nown == sizeof(S->owns) / sizeof(S->owns[0]) || fstat(*fd, &st) < 0)
		return -1;
	S->owns[S->nown++] = (struct own){fd, st.st_dev, st.st_ino};
	keep_add(*fd);
	return 0;
}

/* Reads all of a /proc file into S->buf. Returns its length, or -1. */
static ssize_t
read_proc(int fd)
{
	size_t len = 0;
	ssize_t n;

	for (;;) {
		n = pread(fd, S->buf + len, MAPSBUF - 1 - len, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len >= MAPSBUF - 1) {
			errno = EOVERFLOW;
			return -1;
		}
	}
	S->buf[len] = 0;
	return (ssize_t)len;
}

static uintptr_t
hex(const char **p)
{
	uintptr_t v = 0;
	int d;

	for (;; (*p)++) {
		if (**p >= '0' && **p <= '9')
			d = **p - '0';
		else if (**p >= 'a' && **p <= 'f')
			d = **p - 'a' + 10;
		else
			return v;
		v = v * 16 + (uintptr_t)d;
	}
}

/* One line of /proc/self/maps: its range, permissions and name (the rest
 * of the line, maybe empty). Returns the next line, or NULL at the end. */
static char *
maps_line(char *p, uintptr_t *start, uintptr_t *end, char perms[5], char **name, size_t *namelen)
{
	const char *q = p;
	char *nl;
	int field;

	if (!*p)
		return NULL;
	nl = strchr(p, '\n');
	if (!nl)
		nl = p + strlen(p);
	*start = hex(&q);
	q++;
	*end = hex(&q);
	q++;
	memcpy(perms, q, 4);
	perms[4] = 0;
	/* perms, offset, device, inode, then the name after the spaces */
	for (field = 0; field < 4 && q < nl; field++) {
		while (q < nl && *q != ' ')
			q++;
		while (q < nl && *q == ' ')
			q++;
	}
	*name = (char *)q;
	*namelen = (size_t)(nl - q);
	return *nl ? nl + 1 : nl;
}

static int
is_vdso(const char *name, size_t n)
{
	return n >= 2 && name[0] == '[' && name[1] == 'v';
}

static int
is_stack(const char *name, size_t n)
{
	return n == 7 && memcmp(name, "[stack]", 7) == 0;
}

static int
prot_of(const char perms[5])
{
	return (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
	    (perms[2] == 'x' ? PROT_EXEC : 0);
}

/* [s, e) tracked: a range of its own, or the end of the last one. */
static int
track_range(uintptr_t s, uintptr_t e, const char perms[5], int anon, const char **why)
{
	struct range *r = S->nranges ? &S->ranges[S->nranges - 1] : NULL;

	if (r && r->end == s && r->prot == prot_of(perms) && r->anon == anon) {
		r->end = e;
		return 0;
	}
	if (S->nranges == MAXRANGES) {
		*why = "too many mappings to track";
		return -1;
	}
	S->ranges[S->nranges++] = (struct range){s, e, prot_of(perms), anon, 0};
	return 0;
}

/* The mappings of the snapshot, and the tracked ranges among them. */
static int
snapshot_maps(const char **why)
{
	uintptr_t s, e, me = (uintptr_t)S, mend = (uintptr_t)S + S->size;
	char perms[5], *p, *name;
	size_t namelen;

	if (read_proc(S->maps) < 0) {
		*why = "cannot read /proc/self/maps";
		return -1;
	}
	for (p = S->buf; (p = maps_line(p, &s, &e, perms, &name, &namelen));) {
		if (S->nmaps == MAXMAPS) {
			*why = "too many mappings";
			return -1;
		}
		S->maps_[S->nmaps++] = (struct span){s, e, 0};
		if (perms[1] != 'w' || perms[3] != 'p' || is_vdso(name, namelen))
			continue;
		if (s < mend && e > me) {
			/* the bookkeeping, maybe merged with a neighbour: what
			 * lies above it is tracked as a mapping of its own */
			if (e > mend && track_range(mend, e, perms, 1, why) < 0)
				return -1;
			if (s >= me)
				continue;
			e = me;
		}
		if (is_stack(name, namelen)) {
			if (S->stack_lo >= e)
				continue;
			if (s < S->stack_lo)
				s = S->stack_lo;
		}
		if (track_range(s, e, perms, !namelen || name[0] == '[', why) < 0)
			return -1;
	}
	return 0;
}

static int
track(uintptr_t s, uintptr_t e)
{
	struct uffdio_register reg = {.range = {s, e - s}, .mode = UFFDIO_REGISTER_MODE_WP};
	struct uffdio_writeprotect wp = {.range = {s, e - s}, .mode = UFFDIO_WRITEPROTECT_MODE_WP};

	if (ioctl(S->uffd, UFFDIO_REGISTER, &reg) < 0)
		return -1;
	return ioctl(S->uffd, UFFDIO_WRITEPROTECT, &wp);
}

/* Write-protects again the written pages that are not hot. A page found
 * written by two resets running is hot: it is left writable, so that the
 * test does not fault on it, and (written or not) it is copied back at
 * every reset. Every RELEARN resets all of them are protected again, and
 * what the tests write now is learnt anew. */
static int protect_written(const char **why);
static void zero_mark(const struct range *r, uintptr_t p, int zero);

static int
protect_cold(const char **why)
{
	struct uffdio_writeprotect wp;
	struct span *w, *c;
	uintptr_t a;
	size_t idx;
	int relearn;

	S->resets++;
	relearn = S->resets % RELEARN == 0;
	S->ncold = 0;
	for (w = S->written; w < S->written + S->nwritten; w++) {
		for (a = w->start, idx = w->first; a < w->end; a += S->page, idx++) {
			int hot = S->seen[idx] + 1 == S->resets;

			S->seen[idx] = S->resets;
			if (hot && !relearn)
				continue;
			c = S->ncold ? &S->cold[S->ncold - 1] : NULL;
			if (c && c->end == a) {
				c->end += S->page;
			} else if (S->ncold == MAXWRITTEN) {
				*why = "too many written regions";
				return -1;
			} else {
				S->cold[S->ncold++] = (struct span){a, a + S->page, idx};
			}
		}
	}
	if (relearn || S->ncold > COLD_IOCTLS)
		return protect_written(why);
	for (c = S->cold; c < S->cold + S->ncold; c++) {
		wp = (struct uffdio_writeprotect){.range = {c->start, c->end - c->start}, .mode = UFFDIO_WRITEPROTECT_MODE_WP};
		if (ioctl(S->uffd, UFFDIO_WRITEPROTECT, &wp) < 0) {
			*why = "cannot write-protect memory again";
			return -1;
		}
	}
	return 0;
}

/* Asks the twin to copy n pages into the cache; waits for it. */
static int
twin_copy(struct copy *req, size_t n)
{
	char ack;
	ssize_t got;

	if (!n)
		return 0;
	if (send(S->twinsock, req, n * sizeof(*req), MSG_NOSIGNAL) != (ssize_t)(n * sizeof(*req)))
		return -1;
	do
		got = recv(S->twinsock, &ack, 1, 0);
	while (got < 0 && errno == EINTR);
	return got == 1 ? 0 : -1;
}

static int
is_zero(size_t idx)
{
	return S->zero[idx / 8] >> (idx % 8) & 1;
}

/* A page 0 in the snapshot that the previous reset did not find written. */
static int
fresh_zero(size_t idx)
{
	return is_zero(idx) && S->seen[idx] != S->resets;
}

/* Gives back the pages of [s, e) that are 0 in the snapshot and were not
 * written by the test before: a page a test writes once (a big
 * allocation) is not kept by the process for good. */
static int
drop_run(uintptr_t s, uintptr_t e)
{
	if (s >= e)
		return 0;
	S->dropped += (e - s) / S->page;
	return madvise((void *)s, e - s, MADV_DONTNEED);
}

/* Copies the written pages back from the cache; the twin first copies
 * into the cache those it holds no copy of yet. A page the snapshot does
 * not hold (never written before it) is made 0, with no copy, and kept:
 * the next test will likely write it again, and a fresh page costs a
 * fault. But when the test wrote more than KEEP_FRESH bytes of such pages
 * the previous test did not write, those are given back: what one test
 * used once does not stay with the process. */
static int
copy_back(const char **why)
{
	struct copy req[BATCH];
	struct span *w;
	size_t n = 0, k, idx, fresh = 0;
	uintptr_t a, drop;
	int give;

	for (w = S->written; w < S->written + S->nwritten; w++) {
		for (a = w->start, idx = w->first; a < w->end; a += S->page, idx++) {
			if (fresh_zero(idx))
				fresh++;
			if (S->slot[idx] || is_zero(idx))
				continue;
			if (S->nslots * S->page >= S->cache_size) {
				*why = "the snapshot's cache is full";
				return -1;
			}
			S->slot[idx] = (uint32_t)++S->nslots;
			if (n && req[n - 1].addr + req[n - 1].len == a &&
			    req[n - 1].off + req[n - 1].len == (S->nslots - 1) * S->page) {
				req[n - 1].len += S->page;
				continue;
			}
			if (n == BATCH) {
				if (twin_copy(req, n) < 0)
					goto gone;
				n = 0;
			}
			req[n++] = (struct copy){a, S->page, (S->nslots - 1) * S->page};
		}
	}
	if (twin_copy(req, n) < 0)
		goto gone;
	give = fresh * S->page > KEEP_FRESH;
	for (w = S->written; w < S->written + S->nwritten; w++) {
		/* [drop, a): pages to give back, not yet given */
		for (a = drop = w->start, idx = w->first; a < w->end; a += S->page, idx++) {
			if (give && fresh_zero(idx))
				continue;	/* given back: reads 0 again (protected below) */
			if (drop_run(drop, a) < 0)
				goto dropped;
			drop = a + S->page;
			if (!is_zero(idx))
				memcpy((void *)a, S->cache + (S->slot[idx] - 1) * S->page, S->page);
			else
				memset((void *)a, 0, S->page);
		}
		if (drop_run(drop, w->end) < 0)
			goto dropped;
		k = (w->end - w->start) / S->page;
		S->pages += k;
	}
	return 0;
dropped:
	*why = "cannot give back memory";
	return -1;
gone:
	*why = "the snapshot's twin is gone";
	return -1;
}

/* Write-protects the written pages again: one scan that protects what it
 * matches for each tracked range that had any (an ioctl a region would
 * flush the TLB as often). */
static int
protect_written(const char **why)
{
	struct scan_arg a;
	struct range *r = S->ranges;
	size_t i = 0;

	while (i < S->nwritten) {
		while (r < S->ranges + S->nranges && r->end <= S->written[i].start)
			r++;
		if (r == S->ranges + S->nranges)
			break;
		memset(&a, 0, sizeof(a));
		a.size = sizeof(a);
		a.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;
		a.start = S->written[i].start;
		while (i < S->nwritten && S->written[i].start < r->end)
			i++;
		a.end = S->written[i - 1].end;
		a.category_mask = PAGE_IS_WRITTEN;
		a.return_mask = PAGE_IS_WRITTEN;
		if (ioctl(S->pagemap, SCAN_IOCTL, &a) < 0) {
			*why = "cannot write-protect memory again";
			return -1;
		}
	}
	return 0;
}

/* Copies [s, e) back from the twin. */
static int
copy_from_twin(uintptr_t s, uintptr_t e)
{
	ssize_t n;

	while (s < e) {
		n = pread(S->mem, (void *)s, e - s, (off_t)s);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		s += (size_t)n;
	}
	return 0;
}

/* PAGEMAP_SCAN of [start, end) into S->vec: the regions with any of the
 * categories anyof, with those of ret. Returns how many (a full vector
 * may have more after it), or -1. */
static long
scan_regions(uintptr_t start, uintptr_t end, uint64_t anyof, uint64_t ret)
{
	struct scan_arg a = {.size = sizeof(a), .start = start, .end = end, .vec = (uintptr_t)S->vec,
	    .vec_len = MAXVEC, .category_anyof_mask = anyof, .return_mask = ret};

	return ioctl(S->pagemap, SCAN_IOCTL, &a);
}

/* Which tracked anonymous pages the snapshot does not hold (all 0): in
 * two scans. Before the pages are protected (protected, an absent page
 * reads as swapped), those neither present nor swapped, or the shared zero
 * page; after the twin is cloned, less those present now (written since:
 * an absent page is not unmapped in between, so one absent now was absent
 * when the twin was cloned). */
static int
snapshot_zero(int after, const char **why)
{
	struct range *r;
	uintptr_t at, p, end;
	long n, i;

	for (r = S->ranges; r < S->ranges + S->nranges; r++) {
		if (!r->anon)
			continue;
		at = r->start;
		for (;;) {
			n = scan_regions(at, r->end, after ? PAGE_IS_PRESENT : PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			    PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_PFNZERO);
			if (n < 0) {
				*why = "PAGEMAP_SCAN failed";
				return -1;
			}
			for (i = 0; i <= n; i++) {
				/* the gap before region i (after the last: to the end) */
				end = i < n ? S->vec[i].start : (n < MAXVEC ? r->end : at);
				for (p = at; !after && p < end; p += S->page)
					zero_mark(r, p, 1);
				if (i == n)
					break;
				for (p = S->vec[i].start; p < S->vec[i].end; p += S->page)
					if (S->vec[i].categories & PAGE_IS_PFNZERO ? !after : after)
						zero_mark(r, p, !after);
				at = S->vec[i].end;
			}
			if (n < MAXVEC || at >= r->end)
				break;
		}
	}
	return 0;
}

static void
zero_mark(const struct range *r, uintptr_t p, int zero)
{
	size_t idx = r->first + (p - r->start) / S->page;
	uint8_t bit = (uint8_t)(1u << (idx % 8));

	S->zero[idx / 8] = zero ? S->zero[idx / 8] | bit : S->zero[idx / 8] & (uint8_t)~bit;
}

static unsigned long
vmsize(void)
{
	const char *p;

	if (read_proc(S->statm) < 0)
		return 0;
	p = S->buf;
	return strtoul(p, NULL, 10);
}

/* The descriptors open now (but the directory's), into S->fds. */
static int
snapshot_fds(int fdbase, const char **why)
{
	char *p, *end;
	int dir, fd;
	long n;
	struct stat st;
	struct fdrec *f;

	dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		*why = "cannot list /proc/self/fd";
		return -1;
	}
	while ((n = syscall(SYS_getdents64, dir, S->buf, MAPSBUF)) > 0) {
		for (p = S->buf, end = S->buf + n; p < end;) {
			unsigned short reclen;
			const char *name = p + 19;	/* d_ino 8, d_off 8, d_reclen 2, d_type 1 */

			memcpy(&reclen, p + 16, sizeof(reclen));
			p += reclen;
			if (name[0] < '0' || name[0] > '9')
				continue;
			fd = (int)strtol(name, NULL, 10);
			if (fd == dir)
				continue;
			if (S->nfds == MAXFDS) {
				close(dir);
				*why = "too many descriptors";
				return -1;
			}
			f = &S->fds[S->nfds++];
			f->fd = fd;
			f->saved = -1;
		}
	}
	close(dir);
	for (f = S->fds; f < S->fds + S->nfds; f++) {
		f->cloexec = fcntl(f->fd, F_GETFD) & FD_CLOEXEC;
		f->flags = fcntl(f->fd, F_GETFL);
		f->off = f->size = -1;
		/* a file only this process reads, or a temporary one (pytest's
		 * capture): its offset and size are the test's to change; a
		 * file written by others too (the log) is left alone */
		if (fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    (st.st_nlink == 0 || (f->flags >= 0 && (f->flags & O_ACCMODE) == O_RDONLY))) {
			f->off = lseek(f->fd, 0, SEEK_CUR);
			if (st.st_nlink == 0)
				f->size = st.st_size;
		}
		f->saved = fcntl(f->fd, F_DUPFD_CLOEXEC, fdbase);
		if (f->saved < 0) {
			*why = "cannot keep a copy of a descriptor";
			return -1;
		}
		keep_add(f->fd);
		keep_add(f->saved);
	}
	return 0;
}

static void
snapshot_kernel(void)
{
	int sig, i;

	for (sig = 1; sig < NSIG; sig++)
		S->sa_ok[sig] = sig != SIGKILL && sig != SIGSTOP && sigaction(sig, NULL, &S->sa[sig]) == 0;
	sigprocmask(SIG_SETMASK, NULL, &S->mask);
	S->altstack_ok = sigaltstack(NULL, &S->altstack) == 0;
	for (i = 0; i < 3; i++)
		getitimer(i, &S->it[i]);
	for (i = 0; i < RLIM_NLIMITS; i++)
		getrlimit(i, &S->rl[i]);
	S->umask = umask(0);
	umask(S->umask);
	errno = 0;
	S->prio = getpriority(PRIO_PROCESS, 0);
	S->sid = getsid(0);
	S->pgid = getpgid(0);
	S->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	if (prctl(PR_GET_PDEATHSIG, &S->pdeathsig, 0, 0, 0) < 0)
		S->pdeathsig = -1;
	S->brk = (uintptr_t)syscall(SYS_brk, 0);
}

/* The twin: it keeps the snapshot's pages and does nothing else but copy
 * them, when asked, into the cache it maps writable (the process that is
 * reset maps it read-only, sealed). Only system calls and memcpy, on its
 * own stack below the snapshot's: nothing tracked is written, so its
 * memory stays the snapshot's. */
static _Noreturn void
twin_main(int sock, pid_t parent, int cachefd, size_t cache_size)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct copy req[BATCH];
	struct iovec iov;
	struct msghdr mh;
	struct cmsghdr *c;
	uint64_t all = ~(uint64_t)0;
	char byte = 0, *cache;
	long n, i;
	int fd;

	syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (syscall(SYS_getppid) != parent)
		syscall(SYS_exit_group, 0);
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, NULL, sizeof(all));
	cache = (char *)syscall(SYS_mmap, NULL, cache_size, PROT_READ | PROT_WRITE, MAP_SHARED, cachefd, 0);
	fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/mem", O_RDONLY | O_CLOEXEC);
	if ((long)cache < 0 && (long)cache > -4096)
		syscall(SYS_exit_group, 0);
	iov.iov_base = &byte;
	iov.iov_len = 1;
	mh.msg_name = NULL;
	mh.msg_namelen = 0;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	mh.msg_flags = 0;
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (fd < 0 || syscall(SYS_sendmsg, sock, &mh, 0) < 0)
		syscall(SYS_exit_group, 0);
	/* nothing but its socket: the cache stays mapped */
	if (sock > 0)
		syscall(SYS_close_range, 0, (unsigned)sock - 1, 0);
	syscall(SYS_close_range, (unsigned)sock + 1, ~0U, 0);
	for (;;) {
		n = syscall(SYS_recvfrom, sock, req, sizeof(req), 0, NULL, NULL);
		if (n <= 0)
			syscall(SYS_exit_group, 0);
		for (i = 0; i < n / (long)sizeof(req[0]); i++)
			if (req[i].off <= cache_size && req[i].len <= cache_size - req[i].off)
				memcpy(cache + req[i].off, (void *)(uintptr_t)req[i].addr, req[i].len);
		syscall(SYS_sendto, sock, &byte, 1, MSG_NOSIGNAL, NULL, 0);
	}
}

static int
twin_start(int fdbase, const char **why)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov;
	struct msghdr mh = {0};
	struct cmsghdr *c;
	char byte;
	int sv[2], fd = -1, cachefd;
	pid_t self = getpid(), pid;
	ssize_t n;
	void *m;

	S->cache_size = (S->npages ? S->npages : 1) * S->page;
	cachefd = memfd_create("tach-snapshot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (cachefd < 0 || ftruncate(cachefd, (off_t)S->cache_size) < 0) {
		if (cachefd >= 0)
			close(cachefd);
		*why = "cannot make the snapshot's cache";
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		close(cachefd);
		*why = "socketpair";
		return -1;
	}
	pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (pid == 0)
		twin_main(sv[1], self, cachefd, S->cache_size);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		close(cachefd);
		*why = "cannot start the twin";
		return -1;
	}
	S->twin = pid;
	iov.iov_base = &byte;
	iov.iov_len = 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	do
		n = recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (fd < 0) {
		close(sv[0]);
		close(cachefd);
		*why = "the twin could not open its memory";
		return -1;
	}
	S->mem = fd;
	S->twinsock = high(sv[0], fdbase);
	/* the twin maps the cache writable; here nothing can write it again:
	 * no new writable mapping, no write(), no descriptor kept */
	m = MAP_FAILED;
	if (fcntl(cachefd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) == 0)
		m = mmap(NULL, S->cache_size, PROT_READ, MAP_SHARED, cachefd, 0);
	close(cachefd);
	if (m == MAP_FAILED || S->twinsock < 0) {
		*why = "cannot seal the snapshot's cache";
		return -1;
	}
	S->cache = m;
	return 0;
}

const char *
reset_supported(void)
{
	struct uffdio_api api = {.api = UFFD_API, .features = FEATURE_WP_ASYNC | FEATURE_WP_UNPOPULATED};
	struct scan_arg a = {.size = sizeof(a)};
	int fd, pm;
	const char *why = NULL;

#ifdef __SANITIZE_ADDRESS__
	return "built with AddressSanitizer, whose shadow memory is too large to track";
#endif
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd < 0)
		return "no userfaultfd";
	if (ioctl(fd, UFFDIO_API, &api) < 0)
		why = "userfaultfd without asynchronous write protection (Linux 6.7)";
	close(fd);
	if (why)
		return why;
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pm < 0)
		return "no /proc/self/pagemap";
	/* an empty range: only whether the ioctl exists */
	if (ioctl(pm, SCAN_IOCTL, &a) < 0 && (errno == ENOTTY || errno == EINVAL))
		why = "no PAGEMAP_SCAN (Linux 6.7)";
	close(pm);
	return why;
}

static int
open_own(int fdbase, const char **why)
{
	char path[64];
	struct uffdio_api api = {.api = UFFD_API, .features = FEATURE_WP_ASYNC | FEATURE_WP_UNPOPULATED};

	S->uffd = high((int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY), fdbase);
	if (S->uffd < 0 || ioctl(S->uffd, UFFDIO_API, &api) < 0) {
		*why = "no userfaultfd with asynchronous write protection";
		return -1;
	}
	S->pagemap = high(open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC), fdbase);
	S->maps = high(open("/proc/self/maps", O_RDONLY | O_CLOEXEC), fdbase);
	S->statm = high(open("/proc/self/statm", O_RDONLY | O_CLOEXEC), fdbase);
	S->task = high(open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC), fdbase);
	S->cwd = high(open(".", O_PATH | O_DIRECTORY | O_CLOEXEC), fdbase);
	snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)getpid());
	S->children = high(open(path, O_RDONLY | O_CLOEXEC), fdbase);
	if (S->pagemap < 0 || S->maps < 0 || S->statm < 0 || S->task < 0 || S->cwd < 0 || S->children < 0) {
		*why = "cannot open /proc/self";
		return -1;
	}
	if (own_add(&S->uffd) < 0 || own_add(&S->pagemap) < 0 || own_add(&S->maps) < 0 ||
	    own_add(&S->statm) < 0 || own_add(&S->task) < 0 || own_add(&S->cwd) < 0 ||
	    own_add(&S->children) < 0) {
		*why = "fstat";
		return -1;
	}
	return 0;
}

int
reset_snapshot(void *frame, int fdbase, const char **why)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), i, size;
	void *m;

	*why = NULL;
	if (S) {
		*why = "a snapshot was taken already";
		return -1;
	}
	/* whole pages: what is mapped next to it is tracked */
	size = (sizeof(*S) + page - 1) & ~(page - 1);
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		*why = "mmap";
		return -1;
	}
	S = m;
	S->size = size;
	S->page = page;
	S->uffd = S->pagemap = S->maps = S->statm = S->task = S->cwd = S->mem = S->twinsock = S->children = -1;
	/* freed memory stays in the heap: a program break below the
	 * snapshot's would have to be refilled at every reset */
	mallopt(M_TRIM_THRESHOLD, INT32_MAX);
	S->stack_lo = ((uintptr_t)frame + 2 * sizeof(void *) + page - 1) & ~(uintptr_t)(page - 1);
	if (snapshot_fds(fdbase, why) < 0 || open_own(fdbase, why) < 0)
		goto fail;
	snapshot_kernel();
	if (snapshot_maps(why) < 0)
		goto fail;
	for (i = 0; i < S->nranges; i++) {
		S->ranges[i].first = S->npages;
		S->npages += (S->ranges[i].end - S->ranges[i].start) / page;
	}
	if (S->npages > MAXPAGES) {
		*why = "too much memory to track";
		goto fail;
	}
	if (snapshot_zero(0, why) < 0)
		goto fail;
	for (i = 0; i < S->nranges; i++) {
		if (track(S->ranges[i].start, S->ranges[i].end) < 0) {
			*why = "cannot write-protect a mapping";
			goto fail;
		}
	}
	/* from here the twin's memory is the snapshot */
	if (twin_start(fdbase, why) < 0 || snapshot_zero(1, why) < 0)
		goto fail;
	S->vmsize = vmsize();
	S->mem = high(S->mem, fdbase);
	if (S->mem < 0 || own_add(&S->mem) < 0 || own_add(&S->twinsock) < 0) {
		*why = "cannot keep the twin's memory";
		goto fail;
	}
	return 0;
fail:
	if (S->twin > 0)
		kill(S->twin, SIGKILL);
	/* the registrations go with the userfaultfd */
	for (i = 0; i < S->nfds; i++)
		if (S->fds[i].saved >= 0)
			close(S->fds[i].saved);
	{
		int *own[] = {&S->uffd, &S->pagemap, &S->maps, &S->statm, &S->task, &S->cwd,
		    &S->children, &S->mem, &S->twinsock};

		for (i = 0; i < sizeof(own) / sizeof(own[0]); i++)
			if (*own[i] >= 0)
				close(*own[i]);
	}
	if (S->cache)
		munmap(S->cache, S->cache_size);
	munmap(S, S->size);
	S = NULL;
	return -1;
}

static int
check_own(const char **why)
{
	struct stat st;
	char *end;
	size_t i;

	for (i = 0; i < S->nown; i++) {
		if (fstat(*S->owns[i].fd, &st) < 0 || st.st_dev != S->owns[i].dev || st.st_ino != S->owns[i].ino) {
			*why = "a descriptor of the reset was closed or replaced";
			return -1;
		}
	}
	/* /proc/PID/task counts 2 links and one per thread */
	if (fstat(S->task, &st) < 0 || st.st_nlink != 3) {
		*why = "a thread the test started is still running";
		return -1;
	}
	/* no child but the twin (the Iron Dome lets no test make one) */
	if (read_proc(S->children) < 0 || strtol(S->buf, &end, 10) != S->twin || strtol(end, NULL, 10) != 0) {
		*why = "a process the test started is still there";
		return -1;
	}
	return 0;
}

static int
restore_fds(const char **why)
{
	struct fdrec *f;
	size_t i;
	int lo;

	for (f = S->fds; f < S->fds + S->nfds; f++) {
		if (dup3(f->saved, f->fd, f->cloexec ? O_CLOEXEC : 0) < 0) {
			*why = "cannot restore a descriptor";
			return -1;
		}
		if (f->flags >= 0)
			fcntl(f->fd, F_SETFL, f->flags);
		if (f->size >= 0 && ftruncate(f->fd, f->size) < 0) {
			*why = "cannot truncate a temporary file again";
			return -1;
		}
		if (f->off >= 0 && lseek(f->fd, f->off, SEEK_SET) != f->off) {
			*why = "cannot seek a descriptor back";
			return -1;
		}
	}
	/* the descriptors opened since: between those kept, and above */
	lo = 0;
	for (i = 0; i < S->nkeep; i++) {
		if (S->keep[i] > lo)
			syscall(SYS_close_range, (unsigned)lo, (unsigned)S->keep[i] - 1, 0);
		lo = S->keep[i] + 1;
	}
	syscall(SYS_close_range, (unsigned)lo, ~0U, 0);
	return 0;
}

static int
restore_kernel(const char **why)
{
	struct rlimit rl;
	sigset_t pending;
	int sig, i;

	/* pending under the test's mask: delivered by the snapshot's, it
	 * would run a handler of the snapshot's in the middle of the reset */
	if (sigpending(&pending) == 0) {
		for (sig = 1; sig < NSIG; sig++) {
			if (sigismember(&pending, sig) == 1) {
				*why = "a signal is pending";
				return -1;
			}
		}
	}
	if (restore_fds(why) < 0)
		return -1;
	if (fchdir(S->cwd) < 0) {
		*why = "cannot go back to the working directory";
		return -1;
	}
	umask(S->umask);
	for (i = 0; i < 3; i++)
		setitimer(i, &S->it[i], NULL);
	/* SIGSYS is the Iron Dome's, which refuses to change it */
	for (sig = 1; sig < NSIG; sig++)
		if (S->sa_ok[sig] && sig != SIGSYS)
			sigaction(sig, &S->sa[sig], NULL);
	if (S->altstack_ok)
		sigaltstack(&S->altstack, NULL);
	sigprocmask(SIG_SETMASK, &S->mask, NULL);
	for (i = 0; i < RLIM_NLIMITS; i++) {
		if (getrlimit(i, &rl) < 0 ||
		    (rl.rlim_cur == S->rl[i].rlim_cur && rl.rlim_max == S->rl[i].rlim_max))
			continue;
		if (setrlimit(i, &S->rl[i]) < 0) {
			*why = "a resource limit cannot be raised again";
			return -1;
		}
	}
	/* a session or group of its own, a dumpable process: no way back */
	if (getsid(0) != S->sid || getpgid(0) != S->pgid) {
		*why = "the test left its session or process group";
		return -1;
	}
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != S->dumpable) {
		*why = "the test changed whether the process is dumpable";
		return -1;
	}
	if (S->pdeathsig >= 0 && prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) == 0 && sig != S->pdeathsig)
		prctl(PR_SET_PDEATHSIG, S->pdeathsig, 0, 0, 0);
	if (getpriority(PRIO_PROCESS, 0) != S->prio && setpriority(PRIO_PROCESS, 0, S->prio) < 0) {
		*why = "the priority cannot be raised again";
		return -1;
	}
	if ((uintptr_t)syscall(SYS_brk, 0) != S->brk && (uintptr_t)syscall(SYS_brk, S->brk) != S->brk) {
		*why = "cannot restore the program break";
		return -1;
	}
	return 0;
}

/* A part of a tracked range that is no longer registered (the test
 * unmapped it, or mapped something else there): mapped again, refilled
 * from the twin, tracked. */
static int
refill(uintptr_t s, uintptr_t e, int prot)
{
	void *p;

	/* whatever is there now the test mapped: replaced */
	p = mmap((void *)s, e - s, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p != (void *)s)
		return -1;
	if (copy_from_twin(s, e) < 0)
		return -1;
	S->remapped++;
	return track(s, e);
}

/* Lists the written pages of the tracked ranges into S->written, and
 * refills what is no longer registered. */
static int
scan(const char **why)
{
	struct range *r;
	uintptr_t at;
	long n, i;

	S->nwritten = 0;
	for (r = S->ranges; r < S->ranges + S->nranges; r++) {
		at = r->start;
		for (;;) {
			n = scan_regions(at, r->end, PAGE_IS_WPALLOWED, PAGE_IS_WPALLOWED | PAGE_IS_WRITTEN);
			if (n < 0) {
				*why = "PAGEMAP_SCAN failed";
				return -1;
			}
			for (i = 0; i < n; i++) {
				struct scan_region *v = &S->vec[i];

				if (v->start > at && refill(at, v->start, r->prot) < 0) {
					*why = "cannot map again what the test unmapped";
					return -1;
				}
				if (v->categories & PAGE_IS_WRITTEN) {
					struct span *w = S->nwritten ? &S->written[S->nwritten - 1] : NULL;

					if (w && w->end == v->start) {
						w->end = v->end;
					} else if (S->nwritten == MAXWRITTEN) {
						*why = "too many written regions";
						return -1;
					} else {
						S->written[S->nwritten++] = (struct span){v->start, v->end,
						    r->first + (v->start - r->start) / S->page};
					}
				}
				at = v->end;
			}
			/* a full vector may have more after it; a short one is all */
			if (n < MAXVEC || at >= r->end)
				break;
		}
		if (at < r->end && refill(at, r->end, r->prot) < 0) {
			*why = "cannot map again what the test unmapped";
			return -1;
		}
	}
	return 0;
}

/* Unmaps the parts of [s, e) that no mapping of the snapshot covers; *k:
 * the first mapping of the snapshot that may (the calls go up). */
static void
unmap_uncovered(uintptr_t s, uintptr_t e, size_t *k)
{
	uintptr_t at = s;
	size_t j;

	while (*k < S->nmaps && S->maps_[*k].end <= at)
		(*k)++;
	for (j = *k; at < e && j < S->nmaps && S->maps_[j].start < e; j++) {
		if (S->maps_[j].start > at) {
			munmap((void *)at, S->maps_[j].start - at);
			S->remapped++;
		}
		if (S->maps_[j].end > at)
			at = S->maps_[j].end;
	}
	if (at < e) {
		munmap((void *)at, e - at);
		S->remapped++;
	}
}

/* Unmaps what is mapped now outside the snapshot's mappings (but the
 * stack's growth and the bookkeeping), and checks that each mapping of the
 * snapshot is still covered. */
static int
unmap_new(const char **why)
{
	uintptr_t s, e, me = (uintptr_t)S, mend = (uintptr_t)S + S->size;
	char perms[5], *p, *name;
	size_t namelen, k = 0, nruns = 0, r;
	unsigned long size;

	if (read_proc(S->maps) < 0) {
		*why = "cannot read /proc/self/maps";
		return -1;
	}
	for (p = S->buf; (p = maps_line(p, &s, &e, perms, &name, &namelen));) {
		/* what is mapped, in runs of adjacent mappings */
		if (nruns && S->runs[nruns - 1].end == s)
			S->runs[nruns - 1].end = e;
		else if (nruns < MAXMAPS)
			S->runs[nruns++] = (struct span){s, e, 0};
		if (is_stack(name, namelen) || is_vdso(name, namelen) ||
		    (s < (uintptr_t)S->cache + S->cache_size && e > (uintptr_t)S->cache))
			continue;
		if (s < mend && e > me) {
			/* the bookkeeping, maybe merged with a neighbour */
			if (s < me)
				unmap_uncovered(s, me, &k);
			if (e > mend)
				unmap_uncovered(mend, e, &k);
			continue;
		}
		unmap_uncovered(s, e, &k);
	}
	/* every mapping of the snapshot still there: within one run (what
	 * was unmapped above lay outside them all) */
	for (k = 0, r = 0; k < S->nmaps; k++) {
		while (r < nruns && S->runs[r].end <= S->maps_[k].start)
			r++;
		if (r == nruns || S->runs[r].start > S->maps_[k].start || S->runs[r].end < S->maps_[k].end) {
			*why = "a mapping of the snapshot is gone";
			return -1;
		}
	}
	size = vmsize();
	if (!size) {
		*why = "cannot read /proc/self/statm";
		return -1;
	}
	/* the stack may have grown: that size is the snapshot's from now */
	S->vmsize = size;
	return 0;
}

int
reset_restore(const char **why)
{
	char rseq[64];
	uintptr_t rs;
	size_t n;

	*why = NULL;
	if (!S) {
		*why = "no snapshot";
		return -1;
	}
	S->pages = S->remapped = S->dropped = 0;
	S->t[0] = now_us();
	if (check_own(why) < 0 || restore_kernel(why) < 0)
		return -1;
	S->t[1] = now_us();
	if (scan(why) < 0)
		return -1;
	S->t[2] = now_us();
	if (vmsize() != S->vmsize && unmap_new(why) < 0)
		return -1;
	S->t[3] = now_us();
	/* the rseq area as the kernel keeps it now, not the snapshot's */
	rs = rseq_area(&n);
	if (rs)
		memcpy(rseq, (void *)rs, n < sizeof(rseq) ? n : sizeof(rseq));
	if (copy_back(why) < 0)
		return -1;
	if (rs)
		memcpy((void *)rs, rseq, n < sizeof(rseq) ? n : sizeof(rseq));
	S->t[4] = now_us();
	if (protect_cold(why) < 0)
		return -1;
	S->t[5] = now_us();
	return 0;
}

void
reset_kernel_again(void)
{
	if (S)
		snapshot_kernel();
}

/* Which mapping holds addr, and where in it: "NAME+0xOFF" (static). */
static const char *
where(uintptr_t addr)
{
	static char w[300];
	uintptr_t s, e;
	char perms[5], *p, *name;
	size_t namelen;

	snprintf(w, sizeof(w), "no mapping");
	if (read_proc(S->maps) < 0)
		return w;
	for (p = S->buf; (p = maps_line(p, &s, &e, perms, &name, &namelen));) {
		if (addr >= s && addr < e) {
			snprintf(w, sizeof(w), "%.*s+%#lx, %s", (int)(namelen > 200 ? 200 : namelen),
			    namelen ? name : "anonymous", (unsigned long)(addr - s), perms);
			break;
		}
	}
	return w;
}

long
reset_verify(char *msg, size_t n)
{
	struct range *r;
	uintptr_t at, end, bad = 0, first;
	size_t len, off;
	ssize_t got;
	long pages = 0;

	if (!S) {
		snprintf(msg, n, "no snapshot");
		return -1;
	}
	for (r = S->ranges; r < S->ranges + S->nranges; r++) {
		for (at = r->start; at < r->end; at += len) {
			end = r->end - at < CMPBUF ? r->end : at + CMPBUF;
			len = end - at;
			got = pread(S->mem, S->cmp, len, (off_t)at);
			if (got != (ssize_t)len) {
				snprintf(msg, n, "cannot read the snapshot at %#lx", (unsigned long)at);
				return -1;
			}
			if (memcmp(S->cmp, (void *)at, len) == 0)
				continue;
			for (off = 0; off < len; off += S->page) {
				if (memcmp(S->cmp + off, (char *)at + off, S->page) != 0 &&
				    page_differs(S->cmp + off, at + off, S->page, &first)) {
					if (!bad)
						bad = first;
					pages++;
				}
			}
		}
	}
	if (pages)
		snprintf(msg, n, "%ld pages differ from the snapshot, the first at %#lx (%s)", pages,
		    (unsigned long)bad, where(bad));
	return pages;
}

void
reset_stats(unsigned long *pages, unsigned long *maps, char *steps, size_t n)
{
	unsigned long zeros = 0;
	size_t i;

	for (i = 0; S && i < (S->npages + 7) / 8; i++)
		zeros += (unsigned long)__builtin_popcount(S->zero[i]);
	*pages = S ? S->pages : 0;
	*maps = S ? S->remapped : 0;
	if (S && n)
		snprintf(steps, n, "kernel %.0f, scan %.0f, maps %.0f, copy %.0f, protect %.0f us; %lu of the "
		    "pages given back, %lu tracked pages 0 in the snapshot",
		    S->t[1] - S->t[0], S->t[2] - S->t[1], S->t[3] - S->t[2], S->t[4] - S->t[3], S->t[5] - S->t[4],
		    S->dropped, zeros);
}

int
reset_twin(void)
{
	return S ? S->twin : 0;
}
