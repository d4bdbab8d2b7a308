// The sidecar's HTTP to the API server: node's own http/https, with client-node's KubeConfig for
// everything about credentials (CA, client certificates, tokens, exec plugins, proxies). Neither
// client-node's generated API classes nor its undici transport is loaded (docs/adr/0014).

import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";

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
  return async (req) => {
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    const response = await openRequest(kc, { ...req, body });
    return { status: response.statusCode ?? 0, body: await readBody(response) };
  };
}

/**
 * Sends one request and resolves with the response once its headers arrived (the body is the
 * caller's to read). Credentials are applied per request: a rotated service-account token or an
 * exec plugin's renewed one is picked up, as client-node's own clients do.
 */
export async function openRequest(
  kc: KubeConfig,
  req: Omit<ApiRequest, "body"> & { readonly body?: string | undefined },
): Promise<IncomingMessage> {
  const { method, path, body, signal } = req;
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error("no current cluster in the kubeconfig");
  const url = new URL(cluster.server + path);
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const options: RequestOptions = { method, headers };
  if (signal !== undefined) options.signal = signal;
  // TLS material, the Authorization header and the agent (a proxy's where one is configured).
  await kc.applyToHTTPSOptions(options);
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, options, resolve);
    req.on("error", reject);
    req.end(body);
  });
}

/** The whole body as text; rejects when the connection ends early or the request is aborted. */
export async function readBody(response: IncomingMessage): Promise<string> {
  response.setEncoding("utf8");
  let text = "";
  for await (const chunk of response) text += chunk as string;
  return text;
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
