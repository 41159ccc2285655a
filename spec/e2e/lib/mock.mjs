// spec/e2e/lib/mock.mjs: starts spec/support/mock_upstream.mjs as a child process and wraps its
// HTTP control API (/__mock/script, /__mock/reset, /__mock/requests, /__mock/stats).

import { spawn } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const MOCK_SCRIPT = path.resolve(here, '../../support/mock_upstream.mjs');

/** One HTTP(S) request; resolves {status, headers, body: Buffer}. */
export function httpRequest(
    url,
    { method = 'GET', headers = {}, body, ca, agent = false, timeoutMs = 10000 } = {},
) {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
        const req = mod.request(u, { method, headers, ca, agent, timeout: timeoutMs }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () =>
                resolve({
                    status: res.statusCode,
                    headers: res.headers,
                    body: Buffer.concat(chunks),
                }),
            );
            res.on('error', reject);
        });
        req.on('timeout', () =>
            req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)),
        );
        req.on('error', reject);
        req.end(body);
    });
}

/** Reads the first line a child prints on stdout, failing if it exits or stays silent. */
function firstLine(child, what, timeoutMs) {
    return new Promise((resolve, reject) => {
        let out = '';
        let err = '';
        const timer = setTimeout(
            () => finish(new Error(`${what} printed nothing within ${timeoutMs} ms\n${err}`)),
            timeoutMs,
        );
        const onData = (d) => {
            out += d;
            const nl = out.indexOf('\n');
            if (nl >= 0) finish(null, out.slice(0, nl));
        };
        const onErr = (d) => {
            err += d;
        };
        const onExit = (code, signal) =>
            finish(
                new Error(
                    `${what} exited (code ${code}, signal ${signal}) before it was ready\n${err}`,
                ),
            );
        function finish(e, line) {
            clearTimeout(timer);
            child.stdout.off('data', onData);
            child.stderr.off('data', onErr);
            child.off('exit', onExit);
            if (e) reject(e);
            else resolve(line);
        }
        child.stdout.on('data', onData);
        child.stderr.on('data', onErr);
        child.on('exit', onExit);
    });
}

/** Stops a child with SIGTERM, then SIGKILL after graceMs; resolves when it has exited. */
export function stopChild(child, graceMs = 5000) {
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        child.once('exit', () => {
            clearTimeout(timer);
            resolve();
        });
        child.kill('SIGTERM');
    });
}

export class MockUpstream {
    constructor(child, port, tls, ca) {
        this.child = child;
        this.port = port;
        this.tls = tls;
        this.ca = ca;
        this.url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
        this.stderr = '';
        child.stdout.resume();
        child.stderr.on('data', (d) => {
            this.stderr += d;
        });
    }

    async control(method, p, value) {
        const body = value === undefined ? undefined : JSON.stringify(value);
        const headers = body === undefined ? {} : { 'content-type': 'application/json' };
        const res = await httpRequest(this.url + p, { method, headers, body, ca: this.ca });
        const text = res.body.toString('utf8');
        if (res.status !== 200)
            throw new Error(`mock ${method} ${p} answered ${res.status}: ${text}`);
        return JSON.parse(text);
    }

    /** Appends scripted steps (consumed one per API request, in order). */
    script(...steps) {
        return this.control('POST', '/__mock/script', { steps: steps.flat() });
    }

    /** Clears steps, records and counters; closeConnections also drops open API sockets. */
    reset({ closeConnections = false } = {}) {
        return this.control(
            'POST',
            '/__mock/reset',
            closeConnections ? { close_connections: true } : {},
        );
    }

    requests() {
        return this.control('GET', '/__mock/requests');
    }

    stats() {
        return this.control('GET', '/__mock/stats');
    }

    stop() {
        return stopChild(this.child);
    }
}

/** Spawns the mock; tls = {cert, key, ca} (file paths, ca as a Buffer or string) for HTTPS. */
export async function startMock({ tls = null, extraArgs = [] } = {}) {
    const args = [MOCK_SCRIPT, '--port', '0', '--host', '127.0.0.1', ...extraArgs];
    if (tls) args.push('--tls-cert', tls.cert, '--tls-key', tls.key);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let line;
    try {
        line = await firstLine(child, 'mock upstream', 10000);
    } catch (err) {
        child.kill('SIGKILL');
        throw err;
    }
    const info = JSON.parse(line);
    return new MockUpstream(child, info.port, info.tls, tls ? tls.ca : undefined);
}

/** Header value from a recorded request (case-insensitive, first occurrence), or undefined. */
export function header(record, name) {
    const lower = name.toLowerCase();
    const hit = record.headers.find(([k]) => k.toLowerCase() === lower);
    return hit ? hit[1] : undefined;
}

/** Recorded POST /v1/messages requests (any query string), count_tokens excluded. */
export function messageRequests(records) {
    return records.filter((r) => r.method === 'POST' && r.path.split('?')[0] === '/v1/messages');
}

/** The last message with role "user" in a request body (decoded), or null. */
export function lastUserMessage(body) {
    const messages = (body && body.messages) || [];
    for (let i = messages.length - 1; i >= 0; i--)
        if (messages[i].role === 'user') return messages[i];
    return null;
}
