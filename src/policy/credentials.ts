import { canonicalCidr } from '../common/cidr.js';
import type { Credentials } from './pdp.js';
import type { ValidatedToken } from '../token/provider.js';

/**
 * Credentials as Keystone's policy sees them (spec 4.1), built once per request from the
 * validated X-Auth-Token and, when present, the X-Service-Token's roles.
 */
export function credentialsFor(token: ValidatedToken, service: ValidatedToken | undefined, isAdminProject: boolean): Credentials {
  const scope = token.scope;
  return {
    user_id: token.user.id,
    user_domain_id: token.userDomain.id,
    project_id: scope.kind === 'project' ? scope.project.id : null,
    project_domain_id: scope.kind === 'project' ? scope.domain.id : null,
    domain_id: scope.kind === 'domain' ? scope.domain.id : null,
    system_scope: scope.kind === 'system' ? 'all' : null,
    roles: token.roles.map((r) => r.name),
    role_ids: token.roles.map((r) => r.id),
    methods: token.data.methods,
    audit_ids: token.data.auditIds,
    is_admin_project: isAdminProject,
    trust_id: token.data.trustId,
    app_cred_id: token.data.appCredId,
    identity_provider_id: token.data.identityProviderId,
    protocol_id: token.data.protocolId,
    service_user_id: service ? service.user.id : null,
    service_roles: service ? service.roles.map((r) => r.name) : [],
    restriction: restrictionOf(token),
    attributes: token.attributes ?? {},
    token: {
      user: { id: token.user.id, domain: { id: token.userDomain.id } },
      ...(scope.kind === 'domain' ? { domain: { id: scope.domain.id, name: scope.domain.name } } : {}),
      ...(scope.kind === 'project'
        ? { project: { id: scope.project.id, name: scope.project.name, domain: { id: scope.domain.id, name: scope.domain.name } } }
        : {}),
    },
    is_admin: false,
  };
}

/**
 * The restriction as policies see it. A flag holds only while both the token (as issued) and the
 * restriction (as it is now) allow it: switching one off takes effect on tokens already out.
 */
function restrictionOf(token: ValidatedToken): Credentials['restriction'] {
  const record = token.restriction;
  const issued = token.data.restriction;
  if (!record || !issued) return null;
  return {
    id: record.id,
    actions: record.actions,
    source_cidrs: record.sourceCidrs && record.sourceCidrs.map(canonicalCidr),
    allow_renew: issued.allowRenew && record.allowRenew,
    allow_rescope: issued.allowRescope && record.allowRescope,
    role_ids: record.roleIds,
    inline_policy: record.inlinePolicy,
  };
}

/**
 * Credentials per validated token, built once: the validated token object lives as long as
 * nothing it depends on changes, and so do its credentials. A service token makes the pair
 * unique to the request, so those are built fresh.
 */
export function createCredentialsBuilder(isAdminProject: (token: ValidatedToken) => boolean) {
  const built = new WeakMap<ValidatedToken, Credentials>();
  return (token: ValidatedToken, service: ValidatedToken | undefined): Credentials => {
    if (service) return credentialsFor(token, service, isAdminProject(token));
    let credentials = built.get(token);
    if (!credentials) built.set(token, (credentials = credentialsFor(token, undefined, isAdminProject(token))));
    return credentials;
  };
}

/**
 * Credentials a trusted caller asserts instead of presenting a token (the OPA data API's
 * `input.credentials`, an AuthZEN `user` subject), already checked against
 * schemas/policy-credentials.json. What is left out is empty, so a rule that needs it fails
 * closed; Keystone's token view is derived from the ids so that rules reading
 * `token.domain.id` / `token.project.domain.id` decide as they do for a real token.
 */
export function assertedCredentials(asserted: Partial<Credentials> & { user_id: string }): Credentials {
  const projectId = asserted.project_id ?? null;
  const domainId = asserted.domain_id ?? null;
  const projectDomainId = asserted.project_domain_id ?? null;
  const userDomainId = asserted.user_domain_id ?? '';
  return {
    user_id: asserted.user_id,
    user_domain_id: userDomainId,
    project_id: projectId,
    project_domain_id: projectDomainId,
    domain_id: domainId,
    system_scope: asserted.system_scope ?? null,
    roles: asserted.roles ?? [],
    role_ids: asserted.role_ids ?? [],
    methods: asserted.methods ?? [],
    audit_ids: asserted.audit_ids ?? [],
    is_admin_project: asserted.is_admin_project ?? false,
    trust_id: asserted.trust_id ?? null,
    app_cred_id: asserted.app_cred_id ?? null,
    identity_provider_id: asserted.identity_provider_id ?? null,
    protocol_id: asserted.protocol_id ?? null,
    service_user_id: asserted.service_user_id ?? null,
    service_roles: asserted.service_roles ?? [],
    restriction: asserted.restriction ?? null,
    attributes: asserted.attributes ?? {},
    token: asserted.token ?? {
      user: { id: asserted.user_id, domain: { id: userDomainId } },
      ...(domainId ? { domain: { id: domainId, name: '' } } : {}),
      ...(projectId ? { project: { id: projectId, name: '', domain: { id: projectDomainId ?? '', name: '' } } } : {}),
    },
    is_admin: asserted.is_admin ?? false,
  };
}
