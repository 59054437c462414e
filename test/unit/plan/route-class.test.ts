// Rule 7, route classes: a Service's class from its annotation or the default, the fallback (and
// report) for a name that is not configured, the class of a prefix shared by Services of different
// classes, and that only qualifying Services lend their class.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { projectService, projectSlice } from '../../../src/plan/input.js';
import { unknownRouteClasses } from '../../../src/plan/plan.js';
import { PlanState } from '../../../src/plan/state.js';
import type { Plan, PlanSettings } from '../../../src/plan/types.js';
import { ALL, NODE, plan, readyBoth, svc, type SvcOpts } from './helpers.js';

const CLASSES: Partial<PlanSettings> = { routeClasses: ['gold', 'silver', 'bronze'], defaultRouteClass: '' };

/** A ready ClusterIP Service; `cls` is its cosmolet.io/route-class annotation. */
function classed(name: string, ip: string, cls?: string, o: SvcOpts = {}) {
  return svc({
    name,
    clusterIPs: [ip],
    ...(cls === undefined ? {} : { annotations: { 'cosmolet.io/route-class': cls } }),
    ...o,
  });
}

function classes(p: Plan): [string, string | null][] {
  return p.routes.map((r) => [r.prefix, r.class]);
}

describe('rule 7: a Service takes its class', () => {
  test('from its annotation when that names a configured class', () => {
    const p = plan({
      services: [classed('web', '10.96.0.10', 'silver')],
      slices: readyBoth('web'),
      settings: CLASSES,
    });
    assert.deepEqual(classes(p), [['10.96.0.10/32', 'silver']]);
  });

  test('without the annotation: defaultRouteClass, or null when that is ""', () => {
    const services = [classed('web', '10.96.0.10')];
    const slices = readyBoth('web');
    assert.deepEqual(classes(plan({ services, slices, settings: CLASSES })), [['10.96.0.10/32', null]]);
    const withDefault = plan({ services, slices, settings: { ...CLASSES, defaultRouteClass: 'bronze' } });
    assert.deepEqual(classes(withDefault), [['10.96.0.10/32', 'bronze']]);
  });

  test('no classes configured: every route has class null, whatever the annotation', () => {
    const p = plan({ services: [classed('web', '10.96.0.10', 'gold')], slices: readyBoth('web') });
    assert.deepEqual(classes(p), [['10.96.0.10/32', null]]);
  });

  test('an annotation naming no configured class falls back to the default, is advertised, and is reported', () => {
    for (const typo of ['golden', 'Gold', ' gold', '']) {
      for (const def of ['', 'bronze']) {
        const settings = { ...ALL, ...CLASSES, defaultRouteClass: def };
        const services = [classed('web', '10.96.0.10', typo)];
        const p = plan({ services, slices: readyBoth('web'), settings });
        assert.deepEqual(classes(p), [['10.96.0.10/32', def === '' ? null : def]], `${typo} / ${def}`);
        const projected = services.map((s) => projectService(s)).filter((s) => s !== undefined);
        assert.deepEqual(unknownRouteClasses(projected, settings), [
          { service: 'default/web', annotated: typo, class: def === '' ? null : def },
        ]);
      }
    }
  });

  test('a configured name is not reported; a Service that is not considered is not reported', () => {
    const settings = { ...ALL, ...CLASSES, namespaces: ['default'] };
    const services = [
      classed('web', '10.96.0.10', 'gold'),
      classed('other', '10.96.0.11', 'typo', { ns: 'kube-system' }),
    ];
    const projected = services.map((s) => projectService(s)).filter((s) => s !== undefined);
    assert.deepEqual(unknownRouteClasses(projected, settings), []);
  });
});

describe('rule 7: a prefix shared by Services takes the first class by name', () => {
  const shared = (a?: string, b?: string, c?: string) =>
    plan({
      services: [classed('a', '10.96.0.10', a), classed('b', '10.96.0.10', b), classed('c', '10.96.0.10', c)],
      slices: [...readyBoth('a'), ...readyBoth('b'), ...readyBoth('c')],
      settings: CLASSES,
    });

  test('among classes, the one whose name sorts first', () => {
    assert.deepEqual(classes(shared('silver', 'gold', 'bronze')), [['10.96.0.10/32', 'bronze']]);
    assert.deepEqual(classes(shared('silver', 'gold', 'silver')), [['10.96.0.10/32', 'gold']]);
  });

  test('a class beats none (no annotation, or a typo with default "")', () => {
    assert.deepEqual(classes(shared(undefined, 'silver', undefined)), [['10.96.0.10/32', 'silver']]);
    assert.deepEqual(classes(shared('typo', undefined, 'silver')), [['10.96.0.10/32', 'silver']]);
    assert.deepEqual(classes(shared(undefined, undefined, undefined)), [['10.96.0.10/32', null]]);
  });

  test('only Services that qualify lend their class', () => {
    const p = plan({
      // b owns the IP too but has no ready endpoint: it does not qualify, so gold does not count.
      services: [classed('a', '10.96.0.10', 'silver'), classed('b', '10.96.0.10', 'gold')],
      slices: readyBoth('a'),
      settings: CLASSES,
    });
    assert.deepEqual(
      p.routes.map((r) => [r.prefix, r.services, r.class]),
      [['10.96.0.10/32', ['default/a'], 'silver']],
    );
  });

  test('every IP of a Service, of every kind and family, carries its class', () => {
    const p = plan({
      services: [
        classed('web', '10.96.0.10', 'gold', {
          clusterIPs: ['10.96.0.10', 'fd00:96::10'],
          type: 'LoadBalancer',
          ingress: ['192.0.2.10'],
          externalIPs: ['192.0.2.11'],
        }),
      ],
      slices: readyBoth('web'),
      settings: { ...CLASSES, allowedCIDRs: ['192.0.2.0/24'] },
    });
    assert.deepEqual(classes(p), [
      ['10.96.0.10/32', 'gold'],
      ['192.0.2.10/32', 'gold'],
      ['192.0.2.11/32', 'gold'],
      ['fd00:96::10/128', 'gold'],
    ]);
  });

  test('an opted-out Service lends nothing', () => {
    const p = plan({
      services: [
        classed('a', '10.96.0.10', 'silver'),
        classed('b', '10.96.0.10', undefined, {
          annotations: { 'cosmolet.io/advertise': 'false', 'cosmolet.io/route-class': 'bronze' },
        }),
      ],
      slices: [...readyBoth('a'), ...readyBoth('b')],
      settings: CLASSES,
    });
    assert.deepEqual(classes(p), [['10.96.0.10/32', 'silver']]);
  });
});

describe('rule 7 in the incremental plan: a class change is a change', () => {
  const settings = { ...ALL, ...CLASSES };
  const slices = readyBoth('web');
  const state = () => {
    const s = new PlanState({ nodeName: NODE, settings, missingNode: 'assume-schedulable' });
    for (const sl of slices) s.setSlice(`default/${sl.metadata?.name ?? ''}`, projectSlice(sl, NODE));
    return s;
  };

  test('reclassifying a Service reports its prefixes as reclassed, not flipped; the unknown name once', () => {
    const s = state();
    const set = (cls?: string) =>
      s.setService('default/web', projectService(classed('web', '10.96.0.10', cls)));
    set('silver');
    let u = s.update();
    assert.deepEqual(u.flipped, ['10.96.0.10/32']);
    assert.equal(s.classOf('10.96.0.10/32'), 'silver');
    set('gold');
    u = s.update();
    assert.deepEqual([u.flipped, u.reclassed, u.changes], [[], ['10.96.0.10/32'], []]);
    assert.equal(s.plan().routes[0]?.class, 'gold');
    assert.deepEqual(
      [...s.advertisedByClass()].filter(([, n]) => n > 0),
      [['gold', 1]],
    );
    set('gold-typo');
    u = s.update();
    assert.deepEqual(u.reclassed, ['10.96.0.10/32']);
    assert.deepEqual(u.unknownRouteClasses, [
      { service: 'default/web', annotated: 'gold-typo', class: null },
    ]);
    assert.equal(s.classOf('10.96.0.10/32'), '');
    // The same Service again, and a full reset (a resync): not reported again.
    set('gold-typo');
    assert.deepEqual(s.update().unknownRouteClasses, []);
    const again = slices.map((sl) => projectSlice(sl, NODE)).filter((x) => x !== undefined);
    s.reset([projectService(classed('web', '10.96.0.10', 'gold-typo'))!], again, undefined);
    u = s.update();
    assert.deepEqual([u.flipped, u.reclassed, u.unknownRouteClasses], [[], [], []]);
    // Fixed: the next typo is reported again.
    set('silver');
    assert.deepEqual(s.update().reclassed, ['10.96.0.10/32']);
    set('gold-typo');
    assert.equal(s.update().unknownRouteClasses.length, 1);
  });
});
