/*
 * transcode.h: one direction of a bridge whose two legs have no codec in
 * common: packets of codec A in, packets of codec B out.
 *
 * Incoming packets go into a jitter buffer as they arrive; on each tick of
 * the output side's ptime one frame is taken out, decoded (or concealed when
 * it is missing or late), and encoded for the other leg. RFC 4733 events are
 * taken out of the stream and regenerated on the output side with its own
 * telephone-event payload type and clock (or dropped when it has none).
 */
#ifndef PBX_TRANSCODE_H
#define PBX_TRANSCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "rtp.h"

struct xcode_side {
	enum sdp_codec codec;
	uint8_t pt;
	bool dtmf;
	uint8_t dtmf_pt;
	uint32_t dtmf_clock;
	uint32_t ptime;         /* ms; 0 = 20 */
};

/* One RTP packet to send: the engine adds SSRC and sequence number. */
struct xcode_pkt {
	uint8_t pt;
	bool marker;
	uint32_t ts;            /* in the output codec's clock, continuous from 0 */
	size_t len;
	uint8_t payload[CODEC_MAX_PAYLOAD];
};

struct xcode;

int xcode_new(struct xcode **out, const struct xcode_side *in, const struct xcode_side *to);
void xcode_free(struct xcode *x);

/* A packet received on the input leg (after SRTP), with its arrival time. */
void xcode_put(struct xcode *x, const struct rtp_hdr *h, const uint8_t *payload, size_t len,
	       uint64_t now_ms);
/* Called once per output ptime: writes 0..max packets to out (an audio frame,
 * DTMF packets) and returns how many. A DTMF digit that ended is reported in
 * *digit (0 when none). */
size_t xcode_tick(struct xcode *x, uint64_t now_ms, struct xcode_pkt *out, size_t max, char *digit);

#endif
