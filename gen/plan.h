/* plan - the pipeline behind tach gen, run and hv: the analysis, pytest's
 * options, the tests found statically (gen/discover.c), the manifest and the
 * test lists written (gen/ninja.c), the results of tests that are gone
 * pruned; then, for tach run, Ninja, and for tach hv, tach-run, both
 * exec'd in tach's place (gen/plan.c).
 *
 * Errors as in gen/analysis.h: a usage or configuration error (no Python
 * with pytest, a manifest tach did not write, a path outside the root)
 * prints "tach: ..." and exits EXIT_USAGE before anything is written. */
#ifndef TACH_PLAN_H
#define TACH_PLAN_H

#include <stdbool.h>

#include "gen/analysis.h"

/* tach gen's options; the strings are borrowed. */
struct plan_opts {
	struct analysis_opts an;
	const char *out;            /* -o: the manifest, or NULL for ROOT/build.ninja */
	const char *python;         /* --python, or NULL to choose one */
	bool regen;                 /* --regen: run by the manifest itself */
	bool cache_url_given;       /* an.cache.url is --cache's, not $TACH_CACHE */
	const char *pytest_args;    /* options added to pytest's, shell-quoted, or NULL */
	long timeout;               /* --timeout, or 0 */
};

/* tach gen: writes the manifest and the test lists when they changed and
 * prunes stale results; returns the exit status. *manifest (when not NULL)
 * gets the manifest's absolute path, which the caller frees. */
int plan_generate(const struct plan_opts *o, char **manifest);
/* tach run, after plan_generate(): execs `ninja -C ROOT -f MANIFEST` with
 * the Ninja targets of the npaths test files and directories in paths
 * (`test`, all of them, when there are none) and the nargs ninja_args.
 * Returns 1 only when Ninja could not be run; exits when a path is not
 * inside the root. Borrows everything. */
int plan_run(const struct plan_opts *o, const char *manifest, char *const *paths, int npaths,
             char *const *ninja_args, int nargs);
/* tach hv: execs the tach-run beside tach with --hv what (status or stop).
 * Returns 1 only when it could not be run. */
int plan_hv(const char *root, const char *what);

#endif
