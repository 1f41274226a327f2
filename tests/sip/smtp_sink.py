#!/usr/bin/env python3
"""smtp_sink.py: a minimal SMTP server on loopback for tests: accepts every
message and writes each one (the DATA, dot-unstuffed) to DIR/mail-N.eml.

    smtp_sink.py PORT DIR [MAX_SECONDS]

Exits after MAX_SECONDS (default 300) or on SIGTERM. One connection at a
time; every line and message is bounded."""
import os
import socket
import sys
import time

port, out = int(sys.argv[1]), sys.argv[2]
deadline = time.time() + (float(sys.argv[3]) if len(sys.argv) > 3 else 300)
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(4)
srv.settimeout(1)
n = 0
while time.time() < deadline:
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        continue
    conn.settimeout(30)
    f = conn.makefile("rb")
    def say(s):
        conn.sendall(s.encode() + b"\r\n")
    try:
        say("220 sink ESMTP")
        while True:
            line = f.readline(4096)
            if not line:
                break
            cmd = line.strip().upper()
            if cmd.startswith(b"EHLO") or cmd.startswith(b"HELO"):
                conn.sendall(b"250-sink\r\n250 8BITMIME\r\n")
            elif cmd.startswith(b"MAIL") or cmd.startswith(b"RCPT") or cmd.startswith(b"RSET"):
                say("250 ok")
            elif cmd == b"DATA":
                say("354 go on")
                data = []
                size = 0
                while True:
                    l = f.readline(4096)
                    if not l or l in (b".\r\n", b".\n"):
                        break
                    if l.startswith(b".."):
                        l = l[1:]
                    size += len(l)
                    if size > 32 << 20:
                        break
                    data.append(l)
                n += 1
                with open(os.path.join(out, "mail-%d.eml" % n), "wb") as m:
                    m.write(b"".join(data))
                say("250 2.0.0 queued as sink%d" % n)
            elif cmd == b"QUIT":
                say("221 bye")
                break
            else:
                say("250 ok")
    except (OSError, socket.timeout):
        pass
    conn.close()
