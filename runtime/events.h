/* events - what a runtime learns from the pytest harness
 * (runtime/harness.py) and how it turns that into a result.
 *
 * The harness reports one JSON object a line: configure, collected,
 * collecterror, start, case, finish (see harness.py). Both runtimes feed
 * those lines to an events record, then describe how the process that ran
 * pytest ended (struct ending); events_result() makes one result case per
 * test case: the reported ones as they were, a case left running as
 * "crashed" or "timeout", the collected cases that never ran as "error"
 * ("not run: ..."), and NODEID itself as "error" with pytest's words when
 * nothing was collected. */
#ifndef TACH_EVENTS_H
#define TACH_EVENTS_H

#include <stddef.h>

#include "tach/result.h"
#include "lib/util.h"

#define TAIL_LINES 50		/* lines of stderr kept in a crash's message */

struct events {
	int configured, finished, have_collected;
	char **collected;
	size_t ncollected, capcollected;
	char *running;		/* started and not reported */
	double marker_timeout;	/* > 0: stopped at @pytest.mark.timeout */
	double running_timeout;	/* > 0: the time the running case was given */
	const char *nodeid;	/* what was asked for (borrowed) */
	struct buf collect_errors;
	struct result reported;
	char *denied;		/* the first call the Iron Dome denied to a case, or NULL */
};

/* How the process that ran the tests ended. */
struct ending {
	const char *nodeid;	/* what was asked for */
	int status;		/* its wait status */
	int timed_out;		/* killed at the timeout */
	double timeout;		/* seconds */
	double wall;		/* seconds it ran */
	const char *out, *err;	/* the tails of its stdout and stderr, or "" */
	const char *lost;	/* non-NULL: the runtime lost the process (why) */
};

/* nodeid is what was asked for: deselected cases outside it are left out. */
void events_init(struct events *ev, const char *mode, const char *nodeid);
/* Feeds one line (without its newline); lines that are not JSON objects
 * are ignored, so a line torn by a crash does no harm. */
void events_line(struct events *ev, const char *line, size_t len);
void events_free(struct events *ev);
/* Appends the result cases to res (see above). */
void events_result(struct events *ev, const struct ending *e, struct result *res);

/* "SIGSEGV", or "signal N" for a signal without a name. The caller frees
 * the result. */
char *signal_name(int sig);
/* Returns a copy of the last n lines of s. */
char *last_lines(const char *s, int n);
/* Reads at most max bytes from the end of fd as valid UTF-8, with a note
 * of how much came before. The caller frees the result. */
char *read_tail(int fd, size_t max);
/* Prints "OUTCOME nodeid" and the message of every case that did not
 * succeed to stdout. */
void print_failures(const struct result *res);

#endif
