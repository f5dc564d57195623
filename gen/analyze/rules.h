/* rules - what the analyzer counts as toxic: the toxic module table and the
 * toxic call table.
 *
 * The module table is data: defaults plus [tool.tach] toxic-modules, minus
 * safe-modules, with a fingerprint for cache keys. The call table is fixed
 * (it changes only with the analyzer's source, which every cache key
 * checksums); gen/analyze/py_calls.c matches calls against it after resolving
 * their names through the file's aliases. */
#ifndef TACH_RULES_H
#define TACH_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "tach/report.h"

/* The toxic module table: defaults plus [tool.tach] toxic-modules, minus
 * safe-modules. */
struct rules;

/* Returns the default rules; add/remove with the calls below. */
struct rules *rules_new(void);
void rules_free(struct rules *r);
/* Adds a toxic module (CAUSE_CONFIGURED). Copies name. */
void rules_add_toxic(struct rules *r, const char *name);
/* Removes a module from the table (default or configured). Returns false when
 * it was not there. */
bool rules_remove(struct rules *r, const char *name);
/* Matches a dotted module name on dotted boundaries: "torch.nn" matches
 * "torch"; "pandas_helpers" does not match "pandas". Returns the matching
 * table entry (borrowed) and sets *kind, or NULL. */
const char *rules_match(const struct rules *r, const char *dotted, enum cause_kind *kind);
/* A stable string that changes whenever the table changes (for cache keys).
 * Borrowed; valid until the rules change or are freed. */
const char *rules_fingerprint(struct rules *r);

/* What calling a toxic function does. */
enum call_kind {
	CALL_EXEC,      /* dynamic code: CAUSE_DYNAMIC_IMPORT */
	CALL_IMPORT,    /* dynamic import: CAUSE_DYNAMIC_IMPORT, and a literal first argument is an import */
	CALL_MODSCOPE,  /* CAUSE_MODULE_SCOPE_CALL, only when called at import time */
	CALL_SPAWN,     /* spawns a process: CAUSE_SUBPROCESS */
};

struct toxic_call {
	const char *qual;       /* qualified name: "os.fork", "builtins.exec" */
	enum call_kind kind;
	const char *name;       /* cause name; NULL means qual */
};

/* The toxic call named qual, or NULL. Borrowed; a static table. */
const struct toxic_call *rules_match_call(const char *qual);
/* Whether the n bytes at s are the last component of some toxic call's
 * qualified name ("fork", "Thread"): a cheap filter before resolving a call. */
bool rules_call_suffix(const char *s, size_t n);

#endif
