// Reads what the runtime needs from an ONNX file without a protobuf library:
// metadata_props and the graph's input/output names, element types and shapes.
// Keeping this to a minimal wire-format walk keeps the browser bundle small, and
// it rejects truncated or non-ONNX bytes with a clear message before ORT sees them.
import { GanportError } from './errors.js';

export interface TensorInfo {
  name: string;
  /** TensorProto.DataType: 1 float, 7 int64, 6 int32, 10 float16 … */
  elemType: number;
  /** A number for fixed dimensions, a string for named (dynamic) ones, null when unknown. */
  dims: (number | string | null)[];
}

export interface OnnxInfo {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsetVersion: number;
  metadata: Record<string, string>;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
}

class Reader {
  pos: number;
  constructor(
    private bytes: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw truncated();
      const b = this.bytes[this.pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw invalid('a varint is longer than 10 bytes');
  }

  /** A length-delimited field as a sub-reader; advances past it. */
  sub(): Reader {
    const length = this.varint();
    const start = this.pos;
    if (start + length > this.end) throw truncated();
    this.pos += length;
    return new Reader(this.bytes, start, start + length);
  }

  string(): string {
    const r = this.sub();
    return new TextDecoder().decode(this.bytes.subarray(r.pos, r.end));
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.advance(8);
    else if (wireType === 2) this.sub();
    else if (wireType === 5) this.advance(4);
    else throw invalid(`unexpected protobuf wire type ${wireType}`);
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) throw truncated();
    this.pos += n;
  }

  /** Calls `onField(fieldNumber, wireType)`; the callback must consume the value or return false to skip it. */
  fields(onField: (field: number, wireType: number) => boolean): void {
    while (!this.done) {
      const tag = this.varint();
      const field = Math.floor(tag / 8);
      const wireType = tag & 7;
      if (field === 0) throw invalid('field number 0');
      if (!onField(field, wireType)) this.skip(wireType);
    }
  }
}

const truncated = () => new GanportError('not a valid ONNX model: the file is truncated', 'invalid-model');
const invalid = (why: string) => new GanportError(`not a valid ONNX model: ${why}`, 'invalid-model');

export function readOnnxInfo(bytes: Uint8Array): OnnxInfo {
  if (bytes.length === 0) throw invalid('the file is empty');
  const info: OnnxInfo = {
    irVersion: 0,
    producerName: '',
    producerVersion: '',
    opsetVersion: 0,
    metadata: {},
    inputs: [],
    outputs: [],
  };
  let sawGraph = false;
  const model = new Reader(bytes, 0, bytes.length);
  model.fields((field, wire) => {
    if (wire === 0 && field === 1) info.irVersion = model.varint();
    else if (wire === 2 && field === 2) info.producerName = model.string();
    else if (wire === 2 && field === 3) info.producerVersion = model.string();
    else if (wire === 2 && field === 7) {
      sawGraph = true;
      readGraph(model.sub(), info);
    } else if (wire === 2 && field === 8) {
      const opset = model.sub();
      let domain = '';
      let version = 0;
      opset.fields((f, w) => {
        if (f === 1 && w === 2) domain = opset.string();
        else if (f === 2 && w === 0) version = opset.varint();
        else return false;
        return true;
      });
      if (domain === '' || domain === 'ai.onnx') info.opsetVersion = version;
    } else if (wire === 2 && field === 14) {
      const entry = model.sub();
      let key = '';
      let value = '';
      entry.fields((f, w) => {
        if (f === 1 && w === 2) key = entry.string();
        else if (f === 2 && w === 2) value = entry.string();
        else return false;
        return true;
      });
      info.metadata[key] = value;
    } else return false;
    return true;
  });
  if (info.irVersion < 3 || info.irVersion > 20) throw invalid(`unsupported IR version ${info.irVersion}`);
  if (!sawGraph) throw invalid('it has no graph');
  if (info.inputs.length === 0 || info.outputs.length === 0) throw invalid('its graph has no inputs or no outputs');
  return info;
}

function readGraph(graph: Reader, info: OnnxInfo): void {
  const initializers = new Set<string>();
  graph.fields((field, wire) => {
    if (wire === 2 && (field === 11 || field === 12)) {
      (field === 11 ? info.inputs : info.outputs).push(readValueInfo(graph.sub()));
      return true;
    }
    if (wire === 2 && field === 5) {
      const tensor = graph.sub();
      tensor.fields((f, w) => {
        if (f !== 8 || w !== 2) return false;
        initializers.add(tensor.string());
        return true;
      });
      return true;
    }
    return false;
  });
  // older exporters list the initializers among the inputs too (IR < 4, keep_initializers_as_inputs):
  // those inputs have values and are not fed
  info.inputs = info.inputs.filter((input) => !initializers.has(input.name));
}

function readValueInfo(value: Reader): TensorInfo {
  const tensor: TensorInfo = { name: '', elemType: 0, dims: [] };
  value.fields((field, wire) => {
    if (field === 1 && wire === 2) tensor.name = value.string();
    else if (field === 2 && wire === 2) {
      const type = value.sub();
      type.fields((f, w) => {
        if (f !== 1 || w !== 2) return false;
        const tensorType = type.sub();
        tensorType.fields((tf, tw) => {
          if (tf === 1 && tw === 0) tensor.elemType = tensorType.varint();
          else if (tf === 2 && tw === 2) tensor.dims = readShape(tensorType.sub());
          else return false;
          return true;
        });
        return true;
      });
    } else return false;
    return true;
  });
  return tensor;
}

function readShape(shape: Reader): (number | string | null)[] {
  const dims: (number | string | null)[] = [];
  shape.fields((field, wire) => {
    if (field !== 1 || wire !== 2) return false;
    const dim = shape.sub();
    let value: number | string | null = null;
    dim.fields((f, w) => {
      if (f === 1 && w === 0) {
        const size = dim.varint(); // an int64: a negative one (2^64 − n as read) means unknown
        value = size > 0 && size <= Number.MAX_SAFE_INTEGER ? size : null;
      } else if (f === 2 && w === 2) value = dim.string();
      else return false;
      return true;
    });
    dims.push(value);
    return true;
  });
  return dims;
}
