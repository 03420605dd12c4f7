/**
 * Property test of the declarative command line: any argv either parses into values of each
 * flag's type or is refused with a UsageError (one line; for a misshapen command line, then the usage),
 * never another exception.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { defineCommand, UsageError } from '../../src/cli/flags.js';
import { PROPERTY_RUNS } from '../helpers.js';

const FLAGS = {
  out: { type: 'string', value: 'FILE', required: true, help: 'a required string' },
  count: { type: 'int', value: 'N', default: 4, help: 'an int with a default' },
  rate: { type: 'number', value: 'R', option: 'learningRate', help: 'a number under another name' },
  quiet: { type: 'boolean', help: 'a boolean' },
} as const;

let parsed: { values: Record<string, unknown>; positional: string | undefined } | undefined;
const command = defineCommand({
  name: 'probe',
  summary: 'a command that records what it was given',
  positional: { name: 'MODEL', help: 'optional' },
  flags: FLAGS,
  examples: ['ganport probe --out x'],
  async run(values, positional) {
    parsed = { values, positional };
    return 0;
  },
});

/** Words a user might type: the flags in both spellings, values of every kind, dashes, and noise. */
const word = fc.oneof(
  fc.constantFrom(
    '--out',
    '--count',
    '--rate',
    '--quiet',
    '--lr',
    '-o',
    '-',
    '--',
    '--out=',
    '--quiet=yes',
    '--count=1e3',
  ),
  fc.constantFrom('3', '-3', '2.5', '1e400', 'NaN', '0x10', ' 7 ', '', '9007199254740993', 'model.onnx'),
  fc.tuple(fc.constantFrom('--out=', '--count=', '--rate=', '--'), fc.string()).map(([a, b]) => a + b),
  fc.string(),
);

test('any argv parses into typed values or is a one-line UsageError', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(word, { maxLength: 8 }).filter((argv) => !argv.includes('--help') && !argv.includes('-h')),
      async (argv) => {
        parsed = undefined;
        try {
          assert.equal(await command.run(argv), 0);
        } catch (err) {
          assert.ok(err instanceof UsageError, `not a UsageError for ${JSON.stringify(argv)}: ${err}`);
          const [first, ...rest] = err.message.split('\n');
          assert.ok(first.length > 0 && (rest.length === 0 || rest.join('\n') === command.usage), err.message);
          return;
        }
        const { values, positional } = parsed!;
        assert.equal(typeof values.out, 'string');
        assert.ok(Number.isSafeInteger(values.count), `count ${values.count}`);
        assert.ok(values.learningRate === undefined || Number.isFinite(values.learningRate));
        assert.equal(typeof values.quiet, 'boolean');
        assert.ok(positional === undefined || typeof positional === 'string');
      },
    ),
    { ...PROPERTY_RUNS, numRuns: 300 },
  );
});
