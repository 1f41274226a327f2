#!/usr/bin/env python3
"""sip_refer.py: the transferor of an attended transfer, for tests/sip/t_call_flow.sh.

Debian's baresip 1.0 cannot make an attended transfer, so this small user
agent (Python 3 standard library only) plays the phone in the middle:

  sip_refer.py --user 1006 --password pw1006 --pbx 127.0.0.1:5060 --port 5094
               --target 1003 [--settle 1.5] [--timeout 30]

 1. registers USER with a Contact at 127.0.0.1:PORT (digest auth);
 2. answers the first INVITE that comes (the call to be transferred: dialog 1);
 3. calls TARGET through the PBX (dialog 2) and waits for its 200;
 4. after SETTLE seconds sends REFER on dialog 1 with
    Refer-To: <sip:TARGET@PBX?Replaces=<dialog 2's Call-ID;to-tag;from-tag>>;
 5. waits until the PBX has sent NOTIFY and BYE on both dialogs (answering
    each 200), then unregisters.

Both dialogs send PCMU silence every 20 ms from their own RTP port, as a
phone would. Progress goes to stdout, one line each, flushed at once:
  REGISTERED, ANSWERED <call-id>, CONNECTED <call-id>, REFER <status>,
  NOTIFY <sipfrag status line>, BYE 1, BYE 2, UNREGISTERED, DONE,
  and "FAIL <reason>" when a step cannot be done (a NOTIFY other than 2xx
  ends the wait); a dialog the PBX did not end is then hung up by us
  ("HUNG UP 1" / "HUNG UP 2").
Exit status: 0 when every step happened within --timeout, 1 otherwise.
"""
import argparse
import os
import random
import re
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from send_sip import (digest_header, header_values, parse_challenge, call_id,  # noqa: E402
                      status_code, request_line, rand_token)


def say(*words):
    print(' '.join(str(w) for w in words), flush=True)


def tag_of(value):
    m = re.search(r';\s*tag=([^;>\s]+)', value)
    return m.group(1) if m else ''


def uri_of(value):
    m = re.search(r'<([^>]+)>', value)
    return m.group(1) if m else value.split(';')[0].strip()


def escape(s):
    """RFC 3261 hvalue escaping: everything but unreserved characters."""
    keep = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*\'()'
    return ''.join(c if c in keep else '%%%02X' % ord(c) for c in s)


def sdp(port, sess):
    return ('v=0\r\no=- %d 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n'
            'm=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n'
            'a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n'
            % (sess, port))


class Rtp:
    """PCMU silence to the address in the peer's SDP, every 20 ms."""

    def __init__(self, port):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(('127.0.0.1', port))
        self.s.setblocking(False)
        self.port = port
        self.dest = None
        self.seq = random.randrange(65536)
        self.ts = random.randrange(1 << 32)
        self.ssrc = random.randrange(1 << 32)
        self.next = 0.0

    def set_peer(self, body):
        c = re.search(rb'(?m)^c=IN IP4 ([0-9.]+)', body)
        m = re.search(rb'(?m)^m=audio (\d+)', body)
        if c and m:
            self.dest = (c.group(1).decode(), int(m.group(1)))

    def tick(self, now):
        try:
            while True:
                self.s.recv(2048)          # drop what comes in
        except (BlockingIOError, OSError):
            pass
        if self.dest is None or now < self.next:
            return
        self.next = now + 0.02
        hdr = struct.pack('!BBHII', 0x80, 0, self.seq & 0xffff, self.ts & 0xffffffff, self.ssrc)
        self.seq += 1
        self.ts += 160
        try:
            self.s.sendto(hdr + b'\xff' * 160, self.dest)
        except OSError:
            pass


class Dialog:
    def __init__(self):
        self.call_id = ''
        self.local_tag = rand_token(10)
        self.remote_tag = ''
        self.local_uri = ''
        self.remote_uri = ''
        self.remote_target = ''
        self.cseq = random.randrange(100, 1000)
        self.byed = False


class Agent:
    def __init__(self, a):
        self.a = a
        self.pbx_host, port = a.pbx.rsplit(':', 1)
        self.pbx = (self.pbx_host, int(port))
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(('127.0.0.1', a.port))
        self.local = '127.0.0.1:%d' % a.port
        self.contact = '<sip:%s@%s>' % (a.user, self.local)
        self.aor = 'sip:%s@%s' % (a.user, self.pbx_host)
        self.deadline = time.time() + a.timeout
        self.rtp = [Rtp(a.port + 2), Rtp(a.port + 4)]
        self.d1 = None          # the call we answered
        self.d2 = None          # the call we made
        self.notify = None
        self.answered_resp = None   # our 200 to dialog 1's INVITE, for retransmitted INVITEs
        self.inbox = []             # responses waiting for whoever sent the request

    # ------------------------------------------------------------ wire

    def send(self, text, dest=None):
        self.s.sendto(text.encode() if isinstance(text, str) else text, dest or self.pbx)

    def recv_one(self, until):
        while True:
            now = time.time()
            for r in self.rtp:
                r.tick(now)
            left = min(until, self.deadline) - now
            if left <= 0:
                return None
            self.s.settimeout(min(0.02, left))
            try:
                data, src = self.s.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                continue
            return data, src

    def pump(self, until):
        """Serve requests until a response arrives (returned) or until."""
        while True:
            if self.inbox:
                return self.inbox.pop(0)
            got = self.recv_one(until)
            if got is None:
                return None
            data, src = got
            if data.startswith(b'SIP/2.0 '):
                self.on_response(data)
            else:
                self.on_request(data, src)

    def on_response(self, msg):
        cseq = header_values(msg, b'cseq')
        code = status_code(msg) or 0
        # a 2xx to our INVITE retransmitted after we ACKed it: ACK again
        if (self.d2 and call_id(msg) == self.d2.call_id and cseq and cseq[0].endswith('INVITE')
                and 200 <= code < 300 and self.d2.remote_tag):
            self.send(self.in_dialog(self.d2, 'ACK', cseq=int(cseq[0].split()[0])))
            return
        self.inbox.append(msg)

    def reply(self, req, src, code, reason, extra='', body='', to_tag=None):
        lines = ['SIP/2.0 %d %s' % (code, reason)]
        for v in header_values(req, b'via', b'v'):
            lines.append('Via: ' + v)
        frm = header_values(req, b'from', b'f')
        to = header_values(req, b'to', b't')
        if frm:
            lines.append('From: ' + frm[0])
        if to:
            t = to[0]
            if to_tag and not tag_of(t):
                t += ';tag=' + to_tag
            lines.append('To: ' + t)
        lines.append('Call-ID: ' + (call_id(req) or ''))
        cseq = header_values(req, b'cseq')
        if cseq:
            lines.append('CSeq: ' + cseq[0])
        if extra:
            lines.append(extra.rstrip('\r\n'))
        if body:
            lines.append('Content-Type: application/sdp')
        lines.append('Content-Length: %d' % len(body.encode()))
        text = '\r\n'.join(lines) + '\r\n\r\n' + body
        self.send(text, src)
        return text

    def on_request(self, msg, src):
        method, _ = request_line(msg)
        cid = call_id(msg)
        if method == 'INVITE':
            to = header_values(msg, b'to', b't')
            if to and tag_of(to[0]):                         # a re-INVITE: take it as it is
                d = self.d1 if self.d1 and cid == self.d1.call_id else self.d2
                if d:
                    r = self.rtp[0 if d is self.d1 else 1]
                    self.reply(msg, src, 200, 'OK', 'Contact: ' + self.contact, sdp(r.port, 2))
                else:
                    self.reply(msg, src, 481, 'Call/Transaction Does Not Exist')
                return
            if self.d1 is None:
                self.answer(msg, src)
            elif cid == self.d1.call_id and self.answered_resp:
                self.send(self.answered_resp, src)           # retransmitted INVITE
            else:
                self.reply(msg, src, 486, 'Busy Here', to_tag=rand_token(8))
            return
        if method == 'ACK':
            return
        if method == 'BYE':
            self.reply(msg, src, 200, 'OK')
            for n, d in ((1, self.d1), (2, self.d2)):
                if d and cid == d.call_id and not d.byed:
                    d.byed = True
                    self.rtp[n - 1].dest = None
                    say('BYE', n)
            return
        if method == 'NOTIFY':
            self.reply(msg, src, 200, 'OK')
            body = msg.split(b'\r\n\r\n', 1)[1] if b'\r\n\r\n' in msg else b''
            first = body.split(b'\r\n', 1)[0].decode('utf-8', 'replace').strip()
            if self.d1 and cid == self.d1.call_id and self.notify is None:
                self.notify = first
                say('NOTIFY', first)
            return
        if method in ('OPTIONS', 'INFO', 'UPDATE'):
            self.reply(msg, src, 200, 'OK')
            return
        if method:
            self.reply(msg, src, 501, 'Not Implemented')

    # ------------------------------------------------------------ requests

    def request(self, method, ruri, frm, to, cid, cseq, extra='', body='', ctype='application/sdp'):
        lines = ['%s %s SIP/2.0' % (method, ruri),
                 'Via: SIP/2.0/UDP %s;branch=z9hG4bK%s;rport' % (self.local, rand_token(12)),
                 'Max-Forwards: 70', 'From: ' + frm, 'To: ' + to, 'Call-ID: ' + cid,
                 'CSeq: %d %s' % (cseq, method)]
        if method not in ('ACK', 'CANCEL'):
            lines.append('Contact: ' + self.contact)
        if extra:
            lines.append(extra.rstrip('\r\n'))
        if body:
            lines.append('Content-Type: ' + ctype)
        lines.append('Content-Length: %d' % len(body.encode()))
        return '\r\n'.join(lines) + '\r\n\r\n' + body

    def in_dialog(self, d, method, extra='', cseq=None):
        if cseq is None:
            d.cseq += 1
            cseq = d.cseq
        return self.request(method, d.remote_target, d.local_uri, d.remote_uri, d.call_id, cseq, extra)

    def transact(self, build, method, what, timeout=5.0):
        """Send build(cseq, auth_header) and return the final response; one
        digest challenge is answered. ACKs a non-2xx final response to INVITE."""
        cseq = random.randrange(1, 100)
        auth = ''
        for attempt in range(2):
            text = build(cseq, auth)
            self.send(text)
            until = time.time() + timeout
            sent_at = time.time()
            while True:
                resp = self.pump(min(until, sent_at + 0.5))
                if resp is None:
                    if time.time() >= until or time.time() >= self.deadline:
                        say('FAIL', what, 'no final response')
                        return None
                    self.send(text)                            # UDP retransmission
                    sent_at = time.time()
                    continue
                if call_id(resp) != call_id(text.encode()):
                    continue
                code = status_code(resp) or 0
                if code < 200:
                    until = time.time() + max(timeout, 30)     # ringing: wait for the answer
                    sent_at = float('inf')
                    continue
                break
            if code >= 300 and method == 'INVITE':
                to = header_values(resp, b'to', b't')
                ack = self.request('ACK', request_line(text.encode())[1],
                                   header_values(text.encode(), b'from')[0], to[0] if to else '',
                                   call_id(resp), cseq)
                via = header_values(text.encode(), b'via')[0]
                ack = re.sub(r'(?m)^Via: .*$', 'Via: ' + via, ack, count=1)
                self.send(ack)
            if code in (401, 407) and attempt == 0:
                name = b'proxy-authenticate' if code == 407 else b'www-authenticate'
                chals = [parse_challenge(v) for v in header_values(resp, name)
                         if v.lower().startswith('digest')]
                chals = [c for c in chals if c.get('algorithm', 'MD5').upper() == 'MD5'] or chals
                if not chals:
                    return resp
                _, uri = request_line(text.encode())
                hdr = digest_header(chals[0], method, uri, self.a.user, self.a.password, code == 407)
                if hdr is None:
                    return resp
                auth = hdr.decode()
                cseq += 1
                continue
            return resp
        return resp

    def register(self, expires):
        cid = rand_token(16) + '@sip_refer'
        tag = rand_token(8)

        def build(cseq, auth):
            return self.request('REGISTER', 'sip:' + self.pbx_host, '<%s>;tag=%s' % (self.aor, tag),
                                '<%s>' % self.aor, cid, cseq, 'Expires: %d%s' % (
                                    expires, '\r\n' + auth if auth else ''))
        resp = self.transact(build, 'REGISTER', 'register')
        return resp is not None and status_code(resp) == 200

    def answer(self, msg, src):
        d = Dialog()
        d.call_id = call_id(msg)
        frm = header_values(msg, b'from', b'f')[0]
        to = header_values(msg, b'to', b't')[0]
        d.remote_tag = tag_of(frm)
        d.remote_uri = frm
        d.local_uri = to + ';tag=' + d.local_tag
        ct = header_values(msg, b'contact', b'm')
        d.remote_target = uri_of(ct[0]) if ct else 'sip:' + self.pbx_host
        self.d1 = d
        self.reply(msg, src, 100, 'Trying')
        self.reply(msg, src, 180, 'Ringing', 'Contact: ' + self.contact, to_tag=d.local_tag)
        body = msg.split(b'\r\n\r\n', 1)[1] if b'\r\n\r\n' in msg else b''
        self.rtp[0].set_peer(body)
        self.answered_resp = self.reply(msg, src, 200, 'OK', 'Contact: ' + self.contact,
                                        sdp(self.rtp[0].port, 1), to_tag=d.local_tag)
        say('ANSWERED', d.call_id)

    def call(self, target):
        d = Dialog()
        d.call_id = rand_token(16) + '@sip_refer'
        d.local_uri = '<%s>;tag=%s' % (self.aor, d.local_tag)
        ruri = 'sip:%s@%s:%d' % (target, self.pbx[0], self.pbx[1])
        d.remote_uri = '<%s>' % ruri
        body = sdp(self.rtp[1].port, 3)

        def build(cseq, auth):
            d.cseq = cseq
            return self.request('INVITE', ruri, d.local_uri, d.remote_uri, d.call_id, cseq, auth, body)
        resp = self.transact(build, 'INVITE', 'call ' + target, timeout=10)
        if resp is None or status_code(resp) != 200:
            say('FAIL', 'call', target, 'answered', status_code(resp) if resp else 'nothing')
            return False
        to = header_values(resp, b'to', b't')[0]
        d.remote_tag = tag_of(to)
        d.remote_uri = to
        ct = header_values(resp, b'contact', b'm')
        d.remote_target = uri_of(ct[0]) if ct else ruri
        self.d2 = d
        self.send(self.in_dialog(d, 'ACK', cseq=d.cseq))
        self.rtp[1].set_peer(resp.split(b'\r\n\r\n', 1)[1])
        say('CONNECTED', d.call_id)
        return True

    def refer(self, target):
        d1, d2 = self.d1, self.d2
        rep = '%s;to-tag=%s;from-tag=%s' % (d2.call_id, d2.remote_tag, d2.local_tag)
        refer_to = '<sip:%s@%s:%d?Replaces=%s>' % (target, self.pbx[0], self.pbx[1], escape(rep))
        extra = 'Refer-To: %s\r\nReferred-By: <%s>' % (refer_to, self.aor)

        def build(cseq, auth):
            d1.cseq = cseq + 1000
            return self.in_dialog(d1, 'REFER', extra + ('\r\n' + auth if auth else ''), cseq=d1.cseq)
        resp = self.transact(build, 'REFER', 'refer')
        code = status_code(resp) if resp else 0
        say('REFER', code)
        return code == 202

    def wait_answer(self):
        while self.d1 is None:
            if time.time() >= self.deadline:
                say('FAIL', 'no INVITE came')
                return False
            self.pump(time.time() + 0.1)
        return True

    def bye(self, d):
        resp = self.transact(lambda cseq, auth: self.in_dialog(d, 'BYE'), 'BYE', 'bye', timeout=3)
        d.byed = True
        return resp

    def wait_end(self):
        while not (self.d1.byed and self.d2.byed and self.notify is not None):
            if self.notify is not None and not self.notify.startswith('SIP/2.0 2'):
                say('FAIL', 'the transfer failed:', self.notify)
                return False
            if time.time() >= self.deadline:
                say('FAIL', 'waiting for NOTIFY and BYEs: notify=%s bye1=%s bye2=%s'
                    % (self.notify, self.d1.byed, self.d2.byed))
                return False
            self.pump(time.time() + 0.1)
        return True


def main():
    ap = argparse.ArgumentParser(description='attended transfer by REFER with Replaces')
    ap.add_argument('--user', required=True)
    ap.add_argument('--password', required=True)
    ap.add_argument('--pbx', default='127.0.0.1:5060')
    ap.add_argument('--port', type=int, required=True, help='our SIP port; RTP uses PORT+2 and PORT+4')
    ap.add_argument('--target', required=True)
    ap.add_argument('--settle', type=float, default=1.5, help='seconds both calls last before the REFER')
    ap.add_argument('--timeout', type=float, default=30.0)
    a = ap.parse_args()
    ag = Agent(a)
    ok = False
    if not ag.register(300):
        say('FAIL', 'register')
        return 1
    say('REGISTERED')
    try:
        if ag.wait_answer() and ag.call(a.target):
            end = time.time() + a.settle
            while time.time() < end:
                ag.pump(end)
            ok = ag.refer(a.target) and ag.wait_end()
    finally:
        ag.deadline = time.time() + 5
        for n, d in ((1, ag.d1), (2, ag.d2)):
            if d is not None and not d.byed:
                ag.bye(d)           # what the PBX left up: hang it up ourselves
                say('HUNG UP', n)
        if ag.register(0):
            say('UNREGISTERED')
    if ok:
        say('DONE')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
