/*
 * sip_transport.c: UDP and TCP sockets for SIP; see sip_transport.h.
 */
#include "sip_transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "sip_msg.h"

#define UDP_BATCH 32
#define UDP_BUFSZ 65536
/* Listen addresses: the configured ones and, after a port change, the old
 * ones still draining (sip_transport_set_draining). */
#define MAX_LISTEN SIP_TRANSPORT_MAX_LISTEN
#define TCP_RBUF_MAX (SIP_MAX_MSG + 1)
#define TCP_WBUF_MAX (1 << 20) /* queued output per connection before we give up on it */

struct udp_sock {
	struct loop_watch w;
	struct sip_transport *t;
	struct sockaddr_storage bound;
	bool wildcard;
	bool used;     /* this slot (and tcp[] of the same index) is open */
	bool draining; /* kept for what is already set up through it; not chosen otherwise */
};

struct tcp_listener {
	struct loop_watch w;
	struct sip_transport *t;
	struct sockaddr_storage bound;
};

struct tcp_conn {
	struct loop_watch w;
	struct sip_transport *t;
	uint64_t id;
	struct sockaddr_storage peer, local;
	char *rbuf;          /* received bytes not yet framed */
	size_t rlen, rcap;
	char *wbuf;          /* bytes the kernel did not take yet */
	size_t wlen, wcap;
	struct timer partial; /* runs while rlen > 0: the message must complete */
	struct timer idle;    /* closes a silent connection */
	bool dead;            /* close pending (see reap) */
	struct tcp_conn *hnext;     /* id hash chain */
	struct tcp_conn *dead_next; /* reap list */
};

#define CONN_HASH 1024

struct sip_transport {
	struct loop *loop;
	struct timer_heap *th;
	struct sip_transport_cfg cfg;
	sip_transport_msg_h on_msg;
	void *ctx;
	struct udp_sock udp[MAX_LISTEN];
	struct tcp_listener tcp[MAX_LISTEN]; /* slots never move: epoll holds their addresses */
	struct tcp_conn *conns[CONN_HASH];
	size_t nconns;
	uint64_t next_conn_id;
	struct tcp_conn *dead;
	/* recvmmsg buffers, reused for every batch */
	char (*bufs)[UDP_BUFSZ];
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iovs[UDP_BATCH];
	struct sockaddr_storage from[UDP_BATCH];
	char cmsg[UDP_BATCH][CMSG_SPACE(sizeof(struct in6_pktinfo))];
};

static void trace(struct sip_transport *t, const char *dir, const struct sip_dest *d,
		  const char *buf, size_t len)
{
	if (!t->cfg.trace)
		return;
	char a[SIP_ADDRSTR_MAX];
	sip_addr_str(&d->peer, a, sizeof a);
	/* One log line per message line keeps journald output readable. */
	log_notice("sip %s %s %s (%zu bytes)", dir, d->tp == SIP_TP_TCP ? "tcp" : "udp", a, len);
	const char *p = buf, *end = buf + len;
	unsigned lines = 0;
	while (p < end && lines++ < 200) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (l && p[l - 1] == '\r')
			l--;
		log_notice("sip %s | %.*s", dir, (int)(l > 1000 ? 1000 : l), p);
		p = nl ? nl + 1 : end;
	}
}

/* ---------------------------------------------------------------- UDP */

static void udp_local_from_cmsg(struct udp_sock *u, struct msghdr *mh, struct sockaddr_storage *local)
{
	*local = u->bound;
	if (!u->wildcard)
		return;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof pi);
			((struct sockaddr_in *)local)->sin_addr = pi.ipi_addr;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof pi);
			((struct sockaddr_in6 *)local)->sin6_addr = pi.ipi6_addr;
		}
	}
}

static void udp_readable(struct loop_watch *w, uint32_t events)
{
	struct udp_sock *u = (struct udp_sock *)w;
	struct sip_transport *t = u->t;
	(void)events;
	/* Bounded: a few batches per wake-up, so TCP and timers are not starved. */
	for (int round = 0; round < 8; round++) {
		for (int i = 0; i < UDP_BATCH; i++) {
			t->iovs[i] = (struct iovec){ t->bufs[i], UDP_BUFSZ - 1 };
			t->msgs[i].msg_hdr = (struct msghdr){
				.msg_name = &t->from[i], .msg_namelen = sizeof t->from[i],
				.msg_iov = &t->iovs[i], .msg_iovlen = 1,
				.msg_control = t->cmsg[i], .msg_controllen = sizeof t->cmsg[i],
			};
			t->msgs[i].msg_len = 0;
		}
		int n = recvmmsg(u->w.fd, t->msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			struct sip_dest src = { .tp = SIP_TP_UDP, .conn_id = 0 };
			memcpy(&src.peer, &t->from[i], sizeof src.peer);
			udp_local_from_cmsg(u, &t->msgs[i].msg_hdr, &src.local);
			size_t len = t->msgs[i].msg_len;
			if (t->msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
				continue; /* larger than any SIP message we accept */
			if (len == 0)
				continue;
			trace(t, "recv", &src, t->bufs[i], len);
			t->on_msg(t->ctx, t->bufs[i], len, &src);
		}
		if (n < UDP_BATCH)
			return;
	}
}

static struct udp_sock *udp_for(struct sip_transport *t, const struct sockaddr_storage *local)
{
	/* The socket bound to local; else the wildcard one on its port; else
	 * any of its family, one not draining first. */
	struct udp_sock *wild = NULL, *any = NULL;
	for (unsigned i = 0; i < MAX_LISTEN; i++) {
		struct udp_sock *u = &t->udp[i];
		if (!u->used || u->bound.ss_family != local->ss_family)
			continue;
		if (sip_addr_port(&u->bound) == sip_addr_port(local)) {
			if (!u->wildcard && sip_addr_equal(&u->bound, local))
				return u;
			if (u->wildcard && !wild)
				wild = u;
		}
		if (!any || (any->draining && !u->draining))
			any = u;
	}
	return wild ? wild : any;
}

static int udp_send(struct sip_transport *t, const struct sip_dest *dst, const char *buf, size_t len)
{
	struct udp_sock *u = NULL;
	if (dst->local.ss_family)
		u = udp_for(t, &dst->local);
	if (!u) {
		for (unsigned i = 0; i < MAX_LISTEN; i++) {
			struct udp_sock *c = &t->udp[i];
			if (c->used && c->bound.ss_family == dst->peer.ss_family && (!u || (u->draining && !c->draining)))
				u = c;
		}
	}
	if (!u)
		return EAFNOSUPPORT;
	struct iovec iov = { (void *)buf, len };
	char cbuf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	struct msghdr mh = {
		.msg_name = (void *)&dst->peer, .msg_namelen = sip_addr_len(&dst->peer),
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	/* Leave from the address the request came to when we listen on a wildcard. */
	if (u->wildcard && dst->local.ss_family == u->bound.ss_family) {
		memset(cbuf, 0, sizeof cbuf);
		mh.msg_control = cbuf;
		struct cmsghdr *c;
		if (u->bound.ss_family == AF_INET) {
			mh.msg_controllen = CMSG_SPACE(sizeof(struct in_pktinfo));
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = IPPROTO_IP;
			c->cmsg_type = IP_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
			struct in_pktinfo pi = { 0 };
			pi.ipi_spec_dst = ((const struct sockaddr_in *)&dst->local)->sin_addr;
			memcpy(CMSG_DATA(c), &pi, sizeof pi);
		} else {
			mh.msg_controllen = CMSG_SPACE(sizeof(struct in6_pktinfo));
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = IPPROTO_IPV6;
			c->cmsg_type = IPV6_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
			struct in6_pktinfo pi = { 0 };
			pi.ipi6_addr = ((const struct sockaddr_in6 *)&dst->local)->sin6_addr;
			memcpy(CMSG_DATA(c), &pi, sizeof pi);
		}
	}
	trace(t, "send", dst, buf, len);
	if (sendmsg(u->w.fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return errno;
	return 0;
}

/* ---------------------------------------------------------------- TCP */

static struct tcp_conn *conn_find(const struct sip_transport *t, uint64_t id)
{
	for (struct tcp_conn *c = t->conns[id % CONN_HASH]; c; c = c->hnext)
		if (c->id == id)
			return c;
	return NULL;
}

static void conn_kill(struct tcp_conn *c, const char *why)
{
	if (c->dead)
		return;
	char a[SIP_ADDRSTR_MAX];
	log_info("tcp %s: closing connection %llu (%s)", sip_addr_str(&c->peer, a, sizeof a),
		 (unsigned long long)c->id, why);
	c->dead = true;
	c->dead_next = c->t->dead;
	c->t->dead = c;
}

static void conn_free(struct tcp_conn *c)
{
	struct sip_transport *t = c->t;
	struct tcp_conn **pp = &t->conns[c->id % CONN_HASH];
	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	timer_stop(t->th, &c->partial);
	timer_stop(t->th, &c->idle);
	loop_del(t->loop, &c->w);
	close(c->w.fd);
	free(c->rbuf);
	free(c->wbuf);
	free(c);
	t->nconns--;
}

void sip_transport_reap(struct sip_transport *t)
{
	while (t->dead) {
		struct tcp_conn *c = t->dead;
		t->dead = c->dead_next;
		conn_free(c);
	}
}

static void conn_partial_fired(struct timer *tm, void *arg)
{
	(void)tm;
	conn_kill(arg, "incomplete message timed out");
}

static void conn_idle_fired(struct timer *tm, void *arg)
{
	(void)tm;
	conn_kill(arg, "idle");
}

static void conn_touch(struct tcp_conn *c)
{
	uint64_t now = loop_now_ms();
	timer_start(c->t->th, &c->idle, now + c->t->cfg.tcp_idle_timeout_ms);
	if (c->rlen > 0) {
		if (!timer_armed(&c->partial))
			timer_start(c->t->th, &c->partial, now + c->t->cfg.tcp_partial_timeout_ms);
	} else {
		timer_stop(c->t->th, &c->partial);
	}
}

static int conn_write(struct tcp_conn *c, const char *buf, size_t len)
{
	if (c->dead)
		return ENOTCONN;
	size_t off = 0;
	if (c->wlen == 0) {
		ssize_t n = send(c->w.fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			int e = errno;
			conn_kill(c, "send failed");
			return e;
		}
		off = n > 0 ? (size_t)n : 0;
		if (off == len)
			return 0;
	}
	size_t rest = len - off;
	if (c->wlen + rest > TCP_WBUF_MAX) {
		conn_kill(c, "peer does not read");
		return ENOBUFS;
	}
	if (c->wlen + rest > c->wcap) {
		size_t cap = c->wcap ? c->wcap : 4096;
		while (cap < c->wlen + rest)
			cap *= 2;
		char *nb = realloc(c->wbuf, cap);
		if (!nb) {
			conn_kill(c, "out of memory");
			return ENOMEM;
		}
		c->wbuf = nb;
		c->wcap = cap;
	}
	memcpy(c->wbuf + c->wlen, buf + off, rest);
	c->wlen += rest;
	loop_mod(c->t->loop, &c->w, EPOLLIN | EPOLLOUT);
	return 0;
}

static void conn_flush(struct tcp_conn *c)
{
	while (c->wlen > 0) {
		ssize_t n = send(c->w.fd, c->wbuf, c->wlen, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			conn_kill(c, "send failed");
			return;
		}
		memmove(c->wbuf, c->wbuf + n, c->wlen - (size_t)n);
		c->wlen -= (size_t)n;
	}
	loop_mod(c->t->loop, &c->w, EPOLLIN);
}

/* Frame and deliver every complete message in rbuf. */
static void conn_deliver(struct tcp_conn *c)
{
	struct sip_transport *t = c->t;
	size_t off = 0;
	unsigned count = 0;
	while (!c->dead && off < c->rlen && count++ < 1000) {
		/* CRLF keepalives (RFC 5626 section 3.5.1): answer a double CRLF with one. */
		if (c->rbuf[off] == '\r' || c->rbuf[off] == '\n') {
			if (c->rlen - off >= 4 && memcmp(c->rbuf + off, "\r\n\r\n", 4) == 0) {
				conn_write(c, "\r\n", 2);
				off += 4;
				continue;
			}
			if (c->rlen - off < 4 && memcmp(c->rbuf + off, "\r\n\r\n", c->rlen - off) == 0)
				break; /* maybe the start of a ping */
			off++;
			continue;
		}
		struct sip_msg m;
		int err = sip_msg_parse(&m, c->rbuf + off, c->rlen - off, SIP_STREAM);
		if (err == EAGAIN)
			break;
		struct sip_dest src = { .tp = SIP_TP_TCP, .conn_id = c->id };
		src.peer = c->peer;
		src.local = c->local;
		if (err) {
			/* Framing is lost: let the core answer (400) what it can, then close. */
			trace(t, "recv", &src, c->rbuf + off, c->rlen - off);
			t->on_msg(t->ctx, c->rbuf + off, c->rlen - off, &src);
			conn_kill(c, "unparseable message");
			return;
		}
		trace(t, "recv", &src, c->rbuf + off, m.len);
		t->on_msg(t->ctx, c->rbuf + off, m.len, &src);
		off += m.len;
	}
	if (off > 0) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
}

static void conn_event(struct loop_watch *w, uint32_t events)
{
	struct tcp_conn *c = (struct tcp_conn *)w;
	if (c->dead)
		return;
	if (events & EPOLLOUT)
		conn_flush(c);
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		if (c->rcap < TCP_RBUF_MAX) {
			char *nb = realloc(c->rbuf, TCP_RBUF_MAX);
			if (!nb) {
				conn_kill(c, "out of memory");
				return;
			}
			c->rbuf = nb;
			c->rcap = TCP_RBUF_MAX;
		}
		ssize_t n = recv(c->w.fd, c->rbuf + c->rlen, c->rcap - c->rlen, MSG_DONTWAIT);
		if (n == 0) {
			conn_kill(c, "closed by peer");
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				conn_kill(c, "receive failed");
			return;
		}
		c->rlen += (size_t)n;
		conn_deliver(c);
		if (!c->dead && c->rlen == c->rcap)
			conn_kill(c, "message too large");
		if (!c->dead)
			conn_touch(c);
	}
}

static void tcp_accept(struct loop_watch *w, uint32_t events)
{
	struct tcp_listener *l = (struct tcp_listener *)w;
	struct sip_transport *t = l->t;
	(void)events;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof peer;
		int fd = accept4(l->w.fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (t->nconns >= t->cfg.tcp_max_conns) {
			log_warn("tcp: connection limit %u reached, refusing", t->cfg.tcp_max_conns);
			close(fd);
			continue;
		}
		struct tcp_conn *c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			continue;
		}
		c->t = t;
		c->id = ++t->next_conn_id;
		c->peer = peer;
		socklen_t llen = sizeof c->local;
		getsockname(fd, (struct sockaddr *)&c->local, &llen);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		timer_init(&c->partial, conn_partial_fired, c);
		timer_init(&c->idle, conn_idle_fired, c);
		if (loop_add(t->loop, &c->w, fd, EPOLLIN, conn_event) != 0) {
			close(fd);
			free(c);
			continue;
		}
		c->hnext = t->conns[c->id % CONN_HASH];
		t->conns[c->id % CONN_HASH] = c;
		t->nconns++;
		conn_touch(c);
	}
}

/* ---------------------------------------------------------------- setup */

/* Close listen slot i (UDP socket and TCP listener; accepted connections
 * stay until they end on their own). */
static void slot_close(struct sip_transport *t, unsigned i)
{
	loop_del(t->loop, &t->udp[i].w);
	loop_del(t->loop, &t->tcp[i].w);
	close(t->udp[i].w.fd);
	close(t->tcp[i].w.fd);
	t->udp[i].used = t->udp[i].draining = false;
}

static bool addr_is_wildcard(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr == htonl(INADDR_ANY);
	if (a->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)a)->sin6_addr);
	return false;
}

int sip_transport_listen(struct sip_transport *t, const struct sockaddr_storage *addr)
{
	unsigned slot = 0;
	while (slot < MAX_LISTEN && t->udp[slot].used)
		slot++;
	if (slot == MAX_LISTEN)
		return ENOSPC;
	int fam = addr->ss_family, one = 1, err;
	int ufd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ufd < 0)
		return errno;
	if (fam == AF_INET6)
		setsockopt(ufd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	setsockopt(ufd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	int rcv = 4 << 20;
	setsockopt(ufd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
	setsockopt(ufd, SOL_SOCKET, SO_SNDBUF, &rcv, sizeof rcv);
	if (fam == AF_INET)
		setsockopt(ufd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
	else
		setsockopt(ufd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
	if (bind(ufd, (const struct sockaddr *)addr, sip_addr_len(addr)) < 0) {
		err = errno;
		close(ufd);
		return err;
	}
	int tfd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (tfd < 0) {
		err = errno;
		close(ufd);
		return err;
	}
	if (fam == AF_INET6)
		setsockopt(tfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	setsockopt(tfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(tfd, (const struct sockaddr *)addr, sip_addr_len(addr)) < 0 || listen(tfd, 256) < 0) {
		err = errno;
		close(ufd);
		close(tfd);
		return err;
	}
	struct udp_sock *u = &t->udp[slot];
	struct tcp_listener *l = &t->tcp[slot];
	*u = (struct udp_sock){ .t = t };
	*l = (struct tcp_listener){ .t = t };
	u->t = t;
	l->t = t;
	socklen_t len = sizeof u->bound;
	getsockname(ufd, (struct sockaddr *)&u->bound, &len);
	l->bound = u->bound;
	u->wildcard = addr_is_wildcard(&u->bound);
	if ((err = loop_add(t->loop, &u->w, ufd, EPOLLIN, udp_readable)) != 0) {
		close(ufd);
		close(tfd);
		return err;
	}
	if ((err = loop_add(t->loop, &l->w, tfd, EPOLLIN, tcp_accept)) != 0) {
		loop_del(t->loop, &u->w);
		close(ufd);
		close(tfd);
		return err;
	}
	u->used = true;
	char a[SIP_ADDRSTR_MAX];
	log_notice("sip: listening on %s (udp, tcp)", sip_addr_str(&u->bound, a, sizeof a));
	return 0;
}

int sip_transport_new(struct sip_transport **out, struct loop *loop, struct timer_heap *th,
		      const struct sip_transport_cfg *cfg, sip_transport_msg_h on_msg, void *ctx)
{
	struct sip_transport *t = calloc(1, sizeof *t);
	if (!t)
		return ENOMEM;
	t->bufs = malloc(sizeof(*t->bufs) * UDP_BATCH);
	if (!t->bufs) {
		free(t);
		return ENOMEM;
	}
	t->loop = loop;
	t->th = th;
	t->cfg = *cfg;
	if (!t->cfg.tcp_partial_timeout_ms)
		t->cfg.tcp_partial_timeout_ms = 10000;
	if (!t->cfg.tcp_idle_timeout_ms)
		t->cfg.tcp_idle_timeout_ms = 3600000;
	if (!t->cfg.tcp_max_conns)
		t->cfg.tcp_max_conns = 4096;
	t->on_msg = on_msg;
	t->ctx = ctx;
	*out = t;
	return 0;
}

void sip_transport_free(struct sip_transport *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < CONN_HASH; i++)
		while (t->conns[i]) {
			struct tcp_conn *c = t->conns[i];
			if (!c->dead)
				conn_kill(c, "shutdown");
			sip_transport_reap(t);
		}
	for (unsigned i = 0; i < MAX_LISTEN; i++)
		if (t->udp[i].used)
			slot_close(t, i);
	free(t->bufs);
	free(t);
}

int sip_transport_send(struct sip_transport *t, const struct sip_dest *dst, const char *buf, size_t len)
{
	if (dst->tp == SIP_TP_UDP)
		return udp_send(t, dst, buf, len);
	struct tcp_conn *c = conn_find(t, dst->conn_id);
	if (!c || c->dead)
		return ENOTCONN;
	trace(t, "send", dst, buf, len);
	return conn_write(c, buf, len);
}

const struct sockaddr_storage *sip_transport_primary(const struct sip_transport *t)
{
	const struct udp_sock *first = NULL;
	for (unsigned i = 0; i < MAX_LISTEN; i++) {
		const struct udp_sock *u = &t->udp[i];
		if (u->used && (!first || (first->draining && !u->draining)))
			first = u;
	}
	return first ? &first->bound : NULL;
}

static int slot_find(const struct sip_transport *t, const struct sockaddr_storage *bound)
{
	for (unsigned i = 0; i < MAX_LISTEN; i++)
		if (t->udp[i].used && sip_addr_equal(&t->udp[i].bound, bound))
			return (int)i;
	return -1;
}

int sip_transport_unlisten(struct sip_transport *t, const struct sockaddr_storage *bound)
{
	int i = slot_find(t, bound);
	if (i < 0)
		return ENOENT;
	char a[SIP_ADDRSTR_MAX];
	log_notice("sip: no longer listening on %s", sip_addr_str(bound, a, sizeof a));
	slot_close(t, (unsigned)i);
	return 0;
}

int sip_transport_set_draining(struct sip_transport *t, const struct sockaddr_storage *bound, bool draining)
{
	int i = slot_find(t, bound);
	if (i < 0)
		return ENOENT;
	t->udp[i].draining = draining;
	return 0;
}

size_t sip_transport_listening(const struct sip_transport *t, struct sip_listen_info *out, size_t max)
{
	size_t n = 0;
	for (unsigned i = 0; i < MAX_LISTEN && n < max; i++)
		if (t->udp[i].used)
			out[n++] = (struct sip_listen_info){ t->udp[i].bound, t->udp[i].draining };
	return n;
}

bool sip_transport_conn_alive(const struct sip_transport *t, uint64_t conn_id)
{
	const struct tcp_conn *c = conn_find(t, conn_id);
	return c && !c->dead;
}

size_t sip_transport_conn_count(const struct sip_transport *t) { return t->nconns; }
