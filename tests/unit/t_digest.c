/*
 * t_digest.c: digest authentication: the RFC 2617 and RFC 7616 example
 * vectors, the credentials parser on good and hostile input, the nonces on a
 * fake clock, and the challenge text.
 */
#include <errno.h>
#include <gnutls/crypto.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "unit.h"

/* RFC 7616 section 3.9.1 */
#define R7616_NONCE "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
#define R7616_CNONCE "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
#define R7616_OPAQUE "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"

static const uint8_t test_key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				      17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };

static int parse_cstr(const char *s, struct digest_creds *c)
{
	return digest_parse(slice_cstr(s), c);
}

static void rfc7616_check(const char *alg, enum digest_alg a, const char *response)
{
	char hdr[1024];
	snprintf(hdr, sizeof(hdr),
		 "Digest username=\"Mufasa\",\r\n realm=\"http-auth@example.org\",\r\n"
		 "\turi=\"/dir/index.html\",\r\n algorithm=%s,\r\n nonce=\"" R7616_NONCE "\",\r\n"
		 " nc=00000001,\r\n cnonce=\"" R7616_CNONCE "\",\r\n qop=auth,\r\n"
		 " response=\"%s\",\r\n opaque=\"" R7616_OPAQUE "\"",
		 alg, response);
	struct digest_creds c;
	assert_int_equal(parse_cstr(hdr, &c), 0);
	assert_int_equal(c.alg, a);
	assert_true(slice_eq_cstr(c.username, "Mufasa"));
	assert_true(slice_eq_cstr(c.realm, "http-auth@example.org"));
	assert_true(slice_eq_cstr(c.uri, "/dir/index.html"));
	assert_true(slice_eq_cstr(c.nonce, R7616_NONCE));
	assert_true(slice_eq_cstr(c.cnonce, R7616_CNONCE));
	assert_true(slice_eq_cstr(c.opaque, R7616_OPAQUE));
	assert_true(slice_eq_cstr(c.qop, "auth"));
	assert_int_equal(c.nc_val, 1);

	char ha1[DIGEST_HEX_MAX];
	digest_ha1(a, "Mufasa", "http-auth@example.org", "Circle of Life", ha1);
	assert_int_equal(strlen(ha1), a == DIGEST_SHA256 ? 64 : 32);
	assert_true(digest_response_ok(&c, SLICE_LIT("GET"), ha1));
	/* Each input matters. */
	assert_false(digest_response_ok(&c, SLICE_LIT("POST"), ha1));
	digest_ha1(a, "Mufasa", "http-auth@example.org", "Circle Of Life", ha1);
	assert_false(digest_response_ok(&c, SLICE_LIT("GET"), ha1));
	digest_ha1(a, "Mufasa", "http-auth@example.org", "Circle of Life", ha1);
	struct digest_creds d = c;
	d.uri = SLICE_LIT("/dir/index.htm");
	assert_false(digest_response_ok(&d, SLICE_LIT("GET"), ha1));
	d = c;
	d.nc = SLICE_LIT("00000002");
	assert_false(digest_response_ok(&d, SLICE_LIT("GET"), ha1));
	d = c;
	d.cnonce = SLICE_LIT("x");
	assert_false(digest_response_ok(&d, SLICE_LIT("GET"), ha1));
	/* An HA1 of the other algorithm has the wrong length. */
	char other[DIGEST_HEX_MAX];
	digest_ha1(a == DIGEST_MD5 ? DIGEST_SHA256 : DIGEST_MD5, "Mufasa", "http-auth@example.org",
		   "Circle of Life", other);
	assert_false(digest_response_ok(&c, SLICE_LIT("GET"), other));
}

static void test_rfc7616_md5(void **state)
{
	(void)state;
	rfc7616_check("MD5", DIGEST_MD5, "8ca523f5e9506fed4657c9700eebdbec");
}

static void test_rfc7616_sha256(void **state)
{
	(void)state;
	rfc7616_check("SHA-256", DIGEST_SHA256,
		      "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
	/* Hex case of the response carries no meaning. */
	rfc7616_check("sha-256", DIGEST_SHA256,
		      "753927FA0E85D155564E2E272A28D1802CA10DAF4496794697CF8DB5856CB6C1");
}

static void test_rfc2617(void **state)
{
	(void)state;
	const char *hdr = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
			  "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", "
			  "qop=auth, nc=00000001, cnonce=\"0a4f113b\", "
			  "response=\"6629fae49393a05397450978507c4ef1\", "
			  "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
	struct digest_creds c;
	assert_int_equal(parse_cstr(hdr, &c), 0);
	assert_int_equal(c.alg, DIGEST_MD5);
	char ha1[DIGEST_HEX_MAX];
	digest_ha1(DIGEST_MD5, "Mufasa", "testrealm@host.com", "Circle Of Life", ha1);
	assert_string_equal(ha1, "939e7578ed9e3c518a452acee763bce9");
	assert_true(digest_response_ok(&c, SLICE_LIT("GET"), ha1));
	/* A stored HA1 in capitals still works. */
	assert_true(digest_response_ok(&c, SLICE_LIT("GET"), "939E7578ED9E3C518A452ACEE763BCE9"));
	assert_false(digest_response_ok(&c, SLICE_LIT("GET"), "939e7578ed9e3c518a452acee763bce8"));
	assert_false(digest_response_ok(&c, SLICE_LIT("GET"), "939e7578"));
}

/* Without qop (RFC 2069 compatibility): response = H(HA1:nonce:HA2). */
static void test_no_qop(void **state)
{
	(void)state;
	const char *hdr = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
			  "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", "
			  "response=\"670fd8c2df070c60b045671b8b24ff02\"";
	struct digest_creds c;
	assert_int_equal(parse_cstr(hdr, &c), 0);
	assert_false(slice_present(c.qop));
	assert_false(slice_present(c.nc));
	assert_int_equal(c.nc_val, 0);
	char ha1[DIGEST_HEX_MAX];
	digest_ha1(DIGEST_MD5, "Mufasa", "testrealm@host.com", "Circle Of Life", ha1);
	assert_true(digest_response_ok(&c, SLICE_LIT("GET"), ha1));
	struct digest_creds d = c;
	d.response = SLICE_LIT("670fd8c2df070c60b045671b8b24ff0");
	assert_false(digest_response_ok(&d, SLICE_LIT("GET"), ha1));
	d.response = SLICE_LIT("670fd8c2df070c60b045671b8b24ff0g");
	assert_false(digest_response_ok(&d, SLICE_LIT("GET"), ha1));
}

#define MIN_OK "username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", response=\"0\""

static void test_parse_syntax(void **state)
{
	(void)state;
	struct digest_creds c;
	/* Scheme and names are case-insensitive; whitespace around '=' and ','. */
	assert_int_equal(parse_cstr("  dIgEsT   USERNAME = \"alice\" ,Realm=\"pbx\",\tNONCE=abc,"
				    "uri = \"sip:pbx\" , Response=\"00\" ",
				    &c),
			 0);
	assert_true(slice_eq_cstr(c.username, "alice"));
	assert_true(slice_eq_cstr(c.realm, "pbx"));
	assert_true(slice_eq_cstr(c.nonce, "abc"));
	assert_true(slice_eq_cstr(c.uri, "sip:pbx"));
	assert_true(slice_eq_cstr(c.response, "00"));
	assert_false(slice_present(c.algorithm));
	assert_int_equal(c.alg, DIGEST_MD5);
	/* Unquoted token68-like values, empty list elements, trailing comma. */
	assert_int_equal(parse_cstr("Digest ,username=u,, realm=r, nonce=a/b+c==, uri=sip:x@y;lr, "
				    "response=0,",
				    &c),
			 0);
	assert_true(slice_eq_cstr(c.nonce, "a/b+c=="));
	assert_true(slice_eq_cstr(c.uri, "sip:x@y;lr"));
	/* Escaped quotes stay escaped in the slice; commas inside quotes are data. */
	assert_int_equal(parse_cstr("Digest username=\"a\\\"b,c\", realm=\"\", nonce=\"n\", uri=\"u\", "
				    "response=\"r\"",
				    &c),
			 0);
	assert_true(slice_eq_cstr(c.username, "a\\\"b,c"));
	assert_true(slice_present(c.realm));
	assert_int_equal(c.realm.len, 0);
	/* Unknown parameters are skipped; UTF-8 in quotes is fine. */
	assert_int_equal(parse_cstr("Digest " MIN_OK ", userhash=false, foo=\"b\xc3\xa4r\"", &c), 0);
	/* Uppercase hex nc, qop quoted (some clients do). */
	assert_int_equal(parse_cstr("Digest " MIN_OK ", qop=\"auth\", nc=0000ABcd, cnonce=\"c\"", &c), 0);
	assert_int_equal(c.nc_val, 0xabcd);
	assert_int_equal(parse_cstr("Digest " MIN_OK ", qop=auth, nc=ffffffff, cnonce=c", &c), 0);
	assert_int_equal(c.nc_val, 0xffffffffu);
	assert_int_equal(parse_cstr("Digest " MIN_OK ", algorithm=sha-256", &c), 0);
	assert_int_equal(c.alg, DIGEST_SHA256);
}

static void test_parse_bad(void **state)
{
	(void)state;
	struct digest_creds c;
	static const char *const bad[] = {
		"",
		"Digest",
		"Digest ",
		"Basic dXNlcjpwYXNz",
		"Digestusername=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", response=\"0\"",
		"Digest username",
		"Digest username=",
		"Digest username=\"u",
		"Digest username=\"u\\",
		"Digest =\"u\"",
		"Digest user name=\"u\"",
		"Digest " MIN_OK " garbage",
		"Digest " MIN_OK ", \"x\"",
		"Digest " MIN_OK ", a=b=c d",
		"Digest " MIN_OK ", x=\"a\rb\"",
		"Digest " MIN_OK ", x=\"a\x01\"",
		"Digest " MIN_OK ", x=\x01",
		/* missing each required field */
		"Digest realm=\"r\", nonce=\"n\", uri=\"sip:x\", response=\"0\"",
		"Digest username=\"u\", nonce=\"n\", uri=\"sip:x\", response=\"0\"",
		"Digest username=\"u\", realm=\"r\", uri=\"sip:x\", response=\"0\"",
		"Digest username=\"u\", realm=\"r\", nonce=\"n\", response=\"0\"",
		"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:x\"",
		/* duplicates, also in another case */
		"Digest " MIN_OK ", username=\"v\"",
		"Digest " MIN_OK ", NONCE=\"m\"",
		"Digest " MIN_OK ", qop=auth, nc=00000001, cnonce=c, QOP=auth",
		/* qop without nc or cnonce, bad nc */
		"Digest " MIN_OK ", qop=auth, cnonce=c",
		"Digest " MIN_OK ", qop=auth, nc=00000001",
		"Digest " MIN_OK ", qop=auth, nc=0000001, cnonce=c",
		"Digest " MIN_OK ", qop=auth, nc=000000001, cnonce=c",
		"Digest " MIN_OK ", qop=auth, nc=0000000g, cnonce=c",
		"Digest " MIN_OK ", nc=-0000001",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse_cstr(bad[i], &c);
		if (rc != EBADMSG)
			fail_msg("case %zu \"%s\": got %d, want EBADMSG", i, bad[i], rc);
	}
	/* A NUL inside the value is not the end of it. */
	static const char nul[] = "Digest " MIN_OK ", x=a\0b";
	assert_int_equal(digest_parse(slice_make(nul, sizeof(nul) - 1), &c), EBADMSG);
	assert_int_equal(digest_parse(SLICE_NULL, &c), EBADMSG);

	/* Well-formed but not something we do. */
	assert_int_equal(parse_cstr("Digest " MIN_OK ", algorithm=MD5-sess", &c), ENOTSUP);
	assert_int_equal(parse_cstr("Digest " MIN_OK ", algorithm=SHA-256-sess", &c), ENOTSUP);
	assert_int_equal(parse_cstr("Digest " MIN_OK ", algorithm=SHA-512-256", &c), ENOTSUP);
	assert_int_equal(parse_cstr("Digest " MIN_OK ", algorithm=\"AKAv1-MD5\"", &c), ENOTSUP);
	assert_int_equal(parse_cstr("Digest " MIN_OK ", qop=auth-int, nc=00000001, cnonce=c", &c), ENOTSUP);
}

/* Build "Digest " MIN_OK followed by k extra parameters p0=v .. */
static char *many_params(unsigned k)
{
	size_t cap = 128 + 16 * (size_t)k;
	char *s = malloc(cap);
	assert_non_null(s);
	size_t pos = (size_t)snprintf(s, cap, "Digest " MIN_OK);
	for (unsigned i = 0; i < k; i++)
		pos += (size_t)snprintf(s + pos, cap - pos, ", p%u=v", i);
	return s;
}

static void test_parse_bounds(void **state)
{
	(void)state;
	struct digest_creds c;
	/* MIN_OK has 5 parameters: 27 more make 32 (accepted), 28 make 33. */
	char *s = many_params(DIGEST_PARAMS_MAX - 5);
	assert_int_equal(parse_cstr(s, &c), 0);
	free(s);
	s = many_params(DIGEST_PARAMS_MAX - 4);
	assert_int_equal(parse_cstr(s, &c), EBADMSG);
	free(s);
	s = many_params(10000);
	assert_int_equal(parse_cstr(s, &c), EBADMSG);
	free(s);

	/* Overlong: one value just inside the limit, then just past it. */
	size_t cap = DIGEST_VALUE_MAX + 64;
	char *big = malloc(cap);
	assert_non_null(big);
	int head = snprintf(big, cap, "Digest " MIN_OK ", x=\"");
	assert_true(head > 0);
	size_t fill = DIGEST_VALUE_MAX - (size_t)head - 1;
	memset(big + head, 'a', fill);
	big[(size_t)head + fill] = '"';
	assert_int_equal(digest_parse(slice_make(big, DIGEST_VALUE_MAX), &c), 0);
	memset(big + head, 'a', fill + 1);
	big[(size_t)head + fill + 1] = '"';
	assert_int_equal(digest_parse(slice_make(big, DIGEST_VALUE_MAX + 1), &c), EBADMSG);
	free(big);
}

/* ------------------------------------------------------------------ */

static void test_nonce_lifecycle(void **state)
{
	(void)state;
	struct digest_nonces *n;
	assert_int_equal(digest_nonces_new(&n, test_key, 300, 1u << 10), 0);
	uint64_t t0 = 1700000000;
	char a[64], b[64];
	assert_int_equal(digest_nonce_make(n, t0, a, sizeof(a)), 0);
	assert_int_equal(strlen(a), DIGEST_NONCE_LEN);
	assert_int_equal(digest_nonce_make(n, t0, b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	for (const char *q = a; *q; q++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *q));

	struct slice sa = slice_cstr(a);
	assert_int_equal(digest_nonce_check(n, sa, true, 1, t0), NONCE_OK);
	assert_int_equal(digest_nonce_check(n, sa, true, 1, t0 + 299), NONCE_OK);
	assert_int_equal(digest_nonce_check(n, sa, true, 1, t0 + 300), NONCE_STALE);
	assert_int_equal(digest_nonce_check(n, sa, true, 1, t0 + 100000), NONCE_STALE);
	/* From the future. */
	assert_int_equal(digest_nonce_check(n, sa, true, 1, t0 - 1), NONCE_INVALID);

	/* check records nothing: the same nc stays acceptable until commit. */
	assert_int_equal(digest_nonce_check(n, sa, true, 1, t0 + 1), NONCE_OK);
	digest_nonce_commit(n, sa, true, 1);
	assert_int_equal(digest_nonce_check(n, sa, true, 1, t0 + 1), NONCE_REPLAY);
	assert_int_equal(digest_nonce_check(n, sa, true, 0, t0 + 1), NONCE_REPLAY);
	assert_int_equal(digest_nonce_check(n, sa, true, 2, t0 + 1), NONCE_OK);
	digest_nonce_commit(n, sa, true, 5);
	assert_int_equal(digest_nonce_check(n, sa, true, 5, t0 + 2), NONCE_REPLAY);
	assert_int_equal(digest_nonce_check(n, sa, true, 3, t0 + 2), NONCE_REPLAY);
	assert_int_equal(digest_nonce_check(n, sa, true, 6, t0 + 2), NONCE_OK);
	/* A lower nc committed late does not move the mark back. */
	digest_nonce_commit(n, sa, true, 4);
	assert_int_equal(digest_nonce_check(n, sa, true, 5, t0 + 2), NONCE_REPLAY);
	/* The other nonce is independent. */
	assert_int_equal(digest_nonce_check(n, slice_cstr(b), true, 1, t0 + 2), NONCE_OK);

	/* Without qop a nonce is good exactly once. */
	struct slice sb = slice_cstr(b);
	assert_int_equal(digest_nonce_check(n, sb, false, 0, t0 + 3), NONCE_OK);
	assert_int_equal(digest_nonce_check(n, sb, false, 0, t0 + 3), NONCE_OK);
	digest_nonce_commit(n, sb, false, 0);
	assert_int_equal(digest_nonce_check(n, sb, false, 0, t0 + 3), NONCE_REPLAY);
	assert_int_equal(digest_nonce_check(n, sb, true, 0xfffffffeu, t0 + 3), NONCE_REPLAY);
	/* And a nonce used with qop cannot then be used without. */
	assert_int_equal(digest_nonce_check(n, sa, false, 0, t0 + 3), NONCE_REPLAY);

	digest_nonces_free(n);
}

static void test_nonce_tamper(void **state)
{
	(void)state;
	struct digest_nonces *n, *other;
	assert_int_equal(digest_nonces_new(&n, test_key, 60, 1u << 4), 0);
	char a[64];
	assert_int_equal(digest_nonce_make(n, 1000, a, sizeof(a)), 0);
	/* Any single changed character is refused. */
	for (size_t i = 0; i < DIGEST_NONCE_LEN; i++) {
		char t[64];
		memcpy(t, a, sizeof(t));
		t[i] = t[i] == 'A' ? 'B' : 'A';
		assert_int_equal(digest_nonce_check(n, slice_cstr(t), true, 1, 1000), NONCE_INVALID);
		t[i] = '!';
		assert_int_equal(digest_nonce_check(n, slice_cstr(t), true, 1, 1000), NONCE_INVALID);
	}
	/* Truncated, extended, empty, absent. */
	assert_int_equal(digest_nonce_check(n, slice_make(a, DIGEST_NONCE_LEN - 1), true, 1, 1000),
			 NONCE_INVALID);
	char longer[80];
	snprintf(longer, sizeof(longer), "%sA", a);
	assert_int_equal(digest_nonce_check(n, slice_cstr(longer), true, 1, 1000), NONCE_INVALID);
	assert_int_equal(digest_nonce_check(n, slice_cstr(""), true, 1, 1000), NONCE_INVALID);
	assert_int_equal(digest_nonce_check(n, SLICE_NULL, true, 1, 1000), NONCE_INVALID);
	/* A commit of garbage changes nothing. */
	char t[64];
	memcpy(t, a, sizeof(t));
	t[3] ^= 1;
	digest_nonce_commit(n, slice_cstr(t), true, 9);
	assert_int_equal(digest_nonce_check(n, slice_cstr(a), true, 1, 1000), NONCE_OK);

	/* Another key: invalid. The same key, another instance (a restart): stale. */
	uint8_t key2[32];
	memcpy(key2, test_key, 32);
	key2[31] ^= 0x80;
	assert_int_equal(digest_nonces_new(&other, key2, 60, 1u << 4), 0);
	assert_int_equal(digest_nonce_check(other, slice_cstr(a), true, 1, 1000), NONCE_INVALID);
	digest_nonces_free(other);
	assert_int_equal(digest_nonces_new(&other, test_key, 60, 1u << 4), 0);
	assert_int_equal(digest_nonce_check(other, slice_cstr(a), true, 1, 1000), NONCE_STALE);
	digest_nonces_free(other);

	/* Too small a buffer. */
	char small[DIGEST_NONCE_LEN];
	assert_int_equal(digest_nonce_make(n, 1000, small, sizeof(small)), ENOSPC);
	assert_int_equal(small[0], '\0');
	digest_nonces_free(n);
}

static void test_nonce_slot_takeover(void **state)
{
	(void)state;
	struct digest_nonces *n;
	assert_int_equal(digest_nonces_new(&n, test_key, 60, 4), 0);
	char first[64], x[64];
	assert_int_equal(digest_nonce_make(n, 10, first, sizeof(first)), 0);
	digest_nonce_commit(n, slice_cstr(first), true, 1);
	/* Three more fill the other slots; the first still owns its own. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(digest_nonce_make(n, 10, x, sizeof(x)), 0);
	assert_int_equal(digest_nonce_check(n, slice_cstr(first), true, 2, 11), NONCE_OK);
	/* The fifth wraps onto slot 0. */
	char fifth[64];
	assert_int_equal(digest_nonce_make(n, 11, fifth, sizeof(fifth)), 0);
	assert_int_equal(digest_nonce_check(n, slice_cstr(first), true, 2, 11), NONCE_STALE);
	/* The newcomer starts with a clean nc and is not affected by the old
	 * owner's commit arriving late. */
	assert_int_equal(digest_nonce_check(n, slice_cstr(fifth), true, 1, 11), NONCE_OK);
	digest_nonce_commit(n, slice_cstr(first), true, 7);
	assert_int_equal(digest_nonce_check(n, slice_cstr(fifth), true, 1, 11), NONCE_OK);
	digest_nonces_free(n);
}

static void test_nonce_args(void **state)
{
	(void)state;
	struct digest_nonces *n = NULL;
	assert_int_equal(digest_nonces_new(&n, test_key, 60, 3), EINVAL);
	assert_int_equal(digest_nonces_new(&n, test_key, 60, 0), EINVAL);
	assert_int_equal(digest_nonces_new(&n, test_key, 0, 8), EINVAL);
	assert_int_equal(digest_nonces_new(&n, test_key, 60, DIGEST_SLOTS_MAX * 2), EINVAL);
	assert_null(n);
	assert_int_equal(digest_nonces_new(&n, test_key, 60, 1), 0);
	digest_nonces_free(n);
	digest_nonces_free(NULL);
}

/* SHA-256 of a string as lowercase hex, straight from nettle, so the test
 * computes the client's side without going through the code under test. */
static void sha256_hex(const char *s, char out[DIGEST_HEX_MAX])
{
	struct sha256_ctx ctx;
	uint8_t d[SHA256_DIGEST_SIZE];
	sha256_init(&ctx);
	sha256_update(&ctx, strlen(s), (const uint8_t *)s);
	sha256_digest(&ctx, sizeof(d), d);
	for (size_t k = 0; k < sizeof(d); k++)
		snprintf(out + 2 * k, 3, "%02x", d[k]);
}

/* The whole round: challenge, client answer, check, commit, replay. */
static void test_round_trip(void **state)
{
	(void)state;
	struct digest_nonces *n;
	assert_int_equal(digest_nonces_new(&n, test_key, 30, 64), 0);
	char nonce[64];
	assert_int_equal(digest_nonce_make(n, 500, nonce, sizeof(nonce)), 0);

	char ha1[DIGEST_HEX_MAX], ha2[DIGEST_HEX_MAX], resp[DIGEST_HEX_MAX], buf[512];
	sha256_hex("1001:pbx:pw1001", ha1);
	char ours[DIGEST_HEX_MAX];
	digest_ha1(DIGEST_SHA256, "1001", "pbx", "pw1001", ours);
	assert_string_equal(ours, ha1);
	sha256_hex("REGISTER:sip:pbx.example", ha2);
	snprintf(buf, sizeof(buf), "%s:%s:00000001:cafe:auth:%s", ha1, nonce, ha2);
	sha256_hex(buf, resp);

	char hdr[512];
	snprintf(hdr, sizeof(hdr),
		 "Digest username=\"1001\", realm=\"pbx\", nonce=\"%s\", uri=\"sip:pbx.example\", "
		 "response=\"%s\", algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"cafe\"",
		 nonce, resp);
	struct digest_creds c;
	assert_int_equal(parse_cstr(hdr, &c), 0);
	assert_true(digest_response_ok(&c, SLICE_LIT("REGISTER"), ha1));
	assert_false(digest_response_ok(&c, SLICE_LIT("INVITE"), ha1));
	assert_int_equal(digest_nonce_check(n, c.nonce, true, c.nc_val, 510), NONCE_OK);
	digest_nonce_commit(n, c.nonce, true, c.nc_val);
	assert_int_equal(digest_nonce_check(n, c.nonce, true, c.nc_val, 511), NONCE_REPLAY);
	digest_nonces_free(n);
}

static void test_challenge(void **state)
{
	(void)state;
	char out[256];
	int len = digest_challenge(out, sizeof(out), "pbx", "abc", DIGEST_SHA256, false);
	assert_string_equal(out, "Digest realm=\"pbx\", nonce=\"abc\", algorithm=SHA-256, qop=\"auth\"");
	assert_int_equal(len, (int)strlen(out));
	len = digest_challenge(out, sizeof(out), "pbx", "abc", DIGEST_MD5, true);
	assert_string_equal(out, "Digest realm=\"pbx\", nonce=\"abc\", algorithm=MD5, qop=\"auth\", stale=true");
	assert_int_equal(len, (int)strlen(out));
	/* Escaping in the realm; refusal of control characters and quoted nonces. */
	len = digest_challenge(out, sizeof(out), "a\"b\\c", "n", DIGEST_MD5, false);
	assert_string_equal(out, "Digest realm=\"a\\\"b\\\\c\", nonce=\"n\", algorithm=MD5, qop=\"auth\"");
	assert_int_equal(digest_challenge(out, sizeof(out), "a\r\nX: y", "n", DIGEST_MD5, false), -1);
	assert_int_equal(digest_challenge(out, sizeof(out), "pbx", "n\"", DIGEST_MD5, false), -1);
	/* Exactly fitting, and one byte short. */
	const char *want = "Digest realm=\"pbx\", nonce=\"abc\", algorithm=MD5, qop=\"auth\"";
	size_t wl = strlen(want);
	assert_int_equal(digest_challenge(out, wl + 1, "pbx", "abc", DIGEST_MD5, false), (int)wl);
	assert_int_equal(digest_challenge(out, wl, "pbx", "abc", DIGEST_MD5, false), -1);
	assert_int_equal(out[0], '\0');

	/* What we send, a client's parser of the same grammar reads back. */
	struct digest_nonces *n;
	assert_int_equal(digest_nonces_new(&n, test_key, 30, 64), 0);
	char nonce[64];
	assert_int_equal(digest_nonce_make(n, 1, nonce, sizeof(nonce)), 0);
	assert_true(digest_challenge(out, sizeof(out), "pbx", nonce, DIGEST_SHA256, true) > 0);
	assert_non_null(strstr(out, nonce));
	digest_nonces_free(n);
}

/*
 * glibc's per-thread cache (tcache) keeps up to 7 freed chunks of each size
 * up to 1032 bytes and mallinfo2 counts them as in use, so the first test
 * that frees a chunk of a new size looks like a leak to unit.h's check.
 * Filling every tcache bin before the tests makes the count exact: from then
 * on a free refills a bin a malloc emptied, or goes back to the arena.
 */
static void tcache_fill(void)
{
	void *p[7];
	for (size_t sz = 8; sz <= 1032; sz += 16) {
		for (size_t i = 0; i < 7; i++)
			p[i] = malloc(sz);
		for (size_t i = 0; i < 7; i++)
			free(p[i]);
	}
}

/* gnutls sets up its random generator state on first use; do that before
 * the per-test leak checks start counting. */
static int group_setup(void **state)
{
	(void)state;
	uint8_t b[8];
	if (gnutls_rnd(GNUTLS_RND_NONCE, b, sizeof(b)) != 0)
		return -1;
	tcache_fill();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_rfc7616_md5),	    UNIT_TEST(test_rfc7616_sha256),
		UNIT_TEST(test_rfc2617),	    UNIT_TEST(test_no_qop),
		UNIT_TEST(test_parse_syntax),	    UNIT_TEST(test_parse_bad),
		UNIT_TEST(test_parse_bounds),	    UNIT_TEST(test_nonce_lifecycle),
		UNIT_TEST(test_nonce_tamper),	    UNIT_TEST(test_nonce_slot_takeover),
		UNIT_TEST(test_nonce_args),	    UNIT_TEST(test_round_trip),
		UNIT_TEST(test_challenge),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
