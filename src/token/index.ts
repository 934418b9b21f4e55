/** The Fernet token layer: what other folders import (spec 1.1-1.7). */
export {
  InvalidFernetToken,
  InvalidReceipt,
  InvalidToken,
  KeyRepositoryError,
  TokenPayloadError,
} from './errors.js';
export type { InvalidTokenReason } from './errors.js';
export { MultiFernet, generateFernetKey } from './fernet.js';
export type { FernetDecrypted, FernetEncryptOptions } from './fernet.js';
export { ReceiptFormatter, TokenFormatter, inspectJson, isExpired } from './formatter.js';
export type { CreateOptions, FormatterOptions, KeySource, TokenInspection } from './formatter.js';
export {
  CREDENTIAL_MAX_ACTIVE_KEYS,
  KeyRepository,
  NULL_KEY_TEXT,
  readKeyFiles,
  rotateKeyRepository,
  setupKeyRepository,
} from './key-repository.js';
export type { KeyFile, KeyRepositoryOptions, RotationOptions, RotationResult, SetupResult } from './key-repository.js';
export { AuthMethodCodec, PSEUDO_METHOD_BITS } from './methods.js';
export { PayloadCodec, PayloadVersion, selectPayloadVersion } from './payload.js';
export type { PayloadCodecOptions, ReceiptContent, ReceiptData, TokenContent, TokenData } from './payload.js';
