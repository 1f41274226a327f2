/*
 * pcm_in.h: the decoded input of one received RTP audio stream (PCMU, PCMA
 * or Opus): a jitter buffer, a decoder that conceals what is lost, and a
 * PCM FIFO that hands out one 20 ms frame per tick whatever the sender's
 * packet length. A conference room decodes each member with it (mixer.c),
 * and a recording the leg it records (media_record.c).
 *
 * Packets go in as they arrive (pcm_in_put); once per 20 ms tick
 * pcm_in_frame gives that tick's PCM: decoded, concealed (PLC) when a
 * packet was lost, silence while nothing comes. Other payload types than
 * the stream's (telephone-event, comfort noise) are ignored. A sender whose
 * packets keep another length than its SDP said is followed (the buffer's
 * tick is made again, a bounded number of times).
 *
 * Bounds: the jitter buffer holds PCM_IN_PACKETS packets, the FIFO the
 * longest Opus packet and one tick, one frame asks the buffer at most
 * PCM_IN_MAX_PULLS times. Memory is allocated by pcm_in_new (and when the
 * tick follows the sender), never per packet. One object belongs to one
 * thread.
 */
#ifndef PBX_PCM_IN_H
#define PBX_PCM_IN_H

#include <stddef.h>
#include <stdint.h>

#include "jitter.h"
#include "rtp.h"
#include "sdp.h"

#define PCM_IN_TICK_MS 20

struct pcm_in;

/* codec PCMU, PCMA or OPUS with payload type pt and packet time ptime ms
 * (0: 20), decoded at rate (8000 or 48000; Opus decodes at either, G.711
 * at 8000 only). 0, EINVAL or ENOMEM. */
int pcm_in_new(struct pcm_in **out, enum sdp_codec codec, uint8_t pt, uint32_t ptime,
	       uint32_t rate);
void pcm_in_free(struct pcm_in *in);

/* A received packet (after SRTP) and its arrival on a monotonic clock; the
 * payload is copied. Another payload type, or one the jitter buffer
 * refuses (counted there), is ignored. */
void pcm_in_put(struct pcm_in *in, const struct rtp_hdr *h, const uint8_t *payload, size_t len,
		uint64_t now_ms);

/* Samples of one tick at the decoder's rate (160 at 8 kHz, 960 at 48). */
size_t pcm_in_frame_len(const struct pcm_in *in);

/* This tick's frame: pcm_in_frame_len samples into frame. */
void pcm_in_frame(struct pcm_in *in, int16_t *frame);

void pcm_in_stats(const struct pcm_in *in, struct jb_stats *out);

#endif
