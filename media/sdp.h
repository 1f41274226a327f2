/*
 * sdp.h: session descriptions (RFC 4566) for the B2BUA: parsing, the codec
 * table, offer/answer negotiation (RFC 3264) with SDES-SRTP (RFC 4568), and
 * writing SDP text.
 *
 * The parser never copies: every slice in a struct sdp_session points into
 * the body it was parsed from (or, for static payload types without rtpmap,
 * at constant strings), so the session is valid only as long as that body.
 * A struct sdp_session is large (about 100 KB, the price of fixed bounds and
 * no allocation): allocate it, do not put it on a media thread's stack.
 *
 * Files: sdp.c parses and holds the codec table, sdp_negotiate.c decides
 * (answer to an offer, our own offer, applying an answer), sdp_build.c
 * writes text.
 */
#ifndef PBX_SDP_H
#define PBX_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sip_build.h"
#include "slice.h"

#define SDP_MAX_MEDIA 16     /* m-lines per description */
#define SDP_MAX_FMT 32       /* formats per m-line */
#define SDP_MAX_ATTR 64      /* a-lines per m-line, and at session level */
#define SDP_MAX_CRYPTO 8     /* a=crypto lines per m-line (they also count as attributes) */
#define SDP_MAX_LINE 1024    /* bytes per line, without its line end */
#define SDP_MAX_BODY 65536   /* bytes per description */
#define SDP_SRTP_KEY_LEN 30  /* AES_CM_128 master key (16) and salt (14) */
#define SDP_MAX_CODECS 8     /* entries in a local preference list */

/* Direction as two bits, so answering is bit arithmetic. */
enum sdp_dir {
	SDP_DIR_INACTIVE = 0,
	SDP_DIR_SENDONLY = 1,
	SDP_DIR_RECVONLY = 2,
	SDP_DIR_SENDRECV = 3,
	SDP_DIR_UNSET = 4, /* no direction attribute at this level */
};
#define SDP_DIR_SEND 1u
#define SDP_DIR_RECV 2u

enum sdp_media_kind { SDP_MEDIA_OTHER = 0, SDP_MEDIA_AUDIO, SDP_MEDIA_VIDEO };

enum sdp_proto {
	SDP_PROTO_OTHER = 0, /* kept as written: RTP/AVPF, UDP/TLS/RTP/SAVPF, udp ... */
	SDP_PROTO_RTP_AVP,
	SDP_PROTO_RTP_SAVP,
};

enum sdp_codec {
	SDP_CODEC_UNKNOWN = 0,
	SDP_CODEC_PCMU,       /* PCMU/8000, static 0 */
	SDP_CODEC_PCMA,       /* PCMA/8000, static 8 */
	SDP_CODEC_OPUS,       /* opus/48000/2, dynamic */
	SDP_CODEC_TEL_EVENT,  /* telephone-event/8000 or /48000, dynamic (RFC 4733) */
};

enum sdp_srtp_suite {
	SDP_SRTP_UNKNOWN = 0,
	SDP_SRTP_AES_CM_128_HMAC_SHA1_80,
	SDP_SRTP_AES_CM_128_HMAC_SHA1_32,
};

enum sdp_srtp_policy { SDP_SRTP_OFF = 0, SDP_SRTP_OPTIONAL, SDP_SRTP_REQUIRED };

/* Which attribute an a-line is; SDP_ATTR_OTHER ones are what a pass-through
 * copies. */
enum sdp_attr_kind {
	SDP_ATTR_OTHER = 0,
	SDP_ATTR_RTPMAP,
	SDP_ATTR_FMTP,
	SDP_ATTR_PTIME,
	SDP_ATTR_MAXPTIME,
	SDP_ATTR_RTCP,
	SDP_ATTR_RTCP_MUX,
	SDP_ATTR_CRYPTO,
	SDP_ATTR_MID,
	SDP_ATTR_DIR, /* sendrecv, sendonly, recvonly, inactive */
};

struct sdp_attr {
	enum sdp_attr_kind kind;
	struct slice name;  /* before the ':' */
	struct slice value; /* after the ':', absent for a flag attribute */
};

/* A c= line, or the address part of o= / a=rtcp. */
struct sdp_conn {
	bool present;
	int family;         /* AF_INET or AF_INET6 from the addrtype; 0 when absent */
	struct slice addr;  /* as written, without /ttl or /count; may be a host name */
	bool numeric;       /* addr is a literal of its family */
	bool null;          /* 0.0.0.0 or :: (RFC 2543 hold) */
};

struct sdp_fmt {
	struct slice id;    /* the format token from the m-line */
	int pt;             /* 0..127 on RTP profiles, -1 otherwise */
	bool has_rtpmap;    /* enc/clock came from an a=rtpmap (else from the static table or absent) */
	struct slice enc;   /* encoding name, absent when unknown */
	uint32_t clock;     /* clock rate, 0 when unknown */
	uint8_t channels;   /* 1 unless the rtpmap says otherwise */
	struct slice fmtp;  /* a=fmtp parameters, absent when none */
};

/* One a=crypto line (RFC 4568 9.1); only the first key-param is kept. */
struct sdp_crypto {
	uint32_t tag;                  /* 1..999999999 */
	struct slice suite;            /* as written */
	enum sdp_srtp_suite suite_id;  /* SDP_SRTP_UNKNOWN: not ours, key not checked */
	struct slice key_b64;          /* key||salt, base64, as written */
	uint8_t key[SDP_SRTP_KEY_LEN]; /* decoded, for a known suite */
	struct slice lifetime;         /* "2^31" or decimal, absent when none */
	struct slice mki;              /* "1:4", absent when none */
	struct slice params;           /* session parameters after the key, absent when none */
};

struct sdp_media {
	struct slice type;          /* "audio", "video", ... */
	enum sdp_media_kind kind;
	uint16_t port;              /* 0: rejected or disabled */
	uint16_t port_count;        /* 1 unless written as port/count */
	struct slice proto;         /* as written */
	enum sdp_proto proto_id;
	bool rtp;                   /* formats are RTP payload types */
	struct sdp_conn conn;       /* media-level c=, .present false when none */
	enum sdp_dir dir;           /* media-level direction or SDP_DIR_UNSET */
	uint32_t ptime, maxptime;   /* ms, 0 when absent */
	uint16_t rtcp_port;         /* a=rtcp, 0 when absent */
	struct sdp_conn rtcp_conn;  /* a=rtcp address, .present false when none */
	bool rtcp_mux;
	struct slice mid;           /* a=mid, absent when none */
	size_t nfmt;
	struct sdp_fmt fmt[SDP_MAX_FMT];
	size_t ncrypto;
	struct sdp_crypto crypto[SDP_MAX_CRYPTO];
	size_t nattr;               /* every a-line of this m-line, in order */
	struct sdp_attr attr[SDP_MAX_ATTR];
};

struct sdp_session {
	struct slice o_user, o_sess_id, o_sess_version; /* o= fields as written */
	struct sdp_conn o_conn;     /* o= address */
	struct slice name;          /* s= (may be empty or " ") */
	struct slice timing;        /* t= value */
	struct sdp_conn conn;       /* session-level c= */
	enum sdp_dir dir;           /* session-level direction or SDP_DIR_UNSET */
	size_t nattr;
	struct sdp_attr attr[SDP_MAX_ATTR];
	size_t nmedia;
	struct sdp_media media[SDP_MAX_MEDIA];
};

/* ---- sdp.c: parsing and the codec table ---- */

/*
 * Parse body into s (zero-copy: s points into body). Lines end in CRLF or
 * LF. Returns 0, EINVAL for NULL arguments, or EBADMSG for anything
 * malformed or over the bounds above. On error s is left in an
 * unspecified state.
 */
int sdp_parse(struct slice body, struct sdp_session *s);

/* Direction in effect for m: media level, else session level, else
 * sendrecv. A null connection address (c=0.0.0.0) does not change it; see
 * sdp_media_conn. */
enum sdp_dir sdp_media_dir(const struct sdp_session *s, const struct sdp_media *m);

/* Connection in effect for m: media level, else session level. */
const struct sdp_conn *sdp_media_conn(const struct sdp_session *s, const struct sdp_media *m);

/* Which of our codecs a format is, by encoding name (case-insensitive),
 * clock rate and channels; static payload types need no rtpmap. */
enum sdp_codec sdp_fmt_codec(const struct sdp_fmt *f);

/* Name, clock rate, channels and static payload type (-1: dynamic) of one of
 * our codecs; the name is "" for SDP_CODEC_UNKNOWN. Clock is the usual one
 * (telephone-event: 8000). */
struct sdp_codec_info {
	const char *name;
	uint32_t clock;
	uint8_t channels;
	int static_pt;
};
const struct sdp_codec_info *sdp_codec_info(enum sdp_codec c);

const char *sdp_srtp_suite_name(enum sdp_srtp_suite s);
const char *sdp_dir_name(enum sdp_dir d); /* "sendrecv" for SDP_DIR_UNSET */

/* ---- sdp_negotiate.c: offer/answer ---- */

/* Our side of one leg. */
struct sdp_local {
	enum sdp_codec codecs[SDP_MAX_CODECS]; /* audio codecs we do, most preferred first; no TEL_EVENT */
	size_t ncodecs;
	bool local_order;           /* answer with our most preferred offered codec, not their first */
	bool dtmf;                  /* telephone-event wanted */
	enum sdp_srtp_policy srtp;
	const char *addr;           /* our media address, a numeric IPv4 or IPv6 literal */
	uint16_t audio_port;        /* our RTP port for audio */
	uint16_t video_port;        /* our RTP port for relayed video, 0: reject video */
	const struct sdp_media *video_peer; /* other leg's video m-line: only its codecs are taken */
	enum sdp_dir dir;           /* what we can do (SDP_DIR_SENDONLY when we hold); UNSET = sendrecv */
	uint32_t ptime;             /* a=ptime we ask for, 0: none */
	bool rtcp_mux;              /* we accept/offer a=rtcp-mux */
	const char *opus_fmtp;      /* our a=fmtp for opus, NULL: none */
	const uint8_t *srtp_key;    /* SDP_SRTP_KEY_LEN random bytes, NULL: drawn with gnutls_rnd */
};

/* The o= line state a leg keeps for the whole dialog (RFC 3264 8: the
 * version goes up with every new description we send). */
struct sdp_origin {
	uint64_t sess_id;
	uint64_t version;  /* version of the next description written */
};

/* Start with sess_id (0: drawn with gnutls_rnd); the first version is sess_id's low 32 bits. */
int sdp_origin_init(struct sdp_origin *o, uint64_t sess_id);

/* Outcome for one m-line, from our side. */
struct sdp_neg_media {
	bool accepted;              /* false: answered (or was answered) with port 0 */
	enum sdp_media_kind kind;
	/* audio: the codec both sides use, with the offerer's payload type */
	enum sdp_codec codec;
	uint8_t pt;
	uint32_t clock;
	uint8_t channels;
	struct slice remote_fmtp;   /* the remote side's fmtp for it */
	bool dtmf;                  /* telephone-event agreed */
	uint8_t dtmf_pt;
	uint32_t dtmf_clock;
	/* video pass-through: the formats accepted, indexes into the remote description's m-line */
	size_t nvideo;
	uint8_t video_fmt[SDP_MAX_FMT];
	enum sdp_dir dir;           /* our direction (as we answered, or as the answer implies for us) */
	bool remote_hold;           /* the other side receives nothing: sendonly, inactive or c=0.0.0.0 */
	/* where the remote side wants media */
	struct sdp_conn remote_conn;
	uint16_t remote_port;
	uint16_t remote_rtcp_port;  /* a=rtcp or port+1 */
	bool rtcp_mux;              /* agreed */
	uint32_t remote_ptime;      /* 0: not given */
	/* SDES */
	bool srtp;
	enum sdp_srtp_suite suite;
	uint32_t crypto_tag;
	uint8_t local_key[SDP_SRTP_KEY_LEN];  /* we send with this */
	uint8_t remote_key[SDP_SRTP_KEY_LEN]; /* they send with this */
	struct slice remote_lifetime; /* their key's lifetime, absent when none */
	struct slice remote_mki;      /* their "value:length" MKI, absent when none */
	size_t offer_index;         /* which m-line of the description */
};

struct sdp_neg {
	size_t nmedia;              /* same as the offer's */
	struct sdp_neg_media media[SDP_MAX_MEDIA];
	int audio;                  /* index of the accepted audio m-line, -1 when none */
};

/*
 * Answer a remote offer for one leg (RFC 3264 6). The first audio m-line
 * we can do is accepted: codec as chosen by local_order, the offerer's
 * payload type kept, telephone-event added when offered and wanted; SDES by
 * policy. Every other m-line is rejected with port 0 unless it is the first
 * video m-line and video_port/video_peer allow it. Returns 0 with *out
 * filled, EINVAL for bad arguments, or ENOTSUP when nothing is acceptable
 * (no common audio codec, or SRTP required and not offered): answer 488.
 * The slices in *out point into the offer's body.
 */
int sdp_answer_make(const struct sdp_session *offer, const struct sdp_local *local,
		    struct sdp_neg *out);

/* What we put in our own offer, kept by the leg until the answer comes. */
struct sdp_offer {
	size_t ncodecs;
	struct {
		enum sdp_codec codec;
		uint8_t pt;
		uint32_t clock;
	} codec[SDP_MAX_CODECS + 2];  /* audio codecs, then telephone-event(s) */
	enum sdp_proto proto;          /* RTP/SAVP when SRTP is required, else RTP/AVP */
	bool srtp;                     /* a=crypto lines offered */
	uint8_t key[2][SDP_SRTP_KEY_LEN]; /* tag 1: AES_CM_128_HMAC_SHA1_80, tag 2: _32 */
	bool rtcp_mux;
	bool video;                    /* a video m-line copied from video_peer follows audio */
	enum sdp_dir dir;
};

/*
 * Our offer for an outgoing leg from local (codecs in local order,
 * telephone-event/8000 and /48000 when wanted and opus is offered, SDES
 * by policy: RTP/SAVP when required, RTP/AVP with crypto when optional).
 * When video_port and video_peer are set, the peer's video m-line follows
 * with its formats. Fills *st and writes the text. Returns 0, EINVAL, or
 * ENOSPC when buf is too small.
 */
int sdp_offer_make(const struct sdp_local *local, struct sdp_origin *o, struct sdp_offer *st,
		   struct sip_buf *buf);

/*
 * Apply the remote answer to what we offered: which codec (matched by name
 * and clock to what we offered, the answer's payload type used for
 * sending), the remote address, port, ptime, rtcp-mux, direction and crypto.
 * Returns 0 with *out filled (audio rejected shows as media[0].accepted
 * false), EINVAL, EBADMSG when the answer does not fit the offer (m-line
 * count, protocol, a codec or crypto tag we did not offer), or EPROTO when
 * we required SRTP and the answer has none.
 */
int sdp_answer_apply(const struct sdp_offer *st, const struct sdp_session *answer,
		     struct sdp_neg *out);

struct sdp_video_match {
	bool same;                  /* both offer at least one common video codec */
	size_t a_media, b_media;    /* the video m-line of each */
	size_t a_fmt, b_fmt;        /* the first common codec in a's order */
};

/* Whether two legs' offers have a video codec in common (encoding name and
 * clock rate; the first video m-line with a non-zero port of each). */
void sdp_video_match(const struct sdp_session *a, const struct sdp_session *b,
		     struct sdp_video_match *out);

/* ---- sdp_build.c: text ---- */

/*
 * Write the answer text for offer as negotiated in neg: m-lines in the
 * offer's order and count, rejected ones with port 0 and the offer's
 * formats, our address, direction and keys. Advances o's version. Returns 0,
 * EINVAL or ENOSPC.
 */
int sdp_answer_write(struct sip_buf *buf, const struct sdp_session *offer,
		     const struct sdp_neg *neg, const struct sdp_local *local, struct sdp_origin *o);

/* Session part (v, o, s, c, t) shared by offers and answers; advances o's
 * version. */
void sdp_write_session(struct sip_buf *buf, const char *addr, struct sdp_origin *o);

/* a=rtpmap and a=fmtp lines of m's formats as the description had them
 * (pass-through): all of them, or the n listed by index in idx. */
void sdp_write_fmt_attrs(struct sip_buf *buf, const struct sdp_media *m, const uint8_t *idx,
			 size_t n);

/* Whether addr is a numeric IPv4 or IPv6 literal, what sdp_local.addr must be. */
bool sdp_addr_valid(const char *addr);

/* base64 of SDP_SRTP_KEY_LEN bytes: 40 characters and a NUL. */
void sdp_key_b64(const uint8_t key[SDP_SRTP_KEY_LEN], char out[41]);

#endif
