// spec/e2e/routing.test.mjs: the real Claude Code CLI through ccproxy when its deployment
// fails: the primary answers 529 (and, in another run, 429 with retry-after) and the request
// goes to the fallback group; Claude Code completes its task, shows no error and makes no
// retry of its own. Needs the proxy: skipped with E2E_DIRECT=1.

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { DIRECT, HAIKU_UPSTREAM_MODEL, startHarness } from './lib/harness.mjs';
import { messageRequests } from './lib/mock.mjs';

describe(
    'Claude Code through ccproxy when the primary deployment fails',
    { skip: DIRECT ? 'E2E_DIRECT=1: fallbacks need ccproxy' : false },
    () => {
        let h;

        before(async () => {
            h = await startHarness({ fallback: true });
        });

        after(async () => {
            if (h) await h.stop();
        });

        beforeEach(async () => {
            await h.mock.reset();
        });

        const explain = (run) =>
            `exit ${run.code} after ${run.ms} ms\n--- stdout ---\n${run.stdout}\n` +
            `--- stderr ---\n${run.stderr}\n${h.diagnostics()}`;

        async function completesThroughFallback(failure) {
            await h.mock.script(failure);
            const run = await h.runClaude(['-p', 'say hi']);
            assert.equal(run.code, 0, explain(run));
            assert.match(run.stdout, /Hello from mock/, explain(run));
            assert.doesNotMatch(run.stdout + run.stderr, /overloaded|rate.?limit|API Error/i,
                explain(run));
            const reqs = messageRequests(await h.mock.requests());
            const models = reqs.map((r) => JSON.parse(r.body).model);
            /* The first attempt went to claude-* and failed; the fallback answered. */
            assert.equal(reqs[0].status, failure.status, explain(run));
            assert.equal(models[0], 'claude-opus-5-5', `models: ${models}`);
            assert.equal(models[1], HAIKU_UPSTREAM_MODEL, `models: ${models}`);
            return reqs;
        }

        test('a 529 from the primary: the fallback answers, no error is shown', async () => {
            const reqs = await completesThroughFallback({
                status: 529,
                error: { type: 'overloaded_error', message: 'Overloaded' },
            });
            /* Claude Code did not have to retry on its own: one request each. */
            assert.equal(reqs.length, 2, `requests: ${reqs.map((r) => r.status)}`);
        });

        test('a 429 with retry-after from the primary: the fallback answers at once', async () => {
            const t0 = Date.now();
            await completesThroughFallback({
                status: 429,
                headers: { 'retry-after': '30' },
                error: { type: 'rate_limit_error', message: 'Rate limited' },
            });
            /* The fallback is another deployment: it does not wait the primary's 30 s. */
            assert.ok(Date.now() - t0 < 25000, 'the fallback waited for the retry-after');
        });
    },
);
