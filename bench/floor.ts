/**
 * The floor the benches compare against: the registry requests a decision cannot avoid,
 * made with bare fetch, and one crypto.verify. What ecs-image-gate adds on top of this is
 * its own cost.
 */
import { type createPublicKey, verify as cryptoVerify } from 'node:crypto';
import type { TestRegistry } from '../test/support/registry.js';

/** A pull token for `repositories` from the registry's token realm ('' without token auth). */
export async function bearerToken(reg: TestRegistry, repositories: string[]): Promise<string> {
  const probe = await fetch(`http://${reg.host}/v2/`);
  const challenge = probe.headers.get('www-authenticate') ?? '';
  await probe.arrayBuffer();
  const realm = /realm="([^"]+)"/.exec(challenge)?.[1];
  const service = /service="([^"]+)"/.exec(challenge)?.[1] ?? '';
  if (!realm) return '';
  const scopes = repositories.map((r) => `scope=${encodeURIComponent(`repository:${r}:pull`)}`).join('&');
  const res = await fetch(`${realm}?service=${encodeURIComponent(service)}&${scopes}`, {
    headers: { authorization: `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString('base64')}` },
  });
  const body = (await res.json()) as { token?: string; access_token?: string };
  return body.token ?? body.access_token ?? '';
}

/** The `.sig` manifest, its payload and one signature check: a cosign key decision, bare. */
export async function bareVerify(
  host: string,
  repo: string,
  digest: string,
  token: string,
  key: ReturnType<typeof createPublicKey>,
): Promise<void> {
  const headers = { authorization: `Bearer ${token}`, accept: 'application/vnd.oci.image.manifest.v1+json' };
  const tag = `${digest.replace(':', '-')}.sig`;
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, { headers });
  if (!res.ok) throw new Error(`floor: ${res.status} for ${repo} ${tag}`);
  const manifest = (await res.json()) as { layers: { digest: string; annotations: Record<string, string> }[] };
  const layer = manifest.layers[0]!;
  const blob = await fetch(`http://${host}/v2/${repo}/blobs/${layer.digest}`, { headers });
  const payload = Buffer.from(await blob.arrayBuffer());
  const signature = Buffer.from(layer.annotations['dev.cosignproject.cosign/signature']!, 'base64');
  if (!cryptoVerify('sha256', payload, key, signature)) throw new Error('floor: signature did not verify');
}
