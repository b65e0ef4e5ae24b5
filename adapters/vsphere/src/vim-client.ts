// A typed vim25 client: a session (Login with the session cookie, one re-login when vCenter says the
// session is gone, Logout on close), the PropertyCollector with paging (RetrievePropertiesEx /
// ContinueRetrievePropertiesEx) and container views, and `*_Task` calls awaited through the property
// collector with progress and a timeout. It knows vim25's methods and arguments, not SOAP (vim25-soap.ts).
import { VimHttp, type VimTrust } from './vim-http.js';
import { Vim25Soap, type Vim25Operation } from './vim25-soap.js';
import { MoRef, at, isObject, num, objects, str, typed, type VimObject, type VimValue } from './vim-types.js';
import { VimFaultError, VimTaskError, VimTaskTimeoutError } from './vsphere-errors.js';

export interface VimClientOptions {
  /** The SDK endpoint, `https://<vcenter>/sdk`. */
  url: string | URL;
  user: string;
  /** Read when logging in (and again on re-login); never logged. */
  password: () => string;
  trust: VimTrust;
  requestTimeoutMs?: number;
  /** How long a `*_Task` may run before it is cancelled and reported (default 10 min). */
  taskTimeoutMs?: number;
  /** Objects per RetrievePropertiesEx page (default 500). */
  pageSize?: number;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

export interface ServiceContentInfo {
  rootFolder: MoRef;
  propertyCollector: MoRef;
  viewManager: MoRef;
  sessionManager: MoRef;
  fileManager: MoRef;
  apiVersion: string;
  apiType: string;
  fullName: string;
  instanceUuid: string;
}

export interface ObjectContent {
  obj: MoRef;
  props: Record<string, VimValue>;
  /** Properties vCenter could not read (e.g. a permission), with the fault name. */
  missing: { path: string; fault: string }[];
}

export interface PropertyRequest {
  type: string;
  paths: readonly string[];
}

export interface TaskOptions {
  timeoutMs?: number;
  onProgress?: (percent: number) => void;
}

const SERVICE_INSTANCE = new MoRef('ServiceInstance', 'ServiceInstance');

export class VimClient {
  private loggingIn?: Promise<void>;
  private sessionKeyValue?: string;
  private closed = false;

  private constructor(
    readonly http: VimHttp,
    private readonly soap: Vim25Soap,
    readonly content: ServiceContentInfo,
    private readonly options: VimClientOptions,
  ) {}

  /** Connects (TLS verified), reads the service content and logs in. */
  static async connect(options: VimClientOptions): Promise<VimClient> {
    const url = typeof options.url === 'string' ? new URL(options.url) : options.url;
    const http = new VimHttp({ url, trust: options.trust, ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}) });
    try {
      const soap = await Vim25Soap.open(http);
      const sc = await soap.call('RetrieveServiceContent', { _this: SERVICE_INSTANCE });
      const ref = (path: string): MoRef => {
        const r = at(sc, path);
        if (!(r instanceof MoRef)) throw new VimFaultError('SystemError', `the service content lacks ${path}`, 'RetrieveServiceContent');
        return r;
      };
      const content: ServiceContentInfo = {
        rootFolder: ref('rootFolder'), propertyCollector: ref('propertyCollector'), viewManager: ref('viewManager'),
        sessionManager: ref('sessionManager'), fileManager: ref('fileManager'),
        apiVersion: str(at(sc, 'about.apiVersion'), '6.5'), apiType: str(at(sc, 'about.apiType')),
        fullName: str(at(sc, 'about.fullName')), instanceUuid: str(at(sc, 'about.instanceUuid')),
      };
      soap.setApiVersion(content.apiVersion);
      const client = new VimClient(http, soap, content, options);
      await client.login();
      return client;
    } catch (error) {
      http.close();
      throw error;
    }
  }

  /** The vCenter session key of the current login (for TerminateSession by an administrator). */
  get sessionKey(): string | undefined {
    return this.sessionKeyValue;
  }

  private login(): Promise<void> {
    this.loggingIn ??= (async () => {
      try {
        // The old cookie names a dead session; vCenter refuses a Login made inside a live one.
        this.http.cookie = undefined;
        const session = await this.soap.callSecret('Login', { _this: this.content.sessionManager, userName: this.options.user, password: this.options.password() });
        this.sessionKeyValue = str(at(session, 'key'));
        this.options.log?.('vsphere-login', { user: this.options.user, server: this.content.fullName });
      } finally {
        this.loggingIn = undefined;
      }
    })();
    return this.loggingIn;
  }

  /**
   * Calls a vim25 method. When vCenter answers NotAuthenticated (the session expired or was terminated),
   * logs in again once and repeats the call: the method did not run, so repeating it is safe.
   */
  async invoke(operation: Vim25Operation, args: Record<string, VimValue>): Promise<VimValue> {
    if (this.loggingIn) await this.loggingIn;
    const session = this.sessionKeyValue;
    try {
      return await this.soap.call(operation, args);
    } catch (error) {
      if (!(error instanceof VimFaultError) || error.faultName !== 'NotAuthenticated' || this.closed) throw error;
      // Several calls may meet the same expiry: the first logs in, the others wait for it or find it done.
      if (this.loggingIn) await this.loggingIn;
      else if (this.sessionKeyValue === session) {
        this.options.log?.('vsphere-session-expired', { operation });
        await this.login();
      }
      return this.soap.call(operation, args);
    }
  }

  /** Logs out (best effort) and closes the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.sessionKeyValue) await this.soap.call('Logout', { _this: this.content.sessionManager });
    } catch {
      // The session may already be gone; nothing is left to release then.
    } finally {
      this.http.close();
    }
  }

  // ---- property collector ---------------------------------------------------------------------------

  /** Every object (with the requested properties) a filter spec selects, page by page. */
  async retrieve(specSet: VimObject[]): Promise<ObjectContent[]> {
    const out: ObjectContent[] = [];
    let page = await this.invoke('RetrievePropertiesEx', {
      _this: this.content.propertyCollector, specSet, options: { maxObjects: this.options.pageSize ?? 500 },
    });
    for (;;) {
      for (const o of objects(at(page, 'objects'))) out.push(objectContent(o));
      const token = str(at(page, 'token'));
      if (!token) return out;
      page = await this.invoke('ContinueRetrievePropertiesEx', { _this: this.content.propertyCollector, token });
    }
  }

  /** Properties of one object; throws VimFaultError(ManagedObjectNotFound) when it does not exist. */
  async properties(obj: MoRef, paths: readonly string[]): Promise<Record<string, VimValue>> {
    const found = await this.retrieve([{
      propSet: [{ type: obj.type, pathSet: [...paths] }],
      objectSet: [{ obj, skip: false }],
    }]);
    const o = found.find((x) => x.obj.equals(obj));
    if (!o) throw new VimFaultError('ManagedObjectNotFound', `${obj} does not exist`, 'RetrievePropertiesEx', { obj: obj.value });
    return o.props;
  }

  /** Every object of the given types below `container` (recursive), through a container view. */
  async inventory(container: MoRef, requests: readonly PropertyRequest[]): Promise<ObjectContent[]> {
    const view = await this.invoke('CreateContainerView', {
      _this: this.content.viewManager, container, type: requests.map((r) => r.type), recursive: true,
    });
    if (!(view instanceof MoRef)) throw new VimFaultError('SystemError', 'CreateContainerView answered no view', 'CreateContainerView');
    try {
      return await this.retrieve([{
        propSet: requests.map((r) => ({ type: r.type, pathSet: [...r.paths] })),
        objectSet: [{ obj: view, skip: true, selectSet: [typed('TraversalSpec', { name: 'view', type: 'ContainerView', path: 'view', skip: false })] }],
      }]);
    } finally {
      await this.invoke('DestroyView', { _this: view }).catch(() => undefined);
    }
  }

  // ---- tasks ----------------------------------------------------------------------------------------

  /** Starts a `*_Task` and waits for it; resolves to the task's result. */
  async runTask(operation: Vim25Operation, args: Record<string, VimValue>, options: TaskOptions = {}): Promise<VimValue> {
    const task = await this.invoke(operation, args);
    if (!(task instanceof MoRef)) throw new VimFaultError('SystemError', `${operation} answered no task`, operation);
    return this.waitForTask(task, operation, options);
  }

  /**
   * Polls the task's `info` through the property collector (50 ms, growing to 1 s) until it succeeds, fails
   * or the timeout passes; on timeout it asks vCenter to cancel the task and throws VimTaskTimeoutError.
   */
  async waitForTask(task: MoRef, name: string, options: TaskOptions = {}): Promise<VimValue> {
    const timeoutMs = options.timeoutMs ?? this.options.taskTimeoutMs ?? 600_000;
    const deadline = Date.now() + timeoutMs;
    let delay = 50;
    let lastProgress: number | undefined;
    for (;;) {
      const props = await this.properties(task, ['info']);
      const info = props.info;
      const state = str(at(info, 'state'));
      if (state === 'success') {
        options.onProgress?.(100);
        return at(info, 'result');
      }
      if (state === 'error') {
        const fault = at(info, 'error.fault');
        throw new VimTaskError(task.value, name, isObject(fault) ? str(fault._type, 'SystemError') : 'SystemError', str(at(info, 'error.localizedMessage')));
      }
      const progress = at(info, 'progress');
      if (progress !== undefined && num(progress) !== lastProgress) {
        lastProgress = num(progress);
        options.onProgress?.(lastProgress);
      }
      if (Date.now() >= deadline) {
        await this.invoke('CancelTask', { _this: task }).catch(() => undefined);
        throw new VimTaskTimeoutError(task.value, name, timeoutMs, lastProgress);
      }
      await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(1, deadline - Date.now()))));
      delay = Math.min(1000, Math.round(delay * 1.5));
    }
  }

  /** The server's clock (also a cheap call that needs a valid session). */
  async currentTime(): Promise<string> {
    return str(await this.invoke('CurrentTime', { _this: SERVICE_INSTANCE }));
  }

  /** Ends other sessions (needs Sessions.TerminateSession); used by operators and tests. */
  async terminateSessions(keys: readonly string[]): Promise<void> {
    await this.invoke('TerminateSession', { _this: this.content.sessionManager, sessionId: [...keys] });
  }
}

function objectContent(o: VimObject): ObjectContent {
  const props: Record<string, VimValue> = {};
  for (const p of objects(o.propSet)) props[str(p.name)] = p.val;
  const missing = objects(o.missingSet).map((m) => ({ path: str(m.path), fault: str(at(m, 'fault.fault._type'), 'SystemError') }));
  return { obj: o.obj as MoRef, props, missing };
}

