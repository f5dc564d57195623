/* json - the one JSON writer: tach's result files, results.json, the
 * hypervisor's event lines and `tach analyze --format json` all come from
 * here, straight into a struct buf (lib/util.h), with no document tree.
 *
 * A struct json tracks the open objects and arrays and writes the commas;
 * the caller says what comes next, and where the layout wants it, the
 * whitespace before it (json_pad). Strings are escaped ('"', '\\', \b \f
 * \n \r \t, other control characters as \u00XX); bytes that are not valid
 * UTF-8 (lib/utf8.h) become U+FFFD, so the output always parses, except in
 * json_bytes(). Misuse (a key in an array, json_end with nothing open,
 * nesting deeper than JSON_MAXDEPTH) is a programming error and aborts. */
#ifndef TACH_JSON_H
#define TACH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

#define JSON_MAXDEPTH 32

struct json {
	struct buf *b;		/* borrowed */
	bool compact;		/* "," and ":" rather than ", " and ": " */
	bool key;		/* a key was written: its value comes next */
	const char *pad;	/* borrowed; written before the next item or end */
	unsigned depth;		/* open containers */
	uint32_t array, items;	/* bit d: container d is an array, holds an item */
};

/* Starts a writer appending to b. */
void json_init(struct json *w, struct buf *b, bool compact);
/* Goes on with a document another writer began: open lists its open
 * containers outermost first ("{[": an array in an object), each taken to
 * hold an item already. Writes nothing. */
void json_resume(struct json *w, const char *open);
/* Whitespace to write before the next item (after its comma, in place of
 * the space) or before the next json_end. Borrowed until then. */
void json_pad(struct json *w, const char *ws);

void json_object(struct json *w);
void json_array(struct json *w);
/* Closes the innermost object or array. */
void json_end(struct json *w);
/* The key of the next value, in an object. */
void json_key(struct json *w, const char *key);

/* The values. json_string writes null for NULL. */
void json_string(struct json *w, const char *s);
void json_string_n(struct json *w, const char *s, size_t n);
/* s with its bytes as they are, valid UTF-8 or not (only '"', '\\' and
 * control characters escaped): a path on the hypervisor's own wire, which
 * must come back byte for byte, and whose reader, cJSON, takes any byte.
 * Never in a file anyone else reads. */
void json_bytes(struct json *w, const char *s);
void json_int(struct json *w, long long v);
void json_uint(struct json *w, unsigned long long v);
/* The shortest of %.15g and %.17g that reads back as d; null when d is
 * not finite. */
void json_double(struct json *w, double d);
/* d with digits decimals (%.*f); null when d is not finite. */
void json_fixed(struct json *w, double d, int digits);
void json_bool(struct json *w, bool v);
void json_null(struct json *w);

/* Appends s[0..n) to b as a JSON string, quotes included. */
void json_quote(struct buf *b, const char *s, size_t n);

#endif
