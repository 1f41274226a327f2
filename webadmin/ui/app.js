// app.js: the web admin's browser UI: sign-in, the page router and the
// live event stream's life. Each page is its own module with init() (once)
// and show(arg) / hide(); the address is "#page" or "#page/arg" (e.g.
// "#forwarding/201"), so the back button and bookmarks work.
//
// Plain ES modules, no framework: every text from the server or the user
// goes into the page with textContent, never as HTML, and the page has no
// inline code, so the server's strict Content-Security-Policy holds.

import { $, api, errorText, setCsrf, setStatus, signedIn, whenSignedOut } from './api.js';
import { liveStart, liveStop } from './live.js';
import dashboard from './dashboard.js';
import extensions from './extensions.js';
import forwarding from './forwarding.js';
import registrations from './registrations.js';
import calls from './calls.js';
import conferences from './conferences.js';
import voicemail from './voicemail.js';
import history from './history.js';
import settings from './settings.js';
import admins from './admins.js';
import bans from './bans.js';

const PAGES = { dashboard, extensions, forwarding, registrations, calls, conferences, voicemail, history, settings,
  admins, bans };
const DEFAULT_PAGE = 'dashboard';

let current = null;     // the page shown, a key of PAGES, or 'signin'

function show(name, arg) {
  if (!signedIn()) name = 'signin';
  else if (!(name in PAGES)) name = DEFAULT_PAGE;
  if (current && current !== name && PAGES[current]) PAGES[current].hide();
  const changed = current !== name;
  current = name;
  if (changed && name !== 'signin') setStatus(''); // the last page's news
  for (const sec of document.querySelectorAll('main > .page')) sec.hidden = sec.id !== 'page-' + name;
  $('nav').hidden = name === 'signin';
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const h2 = $('page-' + name).querySelector('h2');
  document.title = 'Phone system - ' + h2.textContent;
  if (name === 'signin') {
    liveStop();
    $('signin-user').focus();
    return;
  }
  liveStart();
  PAGES[name].show(arg);
  // Keyboard and screen-reader users land on the new page's heading.
  if (changed && document.activeElement && document.activeElement.closest('#nav')) h2.focus();
}

function route() {
  const [name, arg] = location.hash.replace(/^#/, '').split('/', 2);
  show(name || DEFAULT_PAGE, arg ? decodeURIComponent(arg) : undefined);
}

// ---- sign-in --------------------------------------------------------------

async function signIn(ev) {
  ev.preventDefault();
  const err = $('signin-error');
  err.textContent = '';
  const r = await api('POST', '/api/v1/session', {
    username: $('signin-user').value, password: $('signin-pass').value,
  });
  $('signin-pass').value = '';
  if (r.status === 201 && r.data && r.data.csrf) {
    setCsrf(r.data.csrf);
    setStatus('Signed in as ' + r.data.username + '.');
    if (!location.hash || location.hash === '#signin') location.hash = '#' + DEFAULT_PAGE;
    else route();
    return;
  }
  err.textContent = r.status === 429 ? 'Too many attempts. Wait a moment and try again.'
    : errorText(r, 'Sign-in failed.');
  $('signin-pass').focus();
}

async function signOut() {
  await api('DELETE', '/api/v1/session');
  setCsrf('');
  setStatus('Signed out.');
  show('signin');
}

// ---- start ---------------------------------------------------------------------

async function start() {
  $('signin-form').addEventListener('submit', signIn);
  $('signout').addEventListener('click', signOut);
  whenSignedOut(() => show('signin'));
  for (const p of Object.values(PAGES)) p.init();
  window.addEventListener('hashchange', route);
  // Already signed in (a reload): the session cookie is still there and
  // GET /api/v1/session hands back its CSRF token.
  const r = await api('GET', '/api/v1/session');
  if (r.status === 200 && r.data && r.data.csrf) setCsrf(r.data.csrf);
  route();
}

start();
