/*
 * core_priv.h: the core's state, shared by the files of the core thread
 * (core.c: loop and dispatch; core_auth.c: digest checks; core_register.c:
 * REGISTER and keepalives). Nothing outside the core thread touches it.
 */
#ifndef PBX_CORE_PRIV_H
#define PBX_CORE_PRIV_H

#include <stdint.h>

#include "config.h"
#include "core.h"
#include "digest.h"
#include "jobs.h"
#include "loop.h"
#include "media.h"
#include "registrar.h"
#include "sip_build.h"
#include "sip_msg.h"
#include "sip_transport.h"
#include "sip_txn.h"
#include "throttle.h"
#include "timer_heap.h"
#include "vm_notify.h"

#define CORE_RESP_MAX SIP_MAX_MSG /* a 200 to REGISTER lists up to 100 contacts */

struct core_stats {
	uint64_t rx, rx_bad, rx_banned, auth_challenges, auth_failures, auth_ok, registers_ok;
	uint64_t call_setups, calls_answered, messages;
};

struct core {
	struct loop loop;
	struct timer_heap th;
	struct loop_watch sig_w, cfg_w;
	int sigfd;
	struct sip_transport *tp;
	struct sip_txn_layer *txl;
	struct registrar *reg;
	struct digest_nonces *nonces;
	struct throttle *thr;
	struct config *cfg;  /* current snapshot (one reference) */
	struct jobs *jobs;
	struct vm_notify *notify; /* voicemail emails: vm_notify_post a new message's id; owned and set by pbxd.c, NULL when off */
	struct core_live *live; /* queries from the web admin (core_live.c) */
	struct media_engine *media;
	struct loop_watch media_w;
	struct calls *calls;    /* the B2BUA (call.c) */
	struct media_slot *slots; /* every media leg the core opened (call_media.c) */
	struct sdp_session *sdp_tmp[2]; /* scratch for parsing descriptions */
	struct sip_msg *msg_tmp; /* scratch for re-parsing a kept request */
	struct msg_relay *msg_relays; /* MESSAGEs being relayed (core_message.c) */
	struct conf_room *conf_rooms; /* rooms with someone in them (call_conf.c) */
	struct core_mwi *mwi;   /* message waiting: counts and subscriptions (core_mwi.c) */
	struct vm_store *vm;     /* voicemail worker (vm_store.c); NULL when it could not start */
	struct loop_watch vm_w;
	struct core_net {     /* core_net.c */
		struct sockaddr_storage started[CORE_MAX_LISTEN]; /* --sip-listen */
		unsigned nstarted;
		uint16_t rtp_lo, rtp_hi; /* --rtp-ports */
		struct timer drain;      /* closes old SIP ports no call uses any more */
	} net;
	uint64_t now_ms;     /* monotonic, refreshed each loop iteration */
	char realm[64];
	struct core_stats st;
	char resp[CORE_RESP_MAX]; /* scratch for building one response */
};

/* core.c */
void core_reply(struct core *c, struct sip_txn *st, const struct sip_msg *req,
		const struct sip_dest *src, int code, const char *extra_headers);
/* The common start of a response in c->resp; finish with core_send_built. */
void core_begin_reply(struct core *c, struct sip_buf *b, const struct sip_msg *req,
		      const struct sip_dest *src, int code);
void core_send_built(struct core *c, struct sip_txn *st, const struct sip_msg *req,
		     const struct sip_dest *src, struct sip_buf *b, int code);

/* core_auth.c */
/*
 * Check the request's digest credentials. Returns the extension when they
 * are right and the authenticated user equals want_user (when not NULL).
 * Otherwise it has answered (401 challenge, 400, 403) and returns NULL.
 */
const struct config_ext *core_auth(struct core *c, struct sip_txn *st, const struct sip_msg *req,
				   const struct sip_dest *src, struct slice want_user);
void core_auth_apply_config(struct core *c);

/* core_live.c */
int core_live_init(struct core *c);
void core_live_free(struct core *c);

/* core_net.c */
/* Open the SIP ports: the --sip-listen addresses, on the setting sip_port
 * when set (as started when that port cannot be opened). */
int core_net_start(struct core *c, const struct core_opts *o);
/* After a config change: SIP port and RTP ports as the settings say. */
void core_net_apply(struct core *c);
void core_net_free(struct core *c);
struct live_net;
void core_net_describe(struct core *c, struct live_net *out);

/* core_message.c */
void core_message(struct core *c, struct sip_txn *st, const struct sip_msg *req, const struct sip_dest *src);
void core_message_result(struct core *c, struct sip_txn *ct, int status);
void core_message_server_gone(struct core *c, struct sip_txn *st);
void core_message_free_all(struct core *c);

/* core_mwi.c */
/* After jobs_start: watches the jobs thread's counts. */
int core_mwi_init(struct core *c);
/* Before jobs_stop and the transaction layer go. */
void core_mwi_free(struct core *c);
/* mailbox (an extension number) now holds these counts: NOTIFY its
 * subscribers and, when it asks for unsolicited MWI, its contacts; nothing
 * when they did not change. Voicemail code on the core thread calls this,
 * or jobs_vm_changed after a write elsewhere. */
void core_mwi_counts(struct core *c, const char *mailbox, unsigned n_new, unsigned n_old);
void core_mwi_subscribe(struct core *c, struct sip_txn *st, const struct sip_msg *req, const struct sip_dest *src);
/* A request inside a subscription dialog: handled (true) or not ours. */
bool core_mwi_in_dialog(struct core *c, struct sip_txn *st, const struct sip_msg *req, const struct sip_dest *src);
/* A response (or failure: 408/503) for a NOTIFY: true when it was ours. */
bool core_mwi_txn_result(struct core *c, struct sip_txn *ct, int status);
/* A new binding: unsolicited MWI when its extension asks for it. */
void core_mwi_binding_added(struct core *c, const struct reg_binding *b);

/* core_register.c */
void core_register(struct core *c, struct sip_txn *st, const struct sip_msg *req,
		   const struct sip_dest *src);
int core_register_init(struct core *c, sqlite3 *db);
void core_register_apply_config(struct core *c);
/* A client transaction of ours (keepalive OPTIONS) ended. */
void core_register_txn_done(struct core *c, struct sip_txn *ct, int status);

#endif
