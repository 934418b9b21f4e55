/**
 * OPA bundles (https://www.openpolicyagent.org/docs/management-bundles) of the policy this
 * deployment enforces, for other services' own OPA agents to pull: the Rego sources of
 * policies/rego (without their tests), and a data.json with the [oslo_policy] switches and the
 * operator's overrides compiled as the Wasm engine reads them. An agent that evaluates
 * `data.keystone.decision` with the same input document decides as keystone-ts does.
 *
 * The archive is built byte-for-byte deterministically (sorted entries, zero mtimes), so its
 * digest is a stable ETag: agents polling with If-None-Match get 304 until something changes.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { regoDirectory } from './generate-rego.js';
import { REGO_CONFIG_PATH, REGO_OVERRIDES_PATH, REGO_ROOT_PACKAGE } from './rego-compile.js';
import { regoData } from './rego-engine.js';
import type { CompiledOverride } from './rego-overrides.js';

export interface OpaBundle {
  readonly body: Buffer;
  /** Strong ETag: the archive's SHA-256, quoted. */
  readonly etag: string;
  readonly revision: string;
}

interface TarEntry {
  readonly name: string;
  readonly content: Buffer;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** A POSIX ustar archive: a 512-byte header per file, content padded to 512, two zero blocks. */
export function tar(entries: readonly TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    if (Buffer.byteLength(entry.name) > 100) throw new Error(`tar: file name longer than 100 bytes: ${entry.name}`);
    const header = Buffer.alloc(512);
    header.write(entry.name, 0, 100, 'utf8');
    header.write(octal(0o644, 8), 100);
    header.write(octal(0, 8), 108);
    header.write(octal(0, 8), 116);
    header.write(octal(entry.content.length, 12), 124);
    header.write(octal(0, 12), 136);
    header.write(' '.repeat(8), 148); // the checksum is computed with its own field as spaces
    header.write('0', 156);
    header.write('ustar\0', 257);
    header.write('00', 263);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(header, entry.content, Buffer.alloc((512 - (entry.content.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

let regoSources: TarEntry[] | undefined;

/** The policy modules, read once: they are part of the installed code, not of the bundle store. */
function regoModules(): TarEntry[] {
  regoSources ??= readdirSync(regoDirectory())
    .filter((file) => file.endsWith('.rego') && !file.endsWith('_test.rego'))
    .sort()
    .map((file) => ({ name: `policies/${file}`, content: readFileSync(path.join(regoDirectory(), file)) }));
  return regoSources;
}

export function buildOpaBundle(options: {
  readonly revision: string;
  readonly enforceScope: boolean;
  readonly enforceNewDefaults: boolean;
  readonly overrides: Readonly<Record<string, CompiledOverride>>;
}): OpaBundle {
  const manifest = { revision: options.revision, roots: [REGO_ROOT_PACKAGE, REGO_CONFIG_PATH[0], REGO_OVERRIDES_PATH[0]] };
  const data = regoData(options);
  const entries: TarEntry[] = [
    { name: '.manifest', content: Buffer.from(JSON.stringify(manifest)) },
    { name: 'data.json', content: Buffer.from(JSON.stringify(data)) },
    ...regoModules(),
  ];
  // gzip's header holds no name and a zero mtime with these defaults, so equal input, equal bytes.
  const body = gzipSync(tar(entries), { level: 9 });
  return { body, etag: `"${createHash('sha256').update(body).digest('hex')}"`, revision: options.revision };
}
