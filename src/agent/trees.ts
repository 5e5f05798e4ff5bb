import type { Manifest, ManifestEntry } from "../protocol/deployment";

/**
 * RULES_FILES are the files at a deployment's root that configure serving (Netlify syntax; of
 * netlify.toml only `[[redirects]]` and `[[headers]]` are read). They are
 * linked into `sites/<site>/rules/<id>/`, outside the served tree, so no request can fetch them and
 * nginx needs no per-request rule to hide them.
 */
export const RULES_FILES = new Set(["_redirects", "_headers", "netlify.toml"]);

/**
 * A deployment's served tree is made of folder trees shared between deployments, as git shares tree
 * objects: `sites/<site>/trees/<hash>/` holds one folder's files (hard links into the blob store, with
 * their `.gz` siblings) and a relative symlink `../<hash>` per subfolder; `deploys/<id>` is a symlink
 * to its root tree. A folder's hash covers its entries and its subfolders' hashes, so a redeploy that
 * changes one file builds only that file's folder and the folders above it, and links nothing else:
 * staging costs what changed, not the size of the site.
 *
 * The hash also covers the account that owns the site, so a tree is only ever reused by the account
 * whose blobs it links (a tree existing means each of its blobs was present and held by that account
 * when it was built), and the quarantine mark of each blob (BlobStore.quarantined), so a folder that
 * linked a blob later found corrupt is built anew from the good copy rather than reused.
 */
export interface FolderPlan {
  /** path: the folder's path in the site ("" for the root). */
  path: string;
  hash: string;
  files: ManifestEntry[];
  /** dirs: names of subfolders, with their hashes. */
  dirs: { name: string; hash: string }[];
}

/** TreePlan: every folder of a deployment, deepest first (so a folder is built after its subfolders). */
export interface TreePlan {
  root: string;
  folders: FolderPlan[];
  /** rules: the root's `_redirects` / `_headers` entries, kept outside the served tree. */
  rules: ManifestEntry[];
}

/**
 * planTrees computes the folder hashes of a manifest: in memory, no file system access. Linear in
 * the manifest when it comes in path order (as the CLI sends it): a file's folder is most often the
 * one before's, found without cutting its path, and each folder's files are then already by name.
 */
export function planTrees(manifest: Manifest, owner: string, quarantined: ReadonlyMap<string, string>): TreePlan {
  const folders = new Map<string, FolderPlan>();
  const folder = (path: string): FolderPlan => {
    let f = folders.get(path);
    if (!f) {
      f = { path, hash: "", files: [], dirs: [] };
      folders.set(path, f);
      if (path !== "") {
        const cut = path.lastIndexOf("/");
        folder(cut === -1 ? "" : path.slice(0, cut)).dirs.push({ name: path.slice(cut + 1), hash: "" });
      }
    }
    return f;
  };
  let last = folder("");
  const rules: ManifestEntry[] = [];
  for (const e of manifest) {
    if (RULES_FILES.has(e.path)) {
      rules.push(e);
      continue;
    }
    const cut = e.path.lastIndexOf("/");
    const len = cut === -1 ? 0 : cut;
    if (len !== last.path.length || (len > 0 && !e.path.startsWith(last.path))) last = folder(cut === -1 ? "" : e.path.slice(0, cut));
    last.files.push(e);
  }
  const depth = (p: string) => (p === "" ? 0 : p.split("/").length);
  const ordered = [...folders.values()].sort((a, b) => depth(b.path) - depth(a.path));
  const marks = quarantined.size > 0;
  for (const f of ordered) {
    // One string per folder, hashed at once: a native call per line cost more than the hashing.
    let text = `tree v1\0${owner}\n`;
    const cut = f.path === "" ? 0 : f.path.length + 1;
    for (const e of inOrder(f.files)) {
      text += `f\0${e.path.slice(cut)}\0${e.sha256}\0${e.size}\0${marks ? (quarantined.get(e.sha256) ?? "") : ""}\n`;
    }
    for (const d of f.dirs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      d.hash = folders.get(f.path === "" ? d.name : `${f.path}/${d.name}`)!.hash;
      text += `d\0${d.name}\0${d.hash}\n`;
    }
    f.hash = new Bun.CryptoHasher("sha256").update(text).digest("hex");
  }
  return { root: folders.get("")!.hash, folders: ordered, rules };
}

/** inOrder answers a folder's files by name: as they are when already so (a manifest in path order). */
function inOrder(files: ManifestEntry[]): ManifestEntry[] {
  for (let i = 1; i < files.length; i++) if (files[i - 1]!.path > files[i]!.path) return [...files].sort(byName);
  return files;
}

function byName(a: ManifestEntry, b: ManifestEntry) {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}
