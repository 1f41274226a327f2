/*
 * media_priv.h: what the files of the media engine share and nobody else
 * sees (media.h is the public side).
 *
 * Ownership: struct media_engine and the core-side fields of struct
 * media_thread belong to the core thread (the one that calls media.h);
 * struct leg and the thread-side fields belong to that media thread. The
 * two meet only in the single-producer/single-consumer rings below (commands
 * core -> thread, events thread -> core), in the counters, which each
 * media thread alone writes (relaxed atomics) and anybody may read, and in
 * struct leg_move, the hand-over of a leg from one media thread to another
 * (media_bridge of legs on two threads).
 *
 * Files: media_engine.c is the core side (start/stop, ports, ids, queues,
 * events, totals, the prompt table, room ids); media_thread.c is a media
 * thread (its epoll loop, commands, the tick and the periodic sweep);
 * media_leg.c is the packet path of one leg (receive, SRTP, latching,
 * relay, transcoding, echo, tones, RTCP); media_play.c plays prompts and
 * PCM to a leg; media_record.c records what a leg sends; media_room.c is a conference room on its media thread (members, the
 * mixer driven on the tick).
 */
#ifndef PBX_MEDIA_PRIV_H
#define PBX_MEDIA_PRIV_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "codec.h"
#include "dtmf.h"
#include "media.h"
#include "mixer.h"
#include "prompt.h"
#include "rtp.h"
#include "srtp_ctx.h"
#include "transcode.h"

#define MEDIA_MAX_THREADS 64     /* the id keeps its first thread in its low 8 bits */
#define MEDIA_ID_THREAD_BITS 8
#define MEDIA_CMD_QUEUE 4096     /* commands waiting per thread (power of 2) */
#define MEDIA_EV_QUEUE 4096      /* events waiting per thread (power of 2) */
#define MEDIA_CMD_WAIT_MS 1000   /* a full command queue is waited for this long, then EAGAIN */
#define MEDIA_LEG_BUCKETS 4096   /* id -> leg hash of a thread (power of 2) */
#define MEDIA_CORE_BUCKETS 16384 /* id -> thread hash of the core side (power of 2) */
#define MEDIA_BATCH 32           /* packets per recvmmsg/sendmmsg */
#define MEDIA_PKT_MAX 2048       /* receive buffer per packet */
#define MEDIA_RX_MAX (MEDIA_PKT_MAX - SRTP_CTX_TRAILER) /* longest packet taken in */
#define MEDIA_TICK_MS 20
#define MEDIA_SWEEP_TICKS 10     /* timeouts and RTCP are looked at every 200 ms */
#define MEDIA_RTCP_MS 5000       /* RTCP report interval per leg (randomised by +-25%) */
#define MEDIA_LATCH_STEADY 3     /* packets in a row from a new address move the latch */
#define MEDIA_DTMF_FLUSH_MS 1000 /* a digit whose end never came is reported after this */
#define MEDIA_CATCHUP_MAX 5      /* ticks replayed when a thread fell behind */

/* ------------------------------------------------------------ SPSC ring */

/* Indexes of a single-producer single-consumer ring of 2^k slots; the slot
 * arrays live beside it. head is written by the consumer, tail by the
 * producer, each on its own cache line. */
struct spsc {
	alignas(64) _Atomic uint32_t head;
	alignas(64) _Atomic uint32_t tail;
	uint32_t mask;
};

/* Producer: the slot to fill, or false when full. */
static inline bool spsc_slot_put(struct spsc *q, uint32_t *slot)
{
	uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	if (t - h > q->mask)
		return false;
	*slot = t & q->mask;
	return true;
}

static inline void spsc_commit(struct spsc *q)
{
	uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	atomic_store_explicit(&q->tail, t + 1, memory_order_release);
}

/* Producer: whether n more slots are free (the consumer only frees more). */
static inline bool spsc_room(struct spsc *q, uint32_t n)
{
	uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	return q->mask + 1 - (t - h) >= n;
}

/* Consumer: the slot to read, or false when empty. */
static inline bool spsc_slot_get(struct spsc *q, uint32_t *slot)
{
	uint32_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
	if (h == t)
		return false;
	*slot = h & q->mask;
	return true;
}

static inline void spsc_release(struct spsc *q)
{
	uint32_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
	atomic_store_explicit(&q->head, h + 1, memory_order_release);
}

/* Counters with a single writer: a plain load and store, no locked
 * read-modify-write on the packet path. */
static inline void ctr_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline void ctr_max(_Atomic uint64_t *c, uint64_t v)
{
	if (v > atomic_load_explicit(c, memory_order_relaxed))
		atomic_store_explicit(c, v, memory_order_relaxed);
}

/* ------------------------------------------------------------- commands */

enum media_cmd_kind {
	MEDIA_CMD_ADD,      /* a new leg with its bound sockets */
	MEDIA_CMD_SET,
	MEDIA_CMD_BRIDGE,
	MEDIA_CMD_UNBRIDGE,
	MEDIA_CMD_ECHO,
	MEDIA_CMD_TONE,
	MEDIA_CMD_FREE,
	MEDIA_CMD_MOVE,     /* to the leg's thread: hand the leg over (struct leg_move) */
	MEDIA_CMD_ADOPT,    /* to the new thread: take it in, then bridge it to u.move.other (if any) */
	MEDIA_CMD_PLAY,     /* u.play */
	MEDIA_CMD_ROOM_NEW, /* u.room.r: a room made by the core, now the thread's */
	MEDIA_CMD_ROOM_FREE,   /* u.room.id */
	MEDIA_CMD_ROOM_JOIN,   /* the leg joins u.room.id, u.room.muted */
	MEDIA_CMD_ROOM_LEAVE,
	MEDIA_CMD_ROOM_MUTE,   /* u.room.muted */
	MEDIA_CMD_ROOM_VOLUME, /* u.room.volume */
	MEDIA_CMD_PLAY_PCM,    /* u.pcm: the buffer passes to the thread */
	MEDIA_CMD_RECORD,      /* u.rec: the record passes to the thread */
	MEDIA_CMD_RECORD_STOP,
};

struct leg_move;
struct leg_rec;
struct room;

/* By value through the ring; fds in MEDIA_CMD_ADD and the room in
 * MEDIA_CMD_ROOM_NEW pass to the thread. */
struct media_cmd {
	enum media_cmd_kind kind;
	media_leg_id leg;
	uint64_t cookie;            /* ADD and FREE (CLOSED carries it even for a leg never made) */
	union {
		struct {
			int rtp_fd, rtcp_fd;
			uint16_t port;
		} add;
		struct media_leg_params set;
		media_leg_id other;     /* BRIDGE */
		enum media_tone tone;
		struct {
			struct leg_move *m;
			media_leg_id other; /* ADOPT: bridge the leg to this one (0: none) */
		} move;
		struct {
			const struct prompt_table *table; /* the engine's, lives until stop */
			struct prompt_seq seq;
		} play;
		struct {
			int16_t *pcm;       /* malloc'd, 8 kHz mono */
			size_t n;
		} pcm;
		struct leg_rec *rec;    /* made by the core (rec_new) */
		struct {
			struct room *r;     /* ROOM_NEW */
			media_room_id id;
			bool muted;
			int volume;
		} room;
	} u;
};

/* ------------------------------------------------------------------ leg */

/* Where an epoll event points: one per socket of a leg. */
struct leg_watch {
	struct leg *leg;
	bool rtcp;                  /* the RTCP socket, else the RTP one */
};

/* What we send on one leg: our SSRC, a continuous sequence and timestamp
 * whatever the source (relayed phone, transcoder, tone, echo). A source is
 * a 64-bit key; when it changes, the offsets are recomputed so that the
 * next packet follows the last one sent (timestamp advanced by the time
 * that passed, at least one packet time) and carries the marker bit. */
struct tx_stream {
	uint32_t ssrc;
	uint16_t seq;               /* last sent (highest) */
	uint32_t ts;                /* of that packet */
	uint64_t last_ms;           /* when something was last sent */
	bool sent;
	uint64_t src;               /* key of the current source */
	uint16_t seq_off;
	uint32_t ts_off;
	bool fresh;                 /* the source has not sent yet: marker */
};

/* How packets received on a leg reach its bridged peer. */
enum leg_path {
	LEG_PATH_NONE,   /* not bridged, or a side not configured */
	LEG_PATH_RAW,    /* untouched (video, unknown media) */
	LEG_PATH_RELAY,  /* same codec: header rewritten */
	LEG_PATH_XCODE,  /* different codecs: struct xcode on the tick */
};

/* Source kinds in tx_stream keys (bits 56..63). */
enum leg_src {
	LEG_SRC_RELAY = 1,
	LEG_SRC_ECHO,
	LEG_SRC_XCODE,
	LEG_SRC_TONE,
	LEG_SRC_PLAY,
	LEG_SRC_ROOM,
};

struct media_thread;
struct leg_play;

/* One leg; owned by its media thread. */
struct leg {
	media_leg_id id;
	uint64_t cookie;
	struct media_thread *t;
	struct leg *hnext;          /* id hash chain */
	struct leg *prev, *next;    /* every leg of the thread */
	struct leg *tprev, *tnext;  /* legs with tick work (transcoder, tone) */
	bool on_tick;
	bool dead;                  /* closed; freed after the current epoll batch */
	bool moving;                /* detached, handed to another thread after the batch */
	bool held;                  /* not read while the leg it is to be bridged to moves here */
	struct leg *dnext;          /* dead list, or the overflow list of CLOSED events */
	struct media_event closed;  /* CLOSED, kept here until the event queue takes it */
	bool closed_pending;        /* closed is to be reported */

	int rtp_fd, rtcp_fd;
	uint16_t port;
	struct leg_watch w_rtp, w_rtcp;

	bool set;                   /* media_leg_set was applied */
	struct media_leg_params p;
	uint32_t gen;               /* bumped on every set/bridge change: new tx source keys */

	/* where we send */
	struct sockaddr_storage dst, dst_rtcp;
	bool have_dst;
	bool rtcp_from_peer;        /* dst_rtcp came from received RTCP (latch) */

	/* symmetric RTP: the address RTP really comes from */
	bool latched;
	bool latch_authed;          /* the latched packet passed SRTP (or no SRTP then) */
	bool latch_reported;
	struct sockaddr_storage latch_addr;
	struct sockaddr_storage cand;
	unsigned cand_count;

	struct srtp_ctx *srtp_tx, *srtp_rx;

	/* bridge */
	struct leg *peer;
	bool echo;
	enum leg_path path;         /* for packets received here */
	struct xcode *xc;           /* this leg's input into peer's codec */
	uint64_t xc_due;            /* next xcode_tick, ms */
	uint32_t xc_serial;         /* transcoders made: a new one is a new tx source */
	uint16_t xc_seq;            /* input sequence fed to the tx mapping */

	struct tx_stream tx;

	/* receive side */
	struct rtp_stats rs;
	bool rs_on;                 /* rs follows rx_ssrc */
	uint32_t rx_ssrc;
	int64_t lost_base;          /* lost of earlier sources */
	int64_t lost_counted;       /* already added to the thread's lost total */
	uint32_t max_jitter_ms;
	struct dtmf_rx drx;
	uint64_t dtmf_last_ms;
	uint64_t last_rx_ms;        /* life: any RTP/RTCP, from media_leg_set on */
	bool timed_out;

	/* tone */
	bool tone_on;
	enum media_tone tone;
	struct codec_enc *tone_enc;
	uint32_t tone_pos;          /* samples played */
	uint64_t tone_due;
	uint32_t tone_serial;       /* tones started: each is a new tx source */
	uint16_t tone_seq;
	uint32_t tone_ts;

	/* prompts (media_play.c) */
	struct leg_play *play;      /* while a media_play or media_play_pcm plays */
	uint32_t play_serial;       /* plays started: each is a new tx source */

	/* recording (media_record.c) */
	struct leg_rec *rec;        /* while a media_record records */

	/* conference room (media_room.c) */
	struct room *room;          /* the room it joined, or NULL */
	struct leg *rprev, *rnext;  /* the room's members */
	uint32_t mix_id;            /* its mixer participant; 0 while it cannot be one */
	enum sdp_codec mix_codec;   /* what mix_id was added with */
	uint8_t mix_pt;
	uint32_t mix_ptime;
	bool room_muted;
	int room_volume;
	bool talking;               /* last MEDIA_EV_TALKING said so */
	uint32_t room_serial;       /* joins: each is a new tx source */
	uint16_t room_seq;          /* mix packets sent since the join */
	uint32_t room_ts;           /* advanced 20 ms a room tick, sent or not */

	/* RTCP */
	uint64_t rtcp_due;
	uint64_t tx_octets;         /* payload octets sent, for the SR */
	bool sent_since_report;

	struct media_leg_stats st;
};

/* ------------------------------------------------------------ leg move */

/*
 * A leg going from one media thread to another (media_bridge of legs on two
 * threads). The core makes it and sends MEDIA_CMD_MOVE to the leg's thread
 * and MEDIA_CMD_ADOPT to the new one in the same call, so in every queue
 * the two commands of one move sit in the order the core gave them, and
 * one thread waiting for a leg cannot wait on another that waits for it.
 *
 * The old thread detaches the leg (epoll, id table, lists; its bridge is
 * ended there) and, once its epoll batch is done, stores it in leg and
 * publishes state MOVE_HANDED (release); it touches the record no more. The
 * new thread stops taking commands at ADOPT until it sees MOVE_HANDED
 * (acquire), so every later command about the leg finds it; it attaches the
 * leg, bridges it and publishes MOVE_DONE. The record itself belongs to the
 * core: it is freed by the core once MOVE_DONE, or at media_engine_stop,
 * which also closes a leg still waiting in it.
 */
enum move_state {
	MOVE_SENT,      /* the commands are queued */
	MOVE_HANDED,    /* leg (or NULL: there was none) is the new thread's */
	MOVE_DONE,      /* the new thread took it in */
};

struct leg_move {
	struct leg_move *next, *prev;   /* the core's list of moves not yet collected */
	struct leg_move *tnext;         /* the old thread's list of legs to hand over */
	struct media_thread *to;        /* the new thread (woken when handed) */
	struct leg *leg;                /* written by the old thread before MOVE_HANDED */
	_Atomic int state;              /* enum move_state */
};

/* ----------------------------------------------------------- the thread */

/* Written by the thread only; read anywhere. */
struct media_counters {
	alignas(64) _Atomic uint64_t legs;
	_Atomic uint64_t rx_packets, tx_packets, lost_packets, transcoded_frames;
	_Atomic uint64_t tick_max_us;
	_Atomic uint64_t events_dropped;
};

/* One outgoing sendmmsg batch: every packet to one socket. */
struct send_batch {
	int fd;
	unsigned n;
	struct mmsghdr msg[MEDIA_BATCH];
	struct iovec iov[MEDIA_BATCH];
};

struct media_thread {
	struct media_engine *me;
	unsigned index;
	pthread_t tid;
	bool running;               /* pthread_create succeeded */
	int epfd;
	int cmd_fd;                 /* eventfd: commands wait */
	int tick_fd;                /* timerfd, 20 ms */
	_Atomic bool stop;

	struct spsc cmdq;           /* core -> thread */
	struct media_cmd *cmds;
	struct spsc evq;            /* thread -> core */
	struct media_event *evs;

	struct media_counters ctr;

	/* core side */
	unsigned core_legs;         /* legs the core gave it and did not free */

	/* thread side */
	struct leg *hash[MEDIA_LEG_BUCKETS];
	struct leg *legs;
	struct leg *tick_legs;
	struct leg *dead;
	struct leg *closed_wait;    /* CLOSED events waiting for room, oldest first */
	struct leg *closed_wait_tail;
	struct leg_rec *rec_wait;   /* RECORD_DONE events waiting for room, oldest first */
	struct leg_rec *rec_wait_tail;
	struct leg_move *handing;   /* legs detached in this batch, handed over after it */
	struct leg *held;           /* the leg whose sockets wait for an ADOPT (one at a time) */
	struct room *rooms;         /* its conference rooms */
	unsigned tick_frames;       /* 20 ms frames the current tick plays (1 unless catching up) */
	uint64_t ticks;
	uint64_t now_ms;            /* of the current loop iteration */
	uint64_t now_ns;
	uint8_t (*rx_buf)[MEDIA_PKT_MAX];
	struct mmsghdr rx_msg[MEDIA_BATCH];
	struct iovec rx_iov[MEDIA_BATCH];
	struct sockaddr_storage rx_src[MEDIA_BATCH];
	struct send_batch out;
};

struct core_leg;
struct core_room;
struct prompt_keep;

struct media_engine {
	struct media_engine_cfg cfg;
	unsigned nthreads;
	struct media_thread **threads;
	int ev_fd;                  /* eventfd: events wait (media_event_fd) */
	char cname[32];             /* RTCP SDES CNAME, one per engine */
	/* core side */
	/* RTP ports for new legs (media_engine_set_ports); the core's thread's */
	uint16_t port_lo, port_hi;
	uint32_t port_first;        /* first even port */
	uint32_t npairs;
	uint32_t port_cursor;
	uint32_t id_next;
	unsigned ev_rr;             /* thread to take events from first */
	struct core_leg *ids[MEDIA_CORE_BUCKETS];
	struct leg_move *moves;     /* moves the core made and has not freed */
	struct core_room *rooms;    /* live room ids */
	uint32_t room_next;
	/* The prompt table media_play uses; read-only once loaded, shared by
	 * every thread. Tables replaced by media_engine_set_prompts are kept in
	 * prompts_old until stop: a thread may still be playing from them. */
	struct prompt_table *prompts;
	struct prompt_keep *prompts_old;
};

/* ---- media_thread.c ---- */
void *media_thread_main(void *arg);
/* Queue an event for the core; dropped and counted when the queue is full
 * (never blocks). Not for CLOSED, which goes through the dead list and is
 * never lost. */
void media_thread_post(struct media_thread *t, struct media_event *ev);
/* Queue an event now; false when the queue is full (nothing counted). For
 * the events that are kept until there is room (RECORD_DONE). */
bool media_thread_push(struct media_thread *t, const struct media_event *ev);
/* Event about leg l of the given kind, cookie and leg filled in. */
void media_leg_event(struct leg *l, enum media_ev_kind kind, struct media_event *ev);
/* Put l on, or take it off, the tick list according to its tick work. */
void media_leg_tick_update(struct leg *l);
/* Close and free a leg no thread holds (one left in a move at stop). */
void media_leg_discard(struct leg *l);

/* ---- media_leg.c ---- */
/* A socket of the leg is readable: one batch. */
void leg_readable(struct leg *l, bool rtcp);
/* Send what is queued in t->out. */
void leg_flush(struct media_thread *t);
/* Apply new parameters (the copy is already in l->p): addresses, SRTP. */
int leg_apply_params(struct leg *l, const struct media_leg_params *old, bool was_set);
/* Choose the path of packets received on l (after a set or bridge change). */
void leg_path_update(struct leg *l);
/* Tick work at now (transcoder, tone). */
void leg_tick(struct leg *l, uint64_t now_ms);
/* Timeouts, RTCP reports, a digit whose end never came. */
void leg_sweep(struct leg *l, uint64_t now_ms, uint64_t now_ns);
void leg_tone_start(struct leg *l, enum media_tone tone);
void leg_tone_stop(struct leg *l, bool report);
/* Whether RTP may go to the leg now (set, an address, direction). */
bool leg_can_send(const struct leg *l);
/* Whether tick audio (a room's mix) may go to it: it can send and no tone
 * or prompt is playing to it. */
bool leg_hears(const struct leg *l);
/* Its RTP clock (8000 for G.711, 48000 for Opus). */
uint32_t leg_rtp_clock(const struct leg *l);
/* Send one frame made on the tick (prompt, room mix) from source (kind,
 * sub) with input sequence and timestamp: the leg's payload type, its
 * stream's SSRC, sequence and timestamp (struct tx_stream), SRTP. */
void leg_send_frame(struct leg *l, enum leg_src kind, uint32_t sub, uint16_t in_seq, uint32_t in_ts,
		    const uint8_t *payload, size_t len, uint64_t now);
/* Final statistics. */
void leg_stats(struct leg *l, struct media_leg_stats *out);
/* Free what the leg holds besides its sockets (SRTP, transcoder, tone). */
void leg_release(struct leg *l);
void tx_stream_init(struct tx_stream *s);

/* ---- media_play.c ---- */
/* Start seq (from table, NULL: none loaded) on l; an empty seq only stops
 * the running one. */
void leg_play_start(struct leg *l, const struct prompt_table *table, const struct prompt_seq *seq);
/* Start n samples of pcm (taken: freed when the play ends, whatever
 * happens) on l. */
void leg_play_pcm(struct leg *l, int16_t *pcm, size_t n);
/* Stop; report: MEDIA_EV_PLAY_DONE. */
void leg_play_stop(struct leg *l, bool report);
/* The leg's codec may have changed (media_leg_set): follow it, or stop. */
void leg_play_codec(struct leg *l);
/* The tick: t->tick_frames frames of the prompt. */
void leg_play_tick(struct leg *l, uint64_t now);

/* ---- media_record.c ---- */
/* Made by the core (media_record) for max_ms and silence_ms, handed over
 * by MEDIA_CMD_RECORD. 0 or ENOMEM. */
int rec_new(uint32_t max_ms, uint32_t silence_ms, struct leg_rec **out);
/* Free a record no leg holds (one still in the command queue at stop, or
 * a RECORD_DONE never delivered), with its PCM. NULL is fine. */
void rec_discard(struct leg_rec *r);
/* Start recording l with r (a running recording reports first); a leg
 * that cannot be decoded reports FAILED at once. */
void leg_rec_start(struct leg *l, struct leg_rec *r);
/* A MEDIA_CMD_RECORD for leg id that is not here: RECORD_DONE FAILED. */
void rec_fail(struct media_thread *t, struct leg_rec *r, media_leg_id id, uint64_t cookie);
/* End the recording (nothing when none): RECORD_DONE with end, never lost. */
void leg_rec_stop(struct leg *l, enum media_rec_end end);
/* End it silently (the engine stopping). */
void leg_rec_drop(struct leg *l);
/* After media_leg_set: follow the leg's codec, or end FAILED. */
void leg_rec_codec(struct leg *l);
/* A received RTP packet of l while recording (not a telephone-event). */
void leg_rec_put(struct leg *l, const struct rtp_hdr *h);
/* The tick: t->tick_frames frames. */
void leg_rec_tick(struct leg *l);
/* Queue the RECORD_DONE events that wait; false while some still wait. */
bool rec_wait_flush(struct media_thread *t);
/* At stop: free them undelivered. */
void rec_wait_free(struct media_thread *t);

/* ---- media_room.c ---- */
/* Made by the core (media_room_new), handed over by MEDIA_CMD_ROOM_NEW. */
int room_new(media_room_id id, struct room **out);
/* Free a room no thread holds (one still in the command queue at stop). */
void room_discard(struct room *r);
/* The thread takes r in (MEDIA_CMD_ROOM_NEW). */
void room_link(struct media_thread *t, struct room *r);
struct room *room_find(struct media_thread *t, media_room_id id);
/* The thread's next room after r, for walking them. */
struct room *room_next(const struct room *r);
/* Every member leaves, then the room is freed. */
void room_free(struct room *r);
/* l (its bridge or echo already ended) joins r; a room it was in is left. */
void room_join(struct room *r, struct leg *l, bool muted);
/* l leaves its room (nothing when it is in none). */
void room_leave(struct leg *l);
/* After media_leg_set: its mixer participant follows its codec. */
void room_leg_update(struct leg *l);
void room_mute(struct leg *l, bool muted);
void room_volume(struct leg *l, int volume);
/* A received RTP packet of a member (not a telephone-event). */
void room_put(struct leg *l, const struct rtp_hdr *h);
/* The tick: t->tick_frames mixer ticks, the skipped ones' time accounted. */
void room_tick(struct room *r, uint64_t now, uint64_t skipped);

/* Monotonic clock. */
uint64_t media_now_ns(void);

#endif
