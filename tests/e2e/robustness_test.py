"""Bad input never takes ringcast down or disturbs other connections.

One server (--threads 2 --handshake-timeout 2s --max-message-size 1MiB) serves 20 healthy
WebSocket clients (a separate process, Debian's python3-websockets) doing round trips the
whole time, while this process throws bad clients at it concurrently: garbage bytes,
malformed and truncated handshakes, oversized headers, slow-loris and silent connections,
a connect/handshake/close storm, invalid frames, and clients that vanish mid-conversation.

Checks: the process stays up; every healthy round trip is correct and the p99 latency stays
under a bound; each bad client gets the answer the protocol requires; stuck handshakes are
cut at the handshake timeout; afterwards the descriptor count returns exactly to the
baseline and VmRSS to within a small margin of it.

Usage: /usr/bin/python3 robustness_test.py PATH/TO/ringcast [SEED]
"""

import asyncio
import base64
import concurrent.futures
import hashlib
import multiprocessing
import os
import random
import selectors
import socket
import struct
import sys
import threading
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ringcast_server import ServerProcess, wait_until  # noqa: E402

KiB = 1024
MiB = 1024 * KiB
HANDSHAKE_TIMEOUT = 2.0  # --handshake-timeout
MAX_MESSAGE = 1 * MiB  # --max-message-size
HEALTHY_CONNECTIONS = 20
HEALTHY_INTERVAL = 0.05  # pause between one connection's round trips
P99_BOUND = 0.100
RSS_MARGIN_KIB = 4 * 1024
# Under AddressSanitizer freed memory sits in a 256 MiB quarantine, so RSS says little about
# leaks there; LeakSanitizer does (the server must still exit 0 on SIGTERM).
RSS_MARGIN_ASAN_KIB = 320 * 1024
STORM_CYCLES = 3000
STORM_SECONDS = 15.0
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# ---------------------------------------------------------------- bookkeeping

SEED = 0  # set from the command line; each attack draws from its own generator


def rng(*label):
    """A generator for one attack: the same seed gives the same sizes and cut points."""
    return random.Random(f"{SEED}/{'/'.join(map(str, label))}")


class Checks:
    """Collects failures from every thread; keeps a few examples per check."""

    def __init__(self):
        self.lock = threading.Lock()
        self.failures = {}  # name -> [count, examples]
        self.passes = {}  # name -> count

    def check(self, name, ok, detail=""):
        with self.lock:
            if ok:
                self.passes[name] = self.passes.get(name, 0) + 1
            else:
                entry = self.failures.setdefault(name, [0, []])
                entry[0] += 1
                if len(entry[1]) < 3:
                    entry[1].append(detail)
        return ok

    def report(self):
        names = sorted(set(self.passes) | set(self.failures))
        for name in names:
            ok = self.passes.get(name, 0)
            bad = self.failures.get(name, [0, []])
            status = "FAIL" if bad[0] else "ok  "
            print(f"  {status} {name}: {ok} passed, {bad[0]} failed")
            for example in bad[1]:
                print(f"         e.g. {example}")
        return not self.failures


CHECKS = Checks()


# ---------------------------------------------------------------- raw protocol helpers

def ws_key():
    return base64.b64encode(os.urandom(16)).decode()


def accept_for(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def handshake(port, key, path="/echo", method="GET", version="13", extra=(), omit=()):
    fields = [
        ("Host", f"127.0.0.1:{port}"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", version),
    ]
    lines = [f"{method} {path} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in fields if k not in omit]
    lines += list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def apply_mask(data, key):
    if not data:
        return data
    k = (key * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(len(data), "little")


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None):
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload) if length is None else length
    m = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 65536:
        head = bytes([b0, m | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + apply_mask(payload, key)


def close_frame(code, reason=b""):
    return frame(0x8, struct.pack("!H", code) + reason)


def connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def rst_close(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def status_of(data):
    """The status code of an HTTP response at the start of `data`, or None."""
    if not data.startswith(b"HTTP/1.1 "):
        return None
    try:
        return int(data[9:12])
    except ValueError:
        return None


def read_all(sock, deadline):
    """Reads until EOF/reset or the deadline. Returns (data, closed_at or None)."""
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return data, None
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, None
        except (ConnectionResetError, BrokenPipeError):
            return data, time.monotonic()
        if not chunk:
            return data, time.monotonic()
        data += chunk


class Conn:
    """An upgraded WebSocket connection driven byte by byte."""

    def __init__(self, port, timeout=5.0):
        self.sock = connect(port, timeout)
        self.buf = b""
        key = ws_key()
        self.sock.sendall(handshake(port, key))
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if status_of(head + b"\r\n") != 101:
            raise AssertionError(f"handshake answered {lines[0]!r}")
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        if headers.get("sec-websocket-accept") != accept_for(key):
            raise AssertionError(f"bad Sec-WebSocket-Accept {headers.get('sec-websocket-accept')!r}")

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data from the server in time")
        self.sock.settimeout(remaining)
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("server closed the connection")
        self.buf += chunk

    def _take(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        b0, b1 = self._take(2, deadline)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._take(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._take(8, deadline))[0]
        masked = bool(b1 & 0x80)
        key = self._take(4, deadline) if masked else b""
        payload = self._take(n, deadline)
        if masked:
            payload = apply_mask(payload, key)
        return bool(b0 & 0x80), b0 & 0x0F, payload, masked

    def read_close(self, timeout=5.0):
        """Skips data frames until the server's close frame; returns (code, reason, masked)."""
        deadline = time.monotonic() + timeout
        while True:
            _, opcode, payload, masked = self.read_frame(max(0.0, deadline - time.monotonic()))
            if opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                return code, payload[2:], masked

    def wait_eof(self, timeout):
        """Seconds until the server closed TCP, or None if it did not within `timeout`."""
        start = time.monotonic()
        deadline = start + timeout
        while True:
            try:
                self._fill(deadline)
            except (EOFError, ConnectionResetError):
                return time.monotonic() - start
            except (TimeoutError, socket.timeout):
                return None
            self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()


def wait_closed(socks, deadline):
    """Waits for the server to close each socket. Returns {sock: (closed_at or None, data)}."""
    sel = selectors.DefaultSelector()
    result = {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        result[s] = [None, b""]
    open_count = len(socks)
    while open_count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        for key, _ in sel.select(min(remaining, 0.1)):
            s = key.fileobj
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if chunk:
                result[s][1] += chunk
                continue
            result[s][0] = time.monotonic()
            sel.unregister(s)
            open_count -= 1
    sel.close()
    return {s: tuple(v) for s, v in result.items()}


# ---------------------------------------------------------------- healthy clients (child process)

def healthy_child(port, count, stop_evt, ready_q, result_q):
    import websockets

    async def run():
        errors, latencies, pings = [], [], 0
        conns = []
        for _ in range(count):
            conns.append(await websockets.connect(
                f"ws://127.0.0.1:{port}/echo", max_size=None, ping_interval=None,
                open_timeout=10, close_timeout=5, compression=None))
        ready_q.put(len(conns))

        async def loop(i, ws):
            nonlocal pings
            rnd = random.Random(i)
            it = 0
            try:
                while not stop_evt.is_set():
                    size = rnd.choice((0, 1, 16, 125, 126, 1000, 4096, 16384))
                    payload = os.urandom(size) if it % 2 else ("ringcast-ü-" * (size // 11 + 1))[:size]
                    t0 = time.perf_counter()
                    await ws.send(payload)
                    reply = await asyncio.wait_for(ws.recv(), 5)
                    dt = time.perf_counter() - t0
                    if reply != payload:
                        errors.append(f"connection {i}: wrong echo for {size}-unit message")
                        return
                    latencies.append((time.monotonic(), dt))
                    if it % 10 == 9:
                        waiter = await ws.ping(b"healthy-%d" % it)
                        await asyncio.wait_for(waiter, 5)
                        pings += 1
                    it += 1
                    await asyncio.sleep(HEALTHY_INTERVAL)
                await asyncio.wait_for(ws.close(1000, "done"), 10)
                if ws.close_code != 1000:
                    errors.append(f"connection {i}: close answered with {ws.close_code}")
            except Exception as e:  # any drop or timeout is a failure of this healthy client
                errors.append(f"connection {i}: {type(e).__name__}: {e}")

        await asyncio.gather(*(loop(i, ws) for i, ws in enumerate(conns)))
        return {"errors": errors, "latencies": latencies, "pings": pings}

    try:
        result = asyncio.run(run())
    except Exception as e:
        result = {"errors": [f"healthy clients failed: {type(e).__name__}: {e}"], "latencies": [], "pings": 0}
        ready_q.put(0)
    result_q.put(result)


# ---------------------------------------------------------------- bad clients

def bad_garbage(port, count, batch=80):
    """Random bytes instead of a handshake: a 4xx answer or silence, then close by the timeout."""
    rnd = rng("garbage", count)
    for first in range(0, count, batch):
        socks, kinds = [], {}
        for i in range(first, min(count, first + batch)):
            s = connect(port)
            junk = os.urandom(rnd.randint(1, 2048))
            kind = i % 3
            if kind == 1:
                junk += b"\r\n\r\n"
            elif kind == 2:
                junk = b"".join(rnd.choice([b"NOT", b"HTTP", b" ", b"\xff", b"::", b"/"])
                                for _ in range(40)) + b"\r\n\r\n"
            try:
                s.sendall(junk)
            except OSError:
                pass
            socks.append(s)
            kinds[s] = kind
        start = time.monotonic()
        for s, (closed_at, data) in wait_closed(socks, start + HANDSHAKE_TIMEOUT + 2.0).items():
            CHECKS.check("garbage: closed within handshake timeout + 2 s", closed_at is not None,
                         f"still open after {HANDSHAKE_TIMEOUT + 2.0:.1f} s")
            status = status_of(data)
            CHECKS.check("garbage: any reply is an HTTP 4xx", not data or (status is not None and 400 <= status < 500),
                         f"reply {data[:40]!r}")
            if kinds[s] != 0:
                CHECKS.check("garbage ending in CRLFCRLF: answered 400", status == 400, f"reply {data[:40]!r}")
            s.close()


def expect_http_error(port, name, request, allowed, reps, chunked=False):
    for _ in range(reps):
        s = connect(port)
        start = time.monotonic()
        try:
            if chunked:
                for i in range(0, len(request), 512):
                    s.sendall(request[i:i + 512])
                    time.sleep(0.01)
            else:
                s.sendall(request)
        except OSError:
            pass  # the server may answer and close before the whole request went out
        data, closed_at = read_all(s, start + 3.0)
        s.close()
        status = status_of(data)
        CHECKS.check(f"handshake error, {name}: answered {sorted(allowed)}", status in allowed,
                     f"reply {data[:60]!r}")
        CHECKS.check(f"handshake error, {name}: closed promptly", closed_at is not None and closed_at - start < 2.0,
                     "not closed" if closed_at is None else f"closed after {closed_at - start:.2f} s")
        if status == 426 and b"\r\nSec-WebSocket-Version:" in request:
            # RFC 6455 4.4: a version the server does not speak is answered with the ones it does.
            CHECKS.check("426 for a version mismatch names Sec-WebSocket-Version: 13",
                         b"\r\nsec-websocket-version: 13\r\n" in data.lower(), f"reply {data[:200]!r}")


def bad_handshakes(port, reps):
    key = ws_key()
    cases = [
        ("junk request line", b"HELLO\r\n\r\n", {400}),
        ("no upgrade headers", f"GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode(), {400, 426}),
        ("POST", handshake(port, key, method="POST"), {405}),
        ("unknown path", handshake(port, key, path="/no-such-path"), {404}),
        ("version 8", handshake(port, key, version="8"), {400, 426}),
        ("missing key", handshake(port, key, omit=("Sec-WebSocket-Key",)), {400}),
        ("key of 10 bytes", handshake(port, base64.b64encode(os.urandom(10)).decode()), {400}),
        ("field line without colon", handshake(port, key, extra=("NoColonHere",)), {400}),
        ("space before colon", handshake(port, key, extra=("X-Space : 1",)), {400}),
        ("bare LF line ends", handshake(port, key).replace(b"\r\n", b"\n"), {400}),
        ("NUL in a field value", handshake(port, key, extra=("X-Nul: a\x00b",)), {400}),
    ]
    for name, request, allowed in cases:
        expect_http_error(port, name, request, allowed, reps)


def oversized_headers(port, reps):
    key = ws_key()
    big_field = handshake(port, key, extra=("X-Big: " + "a" * 9000,))
    many_fields = handshake(port, key, extra=tuple(f"X-F{i}: {'v' * 24}" for i in range(300)))
    unterminated = handshake(port, key, extra=("X-Big: " + "b" * 9000,))[:-4]
    expect_http_error(port, "one 9 KB field", big_field, {431}, reps)
    expect_http_error(port, "300 fields (9 KB)", many_fields, {431}, reps)
    # 9 KB of header bytes that never end: answered as soon as the limit is crossed.
    expect_http_error(port, "9 KB header block streamed, never terminated", unterminated, {431}, reps, chunked=True)


def stuck_handshakes(port, truncated, idle, slow):
    """Truncated, silent and slow-loris handshakes: all cut at the handshake timeout."""
    key = ws_key()
    full = handshake(port, key)
    rnd = rng("stuck", truncated)
    opened = []  # (sock, start, kind)
    for i in range(truncated):
        s = connect(port)
        start = time.monotonic()
        s.sendall(full[: rnd.randint(1, len(full) - 3)])
        if i % 2:
            s.shutdown(socket.SHUT_WR)
            opened.append((s, start, "truncated+FIN"))
        else:
            opened.append((s, start, "truncated"))
    for _ in range(idle):
        opened.append((connect(port), time.monotonic(), "silent"))
    loris = []
    for _ in range(slow):
        s = connect(port)
        loris.append([s, time.monotonic(), 0, None])

    results = {}

    def drip():
        # One byte every 500 ms on each slow-loris connection until the server closes it.
        sel = selectors.DefaultSelector()
        for entry in loris:
            entry[0].setblocking(False)
            sel.register(entry[0], selectors.EVENT_READ, entry)
        deadline = time.monotonic() + HANDSHAKE_TIMEOUT + 4.0
        next_drip = time.monotonic()
        while any(e[3] is None for e in loris) and time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_drip:
                for e in loris:
                    if e[3] is None:
                        try:
                            e[0].send(full[e[2]:e[2] + 1])
                            e[2] += 1
                        except OSError:
                            e[3] = time.monotonic()
                            sel.unregister(e[0])
                next_drip = now + 0.5
            for key_, _ in sel.select(max(0.0, min(next_drip - time.monotonic(), 0.1))):
                e = key_.data
                try:
                    chunk = e[0].recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk and e[3] is None:
                    e[3] = time.monotonic()
                    sel.unregister(e[0])
        sel.close()

    dripper = threading.Thread(target=drip)
    dripper.start()
    socks = [s for s, _, _ in opened]
    closed = wait_closed(socks, time.monotonic() + HANDSHAKE_TIMEOUT + 4.0)
    dripper.join()
    for s, start, kind in opened:
        closed_at, data = closed[s]
        status = status_of(data)
        CHECKS.check(f"{kind} handshake: any reply is an HTTP 4xx", not data or (status and 400 <= status < 500),
                     f"reply {data[:40]!r}")
        took = None if closed_at is None else closed_at - start
        results.setdefault(kind, []).append(took)
        CHECKS.check(f"{kind} handshake: closed within timeout + 2 s",
                     took is not None and took <= HANDSHAKE_TIMEOUT + 2.0,
                     "never closed" if took is None else f"closed after {took:.2f} s")
        if kind != "truncated+FIN":
            CHECKS.check(f"{kind} handshake: not closed before the timeout",
                         took is None or took >= HANDSHAKE_TIMEOUT - 0.3, f"closed after {took:.2f} s")
        s.close()
    for s, start, sent, closed_at in loris:
        took = None if closed_at is None else closed_at - start
        results.setdefault("slow-loris", []).append(took)
        CHECKS.check("slow-loris handshake: cut off within timeout + 2 s",
                     took is not None and took <= HANDSHAKE_TIMEOUT + 2.0,
                     "never closed" if took is None else f"closed after {took:.2f} s ({sent} bytes sent)")
        CHECKS.check("slow-loris handshake: not closed before the timeout",
                     took is None or took >= HANDSHAKE_TIMEOUT - 0.3, f"closed after {took:.2f} s")
        s.close()
    return results


INVALID_FRAME_CASES = [
    ("reserved opcode 0x3", frame(0x3, b"x"), 1002),
    ("reserved control opcode 0xB", frame(0xB), 1002),
    ("RSV1 without an extension", frame(0x1, b"hi", rsv=4), 1002),
    ("RSV2 and RSV3", frame(0x2, b"hi", rsv=3), 1002),
    ("unmasked text frame", frame(0x1, b"hello", mask=False), 1002),
    ("unmasked ping", frame(0x9, b"p", mask=False), 1002),
    ("invalid UTF-8 text", frame(0x1, b"\xff\xfe\xfd"), 1007),
    ("overlong UTF-8", frame(0x1, b"ok \xc0\xaf"), 1007),
    ("UTF-16 surrogate", frame(0x1, b"\xed\xa0\x80"), 1007),
    ("code point above U+10FFFF", frame(0x1, b"\xf4\x90\x80\x80"), 1007),
    ("invalid UTF-8 across fragments", frame(0x1, b"ok\xe2\x82", fin=False) + frame(0x0, b"\x28"), 1007),
    ("UTF-8 sequence cut at message end", frame(0x1, b"ok\xe2\x82"), 1007),
    ("length above the message limit", frame(0x2, length=2 * MiB)[:14], 1009),
    # Malformed (RFC 6455 5.2: the top bit MUST be 0) and over the limit at once: either code.
    ("64-bit length with the top bit set", frame(0x2, length=(1 << 63) | 5)[:14], (1002, 1009)),
    ("fragments above the message limit",
     frame(0x2, os.urandom(600 * KiB), fin=False) + frame(0x0, os.urandom(600 * KiB)), 1009),
    ("ping with 126-byte payload", frame(0x9, b"p" * 126), 1002),
    ("fragmented ping", frame(0x9, b"p", fin=False), 1002),
    ("continuation without a message", frame(0x0, b"x"), 1002),
    ("new message inside a fragmented one", frame(0x1, b"a", fin=False) + frame(0x1, b"b"), 1002),
    ("close with 1-byte payload", frame(0x8, b"\x03"), 1002),
    ("close code 1005", close_frame(1005), 1002),
    ("close code 999", close_frame(999), 1002),
    ("close code 1016", close_frame(1016), 1002),
    ("close code 2999", close_frame(2999), 1002),
    ("close reason invalid UTF-8", close_frame(1000, b"\xff\xfe"), 1007),
]


def one_invalid_frame(port, name, data, expected):
    conn = Conn(port)
    try:
        conn.send(frame(0x1, b"valid first"))
        fin, opcode, payload, _ = conn.read_frame()
        CHECKS.check("invalid frames: the valid message before is echoed", (opcode, payload) == (1, b"valid first"),
                     f"{name}: got opcode {opcode} payload {payload[:20]!r}")
        try:
            conn.send(data)
        except OSError:
            pass  # the server may fail the connection while the frame is still going out
        try:
            code, _, masked = conn.read_close(5.0)
        except (EOFError, TimeoutError, socket.timeout, ConnectionResetError) as e:
            CHECKS.check(f"invalid frame, {name}: close {expected}", False, f"no close frame: {type(e).__name__}")
            return
        allowed = expected if isinstance(expected, tuple) else (expected,)
        CHECKS.check(f"invalid frame, {name}: close {expected}", code in allowed, f"close code {code}")
        CHECKS.check("invalid frames: server close frames are unmasked", not masked, name)
        took = conn.wait_eof(3.0)
        CHECKS.check("invalid frames: TCP closed within 2 s of the close frame",
                     took is not None and took < 2.0,
                     f"{name}: " + ("still open after 3 s" if took is None else f"{took:.2f} s"))
    finally:
        conn.close()


def invalid_frames(port, reps):
    jobs = [(name, data, code) for name, data, code in INVALID_FRAME_CASES for _ in range(reps)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(one_invalid_frame, port, *job) for job in jobs]
        for f in futures:
            exc = f.exception()
            CHECKS.check("invalid frames: upgrade and run", exc is None, f"{type(exc).__name__}: {exc}")


def vanishing_clients(port, count):
    """Clients that disappear without a close handshake, most with an RST."""
    for i in range(count):
        kind = i % 7
        try:
            conn = Conn(port)
            if kind == 0:  # message, then RST before reading the echo
                conn.send(frame(0x1, b"gone" * 100))
                rst_close(conn.sock)
            elif kind == 1:  # full round trip, then RST
                conn.send(frame(0x2, os.urandom(5000)))
                conn.read_frame()
                rst_close(conn.sock)
            elif kind == 2:  # half a frame, then RST
                conn.send(frame(0x2, os.urandom(500 * KiB))[: 100 * KiB])
                rst_close(conn.sock)
            elif kind == 3:  # message, then FIN without a close frame
                conn.send(frame(0x1, b"bye without close"))
                conn.sock.shutdown(socket.SHUT_WR)
                conn.close()
            elif kind == 4:  # ping, then RST
                conn.send(frame(0x9, b"ping"))
                rst_close(conn.sock)
            elif kind == 5:  # close frame, then RST before the reply
                conn.send(close_frame(1000))
                rst_close(conn.sock)
            else:  # never reads: echoes back up into its receive buffer, then RST
                conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                conn.sock.settimeout(2.0)
                chunk = frame(0x2, os.urandom(256 * KiB))
                try:
                    for _ in range(16):
                        conn.sock.sendall(chunk)
                except (socket.timeout, OSError):
                    pass  # the server stopped reading: back-pressure
                rst_close(conn.sock)
            CHECKS.check("vanishing clients: upgraded and vanished", True)
        except Exception as e:
            CHECKS.check("vanishing clients: upgraded and vanished", False, f"kind {kind}: {type(e).__name__}: {e}")


def storm(port, cycles, seconds, threads=4):
    """connect-handshake-close cycles, bounded by count and time."""
    deadline = time.monotonic() + seconds
    counter = iter(range(cycles))
    lock = threading.Lock()
    done = [0]

    def worker():
        while time.monotonic() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            try:
                kind = i % 4
                s = connect(port)
                key = ws_key()
                s.sendall(handshake(port, key))
                if kind == 3:  # gone before reading the 101
                    s.close()
                    with lock:
                        done[0] += 1
                    continue
                conn = Conn.__new__(Conn)
                conn.sock, conn.buf = s, b""
                end = time.monotonic() + 5.0
                while b"\r\n\r\n" not in conn.buf:
                    conn._fill(end)
                head, conn.buf = conn.buf.split(b"\r\n\r\n", 1)
                ok = status_of(head + b"\r\n") == 101 and accept_for(key).encode() in head
                CHECKS.check("storm: handshake answered 101 with the right accept", ok, repr(head[:60]))
                if kind == 0:  # clean close handshake
                    conn.send(close_frame(1000))
                    code, _, _ = conn.read_close()
                    CHECKS.check("storm: close 1000 echoed", code == 1000, f"code {code}")
                    CHECKS.check("storm: TCP closed after the close handshake", conn.wait_eof(3.0) is not None)
                elif kind == 2:  # one round trip, then close handshake
                    conn.send(frame(0x1, b"storm %d" % i))
                    _, opcode, payload, _ = conn.read_frame()
                    CHECKS.check("storm: echo", (opcode, payload) == (1, b"storm %d" % i), repr(payload[:30]))
                    conn.send(close_frame(1000))
                    code, _, _ = conn.read_close()
                    CHECKS.check("storm: close 1000 echoed", code == 1000, f"code {code}")
                conn.close()  # kind 1: plain FIN right after the 101
                with lock:
                    done[0] += 1
            except Exception as e:
                CHECKS.check("storm: cycle completed", False, f"cycle {i}: {type(e).__name__}: {e}")

    started = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return done[0], time.monotonic() - started


# ---------------------------------------------------------------- measurement

def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(round(p / 100.0 * (len(sorted_values) - 1))))]


def stable_fd_count(server, timeout=10.0):
    """The server's descriptor count once it held still for 0.5 s."""
    last, since = server.fd_count(), time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = server.fd_count()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= 0.5:
            break
    return last


class Monitor(threading.Thread):
    """Samples liveness, descriptors and RSS every 100 ms."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.stop_evt = threading.Event()
        self.died_at = None
        self.max_fds = 0
        self.max_rss = 0

    def run(self):
        while not self.stop_evt.wait(0.1):
            if not self.server.alive():
                self.died_at = time.monotonic()
                return
            try:
                self.max_fds = max(self.max_fds, self.server.fd_count())
                self.max_rss = max(self.max_rss, self.server.vm_rss_kib())
            except (OSError, RuntimeError):
                pass


def warm_up(port):
    """Brings the server to the working set of the attack phase before the baseline: many
    connections with messages of many sizes at once, then one full round of the attack."""
    conns = [Conn(port) for _ in range(150)]
    rnd = rng("warm-up")
    messages = [os.urandom(rnd.randint(1, 64 * KiB)) for _ in conns]
    for conn, m in zip(conns, messages):
        conn.send(frame(0x2, m))
    for conn, m in zip(conns, messages):
        _, _, payload, _ = conn.read_frame()
        CHECKS.check("warm-up: echo", payload == m)
    for conn in conns:
        conn.send(close_frame(1000))
    for conn in conns:
        code, _, _ = conn.read_close()
        CHECKS.check("warm-up: close 1000 echoed", code == 1000, f"code {code}")
        conn.close()
    run_attacks(port)


def run_attacks(port):
    """Every kind of bad client at once. Returns the results of the attacks that return any."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        jobs = {
            "stuck handshakes": pool.submit(stuck_handshakes, port, 30, 20, 8),
            "garbage": pool.submit(bad_garbage, port, 240),
            "bad handshakes": pool.submit(bad_handshakes, port, 4),
            "oversized headers": pool.submit(oversized_headers, port, 4),
            "invalid frames": pool.submit(invalid_frames, port, 3),
            "vanishing clients": pool.submit(vanishing_clients, port, 70),
            "storm": pool.submit(storm, port, STORM_CYCLES, STORM_SECONDS),
        }
        results = {}
        for name, fut in jobs.items():
            try:
                results[name] = fut.result(timeout=60)
                CHECKS.check(f"attack ran to completion: {name}", True)
            except Exception as e:
                CHECKS.check(f"attack ran to completion: {name}", False,
                             f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
    return results


def main(binary):
    server = ServerProcess(binary, "--threads", "2", "--handshake-timeout", "2s", "--max-message-size", "1MiB")
    ctx = multiprocessing.get_context("spawn")
    stop_evt, ready_q, result_q = ctx.Event(), ctx.Queue(), ctx.Queue()
    healthy = None
    monitor = None
    test_start = time.monotonic()
    try:
        server.start()
        port = server.port
        sanitized = server.sanitized()
        monitor = Monitor(server)
        monitor.start()

        healthy = ctx.Process(target=healthy_child, args=(port, HEALTHY_CONNECTIONS, stop_evt, ready_q, result_q))
        healthy.start()
        connected = ready_q.get(timeout=60)
        CHECKS.check("healthy clients connected", connected == HEALTHY_CONNECTIONS, f"{connected} connected")

        warm_up(port)
        time.sleep(0.5)
        base_fds = stable_fd_count(server)
        base_rss = server.vm_rss_kib()
        print(f"baseline: {base_fds} descriptors, VmRSS {base_rss} KiB "
              f"(with {HEALTHY_CONNECTIONS} healthy connections){' [AddressSanitizer build]' if sanitized else ''}")

        attack_start = time.monotonic()
        results = run_attacks(port)
        attack_end = time.monotonic()
        print(f"attack phase: {attack_end - attack_start:.1f} s")
        if "storm" in results:
            cycles, took = results["storm"]
            print(f"storm: {cycles} connect-handshake-close cycles in {took:.1f} s ({cycles / took:.0f}/s)")
            CHECKS.check("storm: at least 500 cycles completed", cycles >= 500, f"{cycles} cycles")
        for kind, times in sorted(results.get("stuck handshakes", {}).items()):
            done = sorted(t for t in times if t is not None)
            if done:
                print(f"{kind}: {len(times)} connections, closed after {done[0]:.2f}..{done[-1]:.2f} s")

        # Settle: every bad client is gone; descriptors back to the baseline, RSS close to it.
        margin = RSS_MARGIN_ASAN_KIB if sanitized else RSS_MARGIN_KIB
        settled = wait_until(
            lambda: server.alive() and server.fd_count() == base_fds and server.vm_rss_kib() <= base_rss + margin,
            10.0, 0.1)
        end_fds = server.fd_count() if server.alive() else -1
        end_rss = server.vm_rss_kib() if server.alive() else -1
        print(f"after settling: {end_fds} descriptors (baseline {base_fds}, peak {monitor.max_fds}); "
              f"VmRSS {end_rss} KiB (baseline {base_rss}, {end_rss - base_rss:+d} KiB, "
              f"peak {monitor.max_rss}, allowed +{margin} KiB)")
        CHECKS.check("descriptors return exactly to the baseline", end_fds == base_fds,
                     f"{end_fds} vs {base_fds}")
        CHECKS.check("VmRSS within the margin of the baseline", 0 < end_rss <= base_rss + margin,
                     f"{end_rss} KiB vs {base_rss} KiB + {margin} KiB")
        CHECKS.check("settled within 10 s", settled)

        stop_evt.set()
        healthy_result = result_q.get(timeout=30)
        healthy.join(10)
        errors = healthy_result["errors"]
        CHECKS.check("healthy connections: every round trip echoed, close 1000 echoed", not errors,
                     f"{len(errors)} failed: " + "; ".join(errors[:3]))
        lat = healthy_result["latencies"]
        during = sorted(dt for t, dt in lat if attack_start <= t <= attack_end)
        overall = sorted(dt for _, dt in lat)
        for label, values in (("overall", overall), ("during attack", during)):
            print(f"healthy round trips {label}: n={len(values)} "
                  f"p50={percentile(values, 50) * 1e3:.2f} ms p90={percentile(values, 90) * 1e3:.2f} ms "
                  f"p99={percentile(values, 99) * 1e3:.2f} ms max={(values[-1] if values else float('nan')) * 1e3:.2f} ms")
        print(f"healthy pings answered: {healthy_result['pings']}")
        CHECKS.check("healthy connections kept working during the attack", len(during) >= 20 * HEALTHY_CONNECTIONS,
                     f"only {len(during)} round trips during the attack")
        CHECKS.check(f"healthy p99 round trip under {P99_BOUND * 1e3:.0f} ms",
                     bool(overall) and percentile(overall, 99) < P99_BOUND,
                     f"p99 {percentile(overall, 99) * 1e3:.1f} ms")

        monitor.stop_evt.set()
        monitor.join()
        CHECKS.check("server alive throughout", monitor.died_at is None and server.alive(),
                     f"exit code {server.proc.poll()}")
        code = server.terminate()
        CHECKS.check("server exits 0 on SIGTERM", code == 0, f"exit code {code}")
    except Exception as e:
        CHECKS.check("test ran to completion", False, f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
    finally:
        stop_evt.set()
        if monitor is not None:
            monitor.stop_evt.set()
        if healthy is not None:
            healthy.join(10)
            if healthy.is_alive():
                healthy.kill()
                healthy.join()
        server.stop()

    print(f"total time: {time.monotonic() - test_start:.1f} s")
    print("checks:")
    ok = CHECKS.report()
    print("PASSED" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: robustness_test.py PATH/TO/ringcast [SEED]")
    seed = int(sys.argv[2]) if len(sys.argv) == 3 else random.randrange(1 << 32)
    print(f"seed {seed} (sizes, cut points and kinds of bad input; rerun with it as 2nd argument)")
    SEED = seed
    sys.exit(main(os.path.abspath(sys.argv[1])))
