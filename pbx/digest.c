/*
 * digest.c: SIP digest authentication, server side.
 *
 * The credentials parser is a single bounded pass over the header value that
 * only records slices; hashing uses nettle's MD5 and SHA-256 through the
 * generic nettle_hash descriptors so both algorithms share one code path.
 *
 * Nonces are stateless: everything needed to check one is inside it, bound
 * by a MAC, so issuing a challenge costs no allocation. The only state is
 * the fixed nc table (8 bytes a slot) that turns "valid" into "valid once
 * per nc". The table belongs to the SIP core thread; nothing here locks.
 */
#include "digest.h"

#include <errno.h>
#include <limits.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nettle/hmac.h>
#include <nettle/md5.h>
#include <nettle/memops.h>
#include <nettle/nettle-meta.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Parser                                                               */
/* ------------------------------------------------------------------ */

static bool dg_is_ws(unsigned char c)
{
	/* CR and LF too: a folded header may reach us unfolded-in-place. */
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 7230 tchar: what a parameter name is made of. */
static bool dg_is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Unquoted values: tokens, and token68-like runs ('/', '=') that some
 * clients send for nonce or uri without quotes. */
static bool dg_is_bare(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != ',' && c != '"';
}

static int dg_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Which field of struct digest_creds a parameter name fills; NULL for
 * parameters we do not use (skipped, but still counted). */
static struct slice *dg_field(struct digest_creds *c, struct slice name)
{
	static const struct {
		const char *name;
		size_t off;
	} map[] = {
		{ "username", offsetof(struct digest_creds, username) },
		{ "realm", offsetof(struct digest_creds, realm) },
		{ "nonce", offsetof(struct digest_creds, nonce) },
		{ "uri", offsetof(struct digest_creds, uri) },
		{ "response", offsetof(struct digest_creds, response) },
		{ "algorithm", offsetof(struct digest_creds, algorithm) },
		{ "cnonce", offsetof(struct digest_creds, cnonce) },
		{ "opaque", offsetof(struct digest_creds, opaque) },
		{ "qop", offsetof(struct digest_creds, qop) },
		{ "nc", offsetof(struct digest_creds, nc) },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (slice_ieq_cstr(name, map[i].name))
			return (struct slice *)((char *)c + map[i].off);
	return NULL;
}

int digest_parse(struct slice value, struct digest_creds *out)
{
	struct digest_creds c;
	memset(&c, 0, sizeof(c));
	c.username = c.realm = c.nonce = c.uri = c.response = SLICE_NULL;
	c.algorithm = c.cnonce = c.opaque = c.qop = c.nc = SLICE_NULL;
	c.alg = DIGEST_MD5;

	if (!value.p || value.len > DIGEST_VALUE_MAX)
		return EBADMSG;
	const unsigned char *p = (const unsigned char *)value.p;
	size_t n = value.len, i = 0;

	while (i < n && dg_is_ws(p[i]))
		i++;
	if (n - i < 6 || strncasecmp((const char *)p + i, "Digest", 6) != 0)
		return EBADMSG;
	i += 6;
	if (i >= n || !dg_is_ws(p[i]))
		return EBADMSG;

	unsigned nparams = 0;
	/* Each iteration consumes at least one byte, so the loop is bounded by
	 * the (bounded) length. */
	for (;;) {
		while (i < n && dg_is_ws(p[i]))
			i++;
		if (i >= n)
			break;
		if (p[i] == ',') { /* empty list element (RFC 7230 7) */
			i++;
			continue;
		}
		size_t ns = i;
		while (i < n && dg_is_tchar(p[i]))
			i++;
		if (i == ns)
			return EBADMSG;
		struct slice name = slice_make((const char *)p + ns, i - ns);
		while (i < n && dg_is_ws(p[i]))
			i++;
		if (i >= n || p[i] != '=')
			return EBADMSG;
		i++;
		while (i < n && dg_is_ws(p[i]))
			i++;
		if (i >= n)
			return EBADMSG;

		struct slice val;
		if (p[i] == '"') {
			size_t vs = ++i;
			for (;;) {
				if (i >= n)
					return EBADMSG; /* unterminated */
				unsigned char ch = p[i];
				if (ch == '"')
					break;
				if (ch == '\\') {
					if (i + 1 >= n)
						return EBADMSG;
					ch = p[++i];
				}
				if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
					return EBADMSG;
				i++;
			}
			val = slice_make((const char *)p + vs, i - vs);
			i++; /* closing quote */
		} else {
			size_t vs = i;
			while (i < n && dg_is_bare(p[i]))
				i++;
			if (i == vs)
				return EBADMSG;
			val = slice_make((const char *)p + vs, i - vs);
		}

		if (++nparams > DIGEST_PARAMS_MAX)
			return EBADMSG;
		struct slice *f = dg_field(&c, name);
		if (f) {
			if (slice_present(*f))
				return EBADMSG; /* duplicate */
			*f = val;
		}

		while (i < n && dg_is_ws(p[i]))
			i++;
		if (i < n) {
			if (p[i] != ',')
				return EBADMSG;
			i++;
		}
	}

	if (!slice_present(c.username) || !slice_present(c.realm) || !slice_present(c.nonce) ||
	    !slice_present(c.uri) || !slice_present(c.response))
		return EBADMSG;

	if (slice_present(c.nc)) {
		if (c.nc.len != 8)
			return EBADMSG;
		uint32_t v = 0;
		for (size_t k = 0; k < 8; k++) {
			int h = dg_hexval((unsigned char)c.nc.p[k]);
			if (h < 0)
				return EBADMSG;
			v = (v << 4) | (uint32_t)h;
		}
		c.nc_val = v;
	}
	if (slice_present(c.qop)) {
		if (!slice_present(c.nc) || !slice_present(c.cnonce))
			return EBADMSG;
		if (!slice_ieq_cstr(c.qop, "auth"))
			return ENOTSUP; /* auth-int and friends */
	}
	if (slice_present(c.algorithm)) {
		if (slice_ieq_cstr(c.algorithm, "MD5"))
			c.alg = DIGEST_MD5;
		else if (slice_ieq_cstr(c.algorithm, "SHA-256"))
			c.alg = DIGEST_SHA256;
		else
			return ENOTSUP;
	}

	*out = c;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Hashing                                                              */
/* ------------------------------------------------------------------ */

union dg_hash_ctx {
	struct md5_ctx md5;
	struct sha256_ctx sha256;
};

static const struct nettle_hash *dg_hash(enum digest_alg alg)
{
	return alg == DIGEST_SHA256 ? &nettle_sha256 : &nettle_md5;
}

static size_t dg_hex_len(enum digest_alg alg)
{
	return alg == DIGEST_SHA256 ? 2 * SHA256_DIGEST_SIZE : 2 * MD5_DIGEST_SIZE;
}

static void dg_update(const struct nettle_hash *h, union dg_hash_ctx *ctx, const void *p, size_t len)
{
	if (len)
		h->update(ctx, len, p);
}

static void dg_update_slice(const struct nettle_hash *h, union dg_hash_ctx *ctx, struct slice s)
{
	dg_update(h, ctx, s.p, s.len);
}

static void dg_colon(const struct nettle_hash *h, union dg_hash_ctx *ctx)
{
	dg_update(h, ctx, ":", 1);
}

/* Finish the hash as lowercase hex into out (DIGEST_HEX_MAX bytes). */
static void dg_final_hex(const struct nettle_hash *h, union dg_hash_ctx *ctx, char out[DIGEST_HEX_MAX])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t d[SHA256_DIGEST_SIZE];
	h->digest(ctx, h->digest_size, d);
	for (unsigned k = 0; k < h->digest_size; k++) {
		out[2 * k] = hex[d[k] >> 4];
		out[2 * k + 1] = hex[d[k] & 15];
	}
	out[2 * h->digest_size] = '\0';
}

void digest_ha1(enum digest_alg alg, const char *user, const char *realm, const char *password,
		char out[DIGEST_HEX_MAX])
{
	const struct nettle_hash *h = dg_hash(alg);
	union dg_hash_ctx ctx;
	h->init(&ctx);
	dg_update_slice(h, &ctx, slice_cstr(user));
	dg_colon(h, &ctx);
	dg_update_slice(h, &ctx, slice_cstr(realm));
	dg_colon(h, &ctx);
	dg_update_slice(h, &ctx, slice_cstr(password));
	dg_final_hex(h, &ctx, out);
}

bool digest_response_ok(const struct digest_creds *c, struct slice method, const char *ha1_hex)
{
	if (!c || !ha1_hex || !method.p)
		return false;
	size_t hl = dg_hex_len(c->alg);
	if (strnlen(ha1_hex, DIGEST_HEX_MAX) != hl || c->response.len != hl || !c->response.p)
		return false;

	/* Lowercase both: hex case carries no meaning, and RFC 7616 hashes the
	 * lowercase form of HA1 and HA2. */
	char ha1[DIGEST_HEX_MAX], given[DIGEST_HEX_MAX];
	for (size_t k = 0; k < hl; k++) {
		ha1[k] = (char)((ha1_hex[k] >= 'A' && ha1_hex[k] <= 'Z') ? ha1_hex[k] + 32 : ha1_hex[k]);
		char r = c->response.p[k];
		given[k] = (char)((r >= 'A' && r <= 'Z') ? r + 32 : r);
	}

	const struct nettle_hash *h = dg_hash(c->alg);
	union dg_hash_ctx ctx;
	char ha2[DIGEST_HEX_MAX], want[DIGEST_HEX_MAX];

	h->init(&ctx);
	dg_update_slice(h, &ctx, method);
	dg_colon(h, &ctx);
	dg_update_slice(h, &ctx, c->uri);
	dg_final_hex(h, &ctx, ha2);

	h->init(&ctx);
	dg_update(h, &ctx, ha1, hl);
	dg_colon(h, &ctx);
	dg_update_slice(h, &ctx, c->nonce);
	dg_colon(h, &ctx);
	if (slice_present(c->qop)) {
		dg_update_slice(h, &ctx, c->nc);
		dg_colon(h, &ctx);
		dg_update_slice(h, &ctx, c->cnonce);
		dg_colon(h, &ctx);
		dg_update_slice(h, &ctx, c->qop);
		dg_colon(h, &ctx);
	}
	dg_update(h, &ctx, ha2, hl);
	dg_final_hex(h, &ctx, want);

	return memeql_sec(want, given, hl) != 0;
}

/* ------------------------------------------------------------------ */
/* Nonces                                                               */
/* ------------------------------------------------------------------ */

/* Binary layout, big-endian: issue time (8), instance (8), seq (4), MAC (13).
 * 33 bytes are exactly 44 base64url characters, so there are no spare bits
 * that would let two spellings decode to the same nonce. */
#define DG_N_BODY 20
#define DG_N_MAC 13
#define DG_N_BIN (DG_N_BODY + DG_N_MAC)

struct dg_slot {
	uint32_t seq; /* sequence number of the nonce that owns the slot */
	uint32_t nc;  /* highest nc accepted; UINT32_MAX after a use without qop */
};

struct digest_nonces {
	struct hmac_sha256_ctx mac; /* keyed once; copied for each MAC */
	uint64_t instance;          /* random per object: nonces of an earlier run are stale */
	unsigned lifetime_s;
	uint32_t next_seq;
	size_t mask; /* slots - 1 */
	struct dg_slot *tab;
};

int digest_nonces_new(struct digest_nonces **out, const uint8_t key[32], unsigned lifetime_s,
		      size_t slots)
{
	if (!out || !key || lifetime_s == 0 || slots == 0 || slots > DIGEST_SLOTS_MAX ||
	    (slots & (slots - 1)) != 0)
		return EINVAL;
	struct digest_nonces *n = calloc(1, sizeof(*n));
	if (!n)
		return ENOMEM;
	n->tab = calloc(slots, sizeof(*n->tab));
	if (!n->tab) {
		free(n);
		return ENOMEM;
	}
	if (gnutls_rnd(GNUTLS_RND_NONCE, &n->instance, sizeof(n->instance)) != 0) {
		free(n->tab);
		free(n);
		return EIO;
	}
	hmac_sha256_set_key(&n->mac, 32, key);
	n->lifetime_s = lifetime_s;
	n->mask = slots - 1;
	*out = n;
	return 0;
}

void digest_nonces_free(struct digest_nonces *n)
{
	if (!n)
		return;
	free(n->tab);
	/* The keyed HMAC state is as good as the key: do not leave it behind. */
	memset(n, 0, sizeof(*n));
	free(n);
}

static void dg_put64(uint8_t *b, uint64_t v)
{
	for (int k = 7; k >= 0; k--, v >>= 8)
		b[k] = (uint8_t)v;
}

static uint64_t dg_get64(const uint8_t *b)
{
	uint64_t v = 0;
	for (int k = 0; k < 8; k++)
		v = (v << 8) | b[k];
	return v;
}

static void dg_nonce_mac(const struct digest_nonces *n, const uint8_t body[DG_N_BODY], uint8_t mac[DG_N_MAC])
{
	struct hmac_sha256_ctx ctx = n->mac;
	hmac_sha256_update(&ctx, DG_N_BODY, body);
	hmac_sha256_digest(&ctx, DG_N_MAC, mac);
}

static const char dg_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int dg_b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int digest_nonce_make(struct digest_nonces *n, uint64_t now_s, char *out, size_t cap)
{
	if (!n || !out)
		return EINVAL;
	if (cap < DIGEST_NONCE_LEN + 1) {
		if (cap)
			out[0] = '\0';
		return ENOSPC;
	}
	uint32_t seq = n->next_seq++;
	struct dg_slot *s = &n->tab[seq & n->mask];
	s->seq = seq;
	s->nc = 0;

	uint8_t b[DG_N_BIN];
	dg_put64(b, now_s);
	dg_put64(b + 8, n->instance);
	b[16] = (uint8_t)(seq >> 24);
	b[17] = (uint8_t)(seq >> 16);
	b[18] = (uint8_t)(seq >> 8);
	b[19] = (uint8_t)seq;
	dg_nonce_mac(n, b, b + DG_N_BODY);

	for (size_t k = 0, o = 0; k < DG_N_BIN; k += 3) {
		uint32_t v = (uint32_t)b[k] << 16 | (uint32_t)b[k + 1] << 8 | b[k + 2];
		out[o++] = dg_b64[v >> 18];
		out[o++] = dg_b64[(v >> 12) & 63];
		out[o++] = dg_b64[(v >> 6) & 63];
		out[o++] = dg_b64[v & 63];
	}
	out[DIGEST_NONCE_LEN] = '\0';
	return 0;
}

/* Decode and authenticate a nonce. Returns false for anything that is not a
 * nonce this key issued. */
static bool dg_nonce_open(const struct digest_nonces *n, struct slice nonce, uint64_t *t, uint64_t *inst,
			  uint32_t *seq)
{
	if (!nonce.p || nonce.len != DIGEST_NONCE_LEN)
		return false;
	uint8_t b[DG_N_BIN];
	for (size_t k = 0, o = 0; k < DIGEST_NONCE_LEN; k += 4) {
		uint32_t v = 0;
		for (size_t j = 0; j < 4; j++) {
			int d = dg_b64val((unsigned char)nonce.p[k + j]);
			if (d < 0)
				return false;
			v = v << 6 | (uint32_t)d;
		}
		b[o++] = (uint8_t)(v >> 16);
		b[o++] = (uint8_t)(v >> 8);
		b[o++] = (uint8_t)v;
	}
	uint8_t mac[DG_N_MAC];
	dg_nonce_mac(n, b, mac);
	if (!memeql_sec(mac, b + DG_N_BODY, DG_N_MAC))
		return false;
	*t = dg_get64(b);
	*inst = dg_get64(b + 8);
	*seq = (uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 | (uint32_t)b[18] << 8 | b[19];
	return true;
}

enum digest_nonce_verdict digest_nonce_check(struct digest_nonces *n, struct slice nonce, bool has_nc,
					     uint32_t nc, uint64_t now_s)
{
	uint64_t t, inst;
	uint32_t seq;
	if (!n || !dg_nonce_open(n, nonce, &t, &inst, &seq))
		return NONCE_INVALID;
	if (inst != n->instance)
		return NONCE_STALE;
	if (t > now_s)
		return NONCE_INVALID;
	if (now_s - t >= n->lifetime_s)
		return NONCE_STALE;
	const struct dg_slot *s = &n->tab[seq & n->mask];
	if (s->seq != seq)
		return NONCE_STALE;
	if (has_nc ? nc <= s->nc : s->nc != 0)
		return NONCE_REPLAY;
	return NONCE_OK;
}

void digest_nonce_commit(struct digest_nonces *n, struct slice nonce, bool has_nc, uint32_t nc)
{
	uint64_t t, inst;
	uint32_t seq;
	if (!n || !dg_nonce_open(n, nonce, &t, &inst, &seq) || inst != n->instance)
		return;
	struct dg_slot *s = &n->tab[seq & n->mask];
	if (s->seq != seq)
		return;
	if (!has_nc)
		s->nc = UINT32_MAX;
	else if (nc > s->nc)
		s->nc = nc;
}

/* ------------------------------------------------------------------ */
/* Challenge                                                            */
/* ------------------------------------------------------------------ */

/* Append text to out, escaping '"' and '\' when esc; false when it does not
 * fit or holds a control character. */
static bool dg_put(char *out, size_t cap, size_t *pos, const char *s, bool esc)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < 0x20 || ch == 0x7f)
			return false;
		if (esc && (ch == '"' || ch == '\\')) {
			if (*pos + 1 >= cap)
				return false;
			out[(*pos)++] = '\\';
		}
		if (*pos + 1 >= cap)
			return false;
		out[(*pos)++] = (char)ch;
	}
	return true;
}

int digest_challenge(char *out, size_t cap, const char *realm, const char *nonce, enum digest_alg alg,
		     bool stale)
{
	if (!out || cap == 0 || !realm || !nonce)
		return -1;
	/* The nonce goes between quotes unescaped: it must not need escaping. */
	for (const char *q = nonce; *q; q++)
		if (*q == '"' || *q == '\\')
			goto fail;
	size_t pos = 0;
	if (!dg_put(out, cap, &pos, "Digest realm=\"", false) || !dg_put(out, cap, &pos, realm, true) ||
	    !dg_put(out, cap, &pos, "\", nonce=\"", false) || !dg_put(out, cap, &pos, nonce, false) ||
	    !dg_put(out, cap, &pos, alg == DIGEST_SHA256 ? "\", algorithm=SHA-256" : "\", algorithm=MD5",
		    false) ||
	    !dg_put(out, cap, &pos, ", qop=\"auth\"", false) ||
	    (stale && !dg_put(out, cap, &pos, ", stale=true", false)))
		goto fail;
	if (pos > INT_MAX)
		goto fail;
	out[pos] = '\0';
	return (int)pos;
fail:
	out[0] = '\0';
	return -1;
}
