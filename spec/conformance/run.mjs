#!/usr/bin/env node
// spec/conformance/run.mjs: the conformance matrix. Runs the real Claude Code CLI over every
// scenario of scenarios.mjs, once straight at the mock upstream (the baseline: what Claude
// Code does against an Anthropic API that behaves so) and once through ccproxy on each kind of
// route (Anthropic pass-through, OpenAI-compatible, Gemini: the same mock answers in each
// dialect), and prints a matrix, scenario x route. A cell passes when the proxied run matches
// the baseline in exit code, output and the number of API calls the CLI made; a cell that
// differs is run once more and fails when it differs again.
//
//   node spec/conformance/run.mjs [--version V | --claude PATH] [--only a,b] [--routes r,s]
//                                 [--json FILE] [--markdown]
//
// --version installs @anthropic-ai/claude-code@V from the npm registry into
// spec/conformance/.cli/V (once) and runs that; the default is the pinned CLI of spec/e2e.
// --markdown prints the matrix as the table docs/claude-code.md shows. Exits 1 when a cell
// fails. Needs spec/e2e's node_modules (npm ci there) and a built ccproxy (CCPROXY_BIN or
// build/ccproxy). Talks to loopback only.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TRANSLATE, claudeBinary, runCommand, startHarness } from '../e2e/lib/harness.mjs';
import { EXPERIMENTS, SCENARIOS as LISTED } from './scenarios.mjs';

const SCENARIOS = process.env.CONFORMANCE_EXPERIMENTS === '1' ? [...LISTED, ...EXPERIMENTS] : LISTED;
import { claudeForVersion } from './cli_version.mjs';
import { parseOptions } from './options.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/* A route: the model the CLI asks for, which ccproxy's e2e config sends that way. */
export const ROUTES = {
    anthropic: { model: 'claude-sonnet-5-5', label: 'Anthropic (pass-through)', dialect: 'anthropic' },
    openai: { model: TRANSLATE.openai.clientModel, label: 'OpenAI-compatible', dialect: 'openai' },
    gemini: { model: TRANSLATE.gemini.clientModel, label: 'Gemini', dialect: 'gemini' },
};

function parseArgs(argv) {
    const o = parseOptions(argv, {
        '--version': ['version', 'value'],
        '--claude': ['claude', 'path'],
        '--only': ['only', 'list'],
        '--routes': ['routes', 'list'],
        '--json': ['json', 'path'],
        '--markdown': ['markdown', 'flag'],
    }, { only: null, routes: Object.keys(ROUTES), json: null, markdown: false }, 'run.mjs');
    for (const r of o.routes) {
        if (!ROUTES[r]) throw new Error(`unknown route ${r}: one of ${Object.keys(ROUTES)}`);
    }
    if (o.only) {
        for (const n of o.only) {
            if (!SCENARIOS.some((s) => s.name === n)) throw new Error(`unknown scenario ${n}`);
        }
    }
    return o;
}

/** The Claude Code version a binary reports ("2.1.332 (Claude Code)" -> "2.1.332"). */
async function versionOf() {
    const run = await runCommand(claudeBinary(), ['--version'], { timeoutMs: 30000 });
    const m = /(\d+\.\d+\.\d+)/.exec(run.stdout);
    return m ? m[1] : 'unknown';
}

/** The output with what changes from run to run left out: subagent ids, temp paths, the
 *  gateway's port (the mock's directly, the proxy's through it), the order of tool results
 *  the CLI collects as its parallel tools finish, and how a failed tool result is marked. */
function normalize(stdout) {
    return stdout
        .trim()
        .replace(/\ba[0-9a-f]{16}\b/g, '<agent id>')
        .replace(/\/tmp\/\S+/g, '<temp path>')
        .replace(/\(127\.0\.0\.1:\d+\)/g, '(<gateway>)')
        /* Chat Completions has no is_error: a failed tool result reaches an OpenAI-compatible
         * model as "Error: <its text>", which the mock echoes back. */
        .replace(/^Tool said: Error: /gm, 'Tool said: ')
        .replace(/^Tool said: (.*)$/gm, (_, list) => `Tool said: ${list.split('; ').sort().join('; ')}`);
}

/** What an answer's output says, for comparison: all of it, or for an error what Claude Code
 *  made of it (its status, its class, its advice) without the error's own message, which a
 *  translated provider words its own way. */
function outputKey(scenario, stdout) {
    const text = normalize(stdout);
    const mode = scenario.output || 'exact';
    if (mode === 'exact') return text;
    if (mode === 'shape') return text.replace(/\d+(\.\d+)?/g, 'N');
    return text
        .split('\n')
        .map((line) =>
            line
                .replace(/(API Error: \d{3}) .*?(\. This is a server-side|$)/, '$1 <message>$2')
                .replace(/ · .*$/, ' · <message>'),
        )
        .join('\n');
}

/** One run of a scenario: exit code, output key, and the API calls the CLI made. */
async function runOnce(h, scenario, route) {
    const model = ROUTES[route].model;
    await h.mock.reset();
    /* Scripted answers speak the dialect of whoever asks: Anthropic's directly. */
    if (scenario.steps) await h.mock.script(scenario.steps(h.direct ? 'anthropic' : ROUTES[route].dialect));
    const logStart = h.proxyOutput.length;
    const run = await h.runClaude([...scenario.args, '--model', model], {
        env: scenario.env || {},
        timeoutMs: scenario.timeoutMs || 120000,
    });
    const upstream = (await h.mock.requests()).filter((r) => !r.path.startsWith('/__mock'));
    let calls;
    let counts;
    if (h.direct) {
        calls = upstream.filter((r) => /^\/v1\/messages(\?|$)/.test(r.path)).length;
        counts = upstream.filter((r) => /^\/v1\/messages\/count_tokens(\?|$)/.test(r.path)).length;
    } else {
        /* The CLI's calls are the proxy's request lines, not the upstream's: ccproxy may make
         * more attempts of its own (retries, fallbacks) than the client did. */
        const log = h.proxyOutput.slice(logStart);
        calls = (log.match(/ POST \/v1\/messages(\?\S*)? rule=/g) || []).length;
        counts = (log.match(/ POST \/v1\/messages\/count_tokens(\?\S*)? rule=/g) || []).length;
    }
    return {
        code: run.code,
        output: outputKey(scenario, run.stdout),
        calls,
        counts,
        upstreamCalls: upstream.length,
        ms: run.ms,
        stdout: run.stdout,
        stderr: run.stderr,
    };
}

function compareRuns(scenario, base, got) {
    const diffs = [];
    const want = scenario.compare || ['code', 'output', 'attempts'];
    if (want.includes('code') && base.code !== got.code) {
        diffs.push(`exit code ${got.code}, directly ${base.code}`);
    }
    if (want.includes('output') && base.output !== got.output) {
        diffs.push(`output ${JSON.stringify(got.output.slice(0, 200))}, directly ` +
            JSON.stringify(base.output.slice(0, 200)));
    }
    if (want.includes('attempts') && base.calls !== got.calls) {
        diffs.push(`${got.calls} API calls, directly ${base.calls}`);
    }
    if (want.includes('attempts') && base.counts !== got.counts) {
        diffs.push(`${got.counts} count_tokens calls, directly ${base.counts}`);
    }
    return diffs;
}

function pad(s, n) {
    return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** "3" API calls, or "0+2ct" with count_tokens calls. */
function callsText(run) {
    return run.counts ? `${run.calls}+${run.counts}ct` : String(run.calls);
}

function printMatrix(results, routes, version) {
    const w = Math.max(...results.map((r) => r.scenario.name.length), 8) + 2;
    const cw = 14;
    console.log(`\nClaude Code ${version} through ccproxy: scenario x route ` +
        '(ok N = same exit code, output and N API calls, +Nct count_tokens calls, as the CLI talking to the mock directly)');
    console.log(pad('scenario', w) + routes.map((r) => pad(r, cw)).join(''));
    for (const r of results) {
        const cells = routes.map((route) => {
            const c = r.cells[route];
            if (!c) return pad('-', cw);
            return pad(c.diffs.length ? 'DIFFERS' : `ok ${callsText(c.got)}`, cw);
        });
        console.log(pad(r.scenario.name, w) + cells.join(''));
    }
    const failures = [];
    for (const r of results) {
        for (const route of routes) {
            const c = r.cells[route];
            if (c && c.diffs.length) failures.push(`${r.scenario.name} on ${route}: ${c.diffs.join('; ')}`);
        }
    }
    if (failures.length) console.log('\n' + failures.join('\n'));
    return failures;
}

function markdownMatrix(results, routes, version) {
    const lines = [];
    lines.push(`| scenario (Claude Code ${version}) | ` +
        routes.map((r) => ROUTES[r].label).join(' | ') + ' |');
    lines.push('|---|' + routes.map(() => '---|').join(''));
    for (const r of results) {
        const cells = routes.map((route) => {
            const c = r.cells[route];
            if (!c) return 'not run';
            return c.diffs.length ? `differs: ${c.diffs.join('; ')}` : `same (${callsText(c.got)})`;
        });
        lines.push(`| ${r.scenario.name}: ${r.scenario.what} | ${cells.join(' | ')} |`);
    }
    return lines.join('\n');
}

async function main() {
    const o = parseArgs(process.argv.slice(2));
    if (o.version) process.env.CLAUDE_BIN = await claudeForVersion(o.version, here);
    if (o.claude) process.env.CLAUDE_BIN = o.claude;
    const scenarios = SCENARIOS.filter((s) => !o.only || o.only.includes(s.name));
    const h = await startHarness({ translate: true });
    const results = [];
    let version = 'unknown';
    try {
        version = await versionOf();
        for (const scenario of scenarios) {
            const r = { scenario, cells: {} };
            for (const route of o.routes) {
                if (scenario.routes && !scenario.routes.includes(route)) continue;
                h.direct = true;
                let base = await runOnce(h, scenario, route);
                h.direct = false;
                let got = await runOnce(h, scenario, route);
                let diffs = compareRuns(scenario, base, got);
                if (diffs.length) {
                    /* A real client on a busy machine: a cell that differs runs once more, and
                     * fails only if it differs again (the first difference is printed). */
                    console.log(`differs once, running it again: ${scenario.name} on ${route}: ` +
                        diffs.join('; '));
                    h.direct = true;
                    base = await runOnce(h, scenario, route);
                    h.direct = false;
                    got = await runOnce(h, scenario, route);
                    diffs = compareRuns(scenario, base, got);
                }
                r.cells[route] = { base, got, diffs };
                const mark = diffs.length ? 'DIFFERS' : 'ok';
                console.log(`${mark} ${scenario.name} on ${route}: exit ${got.code} ` +
                    `(${base.code} directly), ${got.calls} calls (${base.calls}), ` +
                    `${got.ms} ms (${base.ms})`);
                if ((diffs.length && process.env.CONFORMANCE_VERBOSE === '1') || process.env.CONFORMANCE_VERBOSE === '2') {
                    console.log(`--- direct stdout ---\n${base.stdout}\n--- direct stderr ---\n` +
                        `${base.stderr}\n--- proxied stdout ---\n${got.stdout}\n` +
                        `--- proxied stderr ---\n${got.stderr}`);
                }
            }
            results.push(r);
        }
    } finally {
        await h.stop();
    }
    const failures = printMatrix(results, o.routes, version);
    if (o.markdown) console.log('\n' + markdownMatrix(results, o.routes, version));
    if (o.json) {
        const out = results.map((r) => ({
            scenario: r.scenario.name,
            cells: Object.fromEntries(Object.entries(r.cells).map(([route, c]) => [route, {
                same: c.diffs.length === 0,
                diffs: c.diffs,
                direct: { code: c.base.code, calls: c.base.calls, output: c.base.output },
                proxied: { code: c.got.code, calls: c.got.calls, output: c.got.output },
            }])),
        }));
        fs.writeFileSync(o.json, JSON.stringify({ version, results: out }, null, 2) + '\n');
    }
    process.exitCode = failures.length ? 1 : 0;
}

main().catch((err) => {
    console.error(`conformance: ${err.message}`);
    process.exitCode = 2;
});
