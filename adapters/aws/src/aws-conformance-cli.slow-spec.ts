// `opencdp-conformance --adapter aws` as a user runs it: the CLI in a child process loads the builtin
// AWS harness (S3 on a real s3rver, EBS/EC2 SIMULATED) and runs a case of each suite — journal, sync and
// recovery — writing the JSON report. (The whole of the three suites passes too; run without --grep.)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.resolve('@opencdp/conformance'))), 'cli.js');

describe('opencdp-conformance --adapter aws (S3 on s3rver, EBS/EC2 simulated)', function () {
  this.timeout(900_000);

  it('simulated: runs a journal, a sync and a recovery case through the CLI, exits 0 and writes the report', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ocdp-aws-cli-'));
    try {
      const json = path.join(dir, 'report.json');
      const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [CLI, '--adapter', 'aws', '--grep', 'J7\\.3 |S5\\.3 |R4\\.1 ', '--timeout', '600000', '--json', json], { maxBuffer: 16 << 20 },
          (error, out, err) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout: out, stderr: err }));
      });
      assert.equal(code, 0, `exit code (stdout: ${stdout.slice(-2000)}; stderr: ${stderr.slice(-2000)})`);
      const report = JSON.parse(await fs.readFile(json, 'utf8')) as { adapter: string; passed: number; failed: number; cases: { id: string; state: string }[] };
      assert.equal(report.adapter, 'aws');
      assert.equal(report.failed, 0);
      assert.deepEqual(report.cases.filter((c) => c.state === 'passed').map((c) => c.id).sort(), ['J7.3', 'R4.1', 'S5.3']);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
