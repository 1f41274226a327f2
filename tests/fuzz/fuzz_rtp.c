/*
 * fuzz_rtp.c: libFuzzer target for the RTP and RTCP parsers and what
 * consumes their output: receiver statistics, the DTMF receiver, the jitter
 * buffer and G.711 decoding with loss concealment.
 *
 * The input is a sequence of datagrams, each prefixed by a 2-byte
 * big-endian length (a short tail is one last datagram). Each datagram is
 * copied into a buffer of exactly its size so that an overread lands on an
 * ASan redzone, then demultiplexed as RTP or RTCP (RFC 5761) the way a
 * media socket would. Parsed packets are built again and must parse to the
 * same fields. The media sources are included here because the fuzz rule
 * links only the SIP parser sources.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../media/dtmf.c"
#include "../../media/g711.c"
#include "../../media/jitter.c"
#include "../../media/rtp.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_DGRAM 2048

/* Field by field: the structs have padding. */
static bool fz_rb_equal(const struct rtcp_rb *a, const struct rtcp_rb *b)
{
	return a->ssrc == b->ssrc && a->fraction_lost == b->fraction_lost &&
	       a->cum_lost == b->cum_lost && a->ext_highest_seq == b->ext_highest_seq &&
	       a->jitter == b->jitter && a->lsr == b->lsr && a->dlsr == b->dlsr;
}

static void fz_rtcp(const uint8_t *p, size_t len)
{
	(void)rtcp_check(p, len);
	for (int strict = 0; strict < 2; strict++) {
		struct rtcp_iter it;
		struct rtcp_pkt pkt;
		rtcp_iter_init(&it, p, len, strict);
		unsigned guard = 0;
		while (rtcp_next(&it, &pkt) == 0) {
			if (++guard > len)
				abort(); /* every packet consumes at least 4 bytes */
			if (pkt.body + pkt.body_len > p + len)
				abort();
			if (pkt.type == RTCP_SDES) {
				struct rtcp_sdes_iter si;
				struct rtcp_sdes_item item;
				rtcp_sdes_iter_init(&si, &pkt);
				unsigned n = 0;
				while (rtcp_sdes_next(&si, &item) == 0) {
					if (item.data + item.len > pkt.body + pkt.body_len || ++n > len)
						abort();
				}
			}
			if (pkt.type == RTCP_BYE && pkt.reason &&
			    pkt.reason + pkt.reason_len > pkt.body + pkt.body_len)
				abort();
			if ((pkt.type == RTCP_SR || pkt.type == RTCP_RR) && pkt.count) {
				/* the blocks build back to the same values */
				uint8_t out[28 + 31 * 24];
				size_t n = 0;
				if (rtcp_build_sr(pkt.ssrc, &pkt.sr, pkt.rb, pkt.count, out, sizeof(out),
						  &n) != 0)
					abort();
				struct rtcp_iter it2;
				struct rtcp_pkt back;
				rtcp_iter_init(&it2, out, n, true);
				if (rtcp_next(&it2, &back) != 0 || back.count != pkt.count)
					abort();
				for (unsigned i = 0; i < pkt.count; i++)
					if (!fz_rb_equal(&back.rb[i], &pkt.rb[i]))
						abort();
			}
		}
	}
}

struct fz_state {
	struct rtp_stats stats;
	struct dtmf_rx dtmf;
	struct jb *jb;
	struct g711_plc plc;
	uint64_t now_ms;
};

static void fz_rtp(struct fz_state *s, const uint8_t *p, size_t len)
{
	struct rtp_hdr h;
	if (rtp_parse(p, len, &h) != 0)
		return;
	if (h.payload < p || h.payload + h.payload_len > p + len || h.hdr_len > len)
		abort();

	/* build it again and compare */
	uint8_t *out = malloc(len + 4);
	if (!out)
		return;
	size_t n = 0;
	if (rtp_build(&h, h.payload, h.payload_len, out, len + 4, &n) != 0 || n != len)
		abort();
	struct rtp_hdr b;
	if (rtp_parse(out, n, &b) != 0 || b.seq != h.seq || b.ts != h.ts || b.ssrc != h.ssrc ||
	    b.pt != h.pt || b.marker != h.marker || b.cc != h.cc || b.payload_len != h.payload_len ||
	    memcmp(b.payload, h.payload, h.payload_len) != 0)
		abort();
	free(out);

	/* arrival advances 20 ms a packet plus something from the data */
	s->now_ms += 20 + (h.ssrc & 7);
	(void)rtp_stats_update(&s->stats, h.seq, h.ts, rtp_clock_units(s->now_ms * 1000000u, 8000));
	struct rtcp_rb rb;
	rtp_stats_report(&s->stats, h.ssrc, s->now_ms * 1000000u, &rb);

	if (h.pt == 101) {
		struct dtmf_digit d[2];
		unsigned nd = 0;
		if (dtmf_rx_packet(&s->dtmf, h.ts, h.payload, h.payload_len, d, &nd) == 0 && nd > 2)
			abort();
		return;
	}
	(void)jb_put(s->jb, h.seq, h.ts, h.marker ? 320 : 0, h.payload, h.payload_len, s->now_ms);
	struct jb_frame f;
	jb_get(s->jb, &f);
	int16_t pcm[480];
	if (f.status == JB_FRAME) {
		size_t m = f.len < 480 ? f.len : 480;
		if (h.pt == 8)
			g711_alaw_decode_buf(f.payload, pcm, m);
		else
			g711_ulaw_decode_buf(f.payload, pcm, m);
		g711_plc_good(&s->plc, pcm, m);
	} else if (f.status == JB_LOST) {
		g711_plc_conceal(&s->plc, pcm, 160);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_state s;
	memset(&s, 0, sizeof(s));
	rtp_stats_init(&s.stats);
	dtmf_rx_init(&s.dtmf);
	g711_plc_init(&s.plc);
	struct jb_cfg cfg = { .clock_rate = (size & 1) ? 48000 : 8000, .capacity = 16,
			      .max_payload = FZ_MAX_DGRAM };
	if (jb_new(&s.jb, &cfg) != 0)
		abort();

	size_t off = 0;
	while (off < size) {
		size_t len;
		if (size - off >= 2) {
			len = (size_t)data[off] << 8 | data[off + 1];
			off += 2;
			if (len > size - off)
				len = size - off;
		} else {
			len = size - off;
		}
		if (len > FZ_MAX_DGRAM)
			len = FZ_MAX_DGRAM;
		uint8_t *p = malloc(len ? len : 1);
		if (!p)
			break;
		memcpy(p, data + off, len);
		off += len;
		if (rtp_is_rtcp(p, len))
			fz_rtcp(p, len);
		else
			fz_rtp(&s, p, len);
		free(p);
	}
	struct dtmf_digit d;
	(void)dtmf_rx_flush(&s.dtmf, &d);
	jb_free(s.jb);
	return 0;
}
