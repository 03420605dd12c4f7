/**
 * The demo page: pick a shipped model, seed, count, class and truncation; animate a
 * latent interpolation; download the grid. Built by vite (scripts/build-demo.ts) into dist/demo-site.
 */
import { drawToCanvas, type Generator, gridCount, interpolate, loadGenerator } from '@ganport/runtime';

interface ModelEntry {
  name: string;
  url: string;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $<HTMLParagraphElement>('status');
const canvas = $<HTMLCanvasElement>('grid');
const state: {
  generator?: Generator;
  animation?: number;
  last?: { seed: number; count: number; ms: number };
  /** Counts model loads: a load that another has overtaken releases its generator instead of using it. */
  loads: number;
} = { loads: 0 };
(window as unknown as { demoState: typeof state }).demoState = state;

/** The form's values; the count as the grid draws it (a whole row per class for conditional models). */
function settings() {
  const truncation = $<HTMLInputElement>('truncation').value;
  const label = $<HTMLSelectElement>('class').value;
  const labels = label === '' ? undefined : [Number(label)];
  const count = Number($<HTMLInputElement>('count').value);
  return {
    seed: Number($<HTMLInputElement>('seed').value),
    count: state.generator ? gridCount(state.generator.info, count, labels) : count,
    truncation: truncation ? Number(truncation) : undefined,
    labels,
  };
}

async function generate(): Promise<void> {
  const generator = state.generator;
  if (!generator) return;
  const { seed, count, truncation, labels } = settings();
  try {
    const t0 = performance.now();
    const grid = await generator.generateGrid({ seed, count, truncation, labels, scale: 2 });
    const ms = performance.now() - t0;
    drawToCanvas(grid, canvas);
    state.last = { seed, count, ms };
    const threads = generator.provider === 'wasm' && crossOriginIsolated ? ' (threads)' : '';
    status.textContent = `seed ${seed} · ${count} images · ${generator.provider}${threads} · ${ms.toFixed(1)} ms per batch`;
  } catch (err) {
    showError(err);
  }
}

function showError(err: unknown): void {
  status.textContent = `error: ${(err as Error).message}`;
}

function stopAnimation(): void {
  if (state.animation !== undefined) cancelAnimationFrame(state.animation);
  state.animation = undefined;
}

/** Walks the great circle from seed's latents to the next seed's and back, one frame per animation tick. */
function animate(): void {
  const generator = state.generator;
  if (!generator) return;
  if (state.animation !== undefined) {
    stopAnimation();
    return;
  }
  const { seed, count, truncation, labels } = settings();
  const next = (seed + 1) >>> 0; // the seeds are 32-bit: 2^32 − 1 walks to 0
  let a: Float32Array;
  let b: Float32Array;
  try {
    a = generator.sampleLatents({ seed, count, truncation });
    b = generator.sampleLatents({ seed: next, count, truncation });
  } catch (err) {
    showError(err);
    return;
  }
  const steps = 48;
  const size = generator.info.latentSize;
  let frame = 0;
  const tick = async () => {
    const t = frame % (2 * steps);
    const s = t < steps ? t : 2 * steps - t;
    const latents = new Float32Array(count * size);
    for (let i = 0; i < count; i++) {
      const path = interpolate(
        a.subarray(i * size, (i + 1) * size),
        b.subarray(i * size, (i + 1) * size),
        steps + 1,
        'slerp',
      );
      latents.set(path.subarray(s * size, (s + 1) * size), i * size);
    }
    const t0 = performance.now();
    drawToCanvas(await generator.generateGrid({ latents, labels, scale: 2 }), canvas);
    status.textContent = `interpolating seed ${seed} → ${next} · frame ${s}/${steps} · ${generator.provider} · ${(performance.now() - t0).toFixed(1)} ms per batch`;
    frame++;
    if (state.animation !== undefined) state.animation = requestAnimationFrame(() => tick().catch(fail));
  };
  const fail = (err: unknown) => {
    stopAnimation();
    showError(err);
  };
  state.animation = requestAnimationFrame(() => tick().catch(fail));
}

async function selectModel(url: string): Promise<void> {
  const load = ++state.loads;
  status.textContent = `loading ${url}…`;
  const previous = state.generator;
  state.generator = undefined; // generate/animate wait for the new model rather than use a released one
  stopAnimation();
  await previous?.dispose();
  const generator = await loadGenerator(url);
  if (load !== state.loads) return generator.dispose(); // another model was picked meanwhile
  state.generator = generator;
  const { numClasses: classes, labelKind: kind = 'class' } = state.generator.info;
  const field = $<HTMLLabelElement>('class-field');
  const select = $<HTMLSelectElement>('class');
  field.hidden = !classes;
  $('label-kind').textContent = kind; // a class, or a cluster of a self-conditioned model
  select.length = 1;
  select.options[0].text = kind === 'cluster' ? 'every cluster' : 'one row per class';
  for (let c = 0; c < (classes ?? 0); c++) select.add(new Option(`${kind} ${c}`, String(c)));
  await generate();
}

async function main(): Promise<void> {
  const models = (await (await fetch('./models/index.json')).json()) as ModelEntry[];
  const picker = $<HTMLSelectElement>('model');
  for (const m of models) picker.add(new Option(m.name, m.url));
  picker.addEventListener('change', () => selectModel(picker.value).catch(showError));
  $<HTMLFormElement>('controls').addEventListener('submit', (e) => {
    e.preventDefault();
    void generate();
  });
  $<HTMLButtonElement>('animate').addEventListener('click', animate);
  $<HTMLButtonElement>('download').addEventListener('click', () =>
    canvas.toBlob((blob) => {
      const link = document.createElement('a');
      link.href = URL.createObjectURL(blob!);
      link.download = `ganport-${picker.selectedOptions[0]?.text}-seed${state.last?.seed ?? settings().seed}.png`;
      link.click();
    }),
  );
  if (models.length) await selectModel(models[0].url);
  else status.textContent = 'no models found';
}

main().catch(showError);
