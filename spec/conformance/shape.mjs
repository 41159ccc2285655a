// spec/conformance/shape.mjs: the shape of a request Claude Code sent, for fixtures that can be
// compared across versions: what a gateway depends on (path, headers, body fields, betas,
// tools and how they are loaded, content block types, system blocks), without what changes
// from run to run (ids, session ids, paths, dates, the prompt's own text).

/* Headers whose values matter to a gateway; the others are kept by name only. */
const VALUED = new Set([
    'anthropic-version',
    'anthropic-beta',
    'anthropic-dangerous-direct-browser-access',
    'x-app',
    'content-type',
    'accept',
]);

function headerShape(headers) {
    const out = {};
    for (const [name, value] of headers) {
        const n = name.toLowerCase();
        if (n === 'user-agent') out[n] = String(value).replace(/\d+\.\d+\.\d+/, '<version>');
        else if (n === 'anthropic-beta') out[n] = String(value).split(',').map((b) => b.trim()).sort();
        else out[n] = VALUED.has(n) ? value : '<value>';
    }
    return out;
}

function blockTypes(content) {
    if (typeof content === 'string') return ['string'];
    if (!Array.isArray(content)) return [];
    return content.map((b) => {
        if (!b || typeof b !== 'object') return typeof b;
        if (b.type === 'tool_result' && Array.isArray(b.content)) {
            return `tool_result[${b.content.map((c) => c.type).join(',')}]`;
        }
        return b.cache_control ? `${b.type}+cache` : b.type;
    });
}

function toolShape(t) {
    const parts = [t.name || t.type];
    if (t.type && t.type !== 'custom' && t.name) parts.push(`type=${t.type}`);
    if (t.defer_loading) parts.push('defer_loading');
    if (t.cache_control) parts.push('cache');
    return parts.join(' ');
}

/** The shape of one request of the mock's record ({path, headers, body}). */
export function requestShape(rec) {
    let body = null;
    try {
        body = JSON.parse(rec.body);
    } catch {
        /* not JSON: only its size */
    }
    const shape = {
        method: rec.method,
        path: rec.path,
        headers: headerShape(rec.headers || []),
    };
    if (!body || typeof body !== 'object') {
        shape.body_bytes = rec.body ? rec.body.length : 0;
        return shape;
    }
    shape.keys = Object.keys(body).sort();
    for (const k of ['model', 'stream', 'max_tokens', 'temperature']) {
        if (k in body) shape[k] = body[k];
    }
    if (body.thinking) shape.thinking = Object.keys(body.thinking).sort().map((k) => `${k}=${typeof body.thinking[k] === 'string' ? body.thinking[k] : typeof body.thinking[k]}`);
    if (body.tool_choice) shape.tool_choice = body.tool_choice.type;
    if (Array.isArray(body.tools)) shape.tools = body.tools.map(toolShape).sort();
    if (Array.isArray(body.system)) {
        shape.system = body.system.map((b) => {
            const start = String(b.text || '').slice(0, 40).replace(/\d+/g, 'N');
            return `${b.type}${b.cache_control ? '+cache' : ''}: ${start}`;
        });
    } else if (typeof body.system === 'string') {
        shape.system = ['string'];
    }
    if (Array.isArray(body.messages)) {
        shape.messages = body.messages.map((m) => `${m.role}: ${blockTypes(m.content).join(',')}`);
    }
    if (body.metadata) shape.metadata = Object.keys(body.metadata).sort();
    for (const k of ['context_management', 'output_config']) {
        if (body[k]) shape[k] = JSON.stringify(body[k]).replace(/\d+/g, 'N');
    }
    return shape;
}

function setDiff(a = [], b = []) {
    const A = new Set(a);
    const B = new Set(b);
    const added = [...B].filter((x) => !A.has(x));
    const removed = [...A].filter((x) => !B.has(x));
    const out = [];
    if (added.length) out.push(`+ ${added.join(', ')}`);
    if (removed.length) out.push(`- ${removed.join(', ')}`);
    return out.join('; ');
}

/** What differs between two shapes of a request, one line per kind of difference. */
function requestDiff(a, b) {
    const lines = [];
    const note = (what, text) => {
        if (text) lines.push(`${what} ${text}`);
    };
    for (const k of ['method', 'path', 'model', 'stream', 'max_tokens', 'temperature',
        'tool_choice', 'context_management', 'output_config']) {
        if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) {
            note(k, `${JSON.stringify(a[k])} -> ${JSON.stringify(b[k])}`);
        }
    }
    note('body fields', setDiff(a.keys, b.keys));
    note('headers', setDiff(Object.keys(a.headers), Object.keys(b.headers)));
    note('betas', setDiff(a.headers['anthropic-beta'], b.headers['anthropic-beta']));
    for (const h of ['anthropic-version', 'x-app', 'user-agent']) {
        if (a.headers[h] !== b.headers[h] && h in a.headers && h in b.headers) {
            note(h, `${a.headers[h]} -> ${b.headers[h]}`);
        }
    }
    note('tools', setDiff(a.tools, b.tools));
    note('thinking', setDiff(a.thinking, b.thinking));
    note('metadata', setDiff(a.metadata, b.metadata));
    if (JSON.stringify(a.system) !== JSON.stringify(b.system)) {
        note('system blocks', `${JSON.stringify(a.system)} -> ${JSON.stringify(b.system)}`);
    }
    if (JSON.stringify(a.messages) !== JSON.stringify(b.messages)) {
        note('messages', `${JSON.stringify(a.messages)} -> ${JSON.stringify(b.messages)}`);
    }
    return lines;
}

/** Lines saying how fixture `b` differs from fixture `a` (both as record.mjs writes them):
 *  what differs in every request of most scenarios once, then per scenario what else differs,
 *  and in which of its requests. + is what `b` has and `a` has not. */
export function diffFixtures(a, b) {
    const perScenario = [];
    for (const [name, sb] of Object.entries(b.scenarios)) {
        const sa = a.scenarios[name];
        if (!sa) {
            perScenario.push({ name, head: [`not recorded for ${a.version}`], lines: new Map() });
            continue;
        }
        const head = [];
        if (sa.code !== sb.code) head.push(`exit ${sa.code} -> ${sb.code}`);
        if (sa.requests.length !== sb.requests.length) {
            head.push(`${sa.requests.length} -> ${sb.requests.length} requests`);
        }
        const lines = new Map();
        const n = Math.min(sa.requests.length, sb.requests.length);
        for (let i = 0; i < n; i++) {
            for (const line of requestDiff(sa.requests[i], sb.requests[i])) {
                if (!lines.has(line)) lines.set(line, []);
                lines.get(line).push(i + 1);
            }
        }
        perScenario.push({ name, head, lines, n });
    }
    /* A difference in every request of most scenarios is said once. */
    const whole = new Map();
    for (const { lines, n } of perScenario) {
        for (const [line, reqs] of lines) {
            if (reqs.length === n) whole.set(line, (whole.get(line) || 0) + 1);
        }
    }
    const common = [...whole].filter(([, k]) => 2 * k > perScenario.length).map(([l]) => l);
    const out = common.map((l) => `every request of most scenarios: ${l}`);
    for (const { name, head, lines, n } of perScenario) {
        const own = [...lines].filter(([l, reqs]) => !(common.includes(l) && reqs.length === n));
        if (!head.length && !own.length) continue;
        out.push(`${name}: ${head.join(', ') || 'same number of requests'}`);
        for (const [line, reqs] of own) {
            const which = reqs.length === n ? 'every request' : `request ${reqs.join(', ')}`;
            out.push(`  ${which}: ${line}`);
        }
    }
    return out;
}
