/** The IDX format of (Fashion-)MNIST: big-endian header, then raw unsigned bytes; optionally gzipped. */
import { constants } from 'node:buffer';
import { gunzipSync } from 'node:zlib';
import { GanportError } from '@ganport/runtime';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const UBYTE = 0x08;

/** Parses an IDX buffer of unsigned bytes (type 0x08), gunzipping it first when it starts with gzip's magic. */
export function parseIdx(buffer: Uint8Array, source = 'IDX data'): IdxArray {
  let bytes = buffer;
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError)
        throw new GanportError(`${source} is too large once decompressed (over ${constants.MAX_LENGTH} bytes)`);
      throw new GanportError(`${source} is a corrupt gzip file (${(err as Error).message})`, 'invalid-input');
    }
  }
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0)
    throw new GanportError(`${source} is not an IDX file (bad magic number)`);
  if (bytes[2] !== UBYTE)
    throw new GanportError(
      `${source} holds IDX type 0x${bytes[2].toString(16)}; only unsigned bytes (0x08) are supported`,
    );
  const rank = bytes[3];
  const headerSize = 4 + 4 * rank;
  if (rank === 0 || bytes.length < headerSize) throw new GanportError(`${source} has a truncated IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.length - headerSize !== size) {
    throw new GanportError(
      `${source} is truncated or padded: header promises ${dims.join('×')} = ${size} bytes, found ${bytes.length - headerSize}`,
    );
  }
  return { dims, data: bytes.subarray(headerSize) };
}

/** Writes unsigned-byte IDX (used to cut the shipped sample from the full dataset). */
export function encodeIdx({ dims, data }: IdxArray): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = UBYTE;
  out[3] = dims.length;
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d, false);
  out.set(data, 4 + 4 * dims.length);
  return out;
}
