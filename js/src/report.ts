// What this page allows, for diagnostics in the kernel (`chat.browser`, `rt_jupyter.check`):
// secure origin, WebRTC, media devices, how many microphones, the microphone permission.

export type Permission = "granted" | "denied" | "prompt" | "unknown";

export interface BrowserReport {
  secure_context: boolean;
  webrtc: boolean;
  media_devices: boolean;
  /** Audio inputs from enumerateDevices (null when the page cannot list devices). */
  microphones: number | null;
  microphone_permission: Permission;
  user_agent: string;
}

/** `promise`, or `fallback` after `ms` (a browser that never answers must not stall the report). */
function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  return new Promise<T>((resolve) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(fallback);
      },
    );
  });
}

async function countMicrophones(media: MediaDevices | undefined): Promise<number | null> {
  if (!media?.enumerateDevices) return null;
  const devices = await within(media.enumerateDevices().then((d) => d as MediaDeviceInfo[] | null), 2000, null);
  return devices ? devices.filter((d) => d.kind === "audioinput").length : null;
}

async function microphonePermission(permissions: Permissions | undefined): Promise<Permission> {
  if (!permissions?.query) return "unknown";
  const status = await within(
    permissions.query({ name: "microphone" as PermissionName }).then((s) => s as PermissionStatus | null),
    2000,
    null,
  );
  const state = status?.state;
  return state === "granted" || state === "denied" || state === "prompt" ? state : "unknown";
}

/** Where the report looks (the page's globals; injectable for tests). */
export interface ReportScope {
  navigator?: Navigator;
  isSecureContext?: boolean;
  RTCPeerConnection?: unknown;
}

/** The report (never throws). */
export async function browserReport(scope: ReportScope = globalThis as ReportScope): Promise<BrowserReport> {
  const nav = scope.navigator;
  const media = nav?.mediaDevices;
  const [microphones, permission] = await Promise.all([
    countMicrophones(media).catch(() => null),
    microphonePermission(nav?.permissions).catch((): Permission => "unknown"),
  ]);
  return {
    secure_context: Boolean(scope.isSecureContext),
    webrtc: typeof scope.RTCPeerConnection !== "undefined",
    media_devices: Boolean(media),
    microphones,
    microphone_permission: permission,
    user_agent: nav?.userAgent ?? "",
  };
}
