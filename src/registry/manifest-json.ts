/**
 * Shape checks for manifest and index JSON: the fields verifiers walk (config, layers,
 * manifests, subject, annotations) must have the types ManifestJson promises, or the
 * answer is a BAD_RESPONSE rather than a crash deeper down.
 */
import { type Descriptor, type ManifestJson, RegistryError } from '../core/registry.js';

export function parseManifestJson(bytes: Buffer, what: string): ManifestJson {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new RegistryError('BAD_RESPONSE', `${what}: not valid JSON`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new RegistryError('BAD_RESPONSE', `${what}: not a JSON object`);
  }
  const m = json as Record<string, unknown>;
  // the fields verifiers walk must have the shape the types promise
  const optionalString = (k: string) => m[k] === undefined || typeof m[k] === 'string';
  if (!optionalString('mediaType') || !optionalString('artifactType')) {
    throw new RegistryError('BAD_RESPONSE', `${what}: mediaType and artifactType must be strings`);
  }
  for (const k of ['config', 'subject'] as const) if (m[k] !== undefined) descriptor(m[k], `${what}: ${k}`);
  for (const k of ['layers', 'manifests'] as const) if (m[k] !== undefined) descriptorList(m[k], `${what}: ${k}`);
  if (m.annotations !== undefined) stringMap(m.annotations, `${what}: annotations`);
  return m as ManifestJson;
}

export function tryParseIndex(bytes: Buffer): ManifestJson | null {
  try {
    const json = JSON.parse(bytes.toString('utf8')) as unknown;
    if (typeof json !== 'object' || json === null || !Array.isArray((json as ManifestJson).manifests)) return null;
    return json as ManifestJson;
  } catch {
    return null;
  }
}

export function descriptorList(value: unknown, what: string): Descriptor[] {
  if (!Array.isArray(value)) throw new RegistryError('BAD_RESPONSE', `${what}: not a list of descriptors`);
  return value.map((d, i) => descriptor(d, `${what}[${i}]`));
}

function descriptor(value: unknown, what: string): Descriptor {
  const d = value as Partial<Record<keyof Descriptor, unknown>> | null;
  const ok =
    typeof d === 'object' &&
    d !== null &&
    typeof d.mediaType === 'string' &&
    typeof d.digest === 'string' &&
    /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(d.digest) &&
    typeof d.size === 'number' &&
    Number.isSafeInteger(d.size) &&
    d.size >= 0 &&
    (d.artifactType === undefined || typeof d.artifactType === 'string');
  if (!ok) throw new RegistryError('BAD_RESPONSE', `${what}: not a valid descriptor`);
  if (d.annotations !== undefined) stringMap(d.annotations, `${what}.annotations`);
  return d as Descriptor;
}

function stringMap(value: unknown, what: string): void {
  const ok =
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string');
  if (!ok) throw new RegistryError('BAD_RESPONSE', `${what}: must map strings to strings`);
}
