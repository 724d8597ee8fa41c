// A self-signed ECDSA P-256 certificate for localhost and 127.0.0.1, made with the openssl
// command in a fresh temporary directory, for the Node end-to-end tests over TLS.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Returns {dir, cert, key, remove()}.
export function makeCertificate() {
  const dir = mkdtempSync(join(tmpdir(), 'ringcast-e2e-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  return { dir, cert, key, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
