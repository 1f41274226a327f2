/*
 * jitter.h: an adaptive jitter buffer for decoded legs.
 *
 * Packets go in as they arrive (sequence number, RTP timestamp, duration,
 * payload, arrival time); once per media tick (20 ms by default) jb_get says
 * what to play for that tick: a packet to decode, a lost frame to conceal,
 * nothing new because the last packet still covers this tick, or silence.
 * Reordered packets are put back in order, duplicates and packets whose
 * time has passed are dropped, and the buffer holds a bounded number of
 * packets of a bounded size (memory is allocated once, at creation).
 *
 * The target delay follows the spread of packet transit times over the
 * last JB_WINDOW packets: it grows at once when jitter grows, and shrinks
 * by one tick at most every shrink_ms. The real delay grows when a packet
 * is late (the tick holds instead of skipping it) and shrinks by dropping
 * one frame when the buffer has stayed a whole tick above the target for
 * shrink_ms. Timestamps are in the stream's clock (clock_rate, e.g. 8000
 * for G.711 and 48000 for Opus) and may wrap; sequence numbers too.
 *
 * One buffer per decoded receive leg, owned by that leg's media thread.
 */
#ifndef PBX_JITTER_H
#define PBX_JITTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JB_WINDOW 128        /* transit samples behind the jitter estimate */
#define JB_MAX_CAPACITY 1024 /* packets */

struct jb;

/* Zero fields take the default in brackets. */
struct jb_cfg {
	uint32_t clock_rate;   /* timestamp units per second (required) */
	uint32_t tick_ms;      /* interval between jb_get calls [20] */
	uint32_t min_delay_ms; /* the target never goes below [tick_ms] */
	uint32_t max_delay_ms; /* nor above [200] */
	uint32_t capacity;     /* packets held, rounded up to a power of 2 [64] */
	uint32_t max_payload;  /* bytes per packet [1500] */
	uint32_t shrink_ms;    /* see above [2000] */
};

enum jb_status {
	JB_FRAME,   /* decode and play the packet in the frame */
	JB_LOST,    /* audio was due and is missing: conceal one tick */
	JB_NONE,    /* the previous packet still covers this tick */
	JB_SILENCE, /* nothing to play: buffering, idle or a sender's silence */
};

struct jb_frame {
	enum jb_status status;
	const uint8_t *payload; /* JB_FRAME: valid until the next jb_put/jb_get */
	size_t len;
	uint16_t seq;
	uint32_t ts;
	uint32_t dur;
};

struct jb_stats {
	uint64_t received;   /* jb_put calls with a valid packet */
	uint64_t played;     /* JB_FRAME results */
	uint64_t lost;       /* sequence numbers never received in time */
	uint64_t concealed;  /* JB_LOST results */
	uint64_t late;       /* dropped: their time had passed */
	uint64_t duplicate;  /* dropped: already held or played */
	uint64_t overflow;   /* dropped: too far ahead for the capacity */
	uint64_t dropped;    /* played never: dropped to shrink the delay */
	uint64_t resyncs;    /* restarts after a jump of the stream */
	uint32_t target_ms;  /* current target delay */
	uint32_t level_ms;   /* audio buffered ahead at the last tick */
};

/* 0, EINVAL (no clock rate, tick not a whole number of units, min above
 * max, capacity above JB_MAX_CAPACITY) or ENOMEM. */
int jb_new(struct jb **out, const struct jb_cfg *cfg);
void jb_free(struct jb *jb);

/* Forget every packet and the timing; the next packet starts afresh. The
 * jitter estimate and target are kept. */
void jb_reset(struct jb *jb);

/*
 * A received packet. dur is its length in timestamp units (0: one tick);
 * now_ms is its arrival on a monotonic clock. The payload is copied. 0 when
 * held; otherwise dropped with EMSGSIZE (above max_payload), EALREADY
 * (duplicate), ETIME (too late), ENOBUFS (beyond the capacity) or EINVAL.
 */
int jb_put(struct jb *jb, uint16_t seq, uint32_t ts, uint32_t dur, const uint8_t *payload,
	   size_t len, uint64_t now_ms);

/* One tick's worth of playout into *out. */
void jb_get(struct jb *jb, struct jb_frame *out);

void jb_get_stats(const struct jb *jb, struct jb_stats *out);

#endif
