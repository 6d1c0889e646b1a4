// chatserver browser client: the seed tutorial's page grown into a usable chat.
// Rule for this file: text that came from a user or the server is only ever put into the
// page with textContent / createTextNode, never innerHTML, so it cannot become markup.
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const el = {
    status: $('status'), whoami: $('whoami'),
    connectForm: $('connectForm'), host: $('hostInput'), port: $('portInput'),
    connect: $('connectButton'), disconnect: $('disconnectButton'),
    loginForm: $('loginForm'), id: $('idInput'), alias: $('aliasInput'), password: $('passwordInput'),
    login: $('loginButton'), logout: $('logoutButton'),
    users: $('users'), userCount: $('userCount'),
    messageForm: $('messageForm'), recipient: $('recipient'), message: $('messageInput'), send: $('sendButton'),
    results: $('results'),
  };

  // Settings come from data- attributes, so the page needs no inline script (CSP-friendly).
  let namespace = document.body.dataset.namespace || '/';
  if (!namespace.startsWith('/')) namespace = '/' + namespace;

  const MAX_LOG_ENTRIES = 1000; // keeps a long-open tab from growing without bound

  let socket = null;       // the current Socket.IO socket, or null when disconnected by the user
  let connected = false;
  let me = null;           // login id confirmed by the server
  let pendingLogin = null; // the login payload awaiting its response
  let lastLogin = null;    // replayed after an automatic reconnect: the server forgets us then
  let lastConnectError = '';
  const users = new Map(); // online users: id -> alias

  // --- log -----------------------------------------------------------------

  function append(node) {
    // Follow new entries only when the reader is already at the bottom.
    const r = el.results;
    const atBottom = r.scrollHeight - r.scrollTop - r.clientHeight < 40;
    r.appendChild(node);
    while (r.childElementCount > MAX_LOG_ENTRIES) r.firstElementChild.remove();
    if (atBottom) r.scrollTop = r.scrollHeight;
  }

  function line(cls, text) {
    const p = document.createElement('p');
    p.className = cls;
    p.textContent = text;
    append(p);
    console.log(text);
  }
  const println = (text) => line('status', text); // as in the seed
  const printError = (text) => line('error', text);

  function span(cls, text) {
    const s = document.createElement('span');
    s.className = cls;
    s.textContent = text;
    return s;
  }

  function timeElement(ms) {
    const t = document.createElement('time');
    t.className = 'time';
    const d = new Date(Number.isFinite(ms) ? ms : Date.now());
    t.dateTime = d.toISOString();
    t.title = d.toLocaleString();
    t.textContent = d.toLocaleTimeString();
    return t;
  }

  function displayName(id) {
    const alias = users.get(id);
    return alias && alias !== id ? `${alias} (${id})` : String(id);
  }

  // One chat line; `cls` is "message" for what the server delivered, "outgoing" for our own
  // private messages (the server does not echo those back to the sender).
  function chatEntry(cls, msg) {
    const isPrivate = msg.recepient !== 'ALL';
    const div = document.createElement('div');
    div.className = cls + (isPrivate ? ' private' : '');
    div.dataset.sender = String(msg.sender ?? '');
    div.dataset.recepient = String(msg.recepient ?? '');
    if (msg.id !== undefined) div.dataset.id = String(msg.id);
    div.append(timeElement(msg.timestamp), span('sender', displayName(msg.sender ?? '?')));
    if (isPrivate) {
      const to = msg.recepient === me ? 'private' : `private to ${displayName(msg.recepient)}`;
      div.append(span('marker', to));
    }
    div.append(span('data', String(msg.data ?? '')));
    append(div);
  }

  // --- state shown on the page ---------------------------------------------

  function render() {
    const state = connected ? 'connected' : socket ? 'connecting' : 'disconnected';
    el.status.textContent = state;
    el.status.dataset.state = state;
    el.whoami.textContent = me ? `logged in as ${me}` : 'not logged in';
    el.connect.disabled = socket !== null;
    el.disconnect.disabled = socket === null;
    el.host.disabled = el.port.disabled = socket !== null;
    el.login.disabled = !connected;
    el.logout.disabled = !connected || !me;
    el.send.disabled = !connected;
  }

  function renderUsers() {
    const sorted = [...users].sort((a, b) => displayName(a[0]).localeCompare(displayName(b[0])));
    el.users.replaceChildren(...sorted.map(([id]) => {
      const li = document.createElement('li');
      li.dataset.id = id;
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = displayName(id) + (id === me ? ' (you)' : '');
      b.title = `Send a private message to ${id}`;
      li.appendChild(b);
      return li;
    }));
    el.userCount.textContent = String(users.size);

    // Rebuild the picker but keep the chosen recipient even if they just went offline:
    // silently falling back to ALL would broadcast a message meant to be private.
    const chosen = el.recipient.value;
    const options = [new Option('Everyone (ALL)', 'ALL')];
    for (const [id] of sorted) options.push(new Option(displayName(id) + (id === me ? ' (you)' : ''), id));
    if (chosen !== 'ALL' && !users.has(chosen) && chosen) options.push(new Option(`${chosen} (offline)`, chosen));
    el.recipient.replaceChildren(...options); // Option() sets text as text, not markup
    el.recipient.value = chosen || 'ALL';
  }

  function clearSession() {
    me = null;
    pendingLogin = null;
    users.clear();
    renderUsers();
  }

  // --- connection ----------------------------------------------------------

  function serverUrl() {
    let host = el.host.value.trim() || 'localhost';
    if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`; // bare IPv6 address
    const port = el.port.value.trim();
    return `${location.protocol === 'https:' ? 'https:' : 'http:'}//${host}${port ? ':' + port : ''}`;
  }

  function connect() {
    if (socket) return;
    const url = serverUrl();
    const options = { forceNew: true };
    const s = io(url + namespace, options);
    socket = s;
    lastConnectError = '';
    const where = namespace === '/' ? url : url + namespace;
    println(`connecting to ${where} ...`);

    s.on('connect', () => {
      connected = true;
      lastConnectError = '';
      println(`connected to ${where}`);
      // After an automatic reconnect the server has a new socket that is not logged in.
      if (lastLogin) {
        println(`logging in again as ${lastLogin.id}`);
        emitLogin(lastLogin);
      }
      render();
    });
    s.on('disconnect', (reason) => {
      connected = false;
      clearSession();
      println(`disconnected (${reason})`);
      // Lost connections are retried by the client; a server kick is not, so forget the socket.
      if (socket === s && !s.active) {
        socket = null;
        lastLogin = null;
      }
      render();
    });
    s.on('connect_error', (err) => {
      // The client retries on its own; report each distinct failure once, not every retry.
      const text = `connection failed: ${err && err.message ? err.message : err}`;
      if (text !== lastConnectError) printError(text);
      lastConnectError = text;
    });

    s.on('response', onResponse);
    s.on('presence', onPresence);
    s.on('message', (msg) => {
      if (msg && typeof msg === 'object') chatEntry('message', msg);
    });
    render();
  }

  function disconnect() {
    if (!socket) return;
    lastLogin = null; // the user chose to leave: do not log back in
    const s = socket;
    socket = null;
    if (!connected) println('connection attempt cancelled');
    s.disconnect(); // fires 'disconnect' (and its log line) when it was connected
    connected = false;
    clearSession();
    render();
  }

  // --- server events -------------------------------------------------------

  function onResponse(res) {
    if (!res || typeof res !== 'object') return;
    const code = String(res.code);
    if (code !== '200') {
      if (res.command === 'login') {
        pendingLogin = null;
        if (!me) lastLogin = null; // a refused re-login must not be retried forever
      }
      printError(`${res.command || 'request'} failed (${code}): ${res.message ?? ''}`);
      return;
    }
    if (res.command === 'login' && pendingLogin) {
      me = pendingLogin.id;
      lastLogin = pendingLogin;
      pendingLogin = null;
      println(`logged in as ${me}`);
      renderUsers(); // re-mark "you"
    } else if (res.command === 'logout') {
      clearSession();
      println('logged out');
    }
    render();
  }

  function onPresence(p) {
    if (!p || typeof p !== 'object') return;
    if (p.command === 'list' && Array.isArray(p.users)) {
      users.clear();
      for (const u of p.users) if (u && u.id !== undefined) users.set(String(u.id), u.alias ? String(u.alias) : '');
    } else if (p.command === 'online' && p.id !== undefined) {
      users.set(String(p.id), p.alias ? String(p.alias) : '');
    } else if (p.command === 'offline' && p.id !== undefined) {
      users.delete(String(p.id));
    } else {
      return;
    }
    renderUsers();
  }

  // --- user actions --------------------------------------------------------

  function emitLogin(payload) {
    pendingLogin = payload;
    socket.emit('login', payload);
  }

  function login() {
    if (!connected) return printError('not connected');
    const id = el.id.value.trim();
    if (!id) return printError('login: enter an id');
    const payload = { id };
    const alias = el.alias.value.trim();
    if (alias) payload.alias = alias;
    if (el.password.value) payload.password = el.password.value; // omitted when empty
    emitLogin(payload);
  }

  function logout() {
    if (!connected) return;
    lastLogin = null;
    socket.emit('logout');
  }

  function sendMessage() {
    if (!connected) return printError('not connected');
    const data = el.message.value;
    if (!data.trim()) return;
    const recepient = el.recipient.value || 'ALL'; // the seed's spelling, on purpose
    const payload = { recepient, command: 'chat', type: 'text', data };
    // The server acknowledges with the same object as `response`; for a private message we
    // show our own copy once it was delivered, since only the recipient gets it back.
    socket.emit('message', payload, (ack) => {
      if (recepient !== 'ALL' && recepient !== me && ack && String(ack.code) === '200') {
        chatEntry('outgoing', { sender: me, recepient, data, timestamp: Date.now() });
      }
    });
    el.message.value = '';
    el.message.focus();
  }

  // Forms give Enter-to-submit for free; preventDefault keeps the page from navigating.
  const onSubmit = (form, fn) => form.addEventListener('submit', (e) => { e.preventDefault(); fn(); });
  onSubmit(el.connectForm, connect);
  onSubmit(el.loginForm, login);
  onSubmit(el.messageForm, sendMessage);
  el.disconnect.addEventListener('click', disconnect);
  el.logout.addEventListener('click', logout);
  el.users.addEventListener('click', (e) => {
    const li = e.target.closest('li[data-id]');
    if (!li) return;
    el.recipient.value = li.dataset.id;
    el.message.focus();
  });

  // Default to the server that served this page, like the seed's localhost:3000.
  if (location.hostname) {
    el.host.value = location.hostname.replace(/^\[(.*)\]$/, '$1');
    el.port.value = location.port || (location.protocol === 'https:' ? '443' : '80');
  }
  if (typeof io !== 'function') printError('socket.io client failed to load');
  render();
})();
