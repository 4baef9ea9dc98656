// Every kind of thing the agent reports, with its fixed journal MESSAGE_ID and default
// PRIORITY (syslog levels: 3 err, 4 warning, 5 notice, 6 info). The journal transport, the
// stderr fallback and the message catalog (packaging/typhoon-agent.catalog) all read this
// one table, so an id can never drift between them.

export const EVENTS = {
  applyStarted: { messageId: "9ed377f63a2e470687ea51030f5fd4e6", priority: 6, title: "apply started" },
  assetInstalled: { messageId: "00e7107d124b4d8c94b0884da6373b9b", priority: 6, title: "asset installed" },
  assetUnchanged: { messageId: "75058083978247da8831cf294b9c4f91", priority: 6, title: "asset unchanged" },
  assetRemoved: { messageId: "5773e31d5a944f6f96ce130353d7a735", priority: 6, title: "asset removed" },
  permissionRepaired: { messageId: "9b54ec9261614727a71cbac9de31416d", priority: 5, title: "permission repaired" },
  legacyMigrated: { messageId: "f683e83d24ed4d55843beef75e9c8a72", priority: 5, title: "legacy layout migrated" },
  applyFailed: { messageId: "d4e665a877504cb2bae23ba325e7516c", priority: 3, title: "apply failed" },
  rolledBack: { messageId: "f459108b445f4d3493d2201f698e3d4a", priority: 4, title: "rolled back" },
  kubeletStarted: { messageId: "62f2e15109bd4811829c893e0adeeef0", priority: 6, title: "kubelet started" },
  certificateExpiring: { messageId: "7590434b2655472386e7f4762092ab71", priority: 4, title: "certificate expiring" },
  applyDone: { messageId: "c2a128f4ec8f4e4696c4923d73a31a56", priority: 6, title: "apply done" },
} as const;

export type EventName = keyof typeof EVENTS;

/** syslog priority levels used by the agent. */
export type Priority = 3 | 4 | 5 | 6 | 7;

/** The structured fields an entry may carry, besides MESSAGE, MESSAGE_ID, PRIORITY. */
export type TyphoonField =
  | "TYPHOON_ASSET"
  | "TYPHOON_PATH"
  | "TYPHOON_OWNER"
  | "TYPHOON_MODE"
  | "TYPHOON_ACTION"
  | "TYPHOON_BUNDLE_SHA256"
  | "TYPHOON_DURATION_MS"
  | "TYPHOON_EXIT_CODE"
  | "TYPHOON_CERT"
  | "TYPHOON_NOT_AFTER"
  | "TYPHOON_DAYS_LEFT"
  | "TYPHOON_ERROR";

export type EventFields = Partial<Record<TyphoonField, string | number>>;

/**
 * Where events go. Commands receive one and never know whether it is the journal, the
 * stderr fallback or a test recorder. Implementations never throw and never block.
 */
export interface Reporter {
  emit(event: EventName, message: string, fields?: EventFields, priority?: Priority): void;
}
