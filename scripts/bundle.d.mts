/** Types of scripts/bundle.mjs, for TypeScript callers (bench, tests). */
import type { BuildOptions, Metafile } from 'esbuild';

export declare const repoRoot: string;
export declare const HANDLER_ENTRIES: Readonly<Record<'lifecycle-hook' | 'task-state-change', string>>;
export declare const CLI_ENTRY: string;
export declare const REQUIRE_SHIM: string;
export declare const OPTIONAL_NATIVE: readonly string[];

export declare function assertEntriesExist(entries: string[]): void;
export declare const CHUNK_DIR: string;
export declare function lambdaBuildOptions(entry: string, outdir: string, name?: string): BuildOptions;
export declare function cliBuildOptions(outfile: string): BuildOptions;

export interface BundleResult {
  /** size of the bundle (a handler: its entry file) in bytes */
  bytes: number;
  /** absolute path of the bundle (a handler: its entry file) */
  outfile: string;
}

export interface Chunk {
  /** absolute path */
  file: string;
  bytes: number;
  /** imported statically by the entry (or a chunk it imports): loaded at module init */
  atInit: boolean;
  /** the source file a dynamic import() names, when this chunk is one's target */
  splitAt?: string;
}

export interface SplitSizes {
  chunks: Chunk[];
  /** the entry file and every chunk loaded at module init, in bytes */
  initBytes: number;
}

export declare function splitSizes(metafile: Metafile, outfile: string): SplitSizes;

/** entry: `lifecycle-hook`, `task-state-change`, or a path to a source file. */
export declare function bundleHandler(
  entry: string,
  options?: { outdir?: string; metafileOut?: string },
): Promise<BundleResult & SplitSizes>;

export declare function bundleCli(options?: { outfile?: string; metafileOut?: string }): Promise<BundleResult>;

/**
 * Median time to import the module in a fresh Node process, in milliseconds;
 * `preload` is imported first, before the clock starts (a handler's entry, to time a chunk).
 */
export declare function measureModuleInitMs(
  outfile: string,
  options?: { runs?: number; env?: Record<string, string>; preload?: string[] },
): Promise<number>;
