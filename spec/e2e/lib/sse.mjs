// spec/e2e/lib/sse.mjs: parses server-sent events and checks that an Anthropic Messages stream
// follows the documented event order.

/** Parses SSE text into [{event, data}] with data JSON-decoded when possible. */
export function parseSSE(text) {
    const events = [];
    for (const frame of text.split(/\r?\n\r?\n/)) {
        if (!frame.trim()) continue;
        let event = 'message';
        const data = [];
        for (const line of frame.split(/\r?\n/)) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            let value = colon < 0 ? '' : line.slice(colon + 1);
            if (value.startsWith(' ')) value = value.slice(1);
            if (field === 'event') event = value;
            else if (field === 'data') data.push(value);
        }
        const raw = data.join('\n');
        let parsed = raw;
        try {
            parsed = JSON.parse(raw);
        } catch {
            /* keep the raw text */
        }
        events.push({ event, data: parsed });
    }
    return events;
}

/**
 * Throws unless events form one well-ordered Anthropic message stream: message_start, then per
 * block start / deltas of the block's kind / stop with increasing indexes, then message_delta and
 * message_stop. ping may appear anywhere. Returns the rebuilt content blocks.
 */
export function checkMessageStream(events) {
    const fail = (i, why) => {
        throw new Error(`event ${i} (${events[i] ? events[i].event : 'end'}): ${why}`);
    };
    const blocks = [];
    let phase = 'start';
    let open = null;
    events.forEach((e, i) => {
        if (e.event !== e.data.type) fail(i, `event name and data.type differ (${e.data.type})`);
        if (e.event === 'ping') return;
        switch (phase) {
            case 'start':
                if (e.event !== 'message_start') fail(i, 'expected message_start first');
                phase = 'blocks';
                return;
            case 'blocks':
                if (e.event === 'content_block_start') {
                    if (open) fail(i, 'a block started before the previous one stopped');
                    if (e.data.index !== blocks.length)
                        fail(i, `index ${e.data.index}, expected ${blocks.length}`);
                    open = { ...e.data.content_block, json: '' };
                    blocks.push(open);
                } else if (e.event === 'content_block_delta') {
                    if (!open || e.data.index !== blocks.length - 1)
                        fail(i, 'delta outside its block');
                    applyDelta(open, e.data.delta, () =>
                        fail(i, `${e.data.delta.type} in a ${open.type} block`),
                    );
                } else if (e.event === 'content_block_stop') {
                    if (!open || e.data.index !== blocks.length - 1)
                        fail(i, 'stop for a block that is not open');
                    if (open.type === 'tool_use')
                        open.input = open.json === '' ? {} : JSON.parse(open.json);
                    delete open.json;
                    open = null;
                } else if (e.event === 'message_delta') {
                    if (open) fail(i, 'message_delta while a block is open');
                    phase = 'delta';
                } else {
                    fail(i, 'unexpected event');
                }
                return;
            case 'delta':
                if (e.event !== 'message_stop') fail(i, 'expected message_stop');
                phase = 'done';
                return;
            default:
                fail(i, 'event after message_stop');
        }
    });
    if (phase !== 'done') fail(events.length, 'stream ended without message_stop');
    return blocks;
}

function applyDelta(block, delta, bad) {
    if (delta.type === 'text_delta' && block.type === 'text') block.text += delta.text;
    else if (delta.type === 'thinking_delta' && block.type === 'thinking')
        block.thinking += delta.thinking;
    else if (delta.type === 'signature_delta' && block.type === 'thinking')
        block.signature += delta.signature;
    else if (delta.type === 'input_json_delta' && block.type === 'tool_use')
        block.json += delta.partial_json;
    else bad();
}
