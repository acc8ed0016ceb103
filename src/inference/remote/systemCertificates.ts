import { existsSync } from 'node:fs';

/**
 * Where the operating system keeps its bundle of trusted certificate authorities (Debian/Ubuntu,
 * Fedora/RHEL, openSUSE, Alpine, macOS's exported bundle). Node trusts only its own copy of
 * Mozilla's list; a serving engine behind a company or self-signed authority that the system
 * trusts is reached when the engine process starts with this file as NODE_EXTRA_CA_CERTS.
 */
const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/ca-bundle.pem', '/etc/ssl/cert.pem'];

/** The environment addition for the engine process: the system bundle, unless the user already chose one. */
export function systemCertificatesEnv(env: NodeJS.ProcessEnv, exists: (path: string) => boolean = existsSync): Record<string, string> {
  if (env.NODE_EXTRA_CA_CERTS) return {};
  const bundle = SYSTEM_BUNDLES.find((p) => exists(p));
  return bundle ? { NODE_EXTRA_CA_CERTS: bundle } : {};
}
