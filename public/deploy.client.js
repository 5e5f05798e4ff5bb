// Sprout admin UI: deploy a folder from the browser with the CLI's protocol (README, "Deploy protocol").
//   1. list the folder (dropped, or picked with webkitdirectory), leaving out dotfiles and node_modules
//   2. hash every file in a Web Worker (SHA-256)
//   3. POST /api/deployment with the manifest (the session cookie; same origin)
//   4. the node's POST /api/upload/init answers the digests it lacks; only those are sent, as tar
//      batches to its POST /api/upload/file. Both calls pass through the master (ui/upload-proxy.ts).
//   5. open the deployment's page, whose log streams live.
import { tarParts } from "/ui/static/tar.js";

const BATCH_BYTES = 8 * 1024 * 1024;
const $ = (id) => document.getElementById(id);
const box = $("site-deploy");
const site = box.dataset.site;
const form = $("deploy-form");
const zone = $("drop-zone");
const picker = $("deploy-folder");
const start = $("deploy-start");
const bar = $("deploy-progress");
const phase = $("deploy-phase");
const summary = $("deploy-summary");
const errorBox = $("deploy-error");
let chosen = null;

/** leftOut: never deployed, as the CLI does (src/cli/deploy-ignore.ts): dotfiles except .well-known, node_modules. */
const leftOut = (path) => path.split("/").some((seg) => seg === "node_modules" || (seg.startsWith(".") && seg !== ".well-known"));

const fmt = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`);

function fail(message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
  phase.textContent = "Deploy stopped";
  start.disabled = !chosen;
  form.removeAttribute("aria-busy");
}

function setPhase(text, value, max = 100) {
  phase.textContent = text;
  bar.max = max;
  bar.value = value;
}

/** choose takes [{ path, file }] with paths relative to the folder's root. */
function choose(all) {
  const files = all.filter((f) => !leftOut(f.path));
  const ignored = all.length - files.length;
  errorBox.hidden = true;
  if (!files.length) {
    chosen = null;
    start.disabled = true;
    summary.textContent = all.length ? `Nothing to deploy: all ${all.length} files are dotfiles or in node_modules.` : "That folder is empty.";
    return;
  }
  chosen = files;
  const total = files.reduce((n, f) => n + f.file.size, 0);
  const sproutignore = all.some((f) => f.path === ".sproutignore");
  summary.textContent = `${files.length} files, ${fmt(total)}` + (ignored ? ` (${ignored} left out: dotfiles, node_modules)` : "") +
    (sproutignore ? ". Note: .sproutignore patterns are applied by the CLI only." : ".");
  start.disabled = false;
  setPhase("Ready to deploy", 0);
}

/** fromPicker strips the picked folder's own name from each webkitRelativePath. */
picker.addEventListener("change", () => {
  choose(Array.from(picker.files, (file) => ({ path: (file.webkitRelativePath || file.name).split("/").slice(1).join("/") || file.name, file })));
});

/** walk reads a dropped folder (FileSystemEntry API); a dropped folder's own name is not part of the paths. */
async function walk(entry, prefix, out) {
  if (entry.isFile) {
    const file = await new Promise((ok, ko) => entry.file(ok, ko));
    out.push({ path: prefix + entry.name, file });
    return;
  }
  const reader = entry.createReader();
  for (;;) {
    const batch = await new Promise((ok, ko) => reader.readEntries(ok, ko));
    if (!batch.length) break;
    for (const e of batch) await walk(e, prefix + entry.name + "/", out);
  }
}

for (const ev of ["dragenter", "dragover"]) zone.addEventListener(ev, (e) => { e.preventDefault(); zone.classList.add("over"); });
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", async (e) => {
  e.preventDefault();
  zone.classList.remove("over");
  const items = Array.from(e.dataTransfer.items || []);
  const entries = items.map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null)).filter(Boolean);
  const out = [];
  if (entries.length === 1 && entries[0].isDirectory) {
    // One folder dropped: its contents are the site.
    const reader = entries[0].createReader();
    for (;;) {
      const batch = await new Promise((ok, ko) => reader.readEntries(ok, ko));
      if (!batch.length) break;
      for (const x of batch) await walk(x, "", out);
    }
  } else if (entries.length) {
    for (const x of entries) await walk(x, "", out);
  } else {
    for (const file of e.dataTransfer.files) out.push({ path: file.name, file });
  }
  choose(out);
});

async function api(url, init) {
  const res = await fetch(url, { credentials: "same-origin", ...init });
  const type = res.headers.get("content-type") || "";
  const body = type.includes("json") ? await res.json() : null;
  if (!res.ok || !body) {
    const err = body && body.error;
    throw new Error(err ? `${err.message}${err.hint ? " " + err.hint : ""}` : `The server answered ${res.status}.`);
  }
  return body;
}

function hashAll(files) {
  return new Promise((resolve, reject) => {
    const worker = new Worker("/ui/static/hash-worker.js");
    worker.onmessage = (m) => {
      if (m.data.progress) setPhase(`Hashing: ${m.data.progress} of ${files.length} files`, m.data.progress, files.length);
      if (m.data.error) reject(new Error(m.data.error));
      if (m.data.hashes) resolve(m.data.hashes);
      if (m.data.error || m.data.hashes) worker.terminate();
    };
    worker.onerror = (e) => reject(new Error(e.message || "The hashing worker failed."));
    worker.postMessage({ files: files.map((f) => f.file) });
  });
}

/** send posts one tar batch with XMLHttpRequest, whose upload progress fetch does not report. */
function send(url, headers, blob, onBytes) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onBytes(e.loaded);
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300 && body) resolve(body);
      else reject(new Error(body && body.error ? `${body.error.message}${body.error.hint ? " " + body.error.hint : ""}` : `The upload failed (${xhr.status}).`));
    };
    xhr.onerror = () => reject(new Error("The upload was cut off; run the deploy again: it sends only what is still missing."));
    xhr.send(blob);
  });
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!chosen) return;
  const files = chosen;
  start.disabled = true;
  errorBox.hidden = true;
  form.setAttribute("aria-busy", "true");
  try {
    await api("/ui/session");
    const hashes = await hashAll(files);
    const manifest = files.map((f, i) => ({ path: f.path, sha256: hashes[i], size: f.file.size }));
    manifest.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    setPhase("Creating the deployment", 0);
    const created = await api("/api/deployment", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ site, production: $("deploy-prod").checked, manifest }),
    });
    const id = created.deployment.id;
    const init = await api(`/ui/deployments/${id}/upload/init`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-sprout-grant": created.upload.grant },
      body: JSON.stringify({ grant: created.upload.grant, deployment_id: id, manifest }),
    });
    // One file per missing digest, the first path that has it (as the CLI does).
    const missing = new Set(init.missing);
    const byPath = new Map(files.map((f) => [f.path, f]));
    const toSend = [];
    for (const m of manifest) if (missing.delete(m.sha256)) toSend.push(byPath.get(m.path));
    const totalBytes = toSend.reduce((n, f) => n + f.file.size, 0);
    const batches = [];
    let cur = [];
    let curBytes = 0;
    for (const f of toSend) {
      if (cur.length && curBytes + f.file.size > BATCH_BYTES) { batches.push(cur); cur = []; curBytes = 0; }
      cur.push(f);
      curBytes += f.file.size;
    }
    batches.push(cur);
    let sent = 0;
    let sentFiles = 0;
    const headers = { "content-type": "application/x-tar", "x-upload-token": init.upload_token, "x-deployment-id": id };
    let staged = false;
    for (const batch of batches) {
      const blob = new Blob(tarParts(batch));
      const batchBytes = batch.reduce((n, f) => n + f.file.size, 0);
      const answer = await send(`/ui/deployments/${id}/upload/file`, headers, blob, (loaded) => {
        const done = sent + Math.min(batchBytes, loaded * (batchBytes / blob.size));
        setPhase(`Uploading ${toSend.length} of ${files.length} files: ${fmt(done)} of ${fmt(totalBytes)}`, done, Math.max(totalBytes, 1));
      });
      sent += batchBytes;
      sentFiles += batch.length;
      staged = answer.staged;
    }
    setPhase(`Uploaded ${sentFiles} files (${fmt(sent)}); the node had the rest`, 1, 1);
    if (!staged) throw new Error("The node did not receive every file. Run the deploy again: it sends only what is still missing.");
    location.assign(`/ui/deployments/${id}`);
  } catch (err) {
    fail(err && err.message ? err.message : String(err));
  }
});
