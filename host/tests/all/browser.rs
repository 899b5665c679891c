//! The admin's journey through the dashboard in a real Chromium, driven over WebDriver
//! (Debian's `chromium` and `chromium-driver`; `.ci/run` installs them): sign in with
//! the one-time link, decide an app, agree to its consent card, create a plan, run it
//! and watch its progress change without a reload, then open the report, the reviewer's
//! audit and the Stages. Each page is saved as a screenshot under
//! `target/test-output/dashboard/`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry_host::assess::{self, Decision};
use ferry_host::plugins::registry::Registry;
use ferry_host::staging::Faults;
use ferry_host::web;

use crate::core_migration::Cloud;
use crate::support::{target_dir, Fixture, RATINGS};
use crate::webdriver::Session;

/// A ChromeDriver process, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().flat_map(|n| std::env::split_paths(&path).map(move |dir| dir.join(n))).find(|p| p.is_file())
}

async fn start_driver() -> Driver {
    let driver = find_program(&["chromedriver"])
        .expect("the dashboard's browser tests need Chromium and ChromeDriver: `apt-get install chromium chromium-driver` (.ci/run installs them)");
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(driver).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start chromedriver");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen on {port}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Driver { child, port }
}

async fn browser(driver: &Driver, profile: &std::path::Path) -> Session {
    let chromium = find_program(&["chromium", "chromium-browser"]).expect("chromium: `apt-get install chromium`");
    // Headless, and quiet: this machine's network is closed, so no background traffic.
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                     format!("--user-data-dir={}", profile.display())],
        },
    });
    Session::new(driver.port, caps).await
}

/// Save a screenshot of the current page.
async fn shot(c: &Session, name: &str) {
    let dir = target_dir().join("test-output").join("dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), c.screenshot().await).unwrap();
}

/// The text of the element `css` finds, waiting while a page loads (and finding it
/// again if the live script replaced it meanwhile).
async fn text_of(c: &Session, css: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let found = match c.find(css).await {
            Ok(element) => element.text().await,
            Err(e) => Err(e),
        };
        match found {
            Ok(text) => return text,
            Err(e) if Instant::now() < deadline && (e.code == "stale element reference" || e.code == "no such element") => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("{css}: {e}"),
        }
    }
}

/// Wait up to 15 s for `done`.
async fn until<F: std::future::Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done().await {
        assert!(Instant::now() < deadline, "{what} did not happen within 15 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_assesses_consents_plans_runs_and_reads_the_report_in_chromium() {
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    f.install("page_ratings").await;
    assess::read_server_apps(&f.db, &f.source().await).await.unwrap();
    for app in assess::server_apps(&f.db).await.unwrap() {
        if app.key != RATINGS {
            assess::decide(&f.db, &app.key, Decision::NotNeeded).await.unwrap();
        }
    }
    let plugin = Registry::new(f.db.clone()).get(RATINGS).await.unwrap().unwrap();
    cloud.dest.admin_install_cloud_app(&plugin.cloud_app_key).await.unwrap();
    ferry_host::cloud::confirm_app(&f.db, &cloud.site.url(), &plugin.cloud_app_key).await.unwrap();
    // The admin adds the Server site and connects the Cloud site at the command line: the
    // dashboard offers only those.
    let site = ferry_host::sites::identify(&f.db, &f.source().await, None).await.unwrap();
    ferry_host::cloud::connect(&f.db, "trial", cloud.target()).await.unwrap();
    let (addr, _web, login) = web::start_with_worker(&f.home(), "127.0.0.1:0", env!("CARGO_BIN_EXE_ferry").into()).await.unwrap();
    let base = format!("http://{addr}");
    let driver = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    // Sign in with the one-time link: it lands on Home, with the three steps.
    c.goto(&format!("{base}/login?token={login}")).await;
    assert_eq!(c.current_url().await.path(), "/");
    let home = text_of(&c, "main").await;
    assert!(home.contains("1. Assess your apps") && home.contains("1 of") && home.contains("need a decision"), "{home}");
    shot(&c, "home").await;

    // Decide the app in place.
    c.goto(&format!("{base}/apps")).await;
    let row = format!("tr[data-app='{RATINGS}']");
    c.find(&format!("{row} option[value='needed']")).await.unwrap().click().await.unwrap();
    c.find(&format!("{row} button[type='submit']")).await.unwrap().click().await.unwrap();
    until("the decision", || async { assess::decision(&f.db, RATINGS).await.unwrap().0 == Decision::Needed }).await;
    c.wait_for(&row).await;
    shot(&c, "apps").await;

    // Read the consent card and agree.
    c.find(&format!("{row} a[href$='/consent']")).await.unwrap().click().await.unwrap();
    c.wait_for("#agree").await;
    let card = text_of(&c, "main").await;
    assert!(card.contains(&plugin.sha256) && card.contains("What the plugin may read and do"), "{card}");
    shot(&c, "consent").await;
    c.find("#agree").await.unwrap().click().await.unwrap();
    until("consent", || async {
        ferry_host::consent::list(&f.db).await.unwrap().iter().find(|l| l.app == RATINGS).unwrap().status == ferry_host::consent::ConsentStatus::Given
    })
    .await;
    until("the card to say so", || async { text_of(&c, "#consent-status").await.starts_with("given") }).await;

    // Create a plan with the form.
    c.goto(&format!("{base}/plans")).await;
    let fill = "const form = document.querySelector('#create'); \
                for (const [name, value] of Object.entries(arguments[0])) form.elements[name].value = value; \
                form.querySelector('button[type=submit]').click();";
    let fields = serde_json::json!({
        "name": "browser plan",
        "source": site.id,
        "attachments": f.site.join("attachments").display().to_string(),
        "cloud": "trial",
        "users": "none",
        "spaces": "ENG,MKT",
    });
    c.execute(fill, vec![fields]).await;
    // The form posts, then lands on the new plan's page.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !c.current_url().await.path().starts_with("/plans/") {
        assert!(Instant::now() < deadline, "the plan form did not lead to the plan's page");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.wait_for("main").await;
    let plan = ferry_host::plan::Plan::list(&f.db).await.unwrap().into_iter().next().expect("the plan was saved");
    assert_eq!((plan.name.as_str(), plan.plan_apps.len()), ("browser plan", 1));
    assert!(text_of(&c, "main").await.contains("Not run yet"));

    // Run it (proceeding with the Stage 1 app) and watch it change without a reload.
    c.goto(&format!("{base}/plans")).await;
    c.execute("window.notReloaded = true;", vec![]).await;
    let plan_row = format!("tr[data-plan='{}']", plan.id);
    c.find(&format!("{plan_row} option[value='proceed']")).await.unwrap().click().await.unwrap();
    c.execute("window.beforeRun = true;", vec![]).await;
    c.find(&format!("{plan_row} form[action$='/run'] button")).await.unwrap().click().await.unwrap();
    // The form posts and the answer leads back to the plans page: wait for that new page
    // (the old one may still be showing for a while) before marking it.
    until("the run's answer to load the plans page again", || async {
        matches!(c.execute_quiet("return window.beforeRun === undefined && document.readyState === 'complete';").await, Some(serde_json::Value::Bool(true)))
    })
    .await;
    c.wait_for(&plan_row).await;
    c.execute("window.notReloaded = true;", vec![]).await;
    let first = text_of(&c, &format!("{plan_row} .plan-status")).await;
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut seen = vec![first.clone()];
    loop {
        let status = text_of(&c, &format!("{plan_row} .plan-status")).await;
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status != "running" && status != "saved" {
            break;
        }
        assert!(Instant::now() < deadline, "the page still says {status} after 3 minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let still = c.execute("return window.notReloaded === true;", vec![]).await;
    assert_eq!(still, serde_json::json!(true), "the page was not reloaded");
    // The sample's spaces plant failures (missing files, bad emails): incomplete is an end.
    assert!(matches!(seen.last().map(String::as_str), Some("finished" | "incomplete")), "statuses seen: {seen:?}");
    assert!(seen.len() >= 2, "the status changed on the page: {seen:?}");
    let progress = text_of(&c, &format!("{plan_row} .plan-progress")).await;
    assert!(progress.contains("pages"), "the step counts arrived live: {progress}");
    // The app's status arrives too, and the Stop button goes once the plan ended.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !text_of(&c, &format!("{plan_row} .plan-apps")).await.contains("complete") {
        assert!(Instant::now() < deadline, "the app's status did not arrive: {}", text_of(&c, &format!("{plan_row} .plan-apps")).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stop = c.find(&format!("{plan_row} form.when-running")).await.unwrap();
    assert!(!stop.is_displayed().await.unwrap(), "no Stop button on an ended plan");
    shot(&c, "plans").await;

    // The report, the reviewer's audit and the Stages.
    c.find(&format!("{plan_row} a[href='/plans/{}']", plan.id)).await.unwrap().click().await.unwrap();
    let report = text_of(&c, "main").await;
    assert!(report.contains("Server and cloud counts") && report.contains("What each plugin read") && report.contains("app-tables.read"), "{report}");
    assert!(report.contains("No access was denied."), "{report}");
    shot(&c, "report").await;
    c.goto(&format!("{base}/plugins")).await;
    let audit = text_of(&c, "main").await;
    assert!(audit.contains(&plugin.sha256) && audit.contains("What the component imports") && audit.contains("Declared scopes"), "{audit}");
    shot(&c, "plugins").await;
    c.goto(&format!("{base}/stages")).await;
    assert!(c.find(&format!("tr[data-app='{RATINGS}'] svg.stage-bar")).await.is_ok());
    shot(&c, "stages").await;
    c.close().await;
}
