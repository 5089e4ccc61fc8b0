// Verification of one access-log record in the browser, trusting nothing the server says about it:
// the leaf hash is recomputed from the record's exact bytes, the RFC 6962/9162 inclusion proof must
// lead to the signed tree head's root, the tree head's Ed25519 signature is checked with WebCrypto,
// and every tree head this browser saw before (kept in localStorage: the browser is a witness) must
// be consistent with it. Each failure names its check.
import { call } from "./api";

export type Check = "signature" | "inclusion" | "consistency";

export interface TreeHead {
  log_id: string;
  tree_size: number;
  root_hash: string;
  timestamp: number;
  signature: string;
}

export interface Verdict {
  ok: boolean;
  failed?: Check;
  detail: string;
  treeSize: number;
  witnessed: number;
}

export class CheckFailed extends Error {
  constructor(public check: Check, message: string) {
    super(message);
  }
}

const encoder = new TextEncoder();

export function hexToBytes(hex: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/i.test(hex)) throw new Error(`not hex: ${hex.slice(0, 16)}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function base64ToBytes(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

async function sha256(...parts: Uint8Array[]): Promise<Uint8Array> {
  const size = parts.reduce((n, p) => n + p.length, 0);
  const joined = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
}

const LEAF = new Uint8Array([0]);
const NODE = new Uint8Array([1]);

export const leafHash = (data: Uint8Array): Promise<Uint8Array> => sha256(LEAF, data);
const nodeHash = (left: Uint8Array, right: Uint8Array): Promise<Uint8Array> => sha256(NODE, left, right);

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** RFC 9162 2.1.3.2: the root an inclusion proof implies (throws on a malformed proof). */
export async function rootFromInclusion(index: number, size: number, leaf: Uint8Array,
                                        proof: Uint8Array[]): Promise<Uint8Array> {
  if (index < 0 || index >= size) throw new Error(`index ${index} outside a tree of ${size}`);
  if (leaf.length !== 32 || proof.some((p) => p.length !== 32)) throw new Error("hashes must be 32 bytes");
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new Error("proof too long");
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error("proof too short");
  return r;
}

/** RFC 9162 2.1.4.2: does the tree (size2, root2) extend (size1, root1)? */
export async function verifyConsistency(size1: number, size2: number, proof: Uint8Array[],
                                        root1: Uint8Array, root2: Uint8Array): Promise<boolean> {
  if (size1 <= 0 || size2 < size1) return false;  // no proof from the empty tree (as transparency-dev)
  if (size1 === size2) return proof.length === 0 && equal(root1, root2);
  if (proof.length === 0) return false;
  const path = [...proof];
  if ((size1 & (size1 - 1)) === 0) path.unshift(root1);
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(fr, root1) && equal(sr, root2);
}

/** The bytes the log signs: the context line, then canonical JSON (sorted keys, compact). */
export function treeHeadBytes(head: TreeHead): Uint8Array {
  const canonical = JSON.stringify({
    log_id: head.log_id, root_hash: head.root_hash, timestamp: head.timestamp, tree_size: head.tree_size,
  });
  return encoder.encode(`basira-audit-sth/v1\n${canonical}`);
}

export async function verifyTreeHeadSignature(head: TreeHead, rawKeyB64: string): Promise<boolean> {
  const key = await crypto.subtle.importKey("raw", base64ToBytes(rawKeyB64), { name: "Ed25519" }, false,
                                            ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, base64ToBytes(head.signature), treeHeadBytes(head));
}

const WITNESS_KEY = "basira.treeHeads";

export function witnessedHeads(): TreeHead[] {
  try {
    const parsed = JSON.parse(localStorage.getItem(WITNESS_KEY) ?? "[]");
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

function remember(head: TreeHead): void {
  const kept = witnessedHeads().filter((h) => !(h.log_id === head.log_id && h.tree_size === head.tree_size));
  kept.push(head);
  kept.sort((a, b) => a.tree_size - b.tree_size);
  localStorage.setItem(WITNESS_KEY, JSON.stringify(kept.slice(-64)));
}

interface InclusionProof { index: number; tree_size: number; proof: string[] }
interface ConsistencyProof { proof: string[] }
interface PublicKey { raw_b64: string }

/** A tree head covering `index`: the latest, waited for briefly when the record is newer than it. */
async function headCovering(index: number): Promise<TreeHead> {
  for (let attempt = 0; ; attempt++) {
    const head = await call<TreeHead>("GET", "/api/audit/tree-head");
    if (head.tree_size > index || attempt >= 20) return head;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export async function verifyRecord(index: number, recordJson: string): Promise<Verdict> {
  const head = await headCovering(index);
  const key = await call<PublicKey>("GET", "/api/audit/public-key");
  const witnessed = witnessedHeads().filter((h) => h.log_id === head.log_id);
  const result = (failed: Check | undefined, detail: string): Verdict =>
    ({ ok: failed === undefined, failed, detail, treeSize: head.tree_size, witnessed: witnessed.length });
  if (!(await verifyTreeHeadSignature(head, key.raw_b64).catch(() => false))) {
    return result("signature", `the Ed25519 signature of the tree head of size ${head.tree_size} does not verify`);
  }
  const root = hexToBytes(head.root_hash);
  try {
    const proof = await call<InclusionProof>("GET",
      `/api/audit/proofs/inclusion?index=${index}&tree_size=${head.tree_size}`);
    const leaf = await leafHash(encoder.encode(recordJson));
    const computed = await rootFromInclusion(index, head.tree_size, leaf, proof.proof.map(hexToBytes));
    if (!equal(computed, root)) {
      return result("inclusion", `record ${index}'s hash and its proof lead to root ${bytesToHex(computed).slice(0, 16)}…, `
        + `not the signed root ${head.root_hash.slice(0, 16)}…`);
    }
  } catch (error) {
    return result("inclusion", `inclusion proof of record ${index}: ${(error as Error).message}`);
  }
  for (const seen of witnessed.filter((h) => h.tree_size > 0 && head.tree_size > 0)) {
    const [small, large] = seen.tree_size <= head.tree_size ? [seen, head] : [head, seen];
    let proof: Uint8Array[] = [];
    if (small.tree_size !== large.tree_size && small.tree_size > 0) {
      const got = await call<ConsistencyProof>("GET",
        `/api/audit/proofs/consistency?from_size=${small.tree_size}&to_size=${large.tree_size}`);
      proof = got.proof.map(hexToBytes);
    }
    const ok = await verifyConsistency(small.tree_size, large.tree_size, proof, hexToBytes(small.root_hash),
                                       hexToBytes(large.root_hash));
    if (!ok) {
      return result("consistency", `the tree head of size ${head.tree_size} is not consistent with the one of `
        + `size ${seen.tree_size} this browser saw before`);
    }
  }
  remember(head);
  return result(undefined, `included in the signed tree of size ${head.tree_size}`);
}

/** The verifier's primitives, reachable from the page so the very code the console runs can be
 * checked against the public RFC 6962 test vectors (e2e/test_console_browser.py). */
export interface MerklePrimitives {
  rootFromInclusion: typeof rootFromInclusion;
  verifyConsistency: typeof verifyConsistency;
  hexToBytes: typeof hexToBytes;
  bytesToHex: typeof bytesToHex;
}
(window as unknown as { basiraMerkle: MerklePrimitives }).basiraMerkle = {
  rootFromInclusion, verifyConsistency, hexToBytes, bytesToHex,
};
