/**
 * The CRC-32 a zip archive records for each entry, read from its central directory (as fflate's
 * unzipSync finds it, ZIP64 included). unzipSync checks none, and Keras stores its entries
 * uncompressed, so a damaged byte would otherwise be read as a weight.
 */

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY = 0x06064b50;

/** The CRC-32 of each entry, by name, in an archive unzipSync has read (so its directory is where it looks). */
export function recordedCrcs(zip: Uint8Array): Map<string, number> {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  let end = zip.length - 22;
  while (view.getUint32(end, true) !== END_OF_CENTRAL_DIRECTORY) end--;
  let count = view.getUint16(end + 8, true);
  let offset = view.getUint32(end + 16, true);
  if (count === 0xffff || offset === 0xffffffff) {
    // the ZIP64 end record, where its locator (just before) points
    const zip64End = view.getUint32(end - 12, true);
    if (view.getUint32(zip64End, true) === ZIP64_END_OF_CENTRAL_DIRECTORY) {
      count = view.getUint32(zip64End + 32, true);
      offset = view.getUint32(zip64End + 48, true);
    }
  }
  const crcs = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const [nameLength, extraLength, commentLength] = [28, 30, 32].map((at) => view.getUint16(offset + at, true));
    // the names read here are ASCII: UTF-8 or not, they decode alike
    const name = new TextDecoder().decode(zip.subarray(offset + 46, offset + 46 + nameLength));
    crcs.set(name, view.getUint32(offset + 16, true));
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return crcs;
}
