/*
 * t_rtp.c: RTP header parse/build on hand-made packets (every malformed
 * shape rejected), RTCP compound parse and the SR/RR/SDES/BYE builders, and
 * the RFC 3550 appendix A receiver statistics against hand-computed
 * expected/lost/jitter on sequences with loss, reordering, duplicates,
 * wrap-around at 65535 and a restarted sender.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "rtp.h"
#include "unit.h"

/* V=2, no P/X/CC, M=1, PT=0, seq 0x1234, ts 0x11223344, SSRC 0xdeadbeef, 4 bytes payload */
static const uint8_t pkt_basic[] = { 0x80, 0x80, 0x12, 0x34, 0x11, 0x22, 0x33, 0x44,
				     0xde, 0xad, 0xbe, 0xef, 'a',  'b',  'c',  'd' };

static void test_rtp_parse_basic(void **state)
{
	(void)state;
	struct rtp_hdr h;
	assert_int_equal(rtp_parse(pkt_basic, sizeof(pkt_basic), &h), 0);
	assert_int_equal(h.version, 2);
	assert_false(h.padding);
	assert_false(h.extension);
	assert_int_equal(h.cc, 0);
	assert_true(h.marker);
	assert_int_equal(h.pt, 0);
	assert_int_equal(h.seq, 0x1234);
	assert_int_equal(h.ts, 0x11223344u);
	assert_int_equal(h.ssrc, 0xdeadbeefu);
	assert_int_equal(h.hdr_len, 12);
	assert_ptr_equal(h.payload, pkt_basic + 12);
	assert_int_equal(h.payload_len, 4);
	assert_false(rtp_is_rtcp(pkt_basic, sizeof(pkt_basic)));

	/* header only, empty payload, is fine */
	assert_int_equal(rtp_parse(pkt_basic, 12, &h), 0);
	assert_int_equal(h.payload_len, 0);
}

static void test_rtp_parse_csrc_ext_pad(void **state)
{
	(void)state;
	/* V=2 P=1 X=1 CC=2, PT 8, two CSRCs, extension profile 0xBEDE with one
	 * word, 3 bytes payload, 3 bytes padding (count 3). */
	const uint8_t p[] = { 0xb2, 0x08, 0x00, 0x01, 0, 0, 0, 160, 0, 0, 0, 7,
			      0, 0, 0, 1, 0, 0, 0, 2,                   /* CSRC */
			      0xbe, 0xde, 0x00, 0x01, 0x10, 0xaa, 0, 0, /* ext */
			      'x', 'y', 'z', 0, 0, 3 };
	struct rtp_hdr h;
	assert_int_equal(rtp_parse(p, sizeof(p), &h), 0);
	assert_true(h.padding);
	assert_true(h.extension);
	assert_int_equal(h.cc, 2);
	assert_false(h.marker);
	assert_int_equal(h.pt, 8);
	assert_int_equal(h.csrc[0], 1);
	assert_int_equal(h.csrc[1], 2);
	assert_int_equal(h.ext_profile, 0xbede);
	assert_int_equal(h.ext_len, 4);
	assert_ptr_equal(h.ext, p + 24);
	assert_int_equal(h.hdr_len, 28);
	assert_int_equal(h.payload_len, 3);
	assert_memory_equal(h.payload, "xyz", 3);
	assert_int_equal(h.pad_len, 3);

	/* build it back byte for byte */
	uint8_t out[64];
	size_t n = 0;
	assert_int_equal(rtp_build(&h, h.payload, h.payload_len, out, sizeof(out), &n), 0);
	assert_int_equal(n, sizeof(p));
	assert_memory_equal(out, p, sizeof(p));
	/* and one byte short of room */
	assert_int_equal(rtp_build(&h, h.payload, h.payload_len, out, sizeof(p) - 1, &n), ENOBUFS);
}

static void test_rtp_parse_malformed(void **state)
{
	(void)state;
	struct rtp_hdr h;
	uint8_t p[64];

	/* shorter than the fixed header, at every length */
	for (size_t l = 0; l < 12; l++)
		assert_int_equal(rtp_parse(pkt_basic, l, &h), EBADMSG);

	/* every version but 2 */
	for (unsigned v = 0; v < 4; v++) {
		memcpy(p, pkt_basic, sizeof(pkt_basic));
		p[0] = (uint8_t)((p[0] & 0x3f) | v << 6);
		assert_int_equal(rtp_parse(p, sizeof(pkt_basic), &h), v == 2 ? 0 : EBADMSG);
	}

	/* CSRC count beyond the length: CC=2 needs 8 bytes, 4 are there */
	memcpy(p, pkt_basic, sizeof(pkt_basic));
	p[0] = 0x82;
	assert_int_equal(rtp_parse(p, 16, &h), EBADMSG);
	assert_int_equal(rtp_parse(p, 20, &h), 0); /* exactly enough */
	/* CC=15 on a 16-byte packet */
	p[0] = 0x8f;
	assert_int_equal(rtp_parse(p, 16, &h), EBADMSG);

	/* extension header cut off, then extension data beyond the end */
	memset(p, 0, sizeof(p));
	memcpy(p, pkt_basic, 12);
	p[0] = 0x90;
	assert_int_equal(rtp_parse(p, 14, &h), EBADMSG);
	p[14] = 0x00;
	p[15] = 0x02; /* two words = 8 bytes of data */
	assert_int_equal(rtp_parse(p, 16 + 7, &h), EBADMSG);
	assert_int_equal(rtp_parse(p, 16 + 8, &h), 0);
	assert_int_equal(h.payload_len, 0);
	p[15] = 0xff; /* 0xff words, far past the end */
	assert_int_equal(rtp_parse(p, 40, &h), EBADMSG);

	/* padding longer than what follows the header, and padding 0 */
	memcpy(p, pkt_basic, sizeof(pkt_basic));
	p[0] = 0xa0;
	p[15] = 5; /* 4 bytes after the header */
	assert_int_equal(rtp_parse(p, 16, &h), EBADMSG);
	p[15] = 0;
	assert_int_equal(rtp_parse(p, 16, &h), EBADMSG);
	p[15] = 4; /* all four bytes are padding: empty payload */
	assert_int_equal(rtp_parse(p, 16, &h), 0);
	assert_int_equal(h.payload_len, 0);
	/* padding with no byte after the header at all */
	p[0] = 0xa0;
	assert_int_equal(rtp_parse(p, 12, &h), EBADMSG);

	assert_int_equal(rtp_parse(NULL, 12, &h), EINVAL);
	assert_int_equal(rtp_parse(p, 12, NULL), EINVAL);
}

static void test_rtp_build(void **state)
{
	(void)state;
	struct rtp_hdr h = { .marker = true, .pt = 0, .seq = 0x1234, .ts = 0x11223344u,
			     .ssrc = 0xdeadbeefu };
	uint8_t out[32];
	size_t n = 0;
	assert_int_equal(rtp_build(&h, (const uint8_t *)"abcd", 4, out, sizeof(out), &n), 0);
	assert_int_equal(n, sizeof(pkt_basic));
	assert_memory_equal(out, pkt_basic, n);
	assert_int_equal(rtp_build(&h, (const uint8_t *)"abcd", 4, out, 15, &n), ENOBUFS);
	h.cc = 16;
	assert_int_equal(rtp_build(&h, NULL, 0, out, sizeof(out), &n), EINVAL);
	h.cc = 0;
	h.extension = true;
	h.ext_len = 3; /* not whole words */
	assert_int_equal(rtp_build(&h, NULL, 0, out, sizeof(out), &n), EINVAL);
	/* payload in place after the header (memmove safe) */
	h.extension = false;
	memcpy(out + 12, "wxyz", 4);
	assert_int_equal(rtp_build(&h, out + 12, 4, out, sizeof(out), &n), 0);
	assert_memory_equal(out + 12, "wxyz", 4);
}

static void test_rtcp_compound(void **state)
{
	(void)state;
	uint8_t buf[512];
	size_t off = 0, n = 0;
	struct rtcp_sr_info sr = { .ntp = 0x0102030405060708ull, .rtp_ts = 16000,
				   .pkt_count = 100, .octet_count = 16000 };
	struct rtcp_rb rb[2] = {
		{ .ssrc = 0xaaaa, .fraction_lost = 28, .cum_lost = 5, .ext_highest_seq = 0x1ffff,
		  .jitter = 33, .lsr = 0x12345678, .dlsr = 65536 },
		{ .ssrc = 0xbbbb, .fraction_lost = 0, .cum_lost = -3, .ext_highest_seq = 7,
		  .jitter = 0, .lsr = 0, .dlsr = 0 },
	};
	assert_int_equal(rtcp_build_sr(0x1111, &sr, rb, 2, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 28 + 48);
	off += n;
	assert_int_equal(rtcp_build_sdes_cname(0x1111, "pbx@example", buf + off, sizeof(buf) - off, &n), 0);
	assert_int_equal(n % 4, 0);
	off += n;
	/* APP by hand: subtype 3, name "TEST", 4 data bytes */
	const uint8_t app[] = { 0x83, 204, 0, 3, 0, 0, 0x11, 0x11, 'T', 'E', 'S', 'T', 1, 2, 3, 4 };
	memcpy(buf + off, app, sizeof(app));
	off += sizeof(app);
	const uint32_t bye[] = { 0x1111, 0x2222 };
	assert_int_equal(rtcp_build_bye(bye, 2, "done", buf + off, sizeof(buf) - off, &n), 0);
	assert_int_equal(n, 4 + 8 + 8);
	off += n;
	assert_true(rtp_is_rtcp(buf, off));
	assert_int_equal(rtcp_check(buf, off), 0);

	struct rtcp_iter it;
	struct rtcp_pkt pkt;
	rtcp_iter_init(&it, buf, off, true);

	assert_int_equal(rtcp_next(&it, &pkt), 0);
	assert_int_equal(pkt.type, RTCP_SR);
	assert_int_equal(pkt.count, 2);
	assert_int_equal(pkt.ssrc, 0x1111);
	assert_true(pkt.sr.ntp == sr.ntp);
	assert_int_equal(pkt.sr.rtp_ts, 16000);
	assert_int_equal(pkt.sr.pkt_count, 100);
	assert_int_equal(pkt.sr.octet_count, 16000);
	assert_int_equal(pkt.rb[0].ssrc, 0xaaaa);
	assert_int_equal(pkt.rb[0].fraction_lost, 28);
	assert_int_equal(pkt.rb[0].cum_lost, 5);
	assert_int_equal(pkt.rb[0].ext_highest_seq, 0x1ffff);
	assert_int_equal(pkt.rb[0].jitter, 33);
	assert_int_equal(pkt.rb[0].lsr, 0x12345678);
	assert_int_equal(pkt.rb[0].dlsr, 65536);
	assert_int_equal(pkt.rb[1].cum_lost, -3); /* 24-bit sign */

	assert_int_equal(rtcp_next(&it, &pkt), 0);
	assert_int_equal(pkt.type, RTCP_SDES);
	assert_int_equal(pkt.count, 1);
	struct rtcp_sdes_iter si;
	struct rtcp_sdes_item item;
	rtcp_sdes_iter_init(&si, &pkt);
	assert_int_equal(rtcp_sdes_next(&si, &item), 0);
	assert_int_equal(item.ssrc, 0x1111);
	assert_int_equal(item.type, RTCP_SDES_CNAME);
	assert_int_equal(item.len, 11);
	assert_memory_equal(item.data, "pbx@example", 11);
	assert_int_equal(rtcp_sdes_next(&si, &item), ENOENT);

	assert_int_equal(rtcp_next(&it, &pkt), 0);
	assert_int_equal(pkt.type, RTCP_APP);
	assert_int_equal(pkt.count, 3);
	assert_int_equal(pkt.ssrc, 0x1111);
	assert_memory_equal(pkt.name, "TEST", 4);
	assert_int_equal(pkt.app_data_len, 4);
	assert_int_equal(pkt.app_data[3], 4);

	assert_int_equal(rtcp_next(&it, &pkt), 0);
	assert_int_equal(pkt.type, RTCP_BYE);
	assert_int_equal(pkt.count, 2);
	assert_int_equal(pkt.ssrc_list[0], 0x1111);
	assert_int_equal(pkt.ssrc_list[1], 0x2222);
	assert_int_equal(pkt.reason_len, 4);
	assert_memory_equal(pkt.reason, "done", 4);

	assert_int_equal(rtcp_next(&it, &pkt), ENOENT);
	assert_int_equal(rtcp_next(&it, &pkt), ENOENT);
}

static void test_rtcp_rr_sdes_multi(void **state)
{
	(void)state;
	/* RR with no blocks, then SDES with two chunks: the first has CNAME
	 * and NAME, the second only CNAME; each ends with END and nulls up
	 * to a 32-bit boundary */
	const uint8_t p[] = { 0x80, 201, 0, 1, 0, 0, 0, 9,
			      0x82, 202, 0, 6,
			      0, 0, 0, 9, 1, 1, 'a', 2, 2, 'b', 'c', 0, /* chunk 1: 12 bytes */
			      0, 0, 0, 8, 1, 3, 'x', 'y', 'z', 0, 0, 0 /* chunk 2 */ };
	assert_int_equal(rtcp_check(p, sizeof(p)), 0);
	struct rtcp_iter it;
	struct rtcp_pkt pkt;
	rtcp_iter_init(&it, p, sizeof(p), true);
	assert_int_equal(rtcp_next(&it, &pkt), 0);
	assert_int_equal(pkt.type, RTCP_RR);
	assert_int_equal(pkt.count, 0);
	assert_int_equal(pkt.ssrc, 9);
	assert_int_equal(rtcp_next(&it, &pkt), 0);
	assert_int_equal(pkt.type, RTCP_SDES);
	struct rtcp_sdes_iter si;
	struct rtcp_sdes_item item;
	rtcp_sdes_iter_init(&si, &pkt);
	assert_int_equal(rtcp_sdes_next(&si, &item), 0);
	assert_int_equal(item.ssrc, 9);
	assert_int_equal(item.type, RTCP_SDES_CNAME);
	assert_int_equal(item.data[0], 'a');
	assert_int_equal(rtcp_sdes_next(&si, &item), 0);
	assert_int_equal(item.type, RTCP_SDES_NAME);
	assert_int_equal(item.len, 2);
	assert_int_equal(rtcp_sdes_next(&si, &item), 0);
	assert_int_equal(item.ssrc, 8);
	assert_memory_equal(item.data, "xyz", 3);
	assert_int_equal(rtcp_sdes_next(&si, &item), ENOENT);
	assert_int_equal(rtcp_next(&it, &pkt), ENOENT);
}

static void test_rtcp_malformed(void **state)
{
	(void)state;
	struct rtcp_iter it;
	struct rtcp_pkt pkt;
	uint8_t b[128];
	size_t n;

	/* length field past the buffer */
	assert_int_equal(rtcp_build_rr(5, NULL, 0, b, sizeof(b), &n), 0);
	assert_int_equal(rtcp_check(b, n - 1), EBADMSG);
	b[3] = 2;
	assert_int_equal(rtcp_check(b, n), EBADMSG);
	b[3] = 1;
	assert_int_equal(rtcp_check(b, n), 0);
	/* trailing bytes that are not a packet */
	assert_int_equal(rtcp_check(b, n + 2), EBADMSG);
	/* empty compound */
	assert_int_equal(rtcp_check(b, 0), EBADMSG);
	/* version 1 */
	b[0] = 0x40;
	assert_int_equal(rtcp_check(b, n), EBADMSG);
	b[0] = 0x80;

	/* RR claims one report block it does not have */
	b[0] = 0x81;
	assert_int_equal(rtcp_check(b, n), EBADMSG);
	b[0] = 0x80;

	/* strict: first must be SR or RR; lenient accepts a lone SDES */
	assert_int_equal(rtcp_build_sdes_cname(5, "abc", b, sizeof(b), &n), 0);
	assert_int_equal(rtcp_check(b, n), EBADMSG);
	rtcp_iter_init(&it, b, n, false);
	assert_int_equal(rtcp_next(&it, &pkt), 0);
	assert_int_equal(pkt.type, RTCP_SDES);

	/* SDES item length past the packet */
	b[9] = 40;
	rtcp_iter_init(&it, b, n, false);
	assert_int_equal(rtcp_next(&it, &pkt), EBADMSG);
	/* SDES chunk without END before the end */
	const uint8_t noend[] = { 0x81, 202, 0, 2, 0, 0, 0, 5, 1, 2, 'a', 'b' };
	rtcp_iter_init(&it, noend, sizeof(noend), false);
	assert_int_equal(rtcp_next(&it, &pkt), EBADMSG);

	/* BYE reason longer than the packet */
	const uint8_t bye[] = { 0x81, 203, 0, 2, 0, 0, 0, 5, 9, 'a', 'b', 'c' };
	rtcp_iter_init(&it, bye, sizeof(bye), false);
	assert_int_equal(rtcp_next(&it, &pkt), EBADMSG);
	/* BYE counting more SSRCs than it holds */
	const uint8_t bye2[] = { 0x83, 203, 0, 2, 0, 0, 0, 5, 0, 0, 0, 6 };
	rtcp_iter_init(&it, bye2, sizeof(bye2), false);
	assert_int_equal(rtcp_next(&it, &pkt), EBADMSG);

	/* APP shorter than SSRC + name */
	const uint8_t app[] = { 0x80, 204, 0, 1, 0, 0, 0, 5 };
	rtcp_iter_init(&it, app, sizeof(app), false);
	assert_int_equal(rtcp_next(&it, &pkt), EBADMSG);

	/* padding bit on a packet that is not the last (strict) */
	uint8_t two[16];
	assert_int_equal(rtcp_build_rr(5, NULL, 0, two, sizeof(two), &n), 0);
	assert_int_equal(rtcp_build_rr(6, NULL, 0, two + 8, sizeof(two) - 8, &n), 0);
	assert_int_equal(rtcp_check(two, 16), 0);
	two[0] |= 0x20;
	two[7] = 4; /* would be a valid pad count of the whole body */
	assert_int_equal(rtcp_check(two, 16), EBADMSG);
	/* padding on the last one: count 0, and larger than the body */
	two[0] &= (uint8_t)~0x20;
	two[8] |= 0x20;
	two[15] = 0;
	assert_int_equal(rtcp_check(two, 16), EBADMSG);
	two[15] = 5;
	assert_int_equal(rtcp_check(two, 16), EBADMSG);

	/* builders: too many blocks, too little room */
	struct rtcp_rb rb[32];
	memset(rb, 0, sizeof(rb));
	assert_int_equal(rtcp_build_rr(5, rb, 32, b, sizeof(b), &n), EINVAL);
	assert_int_equal(rtcp_build_rr(5, rb, 1, b, 31, &n), ENOBUFS);
}

/* ------------------------------------------------------------ statistics */

/* Feed seq with ts = seq * 160 arriving exactly on time. */
static int feed(struct rtp_stats *s, uint16_t seq)
{
	uint32_t ts = (uint32_t)seq * 160u;
	return rtp_stats_update(s, seq, ts, ts + 1000);
}

static void test_stats_loss_reorder_dup(void **state)
{
	(void)state;
	struct rtp_stats s;
	rtp_stats_init(&s);
	/* probation: the first packet is not counted (MIN_SEQUENTIAL 2) */
	assert_int_equal(feed(&s, 100), EAGAIN);
	assert_int_equal(rtp_stats_expected(&s), 0);
	assert_int_equal(feed(&s, 101), 0);
	assert_int_equal(feed(&s, 102), 0);
	/* 103 lost, 104/105 swapped */
	assert_int_equal(feed(&s, 105), 0);
	assert_int_equal(feed(&s, 104), 0);
	assert_int_equal(feed(&s, 106), 0);
	assert_int_equal(feed(&s, 107), 0);
	assert_int_equal(feed(&s, 108), 0);
	/* counted 101..108 without 103: 7 received of 8 expected */
	assert_int_equal(s.received, 7);
	assert_int_equal(rtp_stats_expected(&s), 8);
	assert_int_equal(rtp_stats_lost(&s), 1);
	assert_int_equal(rtp_stats_ext_max(&s), 108);
	assert_int_equal(rtp_stats_jitter(&s), 0); /* all on time */

	struct rtcp_rb rb;
	rtp_stats_report(&s, 77, 0, &rb);
	assert_int_equal(rb.ssrc, 77);
	assert_int_equal(rb.cum_lost, 1);
	assert_int_equal(rb.fraction_lost, 256 / 8); /* 1 of 8 */
	assert_int_equal(rb.ext_highest_seq, 108);
	assert_int_equal(rb.lsr, 0);
	assert_int_equal(rb.dlsr, 0);

	/* a duplicate counts as received (A.1), so cumulative lost drops */
	assert_int_equal(feed(&s, 107), 0);
	assert_int_equal(rtp_stats_lost(&s), 0);
	/* a second duplicate: lost goes negative, the interval reports 0 */
	assert_int_equal(feed(&s, 107), 0);
	assert_int_equal(rtp_stats_lost(&s), -1);
	rtp_stats_report(&s, 77, 0, &rb);
	assert_int_equal(rb.cum_lost, -1);
	assert_int_equal(rb.fraction_lost, 0);

	/* next interval: 109, 111, 112 (110 lost) -> 1 of 4 expected */
	assert_int_equal(feed(&s, 109), 0);
	assert_int_equal(feed(&s, 111), 0);
	assert_int_equal(feed(&s, 112), 0);
	rtp_stats_report(&s, 77, 0, &rb);
	assert_int_equal(rb.fraction_lost, 256 / 4);
	assert_int_equal(rb.cum_lost, 0);
}

static void test_stats_wrap(void **state)
{
	(void)state;
	struct rtp_stats s;
	rtp_stats_init(&s);
	assert_int_equal(feed(&s, 65533), EAGAIN);
	assert_int_equal(feed(&s, 65534), 0);
	assert_int_equal(feed(&s, 65535), 0);
	assert_int_equal(feed(&s, 0), 0);
	/* 1 lost */
	assert_int_equal(feed(&s, 2), 0);
	assert_int_equal(feed(&s, 3), 0);
	assert_int_equal(s.cycles, 65536);
	assert_int_equal(rtp_stats_ext_max(&s), 65536 + 3);
	assert_int_equal(rtp_stats_expected(&s), 6);  /* 65534..65539 */
	assert_int_equal(s.received, 5);
	assert_int_equal(rtp_stats_lost(&s), 1);
	/* the lost 1 arrives late: reordered across the wrap */
	assert_int_equal(feed(&s, 1), 0);
	assert_int_equal(s.cycles, 65536);
	assert_int_equal(rtp_stats_lost(&s), 0);
	struct rtcp_rb rb;
	rtp_stats_report(&s, 1, 0, &rb);
	assert_int_equal(rb.ext_highest_seq, 0x10003);

	/* a whole second cycle in order */
	for (unsigned i = 4; i <= 65535 + 10; i++)
		assert_int_equal(feed(&s, (uint16_t)i), 0);
	assert_int_equal(s.cycles, 2u * 65536);
	assert_int_equal(rtp_stats_ext_max(&s), 2u * 65536 + 9); /* last seq was 65545 & 0xffff */
	assert_int_equal(rtp_stats_lost(&s), 0);
}

static void test_stats_probation_and_jump(void **state)
{
	(void)state;
	struct rtp_stats s;
	rtp_stats_init(&s);
	/* out-of-order during probation restarts it */
	assert_int_equal(feed(&s, 10), EAGAIN);
	assert_int_equal(feed(&s, 20), EAGAIN);
	assert_int_equal(feed(&s, 21), 0);
	assert_int_equal(s.base_seq, 21);
	assert_int_equal(feed(&s, 22), 0);
	/* a jump beyond MAX_DROPOUT is not counted until confirmed */
	assert_int_equal(feed(&s, 22 + 5000), EAGAIN);
	assert_int_equal(rtp_stats_ext_max(&s), 22);
	assert_int_equal(feed(&s, 22 + 5001), 0); /* the sender restarted: re-sync */
	assert_int_equal(s.base_seq, 22 + 5001);
	assert_int_equal(s.received, 1);
	assert_int_equal(rtp_stats_lost(&s), 0);
	/* a jump below MAX_DROPOUT is plain loss */
	assert_int_equal(feed(&s, 22 + 5001 + 2999), 0);
	assert_int_equal(rtp_stats_lost(&s), 2998);
	/* very old packet (beyond MAX_MISORDER back) is not counted */
	assert_int_equal(feed(&s, 22 + 5001 + 2999 - 200), EAGAIN);
	assert_int_equal(rtp_stats_lost(&s), 2998);
	/* cumulative lost clamps to 24 bits in the report */
	s.received = 0;
	s.cycles = 0x7fff0000u;
	struct rtcp_rb rb;
	rtp_stats_report(&s, 1, 0, &rb);
	assert_int_equal(rb.cum_lost, 0x7fffff);
	assert_int_equal(rb.fraction_lost, 255);
}

static void test_stats_jitter(void **state)
{
	(void)state;
	struct rtp_stats s;
	rtp_stats_init(&s);
	/* 8 kHz, 20 ms packets; every other packet arrives 4 ms (32 units)
	 * late, so |D| is 32 on every step after the first counted packet */
	double ref = 0;
	uint32_t base_arrival = 0xfffff000u; /* arrival clock wraps too */
	for (unsigned i = 0; i < 400; i++) {
		uint16_t seq = (uint16_t)(60000 + i);
		uint32_t ts = 0xffff0000u + i * 160u; /* wraps at i ~ 410 */
		uint32_t arrival = base_arrival + i * 160u + (i % 2 ? 32u : 0u);
		int rc = rtp_stats_update(&s, seq, ts, arrival);
		assert_int_equal(rc, i == 0 ? EAGAIN : 0);
		if (i >= 2)
			ref += (32.0 - ref) / 16.0;
		if (i == 2)
			assert_int_equal(rtp_stats_jitter(&s), 2); /* 32/16 */
		if (i == 3)
			assert_int_equal(rtp_stats_jitter(&s), 3); /* 3.875 */
		assert_true(fabs((double)s.jitter_q4 / 16.0 - ref) <= 1.0);
	}
	assert_in_range(rtp_stats_jitter(&s), 31, 32);

	/* DLSR: SR noted at 1 s, report at 1.5 s is 32768/65536 s */
	rtp_stats_note_sr(&s, 0x1122334455667788ull, 1000000000ull);
	struct rtcp_rb rb;
	rtp_stats_report(&s, 1, 1500000000ull, &rb);
	assert_int_equal(rb.lsr, 0x33445566u);
	assert_int_equal(rb.dlsr, 32768);
	assert_in_range(rb.jitter, 31, 32);

	assert_int_equal(rtp_clock_units(1000000000ull, 8000), 8000);
	assert_int_equal(rtp_clock_units(20000000ull, 48000), 960);
	/* large clock values do not overflow the intermediate product */
	assert_int_equal(rtp_clock_units(1000000000ull * 1000000000ull, 48000),
			 (uint32_t)(48000ull * 1000000000ull));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_rtp_parse_basic),
		UNIT_TEST(test_rtp_parse_csrc_ext_pad),
		UNIT_TEST(test_rtp_parse_malformed),
		UNIT_TEST(test_rtp_build),
		UNIT_TEST(test_rtcp_compound),
		UNIT_TEST(test_rtcp_rr_sdes_multi),
		UNIT_TEST(test_rtcp_malformed),
		UNIT_TEST(test_stats_loss_reorder_dup),
		UNIT_TEST(test_stats_wrap),
		UNIT_TEST(test_stats_probation_and_jump),
		UNIT_TEST(test_stats_jitter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
