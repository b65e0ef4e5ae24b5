// A mocha root hook: once every spec has run, the process must be free to exit. A spec that leaves a
// server listening or a timer armed would otherwise keep `npm test` alive until CI's time runs out, with
// nothing in the log to say why. After a grace period this names what is still open and ends the run
// with the tests' own result (mocha's exit handler keeps the failure count as the exit code).
'use strict';

const GRACE_MS = 20_000;

function describeHandle(h) {
  const kind = h && h.constructor ? h.constructor.name : typeof h;
  try {
    if (kind === 'Server') return `Server listening on ${JSON.stringify(h.address())}`;
    if (kind === 'Socket') return `Socket ${h.remoteAddress ? `to ${h.remoteAddress}:${h.remotePort}` : (h._pipeName || 'pipe or stdio')}`;
    if (kind === 'ChildProcess') return `ChildProcess ${h.pid} ${(h.spawnargs || []).join(' ').slice(0, 160)}`;
    if (kind === 'Timeout') return `Timeout of ${h._idleTimeout} ms: ${String(h._onTimeout).slice(0, 160).replace(/\s+/g, ' ')}`;
  } catch {
    // a handle half torn down: its kind is enough
  }
  return kind;
}

exports.mochaHooks = {
  afterAll() {
    setTimeout(() => {
      // Standard streams are always open; anything else outlived its spec.
      const open = process._getActiveHandles().filter((h) => h !== process.stdout && h !== process.stderr && h !== process.stdin);
      process.stderr.write(`\nopen-handles: the run ended ${GRACE_MS / 1000} s ago but ${open.length} handle(s) keep the process alive; a spec did not close them:\n`);
      for (const h of open) process.stderr.write(`  - ${describeHandle(h)}\n`);
      process.exit();
    }, GRACE_MS).unref();
  },
};
