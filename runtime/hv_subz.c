/* hv_subz - the base zygote's records of its sub-zygotes (struct sub, see
 * runtime/hv.h): starting one for a test file (subz_fork), holding the
 * requests that arrive while it collects (subz_hold) and passing them on
 * once its files are checked (subz_message, subz_forward), retiring it when
 * a file it read changed or the base has too many (subz_retire,
 * subz_retire_stale, subz_evict), killing it when it is stopped or does
 * not take its requests in time (subz_kill, subz_check_answers), and
 * forgetting it when it is gone. All of it runs in the base. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tach/hv.h"
#include "tach/sandbox.h"
#include "tach/statedir.h"
#include "lib/htab.h"
#include "lib/json.h"
#include "lib/util.h"
#include "runtime/fdpass.h"
#include "runtime/hv.h"

void
held_free(struct held *h)
{
	if (h->conn >= 0)
		close(h->conn);
	if (h->errfd >= 0)
		close(h->errfd);
	free(h->nodeid);
	h->conn = h->errfd = -1;
	h->nodeid = NULL;
}

/* ---- sub-zygotes, from the base's side ---- */

/* Closes, in a new sub-zygote, every descriptor of the base that is not
 * its own: the listening socket, the watches, the other sub-zygotes'
 * channels and the requests they hold. */
static void
subz_close_base(const struct sub *self)
{
	size_t i, k;

	close(base.lfd);
	close(base.ifd);
	close(base.dirfd);
	close(base.sigchld[0]);
	close(base.sigchld[1]);
	for (i = 0; i < base.nsubs; i++) {
		const struct sub *s = base.subs[i];

		if (s != self)
			close(s->chan);
		for (k = 0; k < s->nheld; k++) {
			close(s->held[k].conn);
			close(s->held[k].errfd);
		}
	}
}

void
subz_free(struct sub *s)
{
	size_t i;

	if (s->chan >= 0)
		close(s->chan);
	for (i = 0; i < s->nheld; i++)
		held_free(&s->held[i]);
	free(s->held);
	free(s->file);
	free(s);
}

void
subz_remove(struct sub *s)
{
	size_t i;

	for (i = 0; i < base.nsubs; i++) {
		if (base.subs[i] == s) {
			base.subs[i] = base.subs[--base.nsubs];
			break;
		}
	}
}

void
subz_hold(struct sub *s, struct held *h)
{
	s->held = xgrow(s->held, &s->capheld, s->nheld + 1, sizeof(*s->held));
	s->held[s->nheld++] = *h;
	h->conn = h->errfd = -1;
	h->nodeid = NULL;
}

/* Starts the sub-zygote of s->file. Its held requests must be in s already,
 * so that it does not inherit their descriptors. Returns 0 or -1. */
int
subz_fork(struct sub *s)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		logf_("socketpair:");
		return -1;
	}
	s->t0 = wall_ns();
	fflush(NULL);
	py_before_fork();
	pid = fork();
	if (pid == 0) {
		py_after_fork_child();
		/* SIGCHLD as a process that is no base has it */
		signal(SIGCHLD, SIG_DFL);
		close(sv[0]);
		subz_close_base(s);
		sub_main(s->file, sv[1], base.clean ? NULL : base.sb);
	}
	py_after_fork_parent();
	close(sv[1]);
	if (pid < 0) {
		logf_("fork:");
		close(sv[0]);
		return -1;
	}
	s->pid = pid;
	s->chan = sv[0];
	/* a sub-zygote that reads nothing must not block the base: a send
	 * to a full channel fails, a spurious wake reads nothing */
	fcntl(s->chan, F_SETFL, fcntl(s->chan, F_GETFL) | O_NONBLOCK);
	return 0;
}

/* Sends a held request on to a ready sub-zygote. */
int
subz_forward(struct sub *s, struct held *h)
{
	size_t len = strlen(h->nodeid);
	struct qmsg *q = xmalloc(offsetof(struct qmsg, nodeid) + len + 1);
	int fds[2] = {h->conn, h->errfd}, rc;

	q->type = 'Q';
	q->timeout_ms = h->timeout_ms;
	memcpy(q->nodeid, h->nodeid, len + 1);
	rc = fdpass_send(s->chan, q, offsetof(struct qmsg, nodeid) + len, fds, 2);
	free(q);
	if (rc == 0) {
		s->served++;
		if (s->unanswered++ == 0)
			s->answer_by = monotime() + SUB_ANSWER;
		held_free(h);
	}
	return rc;
}

/* Retires a sub-zygote: it finishes its tests and exits when its channel
 * closes. Its held requests go back to be routed again. */
void
subz_retire(struct sub *s)
{
	struct held *held = s->held;
	size_t i, n = s->nheld;

	s->held = NULL;
	s->nheld = s->capheld = 0;
	subz_remove(s);
	if (!s->ready && s->pid > 0)
		kill(s->pid, SIGKILL);	/* still collecting stale files */
	subz_free(s);
	for (i = 0; i < n; i++)
		base_route(&held[i]);
	free(held);
}

/* A sub-zygote died or failed before it was ready: its held requests get
 * the reason. */
void
subz_failed(struct sub *s, const char *why)
{
	size_t i;

	for (i = 0; i < s->nheld; i++) {
		reply_error(s->held[i].conn, "tach-hv: the zygote collecting %s %s; see %s/" TACH_PATH(TACH_HV_LOG),
		    s->file, why, base.root);
		held_free(&s->held[i]);
	}
	s->nheld = 0;
	subz_remove(s);
	subz_free(s);
}

/* Kills a sub-zygote that is stopped or does not take its requests, with
 * its test processes, and retires it: its held requests go to a new one,
 * and those it was sent and did not take vanish with it, so their clients
 * see the connection end unanswered and ask again. */
void
subz_kill(struct sub *s, const char *why)
{
	logf_("the zygote of %s (pid %ld) %s: killed it; a new one serves the file",
	    *s->file ? s->file : "every file", (long)s->pid, why);
	if (s->pid > 0)
		hv_kill_zygote(s->pid);
	s->ready = 0;	/* killed already: subz_retire() need not */
	s->pid = 0;
	subz_retire(s);
}

void
subz_check_answers(void)
{
	double t = monotime();
	char late[64];
	size_t i;

	snprintf(late, sizeof(late), "did not take a request in %d s", SUB_ANSWER);
	for (i = 0; i < base.nsubs;) {
		struct sub *s = base.subs[i];

		if (s->unanswered > 0 && t >= s->answer_by)
			subz_kill(s, proc_stopped(s->pid) ? "is stopped" : late);	/* removes it */
		else
			i++;
	}
}

/* Handles what a sub-zygote sends: its files, then 'R', then 'A' for each
 * request it took; EOF when it is gone. */
void
subz_message(struct sub *s)
{
	char *data = xmalloc(CHUNK + 2), *p, *end;
	int fds[FDPASS_MAX], nfds, i;
	ssize_t n;
	size_t k;

	n = fdpass_recv(s->chan, data, CHUNK + 1, fds, &nfds);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		/* nothing after all */
	} else if (n <= 0) {
		subz_failed(s, s->ready ? "exited" : "died while collecting");
	} else if (data[0] == 'F') {
		data[n] = 0;
		for (p = data + 1, end = data + n; p < end; p += strlen(p) + 1)
			if (*p)
				watch_file(p, s->id, s->t0);
	} else if (data[0] == 'A') {
		/* the next one it has not taken gets its own SUB_ANSWER */
		if (s->unanswered > 0 && --s->unanswered > 0)
			s->answer_by = monotime() + SUB_ANSWER;
	} else if (data[0] == 'R') {
		s->ready = 1;
		if (s->stale) {
			subz_retire(s);
		} else {
			for (k = 0; k < s->nheld; k++) {
				if (subz_forward(s, &s->held[k]) < 0) {
					reply_error(s->held[k].conn, "tach-hv: the zygote of %s is gone", s->file);
					held_free(&s->held[k]);
				}
			}
			s->nheld = 0;
		}
	}
	free(data);
}

/* The least recently used sub-zygote goes when there are too many. */
void
subz_evict(void)
{
	struct sub *lru = NULL;
	size_t i;

	if (base.nsubs < MAXSUBS)
		return;
	for (i = 0; i < base.nsubs; i++)
		if (base.subs[i]->ready && base.subs[i]->nheld == 0 && (!lru || base.subs[i]->used < lru->used))
			lru = base.subs[i];
	if (lru)
		subz_retire(lru);
}

void
subz_retire_stale(void)
{
	size_t i;

	for (i = 0; i < base.nsubs;) {
		if (base.subs[i]->stale)
			subz_retire(base.subs[i]);	/* removes it from the array */
		else
			i++;
	}
}

/* ---- requests ---- */

/* The test file of a node id, or NULL when it is not a path inside the root. */
