/*
 * wav.h: read the header of a RIFF/WAVE file held in memory.
 *
 * Only what the prompt loader needs: find the format and the sample data of
 * an uncompressed PCM file (WAVE_FORMAT_PCM, or WAVE_FORMAT_EXTENSIBLE with
 * the PCM sub-format). Everything is checked against the buffer's length;
 * the input may be anything (tests/fuzz/fuzz_wav.c). No allocation.
 */
#ifndef PBX_WAV_H
#define PBX_WAV_H

#include <stddef.h>
#include <stdint.h>

#define WAV_MAX_CHUNKS 64 /* chunks looked at before the data chunk */

struct wav_info {
	uint32_t rate;        /* samples per second per channel, 1..384000 */
	uint16_t channels;    /* 1..8 */
	uint16_t bits;        /* 8, 16, 24 or 32 per sample */
	const uint8_t *data;  /* the samples, little-endian, interleaved: points
			       * into the caller's buffer, valid as long as it is */
	size_t data_len;      /* bytes, a whole number of frames (channels *
			       * bits / 8); a data chunk cut short by the end of
			       * the buffer is taken as far as it goes */
};

/* 0; EBADMSG for anything that is not a well-formed WAVE file with a fmt
 * chunk before its data chunk; ENOTSUP for a compressed or float format. */
int wav_parse(const uint8_t *buf, size_t len, struct wav_info *out);

#endif
