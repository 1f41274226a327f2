// app.js: the web admin's browser UI (sign in, extensions, registrations).
// Plain ES module, no framework: every text from the server or the user
// goes into the page with textContent, never as HTML, and the page has no
// inline code, so the server's strict Content-Security-Policy holds.

const REG_REFRESH_MS = 3000;
const SEARCH_DELAY_MS = 250;
const LIST_LIMIT = 500;

let csrf = '';          // from sign-in or GET /api/v1/session; memory only
let regTimer = 0;
let searchTimer = 0;

const $ = (id) => document.getElementById(id);

function setStatus(text) {
  $('status').textContent = text;
}

// One API call. Returns {status, data}; data is the parsed JSON body or
// null. A 401 anywhere but the sign-in itself means the session is gone.
async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    return { status: 0, data: { error: 'The phone system cannot be reached.' } };
  }
  let data = null;
  if ((res.headers.get('Content-Type') || '').startsWith('application/json')) {
    try { data = await res.json(); } catch (e) { data = null; }
  }
  if (res.status === 401 && path !== '/api/v1/session') {
    csrf = '';
    show('signin');
  }
  return { status: res.status, data };
}

function errorText(r, fallback) {
  return (r.data && typeof r.data.error === 'string') ? r.data.error : fallback;
}

// ---- pages ----------------------------------------------------------------

const PAGES = ['signin', 'extensions', 'registrations'];

function show(page) {
  if (!PAGES.includes(page)) page = 'extensions';
  if (!csrf) page = 'signin';
  for (const p of PAGES) $('page-' + p).hidden = p !== page;
  $('nav').hidden = page === 'signin';
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  clearInterval(regTimer);
  regTimer = 0;
  if (page === 'extensions') loadExtensions();
  if (page === 'registrations') {
    loadRegistrations();
    regTimer = setInterval(loadRegistrations, REG_REFRESH_MS);
  }
  if (page === 'signin') $('signin-user').focus();
  document.title = 'Phone system - ' + $('page-' + page).querySelector('h2').textContent;
}

function route() {
  show(location.hash.replace(/^#/, '') || 'extensions');
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
    csrf = r.data.csrf;
    setStatus('Signed in as ' + r.data.username + '.');
    if (!location.hash || location.hash === '#signin') location.hash = '#extensions';
    else route();
    return;
  }
  err.textContent = r.status === 429 ? 'Too many attempts. Wait a moment and try again.'
    : errorText(r, 'Sign-in failed.');
  $('signin-pass').focus();
}

async function signOut() {
  await api('DELETE', '/api/v1/session');
  csrf = '';
  setStatus('Signed out.');
  show('signin');
}

// ---- extensions -------------------------------------------------------------

function cell(tr, text) {
  const td = document.createElement('td');
  td.textContent = text;
  tr.appendChild(td);
  return td;
}

async function loadExtensions() {
  const q = $('ext-search').value.trim();
  const params = new URLSearchParams({ limit: String(LIST_LIMIT), sort: 'number' });
  if (q) params.set('q', q);
  const r = await api('GET', '/api/v1/extensions?' + params.toString());
  if (r.status !== 200 || !r.data) {
    if (r.status !== 401) setStatus(errorText(r, 'Could not load the extensions.'));
    return;
  }
  const body = $('ext-table').tBodies[0];
  const rows = document.createDocumentFragment();
  for (const e of r.data.items || []) {
    const tr = document.createElement('tr');
    cell(tr, e.number);
    cell(tr, e.name || '');
    cell(tr, e.ring_time + ' s');
    cell(tr, e.vm_pin_set ? 'set' : 'not set');
    rows.appendChild(tr);
  }
  body.replaceChildren(rows);
  const n = (r.data.items || []).length;
  $('ext-count').textContent = n === r.data.total ? `${r.data.total} in all`
    : `${n} of ${r.data.total} shown`;
}

const EXT_FIELDS = ['number', 'name', 'vm_pin'];

function clearFieldErrors() {
  for (const f of EXT_FIELDS) {
    $('ext-' + f + '-error').textContent = '';
    $('ext-' + f).removeAttribute('aria-invalid');
  }
  $('ext-form-error').textContent = '';
}

async function addExtension(ev) {
  ev.preventDefault();
  clearFieldErrors();
  const body = { number: $('ext-number').value.trim() };
  const name = $('ext-name').value.trim();
  const pin = $('ext-vm_pin').value.trim();
  if (name) body.name = name;
  if (pin) body.vm_pin = pin;
  const r = await api('POST', '/api/v1/extensions', body);
  if (r.status === 201 && r.data) {
    $('ext-form').reset();
    await showCreated(r.data);
    loadExtensions();
    return;
  }
  const field = r.data && typeof r.data.field === 'string' ? r.data.field : '';
  const msg = errorText(r, 'The extension could not be added.');
  if (EXT_FIELDS.includes(field)) {
    $('ext-' + field + '-error').textContent = msg;
    $('ext-' + field).setAttribute('aria-invalid', 'true');
    $('ext-' + field).focus();
  } else {
    $('ext-form-error').textContent = msg;
  }
}

async function showCreated(ext) {
  // The phone talks to the same host as this browser. The API does not
  // tell the SIP port (it is pbxd's --sip-listen), so the default is shown.
  let domain = location.hostname;
  const s = await api('GET', '/api/v1/settings');
  if (s.status === 200 && s.data && typeof s.data.sip_realm === 'string' && s.data.sip_realm) {
    domain = s.data.sip_realm;
  }
  $('sip-server').textContent = location.hostname;
  $('sip-domain').textContent = domain;
  $('sip-port').textContent = '5060, UDP or TCP (unless changed with --sip-listen)';
  $('sip-user').textContent = ext.number;
  $('sip-password').textContent = ext.password;
  $('sip-name').textContent = ext.name || ext.number;
  const box = $('ext-created');
  box.hidden = false;
  box.focus();
}

function hideCreated() {
  $('sip-password').textContent = '';
  $('ext-created').hidden = true;
  $('ext-number').focus();
}

// ---- registrations -------------------------------------------------------------

function fmtExpires(t) {
  const left = Math.round(t - Date.now() / 1000);
  return left > 0 ? `in ${left} s` : 'now';
}

async function loadRegistrations() {
  const r = await api('GET', '/api/v1/registrations');
  if (r.status !== 200 || !r.data) {
    if (r.status !== 401) $('reg-count').textContent = errorText(r, 'Registrations are not available.');
    return;
  }
  const rows = document.createDocumentFragment();
  for (const b of r.data.items || []) {
    const tr = document.createElement('tr');
    cell(tr, b.extension || '');
    cell(tr, b.source || '');
    cell(tr, b.transport || '');
    cell(tr, b.user_agent || '');
    cell(tr, fmtExpires(b.expires_at));
    rows.appendChild(tr);
  }
  $('reg-table').tBodies[0].replaceChildren(rows);
  $('reg-count').textContent = `${r.data.total} registered.`;
  $('reg-updated').textContent = 'Updated ' + new Date().toLocaleTimeString() + '.';
}

// ---- start ---------------------------------------------------------------------

async function start() {
  $('signin-form').addEventListener('submit', signIn);
  $('signout').addEventListener('click', signOut);
  $('ext-form').addEventListener('submit', addExtension);
  $('ext-created-done').addEventListener('click', hideCreated);
  $('ext-search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(loadExtensions, SEARCH_DELAY_MS);
  });
  window.addEventListener('hashchange', route);
  // Already signed in (a reload): the session cookie is still there and
  // GET /api/v1/session hands back its CSRF token.
  const r = await api('GET', '/api/v1/session');
  if (r.status === 200 && r.data && r.data.csrf) csrf = r.data.csrf;
  route();
}

start();
