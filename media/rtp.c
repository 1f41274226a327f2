/*
 * rtp.c: RTP/RTCP parse and build (RFC 3550) and the receiver statistics of
 * its appendix A.
 *
 * Packets come straight from the network, so every read is checked against
 * the length first; parsers never write outside the caller's struct and never
 * allocate. The statistics follow the RFC's reference code closely so that
 * our report blocks mean what other implementations expect them to mean.
 */
#include "rtp.h"

#include <errno.h>
#include <string.h>

static uint16_t rd16(const uint8_t *p) { return (uint16_t)((unsigned)p[0] << 8 | p[1]); }

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ================================================================== RTP */

int rtp_parse(const uint8_t *buf, size_t len, struct rtp_hdr *h)
{
	if (!buf || !h)
		return EINVAL;
	memset(h, 0, sizeof(*h));
	if (len < RTP_HDR_MIN)
		return EBADMSG;
	h->version = buf[0] >> 6;
	if (h->version != RTP_VERSION)
		return EBADMSG;
	h->padding = (buf[0] & 0x20) != 0;
	h->extension = (buf[0] & 0x10) != 0;
	h->cc = buf[0] & 0x0f;
	h->marker = (buf[1] & 0x80) != 0;
	h->pt = buf[1] & 0x7f;
	h->seq = rd16(buf + 2);
	h->ts = rd32(buf + 4);
	h->ssrc = rd32(buf + 8);

	size_t off = RTP_HDR_MIN;
	if (len - off < (size_t)h->cc * 4)
		return EBADMSG;
	for (unsigned i = 0; i < h->cc; i++, off += 4)
		h->csrc[i] = rd32(buf + off);

	if (h->extension) {
		if (len - off < 4)
			return EBADMSG;
		h->ext_profile = rd16(buf + off);
		size_t words = rd16(buf + off + 2);
		off += 4;
		if (len - off < words * 4)
			return EBADMSG;
		h->ext = buf + off;
		h->ext_len = words * 4;
		off += words * 4;
	}

	size_t end = len;
	if (h->padding) {
		/* The last octet counts the padding, itself included; it may not
		 * be 0 and may not reach into the header. */
		uint8_t pad = buf[len - 1];
		if (pad == 0 || pad > len - off)
			return EBADMSG;
		h->pad_len = pad;
		end = len - pad;
	}
	h->hdr_len = off;
	h->payload = buf + off;
	h->payload_len = end - off;
	return 0;
}

int rtp_build(const struct rtp_hdr *h, const uint8_t *payload, size_t payload_len, uint8_t *buf,
	      size_t cap, size_t *out_len)
{
	if (!h || !buf || !out_len || h->cc > RTP_MAX_CSRC || (payload_len && !payload))
		return EINVAL;
	size_t ext_words = 0;
	if (h->extension) {
		if (h->ext_len % 4 || h->ext_len / 4 > 0xffff || (h->ext_len && !h->ext))
			return EINVAL;
		ext_words = h->ext_len / 4;
	}
	size_t hdr = RTP_HDR_MIN + (size_t)h->cc * 4 + (h->extension ? 4 + ext_words * 4 : 0);
	if (cap < hdr || cap - hdr < payload_len || cap - hdr - payload_len < h->pad_len)
		return ENOBUFS;

	buf[0] = (uint8_t)(RTP_VERSION << 6 | (h->pad_len ? 0x20 : 0) | (h->extension ? 0x10 : 0) |
			   h->cc);
	buf[1] = (uint8_t)((h->marker ? 0x80 : 0) | (h->pt & 0x7f));
	wr16(buf + 2, h->seq);
	wr32(buf + 4, h->ts);
	wr32(buf + 8, h->ssrc);
	size_t off = RTP_HDR_MIN;
	for (unsigned i = 0; i < h->cc; i++, off += 4)
		wr32(buf + off, h->csrc[i]);
	if (h->extension) {
		wr16(buf + off, h->ext_profile);
		wr16(buf + off + 2, (uint16_t)ext_words);
		off += 4;
		if (h->ext_len)
			memmove(buf + off, h->ext, h->ext_len);
		off += h->ext_len;
	}
	if (payload_len)
		memmove(buf + off, payload, payload_len);
	off += payload_len;
	if (h->pad_len) {
		memset(buf + off, 0, h->pad_len - 1u);
		off += h->pad_len;
		buf[off - 1] = h->pad_len;
	}
	*out_len = off;
	return 0;
}

bool rtp_is_rtcp(const uint8_t *buf, size_t len)
{
	return buf && len >= 2 && buf[1] >= 192 && buf[1] <= 223;
}

/* ================================================================= RTCP */

void rtcp_iter_init(struct rtcp_iter *it, const uint8_t *buf, size_t len, bool strict)
{
	memset(it, 0, sizeof(*it));
	it->buf = buf;
	it->len = buf ? len : 0;
	it->strict = strict;
}

static void rb_parse(const uint8_t *p, struct rtcp_rb *rb)
{
	rb->ssrc = rd32(p);
	rb->fraction_lost = p[4];
	/* 24-bit two's complement: sign-extend by hand. */
	uint32_t cl = (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
	rb->cum_lost = (cl & 0x800000) ? (int32_t)cl - 0x1000000 : (int32_t)cl;
	rb->ext_highest_seq = rd32(p + 8);
	rb->jitter = rd32(p + 12);
	rb->lsr = rd32(p + 16);
	rb->dlsr = rd32(p + 20);
}

/* Walk the chunks once to check them; the same walk serves the iterator. */
static int sdes_check(const uint8_t *p, size_t len, unsigned chunks)
{
	size_t off = 0;
	for (unsigned c = 0; c < chunks; c++) {
		if (len - off < 4)
			return EBADMSG;
		off += 4;
		for (;;) { /* at most len iterations: each one consumes >= 1 byte */
			if (off >= len)
				return EBADMSG;
			if (p[off] == RTCP_SDES_END) {
				off++;
				/* the chunk is padded with nulls to a 32-bit boundary */
				off = (off + 3) & ~(size_t)3;
				if (off > len)
					return EBADMSG;
				break;
			}
			if (len - off < 2 || len - off - 2 < p[off + 1])
				return EBADMSG;
			off += 2u + p[off + 1];
		}
	}
	return 0;
}

int rtcp_next(struct rtcp_iter *it, struct rtcp_pkt *pkt)
{
	if (!it || !pkt)
		return EINVAL;
	if (it->off >= it->len)
		return ENOENT;
	const uint8_t *p = it->buf + it->off;
	size_t avail = it->len - it->off;
	/* the arrays are only read up to count; clear the rest */
	memset(pkt, 0, offsetof(struct rtcp_pkt, rb));
	pkt->reason = NULL;
	pkt->reason_len = 0;
	memset(pkt->name, 0, sizeof(pkt->name));
	pkt->app_data = NULL;
	pkt->app_data_len = 0;
	if (avail < 4 || (p[0] >> 6) != RTP_VERSION)
		goto bad;
	size_t plen = ((size_t)rd16(p + 2) + 1) * 4;
	if (plen > avail)
		goto bad;
	pkt->type = p[1];
	pkt->count = p[0] & 0x1f;
	pkt->padding = (p[0] & 0x20) != 0;
	if (it->strict) {
		if (it->index == 0 && pkt->type != RTCP_SR && pkt->type != RTCP_RR)
			goto bad;
		if (pkt->padding && plen != avail)
			goto bad;
	}
	size_t blen = plen - 4;
	if (pkt->padding) {
		uint8_t pad = p[plen - 1];
		if (pad == 0 || pad > blen)
			goto bad;
		blen -= pad;
	}
	const uint8_t *b = p + 4;
	pkt->body = b;
	pkt->body_len = blen;

	switch (pkt->type) {
	case RTCP_SR:
	case RTCP_RR: {
		size_t fixed = pkt->type == RTCP_SR ? 24 : 4;
		if (blen < fixed || (blen - fixed) / 24 < pkt->count)
			goto bad;
		pkt->ssrc = rd32(b);
		if (pkt->type == RTCP_SR) {
			pkt->sr.ntp = (uint64_t)rd32(b + 4) << 32 | rd32(b + 8);
			pkt->sr.rtp_ts = rd32(b + 12);
			pkt->sr.pkt_count = rd32(b + 16);
			pkt->sr.octet_count = rd32(b + 20);
		}
		for (unsigned i = 0; i < pkt->count; i++)
			rb_parse(b + fixed + i * 24u, &pkt->rb[i]);
		/* anything after the blocks is a profile extension; ignored */
		break;
	}
	case RTCP_SDES:
		if (sdes_check(b, blen, pkt->count))
			goto bad;
		break;
	case RTCP_BYE: {
		if (blen / 4 < pkt->count)
			goto bad;
		for (unsigned i = 0; i < pkt->count; i++)
			pkt->ssrc_list[i] = rd32(b + i * 4u);
		size_t off = (size_t)pkt->count * 4;
		if (off < blen) {
			uint8_t rl = b[off];
			if (blen - off - 1 < rl)
				goto bad;
			pkt->reason = b + off + 1;
			pkt->reason_len = rl;
		}
		break;
	}
	case RTCP_APP:
		if (blen < 8)
			goto bad;
		pkt->ssrc = rd32(b);
		memcpy(pkt->name, b + 4, 4);
		pkt->app_data = b + 8;
		pkt->app_data_len = blen - 8;
		break;
	default:
		/* RTPFB, PSFB, XR and the rest: the body is enough for now */
		if (blen >= 4)
			pkt->ssrc = rd32(b);
		break;
	}
	it->off += plen;
	it->index++;
	return 0;
bad:
	it->off = it->len; /* a broken length makes the rest unreadable */
	return EBADMSG;
}

int rtcp_check(const uint8_t *buf, size_t len)
{
	struct rtcp_iter it;
	struct rtcp_pkt pkt;
	rtcp_iter_init(&it, buf, len, true);
	int rc;
	while ((rc = rtcp_next(&it, &pkt)) == 0)
		;
	return rc == ENOENT && it.index > 0 ? 0 : EBADMSG;
}

void rtcp_sdes_iter_init(struct rtcp_sdes_iter *it, const struct rtcp_pkt *pkt)
{
	memset(it, 0, sizeof(*it));
	if (!pkt || pkt->type != RTCP_SDES)
		return;
	it->p = pkt->body;
	it->len = pkt->body_len;
	it->chunks_left = pkt->count;
}

int rtcp_sdes_next(struct rtcp_sdes_iter *it, struct rtcp_sdes_item *item)
{
	if (!it || !item)
		return EINVAL;
	for (;;) { /* bounded: every turn consumes bytes or ends */
		if (!it->in_chunk) {
			if (it->chunks_left == 0)
				return ENOENT;
			if (it->len - it->off < 4)
				return EBADMSG;
			it->ssrc = rd32(it->p + it->off);
			it->off += 4;
			it->in_chunk = true;
			it->chunks_left--;
		}
		if (it->off >= it->len)
			return EBADMSG;
		uint8_t type = it->p[it->off];
		if (type == RTCP_SDES_END) {
			it->off = (it->off + 1 + 3) & ~(size_t)3;
			if (it->off > it->len)
				return EBADMSG;
			it->in_chunk = false;
			continue;
		}
		if (it->len - it->off < 2 || it->len - it->off - 2 < it->p[it->off + 1])
			return EBADMSG;
		item->ssrc = it->ssrc;
		item->type = type;
		item->len = it->p[it->off + 1];
		item->data = it->p + it->off + 2;
		it->off += 2u + item->len;
		return 0;
	}
}

static void rtcp_hdr(uint8_t *p, unsigned count, uint8_t type, size_t len)
{
	p[0] = (uint8_t)(RTP_VERSION << 6 | count);
	p[1] = type;
	wr16(p + 2, (uint16_t)(len / 4 - 1));
}

static void rb_write(uint8_t *p, const struct rtcp_rb *rb)
{
	wr32(p, rb->ssrc);
	p[4] = rb->fraction_lost;
	int32_t cl = rb->cum_lost;
	if (cl > 0x7fffff)
		cl = 0x7fffff;
	if (cl < -0x800000)
		cl = -0x800000;
	uint32_t u = (uint32_t)cl & 0xffffff;
	p[5] = (uint8_t)(u >> 16);
	p[6] = (uint8_t)(u >> 8);
	p[7] = (uint8_t)u;
	wr32(p + 8, rb->ext_highest_seq);
	wr32(p + 12, rb->jitter);
	wr32(p + 16, rb->lsr);
	wr32(p + 20, rb->dlsr);
}

static int build_report(uint8_t type, uint32_t ssrc, const struct rtcp_sr_info *sr,
			const struct rtcp_rb *rb, unsigned n, uint8_t *buf, size_t cap,
			size_t *out_len)
{
	if (!buf || !out_len || n > RTCP_MAX_COUNT || (n && !rb) || (type == RTCP_SR && !sr))
		return EINVAL;
	size_t fixed = type == RTCP_SR ? 28 : 8;
	size_t len = fixed + (size_t)n * 24;
	if (cap < len)
		return ENOBUFS;
	rtcp_hdr(buf, n, type, len);
	wr32(buf + 4, ssrc);
	if (type == RTCP_SR) {
		wr32(buf + 8, (uint32_t)(sr->ntp >> 32));
		wr32(buf + 12, (uint32_t)sr->ntp);
		wr32(buf + 16, sr->rtp_ts);
		wr32(buf + 20, sr->pkt_count);
		wr32(buf + 24, sr->octet_count);
	}
	for (unsigned i = 0; i < n; i++)
		rb_write(buf + fixed + i * 24u, &rb[i]);
	*out_len = len;
	return 0;
}

int rtcp_build_sr(uint32_t ssrc, const struct rtcp_sr_info *sr, const struct rtcp_rb *rb,
		  unsigned n, uint8_t *buf, size_t cap, size_t *out_len)
{
	return build_report(RTCP_SR, ssrc, sr, rb, n, buf, cap, out_len);
}

int rtcp_build_rr(uint32_t ssrc, const struct rtcp_rb *rb, unsigned n, uint8_t *buf, size_t cap,
		  size_t *out_len)
{
	return build_report(RTCP_RR, ssrc, NULL, rb, n, buf, cap, out_len);
}

int rtcp_build_sdes_cname(uint32_t ssrc, const char *cname, uint8_t *buf, size_t cap,
			  size_t *out_len)
{
	if (!cname || !buf || !out_len)
		return EINVAL;
	size_t cl = strlen(cname);
	if (cl > 255)
		return EINVAL;
	/* header, SSRC, item type and length, text, at least one END octet,
	 * padded to 32 bits */
	size_t len = (4 + 4 + 2 + cl + 1 + 3) & ~(size_t)3;
	if (cap < len)
		return ENOBUFS;
	rtcp_hdr(buf, 1, RTCP_SDES, len);
	wr32(buf + 4, ssrc);
	buf[8] = RTCP_SDES_CNAME;
	buf[9] = (uint8_t)cl;
	memcpy(buf + 10, cname, cl);
	memset(buf + 10 + cl, 0, len - 10 - cl);
	*out_len = len;
	return 0;
}

int rtcp_build_bye(const uint32_t *ssrc, unsigned n, const char *reason, uint8_t *buf, size_t cap,
		   size_t *out_len)
{
	if (!buf || !out_len || n > RTCP_MAX_COUNT || (n && !ssrc))
		return EINVAL;
	size_t rl = reason ? strlen(reason) : 0;
	if (rl > 255)
		return EINVAL;
	size_t len = 4 + (size_t)n * 4 + (reason ? (1 + rl + 3) & ~(size_t)3 : 0);
	if (cap < len)
		return ENOBUFS;
	rtcp_hdr(buf, n, RTCP_BYE, len);
	for (unsigned i = 0; i < n; i++)
		wr32(buf + 4 + i * 4u, ssrc[i]);
	if (reason) {
		size_t off = 4 + (size_t)n * 4;
		buf[off] = (uint8_t)rl;
		memcpy(buf + off + 1, reason, rl);
		memset(buf + off + 1 + rl, 0, len - off - 1 - rl);
	}
	*out_len = len;
	return 0;
}

/* ================================================== receiver statistics */

#define RTP_SEQ_MOD (1u << 16)

void rtp_stats_init(struct rtp_stats *s)
{
	memset(s, 0, sizeof(*s));
}

/* A.1 init_seq */
static void stats_init_seq(struct rtp_stats *s, uint16_t seq)
{
	s->base_seq = seq;
	s->max_seq = seq;
	s->bad_seq = RTP_SEQ_MOD + 1; /* so seq == bad_seq is false */
	s->cycles = 0;
	s->received = 0;
	s->received_prior = 0;
	s->expected_prior = 0;
	s->have_transit = false;
	s->jitter_q4 = 0;
}

/* A.1 update_seq: 1 when the packet counts. */
static int stats_update_seq(struct rtp_stats *s, uint16_t seq)
{
	uint16_t udelta = (uint16_t)(seq - s->max_seq);

	if (s->probation) {
		/* packet is in sequence */
		if (seq == (uint16_t)(s->max_seq + 1)) {
			s->probation--;
			s->max_seq = seq;
			if (s->probation == 0) {
				stats_init_seq(s, seq);
				s->received++;
				return 1;
			}
		} else {
			s->probation = RTP_MIN_SEQUENTIAL - 1;
			s->max_seq = seq;
		}
		return 0;
	}
	if (udelta < RTP_MAX_DROPOUT) {
		/* in order, with permissible gap */
		if (seq < s->max_seq)
			s->cycles += RTP_SEQ_MOD;
		s->max_seq = seq;
	} else if (udelta <= RTP_SEQ_MOD - RTP_MAX_MISORDER) {
		/* the sequence number made a very large jump */
		if (seq == s->bad_seq) {
			/* Two sequential packets: assume the other side restarted
			 * without telling us, so just re-sync. */
			stats_init_seq(s, seq);
		} else {
			s->bad_seq = (seq + 1u) & (RTP_SEQ_MOD - 1);
			return 0;
		}
	} else {
		/* duplicate or reordered packet */
	}
	s->received++;
	return 1;
}

int rtp_stats_update(struct rtp_stats *s, uint16_t seq, uint32_t ts, uint32_t arrival)
{
	if (!s)
		return EINVAL;
	if (!s->started) {
		/* A.1: a new source starts in probation at the first packet */
		stats_init_seq(s, seq);
		s->max_seq = (uint16_t)(seq - 1);
		s->probation = RTP_MIN_SEQUENTIAL;
		s->started = true;
	}
	if (!stats_update_seq(s, seq))
		return EAGAIN;

	/* A.8: D(i-1,i) from the relative transit times; only differences
	 * matter, so unsigned wrap-around arithmetic is fine. */
	uint32_t transit = arrival - ts;
	if (s->have_transit) {
		int32_t d = (int32_t)(transit - s->transit);
		uint32_t ad = d < 0 ? (uint32_t)-(int64_t)d : (uint32_t)d;
		/* J += (|D| - J) / 16 in Q4: J16 += |D| - J16/16, rounded */
		s->jitter_q4 += ad - ((s->jitter_q4 + 8) >> 4);
	}
	s->transit = transit;
	s->have_transit = true;
	return 0;
}

uint32_t rtp_clock_units(uint64_t ns, uint32_t clock_rate)
{
	uint64_t sec = ns / 1000000000u, rem = ns % 1000000000u;
	return (uint32_t)(sec * clock_rate + rem * clock_rate / 1000000000u);
}

uint32_t rtp_stats_ext_max(const struct rtp_stats *s) { return s->cycles + s->max_seq; }

uint32_t rtp_stats_expected(const struct rtp_stats *s)
{
	if (!s->started || s->probation)
		return 0;
	return rtp_stats_ext_max(s) - s->base_seq + 1;
}

int64_t rtp_stats_lost(const struct rtp_stats *s)
{
	return (int64_t)rtp_stats_expected(s) - (int64_t)s->received;
}

uint32_t rtp_stats_jitter(const struct rtp_stats *s) { return s->jitter_q4 >> 4; }

void rtp_stats_note_sr(struct rtp_stats *s, uint64_t ntp, uint64_t now_ns)
{
	s->last_sr = (uint32_t)(ntp >> 16);
	s->last_sr_ns = now_ns;
	s->have_sr = true;
}

void rtp_stats_report(struct rtp_stats *s, uint32_t ssrc, uint64_t now_ns, struct rtcp_rb *rb)
{
	memset(rb, 0, sizeof(*rb));
	rb->ssrc = ssrc;
	uint32_t expected = rtp_stats_expected(s);
	int64_t lost = rtp_stats_lost(s);
	if (lost > 0x7fffff)
		lost = 0x7fffff;
	if (lost < -0x800000)
		lost = -0x800000;
	rb->cum_lost = (int32_t)lost;
	/* A.3: fraction over the interval since the previous report */
	uint32_t expected_interval = expected - s->expected_prior;
	uint32_t received_interval = s->received - s->received_prior;
	s->expected_prior = expected;
	s->received_prior = s->received;
	int64_t lost_interval = (int64_t)expected_interval - (int64_t)received_interval;
	if (expected_interval != 0 && lost_interval > 0) {
		uint64_t f = ((uint64_t)lost_interval << 8) / expected_interval;
		rb->fraction_lost = f > 255 ? 255 : (uint8_t)f; /* all lost is 256 */
	}
	rb->ext_highest_seq = rtp_stats_ext_max(s);
	rb->jitter = rtp_stats_jitter(s);
	if (s->have_sr) {
		rb->lsr = s->last_sr;
		uint64_t d = now_ns > s->last_sr_ns ? now_ns - s->last_sr_ns : 0;
		/* 1/65536 s units, saturating */
		uint64_t units = d / 1000000000u * 65536u + (d % 1000000000u) * 65536u / 1000000000u;
		rb->dlsr = units > UINT32_MAX ? UINT32_MAX : (uint32_t)units;
	}
}
