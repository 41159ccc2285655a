// spec/e2e/mock_upstream.test.mjs: checks spec/support/mock_upstream.mjs itself (directives,
// scripted steps, SSE shape, gzip, aborts, stats, TLS; its OpenAI Chat Completions and Gemini
// dialects) and the Anthropic stream checker, talking to the mock directly over HTTP.

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
import { checkAnthropicStream } from './lib/anthropic_stream_check.mjs';

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

/* ------------------------------------------------------------------ OpenAI Chat Completions */

function chat(text, extra = {}) {
    return {
        model: 'gpt-mock',
        messages: [
            { role: 'system', content: 'be brief' },
            { role: 'user', content: text },
        ],
        ...extra,
    };
}

/** The data payloads of a data-only SSE body (OpenAI, Gemini), [DONE] kept as a string. */
function dataEvents(res) {
    assert.match(res.headers['content-type'], /^text\/event-stream/);
    return parseSSE(res.body.toString()).map((e) => {
        assert.equal(e.event, 'message', 'these dialects send data-only events');
        return e.data;
    });
}

/** Rebuilds an OpenAI streamed answer: content, reasoning, calls by index, finish, usage. */
function assembleChunks(chunks) {
    const out = { content: '', reasoning: '', calls: [], finish: null, usage: null, order: [] };
    for (const c of chunks) {
        if (c.usage) out.usage = c.usage;
        for (const choice of c.choices) {
            const d = choice.delta;
            if (typeof d.content === 'string') out.content += d.content;
            if (typeof d.reasoning_content === 'string') out.reasoning += d.reasoning_content;
            for (const tc of d.tool_calls || []) {
                out.order.push(tc.index);
                if (tc.id) out.calls[tc.index] = { id: tc.id, name: tc.function.name, args: '' };
                out.calls[tc.index].args += tc.function.arguments || '';
            }
            if (choice.finish_reason) out.finish = choice.finish_reason;
        }
    }
    return out;
}

describe('mock upstream: OpenAI Chat Completions dialect', () => {
    test('a non-stream answer is a chat.completion, recorded with its dialect', async () => {
        const res = await post('/v1/chat/completions', chat('hi'));
        assert.equal(res.status, 200, res.body.toString());
        const body = JSON.parse(res.body);
        assert.equal(body.object, 'chat.completion');
        assert.match(body.id, /^chatcmpl-/);
        assert.equal(body.model, 'gpt-mock');
        assert.equal(body.choices.length, 1);
        assert.deepEqual(body.choices[0].message, {
            role: 'assistant',
            content: 'Hello from mock',
            refusal: null,
        });
        assert.equal(body.choices[0].finish_reason, 'stop');
        const u = body.usage;
        assert.ok(u.prompt_tokens > 0 && u.completion_tokens > 0);
        assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
        assert.equal(u.prompt_tokens_details.cached_tokens, 0);
        const [rec] = await mock.requests();
        assert.equal(rec.dialect, 'openai');
        assert.equal(rec.invalid, null);
        assert.equal(rec.path, '/v1/chat/completions');
    });

    test('a stream has role first, content in pieces, finish, a usage chunk and [DONE]', async () => {
        const res = await post(
            '/v1/chat/completions',
            chat('MOCK:text one two three four', {
                stream: true,
                stream_options: { include_usage: true },
            }),
        );
        const data = dataEvents(res);
        assert.equal(data[data.length - 1], '[DONE]');
        const chunks = data.slice(0, -1);
        for (const c of chunks) {
            assert.equal(c.object, 'chat.completion.chunk');
            assert.equal(c.model, 'gpt-mock');
            assert.equal(c.id, chunks[0].id);
            assert.equal(typeof c.created, 'number');
        }
        assert.equal(chunks[0].choices[0].delta.role, 'assistant');
        const pieces = chunks.filter((c) => c.choices[0] && c.choices[0].delta.content);
        assert.ok(pieces.length >= 2, `content came in ${pieces.length} piece(s)`);
        const last = chunks[chunks.length - 1];
        assert.deepEqual(last.choices, [], 'the usage chunk has no choices');
        assert.ok(last.usage.prompt_tokens > 0 && last.usage.completion_tokens > 0);
        const finishing = chunks[chunks.length - 2];
        assert.deepEqual(finishing.choices[0].delta, {});
        assert.equal(finishing.choices[0].finish_reason, 'stop');
        assert.equal(finishing.usage, null, 'chunks before the usage chunk carry usage: null');
        const built = assembleChunks(chunks);
        assert.equal(built.content, 'one two three four');
        assert.equal(built.finish, 'stop');
    });

    test('without stream_options.include_usage no chunk carries usage', async () => {
        const res = await post('/v1/chat/completions', chat('x', { stream: true }));
        const data = dataEvents(res);
        assert.equal(data[data.length - 1], '[DONE]');
        for (const c of data.slice(0, -1)) {
            assert.equal('usage' in c, false);
            assert.equal(c.choices.length, 1);
        }
    });

    test('thinking streams as reasoning_content before the content', async () => {
        const res = await post(
            '/v1/chat/completions',
            chat('MOCK:thinking let me see\nMOCK:text the answer', { stream: true }),
        );
        const chunks = dataEvents(res).slice(0, -1);
        const kinds = chunks
            .map((c) => c.choices[0].delta)
            .map((d) => (d.reasoning_content ? 'r' : d.content ? 'c' : '-'));
        const firstContent = kinds.indexOf('c');
        assert.ok(kinds.lastIndexOf('r') < firstContent, kinds.join(''));
        assert.ok(kinds.filter((k) => k === 'r').length >= 2, kinds.join(''));
        const built = assembleChunks(chunks);
        assert.equal(built.reasoning, 'let me see');
        assert.equal(built.content, 'the answer');
        const whole = JSON.parse(
            (await post('/v1/chat/completions', chat('MOCK:thinking hmm'))).body,
        );
        assert.equal(whole.choices[0].message.reasoning_content, 'hmm');
        assert.equal(whole.choices[0].message.content, 'Hello from mock');
    });

    test('two tool calls stream interleaved, arguments split over several chunks', async () => {
        const prompt =
            'MOCK:tool_use Bash {"command":"echo one","description":"Print one"}\n' +
            'MOCK:tool_use Read {"file_path":"/tmp/x"}';
        const res = await post('/v1/chat/completions', chat(prompt, { stream: true }));
        const chunks = dataEvents(res).slice(0, -1);
        const built = assembleChunks(chunks);
        assert.equal(built.finish, 'tool_calls');
        assert.equal(built.calls.length, 2);
        assert.equal(built.calls[0].name, 'Bash');
        assert.equal(built.calls[1].name, 'Read');
        assert.match(built.calls[0].id, /^call_/);
        assert.notEqual(built.calls[0].id, built.calls[1].id);
        assert.deepEqual(JSON.parse(built.calls[0].args), {
            command: 'echo one',
            description: 'Print one',
        });
        assert.deepEqual(JSON.parse(built.calls[1].args), { file_path: '/tmp/x' });
        /* The first chunk of each call names it and has no arguments yet; the pieces alternate. */
        const firsts = chunks
            .flatMap((c) => c.choices[0].delta.tool_calls || [])
            .filter((tc) => tc.id);
        for (const f of firsts) {
            assert.equal(f.type, 'function');
            assert.equal(f.function.arguments, '');
        }
        assert.ok(built.order.filter((i) => i === 0).length >= 3);
        assert.deepEqual(built.order.slice(0, 4), [0, 1, 0, 1], 'interleaved');

        await mock.script({
            interleave: false,
            tool_use: [
                { name: 'A', input: { a: 1 } },
                { name: 'B', input: { b: 2 } },
            ],
        });
        const seq = assembleChunks(
            dataEvents(await post('/v1/chat/completions', chat('x', { stream: true }))).slice(
                0,
                -1,
            ),
        );
        const firstB = seq.order.indexOf(1);
        assert.ok(
            seq.order.slice(firstB).every((i) => i === 1),
            seq.order.join(','),
        );
    });

    test('a non-stream tool answer has tool_calls with JSON string arguments', async () => {
        await mock.script({ tool_use: [{ id: 'call_fixed', name: 'Bash', input: { c: 'ls' } }] });
        const body = JSON.parse((await post('/v1/chat/completions', chat('x'))).body);
        const msg = body.choices[0].message;
        assert.equal(msg.content, null);
        assert.deepEqual(msg.tool_calls, [
            {
                id: 'call_fixed',
                type: 'function',
                function: { name: 'Bash', arguments: '{"c":"ls"}' },
            },
        ]);
        assert.equal(body.choices[0].finish_reason, 'tool_calls');
    });

    test('tool messages after the last assistant turn are echoed back', async () => {
        const body = chat('MOCK:tool_use Bash {}');
        body.messages.push(
            {
                role: 'assistant',
                content: null,
                tool_calls: [
                    { id: 'c1', type: 'function', function: { name: 'Bash', arguments: '{}' } },
                    { id: 'c2', type: 'function', function: { name: 'Bash', arguments: '{}' } },
                ],
            },
            { role: 'tool', tool_call_id: 'c1', content: 'one-out' },
            { role: 'tool', tool_call_id: 'c2', content: [{ type: 'text', text: 'two-out' }] },
        );
        let res = await post('/v1/chat/completions', body);
        assert.equal(
            JSON.parse(res.body).choices[0].message.content,
            'Tool said: one-out; two-out',
        );
        /* A user text after the results (a reminder) does not hide them. */
        body.messages.push({ role: 'user', content: '<system-reminder>x</system-reminder>' });
        res = await post('/v1/chat/completions', { ...body, stream: true });
        assert.equal(
            assembleChunks(dataEvents(res).slice(0, -1)).content,
            'Tool said: one-out; two-out',
        );
    });

    test('errors use the OpenAI shape and status; scripted headers are sent', async () => {
        let res = await post('/v1/chat/completions', chat('MOCK:error 429'));
        assert.equal(res.status, 429);
        assert.deepEqual(JSON.parse(res.body), {
            error: {
                message: 'Mock error 429',
                type: 'requests',
                param: null,
                code: 'rate_limit_exceeded',
            },
        });
        await mock.script({
            dialect: 'openai',
            status: 503,
            error: { message: 'busy' },
            headers: { 'retry-after': '4' },
        });
        res = await post('/v1/chat/completions', chat('x', { stream: true }));
        assert.equal(res.status, 503);
        assert.equal(res.headers['retry-after'], '4');
        const err = JSON.parse(res.body).error;
        assert.equal(err.message, 'busy');
        assert.equal(err.type, 'server_error');
    });

    test('error_in_stream sends a started stream that ends with an error object', async () => {
        await mock.script({ status: 500, error_in_stream: true, error: { message: 'mid' } });
        const res = await post('/v1/chat/completions', chat('x', { stream: true }));
        assert.equal(res.status, 200);
        const data = dataEvents(res);
        assert.equal(data.length, 3);
        assert.equal(data[0].choices[0].delta.role, 'assistant');
        assert.equal(data[2].error.message, 'mid');
        assert.ok(!data.includes('[DONE]'));
    });

    test('usage maps Anthropic counts (cache reads are part of prompt_tokens)', async () => {
        const usage = { input_tokens: 100, output_tokens: 20, cache_read_input_tokens: 30 };
        await mock.script({ usage }, { usage });
        const whole = JSON.parse((await post('/v1/chat/completions', chat('x'))).body);
        const expected = {
            prompt_tokens: 130,
            completion_tokens: 20,
            total_tokens: 150,
            prompt_tokens_details: { cached_tokens: 30 },
            completion_tokens_details: { reasoning_tokens: 0 },
        };
        assert.deepEqual(whole.usage, expected);
        const res = await post(
            '/v1/chat/completions',
            chat('x', { stream: true, stream_options: { include_usage: true } }),
        );
        assert.deepEqual(assembleChunks(dataEvents(res).slice(0, -1)).usage, expected);
    });

    test('max_tokens becomes finish_reason length; a finish_reason is sent as given', async () => {
        await mock.script(
            { text: 'cut', stop_reason: 'max_tokens' },
            { finish_reason: 'content_filter' },
        );
        let body = JSON.parse((await post('/v1/chat/completions', chat('x'))).body);
        assert.equal(body.choices[0].finish_reason, 'length');
        body = JSON.parse((await post('/v1/chat/completions', chat('x'))).body);
        assert.equal(body.choices[0].finish_reason, 'content_filter');
    });

    test('citations and search_results ride at the top level (Perplexity)', async () => {
        const extra = {
            text: 'found it [1]',
            citations: ['https://example.com/a'],
            search_results: [{ title: 'A', url: 'https://example.com/a', date: '2026-01-02' }],
        };
        await mock.script(extra, extra);
        const chunks = dataEvents(
            await post('/v1/chat/completions', chat('x', { stream: true })),
        ).slice(0, -1);
        for (const c of chunks) {
            assert.deepEqual(c.citations, extra.citations);
            assert.deepEqual(c.search_results, extra.search_results);
        }
        const whole = JSON.parse((await post('/v1/chat/completions', chat('x'))).body);
        assert.deepEqual(whole.citations, extra.citations);
        assert.deepEqual(whole.search_results, extra.search_results);
    });

    test('any path prefix works (Azure deployments with api-version)', async () => {
        const p = '/openai/deployments/gpt-mock/chat/completions?api-version=2024-10-21';
        const res = await post(p, chat('MOCK:text azure ok'));
        assert.equal(JSON.parse(res.body).choices[0].message.content, 'azure ok');
        const [rec] = await mock.requests();
        assert.equal(rec.path, p);
        assert.equal(rec.dialect, 'openai');
    });

    test('requests the real API rejects get a 400 and the record says why', async () => {
        const cases = [
            [{ ...chat('x'), system: 'anthropic style' }, /Unrecognized request argument.*system/],
            [{ ...chat('x'), thinking: { type: 'enabled', budget_tokens: 10 } }, /thinking/],
            [{ messages: [{ role: 'user', content: 'x' }] }, /model/],
            [chat('x', { stream_options: { include_usage: true } }), /stream_options/],
            [
                {
                    model: 'm',
                    messages: [
                        {
                            role: 'user',
                            content: [{ type: 'tool_result', tool_use_id: 't', content: 'x' }],
                        },
                    ],
                },
                /content\[0\]\.type/,
            ],
            [
                {
                    model: 'm',
                    messages: [
                        { role: 'user', content: 'x' },
                        {
                            role: 'assistant',
                            content: null,
                            tool_calls: [
                                {
                                    id: 'c1',
                                    type: 'function',
                                    function: { name: 'A', arguments: '{}' },
                                },
                            ],
                        },
                        { role: 'user', content: 'no result' },
                    ],
                },
                /did not have response messages: c1/,
            ],
            [
                { model: 'm', messages: [{ role: 'tool', tool_call_id: 'zz', content: 'x' }] },
                /must be a response to a preceding message/,
            ],
            [
                {
                    model: 'm',
                    messages: [
                        { role: 'user', content: 'x' },
                        {
                            role: 'assistant',
                            tool_calls: [
                                {
                                    id: 'c1',
                                    type: 'function',
                                    function: { name: 'A', arguments: {} },
                                },
                            ],
                        },
                        { role: 'tool', tool_call_id: 'c1', content: 'x' },
                    ],
                },
                /arguments': expected a string/,
            ],
            [
                { ...chat('x'), tools: [{ name: 'Bash', input_schema: { type: 'object' } }] },
                /tools\[0\]/,
            ],
        ];
        for (const [body, why] of cases) {
            await mock.reset();
            const res = await post('/v1/chat/completions', body);
            assert.equal(res.status, 400, `${JSON.stringify(body)} was accepted`);
            const err = JSON.parse(res.body).error;
            assert.equal(err.type, 'invalid_request_error');
            assert.match(err.message, why);
            const [rec] = await mock.requests();
            assert.match(rec.invalid, why);
        }
    });

    test('a rejected request leaves its step queued; validate: false answers anyway', async () => {
        await mock.script({ text: 'kept' });
        let res = await post('/v1/chat/completions', { ...chat('x'), system: 'no' });
        assert.equal(res.status, 400);
        assert.equal((await mock.stats()).pending_steps, 1);
        res = await post('/v1/chat/completions', chat('x'));
        assert.equal(JSON.parse(res.body).choices[0].message.content, 'kept');
        await mock.script({ validate: false, text: 'lenient' });
        res = await post('/v1/chat/completions', { ...chat('x'), system: 'no' });
        assert.equal(res.status, 200);
        assert.equal(JSON.parse(res.body).choices[0].message.content, 'lenient');
    });

    test('a step bound to a dialect waits for a request of that dialect', async () => {
        await mock.script({ dialect: 'openai', text: 'for openai' }, { text: 'for anyone' });
        const anth = JSON.parse((await post('/v1/messages', user('x'))).body);
        assert.equal(anth.content[0].text, 'for anyone');
        const oa = JSON.parse((await post('/v1/chat/completions', chat('x'))).body);
        assert.equal(oa.choices[0].message.content, 'for openai');
        const recs = await mock.requests();
        assert.deepEqual(
            recs.map((r) => r.dialect),
            ['anthropic', 'openai'],
        );
    });

    test('a body that is not JSON gets an OpenAI-shaped 400', async () => {
        const res = await post('/v1/chat/completions', '{nope');
        assert.equal(res.status, 400);
        assert.match(JSON.parse(res.body).error.message, /not JSON/);
    });

    test('MOCK:slow and event_delay_ms space the chunks out', async () => {
        const t0 = Date.now();
        const res = await post(
            '/v1/chat/completions',
            chat('MOCK:slow 30\nMOCK:text a b', { stream: true }),
        );
        const n = dataEvents(res).length;
        assert.ok(Date.now() - t0 >= (n - 1) * 30 - 20, `took ${Date.now() - t0} ms for ${n}`);
    });
});

/* ------------------------------------------------------------------ Gemini */

function gem(text, extra = {}) {
    return {
        contents: [{ role: 'user', parts: [{ text }] }],
        systemInstruction: { parts: [{ text: 'be brief' }] },
        ...extra,
    };
}

const GEM = '/v1beta/models/gemini-mock';

/** Rebuilds a Gemini answer from its chunks: thought, text, calls, signatures, finish, usage. */
function assembleGemini(chunks) {
    const out = { thought: '', text: '', calls: [], signatures: [], finish: [], usage: null };
    for (const c of chunks) {
        if (c.usageMetadata) out.usage = c.usageMetadata;
        const cand = c.candidates[0];
        if (cand.finishReason) out.finish.push(cand.finishReason);
        for (const p of (cand.content && cand.content.parts) || []) {
            if (p.thoughtSignature)
                out.signatures.push([
                    p.functionCall ? 'call' : p.thought ? 'thought' : 'text',
                    p.thoughtSignature,
                ]);
            if (p.functionCall) out.calls.push(p.functionCall);
            else if (p.thought) out.thought += p.text;
            else if (typeof p.text === 'string') out.text += p.text;
        }
    }
    return out;
}

describe('mock upstream: Gemini dialect', () => {
    test('streamGenerateContent?alt=sse sends GenerateContentResponse chunks', async () => {
        const res = await post(
            `${GEM}:streamGenerateContent?alt=sse`,
            gem('MOCK:text one two three'),
        );
        assert.equal(res.status, 200);
        const chunks = dataEvents(res);
        assert.ok(chunks.length >= 2);
        for (const c of chunks) {
            assert.equal(c.modelVersion, 'gemini-mock');
            assert.equal(c.candidates[0].content.role, 'model');
            assert.ok(c.usageMetadata.promptTokenCount > 0);
        }
        const built = assembleGemini(chunks);
        assert.equal(built.text, 'one two three');
        assert.deepEqual(built.finish, ['STOP'], 'only the last chunk has a finishReason');
        assert.equal(chunks[chunks.length - 1].candidates[0].finishReason, 'STOP');
        const u = built.usage;
        assert.equal(u.totalTokenCount, u.promptTokenCount + u.candidatesTokenCount);
        const [rec] = await mock.requests();
        assert.equal(rec.dialect, 'gemini');
        assert.equal(rec.invalid, null);
    });

    test('generateContent answers one GenerateContentResponse', async () => {
        const res = await post(`${GEM}:generateContent`, gem('hi'));
        assert.match(res.headers['content-type'], /application\/json/);
        const body = JSON.parse(res.body);
        assert.deepEqual(body.candidates[0].content, {
            role: 'model',
            parts: [{ text: 'Hello from mock' }],
        });
        assert.equal(body.candidates[0].finishReason, 'STOP');
        assert.equal(body.modelVersion, 'gemini-mock');
    });

    test('without alt=sse the stream is one JSON array', async () => {
        const res = await post(`${GEM}:streamGenerateContent`, gem('MOCK:text a b c'));
        assert.match(res.headers['content-type'], /application\/json/);
        const arr = JSON.parse(res.body);
        assert.ok(Array.isArray(arr) && arr.length >= 2);
        assert.equal(assembleGemini(arr).text, 'a b c');
    });

    test('thought parts come first; a signature rides on the last text part', async () => {
        await mock.script({
            thinking: 'pondering deeply',
            text: 'answer',
            thought_signature: 'c2lnLXQ=',
        });
        const chunks = dataEvents(await post(`${GEM}:streamGenerateContent?alt=sse`, gem('x')));
        const flags = chunks.map((c) => (c.candidates[0].content.parts[0].thought ? 't' : 'x'));
        assert.ok(flags.join('').startsWith('tt'), flags.join(''));
        assert.ok(flags.lastIndexOf('t') < flags.indexOf('x'));
        const built = assembleGemini(chunks);
        assert.equal(built.thought, 'pondering deeply');
        assert.equal(built.text, 'answer');
        assert.deepEqual(built.signatures, [['text', 'c2lnLXQ=']]);
        const last = chunks[chunks.length - 1].candidates[0].content.parts;
        assert.equal(last[last.length - 1].thoughtSignature, 'c2lnLXQ=');
        assert.ok(built.usage.thoughtsTokenCount > 0);
    });

    test('function calls come whole, the signature on the first one', async () => {
        await mock.script({
            thinking: 'two calls',
            thought_signature: 'c2lnLWM=',
            tool_use: [
                { name: 'Bash', input: { command: 'echo one' } },
                { name: 'Bash', input: { command: 'echo two' } },
            ],
        });
        const built = assembleGemini(
            dataEvents(await post(`${GEM}:streamGenerateContent?alt=sse`, gem('x'))),
        );
        assert.deepEqual(built.calls, [
            { name: 'Bash', args: { command: 'echo one' } },
            { name: 'Bash', args: { command: 'echo two' } },
        ]);
        assert.deepEqual(built.signatures, [['call', 'c2lnLWM=']]);
        assert.equal(built.text, '', 'no default text next to calls');
        assert.deepEqual(built.finish, ['STOP']);
    });

    test('functionResponse parts after the last model turn are echoed back', async () => {
        const body = gem('MOCK:tool_use Bash {}');
        body.contents.push(
            { role: 'model', parts: [{ functionCall: { name: 'Bash', args: {} } }] },
            {
                role: 'user',
                parts: [
                    { functionResponse: { name: 'Bash', response: { content: 'tool-out' } } },
                    { text: '<system-reminder>x</system-reminder>' },
                ],
            },
        );
        const res = await post(`${GEM}:generateContent`, body);
        assert.equal(
            JSON.parse(res.body).candidates[0].content.parts[0].text,
            'Tool said: tool-out',
        );
    });

    test('errors use Google shape: 503 UNAVAILABLE, 429 RESOURCE_EXHAUSTED', async () => {
        let res = await post(`${GEM}:streamGenerateContent?alt=sse`, gem('MOCK:error 503'));
        assert.equal(res.status, 503);
        assert.deepEqual(JSON.parse(res.body), {
            error: { code: 503, message: 'Mock error 503', status: 'UNAVAILABLE' },
        });
        await mock.script({
            status: 429,
            error: { message: 'quota' },
            headers: { 'retry-after': '9' },
        });
        res = await post(`${GEM}:generateContent`, gem('x'));
        assert.equal(res.status, 429);
        assert.equal(res.headers['retry-after'], '9');
        assert.deepEqual(JSON.parse(res.body).error, {
            code: 429,
            message: 'quota',
            status: 'RESOURCE_EXHAUSTED',
        });
    });

    test('error_in_stream ends a started stream with an error object', async () => {
        await mock.script({ status: 503, error_in_stream: true });
        const data = dataEvents(await post(`${GEM}:streamGenerateContent?alt=sse`, gem('x')));
        assert.equal(data.length, 2);
        assert.ok(data[0].candidates);
        assert.equal(data[1].error.status, 'UNAVAILABLE');
    });

    test('usage maps Anthropic counts; max_tokens becomes MAX_TOKENS', async () => {
        await mock.script({
            text: 'cut',
            stop_reason: 'max_tokens',
            usage: { input_tokens: 100, output_tokens: 20, cache_read_input_tokens: 30 },
        });
        const body = JSON.parse((await post(`${GEM}:generateContent`, gem('x'))).body);
        assert.equal(body.candidates[0].finishReason, 'MAX_TOKENS');
        assert.deepEqual(body.usageMetadata, {
            promptTokenCount: 130,
            candidatesTokenCount: 20,
            totalTokenCount: 150,
            cachedContentTokenCount: 30,
        });
    });

    test('countTokens answers totalTokens', async () => {
        const res = await post(`${GEM}:countTokens`, gem('count me'));
        assert.ok(JSON.parse(res.body).totalTokens > 0);
        await mock.script({ endpoint: 'count_tokens', count_tokens: 12 });
        assert.deepEqual(JSON.parse((await post(`${GEM}:countTokens`, gem('x'))).body), {
            totalTokens: 12,
        });
    });

    test('requests the real API rejects get a 400 INVALID_ARGUMENT', async () => {
        const decl = (parameters) => ({
            tools: [{ functionDeclarations: [{ name: 'f', parameters }] }],
        });
        const cases = [
            [{ ...gem('x'), messages: [] }, /Unknown name "messages"/],
            [{ contents: [] }, /contents is not specified/],
            [{ contents: [{ role: 'assistant', parts: [{ text: 'x' }] }] }, /valid role/],
            [{ contents: [{ role: 'user', parts: [] }] }, /must not be empty/],
            [
                { contents: [{ role: 'user', parts: [{ text: 'x', cache_control: {} }] }] },
                /Unknown name "cache_control"/,
            ],
            [
                gem(
                    'x',
                    decl({
                        type: 'object',
                        properties: { a: { type: 'string' } },
                        additionalProperties: false,
                    }),
                ),
                /Unknown name "additionalProperties"/,
            ],
            [
                gem('x', decl({ type: 'object', properties: { a: { type: ['string', 'null'] } } })),
                /type/,
            ],
            [gem('x', decl({ type: 'object', properties: {} })), /non-empty for OBJECT/],
            [
                gem(
                    'x',
                    decl({
                        type: 'object',
                        properties: { a: { type: 'string' } },
                        required: ['b'],
                    }),
                ),
                /not defined/,
            ],
            [
                {
                    contents: [
                        { role: 'user', parts: [{ text: 'x' }] },
                        { role: 'model', parts: [{ functionCall: { name: 'f', args: {} } }] },
                        { role: 'user', parts: [{ text: 'no response' }] },
                    ],
                },
                /function response turn comes immediately after a function call turn/,
            ],
            [
                {
                    contents: [
                        { role: 'user', parts: [{ text: 'x' }] },
                        {
                            role: 'model',
                            parts: [
                                { functionCall: { name: 'f', args: {} } },
                                { functionCall: { name: 'f', args: {} } },
                            ],
                        },
                        {
                            role: 'user',
                            parts: [{ functionResponse: { name: 'f', response: {} } }],
                        },
                    ],
                },
                /number of function response parts/,
            ],
            [
                gem('x', { generationConfig: { maxOutputTokens: 10, thinking: {} } }),
                /Unknown name "thinking"/,
            ],
        ];
        for (const [body, why] of cases) {
            await mock.reset();
            const res = await post(`${GEM}:generateContent`, body);
            assert.equal(res.status, 400, `${JSON.stringify(body)} was accepted`);
            const err = JSON.parse(res.body).error;
            assert.equal(err.status, 'INVALID_ARGUMENT');
            assert.equal(err.code, 400);
            assert.match(err.message, why);
            const [rec] = await mock.requests();
            assert.match(rec.invalid, why);
        }
        /* snake_case names are accepted as the API does. */
        const res = await post(`${GEM}:generateContent`, {
            contents: [{ role: 'user', parts: [{ text: 'x' }] }],
            system_instruction: { parts: [{ text: 'y' }] },
            generation_config: {
                max_output_tokens: 5,
                thinking_config: { include_thoughts: true },
            },
        });
        assert.equal(res.status, 200, res.body.toString());
    });

    test('the model of any version path is reported back', async () => {
        const res = await post('/v1/models/gemini-other%2Dx:generateContent', gem('x'));
        assert.equal(JSON.parse(res.body).modelVersion, 'gemini-other-x');
    });
});

/* ------------------------------------------------------------------ the stream checker */

describe('anthropic_stream_check', () => {
    async function native(step) {
        await mock.script(step);
        const res = await post('/v1/messages', user('x', { stream: true }));
        return parseSSE(res.body.toString());
    }

    test('accepts the native stream and rebuilds its message', async () => {
        const events = await native({
            thinking: 'hmm',
            signature: 'sig-1',
            text: 'hello there',
            tool_use: [{ id: 'toolu_1', name: 'Bash', input: { command: 'ls' } }],
            usage: { output_tokens: 7 },
        });
        const { message, pings } = checkAnthropicStream(events, { requireSignature: true });
        assert.equal(pings, 1);
        assert.deepEqual(message.content, [
            { type: 'thinking', thinking: 'hmm', signature: 'sig-1' },
            { type: 'text', text: 'hello there' },
            { type: 'tool_use', id: 'toolu_1', name: 'Bash', input: { command: 'ls' } },
        ]);
        assert.equal(message.stop_reason, 'tool_use');
        assert.equal(message.usage.output_tokens, 7);
        /* SDK stream events (data only) are accepted too. */
        checkAnthropicStream(events.map((e) => e.data));
    });

    test('rejects each broken invariant, naming the event', async () => {
        const base = await native({ text: 'hello', tool_use: [{ name: 'A', input: { a: 1 } }] });
        const edit = (fn) => {
            const copy = structuredClone(base);
            fn(copy);
            return copy;
        };
        const idx = (events, pred) => events.findIndex(pred);
        const cases = [
            [(ev) => ev.splice(0, 1), /first event must be message_start/],
            [(ev) => ev.pop(), /without message_stop/],
            [(ev) => ev.push(structuredClone(ev[ev.length - 1])), /after message_stop/],
            [
                (ev) => {
                    const i = idx(
                        ev,
                        (e) => e.event === 'content_block_start' && e.data.index === 1,
                    );
                    ev[i].data.index = 5;
                },
                /index 5, expected 1/,
            ],
            [
                (ev) => {
                    const i = idx(ev, (e) => e.data.delta && e.data.delta.type === 'text_delta');
                    ev[i].data.delta = { type: 'input_json_delta', partial_json: '{' };
                },
                /input_json_delta in a text block/,
            ],
            [
                (ev) => {
                    for (const e of ev)
                        if (e.data.delta && e.data.delta.type === 'text_delta')
                            e.data.delta.text = ' ';
                },
                /empty or blank/,
            ],
            [
                (ev) => {
                    const i = idx(
                        ev,
                        (e) =>
                            e.data.delta &&
                            e.data.delta.type === 'input_json_delta' &&
                            e.data.delta.partial_json !== '',
                    );
                    ev[i].data.delta.partial_json = '{{';
                },
                /is not JSON/,
            ],
            [
                (ev) => {
                    const i = idx(ev, (e) => e.event === 'content_block_stop');
                    ev.splice(i, 1);
                },
                /has not stopped yet/,
            ],
            [
                (ev) => {
                    const i = idx(ev, (e) => e.event === 'message_delta');
                    delete ev[i].data.usage;
                },
                /no usage/,
            ],
            [
                (ev) => {
                    const i = idx(ev, (e) => e.event === 'message_delta');
                    ev[i].data.delta.stop_reason = 'end_turn';
                },
                /end_turn with tool_use blocks/,
            ],
            [
                (ev) => {
                    ev[0].event = 'message_delta';
                },
                /event line says/,
            ],
            [
                (ev) => {
                    ev.splice(3, 0, {
                        event: 'error',
                        data: { type: 'error', error: { type: 'overloaded_error', message: 'x' } },
                    });
                },
                /an error event/,
            ],
        ];
        for (const [fn, why] of cases) {
            assert.throws(() => checkAnthropicStream(edit(fn)), why, `not caught: ${why}`);
        }
        /* allowError: an error may end the stream. */
        const withError = edit((ev) => {
            ev.splice(4);
            ev.push({
                event: 'error',
                data: { type: 'error', error: { type: 'overloaded_error', message: 'x' } },
            });
        });
        assert.equal(
            checkAnthropicStream(withError, { allowError: true }).error.type,
            'overloaded_error',
        );
    });
});
