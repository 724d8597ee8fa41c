"""TLS on ringcast's public port, against Python's ssl module and python3-websockets.

Certificates are self-signed ECDSA P-256, made here with the openssl command. Checks:
- SIGHUP with a new certificate on disk: connections made afterwards are served the new
  one (by SHA-256 fingerprint), a connection opened before keeps working; a reload that
  fails (a key that does not match) keeps the certificate in use.
- Bad clients on the TLS port are closed cleanly while a healthy wss:// client keeps its
  round trips: garbage before a ClientHello, a plain HTTP request (answered with a 400 that
  says so), a client that stalls mid-handshake or sends nothing (cut at the handshake
  timeout, not before).
- ALPN answers http/1.1; --api-tls serves the HTTP API over https.

Usage: /usr/bin/python3 tls_test.py PATH/TO/ringcast [unittest args]
"""

import asyncio
import hashlib
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import time
import unittest

import websockets

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ringcast_server import (  # noqa: E402
    ServerProcess, insecure_client_context, make_certificate, wait_until)

BINARY = None
HANDSHAKE_TIMEOUT = 1.0  # --handshake-timeout of the server under test


def fingerprint(port):
    """SHA-256 of the certificate a new TLS connection to the port is served."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with insecure_client_context().wrap_socket(raw) as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def file_fingerprint(cert_path):
    with open(cert_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def client_hello():
    """The bytes of a real TLS ClientHello (from an ssl.SSLObject on memory BIOs)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = insecure_client_context().wrap_bio(incoming, outgoing)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def read_until_closed(sock, timeout):
    """Reads until EOF or reset; returns (bytes, seconds until closed) or (bytes, None)."""
    sock.settimeout(timeout)
    start = time.monotonic()
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data, time.monotonic() - start
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        return data, time.monotonic() - start
    except socket.timeout:
        return data, None


class TlsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ringcast-tls-")
        self.cert, self.key = make_certificate(self.dir, "live")
        self.server = ServerProcess(
            BINARY, "--threads", "2", "--handshake-timeout", f"{int(HANDSHAKE_TIMEOUT * 1000)}ms",
            "--api-listen", "127.0.0.1:0", "--publish-listen", "127.0.0.1:0", "--api-tls",
            tls=(self.cert, self.key), logs=True).start()

    def tearDown(self):
        try:
            alive = self.server.alive()
            code = self.server.terminate()
        finally:
            self.server.stop()
            shutil.rmtree(self.dir, ignore_errors=True)
        self.assertTrue(alive, "the server died during the test")
        self.assertEqual(code, 0, "the server did not exit 0 on SIGTERM")

    def run_async(self, coro):
        return asyncio.run(asyncio.wait_for(coro, 60))

    def connect(self):
        return websockets.connect(self.server.url(), ssl=self.server.ssl_context(),
                                  open_timeout=10, ping_interval=None, max_size=None)

    async def round_trip(self, ws, text):
        await ws.send(text)
        self.assertEqual(await asyncio.wait_for(ws.recv(), 10), text)

    def test_sighup_serves_the_new_certificate_and_keeps_open_connections(self):
        first = file_fingerprint(self.cert)
        self.assertEqual(fingerprint(self.server.port), first)
        new_cert, new_key = make_certificate(self.dir, "next", common_name="next.localhost")
        second = file_fingerprint(new_cert)
        self.assertNotEqual(first, second)

        async def scenario():
            async with self.connect() as before:
                await self.round_trip(before, "opened with the first certificate")
                seen = before.transport.get_extra_info("ssl_object").getpeercert(True)
                self.assertEqual(hashlib.sha256(seen).hexdigest(), first)
                # Rotate the files in place (as certbot and friends do), then SIGHUP.
                shutil.copyfile(new_cert, self.cert)
                shutil.copyfile(new_key, self.key)
                os.kill(self.server.pid, signal.SIGHUP)
                self.assertTrue(
                    await asyncio.to_thread(
                        wait_until, lambda: fingerprint(self.server.port) == second, 10),
                    "new connections still get the old certificate after SIGHUP")
                async with self.connect() as after:
                    await self.round_trip(after, "opened with the second certificate")
                    cert = after.transport.get_extra_info("ssl_object").getpeercert(True)
                    self.assertEqual(hashlib.sha256(cert).hexdigest(), second)
                # The connection from before the reload is still open and still works.
                for i in range(20):
                    await self.round_trip(before, f"still here {i} " + "x" * (i * 997))
                self.assertEqual(before.close_code, None)

                # A failed reload (the key of another certificate) keeps the current one.
                other_cert, other_key = make_certificate(self.dir, "other")
                shutil.copyfile(other_key, self.key)  # self.cert still holds `second`
                os.kill(self.server.pid, signal.SIGHUP)
                self.assertTrue(
                    await asyncio.to_thread(
                        wait_until,
                        lambda: any("reload failed" in line for line in self.server.output), 10),
                    f"no 'reload failed' line: {self.server.output[-5:]!r}")
                self.assertEqual(fingerprint(self.server.port), second)
                await self.round_trip(before, "still here after a failed reload")

        self.run_async(scenario())

    def test_bad_clients_close_cleanly_beside_a_healthy_one(self):
        async def healthy(stop, count):
            async with self.connect() as ws:
                while not stop.is_set():
                    await self.round_trip(ws, f"healthy {count[0]}")
                    count[0] += 1
                    await asyncio.sleep(0.01)

        def garbage():
            with socket.create_connection(("127.0.0.1", self.server.port)) as s:
                s.sendall(os.urandom(3000))
                data, closed_after = read_until_closed(s, 5)
                self.assertIsNotNone(closed_after, "garbage before a ClientHello: not closed")

        def not_a_hello():
            # A handshake record whose body is not a ClientHello.
            with socket.create_connection(("127.0.0.1", self.server.port)) as s:
                s.sendall(b"\x16\x03\x01\x00\x05hello")
                _, closed_after = read_until_closed(s, 5)
                self.assertIsNotNone(closed_after, "a malformed handshake record: not closed")

        def plain_http():
            with socket.create_connection(("127.0.0.1", self.server.port)) as s:
                s.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\r\n")
                data, closed_after = read_until_closed(s, 5)
                self.assertIsNotNone(closed_after, "a plain HTTP request: not closed")
                self.assertTrue(data.startswith(b"HTTP/1.1 400 "), data[:80])
                self.assertIn(b"plain HTTP request sent to a TLS port", data)

        def stalled(payload):
            with socket.create_connection(("127.0.0.1", self.server.port)) as s:
                s.sendall(payload)
                data, closed_after = read_until_closed(s, HANDSHAKE_TIMEOUT + 5)
                self.assertIsNotNone(closed_after, "a stalled handshake was never cut")
                self.assertGreater(closed_after, HANDSHAKE_TIMEOUT * 0.8, "cut before the timeout")

        hello = client_hello()
        self.assertEqual(hello[0], 0x16)  # a handshake record

        async def scenario():
            stop, count = asyncio.Event(), [0]
            task = asyncio.create_task(healthy(stop, count))
            await asyncio.sleep(0.1)
            jobs = [garbage, not_a_hello, plain_http, lambda: stalled(hello[: len(hello) // 2]),
                    lambda: stalled(b"")]
            await asyncio.gather(*(asyncio.to_thread(job) for job in jobs * 3))
            before = count[0]
            await asyncio.sleep(0.2)
            stop.set()
            await task  # raises if a round trip failed
            self.assertGreater(count[0], before, "the healthy client stalled")

        self.run_async(scenario())
        self.assertTrue(wait_until(lambda: self.server.fd_count() < 40, 5))

    def test_alpn_and_the_api_over_https(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as raw:
            with insecure_client_context().wrap_socket(raw) as tls:
                self.assertEqual(tls.selected_alpn_protocol(), "http/1.1")
        api_line = next(line for line in self.server.output if line.startswith("listen api "))
        api_port = int(re.search(r":(\d+)$", api_line).group(1))
        conn = http.client.HTTPSConnection("127.0.0.1", api_port, timeout=5,
                                           context=insecure_client_context())
        conn.request("GET", "/healthz")
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: tls_test.py PATH/TO/ringcast [unittest args]")
    BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
