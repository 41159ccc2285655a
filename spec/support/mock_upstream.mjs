#!/usr/bin/env node
// spec/support/mock_upstream.mjs: a mock upstream for the functional (busted) and end-to-end
// (node) specs. It speaks three dialects on one server, chosen by the request path: Anthropic
// Messages, OpenAI Chat Completions and Google Gemini generateContent. Node built-ins only.
// Everything is controlled over HTTP so any test language can drive it:
//
//   node spec/support/mock_upstream.mjs [--port 0] [--host 127.0.0.1]
//                                       [--tls-cert FILE --tls-key FILE] [--verbose]
//
// Prints one line {"port":N,"tls":bool} on stdout once listening; runs until SIGTERM/SIGINT.
//
// API endpoints (any query string):
//   POST /v1/messages               Anthropic. Answered by the next scripted step, else "Tool
//                                   said: ..." when the last user message holds tool_result
//                                   blocks, else MOCK: directives in the last user message, else
//                                   "Hello from mock".
//   POST /v1/messages/count_tokens  next scripted step, else {"input_tokens": floor(bytes / 4)}.
//   GET  /v1/models                 a small fixed model list.
//   POST <any prefix>/chat/completions   OpenAI Chat Completions (e.g. /v1/chat/completions,
//                                   /openai/deployments/X/chat/completions?api-version=...).
//                                   Same scheme; tool results are the role:"tool" messages after
//                                   the last assistant message. Streams when body.stream is true.
//   POST /v1beta/models/{model}:generateContent, :streamGenerateContent (SSE with ?alt=sse, a
//                                   JSON array without), :countTokens ({"totalTokens": N})
//                                   Gemini (also under /v1 and /v1alpha). Same scheme; tool
//                                   results are functionResponse parts after the last model turn.
// The OpenAI and Gemini dialects check requests as their real APIs do (Anthropic-only fields,
// message order, tool call / result pairing, Gemini's schema subset and unknown fields) and
// answer 400 in their own error shape; the record then has `invalid` set to the reason.
// Control endpoints (JSON):
//   POST /__mock/script  {"steps":[...]}    append steps (FIFO, one per API request)
//   POST /__mock/reset   [{"close_connections":true}]  clear steps, records and stats
//   GET  /__mock/requests                   every API request since the last reset
//   GET  /__mock/stats                      connection and request counters
// Records: n, method, path (with query), headers (wire order), body, status, completed,
// aborted, dialect ("anthropic" | "openai" | "gemini"), invalid (null or why it was rejected).
// Stats: connections (TCP connections accepted since the last reset), open_connections (open
// now), requests, aborted (the client closed before the answer was complete). Connections whose
// first request is a control request are not counted, so a test polling the control API does not
// disturb connection-reuse assertions.
//
// Directives, one per line of the last user message's text, combinable: MOCK:text <words>,
// MOCK:thinking <words>, MOCK:tool_use <Name> <json-input>, MOCK:error <status> [<type>],
// MOCK:error_event [<status> [<type>]] (a stream that carries the error as an event; 529),
// MOCK:end_text [<pieces>] (end_after_text: the stream ends cleanly after that many pieces of
// text, 1 by default, at the same point of the answer in every dialect),
// MOCK:slow <ms between events>, MOCK:delay <ms before the answer>, MOCK:hang [<events>],
// MOCK:reset [<events>], MOCK:close [<events>], MOCK:end [<events>] (the hang_after_events,
// reset_after_events, close_after_events and end_after_events fields below).
//
// Step fields (all optional, combine freely): text, tool_use [{name, input, id?}], thinking,
// signature, stop_reason, usage {...}, status + error {type, message}, error_in_stream,
// headers {...}, delay_ms, event_delay_ms, hang, close_after_events, gzip, count_tokens,
// endpoint ("messages" | "count_tokens": the step waits for that kind of request; a Chat
// Completions or generateContent request is "messages"), dialect ("anthropic" | "openai" |
// "gemini": the step waits for a request of that dialect), raw {status, headers, body |
// body_base64}, validate (false: answer even a request the dialect would reject),
// accept_signatures [...] (Anthropic: a request with a thinking or redacted_thinking block whose
// signature is not listed gets Anthropic's 400 "messages.I.content.J: Invalid `signature` in
// `thinking` block", and the step stays queued).
// Misbehaving on purpose: hang_after_events N (a stream: send N frames, then nothing more, the
// connection kept open; N = 0 is `hang`), hang_after_bytes N (a whole answer: its head, with
// the full Content-Length, and its first N bytes, then nothing more), reset_after_events N
// (reset the connection, TCP RST, after N frames of a stream, or before any answer when N = 0),
// close_after_events N (the same with a FIN), end_after_events N (a stream: N frames, then the
// body ends cleanly, its last frames never sent: no message_stop), end_after_text N (the same,
// after the frame with the Nth piece of text, whichever the dialect). A whole answer (no stream)
// with reset_after_events or close_after_events N > 0: its head with the full Content-Length,
// half of its body, then the reset or the close.
// For the OpenAI and Gemini dialects: thinking becomes reasoning_content (DeepSeek style) or
// thought parts; stop_reason maps to finish_reason / finishReason (max_tokens -> length /
// MAX_TOKENS) unless finish_reason is given as the dialect spells it; usage takes Anthropic
// names (input_tokens excludes cache_read_input_tokens, as Anthropic counts) and any native
// names, which are copied as they are; error {type, message, code} for OpenAI, error
// {status, message} for Gemini (type is used as the status when it is upper case).
// OpenAI only: citations [urls] and search_results [{title, url, date}] at the top level of
// every chunk and of the whole answer (Perplexity); tool_use[i].arguments (a raw string sent
// instead of the JSON of input); interleave (false: parallel tool calls one after the other
// instead of interleaved). Gemini only: thought_signature (on the first functionCall part, else
// on the last text part), gemini_call_ids (functionCall parts carry an id, as Gemini 3 sends).
// A request the dialect rejects leaves its step queued.

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

/** Whether a stream frame carries a piece of the answer's text, in any dialect (the same
 *  point of an answer, for end_after_text, whichever dialect streams it). */
function textFrame(dialect, frame) {
    if (dialect === 'anthropic') return frame.includes('"type":"text_delta"');
    if (dialect === 'openai') return /"content":"[^"]/.test(frame);
    return /"text":"/.test(frame) && !frame.includes('"thought":true');
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
    return stepFromText(blockText(content));
}

/** The step the MOCK: directives in `text` describe ({} when there are none). */
function stepFromText(text) {
    const step = {};
    for (const line of text.split('\n')) {
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
            /* Without a type each dialect names the status its own way. */
            step.error = { message: `Mock error ${code}` };
            if (type) step.error.type = type;
            break;
        }
        case 'error_event': {
            /* A stream that starts, then carries the error as an event (error_in_stream). */
            const [status, type] = arg.split(/\s+/);
            const code = status ? Number(status) : 529;
            if (!Number.isInteger(code) || code < 400 || code > 599)
                throw new Error('expected MOCK:error_event [<status> [<error type>]]');
            step.status = code;
            step.error_in_stream = true;
            step.error = { message: code === 529 ? 'Overloaded' : `Mock error ${code}` };
            if (type) step.error.type = type;
            break;
        }
        case 'slow': {
            const ms = Number(arg);
            if (!Number.isFinite(ms) || ms < 0) throw new Error('expected MOCK:slow <ms>');
            step.event_delay_ms = ms;
            break;
        }
        case 'delay': {
            const ms = Number(arg);
            if (!Number.isFinite(ms) || ms < 0) throw new Error('expected MOCK:delay <ms>');
            step.delay_ms = ms;
            break;
        }
        case 'end_text': {
            const n = arg === '' ? 1 : Number(arg);
            if (!Number.isInteger(n) || n < 1) throw new Error('expected MOCK:end_text [<pieces>]');
            step.end_after_text = n;
            break;
        }
        case 'hang':
        case 'close':
        case 'end':
        case 'reset': {
            const n = arg === '' ? 0 : Number(arg);
            if (!Number.isInteger(n) || n < 0) throw new Error(`expected MOCK:${name} [<events>]`);
            step[`${name}_after_events`] = n;
            break;
        }
        default:
            throw new Error(`unknown directive MOCK:${name}`);
    }
}

function takeStep(endpoint, dialect) {
    const i = state.steps.findIndex(
        (s) => (!s.endpoint || s.endpoint === endpoint) && (!s.dialect || s.dialect === dialect),
    );
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

/* ---------------------------------------------------------------- other dialects: shared */

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Text of an OpenAI content (a string, or parts of which the text ones count). */
function partsText(content) {
    if (typeof content === 'string') return content;
    if (!Array.isArray(content)) return '';
    return content
        .filter((p) => p && p.type === 'text' && typeof p.text === 'string')
        .map((p) => p.text)
        .join('\n');
}

/** What a step answers, independent of the dialect. */
function planOf(step, idOf) {
    const tools = (Array.isArray(step.tool_use) ? step.tool_use : []).map((t, i) => ({
        id: t.id || idOf(i),
        name: t.name,
        input: t.input === undefined ? {} : t.input,
        args:
            typeof t.arguments === 'string'
                ? t.arguments
                : JSON.stringify(t.input === undefined ? {} : t.input),
    }));
    let text = step.text;
    if (text === undefined && tools.length === 0) text = DEFAULT_TEXT;
    const thinking = step.thinking === undefined ? '' : String(step.thinking);
    return { text: text === undefined ? '' : String(text), thinking, tools };
}

/** Token counts of a plan: {input, output, cacheRead, thoughts, native}; step.usage wins. */
function usageOf(step, plan, inputTokens) {
    const u = isObject(step.usage) ? step.usage : {};
    const outChars =
        plan.text.length + plan.thinking.length + plan.tools.reduce((n, t) => n + t.args.length, 0);
    const output = Number.isInteger(u.output_tokens)
        ? u.output_tokens
        : Math.max(1, Math.ceil(outChars / 4));
    const thoughts = plan.thinking ? Math.min(output, Math.ceil(plan.thinking.length / 4)) : 0;
    const native = {};
    const anthropicNames = [
        'input_tokens',
        'output_tokens',
        'cache_read_input_tokens',
        'cache_creation_input_tokens',
    ];
    for (const [k, v] of Object.entries(u)) if (!anthropicNames.includes(k)) native[k] = v;
    return {
        input: Number.isInteger(u.input_tokens) ? u.input_tokens : inputTokens,
        output,
        cacheRead: Number.isInteger(u.cache_read_input_tokens) ? u.cache_read_input_tokens : 0,
        thoughts,
        native,
    };
}

const dataFrame = (value) =>
    `data: ${typeof value === 'string' ? value : JSON.stringify(value)}\n\n`;

/* ---------------------------------------------------------------- OpenAI Chat Completions */

const OPENAI_ERRORS = {
    400: ['invalid_request_error', null],
    401: ['invalid_request_error', 'invalid_api_key'],
    403: ['permission_denied', null],
    404: ['invalid_request_error', 'model_not_found'],
    429: ['requests', 'rate_limit_exceeded'],
    500: ['server_error', null],
    503: ['server_error', 'service_unavailable'],
};

function openaiError(status, err) {
    const [type, code] = OPENAI_ERRORS[status] || ['server_error', null];
    return {
        error: {
            message: err.message || `Mock error ${status}`,
            type: err.type || type,
            param: null,
            code: err.code !== undefined ? err.code : code,
        },
    };
}

function openaiFinish(step, plan) {
    if (step.finish_reason) return step.finish_reason;
    const map = {
        end_turn: 'stop',
        stop_sequence: 'stop',
        max_tokens: 'length',
        tool_use: 'tool_calls',
    };
    if (step.stop_reason && map[step.stop_reason]) return map[step.stop_reason];
    return plan.tools.length > 0 ? 'tool_calls' : 'stop';
}

function openaiUsage(u) {
    return {
        prompt_tokens: u.input + u.cacheRead,
        completion_tokens: u.output,
        total_tokens: u.input + u.cacheRead + u.output,
        prompt_tokens_details: { cached_tokens: u.cacheRead },
        completion_tokens_details: { reasoning_tokens: u.thoughts },
        ...u.native,
    };
}

/** Perplexity's search fields, sent at the top level of every chunk and answer. */
function perplexityFields(step) {
    const out = {};
    if (Array.isArray(step.citations)) out.citations = step.citations;
    if (Array.isArray(step.search_results)) out.search_results = step.search_results;
    return out;
}

const openaiPlan = (step) => planOf(step, () => `call_mock${hex(8)}`);

/** The chat.completion answer. */
function openaiWhole(step, body, inputTokens) {
    const plan = openaiPlan(step);
    const message = { role: 'assistant', content: plan.text === '' ? null : plan.text };
    if (plan.thinking) message.reasoning_content = plan.thinking;
    message.refusal = null;
    if (plan.tools.length > 0) {
        message.tool_calls = plan.tools.map((t) => ({
            id: t.id,
            type: 'function',
            function: { name: t.name, arguments: t.args },
        }));
    }
    return {
        id: `chatcmpl-mock${hex(10)}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [{ index: 0, message, logprobs: null, finish_reason: openaiFinish(step, plan) }],
        usage: openaiUsage(usageOf(step, plan, inputTokens)),
        ...perplexityFields(step),
    };
}

/** The chat.completion.chunk frames of a streamed answer, [DONE] included. */
function openaiFrames(step, body, inputTokens) {
    const plan = openaiPlan(step);
    const includeUsage = !!(isObject(body.stream_options) && body.stream_options.include_usage);
    const base = {
        id: `chatcmpl-mock${hex(10)}`,
        object: 'chat.completion.chunk',
        created: Math.floor(Date.now() / 1000),
        model: body.model,
    };
    const extra = perplexityFields(step);
    const chunk = (delta, finish = null) => ({
        ...base,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
        ...(includeUsage ? { usage: null } : {}),
        ...extra,
    });
    const chunks = [];
    if (plan.thinking) {
        chunks.push(chunk({ role: 'assistant', content: null, reasoning_content: '' }));
        for (const piece of splitPieces(plan.thinking, 3))
            chunks.push(chunk({ content: null, reasoning_content: piece }));
    } else {
        chunks.push(chunk({ role: 'assistant', content: '', refusal: null }));
    }
    for (const piece of plan.text === '' ? [] : splitPieces(plan.text, 3))
        chunks.push(
            chunk(plan.thinking ? { content: piece, reasoning_content: null } : { content: piece }),
        );
    /* Each call: its start (id, name, no arguments yet), then its arguments in pieces. */
    const lists = plan.tools.map((t, index) => [
        { index, id: t.id, type: 'function', function: { name: t.name, arguments: '' } },
        ...splitPieces(t.args, 3).map((piece) => ({ index, function: { arguments: piece } })),
    ]);
    if (step.interleave === false) {
        for (const list of lists) for (const d of list) chunks.push(chunk({ tool_calls: [d] }));
    } else {
        for (let round = 0; lists.some((l) => round < l.length); round++)
            for (const list of lists)
                if (round < list.length) chunks.push(chunk({ tool_calls: [list[round]] }));
    }
    chunks.push(chunk({}, openaiFinish(step, plan)));
    if (includeUsage) {
        chunks.push({
            ...base,
            choices: [],
            usage: openaiUsage(usageOf(step, plan, inputTokens)),
            ...extra,
        });
    }
    if (step.error_in_stream) {
        const frames = chunks.slice(0, 2).map(dataFrame);
        frames.push(dataFrame(openaiError(step.status || 500, step.error || {})));
        return frames;
    }
    return [...chunks.map(dataFrame), dataFrame('[DONE]')];
}

/** The tool results of the last turn: role "tool" messages after the last assistant one. */
function openaiToolResults(messages) {
    const results = [];
    for (let i = messages.length - 1; i >= 0; i--) {
        const m = messages[i];
        if (!isObject(m)) continue;
        if (m.role === 'assistant') break;
        if (m.role === 'tool') results.unshift(partsText(m.content));
    }
    return results;
}

function stepFromOpenAI(body) {
    const messages = Array.isArray(body.messages) ? body.messages : [];
    const results = openaiToolResults(messages);
    if (results.length > 0) return { text: 'Tool said: ' + results.join('; ') };
    for (let i = messages.length - 1; i >= 0; i--) {
        if (isObject(messages[i]) && messages[i].role === 'user')
            return stepFromText(partsText(messages[i].content));
    }
    return { text: DEFAULT_TEXT };
}

/* What OpenAI's API rejects (its own messages, shortened). Fields only Anthropic knows: */
const ANTHROPIC_ONLY = [
    'system',
    'stop_sequences',
    'thinking',
    'context_management',
    'output_config',
    'anthropic_version',
    'anthropic_beta',
    'container',
    'mcp_servers',
];
const OPENAI_USER_PARTS = ['text', 'image_url', 'input_audio', 'file'];

function checkTextParts(content, where, allowNull) {
    if (content === null || content === undefined)
        return allowNull ? null : `${where}.content is required`;
    if (typeof content === 'string') return null;
    if (!Array.isArray(content))
        return `Invalid type for '${where}.content': expected a string or an array`;
    for (let j = 0; j < content.length; j++) {
        const p = content[j];
        if (!isObject(p) || (p.type !== 'text' && p.type !== 'refusal'))
            return `Invalid value for '${where}.content[${j}].type': expected 'text'`;
        if (p.type === 'text' && typeof p.text !== 'string')
            return `Missing required parameter: '${where}.content[${j}].text'`;
    }
    return null;
}

/** A user message's content: a string or a non-empty list of the parts OpenAI knows. */
function checkUserContent(content, where) {
    if (typeof content === 'string') return null;
    if (!Array.isArray(content) || content.length === 0)
        return `Invalid '${where}.content': expected a string or a non-empty array`;
    for (let j = 0; j < content.length; j++) {
        const p = content[j];
        const w = `${where}.content[${j}]`;
        if (!isObject(p) || !OPENAI_USER_PARTS.includes(p.type)) {
            const got = JSON.stringify(p && p.type);
            return `Invalid value for '${w}.type': got ${got}, expected ${OPENAI_USER_PARTS}`;
        }
        if (p.type === 'text' && typeof p.text !== 'string')
            return `Missing required parameter: '${w}.text'`;
        if (
            p.type === 'image_url' &&
            !(isObject(p.image_url) && typeof p.image_url.url === 'string')
        )
            return `Missing required parameter: '${w}.image_url.url'`;
    }
    return null;
}

function validateOpenAI(body) {
    if (!isObject(body)) return 'the request body must be a JSON object';
    for (const k of ANTHROPIC_ONLY)
        if (k in body) return `Unrecognized request argument supplied: ${k}`;
    if (typeof body.model !== 'string' || body.model === '')
        return 'you must provide a model parameter';
    if (!Array.isArray(body.messages) || body.messages.length === 0)
        return "Invalid 'messages': empty array. Expected an array with minimum length 1";
    if (body.stream_options !== undefined && body.stream !== true)
        return "The 'stream_options' parameter is only allowed when 'stream' is enabled.";
    for (const k of ['max_tokens', 'max_completion_tokens']) {
        if (body[k] !== undefined && !(Number.isInteger(body[k]) && body[k] > 0))
            return `Invalid '${k}': expected an integer greater than 0`;
    }
    if (body.tools !== undefined) {
        if (!Array.isArray(body.tools)) return "Invalid type for 'tools': expected an array";
        for (let i = 0; i < body.tools.length; i++) {
            const t = body.tools[i];
            if (!isObject(t) || t.type !== 'function' || !isObject(t.function))
                return (
                    `Invalid value for 'tools[${i}]': ` +
                    'expected {type: "function", function: {...}}'
                );
            if (
                typeof t.function.name !== 'string' ||
                !/^[a-zA-Z0-9_-]{1,64}$/.test(t.function.name)
            )
                return `Invalid 'tools[${i}].function.name': must match ^[a-zA-Z0-9_-]{1,64}$`;
            if (t.function.parameters !== undefined && !isObject(t.function.parameters))
                return `Invalid type for 'tools[${i}].function.parameters': expected an object`;
        }
    }
    let pending = null; // ids of the last assistant tool_calls not answered yet
    const seen = new Set(); // every tool_call id so far
    for (let i = 0; i < body.messages.length; i++) {
        const m = body.messages[i];
        const where = `messages[${i}]`;
        if (!isObject(m)) return `Invalid type for '${where}': expected an object`;
        if (m.role !== 'tool' && pending && pending.size > 0)
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages " +
                "responding to each 'tool_call_id'. The following tool_call_ids did not have " +
                `response messages: ${[...pending].join(', ')}`
            );
        if (m.role !== 'tool') pending = null;
        let why = null;
        switch (m.role) {
            case 'system':
            case 'developer':
                why = checkTextParts(m.content, where, false);
                break;
            case 'user':
                why = checkUserContent(m.content, where);
                break;
            case 'assistant': {
                const calls = m.tool_calls;
                if (calls !== undefined && (!Array.isArray(calls) || calls.length === 0)) {
                    why = `Invalid '${where}.tool_calls': expected a non-empty array`;
                    break;
                }
                if ((m.content === null || m.content === undefined) && !calls) {
                    why = `Invalid value for '${where}.content': expected a string, got null.`;
                    break;
                }
                why = checkTextParts(m.content, where, true);
                if (why || !calls) break;
                pending = new Set();
                for (let j = 0; j < calls.length && !why; j++) {
                    const c = calls[j];
                    const w = `${where}.tool_calls[${j}]`;
                    if (!isObject(c) || typeof c.id !== 'string' || c.id === '')
                        why = `Missing required parameter: '${w}.id'`;
                    else if (c.type !== 'function')
                        why = `Invalid value for '${w}.type': expected 'function'`;
                    else if (!isObject(c.function) || typeof c.function.name !== 'string')
                        why = `Missing required parameter: '${w}.function.name'`;
                    else if (typeof c.function.arguments !== 'string')
                        why = `Invalid type for '${w}.function.arguments': expected a string`;
                    else {
                        pending.add(c.id);
                        seen.add(c.id);
                    }
                }
                break;
            }
            case 'tool':
                if (typeof m.tool_call_id !== 'string')
                    why = `Missing required parameter: '${where}.tool_call_id'`;
                else if (!pending || !pending.has(m.tool_call_id))
                    why = seen.has(m.tool_call_id)
                        ? `Invalid parameter: '${where}' answers tool call ` +
                          `${m.tool_call_id} twice or late`
                        : "Invalid parameter: messages with role 'tool' must be a response to a " +
                          `preceding message with 'tool_calls' (${where}, ${m.tool_call_id})`;
                else {
                    pending.delete(m.tool_call_id);
                    why = checkTextParts(m.content, where, false);
                }
                break;
            default:
                why = `Invalid value for '${where}.role': ${JSON.stringify(m.role)}`;
        }
        if (why) return why;
    }
    if (pending && pending.size > 0)
        return (
            "An assistant message with 'tool_calls' must be followed by tool messages responding " +
            `to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[
                ...pending,
            ].join(', ')}`
        );
    return null;
}

/* ---------------------------------------------------------------- Google Gemini */

const GOOGLE_STATUS = {
    400: 'INVALID_ARGUMENT',
    401: 'UNAUTHENTICATED',
    403: 'PERMISSION_DENIED',
    404: 'NOT_FOUND',
    409: 'ABORTED',
    429: 'RESOURCE_EXHAUSTED',
    499: 'CANCELLED',
    500: 'INTERNAL',
    501: 'NOT_IMPLEMENTED',
    503: 'UNAVAILABLE',
    504: 'DEADLINE_EXCEEDED',
};

function geminiError(status, err) {
    let name = err.status;
    if (!name && typeof err.type === 'string' && /^[A-Z_]+$/.test(err.type)) name = err.type;
    return {
        error: {
            code: status,
            message: err.message || `Mock error ${status}`,
            status: name || GOOGLE_STATUS[status] || 'UNKNOWN',
        },
    };
}

function geminiFinish(step) {
    if (step.finish_reason) return step.finish_reason;
    return step.stop_reason === 'max_tokens' ? 'MAX_TOKENS' : 'STOP';
}

function geminiUsage(u, partial) {
    const candidates = Math.max(0, (partial === undefined ? u.output : partial) - u.thoughts);
    const out = { promptTokenCount: u.input + u.cacheRead, candidatesTokenCount: candidates };
    if (u.thoughts > 0) out.thoughtsTokenCount = u.thoughts;
    out.totalTokenCount = u.input + u.cacheRead + candidates + u.thoughts;
    if (u.cacheRead > 0) out.cachedContentTokenCount = u.cacheRead;
    return { ...out, ...u.native };
}

const geminiPlan = (step) => planOf(step, () => '');

/** The answer's parts, in chunks (one piece of thought or text per chunk, calls together). */
function geminiParts(step, plan, stream) {
    const split = (s) => (stream ? splitPieces(s, 3) : [s]);
    const groups = [];
    if (plan.thinking)
        for (const t of split(plan.thinking)) groups.push([{ text: t, thought: true }]);
    if (plan.text !== '') for (const t of split(plan.text)) groups.push([{ text: t }]);
    if (plan.tools.length > 0) {
        groups.push(
            plan.tools.map((t) => {
                const fc = { name: t.name, args: isObject(t.input) ? t.input : {} };
                if (step.gemini_call_ids) fc.id = t.id || `mock-call-${hex(4)}`;
                return { functionCall: fc };
            }),
        );
    }
    if (step.thought_signature) {
        const calls = plan.tools.length > 0 ? groups[groups.length - 1] : null;
        if (calls) calls[0].thoughtSignature = step.thought_signature;
        else {
            for (let g = groups.length - 1; g >= 0; g--) {
                const last = groups[g][groups[g].length - 1];
                if (!last.thought) {
                    last.thoughtSignature = step.thought_signature;
                    break;
                }
            }
        }
    }
    if (!stream) return [groups.flat()];
    return groups;
}

function geminiResponse(step, route, parts, usage, finish) {
    const candidate = {};
    if (parts.length > 0) candidate.content = { role: 'model', parts };
    if (finish) candidate.finishReason = finish;
    candidate.index = 0;
    return {
        candidates: [candidate],
        usageMetadata: usage,
        modelVersion: route.model,
        responseId: route.responseId,
    };
}

function geminiWhole(step, route, inputTokens) {
    const plan = geminiPlan(step);
    const [parts] = geminiParts(step, plan, false);
    const u = usageOf(step, plan, inputTokens);
    return geminiResponse(step, route, parts, geminiUsage(u), geminiFinish(step));
}

/** The streamed GenerateContentResponse chunks (SSE frames, or pieces of one JSON array). */
function geminiFrames(step, route, inputTokens) {
    const plan = geminiPlan(step);
    const u = usageOf(step, plan, inputTokens);
    const groups = geminiParts(step, plan, true);
    if (groups.length === 0) groups.push([]);
    const chunks = groups.map((parts, i) => {
        const last = i === groups.length - 1;
        const partial = Math.max(1, Math.round((u.output * (i + 1)) / groups.length));
        return geminiResponse(
            step,
            route,
            parts,
            geminiUsage(u, last ? u.output : partial),
            last ? geminiFinish(step) : null,
        );
    });
    let values = chunks;
    if (step.error_in_stream) {
        values = chunks.slice(0, 1);
        values.push(geminiError(step.status || 503, step.error || {}));
    }
    if (route.sse) return values.map(dataFrame);
    /* Without alt=sse Gemini streams one JSON array, element by element. */
    return values.map((v, i) => (i === 0 ? '[' : ',\r\n') + JSON.stringify(v)).concat([']']);
}

/** Text of a functionResponse: its response's content (or error), else the response's JSON. */
function functionResponseText(fr) {
    const r = isObject(fr) ? fr.response : undefined;
    if (isObject(r)) {
        for (const k of ['content', 'output', 'result', 'error']) {
            if (typeof r[k] === 'string') return r[k];
            if (r[k] !== undefined) return partsText(r[k]) || JSON.stringify(r[k]);
        }
    }
    return JSON.stringify(r === undefined ? null : r);
}

function stepFromGemini(body) {
    const contents = Array.isArray(body.contents) ? body.contents : [];
    const results = [];
    for (let i = contents.length - 1; i >= 0; i--) {
        const c = contents[i];
        if (!isObject(c)) continue;
        if (c.role === 'model') break;
        const parts = Array.isArray(c.parts) ? c.parts : [];
        const here = parts
            .filter((p) => isObject(p) && isObject(p.functionResponse))
            .map((p) => functionResponseText(p.functionResponse));
        results.unshift(...here);
    }
    if (results.length > 0) return { text: 'Tool said: ' + results.join('; ') };
    for (let i = contents.length - 1; i >= 0; i--) {
        const c = contents[i];
        if (!isObject(c) || (c.role !== undefined && c.role !== 'user')) continue;
        const parts = Array.isArray(c.parts) ? c.parts : [];
        const text = parts
            .filter((p) => isObject(p) && typeof p.text === 'string' && !p.thought)
            .map((p) => p.text)
            .join('\n');
        return stepFromText(text);
    }
    return { text: DEFAULT_TEXT };
}

/* What the Generative Language API rejects. It accepts snake_case and camelCase names. */
const camel = (k) => k.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const unknownName = (k, where) =>
    `Invalid JSON payload received. Unknown name "${k}"${where ? ` at '${where}'` : ''}: ` +
    'Cannot find field.';

function unknownKey(obj, allowed, where) {
    for (const k of Object.keys(obj)) if (!allowed.includes(camel(k))) return unknownName(k, where);
    return null;
}

const GEMINI_TOP = [
    'model',
    'contents',
    'systemInstruction',
    'tools',
    'toolConfig',
    'generationConfig',
    'safetySettings',
    'cachedContent',
    'labels',
];
const GEMINI_PART_DATA = [
    'text',
    'inlineData',
    'fileData',
    'functionCall',
    'functionResponse',
    'executableCode',
    'codeExecutionResult',
];
const GEMINI_PART = [
    ...GEMINI_PART_DATA,
    'thought',
    'thoughtSignature',
    'videoMetadata',
    'partMetadata',
];
const GEMINI_GENERATION = [
    'stopSequences',
    'responseMimeType',
    'responseSchema',
    'responseJsonSchema',
    'responseModalities',
    'candidateCount',
    'maxOutputTokens',
    'temperature',
    'topP',
    'topK',
    'seed',
    'presencePenalty',
    'frequencyPenalty',
    'responseLogprobs',
    'logprobs',
    'enableEnhancedCivicAnswers',
    'speechConfig',
    'thinkingConfig',
    'mediaResolution',
];
const GEMINI_TOOL = [
    'functionDeclarations',
    'googleSearch',
    'googleSearchRetrieval',
    'codeExecution',
    'urlContext',
    'computerUse',
    'fileSearch',
    'googleMaps',
];
const GEMINI_FUNCTION = [
    'name',
    'description',
    'parameters',
    'parametersJsonSchema',
    'response',
    'responseJsonSchema',
    'behavior',
];
const GEMINI_SCHEMA = [
    'type',
    'format',
    'title',
    'description',
    'nullable',
    'enum',
    'maxItems',
    'minItems',
    'properties',
    'required',
    'minProperties',
    'maxProperties',
    'minLength',
    'maxLength',
    'pattern',
    'example',
    'anyOf',
    'propertyOrdering',
    'default',
    'items',
    'minimum',
    'maximum',
];
const GEMINI_TYPES = [
    'TYPE_UNSPECIFIED',
    'STRING',
    'NUMBER',
    'INTEGER',
    'BOOLEAN',
    'ARRAY',
    'OBJECT',
    'NULL',
];

/** Gemini's OpenAPI Schema subset (function parameters). */
function checkGeminiSchema(s, where) {
    if (!isObject(s)) return `Invalid value at '${where}': expected a Schema object`;
    const bad = unknownKey(s, GEMINI_SCHEMA, where);
    if (bad) return bad;
    if (
        s.type !== undefined &&
        (typeof s.type !== 'string' || !GEMINI_TYPES.includes(s.type.toUpperCase()))
    )
        return (
            `Invalid value at '${where}.type' ` +
            `(type.googleapis.com/google.ai.generativelanguage.v1beta.Type), ` +
            JSON.stringify(s.type)
        );
    if (
        s.enum !== undefined &&
        (!Array.isArray(s.enum) || s.enum.some((e) => typeof e !== 'string'))
    )
        return `Invalid value at '${where}.enum': enum values must be strings`;
    if (s.properties !== undefined) {
        if (!isObject(s.properties))
            return `Invalid value at '${where}.properties': expected a map`;
        for (const [k, v] of Object.entries(s.properties)) {
            const why = checkGeminiSchema(v, `${where}.properties[${k}].value`);
            if (why) return why;
        }
    }
    if (s.required !== undefined) {
        if (!Array.isArray(s.required)) return `Invalid value at '${where}.required'`;
        for (let i = 0; i < s.required.length; i++) {
            if (!isObject(s.properties) || !(s.required[i] in s.properties))
                return `* GenerateContentRequest.${where}.required[${i}]: property is not defined`;
        }
    }
    if (s.items !== undefined) {
        const why = checkGeminiSchema(s.items, `${where}.items`);
        if (why) return why;
    }
    if (s.anyOf !== undefined) {
        if (!Array.isArray(s.anyOf)) return `Invalid value at '${where}.any_of'`;
        for (let i = 0; i < s.anyOf.length; i++) {
            const why = checkGeminiSchema(s.anyOf[i], `${where}.any_of[${i}]`);
            if (why) return why;
        }
    }
    return null;
}

function checkGeminiParts(parts, where) {
    if (!Array.isArray(parts) || parts.length === 0)
        return `* GenerateContentRequest.${where}.parts: contents.parts must not be empty.`;
    for (let j = 0; j < parts.length; j++) {
        const p = parts[j];
        const w = `${where}.parts[${j}]`;
        if (!isObject(p)) return `Invalid value at '${w}': expected a Part object`;
        const bad = unknownKey(p, GEMINI_PART, w);
        if (bad) return bad;
        const data = Object.keys(p).filter((k) => GEMINI_PART_DATA.includes(camel(k)));
        if (data.length !== 1)
            return (
                `* GenerateContentRequest.${w}.data: required oneof field 'data' must have ` +
                'one initialized field'
            );
        const fc = p.functionCall || p.function_call;
        if (
            fc !== undefined &&
            (!isObject(fc) ||
                typeof fc.name !== 'string' ||
                (fc.args !== undefined && !isObject(fc.args)))
        )
            return `Invalid value at '${w}.function_call': expected {name, args}`;
        const fr = p.functionResponse || p.function_response;
        if (
            fr !== undefined &&
            (!isObject(fr) || typeof fr.name !== 'string' || !isObject(fr.response))
        )
            return `Invalid value at '${w}.function_response': expected {name, response: {...}}`;
        if (p.text !== undefined && typeof p.text !== 'string')
            return `Invalid value at '${w}.text' (TYPE_STRING)`;
    }
    return null;
}

const countParts = (c, name) =>
    (Array.isArray(c.parts) ? c.parts : []).filter(
        (p) => isObject(p) && (p[name] || p[name.replace(/[A-Z]/, (x) => '_' + x.toLowerCase())]),
    ).length;

function validateGemini(body) {
    if (!isObject(body)) return 'Invalid JSON payload received. Expected an object.';
    let bad = unknownKey(body, GEMINI_TOP, '');
    if (bad) return bad;
    const contents = body.contents;
    if (!Array.isArray(contents) || contents.length === 0)
        return '* GenerateContentRequest.contents: contents is not specified';
    for (let i = 0; i < contents.length; i++) {
        const c = contents[i];
        const where = `contents[${i}]`;
        if (!isObject(c)) return `Invalid value at '${where}': expected a Content object`;
        bad = unknownKey(c, ['role', 'parts'], where);
        if (bad) return bad;
        if (c.role !== undefined && c.role !== 'user' && c.role !== 'model')
            return `* GenerateContentRequest.${where}.role: Please use a valid role: user, model.`;
        const why = checkGeminiParts(c.parts, where);
        if (why) return why;
        const calls = c.role === 'model' ? countParts(c, 'functionCall') : 0;
        if (calls > 0) {
            const next = contents[i + 1];
            if (
                !isObject(next) ||
                next.role === 'model' ||
                countParts(next, 'functionResponse') === 0
            )
                return (
                    'Please ensure that function response turn comes immediately after a ' +
                    `function call turn (${where}).`
                );
            if (countParts(next, 'functionResponse') !== calls)
                return (
                    'Please ensure that the number of function response parts is equal to the ' +
                    `number of function call parts of the function call turn (${where}).`
                );
        }
    }
    const si = body.systemInstruction || body.system_instruction;
    if (si !== undefined) {
        if (!isObject(si))
            return "Invalid value at 'system_instruction': expected a Content object";
        bad = unknownKey(si, ['role', 'parts'], 'system_instruction');
        if (bad) return bad;
        const why = checkGeminiParts(si.parts, 'system_instruction');
        if (why) return why;
    }
    const tools = body.tools;
    if (tools !== undefined) {
        if (!Array.isArray(tools)) return "Invalid value at 'tools': expected a list";
        for (let i = 0; i < tools.length; i++) {
            const t = tools[i];
            const where = `tools[${i}]`;
            if (!isObject(t)) return `Invalid value at '${where}': expected a Tool object`;
            bad = unknownKey(t, GEMINI_TOOL, where);
            if (bad) return bad;
            const decls = t.functionDeclarations || t.function_declarations;
            if (decls === undefined) continue;
            if (!Array.isArray(decls)) return `Invalid value at '${where}.function_declarations'`;
            for (let j = 0; j < decls.length; j++) {
                const f = decls[j];
                const w = `${where}.function_declarations[${j}]`;
                if (!isObject(f)) return `Invalid value at '${w}'`;
                bad = unknownKey(f, GEMINI_FUNCTION, w);
                if (bad) return bad;
                if (typeof f.name !== 'string' || !/^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$/.test(f.name))
                    return (
                        `* GenerateContentRequest.${w}.name: Invalid function name. Must ` +
                        'start with a letter or an underscore. Must be alphameric (a-z, A-Z, ' +
                        '0-9), underscores (_), dots (.), colons (:), or dashes (-), with a ' +
                        'maximum length of 64.'
                    );
                if (f.parameters !== undefined) {
                    const why = checkGeminiSchema(f.parameters, `${w}.parameters`);
                    if (why) return why;
                    const type =
                        typeof f.parameters.type === 'string'
                            ? f.parameters.type.toUpperCase()
                            : '';
                    if (
                        type === 'OBJECT' &&
                        !(
                            isObject(f.parameters.properties) &&
                            Object.keys(f.parameters.properties).length > 0
                        )
                    )
                        return (
                            `* GenerateContentRequest.${w}.parameters.properties: ` +
                            'should be non-empty for OBJECT type'
                        );
                }
            }
        }
    }
    const gc = body.generationConfig || body.generation_config;
    if (gc !== undefined) {
        if (!isObject(gc)) return "Invalid value at 'generation_config'";
        bad = unknownKey(gc, GEMINI_GENERATION, 'generation_config');
        if (bad) return bad;
        const max = gc.maxOutputTokens !== undefined ? gc.maxOutputTokens : gc.max_output_tokens;
        if (max !== undefined && !(Number.isInteger(max) && max > 0))
            return "Invalid value at 'generation_config.max_output_tokens' (TYPE_INT32)";
        const tc = gc.thinkingConfig || gc.thinking_config;
        if (tc !== undefined) {
            if (!isObject(tc)) return "Invalid value at 'generation_config.thinking_config'";
            bad = unknownKey(
                tc,
                ['includeThoughts', 'thinkingBudget', 'thinkingLevel'],
                'generation_config.thinking_config',
            );
            if (bad) return bad;
        }
    }
    return null;
}

/* ---------------------------------------------------------------- the dialects' answers */

/**
 * Per dialect: streams(route, body) (does the client get a stream), error(status, err) (the
 * error body), whole(step, route, body, inputTokens) (a complete JSON answer), frames(step,
 * route, body, inputTokens) (the pieces of a streamed answer, each written and flushed on its
 * own), contentType(route) of a stream, stepFromBody(body), validate(body, route).
 */
const DIALECTS = {
    anthropic: {
        streams: (route, body) => route.endpoint === 'messages' && body.stream === true,
        error: (status, err) =>
            errorBody(
                err.type || ERROR_TYPES[status] || 'api_error',
                err.message || `Mock error ${status}`,
            ),
        whole: (step, route, body, inputTokens) => {
            if (route.endpoint === 'count_tokens')
                return {
                    input_tokens: step.count_tokens !== undefined ? step.count_tokens : inputTokens,
                };
            if (route.endpoint === 'models') return modelList();
            return buildMessage(step, body.model, inputTokens);
        },
        frames: (step, route, body, inputTokens) => {
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
            return events.map(sseChunk);
        },
        contentType: () => 'text/event-stream; charset=utf-8',
        stepFromBody,
        validate: () => null,
    },
    openai: {
        streams: (route, body) => body.stream === true,
        error: openaiError,
        whole: (step, route, body, inputTokens) => openaiWhole(step, body, inputTokens),
        frames: (step, route, body, inputTokens) => openaiFrames(step, body, inputTokens),
        contentType: () => 'text/event-stream; charset=utf-8',
        stepFromBody: stepFromOpenAI,
        validate: (body) => validateOpenAI(body),
    },
    gemini: {
        streams: (route) => route.endpoint === 'messages' && route.stream,
        error: geminiError,
        whole: (step, route, body, inputTokens) => {
            if (route.endpoint === 'count_tokens')
                return {
                    totalTokens: step.count_tokens !== undefined ? step.count_tokens : inputTokens,
                };
            return geminiWhole(step, route, inputTokens);
        },
        frames: (step, route, body, inputTokens) => geminiFrames(step, route, inputTokens),
        contentType: (route) =>
            route.sse ? 'text/event-stream' : 'application/json; charset=UTF-8',
        stepFromBody: stepFromGemini,
        validate: (body, route) => (route.endpoint === 'messages' ? validateGemini(body) : null),
    },
};

/* The Gemini methods: /<version>/models/<model>:<method>. */
const GEMINI_PATH = new RegExp(
    '^/(v1beta|v1alpha|v1)/models/([^/:]+):(generateContent|streamGenerateContent|countTokens)$',
);

/** Which dialect and endpoint a request is for, or null. */
function routeOf(method, path, query) {
    const endpoint = endpointOf(method, path);
    if (endpoint) return { dialect: 'anthropic', endpoint };
    if (method === 'POST' && /\/chat\/completions$/.test(path))
        return { dialect: 'openai', endpoint: 'messages' };
    const m = GEMINI_PATH.exec(path);
    if (method === 'POST' && m) {
        let model = m[2];
        try {
            model = decodeURIComponent(model);
        } catch {
            /* keep it as it came */
        }
        return {
            dialect: 'gemini',
            endpoint: m[3] === 'countTokens' ? 'count_tokens' : 'messages',
            model,
            stream: m[3] === 'streamGenerateContent',
            sse: new URLSearchParams(query).get('alt') === 'sse',
            responseId: `mock-${hex(8)}`,
        };
    }
    return null;
}

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

async function respond(req, res, rec, step, route, body, bodyBytes) {
    const headers = { 'x-mock-request-id': String(rec.n), 'request-id': `req_mock_${rec.n}` };
    Object.assign(headers, step.headers || {});

    if (step.delay_ms) await sleep(step.delay_ms);
    if (isGone(res)) return;
    if (step.hang || step.hang_after_events === 0) return; // open until the client gives up
    if (step.reset_after_events === 0) {
        rec.selfClosed = true;
        req.socket.resetAndDestroy();
        return;
    }
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

    /* gzip: when the request accepts it; gzip: "always": even when it does not (an upstream
     * that ignores Accept-Encoding). */
    const gzip = step.gzip === 'always' || (!!step.gzip && acceptsGzip(req));
    if (gzip) {
        headers['content-encoding'] = 'gzip';
        headers['vary'] = 'accept-encoding';
    }
    const dialect = DIALECTS[route.dialect];
    const stream = dialect.streams(route, body);

    if (step.status && step.status >= 400 && !(stream && step.error_in_stream)) {
        const payload = JSON.stringify(dialect.error(step.status, step.error || {}));
        rec.status = step.status;
        await sendWhole(res, step.status, headers, payload, gzip);
        return;
    }

    const inputTokens = Math.max(1, Math.floor(bodyBytes / 4));
    if (!stream) {
        const payload = dialect.whole(step, route, body, inputTokens);
        rec.status = step.status || 200;
        /* Broken in the middle: the head promises the whole body, half of it comes, then the
         * connection is reset (reset_after_events) or closed (close_after_events). */
        const cut = step.reset_after_events > 0 ? 'reset' : step.close_after_events > 0 ? 'close' : null;
        if (cut) {
            const text = Buffer.from(JSON.stringify(payload));
            res.writeHead(rec.status, {
                'content-type': 'application/json',
                ...headers,
                'content-length': text.length,
            });
            res.write(text.subarray(0, text.length >> 1), () => {
                rec.selfClosed = true;
                if (cut === 'reset') req.socket.resetAndDestroy();
                else req.socket.destroy();
            });
            return;
        }
        if (step.hang_after_bytes !== undefined) {
            /* The head promises the whole body; only its start comes. */
            const text = Buffer.from(JSON.stringify(payload));
            res.writeHead(rec.status, {
                'content-type': 'application/json',
                ...headers,
                'content-length': text.length,
            });
            res.write(text.subarray(0, Math.min(step.hang_after_bytes, text.length - 1)));
            return;
        }
        await sendWhole(res, rec.status, headers, JSON.stringify(payload), gzip);
        return;
    }

    /* Streaming: each frame is written and flushed on its own. */
    const frames = dialect.frames(step, route, body, inputTokens);
    rec.status = 200;
    res.writeHead(200, {
        'content-type': dialect.contentType(route),
        'cache-control': 'no-cache',
        ...headers,
    });
    const writer = makeWriter(res, gzip);
    const eventDelay = step.event_delay_ms || 0;
    let textFrames = 0;
    for (let i = 0; i < frames.length; i++) {
        if (i > 0 && eventDelay) await sleep(eventDelay);
        if (isGone(res)) return;
        await writer.write(frames[i]);
        if (step.close_after_events !== undefined && i + 1 >= step.close_after_events) {
            rec.selfClosed = true;
            req.socket.destroy();
            return;
        }
        if (step.reset_after_events !== undefined && i + 1 >= step.reset_after_events) {
            rec.selfClosed = true;
            req.socket.resetAndDestroy();
            return;
        }
        if (step.hang_after_events !== undefined && i + 1 >= step.hang_after_events) return;
        if (step.end_after_events !== undefined && i + 1 >= step.end_after_events) break;
        if (step.end_after_text !== undefined && textFrame(route.dialect, frames[i]) &&
            ++textFrames >= step.end_after_text)
            break;
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
        dialect: r.dialect,
        invalid: r.invalid,
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
    const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
    const route = routeOf(req.method, path, query);
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
        dialect: route ? route.dialect : 'anthropic',
        invalid: null,
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
            `mock_upstream: #${rec.n} ${rec.dialect} ${req.method} ${req.url} ` +
                `${raw.length} bytes\n`,
        );
    if (isGone(res)) return;

    const idHeader = { 'x-mock-request-id': String(rec.n) };
    if (!route) {
        rec.status = 404;
        sendJson(
            res,
            404,
            errorBody('not_found_error', `mock upstream has no ${req.method} ${path}`),
            idHeader,
        );
        return;
    }
    const dialect = DIALECTS[route.dialect];
    let body = {};
    if (req.method === 'POST') {
        try {
            body = JSON.parse(rec.body);
        } catch (err) {
            rec.status = 400;
            const msg = `request body is not JSON: ${err.message}`;
            const payload =
                route.dialect === 'anthropic'
                    ? errorBody('invalid_request_error', msg)
                    : dialect.error(400, { message: msg });
            sendJson(res, 400, payload, idHeader);
            return;
        }
    }
    let step = route.endpoint === 'models' ? null : takeStep(route.endpoint, route.dialect);
    if (step && step.validate === false) {
        /* answer whatever came */
    } else {
        const why = dialect.validate(body, route);
        if (why) {
            if (step) state.steps.unshift(step); // a rejected request leaves its step queued
            rec.invalid = why;
            rec.status = 400;
            process.stderr.write(
                `mock_upstream: #${rec.n} ${rec.dialect} ${req.method} ${req.url} rejected as ` +
                    `its real API would: ${why}\n`,
            );
            sendJson(res, 400, dialect.error(400, { message: why }), idHeader);
            return;
        }
    }
    const plain = isObject(body) ? body : {};
    const badSignature = step && step.accept_signatures ? unknownSignature(plain, step) : null;
    if (badSignature) {
        state.steps.unshift(step); // as Anthropic would, and the step waits for a better request
        rec.invalid = badSignature;
        rec.status = 400;
        sendJson(res, 400, errorBody('invalid_request_error', badSignature), idHeader);
        return;
    }
    if (!step) step = route.endpoint === 'messages' ? dialect.stepFromBody(plain) : {};
    try {
        await respond(req, res, rec, step, route, plain, raw.length);
    } catch (err) {
        process.stderr.write(`mock_upstream: failed answering #${rec.n}: ${err.stack || err}\n`);
        if (!res.headersSent)
            sendJson(res, 500, errorBody('api_error', `mock failure: ${err.message}`));
        else res.destroy();
    }
}

/** Anthropic's complaint about the first thinking block whose signature the step does not
 *  accept (accept_signatures), or null. */
function unknownSignature(body, step) {
    const messages = Array.isArray(body.messages) ? body.messages : [];
    for (let i = 0; i < messages.length; i++) {
        const content = Array.isArray(messages[i].content) ? messages[i].content : [];
        for (let j = 0; j < content.length; j++) {
            const b = content[j] || {};
            if (b.type !== 'thinking' && b.type !== 'redacted_thinking') continue;
            const sig = b.type === 'thinking' ? b.signature : b.data;
            if (!step.accept_signatures.includes(sig)) {
                return `messages.${i}.content.${j}: Invalid \`signature\` in \`${b.type}\` block`;
            }
        }
    }
    return null;
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
