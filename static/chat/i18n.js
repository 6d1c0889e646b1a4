// Every word the page says, in English and Korean. Keys are stable names, values are text only:
// they are put into the page with textContent, never as markup.

const WORDS = {
  en: {
    appName: 'chatserver',
    language: 'Language',
    signInTitle: 'Sign in to chat',
    signInLead: 'Pick an id. With a password it is your account; without one you chat as a guest.',
    userId: 'User id',
    password: 'Password',
    passwordHint: 'At least 8 characters to create an account',
    alias: 'Display name (optional)',
    signIn: 'Sign in',
    register: 'Create account',
    guest: 'Continue as guest',
    connectElsewhere: 'Connect elsewhere',
    host: 'Host',
    port: 'Port',
    connect: 'Connect',
    signOut: 'Sign out',
    signedInAs: 'Signed in as {id}',
    guestBadge: 'guest',
    conversations: 'Conversations',
    everyone: 'Everyone',
    rooms: 'Rooms',
    directMessages: 'Direct messages',
    newRoom: 'New room',
    roomId: 'Room id',
    roomName: 'Room name (optional)',
    privateRoom: 'Private (invitation only)',
    create: 'Create',
    cancel: 'Cancel',
    otherRooms: 'Other rooms',
    join: 'Join',
    leave: 'Leave room',
    deleteRoom: 'Delete room',
    deleteRoomConfirm: 'Delete {room} for everyone? Press again',
    members: 'Members',
    invite: 'Invite',
    inviteWho: 'User id to invite',
    close: 'Close',
    back: 'Back to conversations',
    online: 'online',
    offline: 'offline',
    unread: '{n} unread',
    membersCount: '{n} members',
    membersCountOne: '1 member',
    onlineCount: '{n} online',
    you: 'you',
    message: 'Message',
    messagePlaceholder: 'Message {name}',
    send: 'Send',
    composerHint: 'Enter sends, Shift+Enter adds a line',
    sending: 'Sending',
    sent: 'Sent',
    read: 'Read',
    willBeDelivered: 'Will be delivered when {id} signs in',
    failed: 'Not sent: {reason}',
    retry: 'Retry',
    discard: 'Discard',
    noAnswer: 'the server did not answer',
    typingOne: '{name} is typing',
    typingMany: '{names} are typing',
    loadingOlder: 'Loading older messages',
    beginning: 'This is the beginning of the conversation.',
    today: 'Today',
    yesterday: 'Yesterday',
    noMessages: 'No messages yet. Say hello.',
    connecting: 'Connecting',
    connected: 'Connected',
    reconnecting: 'Connection lost. Reconnecting',
    cannotReach: 'Cannot reach the chat server at {where}. Trying again.',
    signedOut: 'You signed out.',
    sessionExpired: 'Your session has ended. Please sign in again.',
    invitedYou: '{sender} invited you to {room}',
    roomDeleted: 'Room {room} was deleted',
    enterId: 'Enter a user id.',
    enterPassword: 'Enter a password to create an account.',
    registered: 'Account created. Signing you in.',
    enableNotifications: 'Notify me of new messages',
    notificationTitle: 'New message from {name}',
    isOnline: '{name} is online',
    isOffline: '{name} went offline',
    historyGuest: 'Sign in with an account to keep direct message history.',
    noScript: 'The chat client could not load.',
  },
  ko: {
    appName: 'chatserver',
    language: '언어',
    signInTitle: '채팅에 로그인',
    signInLead: 'ID를 정하세요. 비밀번호가 있으면 계정으로, 없으면 손님으로 대화합니다.',
    userId: '사용자 ID',
    password: '비밀번호',
    passwordHint: '계정을 만들려면 8자 이상',
    alias: '표시 이름 (선택)',
    signIn: '로그인',
    register: '계정 만들기',
    guest: '손님으로 계속',
    connectElsewhere: '다른 서버에 연결',
    host: '호스트',
    port: '포트',
    connect: '연결',
    signOut: '로그아웃',
    signedInAs: '{id}(으)로 로그인됨',
    guestBadge: '손님',
    conversations: '대화',
    everyone: '모두',
    rooms: '방',
    directMessages: '개인 메시지',
    newRoom: '새 방',
    roomId: '방 ID',
    roomName: '방 이름 (선택)',
    privateRoom: '비공개 (초대한 사람만)',
    create: '만들기',
    cancel: '취소',
    otherRooms: '다른 방',
    join: '입장',
    leave: '방 나가기',
    deleteRoom: '방 삭제',
    deleteRoomConfirm: '{room} 방을 모두에게서 삭제할까요? 한 번 더 누르세요',
    members: '참여자',
    invite: '초대',
    inviteWho: '초대할 사용자 ID',
    close: '닫기',
    back: '대화 목록으로',
    online: '온라인',
    offline: '오프라인',
    unread: '읽지 않음 {n}개',
    membersCount: '참여자 {n}명',
    membersCountOne: '참여자 1명',
    onlineCount: '{n}명 온라인',
    you: '나',
    message: '메시지',
    messagePlaceholder: '{name}에게 메시지',
    send: '보내기',
    composerHint: 'Enter로 보내기, Shift+Enter로 줄바꿈',
    sending: '보내는 중',
    sent: '보냄',
    read: '읽음',
    willBeDelivered: '{id}님이 로그인하면 전달됩니다',
    failed: '보내지 못했습니다: {reason}',
    retry: '다시 보내기',
    discard: '버리기',
    noAnswer: '서버가 응답하지 않았습니다',
    typingOne: '{name}님이 입력 중',
    typingMany: '{names}님이 입력 중',
    loadingOlder: '이전 메시지를 불러오는 중',
    beginning: '대화의 처음입니다.',
    today: '오늘',
    yesterday: '어제',
    noMessages: '아직 메시지가 없습니다. 인사해 보세요.',
    connecting: '연결 중',
    connected: '연결됨',
    reconnecting: '연결이 끊겼습니다. 다시 연결하는 중',
    cannotReach: '{where}의 채팅 서버에 연결할 수 없습니다. 다시 시도합니다.',
    signedOut: '로그아웃했습니다.',
    sessionExpired: '세션이 끝났습니다. 다시 로그인하세요.',
    invitedYou: '{sender}님이 {room} 방에 초대했습니다',
    roomDeleted: '{room} 방이 삭제되었습니다',
    enterId: '사용자 ID를 입력하세요.',
    enterPassword: '계정을 만들려면 비밀번호를 입력하세요.',
    registered: '계정을 만들었습니다. 로그인하는 중입니다.',
    enableNotifications: '새 메시지 알림 받기',
    notificationTitle: '{name}님의 새 메시지',
    isOnline: '{name}님이 접속했습니다',
    isOffline: '{name}님이 나갔습니다',
    historyGuest: '개인 메시지 기록은 계정으로 로그인해야 남습니다.',
    noScript: '채팅 클라이언트를 불러오지 못했습니다.',
  },
};

export const LANGUAGES = { en: 'English', ko: '한국어' };

const STORAGE_KEY = 'chatserver.lang';
let current = pickLanguage();

function pickLanguage() {
  const saved = safeGet(STORAGE_KEY);
  if (saved && WORDS[saved]) return saved;
  const preferred = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en'];
  for (const tag of preferred) {
    const base = String(tag).toLowerCase().split('-')[0];
    if (WORDS[base]) return base;
  }
  return 'en';
}

function safeGet(key) {
  try { return localStorage.getItem(key); } catch { return null; } // storage off in private modes
}

/** The page's language: `en` or `ko`. */
export const language = () => current;

/** Switch the page's language and remember the choice. */
export function setLanguage(lang) {
  if (!WORDS[lang]) return;
  current = lang;
  try { localStorage.setItem(STORAGE_KEY, lang); } catch { /* not kept, still used */ }
  translatePage();
}

/** One sentence in the page's language, `{name}` places filled from `vars`. */
export function t(key, vars = {}) {
  const text = WORDS[current][key] ?? WORDS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** Fill every element marked with data-i18n (text), data-i18n-placeholder, data-i18n-label, data-i18n-title. */
export function translatePage(root = document) {
  document.documentElement.lang = current;
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll('[data-i18n-placeholder]')) node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const node of root.querySelectorAll('[data-i18n-label]')) node.setAttribute('aria-label', t(node.dataset.i18nLabel));
  for (const node of root.querySelectorAll('[data-i18n-title]')) node.title = t(node.dataset.i18nTitle);
}
