/*
 * transcode.c: one direction of a transcoded bridge (see transcode.h).
 *
 * Audio: packets go into a jitter buffer in the input codec's RTP clock
 * whose tick is the input ptime. It is asked for a tick only when the PCM
 * FIFO holds less than one output packet: a decoded packet adds its whole
 * length (JB_FRAME), a loss adds one tick of concealment (JB_LOST), a tick
 * still covered by the previous packet adds nothing (JB_NONE) and a gap
 * adds one tick of zeros (JB_SILENCE). So input packets of one length fill
 * output packets of another, and the buffer is asked as often as its audio
 * is played, whatever the packets' real length (a packet shorter than the
 * tick is taken at the next ask; one longer covers the asks after it).
 * When the sender's packets keep a length other than its SDP said, the
 * buffer is made again with that tick (XCODE_RETICK_AFTER packets in a
 * row, XCODE_RETICK_MAX times at most), since its delay and shrinking
 * count in ticks of one packet. PCM runs at 8 kHz whenever a side is G.711
 * (Opus is told to work at 8 kHz: no resampler) and at 48 kHz for Opus to
 * Opus.
 *
 * DTMF: RFC 4733 packets never enter the jitter buffer. The receiver in
 * dtmf.c tells when a digit starts and when it is over; the output side
 * starts its own event at the next output packet and sends an update every
 * output packet, as the input digit goes on, then three end packets with
 * the input's duration. A digit first seen already over (its start packets
 * lost or all in one burst) is replayed whole with dtmf_tx. An event's
 * timestamp is that of the output audio packet it starts with; durations
 * are in the output's telephone-event clock (RFC 4733 has it equal to the
 * audio clock). Audio goes on meanwhile, as RFC 4733 senders do. Each digit
 * is reported once, when it ends.
 *
 * Bounds: the jitter buffer holds 64 packets of CODEC_MAX_PAYLOAD bytes,
 * the FIFO 250 ms of PCM, one tick asks the buffer at most XCODE_MAX_PULLS
 * times, at most XCODE_DTMF_QUEUE events wait to be sent and
 * XCODE_REPORT_QUEUE digits to be reported (more are dropped).
 */
#include "transcode.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <opus.h>

#include "dtmf.h"
#include "jitter.h"

#define XCODE_FIFO_MS 250        /* the longest G.711 packet (187.5 ms) and one output packet */
#define XCODE_MAX_PULLS 128      /* jitter buffer ticks per output packet, at most */
#define XCODE_DTMF_QUEUE 8
#define XCODE_REPORT_QUEUE 8
#define XCODE_DTMF_IDLE_MS 500   /* a digit with no packet for this long is over */
#define XCODE_DTMF_SEG_MAX 0xffffu /* longest duration one event segment carries */
#define XCODE_RETICK_AFTER 3     /* packets of another length before the tick follows them */
#define XCODE_RETICK_MAX 8       /* times it does, at most, in one call */

/* A digit to send on the output side. */
struct xcode_dtmf_ev {
	uint8_t event;
	uint8_t volume;
	uint32_t in_ts;  /* the input event's RTP timestamp: with event, its identity */
	bool ended;      /* the input digit is over */
	uint32_t dur;    /* when ended: its length in output telephone-event units */
};

struct xcode {
	struct xcode_side in, to;
	uint32_t in_clock;      /* input codec's RTP clock */
	uint32_t out_clock;     /* output codec's RTP clock */
	uint32_t pcm_rate;      /* between decoder and encoder */
	uint32_t tick_ms;       /* jitter-buffer tick: the input ptime */
	uint32_t tick_pcm;      /* PCM samples per tick */
	uint32_t seen_ms;       /* length of the last packets when not tick_ms */
	unsigned seen_n;        /* how many in a row */
	unsigned reticks;       /* buffers made again */
	uint32_t out_pcm;       /* PCM samples per output packet */
	uint32_t out_rtp;       /* output RTP timestamp units per packet */
	uint32_t in_dtmf_clock, out_dtmf_clock;
	struct jb *jb;
	struct codec_dec *dec;
	struct codec_enc *enc;

	int16_t *fifo;          /* decoded PCM waiting to be encoded, oldest first */
	size_t fifo_len, fifo_cap;

	uint32_t ts;            /* output timestamp of the next audio packet */
	bool in_silence;        /* the last jitter-buffer tick played was silence */
	bool mark;              /* set the marker on the next audio packet */

	/* DTMF in */
	struct dtmf_rx rx;
	uint64_t dtmf_last_ms;  /* arrival of the last telephone-event packet */
	char report[XCODE_REPORT_QUEUE]; /* ended digits not yet handed out */
	unsigned rep_head, rep_n;

	/* DTMF out: the event being sent and those waiting */
	struct xcode_dtmf_ev q[XCODE_DTMF_QUEUE];
	unsigned q_head, q_n;
	bool dt_on;             /* cur is being sent */
	bool dt_replay;         /* ... whole, by tx (it was over before it started) */
	struct xcode_dtmf_ev cur;
	struct dtmf_tx tx;
	uint32_t dt_seg_ts;     /* output timestamp of the current segment */
	uint32_t dt_before;     /* duration of the segments before it */
	uint32_t dt_sent;       /* duration sent in this segment */
	unsigned dt_ends;       /* end packets sent */
	bool dt_first;          /* the next packet starts the event (marker) */
};

static bool codec_ok(enum sdp_codec c)
{
	return c == SDP_CODEC_PCMU || c == SDP_CODEC_PCMA || c == SDP_CODEC_OPUS;
}

static uint32_t side_ptime(const struct xcode_side *s)
{
	return s->ptime ? s->ptime : 20;
}

/* Output ptimes: whole 10 ms up to 60, and for Opus only the frame sizes
 * it codes (10, 20, 40, 60). */
static bool out_ptime_ok(const struct xcode_side *s)
{
	uint32_t p = side_ptime(s);
	if (p % 10 != 0 || p > 60)
		return false;
	return s->codec != SDP_CODEC_OPUS || p == 10 || p == 20 || p == 40 || p == 60;
}

static bool side_ok(const struct xcode_side *s)
{
	return codec_ok(s->codec) && s->pt < 128 &&
	       (!s->dtmf || (s->dtmf_pt < 128 && s->dtmf_pt != s->pt)) && s->ptime <= 200;
}

/* A jitter buffer ticking every tick_ms, in place of the one there is. The
 * delay starts at one tick and grows with jitter. 0 or ENOMEM (the old
 * buffer is kept). */
static int make_jb(struct xcode *x, uint32_t tick_ms)
{
	struct jb_cfg cfg = {
		.clock_rate = x->in_clock,
		.tick_ms = tick_ms,
		.max_payload = CODEC_MAX_PAYLOAD,
	};
	struct jb *jb;
	int rc = jb_new(&jb, &cfg);
	if (rc)
		return rc;
	jb_free(x->jb);
	x->jb = jb;
	x->tick_ms = tick_ms;
	x->tick_pcm = x->pcm_rate * tick_ms / 1000;
	x->seen_n = 0;
	return 0;
}

int xcode_new(struct xcode **out, const struct xcode_side *in, const struct xcode_side *to)
{
	if (!out || !in || !to || !side_ok(in) || !side_ok(to) || !out_ptime_ok(to))
		return EINVAL;
	struct xcode *x = calloc(1, sizeof(*x));
	if (!x)
		return ENOMEM;
	x->in = *in;
	x->to = *to;
	x->in_clock = codec_rtp_clock(in->codec);
	x->out_clock = codec_rtp_clock(to->codec);
	x->pcm_rate = in->codec == SDP_CODEC_OPUS && to->codec == SDP_CODEC_OPUS ? 48000 : 8000;
	/* whole 10 ms, which every codec's concealer takes */
	uint32_t tick = (side_ptime(in) + 5) / 10 * 10;
	if (tick < 10)
		tick = 10;
	if (tick > 60)
		tick = 60;
	x->out_pcm = x->pcm_rate * side_ptime(to) / 1000;
	x->out_rtp = x->out_clock * side_ptime(to) / 1000;
	/* RFC 4733: the event clock is the audio clock; 0 means just that */
	x->in_dtmf_clock = in->dtmf_clock ? in->dtmf_clock : x->in_clock;
	x->out_dtmf_clock = to->dtmf_clock ? to->dtmf_clock : x->out_clock;
	x->in_silence = true;
	x->mark = true;
	dtmf_rx_init(&x->rx);

	int rc = make_jb(x, tick);
	if (!rc)
		rc = codec_dec_new(&x->dec, in->codec, x->pcm_rate);
	if (!rc)
		rc = codec_enc_new(&x->enc, to->codec, x->pcm_rate);
	if (rc)
		goto out;
	x->fifo_cap = (size_t)x->pcm_rate * XCODE_FIFO_MS / 1000;
	x->fifo = calloc(x->fifo_cap, sizeof(*x->fifo));
	if (!x->fifo) {
		rc = ENOMEM;
		goto out;
	}
	*out = x;
	return 0;
out:
	xcode_free(x);
	return rc;
}

void xcode_free(struct xcode *x)
{
	if (!x)
		return;
	jb_free(x->jb);
	codec_dec_free(x->dec);
	codec_enc_free(x->enc);
	free(x->fifo);
	free(x);
}

/* ------------------------------------------------------------------ DTMF */

static void report_digit(struct xcode *x, char c)
{
	if (x->rep_n >= XCODE_REPORT_QUEUE)
		return;
	x->report[(x->rep_head + x->rep_n++) % XCODE_REPORT_QUEUE] = c;
}

static uint32_t dtmf_units_out(const struct xcode *x, uint64_t in_units)
{
	uint64_t d = in_units * x->out_dtmf_clock / x->in_dtmf_clock;
	if (d == 0)
		d = 1;
	return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

static bool ev_is(const struct xcode_dtmf_ev *e, uint8_t event, uint32_t in_ts)
{
	return e->event == event && e->in_ts == in_ts;
}

/* The queued or current event for this input digit, or NULL. */
static struct xcode_dtmf_ev *find_ev(struct xcode *x, uint8_t event, uint32_t in_ts)
{
	if (x->dt_on && ev_is(&x->cur, event, in_ts))
		return &x->cur;
	for (unsigned i = 0; i < x->q_n; i++) {
		struct xcode_dtmf_ev *e = &x->q[(x->q_head + i) % XCODE_DTMF_QUEUE];
		if (ev_is(e, event, in_ts))
			return e;
	}
	return NULL;
}

static void queue_ev(struct xcode *x, const struct xcode_dtmf_ev *e)
{
	if (x->q_n >= XCODE_DTMF_QUEUE)
		return;
	x->q[(x->q_head + x->q_n++) % XCODE_DTMF_QUEUE] = *e;
}

/* An input digit is in progress: have the output send it. */
static void dtmf_started(struct xcode *x, uint8_t event, uint32_t in_ts, uint8_t volume)
{
	if (!x->to.dtmf || find_ev(x, event, in_ts))
		return;
	struct xcode_dtmf_ev e = { .event = event, .volume = volume, .in_ts = in_ts };
	queue_ev(x, &e);
}

/* An input digit is over: report it and let the output end it. */
static void dtmf_ended(struct xcode *x, const struct dtmf_digit *d)
{
	report_digit(x, d->digit);
	if (!x->to.dtmf)
		return;
	uint32_t dur = dtmf_units_out(x, d->duration);
	struct xcode_dtmf_ev *e = find_ev(x, d->event, d->ts);
	if (e) {
		e->ended = true;
		e->dur = dur;
		return;
	}
	struct xcode_dtmf_ev n = {
		.event = d->event, .volume = d->volume, .in_ts = d->ts, .ended = true, .dur = dur,
	};
	queue_ev(x, &n);
}

static void dtmf_put(struct xcode *x, uint32_t ts, const uint8_t *payload, size_t len,
		     uint64_t now_ms)
{
	struct dtmf_digit d[2];
	unsigned n = 0;
	int rc = dtmf_rx_packet(&x->rx, ts, payload, len, d, &n);
	if (rc)
		return;
	x->dtmf_last_ms = now_ms;
	for (unsigned i = 0; i < n && i < 2; i++)
		dtmf_ended(x, &d[i]);
	if (x->rx.active)
		dtmf_started(x, x->rx.event, x->rx.ts, x->rx.volume);
}

/* Take the next waiting event as the one being sent, starting at output
 * timestamp ts. */
static void dtmf_begin_next(struct xcode *x, uint32_t ts)
{
	x->cur = x->q[x->q_head];
	x->q_head = (x->q_head + 1) % XCODE_DTMF_QUEUE;
	x->q_n--;
	x->dt_on = true;
	x->dt_seg_ts = ts;
	x->dt_before = 0;
	x->dt_sent = 0;
	x->dt_ends = 0;
	x->dt_first = true;
	x->dt_replay = false;
	if (x->cur.ended) {
		/* over before it began here: replay it whole, paced by packets */
		char c = 0;
		uint32_t dur = x->cur.dur > XCODE_DTMF_SEG_MAX ? XCODE_DTMF_SEG_MAX : x->cur.dur;
		uint32_t step = x->out_dtmf_clock * side_ptime(&x->to) / 1000;
		if (dtmf_event_to_char(x->cur.event, &c) == 0 &&
		    dtmf_tx_start(&x->tx, c, ts, dur, step, x->cur.volume) == 0)
			x->dt_replay = true;
		else
			x->dt_on = false;
	}
}

static void dtmf_pkt(struct xcode *x, struct xcode_pkt *p, uint32_t ts, uint32_t dur, bool end)
{
	struct dtmf_event ev = {
		.event = x->cur.event, .end = end, .volume = x->cur.volume, .duration = (uint16_t)dur,
	};
	memset(p, 0, offsetof(struct xcode_pkt, payload));
	dtmf_build(&ev, p->payload);
	p->pt = x->to.dtmf_pt;
	p->ts = ts;
	p->len = DTMF_PAYLOAD_LEN;
	p->marker = x->dt_first;
	x->dt_first = false;
}

/* The telephone-event packet of this output tick, if any; ts is the tick's
 * audio timestamp. true when *p was written. */
static bool dtmf_tick(struct xcode *x, uint32_t ts, struct xcode_pkt *p)
{
	if (!x->dt_on && x->q_n)
		dtmf_begin_next(x, ts);
	if (!x->dt_on)
		return false;
	if (x->dt_replay) {
		struct dtmf_tx_pkt tp;
		if (dtmf_tx_next(&x->tx, &tp) != 0) {
			x->dt_on = false;
			return false;
		}
		memset(p, 0, offsetof(struct xcode_pkt, payload));
		memcpy(p->payload, tp.payload, DTMF_PAYLOAD_LEN);
		p->pt = x->to.dtmf_pt;
		p->ts = tp.ts;
		p->len = DTMF_PAYLOAD_LEN;
		p->marker = tp.marker;
		if (tp.end && x->tx.ends >= DTMF_END_PACKETS)
			x->dt_on = false;
		return true;
	}
	uint32_t step = x->out_dtmf_clock * side_ptime(&x->to) / 1000;
	if (!x->cur.ended) {
		/* live: the duration grows by one packet time each tick */
		x->dt_sent += step;
		if (x->dt_sent >= XCODE_DTMF_SEG_MAX) {
			/* RFC 4733 2.5.1.3: a long event goes on in a new segment */
			dtmf_pkt(x, p, x->dt_seg_ts, XCODE_DTMF_SEG_MAX, false);
			x->dt_sent -= XCODE_DTMF_SEG_MAX;
			x->dt_before += XCODE_DTMF_SEG_MAX;
			x->dt_seg_ts += XCODE_DTMF_SEG_MAX;
			return true;
		}
		dtmf_pkt(x, p, x->dt_seg_ts, x->dt_sent, false);
		return true;
	}
	/* ended: the rest of the input's duration, never less than sent */
	uint32_t left = x->cur.dur > x->dt_before ? x->cur.dur - x->dt_before : 0;
	if (left >= XCODE_DTMF_SEG_MAX && x->dt_ends == 0) {
		dtmf_pkt(x, p, x->dt_seg_ts, XCODE_DTMF_SEG_MAX, false);
		x->dt_before += XCODE_DTMF_SEG_MAX;
		x->dt_seg_ts += XCODE_DTMF_SEG_MAX;
		x->dt_sent = 0;
		return true;
	}
	if (left > x->dt_sent)
		x->dt_sent = left;
	dtmf_pkt(x, p, x->dt_seg_ts, x->dt_sent, true);
	if (++x->dt_ends >= DTMF_END_PACKETS)
		x->dt_on = false;
	return true;
}

/* ----------------------------------------------------------------- audio */

/* A packet of dur timestamp units came: after XCODE_RETICK_AFTER in a row
 * of one length (10..60 ms in whole 10 ms) other than the tick, tick with
 * them. What the old buffer held is dropped, once, early in a call. */
static void follow_length(struct xcode *x, uint32_t dur)
{
	uint32_t unit = x->in_clock / 100;
	uint32_t ms = dur % unit == 0 ? dur / unit * 10 : 0;
	if (ms < 10 || ms > 60 || ms == x->tick_ms || x->reticks >= XCODE_RETICK_MAX) {
		x->seen_n = 0;
		return;
	}
	if (ms != x->seen_ms) {
		x->seen_ms = ms;
		x->seen_n = 0;
	}
	if (++x->seen_n >= XCODE_RETICK_AFTER && make_jb(x, ms) == 0)
		x->reticks++;
}

void xcode_put(struct xcode *x, const struct rtp_hdr *h, const uint8_t *payload, size_t len,
	       uint64_t now_ms)
{
	if (!x || !h || !payload || len == 0 || len > CODEC_MAX_PAYLOAD)
		return;
	if (x->in.dtmf && h->pt == x->in.dtmf_pt) {
		dtmf_put(x, h->ts, payload, len, now_ms);
		return;
	}
	if (h->pt != x->in.pt)
		return; /* comfort noise, another codec: not ours to decode */
	uint32_t dur = 0; /* 0: the jitter buffer takes one tick */
	if (x->in.codec == SDP_CODEC_OPUS) {
		int n = opus_packet_get_nb_samples(payload, (opus_int32)len, 48000);
		if (n > 0)
			dur = (uint32_t)n;
	} else {
		dur = (uint32_t)len;
	}
	follow_length(x, dur);
	(void)jb_put(x->jb, h->seq, h->ts, dur, payload, len, now_ms);
}

/* n samples of concealment at dst, in whole ticks (what every codec's
 * concealer takes); the remainder and any failure are silence. */
static void conceal(struct xcode *x, int16_t *dst, size_t n)
{
	size_t done = 0;
	while (n - done >= x->tick_pcm) {
		if (codec_conceal(x->dec, dst + done, x->tick_pcm) < 0)
			break;
		done += x->tick_pcm;
	}
	memset(dst + done, 0, (n - done) * sizeof(*dst));
}

/* Ask the jitter buffer until the FIFO holds one output packet. */
static void fill(struct xcode *x)
{
	for (unsigned pulls = 0; x->fifo_len < x->out_pcm && pulls < XCODE_MAX_PULLS; pulls++) {
		struct jb_frame f;
		jb_get(x->jb, &f);
		int16_t *dst = x->fifo + x->fifo_len;
		size_t room = x->fifo_cap - x->fifo_len;
		size_t n = 0;
		switch (f.status) {
		case JB_FRAME: {
			if (x->in_silence)
				x->mark = true; /* a talkspurt begins */
			x->in_silence = false;
			int r = codec_decode(x->dec, f.payload, f.len, dst, room);
			if (r > 0) {
				n = (size_t)r;
			} else {
				/* undecodable: conceal as long as it claimed to last */
				n = (size_t)((uint64_t)f.dur * x->pcm_rate / x->in_clock);
				if (n > room)
					n = room;
				conceal(x, dst, n);
			}
			break;
		}
		case JB_LOST:
			n = x->tick_pcm < room ? x->tick_pcm : room;
			conceal(x, dst, n);
			break;
		case JB_NONE:
			break; /* the last packet decoded covers this tick */
		case JB_SILENCE:
			x->in_silence = true;
			n = x->tick_pcm < room ? x->tick_pcm : room;
			memset(dst, 0, n * sizeof(*dst));
			break;
		}
		x->fifo_len += n;
	}
	if (x->fifo_len < x->out_pcm) {
		memset(x->fifo + x->fifo_len, 0, (x->out_pcm - x->fifo_len) * sizeof(*x->fifo));
		x->fifo_len = x->out_pcm;
	}
}

size_t xcode_tick(struct xcode *x, uint64_t now_ms, struct xcode_pkt *out, size_t max, char *digit)
{
	if (digit)
		*digit = 0;
	if (!x || (max && !out))
		return 0;
	/* every end packet of the digit in progress was lost */
	struct dtmf_digit d;
	if (x->rx.active && now_ms >= x->dtmf_last_ms &&
	    now_ms - x->dtmf_last_ms > XCODE_DTMF_IDLE_MS && dtmf_rx_flush(&x->rx, &d) == 0)
		dtmf_ended(x, &d);

	size_t n = 0;
	fill(x);
	uint32_t ts = x->ts;
	if (n < max) {
		struct xcode_pkt *p = &out[n];
		int r = codec_encode(x->enc, x->fifo, x->out_pcm, p->payload, sizeof(p->payload));
		if (r > 0) {
			p->pt = x->to.pt;
			p->marker = x->mark;
			p->ts = ts;
			p->len = (size_t)r;
			x->mark = false;
			n++;
		}
	}
	x->fifo_len -= x->out_pcm;
	memmove(x->fifo, x->fifo + x->out_pcm, x->fifo_len * sizeof(*x->fifo));
	x->ts += x->out_rtp;

	/* a packet with no room left is still taken, so the event's timing
	 * holds */
	struct xcode_pkt spare;
	if (dtmf_tick(x, ts, n < max ? &out[n] : &spare) && n < max)
		n++;

	if (digit && x->rep_n) {
		*digit = x->report[x->rep_head];
		x->rep_head = (x->rep_head + 1) % XCODE_REPORT_QUEUE;
		x->rep_n--;
	}
	return n;
}
