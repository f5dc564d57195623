/* Unit tests for the cache's value encoding, keys and local store. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <xxhash.h>

#include "cache/cache.h"
#include "lib/util.h"

/* Two keys of the shape cache_key() makes; the codec only compares them. */
static const char key_a[] = "0123456789abcdef0123456789abcdef-0123456789abcdef";
static const char key_b[] = "fedcba9876543210fedcba9876543210-0123456789abcdef";
#define KEY_AT 20   /* where a value's key starts */
#define PAYLOAD_AT (KEY_AT + CACHE_KEY_LEN)

static struct report *
sample(void)
{
	struct report *r = xcalloc(1, sizeof(*r));
	char **bases, *chars;

	r->nimports = 3;
	r->imports = xcalloc(3, sizeof(r->imports[0]));
	r->imports[0] = (struct pyimport){xstrdup("threading"), NULL, 0, 3, true, false};
	r->imports[1] = (struct pyimport){xstrdup(""), xstrdup("x"), 2, 4, false, false};
	r->imports[2] = (struct pyimport){xstrdup("a.b"), xstrdup("*"), 0, 70000, true, true};
	r->ncauses = 2;
	r->causes = xcalloc(2, sizeof(r->causes[0]));
	r->causes[0] = (struct cause){CAUSE_THREADS, xstrdup("threading"),
	                               xstrdup("Imports threading (line 3)"), 3, true, WHY_NO_STATE};
	r->causes[1] = (struct cause){CAUSE_PARSE_ERROR, xstrdup("syntax"),
	                               xstrdup("could not parse: line 9"), 9, true, WHY_COUNTS};
	r->parse_error_line = 9;
	r->all_kind = ALL_LITERAL;
	r->nall = 2;
	r->all = xcalloc(2, sizeof(r->all[0]));
	r->all[0] = xstrdup("tox");
	r->all[1] = xstrdup("safe");
	r->module_flags = DEF_TOXIC_MARK | DEF_NOT_TEST;
	r->ndefs = 5;
	r->defs = pydefs_alloc(5, 2, 128, &bases, &chars);
	r->defs[0] = (struct pydef){.name = "test_a", .line = 3, .parent = -1, .kind = DEF_FUNC,
	                            .flags = DEF_ASYNC | DEF_PARAMETRIZE};
	r->defs[1] = (struct pydef){.name = "TestOuter", .line = 5, .parent = -1, .kind = DEF_CLASS,
	                            .flags = DEF_TOXIC_MARK, .bases = bases, .nbases = 2, .has_init = true};
	bases[0] = "unittest.TestCase";
	bases[1] = "Generic[T]";
	r->defs[2] = (struct pydef){.name = "TestInner", .line = 70000, .parent = 1, .kind = DEF_CLASS,
	                            .flags = DEF_FORCE_TEST, .has_new = true};
	r->defs[3] = (struct pydef){.name = "test_m", .line = 70001, .parent = 2, .kind = DEF_FUNC,
	                            .flags = DEF_FIXTURE};
	r->defs[4] = (struct pydef){.name = "__init__", .line = 7, .parent = 1, .kind = DEF_FUNC};
	(void)chars;   /* the strings above are literals */
	return r;
}

/* The value of an encoded payload under key_a: a header that fits it, so
 * that only the payload's own checks can reject it. */
static void
wrap(const char *payload, size_t len, struct buf *out)
{
	char hdr[KEY_AT];
	struct buf summed = {0};
	uint64_t sum;
	int i;

	buf_add(&summed, key_a, CACHE_KEY_LEN);
	buf_add(&summed, payload, len);
	sum = XXH3_64bits(summed.data, summed.len);
	buf_free(&summed);
	memcpy(hdr, "TACR", 4);
	hdr[4] = 5;      /* CODEC_VERSION */
	hdr[5] = 0;
	hdr[6] = (char)(TACH_ANALYZER_VERSION & 0xff);
	hdr[7] = (char)(TACH_ANALYZER_VERSION >> 8);
	for (i = 0; i < 4; i++)
		hdr[8 + i] = (char)(len >> (8 * i));
	for (i = 0; i < 8; i++)
		hdr[12 + i] = (char)(sum >> (8 * i));
	out->len = 0;
	buf_add(out, hdr, sizeof(hdr));
	buf_add(out, key_a, CACHE_KEY_LEN);
	buf_add(out, payload, len);
}

static void
test_roundtrip(void **state)
{
	struct report *r = sample(), *d;
	struct buf b = {0};
	const char *why = NULL;
	size_t i;

	(void)state;
	codec_encode(r, key_a, &b);
	d = codec_decode(b.data, b.len, key_a, &why);
	assert_non_null(d);
	assert_int_equal(d->nimports, 3);
	assert_int_equal(d->ncauses, 2);
	assert_int_equal(d->parse_error_line, 9);
	for (i = 0; i < 3; i++) {
		assert_string_equal(d->imports[i].module, r->imports[i].module);
		assert_int_equal(d->imports[i].level, r->imports[i].level);
		assert_int_equal(d->imports[i].line, r->imports[i].line);
		assert_int_equal(d->imports[i].import_time, r->imports[i].import_time);
		assert_int_equal(d->imports[i].dynamic, r->imports[i].dynamic);
	}
	assert_null(d->imports[0].name);
	assert_string_equal(d->imports[1].name, "x");
	assert_string_equal(d->imports[2].name, "*");
	assert_int_equal(d->causes[0].kind, CAUSE_THREADS);
	assert_int_equal(d->causes[0].why, WHY_NO_STATE);
	assert_int_equal(d->causes[1].why, WHY_COUNTS);
	assert_string_equal(d->causes[1].reason, "could not parse: line 9");
	assert_true(policy_is_toxic(d));
	assert_int_equal(d->all_kind, ALL_LITERAL);
	assert_int_equal(d->nall, 2);
	assert_string_equal(d->all[1], "safe");
	assert_int_equal(d->module_flags, DEF_TOXIC_MARK | DEF_NOT_TEST);
	assert_int_equal(d->ndefs, 5);
	for (i = 0; i < 5; i++) {
		const struct pydef *x = &d->defs[i], *y = &r->defs[i];
		size_t j;

		assert_string_equal(x->name, y->name);
		assert_int_equal(x->line, y->line);
		assert_int_equal(x->parent, y->parent);
		assert_int_equal(x->kind, y->kind);
		assert_int_equal(x->flags, y->flags);
		assert_int_equal(x->has_init, y->has_init);
		assert_int_equal(x->has_new, y->has_new);
		assert_int_equal(x->nbases, y->nbases);
		for (j = 0; j < x->nbases; j++)
			assert_string_equal(x->bases[j], y->bases[j]);
	}
	assert_string_equal(d->defs[1].bases[1], "Generic[T]");
	assert_int_equal(d->defs[3].parent, 2);
	report_free(d);
	report_free(r);
	buf_free(&b);
}

static void
test_rejects_bad_defs(void **state)
{
	struct buf b = {0};
	const char *why;
	struct report *r;
	int i;

	(void)state;
	for (i = 0; i < 7; i++) {
		r = sample();
		switch (i) {
		case 0: /* a parent after the def */
			r->defs[2].parent = 3;
			break;
		case 1: /* its own parent */
			r->defs[2].parent = 2;
			break;
		case 2: /* a parent that is no class */
			r->defs[3].parent = 0;
			break;
		case 3: /* an unknown kind */
			r->defs[0].kind = (enum def_kind)7;
			break;
		case 4: /* unknown flags */
			r->defs[0].flags = 1u << 20;
			break;
		case 5: /* a function with class bits */
			r->defs[0].has_init = true;
			break;
		case 6: /* unknown module flags */
			r->module_flags = 1u << 12;
			break;
		}
		b.len = 0;
		codec_encode(r, key_a, &b);
		assert_null(codec_decode(b.data, b.len, key_a, &why));
		assert_string_equal(why, "malformed");
		report_free(r);
	}
	buf_free(&b);
}

/* Cutting the payload anywhere, under a header that fits the cut, still
 * reads as malformed: the payload's own checks catch it. */
static void
test_rejects_truncated_payload(void **state)
{
	struct report *r = sample(), *d;
	struct buf b = {0}, w = {0};
	const char *why;
	size_t cut;

	(void)state;
	codec_encode(r, key_a, &b);
	wrap(b.data + PAYLOAD_AT, b.len - PAYLOAD_AT, &w);
	d = codec_decode(w.data, w.len, key_a, &why);
	assert_non_null(d);
	report_free(d);
	for (cut = 0; cut < b.len - PAYLOAD_AT; cut++) {
		wrap(b.data + PAYLOAD_AT, cut, &w);
		assert_null(codec_decode(w.data, w.len, key_a, &why));
		assert_string_equal(why, "malformed");
	}
	report_free(r);
	buf_free(&b);
	buf_free(&w);
}

static void
test_empty_report(void **state)
{
	struct report r = {0}, *d;
	struct buf b = {0};
	const char *why;

	(void)state;
	codec_encode(&r, key_a, &b);
	d = codec_decode(b.data, b.len, key_a, &why);
	assert_non_null(d);
	assert_false(policy_is_toxic(d));
	report_free(d);
	buf_free(&b);
}

static void
test_rejects_damage(void **state)
{
	struct report *r = sample();
	struct buf b = {0};
	const char *why;
	char *copy;
	size_t cut, i;

	(void)state;
	codec_encode(r, key_a, &b);
	/* every truncation */
	for (cut = 0; cut < b.len; cut++)
		assert_null(codec_decode(b.data, cut, key_a, &why));
	/* every single-bit flip */
	copy = xmalloc(b.len);
	for (i = 0; i < b.len; i++) {
		memcpy(copy, b.data, b.len);
		copy[i] ^= 0x10;
		assert_null(codec_decode(copy, b.len, key_a, &why));
	}
	/* another version */
	memcpy(copy, b.data, b.len);
	copy[4] = 0x7f;
	assert_null(codec_decode(copy, b.len, key_a, &why));
	assert_string_equal(why, "written by another version");
	/* trailing bytes */
	buf_add(&b, "x", 1);
	assert_null(codec_decode(b.data, b.len, key_a, &why));
	assert_null(codec_decode("garbage", 7, key_a, &why));
	assert_null(codec_decode("", 0, key_a, &why));
	free(copy);
	report_free(r);
	buf_free(&b);
}

/* A valid value copied under another key is no report of that key's file. */
static void
test_rejects_other_key(void **state)
{
	struct report *r = sample(), *d;
	struct buf b = {0};
	const char *why = NULL;

	(void)state;
	codec_encode(r, key_a, &b);
	assert_memory_equal(b.data + KEY_AT, key_a, CACHE_KEY_LEN);
	assert_null(codec_decode(b.data, b.len, key_b, &why));
	assert_string_equal(why, "written for another key");
	d = codec_decode(b.data, b.len, key_a, &why);
	assert_non_null(d);
	report_free(d);
	report_free(r);
	buf_free(&b);
}

/* The key is inside the checksum: editing it to match the lookup does not
 * make a value pass. */
static void
test_rejects_edited_key(void **state)
{
	struct report *r = sample();
	struct buf b = {0};
	const char *why = NULL;

	(void)state;
	codec_encode(r, key_a, &b);
	memcpy(b.data + KEY_AT, key_b, CACHE_KEY_LEN);
	assert_null(codec_decode(b.data, b.len, key_b, &why));
	assert_string_equal(why, "checksum mismatch");
	assert_null(codec_decode(b.data, b.len, key_a, &why));
	assert_string_equal(why, "checksum mismatch");
	report_free(r);
	buf_free(&b);
}

static void
test_keys(void **state)
{
	char h1[33], h2[33], k1[CACHE_KEY_LEN + 1], k2[CACHE_KEY_LEN + 1], k3[CACHE_KEY_LEN + 1];

	(void)state;
	hash_content("import os\n", 10, h1);
	hash_content("import os\r\n", 11, h2);
	assert_int_equal(strlen(h1), 32);
	assert_string_not_equal(h1, h2);
	cache_key(h1, "rules-a", k1);
	cache_key(h1, "rules-a", k2);
	cache_key(h1, "rules-b", k3);
	assert_int_equal(strlen(k1), CACHE_KEY_LEN);
	assert_string_equal(k1, k2);
	assert_string_not_equal(k1, k3);
	assert_memory_equal(k1, h1, 32);
}

static void
test_local_store(void **state)
{
	char dir[] = "/tmp/tach-local-XXXXXX", *store, *data;
	char key[CACHE_KEY_LEN + 1], hash[33];
	uint64_t bytes;
	size_t len;
	int i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	store = xasprintf("%s/.tach/cache", dir);
	assert_int_equal(local_usage(store, &bytes), -1);
	hash_content("a", 1, hash);
	cache_key(hash, "r", key);
	assert_int_equal(local_get(store, key, &data, &len), 1);
	assert_int_equal(local_put(store, key, "value\0with nul", 14), 0);
	assert_int_equal(local_get(store, key, &data, &len), 0);
	assert_int_equal(len, 14);
	assert_memory_equal(data, "value\0with nul", 14);
	free(data);
	/* eviction keeps the newest */
	for (i = 0; i < 20; i++) {
		char c = (char)('b' + i), big[4096];

		memset(big, c, sizeof(big));
		hash_content(&c, 1, hash);
		cache_key(hash, "r", key);
		assert_int_equal(local_put(store, key, big, sizeof(big)), 0);
		/* file times are coarse: age the entries explicitly, oldest first */
		{
			char *p = xasprintf("%s/%.2s/%s", store, key, key);
			struct timespec ts[2] = {{1000000 + i, 0}, {1000000 + i, 0}};

			assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
			free(p);
		}
	}
	assert_int_equal(local_usage(store, &bytes), 21);
	assert_true(local_evict(store, 10 * 4096) >= 11);
	assert_true(local_usage(store, &bytes) <= 10);
	assert_true(bytes <= 10 * 4096);
	assert_int_equal(local_get(store, key, &data, &len), 0);   /* the newest */
	free(data);
	assert_int_equal(local_clear(dir), 0);
	assert_int_equal(local_usage(store, &bytes), -1);
	free(store);
	store = xasprintf("%s/.tach", dir);
	rmdir(store);
	free(store);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_empty_report),
		cmocka_unit_test(test_rejects_damage),
		cmocka_unit_test(test_rejects_bad_defs),
		cmocka_unit_test(test_rejects_truncated_payload),
		cmocka_unit_test(test_rejects_other_key),
		cmocka_unit_test(test_rejects_edited_key),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_local_store),
	};

	return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
