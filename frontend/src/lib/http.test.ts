import { describe, expect, it } from "vitest";
import { ApiError, csrfToken, sendJSON } from "./http";

function recordingFetch(status: number, body: unknown) {
  const calls: { url: string; init: RequestInit }[] = [];
  const impl = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return new Response(body === undefined ? "" : JSON.stringify(body), { status });
  }) as unknown as typeof fetch;
  return { calls, impl };
}

describe("csrfToken", () => {
  it("reads the meta tag", () => {
    const root = { querySelector: () => ({ content: "tok123" }) } as unknown as Document;
    expect(csrfToken(root)).toBe("tok123");
  });

  it("fails loudly when the tag is missing", () => {
    const root = { querySelector: () => null } as unknown as Document;
    expect(() => csrfToken(root)).toThrow(/csrf-token/);
  });
});

describe("sendJSON", () => {
  it("sends the CSRF header and JSON body on writes", async () => {
    const { calls, impl } = recordingFetch(200, { ok: true });
    const result = await sendJSON<{ ok: boolean }>("/api/v1/x", "PUT", { a: 1 }, "tok", impl);
    expect(result).toEqual({ ok: true });
    const headers = calls[0].init.headers as Record<string, string>;
    expect(headers["X-CSRFToken"]).toBe("tok");
    expect(headers["Content-Type"]).toBe("application/json");
    expect(calls[0].init.credentials).toBe("same-origin");
    expect(calls[0].init.body).toBe('{"a":1}');
  });

  it("leaves the token off reads", async () => {
    const { calls, impl } = recordingFetch(200, []);
    await sendJSON("/api/v1/x", "GET", undefined, "tok", impl);
    expect((calls[0].init.headers as Record<string, string>)["X-CSRFToken"]).toBeUndefined();
  });

  it("turns the API error shape into an ApiError", async () => {
    const { impl } = recordingFetch(409, { error: { code: "conflict", message: "Edited elsewhere", details: { etag: "2" } } });
    const failure = sendJSON("/api/v1/x", "PUT", {}, "tok", impl);
    await expect(failure).rejects.toBeInstanceOf(ApiError);
    await expect(failure).rejects.toMatchObject({ status: 409, code: "conflict", message: "Edited elsewhere" });
  });

  it("reports an HTML error page as an ApiError with the HTTP status", async () => {
    const impl = (async () => new Response("<h1>Bad gateway</h1>", { status: 502, statusText: "Bad Gateway" })) as unknown as typeof fetch;
    await expect(sendJSON("/api/v1/x", "GET", undefined, "", impl)).rejects.toMatchObject({ status: 502, code: "http_502" });
  });
});
