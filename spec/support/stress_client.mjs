#!/usr/bin/env node
// spec/support/stress_client.mjs: many concurrent clients of the proxy that leave at random
// moments, for spec/functional/stress_spec.lua. Node built-ins only; loopback only.
//
//   node stress_client.mjs --port N --seed S [--clients 48] [--duration-ms 6000]
//                          [--max-requests 5000] [--models JSON] [--leave NAME]
//
// --models names the deployments: {"mock": ..., "openai": ..., "stall": ..., "silent": ...}
// (a Claude model served by the mock, an OpenAI deployment on the mock, an upstream whose
// connect never completes, one that accepts and never answers). Each client sends one request
// per connection (Connection: close), of a random kind (what the upstream does, through the
// mock's MOCK: directives) and leaves at a random moment: before its request is complete, a
// random time after sending it, once the response head arrives, mid-stream, or never. Every
// choice comes from a PRNG seeded with --seed and the client's number, so a run can be
// replayed (the timing, and so what each choice meets, still varies). --leave keeps one way
// of leaving only (partial, sent, head, mid or never), for narrowing a failure down.
//
// It stops starting requests after --duration-ms or --max-requests, gives up on a request
// after 5 s, and exits by itself at the latest 10 s after the duration. It prints one JSON
// line: { seed, requests, by_kind, by_leave, checked, mismatches (the first 20), mismatch_count,
// elapsed_ms }. A mismatch is a request that was read to its end (leave "never") and did not
// get what its kind expects.
import net from 'node:net';

const REQUEST_TIMEOUT_MS = 5000;

function parseArgs(argv) {
    const o = { clients: 48, durationMs: 6000, maxRequests: 5000, models: {} };
    for (let i = 0; i < argv.length; i += 2) {
        const [k, v] = [argv[i], argv[i + 1]];
        if (k === '--port') o.port = Number(v);
        else if (k === '--seed') o.seed = Number(v);
        else if (k === '--clients') o.clients = Number(v);
        else if (k === '--duration-ms') o.durationMs = Number(v);
        else if (k === '--max-requests') o.maxRequests = Number(v);
        else if (k === '--models') o.models = JSON.parse(v);
        else if (k === '--leave') o.leave = v;
        else throw new Error(`unknown argument ${k}`);
    }
    if (!Number.isInteger(o.port) || !Number.isInteger(o.seed))
        throw new Error('--port and --seed are required integers');
    return o;
}

/* mulberry32: a small PRNG good enough to pick test cases. */
function prng(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

const between = (rnd, lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));

function pick(rnd, table) {
    let total = 0;
    for (const e of table) total += e.weight;
    let x = rnd() * total;
    for (const e of table) {
        x -= e.weight;
        if (x < 0) return e;
    }
    return table[table.length - 1];
}

// What each kind asks the upstream for, and what a client that reads to the end must get:
// `ok` (200, the answer complete: message_stop or a stop_reason), `cut` (200, then the
// stream ends without message_stop: a reset, or an idle timeout's error event), or an
// error status.
const KINDS = [
    { name: 'stream', weight: 4, up: 'mock', stream: true, text: (r) => `MOCK:slow ${between(r, 0, 25)}`, want: 'ok' },
    { name: 'whole', weight: 2, up: 'mock', stream: false, text: () => 'hello', want: 'ok' },
    { name: 'slow-head', weight: 1, up: 'mock', stream: true, text: (r) => `MOCK:delay ${between(r, 100, 600)}`, want: 'ok' },
    { name: 'openai-stream', weight: 1, up: 'openai', stream: true, text: (r) => `MOCK:slow ${between(r, 0, 25)}`, want: 'ok' },
    { name: 'openai-whole', weight: 1, up: 'openai', stream: false, text: () => 'hello', want: 'ok' },
    { name: 'reset', weight: 1, up: 'mock', stream: true, text: () => 'MOCK:reset', want: [502, 529] },
    { name: 'reset-mid', weight: 1, up: 'mock', stream: true, text: () => 'MOCK:reset 3', want: 'cut' },
    { name: 'hang', weight: 1, up: 'mock', stream: true, text: () => 'MOCK:hang', want: [504] },
    { name: 'hang-mid', weight: 1, up: 'mock', stream: true, text: () => 'MOCK:hang 3', want: 'cut' },
    { name: 'stall-connect', weight: 1, up: 'stall', stream: true, text: () => 'hello', want: [529] },
    { name: 'silent', weight: 1, up: 'silent', stream: false, text: () => 'hello', want: [504] },
];

const LEAVES = [
    { name: 'partial', weight: 1 }, // part of the request sent, then gone
    { name: 'sent', weight: 2 }, // gone 0-300 ms after the whole request
    { name: 'head', weight: 1 }, // gone when the response head arrives
    { name: 'mid', weight: 1 }, // gone after 1-4 events
    { name: 'never', weight: 3 }, // reads to the end
];

function judge(kind, r) {
    if (r.timeout) return 'no answer within 5 s';
    if (r.status === null) return `no response head (${r.error || 'closed'})`;
    if (Array.isArray(kind.want))
        return kind.want.includes(r.status) ? null : `status ${r.status}, want ${kind.want.join('/')}`;
    if (r.status !== 200) return `status ${r.status}`;
    const done = kind.stream ? r.tail.includes('event: message_stop') : r.tail.includes('"stop_reason"');
    if (kind.want === 'ok' && !done) return 'the answer is incomplete';
    if (kind.want === 'cut' && done) return 'the stream ended normally though the upstream broke it';
    return null;
}

function once(o, rnd) {
    const kind = pick(rnd, KINDS);
    const leave = pick(rnd, o.leaves);
    const body = Buffer.from(
        JSON.stringify({
            model: o.models[kind.up],
            max_tokens: 64,
            stream: kind.stream,
            messages: [{ role: 'user', content: kind.text(rnd) }],
        }),
    );
    const head =
        `POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1:${o.port}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    const request = Buffer.concat([Buffer.from(head), body]);
    const partialAt = between(rnd, 1, request.length - 1);
    const leaveAfterMs = between(rnd, 0, 300);
    const leaveAfterEvents = between(rnd, 1, 4);
    return new Promise((resolve) => {
        const r = { kind: kind.name, leave: leave.name, status: null, tail: '', events: 0, timeout: false, error: null };
        let headBuf = '';
        let finished = false;
        const sock = net.connect(o.port, '127.0.0.1');
        const finish = () => {
            if (finished) return;
            finished = true;
            clearTimeout(hard);
            sock.destroy();
            resolve(r);
        };
        const hard = setTimeout(() => {
            r.timeout = true;
            finish();
        }, REQUEST_TIMEOUT_MS);
        sock.setNoDelay(true);
        sock.on('connect', () => {
            if (leave.name === 'partial') {
                sock.write(request.subarray(0, partialAt));
                setTimeout(finish, between(rnd, 0, 50));
                return;
            }
            sock.write(request);
            if (leave.name === 'sent') setTimeout(finish, leaveAfterMs);
        });
        sock.on('data', (chunk) => {
            const text = chunk.toString('latin1');
            if (r.status === null) {
                headBuf += text;
                const end = headBuf.indexOf('\r\n\r\n');
                if (end < 0) return;
                const m = /^HTTP\/1\.[01] (\d{3})/.exec(headBuf);
                r.status = m ? Number(m[1]) : -1;
                if (leave.name === 'head') return finish();
                r.tail = headBuf.slice(end + 4);
            } else {
                r.tail = (r.tail + text).slice(-4096); // enough to see how it ended
            }
            r.events += (text.match(/\nevent: /g) || []).length;
            if (leave.name === 'mid' && r.events >= leaveAfterEvents) finish();
        });
        sock.on('error', (e) => {
            r.error = e.code || String(e);
        });
        sock.on('close', finish);
    });
}

async function main() {
    const o = parseArgs(process.argv.slice(2));
    o.leaves = o.leave ? LEAVES.filter((l) => l.name === o.leave) : LEAVES;
    if (o.leaves.length === 0) throw new Error(`unknown --leave ${o.leave}`);
    const t0 = Date.now();
    const summary = {
        seed: o.seed,
        requests: 0,
        by_kind: {},
        by_leave: {},
        checked: 0,
        mismatches: [],
        mismatch_count: 0,
        elapsed_ms: 0,
    };
    const report = () => {
        summary.elapsed_ms = Date.now() - t0;
        process.stdout.write(JSON.stringify(summary) + '\n');
    };
    // The latest this process may run, whatever happens.
    setTimeout(() => {
        summary.gave_up = true;
        report();
        process.exit(2);
    }, o.durationMs + 10000).unref();
    let started = 0;
    const client = async (index) => {
        const rnd = prng(o.seed * 1000 + index);
        while (Date.now() - t0 < o.durationMs && started < o.maxRequests) {
            started++;
            const r = await once(o, rnd);
            summary.requests++;
            summary.by_kind[r.kind] = (summary.by_kind[r.kind] || 0) + 1;
            summary.by_leave[r.leave] = (summary.by_leave[r.leave] || 0) + 1;
            if (r.leave !== 'never') continue;
            summary.checked++;
            const why = judge(KINDS.find((k) => k.name === r.kind), r);
            if (why) {
                summary.mismatch_count++;
                if (summary.mismatches.length < 20)
                    summary.mismatches.push({ client: index, kind: r.kind, why, tail: r.tail.slice(-300) });
            }
        }
    };
    const all = [];
    for (let i = 0; i < o.clients; i++) all.push(client(i));
    await Promise.all(all);
    report();
}

main().catch((e) => {
    process.stderr.write(`stress_client: ${e.stack || e}\n`);
    process.exit(1);
});
