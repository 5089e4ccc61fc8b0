// The command room: the agency's live alert queue over server-sent events (resumed after a
// reconnect by Last-Event-ID, so nothing is lost or doubled), acting on alerts, the camera wall
// with its health stream, and an offline map of zones and cameras.
import { useEffect, useRef, useState } from "react";
import { call, callBlob, Me } from "../api";
import { useI18n } from "../i18n";
import { Ltr, Refusal, short, useLoad } from "./common";
import { CameraMap } from "./CameraMap";

export interface Alert {
  id: string;
  sequence: number;
  kind: string;
  state: string;
  agency: string;
  zone: string;
  camera_id: string;
  raised: string;
  last_seen: string;
  sightings: number;
  summary: string;
  plate: { text: string } | null;
  hotlist_entry: { reason: string; plate: string } | null;
  snapshot_id: string;
  acknowledged_by: string[];
  confirmed_by: string[];
  escalated_to: string;
  escalated_from: string;
}

const CLOSED = new Set(["ALERT_STATE_REJECTED"]);

function useAlertStream() {
  const [alerts, setAlerts] = useState<Map<string, Alert>>(new Map());
  const [live, setLive] = useState(false);
  const [error, setError] = useState<unknown>();
  const stats = useRef({ received: 0, duplicates: 0, reconnects: 0 });
  const [, setTick] = useState(0);

  useEffect(() => {
    let source: EventSource | null = null;
    let stopped = false;
    const seen = new Set<number>();
    const upsert = (alert: Alert) => setAlerts((old) => {
      const known = old.get(alert.id);
      if (known && known.sequence >= alert.sequence) return old;
      const next = new Map(old);
      if (CLOSED.has(alert.state)) next.delete(alert.id);
      else next.set(alert.id, alert);
      return next;
    });
    call<{ alerts: Alert[]; last_sequence: number }>("GET", "/api/alerts").then((listed) => {
      if (stopped) return;
      listed.alerts.forEach(upsert);
      source = new EventSource(`/api/alerts/stream?after_sequence=${listed.last_sequence}`);
      source.onopen = () => {
        setLive(true);
        setTick((n) => n + 1);
      };
      source.onerror = () => {
        setLive(false);
        stats.current.reconnects += 1;
        setTick((n) => n + 1);
      };
      source.addEventListener("alert", (event) => {
        const message = event as MessageEvent<string>;
        const sequence = Number(message.lastEventId);
        stats.current.received += 1;
        if (seen.has(sequence)) stats.current.duplicates += 1;
        seen.add(sequence);
        upsert(JSON.parse(message.data) as Alert);
        setTick((n) => n + 1);
      });
    }).catch(setError);
    return () => {
      stopped = true;
      source?.close();
    };
  }, []);
  return { alerts, live, error, stats: stats.current, update: (a: Alert) => setAlerts((old) => {
    const next = new Map(old);
    if (CLOSED.has(a.state)) next.delete(a.id);
    else next.set(a.id, a);
    return next;
  }) };
}

const PURPOSE_OF_REASON: Record<string, string> = {
  HOTLIST_REASON_STOLEN: "stolen-vehicle", HOTLIST_REASON_WANTED: "serious-crime",
  HOTLIST_REASON_AMBER_ALERT: "missing-person",
};

/** The alert's evidence frame, masked (viewing it is a logged act under the alert's purpose). */
function AlertSnapshot({ alert }: { alert: Alert }) {
  const { t } = useI18n();
  const [url, setUrl] = useState<string>();
  useEffect(() => {
    if (!alert.snapshot_id) return;
    let live = true;
    const purpose = alert.kind === "ALERT_KIND_FACE_MATCH" ? "serious-crime"
      : PURPOSE_OF_REASON[alert.hotlist_entry?.reason ?? ""] ?? "stolen-vehicle";
    callBlob("GET", `/api/evidence/${encodeURIComponent(alert.snapshot_id)}`, undefined, { "X-Basira-Purpose": purpose })
      .then((got) => { if (live) setUrl(got.url); }).catch(() => undefined);
    return () => { live = false; };
  }, [alert.snapshot_id, alert.kind, alert.hotlist_entry?.reason]);
  if (!url) return null;
  return <img className="alert-snapshot" src={url} alt={`${t("evidence")} ${alert.camera_id}`} width={160} />;
}

function AlertCard({ alert, me, agencies, onChange }: {
  alert: Alert; me: Me; agencies: { id: string; name: string }[]; onChange: (a: Alert) => void;
}) {
  const { t, date, number, label } = useI18n();
  const [error, setError] = useState<unknown>();
  const [escalateTo, setEscalateTo] = useState("");
  const [reason, setReason] = useState("");
  const act = async (verb: string, body: unknown) => {
    setError(undefined);
    try {
      const { alert: changed } = await call<{ alert: Alert }>("POST", `/api/alerts/${alert.id}/${verb}`, body);
      onChange(changed);
    } catch (e) {
      setError(e);
    }
  };
  const face = alert.kind === "ALERT_KIND_FACE_MATCH";
  const plate = alert.plate?.text || alert.hotlist_entry?.plate || "";
  const open = !["ALERT_STATE_CONFIRMED", "ALERT_STATE_REJECTED"].includes(alert.state);
  const idBase = `alert-${alert.id}`;
  return (
    <li className={`alert ${short(alert.state, "ALERT_STATE_").replace(/ /g, "-")}`} data-alert-id={alert.id}
        data-state={alert.state} data-camera={alert.camera_id} data-plate={plate} data-kind={alert.kind}
        data-escalated-from={alert.escalated_from}>
      <div className="alert-head">
        <strong>{label(alert.kind)}</strong>
        {plate && <span className="plate"><Ltr>{plate}</Ltr></span>}
        <span className="state" data-testid="state">{label(alert.state)}</span>
      </div>
      <dl className="facts">
        <dt>{t("camera")}</dt><dd><Ltr>{alert.camera_id}</Ltr></dd>
        <dt>{t("zone")}</dt><dd>{alert.zone}</dd>
        <dt>{t("time")}</dt><dd><time dateTime={alert.raised}>{date(alert.raised)}</time></dd>
        <dt>{t("sightings")}</dt><dd>{number(alert.sightings)}</dd>
        {alert.hotlist_entry?.reason && <><dt>{t("reason")}</dt><dd>{label(alert.hotlist_entry.reason)}</dd></>}
        {alert.acknowledged_by.length > 0 && <><dt>{t("acknowledgedBy")}</dt><dd data-testid="acknowledged-by">{alert.acknowledged_by.join(", ")}</dd></>}
        {alert.confirmed_by.length > 0 && (
          <><dt>{alert.state === "ALERT_STATE_PENDING_CONFIRMATION" ? t("firstConfirmedBy") : t("confirmedBy")}</dt>
            <dd data-testid="confirmed-by">{alert.confirmed_by.join(", ")}</dd></>
        )}
        {alert.escalated_from && <><dt>{t("escalatedFrom")}</dt><dd data-testid="escalated-from">{alert.escalated_from}</dd></>}
      </dl>
      <AlertSnapshot alert={alert} />
      {alert.summary && <p className="summary">{alert.summary}</p>}
      {open && (
        <div className="actions">
          {alert.state === "ALERT_STATE_OPEN" && !face && (
            <button type="button" onClick={() => act("acknowledge", { note: "" })}>{t("acknowledge")}</button>
          )}
          {face && (
            // Left enabled for the first confirmer too: policy refuses a second confirmation and says why.
            <button type="button" onClick={() => act("confirm", { note: "" })}>{t("confirm")}</button>
          )}
          <button type="button" onClick={() => act("reject", { reason: "rejected in the command room" })}>{t("reject")}</button>
          <label htmlFor={`${idBase}-to`}>{t("escalateTo")}</label>
          <select id={`${idBase}-to`} value={escalateTo} onChange={(e) => setEscalateTo(e.target.value)}>
            <option value="">—</option>
            {agencies.filter((a) => a.id !== me.agency).map((a) => <option key={a.id} value={a.id}>{a.name}</option>)}
          </select>
          <label htmlFor={`${idBase}-reason`}>{t("reason")}</label>
          <input id={`${idBase}-reason`} value={reason} onChange={(e) => setReason(e.target.value)} />
          <button type="button" disabled={!escalateTo}
                  onClick={() => act("escalate", { to_agency: escalateTo, reason })}>{t("escalate")}</button>
        </div>
      )}
      <Refusal error={error} />
    </li>
  );
}

interface CameraHealth {
  online: boolean;
  conditions: Record<string, string>;
  power_source: string;
  battery_percent: number;
  power_level: string;
  stream_state: string;
}

interface CameraView { id: string; name: string; zone: string; health: CameraHealth | null }

interface HealthUpdate {
  camera_id: string;
  kind: string;
  state: string;
  device: { power_source: string; battery_percent: number } | null;
}

const STOPPED = ["STREAM_STATE_STOPPED", "STREAM_STATE_RECONNECTING", "STREAM_STATE_ENDED", "STREAM_STATE_FAILED"];

/** One health event folded into the camera's health (API.md, camera wall). */
export function applyHealth(old: CameraHealth | null, update: HealthUpdate): CameraHealth {
  const health: CameraHealth = old ? { ...old, conditions: { ...old.conditions } } : {
    online: true, conditions: {}, power_source: "", battery_percent: -1, power_level: "unknown", stream_state: "",
  };
  if (update.kind === "stream") health.stream_state = update.state;
  else if (update.kind === "power") {
    health.power_level = update.state;
    if (update.device) {
      health.power_source = update.device.power_source;
      health.battery_percent = update.device.battery_percent;
    }
  } else if (update.kind === "online") health.conditions.offline = "ok";
  else health.conditions[update.kind] = update.state;
  health.online = health.conditions.offline !== "alarm" && !STOPPED.includes(health.stream_state);
  return health;
}

function CameraWall() {
  const { t, number, label } = useI18n();
  const [cameras, setCameras] = useState<CameraView[]>([]);
  const [error, setError] = useState<unknown>();
  const [refresh, setRefresh] = useState(0);
  useEffect(() => {
    let source: EventSource | null = null;
    let stopped = false;
    call<{ cameras: CameraView[]; health_watermark: number }>("GET", "/api/cameras").then((listed) => {
      if (stopped) return;
      setCameras(listed.cameras);
      source = new EventSource(`/api/cameras/health/stream?after_sequence=${listed.health_watermark}`);
      source.addEventListener("health", (event) => {
        const update = JSON.parse((event as MessageEvent<string>).data) as HealthUpdate;
        setCameras((old) => old.map((c) => (c.id === update.camera_id ? { ...c, health: applyHealth(c.health, update) } : c)));
      });
    }).catch(setError);
    const timer = window.setInterval(() => setRefresh((n) => n + 1), 15000);
    return () => {
      stopped = true;
      source?.close();
      window.clearInterval(timer);
    };
  }, []);
  return (
    <section aria-labelledby="wall-title">
      <h2 id="wall-title">{t("cameraWall")}</h2>
      <Refusal error={error} />
      <ul className="wall">
        {cameras.map((camera) => {
          const health = camera.health;
          const alarms = health ? Object.entries(health.conditions).filter(([k, v]) => v === "alarm" && k !== "offline").map(([k]) => k) : [];
          return (
            <li key={camera.id} className="tile" data-camera={camera.id} data-online={health?.online ?? ""}>
              <img src={`/api/cameras/${encodeURIComponent(camera.id)}/snapshot?r=${refresh}`}
                   alt={`${t("camera")} ${camera.id}`} loading="lazy" width={160} height={90}
                   onError={(e) => { (e.target as HTMLImageElement).classList.add("empty"); }} />
              <div><Ltr>{camera.id}</Ltr> · {camera.zone}</div>
              <div className={health?.online ? "ok" : "bad"}>
                {health ? (health.online ? t("online") : t("offline")) : "—"}
                {alarms.length > 0 && ` · ${alarms.join(", ")}`}
              </div>
              {health && health.power_source && (
                <div>{t("power")}: {label(health.power_source)}
                  {health.battery_percent >= 0 && ` · ${t("battery")} ${number(health.battery_percent)} %`}</div>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

export function CommandRoom({ me }: { me: Me }) {
  const { t } = useI18n();
  const { alerts, live, error, stats, update } = useAlertStream();
  const { data: agencies } = useLoad(() => call<{ agencies: { id: string; name: string }[] }>("GET", "/api/agencies"));
  const list = [...alerts.values()].sort((a, b) => b.sequence - a.sequence);
  return (
    <>
      <h1>{t("commandRoom")}</h1>
      <section aria-labelledby="queue-title" data-testid="alert-queue" data-received={stats.received}
               data-duplicates={stats.duplicates} data-reconnects={stats.reconnects} data-live={live}>
        <h2 id="queue-title">{t("alertQueue")} <span className={live ? "live on" : "live"} role="status">
          {live ? t("liveConnected") : t("liveReconnecting")}</span></h2>
        <Refusal error={error} />
        {list.length === 0 && !error && <p>{t("noAlerts")}</p>}
        <ul className="queue">
          {list.map((a) => <AlertCard key={a.id} alert={a} me={me} agencies={agencies?.agencies ?? []} onChange={update} />)}
        </ul>
      </section>
      <CameraWall />
      <CameraMap />
    </>
  );
}
