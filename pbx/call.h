/*
 * call.h: the B2BUA (DESIGN.md "SIP core"): every call between extensions
 * is two or more legs with their own dialogs, and audio flows through the
 * media engine, which anchors both legs.
 *
 * Leg A faces the caller (we are its UAS); the callee side starts as one
 * fork per registered contact (we are their UAC), all sharing one media leg
 * and one SDP offer; the first to answer becomes leg B and the others are
 * cancelled. Because media is anchored, transfers and forwarding re-bridge
 * media legs without asking the phones to move their RTP.
 *
 * Ownership: the core thread owns everything here. A call holds one
 * reference to the config snapshot it started with. A struct media_slot is
 * the core's side of one media leg; it lives from media_leg_new until the
 * engine reports MEDIA_EV_CLOSED (the event's cookie points at it), and
 * tells which call gets the final statistics for its CDR.
 */
#ifndef PBX_CALL_H
#define PBX_CALL_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "dialog.h"
#include "media.h"
#include "sdp.h"
#include "sip_txn.h"
#include "timer_heap.h"

struct core;
struct call;

struct media_slot {
	struct media_slot *next, *prev; /* every slot of the core (freed at shutdown) */
	media_leg_id id;
	uint16_t port;
	struct call *call;       /* who gets the statistics; NULL: nobody */
	int side;                /* 0: caller side, 1: callee side of that call's CDR, 2: video (not recorded) */
	bool closing;            /* media_leg_free sent */
	char addr[48];           /* our media address as written in SDP */
	struct media_leg_params params; /* last sent to the engine */
	bool params_set;
};

enum leg_state {
	LEG_TRYING,     /* INVITE sent or received, nothing back yet */
	LEG_EARLY,      /* a provisional response */
	LEG_CONFIRMED,  /* 2xx */
	LEG_GONE,       /* final non-2xx, CANCEL or BYE */
};

struct leg {
	struct call *call;
	struct leg *next_fork;    /* the callee side's forks */
	struct leg *hnext;        /* dialog table chain */
	bool is_a;                /* the caller side: we are its UAS */
	bool in_table;
	enum leg_state state;
	bool cancelled;           /* CANCEL sent (callee forks) */
	struct dialog dlg;
	const struct config_ext *ext; /* the extension this leg talks to */
	struct media_slot *ms;    /* NULL for forks until one answers (they use the call's) */

	/* Leg A: its INVITE server transaction and a copy of the INVITE. */
	struct sip_txn *inv_st;
	char *req;
	size_t req_len;
	struct sip_dest req_src;
	/* A 2xx we sent to an INVITE, retransmitted until its ACK (RFC 3261 13.3.1.4). */
	char *ok;
	size_t ok_len;
	uint32_t ok_cseq;
	uint32_t ok_interval;
	uint64_t ok_deadline;
	struct timer ok_timer;
	struct sip_txn *reinv_st; /* re-INVITE server transaction being answered */

	/* Callee forks: our INVITE. */
	struct sip_txn *inv_ct;
	char branch[40];
	uint32_t inv_cseq;
	int final_status;

	/* Offer/answer on this leg after the first exchange. */
	struct sdp_origin origin;
	struct sdp_offer offer;   /* our last offer on this leg (re-INVITE we sent) */
	struct sip_txn *reinv_ct; /* our last re-INVITE (kept to ACK retransmitted 2xx) */
	bool reinv_pending;       /* ... and it has no final response yet */
	bool held_by_peer;        /* the phone put us on hold */
	bool holding_peer;        /* we told the phone it is on hold */
	char *sdp;                /* our last description on this leg */
	size_t sdp_len;

	/* Session timer (RFC 4028), leg A: the phone refreshes. */
	uint32_t se_interval;     /* seconds, 0: none */
	struct timer se_timer;
};

enum call_kind { CALL_BRIDGE, CALL_ECHO, CALL_FEATURE, CALL_CONF, CALL_VM, CALL_VMMENU };

/* Why a call went to voicemail (the mailbox's vm_on decides). */
enum vm_reason { VM_NOANSWER, VM_BUSY, VM_UNAVAILABLE, VM_DND };
enum vm_state { VM_LOADING, VM_GREETING_PCM, VM_GREETING, VM_RECORD, VM_SAVING, VM_BYE };

/* A caller leaving a message (call_vm.c). */
struct call_vm {
	const struct config_ext *box; /* the mailbox, from the call's snapshot */
	enum vm_reason why;
	enum vm_state state;
	bool recording;               /* a media_record whose RECORD_DONE has not come */
};

struct vm_menu;
/* A caller in the voicemail menu, *97 / *98 (call_vmmenu.c). */
struct call_vmmenu {
	struct vm_menu *m;
	uint32_t plays[8];            /* menu tokens of the media_plays not yet reported, oldest first */
	unsigned play_head, n_plays;
	uint32_t timer_tag;           /* token of the armed timer (call->end_timer) */
	bool recording;
	uint32_t rec_tag;
	enum db_vm_greeting rec_greeting;
	char rec_mailbox[DB_NUMBER_MAX + 1];
};

struct conf_room;
enum conf_state { CONF_PIN, CONF_IN, CONF_BYE };

/* A call into a conference room (call_conf.c). */
struct call_conf {
	const struct config_room *cfg;  /* from the call's snapshot */
	struct conf_room *room;         /* NULL until joined */
	enum conf_state state;
	char pin[16];
	unsigned pin_len, pin_tries;
	bool moderator, muted, star;
	unsigned plays;                 /* media_plays not yet reported done */
	int volume;
	int64_t joined_ms;              /* wall clock when it joined the room */
	struct call *next, *prev;       /* members of the room in joining order */
};

struct call_cdr_leg {
	struct media_leg_stats st;
	bool srtp;
	bool have;
};

struct call {
	struct core *core;
	struct call *next, *prev; /* all calls */
	uint64_t id;
	struct config *cfg;       /* snapshot the call started with (one reference) */
	enum call_kind kind;
	const struct config_ext *caller;
	const struct config_ext *callee; /* after forwarding */
	char dialed[32];
	char visited[8][16];      /* forwarding chain, loop detection */
	unsigned nvisited;
	struct leg *a;
	struct leg *b;            /* the answered callee leg */
	struct leg *forks;
	struct media_slot *fork_ms; /* the callee side's media leg while ringing */
	struct media_slot *vid[2];  /* relayed video: caller side, callee side (NULL: none) */
	struct sdp_offer fork_offer;
	struct sdp_origin fork_origin;
	char *fork_sdp;
	size_t fork_sdp_len;
	bool ringing_sent;
	bool answered;
	bool ended;
	unsigned busy_forks, failed_forks;
	struct timer ring_timer;
	struct timer end_timer;   /* feature calls: hang up after the tone */
	int64_t start_ms, answer_ms, end_ms; /* wall clock */
	const char *disposition;
	const char *hangup_by;
	unsigned media_open;      /* slots still reporting to this call */
	struct call_cdr_leg cdr[3]; /* caller leg, callee leg, and a sink for video slots */
	char call_id[DLG_CALLID_MAX];
	struct call_conf conf;    /* CALL_CONF only */
	struct call_vm vm;        /* CALL_VM only */
	struct call_vmmenu menu;  /* CALL_VMMENU only */
};

/* core-facing entry points (core.c dispatches to these) */
int calls_init(struct core *c);
void calls_free(struct core *c);
/* After the media engine stopped: free the slots whose CLOSED never came. */
void calls_release_slots(struct core *c);
/* A new INVITE (no To tag) from an authenticated extension. */
void call_invite(struct core *c, struct sip_txn *st, const struct sip_msg *req,
		 const struct sip_dest *src, const struct config_ext *caller);
/* A request with a To tag (or an ACK). Returns false when no dialog of ours
 * matches (the caller answers 481 / drops the ACK). */
bool call_in_dialog(struct core *c, struct sip_txn *st, const struct sip_msg *req,
		    const struct sip_dest *src);
/* CANCEL for an INVITE server transaction whose user is a leg. */
bool call_cancel(struct core *c, struct sip_txn *invite_st);
void call_response(struct core *c, struct sip_txn *ct, const struct sip_msg *resp);
void call_client_fail(struct core *c, struct sip_txn *ct, int reason);
void call_server_gone(struct core *c, struct sip_txn *st);
void call_client_gone(struct core *c, struct sip_txn *ct);
void call_media_event(struct core *c, const struct media_event *ev);
size_t calls_active(const struct core *c);
/* For the web admin (core_live.c): copy up to max calls; *total = all. */
struct live_call;
size_t calls_list(struct core *c, struct live_call *out, size_t max, size_t *total);
/* Hang up a call by id: 0 or ENOENT. */
int calls_hangup(struct core *c, uint64_t id);
/* Does a call in progress talk to a phone through a listen address of this
 * family and port (its requests and ours go there)? */
bool calls_use_port(const struct core *c, int family, uint16_t port);

/* call.c helpers shared with call_refer.c */
struct call *call_create(struct core *c);
void call_route(struct core *c, struct call *call, const struct config_ext *ext);
void call_hangup(struct core *c, struct call *call, const char *disposition, const char *by);
int call_leg_request(struct core *c, struct leg *l, const char *method, const char *extra, const char *ctype,
		     const char *body, size_t body_len);
void leg_reinvite(struct core *c, struct leg *o);
void call_dlg_index(struct core *c, struct leg *l, bool add);
struct leg *call_find_dialog(struct core *c, const char *call_id, const char *tag1, const char *tag2);

/* The call with this id that has not been freed, or NULL. */
struct call *call_by_id(struct core *c, uint64_t id);

/* call_vm.c: leaving a message */
bool vm_wanted(const struct config_ext *ext, enum vm_reason why);
/* call was answered locally; greet and record for mailbox box. */
void vm_start(struct core *c, struct call *call, const struct config_ext *box, enum vm_reason why);
void vm_play_done(struct core *c, struct call *call);
void vm_dtmf(struct core *c, struct call *call, char digit);
/* Takes the event's PCM. */
void vm_record_done(struct core *c, struct call *call, const struct media_event *ev);
/* The voicemail worker has results (its eventfd is readable). */
void vm_results(struct core *c);

/* call_vmmenu.c: *97 / *98 (mailbox NULL: ask for it) */
struct vm_store_result;
void vmmenu_start(struct core *c, struct call *call, const char *mailbox);
void vmmenu_free(struct call *call);
void vmmenu_dtmf(struct core *c, struct call *call, char digit);
void vmmenu_play_done(struct core *c, struct call *call);
void vmmenu_record_done(struct core *c, struct call *call, const struct media_event *ev); /* takes the PCM */
/* A worker result for this call; pcm/msgs taken are set to NULL. */
void vmmenu_result(struct core *c, struct call *call, struct vm_store_result *r);

/* call_conf.c: conference rooms */
void conf_start(struct core *c, struct call *call, const struct config_room *room);
void conf_dtmf(struct core *c, struct call *call, char digit);
void conf_pin_entered(struct core *c, struct call *call);
void conf_play_done(struct core *c, struct call *call);
void conf_leave(struct core *c, struct call *call);
void conf_room_close(struct core *c, struct conf_room *r);
void conf_free_all(struct core *c);
/* The web admin's controls (core_live.c). conf_admin_list copies up to max
 * participants, room by room, each room's in joining order; *total = all. */
struct live_conf_member;
size_t conf_admin_list(struct core *c, struct live_conf_member *out, size_t max, size_t *total);
/* Mute or unmute participant id (a call id) of room: 0, ENOENT. */
int conf_admin_mute(struct core *c, const char *room, uint64_t id, bool muted);
/* Goodbye prompt, then hang up participant id: 0, ENOENT. */
int conf_admin_kick(struct core *c, const char *room, uint64_t id);
/* Lock (nobody but a moderator joins) or unlock a room in use: 0, ENOENT. */
int conf_admin_lock(struct core *c, const char *room, bool locked);

/* call_refer.c: REFER (RFC 3515), blind and attended (Replaces, RFC 3891) */
void call_refer(struct core *c, struct leg *l, struct sip_txn *st, const struct sip_msg *req,
		const struct sip_dest *src);

/* call_media.c: SDP and the media engine */
int call_media_init(struct core *c);
void call_media_free(struct core *c);
struct media_slot *call_slot_new(struct core *c, struct call *call, int side, const struct sip_dest *d,
				 media_leg_id near);
/* Close the media leg; the slot goes when MEDIA_EV_CLOSED comes. */
void call_slot_free(struct core *c, struct media_slot *ms);
/* Unlink and free the slot itself (CLOSED came, or shutdown). */
void call_slot_release(struct core *c, struct media_slot *ms);
/* Statistics of the slot go to another call from now on (transfers). */
void call_slot_move(struct media_slot *ms, struct call *to, int side);
/* Our offer for the callee side, from the caller's offer (in leg A's INVITE).
 * ENOTSUP: the caller offers no codec that codec_order allows (488). */
int call_media_fork_offer(struct core *c, struct call *call, const struct sdp_session *a_offer);
/* The callee answered: apply its answer, answer the caller, bridge.
 * Writes leg A's answer into *sdp (malloc'd). 0 or a SIP status to give up with. */
int call_media_answered(struct core *c, struct call *call, struct leg *b, const struct sip_msg *resp,
			const struct sdp_session *a_offer, char **sdp, size_t *sdp_len);
/* Answer an offer on one leg locally (feature calls, re-INVITE, UPDATE). */
int call_media_answer_local(struct core *c, struct leg *l, const struct sdp_session *offer,
			    char **sdp, size_t *sdp_len);
/* Our offer on a confirmed leg (hold/resume towards it): dir is what we do. */
int call_media_reoffer(struct core *c, struct leg *l, enum sdp_dir dir, char **sdp, size_t *sdp_len);
int call_media_reanswer(struct core *c, struct leg *l, const struct sip_msg *resp);
/* The first video m-line with a port, or NULL. */
const struct sdp_media *call_sdp_video(const struct sdp_session *s);
/* Whether the description puts us on hold (the phone will not receive). */
bool call_sdp_is_hold(const struct sdp_session *s);
int call_sdp_parse(const struct sip_msg *m, struct sdp_session *s);

#endif
