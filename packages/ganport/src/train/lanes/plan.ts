/**
 * Splits a step graph into a few segments that run on several lanes (threads) at once.
 *
 * Why: onnxruntime's own threads do not pay on small machines. On this project's 2-vCPU machine a
 * dcgan step graph took 42 ms on one intra-op thread and 57 ms on two, and 43 ms in onnxruntime's
 * parallel executor (two inter-op threads) while that kept both cores busy; even the step's big
 * convolutions alone ran slower on two intra-op threads. Two processes running the whole step side
 * by side each kept about 90 % of their speed alone, though: the parallelism worth having is coarse.
 *
 * How: the nodes are grouped by the per-step inputs they depend on (`sources`: the real batch, each
 * latent batch). In a GAN step these are its independent stretches: the discriminator on the real
 * batch, the generator and the discriminator on a fake batch, the generator's next batch, and what
 * joins them (the summed gradients, the updates). A node depending on another's output depends on
 * all its sources too, so the groups form a DAG. The groups are list-scheduled on the lanes (the
 * costliest path to the end first; each group on the lane where it would end first, a hand-over
 * between lanes costing a wake-up and the copies), and each lane's consecutive groups share one
 * segment while the later one waits for nothing new.
 *
 * Few segments matter: cut into pieces that run one after another on one thread, the dcgan step
 * took 44.3 ms in 2 pieces, 49.4 ms in 4 and 51.5 ms in 8 (against 44.6 ms whole), because every
 * value that crosses a cut is a buffer of its own rather than one onnxruntime reuses.
 */

/** A node of the graph to plan: what it reads and writes, and about how long it takes (µs). */
export interface PlanNode {
  inputs: readonly string[];
  outputs: readonly string[];
  cost: number;
  /** A matrix product (a convolution, a Gemm): the work the lanes share out, never moved between groups. */
  product: boolean;
}

export interface PlanOptions {
  lanes: number;
  /** The graph inputs that change every step; nodes are grouped by which of them they depend on. */
  sources: readonly string[];
  /** µs to copy a value from one lane to another, by value name. */
  copyCost(name: string): number;
  /** µs a segment loses waiting for another lane's (a wake-up). */
  syncCost: number;
  /** µs each segment costs beyond its nodes (a session run). */
  segmentCost: number;
  /** The graph's outputs: the main thread (lane 0) holds them and the graph inputs; other lanes copy them. */
  graphOutputs: ReadonlySet<string>;
}

export interface Segment {
  lane: number;
  /** Node indices, in the order they run. */
  nodes: number[];
  /** Those of `nodes` that are copies: shared nodes another segment runs too (their outputs stay inside). */
  replicas: number[];
  /** Segments on other lanes whose outputs this one reads (it waits for them). */
  waits: number[];
}

export interface LanePlan {
  /** Every segment; each lane runs its own in this order. */
  segments: Segment[];
  /** The plan's estimated time (µs) on the cost model, and one lane's. */
  estimate: number;
  serial: number;
}

interface Group {
  nodes: number[];
  cost: number;
  /** µs of copies of graph inputs and outputs, off lane 0. */
  offMain: number;
  /** Groups whose outputs this one reads, with the names it reads from each. */
  reads: Map<number, Set<string>>;
  lane: number;
  start: number;
  finish: number;
}

/** The plan for `nodes` (topologically sorted). */
export function planLanes(nodes: readonly PlanNode[], options: PlanOptions): LanePlan {
  const { groups, shared } = groupBySources(nodes, options);
  schedule(groups, options);
  const segments = withSharedNodes(nodes, mergeIntoSegments(groups, options.lanes), shared);
  runOrder(segments); // throws on a plan that would deadlock
  return {
    segments,
    estimate: simulate(nodes, segments, options),
    serial: nodes.reduce((sum, n) => sum + n.cost, 0),
  };
}

/**
 * The nodes grouped by their sources; `shared`, those that depend on none (the weights' layouts,
 * Adam's bias corrections): cheap, and read by every stretch of the step, so each segment runs its
 * own copy of those it needs rather than waiting for them and copying them over (a Reshape is free
 * inside a session, a copy at its edge).
 */
function groupBySources(
  nodes: readonly PlanNode[],
  { sources, copyCost, graphOutputs }: PlanOptions,
): { groups: Group[]; shared: number[] } {
  const signature = new Map<string, bigint>(sources.map((s, i) => [s, 1n << BigInt(i)]));
  const signatures = nodes.map((node) => {
    const sig = node.inputs.reduce((s, name) => s | (signature.get(name) ?? 0n), 0n);
    for (const o of node.outputs) signature.set(o, sig);
    return sig;
  });
  const keys = [...new Set(signatures.filter((sig) => sig !== 0n))];
  const groupOf = signatures.map((sig) => keys.indexOf(sig)); // -1: shared
  sinkIntoReaders(nodes, groupOf, graphOutputs);

  const made = new Set(nodes.flatMap((n) => n.outputs));
  const madeBy = new Map<string, number>();
  for (const [i, node] of nodes.entries()) for (const o of node.outputs) madeBy.set(o, groupOf[i]);
  const groups: Group[] = keys.map(() => ({
    nodes: [],
    cost: 0,
    offMain: 0,
    reads: new Map(),
    lane: 0,
    start: 0,
    finish: 0,
  }));
  const shared: number[] = [];
  for (const [i, node] of nodes.entries()) {
    const g = groupOf[i];
    if (g < 0) {
      shared.push(i);
      continue;
    }
    const group = groups[g];
    group.nodes.push(i);
    group.cost += node.cost;
    for (const name of node.inputs) {
      if (!made.has(name)) group.offMain += copyCost(name);
      const from = madeBy.get(name);
      if (from !== undefined && from >= 0 && from !== g)
        group.reads.set(from, (group.reads.get(from) ?? new Set()).add(name));
    }
    for (const name of node.outputs) if (graphOutputs.has(name)) group.offMain += copyCost(name);
  }
  // groups that sinking emptied go, and the others' reads are renumbered
  const kept = groups.flatMap((g, i) => (g.nodes.length ? [i] : []));
  const renumber = new Map(kept.map((old, i) => [old, i]));
  return {
    groups: kept.map((i) => ({
      ...groups[i],
      reads: new Map([...groups[i].reads].map(([from, names]) => [renumber.get(from)!, names])),
    })),
    shared,
  };
}

/**
 * Moves each node that is not a matrix product, and whose outputs only one other group reads, into
 * that group, latest nodes first (so chains follow). Work a stretch could do early but only a later
 * one needs (the parts of batch norm's gradient that depend on the forward pass alone, a layout
 * change for a filter gradient) then runs where it is used rather than crossing between segments.
 */
function sinkIntoReaders(nodes: readonly PlanNode[], groupOf: number[], graphOutputs: ReadonlySet<string>): void {
  const readersOf = new Map<string, number[]>();
  for (const [i, node] of nodes.entries())
    for (const name of node.inputs) readersOf.set(name, [...(readersOf.get(name) ?? []), i]);
  for (let i = nodes.length - 1; i >= 0; i--) {
    if (groupOf[i] < 0 || nodes[i].product || nodes[i].outputs.some((o) => graphOutputs.has(o))) continue;
    const readerGroups = new Set(nodes[i].outputs.flatMap((o) => (readersOf.get(o) ?? []).map((r) => groupOf[r])));
    const [only] = readerGroups;
    if (readerGroups.size === 1 && only >= 0 && only !== groupOf[i]) groupOf[i] = only;
  }
}

/**
 * Adds the shared nodes: all of them to the first segment of lane 0 (which makes their graph
 * outputs), and to every other segment a copy of those its nodes read, directly or through others.
 */
function withSharedNodes(nodes: readonly PlanNode[], segments: Segment[], shared: number[]): Segment[] {
  if (!shared.length) return segments;
  const found = segments.findIndex((s) => s.lane === 0);
  // a lane 0 without segments of its own gets one for them, last: nothing waits for shared values
  const all = found < 0 ? [...segments, { lane: 0, nodes: [], replicas: [], waits: [] }] : segments;
  const homeIndex = found < 0 ? segments.length : found;
  const sharedBy = new Map(shared.flatMap((i) => nodes[i].outputs.map((o) => [o, i] as const)));
  return all.map((segment, k) => {
    if (k === homeIndex) return { ...segment, nodes: [...shared, ...segment.nodes].sort((a, b) => a - b) };
    const copies = new Set<number>();
    const pending = segment.nodes.flatMap((i) => nodes[i].inputs);
    while (pending.length) {
      const i = sharedBy.get(pending.pop()!);
      if (i === undefined || copies.has(i)) continue;
      copies.add(i);
      pending.push(...nodes[i].inputs);
    }
    const replicas = [...copies].sort((a, b) => a - b);
    return { ...segment, nodes: [...replicas, ...segment.nodes].sort((a, b) => a - b), replicas };
  });
}

/** List scheduling of the groups: the costliest path to the end first, each where it would end first. */
function schedule(groups: Group[], { lanes, copyCost, syncCost }: PlanOptions): void {
  const readers = groupReaders(groups);
  const rank = new Array<number>(groups.length);
  for (const g of topologicalOrder(groups, readers).reverse())
    rank[g] = groups[g].cost + Math.max(0, ...readers[g].map((r) => rank[r]));
  const waiting = groups.map((group) => group.reads.size);
  const ready = groups.flatMap((_, g) => (waiting[g] === 0 ? [g] : []));
  const laneFree = new Array<number>(lanes).fill(0);
  while (ready.length) {
    ready.sort((a, b) => rank[b] - rank[a] || a - b);
    const g = ready.shift()!;
    const group = groups[g];
    let best: { lane: number; start: number; finish: number } | undefined;
    for (let lane = 0; lane < lanes; lane++) {
      let start = laneFree[lane];
      for (const [from, names] of group.reads) {
        const source = groups[from];
        const handOver = source.lane === lane ? 0 : syncCost + [...names].reduce((s, n) => s + copyCost(n), 0);
        start = Math.max(start, source.finish + handOver);
      }
      const finish = start + group.cost + (lane === 0 ? 0 : group.offMain);
      if (!best || finish < best.finish) best = { lane, start, finish };
    }
    Object.assign(group, best);
    laneFree[best!.lane] = group.finish;
    for (const r of readers[g]) if (--waiting[r] === 0) ready.push(r);
  }
}

/** For each group, the groups that read its outputs. */
function groupReaders(groups: Group[]): number[][] {
  const readers = groups.map(() => [] as number[]);
  for (const [g, group] of groups.entries()) for (const from of group.reads.keys()) readers[from].push(g);
  return readers;
}

function topologicalOrder(groups: Group[], readers: number[][]): number[] {
  const waiting = groups.map((group) => group.reads.size);
  const order = groups.flatMap((_, g) => (waiting[g] === 0 ? [g] : []));
  for (let k = 0; k < order.length; k++) for (const r of readers[order[k]]) if (--waiting[r] === 0) order.push(r);
  return order;
}

/**
 * Each lane's groups in start order. A group joins the lane's current segment when that delays no
 * one: every group it reads on another lane is one the segment already waits for (so a segment only
 * ever waits, before it starts, for segments that do not wait for it), and no other lane's group
 * reading the segment was scheduled to start before this group ends.
 */
function mergeIntoSegments(groups: Group[], lanes: number): Segment[] {
  const order = groups.map((_, g) => g).sort((a, b) => groups[a].start - groups[b].start || a - b);
  const readers = groupReaders(groups);
  const segmentOf = new Array<number>(groups.length);
  const segments: { lane: number; groups: number[]; waits: Set<number> }[] = [];
  const current = new Array<number | undefined>(lanes);
  for (const g of order) {
    const { lane, finish } = groups[g];
    const needs = new Set(
      [...groups[g].reads.keys()].filter((from) => groups[from].lane !== lane).map((from) => segmentOf[from]),
    );
    const open = current[lane] === undefined ? undefined : segments[current[lane]!];
    const joins =
      open !== undefined &&
      [...needs].every((s) => open.waits.has(s)) &&
      open.groups.every((member) => readers[member].every((r) => groups[r].lane === lane || groups[r].start >= finish));
    if (joins) open.groups.push(g);
    else current[lane] = segments.push({ lane, groups: [g], waits: needs }) - 1;
    segmentOf[g] = current[lane]!;
  }
  // nodes in graph order within each segment: a topological order, as the graph's own
  return segments.map(({ lane, groups: members, waits }) => ({
    lane,
    nodes: members.flatMap((g) => groups[g].nodes).sort((a, b) => a - b),
    replicas: [],
    waits: [...waits],
  }));
}

/** The plan's time on the cost model: each lane runs its segments in order, each after those it waits for. */
function simulate(nodes: readonly PlanNode[], segments: Segment[], options: PlanOptions): number {
  const done = new Array<number>(segments.length);
  const laneFree = new Array<number>(options.lanes).fill(0);
  for (const k of runOrder(segments)) {
    const s = segments[k];
    const start = Math.max(laneFree[s.lane], ...s.waits.map((w) => done[w] + options.syncCost));
    done[k] = start + options.segmentCost + s.nodes.reduce((sum, i) => sum + nodes[i].cost, 0);
    laneFree[s.lane] = done[k];
  }
  return Math.max(0, ...laneFree);
}

/**
 * An order in which the segments can run one after another: each lane's in plan order, each segment
 * after those it waits for. Throws where there is none (a plan that would deadlock).
 */
export function runOrder(segments: readonly Segment[]): number[] {
  const lanes = Math.max(0, ...segments.map((s) => s.lane)) + 1;
  const queues = Array.from({ length: lanes }, (_, lane) => segments.flatMap((s, k) => (s.lane === lane ? [k] : [])));
  const finished = new Set<number>();
  const order: number[] = [];
  while (order.length < segments.length) {
    const before = order.length;
    for (const queue of queues) {
      while (queue.length && segments[queue[0]].waits.every((w) => finished.has(w))) {
        const k = queue.shift()!;
        finished.add(k);
        order.push(k);
      }
    }
    if (order.length === before) throw new Error('internal error: the lane plan waits in a circle');
  }
  return order;
}
