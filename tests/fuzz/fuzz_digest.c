/*
 * fuzz_digest.c: libFuzzer target for the Authorization header parser.
 *
 * The input is a header value. Whatever parses is pushed on through the
 * response check, the nonce check and commit, and the challenge writer, so
 * the slices the parser hands out are exercised by their real consumers and
 * ASan sees any read past the input. The input is copied into a buffer of
 * exactly its size so an overread lands on a redzone.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Created on first use and kept for the run: libFuzzer calls us from one
 * thread. */
static struct digest_nonces *fz_nonces;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fz_nonces) {
		static const uint8_t key[32] = { 42 };
		if (digest_nonces_new(&fz_nonces, key, 60, 256) != 0)
			abort();
	}
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);

	struct digest_creds c;
	int rc = digest_parse(slice_make(buf, size), &c);
	if (rc != 0 && rc != EBADMSG && rc != ENOTSUP)
		abort();
	if (rc == 0) {
		/* Every slice must lie inside the input. */
		const struct slice *f[] = { &c.username, &c.realm, &c.nonce, &c.uri, &c.response,
					    &c.algorithm, &c.cnonce, &c.opaque, &c.qop, &c.nc };
		for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
			if (f[i]->p && (f[i]->p < buf || f[i]->p + f[i]->len > buf + size))
				abort();
		if (!c.username.p || !c.realm.p || !c.nonce.p || !c.uri.p || !c.response.p)
			abort();

		char ha1[DIGEST_HEX_MAX];
		digest_ha1(c.alg, "1001", "pbx", "pw", ha1);
		(void)digest_response_ok(&c, SLICE_LIT("REGISTER"), ha1);
		bool has_nc = slice_present(c.qop);
		enum digest_nonce_verdict v = digest_nonce_check(fz_nonces, c.nonce, has_nc, c.nc_val, 100);
		if (v == NONCE_OK)
			digest_nonce_commit(fz_nonces, c.nonce, has_nc, c.nc_val);

		/* Echo the realm back in a challenge, as a server that trusted it
		 * would: the writer must refuse or escape, never overflow. */
		char realm[128], out[256];
		if (slice_copy(realm, sizeof(realm), c.realm) == 0 && !memchr(c.realm.p, '\0', c.realm.len)) {
			char nonce[64];
			if (digest_nonce_make(fz_nonces, 100, nonce, sizeof(nonce)) == 0) {
				int len = digest_challenge(out, sizeof(out), realm, nonce, c.alg, v == NONCE_STALE);
				if (len >= (int)sizeof(out) || (len >= 0 && strlen(out) != (size_t)len))
					abort();
			}
		}
	}
	free(buf);
	return 0;
}
