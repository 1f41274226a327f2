/*
 * core_register.c: REGISTER handling (RFC 3261 10.3), binding persistence
 * through the jobs thread, and OPTIONS keepalives to phones behind NAT.
 */
#include "core_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *tp_name(enum sip_tp tp) { return tp == SIP_TP_TCP ? "tcp" : "udp"; }

static void to_db_binding(const struct reg_binding *b, struct db_binding *d)
{
	memset(d, 0, sizeof *d);
	snprintf(d->aor, sizeof d->aor, "%s", b->aor->aor);
	snprintf(d->contact, sizeof d->contact, "%s", b->contact);
	sip_addr_str(&b->reach.peer, d->received, sizeof d->received);
	snprintf(d->transport, sizeof d->transport, "%s", tp_name(b->reach.tp));
	sip_addr_str(&b->reach.local, d->local, sizeof d->local);
	snprintf(d->call_id, sizeof d->call_id, "%s", b->call_id);
	d->cseq = b->cseq;
	d->expires_at = b->expires_at;
	d->q = b->q;
	snprintf(d->user_agent, sizeof d->user_agent, "%s", b->user_agent);
	snprintf(d->instance, sizeof d->instance, "%s", b->instance);
	d->reg_id = b->reg_id;
}

static void on_binding_changed(void *ctx, const struct reg_binding *b, enum reg_change what)
{
	struct core *c = ctx;
	/* A keepalive in flight must not report into a freed binding. */
	if (b->ka_txn && what == REG_REMOVED)
		sip_txn_set_user(b->ka_txn, NULL);
	if (what == REG_REMOVED || what == REG_RENAMING) {
		jobs_location_del(c->jobs, b->aor->aor, b->contact);
		return;
	}
	struct db_binding d;
	to_db_binding(b, &d);
	jobs_location_put(c->jobs, &d);
	if (what == REG_ADDED)
		core_mwi_binding_added(c, b);
}

/* Send OPTIONS to a NATed contact at the address it registered from; this
 * keeps the NAT mapping open and tells us when the phone is gone. */
static void on_keepalive(void *ctx, struct reg_binding *b)
{
	struct core *c = ctx;
	if (b->ka_txn)
		return; /* the previous one has not finished */
	if (b->reach.tp == SIP_TP_TCP && !sip_transport_conn_alive(c->tp, b->reach.conn_id)) {
		log_info("registrar: %s %s: connection gone, removing", b->aor->aor, b->contact);
		registrar_remove(c->reg, b);
		return;
	}
	char branch[17], tag[17], callid[17], local[SIP_ADDRSTR_MAX];
	sip_random_token(branch);
	sip_random_token(tag);
	sip_random_token(callid);
	const struct sockaddr_storage *la = b->reach.local.ss_family ? &b->reach.local
								   : sip_transport_primary(c->tp);
	sip_addr_str(la, local, sizeof local);
	struct sip_buf m;
	char buf[2048];
	sip_buf_init(&m, buf, sizeof buf);
	sip_buf_printf(&m,
		       "OPTIONS %s SIP/2.0\r\n"
		       "Via: SIP/2.0/%s %s;branch=z9hG4bK%s;rport\r\n"
		       "Max-Forwards: 70\r\n"
		       "From: <sip:pbx@%s>;tag=%s\r\n"
		       "To: <%s>\r\n"
		       "Call-ID: %s@%s\r\n"
		       "CSeq: 1 OPTIONS\r\n"
		       "User-Agent: %s\r\n"
		       "Content-Length: 0\r\n\r\n",
		       b->contact, b->reach.tp == SIP_TP_TCP ? "TCP" : "UDP", local, branch, local, tag,
		       b->contact, callid, local, sip_server_name);
	if (!sip_buf_ok(&m))
		return;
	struct sip_txn *t;
	if (sip_txn_request(c->txl, m.p, m.len, &b->reach, b, &t) == 0)
		b->ka_txn = t;
}

void core_register_txn_done(struct core *c, struct sip_txn *ct, int status)
{
	struct reg_binding *b = sip_txn_user(ct);
	if (!b)
		return;
	b->ka_txn = NULL;
	sip_txn_set_user(ct, NULL);
	if (status == 408 || status == 503) {
		log_info("registrar: %s %s does not answer keepalives, removing", b->aor->aor, b->contact);
		registrar_remove(c->reg, b);
	}
}

void core_register_apply_config(struct core *c)
{
	struct reg_limits lim = {
		.min_expires = c->cfg->reg_min_expires,
		.max_expires = c->cfg->reg_max_expires,
		.default_expires = c->cfg->reg_default_expires,
		.max_contacts = c->cfg->max_contacts,
		.keepalive_s = c->cfg->keepalive_interval,
	};
	registrar_set_limits(c->reg, &lim);
}

static int restore_one(void *ctx, const struct db_binding *d)
{
	struct core *c = ctx;
	struct sip_dest reach = { .tp = strcmp(d->transport, "tcp") == 0 ? SIP_TP_TCP : SIP_TP_UDP };
	if (sip_addr_parse(d->received, 5060, &reach.peer) != 0) {
		log_warn("location: binding %s %s has a bad address '%s', dropped", d->aor, d->contact,
			 d->received);
		return 0;
	}
	if (sip_addr_parse(d->local, 5060, &reach.local) != 0)
		memset(&reach.local, 0, sizeof reach.local);
	if (registrar_restore(c->reg, d->aor, d->contact, &reach, d->call_id, d->cseq, d->expires_at,
			      d->q < 0 ? 1.0 : d->q, d->user_agent, d->instance, d->reg_id,
			      loop_wall_s()) != 0)
		log_warn("location: binding %s %s unusable, dropped", d->aor, d->contact);
	return 0;
}

int core_register_init(struct core *c, sqlite3 *db)
{
	static const struct registrar_hooks hooks = {
		.changed = on_binding_changed,
		.keepalive = on_keepalive,
	};
	int err = registrar_new(&c->reg, &c->th, &hooks, c);
	if (err)
		return err;
	core_register_apply_config(c);
	/* registrar_restore does not call the change hook: nothing is written back. */
	err = db_location_load(db, loop_wall_s(), restore_one, c);
	if (err)
		log_warn("location: could not read stored bindings: %s", strerror(err));
	log_notice("registrar: %zu bindings restored", registrar_count(c->reg));
	return 0;
}

void core_register(struct core *c, struct sip_txn *st, const struct sip_msg *req,
		   const struct sip_dest *src)
{
	/* The AOR is the To URI; its user part is the extension. */
	struct slice user = req->to.uri.user;
	if (!req->to.uri.is_sip || !user.p || user.len == 0 || user.len >= REG_AOR_MAX) {
		core_reply(c, st, req, src, 404, NULL);
		return;
	}
	const struct config_ext *ext = core_auth(c, st, req, src, user);
	if (!ext)
		return;
	long min_expires = 0;
	int code = registrar_apply(c->reg, ext->number, req, src, loop_wall_s(), &min_expires);
	struct sip_buf b;
	core_begin_reply(c, &b, req, src, code);
	if (code == 423)
		sip_buf_printf(&b, "Min-Expires: %ld\r\n", min_expires);
	if (code == 200) {
		c->st.registers_ok++;
		struct reg_aor *a = registrar_find(c->reg, ext->number);
		int64_t now = loop_wall_s();
		for (struct reg_binding *x = a ? a->bindings : NULL; x; x = x->next) {
			long left = (long)(x->expires_at - now);
			sip_buf_printf(&b, "Contact: <%s>;expires=%ld", x->contact, left > 0 ? left : 0);
			if (x->instance[0])
				sip_buf_printf(&b, ";+sip.instance=%s", x->instance);
			sip_buf_str(&b, "\r\n");
		}
	}
	sip_build_end(&b, NULL, 0);
	core_send_built(c, st, req, src, &b, code);
}
