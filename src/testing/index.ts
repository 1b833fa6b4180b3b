export { toCallbackPayload } from './callback-payload.js';
export type { ZapierCallbackInput, ZapierCallbackShorthand } from './callback-payload.js';
export { forgeHs256Token, forgeUnsignedToken } from './forged-tokens.js';
export { ZapierSandbox } from './zapier-sandbox.js';
export type {
  RunOutcome,
  SandboxCreateRequest,
  SandboxDelivery,
  SandboxJwksBehaviour,
  SandboxPendingStyle,
  SandboxPollShape,
  SandboxRequestRecord,
  SandboxRetryAfterForm,
  SandboxRun,
  ZapierSandboxOptions,
} from './zapier-sandbox.interfaces.js';
export { ZapierTestSigner } from './zapier-test-signer.js';
export type { ZapierTestCallbackRequest, ZapierTestSignOptions } from './zapier-test-signer.js';
