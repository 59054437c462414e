// What the reflectors' stores keep: the plan's projections (src/plan/input.ts), not the objects. The
// daemon hands these to the ReflectorSet, so kube knows nothing of the plan.
import type { Projections } from '../kube/reflector-set.js';
import {
  projectNode,
  projectService,
  projectSlice,
  sameNode,
  sameService,
  sameSlice,
  type MalformedReport,
  type NodeInfo,
  type ServiceInfo,
  type SliceInfo,
} from '../plan/input.js';
import { NodeNames } from '../plan/node-names.js';

export interface PlanProjections extends Projections<ServiceInfo, SliceInfo, NodeInfo> {
  /** The node names the slices share; each slice's are released when its store lets go of it. */
  nodeNames: NodeNames;
}

/** `report` hears of every field of the wrong type that was dropped (the object is read without it). */
export function planProjections(nodeName: string, report?: MalformedReport): PlanProjections {
  const nodeNames = new NodeNames();
  return {
    nodeNames,
    // The reflectors ask the API server for services.labelSelector: the store needs no labels.
    services: { project: (raw) => projectService(raw, report, { labels: false }), same: sameService },
    endpointSlices: {
      project: (raw) => projectSlice(raw, nodeName, report, nodeNames),
      release: (info) => nodeNames.release(info.nodes),
      same: sameSlice,
    },
    node: { project: (raw) => projectNode(raw, report), same: sameNode },
  };
}
