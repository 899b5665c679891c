//! The destination client against real servers: the staging site, and the independent
//! SCIM server `scim2-server` (PyPI) to prove SCIM interoperability.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ferry_host::destination::{Destination, RetryPolicy, Secret};
use ferry_host::staging::{self, Faults};

const TOKEN: &str = "t0ken-never-printed";

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
    let dest = Destination::new(&server.url, Some(&server.url), Secret::new(TOKEN), 4).unwrap();
    users_and_groups_round_trip(&dest).await;
}

#[tokio::test]
async fn the_scim_client_works_against_the_staging_site() {
    let dir = tempfile::tempdir().unwrap();
    let site = staging::start(&dir.path().join("cloud.db"), "127.0.0.1:0", TOKEN, Faults::default()).await.unwrap();
    let dest = Destination::new(&site.url(), None, Secret::new(TOKEN), 4).unwrap();
    users_and_groups_round_trip(&dest).await;
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_until_they_pass() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults { throttle_every: 3, retry_after_secs: 0, fail_rate: 0.2, ..Faults::default() };
    let site = staging::start(&dir.path().join("cloud.db"), "127.0.0.1:0", TOKEN, faults).await.unwrap();
    let dest = Destination::new(&site.url(), None, Secret::new(TOKEN), 4).unwrap().with_retry(RetryPolicy {
        attempts: 20,
        base: Duration::from_millis(1),
        max: Duration::from_millis(20),
    });
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
    let site = staging::start(&dir.path().join("cloud.db"), "127.0.0.1:0", TOKEN, Faults { fail_rate: 1.0, ..Faults::default() }).await.unwrap();
    let dest = Destination::new(&site.url(), None, Secret::new(TOKEN), 2).unwrap().with_retry(RetryPolicy {
        attempts: 3,
        base: Duration::from_millis(1),
        max: Duration::from_millis(5),
    });
    let e = dest.create_space("ENG", "Engineering", "test:ENG").await.unwrap_err();
    assert_eq!(e.to_string(), "POST /wiki/rest/api/space answered 500: {\"message\":\"injected failure\"}");
    assert!(!format!("{e:?} {dest:?}").contains(TOKEN));
    let wrong = Destination::new(&site.url(), None, Secret::new("wrong"), 2).unwrap();
    let e = wrong.get_space("ENG").await.unwrap_err();
    assert_eq!(e.status(), Some(401));
}
