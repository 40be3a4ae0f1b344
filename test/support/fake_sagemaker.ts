/**
 * Test support: a SageMaker managed MLflow front. It checks what the
 * `sagemaker-mlflow` plugin sends ([SM] aws/sagemaker-mlflow `auth.py:92-140`,
 * `auth_provider.py:49-60`, `mlflow_sagemaker_request_header_provider.py:45-56`,
 * managed-mlflow.md §2.1-2.2): a SigV4 signature for service
 * `sagemaker-mlflow` (tracking servers) or `sagemaker` (MLflow apps) in the
 * ARN's region, recomputed with the official signer (`sigv4_check.ts`), an
 * `X-Amz-Content-SHA256` matching the body, and the ARN routing header. Behind
 * it is the in-memory MLflow server configured like a SageMaker tracking
 * server: runs get `s3://<bucket>/<prefix>/<exp_id>/<run_id>/artifacts`
 * artifact URIs ([SM] `test/unit/test_s3_presigned_artifact_repo.py:27`).
 *
 * Refusals use the AWS error codes and statuses of the common errors list
 * (docs.aws.amazon.com/sagemaker/latest/APIReference/CommonErrors.html:
 * ExpiredTokenException 403, IncompleteSignature 403, MissingAuthenticationToken
 * 403, UnrecognizedClientException 403); the layout (code in an
 * `x-amzn-ErrorType` header, `{"message": …}` JSON body) is the AWS JSON
 * protocols' and is guessed for this front, for which no exchange is recorded.
 *
 * @module
 */

import { createFaultProxy, type FaultProxy } from "./fault_proxy.ts";
import { createMlflowServer, type MlflowTestServer } from "./mlflow_server.ts";
import { checkSigV4, type FakeAwsCredential, type SigV4Failure } from "./sigv4_check.ts";

/** Options of {@link createFakeSageMaker}. */
export interface FakeSageMakerOptions {
  /** The tracking server's (or app's) ARN. */
  arn: string;
  /** Key pairs the front accepts. */
  credentials: FakeAwsCredential[];
  /** The server's artifact store, e.g. `s3://bucket/mlflow`. */
  artifactRoot: string;
}

/** The front returned by {@link createFakeSageMaker}. */
export interface FakeSageMaker extends FaultProxy {
  /** The MLflow server behind the front. */
  readonly mlflow: MlflowTestServer;
  /** Every refusal, by AWS error code, in order (cleared by `reset`). */
  readonly refusals: string[];
  /** Changes the front's clock (ms ahead of the real one). */
  setClockOffset(ms: number): void;
}

const FAILURES: Record<SigV4Failure["kind"], [string, string]> = {
  missing: ["MissingAuthenticationTokenException", "Missing Authentication Token"],
  malformed: ["IncompleteSignatureException", "The request signature does not conform to AWS standards."],
  // The wording AWS JSON services use for a request signed more than 15 minutes off (guessed for this front).
  skewed: ["InvalidSignatureException", "Signature expired: the request time is more than 15 minutes from the current time."],
  unknownKey: ["UnrecognizedClientException", "The security token included in the request is invalid."],
  expiredToken: ["ExpiredTokenException", "The security token included in the request is expired"],
  badToken: ["UnrecognizedClientException", "The security token included in the request is invalid."],
  wrongRegion: ["InvalidSignatureException", "Credential should be scoped to a valid region."],
  missingContentSha: ["IncompleteSignatureException", "X-Amz-Content-SHA256 is missing."],
  contentShaMismatch: ["InvalidSignatureException", "The provided X-Amz-Content-SHA256 does not match the body."],
  badSignature: [
    "InvalidSignatureException",
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
  ],
};

/**
 * Creates the front and the MLflow server behind it. Faults injected on the
 * front are answered before the signature check, as a throttling front does.
 *
 * @param options ARN, accepted keys and artifact root.
 * @returns The front: serve `handler` with `serve()`, point `SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT` at it.
 * @example An unsigned request is refused
 * ```ts
 * import { createFakeSageMaker } from "./fake_sagemaker.ts";
 * const front = createFakeSageMaker({
 *   arn: "arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/t", credentials: [], artifactRoot: "s3://b/m",
 * });
 * const res = await front.handler(new Request("http://sm.test/api/2.0/mlflow/experiments/get?experiment_id=0"));
 * console.log(res.status, res.headers.get("x-amzn-errortype"));
 * ```
 */
export function createFakeSageMaker(options: FakeSageMakerOptions): FakeSageMaker {
  const [, , , region = "", , resource = ""] = options.arn.split(":");
  const app = resource.startsWith("mlflow-app/");
  const service = app ? "sagemaker" : "sagemaker-mlflow";
  const header = app ? "x-sm-mlflow-app-arn" : "x-mlflow-sm-tracking-server-arn";
  const mlflow = createMlflowServer({ defaultArtifactRoot: options.artifactRoot });
  const refusals: string[] = [];
  let clockOffsetMs = 0;
  const refuse = (code: string, message: string, status = 403): Response => {
    refusals.push(code);
    return new Response(JSON.stringify({ message }), {
      status,
      headers: { "content-type": "application/json", "x-amzn-errortype": code, date: new Date(Date.now() + clockOffsetMs).toUTCString() },
    });
  };
  const front = async (request: Request): Promise<Response> => {
    const body = request.method === "GET" || request.method === "HEAD" ? new Uint8Array() : new Uint8Array(await request.arrayBuffer());
    const failure = await checkSigV4(request, body, { credentials: options.credentials, region, service, clockOffsetMs });
    if (failure !== undefined) {
      const [code, message] = FAILURES[failure.kind];
      return refuse(code, message);
    }
    // The plugin always sends the routing header; without it the front cannot tell which server is meant (guessed status).
    if (request.headers.get(header) !== options.arn) return refuse("ValidationException", `${header} must name ${options.arn}`, 400);
    const init: RequestInit = { method: request.method, headers: request.headers };
    if (body.length > 0) init.body = body;
    return await mlflow.handler(new Request(request.url, init));
  };
  const proxy = createFaultProxy(front);
  return {
    ...proxy,
    mlflow,
    refusals,
    reset() {
      proxy.reset();
      refusals.length = 0;
    },
    setClockOffset(ms: number) {
      clockOffsetMs = ms;
    },
  };
}
