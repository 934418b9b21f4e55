/**
 * Credential blob encryption as Keystone's `credential.providers.fernet.core.Provider` does it:
 * MultiFernet over `[credential] key_repository` (primary first, the null key last), the token
 * kept **with** its `=` padding, and beside it `key_hash`, the SHA-1 hex of the primary key's
 * text, which `credential_rotate` uses to refuse purging a key that still encrypts rows
 * (spec 1.2, 5.11). A row written here decrypts in Keystone with the same repository, and the
 * other way round.
 */
import { UnexpectedError } from '../common/errors.js';
import { MultiFernet } from '../token/fernet.js';

/** What the credential provider reads: the key list (primary first) and the primary's hash. */
export interface CredentialKeySource {
  keys(): readonly Buffer[];
  primaryKeyHash(): string;
}

export interface EncryptedBlob {
  readonly encryptedBlob: string;
  readonly keyHash: string;
}

export interface CredentialCrypto {
  encrypt(plaintext: string): EncryptedBlob;
  /** @throws UnexpectedError (500) when no key decrypts it, as Keystone's CredentialEncryptionError. */
  decrypt(encryptedBlob: string): string;
}

export function createCredentialCrypto(keys: CredentialKeySource): CredentialCrypto {
  // The repository keeps its array identity while the keys stay the same, so the prepared
  // MultiFernet is rebuilt only after a rotation.
  let known: readonly Buffer[] | undefined;
  let fernet: MultiFernet | undefined;
  const current = (): MultiFernet => {
    const list = keys.keys();
    if (list !== known || !fernet) {
      fernet = new MultiFernet(list);
      known = list;
    }
    return fernet;
  };
  return {
    encrypt(plaintext) {
      const fernetNow = current();
      return { encryptedBlob: fernetNow.encrypt(Buffer.from(plaintext, 'utf8'), { padding: true }), keyHash: keys.primaryKeyHash() };
    },
    decrypt(encryptedBlob) {
      try {
        return current().decrypt(encryptedBlob).plaintext.toString('utf8');
      } catch (error) {
        // Keystone answers an unexpected error; the operator learns from the log which row and why.
        throw new UnexpectedError(`credential could not be decrypted: ${error instanceof Error ? error.message : String(error)}`);
      }
    },
  };
}
