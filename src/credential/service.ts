/**
 * Credentials (`/v3/credentials`, OS-EC2) with the semantics of keystone/credential/core.py and
 * the id and blob rules of keystone/api/credentials.py. Routes call this; it calls the store and
 * the blob encryption; nothing here knows HTTP.
 *
 * Blob quirks kept for interoperability with rows Keystone writes and reads (spec 5.11):
 * - a credential whose `type` is exactly `ec2` has its blob JSON-encoded once more before
 *   encryption (`json.dumps(blob)`): the API's blob string is stored as a JSON string literal,
 *   and a JSON object (legacy rows) decrypts to an object, served re-serialized;
 * - on update, that extra encoding follows the `type` of the *request*, not the stored type.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Conflict, ForbiddenAction, ForbiddenNotSecurity, NotFound, ValidationError } from '../common/errors.js';
import { newId } from '../common/ids.js';
import { pythonJson } from '../common/json.js';
import { applyListHints, type ListFilter } from '../common/list-hints.js';
import type { CredentialCrypto } from './crypto.js';
import type { CredentialRow, CredentialStore } from './store.js';

export const EC2 = 'ec2';

/** CredentialModel.attributes: the columns; every other member of a credential goes to `extra`. */
const COLUMNS = ['id', 'user_id', 'project_id', 'encrypted_blob', 'type', 'key_hash'] as const;

/** A decrypted credential. `blob` is the API's string, or an object for legacy ec2 rows. */
export interface Credential {
  readonly id: string;
  readonly user_id: string;
  readonly project_id: string | null;
  readonly type: string;
  readonly blob: unknown;
  readonly extra: Readonly<Record<string, unknown>>;
}

/** The delegation a caller's token carries, copied into ec2 blobs so EC2 tokens keep it. */
export interface Delegation {
  readonly trustId: string | null;
  readonly appCredId: string | null;
  readonly accessTokenId: string | null;
}

export const NO_DELEGATION: Delegation = { trustId: null, appCredId: null, accessTokenId: null };

/** An EC2 credential as OS-EC2 shows it (users.py _convert_v3_to_ec2_credential). */
export interface Ec2View {
  readonly user_id: string;
  readonly tenant_id: string | null;
  readonly access: unknown;
  readonly secret: unknown;
  readonly trust_id: unknown;
}

/** utils.hash_access_key: an EC2 credential's id is the SHA-256 hex of its access key. */
export function hashAccessKey(access: string): string {
  return createHash('sha256').update(access, 'utf8').digest('hex');
}

/** The blob as the API serves it: a string; a legacy object is serialized as Python would. */
export function apiBlob(blob: unknown): string {
  return typeof blob === 'string' ? blob : pythonJson(blob);
}

/** Keystone's to_dict with the decrypted blob: the extras, then the columns, then `blob`. */
export function credentialDict(credential: Credential): Record<string, unknown> {
  return {
    ...credential.extra,
    id: credential.id,
    user_id: credential.user_id,
    project_id: credential.project_id,
    type: credential.type,
    blob: apiBlob(credential.blob),
  };
}

/** What a policy rule may see of a credential: everything but the secret blob. */
export function credentialTarget(credential: Credential | Readonly<Record<string, unknown>>): Record<string, unknown> {
  const target: Record<string, unknown> = 'extra' in credential && typeof credential.extra === 'object' ? { ...(credential.extra as object), ...credential } : { ...credential };
  delete target['blob'];
  delete target['extra'];
  return target;
}

/** The blob as an object: a JSON string is parsed (`jsonutils.loads`), an object taken as is. */
export function blobObject(blob: unknown): Record<string, unknown> | undefined {
  let value = blob;
  if (typeof blob === 'string') {
    try {
      value = JSON.parse(blob);
    } catch {
      return undefined;
    }
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

export function ec2View(credential: Credential): Ec2View {
  const blob = blobObject(credential.blob) ?? {};
  return {
    user_id: credential.user_id,
    tenant_id: credential.project_id,
    access: blob['access'] ?? null,
    secret: blob['secret'] ?? null,
    trust_id: blob['trust_id'] ?? null,
  };
}

/** Keystone's ValidationError(attribute=…, target=…) text. */
function missing(attribute: string, target: string): ValidationError {
  return new ValidationError(
    `Expecting to find ${attribute} in ${target}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`,
  );
}

/** credentials.py _validate_blob_json: an ec2 blob must be a JSON object naming its access key. */
function ec2BlobOf(blob: unknown): Record<string, unknown> {
  if (typeof blob !== 'string') throw new ValidationError('Invalid blob in credential');
  let parsed: unknown;
  try {
    parsed = JSON.parse(blob);
  } catch {
    throw new ValidationError('Invalid blob in credential');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || Object.keys(parsed).length === 0) throw missing('blob', 'credential');
  const access = (parsed as Record<string, unknown>)['access'];
  // Keystone 500s on a non-string access key; it is the client's mistake, so a 400.
  if (access === null || access === undefined || typeof access !== 'string') throw missing('access', 'credential');
  return parsed as Record<string, unknown>;
}

/** flask's _normalize_dict: `:` and `-` in member names become `_`. */
function normalizeKeys(body: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k.replaceAll(':', '_').replaceAll('-', '_'), v]));
}

/** CredentialModel.from_dict: the extras are every member that is neither a column, nor `blob`, nor `extra`. */
function extrasOf(ref: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(ref)) {
    if (key !== 'blob' && key !== 'extra' && !(COLUMNS as readonly string[]).includes(key)) extra[key] = value;
  }
  return extra;
}

/** The plaintext Keystone encrypts: `json.dumps(blob)` for type exactly `ec2`, the blob itself otherwise. */
function plaintextOf(type: unknown, blob: unknown): string {
  return type === EC2 ? pythonJson(blob) : apiBlob(blob);
}

/** handle_conflicts' message: the duplicate's name, else its id, and its domain when it has one. */
function duplicate(ref: Readonly<Record<string, unknown>>): Conflict {
  const [field, name] = 'name' in ref ? ['name', ref['name']] : ['ID', ref['id']];
  const domainId = ref['domain_id'];
  if (name && domainId) return new Conflict('credential', `Duplicate entry found with ${field} ${String(name)} at domain ID ${String(domainId)}`);
  if (name) return new Conflict('credential', `Duplicate entry found with ${field} ${String(name)}`);
  return new Conflict('credential', 'Duplicate entry');
}

export interface CredentialServiceDeps {
  readonly store: CredentialStore;
  readonly crypto: CredentialCrypto;
  /** `[credential] user_limit`: credentials a user may own; negative is unlimited. */
  readonly userLimit: number;
  /** `[DEFAULT] list_limit` (there is no `[credential] list_limit`); null or 0 is no limit. */
  readonly listLimit: number | null;
}

export type CredentialService = ReturnType<typeof createCredentialService>;

export function createCredentialService(deps: CredentialServiceDeps) {
  const { store, crypto } = deps;

  function decrypt(row: CredentialRow): Credential {
    const plaintext = crypto.decrypt(row.encrypted_blob);
    let blob: unknown = plaintext;
    if (row.type === EC2) {
      try {
        blob = JSON.parse(plaintext);
      } catch {
        // A row written by hand or by another tool: served as stored rather than failing the list.
        blob = plaintext;
      }
    }
    return { id: row.id, user_id: row.user_id, project_id: row.project_id, type: row.type, blob, extra: row.extra };
  }

  async function find(id: string): Promise<Credential | undefined> {
    const row = await store.get(id);
    return row && decrypt(row);
  }

  async function get(id: string): Promise<Credential> {
    const found = await find(id);
    if (!found) throw NotFound.entity('credential', id);
    return found;
  }

  /** Manager._assert_limit_not_exceeded: every type counts. */
  async function assertLimitNotExceeded(userId: string): Promise<void> {
    if (deps.userLimit < 0) return;
    if ((await store.countForUser(userId)) >= deps.userLimit) {
      throw new ForbiddenNotSecurity(`Unable to create additional credentials, maximum of ${deps.userLimit} already exceeded for user.`);
    }
  }

  /** Manager.create_credential with a ref that already has its id. */
  async function create(ref: Readonly<Record<string, unknown>>): Promise<Credential> {
    const { encryptedBlob, keyHash } = crypto.encrypt(plaintextOf(ref['type'], ref['blob']));
    const userId = ref['user_id'] as string;
    await assertLimitNotExceeded(userId);
    const row: CredentialRow = {
      id: ref['id'] as string,
      user_id: userId,
      project_id: (ref['project_id'] as string | null | undefined) ?? null,
      type: ref['type'] as string,
      extra: extrasOf(ref),
      key_hash: keyHash,
      encrypted_blob: encryptedBlob,
    };
    if (!(await store.insert(row))) throw duplicate(ref);
    return { id: row.id, user_id: row.user_id, project_id: row.project_id, type: row.type, blob: ref['blob'], extra: row.extra };
  }

  return {
    get,
    find,

    /**
     * GET /v3/credentials before the per-credential policy check: exact `user_id` and `type`
     * filters go to SQL, every filter (comparators included) is applied as list hints, then
     * `list_limit`.
     */
    async list(filters: readonly ListFilter[]): Promise<{ refs: Credential[]; truncated: boolean }> {
      const exact: { user_id?: string; type?: string } = {};
      for (const f of filters) if (f.comparator === 'equals' && (f.name === 'user_id' || f.name === 'type')) exact[f.name] ??= f.value;
      const all = (await store.list(exact)).map(decrypt);
      const byId = new Map(all.map((c) => [c.id, c]));
      const { records, truncated } = applyListHints(all.map(credentialDict), filters, deps.listLimit);
      return { refs: records.map((r) => byId.get(r['id'] as string)!), truncated };
    },

    async listForUser(userId: string, type?: string): Promise<Credential[]> {
      return (await store.list({ user_id: userId, ...(type === undefined ? {} : { type }) })).map(decrypt);
    },

    /**
     * CredentialsResource._assign_unique_id on the normalized body: a new uuid, or for ec2 the
     * hash of the access key, with the caller's delegation added to the blob so that EC2 tokens
     * from it stay delegated.
     */
    newCredential(body: Readonly<Record<string, unknown>>, delegation: Delegation): Record<string, unknown> {
      const ref = normalizeKeys(body);
      if (typeof ref['type'] !== 'string' || ref['type'].toLowerCase() !== EC2) return { ...ref, id: newId() };
      const blob = ec2BlobOf(ref['blob']);
      const out: Record<string, unknown> = { ...ref, id: hashAccessKey(blob['access'] as string) };
      const added: [string, string | null][] = [
        ['trust_id', delegation.trustId],
        ['app_cred_id', delegation.appCredId],
        ['access_token_id', delegation.accessTokenId],
      ];
      for (const [key, value] of added) {
        if (value === null) continue;
        blob[key] = value;
        out['blob'] = pythonJson(blob);
      }
      return out;
    },

    create,

    /**
     * PATCH /v3/credentials/{id} checks before the merged policy check (CredentialResource
     * _validate_blob_update_keys, _require_matching_id): an ec2 credential's delegation and
     * access id cannot change.
     */
    checkUpdate(current: Credential, patch: Readonly<Record<string, unknown>>, pathId: string): void {
      if (current.type.toLowerCase() === EC2) {
        // Keystone fails with a 500 when an ec2 PATCH carries no blob; it is a client error.
        const next = ec2BlobOf(patch['blob']);
        const previous = blobObject(current.blob) ?? {};
        for (const key of ['trust_id', 'app_cred_id', 'access_token_id', 'access_id']) {
          if ((previous[key] ?? null) !== (next[key] ?? null)) throw new ValidationError(`${key} can not be updated for credential`);
        }
      }
      if (patch['id'] !== undefined && patch['id'] !== null && patch['id'] !== pathId) throw new ValidationError('Cannot change ID');
    },

    /** Manager.update_credential: the merged row, answered with the new blob or the kept one. */
    async update(id: string, patch: Readonly<Record<string, unknown>>): Promise<Credential> {
      const existing = await store.get(id);
      if (!existing) throw NotFound.entity('credential', id);
      const current = decrypt(existing);
      // ec2 credentials need a project to be usable (_validate_credential_update).
      if (typeof patch['type'] === 'string' && patch['type'].toLowerCase() === EC2 && !patch['project_id'] && !current.project_id) {
        throw missing('project_id', 'credential');
      }
      const hasBlob = Object.hasOwn(patch, 'blob');
      const blob = hasBlob ? patch['blob'] : current.blob;
      // The stored encryption is replaced only with a new blob; a client never writes it directly.
      const { encrypted_blob: _e, key_hash: _k, blob: _b, extra: _x, ...fields } = patch;
      const merged: Record<string, unknown> = { ...credentialTarget(current), ...fields, id };
      const encrypted = hasBlob ? crypto.encrypt(plaintextOf(patch['type'], blob)) : { encryptedBlob: existing.encrypted_blob, keyHash: existing.key_hash };
      const row: CredentialRow = {
        id,
        user_id: merged['user_id'] as string,
        project_id: (merged['project_id'] as string | null | undefined) ?? null,
        type: merged['type'] as string,
        extra: extrasOf(merged),
        key_hash: encrypted.keyHash,
        encrypted_blob: encrypted.encryptedBlob,
      };
      if (!(await store.update(row))) throw NotFound.entity('credential', id);
      return { id, user_id: row.user_id, project_id: row.project_id, type: row.type, blob, extra: row.extra };
    },

    async delete(id: string): Promise<void> {
      await get(id);
      if (!(await store.delete(id))) throw NotFound.entity('credential', id);
    },

    /**
     * OS-EC2 create: a fresh access/secret pair (`uuid4().hex` each), stored as an ec2
     * credential whose blob is the JSON text Keystone writes.
     */
    async createEc2(userId: string, projectId: string, trustId: string | null): Promise<Credential> {
      const blob = { access: randomUUID().replaceAll('-', ''), secret: randomUUID().replaceAll('-', ''), trust_id: trustId };
      return create({ user_id: userId, project_id: projectId, blob: pythonJson(blob), id: hashAccessKey(blob.access), type: EC2 });
    },
  };
}

/**
 * credentials.py _check_credential_project_scope and users.py _check_delegation_for_ec2: a
 * delegated token (trust, application credential, OAuth1) reaches only credentials of the
 * project it was delegated for; project-less credentials (TOTP seeds) are out of its reach.
 */
export function assertDelegationScope(delegation: Delegation, tokenProjectId: string | null, credentialProjectId: string | null | undefined, message: string): void {
  if (!delegation.trustId && !delegation.appCredId && !delegation.accessTokenId) return;
  if ((credentialProjectId ?? null) !== tokenProjectId) throw new ForbiddenAction(message);
}
