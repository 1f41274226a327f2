/*
 * call_conf.c: conference rooms from the SIP side. Dialling a room number
 * answers the call, asks for the PIN when the room has one (three tries),
 * and joins the caller's media leg to the room's mixer in the media engine.
 *
 * In the room, DTMF controls: *6 mute or unmute yourself, *4 and *7 listen
 * quieter or louder, # how many are here; a moderator (who entered the
 * moderator PIN) also has *1 lock or unlock, *2 mute or unmute all others,
 * *3 remove the last to join. The same controls are offered to the web
 * admin (conf_admin_*).
 *
 * A room exists in the core (struct conf_room) while someone is in it; the
 * core thread owns it. Members are kept in joining order.
 */
#include "core_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "call.h"
#include "db.h"
#include "live.h"
#include "log.h"
#include "prompt.h"

#define CONF_PIN_TRIES 3
#define CONF_PIN_TIMEOUT_MS 15000
#define CONF_VOLUME_MIN (-4)
#define CONF_VOLUME_MAX 4

struct conf_room {
	struct conf_room *next;
	char number[16];
	media_room_id id;
	unsigned count;          /* members */
	unsigned moderators;
	bool locked;
	bool all_muted;
	struct call *first, *last; /* members in joining order */
};

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct conf_room *room_find(struct core *c, const char *number)
{
	for (struct conf_room *r = c->conf_rooms; r; r = r->next)
		if (strcmp(r->number, number) == 0)
			return r;
	return NULL;
}

/* Every non-empty media_play is answered by exactly one PLAY_DONE, also
 * when a later play replaces it: counting them tells the last one apart. */
static void play(struct core *c, struct call *call, const struct prompt_seq *seq)
{
	if (call->a && call->a->ms && media_play(c->media, call->a->ms->id, seq) == 0 && seq->n > 0)
		call->conf.plays++;
}

static void play1(struct core *c, struct call *call, enum prompt_id a, int b)
{
	struct prompt_seq s = { 0 };
	prompt_seq_add(&s, a);
	if (b >= 0)
		prompt_seq_add(&s, (enum prompt_id)b);
	play(c, call, &s);
}

/* Say goodbye, then hang up when the prompt has played. */
static void goodbye(struct core *c, struct call *call, enum prompt_id first)
{
	call->conf.state = CONF_BYE;
	timer_stop(&c->th, &call->ring_timer);
	play1(c, call, first, first == PROMPT_GOODBYE ? -1 : PROMPT_GOODBYE);
}

static void pin_timeout(struct timer *t, void *arg);
static void set_mute(struct core *c, struct call *m, bool muted);

static void ask_pin(struct core *c, struct call *call, bool wrong)
{
	call->conf.state = CONF_PIN;
	call->conf.pin_len = 0;
	if (wrong)
		play1(c, call, PROMPT_WRONG_PIN, PROMPT_CONF_ENTER_PIN);
	else
		play1(c, call, PROMPT_CONF_ENTER_PIN, -1);
	call->ring_timer.fn = pin_timeout;
	timer_start(&c->th, &call->ring_timer, c->now_ms + CONF_PIN_TIMEOUT_MS);
}

static void unlink_member(struct conf_room *r, struct call *call)
{
	if (call->conf.prev)
		call->conf.prev->conf.next = call->conf.next;
	else
		r->first = call->conf.next;
	if (call->conf.next)
		call->conf.next->conf.prev = call->conf.prev;
	else
		r->last = call->conf.prev;
	call->conf.next = call->conf.prev = NULL;
}

static void join(struct core *c, struct call *call, bool moderator)
{
	const struct config_room *cr = call->conf.cfg;
	timer_stop(&c->th, &call->ring_timer);
	struct conf_room *r = room_find(c, cr->number);
	if (r && r->locked && !moderator) {
		goodbye(c, call, PROMPT_CONF_LOCKED);
		return;
	}
	if (r && cr->max_participants && r->count >= cr->max_participants) {
		goodbye(c, call, PROMPT_CONF_FULL);
		return;
	}
	if (!r) {
		r = calloc(1, sizeof *r);
		if (!r || media_room_new(c->media, call->a->ms->id, &r->id) != 0) {
			free(r);
			log_warn("conference %s: cannot open the room", cr->number);
			goodbye(c, call, PROMPT_GOODBYE);
			return;
		}
		snprintf(r->number, sizeof r->number, "%s", cr->number);
		r->next = c->conf_rooms;
		c->conf_rooms = r;
	}
	/* Waiting for a moderator: in the room, but not heard until one comes. */
	bool waiting = (cr->flags & ROOM_F_WAIT_MODERATOR) && !moderator && (!r->moderators);
	bool muted = ((cr->flags & ROOM_F_JOIN_MUTED) && !moderator) || waiting;
	if (media_room_join(c->media, r->id, call->a->ms->id, muted) != 0) {
		log_warn("conference %s: %s could not join", cr->number, call->caller->number);
		if (r->count == 0) {
			conf_room_close(c, r);
		}
		goodbye(c, call, PROMPT_CONF_FULL);
		return;
	}
	call->conf.room = r;
	call->conf.state = CONF_IN;
	call->conf.moderator = moderator;
	call->conf.muted = muted;
	call->conf.joined_ms = wall_ms();
	call->conf.prev = r->last;
	if (r->last)
		r->last->conf.next = call;
	else
		r->first = call;
	r->last = call;
	r->count++;
	if (moderator)
		r->moderators++;
	log_info("conference %s: %s joined%s (%u here)", r->number, call->caller->number,
		 moderator ? " as moderator" : "", r->count);
	if (waiting)
		play1(c, call, PROMPT_CONF_WAIT_MODERATOR, -1);
	else if (r->count == 1)
		play1(c, call, PROMPT_CONF_ONLY_ONE, -1);
	else if (muted)
		play1(c, call, PROMPT_CONF_JOINED, PROMPT_CONF_MUTED);
	else
		play1(c, call, PROMPT_CONF_JOINED, -1);
	if (moderator && r->moderators == 1 && (cr->flags & ROOM_F_WAIT_MODERATOR)) {
		/* The first moderator opens the room: the waiting are heard now. */
		for (struct call *m = r->first; m; m = m->conf.next)
			if (m != call && !m->conf.moderator && !(cr->flags & ROOM_F_JOIN_MUTED))
				set_mute(c, m, false);
	}
	if ((cr->flags & ROOM_F_ANNOUNCE) && r->count > 1)
		for (struct call *m = r->first; m; m = m->conf.next)
			if (m != call)
				play1(c, m, PROMPT_CONF_JOINED, -1);
}

static void pin_timeout(struct timer *t, void *arg)
{
	(void)t;
	struct call *call = arg;
	conf_pin_entered(call->core, call);
}

/* The PIN so far (in call->conf.pin) is complete. */
void conf_pin_entered(struct core *c, struct call *call)
{
	const struct config_room *cr = call->conf.cfg;
	call->conf.pin[call->conf.pin_len] = '\0';
	const char *pin = call->conf.pin;
	if (cr->moderator_pin[0] && strcmp(pin, cr->moderator_pin) == 0) {
		join(c, call, true);
		return;
	}
	if (strcmp(pin, cr->pin) == 0) {
		join(c, call, false);
		return;
	}
	if (++call->conf.pin_tries >= CONF_PIN_TRIES) {
		log_notice("conference %s: %s gave a wrong PIN %d times", cr->number, call->caller->number,
			   CONF_PIN_TRIES);
		goodbye(c, call, PROMPT_WRONG_PIN);
		return;
	}
	ask_pin(c, call, true);
}

void conf_start(struct core *c, struct call *call, const struct config_room *cr)
{
	call->kind = CALL_CONF;
	call->conf.cfg = cr;
	if (cr->pin[0] || cr->moderator_pin[0])
		ask_pin(c, call, false);
	else
		join(c, call, false);
}

static void set_mute(struct core *c, struct call *m, bool muted)
{
	if (m->conf.muted == muted)
		return;
	m->conf.muted = muted;
	media_room_mute(c->media, m->a->ms->id, muted);
}

/* Hang up a member: say goodbye first. */
static void remove_member(struct core *c, struct call *m, enum prompt_id why)
{
	conf_leave(c, m);
	goodbye(c, m, why);
}

static void say_count(struct core *c, struct call *call)
{
	struct prompt_seq s = { 0 };
	prompt_seq_add(&s, PROMPT_CONF_THERE_ARE);
	prompt_seq_add_number(&s, call->conf.room->count);
	prompt_seq_add(&s, PROMPT_CONF_PARTICIPANTS);
	play(c, call, &s);
}

static void control(struct core *c, struct call *call, char key)
{
	struct conf_room *r = call->conf.room;
	bool mod = call->conf.moderator;
	switch (key) {
	case '6':
		set_mute(c, call, !call->conf.muted);
		play1(c, call, call->conf.muted ? PROMPT_CONF_MUTED : PROMPT_CONF_UNMUTED, -1);
		return;
	case '4':
	case '7': {
		int v = call->conf.volume + (key == '7' ? 1 : -1);
		if (v < CONF_VOLUME_MIN || v > CONF_VOLUME_MAX)
			return;
		call->conf.volume = v;
		media_room_volume(c->media, call->a->ms->id, v);
		return;
	}
	case '1':
		if (!mod)
			return;
		r->locked = !r->locked;
		log_info("conference %s %s by %s", r->number, r->locked ? "locked" : "unlocked", call->caller->number);
		play1(c, call, r->locked ? PROMPT_CONF_NOW_LOCKED : PROMPT_CONF_NOW_UNLOCKED, -1);
		return;
	case '2':
		if (!mod)
			return;
		r->all_muted = !r->all_muted;
		for (struct call *m = r->first; m; m = m->conf.next)
			if (m != call && !m->conf.moderator)
				set_mute(c, m, r->all_muted);
		play1(c, call, r->all_muted ? PROMPT_CONF_ALL_MUTED : PROMPT_CONF_UNMUTED, -1);
		return;
	case '3':
		if (!mod)
			return;
		for (struct call *m = r->last; m; m = m->conf.prev) {
			if (m != call) {
				log_info("conference %s: %s removed by %s", r->number, m->caller->number,
					 call->caller->number);
				remove_member(c, m, PROMPT_CONF_KICKED);
				return;
			}
		}
		return;
	default:
		return;
	}
}

void conf_dtmf(struct core *c, struct call *call, char digit)
{
	switch (call->conf.state) {
	case CONF_PIN:
		if (digit == '#') {
			conf_pin_entered(c, call);
		} else if (digit >= '0' && digit <= '9' && call->conf.pin_len < sizeof call->conf.pin - 1) {
			if (call->conf.pin_len == 0)
				media_play(c->media, call->a->ms->id, &(struct prompt_seq){ 0 }); /* stop the prompt */
			call->conf.pin[call->conf.pin_len++] = digit;
			/* The time limit is between digits, so a slow keyer is not cut off. */
			timer_start(&c->th, &call->ring_timer, c->now_ms + CONF_PIN_TIMEOUT_MS);
		}
		return;
	case CONF_IN:
		if (call->conf.star) {
			call->conf.star = false;
			control(c, call, digit);
		} else if (digit == '*') {
			call->conf.star = true;
		} else if (digit == '#') {
			say_count(c, call);
		}
		return;
	case CONF_BYE:
		return;
	}
}

void conf_play_done(struct core *c, struct call *call)
{
	if (call->conf.plays > 0)
		call->conf.plays--;
	/* Hang up once the goodbye itself has played, not a prompt it replaced. */
	if (call->conf.state == CONF_BYE && call->conf.plays == 0 && !call->ended)
		call_hangup(c, call, "answered", "system");
}

void conf_room_close(struct core *c, struct conf_room *r)
{
	for (struct conf_room **pp = &c->conf_rooms; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	media_room_free(c->media, r->id);
	free(r);
}

void conf_leave(struct core *c, struct call *call)
{
	struct conf_room *r = call->conf.room;
	if (!r)
		return;
	unlink_member(r, call);
	call->conf.room = NULL;
	if (call->a && call->a->ms)
		media_room_leave(c->media, call->a->ms->id);
	r->count--;
	if (call->conf.moderator)
		r->moderators--;
	log_info("conference %s: %s left (%u here)", r->number, call->caller->number, r->count);
	const struct config_room *cr = call->conf.cfg;
	if (call->conf.moderator && r->moderators == 0 && (cr->flags & ROOM_F_END_WITH_MODERATOR)) {
		/* The room ends with its last moderator: everyone hears goodbye. */
		while (r->first) {
			struct call *m = r->first;
			unlink_member(r, m);
			m->conf.room = NULL;
			media_room_leave(c->media, m->a->ms->id);
			r->count--;
			goodbye(c, m, PROMPT_GOODBYE);
		}
	}
	if (r->count == 0) {
		conf_room_close(c, r);
		return;
	}
	if (cr->flags & ROOM_F_ANNOUNCE)
		for (struct call *m = r->first; m; m = m->conf.next)
			play1(c, m, PROMPT_CONF_LEFT, -1);
}

/* ---- the web admin's controls -------------------------------------------------- */

size_t conf_admin_list(struct core *c, struct live_conf_member *out, size_t max, size_t *total)
{
	size_t n = 0, all = 0;
	for (struct conf_room *r = c->conf_rooms; r; r = r->next) {
		for (struct call *m = r->first; m; m = m->conf.next) {
			all++;
			if (n >= max)
				continue;
			struct live_conf_member *o = &out[n++];
			memset(o, 0, sizeof *o);
			snprintf(o->room, sizeof o->room, "%s", r->number);
			o->room_locked = r->locked;
			o->room_count = r->count;
			o->id = m->id;
			snprintf(o->number, sizeof o->number, "%s", m->caller ? m->caller->number : "");
			snprintf(o->name, sizeof o->name, "%s", m->caller ? m->caller->name : "");
			o->joined_ms = m->conf.joined_ms;
			o->muted = m->conf.muted;
			o->moderator = m->conf.moderator;
		}
	}
	*total = all;
	return n;
}

static struct call *member_find(struct core *c, const char *room, uint64_t id)
{
	struct conf_room *r = room_find(c, room);
	for (struct call *m = r ? r->first : NULL; m; m = m->conf.next)
		if (m->id == id)
			return m;
	return NULL;
}

int conf_admin_mute(struct core *c, const char *room, uint64_t id, bool muted)
{
	struct call *m = member_find(c, room, id);
	if (!m)
		return ENOENT;
	if (m->conf.muted == muted)
		return 0;
	set_mute(c, m, muted);
	/* Told as after its own *6, so nobody is muted without knowing. */
	play1(c, m, muted ? PROMPT_CONF_MUTED : PROMPT_CONF_UNMUTED, -1);
	log_info("conference %s: %s %s by the administrator", room, m->caller->number,
		 muted ? "muted" : "unmuted");
	return 0;
}

int conf_admin_kick(struct core *c, const char *room, uint64_t id)
{
	struct call *m = member_find(c, room, id);
	if (!m)
		return ENOENT;
	log_info("conference %s: %s removed by the administrator", room, m->caller->number);
	remove_member(c, m, PROMPT_CONF_KICKED);
	return 0;
}

int conf_admin_lock(struct core *c, const char *room, bool locked)
{
	struct conf_room *r = room_find(c, room);
	if (!r)
		return ENOENT;
	if (r->locked != locked)
		log_info("conference %s %s by the administrator", r->number, locked ? "locked" : "unlocked");
	r->locked = locked;
	return 0;
}

void conf_free_all(struct core *c)
{
	while (c->conf_rooms) {
		struct conf_room *r = c->conf_rooms;
		c->conf_rooms = r->next;
		free(r);
	}
}
