/* analyze - see gen/analyze/analyze.h.
 *
 * Each worker writes only its own slots of the result arrays; counters are
 * per worker and summed after the join. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gen/analyze/analyze.h"
#include "lib/pool.h"
#include "lib/util.h"

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
		stats->parsed += job.out[i]->ncauses == 0 || job.out[i]->causes[0].kind != CAUSE_UNREADABLE;
		stats->bytes += job.bytes[i];
		stats->parse_errors += job.out[i]->parse_error_line != 0;
	}
	free(job.bytes);
	return job.out;
}
