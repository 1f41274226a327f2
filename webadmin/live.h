/*
 * live.h: what the web admin asks of the running core (DESIGN.md: live
 * state is asked of the core through its queue; the handler waits with a
 * bound). The daemon fills in a struct live_ops; the HTTP side only calls
 * it. Every call may block the calling HTTP thread for at most about one
 * second and returns ETIMEDOUT when the core did not answer in time.
 */
#ifndef PBX_LIVE_H
#define PBX_LIVE_H

#include <stddef.h>
#include <stdint.h>

struct live_binding {
	char aor[32];          /* extension number */
	char contact[512];     /* Contact URI */
	char source[64];       /* "ip:port" the phone registers from */
	char transport[8];     /* "udp" or "tcp" */
	char user_agent[128];
	int64_t expires_at;    /* unix seconds */
};

struct live_ban {
	char addr[64];         /* IPv4 address or IPv6 /64 prefix, as text */
	int64_t until;         /* unix seconds */
	unsigned failures;
};

struct live_call {
	uint64_t id;
	char caller[32];       /* extension */
	char callee[32];       /* extension rung or connected (after forwarding) */
	char dialed[32];
	char state[16];        /* "ringing", "answered", "echo", "feature" */
	int64_t start_ms;      /* unix ms */
	int64_t answer_ms;     /* unix ms, 0 until answered */
	char codec_a[16];      /* caller leg's codec, "" before the answer */
	char codec_b[16];
	int srtp_a, srtp_b;
};

/* One participant of a conference room in use (a room exists in the core
 * while someone is in it). Listed room by room, each room's participants
 * in joining order; the room's own state is repeated on each of its rows. */
struct live_conf_member {
	char room[16];         /* room number */
	int room_locked;       /* nobody but a moderator may join */
	unsigned room_count;   /* participants in the room, all of them */
	uint64_t id;           /* the participant's call id (as in struct live_call) */
	char number[32];       /* the caller's extension */
	char name[256];        /* its display name, may be "" */
	int64_t joined_ms;     /* unix ms */
	int muted, moderator;
};

/* The network side as the core runs it (the settings sip_port and
 * rtp_port_min/max, and what pbxd was started with). */
#define LIVE_NET_MAX_LISTEN 16
struct live_net {
	unsigned nsip;                 /* open SIP listen addresses */
	char sip[LIVE_NET_MAX_LISTEN][64]; /* "0.0.0.0:5060", "[::]:5060"; draining ones too */
	unsigned nstarted;             /* --sip-listen addresses */
	char started[LIVE_NET_MAX_LISTEN][64];
	unsigned sip_port;             /* the port phones are to use (of the first address not draining) */
	unsigned rtp_lo, rtp_hi;       /* ports new calls take */
	unsigned rtp_lo_started, rtp_hi_started; /* --rtp-ports */
};

/* Counters for /metrics. */
struct live_stats {
	uint64_t registrations;   /* bindings now */
	uint64_t calls_active;
	uint64_t call_setups;     /* INVITEs that became calls, since start */
	uint64_t calls_answered;
	uint64_t messages;        /* MESSAGEs relayed */
	uint64_t sip_rx, sip_rx_bad, auth_failures;
	uint64_t rtp_rx_packets, rtp_tx_packets, rtp_lost_packets;
	uint64_t media_legs;
	uint64_t media_tick_max_us;
};

struct live_ops {
	void *ctx;
	/* Copy up to max bindings into out; *n is set to how many were copied,
	 * *total to how many exist. 0 or an errno. */
	int (*registrations)(void *ctx, struct live_binding *out, size_t max, size_t *n, size_t *total);
	/* Current bans, like registrations. */
	int (*bans)(void *ctx, struct live_ban *out, size_t max, size_t *n);
	/* Lift the ban on addr (as listed). 0, ENOENT, EINVAL. */
	int (*ban_lift)(void *ctx, const char *addr);
	/* Calls in progress, like registrations. */
	int (*calls)(void *ctx, struct live_call *out, size_t max, size_t *n, size_t *total);
	/* Hang up call id (both sides get BYE or a final response). 0, ENOENT. */
	int (*call_hangup)(void *ctx, uint64_t id);
	/* Participants of the rooms in use, like registrations. */
	int (*conf_members)(void *ctx, struct live_conf_member *out, size_t max, size_t *n, size_t *total);
	/* Mute or unmute participant id of room (it hears the muted or unmuted
	 * prompt). 0; ENOENT: no such room in use or no such participant. */
	int (*conf_mute)(void *ctx, const char *room, uint64_t id, int muted);
	/* Remove participant id of room: a goodbye prompt, then BYE. 0, ENOENT. */
	int (*conf_kick)(void *ctx, const char *room, uint64_t id);
	/* Lock or unlock a room in use. 0; ENOENT: nobody is in the room. */
	int (*conf_lock)(void *ctx, const char *room, int locked);
	/* The network side. 0 or an errno. */
	int (*net)(void *ctx, struct live_net *out);
	/* Counters. 0 or an errno. */
	int (*stats)(void *ctx, struct live_stats *out);
	/* SQLite was changed: load the new configuration now rather than at the
	 * next poll. Never blocks. */
	void (*config_changed)(void *ctx);
	/* Voicemail of mailbox changed (a message heard, saved or deleted, its
	 * settings): recount it now so the phones' lamps follow at once (for
	 * jobs_vm_changed). May be NULL: the jobs thread then notices within
	 * its one-second look at SQLite. Never blocks. */
	void (*vm_changed)(void *ctx, const char *mailbox);
};

#endif
