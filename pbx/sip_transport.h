/*
 * sip_transport.h: SIP over UDP and TCP, IPv4 and IPv6.
 *
 * Each listen address gets a UDP socket and a TCP listener on the same port.
 * Datagrams are read in batches (recvmmsg) with the local address they
 * arrived on (IP_PKTINFO / IPV6_RECVPKTINFO), and replies leave from that
 * address, so a PBX bound to a wildcard answers from the address the phone
 * talked to. TCP connections are framed by Content-Length; each has an id
 * that a struct sip_dest carries so responses and keepalives go back on it.
 *
 * Owned by the core thread. Connections are closed only between events
 * (deferred), so a send that fails inside some other handler never frees a
 * connection whose event is still pending in the same epoll batch.
 */
#ifndef PBX_SIP_TRANSPORT_H
#define PBX_SIP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "sip_addr.h"
#include "timer_heap.h"

struct sip_transport;

/* Listen addresses open at once: the configured ones and, after a port
 * change, the old ones still draining. */
#define SIP_TRANSPORT_MAX_LISTEN 16

/* One complete message (a datagram, or one framed message from a stream).
 * buf is valid only during the call. */
typedef void (*sip_transport_msg_h)(void *ctx, const char *buf, size_t len,
				    const struct sip_dest *src);

struct sip_transport_cfg {
	unsigned tcp_partial_timeout_ms; /* a started message must complete within this */
	unsigned tcp_idle_timeout_ms;    /* a connection with no traffic is closed after this */
	unsigned tcp_max_conns;
	bool trace;                      /* log every message sent and received */
};

int sip_transport_new(struct sip_transport **out, struct loop *loop, struct timer_heap *th,
		      const struct sip_transport_cfg *cfg, sip_transport_msg_h on_msg, void *ctx);
void sip_transport_free(struct sip_transport *t);

/* Open UDP and TCP on addr. Returns 0 or an errno (EADDRINUSE ...). */
int sip_transport_listen(struct sip_transport *t, const struct sockaddr_storage *addr);

/* Stop listening on bound (as sip_transport_listening lists it). 0, ENOENT. */
int sip_transport_unlisten(struct sip_transport *t, const struct sockaddr_storage *bound);

/* A draining listen address still receives and still sends for what was
 * set up through it, but is neither the primary nor the socket chosen for
 * a destination that names none of ours. 0, ENOENT. */
int sip_transport_set_draining(struct sip_transport *t, const struct sockaddr_storage *bound, bool draining);

struct sip_listen_info {
	struct sockaddr_storage bound; /* port filled in */
	bool draining;
};
/* The open listen addresses, up to max into out; how many were copied. */
size_t sip_transport_listening(const struct sip_transport *t, struct sip_listen_info *out, size_t max);

/* Send buf to dst: UDP from dst->local when set; TCP on dst->conn_id (no new
 * outgoing connections yet: ENOTCONN when it is gone). */
int sip_transport_send(struct sip_transport *t, const struct sip_dest *dst, const char *buf,
		       size_t len);

/* Close connections whose close was deferred; call after each loop batch. */
void sip_transport_reap(struct sip_transport *t);

/* The first listen address not draining, for building Via and Contact of
 * our requests. */
const struct sockaddr_storage *sip_transport_primary(const struct sip_transport *t);

/* Is TCP connection id still open? */
bool sip_transport_conn_alive(const struct sip_transport *t, uint64_t conn_id);

size_t sip_transport_conn_count(const struct sip_transport *t);

#endif
