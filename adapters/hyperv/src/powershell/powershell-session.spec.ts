// The session layer through the real node-powershell, pointed at the SIMULATED PowerShell (no PowerShell
// runtime exists here): results parsed and validated, cmdlet failures typed, a process that dies
// mid-command or hangs replaced, output that is not JSON or fails its schema refused, unsafe values refused
// before anything runs, and a remote host reached through a PSSession whose password never enters a script.
import assert from 'node:assert/strict';
import { GET_INVENTORY, GET_VM } from '../hyperv-scripts.js';
import { SimulatedHost } from '../simulation/simulated-host.js';
import { simulatedPowerShell } from '../simulation/simulated-powershell.js';
import { tempDir } from '../spec-helpers.js';
import { PowerShellCommandError, PowerShellOutputError, PowerShellSessionError, PowerShellTimeoutError, UnsafePowerShellValueError } from './powershell-errors.js';
import { PowerShellSession, type PowerShellSessionOptions } from './powershell-session.js';
import { renderScript } from './ps-script.js';
import { OPEN_REMOTE_SESSION } from './session-scripts.js';

describe('PowerShellSession (node-powershell against the SIMULATED Hyper-V shell)', function () {
  this.timeout(30_000);
  let dir: string;
  let cleanup: () => Promise<void>;
  let host: SimulatedHost;
  let shell: Pick<PowerShellSessionOptions, 'executable' | 'env'>;
  const sessions: PowerShellSession[] = [];

  function session(options: Partial<PowerShellSessionOptions> = {}): PowerShellSession {
    const s = new PowerShellSession({ ...shell, timeoutMs: 10_000, ...options });
    sessions.push(s);
    return s;
  }

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    host = await SimulatedHost.create(`${dir}/host`);
    shell = await simulatedPowerShell(dir, host.root);
  });
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.dispose()));
    await cleanup();
  });

  it('runs an operation and returns its validated result; one process serves many commands', async () => {
    const s = session();
    const inv = await s.run(GET_INVENTORY, { storagePaths: ['C:\\Hyper-V'] });
    assert.equal(inv.Host.ComputerName, 'HV-SIM-01');
    assert.deepEqual(inv.Switches.map((x) => [x.Name, x.SwitchType]), [['LAN', 'External'], ['Isolated Test', 'Private']]);
    assert.ok(inv.Volumes[0].Size > 0 && inv.Volumes[0].SizeRemaining > 0);
    await s.run(GET_INVENTORY, { storagePaths: [] });
    assert.equal(s.starts, 1);
    assert.equal((await host.load()).commands, 2);
  });

  it('a failing cmdlet becomes PowerShellCommandError with the cmdlet, message and error id', async () => {
    const s = session();
    await assert.rejects(s.run(GET_VM, { vmId: '4a1e4c43-0000-4000-8000-000000000000' }), (e: unknown) => {
      assert.ok(e instanceof PowerShellCommandError);
      assert.equal(e.cmdlet, 'Get-VM');
      assert.match(e.psMessage, /unable to find a virtual machine/);
      assert.match(e.errorId, /^InvalidParameter,/);
      return true;
    });
    // The session is still good.
    await s.run(GET_INVENTORY, { storagePaths: [] });
    assert.equal(s.starts, 1);
  });

  it('a process that dies mid-command is a PowerShellSessionError; the next command starts a new one', async () => {
    const s = session();
    await s.run(GET_INVENTORY, { storagePaths: [] });
    await host.addFault({ op: GET_INVENTORY.name, kind: 'die', times: 1 });
    await assert.rejects(s.run(GET_INVENTORY, { storagePaths: [] }), PowerShellSessionError);
    const inv = await s.run(GET_INVENTORY, { storagePaths: [] });
    assert.equal(inv.Host.ComputerName, 'HV-SIM-01');
    assert.equal(s.starts, 2);
  });

  it('a command that hangs times out with PowerShellTimeoutError; the process is ended and replaced', async () => {
    const s = session({ timeoutMs: 800 });
    await host.addFault({ op: GET_INVENTORY.name, kind: 'hang', times: 1 });
    await assert.rejects(s.run(GET_INVENTORY, { storagePaths: [] }), (e: unknown) => e instanceof PowerShellTimeoutError && e.timeoutMs === 800);
    const inv = await s.run(GET_INVENTORY, { storagePaths: [] });
    assert.equal(inv.Vms.length, 0);
    assert.equal(s.starts, 2);
  });

  it('output that is not JSON, or fails the operation\'s schema, is refused with PowerShellOutputError', async () => {
    const s = session();
    await host.addFault({ op: GET_INVENTORY.name, kind: 'garbage', times: 1 });
    await assert.rejects(s.run(GET_INVENTORY, { storagePaths: [] }), (e: unknown) => e instanceof PowerShellOutputError && /not JSON/.test(e.message));
    await host.addFault({ op: GET_INVENTORY.name, kind: 'bad-schema', times: 1 });
    await assert.rejects(s.run(GET_INVENTORY, { storagePaths: [] }), (e: unknown) => e instanceof PowerShellOutputError && /fails the schema of Get-OpenCdpInventory/.test(e.message));
  });

  it('a value that cannot be a PowerShell literal is refused before anything runs', async () => {
    const s = session();
    await assert.rejects(s.run(GET_VM, { vmId: 'web\u0000' }), UnsafePowerShellValueError);
    await assert.rejects(s.run(GET_VM, { vmId: 'x\uD800y' }), UnsafePowerShellValueError);
    assert.equal((await host.load()).commands, 0);
    assert.equal(s.starts, 0, 'no PowerShell was even started');
  });

  it('a missing executable is a PowerShellSessionError', async () => {
    const s = session({ executable: `${dir}/no-such-pwsh` });
    await assert.rejects(s.run(GET_INVENTORY, { storagePaths: [] }), PowerShellSessionError);
  });

  it('a remote host: a PSSession is opened first (password through the environment, never in the script), then every script runs in it', async () => {
    const password = 'S3cr3t-\'$(rm -rf /)';
    const s = session({ remote: { computerName: 'hv02.example.test', userName: 'CORP\\svc-opencdp', password } });
    const inv = await s.run(GET_INVENTORY, { storagePaths: [] });
    assert.equal(inv.Host.ComputerName, 'HV-SIM-01');
    const script = renderScript({ op: OPEN_REMOTE_SESSION, params: { computerName: 'hv02.example.test', userName: 'CORP\\svc-opencdp', passwordVariable: 'OPENCDP_HYPERV_PASSWORD' } });
    assert.ok(!script.includes(password));
    assert.match(script, /GetEnvironmentVariable\(\$P_passwordVariable\)/);
  });
});
