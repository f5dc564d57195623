/* analyze - see include/tach/analyze.h.
 *
 * Workers take the next file index from a shared counter, so a large file
 * never holds up the others; each writes only its own slots of the result
 * array, and the counters are summed after the join. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tach/analyze.h"
#include "tach/util.h"

struct job {
	const char *root;
	char *const *paths;
	size_t n;
	const struct rules *rules;
	struct report **out;
	atomic_size_t next;
};

struct worker {
	pthread_t thread;
	struct job *job;
	struct analyze_stats stats;
};

static struct report *
unreadable(const char *path, int err)
{
	struct report *r = xcalloc(1, sizeof(*r));

	r->causes = xcalloc(1, sizeof(r->causes[0]));
	r->ncauses = 1;
	r->causes[0].kind = CAUSE_PARSE_ERROR;
	r->causes[0].name = xstrdup("unreadable");
	r->causes[0].reason = xasprintf("could not read: %s", strerror(err));
	r->causes[0].line = 1;
	r->causes[0].import_time = true;
	r->parse_error_line = 1;
	warn("%s: could not read (treated as toxic): %s", path, strerror(err));
	return r;
}

static void *
work(void *arg)
{
	struct worker *w = arg;
	struct job *job = w->job;
	struct analyzer *an = analyzer_new(job->rules);
	size_t i;

	while ((i = atomic_fetch_add(&job->next, 1)) < job->n) {
		char *path = path_join(job->root, job->paths[i]);
		char *src;
		size_t len;

		if (read_file(path, &src, &len) < 0) {
			job->out[i] = unreadable(path, errno);
		} else {
			job->out[i] = analyzer_run(an, src, len, job->paths[i]);
			w->stats.parsed++;
			w->stats.bytes += len;
			free(src);
		}
		if (job->out[i]->parse_error_line)
			w->stats.parse_errors++;
		free(path);
	}
	analyzer_free(an);
	return NULL;
}

struct report **
analyze_files(const char *root, char *const *paths, size_t n, const struct rules *rules, int jobs,
              struct analyze_stats *stats)
{
	struct job job = {root, paths, n, rules, NULL, 0};
	struct worker *w;
	int i, nw;

	job.out = xcalloc(n, sizeof(job.out[0]));
	nw = jobs < 1 ? 1 : jobs;
	if ((size_t)nw > n)
		nw = n ? (int)n : 1;
	w = xcalloc(nw, sizeof(w[0]));
	for (i = 0; i < nw; i++)
		w[i].job = &job;
	if (nw == 1) {
		work(&w[0]);
	} else {
		for (i = 0; i < nw; i++) {
			errno = pthread_create(&w[i].thread, NULL, work, &w[i]);
			if (errno)
				fatal("pthread_create:");
		}
		for (i = 0; i < nw; i++)
			pthread_join(w[i].thread, NULL);
	}
	memset(stats, 0, sizeof(*stats));
	stats->files = n;
	for (i = 0; i < nw; i++) {
		stats->parsed += w[i].stats.parsed;
		stats->bytes += w[i].stats.bytes;
		stats->parse_errors += w[i].stats.parse_errors;
	}
	free(w);
	return job.out;
}
