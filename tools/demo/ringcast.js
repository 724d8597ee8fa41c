// ringcast browser client: a small, dependency-free client for the /ws protocol
// (docs/PROTOCOL.md, "JavaScript client"). Load it with <script src="/ringcast.js"> and use
// window.RingcastClient:
//
//   const rc = new RingcastClient();
//   rc.on('message', (m) => show(m.channel, m.from, m.data));
//   rc.connect('/ws', { user: 'alice', name: 'Alice' });   // dev mode
//   rc.connect('/ws', { getToken: () => fetch('/token').then((r) => r.text()) });  // tokens
//   await rc.subscribe('room:lobby', { presence: true });
//   await rc.publish('room:lobby', { text: 'hi' });
//
// What it does for the application:
// - reconnects by itself after a close it did not ask for: the first retry 1 s after the
//   close, then 2 s, 4 s ... up to maxDelay (with some jitter after the first);
// - remembers every channel the application subscribed to and, after a reconnect,
//   subscribes again with since:{offset, epoch}, so messages published while it was away are
//   delivered (recovered:true) or the application is told to reload (the 'reset' event);
// - tracks the last offset per channel and drops a message whose offset it has already
//   delivered, so the application never sees one twice;
// - matches each reply to its command by id and returns promises;
// - with a getToken callback, asks it for a token before every connect and reconnect, and
//   renews the token on the open connection (the refresh command) at refreshAt (85%) of its
//   lifetime, so the gateway never closes the connection with 4401 "token expired".
(function (global) {
  'use strict';

  const DEFAULTS = {
    initialDelay: 1000, // ms before the first reconnect attempt (then doubled each time)
    maxDelay: 30000, // ms, the longest wait between two attempts
    reconnect: true, // false: stay closed after a close
    requestTimeout: 15000, // ms before a command without a reply is rejected
    maxQueued: 1000, // commands kept while disconnected
    refreshAt: 0.85, // share of a token's lifetime after which getToken is asked for a new one
  };

  // The `exp` and `iat` claims of a JWT (Unix seconds), or nulls when it has none or is not
  // a JWT. The token is not verified: the gateway does that.
  function tokenTimes(token) {
    try {
      const part = String(token).split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const claims = JSON.parse(atob(part + '='.repeat((4 - (part.length % 4)) % 4)));
      const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
      return { exp: num(claims.exp), iat: num(claims.iat) };
    } catch (err) {
      return { exp: null, iat: null };
    }
  }

  // The error a rejected promise carries: code is the server's error code ("forbidden",
  // "bad_request", ...) or one of the client's own: "closed", "timeout", "not_connected".
  class RingcastError extends Error {
    constructor(code, message, reply) {
      super(message || code);
      this.name = 'RingcastError';
      this.code = code;
      this.reply = reply || null;
    }
  }

  class RingcastClient {
    constructor(options = {}) {
      this.options = Object.assign({}, DEFAULTS, options);
      this.ws = null;
      this.url = null;
      this.state = 'idle'; // idle | connecting | open | waiting (to reconnect) | closed
      this.user = null; // from the welcome frame
      this.conn = null;
      this.epoch = null;
      this.attempts = 0; // reconnect attempts since the last welcome
      this.channels = new Map(); // channel -> {presence, offset, epoch, subscribed}
      this._handlers = new Map();
      this._pending = new Map(); // id -> {resolve, reject, timer, op, channel}
      this._queue = []; // commands issued while not connected
      this._nextId = 1;
      this._timer = null;
      this._stopped = false;
      this._getToken = null; // connect({getToken}): async () => token
      this._token = null; // the token of the current connection
      this._tokenAt = 0; // Date.now() when getToken gave it
      this._refreshTimer = null;
    }

    // ---- events ----

    // Events (each handler gets one object):
    //   open         the socket opened (the welcome frame follows)
    //   welcome      {user, conn, epoch, reconnect}: the session is ready
    //   close        {code, reason, wasClean, wasOpen, willReconnect, delay}; code 4401:
    //                the token expired (the next attempt asks getToken for a new one)
    //   refreshed    {exp}: the gateway took the new token from getToken
    //   reconnecting {attempt, delay}
    //   subscribed   {channel, offset, epoch, resumed, recovered}
    //   reset        {channel, offset, epoch}: missed messages are gone; reload the state
    //   gap          {channel, from, to}: offsets that were skipped (drop-oldest policy)
    //   message, direct, notice, join, leave, dropped: the server frames as they are
    //   error        {code, message, ...}: a server error without id, a refused subscribe,
    //                a socket error, a getToken that failed (code 'token') or a refused
    //                refresh (code 'refresh': the connection closes at the old exp unless a
    //                later attempt succeeds)
    //   frame        every frame, parsed, before it is handled
    on(event, fn) {
      if (!this._handlers.has(event)) this._handlers.set(event, new Set());
      this._handlers.get(event).add(fn);
      return this;
    }

    off(event, fn) {
      const set = this._handlers.get(event);
      if (set) set.delete(fn);
      return this;
    }

    _emit(event, payload) {
      const set = this._handlers.get(event);
      if (!set) return;
      for (const fn of Array.from(set)) {
        try {
          fn(payload);
        } catch (err) {
          setTimeout(() => { throw err; }); // report it without breaking the client
        }
      }
    }

    // ---- connection ----

    // url: ws://host/ws, a path such as '/ws' (the page's own host), or nothing ('/ws').
    // opts: {user, name} in dev mode; when the gateway checks tokens, {getToken} (a function
    // returning a JWT or a promise of one, called before each connection and to renew the
    // token before it expires) or {token} (one JWT: the connection ends when it expires).
    connect(url, opts = {}) {
      const target = new URL(url || '/ws', global.location ? global.location.href : undefined);
      if (target.protocol === 'http:') target.protocol = 'ws:';
      if (target.protocol === 'https:') target.protocol = 'wss:';
      for (const key of ['token', 'user', 'name']) {
        if (opts[key] !== undefined && opts[key] !== null && opts[key] !== '') {
          target.searchParams.set(key, String(opts[key]));
        }
      }
      this.url = target.toString();
      this._getToken = typeof opts.getToken === 'function' ? opts.getToken : null;
      this._token = opts.getToken ? null : (opts.token || null);
      this._tokenAt = Date.now();
      this._stopped = false;
      this.attempts = 0;
      if (this.ws) {
        // Connecting again (another identity, say): the old socket is dropped quietly and the
        // channels are subscribed again on the new one.
        const old = this.ws;
        this.ws = null;
        old.close(1000, 'reconnecting');
        this._onClose({ code: 1000, reason: 'reconnecting', wasClean: true }, true);
      }
      this._open();
      return this;
    }

    // Closes for good: no reconnect; pending commands are rejected.
    close(code = 1000, reason = 'bye') {
      this._stopped = true;
      clearTimeout(this._timer);
      this._timer = null;
      this._cancelRefresh();
      this._failQueued(new RingcastError('closed', 'the client was closed'));
      if (this.ws && this.ws.readyState <= 1) {
        this.ws.close(code, reason);
      } else {
        this._setState('closed');
      }
    }

    get connected() {
      return this.state === 'open';
    }

    _setState(state) {
      this.state = state;
    }

    _open() {
      clearTimeout(this._timer);
      this._timer = null;
      this._setState('connecting');
      if (!this._getToken) {
        this._openSocket(this.url);
        return;
      }
      // A fresh token for every attempt: the last one may have expired meanwhile.
      const url = this.url;
      Promise.resolve()
        .then(() => this._getToken())
        .then((token) => {
          if (this._stopped || this.url !== url || this.state !== 'connecting' || this.ws) return;
          const target = new URL(url);
          target.searchParams.set('token', String(token));
          this._token = String(token);
          this._tokenAt = Date.now();
          this._openSocket(target.toString());
        }, (err) => {
          if (this._stopped || this.url !== url || this.state !== 'connecting' || this.ws) return;
          this._emit('error', { code: 'token', message: String(err && err.message || err) });
          this._scheduleReconnect({ code: 1006, reason: 'getToken failed', wasClean: false });
        });
    }

    _openSocket(url) {
      const WS = this.options.WebSocket || global.WebSocket;
      let ws;
      try {
        ws = new WS(url);
      } catch (err) {
        this._emit('error', { code: 'connect', message: String(err && err.message || err) });
        this._scheduleReconnect({ code: 1006, reason: 'connect failed', wasClean: false });
        return;
      }
      this.ws = ws;
      ws.onopen = () => {
        if (this.ws !== ws) return;
        this._emit('open', { url: this.url });
      };
      ws.onmessage = (ev) => {
        if (this.ws !== ws) return;
        this._onText(ev.data);
      };
      ws.onerror = () => {
        if (this.ws !== ws) return;
        this._emit('error', { code: 'socket', message: 'WebSocket error' });
      };
      ws.onclose = (ev) => {
        if (this.ws !== ws) return;
        this.ws = null;
        this._onClose({ code: ev.code, reason: ev.reason, wasClean: ev.wasClean });
      };
    }

    _onClose(info, replaced = false) {
      const wasOpen = this.state === 'open';
      this._cancelRefresh();
      for (const entry of this.channels.values()) entry.subscribed = false;
      // Commands in flight may or may not have reached the server: only the caller can
      // decide whether to repeat them. A subscribe in flight is repeated after the reconnect
      // (its callers wait on the channel entry).
      for (const [id, p] of this._pending) {
        clearTimeout(p.timer);
        this._pending.delete(id);
        if (p.op === 'subscribe' && !this._stopped && this.options.reconnect) continue;
        p.reject(new RingcastError('closed', `connection closed (${info.code}) before the reply`));
      }
      if (replaced) return;
      if (this._stopped || !this.options.reconnect) {
        this._setState('closed');
        this._failQueued(new RingcastError('closed', 'the connection is closed'));
        for (const entry of this.channels.values()) {
          this._settle(entry, null, new RingcastError('closed', 'the connection is closed'));
        }
        this._emit('close', Object.assign({ willReconnect: false, delay: 0, wasOpen }, info));
        return;
      }
      this._scheduleReconnect(info, wasOpen);
    }

    _scheduleReconnect(info, wasOpen = false) {
      const delay = this._delay(this.attempts);
      this.attempts += 1;
      this._setState('waiting');
      this._emit('close', Object.assign({ willReconnect: true, delay, wasOpen }, info));
      this._emit('reconnecting', { attempt: this.attempts, delay });
      this._timer = setTimeout(() => {
        this._timer = null;
        if (!this._stopped) this._open();
      }, delay);
    }

    // 1 s, 2 s, 4 s ... maxDelay; every attempt after the first gets up to 20% jitter so
    // that many clients dropped together do not come back in the same millisecond.
    _delay(attempt) {
      const base = Math.min(this.options.maxDelay, this.options.initialDelay * 2 ** Math.min(attempt, 20));
      if (attempt === 0) return base;
      return Math.round(base * (0.8 + 0.2 * Math.random()));
    }

    // ---- token renewal ----

    // Asks getToken for a new token at refreshAt of the current one's lifetime, counted from
    // when it arrived, and sends it with refresh. Nothing to do without getToken or exp.
    _scheduleRefresh(retry = false) {
      this._cancelRefresh();
      if (!this._getToken || !this._token) return;
      const { exp, iat } = tokenTimes(this._token);
      if (exp === null) return;
      // The lifetime by this machine's clock, unless that clock says the token is already
      // past (a skewed clock): then exp - iat, which needs no clock.
      const local = exp * 1000 - this._tokenAt;
      const issued = iat !== null && iat < exp ? (exp - iat) * 1000 : null;
      const lifetimeMs = local > 0 ? Math.min(local, issued === null ? local : issued) : (issued || 0);
      const expiresAt = this._tokenAt + lifetimeMs;
      const now = Date.now();
      let at = this._tokenAt + lifetimeMs * this.options.refreshAt;
      // After a refused or failed refresh: once more halfway to the expiry.
      if (retry) at = now + (expiresAt - now) / 2;
      if (retry && expiresAt - now < 1000) return; // too late: reconnect after the close
      this._refreshTimer = setTimeout(() => {
        this._refreshTimer = null;
        this._refresh();
      }, Math.max(0, at - now));
    }

    _cancelRefresh() {
      clearTimeout(this._refreshTimer);
      this._refreshTimer = null;
    }

    _refresh() {
      const ws = this.ws;
      Promise.resolve()
        .then(() => this._getToken())
        .then((token) => {
          if (this.ws !== ws || this.state !== 'open') return undefined;
          return this._send({ op: 'refresh', token: String(token) }).then(() => {
            if (this.ws !== ws) return;
            this._token = String(token);
            this._tokenAt = Date.now();
            this._emit('refreshed', { exp: tokenTimes(this._token).exp });
            this._scheduleRefresh();
          });
        })
        .catch((err) => {
          if (this.ws !== ws || this.state !== 'open') return;
          const code = err instanceof RingcastError ? 'refresh' : 'token';
          this._emit('error', { code, message: String(err && err.message || err), reason: err.code });
          this._scheduleRefresh(true);
        });
    }

    // ---- frames ----

    _onText(text) {
      let f;
      try {
        f = JSON.parse(text);
      } catch (err) {
        this._emit('error', { code: 'bad_frame', message: 'a frame that is not JSON', text });
        return;
      }
      this._emit('frame', f);
      switch (f.type) {
        case 'welcome':
          return this._onWelcome(f);
        case 'reply':
        case 'presence':
        case 'pong':
          return this._onReply(f);
        case 'message':
          return this._onMessage(f);
        case 'direct':
        case 'notice':
        case 'join':
        case 'leave':
        case 'dropped':
          return this._emit(f.type, f);
        default:
          return undefined; // a frame type this client does not know: ignored
      }
    }

    _onWelcome(f) {
      const reconnect = this.user !== null;
      this.user = f.user;
      this.conn = f.conn;
      this.epoch = f.epoch;
      this.attempts = 0;
      this._setState('open');
      this._scheduleRefresh();
      this._emit('welcome', Object.assign({ reconnect }, f));
      // Channels first (so that recovery starts at once), then what waited for the socket.
      for (const [channel, entry] of this.channels) this._subscribeEntry(channel, entry);
      const queued = this._queue;
      this._queue = [];
      for (const q of queued) this._transmit(q.cmd, q);
    }

    _onReply(f) {
      const id = f.id;
      if (id === undefined || id === null) {
        // Only errors come without an id (a frame the server could not read).
        if (f.ok === false) this._emit('error', Object.assign({ reply: f }, f.error || {}));
        return;
      }
      const p = this._pending.get(id);
      if (!p) return;
      this._pending.delete(id);
      clearTimeout(p.timer);
      if (f.type === 'reply' && f.ok === false) {
        const e = f.error || {};
        p.reject(new RingcastError(e.code || 'error', e.message, f));
      } else {
        p.resolve(f);
      }
    }

    _onMessage(f) {
      const entry = this.channels.get(f.channel);
      if (entry) {
        if (entry.offset !== null && f.offset <= entry.offset) return; // seen already
        if (entry.offset !== null && f.offset > entry.offset + 1) {
          this._emit('gap', { channel: f.channel, from: entry.offset + 1, to: f.offset - 1 });
        }
        entry.offset = f.offset;
      }
      this._emit('message', f);
    }

    // ---- commands ----

    _send(cmd, extra = {}) {
      return new Promise((resolve, reject) => {
        const q = Object.assign({ cmd, resolve, reject, op: cmd.op }, extra);
        if (this._stopped) {
          reject(new RingcastError('closed', 'the client was closed'));
        } else if (this.state === 'open' && this.ws && this.ws.readyState === 1) {
          // Only an OPEN socket sends: one the server is already closing (its 'close' event
          // has not fired yet) keeps the command for the next connection.
          this._transmit(cmd, q);
        } else if (this.state === 'idle') {
          reject(new RingcastError('not_connected', 'call connect() first'));
        } else if (this._queue.length >= this.options.maxQueued) {
          reject(new RingcastError('not_connected', 'too many commands waiting for the connection'));
        } else {
          this._queue.push(q);
        }
      });
    }

    _transmit(cmd, q) {
      const id = this._nextId++;
      const msg = Object.assign({ id }, cmd);
      const timer = setTimeout(() => {
        if (!this._pending.has(id)) return;
        this._pending.delete(id);
        q.reject(new RingcastError('timeout', `no reply to ${cmd.op} in time`));
      }, this.options.requestTimeout);
      this._pending.set(id, { resolve: q.resolve, reject: q.reject, timer, op: cmd.op, channel: cmd.channel, cmd });
      try {
        this.ws.send(JSON.stringify(msg));
      } catch (err) {
        clearTimeout(timer);
        this._pending.delete(id);
        q.reject(new RingcastError('closed', 'the connection closed while sending'));
      }
    }

    _failQueued(err) {
      const queued = this._queue;
      this._queue = [];
      for (const q of queued) q.reject(err);
    }

    // Resolves (reply) or rejects (err) everyone waiting for the channel's subscription.
    _settle(entry, reply, err) {
      const waiters = entry.waiters;
      entry.waiters = [];
      for (const w of waiters) {
        if (err) w.reject(err);
        else w.resolve(reply);
      }
    }

    // Subscribes (or, after a reconnect, resubscribes with since) and keeps the channel's
    // offset; settles the entry's waiters with the reply.
    _subscribeEntry(channel, entry) {
      const cmd = { op: 'subscribe', channel };
      if (entry.presence) cmd.presence = true;
      const resuming = entry.offset !== null && entry.epoch !== null;
      if (resuming) cmd.since = { offset: entry.offset, epoch: entry.epoch };
      const onReply = (reply) => {
        if (this.channels.get(channel) !== entry) return; // unsubscribed meanwhile
        entry.subscribed = true;
        const lost = resuming && reply.recovered === false;
        // The missed messages follow this reply and advance the offset one by one.
        if (!resuming || lost) entry.offset = reply.offset;
        entry.epoch = reply.epoch;
        this._settle(entry, reply, null);
        this._emit('subscribed', {
          channel, offset: reply.offset, epoch: reply.epoch,
          resumed: resuming, recovered: resuming ? reply.recovered === true : null,
        });
        if (lost) {
          // The gateway no longer holds what was missed (history trimmed, or a restart that
          // changed the epoch): the application reloads its state.
          this._emit('reset', { channel, offset: reply.offset, epoch: reply.epoch });
        }
      };
      const onError = (err) => {
        if (this.channels.get(channel) !== entry) return;
        if (err.code === 'closed' || err.code === 'timeout') {
          this._emit('error', { code: err.code, message: err.message, channel });
          return; // tried again on the next connection
        }
        // Refused (forbidden, bad_request): not tried again.
        this.channels.delete(channel);
        this._settle(entry, null, err);
        this._emit('error', { code: err.code, message: err.message, channel });
      };
      this._transmit(cmd, { resolve: onReply, reject: onError, op: 'subscribe', channel });
    }

    // Subscribes to `channel`; {presence: true} also delivers join/leave events. The
    // subscription survives reconnects. Resolves with the reply
    // {type:'reply', ok:true, channel, offset, epoch} once subscribed (after a reconnect
    // when called while the connection is down).
    subscribe(channel, { presence = false } = {}) {
      if (this._stopped) return Promise.reject(new RingcastError('closed', 'the client was closed'));
      if (this.state === 'idle') return Promise.reject(new RingcastError('not_connected', 'call connect() first'));
      let entry = this.channels.get(channel);
      if (entry && entry.subscribed && (entry.presence || !presence)) {
        return Promise.resolve({ type: 'reply', ok: true, channel, offset: entry.offset, epoch: entry.epoch });
      }
      if (entry && presence && !entry.presence) {
        // Presence is chosen when subscribing: subscribe anew on the next connection.
        entry.presence = true;
      }
      if (!entry) {
        entry = { presence, offset: null, epoch: null, subscribed: false, waiters: [] };
        this.channels.set(channel, entry);
      }
      const wait = new Promise((resolve, reject) => entry.waiters.push({ resolve, reject }));
      if (this.state === 'open' && entry.waiters.length === 1 && !entry.subscribed) {
        this._subscribeEntry(channel, entry);
      } else if (this.state === 'open' && entry.subscribed) {
        // Asked for presence on a channel subscribed without it: leave and join again.
        entry.subscribed = false;
        this._send({ op: 'unsubscribe', channel }).then(
          () => this._subscribeEntry(channel, entry),
          (err) => this._settle(entry, null, err));
      }
      return wait;
    }

    unsubscribe(channel) {
      const entry = this.channels.get(channel);
      this.channels.delete(channel);
      if (entry) this._settle(entry, null, new RingcastError('closed', 'unsubscribed'));
      if (!entry || !entry.subscribed || this.state !== 'open') {
        return Promise.resolve({ type: 'reply', ok: true, channel });
      }
      return this._send({ op: 'unsubscribe', channel });
    }

    // Resolves with {type:'reply', ok:true, channel, offset} (the message's offset).
    publish(channel, data) {
      return this._send({ op: 'publish', channel, data });
    }

    // `to` is a user name or a list of them. Resolves with {type:'reply', ok:true}.
    send(to, data) {
      return this._send({ op: 'send', to, data });
    }

    // Resolves with the list [{user, name, conns}] of users subscribed to `channel`.
    presence(channel) {
      return this._send({ op: 'presence', channel }).then((f) => f.users);
    }

    // An application-level round trip; resolves with the pong frame.
    ping() {
      return this._send({ op: 'ping' });
    }

    // The last offset delivered for `channel` and the epoch it belongs to.
    position(channel) {
      const entry = this.channels.get(channel);
      return entry ? { offset: entry.offset, epoch: entry.epoch } : null;
    }
  }

  RingcastClient.Error = RingcastError;
  global.RingcastClient = RingcastClient;
})(typeof window !== 'undefined' ? window : globalThis);
