import { vi } from 'vitest';

/**
 * What a function writes to stdout and stderr (Powertools writes INFO/DEBUG logs and
 * EMF metrics to stdout, WARN and above to stderr; Lambda sends both to the log
 * stream), one parsed JSON object per line, in order.
 */
export const captureOutput = async (fn: () => unknown): Promise<Array<Record<string, unknown>>> => {
  const chunks: string[] = [];
  const capture = (chunk: unknown) => {
    chunks.push(String(chunk));
    return true;
  };
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation(capture),
    vi.spyOn(process.stderr, 'write').mockImplementation(capture),
  ];
  try {
    await fn();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return chunks
    .join('')
    .split('\n')
    .filter((line) => line.trim().startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
};
