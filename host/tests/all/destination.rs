//! The destination client against real servers: the staging site, and the independent
//! SCIM server `scim2-server` (PyPI) to prove SCIM interoperability.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ferry_host::destination::{Destination, Directory, RetryPolicy, Secret, SiteAuth};
use ferry_host::staging::{self, Faults};

const TOKEN: &str = "t0ken-never-printed";

/// A client of `site` signed in as its admin with `token` (the directory's key derived
/// from it as the staging site derives it).
fn signed_in(site: &staging::StagingSite, token: &str, concurrency: usize) -> Destination {
    ferry_host::demo::staging_client(site, &staging::Access::with_token(token), concurrency).unwrap()
}

/// A `scim2-server` process on a free loopback port, killed when dropped.
pub struct ScimServer {
    child: Child,
    pub url: String,
}

impl ScimServer {
    pub async fn start() -> ScimServer {
        ScimServer::start_with(TOKEN).await
    }

    /// A server that accepts `token`.
    pub async fn start_with(token: &str) -> ScimServer {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // Through python3, so a console script missing from PATH does not matter.
        let mut child = Command::new("python3")
            .args(["-c", "import sys; from scim2_server.testserver.cli import main; sys.exit(main())"])
            .args(["--hostname", "127.0.0.1", "--port", &port.to_string(), "--bearer-token", token])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with scim2-server (pip install scim2-server; .ci/run installs it)");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return ScimServer { child, url };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("scim2-server did not start on port {port}");
    }
}

impl Drop for ScimServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn users_and_groups_round_trip(dest: &Destination) {
    assert!(dest.find_user_by_email("ada@example.com").await.unwrap().is_none());
    let ada = dest.create_user("ada@example.com", "Ada Lovelace", true).await.unwrap();
    let id = ada.id.clone().unwrap();
    let found = dest.find_user_by_email("ada@example.com").await.unwrap().expect("found by userName eq");
    assert_eq!(found.id.as_deref(), Some(id.as_str()));
    assert_eq!(found.display_name.as_deref(), Some("Ada Lovelace"));
    dest.set_user_active(&id, false).await.unwrap();
    assert_eq!(dest.find_user_by_email("ada@example.com").await.unwrap().unwrap().active, Some(false));
    let group = dest.create_group("engineering").await.unwrap();
    let gid = group.id.unwrap();
    dest.add_group_members(&gid, std::slice::from_ref(&id)).await.unwrap();
    let group = dest.find_group("engineering").await.unwrap().expect("group found by displayName eq");
    assert_eq!(group.members.iter().map(|m| m.value.as_str()).collect::<Vec<_>>(), [id.as_str()]);
    assert!(dest.find_group("nobody-here").await.unwrap().is_none());
}

#[tokio::test]
async fn the_scim_client_interoperates_with_an_independent_scim_server() {
    let server = ScimServer::start().await;
    let dest = Destination::new(
        &server.url,
        SiteAuth::Basic { email: staging::DEFAULT_ADMIN_EMAIL.into(), token: Secret::new(TOKEN) },
        Directory { url: server.url.clone(), key: Secret::new(TOKEN) },
        4,
    )
    .unwrap();
    users_and_groups_round_trip(&dest).await;
}

#[tokio::test]
async fn the_scim_client_works_against_the_staging_site() {
    let dir = tempfile::tempdir().unwrap();
    let site = staging::start(&dir.path().join("cloud.db"), "127.0.0.1:0", &staging::Access::with_token(TOKEN), Faults::default()).await.unwrap();
    let dest = signed_in(&site, TOKEN, 4);
    users_and_groups_round_trip(&dest).await;
    // As in an Atlassian directory, the SCIM id is the directory's own; the account id
    // Confluence and Jira take is in Atlassian's extension, and names the same person.
    let ada = dest.find_user_by_email("ada@example.com").await.unwrap().unwrap();
    let account = ada.account_id().expect("atlassianAccountId in urn:scim:schemas:extension:atlassian-external:1.0").to_string();
    assert_ne!(ada.id.as_deref(), Some(account.as_str()));
    let found = dest.accounts_by_email("ada@example.com").await.unwrap();
    assert!(found.iter().any(|a| a.account_id == account && a.email_address.as_deref() == Some("ada@example.com")), "{found:?}");
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_until_they_pass() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults { throttle_every: 3, retry_after_secs: 0, fail_rate: 0.2, ..Faults::default() };
    let site = staging::start(&dir.path().join("cloud.db"), "127.0.0.1:0", &staging::Access::with_token(TOKEN), faults).await.unwrap();
    let dest = signed_in(&site, TOKEN, 4).with_retry(RetryPolicy { attempts: 20, base: Duration::from_millis(1), max: Duration::from_millis(20) });
    for n in 0..30 {
        dest.create_user(&format!("u{n}@example.com"), "U", true).await.unwrap();
    }
    for n in 0..30 {
        assert!(dest.find_user_by_email(&format!("u{n}@example.com")).await.unwrap().is_some());
    }
}

#[tokio::test]
async fn a_request_that_fails_for_good_names_the_call_and_never_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let site = staging::start(&dir.path().join("cloud.db"), "127.0.0.1:0", &staging::Access::with_token(TOKEN), Faults { fail_rate: 1.0, ..Faults::default() })
        .await
        .unwrap();
    let dest = signed_in(&site, TOKEN, 2).with_retry(RetryPolicy { attempts: 3, base: Duration::from_millis(1), max: Duration::from_millis(5) });
    let e = dest.create_space("ENG", "Engineering").await.unwrap_err();
    assert_eq!(e.to_string(), "POST /wiki/rest/api/space answered 500: {\"message\":\"injected failure\"}");
    assert!(!format!("{e:?} {dest:?}").contains(TOKEN));
    let wrong = signed_in(&site, "wrong", 2);
    let e = wrong.get_space("ENG").await.unwrap_err();
    assert_eq!(e.status(), Some(401));
}

/// The staging site takes exactly the sign-ins a real site takes: Basic with the admin's
/// email and API token on the site, the token as Bearer only through the gateway, the
/// directory's own key on SCIM; everything else is 401 (or, for a path no real site has,
/// 404).
#[tokio::test]
async fn signing_in_takes_what_a_real_site_takes_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let access = staging::Access::with_token(TOKEN);
    let site = staging::start(&dir.path().join("cloud.db"), "127.0.0.1:0", &access, Faults::default()).await.unwrap();
    let http = reqwest::Client::new();
    let status = |r: reqwest::RequestBuilder| async move { r.send().await.unwrap().status().as_u16() };
    let space = format!("{}/wiki/rest/api/space/ENG", site.url());
    let users = format!("{}/Users", site.scim_url());
    // Basic with the admin's email and token: signed in (the space does not exist).
    assert_eq!(status(http.get(&space).basic_auth(&access.email, Some(TOKEN))).await, 404);
    assert_eq!(status(http.get(&space).basic_auth("someone@example.com", Some(TOKEN))).await, 401, "another email");
    assert_eq!(status(http.get(&space).basic_auth(&access.email, Some("wrong"))).await, 401, "another token");
    assert_eq!(status(http.get(&space).bearer_auth(TOKEN)).await, 401, "an API token is not a Bearer token on the site's URL");
    assert_eq!(status(http.get(&space)).await, 401, "no sign-in");
    // SCIM takes the directory's key, not the API token; the old path is gone.
    assert_eq!(status(http.get(&users).bearer_auth(&access.directory_key)).await, 200);
    assert_eq!(status(http.get(&users).bearer_auth(TOKEN)).await, 401, "the API token on SCIM");
    assert_eq!(status(http.get(&users).basic_auth(&access.email, Some(TOKEN))).await, 401, "Basic on SCIM");
    assert_eq!(status(http.get(format!("{}/scim/v2/Users", site.url())).bearer_auth(&access.directory_key)).await, 404);
    // The gateway: Bearer through /ex/{product}/{cloudId}, for this cloud id and product only.
    let via = |product: &str, cloud_id: &str, path: &str| format!("{}/ex/{product}/{cloud_id}{path}", site.url());
    assert_eq!(status(http.get(via("confluence", &site.cloud_id, "/wiki/rest/api/space/ENG")).bearer_auth(TOKEN)).await, 404);
    assert_eq!(status(http.get(via("confluence", &site.cloud_id, "/wiki/rest/api/user/current")).bearer_auth(TOKEN)).await, 200);
    assert_eq!(status(http.get(via("confluence", &site.cloud_id, "/wiki/rest/api/user/current")).bearer_auth("wrong")).await, 401);
    assert_eq!(status(http.get(via("confluence", "another-cloud", "/wiki/rest/api/user/current")).bearer_auth(TOKEN)).await, 404);
    assert_eq!(status(http.get(via("jira", &site.cloud_id, "/wiki/rest/api/user/current")).bearer_auth(TOKEN)).await, 404, "Confluence through Jira's gateway");
    assert_eq!(status(http.get(via("jira", &site.cloud_id, "/rest/api/3/mypermissions?permissions=ADMINISTER")).bearer_auth(TOKEN)).await, 200);
    // The cloud id is told to anyone.
    let info: serde_json::Value = http.get(format!("{}/_edge/tenant_info", site.url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["cloudId"], site.cloud_id.as_str());
}

/// A scoped token reaches the site through the gateway: `connect` reads the cloud id,
/// proves the account administers the site, and a client then creates and reads content
/// through `/ex/confluence/{cloudId}/…` only.
#[tokio::test]
async fn a_scoped_token_goes_through_the_gateway_with_the_sites_cloud_id() {
    let dir = tempfile::tempdir().unwrap();
    let access = staging::Access::with_token(TOKEN);
    let site = staging::start(&dir.path().join("cloud.db"), "127.0.0.1:0", &access, Faults::default()).await.unwrap();
    std::env::set_var("FERRY_GATEWAY_TEST_TOKEN", TOKEN);
    std::env::set_var("FERRY_GATEWAY_TEST_SCIM_KEY", &access.directory_key);
    let db = ferry_host::state::StateDb::open(dir.path()).await.unwrap();
    let target = ferry_host::cloud::Target {
        url: site.url(),
        email: None,
        cloud_id: None,
        gateway_url: Some(site.url()),
        token_env: "FERRY_GATEWAY_TEST_TOKEN".into(),
        scim_url: Some(site.scim_url()),
        scim_token_env: Some("FERRY_GATEWAY_TEST_SCIM_KEY".into()),
        apps: Default::default(),
    };
    let connected = ferry_host::cloud::connect(&db, "scoped", target).await.unwrap();
    assert_eq!(connected.site.target.cloud_id.as_deref(), Some(site.cloud_id.as_str()));
    assert!(connected.proven.iter().any(|p| p.contains("administers Confluence")), "{:?}", connected.proven);
    assert!(connected.unproven.iter().any(|p| p.contains("organization admin")), "{:?}", connected.unproven);
    let dest = ferry_host::cloud::get(&db, "scoped").await.unwrap().client(2).unwrap();
    dest.create_space("GW", "Through the gateway").await.unwrap();
    assert!(dest.get_space("GW").await.unwrap().is_some());
    assert!(!format!("{dest:?}").contains(TOKEN), "{dest:?}");
    // A client that named another cloud id reaches nothing.
    let lost = Destination::new(
        &site.url(),
        SiteAuth::Gateway { gateway: site.url(), cloud_id: "another-cloud".into(), token: Secret::new(TOKEN) },
        Directory { url: site.scim_url(), key: Secret::new(access.directory_key.clone()) },
        2,
    )
    .unwrap();
    assert_eq!(lost.get_space("GW").await.unwrap_err().status(), Some(404));
    assert_eq!(lost.create_space("GX", "Lost").await.unwrap_err().status(), Some(404));
}

/// A site with a request budget (a token bucket of 20 requests a second) answers 429 with
/// `Retry-After` and `X-RateLimit-*` headers past it; the client's one budget for the
/// site pauses every request on a 429 and paces them to the rate the site states, so every
/// create lands and few are throttled; a site that states no rate gets fewer requests in
/// flight after each 429.
#[tokio::test]
async fn a_sites_rate_limit_pauses_every_request_and_the_budget_adapts() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults { rate_limit: 20.0, ..Faults::default() };
    let site = staging::start(&dir.path().join("cloud.db"), "127.0.0.1:0", &staging::Access::with_token(TOKEN), faults).await.unwrap();
    // The site's answer past its budget, as Atlassian documents it.
    let http = reqwest::Client::new();
    let mut answers = Vec::new();
    for _ in 0..40 {
        answers.push(http.get(format!("{}/wiki/rest/api/space/NONE", site.url())).basic_auth(staging::DEFAULT_ADMIN_EMAIL, Some(TOKEN)).send().await.unwrap());
    }
    let throttled = answers.iter().find(|r| r.status() == 429).expect("a burst past the budget is throttled");
    for header in ["retry-after", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"] {
        assert!(throttled.headers().contains_key(header), "{header} in {:?}", throttled.headers());
    }
    assert!(throttled.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    drop(answers);

    let dest = signed_in(&site, TOKEN, 16);
    let sent = 80;
    create_users(&dest, "r", sent).await;
    assert!(dest.throttled() > 0, "the budget was met");
    // The 429 states the site's rate (X-RateLimit-FillRate per X-RateLimit-Interval-Seconds):
    // from then on requests are paced to just under it.
    assert!(dest.throttled() < sent / 4, "paced to the stated rate: {} of {sent} throttled", dest.throttled());

    // A site that throttles without stating a rate: the requests in flight halve on 429s.
    let quiet = staging::start(
        &dir.path().join("quiet.db"),
        "127.0.0.1:0",
        &staging::Access::with_token(TOKEN),
        Faults { throttle_every: 5, retry_after_secs: 0, ..Faults::default() },
    )
    .await
    .unwrap();
    let dest = signed_in(&quiet, TOKEN, 16);
    create_users(&dest, "q", 40).await;
    assert!(dest.in_flight_limit() < 16, "the budget halved on 429s: {}", dest.in_flight_limit());
}

/// Create `n` accounts `<prefix><i>@example.com`, 16 at a time; every one must land.
async fn create_users(dest: &Destination, prefix: &str, n: u64) {
    use futures_util::{stream, StreamExt};
    let created: Vec<_> = stream::iter(0..n)
        .map(|i| {
            let dest = dest.clone();
            async move { dest.create_user(&format!("{prefix}{i}@example.com"), "R", true).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(created.iter().all(Result::is_ok), "{:?}", created.iter().find(|r| r.is_err()));
}

/// The staging site's journal keeps every request as sent (method, path, query, header
/// names, sign-in kind, body fields, status) and never a credential.
#[tokio::test]
async fn the_request_journal_keeps_what_was_sent_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("requests.jsonl");
    let access = staging::Access::with_token(TOKEN);
    let site = staging::start_with_journal(&dir.path().join("cloud.db"), "127.0.0.1:0", &access, Faults::default(), Some(&journal)).await.unwrap();
    let dest = signed_in(&site, TOKEN, 2);
    dest.create_user("j@example.com", "J", true).await.unwrap();
    dest.create_space("JRN", "Journal").await.unwrap();
    assert!(dest.find_user_by_email("j@example.com").await.unwrap().is_some());
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(!text.contains(TOKEN) && !text.contains(&access.directory_key), "{text}");
    let entries: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let space = entries.iter().find(|e| e["method"] == "POST" && e["path"] == "/wiki/rest/api/space").expect("the space create");
    assert_eq!((space["sign_in"].as_str(), space["status"].as_u64(), space["body"]["key"].as_str()), (Some("basic"), Some(200), Some("JRN")), "{space}");
    let find = entries.iter().find(|e| e["method"] == "GET" && e["path"].as_str().unwrap().ends_with("/Users")).expect("the user lookup");
    assert_eq!(find["sign_in"], "bearer");
    assert_eq!(find["query"][0], serde_json::json!(["filter", "userName eq \"j@example.com\""]), "{find}");
}

/// `connect` refuses an account that administers neither Confluence nor Jira on the
/// site, naming the site and the fix, and stores nothing.
#[tokio::test]
async fn connect_refuses_an_account_that_administers_nothing_there() {
    let dir = tempfile::tempdir().unwrap();
    let access = staging::Access { admin: false, ..staging::Access::with_token(TOKEN) };
    let site = staging::start(&dir.path().join("cloud.db"), "127.0.0.1:0", &access, Faults::default()).await.unwrap();
    std::env::set_var("FERRY_NOT_ADMIN_TEST_TOKEN", TOKEN);
    std::env::set_var("FERRY_NOT_ADMIN_TEST_SCIM_KEY", &access.directory_key);
    let db = ferry_host::state::StateDb::open(dir.path()).await.unwrap();
    let target = ferry_host::demo::staging_target(&site.url(), &access, &site.scim_url(), "FERRY_NOT_ADMIN_TEST_TOKEN", "FERRY_NOT_ADMIN_TEST_SCIM_KEY", None);
    let e = ferry_host::cloud::connect(&db, "user", target).await.unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "admin@example.com with the token in $FERRY_NOT_ADMIN_TEST_TOKEN signs in to {} but administers neither Confluence nor Jira there: connect with a site admin's email and API token",
            site.url()
        )
    );
    assert!(!e.contains(TOKEN));
    assert!(ferry_host::cloud::list(&db).await.unwrap().is_empty(), "nothing stored");
}
