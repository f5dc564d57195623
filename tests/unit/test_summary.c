/* Unit tests for summary (tach-results): counting rules, JUnit names, XML
 * escaping, results.json, reading result files, the list file's lines and the
 * printed summary. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cJSON.h>

#include "runtime/summary.h"
#include "lib/util.h"

static void
add(struct summary *s, const char *nodeid, const char *outcome, const char *signal)
{
	char *text = xasprintf("{\"tests\": [{\"nodeid\": \"%s\", \"outcome\": \"%s\", "
	    "\"mode\": \"hypervisor\", \"duration\": 0.5, \"message\": \"line one\\nline two\", "
	    "\"stdout\": \"\", \"stderr\": \"\", \"signal\": %s%s%s}]}", nodeid, outcome,
	    signal ? "\"" : "", signal ? signal : "null", signal ? "\"" : "");

	assert_int_equal(summary_add_text(s, text, strlen(text), "r.json", NULL), 0);
	free(text);
}

static void
test_kind(void **state)
{
	(void)state;
	assert_int_equal(summary_kind("passed"), SUMMARY_PASSED);
	assert_int_equal(summary_kind("skipped"), SUMMARY_SKIPPED);
	assert_int_equal(summary_kind("xfailed"), SUMMARY_SKIPPED);
	assert_int_equal(summary_kind("failed"), SUMMARY_FAILURE);
	assert_int_equal(summary_kind("crashed"), SUMMARY_ERROR);
	assert_int_equal(summary_kind("timeout"), SUMMARY_ERROR);
	assert_int_equal(summary_kind("error"), SUMMARY_ERROR);
	/* an outcome nobody knows is never a success */
	assert_int_equal(summary_kind("xpassed"), SUMMARY_ERROR);
	assert_int_equal(summary_kind(""), SUMMARY_ERROR);
}

static void
test_count(void **state)
{
	struct summary s;
	struct summary_counts c;

	(void)state;
	summary_init(&s);
	summary_count(&s, &c);
	assert_int_equal(c.tests, 0);
	assert_int_equal(c.passed + c.failed + c.skipped, 0);
	add(&s, "a.py::p1", "passed", NULL);
	add(&s, "a.py::p2", "passed", NULL);
	add(&s, "a.py::s", "skipped", NULL);
	add(&s, "a.py::x", "xfailed", NULL);
	add(&s, "a.py::f", "failed", NULL);
	add(&s, "a.py::c", "crashed", "SIGSEGV");
	add(&s, "a.py::t", "timeout", NULL);
	add(&s, "a.py::e", "error", NULL);
	summary_count(&s, &c);
	assert_int_equal(c.tests, 8);
	assert_int_equal(c.passed, 2);
	assert_int_equal(c.skipped, 2);
	assert_int_equal(c.failed, 4);
	assert_int_equal(c.failures, 1);
	assert_int_equal(c.errors, 3);
	assert_true(c.time > 3.99 && c.time < 4.01);
	assert_int_equal(s.missing, 0);
	summary_free(&s);
}

static void
check_names(const char *nodeid, const char *file, const char *classname, const char *name)
{
	char *f, *c, *n;

	summary_names(nodeid, &f, &c, &n);
	assert_string_equal(f, file);
	assert_string_equal(c, classname);
	assert_string_equal(n, name);
	free(f);
	free(c);
	free(n);
}

static void
test_names(void **state)
{
	(void)state;
	check_names("test_a.py::test_p[1]", "test_a.py", "test_a", "test_p[1]");
	check_names("test_a.py::TestK::test_m", "test_a.py", "test_a.TestK", "test_m");
	check_names("sub/test_b.py::test_x[1]", "sub/test_b.py", "sub.test_b", "test_x[1]");
	check_names("a/b/test_c.py::TestO::TestI::test_z[x-y]", "a/b/test_c.py",
	    "a.b.test_c.TestO.TestI", "test_z[x-y]");
	/* "::" and "[" inside parameters do not split */
	check_names("t.py::TestK::test_q[a::b]", "t.py", "t.TestK", "test_q[a::b]");
	check_names("t.py::test_q[x[::]]", "t.py", "t", "test_q[x[::]]");
	/* only a trailing .py goes; other dots stay */
	check_names("pkg.v2/test_x.pyx::test_y", "pkg.v2/test_x.pyx", "pkg.v2.test_x.pyx", "test_y");
	check_names("tests/test_é.py::test_ü", "tests/test_é.py", "tests.test_é", "test_ü");
	/* a node id without "::" (a missing result named by its path) */
	check_names("results/x.json", "results/x.json", "results.x.json", "results/x.json");
	check_names("test_m.py", "test_m.py", "test_m", "test_m.py");
}

static char *
xml(const char *s, bool attr)
{
	struct buf b = {0};

	summary_xml_escape(&b, s, attr);
	return buf_take(&b);
}

static void
check_xml(const char *in, bool attr, const char *want)
{
	char *got = xml(in, attr);

	assert_string_equal(got, want);
	free(got);
}

static void
test_xml_escape(void **state)
{
	(void)state;
	check_xml("", false, "");
	check_xml("plain text", false, "plain text");
	check_xml("a & b < c > d \"e\" 'f'", false, "a &amp; b &lt; c &gt; d &quot;e&quot; &apos;f&apos;");
	check_xml("&amp;", true, "&amp;amp;");
	check_xml("]]>", false, "]]&gt;");
	/* tab and newline stay in text; attributes need references */
	check_xml("a\tb\nc", false, "a\tb\nc");
	check_xml("a\tb\nc", true, "a&#9;b&#10;c");
	check_xml("a\r\nb", false, "a&#13;\nb");
	/* control characters XML 1.0 forbids are dropped */
	check_xml("\x01\x02x\x1b[31mred\x1b[0m\x7f\x1f", false, "x[31mred[0m\x7f");
	check_xml("\x0b\x0c", true, "");
	/* non-ASCII is kept as UTF-8 */
	check_xml("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 \xc2\x85",
	    true, "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 \xc2\x85");
	check_xml("\xef\xbf\xbd", false, "\xef\xbf\xbd");
	/* U+FFFE and U+FFFF are not characters in XML */
	check_xml("a\xef\xbf\xbe" "b\xef\xbf\xbf" "c", false, "abc");
	/* invalid UTF-8 (not expected, result.c guarantees it) becomes U+FFFD */
	check_xml("x\xffy\xc3", false, "x\xef\xbf\xbdy\xef\xbf\xbd");
	check_xml("\xed\xa0\x80", false, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

static void
test_add_text(void **state)
{
	static const char good[] =
	    "{\"tests\": [{\"nodeid\": \"t.py::a\", \"outcome\": \"passed\", \"mode\": \"isolated\","
	    " \"duration\": 0.25, \"message\": \"\", \"stdout\": \"out\\u00e9\", \"stderr\": \"e\","
	    " \"signal\": null},"
	    " {\"nodeid\": \"t.py::b\", \"outcome\": \"crashed\", \"signal\": \"SIGSEGV\"},"
	    " 42,"
	    " {\"outcome\": \"passed\"}]}\n";
	struct summary s;
	struct result_case *c;

	(void)state;
	summary_init(&s);
	/* a malformed case spoils only itself */
	assert_int_equal(summary_add_text(&s, good, strlen(good), "r/t.json", "t.py::a"), -1);
	assert_int_equal(s.n, 4);
	c = &s.cases[0];
	assert_string_equal(c->nodeid, "t.py::a");
	assert_string_equal(c->outcome, "passed");
	assert_string_equal(c->mode, "isolated");
	assert_true(c->duration == 0.25);
	assert_string_equal(c->out, "out\xc3\xa9");
	assert_string_equal(c->err, "e");
	assert_null(c->signal);
	c = &s.cases[1];
	assert_string_equal(c->signal, "SIGSEGV");
	assert_null(c->mode);
	assert_string_equal(c->message, "");
	assert_true(c->duration == 0);
	c = &s.cases[2];
	assert_string_equal(c->nodeid, "t.py::a");
	assert_string_equal(c->outcome, "error");
	assert_string_equal(c->message, "no result: malformed case 3 (r/t.json)");
	assert_string_equal(s.cases[3].message, "no result: malformed case 4 (r/t.json)");
	assert_int_equal(s.missing, 2);

	/* corrupt files: one error case each, named by the node id or the path */
	assert_int_equal(summary_add_text(&s, "{\"tests\": [", 11, "x.json", "x.py::t"), -1);
	assert_int_equal(summary_add_text(&s, "", 0, "y.json", NULL), -1);
	assert_int_equal(summary_add_text(&s, "{\"tests\": {}}", 13, "z.json", "z.py::t"), -1);
	assert_int_equal(summary_add_text(&s, "{\"tests\": []}", 13, "w.json", "w.py::t"), -1);
	assert_int_equal(summary_add_text(&s, "{\"tests\": []} junk", 18, "v.json", NULL), -1);
	assert_int_equal(s.n, 9);
	assert_string_equal(s.cases[4].nodeid, "x.py::t");
	assert_string_equal(s.cases[4].message, "no result: not valid JSON (x.json)");
	assert_string_equal(s.cases[5].nodeid, "y.json");
	assert_string_equal(s.cases[6].message, "no result: no \"tests\" array (z.json)");
	assert_string_equal(s.cases[7].message, "no result: no test case (w.json)");
	assert_string_equal(s.cases[8].message, "no result: not valid JSON (v.json)");
	assert_int_equal(s.missing, 7);

	assert_int_equal(summary_add_file(&s, "/nonexistent/tach/r.json", "r.json", "r.py::t"), -1);
	assert_string_equal(s.cases[9].nodeid, "r.py::t");
	assert_string_equal(s.cases[9].outcome, "error");
	assert_string_equal(s.cases[9].message, "no result: No such file or directory (r.json)");
	summary_free(&s);
}

static char *
printed(const struct summary *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	summary_print(s, f);
	fclose(f);
	return text;
}

static void
test_print(void **state)
{
	struct summary s;
	char *text;

	(void)state;
	summary_init(&s);
	text = printed(&s);
	assert_string_equal(text, "0 passed, 0 failed, 0 skipped\n");
	free(text);
	add(&s, "a.py::p", "passed", NULL);
	add(&s, "a.py::f", "failed", NULL);
	add(&s, "a.py::x", "xfailed", NULL);
	add(&s, "a.py::c[1]", "crashed", "SIGSEGV");
	add(&s, "a.py::s", "skipped", NULL);
	add(&s, "a.py::t", "timeout", NULL);
	summary_add_missing(&s, "r/m.json", NULL, "gone");
	text = printed(&s);
	assert_string_equal(text,
	    "FAILED a.py::f (failed)\n"
	    "FAILED a.py::c[1] (crashed, SIGSEGV)\n"
	    "FAILED a.py::t (timeout)\n"
	    "FAILED r/m.json (error)\n"
	    "1 passed, 4 failed, 2 skipped\n");
	free(text);
	summary_free(&s);
}

/* Edges that ran to their end with no case of their own: deselected items
 * are counted, not-collected node ids warned of once, neither is a
 * failure; an empty result that does not say so is still a lost test. */
static void
test_empty_results(void **state)
{
	static const char des[] = "{\"tests\": [], \"deselected\": [\"a.py::s[1]\", \"a.py::s[2]\"]}";
	static const char notc[] = "{\"tests\": [], \"notcollected\": [\"a.py::win\"]}";
	static const char done[] = "{\"tests\": [], \"complete\": true}";
	static const char bare[] = "{\"tests\": []}";
	struct summary s;
	char *text;

	(void)state;
	summary_init(&s);
	assert_int_equal(summary_add_text(&s, des, strlen(des), "d.json", "a.py::s"), 0);
	assert_int_equal(summary_add_text(&s, notc, strlen(notc), "n.json", "a.py::win"), 0);
	assert_int_equal(summary_add_text(&s, done, strlen(done), "c.json", "a.py::c"), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(s.deselected, 2);
	text = printed(&s);
	assert_string_equal(text,
	    "tach: warning: pytest does not collect 1 test that tach gen planned (behind a platform "
	    "check, or ignored by the configuration): a.py::win\n"
	    "0 passed, 0 failed, 0 skipped, 2 deselected\n");
	free(text);
	text = summary_json(&s);
	assert_string_equal(text, "{\"tests\": [], \"deselected\": 2, \"notcollected\": [\"a.py::win\"]}\n");
	free(text);
	assert_int_equal(summary_add_text(&s, bare, strlen(bare), "b.json", "a.py::b"), -1);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.cases[0].outcome, "error");
	summary_free(&s);
}

static void
check_line(const char *in, bool want, const char *path, const char *nodeid)
{
	char *line = xstrdup(in), *p, *n;

	assert_int_equal(summary_list_line(line, &p, &n), want);
	if (want) {
		assert_string_equal(p, path);
		if (nodeid)
			assert_string_equal(n, nodeid);
		else
			assert_null(n);
	}
	free(line);
}

static void
test_list_line(void **state)
{
	(void)state;
	check_line("r/a.json", true, "r/a.json", NULL);
	check_line("r/a b.json", true, "r/a b.json", NULL);
	check_line("r/a b.json\ta.py::test_x[1 2]", true, "r/a b.json", "a.py::test_x[1 2]");
	check_line("r/a.json\t", true, "r/a.json", NULL);
	check_line("r/a.json\r", true, "r/a.json", NULL);
	check_line("r/a.json\ta.py::t\r", true, "r/a.json", "a.py::t");
	check_line("/abs/r.json\tt.py::t", true, "/abs/r.json", "t.py::t");
	check_line("", false, NULL, NULL);
	check_line("\r", false, NULL, NULL);
	check_line("\tt.py::t", true, "", "t.py::t");
	/* Ninja's $in_newline quotes paths with spaces or brackets */
	check_line("'r/a b.json'", true, "r/a b.json", NULL);
	check_line("'r/t.py::t[1].json'", true, "r/t.py::t[1].json", NULL);
	check_line("'it'\\''s.json'", true, "it's.json", NULL);
	check_line("'a b.json'\tt.py::t", true, "a b.json", "t.py::t");
	/* not well-formed quoting: the path as written */
	check_line("'unterminated.json", true, "'unterminated.json", NULL);
	check_line("it's.json", true, "it's.json", NULL);
}

static void
test_json(void **state)
{
	struct summary s;
	cJSON *root, *tests, *t;
	char *text;

	(void)state;
	summary_init(&s);
	text = summary_json(&s);
	assert_string_equal(text, "{\"tests\": [], \"deselected\": 0, \"notcollected\": []}\n");
	free(text);
	add(&s, "a.py::f", "failed", NULL);
	add(&s, "a.py::c", "crashed", "SIGBUS");
	summary_add_missing(&s, "m.json", "m.py::t", "gone");
	text = summary_json(&s);
	root = cJSON_Parse(text);
	assert_non_null(root);
	tests = cJSON_GetObjectItem(root, "tests");
	assert_int_equal(cJSON_GetArraySize(tests), 3);
	t = cJSON_GetArrayItem(tests, 0);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(t, "nodeid")), "a.py::f");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(t, "message")), "line one\nline two");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(t, "mode")), "hypervisor");
	assert_true(cJSON_GetObjectItem(t, "duration")->valuedouble == 0.5);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(t, "signal")));
	t = cJSON_GetArrayItem(tests, 1);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(t, "signal")), "SIGBUS");
	t = cJSON_GetArrayItem(tests, 2);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(t, "outcome")), "error");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(t, "mode")));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(t, "message")), "no result: gone (m.json)");
	cJSON_Delete(root);
	free(text);
	summary_free(&s);
}

static void
test_junit(void **state)
{
	struct summary s;
	char *text;

	(void)state;
	summary_init(&s);
	text = summary_junit(&s);
	assert_string_equal(text, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<testsuites name=\"tach\" tests=\"0\" failures=\"0\" errors=\"0\" skipped=\"0\" time=\"0.000\">\n"
	    "</testsuites>\n");
	free(text);
	add(&s, "a.py::TestK::p", "passed", NULL);
	add(&s, "sub/b.py::f[<1>]", "failed", NULL);
	add(&s, "a.py::c", "crashed", "SIGSEGV");
	add(&s, "a.py::x", "xfailed", NULL);
	text = summary_junit(&s);
	assert_non_null(strstr(text, "<testsuites name=\"tach\" tests=\"4\" failures=\"1\" errors=\"1\" "
	    "skipped=\"1\" time=\"2.000\">\n"));
	/* one suite per file, in order of first appearance */
	assert_non_null(strstr(text, "  <testsuite name=\"a.py\" tests=\"3\" failures=\"0\" errors=\"1\" "
	    "skipped=\"1\" time=\"1.500\">\n"
	    "    <testcase classname=\"a.TestK\" name=\"p\" file=\"a.py\" time=\"0.500\"/>\n"));
	assert_true(strstr(text, "name=\"a.py\"") < strstr(text, "name=\"sub/b.py\""));
	assert_non_null(strstr(text, "<testcase classname=\"sub.b\" name=\"f[&lt;1&gt;]\" file=\"sub/b.py\" "
	    "time=\"0.500\">\n      <failure message=\"line one\" type=\"failed\">line one\nline two</failure>\n"));
	/* the signal joins a message that does not name it */
	assert_non_null(strstr(text, "<error message=\"SIGSEGV: line one\" type=\"crashed\">line one\nline two</error>"));
	assert_non_null(strstr(text, "<skipped message=\"line one\" type=\"xfailed\">"));
	assert_null(strstr(text, "system-out"));
	free(text);
	summary_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind),
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_xml_escape),
		cmocka_unit_test(test_add_text),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_empty_results),
		cmocka_unit_test(test_list_line),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_junit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
