/*
 * t_srtp.c: the SRTP wrapper against libsrtp's own reference packets (the
 * srtp_validate vectors: AES_CM_128_HMAC_SHA1_80 and _32 RTP, SRTCP), then
 * round trips of both suites, tampering anywhere in a packet, the replay
 * window, a wrong key, and the argument checks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "srtp_ctx.h"
#include "unit.h"

/* libsrtp test/srtp_driver.c srtp_validate(): key, SSRC 0xcafebabe, seq 0x1234 */
static const uint8_t kat_key[SDP_SRTP_KEY_LEN] = {
	0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41,
	0x39, 0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6,
};
static const uint8_t kat_rtp[28] = {
	0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0xab, 0xab,
	0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
};
static const uint8_t kat_srtp80[38] = {
	0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0x4e,
	0x55, 0xdc, 0x4c, 0xe7, 0x99, 0x78, 0xd8, 0x8c, 0xa4, 0xd2, 0x15, 0x94, 0x9d,
	0x24, 0x02, 0xb7, 0x8d, 0x6a, 0xcc, 0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb,
};
/* _32: the same keystream, the tag cut to 4 bytes */
static const size_t kat_srtp32_len = 32;
static const uint8_t kat_rtcp[24] = {
	0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0xab, 0xab, 0xab, 0xab,
	0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
};
static const uint8_t kat_srtcp[38] = {
	0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0x71, 0x28, 0x03, 0x5b, 0xe4,
	0x87, 0xb9, 0xbd, 0xbe, 0xf8, 0x90, 0x41, 0xf9, 0x77, 0xa5, 0xa8, 0x80, 0x00,
	0x00, 0x01, 0x99, 0x3e, 0x08, 0xcd, 0x54, 0xd6, 0xc1, 0x23, 0x07, 0x98,
};

static struct srtp_ctx *mk(enum sdp_srtp_suite s, const uint8_t *key, enum srtp_ctx_dir d)
{
	struct srtp_ctx *c = NULL;
	assert_int_equal(srtp_ctx_new(&c, s, key, d), 0);
	assert_non_null(c);
	return c;
}

static void known_answer(enum sdp_srtp_suite suite, size_t want_len)
{
	struct srtp_ctx *tx = mk(suite, kat_key, SRTP_CTX_TX);
	struct srtp_ctx *rx = mk(suite, kat_key, SRTP_CTX_RX);
	uint8_t buf[64 + SRTP_CTX_TRAILER];
	memcpy(buf, kat_rtp, sizeof kat_rtp);
	size_t len = sizeof kat_rtp;
	assert_int_equal(srtp_ctx_protect_rtp(tx, buf, &len, sizeof buf), 0);
	assert_int_equal(len, want_len);
	assert_memory_equal(buf, kat_srtp80, want_len);
	assert_int_equal(srtp_ctx_unprotect_rtp(rx, buf, &len), 0);
	assert_int_equal(len, sizeof kat_rtp);
	assert_memory_equal(buf, kat_rtp, sizeof kat_rtp);

	/* SRTCP carries the 80-bit tag with either suite */
	memcpy(buf, kat_rtcp, sizeof kat_rtcp);
	len = sizeof kat_rtcp;
	assert_int_equal(srtp_ctx_protect_rtcp(tx, buf, &len, sizeof buf), 0);
	assert_int_equal(len, sizeof kat_srtcp);
	assert_memory_equal(buf, kat_srtcp, sizeof kat_srtcp);
	assert_int_equal(srtp_ctx_unprotect_rtcp(rx, buf, &len), 0);
	assert_int_equal(len, sizeof kat_rtcp);
	assert_memory_equal(buf, kat_rtcp, sizeof kat_rtcp);
	srtp_ctx_free(tx);
	srtp_ctx_free(rx);
}

static void test_known_answer_80(void **state)
{
	(void)state;
	known_answer(SDP_SRTP_AES_CM_128_HMAC_SHA1_80, sizeof kat_srtp80);
}

static void test_known_answer_32(void **state)
{
	(void)state;
	known_answer(SDP_SRTP_AES_CM_128_HMAC_SHA1_32, kat_srtp32_len);
}

static size_t mk_rtp(uint8_t *buf, uint16_t seq, uint32_t ssrc, size_t payload)
{
	buf[0] = 0x80;
	buf[1] = 0;
	buf[2] = (uint8_t)(seq >> 8);
	buf[3] = (uint8_t)seq;
	uint32_t ts = seq * 160u;
	buf[4] = (uint8_t)(ts >> 24);
	buf[5] = (uint8_t)(ts >> 16);
	buf[6] = (uint8_t)(ts >> 8);
	buf[7] = (uint8_t)ts;
	buf[8] = (uint8_t)(ssrc >> 24);
	buf[9] = (uint8_t)(ssrc >> 16);
	buf[10] = (uint8_t)(ssrc >> 8);
	buf[11] = (uint8_t)ssrc;
	for (size_t i = 0; i < payload; i++)
		buf[12 + i] = (uint8_t)(seq + i * 7);
	return 12 + payload;
}

static void round_trip(enum sdp_srtp_suite suite, size_t tag)
{
	uint8_t key[SDP_SRTP_KEY_LEN];
	for (size_t i = 0; i < sizeof key; i++)
		key[i] = (uint8_t)(i * 13 + 1);
	struct srtp_ctx *tx = mk(suite, key, SRTP_CTX_TX);
	struct srtp_ctx *rx = mk(suite, key, SRTP_CTX_RX);
	/* across the 16-bit sequence wrap: the rollover counter follows */
	for (unsigned i = 0; i < 300; i++) {
		uint16_t seq = (uint16_t)(65400 + i);
		uint8_t buf[1500 + SRTP_CTX_TRAILER], ref[1500];
		size_t plen = 1 + (i * 37) % 1400;
		size_t len = mk_rtp(buf, seq, 0x11223344, plen);
		memcpy(ref, buf, len);
		size_t n = len;
		assert_int_equal(srtp_ctx_protect_rtp(tx, buf, &n, sizeof buf), 0);
		assert_int_equal(n, len + tag);
		assert_memory_equal(buf, ref, 12);               /* header in clear */
		assert_memory_not_equal(buf + 12, ref + 12, plen); /* payload not */
		assert_int_equal(srtp_ctx_unprotect_rtp(rx, buf, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(buf, ref, len);
	}
	srtp_ctx_free(tx);
	srtp_ctx_free(rx);
}

static void test_round_trip(void **state)
{
	(void)state;
	round_trip(SDP_SRTP_AES_CM_128_HMAC_SHA1_80, 10);
	round_trip(SDP_SRTP_AES_CM_128_HMAC_SHA1_32, 4);
}

static void test_tamper(void **state)
{
	(void)state;
	struct srtp_ctx *tx = mk(SDP_SRTP_AES_CM_128_HMAC_SHA1_80, kat_key, SRTP_CTX_TX);
	struct srtp_ctx *rx = mk(SDP_SRTP_AES_CM_128_HMAC_SHA1_80, kat_key, SRTP_CTX_RX);
	uint8_t good[200 + SRTP_CTX_TRAILER];
	size_t len = mk_rtp(good, 1000, 0xdeadbeef, 160);
	assert_int_equal(srtp_ctx_protect_rtp(tx, good, &len, sizeof good), 0);
	/* any flipped bit, in the header, payload or tag, fails authentication */
	for (size_t i = 0; i < len; i += 7) {
		uint8_t bad[sizeof good];
		memcpy(bad, good, len);
		bad[i] ^= 0x10;
		size_t n = len;
		assert_int_equal(srtp_ctx_unprotect_rtp(rx, bad, &n), EBADMSG);
	}
	/* a packet cut short */
	uint8_t cut[sizeof good];
	memcpy(cut, good, len);
	size_t n = len - 3;
	assert_int_equal(srtp_ctx_unprotect_rtp(rx, cut, &n), EBADMSG);
	n = 5;
	assert_int_not_equal(srtp_ctx_unprotect_rtp(rx, cut, &n), 0);
	/* the untouched packet still passes after all that */
	n = len;
	assert_int_equal(srtp_ctx_unprotect_rtp(rx, good, &n), 0);
	assert_int_equal(n, 12 + 160);
	srtp_ctx_free(tx);
	srtp_ctx_free(rx);
}

static void test_replay(void **state)
{
	(void)state;
	struct srtp_ctx *tx = mk(SDP_SRTP_AES_CM_128_HMAC_SHA1_32, kat_key, SRTP_CTX_TX);
	struct srtp_ctx *rx = mk(SDP_SRTP_AES_CM_128_HMAC_SHA1_32, kat_key, SRTP_CTX_RX);
	uint8_t first[100 + SRTP_CTX_TRAILER];
	size_t first_len = mk_rtp(first, 10, 1, 40);
	assert_int_equal(srtp_ctx_protect_rtp(tx, first, &first_len, sizeof first), 0);
	uint8_t copy[sizeof first];
	memcpy(copy, first, first_len);
	size_t n = first_len;
	assert_int_equal(srtp_ctx_unprotect_rtp(rx, copy, &n), 0);
	/* the same packet again */
	memcpy(copy, first, first_len);
	n = first_len;
	assert_int_equal(srtp_ctx_unprotect_rtp(rx, copy, &n), EALREADY);
	/* move far ahead, then the old packet is beyond the window */
	for (uint16_t s = 11; s < 11 + 1100; s++) {
		uint8_t b[100 + SRTP_CTX_TRAILER];
		size_t l = mk_rtp(b, s, 1, 40);
		assert_int_equal(srtp_ctx_protect_rtp(tx, b, &l, sizeof b), 0);
		if (s % 100 == 0 || s == 11 + 1099)
			assert_int_equal(srtp_ctx_unprotect_rtp(rx, b, &l), 0);
	}
	memcpy(copy, first, first_len);
	n = first_len;
	assert_int_equal(srtp_ctx_unprotect_rtp(rx, copy, &n), EALREADY);
	/* the sender refuses to send a sequence number twice */
	uint8_t again[100 + SRTP_CTX_TRAILER];
	size_t al = mk_rtp(again, 10, 1, 40);
	assert_int_equal(srtp_ctx_protect_rtp(tx, again, &al, sizeof again), EALREADY);
	srtp_ctx_free(tx);
	srtp_ctx_free(rx);
}

static void test_wrong_key_and_args(void **state)
{
	(void)state;
	uint8_t other[SDP_SRTP_KEY_LEN];
	memcpy(other, kat_key, sizeof other);
	other[29] ^= 1; /* only the salt differs */
	struct srtp_ctx *tx = mk(SDP_SRTP_AES_CM_128_HMAC_SHA1_80, kat_key, SRTP_CTX_TX);
	struct srtp_ctx *rx = mk(SDP_SRTP_AES_CM_128_HMAC_SHA1_80, other, SRTP_CTX_RX);
	uint8_t buf[100 + SRTP_CTX_TRAILER];
	size_t len = mk_rtp(buf, 7, 9, 20);
	assert_int_equal(srtp_ctx_protect_rtp(tx, buf, &len, sizeof buf), 0);
	assert_int_equal(srtp_ctx_unprotect_rtp(rx, buf, &len), EBADMSG);

	assert_true(srtp_ctx_same(tx, SDP_SRTP_AES_CM_128_HMAC_SHA1_80, kat_key));
	assert_false(srtp_ctx_same(tx, SDP_SRTP_AES_CM_128_HMAC_SHA1_32, kat_key));
	assert_false(srtp_ctx_same(tx, SDP_SRTP_AES_CM_128_HMAC_SHA1_80, other));
	assert_false(srtp_ctx_same(NULL, SDP_SRTP_AES_CM_128_HMAC_SHA1_80, other));

	/* wrong direction, no room for the tag, unknown suite */
	len = mk_rtp(buf, 8, 9, 20);
	assert_int_equal(srtp_ctx_unprotect_rtp(tx, buf, &len), EINVAL);
	assert_int_equal(srtp_ctx_protect_rtp(rx, buf, &len, sizeof buf), EINVAL);
	assert_int_equal(srtp_ctx_protect_rtp(tx, buf, &len, len + 4), ENOBUFS);
	struct srtp_ctx *c = (struct srtp_ctx *)&len;
	assert_int_equal(srtp_ctx_new(&c, SDP_SRTP_UNKNOWN, kat_key, SRTP_CTX_TX), EINVAL);
	assert_null(c);
	assert_int_equal(srtp_ctx_new(NULL, SDP_SRTP_AES_CM_128_HMAC_SHA1_80, kat_key, SRTP_CTX_TX),
			 EINVAL);
	srtp_ctx_free(NULL);
	srtp_ctx_free(tx);
	srtp_ctx_free(rx);
}

int main(int argc, char **argv)
{
	(void)argc;
	unit_exact_heap(argv);
	/* libsrtp's crypto kernel lives for the process: load it before the
	 * leak check starts counting */
	if (srtp_ctx_lib_init())
		return 1;
	/* NSS sets up each cipher and MAC on first use and keeps it for the
	 * process: run the reference packets once before the leak check counts. */
	test_known_answer_80(NULL);
	test_known_answer_32(NULL);
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_known_answer_80),
		UNIT_TEST(test_known_answer_32),
		UNIT_TEST(test_round_trip),
		UNIT_TEST(test_tamper),
		UNIT_TEST(test_replay),
		UNIT_TEST(test_wrong_key_and_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
