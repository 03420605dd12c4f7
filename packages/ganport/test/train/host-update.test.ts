/**
 * The host update's WebAssembly: compiled from the .wat the repository holds, and each pass the same
 * float32 operations as the step graph's (checked against the same arithmetic in JavaScript, rounded
 * to float32 after every operation). The rewrite and the engine with it: onnx-step.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compileWat } from '../../scripts/build-wasm.js';
import { HostUpdate, type HostUpdatePlan } from '../../src/train/host-update.js';
import { HOST_UPDATE_WASM } from '../../src/train/host-update-wasm.js';

test('host-update-wasm.ts holds host-update.wat compiled (npm run build:wasm -w ganport)', async () => {
  assert.deepEqual(Buffer.from(HOST_UPDATE_WASM, 'base64'), Buffer.from(await compileWat('host-update')));
});

const f = Math.fround;
const ROLES = ['beta1', 'oneMinusBeta1', 'beta2', 'oneMinusBeta2', 'epsilon', 'negativeStep', 'decay', 'keep'] as const;

/** A float32 of any magnitude a step meets, zeros and tiny gradients (where ε decides) included. */
const value = fc.oneof(
  fc.float({ min: -100, max: 100, noNaN: true }),
  fc.float({ min: f(-1e-9), max: f(1e-9), noNaN: true }),
  fc.constant(0),
);

test("Adam's and the EMA's passes equal the graph's operations, value for value, at every length", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 23 }).chain((n) =>
        fc.record({
          w: fc.array(value, { minLength: n, maxLength: n }),
          m: fc.array(value, { minLength: n, maxLength: n }),
          v: fc.array(fc.float({ min: 0, max: 100, noNaN: true }), { minLength: n, maxLength: n }),
          g: fc.array(value, { minLength: n, maxLength: n }),
          average: fc.array(value, { minLength: n, maxLength: n }),
          beta1: fc.float({ min: 0, max: f(0.99), noNaN: true }),
          beta2: fc.float({ min: f(0.9), max: f(0.9999), noNaN: true }),
          epsilon: fc.float({ min: f(1e-9), max: f(1e-6), noNaN: true }),
          negativeStep: fc.float({ min: -1, max: f(-1e-6), noNaN: true }),
          decay: fc.float({ min: 0, max: 1, noNaN: true }),
        }),
      ),
      (c) => {
        const scalars = {
          beta1: c.beta1,
          oneMinusBeta1: f(1 - c.beta1),
          beta2: c.beta2,
          oneMinusBeta2: f(1 - c.beta2),
          epsilon: c.epsilon,
          negativeStep: c.negativeStep,
          decay: c.decay,
          keep: f(1 - c.decay),
        };
        const names = (prefix: string) =>
          Object.fromEntries(
            ROLES.slice(0, 6).map((r) => [r, `${prefix}/${r}`]),
          ) as HostUpdatePlan['generator']['scalars'];
        const plan: HostUpdatePlan = {
          generator: {
            variables: [{ weight: 'w', firstMoment: 'm', secondMoment: 'v', gradient: 'g' }],
            scalars: names('g'),
          },
          discriminator: {
            variables: [{ weight: 'dw', firstMoment: 'dm', secondMoment: 'dv', gradient: 'dg' }],
            scalars: names('d'),
          },
          // the second EMA follows a state of two arrays (one the graph updates: `next` has it too)
          ema: {
            weights: [
              { average: 'average', source: 'w' },
              { average: 'average2', source: 'statistic' },
            ],
            decay: 'e/decay',
            keep: 'e/keep',
          },
        };
        const array = (values: number[]) => Float32Array.from(values);
        const current = new Map<string, Float32Array>([
          ['w', array(c.w)],
          ['m', array(c.m)],
          ['v', array(c.v)],
          ['dw', array(c.w)],
          ['dm', array(c.m)],
          ['dv', array(c.v)],
          ['average', array(c.average)],
          ['average2', array(c.average)],
          ['statistic', array(c.g)],
          ['other', array([1])],
        ]);
        const next = new Map([['statistic', array(c.w)]]);
        const update = new HostUpdate(plan, current, next);
        assert.deepEqual(next.get('statistic'), array(c.w), 'the state moved with its values');
        assert.ok(
          current.get('other') instanceof Float32Array && current.get('w')!.buffer !== current.get('other')!.buffer,
        );
        for (const gradient of ['g', 'dg']) update.output(gradient)!.set(c.g);
        for (const role of ROLES.slice(0, 6))
          for (const p of ['g', 'd']) update.output(`${p}/${role}`)![0] = scalars[role];
        for (const role of ROLES.slice(6)) update.output(`e/${role}`)![0] = scalars[role];
        update.applyDiscriminator(current);
        assert.deepEqual(current.get('w'), array(c.w), "the discriminator's update leaves the generator alone");
        update.applyGenerator(current);

        const s = scalars;
        const expected = c.g.map((g, i) => {
          const m = f(f(f(c.m[i]) * s.beta1) + f(g * s.oneMinusBeta1));
          const v = f(f(f(c.v[i]) * s.beta2) + f(f(f(g) * f(g)) * s.oneMinusBeta2));
          const w = f(f(f(m / f(f(Math.sqrt(v)) + s.epsilon)) * s.negativeStep) + f(c.w[i]));
          const average = f(f(f(c.average[i]) * s.decay) + f(w * s.keep));
          const average2 = f(f(f(c.average[i]) * s.decay) + f(f(g) * s.keep));
          return { m, v, w, average, average2 };
        });
        for (const key of ['m', 'v', 'w', 'average', 'average2'] as const) {
          assert.deepEqual(current.get(key), array(expected.map((e) => e[key])), key);
        }
        for (const key of ['m', 'v', 'w'] as const) {
          assert.deepEqual(current.get(`d${key}`), array(expected.map((e) => e[key])), `d${key}`);
        }
      },
    ),
    { numRuns: 200 },
  );
});
