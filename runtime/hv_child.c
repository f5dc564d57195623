/* hv_child - a test process of tach-hv. Its sub-zygote (runtime/hv_sub.c)
 * forks it for a request, or ahead of one as a spare that warms up and
 * then waits for its request. It closes what is not its own. A test
 * process of a clean zygote (the isolated runtime) leads a process group
 * of its own, loads no dome and runs tach_zygote.fresh, which imports the
 * test's conftests and file in this process. Any other loads the Iron Dome
 * (runtime/sandbox.c) and runs the node id's items through tach_zygote.run.
 * Both write the harness's events straight to the client's connection and
 * _exit; the sub-zygote reaps the process and tells the client how it
 * ended, so whatever the test does, its death is only a result. A failure
 * of tach's own Python here is tach's, not the test's: it is reported on
 * stderr and the process exits with status 124. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "tach/sandbox.h"
#include "lib/util.h"
#include "runtime/fdpass.h"
#include "runtime/hv.h"

#define WARM_AFTER 5		/* ms a spare waits for a request before warming up */

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

_Noreturn void
child_main(int conn, int errfd, const char *nodeid, int sock, int chan, pid_t parent,
    const struct child *kids, size_t nkids, const struct sandbox *sb, struct tach_deadline *page)
{
	struct qmsg *q;
	int fds[FDPASS_MAX], nfds, rc;
	ssize_t n;
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
		q = xmalloc(sizeof(*q));
		n = fdpass_recv(sock, q, sizeof(*q) - 1, fds, &nfds);
		if (n <= (ssize_t)offsetof(struct qmsg, nodeid) || nfds != 2)
			_exit(0);	/* not needed after all */
		((char *)q)[n] = 0;
		close(sock);
		conn = fds[0];
		errfd = fds[1];
		nodeid = q->nodeid;
	}
	child_call("run", py_call_run(nodeid, conn, errfd));
	fflush(NULL);
	_exit(0);
}
