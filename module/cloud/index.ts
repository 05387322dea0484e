// The portal link's public face (module/cloud/PROTOCOL.md).
export { PortalLink, PortalLinkError, OUTBOX_LIMIT, type PortalLinkDeps, type PortalStatus, type Report } from './link';
export { CommandReceiver, type Ack, type Result, type Log } from './commands';
export { verifyEnvelope, MAX_ENVELOPE_BYTES, COMMAND_TYPES, type Envelope, type Refusal, type RefusalCode } from './envelope';
export { canonicalJson, CanonicalError, duplicateMember } from './canonical';
export { generateKeyPair, publicKeyOf, signMessage, verifyMessage, signedBytes, randomToken, type KeyPair, type SignerRole } from './keys';
export { loadBinding, checkPortalUrl, BINDING_SETTING, type Binding } from './binding';
