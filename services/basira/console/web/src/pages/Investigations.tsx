// Investigations: the case context comes first (purpose, case, authorization), then plate search
// under it; evidence is masked by default and unmasking asks for a reason (a logged act).
import { FormEvent, useState } from "react";
import { call, callBlob, callForm, CaseContext, contextBody, contextForm, contextHeaders } from "../api";
import { useI18n } from "../i18n";
import { CameraMap } from "./CameraMap";
import { Ltr, Refusal } from "./common";

interface Sighting {
  id: string;
  camera_id: string;
  zone: string;
  seen: string;
  plate: { text: string } | null;
  distance: number;
  snapshot_id: string;
}

const PURPOSES = ["stolen-vehicle", "missing-person", "serious-crime", "traffic-enforcement", "oversight"];

function CaseForm({ onChoose }: { onChoose: (c: CaseContext) => void }) {
  const { t } = useI18n();
  const [purpose, setPurpose] = useState(PURPOSES[0]);
  const [caseId, setCaseId] = useState("");
  const [authorization, setAuthorization] = useState("");
  const [issuedBy, setIssuedBy] = useState("");
  const [zones, setZones] = useState("");
  const [expires, setExpires] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const id = authorization.trim();
    onChoose({
      purpose: purpose.trim(), case_id: caseId.trim(),
      authorization: id ? {
        id, issued_by: issuedBy.trim(),
        scope_zones: zones.split(",").map((z) => z.trim()).filter(Boolean),
        expires: expires ? new Date(expires).toISOString() : "",
      } : null,
    });
  };
  return (
    <form onSubmit={submit} className="row" data-testid="case-form">
      <label>{t("purpose")}
        <input list="purposes" value={purpose} onChange={(e) => setPurpose(e.target.value)} name="purpose" required />
        <datalist id="purposes">{PURPOSES.map((p) => <option key={p} value={p} />)}</datalist>
      </label>
      <label>{t("caseId")}<input value={caseId} onChange={(e) => setCaseId(e.target.value)} name="case_id" required /></label>
      <fieldset className="row">
        <legend>{t("authorization")}</legend>
        <label>{t("authorizationId")}<input value={authorization} onChange={(e) => setAuthorization(e.target.value)} name="authorization_id" /></label>
        <label>{t("issuedBy")}<input value={issuedBy} onChange={(e) => setIssuedBy(e.target.value)} name="issued_by" /></label>
        <label>{t("zones")}<input value={zones} onChange={(e) => setZones(e.target.value)} name="scope_zones" /></label>
        <label>{t("expires")}<input type="date" value={expires} onChange={(e) => setExpires(e.target.value)} name="authorization_expires" /></label>
      </fieldset>
      <button type="submit" className="primary">{t("useCase")}</button>
    </form>
  );
}

function Evidence({ sighting, context }: { sighting: Sighting; context: CaseContext }) {
  const { t } = useI18n();
  const [image, setImage] = useState<{ url: string; unmasked: boolean }>();
  const [asking, setAsking] = useState(false);
  const [reason, setReason] = useState("");
  const [error, setError] = useState<unknown>();
  const show = async () => {
    setError(undefined);
    try {
      const got = await callBlob("GET", `/api/evidence/${encodeURIComponent(sighting.snapshot_id)}`, undefined,
                                 contextHeaders(context));
      setImage({ url: got.url, unmasked: false });
    } catch (e) { setError(e); }
  };
  const unmask = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const got = await callBlob("POST", `/api/evidence/${encodeURIComponent(sighting.snapshot_id)}/unmask`,
                                 { reason, context: contextBody(context) });
      const masked = got.headers.get("X-Basira-Plates-Masked") === "true" && got.headers.get("X-Basira-Faces-Masked") === "true";
      setImage({ url: got.url, unmasked: !masked });
      setAsking(false);
    } catch (err) { setError(err); }
  };
  if (!sighting.snapshot_id) return <span>—</span>;
  const idBase = `unmask-${sighting.id}`;
  return (
    <div className="evidence">
      <button type="button" onClick={show}>{t("show")}</button>
      <button type="button" onClick={() => setAsking(true)}>{t("unmask")}</button>
      {asking && (
        <form onSubmit={unmask} className="row">
          <label htmlFor={idBase}>{t("unmaskReason")}</label>
          <input id={idBase} value={reason} onChange={(e) => setReason(e.target.value)} required minLength={3}
                 name="reason" />
          <button type="submit">{t("unmask")}</button>
        </form>
      )}
      {image && (
        <figure>
          <img src={image.url} alt={`${t("evidence")} ${sighting.snapshot_id}`} className="evidence-image" />
          <figcaption data-testid="evidence-state">{image.unmasked ? t("unmasked") : t("masked")}</figcaption>
        </figure>
      )}
      <Refusal error={error} />
    </div>
  );
}

/** Face search by an uploaded image, under the case (policy asks for an authorization). */
function FaceSearch({ context }: { context: CaseContext }) {
  const { t, date, number } = useI18n();
  const [found, setFound] = useState<Sighting[]>();
  const [error, setError] = useState<unknown>();
  const search = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setError(undefined);
    try {
      const form = contextForm(new FormData(e.currentTarget), context);
      setFound((await callForm<{ sightings: Sighting[] }>("/api/search/faces", form)).sightings);
    } catch (err) { setError(err); }
  };
  return (
    <section aria-labelledby="faces-title">
      <h2 id="faces-title">{t("faceSearch")}</h2>
      <form onSubmit={search} className="row">
        <label>{t("image")}<input type="file" name="image" accept="image/jpeg,image/png" required /></label>
        <label>{t("maxDistance")}<input type="number" name="max_distance" defaultValue="0.6" step="0.05" min="0" max="2" /></label>
        <button type="submit">{t("search")}</button>
      </form>
      <Refusal error={error} />
      {found && (
        <table>
          <caption>{t("results")}: {number(found.length)}</caption>
          <thead><tr><th scope="col">{t("time")}</th><th scope="col">{t("camera")}</th><th scope="col">{t("zone")}</th>
            <th scope="col">{t("distance")}</th><th scope="col">{t("evidence")}</th></tr></thead>
          <tbody>
            {found.map((s) => (
              <tr key={s.id}><td>{date(s.seen)}</td><td><Ltr>{s.camera_id}</Ltr></td><td>{s.zone}</td>
                <td>{number(Math.round(s.distance * 100) / 100)}</td><td><Evidence sighting={s} context={context} /></td></tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Sightings by time and place (plates), under the case. */
function SightingsSearch({ context }: { context: CaseContext }) {
  const { t, date, number } = useI18n();
  const [zone, setZone] = useState("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [found, setFound] = useState<Sighting[]>();
  const [error, setError] = useState<unknown>();
  const search = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const body: Record<string, unknown> = { kind: "SIGHTING_KIND_PLATE", context: contextBody(context) };
      if (zone) body.zone = zone;
      if (from) body.time_from = new Date(from).toISOString();
      if (to) body.time_to = new Date(to).toISOString();
      setFound((await call<{ sightings: Sighting[] }>("POST", "/api/search/sightings", body)).sightings);
    } catch (err) { setError(err); }
  };
  return (
    <section aria-labelledby="sightings-title">
      <h2 id="sightings-title">{t("sightingsSearch")}</h2>
      <form onSubmit={search} className="row">
        <label>{t("zone")}<input value={zone} onChange={(e) => setZone(e.target.value)} name="zone" /></label>
        <label>{t("from")}<input type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} /></label>
        <label>{t("to")}<input type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} /></label>
        <button type="submit">{t("search")}</button>
      </form>
      <Refusal error={error} />
      {found && (
        <table>
          <caption>{t("results")}: {number(found.length)}</caption>
          <thead><tr><th scope="col">{t("time")}</th><th scope="col">{t("plate")}</th><th scope="col">{t("camera")}</th>
            <th scope="col">{t("zone")}</th></tr></thead>
          <tbody>
            {found.map((s) => (
              <tr key={s.id}><td>{date(s.seen)}</td><td><Ltr>{s.plate?.text ?? ""}</Ltr></td><td><Ltr>{s.camera_id}</Ltr></td><td>{s.zone}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** The evidence bundle: the images with the inclusion proofs of their access records, for a court. */
function ExportBundle({ sightings, context }: { sightings: Sighting[]; context: CaseContext }) {
  const { t } = useI18n();
  const [recipients, setRecipients] = useState("public-prosecutor");
  const [error, setError] = useState<unknown>();
  const exportIt = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const ids = [...new Set(sightings.map((s) => s.snapshot_id).filter(Boolean))];
      const got = await callBlob("POST", "/api/evidence/export", {
        snapshot_ids: ids, context: contextBody(context),
        recipients: recipients.split(",").map((r) => r.trim()).filter(Boolean),
      });
      const link = document.createElement("a");
      link.href = got.url;
      link.download = `basira-evidence-${context.case_id}.json`;
      link.click();
    } catch (err) { setError(err); }
  };
  return (
    <section aria-labelledby="export-title">
      <h2 id="export-title">{t("exportEvidence")}</h2>
      <form onSubmit={exportIt} className="row">
        <label>{t("recipients")}<input value={recipients} onChange={(e) => setRecipients(e.target.value)} required /></label>
        <button type="submit">{t("exportEvidence")}</button>
      </form>
      <Refusal error={error} />
    </section>
  );
}

export function Investigations() {
  const { t, date, number } = useI18n();
  const [context, setContext] = useState<CaseContext>();
  const [plate, setPlate] = useState("");
  const [fuzzy, setFuzzy] = useState(false);
  const [results, setResults] = useState<Sighting[]>();
  const [trajectory, setTrajectory] = useState<Sighting[]>([]);
  const [error, setError] = useState<unknown>();
  const search = async (e: FormEvent) => {
    e.preventDefault();
    if (!context) return;
    setError(undefined);
    setResults(undefined);
    try {
      const body = { plate, fuzzy, max_distance: fuzzy ? 2 : 0, context: contextBody(context) };
      const found = await call<{ sightings: Sighting[] }>("POST", "/api/search/plates", body);
      setResults(found.sightings);
      const path = await call<{ sightings: Sighting[] }>("POST", "/api/search/trajectory",
        { plate, context: contextBody(context) }).catch(() => ({ sightings: [] }));
      setTrajectory(path.sightings);
    } catch (err) { setError(err); }
  };
  return (
    <>
      <h1>{t("investigations")}</h1>
      <section aria-labelledby="case-title">
        <h2 id="case-title">{t("caseContext")}</h2>
        <p>{t("caseFirst")}</p>
        {context ? (
          <p data-testid="active-case">{t("activeCase")}: <Ltr>{context.case_id}</Ltr> · {context.purpose}
            {context.authorization && <> · <Ltr>{context.authorization.id}</Ltr> ({context.authorization.issued_by})</>}{" "}
            <button type="button" onClick={() => { setContext(undefined); setResults(undefined); }}>{t("close")}</button></p>
        ) : <CaseForm onChoose={setContext} />}
      </section>
      <section aria-labelledby="plate-title">
        <h2 id="plate-title">{t("plateSearch")}</h2>
        <form onSubmit={search} className="row">
          <label>{t("plate")}<input value={plate} onChange={(e) => setPlate(e.target.value)} name="plate" dir="ltr"
                                     required disabled={!context} /></label>
          <label className="check"><input type="checkbox" checked={fuzzy} onChange={(e) => setFuzzy(e.target.checked)}
                                          disabled={!context} /> {t("fuzzy")}</label>
          <button type="submit" className="primary" disabled={!context}>{t("search")}</button>
        </form>
        <Refusal error={error} />
        {results && results.length === 0 && <p>{t("noResults")}</p>}
        {results && results.length > 0 && context && (
          <table data-testid="sightings">
            <caption>{t("results")}: {number(results.length)}</caption>
            <thead><tr><th scope="col">{t("time")}</th><th scope="col">{t("plate")}</th><th scope="col">{t("camera")}</th>
              <th scope="col">{t("zone")}</th><th scope="col">{t("evidence")}</th></tr></thead>
            <tbody>
              {results.map((s) => (
                <tr key={s.id} data-sighting={s.id}>
                  <td><time dateTime={s.seen}>{date(s.seen)}</time></td>
                  <td><Ltr>{s.plate?.text ?? ""}</Ltr></td>
                  <td><Ltr>{s.camera_id}</Ltr></td>
                  <td>{s.zone}</td>
                  <td><Evidence sighting={s} context={context} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {context && <FaceSearch context={context} />}
      {context && <SightingsSearch context={context} />}
      {results && results.length > 0 && context && <ExportBundle sightings={results} context={context} />}
      {trajectory.length > 0 && <CameraMap path={trajectory} />}
    </>
  );
}
