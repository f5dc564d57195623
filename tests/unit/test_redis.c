/* Unit tests for the Redis level of the cache (cache/redis.c).
 *
 * URL parsing and masking need no server. The live tests start throwaway
 * redis-server processes (no persistence, a unix socket in a mkdtemp()
 * directory, a free TCP port on 127.0.0.1) and always stop them: in the
 * cmocka teardowns, in an atexit handler, and through PR_SET_PDEATHSIG should
 * this binary die without running either. A raw hiredis connection checks
 * what the cache wrote (TTLs, databases). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "cache/rcache.h"
#include "lib/util.h"

#define REDIS_SERVER "/usr/bin/redis-server"
#define PASSWORD "s3cret"

struct server {
	pid_t pid;
	int port;		/* 0: unix socket only */
	char dir[64];
	char sock[96];
};

static struct server main_srv, auth_srv, noex_srv, victim;
static struct server *all_servers[] = {&main_srv, &auth_srv, &noex_srv, &victim};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A TCP port on 127.0.0.1 that nobody listens on: bound, never listened to,
 * and kept bound so no one else takes it while the tests run. */
static int
closed_port(void)
{
	static int fd = -1, port;
	struct sockaddr_in sa = {0};
	socklen_t len = sizeof(sa);

	if (fd >= 0)
		return port;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	port = ntohs(sa.sin_port);
	return port;
}

static int
free_port(void)
{
	struct sockaddr_in sa = {0};
	socklen_t len = sizeof(sa);
	int fd, port = -1;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void
server_stop(struct server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
			;
		s->pid = 0;
	}
	if (s->dir[0]) {
		nftw(s->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
		s->dir[0] = '\0';
	}
}

static void
stop_all(void)
{
	size_t i;

	for (i = 0; i < LEN(all_servers); i++)
		server_stop(all_servers[i]);
}

/* Answers PING (even with NOAUTH) on its unix socket? */
static bool
server_answers(struct server *s)
{
	struct timeval tv = {0, 100000};
	redisContext *c = redisConnectUnixWithTimeout(s->sock, tv);
	redisReply *r = NULL;
	bool ok = false;

	if (c && !c->err) {
		r = redisCommand(c, "PING");
		ok = r != NULL;
		if (r)
			freeReplyObject(r);
	}
	if (c)
		redisFree(c);
	return ok;
}

static pid_t
spawn(struct server *s, const char *const *extra)
{
	const char *argv[48];
	char port[16], log[128];
	pid_t parent = getpid(), pid;
	size_t n = 0;
	int fd;

	snprintf(port, sizeof(port), "%d", s->port);
	snprintf(log, sizeof(log), "%s/redis.log", s->dir);
	argv[n++] = "redis-server";
	argv[n++] = "--port";
	argv[n++] = port;
	argv[n++] = "--bind";
	argv[n++] = "127.0.0.1";
	argv[n++] = "-::1";	/* optional: IPv6 may be off */
	argv[n++] = "--unixsocket";
	argv[n++] = s->sock;
	argv[n++] = "--unixsocketperm";
	argv[n++] = "700";
	argv[n++] = "--save";
	argv[n++] = "";
	argv[n++] = "--appendonly";
	argv[n++] = "no";
	argv[n++] = "--daemonize";
	argv[n++] = "no";
	argv[n++] = "--dir";
	argv[n++] = s->dir;
	while (extra && *extra && n < LEN(argv) - 1)
		argv[n++] = *extra++;
	argv[n] = NULL;

	pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0) {
		dup2(fd, 0);
		close(fd);
	}
	execv(REDIS_SERVER, (char *const *)argv);
	_exit(127);
}

/* Starts a server with a unix socket (and a TCP port when tcp) and waits
 * until it answers. Returns 0, or -1 after cleaning up. */
static int
server_start(struct server *s, bool tcp, const char *const *extra)
{
	static bool registered;
	double deadline;
	int attempt, status;

	if (!registered) {
		atexit(stop_all);
		registered = true;
	}
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/tach-redis-XXXXXX");
	if (!mkdtemp(s->dir)) {
		s->dir[0] = '\0';
		return -1;
	}
	snprintf(s->sock, sizeof(s->sock), "%s/redis.sock", s->dir);
	/* a port found free may be taken before the server binds it: retry */
	for (attempt = 0; attempt < 3; attempt++) {
		s->port = tcp ? free_port() : 0;
		s->pid = spawn(s, extra);
		if (s->pid < 0)
			break;
		for (deadline = now() + 5; now() < deadline;) {
			if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
				s->pid = 0;
				break;
			}
			if (server_answers(s))
				return 0;
			usleep(5000);
		}
		if (s->pid > 0)
			break;
	}
	fprintf(stderr, "# cannot start %s (log in %s/redis.log)\n", REDIS_SERVER, s->dir);
	server_stop(s);
	return -1;
}

static char *
tcp_url(const struct server *s, const char *auth, const char *tail)
{
	return xasprintf("redis://%s127.0.0.1:%d%s", auth ? auth : "", s->port, tail ? tail : "");
}

static struct rcache *
open_url(const char *url, const char *prefix, long ttl)
{
	struct rcache_opts o = {0};

	o.url = url;
	o.prefix = prefix;
	o.ttl_seconds = ttl;
	return rcache_open(&o);
}

/* A raw connection to check what the cache stored. */
static redisContext *
raw_connect(const struct server *s, const char *pass)
{
	redisContext *c = redisConnectUnix(s->sock);
	redisReply *r;

	assert_non_null(c);
	assert_int_equal(c->err, 0);
	if (pass) {
		r = redisCommand(c, "AUTH %s", pass);
		assert_non_null(r);
		assert_int_equal(r->type, REDIS_REPLY_STATUS);
		freeReplyObject(r);
	}
	return c;
}

static long long
raw_int(redisContext *c, const char *fmt, ...)
{
	redisReply *r;
	long long v;
	va_list ap;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	v = r->integer;
	freeReplyObject(r);
	return v;
}

/* Returns the string value of a raw command, or NULL for nil; caller frees. */
static char *
raw_str(redisContext *c, const char *fmt, ...)
{
	redisReply *r;
	char *v = NULL;
	va_list ap;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	assert_non_null(r);
	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
		v = xstrndup(r->str, r->len);
	else
		assert_int_equal(r->type, REDIS_REPLY_NIL);
	freeReplyObject(r);
	return v;
}

/* n keys "<stem><i>" with values "value-<i>", every seventh holding NULs. */
struct kv {
	char **keys;
	struct rcache_blob *vals;
	size_t n;
};

static void
kv_make(struct kv *kv, const char *stem, size_t n)
{
	size_t i;
	char *v;

	kv->n = n;
	kv->keys = xcalloc(n, sizeof(kv->keys[0]));
	kv->vals = xcalloc(n, sizeof(kv->vals[0]));
	for (i = 0; i < n; i++) {
		kv->keys[i] = xasprintf("%s%zu", stem, i);
		v = xasprintf("value-%zu-of-%s", i, stem);
		kv->vals[i].data = v;
		kv->vals[i].len = strlen(v);
		if (i % 7 == 0)
			v[5] = '\0';
	}
}

static void
kv_free(struct kv *kv)
{
	size_t i;

	for (i = 0; i < kv->n; i++) {
		free(kv->keys[i]);
		free(kv->vals[i].data);
	}
	free(kv->keys);
	free(kv->vals);
}

static void
blobs_free(struct rcache_blob *out, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(out[i].data);
	free(out);
}

/* Every call on a failed handle is a miss or -1, and never touches out
 * beyond clearing it. */
static void
assert_dead(struct rcache *rc)
{
	char *keys[2] = {"a", "b"};
	struct rcache_blob vals[2] = {{"x", 1}, {"y", 1}};
	struct rcache_blob out[2] = {{(char *)1, 9}, {(char *)1, 9}};
	size_t hits = rc->hits, misses = rc->misses;

	assert_int_not_equal(rc->err, RCACHE_OK);
	assert_true(rc->errstr[0] != '\0');
	assert_int_equal(rcache_get(rc, keys, 2, out), -1);
	assert_null(out[0].data);
	assert_null(out[1].data);
	assert_int_equal(out[0].len, 0);
	assert_int_equal(rc->hits, hits);
	assert_int_equal(rc->misses, misses + 2);
	assert_int_equal(rcache_put(rc, keys, vals, 2), -1);
	assert_int_equal(rcache_count(rc), -1);
	assert_int_equal(rcache_clear(rc), -1);
}

/* No server needed */

static void
test_mask_url(void **state)
{
	static const char *cases[][2] = {
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://:secret@127.0.0.1:6399", "redis://:***@127.0.0.1:6399"},
		{"redis://alice:secret@cache.example:6380/2", "redis://alice:***@cache.example:6380/2"},
		{"redis://alice:p@ss/w:rd@host", "redis://alice:***@host"},
		{"redis://secret@host", "redis://***@host"},
		{"redis://:@host", "redis://:***@host"},
		{"redis://[::1]:6379", "redis://[::1]:6379"},
		{"unix:///run/redis.sock", "unix:///run/redis.sock"},
		{"unix:///run/redis.sock?db=2&password=hunter2", "unix:///run/redis.sock?db=2&password=***"},
		{"unix:///run/redis.sock?password=hunter2&db=1", "unix:///run/redis.sock?password=***&db=1"},
		{"unix:///run/redis.sock?password=a@b:c&db=1", "unix:///run/redis.sock?password=***&db=1"},
		{"unix:///run/redis.sock?user=u&password=p%26q", "unix:///run/redis.sock?user=u&password=***"},
		{"", ""},
	};
	char buf[256];
	size_t i;

	(void)state;
	for (i = 0; i < LEN(cases); i++) {
		rcache_mask_url(cases[i][0], buf, sizeof(buf));
		assert_string_equal(buf, cases[i][1]);
	}
	rcache_mask_url(NULL, buf, sizeof(buf));
	assert_string_equal(buf, "");
	/* truncation never shows a password and always terminates */
	for (i = 1; i < 24; i++) {
		memset(buf, 'Z', sizeof(buf));
		rcache_mask_url("redis://:secret@host", buf, i);
		assert_true(strlen(buf) < i);
		assert_null(strstr(buf, "sec"));
	}
	buf[0] = 'Z';
	rcache_mask_url("redis://:secret@host", buf, 0);
	assert_int_equal(buf[0], 'Z');
}

static void
test_bad_urls(void **state)
{
	static const char *bad[] = {
		"http://127.0.0.1:6379",
		"127.0.0.1:6379",
		"redis://",
		"redis:///0",
		"redis://host:",
		"redis://host:0",
		"redis://host:65536",
		"redis://host:6379x",
		"redis://host/x",
		"redis://host/1/2",
		"redis://host/-1",
		"redis://host?db=1",
		"redis://[::1",
		"redis://[]:6379",
		"redis://secret@host",
		"redis://:pw%zz@host",
		"redis://:pw%4@host",
		"rediss://host:6379",
		"unix://relative.sock",
		"unix://",
		"unix:///",
		"unix:///tmp/r.sock?db=x",
		"unix:///tmp/r.sock?db",
		"unix:///tmp/r.sock?colour=blue",
		"",
	};
	struct rcache_opts o = {0};
	struct rcache *rc;
	size_t i;
	char want[256];

	(void)state;
	for (i = 0; i < LEN(bad); i++) {
		rc = open_url(bad[i], NULL, 0);
		if (rc->err != RCACHE_ERR_URL)
			fail_msg("'%s' was accepted (err %d: %s)", bad[i], rc->err, rc->errstr);
		assert_non_null(strstr(rc->errstr, "cache URL"));
		assert_dead(rc);
		rcache_free(rc);
	}
	rc = open_url("redis://:hunter2@host:99999", NULL, 0);
	assert_int_equal(rc->err, RCACHE_ERR_URL);
	assert_string_equal(rc->errstr,
	                    "redis://:***@host:99999: invalid cache URL: bad port '99999' (expected 1-65535)");
	rcache_free(rc);
	rc = open_url("unix:///tmp/r.sock?password=hunter2&db=x", NULL, 0);
	assert_int_equal(rc->err, RCACHE_ERR_URL);
	assert_null(strstr(rc->errstr, "hunter2"));
	rcache_free(rc);
	snprintf(want, sizeof(want), "unix:///%0200d", 0);
	rc = open_url(want, NULL, 0);
	assert_int_equal(rc->err, RCACHE_ERR_URL);
	rcache_free(rc);
	rc = rcache_open(&o);
	assert_int_equal(rc->err, RCACHE_ERR_URL);
	rcache_free(rc);
	rc = rcache_open(NULL);
	assert_int_equal(rc->err, RCACHE_ERR_URL);
	rcache_free(rc);
	rcache_free(NULL);
}

/* Well-formed URLs get past parsing and fail to connect instead. */
static void
test_good_urls_parse(void **state)
{
	static const char *forms[] = {
		"redis://127.0.0.1:%d",
		"redis://127.0.0.1:%d/",
		"redis://127.0.0.1:%d/15",
		"redis://:pw@127.0.0.1:%d",
		"redis://user:pw@127.0.0.1:%d/2",
		"redis://user:@127.0.0.1:%d",
		"redis://us%%3Aer:p%%40ss:w@127.0.0.1:%d",
		"redis://:p@ss/w?rd@127.0.0.1:%d/1",
		"redis://[127.0.0.1]:%d",
		"redis://localhost:%d",
	};
	static const char *socks[] = {
		"unix:///nonexistent/tach/redis.sock",
		"unix:///nonexistent/tach/redis.sock?db=3",
		"unix:///nonexistent/tach/redis.sock?db=1&user=a&password=b%%26c",
	};
	int port = closed_port();
	struct rcache *rc;
	char url[256];
	size_t i;

	(void)state;
	assert_true(port > 0);
	for (i = 0; i < LEN(forms); i++) {
		snprintf(url, sizeof(url), forms[i], port);
		rc = open_url(url, NULL, 0);
		if (rc->err != RCACHE_ERR_CONNECT)
			fail_msg("'%s': err %d: %s", url, rc->err, rc->errstr);
		assert_null(strstr(rc->errstr, "pw"));
		assert_null(strstr(rc->errstr, "ss"));
		assert_dead(rc);
		rcache_free(rc);
	}
	for (i = 0; i < LEN(socks); i++) {
		snprintf(url, sizeof(url), socks[i], 0);
		rc = open_url(url, NULL, 0);
		if (rc->err != RCACHE_ERR_CONNECT)
			fail_msg("'%s': err %d: %s", url, rc->err, rc->errstr);
		assert_non_null(strstr(rc->errstr, "No such file or directory"));
		rcache_free(rc);
	}
	/* the default port is 6379; IPv6 in brackets */
	rc = open_url("redis://[::1]", NULL, 0);
	assert_true(rc->err == RCACHE_ERR_CONNECT || rc->err == RCACHE_OK);
	rcache_free(rc);
}

static void
test_connect_refused_fast(void **state)
{
	int port = closed_port();
	struct rcache *rc;
	char *url, want[128];
	double t;

	(void)state;
	url = tcp_url(&(struct server){.port = port}, NULL, NULL);
	t = now();
	rc = open_url(url, NULL, 0);
	t = now() - t;
	assert_int_equal(rc->err, RCACHE_ERR_CONNECT);
	snprintf(want, sizeof(want), "%s: cannot connect: Connection refused", url);
	assert_string_equal(rc->errstr, want);
	assert_true(t < 1.0);
	assert_dead(rc);
	rcache_free(rc);
	free(url);
}

/* Live: one plain server (TCP + unix socket), one with passwords and ACL
 * users, one without GETEX (as before Redis 6.2). */

static int
live_setup(void **state)
{
	static const char *const auth_args[] = {
		"--requirepass", PASSWORD,
		"--user", "alice", "on", ">apw", "~*", "&*", "+@all", NULL,
	};
	static const char *const carol_args[] = {
		"--user", "carol", "on", ">cpw", "~other:*", "+@all", NULL,
	};
	static const char *const noex_args[] = {"--rename-command", "GETEX", "", NULL};
	const char *args[32];
	size_t n = 0, i;

	(void)state;
	for (i = 0; auth_args[i]; i++)
		args[n++] = auth_args[i];
	for (i = 0; carol_args[i]; i++)
		args[n++] = carol_args[i];
	args[n] = NULL;
	if (server_start(&main_srv, true, NULL) < 0 || server_start(&auth_srv, true, args) < 0 ||
	    server_start(&noex_srv, false, noex_args) < 0) {
		stop_all();
		return -1;
	}
	return 0;
}

static int
live_teardown(void **state)
{
	(void)state;
	stop_all();
	return 0;
}

static int
victim_setup(void **state)
{
	(void)state;
	return server_start(&victim, true, NULL);
}

static int
victim_teardown(void **state)
{
	(void)state;
	server_stop(&victim);
	return 0;
}

static void
test_put_get_binary(void **state)
{
	static const char nul[] = "a\0b\0\0c";
	char big_key[] = "big", nul_key[] = "nul", empty_key[] = "empty", none_key[] = "none";
	char *keys[] = {nul_key, empty_key, big_key, none_key};
	struct rcache_blob vals[3], out[4];
	char *url = tcp_url(&main_srv, NULL, NULL), *big = xmalloc(300000);
	struct rcache *rc;
	size_t i;

	(void)state;
	for (i = 0; i < 300000; i++)
		big[i] = (char)(i * 7);
	vals[0] = (struct rcache_blob){(char *)nul, sizeof(nul)};
	vals[1] = (struct rcache_blob){NULL, 0};
	vals[2] = (struct rcache_blob){big, 300000};
	rc = open_url(url, "bin:", 0);
	assert_int_equal(rc->err, RCACHE_OK);
	assert_int_equal(rcache_put(rc, keys, vals, 3), 0);
	assert_int_equal(rcache_get(rc, keys, 4, out), 3);
	assert_int_equal(out[0].len, sizeof(nul));
	assert_memory_equal(out[0].data, nul, sizeof(nul));
	assert_non_null(out[1].data);
	assert_int_equal(out[1].len, 0);
	assert_int_equal(out[1].data[0], '\0');
	assert_int_equal(out[2].len, 300000);
	assert_memory_equal(out[2].data, big, 300000);
	assert_int_equal(out[2].data[300000], '\0');
	assert_null(out[3].data);
	assert_int_equal(rc->hits, 3);
	assert_int_equal(rc->misses, 1);
	assert_int_equal(rc->err, RCACHE_OK);
	for (i = 0; i < 4; i++)
		free(out[i].data);
	assert_int_equal(rcache_get(rc, keys, 0, out), 0);
	assert_int_equal(rcache_clear(rc), 3);
	rcache_free(rc);
	free(big);
	free(url);
}

static void
test_round_trips(void **state)
{
	struct rcache_blob *out = xcalloc(2500, sizeof(out[0]));
	char *url = tcp_url(&main_srv, NULL, NULL);
	struct rcache *rc;
	struct kv kv;
	size_t i, rt;

	(void)state;
	kv_make(&kv, "rt-", 2500);
	rc = open_url(url, "rt:", 0);
	assert_int_equal(rc->err, RCACHE_OK);
	assert_int_equal(rc->round_trips, 0);
	assert_int_equal(rcache_put(rc, kv.keys, kv.vals, 2500), 0);
	assert_int_equal(rc->round_trips, 3);
	rt = rc->round_trips;
	assert_int_equal(rcache_get(rc, kv.keys, 2500, out), 2500);
	assert_int_equal(rc->round_trips - rt, 3);
	print_message("# get of 2500 keys: %zu round trips\n", rc->round_trips - rt);
	for (i = 0; i < 2500; i++) {
		assert_int_equal(out[i].len, kv.vals[i].len);
		assert_memory_equal(out[i].data, kv.vals[i].data, kv.vals[i].len);
		free(out[i].data);
	}
	/* exactly one batch, and one more for a single key over */
	rt = rc->round_trips;
	assert_int_equal(rcache_get(rc, kv.keys, RCACHE_BATCH, out), RCACHE_BATCH);
	assert_int_equal(rc->round_trips - rt, 1);
	for (i = 0; i < RCACHE_BATCH; i++)
		free(out[i].data);
	rt = rc->round_trips;
	assert_int_equal(rcache_get(rc, kv.keys, RCACHE_BATCH + 1, out), RCACHE_BATCH + 1);
	assert_int_equal(rc->round_trips - rt, 2);
	assert_int_equal(rc->hits, 2500 + 2 * RCACHE_BATCH + 1);
	assert_int_equal(rc->misses, 0);
	assert_int_equal(rcache_count(rc), 2500);
	assert_int_equal(rcache_clear(rc), 2500);
	blobs_free(out, RCACHE_BATCH + 1);
	rcache_free(rc);
	kv_free(&kv);
	free(url);
}

static void
test_misses(void **state)
{
	char *url = tcp_url(&main_srv, NULL, NULL);
	struct rcache_blob out[6];
	redisContext *c = raw_connect(&main_srv, NULL);
	struct rcache *rc;
	struct kv kv;
	size_t i;

	(void)state;
	kv_make(&kv, "m-", 6);
	rc = open_url(url, "miss:", 0);
	assert_int_equal(rcache_get(rc, kv.keys, 6, out), 0);
	for (i = 0; i < 6; i++)
		assert_null(out[i].data);
	assert_int_equal(rc->misses, 6);
	/* a lookup never creates a key */
	assert_int_equal(raw_int(c, "EXISTS miss:m-0"), 0);
	/* every other key present */
	for (i = 0; i < 6; i += 2)
		assert_int_equal(rcache_put(rc, kv.keys + i, kv.vals + i, 1), 0);
	assert_int_equal(rcache_get(rc, kv.keys, 6, out), 3);
	for (i = 0; i < 6; i++) {
		if (i % 2)
			assert_null(out[i].data);
		else
			assert_memory_equal(out[i].data, kv.vals[i].data, kv.vals[i].len);
		free(out[i].data);
	}
	/* a key of another type under the prefix is a miss, not an error */
	freeReplyObject(redisCommand(c, "RPUSH miss:m-1 x"));
	assert_int_equal(rcache_get(rc, kv.keys, 2, out), 1);
	assert_null(out[1].data);
	free(out[0].data);
	assert_int_equal(rc->err, RCACHE_OK);
	assert_int_equal(rcache_clear(rc), 4);
	rcache_free(rc);
	redisFree(c);
	kv_free(&kv);
	free(url);
}

static void
test_ttl(void **state)
{
	char *url = tcp_url(&main_srv, NULL, NULL);
	redisContext *c = raw_connect(&main_srv, NULL);
	struct rcache_blob out[3];
	struct rcache *rc, *dflt;
	long long ttl;
	struct kv kv;

	(void)state;
	kv_make(&kv, "t-", 3);
	rc = open_url(url, "ttl:", 1000);
	assert_int_equal(rcache_put(rc, kv.keys, kv.vals, 2), 0);
	ttl = raw_int(c, "TTL ttl:t-0");
	assert_true(ttl > 990 && ttl <= 1000);
	/* a hit pushes the expiry back out; a miss creates nothing */
	assert_int_equal(raw_int(c, "EXPIRE ttl:t-0 5"), 1);
	assert_int_equal(raw_int(c, "EXPIRE ttl:t-1 5"), 1);
	assert_int_equal(rcache_get(rc, kv.keys, 3, out), 2);
	ttl = raw_int(c, "TTL ttl:t-0");
	assert_true(ttl > 990 && ttl <= 1000);
	ttl = raw_int(c, "TTL ttl:t-1");
	assert_true(ttl > 990 && ttl <= 1000);
	assert_int_equal(raw_int(c, "TTL ttl:t-2"), -2);
	free(out[0].data);
	free(out[1].data);
	/* the default TTL is 30 days */
	dflt = open_url(url, "ttl:", 0);
	assert_int_equal(rcache_put(dflt, kv.keys + 2, kv.vals + 2, 1), 0);
	ttl = raw_int(c, "TTL ttl:t-2");
	assert_true(ttl > 30 * 86400 - 10 && ttl <= 30 * 86400);
	assert_int_equal(rcache_clear(rc), 3);
	rcache_free(dflt);
	rcache_free(rc);
	redisFree(c);
	kv_free(&kv);
	free(url);
}

static void
test_prefix_isolation(void **state)
{
	static const char *prefixes[] = {"pa:", "pb:", "p*:", "p?:", "p[ab]:", "p\\:"};
	struct rcache *rc[LEN(prefixes)];
	char *url = tcp_url(&main_srv, NULL, NULL);
	char *key = "same";
	struct rcache_blob val, out;
	size_t i, j;

	(void)state;
	for (i = 0; i < LEN(prefixes); i++) {
		rc[i] = open_url(url, prefixes[i], 0);
		assert_int_equal(rc[i]->err, RCACHE_OK);
		for (j = 0; j <= i; j++) {
			char *k = xasprintf("k%zu", j);

			val.data = (char *)prefixes[i];
			val.len = strlen(prefixes[i]);
			assert_int_equal(rcache_put(rc[i], &k, &val, 1), 0);
			free(k);
		}
		val.data = (char *)prefixes[i];
		val.len = strlen(prefixes[i]);
		assert_int_equal(rcache_put(rc[i], &key, &val, 1), 0);
	}
	for (i = 0; i < LEN(prefixes); i++) {
		assert_int_equal(rcache_get(rc[i], &key, 1, &out), 1);
		assert_int_equal(out.len, strlen(prefixes[i]));
		assert_memory_equal(out.data, prefixes[i], out.len);
		free(out.data);
		/* glob characters in a prefix match only themselves */
		assert_int_equal(rcache_count(rc[i]), (long)i + 2);
	}
	assert_int_equal(rcache_clear(rc[2]), 4);	/* "p*:" leaves "pa:" and "pb:" alone */
	assert_int_equal(rcache_count(rc[0]), 2);
	assert_int_equal(rcache_count(rc[1]), 3);
	assert_int_equal(rcache_count(rc[2]), 0);
	assert_int_equal(rcache_get(rc[2], &key, 1, &out), 0);
	assert_int_equal(rcache_get(rc[0], &key, 1, &out), 1);
	free(out.data);
	for (i = 0; i < LEN(prefixes); i++) {
		rcache_clear(rc[i]);
		rcache_free(rc[i]);
	}
	free(url);
}

static void
test_clear_count(void **state)
{
	char *url = tcp_url(&main_srv, NULL, NULL);
	struct rcache_blob *out = xcalloc(2500, sizeof(out[0]));
	struct rcache *rc;
	struct kv kv;
	size_t rt;

	(void)state;
	kv_make(&kv, "c-", 2500);
	rc = open_url(url, "cc:", 0);
	assert_int_equal(rcache_count(rc), 0);
	assert_int_equal(rcache_clear(rc), 0);
	assert_int_equal(rcache_put(rc, kv.keys, kv.vals, 2500), 0);
	rt = rc->round_trips;
	assert_int_equal(rcache_count(rc), 2500);
	assert_true(rc->round_trips - rt >= 2);
	assert_int_equal(rcache_clear(rc), 2500);
	assert_int_equal(rcache_count(rc), 0);
	assert_int_equal(rcache_get(rc, kv.keys, 2500, out), 0);
	assert_int_equal(rc->err, RCACHE_OK);
	blobs_free(out, 2500);
	rcache_free(rc);
	kv_free(&kv);
	free(url);
}

static void
test_auth(void **state)
{
	char *key = "k", *url;
	struct rcache_blob val = {"v", 1}, out;
	struct rcache *rc;
	char want[256];

	(void)state;
	/* wrong password: masked in errstr, and every get a miss */
	url = tcp_url(&auth_srv, ":wrongpw@", NULL);
	rc = open_url(url, NULL, 0);
	assert_int_equal(rc->err, RCACHE_ERR_AUTH);
	snprintf(want, sizeof(want),
	         "redis://:***@127.0.0.1:%d: authentication failed: WRONGPASS invalid username-password pair",
	         auth_srv.port);
	assert_memory_equal(rc->errstr, want, strlen(want));
	assert_null(strstr(rc->errstr, "wrongpw"));
	out.data = (char *)1;
	assert_int_equal(rcache_get(rc, &key, 1, &out), -1);
	assert_null(out.data);
	assert_int_equal(rc->misses, 1);
	assert_dead(rc);
	rcache_free(rc);
	free(url);

	/* no password at all */
	url = tcp_url(&auth_srv, NULL, NULL);
	rc = open_url(url, NULL, 0);
	assert_int_equal(rc->err, RCACHE_ERR_AUTH);
	assert_non_null(strstr(rc->errstr, "authentication failed: NOAUTH"));
	rcache_free(rc);
	free(url);
	url = tcp_url(&auth_srv, NULL, "/1");
	rc = open_url(url, NULL, 0);
	assert_int_equal(rc->err, RCACHE_ERR_AUTH);
	rcache_free(rc);
	free(url);

	/* wrong ACL user or password */
	url = tcp_url(&auth_srv, "alice:nope@", NULL);
	rc = open_url(url, NULL, 0);
	assert_int_equal(rc->err, RCACHE_ERR_AUTH);
	assert_non_null(strstr(rc->errstr, "redis://alice:***@127.0.0.1:"));
	assert_null(strstr(rc->errstr, "nope"));
	rcache_free(rc);
	free(url);
	url = tcp_url(&auth_srv, "mallory:" PASSWORD "@", NULL);
	rc = open_url(url, NULL, 0);
	assert_int_equal(rc->err, RCACHE_ERR_AUTH);
	rcache_free(rc);
	free(url);

	/* an ACL user denied our keys: the first lookup fails the handle */
	url = tcp_url(&auth_srv, "carol:cpw@", NULL);
	rc = open_url(url, NULL, 0);
	assert_int_equal(rc->err, RCACHE_OK);
	assert_int_equal(rcache_get(rc, &key, 1, &out), -1);
	assert_int_equal(rc->err, RCACHE_ERR_AUTH);
	assert_non_null(strstr(rc->errstr, "NOPERM"));
	assert_null(strstr(rc->errstr, "cpw"));
	assert_dead(rc);
	rcache_free(rc);
	free(url);

	/* the right password, and an ACL user */
	url = tcp_url(&auth_srv, ":" PASSWORD "@", "/4");
	rc = open_url(url, NULL, 0);
	assert_int_equal(rc->err, RCACHE_OK);
	assert_int_equal(rcache_put(rc, &key, &val, 1), 0);
	rcache_free(rc);
	free(url);
	url = tcp_url(&auth_srv, "alice:apw@", "/4");
	rc = open_url(url, NULL, 0);
	assert_int_equal(rc->err, RCACHE_OK);
	assert_int_equal(rcache_get(rc, &key, 1, &out), 1);
	assert_memory_equal(out.data, "v", 1);
	free(out.data);
	assert_int_equal(rcache_clear(rc), 1);
	rcache_free(rc);
	free(url);
	url = xasprintf("unix://%s?db=4&password=%s", auth_srv.sock, PASSWORD);
	rc = open_url(url, NULL, 0);
	assert_int_equal(rc->err, RCACHE_OK);
	assert_int_equal(rcache_count(rc), 0);
	rcache_free(rc);
	free(url);
}

static void
test_unix_socket_and_db(void **state)
{
	char *key = "k", *url, *v;
	struct rcache_blob val = {"in-db-3", 7}, out;
	redisContext *c = raw_connect(&main_srv, NULL);
	struct rcache *rc;

	(void)state;
	url = xasprintf("unix://%s?db=3", main_srv.sock);
	rc = open_url(url, "db:", 0);
	assert_int_equal(rc->err, RCACHE_OK);
	assert_int_equal(rcache_put(rc, &key, &val, 1), 0);
	rcache_free(rc);
	free(url);
	/* stored in db 3 only */
	v = raw_str(c, "GET db:k");
	assert_null(v);
	freeReplyObject(redisCommand(c, "SELECT 3"));
	v = raw_str(c, "GET db:k");
	assert_non_null(v);
	assert_string_equal(v, "in-db-3");
	free(v);
	/* the same database over TCP, then db 0 over the socket */
	url = tcp_url(&main_srv, NULL, "/3");
	rc = open_url(url, "db:", 0);
	assert_int_equal(rcache_get(rc, &key, 1, &out), 1);
	assert_memory_equal(out.data, "in-db-3", 7);
	free(out.data);
	rcache_free(rc);
	free(url);
	url = xasprintf("unix://%s", main_srv.sock);
	rc = open_url(url, "db:", 0);
	assert_int_equal(rc->err, RCACHE_OK);
	assert_int_equal(rcache_get(rc, &key, 1, &out), 0);
	rcache_free(rc);
	free(url);
	url = xasprintf("redis://localhost:%d/3", main_srv.port);
	rc = open_url(url, "db:", 0);
	assert_int_equal(rcache_clear(rc), 1);
	rcache_free(rc);
	free(url);
	/* a database the server does not have */
	url = tcp_url(&main_srv, NULL, "/99");
	rc = open_url(url, NULL, 0);
	assert_int_equal(rc->err, RCACHE_ERR_PROTOCOL);
	assert_non_null(strstr(rc->errstr, "SELECT 99 failed"));
	assert_dead(rc);
	rcache_free(rc);
	free(url);
	redisFree(c);
}

static void
test_ipv6(void **state)
{
	struct rcache *rc;
	char *url;

	(void)state;
	url = xasprintf("redis://[::1]:%d", main_srv.port);
	rc = open_url(url, NULL, 0);
	if (rc->err == RCACHE_ERR_CONNECT) {
		rcache_free(rc);
		free(url);
		skip();	/* no IPv6 loopback here */
	}
	assert_int_equal(rc->err, RCACHE_OK);
	assert_int_equal(rcache_count(rc), 0);
	rcache_free(rc);
	free(url);
}

/* A server without GETEX gets GET + EXPIRE, decided on the first batch. */
static void
test_getex_fallback(void **state)
{
	char *url = xasprintf("unix://%s", noex_srv.sock);
	struct rcache_blob *out = xcalloc(2500, sizeof(out[0]));
	redisContext *c = raw_connect(&noex_srv, NULL);
	struct rcache *rc;
	struct kv kv;
	long long ttl;
	size_t i, rt;

	(void)state;
	kv_make(&kv, "x-", 2500);
	rc = open_url(url, "old:", 500);
	assert_int_equal(rcache_put(rc, kv.keys, kv.vals, 2500), 0);
	assert_int_equal(raw_int(c, "EXPIRE old:x-0 5"), 1);
	assert_int_equal(raw_int(c, "EXPIRE old:x-2499 5"), 1);
	rt = rc->round_trips;
	assert_int_equal(rcache_get(rc, kv.keys, 2500, out), 2500);
	assert_int_equal(rc->round_trips - rt, 4);	/* the first batch is sent twice */
	for (i = 0; i < 2500; i++) {
		assert_int_equal(out[i].len, kv.vals[i].len);
		assert_memory_equal(out[i].data, kv.vals[i].data, out[i].len);
		free(out[i].data);
	}
	ttl = raw_int(c, "TTL old:x-0");
	assert_true(ttl > 490 && ttl <= 500);
	ttl = raw_int(c, "TTL old:x-2499");
	assert_true(ttl > 490 && ttl <= 500);
	rt = rc->round_trips;
	assert_int_equal(rcache_get(rc, kv.keys + 1, 2499, out), 2499);
	assert_int_equal(rc->round_trips - rt, 3);
	for (i = 0; i < 2499; i++)
		free(out[i].data);
	assert_int_equal(rcache_get(rc, (char *[]){"nothing"}, 1, out), 0);
	assert_int_equal(raw_int(c, "EXISTS old:nothing"), 0);
	assert_int_equal(rcache_clear(rc), 2500);
	assert_int_equal(rc->err, RCACHE_OK);
	free(out);
	rcache_free(rc);
	redisFree(c);
	kv_free(&kv);
	free(url);
}

/* The server dies between two lookups, over TCP and over the socket. */
static void
test_server_killed(void **state)
{
	char *urls[2], *keys[] = {"a", "b"};
	struct rcache_blob vals[2] = {{"1", 1}, {"2", 1}}, out[2];
	struct rcache *rc[2];
	size_t i;

	(void)state;
	urls[0] = tcp_url(&victim, NULL, NULL);
	urls[1] = xasprintf("unix://%s", victim.sock);
	for (i = 0; i < 2; i++) {
		rc[i] = open_url(urls[i], NULL, 0);
		assert_int_equal(rc[i]->err, RCACHE_OK);
		assert_int_equal(rcache_put(rc[i], keys, vals, 2), 0);
		assert_int_equal(rcache_get(rc[i], keys, 2, out), 2);
		free(out[0].data);
		free(out[1].data);
	}
	kill(victim.pid, SIGKILL);
	waitpid(victim.pid, NULL, 0);
	victim.pid = 0;
	for (i = 0; i < 2; i++) {
		assert_int_equal(rcache_get(rc[i], keys, 2, out), -1);
		assert_int_equal(rc[i]->err, RCACHE_ERR_IO);
		assert_null(out[0].data);
		assert_null(out[1].data);
		assert_non_null(strstr(rc[i]->errstr, "connection lost"));
		assert_memory_equal(rc[i]->errstr, urls[i], strlen(urls[i]));
		assert_null(rc[i]->ctx);
		assert_dead(rc[i]);
		rcache_free(rc[i]);
	}
	/* and a new handle cannot connect */
	rc[0] = open_url(urls[1], NULL, 0);
	assert_int_equal(rc[0]->err, RCACHE_ERR_CONNECT);
	rcache_free(rc[0]);
	free(urls[0]);
	free(urls[1]);
}

/* A server that stops answering: connects fail and lookups time out, both
 * within the configured limits. */
static void
test_op_timeout(void **state)
{
	char *url = tcp_url(&victim, NULL, NULL), *key = "k";
	struct rcache_opts o = {0};
	struct rcache_blob out;
	struct rcache *rc, *late;
	double t;

	(void)state;
	o.url = url;
	o.op_timeout_ms = 200;
	rc = rcache_open(&o);
	assert_int_equal(rc->err, RCACHE_OK);
	assert_int_equal(rcache_get(rc, &key, 1, &out), 0);
	kill(victim.pid, SIGSTOP);
	t = now();
	assert_int_equal(rcache_get(rc, &key, 1, &out), -1);
	t = now() - t;
	assert_int_equal(rc->err, RCACHE_ERR_IO);
	assert_non_null(strstr(rc->errstr, "no reply within 200 ms"));
	assert_true(t >= 0.15 && t < 1.0);
	t = now();
	late = rcache_open(&o);
	t = now() - t;
	assert_int_equal(late->err, RCACHE_ERR_CONNECT);
	assert_true(t < 1.0);
	kill(victim.pid, SIGCONT);
	rcache_free(late);
	rcache_free(rc);
	free(url);
}

int
main(void)
{
	const struct CMUnitTest offline[] = {
		cmocka_unit_test(test_mask_url),
		cmocka_unit_test(test_bad_urls),
		cmocka_unit_test(test_good_urls_parse),
		cmocka_unit_test(test_connect_refused_fast),
	};
	const struct CMUnitTest live[] = {
		cmocka_unit_test(test_put_get_binary),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_misses),
		cmocka_unit_test(test_ttl),
		cmocka_unit_test(test_prefix_isolation),
		cmocka_unit_test(test_clear_count),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_unix_socket_and_db),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_getex_fallback),
		cmocka_unit_test_setup_teardown(test_server_killed, victim_setup, victim_teardown),
		cmocka_unit_test_setup_teardown(test_op_timeout, victim_setup, victim_teardown),
	};
	int failed;

	failed = cmocka_run_group_tests_name("redis_offline", offline, NULL, NULL);
	failed += cmocka_run_group_tests_name("redis_live", live, live_setup, live_teardown);
	stop_all();
	return failed;
}
