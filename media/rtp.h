/*
 * rtp.h: RTP and RTCP packets (RFC 3550) and the receiver statistics of its
 * appendix A.1, A.3 and A.8.
 *
 * Everything here is pure: no sockets, no clocks, no allocation. Parsers are
 * zero-copy and read only within the buffer they are given; every pointer
 * they hand out points into that buffer and is valid as long as it is.
 * Builders write into a caller buffer of a stated capacity and never past it.
 * A media thread owns each struct rtp_stats; nothing here locks.
 */
#ifndef PBX_RTP_H
#define PBX_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTP_VERSION 2
#define RTP_HDR_MIN 12   /* fixed header, no CSRC, no extension */
#define RTP_MAX_CSRC 15  /* the CC field is four bits */

/* ------------------------------------------------------------------ RTP */

struct rtp_hdr {
	uint8_t version;          /* always 2 after a successful parse */
	bool padding;             /* P bit */
	bool extension;           /* X bit */
	uint8_t cc;               /* number of CSRCs, 0..15 */
	bool marker;              /* M bit */
	uint8_t pt;               /* payload type, 0..127 */
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	uint32_t csrc[RTP_MAX_CSRC]; /* host order; the first cc are set */
	uint16_t ext_profile;     /* "defined by profile" when extension */
	const uint8_t *ext;       /* extension data (after its 4-byte head) */
	size_t ext_len;           /* bytes of extension data, a multiple of 4 */
	const uint8_t *payload;   /* into the packet buffer */
	size_t payload_len;       /* without padding */
	uint8_t pad_len;          /* padding bytes, including the count octet */
	size_t hdr_len;           /* bytes before the payload */
};

/*
 * Parse one RTP packet. 0, EINVAL (NULL argument) or EBADMSG: shorter than
 * the fixed header, version not 2, CSRC list or extension running past the
 * end, padding count 0 or larger than what follows the header. Slices in *h
 * point into buf.
 */
int rtp_parse(const uint8_t *buf, size_t len, struct rtp_hdr *h);

/*
 * Write a packet: the header from h (version forced to 2; cc CSRCs; when
 * h->extension, h->ext_profile and h->ext_len bytes from h->ext, ext_len a
 * multiple of 4 and below 256 KiB; when h->pad_len > 0, that many padding
 * bytes ending in the count), then payload. h->payload is ignored; payload
 * may be NULL when payload_len is 0. 0, EINVAL or ENOBUFS (cap too small);
 * *out_len is the packet length.
 */
int rtp_build(const struct rtp_hdr *h, const uint8_t *payload, size_t payload_len, uint8_t *buf,
	      size_t cap, size_t *out_len);

/* RFC 5761 demultiplexing of RTP and RTCP on one port: true when the second
 * octet is an RTCP packet type (192..223). */
bool rtp_is_rtcp(const uint8_t *buf, size_t len);

/* Signed distance b - a between 16-bit sequence numbers / 32-bit
 * timestamps, correct across wrap-around when |b - a| is below half the
 * range. */
static inline int32_t rtp_seq_diff(uint16_t a, uint16_t b) { return (int16_t)(uint16_t)(b - a); }
static inline int64_t rtp_ts_diff(uint32_t a, uint32_t b) { return (int32_t)(uint32_t)(b - a); }

/* ----------------------------------------------------------------- RTCP */

enum rtcp_type {
	RTCP_SR = 200,
	RTCP_RR = 201,
	RTCP_SDES = 202,
	RTCP_BYE = 203,
	RTCP_APP = 204,
};

enum rtcp_sdes_item_type {
	RTCP_SDES_END = 0,
	RTCP_SDES_CNAME = 1,
	RTCP_SDES_NAME = 2,
	RTCP_SDES_EMAIL = 3,
	RTCP_SDES_PHONE = 4,
	RTCP_SDES_LOC = 5,
	RTCP_SDES_TOOL = 6,
	RTCP_SDES_NOTE = 7,
	RTCP_SDES_PRIV = 8,
};

#define RTCP_MAX_COUNT 31 /* the RC/SC field is five bits */

/* One report block, host order. */
struct rtcp_rb {
	uint32_t ssrc;            /* source this block reports on */
	uint8_t fraction_lost;    /* lost since the last report, / 256 */
	int32_t cum_lost;         /* 24-bit signed on the wire */
	uint32_t ext_highest_seq; /* cycles << 16 | highest seq */
	uint32_t jitter;          /* interarrival jitter, timestamp units */
	uint32_t lsr;             /* middle 32 bits of the last SR's NTP time */
	uint32_t dlsr;            /* delay since that SR, 1/65536 s */
};

/* Sender info of an SR. */
struct rtcp_sr_info {
	uint64_t ntp;             /* NTP timestamp, 32.32 fixed point */
	uint32_t rtp_ts;
	uint32_t pkt_count;
	uint32_t octet_count;
};

/*
 * One packet of a compound RTCP packet. type and count are the header's;
 * body/body_len is everything after the 4-byte header without padding.
 * Fields below are filled by type: SR/RR (ssrc, sr for SR, rb[count]),
 * SDES (count chunks, walk them with rtcp_sdes_next), BYE (ssrc_list[count],
 * reason), APP (count is the subtype; ssrc, name, app_data). Other types
 * (RTPFB, PSFB, XR...) come with body only. Pointers go into the buffer.
 */
struct rtcp_pkt {
	uint8_t type;
	uint8_t count;
	bool padding;
	const uint8_t *body;
	size_t body_len;
	uint32_t ssrc;
	struct rtcp_sr_info sr;
	struct rtcp_rb rb[RTCP_MAX_COUNT];
	uint32_t ssrc_list[RTCP_MAX_COUNT];
	const uint8_t *reason;    /* BYE: NULL when absent */
	uint8_t reason_len;
	char name[4];             /* APP: four ASCII characters, not terminated */
	const uint8_t *app_data;
	size_t app_data_len;
};

/* Walks a compound packet; set up with rtcp_iter_init. */
struct rtcp_iter {
	const uint8_t *buf;
	size_t len;
	size_t off;               /* start of the next packet */
	unsigned index;           /* packets returned so far */
	bool strict;
};

/*
 * strict applies RFC 3550 A.2 to the compound as a whole: the first packet
 * is an SR or RR and only the last may have the padding bit. Without it a
 * lone packet of any type is accepted (RFC 5506 reduced-size RTCP).
 */
void rtcp_iter_init(struct rtcp_iter *it, const uint8_t *buf, size_t len, bool strict);

/* Next packet into *pkt: 0, ENOENT at the end, EBADMSG when the rest is
 * malformed (iteration should stop there), EINVAL on NULL. */
int rtcp_next(struct rtcp_iter *it, struct rtcp_pkt *pkt);

/* Validate a whole compound packet (strict): 0 or EBADMSG. */
int rtcp_check(const uint8_t *buf, size_t len);

/* Walks the items of an SDES packet's chunks. */
struct rtcp_sdes_iter {
	const uint8_t *p;
	size_t len;
	size_t off;
	unsigned chunks_left;
	bool in_chunk;
	uint32_t ssrc;
};

struct rtcp_sdes_item {
	uint32_t ssrc;            /* of the chunk the item is in */
	uint8_t type;             /* enum rtcp_sdes_item_type */
	const uint8_t *data;      /* into the packet */
	uint8_t len;
};

void rtcp_sdes_iter_init(struct rtcp_sdes_iter *it, const struct rtcp_pkt *pkt);
/* 0, ENOENT after the last item, EBADMSG. Chunks without items are skipped. */
int rtcp_sdes_next(struct rtcp_sdes_iter *it, struct rtcp_sdes_item *item);

/*
 * Builders append one RTCP packet at buf (capacity cap) and set *out_len.
 * Concatenate their output for a compound packet. 0, EINVAL (n above 31,
 * cname longer than 255) or ENOBUFS.
 */
int rtcp_build_sr(uint32_t ssrc, const struct rtcp_sr_info *sr, const struct rtcp_rb *rb,
		  unsigned n, uint8_t *buf, size_t cap, size_t *out_len);
int rtcp_build_rr(uint32_t ssrc, const struct rtcp_rb *rb, unsigned n, uint8_t *buf, size_t cap,
		  size_t *out_len);
int rtcp_build_sdes_cname(uint32_t ssrc, const char *cname, uint8_t *buf, size_t cap,
			  size_t *out_len);
int rtcp_build_bye(const uint32_t *ssrc, unsigned n, const char *reason, uint8_t *buf, size_t cap,
		   size_t *out_len);

/* --------------------------------------------------- receiver statistics */

#define RTP_MAX_DROPOUT 3000  /* A.1: jumps ahead up to this are accepted */
#define RTP_MAX_MISORDER 100  /* A.1: later-than-this old packets restart */
#define RTP_MIN_SEQUENTIAL 2  /* A.1: in-order packets before a source counts */

/*
 * Per-source receive statistics, RFC 3550 A.1 (sequence tracking with
 * wrap-around and probation), A.3 (expected, lost, fraction) and A.8
 * (interarrival jitter). Duplicates count as received, as in the RFC, so
 * cumulative lost may go negative.
 */
struct rtp_stats {
	uint16_t max_seq;         /* highest seq seen */
	uint32_t cycles;          /* wraps of seq, shifted left by 16 */
	uint32_t base_seq;        /* first seq counted */
	uint32_t bad_seq;         /* last 'bad' seq + 1 (A.1) */
	uint32_t probation;       /* in-order packets still needed */
	uint32_t received;        /* packets counted */
	uint32_t expected_prior;  /* at the last report */
	uint32_t received_prior;
	uint32_t transit;         /* relative transit of the previous packet */
	uint32_t jitter_q4;       /* jitter in timestamp units << 4 */
	bool have_transit;
	bool started;             /* a first packet has been seen */
	uint32_t last_sr;         /* middle 32 bits of the last SR's NTP time */
	uint64_t last_sr_ns;      /* when that SR arrived (caller's clock) */
	bool have_sr;
};

void rtp_stats_init(struct rtp_stats *s);

/*
 * Account one received packet. arrival is the arrival time in the stream's
 * timestamp units (see rtp_clock_units). 0 when counted, EAGAIN while the
 * source is in probation or after a large jump waiting for confirmation
 * (the packet is not counted), EINVAL on NULL.
 */
int rtp_stats_update(struct rtp_stats *s, uint16_t seq, uint32_t ts, uint32_t arrival);

/* ns of a monotonic clock to timestamp units at clock_rate, truncated to
 * 32 bits (only differences matter). */
uint32_t rtp_clock_units(uint64_t ns, uint32_t clock_rate);

uint32_t rtp_stats_ext_max(const struct rtp_stats *s);   /* cycles + max_seq */
uint32_t rtp_stats_expected(const struct rtp_stats *s);
int64_t rtp_stats_lost(const struct rtp_stats *s);       /* expected - received */
uint32_t rtp_stats_jitter(const struct rtp_stats *s);    /* timestamp units */

/* Remember an SR from this source: its NTP time and when it arrived. */
void rtp_stats_note_sr(struct rtp_stats *s, uint64_t ntp, uint64_t now_ns);

/*
 * Fill a report block for this source (A.3): fraction lost since the last
 * call, cumulative lost clamped to 24 bits, extended highest seq, jitter,
 * LSR and DLSR (at now_ns). Starts the next reporting interval.
 */
void rtp_stats_report(struct rtp_stats *s, uint32_t ssrc, uint64_t now_ns, struct rtcp_rb *rb);

#endif
