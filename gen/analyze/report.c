/* report - a report's ownership, the names of cause kinds, and the verdict
 * policy; see include/tach/report.h.
 *
 * The policy is deliberately one function: another policy (import time only,
 * ...) plugs in here without touching the analyzer. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tach/report.h"
#include "lib/util.h"

static const char *kind_names[CAUSE_NKINDS] = {
	[CAUSE_THREADS] = "threads",
	[CAUSE_NETWORK] = "network",
	[CAUSE_SUBPROCESS] = "subprocess",
	[CAUSE_FFI] = "ffi",
	[CAUSE_SIGNALS] = "signals",
	[CAUSE_DYNAMIC_IMPORT] = "dynamic-import",
	[CAUSE_POISON_FORK] = "poison-fork",
	[CAUSE_MODULE_SCOPE_CALL] = "module-scope-call",
	[CAUSE_PARSE_ERROR] = "parse-error",
	[CAUSE_CONFIGURED] = "configured",
	[CAUSE_UNREADABLE] = "unreadable",
};

const char *
cause_kind_name(enum cause_kind kind)
{
	return kind < CAUSE_NKINDS ? kind_names[kind] : "unknown";
}

void
report_free(struct report *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nimports; i++) {
		free(r->imports[i].module);
		free(r->imports[i].name);
	}
	for (i = 0; i < r->ncauses; i++) {
		free(r->causes[i].name);
		free(r->causes[i].reason);
	}
	for (i = 0; i < r->nall; i++)
		free(r->all[i]);
	free(r->all);
	free(r->defs);
	free(r->imports);
	free(r->causes);
	free(r);
}

struct pydef *
pydefs_alloc(size_t n, size_t nbases, size_t nchars, char ***bases, char **chars)
{
	size_t dsz = n * sizeof(struct pydef), bsz = nbases * sizeof(char *);
	char *p;

	*bases = NULL;
	*chars = NULL;
	if (!n)
		return NULL;
	if (n > SIZE_MAX / 4 / sizeof(struct pydef) || nbases > SIZE_MAX / 4 / sizeof(char *) ||
	    nchars > SIZE_MAX / 4)
		fatal("pydefs_alloc: too large");
	p = xcalloc(1, dsz + bsz + nchars);
	*bases = (char **)(p + dsz);
	*chars = p + dsz + bsz;
	return (struct pydef *)p;
}

bool
policy_is_toxic(const struct report *r)
{
	size_t i;

	for (i = 0; i < r->ncauses; i++)
		if (r->causes[i].why == WHY_COUNTS)
			return true;
	return false;
}

const char *
cause_why_text(enum cause_why why)
{
	static const char *text[WHY_NKINDS] = {
		[WHY_COUNTS] = "",
		[WHY_USE_TIME] = "runs only when called, in the test's own process (the Iron Dome stops it there)",
		[WHY_NO_STATE] = "leaves no thread, socket, process, signal handler or native library behind",
		[WHY_NOT_STARTED] = "the object is created but never started at import",
		[WHY_LITERAL_IMPORT] = "a literal module name: followed as an import",
		[WHY_NOT_HERE] = "works only on another platform",
	};

	return why < WHY_NKINDS ? text[why] : "";
}

struct report *
report_unreadable(const char *path, int err)
{
	struct report *r = xcalloc(1, sizeof(*r));

	r->causes = xcalloc(1, sizeof(r->causes[0]));
	r->ncauses = 1;
	r->causes[0].kind = CAUSE_UNREADABLE;
	r->causes[0].name = xstrdup("unreadable");
	r->causes[0].reason = xasprintf("could not read: %s", strerror(err));
	r->causes[0].line = 1;
	r->causes[0].import_time = true;
	r->parse_error_line = 1;
	warn("%s: could not read (treated as toxic): %s", path, strerror(err));
	return r;
}

bool
cause_is_unreadable(const struct cause *c)
{
	return c->kind == CAUSE_UNREADABLE;
}
