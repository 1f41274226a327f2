/*
 * media.h: the media engine (DESIGN.md "Media"): N media threads, each the
 * only owner of its RTP legs (sockets, SRTP contexts, codecs, jitter
 * buffers), driven by commands from the core thread and reporting events
 * back to it.
 *
 * A leg is one RTP/RTCP port pair facing one phone. The core creates a leg
 * when it writes an SDP (it needs the port at once), tells the leg what was
 * negotiated (media_leg_set), connects two legs (media_bridge) and frees the
 * leg when the call ends. Both legs of a bridge live on the same media
 * thread (media_leg_new's `near`, or media_bridge moves one), so the packet
 * path takes no lock.
 *
 * Per direction of a bridge the engine picks the cheapest path that works:
 *   - same codec and clock, neither side SRTP: forward at once, rewriting
 *     only payload type, SSRC, sequence and timestamp (kept continuous for
 *     the receiver across media_leg_set changes and re-bridging);
 *   - same codec, SRTP on either side: unprotect, rewrite, protect;
 *   - different codecs: jitter buffer, decode (with PLC), encode, on the
 *     20 ms tick.
 * RFC 4733 events cross in every case (payload type and timestamp mapped;
 * regenerated when the other side has a different telephone-event clock)
 * and are reported to the core as MEDIA_EV_DTMF.
 *
 * Threads: every function here is called by the core thread only (one
 * producer); the engine's threads are its own. media_engine_stop joins them.
 *
 * Commands (media_leg_new, _set, media_bridge, _unbridge, media_echo,
 * media_tone, media_play, media_room_*, media_leg_free) go to the leg's (or
 * room's) thread through a bounded queue;
 * each may also return EAGAIN when that thread has not taken a command for
 * a second (a stuck thread): nothing was done and the id stays valid.
 */
#ifndef PBX_MEDIA_H
#define PBX_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "prompt.h"
#include "sdp.h"

typedef uint32_t media_leg_id; /* 0 = none */

struct media_engine;

struct media_engine_cfg {
	unsigned threads;       /* media threads; 0 = one per online core */
	uint16_t port_lo;       /* RTP ports are even numbers in [port_lo, port_hi]; RTCP is RTP + 1 */
	uint16_t port_hi;
	uint32_t timeout_ms;    /* no RTP/RTCP from a leg that should be sending: MEDIA_EV_TIMEOUT; 0 = off */
	uint32_t hold_timeout_ms; /* the same for a leg on hold (it may stop sending); 0 = off */
	bool realtime;          /* try SCHED_FIFO for the media threads (logged when refused) */
	const char *prompt_dir; /* prompt files (media_engine_set_prompts), read at start; NULL = none */
};

/* Start the threads (and load the prompts of cfg->prompt_dir). 0, EINVAL
 * (bad ports), ENOMEM, or a pthread/epoll errno. */
int media_engine_start(struct media_engine **out, const struct media_engine_cfg *cfg);
/* Stop and join the threads, close every leg (no events; recordings going
 * on, and those in RECORD_DONE events never taken, are freed). NULL is fine. */
void media_engine_stop(struct media_engine *me);
/* New legs take their ports from [lo, hi] from now on; legs that have
 * ports keep them. The core's thread only (like media_leg_new). 0, EINVAL
 * (no even/odd pair in the range). */
int media_engine_set_ports(struct media_engine *me, uint16_t lo, uint16_t hi);
void media_engine_ports(const struct media_engine *me, uint16_t *lo, uint16_t *hi);

/* ---- legs ---- */

/*
 * Bind a new RTP/RTCP port pair on local's address (its port is ignored)
 * and give the leg to a media thread: the one `near` lives on when it is
 * not 0 (so two legs of a call share a thread), else the least loaded.
 * cookie comes back in every event about the leg. The leg receives (and
 * latches, see below) but sends nothing until media_leg_set. Returns 0 with
 * *id and *port set, EADDRINUSE when no port pair is free, ENOENT when near
 * is unknown, or another errno.
 */
int media_leg_new(struct media_engine *me, const struct sockaddr_storage *local, media_leg_id near,
		  uint64_t cookie, media_leg_id *id, uint16_t *port);

/* What was negotiated for one leg, from our side (copied by media_leg_set). */
struct media_leg_params {
	struct sockaddr_storage remote;      /* where to send RTP; port 0 = not yet known */
	struct sockaddr_storage remote_rtcp; /* where to send RTCP; port 0 = remote port + 1 */
	bool rtcp_mux;
	bool latch;             /* symmetric RTP: send to where the phone's RTP really comes from */
	bool raw;               /* video or unknown media: forwarded untouched to the bridged leg */
	enum sdp_codec codec;   /* audio codec (ignored when raw) */
	uint8_t pt;             /* its payload type on this leg */
	uint32_t clock;         /* its RTP clock rate */
	uint8_t channels;
	bool dtmf;              /* telephone-event agreed */
	uint8_t dtmf_pt;
	uint32_t dtmf_clock;
	uint32_t ptime;         /* ms per packet we send; 0 = 20 */
	enum sdp_dir dir;       /* our direction: SDP_DIR_SEND bit = we may send, RECV = they send */
	bool srtp;              /* SDES keys below */
	enum sdp_srtp_suite suite;
	uint8_t tx_key[SDP_SRTP_KEY_LEN]; /* we protect with this */
	uint8_t rx_key[SDP_SRTP_KEY_LEN]; /* they protect with this */
};

/* (Re)configure a leg; may be called again after every offer/answer (hold,
 * resume, codec change). Stream continuity is kept. 0 or ENOENT. */
int media_leg_set(struct media_engine *me, media_leg_id id, const struct media_leg_params *p);

/* Connect a and b both ways (each was media_leg_set). A leg is in at most
 * one bridge: bridging replaces an earlier one (its old peer is left
 * unbridged). When a and b live on different threads, b moves to a's
 * thread first, whole: sockets, SRTP contexts, its outgoing stream (SSRC,
 * sequence, timestamp stay continuous), statistics, a tone, prompt or PCM
 * still playing, a recording going on (nothing of it lost or repeated);
 * its id stays valid, its events keep coming (none lost or repeated by the
 * move) and later commands about it reach it there. Packets that reach b
 * during the move wait in its socket. 0, ENOENT, EINVAL (a == b), ENOMEM,
 * or EAGAIN (nothing was done). */
int media_bridge(struct media_engine *me, media_leg_id a, media_leg_id b);
/* Disconnect id from whatever it is bridged to (both ends stop relaying). */
int media_unbridge(struct media_engine *me, media_leg_id id);

/* Send back to the leg what it sends (the *43 echo test). Ends a bridge. */
int media_echo(struct media_engine *me, media_leg_id id);

enum media_tone {
	MEDIA_TONE_CONFIRM, /* a feature code worked: three short rising beeps */
	MEDIA_TONE_ERROR,   /* it did not: a low double beep */
};
/* Play a tone to the leg in its codec (stops whatever it heard before);
 * MEDIA_EV_TONE_DONE follows, once per call: a tone cut short by another
 * tone or a codec change reports it then, and a leg that cannot play one
 * (not yet media_leg_set, raw, a codec without an encoder) reports it at
 * once. While it plays, what the bridge or echo would send the leg is
 * dropped. */
int media_tone(struct media_engine *me, media_leg_id id, enum media_tone tone);

/* Close the leg's sockets and free it; MEDIA_EV_CLOSED carries its final
 * statistics. The id is invalid from this call on. */
int media_leg_free(struct media_engine *me, media_leg_id id);

/* The media thread (0 .. threads - 1) the leg lives on now, for logs and
 * tests. 0, ENOENT or EINVAL. */
int media_leg_thread(const struct media_engine *me, media_leg_id id, unsigned *thread);

/* ---- events (media threads -> core) ---- */

struct media_leg_stats {
	enum sdp_codec codec;
	uint64_t rx_packets, tx_packets;
	uint64_t rx_bytes, tx_bytes;
	int64_t lost;           /* RFC 3550 cumulative lost of what we received */
	uint32_t jitter_ms;     /* RFC 3550 interarrival jitter of what we received */
	uint32_t max_jitter_ms;
};

enum media_ev_kind {
	MEDIA_EV_DTMF,      /* digit: a telephone-event ended (reported once) */
	MEDIA_EV_TIMEOUT,   /* the leg went silent past its timeout (reported once until packets return) */
	MEDIA_EV_LATCHED,   /* addr: first packet, or packets now come from elsewhere */
	MEDIA_EV_TONE_DONE,
	MEDIA_EV_CLOSED,    /* stats: the leg is gone */
	MEDIA_EV_PLAY_DONE, /* the prompts of a media_play ended (or were cut short) */
	MEDIA_EV_TALKING,   /* talking: a room participant started (1) or stopped (0) talking */
	MEDIA_EV_RECORD_DONE, /* rec: a media_record ended (always reported, like CLOSED) */
};

/* Why a recording ended. */
enum media_rec_end {
	MEDIA_REC_STOPPED, /* media_record_stop (the caller pressed #, or hung up) */
	MEDIA_REC_SILENCE, /* silence_ms of silence; the silence is trimmed off */
	MEDIA_REC_MAX,     /* max_ms reached */
	MEDIA_REC_CLOSED,  /* media_leg_free while recording */
	MEDIA_REC_FAILED,  /* the leg cannot be recorded (not media_leg_set, no codec with a
			    * decoder, raw: at once, or when a media_leg_set makes it so), or
			    * memory ran out (rec holds the PCM so far) */
};

/* A finished recording: 8 kHz mono S16 PCM of what the leg sent, decoded.
 * pcm belongs to whoever takes the event: free() it (NULL when n == 0). */
struct media_recording {
	int16_t *pcm;
	size_t n;
	enum media_rec_end end;
};

struct media_event {
	enum media_ev_kind kind;
	media_leg_id leg;
	uint64_t cookie;
	char digit;                     /* MEDIA_EV_DTMF: 0-9 * # A-D */
	struct sockaddr_storage addr;   /* MEDIA_EV_LATCHED */
	struct media_leg_stats stats;   /* MEDIA_EV_CLOSED */
	int talking;                    /* MEDIA_EV_TALKING */
	struct media_recording rec;     /* MEDIA_EV_RECORD_DONE (the taker frees rec.pcm) */
};

/* Readable (EPOLLIN) when events wait; the core adds it to its loop. A
 * media thread never waits for the core: when its queue is full, events are
 * dropped (and counted), all but MEDIA_EV_CLOSED, which is kept until there
 * is room. */
int media_event_fd(const struct media_engine *me);
/* Move up to max waiting events into ev; returns how many. Reads the eventfd. */
size_t media_events_take(struct media_engine *me, struct media_event *ev, size_t max);

/* ---- totals for /metrics (any thread; relaxed atomics) ---- */

struct media_totals {
	uint64_t legs;            /* open now */
	uint64_t rx_packets, tx_packets, lost_packets;
	uint64_t transcoded_frames;
	uint64_t tick_max_us;     /* worst media tick so far */
};
void media_engine_totals(const struct media_engine *me, struct media_totals *out);

/* ---- prompts and conference rooms ----
 *
 * Prompts are the codec-neutral 8 kHz files of media/prompt.h, loaded once
 * at start-up (media_engine_cfg.prompt_dir, or media_engine_set_prompts). A
 * room is one mixer (media/mixer.h) on one media thread; its legs live on
 * that thread (create them with near = the room's first leg, or let
 * media_room_join move them as media_bridge does). A leg is in at most one
 * of: a bridge, an echo, a room; entering one ends the others (media_unbridge
 * leaves a room alone).
 */

/* Load the prompt files from dir (prompt.h names). Missing files play as
 * nothing and are logged. A table loaded before is kept until
 * media_engine_stop (a prompt may still be playing from it). 0 or an errno
 * (EINVAL, ENOMEM). Call before any media_play. */
int media_engine_set_prompts(struct media_engine *me, const char *dir);

/* Play the prompts of seq (copied) one after the other to the leg in its
 * codec, in 20 ms packets; what the leg would otherwise hear (bridge, room)
 * is held back meanwhile (a room participant keeps being heard by the
 * others), and its DTMF is still reported. MEDIA_EV_PLAY_DONE follows once
 * per media_play with prompts: after the last packet, or when it is cut
 * short (another media_play, a tone, a codec the leg cannot be given), or
 * at once when there is nothing to play (no prompts loaded, all of seq's
 * missing, a leg not yet media_leg_set or raw). A new media_play replaces
 * the running one (which reports PLAY_DONE first). An empty seq just stops
 * playing (the running one reports; the empty one does not). A tone stops
 * a prompt and a prompt a tone, each reporting. 0, ENOENT, EINVAL. */
int media_play(struct media_engine *me, media_leg_id id, const struct prompt_seq *seq);

/* Play 8 kHz mono S16 PCM (a decoded voicemail message or greeting) to the
 * leg, like media_play with one prompt: PLAY_DONE follows the same way, and
 * a media_play or media_play_pcm replaces it. Takes pcm (malloc'd) whatever
 * it returns: the engine frees it when done with it. 0, ENOENT, EINVAL
 * (n == 0 or more than MEDIA_PCM_MAX samples), ENOMEM. */
#define MEDIA_PCM_MAX (8000u * 3600u) /* one hour at 8 kHz */
int media_play_pcm(struct media_engine *me, media_leg_id id, int16_t *pcm, size_t n);

/* Record what the leg sends, decoded to 8 kHz mono PCM (jitter buffer and
 * PLC as for transcoding; DTMF is reported, not recorded), into memory, for
 * at most max_ms (1..MEDIA_REC_MAX_MS). silence_ms > 0: end after that much
 * uninterrupted silence (energy below about -45 dBFS), trimmed off. A
 * prompt or tone may play to the leg meanwhile; a bridge or room is ended.
 * MEDIA_EV_RECORD_DONE follows exactly once per media_record that returned
 * 0, with the PCM (possibly empty). Recording again replaces the running
 * one, which reports first. 0, ENOENT, EINVAL, ENOMEM. */
#define MEDIA_REC_MAX_MS (3600u * 1000u)
int media_record(struct media_engine *me, media_leg_id id, uint32_t max_ms, uint32_t silence_ms);
/* End the running recording now (RECORD_DONE with MEDIA_REC_STOPPED).
 * 0, ENOENT (no such leg, or nothing recording: every RECORD_DONE of the
 * leg was taken). A recording that ended on its own while its RECORD_DONE
 * was on its way still gives 0; that event says why it ended. */
int media_record_stop(struct media_engine *me, media_leg_id id);

typedef uint32_t media_room_id; /* 0 = none */
/* A room on the thread of leg near (0: least loaded). 0, ENOENT (near),
 * ENOMEM, EAGAIN. */
int media_room_new(struct media_engine *me, media_leg_id near, media_room_id *out);
/* Free the room; its remaining legs leave it (they stay open, unbridged).
 * 0, ENOENT, EAGAIN. */
int media_room_free(struct media_engine *me, media_room_id room);
/* The leg joins: its audio is mixed, it hears the others, each in its own
 * codec (PCMU, PCMA or Opus; a leg with another codec, or not yet
 * media_leg_set, is a member that is neither heard nor hears until a
 * media_leg_set gives it one). Ends a bridge, an echo or another room. A
 * leg of another thread moves to the room's first, as in media_bridge.
 * Joining again the room it is in only sets muted. Telephone-events are
 * reported (MEDIA_EV_DTMF), not mixed; talking changes come as
 * MEDIA_EV_TALKING. 0, ENOENT, ENOSPC (room full), ENOMEM, EAGAIN. */
int media_room_join(struct media_engine *me, media_room_id room, media_leg_id id, bool muted);
/* Leave the room (the leg stays open, unbridged); 0 also when it was in
 * none. 0, ENOENT, EAGAIN. */
int media_room_leave(struct media_engine *me, media_leg_id id);
/* Muted: still hears, is not heard. 0, ENOENT (also: in no room), EAGAIN. */
int media_room_mute(struct media_engine *me, media_leg_id id, bool muted);
/* Listen volume step -4..+4 (3 dB each). 0, ENOENT (also: in no room),
 * EINVAL, EAGAIN. */
int media_room_volume(struct media_engine *me, media_leg_id id, int step);

#endif
