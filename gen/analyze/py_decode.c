/* py_decode - the source decoding in front of the parser: a UTF-8 BOM,
 * a PEP 263 coding cookie on line 1 or 2, and iconv(3) for the rest.
 *
 * The parser reads UTF-8. A BOM is dropped; UTF-8 and ASCII cookies need
 * nothing; any other encoding is converted to UTF-8, which leaves line
 * numbers as they are. An unknown encoding or bytes that do not decode are
 * parsed as they are, never an error. No tree-sitter here. */
#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <string.h>

#include "gen/analyze/py_decode.h"
#include "lib/util.h"

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
			enc[i++] = (ch >= 'A' && ch <= 'Z') ? ch | 0x20 : ch == '_' ? '-' : ch;
		}
		enc[i] = '\0';
		if (i > 0)
			return true;
	}
	return false;
}

/* Line 1, and line 2 when line 1 is blank or a comment (tokenize.py). */
static bool
find_cookie(const char *s, size_t len, char *enc, size_t encsz)
{
	const char *nl = memchr(s, '\n', len);
	size_t n = nl ? (size_t)(nl - s) : len, i = 0;

	if (coding_cookie(s, n, enc, encsz))
		return true;
	if (!nl)
		return false;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\f'))
		i++;
	if (i < n && s[i] != '#' && s[i] != '\r')
		return false;
	s = nl + 1;
	len -= n + 1;
	nl = memchr(s, '\n', len);
	return coding_cookie(s, nl ? (size_t)(nl - s) : len, enc, encsz);
}

static bool
has_prefix(const char *s, const char *p)
{
	size_t n = strlen(p);

	return strncmp(s, p, n) == 0 && (s[n] == '\0' || s[n] == '-');
}

/* Converts src from enc to UTF-8 into *buf. Returns false when the
 * encoding is unknown or the bytes do not decode. */
static bool
convert(char **buf, size_t *cap, const char *enc, const char *src, size_t len, size_t *outlen)
{
	iconv_t cd = iconv_open("UTF-8", enc);
	char *in = (char *)src, *out;
	size_t inleft = len, outleft, done;
	bool ok = true;

	if (cd == (iconv_t)-1)
		return false;
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
			ok = false;
			break;
		}
		done = out - *buf;
		*buf = xgrow(*buf, cap, *cap * 2, 1);
		out = *buf + done;
		outleft = *cap - done;
	}
	iconv_close(cd);
	*outlen = out - *buf;
	return ok;
}

const char *
py_decode(const char *src, size_t *len, char **buf, size_t *cap)
{
	char enc[64] = "";
	size_t n;

	if (*len >= 3 && memcmp(src, "\xef\xbb\xbf", 3) == 0) {
		*len -= 3;
		return src + 3;
	}
	if (!*len || !find_cookie(src, *len, enc, sizeof(enc)))
		return src;
	if (has_prefix(enc, "utf-8") || strcmp(enc, "utf8") == 0 || strcmp(enc, "ascii") == 0 ||
	    strcmp(enc, "us-ascii") == 0)
		return src;
	if (has_prefix(enc, "latin-1") || has_prefix(enc, "iso-8859-1") || has_prefix(enc, "iso-latin-1"))
		strcpy(enc, "ISO-8859-1");
	if (!convert(buf, cap, enc, src, *len, &n))
		return src;
	*len = n;
	return *buf;
}
