// api.js: what every page of the web admin uses: the JSON API with the
// session's CSRF token, inline field errors from the API's
// {"error","field"}, and small DOM helpers. Every text from the server or
// the user goes into the page with textContent, never as HTML.

let csrf = '';             // from sign-in or GET /api/v1/session; memory only
let onSignedOut = () => {};

export const $ = (id) => document.getElementById(id);

export function setCsrf(token) { csrf = token || ''; }
export function signedIn() { return csrf !== ''; }
export function csrfToken() { return csrf; }
// Called when any request finds the session gone (401).
export function whenSignedOut(fn) { onSignedOut = fn; }

export function setStatus(text) {
  $('status').textContent = text;
}

// One API call. Returns {status, data}; data is the parsed JSON body or
// null. A 401 anywhere but the sign-in itself means the session is gone.
export async function api(method, path, body, contentType) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf;
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = contentType || 'application/json';
    payload = contentType ? body : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, credentials: 'same-origin', cache: 'no-store', body: payload });
  } catch (e) {
    return { status: 0, data: { error: 'The phone system cannot be reached.' } };
  }
  let data = null;
  if ((res.headers.get('Content-Type') || '').startsWith('application/json')) {
    try { data = await res.json(); } catch (e) { data = null; }
  }
  if (res.status === 401 && path !== '/api/v1/session') {
    csrf = '';
    onSignedOut();
  }
  return { status: res.status, data };
}

export function errorText(r, fallback) {
  return (r.data && typeof r.data.error === 'string') ? r.data.error : fallback;
}

// ---- forms ---------------------------------------------------------------

// A form whose inputs are named PREFIX-FIELD, with PREFIX-FIELD-error
// paragraphs and one PREFIX-form-error (or the given id) for the rest.
export class FieldErrors {
  constructor(prefix, fields, formError) {
    this.prefix = prefix;
    this.fields = fields;
    this.formError = formError || prefix + '-form-error';
  }

  clear() {
    for (const f of this.fields) {
      const e = $(this.prefix + '-' + f + '-error');
      if (e) e.textContent = '';
      const i = $(this.prefix + '-' + f);
      if (i) i.removeAttribute('aria-invalid');
    }
    $(this.formError).textContent = '';
  }

  // Show the API's answer next to the field it names; true when shown
  // next to a field.
  show(r, fallback) {
    const field = r.data && typeof r.data.field === 'string' ? r.data.field : '';
    const msg = errorText(r, fallback);
    if (this.fields.includes(field) && $(this.prefix + '-' + field + '-error')) {
      $(this.prefix + '-' + field + '-error').textContent = msg;
      const input = $(this.prefix + '-' + field);
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return true;
    }
    $(this.formError).textContent = msg;
    return false;
  }
}

// ---- tables and text -----------------------------------------------------

export function cell(tr, text) {
  const td = document.createElement('td');
  td.textContent = text;
  tr.appendChild(td);
  return td;
}

export function button(text, label, onClick, cls) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  if (label) b.setAttribute('aria-label', label);
  b.className = cls || 'small';
  b.addEventListener('click', onClick);
  return b;
}

// A row that says the table is empty.
export function emptyRow(tbody, cols, text) {
  const tr = document.createElement('tr');
  const td = cell(tr, text);
  td.colSpan = cols;
  td.className = 'muted';
  tbody.replaceChildren(tr);
}

export function fmtDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, '0'), ss = String(r).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function fmtTime(ms) {
  return ms ? new Date(ms).toLocaleString() : '';
}

export function updated(id) {
  $(id).textContent = 'Updated ' + new Date().toLocaleTimeString() + '.';
}
