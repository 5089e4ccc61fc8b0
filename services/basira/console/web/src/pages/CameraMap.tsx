// An offline plan of zones and cameras: an SVG drawn from the camera positions the user's
// agreement grants (no tile server). A trajectory, when given, is drawn over it in time order.
import { call } from "../api";
import { useI18n } from "../i18n";
import { Refusal, useLoad } from "./common";

interface Camera { id: string; zone: string; position: { latitude: number; longitude: number } | null }
interface MapData { zones: { id: string; cameras: string[] }[]; cameras: Camera[] }

const COLOURS = ["#0b5cad", "#a4262c", "#107c10", "#8a5a00", "#5c2d91", "#006666", "#b4009e"];

export function CameraMap({ path = [] }: { path?: { camera_id: string; seen: string }[] }) {
  const { t, date } = useI18n();
  const { data, error } = useLoad(() => call<MapData>("GET", "/api/map"));
  const placed = (data?.cameras ?? []).filter((c) => c.position && (c.position.latitude || c.position.longitude));
  const lats = placed.map((c) => c.position!.latitude);
  const lons = placed.map((c) => c.position!.longitude);
  const [minLat, maxLat, minLon, maxLon] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
  const W = 600, H = 360, M = 30;
  // One position (or one line of them) is drawn in the middle rather than on the edge.
  const x = (lon: number) => (maxLon === minLon ? W / 2 : M + ((lon - minLon) / (maxLon - minLon)) * (W - 2 * M));
  const y = (lat: number) => (maxLat === minLat ? H / 2 : H - M - ((lat - minLat) / (maxLat - minLat)) * (H - 2 * M));
  const zoneColour = new Map((data?.zones ?? []).map((z, i) => [z.id, COLOURS[i % COLOURS.length]]));
  const where = new Map(placed.map((c) => [c.id, [x(c.position!.longitude), y(c.position!.latitude)]]));
  const route = path.filter((p) => where.has(p.camera_id));
  return (
    <section aria-labelledby="map-title">
      <h2 id="map-title">{path.length ? t("trajectory") : t("map")}</h2>
      <Refusal error={error} />
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="map-title" className="map" direction="ltr">
        <rect x={0} y={0} width={W} height={H} fill="#f6f8fa" stroke="#8c959f" />
        {placed.map((c) => (
          <g key={c.id}>
            <circle cx={where.get(c.id)![0]} cy={where.get(c.id)![1]} r={6} fill={zoneColour.get(c.zone) ?? "#333"} />
            {/* labels near the right edge are drawn to the left of their point, so they stay inside */}
            <text x={where.get(c.id)![0] + (where.get(c.id)![0] > W * 0.7 ? -8 : 8)} y={where.get(c.id)![1] + 4}
                  textAnchor={where.get(c.id)![0] > W * 0.7 ? "end" : "start"} fontSize={11}>{c.id}</text>
          </g>
        ))}
        {route.length > 1 && (
          <polyline fill="none" stroke="#d13438" strokeWidth={3}
                    points={route.map((p) => where.get(p.camera_id)!.join(",")).join(" ")} />
        )}
        {route.map((p, i) => (
          <text key={i} x={where.get(p.camera_id)![0] + 8} y={where.get(p.camera_id)![1] + 18} fontSize={10}
                fill="#a4262c">{i + 1}. {date(p.seen)}</text>
        ))}
      </svg>
      <ul className="legend">
        {(data?.zones ?? []).map((z) => (
          <li key={z.id}><svg width={12} height={12} aria-hidden="true"><rect width={12} height={12} fill={zoneColour.get(z.id)} /></svg> {z.id} ({z.cameras.length})</li>
        ))}
      </ul>
    </section>
  );
}
