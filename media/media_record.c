/*
 * media_record.c: recording what one leg sends (media_record), run by the
 * leg's media thread.
 *
 * A recording is a pcm_in (pcm_in.h: the jitter buffer, decoder and PLC a
 * conference room uses for its members) decoding the leg's audio at 8 kHz
 * (Opus through its 8 kHz API rate: no resampler), fed by media_leg.c with
 * every received packet of the leg's payload type (telephone-events are
 * reported as digits and never reach it). On each tick it takes one 20 ms
 * frame per tick that passed and appends it to a buffer that grows in
 * chunks of a second or more, never past max_ms. A frame whose energy is
 * below REC_SILENCE_DBFS counts as silence; silence_ms of it in a row ends
 * the recording and is cut off.
 *
 * The record (struct leg_rec) is made by the core (media_record), so the
 * thread never lacks the memory to report: when the recording ends, it
 * becomes the carrier of its RECORD_DONE event, which holds the PCM. Like
 * CLOSED, that event is never dropped: when the event queue is full it
 * waits on the thread's rec_wait list, in order, and the CLOSED of the
 * same leg waits behind it (media_thread.c). A recording moves with its
 * leg (media_bridge, media_room_join): it is all in the leg.
 *
 * Every recording started ends with exactly one RECORD_DONE: stopped,
 * silence, max_ms, replaced by another (STOPPED), the leg freed (CLOSED),
 * or FAILED: a leg that cannot be decoded (at once, or when a media_leg_set
 * takes its codec away) or a buffer that cannot grow (with the PCM so far).
 * Only media_engine_stop ends one silently.
 */
#include "media_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pcm_in.h"
#include "talker.h"

#define REC_RATE 8000
#define REC_FRAME (REC_RATE / 1000 * PCM_IN_TICK_MS)
#define REC_CHUNK REC_RATE          /* the buffer grows by a second at least */
#define REC_SILENCE_DBFS (-45.0f)   /* a frame below this is silence */

struct leg_rec {
	struct leg_rec *next;       /* the thread's rec_wait list */
	struct pcm_in *in;          /* the leg's audio decoded; NULL when it cannot be */
	enum sdp_codec codec;       /* what in decodes: codec, payload type, packet time */
	uint8_t pt;
	uint32_t ptime;
	int16_t *pcm;               /* recorded so far */
	size_t n, cap;              /* samples in pcm, samples allocated */
	size_t max;                 /* samples: max_ms at REC_RATE */
	size_t silence;             /* samples of silence that end it; 0: never */
	size_t quiet;               /* samples of silence at the end of pcm */
	struct media_event done;    /* RECORD_DONE once ended; owns done.rec.pcm */
};

_Static_assert(REC_FRAME == PROMPT_FRAME, "one recorded frame a tick");

int rec_new(uint32_t max_ms, uint32_t silence_ms, struct leg_rec **out)
{
	struct leg_rec *r = calloc(1, sizeof *r);
	if (!r)
		return ENOMEM;
	r->max = (size_t)max_ms * (REC_RATE / 1000);
	r->silence = (size_t)silence_ms * (REC_RATE / 1000);
	*out = r;
	return 0;
}

void rec_discard(struct leg_rec *r)
{
	if (!r)
		return;
	pcm_in_free(r->in);
	free(r->pcm);
	free(r->done.rec.pcm);
	free(r);
}

/* ------------------------------------------------------ RECORD_DONE out */

/* Queue r's event, or keep r (in order) until there is room; r is freed
 * once queued. */
static void rec_post(struct media_thread *t, struct leg_rec *r)
{
	if (!t->rec_wait && media_thread_push(t, &r->done)) {
		free(r);
		return;
	}
	r->next = NULL;
	if (t->rec_wait_tail)
		t->rec_wait_tail->next = r;
	else
		t->rec_wait = r;
	t->rec_wait_tail = r;
}

bool rec_wait_flush(struct media_thread *t)
{
	/* bounded: one record per recording ended and not yet reported */
	while (t->rec_wait) {
		struct leg_rec *r = t->rec_wait;
		if (!media_thread_push(t, &r->done))
			return false;
		t->rec_wait = r->next;
		if (!t->rec_wait)
			t->rec_wait_tail = NULL;
		free(r);
	}
	return true;
}

void rec_wait_free(struct media_thread *t)
{
	while (t->rec_wait) {
		struct leg_rec *r = t->rec_wait;
		t->rec_wait = r->next;
		rec_discard(r);
	}
	t->rec_wait_tail = NULL;
}

void rec_fail(struct media_thread *t, struct leg_rec *r, media_leg_id id, uint64_t cookie)
{
	memset(&r->done, 0, sizeof r->done);
	r->done.kind = MEDIA_EV_RECORD_DONE;
	r->done.leg = id;
	r->done.cookie = cookie;
	r->done.rec.end = MEDIA_REC_FAILED;
	pcm_in_free(r->in);
	r->in = NULL;
	free(r->pcm);
	r->pcm = NULL;
	rec_post(t, r);
}

/* ---------------------------------------------------------- the record */

void leg_rec_stop(struct leg *l, enum media_rec_end end)
{
	struct leg_rec *r = l->rec;
	if (!r)
		return;
	l->rec = NULL;
	media_leg_tick_update(l);
	pcm_in_free(r->in);
	r->in = NULL;
	int16_t *pcm = r->pcm;
	r->pcm = NULL;
	if (r->n == 0) {
		free(pcm);
		pcm = NULL;
	} else if (r->cap > r->n) {
		/* the taker keeps it a while (encoding): give back the slack */
		int16_t *fit = realloc(pcm, r->n * sizeof *pcm);
		if (fit)
			pcm = fit;
	}
	media_leg_event(l, MEDIA_EV_RECORD_DONE, &r->done);
	r->done.rec = (struct media_recording){ .pcm = pcm, .n = r->n, .end = end };
	log_debug("media: leg %u: recording ended (%d), %zu samples", l->id, (int)end, r->n);
	rec_post(l->t, r);
}

void leg_rec_drop(struct leg *l)
{
	rec_discard(l->rec);
	l->rec = NULL;
	media_leg_tick_update(l);
}

static bool decodable(const struct leg *l)
{
	return l->set && !l->p.raw &&
	       (l->p.codec == SDP_CODEC_PCMU || l->p.codec == SDP_CODEC_PCMA ||
		l->p.codec == SDP_CODEC_OPUS);
}

/* A decoder for the leg's codec as it is now; false when there is none. */
static bool rec_decoder(struct leg *l, struct leg_rec *r)
{
	if (!decodable(l))
		return false;
	if (r->in && r->codec == l->p.codec && r->pt == l->p.pt && r->ptime == l->p.ptime)
		return true;
	struct pcm_in *in = NULL;
	int rc = pcm_in_new(&in, l->p.codec, l->p.pt, l->p.ptime, REC_RATE);
	if (rc) {
		log_warn("media: leg %u: cannot decode to record: %s", l->id, strerror(rc));
		return false;
	}
	pcm_in_free(r->in);
	r->in = in;
	r->codec = l->p.codec;
	r->pt = l->p.pt;
	r->ptime = l->p.ptime;
	return true;
}

void leg_rec_start(struct leg *l, struct leg_rec *r)
{
	/* one RECORD_DONE per media_record: the one replaced reports first */
	leg_rec_stop(l, MEDIA_REC_STOPPED);
	l->rec = r;
	if (!rec_decoder(l, r)) {
		leg_rec_stop(l, MEDIA_REC_FAILED);
		return;
	}
	media_leg_tick_update(l);
}

void leg_rec_codec(struct leg *l)
{
	if (l->rec && !rec_decoder(l, l->rec))
		leg_rec_stop(l, MEDIA_REC_FAILED);
}

void leg_rec_put(struct leg *l, const struct rtp_hdr *h)
{
	pcm_in_put(l->rec->in, h, h->payload, h->payload_len, l->t->now_ms);
}

/* Append one frame; false when the recording ended with it. */
static bool rec_frame(struct leg *l, struct leg_rec *r, const int16_t *f)
{
	size_t take = r->max - r->n < REC_FRAME ? r->max - r->n : REC_FRAME;
	if (r->n + take > r->cap) {
		size_t grow = r->cap / 4 > REC_CHUNK ? r->cap / 4 : REC_CHUNK;
		size_t cap = r->cap + grow > r->max ? r->max : r->cap + grow;
		int16_t *p = realloc(r->pcm, cap * sizeof *p);
		if (!p) {
			log_err("media: leg %u: no memory to record past %zu samples", l->id, r->n);
			leg_rec_stop(l, MEDIA_REC_FAILED);
			return false;
		}
		r->pcm = p;
		r->cap = cap;
	}
	memcpy(r->pcm + r->n, f, take * sizeof *f);
	r->n += take;
	if (talker_dbfs(f, REC_FRAME) < REC_SILENCE_DBFS)
		r->quiet += take;
	else
		r->quiet = 0;
	if (r->silence && r->quiet >= r->silence) {
		r->n -= r->quiet; /* quiet counts only samples of pcm */
		leg_rec_stop(l, MEDIA_REC_SILENCE);
		return false;
	}
	if (r->n >= r->max) {
		leg_rec_stop(l, MEDIA_REC_MAX);
		return false;
	}
	return true;
}

void leg_rec_tick(struct leg *l)
{
	unsigned frames = l->t->tick_frames;
	/* bounded: tick_frames is at most MEDIA_CATCHUP_MAX */
	for (unsigned k = 0; k < frames && l->rec; k++) {
		int16_t f[REC_FRAME];
		pcm_in_frame(l->rec->in, f);
		if (!rec_frame(l, l->rec, f))
			break;
	}
}
