// One authenticated request to the API server with client-node's KubeConfig (TLS, tokens, exec
// plugins) and its fetch-based HTTP library. The generated API classes are not used: their
// model serializer pulls every Kubernetes type into memory (≈ 50 MB RSS) for three endpoints.

import {
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  RequestContext,
  type KubeConfig,
} from "@kubernetes/client-node";

export interface ApiResponse {
  readonly status: number;
  readonly body: string;
}

export interface ApiRequest {
  readonly method: "GET" | "POST";
  /** Path and query below the cluster's server URL, e.g. "/api/v1/services?limit=500". */
  readonly path: string;
  /** Sent as JSON. */
  readonly body?: unknown;
  readonly signal?: AbortSignal;
}

export type ApiClient = (req: ApiRequest) => Promise<ApiResponse>;

export function apiClient(kc: KubeConfig): ApiClient {
  const http = new IsomorphicFetchHttpLibrary();
  return async (req) => {
    const cluster = kc.getCurrentCluster();
    if (cluster === null) throw new Error("no current cluster in the kubeconfig");
    const ctx = new RequestContext(cluster.server + req.path, HttpMethod[req.method]);
    if (req.body !== undefined) {
      ctx.setHeaderParam("Content-Type", "application/json");
      ctx.setBody(JSON.stringify(req.body));
    }
    await kc.applySecurityAuthentication(ctx);
    if (req.signal !== undefined) ctx.setSignal(req.signal);
    const response = await http.send(ctx).toPromise();
    return { status: response.httpStatusCode, body: await response.body.text() };
  };
}

/** The message of an API server Status body, or the start of the body when it is not one. */
export function statusMessage(body: string): string {
  try {
    const status = JSON.parse(body) as { message?: string };
    return status.message ?? body.slice(0, 200);
  } catch {
    return body.slice(0, 200);
  }
}
