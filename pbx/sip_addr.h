/*
 * sip_addr.h: where a SIP message came from or goes to.
 *
 * A struct sip_dest names the peer address, the local address the message
 * arrived on (so the reply leaves from it), the transport, and for stream
 * transports the connection it belongs to. It is a plain value: copy it.
 */
#ifndef PBX_SIP_ADDR_H
#define PBX_SIP_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

enum sip_tp { SIP_TP_UDP = 0, SIP_TP_TCP = 1 };

struct sip_dest {
	struct sockaddr_storage peer;  /* remote address and port */
	struct sockaddr_storage local; /* local address it arrived on (port included) */
	enum sip_tp tp;
	uint64_t conn_id;              /* TCP connection id; 0 for UDP or "open one" */
};

#define SIP_ADDRSTR_MAX 64 /* "[ffff:...:ffff]:65535" and a NUL */

/* "1.2.3.4:5060" or "[::1]:5060" into buf; returns buf. */
const char *sip_addr_str(const struct sockaddr_storage *ss, char *buf, size_t cap);
/* Host only, no brackets or port: "1.2.3.4" or "::1". */
const char *sip_addr_host(const struct sockaddr_storage *ss, char *buf, size_t cap);
uint16_t sip_addr_port(const struct sockaddr_storage *ss);
/* Set the port of an AF_INET or AF_INET6 address; other families are left alone. */
void sip_addr_set_port(struct sockaddr_storage *ss, uint16_t port);
socklen_t sip_addr_len(const struct sockaddr_storage *ss);
bool sip_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* Parse "1.2.3.4:5060", "[::1]:5060", "1.2.3.4" (port = defport), "[::1]".
 * Returns 0 or EINVAL. Numeric only: no DNS. */
int sip_addr_parse(const char *text, uint16_t defport, struct sockaddr_storage *out);

#endif
