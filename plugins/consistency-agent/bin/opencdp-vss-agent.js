#!/usr/bin/env node
// The `opencdp-vss-agent` command as npm links it. npm links a workspace's bins when `npm ci` runs, before the build
// has made dist/: a bin pointing into dist/ is then skipped and npx goes to the registry. This file is in
// the repository from the start and hands over to the compiled entry point, as that entry point.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const target = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(target))) {
  process.stderr.write(`opencdp-vss-agent: ${fileURLToPath(target)} is missing: build first (npm run build)\n`);
  process.exit(2);
}
// The compiled module runs its command only when it is the script node started (isEntryPoint).
process.argv[1] = fileURLToPath(target);
await import(target.href);
