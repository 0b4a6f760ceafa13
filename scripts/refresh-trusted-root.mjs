#!/usr/bin/env node
// Refresh layers/trust/sigstore/trusted_root.json from Sigstore's TUF repository.
//
// @sigstore/tuf verifies the TUF metadata chain (root → timestamp → snapshot → targets)
// from the root pinned in its seeds, then the target's length and hash, so the file
// written here is exactly what Sigstore signed. Run by maintainers; review the diff.
//
//   node scripts/refresh-trusted-root.mjs [--mirror URL]
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initTUF } from '@sigstore/tuf';

const dir = fileURLToPath(new URL('../layers/trust/sigstore/', import.meta.url));
const mirrorIndex = process.argv.indexOf('--mirror');
const mirrorURL = mirrorIndex > 0 ? process.argv[mirrorIndex + 1] : undefined;
const cachePath = mkdtempSync(join(tmpdir(), 'sigstore-tuf-'));
try {
  const tuf = await initTUF({ cachePath, ...(mirrorURL ? { mirrorURL } : {}), force: true });
  const text = await tuf.getTarget('trusted_root.json');
  const doc = JSON.parse(text);
  if (!String(doc.mediaType).startsWith('application/vnd.dev.sigstore.trustedroot'))
    throw new Error(`unexpected mediaType ${doc.mediaType}`);
  const before = readFileSync(join(dir, 'trusted_root.json'));
  const after = Buffer.from(text);
  const sha = createHash('sha256').update(after).digest('hex');
  writeFileSync(join(dir, 'trusted_root.json'), after);
  writeFileSync(join(dir, 'trusted_root.json.sha256'), `${sha}  trusted_root.json\n`);
  console.log(
    before.equals(after)
      ? `unchanged (sha256 ${sha})`
      : `updated: sha256 ${sha}; update the digest in layers/trust/sigstore/README.md and review git diff`,
  );
} finally {
  rmSync(cachePath, { recursive: true, force: true });
}
