/* rules - the toxic module table and the toxic call table.
 *
 * The module table maps a module name to the kind of harm it does in a
 * process that is forked after importing it. Names match on dotted
 * boundaries. The call table lists the calls worth a cause by qualified
 * name; the analyzer resolves a call's name before it asks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tach/report.h"
#include "gen/analyze/rules.h"
#include "lib/util.h"

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

/* The calls worth a cause, by qualified name. */
static const struct toxic_call calls[] = {
	{"exec", CALL_EXEC, NULL},
	{"builtins.exec", CALL_EXEC, "exec"},
	{"__import__", CALL_IMPORT, NULL},
	{"builtins.__import__", CALL_IMPORT, "__import__"},
	{"importlib.import_module", CALL_IMPORT, NULL},
	{"threading.Thread", CALL_MODSCOPE, NULL},
	{"multiprocessing.Pool", CALL_MODSCOPE, NULL},
	{"multiprocessing.pool.Pool", CALL_MODSCOPE, NULL},
	{"ssl.create_default_context", CALL_MODSCOPE, NULL},
	{"os.fork", CALL_SPAWN, NULL},
	{"os.forkpty", CALL_SPAWN, NULL},
	{"os.system", CALL_SPAWN, NULL},
	{"os.popen", CALL_SPAWN, NULL},
	{"os.execl", CALL_SPAWN, NULL},
	{"os.execle", CALL_SPAWN, NULL},
	{"os.execlp", CALL_SPAWN, NULL},
	{"os.execlpe", CALL_SPAWN, NULL},
	{"os.execv", CALL_SPAWN, NULL},
	{"os.execve", CALL_SPAWN, NULL},
	{"os.execvp", CALL_SPAWN, NULL},
	{"os.execvpe", CALL_SPAWN, NULL},
	{"os.spawnl", CALL_SPAWN, NULL},
	{"os.spawnle", CALL_SPAWN, NULL},
	{"os.spawnlp", CALL_SPAWN, NULL},
	{"os.spawnlpe", CALL_SPAWN, NULL},
	{"os.spawnv", CALL_SPAWN, NULL},
	{"os.spawnve", CALL_SPAWN, NULL},
	{"os.spawnvp", CALL_SPAWN, NULL},
	{"os.spawnvpe", CALL_SPAWN, NULL},
	{"os.posix_spawn", CALL_SPAWN, NULL},
	{"os.posix_spawnp", CALL_SPAWN, NULL},
	{"pty.fork", CALL_SPAWN, NULL},
	{"pty.spawn", CALL_SPAWN, NULL},
	{"asyncio.create_subprocess_exec", CALL_SPAWN, NULL},
	{"asyncio.create_subprocess_shell", CALL_SPAWN, NULL},
	{"asyncio.subprocess.create_subprocess_exec", CALL_SPAWN, NULL},
	{"asyncio.subprocess.create_subprocess_shell", CALL_SPAWN, NULL},
};

const struct toxic_call *
rules_match_call(const char *qual)
{
	size_t i;

	for (i = 0; i < LEN(calls); i++)
		if (strcmp(calls[i].qual, qual) == 0)
			return &calls[i];
	return NULL;
}

bool
rules_call_suffix(const char *s, size_t n)
{
#define N(s) {s, sizeof(s) - 1}
	static const struct {
		const char *s;
		size_t n;
	} names[] = {
		N("exec"), N("__import__"), N("import_module"), N("Thread"), N("Pool"),
		N("create_default_context"), N("fork"), N("forkpty"), N("system"), N("popen"),
		N("execl"), N("execle"), N("execlp"), N("execlpe"), N("execv"), N("execve"), N("execvp"),
		N("execvpe"), N("spawnl"), N("spawnle"), N("spawnlp"), N("spawnlpe"), N("spawnv"),
		N("spawnve"), N("spawnvp"), N("spawnvpe"), N("posix_spawn"), N("posix_spawnp"),
		N("spawn"), N("create_subprocess_exec"), N("create_subprocess_shell"),
	};
#undef N
	size_t i;

	/* a quick no for most names: no last name is shorter, longer or starts otherwise */
	if (n < 4 || n > 23 || !memchr("e_iTPcfsp", s[0], 9))
		return false;
	for (i = 0; i < LEN(names); i++)
		if (names[i].n == n && memcmp(names[i].s, s, n) == 0)
			return true;
	return false;
}
