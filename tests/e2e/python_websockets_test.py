"""ringcast /echo against Debian's python3-websockets client (10.4).

Usage: /usr/bin/python3 python_websockets_test.py PATH/TO/ringcast [--tls] [--deflate MODE]
       [unittest args]

With --tls the servers get a self-signed ECDSA P-256 certificate made here with openssl and
every test runs over wss://. --deflate says how permessage-deflate (RFC 7692) goes on every
connection, checked after each opening handshake:
  negotiated   (default) the client offers it, as websockets does by default; the server accepts
  not-offered  the client makes no offer (compression=None)
  server-off   the client offers, the servers run with --compression off and decline
"""

import asyncio
import os
import random
import string
import sys
import tempfile
import time
import unittest

import websockets
from websockets.exceptions import ConnectionClosed

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ringcast_server import ServerProcess, make_certificate  # noqa: E402

KiB = 1024
MiB = 1024 * KiB
SIZES = [0, 1, 125, 126, 65535, 65536, 1 * MiB, 16 * MiB]
SMALL_LIMIT = 64 * KiB

BINARY = None
TLS = False  # --tls: every server speaks TLS
DEFLATE = "negotiated"  # --deflate MODE
# The server's answer to an accepted offer (docs/PROTOCOL.md).
ACCEPTED = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
CERT_DIR = None
SERVER = None  # --max-message-size 16MiB
SMALL = None  # --max-message-size 64KiB


def setUpModule():
    global SERVER, SMALL, CERT_DIR
    tls = None
    if TLS:
        CERT_DIR = tempfile.TemporaryDirectory(prefix="ringcast-e2e-")
        tls = make_certificate(CERT_DIR.name)
    off = ["--compression", "off"] if DEFLATE == "server-off" else []
    SERVER = ServerProcess(BINARY, "--threads", "2", "--max-message-size", "16MiB",
                           "--max-outbuf", "16MiB", *off, tls=tls).start()
    try:
        SMALL = ServerProcess(BINARY, "--threads", "2", "--max-message-size", "64KiB", *off,
                              tls=tls).start()
    except BaseException:
        SERVER.stop()
        raise


def tearDownModule():
    codes = {}
    try:
        for name, server in (("16MiB server", SERVER), ("64KiB server", SMALL)):
            alive = server.alive()
            codes[name] = (alive, server.terminate())
    finally:
        SERVER.stop()
        SMALL.stop()
    for name, (alive, code) in codes.items():
        if not alive:
            raise AssertionError(f"{name} died during the tests (exit code {code})")
        if code != 0:
            raise AssertionError(f"{name} exited with {code} after SIGTERM, expected 0")


class CheckedClient(websockets.WebSocketClientProtocol):
    """Checks after the opening handshake that permessage-deflate went as DEFLATE says."""

    async def handshake(self, *args, **kwargs):
        await super().handshake(*args, **kwargs)
        answer = self.response_headers.get("Sec-WebSocket-Extensions")
        if DEFLATE == "negotiated":
            if answer != ACCEPTED:
                raise AssertionError(f"Sec-WebSocket-Extensions of the 101: {answer!r}")
            [ext] = self.extensions
            # Neither side keeps context: the server said so for both directions.
            if (ext.name != "permessage-deflate" or not ext.remote_no_context_takeover
                    or not ext.local_no_context_takeover):
                raise AssertionError(f"negotiated {ext!r}")
        elif answer is not None or self.extensions:
            raise AssertionError(f"an extension was negotiated: {answer!r} {self.extensions!r}")


def connect(server, **kwargs):
    kwargs.setdefault("create_protocol", CheckedClient)
    if DEFLATE == "not-offered":
        kwargs.setdefault("compression", None)
    kwargs.setdefault("max_size", None)
    kwargs.setdefault("ping_interval", None)
    kwargs.setdefault("open_timeout", 10)
    kwargs.setdefault("close_timeout", 5)
    kwargs.setdefault("ssl", server.ssl_context())
    return websockets.connect(server.url(), **kwargs)


def ascii_text(n, seed):
    rnd = random.Random(seed)
    block = "".join(rnd.choice(string.ascii_letters + string.digits + " ") for _ in range(4096))
    return (block * (n // len(block) + 1))[:n]


class EchoTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        # The test loop runs in debug mode; large payloads legitimately take a while to copy.
        asyncio.get_running_loop().slow_callback_duration = 5.0

    async def round_trip(self, ws, message, timeout=30):
        await ws.send(message)
        reply = await asyncio.wait_for(ws.recv(), timeout)
        self.assertIs(type(reply), type(message), "opcode not preserved")
        self.assertEqual(len(reply), len(message))
        self.assertTrue(reply == message, f"payload of {len(message)} units differs")

    async def test_text_round_trips(self):
        async with connect(SERVER) as ws:
            for n in SIZES:
                with self.subTest(size=n):
                    await self.round_trip(ws, ascii_text(n, n))

    async def test_binary_round_trips(self):
        async with connect(SERVER) as ws:
            for n in SIZES:
                with self.subTest(size=n):
                    await self.round_trip(ws, os.urandom(n))

    async def test_message_at_exact_limit_on_small_server(self):
        async with connect(SMALL) as ws:
            await self.round_trip(ws, os.urandom(SMALL_LIMIT))
            await self.round_trip(ws, "x" * SMALL_LIMIT)

    async def test_pipelined_messages_keep_order(self):
        async with connect(SERVER) as ws:
            messages = []
            for i in range(300):
                m = f"msg-{i}-" + "y" * (i * 37 % 3000)
                messages.append(m if i % 2 else m.encode())
            for m in messages:
                await ws.send(m)
            for i, m in enumerate(messages):
                reply = await asyncio.wait_for(ws.recv(), 10)
                self.assertEqual(reply, m, f"message {i} out of order or corrupted")

    async def test_fragmented_binary_message(self):
        fragments = [os.urandom(64 * KiB + 1) for _ in range(16)] + [b"", os.urandom(3)]
        async with connect(SERVER) as ws:
            await ws.send(fragments)
            reply = await asyncio.wait_for(ws.recv(), 30)
            self.assertIsInstance(reply, bytes)
            self.assertTrue(reply == b"".join(fragments), "fragmented binary message not intact")

    async def test_fragmented_text_message(self):
        fragments = ["Grüße, ", "", "ringcast ", "— ", "日本語 ", "🎉" * 1000, "end"]
        async with connect(SERVER) as ws:
            await ws.send(fragments)
            reply = await asyncio.wait_for(ws.recv(), 10)
            self.assertEqual(reply, "".join(fragments))
            await self.round_trip(ws, "after the fragmented one")

    async def test_non_ascii_text(self):
        samples = [
            "é",
            "héllo wörld",
            "Ελληνικά · русский · עברית · العربية",
            "日本語のテキスト",
            "emoji 🎉🚀👍🏽 and 𝄞 (4-byte sequences)",
            "\u0000 nul and \uffff noncharacter",
            "€" * 70000,  # 210000 bytes, 3-byte sequences across every internal boundary
        ]
        async with connect(SERVER) as ws:
            for s in samples:
                with self.subTest(sample=s[:20]):
                    await self.round_trip(ws, s)

    async def test_ping_with_payload_gets_pong(self):
        async with connect(SERVER) as ws:
            for payload in (b"ringcast-ping", b"", os.urandom(125)):
                waiter = await ws.ping(payload)
                # websockets resolves the waiter only on a pong carrying this exact payload.
                await asyncio.wait_for(waiter, 5)
            # Pings between data messages do not disturb the echo.
            await ws.send("before")
            waiter = await ws.ping(b"middle")
            await ws.send(b"after")
            self.assertEqual(await asyncio.wait_for(ws.recv(), 5), "before")
            self.assertEqual(await asyncio.wait_for(ws.recv(), 5), b"after")
            await asyncio.wait_for(waiter, 5)

    async def test_many_concurrent_connections(self):
        count, rounds = 200, 5

        async def client(i):
            async with connect(SERVER) as ws:
                for r in range(rounds):
                    payload = f"conn {i} round {r} " + "z" * (i * 13 % 500)
                    msg = payload if r % 2 else payload.encode()
                    await ws.send(msg)
                    reply = await asyncio.wait_for(ws.recv(), 20)
                    if reply != msg:
                        raise AssertionError(f"connection {i} round {r}: wrong echo")
                await ws.close(code=1000, reason="")
                if ws.close_code != 1000:
                    raise AssertionError(f"connection {i}: close code {ws.close_code}")
                return i

        results = await asyncio.wait_for(
            asyncio.gather(*(client(i) for i in range(count)), return_exceptions=True), 60)
        failures = [r for r in results if isinstance(r, BaseException)]
        self.assertEqual(failures, [], f"{len(failures)} of {count} connections failed")
        self.assertEqual(sorted(results), list(range(count)))

    async def test_close_code_and_reason_echoed(self):
        async with connect(SERVER) as ws:
            await self.round_trip(ws, "hello")
            start = time.monotonic()
            await asyncio.wait_for(ws.close(code=4000, reason="bye"), 10)
            elapsed = time.monotonic() - start
            self.assertEqual(ws.close_code, 4000)
            self.assertEqual(ws.close_reason, "bye")
            self.assertTrue(ws.closed)
            # close() returns once the server closed TCP; the client's close_timeout is 5 s.
            self.assertLess(elapsed, 2.0, "server did not close TCP promptly after the close")

    async def test_close_with_non_ascii_reason(self):
        async with connect(SERVER) as ws:
            await ws.close(code=4999, reason="tschüß ✓")
            self.assertEqual(ws.close_code, 4999)
            self.assertEqual(ws.close_reason, "tschüß ✓")

    async def test_over_limit_message_closed_with_1009(self):
        for message in (os.urandom(SMALL_LIMIT + 1), "t" * (SMALL_LIMIT + 1),
                        [os.urandom(40 * KiB), os.urandom(40 * KiB)]):
            with self.subTest(kind=type(message).__name__):
                async with connect(SMALL) as ws:
                    await self.round_trip(ws, b"fits")
                    try:
                        await ws.send(message)
                    except ConnectionClosed:
                        pass  # the server may close while the message is still going out
                    with self.assertRaises(ConnectionClosed):
                        await asyncio.wait_for(ws.recv(), 10)
                    await asyncio.wait_for(ws.wait_closed(), 10)
                    self.assertEqual(ws.close_code, 1009)
        # The server keeps serving new connections afterwards.
        async with connect(SMALL) as ws:
            await self.round_trip(ws, "still here")

    async def test_unknown_path_is_rejected(self):
        with self.assertRaises(websockets.exceptions.InvalidStatusCode) as cm:
            async with websockets.connect(SERVER.url("/no-such-endpoint"), open_timeout=10,
                                          ssl=SERVER.ssl_context()):
                pass
        self.assertEqual(cm.exception.status_code, 404)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python_websockets_test.py PATH/TO/ringcast [unittest args]")
    BINARY = os.path.abspath(sys.argv.pop(1))
    if len(sys.argv) > 1 and sys.argv[1] == "--tls":
        TLS = True
        sys.argv.pop(1)
    if len(sys.argv) > 2 and sys.argv[1] == "--deflate":
        DEFLATE = sys.argv[2]
        del sys.argv[1:3]
        if DEFLATE not in ("negotiated", "not-offered", "server-off"):
            sys.exit("--deflate takes negotiated, not-offered or server-off")
    unittest.main(verbosity=2)
