// ui.mjs: browser test of the web admin UI against a real pbxd.
//
//   cd tests/browser && npm ci && node ui.mjs      (tests/run-all.sh does this)
//
// tests/run-all.sh runs it inside a network namespace with only loopback,
// once against the normal build and once against the ASan build.
//
// Environment: PBXD, PBXCTL (binaries; default pbx/pbxd, pbx/pbxctl),
// CHROMIUM (default /usr/bin/chromium), OUT (screenshots; default
// tests/out). Never downloads a browser.
//
// Starts pbxd on free 127.0.0.1 ports with a fresh database in a temporary
// folder (the admin password set beforehand with pbxctl), drives Debian's
// chromium through playwright-core and checks, printing TAP ("ok N - ...",
// then "1..N"):
// - sign-in by keyboard, a wrong password refused inline;
// - every page loads (a screenshot of each, desktop and phone-sized, into
//   tests/out/) with no sideways scrolling on a 375 px screen, and the
//   navigation works by keyboard;
// - extensions: inline error from the API's {"error","field"}, create
//   (password and SIP settings shown once, a script payload shown as
//   text), search, sort, edit, delete;
// - forwarding: a refused target marked on its field, then saved;
// - a SIPp phone registers with the shown credentials and the Dashboard
//   and the Registrations page show it without a reload (event stream);
// - CSV import of 200 extensions with two bad rows: both reported by line,
//   nothing imported, then the other 198 imported;
// - a call record put into the database appears in Call history, its
//   filter and its CSV link; the dashboard counts it;
// - voicemail: a message added with pbxctl vm add is listed, its player
//   plays it (and seeks), playing marks it heard, delete after confirming;
// - settings (a refused value marked, a good one saved), administrators
//   (add, set password, delete), bans, calls;
// - no script error and no Content-Security-Policy violation anywhere;
// - pbxd exits 0 on SIGTERM afterwards.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = resolve(process.env.OUT || join(ROOT, 'tests', 'out'));
const PBXD = resolve(ROOT, process.env.PBXD || 'pbx/pbxd');
const PBXCTL = resolve(ROOT, process.env.PBXCTL || 'pbx/pbxctl');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ADMIN_PW = 'browser test password';
const PAYLOAD = '<img src=x onerror="window.__pwned=1">\'; DROP TABLE x;--';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];
const PAGES = ['dashboard', 'extensions', 'forwarding', 'registrations', 'calls', 'conferences', 'voicemail',
  'history', 'settings', 'admins', 'bans'];
const WAIT = 10000;            // ms any one thing in the page may take

let tapN = 0;

function fail(msg) {
  throw new Error(msg);
}

function check(cond, msg) {
  tapN++;
  if (!cond) {
    console.log(`not ok ${tapN} - ${msg}`);
    const e = new Error(msg);
    e.reported = true;
    throw e;
  }
  console.log(`ok ${tapN} - ${msg}`);
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

// A port free for TCP and UDP on 127.0.0.1 (SIP listens on both).
async function freePort() {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise((res, rej) => {
      const s = createServer();
      s.once('error', rej);
      s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); });
    });
    const udpFree = await new Promise((res) => {
      const u = createSocket('udp4');
      u.once('error', () => res(false));
      u.bind(port, '127.0.0.1', () => u.close(() => res(true)));
    });
    if (udpFree) return port;
  }
  fail('no free port');
}

async function waitHealthy(base, proc) {
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) fail('pbxd exited with ' + proc.exitCode);
    try {
      const r = await fetch(base + '/healthz');
      if (r.status === 200) return;
    } catch (e) { /* not listening yet */ }
    await sleep(100);
  }
  fail('pbxd did not become healthy within 10 s');
}

// Run a program with a time bound; resolves to {code, out}.
function run(cmd, args, opts, limitMs) {
  return new Promise((res) => {
    const p = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), limitMs);
    p.on('exit', (code, sig) => { clearTimeout(t); res({ code: code === null ? sig : code, out }); });
    p.on('error', (e) => { clearTimeout(t); res({ code: -1, out: String(e) }); });
  });
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'pbx-ui-'));
  const db = join(dir, 'pbx.db');
  execFileSync(PBXCTL, ['--db', db, 'admin', 'passwd', 'admin'], { input: ADMIN_PW + '\n' });
  const httpPort = await freePort();
  const sipPort = await freePort();
  const sippPort = await freePort();
  const rtpLo = 30000 + Math.floor(Math.random() * 10000) * 2;
  const base = `http://127.0.0.1:${httpPort}`;
  const pbxd = spawn(PBXD, ['--db', db, '--spool', join(dir, 'spool'),
    '--sip-listen', `127.0.0.1:${sipPort}`, '--http-listen', `127.0.0.1:${httpPort}`,
    '--rtp-ports', `${rtpLo}-${rtpLo + 98}`, '--no-demo', '--log-level', 'warning'],
  { stdio: ['ignore', 'inherit', 'inherit'] });
  let browser;
  let page;
  try {
    await waitHealthy(base, pbxd);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const problems = [];
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    // API refusals (401, 400) are part of the test; a failed load of the
    // page's own files is not, and neither is any other console error.
    page.on('console', (m) => {
      if ((m.type() === 'error' && !/^Failed to load resource/.test(m.text())) ||
          /Content.Security.Policy/i.test(m.text())) problems.push('console: ' + m.text());
    });
    page.on('response', (r) => {
      if (r.status() >= 400 && !new URL(r.url()).pathname.startsWith('/api/')) {
        problems.push(`${r.status()} for ${r.url()}`);
      }
    });
    // Confirmation dialogs (delete, hang up) are answered yes.
    page.on('dialog', (d) => d.accept());
    const text = (sel) => page.textContent(sel);
    const rows = (table) => page.$$eval(`#${table} tbody tr`, (trs) => trs.map((tr) =>
      [...tr.children].map((td) => td.textContent)));
    const goto = async (name) => {
      await page.click(`#nav a[data-page=${name}]`);
      await page.waitForSelector(`#page-${name}:not([hidden])`, { timeout: WAIT });
    };
    const shot = (name) => page.screenshot({ path: join(OUT, `ui-${name}.png`), fullPage: true });
    const apiGet = (path) => page.evaluate(async (p) => {
      const r = await fetch(p);
      return { status: r.status, data: await r.json().catch(() => null) };
    }, path);

    // ---- sign in with the keyboard only: the user field has the focus.
    await page.goto(base + '/');
    await page.waitForSelector('#page-signin:not([hidden])');
    await shot('signin');
    check(await page.evaluate(() => document.activeElement && document.activeElement.id) === 'signin-user',
      'the sign-in page focuses the user name field');
    await page.keyboard.type('admin');
    await page.keyboard.press('Tab');
    await page.keyboard.type('wrong password');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('signin-error').textContent.length > 0);
    check(await page.isVisible('#page-signin'), 'a wrong password keeps the sign-in page with an error');
    await page.fill('#signin-user', 'admin');
    await page.focus('#signin-pass');
    await page.keyboard.type(ADMIN_PW);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#page-dashboard:not([hidden])');
    check(true, 'signed in, the dashboard shows');
    await page.waitForFunction(() => document.getElementById('live-state').textContent === 'Live',
      null, { timeout: WAIT });
    check(true, 'the live event stream is connected');

    // ---- extensions: inline error, create, payload as text, search.
    await goto('extensions');
    await page.fill('#ext-number', 'abc');
    await page.click('#ext-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('ext-number-error').textContent.length > 0);
    check(await page.getAttribute('#ext-number', 'aria-invalid') === 'true', 'an invalid number is marked invalid inline');
    await shot('extensions-invalid');
    await page.fill('#ext-number', '301');
    await page.fill('#ext-name', PAYLOAD);
    await page.click('#ext-form button[type=submit]');
    await page.waitForSelector('#ext-created:not([hidden])');
    const pw301 = await text('#sip-password');
    check(/^\S{8,}$/.test(pw301), 'the new SIP password is shown');
    check(await text('#sip-user') === '301', 'the SIP user name is the extension number');
    check(await text('#sip-server') === '127.0.0.1', 'the SIP server is the host the browser used');
    check((await text('#sip-port')).startsWith(`${sipPort},`), 'the SIP port shown is the one pbxd listens on: ' +
      await text('#sip-port'));
    const realm = await text('#sip-domain');
    check(await text('#ext-number-error') === '', 'the inline error is gone after success');
    await page.waitForFunction(() => document.querySelectorAll('#ext-table tbody tr').length === 1);
    await shot('extension-created');
    check((await rows('ext-table'))[0][1] === PAYLOAD, 'a markup payload in the name is shown as text');
    check(await page.evaluate(() => document.querySelectorAll('#ext-table img').length === 0 && !window.__pwned),
      'the payload did not become markup or run');
    await page.click('#ext-created-done');
    check(await page.isHidden('#ext-created') && await text('#sip-password') === '', 'Done hides the password');
    await page.fill('#ext-number', '302');
    await page.fill('#ext-name', 'Reception');
    await page.click('#ext-form button[type=submit]');
    await page.waitForSelector('#ext-created:not([hidden])');
    await page.click('#ext-created-done');
    await page.waitForFunction(() => document.querySelectorAll('#ext-table tbody tr').length === 2);
    await page.fill('#ext-search', 'Recep');
    await page.waitForFunction(() => document.querySelectorAll('#ext-table tbody tr').length === 1);
    check((await rows('ext-table'))[0][0] === '302', 'search finds the extension by name');
    await page.fill('#ext-search', '');
    await page.waitForFunction(() => document.querySelectorAll('#ext-table tbody tr').length === 2);
    await page.click('#ext-table button.sort[data-sort=number]');
    await page.waitForFunction(() => document.querySelector('#ext-table tbody tr td').textContent === '302');
    check(await page.getAttribute('#ext-table th:first-child', 'aria-sort') === 'descending',
      'sorting by number the other way round');
    await page.click('#ext-table button.sort[data-sort=number]');
    await page.waitForFunction(() => document.querySelector('#ext-table tbody tr td').textContent === '301');

    // Edit 302: ring time out of range is refused inline, then saved.
    await page.click('#ext-table button[aria-label="Edit 302"]');
    check(await page.isVisible('#ext-ring_time') && await page.inputValue('#ext-number') === '302',
      'Edit fills the form with the extension');
    await page.fill('#ext-ring_time', '9999');
    await page.click('#ext-submit');
    await page.waitForFunction(() => document.getElementById('ext-ring_time-error').textContent.length > 0);
    check(true, 'a ring time out of range is refused next to its field');
    await page.fill('#ext-ring_time', '25');
    await page.fill('#ext-name', 'Front desk');
    await page.click('#ext-submit');
    await page.waitForFunction(() => [...document.querySelectorAll('#ext-table tbody tr')]
      .some((tr) => tr.children[1].textContent === 'Front desk' && tr.children[2].textContent === '25 s'));
    check(true, 'the edited name and ring time are saved and listed');

    // ---- forwarding of 301: a refused target, then a good one.
    await page.click('#ext-table button[aria-label="Forwarding of 301"]');
    await page.waitForSelector('#fwd-form:not([hidden])', { timeout: WAIT });
    check(await text('#fwd-number') === '301', 'the Forwarding button opens the extension\'s forwarding');
    await page.fill('#fwd-busy', '399');
    await page.click('#fwd-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('fwd-busy-error').textContent.length > 0);
    check(await page.getAttribute('#fwd-busy', 'aria-invalid') === 'true',
      'forwarding to an unknown extension is refused on its field');
    await shot('forwarding-invalid');
    await page.fill('#fwd-busy', '302');
    await page.fill('#fwd-noanswer', '302');
    await page.fill('#fwd-ring_time', '20');
    await page.check('#fwd-dnd');
    await page.click('#fwd-form button[type=submit]');
    await page.waitForFunction(() => /saved/.test(document.getElementById('status').textContent));
    const fwd = await apiGet('/api/v1/extensions/301/forwarding');
    check(fwd.status === 200 && fwd.data.busy === '302' && fwd.data.noanswer === '302' && fwd.data.dnd === true &&
      fwd.data.ring_time === 20 && fwd.data.always === '', 'forwarding is saved as entered');
    await page.reload();
    await page.waitForSelector('#fwd-form:not([hidden])', { timeout: WAIT });
    check(await page.inputValue('#fwd-busy') === '302' && await page.isChecked('#fwd-dnd'),
      'a reload of #forwarding/301 shows what was saved');
    await page.uncheck('#fwd-dnd');
    await page.click('#fwd-form button[type=submit]');
    await page.waitForFunction(() => /saved/.test(document.getElementById('status').textContent));
    await shot('forwarding');

    // ---- a phone registers: the dashboard shows it without a reload.
    await goto('dashboard');
    await page.waitForFunction(() => document.getElementById('dash-ext').textContent === '2', null, { timeout: WAIT });
    await page.waitForFunction(() => document.getElementById('dash-reg').textContent === '0', null, { timeout: WAIT });
    await page.evaluate(() => { window.__noReload = 1; });
    writeFileSync(join(dir, 'users.csv'), `SEQUENTIAL\n301;[authentication username=301 password=${pw301}]\n`);
    const sipp = await run('sipp', [`127.0.0.1:${sipPort}`, '-sf', join(ROOT, 'tests/sip/scenarios/register_auth.xml'),
      '-inf', join(dir, 'users.csv'), '-key', 'domain', '127.0.0.1', '-key', 'expires', '600',
      '-i', '127.0.0.1', '-p', String(sippPort), '-m', '1', '-timeout', '20s', '-recv_timeout', '5000', '-nostdin'],
    { cwd: dir }, 30000);
    if (sipp.code !== 0) console.log('# sipp: ' + sipp.out.split('\n').slice(-15).join('\n# '));
    check(sipp.code === 0, `SIPp registers 301 with the password shown (realm ${realm})`);
    await page.waitForFunction(() => document.getElementById('dash-reg').textContent === '1', null, { timeout: WAIT });
    check(await page.evaluate(() => window.__noReload === 1), 'the dashboard shows the phone registered, without a reload');
    check(/1 phone signed in/.test(await text('#dash-bindings')), 'the dashboard counts the phone');
    await shot('dashboard');
    await goto('registrations');
    await page.waitForFunction(() => document.querySelectorAll('#reg-table tbody tr td').length >= 5,
      null, { timeout: WAIT });
    const reg = (await rows('reg-table'))[0];
    check(reg[0] === '301' && reg[3] === 'pbx-tests-sipp', 'the registrations page lists the phone');
    await shot('registrations');

    // ---- CSV import: 200 rows, two bad ones reported, then the others.
    await goto('extensions');
    const csv = ['extension,name,password,vm_pin'];
    for (let i = 0; i < 200; i++) {
      const n = 1000 + i;
      if (i === 50) csv.push(`12a4,Bad number,secret${n},`);          // line 52
      else if (i === 120) csv.push(`${n},No password,,`);             // line 122
      else csv.push(`${n},Imported ${n},secret-${n},${n % 10000}`);
    }
    const csvPath = join(dir, 'import.csv');
    writeFileSync(csvPath, csv.join('\n') + '\n');
    await page.setInputFiles('#imp-file', csvPath);
    await page.click('#imp-submit');
    await page.waitForSelector('#imp-rows-box:not([hidden])', { timeout: WAIT });
    const bad = await rows('imp-rows');
    check(bad.length === 2 && bad[0][0] === '52' && bad[1][0] === '122',
      'the import reports the two bad rows by line: ' + JSON.stringify(bad));
    check(/2 of 200 rows/.test(await text('#imp-error')), 'the import says nothing was imported');
    check(await page.getAttribute('#imp-progress', 'value') === '100', 'the progress bar is full');
    await shot('extensions-import-errors');
    let list = await apiGet('/api/v1/extensions?limit=1');
    check(list.data.total === 2, 'nothing was imported from a file with bad rows');
    check(await text('#imp-skip') === 'Import the other 198 rows', 'the import offers the other 198 rows');
    await page.click('#imp-skip');
    await page.waitForFunction(() => /Imported 198/.test(document.getElementById('imp-result').textContent),
      null, { timeout: WAIT });
    list = await apiGet('/api/v1/extensions?limit=1');
    check(list.data.total === 200, 'the other 198 rows are imported');
    await page.waitForFunction(() => /200 in all/.test(document.getElementById('ext-count').textContent));
    await page.click('#ext-table button[aria-label="Delete 1199"]');
    await page.waitForFunction(() => /deleted/.test(document.getElementById('status').textContent));
    list = await apiGet('/api/v1/extensions/1199');
    check(list.status === 404, 'Delete removes the extension');
    await shot('extensions');

    // ---- call history: a record written into the database appears.
    const now = Date.now();
    execFileSync('sqlite3', [db, `INSERT INTO cdr(call_id, caller, callee, dialed, start_at, answer_at, end_at,
      disposition, hangup_by, a_codec, b_codec) VALUES ('browser-test-1', '301', '302', '302', ${now - 65000},
      ${now - 60000}, ${now - 5000}, 'answered', 'caller', 'PCMU', 'opus'),
      ('browser-test-2', '302', '1001', '<b>1001</b>', ${now - 30000}, NULL, ${now - 20000}, 'noanswer', 'caller',
      '', '')`]);
    await goto('history');
    await page.waitForFunction(() => document.querySelectorAll('#cdr-table tbody tr td').length >= 14,
      null, { timeout: WAIT });
    const cdr = await rows('cdr-table');
    check(cdr.length === 2 && cdr[1][1] === '301' && cdr[1][3] === '302' && cdr[1][4] === 'Answered' &&
      cdr[1][5] === '0:55' && cdr[1][6] === 'PCMU / opus', 'the call record appears in Call history');
    check(cdr[0][2] === '<b>1001</b>' && cdr[0][4] === 'Not answered', 'dialled text is shown as text');
    await shot('history');
    await page.fill('#cdr-caller', '301');
    await page.click('#cdr-filter button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#cdr-table tbody tr').length === 1);
    check((await rows('cdr-table'))[0][1] === '301', 'the caller filter narrows the history');
    const href = await page.getAttribute('#cdr-csv', 'href');
    check(href === '/api/v1/cdr.csv?caller=301', 'the CSV link carries the filter');
    const csvText = await page.evaluate(async (h) => (await fetch(h)).text(), href);
    check(csvText.split('\r\n').filter(Boolean).length === 2 && /browser-test-1/.test(csvText),
      'the CSV download holds the filtered record');
    await page.selectOption('#cdr-disposition', 'busy');
    await page.click('#cdr-filter button[type=submit]');
    await page.waitForFunction(() => /No calls match/.test(document.getElementById('cdr-count').textContent));
    await page.click('#cdr-clear');
    await page.waitForFunction(() => document.querySelectorAll('#cdr-table tbody tr').length === 2);
    await goto('dashboard');
    await page.waitForFunction(() => document.getElementById('dash-calls24').textContent === '2',
      null, { timeout: WAIT });
    check(await page.$$eval('#dash-chart svg rect.bar-ok', (r) => r.length) >= 2,
      'the dashboard chart draws the calls of the last 24 hours');

    // ---- settings: a refused value marked, a good one saved.
    await goto('settings');
    await page.waitForSelector('#set-max_contacts', { timeout: WAIT });
    await page.fill('#set-max_contacts', '0');
    await page.click('#set-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('set-max_contacts-error').textContent.length > 0);
    check(await page.getAttribute('#set-max_contacts', 'aria-invalid') === 'true', 'a refused setting is marked');
    await page.fill('#set-max_contacts', '7');
    await page.click('#set-form button[type=submit]');
    await page.waitForFunction(() => /saved/.test(document.getElementById('status').textContent));
    const set = await apiGet('/api/v1/settings');
    check(String(set.data.max_contacts) === '7', 'the setting is saved');
    check(await page.$('#set-nonce_key') === null, 'the secret nonce key is not shown');
    // the network settings list what pbxd uses; a bad codec order is marked, a good one saved
    check(await page.inputValue('#set-sip_port') === String(sipPort), 'Settings shows the SIP port pbxd listens on');
    check(await page.inputValue('#set-rtp_port_min') === String(rtpLo) &&
      await page.inputValue('#set-rtp_port_max') === String(rtpLo + 98), 'Settings shows the RTP ports in use');
    check(await page.inputValue('#set-codec_order') === 'opus,PCMU,PCMA', 'Settings shows the codec order');
    await page.fill('#set-codec_order', 'G729');
    await page.click('#set-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('set-codec_order-error').textContent.length > 0);
    check(await page.getAttribute('#set-codec_order', 'aria-invalid') === 'true', 'an unknown codec is refused on its field');
    await page.fill('#set-codec_order', 'PCMU,PCMA,opus');
    await page.evaluate(() => { document.getElementById('status').textContent = ''; });
    await page.click('#set-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('set-codec_order-error').textContent === '' &&
      /saved/.test(document.getElementById('status').textContent));
    check((await apiGet('/api/v1/settings')).data.codec_order === 'PCMU,PCMA,opus', 'the codec order is saved');
    await shot('settings');

    // ---- administrators: add, set a password, delete.
    await goto('admins');
    await page.fill('#adm-username', 'ops');
    await page.fill('#adm-password', 'short');
    await page.click('#adm-submit');
    await page.waitForFunction(() => document.getElementById('adm-password-error').textContent.length > 0 ||
      document.getElementById('adm-form-error').textContent.length > 0 || /added/.test(document.getElementById('status').textContent));
    if (!/added/.test(await text('#status'))) {
      check(true, 'a weak administrator password is refused: ' + (await text('#adm-password-error') || await text('#adm-form-error')));
      await page.fill('#adm-password', 'a much longer password 42');
      await page.click('#adm-submit');
    }
    await page.waitForFunction(() => document.querySelectorAll('#adm-table tbody tr').length === 2, null, { timeout: WAIT });
    check(true, 'an administrator is added');
    await page.click('#adm-table button[aria-label="Set the password of ops"]');
    await page.fill('#adm-password', 'another long password 43');
    await page.click('#adm-submit');
    await page.waitForFunction(() => /password of ops was set/.test(document.getElementById('status').textContent));
    check(true, 'an administrator\'s password is set');
    await shot('admins');
    check(await page.$('#adm-table button[aria-label="Delete administrator admin"]') === null,
      'there is no button to delete yourself');
    await page.click('#adm-table button[aria-label="Delete administrator ops"]');
    await page.waitForFunction(() => document.querySelectorAll('#adm-table tbody tr').length === 1);
    check(true, 'an administrator is deleted');

    // ---- voicemail: a message put in with pbxctl vm add is listed, its
    // player plays it (muted: autoplay without a click is allowed then),
    // playing marks it heard, and it is deleted after the confirmation.
    {
      const spool = join(dir, 'spool');
      const wav = join(dir, 'vm-tone.wav');
      execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', wav, 'synth', '3', 'sine', '440', 'vol', '0.5']);
      execFileSync(PBXCTL, ['--db', db, 'ext', 'add', '3900', '--password', 'vmbrowserpw1', '--name', PAYLOAD]);
      const id = execFileSync(PBXCTL, ['--db', db, '--spool', spool, 'vm', 'add', '3900', wav, '--caller', '5551234'])
        .toString().trim();
      await goto('voicemail');
      await page.waitForSelector('#vm-boxes a[aria-label="Open mailbox 3900"]', { timeout: WAIT });
      check(true, 'voicemail: the mailbox list shows the new mailbox');
      await page.click('#vm-boxes a[aria-label="Open mailbox 3900"]');
      await page.waitForFunction(() => [...document.querySelectorAll('#vm-msgs tbody tr')]
        .some((tr) => tr.children[1] && tr.children[1].textContent === '5551234'), null, { timeout: WAIT });
      const vrows = await rows('vm-msgs');
      check(vrows.length === 1 && vrows[0][2] === '0:03' && vrows[0][3] === 'No',
        'voicemail: the message is listed with its caller, length and not heard: ' + JSON.stringify(vrows));
      const played = await page.evaluate(async (limit) => {
        const a = document.querySelector('#vm-msgs audio');
        if (!a) return 'no audio element';
        a.muted = true;
        try { await a.play(); } catch (e) { return 'play: ' + e.message; }
        const end = Date.now() + limit;
        while (Date.now() < end && !(a.currentTime > 0.5 || a.ended)) await new Promise((r) => setTimeout(r, 50));
        // Seek (the server answers Range requests), then stop.
        a.currentTime = 2;
        await new Promise((r) => setTimeout(r, 300));
        a.pause();
        return a.currentTime > 0.5 || a.ended ? 'played' : 'stuck at ' + a.currentTime + ' error ' + (a.error && a.error.code);
      }, WAIT);
      check(played === 'played', 'voicemail: the player plays the message (' + played + ')');
      await page.waitForFunction(() => document.querySelector('#vm-msgs .vm-heard').textContent === 'Yes', null, { timeout: WAIT });
      const heard = await apiGet(`/api/v1/voicemail/3900/messages`);
      check(heard.data && heard.data.items[0].heard === true, 'voicemail: playing it marked it heard');
      await shot('voicemail');
      await page.click(`#vm-msgs button[aria-label="Delete message ${id}"]`);
      await page.waitForFunction(() => /deleted/.test(document.getElementById('status').textContent), null, { timeout: WAIT });
      const left = await apiGet(`/api/v1/voicemail/3900/messages`);
      check(left.data && left.data.total === 0, 'voicemail: the message is deleted after the confirmation');
    }

    // ---- bans and calls: they load (nothing banned, no call).
    await goto('bans');
    await page.waitForFunction(() => /banned/.test(document.getElementById('ban-count').textContent), null, { timeout: WAIT });
    check(/0 addresses/.test(await text('#ban-count')), 'the bans page loads');
    await shot('bans');
    await goto('calls');
    await page.waitForFunction(() => document.getElementById('calls-count').textContent.length > 0, null, { timeout: WAIT });
    check(/calls? now|not|offer/.test(await text('#calls-count')), 'the calls page loads: ' + await text('#calls-count'));
    await shot('calls');

    // ---- conferences: add a room, a phone joins it, the page shows it live.
    await goto('conferences');
    await page.fill('#conf-number', '7');
    await page.click('#conf-submit');
    await page.waitForFunction(() => document.getElementById('conf-number-error').textContent.length > 0);
    check(await page.getAttribute('#conf-number', 'aria-invalid') === 'true', 'conferences: a bad room number is marked inline');
    await page.fill('#conf-number', '7300');
    await page.fill('#conf-pin', '12');
    await page.click('#conf-submit');
    await page.waitForFunction(() => document.getElementById('conf-pin-error').textContent.length > 0);
    check(await text('#conf-number-error') === '', 'conferences: a short PIN is refused next to its field');
    await page.fill('#conf-pin', '');
    await page.fill('#conf-name', PAYLOAD);
    await page.check('#conf-opt-announce');
    await page.click('#conf-submit');
    await page.waitForFunction(() => [...document.querySelectorAll('#conf-table tbody tr')]
      .some((tr) => tr.children[0].textContent === '7300'), null, { timeout: WAIT });
    const roomRow = (await rows('conf-table')).find((r) => r[0] === '7300');
    check(roomRow[1] === PAYLOAD && roomRow[2] === 'None' && /Announce/.test(roomRow[5]),
      'conferences: the room is added, its markup name shown as text: ' + JSON.stringify(roomRow));
    check(await page.evaluate(() => document.querySelectorAll('#conf-table img').length === 0 && !window.__pwned),
      'conferences: the payload did not become markup or run');
    await page.click('#conf-table button[aria-label="Edit room 7300"]');
    check(await page.inputValue('#conf-number') === '7300' && await page.isChecked('#conf-opt-announce'),
      'conferences: Edit fills the form with the room');
    await page.fill('#conf-max_participants', '0');
    await page.click('#conf-submit');
    await page.waitForFunction(() => document.getElementById('conf-max_participants-error').textContent.length > 0);
    await page.fill('#conf-max_participants', '12');
    await page.fill('#conf-name', 'Board room');
    await page.click('#conf-submit');
    await page.waitForFunction(() => [...document.querySelectorAll('#conf-table tbody tr')]
      .some((tr) => tr.children[0].textContent === '7300' && tr.children[1].textContent === 'Board room' &&
        tr.children[4].textContent === '12'), null, { timeout: WAIT });
    check(true, 'conferences: the edited room is saved and listed');
    await page.waitForFunction(() => /Nobody is in/.test(document.getElementById('conf-live').textContent),
      null, { timeout: WAIT });
    await page.evaluate(() => { window.__noReload = 2; });
    writeFileSync(join(dir, 'call.csv'), `SEQUENTIAL\n301;[authentication username=301 password=${pw301}];7300\n`);
    const callPort = await freePort();
    const mediaPort = await freePort();
    const callStart = Date.now();
    const sippCall = run('sipp', [`127.0.0.1:${sipPort}`, '-sf', join(ROOT, 'tests/sip/scenarios/uac_until_bye.xml'),
      '-inf', join(dir, 'call.csv'), '-key', 'domain', '127.0.0.1', '-i', '127.0.0.1', '-p', String(callPort),
      '-mp', String(mediaPort), '-m', '1', '-timeout', '40s', '-recv_timeout', '35000', '-nostdin'],
    { cwd: dir }, 50000);
    let joined = true;
    await page.waitForFunction(() => [...document.querySelectorAll('#conf-live .conf-room[data-room="7300"] tbody tr')]
      .some((tr) => tr.children[0].textContent === '301'), null, { timeout: WAIT }).catch(() => { joined = false; });
    if (!joined) {
      const r = await sippCall;
      console.log('# sipp: ' + r.out.split('\n').slice(-15).join('\n# '));
    }
    check(joined, 'conferences: the phone dialling 7300 appears among the live participants');
    check(await page.evaluate(() => window.__noReload === 2), 'conferences: ... without a reload');
    check(/Board room/.test(await text('#conf-live .conf-room[data-room="7300"] h4')),
      'conferences: the live room carries its name');
    await page.click('#conf-live button[aria-label^="Mute 301"]');
    await page.waitForFunction(() => /Muted/.test(document.querySelector('#conf-live .conf-room[data-room="7300"] tbody')
      .textContent), null, { timeout: WAIT });
    check(await page.$('#conf-live button[aria-label^="Unmute 301"]') !== null, 'conferences: Mute mutes the participant');
    await page.click('#conf-live button[aria-label="Lock room 7300"]');
    await page.waitForFunction(() => /Locked/.test(document.querySelector('#conf-live .conf-room[data-room="7300"]')
      .textContent), null, { timeout: WAIT });
    const liveRooms = await apiGet('/api/v1/rooms/live');
    check(liveRooms.status === 200 && liveRooms.data.items[0].locked === true &&
      liveRooms.data.items[0].participants[0].muted === true, 'conferences: Lock locks the room');
    await shot('conferences');
    await goto('dashboard');
    let roomTile = true;
    await page.waitForFunction(() => document.getElementById('dash-rooms').textContent === '1' &&
      /1 participant/.test(document.getElementById('dash-rooms-people').textContent), null, { timeout: WAIT })
      .catch(() => { roomTile = false; });
    check(roomTile, 'dashboard: the room in use and its participant are counted');
    await goto('conferences');
    await page.waitForSelector('#conf-live button[aria-label^="Remove 301"]', { timeout: WAIT });
    await page.click('#conf-live button[aria-label^="Remove 301"]');
    const sippDone = await Promise.race([sippCall, sleep(15000).then(() => null)]);
    if (sippDone && sippDone.code !== 0) console.log('# sipp: ' + sippDone.out.split('\n').slice(-15).join('\n# '));
    check(sippDone && sippDone.code === 0 && Date.now() - callStart < 30000,
      'conferences: Remove hangs the phone up (SIPp got the BYE, before the media timeout)');
    await page.waitForFunction(() => /Nobody is in/.test(document.getElementById('conf-live').textContent),
      null, { timeout: WAIT });
    check(true, 'conferences: the live list empties');
    await page.click('#conf-table button[aria-label="Delete room 7300"]');
    await page.waitForFunction(() => /deleted/.test(document.getElementById('status').textContent));
    check((await apiGet('/api/v1/rooms')).data.items.length === 0, 'conferences: Delete removes the room');

    // ---- keyboard: the navigation works with Tab and Enter.
    await page.focus('#nav a[data-page=history]');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#page-settings:not([hidden])', { timeout: WAIT });
    check(await page.evaluate(() => document.activeElement.tagName === 'H2'),
      'a page chosen by keyboard puts the focus on its heading');

    // ---- phone-sized screen: every page without sideways scrolling.
    await page.setViewportSize({ width: 375, height: 740 });
    for (const name of PAGES) {
      await goto(name);
      await sleep(300);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 0) {
        // Name the widest culprits, outside the tables' own scroll boxes.
        const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
          .filter((el) => !el.closest('.scroll') && el.getBoundingClientRect().right > window.innerWidth + 0.5)
          .slice(-5).map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className} ${Math.round(el.getBoundingClientRect().right)}px`));
        console.log('# too wide: ' + wide.join(', '));
      }
      check(overflow <= 0, `${name}: no sideways scrolling on a 375 px wide screen`);
      await shot(name + '-phone');
    }
    await page.setViewportSize({ width: 1280, height: 800 });

    // ---- a reload keeps the session; sign out ends it.
    await page.reload();
    await page.waitForSelector('#page-bans:not([hidden])');
    check(true, 'a reload stays signed in');
    await page.click('#signout');
    await page.waitForSelector('#page-signin:not([hidden])');
    const after = await page.evaluate(async () => (await fetch('/api/v1/extensions')).status);
    check(after === 401, 'signed out: the API answers 401');
    check(await page.isHidden('#live-state'), 'signed out: the live stream is closed');

    check(problems.length === 0, 'no script errors or CSP violations' + (problems.length ? ': ' + problems.join('; ') : ''));

    // pbxd stops cleanly with the browser's streams just closed (an ASan
    // build exits non-zero on a leak or an error).
    await browser.close();
    browser = null;
    pbxd.kill('SIGTERM');
    const code = await Promise.race([
      new Promise((res) => (pbxd.exitCode !== null ? res(pbxd.exitCode) : pbxd.on('exit', (c) => res(c)))),
      sleep(15000).then(() => 'still running after 15 s')]);
    check(code === 0, 'pbxd exits 0 on SIGTERM (' + code + ')');
  } catch (e) {
    // What the page said, for the report.
    if (page) {
      await page.screenshot({ path: join(OUT, 'ui-failure.png'), fullPage: true }).catch(() => {});
      const said = await page.evaluate(() => [...document.querySelectorAll('.error, #status')]
        .map((el) => el.id + ': ' + el.textContent).filter((t) => !/: $/.test(t)).join('; ')).catch(() => '');
      if (said) console.log('# page: ' + said);
    }
    throw e;
  } finally {
    if (browser) await browser.close();
    if (pbxd.exitCode === null && pbxd.signalCode === null) {
      pbxd.kill('SIGKILL');
      await new Promise((res) => pbxd.on('exit', res));
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => {
  console.log(`1..${tapN}`);
  console.log('browser ui: PASS');
}, (e) => {
  if (!e.reported) {
    tapN++;
    console.log(`not ok ${tapN} - ${e.message.split('\n')[0]}`);
  }
  console.log(`1..${tapN}`);
  console.log('browser ui: FAIL');
  process.exitCode = 1;
});
