#!/usr/bin/env node
// spec/conformance/record.mjs: records what a Claude Code version sends, scenario by scenario,
// and says what changed against another version. Runs every scenario of scenarios.mjs with the
// CLI talking straight to the mock upstream, and writes spec/conformance/fixtures/<version>.json:
// for each scenario, the CLI's exit code and output, and the shape of each request it made
// (path, headers by name with the values that matter, body fields, tools, content block types),
// with what changes from run to run (ids, paths, dates) left out. With --bodies DIR it also
// keeps every request's headers and body under DIR/<scenario>/, as spec/fixtures/claude-code/
// holds them for the tests that replay real requests.
//
//   node spec/conformance/record.mjs [--version V | --claude PATH] [--against V]
//                                    [--only a,b] [--bodies DIR]
//
// --version installs @anthropic-ai/claude-code@V from the npm registry (once); the default is
// the pinned CLI. --against (default: the pinned version) prints the differences from that
// version's recorded fixtures. A new release is checked with one command:
//   node spec/conformance/record.mjs --version 2.1.400 && node spec/conformance/run.mjs --version 2.1.400

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { claudeBinary, runCommand, startHarness } from '../e2e/lib/harness.mjs';
import { claudeForVersion, pinnedVersion } from './cli_version.mjs';
import { SCENARIOS } from './scenarios.mjs';
import { parseOptions } from './options.mjs';
import { diffFixtures, requestShape } from './shape.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.join(here, 'fixtures');

function parseArgs(argv) {
    return parseOptions(argv, {
        '--version': ['version', 'value'],
        '--claude': ['claude', 'path'],
        '--against': ['against', 'value'],
        '--only': ['only', 'list'],
        '--bodies': ['bodies', 'path'],
    }, { only: null, against: pinnedVersion(here), bodies: null }, 'record.mjs');
}

function keepBodies(dir, scenario, requests) {
    const d = path.join(dir, scenario.name);
    fs.mkdirSync(d, { recursive: true });
    requests.forEach((r, i) => {
        const stem = `${String(i + 1).padStart(2, '0')}-${r.path.split('?')[0].split('/').pop()}`;
        fs.writeFileSync(path.join(d, `${stem}.headers.json`), JSON.stringify(r.headers, null, 1) + '\n');
        fs.writeFileSync(path.join(d, `${stem}.body.json`), r.body);
    });
}

async function main() {
    const o = parseArgs(process.argv.slice(2));
    if (o.version) process.env.CLAUDE_BIN = await claudeForVersion(o.version, here);
    if (o.claude) process.env.CLAUDE_BIN = o.claude;
    const v = await runCommand(claudeBinary(), ['--version'], { timeoutMs: 30000 });
    const version = (/(\d+\.\d+\.\d+)/.exec(v.stdout) || [])[1];
    if (!version) throw new Error(`cannot tell the CLI's version from: ${v.stdout}${v.stderr}`);

    const h = await startHarness({ translate: false });
    h.direct = true;
    const scenarios = {};
    try {
        for (const s of SCENARIOS.filter((x) => !o.only || o.only.includes(x.name))) {
            await h.mock.reset();
            if (s.steps) await h.mock.script(s.steps('anthropic'));
            const run = await h.runClaude([...s.args, '--model', 'claude-sonnet-5-5'], {
                env: s.env || {},
                timeoutMs: s.timeoutMs || 120000,
            });
            const requests = (await h.mock.requests()).filter((r) => !r.path.startsWith('/__mock'));
            scenarios[s.name] = {
                code: run.code,
                requests: requests.map(requestShape),
            };
            if (o.bodies) keepBodies(o.bodies, s, requests);
            console.log(`${s.name}: exit ${run.code}, ${requests.length} requests`);
        }
    } finally {
        await h.stop();
    }
    fs.mkdirSync(FIXTURES, { recursive: true });
    const file = path.join(FIXTURES, `${version}.json`);
    /* With --only, the other scenarios' records stay as they were. */
    const kept = o.only && fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')).scenarios : {};
    const fixture = { version, scenarios: { ...kept, ...scenarios } };
    fs.writeFileSync(file, JSON.stringify(fixture, null, 1) + '\n');
    console.log(`wrote ${path.relative(process.cwd(), file)}`);

    const againstFile = path.join(FIXTURES, `${o.against}.json`);
    if (o.against === version) return;
    if (!fs.existsSync(againstFile)) {
        console.log(`no fixtures of ${o.against} to compare with (${againstFile})`);
        return;
    }
    const before = JSON.parse(fs.readFileSync(againstFile, 'utf8'));
    const lines = diffFixtures(before, fixture);
    console.log(`\nwhat ${version} sends differently from ${o.against}:`);
    console.log(lines.length ? lines.join('\n') : '  nothing in these scenarios');
}

main().catch((err) => {
    console.error(`record: ${err.message}`);
    process.exitCode = 2;
});
