// CRC-32C (Castagnoli), the checksum of every VHDX header, region table and log entry (MS-VHDX 2.2).
// Written here because the structures it covers are small (4–64 KiB) and the npm options either build
// native code or pull in the AWS SDK's type packages; a table-driven loop is fast enough for them.

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of `data` (reflected, initial value and final XOR 0xFFFFFFFF). */
export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** CRC-32C of a structure whose own checksum field (4 bytes at `at`) counts as zero. */
export function structureChecksum(data: Uint8Array, at: number): number {
  const copy = Buffer.from(data);
  copy.writeUInt32LE(0, at);
  return crc32c(copy);
}
