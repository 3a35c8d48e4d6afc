import type { Request } from 'express';

/** Who a request authenticated as: an operator's API token, or a device with its own secret. */
export type Principal =
  { kind: 'api-token'; tokenId: string } | { kind: 'device'; deviceId: string };

const PRINCIPAL = Symbol('ec:principal');

type WithPrincipal = Request & { [PRINCIPAL]?: Principal };

export function setPrincipal(request: Request, principal: Principal): void {
  (request as WithPrincipal)[PRINCIPAL] = principal;
}

/** Set by the auth guard; undefined only on @Public() routes. */
export function principalOf(request: Request): Principal | undefined {
  return (request as WithPrincipal)[PRINCIPAL];
}
