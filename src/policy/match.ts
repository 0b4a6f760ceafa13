/**
 * Image matching: rule globs and allow-list entries.
 *
 * Globs match `registry/repository` (Docker Hub names normalised to
 * `docker.io/library/nginx`): `*` stays inside one path segment, `**` spans any number
 * of segments, and a trailing `/**` also matches the repository itself.
 */
import { repositoryPath, type ImageReference } from '../core/reference.js';
import type { PolicyDocument } from './schema.js';

export type Matcher = (path: string) => boolean;

export function compileGlob(pattern: string): Matcher {
  const re = new RegExp(`^${globToRegex(pattern)}$`);
  return (path) => re.test(path);
}

function globToRegex(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      // "/**" at the end: the repository itself or anything below it
      const trailing = out.endsWith('/') && i + 2 === pattern.length;
      out = trailing ? `${out.slice(0, -1)}(?:/.*)?` : `${out}.*`;
      i++;
    } else if (c === '*') {
      out += '[^/]*';
    } else if (c === '?') {
      out += '[^/]';
    } else {
      out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return out;
}

export type AllowMatch = { by: 'images' | 'digests' | 'prefixes' | 'repositories'; entry: string };

/** The allow-list entry that admits this image without a registry call, if any. */
export function matchAllowList(
  allow: PolicyDocument['allow'],
  ref: ImageReference,
  digest: string | undefined,
): AllowMatch | undefined {
  const path = repositoryPath(ref);
  const image = allow.images.find((entry) => entry === ref.original);
  if (image) return { by: 'images', entry: image };
  const byDigest = digest ? allow.digests.find((entry) => entry === digest) : undefined;
  if (byDigest) return { by: 'digests', entry: byDigest };
  const prefix = allow.prefixes.find((entry) => ref.original.startsWith(entry) || `${path}/`.startsWith(entry));
  if (prefix) return { by: 'prefixes', entry: prefix };
  const repository = allow.repositories.find((entry) => entry === path);
  if (repository) return { by: 'repositories', entry: repository };
  return undefined;
}
