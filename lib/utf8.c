/* utf8 - see lib/utf8.h. */
#include "lib/utf8.h"
#include "lib/util.h"

size_t
utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
	size_t len, i;
	unsigned c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

void
utf8_escape(struct buf *b, const char *s, size_t n, const char *(*rep)(unsigned cp, char *tmp, void *ctx),
            void *ctx)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, start = 0, len;
	const char *r;
	char tmp[16];
	unsigned cp;

	while (i < n) {
		if (!(len = utf8_decode(p + i, n - i, &cp))) {
			r = UTF8_REPLACEMENT;
			len = 1;
		} else {
			r = rep(cp, tmp, ctx);
		}
		if (!r) {
			i += len;
			continue;
		}
		buf_add(b, s + start, i - start);
		buf_puts(b, r);
		i += len;
		start = i;
	}
	buf_add(b, s + start, i - start);
}
