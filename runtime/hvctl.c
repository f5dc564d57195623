/* hvctl - `tach hv status|stop` (tach-run --hv): asks a project's zygote how it is, or to
 * stop (include/tach/hv.h). A zygote that is stopped (SIGSTOP, a debugger)
 * cannot answer: status says so, stop kills it. No wait is longer than
 * STOP_WAIT. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "tach/hv.h"
#include "tach/statedir.h"
#include "lib/util.h"

#define STOP_WAIT 30.0		/* seconds to wait for an answer, and for running tests to end */

/* Sends a request to the zygote under dirfd and returns the first line of
 * the reply, or NULL; *stopped is set when the zygote, *pid (as hv_wait()
 * keeps it), is found stopped meanwhile. */
static char *
ask(int sock, enum hv_kind kind, int dirfd, const char *root, long *pid, int *stopped)
{
	struct buf b = {0};
	double deadline = monotime() + STOP_WAIT;
	char *nl;
	size_t had;
	int w;

	*stopped = 0;
	if (hv_send(sock, kind, 0, NULL, 0, -1) < 0) {
		*stopped = errno == EAGAIN && hv_is_stopped(*pid, root);
		return NULL;
	}
	do {
		had = b.len;
		w = hv_wait(sock, dirfd, root, deadline, pid);
		*stopped = w < 0;
	} while (w > 0 && buf_read(&b, sock, 4096) > 0 && !memchr(b.data + had, '\n', b.len - had));
	if (!b.len) {
		buf_free(&b);
		return NULL;
	}
	nl = strchr(b.data, '\n');
	if (nl)
		*nl = 0;
	return buf_take(&b);
}

static int hv_control(const char *what, const char *root, int clean);

/* "N processes, M MB" (PSS) of a status object, or without the MB when
 * it could not be read. */
static const char *
usage(const cJSON *o, char *buf, size_t n)
{
	double procs = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "processes"));
	double pss = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "pss_kb"));

	if (pss >= 0)
		snprintf(buf, n, "%.0f processes, %.1f MB", procs, pss / 1024);
	else
		snprintf(buf, n, "%.0f processes", procs);
	return buf;
}

static void
print_status(const char *line, int clean)
{
	cJSON *st = cJSON_Parse(line), *z;
	char mem[64];
	const char *root, *python;
	double uptime, idle;

	if (!st) {
		printf("%s\n", line);
		return;
	}
	root = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "root"));
	python = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "python"));
	uptime = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(st, "uptime"));
	idle = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(st, "idle"));
	printf("%szygote %d for %s (%s): up %.1f s, idle %.1f s of %d s, %d requests, %s\n", clean ? "clean " : "",
	    (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(st, "pid")),
	    root ? root : "?", python ? python : "?", uptime, idle,
	    (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(st, "idle_timeout")),
	    (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(st, "requests")), usage(st, mem, sizeof(mem)));
	cJSON_ArrayForEach(z, cJSON_GetObjectItemCaseSensitive(st, "zygotes")) {
		const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(z, "file"));

		printf("  %s: pid %d, %s, %d tests served, %s\n", !file ? "?" : *file ? file : "every file",
		    (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(z, "pid")),
		    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(z, "ready")) ? "ready" : "collecting",
		    (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(z, "served")), usage(z, mem, sizeof(mem)));
	}
	cJSON_Delete(st);
}

int
hv_command(const char *what, const char *rootarg)
{
	char *abs = realpath(rootarg, NULL);
	const char *root = abs ? abs : rootarg;
	int rc = hv_control(what, root, 0);

	/* the isolated runtime's clean zygote, when there is one */
	if (hv_control(what, root, 1) == 0 && strcmp(what, "status") == 0)
		rc = 0;
	free(abs);
	return rc;
}

/* The zygote pid is stopped: status says so, stop kills it. */
static int
stopped_zygote(const char *what, int dirfd, const char *root, int clean, long pid)
{
	if (strcmp(what, "status") == 0) {
		printf("%szygote %ld for %s is stopped (by a signal or a debugger) and answers no one; "
		    "tach hv stop, or the next test, kills it\n", clean ? "clean " : "", pid, root);
		return 1;
	}
	hv_kill(dirfd, pid);
	printf("killed %szygote %ld for %s: it was stopped by a signal or a debugger\n", clean ? "clean " : "",
	    pid, root);
	return 0;
}

/* With clean, the clean zygote, which is only mentioned when it runs. */
static int
hv_control(const char *what, const char *root, int clean)
{
	char *line;
	long pid;
	int dirfd, sock, stopped, rc;

	dirfd = clean ? hv_clean_dir(root, 0) : hv_dir(root, 0);
	pid = dirfd >= 0 ? hv_pid(dirfd) : 0;
	if (pid > 0 && hv_is_stopped(pid, root)) {
		rc = stopped_zygote(what, dirfd, root, clean, pid);
		close(dirfd);
		return rc;
	}
	sock = dirfd >= 0 ? hv_connect(dirfd) : -1;
	if (sock < 0 && clean) {
		if (dirfd >= 0)
			close(dirfd);
		return 1;
	}
	if (sock < 0) {
		if (errno != ENOENT && errno != ECONNREFUSED) {
			warn("%s/" TACH_PATH(TACH_HV_SOCK) ":", root);
			if (dirfd >= 0)
				close(dirfd);
			return 1;
		}
		printf("no zygote is running for %s\n", root);
		if (dirfd >= 0)
			close(dirfd);
		return strcmp(what, "status") == 0 ? 1 : 0;
	}
	pid = hv_pid(dirfd);
	line = ask(sock, strcmp(what, "status") == 0 ? HV_STATUS : HV_STOP, dirfd, root, &pid, &stopped);
	if (!line) {
		close(sock);
		if (stopped) {
			rc = stopped_zygote(what, dirfd, root, clean, pid);
			close(dirfd);
			return rc;
		}
		warn("the zygote of %s did not answer", root);
		close(dirfd);
		return 1;
	}
	if (strcmp(what, "status") == 0) {
		print_status(line, clean);
	} else {
		/* it lets running tests finish, and its end closes the
		 * connection; it removes its hv.pid first, so the pid stays
		 * the one it had */
		double deadline = monotime() + STOP_WAIT;
		char c;
		int w;

		while ((w = hv_wait(sock, -1, root, deadline, &pid)) > 0 && read(sock, &c, 1) > 0)
			;
		if (w < 0) {
			hv_kill(dirfd, pid);
			printf("killed %szygote %ld for %s: it was stopped by a signal before it ended\n",
			    clean ? "clean " : "", pid, root);
		} else if (w == 0) {
			printf("%szygote %ld for %s is stopping (tests still running)\n", clean ? "clean " : "", pid, root);
		} else {
			printf("stopped %szygote %ld for %s\n", clean ? "clean " : "", pid, root);
		}
	}
	close(sock);
	free(line);
	close(dirfd);
	return 0;
}
