// spec/e2e/statusline.test.mjs: the real Claude Code TUI (interactive, not print mode) in a tmux
// pane, started by `ccproxy run claude --model claude-haiku-5-5` against the mock: after one
// turn its status line (ccproxy's, through the --settings file `ccproxy run` passes) shows the
// model the proxy really sent (the background label's deployment, mock-haiku, and its upstream
// model), the label, tokens and cost; once Claude Code exits, the settings file is gone.
// Skipped without tmux, and with E2E_DIRECT=1 (there is no proxy then).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
    API_KEY,
    CCPROXY_BIN,
    DIRECT,
    HAIKU_UPSTREAM_MODEL,
    claudeBinary,
    cleanEnv,
    startHarness,
} from './lib/harness.mjs';
import { messageRequests } from './lib/mock.mjs';

const HAVE_TMUX = spawnSync('tmux', ['-V']).status === 0;
/* The tmux server's socket, in a directory of its own (removed afterwards). */
const SOCKET_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-e2e-tmux-'));
const SOCKET = path.join(SOCKET_DIR, 'tmux');
const WAIT_MS = 45000;

/** tmux on this test's own server (its own socket, no user configuration). */
function tmux(...args) {
    const r = spawnSync('tmux', ['-S', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8' });
    return { code: r.status, out: r.stdout || '', err: r.stderr || '' };
}

function pane() {
    return tmux('capture-pane', '-p', '-t', 'cc').out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls the pane until fn(text) is true; resolves the text, or rejects with the last one. */
async function waitPane(what, fn, ms = WAIT_MS) {
    const deadline = Date.now() + ms;
    let text = '';
    while (Date.now() < deadline) {
        text = pane();
        if (fn(text)) return text;
        await sleep(250);
    }
    throw new Error(`timed out waiting for ${what}; the pane:\n${text}`);
}

let h;

before(async () => {
    if (DIRECT || !HAVE_TMUX) return;
    h = await startHarness({ extraHooks: ['ccproxy.hooks.extract_session_id'] });
});

after(async () => {
    if (HAVE_TMUX) tmux('kill-server');
    fs.rmSync(SOCKET_DIR, { recursive: true, force: true });
    if (h) await h.stop();
});

describe('Claude Code status line through ccproxy', { skip: DIRECT || !HAVE_TMUX }, () => {
    test('shows the routed model, label, tokens and cost after a turn', async () => {
        const home = h.tempDir('home');
        const cwd = fs.realpathSync(h.tempDir('cwd'));
        const tmp = h.tempDir('tmp');
        /* No first-run dialogs: onboarding done, this folder trusted, the key approved. */
        fs.writeFileSync(
            path.join(home, '.claude.json'),
            JSON.stringify({
                hasCompletedOnboarding: true,
                projects: { [cwd]: { hasTrustDialogAccepted: true } },
                customApiKeyResponses: { approved: [API_KEY.slice(-20)], rejected: [] },
            }),
        );
        const env = cleanEnv({
            ...h.proxyEnv,
            HOME: home,
            TMPDIR: tmp,
            ANTHROPIC_API_KEY: API_KEY,
            DISABLE_TELEMETRY: '1',
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        });
        const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
        const cmd = [CCPROXY_BIN, '--config-dir', h.configDir, 'run', claudeBinary(),
            '--model', 'claude-haiku-5-5'];
        const started = spawnSync(
            'tmux',
            ['-S', SOCKET, '-f', '/dev/null', 'new-session', '-d', '-s', 'cc', '-x', '200',
                '-y', '50', '-c', cwd, 'env', ...vars, ...cmd],
            { env, encoding: 'utf8' },
        );
        assert.equal(started.status, 0, `tmux new-session failed: ${started.stderr}`);

        await waitPane('the prompt', (t) => /Claude Code v2\./.test(t) && /❯/.test(t));
        tmux('send-keys', '-t', 'cc', '-l', 'say hi');
        await sleep(300);
        tmux('send-keys', '-t', 'cc', 'Enter');
        const line = new RegExp(
            `${HAIKU_UPSTREAM_MODEL} via mock-haiku \\| background \\| \\S+ in \\S+ out \\| \\$\\?`,
        );
        let text;
        try {
            text = await waitPane('the status line', (t) => line.test(t));
        } catch (err) {
            throw new Error(`${err.message}\n${h.diagnostics()}`);
        }
        assert.match(text, /Hello from mock/);
        assert.match(text, /\| ctx \d/, 'the context in use is shown');

        const reqs = messageRequests(await h.mock.requests());
        assert.ok(
            reqs.some((r) => JSON.parse(r.body).model === HAIKU_UPSTREAM_MODEL),
            'the upstream got the routed model',
        );
        const files = fs.readdirSync(tmp).filter((f) => f.startsWith('ccproxy-statusline-'));
        assert.equal(files.length, 1, `one settings file while Claude Code runs: ${files}`);

        /* Leave: Ctrl-C twice ends Claude Code, then ccproxy run removes its file. */
        tmux('send-keys', '-t', 'cc', 'C-c');
        await sleep(300);
        tmux('send-keys', '-t', 'cc', 'C-c');
        const deadline = Date.now() + 15000;
        while (Date.now() < deadline && tmux('has-session', '-t', 'cc').code === 0) await sleep(200);
        assert.notEqual(tmux('has-session', '-t', 'cc').code, 0, `Claude Code did not exit:\n${pane()}`);
        const left = fs.readdirSync(tmp).filter((f) => f.startsWith('ccproxy-statusline-'));
        assert.deepEqual(left, [], 'the settings file is removed when the run ends');
    });
});
