"""Independent encoder for Keystone-NG's restricted-token payload (Fernet payload version 11).

Written from NG's layout (crates/token-driver-fernet/src/restricted.rs and its `encode`, which
writes a 9-element array) and the spec's field encodings (keystone-v3.md 1.3-1.5), with the
python `cryptography` and `msgpack` packages only: no keystone-ts code is involved, so the
vectors it writes check keystone-ts' encoder and decoder against a second implementation.

    python3 test/support/restricted_fernet_vectors.py > test/fixtures/fernet/restricted.json

Keys, IV and timestamp are Appendix A's (test/fixtures/fernet/appendix-a.json), so encoding is
byte-exact and reproducible.
"""
import base64
import json
import os
import uuid

import msgpack
from cryptography.fernet import Fernet

HERE = os.path.dirname(os.path.abspath(__file__))
APPENDIX = json.load(open(os.path.join(HERE, '..', 'fixtures', 'fernet', 'appendix-a.json')))
METHODS = APPENDIX['auth_methods']


def id_tuple(value, non_uuid_as_bin=False):
    """Spec 1.3: (True, 16 bytes) for a UUID, else (False, the string)."""
    try:
        return [True, uuid.UUID(value).bytes]
    except ValueError:
        return [False, value.encode() if non_uuid_as_bin else value]


def methods_int(methods):
    return sum(1 << METHODS.index(m) for m in set(methods))


def audit_bytes(audit_id):
    return base64.urlsafe_b64decode(audit_id + '==')


def payload(case, non_uuid_as_bin=False):
    expires = float(case['expires_epoch'])
    return [
        11,
        id_tuple(case['user_id'], non_uuid_as_bin),
        methods_int(case['methods']),
        id_tuple(case['token_restriction_id'], non_uuid_as_bin),
        expires,
        id_tuple(case['project_id'], non_uuid_as_bin),
        case['allow_renew'],
        case['allow_rescope'],
        [audit_bytes(a) for a in case['audit_ids']],
    ]


def seal(plaintext):
    fernet = Fernet(APPENDIX['keys'][APPENDIX['primary_key']])
    iv = bytes.fromhex(APPENDIX['iv'])
    token = fernet._encrypt_from_parts(plaintext, APPENDIX['timestamp'], iv)
    return token.decode().rstrip('=')  # Keystone and NG hand out tokens without padding


CASES = [
    {
        'name': 'restricted, UUID ids, renew only',
        'user_id': '0123456789abcdef0123456789abcdef',
        'methods': ['password'],
        'token_restriction_id': 'aabbccddeeff00112233445566778899',
        'project_id': 'fedcba9876543210fedcba9876543210',
        'allow_renew': True,
        'allow_rescope': False,
        'audit_ids': ['EREREREREREREREREREREQ'],
    },
    {
        'name': 'restricted, rescope only, audit chain, two methods',
        'user_id': '0123456789abcdef0123456789abcdef',
        'methods': ['password', 'token'],
        'token_restriction_id': 'aabbccddeeff00112233445566778899',
        'project_id': 'fedcba9876543210fedcba9876543210',
        'allow_renew': False,
        'allow_rescope': True,
        'audit_ids': ['EREREREREREREREREREREQ', 'IiIiIiIiIiIiIiIiIiIiIg'],
    },
    {
        'name': 'restricted, non-UUID user, project and restriction ids',
        'user_id': 'ldap-alice',
        'methods': ['token'],
        'token_restriction_id': 'ci-readonly',
        'project_id': 'admin-project',
        'allow_renew': True,
        'allow_rescope': True,
        'audit_ids': ['MzMzMzMzMzMzMzMzMzMzMw'],
    },
]


def main():
    out = []
    for case in CASES:
        case = dict(case, expires_epoch=1767229200)  # Appendix A's expires_at, 2026-01-01T01:00:00Z
        for as_bin in (False, True):
            if as_bin and all(_is_uuid(case[k]) for k in ('user_id', 'token_restriction_id', 'project_id')):
                continue  # identical bytes: nothing more to show
            plaintext = msgpack.packb(payload(case, as_bin), use_bin_type=True)
            out.append({
                'name': case['name'] + (' (NG writes non-UUID ids as msgpack bin)' if as_bin else ''),
                # keystone-ts writes non-UUID ids as str like Python Keystone; NG writes bin. Both
                # must decode; only the str form is expected from keystone-ts' encoder.
                'encode': not as_bin,
                'msgpack': plaintext.hex(),
                'token': seal(plaintext),
                'expected': {
                    'user_id': case['user_id'],
                    'methods': case['methods'],
                    'token_restriction_id': case['token_restriction_id'],
                    'project_id': case['project_id'],
                    'allow_renew': case['allow_renew'],
                    'allow_rescope': case['allow_rescope'],
                    'audit_ids': case['audit_ids'],
                    'issued_at': APPENDIX['issued_at'],
                    'expires_at': APPENDIX['expires_at'],
                },
            })
    # The Keystone-NG plaintext (copied from NG's repository by hand) is kept across regenerations.
    existing = os.path.join(HERE, '..', 'fixtures', 'fernet', 'restricted.json')
    keystone_ng = json.load(open(existing)).get('keystone_ng') if os.path.exists(existing) else None
    print(json.dumps({
        'generator': 'test/support/restricted_fernet_vectors.py (python cryptography %s, msgpack %s)' % (
            __import__('cryptography').__version__, '.'.join(map(str, msgpack.version))),
        'keys': APPENDIX['keys'],
        'primary_key': APPENDIX['primary_key'],
        'auth_methods': METHODS,
        'iv': APPENDIX['iv'],
        'timestamp': APPENDIX['timestamp'],
        'cases': out,
        **({'keystone_ng': keystone_ng} if keystone_ng else {}),
    }, indent=2))


def _is_uuid(value):
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False


if __name__ == '__main__':
    main()
