/*
 * sip_uri.c: SIP URIs, name-addr values, parameter lists and URI comparison
 * (RFC 3261 sections 19.1, 20.10, 25.1).
 *
 * The message parser (sip_msg.c) calls these for the Request-URI, From, To
 * and every Contact value; the transaction user calls them again for the
 * headers that are only indexed (Route, Record-Route, Refer-To ...).
 * Nothing here allocates or copies: results are slices into the text the
 * caller passed, valid as long as that text is. Every loop is bounded by
 * the length of its input; the only quadratic work (sip_uri_equal on
 * parameters) is capped by URI_CMP_MAX_PARAMS.
 */
#include "sip_msg.h"
#include "sip_params.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

/* Character classes, one bit each (RFC 3261 section 25.1). */
#define C_TOKEN 0x01 /* token */
#define C_LWS 0x02   /* SP HT CR LF: folded values keep their CRLF */
#define C_DIGIT 0x04
#define C_HEX 0x08
#define C_USER 0x10  /* unreserved / "%" / user-unreserved */
#define C_PASS 0x20  /* unreserved / "%" / "&=+$," */
#define C_HOST 0x40  /* hostname characters, '_' tolerated */
#define C_URIC 0x80  /* unreserved / reserved / "%" / "[]": URI params, headers */

static const unsigned char uri_cls[256] = {
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

/* sip_uri_equal compares parameter and header lists pairwise; past this
 * many entries it falls back to comparing the raw text. */
#define URI_CMP_MAX_PARAMS 64

static inline bool is(char c, unsigned mask)
{
	return (uri_cls[(unsigned char)c] & mask) != 0;
}

static const char *skip_lws(const char *p, const char *end)
{
	while (p < end && is(*p, C_LWS))
		p++;
	return p;
}

static struct slice trim_lws(struct slice s)
{
	const char *p = s.p, *end = s.p + s.len;

	if (!s.p)
		return s;
	p = skip_lws(p, end);
	while (end > p && is(end[-1], C_LWS))
		end--;
	return slice_make(p, (size_t)(end - p));
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* p points at '"'; returns the byte after the closing quote, or NULL when
 * the string is not terminated before end. quoted-pair takes any byte. */
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

/* Every byte of [p,end) in class mask, and each '%' followed by two hex
 * digits. */
static bool chars_ok(const char *p, const char *end, unsigned mask)
{
	for (; p < end; p++) {
		if (!is(*p, mask))
			return false;
		if (*p == '%') {
			if (end - p < 3 || !is(p[1], C_HEX) || !is(p[2], C_HEX))
				return false;
			p += 2;
		}
	}
	return true;
}

/* Next decoded byte of an escaped string: "%41" gives 'A'; a '%' that does
 * not start a valid escape stands for itself. */
static int esc_getc(const char **pp, const char *end)
{
	const char *p = *pp;
	int hi, lo;

	if (*p == '%' && end - p >= 3 && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0) {
		*pp = p + 3;
		return hi * 16 + lo;
	}
	*pp = p + 1;
	return (unsigned char)*p;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Equality with escapes decoded (once, never recursively), optionally
 * ASCII case-insensitive. */
static bool esc_eq(struct slice a, struct slice b, bool ci)
{
	const char *pa = a.p, *ea = a.p + a.len, *pb = b.p, *eb = b.p + b.len;

	if (!a.p || !b.p)
		return a.len == 0 && b.len == 0;
	while (pa < ea && pb < eb) {
		int ca = esc_getc(&pa, ea), cb = esc_getc(&pb, eb);
		if (ci) {
			ca = lower(ca);
			cb = lower(cb);
		}
		if (ca != cb)
			return false;
	}
	return pa == ea && pb == eb;
}

/*
 * Lenient iterator over a parameter list ("a=b;c" with sep ';', or URI
 * headers "a=b&c=d" with sep '&'). Skips empty elements, tolerates LWS
 * around names and '=', keeps quoted values whole. Returns false at the end.
 * *val is absent when the element has no '='.
 */
static bool param_iter(const char **pp, const char *end, char sep, struct slice *name,
		       struct slice *val)
{
	const char *p = *pp;

	while (p < end) {
		const char *s = p, *eq = NULL;

		while (p < end && *p != sep) {
			if (*p == '"') {
				const char *q = scan_quoted(p, end);
				p = q ? q : end;
				continue;
			}
			if (*p == '=' && !eq)
				eq = p;
			p++;
		}
		struct slice el = trim_lws(slice_make(s, (size_t)(p - s)));
		if (p < end)
			p++; /* the separator */
		if (el.len == 0)
			continue;
		if (eq) {
			*name = trim_lws(slice_make(el.p, (size_t)(eq - el.p)));
			*val = trim_lws(slice_make(eq + 1, (size_t)(el.p + el.len - eq - 1)));
		} else {
			*name = el;
			*val = SLICE_NULL;
		}
		*pp = p;
		return true;
	}
	*pp = end;
	return false;
}

bool sip_param_get(struct slice params, const char *name, struct slice *value)
{
	const char *p = params.p, *end = params.p + params.len;
	struct slice n, v, want = slice_cstr(name);

	if (!params.p || !name)
		return false;
	while (param_iter(&p, end, ';', &n, &v)) {
		if (esc_eq(n, want, true)) {
			if (value)
				*value = v;
			return true;
		}
	}
	return false;
}

long sip_unescape(char *dst, size_t cap, struct slice s)
{
	const char *p = s.p, *end = s.p + s.len;
	size_t n = 0;

	if (!s.p)
		s.len = 0;
	while (p < end) {
		int c;
		if (*p == '%') {
			int hi, lo;
			if (end - p < 3 || (hi = hexval(p[1])) < 0 || (lo = hexval(p[2])) < 0)
				return -1;
			c = hi * 16 + lo;
			p += 3;
		} else {
			c = (unsigned char)*p++;
		}
		if (n >= cap)
			return -1;
		dst[n++] = (char)c;
	}
	if (n < cap)
		dst[n] = '\0';
	return (long)n;
}

/* ---------------------------------------------------------------- URIs */

static int uri_parse_sip(struct sip_uri *u, const char *p, const char *end)
{
	const char *at = memchr(p, '@', (size_t)(end - p));

	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		const char *uend = colon ? colon : at;
		if (uend == p || !chars_ok(p, uend, C_USER))
			return EBADMSG;
		u->user = slice_make(p, (size_t)(uend - p));
		if (colon) {
			if (!chars_ok(colon + 1, at, C_PASS))
				return EBADMSG;
			u->password = slice_make(colon + 1, (size_t)(at - colon - 1));
		}
		p = at + 1;
	}

	/* host: an IPv6 reference keeps its brackets. The characters inside
	 * are checked loosely so "2001:db8:::192.0.2.1" (RFC 5118 4.10) is
	 * tolerated. */
	const char *h = p;
	if (p < end && *p == '[') {
		for (p++; p < end && (is(*p, C_HEX) || *p == ':' || *p == '.'); p++)
			;
		if (p >= end || *p != ']' || p == h + 1)
			return EBADMSG;
		p++;
	} else {
		while (p < end && is(*p, C_HOST))
			p++;
		if (p == h)
			return EBADMSG;
	}
	u->host = slice_make(h, (size_t)(p - h));

	if (p < end && *p == ':') {
		unsigned long port = 0;
		const char *d = ++p;
		while (p < end && is(*p, C_DIGIT)) {
			port = port * 10 + (unsigned long)(*p - '0');
			if (port > 65535)
				return EBADMSG;
			p++;
		}
		if (p == d)
			return EBADMSG;
		u->port = (uint16_t)port;
	}

	if (p < end && *p == ';') {
		const char *s = ++p;
		while (p < end && *p != '?')
			p++;
		if (!chars_ok(s, p, C_URIC))
			return EBADMSG;
		u->params = slice_make(s, (size_t)(p - s));
	}
	if (p < end && *p == '?') {
		const char *s = ++p;
		if (!chars_ok(s, end, C_URIC))
			return EBADMSG;
		u->headers = slice_make(s, (size_t)(end - s));
		p = end;
	}
	if (p != end)
		return EBADMSG;
	u->is_sip = true;
	return 0;
}

int sip_uri_parse(struct sip_uri *u, struct slice text)
{
	const char *p = text.p, *end = text.p + text.len;

	memset(u, 0, sizeof(*u));
	if (!text.p || text.len == 0)
		return EBADMSG;
	u->raw = text;

	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return EBADMSG;
	while (p < end && *p != ':') {
		if (!is(*p, C_HOST) || *p == '_') {
			if (*p != '+')
				return EBADMSG;
		}
		p++;
	}
	if (p >= end)
		return EBADMSG;
	u->scheme = slice_make(text.p, (size_t)(p - text.p));
	p++;

	if (slice_ieq_cstr(u->scheme, "sip") || slice_ieq_cstr(u->scheme, "sips"))
		return uri_parse_sip(u, p, end);

	/* Any other absolute URI: only check it is one printable word. */
	if (p == end)
		return EBADMSG;
	for (; p < end; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"')
			return EBADMSG;
	}
	return 0;
}

/* -------------------------------------------------- header parameters */

int sip_params_scan(struct slice params, void (*fn)(void *ctx, struct slice name, struct slice val),
		    void *ctx)
{
	const char *p = params.p, *end = params.p + params.len;

	for (;;) {
		p = skip_lws(p, end);
		const char *n = p;
		while (p < end && is(*p, C_TOKEN))
			p++;
		if (p == n)
			return EBADMSG;
		struct slice name = slice_make(n, (size_t)(p - n));
		struct slice val = SLICE_NULL;
		p = skip_lws(p, end);
		if (p < end && *p == '=') {
			p = skip_lws(p + 1, end);
			const char *v = p;
			if (p < end && *p == '"') {
				p = scan_quoted(p, end);
				if (!p)
					return EBADMSG;
			} else {
				while (p < end && (is(*p, C_TOKEN) || *p == ':' || *p == '[' || *p == ']'))
					p++;
				if (p == v)
					return EBADMSG;
			}
			val = slice_make(v, (size_t)(p - v));
			p = skip_lws(p, end);
		}
		fn(ctx, name, val);
		if (p == end)
			return 0;
		if (*p != ';')
			return EBADMSG;
		p++;
	}
}

static void hparam_tag(void *ctx, struct slice name, struct slice val)
{
	if (name.len == 3 && strncasecmp(name.p, "tag", 3) == 0)
		*(struct slice *)ctx = val;
}

int sip_nameaddr_parse(struct sip_nameaddr *na, struct slice text)
{
	struct slice t = trim_lws(text);
	const char *p = t.p, *end = t.p + t.len;
	int err;

	memset(na, 0, sizeof(*na));
	if (!t.p || t.len == 0)
		return EBADMSG;
	na->raw = t;

	const char *la = NULL;
	if (*p == '"') {
		const char *q = scan_quoted(p, end);
		if (!q)
			return EBADMSG; /* RFC 4475 quotbal */
		na->display = slice_make(p, (size_t)(q - p));
		la = skip_lws(q, end);
		if (la >= end || *la != '<')
			return EBADMSG;
	} else {
		la = memchr(p, '<', t.len);
		if (la) {
			/* display-name = *(token LWS): "Bell, Alexander" is not
			 * one (RFC 4475 baddn); no LWS before '<' is accepted
			 * (lwsdisp). */
			for (const char *s = p; s < la; s++)
				if (!is(*s, C_TOKEN | C_LWS))
					return EBADMSG;
			struct slice d = trim_lws(slice_make(p, (size_t)(la - p)));
			if (d.len)
				na->display = d;
		}
	}

	if (la) {
		const char *ra = memchr(la + 1, '>', (size_t)(end - la - 1));
		if (!ra)
			return EBADMSG;
		/* LAQUOT/RAQUOT allow no LWS inside the brackets (badaspec):
		 * sip_uri_parse rejects it. */
		err = sip_uri_parse(&na->uri, slice_make(la + 1, (size_t)(ra - la - 1)));
		if (err)
			return err;
		p = skip_lws(ra + 1, end);
	} else {
		/* addr-spec without <>: the first ';' starts header parameters,
		 * and a URI holding ',' or '?' had to be enclosed (RFC 3261
		 * 20; RFC 4475 regbadct). */
		const char *s = p;
		while (p < end && *p != ';' && !is(*p, C_LWS)) {
			if (*p == '?' || *p == ',')
				return EBADMSG;
			p++;
		}
		err = sip_uri_parse(&na->uri, slice_make(s, (size_t)(p - s)));
		if (err)
			return err;
		p = skip_lws(p, end);
	}

	if (p == end)
		return 0;
	if (*p != ';')
		return EBADMSG;
	na->params = slice_make(p + 1, (size_t)(end - p - 1));
	return sip_params_scan(na->params, hparam_tag, &na->tag);
}

/* ------------------------------------------------------ URI comparison */

static bool is_strict_param(struct slice n)
{
	static const char *const names[] = { "user", "ttl", "method", "maddr", "transport" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (esc_eq(n, slice_cstr(names[i]), true))
			return true;
	return false;
}

static size_t count_elems(struct slice s, char sep)
{
	const char *p = s.p, *end = s.p + s.len;
	struct slice n, v;
	size_t k = 0;

	if (!s.p)
		return 0;
	while (k <= URI_CMP_MAX_PARAMS && param_iter(&p, end, sep, &n, &v))
		k++;
	return k;
}

/* Look a name up in a list, escape-aware and case-insensitive. */
static bool list_get(struct slice list, char sep, struct slice name, struct slice *val)
{
	const char *p = list.p, *end = list.p + list.len;
	struct slice n, v;

	if (!list.p)
		return false;
	while (param_iter(&p, end, sep, &n, &v)) {
		if (esc_eq(n, name, true)) {
			*val = v;
			return true;
		}
	}
	return false;
}

static bool val_eq(struct slice a, struct slice b, bool ci)
{
	if (slice_present(a) != slice_present(b))
		return false;
	return esc_eq(a, b, ci);
}

/* Parameters (19.1.4): user, ttl, method, maddr and transport must match
 * when present in either URI; any other parameter only when in both. */
static bool params_equal(struct slice a, struct slice b)
{
	const char *p;
	struct slice n, v, w;

	if (count_elems(a, ';') > URI_CMP_MAX_PARAMS || count_elems(b, ';') > URI_CMP_MAX_PARAMS)
		return slice_eq(a, b);
	p = a.p;
	while (a.p && param_iter(&p, a.p + a.len, ';', &n, &v)) {
		/* A repeated name counts with its first value on both sides. */
		(void)list_get(a, ';', n, &v);
		bool in_b = list_get(b, ';', n, &w);
		if (!in_b) {
			if (is_strict_param(n))
				return false;
			continue;
		}
		if (!val_eq(v, w, true))
			return false;
	}
	/* A strict parameter only in b. */
	p = b.p;
	while (b.p && param_iter(&p, b.p + b.len, ';', &n, &v))
		if (is_strict_param(n) && !list_get(a, ';', n, &w))
			return false;
	return true;
}

/* Headers: every header of either URI must be in the other with an equal
 * value. Names compare case-insensitively, values exactly (unescaped). */
static bool headers_equal(struct slice a, struct slice b)
{
	struct slice lists[2] = { a, b };
	struct slice n, v, w;

	if (slice_present(a) != slice_present(b))
		return false;
	if (!a.p)
		return true;
	if (count_elems(a, '&') > URI_CMP_MAX_PARAMS || count_elems(b, '&') > URI_CMP_MAX_PARAMS)
		return slice_eq(a, b);
	for (int i = 0; i < 2; i++) {
		const char *p = lists[i].p, *end = lists[i].p + lists[i].len;
		while (param_iter(&p, end, '&', &n, &v)) {
			(void)list_get(lists[i], '&', n, &v);
			if (!list_get(lists[1 - i], '&', n, &w) || !val_eq(v, w, false))
				return false;
		}
	}
	return true;
}

bool sip_uri_equal(const struct sip_uri *a, const struct sip_uri *b)
{
	if (!a || !b)
		return false;
	if (!slice_ieq(a->scheme, b->scheme))
		return false;
	if (!a->is_sip || !b->is_sip) {
		/* Other schemes: compare the text after the scheme, with
		 * escapes decoded. */
		if (a->is_sip != b->is_sip || !a->raw.p || !b->raw.p)
			return false;
		size_t sa = a->scheme.len + 1, sb = b->scheme.len + 1;
		if (sa > a->raw.len || sb > b->raw.len)
			return false;
		return esc_eq(slice_make(a->raw.p + sa, a->raw.len - sa),
			      slice_make(b->raw.p + sb, b->raw.len - sb), false);
	}
	if (!val_eq(a->user, b->user, false) || !val_eq(a->password, b->password, false))
		return false;
	if (!slice_ieq(a->host, b->host) || a->port != b->port)
		return false;
	if (!params_equal(a->params, b->params))
		return false;
	return headers_equal(a->headers, b->headers);
}
