#!/usr/bin/env node
// spec/support/mock_upstream.mjs: a mock Anthropic Messages API upstream for the functional
// (busted) and end-to-end (node) specs. Node built-ins only. Everything is controlled over HTTP
// so any test language can drive it:
//
//   node spec/support/mock_upstream.mjs [--port 0] [--host 127.0.0.1]
//                                       [--tls-cert FILE --tls-key FILE] [--verbose]
//
// Prints one line {"port":N,"tls":bool} on stdout once listening; runs until SIGTERM/SIGINT.
//
// API endpoints (any query string):
//   POST /v1/messages               answered by the next scripted step, else "Tool said: ..." when
//                                   the last user message holds tool_result blocks, else MOCK:
//                                   directives in the last user message, else "Hello from mock".
//   POST /v1/messages/count_tokens  next scripted step, else {"input_tokens": floor(bytes / 4)}.
//   GET  /v1/models                 a small fixed model list.
// Control endpoints (JSON):
//   POST /__mock/script  {"steps":[...]}    append steps (FIFO, one per API request)
//   POST /__mock/reset   [{"close_connections":true}]  clear steps, records and stats
//   GET  /__mock/requests                   every API request since the last reset
//   GET  /__mock/stats                      connection and request counters
// Stats: connections (TCP connections accepted since the last reset), open_connections (open
// now), requests, aborted (the client closed before the answer was complete). Connections whose
// first request is a control request are not counted, so a test polling the control API does not
// disturb connection-reuse assertions.
//
// Directives, one per line of the last user message's text, combinable: MOCK:text <words>,
// MOCK:thinking <words>, MOCK:tool_use <Name> <json-input>, MOCK:error <status> [<type>],
// MOCK:slow <ms between events>.
//
// Step fields (all optional, combine freely): text, tool_use [{name, input, id?}], thinking,
// signature, stop_reason, usage {...}, status + error {type, message}, error_in_stream,
// headers {...}, delay_ms, event_delay_ms, hang, close_after_events, gzip, count_tokens,
// endpoint ("messages" | "count_tokens": the step waits for that kind of request),
// raw {status, headers, body | body_base64}.

import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

const DEFAULT_TEXT = 'Hello from mock';

const ERROR_TYPES = {
    400: 'invalid_request_error',
    401: 'authentication_error',
    403: 'permission_error',
    404: 'not_found_error',
    413: 'request_too_large',
    429: 'rate_limit_error',
    500: 'api_error',
    529: 'overloaded_error',
};

/* ---------------------------------------------------------------- command line */

function parseArgs(argv) {
    const opts = { port: 0, host: '127.0.0.1', tlsCert: null, tlsKey: null, verbose: false };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const next = () => {
            if (i + 1 >= argv.length) usage(`option ${a} needs a value`);
            return argv[++i];
        };
        if (a === '--port') opts.port = Number(next());
        else if (a === '--host') opts.host = next();
        else if (a === '--tls-cert') opts.tlsCert = next();
        else if (a === '--tls-key') opts.tlsKey = next();
        else if (a === '--verbose') opts.verbose = true;
        else if (a === '--help' || a === '-h') usage(null);
        else usage(`unknown argument '${a}'`);
    }
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535)
        usage('--port must be an integer between 0 and 65535');
    if (!!opts.tlsCert !== !!opts.tlsKey) usage('--tls-cert and --tls-key must be given together');
    return opts;
}

function usage(problem) {
    const text =
        'usage: node mock_upstream.mjs [--port N] [--host ADDR] ' +
        '[--tls-cert FILE --tls-key FILE] [--verbose]\n';
    if (problem) {
        process.stderr.write(`mock_upstream: ${problem}\n${text}`);
        process.exit(2);
    }
    process.stdout.write(text);
    process.exit(0);
}

/* ---------------------------------------------------------------- state */

const state = {
    steps: [],
    records: [],
    nextRequest: 1,
    stats: { connections: 0, open_connections: 0, requests: 0, aborted: 0 },
    epoch: 0, // bumped by reset; sockets accepted in an older epoch are not counted again
    sockets: new Set(),
};

function resetState(closeConnections) {
    state.steps = [];
    state.records = [];
    state.nextRequest = 1;
    state.epoch++;
    state.stats.connections = 0;
    state.stats.requests = 0;
    state.stats.aborted = 0;
    if (closeConnections) {
        for (const s of state.sockets) if (s.mockKind !== 'control') s.destroy();
    }
}

function onSocket(socket) {
    socket.setNoDelay(true);
    socket.mockKind = 'unknown'; // becomes 'api' or 'control' on its first request
    socket.mockEpoch = state.epoch;
    state.sockets.add(socket);
    state.stats.connections++;
    state.stats.open_connections++;
    socket.on('close', () => {
        state.sockets.delete(socket);
        if (socket.mockKind !== 'control') state.stats.open_connections--;
    });
}

function classifySocket(socket, kind) {
    if (socket.mockKind !== 'unknown') return;
    socket.mockKind = kind;
    if (kind === 'control') {
        state.stats.open_connections--;
        if (socket.mockEpoch === state.epoch) state.stats.connections--;
    }
}

/* ---------------------------------------------------------------- helpers */

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const hex = (n) => randomBytes(n).toString('hex');

function readBody(req) {
    return new Promise((resolve) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => resolve(Buffer.concat(chunks)));
        req.on('error', () => resolve(Buffer.concat(chunks)));
        req.on('close', () => resolve(Buffer.concat(chunks)));
    });
}

function sendJson(res, status, value, extraHeaders = {}) {
    const body = Buffer.from(JSON.stringify(value));
    res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': body.length,
        ...extraHeaders,
    });
    res.end(body);
}

function errorBody(type, message) {
    return { type: 'error', error: { type, message } };
}

function acceptsGzip(req) {
    const header = req.headers['accept-encoding'];
    if (!header) return false;
    for (const part of header.split(',')) {
        const [token, ...params] = part.trim().toLowerCase().split(';');
        if (token !== 'gzip' && token !== '*') continue;
        const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
        if (!q || Number(q.slice(2)) > 0) return true;
    }
    return false;
}

/** Splits s into `parts` non-empty pieces on code point boundaries (fewer when s is short). */
function splitPieces(s, parts) {
    const chars = Array.from(s);
    const n = Math.min(parts, chars.length);
    if (n <= 1) return [s];
    const out = [];
    let start = 0;
    for (let i = 1; i <= n; i++) {
        const end = i === n ? chars.length : Math.round((chars.length * i) / n);
        out.push(chars.slice(start, end).join(''));
        start = end;
    }
    return out;
}

/* ---------------------------------------------------------------- deciding the answer */

function blockText(content) {
    if (typeof content === 'string') return content;
    if (!Array.isArray(content)) return '';
    return content
        .filter((b) => b && b.type === 'text' && typeof b.text === 'string')
        .map((b) => b.text)
        .join('\n');
}

function lastUserMessage(body) {
    const messages = Array.isArray(body && body.messages) ? body.messages : [];
    for (let i = messages.length - 1; i >= 0; i--) {
        if (messages[i] && messages[i].role === 'user') return messages[i];
    }
    return null;
}

/** Returns the step implied by the request body: tool results, MOCK: directives or default. */
function stepFromBody(body) {
    const msg = lastUserMessage(body);
    if (!msg) return { text: DEFAULT_TEXT };
    const content = msg.content;
    if (Array.isArray(content)) {
        const results = content.filter((b) => b && b.type === 'tool_result');
        if (results.length > 0) {
            return { text: 'Tool said: ' + results.map((r) => blockText(r.content)).join('; ') };
        }
    }
    const step = {};
    for (const line of blockText(content).split('\n')) {
        const m = /^\s*MOCK:([a-z_]+)(?:\s+(.*))?$/.exec(line);
        if (!m) continue;
        const arg = (m[2] || '').trim();
        try {
            applyDirective(step, m[1], arg);
        } catch (err) {
            return { text: `mock directive error in '${line.trim()}': ${err.message}` };
        }
    }
    return step;
}

function applyDirective(step, name, arg) {
    switch (name) {
        case 'text':
            step.text = step.text ? `${step.text}\n${arg}` : arg;
            break;
        case 'thinking':
            step.thinking = step.thinking ? `${step.thinking}\n${arg}` : arg;
            break;
        case 'tool_use': {
            const m = /^(\S+)\s*(.*)$/.exec(arg);
            if (!m) throw new Error('expected MOCK:tool_use <Name> <json-input>');
            const input = m[2] ? JSON.parse(m[2]) : {};
            (step.tool_use ||= []).push({ name: m[1], input });
            break;
        }
        case 'error': {
            const [status, type] = arg.split(/\s+/);
            const code = Number(status);
            if (!Number.isInteger(code) || code < 100 || code > 599)
                throw new Error('expected MOCK:error <status> [<error type>]');
            step.status = code;
            step.error = {
                type: type || ERROR_TYPES[code] || 'api_error',
                message: `Mock error ${code}`,
            };
            break;
        }
        case 'slow': {
            const ms = Number(arg);
            if (!Number.isFinite(ms) || ms < 0) throw new Error('expected MOCK:slow <ms>');
            step.event_delay_ms = ms;
            break;
        }
        default:
            throw new Error(`unknown directive MOCK:${name}`);
    }
}

function takeStep(endpoint) {
    const i = state.steps.findIndex((s) => !s.endpoint || s.endpoint === endpoint);
    if (i < 0) return null;
    return state.steps.splice(i, 1)[0];
}

/** Builds the assistant message (content blocks, stop reason, usage) for a step. */
function buildMessage(step, model, inputTokens) {
    const content = [];
    if (step.thinking !== undefined) {
        content.push({
            type: 'thinking',
            thinking: String(step.thinking),
            signature: step.signature || `mock-signature-${hex(16)}`,
        });
    }
    const tools = Array.isArray(step.tool_use) ? step.tool_use : [];
    let text = step.text;
    if (text === undefined && tools.length === 0) text = DEFAULT_TEXT;
    if (text !== undefined && text !== '') content.push({ type: 'text', text: String(text) });
    for (const t of tools) {
        content.push({
            type: 'tool_use',
            id: t.id || `toolu_mock_${hex(10)}`,
            name: t.name,
            input: t.input === undefined ? {} : t.input,
        });
    }
    const outChars = content.reduce(
        (n, b) => n + (b.text || b.thinking || JSON.stringify(b.input || '')).length,
        0,
    );
    return {
        id: `msg_mock_${hex(12)}`,
        type: 'message',
        role: 'assistant',
        model,
        content,
        stop_reason: step.stop_reason || (tools.length > 0 ? 'tool_use' : 'end_turn'),
        stop_sequence: null,
        usage: {
            input_tokens: inputTokens,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
            output_tokens: Math.max(1, Math.ceil(outChars / 4)),
            ...(step.usage || {}),
        },
    };
}

/** The Anthropic SSE event sequence for a finished message. */
function streamEvents(message) {
    const events = [];
    const ev = (type, data) => events.push({ type, data: { type, ...data } });
    const startUsage = { ...message.usage, output_tokens: 1 };
    ev('message_start', {
        message: { ...message, content: [], stop_reason: null, usage: startUsage },
    });
    ev('ping', {});
    message.content.forEach((block, index) => {
        if (block.type === 'thinking') {
            ev('content_block_start', {
                index,
                content_block: { type: 'thinking', thinking: '', signature: '' },
            });
            for (const piece of splitPieces(block.thinking, 3))
                ev('content_block_delta', {
                    index,
                    delta: { type: 'thinking_delta', thinking: piece },
                });
            ev('content_block_delta', {
                index,
                delta: { type: 'signature_delta', signature: block.signature },
            });
        } else if (block.type === 'text') {
            ev('content_block_start', { index, content_block: { type: 'text', text: '' } });
            for (const piece of splitPieces(block.text, 3))
                ev('content_block_delta', { index, delta: { type: 'text_delta', text: piece } });
        } else if (block.type === 'tool_use') {
            ev('content_block_start', {
                index,
                content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
            });
            for (const piece of ['', ...splitPieces(JSON.stringify(block.input), 3)])
                ev('content_block_delta', {
                    index,
                    delta: { type: 'input_json_delta', partial_json: piece },
                });
        }
        ev('content_block_stop', { index });
    });
    ev('message_delta', {
        delta: { stop_reason: message.stop_reason, stop_sequence: null },
        usage: message.usage,
    });
    ev('message_stop', {});
    return events;
}

const sseChunk = (e) => `event: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`;

/* ---------------------------------------------------------------- responding */

/** Wraps a streamed response so writes optionally go through gzip, one flush per write. */
function makeWriter(res, gzip) {
    if (!gzip) {
        return {
            write: (chunk) => new Promise((resolve) => res.write(chunk, () => resolve())),
            end: () => new Promise((resolve) => res.end(() => resolve())),
        };
    }
    const gz = zlib.createGzip();
    gz.on('data', (d) => res.write(d));
    gz.on('end', () => res.end());
    gz.on('error', () => res.destroy());
    return {
        write: (chunk) =>
            new Promise((resolve) => {
                gz.write(chunk);
                gz.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve());
            }),
        end: () =>
            new Promise((resolve) => {
                res.once('finish', resolve);
                res.once('close', resolve);
                gz.end();
            }),
    };
}

/** Sends a complete JSON body with a content-length, gzipped when asked. */
function sendWhole(res, status, headers, text, gzip) {
    const body = gzip ? zlib.gzipSync(text) : Buffer.from(text);
    return new Promise((resolve) => {
        res.writeHead(status, {
            'content-type': 'application/json',
            ...headers,
            'content-length': body.length,
        });
        res.end(body, () => resolve());
    });
}

// A response queued behind another on a kept-alive connection has no socket yet: that is
// not a client that went away.
function isGone(res) {
    return res.destroyed || (res.socket !== null && res.socket.destroyed);
}

async function respond(req, res, rec, step, endpoint, body, bodyBytes) {
    const headers = { 'x-mock-request-id': String(rec.n), 'request-id': `req_mock_${rec.n}` };
    Object.assign(headers, step.headers || {});

    if (step.delay_ms) await sleep(step.delay_ms);
    if (isGone(res)) return;
    if (step.hang) return; // keep the request open until the client gives up
    if (step.close_after_events === 0) {
        rec.selfClosed = true;
        req.socket.destroy();
        return;
    }

    if (step.raw) {
        const raw = step.raw;
        let payload = Buffer.alloc(0);
        if (raw.body_base64 !== undefined) payload = Buffer.from(raw.body_base64, 'base64');
        else if (typeof raw.body === 'string') payload = Buffer.from(raw.body);
        else if (raw.body !== undefined) payload = Buffer.from(JSON.stringify(raw.body));
        rec.status = raw.status || 200;
        res.writeHead(rec.status, { ...headers, ...(raw.headers || {}) });
        res.end(payload);
        return;
    }

    const gzip = !!step.gzip && acceptsGzip(req);
    if (gzip) {
        headers['content-encoding'] = 'gzip';
        headers['vary'] = 'accept-encoding';
    }
    const stream = endpoint === 'messages' && body.stream === true;

    if (step.status && step.status >= 400 && !(stream && step.error_in_stream)) {
        const err = step.error || {};
        const payload = JSON.stringify(
            errorBody(
                err.type || ERROR_TYPES[step.status] || 'api_error',
                err.message || `Mock error ${step.status}`,
            ),
        );
        rec.status = step.status;
        await sendWhole(res, step.status, headers, payload, gzip);
        return;
    }

    const inputTokens = Math.max(1, Math.floor(bodyBytes / 4));
    let payload;
    if (endpoint === 'count_tokens') {
        payload = {
            input_tokens: step.count_tokens !== undefined ? step.count_tokens : inputTokens,
        };
    } else if (endpoint === 'models') {
        payload = modelList();
    } else if (!stream) {
        payload = buildMessage(step, body.model, inputTokens);
    }
    if (payload !== undefined) {
        rec.status = step.status || 200;
        await sendWhole(res, rec.status, headers, JSON.stringify(payload), gzip);
        return;
    }

    /* Streaming. */
    let events = streamEvents(buildMessage(step, body.model, inputTokens));
    if (step.error_in_stream) {
        const err = step.error || {};
        events = events.slice(0, 4); // message_start, ping, content_block_start, one delta
        events.push({
            type: 'error',
            data: errorBody(
                err.type || ERROR_TYPES[step.status] || 'overloaded_error',
                err.message || 'Overloaded',
            ),
        });
    }
    rec.status = 200;
    res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        ...headers,
    });
    const writer = makeWriter(res, gzip);
    const eventDelay = step.event_delay_ms || 0;
    for (let i = 0; i < events.length; i++) {
        if (i > 0 && eventDelay) await sleep(eventDelay);
        if (isGone(res)) return;
        await writer.write(sseChunk(events[i]));
        if (step.close_after_events !== undefined && i + 1 >= step.close_after_events) {
            rec.selfClosed = true;
            req.socket.destroy();
            return;
        }
    }
    if (!isGone(res)) await writer.end();
}

function modelList() {
    const ids = ['claude-opus-5-5', 'claude-sonnet-5-5', 'claude-haiku-5-5'];
    const data = ids.map((id) => ({
        type: 'model',
        id,
        display_name: id,
        created_at: '2026-01-01T00:00:00Z',
    }));
    return { data, has_more: false, first_id: ids[0], last_id: ids[ids.length - 1] };
}

/* ---------------------------------------------------------------- routing */

async function handleControl(req, res, path) {
    classifySocket(req.socket, 'control');
    const raw = await readBody(req);
    let body = {};
    if (raw.length > 0) {
        try {
            body = JSON.parse(raw.toString('utf8'));
        } catch (err) {
            sendJson(res, 400, { error: `control body is not JSON: ${err.message}` });
            return;
        }
    }
    if (req.method === 'POST' && path === '/__mock/script') {
        if (!body || !Array.isArray(body.steps)) {
            sendJson(res, 400, { error: 'POST /__mock/script expects {"steps": [...]}' });
            return;
        }
        for (const s of body.steps) {
            if (!s || typeof s !== 'object' || Array.isArray(s)) {
                sendJson(res, 400, { error: 'every step must be a JSON object' });
                return;
            }
        }
        state.steps.push(...body.steps);
        sendJson(res, 200, { queued: state.steps.length });
    } else if (req.method === 'POST' && path === '/__mock/reset') {
        resetState(!!(body && body.close_connections));
        sendJson(res, 200, { ok: true });
    } else if (req.method === 'GET' && path === '/__mock/requests') {
        sendJson(res, 200, state.records.map(publicRecord));
    } else if (req.method === 'GET' && path === '/__mock/stats') {
        sendJson(res, 200, { ...state.stats, pending_steps: state.steps.length });
    } else {
        sendJson(res, 404, { error: `unknown control endpoint ${req.method} ${path}` });
    }
}

function publicRecord(r) {
    return {
        n: r.n,
        method: r.method,
        path: r.path,
        headers: r.headers,
        body: r.body,
        status: r.status,
        completed: r.completed,
        aborted: r.aborted,
    };
}

function endpointOf(method, path) {
    if (method === 'POST' && path === '/v1/messages') return 'messages';
    if (method === 'POST' && path === '/v1/messages/count_tokens') return 'count_tokens';
    if (method === 'GET' && path === '/v1/models') return 'models';
    return null;
}

async function handleApi(req, res, path, verbose) {
    classifySocket(req.socket, 'api');
    state.stats.requests++;
    const rec = {
        n: state.nextRequest++,
        method: req.method,
        path: req.url,
        headers: [],
        body: '',
        status: null,
        completed: false,
        aborted: false,
        selfClosed: false,
    };
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2)
        rec.headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
    state.records.push(rec);
    const epoch = state.epoch;
    res.on('finish', () => {
        rec.completed = true;
    });
    res.on('close', () => {
        if (!rec.completed && !rec.selfClosed) {
            rec.aborted = true;
            if (epoch === state.epoch) state.stats.aborted++;
        }
    });

    const raw = await readBody(req);
    rec.body = raw.toString('utf8');
    if (verbose)
        process.stderr.write(
            `mock_upstream: #${rec.n} ${req.method} ${req.url} ${raw.length} bytes\n`,
        );
    if (isGone(res)) return;

    const endpoint = endpointOf(req.method, path);
    if (!endpoint) {
        rec.status = 404;
        sendJson(
            res,
            404,
            errorBody('not_found_error', `mock upstream has no ${req.method} ${path}`),
            {
                'x-mock-request-id': String(rec.n),
            },
        );
        return;
    }
    let body = {};
    if (req.method === 'POST') {
        try {
            body = JSON.parse(rec.body);
        } catch (err) {
            rec.status = 400;
            sendJson(
                res,
                400,
                errorBody('invalid_request_error', `request body is not JSON: ${err.message}`),
                {
                    'x-mock-request-id': String(rec.n),
                },
            );
            return;
        }
    }
    let step = endpoint === 'models' ? null : takeStep(endpoint);
    if (!step) step = endpoint === 'messages' ? stepFromBody(body) : {};
    try {
        await respond(req, res, rec, step, endpoint, body || {}, raw.length);
    } catch (err) {
        process.stderr.write(`mock_upstream: failed answering #${rec.n}: ${err.stack || err}\n`);
        if (!res.headersSent)
            sendJson(res, 500, errorBody('api_error', `mock failure: ${err.message}`));
        else res.destroy();
    }
}

/* ---------------------------------------------------------------- main */

function main() {
    const opts = parseArgs(process.argv.slice(2));
    const tls = !!opts.tlsCert;
    const handler = (req, res) => {
        const path = req.url.split('?')[0];
        const work = path.startsWith('/__mock/')
            ? handleControl(req, res, path)
            : handleApi(req, res, path, opts.verbose);
        work.catch((err) => {
            process.stderr.write(`mock_upstream: ${err.stack || err}\n`);
            res.destroy();
        });
    };
    let server;
    if (tls) {
        let cert, key;
        try {
            cert = readFileSync(opts.tlsCert);
            key = readFileSync(opts.tlsKey);
        } catch (err) {
            process.stderr.write(`mock_upstream: cannot read TLS files: ${err.message}\n`);
            process.exit(2);
        }
        server = https.createServer({ cert, key }, handler);
        server.on('secureConnection', onSocket);
    } else {
        server = http.createServer(handler);
        server.on('connection', onSocket);
    }
    server.keepAliveTimeout = 30000;
    server.headersTimeout = 60000;
    server.requestTimeout = 0;
    server.on('clientError', (err, socket) => {
        if (opts.verbose) process.stderr.write(`mock_upstream: client error: ${err.message}\n`);
        if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
        else socket.destroy();
    });
    server.on('error', (err) => {
        process.stderr.write(
            `mock_upstream: cannot listen on ${opts.host}:${opts.port}: ${err.message}\n`,
        );
        process.exit(1);
    });
    server.listen(opts.port, opts.host, () => {
        process.stdout.write(JSON.stringify({ port: server.address().port, tls }) + '\n');
    });
    const stop = () => {
        server.close(() => process.exit(0));
        for (const s of state.sockets) s.destroy();
        setTimeout(() => process.exit(0), 1000).unref();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
}

main();
