// spec/conformance/scenarios.mjs: what the conformance matrix runs. Each scenario is one Claude
// Code print-mode run, driven by MOCK: directives in its prompt (spec/support/mock_upstream.mjs
// answers them in every dialect), and says which parts of the outcome must match between the
// CLI talking to the mock directly and the CLI going through ccproxy on each route.
//
// Fields: name, what (one line for the matrix's legend), args (after `claude`), env (more
// environment for the CLI), compare (what must match: 'code', 'output', 'attempts'; default
// all three; 'attempts' counts the CLI's /v1/messages and count_tokens calls), output ('exact',
// 'error': what Claude Code made of an error without the error's own wording, which a
// translated provider words its own way, or 'shape': every number left out; default 'exact'),
// routes (the routes it runs on; default all), timeoutMs, steps (dialect -> the mock's
// scripted answers, in that dialect: 'anthropic' for the direct run, the route's otherwise).

/* Claude Code retries a failed request up to 10 times, over minutes; two keep a failure
 * scenario to seconds and still show the retries. */
const FEW_RETRIES = { CLAUDE_CODE_MAX_RETRIES: '2' };

const LONG = 'MOCK:text one two three four five six seven eight nine ten';

function errorScenario(status, type) {
    return {
        name: `error-${status}`,
        what: `the upstream answers HTTP ${status} ${type}`,
        args: ['-p', `MOCK:error ${status} ${type}`],
        env: FEW_RETRIES,
        output: 'error',
    };
}

export const SCENARIOS = [
    {
        name: 'plain',
        what: 'a plain answer',
        args: ['-p', 'say hi'],
    },
    {
        name: 'long-text',
        what: 'a longer streamed answer, several deltas',
        args: ['-p', `${LONG}\nMOCK:slow 5`],
    },
    {
        name: 'tool',
        what: 'a tool round trip (Bash)',
        args: [
            '-p',
            'MOCK:tool_use Bash {"command":"echo hello-from-tool","description":"Print"}',
            '--allowedTools',
            'Bash',
        ],
    },
    {
        name: 'parallel-tools',
        what: 'two tool calls in one answer',
        args: [
            '-p',
            'MOCK:tool_use Bash {"command":"echo first-tool","description":"One"}\n' +
                'MOCK:tool_use Bash {"command":"echo second-tool","description":"Two"}',
            '--allowedTools',
            'Bash',
        ],
    },
    {
        name: 'thinking',
        what: 'a thinking block, then the answer',
        args: ['-p', 'MOCK:thinking let me think about it\nMOCK:text thought it through'],
    },
    {
        name: 'subagent',
        what: "a subagent (the Agent tool) that answers, then the main agent",
        args: [
            '-p',
            'MOCK:tool_use Agent {"description":"Look","prompt":"MOCK:text the subagent found it",' +
                '"subagent_type":"general-purpose"}',
        ],
    },
    errorScenario(400, 'invalid_request_error'),
    errorScenario(401, 'authentication_error'),
    errorScenario(403, 'permission_error'),
    errorScenario(404, 'not_found_error'),
    errorScenario(413, 'request_too_large'),
    errorScenario(429, 'rate_limit_error'),
    errorScenario(500, 'api_error'),
    errorScenario(529, 'overloaded_error'),
    {
        name: 'reset',
        what: 'the upstream resets the connection after 3 events',
        args: ['-p', `${LONG}\nMOCK:reset 3`],
        env: FEW_RETRIES,
    },
    {
        name: 'close',
        what: 'the upstream closes the connection after 3 events',
        args: ['-p', `${LONG}\nMOCK:close 3`],
        env: FEW_RETRIES,
    },
    {
        name: 'end-early',
        what: 'the stream ends cleanly after its first piece of text, without message_stop',
        args: ['-p', `${LONG}\nMOCK:end_text 1`],
        env: FEW_RETRIES,
    },
    {
        name: 'error-event',
        what: 'the stream carries an overloaded_error event',
        args: ['-p', `${LONG}\nMOCK:error_event 529 overloaded_error`],
        env: FEW_RETRIES,
        output: 'error',
    },
    {
        name: 'reset-before-head',
        what: 'the upstream resets the connection before answering',
        args: ['-p', 'MOCK:reset 0'],
        env: FEW_RETRIES,
        /* Before any answer ccproxy answers 502 naming the deployment (after its own
         * retries and fallbacks, if configured), where a direct client sees the reset: the
         * same retries and exit, other words (docs/claude-code.md). */
        compare: ['code', 'attempts'],
    },
    {
        name: 'prompt-too-long',
        what: "the model's context window is too small for the request",
        args: ['-p', 'MOCK:text never answered'],
        /* Each provider says it its own way; Claude Code must get Anthropic's words to take
         * its prompt-too-long path. */
        steps: (dialect) => [
            {
                status: 400,
                error: {
                    anthropic: {
                        type: 'invalid_request_error',
                        message: 'prompt is too long: 40000 tokens > 32000 maximum',
                    },
                    openai: {
                        type: 'invalid_request_error',
                        code: 'context_length_exceeded',
                        message:
                            "This model's maximum context length is 32000 tokens. However, " +
                            'your messages resulted in 40000 tokens. Please reduce the length ' +
                            'of the messages.',
                    },
                    gemini: {
                        type: 'INVALID_ARGUMENT',
                        message:
                            'The input token count (40000) exceeds the maximum number of ' +
                            'tokens allowed (32000).',
                    },
                }[dialect],
            },
        ],
    },
    {
        name: 'count-tokens',
        what: '/context, which counts tokens (count_tokens)',
        args: ['-p', '/context'],
        /* A translated route counts with the provider's tokenizer or ccproxy's estimate,
         * not the mock's: the same report, other numbers. */
        output: 'shape',
    },
];

/* Tried, and left out of the matrix (docs/claude-code.md says why). */
export const EXPERIMENTS = [
    {
        name: 'stall',
        what: 'the upstream stalls after 3 events',
        args: ['-p', `${LONG}\nMOCK:hang 3`],
        env: FEW_RETRIES,
        timeoutMs: 60000,
    },
];
