import { DomainError } from '../common/domain-errors';
import type { Principal } from './request-principal';

/**
 * A device reads over HTTP exactly what the broker's ACL lets it read over MQTT: published
 * artifacts (the retained `ec/v1/artifacts/#` tree). Files only uploaded, not yet published, stay
 * with API tokens. Operators' tokens read everything.
 */
export function assertMayReadArtifact(
  principal: Principal | undefined,
  artifact: { sha256: string; published_at: number | null },
): void {
  if (principal?.kind !== 'device' || artifact.published_at !== null) return;
  throw new DomainError(
    'forbidden',
    `artifact ${artifact.sha256} is not published; devices may download published artifacts only`,
  );
}
