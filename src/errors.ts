// The single error catalogue. Every error cosmolet raises on purpose is a CosmoletError with a
// stable `code`, so callers, logs and metrics can branch on the code instead of the message. A code
// belongs to one class (test/unit/errors.test.ts). The lab's errors are the lab's (packages/lab/src/errors.ts).

export const ErrorCodes = {
  /** Bad configuration: a flag, a config key or the config file. Exit status 2. */
  CONFIG_INVALID: 'COSMOLET_CONFIG_INVALID',
  /** Unusable command-line input (unknown flag, missing argument). Exit status 2. */
  USAGE: 'COSMOLET_USAGE',
  /** A snapshot file for `render` that cannot be read or parsed. Exit status 2. */
  SNAPSHOT_INVALID: 'COSMOLET_SNAPSHOT_INVALID',
  /** No way to reach the Kubernetes API could be found (no kubeconfig, not in a cluster). */
  KUBECONFIG_MISSING: 'COSMOLET_KUBECONFIG_MISSING',
  /** The Kubernetes API answered with an error status. */
  KUBE_API: 'COSMOLET_KUBE_API',
  /** The Kubernetes API could not be reached (connection refused, reset, TLS). */
  KUBE_UNREACHABLE: 'COSMOLET_KUBE_UNREACHABLE',
  /** No credential for the Kubernetes API could be had (token file unreadable, exec plugin failed). */
  KUBE_AUTH: 'COSMOLET_KUBE_AUTH',
  /** A resourceVersion is too old (HTTP 410 or an in-stream ERROR 410): relist. */
  KUBE_GONE: 'COSMOLET_KUBE_GONE',
  /** The Kubernetes API sent more than a reader accepts (a huge line, a runaway list or body). */
  KUBE_OVERSIZE: 'COSMOLET_KUBE_OVERSIZE',
  /** A malformed label or field selector. */
  SELECTOR_INVALID: 'COSMOLET_SELECTOR_INVALID',
  /** An external command (ip, vtysh) did not finish within its timeout and was killed. */
  COMMAND_TIMEOUT: 'COSMOLET_COMMAND_TIMEOUT',
  /** An external command exited with a failure status. */
  COMMAND_FAILED: 'COSMOLET_COMMAND_FAILED',
  /** Output of ip or vtysh that could not be understood. */
  ROUTER_PARSE: 'COSMOLET_ROUTER_PARSE',
  /** A prefix that is not canonical reached the gate in front of a command line. */
  PREFIX_INVALID: 'COSMOLET_PREFIX_INVALID',
  /** A batch of route changes did not take effect (read back after the apply disagrees). */
  ROUTER_APPLY: 'COSMOLET_ROUTER_APPLY',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** An error with a stable code to branch on; `C`: the codes of one catalogue (the lab has its own). */
export class CodedError<C extends string> extends Error {
  readonly code: C;
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export class CosmoletError extends CodedError<ErrorCode> {}

/** A configuration error: `key` names the offending key (dotted path) or flag. */
export class ConfigError extends CosmoletError {
  readonly key: string;
  constructor(key: string, message: string) {
    super(ErrorCodes.CONFIG_INVALID, message);
    this.key = key;
  }
}

export class UsageError extends CosmoletError {
  constructor(message: string) {
    super(ErrorCodes.USAGE, message);
  }
}

export class SnapshotError extends CosmoletError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.SNAPSHOT_INVALID, message, options);
  }
}

/** An HTTP error from the Kubernetes API, with the status and, when sent, Retry-After in seconds. */
export class KubeApiError extends CosmoletError {
  readonly status: number;
  readonly retryAfterSeconds: number | undefined;
  constructor(status: number, message: string, retryAfterSeconds?: number) {
    super(status === 410 ? ErrorCodes.KUBE_GONE : ErrorCodes.KUBE_API, message);
    this.status = status;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A malformed label or field selector: the API answers 400 BadRequest for it; the config refuses it. */
export class SelectorError extends CosmoletError {
  constructor(message: string) {
    super(ErrorCodes.SELECTOR_INVALID, message);
  }
}

/** A watch reported its resourceVersion too old (an in-stream ERROR 410): relist. A 410 like any other. */
export class GoneError extends KubeApiError {
  constructor(message: string) {
    super(410, message);
  }
}

/** The server sent more than a reflector accepts (a huge line, a runaway list): back off, then relist. */
export class OversizeError extends CosmoletError {
  constructor(message: string) {
    super(ErrorCodes.KUBE_OVERSIZE, message);
  }
}

export class CommandError extends CosmoletError {
  readonly command: string;
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(
    code: typeof ErrorCodes.COMMAND_TIMEOUT | typeof ErrorCodes.COMMAND_FAILED,
    command: string,
    message: string,
    exitCode: number | null,
    stderr: string,
  ) {
    super(code, message);
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** Output of ip or vtysh that could not be understood. */
export class RouterParseError extends CosmoletError {
  constructor(message: string) {
    super(ErrorCodes.ROUTER_PARSE, message);
  }
}

/** A prefix that is not canonical reached the gate in front of a command line. */
export class InvalidPrefixError extends CosmoletError {
  readonly prefix: string;
  constructor(prefix: string) {
    super(ErrorCodes.PREFIX_INVALID, `refusing prefix ${JSON.stringify(prefix)}: not a canonical IP prefix`);
    this.prefix = prefix;
  }
}

export class RouterApplyError extends CosmoletError {
  /** Prefixes whose state after the apply is not what was asked (at most the first 100). */
  readonly prefixes: string[];
  constructor(message: string, prefixes: string[], options?: { cause?: unknown }) {
    super(ErrorCodes.ROUTER_APPLY, message, options);
    this.prefixes = prefixes.slice(0, 100);
  }
}

/** Exit status for errors the user must fix in their input (config, flags, snapshot). */
export const EXIT_USAGE = 2;

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
