// Typed errors of the PowerShell layer: a cmdlet that failed (with the cmdlet and PowerShell's own
// message and error id), a command that timed out, a session that died or could not start, output that is
// not what the script promises, and a value that cannot be written as a PowerShell literal.
import { OpenCdpError } from '@opencdp/core';

/** A cmdlet or CIM method failed inside the script; nothing after it ran. */
export class PowerShellCommandError extends OpenCdpError {
  constructor(
    readonly operation: string,
    /** The cmdlet (or method) that failed, e.g. `Get-VM` or `GetVirtualDiskChanges`. */
    readonly cmdlet: string,
    readonly psMessage: string,
    /** PowerShell's FullyQualifiedErrorId, e.g. `InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM`. */
    readonly errorId: string,
    readonly category: string,
    /** A CIM method's return value (32768 Failed, 32773 Invalid parameter, …) when the failure came from one. */
    readonly returnValue?: number,
  ) {
    super('POWERSHELL_COMMAND', `${operation}: ${cmdlet || 'PowerShell'} failed: ${psMessage}${returnValue !== undefined ? ` (return value ${returnValue})` : ''}`,
      'see the message from Hyper-V; check the host, the VM and the adapter account\'s rights');
  }
}

/** The command did not answer in time; the session was ended (a new one starts with the next command). */
export class PowerShellTimeoutError extends OpenCdpError {
  constructor(readonly operation: string, readonly timeoutMs: number) {
    super('POWERSHELL_TIMEOUT', `${operation} did not finish within ${timeoutMs} ms; the PowerShell session was ended`,
      'the host may be overloaded or a Hyper-V job hangs; the next command opens a new session');
  }
}

/** The PowerShell process could not start, or exited (mid-command or between commands). */
export class PowerShellSessionError extends OpenCdpError {
  constructor(message: string, readonly operation?: string) {
    super('POWERSHELL_SESSION', operation ? `${operation}: ${message}` : message,
      'check the PowerShell executable (powershell.exe, pwsh) and, for a remote host, WinRM and the credentials');
  }
}

/** The script's output is missing, not JSON, or fails the schema of its operation; nothing was used from it. */
export class PowerShellOutputError extends OpenCdpError {
  constructor(readonly operation: string, reason: string, readonly output: string) {
    super('POWERSHELL_OUTPUT', `${operation}: unexpected output from PowerShell: ${reason}`,
      'the host answered in a shape this adapter does not know (another Hyper-V version, a profile that prints)');
  }
}

/** A value that cannot travel as a PowerShell string literal (a NUL character, a lone surrogate); nothing was run. */
export class UnsafePowerShellValueError extends OpenCdpError {
  constructor(readonly field: string, reason: string) {
    super('POWERSHELL_VALUE', `${field} cannot be passed to PowerShell: ${reason}`, 'remove control characters from the name or path');
  }
}
