// The console's HTTP API (services/basira/console/API.md): same origin, the session cookie, the
// CSRF token on every state-changing call, and RFC 9457 problems turned into one error type.

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  reasons: string[];
  field?: string;
  login_url?: string;
}

export class ProblemError extends Error {
  constructor(public problem: Problem) {
    super(problem.detail || problem.title);
  }
}

export interface Me {
  user: string;
  name: string;
  agency: string;
  roles: string[];
  clearance: number;
  csrf_token: string;
}

export interface Authorization {
  id: string;
  issued_by: string;
  scope_zones: string[];
  expires: string;
}

export interface CaseContext {
  purpose: string;
  case_id: string;
  authorization: Authorization | null;
}

let csrfToken = "";

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

async function problemOf(response: Response): Promise<ProblemError> {
  let body: Partial<Problem> = {};
  try {
    body = await response.json();
  } catch {
    body = {};
  }
  const problem: Problem = {
    type: body.type ?? "about:blank",
    title: body.title ?? response.statusText,
    status: response.status,
    detail: body.detail ?? response.statusText,
    reasons: body.reasons ?? [],
    field: body.field,
    login_url: body.login_url,
  };
  return new ProblemError(problem);
}

/** One call; JSON in and out, or a ProblemError. */
export async function call<T>(method: string, path: string, body?: unknown,
                              headers: Record<string, string> = {}): Promise<T> {
  const sent: Record<string, string> = { Accept: "application/json", ...headers };
  if (method !== "GET" && method !== "HEAD") sent["X-CSRF-Token"] = csrfToken;
  if (body !== undefined) sent["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers: sent,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await problemOf(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** A binary answer (evidence images) as an object URL, with the answer's headers. */
export async function callBlob(method: string, path: string, body?: unknown,
                               headers: Record<string, string> = {}): Promise<{ url: string; headers: Headers }> {
  const sent: Record<string, string> = { ...headers };
  if (method !== "GET") sent["X-CSRF-Token"] = csrfToken;
  if (body !== undefined) sent["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers: sent, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await problemOf(response);
  return { url: URL.createObjectURL(await response.blob()), headers: response.headers };
}

/** A multipart form (uploaded images), JSON answer or a ProblemError. */
export async function callForm<T>(path: string, form: FormData): Promise<T> {
  const response = await fetch(path, {
    method: "POST", credentials: "same-origin", body: form,
    headers: { Accept: "application/json", "X-CSRF-Token": csrfToken },
  });
  if (!response.ok) throw await problemOf(response);
  return (await response.json()) as T;
}

/** The case context as form fields (multipart calls). */
export function contextForm(form: FormData, context: CaseContext): FormData {
  form.set("purpose", context.purpose);
  form.set("case_id", context.case_id);
  if (context.authorization) form.set("authorization", JSON.stringify(context.authorization));
  return form;
}

/** The case context as JSON body field. */
export function contextBody(context: CaseContext): Record<string, unknown> {
  const out: Record<string, unknown> = { purpose: context.purpose, case_id: context.case_id };
  if (context.authorization) out.authorization = context.authorization;
  return out;
}

/** The case context as headers, for GET requests. */
export function contextHeaders(context: CaseContext): Record<string, string> {
  const out: Record<string, string> = { "X-Basira-Purpose": context.purpose, "X-Basira-Case": context.case_id };
  if (context.authorization) out["X-Basira-Authorization"] = JSON.stringify(context.authorization);
  return out;
}

export function signInUrl(locale: string): string {
  const back = window.location.pathname + window.location.search;
  return `/auth/login?return_to=${encodeURIComponent(back)}&ui_locales=${encodeURIComponent(locale)}`;
}
