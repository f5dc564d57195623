/* utf8 - the one UTF-8 validator: every check of UTF-8 in tach decodes
 * through utf8_decode(), so all of them agree on what is valid (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF). */
#ifndef TACH_UTF8_H
#define TACH_UTF8_H

#include <stddef.h>

/* U+FFFD, what an invalid byte becomes wherever text must be valid. */
#define UTF8_REPLACEMENT "\xef\xbf\xbd"

/* Decodes the valid UTF-8 sequence at s (at most n bytes, n > 0) into *cp.
 * Returns its length, or 0 when it is not valid UTF-8: a continuation or
 * F5-FF lead byte, an overlong form (C0, C1, E0 80.., F0 80..), a
 * surrogate (ED A0..), above U+10FFFF, or a sequence cut short by n or by
 * a byte that is not a continuation. Then exactly one byte is bad. */
size_t utf8_decode(const unsigned char *s, size_t n, unsigned *cp);

/* Appends the n bytes at s to b, escaped: each character whose code point
 * rep() gives a replacement for (rep(cp, tmp, ctx), tmp 16 bytes of
 * scratch; NULL keeps the character) is replaced, and each byte that is
 * not UTF-8 becomes U+FFFD. The one walk of the JSON and XML writers. */
struct buf;
void utf8_escape(struct buf *b, const char *s, size_t n,
                 const char *(*rep)(unsigned cp, char *tmp, void *ctx), void *ctx);

#endif
