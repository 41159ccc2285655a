// spec/e2e/lib/harness.mjs: the end-to-end fixture. Starts the mock upstream, writes a config
// dir whose deployments point at it, starts `ccproxy --config-dir DIR start` on a free port,
// waits for GET /health, and tears everything down. Runs the real Claude Code CLI through
// `ccproxy run`. With {translate: true} the config also routes two labels to deployments of
// other providers on the same mock (see TRANSLATE): an OpenAI one and a Gemini one.
//
// Environment:
//   CCPROXY_BIN   the ccproxy binary (default ../../build/ccproxy relative to spec/e2e)
//   E2E_DIRECT=1  skip the proxy: clients talk straight to the mock (validates harness and mock)
//   CLAUDE_BIN    the Claude Code binary (default: the one installed in spec/e2e/node_modules)
//   E2E_KEEP_TMP=1  keep the temp dirs (config, HOME, cwd) for inspection
//   E2E_LOGS=1    print the proxy's and the mock's logs when the fixture stops

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpRequest, startMock, stopChild } from './mock.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const E2E_DIR = path.resolve(here, '..');
export const DIRECT = process.env.E2E_DIRECT === '1';
export const CCPROXY_BIN = process.env.CCPROXY_BIN
    ? path.resolve(process.env.CCPROXY_BIN)
    : path.resolve(E2E_DIR, '../../build/ccproxy');
export const API_KEY = 'sk-ant-dummy';
export const HAIKU_UPSTREAM_MODEL = 'mock-haiku-upstream';

const HEALTH_TIMEOUT_MS = 10000;

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

export function makeTempDir(tag) {
    return fs.mkdtempSync(path.join(os.tmpdir(), `ccproxy-e2e-${tag}-`));
}

/**
 * The translated routes of a {translate: true} harness: a client model containing `match`
 * gets the label `label`, whose deployment is `provider/upstreamModel` on the mock (OpenAI
 * under api_base <mock>/v1, Gemini under <mock>), authenticated with `apiKey` (the OpenAI
 * key through os.environ/<keyEnv>, the Gemini one written in the config).
 */
export const TRANSLATE = {
    openai: {
        provider: 'openai',
        dialect: 'openai',
        match: 'via-openai',
        clientModel: 'claude-sonnet-5-5-via-openai',
        label: 'via_openai',
        upstreamModel: 'gpt-mock',
        apiKey: 'sk-mock-openai-key',
        keyEnv: 'MOCK_OPENAI_API_KEY',
    },
    gemini: {
        provider: 'gemini',
        dialect: 'gemini',
        match: 'via-gemini',
        clientModel: 'claude-sonnet-5-5-via-gemini',
        label: 'via_gemini',
        upstreamModel: 'gemini-mock',
        apiKey: 'mock-gemini-key',
        keyEnv: null,
    },
};

/** Environment the proxy needs for the config of configFiles(..., {translate: true}). */
export function translateEnv() {
    const env = {};
    for (const t of Object.values(TRANSLATE)) if (t.keyEnv) env[t.keyEnv] = t.apiKey;
    return env;
}

/**
 * The ccproxy.yaml and config.yaml of the e2e deployment, as text. opts.translate adds the
 * rules and deployments of TRANSLATE (before the background rule); opts.fallback makes
 * "claude-*" fall back to mock-haiku (router_settings.fallbacks); opts.extraHooks are more
 * hook modules, after the others.
 */
export function configFiles(proxyPort, mockUrl, opts = {}) {
    const o = TRANSLATE.openai;
    const g = TRANSLATE.gemini;
    const translateRules = !opts.translate
        ? ''
        : `    - name: ${o.label}
      rule: ccproxy.rules.MatchModelRule
      params:
        - model_name: ${o.match}
    - name: ${g.label}
      rule: ccproxy.rules.MatchModelRule
      params:
        - model_name: ${g.match}
`;
    const translateModels = !opts.translate
        ? ''
        : `  - model_name: ${o.label}
    litellm_params:
      model: ${o.provider}/${o.upstreamModel}
      api_base: ${mockUrl}/v1
      api_key: os.environ/${o.keyEnv}
  - model_name: ${g.label}
    litellm_params:
      model: ${g.provider}/${g.upstreamModel}
      api_base: ${mockUrl}
      api_key: ${g.apiKey}
`;
    const ccproxyYaml = `ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
    - ccproxy.hooks.forward_apikey
${(opts.extraHooks || []).map((hk) => `    - ${hk}\n`).join('')}  default_model_passthrough: true
  rules:
${translateRules}    - name: background
      rule: ccproxy.rules.MatchModelRule
      params:
        - model_name: haiku
litellm:
  host: 127.0.0.1
  port: ${proxyPort}
`;
    const configYaml = `model_list:
${translateModels}  - model_name: background
    litellm_params:
      model: mock-haiku
  - model_name: mock-haiku
    litellm_params:
      model: anthropic/${HAIKU_UPSTREAM_MODEL}
      api_base: ${mockUrl}
  - model_name: "claude-*"
    litellm_params:
      model: "anthropic/*"
      api_base: ${mockUrl}
  - model_name: default
    litellm_params:
      model: claude-sonnet-5-5
${opts.fallback ? 'router_settings:\n  fallbacks: [{"claude-*": [mock-haiku]}]\n' : ''}`;
    return { 'ccproxy.yaml': ccproxyYaml, 'config.yaml': configYaml };
}

/** process.env without anything that could send a client elsewhere or change its auth. */
export function cleanEnv(extra = {}) {
    const env = {};
    for (const [k, v] of Object.entries(process.env)) {
        if (/^(ANTHROPIC_|CLAUDE_|CLAUDECODE|OPENAI_|CCPROXY_)/.test(k)) continue;
        if (/^(https?_proxy|all_proxy|no_proxy)$/i.test(k)) continue;
        if (k === 'PORT' || k === 'HOST') continue;
        env[k] = v;
    }
    env.NO_PROXY = '127.0.0.1,localhost,::1';
    return { ...env, ...extra };
}

/** The Claude Code native binary under a node_modules dir, or null. */
export function claudeBinaryIn(nm) {
    const candidates = [path.join(nm, '.bin', 'claude')];
    const plat = `${process.platform}-${process.arch}`;
    for (const suffix of ['', '-musl']) {
        candidates.push(path.join(nm, '@anthropic-ai', `claude-code-${plat}${suffix}`, 'claude'));
    }
    for (const c of candidates) {
        try {
            /* Without its postinstall the package's bin is a small shell stub that only prints an
             * error; the real binary is hundreds of megabytes. */
            if (fs.statSync(c).size > 1024 * 1024) return c;
        } catch {
            /* not there: try the next one */
        }
    }
    return null;
}

/** The Claude Code native binary: $CLAUDE_BIN, node_modules/.bin/claude, or the platform package. */
export function claudeBinary() {
    if (process.env.CLAUDE_BIN) return process.env.CLAUDE_BIN;
    const nm = path.join(E2E_DIR, 'node_modules');
    const found = claudeBinaryIn(nm);
    if (found) return found;
    throw new Error(
        `Claude Code binary not found under ${nm}: run 'npm ci' in ${E2E_DIR} or set CLAUDE_BIN`,
    );
}

/** Runs a command to completion; resolves {code, signal, stdout, stderr, ms}. */
export function runCommand(cmd, args, { env, cwd, timeoutMs = 90000 } = {}) {
    const started = Date.now();
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        let timedOut = false;
        child.stdout.on('data', (d) => {
            stdout += d;
        });
        child.stderr.on('data', (d) => {
            stderr += d;
        });
        const timer = setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
        }, timeoutMs);
        child.on('error', (err) => {
            clearTimeout(timer);
            reject(new Error(`cannot run ${cmd}: ${err.message}`));
        });
        child.on('close', (code, signal) => {
            clearTimeout(timer);
            const ms = Date.now() - started;
            if (timedOut) stderr += `\n[e2e] killed after ${timeoutMs} ms timeout\n`;
            resolve({ code, signal, stdout, stderr, ms, timedOut });
        });
    });
}

class Harness {
    /** opts: translate (add TRANSLATE's routes), proxyEnv (more environment for the proxy). */
    constructor(opts = {}) {
        this.opts = opts;
        this.direct = DIRECT;
        this.mock = null;
        this.proxy = null;
        this.proxyPort = null;
        this.proxyOutput = '';
        this.configDir = null;
        this.tempDirs = [];
    }

    /** Where clients send requests: the proxy, or the mock in direct mode. */
    get baseURL() {
        return this.direct ? this.mock.url : `http://127.0.0.1:${this.proxyPort}`;
    }

    async start() {
        this.mock = await startMock();
        if (this.direct) return this;
        if (!fs.existsSync(CCPROXY_BIN)) {
            throw new Error(
                `ccproxy binary not found at ${CCPROXY_BIN}: build it, set CCPROXY_BIN, ` +
                    'or run with E2E_DIRECT=1 to test against the mock alone',
            );
        }
        this.configDir = this.tempDir('config');
        this.proxyPort = await freePort();
        const files = configFiles(this.proxyPort, this.mock.url, this.opts);
        for (const [name, text] of Object.entries(files)) {
            fs.writeFileSync(path.join(this.configDir, name), text);
        }
        this.proxyEnv = {
            ...(this.opts.translate ? translateEnv() : {}),
            ...(this.opts.proxyEnv || {}),
            PORT: String(this.proxyPort),
        };
        this.proxy = spawn(CCPROXY_BIN, ['--config-dir', this.configDir, 'start'], {
            env: cleanEnv(this.proxyEnv),
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        this.proxy.stdout.on('data', (d) => {
            this.proxyOutput += d;
        });
        this.proxy.stderr.on('data', (d) => {
            this.proxyOutput += d;
        });
        await this.waitHealthy();
        return this;
    }

    async waitHealthy() {
        const deadline = Date.now() + HEALTH_TIMEOUT_MS;
        let last = 'no answer yet';
        while (Date.now() < deadline) {
            if (this.proxy.exitCode !== null || this.proxy.signalCode !== null) {
                throw new Error(
                    `ccproxy exited (code ${this.proxy.exitCode}, signal ${this.proxy.signalCode}) ` +
                        `before /health answered; its output:\n${this.proxyOutput}`,
                );
            }
            try {
                const res = await httpRequest(`${this.baseURL}/health`, { timeoutMs: 1000 });
                if (res.status === 200) return;
                last = `status ${res.status}`;
            } catch (err) {
                last = err.message;
            }
            await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(
            `ccproxy did not answer GET /health with 200 within ${HEALTH_TIMEOUT_MS} ms ` +
                `(last: ${last}); its output:\n${this.proxyOutput}`,
        );
    }

    tempDir(tag) {
        const d = makeTempDir(tag);
        this.tempDirs.push(d);
        return d;
    }

    /**
     * Runs Claude Code in print mode with a fresh HOME and cwd, through `ccproxy run` (or
     * straight at the mock in direct mode). Resolves {code, signal, stdout, stderr, ms}.
     */
    async runClaude(args, { timeoutMs = 90000, env = {} } = {}) {
        const home = this.tempDir('home');
        const cwd = this.tempDir('cwd');
        fs.writeFileSync(
            path.join(home, '.claude.json'),
            JSON.stringify({ hasCompletedOnboarding: true }),
        );
        const claude = claudeBinary();
        const base = {
            HOME: home,
            ANTHROPIC_API_KEY: API_KEY,
            DISABLE_TELEMETRY: '1',
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        };
        if (this.direct) {
            return runCommand(claude, args, {
                env: cleanEnv({ ...base, ANTHROPIC_BASE_URL: this.mock.url, ...env }),
                cwd,
                timeoutMs,
            });
        }
        return runCommand(CCPROXY_BIN, ['--config-dir', this.configDir, 'run', claude, ...args], {
            env: cleanEnv({ ...base, ...this.proxyEnv, ...env }),
            cwd,
            timeoutMs,
        });
    }

    /** Text to attach to a failed assertion: the proxy's and the mock's logs. */
    diagnostics() {
        let state = 'not started';
        if (this.proxy) {
            const { exitCode, signalCode } = this.proxy;
            state =
                exitCode === null && signalCode === null
                    ? 'running'
                    : `exited (code ${exitCode}, signal ${signalCode})`;
        }
        return (
            `--- ccproxy (${state}) output ---\n${this.proxyOutput}\n` +
            `--- mock stderr ---\n${this.mock ? this.mock.stderr : ''}`
        );
    }

    async stop() {
        if (process.env.E2E_LOGS === '1') process.stderr.write(this.diagnostics() + '\n');
        await stopChild(this.proxy);
        if (this.mock) await this.mock.stop();
        if (process.env.E2E_KEEP_TMP === '1') return;
        for (const d of this.tempDirs) fs.rmSync(d, { recursive: true, force: true });
    }
}

/**
 * Starts the mock (and the proxy unless E2E_DIRECT=1); call stop() on the result when done.
 * opts: translate (also route TRANSLATE's labels to OpenAI and Gemini deployments on the
 * mock), fallback (see configFiles), proxyEnv (more environment for the proxy).
 */
export async function startHarness(opts = {}) {
    const h = new Harness(opts);
    try {
        return await h.start();
    } catch (err) {
        await h.stop();
        throw err;
    }
}
