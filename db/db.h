/*
 * db.h: the storage layer. One SQLite file holds all configuration
 * (extensions with their forwarding and options, rooms, settings, admins),
 * the registrations that must survive a restart (location), the call
 * history (cdr) and the voicemail boxes with their messages' rows (the
 * recordings themselves are files in the spool folder).
 *
 * Rules every caller relies on:
 * - one connection per thread (db_open in that thread, db_close there too);
 * - WAL mode, foreign keys on, busy_timeout 5000 ms, set by db_open;
 * - every write transaction is BEGIN IMMEDIATE (db_begin); the functions
 *   below that write open their own transaction unless the caller already
 *   holds one, so several calls can be grouped between db_begin/db_commit;
 * - every function returns 0 or an errno value: EINVAL (bad argument, with a
 *   message in err where there is one), EEXIST, ENOENT, EBUSY (the database
 *   stayed locked past busy_timeout), ENOMEM, EIO (anything else SQLite
 *   reported; the SQLite message is logged).
 *
 * The SIP core never calls these on the call path: it reads the immutable
 * snapshot of config.h, rebuilt when db_config_serial changes.
 */
#ifndef PBX_DB_H
#define PBX_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sqlite3.h>

/* Schema version db_open migrates to (PRAGMA user_version). */
#define DB_SCHEMA_VERSION 6

/* Field limits, shared by validation, CSV import and the snapshot. */
#define DB_NUMBER_MIN 2        /* digits in an extension or room number */
#define DB_NUMBER_MAX 15
#define DB_NAME_MAX 64         /* characters (UTF-8) in a display name */
#define DB_NAME_BYTES 256      /* bytes that DB_NAME_MAX characters may take */
#define DB_PASSWORD_MIN 6      /* SIP password, printable ASCII, no space */
#define DB_PASSWORD_MAX 128
#define DB_PIN_MIN 4           /* voicemail and room PINs, digits only; empty = none */
#define DB_PIN_MAX 12
#define DB_ADMIN_PASSWORD_MIN 8
#define DB_ADMIN_PASSWORD_MAX 1024
#define DB_ADMIN_USER_MAX 64
#define DB_REALM_MAX 63
#define DB_SETTING_KEY_MAX 64
#define DB_SETTING_VALUE_MAX 1024
#define DB_RING_TIME_MIN 5     /* seconds an extension rings; also the no-answer */
#define DB_RING_TIME_MAX 300   /* forwarding delay */
#define DB_RING_TIME_DEFAULT 25

/* Option bits of an extension (extensions.flags, db_ext.flags,
 * config_ext.flags). */
#define EXT_F_REDIRECT 0x1u     /* forwarding answers 302 with the target instead of bridging */
#define EXT_F_REQUIRE_SRTP 0x2u /* this extension's calls must use SRTP */
#define EXT_F_ALL (EXT_F_REDIRECT | EXT_F_REQUIRE_SRTP) /* every known bit; others are refused */

/* ---- db.c: open, migrations, transactions ---------------------------- */

/* Open (creating the file if missing; its folder must exist), set the
 * pragmas, apply missing migrations and make sure 'nonce_key' exists.
 * A file whose schema is newer than this build is refused (EPROTO). On
 * failure *out is NULL and err says why. */
int db_open(const char *path, sqlite3 **out, char *err, size_t errcap);
void db_close(sqlite3 *db);

int db_begin(sqlite3 *db); /* BEGIN IMMEDIATE */
int db_commit(sqlite3 *db);
void db_rollback(sqlite3 *db);

/* Helpers for this layer: begin a write transaction only when the caller
 * holds none (*owned says whether we did), and end it: commit when rc is 0
 * and we own it, roll back when rc is not 0 and we own it. db_write_end
 * returns rc, or the commit's error. */
int db_write_begin(sqlite3 *db, bool *owned);
int db_write_end(sqlite3 *db, bool owned, int rc);
/* Step one write statement inside BEGIN IMMEDIATE (or the caller's
 * transaction). Returns SQLite's code: SQLITE_DONE on success, else the
 * failing step's, BEGIN's or COMMIT's. */
int db_step_write(sqlite3 *db, sqlite3_stmt *st);
/* Run a one-parameter DELETE (sql binds key as ?1) under db_step_write.
 * 0, ENOENT when no row went, or the error. */
int db_delete_one(sqlite3 *db, const char *sql, const char *key);
/* Column i as text; "" for NULL. Valid until the next step or finalize. */
const char *db_col_text(sqlite3_stmt *st, int i);
/* SQLite result code to errno; logs the SQLite message for unexpected ones. */
int db_errno(sqlite3 *db, int sqlite_rc);
/* An extension's rowid in extensions_fts (migration 5): its number's
 * length * DB_EXT_FTS_BASE + its value. Unique for 2..15 digits, leading
 * zeros included (VACUUM may renumber the extensions' own rowids), and in
 * the list's default order: length(number), then number. */
#define DB_EXT_FTS_BASE 1000000000000000LL
#define DB_EXT_FTS_KEY(n) "(length(" n ") * 1000000000000000 + CAST(" n " AS INTEGER))"

/* ---- db_settings.c ------------------------------------------------- */

int db_setting_get(sqlite3 *db, const char *key, char *out, size_t cap); /* ENOENT, ENOSPC */
/* Checks the value of a known key (numbers in range, realm syntax, ...);
 * unknown keys are accepted when they look like [a-z0-9_]{1,64}. */
int db_setting_validate(const char *key, const char *value, char *err, size_t errcap);
int db_setting_set(sqlite3 *db, const char *key, const char *value, char *err, size_t errcap);
/* Missing key: *out = dflt and 0. A value that is not an integer: *out =
 * dflt and EINVAL. */
int db_setting_int(sqlite3 *db, const char *key, long dflt, long *out);
/* The codecs codec_order may name, in their default order. */
enum db_codec { DB_CODEC_OPUS, DB_CODEC_PCMU, DB_CODEC_PCMA, DB_CODEC_COUNT };
#define DB_CODEC_ORDER_DEFAULT "opus,PCMU,PCMA"
/* "opus,PCMU,..." (names case-insensitive, each at most once, at least one)
 * into out in that order; *n codecs. 0 or EINVAL. */
int db_codec_order_parse(const char *s, enum db_codec out[DB_CODEC_COUNT], size_t *n);
const char *db_codec_name(enum db_codec c);
/* Do rtp_port_min lo and rtp_port_max hi hold an even RTP port and the RTCP
 * port after it? */
bool db_rtp_range_ok(unsigned lo, unsigned hi);
/* sip_realm, or "pbx" when missing or unusable (logged). */
int db_setting_realm(sqlite3 *db, char out[DB_REALM_MAX + 1]);
/* Every row, ordered by key; cb returning non-zero stops and is returned.
 * The strings are valid during the call only. */
int db_setting_list(sqlite3 *db, int (*cb)(void *ctx, const char *key, const char *value), void *ctx);
/* A counter bumped by triggers on every change to extensions, rooms and
 * settings: poll it to notice that another process changed the config. */
int db_config_serial(sqlite3 *db, int64_t *out);

/* ---- db_ext.c: extensions --------------------------------------------- */

/* One row; the strings point into SQLite's row and are valid during the
 * callback only. */
struct db_ext {
	const char *number;     /* 2..15 digits */
	const char *name;       /* display name, may be "" */
	const char *ha1_md5;    /* 32 hex digits: MD5(number:realm:password) */
	const char *ha1_sha256; /* 64 hex digits: SHA-256 of the same */
	const char *vm_pin;     /* "" or 4..12 digits */
	unsigned flags;         /* EXT_F_* */
	int ring_time;          /* seconds to ring before no-answer handling */
	int64_t created_at;     /* unix seconds */
	int64_t updated_at;
	const char *fwd_always; /* forwarding targets: extension numbers, "" = off */
	const char *fwd_busy;
	const char *fwd_noanswer; /* after ring_time seconds */
	bool dnd;               /* do not disturb: callers get busy handling */
};

/* Each argument may be NULL to skip its check. EINVAL with a message naming
 * the field (e.g. "password: at least 6 characters"). */
int db_ext_validate(const char *number, const char *name, const char *password, const char *vm_pin,
		    char *err, size_t errcap);
/* A number that is already an extension or a room: EEXIST. name and vm_pin
 * may be NULL (empty). */
int db_ext_add(sqlite3 *db, const char *number, const char *name, const char *password,
	       const char *vm_pin, char *err, size_t errcap);
/* EINVAL for a bad password, ENOENT for an unknown number. */
int db_ext_set_password(sqlite3 *db, const char *number, const char *password);
/* Change the fields given (NULL keeps the old value). flags: EXT_F_* bits
 * only; ring_time DB_RING_TIME_MIN..MAX. This is also how options are set:
 * read the flags with db_ext_get, change bits, write them back (inside one
 * db_begin/db_commit when others may write at the same time). */
int db_ext_update(sqlite3 *db, const char *number, const char *name, const char *vm_pin,
		  const unsigned *flags, const int *ring_time, char *err, size_t errcap);
int db_ext_del(sqlite3 *db, const char *number); /* ENOENT */
/* Ordered by number; cb returning non-zero stops the walk and is returned. */
int db_ext_list(sqlite3 *db, int (*cb)(void *ctx, const struct db_ext *e), void *ctx);
/* Sort keys of db_ext_page. Ties are broken by number order. */
enum db_ext_sort {
	DB_EXT_SORT_NUMBER,  /* shorter first, then as text (db_ext_list's order) */
	DB_EXT_SORT_NAME,    /* ASCII case-insensitive */
	DB_EXT_SORT_CREATED, /* created_at */
	DB_EXT_SORT_UPDATED, /* updated_at */
};
/* One page of the extensions that match q, sorted and paged in SQL: the
 * rows offset .. offset + limit - 1 of the order through cb (non-zero stops
 * and is returned), and in *total how many match in all. q NULL or "": all;
 * otherwise the number contains q or the name contains it ASCII
 * case-insensitively, q taken literally (no wildcards; at most 256 bytes,
 * else EINVAL). desc reverses the whole order, ties included. Count and
 * page come from one snapshot. */
int db_ext_page(sqlite3 *db, const char *q, enum db_ext_sort sort, bool desc, unsigned limit,
		unsigned offset, int (*cb)(void *ctx, const struct db_ext *e), void *ctx, unsigned *total);
/* One extension through cb (its return value is returned); ENOENT. */
int db_ext_get(sqlite3 *db, const char *number, int (*cb)(void *ctx, const struct db_ext *e), void *ctx);
/* Is the number taken by an extension or a room? */
int db_number_in_use(sqlite3 *db, const char *number, bool *in_use);
/* Field checks shared by extensions, rooms, CSV import and the snapshot. */
bool db_number_valid(const char *s); /* DB_NUMBER_MIN..MAX digits */
bool db_pin_valid(const char *s);    /* "" or DB_PIN_MIN..MAX digits */
bool db_name_valid(const char *s);   /* UTF-8, <= DB_NAME_MAX characters, no control characters */
/* HA1 = lowercase hex of MD5 / SHA-256 of "user:realm:password". */
void db_ha1(const char *user, const char *realm, const char *password, char md5_out[33],
	    char sha256_out[65]);

/* ---- db_ext.c: forwarding and do not disturb -------------------------------- */

/* Which forwarding rule: the feature codes set one at a time. */
enum db_fwd_kind {
	DB_FWD_ALWAYS,   /* every call, at once */
	DB_FWD_BUSY,     /* when the extension is busy (or DND is on) */
	DB_FWD_NOANSWER, /* after ring_time seconds without an answer */
};

/* The forwarding state of one extension, copied out. */
struct db_fwd {
	char always[DB_NUMBER_MAX + 1];   /* target extension, "" = off */
	char busy[DB_NUMBER_MAX + 1];
	char noanswer[DB_NUMBER_MAX + 1];
	bool dnd;
};

/* The column name of a kind ("fwd_always", ...), as error messages name
 * it; NULL when out of range. */
const char *db_fwd_kind_name(enum db_fwd_kind kind);
/* A target must be "" (off) or an existing extension that is not number
 * itself. EINVAL with a message naming the field ("fwd_busy: 2001 is not an
 * extension"); a database error otherwise. Targets deleted later are left
 * in place (the core skips them at call time). */
int db_fwd_validate(sqlite3 *db, const char *number, enum db_fwd_kind kind, const char *target, char *err,
		    size_t errcap);
/* ENOENT for an unknown extension. */
int db_ext_get_fwd(sqlite3 *db, const char *number, struct db_fwd *out);
/* All three targets and dnd, all or nothing; EINVAL naming the first bad
 * field, ENOENT (message "extension: ...") for an unknown extension. */
int db_ext_set_fwd(sqlite3 *db, const char *number, const struct db_fwd *f, char *err, size_t errcap);
/* One rule (target "" = off), for the feature codes. */
int db_ext_set_fwd_one(sqlite3 *db, const char *number, enum db_fwd_kind kind, const char *target,
		       char *err, size_t errcap);
int db_ext_set_dnd(sqlite3 *db, const char *number, bool on); /* ENOENT */

/* ---- db_cdr.c: call detail records ------------------------------------------- */

#define DB_CDR_PARTY_MAX 63   /* bytes of caller, callee, dialed */
#define DB_CDR_CALL_ID_MAX 255
#define DB_CDR_CODEC_MAX 15

/* How a call ended; stored as the text db_cdr_disp_name gives. */
enum db_cdr_disp {
	DB_CDR_ANSWERED,
	DB_CDR_BUSY,
	DB_CDR_NOANSWER,
	DB_CDR_UNAVAILABLE, /* not registered, unknown number */
	DB_CDR_CANCELLED,   /* the caller hung up before an answer */
	DB_CDR_FAILED,
	DB_CDR_REDIRECTED,  /* answered with a 302 (EXT_F_REDIRECT) */
	DB_CDR_REJECTED,    /* declined by the callee */
	DB_CDR_DISP_COUNT
};

/* Who hung up; "" when nobody did (the call never connected). */
enum db_cdr_by { DB_CDR_BY_NONE, DB_CDR_BY_CALLER, DB_CDR_BY_CALLEE, DB_CDR_BY_SYSTEM, DB_CDR_BY_COUNT };

/* Media figures of one leg. */
struct db_cdr_leg {
	char codec[DB_CDR_CODEC_MAX + 1]; /* "PCMU", "opus", ...; "" = no media */
	int64_t rx_packets;               /* received from the phone */
	int64_t tx_packets;               /* sent to the phone */
	int64_t lost;                     /* of the received ones */
	int jitter_ms;                    /* interarrival jitter of the received ones */
	bool srtp;
};

/* One call, by value (the jobs queue copies it). Strings are NUL-terminated
 * inside their arrays; a row where one is not, or with an enum, a count or
 * a time out of range, is logged and skipped by db_cdr_insert_batch. */
struct db_cdr {
	int64_t id;                           /* set by db_cdr_list; ignored on insert */
	char call_id[DB_CDR_CALL_ID_MAX + 1]; /* the caller leg's Call-ID */
	char caller[DB_CDR_PARTY_MAX + 1];    /* calling extension (or From user) */
	char callee[DB_CDR_PARTY_MAX + 1];    /* the extension finally rung or answered; may be "" */
	char dialed[DB_CDR_PARTY_MAX + 1];    /* what the caller dialled */
	int64_t start_at;                     /* unix ms: the INVITE arrived; > 0 */
	int64_t answer_at;                    /* unix ms; 0 = never answered (NULL in SQL) */
	int64_t end_at;                       /* unix ms, >= start_at (and >= answer_at) */
	enum db_cdr_disp disposition;
	enum db_cdr_by hangup_by;
	struct db_cdr_leg a;                  /* caller leg */
	struct db_cdr_leg b;                  /* callee leg */
};

/* "answered", ...; NULL when out of range. */
const char *db_cdr_disp_name(enum db_cdr_disp d);
/* 0, or EINVAL for a name that is not one of db_cdr_disp_name's. */
int db_cdr_disp_parse(const char *name, enum db_cdr_disp *out);
/* "", "caller", "callee", "system"; NULL when out of range. */
const char *db_cdr_by_name(enum db_cdr_by b);

/* Insert n rows in one BEGIN IMMEDIATE transaction (or the caller's). Bad
 * rows are logged and skipped; the others are written. */
int db_cdr_insert_batch(sqlite3 *db, const struct db_cdr *rows, size_t n);

/* What db_cdr_list and db_cdr_count select; NULL or "" = any, 0 = open. */
struct db_cdr_filter {
	const char *caller;      /* exact */
	const char *callee;      /* exact */
	const char *disposition; /* a db_cdr_disp_name; another value is EINVAL */
	int64_t from_ms;         /* start_at >= from_ms */
	int64_t to_ms;           /* start_at < to_ms */
};

/* Matching rows, newest first, skipping offset and at most limit of them.
 * r is valid during the call only; cb returning non-zero stops the walk and
 * is returned. f may be NULL. */
int db_cdr_list(sqlite3 *db, const struct db_cdr_filter *f, size_t offset, size_t limit,
		int (*cb)(void *ctx, const struct db_cdr *r), void *ctx);
int db_cdr_count(sqlite3 *db, const struct db_cdr_filter *f, size_t *out);

/* ---- db_csv.c: bulk import ----------------------------------------------- */

#define DB_CSV_LINE_MAX 4096
#define DB_CSV_ROWS_MAX 100000
#define DB_CSV_REPORT_MAX 1000 /* errors reported before giving up */

/* Header: the column names extension, name, password, vm_pin in any order
 * (extension and password required; name and vm_pin may be left out).
 * RFC 4180 quoting within one line, CRLF or LF, a UTF-8 BOM is skipped,
 * blank lines are ignored. All or nothing: each bad row is reported through
 * report() with its line number; if any is bad nothing is imported and the
 * result is EBADMSG. One transaction for the whole file. */
int db_ext_import_csv(sqlite3 *db, FILE *in, void (*report)(void *ctx, unsigned line, const char *msg),
		      void *ctx, unsigned *imported);

/* ---- db_location.c: registration bindings ----------------------------- */

struct db_binding {
	char aor[32];          /* extension number */
	char contact[512];     /* Contact URI as the phone sent it */
	char received[64];     /* source "ip:port" or "[v6]:port" */
	char transport[8];     /* "udp", "tcp", "tls" */
	char local[64];        /* local address the REGISTER came in on */
	char call_id[256];
	uint32_t cseq;
	int64_t expires_at;    /* unix seconds */
	double q;              /* 0..1; -1 when the phone gave none */
	char user_agent[128];
	char instance[128];    /* +sip.instance, may be "" */
	int reg_id;            /* RFC 5626 reg-id, 0 when absent */
};

int db_location_put(sqlite3 *db, const struct db_binding *b); /* insert or replace */
/* One binding, or all of the aor's when contact is NULL. ENOENT if none. */
int db_location_del(sqlite3 *db, const char *aor, const char *contact);
/* Deletes bindings expired at 'now', then hands every other one to cb (rows
 * that do not fit struct db_binding are logged and skipped). */
int db_location_load(sqlite3 *db, int64_t now, int (*cb)(void *ctx, const struct db_binding *b),
		     void *ctx);

/* ---- db_rooms.c: conference rooms -------------------------------------------- */

struct db_room {
	const char *number;
	const char *name;
	const char *pin;           /* "" = open room */
	const char *moderator_pin; /* "" = no moderator */
	unsigned max_participants;
	unsigned flags;
};

#define DB_ROOM_MAX_PARTICIPANTS 500

/* Room options (the flags column). */
#define ROOM_F_ANNOUNCE 0x1u          /* say when someone joins or leaves */
#define ROOM_F_WAIT_MODERATOR 0x2u    /* others hear nothing until a moderator joins */
#define ROOM_F_JOIN_MUTED 0x4u        /* participants (not moderators) join muted */
#define ROOM_F_END_WITH_MODERATOR 0x8u /* the last moderator leaving ends the room */
#define ROOM_F_ALL 0xfu
/* "announce,join-muted,..." -> bits; EINVAL naming the bad word in err. */
int db_room_flags_parse(const char *list, unsigned *flags, char *err, size_t errcap);
/* Set the options of a room: 0, ENOENT, EINVAL (unknown bits). */
int db_room_set_flags(sqlite3 *db, const char *number, unsigned flags);

/* name, pin, moderator_pin may be NULL; max_participants 0 = default 50. */
int db_room_validate(const char *number, const char *name, const char *pin,
		     const char *moderator_pin, unsigned max_participants, char *err, size_t errcap);
int db_room_add(sqlite3 *db, const char *number, const char *name, const char *pin,
		const char *moderator_pin, unsigned max_participants, char *err, size_t errcap);
/* Change a room: NULL (or max_participants 0, flags NULL) keeps a field.
 * Checked like db_room_add against the merged row (a new pin must differ
 * from the moderator PIN kept). 0, ENOENT, EINVAL (err says which field). */
int db_room_update(sqlite3 *db, const char *number, const char *name, const char *pin,
		   const char *moderator_pin, unsigned max_participants, const unsigned *flags, char *err,
		   size_t errcap);
int db_room_del(sqlite3 *db, const char *number); /* ENOENT */
int db_room_list(sqlite3 *db, int (*cb)(void *ctx, const struct db_room *r), void *ctx);

/* ---- db_admins.c: web admin accounts ------------------------------------------ */

/* user: 1..64 of [A-Za-z0-9._@-]; password 8..1024 bytes. Stored as a
 * yescrypt hash ("$y$..."); the account is created if missing. */
int db_admin_set_password(sqlite3 *db, const char *user, const char *password, char *err,
			  size_t errcap);
/* *ok false for an unknown user or a wrong password; both take the same
 * time (a hash is computed either way). */
int db_admin_check(sqlite3 *db, const char *user, const char *password, bool *ok);
int db_admin_count(sqlite3 *db, int *n);
int db_admin_del(sqlite3 *db, const char *user); /* ENOENT */
int db_admin_list(sqlite3 *db, int (*cb)(void *ctx, const char *user, int64_t created_at), void *ctx);

/* ---- db_vm.c: voicemail boxes and messages ------------------------------------ */

#define DB_VM_EMAIL_MAX 254          /* bytes of a notification address */
#define DB_VM_FILE_MAX 255           /* bytes of a file name relative to the spool folder */
#define DB_VM_STATUS_MAX 255         /* bytes of a message's email_status */
#define DB_VM_MSG_SECONDS_MIN 10     /* range of max_msg_seconds */
#define DB_VM_MSG_SECONDS_MAX 3600
#define DB_VM_MSG_SECONDS_DEFAULT 180
#define DB_VM_MESSAGES_MAX 10000     /* range of max_messages is 1..this */
#define DB_VM_MESSAGES_DEFAULT 100

/* When a call goes to voicemail (mailboxes.vm_on, a comma list of the
 * names "noanswer", "busy", "unavailable", "dnd"). */
#define DB_VM_ON_NOANSWER 0x1u
#define DB_VM_ON_BUSY 0x2u
#define DB_VM_ON_UNAVAILABLE 0x4u /* not registered */
#define DB_VM_ON_DND 0x8u
#define DB_VM_ON_ALL 0xfu

enum db_vm_folder { DB_VM_NEW, DB_VM_OLD, DB_VM_ANY /* db_vm_msg_list only */ };
enum db_vm_greeting { DB_VM_GREETING_UNAVAIL, DB_VM_GREETING_BUSY, DB_VM_GREETING_NAME, DB_VM_GREETING_COUNT };

/* One mailbox, copied out. The PIN is the extension's vm_pin: read here,
 * written with db_vm_set_pin (or db_ext_update); db_vm_mailbox_set ignores
 * it. */
struct db_mailbox {
	char number[DB_NUMBER_MAX + 1];  /* the extension's number */
	char pin[DB_PIN_MAX + 1];        /* extensions.vm_pin; "" = none set */
	char email[DB_VM_EMAIL_MAX + 1]; /* notification address, "" = no email */
	bool email_attach;               /* attach the recording to the email */
	unsigned max_msg_seconds;        /* DB_VM_MSG_SECONDS_MIN..MAX */
	unsigned max_messages;           /* 1..DB_VM_MESSAGES_MAX, both folders together */
	bool unsolicited_mwi;            /* NOTIFY the phone's contacts without a SUBSCRIBE */
	unsigned vm_on;                  /* DB_VM_ON_* bits */
	/* Recorded greetings, relative to the spool folder; "" = the generated
	 * default. Indexed by enum db_vm_greeting. */
	char greeting[DB_VM_GREETING_COUNT][DB_VM_FILE_MAX + 1];
};

/* One message, copied out (and in, for db_vm_msg_add). */
struct db_vm_msg {
	int64_t id;                           /* set by the database */
	char mailbox[DB_NUMBER_MAX + 1];
	enum db_vm_folder folder;             /* DB_VM_NEW or DB_VM_OLD */
	char caller[DB_CDR_PARTY_MAX + 1];    /* From user (number), not empty */
	char caller_name[DB_NAME_BYTES + 1];  /* From display name, may be "" */
	int64_t received_at;                  /* unix ms, > 0 */
	uint32_t duration_ms;
	char file[DB_VM_FILE_MAX + 1];        /* relative to the spool folder */
	char email_status[DB_VM_STATUS_MAX + 1]; /* "" = none sent; see db_vm_msg_set_email_status */
	bool heard;                           /* played at least once, by phone or browser */
};

/* "noanswer,busy" <-> bits. Parse: tokens separated by commas (spaces
 * around them allowed), each known, "" = 0; EINVAL otherwise. Format:
 * the names in the order above; ENOSPC when cap is too small. */
int db_vm_on_parse(const char *s, unsigned *bits);
int db_vm_on_format(unsigned bits, char *out, size_t cap);
/* "" or one address local@domain of printable ASCII without spaces, quotes,
 * angle brackets, commas or semicolons (it goes into SMTP commands and a
 * header as it is), at most DB_VM_EMAIL_MAX bytes. */
bool db_vm_email_valid(const char *s);
/* "" or a relative path of [A-Za-z0-9._-] components separated by single
 * slashes, none of them "." or "..", at most DB_VM_FILE_MAX bytes. */
bool db_vm_file_valid(const char *s);
/* Every field of m except number and pin; EINVAL naming the field. */
int db_vm_mailbox_validate(const struct db_mailbox *m, char *err, size_t errcap);

/* ENOENT for a number without a mailbox (not an extension). */
int db_vm_mailbox_get(sqlite3 *db, const char *number, struct db_mailbox *out);
/* Write every setting of m (not number, not pin); all or nothing. EINVAL
 * naming the field, ENOENT for an unknown mailbox. */
int db_vm_mailbox_set(sqlite3 *db, const struct db_mailbox *m, char *err, size_t errcap);
/* Every mailbox, ordered by number; cb returning non-zero stops the walk
 * and is returned. m is valid during the call only. */
int db_vm_mailbox_list(sqlite3 *db, int (*cb)(void *ctx, const struct db_mailbox *m), void *ctx);
/* One greeting's file ("" = back to the default). EINVAL, ENOENT. */
int db_vm_set_greeting(sqlite3 *db, const char *number, enum db_vm_greeting kind, const char *file);
/* The mailbox PIN (extensions.vm_pin): "" or DB_PIN_MIN..MAX digits. */
int db_vm_set_pin(sqlite3 *db, const char *number, const char *pin);

/* Add a message (m->id is ignored) and return its id. ENOENT when the
 * mailbox does not exist, ENOSPC when it already holds max_messages,
 * EINVAL for a bad field. The file must already be in its final place: a
 * row never points at a file still being written. */
int db_vm_msg_add(sqlite3 *db, const struct db_vm_msg *m, int64_t *id);
/* The messages of one mailbox in one folder (or DB_VM_ANY: new first, then
 * old), oldest first within a folder. cb returning non-zero stops the walk
 * and is returned; m is valid during the call only. */
int db_vm_msg_list(sqlite3 *db, const char *mailbox, enum db_vm_folder folder,
		   int (*cb)(void *ctx, const struct db_vm_msg *m), void *ctx);
/* One message of one mailbox: ENOENT when id is not in that mailbox (every
 * call below takes both so one mailbox cannot reach another's messages). */
int db_vm_msg_get(sqlite3 *db, const char *mailbox, int64_t id, struct db_vm_msg *out);
/* Save: folder 'old' and heard. Idempotent; ENOENT. */
int db_vm_msg_move_old(sqlite3 *db, const char *mailbox, int64_t id);
/* The heard flag only (the folder stays). ENOENT. */
int db_vm_msg_set_heard(sqlite3 *db, const char *mailbox, int64_t id, bool heard);
/* Delete the row and copy its file name into file (cap DB_VM_FILE_MAX + 1)
 * so the caller unlinks it after: a file without a row is only garbage, a
 * row without its file would be a broken message. ENOENT. */
int db_vm_msg_del(sqlite3 *db, const char *mailbox, int64_t id, char file[DB_VM_FILE_MAX + 1]);
/* What became of the notification email: short printable text such as
 * "sent", "failed: 550 5.1.1 no such user" (control characters are
 * refused with EINVAL; longer than DB_VM_STATUS_MAX is cut). ENOENT. */
int db_vm_msg_set_email_status(sqlite3 *db, int64_t id, const char *status);
/* Messages in each folder. An unknown mailbox counts 0/0 (no error). */
int db_vm_counts(sqlite3 *db, const char *mailbox, unsigned *n_new, unsigned *n_old);
/* Counts of every mailbox (zero ones too), ordered by number: what message
 * waiting starts from. cb returning non-zero stops the walk. */
int db_vm_counts_all(sqlite3 *db, int (*cb)(void *ctx, const char *mailbox, unsigned n_new, unsigned n_old),
		     void *ctx);

#endif
