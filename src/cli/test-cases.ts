import { UsageError, type ExitCode, type Io } from './args.js';
export async function testCases(_args: string[], _io: Io): Promise<ExitCode> { throw new UsageError('testCases: not yet'); }
