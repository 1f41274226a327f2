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
	/* Counters. 0 or an errno. */
	int (*stats)(void *ctx, struct live_stats *out);
	/* SQLite was changed: load the new configuration now rather than at the
	 * next poll. Never blocks. */
	void (*config_changed)(void *ctx);
};

#endif
