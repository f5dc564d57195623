/* redis - the shared Redis level of the report cache (cache/rcache.h);
 * the only hiredis user.
 *
 * The handle keeps a sticky error in the manner of hiredis. Every failure goes
 * through rc_fail(), the one place that sets err and errstr: it names the URL
 * with its password masked, keeps the first error only and drops the
 * connection, so every later call is a no-op that reports misses. A miss is a
 * normal result; no error here ever ends a run. No redisReply leaves this file.
 *
 * URLs: redis://[[user]:password@]host[:port][/db] (port 6379, db 0, an IPv6
 * host in brackets; user and password may be %-escaped, and everything up to
 * the last '@' is credentials) and unix:///abs/path.sock[?db=N&user=U&password=P].
 *
 * Round trips: rcache_get sends one GETEX key EX ttl per key (Redis >= 6.2), so
 * a hit has its TTL refreshed in the same round trip; a server that answers
 * "unknown command" gets GET + EXPIRE pairs instead, decided once per handle on
 * its first batch (which then costs one extra round trip). rcache_put sends
 * SET key value EX ttl. Both pipeline up to RCACHE_BATCH keys per round trip.
 * rcache_clear and rcache_count walk the prefix with SCAN (one round trip per
 * page, plus one UNLINK per non-empty page for clear). round_trips counts
 * these, not the connect handshake (AUTH, SELECT and PING in one round trip).
 * SCAN may return a key twice while the server resizes its table, so
 * rcache_count is exact only on a quiet server.
 *
 * hiredis writes with write(2): a peer that went away would raise SIGPIPE and
 * kill the run. Each call blocks SIGPIPE on the calling thread and discards one
 * it raised before restoring the mask, so a lost server shows up as EPIPE.
 *
 * 910 lines: the only hiredis user (no redisReply leaves it), a third of it
 * the URL parser with its escapes and the connect handshake. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "cache/rcache.h"
#include "lib/util.h"

#define DEFAULT_PREFIX "tach:"
#define DEFAULT_PORT 6379
#define DEFAULT_CONNECT_MS 100
#define DEFAULT_OP_MS 2000
#define DEFAULT_TTL (30L * 24 * 3600)
#define SCAN_COUNT "1000"

/* A parsed cache URL. Strings are owned; NULL when absent. */
struct url {
	char *host;
	int port;
	char *path;
	char *user;
	char *pass;
	long db;
};

enum getmode {
	GET_PROBE,	/* not known yet: send GETEX, fall back on "unknown command" */
	GET_EX,
	GET_EXPIRE,	/* GET + EXPIRE pairs, for servers before 6.2 */
};

/* What rcache.ctx points at while the handle is alive. */
struct conn {
	redisContext *c;
	enum getmode getmode;
	bool use_del;	/* the server has no UNLINK (before 4.0) */
};

struct sigguard {
	sigset_t old;
	bool pending;	/* a SIGPIPE was pending before we started: not ours */
};

static void
guard_enter(struct sigguard *g)
{
	sigset_t pipe, pending;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	sigpending(&pending);
	g->pending = sigismember(&pending, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &pipe, &g->old);
}

static void
guard_leave(struct sigguard *g)
{
	sigset_t pipe, pending;
	struct timespec zero = {0, 0};

	if (!g->pending) {
		sigemptyset(&pipe);
		sigaddset(&pipe, SIGPIPE);
		sigpending(&pending);
		if (sigismember(&pending, SIGPIPE) == 1) {
			while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR)
				;
		}
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static void
conn_close(struct rcache *rc)
{
	struct conn *conn = rc->ctx;

	if (!conn)
		return;
	redisFree(conn->c);
	free(conn);
	rc->ctx = NULL;
}

/* The one place that sets err and errstr. The first error wins; the
 * connection is dropped so that nothing half-read is ever reused. */
static void
rc_fail(struct rcache *rc, enum rcache_err err, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (rc->err)
		return;
	rc->err = err;
	n = snprintf(rc->errstr, sizeof(rc->errstr), "%s: ",
	             rc->display_url ? rc->display_url : "(no URL)");
	if (n < 0 || (size_t)n >= sizeof(rc->errstr))
		n = sizeof(rc->errstr) - 1;
	va_start(ap, fmt);
	vsnprintf(rc->errstr + n, sizeof(rc->errstr) - n, fmt, ap);
	va_end(ap);
	conn_close(rc);
}

/* Why a hiredis call failed, in words for errstr. */
static const char *
io_reason(redisContext *c, int saved_errno, char *buf, size_t size, int timeout_ms)
{
	if (c->err == REDIS_ERR_EOF)
		snprintf(buf, size, "connection lost: closed by the server");
	else if (c->err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK))
		snprintf(buf, size, "timed out: no reply within %d ms", timeout_ms);
	else if (c->err == REDIS_ERR_PROTOCOL)
		snprintf(buf, size, "protocol error: %s", c->errstr);
	else
		snprintf(buf, size, "connection lost: %s", c->errstr[0] ? c->errstr : "unknown error");
	return buf;
}

/* Reads the next pipelined reply. On failure the handle is failed with err
 * (RCACHE_ERR_PROTOCOL for a reply hiredis cannot parse) and -1 returned. */
static int
read_reply(struct rcache *rc, enum rcache_err err, const char *what, redisReply **rp)
{
	struct conn *conn = rc->ctx;
	char buf[160];
	void *r = NULL;
	int e;

	*rp = NULL;
	if (redisGetReply(conn->c, &r) != REDIS_OK || !r) {
		e = errno;
		if (r)
			freeReplyObject(r);
		if (conn->c->err == REDIS_ERR_PROTOCOL)
			err = RCACHE_ERR_PROTOCOL;
		rc_fail(rc, err, "%s: %s", what,
		        io_reason(conn->c, e, buf, sizeof(buf), rc->op_timeout_ms));
		return -1;
	}
	*rp = r;
	return 0;
}

/* Queues a command whose reply is read later with read_reply(). */
static int
append(struct rcache *rc, const char *fmt, ...)
{
	struct conn *conn = rc->ctx;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = redisvAppendCommand(conn->c, fmt, ap);
	va_end(ap);
	if (ret != REDIS_OK) {
		rc_fail(rc, RCACHE_ERR_IO, "cannot queue a command: %s",
		        conn->c->errstr[0] ? conn->c->errstr : "out of memory");
		return -1;
	}
	return 0;
}

static bool
is_auth_error(const char *s)
{
	return strncmp(s, "NOAUTH", 6) == 0 || strncmp(s, "NOPERM", 6) == 0 ||
	       strncmp(s, "WRONGPASS", 9) == 0 || strncmp(s, "ERR invalid password", 20) == 0 ||
	       strncmp(s, "ERR AUTH", 8) == 0 || strncmp(s, "ERR Client sent AUTH", 20) == 0;
}

static bool
is_unknown_command(const redisReply *r)
{
	return r->type == REDIS_REPLY_ERROR && r->str &&
	       strncasecmp(r->str, "ERR unknown command", 19) == 0;
}

/* Fails the handle for an error reply r to the command named what. */
static void
fail_reply(struct rcache *rc, const char *what, const redisReply *r)
{
	if (r->type != REDIS_REPLY_ERROR)
		rc_fail(rc, RCACHE_ERR_PROTOCOL, "%s: unexpected reply (type %d)", what, r->type);
	else if (is_auth_error(r->str))
		rc_fail(rc, RCACHE_ERR_AUTH, "%s denied: %s", what, r->str);
	else
		rc_fail(rc, RCACHE_ERR_PROTOCOL, "%s failed: %s", what, r->str);
}

/* URLs */


/* Decodes %XX escapes in s[0..n). Returns NULL on a bad escape. */
static char *
pct_decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1), *o = out;
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		if (i + 2 >= n) {
			free(out);
			return NULL;
		}
		hi = hexval((unsigned char)s[i + 1]);
		lo = hi < 0 ? -1 : hexval((unsigned char)s[i + 2]);
		if (lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = '\0';
	return out;
}

/* Parses s[0..n) as a decimal number in [lo, hi]. */
static int
parse_num(const char *s, size_t n, long lo, long hi, long *v)
{
	long x = 0;
	size_t i;

	if (n == 0 || n > 10)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (s[i] - '0');
	}
	if (x < lo || x > hi)
		return -1;
	*v = x;
	return 0;
}

static void
url_free(struct url *u)
{
	free(u->host);
	free(u->path);
	free(u->user);
	free(u->pass);
	memset(u, 0, sizeof(*u));
}

/* Parses the query of a unix:// URL: db, user (or username) and password. */
static int
parse_query(const char *q, struct url *u, char *why, size_t size)
{
	const char *p = q, *amp, *eq;
	size_t n, klen;
	char **dst;

	while (*p) {
		amp = strchr(p, '&');
		n = amp ? (size_t)(amp - p) : strlen(p);
		eq = memchr(p, '=', n);
		if (!eq) {
			snprintf(why, size, "expected name=value in the query, got '%.*s'", (int)n, p);
			return -1;
		}
		klen = eq - p;
		if (klen == 2 && memcmp(p, "db", 2) == 0) {
			if (parse_num(eq + 1, n - klen - 1, 0, INT_MAX, &u->db) < 0) {
				snprintf(why, size, "bad database number '%.*s'", (int)(n - klen - 1), eq + 1);
				return -1;
			}
		} else if ((klen == 4 && memcmp(p, "user", 4) == 0) ||
		           (klen == 8 && memcmp(p, "username", 8) == 0) ||
		           (klen == 8 && memcmp(p, "password", 8) == 0)) {
			dst = p[0] == 'p' ? &u->pass : &u->user;
			free(*dst);
			*dst = pct_decode(eq + 1, n - klen - 1);
			if (!*dst) {
				snprintf(why, size, "bad %%-escape in %.*s", (int)klen, p);
				return -1;
			}
		} else {
			snprintf(why, size, "unknown query parameter '%.*s' (expected db, user or password)",
			         (int)klen, p);
			return -1;
		}
		p += n;
		if (*p == '&')
			p++;
	}
	return 0;
}

static int
parse_unix(const char *s, struct url *u, char *why, size_t size)
{
	const char *q;
	size_t n;

	if (*s != '/') {
		snprintf(why, size, "expected unix:///absolute/path.sock");
		return -1;
	}
	q = strchr(s, '?');
	n = q ? (size_t)(q - s) : strlen(s);
	if (n < 2) {
		snprintf(why, size, "missing socket path");
		return -1;
	}
	if (n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(why, size, "socket path longer than %zu bytes",
		         sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return -1;
	}
	u->path = xstrndup(s, n);
	return q ? parse_query(q + 1, u, why, size) : 0;
}

static int
parse_tcp(const char *s, struct url *u, char *why, size_t size)
{
	const char *at, *colon, *h, *r, *e;
	long v;
	size_t n;

	at = strrchr(s, '@');
	if (at) {
		colon = memchr(s, ':', at - s);
		if (!colon) {
			snprintf(why, size, "expected [user]:password@ before the host");
			return -1;
		}
		if (colon > s && !(u->user = pct_decode(s, colon - s))) {
			snprintf(why, size, "bad %%-escape in the user name");
			return -1;
		}
		if (!(u->pass = pct_decode(colon + 1, at - colon - 1))) {
			snprintf(why, size, "bad %%-escape in the password");
			return -1;
		}
		if (!u->user && !u->pass[0]) {
			free(u->pass);
			u->pass = NULL;
		}
		h = at + 1;
	} else {
		h = s;
	}
	if (*h == '[') {
		e = strchr(h, ']');
		if (!e) {
			snprintf(why, size, "missing ']' after the IPv6 address");
			return -1;
		}
		u->host = xstrndup(h + 1, e - h - 1);
		r = e + 1;
	} else {
		n = strcspn(h, ":/?");
		u->host = xstrndup(h, n);
		r = h + n;
	}
	if (!u->host[0]) {
		snprintf(why, size, "missing host");
		return -1;
	}
	if (*r == ':') {
		n = strcspn(r + 1, "/?");
		if (parse_num(r + 1, n, 1, 65535, &v) < 0) {
			snprintf(why, size, "bad port '%.*s' (expected 1-65535)", (int)n, r + 1);
			return -1;
		}
		u->port = (int)v;
		r += 1 + n;
	}
	if (*r == '/') {
		n = strcspn(r + 1, "?");
		if (n && parse_num(r + 1, n, 0, INT_MAX, &u->db) < 0) {
			snprintf(why, size, "bad database number '%.*s'", (int)n, r + 1);
			return -1;
		}
		r += 1 + n;
	}
	if (*r) {
		snprintf(why, size, "unexpected '%s' after the host", r);
		return -1;
	}
	return 0;
}

/* Fills u from s. Returns 0, or -1 with a reason in why; u is freed by the
 * caller either way. */
static int
parse_url(const char *s, struct url *u, char *why, size_t size)
{
	memset(u, 0, sizeof(*u));
	u->port = DEFAULT_PORT;
	if (strncmp(s, "unix://", 7) == 0)
		return parse_unix(s + 7, u, why, size);
	if (strncmp(s, "redis://", 8) == 0)
		return parse_tcp(s + 8, u, why, size);
	if (strncmp(s, "rediss://", 9) == 0)
		snprintf(why, size, "TLS (rediss://) is not supported");
	else
		snprintf(why, size, "expected redis://[[user]:password@]host[:port][/db] or unix:///path.sock");
	return -1;
}

int
rcache_check_url(const char *url, char *why, size_t size)
{
	struct url u;
	int rc = parse_url(url, &u, why, size);

	url_free(&u);
	return rc;
}

static size_t
put_str(char *buf, size_t size, size_t o, const char *s, size_t n)
{
	size_t room;

	if (o + 1 < size) {
		room = size - 1 - o;
		memcpy(buf + o, s, n < room ? n : room);
	}
	return o + n;
}

void
rcache_mask_url(const char *url, char *buf, size_t size)
{
	const char *p, *auth, *at, *colon, *q, *v;
	size_t o = 0, n;

	if (!size)
		return;
	if (!url)
		url = "";
	p = strstr(url, "://");
	auth = p ? p + 3 : url;
	o = put_str(buf, size, o, url, auth - url);
	/* a unix:// URL has credentials only in its query */
	at = strncmp(url, "unix://", 7) == 0 ? NULL : strrchr(auth, '@');
	if (at) {
		/* everything before the last '@' is credentials: keep the user */
		colon = memchr(auth, ':', at - auth);
		if (colon)
			o = put_str(buf, size, o, auth, colon + 1 - auth);
		o = put_str(buf, size, o, "***", 3);
		p = at;
	} else {
		p = auth;
	}
	/* a password in the query (unix://...?password=) */
	q = strchr(p, '?');
	if (q) {
		o = put_str(buf, size, o, p, q - p);
		p = q;
		while (*p) {
			n = strcspn(p + 1, "&") + 1;
			v = p + 1;
			if (strncmp(v, "password=", 9) == 0) {
				o = put_str(buf, size, o, p, 10);
				o = put_str(buf, size, o, "***", 3);
			} else {
				o = put_str(buf, size, o, p, n);
			}
			p += n;
		}
	} else {
		o = put_str(buf, size, o, p, strlen(p));
	}
	buf[o < size ? o : size - 1] = '\0';
}

/* Connecting */

static struct timeval
ms_tv(int ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* Connects, then AUTH, SELECT and PING in one round trip. The PING makes a
 * server that accepts but does not answer (stopped, overloaded) fail here. */
static void
rc_connect(struct rcache *rc, const struct url *u, int connect_ms)
{
	struct conn *conn;
	redisContext *c;
	redisReply *r;
	char what[48];

	if (u->path)
		c = redisConnectUnixWithTimeout(u->path, ms_tv(connect_ms));
	else
		c = redisConnectWithTimeout(u->host, u->port, ms_tv(connect_ms));
	if (!c) {
		rc_fail(rc, RCACHE_ERR_CONNECT, "cannot connect: out of memory");
		return;
	}
	conn = xcalloc(1, sizeof(*conn));
	conn->c = c;
	rc->ctx = conn;
	if (c->err) {
		rc_fail(rc, RCACHE_ERR_CONNECT, "cannot connect: %s", c->errstr);
		return;
	}
	if (redisSetTimeout(c, ms_tv(rc->op_timeout_ms)) != REDIS_OK) {
		rc_fail(rc, RCACHE_ERR_CONNECT, "cannot set the timeout: %s", c->errstr);
		return;
	}
	if (u->user && append(rc, "AUTH %s %s", u->user, u->pass ? u->pass : "") < 0)
		return;
	if (!u->user && u->pass && append(rc, "AUTH %s", u->pass) < 0)
		return;
	if (u->db && append(rc, "SELECT %ld", u->db) < 0)
		return;
	if (append(rc, "PING") < 0)
		return;

	if (u->user || u->pass) {
		if (read_reply(rc, RCACHE_ERR_CONNECT, "cannot connect", &r) < 0)
			return;
		if (r->type == REDIS_REPLY_ERROR)
			rc_fail(rc, RCACHE_ERR_AUTH, "authentication failed: %s", r->str);
		freeReplyObject(r);
		if (rc->err)
			return;
	}
	if (u->db) {
		if (read_reply(rc, RCACHE_ERR_CONNECT, "cannot connect", &r) < 0)
			return;
		snprintf(what, sizeof(what), "SELECT %ld", u->db);
		if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOAUTH", 6) == 0)
			rc_fail(rc, RCACHE_ERR_AUTH, "authentication failed: %s", r->str);
		else if (r->type != REDIS_REPLY_STATUS)
			fail_reply(rc, what, r);
		freeReplyObject(r);
		if (rc->err)
			return;
	}
	if (read_reply(rc, RCACHE_ERR_CONNECT, "cannot connect", &r) < 0)
		return;
	if (r->type == REDIS_REPLY_ERROR && is_auth_error(r->str))
		rc_fail(rc, RCACHE_ERR_AUTH, "authentication failed: %s", r->str);
	else if (r->type == REDIS_REPLY_ERROR)
		rc_fail(rc, RCACHE_ERR_CONNECT, "server not ready: %s", r->str);
	else if (r->type != REDIS_REPLY_STATUS)
		fail_reply(rc, "PING", r);
	freeReplyObject(r);
}

struct rcache *
rcache_open(const struct rcache_opts *opts)
{
	static const struct rcache_opts none;
	struct rcache *rc = xcalloc(1, sizeof(*rc));
	struct sigguard g;
	struct url u = {0};
	char why[160], masked[256];
	int connect_ms;

	if (!opts)
		opts = &none;
	rc->prefix = xstrdup(opts->prefix ? opts->prefix : DEFAULT_PREFIX);
	rc->ttl = opts->ttl_seconds > 0 ? opts->ttl_seconds : DEFAULT_TTL;
	rc->op_timeout_ms = opts->op_timeout_ms > 0 ? opts->op_timeout_ms : DEFAULT_OP_MS;
	connect_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : DEFAULT_CONNECT_MS;
	if (!opts->url || !opts->url[0]) {
		rc->display_url = xstrdup("(no URL)");
		rc_fail(rc, RCACHE_ERR_URL, "no cache URL given");
		return rc;
	}
	rcache_mask_url(opts->url, masked, sizeof(masked));
	rc->display_url = xstrdup(masked);
	if (parse_url(opts->url, &u, why, sizeof(why)) < 0) {
		rc_fail(rc, RCACHE_ERR_URL, "invalid cache URL: %s", why);
	} else {
		guard_enter(&g);
		rc_connect(rc, &u, connect_ms);
		guard_leave(&g);
	}
	url_free(&u);
	return rc;
}

void
rcache_free(struct rcache *rc)
{
	if (!rc)
		return;
	conn_close(rc);
	free(rc->prefix);
	free(rc->display_url);
	free(rc);
}

/* Lookups and writes */

static int
append_get(struct rcache *rc, enum getmode mode, const char *key, const char *ttl)
{
	if (mode != GET_EXPIRE)
		return append(rc, "GETEX %s%s EX %s", rc->prefix, key, ttl);
	if (append(rc, "GET %s%s", rc->prefix, key) < 0)
		return -1;
	return append(rc, "EXPIRE %s%s %s", rc->prefix, key, ttl);
}

/* One pipelined round trip for n <= RCACHE_BATCH keys. Errors fail the
 * handle; the caller then discards out. */
static void
get_batch(struct rcache *rc, char *const *keys, size_t n, struct rcache_blob *out)
{
	struct conn *conn = rc->ctx;
	redisReply *r;
	char ttl[24];
	size_t i;

	snprintf(ttl, sizeof(ttl), "%ld", rc->ttl);
	for (i = 0; i < n; i++) {
		if (append_get(rc, conn->getmode, keys[i], ttl) < 0)
			return;
	}
	rc->round_trips++;
	for (i = 0; i < n; i++) {
		if (read_reply(rc, RCACHE_ERR_IO, "lookup", &r) < 0)
			return;
		if (conn->getmode == GET_PROBE) {
			if (is_unknown_command(r)) {
				/* no GETEX: drain this batch and send it again as GET + EXPIRE */
				freeReplyObject(r);
				while (++i < n) {
					if (read_reply(rc, RCACHE_ERR_IO, "lookup", &r) < 0)
						return;
					freeReplyObject(r);
				}
				conn->getmode = GET_EXPIRE;
				get_batch(rc, keys, n, out);
				return;
			}
			conn->getmode = GET_EX;
		}
		if (r->type == REDIS_REPLY_STRING) {
			out[i].data = xmalloc(r->len + 1);
			memcpy(out[i].data, r->str, r->len);
			out[i].data[r->len] = '\0';
			out[i].len = r->len;
		} else if (r->type != REDIS_REPLY_NIL &&
		           (r->type != REDIS_REPLY_ERROR || is_auth_error(r->str))) {
			/* an error on one key (WRONGTYPE) is a miss; a denial is not */
			fail_reply(rc, "GET", r);
		}
		freeReplyObject(r);
		if (rc->err)
			return;
		if (conn->getmode == GET_EXPIRE) {
			if (read_reply(rc, RCACHE_ERR_IO, "lookup", &r) < 0)
				return;
			if (r->type != REDIS_REPLY_INTEGER)
				fail_reply(rc, "EXPIRE", r);
			freeReplyObject(r);
			if (rc->err)
				return;
		}
	}
}

long
rcache_get(struct rcache *rc, char *const *keys, size_t n, struct rcache_blob *out)
{
	struct sigguard g;
	size_t i, m, hits = 0;

	for (i = 0; i < n; i++) {
		out[i].data = NULL;
		out[i].len = 0;
	}
	if (!rc->err) {
		guard_enter(&g);
		for (i = 0; i < n && !rc->err; i += m) {
			m = n - i < RCACHE_BATCH ? n - i : RCACHE_BATCH;
			get_batch(rc, keys + i, m, out + i);
		}
		guard_leave(&g);
	}
	if (rc->err) {
		for (i = 0; i < n; i++) {
			free(out[i].data);
			out[i].data = NULL;
			out[i].len = 0;
		}
		rc->misses += n;
		return -1;
	}
	for (i = 0; i < n; i++)
		hits += out[i].data != NULL;
	rc->hits += hits;
	rc->misses += n - hits;
	return (long)hits;
}

static void
put_batch(struct rcache *rc, char *const *keys, const struct rcache_blob *vals, size_t n)
{
	redisReply *r;
	char ttl[24];
	size_t i;

	snprintf(ttl, sizeof(ttl), "%ld", rc->ttl);
	for (i = 0; i < n; i++) {
		if (append(rc, "SET %s%s %b EX %s", rc->prefix, keys[i], vals[i].data ? vals[i].data : "",
		           vals[i].data ? vals[i].len : (size_t)0, ttl) < 0)
			return;
	}
	rc->round_trips++;
	for (i = 0; i < n; i++) {
		if (read_reply(rc, RCACHE_ERR_IO, "store", &r) < 0)
			return;
		if (r->type != REDIS_REPLY_STATUS)
			fail_reply(rc, "SET", r);
		freeReplyObject(r);
		if (rc->err)
			return;
	}
}

int
rcache_put(struct rcache *rc, char *const *keys, const struct rcache_blob *vals, size_t n)
{
	struct sigguard g;
	size_t i, m;

	if (rc->err)
		return -1;
	guard_enter(&g);
	for (i = 0; i < n && !rc->err; i += m) {
		m = n - i < RCACHE_BATCH ? n - i : RCACHE_BATCH;
		put_batch(rc, keys + i, vals + i, m);
	}
	guard_leave(&g);
	return rc->err ? -1 : 0;
}

/* SCAN over the prefix */

/* The prefix as a SCAN MATCH pattern: glob characters escaped, then '*'. */
static char *
prefix_pattern(const char *prefix)
{
	struct buf b = {0};
	const char *p;

	for (p = prefix; *p; p++) {
		if (strchr("*?[]\\", *p))
			buf_putc(&b, '\\');
		buf_putc(&b, *p);
	}
	buf_putc(&b, '*');
	return buf_take(&b);
}

/* Removes the keys of one SCAN page with UNLINK (DEL on servers before 4.0).
 * Returns the number removed, or -1. */
static long
unlink_keys(struct rcache *rc, const redisReply *keys)
{
	struct conn *conn = rc->ctx;
	const char **argv;
	size_t *argvlen, i;
	redisReply *r;
	long removed = -1;

	argv = xmalloc((keys->elements + 1) * sizeof(argv[0]));
	argvlen = xmalloc((keys->elements + 1) * sizeof(argvlen[0]));
	for (i = 0; i < keys->elements; i++) {
		argv[i + 1] = keys->element[i]->str;
		argvlen[i + 1] = keys->element[i]->len;
	}
	for (;;) {
		argv[0] = conn->use_del ? "DEL" : "UNLINK";
		argvlen[0] = strlen(argv[0]);
		if (redisAppendCommandArgv(conn->c, (int)keys->elements + 1, argv, argvlen) != REDIS_OK) {
			rc_fail(rc, RCACHE_ERR_IO, "cannot queue a command: out of memory");
			break;
		}
		rc->round_trips++;
		if (read_reply(rc, RCACHE_ERR_IO, "clear", &r) < 0)
			break;
		if (is_unknown_command(r) && !conn->use_del) {
			conn->use_del = true;
			freeReplyObject(r);
			continue;
		}
		if (r->type == REDIS_REPLY_INTEGER)
			removed = (long)r->integer;
		else
			fail_reply(rc, argv[0], r);
		freeReplyObject(r);
		break;
	}
	free(argv);
	free(argvlen);
	return removed;
}

static bool
scan_reply_ok(const redisReply *r)
{
	size_t i;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY)
		return false;
	for (i = 0; i < r->element[1]->elements; i++) {
		if (r->element[1]->element[i]->type != REDIS_REPLY_STRING)
			return false;
	}
	return true;
}

/* Walks the keys under the prefix, counting them or removing them. */
static long
scan_prefix(struct rcache *rc, bool remove)
{
	struct sigguard g;
	redisReply *r, *keys;
	char *pattern, *cursor;
	long total = 0, n;

	if (rc->err)
		return -1;
	pattern = prefix_pattern(rc->prefix);
	cursor = xstrdup("0");
	guard_enter(&g);
	do {
		if (append(rc, "SCAN %s MATCH %s COUNT " SCAN_COUNT, cursor, pattern) < 0)
			break;
		rc->round_trips++;
		if (read_reply(rc, RCACHE_ERR_IO, "scan", &r) < 0)
			break;
		if (!scan_reply_ok(r)) {
			fail_reply(rc, "SCAN", r);
			freeReplyObject(r);
			break;
		}
		free(cursor);
		cursor = xstrndup(r->element[0]->str, r->element[0]->len);
		keys = r->element[1];
		if (!remove)
			total += (long)keys->elements;
		else if (keys->elements && (n = unlink_keys(rc, keys)) >= 0)
			total += n;
		freeReplyObject(r);
	} while (!rc->err && strcmp(cursor, "0") != 0);
	guard_leave(&g);
	free(cursor);
	free(pattern);
	return rc->err ? -1 : total;
}

long
rcache_clear(struct rcache *rc)
{
	return scan_prefix(rc, true);
}

long
rcache_count(struct rcache *rc)
{
	return scan_prefix(rc, false);
}
