// spec/e2e/claude_code.test.mjs: the real Claude Code CLI (print mode) through ccproxy to the
// mock upstream: a plain answer, a tool round trip, and model routing.

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { API_KEY, HAIKU_UPSTREAM_MODEL, startHarness } from './lib/harness.mjs';
import { header, lastUserMessage, messageRequests } from './lib/mock.mjs';

let h;

before(async () => {
    h = await startHarness();
});

after(async () => {
    if (h) await h.stop();
});

beforeEach(async () => {
    await h.mock.reset();
});

/** Fails with the client's output and the proxy's log attached. */
function explain(run) {
    return (
        `exit ${run.code} (signal ${run.signal}) after ${run.ms} ms\n--- stdout ---\n${run.stdout}\n` +
        `--- stderr ---\n${run.stderr}\n${h.diagnostics()}`
    );
}

/** Parses `--output-format stream-json` output into objects (ignores non-JSON lines). */
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

function toolResultText(block) {
    if (typeof block.content === 'string') return block.content;
    return (block.content || []).map((b) => b.text || '').join('\n');
}

describe('Claude Code through ccproxy', () => {
    test('print mode answers with the upstream text and keeps auth and version headers', async () => {
        const run = await h.runClaude(['-p', 'say hi']);
        assert.equal(run.code, 0, explain(run));
        assert.match(run.stdout, /Hello from mock/, explain(run));

        const reqs = messageRequests(await h.mock.requests());
        assert.ok(reqs.length >= 1, `the mock saw no /v1/messages request\n${explain(run)}`);
        const first = reqs[0];
        assert.equal(
            first.path,
            '/v1/messages?beta=true',
            'the query string must reach the upstream',
        );
        assert.equal(header(first, 'x-api-key'), API_KEY);
        assert.equal(header(first, 'anthropic-version'), '2023-06-01');
        const betas = header(first, 'anthropic-beta');
        assert.ok(betas, 'anthropic-beta must be forwarded');
        assert.match(betas, /claude-code-20250219/);
        const body = JSON.parse(first.body);
        assert.equal(body.model, 'claude-opus-5-5', 'a claude-* model passes through unchanged');
        assert.equal(body.stream, true);
        assert.ok(first.completed, 'the mock finished its answer');
        assert.ok(!first.aborted);
    });

    test('tool round trip: tool_use is executed and its result reaches the upstream', async () => {
        const prompt =
            'MOCK:tool_use Bash {"command":"echo hello-from-tool","description":"Print"}';
        const run = await h.runClaude([
            '-p',
            prompt,
            '--allowedTools',
            'Bash',
            '--output-format',
            'stream-json',
            '--verbose',
        ]);
        assert.equal(run.code, 0, explain(run));

        const reqs = messageRequests(await h.mock.requests());
        const withResult = reqs.find((r) => {
            const msg = lastUserMessage(JSON.parse(r.body));
            return (
                msg &&
                Array.isArray(msg.content) &&
                msg.content.some(
                    (b) =>
                        b.type === 'tool_result' && toolResultText(b).includes('hello-from-tool'),
                )
            );
        });
        assert.ok(
            withResult,
            `no request carried the tool_result (saw ${reqs.length} requests)\n${explain(run)}`,
        );
        assert.ok(withResult.n > reqs[0].n, 'the tool_result comes in a later request');

        const events = jsonLines(run.stdout);
        const toolUse = events
            .filter((e) => e.type === 'assistant')
            .flatMap((e) => e.message.content)
            .find((b) => b.type === 'tool_use');
        assert.ok(toolUse, `no tool_use in the stream-json output\n${explain(run)}`);
        assert.equal(toolUse.name, 'Bash');
        assert.deepEqual(toolUse.input, { command: 'echo hello-from-tool', description: 'Print' });
        const result = events.find((e) => e.type === 'result');
        assert.ok(result, `no result line\n${explain(run)}`);
        assert.equal(result.is_error, false, explain(run));
        assert.match(result.result, /Tool said:.*hello-from-tool/, explain(run));
    });

    test('routing: a haiku request goes to the background deployment', async () => {
        const run = await h.runClaude(['-p', 'say hi', '--model', 'claude-haiku-5-5']);
        assert.equal(run.code, 0, explain(run));
        assert.match(run.stdout, /Hello from mock/, explain(run));
        const reqs = messageRequests(await h.mock.requests());
        assert.ok(reqs.length >= 1, explain(run));
        const models = reqs.map((r) => JSON.parse(r.body).model);
        /* Without the proxy nothing routes: the mock sees the client's own model id. */
        const expected = h.direct ? 'claude-haiku-5-5' : HAIKU_UPSTREAM_MODEL;
        assert.deepEqual(
            models,
            models.map(() => expected),
            `models seen by the upstream: ${models}`,
        );
    });
});
