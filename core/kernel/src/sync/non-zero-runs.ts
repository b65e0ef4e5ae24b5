// Finds the parts of a buffer that hold data, block by block: initial copies send only those, since the
// recovery replica starts as zeros.

/** [start, end) byte runs of `data` that hold anything but zeros, at block granularity. */
export function nonZeroRuns(data: Buffer, block: number): [number, number][] {
  const runs: [number, number][] = [];
  let start = -1;
  for (let at = 0; at < data.length; at += block) {
    const end = Math.min(at + block, data.length);
    const zero = isZero(data, at, end);
    if (!zero && start < 0) start = at;
    if (zero && start >= 0) {
      runs.push([start, at]);
      start = -1;
    }
  }
  if (start >= 0) runs.push([start, data.length]);
  return runs;
}

/** Zeros to compare blocks against (a native memcmp instead of a byte loop in JavaScript). */
let zeros = Buffer.alloc(64 * 1024);

function isZero(b: Buffer, from: number, to: number): boolean {
  const n = to - from;
  if (n > zeros.length) zeros = Buffer.alloc(n);
  return b.subarray(from, to).equals(zeros.subarray(0, n));
}
