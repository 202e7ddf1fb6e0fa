#!/usr/bin/env node
// @stomp/stompjs under Node (with `ws`) limited to older STOMP versions, and the other ways in.
//
// Usage: node node-versions.mjs --addr HOST:PORT --token TOKEN
//
// Three clients, one after the other, each subscribing to /topic/flight:AFR9455 and
// /topic/airport:ORY from the start of every partition and checking that each receives
// exactly the events the grammar model expects, then caught_up:
//
//   1.1: stompVersions ['1.1'] on /ws, token as passcode: offers only v11.stomp, must agree
//        on 1.1 and on heart-beats of 1000 ms both ways (kept over four intervals).
//   1.0: stompVersions ['1.0'] on /ws, token as passcode: offers only v10.stomp, must agree
//        on 1.0 (which has no heart-beats: stompjs sets up none).
//   query-token: the default versions on /stomp?token=TOKEN with no credential in CONNECT.
//
// Prints one JSON line; exits 0 when every check held, 1 otherwise, 2 on bad usage.
import { Client, Versions } from '@stomp/stompjs';
import {
  args, expect, expectedEvents, FROM_START, run, since, sleep, SubscriptionCheck,
  unescapeHeader, waitFor, Wire,
} from './lib.mjs';

const { addr, token } = args(['addr', 'token']);

const HEARTBEAT_MS = 1000;
const STEP_MS = 10_000;
const CATCH_UP_MS = 60_000;
const HOLD_MS = 4 * HEARTBEAT_MS + 200;
const DESTINATIONS = ['/topic/flight:AFR9455', '/topic/airport:ORY'];

const CLIENTS = [
  {
    name: '1.1', versions: ['1.1'], url: `ws://${addr}/ws`, passcode: true,
    subprotocol: 'v11.stomp', version: '1.1', heartbeats: true,
  },
  {
    name: '1.0', versions: ['1.0'], url: `ws://${addr}/ws`, passcode: true,
    subprotocol: 'v10.stomp', version: '1.0', heartbeats: false,
  },
  {
    name: 'query-token', versions: ['1.2', '1.1', '1.0'],
    url: `ws://${addr}/stomp?token=${encodeURIComponent(token)}`, passcode: false,
    subprotocol: 'v12.stomp', version: '1.2', heartbeats: true,
  },
];

async function one(plan, summary) {
  const wire = new Wire();
  globalThis.WebSocket = wire.webSocketClass();
  const debug = [];
  const errors = [];
  const connected = [];
  const client = new Client({
    brokerURL: plan.url,
    stompVersions: new Versions(plan.versions),
    connectHeaders: plan.passcode ? { login: 'x', passcode: token } : {},
    heartbeatIncoming: HEARTBEAT_MS,
    heartbeatOutgoing: HEARTBEAT_MS,
    reconnectDelay: 0,
    debug: (line) => debug.push({ t: since(wire.start), line }),
  });
  client.onStompError = (frame) => errors.push({ ...frame.headers, body: frame.body });
  const checks = DESTINATIONS.map((destination, i) => new SubscriptionCheck(
    `v-${i}`, destination, expectedEvents(destination.slice('/topic/'.length)),
  ));
  client.onConnect = (frame) => {
    connected.push({ ...frame.headers });
    for (const check of checks) {
      client.subscribe(check.destination, check.onMessage, { id: check.id, from: FROM_START });
    }
  };
  client.activate();
  const out = { name: plan.name };
  summary.clients.push(out);
  const failed = (text) => summary.failures.push(`${plan.name}: ${text}`);

  await waitFor(`${plan.name}: CONNECTED`, STEP_MS,
    () => connected.length > 0 || wire.closes.length > 0);
  out.connected = connected[0] ?? null;
  out.subprotocol = wire.protocols[0] ?? null;
  out.offered = plan.versions;
  if (!out.connected) {
    failed(`no CONNECTED; errors ${JSON.stringify(errors)}, closes ${JSON.stringify(wire.closes)}`);
    await client.deactivate({ force: true });
    return;
  }
  await waitFor(`${plan.name}: caught_up on every subscription`, CATCH_UP_MS,
    () => checks.every((c) => c.caughtUp) || wire.closes.length > 0);
  const quietFrom = since(wire.start);
  if (plan.heartbeats) await sleep(HOLD_MS);
  else await sleep(2 * HEARTBEAT_MS);
  out.heartbeats = {
    send_ping_every: debug.find((d) => d.line.startsWith('send PING every'))?.line ?? null,
    check_pong_every: debug.find((d) => d.line.startsWith('check PONG every'))?.line ?? null,
    pings_sent: debug.filter((d) => d.t >= quietFrom && d.line === '>>> PING').length,
    pongs_received: debug.filter((d) => d.t >= quietFrom && d.line === '<<< PONG').length,
    raw_in: wire.heartbeats('in', quietFrom).length,
    raw_out: wire.heartbeats('out', quietFrom).length,
  };
  out.closes_before_deactivate = [...wire.closes];
  out.errors = errors;
  out.subscriptions = checks.map((c) => c.result());
  const before = performance.now();
  await Promise.race([client.deactivate(), sleep(5000)]);
  out.deactivate_ms = since(before);
  out.closes = wire.closes;

  if (out.subprotocol !== plan.subprotocol) failed(`subprotocol ${out.subprotocol}`);
  if (out.connected.version !== plan.version) failed(`CONNECTED version ${out.connected.version}`);
  if (out.closes_before_deactivate.length > 0) {
    failed(`closed before deactivate: ${JSON.stringify(out.closes_before_deactivate)}`);
  }
  if (errors.length > 0) failed(`ERROR frames ${JSON.stringify(errors)}`);
  for (const s of out.subscriptions) {
    if (!s.ok) failed(`${s.destination}: ${s.problems.join('; ')}`);
    // stompjs unescapes headers only in 1.2; in 1.1 the escaped value reaches the application.
    const seen = s.destinations_seen.map((d) => (plan.version === '1.1' ? unescapeHeader(d) : d));
    if (seen.length !== 1 || seen[0] !== s.destination) {
      failed(`${s.destination}: destination headers ${JSON.stringify(s.destinations_seen)}`);
    }
  }
  const hb = out.heartbeats;
  if (plan.heartbeats) {
    if (hb.send_ping_every !== `send PING every ${HEARTBEAT_MS}ms`
      || hb.check_pong_every !== `check PONG every ${HEARTBEAT_MS}ms`) {
      failed(`heart-beats not negotiated at ${HEARTBEAT_MS} ms: ${JSON.stringify(hb)}`);
    }
    if (hb.pings_sent < 3 || hb.pongs_received < 3) {
      failed(`heart-beats over ${HOLD_MS} ms: ${JSON.stringify(hb)}`);
    }
  } else if (hb.send_ping_every || hb.check_pong_every || hb.pings_sent > 0) {
    failed(`heart-beats set up in STOMP ${plan.version}: ${JSON.stringify(hb)}`);
  }
  if (out.deactivate_ms >= 1000) failed(`deactivate() took ${out.deactivate_ms} ms`);
  if (wire.closes.length !== 1 || wire.closes[0].code !== 1000) {
    failed(`closes ${JSON.stringify(wire.closes)}`);
  }
}

await run('node-versions', 120_000, async (summary) => {
  summary.clients = [];
  for (const plan of CLIENTS) {
    await one(plan, summary);
  }
  expect(summary, summary.clients.length === CLIENTS.length, 'not every client ran');
});
