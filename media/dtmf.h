/*
 * dtmf.h: RFC 4733 telephone-event payloads for DTMF digits.
 *
 * The payload is four bytes: event, E bit, R bit, volume, duration. A digit
 * is one event identified by its RTP timestamp: the sender repeats it every
 * packet time with a growing duration and ends it with three packets
 * carrying the E bit, all with the same timestamp. The receiver here turns
 * that stream into one report per digit, whatever is lost, repeated or
 * reordered; the sender produces the stream. Both are plain structs with
 * no allocation, owned by the media thread of their leg.
 */
#ifndef PBX_DTMF_H
#define PBX_DTMF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DTMF_PAYLOAD_LEN 4
#define DTMF_EVENT_MAX 15      /* 0-9 * # A-D; higher events are not DTMF */
#define DTMF_END_PACKETS 3     /* end packets a sender repeats */
#define DTMF_DEFAULT_VOLUME 10 /* -10 dBm0 */
#define DTMF_RX_DONE 4         /* reported digits remembered */

struct dtmf_event {
	uint8_t event;     /* 0..255; 0..15 are DTMF */
	bool end;          /* E bit */
	uint8_t volume;    /* 0..63, power in -dBm0 */
	uint16_t duration; /* timestamp units since the event's timestamp */
};

/* Parse the first event of a payload (any redundant blocks after it are
 * ignored). 0, EINVAL or EBADMSG (shorter than 4 bytes). */
int dtmf_parse(const uint8_t *p, size_t len, struct dtmf_event *ev);

/* Write 4 bytes; the R bit is 0, volume is cut to 6 bits. */
void dtmf_build(const struct dtmf_event *ev, uint8_t out[DTMF_PAYLOAD_LEN]);

/* '0'-'9', '*', '#', 'A'-'D' (also lower case) <-> events 0..15. 0 or
 * EINVAL. */
int dtmf_event_from_char(char c, uint8_t *event);
int dtmf_event_to_char(uint8_t event, char *c);

/* --------------------------------------------------------------- receiver */

struct dtmf_digit {
	char digit;        /* '0'-'9', '*', '#', 'A'-'D' */
	uint8_t event;
	uint8_t volume;
	uint32_t ts;       /* RTP timestamp of the event (its first segment) */
	uint32_t duration; /* timestamp units; long events add up segments */
	bool ended;        /* the E bit was seen; false when the digit was
			      closed by a following one or by dtmf_rx_flush */
};

struct dtmf_rx {
	bool active;       /* a digit is in progress and not yet reported */
	uint8_t event;
	uint8_t volume;
	uint32_t ts;       /* first segment's timestamp */
	uint32_t seg_ts;   /* current segment's timestamp */
	uint16_t seg_dur;  /* longest duration seen in the current segment */
	uint32_t base_dur; /* durations of the finished segments */
	/* the last few digits reported (timestamp of their last segment and
	 * event), to ignore their repeats and late packets */
	struct {
		uint32_t ts;
		uint8_t event;
		bool used;
	} done[DTMF_RX_DONE];
	unsigned done_next; /* slot the next report goes to */
};

void dtmf_rx_init(struct dtmf_rx *rx);

/*
 * One telephone-event packet with RTP timestamp ts. Each digit is reported
 * exactly once: when its first E packet arrives, or, when every end packet
 * was lost, as soon as a packet of another event arrives (so up to two
 * digits at once, in order, into out[0..*n)). Repeated end packets, late
 * retransmissions and reordered packets of a reported digit are ignored; a
 * digit whose start packets were lost is picked up from whatever packet
 * comes first. A different event with the same timestamp after an end is a
 * new digit. 0, EINVAL, EBADMSG or ENOTSUP (an event above 15: not a DTMF
 * digit, ignored).
 */
int dtmf_rx_packet(struct dtmf_rx *rx, uint32_t ts, const uint8_t *payload, size_t len,
		   struct dtmf_digit out[2], unsigned *n);

/* Report the digit in progress, if any (for a timeout when packets stop).
 * 0 with *out set, or ENOENT. */
int dtmf_rx_flush(struct dtmf_rx *rx, struct dtmf_digit *out);

/* ----------------------------------------------------------------- sender */

struct dtmf_tx_pkt {
	uint8_t payload[DTMF_PAYLOAD_LEN];
	uint32_t ts;       /* RTP timestamp: the same for every packet */
	bool marker;       /* set on the first packet of the event */
	bool end;
};

struct dtmf_tx {
	uint8_t event;
	uint8_t volume;
	uint32_t ts;
	uint16_t duration; /* total */
	uint16_t ptime;    /* timestamp units per packet */
	uint16_t sent;     /* duration in the last packet */
	unsigned packets;  /* packets produced */
	unsigned ends;     /* end packets produced */
};

/*
 * Prepare the packets for one digit starting at RTP timestamp ts, lasting
 * duration timestamp units (1..65535), one packet every ptime units
 * (1..65535). 0 or EINVAL.
 */
int dtmf_tx_start(struct dtmf_tx *tx, char digit, uint32_t ts, uint32_t duration, uint32_t ptime,
		  uint8_t volume);

/* The next packet, to be sent one ptime after the previous one (the three
 * end packets may go back to back). 0, or ENOENT when the digit is done. */
int dtmf_tx_next(struct dtmf_tx *tx, struct dtmf_tx_pkt *pkt);

#endif
