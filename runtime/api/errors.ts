/**
 * One JSON error shape for the whole API, `{ error: { code, message, field? } }`, produced by
 * `handleApiError` from ApiError (an HTTPException with a code), field validation errors and
 * anything else (500, without internals).
 */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { FieldError } from "../users/validate.ts";
import { DuplicateEmailError } from "../users/user_store.ts";

/** One of several problems, each with the field it concerns (a refused configuration). */
export interface Problem {
  field?: string;
  message: string;
}

export interface ErrorBody {
  error: { code: string; message: string; field?: string; problems?: Problem[] };
}

/** An API refusal: HTTP status, a stable machine code and a message for people. */
export class ApiError extends HTTPException {
  readonly code: string;
  readonly field: string | undefined;
  readonly problems: Problem[] | undefined;
  constructor(
    status: ContentfulStatusCode,
    code: string,
    message: string,
    field?: string,
    problems?: Problem[],
  ) {
    super(status, { message });
    this.name = "ApiError";
    this.code = code;
    this.field = field;
    this.problems = problems;
  }
}

const CODES: Record<number, string> = {
  400: "bad_request",
  401: "unauthenticated",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  413: "body_too_large",
  429: "rate_limited",
};

export function errorBody(
  code: string,
  message: string,
  field?: string,
  problems?: Problem[],
): ErrorBody {
  return {
    error: {
      code,
      message,
      ...(field === undefined ? {} : { field }),
      ...(problems === undefined ? {} : { problems }),
    },
  };
}

export function handleApiError(err: Error, c: Context): Response {
  if (err instanceof ApiError) {
    return c.json(errorBody(err.code, err.message, err.field, err.problems), err.status);
  }
  if (err instanceof FieldError) return c.json(errorBody("invalid", err.message, err.field), 400);
  if (err instanceof DuplicateEmailError) {
    return c.json(errorBody("conflict", err.message, err.field), 409);
  }
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    return c.json(errorBody(CODES[status] ?? "error", err.message || "Request refused"), status);
  }
  console.error("API internal error:", err);
  return c.json(errorBody("internal", "Internal error; see the daemon log"), 500);
}

/** Reads the body as a JSON object, or throws a 400 saying what was wrong with it. */
export async function readJsonObject(c: Context): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new ApiError(400, "invalid_json", "The request body must be JSON (a JSON object)");
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new ApiError(400, "invalid_json", "The request body must be a JSON object");
  }
  return body as Record<string, unknown>;
}

/** Refuses a body over `maxBytes` with 413 in the one JSON error shape. */
export function jsonBodyLimit(maxBytes: number): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: (c) =>
      c.json(errorBody("body_too_large", `Request body is larger than ${maxBytes} bytes`), 413),
  });
}
