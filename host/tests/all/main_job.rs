//! The README's main job: the sample site migrated to an embedded staging site, with the
//! app plugins, ends with every rule visible in the report.

use ferry_host::demo::run_demo;
use ferry_host::migrate::Progress;
use ferry_host::sample::SampleOptions;

#[tokio::test]
async fn the_demo_migrates_the_sample_site_and_runs_both_plugins() {
    let plugins = crate::support::wasm("page_ratings").parent().unwrap().to_path_buf();
    let home = tempfile::tempdir().unwrap();
    let report = run_demo(home.path(), &plugins, &SampleOptions::default(), Progress::hidden()).await.unwrap();
    let plan = &report.plan;
    // The planted cases: two bad emails, the DOC key taken in the cloud, missing files.
    assert_eq!(plan.status, "incomplete");
    assert_eq!(plan.counts["users"].failed, 2);
    assert_eq!(plan.counts["spaces"].failed, 1);
    assert!(plan.counts["attachments"].failed > 0);
    assert!(plan.former_user > 0);
    assert_eq!(plan.merged_groups, ["confluence-users", "jira-users"]);
    assert_eq!(plan.dropped_permissions.len(), 1);
    for kind in ["pages", "blogposts", "comments"] {
        assert_eq!(plan.counts[kind].server, plan.counts[kind].cloud, "{kind}");
    }
    // Both apps ran after the core migration and uploaded to their transfers.
    assert_eq!(report.apps.len(), 2);
    for app in &report.apps {
        assert!(app.uploaded_bytes > 0, "{app:?}");
        assert_eq!(app.denied, 0);
        // Data of the DOC space, which did not migrate, is reported, not lost silently.
        assert_eq!(app.status, "incomplete", "{app:?}");
    }
    let ratings = report.apps.iter().find(|a| a.app == "com.example.confluence.page-ratings").unwrap();
    assert!(ratings.rows_per_scope["migration-tracing-product"] > 0, "it read the page mappings the core migration recorded");
}
