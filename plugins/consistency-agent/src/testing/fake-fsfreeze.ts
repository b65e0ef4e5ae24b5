#!/usr/bin/env node
// A stand-in for util-linux's fsfreeze, so tests never freeze the machine they run on:
// `fake-fsfreeze <log> --freeze|--unfreeze <mount>` appends "freeze <mount>" to <log> and keeps the
// frozen set in <log>.frozen.json. Like the real tool it refuses to freeze twice or unfreeze a thawed
// mount, and a mount whose path contains "fail-freeze" cannot be frozen.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

const [log, flag, mount] = process.argv.slice(2);
if (!log || (flag !== '--freeze' && flag !== '--unfreeze') || !mount) {
  process.stderr.write('usage: fake-fsfreeze <log> --freeze|--unfreeze <mount>\n');
  process.exit(2);
}
const stateFile = `${log}.frozen.json`;
const frozen = new Set<string>(existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as string[]) : []);
if (flag === '--freeze') {
  if (mount.includes('fail-freeze')) {
    process.stderr.write(`fsfreeze: ${mount}: freeze failed: Operation not supported\n`);
    process.exit(1);
  }
  if (frozen.has(mount)) {
    process.stderr.write(`fsfreeze: ${mount}: freeze failed: Device or resource busy\n`);
    process.exit(1);
  }
  frozen.add(mount);
} else {
  if (!frozen.has(mount)) {
    process.stderr.write(`fsfreeze: ${mount}: unfreeze failed: Invalid argument\n`);
    process.exit(1);
  }
  frozen.delete(mount);
}
writeFileSync(stateFile, JSON.stringify([...frozen]));
appendFileSync(log, `${flag.slice(2)} ${mount}\n`);
