/* hv_sub - a sub-zygote of tach-hv: the base zygote forks one per test file
 * (subz_fork in runtime/hv_base.c). It collects that file with pytest's own
 * machinery, reports the files it read to the base (which watches them),
 * then serves the requests the base passes it on its channel: each runs in
 * a test process (runtime/hv_child.c), a worker that is idle if there is
 * one (else a new one), and the client is told how the test ended (the
 * worker says 'D' when it is reset, or the process ended); a
 * request that selects nothing is answered without a process; either way
 * it tells the base it took the request ('A'), which the base waits for
 * SUB_ANSWER seconds at most. It enforces the timeouts and kills a test
 * whose client went away. When the base closes the channel (retired) it
 * finishes its tests and exits. It never runs test code itself, and never
 * reads the base's state. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tach/deadline.h"
#include "lib/json.h"
#include "lib/util.h"
#include "runtime/fdpass.h"
#include "runtime/hv.h"
#include "runtime/reset.h"

#define GRACE 0.2		/* seconds between SIGUSR2 and SIGKILL at a timeout */
#define WORKER_IDLE 30		/* seconds an idle worker is kept */
#define WORKER_SPARES 2		/* idle workers kept at most */
/* Seconds a worker whose client hung up has to say its test was over
 * ('F') before it is taken for interrupted and killed. */
#define HANGUP_GRACE 0.2

/* The Iron Dome of this sub-zygote's test processes (sub_main's sb); NULL
 * in the clean zygote's sub-zygote, whose test processes load the
 * project's conftests and test file themselves (tach_zygote.fresh),
 * without a dome, in a process group of their own. */
static const struct sandbox *dome;

/* Why no test process may be forked from this sub-zygote (threads or
 * child processes left by what it imported), or NULL. */
static char *unsafe;

/* Whether test processes are workers, reset after each test
 * (runtime/reset.h) rather than one test a process. */
static int workers;

/* When the last request came (or the sub-zygote started). */
static double last_request;

/* WORKER_IDLE, or TACH_HV_WORKER_IDLE's seconds. */
static double worker_idle = WORKER_IDLE;

/* A test process's deadline page before it runs a request: none written
 * yet, the request's timeout as the default (0: none). Written before the
 * process can read it: before the fork, or before a spare gets its
 * request. */
static void
deadline_reset(struct tach_deadline *page, uint32_t timeout_ms)
{
	__atomic_store_n(&page->default_ns, (uint64_t)timeout_ms * 1000000, __ATOMIC_RELAXED);
	__atomic_store_n(&page->deadline_ns, 0, __ATOMIC_RELEASE);
}

/* Forks a test process: for the request (conn, errfd, nodeid, timeout_ms),
 * or a spare when conn < 0. */
static struct child *
sub_fork_child(int chan, struct child **kids, size_t *nkids, size_t *capkids, int conn, int errfd,
    const char *nodeid, uint32_t timeout_ms)
{
	struct child *c;
	struct tach_deadline *page;
	pid_t pid, self = getpid();
	int sv[2] = {-1, -1};

	if ((conn < 0 || workers) && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return NULL;
	/* shared with the child: no page, no item deadlines, the request's
	 * timeout still holds */
	page = mmap(NULL, sizeof(*page), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		page = NULL;
	else
		deadline_reset(page, timeout_ms);
	fflush(NULL);
	py_before_fork();
	pid = fork();
	if (pid == 0) {
		if (sv[0] >= 0)
			close(sv[0]);
		child_main(conn, errfd, nodeid, sv[1], chan, self, *kids, *nkids, dome, page, workers);
	}
	py_after_fork_parent();
	if (sv[1] >= 0)
		close(sv[1]);
	if (pid < 0) {
		if (sv[0] >= 0)
			close(sv[0]);
		if (page)
			munmap(page, sizeof(*page));
		return NULL;
	}
	*kids = xgrow(*kids, capkids, *nkids + 1, sizeof(**kids));
	c = &(*kids)[(*nkids)++];
	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->page = page;
	c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	c->conn = conn;
	c->sock = sv[0];
	c->worker = workers;
	c->idle_since = monotime();
	return c;
}

/* Runs a request: in the spare if there is one, else in a new child. */
static void
sub_run(int chan, struct child **kids, size_t *nkids, size_t *capkids, struct qmsg *q, size_t qlen,
    int conn, int errfd)
{
	struct child *c = NULL;
	int fds[2] = {conn, errfd};
	char *text, *err;
	size_t i;

	last_request = monotime();
	/* nothing to run (deselected, not collected, a broken or skipped
	 * file): the answer costs no process */
	text = dome ? py_answer(q->nodeid, &err) : NULL;
	err = dome ? err : NULL;
	if (err) {
		logf_("tach_zygote.answer failed:\n%s", err);
		free(err);
	}
	if (text) {
		send_all(conn, text, strlen(text));
		hv_send_exit(conn, 1, 0, 0);
		free(text);
		close(conn);
		close(errfd);
		return;
	}
	if (unsafe) {
		hv_reply_toxic(conn, unsafe);
		close(conn);
		close(errfd);
		return;
	}
	for (i = 0; i < *nkids; i++) {
		if ((*kids)[i].sock >= 0 && (*kids)[i].conn < 0) {
			c = &(*kids)[i];
			/* a stopped spare would run it only at its timeout */
			if (proc_stopped(c->pid)) {
				kill(c->pid, SIGKILL);
			} else {
				if (c->page)
					deadline_reset(c->page, q->timeout_ms);
				if (fdpass_send(c->sock, q, qlen, fds, 2) == 0)
					break;
			}
			close(c->sock);	/* a dead spare: reaped when its pidfd says so */
			c->sock = -1;
			c = NULL;
		}
	}
	/* a worker that is being reset takes it in well under a
	 * millisecond: sooner than a new one is ready */
	for (i = 0; !c && workers && i < *nkids; i++) {
		struct child *k = &(*kids)[i];

		if (k->worker && k->finished && k->sock >= 0 && k->conn >= 0 && !k->nextq) {
			k->nextq = xmalloc(qlen + 1);
			memcpy(k->nextq, q, qlen);
			((char *)k->nextq)[qlen] = 0;	/* the node id's end */
			k->nextqlen = qlen;
			k->next_conn = conn;
			k->next_errfd = errfd;
			return;
		}
	}
	if (c) {
		if (!c->worker) {
			close(c->sock);
			c->sock = -1;
		}
		c->conn = conn;
	} else {
		c = sub_fork_child(chan, kids, nkids, capkids, conn, errfd, q->nodeid, q->timeout_ms);
		if (!c) {
			reply_error(conn, "tach-hv: fork: %s", strerror(errno));
			close(conn);
			close(errfd);
			return;
		}
	}
	close(errfd);
	c->deadline = q->timeout_ms ? monotime() + q->timeout_ms / 1000.0 : 0;
}

/* When a test process must end: its harness's deadline for the item it
 * runs (include/tach/deadline.h), else the request's; after the warning,
 * the grace. 0: none. */
static double
child_deadline(const struct child *c)
{
	if (!c->deadline || c->warned || !c->page)
		return c->deadline;
	return tach_deadline_get(c->page, c->deadline);
}

/* Kills a test process, and in the clean zygote its process group too
 * (the test may have left the group: it is killed by its pid). */
static void
kill_test(pid_t pid)
{
	kill(pid, SIGKILL);
	if (!dome)
		kill(-pid, SIGKILL);
}

/* The clean sub-zygote is a subreaper: a process a test left (a daemon
 * that left its group too) is re-parented here when its parent dies; so is
 * a worker's twin (runtime/reset.h) when its worker dies, and it ends a
 * moment after the worker whose end woke us (no SIGCHLD will). Every child
 * that is no test process is such an orphan: killed and reaped. */
static void
sweep_orphans(const struct child *kids, size_t nkids)
{
	pid_t *all = NULL;
	size_t n, i, k;

	all = proc_children(getpid(), &n);
	for (k = 0; k < n; k++) {
		for (i = 0; i < nkids; i++)
			if (kids[i].pid == all[k])
				break;
		if (i < nkids)
			continue;
		/* SIGKILL ends it even stopped: the wait is short */
		kill(all[k], SIGKILL);
		waitpid(all[k], NULL, 0);
	}
	free(all);
}

/* What a worker said on its socket: 'F', its test is over (its client
 * may hang up now: that is no interruption); 'D', it is reset too and
 * waits for the next request; 'X', it could not be reset and exits; 'V'
 * and why, a reset that left memory unlike the snapshot
 * (TACH_HV_VERIFY), the test's error; nothing, it is gone. */
static void
sub_worker_said(struct child *c, double t, int open_chan)
{
	char msg[512];
	ssize_t n;

	for (;;) {
		n = recv(c->sock, msg, sizeof(msg) - 1, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n > 0 && msg[0] == 'F') {
			c->finished = 1;
			continue;
		}
		if (n > 0 && msg[0] == 'V' && c->conn >= 0) {
			msg[n] = 0;
			reply_error(c->conn, "tach-hv: TACH_HV_VERIFY: the reset after this test %s", msg + 1);
			close(c->conn);
			c->conn = -1;
			kill(c->pid, SIGKILL);
		}
		if (n > 0 && (msg[0] == 'D' || msg[0] == 'X') && c->conn >= 0) {
			hv_send_exit(c->conn, 1, 0, 0);
			close(c->conn);
			c->conn = -1;
			c->deadline = c->hangup = 0;
			c->warned = c->timed_out = c->killed = c->finished = 0;
			c->idle_since = t;
			c->served++;
			if (open_chan && msg[0] == 'D')
				continue;
		}
		/* gone, or not needed any more (retired) */
		close(c->sock);
		c->sock = -1;
		return;
	}
}

/* Idle workers go after worker_idle seconds, and beyond WORKER_SPARES at
 * once: a pool as large as the run's parallelism, no larger, and none
 * while the file's tests are not run (a new spare is forked only while
 * requests come: sub_main). */
static void
sub_idle_workers(struct child *kids, size_t nkids, size_t idle, int open_chan)
{
	double t = monotime();
	size_t i;

	for (i = 0; i < nkids && idle > 0 && open_chan; i++) {
		struct child *c = &kids[i];

		if (c->sock < 0 || c->conn >= 0 || !c->worker)
			continue;
		if (idle > WORKER_SPARES || t - c->idle_since >= worker_idle) {
			close(c->sock);
			c->sock = -1;
			idle--;
		}
	}
}

/* The requests that waited for a worker's reset: to it now it is idle,
 * or to another when it is gone. */
static void
sub_pending(int chan, struct child **kids, size_t *nkids, size_t *capkids)
{
	struct {
		void *q;
		size_t len;
		int conn, errfd;
	} p[8];
	size_t i, n;

	do {
		n = 0;
		for (i = 0; i < *nkids && n < LEN(p); i++) {
			struct child *c = &(*kids)[i];

			if (c->nextq && (c->pid == 0 || c->conn < 0)) {
				p[n].q = c->nextq;
				p[n].len = c->nextqlen;
				p[n].conn = c->next_conn;
				p[n].errfd = c->next_errfd;
				n++;
				c->nextq = NULL;
			}
		}
		for (i = 0; i < n; i++) {
			sub_run(chan, kids, nkids, capkids, p[i].q, p[i].len, p[i].conn, p[i].errfd);
			free(p[i].q);
		}
	} while (n == LEN(p));
}

/* Reaps the children that are no test process that ended. A test
 * process is left to its pidfd. */
static void
reap_others(const struct child *kids, size_t nkids)
{
	siginfo_t si;
	size_t i;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) < 0 || si.si_pid == 0)
			return;
		for (i = 0; i < nkids; i++)
			if (kids[i].pid == si.si_pid)
				return;
		waitpid(si.si_pid, NULL, WNOHANG | __WALL);
	}
}

/* Sends the base the files this sub-zygote depends on, then 'R'. */
static void
sub_report(int chan, char **files)
{
	struct buf b = {0};
	size_t i;

	buf_putc(&b, 'F');
	for (i = 0; files[i]; i++) {
		if (b.len + strlen(files[i]) + 1 > CHUNK && b.len > 1) {
			fdpass_send(chan, b.data, b.len, NULL, 0);
			b.len = 1;
		}
		buf_add(&b, files[i], strlen(files[i]) + 1);
	}
	if (b.len > 1)
		fdpass_send(chan, b.data, b.len, NULL, 0);
	fdpass_send(chan, "R", 1, NULL, 0);
	buf_free(&b);
}

_Noreturn void
sub_main(const char *file, int chan, const struct sandbox *sb)
{
	struct child *kids = NULL;
	struct pollfd *pfds = NULL;
	size_t nkids = 0, capkids = 0, cappfds = 0, i, np, running;
	struct qmsg *q = xmalloc(sizeof(*q));
	char **files, *err = NULL;
	int open_chan = 1, fds[FDPASS_MAX], nfds, timeout, status, spare, ended;
	double t, next, d;
	ssize_t n;

	dome = sb;
	last_request = monotime();
	if (dome) {
		const char *off = getenv("TACH_HV_RESET"), *why;

		why = off && strcmp(off, "0") == 0 ? "TACH_HV_RESET=0" : reset_supported();
		workers = !why;
		if (why)
			logf_("one test a process: %s", why);
		if (getenv("TACH_HV_WORKER_IDLE") && atof(getenv("TACH_HV_WORKER_IDLE")) > 0)
			worker_idle = atof(getenv("TACH_HV_WORKER_IDLE"));
	}
	/* what the collection or a test leaves behind, detached or not,
	 * becomes ours, and is killed */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (!dome)
		files = xcalloc(1, sizeof(*files));
	else
		files = py_collect(file, &err);
	if (!files) {
		/* the errors are per test; this is tach_zygote itself failing */
		logf_("collecting %s failed:\n%s", file, err);
		free(err);
		_exit(1);
	}
	sub_report(chan, files);
	strv_free(files);
	/* a thread or process it left would be lost or shared in every test
	 * process: none is forked, each request is sent to the isolated
	 * runtime */
	unsafe = dome ? hv_unsafe_state(file, NULL, 0) : NULL;
	if (unsafe) {
		logf_("%s: %s; its tests run isolated", file, unsafe);
		hv_kill_leftovers(NULL, 0);
	}

	for (;;) {
		running = 0;
		spare = 0;
		for (i = 0; i < nkids; i++) {
			if (kids[i].sock >= 0 && kids[i].conn < 0)
				spare++;
			else
				running++;
		}
		if (workers)
			sub_idle_workers(kids, nkids, spare, open_chan);
		if (!open_chan && running == 0)
			break;
		/* while no test runs, the next test process gets ready */
		if (open_chan && !spare && running == 0 && !unsafe && dome &&
		    (!workers || monotime() - last_request < worker_idle))
			sub_fork_child(chan, &kids, &nkids, &capkids, -1, -1, NULL, 0);
		pfds = xgrow(pfds, &cappfds, 3 * nkids + 1, sizeof(*pfds));
		np = 0;
		pfds[np++] = (struct pollfd){.fd = open_chan ? chan : -1, .events = POLLIN};
		t = monotime();
		next = 0;
		for (i = 0; i < nkids; i++) {
			d = child_deadline(&kids[i]);
			pfds[np++] = (struct pollfd){.fd = kids[i].pidfd, .events = POLLIN};
			/* the harness moves its deadline item by item */
			if (d && kids[i].page && !kids[i].warned)
				d = d < t + TACH_DEADLINE_POLL_MS / 1000.0 ? d : t + TACH_DEADLINE_POLL_MS / 1000.0;
			if (d && (!next || d < next))
				next = d;
		}
		/* a client that went away (ninja interrupted) takes its test along */
		for (i = 0; i < nkids; i++)
			pfds[np++] = (struct pollfd){.fd = kids[i].killed ? -1 : kids[i].conn, .events = POLLRDHUP};
		/* a worker says when its test is over */
		for (i = 0; i < nkids; i++)
			pfds[np++] = (struct pollfd){.fd = kids[i].worker ? kids[i].sock : -1, .events = POLLIN};
		for (i = 0; i < nkids; i++) {
			if (kids[i].hangup && !kids[i].finished) {
				d = kids[i].hangup + HANGUP_GRACE;
				if (!next || d < next)
					next = d;
			}
		}
		for (i = 0; workers && spare > 0 && i < nkids; i++) {
			if (kids[i].sock >= 0 && kids[i].conn < 0 && open_chan) {
				d = kids[i].idle_since + worker_idle;
				if (!next || d < next)
					next = d;
			}
		}
		timeout = next ? (int)((next - t) * 1000) + 1 : -1;
		if (next && timeout < 0)
			timeout = 0;
		/* kernels without pidfd_open: look at the children every so often */
		for (i = 0; i < nkids; i++)
			if (kids[i].pidfd < 0 && (timeout < 0 || timeout > 50))
				timeout = 50;
		if (poll(pfds, np, timeout) < 0 && errno != EINTR)
			break;

		t = monotime();
		ended = 0;
		for (i = 0; i < nkids; i++) {
			if (kids[i].worker && kids[i].sock >= 0 && pfds[1 + 2 * nkids + i].revents)
				sub_worker_said(&kids[i], t, open_chan);
		}
		for (i = 0; i < nkids; i++) {
			struct child *c = &kids[i];

			if (c->conn >= 0 && !c->killed && (pfds[1 + nkids + i].revents & (POLLRDHUP | POLLHUP | POLLERR))) {
				if (!c->worker) {
					kill_test(c->pid);
					c->killed = 1;
					c->deadline = 0;
				} else {
					/* a client reads up to the finish event: a
					 * worker that said 'F' is resetting, and one
					 * that did not gets HANGUP_GRACE to say it */
					c->killed = 1;
					c->hangup = t;
				}
			}
			if (c->worker && c->hangup && !c->finished && t >= c->hangup + HANGUP_GRACE) {
				kill_test(c->pid);
				c->hangup = 0;
				c->deadline = 0;
			}
			d = child_deadline(c);
			if (d && t >= d) {
				if (!c->warned) {
					/* the harness dumps tracebacks on SIGUSR2 */
					kill(c->pid, SIGUSR2);
					c->warned = 1;
					c->deadline = t + GRACE;
				} else {
					kill_test(c->pid);
					c->timed_out = 1;
					c->deadline = 0;
				}
			}
			if ((c->pidfd < 0 || pfds[1 + i].revents) && waitpid(c->pid, &status, WNOHANG) == c->pid) {
				if (!dome) {
					/* the isolated runtime leaves no process behind:
					 * its group, then what left the group, before the
					 * client hears the test ended */
					pid_t gone = c->pid;

					kill(-gone, SIGKILL);
					c->pid = 0;
					sweep_orphans(kids, nkids);
					c->pid = gone;
				}
				if (c->conn >= 0) {
					hv_send_exit(c->conn, 1, status, c->timed_out);
					close(c->conn);
				} else if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0) {
					logf_("a spare test process of %s died (status %d)", file, status);
				}
				if (c->sock >= 0)
					close(c->sock);
				if (c->pidfd >= 0)
					close(c->pidfd);
				if (c->page)
					munmap(c->page, sizeof(*c->page));
				c->pid = 0;
				ended = 1;
			}
		}
		sub_pending(chan, &kids, &nkids, &capkids);
		for (i = 0; i < nkids;) {
			if (kids[i].pid == 0)
				kids[i] = kids[--nkids];
			else
				i++;
		}
		reap_others(kids, nkids);
		/* a dead worker's twin (the isolated runtime's swept above) */
		if (ended && dome)
			sweep_orphans(kids, nkids);

		if (open_chan && pfds[0].revents) {
			n = fdpass_recv(chan, q, sizeof(*q) - 1, fds, &nfds);
			if (n <= 0) {
				/* retired: finish the tests, let the spare go */
				open_chan = 0;
				close(chan);
				for (i = 0; i < nkids; i++) {
					if (kids[i].sock >= 0 && kids[i].conn < 0) {
						close(kids[i].sock);
						kids[i].sock = -1;
					}
				}
			} else if (q->type == 'Q' && nfds == 2 && n > (ssize_t)offsetof(struct qmsg, nodeid)) {
				((char *)q)[n] = 0;
				sub_run(chan, &kids, &nkids, &capkids, q, (size_t)n, fds[0], fds[1]);
				fdpass_send(chan, "A", 1, NULL, 0);
			} else {
				for (i = 0; i < (size_t)nfds; i++)
					close(fds[i]);
				fdpass_send(chan, "A", 1, NULL, 0);	/* taken: dropped */
			}
		}
	}
	free(q);
	free(kids);
	free(pfds);
	fflush(NULL);
	_exit(0);
}
