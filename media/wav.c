/*
 * wav.c: RIFF/WAVE header parsing (see wav.h). A walk over at most
 * WAV_MAX_CHUNKS chunks, each length checked against what is left of the
 * buffer before it is used.
 */
#include "wav.h"

#include <errno.h>
#include <string.h>

#define WAVE_FORMAT_PCM 0x0001
#define WAVE_FORMAT_EXTENSIBLE 0xfffe
#define WAV_RATE_MAX 384000
#define WAV_CHANNELS_MAX 8

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The PCM sub-format GUID: 00000001-0000-0010-8000-00aa00389b71. */
static const uint8_t ksdataformat_pcm[16] = { 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
					      0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 };

static int parse_fmt(const uint8_t *p, uint32_t size, struct wav_info *w)
{
	if (size < 16)
		return EBADMSG;
	uint16_t tag = le16(p);
	w->channels = le16(p + 2);
	w->rate = le32(p + 4);
	uint16_t block = le16(p + 12);
	w->bits = le16(p + 14);
	if (tag == WAVE_FORMAT_EXTENSIBLE) {
		/* cbSize, valid bits, channel mask, then the sub-format. */
		if (size < 40 || le16(p + 16) < 22)
			return EBADMSG;
		if (memcmp(p + 24, ksdataformat_pcm, sizeof ksdataformat_pcm) != 0)
			return ENOTSUP;
	} else if (tag != WAVE_FORMAT_PCM) {
		return ENOTSUP;
	}
	if (w->channels == 0 || w->channels > WAV_CHANNELS_MAX || w->rate == 0 || w->rate > WAV_RATE_MAX)
		return EBADMSG;
	if (w->bits != 8 && w->bits != 16 && w->bits != 24 && w->bits != 32)
		return EBADMSG;
	if (block != w->channels * (w->bits / 8))
		return EBADMSG;
	return 0;
}

int wav_parse(const uint8_t *buf, size_t len, struct wav_info *out)
{
	if (!buf || len < 12 || memcmp(buf, "RIFF", 4) != 0 || memcmp(buf + 8, "WAVE", 4) != 0)
		return EBADMSG;
	struct wav_info w = { 0 };
	int have_fmt = 0;
	size_t off = 12;
	for (unsigned n = 0; n < WAV_MAX_CHUNKS; n++) {
		if (len - off < 8)
			return EBADMSG; /* no data chunk */
		const uint8_t *h = buf + off;
		uint32_t size = le32(h + 4);
		off += 8;
		size_t left = len - off;
		if (memcmp(h, "fmt ", 4) == 0) {
			if (have_fmt || size > left)
				return EBADMSG;
			int rc = parse_fmt(buf + off, size, &w);
			if (rc != 0)
				return rc;
			have_fmt = 1;
		} else if (memcmp(h, "data", 4) == 0) {
			if (!have_fmt)
				return EBADMSG;
			size_t frame = (size_t)w.channels * (w.bits / 8);
			size_t n_bytes = size < left ? size : left;
			w.data = buf + off;
			w.data_len = n_bytes - n_bytes % frame;
			*out = w;
			return 0;
		}
		/* Any other chunk (LIST, fact, ...) is skipped, with its pad byte. */
		if (size > left)
			return EBADMSG;
		off += size;
		if ((size & 1) && off < len)
			off++;
	}
	return EBADMSG;
}
