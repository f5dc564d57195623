/* rules - the toxic module table and the toxic call table.
 *
 * The module table maps a module name to the kind of harm it does in a
 * process that is forked after importing it. Names match on dotted
 * boundaries. The call table lists the calls worth a cause by qualified
 * name; the analyzer resolves a call's name before it asks. */
#include <pthread.h>
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
	enum policy policy;
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
	{"subprocess", CAUSE_SUBPROCESS},
	{"ctypes", CAUSE_FFI},
	{"cffi", CAUSE_FFI},
	{"signal", CAUSE_SIGNALS},
	{"pandas", CAUSE_POISON_FORK},
	{"tensorflow", CAUSE_POISON_FORK},
	{"torch", CAUSE_POISON_FORK},
	{"cv2", CAUSE_POISON_FORK},
	{"gevent", CAUSE_POISON_FORK},
	{"grpc", CAUSE_POISON_FORK},
	{"jax", CAUSE_POISON_FORK},
	{"cupy", CAUSE_POISON_FORK},
	{"pycuda", CAUSE_POISON_FORK},
	{"mxnet", CAUSE_POISON_FORK},
	{"ray", CAUSE_POISON_FORK},
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

const char *
policy_name(enum policy p)
{
	return p == POLICY_STRICT ? "strict" : "precise";
}

bool
policy_parse(const char *s, enum policy *p)
{
	if (strcmp(s, "precise") == 0)
		*p = POLICY_PRECISE;
	else if (strcmp(s, "strict") == 0)
		*p = POLICY_STRICT;
	else
		return false;
	return true;
}

void
rules_set_policy(struct rules *r, enum policy p)
{
	r->policy = p;
	free(r->fingerprint);
	r->fingerprint = NULL;
}

enum policy
rules_policy(const struct rules *r)
{
	return r->policy;
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
	buf_printf(&b, "rules2;%s", policy_name(r->policy));
	for (i = 0; i < r->n; i++)
		buf_printf(&b, ";%s=%d", sorted[i].name, (int)sorted[i].kind);
	free(sorted);
	r->fingerprint = buf_take(&b);
	return r->fingerprint;
}

/* The calls worth a cause, by qualified name, with their kind under each
 * policy. */
static const struct toxic_call calls[] = {
	{"exec", CALL_EXEC, CALL_EXEC, CAUSE_DYNAMIC_IMPORT, NULL},
	{"builtins.exec", CALL_EXEC, CALL_EXEC, CAUSE_DYNAMIC_IMPORT, "exec"},
	{"__import__", CALL_IMPORT, CALL_IMPORT, CAUSE_DYNAMIC_IMPORT, NULL},
	{"builtins.__import__", CALL_IMPORT, CALL_IMPORT, CAUSE_DYNAMIC_IMPORT, "__import__"},
	{"importlib.import_module", CALL_IMPORT, CALL_IMPORT, CAUSE_DYNAMIC_IMPORT, NULL},
	{"threading.Thread", CALL_MODSCOPE, CALL_STARTABLE, CAUSE_THREADS, NULL},
	{"threading.Timer", CALL_NONE, CALL_STARTABLE, CAUSE_THREADS, NULL},
	{"_thread.start_new_thread", CALL_NONE, CALL_START, CAUSE_THREADS, NULL},
	{"_thread.start_new", CALL_NONE, CALL_START, CAUSE_THREADS, NULL},
	{"multiprocessing.Pool", CALL_MODSCOPE, CALL_START, CAUSE_SUBPROCESS, NULL},
	{"multiprocessing.pool.Pool", CALL_MODSCOPE, CALL_START, CAUSE_SUBPROCESS, NULL},
	{"multiprocessing.pool.ThreadPool", CALL_NONE, CALL_START, CAUSE_THREADS, NULL},
	{"multiprocessing.dummy.Pool", CALL_NONE, CALL_START, CAUSE_THREADS, NULL},
	{"multiprocessing.Manager", CALL_NONE, CALL_START, CAUSE_SUBPROCESS, NULL},
	{"multiprocessing.Process", CALL_NONE, CALL_STARTABLE, CAUSE_SUBPROCESS, NULL},
	{"multiprocessing.process.Process", CALL_NONE, CALL_STARTABLE, CAUSE_SUBPROCESS, NULL},
	{"concurrent.futures.ThreadPoolExecutor", CALL_NONE, CALL_EXECUTOR, CAUSE_THREADS, NULL},
	{"concurrent.futures.thread.ThreadPoolExecutor", CALL_NONE, CALL_EXECUTOR, CAUSE_THREADS, NULL},
	{"concurrent.futures.ProcessPoolExecutor", CALL_NONE, CALL_EXECUTOR, CAUSE_SUBPROCESS, NULL},
	{"concurrent.futures.process.ProcessPoolExecutor", CALL_NONE, CALL_EXECUTOR, CAUSE_SUBPROCESS, NULL},
	{"ssl.create_default_context", CALL_MODSCOPE, CALL_NONE, CAUSE_NETWORK, NULL},
	{"os.fork", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.forkpty", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.system", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.popen", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.execl", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.execle", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.execlp", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.execlpe", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.execv", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.execve", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.execvp", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.execvpe", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.spawnl", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.spawnle", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.spawnlp", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.spawnlpe", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.spawnv", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.spawnve", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.spawnvp", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.spawnvpe", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.posix_spawn", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"os.posix_spawnp", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"pty.fork", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"pty.spawn", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"asyncio.create_subprocess_exec", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"asyncio.create_subprocess_shell", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"asyncio.subprocess.create_subprocess_exec", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"asyncio.subprocess.create_subprocess_shell", CALL_SPAWN, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"subprocess.run", CALL_NONE, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"subprocess.Popen", CALL_NONE, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"subprocess.call", CALL_NONE, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"subprocess.check_call", CALL_NONE, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"subprocess.check_output", CALL_NONE, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"subprocess.getoutput", CALL_NONE, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"subprocess.getstatusoutput", CALL_NONE, CALL_SPAWN, CAUSE_SUBPROCESS, NULL},
	{"socket.socket", CALL_NONE, CALL_START, CAUSE_NETWORK, NULL},
	{"socket.create_connection", CALL_NONE, CALL_START, CAUSE_NETWORK, NULL},
	{"socket.create_server", CALL_NONE, CALL_START, CAUSE_NETWORK, NULL},
	{"socket.socketpair", CALL_NONE, CALL_START, CAUSE_NETWORK, NULL},
	{"socket.fromfd", CALL_NONE, CALL_START, CAUSE_NETWORK, NULL},
	{"urllib.request.urlopen", CALL_NONE, CALL_START, CAUSE_NETWORK, NULL},
	{"http.client.HTTPConnection", CALL_NONE, CALL_START, CAUSE_NETWORK, NULL},
	{"http.client.HTTPSConnection", CALL_NONE, CALL_START, CAUSE_NETWORK, NULL},
	{"smtplib.SMTP", CALL_NONE, CALL_START, CAUSE_NETWORK, NULL},
	{"smtplib.SMTP_SSL", CALL_NONE, CALL_START, CAUSE_NETWORK, NULL},
	{"ftplib.FTP", CALL_NONE, CALL_START, CAUSE_NETWORK, NULL},
	{"ftplib.FTP_TLS", CALL_NONE, CALL_START, CAUSE_NETWORK, NULL},
	{"poplib.POP3", CALL_NONE, CALL_START, CAUSE_NETWORK, NULL},
	{"imaplib.IMAP4", CALL_NONE, CALL_START, CAUSE_NETWORK, NULL},
	{"imaplib.IMAP4_SSL", CALL_NONE, CALL_START, CAUSE_NETWORK, NULL},
	{"telnetlib.Telnet", CALL_NONE, CALL_START, CAUSE_NETWORK, NULL},
	{"multiprocessing.connection.Client", CALL_NONE, CALL_START, CAUSE_NETWORK, NULL},
	{"multiprocessing.connection.Listener", CALL_NONE, CALL_START, CAUSE_NETWORK, NULL},
	{"signal.signal", CALL_NONE, CALL_START, CAUSE_SIGNALS, NULL},
	{"signal.setitimer", CALL_NONE, CALL_START, CAUSE_SIGNALS, NULL},
	{"signal.alarm", CALL_NONE, CALL_START, CAUSE_SIGNALS, NULL},
	{"signal.set_wakeup_fd", CALL_NONE, CALL_START, CAUSE_SIGNALS, NULL},
	{"ctypes.CDLL", CALL_NONE, CALL_START, CAUSE_FFI, NULL},
	{"ctypes.PyDLL", CALL_NONE, CALL_START, CAUSE_FFI, NULL},
	{"ctypes.cdll.LoadLibrary", CALL_NONE, CALL_START, CAUSE_FFI, NULL},
	{"ctypes.pydll.LoadLibrary", CALL_NONE, CALL_START, CAUSE_FFI, NULL},
	{"cffi.FFI", CALL_NONE, CALL_FFI_OBJ, CAUSE_FFI, NULL},
	{"ctypes.WinDLL", CALL_NONE, CALL_ELSEWHERE, CAUSE_FFI, NULL},
	{"ctypes.OleDLL", CALL_NONE, CALL_ELSEWHERE, CAUSE_FFI, NULL},
	{"ctypes.windll.LoadLibrary", CALL_NONE, CALL_ELSEWHERE, CAUSE_FFI, NULL},
	{"ctypes.oledll.LoadLibrary", CALL_NONE, CALL_ELSEWHERE, CAUSE_FFI, NULL},
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

/* The last names of the call table's qualified names, and an index of
 * them by a hash of their length and first and last bytes, made once. */
#define N(s) {s, sizeof(s) - 1}
static const struct {
	const char *s;
	size_t n;
} suffixes[] = {
	N("exec"), N("__import__"), N("import_module"), N("Thread"), N("Timer"), N("start_new_thread"),
	N("start_new"), N("Pool"), N("ThreadPool"), N("Manager"), N("Process"), N("ThreadPoolExecutor"),
	N("ProcessPoolExecutor"), N("create_default_context"), N("fork"), N("forkpty"), N("system"),
	N("popen"), N("execl"), N("execle"), N("execlp"), N("execlpe"), N("execv"), N("execve"),
	N("execvp"), N("execvpe"), N("spawnl"), N("spawnle"), N("spawnlp"), N("spawnlpe"), N("spawnv"),
	N("spawnve"), N("spawnvp"), N("spawnvpe"), N("posix_spawn"), N("posix_spawnp"), N("spawn"),
	N("create_subprocess_exec"), N("create_subprocess_shell"), N("run"), N("Popen"), N("call"),
	N("check_call"), N("check_output"), N("getoutput"), N("getstatusoutput"), N("socket"),
	N("create_connection"), N("create_server"), N("socketpair"), N("fromfd"), N("urlopen"),
	N("HTTPConnection"), N("HTTPSConnection"), N("SMTP"), N("SMTP_SSL"), N("FTP"), N("FTP_TLS"),
	N("POP3"), N("IMAP4"), N("IMAP4_SSL"), N("Telnet"), N("Client"), N("Listener"), N("signal"),
	N("setitimer"), N("alarm"), N("set_wakeup_fd"), N("CDLL"), N("PyDLL"), N("LoadLibrary"),
	N("FFI"), N("WinDLL"), N("OleDLL"),
};
#undef N

enum { SUFFIX_BUCKETS = 256 };

/* 1 + the index in suffixes of the first name of a bucket, and of the
 * next one of the same bucket; 0 ends a chain. */
static unsigned char suffix_head[SUFFIX_BUCKETS], suffix_next[LEN(suffixes)];
_Static_assert(LEN(suffixes) < 256, "suffix indices fit in a byte");
static pthread_once_t suffix_once = PTHREAD_ONCE_INIT;

static unsigned
suffix_hash(const unsigned char *s, size_t n)
{
	return (unsigned)(n * 7 + s[0] * 3 + s[n - 1]) & (SUFFIX_BUCKETS - 1);
}

static void
suffix_index(void)
{
	size_t i;

	for (i = LEN(suffixes); i-- > 0;) {
		unsigned h = suffix_hash((const unsigned char *)suffixes[i].s, suffixes[i].n);

		suffix_next[i] = suffix_head[h];
		suffix_head[h] = (unsigned char)(i + 1);
	}
}

bool
rules_call_suffix(const char *s, size_t n)
{
	unsigned k;

	if (n < 3 || n > 23)
		return false;
	pthread_once(&suffix_once, suffix_index);
	for (k = suffix_head[suffix_hash((const unsigned char *)s, n)]; k; k = suffix_next[k - 1])
		if (suffixes[k - 1].n == n && memcmp(suffixes[k - 1].s, s, n) == 0)
			return true;
	return false;
}
