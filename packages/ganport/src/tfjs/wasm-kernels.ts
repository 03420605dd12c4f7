/**
 * Gradient kernels the tfjs wasm backend (4.22) lacks, so convolutional GANs can
 * train on it. Each is composed from the wasm backend's own fast kernels.
 *
 * Conv2DBackpropFilter — the filter gradient of an NHWC convolution:
 *   dW[i, j, c, o] = Σ_n Σ_p Σ_q x[n, p·s + i − top, q·s + j − left, c] · dy[n, p, q, o]
 * is itself a convolution with stride 1 and dilation s: treat the input channels c
 * as the batch and the batch n as the channels, i.e.
 *   conv2d(x^T [c, H, W, n], dy^T [OH, OW, n, o], dilation = s) → [c, kh, kw, o],
 * padded so that its output is exactly kh × kw, then transposed to [kh, kw, c, o].
 * XNNPACK runs that convolution; rows and columns the forward pass never read are
 * sliced off first (negative padding).
 *
 * UnsortedSegmentSum — the gradient of Gather (and so of Embedding):
 *   out[s] = Σ_{i : ids[i] = s} x[i]  =  onehot(ids, S)^T · x,
 * one matrix product; ids outside [0, S) select nothing, as in TensorFlow.
 */
import {
  backend_util,
  type Conv2DBackpropFilterAttrs,
  type Conv2DBackpropFilterInputs,
  getKernel,
  getKernelsForBackend,
  type KernelBackend,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  registerKernel,
  type TensorInfo,
  type UnsortedSegmentSumAttrs,
  type UnsortedSegmentSumInputs,
} from '@tensorflow/tfjs-core';

interface WasmBackend extends KernelBackend {
  disposeData(dataId: object): boolean;
}

/** Runs another wasm kernel directly, as kernels do inside a backend. */
function run(backend: WasmBackend, name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap): TensorInfo {
  const kernel = getKernel(name, 'wasm');
  if (!kernel) throw new Error(`the wasm backend has no ${name} kernel`);
  return kernel.kernelFunc({ inputs, backend, attrs }) as TensorInfo;
}

export function conv2dBackpropFilter(args: {
  inputs: Conv2DBackpropFilterInputs;
  backend: WasmBackend;
  attrs: Conv2DBackpropFilterAttrs;
}): TensorInfo {
  const { backend } = args;
  const x = args.inputs.x as TensorInfo;
  const dy = args.inputs.dy as TensorInfo;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs;
  const format = backend_util.convertConv2DDataFormat(dataFormat);
  if (format !== 'channelsLast') throw new Error(`wasm Conv2DBackpropFilter supports NHWC only, got ${dataFormat}`);
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    format,
  );
  const [batch, height, width, channels] = x.shape;
  const { top, left } = info.padInfo;
  // Padding after the input that makes the dilated convolution's output exactly filterHeight × filterWidth.
  const bottom = info.filterHeight + (info.outHeight - 1) * info.strideHeight - height - top;
  const right = info.filterWidth + (info.outWidth - 1) * info.strideWidth - width - left;

  const temporaries: TensorInfo[] = [];
  const keep = (t: TensorInfo) => {
    temporaries.push(t);
    return t;
  };
  try {
    let input = x;
    if (bottom < 0 || right < 0) {
      input = keep(
        run(
          backend,
          'Slice',
          { x },
          { begin: [0, 0, 0, 0], size: [batch, height + Math.min(bottom, 0), width + Math.min(right, 0), channels] },
        ),
      );
    }
    const xT = keep(run(backend, 'Transpose', { x: input }, { perm: [3, 1, 2, 0] }));
    const dyT = keep(run(backend, 'Transpose', { x: dy }, { perm: [1, 2, 0, 3] }));
    const explicitPad = [
      [0, 0],
      [top, Math.max(bottom, 0)],
      [left, Math.max(right, 0)],
      [0, 0],
    ] as backend_util.ExplicitPadding;
    const grad = keep(
      run(
        backend,
        'Conv2D',
        { x: xT, filter: dyT },
        { strides: [1, 1], dilations: [info.strideHeight, info.strideWidth], pad: explicitPad, dataFormat: 'NHWC' },
      ),
    );
    return run(backend, 'Transpose', { x: grad }, { perm: [1, 2, 0, 3] });
  } finally {
    for (const t of temporaries) if (t !== x) backend.disposeData(t.dataId);
  }
}

export function unsortedSegmentSum(args: {
  inputs: UnsortedSegmentSumInputs;
  backend: WasmBackend;
  attrs: UnsortedSegmentSumAttrs;
}): TensorInfo {
  const { backend } = args;
  const x = args.inputs.x as TensorInfo;
  const ids = args.inputs.segmentIds as TensorInfo;
  const { numSegments } = args.attrs;
  const rows = ids.shape.reduce((a, b) => a * b, 1);
  const inner = x.shape.slice(ids.shape.length);
  const innerSize = inner.reduce((a, b) => a * b, 1);
  const temporaries: TensorInfo[] = [];
  const keep = (t: TensorInfo) => {
    temporaries.push(t);
    return t;
  };
  try {
    const flatIds = keep(run(backend, 'Reshape', { x: ids }, { shape: [rows] }));
    const intIds = ids.dtype === 'int32' ? flatIds : keep(run(backend, 'Cast', { x: flatIds }, { dtype: 'int32' }));
    // The wasm OneHot kernel writes int32 whatever dtype it is asked for, so cast explicitly.
    const oneHot = keep(
      run(backend, 'OneHot', { indices: intIds }, { depth: numSegments, onValue: 1, offValue: 0, dtype: 'int32' }),
    );
    const oneHotFloat = keep(run(backend, 'Cast', { x: oneHot }, { dtype: 'float32' }));
    const a = keep(run(backend, 'Reshape', { x: oneHotFloat }, { shape: [1, rows, numSegments] }));
    const b = keep(run(backend, 'Reshape', { x }, { shape: [1, rows, innerSize] }));
    const sums = keep(run(backend, 'BatchMatMul', { a, b }, { transposeA: true, transposeB: false }));
    return run(backend, 'Reshape', { x: sums }, { shape: [numSegments, ...inner] });
  } finally {
    for (const t of temporaries) backend.disposeData(t.dataId);
  }
}

const KERNELS = [
  { kernelName: 'Conv2DBackpropFilter', kernelFunc: conv2dBackpropFilter },
  { kernelName: 'UnsortedSegmentSum', kernelFunc: unsortedSegmentSum },
] as const;

/** Registers the missing gradient kernels with the wasm backend (idempotent). */
export function registerWasmGradientKernels(): void {
  const present = new Set(getKernelsForBackend('wasm').map((k) => k.kernelName));
  for (const { kernelName, kernelFunc } of KERNELS) {
    if (!present.has(kernelName))
      registerKernel({
        kernelName,
        backendName: 'wasm',
        kernelFunc: kernelFunc as unknown as Parameters<typeof registerKernel>[0]['kernelFunc'],
      });
  }
}
