// spec/e2e/mock_upstream.test.mjs: checks spec/support/mock_upstream.mjs itself (directives,
// scripted steps, SSE shape, gzip, aborts, stats, TLS), talking to it directly over HTTP.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, beforeEach, describe, test } from 'node:test';
import { makeTempDir } from './lib/harness.mjs';
import { header, httpRequest, startMock } from './lib/mock.mjs';
import { checkMessageStream, parseSSE } from './lib/sse.mjs';

let mock;

before(async () => {
    mock = await startMock();
});

after(async () => {
    if (mock) await mock.stop();
});

beforeEach(async () => {
    await mock.reset({ closeConnections: true });
});

function post(p, body, { headers = {}, agent } = {}) {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return httpRequest(mock.url + p, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: text,
        agent,
    });
}

function user(text, extra = {}) {
    return {
        model: 'mock-model-x',
        max_tokens: 100,
        messages: [{ role: 'user', content: text }],
        ...extra,
    };
}

async function streamBlocks(body, opts) {
    const res = await post('/v1/messages?beta=true', { ...body, stream: true }, opts);
    assert.equal(res.status, 200, res.body.toString());
    assert.match(res.headers['content-type'], /^text\/event-stream/);
    const events = parseSSE(res.body.toString());
    return { res, events, blocks: checkMessageStream(events) };
}

/** Sends bytes on a raw socket and resolves everything the server sent until it closed. */
function rawExchange(port, bytes) {
    return new Promise((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        const chunks = [];
        sock.on('data', (d) => chunks.push(d));
        sock.on('error', reject);
        sock.on('close', () => resolve(Buffer.concat(chunks).toString()));
        sock.end(bytes);
    });
}

describe('mock upstream: answers', () => {
    test('default non-streaming answer echoes the model and numbers the request', async () => {
        const res = await post('/v1/messages', user('say hi'));
        assert.equal(res.status, 200);
        assert.equal(res.headers['x-mock-request-id'], '1');
        const msg = JSON.parse(res.body);
        assert.equal(msg.model, 'mock-model-x');
        assert.deepEqual(msg.content, [{ type: 'text', text: 'Hello from mock' }]);
        assert.equal(msg.stop_reason, 'end_turn');
        assert.ok(msg.usage.input_tokens > 0 && msg.usage.output_tokens > 0);
        const res2 = await post('/v1/messages', user('again'));
        assert.equal(res2.headers['x-mock-request-id'], '2');
    });

    test('streams a well-ordered event sequence with the text split in pieces', async () => {
        const { events, blocks } = await streamBlocks(user('MOCK:text one two three four'));
        assert.deepEqual(blocks, [{ type: 'text', text: 'one two three four' }]);
        assert.ok(
            events.filter((e) => e.data.delta && e.data.delta.type === 'text_delta').length >= 2,
        );
        const start = events[0].data.message;
        assert.equal(start.model, 'mock-model-x');
        assert.ok(start.usage.input_tokens > 0);
        const delta = events.find((e) => e.event === 'message_delta').data;
        assert.equal(delta.delta.stop_reason, 'end_turn');
        assert.ok(delta.usage.output_tokens > 0);
    });

    test('directives in the last user message combine thinking and parallel tool calls', async () => {
        const prompt =
            'MOCK:thinking I should run two commands\n' +
            'MOCK:tool_use Bash {"command":"echo one","description":"Print one"}\n' +
            'MOCK:tool_use Bash {"command":"echo two","description":"Print two"}';
        /* The shape Claude Code sends: the prompt block, then a system message after it. */
        const body = {
            model: 'claude-opus-5-5',
            messages: [
                {
                    role: 'user',
                    content: [
                        { type: 'text', text: '<system-reminder>x</system-reminder>' },
                        { type: 'text', text: prompt },
                    ],
                },
                { role: 'system', content: [{ type: 'text', text: 'environment' }] },
            ],
        };
        const { events, blocks } = await streamBlocks(body);
        assert.equal(blocks.length, 3);
        assert.equal(blocks[0].type, 'thinking');
        assert.equal(blocks[0].thinking, 'I should run two commands');
        assert.match(blocks[0].signature, /^mock-signature-/);
        assert.deepEqual(
            blocks.slice(1).map((b) => [b.type, b.name, b.input]),
            [
                ['tool_use', 'Bash', { command: 'echo one', description: 'Print one' }],
                ['tool_use', 'Bash', { command: 'echo two', description: 'Print two' }],
            ],
        );
        assert.notEqual(blocks[1].id, blocks[2].id);
        for (const index of [1, 2]) {
            const pieces = events.filter(
                (e) =>
                    e.data.index === index &&
                    e.data.delta &&
                    e.data.delta.type === 'input_json_delta' &&
                    e.data.delta.partial_json !== '',
            );
            assert.ok(
                pieces.length >= 2,
                `tool input of block ${index} came in ${pieces.length} piece(s)`,
            );
        }
        assert.equal(
            events.find((e) => e.event === 'message_delta').data.delta.stop_reason,
            'tool_use',
        );
    });

    test('thinking alone is followed by a text block', async () => {
        const msg = JSON.parse((await post('/v1/messages', user('MOCK:thinking hmm'))).body);
        assert.deepEqual(
            msg.content.map((b) => b.type),
            ['thinking', 'text'],
        );
        assert.equal(msg.content[1].text, 'Hello from mock');
    });

    test('a tool_result in the last user message is echoed back', async () => {
        const body = {
            model: 'm',
            messages: [
                { role: 'user', content: 'MOCK:tool_use Bash {"command":"echo x"}' },
                {
                    role: 'assistant',
                    content: [{ type: 'tool_use', id: 't1', name: 'Bash', input: {} }],
                },
                {
                    role: 'user',
                    content: [{ type: 'tool_result', tool_use_id: 't1', content: 'x-out' }],
                },
            ],
        };
        const msg = JSON.parse((await post('/v1/messages', body)).body);
        assert.equal(msg.content[0].text, 'Tool said: x-out');
        body.messages[2].content[0].content = [{ type: 'text', text: 'block-out' }];
        const { blocks } = await streamBlocks(body);
        assert.equal(blocks[0].text, 'Tool said: block-out');
    });

    test('MOCK:error answers an Anthropic-shaped error', async () => {
        let res = await post('/v1/messages', user('MOCK:error 429'));
        assert.equal(res.status, 429);
        assert.deepEqual(JSON.parse(res.body), {
            type: 'error',
            error: { type: 'rate_limit_error', message: 'Mock error 429' },
        });
        res = await post('/v1/messages', user('MOCK:error 500 custom_error'));
        assert.equal(res.status, 500);
        assert.equal(JSON.parse(res.body).error.type, 'custom_error');
    });

    test('a malformed directive is reported in the answer text', async () => {
        const msg = JSON.parse(
            (await post('/v1/messages', user('MOCK:tool_use Bash {not json'))).body,
        );
        assert.match(msg.content[0].text, /mock directive error/);
    });

    test('MOCK:slow spaces the events out', async () => {
        const t0 = Date.now();
        const { events } = await streamBlocks(user('MOCK:slow 40\nMOCK:text a b'));
        assert.ok(Date.now() - t0 >= (events.length - 1) * 40 - 20, `took ${Date.now() - t0} ms`);
    });

    test('count_tokens answers body bytes / 4, or the scripted count', async () => {
        const body = JSON.stringify(user('count these tokens please'));
        let res = await post('/v1/messages/count_tokens?beta=true', body);
        assert.deepEqual(JSON.parse(res.body), {
            input_tokens: Math.floor(Buffer.byteLength(body) / 4),
        });
        await mock.script({ count_tokens: 77 });
        res = await post('/v1/messages/count_tokens', body);
        assert.deepEqual(JSON.parse(res.body), { input_tokens: 77 });
    });

    test('unknown paths and bad bodies get Anthropic-shaped errors', async () => {
        let res = await post('/v1/complete', user('x'));
        assert.equal(res.status, 404);
        assert.equal(JSON.parse(res.body).error.type, 'not_found_error');
        res = await post('/v1/messages', '{not json');
        assert.equal(res.status, 400);
        assert.equal(JSON.parse(res.body).error.type, 'invalid_request_error');
        res = await httpRequest(`${mock.url}/v1/models`);
        assert.equal(res.status, 200);
        assert.ok(JSON.parse(res.body).data.length > 0);
    });
});

describe('mock upstream: scripted steps', () => {
    test('steps are consumed in order, then directives apply again', async () => {
        await mock.script({ text: 'first' }, { text: 'second' });
        const texts = [];
        for (let i = 0; i < 3; i++)
            texts.push(
                JSON.parse((await post('/v1/messages', user('MOCK:text third'))).body).content[0]
                    .text,
            );
        assert.deepEqual(texts, ['first', 'second', 'third']);
        assert.equal((await mock.stats()).pending_steps, 0);
    });

    test('a step bound to an endpoint waits for that endpoint', async () => {
        await mock.script(
            { endpoint: 'messages', text: 'for messages' },
            { endpoint: 'count_tokens', count_tokens: 5 },
        );
        const count = JSON.parse((await post('/v1/messages/count_tokens', user('x'))).body);
        assert.equal(count.input_tokens, 5);
        const msg = JSON.parse((await post('/v1/messages', user('x'))).body);
        assert.equal(msg.content[0].text, 'for messages');
    });

    test('status, error, headers and delay_ms', async () => {
        await mock.script({
            status: 529,
            error: { type: 'overloaded_error', message: 'busy' },
            headers: { 'retry-after': '3', 'x-should-retry': 'false' },
            delay_ms: 150,
        });
        const t0 = Date.now();
        const res = await post('/v1/messages', user('x', { stream: true }));
        assert.ok(Date.now() - t0 >= 140);
        assert.equal(res.status, 529);
        assert.equal(res.headers['retry-after'], '3');
        assert.equal(res.headers['x-should-retry'], 'false');
        assert.match(res.headers['content-type'], /application\/json/);
        assert.deepEqual(JSON.parse(res.body), {
            type: 'error',
            error: { type: 'overloaded_error', message: 'busy' },
        });
    });

    test('error_in_stream sends a started stream that ends with an error event', async () => {
        await mock.script({
            status: 529,
            error_in_stream: true,
            error: { type: 'overloaded_error', message: 'mid' },
        });
        const res = await post('/v1/messages', user('x', { stream: true }));
        assert.equal(res.status, 200);
        const events = parseSSE(res.body.toString());
        assert.equal(events[0].event, 'message_start');
        assert.ok(events.length >= 3);
        assert.deepEqual(events[events.length - 1], {
            event: 'error',
            data: { type: 'error', error: { type: 'overloaded_error', message: 'mid' } },
        });
    });

    test('raw sends exactly the given status, headers and body', async () => {
        await mock.script({
            raw: { status: 418, headers: { 'x-raw': 'yes' }, body: 'not json at all' },
        });
        const res = await post('/v1/messages', user('x'));
        assert.equal(res.status, 418);
        assert.equal(res.headers['x-raw'], 'yes');
        assert.equal(res.body.toString(), 'not json at all');
    });

    test('gzip is honoured only when the client accepts it', async () => {
        await mock.script(
            { gzip: true, text: 'zipped' },
            { gzip: true, text: 'zipped stream' },
            { gzip: true, text: 'plain' },
        );
        let res = await post('/v1/messages', user('x'), {
            headers: { 'accept-encoding': 'gzip, deflate, br, zstd' },
        });
        assert.equal(res.headers['content-encoding'], 'gzip');
        assert.equal(JSON.parse(zlib.gunzipSync(res.body)).content[0].text, 'zipped');

        res = await post('/v1/messages', user('x', { stream: true }), {
            headers: { 'accept-encoding': 'gzip' },
        });
        assert.equal(res.headers['content-encoding'], 'gzip');
        const blocks = checkMessageStream(parseSSE(zlib.gunzipSync(res.body).toString()));
        assert.equal(blocks[0].text, 'zipped stream');

        res = await post('/v1/messages', user('x'), {
            headers: { 'accept-encoding': 'gzip;q=0, identity' },
        });
        assert.equal(res.headers['content-encoding'], undefined);
        assert.equal(JSON.parse(res.body).content[0].text, 'plain');
    });

    test('close_after_events cuts the stream; the record is neither completed nor aborted', async () => {
        await mock.script({ close_after_events: 3 });
        const port = mock.port;
        const body = JSON.stringify(user('x', { stream: true }));
        const text = await rawExchange(
            port,
            `POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
                `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
        assert.match(text, /^HTTP\/1\.1 200/);
        assert.equal((text.match(/^event: /gm) || []).length, 3);
        assert.doesNotMatch(text, /message_stop/);
        const [rec] = await mock.requests();
        assert.equal(rec.completed, false);
        assert.equal(rec.aborted, false);
    });

    test('hang keeps the request open; a client that gives up is recorded as aborted', async () => {
        await mock.script({ hang: true });
        await assert.rejects(
            httpRequest(`${mock.url}/v1/messages`, {
                method: 'POST',
                body: JSON.stringify(user('x')),
                timeoutMs: 300,
            }),
            /timed out/,
        );
        let rec;
        for (let i = 0; i < 50 && !(rec && rec.aborted); i++) {
            [rec] = await mock.requests();
            await new Promise((r) => setTimeout(r, 20));
        }
        assert.equal(rec.aborted, true);
        assert.equal(rec.completed, false);
        assert.equal((await mock.stats()).aborted, 1);
    });
});

describe('mock upstream: records and stats', () => {
    test('records keep the path, query, header names, case and wire order, and the body', async () => {
        const body = '{"model":"m","messages":[{"role":"user","content":"hi"}]}';
        await rawExchange(
            mock.port,
            'POST /v1/messages?beta=true HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Zeta: 1\r\n' +
                'anthropic-beta: a,b\r\nX-Alpha: 2\r\nContent-Type: application/json\r\n' +
                `Connection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        );
        const [rec] = await mock.requests();
        assert.equal(rec.n, 1);
        assert.equal(rec.method, 'POST');
        assert.equal(rec.path, '/v1/messages?beta=true');
        assert.deepEqual(
            rec.headers.map(([k]) => k),
            [
                'Host',
                'X-Zeta',
                'anthropic-beta',
                'X-Alpha',
                'Content-Type',
                'Connection',
                'Content-Length',
            ],
        );
        assert.equal(header(rec, 'ANTHROPIC-BETA'), 'a,b');
        assert.equal(rec.body, body);
        assert.equal(rec.completed, true);
    });

    test('stats count API connections and requests but not control traffic', async () => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        for (let i = 0; i < 3; i++) await post('/v1/messages', user('x'), { agent });
        await mock.requests(); // control traffic on its own connection
        let stats = await mock.stats();
        assert.equal(stats.requests, 3);
        assert.equal(stats.connections, 1, 'keep-alive reuses one connection');
        assert.equal(stats.open_connections, 1);
        agent.destroy();
        for (let i = 0; i < 50 && stats.open_connections !== 0; i++) {
            await new Promise((r) => setTimeout(r, 20));
            stats = await mock.stats();
        }
        assert.equal(stats.open_connections, 0);
        await mock.reset();
        assert.deepEqual(await mock.stats(), {
            connections: 0,
            open_connections: 0,
            requests: 0,
            aborted: 0,
            pending_steps: 0,
        });
        assert.deepEqual(await mock.requests(), []);
    });

    test('the control API rejects malformed scripts', async () => {
        await assert.rejects(mock.control('POST', '/__mock/script', { nope: 1 }), /400/);
        await assert.rejects(mock.control('POST', '/__mock/script', { steps: [1] }), /400/);
    });
});

describe('mock upstream: TLS', () => {
    let dir;
    let tlsMock;

    before(async () => {
        dir = makeTempDir('tls');
        const key = path.join(dir, 'key.pem');
        const cert = path.join(dir, 'cert.pem');
        execFileSync(
            'openssl',
            [
                'req',
                '-x509',
                '-newkey',
                'rsa:2048',
                '-nodes',
                '-keyout',
                key,
                '-out',
                cert,
                '-days',
                '1',
                '-subj',
                '/CN=localhost',
                '-addext',
                'subjectAltName=DNS:localhost,IP:127.0.0.1',
            ],
            { stdio: 'ignore' },
        );
        tlsMock = await startMock({ tls: { cert, key, ca: fs.readFileSync(cert) } });
    });

    after(async () => {
        if (tlsMock) await tlsMock.stop();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    test('serves the same API over HTTPS', async () => {
        assert.equal(tlsMock.tls, true);
        assert.match(tlsMock.url, /^https:/);
        await tlsMock.script({ text: 'over tls' });
        const res = await httpRequest(`${tlsMock.url}/v1/messages`, {
            method: 'POST',
            body: JSON.stringify(user('x')),
            ca: tlsMock.ca,
        });
        assert.equal(JSON.parse(res.body).content[0].text, 'over tls');
        const stats = await tlsMock.stats();
        assert.equal(stats.requests, 1);
        assert.equal(stats.connections, 1);
    });

    test('refuses clients that do not trust its certificate', async () => {
        await assert.rejects(
            httpRequest(`${tlsMock.url}/v1/messages`, {
                method: 'POST',
                body: JSON.stringify(user('x')),
            }),
            /self[- ]signed|certificate/i,
        );
    });
});
