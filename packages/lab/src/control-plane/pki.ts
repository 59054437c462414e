// The control plane's certificates, made once per control-plane directory with the openssl CLI: a CA,
// kube-apiserver's serving certificate, a client certificate per component and for the admin
// (system:masters), and the service-account signing key pair (TokenRequest). kubeadm's layout, small.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeCa, openssl, signCertificate } from '../openssl-ca.js';

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  saKey: string;
  saPub: string;
  /** Client certificate and key by identity: admin, controller-manager, scheduler, apiserver-kubelet. */
  clients: Record<ClientName, { cert: string; key: string }>;
}

export type ClientName = 'admin' | 'controller-manager' | 'scheduler';

const SUBJECTS: Record<ClientName, string> = {
  admin: '/O=system:masters/CN=kubernetes-admin',
  'controller-manager': '/CN=system:kube-controller-manager',
  scheduler: '/CN=system:kube-scheduler',
};

/** Makes the PKI in `dir` unless it is already there (a restart keeps tokens and kubeconfigs valid). */
export function ensurePki(dir: string, serverSans: readonly string[]): Pki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = (name: string): string => join(dir, name);
  const pki: Pki = {
    dir,
    caCert: f('ca.crt'),
    caKey: f('ca.key'),
    serverCert: f('apiserver.crt'),
    serverKey: f('apiserver.key'),
    saKey: f('sa.key'),
    saPub: f('sa.pub'),
    clients: {
      admin: { cert: f('admin.crt'), key: f('admin.key') },
      'controller-manager': { cert: f('controller-manager.crt'), key: f('controller-manager.key') },
      scheduler: { cert: f('scheduler.crt'), key: f('scheduler.key') },
    },
  };
  if (existsSync(join(dir, '.complete'))) return pki;

  makeCa(dir, '/CN=cosmolet-lab-ca');
  const sign = (name: string, subject: string, ext: string): void =>
    signCertificate(dir, name, subject, ext, 3650);
  const sans = serverSans.map((s) => (/^[\d.]+$|:/.test(s) ? `IP:${s}` : `DNS:${s}`)).join(',');
  sign(
    'apiserver',
    '/CN=kube-apiserver',
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${sans}\n`,
  );
  for (const [name, subject] of Object.entries(SUBJECTS))
    sign(
      name,
      subject,
      'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n',
    );
  // The service-account issuer signs with RS256 (kube-apiserver's default algorithm for these keys).
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'], dir);
  openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  writeFileSync(join(dir, '.complete'), '');
  return pki;
}
