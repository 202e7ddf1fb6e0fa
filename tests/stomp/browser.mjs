#!/usr/bin/env node
// @stomp/stompjs in headless Chromium against a running flightcast whose whole data set has
// been routed.
//
// Usage: node browser.mjs --addr HOST:PORT --token TOKEN --screenshot PATH.png
//
// Opens the service's own page (same origin), injects the stompjs UMD bundle from
// node_modules, and in the page connects a StompJs.Client to ws://HOST:PORT/ws with the token
// as passcode (the browser's own WebSocket, offering stompjs's subprotocols), subscribes to
// /topic/airline:AFR from the start of every partition, and waits for caught_up. Back in
// Node, every MESSAGE is checked: headers (subscription, message-id, destination,
// content-type, content-length equal to the body's byte length as the browser received it,
// partition and offset rising per partition) and JSON bodies of airline AFR, exactly the
// events the grammar model expects. The page then deactivates the client, which must be
// prompt and answered by a RECEIPT. A screenshot with the result written over the page is
// saved to PATH (PATH minus .png plus .failure.png on failure).
//
// Chromium is Debian's /usr/bin/chromium (override with CHROMIUM_PATH).
//
// Prints one JSON line; exits 0 when every check held, 1 otherwise, 2 on bad usage.
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import {
  args, expect, expectedEvents, FROM_START, HERE, run, SubscriptionCheck,
} from './lib.mjs';

const { addr, token, screenshot } = args(['addr', 'token', 'screenshot']);

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const BUNDLE = path.join(HERE, 'node_modules/@stomp/stompjs/bundles/stomp.umd.js');
const LAUNCH_MS = 20_000;
const LOAD_MS = 15_000;
const IN_PAGE_MS = 60_000;
const DESTINATION = '/topic/airline:AFR';

// Runs in the page: connect, subscribe, collect until caught_up, deactivate.
async function inPage({ url, token, destination, from, limitMs }) {
  const started = performance.now();
  const result = {
    connected: null, subprotocol: null, errors: [], closes: [], messages: [],
    caught_up: false, receipt: null, deactivate_ms: null, timed_out: false, debug: [],
  };
  const client = new StompJs.Client({
    brokerURL: url,
    connectHeaders: { login: 'x', passcode: token },
    heartbeatIncoming: 1000,
    heartbeatOutgoing: 1000,
    reconnectDelay: 0,
    debug: (line) => {
      if (/^(send PING|check PONG|>>> PING|<<< PONG)/.test(line)) result.debug.push(line);
    },
  });
  client.onStompError = (frame) => result.errors.push({ ...frame.headers, body: frame.body });
  client.onWebSocketClose = (event) => result.closes.push({ code: event.code, reason: event.reason });
  client.onDisconnect = (frame) => { result.receipt = frame.headers['receipt-id']; };
  await new Promise((resolve) => {
    const timer = setTimeout(() => { result.timed_out = true; resolve(); }, limitMs);
    client.onConnect = (frame) => {
      result.connected = { ...frame.headers };
      result.subprotocol = client.webSocket?.protocol ?? null;
      client.subscribe(destination, (message) => {
        result.messages.push({
          headers: { ...message.headers },
          body: message.body,
          bytes: message.binaryBody.length,
        });
        if (message.headers.notice === 'caught_up') {
          clearTimeout(timer);
          resolve();
        }
      }, { id: 'afr', from });
    };
    client.onWebSocketClose = (event) => {
      result.closes.push({ code: event.code, reason: event.reason });
      clearTimeout(timer);
      resolve();
    };
    client.activate();
  });
  result.caught_up = result.messages.some((m) => m.headers.notice === 'caught_up');
  // Let two more heart-beat intervals pass on the open connection.
  await new Promise((resolve) => setTimeout(resolve, 2200));
  result.closes_before_deactivate = result.closes.length;
  const before = performance.now();
  await Promise.race([client.deactivate(), new Promise((r) => setTimeout(r, 5000))]);
  result.deactivate_ms = Math.round(performance.now() - before);
  result.elapsed_ms = Math.round(performance.now() - started);
  return result;
}

await run('browser', 100_000, async (summary) => {
  let browser = null;
  let page = null;
  const pageErrors = [];
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: LAUNCH_MS,
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    page.setDefaultTimeout(LOAD_MS);
    await page.goto(`http://${addr}/?token=${encodeURIComponent(token)}`,
      { waitUntil: 'load', timeout: LOAD_MS });
    await page.addScriptTag({ path: BUNDLE });
    summary.stompjs_loaded = await page.evaluate(() => typeof StompJs?.Client === 'function');
    if (!expect(summary, summary.stompjs_loaded, 'StompJs.Client missing after injecting the bundle')) {
      return;
    }
    const result = await page.evaluate(inPage, {
      url: `ws://${addr}/ws`, token, destination: DESTINATION, from: FROM_START,
      limitMs: IN_PAGE_MS,
    });
    const check = new SubscriptionCheck('afr', DESTINATION, expectedEvents('airline:AFR'));
    for (const m of result.messages) {
      check.onMessage({ headers: m.headers, body: m.body, binaryBody: { length: m.bytes } });
    }
    const outcome = check.result();
    const notAfr = check.events.filter((e) => e.body.airline_icao !== 'AFR').length;
    summary.connected = result.connected;
    summary.subprotocol = result.subprotocol;
    summary.errors = result.errors;
    summary.closes = result.closes;
    summary.receipt = result.receipt;
    summary.deactivate_ms = result.deactivate_ms;
    summary.timed_out = result.timed_out;
    summary.heartbeat_debug = {
      negotiated: result.debug.filter((l) => !l.startsWith('>>>') && !l.startsWith('<<<')),
      pings_sent: result.debug.filter((l) => l === '>>> PING').length,
      pongs_received: result.debug.filter((l) => l === '<<< PONG').length,
    };
    summary.messages = result.messages.length;
    summary.events_not_afr = notAfr;
    summary.subscription = outcome;
    summary.in_page_ms = result.elapsed_ms;

    expect(summary, !result.timed_out, `no caught_up within ${IN_PAGE_MS} ms`);
    expect(summary, result.connected?.version === '1.2', `CONNECTED ${JSON.stringify(result.connected)}`);
    expect(summary, result.subprotocol === 'v12.stomp', `subprotocol ${result.subprotocol}`);
    expect(summary, result.errors.length === 0, `ERROR frames ${JSON.stringify(result.errors)}`);
    expect(summary, result.closes_before_deactivate === 0,
      `closed before deactivate: ${JSON.stringify(result.closes)}`);
    expect(summary, outcome.ok, `${DESTINATION}: ${outcome.problems.join('; ')}`);
    expect(summary, notAfr === 0, `${notAfr} bodies of another airline`);
    expect(summary, outcome.destinations_seen.length === 1
      && outcome.destinations_seen[0] === DESTINATION,
    `destination headers ${JSON.stringify(outcome.destinations_seen)}`);
    expect(summary, summary.heartbeat_debug.negotiated.includes('send PING every 1000ms')
      && summary.heartbeat_debug.negotiated.includes('check PONG every 1000ms'),
    `heart-beats ${JSON.stringify(summary.heartbeat_debug)}`);
    expect(summary, result.deactivate_ms < 1000, `deactivate() took ${result.deactivate_ms} ms`);
    expect(summary, typeof result.receipt === 'string' && result.receipt.length > 0,
      'no RECEIPT for the DISCONNECT');
    expect(summary, result.closes.length === 1 && result.closes[0].code === 1000,
      `closes ${JSON.stringify(result.closes)}`);
    expect(summary, pageErrors.length === 0, `page errors: ${pageErrors.join('; ')}`);
  } finally {
    if (page) {
      const shot = summary.failures.length === 0
        ? screenshot : screenshot.replace(/\.png$/, '') + '.failure.png';
      try {
        await page.evaluate((text) => {
          const pre = document.createElement('pre');
          pre.id = 'stomp-check';
          pre.textContent = text;
          pre.style.cssText = 'position:fixed;right:8px;bottom:8px;z-index:99999;margin:0;'
            + 'padding:8px;max-width:640px;white-space:pre-wrap;font:12px monospace;'
            + 'background:#fff;color:#000;border:2px solid #333;opacity:0.95';
          document.body.appendChild(pre);
        }, `stompjs in Chromium: ${summary.failures.length === 0 ? 'OK' : 'FAILED'}\n`
          + JSON.stringify({
            connected: summary.connected,
            subprotocol: summary.subprotocol,
            messages: summary.messages,
            expected: summary.subscription?.expected,
            received: summary.subscription?.received,
            deactivate_ms: summary.deactivate_ms,
            failures: summary.failures,
          }, null, 1));
        await mkdir(path.dirname(shot), { recursive: true });
        await page.screenshot({ path: shot, timeout: LOAD_MS });
        summary.screenshot = shot;
      } catch (error) {
        summary.failures.push(`screenshot: ${error}`);
      }
    }
    if (browser) await browser.close();
  }
});
