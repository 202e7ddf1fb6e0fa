#!/usr/bin/env node
// @stomp/stompjs under Node (with `ws`) against a running flightcast whose whole data set
// has been routed, with heart-beats at 1000 ms on the server's side.
//
// Usage: node node-delivery.mjs --addr HOST:PORT --token TOKEN
//
// One client, the way a frontend sets it up (brokerURL, so stompjs offers its STOMP
// subprotocols), with the token as passcode, heart-beats of 1000 ms both ways and every frame
// it sends cut into WebSocket messages of at most 7 characters. It subscribes to four
// destinations, each resuming from offset 0 of every partition, and checks that each receives
// exactly the events the grammar model picks from the data file (no duplicate, none missing,
// offsets rising per partition, content-length the body's byte length), then a caught_up
// notice and nothing after it. It then stays connected for four more heart-beat intervals,
// counting heart-beats both ways, and deactivates, timing it and checking that the DISCONNECT
// was answered by its RECEIPT.
//
// Prints one JSON line; exits 0 when every check held, 1 otherwise, 2 on bad usage.
import { ActivationState, Client } from '@stomp/stompjs';
import {
  args, expect, expectedEvents, FROM_START, run, since, sleep, SubscriptionCheck, waitFor, Wire,
} from './lib.mjs';

const { addr, token } = args(['addr', 'token']);

const HEARTBEAT_MS = 1000;
// An odd size, so that piece boundaries fall everywhere, escapes (\c) included.
const CHUNK = 7;
const CONNECT_MS = 10_000;
const CATCH_UP_MS = 90_000;
// Quiet time after the catch-up: four heart-beat intervals, so at least three heart-beats
// must pass each way, and the connection must survive both sides' checks.
const HOLD_MS = 4 * HEARTBEAT_MS + 200;
const DEACTIVATE_LIMIT_MS = 1000;

const DESTINATIONS = [
  '/topic/airline:AFR',
  '/topic/airport:ORY',
  '/topic/box:48.8,2.2,49.0,2.6',
  '/topic/flight:AFR9455',
];

await run('node-delivery', 150_000, async (summary) => {
  const wire = new Wire();
  globalThis.WebSocket = wire.webSocketClass();
  const debug = [];
  const errors = [];
  const connected = [];
  let disconnectReceipt = null;

  const client = new Client({
    brokerURL: `ws://${addr}/ws`,
    connectHeaders: { login: 'x', passcode: token },
    heartbeatIncoming: HEARTBEAT_MS,
    heartbeatOutgoing: HEARTBEAT_MS,
    splitLargeFrames: true,
    maxWebSocketChunkSize: CHUNK,
    // Any close before deactivate() is a failure here: do not hide it behind a reconnect.
    reconnectDelay: 0,
    debug: (line) => debug.push({ t: since(wire.start), line }),
  });
  client.onStompError = (frame) => errors.push({ ...frame.headers, body: frame.body });
  client.onDisconnect = (frame) => { disconnectReceipt = frame.headers['receipt-id']; };

  const checks = DESTINATIONS.map((destination, i) => new SubscriptionCheck(
    `sub-${i}`, destination, expectedEvents(destination.slice('/topic/'.length)),
  ));
  client.onConnect = (frame) => {
    connected.push({ t: since(wire.start), ...frame.headers });
    for (const check of checks) {
      client.subscribe(check.destination, check.onMessage, { id: check.id, from: FROM_START });
    }
  };
  client.activate();

  await waitFor('CONNECTED', CONNECT_MS, () => connected.length > 0 || wire.closes.length > 0);
  const [hello] = connected;
  summary.connected = hello ?? null;
  summary.subprotocol = wire.protocols[0] ?? null;
  if (!expect(summary, hello, `no CONNECTED; closes ${JSON.stringify(wire.closes)}, errors ${JSON.stringify(errors)}`)) {
    return;
  }
  expect(summary, summary.subprotocol === 'v12.stomp', `subprotocol ${summary.subprotocol}`);
  expect(summary, hello.version === '1.2', `CONNECTED version ${hello.version}`);
  expect(summary, hello['heart-beat'] === `${HEARTBEAT_MS},${HEARTBEAT_MS}`,
    `CONNECTED heart-beat ${hello['heart-beat']}`);

  const started = performance.now();
  await waitFor('caught_up on every subscription', CATCH_UP_MS,
    () => checks.every((c) => c.caughtUp) || wire.closes.length > 0);
  summary.catch_up_ms = since(started);
  const quietFrom = since(wire.start);
  await sleep(HOLD_MS);

  const negotiated = (text) => debug.some((d) => d.line === text);
  summary.heartbeats = {
    send_ping_every_1000: negotiated(`send PING every ${HEARTBEAT_MS}ms`),
    check_pong_every_1000: negotiated(`check PONG every ${HEARTBEAT_MS}ms`),
    quiet_ms: HOLD_MS,
    pings_sent: debug.filter((d) => d.t >= quietFrom && d.line === '>>> PING').length,
    pongs_received: debug.filter((d) => d.t >= quietFrom && d.line === '<<< PONG').length,
    raw_out: wire.heartbeats('out', quietFrom).length,
    raw_in: wire.heartbeats('in', quietFrom).length,
    lost: debug.filter((d) => d.line.startsWith('did not receive server activity')).length,
  };
  const hb = summary.heartbeats;
  expect(summary, hb.send_ping_every_1000 && hb.check_pong_every_1000,
    'stompjs did not set up heart-beats of 1000 ms both ways');
  expect(summary, hb.pings_sent >= 3 && hb.raw_out >= 3,
    `client heart-beats in ${HOLD_MS} ms: ${hb.pings_sent} (raw ${hb.raw_out})`);
  expect(summary, hb.pongs_received >= 3 && hb.raw_in >= 3,
    `server heart-beats in ${HOLD_MS} ms: ${hb.pongs_received} (raw ${hb.raw_in})`);
  expect(summary, hb.lost === 0, 'stompjs reported lost server heart-beats');
  summary.closes_before_deactivate = wire.closes.length;
  expect(summary, wire.closes.length === 0,
    `connection closed before deactivate: ${JSON.stringify(wire.closes)}`);
  expect(summary, errors.length === 0, `ERROR frames: ${JSON.stringify(errors)}`);

  const positions = new Map();
  summary.subscriptions = checks.map((c) => c.result(positions));
  for (const s of summary.subscriptions) {
    expect(summary, s.ok, `${s.destination}: ${s.problems.join('; ')}`);
    expect(summary, s.destinations_seen.length === 1 && s.destinations_seen[0] === s.destination,
      `${s.destination}: destination headers ${JSON.stringify(s.destinations_seen)}`);
  }

  // Every SUBSCRIBE went out in pieces of at most CHUNK characters, and was accepted: its
  // events arrived (checked above).
  const sent = wire.frames('out');
  summary.frames_sent = sent.map((f) => ({ command: f.command, messages: f.messages, longest: f.longest }));
  const subscribes = sent.filter((f) => f.command === 'SUBSCRIBE');
  expect(summary, subscribes.length === DESTINATIONS.length,
    `${subscribes.length} SUBSCRIBE frames sent`);
  for (const f of subscribes) {
    expect(summary, f.messages >= 10 && f.longest <= CHUNK,
      `SUBSCRIBE ${f.headers.destination} sent in ${f.messages} messages, longest ${f.longest}`);
  }

  const before = performance.now();
  await Promise.race([client.deactivate(), sleep(5000)]);
  summary.deactivate_ms = since(before);
  const disconnect = sent.length < wire.frames('out').length
    ? wire.frames('out').find((f) => f.command === 'DISCONNECT') : null;
  const receipts = wire.frames('in').filter((f) => f.command === 'RECEIPT');
  summary.disconnect = {
    receipt_header: disconnect?.headers.receipt ?? null,
    receipt_ids: receipts.map((f) => f.headers['receipt-id']),
    on_disconnect_receipt: disconnectReceipt,
    closes: wire.closes,
  };
  expect(summary, client.state === ActivationState.INACTIVE && !client.active, `client state ${client.state} after deactivate`);
  expect(summary, summary.deactivate_ms < DEACTIVATE_LIMIT_MS,
    `deactivate() took ${summary.deactivate_ms} ms`);
  expect(summary, disconnect && disconnect.headers.receipt, 'no DISCONNECT with a receipt header sent');
  expect(summary, disconnect && disconnectReceipt === disconnect.headers.receipt
    && summary.disconnect.receipt_ids.includes(disconnect.headers.receipt),
    `DISCONNECT receipt ${disconnect?.headers.receipt} not answered: ${JSON.stringify(summary.disconnect)}`);
  expect(summary, wire.closes.length === 1 && wire.closes[0].code === 1000,
    `close after DISCONNECT: ${JSON.stringify(wire.closes)}`);
});
