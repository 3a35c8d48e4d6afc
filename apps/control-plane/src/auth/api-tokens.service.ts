import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '../common/clock';
import { newId, newSecret } from '../common/ids';
import { ApiTokensRepository } from './api-tokens.repository';
import { hashToken } from './token-hash';

export interface CreatedApiToken {
  id: string;
  name: string;
  /** Shown once; only its hash is stored. */
  token: string;
}

@Injectable()
export class ApiTokensService {
  constructor(
    private readonly tokens: ApiTokensRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  create(name: string): CreatedApiToken {
    const token = newSecret('ect_');
    const id = newId('tok');
    this.tokens.insert({ id, name, token_hash: hashToken(token), created_at: this.clock.now() });
    return { id, name, token };
  }

  /** The token's id if the bearer value is a live token, otherwise undefined. */
  authenticate(bearer: string): string | undefined {
    return this.tokens.findActiveByHash(hashToken(bearer))?.id;
  }

  list() {
    return this.tokens.list().map(({ id, name, created_at, revoked_at }) => ({
      id,
      name,
      createdAt: new Date(created_at).toISOString(),
      revoked: revoked_at !== null,
    }));
  }

  revoke(id: string): boolean {
    return this.tokens.revoke(id, this.clock.now());
  }
}
