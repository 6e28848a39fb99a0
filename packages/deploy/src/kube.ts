// Access to the cluster through @kubernetes/client-node. The library ships ES
// modules only, so it is loaded with a dynamic import from this CommonJS package.

import type * as K8s from './k8s-types';

export type { K8s };

let loaded: Promise<K8s.Module> | undefined;

/** @kubernetes/client-node, loaded once. */
export function k8s(): Promise<K8s.Module> {
  loaded ??= import('@kubernetes/client-node');
  return loaded;
}

export interface ClusterTarget {
  /** Kubeconfig file; default as kubectl: $KUBECONFIG (a list of files), then ~/.kube/config. */
  readonly kubeconfig?: string;
  /** Context to use; default the kubeconfig's current context. */
  readonly context?: string;
  /** Namespace; default the context's namespace, then "default". */
  readonly namespace?: string;
}

export interface Connection {
  readonly kc: K8s.KubeConfig;
  readonly namespace: string;
  readonly context: string;
}

export class KubeconfigError extends Error {
  override readonly name = 'KubeconfigError';
}

/** Reads the kubeconfig the way kubectl does and resolves context and namespace. */
export async function connect(target: ClusterTarget = {}): Promise<Connection> {
  const { KubeConfig } = await k8s();
  const kc = new KubeConfig();
  if (target.kubeconfig) kc.loadFromFile(target.kubeconfig);
  else kc.loadFromDefault();
  if (target.context) {
    if (!kc.getContextObject(target.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new KubeconfigError(
        `context "${target.context}" is not in the kubeconfig; known contexts: ${known.join(', ') || 'none'}`,
      );
    }
    kc.setCurrentContext(target.context);
  }
  const context = kc.getCurrentContext();
  if (!context || !kc.getCurrentCluster()) {
    throw new KubeconfigError(
      'no Kubernetes cluster configured: set KUBECONFIG, pass --kubeconfig, or create ~/.kube/config',
    );
  }
  const namespace = target.namespace ?? kc.getContextObject(context)?.namespace ?? 'default';
  return { kc, namespace, context };
}

export interface RawResponse {
  readonly status: number;
  readonly body: string;
}

/**
 * GET on the API server with the kubeconfig's credentials, for paths the typed
 * clients do not cover well (the pod proxy returns the pod's own bytes).
 */
export async function apiGet(kc: K8s.KubeConfig, apiPath: string, timeoutMs = 10_000): Promise<RawResponse> {
  const https = await import('node:https');
  const http = await import('node:http');
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new KubeconfigError('the current context has no cluster server');
  const url = new URL(apiPath, server);
  const options: import('node:https').RequestOptions = { method: 'GET', headers: {} };
  await kc.applyToHTTPSOptions(options);
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(url, { ...options, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${apiPath} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
