/**
 * What an error from an AWS SDK v3 call says, read one way for every caller: the ECS
 * calls of the hook, KMS GetPublicKey, AWS Signer GetRevocationStatus, ECR
 * GetAuthorizationToken and the CLI's paginated ECS reads. Each caller maps the kind to
 * its own meaning (wait and retry, TIMEOUT, REGISTRY_AUTH_FAILURE, back off, ...).
 *
 * Read from the error's name, `$retryable`, `$fault` and `$metadata.httpStatusCode`:
 *   throttled  the service asked us to slow down (throttling names, HTTP 429)
 *   timeout    the call was aborted or timed out on our side (TimeoutError, AbortError)
 *   auth       credentials missing, refused or expired (401, 403, the auth error names)
 *   server     the service failed or says a retry may pass (5xx, $fault server, $retryable)
 *   no-answer  no HTTP answer at all (DNS, connection refused): no status and no $fault
 *   client     the service answered that the request is wrong (other 4xx)
 */
export type AwsErrorKind = 'throttled' | 'timeout' | 'auth' | 'server' | 'no-answer' | 'client';

const THROTTLING = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded']);
const TIMEOUTS = new Set(['TimeoutError', 'AbortError']);
const AUTH = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'CredentialsProviderError',
]);
/** server-side trouble some services name without a 5xx (KMS answers these as 4xx or 5xx) */
const SERVER = new Set([
  'DependencyTimeoutException',
  'KMSInternalException',
  'KeyUnavailableException',
  'InternalFailure',
  'ServiceUnavailable',
]);

interface SdkErrorShape {
  name?: unknown;
  $fault?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

export function classifyAwsError(e: unknown): AwsErrorKind {
  const err = (typeof e === 'object' && e !== null ? e : {}) as SdkErrorShape;
  const name = typeof err.name === 'string' ? err.name : '';
  const status = err.$metadata?.httpStatusCode;
  if (THROTTLING.has(name) || status === 429) return 'throttled';
  if (TIMEOUTS.has(name)) return 'timeout';
  if (AUTH.has(name) || status === 401 || status === 403) return 'auth';
  if (SERVER.has(name) || err.$retryable || err.$fault === 'server' || (status !== undefined && status >= 500))
    return 'server';
  if (status === undefined && !err.$fault) return 'no-answer';
  return 'client';
}

/** May the same call pass if made again a little later? */
export function isTransient(e: unknown): boolean {
  return classifyAwsError(e) !== 'auth' && classifyAwsError(e) !== 'client';
}

export function isThrottling(e: unknown): boolean {
  return classifyAwsError(e) === 'throttled';
}

/** Thrown by an SDK client (it carries the SDK's metadata or fault), not by our own code. */
export function isSdkError(e: unknown): boolean {
  const err = e as SdkErrorShape | null;
  return Boolean(err && (err.$metadata || err.$fault || TIMEOUTS.has(String(err.name))));
}
