/*
 * sip_txn.h: the SIP transaction layer (RFC 3261 section 17, with the
 * RFC 6026 "Accepted" states for INVITE).
 *
 * The layer sits between the transport (which parses what it receives and
 * feeds it to sip_txn_input, and which the layer calls through ops->send)
 * and the transaction user, the TU: registrar, dialogs, calls (which get
 * requests and responses through the ops callbacks and answer with
 * sip_txn_respond / start requests with sip_txn_request).
 *
 * It runs the four state machines of RFC 3261 17.1.1, 17.1.2, 17.2.1 and
 * 17.2.2 on a timer heap owned by the same thread, matches requests to server
 * transactions (17.2.3, including RFC 2543 peers without the "z9hG4bK" magic
 * cookie) and responses to client transactions (17.1.3), retransmits over UDP
 * and not over TCP (where timers D, I, J, K are 0), and ACKs non-2xx final
 * responses to INVITE itself (17.1.1.3).
 *
 * Ownership and lifetime (read this before keeping a struct sip_txn *):
 *   - The layer owns every transaction and frees it. A server transaction
 *     pointer is valid from on_request until on_server_gone returns for it.
 *     A client transaction pointer is valid from sip_txn_request until
 *     on_client_fail or on_client_gone returns for it, or until the TU calls
 *     sip_txn_abandon on it. sip_txn_layer_free frees everything still alive
 *     without any callback.
 *   - Callbacks may call any function here re-entrantly (respond, request,
 *     abandon, even on the transaction being reported); a transaction that
 *     ends while a callback about it runs is freed once the callback returns.
 *     Only sip_txn_layer_free must not be called from a callback.
 *   - Ending on TCP is immediate: a non-INVITE server transaction ends inside
 *     sip_txn_respond with its final response (on_server_gone is called
 *     before sip_txn_respond returns). So after a final response the TU must
 *     not use a server transaction again, except to send 2xx retransmissions
 *     of an INVITE (Accepted state) until on_server_gone.
 *   - ACK never has a transaction of its own. An ACK that matches an INVITE
 *     server transaction which sent a non-2xx final is absorbed here; every
 *     other ACK (normally the ACK of a 2xx, which has its own branch) reaches
 *     on_request with st NULL. The TU sends the ACK of a 2xx it received
 *     itself, outside any transaction (RFC 3261 13.2.2.4).
 *
 * Timers (RFC 3261 table 4; T1, T2, T4 per layer): client INVITE: A (UDP,
 * T1 doubling), B = 64*T1, D = 64*T1 on UDP and 0 on TCP, M = 64*T1.
 * Client non-INVITE: E (UDP, T1 doubling up to T2; T2 in Proceeding),
 * F = 64*T1, K = T4 on UDP and 0 on TCP. Server INVITE: G (UDP, T1 doubling
 * up to T2), H = 64*T1, I = T4 on UDP and 0 on TCP, L = 64*T1. Server
 * non-INVITE: J = 64*T1 on UDP and 0 on TCP. Two guards that the RFC leaves
 * to the TU: a non-INVITE server transaction the TU never answers ends after
 * 64*T1 + T4 (the client gave up at timer F), and an abandoned transaction
 * that has no timer running ends after 64*T1.
 *
 * Memory: a server transaction keeps only what matching needs (branch and
 * sent-by, or the RFC 2543 fields), the destination in compact form and the
 * last response, each allocated at its exact size. A client transaction keeps
 * its request (for retransmission and to build the ACK).
 *
 * Thread: a layer and its transactions belong to the core thread.
 */
#ifndef PBX_SIP_TXN_H
#define PBX_SIP_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sip_addr.h"
#include "sip_msg.h"
#include "timer_heap.h"

struct sip_txn;       /* opaque */
struct sip_txn_layer; /* opaque */

struct sip_txn_ops {
	/*
	 * Send len bytes to dst. Return 0, or an errno. An error ends the
	 * transaction (a client transaction through on_client_fail, a server
	 * transaction through on_server_gone), except EAGAIN, EWOULDBLOCK and
	 * ENOBUFS on UDP, which count as a lost datagram (timers retransmit).
	 * Required.
	 */
	int (*send)(void *ctx, const struct sip_dest *dst, const char *buf, size_t len);

	/*
	 * A request that is not a retransmission. st is the new server
	 * transaction for it, or NULL for an ACK (see above). For a CANCEL,
	 * sip_txn_cancel_target(st) finds the INVITE it cancels. The TU answers
	 * now or later with sip_txn_respond. When an INVITE has no response yet
	 * once this returns, the layer sends 100 Trying itself (see
	 * sip_txn_set_auto_trying). req and src are valid during the call only.
	 * Required.
	 */
	void (*on_request)(void *ctx, struct sip_txn *st, const struct sip_msg *req,
			   const struct sip_dest *src);

	/*
	 * A response for client transaction ct: provisional and final, and for
	 * an INVITE in Accepted every further 2xx (RFC 6026: each may come from
	 * another fork and needs its own ACK). Retransmitted non-2xx finals are
	 * absorbed. resp and src are valid during the call only. Required.
	 */
	void (*on_response)(void *ctx, struct sip_txn *ct, const struct sip_msg *resp,
			    const struct sip_dest *src);

	/*
	 * Client transaction ct failed without a final response: timer B or F
	 * fired (reason ETIMEDOUT; the TU acts as on a 408) or the transport
	 * failed (reason is its errno; act as on a 503). ct is freed when this
	 * returns; no on_client_gone follows. Required.
	 */
	void (*on_client_fail)(void *ctx, struct sip_txn *ct, int reason);

	/*
	 * Client transaction ct ended normally (after timer D, K or M, or at
	 * once on TCP); it is freed when this returns. May be NULL.
	 */
	void (*on_client_gone)(void *ctx, struct sip_txn *ct);

	/*
	 * Server transaction st ended: after timer I, J or L, at once on TCP,
	 * after timer H (a non-2xx final never got its ACK), after the guard of
	 * an unanswered non-INVITE, or on a transport error. It is freed when
	 * this returns. May be NULL.
	 */
	void (*on_server_gone)(void *ctx, struct sip_txn *st);
};

/* ---- the layer ---- */

/*
 * Create a layer that arms its timers in th (which must outlive it) and calls
 * ops with ctx. ops is copied. Returns 0, EINVAL (missing required ops) or
 * ENOMEM.
 */
int sip_txn_layer_new(struct sip_txn_layer **out, struct timer_heap *th,
		      const struct sip_txn_ops *ops, void *ctx);
/* Free every live transaction (no callbacks) and stop all their timers. */
void sip_txn_layer_free(struct sip_txn_layer *l);

/* The clock for the next dispatch, in ms (the same clock as the heap's).
 * Timers re-armed from timer callbacks count from the later of this and the
 * time they were due. */
void sip_txn_set_now(struct sip_txn_layer *l, uint64_t now_ms);
/* T1, T2, T4 in ms (defaults 500, 4000, 5000). EINVAL unless
 * 0 < t1 <= t2 and t4 > 0 and 64*t1 fits. Affects new timers only. */
int sip_txn_set_timers(struct sip_txn_layer *l, uint32_t t1, uint32_t t2, uint32_t t4);
/* Whether the layer answers an INVITE with 100 Trying when on_request
 * returned without a response (default true, RFC 3261 17.2.1). */
void sip_txn_set_auto_trying(struct sip_txn_layer *l, bool on);

/* Live transactions (not yet terminated), both kinds. */
size_t sip_txn_count(const struct sip_txn_layer *l);

/*
 * Feed one received, parsed message (m->buf is only read during the call).
 * Requests: a retransmission is absorbed (the last response is sent again;
 * nothing is sent for an INVITE in Accepted); an ACK of a non-2xx final is
 * absorbed; everything else goes to on_request. Responses: matched to a
 * client transaction by top Via branch and CSeq method and passed on.
 * Returns 0; ENOENT for a response that matches no client transaction
 * (drop it); EBADMSG when a request lacks what matching needs (a top Via;
 * without the magic cookie also Call-ID and Request-URI: answer it 400
 * statelessly) or a matched response has a bad status; ENOMEM when a
 * server transaction could not be created (answer 500 or drop).
 */
int sip_txn_input(struct sip_txn_layer *l, const struct sip_msg *m, const struct sip_dest *src);

/* ---- server transactions ---- */

/*
 * Send a response through server transaction st. status is the status code
 * written in buf (100..699); the layer copies buf and keeps the last one for
 * retransmissions. 1xx keeps the transaction in Proceeding; 2xx to INVITE
 * moves it to Accepted (later 2xx are sent as they are, the TU retransmits
 * its 2xx itself); any other final moves it to Completed. Returns 0, EINVAL
 * (bad arguments), EPROTO (a final response was already sent), ENOMEM, or
 * the send error (the transaction has then ended, with on_server_gone called
 * inside this call).
 */
int sip_txn_respond(struct sip_txn *st, int status, const char *buf, size_t len);

/* The INVITE server transaction a CANCEL server transaction cancels, or NULL. */
struct sip_txn *sip_txn_cancel_target(struct sip_txn *cancel_st);

/* ---- client transactions ---- */

/*
 * Start a client transaction for the request in buf (a complete message;
 * its top Via must carry the branch, and branch + method must be unique
 * among live client transactions). The layer copies buf and sends it to dst.
 * user is the TU's pointer (sip_txn_user). On success *out is the transaction
 * (may be NULL when the caller does not want it). Returns 0, EINVAL (not a
 * parsable request, an ACK, or no branch), EEXIST (branch and method in use),
 * ENOMEM, or the send error (nothing was created then).
 */
int sip_txn_request(struct sip_txn_layer *l, const char *buf, size_t len,
		    const struct sip_dest *dst, void *user, struct sip_txn **out);

/*
 * The TU is done with t: no callback will mention it again and the TU must
 * not use the pointer after this returns. The layer keeps running the state
 * machine quietly (a late non-2xx final to an INVITE is still ACKed, late
 * responses are absorbed) and frees it at its normal end, or 64*T1 from now
 * when no timer would end it. Works on server transactions too.
 */
void sip_txn_abandon(struct sip_txn *t);

/* ---- accessors ---- */

void *sip_txn_user(const struct sip_txn *t);
void sip_txn_set_user(struct sip_txn *t, void *user);
/* Where t sends: the request's destination (client) or the source of the
 * request as adjusted by sip_response_dest (server). Copied out. */
void sip_txn_dest(const struct sip_txn *t, struct sip_dest *out);
/* Change where a server transaction sends responses (e.g. after the TU
 * resolved a Via sent-by). */
void sip_txn_set_dest(struct sip_txn *t, const struct sip_dest *dst);
/* The method of the request (SIP_METHOD_UNKNOWN for extension methods). */
enum sip_method sip_txn_method(const struct sip_txn *t);
bool sip_txn_is_client(const struct sip_txn *t);

#endif
