//! The layering written in `src/lib.rs` holds: each top-level module
//! imports only the modules listed after it there (`crate::x` paths in its
//! files, unit tests left out). A new import against the order fails here,
//! naming the file, instead of growing a cycle.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers from `src/lib.rs`'s list, top (may import everything below) first.
fn layers(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|line| line.strip_prefix("//! - [`"))
        .filter_map(|rest| rest.split_once("`]").map(|(name, _)| name.to_owned()))
        .collect()
}

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(path).expect("a readable dir").map(|e| e.expect("an entry").path()).collect();
        entries.sort();
        for entry in entries {
            rust_files(&entry, out);
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_owned());
    }
}

/// The top-level modules a file names as `crate::<module>`, unit tests left out.
fn imported(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        found.insert(name);
    }
    found
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let order = layers(&std::fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs"));
    assert!(order.len() >= 10, "the layer list in src/lib.rs: {order:?}");
    let mut wrong = Vec::new();
    for (rank, layer) in order.iter().enumerate() {
        let mut files = Vec::new();
        rust_files(&src.join(layer), &mut files);
        rust_files(&src.join(format!("{layer}.rs")), &mut files);
        assert!(!files.is_empty(), "src/lib.rs lists `{layer}`, which has no files");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("a source file");
            for other in imported(&text) {
                let Some(other_rank) = order.iter().position(|l| *l == other) else { continue };
                if other_rank < rank {
                    wrong.push(format!("{} imports `{other}`, a layer above `{layer}`", file.display()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers of src/lib.rs:\n{}", wrong.join("\n"));
}

#[test]
fn the_checker_sees_an_import_against_the_order() {
    let order = layers("//! - [`bot`]: x\n//! - [`db`]: y\n");
    assert_eq!(order, ["bot", "db"]);
    assert_eq!(imported("use crate::bot::Thing;\nlet x = crate::db::f();"), BTreeSet::from(["bot".into(), "db".into()]));
    assert!(imported("use crate::bot::Thing;\n#[cfg(test)]\nmod tests { use crate::app; }").contains("bot"));
    assert!(!imported("#[cfg(test)]\nmod tests { use crate::app; }").contains("app"));
    assert!(imported("$crate::x and mycrate::y").is_empty());
}

/// Lines of `text` that write an asset's status, unit tests left out.
fn status_writes(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines()
        .filter(|line| line.contains("Set(AssetStatus::") || line.contains("Expr::value(AssetStatus::"))
        .map(|line| line.trim().to_owned())
        .collect()
}

/// One owner of the lifecycle: an asset's status is written only by the
/// lifecycle's writer (`db/asset_moves.rs`, which applies the domain's
/// `AssetMove`s) — and a new row starts `pending` in the one row builder.
#[test]
fn only_the_lifecycle_writer_sets_an_asset_status() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let builder = src.join("db/entities/video_assets.rs");
    let mut wrong = Vec::new();
    for file in files {
        // a unit-test module of its own (`tests.rs`) builds rows as it likes
        if file.file_name().is_some_and(|name| name == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("a source file");
        let writes = status_writes(&text);
        let allowed = usize::from(file == builder);
        if writes.len() > allowed {
            wrong.push(format!("{}: {}", file.display(), writes.join(" | ")));
        }
    }
    assert!(wrong.is_empty(), "an asset's status written outside db/asset_moves.rs:\n{}", wrong.join("\n"));
    assert_eq!(
        status_writes("active.status = Set(AssetStatus::Failed);\n.col_expr(C, Expr::value(AssetStatus::Pending))").len(),
        2
    );
}
