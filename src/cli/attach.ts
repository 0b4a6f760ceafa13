import { UsageError, type ExitCode, type Io } from './args.js';
export async function attach(_args: string[], _io: Io): Promise<ExitCode> { throw new UsageError('attach: not yet'); }
export async function detach(_args: string[], _io: Io): Promise<ExitCode> { throw new UsageError('detach: not yet'); }
export async function status(_args: string[], _io: Io): Promise<ExitCode> { throw new UsageError('status: not yet'); }
