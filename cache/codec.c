/* codec - the encoding of a report in the cache.
 *
 * Layout (integers little-endian):
 *   "TACR"            4 bytes magic
 *   u16 version       CODEC_VERSION; any other is a foreign value
 *   u16 analyzer      TACH_ANALYZER_VERSION
 *   u32 length        of the payload
 *   u64 checksum      XXH3-64 of the key and the payload
 *   key               CACHE_KEY_LEN bytes: the key the value was written for
 *   payload:
 *     varint parse_error_line
 *     varint nimports, then per import:
 *       str module, str name (a NULL name is length 0 with flag bit 2),
 *       varint level, varint line, u8 flags (1 import_time, 2 dynamic, 4 has name)
 *     varint ncauses, then per cause:
 *       u8 kind, str name, str reason, varint line, u8 import_time, u8 why
 *     u8 all_kind, varint nall, then nall str (the names in __all__)
 *     varint module_flags (enum def_flag)
 *     varint ndefs, then per definition:
 *       str name, varint line, varint parent + 1 (0: module scope; else an
 *       earlier class), u8 kind, varint flags, u8 (1 has_init, 2 has_new),
 *       varint nbases, then nbases str (a def has neither bits nor bases)
 *   str = varint length + bytes.
 * A value is accepted only when every field is in range and the payload is
 * consumed exactly, so truncation, garbage and other versions all read as a
 * miss. The key is inside the checksum because a store holds values under
 * keys it does not check: a valid value copied under another file's key must
 * read as a miss too, not as that file's report. */
#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "cache/cache.h"
#include "lib/util.h"

#define CODEC_VERSION 5
#define KEY_AT 20          /* the checksum covers everything from here */
#define HEADER_LEN (KEY_AT + CACHE_KEY_LEN)
#define MAX_ITEMS (1u << 20)

static void
put_varint(struct buf *b, uint64_t v)
{
	char tmp[10];
	int n = 0;

	do {
		tmp[n++] = (char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	buf_add(b, tmp, n);
}

static void
put_str(struct buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	put_varint(b, n);
	buf_add(b, s ? s : "", n);
}

/* The header's little-endian fields, copied whole (the header is not
 * aligned inside a value). */
static void
put16(char *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static void
put32(char *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static void
put64(char *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static uint16_t
get16(const char *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static uint32_t
get32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint64_t
get64(const char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

void
codec_encode(const struct report *r, const char *key, struct buf *out)
{
	struct buf p = {0};   /* the key, then the payload: what the checksum covers */
	char hdr[KEY_AT];
	size_t i;

	buf_add(&p, key, CACHE_KEY_LEN);
	put_varint(&p, (uint64_t)(r->parse_error_line > 0 ? r->parse_error_line : 0));
	put_varint(&p, r->nimports);
	for (i = 0; i < r->nimports; i++) {
		const struct pyimport *im = &r->imports[i];

		put_str(&p, im->module);
		put_str(&p, im->name);
		put_varint(&p, (uint64_t)(im->level > 0 ? im->level : 0));
		put_varint(&p, (uint64_t)(im->line > 0 ? im->line : 0));
		buf_putc(&p, (char)((im->import_time ? 1 : 0) | (im->dynamic ? 2 : 0) | (im->name ? 4 : 0)));
	}
	put_varint(&p, r->ncauses);
	for (i = 0; i < r->ncauses; i++) {
		const struct cause *c = &r->causes[i];

		buf_putc(&p, (char)c->kind);
		put_str(&p, c->name);
		put_str(&p, c->reason);
		put_varint(&p, (uint64_t)(c->line > 0 ? c->line : 0));
		buf_putc(&p, c->import_time ? 1 : 0);
		buf_putc(&p, (char)c->why);
	}
	buf_putc(&p, (char)r->all_kind);
	put_varint(&p, r->nall);
	for (i = 0; i < r->nall; i++)
		put_str(&p, r->all[i]);
	put_varint(&p, r->module_flags);
	put_varint(&p, r->ndefs);
	for (i = 0; i < r->ndefs; i++) {
		const struct pydef *d = &r->defs[i];
		size_t j;

		put_str(&p, d->name);
		put_varint(&p, (uint64_t)(d->line > 0 ? d->line : 0));
		put_varint(&p, (uint64_t)(d->parent >= 0 ? d->parent + 1 : 0));
		buf_putc(&p, (char)d->kind);
		put_varint(&p, d->flags);
		buf_putc(&p, (char)((d->has_init ? 1 : 0) | (d->has_new ? 2 : 0)));
		put_varint(&p, d->nbases);
		for (j = 0; j < d->nbases; j++)
			put_str(&p, d->bases[j]);
	}
	memcpy(hdr, "TACR", 4);
	put16(hdr + 4, CODEC_VERSION);
	put16(hdr + 6, TACH_ANALYZER_VERSION);
	put32(hdr + 8, (uint32_t)(p.len - CACHE_KEY_LEN));
	put64(hdr + 12, XXH3_64bits(p.data, p.len));
	buf_add(out, hdr, KEY_AT);
	buf_add(out, p.data, p.len);
	buf_free(&p);
}

struct reader {
	const unsigned char *p, *end;
	bool bad;
};

static uint64_t
get_varint(struct reader *rd)
{
	uint64_t v = 0;
	int shift = 0;

	while (rd->p < rd->end && shift < 64) {
		unsigned char c = *rd->p++;

		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
		shift += 7;
	}
	rd->bad = true;
	return 0;
}

static int
get_int(struct reader *rd)
{
	uint64_t v = get_varint(rd);

	if (v > (1u << 30))
		rd->bad = true;
	return (int)v;
}

static char *
get_str(struct reader *rd)
{
	uint64_t n = get_varint(rd);
	char *s;

	if (rd->bad || n > (uint64_t)(rd->end - rd->p) || memchr(rd->p, '\0', n)) {
		rd->bad = true;
		return NULL;
	}
	s = xstrndup((const char *)rd->p, n);
	rd->p += n;
	return s;
}

/* A string in place, not copied. */
static bool
get_span(struct reader *rd, const char **s, size_t *n)
{
	uint64_t len = get_varint(rd);

	if (rd->bad || len > (uint64_t)(rd->end - rd->p) || memchr(rd->p, '\0', len)) {
		rd->bad = true;
		return false;
	}
	*s = (const char *)rd->p;
	*n = len;
	rd->p += len;
	return true;
}

static unsigned char
get_byte(struct reader *rd)
{
	if (rd->p >= rd->end) {
		rd->bad = true;
		return 0;
	}
	return *rd->p++;
}

/* Where get_def() puts what it reads: with defs NULL it only adds up the
 * sizes; else it fills defs and copies strings and bases pointers to
 * chars and bases, moving them on. */
struct sink {
	struct pydef *defs;
	char **bases, *chars;
	uint64_t nbases, nchars;
};

static char *
sink_str(struct sink *k, const char *s, size_t n)
{
	char *p = k->chars;

	k->nchars += n + 1;
	if (!k->defs)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	k->chars += n + 1;
	return p;
}

/* Definition i; a parent must be an earlier class. */
static void
get_def(struct reader *rd, uint64_t i, struct sink *k)
{
	struct pydef d = {0};
	uint64_t parent, flags, nb, j;
	unsigned char kind, bits;
	const char *s;
	size_t len;
	char *p;

	if (!get_span(rd, &s, &len))
		return;
	d.name = sink_str(k, s, len);
	d.line = get_int(rd);
	parent = get_varint(rd);
	kind = get_byte(rd);
	flags = get_varint(rd);
	bits = get_byte(rd);
	nb = get_varint(rd);
	if (rd->bad || parent > i || kind > DEF_CLASS || flags & ~(uint64_t)DEF_ALL_FLAGS || bits > 3 ||
	    (kind != DEF_CLASS && (bits || nb)) || nb > (uint64_t)(rd->end - rd->p) ||
	    (k->defs && parent && k->defs[parent - 1].kind != DEF_CLASS)) {
		rd->bad = true;
		return;
	}
	d.parent = (int)parent - 1;
	d.kind = (enum def_kind)kind;
	d.flags = (unsigned)flags;
	d.has_init = bits & 1;
	d.has_new = bits & 2;
	d.nbases = nb;
	if (nb && k->defs)
		d.bases = k->bases;
	for (j = 0; j < nb; j++) {
		if (!get_span(rd, &s, &len))
			return;
		p = sink_str(k, s, len);
		if (k->defs)
			*k->bases++ = p;
	}
	k->nbases += nb;
	if (k->defs)
		k->defs[i] = d;
}

struct report *
codec_decode(const char *data, size_t len, const char *key, const char **why)
{
	struct report *r;
	struct reader rd;
	uint64_t plen, n, i;

	if (len < KEY_AT || memcmp(data, "TACR", 4) != 0) {
		*why = "not a tach report";
		return NULL;
	}
	if (get16(data + 4) != CODEC_VERSION || get16(data + 6) != TACH_ANALYZER_VERSION) {
		*why = "written by another version";
		return NULL;
	}
	plen = get32(data + 8);
	if (len < HEADER_LEN || plen != len - HEADER_LEN) {
		*why = "truncated or oversized";
		return NULL;
	}
	if (get64(data + 12) != XXH3_64bits(data + KEY_AT, len - KEY_AT)) {
		*why = "checksum mismatch";
		return NULL;
	}
	if (memcmp(data + KEY_AT, key, CACHE_KEY_LEN) != 0) {
		*why = "written for another key";
		return NULL;
	}
	rd.p = (const unsigned char *)data + HEADER_LEN;
	rd.end = rd.p + plen;
	rd.bad = false;
	r = xcalloc(1, sizeof(*r));
	r->parse_error_line = get_int(&rd);
	n = get_varint(&rd);
	if (n > MAX_ITEMS || n > plen)
		goto bad;
	r->imports = xcalloc(n, sizeof(r->imports[0]));
	for (i = 0; i < n && !rd.bad; i++) {
		struct pyimport *im = &r->imports[i];
		unsigned char flags;

		r->nimports++;
		im->module = get_str(&rd);
		im->name = get_str(&rd);
		im->level = get_int(&rd);
		im->line = get_int(&rd);
		flags = get_byte(&rd);
		im->import_time = flags & 1;
		im->dynamic = flags & 2;
		if (!(flags & 4)) {
			free(im->name);
			im->name = NULL;
		}
		if (!im->module || flags > 7)
			rd.bad = true;
	}
	n = get_varint(&rd);
	if (rd.bad || n > MAX_ITEMS || n > plen)
		goto bad;
	r->causes = xcalloc(n, sizeof(r->causes[0]));
	for (i = 0; i < n && !rd.bad; i++) {
		struct cause *c = &r->causes[i];
		unsigned char kind = get_byte(&rd);

		r->ncauses++;
		c->kind = kind < CAUSE_NKINDS ? (enum cause_kind)kind : CAUSE_PARSE_ERROR;
		c->name = get_str(&rd);
		c->reason = get_str(&rd);
		c->line = get_int(&rd);
		c->import_time = get_byte(&rd) != 0;
		c->why = get_byte(&rd);
		if (kind >= CAUSE_NKINDS || c->why >= WHY_NKINDS || !c->name || !c->reason)
			rd.bad = true;
	}
	if (rd.bad)
		goto bad;
	{
		unsigned char kind = get_byte(&rd);

		n = get_varint(&rd);
		if (rd.bad || kind > ALL_DYNAMIC || n > MAX_ITEMS || n > plen)
			goto bad;
		r->all_kind = (enum all_kind)kind;
		r->all = xcalloc(n + 1, sizeof(r->all[0]));
		for (i = 0; i < n && !rd.bad; i++) {
			r->all[i] = get_str(&rd);
			r->nall++;
		}
	}
	if (rd.bad)
		goto bad;
	/* the definitions, read twice: to size their one allocation, then to
	 * fill it */
	{
		uint64_t flags = get_varint(&rd);
		struct sink k = {0};
		struct reader first;

		n = get_varint(&rd);
		if (rd.bad || flags & ~(uint64_t)DEF_ALL_FLAGS || n > MAX_ITEMS || n > plen)
			goto bad;
		r->module_flags = (unsigned)flags;
		first = rd;
		for (i = 0; i < n && !rd.bad; i++)
			get_def(&rd, i, &k);
		if (rd.bad)
			goto bad;
		rd = first;
		k.defs = r->defs = pydefs_alloc(n, k.nbases, k.nchars, &k.bases, &k.chars);
		for (i = 0; i < n && !rd.bad; i++)
			get_def(&rd, i, &k);
		r->ndefs = n;
	}
	if (rd.bad || rd.p != rd.end)
		goto bad;
	return r;
bad:
	report_free(r);
	*why = "malformed";
	return NULL;
}
