/**
 * Imports run one way (DESIGN.md "Layers"): handler → delivery → (orders, kafka,
 * telemetry) → errors. A lower folder owns the types at its seam, so it never needs to
 * import the code above it; this test keeps it so, type-only imports included. It
 * also keeps each folder's `index.ts` the real face of the folder.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** What each folder of `src` must never import (paths relative to the project root). */
const FORBIDDEN: ReadonlyArray<{ from: string; never: readonly string[] }> = [
  {
    from: 'src/lib/telemetry/',
    never: [
      'src/lib/delivery/',
      'src/lib/intake/',
      'src/lib/orders/',
      'src/handlers/',
      'src/local/',
    ],
  },
  {
    from: 'src/lib/kafka/',
    never: [
      'src/lib/delivery/',
      'src/lib/intake/',
      'src/lib/orders/',
      'src/lib/telemetry/',
      'src/handlers/',
      'src/local/',
    ],
  },
  // the Lambda event shapes: below everything but errors.ts
  { from: 'src/lib/events/', never: ['src/lib/', 'src/handlers/', 'src/local/'] },
  // business rules: no I/O, so nothing that does any
  { from: 'src/lib/orders/', never: ['src/lib/', 'src/handlers/', 'src/local/'] },
  { from: 'src/lib/errors.ts', never: ['src/'] },
  { from: 'src/lib/', never: ['src/handlers/', 'src/local/'] },
];

/**
 * Folders with a face: code outside them imports their `index.ts` only, so what lies
 * behind it (kafkajs, for one) can change without touching the rest of `src`.
 */
const FACES = ['src/lib/kafka/', 'src/lib/orders/', 'src/local/esm/'];

/** Allowed inside a folder that is otherwise forbidden (`orders` may use `errors.ts`). */
const ALWAYS_ALLOWED = ['src/lib/errors.ts'];

/**
 * Upward imports waiting for a move another change makes: each entry must still exist,
 * so it is removed as soon as its file stops importing upward. None today.
 */
const PENDING: ReadonlyArray<{ file: string; imports: string; why: string }> = [];

const SPECIFIER =
  /(?:\bimport\s+(?:type\s+)?(?:[^'"]*?\s+from\s+)?|\bexport\s+(?:type\s+)?[^'"]*?\s+from\s+|\bimport\s*\(\s*)['"]([^'"]+)['"]/g;

/** The project files a source file imports (relative specifiers only: packages are not layers). */
const importsOf = (file: string, source: string): string[] => {
  const out: string[] = [];
  for (const match of source.matchAll(SPECIFIER)) {
    const specifier = match[1]!;
    if (!specifier.startsWith('.')) continue;
    out.push(
      relative(ROOT, resolve(ROOT, dirname(file), specifier))
        .split('\\')
        .join('/'),
    );
  }
  return out;
};

/** `from → to` for every import of `file` that a rule forbids. */
const violations = (file: string, source: string): string[] => {
  const found: string[] = [];
  for (const target of importsOf(file, source)) {
    const face = FACES.find((f) => target.startsWith(f) && !file.startsWith(f));
    if (face && target !== `${face}index.ts`)
      found.push(`${file} → ${target} (not ${face}index.ts)`);
    if (ALWAYS_ALLOWED.includes(target)) continue;
    for (const rule of FORBIDDEN) {
      if (!file.startsWith(rule.from)) continue;
      // a folder's own files are not an upward import
      const own = rule.from.endsWith('/') && target.startsWith(rule.from);
      if (!own && rule.never.some((prefix) => target.startsWith(prefix))) {
        found.push(`${file} → ${target}`);
        break;
      }
    }
  }
  return found;
};

const sourceFiles = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(`${dir}/${entry.name}`)
      : entry.name.endsWith('.ts')
        ? [`${dir}/${entry.name}`]
        : [],
  );

describe('layers', () => {
  it('finds static, type-only, re-exported and dynamic upward imports', () => {
    // Prepare
    const source = [
      "import type { RecordOutcome } from '../delivery/processBatch.ts';",
      "import { safeMessage } from '../errors.ts';",
      "export { x } from '../intake/produceOrders.ts';",
      "const m = await import('../../handlers/processOrders.ts');",
      "import { Logger } from '@aws-lambda-powertools/logger';",
      "import type { PartitionBatch } from '../events/types.ts';",
      "import { lastHeaderText } from './traceparent.ts';",
    ].join('\n');

    // Act
    const found = violations('src/lib/telemetry/logger.ts', source);

    // Assess
    expect(found).toEqual([
      'src/lib/telemetry/logger.ts → src/lib/delivery/processBatch.ts',
      'src/lib/telemetry/logger.ts → src/lib/intake/produceOrders.ts',
      'src/lib/telemetry/logger.ts → src/handlers/processOrders.ts',
    ]);
    expect(
      violations('src/lib/kafka/client.ts', "import { a } from '../delivery/lambda.ts';"),
    ).toEqual(['src/lib/kafka/client.ts → src/lib/delivery/lambda.ts']);
    expect(violations('src/lib/orders/rules.ts', "import { a } from '../errors.ts';")).toEqual([]);
    expect(
      violations('src/lib/delivery/deadLetter.ts', "import type { A } from '../kafka/types.ts';"),
    ).toEqual([
      'src/lib/delivery/deadLetter.ts → src/lib/kafka/types.ts (not src/lib/kafka/index.ts)',
    ]);
    expect(violations('src/lib/kafka/client.ts', "import type { A } from './types.ts';")).toEqual(
      [],
    );
    expect(violations('src/lib/orders/rules.ts', "import { a } from '../kafka/index.ts';")).toEqual(
      ['src/lib/orders/rules.ts → src/lib/kafka/index.ts'],
    );
  });

  it('has no file in src importing upward', () => {
    // Prepare
    const files = sourceFiles('src');
    const pending = new Set(PENDING.map((p) => `${p.file} → ${p.imports}`));

    // Act
    const found = files.flatMap((file) => violations(file, readFileSync(join(ROOT, file), 'utf8')));

    // Assess
    expect(files.length).toBeGreaterThan(40);
    expect(found.filter((v) => !pending.has(v))).toEqual([]);
    // a pending entry whose import is gone is removed, so it cannot hide a new one
    expect([...pending].filter((p) => !found.includes(p))).toEqual([]);
  });
});
