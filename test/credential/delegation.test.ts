import assert from 'node:assert/strict';
import { assertDelegationScope, NO_DELEGATION } from '../../src/credential/service.js';
import { signedTimestamp } from '../../src/credential/ec2-signature.js';

describe('credential delegation scope and signed timestamps', () => {
  const message = 'Credential project does not match the project scope of the delegated token';

  it('keeps delegated tokens to their project and project-less credentials out of their reach', () => {
    // Not delegated: no restriction here (policy decides).
    assertDelegationScope(NO_DELEGATION, 'p1', 'p2', message);
    assertDelegationScope(NO_DELEGATION, 'p1', null, message);
    for (const delegation of [
      { ...NO_DELEGATION, trustId: 't' },
      { ...NO_DELEGATION, appCredId: 'a' },
      { ...NO_DELEGATION, accessTokenId: 'o' },
    ]) {
      assertDelegationScope(delegation, 'p1', 'p1', message);
      for (const other of ['p2', null, undefined]) {
        assert.throws(
          () => assertDelegationScope(delegation, 'p1', other, message),
          (e: Error & { status?: number }) => e.status === 403 && e.message === `You are not authorized to perform the requested action: ${message}.`,
        );
      }
    }
  });

  it('reads signed timestamps as iso8601 does, UTC unless an offset is given', () => {
    const at = (value: unknown, where: 'params' | 'headers' = 'params') =>
      signedTimestamp(where === 'params' ? { params: { Timestamp: value } } : { headers: { 'X-Amz-Date': value } });
    assert.equal(at('2024-01-02T03:04:05Z')?.toISOString(), '2024-01-02T03:04:05.000Z');
    assert.equal(at('2024-01-02T03:04:05.250')?.toISOString(), '2024-01-02T03:04:05.250Z');
    assert.equal(at('2024-01-02T03:04:05+02:00')?.toISOString(), '2024-01-02T01:04:05.000Z');
    assert.equal(at('20240102T030405Z', 'headers')?.toISOString(), '2024-01-02T03:04:05.000Z');
    assert.equal(signedTimestamp({ params: { 'X-Amz-Date': '20240102T030405Z' } })?.toISOString(), '2024-01-02T03:04:05.000Z');
    assert.equal(signedTimestamp({ params: {} }), undefined);
    for (const bad of ['yesterday', '2024-02-31T00:00:00Z', '2024-01-02T25:00:00Z', 17]) assert.equal(at(bad), null, String(bad));
  });
});
