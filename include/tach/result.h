/* result - the per-test result file both runtimes write (DESIGN.md,
 * "Contracts"):
 *
 *   {"tests": [{"nodeid": "test_a.py::test_b[1]", "outcome": "passed",
 *               "mode": "isolated", "duration": 0.01, "message": "",
 *               "stdout": "", "stderr": "", "signal": null}]}
 *
 * One object per test case, parametrized cases one by one with their pytest
 * ids. outcome is passed|failed|skipped|xfailed|crashed|timeout|error;
 * signal is the name of the signal that killed a crashed test ("SIGSEGV")
 * or null. Two lists follow when not empty: "deselected", the node ids of
 * the items pytest's configuration deselected (-m, -k, --deselect, a
 * plugin), which are no cases; and "notcollected", node ids tach gen planned
 * that pytest does not collect (a test behind a platform check, a file the
 * configuration ignores). The file is written to a temporary name and
 * renamed, so readers never see half of it. */
#ifndef TACH_RESULT_H
#define TACH_RESULT_H

#include <stdbool.h>
#include <stddef.h>

/* One test case: the record of result files and of results.json
 * (runtime/summary.h) alike. Every string is owned. */
struct result_case {
	char *nodeid;
	char *outcome;
	char *mode;	/* NULL: the result's mode, or in results.json none */
	double duration;
	char *message;
	char *out;
	char *err;
	char *signal;	/* NULL when no signal */
};

struct result {
	const char *mode;	/* "isolated" or "hypervisor"; borrowed */
	struct result_case *cases;
	size_t n, cap;
	char **deselected, **notcollected;
	size_t ndeselected, capdeselected, nnotcollected, capnotcollected;
	bool complete;		/* pytest ran to its end: no case is no failure */
};

void result_init(struct result *r, const char *mode);
void result_free(struct result *r);
/* Frees the strings of c. */
void result_case_free(struct result_case *c);

/* Appends a case. Every string is copied, with invalid UTF-8 replaced so the
 * file stays valid JSON; NULL message, out and err read as "". */
void result_add(struct result *r, const char *nodeid, const char *outcome, double duration,
    const char *message, const char *out, const char *err, const char *signal);

/* Appends a node id to the deselected or not collected ones (copied). */
void result_deselected(struct result *r, const char *nodeid);
void result_notcollected(struct result *r, const char *nodeid);

/* Appends the cases, deselected and not collected node ids of the result
 * file at path. Returns 0, or -1 when it cannot be read or parsed. */
int result_read(struct result *r, const char *path);

/* Returns a valid UTF-8 copy of n bytes of s: NUL bytes and invalid
 * sequences become U+FFFD. The caller frees the result. */
char *result_utf8(const char *s, size_t n);

/* Whether an outcome counts as a success: passed, skipped or xfailed. */
bool result_outcome_ok(const char *outcome);
/* Whether every case succeeded, and there is one at least or pytest ran
 * to its end (every item deselected, or none collected). */
bool result_ok(const struct result *r);

/* Returns the JSON text of r (lib/json.h, compact). The caller frees the
 * result. */
char *result_json(const struct result *r);
/* One case as a JSON object, its mode when it has none of its own: the
 * one writer of a case, for result files and results.json. */
struct json;
void result_case_json(struct json *w, const struct result_case *c, const char *mode);

/* Writes r to path atomically, creating missing parent directories.
 * Returns 0 or -errno. */
int result_write(const struct result *r, const char *path);

#endif
