/* config - reads the [tool.tach] table of ROOT/pyproject.toml.
 *
 * The file is parsed by toml.c; this module only checks the values it knows
 * and copies them into struct config. Each known key is one line of the
 * keys[] table below: its name, the function that reads its value and where
 * the value goes. A value of the wrong shape is an error naming the file and
 * the line of the offending value (or array element); the caller decides
 * how to exit. A key the table does not know is a warning, not an error, so
 * a pyproject.toml written for a later tach still loads.
 *
 * Module names must be dotted Python identifiers. Source roots must be
 * relative paths that stay inside ROOT ("a/../b" is fine, "../b" is not);
 * trailing slashes are dropped. Messages name the file by the path given,
 * which for config_load() is ROOT/pyproject.toml. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "gen/config.h"
#include "gen/toml.h"
#include "lib/util.h"

struct key;

/* Checks one element of a string list, and may tidy it in place (only ever
 * making it shorter); returns NULL when it is good, or a static description
 * of what is wrong with it. */
typedef const char *check_fn(char *s);

typedef int read_fn(struct config *c, const struct key *k, const struct toml_value *v,
                    const char *path, char **err);

struct key {
	const char *name;
	read_fn *read;
	size_t off;             /* of the field in struct config */
	check_fn *check;
	long min, max;          /* for integers */
};

static bool
is_ident_start(unsigned char c)
{
	/* Bytes of non-ASCII UTF-8 are let through: Python identifiers may
	 * use Unicode letters, and checking their categories is not worth it. */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static const char *
check_module(char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (;;) {
		if (!is_ident_start(*p))
			return "is not a valid module name";
		while (is_ident_start(*p) || (*p >= '0' && *p <= '9'))
			p++;
		if (*p == '\0')
			return NULL;
		if (*p++ != '.')
			return "is not a valid module name";
	}
}

static const char *
check_root(char *s)
{
	const char *p = s, *e;
	size_t n = strlen(s);
	long depth = 0;

	if (*s == '\0')
		return "must not be empty";
	if (*s == '/')
		return "must be a path relative to the project root";
	/* "src/" and "src" are the same root. */
	while (n > 1 && s[n - 1] == '/')
		s[--n] = '\0';
	while (*p) {
		e = p + strcspn(p, "/");
		if (e - p == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return "is outside the project root";
		} else if (e - p > 0 && !(e - p == 1 && p[0] == '.')) {
			depth++;
		}
		p = *e ? e + 1 : e;
	}
	return NULL;
}

static const char *
check_pattern(char *s)
{
	return *s ? NULL : "must not be empty";
}

/* Reads an array of strings into the struct strlist at k->off, checking
 * each element with k->check. */
static int
read_strings(struct config *c, const struct key *k, const struct toml_value *v,
             const char *path, char **err)
{
	struct strlist *l = (struct strlist *)((char *)c + k->off);
	const struct toml_value *item;
	const char *why;
	char *s;
	size_t i;

	if (v->type != TOML_ARRAY)
		goto bad;
	for (i = 0; i < v->n; i++) {
		item = v->items[i];
		if (item->type != TOML_STRING) {
			v = item;
			goto bad;
		}
		s = xstrdup(item->str);
		if (k->check && (why = k->check(s))) {
			*err = xasprintf("%s:%d: [tool.tach] %s: '%s' %s", path, item->line,
			                 k->name, item->str, why);
			free(s);
			return -1;
		}
		l->v = xgrow(l->v, &l->cap, l->n + 1, sizeof(l->v[0]));
		l->v[l->n++] = s;
	}
	return 0;
bad:
	*err = xasprintf("%s:%d: [tool.tach] %s must be an array of strings", path, v->line, k->name);
	return -1;
}

/* Reads the name of a policy into the string at k->off. */
static int
read_policy(struct config *c, const struct key *k, const struct toml_value *v, const char *path, char **err)
{
	char **p = (char **)((char *)c + k->off);

	if (v->type != TOML_STRING || (strcmp(v->str, "precise") != 0 && strcmp(v->str, "strict") != 0)) {
		*err = xasprintf("%s:%d: [tool.tach] %s must be \"precise\" or \"strict\"", path, v->line, k->name);
		return -1;
	}
	free(*p);
	*p = xstrdup(v->str);
	return 0;
}

/* Reads a whole number within [k->min, k->max] into the long at k->off. */
static int
read_int(struct config *c, const struct key *k, const struct toml_value *v, const char *path,
         char **err)
{
	if (v->type != TOML_INTEGER || v->integer < k->min || v->integer > k->max) {
		*err = xasprintf("%s:%d: [tool.tach] %s must be a whole number from %ld to %ld", path,
		                 v->line, k->name, k->min, k->max);
		return -1;
	}
	*(long *)((char *)c + k->off) = (long)v->integer;
	return 0;
}

/* The keys of [tool.tach]. A new key is one line here. */
static const struct key keys[] = {
	{"policy", read_policy, offsetof(struct config, policy), NULL, 0, 0},
	{"toxic-modules", read_strings, offsetof(struct config, toxic_modules), check_module, 0, 0},
	{"safe-modules", read_strings, offsetof(struct config, safe_modules), check_module, 0, 0},
	{"source-roots", read_strings, offsetof(struct config, source_roots), check_root, 0, 0},
	{"exclude", read_strings, offsetof(struct config, exclude), check_pattern, 0, 0},
	{"cache-max-mb", read_int, offsetof(struct config, cache_max_mb), NULL, 1, 1L << 20},
	{"cache-ttl-days", read_int, offsetof(struct config, cache_ttl_days), NULL, 1, 3650},
	{"redis-connect-timeout-ms", read_int, offsetof(struct config, redis_connect_timeout_ms), NULL, 1, 60000},
	{"redis-timeout-ms", read_int, offsetof(struct config, redis_timeout_ms), NULL, 1, 600000},
	{"timeout", read_int, offsetof(struct config, timeout), NULL, 1, 7L * 24 * 3600},
};

static const struct key *
key_find(const char *name)
{
	size_t i;

	for (i = 0; i < LEN(keys); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

void
config_free(struct config *c)
{
	free(c->policy);
	c->policy = NULL;
	strlist_free(&c->toxic_modules);
	strlist_free(&c->safe_modules);
	strlist_free(&c->source_roots);
	strlist_free(&c->exclude);
	free(c->path);
	c->path = NULL;
}

int
config_parse(struct config *c, const char *src, size_t len, const char *path, char **err)
{
	struct toml_value *doc;
	const struct toml_value *tach;
	const struct key *k;
	int ret = -1;
	size_t i;

	memset(c, 0, sizeof(*c));
	*err = NULL;
	c->path = xstrdup(path);
	if (!(doc = toml_parse(src, len, path, err)))
		return -1;
	tach = toml_get(doc, "tool.tach");
	if (!tach) {
		ret = 0;
		goto out;
	}
	if (tach->type != TOML_TABLE) {
		*err = xasprintf("%s:%d: [tool.tach] must be a table, not %s", path, tach->line,
		                 toml_type_name(tach->type));
		goto out;
	}
	for (i = 0; i < tach->n; i++) {
		if (!(k = key_find(tach->keys[i]))) {
			warn("%s:%d: unknown key '%s' in [tool.tach]", path, tach->items[i]->line,
			     tach->keys[i]);
			continue;
		}
		if (k->read(c, k, tach->items[i], path, err) < 0)
			goto out;
	}
	ret = 0;
out:
	toml_free(doc);
	return ret;
}

int
config_load(struct config *c, const char *root, char **err)
{
	char *path = path_join(root, "pyproject.toml"), *src;
	size_t len;
	int ret;

	memset(c, 0, sizeof(*c));
	*err = NULL;
	if (read_file(path, &src, &len) < 0) {
		ret = 0;
		if (errno != ENOENT) {
			*err = xasprintf("%s: %s", path, strerror(errno));
			ret = -1;
		}
		free(path);
		return ret;
	}
	ret = config_parse(c, src, len, path, err);
	free(src);
	free(path);
	return ret;
}
