/** Types of scripts/bundle.mjs, for TypeScript callers (bench, tests). */
import type { BuildOptions } from 'esbuild';

export declare const repoRoot: string;
export declare const HANDLER_ENTRIES: Readonly<Record<'lifecycle-hook' | 'task-state-change', string>>;
export declare const CLI_ENTRY: string;
export declare const REQUIRE_SHIM: string;
export declare const OPTIONAL_NATIVE: readonly string[];

export declare function assertEntriesExist(entries: string[]): void;
export declare function lambdaBuildOptions(entry: string, outfile: string): BuildOptions;
export declare function cliBuildOptions(outfile: string): BuildOptions;

export interface BundleResult {
  /** size of the bundle in bytes */
  bytes: number;
  /** absolute path of the bundle */
  outfile: string;
}

/** entry: `lifecycle-hook`, `task-state-change`, or a path to a source file. */
export declare function bundleHandler(
  entry: string,
  options?: { outdir?: string; metafileOut?: string },
): Promise<BundleResult>;

export declare function bundleCli(options?: { outfile?: string; metafileOut?: string }): Promise<BundleResult>;

/** Median time to import the module in a fresh Node process, in milliseconds. */
export declare function measureModuleInitMs(
  outfile: string,
  options?: { runs?: number; env?: Record<string, string> },
): Promise<number>;
