"""Upstream Keystone's own Fernet code, driven by the keystone-ts interop tests.

Reads one JSON request on stdin and writes one JSON response on stdout. Everything that matters
runs through Keystone's real code paths, configured with oslo.config like a keystone.conf:
- create: the Fernet token provider's issue path (payload class choice included),
  `keystone.token.providers.fernet.core.Provider.generate_id_and_issued_at`;
- validate: `Provider.validate_token` (a ValidationError becomes TokenNotFound, as in the API);
- receipts: `keystone.receipt.receipt_formatters.ReceiptFormatter`;
- rotate: `keystone.common.fernet_utils.FernetUtils` setup and rotations;
- uuid: Keystone's `BasePayload.attempt_convert_uuid_hex_to_bytes`;
- fernet: `cryptography.fernet.MultiFernet` as the credential provider uses it (padded output).

Request: {"command": ..., "config": {"key_repository", "auth_methods", "default_domain_id",
"max_active_keys"}, "items": [...]}. Response: {"results": [...]}, one result per item.
"""
import json
import os
import sys


def configure(config):
    import keystone.conf

    conf = keystone.conf.CONF
    keystone.conf.configure(conf)  # registers every option group, as keystone's entry points do
    conf([], project='keystone', default_config_files=[])
    if 'key_repository' in config:
        conf.set_override('key_repository', config['key_repository'], group='fernet_tokens')
        conf.set_override('key_repository', config['key_repository'], group='fernet_receipts')
    if 'max_active_keys' in config:
        conf.set_override('max_active_keys', config['max_active_keys'], group='fernet_tokens')
    if 'auth_methods' in config:
        conf.set_override('methods', config['auth_methods'], group='auth')
    if 'default_domain_id' in config:
        conf.set_override('default_domain_id', config['default_domain_id'], group='identity')
    return conf


def token_model(item):
    from keystone.models import token_model as tm

    token = tm.TokenModel()
    token.user_id = item['user_id']
    token.methods = item['methods']
    token.audit_id = item['audit_ids'][0]
    token.parent_audit_id = item['audit_ids'][1] if len(item['audit_ids']) > 1 else None
    token.expires_at = item['expires_at']
    token.system = item['system']
    token.domain_id = item['domain_id']
    token.project_id = item['project_id']
    token.trust_id = item['trust_id']
    if item['federated_group_ids'] is not None:
        token.is_federated = True
        token.federated_groups = [{'id': gid} for gid in item['federated_group_ids']]
        token.identity_provider_id = item['identity_provider_id']
        token.protocol_id = item['protocol_id']
    token.access_token_id = item['access_token_id']
    token.application_credential_id = item['app_cred_id']
    return token


def create(items):
    from keystone.token.providers.fernet import core

    provider = core.Provider()
    results = []
    for item in items:
        token = token_model(item)
        version = provider._determine_payload_class_from_token(token).version
        token_id, issued_at = provider.generate_id_and_issued_at(token)
        results.append({'token': token_id, 'version': version, 'issued_at': issued_at})
    return results


def validate(items):
    from keystone import exception
    from keystone.token.providers.fernet import core

    provider = core.Provider()
    names = ('user_id', 'methods', 'audit_ids', 'system', 'domain_id', 'project_id', 'trust_id',
             'federated_group_ids', 'identity_provider_id', 'protocol_id', 'access_token_id',
             'app_cred_id', 'issued_at', 'expires_at')
    results = []
    for token in items:
        try:
            values = provider.validate_token(token)
        except exception.TokenNotFound as e:
            results.append({'error': 'TokenNotFound', 'message': str(e)})
            continue
        results.append(dict(zip(names, values)))
    return results


def receipts(items):
    from keystone.receipt import receipt_formatters

    formatter = receipt_formatters.ReceiptFormatter()
    results = []
    for item in items:
        if 'receipt' in item:
            user_id, methods, issued_at, expires_at = formatter.validate_receipt(item['receipt'])
            results.append({'user_id': user_id, 'methods': methods, 'issued_at': issued_at,
                            'expires_at': expires_at})
        else:
            results.append({'receipt': formatter.create_receipt(
                item['user_id'], item['methods'], item['expires_at'])})
    return results


def rotate(items):
    from keystone.common import fernet_utils

    results = []
    for item in items:
        utils = fernet_utils.FernetUtils(item['directory'], item['max_active_keys'], 'fernet_tokens')
        sequence = []
        utils.create_key_directory()  # keystone-manage fernet_setup does this first
        utils.initialize_key_repository()
        sequence.append(sorted((int(name) for name in os.listdir(item['directory'])), reverse=True))
        for _ in range(item['rotations']):
            utils.rotate_keys()
            sequence.append(sorted((int(name) for name in os.listdir(item['directory'])),
                                   reverse=True))
        results.append(sequence)
    return results


def uuids(items):
    from keystone.token import token_formatters

    results = []
    for value in items:
        is_uuid, packed = token_formatters.BasePayload.attempt_convert_uuid_hex_to_bytes(value)
        results.append(packed.hex() if is_uuid else None)
    return results


def fernet(items):
    from cryptography import fernet as crypto_fernet

    results = []
    for item in items:
        multi = crypto_fernet.MultiFernet([crypto_fernet.Fernet(k) for k in item['keys']])
        if 'token' in item:
            try:
                results.append({'plaintext': multi.decrypt(item['token'].encode()).hex()})
            except crypto_fernet.InvalidToken:
                results.append({'error': 'InvalidToken'})
        else:
            results.append({'token': multi.encrypt(bytes.fromhex(item['plaintext'])).decode()})
    return results


def main():
    request = json.load(sys.stdin)
    command = request['command']
    config = request.get('config', {})
    configure(config)
    items = request['items']
    if command == 'create':
        results = create(items)
    elif command == 'validate':
        results = validate(items)
    elif command == 'receipts':
        results = receipts(items)
    elif command == 'rotate':
        results = rotate(items)
    elif command == 'uuid':
        results = uuids(items)
    elif command == 'fernet':
        results = fernet(items)
    else:
        raise SystemExit('unknown command: %s' % command)
    json.dump({'results': results}, sys.stdout)


if __name__ == '__main__':
    main()
