/* pool - the worker pool every parallel step uses.
 *
 * Workers take the next index from a shared counter, so one large item
 * never holds up the others; each worker has its own state (init/fini). */
#ifndef TACH_POOL_H
#define TACH_POOL_H

#include <stddef.h>

/* Runs fn(ctx, tls, i) for every i < n on up to `jobs` threads. init(ctx),
 * if not NULL, makes each thread's state (tls); fini frees it. */
void parallel_for(size_t n, int jobs, void *ctx, void *(*init)(void *ctx),
                  void (*fn)(void *ctx, void *tls, size_t i), void (*fini)(void *tls));
/* Returns the indices 0..n-1 ordered by weight, heaviest first: handing out
 * the big files first keeps every worker busy until the end. The caller
 * frees the result. */
size_t *order_by_weight(const size_t *weight, size_t n);

#endif
