/*
 * sip_build.h: writing SIP messages into a caller-supplied buffer.
 *
 * A struct sip_buf never overflows: once something does not fit it records
 * the overflow and every later write is a no-op, so callers check once at
 * the end (sip_buf_ok) instead of after every line.
 */
#ifndef PBX_SIP_BUILD_H
#define PBX_SIP_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "sip_addr.h"
#include "sip_msg.h"
#include "slice.h"

struct sip_buf {
	char *p;
	size_t len, cap;
	bool overflow;
};

void sip_buf_init(struct sip_buf *b, char *mem, size_t cap);
void sip_buf_add(struct sip_buf *b, const char *s, size_t n);
void sip_buf_str(struct sip_buf *b, const char *s);
void sip_buf_slice(struct sip_buf *b, struct slice s);
void sip_buf_printf(struct sip_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline bool sip_buf_ok(const struct sip_buf *b) { return !b->overflow; }

/* Standard reason phrase for a status code ("Unknown" when we have none). */
const char *sip_reason(int code);

/* 16 lowercase hex characters from the system RNG, NUL-terminated. */
void sip_random_token(char out[17]);

/*
 * Start a response to req: status line, every Via in order (the top one
 * with received= and rport= filled from src per RFC 3261 18.2.1 and
 * RFC 3581), From, To (with to_tag added when To has none and to_tag is not
 * NULL), Call-ID, CSeq. Add more headers with sip_buf_*, then finish with
 * sip_build_end().
 */
void sip_build_response(struct sip_buf *b, const struct sip_msg *req, const struct sip_dest *src,
			int code, const char *reason, const char *to_tag);
/* Server/User-Agent line, Content-Length and the blank line, then body. */
void sip_build_end(struct sip_buf *b, const char *body, size_t body_len);

/*
 * Where a response to req goes (RFC 3261 18.2.2 with RFC 3581): on TCP the
 * connection it came on; on UDP the source address, at the source port when
 * rport was asked for and otherwise at the Via port (5060 when absent).
 */
void sip_response_dest(const struct sip_msg *req, const struct sip_dest *src, struct sip_dest *out);

extern const char *sip_server_name; /* "Server:" header value */

#endif
