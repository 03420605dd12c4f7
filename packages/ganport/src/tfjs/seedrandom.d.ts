/** The part of seedrandom (tfjs-core's own random source) that ganport uses. */
declare module 'seedrandom' {
  /** Alea's state: three fractions and a carry. */
  interface AleaState {
    c: number;
    s0: number;
    s1: number;
    s2: number;
  }
  const seedrandom: {
    alea(seed: string): () => number;
    alea(seed: string, options: { state: true }): (() => number) & { state(): AleaState };
  };
  export default seedrandom;
}
