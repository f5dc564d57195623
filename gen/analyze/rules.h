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

/* Which causes make a module toxic (README "What counts as toxic").
 * strict: every cause, wherever it is (an import of threading anywhere).
 * precise: only what importing the module leaves behind that a fork cannot
 * survive: threads, timers and processes started, sockets opened, signal
 * handlers installed, native libraries loaded, a poison-fork package
 * imported, a dynamic import of a name it cannot read, by code that runs at
 * import; code the platform or a __main__ guard excludes is dead. */
enum policy {
	POLICY_PRECISE,
	POLICY_STRICT,
};

/* "precise" or "strict". */
const char *policy_name(enum policy p);
/* The policy named s; false when s names none. */
bool policy_parse(const char *s, enum policy *p);

/* Returns the default rules (the precise policy); add/remove with the calls
 * below. */
struct rules *rules_new(void);
void rules_set_policy(struct rules *r, enum policy p);
enum policy rules_policy(const struct rules *r);
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
/* A stable string that changes whenever the table or the policy changes
 * (for cache keys).
 * Borrowed; valid until the rules change or are freed. */
const char *rules_fingerprint(struct rules *r);

/* What calling a toxic function does. Each entry of the call table has a
 * kind under each policy; CALL_NONE: no target under that policy. */
enum call_kind {
	CALL_NONE,
	CALL_EXEC,      /* dynamic code: CAUSE_DYNAMIC_IMPORT */
	CALL_IMPORT,    /* dynamic import: CAUSE_DYNAMIC_IMPORT, and a literal first argument is an import */
	CALL_MODSCOPE,  /* CAUSE_MODULE_SCOPE_CALL, only when called at import time (strict) */
	CALL_SPAWN,     /* spawns a process: CAUSE_SUBPROCESS */
	CALL_START,     /* starts what its cause kind says when called: a thread, workers,
	                 * a socket, a signal handler, a native library (precise) */
	CALL_STARTABLE, /* makes an object that starts a thread or process on .start() (precise) */
	CALL_EXECUTOR,  /* makes an executor that starts workers on .submit()/.map() (precise) */
	CALL_FFI_OBJ,   /* cffi.FFI(): loads native code on .dlopen() (precise) */
	CALL_ELSEWHERE, /* a library of another platform (ctypes.WinDLL): nothing here (precise) */
};

struct toxic_call {
	const char *qual;       /* qualified name: "os.fork", "builtins.exec" */
	unsigned char strict;   /* enum call_kind under the strict policy */
	unsigned char precise;  /* enum call_kind under the precise policy */
	unsigned char cause;    /* enum cause_kind under the precise policy */
	const char *name;       /* cause name; NULL means qual */
};

/* The toxic call named qual, or NULL. Borrowed; a static table. */
const struct toxic_call *rules_match_call(const char *qual);
/* Whether the n bytes at s are the last component of some toxic call's
 * qualified name ("fork", "Thread"): a cheap filter before resolving a call. */
bool rules_call_suffix(const char *s, size_t n);

#endif
