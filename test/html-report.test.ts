/**
 * The audit's HTML report as a person sees it: written by `audit --html` over the
 * stand-in ECS, rendered in headless Chromium (Debian's `chromium`), its visible text
 * checked and a screenshot kept in test/.output/audit-report.png. Chromium missing is
 * a failure with the command that installs it, never a silent skip.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ECSClient } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { escapeHtml } from '../src/cli/html-report.js';
import { buildEstate, serveEstate, type Estate } from './support/ecs-estate.js';

const run = promisify(execFile);
const CHROMIUM_MISSING = 'chromium is not installed; the HTML report test needs it: apt-get install -y chromium';
const ecs = mockClient(ECSClient);
const HOST = 'registry.example.com';
const img = (n: number) => ({ repo: `app/img${n}`, tag: 'v1', digest: `sha256:${String(n).repeat(64)}` });
const HOSTILE = '<img src=x onerror="document.title=1">';
const outputDir = resolve('test/.output');
let estate: Estate;
let reportFile: string;
let stdout: string[];
let exitCode: number;

function chromiumBinary(): string {
  for (const bin of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (existsSync(bin)) return bin;
  throw new Error(CHROMIUM_MISSING);
}

async function chromium(...args: string[]): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), 'chromium-'));
  const flags = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${profile}`,
  ];
  const { stdout: out } = await run(chromiumBinary(), [...flags, ...args], {
    timeout: 90_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return out;
}

/** The text a reader sees: no styles, no tags, entities decoded. */
function visibleText(dom: string): string {
  return dom
    .replace(/<style[\s\S]*?<\/style>/g, ' ')
    .replace(/<br>/g, '\n')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/[ \t]+/g, ' ');
}

beforeAll(async () => {
  chromiumBinary(); // fail first, with the install command
  estate = buildEstate(HOST, [img(1), img(2)], [img(3)]);
  // a value nobody should trust as markup: ECS names come from whoever deploys
  estate.tasks.get('batch')!.find((t) => t.taskArn!.endsWith('/job-5'))!.containers![0]!.name = HOSTILE; // job-5 is unsigned
  serveEstate(ecs, estate);
  const dir = mkdtempSync(join(tmpdir(), 'report-'));
  const policy = join(dir, 'policy.yaml');
  // no registry needed: img1 and img2 are allow-listed, img3 matches no rule
  writeFileSync(
    policy,
    `version: 1\nallow:\n  repositories: ["${HOST}/app/img1", "${HOST}/app/img2"]\n  prefixes: ["public.ecr.aws/aws-observability/"]\n`,
  );
  mkdirSync(outputDir, { recursive: true });
  reportFile = join(outputDir, 'audit-report.html');
  stdout = [];
  exitCode = await main(['audit', '--all-clusters', '--policy', policy, '--html', reportFile], {
    out: (l) => stdout.push(l),
    err: () => {},
    env: { AWS_REGION: 'us-east-1' },
  });
}, 60_000);

describe('the audit HTML report', () => {
  it('is one self-contained page: no script, no external asset, every value escaped', () => {
    expect(exitCode).toBe(1);
    expect(stdout.at(-1)).toBe(`report written to ${reportFile}`);
    const html = readFileSync(reportFile, 'utf8');
    expect(html).not.toMatch(/<script|<link|src=["']?https?:|url\(/i);
    expect(html).not.toContain(HOSTILE);
    expect(html).toContain(escapeHtml(HOSTILE));
  });

  it('shows a person the summary numbers and each denied image with its reason (headless Chromium)', async () => {
    const dom = await chromium('--dump-dom', pathToFileURL(reportFile).href);
    expect(dom).not.toMatch(/<img/i); // the hostile name stayed text
    const text = visibleText(dom);
    const denied = estate.expected.filter((x) => x.unsigned).length;
    expect(text).toMatch(/\b40 services\b/);
    expect(text).toMatch(/\b40 standalone tasks\b/);
    expect(text).toMatch(new RegExp(`\\b${denied} would be denied\\b`));
    expect(text).toMatch(new RegExp(`Total 40 40 ${estate.expected.length} \\d+ ${denied}`));
    expect(text).toContain('Cluster prod');
    expect(text).toContain('Cluster batch');
    expect(text).toContain(`${HOST}/app/img3:v1`);
    expect(text).toMatch(
      /Denial details[\s\S]*registry\.example\.com\/app\/img3:v1[\s\S]*NO_MATCHING_RULE[\s\S]*no rule matches registry\.example\.com\/app\/img3/,
    );
    expect(text).toContain(`batch/arn:aws:ecs:us-east-1:123456789012:task/batch/job-5:${HOSTILE}`);
  }, 120_000);

  it('renders to a non-empty PNG screenshot (kept in test/.output)', async () => {
    const png = join(outputDir, 'audit-report.png');
    await chromium(`--screenshot=${png}`, '--window-size=1280,2000', pathToFileURL(reportFile).href);
    const bytes = readFileSync(png);
    expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(bytes.length).toBeGreaterThan(10_000);
  }, 120_000);
});
