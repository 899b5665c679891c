//! Contract versions served side by side: a plugin built against the frozen 0.1 WIT runs
//! unchanged, and 0.2's attachments are read under `product-data-ugc`, bounded, within the
//! migration's spaces.

use std::path::PathBuf;
use std::sync::Arc;

use ferry_host::plugins::gate::Grant;
use ferry_host::plugins::limits::Limits;
use ferry_host::plugins::local::{run_installed, LocalRun};
use ferry_host::plugins::run::{RunReport, RunStatus};
use ferry_host::plugins::uploads::DirectorySink;
use ferry_manifest::Scope;
use sqlx::Row;

use crate::support::{audit, engine, no_mappings, wasm_bytes, Fixture, RATINGS};

const PROBE: &str = "com.example.confluence.attachment-probe";

async fn run(f: &Fixture, app: &str, name: &str, attachments: Option<PathBuf>, grant: Option<Arc<Grant>>) -> RunReport {
    let run = LocalRun {
        name: Some(name.into()),
        attachments,
        grant,
        limits: Limits::default(),
        ..LocalRun::new(f.source().await, Box::new(DirectorySink::new(f.out()).unwrap()), no_mappings())
    };
    run_installed(&f.db, engine(), app, run).await.unwrap()
}

fn fnv1a(bytes: &[u8]) -> String {
    let mut hash = 0xcbf29ce484222325u64;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    format!("{hash:016x}")
}

#[tokio::test]
async fn a_plugin_built_against_the_frozen_0_1_wit_installs_and_runs_unchanged() {
    let report = audit(&wasm_bytes("contract_v0_1"));
    assert_eq!(report.verdict, ferry_host::plugins::audit::Verdict::Ok, "{:?}", report.problems);
    assert_eq!(report.contract.as_deref(), Some("0.1.0"));
    let ferry_imports: Vec<&str> = report.imports.iter().filter(|i| i.kind == "ferry").map(|i| i.name.as_str()).collect();
    assert!(!ferry_imports.is_empty() && ferry_imports.iter().all(|i| i.ends_with("@0.1.0")), "{ferry_imports:?}");
    assert!(ferry_imports.iter().all(|i| !i.contains("attachments")), "0.1 has no attachments: {ferry_imports:?}");

    let f = Fixture::new().await;
    f.install("contract_v0_1").await;
    let r = run(&f, RATINGS, "v0.1", None, None).await;
    assert_eq!(r.status, RunStatus::Complete, "{:?}", r.message);
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", f.source_url)).await.unwrap();
    let ratings: i64 = sqlx::query("SELECT COUNT(*) FROM AO_530061_RATING").fetch_one(&pool).await.unwrap().get(0);
    assert_eq!(f.uploads(), vec![("0001-count.txt".to_string(), ratings.to_string())]);
    assert_eq!(r.progress_message, "counted through contract 0.1");
}

#[tokio::test]
async fn a_0_2_plugin_reads_every_attachment_of_its_spaces_in_chunks() {
    let f = Fixture::new().await;
    f.install("attachment_probe").await;
    let root = f.site.join("attachments");
    let r = run(&f, PROBE, "all", Some(root.clone()), None).await;
    assert_eq!(r.status, RunStatus::Complete, "{:?}", r.message);
    let uploads = f.uploads();
    let lines: Vec<serde_json::Value> = uploads.iter().flat_map(|(_, text)| text.lines()).map(|l| serde_json::from_str(l).unwrap()).collect();

    // The host's own view of every current attachment of the migrated spaces.
    let source = f.source().await;
    let mut expected = Vec::new();
    for space in source.spaces().await.unwrap() {
        expected.extend(source.attachments_of_space(space.id, &root).await.unwrap());
    }
    assert_eq!(lines.len(), expected.len());
    assert!(lines.len() >= 60, "the sample has an attachment per page: {}", lines.len());
    let mut missing = 0;
    for item in &expected {
        let line = lines
            .iter()
            .find(|l| l["id"].as_str().and_then(|id| id.parse().ok()) == Some(item.id))
            .unwrap_or_else(|| panic!("attachment {} not listed", item.id));
        assert_eq!(line["file_name"], item.file_name.as_str());
        assert_eq!(line["content_id"], item.page_id.to_string());
        assert_eq!(line["media_type"], item.media_type.as_str());
        match std::fs::read(&item.path) {
            Ok(bytes) => {
                assert_eq!((line["read"].as_u64().unwrap(), line["size"].as_u64().unwrap()), (bytes.len() as u64, bytes.len() as u64));
                assert_eq!(line["fnv"], fnv1a(&bytes));
            }
            Err(_) => {
                missing += 1;
                assert!(line["missing"].as_str().unwrap().contains("is missing from the Server's attachments folder"), "{line}");
            }
        }
    }
    assert!(missing > 0, "the sample has attachments without a file");
    let used = &r.access["product-data-ugc"];
    assert!(used.calls > 0 && used.bytes > 0 && used.denied == 0, "{used:?}");
}

#[tokio::test]
async fn attachments_stay_within_the_migration_and_each_read_is_bounded() {
    let f = Fixture::new().await;
    f.install("attachment_probe").await;
    let root = f.site.join("attachments");
    let source = f.source().await;
    let spaces = source.spaces().await.unwrap();
    let (inside, outside) = (&spaces[0], &spaces[1]);
    let theirs = source.attachments_of_space(outside.id, &root).await.unwrap()[0].clone();

    // An attachment of a space outside the migration is not found, whether listed or read.
    let run_in = |name: String| {
        let (f, root, key) = (&f, root.clone(), inside.key.clone());
        async move {
            let run = LocalRun {
                name: Some(name),
                attachments: Some(root),
                spaces: Some(vec![key]),
                ..LocalRun::new(f.source().await, Box::new(DirectorySink::new(f.out()).unwrap()), no_mappings())
            };
            run_installed(&f.db, engine(), PROBE, run).await.unwrap()
        }
    };
    let r = run_in(format!("outside:{}", theirs.id)).await;
    let message = r.message.unwrap();
    assert!(message.starts_with(&format!("list: not found: content {} (current pages and blog posts only)", theirs.id)), "{message}");
    assert!(message.ends_with(&format!("read: not found: space {} is not part of this migration", outside.key)), "{message}");

    // A read asking for 4 GiB gets at most 1 MiB.
    let ours = source.attachments_of_space(inside.id, &root).await.unwrap().into_iter().find(|a| a.path.is_file()).unwrap();
    let first = source.attachments_of_space(inside.id, &root).await.unwrap()[0].clone();
    assert_eq!(first.id, ours.id, "the first attachment of the space has its file");
    std::fs::write(&ours.path, vec![b'x'; 3 << 20]).unwrap();
    let r = run_in("greedy".into()).await;
    assert_eq!(r.message.as_deref(), Some("asked 4294967295, got 1048576 of 3145728"));

    // Without the folder, reads say what is missing; without the scope, each call is denied.
    let r = run(&f, PROBE, "all", None, None).await;
    assert_eq!(r.status, RunStatus::Failed);
    assert!(r.message.as_deref().unwrap().contains("this run was given no attachments folder"), "{:?}", r.message);
    let run = LocalRun {
        name: Some("all".into()),
        attachments: Some(root.clone()),
        deny: ferry_manifest::ScopeSet::EMPTY.with(Scope::ProductDataUgc),
        ..LocalRun::new(f.source().await, Box::new(DirectorySink::new(f.out()).unwrap()), no_mappings())
    };
    let r = run_installed(&f.db, engine(), PROBE, run).await.unwrap();
    assert_eq!(r.status, RunStatus::Failed);
    assert!(r.denials.iter().any(|d| d.function == "attachments.list" && d.denied_scope == Some(Scope::ProductDataUgc)), "{:?}", r.denials);
}

/// The Diagrams plugin (contract 0.2) on the sample site's diagrams (attachments named
/// in the app's table), plus one diagram whose attachment is gone.
#[tokio::test]
async fn the_diagrams_plugin_moves_each_diagram_file_with_its_page_and_owner() {
    const DIAGRAMS: &str = "com.example.confluence.diagrams";
    let f = Fixture::new().await;
    f.install("diagrams").await;
    let root = f.site.join("attachments");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", f.source_url)).await.unwrap();
    let rows: Vec<(i64, String, i64, String, i64)> = sqlx::query("SELECT ID, NAME, PAGE_ID, OWNER_KEY, REVISION FROM AO_74243D_DIAGRAM ORDER BY ID")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert!(rows.len() >= 5, "{rows:?}");
    assert!(rows.iter().any(|r| r.3 == "8a7f808adeleted0"), "a diagram owned by a deleted user");
    sqlx::query("INSERT INTO AO_74243D_DIAGRAM (ID, NAME, PAGE_ID, OWNER_KEY, REVISION) VALUES (999, 'gone.drawio', ?, NULL, 1)")
        .bind(rows[0].2)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let source = f.source().await;
    let mappings = ferry_host::plugins::local::auto_mappings(&source).await.unwrap();
    let run = LocalRun {
        name: Some("diagrams".into()),
        attachments: Some(root.clone()),
        ..LocalRun::new(source.clone(), Box::new(DirectorySink::new(f.out()).unwrap()), mappings.clone())
    };
    let r = run_installed(&f.db, engine(), DIAGRAMS, run).await.unwrap();
    assert_eq!(r.status, RunStatus::Incomplete, "{:?}", r.message);
    assert_eq!(r.message.as_deref(), Some("1 diagrams have no file on the Server (restore the attachment, then re-run)"));

    let uploads = f.uploads();
    let metadata: Vec<serde_json::Value> = uploads
        .iter()
        .filter(|(name, _)| name.ends_with("-diagrams.jsonl"))
        .flat_map(|(_, text)| text.lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(metadata.len(), rows.len());
    let pages: std::collections::BTreeMap<i64, Vec<ferry_host::source::AttachmentItem>> = {
        let mut by_page = std::collections::BTreeMap::new();
        for space in source.spaces().await.unwrap() {
            for a in source.attachments_of_space(space.id, &root).await.unwrap() {
                by_page.entry(a.page_id).or_insert_with(Vec::new).push(a);
            }
        }
        by_page
    };
    let owners =
        mappings.lookup("identity:user", &rows.iter().map(|r| format!("confluence.userkey/{}", r.3)).collect::<Vec<_>>(), &Default::default()).await.unwrap();
    for (id, name, page, owner, revision) in &rows {
        let line = metadata.iter().find(|m| m["server_id"] == *id).unwrap_or_else(|| panic!("diagram {id} not uploaded"));
        let file = pages[page].iter().find(|a| &a.file_name == name).unwrap();
        let bytes = std::fs::read(&file.path).unwrap();
        assert!(name.ends_with(".drawio") && bytes.starts_with(b"<mxfile"), "{name} is a draw.io diagram");
        assert_eq!(line["media_type"], "application/vnd.jgraph.mxfile");
        assert_eq!((line["name"].as_str().unwrap(), line["revision"].as_i64().unwrap()), (name.as_str(), *revision));
        assert_eq!(line["page_id"], format!("auto-page-{page}"));
        assert_eq!(line["size"], bytes.len());
        let expected_owner = owners.iter().find(|(k, _)| k == &format!("confluence.userkey/{owner}")).map(|(_, c)| c.clone());
        assert_eq!(line["owner_account_id"].as_str().map(str::to_string), expected_owner, "diagram {id}");
        let uploaded = uploads.iter().find(|(f, _)| f.ends_with(&format!("-diagram-{id}.drawio"))).unwrap();
        assert_eq!(uploaded.1.as_bytes(), bytes.as_slice());
    }
    assert!(metadata.iter().any(|m| m["owner_account_id"].is_null()), "the deleted owner is sent as null");
    assert!(r.access["product-data-ugc"].calls > 0 && r.access["app-data-pii"].calls > 0, "{:?}", r.access);
}
