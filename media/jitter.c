/*
 * jitter.c: adaptive jitter buffer (see jitter.h for the behaviour).
 *
 * Packets live in a ring of slots indexed by sequence number modulo the
 * capacity (a power of two), so insertion, duplicate detection and lookup
 * are O(1); only packets in [next_seq, next_seq + capacity) are held, which
 * keeps the indices unique. Playout runs on timestamps: play_ts is the start
 * of the audio the current tick covers, and a packet is due when its
 * timestamp falls inside the tick. Sequence numbers tell loss (a gap) from a
 * sender's silence (timestamps jump, sequence numbers do not).
 */
#include "jitter.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct jb_slot {
	bool used;
	uint16_t seq;
	uint32_t ts;
	uint32_t dur;
	uint32_t len;
	uint8_t *data; /* max_payload bytes inside jb->store */
};

struct jb {
	struct jb_cfg cfg;
	uint32_t frame_ts;     /* timestamp units per tick */
	uint32_t min_ts, max_ts; /* target bounds in timestamp units */
	uint32_t mask;         /* capacity - 1 */
	struct jb_slot *slots;
	uint8_t *store;
	unsigned count;        /* slots in use */

	bool anchored;         /* next_seq/play_ts are set from a packet */
	bool playing;          /* past the initial buffering */
	uint16_t next_seq;     /* first sequence number not yet played */
	uint32_t play_ts;      /* start of the audio of the current tick */
	bool covered;          /* covered_until is meaningful */
	uint32_t covered_until; /* end of the last packet played */
	uint16_t high_seq;     /* newest held packet */
	uint32_t high_end;     /* latest end timestamp held */
	uint64_t played_mask;  /* bit i: next_seq - 1 - i was played */
	unsigned wait_ticks;   /* ticks spent buffering */
	unsigned empty_ticks;  /* consecutive ticks with nothing held */
	bool have_prev;        /* idle after playing: what was played last */
	uint16_t prev_next;
	uint64_t prev_mask;

	/* jitter estimate: transit times of recent packets, in timestamp
	 * units on an extended (64-bit) timestamp axis */
	int64_t transit[JB_WINDOW];
	unsigned win_n, win_pos;
	bool have_ext;
	uint32_t last_ts;
	int64_t ext_ts;
	uint32_t target_ts;
	uint32_t est_ts;       /* what the window asks for right now */

	/* shrinking */
	unsigned shrink_ticks; /* ticks per shrink window */
	unsigned level_ticks;
	uint32_t min_level;
	bool drop_one;

	struct jb_stats st;
};

static int32_t seq_diff(uint16_t a, uint16_t b) { return (int16_t)(uint16_t)(b - a); }
static int32_t ts_diff(uint32_t a, uint32_t b) { return (int32_t)(b - a); }

static uint32_t ms_to_ts(const struct jb *jb, uint32_t ms)
{
	return (uint32_t)((uint64_t)ms * jb->cfg.clock_rate / 1000u);
}

static uint32_t ts_to_ms(const struct jb *jb, uint32_t ts)
{
	return (uint32_t)((uint64_t)ts * 1000u / jb->cfg.clock_rate);
}

int jb_new(struct jb **out, const struct jb_cfg *cfg)
{
	if (!out || !cfg || cfg->clock_rate == 0 || cfg->clock_rate > 384000)
		return EINVAL;
	struct jb_cfg c = *cfg;
	if (!c.tick_ms)
		c.tick_ms = 20;
	if (!c.min_delay_ms)
		c.min_delay_ms = c.tick_ms;
	if (!c.max_delay_ms)
		c.max_delay_ms = 200;
	if (!c.capacity)
		c.capacity = 64;
	if (!c.max_payload)
		c.max_payload = 1500;
	if (!c.shrink_ms)
		c.shrink_ms = 2000;
	if (c.tick_ms > 1000 || (uint64_t)c.clock_rate * c.tick_ms % 1000 != 0 ||
	    c.min_delay_ms > c.max_delay_ms || c.max_delay_ms > 10000 ||
	    c.capacity > JB_MAX_CAPACITY || c.max_payload > 65536 || c.shrink_ms > 600000)
		return EINVAL;
	uint32_t cap = 1;
	while (cap < c.capacity)
		cap <<= 1;
	c.capacity = cap;

	struct jb *jb = calloc(1, sizeof(*jb));
	if (!jb)
		return ENOMEM;
	jb->cfg = c;
	jb->slots = calloc(cap, sizeof(*jb->slots));
	jb->store = malloc((size_t)cap * c.max_payload);
	if (!jb->slots || !jb->store) {
		jb_free(jb);
		return ENOMEM;
	}
	for (uint32_t i = 0; i < cap; i++)
		jb->slots[i].data = jb->store + (size_t)i * c.max_payload;
	jb->mask = cap - 1;
	jb->frame_ts = ms_to_ts(jb, c.tick_ms);
	jb->min_ts = ms_to_ts(jb, c.min_delay_ms);
	jb->max_ts = ms_to_ts(jb, c.max_delay_ms);
	jb->target_ts = jb->min_ts;
	jb->est_ts = jb->min_ts;
	jb->shrink_ticks = c.shrink_ms / c.tick_ms ? c.shrink_ms / c.tick_ms : 1;
	jb->min_level = UINT32_MAX;
	*out = jb;
	return 0;
}

void jb_free(struct jb *jb)
{
	if (!jb)
		return;
	free(jb->slots);
	free(jb->store);
	free(jb);
}

static void flush(struct jb *jb)
{
	for (uint32_t i = 0; i <= jb->mask; i++)
		jb->slots[i].used = false;
	jb->count = 0;
	jb->anchored = false;
	jb->playing = false;
	jb->covered = false;
	jb->played_mask = 0;
	jb->wait_ticks = 0;
	jb->empty_ticks = 0;
	jb->drop_one = false;
	jb->level_ticks = 0;
	jb->min_level = UINT32_MAX;
}

void jb_reset(struct jb *jb)
{
	if (jb) {
		flush(jb);
		jb->have_prev = false;
	}
}

/* ------------------------------------------------------------ estimate */

static uint32_t round_up_frames(const struct jb *jb, uint64_t v)
{
	uint64_t f = jb->frame_ts;
	return (uint32_t)((v + f - 1) / f * f);
}

/* Record one arrival and recompute what delay the window asks for: the
 * spread of transit times (how much later than the earliest packet the
 * latest one came, relative to their timestamps) plus one tick for the
 * phase of the tick against arrivals. */
static void estimate(struct jb *jb, uint32_t ts, uint64_t now_ms)
{
	if (!jb->have_ext) {
		jb->ext_ts = ts;
		jb->have_ext = true;
	} else {
		jb->ext_ts += ts_diff(jb->last_ts, ts);
	}
	jb->last_ts = ts;
	uint64_t sec = now_ms / 1000, rem = now_ms % 1000;
	int64_t arrival = (int64_t)(sec * jb->cfg.clock_rate + rem * jb->cfg.clock_rate / 1000);
	jb->transit[jb->win_pos] = arrival - jb->ext_ts;
	jb->win_pos = (jb->win_pos + 1) % JB_WINDOW;
	if (jb->win_n < JB_WINDOW)
		jb->win_n++;
	/* the spread from the earliest to the third-latest packet: one or two
	 * stragglers in a window should cost those packets, not everybody's
	 * delay */
	int64_t lo = INT64_MAX, h1 = INT64_MIN, h2 = INT64_MIN, h3 = INT64_MIN;
	for (unsigned i = 0; i < jb->win_n; i++) {
		int64_t v = jb->transit[i];
		if (v < lo)
			lo = v;
		if (v > h1) {
			h3 = h2;
			h2 = h1;
			h1 = v;
		} else if (v > h2) {
			h3 = h2;
			h2 = v;
		} else if (v > h3) {
			h3 = v;
		}
	}
	int64_t hi = jb->win_n >= 32 ? h3 : h1;
	uint64_t spread = (uint64_t)(hi - lo);
	uint64_t want = spread >= jb->max_ts ? jb->max_ts : round_up_frames(jb, spread) + jb->frame_ts;
	if (want < jb->min_ts)
		want = jb->min_ts;
	if (want > jb->max_ts)
		want = jb->max_ts;
	jb->est_ts = (uint32_t)want;
	if (jb->est_ts > jb->target_ts)
		jb->target_ts = jb->est_ts; /* grow at once */
}

static void clear_window(struct jb *jb)
{
	jb->win_n = 0;
	jb->win_pos = 0;
	jb->have_ext = false;
}

/* ----------------------------------------------------------------- put */

static void anchor(struct jb *jb, uint16_t seq, uint32_t ts)
{
	jb->anchored = true;
	jb->next_seq = seq;
	jb->play_ts = ts;
	jb->high_seq = seq;
	jb->wait_ticks = 0;
}

static void store(struct jb *jb, uint16_t seq, uint32_t ts, uint32_t dur, const uint8_t *payload,
		  size_t len)
{
	struct jb_slot *s = &jb->slots[seq & jb->mask];
	s->used = true;
	s->seq = seq;
	s->ts = ts;
	s->dur = dur;
	s->len = (uint32_t)len;
	if (len)
		memcpy(s->data, payload, len);
	uint32_t end = ts + dur;
	if (jb->count == 0 || ts_diff(jb->high_end, end) > 0)
		jb->high_end = end;
	if (jb->count == 0 || seq_diff(jb->high_seq, seq) > 0)
		jb->high_seq = seq;
	jb->count++;
}

/* A jump this far (sequence numbers as in RFC 3550 A.1, or timestamps by
 * more than 10 s beyond what the buffer can hold) means the stream was
 * restarted or the sender jumped; start over rather than wait for it. */
#define JB_MAX_DROPOUT 3000

static bool is_jump(const struct jb *jb, int32_t dseq, int32_t dts)
{
	int64_t span_ts = 10 * (int64_t)jb->cfg.clock_rate + (int64_t)(jb->mask + 1) * jb->frame_ts;
	return dseq > JB_MAX_DROPOUT || dseq < -JB_MAX_DROPOUT || dts > span_ts || dts < -span_ts;
}

int jb_put(struct jb *jb, uint16_t seq, uint32_t ts, uint32_t dur, const uint8_t *payload,
	   size_t len, uint64_t now_ms)
{
	if (!jb || (len && !payload))
		return EINVAL;
	if (len > jb->cfg.max_payload)
		return EMSGSIZE;
	if (dur == 0)
		dur = jb->frame_ts;
	if (dur > jb->cfg.clock_rate)
		dur = jb->cfg.clock_rate; /* no packet holds more than a second */
	jb->st.received++;

	if (!jb->anchored) {
		if (jb->have_prev) {
			/* stragglers of the talkspurt that went idle */
			int32_t d = seq_diff(jb->prev_next, seq);
			if (d < 0 && d >= -64) {
				if (jb->prev_mask >> (-d - 1) & 1) {
					jb->st.duplicate++;
					return EALREADY;
				}
				jb->st.late++;
				return ETIME;
			}
			jb->have_prev = false;
		}
		anchor(jb, seq, ts);
		estimate(jb, ts, now_ms);
		store(jb, seq, ts, dur, payload, len);
		return 0;
	}
	int32_t dseq = seq_diff(jb->next_seq, seq);
	int32_t dts = ts_diff(jb->play_ts, ts);
	if (is_jump(jb, dseq, dts)) {
		jb->st.resyncs++;
		flush(jb);
		jb->have_prev = false;
		clear_window(jb);
		anchor(jb, seq, ts);
		estimate(jb, ts, now_ms);
		store(jb, seq, ts, dur, payload, len);
		return 0;
	}
	if (dseq < 0) {
		if (jb->playing) {
			/* behind the playout point: seen before, or too late */
			if (-dseq <= 64 && (jb->played_mask >> (-dseq - 1) & 1)) {
				jb->st.duplicate++;
				return EALREADY;
			}
			estimate(jb, ts, now_ms); /* lateness is what jitter is */
			jb->st.late++;
			return ETIME;
		}
		/* still buffering: an earlier packet came second; start there
		 * when the newest still fits behind it */
		if (jb->count && seq_diff(seq, jb->high_seq) > (int32_t)jb->mask) {
			jb->st.overflow++;
			return ENOBUFS;
		}
		jb->next_seq = seq;
		jb->play_ts = ts;
		dseq = 0;
	}
	if (dseq > (int32_t)jb->mask) {
		jb->st.overflow++;
		return ENOBUFS;
	}
	struct jb_slot *sl = &jb->slots[seq & jb->mask];
	if (sl->used) {
		/* within the window indices are unique: same slot, same seq */
		jb->st.duplicate++;
		return EALREADY;
	}
	estimate(jb, ts, now_ms);
	if (jb->playing && ts_diff(jb->play_ts, ts + dur) <= 0) {
		jb->st.late++;
		return ETIME;
	}
	store(jb, seq, ts, dur, payload, len);
	return 0;
}

/* ----------------------------------------------------------------- get */

/* Move next_seq to seq, giving up on everything before it. */
static void advance_to(struct jb *jb, uint16_t seq)
{
	int32_t n = seq_diff(jb->next_seq, seq);
	for (int32_t i = 0; i < n && i <= (int32_t)jb->mask; i++) {
		uint16_t s = (uint16_t)(jb->next_seq + i);
		struct jb_slot *sl = &jb->slots[s & jb->mask];
		if (sl->used && sl->seq == s) {
			sl->used = false;
			jb->count--;
		}
		jb->st.lost++;
	}
	jb->played_mask = n >= 64 ? 0 : jb->played_mask << n;
	jb->next_seq = seq;
}

/* The held packet with the lowest sequence number, or NULL. */
static struct jb_slot *head(struct jb *jb)
{
	if (jb->count == 0)
		return NULL;
	int32_t span = seq_diff(jb->next_seq, jb->high_seq);
	for (int32_t i = 0; i <= span && i <= (int32_t)jb->mask; i++) {
		uint16_t s = (uint16_t)(jb->next_seq + i);
		struct jb_slot *sl = &jb->slots[s & jb->mask];
		if (sl->used && sl->seq == s)
			return sl;
	}
	return NULL;
}

/* Take the packet out of its slot as the next one played. */
static void take(struct jb *jb, struct jb_slot *sl)
{
	advance_to(jb, sl->seq);
	sl->used = false;
	jb->count--;
	jb->played_mask = jb->played_mask << 1 | 1;
	jb->next_seq = (uint16_t)(sl->seq + 1);
}

/* Once per shrink window: let the target come down one tick towards what
 * the window asks for, and drop a frame if the buffer never went below
 * target + one tick. */
static void shrink_check(struct jb *jb, uint32_t level)
{
	if (level < jb->min_level)
		jb->min_level = level;
	if (++jb->level_ticks < jb->shrink_ticks)
		return;
	if (jb->est_ts < jb->target_ts) {
		uint32_t t = jb->target_ts - jb->frame_ts;
		jb->target_ts = t > jb->est_ts ? t : jb->est_ts;
		if (jb->target_ts < jb->min_ts)
			jb->target_ts = jb->min_ts;
	}
	if (jb->min_level != UINT32_MAX && jb->min_level >= jb->target_ts + jb->frame_ts)
		jb->drop_one = true;
	jb->level_ticks = 0;
	jb->min_level = UINT32_MAX;
}

void jb_get(struct jb *jb, struct jb_frame *out)
{
	memset(out, 0, sizeof(*out));
	out->status = JB_SILENCE;
	if (!jb || !jb->anchored)
		return;

	if (!jb->playing) {
		if (jb->count == 0)
			return;
		/* the first packet waits the target delay */
		jb->wait_ticks++;
		if ((uint64_t)jb->wait_ticks * jb->frame_ts <= jb->target_ts)
			return;
		jb->playing = true;
		jb->covered = false;
		jb->empty_ticks = 0;
		jb->level_ticks = 0;
		jb->min_level = UINT32_MAX;
	}

	int32_t lv = jb->count ? ts_diff(jb->play_ts, jb->high_end) : 0;
	uint32_t level = lv > 0 ? (uint32_t)lv : 0;
	jb->st.level_ms = ts_to_ms(jb, level);
	shrink_check(jb, level);

	struct jb_slot *h = head(jb);
	if (jb->drop_one && level < jb->target_ts + jb->frame_ts)
		jb->drop_one = false; /* the surplus is gone by itself */
	if (h && jb->drop_one && ts_diff(jb->play_ts, h->ts) < (int32_t)jb->frame_ts) {
		/* shrink: skip the due packet; the next one plays now */
		take(jb, h);
		jb->st.dropped++;
		jb->play_ts = h->ts + h->dur;
		jb->drop_one = false;
		h = head(jb);
	}
	if (h && ts_diff(jb->play_ts, h->ts) < (int32_t)jb->frame_ts) {
		take(jb, h);
		out->status = JB_FRAME;
		out->payload = h->data;
		out->len = h->len;
		out->seq = h->seq;
		out->ts = h->ts;
		out->dur = h->dur;
		jb->covered = true;
		jb->covered_until = h->ts + h->dur;
		/* follow the stream's own timestamp grid */
		jb->play_ts = h->ts + jb->frame_ts;
		jb->empty_ticks = 0;
		jb->st.played++;
		return;
	}
	if (jb->covered && ts_diff(jb->play_ts, jb->covered_until) > 0) {
		out->status = JB_NONE;
		jb->play_ts += jb->frame_ts;
		return;
	}
	if (h && h->seq == jb->next_seq) {
		/* In sequence but not due: the timestamps jumped while the
		 * sequence numbers did not, so the sender paused (or jumped
		 * its clock). */
		int64_t ahead = ts_diff(jb->play_ts, h->ts);
		if (jb->empty_ticks) {
			/* after an underrun: the ticks held for a late packet were
			 * really the sender's silence. Start this talkspurt afresh
			 * with the target delay instead of keeping the held time
			 * as extra delay. */
			jb->empty_ticks = 0;
			jb->playing = false;
			jb->wait_ticks = 1; /* this tick is the first one waited */
			jb->play_ts = h->ts;
			return;
		}
		if (ahead > (int64_t)jb->max_ts + jb->frame_ts || jb->count > jb->mask) {
			/* further ahead than any delay we keep, or the buffer is
			 * full: a gap not worth waiting out; play it next tick */
			jb->play_ts = h->ts;
			return;
		}
		jb->play_ts += jb->frame_ts;
		return;
	}
	if (h) {
		/* packets are missing before the next one held: conceal */
		jb->empty_ticks = 0;
		jb->play_ts += jb->frame_ts;
		out->status = JB_LOST;
		jb->st.concealed++;
		return;
	}
	/* nothing held: the next packet is late, lost or the sender stopped.
	 * Hold the playout point so a late packet still plays (the delay
	 * grows by a tick); after max_delay of nothing, start over. */
	jb->empty_ticks++;
	if ((uint64_t)jb->empty_ticks * jb->frame_ts > jb->max_ts + jb->frame_ts) {
		uint16_t next = jb->next_seq;
		uint64_t mask = jb->played_mask;
		flush(jb); /* the next packet buffers afresh */
		jb->have_prev = true;
		jb->prev_next = next;
		jb->prev_mask = mask;
		return;
	}
	out->status = JB_LOST;
	jb->st.concealed++;
}

void jb_get_stats(const struct jb *jb, struct jb_stats *out)
{
	*out = jb->st;
	out->target_ms = ts_to_ms(jb, jb->target_ts);
}
