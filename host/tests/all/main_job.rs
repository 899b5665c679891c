//! The README's main job: the admin's whole journey on the sample site, into an embedded
//! staging site, ends with both apps complete and their Stage figures.

use ferry_host::checks::CheckResult;
use ferry_host::demo::run_demo;
use ferry_host::migrate::Progress;
use ferry_host::sample::SampleOptions;

#[tokio::test]
async fn the_demo_walks_the_journey_and_ends_with_both_apps_complete() {
    let plugins = crate::support::wasm("page_ratings").parent().unwrap().to_path_buf();
    let home = tempfile::tempdir().unwrap();
    let r = run_demo(home.path(), &plugins, &SampleOptions::default(), Progress::hidden, None).await.unwrap();

    // Assess: three automated apps decided needed, one replaced by an alternative, disabled.
    assert_eq!(r.assessment.len(), 4);
    let macro_pack = r.assessment.iter().find(|a| a.key.ends_with("macro-pack")).unwrap();
    assert_eq!((macro_pack.path.name(), macro_pack.decision.name(), macro_pack.enabled), ("none", "alternative", false));
    assert!(r.assessment.iter().filter(|a| a.decision.name() == "needed").all(|a| a.path.name() == "automated" && a.stage.is_some()));
    // Consent given to both, preparation done.
    assert!(r.consents.iter().all(|c| c.status.map(|s| s.name()) == Some("given")), "{:?}", r.consents);
    assert!(r.apps_missing.is_empty(), "{:?}", r.apps_missing);

    // The checks named the planted errors, and the run was refused.
    let errors: Vec<&str> = r.first_checks.iter().filter(|c| c.result == CheckResult::Error).map(|c| c.code.as_str()).collect();
    assert_eq!(errors, ["users.invalid-email", "users.duplicate-email", "spaces.key-conflict"]);
    assert!(r.refused.contains("users.invalid-email"), "{}", r.refused);
    assert!(r.checks_after_fixes.iter().all(|c| c.result != CheckResult::Error));

    // The first run after the fixes: every user, space and piece of content, both apps.
    let first = &r.first_run;
    assert_eq!(first.status, "incomplete", "planted missing attachment files");
    for kind in ["users", "spaces", "pages", "blogposts"] {
        assert_eq!(first.counts[kind].server, first.counts[kind].cloud, "{kind}");
    }
    let comments = &first.counts["comments"];
    assert_eq!(comments.server, comments.cloud + crate::support::unmoved_file_comments(first), "{comments:?}");
    assert!(first.former_user > 0);
    assert_eq!(first.merged_groups, ["confluence-users", "jira-users"]);
    assert_eq!(first.stage1_choice.map(|c| format!("{c:?}")), Some("Proceed".into()));
    assert_eq!(first.apps.len(), 3);
    for app in first.apps.iter().chain(&r.second_run.apps) {
        assert_eq!(app.status, "complete", "{app:?}");
        assert!(app.uploaded_bytes > 0 && app.denied == 0, "{app:?}");
    }
    let ratings = first.apps.iter().find(|a| a.app == "com.example.confluence.page-ratings").unwrap();
    assert!(ratings.rows_per_scope["migration-tracing-product"] > 0, "it read the page mappings the core migration recorded");
    let diagrams = first.apps.iter().find(|a| a.app == "com.example.confluence.diagrams").unwrap();
    assert!(diagrams.rows_per_scope["product-data-ugc"] > 0, "it read its diagram files through contract 0.2");

    // The second plan linked everything instead of creating it again.
    assert_eq!(r.second_run.linked_users, r.second_run.counts["users"].cloud);
    assert!(r.second_run.groups_awaiting_review.is_empty());
    // Everything the first plan migrated reads back from the cloud as the server has it.
    assert!(r.verification.differences.is_empty(), "{:#?}", r.verification.differences);
    for kind in ["pages", "attachments", "versions", "space permissions", "group memberships"] {
        assert!(r.verification.checked.get(kind).is_some_and(|n| *n > 0), "{kind} compared: {:?}", r.verification.checked);
    }
    assert!(r.verification.requests > 0 && r.verification.not_compared.is_empty(), "{:?}", r.verification);

    // Two complete migrations per plugin: still Stage 1 (not enough evidence).
    assert_eq!(r.stages.len(), 3);
    for s in &r.stages {
        assert_eq!((s.attempts, s.successes, s.stage.name()), (2, 2, "stage-1-unknown"), "{s:?}");
    }

    // Then Jira Service Management into the same site: the checks warn about the
    // identity cases, and every related customer, agent and request lands.
    let warnings: Vec<&str> = r.jira_checks.iter().filter(|c| c.result == CheckResult::Warning).map(|c| c.code.as_str()).collect();
    for code in ["customers.two-accounts", "customers.full-account", "customers.former-customer"] {
        assert!(warnings.contains(&code), "{code} in {warnings:?}");
    }
    let jira = &r.jira_run;
    assert_eq!(jira.status, "finished", "{:?}", jira.failures);
    for kind in ["customers", "agents", "organizations", "requests", "comments"] {
        let c = jira.counts[kind];
        assert!(c.server > 0 && c.server == c.cloud, "{kind}: {c:?}");
    }
    assert_eq!(jira.two_accounts.len(), 1);
    assert_eq!(jira.former_customer.len(), 2);
    assert_eq!(jira.customers_with_full_accounts, 1);
    // And what the Jira plan migrated reads back as the server has it.
    let verified = &r.jira_verification;
    assert!(verified.differences.is_empty(), "{:#?}", verified.differences);
    for kind in ["requests", "comments", "customers", "organizations", "users"] {
        assert!(verified.checked.get(kind).is_some_and(|n| *n > 0), "{kind} compared: {:?}", verified.checked);
    }
}
