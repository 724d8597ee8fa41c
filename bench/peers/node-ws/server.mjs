// node-ws: a Node.js `ws` peer server for bench/compare.sh, one process, one thread.
//
// Endpoints:
//   /echo               WebSocket: every text or binary message is sent back as it came.
//   /ws/NAME            WebSocket: a subscriber of channel NAME; receives every message
//                       published to it. The channel (a Set of sockets in a Map) is created
//                       with its first subscriber and forgotten with its last.
//   /ws                 the same for the channel "news" (the one-channel fan-out).
//   POST /publish/NAME  the request body is sent as one text frame to every subscriber of
//                       channel NAME (the loop of ws.send() from the ws README's broadcast
//                       example), then 200 (also when it has none).
//   POST /publish       the same for the channel "news".
//
// Usage: node server.mjs [--listen 127.0.0.1:0]
// Prints "listen ADDR:PORT" on stdout once listening.
// `ws` is resolved through NODE_PATH, else from tests/e2e/node_modules of this repository.
import http from 'node:http';
import { createRequire } from 'node:module';

function loadWs() {
    try {
        return createRequire(import.meta.url)('ws');
    } catch {
        return createRequire(new URL('../../../tests/e2e/package.json', import.meta.url))('ws');
    }
}
const { WebSocketServer } = loadWs();

let listen = '127.0.0.1:0';
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
    if ((args[i] === '--listen' || args[i] === '-listen') && i + 1 < args.length) {
        listen = args[++i];
    } else {
        console.error(`usage: node server.mjs [--listen HOST:PORT]`);
        process.exit(2);
    }
}
const colon = listen.lastIndexOf(':');
const host = listen.slice(0, colon);
const port = Number(listen.slice(colon + 1));
const maxPayload = 1 << 20;

// The channel of /ws and /publish.
const defaultChannel = 'news';
const channels = new Map(); // channel name -> Set of subscribed sockets
const wsOptions = { noServer: true, perMessageDeflate: false, clientTracking: false, maxPayload };
const echoServer = new WebSocketServer(wsOptions);
const subServer = new WebSocketServer(wsOptions);

function onEcho(ws) {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
}

// channelOf('/ws/room1', '/ws') = 'room1', of '/ws' the default channel; null for anything
// else (an empty name, or one with a slash).
function channelOf(path, prefix) {
    if (path === prefix) return defaultChannel;
    if (!path.startsWith(prefix + '/')) return null;
    const name = path.slice(prefix.length + 1);
    return name === '' || name.includes('/') ? null : name;
}

function onSubscriber(ws, channel) {
    let subs = channels.get(channel);
    if (subs === undefined) {
        subs = new Set();
        channels.set(channel, subs);
    }
    subs.add(ws);
    ws.on('error', () => {});
    ws.on('close', () => {
        subs.delete(ws);
        if (subs.size === 0 && channels.get(channel) === subs) channels.delete(channel);
    });
}

const server = http.createServer((req, res) => {
    const channel = channelOf(req.url.split('?', 1)[0], '/publish');
    if (channel === null) {
        res.writeHead(404, { 'Content-Length': 0 }).end();
        return;
    }
    if (req.method !== 'POST') {
        res.writeHead(405, { 'Content-Length': 0 }).end();
        return;
    }
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
        size += chunk.length;
        chunks.push(chunk);
    });
    req.on('end', () => {
        if (size > maxPayload) {
            res.writeHead(413, { 'Content-Length': 0 }).end();
            return;
        }
        const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        const subs = channels.get(channel);
        if (subs !== undefined) {
            for (const ws of subs) {
                ws.send(body, { binary: false });
            }
        }
        res.writeHead(200, { 'Content-Length': 0 }).end();
    });
});

server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    const path = req.url.split('?', 1)[0];
    const channel = channelOf(path, '/ws');
    if (path === '/echo') {
        echoServer.handleUpgrade(req, socket, head, onEcho);
    } else if (channel !== null) {
        subServer.handleUpgrade(req, socket, head, (ws) => onSubscriber(ws, channel));
    } else {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    }
});

server.listen(port, host, () => {
    const a = server.address();
    console.log(`listen ${a.address}:${a.port}`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => process.exit(0));
}
