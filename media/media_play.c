/*
 * media_play.c: prompts (media_play) and PCM (media_play_pcm) played to one
 * leg, run by the leg's media thread.
 *
 * A play is a prompt_player (prompt.h) over the engine's prompt table or
 * over the one buffer of a media_play_pcm, which the play owns and frees
 * when it ends however it ends (played out, replaced, the leg closed), an
 * encoder for the leg's codec fed at 8 kHz (G.711 natively, Opus through
 * its 8 kHz API rate), and a sequence and timestamp of its own that the
 * leg's struct tx_stream maps onto the phone's one continuous stream. On
 * each tick it takes one 20 ms frame per tick that passed (more than one
 * only when the thread catches up), encodes it and sends it; the packet
 * after the last is MEDIA_EV_PLAY_DONE. Nothing else reaches the leg
 * meanwhile (media_leg.c holds back relay, transcoder and room audio), but
 * its own packets are still taken in: DTMF is reported and a room still
 * hears it.
 *
 * Every play ends with exactly one PLAY_DONE: played out, replaced by
 * another play or a tone, stopped by an empty sequence, its codec gone
 * (media_leg_set to one without an encoder), or not startable at all. Only
 * leg_release (the leg closing) ends one silently: CLOSED says enough.
 */
#include "media_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct leg_play {
	struct prompt_player pp;    /* points into the engine's prompt table, or pcm */
	int16_t *pcm;               /* media_play_pcm's buffer: ours, freed with the play */
	struct codec_enc *enc;      /* the leg's codec at PROMPT_RATE */
	enum sdp_codec codec;       /* of enc */
	uint16_t seq;               /* input sequence of this play, mapped by tx_map */
	uint32_t ts;                /* input timestamp at the leg's RTP clock */
};

static void play_done(struct leg *l)
{
	struct media_event ev;
	media_leg_event(l, MEDIA_EV_PLAY_DONE, &ev);
	media_thread_post(l->t, &ev);
}

void leg_play_stop(struct leg *l, bool report)
{
	if (!l->play)
		return;
	codec_enc_free(l->play->enc);
	free(l->play->pcm);
	free(l->play);
	l->play = NULL;
	media_leg_tick_update(l);
	if (report)
		play_done(l);
}

static bool codec_playable(const struct leg *l)
{
	return l->set && !l->p.raw &&
	       (l->p.codec == SDP_CODEC_PCMU || l->p.codec == SDP_CODEC_PCMA ||
		l->p.codec == SDP_CODEC_OPUS);
}

/* Start seq from table, or pcm (taken) when seq is NULL. */
static void play_begin(struct leg *l, const struct prompt_table *table,
		       const struct prompt_seq *seq, int16_t *pcm, size_t n)
{
	/* one sound at a time: a tone playing is cut short (and reports) */
	leg_tone_stop(l, true);
	struct leg_play *p = NULL;
	int rc = EINVAL;
	if ((seq && !table) || !codec_playable(l))
		goto out;
	rc = ENOMEM;
	p = calloc(1, sizeof *p);
	if (!p)
		goto out;
	prompt_player_init(&p->pp);
	if (seq) {
		rc = prompt_player_add_seq(&p->pp, table, seq);
	} else {
		p->pcm = pcm;
		pcm = NULL;
		rc = prompt_player_add_pcm(&p->pp, p->pcm, n);
	}
	if (rc)
		goto out;
	if (prompt_player_done(&p->pp)) {
		rc = ENODATA; /* every prompt of seq failed to load */
		goto out;
	}
	rc = codec_enc_new(&p->enc, l->p.codec, PROMPT_RATE);
	if (rc)
		goto out;
	p->codec = l->p.codec;
	l->play = p;
	l->play_serial++;
	media_leg_tick_update(l);
	return;
out:
	log_debug("media: leg %u: nothing to play: %s", l->id, strerror(rc));
	if (p) {
		codec_enc_free(p->enc);
		free(p->pcm);
	}
	free(p);
	free(pcm);
	play_done(l);
}

void leg_play_start(struct leg *l, const struct prompt_table *table, const struct prompt_seq *seq)
{
	leg_play_stop(l, true);
	if (seq->n > 0)
		play_begin(l, table, seq, NULL, 0);
}

void leg_play_pcm(struct leg *l, int16_t *pcm, size_t n)
{
	leg_play_stop(l, true);
	play_begin(l, NULL, NULL, pcm, n);
}

void leg_play_codec(struct leg *l)
{
	struct leg_play *p = l->play;
	if (!p || (codec_playable(l) && p->codec == l->p.codec))
		return;
	struct codec_enc *enc = NULL;
	if (!codec_playable(l) || codec_enc_new(&enc, l->p.codec, PROMPT_RATE)) {
		leg_play_stop(l, true);
		return;
	}
	codec_enc_free(p->enc);
	p->enc = enc;
	p->codec = l->p.codec;
	/* a new source for the phone: its timestamps start over in the new clock */
	l->play_serial++;
	p->seq = 0;
	p->ts = 0;
}

void leg_play_tick(struct leg *l, uint64_t now)
{
	struct leg_play *p = l->play;
	uint32_t step = leg_rtp_clock(l) / (1000 / MEDIA_TICK_MS);
	unsigned frames = l->t->tick_frames;
	/* bounded: tick_frames is at most MEDIA_CATCHUP_MAX */
	for (unsigned k = 0; k < frames; k++) {
		int16_t pcm[PROMPT_FRAME];
		if (!prompt_player_next(&p->pp, pcm))
			break;
		if (leg_can_send(l)) {
			uint8_t payload[CODEC_MAX_PAYLOAD];
			int n = codec_encode(p->enc, pcm, PROMPT_FRAME, payload, sizeof payload);
			if (n > 0)
				leg_send_frame(l, LEG_SRC_PLAY, l->play_serial, p->seq++, p->ts, payload,
					       (size_t)n, now);
		}
		p->ts += step;
		if (prompt_player_done(&p->pp))
			break;
	}
	if (prompt_player_done(&p->pp))
		leg_play_stop(l, true);
}
