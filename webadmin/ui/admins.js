// admins.js: the Administrators page: who may sign in here; add one, set
// a password, delete (the server refuses the last one and yourself).

import { $, api, button, cell, errorText, FieldErrors, fmtTime, setStatus } from './api.js';

const errors = new FieldErrors('adm', ['username', 'password']);
let me = '';
let passwordFor = '';     // set a password for this user instead of adding one

async function load() {
  const s = await api('GET', '/api/v1/session');
  if (s.status === 200 && s.data) me = s.data.username;
  const r = await api('GET', '/api/v1/admins');
  if (r.status !== 200 || !r.data) {
    if (r.status !== 401) setStatus(errorText(r, 'The administrators could not be read.'));
    return;
  }
  const frag = document.createDocumentFragment();
  for (const a of r.data.items || []) {
    const tr = document.createElement('tr');
    cell(tr, a.username + (a.username === me ? ' (you)' : ''));
    cell(tr, fmtTime(a.created_at * 1000));
    const td = cell(tr, '');
    td.className = 'row-actions';
    td.appendChild(button('Set password', 'Set the password of ' + a.username, () => startPassword(a.username)));
    if (a.username !== me) {
      td.appendChild(button('Delete', 'Delete administrator ' + a.username, () => remove(a.username), 'small danger'));
    }
    frag.appendChild(tr);
  }
  $('adm-table').tBodies[0].replaceChildren(frag);
}

function startPassword(user) {
  passwordFor = user;
  errors.clear();
  $('adm-form-title').textContent = 'New password for ' + user;
  $('adm-username').value = user;
  $('adm-username').readOnly = true;
  $('adm-password').value = '';
  $('adm-submit').textContent = 'Set password';
  $('adm-cancel').hidden = false;
  $('adm-password').focus();
}

function stopPassword() {
  passwordFor = '';
  errors.clear();
  $('adm-form').reset();
  $('adm-form-title').textContent = 'Add an administrator';
  $('adm-username').readOnly = false;
  $('adm-submit').textContent = 'Add administrator';
  $('adm-cancel').hidden = true;
}

async function remove(user) {
  if (!window.confirm(`Delete administrator ${user}?`)) return;
  const r = await api('DELETE', '/api/v1/admins/' + encodeURIComponent(user));
  if (r.status === 204) setStatus(`Administrator ${user} deleted.`);
  else if (r.status !== 401) setStatus(errorText(r, 'The administrator could not be deleted.'));
  load();
}

async function submit(ev) {
  ev.preventDefault();
  errors.clear();
  const password = $('adm-password').value;
  let r;
  if (passwordFor) {
    r = await api('POST', '/api/v1/admins/' + encodeURIComponent(passwordFor) + '/password', { password });
  } else {
    r = await api('POST', '/api/v1/admins', { username: $('adm-username').value.trim(), password });
  }
  if (r.status === 201 || r.status === 204) {
    setStatus(passwordFor ? `The password of ${passwordFor} was set.` : 'Administrator added.');
    stopPassword();
    load();
    return;
  }
  if (r.status !== 401) errors.show(r, 'Not accepted.');
}

export default {
  init() {
    $('adm-form').addEventListener('submit', submit);
    $('adm-cancel').addEventListener('click', stopPassword);
  },
  show() { load(); },
  hide() {},
};
