// ccproxy's dashboard: reads /ui/api/summary every few seconds and draws it. The charts are
// inline SVG built here (no library, nothing from elsewhere); every text goes in through
// textContent, never as markup.
'use strict';

const REFRESH_MS = 5000;
const SVG_NS = 'http://www.w3.org/2000/svg';
const TOKEN_SERIES = [
    { key: 'input', name: 'input', cls: 's-input' },
    { key: 'output', name: 'output', cls: 's-output' },
    { key: 'cache_read', name: 'cache read', cls: 's-cache-read' },
    { key: 'cache_creation', name: 'cache write', cls: 's-cache-write' },
];
const MAX_DAYS_SHOWN = 31;
const MAX_MODELS_SHOWN = 12;

// --- formatting ---------------------------------------------------------------------------

function fmtCost(v) {
    if (v === null || v === undefined) return '?';
    if (v === 0) return '$0';
    if (v < 0.01) return '$' + v.toPrecision(3);
    if (v < 1) return '$' + v.toFixed(4);
    return '$' + v.toFixed(2);
}

// A cost on an axis: at most three digits, no trailing zeros ("$0.00005", "$0.0125", "$2.5").
function fmtCostAxis(v) {
    return v === 0 ? '$0' : '$' + String(parseFloat(v.toPrecision(3)));
}

function fmtTokens(v) {
    if (v === null || v === undefined) return '–';
    if (v < 1000) return String(v);
    if (v < 1e6) return (v / 1e3).toFixed(v < 1e4 ? 1 : 0) + 'k';
    if (v < 1e9) return (v / 1e6).toFixed(v < 1e7 ? 2 : 1) + 'M';
    return (v / 1e9).toFixed(2) + 'G';
}

function fmtMs(v) {
    if (v === null || v === undefined) return '–';
    if (v < 1000) return Math.round(v) + ' ms';
    return (v / 1000).toFixed(v < 10000 ? 2 : 1) + ' s';
}

function fmtDuration(s) {
    s = Math.floor(s);
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (d) return d + 'd ' + h + 'h';
    if (h) return h + 'h ' + m + 'm';
    if (m) return m + 'm ' + sec + 's';
    return sec + 's';
}

function pad2(n) {
    return n < 10 ? '0' + n : String(n);
}

function fmtTime(ms) {
    const d = new Date(ms);
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
}

function sumTokens(t) {
    return t.input + t.output + t.cache_read + t.cache_creation;
}

// --- DOM helpers --------------------------------------------------------------------------

function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
}

function svgEl(tag, attrs, text) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
}

function shorten(s, n) {
    return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

// A round number at or above v, for an axis.
function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
}

// A series' name in a tooltip ("cost", not the legend's longer words).
function seriesName(s) {
    return s.key === 'cost' ? 'cost' : s.name;
}

function legend(series) {
    const ul = el('ul', { class: 'legend' });
    for (const s of series) {
        const li = el('li');
        li.appendChild(el('span', { class: 'swatch ' + s.cls }));
        li.appendChild(document.createTextNode(s.name));
        ul.appendChild(li);
    }
    return ul;
}

// Replaces a figure's chart (keeps its caption).
function setChart(id, nodes) {
    const fig = document.getElementById(id);
    const cap = fig.querySelector('figcaption');
    fig.replaceChildren(cap, ...nodes);
}

function emptyChart(text) {
    return el('p', { class: 'empty' }, text);
}

// Vertical bars, stacked by series: rows [{key, label, title, values[], text}] (text: the
// figure over the bar, else the values' sum).
function columnChart(kind, rows, series, fmt) {
    const W = 560, H = 180, L = 64, R = 10, T = 14, B = 30;
    const pw = W - L - R, ph = H - T - B;
    const total = (r) => r.values.reduce((a, b) => a + b, 0);
    const max = niceMax(Math.max(0, ...rows.map(total)));
    const s = svgEl('svg', {
        viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'data-chart': kind,
        'aria-label': kind,
    });
    for (let i = 0; i <= 4; i++) {
        const y = T + ph - (ph * i) / 4;
        s.appendChild(svgEl('line', { x1: L, x2: W - R, y1: y, y2: y, class: 'grid' }));
        s.appendChild(svgEl('text', { x: L - 6, y: y + 4, class: 'axis', 'text-anchor': 'end' },
            (fmt === fmtCost ? fmtCostAxis : fmt)((max * i) / 4)));
    }
    const slot = pw / Math.max(rows.length, 1);
    const bw = Math.max(4, Math.min(44, slot * 0.7));
    const every = Math.ceil(rows.length / 12); // at most 12 labels under the bars
    rows.forEach((r, i) => {
        const x = L + slot * i + (slot - bw) / 2;
        let y = T + ph;
        const g = svgEl('g', { class: 'column', 'data-key': r.key });
        r.values.forEach((v, j) => {
            if (!(v > 0)) return;
            const h = Math.max(1, (ph * v) / max);
            y -= h;
            const rect = svgEl('rect', {
                x: x.toFixed(1), y: y.toFixed(1), width: bw.toFixed(1), height: h.toFixed(1),
                class: 'bar ' + series[j].cls, 'data-key': r.key, 'data-series': series[j].key,
                'data-value': v,
            });
            rect.appendChild(svgEl('title', {}, `${r.title}: ${seriesName(series[j])} ${fmt(v)}`));
            g.appendChild(rect);
        });
        if (i % every === 0)
            g.appendChild(svgEl('text', { x: (x + bw / 2).toFixed(1), y: H - B + 16, class: 'axis',
                'text-anchor': 'middle' }, r.label));
        const t = total(r);
        if (rows.length <= 16)
            g.appendChild(svgEl('text', { x: (x + bw / 2).toFixed(1), y: (y - 4).toFixed(1),
                class: 'value', 'text-anchor': 'middle' }, r.text !== undefined ? r.text : fmt(t)));
        s.appendChild(g);
    });
    s.appendChild(svgEl('line', { x1: L, x2: W - R, y1: T + ph, y2: T + ph, class: 'baseline' }));
    return s;
}

// Horizontal bars, stacked by series: rows [{key, label, values[], text}], in their order.
function barChart(kind, rows, series, fmt) {
    const W = 560, L = 190, R = 96, ROW = 24, T = 4;
    const H = T * 2 + ROW * rows.length;
    const pw = W - L - R;
    const total = (r) => r.values.reduce((a, b) => a + b, 0);
    const max = Math.max(0, ...rows.map(total)) || 1;
    const s = svgEl('svg', {
        viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'data-chart': kind,
        'aria-label': kind,
    });
    rows.forEach((r, i) => {
        const y = T + ROW * i;
        const g = svgEl('g', { class: 'row', 'data-key': r.key });
        const name = svgEl('text', { x: L - 8, y: y + ROW / 2 + 4, class: 'label',
            'text-anchor': 'end' }, shorten(r.label, 28));
        name.appendChild(svgEl('title', {}, r.label));
        g.appendChild(name);
        let x = L;
        r.values.forEach((v, j) => {
            if (!(v > 0)) return;
            const w = Math.max(1, (pw * v) / max);
            const rect = svgEl('rect', {
                x: x.toFixed(1), y: y + 4, width: w.toFixed(1), height: ROW - 8,
                class: 'bar ' + series[j].cls, 'data-key': r.key, 'data-series': series[j].key,
                'data-value': v,
            });
            rect.appendChild(svgEl('title', {}, `${r.label}: ${seriesName(series[j])} ${fmt(v)}`));
            g.appendChild(rect);
            x += w;
        });
        g.appendChild(svgEl('text', { x: (x + 6).toFixed(1), y: y + ROW / 2 + 4, class: 'value' },
            r.text !== undefined ? r.text : fmt(total(r))));
        s.appendChild(g);
    });
    return s;
}

// --- the sections -------------------------------------------------------------------------

function drawProcess(d) {
    const dl = document.getElementById('process');
    const r = d.last_reload;
    const reload = !r ? 'none yet' : (r.ok ? 'ok' : 'FAILED') + ' at ' + r.at.replace('T', ' ');
    const facts = [
        ['version', d.version],
        ['up', fmtDuration(d.uptime_s)],
        ['generation', String(d.generation)],
        ['workers', String(d.workers)],
        ['last reload', reload],
    ];
    dl.replaceChildren();
    for (const [k, v] of facts) {
        dl.appendChild(el('dt', {}, k));
        dl.appendChild(el('dd', { class: k === 'last reload' && r && !r.ok ? 'bad' : '' }, v));
    }
    document.body.setAttribute('data-reload', !r ? 'none' : r.ok ? 'ok' : 'failed');
}

// A banner only when the last reload needs attention: it failed, or a restart is needed.
function drawReload(d) {
    const sec = document.getElementById('reload');
    const r = d.last_reload;
    sec.replaceChildren();
    if (!r || (r.ok && !r.restart_needed)) {
        sec.hidden = true;
        return;
    }
    sec.hidden = false;
    sec.className = 'banner ' + (r.ok ? 'warn' : 'bad');
    const head = r.ok ? 'The last reload succeeded' :
        'The last reload FAILED: the previous configuration stays in use';
    sec.appendChild(el('b', {}, head));
    const when = ` (at ${r.at}, reload ${r.count}, generation ${d.generation}).`;
    sec.appendChild(el('span', {}, when));
    if (r.error) sec.appendChild(el('pre', {}, r.error));
    if (r.restart_needed)
        sec.appendChild(el('p', {}, 'Applies only after a restart: ' + r.restart_needed));
}

function drawTotals(d) {
    const t = d.totals;
    const cards = [
        ['requests', String(t.requests), ''],
        ['errors', String(t.errors), t.errors ? 'bad' : ''],
        ['tokens in', fmtTokens(t.tokens.input), ''],
        ['tokens out', fmtTokens(t.tokens.output), ''],
        ['cache read', fmtTokens(t.tokens.cache_read), ''],
        ['cache write', fmtTokens(t.tokens.cache_creation), ''],
        ['cost', fmtCost(t.cost_usd), '', t.cost_unknown ? `+ ${t.cost_unknown} unknown` : ''],
    ];
    const sec = document.getElementById('totals');
    sec.replaceChildren();
    for (const [name, value, cls, note] of cards) {
        const c = el('div', { class: 'card ' + cls, 'data-total': name });
        c.appendChild(el('div', { class: 'value' }, value));
        c.appendChild(el('div', { class: 'name' }, name));
        if (note) c.appendChild(el('div', { class: 'note' }, note));
        sec.appendChild(c);
    }
}

// Beside a cost: how many requests had tokens without a price ("$0.02 +3?", or "?" alone).
function unknownNote(t) {
    return t.cost_unknown ? ` +${t.cost_unknown}?` : '';
}

function costText(t) {
    return t.cost_usd === 0 && t.cost_unknown ? '?' : fmtCost(t.cost_usd) + unknownNote(t);
}

function drawCharts(d) {
    const days = d.days.slice(-MAX_DAYS_SHOWN);
    const tokenVals = (t) => TOKEN_SERIES.map((s) => t.tokens[s.key]);
    const costSeries = [
        { key: 'cost', name: 'cost (US$, of the requests whose prices are known)', cls: 's-cost' },
    ];
    if (!days.length) {
        setChart('chart-cost-day', [emptyChart('No requests yet.')]);
        setChart('chart-tokens-day', [emptyChart('No requests yet.')]);
    } else {
        const dayRow = (x, values, text) => ({
            key: x.date, label: x.date.slice(5), title: x.date, values, text,
        });
        setChart('chart-cost-day', [legend(costSeries), columnChart('cost per day',
            days.map((x) => dayRow(x, [x.cost_usd], costText(x))), costSeries, fmtCost)]);
        setChart('chart-tokens-day', [legend(TOKEN_SERIES), columnChart('tokens per day',
            days.map((x) => dayRow(x, tokenVals(x))), TOKEN_SERIES, fmtTokens)]);
    }
    const top = (list, by) => {
        const sorted = list.slice().sort((a, b) => by(b) - by(a) || b.requests - a.requests);
        return { shown: sorted.slice(0, MAX_MODELS_SHOWN), more: sorted.length - MAX_MODELS_SHOWN };
    };
    const moreNote = (n) => (n > 0 ? [el('p', { class: 'muted' }, `and ${n} more`)] : []);
    if (!d.models.length) {
        setChart('chart-cost-model', [emptyChart('No requests yet.')]);
        setChart('chart-tokens-model', [emptyChart('No requests yet.')]);
        return;
    }
    const byCost = top(d.models, (m) => m.cost_usd);
    const costRows = byCost.shown.map((m) => ({
        key: m.model, label: m.model, values: [m.cost_usd], text: costText(m),
    }));
    setChart('chart-cost-model', [legend(costSeries),
        barChart('cost per model', costRows, costSeries, fmtCost), ...moreNote(byCost.more)]);
    const byTokens = top(d.models, (m) => sumTokens(m.tokens));
    setChart('chart-tokens-model', [legend(TOKEN_SERIES), barChart('tokens per model',
        byTokens.shown.map((m) => ({ key: m.model, label: m.model, values: tokenVals(m) })),
        TOKEN_SERIES, fmtTokens), ...moreNote(byTokens.more)]);
}

function drawCooldowns(d) {
    const body = document.querySelector('#cooldowns .body');
    body.replaceChildren();
    if (!d.cooldowns.length) {
        body.appendChild(el('p', { class: 'muted' }, 'None: every deployment can be picked.'));
        return;
    }
    const t = el('table');
    const head = el('tr');
    for (const h of ['deployment', 'model', 'status', 'seconds left'])
        head.appendChild(el('th', h === 'seconds left' ? { class: 'num' } : {}, h));
    t.appendChild(el('thead')).appendChild(head);
    const tb = t.appendChild(el('tbody'));
    for (const c of d.cooldowns) {
        const tr = el('tr', { 'data-deployment': c.model_name });
        tr.appendChild(el('td', {}, c.model_name));
        tr.appendChild(el('td', {}, c.model));
        tr.appendChild(el('td', {}, String(c.status)));
        tr.appendChild(el('td', { class: 'num' }, c.seconds_left.toFixed(1)));
        tb.appendChild(tr);
    }
    body.appendChild(t);
}

function statusClass(r) {
    if (r.outcome || r.status >= 500) return 'bad';
    if (r.status >= 400) return 'warn';
    return 'ok';
}

function drawRequests(d) {
    const tb = document.querySelector('#recent tbody');
    tb.replaceChildren();
    if (!d.requests.length) {
        const tr = el('tr');
        tr.appendChild(el('td', { colspan: 12, class: 'muted' }, 'No requests yet.'));
        tb.appendChild(tr);
        return;
    }
    for (const r of d.requests) {
        const tr = el('tr', { class: 'req', 'data-id': r.id });
        const time = el('td', { title: new Date(r.time_ms).toString() }, fmtTime(r.time_ms));
        tr.appendChild(time);
        tr.appendChild(el('td', { class: 'mono' }, r.id));
        const route = el('td', { class: 'route' });
        route.appendChild(el('span', { class: 'label' }, r.label || 'default'));
        route.appendChild(document.createTextNode(' → '));
        route.appendChild(el('span', { class: 'deployment' }, r.deployment || 'nowhere'));
        if (r.sent_model) route.appendChild(el('span', { class: 'model' }, r.sent_model));
        const asked = r.requested_model && r.requested_model !== r.sent_model ?
            `asked for ${r.requested_model}; ` : '';
        route.title = `${asked}${r.endpoint || ''}${r.stream ? ', stream' : ''}`;
        tr.appendChild(route);
        const st = el('td', { class: 'status ' + statusClass(r) }, String(r.status));
        if (r.outcome) st.appendChild(el('span', { class: 'outcome' }, r.outcome));
        tr.appendChild(st);
        const retried = r.attempts > 1 ? ' warn' : '';
        tr.appendChild(el('td', { class: 'num' + retried }, String(r.attempts)));
        const u = r.usage;
        tr.appendChild(el('td', { class: 'num' }, fmtTokens(u ? u.input : null)));
        tr.appendChild(el('td', { class: 'num' }, fmtTokens(u ? u.output : null)));
        tr.appendChild(el('td', { class: 'num' }, fmtTokens(u ? u.cache_read : null)));
        tr.appendChild(el('td', { class: 'num' }, fmtTokens(u ? u.cache_creation : null)));
        tr.appendChild(el('td', { class: 'num' }, u ? fmtCost(r.cost_usd) : '–'));
        tr.appendChild(el('td', { class: 'num' }, fmtMs(r.ttfb_ms)));
        tr.appendChild(el('td', { class: 'num' }, fmtMs(r.total_ms)));
        tb.appendChild(tr);
    }
}

function draw(d) {
    drawProcess(d);
    drawReload(d);
    drawTotals(d);
    drawCharts(d);
    drawCooldowns(d);
    drawRequests(d);
    document.body.setAttribute('data-state', 'loaded');
    document.body.setAttribute('data-requests', String(d.totals.requests));
    const up = document.getElementById('updated');
    up.className = 'muted';
    up.textContent = 'updated ' + fmtTime(d.now_ms);
}

let busy = false; // a summary still on its way: the next tick waits for it

async function refresh() {
    if (busy) return;
    busy = true;
    try {
        const res = await fetch('api/summary', { cache: 'no-store' });
        if (!res.ok)
            throw new Error('HTTP ' + res.status + ': ' + (await res.text()).slice(0, 300));
        draw(await res.json());
    } catch (e) {
        const up = document.getElementById('updated');
        up.className = 'error';
        up.textContent =
            'cannot read the summary (' + e.message + '); the figures below may be old';
        if (document.body.getAttribute('data-state') === 'loading')
            document.body.setAttribute('data-state', 'error');
    } finally {
        busy = false;
    }
}

refresh();
setInterval(refresh, REFRESH_MS);
