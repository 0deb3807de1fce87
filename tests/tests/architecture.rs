//! 架构 — the layering of DESIGN §2, checked from `cargo metadata` and the source tree, so a wrong arrow
//! fails CI instead of waiting for a reviewer:
//!
//! ```text
//! model ← doc ← store ┐
//! model ← doc ← sync  ┴ ← link ← gateway ← node ← testkit, tests, bench (tests and benchmarks only)
//!                         proto ↗
//! ```
//!
//! The harness (`testkit`) has two features: `cluster` (real nodes, so above `node`) and `mesh` (the
//! in-memory mesh of link runners, which needs nothing above `link`; checked below).
//!
//! A package may depend on the packages below it ([`ALLOWED`]); the workspace lists its members in that
//! order; nothing but `store` knows sqlx; nothing below the gateway knows tonic; inside a package,
//! imports between files point one way (no file reaches itself through the files it imports). A package the table
//! names but the tree does not have yet (`link`, while it is being built) is fine; a package the table
//! does not name fails, so a new crate gets its place here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const MODEL: &str = "safemesh-model";
const DOC: &str = "safemesh-doc";
const STORE: &str = "safemesh-store";
const SYNC: &str = "safemesh-sync";
const LINK: &str = "safemesh-link";
const PROTO: &str = "safemesh-proto";
const GATEWAY: &str = "safemesh-gateway";
const NODE: &str = "safemesh-node";
const TESTKIT: &str = "safemesh-testkit";
const TESTS: &str = "safemesh-tests";
const BENCH: &str = "safemesh-bench";

/// Each workspace package and the workspace packages it may depend on (normal, build or dev).
/// `store` and `sync` are side by side: neither knows the other; `link` brings them together.
const ALLOWED: &[(&str, &[&str])] = &[
    (MODEL, &[]),
    (DOC, &[MODEL]),
    (STORE, &[MODEL, DOC]),
    (SYNC, &[MODEL, DOC]),
    (LINK, &[MODEL, DOC, STORE, SYNC]),
    (PROTO, &[]),
    (GATEWAY, &[MODEL, DOC, STORE, SYNC, LINK, PROTO]),
    // Generated code stays in `proto` and `gateway`: the node talks to links through `link` and `gateway`.
    (NODE, &[MODEL, DOC, STORE, SYNC, LINK, GATEWAY]),
    (TESTKIT, &[MODEL, DOC, STORE, SYNC, LINK, GATEWAY, NODE]),
    (
        TESTS,
        &[MODEL, DOC, STORE, SYNC, LINK, PROTO, GATEWAY, NODE, TESTKIT],
    ),
    (
        BENCH,
        &[MODEL, DOC, STORE, SYNC, LINK, PROTO, GATEWAY, NODE, TESTKIT],
    ),
];

/// Packages that exist for tests and benchmarks: only they may have the harness as a normal dependency;
/// any package may have it as a dev-dependency.
const TEST_ONLY: &[&str] = &[TESTKIT, TESTS, BENCH];

/// The packages below the gateway: none of them may know tonic or generated code.
const BELOW_GATEWAY: &[&str] = &[MODEL, DOC, STORE, SYNC, LINK];

/// What carries tonic or generated protobuf code.
const TONIC_CRATES: &[&str] = &["tonic", "tonic-prost", "tonic-prost-build", "prost", PROTO];

/// TODO(issue 13): `sync` still depends on `store` (the driver calls the store). The arrow is tolerated
/// only while the `link` package, which takes the store side out of `sync`, does not exist; once it
/// does, `sync → store` fails like any other wrong arrow.
fn known_exception(from: &str, to: &str, packages: &BTreeMap<String, Package>) -> bool {
    from == SYNC && to == STORE && !packages.contains_key(LINK)
}

/// Sources under `crates/` that may use sqlx besides the store's: none (the in-memory mesh that seeded
/// stores with raw SQL is the harness's now, `testkit/src/mesh`, and uses the store's API).
const SQLX_IN_TEST_SUPPORT: &[&str] = &[];

/// Packages that may have sqlx as a dev-dependency: the integration tests, whose link tests plant a
/// document a build cannot read straight into a store's tables (`tests/tests/link/mesh.rs`).
const SQLX_DEV_DEPENDENTS: &[&str] = &[TESTS];

/// The harness's optional dependencies behind its `mesh` feature: the layers up to `link`, nothing
/// that knows gRPC, so a user of the in-memory mesh does not build the cluster parts.
const MESH_MAY_ENABLE: &[&str] = &[MODEL, DOC, STORE, SYNC, LINK];

#[derive(Debug)]
struct Package {
    manifest: PathBuf,
    /// Dependencies by name, each with its kinds (`normal`, `build`, `dev`).
    deps: BTreeMap<String, BTreeSet<String>>,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// The workspace's packages, from `cargo metadata --no-deps`.
fn packages(root: &Path) -> BTreeMap<String, Package> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata is JSON");
    let mut packages = BTreeMap::new();
    for p in meta["packages"].as_array().expect("packages") {
        let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for d in p["dependencies"].as_array().expect("dependencies") {
            let name = d["name"].as_str().expect("dependency name").to_string();
            let kind = d["kind"].as_str().unwrap_or("normal").to_string();
            deps.entry(name).or_default().insert(kind);
        }
        let name = p["name"].as_str().expect("package name").to_string();
        let manifest = PathBuf::from(p["manifest_path"].as_str().expect("manifest_path"));
        packages.insert(name, Package { manifest, deps });
    }
    packages
}

fn allowed(name: &str) -> Option<&'static [&'static str]> {
    ALLOWED.iter().find(|(p, _)| *p == name).map(|(_, a)| *a)
}

#[test]
fn every_workspace_arrow_points_down_the_layers() {
    let packages = packages(&workspace_root());
    let mut wrong = Vec::new();
    for (name, p) in &packages {
        let Some(may) = allowed(name) else {
            wrong.push(format!(
                "{name} is not in the layer table of tests/tests/architecture.rs: give it its place"
            ));
            continue;
        };
        for (dep, kinds) in p.deps.iter().filter(|(d, _)| packages.contains_key(*d)) {
            let only_dev = kinds.iter().all(|k| k == "dev");
            let ok = may.contains(&dep.as_str())
                || (dep == TESTKIT && only_dev)
                || known_exception(name, dep, &packages);
            if !ok {
                wrong.push(format!("{name} → {dep} ({})", join(kinds)));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies against the layering of DESIGN §2:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn test_only_packages_are_not_dependencies_of_the_layers() {
    let packages = packages(&workspace_root());
    let mut wrong = Vec::new();
    for (name, p) in packages
        .iter()
        .filter(|(n, _)| !TEST_ONLY.contains(&n.as_str()))
    {
        for (dep, kinds) in &p.deps {
            if TEST_ONLY.contains(&dep.as_str()) && kinds.iter().any(|k| k != "dev") {
                wrong.push(format!("{name} → {dep} ({})", join(kinds)));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the test harness is a dev-dependency only:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn members_are_listed_in_dependency_order() {
    let root = workspace_root();
    let packages = packages(&root);
    let text = std::fs::read_to_string(root.join("Cargo.toml")).expect("read Cargo.toml");
    let manifest: toml::Table = text.parse().expect("Cargo.toml is TOML");
    let members: Vec<&str> = manifest["workspace"]["members"]
        .as_array()
        .expect("workspace.members")
        .iter()
        .map(|m| m.as_str().expect("a member is a path"))
        .collect();
    let by_manifest: BTreeMap<PathBuf, &str> = packages
        .iter()
        .map(|(n, p)| (canonical(&p.manifest), n.as_str()))
        .collect();
    let order: Vec<&str> = members
        .iter()
        .map(|m| {
            *by_manifest
                .get(&canonical(&root.join(m).join("Cargo.toml")))
                .unwrap_or_else(|| panic!("member {m} is not a package of the workspace"))
        })
        .collect();
    let mut wrong = Vec::new();
    for (i, name) in order.iter().enumerate() {
        let p = &packages[*name];
        // Dev-dependencies may point up (a layer's tests may use the harness); the order is the build's.
        for (dep, _) in p.deps.iter().filter(|(_, k)| k.iter().any(|k| k != "dev")) {
            if let Some(j) = order.iter().position(|o| o == dep)
                && j > i
            {
                wrong.push(format!(
                    "{name} is listed before {dep}, which it depends on"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "root Cargo.toml members out of dependency order:\n  {}",
        wrong.join("\n  ")
    );
    assert_eq!(
        order.len(),
        packages.len(),
        "every package is listed in members: {order:?}"
    );
}

#[test]
fn only_store_depends_on_sqlx_and_nothing_below_the_gateway_on_tonic() {
    let packages = packages(&workspace_root());
    let mut wrong = Vec::new();
    for (name, p) in &packages {
        if let Some(kinds) = p.deps.get("sqlx") {
            let test_support =
                SQLX_DEV_DEPENDENTS.contains(&name.as_str()) && kinds.iter().all(|k| k == "dev");
            if name != STORE && !test_support {
                wrong.push(format!("{name} → sqlx ({})", join(kinds)));
            }
        }
        if BELOW_GATEWAY.contains(&name.as_str()) {
            for c in TONIC_CRATES {
                if let Some(kinds) = p.deps.get(*c) {
                    wrong.push(format!("{name} → {c} ({})", join(kinds)));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "wrong dependencies:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn only_store_sources_use_sqlx_and_no_layer_source_uses_tonic() {
    let root = workspace_root();
    let crates = root.join("crates");
    let mut files = Vec::new();
    rust_files(&crates, &mut files);
    assert!(!files.is_empty(), "no sources under {}", crates.display());
    let mut wrong = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .expect("under the root")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(f).expect("read a source file");
        // Code, not prose: a comment may say what sqlx does.
        let code: String = text
            .lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        if code.contains("sqlx")
            && !rel.starts_with("crates/store/")
            && !SQLX_IN_TEST_SUPPORT.contains(&rel.as_str())
        {
            wrong.push(format!("{rel} uses sqlx (only crates/store may)"));
        }
        // `crates/` holds the layers below the gateway, which never see the transport.
        if code.contains("tonic") {
            wrong.push(format!("{rel} uses tonic (nothing below the gateway may)"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_harness_mesh_feature_needs_nothing_above_link() {
    let root = workspace_root();
    let text =
        std::fs::read_to_string(root.join("testkit/Cargo.toml")).expect("read testkit/Cargo.toml");
    let manifest: toml::Table = text.parse().expect("testkit/Cargo.toml is TOML");
    let mesh = manifest["features"]["mesh"]
        .as_array()
        .expect("testkit has a `mesh` feature");
    let mut wrong = Vec::new();
    for f in mesh.iter().filter_map(|f| f.as_str()) {
        let dep = f.strip_prefix("dep:").unwrap_or(f);
        if dep.starts_with("safemesh-") && !MESH_MAY_ENABLE.contains(&dep) {
            wrong.push(format!("mesh enables {dep}"));
        }
    }
    // What the cluster needs stays optional, so `default-features = false, features = ["mesh"]`
    // builds without it.
    let deps = manifest["dependencies"].as_table().expect("dependencies");
    for d in [NODE, GATEWAY] {
        let optional = deps
            .get(d)
            .and_then(|v| v.get("optional"))
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if !optional {
            wrong.push(format!("testkit → {d} is not optional"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn crates_holds_only_the_layers_below_the_gateway() {
    let packages = packages(&workspace_root());
    let crates = canonical(&workspace_root().join("crates"));
    let mut wrong = Vec::new();
    for (name, p) in &packages {
        let inside = canonical(&p.manifest).starts_with(&crates);
        if inside != BELOW_GATEWAY.contains(&name.as_str()) {
            wrong.push(format!(
                "{name} ({}): crates/ is for model, doc, store, sync and link only",
                p.manifest.display()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read a directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

fn join(kinds: &BTreeSet<String>) -> String {
    kinds.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// Inside each package, imports between files point one way: a file that names another (`use
/// crate::a::b`, `super::x`, or `a::b::f` through a name it imported) never gets back to itself
/// through the files that one names. A `mod` line is not an import; test modules are not counted.
#[test]
fn imports_between_the_files_of_a_package_point_one_way() {
    let root = workspace_root();
    let mut wrong = Vec::new();
    for p in packages(&root).values() {
        let src = p
            .manifest
            .parent()
            .expect("a package directory")
            .join("src");
        if !src.is_dir() {
            continue;
        }
        let (graph, files) = file_graph(&src);
        for group in cycles(&graph) {
            let names: Vec<String> = group
                .iter()
                .map(|m| {
                    let f = &files[m];
                    f.strip_prefix(&root).unwrap_or(f).display().to_string()
                })
                .collect();
            wrong.push(names.join(", "));
        }
    }
    assert!(
        wrong.is_empty(),
        "files that reach themselves through their imports (move what they share into a file of its own):\n  {}",
        wrong.join("\n  ")
    );
}

/// A source file as its module path (`["api", "parts"]`).
type Module = Vec<String>;

/// Each source file (as its module path) and the files it imports; and each one's path.
#[allow(clippy::type_complexity)]
fn file_graph(
    src: &Path,
) -> (
    BTreeMap<Module, BTreeSet<Module>>,
    BTreeMap<Module, PathBuf>,
) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut modules: BTreeMap<Module, PathBuf> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(src).expect("under src").with_extension("");
        let mut m: Module = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if matches!(m.last().map(String::as_str), Some("mod" | "lib" | "main")) {
            m.pop();
        }
        modules.insert(m, f);
    }
    let resolve = |path: &[String]| -> Option<Module> {
        (0..=path.len())
            .rev()
            .map(|i| path[..i].to_vec())
            .find(|m| modules.contains_key(m))
    };
    let mut graph = BTreeMap::new();
    for (m, f) in &modules {
        let text = std::fs::read_to_string(f).expect("read a source file");
        let code: String = text
            .lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let code = code.split("#[cfg(test)]").next().unwrap_or("");
        let mut named: Vec<Vec<String>> = Vec::new();
        let mut aliases: Vec<(String, Vec<String>)> = Vec::new();
        for (start, kw) in keyword_starts(code) {
            let base: Vec<String> = match kw {
                "crate" => Vec::new(),
                "self" => m.clone(),
                _ => m[..m.len().saturating_sub(1)].to_vec(),
            };
            let rest = &code[start + kw.len()..];
            paths_of(rest, base, &mut named, &mut aliases);
        }
        for (alias, target) in &aliases {
            let mut from = 0;
            while let Some(i) = code[from..].find(&format!("{alias}::")) {
                let at = from + i;
                from = at + alias.len() + 2;
                let before = code[..at].chars().last();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    continue;
                }
                let mut path = target.clone();
                path.extend(segments(&code[at + alias.len()..]));
                named.push(path);
            }
        }
        let edges: BTreeSet<Module> = named
            .iter()
            .filter_map(|p| resolve(p))
            .filter(|t| t != m)
            .collect();
        graph.insert(m.clone(), edges);
    }
    (graph, modules)
}

/// Where `crate::`, `super::` and `self::` paths start (not inside a longer name or path).
fn keyword_starts(code: &str) -> Vec<(usize, &'static str)> {
    let mut out = Vec::new();
    for kw in ["crate", "super", "self"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(&format!("{kw}::")) {
            let at = from + i;
            from = at + kw.len();
            let before = code[..at].chars().last();
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                out.push((at, kw));
            }
        }
    }
    out
}

/// `::a::b` segments at the start of `rest` (stopping at anything but `::name`).
fn segments(rest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut r = rest;
    while let Some(after) = r.strip_prefix("::") {
        let n = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if n == 0 {
            break;
        }
        out.push(after[..n].to_string());
        r = &after[n..];
    }
    out
}

/// The paths a `keyword::…` names, `base` being where the keyword points; `use` groups
/// (`::{a, b::c}`) are expanded, and each name a `use` brings in is remembered as an alias.
fn paths_of(
    rest: &str,
    base: Vec<String>,
    named: &mut Vec<Vec<String>>,
    aliases: &mut Vec<(String, Vec<String>)>,
) {
    let mut path = base;
    let segs = segments(rest);
    let consumed: usize = segs.iter().map(|s| s.len() + 2).sum();
    for s in segs {
        if s == "super" {
            path.pop();
        } else {
            path.push(s);
        }
    }
    let r = &rest[consumed..];
    if let Some(inner) = r.strip_prefix("::{") {
        let mut depth = 1;
        let end = inner
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map_or(inner.len(), |(i, _)| i);
        named.push(path.clone());
        for item in split_top(&inner[..end]) {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            if item == "self" {
                if let Some(last) = path.last() {
                    aliases.push((last.clone(), path.clone()));
                }
                continue;
            }
            paths_of(&format!("::{item}"), path.clone(), named, aliases);
        }
        return;
    }
    let rest = r.trim_start();
    if let Some(alias) = rest.strip_prefix("as ") {
        let name: String = alias
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        aliases.push((name, path.clone()));
    } else if (rest.starts_with(';') || rest.starts_with(',') || rest.is_empty())
        && let Some(last) = path.last()
    {
        aliases.push((last.clone(), path.clone()));
    }
    named.push(path);
}

/// Splits a `use` group's items at its top-level commas.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// The strongly connected groups of more than one file (Tarjan), each as the files in it.
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        out: Vec<Vec<Module>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a Module) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            for w in &self.graph[v] {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.stack.contains(&w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut group = Vec::new();
                while let Some(w) = self.stack.pop() {
                    group.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    self.out.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.out
}
