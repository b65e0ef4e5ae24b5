// The script the session layer itself runs: opening the PSSession to a remote Hyper-V host. The password
// never appears in script text: the session puts it in the PowerShell process's environment, and the script
// reads the variable (named by a parameter), builds the credential, and clears the variable.
import type { PsOperation } from './ps-script.js';

export const OPEN_REMOTE_SESSION: PsOperation<null> = {
  name: 'Open-OpenCdpRemoteSession',
  params: ['computerName', 'userName', 'passwordVariable'],
  result: 'none',
  schema: {},
  body: `
$options = @{ ComputerName = $P_computerName; ErrorAction = 'Stop' }
if ($P_userName) {
  $plain = [System.Environment]::GetEnvironmentVariable($P_passwordVariable)
  $secure = ConvertTo-SecureString -String $plain -AsPlainText -Force
  $options.Credential = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList $P_userName, $secure
}
if ($P_passwordVariable) {
  [System.Environment]::SetEnvironmentVariable($P_passwordVariable, $null)
}
$global:OpenCdpRemote = New-PSSession @options
`,
};
