/*
 * pcm_in.c: one received stream decoded to PCM, a 20 ms frame per tick
 * (see pcm_in.h).
 *
 * The jitter buffer ticks in the sender's packet length (whole 10 ms,
 * which every codec's concealer takes) and is asked for a tick only while
 * the FIFO holds less than one frame: a decoded packet adds its whole
 * length (JB_FRAME), a loss one tick of concealment (JB_LOST), a tick the
 * last packet still covers nothing (JB_NONE), a gap one tick of zeros
 * (JB_SILENCE). So packets of any length fill 20 ms frames, and the buffer
 * is asked as often as its audio is played (as transcode.c does).
 */
#include "pcm_in.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <opus.h>

#include "codec.h"

#define PCM_IN_PACKETS 32          /* held in the jitter buffer (640 ms of 20 ms packets) */
#define PCM_IN_G711_PAYLOAD 480    /* 60 ms, the longest G.711 packet followed */
#define PCM_IN_MAX_PACKET_MS 120   /* the longest Opus packet */
#define PCM_IN_MAX_PULLS 128       /* jitter-buffer ticks per frame, at most */
#define PCM_IN_RETICK_AFTER 3      /* packets of another length before the buffer follows */
#define PCM_IN_RETICK_MAX 8        /* times it does, at most */

struct pcm_in {
	enum sdp_codec codec;
	uint8_t pt;
	uint32_t clock;             /* RTP clock of what is received */
	uint32_t rate;              /* the decoder's PCM rate */
	uint32_t tick_ms;           /* jitter-buffer tick: the sender's packet length */
	uint32_t tick_pcm;          /* samples at rate per jitter-buffer tick */
	uint32_t seen_ms;           /* length of the last packets when not tick_ms */
	unsigned seen_n;            /* how many in a row */
	unsigned reticks;           /* buffers made again */
	struct jb *jb;
	struct codec_dec *dec;
	int16_t *fifo;              /* decoded, not yet handed out */
	size_t fifo_len, fifo_cap;
};

/* A jitter buffer ticking every tick_ms in place of the one there is (kept
 * on failure). */
static int make_jb(struct pcm_in *in, uint32_t tick_ms)
{
	struct jb_cfg cfg = {
		.clock_rate = in->clock,
		.tick_ms = tick_ms,
		.capacity = PCM_IN_PACKETS,
		.max_payload = in->codec == SDP_CODEC_OPUS ? CODEC_MAX_PAYLOAD : PCM_IN_G711_PAYLOAD,
	};
	struct jb *jb;
	int rc = jb_new(&jb, &cfg);
	if (rc)
		return rc;
	jb_free(in->jb);
	in->jb = jb;
	in->tick_ms = tick_ms;
	in->tick_pcm = in->rate / 1000 * tick_ms;
	in->seen_n = 0;
	return 0;
}

int pcm_in_new(struct pcm_in **out, enum sdp_codec codec, uint8_t pt, uint32_t ptime,
	       uint32_t rate)
{
	if (!out || (codec != SDP_CODEC_PCMU && codec != SDP_CODEC_PCMA && codec != SDP_CODEC_OPUS) ||
	    pt > 127 || ptime > 200 || (rate != 8000 && rate != 48000))
		return EINVAL;
	struct pcm_in *in = calloc(1, sizeof *in);
	if (!in)
		return ENOMEM;
	in->codec = codec;
	in->pt = pt;
	in->clock = codec_rtp_clock(codec);
	in->rate = rate;
	uint32_t tick = ((ptime ? ptime : PCM_IN_TICK_MS) + 5) / 10 * 10;
	tick = tick < 10 ? 10 : tick > 60 ? 60 : tick;
	int rc = make_jb(in, tick);
	if (!rc)
		rc = codec_dec_new(&in->dec, codec, rate);
	if (!rc) {
		in->fifo_cap = (size_t)rate * (PCM_IN_MAX_PACKET_MS + PCM_IN_TICK_MS) / 1000;
		in->fifo = calloc(in->fifo_cap, sizeof *in->fifo);
		if (!in->fifo)
			rc = ENOMEM;
	}
	if (rc) {
		pcm_in_free(in);
		return rc;
	}
	*out = in;
	return 0;
}

void pcm_in_free(struct pcm_in *in)
{
	if (!in)
		return;
	jb_free(in->jb);
	codec_dec_free(in->dec);
	free(in->fifo);
	free(in);
}

/* A packet of dur timestamp units came: after PCM_IN_RETICK_AFTER in a row
 * of one length (10..60 ms in whole 10 ms) other than the tick, tick with
 * them. */
static void follow_length(struct pcm_in *in, uint32_t dur)
{
	uint32_t unit = in->clock / 100;
	uint32_t ms = dur % unit == 0 ? dur / unit * 10 : 0;
	if (ms < 10 || ms > 60 || ms == in->tick_ms || in->reticks >= PCM_IN_RETICK_MAX) {
		in->seen_n = 0;
		return;
	}
	if (ms != in->seen_ms) {
		in->seen_ms = ms;
		in->seen_n = 0;
	}
	if (++in->seen_n >= PCM_IN_RETICK_AFTER && make_jb(in, ms) == 0)
		in->reticks++;
}

void pcm_in_put(struct pcm_in *in, const struct rtp_hdr *h, const uint8_t *payload, size_t len,
		uint64_t now_ms)
{
	if (!in || !h || !payload || len == 0 || len > CODEC_MAX_PAYLOAD || h->pt != in->pt)
		return; /* telephone-event, comfort noise: not ours to decode */
	uint32_t dur = 0; /* 0: the jitter buffer takes one tick */
	if (in->codec == SDP_CODEC_OPUS) {
		int n = opus_packet_get_nb_samples(payload, (opus_int32)len, 48000);
		if (n > 0)
			dur = (uint32_t)n;
	} else {
		dur = (uint32_t)len;
	}
	follow_length(in, dur);
	(void)jb_put(in->jb, h->seq, h->ts, dur, payload, len, now_ms);
}

/* n samples of concealment at dst in whole jitter-buffer ticks; the rest
 * and any failure are silence. */
static void conceal(struct pcm_in *in, int16_t *dst, size_t n)
{
	size_t done = 0;
	while (n - done >= in->tick_pcm) {
		if (codec_conceal(in->dec, dst + done, in->tick_pcm) < 0)
			break;
		done += in->tick_pcm;
	}
	memset(dst + done, 0, (n - done) * sizeof(*dst));
}

size_t pcm_in_frame_len(const struct pcm_in *in)
{
	return (size_t)in->rate / 1000 * PCM_IN_TICK_MS;
}

void pcm_in_frame(struct pcm_in *in, int16_t *frame)
{
	size_t want = pcm_in_frame_len(in);
	for (unsigned pulls = 0; in->fifo_len < want && pulls < PCM_IN_MAX_PULLS; pulls++) {
		struct jb_frame f;
		jb_get(in->jb, &f);
		int16_t *dst = in->fifo + in->fifo_len;
		size_t room = in->fifo_cap - in->fifo_len;
		size_t n = 0;
		switch (f.status) {
		case JB_FRAME: {
			int r = codec_decode(in->dec, f.payload, f.len, dst, room);
			if (r > 0) {
				n = (size_t)r;
			} else {
				/* undecodable: conceal as long as it claimed to last */
				n = (size_t)((uint64_t)f.dur * in->rate / in->clock);
				n = n > room ? room : n;
				conceal(in, dst, n);
			}
			break;
		}
		case JB_LOST:
			n = in->tick_pcm < room ? in->tick_pcm : room;
			conceal(in, dst, n);
			break;
		case JB_NONE:
			break; /* the last packet decoded covers this tick */
		case JB_SILENCE:
			n = in->tick_pcm < room ? in->tick_pcm : room;
			memset(dst, 0, n * sizeof(*dst));
			break;
		}
		in->fifo_len += n;
	}
	size_t have = in->fifo_len < want ? in->fifo_len : want;
	memcpy(frame, in->fifo, have * sizeof(*in->fifo));
	memset(frame + have, 0, (want - have) * sizeof(*frame));
	in->fifo_len -= have;
	memmove(in->fifo, in->fifo + have, in->fifo_len * sizeof(*in->fifo));
}

void pcm_in_stats(const struct pcm_in *in, struct jb_stats *out)
{
	jb_get_stats(in->jb, out);
}
