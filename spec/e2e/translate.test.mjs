// spec/e2e/translate.test.mjs: requests routed to deployments of other providers. Rules send
// the client models of TRANSLATE (lib/harness.mjs) to an OpenAI deployment (Chat Completions
// under <mock>/v1) and a Gemini deployment (generateContent under <mock>), both served by the
// mock upstream, so ccproxy must translate Anthropic Messages to each provider and the answer
// back. Checked with the real Claude Code CLI (plain answer, tool round trip, thinking) and the
// official SDK (streams equal to the native route's, non-stream answers, errors, count_tokens).
// Needs the proxy: skipped with E2E_DIRECT=1.

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import Anthropic, { APIError, OverloadedError, RateLimitError } from '@anthropic-ai/sdk';
import { API_KEY, DIRECT, TRANSLATE, startHarness } from './lib/harness.mjs';
import { header, httpRequest } from './lib/mock.mjs';
import { checkAnthropicStream } from './lib/anthropic_stream_check.mjs';

const NATIVE_MODEL = 'claude-sonnet-5-5';
const PROVIDERS = Object.values(TRANSLATE);
/* Claude Code retries failures up to 10 times with backoff; a translation fault should show at
 * once. */
const CLAUDE_ENV = { CLAUDE_CODE_MAX_RETRIES: '0' };

const TOOLS = [
    {
        name: 'get_weather',
        description: 'Weather for a city',
        input_schema: {
            $schema: 'https://json-schema.org/draft/2020-12/schema',
            type: 'object',
            properties: {
                city: { type: 'string', description: 'City name' },
                days: { type: 'integer', exclusiveMinimum: 0 },
                tags: { type: 'array', items: { type: 'string' } },
                nested: {
                    type: 'object',
                    properties: { ok: { type: 'boolean' } },
                    additionalProperties: false,
                },
            },
            required: ['city'],
            additionalProperties: false,
        },
    },
    {
        name: 'get_time',
        description: 'Time in a zone',
        input_schema: {
            type: 'object',
            properties: { zone: { type: ['string', 'null'] } },
            additionalProperties: false,
        },
    },
];

/* Steps each scripted once per route; the translated answers must equal the native one. */
const CASES = [
    { name: 'text', step: { text: 'Streaming works across several pieces' } },
    {
        name: 'parallel tool calls',
        step: {
            tool_use: [
                {
                    name: 'get_weather',
                    input: { city: 'Paris', days: 3, tags: ['a', 'b'], nested: { ok: true } },
                },
                { name: 'get_time', input: { zone: 'Europe/Paris' } },
            ],
        },
    },
    {
        name: 'thinking then text',
        step: { thinking: 'Let me think about it', text: 'Done thinking' },
    },
    {
        name: 'thinking then a tool call',
        step: {
            thinking: 'I should look it up',
            thought_signature: 'bW9jay10aG91Z2h0LXNpZw==',
            tool_use: [{ name: 'get_weather', input: { city: 'Oslo' } }],
        },
    },
    { name: 'max_tokens', step: { text: 'Cut short', stop_reason: 'max_tokens' } },
];

let h;
let client;
const wired = {};

/** One plain request: does the proxy translate to this provider at all? */
async function probe(p) {
    const res = await httpRequest(`${h.baseURL}/v1/messages`, {
        method: 'POST',
        headers: {
            'content-type': 'application/json',
            'x-api-key': API_KEY,
            'anthropic-version': '2023-06-01',
        },
        body: JSON.stringify(ask(p.clientModel, 'MOCK:text probe')),
        timeoutMs: 20000,
    });
    return { status: res.status, body: res.body.toString() };
}

/** Fails the test at once, saying why, when the probe of `p` did not get a 200. */
function requireWired(p) {
    const w = wired[p.provider];
    if (w.status === 200) return;
    assert.fail(
        `ccproxy does not translate to ${p.provider}: a plain request for ` +
            `${p.clientModel} (label ${p.label}) answered ${w.status} ${w.body}`,
    );
}

function ask(model, text, extra = {}) {
    return {
        model,
        max_tokens: 1024,
        messages: [{ role: 'user', content: text }],
        ...extra,
    };
}

function explain(run) {
    return (
        `exit ${run.code} (signal ${run.signal}) after ${run.ms} ms\n--- stdout ---\n` +
        `${run.stdout}\n--- stderr ---\n${run.stderr}\n${h.diagnostics()}`
    );
}

function jsonLines(stdout) {
    const out = [];
    for (const line of stdout.split('\n')) {
        if (!line.trim().startsWith('{')) continue;
        try {
            out.push(JSON.parse(line));
        } catch {
            /* a partial line is not an event */
        }
    }
    return out;
}

/** The mock's records of provider p's dialect; none of any dialect may be invalid. */
async function upstream(p) {
    const recs = await h.mock.requests();
    const invalid = recs.filter((r) => r.invalid);
    assert.deepEqual(
        invalid.map((r) => `#${r.n} ${r.dialect} ${r.path}: ${r.invalid}`),
        [],
        'the provider would have rejected these translated requests',
    );
    return recs.filter((r) => r.dialect === p.dialect);
}

/** What every translated request must look like on the wire. */
function checkUpstreamRequest(rec, p, { stream }) {
    const body = JSON.parse(rec.body);
    if (p.dialect === 'openai') {
        assert.equal(rec.path, '/v1/chat/completions');
        assert.equal(header(rec, 'authorization'), `Bearer ${p.apiKey}`);
        assert.equal(header(rec, 'x-goog-api-key'), undefined);
        assert.equal(body.model, p.upstreamModel, 'the body names the upstream model');
        if (stream) {
            assert.equal(body.stream, true);
            assert.equal(body.stream_options && body.stream_options.include_usage, true);
        } else {
            assert.ok(!body.stream, 'a non-stream request does not ask for a stream');
        }
    } else {
        const method = stream ? 'streamGenerateContent?alt=sse' : 'generateContent';
        assert.equal(rec.path, `/v1beta/models/${p.upstreamModel}:${method}`);
        assert.equal(header(rec, 'x-goog-api-key'), p.apiKey);
        assert.equal(header(rec, 'authorization'), undefined);
    }
    for (const name of ['x-api-key', 'anthropic-version', 'anthropic-beta'])
        assert.equal(header(rec, name), undefined, `${name} must not reach ${p.provider}`);
    assert.match(header(rec, 'content-type') || '', /^application\/json/);
}

/** Tool ids are made up per route and signatures are provider artifacts: blank them. */
function comparable(content) {
    return content.map((b) => {
        if (b.type === 'tool_use') {
            assert.ok(typeof b.id === 'string' && b.id !== '', `tool_use without id`);
            return { ...b, id: '<id>' };
        }
        if (b.type === 'thinking') {
            assert.equal(typeof b.signature, 'string');
            const { signature: _, ...rest } = b;
            return rest;
        }
        return b;
    });
}

function toolsFor(step) {
    return step.tool_use ? { tools: TOOLS } : {};
}

async function streamFinal(model, step, dialect) {
    await h.mock.script({ ...step, dialect });
    const stream = client.messages.stream(ask(model, 'go', toolsFor(step)));
    let jsonPieces = 0;
    stream.on('inputJson', (delta) => {
        if (delta !== '') jsonPieces++;
    });
    const final = await stream.finalMessage();
    return { final, jsonPieces };
}

async function rawStream(model, step, dialect) {
    await h.mock.script({ ...step, dialect });
    const res = await httpRequest(`${h.baseURL}/v1/messages`, {
        method: 'POST',
        headers: {
            'content-type': 'application/json',
            'x-api-key': API_KEY,
            'anthropic-version': '2023-06-01',
        },
        body: JSON.stringify({ ...ask(model, 'go', toolsFor(step)), stream: true }),
        timeoutMs: 20000,
    });
    assert.equal(res.status, 200, res.body.toString());
    assert.match(res.headers['content-type'], /^text\/event-stream/);
    return res;
}

/** The tests of one translated route. */
function providerTests(p) {
    test('Claude Code gets a plain answer', async () => {
        requireWired(p);
        const run = await h.runClaude(['-p', 'say hi', '--model', p.clientModel], {
            env: CLAUDE_ENV,
        });
        assert.equal(run.code, 0, explain(run));
        assert.match(run.stdout, /Hello from mock/, explain(run));
        const recs = await upstream(p);
        assert.ok(recs.length >= 1, `${p.provider} saw no request\n${explain(run)}`);
        checkUpstreamRequest(recs[0], p, { stream: true });
    });

    test('Claude Code completes a tool round trip', async () => {
        requireWired(p);
        const input = { command: 'echo hello-from-tool', description: 'Print' };
        const run = await h.runClaude(
            [
                '-p',
                `MOCK:tool_use Bash ${JSON.stringify(input)}`,
                '--model',
                p.clientModel,
                '--allowedTools',
                'Bash',
                '--output-format',
                'stream-json',
                '--verbose',
            ],
            { env: CLAUDE_ENV },
        );
        assert.equal(run.code, 0, explain(run));
        const events = jsonLines(run.stdout);
        const toolUse = events
            .filter((e) => e.type === 'assistant')
            .flatMap((e) => e.message.content)
            .find((b) => b.type === 'tool_use');
        assert.ok(toolUse, `no tool_use in the output\n${explain(run)}`);
        assert.equal(toolUse.name, 'Bash');
        assert.deepEqual(toolUse.input, input);
        const result = events.find((e) => e.type === 'result');
        assert.ok(result, `no result line\n${explain(run)}`);
        assert.equal(result.is_error, false, explain(run));
        assert.match(result.result, /Tool said:.*hello-from-tool/, explain(run));

        /* The provider got its own call back with the result. */
        const recs = await upstream(p);
        const back = recs.find((r) => r.body.includes('hello-from-tool') && r.n > recs[0].n);
        assert.ok(back, `no ${p.provider} request carried the result\n${explain(run)}`);
        checkUpstreamRequest(back, p, { stream: true });
        const body = JSON.parse(back.body);
        if (p.dialect === 'openai') {
            const i = body.messages.findIndex((m) => m.role === 'assistant' && m.tool_calls);
            assert.ok(i >= 0, 'the assistant turn with its tool call is in the history');
            const call = body.messages[i].tool_calls[0];
            assert.equal(call.function.name, 'Bash');
            assert.deepEqual(JSON.parse(call.function.arguments), input);
            const res = body.messages[i + 1];
            assert.equal(res.role, 'tool');
            assert.equal(res.tool_call_id, call.id);
            assert.match(JSON.stringify(res.content), /hello-from-tool/);
        } else {
            const i = body.contents.findIndex(
                (c) => c.role === 'model' && c.parts.some((x) => x.functionCall),
            );
            assert.ok(i >= 0, 'the model turn with its call is in the history');
            const call = body.contents[i].parts.find((x) => x.functionCall).functionCall;
            assert.equal(call.name, 'Bash');
            assert.deepEqual(call.args, input);
            const fr = body.contents[i + 1].parts.find((x) => x.functionResponse);
            assert.ok(fr, 'a functionResponse follows the call');
            assert.equal(fr.functionResponse.name, 'Bash');
            assert.match(JSON.stringify(fr.functionResponse.response), /hello-from-tool/);
        }
    });

    test('Claude Code shows a thinking block', async () => {
        requireWired(p);
        const run = await h.runClaude(
            [
                '-p',
                'MOCK:thinking Let me weigh this\nMOCK:text Weighed answer',
                '--model',
                p.clientModel,
                '--output-format',
                'stream-json',
                '--verbose',
            ],
            { env: CLAUDE_ENV },
        );
        assert.equal(run.code, 0, explain(run));
        const blocks = jsonLines(run.stdout)
            .filter((e) => e.type === 'assistant')
            .flatMap((e) => e.message.content);
        const thinking = blocks.find((b) => b.type === 'thinking');
        assert.ok(thinking, `no thinking block\n${explain(run)}`);
        assert.equal(thinking.thinking, 'Let me weigh this');
        const result = jsonLines(run.stdout).find((e) => e.type === 'result');
        assert.ok(result && !result.is_error, explain(run));
        assert.match(result.result, /Weighed answer/);
        await upstream(p);
    });

    for (const c of CASES) {
        test(`SDK stream, ${c.name}: the final message equals the native route's`, async () => {
            requireWired(p);
            const native = await streamFinal(NATIVE_MODEL, c.step, 'anthropic');
            const got = await streamFinal(p.clientModel, c.step, p.dialect);
            assert.deepEqual(comparable(got.final.content), comparable(native.final.content));
            assert.equal(got.final.stop_reason, native.final.stop_reason);
            assert.equal(got.final.model, p.clientModel, 'message_start names the client model');
            assert.ok(got.final.usage.input_tokens > 0, JSON.stringify(got.final.usage));
            assert.ok(got.final.usage.output_tokens > 0, JSON.stringify(got.final.usage));
            if (p.dialect === 'openai' && c.step.tool_use && c.step.tool_use.length === 1)
                assert.ok(got.jsonPieces >= 2, `tool input came in ${got.jsonPieces} piece(s)`);

            const res = await rawStream(p.clientModel, c.step, p.dialect);
            const { message } = checkAnthropicStream(res.body);
            assert.deepEqual(comparable(message.content), comparable(native.final.content));
            const recs = await upstream(p);
            assert.equal(recs.length, 2);
            for (const r of recs) checkUpstreamRequest(r, p, { stream: true });
        });
    }

    for (const c of CASES.slice(0, 4)) {
        test(`SDK messages.create, ${c.name}: equals the native route's`, async () => {
            requireWired(p);
            await h.mock.script(
                { ...c.step, dialect: 'anthropic' },
                { ...c.step, dialect: p.dialect },
            );
            const native = await client.messages.create(ask(NATIVE_MODEL, 'go', toolsFor(c.step)));
            const got = await client.messages.create(ask(p.clientModel, 'go', toolsFor(c.step)));
            assert.equal(got.type, 'message');
            assert.equal(got.role, 'assistant');
            assert.match(got.id, /^msg_/);
            assert.equal(got.model, p.clientModel);
            assert.deepEqual(comparable(got.content), comparable(native.content));
            assert.equal(got.stop_reason, native.stop_reason);
            assert.ok(got.usage.input_tokens > 0 && got.usage.output_tokens > 0);
            const [rec] = await upstream(p);
            checkUpstreamRequest(rec, p, { stream: false });
        });
    }

    test('usage reports the provider counts, cache reads apart', async () => {
        requireWired(p);
        const usage = {
            input_tokens: 100,
            output_tokens: 20,
            cache_read_input_tokens: 30,
        };
        await h.mock.script({ dialect: p.dialect, text: 'counted', usage });
        const final = await client.messages.stream(ask(p.clientModel, 'go')).finalMessage();
        assert.equal(final.usage.input_tokens, 100);
        assert.equal(final.usage.cache_read_input_tokens, 30);
        assert.equal(final.usage.output_tokens, 20);
    });

    for (const [status, klass, type] of [
        [429, RateLimitError, 'rate_limit_error'],
        [503, OverloadedError, 'overloaded_error'],
    ]) {
        const expected = status === 503 ? 529 : status;
        test(`an upstream ${status} surfaces as ${klass.name} (status ${expected})`, async () => {
            requireWired(p);
            const step = {
                dialect: p.dialect,
                status,
                error: { message: `upstream said ${status}` },
                headers: { 'retry-after': '7' },
            };
            await h.mock.script(step, step);
            for (const call of [
                () => client.messages.create(ask(p.clientModel, 'go')),
                () => client.messages.stream(ask(p.clientModel, 'go')).finalMessage(),
            ]) {
                await assert.rejects(call(), (err) => {
                    assert.ok(err instanceof APIError, `expected an APIError, got ${err}`);
                    assert.ok(
                        err instanceof klass,
                        `expected ${klass.name}, got ${err.constructor.name}`,
                    );
                    assert.equal(err.status, expected);
                    assert.equal(err.error.type, 'error');
                    assert.equal(err.error.error.type, type);
                    assert.match(err.error.error.message, new RegExp(`upstream said ${status}`));
                    assert.equal(err.headers.get('retry-after'), '7');
                    return true;
                });
            }
        });
    }

    test('count_tokens answers a number without an Anthropic upstream', async () => {
        requireWired(p);
        const res = await client.messages.countTokens({
            model: p.clientModel,
            messages: [{ role: 'user', content: 'count these tokens, please' }],
            tools: TOOLS,
        });
        assert.ok(Number.isInteger(res.input_tokens) && res.input_tokens > 0, JSON.stringify(res));
        const recs = await h.mock.requests();
        assert.deepEqual(
            recs.filter((r) => r.dialect === 'anthropic').map((r) => r.path),
            [],
            'count_tokens for a translated route must not go to an Anthropic endpoint',
        );
    });
}

describe(
    'translation through ccproxy',
    { skip: DIRECT ? 'E2E_DIRECT=1: translation needs ccproxy' : false },
    () => {
        before(async () => {
            h = await startHarness({ translate: true });
            client = new Anthropic({
                baseURL: h.baseURL,
                apiKey: API_KEY,
                maxRetries: 0,
                timeout: 20000,
            });
            for (const p of PROVIDERS) wired[p.provider] = await probe(p);
        });

        after(async () => {
            if (h) await h.stop();
        });

        beforeEach(async () => {
            await h.mock.reset();
        });

        for (const p of PROVIDERS) {
            const route = `${p.clientModel} -> ${p.provider}/${p.upstreamModel}`;
            describe(`via ${p.provider} (${route})`, () => providerTests(p));
        }
    },
);
