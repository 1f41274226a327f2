/*
 * dtmf.c: RFC 4733 telephone-event payloads, a receiver that reports each
 * DTMF digit once, and a sender that produces a digit's packet stream.
 *
 * The receiver keys a digit on (timestamp, event): every packet of one
 * digit carries the same timestamp, so repeats of a digit already reported
 * are recognised by that pair and dropped. Events that last longer than a
 * 16-bit duration arrive as segments whose timestamps step by 0xFFFF
 * (RFC 4733 2.5.1.3); those are joined into one digit.
 */
#include "dtmf.h"

#include <errno.h>
#include <string.h>

static const char dtmf_chars[] = "0123456789*#ABCD";

int dtmf_parse(const uint8_t *p, size_t len, struct dtmf_event *ev)
{
	if (!p || !ev)
		return EINVAL;
	if (len < DTMF_PAYLOAD_LEN)
		return EBADMSG;
	ev->event = p[0];
	ev->end = (p[1] & 0x80) != 0;
	ev->volume = p[1] & 0x3f;
	ev->duration = (uint16_t)((unsigned)p[2] << 8 | p[3]);
	return 0;
}

void dtmf_build(const struct dtmf_event *ev, uint8_t out[DTMF_PAYLOAD_LEN])
{
	out[0] = ev->event;
	out[1] = (uint8_t)((ev->end ? 0x80 : 0) | (ev->volume & 0x3f));
	out[2] = (uint8_t)(ev->duration >> 8);
	out[3] = (uint8_t)ev->duration;
}

int dtmf_event_from_char(char c, uint8_t *event)
{
	if (!event)
		return EINVAL;
	if (c >= 'a' && c <= 'd')
		c = (char)(c - 'a' + 'A');
	for (uint8_t i = 0; i <= DTMF_EVENT_MAX; i++) {
		if (dtmf_chars[i] == c && c != '\0') {
			*event = i;
			return 0;
		}
	}
	return EINVAL;
}

int dtmf_event_to_char(uint8_t event, char *c)
{
	if (!c || event > DTMF_EVENT_MAX)
		return EINVAL;
	*c = dtmf_chars[event];
	return 0;
}

/* =============================================================== receiver */

void dtmf_rx_init(struct dtmf_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
}

/* Close the digit in progress into *out. */
static void rx_close(struct dtmf_rx *rx, bool ended, struct dtmf_digit *out)
{
	out->event = rx->event;
	out->digit = dtmf_chars[rx->event];
	out->volume = rx->volume;
	out->ts = rx->ts;
	out->duration = rx->base_dur + rx->seg_dur;
	out->ended = ended;
	rx->active = false;
	unsigned k = rx->done_next % DTMF_RX_DONE;
	rx->done[k].ts = rx->seg_ts;
	rx->done[k].event = rx->event;
	rx->done[k].used = true;
	rx->done_next = (k + 1) % DTMF_RX_DONE;
}

static bool rx_was_reported(const struct dtmf_rx *rx, uint32_t ts, uint8_t event)
{
	for (unsigned i = 0; i < DTMF_RX_DONE; i++)
		if (rx->done[i].used && rx->done[i].ts == ts && rx->done[i].event == event)
			return true;
	return false;
}

int dtmf_rx_packet(struct dtmf_rx *rx, uint32_t ts, const uint8_t *payload, size_t len,
		   struct dtmf_digit out[2], unsigned *n)
{
	if (!rx || !out || !n)
		return EINVAL;
	*n = 0;
	struct dtmf_event ev;
	int rc = dtmf_parse(payload, len, &ev);
	if (rc)
		return rc;
	if (ev.event > DTMF_EVENT_MAX)
		return ENOTSUP;

	/* a repeat of a digit already reported: its redundant end packets,
	 * or a retransmission arriving late */
	if (rx_was_reported(rx, ts, ev.event))
		return 0;

	if (rx->active && ev.event == rx->event && ts != rx->seg_ts &&
	    ts == rx->seg_ts + 0xffffu && rx->seg_dur == 0xffff) {
		/* the next segment of a long event */
		rx->base_dur += rx->seg_dur;
		rx->seg_ts = ts;
		rx->seg_dur = 0;
	} else if (rx->active && (ts != rx->seg_ts || ev.event != rx->event)) {
		/* another event began: every end packet of this one was lost */
		rx_close(rx, false, &out[(*n)++]);
	}
	if (!rx->active) {
		rx->active = true;
		rx->event = ev.event;
		rx->volume = ev.volume;
		rx->ts = ts;
		rx->seg_ts = ts;
		rx->seg_dur = 0;
		rx->base_dur = 0;
	}
	/* packets may come out of order: the duration is the longest seen */
	if (ev.duration > rx->seg_dur)
		rx->seg_dur = ev.duration;
	if (ev.end)
		rx_close(rx, true, &out[(*n)++]);
	return 0;
}

int dtmf_rx_flush(struct dtmf_rx *rx, struct dtmf_digit *out)
{
	if (!rx || !out)
		return EINVAL;
	if (!rx->active)
		return ENOENT;
	rx_close(rx, false, out);
	return 0;
}

/* ================================================================= sender */

int dtmf_tx_start(struct dtmf_tx *tx, char digit, uint32_t ts, uint32_t duration, uint32_t ptime,
		  uint8_t volume)
{
	if (!tx || duration == 0 || duration > 0xffff || ptime == 0 || ptime > 0xffff ||
	    volume > 63)
		return EINVAL;
	memset(tx, 0, sizeof(*tx));
	if (dtmf_event_from_char(digit, &tx->event))
		return EINVAL;
	tx->volume = volume;
	tx->ts = ts;
	tx->duration = (uint16_t)duration;
	tx->ptime = (uint16_t)ptime;
	return 0;
}

int dtmf_tx_next(struct dtmf_tx *tx, struct dtmf_tx_pkt *pkt)
{
	if (!tx || !pkt)
		return EINVAL;
	if (tx->ends >= DTMF_END_PACKETS || tx->duration == 0)
		return ENOENT;
	if (tx->sent < tx->duration) {
		uint32_t d = (uint32_t)tx->sent + tx->ptime;
		tx->sent = (uint16_t)(d > tx->duration ? tx->duration : d);
	}
	struct dtmf_event ev = {
		.event = tx->event,
		.end = tx->sent == tx->duration,
		.volume = tx->volume,
		.duration = tx->sent,
	};
	dtmf_build(&ev, pkt->payload);
	pkt->ts = tx->ts;
	pkt->marker = tx->packets == 0;
	pkt->end = ev.end;
	tx->packets++;
	if (ev.end)
		tx->ends++;
	return 0;
}
