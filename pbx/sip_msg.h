/*
 * sip_msg.h: the SIP message parser (RFC 3261 section 7, 20, 25).
 *
 * sip_msg_parse() fills a struct sip_msg with slices into the caller's
 * buffer; nothing is copied or allocated. The start line, Via, From, To,
 * Call-ID, CSeq, Contact, Max-Forwards, Expires and Content-Length are parsed
 * eagerly; every other header is indexed (name, value) and parsed on demand
 * with the helpers below. All slices stay valid as long as the buffer does.
 *
 * Every count is bounded (SIP_MAX_*): a message with more headers than
 * SIP_MAX_HEADERS, or more Via or Contact values than we keep, is still
 * parsed (the excess Via values are counted, not stored) unless the excess
 * would change its meaning (Contact), in which case it is rejected.
 */
#ifndef PBX_SIP_MSG_H
#define PBX_SIP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slice.h"

#define SIP_MAX_MSG 65535     /* largest message we accept on any transport */
#define SIP_MAX_HEADERS 128   /* header lines (after unfolding) */
#define SIP_MAX_VIA 16        /* Via values stored; more are counted only */
#define SIP_MAX_CONTACTS 16   /* Contact values; more is a 400 */

enum sip_method {
	SIP_METHOD_UNKNOWN = 0, /* any other token: see msg->method */
	SIP_INVITE,
	SIP_ACK,
	SIP_BYE,
	SIP_CANCEL,
	SIP_REGISTER,
	SIP_OPTIONS,
	SIP_MESSAGE,
	SIP_SUBSCRIBE,
	SIP_NOTIFY,
	SIP_REFER,
	SIP_INFO,
	SIP_UPDATE,
	SIP_PRACK,
	SIP_PUBLISH,
};

/* Header ids for the headers we look up by id; long and compact forms map
 * to the same id. Everything else is SIP_HDR_OTHER (look up by name). */
enum sip_hdr_id {
	SIP_HDR_OTHER = 0,
	SIP_HDR_VIA,             /* v */
	SIP_HDR_FROM,            /* f */
	SIP_HDR_TO,              /* t */
	SIP_HDR_CALL_ID,         /* i */
	SIP_HDR_CSEQ,
	SIP_HDR_CONTACT,         /* m */
	SIP_HDR_MAX_FORWARDS,
	SIP_HDR_CONTENT_LENGTH,  /* l */
	SIP_HDR_CONTENT_TYPE,    /* c */
	SIP_HDR_EXPIRES,
	SIP_HDR_AUTHORIZATION,
	SIP_HDR_PROXY_AUTHORIZATION,
	SIP_HDR_WWW_AUTHENTICATE,
	SIP_HDR_PROXY_AUTHENTICATE,
	SIP_HDR_ROUTE,
	SIP_HDR_RECORD_ROUTE,
	SIP_HDR_REQUIRE,
	SIP_HDR_PROXY_REQUIRE,
	SIP_HDR_SUPPORTED,       /* k */
	SIP_HDR_UNSUPPORTED,
	SIP_HDR_ALLOW,
	SIP_HDR_USER_AGENT,
	SIP_HDR_EVENT,           /* o */
	SIP_HDR_SUBJECT,         /* s */
	SIP_HDR_CONTENT_ENCODING,/* e */
	SIP_HDR_MIN_EXPIRES,
	SIP_HDR_DATE,
	SIP_HDR_COUNT
};

/* A SIP or SIPS URI (RFC 3261 section 19.1), or any other absolute URI
 * (then only scheme and the raw text are set). */
struct sip_uri {
	struct slice raw;      /* the whole URI text */
	struct slice scheme;   /* "sip", "sips", "tel", ... */
	struct slice user;     /* still %-escaped; absent when there is no '@' */
	struct slice password; /* absent unless "user:password@" */
	struct slice host;     /* IPv6 references keep their brackets */
	uint16_t port;         /* 0 when absent */
	struct slice params;   /* ";a=b;c" after the host[:port], without the first ';' */
	struct slice headers;  /* "a=b&c=d" after '?', without the '?' */
	bool is_sip;           /* scheme is sip or sips and the rest parsed as such */
};

/* One Via value. */
struct sip_via {
	struct slice raw;       /* the whole value */
	struct slice proto;     /* "SIP/2.0" as written */
	struct slice transport; /* "UDP", "TCP", "TLS", ... */
	struct slice host;      /* sent-by host; IPv6 keeps its brackets */
	uint16_t port;          /* sent-by port, 0 when absent */
	struct slice branch;    /* branch parameter value, absent if none */
	struct slice received;  /* received parameter value */
	bool rport;             /* the rport parameter is present */
	struct slice rport_val; /* its value when it has one */
	struct slice params;    /* all parameters, without the first ';' */
};

/* name-addr / addr-spec with header parameters: From, To, Contact, Route. */
struct sip_nameaddr {
	struct slice raw;      /* the whole value */
	struct slice display;  /* display name, quotes included when quoted */
	struct sip_uri uri;
	struct slice tag;      /* tag parameter (From/To) */
	struct slice params;   /* header parameters after the URI, without the first ';' */
};

struct sip_contact {
	struct sip_nameaddr na;
	long expires;          /* expires parameter, -1 when absent */
	struct slice q;        /* q parameter value as written */
};

struct sip_hdr {
	enum sip_hdr_id id;
	struct slice name;     /* as written */
	struct slice value;    /* trimmed; may contain folded CRLF+WSP sequences */
};

struct sip_msg {
	const char *buf;       /* the message bytes (not owned) */
	size_t len;            /* bytes of this message, header + body */

	bool is_request;
	/* request line */
	struct slice method;
	enum sip_method method_id;
	struct sip_uri ruri;
	struct slice version;  /* "SIP/2.0" */
	/* status line */
	int status;            /* 100..699 */
	struct slice reason;   /* may be empty */

	struct sip_hdr hdrs[SIP_MAX_HEADERS];
	unsigned nhdrs;

	struct sip_via via[SIP_MAX_VIA]; /* in message order; via[0] is the top */
	unsigned nvia;         /* stored values */
	unsigned nvia_total;   /* all values, stored or not */

	struct sip_nameaddr from, to;
	struct slice call_id;
	uint32_t cseq;
	struct slice cseq_method;
	enum sip_method cseq_method_id;
	int max_forwards;      /* -1 when absent */
	long expires;          /* Expires header, -1 when absent */

	struct sip_contact contacts[SIP_MAX_CONTACTS];
	unsigned ncontacts;
	bool contact_star;     /* "Contact: *" */

	long content_length;   /* -1 when absent (allowed on UDP only) */
	struct slice body;
};

/* Transport framing rules differ: on a datagram transport a missing
 * Content-Length means "to the end of the datagram" and surplus bytes are
 * ignored; on a stream, Content-Length is required and frames the message. */
enum sip_transport_kind { SIP_DGRAM, SIP_STREAM };

/*
 * Parse one message from buf[0..len).
 * Returns 0 and fills *m (m->len = bytes consumed), or:
 *   EAGAIN           (stream only) the message is not complete yet;
 *   EBADMSG          malformed: answer 400 to a request, drop a response;
 *   EPROTONOSUPPORT  a SIP version other than 2.0 (answer 505).
 * On EBADMSG and EPROTONOSUPPORT, *m holds whatever was parsed before the
 * error (m->is_request, Via, Call-ID, From, To, CSeq when they were reached),
 * so that a response can still be built when those are intact; see
 * sip_msg_can_reply().
 */
int sip_msg_parse(struct sip_msg *m, const char *buf, size_t len,
		  enum sip_transport_kind kind);

/* True when *m (even after a failed parse) has what a response needs: a
 * request with a top Via, From, To, Call-ID and CSeq. */
bool sip_msg_can_reply(const struct sip_msg *m);

/* Method token to id (case-sensitive, as RFC 3261 says methods are). */
enum sip_method sip_method_from(struct slice token);
const char *sip_method_name(enum sip_method m);

/* First header with this id / name (case-insensitive, compact forms
 * recognised), or NULL. */
const struct sip_hdr *sip_msg_hdr(const struct sip_msg *m, enum sip_hdr_id id);
const struct sip_hdr *sip_msg_hdr_name(const struct sip_msg *m, struct slice name);

/* Parse a URI from its text (no surrounding <>). 0 or EBADMSG. */
int sip_uri_parse(struct sip_uri *u, struct slice text);

/* Parse one name-addr or addr-spec header value (From, To, one Contact). */
int sip_nameaddr_parse(struct sip_nameaddr *na, struct slice text);

/* Find a parameter in a ";"-separated parameter list (as in uri.params,
 * via.params, nameaddr.params). Returns true and sets *value (absent when
 * the parameter has no "=value") if found; names compare case-insensitively. */
bool sip_param_get(struct slice params, const char *name, struct slice *value);

/* Compare two SIP URIs by the rules of RFC 3261 section 19.1.4. */
bool sip_uri_equal(const struct sip_uri *a, const struct sip_uri *b);

/* Unescape %HH of a URI user part into dst (cap bytes, not NUL-terminated
 * unless room remains). Returns the decoded length or -1 when it does not
 * fit or an escape is malformed. */
long sip_unescape(char *dst, size_t cap, struct slice s);

#endif
