// Shared helpers of the STOMP interop checks: the bundled data set, an independent model of
// the topic grammar, a WebSocket that records every raw message both ways, bounded waits, a
// checker of what a subscription received, and the one-line JSON summary.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import WebSocket from 'ws';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '../..');

/** Every partition of the embedded broker the tests configure. */
export const PARTITIONS = 4;

/** The `from` header that resumes from the start of every partition. */
export const FROM_START = Array.from({ length: PARTITIONS }, (_, p) => `${p}:0`).join(',');

let dataset = null;

/** The bundled flight events, in file order. */
export function loadDataset() {
  if (!dataset) {
    const text = gunzipSync(readFileSync(path.join(ROOT, 'data/flight-events.jsonl.gz')))
      .toString('utf8');
    dataset = text.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l));
  }
  return dataset;
}

/**
 * Whether `event` matches `topic` under the standard grammar (docs/protocol.md), written
 * here independently of the filters: the same rules as tests/support/expect.rs.
 */
export function matches(topic, event) {
  const at = topic.indexOf(':');
  const kind = at < 0 ? topic : topic.slice(0, at);
  const value = at < 0 ? '' : topic.slice(at + 1);
  switch (kind) {
    case 'all':
      return true;
    case 'flight':
      return typeof event.callsign === 'string'
        && event.callsign.toUpperCase() === value.toUpperCase();
    case 'airline':
      return event.airline_icao === value;
    case 'airport':
      return ['origin', 'origin_iata', 'destination', 'destination_iata']
        .some((f) => event[f] === value);
    case 'box': {
      const [south, west, north, east] = value.split(',').map(Number);
      if (typeof event.lat !== 'number' || typeof event.lon !== 'number') return false;
      const lonIn = west <= east
        ? west <= event.lon && event.lon <= east
        : event.lon >= west || event.lon <= east;
      return south <= event.lat && event.lat <= north && lonIn;
    }
    default:
      throw new Error(`the model does not know topic ${topic}`);
  }
}

/** The events a subscription to `topic` should receive, in file order. */
export function expectedEvents(topic, { airline = null } = {}) {
  return loadDataset()
    .filter((e) => airline === null || e.airline_icao === airline)
    .filter((e) => matches(topic, e));
}

/** Milliseconds since `start`, rounded. */
export const since = (start) => Math.round(performance.now() - start);

/** Resolves when `predicate()` holds; rejects after `ms` with a message naming `what`. */
export function waitFor(what, ms, predicate, intervalMs = 20) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const tick = () => {
      let ok = false;
      try {
        ok = predicate();
      } catch (error) {
        reject(error);
        return;
      }
      if (ok) {
        resolve(since(start));
      } else if (performance.now() - start > ms) {
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      } else {
        setTimeout(tick, intervalMs);
      }
    };
    tick();
  });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A recording of one client's raw WebSocket traffic, across reconnections. */
export class Wire {
  constructor() {
    this.sockets = 0;
    /** Every message, in order: {dir: 'in'|'out', t: ms since the start, data: string}. */
    this.messages = [];
    /** Every close: {t, code, reason}. */
    this.closes = [];
    /** The subprotocol each socket agreed on. */
    this.protocols = [];
    this.start = performance.now();
  }

  /**
   * A WebSocket class recording every socket made from it. Install it as the global
   * `WebSocket` so that stompjs, given a `brokerURL`, makes its sockets as it does in a
   * browser: `new WebSocket(brokerURL, stompVersions.protocolVersions())`.
   */
  webSocketClass() {
    const wire = this;
    return class RecordingWebSocket extends WebSocket {
      constructor(url, protocols, options) {
        super(url, protocols, options);
        wire.attach(this);
      }
    };
  }

  /** Records `ws`'s traffic. */
  attach(ws) {
    const socket = this.sockets++;
    const send = ws.send.bind(ws);
    ws.send = (data, ...rest) => {
      const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
      this.messages.push({ dir: 'out', socket, t: since(this.start), data: text });
      return send(data, ...rest);
    };
    ws.on('open', () => this.protocols.push(ws.protocol));
    ws.on('message', (data) => {
      const text = Buffer.isBuffer(data) ? data.toString('utf8')
        : Buffer.from(data).toString('utf8');
      this.messages.push({ dir: 'in', socket, t: since(this.start), data: text });
    });
    ws.on('close', (code, reason) => {
      this.closes.push({ socket, t: since(this.start), code, reason: reason.toString() });
    });
  }

  /** Messages in `dir` that are exactly one heart-beat (an end of line). */
  heartbeats(dir, fromMs = 0) {
    return this.messages.filter((m) => m.dir === dir && m.t >= fromMs
      && (m.data === '\n' || m.data === '\r\n'));
  }

  /**
   * The frames sent in `dir`, reassembled from messages: {command, headers, messages: how
   * many WebSocket messages carried it, longest: the longest of them}. Heart-beats between
   * frames are skipped. Bodies are cut at the first NUL, which is enough for client frames
   * and for server frames other than MESSAGE.
   */
  frames(dir) {
    const frames = [];
    let buffer = '';
    let parts = 0;
    let longest = 0;
    for (const m of this.messages.filter((x) => x.dir === dir)) {
      if (buffer === '' && (m.data === '\n' || m.data === '\r\n')) continue;
      buffer += m.data;
      parts += 1;
      longest = Math.max(longest, m.data.length);
      let nul;
      while ((nul = buffer.indexOf('\0')) >= 0) {
        const raw = buffer.slice(0, nul).replace(/^(\r?\n)+/, '');
        buffer = buffer.slice(nul + 1).replace(/^(\r?\n)+/, '');
        const [head] = raw.split(/\r?\n\r?\n/);
        const [command, ...lines] = head.split(/\r?\n/);
        const headers = {};
        for (const line of lines) {
          const colon = line.indexOf(':');
          const name = line.slice(0, colon);
          if (!(name in headers)) headers[name] = line.slice(colon + 1);
        }
        frames.push({ command, headers, messages: parts, longest, socket: m.socket, t: m.t });
        parts = buffer === '' ? 0 : 1;
        longest = buffer === '' ? 0 : buffer.length;
      }
    }
    return frames;
  }
}

/** STOMP 1.1/1.2 header unescaping, for reading what a 1.1 client was handed raw. */
export function unescapeHeader(value) {
  return value.replace(/\\(.)/g, (_, c) => ({ c: ':', n: '\n', r: '\r', '\\': '\\' })[c] ?? `\\${c}`);
}

/**
 * Collects the MESSAGE frames of one subscription and checks them against the events the
 * grammar model expects. `redacted`: the partner filter's shape (no icao24/squawk, a
 * `redacted` list).
 */
export class SubscriptionCheck {
  constructor(id, destination, expected, { redacted = false } = {}) {
    this.id = id;
    this.destination = destination;
    this.expected = expected;
    this.redacted = redacted;
    this.events = [];
    this.notices = [];
    this.problems = [];
    this.caughtUpAt = null;
    this.afterCaughtUp = 0;
    this.destinationsSeen = new Set();
  }

  problem(text) {
    if (this.problems.length < 20) this.problems.push(text);
  }

  /** The stompjs message callback for this subscription. */
  onMessage = (message) => {
    const h = message.headers;
    const bytes = message.binaryBody.length;
    if (h['content-length'] !== String(bytes)) {
      this.problem(`content-length ${h['content-length']} but body has ${bytes} bytes`);
    }
    if (Buffer.byteLength(message.body, 'utf8') !== bytes) {
      this.problem('body is not the UTF-8 decoding of the bytes received');
    }
    if (h.subscription !== this.id) this.problem(`subscription header ${h.subscription}`);
    if (h['content-type'] !== 'application/json') {
      this.problem(`content-type ${h['content-type']}`);
    }
    if (!h['message-id']) this.problem('no message-id header');
    this.destinationsSeen.add(h.destination);
    let body;
    try {
      body = JSON.parse(message.body);
    } catch (error) {
      this.problem(`body is not JSON: ${String(message.body).slice(0, 80)}`);
      return;
    }
    if (h.notice !== undefined) {
      this.notices.push({ notice: h.notice, headers: { ...h }, body });
      if (h.notice === 'caught_up' && this.caughtUpAt === null) {
        this.caughtUpAt = this.events.length;
      }
      return;
    }
    if (this.caughtUpAt !== null) this.afterCaughtUp += 1;
    this.events.push({
      partition: Number(h.partition),
      offset: Number(h.offset),
      partitionHeader: h.partition,
      offsetHeader: h.offset,
      messageId: h['message-id'],
      ack: h.ack,
      body,
    });
  };

  get caughtUp() {
    return this.caughtUpAt !== null;
  }

  /** Compares what arrived with what was expected; returns a summary for the JSON line. */
  result(positions = new Map()) {
    const want = new Map(this.expected.map((e) => [e.event_id, e]));
    const seen = new Set();
    let duplicates = 0;
    let extra = 0;
    let badPosition = 0;
    let badPayload = 0;
    const lastOffset = new Map();
    const flights = new Map();
    for (const got of this.events) {
      const id = got.body.event_id;
      if (seen.has(id)) duplicates += 1;
      seen.add(id);
      if (!want.has(id)) {
        extra += 1;
        if (extra <= 3) this.problem(`unexpected event ${id}`);
        continue;
      }
      if (!/^\d+$/.test(got.partitionHeader ?? '') || !/^\d+$/.test(got.offsetHeader ?? '')
        || got.partition >= PARTITIONS) {
        badPosition += 1;
        this.problem(`bad position headers ${got.partitionHeader}/${got.offsetHeader}`);
        continue;
      }
      const last = lastOffset.get(got.partition) ?? -1;
      if (got.offset <= last) {
        badPosition += 1;
        this.problem(`offset ${got.offset} after ${last} in partition ${got.partition}`);
      }
      lastOffset.set(got.partition, got.offset);
      const known = positions.get(id);
      if (known && (known[0] !== got.partition || known[1] !== got.offset)) {
        badPosition += 1;
        this.problem(`${id} at ${got.partition}/${got.offset} and at ${known}`);
      }
      positions.set(id, [got.partition, got.offset]);
      const original = want.get(id);
      if (!samePayload(got.body, original, this.redacted)) {
        badPayload += 1;
        this.problem(`payload of ${id} differs from the data file`);
      }
      const flight = flights.get(original.flight_id) ?? { ids: [], partitions: new Set() };
      flight.ids.push(id);
      flight.partitions.add(got.partition);
      flights.set(original.flight_id, flight);
    }
    const missing = this.expected.filter((e) => !seen.has(e.event_id)).length;
    if (missing > 0) {
      this.problem(`${missing} expected events missing, e.g. ${this.expected
        .filter((e) => !seen.has(e.event_id)).slice(0, 3).map((e) => e.event_id)}`);
    }
    let outOfOrder = 0;
    for (const [flightId, flight] of flights) {
      const order = this.expected.filter((e) => e.flight_id === flightId).map((e) => e.event_id);
      const got = flight.ids.filter((id) => order.includes(id));
      if (flight.partitions.size !== 1 || got.join() !== order.filter((id) => seen.has(id)).join()) {
        outOfOrder += 1;
        this.problem(`events of flight ${flightId} out of order or spread over partitions`);
      }
    }
    const gaps = this.notices.filter((n) => n.notice === 'gap').length;
    if (gaps > 0) this.problem(`${gaps} gap notices`);
    if (!this.caughtUp) this.problem('no caught_up notice');
    if (this.afterCaughtUp > 0) {
      this.problem(`${this.afterCaughtUp} events after caught_up, with nothing live to send`);
    }
    const ok = this.problems.length === 0;
    return {
      destination: this.destination,
      ok,
      expected: this.expected.length,
      received: this.events.length,
      unique: seen.size,
      missing,
      extra,
      duplicates,
      bad_position: badPosition,
      bad_payload: badPayload,
      out_of_order_flights: outOfOrder,
      flights: flights.size,
      partitions: [...lastOffset.keys()].sort(),
      caught_up: this.caughtUp,
      caught_up_after: this.caughtUpAt,
      after_caught_up: this.afterCaughtUp,
      gaps,
      notices: this.notices.map((n) => n.notice),
      destinations_seen: [...this.destinationsSeen],
      problems: this.problems,
    };
  }
}

/** Whether a delivered body is the data file's record, shaped as the filter should. */
function samePayload(got, original, redacted) {
  let want = original;
  if (redacted) {
    want = { ...original };
    delete want.icao24;
    delete want.squawk;
    want.redacted = ['icao24', 'squawk'];
  }
  return canonical(got) === canonical(want);
}

function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Runs `main(summary)` under an overall deadline; prints `summary` (plus ok, failures and
 * elapsed_ms) as one JSON line and exits 0 only when `main` returned and recorded no failure.
 */
export async function run(name, overallMs, main) {
  const start = performance.now();
  const summary = { check: name, ok: false, failures: [] };
  const timer = setTimeout(() => {
    summary.failures.push(`overall deadline of ${overallMs} ms passed`);
    finish(summary, start, 1);
  }, overallMs);
  try {
    await main(summary);
  } catch (error) {
    summary.failures.push(`${error?.stack ?? error}`);
  }
  clearTimeout(timer);
  finish(summary, start, summary.failures.length === 0 ? 0 : 1);
}

function finish(summary, start, code) {
  summary.ok = code === 0;
  summary.elapsed_ms = since(start);
  process.stdout.write(`${JSON.stringify(summary)}\n`, () => process.exit(code));
}

/** Records a failed expectation without stopping the check. */
export function expect(summary, condition, text) {
  if (!condition) summary.failures.push(text);
  return condition;
}

/** Reads `--name value` arguments. */
export function args(names) {
  const out = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    if (!names.includes(name) || argv[i + 1] === undefined) {
      console.error(`usage: node ${path.basename(process.argv[1])} ${names.map((n) => `--${n} VALUE`).join(' ')}`);
      process.exit(2);
    }
    out[name] = argv[i + 1];
  }
  for (const name of names) {
    if (out[name] === undefined) {
      console.error(`missing --${name}`);
      process.exit(2);
    }
  }
  return out;
}
