import { Forbidden, NotFound, ValidationError } from '../common/errors.js';
import type { ProjectRef } from '../resource/store.js';
import type { IssueRequest, ValidatedToken } from '../token/provider.js';
import type { TokenRestrictionRecord } from './store.js';

/**
 * Down-scoping: the holder of a token exchanges it for a restricted one (POST
 * /v4/tokens/restrictions/{id}/tokens, or RFC 8693 token exchange at /v4/oauth2/token). Keystone-NG
 * issues restricted tokens only through federation mappings; keystone-ts lets any holder narrow
 * their own token, which can only ever lose power (decision 0008).
 */
export interface RestrictedTokenIssuerDeps {
  readonly restrictions: { find(id: string): Promise<TokenRestrictionRecord | undefined> };
  readonly getProject: (id: string) => Promise<ProjectRef | undefined>;
  readonly issue: (request: IssueRequest) => Promise<{ tokenText: string; token: ValidatedToken }>;
  readonly now: () => Date;
}

export type RestrictedTokenIssuer = ReturnType<typeof createRestrictedTokenIssuer>;

export function createRestrictedTokenIssuer(deps: RestrictedTokenIssuerDeps) {
  return {
    /**
     * A restricted token for the subject token's user. Refusals: 404 unknown restriction; 403 a
     * subject that is already narrowed (restricted, trust, application credential, OAuth1: its
     * power is less than its user's, and the restricted token would be computed from the user's),
     * or a restriction that is not the caller's; 400 no project to scope to.
     */
    async exchange(subject: ValidatedToken, restrictionId: string): Promise<{ tokenText: string; token: ValidatedToken; restriction: TokenRestrictionRecord }> {
      const { data } = subject;
      const delegated = data.methods.length === 0 || data.methods.includes('ec2credential') || data.methods.includes('application_credential') || data.methods.includes('oauth1');
      if (delegated || data.restriction || data.trustId || data.appCredId || data.accessTokenId || data.thumbprint || data.federatedGroupIds) {
        throw new Forbidden('a delegated or restricted token cannot be exchanged for a restricted token');
      }
      const restriction = await deps.restrictions.find(restrictionId);
      if (!restriction) throw NotFound.entity('token restriction', restrictionId);
      if (restriction.userId !== null && restriction.userId !== subject.user.id) throw new Forbidden(`token restriction ${restriction.id} names another user`);
      // NG's RestrictedPayload::from_security_context: the restriction's project, else the token's.
      const projectId = restriction.projectId ?? (subject.scope.kind === 'project' ? subject.scope.project.id : null);
      if (projectId === null) throw new ValidationError('A restricted token is project scoped: the restriction names no project and the token is not project scoped.');
      const project = await deps.getProject(projectId);
      if (!project) throw NotFound.entity('project', projectId);
      if (project.domain_id !== restriction.domainId) throw new Forbidden(`token restriction ${restriction.id} belongs to another domain than project ${project.id}`);
      let expiresAt = data.expiresAt;
      if (restriction.maxLifetime !== null) {
        const cap = new Date(deps.now().getTime() + restriction.maxLifetime * 1000);
        if (cap < expiresAt) expiresAt = cap;
      }
      const issued = await deps.issue({
        userId: subject.user.id,
        methods: [...data.methods, 'token'],
        scope: { project },
        expiresAt,
        // The subject's audit chain: revoking the chain it started revokes its restricted tokens too.
        parentAuditId: subject.parentAuditId ?? subject.auditId,
        restriction: { id: restriction.id, allowRenew: restriction.allowRenew, allowRescope: restriction.allowRescope },
      });
      return { ...issued, restriction };
    },
  };
}
