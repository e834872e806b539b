// Package deploy is the server's deploy controller: it applies the
// manifests built into the binary (package manifests) and the files under
// <data-dir>/manifests, and keeps them applied, as k3s's deploy controller
// does with /var/lib/rancher/k3s/server/manifests.
//
// What it follows from k3s:
//   - every *.yaml, *.yml and *.json file under the directory, recursively,
//     in name order, dotfiles ignored; multi-document YAML and v1 List kinds;
//   - a file is applied at start and again when it changes; objects a
//     changed file no longer holds are deleted;
//   - NAME.yaml.skip next to NAME.yaml leaves NAME.yaml alone: neither
//     applied nor deleted (kube-dns.yaml.skip at the top of the directory
//     skips the built-in kube-dns.yaml, as traefik.yaml.skip does on k3s);
//   - --disable NAME leaves out every manifest whose base name without
//     extension, or one of whose directories, is NAME, and deletes what it
//     had deployed;
//   - built-in manifests take %{VAR}% template variables; user files are
//     applied as written.
//
// Where it differs: a deleted file's objects are deleted too (k3s leaves
// them; k0s prunes them), so the directory is the whole truth; a disabled
// file in the directory is not removed from disk (k3s removes it); and
// every manifest is re-applied every Config.Resync (default a minute), so
// that a deleted kube-dns Service comes back.
//
// How it remembers what a file deployed: each object it applies carries
// the annotation mini.dev/manifest naming its source ("builtin:kube-dns.yaml"
// or the path relative to the directory), and the ConfigMap
// kube-system/mini-manifests records, per source, the objects applied
// from it. The record survives restarts, so a file removed while the
// server was down is cleaned up at the next start. An object is only
// deleted while its annotation still names the source: one moved to
// another file is left to that file.
//
// Objects are applied by server-side apply with field manager
// "mini-deploy" and force, so a field removed from a file is removed from
// the object. A namespaced object without a namespace goes to "default".
// Within a file Namespaces and CRDs are applied first; across files, a
// pass applies the files that failed again, in rounds while some succeed,
// so a file may use a namespace a later file makes. A broken file (YAML,
// unknown kind, object rejected by the API) is logged once as one error
// line naming the file and object, does not stop the others, and is
// retried when it changes (and at each resync).
package deploy
