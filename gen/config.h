/* config - the project's [tool.tach] settings from ROOT/pyproject.toml.
 *
 * Keys (all optional):
 *   policy        = "precise"       which causes make a module toxic:
 *                                   "precise" (what a fork cannot survive)
 *                                   or "strict" (any toxic import anywhere)
 *   toxic-modules = ["name", ...]   more modules treated as toxic
 *   safe-modules  = ["name", ...]   remove modules from the default toxic list
 *   source-roots  = ["dir", ...]    extra import roots, relative to ROOT
 *   exclude       = ["pattern", ...] paths to skip (fnmatch on the path
 *                                   relative to ROOT, or on a path component)
 *   cache-max-mb  = 256             bound of the local report cache
 *   cache-ttl-days = 30             lifetime of an entry in Redis
 *   redis-connect-timeout-ms = 100, redis-timeout-ms = 2000
 * A bad value or a TOML syntax error is an error naming pyproject.toml:LINE.
 * Unknown keys under [tool.tach] are warnings. */
#ifndef TACH_CONFIG_H
#define TACH_CONFIG_H

#include <stddef.h>

#include "lib/util.h"

struct config {
	char *policy;                   /* "precise", "strict", or NULL when not set */
	struct strlist toxic_modules;
	struct strlist safe_modules;
	struct strlist source_roots;
	struct strlist exclude;
	long cache_max_mb;              /* 0 when not set, like the three below */
	long cache_ttl_days;
	long redis_connect_timeout_ms;
	long redis_timeout_ms;
	long timeout;                   /* seconds a test may run, 0 when not set */
	char *path;     /* the pyproject.toml read, or NULL when there was none */
};

/* Loads ROOT/pyproject.toml. A missing file or a file without [tool.tach]
 * gives an empty config and returns 0. On error returns -1 and sets *err to
 * a newly allocated "PATH:LINE: message" (the caller frees it); warnings go
 * to stderr. The config must be freed with config_free() either way. */
int config_load(struct config *c, const char *root, char **err);
/* The same for text already in memory; path is used in messages. */
int config_parse(struct config *c, const char *src, size_t len, const char *path, char **err);
void config_free(struct config *c);

#endif
