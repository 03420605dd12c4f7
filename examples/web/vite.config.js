// base './': the built page works from any path it is served under.
// onnxruntime-web loads its wasm binary from a URL next to its own module: keep it out of vite's dependency
// pre-bundling so that URL stays valid in `vite dev`; `vite build` copies the binary into dist/assets/.
export default { base: './', optimizeDeps: { exclude: ['onnxruntime-web'] }, build: { target: 'es2022' } };
