/*
 * sip_msg.c: the SIP message parser (RFC 3261 sections 7, 18.3, 20, 25;
 * RFC 4475 and RFC 5118 are the yardstick).
 *
 * DESIGN. One pass over the caller's buffer, no allocation, no copy: every
 * field of struct sip_msg is a slice into that buffer. Lines are found with
 * memchr; a logical header line runs until a line end that is not followed
 * by SP/HT (folding), so a header's value may contain CRLF+WSP and every
 * value parser treats CR and LF as whitespace. Header names are identified
 * by a switch on length and first letter, then one strncasecmp.
 *
 * Errors: a malformed start line or header does not stop the scan. The
 * first error is remembered and the remaining headers are still parsed, so
 * that *m carries Via, From, To, Call-ID and CSeq whenever they are intact
 * and the caller can answer 400 (see sip_msg_can_reply). A From or To that
 * does not parse keeps only its raw text (na.raw), which is what a response
 * echoes; a CSeq or Call-ID that does not parse stays absent. Only framing
 * errors (header section not terminated, too many headers) stop at once.
 *
 * m->buf is the buffer passed in and m->len counts from it, including any
 * CRLF keepalives skipped before the start line: a stream transport
 * consumes exactly m->len bytes. After EAGAIN m->len is 0; after EBADMSG
 * on a datagram it is the whole datagram, on a stream it is 0 unless the
 * framing was intact (the connection should be closed then anyway).
 *
 * Decisions where RFC 4475 allows either way (the unit tests name them):
 * extra SP in the request line (lwsstart, trws), LWS in the Request-URI
 * (lwsruri), <> around it (ltgtruri) and URI headers in it (escruri) are
 * EBADMSG; an unterminated quoted string (quotbal), a display name that is
 * neither tokens nor quoted (baddn), LWS inside <> (badaspec) and a bare
 * addr-spec holding '?' or ',' (regbadct) are EBADMSG; conflicting
 * duplicates of Call-ID, CSeq, From, To, Max-Forwards, Expires or
 * Content-Length are EBADMSG; an overlarge Expires or expires parameter is
 * clamped to SIP_EXPIRES_MAX; the Date header is not parsed (baddate);
 * a CSeq method different from the request method is left to the
 * transaction user (mismatch01/02).
 */
#include "sip_msg.h"
#include "sip_params.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

/* Overlarge Expires values are treated as this (RFC 4475 scalar02). */
#define SIP_EXPIRES_MAX 4294967295L

/* Character classes, one bit each; the same table as sip_uri.c. */
#define C_TOKEN 0x01 /* token */
#define C_LWS 0x02   /* SP HT CR LF */
#define C_DIGIT 0x04
#define C_HEX 0x08
#define C_HOST 0x40  /* hostname characters, '_' tolerated */

static const unsigned char msg_cls[256] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x02, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0xb1, 0x00, 0x00, 0xb0, 0xb1, 0xb0, 0xb1, 0xb0, 0xb0, 0xb1, 0xb1, 0xb0, 0xf1, 0xf1, 0x90,
	0xfd, 0xfd, 0xfd, 0xfd, 0xfd, 0xfd, 0xfd, 0xfd, 0xfd, 0xfd, 0x80, 0x90, 0x00, 0xb0, 0x00, 0x90,
	0x80, 0xf9, 0xf9, 0xf9, 0xf9, 0xf9, 0xf9, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1,
	0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0x80, 0x00, 0x80, 0x00, 0xf1,
	0x01, 0xf9, 0xf9, 0xf9, 0xf9, 0xf9, 0xf9, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1,
	0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0xf1, 0x00, 0x00, 0x00, 0xb1, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* State of one sip_msg_parse call; lives on its stack. */
struct parser {
	struct sip_msg *m;
	enum sip_transport_kind kind;
	int err;          /* first EBADMSG seen; parsing goes on to fill *m */
	bool bad_version; /* start line or top Via is not SIP/2.0 */
	bool have_cseq, have_mf, have_expires, have_cl;
};

static inline bool is(char c, unsigned mask)
{
	return (msg_cls[(unsigned char)c] & mask) != 0;
}

static const char *skip_lws(const char *p, const char *end)
{
	while (p < end && is(*p, C_LWS))
		p++;
	return p;
}

static struct slice trim_lws(const char *p, const char *end)
{
	p = skip_lws(p, end);
	while (end > p && is(end[-1], C_LWS))
		end--;
	return slice_make(p, (size_t)(end - p));
}

static const char *skip_token(const char *p, const char *end)
{
	while (p < end && is(*p, C_TOKEN))
		p++;
	return p;
}

static void bad(struct parser *ps)
{
	if (!ps->err)
		ps->err = EBADMSG;
}

/* p at '"': the byte after the closing quote, or NULL if unterminated. */
static const char *scan_quoted(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			if (++p >= end)
				return NULL;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/*
 * 1*DIGIT into *out. Leading zeros are fine. A value above max fails, or
 * with clamp becomes max (the digits are still checked).
 */
static int parse_uint(struct slice s, unsigned long max, bool clamp, unsigned long *out)
{
	unsigned long v = 0;

	if (!s.p || s.len == 0)
		return EBADMSG;
	for (size_t i = 0; i < s.len; i++) {
		if (!is(s.p[i], C_DIGIT))
			return EBADMSG;
		if (v <= max)
			v = v * 10 + (unsigned long)(s.p[i] - '0');
		if (v > max) {
			if (!clamp)
				return EBADMSG;
		}
	}
	*out = v > max ? max : v;
	return 0;
}

/* ------------------------------------------------------------ methods */

static const char *const method_names[] = {
	[SIP_INVITE] = "INVITE",       [SIP_ACK] = "ACK",         [SIP_BYE] = "BYE",
	[SIP_CANCEL] = "CANCEL",       [SIP_REGISTER] = "REGISTER", [SIP_OPTIONS] = "OPTIONS",
	[SIP_MESSAGE] = "MESSAGE",     [SIP_SUBSCRIBE] = "SUBSCRIBE", [SIP_NOTIFY] = "NOTIFY",
	[SIP_REFER] = "REFER",         [SIP_INFO] = "INFO",       [SIP_UPDATE] = "UPDATE",
	[SIP_PRACK] = "PRACK",         [SIP_PUBLISH] = "PUBLISH",
};

static bool tok_is(struct slice t, const char *s, size_t n)
{
	return t.len == n && memcmp(t.p, s, n) == 0;
}

enum sip_method sip_method_from(struct slice t)
{
	if (!t.p || t.len < 3)
		return SIP_METHOD_UNKNOWN;
	switch (t.p[0]) {
	case 'A':
		return tok_is(t, "ACK", 3) ? SIP_ACK : SIP_METHOD_UNKNOWN;
	case 'B':
		return tok_is(t, "BYE", 3) ? SIP_BYE : SIP_METHOD_UNKNOWN;
	case 'C':
		return tok_is(t, "CANCEL", 6) ? SIP_CANCEL : SIP_METHOD_UNKNOWN;
	case 'I':
		if (tok_is(t, "INVITE", 6))
			return SIP_INVITE;
		return tok_is(t, "INFO", 4) ? SIP_INFO : SIP_METHOD_UNKNOWN;
	case 'M':
		return tok_is(t, "MESSAGE", 7) ? SIP_MESSAGE : SIP_METHOD_UNKNOWN;
	case 'N':
		return tok_is(t, "NOTIFY", 6) ? SIP_NOTIFY : SIP_METHOD_UNKNOWN;
	case 'O':
		return tok_is(t, "OPTIONS", 7) ? SIP_OPTIONS : SIP_METHOD_UNKNOWN;
	case 'P':
		if (tok_is(t, "PRACK", 5))
			return SIP_PRACK;
		return tok_is(t, "PUBLISH", 7) ? SIP_PUBLISH : SIP_METHOD_UNKNOWN;
	case 'R':
		if (tok_is(t, "REGISTER", 8))
			return SIP_REGISTER;
		return tok_is(t, "REFER", 5) ? SIP_REFER : SIP_METHOD_UNKNOWN;
	case 'S':
		return tok_is(t, "SUBSCRIBE", 9) ? SIP_SUBSCRIBE : SIP_METHOD_UNKNOWN;
	case 'U':
		return tok_is(t, "UPDATE", 6) ? SIP_UPDATE : SIP_METHOD_UNKNOWN;
	default:
		return SIP_METHOD_UNKNOWN;
	}
}

/* NULL for SIP_METHOD_UNKNOWN (the token is in msg->method) and for
 * values outside the enum. */
const char *sip_method_name(enum sip_method m)
{
	if ((int)m <= 0 || (size_t)m >= sizeof(method_names) / sizeof(method_names[0]))
		return NULL;
	return method_names[m];
}

/* ------------------------------------------------------- header names */

/* p[0..n) equals the lower-case literal lc, ASCII case-insensitively. The
 * names are tokens, so OR-ing 0x20 only folds letters. */
static inline bool name_is(const char *p, const char *lc, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((p[i] | 0x20) != lc[i])
			return false;
	return true;
}

static enum sip_hdr_id hdr_lookup(const char *p, size_t n)
{
	int c;

	if (n == 0)
		return SIP_HDR_OTHER;
	c = p[0] | 0x20; /* ASCII lower case for letters; others never match */
#define HDR_IS(s) name_is(p, (s), n)
	switch (n) {
	case 1:
		switch (c) {
		case 'v': return SIP_HDR_VIA;
		case 'f': return SIP_HDR_FROM;
		case 't': return SIP_HDR_TO;
		case 'i': return SIP_HDR_CALL_ID;
		case 'm': return SIP_HDR_CONTACT;
		case 'l': return SIP_HDR_CONTENT_LENGTH;
		case 'c': return SIP_HDR_CONTENT_TYPE;
		case 'k': return SIP_HDR_SUPPORTED;
		case 'o': return SIP_HDR_EVENT;
		case 's': return SIP_HDR_SUBJECT;
		case 'e': return SIP_HDR_CONTENT_ENCODING;
		default: return SIP_HDR_OTHER;
		}
	case 2:
		if (c == 't' && HDR_IS("to"))
			return SIP_HDR_TO;
		break;
	case 3:
		if (c == 'v' && HDR_IS("via"))
			return SIP_HDR_VIA;
		break;
	case 4:
		if (c == 'f' && HDR_IS("from"))
			return SIP_HDR_FROM;
		if (c == 'c' && HDR_IS("cseq"))
			return SIP_HDR_CSEQ;
		if (c == 'd' && HDR_IS("date"))
			return SIP_HDR_DATE;
		break;
	case 5:
		if (c == 'r' && HDR_IS("route"))
			return SIP_HDR_ROUTE;
		if (c == 'a' && HDR_IS("allow"))
			return SIP_HDR_ALLOW;
		if (c == 'e' && HDR_IS("event"))
			return SIP_HDR_EVENT;
		break;
	case 7:
		if (c == 'c') {
			if (HDR_IS("call-id"))
				return SIP_HDR_CALL_ID;
			if (HDR_IS("contact"))
				return SIP_HDR_CONTACT;
		}
		if (c == 'e' && HDR_IS("expires"))
			return SIP_HDR_EXPIRES;
		if (c == 'r' && HDR_IS("require"))
			return SIP_HDR_REQUIRE;
		if (c == 's' && HDR_IS("subject"))
			return SIP_HDR_SUBJECT;
		break;
	case 9:
		if (c == 's' && HDR_IS("supported"))
			return SIP_HDR_SUPPORTED;
		break;
	case 10:
		if (c == 'u' && HDR_IS("user-agent"))
			return SIP_HDR_USER_AGENT;
		break;
	case 11:
		if (c == 'u' && HDR_IS("unsupported"))
			return SIP_HDR_UNSUPPORTED;
		if (c == 'm' && HDR_IS("min-expires"))
			return SIP_HDR_MIN_EXPIRES;
		break;
	case 12:
		if (c == 'm' && HDR_IS("max-forwards"))
			return SIP_HDR_MAX_FORWARDS;
		if (c == 'c' && HDR_IS("content-type"))
			return SIP_HDR_CONTENT_TYPE;
		if (c == 'r' && HDR_IS("record-route"))
			return SIP_HDR_RECORD_ROUTE;
		break;
	case 13:
		if (c == 'a' && HDR_IS("authorization"))
			return SIP_HDR_AUTHORIZATION;
		if (c == 'p' && HDR_IS("proxy-require"))
			return SIP_HDR_PROXY_REQUIRE;
		break;
	case 14:
		if (c == 'c' && HDR_IS("content-length"))
			return SIP_HDR_CONTENT_LENGTH;
		break;
	case 16:
		if (c == 'w' && HDR_IS("www-authenticate"))
			return SIP_HDR_WWW_AUTHENTICATE;
		if (c == 'c' && HDR_IS("content-encoding"))
			return SIP_HDR_CONTENT_ENCODING;
		break;
	case 18:
		if (c == 'p' && HDR_IS("proxy-authenticate"))
			return SIP_HDR_PROXY_AUTHENTICATE;
		break;
	case 19:
		if (c == 'p' && HDR_IS("proxy-authorization"))
			return SIP_HDR_PROXY_AUTHORIZATION;
		break;
	default:
		break;
	}
#undef HDR_IS
	return SIP_HDR_OTHER;
}

const struct sip_hdr *sip_msg_hdr(const struct sip_msg *m, enum sip_hdr_id id)
{
	unsigned n = m->nhdrs < SIP_MAX_HEADERS ? m->nhdrs : SIP_MAX_HEADERS;

	if (id == SIP_HDR_OTHER)
		return NULL;
	for (unsigned i = 0; i < n; i++)
		if (m->hdrs[i].id == id)
			return &m->hdrs[i];
	return NULL;
}

const struct sip_hdr *sip_msg_hdr_name(const struct sip_msg *m, struct slice name)
{
	unsigned n = m->nhdrs < SIP_MAX_HEADERS ? m->nhdrs : SIP_MAX_HEADERS;

	if (!name.p || name.len == 0)
		return NULL;
	/* hdr_lookup expects a token; anything else cannot be a known name. */
	if (skip_token(name.p, name.p + name.len) != name.p + name.len)
		return NULL;
	enum sip_hdr_id id = hdr_lookup(name.p, name.len);
	if (id != SIP_HDR_OTHER)
		return sip_msg_hdr(m, id);
	for (unsigned i = 0; i < n; i++)
		if (slice_ieq(m->hdrs[i].name, name))
			return &m->hdrs[i];
	return NULL;
}

/* ---------------------------------------------------------- start line */

/* "SIP/" 1*DIGIT "." 1*DIGIT: 0 for 2.0, EPROTONOSUPPORT for another
 * version, EBADMSG for anything else. */
static int check_version(struct slice v)
{
	const char *p = v.p + 4, *end = v.p + v.len, *d;

	if (v.len < 7 || strncasecmp(v.p, "SIP/", 4) != 0)
		return EBADMSG;
	for (d = p; p < end && is(*p, C_DIGIT); p++)
		;
	if (p == d || p >= end || *p != '.')
		return EBADMSG;
	for (d = ++p; p < end && is(*p, C_DIGIT); p++)
		;
	if (p == d || p != end)
		return EBADMSG;
	return v.len == 7 && memcmp(v.p + 4, "2.0", 3) == 0 ? 0 : EPROTONOSUPPORT;
}

static void parse_version(struct parser *ps, struct slice v)
{
	int rc = check_version(v);

	ps->m->version = v;
	if (rc == EPROTONOSUPPORT)
		ps->bad_version = true;
	else if (rc)
		bad(ps);
}

/*
 * Request-Line = Method SP Request-URI SP SIP-Version, exactly one SP
 * between elements and none at the end (RFC 4475 lwsstart, trws, lwsruri).
 * Status-Line = SIP-Version SP 3DIGIT SP Reason-Phrase; the SP after the
 * code may be missing when the reason is empty.
 */
static void parse_start_line(struct parser *ps, const char *p, const char *end)
{
	struct sip_msg *m = ps->m;
	const char *sp;

	if (end - p >= 4 && strncasecmp(p, "SIP/", 4) == 0) {
		m->is_request = false;
		sp = memchr(p, ' ', (size_t)(end - p));
		if (!sp) {
			bad(ps);
			return;
		}
		parse_version(ps, slice_make(p, (size_t)(sp - p)));
		p = sp + 1;
		if (end - p < 3 || !is(p[0], C_DIGIT) || !is(p[1], C_DIGIT) || !is(p[2], C_DIGIT)) {
			bad(ps); /* RFC 4475 bigcode: more digits end up here too */
			return;
		}
		m->status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		p += 3;
		if (p == end) {
			m->reason = slice_make(p, 0);
		} else if (*p == ' ') {
			m->reason = slice_make(p + 1, (size_t)(end - p - 1));
		} else {
			m->status = 0;
			bad(ps);
			return;
		}
		if (m->status < 100 || m->status > 699)
			bad(ps);
		return;
	}

	m->is_request = true;
	sp = skip_token(p, end);
	if (sp == p || sp >= end || *sp != ' ') {
		bad(ps);
		return;
	}
	m->method = slice_make(p, (size_t)(sp - p));
	m->method_id = sip_method_from(m->method);
	p = sp + 1;
	sp = memchr(p, ' ', (size_t)(end - p));
	if (!sp || sp == p) {
		bad(ps);
		return;
	}
	/* URI headers have no place in a Request-URI (RFC 3261 19.1.1,
	 * RFC 4475 escruri). */
	if (sip_uri_parse(&m->ruri, slice_make(p, (size_t)(sp - p))) ||
	    slice_present(m->ruri.headers))
		bad(ps);
	parse_version(ps, slice_make(sp + 1, (size_t)(end - sp - 1)));
}

/* ------------------------------------------------------------- values */

/*
 * Next comma-separated element of [*pp, end): commas inside quoted strings
 * or <...> do not split. *more tells whether a comma followed.
 */
static int split_next(const char **pp, const char *end, struct slice *item, bool *more)
{
	const char *p = *pp, *s = p;
	bool angle = false;

	*more = false;
	while (p < end) {
		char c = *p;
		if ((unsigned char)c > '>') {
			p++; /* letters and most URI characters: nothing to do */
			continue;
		}
		if (c == '"') {
			p = scan_quoted(p, end);
			if (!p)
				return EBADMSG;
			continue;
		}
		if (c == '<')
			angle = true;
		else if (c == '>')
			angle = false;
		else if (c == ',' && !angle) {
			*more = true;
			break;
		}
		p++;
	}
	*item = trim_lws(s, p);
	*pp = *more ? p + 1 : p;
	return 0;
}

/* Via parameters: branch, received and rport picked out of the list
 * (sip_params_scan checks its syntax). */
static void via_param(void *ctx, struct slice name, struct slice val)
{
	struct sip_via *v = ctx;
	if (name.len == 6 && strncasecmp(name.p, "branch", 6) == 0)
		v->branch = val;
	else if (name.len == 8 && strncasecmp(name.p, "received", 8) == 0)
		v->received = val;
	else if (name.len == 5 && strncasecmp(name.p, "rport", 5) == 0) {
		v->rport = true;
		v->rport_val = val;
	}
}

static int via_params(struct sip_via *v)
{
	return sip_params_scan(v->params, via_param, v);
}

/*
 * via-parm = sent-protocol LWS sent-by *( SEMI via-params ), with LWS
 * allowed around '/' and ':' (RFC 4475 wsinv). *badver is set when the
 * protocol is not SIP/2.0.
 */
static int via_parse(struct sip_via *v, struct slice item, bool *badver)
{
	const char *p = item.p, *end = item.p + item.len, *s, *vs;

	memset(v, 0, sizeof(*v));
	v->raw = item;
	s = p;
	p = skip_token(p, end);
	if (p == s)
		return EBADMSG;
	struct slice pname = slice_make(s, (size_t)(p - s));
	p = skip_lws(p, end);
	if (p >= end || *p != '/')
		return EBADMSG;
	vs = p = skip_lws(p + 1, end);
	p = skip_token(p, end);
	if (p == vs)
		return EBADMSG;
	v->proto = slice_make(s, (size_t)(p - s));
	*badver = !(slice_ieq_cstr(pname, "SIP") && p - vs == 3 && memcmp(vs, "2.0", 3) == 0);
	p = skip_lws(p, end);
	if (p >= end || *p != '/')
		return EBADMSG;
	s = p = skip_lws(p + 1, end);
	p = skip_token(p, end);
	if (p == s)
		return EBADMSG;
	v->transport = slice_make(s, (size_t)(p - s));
	s = p;
	p = skip_lws(p, end);
	if (p == s)
		return EBADMSG;

	s = p;
	if (p < end && *p == '[') {
		for (p++; p < end && (is(*p, C_HEX) || *p == ':' || *p == '.'); p++)
			;
		if (p >= end || *p != ']' || p == s + 1)
			return EBADMSG;
		p++;
	} else {
		while (p < end && is(*p, C_HOST))
			p++;
		if (p == s)
			return EBADMSG;
	}
	v->host = slice_make(s, (size_t)(p - s));
	p = skip_lws(p, end);
	if (p < end && *p == ':') {
		unsigned long port;
		s = p = skip_lws(p + 1, end);
		while (p < end && is(*p, C_DIGIT))
			p++;
		if (parse_uint(slice_make(s, (size_t)(p - s)), 65535, false, &port))
			return EBADMSG;
		v->port = (uint16_t)port;
		p = skip_lws(p, end);
	}
	if (p == end)
		return 0;
	if (*p != ';')
		return EBADMSG;
	v->params = slice_make(p + 1, (size_t)(end - p - 1));
	return via_params(v);
}

static void parse_via_hdr(struct parser *ps, struct slice val)
{
	struct sip_msg *m = ps->m;
	const char *p = val.p, *end = val.p + val.len;
	struct slice item;
	struct sip_via spare;
	bool more, badver;

	if (val.len == 0) {
		bad(ps);
		return;
	}
	do {
		if (split_next(&p, end, &item, &more) || item.len == 0) {
			bad(ps);
			return;
		}
		/* Values past SIP_MAX_VIA are checked and counted, not kept. */
		struct sip_via *v = m->nvia < SIP_MAX_VIA ? &m->via[m->nvia] : &spare;
		if (via_parse(v, item, &badver)) {
			bad(ps);
			return;
		}
		if (m->nvia_total == 0 && badver)
			ps->bad_version = true; /* RFC 4475 badvers */
		if (m->nvia < SIP_MAX_VIA)
			m->nvia++;
		m->nvia_total++;
	} while (more);
}

static void parse_nameaddr_hdr(struct parser *ps, struct sip_nameaddr *dst, struct slice val)
{
	struct sip_nameaddr na;

	if (slice_present(dst->raw)) {
		if (!slice_eq(dst->raw, val))
			bad(ps); /* RFC 4475 multi01 */
		return;
	}
	if (sip_nameaddr_parse(&na, val)) {
		bad(ps);
		memset(dst, 0, sizeof(*dst));
		if (val.len)
			dst->raw = val; /* kept for echoing in a 400 */
		return;
	}
	*dst = na;
}

static void parse_contact_hdr(struct parser *ps, struct slice val)
{
	struct sip_msg *m = ps->m;
	const char *p = val.p, *end = val.p + val.len;
	struct slice item, ev;
	bool more;

	if (val.len == 1 && val.p[0] == '*') {
		if (m->contact_star || m->ncontacts)
			bad(ps);
		m->contact_star = true;
		return;
	}
	if (val.len == 0 || m->contact_star) {
		bad(ps);
		return;
	}
	do {
		if (split_next(&p, end, &item, &more) || item.len == 0 ||
		    (item.len == 1 && item.p[0] == '*') || m->ncontacts >= SIP_MAX_CONTACTS) {
			bad(ps);
			return;
		}
		struct sip_contact *c = &m->contacts[m->ncontacts];
		if (sip_nameaddr_parse(&c->na, item)) {
			bad(ps);
			return;
		}
		c->expires = -1;
		c->q = SLICE_NULL;
		if (sip_param_get(c->na.params, "expires", &ev)) {
			unsigned long e;
			if (parse_uint(ev, (unsigned long)SIP_EXPIRES_MAX, true, &e)) {
				bad(ps);
				return;
			}
			c->expires = (long)e;
		}
		sip_param_get(c->na.params, "q", &c->q);
		m->ncontacts++;
	} while (more);
}

static void parse_cseq_hdr(struct parser *ps, struct slice val)
{
	struct sip_msg *m = ps->m;
	const char *p = val.p, *end = val.p + val.len, *s;
	unsigned long num;

	while (p < end && is(*p, C_DIGIT))
		p++;
	/* The number must fit in 32 bits (RFC 4475 scalar02, scalarlg). */
	if (parse_uint(slice_make(val.p, (size_t)(p - val.p)), 0xffffffffUL, false, &num)) {
		bad(ps);
		return;
	}
	s = p;
	p = skip_lws(p, end);
	if (p == s) {
		bad(ps);
		return;
	}
	s = p;
	p = skip_token(p, end);
	if (p == s || p != end) {
		bad(ps);
		return;
	}
	struct slice method = slice_make(s, (size_t)(p - s));
	if (ps->have_cseq) {
		if (m->cseq != (uint32_t)num || !slice_eq(m->cseq_method, method))
			bad(ps);
		return;
	}
	ps->have_cseq = true;
	m->cseq = (uint32_t)num;
	m->cseq_method = method;
	m->cseq_method_id = sip_method_from(method);
}

static void parse_callid_hdr(struct parser *ps, struct slice val)
{
	struct sip_msg *m = ps->m;

	/* callid = word ["@" word]: one printable run, no LWS. */
	if (val.len == 0) {
		bad(ps);
		return;
	}
	for (size_t i = 0; i < val.len; i++) {
		unsigned char c = (unsigned char)val.p[i];
		if (c <= 0x20 || c >= 0x7f) {
			bad(ps);
			return;
		}
	}
	if (slice_present(m->call_id)) {
		if (!slice_eq(m->call_id, val))
			bad(ps);
		return;
	}
	m->call_id = val;
}

/* A scalar header that must not appear twice with different values. */
static void parse_scalar_hdr(struct parser *ps, struct slice val, unsigned long max, bool clamp,
			     bool *have, long *dst)
{
	unsigned long v;

	if (parse_uint(val, max, clamp, &v)) {
		bad(ps);
		return;
	}
	if (*have) {
		if (*dst != (long)v)
			bad(ps);
		return;
	}
	*have = true;
	*dst = (long)v;
}

/* One logical header line [p, end), line terminator excluded. Returns
 * EBADMSG only when parsing must stop (too many headers). */
static int parse_header(struct parser *ps, const char *p, const char *end)
{
	struct sip_msg *m = ps->m;
	const char *n = p;

	p = skip_token(p, end);
	if (p == n) {
		bad(ps); /* also a folded line right after the start line */
		return 0;
	}
	struct slice name = slice_make(n, (size_t)(p - n));
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end || *p != ':') {
		bad(ps);
		return 0;
	}
	if (m->nhdrs >= SIP_MAX_HEADERS)
		return EBADMSG;
	struct slice val = trim_lws(p + 1, end);
	enum sip_hdr_id id = hdr_lookup(name.p, name.len);
	struct sip_hdr *h = &m->hdrs[m->nhdrs++];
	h->id = id;
	h->name = name;
	h->value = val;

	switch (id) {
	case SIP_HDR_VIA:
		parse_via_hdr(ps, val);
		break;
	case SIP_HDR_FROM:
		parse_nameaddr_hdr(ps, &m->from, val);
		break;
	case SIP_HDR_TO:
		parse_nameaddr_hdr(ps, &m->to, val);
		break;
	case SIP_HDR_CALL_ID:
		parse_callid_hdr(ps, val);
		break;
	case SIP_HDR_CSEQ:
		parse_cseq_hdr(ps, val);
		break;
	case SIP_HDR_CONTACT:
		parse_contact_hdr(ps, val);
		break;
	case SIP_HDR_MAX_FORWARDS: {
		long mf = m->max_forwards;
		parse_scalar_hdr(ps, val, 255, false, &ps->have_mf, &mf);
		m->max_forwards = (int)mf;
		break;
	}
	case SIP_HDR_EXPIRES:
		parse_scalar_hdr(ps, val, (unsigned long)SIP_EXPIRES_MAX, true, &ps->have_expires,
				 &m->expires);
		break;
	case SIP_HDR_CONTENT_LENGTH:
		/* Negative, non-numeric or larger than any message we take:
		 * framing is lost (RFC 4475 ncl, mcl01). */
		parse_scalar_hdr(ps, val, SIP_MAX_MSG, false, &ps->have_cl, &m->content_length);
		break;
	default:
		break;
	}
	return 0;
}

/* ------------------------------------------------------------ framing */

static void msg_reset(struct sip_msg *m, const char *buf)
{
	/* The arrays are only valid up to their counts: not cleared. */
	m->buf = buf;
	m->len = 0;
	m->is_request = false;
	m->method = SLICE_NULL;
	m->method_id = SIP_METHOD_UNKNOWN;
	memset(&m->ruri, 0, sizeof(m->ruri));
	m->version = SLICE_NULL;
	m->status = 0;
	m->reason = SLICE_NULL;
	m->nhdrs = 0;
	m->nvia = 0;
	m->nvia_total = 0;
	memset(&m->from, 0, sizeof(m->from));
	memset(&m->to, 0, sizeof(m->to));
	m->call_id = SLICE_NULL;
	m->cseq = 0;
	m->cseq_method = SLICE_NULL;
	m->cseq_method_id = SIP_METHOD_UNKNOWN;
	m->max_forwards = -1;
	m->expires = -1;
	m->ncontacts = 0;
	m->contact_star = false;
	m->content_length = -1;
	m->body = SLICE_NULL;
}

/* The header section did not end inside the bytes we may look at. */
static int incomplete(struct sip_msg *m, enum sip_transport_kind kind, const char *lim,
		      const char *end, const char *start)
{
	if (kind == SIP_STREAM && lim == end && end - start < SIP_MAX_MSG)
		return EAGAIN;
	if (kind == SIP_DGRAM)
		m->len = (size_t)(end - m->buf);
	return EBADMSG;
}

int sip_msg_parse(struct sip_msg *m, const char *buf, size_t len, enum sip_transport_kind kind)
{
	struct parser ps = { .m = m, .kind = kind };
	const char *end, *p, *start, *lim, *lf, *le;

	if (!m)
		return EINVAL;
	msg_reset(m, buf);
	if (!buf)
		return EINVAL;
	end = buf + len;

	/* CRLF keepalives before the start line (RFC 5626 3.5.1). */
	p = buf;
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	start = p;
	lim = (size_t)(end - start) > SIP_MAX_MSG ? start + SIP_MAX_MSG : end;
	if (p == end)
		return incomplete(m, kind, lim, end, start);

	lf = memchr(p, '\n', (size_t)(lim - p));
	if (!lf)
		return incomplete(m, kind, lim, end, start);
	le = lf > p && lf[-1] == '\r' ? lf - 1 : lf;
	parse_start_line(&ps, p, le);
	p = lf + 1;

	/* Header lines up to the empty line; bare LF accepted (RFC 5118
	 * archive files). */
	for (;;) {
		if (p >= lim)
			return incomplete(m, kind, lim, end, start);
		if (*p == '\n') {
			p++;
			break;
		}
		if (*p == '\r') {
			if (p + 1 >= lim)
				return incomplete(m, kind, lim, end, start);
			if (p[1] == '\n') {
				p += 2;
				break;
			}
		}
		const char *ls = p, *e;
		for (;;) {
			e = memchr(p, '\n', (size_t)(lim - p));
			/* A line end at the very end: cannot tell yet whether
			 * the next line folds into this one. */
			if (!e || e + 1 >= lim)
				return incomplete(m, kind, lim, end, start);
			if (e[1] != ' ' && e[1] != '\t')
				break;
			p = e + 1;
		}
		le = e > ls && e[-1] == '\r' ? e - 1 : e;
		if (parse_header(&ps, ls, le)) {
			if (kind == SIP_DGRAM)
				m->len = len;
			return EBADMSG; /* more than SIP_MAX_HEADERS */
		}
		p = e + 1;
	}

	/* Body and message length. */
	const char *body = p;
	int frame = 0;
	if (m->content_length < 0) {
		if (kind == SIP_STREAM || (size_t)(end - start) > SIP_MAX_MSG) {
			frame = EBADMSG;
		} else {
			m->body = slice_make(body, (size_t)(end - body));
			m->len = len;
		}
	} else {
		size_t cl = (size_t)m->content_length;
		if ((size_t)(body - start) + cl > SIP_MAX_MSG) {
			frame = EBADMSG;
		} else if (cl > (size_t)(end - body)) {
			/* RFC 4475 clerr: wait on a stream, reject a datagram. */
			frame = kind == SIP_STREAM ? EAGAIN : EBADMSG;
		} else {
			m->body = slice_make(body, cl);
			m->len = (size_t)(body - buf) + cl;
		}
	}
	if (frame && kind == SIP_DGRAM)
		m->len = len;

	if (ps.err)
		return ps.err;
	if (frame)
		return frame;
	if (ps.bad_version)
		return EPROTONOSUPPORT;
	/* Required in requests and responses alike (RFC 3261 8.1.1; RFC 4475
	 * insuf). Max-Forwards is left to the transaction user. */
	if (m->nvia_total == 0 || !slice_present(m->from.raw) || !slice_present(m->to.raw) ||
	    !slice_present(m->call_id) || !ps.have_cseq)
		return EBADMSG;
	return 0;
}

bool sip_msg_can_reply(const struct sip_msg *m)
{
	return m && m->is_request && m->nvia > 0 && slice_present(m->from.raw) &&
	       slice_present(m->to.raw) && slice_present(m->call_id) &&
	       slice_present(m->cseq_method);
}
