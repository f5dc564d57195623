/* Unit tests for util: buffers, the hash table, path joining, file reading. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/htab.h"
#include "lib/util.h"

static void
test_buf(void **state)
{
	struct buf b = {0};
	char *s;

	(void)state;
	buf_puts(&b, "ab");
	buf_putc(&b, 'c');
	buf_printf(&b, "%d-%s", 42, "x");
	buf_add(&b, "yz", 1);
	assert_string_equal(b.data, "abc42-xy");
	assert_int_equal(b.len, 8);
	s = buf_take(&b);
	assert_null(b.data);
	assert_string_equal(s, "abc42-xy");
	free(s);
	s = buf_take(&b);
	assert_string_equal(s, "");
	free(s);
}

static void
test_htab(void **state)
{
	struct htab *h = htab_new();
	char keys[1000][16];
	int vals[1000];
	size_t i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%zu", i);
		vals[i] = (int)i;
		*htab_slot(h, keys[i]) = &vals[i];
	}
	assert_int_equal(htab_count(h), 1000);
	for (i = 0; i < 1000; i++)
		assert_ptr_equal(htab_get(h, keys[i]), &vals[i]);
	assert_null(htab_get(h, "k1000"));
	assert_null(htab_get(h, ""));
	/* an existing slot is returned, not duplicated */
	assert_ptr_equal(*htab_slot(h, "k7"), &vals[7]);
	assert_int_equal(htab_count(h), 1000);
	/* emptied, then filled again */
	htab_clear(h);
	assert_int_equal(htab_count(h), 0);
	assert_null(htab_get(h, "k7"));
	*htab_slot(h, keys[3]) = &vals[3];
	assert_int_equal(htab_count(h), 1);
	assert_ptr_equal(htab_get(h, "k3"), &vals[3]);
	htab_free(h);
}

static void
test_path_join(void **state)
{
	char *p;

	(void)state;
	p = path_join("a/", "/b");
	assert_string_equal(p, "a/b");
	free(p);
	p = path_join("", "b");
	assert_string_equal(p, "b");
	free(p);
	p = path_join(".", "b/c");
	assert_string_equal(p, "b/c");
	free(p);
	p = path_join("/", "x");
	assert_string_equal(p, "/x");
	free(p);
}

static void
test_read_file(void **state)
{
	char path[] = "/tmp/tach-util-XXXXXX", *data;
	size_t len, i;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	for (i = 0; i < 10000; i++)
		fputc('a' + i % 26, f);
	fclose(f);
	assert_int_equal(read_file(path, &data, &len), 0);
	assert_int_equal(len, 10000);
	assert_int_equal(data[len], '\0');
	assert_int_equal(data[27], 'b');
	free(data);
	unlink(path);
	assert_int_equal(read_file(path, &data, &len), -1);
}

static void
test_xgrow(void **state)
{
	int *v = NULL;
	size_t cap = 0, i;

	(void)state;
	for (i = 0; i < 100; i++) {
		v = xgrow(v, &cap, i + 1, sizeof(v[0]));
		v[i] = (int)i;
	}
	assert_true(cap >= 100);
	assert_int_equal(v[99], 99);
	free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_htab),
		cmocka_unit_test(test_path_join),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_xgrow),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
