/**
 * Image references as ECS and users write them: `host[:port]/repo[:tag][@sha256:hex]`.
 * Docker Hub short forms (`nginx`, `library/nginx`) are normalised the way the Docker
 * client does, so that policy globs see one canonical `registry/repository`.
 */

export interface ImageReference {
  /** host[:port], e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com` */
  registry: string;
  /** path inside the registry, e.g. `app/web` */
  repository: string;
  tag?: string;
  digest?: string;
  /** the text the reference was parsed from */
  original: string;
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
const DOCKER_HUB = 'docker.io';

export class ImageReferenceError extends Error {}

export function isDigest(s: string): boolean {
  return DIGEST_RE.test(s);
}

export function parseReference(original: string): ImageReference {
  const text = original.trim();
  if (!text || /\s/.test(text)) throw new ImageReferenceError(`not an image reference: "${original}"`);
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw new ImageReferenceError(`"${original}" has a digest that is not sha256:<64 hex>`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!/^[\w][\w.-]{0,127}$/.test(tag)) throw new ImageReferenceError(`"${original}" has an invalid tag "${tag}"`);
  }
  const { registry, repository } = splitRegistry(rest);
  if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(repository)) {
    throw new ImageReferenceError(`"${original}" has an invalid repository name "${repository}"`);
  }
  return { registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}), original: text };
}

function splitRegistry(name: string): { registry: string; repository: string } {
  const slash = name.indexOf('/');
  const first = slash >= 0 ? name.slice(0, slash) : '';
  const looksLikeHost = first.includes('.') || first.includes(':') || first === 'localhost';
  if (slash >= 0 && looksLikeHost) return { registry: first, repository: name.slice(slash + 1) };
  const repository = name.includes('/') ? name : `library/${name}`;
  return { registry: DOCKER_HUB, repository };
}

/** `registry/repository`, the string policy globs and allow-lists match against. */
export function repositoryPath(ref: Pick<ImageReference, 'registry' | 'repository'>): string {
  return `${ref.registry}/${ref.repository}`;
}
