// What every page shares: a refusal says why (the policy's reasons), and a loader for one call.
import { useEffect, useState } from "react";
import { ProblemError } from "../api";
import { useI18n } from "../i18n";

export function Refusal({ error }: { error: unknown }) {
  const { t } = useI18n();
  if (!error) return null;
  const problem = error instanceof ProblemError ? error.problem : null;
  return (
    <div role="alert" className="refusal" data-testid="refusal">
      <strong>{problem ? `${t("refused")} (${problem.status}): ${problem.title}` : t("refused")}</strong>
      <p>{problem ? problem.detail : String(error)}</p>
      {problem && problem.reasons.length > 0 && (
        <ul>{problem.reasons.map((r) => <li key={r}>{r}</li>)}</ul>
      )}
    </div>
  );
}

export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []): { data?: T; error?: unknown; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    load().then((d) => { if (live) { setData(d); setError(undefined); } })
      .catch((e) => { if (live) setError(e); });
    return () => { live = false; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { data, error, reload: () => setTick((n) => n + 1) };
}

/** Enum names without their prefix, readable: ALERT_STATE_OPEN -> open. */
export function short(name: string, prefix: string): string {
  return name.startsWith(prefix) ? name.slice(prefix.length).toLowerCase().replace(/_/g, " ") : name;
}

/** Text that must stay left-to-right inside right-to-left pages (plates, hashes, ids). */
export function Ltr({ children }: { children: React.ReactNode }) {
  return <bdi dir="ltr" className="ltr">{children}</bdi>;
}
