//! The accounts a Cloud site's organisation has, from its user export: on a site with no
//! user-provisioning directory, server users are linked to these by email (and, for
//! those the export does not list, to the account the Jira user search finds for the
//! email). Nobody is created: a server user with no account has their content kept by the
//! migrating account, their name in each origin.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use sqlx::Row;

use ferry_core::state::StateDb;

/// One account of the export.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CloudAccount {
    /// Its email (lower-cased).
    pub email: String,
    /// Its Atlassian account id.
    pub account_id: String,
    /// Its name, if the export has one.
    pub name: Option<String>,
    /// Its status (`Active`, `Suspended`, `Deactivated`, …), if the export has one.
    pub status: Option<String>,
}

/// Where the export is made, for messages.
const HOW_TO_EXPORT: &str = "export the users from admin.atlassian.com (Directory > Users > Export users, every user, every status)";

/// The column of `headers` whose name is one of `names` (case and spaces ignored).
fn column(headers: &csv::StringRecord, names: &[&str]) -> Option<usize> {
    let norm = |h: &str| h.trim().trim_start_matches('\u{feff}').to_lowercase().replace([' ', '_', '-'], "");
    headers.iter().position(|h| names.iter().any(|n| norm(h) == *n))
}

/// Read an organisation's user export. It needs an email column and an account id column
/// (`User id`, `Atlassian ID` or `Account id`); a name and a status column are read when
/// there. An email listed twice is refused (the export lists each account once).
pub fn read_csv(path: &Path) -> anyhow::Result<Vec<CloudAccount>> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read the accounts export {}: {HOW_TO_EXPORT}", path.display()))?;
    parse_csv(file, &path.display().to_string())
}

/// Read an organisation's user export from `input`, named `name` in what it says (see
/// [`read_csv`]).
pub fn parse_csv(input: impl std::io::Read, shown_as: &str) -> anyhow::Result<Vec<CloudAccount>> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let headers = reader.headers().with_context(|| format!("{shown_as} is not a CSV file: {HOW_TO_EXPORT}"))?.clone();
    let shown = headers.iter().collect::<Vec<_>>().join(", ");
    let email = column(&headers, &["email", "emailaddress", "primaryemail"])
        .ok_or_else(|| anyhow::anyhow!("{} has no email column (its columns: {shown}): {HOW_TO_EXPORT}", shown_as))?;
    let id = column(&headers, &["userid", "atlassianid", "accountid", "atlassianaccountid"])
        .ok_or_else(|| anyhow::anyhow!("{} has no account id column (User id, Atlassian ID or Account id; its columns: {shown}): {HOW_TO_EXPORT}", shown_as))?;
    let name = column(&headers, &["username", "name", "displayname", "fullname"]);
    let status = column(&headers, &["userstatus", "status", "accountstatus"]);
    let mut accounts: Vec<CloudAccount> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (n, record) in reader.records().enumerate() {
        let line = n + 2;
        let record = record.with_context(|| format!("{} line {line} cannot be read", shown_as))?;
        let field = |i: usize| record.get(i).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
        let (Some(address), Some(account_id)) = (field(email), field(id)) else { continue };
        let address = address.to_lowercase();
        if let Some(first) = seen.insert(address.clone(), line) {
            anyhow::bail!("{} lists {address} twice (lines {first} and {line}): an export lists each account once; {HOW_TO_EXPORT}", shown_as);
        }
        accounts.push(CloudAccount { email: address, account_id, name: name.and_then(field), status: status.and_then(field) });
    }
    anyhow::ensure!(!accounts.is_empty(), "{} lists no account with an email and an id: {HOW_TO_EXPORT}", shown_as);
    Ok(accounts)
}

/// Replace what the state DB knows of `site_url`'s accounts with `accounts`.
pub async fn import(db: &StateDb, site_url: &str, accounts: &[CloudAccount]) -> anyhow::Result<()> {
    let mut tx = db.pool().begin().await?;
    sqlx::query("DELETE FROM cloud_accounts WHERE site_url = ?").bind(site_url).execute(&mut *tx).await?;
    for a in accounts {
        sqlx::query("INSERT INTO cloud_accounts (site_url, email, account_id, name, status) VALUES (?, ?, ?, ?, ?)")
            .bind(site_url)
            .bind(&a.email)
            .bind(&a.account_id)
            .bind(&a.name)
            .bind(&a.status)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The accounts known for `site_url`, by lower-cased email.
pub async fn known(db: &StateDb, site_url: &str) -> anyhow::Result<HashMap<String, String>> {
    let rows = sqlx::query("SELECT email, account_id FROM cloud_accounts WHERE site_url = ?").bind(site_url).fetch_all(db.pool()).await?;
    Ok(rows.iter().map(|r| (r.get::<String, _>(0).to_lowercase(), r.get(1))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn an_export_is_read_by_its_column_names() {
        let file = written("\u{feff}User id,User name,email,User status,Added to org\n5b10ac8d82e05b22cc7d4ef5,Ada Lovelace,Ada@Example.com,Active,2024-01-01\n,No Id,x@example.com,Active,\n712020:9f1c,\"Grace, Hopper\",grace@example.com,Suspended,\n");
        let accounts = read_csv(file.path()).unwrap();
        assert_eq!(accounts.len(), 2, "a row without an id is skipped");
        assert_eq!(
            accounts[0],
            CloudAccount {
                email: "ada@example.com".into(),
                account_id: "5b10ac8d82e05b22cc7d4ef5".into(),
                name: Some("Ada Lovelace".into()),
                status: Some("Active".into())
            }
        );
        assert_eq!(accounts[1].name.as_deref(), Some("Grace, Hopper"));
    }

    #[test]
    fn an_export_without_its_columns_or_with_an_email_twice_is_refused_naming_the_fix() {
        let e = read_csv(written("name,mail\nAda,ada@example.com\n").path()).unwrap_err().to_string();
        assert!(e.contains("has no email column (its columns: name, mail)") && e.contains("Export users"), "{e}");
        let e = read_csv(written("email,name\nada@example.com,Ada\n").path()).unwrap_err().to_string();
        assert!(e.contains("no account id column"), "{e}");
        let e = read_csv(written("Atlassian ID,Email\na1,ada@example.com\na2,ADA@example.com\n").path()).unwrap_err().to_string();
        assert!(e.contains("lists ada@example.com twice (lines 2 and 3)"), "{e}");
        let e = read_csv(Path::new("/nonexistent/users.csv")).unwrap_err().to_string();
        assert!(e.contains("cannot read the accounts export"), "{e}");
    }
}
