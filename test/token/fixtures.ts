/** Shared fixtures of the token tests: the vectors copied into test/fixtures/fernet, temp dirs. */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from dist/test/token/ (compiled) where the tests run. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'fernet');
export const VECTOR_KEYS = path.join(FIXTURES, 'keys');

export interface VectorCase {
  name: string;
  payload?: string;
  version?: number;
  token: string;
  expected: Record<string, unknown> & { must_reject?: 'invalid' | 'expired' };
}

/** tokens.json: tokens made by upstream Keystone 22 (see test/fixtures/fernet/README.md). */
export interface Vectors {
  generator: string;
  auth_methods: string[];
  max_active_keys: number;
  cases: VectorCase[];
}

export interface AppendixA {
  keys: Record<string, string>;
  primary_key: string;
  auth_methods: string[];
  default_domain_id: string;
  iv: string;
  timestamp: number;
  issued_at: string;
  expires_at: string;
  tokens: { name: string; decoded: Record<string, unknown>; msgpack: string; token: string }[];
  receipt: { user_id: string; methods: string[]; expires_at: string; msgpack: string; receipt: string };
}

export function readJson<T>(name: string): T {
  return JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as T;
}

export const DEFAULT_METHODS = ['external', 'password', 'token', 'oauth1', 'mapped', 'application_credential'];
/** Keystone's default list plus totp, as both the vectors and Appendix A were made with. */
export const METHODS_WITH_TOTP = [...DEFAULT_METHODS, 'totp'];

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'keystone-ts-token-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A writable copy of the vectors' key repository (the fixture files stay untouched). */
export function copyVectorKeys(): { dir: string; cleanup: () => void } {
  const temp = tempDir();
  const dir = path.join(temp.dir, 'keys');
  cpSync(VECTOR_KEYS, dir, { recursive: true });
  return { dir, cleanup: temp.cleanup };
}

/** A key source over fixed keys. */
export function staticKeys(...base64Keys: string[]): { keys(): readonly Buffer[] } {
  const keys = base64Keys.map((key) => Buffer.from(key, 'base64'));
  return { keys: () => keys };
}
