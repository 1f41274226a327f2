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

struct live_ops {
	void *ctx;
	/* Copy up to max bindings into out; *n is set to how many were copied,
	 * *total to how many exist. 0 or an errno. */
	int (*registrations)(void *ctx, struct live_binding *out, size_t max, size_t *n, size_t *total);
	/* Current bans, like registrations. */
	int (*bans)(void *ctx, struct live_ban *out, size_t max, size_t *n);
	/* Lift the ban on addr (as listed). 0, ENOENT, EINVAL. */
	int (*ban_lift)(void *ctx, const char *addr);
	/* SQLite was changed: load the new configuration now rather than at the
	 * next poll. Never blocks. */
	void (*config_changed)(void *ctx);
};

#endif
