/** Reading a Keras or tfjs layers-model config (JSON): its objects, and the classes of a model nested as a layer. */

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The class names of a model used as a layer: Keras 2's Model, Keras 3's Functional, and Sequential. */
export const MODEL_CLASSES: ReadonlySet<string> = new Set(['Sequential', 'Functional', 'Model']);
