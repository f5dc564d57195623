/* analyze - see include/tach/analyze.h.
 *
 * Each worker writes only its own slots of the result arrays; counters are
 * per worker and summed after the join. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tach/analyze.h"
#include "tach/util.h"

struct pool {
	size_t n;
	void *ctx;
	void *(*init)(void *ctx);
	void (*fn)(void *ctx, void *tls, size_t i);
	void (*fini)(void *tls);
	atomic_size_t next;
};

static void *
pool_work(void *arg)
{
	struct pool *p = arg;
	void *tls = p->init ? p->init(p->ctx) : NULL;
	size_t i;

	while ((i = atomic_fetch_add(&p->next, 1)) < p->n)
		p->fn(p->ctx, tls, i);
	if (p->fini)
		p->fini(tls);
	return NULL;
}

void
parallel_for(size_t n, int jobs, void *ctx, void *(*init)(void *ctx),
             void (*fn)(void *ctx, void *tls, size_t i), void (*fini)(void *tls))
{
	struct pool p = {n, ctx, init, fn, fini, 0};
	pthread_t *t;
	int i, nt = jobs < 1 ? 1 : jobs;

	if ((size_t)nt > n)
		nt = n ? (int)n : 1;
	if (nt == 1) {
		pool_work(&p);
		return;
	}
	t = xcalloc(nt, sizeof(t[0]));
	for (i = 0; i < nt; i++) {
		errno = pthread_create(&t[i], NULL, pool_work, &p);
		if (errno)
			fatal("pthread_create:");
	}
	for (i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	free(t);
}

static const size_t *sort_weight;

static int
weightcmp(const void *a, const void *b)
{
	size_t x = sort_weight[*(const size_t *)a], y = sort_weight[*(const size_t *)b];

	if (x != y)
		return x > y ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

size_t *
order_by_weight(const size_t *weight, size_t n)
{
	size_t *o = xmalloc((n + 1) * sizeof(o[0])), i;

	for (i = 0; i < n; i++)
		o[i] = i;
	sort_weight = weight;   /* qsort has no context argument in C11 */
	qsort(o, n, sizeof(o[0]), weightcmp);
	sort_weight = NULL;
	return o;
}

/* The name of report_unreadable()'s cause; cause_is_unreadable() checks it. */
static const char unreadable[] = "unreadable";

struct report *
report_unreadable(const char *path, int err)
{
	struct report *r = xcalloc(1, sizeof(*r));

	r->causes = xcalloc(1, sizeof(r->causes[0]));
	r->ncauses = 1;
	r->causes[0].kind = CAUSE_PARSE_ERROR;
	r->causes[0].name = xstrdup(unreadable);
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
	return strcmp(c->name, unreadable) == 0;
}

struct job {
	const char *root;
	char *const *paths;
	const struct rules *rules;
	struct report **out;
	size_t *bytes;        /* per file, summed after */
	const size_t *order;
};

static void *
job_init(void *ctx)
{
	return analyzer_new(((struct job *)ctx)->rules);
}

static void
job_fini(void *tls)
{
	analyzer_free(tls);
}

static void
job_one(void *ctx, void *tls, size_t i)
{
	struct job *job = ctx;
	char *path, *src;
	size_t len;

	i = job->order[i];
	path = path_join(job->root, job->paths[i]);
	if (read_file(path, &src, &len) < 0) {
		job->out[i] = report_unreadable(path, errno);
	} else {
		job->out[i] = analyzer_run(tls, src, len, job->paths[i]);
		job->bytes[i] = len;
		free(src);
	}
	free(path);
}

struct report **
analyze_files(const char *root, char *const *paths, size_t n, const struct rules *rules, int jobs,
              struct analyze_stats *stats)
{
	struct job job = {root, paths, rules, NULL, NULL, NULL};
	size_t *order, i;

	job.out = xcalloc(n, sizeof(job.out[0]));
	job.bytes = xcalloc(n, sizeof(job.bytes[0]));
	for (i = 0; jobs > 1 && i < n; i++) {
		char *p = path_join(root, paths[i]);
		struct stat st;

		job.bytes[i] = stat(p, &st) == 0 ? (size_t)st.st_size : 0;
		free(p);
	}
	job.order = order = order_by_weight(job.bytes, n);
	memset(job.bytes, 0, n * sizeof(job.bytes[0]));
	parallel_for(n, jobs, &job, job_init, job_one, job_fini);
	free(order);
	memset(stats, 0, sizeof(*stats));
	stats->files = n;
	for (i = 0; i < n; i++) {
		stats->parsed += job.out[i]->ncauses == 0 || !cause_is_unreadable(&job.out[i]->causes[0]);
		stats->bytes += job.bytes[i];
		stats->parse_errors += job.out[i]->parse_error_line != 0;
	}
	free(job.bytes);
	return job.out;
}
