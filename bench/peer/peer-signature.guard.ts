import {
  Inject,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { createRemoteJWKSet, jwtVerify } from 'jose';

/** Injection token of the JWKS URL the peer verifies callbacks against. */
export const PEER_JWKS_URL = 'peer:jwks-url';

/**
 * The guard a user would write from jose's README: a cached remote JWKS (jose's defaults: 10 min
 * cache, 30 s cooldown), RS256 only, `exp` and `iat` required, at most 5 minutes old.
 */
@Injectable()
export class PeerSignatureGuard implements CanActivate {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(@Inject(PEER_JWKS_URL) jwksUrl: string) {
    this.jwks = createRemoteJWKSet(new URL(jwksUrl));
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | string[] | undefined> }>();
    const token = request.headers['zapier-callback-signature'];
    if (typeof token !== 'string') throw new UnauthorizedException('missing signature');
    try {
      await jwtVerify(token, this.jwks, {
        algorithms: ['RS256'],
        requiredClaims: ['exp', 'iat'],
        maxTokenAge: '5m',
        clockTolerance: 30,
      });
    } catch {
      throw new UnauthorizedException('invalid signature');
    }
    return true;
  }
}
