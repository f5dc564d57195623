/* py_decode - the source decoding in front of the parser: a UTF-8 BOM,
 * a PEP 263 coding cookie on line 1 or 2, and iconv(3) for the rest.
 *
 * The parser reads UTF-8. A BOM is dropped; a UTF-8 or ASCII source is
 * checked and passed on; the other encodings tach knows are converted to
 * UTF-8, which leaves line numbers as they are. Which encoding a cookie
 * names is found as Python finds it: the tokenizer's own names for UTF-8
 * and Latin-1, then codecs.lookup()'s normalization and alias table.
 *
 * A file is not parsed at all when tach cannot read it as Python would:
 * an encoding not in the table below (Python's unicode_escape turns the
 * bytes "\n" into a line break, so `# \nimport subprocess` hides an
 * import from a parser reading bytes; shift_jis, big5 and gbk have second
 * bytes in the ASCII range, where glibc and Python disagree; and names
 * Python does not know), or bytes that do not decode, which Python refuses
 * too. The caller reports that as a parse error, so the file is toxic:
 * its verdict never rests on bytes read another way. No tree-sitter here. */
#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/analyze/py_decode.h"
#include "lib/utf8.h"
#include "lib/util.h"

/* [A-Za-z0-9_], by byte: the scanners of the analyzer look at most bytes
 * of a file through is_word() */
const unsigned char py_word_bytes[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* PEP 263: the encoding named by a coding comment on line [s, s+n), as
 * `^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)` finds it. */
static bool
coding_cookie(const char *s, size_t n, char *enc, size_t encsz)
{
	size_t i = 0, j, k;

	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\f'))
		i++;
	if (i == n || s[i] != '#')
		return false;
	for (j = i + 1; j + 7 <= n; j++) {
		if (memcmp(s + j, "coding", 6) != 0 || (s[j + 6] != ':' && s[j + 6] != '='))
			continue;
		k = j + 7;
		while (k < n && (s[k] == ' ' || s[k] == '\t'))
			k++;
		for (i = 0; k < n && i + 1 < encsz; k++) {
			unsigned char ch = s[k];
			if (!is_word(ch) && ch != '-' && ch != '.')
				break;
			enc[i++] = (ch >= 'A' && ch <= 'Z') ? ch | 0x20 : ch;
		}
		enc[i] = '\0';
		if (i > 0)
			return true;
	}
	return false;
}

/* Line 1, and line 2 when line 1 is blank or a comment (tokenize.py).
 * Returns the cookie's line, or 0 when there is none. */
static int
find_cookie(const char *s, size_t len, char *enc, size_t encsz)
{
	const char *nl = memchr(s, '\n', len);
	size_t n = nl ? (size_t)(nl - s) : len, i = 0;

	if (coding_cookie(s, n, enc, encsz))
		return 1;
	if (!nl)
		return 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\f'))
		i++;
	if (i < n && s[i] != '#' && s[i] != '\r')
		return 0;
	s = nl + 1;
	len -= n + 1;
	nl = memchr(s, '\n', len);
	return coding_cookie(s, nl ? (size_t)(nl - s) : len, enc, encsz) ? 2 : 0;
}

/* The encodings tach decodes as Python does: Python's codec name, and
 * iconv's (empty for UTF-8, which is only checked). All are single-byte
 * or EUC, so every byte below 0x80 is the ASCII character. */
struct codec {
	const char *python, *iconv;
};

/* encodings.aliases.aliases for those codecs, sorted */
struct alias {
	const char *name, *codec;
};

static const struct codec codecs[] = {
	{"utf_8", ""},
	{"ascii", "ASCII"},
	{"latin_1", "ISO-8859-1"},
	{"iso8859_2", "ISO-8859-2"},
	{"iso8859_3", "ISO-8859-3"},
	{"iso8859_4", "ISO-8859-4"},
	{"iso8859_5", "ISO-8859-5"},
	{"iso8859_6", "ISO-8859-6"},
	{"iso8859_7", "ISO-8859-7"},
	{"iso8859_8", "ISO-8859-8"},
	{"iso8859_9", "ISO-8859-9"},
	{"iso8859_10", "ISO-8859-10"},
	{"iso8859_11", "ISO-8859-11"},
	{"iso8859_13", "ISO-8859-13"},
	{"iso8859_14", "ISO-8859-14"},
	{"iso8859_15", "ISO-8859-15"},
	{"iso8859_16", "ISO-8859-16"},
	{"cp1250", "CP1250"},
	{"cp1251", "CP1251"},
	{"cp1252", "CP1252"},
	{"cp1253", "CP1253"},
	{"cp1254", "CP1254"},
	{"cp1255", "CP1255"},
	{"cp1256", "CP1256"},
	{"cp1257", "CP1257"},
	{"cp1258", "CP1258"},
	{"koi8_r", "KOI8-R"},
	{"koi8_u", "KOI8-U"},
	{"cp437", "CP437"},
	{"cp850", "CP850"},
	{"cp852", "CP852"},
	{"cp866", "CP866"},
	{"euc_jp", "EUC-JP"},
	{"euc_kr", "EUC-KR"},
	{"gb2312", "EUC-CN"},
};

static const struct alias aliases[] = {
	{"1250", "cp1250"}, {"1251", "cp1251"}, {"1252", "cp1252"}, {"1253", "cp1253"},
	{"1254", "cp1254"}, {"1255", "cp1255"}, {"1256", "cp1256"}, {"1257", "cp1257"},
	{"1258", "cp1258"}, {"437", "cp437"}, {"646", "ascii"}, {"850", "cp850"}, {"852", "cp852"},
	{"866", "cp866"}, {"8859", "latin_1"}, {"ansi_x3.4_1968", "ascii"}, {"ansi_x3.4_1986", "ascii"},
	{"ansi_x3_4_1968", "ascii"}, {"arabic", "iso8859_6"}, {"asmo_708", "iso8859_6"},
	{"chinese", "gb2312"}, {"cp367", "ascii"}, {"cp65001", "utf_8"}, {"cp819", "latin_1"},
	{"csascii", "ascii"}, {"csibm866", "cp866"}, {"csiso58gb231280", "gb2312"},
	{"csisolatin1", "latin_1"}, {"csisolatin2", "iso8859_2"}, {"csisolatin3", "iso8859_3"},
	{"csisolatin4", "iso8859_4"}, {"csisolatin5", "iso8859_9"}, {"csisolatin6", "iso8859_10"},
	{"csisolatinarabic", "iso8859_6"}, {"csisolatincyrillic", "iso8859_5"},
	{"csisolatingreek", "iso8859_7"}, {"csisolatinhebrew", "iso8859_8"}, {"cskoi8r", "koi8_r"},
	{"cspc850multilingual", "cp850"}, {"cspc8codepage437", "cp437"}, {"cspcp852", "cp852"},
	{"cyrillic", "iso8859_5"}, {"ecma_114", "iso8859_6"}, {"ecma_118", "iso8859_7"},
	{"elot_928", "iso8859_7"}, {"euc_cn", "gb2312"}, {"euccn", "gb2312"}, {"eucgb2312_cn", "gb2312"},
	{"eucjp", "euc_jp"}, {"euckr", "euc_kr"}, {"gb2312_1980", "gb2312"}, {"gb2312_80", "gb2312"},
	{"greek", "iso8859_7"}, {"greek8", "iso8859_7"}, {"hebrew", "iso8859_8"}, {"ibm367", "ascii"},
	{"ibm437", "cp437"}, {"ibm819", "latin_1"}, {"ibm850", "cp850"}, {"ibm852", "cp852"},
	{"ibm866", "cp866"}, {"iso646_us", "ascii"}, {"iso8859", "latin_1"}, {"iso8859_1", "latin_1"},
	{"iso_646.irv_1991", "ascii"}, {"iso_8859_1", "latin_1"}, {"iso_8859_10", "iso8859_10"},
	{"iso_8859_10_1992", "iso8859_10"}, {"iso_8859_11", "iso8859_11"},
	{"iso_8859_11_2001", "iso8859_11"}, {"iso_8859_13", "iso8859_13"}, {"iso_8859_14", "iso8859_14"},
	{"iso_8859_14_1998", "iso8859_14"}, {"iso_8859_15", "iso8859_15"}, {"iso_8859_16", "iso8859_16"},
	{"iso_8859_16_2001", "iso8859_16"}, {"iso_8859_1_1987", "latin_1"}, {"iso_8859_2", "iso8859_2"},
	{"iso_8859_2_1987", "iso8859_2"}, {"iso_8859_3", "iso8859_3"}, {"iso_8859_3_1988", "iso8859_3"},
	{"iso_8859_4", "iso8859_4"}, {"iso_8859_4_1988", "iso8859_4"}, {"iso_8859_5", "iso8859_5"},
	{"iso_8859_5_1988", "iso8859_5"}, {"iso_8859_6", "iso8859_6"}, {"iso_8859_6_1987", "iso8859_6"},
	{"iso_8859_7", "iso8859_7"}, {"iso_8859_7_1987", "iso8859_7"}, {"iso_8859_8", "iso8859_8"},
	{"iso_8859_8_1988", "iso8859_8"}, {"iso_8859_9", "iso8859_9"}, {"iso_8859_9_1989", "iso8859_9"},
	{"iso_celtic", "iso8859_14"}, {"iso_ir_100", "latin_1"}, {"iso_ir_101", "iso8859_2"},
	{"iso_ir_109", "iso8859_3"}, {"iso_ir_110", "iso8859_4"}, {"iso_ir_126", "iso8859_7"},
	{"iso_ir_127", "iso8859_6"}, {"iso_ir_138", "iso8859_8"}, {"iso_ir_144", "iso8859_5"},
	{"iso_ir_148", "iso8859_9"}, {"iso_ir_157", "iso8859_10"}, {"iso_ir_199", "iso8859_14"},
	{"iso_ir_226", "iso8859_16"}, {"iso_ir_58", "gb2312"}, {"iso_ir_6", "ascii"},
	{"korean", "euc_kr"}, {"ks_c_5601", "euc_kr"}, {"ks_c_5601_1987", "euc_kr"},
	{"ks_x_1001", "euc_kr"}, {"ksc5601", "euc_kr"}, {"ksx1001", "euc_kr"}, {"l1", "latin_1"},
	{"l10", "iso8859_16"}, {"l2", "iso8859_2"}, {"l3", "iso8859_3"}, {"l4", "iso8859_4"},
	{"l5", "iso8859_9"}, {"l6", "iso8859_10"}, {"l7", "iso8859_13"}, {"l8", "iso8859_14"},
	{"l9", "iso8859_15"}, {"latin", "latin_1"}, {"latin1", "latin_1"}, {"latin10", "iso8859_16"},
	{"latin2", "iso8859_2"}, {"latin3", "iso8859_3"}, {"latin4", "iso8859_4"},
	{"latin5", "iso8859_9"}, {"latin6", "iso8859_10"}, {"latin7", "iso8859_13"},
	{"latin8", "iso8859_14"}, {"latin9", "iso8859_15"}, {"thai", "iso8859_11"}, {"u8", "utf_8"},
	{"u_jis", "euc_jp"}, {"ujis", "euc_jp"}, {"us", "ascii"}, {"us_ascii", "ascii"}, {"utf", "utf_8"},
	{"utf8", "utf_8"}, {"utf8_ucs2", "utf_8"}, {"utf8_ucs4", "utf_8"}, {"windows_1250", "cp1250"},
	{"windows_1251", "cp1251"}, {"windows_1252", "cp1252"}, {"windows_1253", "cp1253"},
	{"windows_1254", "cp1254"}, {"windows_1255", "cp1255"}, {"windows_1256", "cp1256"},
	{"windows_1257", "cp1257"}, {"windows_1258", "cp1258"}, {"x_mac_korean", "euc_kr"},
	{"x_mac_simp_chinese", "gb2312"},
};

static int
alias_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct alias *)elem)->name);
}

/* The tokenizer's get_normal_name(): "utf-8" and "latin-1" spellings,
 * also with a suffix ("utf-8-sig", "latin-1-unix"). */
static bool
normal_prefix(const char *enc, const char *p)
{
	char tmp[13];
	size_t i, n = strlen(p);

	for (i = 0; i < 12 && enc[i]; i++)
		tmp[i] = enc[i] == '_' ? '-' : enc[i];
	tmp[i] = '\0';
	return strncmp(tmp, p, n) == 0 && (tmp[n] == '\0' || tmp[n] == '-');
}

/* The codec Python uses for a cookie's (lowercased) encoding name, or
 * NULL when it is none tach decodes as Python does. */
static const struct codec *
find_codec(const char *enc)
{
	char norm[64];
	const char *name;
	const struct alias *al;
	size_t i, n = 0;
	bool punct = false;

	if (normal_prefix(enc, "utf-8"))
		return &codecs[0];
	if (normal_prefix(enc, "latin-1") || normal_prefix(enc, "iso-8859-1") ||
	    normal_prefix(enc, "iso-latin-1"))
		return &codecs[2];
	/* encodings.normalize_encoding(): runs of anything but letters,
	 * digits and '.' become one '_', none at either end */
	for (i = 0; enc[i] && n + 2 < sizeof(norm); i++) {
		if ((is_word(enc[i]) && enc[i] != '_') || enc[i] == '.') {
			if (punct && n)
				norm[n++] = '_';
			norm[n++] = enc[i];
			punct = false;
		} else {
			punct = true;
		}
	}
	norm[n] = '\0';
	name = norm;
	al = bsearch(norm, aliases, sizeof(aliases) / sizeof(aliases[0]), sizeof(aliases[0]), alias_cmp);
	if (!al) {
		for (i = 0; i < n; i++)
			if (norm[i] == '.')
				norm[i] = '_';
		al = bsearch(norm, aliases, sizeof(aliases) / sizeof(aliases[0]), sizeof(aliases[0]),
		             alias_cmp);
	}
	if (al)
		name = al->codec;
	for (i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (strcmp(codecs[i].python, name) == 0)
			return &codecs[i];
	return NULL;
}

/* The line of src[0, off). */
static int
line_at(const char *src, size_t off)
{
	int line = 1;
	size_t i;

	for (i = 0; i < off; i++)
		line += src[i] == '\n';
	return line;
}

/* The offset of the first byte of src that is not valid UTF-8 (or, with
 * ascii, not ASCII), or len. */
static size_t
invalid_at(const char *src, size_t len, bool ascii)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, n;
	unsigned cp;
	uint64_t w;

	while (i < len) {
		/* ASCII eight bytes at a time */
		if (i + 8 <= len) {
			memcpy(&w, s + i, 8);
			if (!(w & 0x8080808080808080u)) {
				i += 8;
				continue;
			}
		}
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (ascii || !(n = utf8_decode(s + i, len - i, &cp)))
			return i;
		i += n;
	}
	return len;
}

/* Converts src from enc to UTF-8 into *buf. Returns len, or the offset of
 * the first byte that does not decode. */
static size_t
convert(char **buf, size_t *cap, const char *enc, const char *src, size_t len, size_t *outlen)
{
	iconv_t cd = iconv_open("UTF-8", enc);
	char *in = (char *)src, *out;
	size_t inleft = len, outleft, done;

	if (cd == (iconv_t)-1)
		return 0;
	*buf = xgrow(*buf, cap, len * 2 + 16, 1);
	out = *buf;
	outleft = *cap;
	/* convert, then flush: stateful encodings end in their initial shift
	 * state; either step may ask for more room */
	for (bool flushing = false;;) {
		size_t r = flushing ? iconv(cd, NULL, NULL, &out, &outleft)
		                    : iconv(cd, &in, &inleft, &out, &outleft);

		if (r != (size_t)-1) {
			if (flushing)
				break;
			flushing = inleft == 0;
			continue;
		}
		if (errno != E2BIG) {
			iconv_close(cd);
			return (size_t)(in - src);
		}
		done = out - *buf;
		*buf = xgrow(*buf, cap, *cap * 2, 1);
		out = *buf + done;
		outleft = *cap - done;
	}
	iconv_close(cd);
	*outlen = out - *buf;
	return len;
}

const char *
py_decode(const char *src, size_t *len, char **buf, size_t *cap, int *errline, char *why,
    size_t whysz)
{
	char enc[64] = "";
	const struct codec *c = &codecs[0];
	const char *out = src;
	size_t n = *len, bad;
	int line;

	if (n >= 3 && memcmp(src, "\xef\xbb\xbf", 3) == 0) {
		out = src + 3;
		n -= 3;
	} else if (n && (line = find_cookie(src, n, enc, sizeof(enc)))) {
		if (!(c = find_codec(enc))) {
			*errline = line;
			snprintf(why, whysz, "encoding '%s' is not one tach decodes as Python does", enc);
			return NULL;
		}
		if (*c->iconv && strcmp(c->iconv, "ASCII") != 0) {
			if ((bad = convert(buf, cap, c->iconv, src, n, len)) < n) {
				*errline = line_at(src, bad);
				snprintf(why, whysz, "bytes that do not decode as %s", c->python);
				return NULL;
			}
			return *buf;
		}
	}
	/* UTF-8 or ASCII: checked as Python checks them */
	if ((bad = invalid_at(out, n, *c->iconv != '\0')) < n) {
		*errline = line_at(out, bad);
		snprintf(why, whysz, "byte 0x%02x is not %s", (unsigned char)out[bad],
		    *c->iconv ? "ASCII" : "UTF-8");
		return NULL;
	}
	*len = n;
	return out;
}
