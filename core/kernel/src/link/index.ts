// The site link's public surface: framing, typed messages, framed connections with the version
// handshake, site identities and pairing, and the mutual-TLS NetworkAdapter.
export * from './link-errors.js';
export * from './frame-codec.js';
export * from './message-registry.js';
export * from './framed-connection.js';
export * from './handshake.js';
export * from './token-bucket.js';
export * from './site-id.js';
export * from './link-address.js';
export * from './site-identity.js';
export * from './pairing.js';
export * from './tls-network.js';
export * from './self-signed-certificate.js';
export * from './identity-files.js';
export * from './buffer-pool.js';
