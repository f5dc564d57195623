/* toml - a small read-only document model over the tree-sitter-toml grammar.
 *
 * gen/toml.c is the only user of tree-sitter-toml. It parses a whole file
 * into nested tables so callers (config.c) can look values up by dotted key
 * without touching tree-sitter. Every value remembers its 1-based line.
 * Strings are unescaped UTF-8. Dotted keys, [table] headers, [[arrays of
 * tables]] and inline tables all end up in the same tree. */
#ifndef TACH_TOML_H
#define TACH_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum toml_type {
	TOML_TABLE,
	TOML_ARRAY,
	TOML_STRING,
	TOML_INTEGER,
	TOML_FLOAT,
	TOML_BOOL,
	TOML_DATETIME,  /* kept as its source text in .str */
};

struct toml_value {
	enum toml_type type;
	int line;
	char *str;                  /* TOML_STRING, TOML_DATETIME */
	int64_t integer;            /* TOML_INTEGER */
	double flt;                 /* TOML_FLOAT */
	bool boolean;               /* TOML_BOOL */
	/* TOML_TABLE: keys[i] -> items[i]; TOML_ARRAY: items only */
	char **keys;
	struct toml_value **items;
	size_t n, cap;
};

/* Parses src. On success returns the root table (free it with toml_free()).
 * On a syntax error returns NULL and sets *err to a newly allocated message
 * "PATH:LINE: ..." (the caller frees it). */
struct toml_value *toml_parse(const char *src, size_t len, const char *path, char **err);
void toml_free(struct toml_value *v);
/* Looks up a dotted key ("tool.tach") in a table; NULL when absent or when an
 * intermediate value is not a table. Borrowed from the tree. */
const struct toml_value *toml_get(const struct toml_value *table, const char *dotted);
const char *toml_type_name(enum toml_type t);

#endif
