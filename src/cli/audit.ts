import { UsageError, type ExitCode, type Io } from './args.js';
export async function audit(_args: string[], _io: Io): Promise<ExitCode> { throw new UsageError('audit: not yet'); }
