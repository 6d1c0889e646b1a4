// chatserver browser client: sign in, conversations, messages. An ES module, no build step.
// Rule for this page: text that came from a user or the server is only ever put into the page
// with textContent / text nodes (chat/text.js), never innerHTML, so it cannot become markup.
import { LANGUAGES, language, setLanguage, t, translatePage } from './chat/i18n.js';
import { clock, dayKey, dayLabel, element, linkified } from './chat/text.js';

const $ = (id) => document.getElementById(id);
const el = {
  status: $('status'), signin: $('signin'), app: $('app'),
  signinForm: $('signinForm'), id: $('idInput'), password: $('passwordInput'), alias: $('aliasInput'),
  signinError: $('signinError'), signinButton: $('signinButton'), register: $('registerButton'), guest: $('guestButton'),
  host: $('hostInput'), port: $('portInput'), connect: $('connectButton'),
  whoami: $('whoami'), guestBadge: $('guestBadge'), signout: $('signoutButton'),
  allList: $('allList'), roomList: $('roomList'), otherRooms: $('otherRoomsSection'), otherRoomList: $('otherRoomList'),
  users: $('users'), notices: $('notices'), notify: $('notifyButton'),
  newRoom: $('newRoomButton'), roomForm: $('roomForm'), roomId: $('roomIdInput'), roomName: $('roomNameInput'),
  roomPrivate: $('roomPrivateInput'), roomCancel: $('roomCancelButton'),
  back: $('backButton'), title: $('conversationTitle'), sub: $('conversationSub'),
  roomActions: $('roomActions'), membersButton: $('membersButton'), leave: $('leaveButton'), deleteRoom: $('deleteRoomButton'),
  membersPanel: $('membersPanel'), membersList: $('membersList'), inviteForm: $('inviteForm'), invite: $('inviteInput'),
  results: $('results'), announcer: $('announcer'), typing: $('typing'), messageForm: $('messageForm'), message: $('messageInput'), send: $('sendButton'),
};

let namespace = document.body.dataset.namespace || '/';
if (!namespace.startsWith('/')) namespace = '/' + namespace;

const SESSION_KEY = 'chatserver.session';
const PAGE_SIZE = 50;
const ACK_TIMEOUT_MS = 10000;
const TYPING_REPEAT_MS = 3000;  // a typist is re-announced this often
const TYPING_IDLE_MS = 4000;    // after this long without a key, "stopped typing"
const TYPING_SHOWN_MS = 6000;   // someone else's typing expires if no update came

// --- state -------------------------------------------------------------------

let socket = null;
let connected = false;
let me = null;              // {id, alias, registered} once the server said 200 to a login
let signingIn = null;       // the login payload awaiting its answer
const users = new Map();    // online users: id -> alias
const rooms = new Map();    // visible rooms: id -> {id, name, owner, members, private}
const joined = new Set();   // rooms this user is a member of
const conversations = new Map(); // key -> conversation, see conversation()
let openKey = 'ALL';
let localIds = 0;
let hiddenUnread = 0;

const keyOf = (kind, id) => (kind === 'all' ? 'ALL' : `${kind === 'room' ? 'r' : 'u'}:${id}`);

/** The conversation for a key, created empty on first use. */
function conversation(key) {
  let conv = conversations.get(key);
  if (!conv) {
    const kind = key === 'ALL' ? 'all' : key.startsWith('r:') ? 'room' : 'user';
    conv = {
      key, kind, id: kind === 'all' ? 'ALL' : key.slice(2),
      messages: [],        // oldest first: delivered ones with an id, our pending ones with a localId
      ids: new Set(),      // every id we hold, so a catch-up or echo never shows a message twice
      loaded: false, loading: false, more: false,
      unread: 0, peerRead: 0, // peerRead: the timestamp up to which the peer has read (one-to-one)
      typing: new Map(),   // sender -> timer
    };
    conversations.set(key, conv);
  }
  return conv;
}

const commandOf = (conv) => (conv.kind === 'room' ? 'groupchat' : 'chat');
const recipientOf = (conv) => conv.id;

function nameOf(id) {
  const alias = users.get(id);
  return alias && alias !== id ? alias : String(id);
}

function titleOf(conv) {
  if (conv.kind === 'all') return t('everyone');
  if (conv.kind === 'room') return rooms.get(conv.id)?.name || conv.id;
  return nameOf(conv.id);
}

// --- session storage -----------------------------------------------------------

function savedSession() {
  try { return JSON.parse(localStorage.getItem(SESSION_KEY) || 'null'); } catch { return null; }
}
function saveSession(session) {
  try { localStorage.setItem(SESSION_KEY, JSON.stringify(session)); } catch { /* private mode: no auto sign-in */ }
}
function forgetSession() {
  try { localStorage.removeItem(SESSION_KEY); } catch { /* nothing kept */ }
}

// --- connection ----------------------------------------------------------------

function serverUrl() {
  let host = el.host.value.trim() || location.hostname || 'localhost';
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`; // bare IPv6 address
  const port = el.port.value.trim();
  return `${location.protocol === 'https:' ? 'https:' : 'http:'}//${host}${port ? ':' + port : ''}`;
}

function whereText() {
  return `${el.host.value.trim() || location.hostname}${el.port.value.trim() ? ':' + el.port.value.trim() : ''}`;
}

/** Offer guests and registration as the page's own server allows; another server decides for itself. */
function offerSignInKinds(ownServer) {
  el.guest.hidden = ownServer && document.body.dataset.guests === 'off';
  el.register.hidden = ownServer && document.body.dataset.registration === 'closed';
}

/** Connect (again) to the server the host and port fields name; the client retries on its own. */
function connect() {
  offerSignInKinds(serverUrl() === `${location.protocol}//${location.host}`);
  if (socket) {
    socket.removeAllListeners();
    socket.disconnect();
  }
  connected = false;
  showStatus('connecting', t('connecting'));
  const s = io(serverUrl() + namespace, { forceNew: true, auth: { lang: language() } });
  socket = s;

  s.on('connect', () => {
    connected = true;
    showStatus('connected', '');
    // A recovered socket kept its login, rooms and missed events: nothing to do, nothing to say.
    if (s.recovered && me) return renderComposer();
    const session = savedSession();
    // Signed in before this connection: again, with the kept token (a guest needs none).
    const who = session || me;
    if (who) login({ id: who.id, ...(who.token ? { token: who.token } : {}), ...(who.alias ? { alias: who.alias } : {}) }, true);
    renderComposer();
  });
  s.on('disconnect', (reason) => {
    connected = false;
    // The server ended it (a restart, a kick): the client does not retry that by itself. We do,
    // so a restarted server gets us back; a kicked or banned user hears it from the login.
    if (reason === 'io server disconnect') s.connect();
    showStatus('reconnecting', t('reconnecting'));
    renderComposer();
  });
  s.on('connect_error', () => {
    // Raw transport errors ("xhr poll error") mean nothing to people: say what happens instead.
    showStatus('error', t('cannotReach', { where: whereText() }));
    if (!me && el.signin.hidden) showSignin('', el.id.value); // the way to another server is there
  });
  s.on('response', onResponse);
  s.on('presence', onPresence);
  s.on('message', onMessage);
  s.on('room', onRoom);
  s.on('typing', onTyping);
  s.on('read', onRead);
}

function showStatus(state, text) {
  el.status.dataset.state = state;
  el.status.textContent = text;
}

/** Emit with an acknowledgement that fails after a timeout instead of waiting forever. */
async function request(event, payload) {
  // Someone quick may sign in before the first connection is up: give it a moment.
  if (!connected && socket && (event === 'login' || event === 'register')) await connection(ACK_TIMEOUT_MS);
  return new Promise((resolve) => {
    // Not queued for later: a message sent after its failure was shown would arrive twice.
    if (!socket || !connected) return resolve({ code: 'offline', message: t('reconnecting') });
    socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (err, answer) => {
      resolve(err ? { code: 'timeout', message: t('noAnswer') } : answer || {});
    });
  });
}

/** Resolves once connected, or after `ms`. */
function connection(ms) {
  return new Promise((resolve) => {
    const s = socket;
    const done = () => { clearTimeout(timer); s.off('connect', done); resolve(); };
    const timer = setTimeout(done, ms);
    s.once('connect', done);
  });
}

// --- signing in and out ----------------------------------------------------------

async function login(payload, automatic = false) {
  signingIn = payload;
  const answer = await request('login', { ...payload, lang: language() });
  if (signingIn !== payload) return;
  signingIn = null;
  if (String(answer.code) !== '200') {
    const code = String(answer.code);
    if (automatic && (code === '401' || code === '403')) {
      // The kept token expired or was revoked, or the account was banned: back to the form.
      forgetSession();
      me = null;
      reset();
      showSignin(code === '401' ? t('sessionExpired') : answer.message, payload.id);
    } else if (automatic) {
      // Passing trouble (database down, no answer): say so; the next reconnect tries again.
      showStatus('error', answer.message || code);
      if (!me) showSignin('', payload.id);
    } else {
      el.signinError.textContent = answer.message || String(answer.code);
    }
    return;
  }
  const first = !me;
  me = { id: payload.id, alias: payload.alias || '', registered: Boolean(answer.registered) };
  const kept = savedSession();
  saveSession({ id: me.id, alias: me.alias, token: answer.token || kept?.token || undefined, registered: me.registered });
  el.password.value = '';
  if (!first && !me.registered) {
    // A guest's memberships end with its last socket: after a drop it starts with no rooms.
    for (const id of joined) conversations.delete(keyOf('room', id));
    joined.clear();
  }
  showApp();
  if (!first && !conversations.has(openKey)) openConversation('ALL');
  if (!first) return catchUp();
  if (me.registered) request('conversations', {}); // direct messages, joined rooms, unread counts
  openConversation(openKey);
}

function signinFields() {
  const id = el.id.value.trim();
  if (!id) {
    el.signinError.textContent = t('enterId');
    el.id.focus();
    return null;
  }
  const payload = { id };
  const alias = el.alias.value.trim();
  if (alias) payload.alias = alias;
  return payload;
}

function signIn() {
  const payload = signinFields();
  if (!payload) return;
  if (el.password.value) payload.password = el.password.value;
  el.signinError.textContent = '';
  login(payload);
}

function signInAsGuest() {
  const payload = signinFields();
  if (!payload) return;
  el.signinError.textContent = '';
  login(payload);
}

async function register() {
  const payload = signinFields();
  if (!payload) return;
  if (!el.password.value) {
    el.signinError.textContent = t('enterPassword');
    return el.password.focus();
  }
  payload.password = el.password.value;
  el.signinError.textContent = '';
  const answer = await request('register', payload);
  if (String(answer.code) !== '200') {
    el.signinError.textContent = answer.message || String(answer.code);
    return;
  }
  el.signinError.textContent = t('registered');
  login(payload);
}

async function signOut() {
  await request('logout', {});
  forgetSession();
  me = null;
  reset();
  showSignin(t('signedOut'));
}

/** Forget everything about the last user, so the next one starts clean. */
function reset() {
  users.clear();
  rooms.clear();
  joined.clear();
  conversations.clear();
  openKey = 'ALL';
  hiddenUnread = 0;
  updateTitle();
}

function showSignin(note = '', id = '') {
  el.app.hidden = true;
  el.signin.hidden = false;
  el.signinError.textContent = note;
  if (id) el.id.value = id;
  (id ? el.password : el.id).focus();
}

function showApp() {
  el.signin.hidden = true;
  el.app.hidden = false;
  el.whoami.textContent = t('signedInAs', { id: me.alias && me.alias !== me.id ? `${me.alias} (${me.id})` : me.id });
  el.guestBadge.hidden = me.registered;
  el.notify.hidden = !('Notification' in window) || Notification.permission !== 'default';
  renderSidebar();
}

// --- server events -----------------------------------------------------------

function onResponse(res) {
  // Answers arrive through acknowledgements too; this catches the ones nobody waits for.
  if (!res || typeof res !== 'object') return;
  if (res.command === 'conversations' && Array.isArray(res.conversations)) applyConversations(res.conversations);
}

function onPresence(p) {
  if (!p || typeof p !== 'object') return;
  if (p.command === 'list' && Array.isArray(p.users)) {
    users.clear();
    for (const u of p.users) if (u && u.id !== undefined) users.set(String(u.id), u.alias ? String(u.alias) : '');
  } else if (p.command === 'online' && p.id !== undefined) {
    users.set(String(p.id), p.alias ? String(p.alias) : '');
    if (me && p.id !== me.id) notice(t('isOnline', { name: nameOf(String(p.id)) }), 'presence');
  } else if (p.command === 'offline' && p.id !== undefined) {
    const name = nameOf(String(p.id));
    users.delete(String(p.id));
    if (me && p.id !== me.id) notice(t('isOffline', { name }), 'presence');
  } else {
    return;
  }
  renderSidebar();
  renderHeader();
}

function conversationOfMessage(msg) {
  if (msg.command === 'groupchat') return keyOf('room', msg.recepient);
  if (msg.recepient === 'ALL') return 'ALL';
  return keyOf('user', msg.sender === me?.id ? msg.recepient : msg.sender);
}

function onMessage(msg) {
  if (!msg || typeof msg !== 'object' || !me) return;
  const conv = conversation(conversationOfMessage(msg));
  if (!addMessage(conv, msg)) return;
  stopTyping(conv, msg.sender);
  const mine = msg.sender === me.id;
  const seen = conv.key === openKey && !document.hidden && !el.app.hidden;
  if (!mine && !seen) conv.unread += 1;
  if (!mine && document.hidden) alertHidden(conv, msg);
  if (conv.key === openKey) {
    renderMessages();
    if (seen) markRead(conv);
    if (!mine) el.announcer.textContent = `${nameOf(msg.sender)}: ${msg.data}`;
  }
  renderSidebar();
}

/** Put a delivered message into its conversation once; our own echo replaces its pending copy. */
function addMessage(conv, msg) {
  if (msg.id !== undefined && conv.ids.has(msg.id)) return false;
  if (msg.id !== undefined) conv.ids.add(msg.id);
  if (msg.sender === me.id) {
    // A copy shown as failed may have reached the server all the same (its answer was lost in a
    // drop and the echo comes with the recovery): the echo proves it went. Pending copies first.
    const unsent = conv.messages.filter((m) => m.localId && !m.id && m.data === msg.data);
    const copy = unsent.find((m) => m.state !== 'failed') || unsent[0];
    if (copy) {
      Object.assign(copy, msg, { state: 'sent' });
      return true;
    }
  }
  conv.messages.push({ ...msg, timestamp: Number(msg.timestamp) || Date.now() });
  return true;
}

function onRoom(event) {
  if (!event || typeof event !== 'object') return;
  if (event.command === 'list' && Array.isArray(event.rooms)) {
    rooms.clear();
    for (const room of event.rooms) if (room && room.id !== undefined) rooms.set(String(room.id), room);
    for (const id of joined) if (!rooms.has(id)) joined.delete(id);
    renderSidebar();
    renderHeader();
  } else if (event.command === 'invite') {
    notice(t('invitedYou', { sender: nameOf(String(event.sender)), room: event.roomName || event.roomId }), 'invite',
      { label: t('join'), action: () => joinRoom(String(event.roomId)) });
  } else if (event.command === 'delete') {
    joined.delete(String(event.roomId));
    notice(t('roomDeleted', { room: event.roomName || event.roomId }), 'room');
    if (openKey === keyOf('room', event.roomId)) openConversation('ALL');
    renderSidebar();
  }
}

function onTyping(event) {
  if (!event || typeof event !== 'object' || event.sender === me?.id) return;
  const key = event.command === 'groupchat' ? keyOf('room', event.recepient)
    : event.recepient === 'ALL' ? 'ALL' : keyOf('user', event.sender);
  const conv = conversation(key);
  stopTyping(conv, event.sender);
  if (event.typing) conv.typing.set(event.sender, setTimeout(() => stopTyping(conv, event.sender), TYPING_SHOWN_MS));
  if (key === openKey) renderTyping();
}

function stopTyping(conv, sender) {
  clearTimeout(conv.typing.get(sender));
  if (conv.typing.delete(sender) && conv.key === openKey) renderTyping();
}

function onRead(event) {
  if (!event || typeof event !== 'object' || !me || event.reader === me.id) return;
  if (event.command === 'groupchat') return; // read marks are shown for one-to-one only
  const conv = conversation(keyOf('user', event.reader));
  const index = conv.messages.findIndex((m) => m.id === event.id);
  const upTo = index >= 0 ? conv.messages[index].timestamp : Number(event.timestamp) || 0;
  conv.peerRead = Math.max(conv.peerRead, upTo);
  if (conv.key === openKey) renderMessages();
}

function applyConversations(list) {
  for (const entry of list) {
    if (!entry || entry.recepient === undefined) continue;
    const room = entry.command === 'groupchat';
    if (room) joined.add(String(entry.recepient));
    const conv = conversation(keyOf(room ? 'room' : 'user', String(entry.recepient)));
    if (conv.key !== openKey) conv.unread = Number(entry.unread) || 0;
    if (entry.last && !conv.loaded && !conv.messages.length) conv.lastSeen = Number(entry.last.timestamp) || 0;
  }
  renderSidebar();
}

// --- history -----------------------------------------------------------------------

async function loadHistory(conv, cursor = {}) {
  if (conv.loading || !me) return;
  if (conv.kind === 'user' && !me.registered) { conv.loaded = true; return renderMessages(); }
  conv.loading = true;
  if (conv.key === openKey) renderMessages();
  const answer = await request('history', { recepient: recipientOf(conv), command: commandOf(conv), limit: PAGE_SIZE, ...cursor });
  conv.loading = false;
  if (String(answer.code) === '200' && Array.isArray(answer.messages)) {
    const fresh = answer.messages.filter((m) => !conv.ids.has(m.id));
    for (const m of fresh) conv.ids.add(m.id);
    const normalised = fresh.map((m) => ({ ...m, timestamp: Number(m.timestamp) || 0 }));
    if (cursor.after) {
      // Our one-to-one messages were shown without an id (only the ack came back): history has them now.
      const fetched = new Set(normalised.filter((m) => m.sender === me.id).map((m) => m.data));
      const pending = conv.messages.filter((m) => !m.id && !(m.state !== 'failed' && fetched.has(m.data)));
      conv.messages = [...conv.messages.filter((m) => m.id), ...normalised, ...pending];
      if (answer.more) {
        conv.loaded = true;
        return loadHistory(conv, { after: normalised[normalised.length - 1].id });
      }
    } else {
      conv.messages = [...normalised, ...conv.messages];
      conv.more = Boolean(answer.more);
    }
  }
  conv.loaded = true;
  if (conv.key === openKey) {
    renderMessages(cursor.before ? 'keep' : 'bottom');
    markRead(conv);
  }
}

/** After a reconnect that could not be recovered: fetch what each open conversation missed. */
function catchUp() {
  for (const conv of conversations.values()) {
    const last = [...conv.messages].reverse().find((m) => m.id);
    if (last) loadHistory(conv, { after: last.id });
    else if (conv.key === openKey) loadHistory(conv);
  }
  if (me.registered) request('conversations', {});
}

const READ_EVERY_MS = 500; // a busy room sends one read mark per half second, not one per message

function markRead(conv) {
  if (!me?.registered && conv.kind === 'user') return;
  if (conv.kind === 'all' || document.hidden || conv.readTimer) return;
  conv.readTimer = setTimeout(() => { conv.readTimer = null; sendReadMark(conv); }, READ_EVERY_MS);
}

function sendReadMark(conv) {
  if (!me || document.hidden || conv.key !== openKey) return; // read only what is on screen
  const last = [...conv.messages].reverse().find((m) => m.id && m.sender !== me.id);
  if (!last || conv.readSent === last.id) return;
  conv.readSent = last.id;
  request('read', { recepient: recipientOf(conv), command: commandOf(conv), id: last.id });
}

// --- opening conversations ---------------------------------------------------------

function openConversation(key) {
  openKey = key;
  const conv = conversation(key);
  conv.unread = 0;
  document.body.dataset.view = 'conversation';
  el.membersPanel.hidden = true;
  el.membersButton.setAttribute('aria-expanded', 'false');
  renderHeader();
  renderSidebar();
  renderTyping();
  renderComposer();
  if (!conv.loaded) loadHistory(conv);
  else { renderMessages('bottom'); markRead(conv); }
  if (me?.registered && key !== 'ALL') request('conversations', {}); // keeps the others' badges true
}

// --- rendering -----------------------------------------------------------------------

function convButton(key, label, extra = {}) {
  const conv = conversations.get(key) || { unread: 0 }; // listing someone starts no conversation
  const li = document.createElement('li');
  li.dataset.key = key;
  if (extra.id !== undefined) li.dataset.id = extra.id;
  const button = element('button', 'conv' + (key === openKey ? ' active' : ''));
  button.type = 'button';
  if (key === openKey) button.setAttribute('aria-current', 'page');
  if (extra.online !== undefined) {
    const dot = element('span', 'dot' + (extra.online ? ' online' : ''));
    dot.setAttribute('aria-hidden', 'true');
    button.append(dot);
  }
  button.append(element('span', 'name', label));
  // The accessible name is words only: the name, online or not, unread count.
  const parts = [label];
  if (extra.online !== undefined) parts.push(t(extra.online ? 'online' : 'offline'));
  if (conv.unread) {
    const badge = element('span', 'badge', String(conv.unread));
    badge.setAttribute('aria-hidden', 'true');
    button.append(badge);
    parts.push(t('unread', { n: conv.unread }));
  }
  button.setAttribute('aria-label', parts.join(', '));
  button.addEventListener('click', () => { openConversation(key); el.message.focus(); });
  li.append(button);
  return li;
}

function renderSidebar() {
  if (!me) return;
  el.allList.replaceChildren(convButton('ALL', t('everyone')));
  const mine = [...joined].sort().map((id) => convButton(keyOf('room', id), rooms.get(id)?.name || id, { id }));
  el.roomList.replaceChildren(...mine);
  const others = [...rooms.values()].filter((room) => !joined.has(String(room.id))).map((room) => {
    const li = document.createElement('li');
    li.dataset.id = room.id;
    li.append(element('span', 'name', room.name || room.id), element('span', 'sub', membersText(room.members)));
    const join = element('button', 'small', t('join'));
    join.type = 'button';
    join.setAttribute('aria-label', `${t('join')} ${room.name || room.id}`);
    join.addEventListener('click', () => joinRoom(String(room.id)));
    li.append(join);
    return li;
  });
  el.otherRoomList.replaceChildren(...others);
  el.otherRooms.hidden = others.length === 0;

  // Direct messages: everyone online and everyone we have a conversation with.
  const people = new Set([...users.keys()].filter((id) => id !== me.id));
  for (const conv of conversations.values()) if (conv.kind === 'user' && conv.id !== me.id) people.add(conv.id);
  const sorted = [...people].sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
  el.users.replaceChildren(...sorted.map((id) => convButton(keyOf('user', id), nameOf(id), { id, online: users.has(id) })));
}

function renderHeader() {
  const conv = conversation(openKey);
  el.title.textContent = titleOf(conv);
  if (conv.kind === 'all') el.sub.textContent = t('onlineCount', { n: users.size });
  else if (conv.kind === 'room') el.sub.textContent = membersText(rooms.get(conv.id)?.members ?? '?');
  else el.sub.textContent = conv.id + ' · ' + t(users.has(conv.id) ? 'online' : 'offline');
  el.roomActions.hidden = conv.kind !== 'room';
  // A room always has its owner: the owner deletes it instead of leaving.
  const owner = conv.kind === 'room' && rooms.get(conv.id)?.owner === me?.id;
  el.leave.hidden = owner;
  el.deleteRoom.hidden = !owner;
  if (el.deleteRoom.dataset.armed !== conv.key) {
    delete el.deleteRoom.dataset.armed;
    el.deleteRoom.textContent = t('deleteRoom');
  }
  el.message.placeholder = t('messagePlaceholder', { name: titleOf(conv) });
}

const membersText = (n) => (n === 1 ? t('membersCountOne') : t('membersCount', { n }));

function renderTyping() {
  const conv = conversation(openKey);
  const names = [...conv.typing.keys()].map(nameOf);
  el.typing.textContent = names.length === 0 ? ''
    : names.length === 1 ? t('typingOne', { name: names[0] }) : t('typingMany', { names: names.join(', ') });
}

function renderComposer() {
  el.send.disabled = !connected || !me;
}

const GROUP_GAP_MS = 5 * 60 * 1000; // messages this close from one sender share one header

/** Redraw the open conversation; `scroll` is 'bottom', 'keep' (after older ones came in) or 'follow'. */
function renderMessages(scroll = 'follow') {
  const conv = conversation(openKey);
  const box = el.results;
  const fromBottom = box.scrollHeight - box.scrollTop;
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  const nodes = [];
  if (conv.loading) nodes.push(element('p', 'system loading', t('loadingOlder')));
  else if (conv.loaded && !conv.more && conv.messages.length) nodes.push(element('p', 'system', t('beginning')));
  if (conv.kind === 'user' && me && !me.registered) nodes.push(element('p', 'system', t('historyGuest')));
  if (conv.loaded && !conv.messages.length) nodes.push(element('p', 'system empty', t('noMessages')));
  let previous = null;
  for (const msg of conv.messages) {
    if (!previous || dayKey(previous.timestamp) !== dayKey(msg.timestamp)) {
      const separator = element('p', 'day', dayLabel(msg.timestamp));
      separator.setAttribute('role', 'separator');
      nodes.push(separator);
      previous = null;
    }
    const grouped = previous && previous.sender === msg.sender && msg.timestamp - previous.timestamp < GROUP_GAP_MS;
    nodes.push(messageNode(conv, msg, grouped));
    previous = msg;
  }
  box.replaceChildren(...nodes);
  if (scroll === 'bottom' || (scroll === 'follow' && atBottom)) box.scrollTop = box.scrollHeight;
  else if (scroll === 'keep') box.scrollTop = box.scrollHeight - fromBottom;
}

function messageNode(conv, msg, grouped) {
  const mine = msg.sender === me?.id;
  const div = element('div', 'message' + (mine ? ' mine' : '') + (grouped ? ' grouped' : '') + (conv.kind === 'user' ? ' private' : ''));
  div.dataset.sender = String(msg.sender ?? '');
  div.dataset.recepient = String(msg.recepient ?? '');
  if (msg.id) div.dataset.id = msg.id;
  if (msg.state) div.dataset.state = msg.state;
  if (!grouped) {
    const head = element('p', 'head');
    head.append(element('span', 'sender', mine ? `${nameOf(msg.sender)} (${t('you')})` : nameOf(msg.sender)));
    const time = element('time', 'time', clock(msg.timestamp));
    time.dateTime = new Date(msg.timestamp).toISOString();
    time.title = new Date(msg.timestamp).toLocaleString();
    head.append(time);
    div.append(head);
  }
  const body = element('p', 'data');
  body.append(linkified(String(msg.data ?? '')));
  div.append(body);
  if (mine) div.append(...stateNodes(conv, msg));
  return div;
}

/** Under our own message: sending, sent, read, will be delivered, or failed with retry. */
function stateNodes(conv, msg) {
  const state = msg.state || 'sent';
  if (state === 'failed') {
    const p = element('p', 'state failed', t('failed', { reason: msg.reason || '' }));
    p.setAttribute('role', 'alert');
    const retry = element('button', 'small', t('retry'));
    retry.type = 'button';
    retry.addEventListener('click', () => deliver(conv, msg));
    const discard = element('button', 'small link', t('discard'));
    discard.type = 'button';
    discard.addEventListener('click', () => {
      conv.messages = conv.messages.filter((m) => m !== msg);
      renderMessages();
    });
    p.append(' ', retry, ' ', discard);
    return [p];
  }
  if (state === 'sending') return [element('p', 'state sending', t('sending'))];
  if (state === 'stored') return [element('p', 'state stored', t('willBeDelivered', { id: conv.id }))];
  if (conv.kind === 'user' && conv.peerRead && msg.timestamp <= conv.peerRead) return [element('p', 'state read', t('read'))];
  // Everyone and rooms echo our message back, which is proof enough; one-to-one shows the ack.
  if (msg.localId && conv.kind === 'user') return [element('p', 'state sent', t('sent'))];
  return [];
}

// --- sending -------------------------------------------------------------------------

function sendMessage() {
  const data = el.message.value;
  if (!data.trim() || !me) return;
  const conv = conversation(openKey);
  // The text stays in the composer until the server answered (a refused message loses nothing);
  // Enter again meanwhile must not send it twice, but the next message may go at once.
  if (conv.messages.some((m) => m.state === 'sending' && m.data === data)) return;
  const msg = { localId: ++localIds, sender: me.id, recepient: conv.id, command: commandOf(conv), data, timestamp: Date.now(), state: 'sending' };
  conv.messages.push(msg);
  typingStopped();
  renderMessages('bottom');
  deliver(conv, msg);
}

/** Send one message and show its fate; a failed message keeps its text and offers a retry. */
async function deliver(conv, msg) {
  msg.state = 'sending';
  if (conv.key === openKey) renderMessages();
  const payload = { recepient: conv.id, command: msg.command, type: 'text', data: msg.data };
  const answer = await request('message', payload);
  const code = String(answer.code);
  if (code === '200') {
    // ALL and rooms echo the message back (with its id); until then it shows as sent.
    if (msg.state === 'sending') msg.state = 'sent';
  } else if (code === '202') {
    msg.state = 'stored';
  } else if (msg.id) {
    msg.state = 'sent'; // its echo came, so it went: only the answer was lost (a drop, a restart)
  } else {
    msg.state = 'failed';
    msg.reason = answer.message || code;
  }
  if (msg.state !== 'failed' && el.message.value === msg.data) {
    el.message.value = ''; // delivered: the composer's copy of it is no longer needed
    sizeComposer();
  }
  if (conv.key === openKey) renderMessages();
}

// --- typing --------------------------------------------------------------------------

let typingSince = 0;
let typingTimer = null;
let typingConv = null;

function typed() {
  const conv = conversation(openKey);
  if (!me || !connected) return;
  if (typingConv && typingConv !== conv) typingStopped();
  const now = Date.now();
  if (now - typingSince > TYPING_REPEAT_MS) {
    typingSince = now;
    typingConv = conv;
    request('typing', { recepient: conv.id, command: commandOf(conv), typing: true });
  }
  clearTimeout(typingTimer);
  typingTimer = setTimeout(typingStopped, TYPING_IDLE_MS);
}

function typingStopped() {
  clearTimeout(typingTimer);
  if (typingConv && connected) {
    request('typing', { recepient: typingConv.id, command: commandOf(typingConv), typing: false });
  }
  typingConv = null;
  typingSince = 0;
}

function sizeComposer() {
  el.message.style.height = 'auto';
  el.message.style.height = Math.min(el.message.scrollHeight, 160) + 'px';
}

// --- rooms ---------------------------------------------------------------------------

async function createRoom() {
  const roomId = el.roomId.value.trim();
  if (!roomId) return el.roomId.focus();
  const payload = { command: 'create', roomId, private: el.roomPrivate.checked };
  if (el.roomName.value.trim()) payload.roomName = el.roomName.value.trim();
  const answer = await request('room', payload);
  if (String(answer.code) !== '200') return notice(answer.message || String(answer.code), 'error');
  joined.add(roomId);
  el.roomForm.reset();
  toggleRoomForm(false);
  openConversation(keyOf('room', roomId));
}

async function joinRoom(roomId) {
  const answer = await request('room', { command: 'join', roomId });
  if (String(answer.code) !== '200') return notice(answer.message || String(answer.code), 'error');
  joined.add(roomId);
  const conv = conversation(keyOf('room', roomId));
  conv.loaded = false; // what was said before we joined is ours to read now
  openConversation(conv.key);
}

async function leaveRoom() {
  const conv = conversation(openKey);
  const answer = await request('room', { command: 'leave', roomId: conv.id });
  if (String(answer.code) !== '200') return notice(answer.message || String(answer.code), 'error');
  joined.delete(conv.id);
  conversations.delete(conv.key);
  openConversation('ALL');
}

async function deleteRoom() {
  const conv = conversation(openKey);
  // Two presses, no dialog: the first turns the button into the question.
  if (el.deleteRoom.dataset.armed !== conv.key) {
    el.deleteRoom.dataset.armed = conv.key;
    el.deleteRoom.textContent = t('deleteRoomConfirm', { room: titleOf(conv) });
    return;
  }
  const answer = await request('room', { command: 'delete', roomId: conv.id });
  if (String(answer.code) !== '200') return notice(answer.message || String(answer.code), 'error');
  joined.delete(conv.id);
  conversations.delete(conv.key);
  openConversation('ALL');
}

async function showMembers() {
  const open = el.membersPanel.hidden;
  el.membersPanel.hidden = !open;
  el.membersButton.setAttribute('aria-expanded', String(open));
  if (!open) return;
  const conv = conversation(openKey);
  const answer = await request('room', { command: 'members', roomId: conv.id });
  if (String(answer.code) !== '200' || !Array.isArray(answer.members)) {
    el.membersList.replaceChildren(element('li', 'error', answer.message || String(answer.code)));
    return;
  }
  el.membersList.replaceChildren(...answer.members.map((m) => {
    const li = element('li', '');
    li.dataset.id = m.id;
    const dot = element('span', 'dot' + (m.online ? ' online' : ''));
    dot.setAttribute('aria-hidden', 'true');
    const name = m.alias && m.alias !== m.id ? `${m.alias} (${m.id})` : String(m.id);
    li.append(dot, element('span', 'name', name), element('span', 'visually-hidden', ', ' + t(m.online ? 'online' : 'offline')));
    return li;
  }));
}

async function inviteUser() {
  const userId = el.invite.value.trim();
  if (!userId) return;
  const conv = conversation(openKey);
  const answer = await request('room', { command: 'invite', roomId: conv.id, userId });
  notice(answer.message || String(answer.code), String(answer.code) === '200' ? 'room' : 'error');
  if (String(answer.code) === '200') el.invite.value = '';
}

function toggleRoomForm(show) {
  el.roomForm.hidden = !show;
  el.newRoom.setAttribute('aria-expanded', String(show));
  if (show) el.roomId.focus();
}

// --- notices and hidden-tab alerts ------------------------------------------------------

const MAX_NOTICES = 4;

function notice(text, kind, action) {
  const li = element('li', 'notice ' + kind);
  li.append(element('span', '', text));
  if (action) {
    const button = element('button', 'small', action.label);
    button.type = 'button';
    button.addEventListener('click', () => { li.remove(); action.action(); });
    li.append(' ', button);
  }
  el.notices.prepend(li);
  while (el.notices.childElementCount > MAX_NOTICES) el.notices.lastElementChild.remove();
}

function alertHidden(conv, msg) {
  hiddenUnread += 1;
  updateTitle();
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  try {
    const note = new Notification(t('notificationTitle', { name: nameOf(msg.sender) }), { body: String(msg.data).slice(0, 140), tag: conv.key });
    note.onclick = () => { window.focus(); openConversation(conv.key); note.close(); };
  } catch {
    // Android's Chrome only notifies through a service worker; the title count still tells.
  }
}

function updateTitle() {
  document.title = hiddenUnread ? `(${hiddenUnread}) ${t('appName')}` : t('appName');
}

// Leaving or reloading the page is not a network blip: say goodbye (a Socket.IO DISCONNECT), so the
// server takes the user offline now instead of keeping the session for a recovery that never comes.
window.addEventListener('pagehide', () => { if (socket) socket.disconnect(); });

document.addEventListener('visibilitychange', () => {
  if (document.hidden) return;
  hiddenUnread = 0;
  updateTitle();
  const conv = conversation(openKey);
  if (me && conv.unread) { conv.unread = 0; renderSidebar(); }
  if (me) markRead(conv);
});

// --- wiring -------------------------------------------------------------------------------

const onSubmit = (form, fn) => form.addEventListener('submit', (e) => { e.preventDefault(); fn(); });
onSubmit(el.signinForm, signIn);
onSubmit(el.messageForm, sendMessage);
onSubmit(el.roomForm, createRoom);
onSubmit(el.inviteForm, inviteUser);
el.register.addEventListener('click', register);
el.guest.addEventListener('click', signInAsGuest);
el.connect.addEventListener('click', connect);
el.signout.addEventListener('click', signOut);
el.newRoom.addEventListener('click', () => toggleRoomForm(el.roomForm.hidden));
el.roomCancel.addEventListener('click', () => toggleRoomForm(false));
el.leave.addEventListener('click', leaveRoom);
el.deleteRoom.addEventListener('click', deleteRoom);
el.membersButton.addEventListener('click', showMembers);
el.back.addEventListener('click', () => { document.body.dataset.view = 'list'; });
el.notify.addEventListener('click', async () => {
  await Notification.requestPermission();
  el.notify.hidden = Notification.permission !== 'default';
});
el.message.addEventListener('keydown', (e) => {
  // Enter sends, Shift+Enter is a new line; an IME composing Korean uses Enter to commit.
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    sendMessage();
  }
});
el.message.addEventListener('input', () => { sizeComposer(); if (el.message.value) typed(); });
el.results.addEventListener('scroll', () => {
  const conv = conversation(openKey);
  if (el.results.scrollTop < 80 && conv.more && !conv.loading) {
    const oldest = conv.messages.find((m) => m.id);
    if (oldest) loadHistory(conv, { before: oldest.id });
  }
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !el.membersPanel.hidden) { el.membersPanel.hidden = true; el.membersButton.focus(); }
});

for (const select of document.querySelectorAll('.languageSelect')) {
  select.replaceChildren(...Object.entries(LANGUAGES).map(([code, name]) => new Option(name, code)));
  select.value = language();
  select.addEventListener('change', () => changeLanguage(select.value));
}

function changeLanguage(lang) {
  setLanguage(lang);
  for (const select of document.querySelectorAll('.languageSelect')) select.value = lang;
  if (socket) socket.auth = { lang };
  updateTitle();
  if (!me) return;
  showApp();
  renderHeader();
  renderMessages();
  renderTyping();
  // The server's own sentences follow: the same login again only switches the socket's language.
  const session = savedSession();
  request('login', { id: me.id, lang, ...(session?.token ? { token: session.token } : {}) });
}

// Default to the server that served this page.
el.host.value = location.hostname.replace(/^\[(.*)\]$/, '$1');
el.port.value = location.port;
translatePage();
updateTitle();
if (typeof io !== 'function') {
  showStatus('error', t('noScript'));
} else {
  connect();
  const session = savedSession();
  if (session) {
    el.id.value = session.id;
    el.signin.hidden = true; // signing back in by itself: no form flashing past
  } else {
    showSignin();
  }
}
