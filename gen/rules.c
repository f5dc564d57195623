/* rules - the toxic module table, report ownership and the verdict policy.
 *
 * The table maps a module name to the kind of harm it does in a process that
 * is forked after importing it. Names match on dotted boundaries. The policy
 * is deliberately one function: later policies (import-time only, ...) plug
 * in here without touching the analyzer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tach/report.h"
#include "tach/util.h"

struct rule {
	char *name;
	enum cause_kind kind;
};

struct rules {
	struct rule *v;
	size_t n, cap;
	char *fingerprint;
};

static const struct {
	const char *name;
	enum cause_kind kind;
} defaults[] = {
	{"threading", CAUSE_THREADS},
	{"_thread", CAUSE_THREADS},
	{"multiprocessing", CAUSE_THREADS},
	{"concurrent.futures", CAUSE_THREADS},
	{"socket", CAUSE_NETWORK},
	{"grpc", CAUSE_NETWORK},
	{"subprocess", CAUSE_SUBPROCESS},
	{"ctypes", CAUSE_FFI},
	{"cffi", CAUSE_FFI},
	{"signal", CAUSE_SIGNALS},
	{"pandas", CAUSE_POISON_FORK},
	{"tensorflow", CAUSE_POISON_FORK},
	{"torch", CAUSE_POISON_FORK},
	{"cv2", CAUSE_POISON_FORK},
	{"gevent", CAUSE_POISON_FORK},
};

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
};

const char *
cause_kind_name(enum cause_kind kind)
{
	return kind < CAUSE_NKINDS ? kind_names[kind] : "unknown";
}

static void
rules_put(struct rules *r, const char *name, enum cause_kind kind)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		if (strcmp(r->v[i].name, name) == 0) {
			r->v[i].kind = kind;
			return;
		}
	}
	r->v = xgrow(r->v, &r->cap, r->n + 1, sizeof(r->v[0]));
	r->v[r->n].name = xstrdup(name);
	r->v[r->n].kind = kind;
	r->n++;
	free(r->fingerprint);
	r->fingerprint = NULL;
}

struct rules *
rules_new(void)
{
	struct rules *r = xcalloc(1, sizeof(*r));
	size_t i;

	for (i = 0; i < LEN(defaults); i++)
		rules_put(r, defaults[i].name, defaults[i].kind);
	return r;
}

void
rules_free(struct rules *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n; i++)
		free(r->v[i].name);
	free(r->v);
	free(r->fingerprint);
	free(r);
}

void
rules_add_toxic(struct rules *r, const char *name)
{
	rules_put(r, name, CAUSE_CONFIGURED);
}

bool
rules_remove(struct rules *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		if (strcmp(r->v[i].name, name) == 0) {
			free(r->v[i].name);
			memmove(&r->v[i], &r->v[i + 1], (r->n - i - 1) * sizeof(r->v[0]));
			r->n--;
			free(r->fingerprint);
			r->fingerprint = NULL;
			return true;
		}
	}
	return false;
}

const char *
rules_match(const struct rules *r, const char *dotted, enum cause_kind *kind)
{
	const struct rule *best = NULL;
	size_t i, n, bestlen = 0;

	for (i = 0; i < r->n; i++) {
		n = strlen(r->v[i].name);
		if (strncmp(dotted, r->v[i].name, n) != 0)
			continue;
		if (dotted[n] != '\0' && dotted[n] != '.')
			continue;
		/* the longest entry wins, so a configured "a.b" beats "a" */
		if (!best || n > bestlen) {
			best = &r->v[i];
			bestlen = n;
		}
	}
	if (!best)
		return NULL;
	if (kind)
		*kind = best->kind;
	return best->name;
}

static int
rulecmp(const void *a, const void *b)
{
	return strcmp(((const struct rule *)a)->name, ((const struct rule *)b)->name);
}

const char *
rules_fingerprint(struct rules *r)
{
	struct buf b = {0};
	struct rule *sorted;
	size_t i;

	if (r->fingerprint)
		return r->fingerprint;
	sorted = xmalloc(r->n * sizeof(sorted[0]));
	memcpy(sorted, r->v, r->n * sizeof(sorted[0]));
	qsort(sorted, r->n, sizeof(sorted[0]), rulecmp);
	buf_puts(&b, "rules1");
	for (i = 0; i < r->n; i++)
		buf_printf(&b, ";%s=%d", sorted[i].name, (int)sorted[i].kind);
	free(sorted);
	r->fingerprint = buf_take(&b);
	return r->fingerprint;
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
	return r->ncauses > 0;
}
