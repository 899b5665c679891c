//! `cloud_receiver --listen ADDR --db FILE --secret-env VAR`: the Page Ratings cloud
//! app's receiver of Ferry transfers (docs/cloud-app-guide.md).

use clap::Parser;

/// Receive Page Ratings' app-migration transfers from Ferry.
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8700")]
    listen: String,
    /// The SQLite file that keeps transfers and the imported ratings.
    #[arg(long, default_value = "receiver.db")]
    db: std::path::PathBuf,
    /// The environment variable holding the migration secret this app issued.
    #[arg(long)]
    secret_env: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let secret = std::env::var(&args.secret_env).unwrap_or_default();
    anyhow::ensure!(!secret.trim().is_empty(), "the migration secret is not in ${}: export it first", args.secret_env);
    let addr = cloud_receiver::Receiver::open(&args.db, secret.trim()).await?.serve(&args.listen).await?;
    println!("receiving Ferry transfers at http://{addr} (its endpoint); Ctrl-C to stop");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
