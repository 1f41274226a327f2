/*
 * throttle.h: count failed authentication attempts per source and refuse a
 * source that fails too often.
 *
 * The key is the source IP without the port: the whole IPv4 address (also
 * when it arrives IPv4-mapped on an IPv6 socket) or the /64 prefix of an IPv6
 * address, since one host usually owns a whole /64. Memory is fixed at
 * creation (THROTTLE_MAX_ENTRIES entries); when full, finished bans go first,
 * then the source whose counting window is oldest, and only when every entry
 * is a live ban the ban that started first. Single-threaded: the SIP core
 * owns the object; nothing here locks.
 */
#ifndef PBX_THROTTLE_H
#define PBX_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define THROTTLE_MAX_ENTRIES 65536 /* sources tracked at once */
#define THROTTLE_ALLOW_MAX 64      /* networks in the allow list */

struct throttle;

/* limit failures within window_s seconds of the first one => banned for
 * ban_s seconds. limit 0 turns counting off (nothing is banned). */
struct throttle_cfg {
	unsigned limit;
	unsigned window_s;
	unsigned ban_s;
};

/* 0, EINVAL, ENOMEM or EIO (no random seed for the hash). */
int throttle_new(struct throttle **out, const struct throttle_cfg *cfg);
void throttle_free(struct throttle *t);

/* Live change. Bans already running keep their end time; counts in progress
 * are judged by the new limit and window from the next failure on. */
void throttle_set_cfg(struct throttle *t, const struct throttle_cfg *cfg);

/*
 * Trusted networks ("127.0.0.0/8, 10.0.0.0/8 ::1/128 fd00::/8"), comma or
 * space separated; a bare address is a single host; host bits beyond the
 * prefix are ignored. Replaces the list; "" empties it. Returns 0, or EINVAL
 * (nothing changed) for any bad entry or more than THROTTLE_ALLOW_MAX. Trusted
 * sources are never counted or banned, even if banned before being trusted.
 */
int throttle_set_allow(struct throttle *t, const char *list);

/* Is src refused now? now_ms is the caller's clock (monotonic). A ban that
 * has run out is forgotten here. */
bool throttle_banned(struct throttle *t, const struct sockaddr_storage *src, uint64_t now_ms);

/* Count one failure; true when this failure started a ban. Failures during a
 * ban are counted for throttle_list but do not extend it. */
bool throttle_fail(struct throttle *t, const struct sockaddr_storage *src, uint64_t now_ms);

/*
 * Call cb for every current ban (addr: the IPv4 address, or the IPv6 /64
 * prefix with the host part zero; port 0), in the order they started;
 * returns how many. cb must not call back into this throttle.
 */
size_t throttle_list(struct throttle *t, uint64_t now_ms,
		     void (*cb)(void *ctx, const struct sockaddr_storage *addr, uint64_t until_ms,
				unsigned failures),
		     void *ctx);

/* Forget addr's entry (any address in the same /64 for IPv6). True when it
 * was banned. */
bool throttle_lift(struct throttle *t, const struct sockaddr_storage *addr);

/* Sources tracked now (counting or banned); at most THROTTLE_MAX_ENTRIES. */
size_t throttle_count(const struct throttle *t);

#endif
