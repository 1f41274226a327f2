// extensions.js: the Extensions page: a searchable, sortable table; one
// form that adds an extension or edits the one picked from the table; a
// new SIP password on request (shown once, with the settings a phone
// needs); delete; CSV import with upload progress and the rows the server
// refused, and the choice to import the other rows without them.

import { $, api, button, cell, csrfToken, emptyRow, errorText, FieldErrors, setStatus } from './api.js';

const SEARCH_DELAY_MS = 250;
const LIST_LIMIT = 1000;

let searchTimer = 0;
let sortKey = 'number';
let sortDesc = false;
let editing = '';          // the number being edited, '' when adding
let importText = '';       // the last file sent, for "import the other rows"
let importBad = [];        // its refused line numbers

const errors = new FieldErrors('ext', ['number', 'name', 'vm_pin', 'ring_time']);

// ---- the table ------------------------------------------------------------

async function load() {
  const q = $('ext-search').value.trim();
  const params = new URLSearchParams({ limit: String(LIST_LIMIT), sort: (sortDesc ? '-' : '') + sortKey });
  if (q) params.set('q', q);
  const r = await api('GET', '/api/v1/extensions?' + params.toString());
  if (r.status !== 200 || !r.data) {
    if (r.status !== 401) setStatus(errorText(r, 'Could not load the extensions.'));
    return;
  }
  const body = $('ext-table').tBodies[0];
  const items = r.data.items || [];
  if (!items.length) {
    emptyRow(body, 5, q ? 'No extension matches.' : 'No extensions yet. Add one below.');
  } else {
    const rows = document.createDocumentFragment();
    for (const e of items) {
      const tr = document.createElement('tr');
      cell(tr, e.number);
      cell(tr, e.name || '');
      cell(tr, e.ring_time + ' s');
      cell(tr, e.vm_pin_set ? 'set' : 'not set');
      const td = cell(tr, '');
      td.className = 'row-actions';
      td.append(
        button('Edit', 'Edit ' + e.number, () => startEdit(e)),
        button('Forwarding', 'Forwarding of ' + e.number, () => { location.hash = '#forwarding/' + e.number; }),
        button('Delete', 'Delete ' + e.number, () => remove(e.number), 'small danger'));
      rows.appendChild(tr);
    }
    body.replaceChildren(rows);
  }
  $('ext-count').textContent = items.length === r.data.total ? `${r.data.total} in all`
    : `${items.length} of ${r.data.total} shown`;
}

function setSort(key) {
  if (sortKey === key) sortDesc = !sortDesc;
  else { sortKey = key; sortDesc = false; }
  for (const b of document.querySelectorAll('#ext-table button.sort')) {
    const th = b.closest('th');
    th.setAttribute('aria-sort', b.dataset.sort === sortKey ? (sortDesc ? 'descending' : 'ascending') : 'none');
  }
  load();
}

async function remove(number) {
  if (!window.confirm(`Delete extension ${number}? Its phones can no longer sign in.`)) return;
  const r = await api('DELETE', '/api/v1/extensions/' + encodeURIComponent(number));
  if (r.status === 204) {
    setStatus(`Extension ${number} deleted.`);
    if (editing === number) stopEdit();
  } else if (r.status !== 401) {
    setStatus(errorText(r, 'The extension could not be deleted.'));
  }
  load();
}

// ---- add and edit -------------------------------------------------------------

function startEdit(e) {
  editing = e.number;
  errors.clear();
  $('ext-form-title').textContent = 'Edit extension ' + e.number;
  $('ext-number').value = e.number;
  $('ext-number').readOnly = true;
  $('ext-name').value = e.name || '';
  $('ext-vm_pin').value = '';
  $('ext-vm_pin').placeholder = e.vm_pin_set ? 'set; type a new one to change it' : '';
  $('ext-ring_time').value = e.ring_time;
  $('ext-edit-only').hidden = false;
  $('ext-submit').textContent = 'Save';
  $('ext-newpw').hidden = false;
  $('ext-cancel').hidden = false;
  $('ext-name').focus();
}

function stopEdit() {
  editing = '';
  errors.clear();
  $('ext-form').reset();
  $('ext-form-title').textContent = 'Add an extension';
  $('ext-number').readOnly = false;
  $('ext-vm_pin').placeholder = '';
  $('ext-edit-only').hidden = true;
  $('ext-submit').textContent = 'Add extension';
  $('ext-newpw').hidden = true;
  $('ext-cancel').hidden = true;
}

async function submit(ev) {
  ev.preventDefault();
  errors.clear();
  const name = $('ext-name').value.trim();
  const pin = $('ext-vm_pin').value.trim();
  if (editing) {
    const body = { name };
    if (pin) body.vm_pin = pin;
    const rt = $('ext-ring_time').value.trim();
    if (rt) {
      if (!/^\d{1,4}$/.test(rt)) {
        errors.show({ data: { field: 'ring_time', error: 'ring_time: a whole number of seconds' } });
        return;
      }
      body.ring_time = Number(rt);
    }
    const r = await api('PATCH', '/api/v1/extensions/' + encodeURIComponent(editing), body);
    if (r.status === 200) {
      setStatus(`Extension ${editing} saved.`);
      stopEdit();
      load();
    } else if (r.status !== 401) {
      errors.show(r, 'The extension could not be saved.');
    }
    return;
  }
  const body = { number: $('ext-number').value.trim() };
  if (name) body.name = name;
  if (pin) body.vm_pin = pin;
  const r = await api('POST', '/api/v1/extensions', body);
  if (r.status === 201 && r.data) {
    $('ext-form').reset();
    await showCreated(r.data, 'Extension created');
    load();
  } else if (r.status !== 401) {
    errors.show(r, 'The extension could not be added.');
  }
}

async function newPassword() {
  const number = editing;
  if (!window.confirm(`Make a new SIP password for ${number}? Its phones must be given the new one.`)) return;
  const r = await api('POST', '/api/v1/extensions/' + encodeURIComponent(number) + '/password');
  if (r.status === 200 && r.data) {
    const name = $('ext-name').value.trim();
    stopEdit();
    await showCreated({ number, name, password: r.data.password }, 'New password for ' + number);
  } else if (r.status !== 401) {
    $('ext-form-error').textContent = errorText(r, 'No new password could be made.');
  }
}

async function showCreated(ext, title) {
  // The phone talks to the same host as this browser, on the SIP port the
  // settings list (the one pbxd listens on).
  let domain = location.hostname;
  let port = '5060';
  const s = await api('GET', '/api/v1/settings');
  if (s.status === 200 && s.data && typeof s.data.sip_realm === 'string' && s.data.sip_realm) {
    domain = s.data.sip_realm;
  }
  if (s.status === 200 && s.data && /^[0-9]{1,5}$/.test(String(s.data.sip_port))) port = String(s.data.sip_port);
  $('ext-created-title').textContent = title;
  $('sip-server').textContent = location.hostname;
  $('sip-domain').textContent = domain;
  $('sip-port').textContent = port + ', UDP or TCP';
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

// ---- CSV import -------------------------------------------------------------------

// POST the CSV with upload progress (fetch cannot report it); resolves to
// {status, data} like api().
function upload(text) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    const bar = $('imp-progress');
    bar.hidden = false;
    bar.value = 0;
    bar.removeAttribute('aria-valuetext');
    xhr.open('POST', '/api/v1/extensions/import');
    xhr.setRequestHeader('Content-Type', 'text/csv');
    xhr.setRequestHeader('X-CSRF-Token', csrfToken());
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = (e) => {
      // The upload is 90 %; the server's checks are the rest.
      if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 90);
    };
    xhr.upload.onload = () => {
      bar.value = 90;
      $('imp-result').textContent = 'Checking the rows…';
    };
    xhr.onload = () => {
      bar.value = 100;
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
      resolve({ status: xhr.status, data });
    };
    xhr.onerror = () => resolve({ status: 0, data: { error: 'The phone system cannot be reached.' } });
    xhr.send(text);
  });
}

async function runImport(text) {
  $('imp-error').textContent = '';
  $('imp-result').textContent = 'Sending…';
  $('imp-rows-box').hidden = true;
  $('imp-submit').disabled = true;
  const r = await upload(text);
  $('imp-submit').disabled = false;
  importText = text;
  importBad = [];
  if (r.status === 200 && r.data) {
    $('imp-result').textContent = `Imported ${r.data.imported} extensions.`;
    $('imp-file').value = '';
    load();
    return;
  }
  $('imp-result').textContent = '';
  if (r.status === 401) return;
  $('imp-error').textContent = errorText(r, 'The file could not be imported.');
  const rows = r.data && Array.isArray(r.data.rows) ? r.data.rows : [];
  if (!rows.length) return;
  const frag = document.createDocumentFragment();
  for (const row of rows) {
    const tr = document.createElement('tr');
    cell(tr, String(row.line));
    cell(tr, row.error);
    frag.appendChild(tr);
    if (Number.isInteger(row.line) && row.line > 1) importBad.push(row.line);
  }
  $('imp-rows').tBodies[0].replaceChildren(frag);
  const lines = text.split(/\r?\n/).filter((l, i) => i > 0 && l.trim() !== '').length;
  const others = lines - importBad.length;
  $('imp-error').textContent = `${r.data.invalid || rows.length} of ${lines} rows were not accepted; nothing was imported.`;
  $('imp-skip').textContent = `Import the other ${others} rows`;
  $('imp-skip').hidden = others <= 0 || r.data.invalid > rows.length;
  $('imp-rows-box').hidden = false;
}

async function submitImport(ev) {
  ev.preventDefault();
  const f = $('imp-file').files[0];
  if (!f) {
    $('imp-error').textContent = 'Choose a CSV file first.';
    $('imp-file').focus();
    return;
  }
  runImport(await f.text());
}

function importOthers() {
  // Records are whole lines (the server says so): drop the refused ones.
  const bad = new Set(importBad);
  const kept = importText.split(/\r?\n/).filter((l, i) => !bad.has(i + 1));
  runImport(kept.join('\n'));
}

// ---- the page ----------------------------------------------------------------------

export default {
  init() {
    $('ext-form').addEventListener('submit', submit);
    $('ext-cancel').addEventListener('click', stopEdit);
    $('ext-newpw').addEventListener('click', newPassword);
    $('ext-created-done').addEventListener('click', hideCreated);
    $('ext-search').addEventListener('input', () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(load, SEARCH_DELAY_MS);
    });
    for (const b of document.querySelectorAll('#ext-table button.sort')) {
      b.addEventListener('click', () => setSort(b.dataset.sort));
    }
    $('imp-form').addEventListener('submit', submitImport);
    $('imp-skip').addEventListener('click', importOthers);
  },
  show() { load(); },
  hide() {},
};
