// The demo chat page (tools/demo/) in headless Chromium against the real ringcast binary:
// two people in two browser contexts walk through the chat scenarios (presence, room
// messages, a direct message, a system notice, a leave, a server-side disconnect with
// automatic reconnect and recovery of what was missed, media messages next to hostile
// ones), with a third client on npm's `ws` as a witness of what the protocol delivered.
// The image of the media messages comes from the test's own server on loopback; a last
// step checks that the page's Content-Security-Policy stops inline script.
// Usage: node --test-reporter=spec browser_demo_test.mjs PATH/TO/ringcast [SCREENSHOT.png] [--tls]
//        [--compression-off]
// With --tls the gateway gets a self-signed ECDSA P-256 certificate made here with openssl,
// the page is loaded over https:// and its client must connect with wss://. Chromium offers
// permessage-deflate on every WebSocket: the page's socket must have negotiated it, unless
// --compression-off starts the gateway with `--compression off`, which must decline it.
// Skips when Debian's chromium is not installed at /usr/bin/chromium.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { crc32, deflateSync } from 'node:zlib';
import { createHmac } from 'node:crypto';
import WebSocket from 'ws';
import { makeCertificate } from './test_certificate.mjs';

const TLS = process.argv.includes('--tls');
const COMPRESSION = !process.argv.includes('--compression-off');
const [binary, screenshotArg] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (!binary) {
  console.error('usage: node browser_demo_test.mjs PATH/TO/ringcast [SCREENSHOT.png] [--tls] [--compression-off]');
  process.exit(2);
}
// What the page's WebSocket.extensions must say (the server's answer, docs/PROTOCOL.md).
const EXTENSIONS = COMPRESSION ? 'permessage-deflate; server_no_context_takeover; client_no_context_takeover' : '';
const screenshotPath = screenshotArg || join(tmpdir(), `ringcast-demo-${process.pid}.png`);
const HTTP = TLS ? 'https' : 'http'; // the page's scheme
const WS = TLS ? 'wss' : 'ws'; // what its client must connect with

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ...(TLS ? ['--ignore-certificate-errors'] : []), // the test's own self-signed certificate
];

const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} not found: install Debian's "chromium" package (make deps does) to run the browser test`;

const STEP_MS = 10000; // the longest wait for one thing to show on a page
const HISTORY = 6; // messages per channel the gateway keeps for recovery

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Starts ringcast on free loopback ports, in dev mode unless `extra` gives a --jwt-secret;
// resolves with {proc, ws, api, exited}.
async function startServer(tls, extra = []) {
  const mode = extra.includes('--jwt-secret') ? [] : ['--dev'];
  const args = [...mode, '--listen', '127.0.0.1:0', '--api-listen', '127.0.0.1:0',
    '--publish-listen', '127.0.0.1:0', '--threads', '2', '--history-size', String(HISTORY), ...extra];
  if (tls) args.push('--tls-cert', tls.cert, '--tls-key', tls.key);
  if (!COMPRESSION) args.push('--compression', 'off');
  const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const lines = [];
  const ports = await withTimeout(new Promise((resolve, reject) => {
    const found = {};
    const rl = createInterface({ input: proc.stdout });
    rl.on('line', (line) => {
      lines.push(line);
      const m = /^listen (ws|api|publish) 127\.0\.0\.1:(\d+)$/.exec(line);
      if (m) found[m[1]] = Number(m[2]);
      if (found.ws && found.api && found.publish) resolve(found);
    });
    proc.once('error', reject);
    exited.then(({ code, signal }) =>
      reject(new Error(`server exited (${code ?? signal}) before listening; stdout: ${JSON.stringify(lines)}`)));
  }), 30000, 'server listen lines').catch((err) => {
    proc.kill('SIGKILL');
    throw err;
  });
  return { proc, exited, ws: ports.ws, api: ports.api };
}

// SIGTERM the PID we started; SIGKILL only if it hangs. Returns {code, signal}.
async function stopServer(server) {
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

async function api(server, path, body) {
  const res = await fetch(`http://127.0.0.1:${server.api}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  assert.equal(res.status, 200, `${path}: ${JSON.stringify(json)}`);
  assert.equal(json.ok, true, `${path}: ${JSON.stringify(json)}`);
  return json;
}

// A WIDTHxHEIGHT PNG of one colour (RGB, 8 bits per channel).
function solidPng(width, height) {
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per channel
  header[9] = 2; // RGB
  const row = Buffer.alloc(1 + width * 3); // filter byte 0, then the pixels
  for (let x = 0; x < width; x++) row.set([0x2a, 0x7a, 0xd8], 1 + x * 3);
  const pixels = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('IDAT', deflateSync(pixels)), chunk('IEND', Buffer.alloc(0))]);
}

// The files media messages point at, served on a free loopback port (https:// with the
// test's certificate when the page is on https://, so that the image is not mixed content).
// Resolves with {base, port, requests: [{path, referer}], close()}.
async function startMediaServer(tls) {
  const files = new Map([
    ['/photo.png', { type: 'image/png', body: solidPng(640, 480) }],
    ['/report.txt', { type: 'text/plain', body: Buffer.from('quarterly report\n') }],
  ]);
  const requests = [];
  const handler = (req, res) => {
    requests.push({ path: req.url, referer: req.headers.referer });
    const file = files.get(req.url);
    res.writeHead(file ? 200 : 404, { 'Content-Type': file ? file.type : 'text/plain' });
    res.end(file ? file.body : 'not found');
  };
  const server = tls
    ? createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, handler)
    : createHttpServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  return {
    base: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, port, requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

// ringcast_deflate_deliveries_total from the gateway's /metrics.
async function compressedDeliveries(server) {
  const text = await (await fetch(`http://127.0.0.1:${server.api}/metrics`)).text();
  const m = /^ringcast_deflate_deliveries_total (\d+)$/m.exec(text);
  assert.ok(m, 'no ringcast_deflate_deliveries_total in /metrics');
  return Number(m[1]);
}

// A protocol-level client that records every frame it gets.
async function witness(server, user) {
  const ws = new WebSocket(`${WS}://127.0.0.1:${server.ws}/ws?user=${user}`,
    { rejectUnauthorized: false });
  const frames = [];
  const waiters = [];
  ws.on('message', (data) => {
    const f = JSON.parse(data.toString('utf8'));
    frames.push(f);
    for (const w of waiters.slice()) {
      if (w.match(f)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(f);
      }
    }
  });
  await withTimeout(once(ws, 'open'), STEP_MS, `${user} open`);
  const next = (match, what) => {
    const seen = frames.find(match);
    if (seen) return Promise.resolve(seen);
    return withTimeout(new Promise((resolve) => waiters.push({ match, resolve })), STEP_MS, what);
  };
  await next((f) => f.type === 'welcome', `${user} welcome`);
  return { ws, frames, next, send: (cmd) => ws.send(JSON.stringify(cmd)) };
}

// Opens the page in a fresh context and signs in; returns {context, page, errors, requests}.
async function signIn(browser, base, who) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 820 }, ignoreHTTPSErrors: TLS });
  const page = await context.newPage();
  const errors = [];
  const requests = [];
  const sockets = []; // WebSocket URLs the page opened
  page.on('pageerror', (err) => errors.push(String(err)));
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
  page.on('request', (req) => requests.push(req.url()));
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto(base + '/');
  await page.fill('#signin-id', who);
  await page.click('#signin button[type="submit"]');
  await page.waitForSelector('#status[data-state="open"]', { timeout: STEP_MS });
  await page.waitForSelector('.log[data-room="lobby"] li.sys:has-text("You joined #lobby")', { timeout: STEP_MS });
  return { context, page, errors, requests, sockets };
}

const person = (user) => `#people li[data-user="${user}"]`;
const roomMessage = (text) => `.log[data-room="lobby"] li.msg:has(p.body:text-is("${text}"))`;

test(`demo page over ${HTTP}: presence, messages, direct, notice, leave, reconnect with recovery`, { skip, timeout: 150000 }, async (t) => {
  // Loaded only when there is a browser to drive (npm ci installs it with ws).
  const { chromium } = await import('playwright-core');
  const tls = TLS ? makeCertificate() : null;
  const server = await startServer(tls);
  const media = await startMediaServer(tls);
  const base = `${HTTP}://127.0.0.1:${server.ws}`;
  // launch() gives the browser a fresh temporary profile (user-data dir) and removes it on close.
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  let carol;
  try {
    const alice = await signIn(browser, base, 'alice@example.com');
    const bob = await signIn(browser, base, 'bob');
    carol = await witness(server, 'carol');
    carol.send({ op: 'subscribe', channel: 'room:lobby', id: 1 });
    await carol.next((f) => f.type === 'reply' && f.id === 1 && f.ok === true, 'carol subscribed');

    await t.test('the e-mail address gives the name and the avatar', async () => {
      assert.equal(await alice.page.textContent('#me-name'), 'alice');
      assert.equal(await alice.page.evaluate(() => window.demo.client.user), 'alice');
      const initials = await alice.page.textContent('#me-avatar');
      assert.equal(initials, 'AL');
      // The same user gets the same colour on every page.
      await bob.page.waitForSelector(person('alice'), { timeout: STEP_MS });
      const hue = (page, sel) => page.$eval(sel, (n) => n.style.getPropertyValue('--hue'));
      const mine = await hue(alice.page, '#me-avatar');
      assert.match(mine, /^\d+$/);
      assert.equal(await hue(bob.page, `${person('alice')} .avatar`), mine);
    });

    await t.test('each sees the others in the presence list', async () => {
      for (const user of ['alice', 'bob', 'carol']) {
        await alice.page.waitForSelector(person(user), { timeout: STEP_MS });
        await bob.page.waitForSelector(person(user), { timeout: STEP_MS });
      }
      await alice.page.waitForFunction(() => document.querySelector('#online-count').textContent === '3 online',
        null, { timeout: STEP_MS });
      assert.equal(await bob.page.textContent('#online-count'), '3 online');
      assert.match(await alice.page.textContent(`${person('alice')} .name`), /\(you\)/);
      // The server's own list agrees with the pages.
      const presence = await api(server, '/api/presence/room:lobby');
      assert.deepEqual(presence.users.map((u) => u.user), ['alice', 'bob', 'carol']);
      // The "to whom" list offers everyone, or one of the others (never oneself).
      const options = await alice.page.$$eval('#to option', (os) => os.map((o) => o.value));
      assert.deepEqual(options, ['', 'bob', 'carol']);
    });

    await t.test('a room message from alice reaches bob, shown apart on her own page', async () => {
      await alice.page.fill('#text', 'Hello from alice');
      await alice.page.press('#text', 'Enter');
      const atBob = bob.page.locator(roomMessage('Hello from alice'));
      await atBob.waitFor({ timeout: STEP_MS });
      assert.equal(await atBob.getAttribute('data-from'), 'alice');
      assert.equal(await atBob.locator('.from').textContent(), 'alice');
      assert.match(await atBob.locator('time').textContent(), /\d{2}:\d{2}/);
      assert.equal(await atBob.evaluate((n) => n.classList.contains('own')), false);
      const atAlice = alice.page.locator(roomMessage('Hello from alice'));
      await atAlice.waitFor({ timeout: STEP_MS });
      assert.equal(await atAlice.evaluate((n) => n.classList.contains('own')), true);
      assert.equal(await atAlice.locator('.from').textContent(), 'You');
      const m = await carol.next((f) => f.type === 'message' && f.data.text === 'Hello from alice', 'carol gets the room message');
      assert.equal(m.from, 'alice');
      assert.equal(m.channel, 'room:lobby');
    });

    await t.test(`the pages' sockets ${COMPRESSION ? 'negotiated' : 'did not negotiate'} permessage-deflate`, async () => {
      for (const { page } of [alice, bob]) {
        assert.equal(await page.evaluate(() => window.demo.client.ws.extensions), EXTENSIONS);
      }
    });

    await t.test('long messages (sent compressed when negotiated) arrive intact both ways', async () => {
      // Above --compression-min-size (256 B): Chromium compresses what alice sends, and the
      // gateway compresses what it delivers to every page.
      const long = Array.from({ length: 120 }, (_, i) => `word${i % 17}`).join(' ');
      await alice.page.fill('#text', long);
      await alice.page.press('#text', 'Enter');
      const m = await carol.next((f) => f.type === 'message' && f.data.text === long, 'carol gets the long message');
      assert.equal(m.from, 'alice');
      const shown = (text) => [...document.querySelectorAll('.log[data-room="lobby"] li.msg p.body')]
        .some((n) => n.textContent === text);
      await bob.page.waitForFunction(shown, long, { timeout: STEP_MS });
      // The gateway's own count of compressed deliveries: one publish reaches alice, bob and
      // carol, compressed to each when all three negotiated it.
      const before = await compressedDeliveries(server);
      const published = 'from the API, '.repeat(40);
      await api(server, '/api/publish', { channel: 'room:lobby', data: { text: published } });
      await alice.page.waitForFunction(shown, published, { timeout: STEP_MS });
      await bob.page.waitForFunction(shown, published, { timeout: STEP_MS });
      await carol.next((f) => f.type === 'message' && f.data.text === published, 'carol gets the publish');
      assert.equal(await compressedDeliveries(server) - before, COMPRESSION ? 3 : 0, 'compressed deliveries');
    });

    await t.test('bob sends a direct message to alice only', async () => {
      await bob.page.selectOption('#to', 'alice');
      await bob.page.fill('#text', 'psst, alice only');
      await bob.page.click('#send');
      const atAlice = alice.page.locator('li.msg[data-kind="direct-in"]:has(p.body:text-is("psst, alice only"))');
      await atAlice.waitFor({ timeout: STEP_MS });
      assert.equal(await atAlice.getAttribute('data-from'), 'bob');
      assert.match(await atAlice.locator('.tag').textContent(), /privately to you/);
      const atBob = bob.page.locator('li.msg[data-kind="direct-out"]:has(p.body:text-is("psst, alice only"))');
      await atBob.waitFor({ timeout: STEP_MS });
      assert.match(await atBob.locator('.tag').textContent(), /privately to alice/);
      // Carol gets a publish made after the direct message, and nothing direct before it.
      await api(server, '/api/publish', { channel: 'room:lobby', data: { text: 'after the direct' } });
      await carol.next((f) => f.type === 'message' && f.data.text === 'after the direct', 'carol gets the later publish');
      assert.equal(carol.frames.filter((f) => f.type === 'direct').length, 0, 'carol saw the direct message');
      assert.equal(await bob.page.locator('li.msg[data-kind="direct-in"]').count(), 0);
      await alice.page.locator(roomMessage('after the direct')).waitFor({ timeout: STEP_MS });
      assert.equal(await alice.page.locator(roomMessage('after the direct')).getAttribute('data-from'), 'api');
    });

    await t.test('a system notice from the API shows as a banner on both pages', async () => {
      const receipt = await api(server, '/api/broadcast', { data: { text: 'Maintenance at 22:00 UTC' } });
      assert.equal(receipt.matched, 3);
      assert.equal(receipt.queued, 3);
      for (const { page } of [alice, bob]) {
        const b = page.locator('.banner[data-kind="notice"]', { hasText: 'Maintenance at 22:00 UTC' });
        await b.waitFor({ timeout: STEP_MS });
        assert.equal(await b.count(), 1);
      }
      await carol.next((f) => f.type === 'notice' && f.data.text === 'Maintenance at 22:00 UTC', 'carol gets the notice');
      await bob.page.screenshot({ path: screenshotPath.replace(/\.png$/, '') + '-bob.png' });
    });

    await t.test('when bob closes his page alice sees him leave', async () => {
      await bob.context.close();
      await alice.page.waitForSelector(person('bob'), { state: 'detached', timeout: STEP_MS });
      await alice.page.locator('.log[data-room="lobby"] li.sys', { hasText: 'bob left' }).waitFor({ timeout: STEP_MS });
      await alice.page.waitForFunction(() => document.querySelector('#online-count').textContent === '2 online',
        null, { timeout: STEP_MS });
      const options = await alice.page.$$eval('#to option', (os) => os.map((o) => o.value));
      assert.deepEqual(options, ['', 'carol']);
    });

    await t.test('after a server-side disconnect the page reconnects and recovers what it missed', async () => {
      const { page } = alice;
      const before = await page.evaluate(() => ({ conn: window.demo.client.conn, pos: window.demo.client.position('room:lobby') }));
      const receipt = await api(server, '/api/disconnect', { user: 'alice' });
      assert.equal(receipt.matched, 1);
      // The page notices the close and waits 1 s before its first retry.
      await page.waitForSelector('#status[data-state="waiting"]', { timeout: STEP_MS });
      const closedAt = Date.now();
      assert.match(await page.textContent('#status'), /1008 disconnected/);
      // Published while alice is away: over the API and by carol.
      const missed = [];
      for (let i = 1; i <= 3; i++) {
        const r = await api(server, '/api/publish', { channel: 'room:lobby', data: { text: `while away ${i}` } });
        missed.push(r.offset);
      }
      carol.send({ op: 'publish', channel: 'room:lobby', data: { text: 'carol while away' }, id: 2 });
      const reply = await carol.next((f) => f.type === 'reply' && f.id === 2, 'carol publish reply');
      assert.equal(reply.ok, true);
      missed.push(reply.offset);
      assert.deepEqual(missed, [1, 2, 3, 4].map((k) => before.pos.offset + k));

      await page.waitForSelector('#status[data-state="open"]', { timeout: STEP_MS });
      const waited = Date.now() - closedAt;
      assert.ok(waited >= 800, `reconnected after ${waited} ms; the first retry waits 1 s`);
      const after = await page.evaluate(() => ({ conn: window.demo.client.conn, pos: window.demo.client.position('room:lobby') }));
      assert.notEqual(after.conn, before.conn, 'the page did not open a new connection');
      await page.locator('.log[data-room="lobby"] li.sys', { hasText: 'missed messages recovered' }).waitFor({ timeout: STEP_MS });
      for (const text of ['while away 1', 'while away 2', 'while away 3', 'carol while away']) {
        await page.locator(roomMessage(text)).waitFor({ timeout: STEP_MS });
      }
      assert.equal(after.pos.epoch, before.pos.epoch);
      await page.waitForFunction((want) => window.demo.client.position('room:lobby').offset === want,
        missed[3], { timeout: STEP_MS });
      // Every message once, in offset order, nothing lost before the disconnect either.
      const offsets = await page.$$eval('.log[data-room="lobby"] li.msg[data-kind="room"]', (ns) => ns.map((n) => Number(n.dataset.offset)));
      assert.deepEqual(offsets, Array.from({ length: offsets.length }, (_, i) => i + 1));
      assert.equal(offsets.length, missed[3]);
      for (const text of ['Hello from alice', 'after the direct', 'while away 1', 'carol while away']) {
        assert.equal(await page.locator(roomMessage(text)).count(), 1, `"${text}" shown more than once`);
      }
      // Back in the presence list, and still able to talk.
      await page.waitForSelector(person('alice'), { timeout: STEP_MS });
      await page.fill('#text', 'back again');
      await page.press('#text', 'Enter');
      await carol.next((f) => f.type === 'message' && f.data.text === 'back again', 'carol gets alice after the reconnect');
      await page.locator(roomMessage('back again')).waitFor({ timeout: STEP_MS });
      await page.screenshot({ path: screenshotPath });
      t.diagnostic(`screenshot: ${screenshotPath}`);
    });

    await t.test('when more was missed than the history holds, the page starts the room afresh', async () => {
      const { page } = alice;
      await api(server, '/api/disconnect', { user: 'alice' });
      await page.waitForSelector('#status[data-state="waiting"]', { timeout: STEP_MS });
      let last;
      for (let i = 1; i <= HISTORY + 2; i++) {
        last = await api(server, '/api/publish', { channel: 'room:lobby', data: { text: `lost ${i}` } });
      }
      await page.waitForSelector('#status[data-state="open"]', { timeout: STEP_MS });
      await page.locator('.banner[data-kind="warn"]', { hasText: 'could not be recovered' }).waitFor({ timeout: STEP_MS });
      await page.locator('.log[data-room="lobby"] li.sys', { hasText: 'could not be recovered' }).waitFor({ timeout: STEP_MS });
      // The old log is gone and none of the lost messages is shown as if it had arrived.
      assert.equal(await page.locator('.log[data-room="lobby"] li.msg').count(), 0);
      assert.equal(await page.evaluate(() => window.demo.client.position('room:lobby').offset), last.offset);
      // Live messages flow again from there.
      await api(server, '/api/publish', { channel: 'room:lobby', data: { text: 'after the reset' } });
      const item = page.locator(roomMessage('after the reset'));
      await item.waitFor({ timeout: STEP_MS });
      assert.equal(Number(await item.getAttribute('data-offset')), last.offset + 1);
      await page.screenshot({ path: screenshotPath.replace(/\.png$/, '') + '-reset.png' });
    });

    await t.test('media messages: an image, a file link; hostile URLs and markup only as text', async () => {
      const { page } = alice;
      const photo = `${media.base}/photo.png`;
      const report = `${media.base}/report.txt`;
      const publish = async (data) => (await api(server, '/api/publish', { channel: 'room:lobby', data })).offset;
      const item = (offset) => page.locator(`.log[data-room="lobby"] li.msg[data-offset="${offset}"]`);

      const imageAt = await publish({ type: 'image', url: photo, name: '<b>cat</b>.png' });
      const fileAt = await publish({ type: 'file', url: report, name: 'report.txt' });
      // Each is shown as "<type>: <name> <url>" in text, with no link and no image.
      const hostile = [
        { type: 'image', url: 'javascript:window.__pwned="image"', name: 'js image' },
        { type: 'file', url: 'JavaScript:window.__pwned="file"', name: 'js file' },
        { type: 'file', url: ' \tjava\nscript:window.__pwned="hidden"', name: 'hidden scheme' },
        { type: 'image', url: `data:image/png;base64,${solidPng(4, 4).toString('base64')}`, name: 'data image' },
        { type: 'file', url: 'data:text/html,<script>window.__pwned="data"</script>', name: 'data file' },
        { type: 'image', url: `//127.0.0.1:${media.port}/photo.png?protocol-relative`, name: 'protocol-relative' },
        { type: 'file', url: '/report.txt', name: 'relative' },
        { type: 'image', url: `${HTTP}://user:pw@127.0.0.1:${media.port}/photo.png?credentials`, name: 'credentials' },
      ];
      const hostileAt = [];
      for (const data of hostile) hostileAt.push(await publish(data));
      const markup = '<script>window.__pwned="script"</script><img src=x onerror="window.__pwned=\'onerror\'">';
      const markupAt = await publish({ type: 'text', text: markup });
      await item(markupAt).waitFor({ timeout: STEP_MS });

      // The image: lazy, decoded off the main thread, loaded from the local server, capped.
      const image = item(imageAt);
      assert.equal(await image.getAttribute('data-media'), 'image');
      const img = image.locator('figure.media.image img');
      assert.equal(await img.count(), 1);
      assert.equal(await img.getAttribute('src'), photo);
      assert.equal(await img.getAttribute('loading'), 'lazy');
      assert.equal(await img.getAttribute('decoding'), 'async');
      assert.equal(await img.getAttribute('alt'), '<b>cat</b>.png');
      assert.equal(await image.locator('figcaption').textContent(), '<b>cat</b>.png');
      assert.equal(await image.locator('b').count(), 0, 'the name was taken as markup');
      await img.evaluate((n) => n.complete && n.naturalWidth > 0 ? null : new Promise((resolve, reject) => {
        n.addEventListener('load', resolve, { once: true });
        n.addEventListener('error', () => reject(new Error('the image did not load')), { once: true });
      }));
      assert.equal(await img.evaluate((n) => n.naturalWidth), 640);
      const box = await img.boundingBox();
      assert.ok(box.width <= 320 && box.height <= 240, `a 640x480 image shown at ${box.width}x${box.height}`);
      assert.equal(await image.locator('a').getAttribute('href'), photo);
      assert.deepEqual(media.requests.filter((r) => r.path === '/photo.png'), [{ path: '/photo.png', referer: undefined }]);

      // The file: a link that opens apart from the page, not followed by itself.
      const file = item(fileAt);
      assert.equal(await file.getAttribute('data-media'), 'file');
      const link = file.locator('a');
      assert.equal(await link.count(), 1);
      assert.equal(await link.getAttribute('href'), report);
      assert.equal(await link.getAttribute('target'), '_blank');
      assert.deepEqual((await link.getAttribute('rel')).split(' ').sort(), ['noopener', 'noreferrer']);
      assert.equal(await link.textContent(), 'report.txt');
      assert.equal(await file.locator('img').count(), 0);

      // Hostile URLs: text, never an element that would follow them.
      for (const [i, data] of hostile.entries()) {
        const li = item(hostileAt[i]);
        assert.equal(await li.getAttribute('data-media'), 'text', data.name);
        assert.equal(await li.locator('a, img, iframe, object, embed').count(), 0, data.name);
        assert.equal(await li.locator('p.body.refused').textContent(), `${data.type}: ${data.name} ${data.url}`);
      }
      // Markup in a text message is shown literally and creates no element.
      const text = item(markupAt);
      assert.equal(await text.getAttribute('data-media'), 'text');
      assert.equal(await text.locator('p.body').textContent(), markup);
      assert.equal(await text.locator('script, img').count(), 0);

      // Across the whole log, exactly the two safe URLs became elements.
      const log = page.locator('.log[data-room="lobby"]');
      assert.deepEqual(await log.locator('img').evaluateAll((ns) => ns.map((n) => n.getAttribute('src'))), [photo]);
      assert.deepEqual(await log.locator('a').evaluateAll((ns) => ns.map((n) => n.getAttribute('href'))), [photo, report]);
      // Nothing ran: every payload above would set window.__pwned.
      assert.equal(await page.evaluate(() => window.__pwned), undefined);
      assert.deepEqual(media.requests.map((r) => r.path), ['/photo.png']);
      await page.screenshot({ path: screenshotPath.replace(/\.png$/, '') + '-media.png' });
    });

    await t.test('the page comes with a Content-Security-Policy: markup that got in would not run', async () => {
      const context = await browser.newContext({ ignoreHTTPSErrors: TLS });
      try {
        const page = await context.newPage();
        const response = await page.goto(base + '/');
        const csp = response.headers()['content-security-policy'];
        assert.match(csp, /script-src 'self';/);
        assert.match(csp, /img-src 'self' http: https:;/);
        assert.equal(response.headers()['x-content-type-options'], 'nosniff');
        await page.waitForFunction(() => window.demo !== undefined, null, { timeout: STEP_MS });
        // As if a message had made it into the page as markup: neither script runs.
        const outcome = await withTimeout(page.evaluate(() => new Promise((resolve) => {
          const blocked = [];
          document.addEventListener('securitypolicyviolation', (e) => {
            blocked.push(e.effectiveDirective);
            if (blocked.length === 2) resolve({ blocked: blocked.sort(), ran: window.__pwned });
          });
          const box = document.createElement('div');
          box.innerHTML = '<img src="/nothing-here" onerror="window.__pwned = \'onerror\'">';
          const script = document.createElement('script');
          script.textContent = 'window.__pwned = "inline"';
          document.body.append(box, script);
        })), STEP_MS, 'two Content-Security-Policy violations');
        assert.deepEqual(outcome, { blocked: ['script-src-attr', 'script-src-elem'], ran: undefined });
      } finally {
        await context.close();
      }
    });

    await t.test('the page loads nothing from elsewhere and logs no errors', async () => {
      const own = (u) => u.startsWith(base + '/') || u.startsWith(`${WS}://127.0.0.1:${server.ws}/`);
      // The one exception: the image of the media message, from the test's own server.
      assert.deepEqual(alice.requests.filter((u) => !own(u)), [`${media.base}/photo.png`]);
      // The client picked the scheme that matches the page (wss:// on an https:// page).
      assert.ok(alice.sockets.length > 0, 'the page opened no WebSocket');
      assert.deepEqual(alice.sockets.filter((u) => !u.startsWith(`${WS}://127.0.0.1:${server.ws}/ws`)), []);
      assert.deepEqual(bob.requests.filter((u) => !own(u)), []);
      assert.ok(alice.requests.includes(base + '/ringcast.js'));
      assert.ok(alice.requests.includes(base + '/chat.js'));
      assert.deepEqual(alice.errors, [], JSON.stringify(alice.errors));
      assert.deepEqual(bob.errors, [], JSON.stringify(bob.errors));
    });
  } finally {
    if (carol) carol.ws.terminate();
    await browser.close();
    await media.close();
    const alive = server.proc.exitCode === null && server.proc.signalCode === null;
    const exit = await stopServer(server);
    if (tls) tls.remove();
    // Reported as its own failure, next to whatever a step reported (a crash makes the
    // step that was running fail with a less telling error).
    await t.test('the server stayed up and exits 0 on SIGTERM', () => {
      assert.ok(alive, `the server died during the test: ${JSON.stringify(exit)}`);
      assert.deepEqual(exit, { code: 0, signal: null }, 'server exit after SIGTERM');
    });
  }
});

// An HS256 JWT for `claims`, signed with `secret` (what a back end hands the page).
function signToken(claims, secret) {
  const b64 = (v) => Buffer.from(v).toString('base64url');
  const body = `${b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64(JSON.stringify(claims))}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

// Token mode: the client's getToken callback gives tokens that live 2 to 3 seconds (exp is
// in whole seconds); the client must renew each before its exp by itself, so the gateway
// never closes the connection with 4401, and messages keep coming. The plain variant only:
// TLS and compression change nothing here.
const tokenSkip = skip || (TLS || !COMPRESSION ? 'token renewal runs in the plain variant' : false);
test('the JS client renews its token by itself before exp', { skip: tokenSkip, timeout: 60000 }, async () => {
  const { chromium } = await import('playwright-core');
  const secret = 'browser-token-secret-of-32-bytes!';
  const server = await startServer(null, ['--jwt-secret', secret]);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const minted = []; // exp of every token handed out
  try {
    const page = await (await browser.newContext()).newPage();
    const errors = [];
    page.on('pageerror', (err) => errors.push(String(err)));
    await page.exposeFunction('mintToken', () => {
      const iat = Math.floor(Date.now() / 1000);
      minted.push(iat + 3);
      return signToken({ sub: 'dana', iat, exp: iat + 3 }, secret);
    });
    await page.goto(`http://127.0.0.1:${server.ws}/`);
    await page.waitForFunction(() => window.RingcastClient !== undefined, null, { timeout: STEP_MS });
    await withTimeout(page.evaluate(() => {
      const rc = new window.RingcastClient();
      window.tokenTest = { rc, events: [], messages: [] };
      rc.on('refreshed', (e) => window.tokenTest.events.push({ type: 'refreshed', exp: e.exp }));
      rc.on('close', (e) => window.tokenTest.events.push({ type: 'close', code: e.code, reason: e.reason }));
      rc.on('error', (e) => window.tokenTest.events.push({ type: 'error', code: e.code, message: e.message }));
      rc.on('message', (m) => window.tokenTest.messages.push(m.data));
      rc.connect('/ws', { getToken: () => window.mintToken() });
      return rc.subscribe('news');
    }), STEP_MS, 'connected with a token from getToken and subscribed');
    assert.equal(await page.evaluate(() => window.tokenTest.rc.user), 'dana');
    const firstExp = minted[0];
    // Two renewals: the connection outlives the first token and the second.
    await page.waitForFunction(() => window.tokenTest.events.filter((e) => e.type === 'refreshed').length >= 2,
      null, { timeout: 8000 });
    const events = await page.evaluate(() => window.tokenTest.events);
    assert.deepEqual(events.filter((e) => e.type !== 'refreshed'), [], JSON.stringify(events));
    assert.deepEqual(events.map((e) => e.exp), minted.slice(1, 3), JSON.stringify({ events, minted }));
    assert.ok(Date.now() >= firstExp * 1000, 'the first token has expired by now');
    await api(server, '/api/publish', { channel: 'news', data: { after: 'renewals' } });
    await page.waitForFunction(() => window.tokenTest.messages.length === 1, null, { timeout: STEP_MS });
    assert.deepEqual(await page.evaluate(() => window.tokenTest.messages), [{ after: 'renewals' }]);
    assert.deepEqual(await page.evaluate(() => window.tokenTest.events.filter((e) => e.type !== 'refreshed')), []);
    assert.equal(await page.evaluate(() => window.tokenTest.rc.state), 'open');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    const exit = await stopServer(server);
    assert.deepEqual(exit, { code: 0, signal: null }, 'server exit after SIGTERM');
  }
});
