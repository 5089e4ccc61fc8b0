// Oversight: the access log with filters and keyset paging, and verification of any record in the
// browser (verify.ts), which names the check that failed.
import { FormEvent, useState } from "react";
import { call, ProblemError } from "../api";
import { Key, useI18n } from "../i18n";
import { Verdict, verifyRecord, witnessedHeads } from "../verify";
import { Ltr, Refusal, useLoad } from "./common";

interface Row { index: number; leaf_hash: string; record_json: string }
interface Page { records: Row[]; next_page_token: string }

const FILTERS = ["user", "agency", "action", "case_id", "authorization_id", "decision", "time_from", "time_to"] as const;
const FILTER_LABELS: Record<(typeof FILTERS)[number], Key> = {
  user: "user", agency: "agency", action: "action", case_id: "caseId", authorization_id: "authorizationId",
  decision: "decision", time_from: "from", time_to: "to",
};
type Filters = Record<(typeof FILTERS)[number], string>;
const EMPTY: Filters = { user: "", agency: "", action: "", case_id: "", authorization_id: "", decision: "", time_from: "", time_to: "" };

function query(filters: Filters, token: string): string {
  const params = new URLSearchParams({ page_size: "50" });
  for (const key of FILTERS) {
    const value = filters[key];
    if (!value) continue;
    params.set(key, key.startsWith("time_") ? new Date(value).toISOString() : value);
  }
  if (token) params.set("page_token", token);
  return params.toString();
}

function VerifyButton({ row, onVerified }: { row: Row; onVerified: () => void }) {
  const { t } = useI18n();
  const [verdict, setVerdict] = useState<Verdict>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const run = async () => {
    setBusy(true);
    setError(undefined);
    try { setVerdict(await verifyRecord(row.index, row.record_json)); onVerified(); } catch (e) { setError(e); }
    setBusy(false);
  };
  return (
    <div className="verify">
      <button type="button" onClick={run} disabled={busy}>{t("verify")}</button>
      {verdict && (
        <p role="status" data-testid="verdict" data-ok={verdict.ok} data-failed={verdict.failed ?? ""}
           className={verdict.ok ? "ok" : "bad"}>
          {verdict.ok ? t("verified") : `${t("verifyFailed")} — ${t("failedCheck")}: ${verdict.failed}`}
          <br /><small>{verdict.detail}</small>
        </p>
      )}
      <Refusal error={error} />
    </div>
  );
}

export function Oversight() {
  const { t, date, number } = useI18n();
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [tokens, setTokens] = useState<string[]>([""]);
  const token = tokens[tokens.length - 1];
  const { data, error } = useLoad(() => call<Page>("GET", `/api/audit/records?${query(filters, token)}`), [filters, token]);
  const [exportError, setExportError] = useState<unknown>();
  const [witnessed, setWitnessed] = useState(() => witnessedHeads().length);
  const apply = (e: FormEvent) => {
    e.preventDefault();
    setFilters({ ...draft });
    setTokens([""]);
  };
  const exportLog = async () => {
    setExportError(undefined);
    try {
      const response = await fetch("/api/audit/export", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": (await call<{ csrf_token: string }>("GET", "/api/me")).csrf_token },
        body: JSON.stringify({ recipients: ["offline-verification"], context: { purpose: "oversight" } }),
      });
      if (!response.ok) throw new ProblemError(await response.json());
      const link = document.createElement("a");
      link.href = URL.createObjectURL(await response.blob());
      link.download = "basira-access-log.jsonl";
      link.click();
    } catch (err) { setExportError(err); }
  };
  const field = (key: keyof Filters, type = "text") => (
    <label key={key}>{t(FILTER_LABELS[key])}
      {key === "decision" ? (
        <select value={draft.decision} onChange={(e) => setDraft({ ...draft, decision: e.target.value })} name="decision">
          <option value="">{t("any")}</option><option value="allowed">{t("allowed")}</option><option value="denied">{t("denied")}</option>
        </select>
      ) : (
        <input type={type} name={key} value={draft[key]} onChange={(e) => setDraft({ ...draft, [key]: e.target.value })} />
      )}
    </label>
  );
  return (
    <>
      <h1>{t("oversight")}</h1>
      <section aria-labelledby="log-title">
        <h2 id="log-title">{t("accessLog")}</h2>
        <form onSubmit={apply} className="row filters" data-testid="log-filters">
          {FILTERS.map((key) => field(key, key.startsWith("time_") ? "datetime-local" : "text"))}
          <button type="submit" className="primary">{t("filter")}</button>
        </form>
        <Refusal error={error} />
        {data && (
          <table data-testid="log">
            <caption>{t("page")} {number(tokens.length)}</caption>
            <thead><tr><th scope="col">{t("index")}</th><th scope="col">{t("time")}</th><th scope="col">{t("user")}</th>
              <th scope="col">{t("agency")}</th><th scope="col">{t("action")}</th><th scope="col">{t("decision")}</th>
              <th scope="col">{t("caseId")}</th><th scope="col">{t("reason")}</th><th scope="col">{t("verify")}</th></tr></thead>
            <tbody>
              {data.records.map((row) => {
                // Displayed from the exact bytes that are verified, never from a separate copy.
                const record = JSON.parse(row.record_json) as Record<string, unknown>;
                const resource = (record.resource ?? {}) as Record<string, unknown>;
                return (
                  <tr key={row.index} data-index={row.index} data-action={String(record.action ?? "")}>
                    <td><Ltr>{row.index}</Ltr></td>
                    <td>{date(String(record.time ?? ""))}</td>
                    <td>{String(record.user ?? "")}</td>
                    <td>{String(record.agency ?? "")}</td>
                    <td><Ltr>{String(record.action ?? "")}</Ltr></td>
                    <td>{record.allowed ? t("allowed") : t("denied")}</td>
                    <td><Ltr>{String(record.case_id ?? "")}</Ltr></td>
                    <td>{String(resource.reason ?? "")}</td>
                    <td><VerifyButton key={row.record_json} row={row} onVerified={() => setWitnessed(witnessedHeads().length)} /></td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        <div className="row">
          <button type="button" disabled={tokens.length < 2} onClick={() => setTokens(tokens.slice(0, -1))}>{t("previous")}</button>
          <button type="button" disabled={!data?.next_page_token}
                  onClick={() => data && setTokens([...tokens, data.next_page_token])}>{t("next")}</button>
        </div>
      </section>
      <section aria-labelledby="witness-title">
        <h2 id="witness-title">{t("treeHeadsSeen")}</h2>
        <p data-testid="witnessed">{number(witnessed)}</p>
        <button type="button" onClick={exportLog}>{t("export")}</button>
        <Refusal error={exportError} />
      </section>
    </>
  );
}
