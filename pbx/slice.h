/*
 * slice.h: a pointer and a length into somebody else's buffer.
 *
 * The SIP parser never copies: every field of a parsed message is a slice
 * into the receive buffer. A slice is valid only as long as that buffer is;
 * whoever keeps data past the handling of one message copies it out.
 */
#ifndef PBX_SLICE_H
#define PBX_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

struct slice {
	const char *p; /* first byte, or NULL for "absent" */
	size_t len;    /* number of bytes; 0 with p != NULL is "present, empty" */
};

#define SLICE_NULL ((struct slice){ NULL, 0 })
#define SLICE_LIT(s) ((struct slice){ (s), sizeof(s) - 1 })

static inline struct slice slice_make(const char *p, size_t len)
{
	return (struct slice){ p, len };
}

static inline struct slice slice_cstr(const char *s)
{
	return (struct slice){ s, s ? strlen(s) : 0 };
}

static inline bool slice_present(struct slice s) { return s.p != NULL; }

/* Exact, case-sensitive comparison. */
static inline bool slice_eq(struct slice a, struct slice b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* ASCII case-insensitive comparison (SIP tokens, header names, hosts). */
static inline bool slice_ieq(struct slice a, struct slice b)
{
	return a.len == b.len && (a.len == 0 || strncasecmp(a.p, b.p, a.len) == 0);
}

static inline bool slice_ieq_cstr(struct slice a, const char *s)
{
	return slice_ieq(a, slice_cstr(s));
}

static inline bool slice_eq_cstr(struct slice a, const char *s)
{
	return slice_eq(a, slice_cstr(s));
}

/*
 * Copy into a NUL-terminated buffer of cap bytes. Returns 0, or -1 when the
 * slice (plus its NUL) does not fit; the buffer then holds "".
 */
static inline int slice_copy(char *dst, size_t cap, struct slice s)
{
	if (cap == 0)
		return -1;
	if (s.len >= cap) {
		dst[0] = '\0';
		return -1;
	}
	if (s.len)
		memcpy(dst, s.p, s.len);
	dst[s.len] = '\0';
	return 0;
}

/* Decimal digits only, no sign, no spaces; false when empty, not all
 * digits, or above max. */
static inline bool slice_to_ulong(struct slice s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	if (!s.p || s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned d = (unsigned)(unsigned char)s.p[i] - '0';
		if (d > 9 || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

#endif
