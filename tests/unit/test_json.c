/* Unit tests for json (the one JSON writer) and utf8 (the one UTF-8
 * validator): escapes, every class of invalid UTF-8, bytes kept as they
 * are, numbers, nesting, commas and the layout's whitespace. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/json.h"
#include "lib/utf8.h"
#include "lib/util.h"

#define FFFD UTF8_REPLACEMENT

static void
check_n(const char *in, size_t n, const char *want)
{
	struct buf b = {0};
	struct json w;
	char *got;

	json_init(&w, &b, false);
	json_string_n(&w, in, n);
	got = buf_take(&b);
	assert_string_equal(got, want);
	free(got);
}

static void
check(const char *in, const char *want)
{
	check_n(in, strlen(in), want);
}

static void
test_escapes(void **state)
{
	(void)state;
	check("", "\"\"");
	check("plain", "\"plain\"");
	check("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
	check("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
	/* the other control characters, DEL is not one */
	check("\x01\x1f\x1b[0m\x7f", "\"\\u0001\\u001f\\u001b[0m\x7f\"");
	/* a NUL inside counted bytes */
	check_n("a\0b", 3, "\"a\\u0000b\"");
}

static void
test_valid_utf8(void **state)
{
	(void)state;
	/* 2, 3 and 4 bytes, the bounds of each length, U+FFFD itself */
	check("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80\"");
	check("\xc2\x80\xdf\xbf", "\"\xc2\x80\xdf\xbf\"");
	check("\xe0\xa0\x80\xef\xbf\xbf", "\"\xe0\xa0\x80\xef\xbf\xbf\"");
	check("\xed\x9f\xbf\xee\x80\x80", "\"\xed\x9f\xbf\xee\x80\x80\"");	/* around the surrogates */
	check("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", "\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"");
	check(FFFD, "\"" FFFD "\"");
}

static void
test_invalid_utf8(void **state)
{
	char in[2] = {0}, want[16];
	int c;

	(void)state;
	/* surrogates, encoded: one U+FFFD a byte */
	check("\xed\xa0\x80", "\"" FFFD FFFD FFFD "\"");
	check("a\xed\xbf\xbf" "b", "\"a" FFFD FFFD FFFD "b\"");
	/* lead bytes F5..FF never start a sequence */
	for (c = 0xf5; c <= 0xff; c++) {
		in[0] = (char)c;
		check(in, "\"" FFFD "\"");
	}
	check("\xf5\x80\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"");
	/* overlong forms: C0 and C1 leads, and 3 and 4 bytes too long */
	check("\xc0\xaf", "\"" FFFD FFFD "\"");
	check("\xc1\xbf", "\"" FFFD FFFD "\"");
	check("\xc0\x80", "\"" FFFD FFFD "\"");
	check("\xe0\x80\xaf", "\"" FFFD FFFD FFFD "\"");
	check("\xf0\x80\x80\xaf", "\"" FFFD FFFD FFFD FFFD "\"");
	/* above U+10FFFF */
	check("\xf4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"");
	/* truncated: at the end, and by a byte that is no continuation */
	check("x\xc3", "\"x" FFFD "\"");
	check("\xe6\x97", "\"" FFFD FFFD "\"");
	check("\xf0\x9f\x98", "\"" FFFD FFFD FFFD "\"");
	check("\xe6\x97" "a", "\"" FFFD FFFD "a\"");
	check("\xf0\x9f\x98\"", "\"" FFFD FFFD FFFD "\\\"\"");
	/* cut short by n though more bytes follow */
	check_n("\xc3\xa9", 1, "\"" FFFD "\"");
	/* lone continuation bytes */
	check("\x80", "\"" FFFD "\"");
	check("a\xbf" "b\x80\x80", "\"a" FFFD "b" FFFD FFFD "\"");
	/* a valid sequence right after an invalid byte survives */
	snprintf(want, sizeof(want), "\"%s\xc3\xa9\"", FFFD);
	check("\xff\xc3\xa9", want);
}

/* json_bytes: a path's bytes come back as they are, escapes still made */
static void
test_bytes(void **state)
{
	struct buf b = {0};
	struct json w;
	char *got;

	(void)state;
	json_init(&w, &b, true);
	json_array(&w);
	json_bytes(&w, "tests/test_caf\xe9.py");
	json_bytes(&w, "a|b\"c\\d\n\x01\xc3\xa9\xed\xa0\x80");
	json_end(&w);
	got = buf_take(&b);
	assert_string_equal(got, "[\"tests/test_caf\xe9.py\",\"a|b\\\"c\\\\d\\n\\u0001\xc3\xa9\xed\xa0\x80\"]");
	free(got);
}

static void
test_utf8_decode(void **state)
{
	unsigned cp = 0;

	(void)state;
	assert_int_equal(utf8_decode((const unsigned char *)"A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(utf8_decode((const unsigned char *)"\xc3\xa9", 2, &cp), 2);
	assert_int_equal(cp, 0xe9);
	assert_int_equal(utf8_decode((const unsigned char *)"\xe2\x82\xac", 3, &cp), 3);
	assert_int_equal(cp, 0x20ac);
	assert_int_equal(utf8_decode((const unsigned char *)"\xf4\x8f\xbf\xbf", 4, &cp), 4);
	assert_int_equal(cp, 0x10ffff);
	assert_int_equal(utf8_decode((const unsigned char *)"\xed\xa0\x80", 3, &cp), 0);
	assert_int_equal(utf8_decode((const unsigned char *)"\xc1\x81", 2, &cp), 0);
	assert_int_equal(utf8_decode((const unsigned char *)"\xe0\x9f\xbf", 3, &cp), 0);
	assert_int_equal(utf8_decode((const unsigned char *)"\xf0\x8f\xbf\xbf", 4, &cp), 0);
	assert_int_equal(utf8_decode((const unsigned char *)"\xf4\x90\x80\x80", 4, &cp), 0);
	assert_int_equal(utf8_decode((const unsigned char *)"\xf8\x88\x80\x80\x80", 5, &cp), 0);
	assert_int_equal(utf8_decode((const unsigned char *)"\xe2\x82\xac", 2, &cp), 0);
	assert_int_equal(utf8_decode((const unsigned char *)"\x80", 1, &cp), 0);
}

/* Writes a document of every kind of value, compact or not. */
static char *
doc(bool compact)
{
	struct buf b = {0};
	struct json w;

	json_init(&w, &b, compact);
	json_object(&w);
	json_key(&w, "s");
	json_string(&w, "x");
	json_key(&w, "n");
	json_string(&w, NULL);
	json_key(&w, "a");
	json_array(&w);
	json_int(&w, -3);
	json_uint(&w, 18446744073709551615ULL);
	json_bool(&w, true);
	json_bool(&w, false);
	json_null(&w);
	json_array(&w);
	json_end(&w);
	json_object(&w);
	json_end(&w);
	json_object(&w);
	json_key(&w, "k\"");
	json_array(&w);
	json_string(&w, "v");
	json_end(&w);
	json_end(&w);
	json_end(&w);
	json_key(&w, "e");
	json_object(&w);
	json_end(&w);
	json_end(&w);
	return buf_take(&b);
}

static void
test_nesting(void **state)
{
	char *s;

	(void)state;
	s = doc(false);
	assert_string_equal(s, "{\"s\": \"x\", \"n\": null, \"a\": [-3, 18446744073709551615, true, false, "
	    "null, [], {}, {\"k\\\"\": [\"v\"]}], \"e\": {}}");
	free(s);
	s = doc(true);
	assert_string_equal(s, "{\"s\":\"x\",\"n\":null,\"a\":[-3,18446744073709551615,true,false,"
	    "null,[],{},{\"k\\\"\":[\"v\"]}],\"e\":{}}");
	free(s);
}

static void
check_double(double d, const char *want)
{
	struct buf b = {0};
	struct json w;

	json_init(&w, &b, true);
	json_double(&w, d);
	assert_string_equal(b.data, want);
	buf_free(&b);
}

static void
test_numbers(void **state)
{
	struct buf b = {0};
	struct json w;

	(void)state;
	check_double(0, "0");
	check_double(-0.0, "0");
	check_double(3, "3");
	check_double(0.25, "0.25");
	check_double(0.1, "0.1");
	check_double(1e20, "1e+20");
	check_double(0.1 + 0.2, "0.30000000000000004");	/* 15 digits would not read back */
	check_double(1.0 / 0.0, "null");
	check_double(0.0 / 0.0, "null");
	json_init(&w, &b, false);
	json_array(&w);
	json_fixed(&w, 1.23456, 3);
	json_fixed(&w, 2, 3);
	json_fixed(&w, -1.0 / 0.0, 3);
	json_end(&w);
	assert_string_equal(b.data, "[1.235, 2.000, null]");
	buf_free(&b);
}

/* json_pad replaces the space after a comma, comes before the first item,
 * and before a closing bracket; json_resume goes on with a document. */
static void
test_pad(void **state)
{
	struct buf b = {0};
	struct json w;
	int i;

	(void)state;
	json_init(&w, &b, false);
	json_object(&w);
	json_key(&w, "root");
	json_string(&w, "r");
	json_pad(&w, "\n  ");
	json_key(&w, "list");
	json_array(&w);
	for (i = 0; i < 2; i++) {
		json_pad(&w, "\n    ");
		json_int(&w, i);
	}
	json_pad(&w, "\n  ");
	json_end(&w);
	json_key(&w, "x");
	json_int(&w, 1);
	json_end(&w);
	assert_string_equal(b.data, "{\"root\": \"r\",\n  \"list\": [\n    0,\n    1\n  ], \"x\": 1}");
	buf_free(&b);

	json_init(&w, &b, false);
	json_resume(&w, "{[");
	json_int(&w, 2);
	json_end(&w);
	json_pad(&w, "\n");
	json_key(&w, "k");
	json_null(&w);
	json_end(&w);
	assert_string_equal(b.data, ", 2],\n\"k\": null}");
	buf_free(&b);

	/* top-level values take no comma */
	json_init(&w, &b, true);
	json_object(&w);
	json_end(&w);
	json_pad(&w, "\n");
	json_object(&w);
	json_end(&w);
	assert_string_equal(b.data, "{}\n{}");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_valid_utf8),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_utf8_decode),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_pad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
