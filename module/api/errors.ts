// Every refusal the API gives: an HTTP status, a code to branch on, a sentence a person can act on, and the
// field at fault. Engine errors are mapped by their `code`; anything unknown becomes a generic 500 (the
// detail goes to the log, never to the client).

export interface ErrorBody {
  error: { code: string; message: string; field: string | null; items?: unknown[] };
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
    /** Extra response headers (e.g. Allow on 405). */
    readonly headers: Record<string, string> = {},
    /** For a refused batch: every bad item, by position. */
    readonly items: unknown[] = [],
  ) {
    super(message);
  }

  body(): ErrorBody {
    return { error: { code: this.code, message: this.message, field: this.field, ...(this.items.length ? { items: this.items } : {}) } };
  }
}

/** Engine and domain codes → HTTP status and the field they concern when the error does not name one. */
const ENGINE_CODES: Record<string, { status: number; field?: string }> = {
  bad_address: { status: 400, field: 'address' },
  bad_expiry: { status: 400, field: 'expiry' },
  bad_duration: { status: 400, field: 'expiry' },
  bad_label: { status: 400, field: 'label' },
  bad_reason: { status: 400, field: 'reason' },
  not_found: { status: 404 },
  conflict: { status: 409 },
  kernel_unsupported: { status: 503 },
  kernel_failed: { status: 503 },
  capacity: { status: 409 },
  bad_batch: { status: 400, field: 'devices' },
  // 507 Insufficient Storage: the data partition is full (the message says what still works and what to do)
  storage_full: { status: 507 },
  store_full: { status: 507 },
  bad_qnap_id: { status: 400, field: 'qnapId' },
  // the portal link (module/cloud)
  bad_code: { status: 400, field: 'code' },
  bad_portal_url: { status: 400, field: 'portalUrl' },
  no_portal_url: { status: 400, field: 'portalUrl' },
  already_bound: { status: 409 },
  not_bound: { status: 409 },
  code_used: { status: 409, field: 'code' },
  code_expired: { status: 409, field: 'code' },
  portal_unreachable: { status: 503 },
  bad_portal_reply: { status: 502 },
};

/** An ApiError for whatever an engine call threw, and whether it is unexpected (to be logged as an error). */
export function fromEngineError(err: unknown): { error: ApiError; unexpected: boolean } {
  if (err instanceof ApiError) return { error: err, unexpected: false };
  const e = err as { code?: unknown; message?: unknown; field?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : null;
  const known = code ? ENGINE_CODES[code] : undefined;
  if (code && known) {
    const message = typeof e?.message === 'string' && e.message ? e.message : code;
    const field = typeof e?.field === 'string' ? e.field : known.field ?? null;
    const items = Array.isArray((e as { items?: unknown })?.items) ? (e as { items: unknown[] }).items : [];
    return { error: new ApiError(known.status, code, message, field, {}, items), unexpected: false };
  }
  return {
    error: new ApiError(500, 'internal', 'the service failed to do this; details are in the service log (sipa doctor may help)'),
    unexpected: true,
  };
}
