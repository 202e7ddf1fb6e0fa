#!/usr/bin/env node
// @stomp/stompjs under Node (with `ws`) in situations frontends run into: client
// acknowledgements, a refused subscription among several, a long refusal reason, and a
// disconnect in the middle of a large catch-up.
//
// Usage: node node-edge-cases.mjs --addr HOST:PORT --scenario NAME
//
//   client-acks            1.2 client-individual ACKs on /topic/flight:AFR9455 and 1.1
//                          cumulative client ACKs (every 50th message) on the box
//                          destination, both from the start: exactly the expected events,
//                          caught_up, no ERROR, prompt deactivate.
//   client-ack-backlog     client-individual ACKs of every message of /topic/all from the
//                          start (26,448 events, more than the 4096 the server remembers
//                          unacknowledged): the catch-up must complete without an ERROR.
//   refusal-among-several  the partner subscribes to /topic/airline:BAW and then to 60
//                          destinations it may have, in one go, as a frontend's onConnect
//                          does: stompjs must get the ERROR (onStompError, message saying
//                          "outside your airline") and the server's close code 1008.
//   long-refusal-reason    a destination of 60 non-ASCII characters is refused: stompjs must
//                          get the ERROR and a clean close (1008), not a broken connection.
//   disconnect-during-catch-up
//                          /topic/all from the start, handled at 0.2 ms per message;
//                          deactivate() 200 ms after subscribing must resolve within 2 s.
//
// Prints one JSON line; exits 0 when every check held, 1 otherwise, 2 on bad usage.
import { Client, Versions } from '@stomp/stompjs';
import {
  args, expect, expectedEvents, FROM_START, run, since, sleep, SubscriptionCheck, waitFor, Wire,
} from './lib.mjs';

const { addr, scenario } = args(['addr', 'scenario']);

const STEP_MS = 10_000;
const CATCH_UP_MS = 90_000;

/** A stompjs client recording its traffic; `connected` and `errors` fill as frames arrive. */
function client(token, { versions = ['1.2', '1.1', '1.0'] } = {}) {
  const wire = new Wire();
  globalThis.WebSocket = wire.webSocketClass();
  const state = { wire, connected: [], errors: [] };
  state.client = new Client({
    brokerURL: `ws://${addr}/ws`,
    stompVersions: new Versions(versions),
    connectHeaders: { login: 'x', passcode: token },
    heartbeatIncoming: 1000,
    heartbeatOutgoing: 1000,
    reconnectDelay: 0,
    debug: () => {},
  });
  state.client.onStompError = (frame) => state.errors.push({
    t: since(wire.start), message: frame.headers.message, body: frame.body,
  });
  return state;
}

/** Acknowledges as a frontend does: every message, or every `every`th (cumulative). */
function acking(check, every) {
  let count = 0;
  return (message) => {
    check.onMessage(message);
    if (message.headers.ack === undefined && message.headers['message-id'] === undefined) return;
    if (message.headers.notice !== undefined) return;
    count += 1;
    if (count % every === 0) message.ack();
  };
}

const SCENARIOS = {
  async 'client-acks'(summary) {
    summary.clients = [];
    const plans = [
      { versions: ['1.2'], destination: '/topic/flight:AFR9455', ack: 'client-individual', every: 1 },
      { versions: ['1.1'], destination: '/topic/box:48.8,2.2,49.0,2.6', ack: 'client', every: 50 },
    ];
    for (const plan of plans) {
      const c = client('demo-key', plan);
      const check = new SubscriptionCheck('acked', plan.destination,
        expectedEvents(plan.destination.slice('/topic/'.length)));
      c.client.onConnect = (frame) => {
        c.connected.push(frame.headers);
        c.client.subscribe(plan.destination, acking(check, plan.every),
          { id: check.id, ack: plan.ack, from: FROM_START });
      };
      c.client.activate();
      await waitFor(`caught_up on ${plan.destination}`, CATCH_UP_MS,
        () => check.caughtUp || c.wire.closes.length > 0);
      await sleep(300); // the last ACKs reach the server
      const before = performance.now();
      await Promise.race([c.client.deactivate(), sleep(5000)]);
      const acks = c.wire.frames('out').filter((f) => f.command === 'ACK');
      const out = {
        version: c.connected[0]?.version ?? null,
        ack: plan.ack,
        acks_sent: acks.length,
        ack_headers: acks[0] ? Object.keys(acks[0].headers).sort() : [],
        errors: c.errors,
        closes: c.wire.closes,
        deactivate_ms: since(before),
        subscription: check.result(),
      };
      summary.clients.push(out);
      const what = `${plan.versions[0]} ${plan.ack}`;
      expect(summary, out.version === plan.versions[0], `${what}: version ${out.version}`);
      expect(summary, out.subscription.ok, `${what}: ${out.subscription.problems.join('; ')}`);
      expect(summary, out.acks_sent >= Math.floor(out.subscription.received / plan.every),
        `${what}: only ${out.acks_sent} ACKs sent`);
      expect(summary, c.errors.length === 0, `${what}: ERROR frames ${JSON.stringify(c.errors)}`);
      expect(summary, c.wire.closes.length === 1 && c.wire.closes[0].code === 1000,
        `${what}: closes ${JSON.stringify(c.wire.closes)}`);
      expect(summary, out.deactivate_ms < 1000, `${what}: deactivate() took ${out.deactivate_ms} ms`);
    }
  },

  async 'client-ack-backlog'(summary) {
    const c = client('demo-key');
    const check = new SubscriptionCheck('acked', '/topic/all', expectedEvents('all'));
    c.client.onConnect = () => {
      c.client.subscribe(check.destination, acking(check, 1),
        { id: check.id, ack: 'client-individual', from: FROM_START });
    };
    c.client.activate();
    await waitFor('caught_up on /topic/all, or a close', CATCH_UP_MS,
      () => check.caughtUp || c.wire.closes.length > 0);
    summary.received = check.events.length;
    summary.closes = [...c.wire.closes];
    summary.errors = c.errors;
    await Promise.race([c.client.deactivate(), sleep(5000)]);
    expect(summary, check.caughtUp, `no caught_up: connection closed after ${check.events.length} `
      + `of ${check.expected.length} events: ${JSON.stringify(summary.closes)}, `
      + `ERROR frames ${JSON.stringify(c.errors)}`);
    expect(summary, c.errors.length === 0, `ERROR frames ${JSON.stringify(c.errors)}`);
    const result = check.result();
    expect(summary, result.ok, result.problems.join('; '));
  },

  async 'refusal-among-several'(summary) {
    const c = client('partner-key');
    c.client.onConnect = (frame) => {
      c.connected.push(frame.headers);
      c.client.subscribe('/topic/airline:BAW', () => {}, { id: 'baw' });
      for (let i = 0; i < 60; i += 1) {
        c.client.subscribe(`/topic/flight:AFR${1000 + i}`, () => {}, { id: `afr-${i}` });
      }
    };
    c.client.activate();
    await waitFor('the connection to close', STEP_MS, () => c.wire.closes.length > 0);
    await sleep(100);
    await c.client.deactivate();
    summary.errors = c.errors;
    summary.closes = c.wire.closes;
    expect(summary, c.errors.length === 1 && c.errors[0].message.includes('outside your airline'),
      `onStompError saw ${JSON.stringify(c.errors)}; the close was ${JSON.stringify(c.wire.closes)}`);
    expect(summary, c.wire.closes[0].code === 1008,
      `closed with ${JSON.stringify(c.wire.closes[0])}, wanted the server's 1008`);
  },

  async 'long-refusal-reason'(summary) {
    const c = client('demo-key');
    const destination = `/topic/${'é'.repeat(60)}`;
    c.client.onConnect = () => c.client.subscribe(destination, () => {}, { id: 'long' });
    c.client.activate();
    await waitFor('the connection to close', STEP_MS, () => c.wire.closes.length > 0);
    await c.client.deactivate();
    summary.errors = c.errors.map((e) => ({ ...e, message: e.message.slice(0, 60) }));
    summary.closes = c.wire.closes;
    expect(summary, c.errors.length === 1 && c.errors[0].message.includes('unknown topic'),
      `ERROR frames ${JSON.stringify(summary.errors)}`);
    expect(summary, c.wire.closes[0].code === 1008,
      `closed with ${JSON.stringify(c.wire.closes[0])}, wanted the server's 1008`);
  },

  async 'disconnect-during-catch-up'(summary) {
    const c = client('demo-key');
    let received = 0;
    let afterDeactivate = 0;
    let deactivating = false;
    c.client.onConnect = () => {
      c.client.subscribe('/topic/all', () => {
        received += 1;
        if (deactivating) afterDeactivate += 1;
        const end = performance.now() + 0.2;
        while (performance.now() < end); // a frontend's work per message
      }, { id: 'all', from: FROM_START });
    };
    c.client.activate();
    await waitFor('the first messages', STEP_MS, () => received > 0);
    await sleep(200);
    deactivating = true;
    const before = performance.now();
    await Promise.race([c.client.deactivate(), sleep(30_000)]);
    summary.deactivate_ms = since(before);
    summary.received_before = received - afterDeactivate;
    summary.received_after_deactivate = afterDeactivate;
    summary.closes = c.wire.closes;
    expect(summary, summary.deactivate_ms < 2000,
      `deactivate() took ${summary.deactivate_ms} ms; ${afterDeactivate} MESSAGE frames were `
      + 'handled after it was called, before the RECEIPT');
  },
};

const scenarioRun = SCENARIOS[scenario];
if (!scenarioRun) {
  console.error(`unknown scenario ${scenario}: expected one of ${Object.keys(SCENARIOS).join(', ')}`);
  process.exit(2);
}
await run(`node-edge-cases-${scenario}`, 120_000, scenarioRun);
