/** Builds token content for the token tests. */
import { tokenContent, type TokenContent } from '../../src/token/payload.js';

/** Token content with every optional field null, for building test tokens. */
export function content(fields: Partial<TokenContent>): TokenContent {
  return tokenContent({
    userId: '0123456789abcdef0123456789abcdef',
    methods: ['password'],
    auditIds: ['EREREREREREREREREREREQ'],
    expiresAt: new Date('2126-01-01T00:00:00Z'),
    ...fields,
  });
}
