//! Plugin trust: signatures, trusted vendor keys, what is shown where, and local catalogs.

use std::path::Path;
use std::process::{Command, Output};

use ferry_host::plugins::catalog;
use ferry_host::plugins::registry::{InstallError, Registry};
use ferry_host::plugins::signature::{self, Signature};
use ferry_host::plugins::trust::{self, Signer};

use crate::support::{wasm_bytes, Fixture, RATINGS, TEST_VENDOR};

fn ferry(f: &Fixture, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry")).args(args).env("FERRY_HOME", f.home()).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A key pair this Ferry does not trust.
fn stranger(dir: &Path) -> signature::SigningKey {
    let path = dir.join("stranger.key");
    signature::keygen(&path).unwrap();
    signature::read_signing_key(&path).unwrap()
}

#[tokio::test]
async fn a_signed_plugin_installs_and_its_signer_is_shown() {
    let f = Fixture::new().await;
    f.install("page_ratings").await;
    let plugin = Registry::new(f.db.clone()).get(RATINGS).await.unwrap().unwrap();
    assert!(matches!(&plugin.signer, Signer::Trusted { name, .. } if name == TEST_VENDOR), "{:?}", plugin.signer);
    assert!(!plugin.allowed_unsigned);
    assert_eq!(plugin.trust_problem(), None);

    let out = ferry(&f, &["plugin", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["signer"]["status"], "trusted");
    assert_eq!(listed[0]["signer"]["name"], TEST_VENDOR);
    let card = ferry_host::consent::policy_card(&f.db, RATINGS).await.unwrap();
    assert!(card.signer_shown.starts_with(TEST_VENDOR), "{}", card.signer_shown);

    // The audit names the signer too.
    let file = f.dir.path().join("signed.wasm");
    std::fs::write(&file, f.signed("page_ratings").await).unwrap();
    let out = ferry(&f, &["plugin", "audit", file.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(audit["signer"]["status"], "trusted");
}

#[tokio::test]
async fn one_changed_byte_anywhere_is_refused_as_a_bad_signature() {
    let f = Fixture::new().await;
    let signed = f.signed("page_ratings").await;
    let plain = wasm_bytes("page_ratings");
    assert_eq!(&signed[..plain.len()], plain.as_slice(), "signing changes no byte of the component");
    // Every byte of the signature section and the header, and 400 spread over the rest.
    let tail = plain.len().saturating_sub(8)..signed.len();
    let spread = (0..400).map(|i| 8 + i * (plain.len() - 16) / 400);
    for i in (0..8).chain(spread).chain(tail) {
        let mut changed = signed.clone();
        changed[i] ^= 0x01;
        // A change that breaks the file's structure makes it unreadable, which is refused too.
        assert!(matches!(signature::verify(&changed), Signature::Bad(_) | Signature::Unreadable(_)), "byte {i}: {:?}", signature::verify(&changed));
    }
    // Installing refuses it, even with --allow-unsigned: a bad signature is never allowed.
    let registry = Registry::new(f.db.clone());
    for i in [plain.len() / 3, plain.len() / 2, signed.len() - 3] {
        let mut changed = signed.clone();
        changed[i] ^= 0x40;
        match registry.install(&changed, true).await {
            Err(InstallError::Refused(report)) => assert!(report.problems[0].starts_with("bad signature: "), "byte {i}: {:?}", report.problems),
            other => panic!("byte {i}: expected a refusal, got {:?}", other.map(|o| o.0)),
        }
    }
    assert!(registry.list().await.unwrap().is_empty());
    // The CLI exits 3 and says so.
    let mut changed = signed.clone();
    changed[plain.len() / 3] ^= 0x01;
    let file = f.dir.path().join("changed.wasm");
    std::fs::write(&file, &changed).unwrap();
    let out = ferry(&f, &["plugin", "install", file.to_str().unwrap(), "--allow-unsigned"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("bad signature: the signature by "), "{}", text(&out));
}

#[tokio::test]
async fn a_plugin_signed_by_an_untrusted_key_is_refused_until_the_key_is_trusted() {
    let f = Fixture::new().await;
    f.vendor_key().await;
    let key = stranger(f.dir.path());
    let file = f.dir.path().join("stranger.wasm");
    std::fs::write(&file, signature::sign(&wasm_bytes("page_ratings"), &key).unwrap()).unwrap();
    let out = ferry(&f, &["plugin", "install", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let public = signature::public_key(&key);
    assert!(text(&out).contains(&format!("signed by the key {}, which this Ferry does not trust", public.fingerprint())), "{}", text(&out));
    assert!(text(&out).contains(&format!("ferry trust add <VENDOR> {public}")), "{}", text(&out));
    assert!(Registry::new(f.db.clone()).list().await.unwrap().is_empty());

    let pub_file = signature::public_key_path(&f.dir.path().join("stranger.key"));
    let out = ferry(&f, &["trust", "add", "Stranger Apps", pub_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let out = ferry(&f, &["plugin", "install", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("signed by Stranger Apps ("), "{}", text(&out));
    let keys: serde_json::Value = serde_json::from_slice(&ferry(&f, &["trust", "list", "--json"]).stdout).unwrap();
    let names: Vec<&str> = keys.as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Stranger Apps", TEST_VENDOR]);
    // One key has one name, and a name one key.
    assert!(trust::add(&f.db, "Other name", &public).await.unwrap_err().to_string().contains("already trusted as `Stranger Apps`"));
    let vendor = signature::public_key(&f.vendor_key().await);
    assert!(trust::add(&f.db, "Stranger Apps", &vendor).await.unwrap_err().to_string().contains("already names the key"));
}

#[tokio::test]
async fn allow_unsigned_installs_and_the_choice_is_shown_wherever_the_plugin_is() {
    let f = Fixture::new().await;
    let file = f.dir.path().join("unsigned.wasm");
    std::fs::write(&file, wasm_bytes("page_ratings")).unwrap();
    let out = ferry(&f, &["plugin", "install", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("unsigned: ask the vendor for a signed build; or install it anyway with --allow-unsigned"), "{}", text(&out));

    let out = ferry(&f, &["plugin", "install", file.to_str().unwrap(), "--allow-unsigned"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("signed by unsigned (allowed by the admin)"), "{}", text(&out));
    let plugin = Registry::new(f.db.clone()).get(RATINGS).await.unwrap().unwrap();
    assert_eq!((plugin.signer.clone(), plugin.allowed_unsigned, plugin.trust_problem()), (Signer::Unsigned, true, None));
    // Shown in the list, on the consent card and in the assessment.
    assert!(text(&ferry(&f, &["plugin", "list"])).contains("unsigned (allowed by the admin)"));
    let card = ferry_host::consent::policy_card(&f.db, RATINGS).await.unwrap();
    assert_eq!(card.signer_shown, "unsigned (allowed by the admin)");
    assert!(card.allowed_unsigned);
    let out = ferry(&f, &["apps", "assess", "--source", &f.source_url, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let assessed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ratings = assessed.as_array().unwrap().iter().find(|a| a["key"] == RATINGS).unwrap();
    assert_eq!(ratings["plugin_signer"], "unsigned (allowed by the admin)");
}

#[tokio::test]
async fn removing_a_trusted_key_flags_its_plugins_and_they_no_longer_run() {
    let f = Fixture::new().await;
    f.install("page_ratings").await;
    let out = ferry(&f, &["trust", "remove", TEST_VENDOR]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("flagged: the plugin of {RATINGS} is signed by the key ")), "{}", text(&out));
    let out = ferry(&f, &["plugin", "list"]);
    assert!(text(&out).contains("(NOT TRUSTED)") && text(&out).contains("which this Ferry no longer trusts"), "{}", text(&out));
    let listed: serde_json::Value = serde_json::from_slice(&ferry(&f, &["plugin", "list", "--json"]).stdout).unwrap();
    assert_eq!(listed[0]["signer"]["status"], "untrusted-key");

    // A flagged plugin does not run, and consent to it cannot be given.
    let out = ferry(&f, &["plugin", "run", RATINGS, "--source", &f.source_url, "--out", f.out().to_str().unwrap(), "--mappings", "auto"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("which this Ferry no longer trusts"), "{}", text(&out));
    let refused = ferry_host::consent::agree(&f.db, RATINGS, None).await.unwrap_err();
    assert!(refused.to_string().contains("no longer trusts"), "{refused}");
    assert!(ferry(&f, &["trust", "remove", TEST_VENDOR]).status.code() == Some(1), "removing an unknown name is an error");
}

#[tokio::test]
async fn consent_binds_to_the_signer() {
    let f = Fixture::new().await;
    f.install("page_ratings").await;
    ferry_host::consent::agree(&f.db, RATINGS, None).await.unwrap();
    let registry = Registry::new(f.db.clone());
    let (plugin, _, manifest) = registry.load(RATINGS).await.unwrap();
    let record = ferry_host::consent::record(&f.db, RATINGS).await.unwrap().unwrap();
    assert!(record.binds(&plugin, manifest.scope_set()));
    assert_eq!(record.signer_key, plugin.signer_key());

    // The same plugin, signed by another (trusted) vendor key: consent is outdated, and the
    // card says the signer changed.
    let key = stranger(f.dir.path());
    trust::add(&f.db, "Second key", &signature::public_key(&key)).await.unwrap();
    assert!(registry.remove(RATINGS).await.unwrap());
    registry.install(&signature::sign(&wasm_bytes("page_ratings"), &key).unwrap(), false).await.unwrap();
    let card = ferry_host::consent::policy_card(&f.db, RATINGS).await.unwrap();
    let old = signature::public_key(&f.vendor_key().await).fingerprint();
    assert_eq!(card.consented_signer.as_deref(), Some(old.as_str()));
    let (plugin, _, manifest) = registry.load(RATINGS).await.unwrap();
    assert!(!record.binds(&plugin, manifest.scope_set()));
}

#[test]
fn keygen_makes_a_private_key_and_never_overwrites_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vendor.key");
    let public = signature::keygen(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let again = signature::keygen(&path).unwrap_err().to_string();
    assert!(again.contains("already exists: a signing key is never overwritten"), "{again}");
    assert_eq!(signature::public_key(&signature::read_signing_key(&path).unwrap()), public);
    let from_pub = std::fs::read_to_string(signature::public_key_path(&path)).unwrap();
    assert_eq!(signature::PublicKey::parse(&from_pub).unwrap(), public);
    // Signing with the public key file is a clear mistake.
    let wrong = signature::read_signing_key(&signature::public_key_path(&path)).unwrap_err().to_string();
    assert!(wrong.contains("it is a public key"), "{wrong}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let open = signature::read_signing_key(&path).unwrap_err().to_string();
        assert!(open.contains("is readable by other users"), "{open}");
    }
}

/// A catalog folder: page_ratings 1.0.0 (reads Server 2.x–3.x) and the probe 0.1.0 of the
/// same app (reads any version), both signed, with 16 pooled outcomes of 1.0.0.
async fn catalog_dir(f: &Fixture) -> std::path::PathBuf {
    let dir = f.dir.path().join("catalog");
    std::fs::create_dir_all(&dir).unwrap();
    let mut versions = Vec::new();
    for (crate_name, version, range) in [("page_ratings", "1.0.0", ">=2.0, <4"), ("hostile_probe", "0.1.0", "*")] {
        let bytes = f.signed(crate_name).await;
        let file = format!("{crate_name}-{version}.wasm");
        std::fs::write(dir.join(&file), &bytes).unwrap();
        versions.push(serde_json::json!({
            "version": version, "file": file, "sha256": ferry_host::plugins::component::sha256_hex(&bytes),
            "contract": "0.2.0", "server_app_versions": range,
        }));
    }
    let outcomes: String = (0..16)
        .map(|i| {
            format!(
                "{{\"app\":\"{RATINGS}\",\"version\":\"1.0.0\",\"transfer_id\":\"pooled-{i}\",\"status\":\"complete\",\"finished_at\":\"{}\"}}\n",
                ferry_host::state::now()
            )
        })
        .collect();
    std::fs::write(dir.join("outcomes.jsonl"), outcomes).unwrap();
    let index =
        serde_json::json!({"format": 1, "name": "Example share", "stage_outcomes": "outcomes.jsonl", "apps": [{"app_key": RATINGS, "versions": versions}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec_pretty(&index).unwrap()).unwrap();
    dir
}

#[tokio::test]
async fn install_by_app_key_takes_the_newest_catalog_version_the_server_app_admits() {
    let f = Fixture::new().await;
    let dir = catalog_dir(&f).await;
    let out = ferry(&f, &["catalog", "add", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("catalog Example share at ") && text(&out).contains("1 apps, 2 plugin versions"), "{}", text(&out));
    assert!(text(&out).contains("pooled Stage outcomes: 16 imported, 0 already known"), "{}", text(&out));
    let listed: serde_json::Value = serde_json::from_slice(&ferry(&f, &["catalog", "list", "--json"]).stdout).unwrap();
    assert_eq!(listed[0]["index"]["apps"][0]["versions"].as_array().unwrap().len(), 2);

    // The sample site runs Page Ratings 2.4.1: 1.0.0 reads it.
    let out = ferry(&f, &["plugin", "install", RATINGS, "--source", &f.source_url]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "chose {RATINGS} 1.0.0: the newest version whose Server app range >=2.0, <4 admits the installed 2.4.1, from catalog Example share"
        )),
        "{}",
        text(&out)
    );
    let plugin = Registry::new(f.db.clone()).get(RATINGS).await.unwrap().unwrap();
    assert_eq!(plugin.version, "1.0.0");
    // The pooled outcomes count toward its Stage.
    let stage = ferry_host::stages::figures(&f.db, RATINGS, "1.0.0", &ferry_host::stages::rule(&f.db).await.unwrap()).await.unwrap();
    assert_eq!((stage.attempts, stage.successes), (16, 16));

    // A Server app outside 1.0.0's range gets the older version that reads it, and why.
    let choice = catalog::choose(&f.db, RATINGS, "5.0.0").await.unwrap();
    assert_eq!(choice.chosen.version.version.to_string(), "0.1.0");
    assert_eq!(choice.passed_over, ["1.0.0 (Example share): reads Server app versions >=2.0, <4, not 5.0.0"]);
    let none = catalog::choose(&f.db, "com.example.unknown", "1.0.0").await.unwrap_err().to_string();
    assert!(none.contains("no registered catalog has a plugin for com.example.unknown"), "{none}");
}

#[tokio::test]
async fn a_catalog_that_lies_or_reaches_outside_its_folder_is_refused() {
    let f = Fixture::new().await;
    let dir = catalog_dir(&f).await;
    catalog::add(&f.db, &dir).await.unwrap();

    // A changed file no longer has the listed sha256.
    let file = dir.join("page_ratings-1.0.0.wasm");
    let original = std::fs::read(&file).unwrap();
    let mut changed = original.clone();
    changed[200] ^= 1;
    std::fs::write(&file, &changed).unwrap();
    let choice = catalog::choose(&f.db, RATINGS, "2.4.1").await.unwrap();
    let refused = catalog::read_offer(&choice.chosen, RATINGS).unwrap_err().to_string();
    assert!(refused.contains("but catalog Example share lists"), "{refused}");
    std::fs::write(&file, &original).unwrap();

    // An index that describes a file otherwise than its signed manifest.
    let index_path = dir.join("index.json");
    let index = std::fs::read_to_string(&index_path).unwrap();
    std::fs::write(&index_path, index.replace("\"*\"", "\">=9\"")).unwrap();
    let choice = catalog::choose(&f.db, RATINGS, "9.1.0").await.unwrap();
    let refused = catalog::read_offer(&choice.chosen, RATINGS).unwrap_err().to_string();
    assert!(refused.contains("otherwise than the plugin's own manifest (server_app_versions: index >=9, plugin *)"), "{refused}");

    // Files outside the folder, a missing index and unknown fields.
    std::fs::write(&index_path, index.replace("page_ratings-1.0.0.wasm", "../page_ratings-1.0.0.wasm")).unwrap();
    let refused = format!("{:#}", catalog::add(&f.db, &dir).await.unwrap_err());
    assert!(refused.contains("is not a file name inside the catalog folder"), "{refused}");
    std::fs::write(&index_path, index.replace("\"format\": 1", "\"format\": 1, \"extra\": true")).unwrap();
    assert!(format!("{:#}", catalog::add(&f.db, &dir).await.unwrap_err()).contains("unknown field `extra`"));
    let empty = f.dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(catalog::add(&f.db, &empty).await.unwrap_err().to_string().contains("has no index.json"));
}
