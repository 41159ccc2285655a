// spec/e2e/lib/anthropic_stream_check.mjs: checks that an Anthropic Messages event stream is one
// a client can rely on, whoever produced it (the upstream, or ccproxy translating another
// provider): message_start first; for each content block, content_block_start with the next
// index, deltas of the block's kind for that index, content_block_stop for it; no empty text
// block; tool input JSON that parses when its block stops; one message_delta with a stop reason
// and usage; message_stop last. Returns the message the events build.
//
//   import { checkAnthropicStream } from './lib/anthropic_stream_check.mjs';
//   const { message, pings } = checkAnthropicStream(sseText);   // throws on the first fault

import { parseSSE } from './sse.mjs';

const STOP_REASONS = [
    'end_turn',
    'max_tokens',
    'stop_sequence',
    'tool_use',
    'pause_turn',
    'refusal',
    'model_context_window_exceeded',
];

/* Which delta types each block type accepts. */
const DELTAS = {
    text: ['text_delta', 'citations_delta'],
    thinking: ['thinking_delta', 'signature_delta'],
    redacted_thinking: [],
    tool_use: ['input_json_delta'],
    server_tool_use: ['input_json_delta'],
    web_search_tool_result: [],
    web_fetch_tool_result: [],
};

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Turns raw SSE text, a Buffer, [{event, data}] or [data] into [{event, data}]. */
function normalise(input) {
    if (Buffer.isBuffer(input)) input = input.toString('utf8');
    if (typeof input === 'string') return parseSSE(input);
    if (!Array.isArray(input)) throw new Error('expected SSE text or an array of events');
    return input.map((e) =>
        isObject(e) && 'data' in e && 'event' in e ? e : { event: null, data: e },
    );
}

function show(v) {
    const s = JSON.stringify(v);
    return s && s.length > 300 ? s.slice(0, 300) + '...' : s;
}

/**
 * Throws an Error naming the first event that breaks the rules (and the events around it)
 * unless `input` is one well-formed Anthropic Messages stream. Options:
 *   requireSignature  every thinking block must carry a non-empty signature (default false)
 *   allowEmpty        a message without content blocks is accepted (default false)
 *   allowError        an `error` event may end the stream; the result then has `error`
 *   stopReason        the stop_reason the stream must end with
 * Returns {message, events, pings, error}: message as the SDK's finalMessage() builds it
 * (tool inputs parsed, usage from message_start updated by message_delta).
 */
export function checkAnthropicStream(input, opts = {}) {
    const events = normalise(input);
    const fail = (i, why) => {
        const from = Math.max(0, i - 3);
        const around = events
            .slice(from, i + 2)
            .map((e, k) => `  ${from + k === i ? '>' : ' '} #${from + k} ${show(e.data)}`)
            .join('\n');
        const name = events[i] ? events[i].data && events[i].data.type : 'end of stream';
        throw new Error(`Anthropic stream, event #${i} (${name}): ${why}\n${around}`);
    };
    let message = null;
    let open = null; // the block being streamed: {block, json, sawSignature}
    let phase = 'start'; // start -> blocks -> delta -> done
    let pings = 0;
    let error = null;

    events.forEach((e, i) => {
        const d = e.data;
        if (!isObject(d) || typeof d.type !== 'string')
            fail(i, 'data is not an object with a type');
        if (e.event !== null && e.event !== d.type)
            fail(i, `the event line says '${e.event}' but data.type is '${d.type}'`);
        if (phase === 'done') fail(i, 'an event after message_stop (or after an error)');
        if (d.type === 'ping') {
            pings++;
            return;
        }
        if (d.type === 'error') {
            if (!opts.allowError) fail(i, `an error event: ${show(d.error)}`);
            if (!isObject(d.error) || typeof d.error.type !== 'string')
                fail(i, 'an error event without error.type');
            error = d.error;
            phase = 'done';
            return;
        }
        switch (phase) {
            case 'start':
                if (d.type !== 'message_start') fail(i, 'the first event must be message_start');
                checkStart(d.message, (why) => fail(i, why));
                message = { ...d.message, content: [], usage: { ...d.message.usage } };
                phase = 'blocks';
                return;
            case 'blocks':
                if (d.type === 'content_block_start') {
                    if (open) fail(i, `block ${open.index} has not stopped yet`);
                    if (d.index !== message.content.length)
                        fail(i, `index ${d.index}, expected ${message.content.length}`);
                    const b = d.content_block;
                    if (!isObject(b) || !(b.type in DELTAS))
                        fail(i, `unknown content block ${show(b)}`);
                    checkBlockStart(b, (why) => fail(i, why));
                    const block = structuredClone(b);
                    message.content.push(block);
                    open = { index: d.index, block, json: '', sawSignature: false };
                    return;
                }
                if (d.type === 'content_block_delta') {
                    if (!open) fail(i, 'a delta outside any block');
                    if (d.index !== open.index)
                        fail(i, `a delta for index ${d.index} while block ${open.index} is open`);
                    applyDelta(open, d.delta, (why) => fail(i, why));
                    return;
                }
                if (d.type === 'content_block_stop') {
                    if (!open) fail(i, 'content_block_stop without an open block');
                    if (d.index !== open.index)
                        fail(i, `stop for index ${d.index} while block ${open.index} is open`);
                    finishBlock(open, opts, (why) => fail(i, why));
                    open = null;
                    return;
                }
                if (d.type === 'message_delta') {
                    if (open) fail(i, `message_delta while block ${open.index} is open`);
                    if (message.content.length === 0 && !opts.allowEmpty)
                        fail(i, 'the message has no content block');
                    checkDelta(d, message, opts, (why) => fail(i, why));
                    message.stop_reason = d.delta.stop_reason;
                    message.stop_sequence =
                        d.delta.stop_sequence === undefined ? null : d.delta.stop_sequence;
                    for (const [k, v] of Object.entries(d.usage))
                        if (v !== null && v !== undefined) message.usage[k] = v;
                    phase = 'delta';
                    return;
                }
                fail(i, `unexpected ${d.type} while content blocks stream`);
                return;
            case 'delta':
                if (d.type !== 'message_stop') fail(i, 'expected message_stop after message_delta');
                phase = 'done';
                return;
            default:
                fail(i, 'unreachable');
        }
    });
    if (phase !== 'done') {
        const missing =
            phase === 'start'
                ? 'message_start'
                : phase === 'blocks'
                  ? 'message_delta'
                  : 'message_stop';
        fail(events.length, `the stream ended without ${missing}`);
    }
    return { message, events, pings, error };
}

function checkStart(m, fail) {
    if (!isObject(m)) fail('message_start has no message');
    if (typeof m.id !== 'string' || m.id === '') fail('message_start.message.id is missing');
    if (m.type !== 'message') fail(`message.type is ${show(m.type)}, expected "message"`);
    if (m.role !== 'assistant') fail(`message.role is ${show(m.role)}, expected "assistant"`);
    if (typeof m.model !== 'string' || m.model === '') fail('message.model is missing');
    if (!Array.isArray(m.content) || m.content.length !== 0)
        fail('message_start must carry an empty content list');
    if (m.stop_reason !== null) fail('message_start must have stop_reason null');
    if (!isObject(m.usage)) fail('message_start has no usage');
    for (const k of ['input_tokens', 'output_tokens']) {
        if (!Number.isInteger(m.usage[k]) || m.usage[k] < 0)
            fail(`message_start usage.${k} is ${show(m.usage[k])}, expected a count`);
    }
}

function checkBlockStart(b, fail) {
    if (b.type === 'text' && b.text !== '') fail('a text block must start empty');
    if (b.type === 'thinking' && (b.thinking !== '' || typeof (b.signature ?? '') !== 'string'))
        fail('a thinking block must start empty');
    if (b.type === 'tool_use' || b.type === 'server_tool_use') {
        if (typeof b.id !== 'string' || b.id === '') fail(`${b.type} block without an id`);
        if (typeof b.name !== 'string' || b.name === '') fail(`${b.type} block without a name`);
        if (!isObject(b.input) || Object.keys(b.input).length !== 0)
            fail(`${b.type} block must start with input {}`);
    }
}

function applyDelta(open, delta, fail) {
    const b = open.block;
    if (!isObject(delta) || typeof delta.type !== 'string') fail('a delta without a type');
    if (!DELTAS[b.type].includes(delta.type)) fail(`a ${delta.type} in a ${b.type} block`);
    switch (delta.type) {
        case 'text_delta':
            if (typeof delta.text !== 'string') fail('text_delta.text is not a string');
            b.text += delta.text;
            break;
        case 'citations_delta':
            if (!isObject(delta.citation)) fail('citations_delta without a citation');
            (b.citations ||= []).push(delta.citation);
            break;
        case 'thinking_delta':
            if (typeof delta.thinking !== 'string') fail('thinking_delta.thinking is not a string');
            if (open.sawSignature) fail('thinking text after the signature');
            b.thinking += delta.thinking;
            break;
        case 'signature_delta':
            if (typeof delta.signature !== 'string')
                fail('signature_delta.signature is not a string');
            b.signature = (b.signature || '') + delta.signature;
            open.sawSignature = true;
            break;
        case 'input_json_delta':
            if (typeof delta.partial_json !== 'string')
                fail('input_json_delta.partial_json is not a string');
            open.json += delta.partial_json;
            break;
        default:
            fail(`unknown delta ${delta.type}`);
    }
}

function finishBlock(open, opts, fail) {
    const b = open.block;
    if (b.type === 'text' && b.text.trim() === '')
        fail(`text block ${open.index} is empty or blank (${show(b.text)})`);
    if (b.type === 'thinking') {
        if (b.thinking === '' && !b.signature)
            fail(`thinking block ${open.index} has neither text nor signature`);
        if (opts.requireSignature && !b.signature)
            fail(`thinking block ${open.index} has no signature`);
    }
    if (b.type === 'tool_use' || b.type === 'server_tool_use') {
        let input;
        try {
            input = open.json === '' ? {} : JSON.parse(open.json);
        } catch (err) {
            fail(
                `the input of ${b.type} block ${open.index} is not JSON (${err.message}): ` +
                    open.json,
            );
        }
        if (!isObject(input))
            fail(`the input of ${b.type} block ${open.index} is not an object: ${open.json}`);
        b.input = input;
    }
}

function checkDelta(d, message, opts, fail) {
    if (!isObject(d.delta)) fail('message_delta has no delta');
    const reason = d.delta.stop_reason;
    if (!STOP_REASONS.includes(reason))
        fail(`stop_reason ${show(reason)} is not one of Anthropic's`);
    if (opts.stopReason !== undefined && reason !== opts.stopReason)
        fail(`stop_reason is ${reason}, expected ${opts.stopReason}`);
    const tools = message.content.filter((b) => b.type === 'tool_use').length;
    if (reason === 'tool_use' && tools === 0) fail('stop_reason tool_use without a tool_use block');
    if (reason === 'end_turn' && tools > 0)
        fail('stop_reason end_turn with tool_use blocks: the client would not run the tools');
    if (!isObject(d.usage)) fail('message_delta has no usage');
    if (!Number.isInteger(d.usage.output_tokens) || d.usage.output_tokens < 0)
        fail(`message_delta usage.output_tokens is ${show(d.usage.output_tokens)}`);
}
