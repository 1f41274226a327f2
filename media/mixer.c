/*
 * mixer.c: the conference mixer of one room (see mixer.h for what it does
 * and who may call it).
 *
 * DESIGN. A tick is six steps:
 *   1. input: every participant's received stream gives 20 ms (pcm_in.h:
 *      jitter buffer, decoder with PLC, FIFO) at the decoder's rate (8 kHz
 *      for G.711, 48 kHz for Opus), and the frame's level
 *      goes to its talker detector. G.711 is not resampled yet: most of a
 *      large room is silent and never needs 48 kHz.
 *   2. seats: the voiced participants (talker_voiced, not muted) are the
 *      talkers, at most max_talkers of them. When more want a seat, those
 *      already speaking (talker_speaking) come before those just starting,
 *      those seated on the last tick before newcomers, then the louder, so
 *      a talker is not pushed out by a newcomer's noise.
 *   3. sum: each talker's frame at 48 kHz (G.711 through its own speexdsp
 *      resampler, resample.h) is added into an int32 sum.
 *   4. talkers: each gets (sum - own frame) through its own limiter and
 *      encoder. The subtraction is exact integer arithmetic before any gain
 *      or limiting, so not a trace of the talker's own signal is left.
 *   5. groups: everybody else is a listener in the group of its output
 *      codec and listen volume; each group with a listener renders the sum
 *      once (volume, limiter) and encodes it once, and all its listeners
 *      are given that payload.
 *   6. tails: a talker who has just left the mix is sent its group's frame
 *      through its own encoder, for this one tick (see below).
 *
 * Limiter (one per group, one per participant for its own mix): a smooth
 * gain first, a soft clipper after it. The gain is set per frame from the
 * frame's peak so that the peak lands on the knee (-2.5 dBFS); it falls to
 * that value over the first millisecond of the frame (the whole frame is
 * known before it is sent: 20 ms of look-ahead for free) and comes back at
 * most 0.5 dB a tick, linearly across the frame, so it never steps. What
 * the falling ramp leaves above the knee in that first millisecond goes
 * through a tanh curve from the knee towards full scale, which it never
 * reaches: no sample wraps or is cut flat. A hard clip or a wrap at full
 * scale would add loud harmonics (and a wrap flips the sign); a sum divided
 * by the talker count would make every voice drop when someone coughs.
 *
 * Moving between a group's mix and one's own: the phone hears one stream
 * whose encoder changes under it, and an encoder's state is its last few
 * milliseconds of input (the 48 -> 8 kHz resampler's history for G.711, the
 * look-ahead and predictors for Opus). So both encoders are made to have
 * coded the same frame before the phone moves from one to the other:
 *   - into the mix: the talker's own encoder first codes, and throws away,
 *     the group's frame of the last tick, which the phone heard ("prime");
 *   - out of the mix: the talker is sent its group's frame through its own
 *     encoder for one tick (a "tail"), which the group's encoder codes too;
 *     going straight over would hand the phone an encoder whose last frame
 *     held the talker's own voice, which it never heard;
 *   - a group whose encoder sat idle while its frame went out only through
 *     tails is primed with that frame before its listeners come back.
 * For G.711 the bytes a phone receives are then exactly those of one
 * encoder fed without a break (t_mixer checks it); for Opus the decoder
 * goes on from the same audio. The limiter's gain moves along. A G.711
 * talker's upsampler, when it was not fed on the last tick, is primed the
 * same way with the 8 kHz frame before. A listener whose volume changes
 * moves to another group's encoder without this care: its level steps
 * there anyway.
 *
 * Ids are the slot in the low MIXER_SLOT_BITS bits and a per-slot
 * generation above, so a stale id is refused in O(1).
 */
#include "mixer.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <opus.h>

#include "codec.h"
#include "jitter.h"
#include "pcm_in.h"
#include "resample.h"

#define MIXER_SLOT_BITS 10
#define MIXER_SLOT_MASK ((1u << MIXER_SLOT_BITS) - 1)
#define MIXER_GEN_MAX (UINT32_MAX >> MIXER_SLOT_BITS)
#define MIXER_CODECS 3
#define MIXER_VOLS (MIXER_VOL_MAX - MIXER_VOL_MIN + 1)
#define MIXER_GROUPS (MIXER_CODECS * MIXER_VOLS)
#define MIXER_OWN (2 * MIXER_MAX_TALKERS) /* own mixes a tick: talkers and tails */
#define MIXER_PKTS (MIXER_GROUPS + MIXER_OWN)

#define G711_RATE 8000
#define G711_FRAME (G711_RATE / 1000 * MIXER_TICK_MS)

#define LIM_KNEE 24576.0f        /* -2.5 dBFS: the gain aims the peak here */
#define LIM_FULL 32767.0f
#define LIM_ATTACK 48            /* samples (1 ms) for the gain to fall */
#define LIM_RELEASE 1.0592537f   /* 0.5 dB: the most the gain rises in a tick */

_Static_assert(MIXER_MAX <= (1u << MIXER_SLOT_BITS), "slot bits");
_Static_assert(MIXER_FRAME % G711_FRAME == 0, "whole resampling ratio");
_Static_assert(MIXER_TICK_MS == PCM_IN_TICK_MS, "one decoded frame a tick");

struct limiter {
	float gain;                 /* at the end of the last frame, <= 1 */
};

/* One output codec at one listen volume. */
struct group {
	enum sdp_codec codec;
	int volume;
	float vol_gain;
	unsigned members;           /* participants with this codec and volume */
	struct codec_enc *enc;      /* while members > 0 */
	struct limiter lim;
	unsigned listeners;         /* this tick: members sent its payload */
	unsigned tails;             /* this tick: members sent its frame by their own encoder */
	size_t dest_off;            /* this tick: its listeners in m->dests */
	int16_t pcm[MIXER_FRAME];   /* what it rendered on tick pcm_tick */
	uint64_t pcm_tick;          /* 0: never */
	uint64_t enc_tick;          /* its encoder last coded (or was primed with) a frame */
	uint8_t payload[CODEC_MAX_PAYLOAD];
};

struct part {
	uint32_t id;
	void *user;
	unsigned slot;
	unsigned live;              /* index in m->live */
	enum sdp_codec in_codec, out_codec;
	bool muted;
	int volume;
	unsigned group;

	/* input */
	uint32_t dec_rate;          /* 8000 (G.711) or 48000 (Opus) */
	struct pcm_in *in;          /* what it sends, decoded */
	struct resample *up;        /* G.711: 8 -> 48 kHz */
	int16_t frame[MIXER_FRAME]; /* this tick's input at dec_rate */
	int16_t prev8[G711_FRAME];  /* G.711: the tick before's, to prime the upsampler */
	int16_t x48[MIXER_FRAME];   /* G.711 talker: frame at 48 kHz */
	const int16_t *contrib;     /* talker: its 48 kHz frame in the sum */
	uint64_t up_tick;           /* the upsampler was last fed on this tick */
	uint64_t added_tick;        /* m->ticks when it was added: first sent on the next */

	struct talker talk;
	bool was_speaking;          /* as last reported */
	bool mixed, was_mixed;      /* a talker on this tick, on the one before */
	bool tail;                  /* this tick: just left the mix, see own_tails */

	/* own mix */
	struct codec_enc *enc;
	struct limiter lim;
	int16_t out_pcm[MIXER_FRAME]; /* what its own encoder coded on tick own_tick */
	uint64_t own_tick;          /* 0: never */
};

struct mixer {
	struct mixer_cfg cfg;
	struct part **slots;        /* max_participants */
	uint32_t *gen;              /* per slot: generation of its next id */
	unsigned *free_slots;       /* stack */
	unsigned n_free;
	struct part **live;         /* the participants, in no order */
	unsigned n_live;
	struct part **cand;         /* scratch: voiced participants */
	struct group groups[MIXER_GROUPS];
	struct part *talkers[MIXER_MAX_TALKERS];
	unsigned n_talkers;

	int32_t sum[MIXER_FRAME];
	float work[MIXER_FRAME];
	int16_t pcm[MIXER_FRAME];
	uint8_t scratch[CODEC_MAX_PAYLOAD]; /* primes' output, thrown away */
	uint8_t own_payload[MIXER_OWN][CODEC_MAX_PAYLOAD];
	unsigned n_own;             /* this tick */

	struct mixer_packet pkts[MIXER_PKTS];
	struct mixer_dest *dests;   /* max_participants */
	struct mixer_change *changes; /* max_participants */

	uint64_t ticks;
	struct mixer_stats st;
};

/* ------------------------------------------------------------- helpers */

static int codec_index(enum sdp_codec c)
{
	switch (c) {
	case SDP_CODEC_PCMU:
		return 0;
	case SDP_CODEC_PCMA:
		return 1;
	case SDP_CODEC_OPUS:
		return 2;
	default:
		return -1;
	}
}

static unsigned group_index(enum sdp_codec c, int volume)
{
	return (unsigned)codec_index(c) * MIXER_VOLS + (unsigned)(volume - MIXER_VOL_MIN);
}

static bool volume_ok(int v)
{
	return v >= MIXER_VOL_MIN && v <= MIXER_VOL_MAX;
}

static struct part *find(const struct mixer *m, uint32_t id)
{
	if (!m || !id)
		return NULL;
	unsigned slot = id & MIXER_SLOT_MASK;
	if (slot >= m->cfg.max_participants)
		return NULL;
	struct part *p = m->slots[slot];
	return p && p->id == id ? p : NULL;
}

/* The frame was encoded on the tick before this one. */
static bool fresh(const struct mixer *m, uint64_t tick)
{
	return tick != 0 && tick + 1 == m->ticks;
}

/* ------------------------------------------------------------- groups */

/* One more member of group gi; its encoder is made with the first. */
static int group_ref(struct mixer *m, unsigned gi)
{
	struct group *g = &m->groups[gi];
	if (g->members == 0) {
		int rc = codec_enc_new(&g->enc, g->codec, MIXER_RATE);
		if (rc)
			return rc;
		g->lim.gain = 1;
		g->pcm_tick = 0;
		g->enc_tick = 0;
	}
	g->members++;
	return 0;
}

static void group_unref(struct mixer *m, unsigned gi)
{
	struct group *g = &m->groups[gi];
	if (g->members == 0 || --g->members > 0)
		return;
	codec_enc_free(g->enc);
	g->enc = NULL;
	g->pcm_tick = 0;
	g->enc_tick = 0;
}

/* ------------------------------------------------------------ create */

int mixer_new(struct mixer **out, const struct mixer_cfg *cfg)
{
	if (!out)
		return EINVAL;
	struct mixer_cfg c = { 0 };
	if (cfg)
		c = *cfg;
	if (!c.max_participants)
		c.max_participants = MIXER_MAX;
	if (!c.max_talkers)
		c.max_talkers = MIXER_DEF_TALKERS;
	struct talker probe;
	if (c.max_participants > MIXER_MAX || c.max_talkers > MIXER_MAX_TALKERS ||
	    talker_init(&probe, &c.talker))
		return EINVAL;
	c.talker = probe.cfg;

	struct mixer *m = calloc(1, sizeof(*m));
	if (!m)
		return ENOMEM;
	m->cfg = c;
	unsigned n = c.max_participants;
	m->slots = calloc(n, sizeof(*m->slots));
	m->gen = calloc(n, sizeof(*m->gen));
	m->free_slots = calloc(n, sizeof(*m->free_slots));
	m->live = calloc(n, sizeof(*m->live));
	m->cand = calloc(n, sizeof(*m->cand));
	m->dests = calloc(n, sizeof(*m->dests));
	m->changes = calloc(n, sizeof(*m->changes));
	if (!m->slots || !m->gen || !m->free_slots || !m->live || !m->cand || !m->dests ||
	    !m->changes) {
		mixer_free(m);
		return ENOMEM;
	}
	/* slot 0 on top of the stack */
	for (unsigned i = 0; i < n; i++) {
		m->free_slots[i] = n - 1 - i;
		m->gen[i] = 1;
	}
	m->n_free = n;
	static const enum sdp_codec codecs[MIXER_CODECS] = { SDP_CODEC_PCMU, SDP_CODEC_PCMA,
							     SDP_CODEC_OPUS };
	for (unsigned ci = 0; ci < MIXER_CODECS; ci++)
		for (int v = MIXER_VOL_MIN; v <= MIXER_VOL_MAX; v++) {
			struct group *g = &m->groups[group_index(codecs[ci], v)];
			g->codec = codecs[ci];
			g->volume = v;
			g->vol_gain = powf(10.0f, (float)(v * MIXER_VOL_DB) / 20.0f);
			g->lim.gain = 1;
		}
	*out = m;
	return 0;
}

static void part_free(struct part *p)
{
	if (!p)
		return;
	pcm_in_free(p->in);
	resample_free(p->up);
	codec_enc_free(p->enc);
	free(p);
}

void mixer_free(struct mixer *m)
{
	if (!m)
		return;
	for (unsigned i = 0; i < m->n_live; i++)
		part_free(m->live[i]);
	for (unsigned gi = 0; gi < MIXER_GROUPS; gi++)
		codec_enc_free(m->groups[gi].enc);
	free(m->slots);
	free(m->gen);
	free(m->free_slots);
	free(m->live);
	free(m->cand);
	free(m->dests);
	free(m->changes);
	free(m);
}

/* --------------------------------------------------------- participants */

int mixer_add(struct mixer *m, const struct mixer_part_cfg *cfg, uint32_t *id)
{
	if (!m || !cfg || !id || codec_index(cfg->in_codec) < 0 || codec_index(cfg->out_codec) < 0 ||
	    cfg->in_pt > 127 || cfg->in_ptime > 200 || !volume_ok(cfg->volume))
		return EINVAL;
	if (m->n_free == 0)
		return ENOSPC;
	struct part *p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->user = cfg->user;
	p->in_codec = cfg->in_codec;
	p->out_codec = cfg->out_codec;
	p->muted = cfg->muted;
	p->volume = cfg->volume;
	p->group = group_index(cfg->out_codec, cfg->volume);
	p->dec_rate = cfg->in_codec == SDP_CODEC_OPUS ? MIXER_RATE : G711_RATE;
	p->lim.gain = 1;
	p->added_tick = m->ticks;
	(void)talker_init(&p->talk, &m->cfg.talker); /* checked by mixer_new */

	int rc = pcm_in_new(&p->in, cfg->in_codec, cfg->in_pt, cfg->in_ptime, p->dec_rate);
	if (!rc && p->dec_rate != MIXER_RATE)
		rc = resample_new(&p->up, p->dec_rate, MIXER_RATE, RESAMPLE_QUALITY);
	if (!rc)
		rc = codec_enc_new(&p->enc, p->out_codec, MIXER_RATE);
	if (rc)
		goto out;
	rc = group_ref(m, p->group);
	if (rc)
		goto out;

	unsigned slot = m->free_slots[--m->n_free];
	p->slot = slot;
	p->id = m->gen[slot] << MIXER_SLOT_BITS | slot;
	m->gen[slot] = m->gen[slot] >= MIXER_GEN_MAX ? 1 : m->gen[slot] + 1;
	m->slots[slot] = p;
	p->live = m->n_live;
	m->live[m->n_live++] = p;
	*id = p->id;
	return 0;
out:
	part_free(p);
	return rc;
}

int mixer_remove(struct mixer *m, uint32_t id)
{
	struct part *p = find(m, id);
	if (!p)
		return ENOENT;
	group_unref(m, p->group);
	struct part *last = m->live[--m->n_live];
	m->live[p->live] = last;
	last->live = p->live;
	m->slots[p->slot] = NULL;
	m->free_slots[m->n_free++] = p->slot;
	part_free(p);
	return 0;
}

int mixer_set_mute(struct mixer *m, uint32_t id, bool muted)
{
	struct part *p = find(m, id);
	if (!p)
		return ENOENT;
	p->muted = muted;
	return 0;
}

int mixer_set_volume(struct mixer *m, uint32_t id, int volume)
{
	struct part *p = find(m, id);
	if (!p)
		return ENOENT;
	if (!volume_ok(volume))
		return EINVAL;
	unsigned gi = group_index(p->out_codec, volume);
	if (gi == p->group)
		return 0;
	int rc = group_ref(m, gi);
	if (rc)
		return rc;
	group_unref(m, p->group);
	p->group = gi;
	p->volume = volume;
	return 0;
}

/* --------------------------------------------------------------- input */

int mixer_put(struct mixer *m, uint32_t id, const struct rtp_hdr *h, const uint8_t *payload,
	      size_t len, uint64_t now_ms)
{
	if (!m || !h || !payload || len == 0 || len > CODEC_MAX_PAYLOAD)
		return EINVAL;
	struct part *p = find(m, id);
	if (!p)
		return ENOENT;
	/* telephone-event, comfort noise, a full buffer: ignored (counted) */
	pcm_in_put(p->in, h, payload, len, now_ms);
	return 0;
}

/* This tick's frame into p->frame (dec_rate / 50 samples). */
static void pull(struct part *p)
{
	if (p->dec_rate == G711_RATE)
		memcpy(p->prev8, p->frame, sizeof(p->prev8));
	pcm_in_frame(p->in, p->frame);
}

/* --------------------------------------------------------------- seats */

/* Who keeps or gets a seat when there are too few: higher first. */
static bool seat_before(const struct part *a, const struct part *b)
{
	bool sa = talker_speaking(&a->talk), sb = talker_speaking(&b->talk);
	if (sa != sb)
		return sa;
	if (a->was_mixed != b->was_mixed)
		return a->was_mixed;
	return a->talk.level > b->talk.level;
}

static void choose_talkers(struct mixer *m)
{
	unsigned n = 0;
	for (unsigned i = 0; i < m->n_live; i++) {
		struct part *p = m->live[i];
		p->mixed = false;
		if (!p->muted && talker_voiced(&p->talk))
			m->cand[n++] = p;
	}
	unsigned seats = m->cfg.max_talkers;
	if (n > seats) {
		/* the best `seats` to the front, by selection (seats is small) */
		for (unsigned k = 0; k < seats; k++) {
			unsigned best = k;
			for (unsigned j = k + 1; j < n; j++)
				if (seat_before(m->cand[j], m->cand[best]))
					best = j;
			struct part *t = m->cand[k];
			m->cand[k] = m->cand[best];
			m->cand[best] = t;
		}
		m->st.seat_refused += n - seats;
		n = seats;
	}
	for (unsigned k = 0; k < n; k++) {
		m->cand[k]->mixed = true;
		m->talkers[k] = m->cand[k];
	}
	m->n_talkers = n;
}

/* A talker's frame at 48 kHz into the sum. */
static void add_talker(struct mixer *m, struct part *p)
{
	if (p->up) {
		if (!fresh(m, p->up_tick)) /* not fed on the last tick: fill its history */
			(void)resample_run(p->up, p->prev8, G711_FRAME, p->x48, MIXER_FRAME);
		if (resample_run(p->up, p->frame, G711_FRAME, p->x48, MIXER_FRAME) != MIXER_FRAME)
			memset(p->x48, 0, sizeof(p->x48));
		p->up_tick = m->ticks;
		p->contrib = p->x48;
	} else {
		p->contrib = p->frame;
	}
	for (size_t i = 0; i < MIXER_FRAME; i++)
		m->sum[i] += p->contrib[i];
}

/* -------------------------------------------------------------- output */

static float soft_clip(float y)
{
	float a = fabsf(y);
	if (a <= LIM_KNEE)
		return y;
	const float r = LIM_FULL - LIM_KNEE;
	float c = LIM_KNEE + r * tanhf((a - LIM_KNEE) / r);
	return y < 0 ? -c : c;
}

/*
 * (sum - self) at the volume gain through the limiter into out. self may be
 * NULL (a group's mix). Returns true when the limiter changed the frame.
 */
static bool render(struct mixer *m, const int16_t *self, float vol, struct limiter *lim,
		   int16_t *out)
{
	float *v = m->work;
	float peak = 0;
	for (size_t i = 0; i < MIXER_FRAME; i++) {
		/* exact: |sum| <= MIXER_MAX_TALKERS * 32768 */
		int32_t s = m->sum[i] - (self ? self[i] : 0);
		v[i] = (float)s * vol;
		float a = fabsf(v[i]);
		peak = a > peak ? a : peak;
	}
	float need = peak > LIM_KNEE ? LIM_KNEE / peak : 1.0f;
	float g0 = lim->gain;
	if (g0 >= 1.0f && need >= 1.0f) {
		for (size_t i = 0; i < MIXER_FRAME; i++)
			out[i] = (int16_t)lrintf(v[i]);
		return false;
	}
	if (need < g0) {
		/* fall within LIM_ATTACK samples, hold after */
		for (size_t i = 0; i < MIXER_FRAME; i++) {
			float g = i < LIM_ATTACK ? g0 + (need - g0) * (float)(i + 1) / LIM_ATTACK : need;
			out[i] = (int16_t)lrintf(soft_clip(v[i] * g));
		}
		lim->gain = need;
	} else {
		/* rise slowly, never above what this frame allows */
		float g1 = g0 * LIM_RELEASE;
		g1 = g1 > need ? need : g1;
		for (size_t i = 0; i < MIXER_FRAME; i++) {
			float g = g0 + (g1 - g0) * (float)(i + 1) / MIXER_FRAME;
			out[i] = (int16_t)lrintf(soft_clip(v[i] * g));
		}
		lim->gain = g1 >= 1.0f ? 1.0f : g1;
	}
	return true;
}

/* Encode and throw away the frame the phone heard last, so the encoder
 * goes on from it (see the top of the file). */
static void prime(struct mixer *m, struct codec_enc *e, const int16_t *pcm)
{
	if (codec_encode(e, pcm, MIXER_FRAME, m->scratch, sizeof(m->scratch)) < 0)
		m->st.encode_errors++;
	m->st.encodes_tick++;
	m->st.primes++;
}

static int encode(struct mixer *m, struct codec_enc *e, const int16_t *pcm, uint8_t *buf)
{
	int r = codec_encode(e, pcm, MIXER_FRAME, buf, CODEC_MAX_PAYLOAD);
	m->st.encodes_tick++;
	if (r <= 0)
		m->st.encode_errors++;
	return r;
}

/* Who is sent what this tick: talkers their own mix; those who have just
 * left the mix (tails) their group's frame through their own encoder, once;
 * the rest (listeners) their group's payload. Each group gets its run of
 * listeners at the front of m->dests; returns how many there are. */
static size_t count_listeners(struct mixer *m)
{
	for (unsigned gi = 0; gi < MIXER_GROUPS; gi++) {
		m->groups[gi].listeners = 0;
		m->groups[gi].tails = 0;
	}
	for (unsigned i = 0; i < m->n_live; i++) {
		struct part *p = m->live[i];
		p->tail = !p->mixed && p->was_mixed;
		if (p->tail)
			m->groups[p->group].tails++;
		else if (!p->mixed)
			m->groups[p->group].listeners++;
	}
	size_t off = 0;
	for (unsigned gi = 0; gi < MIXER_GROUPS; gi++) {
		m->groups[gi].dest_off = off;
		off += m->groups[gi].listeners;
	}
	return off;
}

/* pcm coded by p's own encoder, sent to p alone; dest at *n_dest. */
static void own_packet(struct mixer *m, struct part *p, size_t *n_pkts, size_t *n_dest)
{
	p->own_tick = m->ticks;
	if (m->n_own >= MIXER_OWN)
		return; /* cannot happen: talkers and tails are two tick's seats */
	uint8_t *buf = m->own_payload[m->n_own++];
	int r = encode(m, p->enc, p->out_pcm, buf);
	if (r <= 0)
		return;
	struct mixer_dest *d = &m->dests[(*n_dest)++];
	*d = (struct mixer_dest){ .id = p->id, .user = p->user };
	m->pkts[(*n_pkts)++] = (struct mixer_packet){
		.codec = p->out_codec, .shared = false, .volume = p->volume,
		.payload = buf, .len = (size_t)r, .to = d, .n_to = 1,
	};
}

/* Each talker's own mix. Runs before listener_mixes: a newly seated
 * talker is primed with its group's frame of the last tick, which that
 * overwrites. */
static void own_mixes(struct mixer *m, size_t *n_pkts, size_t *n_dest)
{
	for (unsigned k = 0; k < m->n_talkers; k++) {
		struct part *p = m->talkers[k];
		struct group *g = &m->groups[p->group];
		if (!p->was_mixed && !fresh(m, p->own_tick)) {
			/* it heard its group's payload on the last tick */
			p->lim.gain = 1;
			if (fresh(m, g->pcm_tick)) {
				prime(m, p->enc, g->pcm);
				p->lim = g->lim;
			}
		}
		if (render(m, p->contrib, g->vol_gain, &p->lim, p->out_pcm))
			m->st.limited++;
		own_packet(m, p, n_pkts, n_dest);
	}
}

/* One frame per group with listeners or tails, encoded once when it has
 * listeners and given to all of them. */
static void listener_mixes(struct mixer *m, size_t *n_pkts)
{
	for (unsigned gi = 0; gi < MIXER_GROUPS; gi++) {
		struct group *g = &m->groups[gi];
		if (!g->listeners && !g->tails)
			continue;
		if (g->listeners && !fresh(m, g->enc_tick) && fresh(m, g->pcm_tick)) {
			/* its encoder was idle while its frame went out through
			 * tails' encoders: go on from that frame */
			prime(m, g->enc, g->pcm);
		}
		if (render(m, NULL, g->vol_gain, &g->lim, g->pcm))
			m->st.limited++;
		g->pcm_tick = m->ticks;
		if (!g->listeners)
			continue;
		g->enc_tick = m->ticks;
		int r = encode(m, g->enc, g->pcm, g->payload);
		if (r <= 0)
			continue;
		m->st.groups++;
		m->pkts[(*n_pkts)++] = (struct mixer_packet){
			.codec = g->codec, .shared = true, .volume = g->volume, .payload = g->payload,
			.len = (size_t)r, .to = &m->dests[g->dest_off], .n_to = g->listeners,
		};
	}
	for (unsigned gi = 0; gi < MIXER_GROUPS; gi++)
		m->groups[gi].listeners = 0;
	for (unsigned i = 0; i < m->n_live; i++) {
		struct part *p = m->live[i];
		if (p->mixed || p->tail)
			continue;
		struct group *g = &m->groups[p->group];
		m->dests[g->dest_off + g->listeners++] = (struct mixer_dest){ .id = p->id,
									     .user = p->user };
	}
}

/*
 * Those who left the mix this tick hear their group's frame, but through
 * their own encoder, once: after it, that encoder and the group's have
 * coded the same frame, so the move to the group's payload on the next
 * tick is seamless (for G.711 exactly). Going straight to the group's
 * payload would hand the phone an encoder whose last frame held the
 * talker's own voice, which the talker never heard.
 */
static void own_tails(struct mixer *m, size_t *n_pkts, size_t *n_dest)
{
	for (unsigned i = 0; i < m->n_live; i++) {
		struct part *p = m->live[i];
		if (!p->tail)
			continue;
		struct group *g = &m->groups[p->group];
		memcpy(p->out_pcm, g->pcm, sizeof(p->out_pcm));
		p->lim = g->lim;
		m->st.tails++;
		own_packet(m, p, n_pkts, n_dest);
	}
}

int mixer_tick(struct mixer *m, uint64_t now_ms, struct mixer_out *out)
{
	(void)now_ms; /* the jitter buffers count ticks, not time */
	if (!m || !out)
		return EINVAL;
	m->ticks++;
	m->st.ticks = m->ticks;
	m->st.encodes_tick = 0;
	m->st.groups = 0;

	for (unsigned i = 0; i < m->n_live; i++) {
		struct part *p = m->live[i];
		pull(p);
		if (p->muted)
			talker_reset(&p->talk);
		else
			(void)talker_update(&p->talk,
					    talker_dbfs(p->frame, p->dec_rate / 1000 * MIXER_TICK_MS));
	}
	choose_talkers(m);
	memset(m->sum, 0, sizeof(m->sum));
	for (unsigned k = 0; k < m->n_talkers; k++)
		add_talker(m, m->talkers[k]);

	size_t n_pkts = 0, n_dest = count_listeners(m);
	m->n_own = 0;
	own_mixes(m, &n_pkts, &n_dest);
	listener_mixes(m, &n_pkts);
	own_tails(m, &n_pkts, &n_dest);

	size_t nc = 0;
	for (unsigned i = 0; i < m->n_live; i++) {
		struct part *p = m->live[i];
		bool sp = talker_speaking(&p->talk);
		if (sp != p->was_speaking)
			m->changes[nc++] = (struct mixer_change){ .id = p->id, .user = p->user,
								  .speaking = sp };
		p->was_speaking = sp;
		p->was_mixed = p->mixed;
	}

	m->st.participants = m->n_live;
	m->st.talkers = m->n_talkers;
	m->st.encodes += m->st.encodes_tick;
	out->pkts = m->pkts;
	out->n_pkts = n_pkts;
	out->changes = m->changes;
	out->n_changes = nc;
	return 0;
}

/* --------------------------------------------------------------- stats */

int mixer_heard(const struct mixer *m, uint32_t id, int16_t pcm[MIXER_FRAME])
{
	const struct part *p = find(m, id);
	if (!p || !pcm)
		return ENOENT;
	if (p->added_tick >= m->ticks)
		return ENODATA;
	const struct group *g = &m->groups[p->group];
	const int16_t *src = NULL;
	if (p->own_tick == m->ticks)
		src = p->out_pcm;
	else if (g->pcm_tick == m->ticks)
		src = g->pcm;
	if (!src)
		return ENODATA;
	memcpy(pcm, src, MIXER_FRAME * sizeof(*pcm));
	return 0;
}

int mixer_part_info(const struct mixer *m, uint32_t id, struct mixer_part_info *info)
{
	const struct part *p = find(m, id);
	if (!p || !info)
		return ENOENT;
	struct jb_stats js;
	pcm_in_stats(p->in, &js);
	*info = (struct mixer_part_info){
		.muted = p->muted,
		.volume = p->volume,
		.mixed = p->was_mixed,
		.speaking = talker_speaking(&p->talk),
		.state = p->talk.state,
		.level_dbfs = p->talk.level,
		.received = js.received,
		.late = js.late,
		.lost = js.lost,
		.concealed = js.concealed,
	};
	return 0;
}

void mixer_stats(const struct mixer *m, struct mixer_stats *out)
{
	if (!m || !out)
		return;
	*out = m->st;
	out->participants = m->n_live;
}
