// Types of @kubernetes/client-node for this CommonJS package: the library is
// ESM-only, so its types are reached through import types in ESM resolution mode.

type Lib = typeof import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' }});
type Types = import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' }}).KubernetesObject;

export type Module = Lib;
export type KubernetesObject = Types;
/** client-node's list shape (its interface is generic, which an import type cannot carry here). */
export interface KubernetesListObject<T extends KubernetesObject> {
  apiVersion?: string;
  kind?: string;
  metadata?: InstanceType<Lib['V1ListMeta']>;
  items: T[];
}
export type KubeConfig = InstanceType<Lib['KubeConfig']>;
export type CoreV1Event = InstanceType<Lib['CoreV1Event']>;
export type V1Deployment = InstanceType<Lib['V1Deployment']>;
export type V1Ingress = InstanceType<Lib['V1Ingress']>;
export type V1ObjectMeta = InstanceType<Lib['V1ObjectMeta']>;
export type V1Pod = InstanceType<Lib['V1Pod']>;
export type V1ReplicaSet = InstanceType<Lib['V1ReplicaSet']>;
export type V2HorizontalPodAutoscaler = InstanceType<Lib['V2HorizontalPodAutoscaler']>;
