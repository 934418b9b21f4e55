/** Builds token content for the token tests. */
import type { TokenContent } from '../../src/token/payload.js';

/** Token content with every optional field null, for building test tokens. */
export function content(fields: Partial<TokenContent>): TokenContent {
  return {
    userId: '0123456789abcdef0123456789abcdef',
    methods: ['password'],
    auditIds: ['EREREREREREREREREREREQ'],
    system: null,
    domainId: null,
    projectId: null,
    trustId: null,
    federatedGroupIds: null,
    identityProviderId: null,
    protocolId: null,
    accessTokenId: null,
    appCredId: null,
    thumbprint: null,
    expiresAt: new Date('2126-01-01T00:00:00Z'),
    ...fields,
  };
}
