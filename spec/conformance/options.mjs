// spec/conformance/options.mjs: the command line of run.mjs and record.mjs. Each option takes
// one value, except the flags listed as such.

import path from 'node:path';

/**
 * Parses argv by `spec`: option name -> [key, kind], kind 'value', 'path' (made absolute),
 * 'list' (comma-separated) or 'flag'. Unknown options are an error that names `script`.
 */
export function parseOptions(argv, spec, defaults, script) {
    const o = { ...defaults };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const entry = spec[a];
        if (!entry) throw new Error(`unknown option ${a} (see the comment at the top of ${script})`);
        const [key, kind] = entry;
        if (kind === 'flag') {
            o[key] = true;
            continue;
        }
        if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
        const v = argv[++i];
        o[key] = kind === 'path' ? path.resolve(v) : kind === 'list' ? v.split(',') : v;
    }
    return o;
}
