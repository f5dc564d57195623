/* summary_main - tach-results, the last edge of a run: gathers the result
 * file of every test edge (runtime/summary.h).
 *
 *   tach-results --root DIR [--json FILE] [--junit FILE] [--under PATH]
 *                [--list FILE] [RESULT...]
 *
 * RESULT paths are relative to DIR or absolute. --list FILE names more, one
 * a line, first, as "PATH" or "PATH<TAB>NODEID" (the node id stands for the
 * test when its file is missing or corrupt); a PATH in Ninja's shell quoting
 * (an rspfile of $in_newline) is unquoted. --json (default
 * DIR/.tach/results.json) and --junit (default DIR/.tach/junit.xml) are
 * written atomically, their directories made when missing; the paths of
 * --list, --json and --junit are relative to the working directory.
 * --under PATH keeps the listed tests of one file or directory (a Ninja
 * target of its own), prints their summary and writes no report.
 *
 * Prints "FAILED nodeid (outcome[, SIGNAL])" for each failed case, then
 * "N passed, N failed, N skipped". Exit status: 0 when nothing failed; 1
 * when a case failed or a result was missing; 2 on a usage error, an
 * unreadable list file or a report that could not be written. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tach/statedir.h"
#include "runtime/summary.h"
#include "lib/util.h"

static void
usage(FILE *f)
{
	fputs("usage: tach-results --root DIR [--json FILE] [--junit FILE] [--under PATH]\n"
	    "                    [--list FILE] [RESULT...]\n", f);
}

/* Adds the result file at path (relative to root unless absolute). */
static void
add(struct summary *s, const char *root, const char *path, const char *nodeid)
{
	char *full;

	if (!*path) {
		summary_add_missing(s, path, nodeid, "empty path");
		return;
	}
	full = path[0] == '/' ? NULL : path_join(root, path);
	summary_add_file(s, full ? full : path, path, nodeid);
	free(full);
}

/* Whether nodeid is the file or directory path, or inside it. */
static bool
under(const char *nodeid, const char *path)
{
	size_t n = strlen(path);

	return strncmp(nodeid, path, n) == 0 && (nodeid[n] == 0 || nodeid[n] == '/' ||
	    (nodeid[n] == ':' && nodeid[n + 1] == ':'));
}

static int
add_list(struct summary *s, const char *root, const char *list, const char *only)
{
	char *data, *line, *next, *path, *nodeid;
	size_t len;

	if (read_file(list, &data, &len) < 0) {
		warn("cannot read %s:", list);
		return -1;
	}
	for (line = data; line < data + len; line = next) {
		next = memchr(line, '\n', (size_t)(data + len - line));
		if (next)
			*next++ = 0;
		else
			next = data + len;
		if (summary_list_line(line, &path, &nodeid) && (!only || (nodeid && under(nodeid, only))))
			add(s, root, path, nodeid);
	}
	free(data);
	return 0;
}

/* Writes text to path unless path already holds it (a no-op `ninja test`
 * rewrites nothing). */
static int
write_report(const char *path, char *text)
{
	size_t n = strlen(text), oldlen;
	char *old = NULL;
	int ret;

	if (read_file(path, &old, &oldlen) == 0 && oldlen == n && memcmp(old, text, n) == 0) {
		free(old);
		free(text);
		return 0;
	}
	free(old);
	ret = write_file_atomic(path, text, n, 0666);

	if (ret < 0 && errno == ENOENT) {
		make_parents(path);
		ret = write_file_atomic(path, text, n, 0666);
	}
	if (ret < 0)
		warn("cannot write %s:", path);
	free(text);
	return ret;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"root", required_argument, NULL, 'r'},
		{"json", required_argument, NULL, 'j'},
		{"junit", required_argument, NULL, 'x'},
		{"list", required_argument, NULL, 'l'},
		{"under", required_argument, NULL, 'u'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *root = NULL, *list = NULL, *only = NULL;
	char *json = NULL, *junit = NULL;
	struct summary s;
	struct summary_counts counts;
	struct stat st;
	int c, i, status = 2;

	progname = "tach-results";
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': root = optarg; break;
		case 'j': free(json); json = xstrdup(optarg); break;
		case 'x': free(junit); junit = xstrdup(optarg); break;
		case 'l': list = optarg; break;
		case 'u': only = optarg; break;
		case 'h':
			usage(stdout);
			status = 0;
			goto done;
		default:
			usage(stderr);
			goto done;
		}
	}
	if (!root) {
		usage(stderr);
		goto done;
	}
	if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		warn("--root %s: not a directory", root);
		goto done;
	}
	if (!json || !junit) {
		/* the defaults are written in ROOT/.tach: never through a link */
		char *dot = path_join(root, TACH_DIR);
		int fd = private_dir(dot, true);

		if (fd < 0) {
			warn("%s: %s", dot, private_dir_error(errno));
			free(dot);
			status = 1;
			goto done;
		}
		close(fd);
		free(dot);
	}
	if (!json)
		json = path_join(root, TACH_PATH(TACH_RESULTS_JSON));
	if (!junit)
		junit = path_join(root, TACH_PATH(TACH_JUNIT_XML));

	summary_init(&s);
	if (list && add_list(&s, root, list, only) < 0) {
		summary_free(&s);
		goto done;
	}
	for (i = optind; i < argc; i++)
		add(&s, root, argv[i], NULL);

	status = 0;
	/* a file's or directory's tests alone leave the whole run's reports */
	if (!only && write_report(json, summary_json(&s)) < 0)
		status = 2;
	if (!only && write_report(junit, summary_junit(&s)) < 0)
		status = 2;
	summary_print(&s, stdout);
	summary_count(&s, &counts);
	if (status == 0 && (counts.failed || s.missing))
		status = 1;
	summary_free(&s);
done:
	free(json);
	free(junit);
	if (fflush(stdout) != 0 && status == 0)
		status = 2;
	return status;
}
