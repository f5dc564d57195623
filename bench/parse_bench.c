/* parse_bench - the baseline of the analysis benchmark.
 *
 *   parse_bench [--analyze] [-j N] [-n REPEAT] DIR
 *   parse_bench --compare [-n REPEAT] DIR
 *
 * Lists DIR's .py files exactly as `tach analyze` does, reads them all into
 * memory, then times either a bare tree-sitter parse of every file or the
 * analyzer over every file (--analyze), with N threads, best of REPEAT runs.
 * Prints "files=F bytes=B seconds=S mbps=M". --compare interleaves the bare
 * parse, the analyzer on one thread and the analyzer on two threads within
 * each repetition, so a noisy machine slows all three alike, and prints one
 * line per mode. Both get the same malloc tuning as tach itself. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tree_sitter/api.h>

#include "gen/analyze/analyze.h"
#include "lib/pool.h"
#include "gen/config.h"
#include "tach/report.h"
#include "gen/analyze/scan.h"
#include "lib/util.h"

const TSLanguage *tree_sitter_python(void);

struct file {
	char *data;
	size_t len;
};

static struct file *files;
static size_t nfiles;
static atomic_size_t next;
static bool analyze, compare;
static struct rules *rules;
static size_t *order;

static void *
work(void *arg)
{
	TSParser *p = NULL;
	struct analyzer *an = NULL;
	size_t i;

	(void)arg;
	if (analyze) {
		an = analyzer_new(rules);
	} else {
		p = ts_parser_new();
		ts_parser_set_language(p, tree_sitter_python());
	}
	while ((i = atomic_fetch_add(&next, 1)) < nfiles) {
		i = order[i];
		if (analyze) {
			report_free(analyzer_run(an, files[i].data, files[i].len, "bench"));
		} else {
			TSTree *t = ts_parser_parse_string(p, NULL, files[i].data, files[i].len);

			ts_tree_delete(t);
		}
	}
	if (an)
		analyzer_free(an);
	if (p)
		ts_parser_delete(p);
	return NULL;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
run_once(int jobs)
{
	pthread_t *t = xcalloc(jobs, sizeof(t[0]));
	double t0 = now(), dt;
	int i;

	atomic_store(&next, 0);
	for (i = 0; i < jobs; i++)
		pthread_create(&t[i], NULL, work, NULL);
	for (i = 0; i < jobs; i++)
		pthread_join(t[i], NULL);
	dt = now() - t0;
	free(t);
	return dt;
}

int
main(int argc, char **argv)
{
	struct strlist list = {0};
	const char *dir = NULL;
	int jobs = 1, repeat = 3, i, r;
	size_t bytes = 0, k;
	double best = 1e9;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--analyze") == 0)
			analyze = true;
		else if (strcmp(argv[i], "--compare") == 0)
			compare = true;
		else if (strcmp(argv[i], "-j") == 0 && i + 1 < argc)
			jobs = atoi(argv[++i]);
		else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else
			dir = argv[i];
	}
	malloc_tune();
	if (!dir || jobs < 1 || repeat < 1) {
		fputs("usage: parse_bench [--analyze] [-j N] [-n REPEAT] DIR\n", stderr);
		return 2;
	}
	if (scan_tree(dir, NULL, &list, NULL, NULL) < 0)
		fatal("%s:", dir);
	files = xcalloc(list.n, sizeof(files[0]));
	for (k = 0; k < list.n; k++) {
		char *p = path_join(dir, list.v[k]);

		if (read_file(p, &files[nfiles].data, &files[nfiles].len) == 0)
			bytes += files[nfiles++].len;
		free(p);
	}
	rules = rules_new();
	{
		size_t *w = xcalloc(nfiles + 1, sizeof(w[0]));

		for (k = 0; k < nfiles; k++)
			w[k] = files[k].len;
		order = order_by_weight(w, nfiles);
		free(w);
	}
	if (compare) {
		static const struct { const char *name; bool analyze; int jobs; } modes[] = {
			{"bare-j1", false, 1}, {"analyze-j1", true, 1}, {"analyze-j2", true, 2},
		};
		double bests[3] = {1e9, 1e9, 1e9};
		size_t m;

		for (r = 0; r < repeat; r++) {
			for (m = 0; m < 3; m++) {
				double dt;

				analyze = modes[m].analyze;
				dt = run_once(modes[m].jobs);
				if (dt < bests[m])
					bests[m] = dt;
			}
		}
		for (m = 0; m < 3; m++)
			printf("%s files=%zu bytes=%zu seconds=%.4f mbps=%.2f ratio=%.3f\n", modes[m].name,
			       nfiles, bytes, bests[m], bytes / bests[m] / 1e6, bests[0] / bests[m]);
	} else {
		for (r = 0; r < repeat; r++) {
			double dt = run_once(jobs);

			if (dt < best)
				best = dt;
		}
		printf("files=%zu bytes=%zu seconds=%.4f mbps=%.2f\n", nfiles, bytes, best, bytes / best / 1e6);
	}
	for (k = 0; k < nfiles; k++)
		free(files[k].data);
	free(files);
	free(order);
	rules_free(rules);
	strlist_free(&list);
	return 0;
}
