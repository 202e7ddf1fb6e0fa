#!/usr/bin/env node
// @stomp/stompjs under Node (with `ws`): a refused subscription ends the connection with an
// ERROR frame, stompjs reconnects by itself, and the new connection works.
//
// Usage: node node-reconnect.mjs --addr HOST:PORT --scenario demo|partner
//
//   demo:    token demo-key subscribes to /topic/nonsense (not in the grammar), then, once
//            reconnected, to /topic/flight:AFR9455 from the start of every partition.
//   partner: token partner-key (airline claim AFR) subscribes to /topic/airline:BAW, then,
//            once reconnected, to /topic/all, which for the partner means every Air France
//            event, without icao24 and squawk.
//
// The first connection must get an ERROR whose message says why and be closed by the server;
// stompjs must reconnect after its reconnectDelay (200 ms) and the second subscription must
// receive exactly the events the grammar model expects, then caught_up.
//
// Prints one JSON line; exits 0 when every check held, 1 otherwise, 2 on bad usage.
import { Client } from '@stomp/stompjs';
import {
  args, expect, expectedEvents, FROM_START, run, since, SubscriptionCheck, waitFor, Wire,
} from './lib.mjs';

const { addr, scenario } = args(['addr', 'scenario']);

const SCENARIOS = {
  demo: {
    token: 'demo-key',
    refused: '/topic/nonsense',
    says: 'unknown topic',
    then: '/topic/flight:AFR9455',
    expected: () => expectedEvents('flight:AFR9455'),
    redacted: false,
  },
  partner: {
    token: 'partner-key',
    refused: '/topic/airline:BAW',
    says: 'outside your airline',
    then: '/topic/all',
    expected: () => expectedEvents('all', { airline: 'AFR' }),
    redacted: true,
  },
};
const plan = SCENARIOS[scenario];
if (!plan) {
  console.error(`unknown scenario ${scenario}: expected ${Object.keys(SCENARIOS).join(' or ')}`);
  process.exit(2);
}

const RECONNECT_DELAY_MS = 200;
const STEP_MS = 10_000;
const CATCH_UP_MS = 60_000;

await run(`node-reconnect-${scenario}`, 100_000, async (summary) => {
  const wire = new Wire();
  globalThis.WebSocket = wire.webSocketClass();
  const errors = [];
  const connected = [];
  const check = new SubscriptionCheck('after-reconnect', plan.then, plan.expected(),
    { redacted: plan.redacted });

  const client = new Client({
    brokerURL: `ws://${addr}/ws`,
    connectHeaders: { login: 'x', passcode: plan.token },
    heartbeatIncoming: 1000,
    heartbeatOutgoing: 1000,
    reconnectDelay: RECONNECT_DELAY_MS,
    debug: () => {},
  });
  client.onStompError = (frame) => errors.push({
    t: since(wire.start), headers: { ...frame.headers }, body: frame.body,
  });
  client.onConnect = (frame) => {
    connected.push({ t: since(wire.start), ...frame.headers });
    if (connected.length === 1) {
      client.subscribe(plan.refused, () => {}, { id: 'refused', from: FROM_START });
    } else if (connected.length === 2) {
      client.subscribe(check.destination, check.onMessage, { id: check.id, from: FROM_START });
    }
  };
  client.activate();

  await waitFor('the first CONNECTED', STEP_MS, () => connected.length >= 1);
  await waitFor('an ERROR frame', STEP_MS, () => errors.length >= 1);
  await waitFor('the server to close the connection', STEP_MS, () => wire.closes.length >= 1);
  await waitFor('stompjs to reconnect', STEP_MS, () => connected.length >= 2);
  await waitFor(`caught_up on ${check.destination}`, CATCH_UP_MS,
    () => check.caughtUp || wire.closes.length > 1);
  const result = check.result();
  const before = performance.now();
  await client.deactivate();
  summary.deactivate_ms = since(before);

  const [error] = errors;
  const [close] = wire.closes;
  summary.error = error;
  summary.first_close = close;
  summary.reconnect_ms = connected[1].t - close.t;
  summary.connections = connected.length;
  summary.sockets = wire.sockets;
  summary.subscription = result;
  summary.closes = wire.closes;

  expect(summary, errors.length === 1, `${errors.length} ERROR frames`);
  expect(summary, error.headers.message.includes(plan.says),
    `ERROR message ${JSON.stringify(error.headers.message)} does not say "${plan.says}"`);
  expect(summary, close.socket === 0 && close.code === 1008,
    `first connection closed with ${JSON.stringify(close)}, wanted 1008 from the server`);
  expect(summary, close.t >= error.t, 'the close came before the ERROR frame');
  expect(summary, summary.reconnect_ms >= RECONNECT_DELAY_MS - 20 && summary.reconnect_ms < 2000,
    `reconnected ${summary.reconnect_ms} ms after the close`);
  expect(summary, connected.length === 2 && wire.sockets === 2,
    `${connected.length} CONNECTED frames on ${wire.sockets} sockets`);
  expect(summary, result.ok, `${plan.then}: ${result.problems.join('; ')}`);
  if (plan.redacted) {
    const leaked = check.events.filter((e) => 'icao24' in e.body || 'squawk' in e.body).length;
    summary.bodies_with_icao24_or_squawk = leaked;
    expect(summary, leaked === 0, `${leaked} bodies still carry icao24 or squawk`);
  }
  expect(summary, wire.closes.length === 2 && wire.closes[1].code === 1000,
    `closes ${JSON.stringify(wire.closes)}`);
});
