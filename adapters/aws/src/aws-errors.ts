// Typed errors of the AWS adapter. Every failure of an AWS call becomes an OpenCdpError that carries the
// service, the operation, AWS's own error code and what to do about it; storage failures stay
// StorageErrors (the kernel maps those to JournalStorageError / RecoveryStorageError) with the AWS code.
import { OpenCdpError, StorageError } from '@opencdp/core';

export type AwsService = 'S3' | 'EBS' | 'EC2';

/** What an operator can do about an AWS error code; the default points at AWS's documentation. */
export function hintForAwsCode(code: string): string {
  switch (code) {
    case 'InvalidAccessKeyId':
    case 'UnrecognizedClientException':
    case 'InvalidClientTokenId':
    case 'AuthFailure':
    case 'SignatureDoesNotMatch':
    case 'InvalidSignatureException':
    case 'CredentialsProviderError':
      return 'check the credentials the SDK\'s default provider chain finds (environment, shared credentials file or profile, instance or task role)';
    case 'ExpiredToken':
    case 'ExpiredTokenException':
    case 'RequestExpired':
      return 'the session credentials expired: refresh them (new role session, aws sso login) and retry';
    case 'Forbidden':
      return 'AWS refused the request (403): check the credentials the SDK\'s default provider chain finds, and that the IAM policy grants this feature (docs/adapters/aws.md)';
    case 'AccessDenied':
    case 'AccessDeniedException':
    case 'UnauthorizedOperation':
      return 'grant the IAM permission this feature needs (docs/adapters/aws.md lists them per feature)';
    case 'NoSuchBucket':
      return 'create the bucket, or fix s3.bucket (and region) in the platform config';
    case 'SlowDown':
    case 'RequestThrottledException':
    case 'ThrottlingException':
    case 'Throttling':
    case 'RequestLimitExceeded':
    case 'ConcurrentLimitExceededException':
      return 'AWS throttled the call and retries did not get through: lower the adapter\'s parallelism or retry later';
    case 'InternalError':
    case 'InternalServerException':
    case 'ServiceUnavailable':
      return 'AWS failed internally and retries did not get through: retry later';
    default:
      return `see the AWS documentation of error code '${code}'`;
  }
}

/** An AWS call failed (after the SDK's retries); `awsCode` is AWS's error code, e.g. `InvalidSnapshot.NotFound`. */
export class AwsApiError extends OpenCdpError {
  constructor(
    readonly service: AwsService,
    readonly operation: string,
    readonly awsCode: string,
    readonly httpStatus: number | undefined,
    detail: string,
    hint: string = hintForAwsCode(awsCode),
  ) {
    super('AWS_API', `${service} ${operation} failed with ${awsCode}${httpStatus ? ` (HTTP ${httpStatus})` : ''}: ${detail}`, hint);
  }
}

/** S3 recovery storage failed; a StorageError (reason io / missing / full / closed) that also names the AWS code. */
export class S3StorageError extends StorageError {
  override readonly hint: string;

  constructor(readonly awsCode: string, message: string, reason: StorageError['reason'] = 'io', hint: string = hintForAwsCode(awsCode)) {
    super(`${message} (${hint})`, reason);
    this.hint = hint;
  }
}

/** Data read back did not match its checksum (a block from EBS, an object from S3). */
export class AwsChecksumError extends OpenCdpError {
  constructor(what: string, expected: string, actual: string) {
    super('AWS_CHECKSUM', `${what}: checksum ${actual} does not match the expected ${expected}`,
      'the data was damaged in transit or at rest; retry, and if it repeats, recreate the object or snapshot');
  }
}

/** An EBS snapshot went to state `error` or did not complete in time. */
export class SnapshotFailedError extends OpenCdpError {
  constructor(readonly snapshotId: string, detail: string) {
    super('EBS_SNAPSHOT_FAILED', `EBS snapshot '${snapshotId}' failed: ${detail}`,
      'the snapshot is deleted; check the EBS quotas and the volume, then retry');
  }
}

/** An EC2 instance did not reach the state asked for (terminated on launch, stuck pending). */
export class InstanceStateError extends OpenCdpError {
  constructor(readonly instanceId: string, readonly wanted: string, detail: string) {
    super('EC2_INSTANCE_STATE', `EC2 instance '${instanceId}' did not become ${wanted}: ${detail}`,
      'check the instance type, AMI, subnet and quotas named in the state reason; what this recovery created was removed');
  }
}

const STATUS_CODES: Record<number, string> = { 400: 'BadRequest', 403: 'Forbidden', 404: 'NotFound', 500: 'InternalError', 503: 'ServiceUnavailable' };

/** The name of an SDK error (its AWS code) and its HTTP status, or a generic code for non-SDK failures. */
export function awsCodeOf(error: unknown): { code: string; status?: number; message: string } {
  const e = error as { name?: unknown; Code?: unknown; code?: unknown; message?: unknown; $metadata?: { httpStatusCode?: number } };
  let code = typeof e?.Code === 'string' ? e.Code : typeof e?.name === 'string' && e.name !== 'Error' ? e.name : typeof e?.code === 'string' ? e.code : 'UnknownError';
  const status = e?.$metadata?.httpStatusCode;
  // Answers without a body (HEAD requests) carry no code: name them by their status.
  if ((code === 'Unknown' || code === 'UnknownError') && status !== undefined) code = STATUS_CODES[status] ?? code;
  const message = typeof e?.message === 'string' ? e.message : String(error);
  return { code, ...(status !== undefined ? { status } : {}), message };
}

/** Wraps an SDK failure as an AwsApiError; typed OpenCdpErrors pass through unchanged. */
export function toAwsApiError(service: AwsService, operation: string, error: unknown): OpenCdpError {
  if (error instanceof OpenCdpError) return error;
  const { code, status, message } = awsCodeOf(error);
  return new AwsApiError(service, operation, code, status, message);
}
