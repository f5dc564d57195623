/* parse_bench - the baseline of the analysis benchmark.
 *
 *   parse_bench [--analyze] [-j N] [-n REPEAT] DIR
 *
 * Lists DIR's .py files exactly as `tach analyze` does, reads them all into
 * memory, then times either a bare tree-sitter parse of every file or the
 * analyzer over every file (--analyze), with N threads, best of REPEAT runs.
 * Prints "files=F bytes=B seconds=S mbps=M". */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tree_sitter/api.h>

#include "tach/config.h"
#include "tach/report.h"
#include "tach/scan.h"
#include "tach/util.h"

const TSLanguage *tree_sitter_python(void);

struct file {
	char *data;
	size_t len;
};

static struct file *files;
static size_t nfiles;
static atomic_size_t next;
static bool analyze;
static struct rules *rules;

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
		else if (strcmp(argv[i], "-j") == 0 && i + 1 < argc)
			jobs = atoi(argv[++i]);
		else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else
			dir = argv[i];
	}
	if (!dir || jobs < 1 || repeat < 1) {
		fputs("usage: parse_bench [--analyze] [-j N] [-n REPEAT] DIR\n", stderr);
		return 2;
	}
	if (scan_tree(dir, NULL, &list) < 0)
		fatal("%s:", dir);
	files = xcalloc(list.n, sizeof(files[0]));
	for (k = 0; k < list.n; k++) {
		char *p = path_join(dir, list.v[k]);

		if (read_file(p, &files[nfiles].data, &files[nfiles].len) == 0)
			bytes += files[nfiles++].len;
		free(p);
	}
	rules = rules_new();
	for (r = 0; r < repeat; r++) {
		pthread_t *t = xcalloc(jobs, sizeof(t[0]));
		double t0 = now(), dt;

		atomic_store(&next, 0);
		for (i = 0; i < jobs; i++)
			pthread_create(&t[i], NULL, work, NULL);
		for (i = 0; i < jobs; i++)
			pthread_join(t[i], NULL);
		dt = now() - t0;
		if (dt < best)
			best = dt;
		free(t);
	}
	printf("files=%zu bytes=%zu seconds=%.4f mbps=%.2f\n", nfiles, bytes, best, bytes / best / 1e6);
	for (k = 0; k < nfiles; k++)
		free(files[k].data);
	free(files);
	rules_free(rules);
	strlist_free(&list);
	return 0;
}
