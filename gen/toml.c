/* toml - a read-only TOML document model over the tree-sitter-toml grammar.
 *
 * This is the only file that knows the grammar. toml_parse() lets
 * tree-sitter build a syntax tree, reports the first ERROR or MISSING node as
 * a syntax error, and otherwise walks the tree once, copying every key and
 * value out by byte range into struct toml_value nodes before the tree is
 * deleted. The grammar checks the shape of the text; this file adds the
 * checks of single values it leaves out (UTF-8, integers that fit in 64
 * bits, real dates, unicode escapes) and the rules of TOML 1.0 that need
 * the whole document:
 *
 *   - a key is defined once, in the table it belongs to;
 *   - a [table] header defines a table once; a header may first create its
 *     parent tables implicitly, and those may be defined by a header later;
 *   - dotted keys (a.b = 1) create tables that only the section creating
 *     them may extend; no header may define them afterwards;
 *   - inline tables and arrays written as values are closed: no header or
 *     dotted key may add to them, and [[x]] only appends to an array that
 *     was itself created by [[x]].
 *
 * To keep that bookkeeping out of the public struct, every value is
 * allocated as a struct node whose first member is the struct toml_value the
 * caller sees. Strings are unescaped to UTF-8; newlines inside multi-line
 * strings come out as "\n" whatever the file used.
 *
 * 930 lines: the one file that knows the grammar (STYLE: one file per
 * external library); value checks and the document rules work on the same
 * private node type. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tree_sitter/api.h>

#include "gen/toml.h"
#include "lib/utf8.h"
#include "lib/util.h"

const TSLanguage *tree_sitter_toml(void);

enum {
	IMPLICIT = 1 << 0,      /* table created as the parent of a header */
	HEADER = 1 << 1,        /* table defined by [x] or an element of [[x]] */
	DOTTED = 1 << 2,        /* table created or extended by dotted keys */
	FROZEN = 1 << 3,        /* inline table or array value: closed */
	AOT = 1 << 4,           /* array created by [[x]] */
};

/* Arrays and inline tables nest this deep at most, and a key has at most
 * this many parts; more is an error rather than a stack overflow. */
#define MAX_DEPTH 256

struct node {
	struct toml_value v;    /* first, so a struct toml_value * is a struct node * */
	unsigned flags;
	int section;            /* for DOTTED: the section that created it */
};

struct parser {
	const char *src;
	const char *path;
	struct toml_value *root;
	int section;            /* counts headers; 0 is the top of the file */
	char *err;
};

struct keys {
	char **v;
	size_t n, cap;
};

static struct toml_value *
node_new(enum toml_type type, int line, unsigned flags)
{
	struct node *n = xcalloc(1, sizeof(*n));

	n->v.type = type;
	n->v.line = line;
	n->flags = flags;
	return &n->v;
}

static struct node *
node_of(const struct toml_value *v)
{
	return (struct node *)v;
}

void
toml_free(struct toml_value *v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < v->n; i++) {
		if (v->keys)
			free(v->keys[i]);
		toml_free(v->items[i]);
	}
	free(v->keys);
	free(v->items);
	free(v->str);
	free(node_of(v));
}

const char *
toml_type_name(enum toml_type t)
{
	switch (t) {
	case TOML_TABLE: return "table";
	case TOML_ARRAY: return "array";
	case TOML_STRING: return "string";
	case TOML_INTEGER: return "integer";
	case TOML_FLOAT: return "float";
	case TOML_BOOL: return "boolean";
	case TOML_DATETIME: return "datetime";
	}
	return "value";
}

static struct toml_value *
table_find(const struct toml_value *t, const char *key)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->keys[i], key) == 0)
			return t->items[i];
	return NULL;
}

/* Takes ownership of v; copies key. keys and items share t->cap: both grow
 * to the same size, so the first xgrow works on a copy. */
static void
table_add(struct toml_value *t, const char *key, struct toml_value *v)
{
	size_t cap = t->cap;

	t->keys = xgrow(t->keys, &cap, t->n + 1, sizeof(t->keys[0]));
	t->items = xgrow(t->items, &t->cap, t->n + 1, sizeof(t->items[0]));
	t->keys[t->n] = xstrdup(key);
	t->items[t->n++] = v;
}

/* Takes ownership of v. */
static void
array_add(struct toml_value *a, struct toml_value *v)
{
	a->items = xgrow(a->items, &a->cap, a->n + 1, sizeof(a->items[0]));
	a->items[a->n++] = v;
}

static void
keys_free(struct keys *k)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		free(k->v[i]);
	free(k->v);
	k->v = NULL;
	k->n = k->cap = 0;
}

static bool
is_bare(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') && *s != '_' && *s != '-')
			return false;
	return true;
}

/* Returns the first n parts of a key as TOML would spell them, quoting the
 * parts that are not bare. The caller frees the result. */
static char *
key_text(const struct keys *k, size_t n)
{
	struct buf b = {0};
	const char *s;
	size_t i;

	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(&b, '.');
		if (is_bare(k->v[i])) {
			buf_puts(&b, k->v[i]);
			continue;
		}
		buf_putc(&b, '"');
		for (s = k->v[i]; *s; s++) {
			if (*s == '"' || *s == '\\')
				buf_putc(&b, '\\');
			buf_putc(&b, *s);
		}
		buf_putc(&b, '"');
	}
	return buf_take(&b);
}

static int
fail(struct parser *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
fail(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	if (p->err)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("vsnprintf:");
	msg = xmalloc(n + 1);
	va_start(ap, fmt);
	vsnprintf(msg, n + 1, fmt, ap);
	va_end(ap);
	p->err = xasprintf("%s:%d: %s", p->path, line, msg);
	free(msg);
	return -1;
}

static int
node_line(TSNode n)
{
	return (int)ts_node_start_point(n).row + 1;
}

static bool
node_is(TSNode n, const char *type)
{
	return strcmp(ts_node_type(n), type) == 0;
}

/* Sets *out to a new array of the named children of n that are not
 * comments and returns how many there are. The caller frees *out. A cursor
 * keeps this linear; ts_node_named_child(n, i) walks from the first child. */
static size_t
children(TSNode n, TSNode **out)
{
	TSTreeCursor c = ts_tree_cursor_new(n);
	TSNode *v = NULL, x;
	size_t len = 0, cap = 0;

	if (ts_tree_cursor_goto_first_child(&c)) {
		do {
			x = ts_tree_cursor_current_node(&c);
			if (!ts_node_is_named(x) || node_is(x, "comment"))
				continue;
			v = xgrow(v, &cap, len + 1, sizeof(v[0]));
			v[len++] = x;
		} while (ts_tree_cursor_goto_next_sibling(&c));
	}
	ts_tree_cursor_delete(&c);
	*out = v;
	return len;
}


static void
put_utf8(struct buf *b, uint32_t c)
{
	char s[4];

	if (c < 0x80) {
		buf_putc(b, (char)c);
		return;
	}
	if (c < 0x800) {
		s[0] = (char)(0xc0 | c >> 6);
		s[1] = (char)(0x80 | (c & 0x3f));
		buf_add(b, s, 2);
	} else if (c < 0x10000) {
		s[0] = (char)(0xe0 | c >> 12);
		s[1] = (char)(0x80 | (c >> 6 & 0x3f));
		s[2] = (char)(0x80 | (c & 0x3f));
		buf_add(b, s, 3);
	} else {
		s[0] = (char)(0xf0 | c >> 18);
		s[1] = (char)(0x80 | (c >> 12 & 0x3f));
		s[2] = (char)(0x80 | (c >> 6 & 0x3f));
		s[3] = (char)(0x80 | (c & 0x3f));
		buf_add(b, s, 4);
	}
}

/* Decodes the string token s[0..n) (quotes included: "...", '...', """...""
 * or '''...''') into *out. */
static int
decode_string(struct parser *p, const char *s, size_t n, int line, char **out)
{
	struct buf b = {0};
	bool basic = s[0] == '"', multi = false;
	const char *e, *q, *start = s;
	uint32_t c;
	int i, len, d, quotes = 0;

	if (n >= 6 && s[1] == s[0] && s[2] == s[0]) {
		multi = true;
		s += 3;
		n -= 6;
		/* A newline right after the opening delimiter is trimmed. */
		if (n >= 1 && s[0] == '\n') {
			s++;
			n--;
		} else if (n >= 2 && s[0] == '\r' && s[1] == '\n') {
			s += 2;
			n -= 2;
		}
	} else {
		s++;
		n -= 2;
	}
	buf_add(&b, "", 0);
	for (e = s + n; s < e; s++) {
		if (multi && s[0] == '\r' && s + 1 < e && s[1] == '\n')
			continue;       /* CRLF becomes LF */
		if (!basic || *s != '\\') {
			/* The grammar lets three quotes through inside a
			 * multi-line string when more follow; TOML does not. */
			quotes = *s == start[0] ? quotes + 1 : 0;
			if (multi && quotes == 3) {
				for (q = start; q < s; q++)
					line += *q == '\n';
				buf_free(&b);
				return fail(p, line, "syntax error");
			}
			buf_putc(&b, *s);
			continue;
		}
		quotes = 0;
		if (++s == e)
			goto bad;
		switch (*s) {
		case 'b': buf_putc(&b, '\b'); break;
		case 't': buf_putc(&b, '\t'); break;
		case 'n': buf_putc(&b, '\n'); break;
		case 'f': buf_putc(&b, '\f'); break;
		case 'r': buf_putc(&b, '\r'); break;
		case '"': buf_putc(&b, '"'); break;
		case '\\': buf_putc(&b, '\\'); break;
		case 'u':
		case 'U':
			len = *s == 'u' ? 4 : 8;
			if (e - s <= len)
				goto bad;
			for (c = 0, i = 1; i <= len; i++) {
				if ((d = hexval(s[i])) < 0)
					goto bad;
				c = c << 4 | (uint32_t)d;
			}
			if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
				buf_free(&b);
				return fail(p, line, "invalid unicode escape '%.*s'", len + 2, s - 1);
			}
			put_utf8(&b, c);
			s += len;
			break;
		default:
			/* A backslash ending a line of a multi-line basic string
			 * swallows the newline and the whitespace after it. */
			if (!multi)
				goto bad;
			while (s < e && (*s == ' ' || *s == '\t'))
				s++;
			if (s == e || (*s != '\n' && *s != '\r'))
				goto bad;
			while (s < e && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
				s++;
			s--;
			break;
		}
	}
	*out = buf_take(&b);
	return 0;
bad:
	buf_free(&b);
	return fail(p, line, "invalid escape sequence");
}

static char *
node_text(struct parser *p, TSNode n)
{
	uint32_t start = ts_node_start_byte(n);

	return xstrndup(p->src + start, ts_node_end_byte(n) - start);
}

/* Appends the parts of a bare, quoted or dotted key to k. */
static int
key_parts(struct parser *p, TSNode n, struct keys *k, int depth)
{
	char *s;

	if (depth > MAX_DEPTH || k->n >= MAX_DEPTH)
		return fail(p, node_line(n), "key has too many parts");
	if (node_is(n, "dotted_key")) {
		TSNode *c;
		size_t i, count = children(n, &c);
		int ret = 0;

		for (i = 0; i < count && ret == 0; i++)
			ret = key_parts(p, c[i], k, depth + 1);
		free(c);
		return ret;
	}
	if (node_is(n, "bare_key")) {
		s = node_text(p, n);
	} else if (node_is(n, "quoted_key")) {
		uint32_t start = ts_node_start_byte(n), end = ts_node_end_byte(n);

		if (decode_string(p, p->src + start, end - start, node_line(n), &s) < 0)
			return -1;
	} else {
		return fail(p, node_line(n), "syntax error");
	}
	k->v = xgrow(k->v, &k->cap, k->n + 1, sizeof(k->v[0]));
	k->v[k->n++] = s;
	return 0;
}

static int
parse_integer(const char *s, size_t n, int64_t *out)
{
	uint64_t v = 0, lim = INT64_MAX;
	bool neg = false;
	int base = 10, d;

	if (n > 0 && (*s == '+' || *s == '-')) {
		neg = *s == '-';
		lim = (uint64_t)INT64_MAX + 1;
		s++;
		n--;
	}
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
		base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
		s += 2;
		n -= 2;
	}
	if (n == 0)
		return -1;
	for (; n > 0; s++, n--) {
		if (*s == '_')
			continue;
		d = hexval(*s);
		if (d < 0 || d >= base)
			return -1;
		if (v > (lim - (uint64_t)d) / (uint64_t)base)
			return -1;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	if (!neg)
		*out = (int64_t)v;
	else if (v == (uint64_t)INT64_MAX + 1)
		*out = INT64_MIN;
	else
		*out = -(int64_t)v;
	return 0;
}

static int
parse_float(const char *s, size_t n, double *out)
{
	char *t = xmalloc(n + 1), *end;
	size_t i, j = 0;
	int ret = 0;

	for (i = 0; i < n; i++)
		if (s[i] != '_')
			t[j++] = s[i];
	t[j] = '\0';
	*out = strtod(t, &end);
	if (j == 0 || *end != '\0')
		ret = -1;
	free(t);
	return ret;
}

/* The grammar checks the shape of a date and time but lets the year have
 * any number of digits and any month have 31 days. Returns 0 when the date
 * part of s, if any, is a real YYYY-MM-DD date. */
static int
check_date(const char *s, size_t n)
{
	static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d;

	if (n < 3 || s[2] == ':')
		return 0;       /* a local time */
	if (n < 10 || s[4] != '-')
		return -1;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (m < 1 || m > 12 || d < 1 || d > days[m - 1])
		return -1;
	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -1;
	return 0;
}

/* Marks an inline table or array value, and all it holds, as closed. */
static void
freeze(struct toml_value *v)
{
	size_t i;

	if (v->type != TOML_TABLE && v->type != TOML_ARRAY)
		return;
	if (node_of(v)->flags & FROZEN)
		return;         /* an inner value already closed with its contents */
	node_of(v)->flags |= FROZEN;
	for (i = 0; i < v->n; i++)
		freeze(v->items[i]);
}

static int insert_pair(struct parser *, struct toml_value *, TSNode, int);

static struct toml_value *
make_value(struct parser *p, TSNode n, int depth)
{
	uint32_t start = ts_node_start_byte(n), end = ts_node_end_byte(n);
	const char *type = ts_node_type(n), *s = p->src + start;
	int line = node_line(n);
	struct toml_value *v, *item;
	TSNode *c = NULL;
	size_t i, count;

	if (depth > MAX_DEPTH) {
		fail(p, line, "values nested too deeply");
		return NULL;
	}
	if (strcmp(type, "string") == 0) {
		v = node_new(TOML_STRING, line, 0);
		if (decode_string(p, s, end - start, line, &v->str) < 0) {
			toml_free(v);
			return NULL;
		}
	} else if (strcmp(type, "integer") == 0) {
		v = node_new(TOML_INTEGER, line, 0);
		if (parse_integer(s, end - start, &v->integer) < 0) {
			fail(p, line, "integer '%.*s' is out of range", (int)(end - start), s);
			toml_free(v);
			return NULL;
		}
	} else if (strcmp(type, "float") == 0) {
		v = node_new(TOML_FLOAT, line, 0);
		if (parse_float(s, end - start, &v->flt) < 0) {
			fail(p, line, "bad float '%.*s'", (int)(end - start), s);
			toml_free(v);
			return NULL;
		}
	} else if (strcmp(type, "boolean") == 0) {
		v = node_new(TOML_BOOL, line, 0);
		v->boolean = end - start == 4 && memcmp(s, "true", 4) == 0;
	} else if (strcmp(type, "offset_date_time") == 0 || strcmp(type, "local_date_time") == 0 ||
	           strcmp(type, "local_date") == 0 || strcmp(type, "local_time") == 0) {
		if (check_date(s, end - start) < 0) {
			fail(p, line, "bad date '%.*s'", (int)(end - start), s);
			return NULL;
		}
		v = node_new(TOML_DATETIME, line, 0);
		v->str = xstrndup(s, end - start);
	} else if (strcmp(type, "array") == 0) {
		v = node_new(TOML_ARRAY, line, 0);
		count = children(n, &c);
		for (i = 0; i < count; i++) {
			if (!(item = make_value(p, c[i], depth + 1)))
				break;
			array_add(v, item);
		}
		freeze(v);
	} else if (strcmp(type, "inline_table") == 0) {
		v = node_new(TOML_TABLE, line, 0);
		count = children(n, &c);
		for (i = 0; i < count; i++)
			if (insert_pair(p, v, c[i], depth + 1) < 0)
				break;
		freeze(v);
	} else {
		fail(p, line, "syntax error");
		return NULL;
	}
	free(c);
	if (p->err) {
		toml_free(v);
		return NULL;
	}
	return v;
}

/* Adds the pair node n (key = value) to table t, creating the tables its
 * dotted key names. */
static int
insert_pair(struct parser *p, struct toml_value *t, TSNode n, int depth)
{
	struct keys k = {0};
	struct toml_value *cur = t, *next, *v;
	struct node *nd;
	TSNode *c;
	int line = node_line(n), ret = -1;
	size_t i;
	char *name;

	if (children(n, &c) != 2) {
		fail(p, line, "syntax error");
		goto out;
	}
	if (key_parts(p, c[0], &k, 0) < 0)
		goto out;
	for (i = 0; i + 1 < k.n; i++) {
		next = table_find(cur, k.v[i]);
		if (!next) {
			next = node_new(TOML_TABLE, line, DOTTED);
			node_of(next)->section = p->section;
			table_add(cur, k.v[i], next);
			cur = next;
			continue;
		}
		nd = node_of(next);
		name = key_text(&k, i + 1);
		if (next->type == TOML_TABLE && (nd->flags & FROZEN)) {
			fail(p, line, "'%s' is an inline table and cannot be extended", name);
		} else if (next->type != TOML_TABLE) {
			fail(p, line, "'%s' is already defined as a value", name);
		} else if ((nd->flags & HEADER) ||
		           ((nd->flags & DOTTED) && nd->section != p->section)) {
			fail(p, line, "table '%s' is already defined", name);
		}
		free(name);
		if (p->err)
			goto out;
		nd->flags = (nd->flags & ~(unsigned)IMPLICIT) | DOTTED;
		nd->section = p->section;
		cur = next;
	}
	if (table_find(cur, k.v[k.n - 1])) {
		name = key_text(&k, k.n);
		fail(p, line, "duplicate key '%s'", name);
		free(name);
		goto out;
	}
	if (!(v = make_value(p, c[1], depth)))
		goto out;
	table_add(cur, k.v[k.n - 1], v);
	ret = 0;
out:
	free(c);
	keys_free(&k);
	return ret;
}

/* Opens the table named by the key of a [header] or [[header]] and returns
 * it, or NULL on error. */
static struct toml_value *
open_table(struct parser *p, TSNode key, bool aot)
{
	struct keys k = {0};
	struct toml_value *cur = p->root, *next, *res = NULL;
	int line = node_line(key);
	unsigned flags;
	size_t i;
	char *name = NULL;

	if (key_parts(p, key, &k, 0) < 0)
		goto out;
	for (i = 0; i + 1 < k.n; i++) {
		next = table_find(cur, k.v[i]);
		if (!next) {
			next = node_new(TOML_TABLE, line, IMPLICIT);
			table_add(cur, k.v[i], next);
		} else if (next->type == TOML_ARRAY && (node_of(next)->flags & AOT)) {
			next = next->items[next->n - 1];
		} else if (next->type != TOML_TABLE || (node_of(next)->flags & FROZEN)) {
			name = key_text(&k, i + 1);
			fail(p, line, next->type == TOML_TABLE ?
			     "'%s' is an inline table and cannot be extended" :
			     "'%s' is already defined as a value", name);
			goto out;
		}
		cur = next;
	}
	name = key_text(&k, k.n);
	next = table_find(cur, k.v[k.n - 1]);
	flags = next ? node_of(next)->flags : 0;
	if (aot) {
		if (!next) {
			next = node_new(TOML_ARRAY, line, AOT);
			table_add(cur, k.v[k.n - 1], next);
		} else if (next->type == TOML_TABLE && !(flags & FROZEN)) {
			fail(p, line, "'%s' is already defined as a table", name);
			goto out;
		} else if (next->type != TOML_ARRAY || !(flags & AOT)) {
			fail(p, line, "'%s' is already defined as a value", name);
			goto out;
		}
		res = node_new(TOML_TABLE, line, HEADER);
		array_add(next, res);
	} else if (!next) {
		res = node_new(TOML_TABLE, line, HEADER);
		table_add(cur, k.v[k.n - 1], res);
	} else if (next->type == TOML_ARRAY && (flags & AOT)) {
		fail(p, line, "'%s' is already defined as an array of tables", name);
	} else if (next->type != TOML_TABLE) {
		fail(p, line, "'%s' is already defined as a value", name);
	} else if (flags & FROZEN) {
		fail(p, line, "'%s' is an inline table and cannot be extended", name);
	} else if (flags != IMPLICIT) {
		fail(p, line, "duplicate table [%s]", name);
	} else {
		node_of(next)->flags = HEADER;
		next->line = line;
		res = next;
	}
out:
	free(name);
	keys_free(&k);
	return res;
}

/* Returns the line of the first syntax error under root. tree-sitter wraps
 * what it could not parse in an ERROR node, which often starts well before
 * the mistake: "x = [1, 2\n}" puts all of it in the ERROR. The point where
 * parsing gave up is closer to the mistake, so the line is that of the last
 * token in the ERROR, unless the ERROR starts with a header or holds a lone
 * quote (an unterminated string swallows the lines after it). A MISSING
 * node is zero-width at the place where the token was expected. */
static int
error_line(TSNode root)
{
	TSTreeCursor c = ts_tree_cursor_new(root);
	TSNode n = root, last, parent;
	const char *type;
	int line;

	for (;;) {
		n = ts_tree_cursor_current_node(&c);
		if (ts_node_is_missing(n) || node_is(n, "ERROR"))
			break;
		if (ts_node_has_error(n) && ts_tree_cursor_goto_first_child(&c))
			continue;
		while (!ts_tree_cursor_goto_next_sibling(&c)) {
			if (!ts_tree_cursor_goto_parent(&c)) {
				n = root;
				goto out;
			}
		}
	}
	if (ts_node_is_missing(n) || !ts_tree_cursor_goto_first_child(&c))
		goto out;
	/* A header must end on its line: "[a\nx = 1" is wrong on line 1. */
	last = ts_tree_cursor_current_node(&c);
	type = ts_node_type(last);
	parent = ts_node_parent(n);
	if (type[0] == '[' && (ts_node_is_null(parent) || !node_is(parent, "array"))) {
		n = last;
		goto out;
	}
	do {
		last = ts_tree_cursor_current_node(&c);
		type = ts_node_type(last);
		if (!ts_node_is_named(last) && (type[0] == '"' || type[0] == '\'')) {
			n = last;
			goto out;
		}
	} while (ts_tree_cursor_goto_next_sibling(&c));
	n = last;
out:
	line = node_line(n);
	ts_tree_cursor_delete(&c);
	return line;
}

/* Returns the line of the first byte that is not UTF-8, or 0. */
static int
bad_utf8_line(const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, n;
	unsigned cp;
	int line = 1;

	while (i < len) {
		if (!(n = utf8_decode(s + i, len - i, &cp)))
			return line;
		line += cp == '\n';
		i += n;
	}
	return 0;
}

/* TOML lets whitespace sit between a line-ending backslash and the newline
 * in a multi-line basic string; tree-sitter-toml wants the newline at once.
 * Returns a copy of src with each backslash, blanks, newline turned into
 * backslash, newline, blanks -- the same length, the same lines -- or NULL
 * when src has none. The tree of the copy is read with text taken from src:
 * only multi-line strings and comments can hold such a run, the string
 * decoder takes the blanks as TOML does, and anywhere else the run is a
 * syntax error either way. */
static char *
grammar_copy(const char *src, size_t len)
{
	const char *s = src, *e = src + len, *w, *nl;
	char *copy = NULL, *d;

	while ((s = memchr(s, '\\', e - s))) {
		for (w = ++s; w < e && (*w == ' ' || *w == '\t'); w++)
			;
		nl = w < e && *w == '\r' ? w + 1 : w;
		if (w == s || nl >= e || *nl != '\n')
			continue;
		if (!copy)
			copy = xstrndup(src, len);
		d = copy + (s - src);
		memcpy(d, w, nl + 1 - w);
		memset(d + (nl + 1 - w), ' ', w - s);
		s = nl + 1;
	}
	return copy;
}

struct toml_value *
toml_parse(const char *src, size_t len, const char *path, char **err)
{
	struct parser p = {.path = path};
	TSParser *ts = NULL;
	TSTree *tree = NULL;
	TSNode root, *top = NULL, *sec;
	struct toml_value *cur = NULL;
	size_t i, j, ntop = 0, nsec;
	char *copy;
	int line;

	*err = NULL;
	if (len >= 3 && memcmp(src, "\xef\xbb\xbf", 3) == 0) {
		src += 3;
		len -= 3;
	}
	p.src = src;
	if (len > UINT32_MAX) {
		fail(&p, 1, "file too large");
		goto out;
	}
	if ((line = bad_utf8_line(src, len)) > 0) {
		fail(&p, line, "invalid UTF-8");
		goto out;
	}
	ts = ts_parser_new();
	if (!ts_parser_set_language(ts, tree_sitter_toml()))
		fatal("tree-sitter-toml: incompatible language version");
	copy = grammar_copy(src, len);
	tree = ts_parser_parse_string(ts, NULL, copy ? copy : src, (uint32_t)len);
	free(copy);
	if (!tree) {
		fail(&p, 1, "cannot parse");
		goto out;
	}
	root = ts_tree_root_node(tree);
	if (ts_node_has_error(root)) {
		fail(&p, error_line(root), "syntax error");
		goto out;
	}
	p.root = node_new(TOML_TABLE, 1, HEADER);
	ntop = children(root, &top);
	for (i = 0; i < ntop && !p.err; i++) {
		if (node_is(top[i], "pair")) {
			insert_pair(&p, p.root, top[i], 0);
			continue;
		}
		/* A [table] or [[table]]: the header key, then its pairs. */
		p.section++;
		nsec = children(top[i], &sec);
		if (nsec == 0)
			fail(&p, node_line(top[i]), "syntax error");
		else
			cur = open_table(&p, sec[0], node_is(top[i], "table_array_element"));
		for (j = 1; j < nsec && !p.err; j++)
			insert_pair(&p, cur, sec[j], 0);
		free(sec);
	}
out:
	free(top);
	if (tree)
		ts_tree_delete(tree);
	if (ts)
		ts_parser_delete(ts);
	if (p.err) {
		toml_free(p.root);
		*err = p.err;
		return NULL;
	}
	return p.root;
}

const struct toml_value *
toml_get(const struct toml_value *table, const char *dotted)
{
	const struct toml_value *v = table;
	const char *s = dotted, *end;
	char *part;

	for (;;) {
		if (!v || v->type != TOML_TABLE)
			return NULL;
		/* A part may be quoted to hold dots: tool."a.b". */
		if (*s == '"' && (end = strchr(s + 1, '"'))) {
			part = xstrndup(s + 1, end - s - 1);
			end++;
		} else {
			end = s + strcspn(s, ".");
			part = xstrndup(s, end - s);
		}
		v = table_find(v, part);
		free(part);
		if (*end != '.')
			return *end ? NULL : v;
		s = end + 1;
	}
}
