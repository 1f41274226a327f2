/*
 * mixer.h: the conference mixer of one room (DESIGN.md "Media"): RTP
 * payloads of every participant in, one 20 ms tick at a time, and for
 * each participant the payload it is to be sent out.
 *
 * Each participant has an input codec (PCMU/PCMA, decoded at 8 kHz and
 * resampled to 48 kHz, or Opus decoded at 48 kHz) behind a jitter buffer
 * with packet loss concealment, a talker detector (talker.h), a mute flag,
 * a listen volume in 3 dB steps and an output codec. On each tick the
 * frames of the participants who are talking (voiced, not muted; at most
 * max_talkers of them, see mixer.c for who gets a seat) are summed:
 *   - each of them is sent that sum minus its own frame, encoded for it
 *     alone (its own tone is absent, exactly: the subtraction is done on
 *     the integer sum, before any gain or limiting);
 *   - everybody else hears the same sum, encoded once per group of
 *     (output codec, listen volume) and the same payload given to all of
 *     the group. This is what makes a large room cheap: a room of 500 with
 *     three talkers, G.711 and Opus phones, everybody at the default
 *     volume, encodes five frames a tick, not 500.
 * Those who are not talking are not summed at all: nobody hears their
 * background noise, and nobody ever hears their own voice.
 *
 * The sum never wraps or clips hard: each output (a group's, a talker's)
 * has a limiter: a gain that falls within 1 ms when the frame's peak is
 * above the knee and comes back 0.5 dB a tick, then a soft clipper that
 * bends what still goes over the knee towards full scale (mixer.c).
 *
 * The engine adds the RTP header: each participant keeps its own SSRC,
 * sequence and timestamp (20 ms a tick: 160 units for G.711, 960 for
 * Opus), whichever payload it is given on a tick; one continuous stream per
 * participant, with no marker when it moves between its own mix and a
 * group's. Telephone-event and other payload types than the participant's
 * are ignored here (the engine reads DTMF). Everybody is sent 20 ms
 * packets; the input may be 10..60 ms.
 *
 * Threads: a mixer and everything it hands out belong to the thread that
 * made it (a media thread): nothing here locks, and no call blocks.
 * Bounds: MIXER_MAX participants, max_talkers mixed at once, a bounded
 * jitter buffer and PCM FIFO per participant; mixer_tick does work
 * proportional to the participants, and encodes at most one frame per
 * group and per talker, plus one per participant moving into or out of
 * the mix and per group coming back from idle (so at most
 * 2 * 27 + 3 * max_talkers; see mixer.c). Memory is
 * allocated by mixer_new, mixer_add and mixer_set_volume, never by
 * mixer_put or mixer_tick.
 */
#ifndef PBX_MIXER_H
#define PBX_MIXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtp.h"
#include "sdp.h"
#include "talker.h"

#define MIXER_MAX 1000          /* participants in one room */
#define MIXER_RATE 48000        /* the mix's sample rate */
#define MIXER_TICK_MS 20
#define MIXER_FRAME (MIXER_RATE / 1000 * MIXER_TICK_MS) /* samples a tick */
#define MIXER_MAX_TALKERS 32    /* mixed at once, at most */
#define MIXER_DEF_TALKERS 8
#define MIXER_VOL_MIN (-4)      /* listen volume: steps of MIXER_VOL_DB */
#define MIXER_VOL_MAX 4
#define MIXER_VOL_DB 3

struct mixer;

/* Zero fields take the default in brackets. */
struct mixer_cfg {
	unsigned max_participants; /* [MIXER_MAX], at most MIXER_MAX */
	unsigned max_talkers;      /* mixed at once [MIXER_DEF_TALKERS], at most MIXER_MAX_TALKERS */
	struct talker_cfg talker;  /* every participant's detector */
};

struct mixer_part_cfg {
	enum sdp_codec in_codec;   /* PCMU, PCMA or OPUS: what it sends */
	uint8_t in_pt;             /* its payload type; other types are ignored */
	uint32_t in_ptime;         /* ms per packet it sends; 0 = 20 (followed when it differs) */
	enum sdp_codec out_codec;  /* PCMU, PCMA or OPUS: what it is sent */
	bool muted;
	int volume;                /* listen volume step, MIXER_VOL_MIN..MIXER_VOL_MAX */
	void *user;                /* the caller's, handed back in mixer_dest and mixer_change */
};

/* A participant a payload goes to. */
struct mixer_dest {
	uint32_t id;
	void *user;
};

/* One encoded 20 ms frame and who is sent it. */
struct mixer_packet {
	enum sdp_codec codec;      /* the engine adds each participant's payload type */
	bool shared;               /* a group's listener mix (else one talker's own) */
	int volume;                /* the group's listen volume step (own mix: the talker's) */
	const uint8_t *payload;
	size_t len;
	const struct mixer_dest *to;
	size_t n_to;               /* 1 for a talker's own mix */
};

/* A participant began or stopped speaking (talker_speaking), for events. */
struct mixer_change {
	uint32_t id;
	void *user;
	bool speaking;
};

/* What one tick gives out. Everything it points to belongs to the mixer
 * and stays valid until the next mixer_tick or mixer_free. */
struct mixer_out {
	const struct mixer_packet *pkts;
	size_t n_pkts;
	const struct mixer_change *changes;
	size_t n_changes;
};

struct mixer_part_info {
	bool muted;
	int volume;
	bool mixed;                /* summed on the last tick */
	bool speaking;             /* talker_speaking */
	enum talker_state state;
	float level_dbfs;          /* the last frame's (muted: not measured, the floor) */
	uint64_t received;         /* packets taken into its jitter buffer */
	uint64_t late;             /* dropped there: their time had passed */
	uint64_t lost;             /* never came in time */
	uint64_t concealed;        /* ticks made up by PLC */
};

struct mixer_stats {
	unsigned participants;
	unsigned talkers;          /* mixed on the last tick */
	unsigned groups;           /* listener payloads made on the last tick */
	unsigned encodes_tick;     /* frames encoded on the last tick (groups, talkers, tails, primes) */
	uint64_t ticks;
	uint64_t encodes;          /* frames encoded since mixer_new */
	uint64_t primes;           /* of which only to carry an encoder over a move (mixer.c) */
	uint64_t tails;            /* own frames sent to talkers just let go (mixer.c) */
	uint64_t limited;          /* output frames the limiter changed */
	uint64_t seat_refused;     /* ticks a voiced participant found no free seat */
	uint64_t encode_errors;
};

/* cfg may be NULL (all defaults). 0, EINVAL or ENOMEM. */
int mixer_new(struct mixer **out, const struct mixer_cfg *cfg);
/* Frees every participant too. NULL is fine. */
void mixer_free(struct mixer *m);

/* A new participant, heard and hearing from the next tick. *id is never 0
 * and is not reused soon after mixer_remove. 0, EINVAL (codec, volume),
 * ENOSPC (the room is full) or ENOMEM. */
int mixer_add(struct mixer *m, const struct mixer_part_cfg *cfg, uint32_t *id);
/* 0 or ENOENT. The id and its user pointer are not handed out again; a
 * mixer_out of an earlier tick may still name them. */
int mixer_remove(struct mixer *m, uint32_t id);
/* Muted: not summed, and no longer speaking (a change follows on the next
 * tick); it still hears the room. 0 or ENOENT. */
int mixer_set_mute(struct mixer *m, uint32_t id, bool muted);
/* 0, ENOENT, EINVAL (out of range) or ENOMEM (its group's encoder; the old
 * volume is kept). */
int mixer_set_volume(struct mixer *m, uint32_t id, int volume);

/* A packet received from the participant (after SRTP), with its arrival
 * time on a monotonic clock. The payload is copied. 0 when taken or
 * ignored (another payload type, refused by the jitter buffer: counted),
 * ENOENT, EINVAL. */
int mixer_put(struct mixer *m, uint32_t id, const struct rtp_hdr *h, const uint8_t *payload,
	      size_t len, uint64_t now_ms);

/* The work of one 20 ms tick; call it every MIXER_TICK_MS (when a tick was
 * missed, call it once per missed tick to keep the streams' timing). Every
 * participant is in exactly one packet's destinations (unless an encoder
 * failed: counted). 0 or EINVAL. */
int mixer_tick(struct mixer *m, uint64_t now_ms, struct mixer_out *out);

/* The 48 kHz frame the participant was sent on the last tick (before
 * encoding): its own mix or its group's. For recording what one person
 * heard, and for tests. 0, ENOENT, or ENODATA when it was sent nothing
 * (added since). */
int mixer_heard(const struct mixer *m, uint32_t id, int16_t pcm[MIXER_FRAME]);

/* 0 or ENOENT. */
int mixer_part_info(const struct mixer *m, uint32_t id, struct mixer_part_info *info);
void mixer_stats(const struct mixer *m, struct mixer_stats *out);

#endif
