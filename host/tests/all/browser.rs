//! The admin's whole journey through the dashboard in a real Chromium, driven over
//! WebDriver (Debian's `chromium` and `chromium-driver`; `.ci/run` installs them), with
//! no command line: sign in with the one-time link, add the Server site and connect the
//! Cloud site, trust the vendor's key and upload its plugin, assess and decide the apps,
//! mark the needed one installed in the cloud, agree to its consent card, create a plan
//! (a refusal first, keeping the input), run its checks and the plan, watch its progress
//! change without a reload, read the report, the Stages, make an API token, and meet the
//! not-found page; the plans page is measured at 1366 px and on a tablet. Each page is
//! saved as a screenshot under `target/test-output/dashboard/`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry_host::assess::{self, Decision};
use ferry_host::plugins::registry::Registry;
use ferry_host::staging::Faults;
use ferry_host::web;

use crate::core_migration::Cloud;
use crate::support::{target_dir, wasm_bytes, Fixture, RATINGS};
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

/// Fill the form `form` (CSS) with `fields` (name → value; a checkbox is ticked by a
/// non-empty value), send it, and wait until the page it answers with has loaded.
async fn submit(c: &Session, form: &str, fields: serde_json::Value) {
    let fill = "const form = document.querySelector(arguments[0]); \
                for (const [name, value] of Object.entries(arguments[1])) { \
                  const field = form.elements[name]; \
                  if (field.type === 'checkbox') field.checked = value !== ''; else field.value = value; } \
                window.beforeSubmit = true; \
                form.querySelector('button[type=submit]').click();";
    c.execute(fill, vec![serde_json::json!(form), fields]).await;
    until_loaded(c).await;
}

/// Wait until the document marked `window.beforeSubmit` was replaced by a loaded one.
async fn until_loaded(c: &Session) {
    until("the form's answer to load", || async {
        matches!(c.execute_quiet("return window.beforeSubmit === undefined && document.readyState === 'complete';").await, Some(serde_json::Value::Bool(true)))
    })
    .await;
}

/// Click `css` and wait for the page it leads to.
async fn click_and_load(c: &Session, css: &str) {
    c.execute("window.beforeSubmit = true;", vec![]).await;
    c.find(css).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.unwrap();
    until_loaded(c).await;
}

/// What the page says it did (its `.done` box), or a panic with what it refused instead.
async fn done(c: &Session) -> String {
    let shown = text_of(c, "main .done, main .error").await;
    let class = c.execute("return document.querySelector('main .done, main .error').className;", vec![]).await;
    assert_eq!(class, serde_json::json!("done"), "the page refused: {shown}");
    shown
}

/// Whether the page fits the window's width (nothing to scroll sideways), and the right
/// edge of the element `css` is inside the window.
async fn fits(c: &Session, css: &str) -> (bool, serde_json::Value) {
    let measured = c
        .execute(
            "const e = document.querySelector(arguments[0]); \
             return { page: document.documentElement.scrollWidth, window: window.innerWidth, right: e ? e.getBoundingClientRect().right : null };",
            vec![serde_json::json!(css)],
        )
        .await;
    let page = measured["page"].as_f64().unwrap();
    let window = measured["window"].as_f64().unwrap();
    let right = measured["right"].as_f64().unwrap_or(0.0);
    (page <= window + 1.0 && right <= window + 1.0, measured)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_up_assesses_consents_plans_runs_and_reads_the_report_in_chromium() {
    let f = Fixture::new().await;
    let cloud = Cloud::start(Faults::default()).await;
    // The vendor ships a signed plugin and publishes its key; the admin installs the cloud
    // app on the Cloud site. Everything else happens in the browser.
    let vendor = tempfile::tempdir().unwrap();
    let public = ferry_host::plugins::signature::keygen(&vendor.path().join("vendor.key")).unwrap();
    let signing = ferry_host::plugins::signature::read_signing_key(&vendor.path().join("vendor.key")).unwrap();
    let plugin_file = vendor.path().join("page_ratings.wasm");
    std::fs::write(&plugin_file, ferry_host::plugins::signature::sign(&wasm_bytes("page_ratings"), &signing).unwrap()).unwrap();
    let manifest = crate::support::audit(&wasm_bytes("page_ratings")).manifest.expect("the plugin's manifest");
    cloud.dest.admin_install_cloud_app(&manifest.cloud_app_key).await.unwrap();
    // `ferry serve --secret-env …`: the variables the admin lets the Sites page name.
    let allowed = [crate::core_migration::TOKEN_ENV, crate::core_migration::SCIM_KEY_ENV, crate::core_migration::APP_SECRET_ENV];
    let (addr, _web, login) = web::start_with_worker(&f.home(), "127.0.0.1:0", env!("CARGO_BIN_EXE_ferry").into(), &allowed).await.unwrap();
    let base = format!("http://{addr}");
    let driver = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    // Sign in with the one-time link: it lands on Home, with the three steps.
    c.goto(&format!("{base}/login?token={login}")).await;
    assert_eq!(c.current_url().await.path(), "/");
    let home = text_of(&c, "main").await;
    assert!(home.contains("1. Assess your apps") && home.contains("Not started") && home.contains("Add the Server site"), "{home}");
    shot(&c, "home").await;

    // Sites: add the Server site, then connect the Cloud site (a mistake first: the
    // answer keeps what was typed and says what is wrong).
    c.goto(&format!("{base}/sites")).await;
    submit(&c, "#add-server", serde_json::json!({ "source": f.source_url, "name": "wiki" })).await;
    assert!(text_of(&c, "main").await.contains("Added wiki"));
    let target = cloud.target();
    let pairs = |pick: fn(&ferry_host::cloud::AppLink) -> Option<&String>| {
        target.apps.iter().filter_map(|(app, link)| pick(link).map(|v| format!("{app}={v}"))).collect::<Vec<_>>().join("\n")
    };
    let connect = serde_json::json!({
        "name": "trial", "url": target.url, "email": target.email, "token_env": crate::core_migration::TOKEN_ENV,
        "scim_url": target.scim_url, "scim_token_env": "", "app_secret_envs": pairs(|l| l.secret_env.as_ref()), "app_endpoints": pairs(|l| l.endpoint.as_ref()),
    });
    submit(&c, "#connect-cloud", connect.clone()).await;
    let refused = text_of(&c, "#connect-cloud .error").await;
    assert!(refused.contains("a directory needs both its URL and the variable"), "{refused}");
    let kept = c.execute("return document.querySelector('#connect-cloud').elements['url'].value;", vec![]).await;
    assert_eq!(kept, serde_json::json!(target.url), "what was typed is kept");
    shot(&c, "sites-refused").await;
    let mut connect = connect;
    connect["scim_token_env"] = serde_json::json!(target.scim_token_env);
    submit(&c, "#connect-cloud", connect).await;
    let connected = done(&c).await;
    assert!(connected.contains("Connected trial") && connected.contains("proven:"), "{connected}");
    shot(&c, "sites").await;

    // Plugins: trust the vendor's key, then upload the plugin file.
    c.goto(&format!("{base}/plugins")).await;
    submit(&c, "#trust", serde_json::json!({ "name": "Page Ratings Inc.", "public_key": public.to_string() })).await;
    assert!(done(&c).await.contains("as Page Ratings Inc."));
    c.find("#install input[name=plugin]").await.unwrap().send_keys(&plugin_file.display().to_string()).await.unwrap();
    click_and_load(&c, "#install button[type=submit]").await;
    let installed = done(&c).await;
    assert!(installed.contains("Installed") && installed.contains("Page Ratings Inc."), "{installed}");
    let plugin = Registry::new(f.db.clone()).get(RATINGS).await.unwrap().expect("installed from the page");
    let audit = text_of(&c, "main").await;
    assert!(audit.contains(&plugin.sha256) && audit.contains("What the component imports") && audit.contains("Declared scopes"), "{audit}");
    shot(&c, "plugins").await;

    // Apps: assess the site, decide each app, mark the needed one installed in the cloud.
    c.goto(&format!("{base}/apps")).await;
    click_and_load(&c, "form[action='/apps/assess'] button").await;
    let row = format!("tr[data-app='{RATINGS}']");
    for app in assess::server_apps(&f.db).await.unwrap() {
        let decision = if app.key == RATINGS { "needed" } else { "not-needed" };
        let form = format!("tr[data-app='{}'] form[action$='/decision']", app.key);
        submit(&c, &form, serde_json::json!({ "decision": decision })).await;
    }
    assert_eq!(assess::decision(&f.db, RATINGS).await.unwrap().0, Decision::Needed);
    click_and_load(&c, &format!("{row} form[action$='/installed'] button")).await;
    assert!(text_of(&c, &format!("{row} td.installed")).await.contains("on trial"));
    shot(&c, "apps").await;

    // Read the consent card and agree: the box must be ticked first.
    click_and_load(&c, &format!("{row} a[href$='/consent']")).await;
    let card = text_of(&c, "main").await;
    assert!(card.contains(&plugin.sha256) && card.contains("What the plugin may read and do") && !card.contains("What changed since"), "{card}");
    assert!(c.find("#revoke").await.is_err(), "no Revoke before consent");
    shot(&c, "consent").await;
    submit(&c, "#agree-form", serde_json::json!({ "confirm": "yes" })).await;
    until("the card to say so", || async { text_of(&c, "#consent-status").await.starts_with("given") }).await;
    assert!(c.find("#agree").await.is_err() && c.find("#revoke").await.is_ok(), "once given, only Revoke");
    let home = {
        c.goto(&format!("{base}/")).await;
        text_of(&c, "main").await
    };
    assert!(home.contains("Consent given for the needed app"), "{home}");

    // Create a plan with the form: a refusal keeps the input and speaks of the form's fields.
    c.goto(&format!("{base}/plans")).await;
    click_and_load(&c, "a.primary[href='/plans/new']").await;
    let site = ferry_host::sites::list(&f.db).await.unwrap().remove(0);
    let mut fields = serde_json::json!({
        "name": "browser plan",
        "source": site.id,
        "attachments": f.site.join("attachments").display().to_string(),
        "cloud": "trial",
        "users": "none",
        "spaces": "none",
        "attachments_only": "yes",
        "trusted_domains": "example.com",
    });
    submit(&c, "#create", fields.clone()).await;
    let refused = text_of(&c, "#create .error").await;
    assert!(refused.contains("“Attachments only” needs spaces") && !refused.contains("--"), "{refused}");
    let kept = c
        .execute(
            "const f = document.querySelector('#create').elements; return [f['name'].value, f['trusted_domains'].value, f['attachments_only'].checked];",
            vec![],
        )
        .await;
    assert_eq!(kept, serde_json::json!(["browser plan", "example.com", true]));
    shot(&c, "plan-form-refused").await;
    fields["spaces"] = serde_json::json!("ENG,MKT");
    fields["attachments_only"] = serde_json::json!("");
    submit(&c, "#create", fields).await;
    assert!(c.current_url().await.path().starts_with("/plans/"), "the plan form leads to the plan's page");
    let plan = ferry_host::plan::Plan::list(&f.db).await.unwrap().into_iter().next().expect("the plan was saved");
    assert_eq!((plan.name.as_str(), plan.plan_apps.len(), plan.trusted_domains.clone()), ("browser plan", 1, vec!["example.com".to_string()]));
    assert!(text_of(&c, "main").await.contains("Not run yet"));

    // Run its checks: a summary, then Run (proceeding with the Stage 1 app) from there.
    c.goto(&format!("{base}/plans")).await;
    let plan_row = format!("tr[data-plan='{}']", plan.id);
    click_and_load(&c, &format!("{plan_row} form[action$='/check'] button")).await;
    let summary = text_of(&c, "#checks-summary").await;
    assert!(summary.contains("0 errors") && summary.contains("passed"), "{summary}");
    shot(&c, "checks").await;
    submit(&c, "#run", serde_json::json!({ "stage1": "proceed" })).await;
    assert_eq!(c.current_url().await.path(), "/plans");
    // Watch it change without a reload.
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
    // The status tabs' counts follow without a reload.
    let ended = seen.last().unwrap().clone();
    until("the tab counts to follow", || async {
        text_of(&c, "#status-tabs .count[data-status='running']").await == "0"
            && text_of(&c, &format!("#status-tabs .count[data-status='{ended}']")).await == "1"
    })
    .await;
    let label = c.execute(&format!("return document.querySelector(\"{plan_row} .plan-status\").className;"), vec![]).await;
    assert!(label.as_str().unwrap().contains(&format!("status-{}", seen.last().unwrap())), "the status colour follows: {label}");
    let progress = text_of(&c, &format!("{plan_row} .plan-progress")).await;
    assert!(progress.contains("pages") && progress.contains("100 %"), "the step counts arrived live: {progress}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !text_of(&c, &format!("{plan_row} .plan-apps")).await.contains("complete") {
        assert!(Instant::now() < deadline, "the app's status did not arrive: {}", text_of(&c, &format!("{plan_row} .plan-apps")).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stop = c.find(&format!("{plan_row} form.when-running")).await.unwrap();
    assert!(!stop.is_displayed().await.unwrap(), "no Stop button on an ended plan");
    shot(&c, "plans").await;

    // At 1366 px and on a tablet, the plans page fits: nothing scrolls sideways and the
    // actions column is in view at 1366.
    c.set_window_size(1366, 900).await;
    c.goto(&format!("{base}/plans")).await;
    c.wait_for(&plan_row).await;
    let (ok, measured) = fits(&c, &format!("{plan_row} td:last-child")).await;
    assert!(ok, "at 1366 px the plans table fits: {measured}");
    c.set_window_size(820, 1180).await;
    c.goto(&format!("{base}/plans")).await;
    c.wait_for(&plan_row).await;
    let (ok, measured) = fits(&c, "header").await;
    assert!(ok, "on a tablet the page does not scroll sideways: {measured}");
    shot(&c, "plans-tablet").await;
    c.set_window_size(1280, 900).await;

    // The report: every section, named entities, the exports; times in the admin's zone.
    c.goto(&format!("{base}/plans/{}", plan.id)).await;
    let report = text_of(&c, "main").await;
    assert!(report.contains("Server and cloud counts") && report.contains("What each plugin read") && report.contains("app-tables.read"), "{report}");
    assert!(
        report.contains("No access was denied.") && report.contains("the failures (CSV)") && report.contains("The checks the run started with"),
        "{report}"
    );
    let time = c.execute("const t = document.querySelector('time'); return [t.textContent, t.title];", vec![]).await;
    assert!(!time[0].as_str().unwrap().ends_with(" UTC") && time[1].as_str().unwrap().ends_with('Z'), "dates shown in the browser's zone: {time}");
    shot(&c, "report").await;
    c.goto(&format!("{base}/stages")).await;
    assert!(c.find(&format!("tr[data-app='{RATINGS}'] svg.stage-bar")).await.is_ok());
    shot(&c, "stages").await;

    // API tokens: made in the page and shown once.
    c.goto(&format!("{base}/tokens")).await;
    submit(&c, "#create-token", serde_json::json!({ "name": "ci" })).await;
    let secret = text_of(&c, "#new-token").await;
    assert!(secret.starts_with("ferry_"), "{secret}");
    shot(&c, "tokens").await;
    assert_eq!(ferry_host::web::auth::check_token(&f.db, &secret).await.unwrap().as_deref(), Some("ci"));

    // An address that is no page: the not-found page, inside the layout.
    c.goto(&format!("{base}/no/such/page")).await;
    assert!(text_of(&c, "main h1").await == "Not found" && c.find("header a[href='/plans']").await.is_ok());
    shot(&c, "not-found").await;
    c.close().await;
}
