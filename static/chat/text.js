// Turning user text and times into page nodes. User text only ever becomes text nodes and
// <a> elements whose href is checked to be http(s): never markup.
import { language, t } from './i18n.js';

const LINK = /\bhttps?:\/\/[^\s<>"']+/gi;
const TRAILING_PUNCTUATION = /[.,;:!?)\]]+$/;

/** A fragment of `text` with its http(s) links as safe anchors (new tab, rel=noopener). */
export function linkified(text) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    let url = match[0];
    const tail = url.match(TRAILING_PUNCTUATION);
    if (tail) url = url.slice(0, -tail[0].length); // "see https://x.org." links x.org
    if (match.index > last) fragment.append(document.createTextNode(text.slice(last, match.index)));
    const a = document.createElement('a');
    a.href = url;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    a.textContent = url;
    fragment.append(a);
    last = match.index + url.length;
  }
  if (last < text.length) fragment.append(document.createTextNode(text.slice(last)));
  return fragment;
}

const locale = () => (language() === 'ko' ? 'ko-KR' : 'en-US');

/** "14:05" in the page's language. */
export const clock = (ms) => new Date(ms).toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit' });

/** The calendar day of a timestamp, as a key for day separators. */
export const dayKey = (ms) => new Date(ms).toDateString();

/** "Today", "Yesterday" or a full date, for a day separator. */
export function dayLabel(ms) {
  const day = new Date(ms);
  const today = new Date();
  const yesterday = new Date(today);
  yesterday.setDate(today.getDate() - 1);
  if (day.toDateString() === today.toDateString()) return t('today');
  if (day.toDateString() === yesterday.toDateString()) return t('yesterday');
  return day.toLocaleDateString(locale(), { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
}

/** An element with a class and text content. */
export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
