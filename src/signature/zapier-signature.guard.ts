import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ZAPIER_SIGNATURE_HEADER } from '../zapier.constants.js';
import { ZapierSignatureVerifier } from './zapier-signature.verifier.js';

/**
 * Lets a request through only when its `Zapier-Callback-Signature` verifies; otherwise 401
 * (or 503 when Zapier's keys cannot be fetched). Works on Express and Fastify. Use it on your own
 * route when `registerController: false`.
 *
 * @publicApi
 */
@Injectable()
export class ZapierSignatureGuard implements CanActivate {
  constructor(private readonly verifier: ZapierSignatureVerifier) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<{
      headers: Record<string, string | string[] | undefined>;
      raw?: object;
    }>();
    // The module's body reader verified it already, before reading the body (Fastify wraps the
    // Node request in `raw`).
    if (this.verifier.wasVerified(request.raw ?? request)) return true;
    await this.verifier.verify(request.headers[ZAPIER_SIGNATURE_HEADER]);
    return true;
  }
}
