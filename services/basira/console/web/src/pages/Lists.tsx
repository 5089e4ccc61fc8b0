// Hotlists and face watchlists: reason, legal basis and expiry of each entry; expired ones shown as such.
import { FormEvent, useState } from "react";
import { call, callForm } from "../api";
import { useI18n } from "../i18n";
import { Ltr, Refusal, useLoad } from "./common";

interface HotlistEntry {
  id: string; plate: string; country: string; reason: string; owner_agency: string; expires: string; note: string;
  legal_basis: { kind: string; reference: string; issued_by: string };
}
interface Watchlist { id: string; name: string; owner_agency: string; description: string; subject_count: number; created: string }

const REASONS = ["HOTLIST_REASON_STOLEN", "HOTLIST_REASON_WANTED", "HOTLIST_REASON_AMBER_ALERT", "HOTLIST_REASON_OTHER"];

/** Enrol a subject from images, with the legal basis, authorization and expiry policy asks for. */
function EnrolSubject({ watchlists }: { watchlists: Watchlist[] }) {
  const { t } = useI18n();
  const [done, setDone] = useState("");
  const [error, setError] = useState<unknown>();
  const enrol = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setError(undefined);
    setDone("");
    const form = new FormData(e.currentTarget);
    const list = String(form.get("watchlist"));
    form.delete("watchlist");
    const expires = String(form.get("expires") ?? "");
    if (expires) form.set("expires", new Date(expires).toISOString());
    try {
      const got = await callForm<{ subject: { id: string } }>(`/api/watchlists/${encodeURIComponent(list)}/subjects`, form);
      setDone(got.subject.id);
    } catch (err) { setError(err); }
  };
  if (watchlists.length === 0) return null;
  return (
    <>
      <h3>{t("enrol")}</h3>
      <form onSubmit={enrol} className="row">
        <label>{t("watchlists")}<select name="watchlist">{watchlists.map((w) => <option key={w.id} value={w.id}>{w.name}</option>)}</select></label>
        <label>{t("name")}<input name="label" required /></label>
        <label>{t("image")}<input type="file" name="images" accept="image/jpeg,image/png" multiple required /></label>
        <label>{t("legalBasis")}<input name="legal_basis_kind" required /></label>
        <label>{t("legalBasis")} #<input name="legal_basis_reference" required /></label>
        <label>{t("issuedBy")}<input name="legal_basis_issued_by" required /></label>
        <label>{t("expires")}<input type="date" name="expires" required /></label>
        <label>{t("purpose")}<input name="purpose" defaultValue="serious-crime" required /></label>
        <label>{t("caseId")}<input name="case_id" required /></label>
        <label>{t("authorizationId")}<input name="authorization_id" required /></label>
        <button type="submit">{t("enrol")}</button>
      </form>
      {done && <p role="status">{t("enrolled")}: <Ltr>{done}</Ltr></p>}
      <Refusal error={error} />
    </>
  );
}

function CreateWatchlist({ onCreated }: { onCreated: () => void }) {
  const { t } = useI18n();
  const [form, setForm] = useState({ name: "", description: "", purpose: "serious-crime", case_id: "" });
  const [error, setError] = useState<unknown>();
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });
  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      await call("POST", "/api/watchlists", { name: form.name, description: form.description,
                                               context: { purpose: form.purpose, case_id: form.case_id } });
      onCreated();
    } catch (err) { setError(err); }
  };
  return (
    <>
      <h3>{t("createWatchlist")}</h3>
      <form onSubmit={create} className="row">
        <label>{t("name")}<input value={form.name} onChange={set("name")} required /></label>
        <label>{t("description")}<input value={form.description} onChange={set("description")} /></label>
        <label>{t("purpose")}<input value={form.purpose} onChange={set("purpose")} required /></label>
        <label>{t("caseId")}<input value={form.case_id} onChange={set("case_id")} required /></label>
        <button type="submit">{t("createWatchlist")}</button>
      </form>
      <Refusal error={error} />
    </>
  );
}

export function Lists() {
  const { t, date, number, label } = useI18n();
  const hotlist = useLoad(() => call<{ entries: HotlistEntry[] }>("GET", "/api/hotlist?include_expired=true"));
  const watchlists = useLoad(() => call<{ watchlists: Watchlist[] }>("GET", "/api/watchlists"));
  const [form, setForm] = useState({ plate: "", reason: REASONS[0], kind: "", reference: "", issued_by: "", expires: "",
                                     purpose: "stolen-vehicle", case_id: "" });
  const [error, setError] = useState<unknown>();
  const now = Date.now();
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });
  const add = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      await call("POST", "/api/hotlist", {
        plate: form.plate, reason: form.reason, confusable_tolerant: true,
        legal_basis: { kind: form.kind, reference: form.reference, issued_by: form.issued_by },
        expires: form.expires ? new Date(form.expires).toISOString() : "",
        context: { purpose: form.purpose, case_id: form.case_id },
      });
      hotlist.reload();
    } catch (err) { setError(err); }
  };
  return (
    <>
      <h1>{t("lists")}</h1>
      <section aria-labelledby="hotlist-title">
        <h2 id="hotlist-title">{t("hotlist")}</h2>
        <Refusal error={hotlist.error} />
        {hotlist.data && (
          <table data-testid="hotlist">
            <thead><tr><th scope="col">{t("plate")}</th><th scope="col">{t("reason")}</th><th scope="col">{t("legalBasis")}</th>
              <th scope="col">{t("agency")}</th><th scope="col">{t("expires")}</th><th scope="col">{t("state")}</th></tr></thead>
            <tbody>
              {hotlist.data.entries.map((entry) => {
                const expired = entry.expires !== "" && Date.parse(entry.expires) < now;
                return (
                  <tr key={entry.id} className={expired ? "expired" : ""}>
                    <td><Ltr>{entry.plate}</Ltr></td>
                    <td>{label(entry.reason)}</td>
                    <td>{entry.legal_basis.kind} <Ltr>{entry.legal_basis.reference}</Ltr> ({entry.legal_basis.issued_by})</td>
                    <td>{entry.owner_agency}</td>
                    <td><time dateTime={entry.expires}>{date(entry.expires)}</time></td>
                    <td>{expired ? t("expired") : t("active")}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        <h3>{t("addPlate")}</h3>
        <form onSubmit={add} className="row">
          <label>{t("plate")}<input value={form.plate} onChange={set("plate")} required dir="ltr" /></label>
          <label>{t("reason")}<select value={form.reason} onChange={set("reason")}>
            {REASONS.map((r) => <option key={r} value={r}>{label(r)}</option>)}</select></label>
          <label>{t("legalBasis")}<input value={form.kind} onChange={set("kind")} required /></label>
          <label>{t("legalBasis")} #<input value={form.reference} onChange={set("reference")} required /></label>
          <label>{t("agency")}<input value={form.issued_by} onChange={set("issued_by")} required /></label>
          <label>{t("expires")}<input type="date" value={form.expires} onChange={set("expires")} required /></label>
          <label>{t("purpose")}<input value={form.purpose} onChange={set("purpose")} required /></label>
          <label>{t("caseId")}<input value={form.case_id} onChange={set("case_id")} required /></label>
          <button type="submit" className="primary">{t("add")}</button>
        </form>
        <Refusal error={error} />
      </section>
      <section aria-labelledby="watchlists-title">
        <h2 id="watchlists-title">{t("watchlists")}</h2>
        <Refusal error={watchlists.error} />
        <CreateWatchlist onCreated={watchlists.reload} />
        <EnrolSubject watchlists={watchlists.data?.watchlists ?? []} />
        {watchlists.data && (
          <table>
            <thead><tr><th scope="col">{t("name")}</th><th scope="col">{t("description")}</th>
              <th scope="col">{t("agency")}</th><th scope="col">{t("subjects")}</th></tr></thead>
            <tbody>
              {watchlists.data.watchlists.map((w) => (
                <tr key={w.id}><td>{w.name}</td><td>{w.description}</td><td>{w.owner_agency}</td><td>{number(w.subject_count)}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
