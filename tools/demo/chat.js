// The demo chat page's own code (index.html), on RingcastClient (ringcast.js). A file of its
// own, so that the page's Content-Security-Policy can refuse every inline script.
'use strict';
(function () {
  const $ = (sel) => document.querySelector(sel);
  const el = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'class') node.className = v;
      else if (k === 'dataset') { for (const [dk, dv] of Object.entries(v)) if (dv !== undefined) node.dataset[dk] = dv; }
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  };

  // ---- identity and avatars ----

  // User names the gateway accepts: 1..128 of [A-Za-z0-9] and _-:.@/=+#
  function userIdFrom(input) {
    const trimmed = input.trim();
    const local = trimmed.includes('@') ? trimmed.slice(0, trimmed.indexOf('@')) : trimmed;
    return local.replace(/\s+/g, '_').replace(/[^A-Za-z0-9_\-:.=+#]/g, '').slice(0, 64);
  }
  // The name shown to others: the part before the @ of an e-mail address, else as typed.
  function displayNameFrom(input) {
    const trimmed = input.trim().replace(/\s+/g, ' ');
    const name = trimmed.includes('@') ? trimmed.slice(0, trimmed.indexOf('@')) : trimmed;
    return name.slice(0, 64) || userIdFrom(input);
  }
  function roomFrom(input) {
    return input.trim().toLowerCase().replace(/\s+/g, '-').replace(/[^a-z0-9_\-]/g, '').slice(0, 40);
  }
  // FNV-1a: a stable hue per user, the same on every page.
  function hueOf(text) {
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h % 360;
  }
  function initialsOf(name) {
    const parts = name.split(/[\s._\-+]+/).filter(Boolean);
    if (parts.length >= 2) return (parts[0][0] + parts[1][0]).toUpperCase();
    return (parts[0] || name || '?').slice(0, 2).toUpperCase();
  }
  function paintAvatar(node, user, name) {
    node.textContent = initialsOf(name || user);
    node.style.setProperty('--hue', String(hueOf(user)));
    node.classList.toggle('api', user === 'api');
    return node;
  }
  function avatar(user, name, small) {
    return paintAvatar(el('span', { class: small ? 'avatar small' : 'avatar', 'aria-hidden': 'true' }), user, name);
  }

  function textOf(data) {
    if (typeof data === 'string') return data;
    if (data && typeof data.text === 'string') return data.text;
    if (data && typeof data.msg === 'string') return data.msg;
    return JSON.stringify(data);
  }
  // ---- message bodies: text, image or file (docs/PROTOCOL.md, "Media messages") ----

  // Only an absolute http: or https: URL is followed, without user:password@. Everything
  // else (javascript:, data:, blob:, relative and protocol-relative forms, which throw
  // without a base) is not: the message is shown as text instead.
  const MAX_URL_CHARS = 2048;
  function followableUrl(raw) {
    if (typeof raw !== 'string' || raw.length > MAX_URL_CHARS) return null;
    let url;
    try {
      url = new URL(raw);
    } catch {
      return null;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    if (url.username || url.password) return null;
    return url.href;
  }

  const mediaKindOf = (data) =>
    data && typeof data === 'object' && (data.type === 'image' || data.type === 'file') ? data.type : 'text';
  const stringField = (data, key, maxChars) => typeof data[key] === 'string' ? data[key].slice(0, maxChars) : '';

  // The body of a message; every string in it goes into the page as text, never as markup.
  function messageBody(data) {
    const kind = mediaKindOf(data);
    if (kind === 'text') return { media: 'text', node: el('p', { class: 'body' }, textOf(data)) };
    const name = stringField(data, 'name', 200);
    const url = followableUrl(data.url);
    const link = (...children) => el('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, ...children);
    if (url && kind === 'image') {
      // loading before src: an image given its src first would start loading at once.
      const img = el('img', { loading: 'lazy', decoding: 'async', referrerpolicy: 'no-referrer', alt: name || 'image', src: url });
      return { media: 'image', node: el('figure', { class: 'media image' }, link(img), name ? el('figcaption', {}, name) : null) };
    }
    if (url) return { media: 'file', node: el('p', { class: 'body media file' }, link(name || url)) };
    // No URL to follow: the kind, the name and what was given instead of a URL, as text.
    const given = typeof data.url === 'string' ? data.url.slice(0, MAX_URL_CHARS) : stringField(data, 'id', 200);
    const text = kind + ': ' + [name, given].filter(Boolean).join(' ');
    return { media: 'text', node: el('p', { class: 'body refused' }, text) };
  }

  function timeOf(ts) {
    const d = new Date(typeof ts === 'number' ? ts : Date.now());
    return el('time', { datetime: d.toISOString() },
      d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }));
  }

  // ---- state ----

  const client = new RingcastClient();
  const state = {
    me: null, // {user, name}
    rooms: new Map(), // room -> {channel, log, people: Map(user -> {name, conns}), unread, item}
    active: null,
    signedIn: false,
  };
  window.demo = { client, state }; // for the console and the browser test

  const channelOf = (room) => 'room:' + room;
  const roomOf = (channel) => channel.startsWith('room:') ? channel.slice(5) : null;

  // ---- status line and banners ----

  function setStatus(kind, text) {
    const s = $('#status');
    s.dataset.state = kind;
    s.textContent = text;
  }

  function banner(kind, label, text, ts) {
    const box = el('div', { class: 'banner ' + kind, role: kind === 'warn' ? 'alert' : 'status', dataset: { kind } },
      el('span', { class: 'label' }, label),
      el('span', { class: 'text' }, text),
      timeOf(ts));
    box.append(el('button', { class: 'dismiss', type: 'button', 'aria-label': 'Dismiss', onclick: () => box.remove() }, '×'));
    $('#banners').append(box);
    const all = $('#banners').children;
    while (all.length > 5) all[0].remove();
  }

  // ---- rooms ----

  function addRoom(room) {
    if (state.rooms.has(room)) return state.rooms.get(room);
    const log = el('ol', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages in #' + room, dataset: { room }, hidden: true });
    $('#logs').append(log);
    const r = { room, channel: channelOf(room), log, people: new Map(), unread: 0, item: null };
    state.rooms.set(room, r);
    renderRooms();
    client.subscribe(r.channel, { presence: true }).then(
      () => system(r, 'You joined #' + room),
      (err) => { system(r, 'Could not join #' + room + ': ' + err.message, true); });
    return r;
  }

  function leaveRoom(room) {
    const r = state.rooms.get(room);
    if (!r || state.rooms.size === 1) return;
    client.unsubscribe(r.channel).catch(() => {});
    r.log.remove();
    state.rooms.delete(room);
    if (state.active === room) showRoom(state.rooms.keys().next().value);
    renderRooms();
  }

  function renderRooms() {
    const list = $('#rooms');
    list.replaceChildren();
    for (const r of state.rooms.values()) {
      const current = r.room === state.active;
      const btn = el('button', { class: 'room-btn', type: 'button', 'aria-current': current ? 'true' : 'false', onclick: () => showRoom(r.room) },
        el('span', {}, '#' + r.room),
        r.unread > 0 ? el('span', { class: 'unread', 'aria-label': r.unread + ' unread' }, String(r.unread)) : null);
      const li = el('li', { dataset: { room: r.room } }, btn);
      if (state.rooms.size > 1) {
        li.append(el('button', { class: 'leave-btn', type: 'button', 'aria-label': 'Leave #' + r.room, title: 'Leave #' + r.room, onclick: () => leaveRoom(r.room) }, '×'));
      }
      list.append(li);
    }
  }

  function showRoom(room) {
    state.active = room;
    const r = state.rooms.get(room);
    r.unread = 0;
    for (const other of state.rooms.values()) other.log.hidden = other !== r;
    $('#room-title').textContent = '#' + room;
    renderRooms();
    renderPeople();
    scrollDown(true);
  }

  const activeRoom = () => state.rooms.get(state.active);

  // ---- people (presence) ----

  function renderPeople() {
    const r = activeRoom();
    if (!r) return;
    const people = Array.from(r.people.entries()).sort((a, b) => a[0].localeCompare(b[0]));
    const list = $('#people');
    list.replaceChildren();
    for (const [user, p] of people) {
      const you = state.me && user === state.me.user;
      list.append(el('li', { dataset: { user } },
        avatar(user, p.name, true),
        el('span', {},
          el('span', { class: 'name' }, p.name || user, you ? el('span', { class: 'you' }, ' (you)') : null),
          p.name && p.name !== user ? el('span', { class: 'sub' }, ' @' + user) : null,
          p.conns > 1 ? el('span', { class: 'sub' }, ' · ' + p.conns + ' tabs') : null)));
    }
    const n = people.length;
    $('#online-count').textContent = n + ' online';
    $('#people-title').textContent = 'Online · ' + n;
    renderRecipients(people);
  }

  // The "to whom" drop-down: everyone in the room, or one person only.
  function renderRecipients(people) {
    const select = $('#to');
    const previous = select.value;
    select.replaceChildren(el('option', { value: '' }, 'Everyone in #' + state.active));
    const others = people.filter(([user]) => !state.me || user !== state.me.user);
    if (others.length > 0) {
      const group = el('optgroup', { label: 'Only to' });
      for (const [user, p] of others) group.append(el('option', { value: user }, p.name && p.name !== user ? p.name + ' (@' + user + ')' : user));
      select.append(group);
    }
    select.value = Array.from(select.options).some((o) => o.value === previous) ? previous : '';
  }

  // Joins and leaves update the list at once; a presence query then brings display names
  // and connection counts (the full list, as every join or leave pushes it).
  const refreshTimers = new Map();
  function refreshPeople(r, delay = 0) {
    clearTimeout(refreshTimers.get(r.room));
    refreshTimers.set(r.room, setTimeout(() => {
      client.presence(r.channel).then((users) => {
        if (state.rooms.get(r.room) !== r) return;
        r.people = new Map(users.map((u) => [u.user, { name: u.name, conns: u.conns }]));
        if (r.room === state.active) renderPeople();
      }, () => {});
    }, delay));
  }

  // ---- the log ----

  function scrollDown(force) {
    const box = $('#logs');
    const near = box.scrollHeight - box.scrollTop - box.clientHeight < 120;
    if (force || near) box.scrollTop = box.scrollHeight;
  }

  function append(r, node) {
    r.log.append(node);
    if (r.room === state.active) {
      scrollDown(false);
    } else if (node.classList.contains('msg')) {
      r.unread += 1;
      renderRooms();
    }
  }

  function system(r, text, error) {
    if (!r) return;
    append(r, el('li', { class: error ? 'sys error' : 'sys' }, text));
  }

  // kind: room | direct-in | direct-out
  function messageItem(r, { kind, from, to, ts, data, offset }) {
    const own = state.me && from === state.me.user;
    const classes = ['msg'];
    if (own) classes.push('own');
    if (kind !== 'room') classes.push('direct');
    if (from === 'api') classes.push('api');
    const person = r && r.people.get(from);
    const shownName = own ? 'You' : (person && person.name) || from;
    const tag = kind === 'direct-in' ? 'privately to you' : kind === 'direct-out' ? 'privately to ' + to : null;
    const body = messageBody(data);
    return el('li', { class: classes.join(' '), dataset: { kind, from, media: body.media, offset: offset !== undefined ? String(offset) : undefined } },
      avatar(from, person && person.name),
      el('div', { class: 'bubble' },
        el('div', { class: 'meta' },
          el('span', { class: 'from' }, shownName),
          tag ? el('span', { class: 'tag' }, tag) : null,
          timeOf(ts)),
        body.node));
  }

  // ---- client events ----

  client.on('welcome', (f) => {
    state.me.user = f.user;
    setStatus('open', 'Connected as ' + f.user + (f.reconnect ? ' (reconnected)' : ''));
  });

  client.on('close', (info) => {
    if (!state.signedIn) return;
    const why = info.code + (info.reason ? ' ' + info.reason : '');
    if (info.willReconnect) {
      setStatus('waiting', 'Connection closed (' + why + '). Reconnecting in ' + Math.round(info.delay / 1000) + ' s…');
    } else {
      setStatus('closed', 'Disconnected (' + why + ')');
    }
    if (info.wasOpen) for (const r of state.rooms.values()) system(r, 'Connection lost (' + why + ')');
  });

  client.on('open', () => setStatus('connecting', 'Connected, waiting for the welcome…'));

  client.on('subscribed', (s) => {
    const r = state.rooms.get(roomOf(s.channel));
    if (!r) return;
    if (s.resumed && s.recovered) system(r, 'Back online: missed messages recovered');
    refreshPeople(r);
  });

  client.on('reset', (s) => {
    const r = state.rooms.get(roomOf(s.channel));
    if (!r) return;
    // The gateway no longer has what was missed: start the room afresh.
    r.log.replaceChildren();
    system(r, 'Messages sent while you were away could not be recovered; the room starts afresh here');
    banner('warn', 'History lost', 'Some messages in #' + r.room + ' could not be recovered.');
    refreshPeople(r);
  });

  client.on('message', (m) => {
    const r = state.rooms.get(roomOf(m.channel));
    if (!r) return;
    append(r, messageItem(r, { kind: 'room', from: m.from, ts: m.ts, data: m.data, offset: m.offset }));
  });

  client.on('direct', (m) => {
    const r = activeRoom();
    if (!r) return;
    append(r, messageItem(r, { kind: 'direct-in', from: m.from, to: m.to, ts: m.ts, data: m.data }));
  });

  client.on('notice', (n) => banner('notice', 'Notice', textOf(n.data), n.ts));

  client.on('dropped', (d) => {
    banner('warn', 'Messages dropped', d.count + (d.count === 1 ? ' message was' : ' messages were') +
      ' dropped because this page could not keep up.');
  });

  function presenceChange(f, joined) {
    const r = state.rooms.get(roomOf(f.channel));
    if (!r) return;
    if (joined) {
      if (!r.people.has(f.user)) r.people.set(f.user, { name: f.user, conns: 1 });
    } else {
      r.people.delete(f.user);
    }
    if (!state.me || f.user !== state.me.user) system(r, f.user + (joined ? ' joined' : ' left'));
    if (r.room === state.active) renderPeople();
    refreshPeople(r, 50);
  }
  client.on('join', (f) => presenceChange(f, true));
  client.on('leave', (f) => presenceChange(f, false));

  client.on('error', (e) => {
    const r = e.channel ? state.rooms.get(roomOf(e.channel)) : activeRoom();
    if (e.code === 'socket' || e.code === 'closed') return; // the close event says it
    system(r, 'Error: ' + (e.message || e.code), true);
  });

  // ---- forms ----

  function updatePreview() {
    const value = $('#signin-id').value;
    const user = userIdFrom(value);
    const show = user.length > 0;
    $('#signin-preview').textContent = show ? 'You will appear as ' + displayNameFrom(value) : '';
    $('#signin-avatar').hidden = !show;
    if (show) paintAvatar($('#signin-avatar'), user, displayNameFrom(value));
  }
  $('#signin-id').addEventListener('input', updatePreview);

  $('#signin').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const typed = $('#signin-id').value;
    const user = userIdFrom(typed);
    const room = roomFrom($('#signin-room').value) || 'lobby';
    if (!user) {
      $('#signin-hint').textContent = 'Please enter a name or an e-mail address (letters and digits).';
      $('#signin-id').focus();
      return;
    }
    signIn(user, displayNameFrom(typed), room);
  });

  function signIn(user, name, room) {
    state.me = { user, name };
    state.signedIn = true;
    paintAvatar($('#me-avatar'), user, name);
    $('#me-name').textContent = name;
    $('#me').hidden = false;
    $('#signin').hidden = true;
    $('#chat').hidden = false;
    setStatus('connecting', 'Connecting…');
    client.connect('/ws', { user, name });
    addRoom(room);
    showRoom(room);
    $('#text').focus();
  }

  $('#signout').addEventListener('click', () => {
    state.signedIn = false;
    client.close(1000, 'signed out');
    setStatus('closed', 'Signed out');
    $('#me').hidden = true;
    $('#chat').hidden = true;
    $('#signin').hidden = false;
    // A fresh page is the simplest way to start over with another name.
    setTimeout(() => location.reload(), 300);
  });

  $('#join-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const room = roomFrom($('#join-room').value);
    if (!room) return;
    $('#join-room').value = '';
    addRoom(room);
    showRoom(room);
  });

  $('#composer').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = $('#text');
    const text = input.value.trim();
    const r = activeRoom();
    if (!text || !r) return;
    const to = $('#to').value;
    const data = { text };
    input.value = '';
    const sent = to
      ? client.send(to, data).then(() => append(r, messageItem(r, { kind: 'direct-out', from: state.me.user, to, ts: Date.now(), data })))
      : client.publish(r.channel, data);
    sent.catch((err) => {
      if (!input.value) input.value = text;
      system(r, 'Not sent: ' + err.message, true);
    });
  });

  // ?user=NAME&room=ROOM signs in at once (handy for several tabs).
  const params = new URLSearchParams(location.search);
  if (params.get('room')) $('#signin-room').value = params.get('room');
  if (params.get('user')) {
    $('#signin-id').value = params.get('user');
    const user = userIdFrom(params.get('user'));
    if (user) signIn(user, displayNameFrom(params.get('user')), roomFrom($('#signin-room').value) || 'lobby');
  }
  updatePreview();
})();
