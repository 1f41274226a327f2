/*
 * fuzz_transcode.c: libFuzzer target for one direction of a transcoded
 * bridge: arbitrary packets through xcode_put and xcode_tick, for every
 * pair of PCMU, PCMA and Opus, any ptimes, with and without RFC 4733 on
 * either side.
 *
 * Input: two bytes of set-up, then records. Set-up byte 0: bits 0-1 input
 * codec, 2-3 output codec (PCMU, PCMA, Opus, Opus), bit 4 input
 * telephone-event, bit 5 output telephone-event, bits 6-7 output ptime
 * (10, 20, 40, 60 ms); byte 1: bits 0-2 input ptime (10..80 ms), bit 3 the
 * input's telephone-event clock (8000 or 48000), bit 4 the output's. A
 * record: a control byte (bits 0-1: the payload type is the input's audio,
 * its telephone-event, the next byte, or the audio again; bit 2: tick
 * after it; bits 3-7: milliseconds to its arrival), a sequence step (int8),
 * a timestamp step (int16, big-endian), a payload length (uint16,
 * big-endian; what is left if shorter) and the payload, copied into a
 * buffer of exactly its size so that an overread lands on a redzone.
 *
 * Checked on every tick: the packet count is within the room given, audio
 * packets carry the output payload type, a length within bounds and
 * timestamps that step by one packet, events are 4 bytes with the output's
 * telephone-event type, and a reported digit is a DTMF character. The
 * media sources are included here because the fuzz rule links only the SIP
 * parser sources (the libraries come from configure: opus, speexdsp).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../media/codec.c"
#include "../../media/dtmf.c"
#include "../../media/g711.c"
#include "../../media/jitter.c"
#include "../../media/resample.c"
#include "../../media/transcode.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_TICKS 300 /* Opus encodes cost tens of microseconds each */

static const enum sdp_codec fz_codecs[4] = { SDP_CODEC_PCMU, SDP_CODEC_PCMA, SDP_CODEC_OPUS,
					     SDP_CODEC_OPUS };

static void fz_check(const struct xcode *x, const struct xcode_pkt *out, size_t n, size_t max,
		     char digit, uint32_t *next_ts, bool *have_ts)
{
	if (n > max)
		abort();
	for (size_t i = 0; i < n; i++) {
		const struct xcode_pkt *p = &out[i];
		if (x->to.dtmf && p->pt == x->to.dtmf_pt) {
			if (p->len != DTMF_PAYLOAD_LEN || p->payload[0] > DTMF_EVENT_MAX)
				abort();
			continue;
		}
		if (p->pt != x->to.pt || p->len == 0 || p->len > CODEC_MAX_PAYLOAD)
			abort();
		if (*have_ts && p->ts != *next_ts)
			abort();
		*have_ts = true;
		*next_ts = p->ts + x->out_rtp;
	}
	if (digit && !strchr("0123456789*#ABCD", digit))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	static const uint32_t out_ptimes[4] = { 10, 20, 40, 60 };
	struct xcode_side in = {
		.codec = fz_codecs[data[0] & 3],
		.pt = 96,
		.dtmf = data[0] & 0x10,
		.dtmf_pt = 101,
		.dtmf_clock = data[1] & 8 ? 48000 : 8000,
		.ptime = 10u * (1 + (data[1] & 7)),
	};
	struct xcode_side to = {
		.codec = fz_codecs[data[0] >> 2 & 3],
		.pt = 0,
		.dtmf = data[0] & 0x20,
		.dtmf_pt = 110,
		.dtmf_clock = data[1] & 16 ? 48000 : 8000,
		.ptime = out_ptimes[data[0] >> 6],
	};
	struct xcode *x;
	if (xcode_new(&x, &in, &to) != 0)
		abort(); /* every set-up above is a valid one */

	size_t off = 2;
	uint64_t now = 1000;
	uint16_t seq = 0;
	uint32_t ts = 0, next_ts = 0;
	bool have_ts = false;
	unsigned ticks = 0;
	while (off + 6 <= size && ticks < FZ_MAX_TICKS) {
		uint8_t ctl = data[off];
		uint8_t pt = (ctl & 3) == 1 ? in.dtmf_pt : in.pt;
		seq = (uint16_t)(seq + (int8_t)data[off + 1]);
		ts += (uint32_t)(int32_t)(int16_t)(data[off + 2] << 8 | data[off + 3]);
		size_t len = (size_t)data[off + 4] << 8 | data[off + 5];
		off += 6;
		if ((ctl & 3) == 2 && off < size)
			pt = data[off++] & 0x7f;
		if (len > size - off)
			len = size - off;
		now += ctl >> 3;
		uint8_t *p = malloc(len ? len : 1);
		if (!p)
			break;
		memcpy(p, data + off, len);
		off += len;
		struct rtp_hdr h = { .version = 2, .pt = pt, .seq = seq, .ts = ts };
		xcode_put(x, &h, p, len, now);
		free(p);
		if (ctl & 4) {
			struct xcode_pkt out[3];
			char digit = 0;
			size_t max = 1 + ticks % 3;
			size_t n = xcode_tick(x, now, out, max, &digit);
			fz_check(x, out, n, max, digit, &next_ts, &have_ts);
			ticks++;
		}
	}
	/* play out what is held, and any digit still in progress */
	for (unsigned i = 0; i < 40 && ticks < FZ_MAX_TICKS + 40; i++, ticks++) {
		struct xcode_pkt out[3];
		char digit = 0;
		now += to.ptime;
		size_t n = xcode_tick(x, now, out, 3, &digit);
		fz_check(x, out, n, 3, digit, &next_ts, &have_ts);
	}
	xcode_free(x);
	return 0;
}
