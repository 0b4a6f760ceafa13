import { UsageError, type ExitCode, type Io } from './args.js';
export async function mode(_args: string[], _io: Io): Promise<ExitCode> { throw new UsageError('mode: not yet'); }
