/**
 * The lane plan on random graphs: every node runs once (shared ones also as copies), every value is
 * there before it is read, and a segment waits for every other lane's segment it reads: so the
 * executor can neither deadlock nor read a value too early.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type PlanNode, type PlanOptions, planLanes, runOrder } from '../../src/train/lanes/plan.js';

const SOURCES = ['real', 'zD', 'zG'];

/** A random topologically sorted graph: each node reads sources, weights or earlier nodes' outputs. */
const graphs = fc
  .array(
    fc.record({
      picks: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
      cost: fc.integer({ min: 1, max: 3000 }),
      product: fc.boolean(),
      output: fc.boolean(),
    }),
    { minLength: 1, maxLength: 60 },
  )
  .map((specs) => {
    const nodes: PlanNode[] = [];
    const outputs = new Set<string>();
    for (const [i, spec] of specs.entries()) {
      const available = [...SOURCES, 'weight', ...nodes.flatMap((n) => n.outputs)];
      nodes.push({
        inputs: [...new Set(spec.picks.map((p) => available[p % available.length]))],
        outputs: [`v${i}`],
        cost: spec.cost,
        product: spec.product,
      });
      if (spec.output) outputs.add(`v${i}`);
    }
    return { nodes, outputs };
  });

const options = (lanes: number, graphOutputs: Set<string>): PlanOptions => ({
  lanes,
  sources: SOURCES,
  copyCost: () => 20,
  syncCost: 40,
  segmentCost: 40,
  graphOutputs,
});

test('lane plans on random graphs: each node once, every read after its write, every other-lane read awaited', () => {
  fc.assert(
    fc.property(graphs, fc.integer({ min: 1, max: 3 }), ({ nodes, outputs }, lanes) => {
      const { segments } = planLanes(nodes, options(lanes, outputs));
      const own = segments.flatMap((s) => s.nodes.filter((i) => !s.replicas.includes(i)));
      assert.deepEqual(
        [...own].sort((a, b) => a - b),
        nodes.map((_, i) => i),
        'every node runs once outside copies',
      );
      const madeIn = new Map<string, number>();
      for (const [k, s] of segments.entries())
        for (const i of s.nodes) if (!s.replicas.includes(i)) madeIn.set(nodes[i].outputs[0], k);
      const done = new Set<number>();
      for (const k of runOrder(segments)) {
        const s = segments[k];
        assert.deepEqual(
          s.nodes,
          [...s.nodes].sort((a, b) => a - b),
          'a segment runs its nodes in graph order',
        );
        const here = new Set<string>();
        for (const i of s.nodes) {
          for (const name of nodes[i].inputs) {
            const from = madeIn.get(name);
            if (from === undefined || here.has(name)) continue; // a graph input, or made in this segment
            assert.ok(done.has(from), `segment ${k} reads ${name} before segment ${from} made it`);
            const sameLaneEarlier = segments[from].lane === s.lane && from < k;
            assert.ok(sameLaneEarlier || s.waits.includes(from), `segment ${k} reads ${name} without waiting`);
          }
          here.add(nodes[i].outputs[0]);
        }
        done.add(k);
      }
    }),
    { numRuns: 300 },
  );
});

test('a lane plan copies only shared nodes (those no per-step input reaches) into other segments', () => {
  fc.assert(
    fc.property(graphs, ({ nodes, outputs }) => {
      const sourced = new Set<string>(SOURCES);
      for (const n of nodes) if (n.inputs.some((name) => sourced.has(name))) for (const o of n.outputs) sourced.add(o);
      for (const s of planLanes(nodes, options(2, outputs)).segments)
        for (const i of s.replicas) assert.ok(!sourced.has(nodes[i].outputs[0]), `node ${i} copied`);
    }),
    { numRuns: 200 },
  );
});

test('a GAN-shaped graph splits: the real and fake branches on two lanes, three segments in all', () => {
  // weights → (real branch ‖ fake branch) → join (the update)
  const node = (inputs: string[], output: string, cost: number): PlanNode => ({
    inputs,
    outputs: [output],
    cost,
    product: cost > 100,
  });
  const nodes = [
    node(['weight'], 'layout', 5),
    node(['real', 'layout'], 'realGrad', 1000),
    node(['zD', 'layout'], 'fakeGrad', 1000),
    node(['realGrad', 'fakeGrad'], 'update', 10),
  ];
  const plan = planLanes(nodes, options(2, new Set(['update'])));
  assert.equal(plan.segments.length, 3);
  assert.notEqual(plan.segments[0].lane, plan.segments[1].lane);
  assert.ok(plan.estimate < 0.6 * plan.serial, `${plan.estimate} against ${plan.serial}`);
  // the weights' layout runs on both lanes (a copy on one): neither branch waits for the other lane
  const branches = plan.segments.filter((s) => s.nodes.includes(1) || s.nodes.includes(2));
  assert.deepEqual(
    branches.map((s) => [s.nodes.includes(0), s.waits]),
    [
      [true, []],
      [true, []],
    ],
  );
});

test('runOrder refuses a plan whose segments wait for each other', () => {
  const segments = [
    { lane: 0, nodes: [0], replicas: [], waits: [3] },
    { lane: 0, nodes: [1], replicas: [], waits: [] },
    { lane: 1, nodes: [2], replicas: [], waits: [1] },
    { lane: 1, nodes: [3], replicas: [], waits: [] },
  ];
  assert.throws(() => runOrder(segments), /waits in a circle/);
});
