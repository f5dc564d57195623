/* events - the harness's events turned into result cases, shared by
 * both runtimes (runtime/events.h). */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cJSON.h>

#include "runtime/events.h"
#include "tach/result.h"
#include "tach/sandbox.h"
#include "lib/htab.h"
#include "lib/util.h"

char *
read_tail(int fd, size_t max)
{
	struct stat st;
	struct buf b = {0};
	char *data, *s;
	off_t off = 0;
	size_t len;
	ssize_t n;

	if (fstat(fd, &st) < 0 || st.st_size <= 0)
		return xstrdup("");
	len = (size_t)st.st_size;
	if (len > max) {
		off = (off_t)(len - max);
		len = max;
		buf_printf(&b, "[... %lld bytes before ...]\n", (long long)off);
	}
	data = xmalloc(len);
	n = pread(fd, data, len, off);
	if (n < 0)
		n = 0;
	s = result_utf8(data, (size_t)n);
	buf_puts(&b, s);
	free(s);
	free(data);
	return buf_take(&b);
}

char *
last_lines(const char *s, int n)
{
	size_t len = strlen(s);
	const char *p = s + len;

	if (p > s && p[-1] == '\n')
		p--;
	while (p > s) {
		if (p[-1] == '\n' && --n == 0)
			break;
		p--;
	}
	return xstrdup(p);
}


static const char *
json_str(const cJSON *obj, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));

	return s ? s : "";
}

/* A case whose process the Iron Dome stopped from making a system call:
 * say which, and how to run the test where it is allowed. */
static char *
dome_message(const char *msg, const char *syscall)
{
	return xasprintf("%s%sThe Iron Dome denied %s(2) to this test (hypervisor mode allows no "
	    "new processes, sockets or other toxic system calls). Run it in a fresh interpreter: "
	    "mark it @pytest.mark.toxic, or list its module in [tool.tach] toxic-modules in "
	    "pyproject.toml.", msg, *msg ? "\n\n" : "", syscall);
}

static void
event(struct events *ev, const cJSON *obj)
{
	const char *kind = json_str(obj, "event"), *nodeid = json_str(obj, "nodeid");
	const cJSON *ids, *id, *dur;
	const char *denied, *msg;
	char *dome = NULL;

	if (strcmp(kind, "configure") == 0) {
		ev->configured = 1;
	} else if (strcmp(kind, "collected") == 0) {
		ev->have_collected = 1;
		ids = cJSON_GetObjectItemCaseSensitive(obj, "nodeids");
		cJSON_ArrayForEach(id, ids) {
			if (!cJSON_IsString(id))
				continue;
			ev->collected = xgrow(ev->collected, &ev->capcollected, ev->ncollected + 1,
			    sizeof(*ev->collected));
			ev->collected[ev->ncollected++] = xstrdup(id->valuestring);
		}
	} else if (strcmp(kind, "collecterror") == 0) {
		if (ev->collect_errors.len)
			buf_putc(&ev->collect_errors, '\n');
		buf_puts(&ev->collect_errors, json_str(obj, "message"));
	} else if (strcmp(kind, "start") == 0) {
		free(ev->running);
		ev->running = xstrdup(nodeid);
		/* the time it was given (its marker's, or the runtime's) */
		dur = cJSON_GetObjectItemCaseSensitive(obj, "timeout");
		ev->running_timeout = cJSON_IsNumber(dur) && dur->valuedouble > 0 ? dur->valuedouble : 0;
	} else if (strcmp(kind, "case") == 0) {
		dur = cJSON_GetObjectItemCaseSensitive(obj, "duration");
		denied = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "denied"));
		msg = json_str(obj, "message");
		if (denied && *denied) {
			msg = dome = dome_message(msg, denied);
			if (!ev->denied)
				ev->denied = xstrdup(denied);
		}
		result_add(&ev->reported, nodeid, json_str(obj, "outcome"),
		    cJSON_IsNumber(dur) ? dur->valuedouble : 0, msg,
		    json_str(obj, "stdout"), json_str(obj, "stderr"), NULL);
		free(dome);
		if (ev->running && strcmp(ev->running, nodeid) == 0) {
			free(ev->running);
			ev->running = NULL;
		}
	} else if (strcmp(kind, "deselected") == 0) {
		/* the harness sends this edge's own only */
		ids = cJSON_GetObjectItemCaseSensitive(obj, "nodeids");
		cJSON_ArrayForEach(id, ids) {
			if (cJSON_IsString(id))
				result_deselected(&ev->reported, id->valuestring);
		}
	} else if (strcmp(kind, "notcollected") == 0) {
		if (*nodeid)
			result_notcollected(&ev->reported, nodeid);
	} else if (strcmp(kind, "timeout") == 0) {
		/* the harness stopped a test at its @pytest.mark.timeout */
		dur = cJSON_GetObjectItemCaseSensitive(obj, "seconds");
		ev->marker_timeout = cJSON_IsNumber(dur) && dur->valuedouble > 0 ? dur->valuedouble : 1e-9;
	} else if (strcmp(kind, "finish") == 0) {
		ev->finished = 1;
	}
}

void
events_init(struct events *ev, const char *mode, const char *nodeid)
{
	memset(ev, 0, sizeof(*ev));
	ev->nodeid = nodeid;
	result_init(&ev->reported, mode);
}

void
events_line(struct events *ev, const char *line, size_t len)
{
	char *s = xstrndup(line, len);
	cJSON *obj = cJSON_Parse(s);

	if (cJSON_IsObject(obj))
		event(ev, obj);
	cJSON_Delete(obj);
	free(s);
}

void
events_free(struct events *ev)
{
	size_t i;

	for (i = 0; i < ev->ncollected; i++)
		free(ev->collected[i]);
	free(ev->collected);
	free(ev->running);
	free(ev->denied);
	buf_free(&ev->collect_errors);
	result_free(&ev->reported);
}

char *
signal_name(int sig)
{
	const char *abbrev = sigabbrev_np(sig);

	return abbrev ? xconcat("SIG", abbrev, NULL) : xasprintf("signal %d", sig);
}

/* pytest's own words about a run that did not get to the tests. */
static char *
pytest_output(const struct ending *r, const struct events *ev)
{
	char *out, *err, *msg;

	if (ev->collect_errors.len)
		return xstrdup(ev->collect_errors.data);
	out = last_lines(r->out, 2 * TAIL_LINES);
	err = last_lines(r->err, TAIL_LINES);
	msg = xasprintf("%s%s%s", err, *err && *out ? "\n" : "", out);
	free(out);
	free(err);
	return msg;
}

void
events_result(struct events *ev, const struct ending *r, struct result *res)
{
	char *sig = NULL, *how, *tail, *msg, *other, *notrun;
	const char *culprit, *status_outcome;
	struct htab *seen = htab_new();
	size_t i;
	int crashed, timed_out = r->timed_out || ev->marker_timeout > 0;
	double timeout = ev->marker_timeout > 0 ? ev->marker_timeout
	    : ev->running && ev->running_timeout > 0 ? ev->running_timeout : r->timeout;

	for (i = 0; i < ev->reported.n; i++) {
		struct result_case *c = &ev->reported.cases[i];

		result_add(res, c->nodeid, c->outcome, c->duration, c->message, c->out, c->err, NULL);
		*htab_slot(seen, res->cases[res->n - 1].nodeid) = c;
	}
	for (i = 0; i < ev->reported.ndeselected; i++)
		result_deselected(res, ev->reported.deselected[i]);
	for (i = 0; i < ev->reported.nnotcollected; i++)
		result_notcollected(res, ev->reported.notcollected[i]);

	if (r->lost) {
		how = xstrdup(r->lost);
	} else if (WIFSIGNALED(r->status)) {
		sig = signal_name(WTERMSIG(r->status));
		/* the dome's trap with SIGSYS blocked or reset kills the process */
		how = WTERMSIG(r->status) == SIGSYS && strcmp(ev->reported.mode, "hypervisor") == 0
		    ? xconcat(sig, ", a system call the Iron Dome denies; mark the test "
		    "@pytest.mark.toxic or list its module in [tool.tach] toxic-modules", NULL)
		    : xstrdup(sig);
	} else {
		how = xasprintf("exit status %d", WEXITSTATUS(r->status));
	}
	/* a case left running, or an interpreter that died after pytest began */
	crashed = !timed_out && (r->lost || ev->running || WIFSIGNALED(r->status) ||
	    (ev->configured && !ev->finished));
	tail = last_lines(r->err, TAIL_LINES);

	culprit = ev->running;
	if (!culprit) {
		for (i = 0; i < ev->ncollected && !culprit; i++)
			if (!htab_get(seen, ev->collected[i]))
				culprit = ev->collected[i];
	}
	/* pytest ran to its end with nothing of this edge's to run: every
	 * item deselected, none collected, or another edge reports the file */
	if (!culprit && !timed_out && !crashed && ev->finished && !r->lost) {
		res->complete = true;
		goto out;
	}
	if (!culprit && ev->reported.n == 0)
		culprit = r->nodeid;

	if (timed_out) {
		status_outcome = "timeout";
		msg = xasprintf("timed out after %g s\n%s%s", timeout,
		    *tail ? "\nLast lines of stderr:\n" : "", tail);
		other = xasprintf("not run: timed out after %g s in %s", timeout, culprit ? culprit : r->nodeid);
	} else if (crashed) {
		status_outcome = "crashed";
		msg = xasprintf("crashed (%s) while running %s\n%s%s", how, culprit ? culprit : r->nodeid,
		    *tail ? "\nLast lines of stderr:\n" : "", tail);
		other = xasprintf("not run: the interpreter crashed (%s) while running %s", how,
		    culprit ? culprit : r->nodeid);
	} else {
		status_outcome = "error";
		notrun = pytest_output(r, ev);
		msg = xasprintf("%s\n(pytest: %s)", notrun, how);
		other = xasprintf("not run\n%s", notrun);
		free(notrun);
	}

	if (culprit && !htab_get(seen, culprit)) {
		result_add(res, culprit, status_outcome, r->wall, msg, r->out, r->err,
		    crashed && WIFSIGNALED(r->status) ? sig : NULL);
		*htab_slot(seen, res->cases[res->n - 1].nodeid) = res;
	}
	for (i = 0; i < ev->ncollected; i++) {
		if (htab_get(seen, ev->collected[i]))
			continue;
		result_add(res, ev->collected[i], timed_out ? "timeout" : "error", 0, other, "", "", NULL);
		*htab_slot(seen, res->cases[res->n - 1].nodeid) = res;
	}
	free(msg);
	free(other);
out:
	htab_free(seen);
	free(sig);
	free(how);
	free(tail);
}

void
print_failures(const struct result *res)
{
	const struct result_case *c;
	const char *p;
	size_t i;

	for (i = 0; i < res->n; i++) {
		c = &res->cases[i];
		if (result_outcome_ok(c->outcome))
			continue;
		for (p = c->outcome; *p; p++)
			putchar(toupper((unsigned char)*p));
		printf(" %s\n%s%s", c->nodeid, c->message,
		    *c->message && c->message[strlen(c->message) - 1] != '\n' ? "\n" : "");
	}
	fflush(stdout);
}

