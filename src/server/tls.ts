import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { TlsFiles } from './config.js';

/** A certificate and its key, read and checked: what an HTTPS listener is given, at start or on SIGHUP. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** The leaf certificate's SHA-256 fingerprint (as `openssl x509 -fingerprint -sha256` prints it) and expiry, for the log. */
  fingerprint: string;
  validTo: string;
}

/**
 * Reads the PEM files and checks that they make a usable pair, naming the file at fault:
 * unreadable, not PEM, a key that is not the certificate's. Never a stack trace's worth of
 * OpenSSL: one line an operator can act on. The key's bytes never reach a message.
 */
export async function loadTls(files: TlsFiles): Promise<TlsMaterial> {
  const cert = await readPem(files.certFile, 'certificate');
  const key = await readPem(files.keyFile, 'private key');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
    createSecureContext({ cert });
  } catch (err) {
    throw new Error(`TLS certificate ${files.certFile}: not a PEM certificate (${reason(err)})`);
  }
  try {
    createSecureContext({ key });
  } catch (err) {
    throw new Error(`TLS private key ${files.keyFile}: not an unencrypted PEM private key (${reason(err)})`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new Error(`TLS private key ${files.keyFile} does not belong to the certificate ${files.certFile} (${reason(err)})`);
  }
  return { cert, key, fingerprint: leaf.fingerprint256, validTo: leaf.validTo };
}

async function readPem(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new Error(`TLS ${what} ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? reason(err)})`);
  }
}

/** OpenSSL's words without its error-number prefix (`error:0480006C:PEM routines::no start line` → `PEM routines::no start line`). */
function reason(err: unknown): string {
  return String((err as Error).message ?? err).replace(/^error:[0-9A-Fa-f]+:/, '');
}
