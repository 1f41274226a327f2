/*
 * sdp.c: the SDP parser (RFC 4566) and the codec table.
 *
 * One pass over the lines, each at most SDP_MAX_LINE bytes: session-level
 * lines until the first m=, then each line belongs to the last m-line.
 * Every a-line is indexed (so a pass-through can copy the ones we do not
 * know); the ones negotiation needs are also decoded into fields. Known
 * media attributes that are malformed make the whole description EBADMSG,
 * because guessing at a codec map or a key is worse than a 488; a=ptime is
 * the exception (a bad ptime is dropped, it only tunes packetisation).
 */
#include "sdp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <nettle/base64.h>
#include <string.h>
#include <sys/socket.h>

/* ---- codec table ---- */

static const struct sdp_codec_info codec_table[] = {
	[SDP_CODEC_UNKNOWN] = { "", 0, 0, -1 },
	[SDP_CODEC_PCMU] = { "PCMU", 8000, 1, 0 },
	[SDP_CODEC_PCMA] = { "PCMA", 8000, 1, 8 },
	[SDP_CODEC_OPUS] = { "opus", 48000, 2, -1 },
	[SDP_CODEC_TEL_EVENT] = { "telephone-event", 8000, 1, -1 },
};

const struct sdp_codec_info *sdp_codec_info(enum sdp_codec c)
{
	if ((unsigned)c >= sizeof(codec_table) / sizeof(codec_table[0]))
		c = SDP_CODEC_UNKNOWN;
	return &codec_table[c];
}

enum sdp_codec sdp_fmt_codec(const struct sdp_fmt *f)
{
	if (!f->enc.p)
		return SDP_CODEC_UNKNOWN;
	if (slice_ieq_cstr(f->enc, "PCMU") && f->clock == 8000 && f->channels == 1)
		return SDP_CODEC_PCMU;
	if (slice_ieq_cstr(f->enc, "PCMA") && f->clock == 8000 && f->channels == 1)
		return SDP_CODEC_PCMA;
	/* RFC 7587: always opus/48000/2, whatever is actually sent. */
	if (slice_ieq_cstr(f->enc, "opus") && f->clock == 48000 && f->channels == 2)
		return SDP_CODEC_OPUS;
	if (slice_ieq_cstr(f->enc, "telephone-event") && (f->clock == 8000 || f->clock == 48000) &&
	    f->channels == 1)
		return SDP_CODEC_TEL_EVENT;
	return SDP_CODEC_UNKNOWN;
}

/* RFC 3551 table 4 and 5: payload types usable without an rtpmap. */
struct static_pt {
	const char *enc;
	uint32_t clock;
	uint8_t channels;
};
static const struct static_pt static_pts[35] = {
	[0] = { "PCMU", 8000, 1 },   [3] = { "GSM", 8000, 1 },     [4] = { "G723", 8000, 1 },
	[5] = { "DVI4", 8000, 1 },   [6] = { "DVI4", 16000, 1 },   [7] = { "LPC", 8000, 1 },
	[8] = { "PCMA", 8000, 1 },   [9] = { "G722", 8000, 1 },    [10] = { "L16", 44100, 2 },
	[11] = { "L16", 44100, 1 },  [12] = { "QCELP", 8000, 1 },  [13] = { "CN", 8000, 1 },
	[14] = { "MPA", 90000, 1 },  [15] = { "G728", 8000, 1 },   [16] = { "DVI4", 11025, 1 },
	[17] = { "DVI4", 22050, 1 }, [18] = { "G729", 8000, 1 },   [25] = { "CelB", 90000, 1 },
	[26] = { "JPEG", 90000, 1 }, [28] = { "nv", 90000, 1 },    [31] = { "H261", 90000, 1 },
	[32] = { "MPV", 90000, 1 },  [33] = { "MP2T", 90000, 1 },  [34] = { "H263", 90000, 1 },
};

const char *sdp_srtp_suite_name(enum sdp_srtp_suite s)
{
	switch (s) {
	case SDP_SRTP_AES_CM_128_HMAC_SHA1_80: return "AES_CM_128_HMAC_SHA1_80";
	case SDP_SRTP_AES_CM_128_HMAC_SHA1_32: return "AES_CM_128_HMAC_SHA1_32";
	default: return "";
	}
}

const char *sdp_dir_name(enum sdp_dir d)
{
	switch (d) {
	case SDP_DIR_INACTIVE: return "inactive";
	case SDP_DIR_SENDONLY: return "sendonly";
	case SDP_DIR_RECVONLY: return "recvonly";
	default: return "sendrecv";
	}
}

enum sdp_dir sdp_media_dir(const struct sdp_session *s, const struct sdp_media *m)
{
	if (m->dir != SDP_DIR_UNSET)
		return m->dir;
	if (s->dir != SDP_DIR_UNSET)
		return s->dir;
	return SDP_DIR_SENDRECV;
}

const struct sdp_conn *sdp_media_conn(const struct sdp_session *s, const struct sdp_media *m)
{
	return m->conn.present ? &m->conn : &s->conn;
}

/* ---- small scanners over slices ---- */

/* Next space-separated token of *rest (runs of spaces tolerated); absent at
 * the end. */
static struct slice tok_next(struct slice *rest)
{
	if (!rest->p)
		return SLICE_NULL;
	size_t i = 0;
	while (i < rest->len && rest->p[i] == ' ')
		i++;
	size_t start = i;
	while (i < rest->len && rest->p[i] != ' ')
		i++;
	struct slice t = i > start ? slice_make(rest->p + start, i - start) : SLICE_NULL;
	*rest = slice_make(rest->p + i, rest->len - i);
	return t;
}

/* What is left of *rest after leading spaces; absent when nothing. */
static struct slice tok_rest(struct slice rest)
{
	size_t i = 0;
	while (i < rest.len && rest.p[i] == ' ')
		i++;
	return i < rest.len ? slice_make(rest.p + i, rest.len - i) : SLICE_NULL;
}

/* Split s at the first c: head before, *tail after (absent when no c). */
static struct slice split_at(struct slice s, char c, struct slice *tail)
{
	const char *q = s.len ? memchr(s.p, c, s.len) : NULL;
	if (!q) {
		*tail = SLICE_NULL;
		return s;
	}
	*tail = slice_make(q + 1, s.len - (size_t)(q - s.p) - 1);
	return slice_make(s.p, (size_t)(q - s.p));
}

static bool is_token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+-.^_`{|}~", c) != NULL;
}

static bool is_token(struct slice s)
{
	if (!s.p || s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (!is_token_char(s.p[i]) || s.p[i] == '\0')
			return false;
	return true;
}

/* ---- lines ---- */

/* "IN IP4 addr" / "IN IP6 addr" into c; with_ttl allows the multicast
 * /ttl/count suffix of c=. */
static int conn_parse(struct slice nettype, struct slice addrtype, struct slice addr, bool with_ttl,
		      struct sdp_conn *c)
{
	if (!slice_eq_cstr(nettype, "IN") || !addr.p)
		return EBADMSG;
	if (slice_eq_cstr(addrtype, "IP4"))
		c->family = AF_INET;
	else if (slice_eq_cstr(addrtype, "IP6"))
		c->family = AF_INET6;
	else
		return EBADMSG;
	if (with_ttl) {
		struct slice ttl;
		addr = split_at(addr, '/', &ttl);
	}
	if (addr.len == 0)
		return EBADMSG;
	c->present = true;
	c->addr = addr;
	char tmp[64];
	unsigned char bin[16];
	c->numeric = slice_copy(tmp, sizeof(tmp), addr) == 0 && inet_pton(c->family, tmp, bin) == 1;
	if (c->numeric) {
		static const unsigned char zero[16];
		c->null = memcmp(bin, zero, c->family == AF_INET ? 4 : 16) == 0;
		return 0;
	}
	/* Otherwise a host name (RFC 4566 allows FQDNs): letters, digits, '-', '.'. */
	c->null = false;
	for (size_t i = 0; i < addr.len; i++) {
		char ch = addr.p[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '.'))
			return EBADMSG;
	}
	return 0;
}

static int parse_origin(struct slice v, struct sdp_session *s)
{
	s->o_user = tok_next(&v);
	s->o_sess_id = tok_next(&v);
	s->o_sess_version = tok_next(&v);
	struct slice nt = tok_next(&v), at = tok_next(&v), addr = tok_next(&v);
	if (!s->o_user.p || !s->o_sess_id.p || !s->o_sess_version.p || tok_rest(v).p)
		return EBADMSG;
	/* Digits only; the value itself may exceed 64 bits, we never do arithmetic on it. */
	for (size_t i = 0; i < s->o_sess_id.len; i++)
		if (s->o_sess_id.p[i] < '0' || s->o_sess_id.p[i] > '9')
			return EBADMSG;
	for (size_t i = 0; i < s->o_sess_version.len; i++)
		if (s->o_sess_version.p[i] < '0' || s->o_sess_version.p[i] > '9')
			return EBADMSG;
	return conn_parse(nt, at, addr, false, &s->o_conn);
}

static int parse_c(struct slice v, struct sdp_conn *c)
{
	struct slice nt = tok_next(&v), at = tok_next(&v), addr = tok_next(&v);
	if (tok_rest(v).p)
		return EBADMSG;
	return conn_parse(nt, at, addr, true, c);
}

static int parse_m(struct slice v, struct sdp_media *m)
{
	m->type = tok_next(&v);
	struct slice port = tok_next(&v);
	m->proto = tok_next(&v);
	if (!is_token(m->type) || !port.p || !m->proto.p)
		return EBADMSG;
	if (slice_ieq_cstr(m->type, "audio"))
		m->kind = SDP_MEDIA_AUDIO;
	else if (slice_ieq_cstr(m->type, "video"))
		m->kind = SDP_MEDIA_VIDEO;

	struct slice count;
	port = split_at(port, '/', &count);
	unsigned long n;
	if (!slice_to_ulong(port, 65535, &n))
		return EBADMSG;
	m->port = (uint16_t)n;
	m->port_count = 1;
	if (count.p) {
		if (!slice_to_ulong(count, 65535, &n) || n == 0)
			return EBADMSG;
		m->port_count = (uint16_t)n;
	}

	if (slice_ieq_cstr(m->proto, "RTP/AVP"))
		m->proto_id = SDP_PROTO_RTP_AVP;
	else if (slice_ieq_cstr(m->proto, "RTP/SAVP"))
		m->proto_id = SDP_PROTO_RTP_SAVP;
	m->rtp = memmem(m->proto.p, m->proto.len, "RTP/", 4) != NULL;

	for (struct slice f = tok_next(&v); f.p; f = tok_next(&v)) {
		if (m->nfmt == SDP_MAX_FMT)
			return EBADMSG;
		struct sdp_fmt *fmt = &m->fmt[m->nfmt];
		fmt->id = f;
		fmt->pt = -1;
		fmt->channels = 1;
		if (m->rtp) {
			if (!slice_to_ulong(f, 127, &n))
				return EBADMSG;
			for (size_t i = 0; i < m->nfmt; i++)
				if (m->fmt[i].pt == (int)n)
					return EBADMSG;
			fmt->pt = (int)n;
			if (n < sizeof(static_pts) / sizeof(static_pts[0]) && static_pts[n].enc) {
				fmt->enc = slice_cstr(static_pts[n].enc);
				fmt->clock = static_pts[n].clock;
				fmt->channels = static_pts[n].channels;
			}
		}
		m->nfmt++;
	}
	if (m->nfmt == 0)
		return EBADMSG;
	return 0;
}

static struct sdp_fmt *fmt_by_id(struct sdp_media *m, struct slice id)
{
	for (size_t i = 0; i < m->nfmt; i++)
		if (slice_eq(m->fmt[i].id, id))
			return &m->fmt[i];
	return NULL;
}

/* "<pt> <enc>/<clock>[/<channels>]" */
static int parse_rtpmap(struct slice v, struct sdp_media *m)
{
	struct slice id = tok_next(&v), map = tok_next(&v);
	unsigned long n;
	if (!slice_to_ulong(id, 127, &n) || !map.p || tok_rest(v).p)
		return EBADMSG;
	struct slice rest, clock, ch;
	struct slice enc = split_at(map, '/', &rest);
	if (!is_token(enc) || !rest.p)
		return EBADMSG;
	clock = split_at(rest, '/', &ch);
	unsigned long clk, chn = 1;
	if (!slice_to_ulong(clock, UINT32_MAX, &clk) || clk == 0)
		return EBADMSG;
	if (ch.p && (!slice_to_ulong(ch, 255, &chn) || chn == 0))
		return EBADMSG;
	struct sdp_fmt *f = m->rtp ? fmt_by_id(m, id) : NULL;
	if (!f)
		return 0; /* a map for a format not on the m-line: kept as an attribute only */
	f->has_rtpmap = true;
	f->enc = enc;
	f->clock = (uint32_t)clk;
	f->channels = (uint8_t)chn;
	return 0;
}

static int parse_fmtp(struct slice v, struct sdp_media *m)
{
	struct slice id = tok_next(&v);
	if (!id.p)
		return EBADMSG;
	struct sdp_fmt *f = fmt_by_id(m, id);
	if (f) {
		struct slice params = tok_rest(v);
		f->fmtp = params.p ? params : slice_make(v.p, 0);
	}
	return 0;
}

/* "20" or "20.5" (some phones write a fraction); ms, bounded. */
static bool parse_ms(struct slice v, uint32_t *out)
{
	struct slice frac;
	struct slice whole = split_at(v, '.', &frac);
	unsigned long n, f;
	if (!slice_to_ulong(whole, 10000, &n) || n == 0)
		return false;
	if (frac.p && !slice_to_ulong(frac, ULONG_MAX, &f))
		return false;
	*out = (uint32_t)n;
	return true;
}

/* "<port> [IN IP4 addr]" (RFC 3605) */
static int parse_rtcp(struct slice v, struct sdp_media *m)
{
	struct slice port = tok_next(&v);
	unsigned long n;
	if (!slice_to_ulong(port, 65535, &n) || n == 0)
		return EBADMSG;
	m->rtcp_port = (uint16_t)n;
	if (!tok_rest(v).p)
		return 0;
	struct slice nt = tok_next(&v), at = tok_next(&v), addr = tok_next(&v);
	if (tok_rest(v).p)
		return EBADMSG;
	return conn_parse(nt, at, addr, false, &m->rtcp_conn);
}

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Exactly SDP_SRTP_KEY_LEN bytes: 40 characters, no padding needed or allowed. */
static bool key_decode(struct slice b64, uint8_t out[SDP_SRTP_KEY_LEN])
{
	if (b64.len != 40)
		return false;
	for (size_t i = 0; i < b64.len; i++)
		if (b64.p[i] == '\0' || !strchr(b64_alphabet, b64.p[i]))
			return false;
	struct base64_decode_ctx ctx;
	uint8_t tmp[BASE64_DECODE_LENGTH(40)];
	size_t n = sizeof(tmp);
	base64_decode_init(&ctx);
	if (!base64_decode_update(&ctx, &n, tmp, b64.len, b64.p) || !base64_decode_final(&ctx) ||
	    n != SDP_SRTP_KEY_LEN)
		return false;
	memcpy(out, tmp, SDP_SRTP_KEY_LEN);
	return true;
}

void sdp_key_b64(const uint8_t key[SDP_SRTP_KEY_LEN], char out[41])
{
	base64_encode_raw(out, SDP_SRTP_KEY_LEN, key);
	out[40] = '\0';
}

/* Lifetime: decimal or 2^n; MKI: value ":" length (1..128 bytes). */
static bool lifetime_ok(struct slice s)
{
	unsigned long n;
	if (s.len > 2 && s.p[0] == '2' && s.p[1] == '^')
		return slice_to_ulong(slice_make(s.p + 2, s.len - 2), 64, &n);
	return slice_to_ulong(s, ULONG_MAX, &n);
}

static bool mki_ok(struct slice s)
{
	struct slice len;
	struct slice val = split_at(s, ':', &len);
	unsigned long n;
	return slice_to_ulong(val, ULONG_MAX, &n) && slice_to_ulong(len, 128, &n) && n > 0;
}

/* "<tag> <suite> inline:<key||salt>[|lifetime][|mki:len][;inline:...] [params]" */
static int parse_crypto(struct slice v, struct sdp_media *m)
{
	struct slice tag = tok_next(&v), suite = tok_next(&v), keyp = tok_next(&v);
	unsigned long n;
	if (!slice_to_ulong(tag, 999999999, &n) || tag.len > 10 || n == 0 || !is_token(suite) ||
	    !keyp.p)
		return EBADMSG;
	struct slice more;
	struct slice first = split_at(keyp, ';', &more);
	struct slice info;
	struct slice method = split_at(first, ':', &info);
	if (!slice_eq_cstr(method, "inline") || !info.p)
		return EBADMSG;
	struct sdp_crypto c;
	memset(&c, 0, sizeof(c));
	c.tag = (uint32_t)n;
	c.suite = suite;
	c.params = tok_rest(v);
	struct slice after;
	c.key_b64 = split_at(info, '|', &after);
	for (int i = 0; after.p; i++) {
		struct slice part = split_at(after, '|', &after);
		if (i == 2)
			return EBADMSG;
		if (memchr(part.p, ':', part.len)) {
			if (c.mki.p || !mki_ok(part))
				return EBADMSG;
			c.mki = part;
		} else {
			if (c.lifetime.p || c.mki.p || !lifetime_ok(part))
				return EBADMSG;
			c.lifetime = part;
		}
	}
	if (slice_eq_cstr(suite, "AES_CM_128_HMAC_SHA1_80"))
		c.suite_id = SDP_SRTP_AES_CM_128_HMAC_SHA1_80;
	else if (slice_eq_cstr(suite, "AES_CM_128_HMAC_SHA1_32"))
		c.suite_id = SDP_SRTP_AES_CM_128_HMAC_SHA1_32;
	if (c.suite_id != SDP_SRTP_UNKNOWN && !key_decode(c.key_b64, c.key))
		return EBADMSG;
	if (c.key_b64.len == 0)
		return EBADMSG;
	if (m->ncrypto < SDP_MAX_CRYPTO) /* further lines stay attributes only */
		m->crypto[m->ncrypto++] = c;
	return 0;
}

static enum sdp_dir dir_from_name(struct slice name)
{
	if (slice_eq_cstr(name, "sendrecv"))
		return SDP_DIR_SENDRECV;
	if (slice_eq_cstr(name, "sendonly"))
		return SDP_DIR_SENDONLY;
	if (slice_eq_cstr(name, "recvonly"))
		return SDP_DIR_RECVONLY;
	if (slice_eq_cstr(name, "inactive"))
		return SDP_DIR_INACTIVE;
	return SDP_DIR_UNSET;
}

/* One a-line: indexed in attrs, and decoded when m (media level) is set. */
static int parse_a(struct slice line, struct sdp_attr *attrs, size_t *nattr, enum sdp_dir *dir,
		   struct sdp_media *m)
{
	if (*nattr == SDP_MAX_ATTR)
		return EBADMSG;
	struct sdp_attr *a = &attrs[*nattr];
	a->name = split_at(line, ':', &a->value);
	a->kind = SDP_ATTR_OTHER;
	if (!is_token(a->name))
		return EBADMSG;
	(*nattr)++;

	enum sdp_dir d = dir_from_name(a->name);
	if (d != SDP_DIR_UNSET) {
		a->kind = SDP_ATTR_DIR;
		*dir = d;
		return 0;
	}
	if (!m)
		return 0;

	struct slice v = a->value;
	if (slice_eq_cstr(a->name, "rtpmap")) {
		a->kind = SDP_ATTR_RTPMAP;
		return parse_rtpmap(v, m);
	}
	if (slice_eq_cstr(a->name, "fmtp")) {
		a->kind = SDP_ATTR_FMTP;
		return parse_fmtp(v, m);
	}
	if (slice_eq_cstr(a->name, "ptime")) {
		a->kind = SDP_ATTR_PTIME;
		if (!parse_ms(v, &m->ptime))
			m->ptime = 0;
		return 0;
	}
	if (slice_eq_cstr(a->name, "maxptime")) {
		a->kind = SDP_ATTR_MAXPTIME;
		if (!parse_ms(v, &m->maxptime))
			m->maxptime = 0;
		return 0;
	}
	if (slice_eq_cstr(a->name, "rtcp")) {
		a->kind = SDP_ATTR_RTCP;
		return parse_rtcp(v, m);
	}
	if (slice_eq_cstr(a->name, "rtcp-mux")) {
		a->kind = SDP_ATTR_RTCP_MUX;
		m->rtcp_mux = true;
		return 0;
	}
	if (slice_eq_cstr(a->name, "crypto")) {
		a->kind = SDP_ATTR_CRYPTO;
		return parse_crypto(v, m);
	}
	if (slice_eq_cstr(a->name, "mid")) {
		a->kind = SDP_ATTR_MID;
		m->mid = v.p ? v : slice_make(a->name.p + a->name.len, 0);
		return 0;
	}
	return 0;
}

/* Bytes allowed inside a line: printable ASCII, tab, and UTF-8 (s=, i=). */
static bool line_bytes_ok(struct slice l)
{
	for (size_t i = 0; i < l.len; i++) {
		unsigned char c = (unsigned char)l.p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

int sdp_parse(struct slice body, struct sdp_session *s)
{
	if (!s || (!body.p && body.len))
		return EINVAL;
	memset(s, 0, sizeof(*s));
	s->dir = SDP_DIR_UNSET;
	if (body.len > SDP_MAX_BODY || !body.p)
		return EBADMSG;

	bool seen_v = false, seen_o = false;
	struct sdp_media *m = NULL;
	size_t pos = 0;
	while (pos < body.len) {
		const char *start = body.p + pos;
		size_t left = body.len - pos;
		const char *nl = memchr(start, '\n', left);
		size_t len = nl ? (size_t)(nl - start) : left;
		pos += nl ? len + 1 : len;
		if (len && start[len - 1] == '\r')
			len--;
		if (len > SDP_MAX_LINE)
			return EBADMSG;
		struct slice line = slice_make(start, len);
		if (len == 0)
			continue; /* blank lines (a trailing CRLF CRLF) are tolerated */
		if (!line_bytes_ok(line) || len < 2 || line.p[1] != '=' || line.p[0] < 'a' ||
		    line.p[0] > 'z')
			return EBADMSG;
		char type = line.p[0];
		struct slice v = slice_make(line.p + 2, len - 2);
		if (!seen_v) {
			if (type != 'v' || !slice_eq_cstr(v, "0"))
				return EBADMSG;
			seen_v = true;
			continue;
		}
		int rc = 0;
		switch (type) {
		case 'v':
			return EBADMSG;
		case 'o':
			if (seen_o || m)
				return EBADMSG;
			seen_o = true;
			rc = parse_origin(v, s);
			break;
		case 's':
			if (!m)
				s->name = v;
			break;
		case 't':
			if (!m)
				s->timing = v;
			break;
		case 'c':
			rc = parse_c(v, m ? &m->conn : &s->conn);
			break;
		case 'm':
			if (s->nmedia == SDP_MAX_MEDIA)
				return EBADMSG;
			m = &s->media[s->nmedia++];
			m->dir = SDP_DIR_UNSET;
			rc = parse_m(v, m);
			break;
		case 'a':
			if (m)
				rc = parse_a(v, m->attr, &m->nattr, &m->dir, m);
			else
				rc = parse_a(v, s->attr, &s->nattr, &s->dir, NULL);
			break;
		default:
			break; /* i, u, e, p, b, z, k, r and unknown types: not needed */
		}
		if (rc)
			return rc;
	}
	if (!seen_v || !seen_o)
		return EBADMSG;
	/* RFC 4566 5.7: every m-line in use needs a connection address. */
	for (size_t i = 0; i < s->nmedia; i++)
		if (s->media[i].port != 0 && !sdp_media_conn(s, &s->media[i])->present)
			return EBADMSG;
	return 0;
}
