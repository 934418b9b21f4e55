/**
 * Fernet key repositories, with the rules of Keystone's `keystone.common.fernet_utils.FernetUtils`
 * (spec 1.2), so that this service and Keystone can share one directory:
 * - key files are named by integers; other names and empty files are ignored;
 * - the highest number is the primary key (encrypts), every key decrypts, in descending order;
 * - `0` is the staged key: valid for decryption before a rotation promotes it;
 * - a file holds one key: 32 bytes in urlsafe base64 (44 characters).
 *
 * {@link KeyRepository} caches the keys for the hot path and follows changes made by another
 * process (`keystone-ts fernet rotate`, Keystone's `keystone-manage fernet_rotate`, a config
 * manager syncing keys between nodes) without a restart.
 */
import { createHash } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants as fsConstants,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  watch,
  writeSync,
} from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { KeyRepositoryError } from './errors.js';
import { generateFernetKey } from './fernet.js';
import { parsePythonInt } from './python-compat.js';

/** Keystone's `credential.providers.fernet.core.MAX_ACTIVE_KEYS`: not configurable for credentials. */
export const CREDENTIAL_MAX_ACTIVE_KEYS = 3;

/**
 * Keystone's `fernet_utils.NULL_KEY`, appended to credential keys so that credentials stored
 * before a credential repository existed can still be decrypted (spec 1.2).
 */
export const NULL_KEY_TEXT = Buffer.alloc(32).toString('base64url') + '=';

/** urlsafe base64 of 32 bytes; '+' and '/' are accepted as Python's urlsafe_b64decode does. */
const KEY_TEXT = /^[A-Za-z0-9_+/-]{43}=$/;
const STAGED_KEY = 0;
const STAGED_NAME = '0';
const TMP_KEY_FILE = '0.tmp';
const DEFAULT_POLL_MS = 1000;

/** A key file as listed, before its content is checked. */
interface ListedKeyFile {
  /** The key number (the file name as Python's `int()` reads it). */
  id: number;
  /** The file name in the repository. */
  name: string;
  /** The file content verbatim. */
  text: string;
}

/** One key of a repository. */
export interface KeyFile extends ListedKeyFile {
  /** The 32 key bytes. */
  key: Buffer;
}

/**
 * The key files of a repository, highest number (the primary) first.
 * @throws KeyRepositoryError if the directory cannot be read or a key file is malformed
 */
export function readKeyFiles(directory: string): KeyFile[] {
  return listKeyFiles(directory).map((file) => parseKeyFile(directory, file));
}

/**
 * Keystone's `_get_key_files`: the non-empty files whose name Python's `int()` accepts (so ' 1',
 * '01' and '+1' are all key 1, as in Keystone), highest number first.
 */
function listKeyFiles(directory: string): ListedKeyFile[] {
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch (err) {
    throw unreadableDirectory(directory, err);
  }
  const files: ListedKeyFile[] = [];
  for (const { id, name } of keyFileNames(directory, names)) {
    try {
      files.push({ id, name, text: readFileSync(path.join(directory, name), 'utf8') });
    } catch (err) {
      if (!isNotAFile(err)) throw unreadableFile(directory, name, err);
    }
  }
  return sortListed(files);
}

async function readKeyFilesAsync(directory: string): Promise<KeyFile[]> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (err) {
    throw unreadableDirectory(directory, err);
  }
  const files: ListedKeyFile[] = [];
  for (const { id, name } of keyFileNames(directory, names)) {
    try {
      files.push({ id, name, text: await readFile(path.join(directory, name), 'utf8') });
    } catch (err) {
      if (!isNotAFile(err)) throw unreadableFile(directory, name, err);
    }
  }
  return sortListed(files).map((file) => parseKeyFile(directory, file));
}

function keyFileNames(directory: string, names: readonly string[]): { id: number; name: string }[] {
  const result: { id: number; name: string }[] = [];
  for (const name of names) {
    const id = parsePythonInt(name, 10);
    if (id === null) continue;
    if (id > BigInt(Number.MAX_SAFE_INTEGER) || id < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new KeyRepositoryError(directory, `Key file name too large in ${directory}: ${name}`);
    }
    result.push({ id: Number(id), name });
  }
  return result;
}

function sortListed(files: ListedKeyFile[]): ListedKeyFile[] {
  const byId = new Map<number, ListedKeyFile>();
  for (const file of files) {
    // Empty files are skipped (Keystone logs a warning). Two names for one number ('1' and '01'):
    // Keystone keeps the one listed last, and so does this.
    if (file.text.length > 0) byId.set(file.id, file);
  }
  return [...byId.values()].sort((a, b) => b.id - a.id);
}

function parseKeyFile(directory: string, file: ListedKeyFile): KeyFile {
  // Keystone reads the file verbatim; its base64 decoder would skip a trailing newline, so trim.
  const trimmed = file.text.trim();
  if (!KEY_TEXT.test(trimmed)) {
    throw new KeyRepositoryError(
      directory,
      `Malformed Fernet key in ${path.join(directory, file.name)}: expected 32 bytes of urlsafe base64 (44 characters)`,
    );
  }
  return { ...file, key: Buffer.from(trimmed, 'base64') };
}

/** Gone since the listing (a rotation in progress) or a directory: not a key file. */
function isNotAFile(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'EISDIR';
}

function unreadableDirectory(directory: string, err: unknown): KeyRepositoryError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new KeyRepositoryError(directory, `Key repository ${directory} does not exist`);
  return new KeyRepositoryError(directory, `Cannot read key repository ${directory}: ${(err as Error).message}`);
}

function unreadableFile(directory: string, name: string, err: unknown): KeyRepositoryError {
  return new KeyRepositoryError(directory, `Cannot read key file ${path.join(directory, name)}: ${(err as Error).message}`);
}

export interface KeyRepositoryOptions {
  /**
   * The credential repository variant: append Keystone's null key to the list, and tolerate a
   * missing or empty directory, whose key list is then the null key alone (as Keystone does).
   */
  appendNullKey?: boolean;
  /** How often to re-read the directory in case a change notification was missed. Default 1000. */
  pollIntervalMs?: number;
  /** Follow changes through `fs.watch` as well as polling. Default true. */
  watch?: boolean;
  /**
   * Named in error messages so that an operator knows what to fix,
   * e.g. '[fernet_tokens] key_repository'.
   */
  optionName?: string;
}

type KeyState =
  | { files: readonly KeyFile[]; keys: readonly Buffer[] }
  | { error: KeyRepositoryError };

/**
 * The keys of one repository, primary first, cached.
 *
 * `keys()` costs no system call. The cache follows the directory through `fs.watch` (inotify) and
 * a re-read every `pollIntervalMs` (for file systems without notifications, or a directory that
 * was replaced), both done off the hot path. A key set that is the same as before keeps its array
 * identity, so callers can cache what they derive from it. Neither the watcher nor the timer keeps
 * the process alive; `close()` stops both.
 *
 * A repository that becomes empty, missing or malformed makes `keys()` throw, as Keystone fails
 * every token operation in that state, until the directory is fixed.
 */
export class KeyRepository {
  readonly directory: string;
  readonly #appendNullKey: boolean;
  readonly #optionName: string | undefined;
  readonly #useWatch: boolean;
  #state: KeyState;
  #watcher: FSWatcher | undefined;
  readonly #timer: NodeJS.Timeout;
  #reloading = false;
  #reloadAgain = false;
  /** Bumped by every load; an async reload that started before a newer load is dropped. */
  #generation = 0;
  #closed = false;

  /** @throws KeyRepositoryError when the repository is missing, empty or malformed */
  constructor(directory: string, options: KeyRepositoryOptions = {}) {
    this.directory = directory;
    this.#appendNullKey = options.appendNullKey ?? false;
    this.#optionName = options.optionName;
    this.#useWatch = options.watch ?? true;
    this.#state = this.#stateOf(() => readKeyFiles(directory));
    if ('error' in this.#state) throw this.#state.error;
    this.#watch();
    this.#timer = setInterval(() => this.#scheduleReload(), options.pollIntervalMs ?? DEFAULT_POLL_MS);
    this.#timer.unref();
  }

  /**
   * The keys, primary first, staged key `0` among them; the null key last for credentials.
   * @throws KeyRepositoryError when the repository has become unusable
   */
  keys(): readonly Buffer[] {
    const state = this.#state;
    if ('error' in state) throw state.error;
    return state.keys;
  }

  /** The key files behind `keys()`, primary first (without the null key). */
  files(): readonly KeyFile[] {
    const state = this.#state;
    if ('error' in state) throw state.error;
    return state.files;
  }

  /**
   * Keystone's `credential.providers.fernet.core.primary_key_hash`: SHA-1 hex of the primary
   * key's file content as read (the null key's text when there is no key), stored beside each
   * encrypted credential to tell which key encrypted it.
   */
  primaryKeyHash(): string {
    const primary = this.files()[0];
    return createHash('sha1')
      .update(primary === undefined ? NULL_KEY_TEXT : primary.text)
      .digest('hex');
  }

  /** Re-reads the directory now, synchronously (for a process that has just changed it). */
  reload(): readonly Buffer[] {
    this.#generation += 1;
    this.#state = this.#stateOf(() => readKeyFiles(this.directory));
    return this.keys();
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  #stateOf(read: () => KeyFile[]): KeyState {
    try {
      return this.#stateFromFiles(read());
    } catch (err) {
      return this.#errorState(err);
    }
  }

  #errorState(err: unknown): KeyState {
    // Keystone's load_keys(use_null_key=True) gives the null key alone for a directory that is
    // missing or unreadable; a malformed key still fails.
    if (this.#appendNullKey && !isReadableDirectory(this.directory)) return this.#stateFromFiles([]);
    const error =
      err instanceof KeyRepositoryError
        ? err
        : new KeyRepositoryError(this.directory, `Cannot load key repository ${this.directory}: ${String(err)}`);
    return { error: this.#named(error) };
  }

  #stateFromFiles(files: KeyFile[]): KeyState {
    if (files.length === 0 && !this.#appendNullKey) {
      return {
        error: this.#named(
          new KeyRepositoryError(
            this.directory,
            `Key repository ${this.directory} contains no keys; create them with \`keystone-ts fernet setup\``,
          ),
        ),
      };
    }
    const keys = files.map((file) => file.key);
    if (this.#appendNullKey) keys.push(Buffer.alloc(32));
    return { files, keys };
  }

  #named(err: KeyRepositoryError): KeyRepositoryError {
    if (this.#optionName === undefined) return err;
    return new KeyRepositoryError(err.directory, `${err.message} (${this.#optionName})`);
  }

  #watch(): void {
    if (this.#watcher !== undefined || this.#closed || !this.#useWatch) return;
    try {
      const watcher = watch(this.directory, { persistent: false }, () => this.#scheduleReload());
      watcher.on('error', () => {
        // E.g. the directory was deleted; the poll keeps going and re-watches when it is back.
        watcher.close();
        if (this.#watcher === watcher) this.#watcher = undefined;
      });
      this.#watcher = watcher;
    } catch {
      // Missing directory (credential repository) or no inotify: the poll alone will do.
    }
  }

  #scheduleReload(): void {
    if (this.#closed) return;
    if (this.#reloading) {
      this.#reloadAgain = true; // a change during a read: read once more when it ends
      return;
    }
    this.#reloading = true;
    void this.#reloadInBackground();
  }

  async #reloadInBackground(): Promise<void> {
    try {
      do {
        this.#reloadAgain = false;
        const generation = this.#generation;
        let next: KeyState;
        try {
          next = this.#stateFromFiles(await readKeyFilesAsync(this.directory));
        } catch (err) {
          next = this.#errorState(err);
        }
        if (this.#closed || generation !== this.#generation) continue;
        if (!sameKeys(this.#state, next)) {
          this.#generation += 1;
          this.#state = next;
        }
        this.#watch();
      } while (this.#reloadAgain && !this.#closed);
    } finally {
      this.#reloading = false;
    }
  }
}

function isReadableDirectory(directory: string): boolean {
  try {
    accessSync(directory, fsConstants.R_OK | fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function sameKeys(a: KeyState, b: KeyState): boolean {
  if ('error' in a || 'error' in b) return 'error' in a && 'error' in b && a.error.message === b.error.message;
  if (a.files.length !== b.files.length) return false;
  return a.files.every((file, i) => file.id === b.files[i]?.id && file.text === b.files[i]?.text);
}

// ---- keystone-manage fernet_setup / fernet_rotate ---------------------------------------------

export interface RotationOptions {
  /** `[fernet_tokens] max_active_keys` (default 3, minimum 1); CREDENTIAL_MAX_ACTIVE_KEYS for credentials. */
  maxActiveKeys: number;
}

export interface RotationResult {
  /** The number the staged key 0 was promoted to: the new primary. */
  promoted: number;
  /** Key numbers deleted because they exceeded max_active_keys, in deletion order (lowest first). */
  purged: number[];
  /** Key numbers in the repository afterwards, primary first (0, the new staged key, last). */
  keyIds: number[];
}

export interface SetupResult {
  /** False when key 0 already existed: Keystone then does nothing. */
  initialized: boolean;
  /** The rotation that made the first primary, when initialized. */
  rotation: RotationResult | null;
  /** Key numbers in the repository afterwards, primary first. */
  keyIds: number[];
}

/**
 * `keystone-manage fernet_setup`: creates the directory (mode 0700) if needed and, unless key 0
 * already exists, creates key 0 and rotates once, giving {0 staged, 1 primary}.
 */
export function setupKeyRepository(directory: string, options: RotationOptions): SetupResult {
  checkMaxActiveKeys(options.maxActiveKeys);
  try {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new KeyRepositoryError(directory, `Cannot create key repository ${directory}: ${(err as Error).message}`);
  }
  if (existsSync(path.join(directory, STAGED_NAME))) {
    return { initialized: false, rotation: null, keyIds: readKeyFiles(directory).map((f) => f.id) };
  }
  writeStagedKey(directory);
  const rotation = rotateKeyRepository(directory, options);
  return { initialized: true, rotation, keyIds: rotation.keyIds };
}

/**
 * `keystone-manage fernet_rotate`, step for step as `FernetUtils.rotate_keys` (spec 1.2):
 * 1. list the key files; 2. write a new key to `0.tmp`; 3. rename `0` to max+1, the new primary;
 * 4. rename `0.tmp` to `0`, the new staged key; 5. over the old key numbers without 0 but with
 * the new primary, delete the lowest while more than max_active_keys - 1 remain.
 * Every state in between is a valid repository for a process reading it concurrently.
 *
 * Unlike Keystone, which would fail half-way (leaving `0.tmp` behind), a repository without a
 * staged key 0 is refused before anything is written.
 */
export function rotateKeyRepository(directory: string, options: RotationOptions): RotationResult {
  checkMaxActiveKeys(options.maxActiveKeys);
  // Like Keystone, rotation looks at names only: a malformed key can still be rotated out.
  const nameById = new Map(listKeyFiles(directory).map((file) => [file.id, file.name]));
  if (nameById.get(STAGED_KEY) !== STAGED_NAME) {
    throw new KeyRepositoryError(
      directory,
      `Key repository ${directory} has no staged key 0 to promote; run \`keystone-ts fernet setup\` first`,
    );
  }
  const tmpPath = writeTmpKey(directory);
  const promoted = Math.max(...nameById.keys()) + 1;
  renameSync(path.join(directory, STAGED_NAME), path.join(directory, String(promoted)));
  nameById.delete(STAGED_KEY);
  nameById.set(promoted, String(promoted));
  renameSync(tmpPath, path.join(directory, STAGED_NAME));

  const purged: number[] = [];
  const remaining = [...nameById.keys()].sort((a, b) => b - a);
  while (remaining.length > options.maxActiveKeys - 1) {
    const oldest = remaining.pop() as number;
    unlinkSync(path.join(directory, nameById.get(oldest) as string));
    purged.push(oldest);
  }
  return { promoted, purged, keyIds: [...remaining, STAGED_KEY] };
}

function checkMaxActiveKeys(maxActiveKeys: number): void {
  if (!Number.isInteger(maxActiveKeys) || maxActiveKeys < 1) {
    throw new RangeError(`max_active_keys must be an integer >= 1, got ${maxActiveKeys}`);
  }
}

/** Keystone's `_create_new_key` (setup only): 0.tmp, then renamed to 0. */
function writeStagedKey(directory: string): void {
  renameSync(writeTmpKey(directory), path.join(directory, STAGED_NAME));
}

/**
 * A new key in `0.tmp`, mode 0600 (Keystone sets umask 0o177). A leftover `0.tmp` from an
 * interrupted rotation is replaced rather than reused, so that its mode cannot be wider.
 */
function writeTmpKey(directory: string): string {
  const tmpPath = path.join(directory, TMP_KEY_FILE);
  try {
    unlinkSync(tmpPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const fd = openSync(tmpPath, 'wx', 0o600);
  try {
    writeSync(fd, generateFernetKey());
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tmpPath;
}
