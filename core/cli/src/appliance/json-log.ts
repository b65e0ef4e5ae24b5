// Structured logs of the appliance processes: one JSON object per line on stdout, `event` first, so
// operators can pipe them into a log shipper and tests can wait for exact events without parsing prose.
// Error objects in fields are reduced to their message and code (JSON.stringify would drop them).

export type JsonLog = (event: string, fields?: Record<string, unknown>) => void;

/** A logger writing `{"event", "time", ...fields}` lines to `write` (stdout by default). */
export function jsonLog(write: (line: string) => void = (line) => process.stdout.write(line)): JsonLog {
  return (event, fields = {}) => {
    const line: Record<string, unknown> = { event, time: new Date().toISOString() };
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      line[k] = v instanceof Error ? { message: v.message, ...((v as { code?: unknown }).code !== undefined ? { code: (v as { code?: unknown }).code } : {}) } : v;
    }
    write(`${JSON.stringify(line)}\n`);
  };
}
