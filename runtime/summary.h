/* summary - tach-results: the result files of every test edge gathered into
 * one report, a JUnit XML file for CI and a summary line.
 *
 * Input: result files (include/tach/result.h), each optionally paired with
 * the node id its edge was meant to run. A file that cannot be read, is not
 * JSON, has no "tests" array or no case at all (unless it says pytest ran
 * to its end: "complete", or items deselected or not collected) becomes one
 * case
 * {"nodeid": NODEID (or the path), "outcome": "error", "mode": null,
 *  "message": "no result: WHY (PATH)"}, so a lost test is never lost silently;
 * a malformed case inside a good file becomes such a case too.
 *
 * results.json has the result file's shape, one case a line, in input order:
 *
 *   {"tests": [
 *   {"nodeid": ..., "outcome": ..., "mode": ..., "duration": ..., "message": ...,
 *    "stdout": ..., "stderr": ..., "signal": ...}
 *   ], "deselected": N, "notcollected": [NODEID, ...]}
 *
 * deselected counts the items pytest's configuration deselected (no case,
 * as with pytest); notcollected lists node ids tach gen planned that pytest
 * does not collect, of which the summary warns once.
 *
 * junit.xml has one <testsuite> per test file (the node id before its first
 * "::"), in order of first appearance, and one <testcase> per case; see
 * summary_names() for its classname and name. Counting: passed; skipped and
 * xfailed are "skipped"; failed is a JUnit failure; crashed, timeout, error
 * and any other outcome are JUnit errors, and all of those count as failed. */
#ifndef TACH_SUMMARY_H
#define TACH_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lib/util.h"
#include "tach/result.h"

enum summary_kind {
	SUMMARY_PASSED,
	SUMMARY_SKIPPED,	/* skipped, xfailed */
	SUMMARY_FAILURE,	/* failed */
	SUMMARY_ERROR,		/* crashed, timeout, error, anything else */
};

/* The cases are result files' records (include/tach/result.h); a case's
 * mode is NULL when no runtime wrote it. */
struct summary {
	struct result_case *cases;
	size_t n, cap;
	size_t missing;		/* inputs that gave no usable result */
	size_t deselected;
	char **notcollected;
	size_t nnotcollected, capnotcollected;
};

struct summary_counts {
	size_t tests, passed, failed, skipped;	/* failed = failures + errors */
	size_t failures, errors;
	double time;
};

void summary_init(struct summary *s);
void summary_free(struct summary *s);

/* Adds the cases of the result file at path. shown is the path quoted in
 * messages; nodeid (may be NULL: shown is used) names the case that stands
 * for a missing result. Returns 0, or -1 when the file gave no result and
 * one "error" case was added instead. */
int summary_add_file(struct summary *s, const char *path, const char *shown, const char *nodeid);
/* The same for the len bytes of a file's contents, NUL-terminated. */
int summary_add_text(struct summary *s, const char *text, size_t len, const char *shown,
    const char *nodeid);
/* Adds the "error" case for an input without a result, because of why. */
void summary_add_missing(struct summary *s, const char *shown, const char *nodeid, const char *why);

enum summary_kind summary_kind(const char *outcome);
void summary_count(const struct summary *s, struct summary_counts *c);

/* The JUnit names of a pytest node id, each to be freed by the caller:
 *   sub/test_b.py::TestK::test_m[1] -> file "sub/test_b.py",
 *   classname "sub.test_b.TestK", name "test_m[1]".
 * The file's path becomes a dotted module path (".py" dropped), classes are
 * joined with "."; "::" inside the parameters does not split. A node id
 * without "::" is its own file and name, its dotted path the classname. */
void summary_names(const char *nodeid, char **file, char **classname, char **name);

/* Appends s (UTF-8) escaped for XML 1.0 text, or an attribute value when
 * attr (tab and newline then become character references too). Characters
 * XML forbids (controls other than tab, newline and CR; U+FFFE, U+FFFF) are
 * dropped, invalid UTF-8 bytes become U+FFFD. */
void summary_xml_escape(struct buf *b, const char *s, bool attr);

/* The text of results.json and junit.xml. The caller frees the result. */
char *summary_json(const struct summary *s);
char *summary_junit(const struct summary *s);

/* Prints "FAILED nodeid (outcome[, SIGNAL])" for every case counted as
 * failed, then "N passed, N failed, N skipped". */
void summary_print(const struct summary *s, FILE *f);

/* Splits one line of a list file (modified in place): "PATH" or
 * "PATH<TAB>NODEID" (split at the last tab; a trailing CR is dropped). A
 * PATH that starts with a single quote and reads as Ninja's shell quoting
 * ('a b.json', 'it'\''s.json', as $in_newline writes it) is unquoted.
 * *nodeid is NULL without a tab. Returns false for a line with neither. */
bool summary_list_line(char *line, char **path, char **nodeid);

#endif
