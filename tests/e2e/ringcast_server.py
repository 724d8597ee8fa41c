"""Starts and stops a ringcast server process for the Python end-to-end tests.

The server prints start-up lines on stdout and, once it accepts connections, a line
`listen ws 127.0.0.1:PORT`. Only the PID started here is ever signalled.

With a certificate (make_certificate) the server speaks TLS and url() says wss://.
"""

import os
import re
import signal
import ssl
import subprocess
import threading
import time

LISTEN_RE = re.compile(r"^listen ws 127\.0\.0\.1:(\d+)$")


def make_certificate(directory, name="server", common_name="localhost"):
    """A self-signed ECDSA P-256 certificate for localhost and 127.0.0.1, made with the
    openssl command. Returns (cert_path, key_path)."""
    cert = os.path.join(directory, f"{name}.crt")
    key = os.path.join(directory, f"{name}.key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={common_name}",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def insecure_client_context():
    """A client TLS context that accepts any certificate (the tests make their own)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class ServerProcess:
    def __init__(self, binary, *extra_args, startup_timeout=30.0, tls=None, logs=False):
        self.binary = binary
        self.logs = logs  # True: stderr (the log) joins stdout in self.output
        self.tls = tls  # (cert_path, key_path) or None
        tls_args = ["--tls-cert", tls[0], "--tls-key", tls[1]] if tls else []
        # Dev mode (?user=NAME) unless the test gives a token secret: the gateway starts in it
        # only when told so.
        dev = [] if any(a.startswith("--jwt-secret") for a in extra_args) else ["--dev"]
        self.args = [binary, "--echo", *dev, "--listen", "127.0.0.1:0", *tls_args, *extra_args]
        self.startup_timeout = startup_timeout
        self.proc = None
        self.port = None
        self.output = []  # every stdout line, kept for failure messages
        self._port_ready = threading.Event()
        self._reader = None

    def start(self):
        self.proc = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            # Inherited unless asked for: sanitizer reports reach the test log either way.
            stderr=subprocess.STDOUT if self.logs else None,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        if not self._port_ready.wait(self.startup_timeout) or self.port is None:
            code = self.proc.poll()
            self.stop()
            raise RuntimeError(
                f"server did not print its listen line within {self.startup_timeout}s "
                f"(exit code {code}); stdout: {self.output!r}"
            )
        return self

    def _read_stdout(self):
        # Keeps draining stdout for the whole run so the server never blocks on a full pipe.
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.output.append(line)
            if self.port is None:
                m = LISTEN_RE.match(line)
                if m:
                    self.port = int(m.group(1))
                    self._port_ready.set()
        self._port_ready.set()

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def url(self, path="/echo"):
        scheme = "wss" if self.tls else "ws"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def ssl_context(self):
        """What websockets.connect() takes as ssl=: None for plain ws://."""
        return insecure_client_context() if self.tls else None

    def terminate(self, timeout=15.0):
        """SIGTERM the server and return its exit code (killing it if it hangs)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"server did not exit within {timeout}s of SIGTERM")
        self._close_pipe()
        return self.proc.returncode

    def _close_pipe(self):
        if self._reader is not None:
            self._reader.join(5)
        if self.proc.stdout is not None and (self._reader is None or not self._reader.is_alive()):
            self.proc.stdout.close()

    def stop(self):
        """Best-effort stop for finally blocks; never raises."""
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(15)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self._close_pipe()
        except (ProcessLookupError, ValueError):
            pass

    # /proc views of the server process (Linux only).
    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def vm_rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("VmRSS missing from /proc status")

    def sanitized(self):
        """True when the binary carries AddressSanitizer (its RSS is dominated by quarantine)."""
        try:
            with open(f"/proc/{self.pid}/maps") as f:
                if "libasan" in f.read():
                    return True
        except OSError:
            pass
        with open(self.binary, "rb") as f:
            return b"__asan_init" in f.read()


def wait_until(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
