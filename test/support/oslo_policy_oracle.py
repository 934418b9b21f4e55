"""Real oslo.policy deciding keystone-ts policy cases: the oracle for policies/cases/*.json.

Reads one JSON request on stdin and writes one JSON response on stdout:
  request:  {"rules": [{"name", "check_str", "scope_types"?, "deprecated"?}],
             "settings": {"enforce_scope": bool, "enforce_new_defaults": bool},
             "cases": [{"action": str, "input": PolicyInput}]}
  response: {"version": oslo.policy's version, "results": [{"allow": bool}]}, one result per
            case, in order.

Everything that decides is upstream code, set up the way Keystone sets it up:
- the rules are registered as oslo.policy RuleDefaults with their scope_types, and a deprecated
  check string as a DeprecatedRule of the same name, so oslo.policy itself OR-s it in while
  [oslo_policy] enforce_new_defaults is False;
- [oslo_policy] enforce_scope / enforce_new_defaults are set through oslo.config;
- the target is built as keystone.common.rbac_enforcer.enforcer.RBACEnforcer.enforce_call
  builds it: path variables, then `target`, then `request_body` and `filter_attr` when not empty,
  flattened by keystone.common.utils.flatten_dict;
- the credentials are the creds dict, and enforcement goes through Enforcer.enforce with
  do_raise=True as RBACEnforcer._enforce calls it: InvalidScope and PolicyNotAuthorized are denials.
"""
import importlib.metadata
import json
import logging
import sys
import warnings


def enforcer_for(rules, settings):
    from oslo_config import cfg
    from oslo_policy import policy

    conf = cfg.ConfigOpts()
    conf([], project='keystone', default_config_files=[])
    # Only the registered defaults are in force: a policy file name that cannot exist (a relative
    # name would be looked up in /etc/keystone, where an installed Keystone keeps its own) and no
    # policy directories. use_conf must stay on: it also gates applying the registered defaults.
    enforcer = policy.Enforcer(conf, policy_file='/nonexistent/keystone-ts-oracle/policy.yaml')
    conf.set_override('policy_dirs', [], group='oslo_policy')
    conf.set_override('enforce_scope', bool(settings['enforce_scope']), group='oslo_policy')
    conf.set_override('enforce_new_defaults', bool(settings['enforce_new_defaults']), group='oslo_policy')
    defaults = []
    for rule in rules:
        deprecated = None
        if rule.get('deprecated') is not None:
            deprecated = policy.DeprecatedRule(
                name=rule['name'],
                check_str=rule['deprecated'],
                deprecated_reason='keystone-ts decision cases',
                deprecated_since='keystone-ts',
            )
        defaults.append(
            policy.RuleDefault(
                name=rule['name'],
                check_str=rule['check_str'],
                scope_types=rule.get('scope_types') or None,
                deprecated_rule=deprecated,
            )
        )
    enforcer.register_defaults(defaults)
    enforcer.suppress_deprecation_warnings = True
    enforcer.suppress_default_change_warnings = True
    enforcer.load_rules()
    return enforcer


def flattened_target(policy_input):
    from keystone.common import utils

    policy_dict = {}
    policy_dict.update(policy_input.get('path') or {})
    if 'target' in policy_input:
        policy_dict['target'] = policy_input['target']
    # Keystone adds the JSON body and the query filters only when they hold something.
    if policy_input.get('request_body'):
        policy_dict['request_body'] = policy_input['request_body']
    if policy_input.get('filter_attr'):
        policy_dict['filter_attr'] = policy_input['filter_attr']
    return utils.flatten_dict(policy_dict)


def decide(enforcer, action, policy_input):
    from oslo_policy import policy

    creds = dict(policy_input['credentials'])
    try:
        return bool(enforcer.enforce(action, flattened_target(policy_input), creds, do_raise=True))
    except (policy.InvalidScope, policy.PolicyNotAuthorized):
        return False


def main():
    # oslo.policy warns on every scope mismatch while enforce_scope is off; the answer is what counts.
    warnings.simplefilter('ignore')
    logging.disable(logging.CRITICAL)
    request = json.load(sys.stdin)
    enforcer = enforcer_for(request['rules'], request['settings'])
    results = [{'allow': decide(enforcer, case['action'], case['input'])} for case in request['cases']]
    json.dump({'version': importlib.metadata.version('oslo.policy'), 'results': results}, sys.stdout)


if __name__ == '__main__':
    main()
