#!/usr/bin/env node
// Headless Chromium check of the flightcast live page.
//
// Usage: node check-page.mjs <page-url> <screenshot-path>
//
// Opens the page, waits for it to connect and show moving flights, applies
// airline:AFR and then an unknown topic, and saves a screenshot of the page
// showing all flights. Prints one JSON line to stdout and exits 0 on
// success; on failure prints the JSON line with ok=false, explains the
// failure on stderr, writes <screenshot-path minus .png>.failure.png and
// exits 1. Exit 2 is a usage error.
import { chromium } from 'playwright-core';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const VIEWPORT = { width: 1280, height: 800 };
const TITLE = 'flightcast — live flights';
const CREDIT = 'ADS-B data: The OpenSky Network, https://opensky-network.org'
  + ' (via the traffic library)';

// Every wait has its own bound; together they stay under the overall one,
// which in turn stays under the 90 s the check is allowed.
const OVERALL_MS = 85_000;
const LAUNCH_MS = 20_000;
const LOAD_MS = 15_000;
const CONNECT_MS = 15_000;
const ROWS_MS = 20_000;
const UPDATE_MS = 15_000;
const REFILL_MS = 20_000;
const NOTICE_MS = 10_000;
// After the AFR table refills, it is sampled for this long to catch rows
// from the previous subscription that arrive late.
const STABLE_MS = 1_500;

const ROWS = '#flights tbody tr[data-flight]';

const [url, shotPath] = process.argv.slice(2);
if (!url || !shotPath) {
  console.error('usage: node check-page.mjs <page-url> <screenshot-path>');
  process.exit(2);
}

const started = Date.now();
const summary = { ok: false, url, step: null, elapsed_ms: 0 };
const pageErrors = [];
const offOrigin = [];
const frames = { received: 0, events: 0, rejected: [] };
let browser = null;
let page = null;

async function step(name, fn) {
  summary.step = name;
  return fn();
}

// Rows as the test sees them: flight id, callsign cell and update count.
function readRows() {
  return page.$$eval(ROWS, (trs) => trs.map((tr) => {
    const cell = tr.querySelector('td[data-col="callsign"]') || tr.cells[0];
    return {
      flight: tr.dataset.flight,
      callsign: cell ? cell.textContent.trim() : '',
      updates: Number(tr.dataset.updates || 0),
    };
  }));
}

// What the page shows, for failure messages.
function pageState() {
  return page.evaluate(() => {
    const text = (sel) =>
      (document.querySelector(sel)?.textContent || '').replace(/\s+/g, ' ').trim();
    return JSON.stringify({
      conn: text('#conn'),
      subscription: text('#sub-state'),
      rows: document.querySelectorAll('#flights tbody tr[data-flight]').length,
      notice: text('#notice'),
    });
  }).catch((err) => `(page unreadable: ${err.message})`);
}

// waitForFunction with a message that says what was expected and what the
// page showed instead.
async function waitOn(expected, ms, fn, arg) {
  try {
    return await page.waitForFunction(fn, arg, { timeout: ms, polling: 100 });
  } catch (err) {
    if (err.name !== 'TimeoutError') throw err;
    throw new Error(`${expected} within ${ms / 1000} s; the page shows ${await pageState()}`);
  }
}

async function applyTopic(topic) {
  await page.fill('#topic', topic);
  await page.click('#apply');
}

async function waitForRows(min, ms) {
  await waitOn(`expected at least ${min} flight rows`, ms,
    ([sel, n]) => document.querySelectorAll(sel).length >= n, [ROWS, min]);
}

// Resolves once any row present now shows more updates than it does now.
async function waitForUpdates(ms) {
  const before = Object.fromEntries((await readRows()).map((r) => [r.flight, r.updates]));
  const handle = await waitOn('expected some row\'s data-updates to increase', ms,
    ([sel, prev]) => {
      for (const tr of document.querySelectorAll(sel)) {
        const was = prev[tr.dataset.flight];
        if (was !== undefined && Number(tr.dataset.updates) > was) return tr.dataset.flight;
      }
      return false;
    }, [ROWS, before]);
  return handle.jsonValue();
}

async function onlyAfrRows() {
  const rows = await readRows();
  const wrong = rows.filter((r) => !r.callsign.startsWith('AFR'));
  if (!rows.length) throw new Error('the table emptied after airline:AFR was applied');
  if (wrong.length) {
    const list = wrong.slice(0, 5).map((r) => r.callsign || r.flight).join(', ');
    throw new Error(`airline:AFR shows rows of other airlines: ${list}`);
  }
  return rows;
}

function assertNoPageErrors() {
  if (pageErrors.length) throw new Error(`the page threw an uncaught exception: ${pageErrors[0]}`);
}

async function run() {
  await step('launch chromium', async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: LAUNCH_MS,
    });
    const context = await browser.newContext({ viewport: VIEWPORT });
    page = await context.newPage();
  });

  const origin = new URL(url).origin;
  page.on('console', (msg) => {
    if (msg.type() === 'error') console.error(`[page console.error] ${msg.text()}`);
  });
  page.on('pageerror', (err) => {
    pageErrors.push(String(err && err.stack ? err.stack : err));
    console.error(`[page uncaught exception] ${err}`);
  });
  page.on('request', (req) => {
    const u = req.url();
    if (!u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin) {
      offOrigin.push(u);
    }
  });
  page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => {
    frames.received += 1;
    try {
      const msg = JSON.parse(String(payload));
      if (msg.type === 'event') frames.events += 1;
      if (msg.type === 'rejected') frames.rejected.push(msg);
    } catch {
      // Malformed frames are the page's business; it must survive them.
    }
  }));

  await step('load page', async () => {
    const res = await page.goto(url, { waitUntil: 'domcontentloaded', timeout: LOAD_MS });
    if (!res || !res.ok()) throw new Error(`GET ${url} answered ${res ? res.status() : 'nothing'}`);
    const title = await page.title();
    if (title !== TITLE) throw new Error(`title is "${title}", expected "${TITLE}"`);
    const footer = (await page.textContent('footer') || '').replace(/\s+/g, ' ').trim();
    if (!footer.includes(CREDIT)) throw new Error(`footer lacks the data credit: "${footer}"`);
    if (!(await page.$('canvas#map'))) throw new Error('no canvas#map on the page');
  });

  await step('connect', () => waitOn('expected #conn to show connected', CONNECT_MS,
    () => document.querySelector('#conn')?.dataset.state === 'connected'));

  await step('first 3 rows', () => waitForRows(3, ROWS_MS));
  summary.rows_all = (await readRows()).length;

  await step('rows update', async () => {
    summary.updated_flight = await waitForUpdates(UPDATE_MS);
  });
  assertNoPageErrors();

  await step('apply airline:AFR', async () => {
    await applyTopic('airline:AFR');
    await waitOn('expected the table to refill with AFR rows only', REFILL_MS, (sel) => {
      const rows = [...document.querySelectorAll(sel)];
      return rows.length > 0 && rows.every((tr) => {
        const cell = tr.querySelector('td[data-col="callsign"]') || tr.cells[0];
        return cell && cell.textContent.trim().startsWith('AFR');
      });
    }, ROWS);
    const until = Date.now() + STABLE_MS;
    let rows = await onlyAfrRows();
    while (Date.now() < until) {
      await page.waitForTimeout(250);
      rows = await onlyAfrRows();
    }
    summary.rows_afr = rows.length;
    summary.afr_callsigns = rows.slice(0, 5).map((r) => r.callsign);
  });

  await step('apply nonsense', async () => {
    await applyTopic('nonsense');
    await waitOn('expected #notice to report the rejected topic', NOTICE_MS,
      () => /rejected/i.test(document.querySelector('#notice')?.textContent || ''));
    const notice = (await page.textContent('#notice') || '').replace(/\s+/g, ' ');
    const rejected = frames.rejected.find((m) => m.topic === 'nonsense') || frames.rejected.at(-1);
    if (!rejected) throw new Error('the server sent no rejected message for "nonsense"');
    if (rejected.reason && !notice.includes(rejected.reason.replace(/\s+/g, ' '))) {
      throw new Error(`#notice does not show the reason "${rejected.reason}": "${notice.trim()}"`);
    }
    summary.rejection_reason = rejected.reason || null;
  });

  await step('re-apply all and screenshot', async () => {
    await applyTopic('all');
    await waitForRows(3, ROWS_MS);
    await waitForUpdates(UPDATE_MS);
    summary.rows_final = (await readRows()).length;
    await mkdir(path.dirname(path.resolve(shotPath)), { recursive: true });
    await page.screenshot({ path: shotPath, fullPage: true });
    summary.screenshot = shotPath;
  });

  summary.event_count = Number(await page.getAttribute('#event-count', 'data-count'));
  summary.ws_frames = frames.received;
  assertNoPageErrors();
  if (offOrigin.length) throw new Error(`the page loaded outside resources: ${offOrigin[0]}`);
  summary.step = 'done';
  summary.ok = true;
}

function failurePath(p) {
  return p.endsWith('.png') ? `${p.slice(0, -4)}.failure.png` : `${p}.failure.png`;
}

let deadline;
const overall = new Promise((_, reject) => {
  deadline = setTimeout(
    () => reject(new Error(`the check took longer than ${OVERALL_MS / 1000} s`)), OVERALL_MS);
});

let exitCode = 0;
try {
  await Promise.race([run(), overall]);
} catch (err) {
  exitCode = 1;
  const message = String(err && err.message ? err.message : err);
  summary.error = message.split('\n')[0];
  console.error(`check-page: FAILED at step "${summary.step}": ${message}`);
  if (page) {
    const shot = failurePath(shotPath);
    try {
      await mkdir(path.dirname(path.resolve(shot)), { recursive: true });
      await page.screenshot({ path: shot, fullPage: true, timeout: 5_000 });
      summary.failure_screenshot = shot;
      console.error(`check-page: failure screenshot at ${shot}`);
    } catch (shotErr) {
      console.error(`check-page: could not save a failure screenshot: ${shotErr.message}`);
    }
  }
} finally {
  clearTimeout(deadline);
  summary.page_errors = pageErrors.length;
  summary.elapsed_ms = Date.now() - started;
  console.log(JSON.stringify(summary));
  // Closing can hang on a wedged browser; do not let it outlive the check.
  const killer = setTimeout(() => process.exit(exitCode), 5_000);
  killer.unref();
  if (browser) await browser.close().catch(() => {});
  process.exit(exitCode);
}
