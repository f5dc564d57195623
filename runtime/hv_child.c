/* hv_child - a test process of tach-hv. Its sub-zygote (runtime/hv_sub.c)
 * forks it for a request, or ahead of one as a spare that warms up and
 * then waits for its request. It closes what is not its own. A test
 * process of a clean zygote (the isolated runtime) leads a process group
 * of its own, loads no dome and runs tach_zygote.fresh, which imports the
 * test's conftests and file in this process. Any other loads the Iron Dome
 * (runtime/sandbox.c) and runs the node id's items through tach_zygote.run.
 * Both write the harness's events straight to the client's connection.
 * A worker (where runtime/reset.h works) gets ready and takes its
 * snapshot before the Dome, and after each test says 'F' (over: its
 * client may hang up), is reset, says 'D' (or, when it cannot be reset,
 * why in the log, and exits) and waits for its next request; any other
 * test process _exits. The sub-zygote reaps a process that ends and tells
 * the client how, so whatever the test does, its death is only a result. A failure
 * of tach's own Python here is tach's, not the test's: it is reported on
 * stderr and the process exits with status 124. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "tach/sandbox.h"
#include "lib/util.h"
#include "runtime/fdpass.h"
#include "runtime/hv.h"
#include "runtime/reset.h"

#define WARM_AFTER 5		/* ms a spare waits for a request before warming up */
/* A worker's own descriptors (its reset's) go at or above this number,
 * out of the way of those a test opens. */
#define WORKER_FDBASE 700

/* Reports err, the failure of tach_zygote.FN in a test process, and exits;
 * returns when there is none. */
static void
child_call(const char *fn, char *err)
{
	if (!err)
		return;
	dprintf(2, "tach-hv: %s failed in the test process:\n%s", fn, err);
	free(err);
	fflush(NULL);
	_exit(124);
}

/* Takes the next request from the sub-zygote on sock: *conn, *errfd and
 * the node id in q. Returns 0, or -1 when none comes (sock closed: not
 * needed any more). */
static int
child_take(int sock, struct qmsg *q, int *conn, int *errfd)
{
	int fds[FDPASS_MAX], nfds, i;
	ssize_t n;

	n = fdpass_recv(sock, q, sizeof(*q) - 1, fds, &nfds);
	if (n <= (ssize_t)offsetof(struct qmsg, nodeid) || nfds != 2) {
		for (i = 0; n > 0 && i < nfds; i++)
			close(fds[i]);
		return -1;
	}
	((char *)q)[n] = 0;
	*conn = fds[0];
	*errfd = fds[1];
	return 0;
}

/* After a test in a worker: brings it back to its snapshot, and tells the
 * sub-zygote the test is over ('D'). A worker that cannot be brought back
 * says so and exits: the sub-zygote forks another. Under TACH_HV_VERIFY a
 * reset that leaves any tracked page unlike the snapshot is the test's
 * error ('V', with what differs), and the worker exits. */
static void
child_reset(int sock, int logfd, const char *nodeid, int verify, double ran)
{
	const char *why = NULL;
	char msg[512];
	unsigned long pages, maps;
	double t0, t1;

	t0 = monotime();
	if (sandbox_denied_total() != 0 || py_retiring())
		why = "the Iron Dome denied a call";
	else
		reset_restore(&why);
	t1 = monotime();
	if (!why && verify && reset_verify(msg + 1, sizeof(msg) - 1) != 0) {
		msg[0] = 'V';
		dprintf(logfd, "tach-hv: a reset after %s left memory unlike the snapshot: %s\n", nodeid, msg + 1);
		send(sock, msg, strlen(msg), MSG_NOSIGNAL);
		_exit(0);
	}
	if (why) {
		dprintf(logfd, "tach-hv: a test process retires after %s: %s\n", nodeid, why);
		send(sock, "X", 1, MSG_NOSIGNAL);
		_exit(0);
	}
	send(sock, "D", 1, MSG_NOSIGNAL);
	if (verify > 1) {
		reset_stats(&pages, &maps, msg, sizeof(msg));
		dprintf(logfd, "tach-hv: reset after %s: %lu pages, %lu mappings, %.3f ms (%s); the test ran %.3f ms\n",
		    nodeid, pages, maps, (t1 - t0) * 1000, msg, ran * 1000);
	}
}

_Noreturn void
child_main(int conn, int errfd, const char *nodeid, int sock, int chan, pid_t parent,
    const struct child *kids, size_t nkids, const struct sandbox *sb, struct tach_deadline *page, int worker)
{
	struct qmsg *q;
	const char *why, *v;
	int rc, verify, logfd = 2;
	double ran, born = 0, ready = 0;
	size_t i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(125);
	close(chan);
	for (i = 0; i < nkids; i++) {
		/* the other tests' descriptors are theirs */
		if (kids[i].conn >= 0)
			close(kids[i].conn);
		if (kids[i].sock >= 0)
			close(kids[i].sock);
		if (kids[i].pidfd >= 0)
			close(kids[i].pidfd);
	}
	if (!sb) {
		/* the isolated runtime: what the test starts is killed with
		 * its group when it ends */
		setpgid(0, 0);
		py_after_fork_child();
		py_deadline_page(page);
		child_call("fresh", py_call_fresh(nodeid, conn, errfd));
		fflush(NULL);
		_exit(0);
	}
	if (worker && sock >= 0) {
		/* on this frame: below the tracked stack, so a reset leaves
		 * it alone (the heap is brought back to the snapshot's) */
		struct qmsg qbuf;

		q = &qbuf;
		/* the log: pytest's capture takes stderr over */
		logfd = fcntl(2, F_DUPFD_CLOEXEC, WORKER_FDBASE);
		/* a worker: ready, then its snapshot (the twin cannot be
		 * made under the dome), then the dome */
		born = monotime();
		py_after_fork_child();
		py_deadline_page(page);
		v = getenv("TACH_HV_HEADROOM");
		if (!(v && strcmp(v, "0") == 0))
			py_headroom();
		child_call("prepare", py_call("prepare"));
		/* what the first test would make once (lazy imports, caches)
		 * is made before the snapshot, not again after every reset */
		child_call("warm", py_call("warm"));
		child_call("settle", py_call("settle"));
		ready = monotime();
		if (reset_snapshot(__builtin_frame_address(0), WORKER_FDBASE, &why) < 0) {
			dprintf(logfd, "tach-hv: no snapshot, one test a process: %s: %s\n", why, strerror(errno));
			worker = 0;
		}
		rc = sandbox_load(sb);
		if (rc < 0) {
			dprintf(2, "tach-hv: cannot load the Iron Dome: %s\n", strerror(-rc));
			_exit(125);
		}
		v = getenv("TACH_HV_VERIFY");
		verify = v && *v && strcmp(v, "0") != 0 ? (strcmp(v, "2") == 0 ? 2 : 1) : 0;
		if (worker)
			reset_kernel_again();
		if (worker && conn < 0) {
			/* a spare: the pages a test writes are copied now, while
			 * nothing waits (a worker forked for a request would only
			 * make it wait longer) */
			child_call("warm", py_call("warm"));
			if (reset_restore(&why) < 0) {
				dprintf(logfd, "tach-hv: cannot reset a test process: %s\n", why);
				_exit(0);
			}
		}
		if (worker) {
			if (verify > 1)
				dprintf(logfd, "tach-hv: a worker ready in %.1f ms: %.1f ms to get ready, %.1f ms "
				    "to snapshot and load the dome (a spare: to warm up and reset too)\n", (monotime() - born) * 1000,
				    (ready - born) * 1000, (monotime() - ready) * 1000);
		}
		for (;;) {
			if (conn < 0) {
				if (child_take(sock, q, &conn, &errfd) < 0)
					_exit(0);
				nodeid = q->nodeid;
			}
			ran = monotime();
			child_call("run", py_call_run(nodeid, conn, errfd));
			fflush(NULL);
			if (!worker)
				_exit(0);
			send(sock, "F", 1, MSG_NOSIGNAL);
			child_reset(sock, logfd, nodeid, verify, monotime() - ran);
			conn = errfd = -1;
		}
	}
	q = xmalloc(sizeof(*q));
	rc = sandbox_load(sb);
	py_after_fork_child();
	py_deadline_page(page);
	if (rc < 0) {
		dprintf(2, "tach-hv: cannot load the Iron Dome: %s\n", strerror(-rc));
		_exit(125);
	}
	if (conn < 0) {
		struct pollfd p = {.fd = sock, .events = POLLIN};

		child_call("prepare", py_call("prepare"));
		/* idle: spend the wait copying the pages a test writes */
		if (poll(&p, 1, WARM_AFTER) == 0)
			child_call("warm", py_call("warm"));
		if (child_take(sock, q, &conn, &errfd) < 0)
			_exit(0);
		close(sock);
		nodeid = q->nodeid;
	}
	child_call("run", py_call_run(nodeid, conn, errfd));
	fflush(NULL);
	_exit(0);
}
