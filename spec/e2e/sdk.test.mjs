// spec/e2e/sdk.test.mjs: the official Anthropic TypeScript SDK through ccproxy to the mock
// upstream: plain and streamed messages, tool_use input, thinking, count_tokens, errors,
// gzip, client aborts and upstream connection reuse.

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import Anthropic, { APIError } from '@anthropic-ai/sdk';
import { API_KEY, startHarness } from './lib/harness.mjs';
import { header, messageRequests } from './lib/mock.mjs';

const MODEL = 'claude-sonnet-5-5';

let h;
let client;

before(async () => {
    h = await startHarness();
    client = new Anthropic({ baseURL: h.baseURL, apiKey: API_KEY, maxRetries: 0, timeout: 20000 });
});

after(async () => {
    if (h) await h.stop();
});

beforeEach(async () => {
    await h.mock.reset();
});

function ask(text, extra = {}) {
    return {
        model: MODEL,
        max_tokens: 1024,
        messages: [{ role: 'user', content: text }],
        ...extra,
    };
}

/** Polls fn until it returns a truthy value or timeoutMs passes. */
async function eventually(fn, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn();
        if (v || Date.now() > deadline) return v;
        await new Promise((r) => setTimeout(r, 50));
    }
}

describe('Anthropic SDK through ccproxy', () => {
    test('messages.create returns the mock text', async () => {
        const msg = await client.messages.create(ask('say hi'));
        assert.equal(msg.type, 'message');
        assert.equal(msg.role, 'assistant');
        assert.equal(msg.model, MODEL, 'the model echoes the request, passed through unchanged');
        assert.deepEqual(msg.content, [{ type: 'text', text: 'Hello from mock' }]);
        assert.equal(msg.stop_reason, 'end_turn');

        const [rec] = messageRequests(await h.mock.requests());
        assert.ok(rec, 'the mock saw the request');
        /* SDK 1.x (API version 2026-10-21) sends the API key as a Bearer token; older SDKs and
         * Claude Code use x-api-key. Either way the key must reach the upstream. */
        const auth = header(rec, 'authorization');
        const key = header(rec, 'x-api-key') || (auth && auth.replace(/^Bearer /, ''));
        assert.equal(key, API_KEY, 'the client API key reaches the upstream');
        assert.match(header(rec, 'anthropic-version') || '', /^\d{4}-\d{2}-\d{2}$/);
        assert.equal(JSON.parse(rec.body).model, MODEL);
    });

    test('a MOCK:text directive sets the answer', async () => {
        const msg = await client.messages.create(ask('MOCK:text Bonjour from the directive'));
        assert.equal(msg.content[0].text, 'Bonjour from the directive');
    });

    test('messages.stream yields text deltas and a final message', async () => {
        await h.mock.script({ text: 'Streaming works across several pieces' });
        const stream = client.messages.stream(ask('say hi'));
        const pieces = [];
        stream.on('text', (delta) => pieces.push(delta));
        const final = await stream.finalMessage();
        assert.ok(
            pieces.length >= 2,
            `expected several text deltas, got ${JSON.stringify(pieces)}`,
        );
        assert.equal(pieces.join(''), 'Streaming works across several pieces');
        assert.deepEqual(final.content, [
            { type: 'text', text: 'Streaming works across several pieces' },
        ]);
        assert.equal(final.stop_reason, 'end_turn');
        assert.equal(final.model, MODEL);
        assert.ok(
            final.usage.input_tokens > 0 && final.usage.output_tokens > 0,
            JSON.stringify(final.usage),
        );
    });

    test('default answer over a stream is the mock text', async () => {
        const stream = client.messages.stream(ask('say hi'));
        assert.equal(await stream.finalText(), 'Hello from mock');
        assert.equal((await stream.finalMessage()).stop_reason, 'end_turn');
    });

    test('a streamed tool_use arrives with its parsed input', async () => {
        const input = {
            city: 'Paris',
            days: 3,
            units: 'metric',
            tags: ['a', 'b'],
            nested: { ok: true },
        };
        await h.mock.script({ tool_use: [{ name: 'get_weather', input }] });
        const tools = [
            {
                name: 'get_weather',
                description: 'Weather for a city',
                input_schema: { type: 'object', properties: { city: { type: 'string' } } },
            },
        ];
        const stream = client.messages.stream(ask('weather?', { tools }));
        let jsonDeltas = 0;
        stream.on('inputJson', () => jsonDeltas++);
        const final = await stream.finalMessage();
        assert.equal(final.stop_reason, 'tool_use');
        assert.equal(final.content.length, 1);
        const [block] = final.content;
        assert.equal(block.type, 'tool_use');
        assert.equal(block.name, 'get_weather');
        assert.match(block.id, /^toolu_/);
        assert.deepEqual(block.input, input);
        assert.ok(jsonDeltas >= 2, `input JSON should arrive in pieces, got ${jsonDeltas}`);
    });

    test('thinking and its signature survive a stream', async () => {
        await h.mock.script({
            thinking: 'Let me think about it',
            signature: 'sig-abc123',
            text: 'Done thinking',
        });
        const stream = client.messages.stream(
            ask('think', { thinking: { type: 'enabled', budget_tokens: 2048 } }),
        );
        const final = await stream.finalMessage();
        assert.deepEqual(final.content, [
            { type: 'thinking', thinking: 'Let me think about it', signature: 'sig-abc123' },
            { type: 'text', text: 'Done thinking' },
        ]);
    });

    test('messages.countTokens returns the upstream count', async () => {
        await h.mock.script({ count_tokens: 1234 });
        const scripted = await client.messages.countTokens({
            model: MODEL,
            messages: [{ role: 'user', content: 'count me' }],
        });
        assert.equal(scripted.input_tokens, 1234);

        const plain = await client.messages.countTokens({
            model: MODEL,
            messages: [{ role: 'user', content: 'count me too, please' }],
        });
        const recs = (await h.mock.requests()).filter((r) =>
            r.path.startsWith('/v1/messages/count_tokens'),
        );
        assert.equal(recs.length, 2, 'both count_tokens calls reached the upstream');
        assert.equal(plain.input_tokens, Math.floor(Buffer.byteLength(recs[1].body) / 4));
    });

    test('an upstream 529 surfaces as an APIError with status 529', async () => {
        await h.mock.script({
            status: 529,
            error: { type: 'overloaded_error', message: 'Overloaded' },
        });
        await assert.rejects(client.messages.create(ask('say hi')), (err) => {
            assert.ok(err instanceof APIError, `expected APIError, got ${err}`);
            assert.equal(err.status, 529);
            assert.equal(err.error.type, 'error');
            assert.equal(err.error.error.type, 'overloaded_error');
            return true;
        });
    });

    test('an error event inside a started stream reaches the client', async () => {
        await h.mock.script({
            text: 'never finished',
            error_in_stream: true,
            error: { type: 'overloaded_error', message: 'Overloaded mid-stream' },
        });
        const stream = client.messages.stream(ask('say hi'));
        await assert.rejects(stream.finalMessage(), (err) => {
            assert.match(String(err.message), /Overloaded mid-stream|overloaded_error/);
            return true;
        });
    });

    test('a gzip-encoded upstream answer is readable', async () => {
        await h.mock.script(
            { gzip: true, text: 'compressed hello' },
            { gzip: true, text: 'compressed stream' },
        );
        const msg = await client.messages.create(ask('say hi'));
        assert.equal(msg.content[0].text, 'compressed hello');
        const stream = client.messages.stream(ask('say hi'));
        assert.equal(await stream.finalText(), 'compressed stream');
    });

    test('a client that aborts a stream cancels the upstream request', async () => {
        await h.mock.script({
            text: 'one two three four five six seven eight',
            event_delay_ms: 250,
        });
        const stream = client.messages.stream(ask('say hi'));
        await new Promise((resolve, reject) => {
            stream.once('text', () => resolve());
            stream.once('error', reject);
        });
        stream.abort();
        await stream.done().catch(() => {});
        const aborted = await eventually(async () => {
            const [rec] = messageRequests(await h.mock.requests());
            return rec && rec.aborted ? rec : null;
        });
        assert.ok(aborted, 'the upstream request was not cancelled within 5 s');
        assert.equal(aborted.completed, false);
        assert.equal((await h.mock.stats()).aborted, 1);
    });

    test('sequential requests reuse one upstream connection', async () => {
        for (let i = 0; i < 3; i++) {
            const msg = await client.messages.create(ask(`MOCK:text answer ${i}`));
            assert.equal(msg.content[0].text, `answer ${i}`);
        }
        const stats = await h.mock.stats();
        assert.equal(stats.requests, 3);
        /* A connection kept from an earlier test is reused without being counted again. */
        assert.ok(stats.connections <= 1, `upstream connections opened: ${stats.connections}`);
    });
});
