"""Upstream Keystone's credential encryption and keystoneclient's EC2 signer, driven by the
keystone-ts interop tests.

Reads one JSON request on stdin, writes one JSON response on stdout:
{"key_repository": DIR, "items": [...]} -> {"results": [...]}, one result per item.
- {"op": "decrypt", "credential": {"type", "encrypted_blob", "key_hash"}}: the credential
  Manager's _decrypt_credential (blob json.loads'ed for type ec2) with the fernet Provider over
  [credential] key_repository, then the API's _blob_to_json; returns {"blob"}.
- {"op": "encrypt", "credential": {"type", "blob"}}: Manager._encrypt_credential; returns
  {"encrypted_blob", "key_hash"} as Keystone would store them.
- {"op": "sign", "secret", "credentials"}: keystoneclient's Ec2Signer(secret).generate(...).
"""
import json
import sys


def main():
    request = json.load(sys.stdin)

    import keystone.conf
    from keystone.common import provider_api
    from keystone.credential import core
    import importlib

    # Not `from ...fernet import core`: the package's `import *` shadows that name with the
    # abstract providers.core module.
    fernet_core = importlib.import_module('keystone.credential.providers.fernet.core')

    conf = keystone.conf.CONF
    keystone.conf.configure(conf)
    conf([], project='keystone', default_config_files=[])
    conf.set_override('key_repository', request['key_repository'], group='credential')
    provider_api.ProviderAPIs._register_provider_api('credential_provider_api', fernet_core.Provider())

    results = []
    for item in request['items']:
        if item['op'] == 'decrypt':
            # The methods use only the provider registry, not the manager's own state.
            ref = core.Manager._decrypt_credential(None, dict(item['credential']))
            blob = ref['blob']
            results.append({'blob': blob if isinstance(blob, str) else json.dumps(blob)})
        elif item['op'] == 'encrypt':
            ref = core.Manager._encrypt_credential(None, dict(item['credential']))
            encrypted = ref['encrypted_blob']
            results.append({
                'encrypted_blob': encrypted.decode('utf-8') if isinstance(encrypted, bytes) else encrypted,
                'key_hash': ref['key_hash'],
            })
        elif item['op'] == 'sign':
            from keystoneclient.contrib.ec2 import utils as ec2_utils

            results.append({'signature': ec2_utils.Ec2Signer(item['secret']).generate(item['credentials'])})
        else:
            raise ValueError('unknown op %r' % item['op'])
    json.dump({'results': results}, sys.stdout)


if __name__ == '__main__':
    main()
