/*
 * config.h: the immutable in-memory snapshot of the configuration that the
 * SIP core reads without SQL.
 *
 * config_load builds a snapshot in one read transaction; nothing in it
 * changes afterwards, so any thread may read it without locks. It is
 * refcounted (atomically): the core holds one reference as "the current
 * config" and each call takes its own for its lifetime, so a reload swaps
 * the current pointer while calls in progress finish with the snapshot they
 * started with. When the serial in the database (db_config_serial) differs
 * from c->serial, it is time to load a new one.
 *
 * Every pointer handed out (config_ext, config_room and their strings)
 * stays valid as long as the caller holds a reference to the snapshot.
 */
#ifndef PBX_CONFIG_H
#define PBX_CONFIG_H

#include <stdatomic.h>

#include "db.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

struct config_ext {
	const char *number;     /* 2..15 digits */
	const char *name;       /* display name, may be "" */
	const char *ha1_md5;    /* 32 lowercase hex digits */
	const char *ha1_sha256; /* 64 lowercase hex digits */
	const char *vm_pin;     /* "" = no voicemail PIN set */
	unsigned flags;         /* EXT_F_* of db.h */
	int ring_time;          /* seconds to ring, DB_RING_TIME_MIN..MAX; also the no-answer
				 * forwarding delay */
	/* Forwarding targets, "" = off. Never this extension itself; a target
	 * need not be in the snapshot (deleted since): check with
	 * config_ext_find at call time and skip it when absent. */
	const char *fwd_always;
	const char *fwd_busy;
	const char *fwd_noanswer; /* after ring_time seconds */
	bool dnd;               /* do not disturb: treat as busy */
	/* Mailbox (table mailboxes; defaults when the row is missing). */
	unsigned vm_on;         /* DB_VM_ON_*: when an unanswered call goes to voicemail */
	unsigned vm_max_seconds;  /* longest message */
	unsigned vm_max_messages; /* both folders together */
	bool unsolicited_mwi;   /* NOTIFY message-summary without a SUBSCRIBE */
	const char *greeting[DB_VM_GREETING_COUNT]; /* relative to the spool; "" = generated */
};

struct config_room {
	const char *number;
	const char *name;
	const char *pin;           /* "" = open */
	const char *moderator_pin; /* "" = none */
	unsigned max_participants;
	unsigned flags;
};

struct config {
	atomic_uint refs; /* private: owners of this snapshot */

	/* Settings, each checked on load (bad values logged, default kept). */
	char realm[64];           /* digest realm; the HA1 values are for this one */
	long reg_min_expires;     /* seconds; min <= default <= max is guaranteed */
	long reg_max_expires;
	long reg_default_expires;
	long nonce_lifetime;      /* auth_nonce_lifetime, seconds */
	unsigned ban_limit;       /* failed attempts per source within ban_window ... */
	unsigned ban_window;      /* ... seconds ... */
	unsigned ban_time;        /* ... refuse the source this long; 0 limit = off */
	char ban_allow[512];      /* trusted networks, comma separated; "" = none */
	unsigned keepalive_interval; /* seconds between pings to NATed phones; 0 = off */
	unsigned max_contacts;    /* bindings per extension */
	char auth_algorithms[16]; /* digest challenges offered, in order: "MD5,SHA-256" ... */
	uint8_t nonce_key[32];    /* secret for stateless nonces */
	unsigned sip_port;        /* every SIP listen address on this port; 0 = as started */
	unsigned rtp_port_min;    /* media ports; 0 = as started (--rtp-ports) */
	unsigned rtp_port_max;
	enum db_codec codecs[DB_CODEC_COUNT]; /* codec_order: used in this order, the rest not */
	size_t ncodecs;
	int64_t serial;           /* config_serial this snapshot was built from */

	/* Private: use the functions below. */
	const struct config_ext *exts; /* sorted like db_ext_list */
	size_t n_exts;
	const struct config_room *rooms;
	size_t n_rooms;
	const uint32_t *ext_hash;  /* open addressing; index + 1, 0 = empty */
	const uint32_t *room_hash;
	size_t ext_mask, room_mask; /* table size - 1 */
};

/* One read transaction (or the caller's); rows that do not validate are
 * logged with table and key and skipped. ENOMEM, or a db_errno value. */
int config_load(sqlite3 *db, struct config **out);

/* O(1); number need not be NUL-terminated. NULL when absent. */
const struct config_ext *config_ext_find(const struct config *c, const char *number, size_t len);
size_t config_ext_count(const struct config *c);
const struct config_ext *config_ext_at(const struct config *c, size_t i); /* NULL past the end */

const struct config_room *config_room_find(const struct config *c, const char *number, size_t len);
size_t config_room_count(const struct config *c);
const struct config_room *config_room_at(const struct config *c, size_t i);

/* Take and drop a reference; the last unref frees. Both accept NULL. */
struct config *config_ref(struct config *c);
void config_unref(struct config *c);

#endif
