/**
 * SageMaker managed MLflow: a tracking URI that is the server's ARN
 * (`arn:aws:sagemaker:<region>:<account>:mlflow-tracking-server/<name>` or
 * `…:mlflow-app/<id>`), reached at the endpoint the ARN names, with every
 * REST request signed with AWS SigV4 and routed by an ARN header, as the
 * `sagemaker-mlflow` plugin does it ([SM] `mlflow_sagemaker_helpers.py:125-213`,
 * `auth.py:92-140`, `mlflow_sagemaker_request_header_provider.py:45-56`).
 * The runs' artifacts are `s3://` URIs, written by the `s3` artifact store.
 *
 * @module
 */
import { cloudCode } from "#clouds";
import type { AwsOptions } from "./aws/options.ts";
import type { AwsCredentials } from "./aws/sigv4.ts";
import { MlflowError, MlflowValidationError } from "./errors.ts";
import type { RequestSigner, SignableRequest } from "./http.ts";
import { lazyModule } from "./lazy_module.ts";

export type { RequestSigner, SignableRequest } from "./http.ts";

/** A SageMaker MLflow server named by its ARN. */
export interface SageMakerTarget {
  /** The ARN as given. */
  readonly arn: string;
  /** The ARN's region, which requests are signed for. */
  readonly region: string;
  /** `mlflow-tracking-server` or `mlflow-app`. */
  readonly kind: "mlflow-tracking-server" | "mlflow-app";
  /** SigV4 service: `sagemaker-mlflow` for tracking servers, `sagemaker` for MLflow apps ([SM] `auth_provider.py:49-60`). */
  readonly service: string;
  /** The routing header's name. */
  readonly header: string;
  /** `https://<region>.experiments.sagemaker.aws` or `https://mlflow.sagemaker.<region>.app.aws`. */
  readonly endpoint: string;
}

/**
 * Whether a tracking URI is an ARN (and so is read by {@link parseSageMakerArn}).
 *
 * @param uri The tracking URI.
 * @returns `true` for `arn:…`.
 * @example
 * ```ts
 * import { isArn } from "./sagemaker.ts";
 * if (!isArn("arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/s") || isArn("http://h")) throw new Error();
 * ```
 */
export function isArn(uri: string): boolean {
  return /^arn:/i.test(uri.trim());
}

/**
 * Reads a SageMaker MLflow ARN.
 *
 * @param arn The ARN.
 * @param field The option or variable it came from, for errors.
 * @returns The server's region, signing service, routing header and endpoint.
 * @throws {MlflowValidationError} When the ARN is not a SageMaker MLflow tracking server or app ARN.
 * @example A tracking server in eu-west-1
 * ```ts
 * import { parseSageMakerArn } from "./sagemaker.ts";
 * const target = parseSageMakerArn("arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/team", "trackingUri");
 * if (target.endpoint !== "https://eu-west-1.experiments.sagemaker.aws" || target.service !== "sagemaker-mlflow") throw new Error();
 * ```
 */
export function parseSageMakerArn(arn: string, field: string): SageMakerTarget {
  const shape = "arn:aws:sagemaker:<region>:<account>:mlflow-tracking-server/<name> or …:mlflow-app/<id>";
  const parts = arn.trim().split(":");
  const [, partition = "", service = "", region = "", account = "", resource = ""] = parts;
  const slash = resource.indexOf("/");
  const kind = resource.slice(0, slash);
  const name = resource.slice(slash + 1);
  if (parts.length !== 6 || service !== "sagemaker" || slash <= 0 || name === "" || !/^[a-z0-9-]+$/.test(region) || !/^\d{12}$/.test(account)) {
    throw new MlflowValidationError(field, `'${arn}' is not a SageMaker MLflow ARN; use ${shape}`);
  }
  if (kind !== "mlflow-tracking-server" && kind !== "mlflow-app") {
    throw new MlflowValidationError(field, `'${arn}' names a '${kind}', not an MLflow server; use ${shape}`);
  }
  // The plugin knows endpoints for the aws and aws-us-gov partitions only ([SM] mlflow_sagemaker_helpers.py).
  if (partition !== "aws" && partition !== "aws-us-gov") {
    throw new MlflowValidationError(
      field,
      `'${arn}' is in the '${partition}' partition, whose SageMaker MLflow endpoint is not known; set SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT to it`,
    );
  }
  const app = kind === "mlflow-app";
  return {
    arn: arn.trim(),
    region,
    kind,
    service: app ? "sagemaker" : "sagemaker-mlflow",
    header: app ? "x-sm-mlflow-app-arn" : "x-mlflow-sm-tracking-server-arn",
    endpoint: app ? `https://mlflow.sagemaker.${region}.app.aws` : `https://${region}.experiments.sagemaker.aws`,
  };
}

/**
 * The server's base URL: `SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT` when set, else the ARN's endpoint.
 *
 * @param target The parsed ARN.
 * @param env The connection's environment.
 * @returns The base URL, without a trailing slash.
 * @throws {MlflowValidationError} When `SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT` is not an http(s) URL.
 * @example An endpoint override
 * ```ts
 * import { parseSageMakerArn, sageMakerBaseUrl } from "./sagemaker.ts";
 * const target = parseSageMakerArn("arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/app-1", "trackingUri");
 * if (sageMakerBaseUrl(target, { SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT: "http://127.0.0.1:8080/" }) !== "http://127.0.0.1:8080") throw new Error();
 * ```
 */
export function sageMakerBaseUrl(target: SageMakerTarget, env: Record<string, unknown>): string {
  const custom = env.SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT;
  if (custom === undefined || custom === null || custom === "") return target.endpoint;
  let url: URL | undefined;
  try {
    url = typeof custom === "string" ? new URL(custom.trim()) : undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined || !/^https?:$/.test(url.protocol) || url.username || url.password || url.search) {
    throw new MlflowValidationError("SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT", "must be an http(s) URL without credentials or query, e.g. https://us-east-1.experiments.sagemaker.aws");
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

// SigV4 and the credential reader, loaded with the first request signed.
const sigV4 = lazyModule("AWS request signing (SigV4)", cloudCode.sigV4);
const awsCredentials = lazyModule("the AWS credential reader", cloudCode.awsCredentials);

async function bodyHash(body: NonNullable<RequestInit["body"]> | undefined, sha256Hex: (data: string | Uint8Array | undefined) => Promise<string>): Promise<string> {
  if (body === undefined || typeof body === "string" || body instanceof Uint8Array) return await sha256Hex(body);
  if (typeof Blob !== "undefined" && body instanceof Blob) return await sha256Hex(new Uint8Array(await body.arrayBuffer()));
  throw new MlflowError("a request to SageMaker MLflow has a streamed body, which SigV4 cannot sign", { errorCode: "INTERNAL_ERROR" });
}

/**
 * What to check when SageMaker refuses a signed request, from the AWS error
 * type (`x-amzn-ErrorType` or the body's `__type`; codes from the AWS common
 * errors, doc: docs.aws.amazon.com/sagemaker/latest/APIReference/CommonErrors.html).
 *
 * @param status 401 or 403.
 * @param text The answer's body.
 * @param headers The answer's headers.
 * @returns The hint, naming the variable to set.
 * @example An expired session token
 * ```ts
 * import { explainSageMakerRefusal } from "./sagemaker.ts";
 * const hint = explainSageMakerRefusal(403, "{}", new Headers({ "x-amzn-errortype": "ExpiredTokenException" }));
 * if (!hint.includes("AWS_SESSION_TOKEN")) throw new Error();
 * ```
 */
export function explainSageMakerRefusal(status: number, text: string, headers: Headers): string {
  let type = headers.get("x-amzn-errortype") ?? "";
  if (type === "") {
    try {
      type = String((JSON.parse(text) as { __type?: unknown }).__type ?? "");
    } catch {
      type = "";
    }
  }
  type = type.replace(/[:#].*$/, "");
  if (type === "InvalidSignatureException" || type === "SignatureDoesNotMatch" || /signature we calculated does not match/i.test(text)) {
    return "SageMaker refused the signature: the secret key does not belong to the access key id; check AWS_SECRET_ACCESS_KEY (or aws.secretAccessKey).";
  }
  if (type === "ExpiredTokenException" || type === "ExpiredToken" || /token .*expired/i.test(text)) {
    return "The temporary AWS credentials have expired: renew them and set AWS_SESSION_TOKEN (with the key pair issued with it).";
  }
  if (type === "UnrecognizedClientException" || type === "InvalidClientTokenId" || /security token included in the request is invalid/i.test(text)) {
    return "AWS does not know these credentials: check AWS_ACCESS_KEY_ID, and AWS_SESSION_TOKEN for temporary credentials.";
  }
  if (type === "AccessDeniedException") {
    return "The credentials of AWS_ACCESS_KEY_ID lack sagemaker-mlflow permissions on this tracking server; grant them in IAM.";
  }
  return `SageMaker answered ${status}: check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, and the tracking server ARN.`;
}

/**
 * Signs every request to a SageMaker MLflow server with SigV4 and adds the
 * ARN routing header and `X-Amz-Content-SHA256`.
 *
 * @param target The parsed ARN.
 * @param credentials The AWS credentials, or a function giving them (read once, on the first request).
 * @returns The signer for the HTTP client.
 * @example Sign a request
 * ```ts
 * import { parseSageMakerArn, sageMakerSigner } from "./sagemaker.ts";
 * const target = parseSageMakerArn("arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/s", "trackingUri");
 * const signer = sageMakerSigner(target, { accessKeyId: "AKID", secretAccessKey: "s" });
 * const headers = await signer.sign({ method: "GET", url: `${target.endpoint}/api/2.0/mlflow/experiments/get?experiment_id=0`, headers: {}, body: undefined });
 * if (headers["x-mlflow-sm-tracking-server-arn"] !== target.arn || !headers.authorization) throw new Error();
 * ```
 */
export function sageMakerSigner(
  target: SageMakerTarget,
  credentials: AwsCredentials | (() => Promise<AwsCredentials>),
): RequestSigner {
  let loaded: Promise<AwsCredentials> | undefined;
  // The server's clock minus this machine's, learnt from a refusal for an expired signature.
  let skewMs = 0;
  return {
    async sign(request: SignableRequest): Promise<Record<string, string>> {
      loaded ??= typeof credentials === "function" ? credentials() : Promise.resolve(credentials);
      const [signing, { sha256Hex, signSigV4 }] = await Promise.all([loaded, sigV4()]);
      const headers = { ...request.headers, [target.header]: target.arn };
      const signed = await signSigV4(
        { method: request.method, url: request.url, headers, payloadHash: await bodyHash(request.body, sha256Hex) },
        { credentials: signing, region: target.region, service: target.service, date: new Date(Date.now() + skewMs) },
      );
      return { [target.header]: target.arn, ...signed };
    },
    explainRefusal: explainSageMakerRefusal,
    // AWS refuses a signature more than 15 minutes off its clock ("Signature expired", RequestTimeTooSkewed);
    // the answer's Date gives the offset, as botocore corrects it. A second refusal at the same offset is final.
    correctClock(status: number, text: string, headers: Headers): boolean {
      if (status !== 403 || !/signature expired|RequestTimeTooSkewed|RequestExpired/i.test(`${headers.get("x-amzn-errortype") ?? ""} ${text}`)) return false;
      const serverTime = Date.parse(headers.get("date") ?? "");
      if (Number.isNaN(serverTime)) return false;
      const offset = serverTime - Date.now();
      if (Math.abs(offset - skewMs) < 60_000) return false;
      skewMs = offset;
      return true;
    },
  };
}

/**
 * Everything a REST store needs to talk to a SageMaker MLflow server: base
 * URL and signer. Credentials are read when the first request is signed
 * (a shared credentials file is read asynchronously), so a missing one
 * fails that request before anything is sent.
 *
 * @param arn The tracking URI.
 * @param field Where it came from, for errors.
 * @param env The connection's environment.
 * @param aws The `aws` option.
 * @returns The base URL, the signer, and the ARN's region (the default region of the runs' S3 buckets).
 * @throws {MlflowValidationError} On a malformed ARN or endpoint, naming the variable.
 * @example A server reached through a custom endpoint
 * ```ts
 * import { sageMakerConnection } from "./sagemaker.ts";
 * const { baseUrl, region } = sageMakerConnection("arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/s", "trackingUri",
 *   { AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "s", SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT: "http://127.0.0.1:1" }, undefined);
 * if (baseUrl !== "http://127.0.0.1:1" || region !== "us-east-1") throw new Error();
 * ```
 */
export function sageMakerConnection(
  arn: string,
  field: string,
  env: Record<string, unknown>,
  aws: AwsOptions | undefined,
): { baseUrl: string; sign: RequestSigner; region: string } {
  const target = parseSageMakerArn(arn, field);
  const baseUrl = sageMakerBaseUrl(target, env);
  const sign = sageMakerSigner(target, async () =>
    await (await awsCredentials()).loadAwsCredentials(env, aws, `the SageMaker MLflow server ${target.arn}`));
  return { baseUrl, sign, region: target.region };
}
