/*
 * media_room.c: a conference room on its media thread (media.h "rooms").
 *
 * A room is one mixer (mixer.h) and the legs that joined it, all on the
 * room's thread (media_room_join moves a leg there first). The core makes
 * the room and its mixer (room_new) and hands it over with
 * MEDIA_CMD_ROOM_NEW; from then on it is the thread's, like a leg.
 *
 * A member is a mixer participant while its codec allows (PCMU, PCMA or
 * Opus, set, not raw), added with its payload type and packet time, in and
 * out in the same codec; a media_leg_set that changes them re-adds it. The
 * leg's received RTP, after SRTP, goes to mixer_put (media_leg.c keeps
 * telephone-events out: they are the core's digits). On every 20 ms tick
 * the room runs mixer_tick once per tick that passed (more only while the
 * thread catches up, at most MEDIA_CATCHUP_MAX; the time of ticks beyond
 * that is skipped in every member's timestamp so their streams keep to the
 * clock) and sends each payload to each of its destinations with the
 * destination's own stream: one SSRC, sequence and timestamp per leg
 * (tx_stream), the timestamp moving 20 ms a tick (160 at G.711's clock, 960
 * at Opus's) whether or not a packet went. A member to which a tone or a
 * prompt is playing is given nothing meanwhile, but is still mixed for the
 * others. The mixer's talking changes become MEDIA_EV_TALKING; a member
 * leaving while it talked reports that it stopped.
 *
 * Lookups: a thread's rooms are a list searched by id on the commands that
 * name a room (new, free, join), not on the packet path, which goes from
 * the leg to its room directly.
 */
#include "media_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct room {
	media_room_id id;
	struct media_thread *t;     /* NULL until MEDIA_CMD_ROOM_NEW reaches the thread */
	struct room *prev, *next;   /* the thread's rooms */
	struct mixer *mix;
	struct leg *members;        /* every joined leg (rnext), a participant or not */
	unsigned n;                 /* members */
};

int room_new(media_room_id id, struct room **out)
{
	struct room *r = calloc(1, sizeof *r);
	if (!r)
		return ENOMEM;
	int rc = mixer_new(&r->mix, NULL);
	if (rc) {
		free(r);
		return rc;
	}
	r->id = id;
	*out = r;
	return 0;
}

void room_discard(struct room *r)
{
	if (!r)
		return;
	mixer_free(r->mix);
	free(r);
}

void room_link(struct media_thread *t, struct room *r)
{
	r->t = t;
	r->prev = NULL;
	r->next = t->rooms;
	if (t->rooms)
		t->rooms->prev = r;
	t->rooms = r;
}

struct room *room_next(const struct room *r)
{
	return r->next;
}

struct room *room_find(struct media_thread *t, media_room_id id)
{
	struct room *r = t->rooms;
	while (r && r->id != id)
		r = r->next;
	return r;
}

/* ------------------------------------------------------------- members */

static bool mixable(const struct leg *l)
{
	return l->set && !l->p.raw &&
	       (l->p.codec == SDP_CODEC_PCMU || l->p.codec == SDP_CODEC_PCMA ||
		l->p.codec == SDP_CODEC_OPUS);
}

static void talking_set(struct leg *l, bool on)
{
	if (l->talking == on)
		return;
	l->talking = on;
	struct media_event ev;
	media_leg_event(l, MEDIA_EV_TALKING, &ev);
	ev.talking = on;
	media_thread_post(l->t, &ev);
}

static void part_remove(struct leg *l)
{
	if (!l->mix_id)
		return;
	mixer_remove(l->room->mix, l->mix_id);
	l->mix_id = 0;
	talking_set(l, false);
}

static void part_add(struct leg *l)
{
	struct mixer_part_cfg cfg = {
		.in_codec = l->p.codec,
		.in_pt = l->p.pt,
		.in_ptime = l->p.ptime,
		.out_codec = l->p.codec,
		.muted = l->room_muted,
		.volume = l->room_volume,
		.user = l,
	};
	int rc = mixer_add(l->room->mix, &cfg, &l->mix_id);
	if (rc) {
		log_warn("media: leg %u: not mixed in room %u: %s", l->id, l->room->id, strerror(rc));
		l->mix_id = 0;
		return;
	}
	l->mix_codec = l->p.codec;
	l->mix_pt = l->p.pt;
	l->mix_ptime = l->p.ptime;
}

void room_leg_update(struct leg *l)
{
	if (!l->room)
		return;
	bool want = mixable(l);
	if (l->mix_id && (!want || l->mix_codec != l->p.codec || l->mix_pt != l->p.pt ||
			  l->mix_ptime != l->p.ptime))
		part_remove(l);
	if (want && !l->mix_id)
		part_add(l);
}

void room_join(struct room *r, struct leg *l, bool muted)
{
	if (l->room == r) {
		room_mute(l, muted);
		return;
	}
	room_leave(l);
	l->room = r;
	l->rprev = NULL;
	l->rnext = r->members;
	if (r->members)
		r->members->rprev = l;
	r->members = l;
	r->n++;
	l->room_muted = muted;
	l->room_volume = 0;
	l->talking = false;
	l->room_serial++;
	l->room_seq = 0;
	l->room_ts = 0;
	room_leg_update(l);
}

void room_leave(struct leg *l)
{
	struct room *r = l->room;
	if (!r)
		return;
	part_remove(l);
	if (l->rprev)
		l->rprev->rnext = l->rnext;
	else
		r->members = l->rnext;
	if (l->rnext)
		l->rnext->rprev = l->rprev;
	l->rprev = l->rnext = NULL;
	l->room = NULL;
	r->n--;
}

void room_mute(struct leg *l, bool muted)
{
	if (!l->room)
		return;
	l->room_muted = muted;
	/* the mixer reports the end of the talking on its next tick */
	if (l->mix_id)
		mixer_set_mute(l->room->mix, l->mix_id, muted);
}

void room_volume(struct leg *l, int volume)
{
	if (!l->room || volume < MIXER_VOL_MIN || volume > MIXER_VOL_MAX)
		return;
	if (l->mix_id) {
		int rc = mixer_set_volume(l->room->mix, l->mix_id, volume);
		if (rc) {
			log_warn("media: leg %u: volume %d: %s", l->id, volume, strerror(rc));
			return;
		}
	}
	l->room_volume = volume;
}

void room_free(struct room *r)
{
	/* bounded: each pass takes one member off */
	while (r->members)
		room_leave(r->members);
	struct media_thread *t = r->t;
	if (r->prev)
		r->prev->next = r->next;
	else
		t->rooms = r->next;
	if (r->next)
		r->next->prev = r->prev;
	room_discard(r);
}

/* --------------------------------------------------------- packets, tick */

void room_put(struct leg *l, const struct rtp_hdr *h)
{
	if (!l->mix_id)
		return;
	/* another payload type (comfort noise) or a full jitter buffer: the
	 * mixer ignores and counts it */
	(void)mixer_put(l->room->mix, l->mix_id, h, h->payload, h->payload_len, l->t->now_ms);
}

/* Every member's timestamp moves on by ticks of 20 ms. */
static void members_advance(struct room *r, uint64_t ticks)
{
	for (struct leg *l = r->members; l; l = l->rnext)
		l->room_ts += (uint32_t)(ticks * (leg_rtp_clock(l) / (1000 / MIXER_TICK_MS)));
}

static void room_send(const struct mixer_out *out, uint64_t at)
{
	for (size_t i = 0; i < out->n_pkts; i++) {
		const struct mixer_packet *pkt = &out->pkts[i];
		for (size_t k = 0; k < pkt->n_to; k++) {
			struct leg *l = pkt->to[k].user;
			if (!leg_hears(l) || l->p.codec != pkt->codec)
				continue;
			leg_send_frame(l, LEG_SRC_ROOM, l->room_serial, l->room_seq++, l->room_ts,
				       pkt->payload, pkt->len, at);
		}
	}
	for (size_t i = 0; i < out->n_changes; i++)
		talking_set(out->changes[i].user, out->changes[i].speaking);
}

void room_tick(struct room *r, uint64_t now, uint64_t skipped)
{
	unsigned frames = r->t->tick_frames;
	/* bounded: tick_frames is at most MEDIA_CATCHUP_MAX */
	for (unsigned k = 0; k < frames; k++) {
		uint64_t at = now - (uint64_t)(frames - 1 - k) * MIXER_TICK_MS;
		struct mixer_out out;
		if (mixer_tick(r->mix, at, &out))
			break;
		room_send(&out, at);
		members_advance(r, 1);
	}
	if (skipped)
		members_advance(r, skipped);
}
