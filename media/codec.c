/*
 * codec.c: PCMU, PCMA and Opus encoders and decoders behind codec.h.
 *
 * G.711 is coded at 8 kHz by g711.c; when the caller works at 48 kHz the
 * PCM goes through a speexdsp resampler (resample.c) on the way in or out,
 * and the G.711 concealer still runs at 8 kHz, on the decoded signal.
 * Opus is asked for the caller's rate directly (its API rate), so an
 * Opus <-> G.711 bridge at 8 kHz resamples nothing; the RTP clock of Opus is
 * 48 kHz whatever that rate (RFC 7587).
 *
 * Every payload is checked before it reaches a decoder: an empty payload,
 * one larger than CODEC_MAX_PAYLOAD or one that decodes to more than the
 * caller's room is refused with -1.
 */
#include "codec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <opus.h>

#include "g711.h"
#include "resample.h"

/*
 * Opus encoder complexity. Measured on 20 ms frames of speech (flite) at the
 * 8 kHz API rate, about 10 kbit/s: 25 us a frame at 0, 58 us at 5, 105 us
 * at 10 (SWEEP=1 tests/bench/transcode prints these); the waveform SNR
 * after decoding is 8.0, 9.0 and 9.3 dB. From 4 on
 * SILK quantises with delayed decision and most of the quality is there;
 * above 5 the last 0.3 dB costs up to twice the CPU.
 * Encoding dominates a transcoded call (decoding is about 6 us), so this
 * number sets how many calls a core carries.
 */
#define CODEC_OPUS_COMPLEXITY 5

#define G711_RATE 8000
#define G711_MAX_SAMPLES CODEC_MAX_PAYLOAD /* one byte a sample */

struct codec_enc {
	enum sdp_codec codec;
	uint32_t pcm_rate;
	OpusEncoder *opus;
	struct resample *down; /* G.711 at 48 kHz: to 8 kHz before coding */
	int16_t pcm8[G711_MAX_SAMPLES];
};

struct codec_dec {
	enum sdp_codec codec;
	uint32_t pcm_rate;
	OpusDecoder *opus;
	struct g711_plc plc;
	struct resample *up; /* G.711 at 48 kHz: from 8 kHz after decoding */
	int16_t pcm8[G711_MAX_SAMPLES];
};

static bool is_g711(enum sdp_codec c)
{
	return c == SDP_CODEC_PCMU || c == SDP_CODEC_PCMA;
}

static bool args_ok(enum sdp_codec codec, uint32_t pcm_rate)
{
	return (is_g711(codec) || codec == SDP_CODEC_OPUS) && (pcm_rate == 8000 || pcm_rate == 48000);
}

uint32_t codec_rtp_clock(enum sdp_codec codec)
{
	switch (codec) {
	case SDP_CODEC_PCMU:
	case SDP_CODEC_PCMA:
		return G711_RATE;
	case SDP_CODEC_OPUS:
		return 48000;
	default:
		return 0;
	}
}

/* ---------------------------------------------------------------- encoder */

int codec_enc_new(struct codec_enc **out, enum sdp_codec codec, uint32_t pcm_rate)
{
	if (!out || !args_ok(codec, pcm_rate))
		return EINVAL;
	struct codec_enc *e = calloc(1, sizeof(*e));
	if (!e)
		return ENOMEM;
	e->codec = codec;
	e->pcm_rate = pcm_rate;
	int rc = 0;
	if (codec == SDP_CODEC_OPUS) {
		int err = 0;
		e->opus = opus_encoder_create((opus_int32)pcm_rate, 1, OPUS_APPLICATION_VOIP, &err);
		if (!e->opus || err != OPUS_OK) {
			rc = ENOMEM;
			goto out;
		}
		/* in-band FEC costs bits in every packet and only pays when the
		 * peer both asks for it and sees loss; DTX would leave gaps the
		 * other leg's timing does not expect */
		if (opus_encoder_ctl(e->opus, OPUS_SET_COMPLEXITY(CODEC_OPUS_COMPLEXITY)) != OPUS_OK ||
		    opus_encoder_ctl(e->opus, OPUS_SET_INBAND_FEC(0)) != OPUS_OK ||
		    opus_encoder_ctl(e->opus, OPUS_SET_DTX(0)) != OPUS_OK ||
		    opus_encoder_ctl(e->opus, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)) != OPUS_OK) {
			rc = EINVAL;
			goto out;
		}
	} else if (pcm_rate != G711_RATE) {
		rc = resample_new(&e->down, pcm_rate, G711_RATE, RESAMPLE_QUALITY);
		if (rc)
			goto out;
	}
	*out = e;
	return 0;
out:
	codec_enc_free(e);
	return rc;
}

void codec_enc_free(struct codec_enc *e)
{
	if (!e)
		return;
	if (e->opus)
		opus_encoder_destroy(e->opus);
	resample_free(e->down);
	free(e);
}

/* A frame size Opus accepts: 2.5, 5, 10, 20, 40 or 60 ms. */
static bool opus_frame_ok(uint32_t rate, size_t n)
{
	size_t q = rate / 400; /* 2.5 ms */
	if (n == 0 || n % q != 0)
		return false;
	size_t k = n / q;
	return k == 1 || k == 2 || k == 4 || k == 8 || k == 16 || k == 24;
}

int codec_encode(struct codec_enc *e, const int16_t *pcm, size_t n, uint8_t *out, size_t cap)
{
	if (!e || !pcm || !out || n == 0 || n > CODEC_MAX_FRAME)
		return -1;
	if (e->codec == SDP_CODEC_OPUS) {
		if (!opus_frame_ok(e->pcm_rate, n))
			return -1;
		if (cap > CODEC_MAX_PAYLOAD)
			cap = CODEC_MAX_PAYLOAD;
		opus_int32 r = opus_encode(e->opus, pcm, (int)n, out, (opus_int32)cap);
		return r > 0 ? (int)r : -1;
	}
	const int16_t *s = pcm;
	size_t m = n;
	if (e->down) {
		int r = resample_run(e->down, pcm, n, e->pcm8, G711_MAX_SAMPLES);
		if (r < 0)
			return -1;
		s = e->pcm8;
		m = (size_t)r;
	}
	if (m > cap)
		return -1;
	if (e->codec == SDP_CODEC_PCMU)
		g711_ulaw_encode_buf(s, out, m);
	else
		g711_alaw_encode_buf(s, out, m);
	return (int)m;
}

/* ---------------------------------------------------------------- decoder */

int codec_dec_new(struct codec_dec **out, enum sdp_codec codec, uint32_t pcm_rate)
{
	if (!out || !args_ok(codec, pcm_rate))
		return EINVAL;
	struct codec_dec *d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	d->codec = codec;
	d->pcm_rate = pcm_rate;
	g711_plc_init(&d->plc);
	int rc = 0;
	if (codec == SDP_CODEC_OPUS) {
		int err = 0;
		d->opus = opus_decoder_create((opus_int32)pcm_rate, 1, &err);
		if (!d->opus || err != OPUS_OK) {
			rc = ENOMEM;
			goto out;
		}
	} else if (pcm_rate != G711_RATE) {
		rc = resample_new(&d->up, G711_RATE, pcm_rate, RESAMPLE_QUALITY);
		if (rc)
			goto out;
	}
	*out = d;
	return 0;
out:
	codec_dec_free(d);
	return rc;
}

void codec_dec_free(struct codec_dec *d)
{
	if (!d)
		return;
	if (d->opus)
		opus_decoder_destroy(d->opus);
	resample_free(d->up);
	free(d);
}

/* G.711 samples at 8 kHz in d->pcm8 (m of them) out to the caller's rate. */
static int g711_out(struct codec_dec *d, size_t m, int16_t *pcm, size_t cap)
{
	if (d->up)
		return resample_run(d->up, d->pcm8, m, pcm, cap);
	if (m > cap)
		return -1;
	memcpy(pcm, d->pcm8, m * sizeof(*pcm));
	return (int)m;
}

int codec_decode(struct codec_dec *d, const uint8_t *payload, size_t len, int16_t *pcm, size_t cap)
{
	if (!d || !payload || !pcm || len == 0 || len > CODEC_MAX_PAYLOAD)
		return -1;
	if (d->codec == SDP_CODEC_OPUS) {
		/* a packet longer than the room is refused by libopus itself
		 * (OPUS_BUFFER_TOO_SMALL); 120 ms at 48 kHz is its maximum */
		if (cap > 5760)
			cap = 5760;
		int r = opus_decode(d->opus, payload, (opus_int32)len, pcm, (int)cap, 0);
		return r > 0 ? r : -1;
	}
	size_t ratio = d->pcm_rate / G711_RATE;
	if (len > cap / ratio)
		return -1;
	if (d->codec == SDP_CODEC_PCMU)
		g711_ulaw_decode_buf(payload, d->pcm8, len);
	else
		g711_alaw_decode_buf(payload, d->pcm8, len);
	g711_plc_good(&d->plc, d->pcm8, len);
	return g711_out(d, len, pcm, cap);
}

int codec_conceal(struct codec_dec *d, int16_t *pcm, size_t n)
{
	if (!d || !pcm || n == 0 || n > CODEC_MAX_FRAME)
		return -1;
	if (d->codec == SDP_CODEC_OPUS) {
		/* libopus conceals whole 2.5 ms steps */
		if (n % (d->pcm_rate / 400) != 0)
			return -1;
		int r = opus_decode(d->opus, NULL, 0, pcm, (int)n, 0);
		return r == (int)n ? r : -1;
	}
	size_t ratio = d->pcm_rate / G711_RATE;
	if (n % ratio != 0)
		return -1;
	size_t m = n / ratio;
	g711_plc_conceal(&d->plc, d->pcm8, m);
	return g711_out(d, m, pcm, n);
}
