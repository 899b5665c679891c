//! `ferry serve` (the dashboard and the automation API) and `ferry api-token` (the
//! API's bearer tokens).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{print_json, shown, table, ExitCode};
use crate::state::StateDb;
use crate::web::{self, auth};

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on. Loopback by default; any other address needs --tls-cert
    /// and --tls-key, or --insecure-http.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// TLS certificate chain (PEM).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address (session cookies and tokens then
    /// cross the network unencrypted).
    #[arg(long)]
    insecure_http: bool,
    /// An environment variable the dashboard's Sites page may name (repeatable, or
    /// comma-separated): a Cloud site's API token, its directory key, an app's migration
    /// secret, a Server database's password. Set each in this process's environment and
    /// list it here; the page refuses any other, so a session cannot have another of this
    /// process's variables sent to a site it names. Ferry reads them, never stores them.
    #[arg(long = "secret-env", value_name = "VAR", value_delimiter = ',')]
    secret_envs: Vec<String>,
}

pub(crate) async fn serve(home: &Path, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let options =
        web::ServeOptions { listen: args.listen, tls: args.tls_cert.zip(args.tls_key), insecure_http: args.insecure_http, secret_envs: args.secret_envs };
    web::serve(home, options).await?;
    Ok(ExitCode::Ok)
}

#[derive(Debug, Subcommand)]
pub(crate) enum ApiTokenCommand {
    /// Make a token for the automation API; it is shown once (only its sha256 is kept).
    Create {
        /// A name saying who or what uses it.
        name: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the tokens (names, dates, revocation; never the tokens).
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by name or id: the API refuses it from then on.
    Revoke {
        /// Its name or id.
        token: String,
    },
}

pub(crate) async fn api_token(home: &Path, command: ApiTokenCommand) -> anyhow::Result<ExitCode> {
    let db = StateDb::open(home).await?;
    match command {
        ApiTokenCommand::Create { name, json } => {
            let (listed, token) = auth::create_token(&db, &name).await?;
            if json {
                print_json(&serde_json::json!({"id": listed.id, "name": listed.name, "created_at": listed.created_at, "token": token}))?;
            } else {
                println!("API token {} ({}):\n  {token}", shown(&listed.name), listed.id);
                println!("It is shown this once. Send it as `Authorization: Bearer <token>`; revoke it with `ferry api-token revoke {}`.", listed.id);
            }
            Ok(ExitCode::Ok)
        }
        ApiTokenCommand::List { json } => {
            let tokens = auth::list_tokens(&db).await?;
            if json {
                print_json(&tokens)?;
                return Ok(ExitCode::Ok);
            }
            let mut t = table(&["id", "name", "created", "last used", "revoked"]);
            for token in tokens {
                t.add_row(vec![
                    token.id,
                    shown(&token.name),
                    token.created_at,
                    token.last_used_at.unwrap_or_else(|| "-".into()),
                    token.revoked_at.unwrap_or_else(|| "-".into()),
                ]);
            }
            println!("{t}");
            Ok(ExitCode::Ok)
        }
        ApiTokenCommand::Revoke { token } => {
            anyhow::ensure!(auth::revoke_token(&db, &token).await?, "no live API token named {} (`ferry api-token list` shows them)", shown(&token));
            println!("revoked {}", shown(&token));
            Ok(ExitCode::Ok)
        }
    }
}
