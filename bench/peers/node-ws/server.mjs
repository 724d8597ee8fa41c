// node-ws: a Node.js `ws` peer server for bench/compare.sh, one process, one thread.
//
// Endpoints:
//   /echo          WebSocket: every text or binary message is sent back as it came.
//   /ws            WebSocket: a subscriber; receives every published message.
//   POST /publish  the request body is sent as one text frame to every /ws subscriber
//                  (the loop of ws.send() from the ws README's broadcast example), then 200.
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

const subscribers = new Set();
const wsOptions = { noServer: true, perMessageDeflate: false, clientTracking: false, maxPayload };
const echoServer = new WebSocketServer(wsOptions);
const subServer = new WebSocketServer(wsOptions);

function onEcho(ws) {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
}

function onSubscriber(ws) {
    subscribers.add(ws);
    ws.on('error', () => {});
    ws.on('close', () => subscribers.delete(ws));
}

const server = http.createServer((req, res) => {
    if (req.url !== '/publish') {
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
        for (const ws of subscribers) {
            ws.send(body, { binary: false });
        }
        res.writeHead(200, { 'Content-Length': 0 }).end();
    });
});

server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    const path = req.url.split('?', 1)[0];
    if (path === '/echo') {
        echoServer.handleUpgrade(req, socket, head, onEcho);
    } else if (path === '/ws') {
        subServer.handleUpgrade(req, socket, head, onSubscriber);
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
