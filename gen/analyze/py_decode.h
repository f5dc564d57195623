/* py_decode.h - source decoding for the analyzer (private to gen/; see
 * py_decode.c), and the byte class the analyzer's parts share. Kept apart
 * from pyparse.h, which includes it, so that py_decode.c needs no
 * tree-sitter. */
#ifndef TACH_PY_DECODE_H
#define TACH_PY_DECODE_H

#include <stdbool.h>
#include <stddef.h>

/* 1 for the bytes is_word() matches; see py_decode.c */
extern const unsigned char py_word_bytes[256];

/* [A-Za-z0-9_]: what \w matches in a bytes pattern */
static inline bool
is_word(unsigned char ch)
{
	return py_word_bytes[ch];
}

/* Returns the UTF-8 bytes to parse, src itself or *buf, and sets *len.
 * Converted bytes go to *buf, grown with xgrow() to capacity *cap and owned
 * by the caller, who keeps it from one call to the next. Returns NULL when
 * the file cannot be read as Python would read it (an encoding tach does
 * not decode as Python does, bytes that do not decode): *errline is the
 * line to blame and why[whysz] says what is wrong. */
const char *py_decode(const char *src, size_t *len, char **buf, size_t *cap, int *errline, char *why,
    size_t whysz);

#endif
