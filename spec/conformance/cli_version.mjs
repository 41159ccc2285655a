// spec/conformance/cli_version.mjs: a Claude Code CLI of a given version for the conformance
// runs. The pinned one is spec/e2e's; any other is installed once from the npm registry into
// spec/conformance/.cli/<version> (not part of the repository) and reused after.

import fs from 'node:fs';
import path from 'node:path';
import { claudeBinaryIn as binaryIn, runCommand } from '../e2e/lib/harness.mjs';

const PACKAGE = '@anthropic-ai/claude-code';

/** The pinned version: spec/e2e/package.json's dependency. */
export function pinnedVersion(here) {
    const pkg = JSON.parse(fs.readFileSync(path.join(here, '../e2e/package.json'), 'utf8'));
    return pkg.dependencies[PACKAGE];
}

/** Path of the CLI binary of `version`, installing it first when needed. */
export async function claudeForVersion(version, here) {
    if (!/^\d+\.\d+\.\d+$/.test(version)) {
        throw new Error(`--version wants an exact version such as 2.1.332, not '${version}'`);
    }
    if (version === pinnedVersion(here)) {
        const pinned = binaryIn(path.join(here, '../e2e/node_modules'));
        if (pinned) return pinned;
    }
    const dir = path.join(here, '.cli', version);
    let bin = binaryIn(path.join(dir, 'node_modules'));
    if (bin) return bin;
    fs.mkdirSync(dir, { recursive: true });
    console.log(`installing ${PACKAGE}@${version} into ${dir}`);
    const run = await runCommand(
        'npm',
        ['install', '--prefix', dir, '--no-audit', '--no-fund', '--loglevel=error',
            `${PACKAGE}@${version}`],
        { env: process.env, timeoutMs: 600000 },
    );
    if (run.code !== 0) {
        throw new Error(`npm could not install ${PACKAGE}@${version}:\n${run.stderr.slice(-2000)}`);
    }
    bin = binaryIn(path.join(dir, 'node_modules'));
    if (!bin) throw new Error(`${PACKAGE}@${version} installed, but no claude binary under ${dir}`);
    return bin;
}
