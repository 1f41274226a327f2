/*
 * g711.h: G.711 PCMU (mu-law) and PCMA (A-law) for 16-bit linear PCM at
 * 8 kHz, the direct PCMU<->PCMA transcode, and packet loss concealment for
 * decoded G.711 legs.
 *
 * Encoding follows ITU-T G.711 on the top 14 (mu-law) or 13 (A-law) bits
 * of a 16-bit sample; decoding uses 256-entry tables. The transcode tables
 * are exactly decode-then-encode, so a PCMU<->PCMA bridge costs one lookup
 * per byte and adds no error beyond one re-quantisation.
 *
 * The concealer is in the style of G.711 Appendix I: on a loss it finds the
 * pitch period of the recent history, repeats the last period (one, then
 * two, then three periods as the loss goes on) with overlap-add at every
 * junction, fades out by 20% per 10 ms after the first 10 ms and is silent
 * after 60 ms; the first good frame after a loss is cross-faded in. Unlike
 * Appendix I it adds no algorithmic delay. One struct per decoded leg, owned
 * by the media thread of that leg.
 */
#ifndef PBX_G711_H
#define PBX_G711_H

#include <stddef.h>
#include <stdint.h>

uint8_t g711_ulaw_encode(int16_t x);
int16_t g711_ulaw_decode(uint8_t c);
uint8_t g711_alaw_encode(int16_t x);
int16_t g711_alaw_decode(uint8_t c);
uint8_t g711_ulaw_to_alaw(uint8_t c);
uint8_t g711_alaw_to_ulaw(uint8_t c);

/* n samples from in to out; in and out may not overlap, except for the
 * transcoders, which work in place too. */
void g711_ulaw_encode_buf(const int16_t *in, uint8_t *out, size_t n);
void g711_ulaw_decode_buf(const uint8_t *in, int16_t *out, size_t n);
void g711_alaw_encode_buf(const int16_t *in, uint8_t *out, size_t n);
void g711_alaw_decode_buf(const uint8_t *in, int16_t *out, size_t n);
void g711_ulaw_to_alaw_buf(const uint8_t *in, uint8_t *out, size_t n);
void g711_alaw_to_ulaw_buf(const uint8_t *in, uint8_t *out, size_t n);

/* ------------------------------------------------------------------ PLC */

#define G711_PLC_PITCH_MIN 40   /* 5 ms: 200 Hz */
#define G711_PLC_PITCH_MAX 120  /* 15 ms: 66.7 Hz */
#define G711_PLC_CORR_LEN 160   /* 20 ms compared when searching the pitch */
#define G711_PLC_HIST_LEN (G711_PLC_CORR_LEN + G711_PLC_PITCH_MAX + G711_PLC_PITCH_MAX)
#define G711_PLC_FADE_START 80  /* 10 ms at full level */
#define G711_PLC_SILENT_AFTER 480 /* 60 ms: silence from here on */

struct g711_plc {
	int16_t hist[G711_PLC_HIST_LEN]; /* last samples played, oldest first */
	float pbuf[3 * G711_PLC_PITCH_MAX]; /* last three periods at the loss */
	unsigned pitch;       /* period found at the start of the loss */
	unsigned overlap;     /* pitch / 4: overlap-add length */
	unsigned start, len;  /* region of pbuf being repeated */
	unsigned pos;         /* next sample within the region */
	unsigned old_start, old_len, old_pos; /* region faded out after growth */
	unsigned xfade;       /* samples of that fade still to go */
	unsigned erased;      /* samples concealed in this loss, 0 when none */
};

void g711_plc_init(struct g711_plc *p);

/* A good frame of n samples, about to be played. After a loss its start is
 * cross-faded with the concealed signal, in place. */
void g711_plc_good(struct g711_plc *p, int16_t *pcm, size_t n);

/* Fill out with n samples standing in for lost audio. */
void g711_plc_conceal(struct g711_plc *p, int16_t *out, size_t n);

#endif
