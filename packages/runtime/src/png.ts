// A small PNG encoder for Node (8-bit RGBA or grayscale, zlib from node:zlib).
import { deflateSync } from 'node:zlib';
import { GanportError, integerIn } from './errors.js';
import type { RgbaImage } from './image.js';

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The CRC-32 of `bytes` (zlib's, as PNG and zip use it), continuing from `crc`. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** Encodes RGBA pixels; stores as grayscale when every pixel is gray and opaque (4× smaller). */
export function encodePng(image: RgbaImage): Buffer {
  const { width, height, pixels } = image;
  if (pixels.length !== integerIn('width', width, 1) * integerIn('height', height, 1) * 4)
    throw new GanportError(`${pixels.length} bytes of pixels for ${width}×${height} RGBA`);
  const gray = isOpaqueGray(pixels);
  const channels = gray ? 1 : 4;
  const stride = width * channels;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1); // filter byte 0 (None) then the row
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 4;
      if (gray) raw[row + 1 + x] = pixels[p];
      else raw.set(pixels.subarray(p, p + 4), row + 1 + x * 4);
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = gray ? 0 : 6; // colour type: grayscale or RGBA
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

function isOpaqueGray(pixels: Uint8ClampedArray): boolean {
  for (let p = 0; p < pixels.length; p += 4) {
    if (pixels[p] !== pixels[p + 1] || pixels[p] !== pixels[p + 2] || pixels[p + 3] !== 255) return false;
  }
  return true;
}
