/** The part of seedrandom (tfjs-core's own random source) that ganport uses. */
declare module 'seedrandom' {
  const seedrandom: { alea(seed: string): () => number };
  export default seedrandom;
}
