/*
 * codec.h: one audio codec's encoder or decoder behind one interface, at a
 * PCM rate the caller picks (8000 or 48000 Hz, mono S16).
 *
 * G.711 runs at 8 kHz natively (resampled with speexdsp when the caller asks
 * for 48 kHz); Opus runs at either rate through libopus's own API rate, so
 * an Opus <-> G.711 bridge needs no resampler. Decoders conceal a lost frame
 * (G.711 PLC, Opus PLC). One codec object belongs to one thread.
 */
#ifndef PBX_CODEC_H
#define PBX_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "sdp.h"

#define CODEC_MAX_FRAME 2880  /* samples: 60 ms at 48 kHz */
#define CODEC_MAX_PAYLOAD 1500

struct codec_enc;
struct codec_dec;

/* codec: PCMU, PCMA or OPUS; pcm_rate: 8000 or 48000. 0, EINVAL, ENOMEM. */
int codec_enc_new(struct codec_enc **out, enum sdp_codec codec, uint32_t pcm_rate);
int codec_dec_new(struct codec_dec **out, enum sdp_codec codec, uint32_t pcm_rate);
void codec_enc_free(struct codec_enc *e);
void codec_dec_free(struct codec_dec *d);

/* Encode n samples (one packet's worth: 10..60 ms) into out. Returns the
 * payload length, or -1. */
int codec_encode(struct codec_enc *e, const int16_t *pcm, size_t n, uint8_t *out, size_t cap);
/* Decode a payload into at most cap samples; returns samples written or -1. */
int codec_decode(struct codec_dec *d, const uint8_t *payload, size_t len, int16_t *pcm, size_t cap);
/* Conceal n lost samples (PLC). Returns n or -1. */
int codec_conceal(struct codec_dec *d, int16_t *pcm, size_t n);
/* RTP timestamp units per PCM sample at this codec's clock (G.711 8000, Opus 48000). */
uint32_t codec_rtp_clock(enum sdp_codec codec);

#endif
