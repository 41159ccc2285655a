#!/usr/bin/env node
// spec/support/otlp_receiver.mjs: a stand-in for an OpenTelemetry collector's OTLP/HTTP
// receiver, for the functional specs (spec/functional/otel_spec.lua). Node built-ins only.
//
//   node spec/support/otlp_receiver.mjs [--port 0] [--tls-cert FILE --tls-key FILE]
//
// Prints one line {"port":N,"control_port":M} on stdout once listening on 127.0.0.1; runs
// until SIGTERM. With --tls-cert the exports come over HTTPS on `port`; the control endpoints
// are also on `control_port`, always plain HTTP (the same port without TLS).
//   POST <any path but /__otlp/...>   an export: recorded, answered 200 {} (or as set below)
//   GET  /__otlp/requests             every export since the last reset: {method, path,
//                                     headers (lower-case names), body (the parsed JSON, or
//                                     null), raw (the body when it is not JSON)}
//   POST /__otlp/reset                clears the records
//   POST /__otlp/answer {"status":N,"delay_ms":M}   how the next exports are answered
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';

let port = 0;
let cert = null;
let key = null;
for (let i = 2; i < process.argv.length; i++) {
    if (process.argv[i] === '--port') port = Number(process.argv[++i]);
    else if (process.argv[i] === '--tls-cert') cert = readFileSync(process.argv[++i]);
    else if (process.argv[i] === '--tls-key') key = readFileSync(process.argv[++i]);
}

let records = [];
let answer = { status: 200, delay_ms: 0 };

function readBody(req) {
    return new Promise((resolve) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        req.on('error', () => resolve(''));
    });
}

function sendJson(res, status, value) {
    const text = JSON.stringify(value);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
}

async function handle(req, res) {
    const raw = await readBody(req);
    const path = req.url;
    if (path.startsWith('/__otlp/')) {
        if (req.method === 'GET' && path === '/__otlp/requests') return sendJson(res, 200, records);
        if (req.method === 'POST' && path === '/__otlp/reset') {
            records = [];
            answer = { status: 200, delay_ms: 0 };
            return sendJson(res, 200, { ok: true });
        }
        if (req.method === 'POST' && path === '/__otlp/answer') {
            answer = { status: 200, delay_ms: 0, ...JSON.parse(raw || '{}') };
            return sendJson(res, 200, { ok: true });
        }
        return sendJson(res, 404, { error: `no ${req.method} ${path}` });
    }
    let body = null;
    try {
        body = JSON.parse(raw);
    } catch {
        /* kept raw */
    }
    records.push({ method: req.method, path, headers: req.headers, body, raw: body ? null : raw });
    const { status, delay_ms } = answer;
    setTimeout(() => {
        if (!res.destroyed) sendJson(res, status, status === 200 ? {} : { error: 'as asked' });
    }, delay_ms || 0);
}

const server = cert ? https.createServer({ cert, key }, handle) : http.createServer(handle);
const control = cert ? http.createServer(handle) : server;
server.keepAliveTimeout = 30000;
server.listen(port, '127.0.0.1', () => {
    const done = () =>
        process.stdout.write(
            JSON.stringify({ port: server.address().port, control_port: control.address().port }) +
                '\n',
        );
    if (control === server) done();
    else control.listen(0, '127.0.0.1', done);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
