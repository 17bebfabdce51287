// JSON calls from islands to our own API: same-origin cookies plus Django's CSRF header.
// The token comes from <meta name="csrf-token"> because the CSRF cookie is HttpOnly.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
  ) {
    super(message);
  }
}

export function csrfToken(root: Pick<Document, "querySelector">): string {
  const meta = root.querySelector<HTMLMetaElement>('meta[name="csrf-token"]');
  if (!meta?.content) throw new Error("The page has no csrf-token meta tag");
  return meta.content;
}

type Fetch = typeof fetch;

export async function sendJSON<T>(
  url: string,
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
  body: unknown,
  token: string,
  fetchImpl: Fetch = fetch,
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetchImpl(url, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (error) {
    // An error page from a proxy or Django's HTML 500 is still an HTTP error, not a parse error.
    if (response.ok) throw error;
  }
  if (!response.ok) {
    const problem = data as { error?: { code?: string; message?: string; details?: unknown }; detail?: unknown } | null;
    const error = problem?.error;
    // django-ninja's own errors (before our handlers) answer {"detail": "..."}.
    const fallback = typeof problem?.detail === "string" ? problem.detail : response.statusText;
    throw new ApiError(response.status, error?.code ?? `http_${response.status}`, error?.message ?? fallback, error?.details);
  }
  return data as T;
}
