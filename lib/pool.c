/* pool - see lib/pool.h. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "lib/pool.h"
#include "lib/util.h"

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

static int
weightcmp(const void *a, const void *b, void *arg)
{
	const size_t *weight = arg;
	size_t x = weight[*(const size_t *)a], y = weight[*(const size_t *)b];

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
	qsort_r(o, n, sizeof(o[0]), weightcmp, (void *)weight);
	return o;
}
