/* test_config - unit tests for gen/toml.c (the TOML document model) and
 * gen/config.c ([tool.tach] settings).
 *
 * TOML inputs are small strings in the tests; error cases are tables of
 * input and the exact message expected, so a changed message or line is a
 * visible failure. config_load() runs against temporary directories. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gen/config.h"
#include "gen/toml.h"
#include "lib/util.h"

/* Parses src, failing the test on an error. */
static struct toml_value *
parse(const char *src)
{
	struct toml_value *v;
	char *err = NULL;

	v = toml_parse(src, strlen(src), "t.toml", &err);
	if (!v)
		fail_msg("unexpected error: %s", err);
	assert_null(err);
	return v;
}

/* Parses src, expecting exactly the error want. */
static void
parse_fails(const char *src, const char *want)
{
	struct toml_value *v;
	char *err = NULL;

	v = toml_parse(src, strlen(src), "t.toml", &err);
	if (v) {
		toml_free(v);
		fail_msg("no error for:\n%s", src);
	}
	assert_non_null(err);
	if (strcmp(err, want) != 0)
		fail_msg("for:\n%s\nwant: %s\ngot:  %s", src, want, err);
	free(err);
}

static const struct toml_value *
get(const struct toml_value *t, const char *key, enum toml_type type)
{
	const struct toml_value *v = toml_get(t, key);

	if (!v)
		fail_msg("no key %s", key);
	if (v->type != type)
		fail_msg("%s is a %s, not a %s", key, toml_type_name(v->type), toml_type_name(type));
	return v;
}

static const char *
get_str(const struct toml_value *t, const char *key)
{
	return get(t, key, TOML_STRING)->str;
}

static int64_t
get_int(const struct toml_value *t, const char *key)
{
	return get(t, key, TOML_INTEGER)->integer;
}

static void
test_toml_strings(void **state)
{
	struct toml_value *t;

	(void)state;
	t = parse("a = \"x\\ty\\\"q\\\\b\\nc\\rd\\be\\ff\"\n"
	          "u = \"\\u00e9\\u20AC\\U0001F600\\u0041\"\n"
	          "lit = 'C:\\Users\\n \"q\"'\n"
	          "empty = \"\"\n"
	          "elit = ''\n"
	          "utf8 = \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"\n");
	assert_string_equal(get_str(t, "a"), "x\ty\"q\\b\nc\rd\be\ff");
	assert_string_equal(get_str(t, "u"), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" "A");
	assert_string_equal(get_str(t, "lit"), "C:\\Users\\n \"q\"");
	assert_string_equal(get_str(t, "empty"), "");
	assert_string_equal(get_str(t, "elit"), "");
	assert_string_equal(get_str(t, "utf8"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	assert_int_equal(toml_get(t, "u")->line, 2);
	assert_int_equal(toml_get(t, "utf8")->line, 6);
	toml_free(t);
}

static void
test_toml_numbers(void **state)
{
	struct toml_value *t;

	(void)state;
	t = parse("a = 42\nb = -17\nc = +5\nd = 1_000_000\n"
	          "e = 0xDEAD_beef\nf = 0o755\ng = 0b1101\n"
	          "max = 9223372036854775807\nmin = -9223372036854775808\nz = 0\n"
	          "f1 = 3.14\nf2 = -1e3\nf3 = 6.5E-2\nf4 = 1_0.2_5\n"
	          "pinf = inf\nninf = -inf\nnan = nan\nsnan = +nan\n"
	          "yes = true\nno = false\n");
	assert_int_equal(get_int(t, "a"), 42);
	assert_int_equal(get_int(t, "b"), -17);
	assert_int_equal(get_int(t, "c"), 5);
	assert_int_equal(get_int(t, "d"), 1000000);
	assert_int_equal(get_int(t, "e"), 0xdeadbeef);
	assert_int_equal(get_int(t, "f"), 0755);
	assert_int_equal(get_int(t, "g"), 13);
	assert_true(get_int(t, "max") == INT64_MAX);
	assert_true(get_int(t, "min") == INT64_MIN);
	assert_int_equal(get_int(t, "z"), 0);
	assert_true(get(t, "f1", TOML_FLOAT)->flt == 3.14);
	assert_true(get(t, "f2", TOML_FLOAT)->flt == -1000.0);
	assert_true(get(t, "f3", TOML_FLOAT)->flt == 0.065);
	assert_true(get(t, "f4", TOML_FLOAT)->flt == 10.25);
	assert_true(isinf(get(t, "pinf", TOML_FLOAT)->flt) && get(t, "pinf", TOML_FLOAT)->flt > 0);
	assert_true(isinf(get(t, "ninf", TOML_FLOAT)->flt) && get(t, "ninf", TOML_FLOAT)->flt < 0);
	assert_true(isnan(get(t, "nan", TOML_FLOAT)->flt));
	assert_true(isnan(get(t, "snan", TOML_FLOAT)->flt));
	assert_true(get(t, "yes", TOML_BOOL)->boolean);
	assert_false(get(t, "no", TOML_BOOL)->boolean);
	assert_int_equal(toml_get(t, "no")->line, 20);
	toml_free(t);
}

static void
test_toml_datetimes(void **state)
{
	struct toml_value *t;

	(void)state;
	t = parse("odt = 1979-05-27T07:32:00Z\n"
	          "off = 1979-05-27T00:32:00.999-07:00\n"
	          "ldt = 1979-05-27 07:32:00\n"
	          "ld = 1979-05-27\n"
	          "lt = 07:32:00.5\n"
	          "leap = 2024-02-29\n");
	assert_string_equal(get(t, "odt", TOML_DATETIME)->str, "1979-05-27T07:32:00Z");
	assert_string_equal(get(t, "off", TOML_DATETIME)->str, "1979-05-27T00:32:00.999-07:00");
	assert_string_equal(get(t, "ldt", TOML_DATETIME)->str, "1979-05-27 07:32:00");
	assert_string_equal(get(t, "ld", TOML_DATETIME)->str, "1979-05-27");
	assert_string_equal(get(t, "lt", TOML_DATETIME)->str, "07:32:00.5");
	assert_string_equal(get(t, "leap", TOML_DATETIME)->str, "2024-02-29");
	toml_free(t);
}

static void
test_toml_dotted_keys(void **state)
{
	struct toml_value *t;
	const struct toml_value *a;

	(void)state;
	t = parse("a.b.c = 1\n"
	          "a.b.d = 2\n"
	          "a . e = 3\n"
	          "\"x y\".'z' = 4\n"
	          "site.\"google.com\" = true\n"
	          "1234.5 = 5\n"
	          "[tbl . \"q k\"]\n"
	          "in.ner = 6\n");
	assert_int_equal(get_int(t, "a.b.c"), 1);
	assert_int_equal(get_int(t, "a.b.d"), 2);
	assert_int_equal(get_int(t, "a.e"), 3);
	assert_int_equal(get_int(t, "\"x y\".z"), 4);
	assert_true(get(t, "site.\"google.com\"", TOML_BOOL)->boolean);
	assert_int_equal(get_int(t, "1234.5"), 5);
	assert_int_equal(get_int(t, "tbl.\"q k\".in.ner"), 6);
	a = get(t, "a", TOML_TABLE);
	assert_int_equal(a->n, 2);
	assert_string_equal(a->keys[0], "b");
	assert_string_equal(a->keys[1], "e");
	assert_int_equal(a->line, 1);
	assert_int_equal(get(t, "tbl.\"q k\"", TOML_TABLE)->line, 7);
	toml_free(t);
}

static void
test_toml_tables(void **state)
{
	struct toml_value *t;

	(void)state;
	/* A header may define a table its sub-table created implicitly, and
	 * may add a sub-table to one made by dotted keys. */
	t = parse("top = 0\n"
	          "[a.b.c]\n"
	          "x = 1\n"
	          "[a]\n"
	          "y = 2\n"
	          "b.z = 3\n"
	          "[fruit]\n"
	          "apple.color = \"red\"\n"
	          "[fruit.apple.texture]\n"
	          "smooth = true\n"
	          "[empty]\n");
	assert_int_equal(get_int(t, "top"), 0);
	assert_int_equal(get_int(t, "a.b.c.x"), 1);
	assert_int_equal(get_int(t, "a.y"), 2);
	assert_int_equal(get_int(t, "a.b.z"), 3);
	assert_int_equal(get(t, "a", TOML_TABLE)->line, 4);
	assert_string_equal(get_str(t, "fruit.apple.color"), "red");
	assert_true(get(t, "fruit.apple.texture.smooth", TOML_BOOL)->boolean);
	assert_int_equal(get(t, "empty", TOML_TABLE)->n, 0);
	toml_free(t);
}

static void
test_toml_inline_tables(void **state)
{
	struct toml_value *t;
	const struct toml_value *v;

	(void)state;
	t = parse("p = { x = 1, y = { z = \"deep\" }, a.b = 2, list = [1, 2] }\n"
	          "e = {}\n"
	          "[t]\n"
	          "name = { first = \"Tom\", last = 'P' }\n");
	assert_int_equal(get_int(t, "p.x"), 1);
	assert_string_equal(get_str(t, "p.y.z"), "deep");
	assert_int_equal(get_int(t, "p.a.b"), 2);
	assert_int_equal(get(t, "p.list", TOML_ARRAY)->n, 2);
	assert_int_equal(get(t, "e", TOML_TABLE)->n, 0);
	v = get(t, "t.name", TOML_TABLE);
	assert_int_equal(v->n, 2);
	assert_string_equal(v->keys[0], "first");
	assert_string_equal(get_str(v, "last"), "P");
	assert_int_equal(v->line, 4);
	toml_free(t);
}

static void
test_toml_array_of_tables(void **state)
{
	struct toml_value *t;
	const struct toml_value *p, *list;

	(void)state;
	t = parse("[[p]]\n"
	          "n = 1\n"
	          "[[p]]\n"
	          "n = 2\n"
	          "[p.sub]\n"
	          "q = 3\n"
	          "[[p.list]]\n"
	          "z = 4\n"
	          "[[p.list]]\n"
	          "[[a.b]]\n"
	          "c = 5\n");
	p = get(t, "p", TOML_ARRAY);
	assert_int_equal(p->n, 2);
	assert_int_equal(p->items[0]->type, TOML_TABLE);
	assert_int_equal(get_int(p->items[0], "n"), 1);
	assert_null(toml_get(p->items[0], "sub"));
	assert_int_equal(get_int(p->items[1], "n"), 2);
	assert_int_equal(p->items[1]->line, 3);
	assert_int_equal(get_int(p->items[1], "sub.q"), 3);
	list = get(p->items[1], "list", TOML_ARRAY);
	assert_int_equal(list->n, 2);
	assert_int_equal(get_int(list->items[0], "z"), 4);
	assert_int_equal(list->items[1]->n, 0);
	/* toml_get does not index arrays. */
	assert_null(toml_get(t, "p.n"));
	assert_int_equal(get_int(get(t, "a.b", TOML_ARRAY)->items[0], "c"), 5);
	toml_free(t);
}

static void
test_toml_arrays(void **state)
{
	struct toml_value *t;
	const struct toml_value *a, *inner;

	(void)state;
	t = parse("a = [\n"
	          "  1,\n"
	          "  2, # two\n"
	          "  [3, [4, 5]],\n"
	          "  \"s\",\n"
	          "  { k = 'v' },\n"
	          "]\n"
	          "empty = []\n"
	          "blank = [\n\n]\n"
	          "tables = [ { x = 1 }, { x = 2 } ]\n");
	a = get(t, "a", TOML_ARRAY);
	assert_int_equal(a->line, 1);
	assert_int_equal(a->n, 5);
	assert_int_equal(a->items[0]->integer, 1);
	assert_int_equal(a->items[1]->line, 3);
	inner = a->items[2];
	assert_int_equal(inner->type, TOML_ARRAY);
	assert_int_equal(inner->n, 2);
	assert_int_equal(inner->items[0]->integer, 3);
	assert_int_equal(inner->items[1]->type, TOML_ARRAY);
	assert_int_equal(inner->items[1]->items[1]->integer, 5);
	assert_string_equal(a->items[3]->str, "s");
	assert_int_equal(a->items[3]->line, 5);
	assert_string_equal(get_str(a->items[4], "k"), "v");
	assert_int_equal(get(t, "empty", TOML_ARRAY)->n, 0);
	assert_int_equal(get(t, "blank", TOML_ARRAY)->n, 0);
	assert_int_equal(get_int(get(t, "tables", TOML_ARRAY)->items[1], "x"), 2);
	toml_free(t);
}

static void
test_toml_multiline_strings(void **state)
{
	struct toml_value *t;

	(void)state;
	t = parse("a = \"\"\"\n"
	          "Roses\n"
	          "  are \\\"red\\\"\"\"\"\"\n"
	          "b = \"\"\"one \\\n"
	          "       two \\\n"
	          "\n"
	          "    three\"\"\"\n"
	          "c = '''\n"
	          "raw \\n text\n"
	          "  ''x'''\n"
	          "d = '''no newline'''\n"
	          "e = \"\"\"\"\"\"\n"
	          "f = \"\"\"\"quoted\"\"\"\"\n"
	          "g = 1\n"
	          "h = \"\"\"x \\  \t\n"
	          "  y \\\\  \n"
	          "z\"\"\"\n"
	          "i = '''raw \\  \n''' # \\ \n");
	assert_string_equal(get_str(t, "a"), "Roses\n  are \"red\"\"");
	assert_string_equal(get_str(t, "b"), "one two three");
	assert_string_equal(get_str(t, "c"), "raw \\n text\n  ''x");
	assert_string_equal(get_str(t, "d"), "no newline");
	assert_string_equal(get_str(t, "e"), "");
	assert_string_equal(get_str(t, "f"), "\"quoted\"");
	assert_int_equal(toml_get(t, "b")->line, 4);
	assert_int_equal(toml_get(t, "c")->line, 8);
	assert_int_equal(toml_get(t, "g")->line, 14);
	/* Blanks may follow a line-ending backslash; an escaped one is text. */
	assert_string_equal(get_str(t, "h"), "x y \\  \nz");
	assert_string_equal(get_str(t, "i"), "raw \\  \n");
	assert_int_equal(toml_get(t, "i")->line, 18);
	toml_free(t);
}

static void
test_toml_bom_crlf(void **state)
{
	struct toml_value *t;

	(void)state;
	t = parse("\xef\xbb\xbf" "a = 1\r\n"
	          "b = \"\"\"\r\nx\r\ny \\\r\n  z\"\"\"\r\n"
	          "[t]\r\n"
	          "c = [\r\n  1,\r\n  2,\r\n]\r\n");
	assert_int_equal(get_int(t, "a"), 1);
	assert_string_equal(get_str(t, "b"), "x\ny z");
	assert_int_equal(get(t, "t.c", TOML_ARRAY)->n, 2);
	assert_int_equal(get(t, "t", TOML_TABLE)->line, 6);
	toml_free(t);
}

static void
test_toml_get(void **state)
{
	struct toml_value *t;

	(void)state;
	t = parse("[tool.tach]\nx = 1\n[tool.\"a.b\"]\ny = 2\n");
	assert_int_equal(get(t, "tool.tach", TOML_TABLE)->line, 1);
	assert_int_equal(get_int(t, "tool.tach.x"), 1);
	assert_int_equal(get_int(t, "tool.\"a.b\".y"), 2);
	assert_ptr_equal(toml_get(t, "tool"), get(t, "tool", TOML_TABLE));
	assert_null(toml_get(t, "tool.a.b"));
	assert_null(toml_get(t, "tool.tach.x.y"));
	assert_null(toml_get(t, "nope"));
	assert_null(toml_get(t, "tool.nope"));
	assert_null(toml_get(t, "tool.tach."));
	assert_null(toml_get(t, ""));
	assert_null(toml_get(NULL, "tool"));
	toml_free(t);
	t = parse("");
	assert_int_equal(t->type, TOML_TABLE);
	assert_int_equal(t->n, 0);
	toml_free(t);
	t = parse("# only a comment\n\n");
	assert_int_equal(t->n, 0);
	toml_free(t);
	assert_string_equal(toml_type_name(TOML_TABLE), "table");
	assert_string_equal(toml_type_name(TOML_ARRAY), "array");
	assert_string_equal(toml_type_name(TOML_STRING), "string");
	assert_string_equal(toml_type_name(TOML_INTEGER), "integer");
	assert_string_equal(toml_type_name(TOML_FLOAT), "float");
	assert_string_equal(toml_type_name(TOML_BOOL), "boolean");
	assert_string_equal(toml_type_name(TOML_DATETIME), "datetime");
}

static void
test_toml_syntax_errors(void **state)
{
	static const struct {
		const char *src, *err;
	} cases[] = {
		{"a = 1\nb =\nc = 2\n", "t.toml:2: syntax error"},
		{"a = 1\n[tool\nx = 1\n", "t.toml:2: syntax error"},
		{"[a]\nx = 1\n\n[b\ny = 2\n", "t.toml:4: syntax error"},
		{"a = \"unterminated\nb = 1\n", "t.toml:1: syntax error"},
		{"a = 1\nb = \"oops\nc = 2\nd = 3\n[t]\ne = 4\n", "t.toml:2: syntax error"},
		{"x = [\n 1,\n 2,\n}\n", "t.toml:4: syntax error"},
		{"a = 1\n\n\nb = [1, 2\nc = 3\n", "t.toml:5: syntax error"},
		{"[a]\nx = 1\ny = 2\nz = = 3\n", "t.toml:4: syntax error"},
		{"a = {x = 1,}\n", "t.toml:1: syntax error"},
		{"a = {x = 1\n}\n", "t.toml:1: syntax error"},
		{"a = 1 b = 2\n", "t.toml:1: syntax error"},
		{"a = -0x1F\n", "t.toml:1: syntax error"},
		{"a = 012\n", "t.toml:1: syntax error"},
		{"a = \"\\x41\"\n", "t.toml:1: syntax error"},
		{"a = tru\n", "t.toml:1: syntax error"},
		{"\n\n= 1\n", "t.toml:3: syntax error"},
		{"[a]\nb = 1\n[[c]\n", "t.toml:3: syntax error"},
		{"a = '''\nx\ny''''''\n", "t.toml:3: syntax error"},
		{"[\n  1,\n]\n", "t.toml:1: syntax error"},
		{"[\n1,\nb 2,\n]{\n", "t.toml:1: syntax error"},     /* the root is an ERROR */
		{"}\n", "t.toml:1: syntax error"},
		{"a = \"\"\"\nx\"\"\"\"\"\"\n", "t.toml:2: syntax error"},
		{"a = \"\xff\"\n", "t.toml:1: invalid UTF-8"},
		{"a = 1\nb = \"\xed\xa0\x80\"\n", "t.toml:2: invalid UTF-8"},
		{"a = \"\xe0\x80\xaf\"\n", "t.toml:1: invalid UTF-8"},
		{"a = \"\xf0\x80\x80\xaf\"\n", "t.toml:1: invalid UTF-8"},
		{"\xc3", "t.toml:1: invalid UTF-8"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < LEN(cases); i++)
		parse_fails(cases[i].src, cases[i].err);
}

static void
test_toml_semantic_errors(void **state)
{
	static const struct {
		const char *src, *err;
	} cases[] = {
		{"a = 1\nb = 2\na = 3\n", "t.toml:3: duplicate key 'a'"},
		{"[t]\nx.y = 1\nx.y = 2\n", "t.toml:3: duplicate key 'x.y'"},
		{"\"a b\" = 1\n'a b' = 2\n", "t.toml:2: duplicate key '\"a b\"'"},
		{"[a]\nx = 1\n[b]\n[a]\n", "t.toml:4: duplicate table [a]"},
		{"[a.b]\n[a.b]\n", "t.toml:2: duplicate table [a.b]"},
		{"[fruit]\napple.color = 1\n[fruit.apple]\n", "t.toml:3: duplicate table [fruit.apple]"},
		{"a.b = 1\n[x]\n[a]\n", "t.toml:3: duplicate table [a]"},
		{"[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n", "t.toml:4: table 'b.c' is already defined"},
		{"[t]\na.b = 1\n[u]\n[t]\n", "t.toml:4: duplicate table [t]"},
		{"a = 1\na.b = 2\n", "t.toml:2: 'a' is already defined as a value"},
		{"a = 1\n[a]\n", "t.toml:2: 'a' is already defined as a value"},
		{"a = 1\n[a.b]\n", "t.toml:2: 'a' is already defined as a value"},
		{"a = [1]\n[[a]]\n", "t.toml:2: 'a' is already defined as a value"},
		{"[a]\n[[a]]\n", "t.toml:2: 'a' is already defined as a table"},
		{"[[a]]\n[a]\n", "t.toml:2: 'a' is already defined as an array of tables"},
		{"a = {x = 1}\n[a.b]\n", "t.toml:2: 'a' is an inline table and cannot be extended"},
		{"a = {x = 1}\na.y = 2\n", "t.toml:2: 'a' is an inline table and cannot be extended"},
		{"a = {x = 1}\n[a]\n", "t.toml:2: 'a' is an inline table and cannot be extended"},
		{"a = {b = {c = 1}, b.d = 2}\n", "t.toml:1: 'b' is an inline table and cannot be extended"},
		{"a = {x = 1, x = 2}\n", "t.toml:1: duplicate key 'x'"},
		{"a = 9223372036854775808\n", "t.toml:1: integer '9223372036854775808' is out of range"},
		{"a = 19-05-27\n", "t.toml:1: bad date '19-05-27'"},
		{"a = 2023-02-29T10:00:00Z\n", "t.toml:1: bad date '2023-02-29T10:00:00Z'"},
		{"a = 2023-04-31\n", "t.toml:1: bad date '2023-04-31'"},
		{"a = -9223372036854775809\n", "t.toml:1: integer '-9223372036854775809' is out of range"},
		{"\n\na = \"\\uD800\"\n", "t.toml:3: invalid unicode escape '\\uD800'"},
		{"a = \"\\U00110000\"\n", "t.toml:1: invalid unicode escape '\\U00110000'"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < LEN(cases); i++)
		parse_fails(cases[i].src, cases[i].err);
}

static void
test_toml_deep_nesting(void **state)
{
	struct buf b = {0};
	struct toml_value *t;
	char *err = NULL;
	int i;

	(void)state;
	buf_puts(&b, "a = ");
	for (i = 0; i < 100; i++)
		buf_putc(&b, '[');
	for (i = 0; i < 100; i++)
		buf_putc(&b, ']');
	buf_putc(&b, '\n');
	t = parse(b.data);
	toml_free(t);
	buf_free(&b);

	buf_puts(&b, "a = ");
	for (i = 0; i < 5000; i++)
		buf_putc(&b, '[');
	for (i = 0; i < 5000; i++)
		buf_putc(&b, ']');
	buf_putc(&b, '\n');
	assert_null(toml_parse(b.data, b.len, "t.toml", &err));
	assert_string_equal(err, "t.toml:1: values nested too deeply");
	free(err);
	buf_free(&b);
}

/* Runs config_parse on src, expecting success. */
static void
config_ok(struct config *c, const char *src)
{
	char *err = NULL;

	if (config_parse(c, src, strlen(src), "pyproject.toml", &err) != 0)
		fail_msg("unexpected error: %s", err);
	assert_null(err);
}

static void
config_fails(const char *src, const char *want)
{
	struct config c;
	char *err = NULL;

	if (config_parse(&c, src, strlen(src), "pyproject.toml", &err) == 0) {
		config_free(&c);
		fail_msg("no error for:\n%s", src);
	}
	assert_non_null(err);
	if (strcmp(err, want) != 0)
		fail_msg("for:\n%s\nwant: %s\ngot:  %s", src, want, err);
	free(err);
	config_free(&c);
}

static void
test_config_all_keys(void **state)
{
	struct config c;

	(void)state;
	config_ok(&c, "[project]\n"
	              "name = \"demo\"\n"
	              "dependencies = [\"requests>=2\"]\n"
	              "\n"
	              "[tool.tach]\n"
	              "toxic-modules = [\"mylib.gpu\", \"_private\", \"a.b_c.D9\"]\n"
	              "safe-modules = [\n"
	              "    \"socket\",  # we only resolve names\n"
	              "    \"concurrent.futures\",\n"
	              "]\n"
	              "source-roots = [\"src\", \"lib/\", \".\", \"a/../b\"]\n"
	              "exclude = [\"build/*\", \"*_pb2.py\"]\n"
	              "\n"
	              "[tool.other]\n"
	              "x = 1\n");
	assert_string_equal(c.path, "pyproject.toml");
	assert_int_equal(c.toxic_modules.n, 3);
	assert_string_equal(c.toxic_modules.v[0], "mylib.gpu");
	assert_string_equal(c.toxic_modules.v[1], "_private");
	assert_string_equal(c.toxic_modules.v[2], "a.b_c.D9");
	assert_int_equal(c.safe_modules.n, 2);
	assert_string_equal(c.safe_modules.v[0], "socket");
	assert_string_equal(c.safe_modules.v[1], "concurrent.futures");
	assert_int_equal(c.source_roots.n, 4);
	assert_string_equal(c.source_roots.v[0], "src");
	assert_string_equal(c.source_roots.v[1], "lib");
	assert_string_equal(c.source_roots.v[2], ".");
	assert_string_equal(c.source_roots.v[3], "a/../b");
	assert_int_equal(c.exclude.n, 2);
	assert_string_equal(c.exclude.v[0], "build/*");
	assert_string_equal(c.exclude.v[1], "*_pb2.py");
	config_free(&c);

	/* The same keys written as dotted keys and as an inline table. */
	config_ok(&c, "tool.tach.toxic-modules = [\"x\"]\n"
	              "tool.tach.exclude = []\n");
	assert_int_equal(c.toxic_modules.n, 1);
	assert_int_equal(c.exclude.n, 0);
	config_free(&c);
	config_ok(&c, "[tool]\ntach = { safe-modules = ['grpc'] }\n");
	assert_int_equal(c.safe_modules.n, 1);
	assert_string_equal(c.safe_modules.v[0], "grpc");
	config_free(&c);
}

static void
test_config_no_tool_tach(void **state)
{
	static const char *srcs[] = {
		"",
		"[project]\nname = \"x\"\n",
		"[tool.black]\nline-length = 100\n",
		"tool = 1\n",
		"[tool.tach]\n",
		"[tool.tachyon]\nx = 1\n",
	};
	struct config c;
	size_t i;

	(void)state;
	for (i = 0; i < LEN(srcs); i++) {
		config_ok(&c, srcs[i]);
		assert_int_equal(c.toxic_modules.n, 0);
		assert_int_equal(c.safe_modules.n, 0);
		assert_int_equal(c.source_roots.n, 0);
		assert_int_equal(c.exclude.n, 0);
		assert_string_equal(c.path, "pyproject.toml");
		config_free(&c);
	}
}

static void
test_config_bad_values(void **state)
{
	static const struct {
		const char *src, *err;
	} cases[] = {
		{"[tool.tach]\ntoxic-modules = \"torch\"\n",
		 "pyproject.toml:2: [tool.tach] toxic-modules must be an array of strings"},
		{"[tool.tach]\nsafe-modules = 1\n",
		 "pyproject.toml:2: [tool.tach] safe-modules must be an array of strings"},
		{"[tool.tach]\nsource-roots = {a = 1}\n",
		 "pyproject.toml:2: [tool.tach] source-roots must be an array of strings"},
		{"[tool.tach]\n\nexclude = true\n",
		 "pyproject.toml:3: [tool.tach] exclude must be an array of strings"},
		{"[tool.tach]\ntoxic-modules = [\n  \"a\",\n  \"b\",\n  3,\n]\n",
		 "pyproject.toml:5: [tool.tach] toxic-modules must be an array of strings"},
		{"[tool.tach]\nexclude = [\"x\", [\"y\"]]\n",
		 "pyproject.toml:2: [tool.tach] exclude must be an array of strings"},
		{"[tool.tach.toxic-modules]\nx = 1\n",
		 "pyproject.toml:1: [tool.tach] toxic-modules must be an array of strings"},
		{"[tool]\ntach = 1\n",
		 "pyproject.toml:2: [tool.tach] must be a table, not integer"},
		{"[tool]\ntach = [\"a\"]\n",
		 "pyproject.toml:2: [tool.tach] must be a table, not array"},
		{"[[tool.tach]]\n",
		 "pyproject.toml:1: [tool.tach] must be a table, not array"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < LEN(cases); i++)
		config_fails(cases[i].src, cases[i].err);
}

static void
test_config_bad_module_name(void **state)
{
	static const struct {
		const char *src, *err;
	} cases[] = {
		{"[tool.tach]\ntoxic-modules = [\"ok\", \"foo-bar\"]\n",
		 "pyproject.toml:2: [tool.tach] toxic-modules: 'foo-bar' is not a valid module name"},
		{"[tool.tach]\nsafe-modules = [\n  \"a.b\",\n  \"a..b\",\n]\n",
		 "pyproject.toml:4: [tool.tach] safe-modules: 'a..b' is not a valid module name"},
		{"[tool.tach]\ntoxic-modules = [\"9lives\"]\n",
		 "pyproject.toml:2: [tool.tach] toxic-modules: '9lives' is not a valid module name"},
		{"[tool.tach]\ntoxic-modules = [\"\"]\n",
		 "pyproject.toml:2: [tool.tach] toxic-modules: '' is not a valid module name"},
		{"[tool.tach]\ntoxic-modules = [\"a.\"]\n",
		 "pyproject.toml:2: [tool.tach] toxic-modules: 'a.' is not a valid module name"},
		{"[tool.tach]\ntoxic-modules = [\".a\"]\n",
		 "pyproject.toml:2: [tool.tach] toxic-modules: '.a' is not a valid module name"},
		{"[tool.tach]\ntoxic-modules = [\"a b\"]\n",
		 "pyproject.toml:2: [tool.tach] toxic-modules: 'a b' is not a valid module name"},
		{"[tool.tach]\ntoxic-modules = [\"torch.*\"]\n",
		 "pyproject.toml:2: [tool.tach] toxic-modules: 'torch.*' is not a valid module name"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < LEN(cases); i++)
		config_fails(cases[i].src, cases[i].err);
}

static void
test_config_source_roots(void **state)
{
	static const struct {
		const char *src, *err;
	} cases[] = {
		{"[tool.tach]\nsource-roots = [\"src\", \"..\"]\n",
		 "pyproject.toml:2: [tool.tach] source-roots: '..' is outside the project root"},
		{"[tool.tach]\nsource-roots = [\n\"../lib\"]\n",
		 "pyproject.toml:3: [tool.tach] source-roots: '../lib' is outside the project root"},
		{"[tool.tach]\nsource-roots = [\"a/../../b\"]\n",
		 "pyproject.toml:2: [tool.tach] source-roots: 'a/../../b' is outside the project root"},
		{"[tool.tach]\nsource-roots = [\"./..\"]\n",
		 "pyproject.toml:2: [tool.tach] source-roots: './..' is outside the project root"},
		{"[tool.tach]\nsource-roots = [\"/usr/lib\"]\n",
		 "pyproject.toml:2: [tool.tach] source-roots: '/usr/lib' must be a path relative"
		 " to the project root"},
		{"[tool.tach]\nsource-roots = [\"\"]\n",
		 "pyproject.toml:2: [tool.tach] source-roots: '' must not be empty"},
		{"[tool.tach]\nexclude = [\"\"]\n",
		 "pyproject.toml:2: [tool.tach] exclude: '' must not be empty"},
	};
	struct config c;
	size_t i;

	(void)state;
	for (i = 0; i < LEN(cases); i++)
		config_fails(cases[i].src, cases[i].err);
	config_ok(&c, "[tool.tach]\nsource-roots = [\"a/b/../c\", \"x/..\", \"..a\", \"src//\"]\n");
	assert_int_equal(c.source_roots.n, 4);
	assert_string_equal(c.source_roots.v[2], "..a");
	assert_string_equal(c.source_roots.v[3], "src");
	config_free(&c);
}

/* Runs config_parse on src with stderr sent to a file and returns what was
 * written there; the caller frees it. */
static char *
config_stderr(struct config *c, const char *src, int *ret, char **err)
{
	char path[] = "/tmp/tach-test-stderr.XXXXXX", *out;
	size_t len;
	int fd, saved;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(fd, 2) >= 0);
	*ret = config_parse(c, src, strlen(src), "proj/pyproject.toml", err);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	assert_int_equal(read_file(path, &out, &len), 0);
	unlink(path);
	return out;
}

static void
test_config_unknown_key(void **state)
{
	struct config c;
	char *err = NULL, *out;
	int ret;

	(void)state;
	out = config_stderr(&c, "[tool.tach]\n"
	                        "toxic-modules = [\"x\"]\n"
	                        "cache-max-mb = 512\n"
	                        "cache-max-gb = 1\n"
	                        "deadline.seconds = 3\n", &ret, &err);
	assert_int_equal(ret, 0);
	assert_null(err);
	assert_string_equal(out,
	                    "tach: proj/pyproject.toml:4: unknown key 'cache-max-gb' in [tool.tach]\n"
	                    "tach: proj/pyproject.toml:5: unknown key 'deadline' in [tool.tach]\n");
	assert_int_equal(c.toxic_modules.n, 1);
	assert_int_equal(c.cache_max_mb, 512);
	free(out);
	config_free(&c);

	/* a test's time: whole seconds, 1 to a week */
	out = config_stderr(&c, "[tool.tach]\ntimeout = 45\n", &ret, &err);
	assert_int_equal(ret, 0);
	assert_int_equal(c.timeout, 45);
	free(out);
	config_free(&c);
	out = config_stderr(&c, "[tool.tach]\ntimeout = 0\n", &ret, &err);
	assert_int_equal(ret, -1);
	assert_string_equal(err, "proj/pyproject.toml:2: [tool.tach] timeout must be a whole number from 1 to 604800");
	free(err);
	err = NULL;
	free(out);
	config_free(&c);

	/* Integer settings are range-checked. */
	out = config_stderr(&c, "[tool.tach]\ncache-ttl-days = 0\n", &ret, &err);
	assert_int_equal(ret, -1);
	assert_string_equal(err, "proj/pyproject.toml:2: [tool.tach] cache-ttl-days must be a whole number from 1 to 3650");
	free(err);
	err = NULL;
	free(out);
	config_free(&c);
	out = config_stderr(&c, "[tool.tach]\nredis-timeout-ms = \"5\"\n", &ret, &err);
	assert_int_equal(ret, -1);
	assert_non_null(strstr(err, ":2: [tool.tach] redis-timeout-ms must be a whole number"));
	free(err);
	err = NULL;
	free(out);
	config_free(&c);

	/* A bad value after an unknown key still fails. */
	out = config_stderr(&c, "[tool.tach]\nfoo = 1\nexclude = 2\n", &ret, &err);
	assert_int_equal(ret, -1);
	assert_string_equal(out, "tach: proj/pyproject.toml:2: unknown key 'foo' in [tool.tach]\n");
	assert_string_equal(err, "proj/pyproject.toml:3: [tool.tach] exclude must be an array of strings");
	free(out);
	free(err);
	config_free(&c);
}

static void
test_config_toml_errors(void **state)
{
	(void)state;
	config_fails("[project]\nname = \"x\"\n[tool.tach\ntoxic-modules = []\n",
	             "pyproject.toml:3: syntax error");
	config_fails("[tool.tach]\nexclude = []\nexclude = []\n",
	             "pyproject.toml:3: duplicate key 'exclude'");
	config_fails("[tool.tach]\n[tool.tach]\n",
	             "pyproject.toml:2: duplicate table [tool.tach]");
}

static char *
make_tmpdir(void)
{
	char tmpl[] = "/tmp/tach-test-config.XXXXXX";

	if (!mkdtemp(tmpl))
		fail_msg("mkdtemp: %s", strerror(errno));
	return xstrdup(tmpl);
}

static void
write_text(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(s, f);
	assert_int_equal(fclose(f), 0);
}

static void
test_config_load(void **state)
{
	struct config c;
	char *dir, *path, *err = NULL, *want;

	(void)state;
	dir = make_tmpdir();
	path = path_join(dir, "pyproject.toml");

	/* No pyproject.toml: an empty config. */
	assert_int_equal(config_load(&c, dir, &err), 0);
	assert_null(err);
	assert_null(c.path);
	assert_int_equal(c.toxic_modules.n + c.safe_modules.n + c.source_roots.n + c.exclude.n, 0);
	config_free(&c);

	write_text(path, "[project]\nname = \"demo\"\n\n[tool.tach]\n"
	                 "toxic-modules = [\"mylib.gpu\"]\nsource-roots = [\"src\"]\n");
	assert_int_equal(config_load(&c, dir, &err), 0);
	assert_null(err);
	assert_string_equal(c.path, path);
	assert_int_equal(c.toxic_modules.n, 1);
	assert_string_equal(c.toxic_modules.v[0], "mylib.gpu");
	assert_int_equal(c.source_roots.n, 1);
	config_free(&c);

	/* Errors name the real path. */
	write_text(path, "[tool.tach]\nsafe-modules = \"socket\"\n");
	assert_int_equal(config_load(&c, dir, &err), -1);
	want = xasprintf("%s:2: [tool.tach] safe-modules must be an array of strings", path);
	assert_string_equal(err, want);
	free(want);
	free(err);
	err = NULL;
	config_free(&c);

	/* A pyproject.toml that cannot be read is an error. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(config_load(&c, dir, &err), -1);
	assert_non_null(err);
	assert_true(strncmp(err, path, strlen(path)) == 0);
	assert_non_null(strstr(err, strerror(EISDIR)));
	free(err);
	config_free(&c);

	assert_int_equal(rmdir(path), 0);
	assert_int_equal(rmdir(dir), 0);
	free(path);
	free(dir);
}

static void
test_config_real_world(void **state)
{
	struct config c;

	(void)state;
	/* The shapes of pyproject.toml files seen in the wild: PEP 621
	 * metadata, build-system, tool sections with dotted keys, arrays of
	 * tables, multi-line arrays with comments, literal strings. */
	config_ok(&c,
	          "[build-system]\n"
	          "requires = [\"setuptools>=61.0\", \"wheel\"]\n"
	          "build-backend = \"setuptools.build_meta\"\n"
	          "\n"
	          "[project]\n"
	          "name = \"example-pkg\"\n"
	          "version = \"0.1.0\"\n"
	          "description = \"An example\"\n"
	          "readme = \"README.md\"\n"
	          "requires-python = \">=3.8\"\n"
	          "license = {text = \"MIT\"}\n"
	          "authors = [\n"
	          "  {name = \"A. Person\", email = \"a@example.com\"},\n"
	          "]\n"
	          "classifiers = [\n"
	          "    \"Programming Language :: Python :: 3\",\n"
	          "    \"Operating System :: OS Independent\",\n"
	          "]\n"
	          "dependencies = [\n"
	          "    \"httpx\",\n"
	          "    'gidgethub[httpx]>4.0.0',\n"
	          "    \"django>2.1; os_name != 'nt'\",\n"
	          "]\n"
	          "\n"
	          "[project.optional-dependencies]\n"
	          "test = [\"pytest>=7\", \"pytest-cov\"]\n"
	          "\n"
	          "[project.scripts]\n"
	          "example = \"example.cli:main\"\n"
	          "\n"
	          "[tool.setuptools.packages.find]\n"
	          "where = [\"src\"]\n"
	          "\n"
	          "[tool.black]\n"
	          "line-length = 88\n"
	          "target-version = ['py38', 'py39']\n"
	          "include = '\\.pyi?$'\n"
	          "extend-exclude = '''\n"
	          "/(\n"
	          "  | profiling\n"
	          ")/\n"
	          "'''\n"
	          "\n"
	          "[tool.poetry.dependencies]\n"
	          "python = \"^3.8\"\n"
	          "requests = { version = \"^2.28\", optional = true }\n"
	          "\n"
	          "[[tool.poetry.source]]\n"
	          "name = \"private\"\n"
	          "url = \"https://example.com/simple/\"\n"
	          "\n"
	          "[tool.pytest.ini_options]\n"
	          "minversion = \"6.0\"\n"
	          "addopts = \"-ra -q\"\n"
	          "testpaths = [\n"
	          "    \"tests\",\n"
	          "    \"integration\",\n"
	          "]\n"
	          "\n"
	          "[tool.mypy]\n"
	          "strict = true\n"
	          "plugins = [\"pydantic.mypy\"]\n"
	          "\n"
	          "[[tool.mypy.overrides]]\n"
	          "module = [\"yaml.*\"]\n"
	          "ignore_missing_imports = true\n"
	          "\n"
	          "[tool.ruff]\n"
	          "line-length = 100\n"
	          "lint.select = [\"E\", \"F\"]\n"
	          "lint.per-file-ignores.\"__init__.py\" = [\"F401\"]\n"
	          "\n"
	          "[tool.coverage.run]\n"
	          "branch = true\n"
	          "omit = [\"*/tests/*\"]\n"
	          "\n"
	          "[tool.tach]\n"
	          "# Modules our team found unsafe under fork.\n"
	          "toxic-modules = [\n"
	          "    \"example.db\",     # opens a pool at import\n"
	          "    \"example.metrics\",\n"
	          "]\n"
	          "source-roots = [\"src\"]\n");
	assert_int_equal(c.toxic_modules.n, 2);
	assert_string_equal(c.toxic_modules.v[1], "example.metrics");
	assert_int_equal(c.source_roots.n, 1);
	config_free(&c);
}

static void
test_strlist(void **state)
{
	struct strlist l = {0};
	char s[] = "abc";
	int i;

	(void)state;
	for (i = 0; i < 20; i++)
		strlist_add(&l, s);
	s[0] = 'x';
	assert_int_equal(l.n, 20);
	assert_string_equal(l.v[19], "abc");
	strlist_free(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.v);
	strlist_free(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_toml_strings),
		cmocka_unit_test(test_toml_numbers),
		cmocka_unit_test(test_toml_datetimes),
		cmocka_unit_test(test_toml_dotted_keys),
		cmocka_unit_test(test_toml_tables),
		cmocka_unit_test(test_toml_inline_tables),
		cmocka_unit_test(test_toml_array_of_tables),
		cmocka_unit_test(test_toml_arrays),
		cmocka_unit_test(test_toml_multiline_strings),
		cmocka_unit_test(test_toml_bom_crlf),
		cmocka_unit_test(test_toml_get),
		cmocka_unit_test(test_toml_syntax_errors),
		cmocka_unit_test(test_toml_semantic_errors),
		cmocka_unit_test(test_toml_deep_nesting),
		cmocka_unit_test(test_strlist),
		cmocka_unit_test(test_config_all_keys),
		cmocka_unit_test(test_config_no_tool_tach),
		cmocka_unit_test(test_config_bad_values),
		cmocka_unit_test(test_config_bad_module_name),
		cmocka_unit_test(test_config_source_roots),
		cmocka_unit_test(test_config_unknown_key),
		cmocka_unit_test(test_config_toml_errors),
		cmocka_unit_test(test_config_load),
		cmocka_unit_test(test_config_real_world),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
