/* json - see lib/json.h. A container's state is two bits at its depth
 * (array or object, empty or not), so the writer is a few words and never
 * allocates; the text goes to the caller's buffer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/utf8.h"

#define BIT(d) ((uint32_t)1 << (d))

void
json_init(struct json *w, struct buf *b, bool compact)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
	w->compact = compact;
}

static void
push(struct json *w, bool array)
{
	if (w->depth + 1 >= JSON_MAXDEPTH)
		abort();
	w->depth++;
	w->array = array ? w->array | BIT(w->depth) : w->array & ~BIT(w->depth);
	w->items &= ~BIT(w->depth);
}

void
json_resume(struct json *w, const char *open)
{
	for (; *open; open++) {
		push(w, *open == '[');
		w->items |= BIT(w->depth);
	}
}

void
json_pad(struct json *w, const char *ws)
{
	w->pad = ws;
}

/* Before an item: its comma, and the pad or the space after a comma. A
 * value after its key needs neither; a top-level value has no comma. */
static void
item(struct json *w)
{
	bool more = w->depth && (w->items & BIT(w->depth));

	if (w->key) {
		w->key = false;
		return;
	}
	if (more)
		buf_putc(w->b, ',');
	if (w->pad)
		buf_puts(w->b, w->pad);
	else if (more && !w->compact)
		buf_putc(w->b, ' ');
	w->pad = NULL;
	w->items |= BIT(w->depth);
}

/* A value: in an object only after its key. */
static void
value(struct json *w)
{
	if (w->depth && !(w->array & BIT(w->depth)) && !w->key)
		abort();
	item(w);
}

void
json_object(struct json *w)
{
	value(w);
	buf_putc(w->b, '{');
	push(w, false);
}

void
json_array(struct json *w)
{
	value(w);
	buf_putc(w->b, '[');
	push(w, true);
}

void
json_end(struct json *w)
{
	if (!w->depth || w->key)
		abort();
	if (w->pad)
		buf_puts(w->b, w->pad);
	w->pad = NULL;
	buf_putc(w->b, w->array & BIT(w->depth) ? ']' : '}');
	w->depth--;
}

void
json_key(struct json *w, const char *key)
{
	if (!w->depth || (w->array & BIT(w->depth)) || w->key)
		abort();
	item(w);
	json_quote(w->b, key, strlen(key));
	buf_puts(w->b, w->compact ? ":" : ": ");
	w->key = true;
}

/* JSON's escapes: the quote, the backslash and control characters. */
static const char *
json_rep(unsigned cp, char *tmp, void *ctx)
{
	(void)ctx;
	switch (cp) {
	case '"': return "\\\"";
	case '\\': return "\\\\";
	case '\b': return "\\b";
	case '\f': return "\\f";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	default:
		if (cp >= 0x20)
			return NULL;
		snprintf(tmp, 16, "\\u%04x", cp);
		return tmp;
	}
}

void
json_quote(struct buf *b, const char *s, size_t n)
{
	buf_putc(b, '"');
	utf8_escape(b, s, n, json_rep, NULL);
	buf_putc(b, '"');
}

void
json_string(struct json *w, const char *s)
{
	if (!s) {
		json_null(w);
		return;
	}
	json_string_n(w, s, strlen(s));
}

void
json_string_n(struct json *w, const char *s, size_t n)
{
	value(w);
	json_quote(w->b, s, n);
}

void
json_bytes(struct json *w, const char *s)
{
	char tmp[16];
	const char *r;

	value(w);
	buf_putc(w->b, '"');
	for (; *s; s++) {
		r = (unsigned char)*s < 0x80 ? json_rep((unsigned char)*s, tmp, NULL) : NULL;
		if (r)
			buf_puts(w->b, r);
		else
			buf_putc(w->b, *s);
	}
	buf_putc(w->b, '"');
}

void
json_int(struct json *w, long long v)
{
	value(w);
	buf_printf(w->b, "%lld", v);
}

void
json_uint(struct json *w, unsigned long long v)
{
	value(w);
	buf_printf(w->b, "%llu", v);
}

void
json_double(struct json *w, double d)
{
	char num[32];

	if (!isfinite(d)) {
		json_null(w);
		return;
	}
	value(w);
	if (d == 0)
		d = 0;		/* no "-0" */
	snprintf(num, sizeof(num), "%.15g", d);
	if (strtod(num, NULL) != d)
		snprintf(num, sizeof(num), "%.17g", d);
	buf_puts(w->b, num);
}

void
json_fixed(struct json *w, double d, int digits)
{
	if (!isfinite(d)) {
		json_null(w);
		return;
	}
	value(w);
	buf_printf(w->b, "%.*f", digits, d);
}

void
json_bool(struct json *w, bool v)
{
	value(w);
	buf_puts(w->b, v ? "true" : "false");
}

void
json_null(struct json *w)
{
	value(w);
	buf_puts(w->b, "null");
}
