// `opencdp-conformance init <dir>`: writes an adapter skeleton a vendor starts from — a package that
// compiles, a HypervisorAdapter whose methods say what is left to do, and a ConformanceHarness with the
// SDK's helpers (I/O-aware clock, fault-injecting memory storage with power cuts) already wired, so the
// suite runs at once and fails exactly where work is left. The harness exports the TODO list the report
// echoes; the expected-skips file declares what the skeleton does not support yet.
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CAPABILITIES, ValidationError, type Capability } from '@opencdp/core';
import { SUITE_NAMES } from './conformance-case.js';
import { SUITES } from './define-conformance.js';

export interface ScaffoldOptions {
  /** The folder to write (created when missing). */
  dir: string;
  /** The platform's name (lower case, digits, dashes); default: the folder's name. */
  name?: string;
  /** Write into a folder that is not empty; existing files are never overwritten. */
  force?: boolean;
  /** Where the OpenCDP checkout is, for `file:` dependencies (default: the one this CLI runs from). */
  sdkRoot?: string;
}

/** What the skeleton leaves unsupported at first, each with the reason it reports (the vendor edits these). */
const UNSUPPORTED_AT_FIRST: Readonly<Partial<Record<Capability, string>>> = {
  changeTracking: 'TODO: a splitter platform; say why change tracking is not offered, or implement it',
  faultChangeTracking: 'TODO: only with changeTracking',
  faultHostRestart: 'TODO: restart a protected host in the harness (taps must close through onClose)',
  faultHypervisorManagerRestart: 'TODO: restart the hypervisor manager in the harness',
  volumeHotAdd: 'TODO: implement ConformanceHarness.addVolume, or say why volumes cannot be hot-added',
  consistencyAgent: 'TODO: offer a ConsistencyAgent (guest quiesce), or say why not',
  recoveryPromotion: 'TODO: offer HypervisorAdapter.promotion (R7, clone)',
};

/** The TODO list the harness exports (and the report echoes): what the stubs throw about. */
const TODO = [
  'src/hypervisor.ts inventory/getVm: list hosts (at least two protected ones), VMs, networks (one isolated), datastores (P1.1)',
  'src/hypervisor.ts openTap: a write-blocking splitter; the guest write completes only when the sink answers (P2.1)',
  'src/hypervisor.ts readVolume: read protected volumes for initial, delta and bitmap syncs (S1–S5)',
  'src/hypervisor.ts createRecoveryVm: disks in spec order at the source\'s size and the spec\'s sector size, powered off (P4.1, R1–R4)',
  'src/hypervisor.ts powerOn/powerOff/shutdownGuest/deleteVm: refuse writes while off and deletes while on (P3.1, P3.2)',
  'src/harness.ts createVm/guestWrite: make protected VMs and write into them as their guest (every case)',
  'src/harness.ts capabilities: replace each TODO reason by true once supported, or by why the platform cannot',
];

function packageName(name: string): string {
  return `opencdp-adapter-${name}`;
}

function className(name: string): string {
  return name.split('-').map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('');
}

/** The OpenCDP checkout this CLI runs from (conformance/dist/ → the repository root). */
function defaultSdkRoot(): string {
  return resolve(fileURLToPath(new URL('../..', import.meta.url)));
}

function files(name: string, sdkDeps: { core: string; conformance: string }): Record<string, string> {
  const cls = className(name);
  const unsupported = Object.entries(UNSUPPORTED_AT_FIRST);
  const skips: Record<string, string> = {};
  for (const suite of SUITE_NAMES) {
    for (const c of SUITES[suite]) {
      const missing = c.needs.filter((n) => UNSUPPORTED_AT_FIRST[n] !== undefined);
      if (missing.length > 0) skips[c.id] = `needs ${missing.join(', ')} (unsupported in the skeleton)`;
    }
  }
  return {
    'package.json': `${JSON.stringify({
      name: packageName(name),
      version: '0.1.0',
      private: true,
      description: `OpenCDP adapter for ${name}`,
      type: 'module',
      main: 'dist/index.js',
      scripts: {
        build: 'tsc -p .',
        conformance: 'tsc -p . && opencdp-conformance --adapter dist/harness.js --json conformance.json --junit conformance.xml --expect-skips expected-skips.json',
        test: 'tsc -p . && mocha --reporter @opencdp/conformance/reporter --reporter-option json=conformance.json --reporter-option junit=conformance.xml \'dist/**/*.spec.js\'',
      },
      engines: { node: '>=20.19.0' },
      dependencies: { '@opencdp/core': sdkDeps.core },
      devDependencies: {
        '@opencdp/conformance': sdkDeps.conformance, '@types/mocha': '10.0.10', '@types/node': '20.19.43', mocha: '12.0.3', typescript: '6.0.3',
      },
    }, null, 2)}\n`,
    'tsconfig.json': `${JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023'], types: ['node', 'mocha'],
        strict: true, noImplicitOverride: true, skipLibCheck: true, rootDir: 'src', outDir: 'dist', sourceMap: true,
      },
      include: ['src'],
    }, null, 2)}\n`,
    '.gitignore': 'node_modules/\ndist/\nconformance.json\nconformance.xml\n',
    'expected-skips.json': `${JSON.stringify(skips, null, 2)}\n`,
    'src/todo.ts': `// Marks what the skeleton leaves to do: every stub throws this, so the suite fails where work is left and
// says where. Delete this file once nothing uses it.
import { OpenCdpError } from '@opencdp/core';

export class NotImplementedYet extends OpenCdpError {
  constructor(what: string, hint: string) {
    super('TODO', \`TODO(\${what}) is not implemented yet\`, hint);
  }
}
`,
    'src/hypervisor.ts': `// The ${name} platform behind OpenCDP's HypervisorAdapter port. Each method's contract is in
// @opencdp/core (ports/hypervisor-adapter.ts, ports/write-tap.ts); the conformance case that checks it is
// named in each TODO. Replace every stub, then delete src/todo.ts.
import type { HypervisorAdapter, Inventory, RecoveryVmSpec, VmId, VmInfo, VolumeId, WriteTap } from '@opencdp/core';
import { NotImplementedYet } from './todo.js';

export class ${cls}Hypervisor implements HypervisorAdapter {
  readonly platform = '${name}';

  async inventory(): Promise<Inventory> {
    throw new NotImplementedYet('hypervisor.inventory', 'list hosts (two protected ones at least), VMs, networks (one isolated, for failover tests) and datastores with free bytes (P1.1)');
  }

  async getVm(vmId: VmId): Promise<VmInfo> {
    throw new NotImplementedYet(\`hypervisor.getVm(\${vmId})\`, 'return the VM with its volumes in order; an unknown VM fails with UnknownVmError (P1.1, P3.2)');
  }

  async openTap(vmId: VmId): Promise<WriteTap> {
    throw new NotImplementedYet(\`hypervisor.openTap(\${vmId})\`, 'a write-blocking splitter: every guest write in order, completed only when the sink answers; onClose when the platform closes it (P2.1–P2.3)');
  }

  async readVolume(vmId: VmId, volumeId: VolumeId, offset: number, length: number): Promise<Buffer> {
    throw new NotImplementedYet(\`hypervisor.readVolume(\${vmId}, \${volumeId}, \${offset}, \${length})\`, 'read the protected volume (initial, delta and bitmap syncs)');
  }

  async createRecoveryVm(spec: RecoveryVmSpec): Promise<VmInfo> {
    throw new NotImplementedYet(\`hypervisor.createRecoveryVm(\${spec.name})\`, "one disk per spec disk in spec order, each of the source's size and the spec's sector size, reading through the source; powered off; nothing left behind on failure (P4.1)");
  }

  async powerOn(vmId: VmId): Promise<void> {
    throw new NotImplementedYet(\`hypervisor.powerOn(\${vmId})\`, 'P3.1');
  }

  async shutdownGuest(vmId: VmId): Promise<void> {
    throw new NotImplementedYet(\`hypervisor.shutdownGuest(\${vmId})\`, 'a clean guest shutdown (R2, R3)');
  }

  async powerOff(vmId: VmId): Promise<void> {
    throw new NotImplementedYet(\`hypervisor.powerOff(\${vmId})\`, 'a powered-off VM refuses guest writes (P3.1)');
  }

  async deleteVm(vmId: VmId): Promise<void> {
    throw new NotImplementedYet(\`hypervisor.deleteVm(\${vmId})\`, 'refuse a running VM (typed); delete a powered-off one and give its space back (P3.2, P4.1)');
  }
}
`,
    'src/harness.ts': `// What the conformance suite drives: the ${name} platform plus the SDK's test helpers. The suite calls
// createHarness once per case. The recovery site keeps journals in memory behind FaultyStorage, so storage
// faults and power cuts work from the start; swap in your own store (wrap it in PowerCutStorage to keep
// power cuts) once the platform runs. See docs/adapter-guide.md in the OpenCDP repository.
import {
  CAPABILITIES, FaultyStorage, IoAwareVirtualClock, MemoryStorage, ValidationError,
  type CapabilityTable, type ConformanceHarness, type Fault, type HarnessFactory, type ProtectedVmSpec, type VmId, type VmInfo, type VolumeId,
} from '@opencdp/core';
import { ${cls}Hypervisor } from './hypervisor.js';
import { NotImplementedYet } from './todo.js';

/** The report's name for this adapter. */
export const name = '${name}';

/** What is left to do; the conformance report echoes it. Remove lines as you finish them. */
export const todo: string[] = ${JSON.stringify(TODO, null, 2).replace(/\n/g, '\n')};

/** true = supported; a string = unsupported and why (the cases that need it skip with that reason). */
const declared: Partial<CapabilityTable> = ${JSON.stringify({
  writeTap: true, virtualClock: true, faultStorageError: true, faultStorageFull: true, faultStorageSlow: true, faultStorageCrash: true, recoveryVm: true,
  ...UNSUPPORTED_AT_FIRST,
}, null, 2)};

export const createHarness: HarnessFactory = async () => {
  // Virtual time that waits for the real I/O its timers start: use it whenever the kernel or the
  // platform does real I/O (files, sockets); track() platform work the clock cannot see as file I/O.
  const clock = new IoAwareVirtualClock();
  const hypervisor = new ${cls}Hypervisor();
  const memory = new MemoryStorage();
  const recoveryStorage = new FaultyStorage(memory, clock);
  const capabilities = Object.fromEntries(CAPABILITIES.map((c) => [c, declared[c] ?? \`the ${name} harness does not declare '\${c}' yet\`])) as CapabilityTable;
  const harness: ConformanceHarness = {
    name,
    capabilities,
    clock,
    hypervisor,
    recoveryStorage,
    async createVm(spec: ProtectedVmSpec): Promise<VmInfo> {
      throw new NotImplementedYet(\`harness.createVm(\${spec.name})\`, 'create a running protected VM with the volumes asked for, on spec.hostId when given (P1.1)');
    },
    async guestWrite(vmId: VmId, volumeId: VolumeId, offset: number, data: Buffer): Promise<void> {
      throw new NotImplementedYet(\`harness.guestWrite(\${vmId}, \${volumeId}, \${offset}, \${data.length} bytes)\`, 'write as the guest would; resolve when the guest write completes');
    },
    advance: (ms: number) => clock.advance(ms),
    async injectFault(fault: Fault): Promise<void> {
      if (fault.kind === 'storage-error' || fault.kind === 'storage-full' || fault.kind === 'storage-slow') {
        recoveryStorage.setFault(fault);
        return;
      }
      throw new ValidationError(\`the ${name} harness cannot inject '\${fault.kind}' yet\`, 'kind');
    },
    async clearFaults(): Promise<void> {
      recoveryStorage.setFault(undefined);
    },
    async crashRecoveryStorage(seed: number): Promise<void> {
      memory.crash(seed);
    },
    async dispose(): Promise<void> {
      recoveryStorage.setFault(undefined);
      // Stop what createHarness started (sessions, processes) and remove what it made, after the suite
      // has stopped its appliances: the kernel may still flush journal files until then.
    },
  };
  return harness;
};
`,
    'src/index.ts': `// ${packageName(name)}: the ${name} platform for OpenCDP.
export { ${cls}Hypervisor } from './hypervisor.js';
`,
    'src/conformance.spec.ts': `// The conformance suite inside this package's own mocha run (npm test), reported as JSON and JUnit by
// the conformance reporter. \`npm run conformance\` runs the same suite through the CLI instead.
import { defineConformance } from '@opencdp/conformance';
import { createHarness, name } from './harness.js';

defineConformance({ name, createHarness });
`,
    'TODO.md': `# ${name}: what is left\n\nThe conformance report lists the same items (\`todo\` in conformance.json). Each stub in \`src/\` throws\n\`TODO(...)\` with the cases that check it.\n\n${TODO.map((t) => `- [ ] ${t}`).join('\n')}\n- [ ] \`expected-skips.json\`: shrink it as capabilities become supported; the run fails on any skip it does not list\n${unsupported.map(([c, why]) => `- [ ] capability \`${c}\`: ${why.replace(/^TODO: /, '')}`).join('\n')}\n`,
    'README.md': `# ${packageName(name)}\n\nAn OpenCDP adapter for ${name}, started from \`opencdp-conformance init\`.\n\n\`\`\`sh\nnpm install\nnpm run conformance      # the CLI: summary, conformance.json, conformance.xml (JUnit); fails on undeclared skips\nnpm test                 # the same suite in mocha with the conformance reporter\n\`\`\`\n\nSee TODO.md, and docs/adapter-guide.md in the OpenCDP repository.\n`,
  };
}

export interface ScaffoldResult {
  dir: string;
  /** Files written, relative to `dir`. */
  files: string[];
}

export async function scaffoldAdapter(options: ScaffoldOptions): Promise<ScaffoldResult> {
  const dir = resolve(options.dir);
  const name = options.name ?? dir.split(/[\\/]/).filter(Boolean).pop() ?? '';
  if (!/^[a-z][a-z0-9-]{0,40}$/.test(name)) {
    throw new ValidationError(`'${name}' is not a platform name: lower-case letters, digits and dashes, starting with a letter`, 'name', 'pass --name my-platform');
  }
  if (existsSync(dir) && readdirSync(dir).length > 0 && !options.force) {
    throw new ValidationError(`${dir} is not empty`, 'dir', 'choose a new folder, or pass --force to add the skeleton beside what is there (existing files are kept)');
  }
  const sdk = resolve(options.sdkRoot ?? defaultSdkRoot());
  const dep = (sub: string): string => {
    const target = join(sdk, sub);
    return existsSync(join(target, 'package.json')) ? `file:${relative(dir, target) || '.'}` : '0.1.0';
  };
  const content = files(name, { core: dep('core/kernel'), conformance: dep('conformance') });
  const written: string[] = [];
  for (const [file, text] of Object.entries(content)) {
    const path = join(dir, file);
    if (existsSync(path)) continue;
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, text);
    written.push(file);
  }
  return { dir, files: written };
}
