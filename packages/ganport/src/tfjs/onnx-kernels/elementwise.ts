/**
 * Elementwise kernels: tfjs broadcasts as numpy does, and so does ONNX, so most are one node.
 * Also the kernels that make or pass values: Identity, Cast, Fill, ZerosLike, OnesLike.
 */
import { type AttrValue, attr } from '../../onnx/builder.js';
import {
  filled,
  input,
  type KernelCall,
  type KernelHandler,
  type KernelOutput,
  type KernelValue,
  ONNX_DTYPE,
  variadic,
} from './context.js';
import { elementwiseAnyLayout, inLayout, physicalShape, takesChannelsFirst } from './layout.js';

/** One ONNX op over the named tfjs inputs. */
const op =
  (
    onnxOp: string,
    names: string[] = ['x'],
    attributes: (call: KernelCall) => Record<string, AttrValue> = () => ({}),
  ): KernelHandler =>
  (call) => [
    call.g.op(
      onnxOp,
      names.map((n) => input(call, n).name),
      attributes(call),
    ),
  ];

const unary = (onnxOp: string) => op(onnxOp);
const binary = (onnxOp: string) => op(onnxOp, ['a', 'b']);

/** The output in the input's layout. */
const sameLayout = (x: KernelValue, name: string): KernelOutput => (x.layout ? { name, layout: x.layout } : name);

const identity: KernelHandler = takesChannelsFirst((call) => {
  const x = input(call, 'x');
  return [sameLayout(x, x.name)];
});

const cast: KernelHandler = takesChannelsFirst((call) => {
  const x = input(call, 'x');
  const to = call.outputs[0].dtype;
  return [sameLayout(x, to === x.dtype ? x.name : call.g.op('Cast', [x.name], { to: attr.int(ONNX_DTYPE[to]) }))];
});

/** tfjs Step: 1 where x > 0, else alpha (the gradient of Relu and of Abs's sign). */
const step: KernelHandler = (call) => {
  const { g } = call;
  const x = input(call, 'x').name;
  const alpha = (call.attrs.alpha as number | undefined) ?? 0;
  return [g.op('Where', [g.op('Greater', [x, g.scalar(0)]), g.scalar(1), g.scalar(alpha)])];
};

const where = elementwiseAnyLayout(op('Where', ['condition', 't', 'e']));

/** Select: where condition, t, else e; a rank-1 condition picks whole rows (the batch) of higher-rank t and e. */
const select: KernelHandler = takesChannelsFirst((call) => {
  const { g } = call;
  const condition = input(call, 'condition');
  const t = input(call, 't');
  if (condition.shape.length !== 1 || t.shape.length === 1) return where(call);
  const rows = g.reshape(condition.name, [condition.shape[0], ...t.shape.slice(1).map(() => 1)]);
  const e = input(call, 'e');
  const layout = t.layout === 'NCHW' || e.layout === 'NCHW' ? 'NCHW' : 'NHWC';
  const out = g.op('Where', [rows, inLayout(g, t, layout), inLayout(g, e, layout)]);
  return [layout === 'NCHW' ? { name: out, layout } : out];
});

const fill: KernelHandler = (call) => {
  const { shape, dtype } = call.outputs[0];
  return [filled(call.g, shape, dtype, call.attrs.value as number)];
};

const filledLike = (value: number): KernelHandler =>
  takesChannelsFirst((call) => {
    const x = input(call, 'x');
    return [sameLayout(x, filled(call.g, physicalShape(x), call.outputs[0].dtype, value))];
  });

const table: Record<string, KernelHandler> = {
  Identity: identity,
  Cast: cast,
  Fill: fill,
  ZerosLike: filledLike(0),
  OnesLike: filledLike(1),
  Add: binary('Add'),
  AddN: (call) => [
    call.g.op(
      'Sum',
      variadic(call).map((v) => v.name),
    ),
  ],
  Sub: binary('Sub'),
  Multiply: binary('Mul'),
  RealDiv: binary('Div'),
  Maximum: binary('Max'),
  Minimum: binary('Min'),
  Pow: binary('Pow'),
  SquaredDifference: (call) => {
    const d = call.g.op('Sub', [input(call, 'a').name, input(call, 'b').name]);
    return [call.g.op('Mul', [d, d])];
  },
  Greater: binary('Greater'),
  GreaterEqual: binary('GreaterOrEqual'),
  Less: binary('Less'),
  LessEqual: binary('LessOrEqual'),
  Equal: binary('Equal'),
  NotEqual: (call) => [call.g.op('Not', [call.g.op('Equal', [input(call, 'a').name, input(call, 'b').name])])],
  LogicalAnd: binary('And'),
  LogicalOr: binary('Or'),
  LogicalNot: unary('Not'),
  Select: select,
  Neg: unary('Neg'),
  Abs: unary('Abs'),
  Sign: unary('Sign'),
  Exp: unary('Exp'),
  Log: unary('Log'),
  Log1p: (call) => [call.g.op('Log', [call.g.op('Add', [input(call, 'x').name, call.g.scalar(1)])])],
  Sqrt: unary('Sqrt'),
  Rsqrt: (call) => [call.g.op('Reciprocal', [call.g.op('Sqrt', [input(call, 'x').name])])],
  Reciprocal: unary('Reciprocal'),
  Square: (call) => [call.g.op('Mul', [input(call, 'x').name, input(call, 'x').name])],
  Floor: unary('Floor'),
  Ceil: unary('Ceil'),
  Round: unary('Round'),
  Step: step,
  Relu: unary('Relu'),
  Relu6: (call) => [call.g.op('Clip', [input(call, 'x').name, call.g.scalar(0), call.g.scalar(6)])],
  Elu: unary('Elu'),
  Selu: op('Selu', ['x'], () => ({ alpha: attr.float(1.6732632423543772), gamma: attr.float(1.0507009873554805) })),
  LeakyRelu: op('LeakyRelu', ['x'], (call) => ({ alpha: attr.float(call.attrs.alpha as number) })),
  Prelu: op('PRelu', ['x', 'alpha']),
  Sigmoid: unary('Sigmoid'),
  Tanh: unary('Tanh'),
  Softplus: unary('Softplus'),
  ClipByValue: (call) => {
    const { clipValueMin, clipValueMax } = call.attrs as { clipValueMin: number; clipValueMax: number };
    return [call.g.op('Clip', [input(call, 'x').name, call.g.scalar(clipValueMin), call.g.scalar(clipValueMax)])];
  },
};

/** Every elementwise kernel runs in either layout. */
export const ELEMENTWISE_HANDLERS: Record<string, KernelHandler> = Object.fromEntries(
  Object.entries(table).map(([name, h]) => [name, h.channelsFirst ? h : elementwiseAnyLayout(h)]),
);
