/**
 * The demo page: pick a shipped model, seed, count, class and truncation; animate a
 * latent interpolation; download the grid. Built by vite (scripts/build-demo.ts) into dist/demo-site.
 */
import { drawToCanvas, type Generator, gridCount, interpolate, loadGenerator, ortEnv } from '@ganport/runtime';

interface ModelEntry {
  name: string;
  url: string;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $<HTMLParagraphElement>('status');
const canvas = $<HTMLCanvasElement>('grid');
const form = $<HTMLFormElement>('controls');
const picker = $<HTMLSelectElement>('model');
const animateButton = $<HTMLButtonElement>('animate');
const downloadButton = $<HTMLButtonElement>('download');
/** The class as a number, for a conditional generator that does not record how many classes it has. */
const classNumber = $<HTMLInputElement>('class-number');
const state: {
  generator?: Generator;
  animation?: number;
  /** What the canvas shows, for the download's name: the model, the seed and, in an animation, the frame. */
  drawn?: { model: string; seed: number; frame?: string };
  /** Counts model loads: a load that another has overtaken releases its generator instead of using it. */
  loads: number;
  /** Counts grid requests: one that a newer request overtakes while it waits its turn is dropped. */
  requests: number;
  /** The generator's runs, one after another: a WebGPU session cannot run twice at once, nor be released mid-run. */
  running: Promise<void>;
} = { loads: 0, requests: 0, running: Promise.resolve() };
(window as unknown as { demoState: typeof state }).demoState = state;

/**
 * Runs `work` after the runs before it. Its failure is shown, and rejects the promise returned, for the
 * caller to act on (the queue has handled it: a caller may leave it alone).
 */
function exclusive(work: () => Promise<void>): Promise<void> {
  const run = state.running.then(work);
  state.running = run.catch(showError);
  return run;
}

/** The form's values; the count as the grid draws it (a whole row per class for conditional models). */
function settings() {
  const truncation = $<HTMLInputElement>('truncation').value;
  const label = classNumber.disabled ? $<HTMLSelectElement>('class').value : classNumber.value;
  const labels = label === '' ? undefined : [Number(label)];
  const count = Number($<HTMLInputElement>('count').value);
  return {
    seed: Number($<HTMLInputElement>('seed').value),
    count: state.generator ? gridCount(state.generator.info, count, labels) : count,
    truncation: truncation ? Number(truncation) : undefined,
    labels,
  };
}

/** The provider in words: wasm says how many threads it runs on (one below three cores, isolated or not). */
function providerName(generator: Generator): string {
  const threads = ortEnv.wasm.numThreads ?? 1;
  return generator.provider === 'wasm' && threads > 1 ? `wasm (${threads} threads)` : generator.provider;
}

function draw(grid: Parameters<typeof drawToCanvas>[0], drawn: NonNullable<typeof state.drawn>): void {
  drawToCanvas(grid, canvas);
  state.drawn = drawn;
  downloadButton.disabled = false;
}

/** Draws the form's grid, after any run under way; a newer request, or another model, drops it. */
function generate(): Promise<void> {
  stopAnimation();
  if (!form.reportValidity()) return Promise.resolve();
  const request = ++state.requests;
  const load = state.loads;
  return exclusive(async () => {
    const generator = state.generator;
    if (!generator || request !== state.requests || load !== state.loads) return;
    const { seed, count, truncation, labels } = settings();
    const t0 = performance.now();
    const grid = await generator.generateGrid({ seed, count, truncation, labels, scale: 2 });
    const ms = performance.now() - t0;
    if (load !== state.loads) return;
    draw(grid, { model: picker.selectedOptions[0]?.text ?? 'model', seed });
    status.textContent = `seed ${seed} · ${count} images · ${providerName(generator)} · ${ms.toFixed(1)} ms per batch`;
  });
}

function showError(err: unknown): void {
  status.textContent = `error: ${(err as Error).message}`;
}

function stopAnimation(): void {
  if (state.animation !== undefined) cancelAnimationFrame(state.animation);
  state.animation = undefined;
  animateButton.textContent = 'Animate';
}

/** Walks the great circle from seed's latents to the next seed's and back, one frame per animation tick. */
function animate(): void {
  const generator = state.generator;
  if (!generator) return;
  if (state.animation !== undefined) {
    stopAnimation();
    return;
  }
  if (!form.reportValidity()) return;
  const { seed, count, truncation, labels } = settings();
  const next = (seed + 1) >>> 0; // the seeds are 32-bit: 2^32 − 1 walks to 0
  const steps = 48;
  const size = generator.info.latentSize;
  // every image's path, once: frame s of image i is paths[i][s]
  let paths: Float32Array[];
  try {
    const a = generator.sampleLatents({ seed, count, truncation });
    const b = generator.sampleLatents({ seed: next, count, truncation });
    paths = Array.from({ length: count }, (_, i) =>
      interpolate(a.subarray(i * size, (i + 1) * size), b.subarray(i * size, (i + 1) * size), steps + 1, 'slerp'),
    );
  } catch (err) {
    showError(err);
    return;
  }
  let frame = 0;
  const tick = () =>
    exclusive(async () => {
      if (state.animation === undefined || state.generator !== generator) return; // stopped while it waited
      const t = frame % (2 * steps);
      const s = t < steps ? t : 2 * steps - t;
      const latents = new Float32Array(count * size);
      for (const [i, path] of paths.entries()) latents.set(path.subarray(s * size, (s + 1) * size), i * size);
      const t0 = performance.now();
      const grid = await generator.generateGrid({ latents, labels, scale: 2 });
      if (state.animation === undefined) return;
      draw(grid, { model: picker.selectedOptions[0]?.text ?? 'model', seed, frame: `${next}-frame${s}` });
      status.textContent = `interpolating seed ${seed} → ${next} · frame ${s}/${steps} · ${providerName(generator)} · ${(performance.now() - t0).toFixed(1)} ms per batch`;
      frame++;
      state.animation = requestAnimationFrame(tick);
    }).catch(() => stopAnimation());
  animateButton.textContent = 'Stop';
  state.animation = requestAnimationFrame(tick);
}

async function selectModel(url: string): Promise<void> {
  const load = ++state.loads;
  status.textContent = `loading ${url}…`;
  stopAnimation();
  const previous = state.generator;
  state.generator = undefined; // generate/animate wait for the new model rather than use a released one
  await state.running; // a run under way finishes before its generator is released
  await previous?.dispose();
  const generator = await loadGenerator(url);
  if (load !== state.loads) return generator.dispose(); // another model was picked meanwhile
  state.generator = generator;
  const { labelInput, numClasses: classes, labelKind: kind = 'class' } = state.generator.info;
  const field = $<HTMLLabelElement>('class-field');
  const select = $<HTMLSelectElement>('class');
  field.hidden = !classes;
  // a label input but no recorded classes (a plain model file's export): the class is typed in; disabled
  // otherwise, so that the form does not check it
  classNumber.disabled = !labelInput || classes !== undefined;
  $('class-number-field').hidden = classNumber.disabled;
  $('label-kind').textContent = kind; // a class, or a cluster of a self-conditioned model
  select.length = 1;
  select.options[0].text = kind === 'cluster' ? 'every cluster' : 'one row per class';
  for (let c = 0; c < (classes ?? 0); c++) select.add(new Option(`${kind} ${c}`, String(c)));
  await generate();
}

/** Saves what the canvas shows, named after it (the frame too, in an animation). */
function download(): void {
  const drawn = state.drawn;
  if (!drawn) return;
  canvas.toBlob((blob) => {
    if (!blob) return showError(new Error('the browser could not encode the canvas as PNG'));
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = `ganport-${drawn.model}-seed${drawn.seed}${drawn.frame ? `-to-${drawn.frame}` : ''}.png`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000); // after the download has read it
  });
}

async function main(): Promise<void> {
  downloadButton.disabled = true; // until a grid is drawn
  const models = (await (await fetch('./models/index.json')).json()) as ModelEntry[];
  for (const m of models) picker.add(new Option(m.name, m.url));
  picker.addEventListener('change', () => selectModel(picker.value).catch(showError));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void generate();
  });
  animateButton.addEventListener('click', animate);
  downloadButton.addEventListener('click', download);
  if (models.length) await selectModel(models[0].url);
  else status.textContent = 'no models found';
}

main().catch(showError);
