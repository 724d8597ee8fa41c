// ringcast /echo against npm's `ws` client.
// Usage: node --test-reporter=spec node_ws_test.mjs PATH/TO/ringcast [--tls] [--deflate MODE]
// With --tls the servers get a self-signed ECDSA P-256 certificate (made with openssl) and
// every test runs over wss://. --deflate says how permessage-deflate (RFC 7692) goes on every
// connection, checked on each upgrade response:
//   negotiated   (default) the client offers it, as ws does by default, and the server accepts
//   not-offered  the client makes no offer (perMessageDeflate: false)
//   server-off   the client offers, the servers run with --compression off and decline

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { makeCertificate } from './test_certificate.mjs';

const TLS = process.argv.includes('--tls');
const deflateAt = process.argv.indexOf('--deflate');
const DEFLATE = deflateAt > 0 ? process.argv[deflateAt + 1] : 'negotiated';
const [binary] = process.argv.slice(2).filter((a, i, all) => a !== '--tls' && a !== '--deflate' && all[i - 1] !== '--deflate');
if (!binary || !['negotiated', 'not-offered', 'server-off'].includes(DEFLATE)) {
  console.error('usage: node node_ws_test.mjs PATH/TO/ringcast [--tls] [--deflate negotiated|not-offered|server-off]');
  process.exit(2);
}
// The server's answer to an accepted offer (docs/PROTOCOL.md).
const ACCEPTED = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover';
const tls = TLS ? makeCertificate() : null;
process.on('exit', () => tls?.remove());

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZES = [0, 1, 125, 126, 65535, 65536, 1 * MiB, 16 * MiB];
const SMALL_LIMIT = 64 * KiB;

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function startServer(...extra) {
  const args = ['--echo', '--dev', '--listen', '127.0.0.1:0', ...extra];
  if (tls) args.push('--tls-cert', tls.cert, '--tls-key', tls.key);
  if (DEFLATE === 'server-off') args.push('--compression', 'off');
  const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const lines = [];
  const port = await withTimeout(new Promise((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout });
    rl.on('line', (line) => {
      lines.push(line);
      const m = /^listen ws 127\.0\.0\.1:(\d+)$/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    proc.once('error', reject);
    exited.then(({ code, signal }) =>
      reject(new Error(`server exited (${code ?? signal}) before listening; stdout: ${JSON.stringify(lines)}`)));
  }), 30000, 'server listen line').catch((err) => {
    proc.kill('SIGKILL');
    throw err;
  });
  return { proc, port, exited, url: (path = '/echo') => `${TLS ? 'wss' : 'ws'}://127.0.0.1:${port}${path}` };
}

// SIGTERM the PID we started; SIGKILL only if it hangs. Returns {code, signal}.
async function stopServer(server) {
  if (!server) return null;
  const { proc } = server;
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
  try {
    return await withTimeout(server.exited, 15000, 'server exit after SIGTERM');
  } catch (err) {
    proc.kill('SIGKILL');
    await server.exited;
    throw err;
  }
}

// Opens /echo and checks that the upgrade negotiated permessage-deflate as DEFLATE says.
async function connect(server, options = {}) {
  const ws = new WebSocket(server.url(), {
    maxPayload: 64 * MiB, rejectUnauthorized: false, perMessageDeflate: DEFLATE !== 'not-offered', ...options,
  });
  let answer = null;
  ws.once('upgrade', (res) => { answer = res.headers['sec-websocket-extensions'] ?? ''; });
  await withTimeout(once(ws, 'open'), 10000, 'websocket open');
  if (DEFLATE === 'negotiated') {
    assert.equal(answer, ACCEPTED, 'Sec-WebSocket-Extensions of the 101');
    assert.equal(ws.extensions, 'permessage-deflate', 'ws.extensions');
  } else {
    assert.equal(answer, '', 'the 101 accepted an extension');
    assert.equal(ws.extensions, '', 'ws.extensions');
  }
  return ws;
}

function nextMessage(ws, ms = 30000) {
  return withTimeout(new Promise((resolve, reject) => {
    const onMessage = (data, isBinary) => { cleanup(); resolve({ data, isBinary }); };
    const onClose = (code) => { cleanup(); reject(new Error(`closed with ${code} while awaiting a message`)); };
    const cleanup = () => { ws.off('message', onMessage); ws.off('close', onClose); };
    ws.on('message', onMessage);
    ws.on('close', onClose);
  }), ms, 'echo');
}

function closeEvent(ws, ms = 10000) {
  return withTimeout(once(ws, 'close'), ms, 'close event').then(([code, reason]) => ({
    code, reason: reason.toString('utf8'),
  }));
}

async function roundTrip(ws, payload) {
  const reply = nextMessage(ws);
  ws.send(payload);
  const { data, isBinary } = await reply;
  if (typeof payload === 'string') {
    assert.equal(isBinary, false, 'text message came back as binary');
    assert.equal(data.length, Buffer.byteLength(payload));
    assert.ok(data.toString('utf8') === payload, `text payload of ${payload.length} chars differs`);
  } else {
    assert.equal(isBinary, true, 'binary message came back as text');
    assert.equal(data.length, payload.length);
    assert.ok(Buffer.compare(data, payload) === 0, `binary payload of ${payload.length} bytes differs`);
  }
}

function asciiText(n) {
  const block = randomBytes(4096).toString('base64').slice(0, 4096);
  return block.repeat(Math.ceil(n / 4096) + 1).slice(0, n);
}

let server; // --max-message-size 16MiB
let small; // --max-message-size 64KiB

before(async () => {
  server = await startServer('--threads', '2', '--max-message-size', '16MiB', '--max-outbuf', '16MiB');
  small = await startServer('--threads', '2', '--max-message-size', '64KiB');
});

after(async () => {
  const results = [];
  for (const s of [server, small].filter(Boolean)) {  // a failed start was reported by before()
    const wasAlive = s.proc.exitCode === null && s.proc.signalCode === null;
    results.push({ wasAlive, exit: await stopServer(s) });
  }
  for (const { wasAlive, exit } of results) {
    assert.ok(wasAlive, `a server died during the tests: ${JSON.stringify(exit)}`);
    assert.deepEqual(exit, { code: 0, signal: null }, 'server exit after SIGTERM');
  }
});

test('text round trips of every size up to 16 MiB', async () => {
  const ws = await connect(server);
  try {
    for (const n of SIZES) await roundTrip(ws, asciiText(n));
  } finally {
    ws.terminate();
  }
});

test('binary round trips of every size up to 16 MiB', async () => {
  const ws = await connect(server);
  try {
    for (const n of SIZES) await roundTrip(ws, randomBytes(n));
  } finally {
    ws.terminate();
  }
});

test(`a compressible 1 MiB message crosses the wire ${DEFLATE === 'negotiated' ? 'compressed both ways' : 'plain'}`, async () => {
  const ws = await connect(server);
  try {
    const socket = ws._socket; // the TCP (or TLS) socket under the WebSocket
    const [read0, written0] = [socket.bytesRead, socket.bytesWritten];
    await roundTrip(ws, 'ringcast '.repeat(MiB / 8).slice(0, MiB));
    const read = socket.bytesRead - read0;
    const written = socket.bytesWritten - written0;
    if (DEFLATE === 'negotiated') {
      assert.ok(read < MiB / 10, `the echo took ${read} bytes on the wire`);
      assert.ok(written < MiB / 10, `the message took ${written} bytes on the wire`);
    } else {
      assert.ok(read > MiB && written > MiB, `read ${read}, wrote ${written} bytes`);
    }
  } finally {
    ws.terminate();
  }
});

test('non-ASCII text is echoed byte for byte', async () => {
  const ws = await connect(server);
  try {
    for (const s of ['ü', 'Grüße aus Köln', '日本語テキスト', 'emoji 🎉🚀 𝄞', '€'.repeat(70000)]) {
      await roundTrip(ws, s);
    }
  } finally {
    ws.terminate();
  }
});

test('fragmented binary message is echoed as one message', async () => {
  const ws = await connect(server);
  try {
    const chunks = [randomBytes(70000), randomBytes(1), Buffer.alloc(0), randomBytes(300000)];
    const reply = nextMessage(ws);
    chunks.forEach((chunk, i) => ws.send(chunk, { binary: true, fin: i === chunks.length - 1 }));
    const { data, isBinary } = await reply;
    assert.equal(isBinary, true);
    assert.ok(Buffer.compare(data, Buffer.concat(chunks)) === 0, 'reassembled payload differs');
    // The next message arrives on its own, so the fragments produced exactly one echo.
    await roundTrip(ws, 'sentinel');
  } finally {
    ws.terminate();
  }
});

test('fragmented text message is echoed as one message', async () => {
  const ws = await connect(server);
  try {
    const parts = ['Grüße, ', 'ringcast ', '— ', '🎉'.repeat(500), ' end'];
    const reply = nextMessage(ws);
    parts.forEach((part, i) => ws.send(part, { binary: false, fin: i === parts.length - 1 }));
    const { data, isBinary } = await reply;
    assert.equal(isBinary, false);
    assert.equal(data.toString('utf8'), parts.join(''));
    await roundTrip(ws, randomBytes(10));
  } finally {
    ws.terminate();
  }
});

test('ping with payload is answered by a pong with the same payload', async () => {
  const ws = await connect(server);
  try {
    for (const payload of [Buffer.from('node-ping'), Buffer.alloc(0), randomBytes(125)]) {
      const pong = withTimeout(once(ws, 'pong'), 5000, 'pong');
      ws.ping(payload);
      const [data] = await pong;
      assert.ok(Buffer.compare(data, payload) === 0, 'pong payload differs from ping payload');
    }
  } finally {
    ws.terminate();
  }
});

test('50 concurrent connections each get their own echoes', async () => {
  const clients = await Promise.all(Array.from({ length: 50 }, () => connect(server)));
  try {
    await Promise.all(clients.map(async (ws, i) => {
      for (let r = 0; r < 5; r++) {
        await roundTrip(ws, r % 2 ? `conn ${i} round ${r}` : Buffer.from(`conn ${i} round ${r}`));
      }
    }));
  } finally {
    clients.forEach((ws) => ws.terminate());
  }
});

test('close code 4001 and reason are echoed and TCP is closed', async () => {
  const ws = await connect(server);
  await roundTrip(ws, 'hello');
  const closed = closeEvent(ws);
  const start = Date.now();
  ws.close(4001, 'node-bye');
  const { code, reason } = await closed;
  assert.equal(code, 4001);
  assert.equal(reason, 'node-bye');
  // The 'close' event fires once TCP is gone; ws would otherwise wait 30 s for the server.
  assert.ok(Date.now() - start < 2000, `server took ${Date.now() - start} ms to close TCP`);
});

test('message at the limit passes, one byte over is closed with 1009', async () => {
  const ok = await connect(small);
  try {
    await roundTrip(ok, randomBytes(SMALL_LIMIT));
    await roundTrip(ok, 'x'.repeat(SMALL_LIMIT));
  } finally {
    ok.terminate();
  }
  for (const payload of [randomBytes(SMALL_LIMIT + 1), 'y'.repeat(SMALL_LIMIT + 1)]) {
    const ws = await connect(small);
    const closed = closeEvent(ws);
    ws.send(payload);
    const { code } = await closed;
    assert.equal(code, 1009);
  }
  // Over the limit only by the sum of its fragments.
  const ws = await connect(small);
  const closed = closeEvent(ws);
  ws.send(randomBytes(40 * KiB), { fin: false });
  ws.send(randomBytes(40 * KiB), { fin: true });
  assert.equal((await closed).code, 1009);
  // The server still serves new connections.
  const survivor = await connect(small);
  try {
    await roundTrip(survivor, 'still here');
  } finally {
    survivor.terminate();
  }
});

test('SIGTERM closes every connection with 1001 and exits 0', async () => {
  const own = await startServer('--threads', '2');
  let exit;
  try {
    const clients = await Promise.all([0, 1, 2].map(() => connect(own)));
    await Promise.all(clients.map((ws, i) => roundTrip(ws, `before shutdown ${i}`)));
    const closes = clients.map((ws) => closeEvent(ws, 10000));
    own.proc.kill('SIGTERM');
    const codes = (await Promise.all(closes)).map((c) => c.code);
    assert.deepEqual(codes, [1001, 1001, 1001]);
    exit = await withTimeout(own.exited, 10000, 'exit after SIGTERM');
  } finally {
    await stopServer(own).catch(() => {});
  }
  assert.deepEqual(exit, { code: 0, signal: null });
});
